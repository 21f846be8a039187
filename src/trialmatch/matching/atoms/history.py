"""Atom evaluators: her history (infections, conditions, allergies, recent events).

Comorbidities, infections, other malignancies, allergies and recent events follow
:attr:`MatchOptions.closed_world_history`: an absence from her lists counts as false only where
that lets her in (see :func:`~trialmatch.matching.atoms.common.closed_world_ok`).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import closed_world_ok, find_assertion, fmt_number, qualifier_value, readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.facts import PatientIndex, norm_key
from trialmatch.matching.logic import kleene_or
from trialmatch.matching.model import Evidence
from trialmatch.vocab import drug_matches, normalize_drug
from trialmatch.vocab.concepts import condition_synonyms_for_matcher, event_procedure_kinds


# ---------------------------------------------------------------------------- conditions
@lru_cache(maxsize=262144)
def condition_matches(patient_name: str, key: str, threshold: int = 90) -> bool:
    from rapidfuzz import fuzz

    pn = patient_name.strip().lower().replace("_", " ")
    names = condition_synonyms_for_matcher().get(key, [key.replace("_", " ")])
    if norm_key(patient_name) == norm_key(key):
        return True
    for n in names:
        n = n.lower()
        if pn == n:
            return True
        if len(n) >= 4 and fuzz.ratio(pn, n) >= threshold:
            return True
        if len(n) >= 5 and re.search(r"(?<![a-z])" + re.escape(n) + r"(?![a-z])", pn):
            return True
    return False


def _cond_evidence(c) -> Evidence:
    txt = c.name.replace("_", " ")
    if c.qualifiers:
        txt += f" ({', '.join(c.qualifiers)})"
    if c.onset:
        txt += f", since {c.onset}"
    return used_fact(txt, c.source)


def _conditions_for(key: str, idx: PatientIndex, o) -> list:
    return [c for c in idx.patient.conditions
            if (c.onset is None or c.onset <= idx.as_of) and condition_matches(c.name, norm_key(key), o.fuzzy_threshold)]


def _closed_world(what: str, key: str, ctx: EvalContext, subj: str) -> Result:
    idx = ctx.idx
    neg = find_assertion(idx, subj, f"condition:{key}", f"infection:{key}", key)
    if neg is not None and not neg.present:
        return Result(False, [f"no {what} (stated)"], [used_fact(f"no {what}", neg.source)])
    if neg is not None and neg.present:
        return Result(True, [f"{what} (stated)"], [used_fact(what, neg.source)])
    if closed_world_ok(ctx):
        return Result(False, [f"no {what} in her record"], [])
    return Result(None, [f"{what}: not recorded"], [], [missing_fact(subj, f"whether she has {what}")])


@evaluates("infection")
def infection(a: cm.Infection, ctx: EvalContext) -> Result:
    idx = ctx.idx
    o = ctx.options
    key = norm_key(a.pathogen)
    found = _conditions_for(key, idx, o)
    what = key.upper() if len(key) <= 4 else readable(key)
    if not found:
        return _closed_world(f"{what} infection", key, ctx, f"infection:{key}")
    ev = [_cond_evidence(c) for c in found]
    wanted = [q for q in a.qualifiers if norm_key(q) != "known"]
    vals = [qualifier_value(wanted, c.qualifiers, resolved=c.resolved is not None and c.resolved <= idx.as_of)
            for c in found]
    v = kleene_or(vals)
    if v is None:
        return Result(None, [f"{what} infection: whether {'/'.join(wanted)} is not recorded"], ev,
                      [missing_fact(f"infection:{key}:status", f"{what} status ({'/'.join(wanted)})")])
    return Result(v, [f"{what} infection" + ("" if v else f", not {'/'.join(wanted)}")], ev)


@evaluates("condition")
def condition(a: cm.Condition, ctx: EvalContext) -> Result:
    idx = ctx.idx
    o = ctx.options
    key = norm_key(a.condition)
    found = _conditions_for(key, idx, o)
    if a.within is not None:
        dated = [c for c in found if c.onset is not None and (idx.as_of - c.onset).days <= a.within.days]
        undated = [c for c in found if c.onset is None]
        if not dated and undated:
            return Result(None, [f"{readable(key)}: date not recorded (criterion: within {fmt_number(a.within.value)} {a.within.unit}s)"],
                          [_cond_evidence(c) for c in undated], [missing_fact(f"condition:{key}:date", f"date of {readable(key)}")])
        found = dated
    if not found:
        return _closed_world(readable(key), key, ctx, f"condition:{key}")
    ev = [_cond_evidence(c) for c in found]
    vals = [qualifier_value(a.qualifiers, c.qualifiers, resolved=c.resolved is not None and c.resolved <= idx.as_of)
            for c in found]
    v = kleene_or(vals)
    if v is None:
        return Result(None, [f"{readable(key)}: whether {'/'.join(a.qualifiers)} is not recorded"], ev,
                      [missing_fact(f"condition:{key}:status", f"{readable(key)} ({'/'.join(a.qualifiers)}?)")])
    return Result(v, [f"{readable(key)}" + ("" if v else f", not {'/'.join(a.qualifiers)}")], ev)


@evaluates("allergy")
def allergy(a: cm.Allergy, ctx: EvalContext) -> Result:
    idx = ctx.idx
    hits = []
    for c in idx.patient.conditions:
        name = c.name.lower()
        if "allerg" not in name and "hypersens" not in name and not any("allerg" in q for q in c.qualifiers):
            continue
        for s in a.substances:
            sk = norm_key(s)
            g = normalize_drug(re.sub(r"(allergy|allergic|hypersensitivity|to|reaction)", " ", name))
            if sk.replace("_", " ") in name or (g and drug_matches(g, sk)) or sk in ("study_drug", "study_medication", "any"):
                hits.append(_cond_evidence(c))
                break
    what = ", ".join(readable(s) for s in a.substances)
    if hits:
        return Result(True, [f"allergy to {what}"], hits)
    if any(("allerg" in c.name.lower() or "hypersens" in c.name.lower()) for c in idx.patient.conditions) \
            and any(norm_key(s) in ("study_drug", "study_medication", "excipients") for s in a.substances):
        return Result(None, ["allergies recorded; whether they concern the study drugs needs a person"], [],
                      [missing_fact("allergy", "allergies to the study drugs")])
    return _closed_world(f"allergy to {what}", "allergy", ctx, "allergy")


# ---------------------------------------------------------------------------- events
@evaluates("recent_event")
def recent_event(a: cm.RecentEvent, ctx: EvalContext) -> Result:
    idx = ctx.idx
    o = ctx.options
    key = norm_key(a.event)
    events: list[tuple[dt.date | None, Evidence, bool]] = []  # (date, evidence, certain kind)
    kinds = event_procedure_kinds().get(key)
    for pr in idx.patient.procedures:
        if pr.date is not None and pr.date > idx.as_of:
            continue
        pk = norm_key(pr.kind)
        if a.site and pr.site and norm_key(a.site) not in norm_key(pr.site):
            continue
        if kinds is not None and pk in kinds or pk == key:
            events.append((pr.date, used_fact(f"{pr.name or pr.kind}" + (f" ({pr.date})" if pr.date else ""), pr.source), True))
        elif key == "major_surgery" and pk == "surgery":
            events.append((pr.date, used_fact(f"surgery {pr.name or ''} ({pr.date})", pr.source), False))
    if key in ("chemotherapy", "systemic_therapy", "endocrine_therapy", "targeted_therapy", "immunotherapy",
               "investigational_drug", "anticancer_therapy"):
        for ti in idx.treatments:
            t = ti.treatment
            if key in ti.classes or key == "anticancer_therapy" or any(drug_matches(g, key) for g in ti.generics):
                last = t.end if t.end else (idx.as_of if (t.ongoing or t.start) else None)
                events.append((last, used_fact(f"{', '.join(t.drugs)}" + (f" (until {t.end})" if t.end else ""), t.source), True))
    if kinds is None:
        for c in idx.patient.conditions:
            if condition_matches(c.name, key, o.fuzzy_threshold):
                events.append((c.onset, _cond_evidence(c), True))
    anchor = None
    if a.after == "diagnosis" and idx.primary is not None:
        anchor = idx.primary.date
    in_window, unsure = [], []
    for date, ev, certain in events:
        if anchor is not None and date is not None and date < anchor:
            continue
        if a.within is not None:
            if date is None:
                unsure.append(ev)
                continue
            if (idx.as_of - date).days > a.within.days:
                continue
        (in_window if certain else unsure).append(ev)
    win = f" within {fmt_number(a.within.value)} {a.within.unit}s" if a.within else ""
    if in_window:
        return Result(True, [f"{readable(key)}{win}"], in_window)
    if unsure:
        return Result(None, [f"{readable(key)}{win}: date or kind not certain"], unsure,
                      [missing_fact(f"event:{key}", f"date and kind of {readable(key)}")])
    if events:
        return Result(False, [f"no {readable(key)}{win} (last one earlier)"], [e[1] for e in events])
    if closed_world_ok(ctx):
        return Result(False, [f"no {readable(key)}{win} in her record"], [])
    return Result(None, [f"{readable(key)}: not recorded"], [], [missing_fact(f"event:{key}", f"whether she had {readable(key)}{win}")])
