"""Atom evaluators: prior and recent therapy (treatment history and current medications) and
concomitant medications.

* Treatment history: a patient whose record lists treatments is taken to list all of them. A
  record with no treatment at all is *unknown* (not "zero lines") unless an assertion says so
  ("prior_therapy:<agent>[:<setting>]" present=False, or "prior_therapy:any" present=False) or
  the structured source stated an explicit empty list (``patient.sources["treatments"]``).
* Current medications follow :attr:`MatchOptions.closed_world_history`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import closed_world_ok, fmt_number, range_text, readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.facts import PatientIndex, non_cancer_uses, norm_key, partial_class_match
from trialmatch.matching.logic import kleene_and
from trialmatch.matching.model import Evidence
from trialmatch.vocab import class_ancestors, drug_classes, drug_matches


# ---------------------------------------------------------------------------- therapy
_ADVANCED = {"metastatic", "locally_advanced"}


def _setting_of(t, idx: PatientIndex) -> str:
    s = t.setting
    if s != "unknown":
        return s
    if t.line is not None:
        return "metastatic"
    d = idx.primary
    if d is not None and t.start is not None:
        if d.metastatic_date is not None and t.start >= d.metastatic_date:
            return "metastatic"
    if d is not None and d.metastatic_date is not None and t.end is not None and t.end < d.metastatic_date \
            and (d.date is None or (d.metastatic_date - d.date).days > 90):
        return "early"  # over before her disease became metastatic: adjuvant or neoadjuvant
    if d is not None and d.metastatic_date is not None and d.date is not None and t.start is not None \
            and (d.metastatic_date - d.date).days > 90 and (d.metastatic_date - t.start).days > 31 \
            and t.start >= d.date:
        return "early"  # "Tamoxifen from June 2024", relapse in September 2026 and stopped then: begun for early disease
    return "unknown"


def _early_history_untold(a: cm.PriorTherapy, idx: PatientIndex) -> bool:
    """A check of therapy for early disease (adjuvant/neoadjuvant) against a record that says nothing of
    her early disease: no course for it, and neither her first diagnosis nor her metastatic disease dated (a
    referral about her metastatic disease only: the history was not written down, it is not empty)."""
    if not a.settings or not set(a.settings) <= {"adjuvant", "neoadjuvant", "early"}:
        return False
    if any(_setting_of(ti.treatment, idx) in ("adjuvant", "neoadjuvant", "early") for ti in idx.treatments):
        return False
    d = idx.primary
    if d is None or d.extent not in ("metastatic", "recurrent"):
        return False
    if d.date is not None or d.metastatic_date is not None:
        return False  # her history is dated (first diagnosis, or metastases from the start): its treatment is told
    p = idx.patient
    return "treatments" not in p.sources and not any(h.received == "only_listed" for h in p.history_statements)


def _early_progression(t, idx: PatientIndex, setting: str) -> Any:
    """Progression on a course for early disease from the relapse date: a relapse while on it
    (between its start and end) is progression on it; else None (whether a relapse after the
    end counts as resistance is each trial's own definition)."""
    if setting not in ("adjuvant", "neoadjuvant", "early"):
        return None
    d = idx.primary
    rel = d.metastatic_date if d is not None else None
    if rel is None or t.end is None or t.start is None:
        return None
    return True if t.start <= rel <= t.end else None


def _progressed_before_next_line(ti, idx: PatientIndex, setting: str) -> Any:
    """Progression on a line for advanced disease that a later line followed: a new line for metastatic disease
    is started when the disease progresses on the one before ("Prior lines for MBC: anastrozole + ribociclib,
    fulvestrant + alpelisib, capecitabine"); True then, else None. A course still going on, or one whose response
    is recorded (then maintenance after it is as likely), is not taken."""
    t = ti.treatment
    if setting not in _ADVANCED or t.ongoing is True or t.progressed is False or t.best_response is not None:
        return None  # a response recorded on it: the next course may be maintenance or a change for toxicity
    for other in idx.treatments:
        u = other.treatment
        if other.index == ti.index or _setting_of(u, idx) not in _ADVANCED:
            continue
        if t.line is not None and u.line is not None:
            if u.line > t.line:
                return True
        elif t.start is not None and u.start is not None and u.start > t.start \
                and (t.end is None or t.end <= u.start):
            return True
    return None


def _inoperable_local_setting(setting: str, wanted: list[str], idx: PatientIndex) -> bool:
    """A course for her inoperable, not metastatic disease ("neoadjuvant letrozole" for an inoperable cT4b cancer)
    asked about as one "in the metastatic (advanced) setting": the course treated the advanced disease she has, so
    whether it counts is not settled (None rather than False)."""
    if setting not in ("neoadjuvant", "locally_advanced", "early") or not any(w in ("metastatic", "advanced") for w in wanted):
        return False
    inop = idx.assertions.get("disease:inoperable")
    return bool(inop is not None and inop.present and not idx.metastases)


def _setting_match(setting: str, wanted: list[str]) -> Any:
    if not wanted or "any" in wanted:
        return True
    allowed: set[str] = set()
    for w in wanted:
        allowed |= _ADVANCED if w == "advanced" else {w}
    if setting == "unknown":
        return None
    if setting == "early":  # adjuvant or neoadjuvant, not told which
        early = allowed & {"adjuvant", "neoadjuvant", "early"}
        if not early:
            return False
        return True if early >= {"adjuvant", "neoadjuvant"} or "early" in early else None
    return setting in allowed


#: classes that make a drug a systemic anti-cancer therapy even where the class vocabulary does
#: not link them to "systemic_therapy" (the matcher's own rule, kept beside the vocabulary)
SYSTEMIC_CLASSES = frozenset({
    "systemic_therapy", "endocrine_therapy", "chemotherapy", "targeted_therapy", "immunotherapy", "anti_her2",
    "antibody_drug_conjugate", "cdk46_inhibitor", "mtor_inhibitor", "pi3k_inhibitor", "akt_inhibitor",
    "parp_inhibitor", "tyrosine_kinase_inhibitor", "antiangiogenic", "immune_checkpoint_inhibitor",
    "bone_targeted_therapy", "ovarian_function_suppression", "gnrh_agonist", "serd", "serm", "aromatase_inhibitor",
})


def drug_is(generic: str, classes: frozenset[str], key: str) -> bool:
    """``generic`` (with its ``classes``) is the agent or class ``key``."""
    if drug_matches(generic, key):
        return True
    if key in ("systemic_therapy", "anticancer_therapy", "anti_cancer_therapy"):
        return bool(classes & SYSTEMIC_CLASSES)
    return False


def _drug_match(ti, agents: list[str], excluded: list[str] | None = None) -> Any:
    def drug_matches(g, k):
        return drug_is(g, drug_classes(g), k)

    keys = [norm_key(a) for a in agents]
    exc = [norm_key(x) for x in excluded or []]
    for g in ti.generics:
        if exc and any(drug_matches(g, x) for x in exc):
            continue
        for k in keys:
            if drug_matches(g, k) or g == k.replace("_", " "):
                return True
    if not ti.known:
        # unknown drug names: a class like "systemic_therapy"/"chemotherapy" may still include them
        if any(k in ("systemic_therapy", "anticancer_therapy", "any") for k in keys):
            return True
        return None
    return False


def _duration_days(t, as_of: dt.date) -> float | None:
    """Days she was on the course: its stated duration, start to end, or, with no end and not said to go
    on, to the progression that ended it ("letrozole Feb 2026 -> PD at 4 months (June 2026)"); else to today."""
    if t.duration_months is not None:
        return t.duration_months * 30.4375
    if t.end is None and t.ongoing is not True:
        if t.months_to_progression is not None:
            return t.months_to_progression * 30.4375
        if t.start is not None and t.progression_date is not None and t.progression_date >= t.start:
            return (t.progression_date - t.start).days
    if t.start is not None:
        end = t.end or (as_of if (t.ongoing or t.end is None) else None)
        if end is not None:
            return (end - t.start).days
    if t.months_to_progression is not None:  # "progressed on anastrozole after 21 months"
        return t.months_to_progression * 30.4375
    return None


def _latest_day(d: dt.date) -> dt.date:
    """The last day a date may stand for: a date on the 1st may be a month ("from Nov 2025"), on 1 January a year."""
    if d.day != 1:
        return d
    if d.month == 1:
        return dt.date(d.year, 12, 31)
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def end_bounds(ti, idx: PatientIndex) -> tuple[dt.date | None, dt.date]:
    """``(earliest, latest)`` day the course ``ti`` may have ended (ongoing: today, both); earliest None when
    nothing bounds it from below.

    * an ongoing course ends today;
    * a stated end is that day; an end written as a year ("2024-2026": 1 January to 31 December, or to the record's
      date in its own year) is any day of that year from its start;
    * no end: from its start (or the day it progressed) to the earliest of: today, the start of a later course that
      shares no drug with it (the next line), and, for early disease, her metastatic relapse. A course not said
      to be over, with no later course, nor cycles, response or progression stated, runs to today (unless it was
      for early disease and hers is advanced now).
    """
    t, today = ti.treatment, idx.as_of
    if t.ongoing:
        return today, today
    if t.end is not None:
        year_range = t.start is not None and (t.start.month, t.start.day) == (1, 1) and t.ongoing is False and (
            (t.end.month, t.end.day) == (12, 31) or (t.end == today and t.end.year >= t.start.year))
        if year_range:
            return max(t.start, dt.date(t.end.year, 1, 1)), t.end
        return t.end, min(today, _latest_day(t.end))
    lows = [d for d in (t.start, t.progression_date, t.response_date) if d is not None]
    highs = [today]
    if t.start is not None:
        mine = set(ti.generics)
        highs += [_latest_day(o.treatment.start) for o in idx.treatments if o is not ti and o.treatment.start is not None
                  and o.treatment.start > t.start and not (mine & set(o.generics))]
    d = idx.primary
    if d is not None and d.metastatic_date is not None and _setting_of(t, idx) in ("adjuvant", "neoadjuvant", "early") \
            and (t.start is None or t.start <= d.metastatic_date):
        highs.append(_latest_day(d.metastatic_date))
    high = min(today, *highs)
    early_now_advanced = _setting_of(t, idx) in ("adjuvant", "neoadjuvant", "early") and d is not None and \
        d.extent in ("metastatic", "recurrent", "locally_advanced")
    if len(highs) == 1 and t.start is not None and t.ongoing is None and not t.progressed and t.cycles is None \
            and t.best_response is None and not early_now_advanced:
        return today, today  # not said to be over, and nothing after it: still given
    return (max(lows) if lows else None), high


def _later_line_given(ti, idx: PatientIndex) -> bool:
    """A course numbered as a line with a later-numbered line of the same setting recorded after it."""
    t = ti.treatment
    if t.line is None:
        return False
    return any(o is not ti and o.treatment.line is not None and o.treatment.line > t.line
               and o.treatment.setting == t.setting for o in idx.treatments)


def ended_within(ti, idx: PatientIndex, days: int):
    """Was the course ``ti`` given within the last ``days`` days (its end, see :func:`end_bounds`, inside the
    window)? None when its bounds straddle the window's start. A window counts back from the first dose of the
    trial's treatment, which is on or after the record's date: a course that ended exactly ``days`` days before
    that date is outside it ("≥ 2 weeks" since the last dose is met on day 14); one that goes on is inside."""
    low, high = end_bounds(ti, idx)
    if low is not None and ((idx.as_of - low).days < days or low >= idx.as_of):
        return True
    if (idx.as_of - high).days >= days:
        return False
    return None


def _setting_covers(stated: str, wanted: list[str]) -> bool:
    """A closed history statement in setting ``stated`` covers a check of ``wanted`` settings:
    "any" covers all; "advanced" and "metastatic" cover each other; "early" covers adjuvant and
    neoadjuvant."""
    stated = "advanced" if stated in ("advanced_setting", "advanced_disease") else stated
    want = set(wanted) if wanted else {"any"}
    if stated == "any":
        return True
    if "any" in want:
        return False
    return all(s == stated or (stated in ("advanced", "metastatic") and s in ("advanced", "metastatic"))
               or (stated == "early" and s in ("adjuvant", "neoadjuvant", "early")) for s in want)


def _assert_no_therapy(idx: PatientIndex, agents: list[str], settings: list[str]):
    """An assertion like "prior_therapy:chemotherapy:metastatic" present=False that covers the atom."""
    for key, a in idx.assertions.items():
        if a.present:
            continue
        parts = re.split(r"[:]", key)
        if parts[0] not in ("prior_therapy", "treatment", "therapy", "treatment_history"):
            continue
        agent = norm_key(parts[1]) if len(parts) > 1 else "any"
        setting = norm_key(parts[2]) if len(parts) > 2 else "any"
        if setting in ("advanced_setting", "advanced_disease"):
            setting = "advanced"
        agent_ok = agent in ("any", "systemic_therapy", "anticancer_therapy") or all(
            agent == norm_key(x) or agent in class_ancestors(norm_key(x)) for x in agents)
        d = idx.primary
        # "advanced" is metastatic or locally advanced: a statement about therapy for her
        # metastatic disease covers it; for de novo metastatic disease (metastatic at diagnosis)
        # there was no earlier (adjuvant/neoadjuvant) setting, so it covers "any" too
        de_novo = bool(d and d.date and d.metastatic_date and (d.metastatic_date - d.date).days <= 90)
        if setting in ("metastatic", "advanced") and de_novo:
            setting = "any"
        setting_ok = _setting_covers(setting, settings)
        if agent_ok and setting_ok:
            return a
    return None


def _latest_line(treatments: list) -> list | None:
    """Her most recent line of anti-cancer therapy: the treatments sharing the latest start date (or the highest
    line number); None when that cannot be told (a treatment without a start date, and no line numbers)."""
    if all(ti.treatment.start for ti in treatments):
        last = max(ti.treatment.start for ti in treatments)
        return [ti for ti in treatments if ti.treatment.start == last]
    if all(ti.treatment.line is not None for ti in treatments):
        last = max(ti.treatment.line for ti in treatments)
        return [ti for ti in treatments if ti.treatment.line == last]
    return None


def stated_absent_therapies(idx: PatientIndex, agents: list[str]) -> dict:
    """Of ``agents``, those she has not had by an explicit statement of the record ("never had an anthracycline",
    "no chemotherapy to date", "treatment-naive"), by agent with the statement's source; a therapy her listed
    history merely leaves out is not among them, nor one she had."""
    out = {}
    for g in agents:
        if any(_drug_match(ti, [g], None) for ti in idx.treatments):
            continue
        neg = _assert_no_therapy(idx, [g], ["any"])
        if neg is not None:
            out[g] = neg.source
    return out


@evaluates("prior_therapy")
def prior_therapy(a: cm.PriorTherapy, ctx: EvalContext, excluded: list[str] | None = None) -> Result:
    """Prior (or recent) therapy: her treatment history, and her current medications (a drug she
    takes now is one she has had, within any window up to today)."""
    idx = ctx.idx
    o = ctx.options
    res = _prior_treatments(a, idx, o, excluded)
    if res.value is True or a.lines.high is not None or not idx.medication_generics:
        return res
    sure, maybe = _current_medication_therapy(a, idx, excluded)
    if not sure and not maybe:
        return res
    agents_txt = ", ".join(readable(x) for x in a.agents)
    if sure and a.lines.contains(1):
        return Result(True, [f"currently takes {', '.join(sure)} ({agents_txt})"],
                      [e for e in res.evidence if e.fact.startswith("medication")] or
                      [used_fact(f"medication {m.name}", m.source, g) for m, g, _c in idx.medication_generics if g in sure])
    names = sure + maybe
    return Result(None, [*res.reasons, f"currently takes {', '.join(names)}: whether it counts as {agents_txt} "
                         "here (setting, route, duration) needs a person"],
                  [*res.evidence, *(used_fact(f"medication {m.name}", m.source, g) for m, g, _c in idx.medication_generics
                                    if g in names)],
                  res.missing or [missing_fact("medications", f"whether her medication counts as prior {agents_txt}")])


_BROAD_THERAPY = frozenset({"systemic_therapy", "anticancer_therapy", "anti_cancer_therapy", "any"})


def _current_medication_therapy(a: cm.PriorTherapy, idx: PatientIndex, excluded: list[str] | None):
    """Her current medications that are (``sure``) or may be (``maybe``) the therapy of ``a``."""
    # a current medication counts by its own drug or class, not through the broad "any
    # anti-cancer therapy" classes (supportive drugs such as bisphosphonates are listed as
    # medications; anti-cancer regimens belong to the treatment history)
    keys = [k for k in (norm_key(x) for x in a.agents) if k not in _BROAD_THERAPY]
    exc = [norm_key(x) for x in excluded or []]
    in_history = {g for ti in idx.treatments for g in ti.generics}
    her_conditions = {c.name for c in idx.patient.conditions} if idx.patient is not None else set()
    sure: list[str] = []
    maybe: list[str] = []
    for _m, g, classes in idx.medication_generics:
        if not g or g in in_history:
            continue
        if her_conditions & set(non_cancer_uses(g)) and g not in keys and "immunosuppressant" not in keys:
            continue  # "rheumatoid arthritis on methotrexate": that condition's treatment, not anti-cancer therapy
        if exc and any(drug_is(g, classes, x) or x in classes for x in exc):
            continue
        if any(drug_is(g, classes, k) or k in classes for k in keys):
            dm = True
        elif any(partial_class_match(classes, k) for k in keys):
            dm = None
        else:
            continue
        vals = [dm]
        if a.settings and "any" not in a.settings:
            vals.append(None)  # a current medication states no cancer-therapy setting
        if a.ongoing is False or a.min_duration is not None or a.progressed is not None \
                or a.relapse_within_after_end is not None:
            vals.append(None)  # not stated for a current medication
        v = kleene_and(vals)
        if v is True:
            sure.append(g)
        elif v is None:
            maybe.append(g)
    return sure, maybe


def _prior_treatments(a: cm.PriorTherapy, idx: PatientIndex, o, excluded: list[str] | None = None) -> Result:
    p = idx.patient
    agents_txt = ", ".join(readable(x) for x in a.agents)
    setting_txt = "" if (not a.settings or "any" in a.settings) else " (" + "/".join(a.settings) + " setting)"
    neg = _assert_no_therapy(idx, a.agents, a.settings)
    if not idx.treatments:
        listed = next((h for h in p.history_statements if h.received == "only_listed"
                       and _setting_covers(h.setting, a.settings)), None)  # "no other treatment"
        explicit = "treatments" in p.sources or listed is not None
        if neg is not None or explicit:
            ok = a.lines.contains(0)
            src = neg.source if neg is not None else (listed.source if listed is not None else p.sources.get("treatments"))
            return Result(ok, [f"no prior {agents_txt}{setting_txt} ({'stated' if neg else 'empty treatment list'}): "
                               f"0 lines; the check counts {range_text(a.lines)} line(s)"],
                          [used_fact(f"no prior {neg.subject.split(':', 1)[-1] if neg else 'treatment'}", src)])
        key = "treatment_history:advanced_setting" if any(s in ("advanced", "metastatic") for s in a.settings) \
            else "treatment_history"
        return Result(None, ["treatment history not recorded"], [],
                      [missing_fact(key, "prior anti-cancer treatments" + (" for advanced disease" if "advanced" in key else "")
                           + " (drugs, setting, dates)")])
    sure: list = []
    maybe: list = []
    ev: list[Evidence] = []
    reasons: list[str] = []
    treatments = idx.treatments
    if a.most_recent:
        treatments = _latest_line(idx.treatments)
        if treatments is None:
            return Result(None, ["which therapy was her most recent is not recorded (start dates)"], [],
                          [missing_fact("treatment_history", "start dates of her prior anti-cancer treatments")])
        reasons.append("her most recent therapy: " + "; ".join(", ".join(ti.treatment.drugs) for ti in treatments))
    for ti in treatments:
        t = ti.treatment
        dm = _drug_match(ti, a.agents, excluded)
        if dm is False:
            continue
        setting = _setting_of(t, idx)
        sm = _setting_match(setting, a.settings)
        if sm is False and _inoperable_local_setting(setting, a.settings, idx):
            sm = None
        if sm is False:
            continue
        vals = [dm, sm]
        if a.within is not None:
            vals.append(ended_within(ti, idx, a.within.days))
        if a.ongoing is not None:
            on = t.ongoing
            if on is None and _later_line_given(ti, idx):
                on = False  # "capecitabine, oral vinorelbine, eribulin (3 lines)": a line with a later one after it is over
            if on is None:
                low, high = end_bounds(ti, idx)
                on = True if low == high == idx.as_of else (False if high < idx.as_of else None)
            vals.append(None if on is None else on == a.ongoing)
        if a.min_duration is not None:
            dd = _duration_days(t, idx.as_of)
            vals.append(None if dd is None else dd >= a.min_duration.days - 0.5)
        if a.progressed is not None:
            prog = t.progressed
            if prog is None and (t.best_response == "PD" or t.progression_date is not None):
                prog = True
            if prog is None and t.best_response in ("CR", "PR", "SD") and (
                    (t.ongoing and t.end is None) or (t.start and all(u.treatment.start and u.treatment.start <= t.start
                                                                      for u in idx.treatments))):
                # her latest therapy (or one she is still on) with a response as its last word: "first-line
                # docetaxel-trastuzumab-pertuzumab, partial response after 4 cycles", "paclitaxel x 12, PR, now off
                # treatment": her disease has not progressed on it (nor since: no later progression is recorded)
                prog = False
            if prog is None:
                prog = _early_progression(t, idx, setting)
            if prog is None and a.progressed is True:
                prog = _progressed_before_next_line(ti, idx, setting)
            vals.append(None if prog is None else prog == a.progressed)
        if a.relapse_within_after_end is not None:
            d = idx.primary
            rec = (d.metastatic_date if d and d.metastatic_date else None) or t.progression_date
            if (t.end is None or rec is None) and t.relapse_months_after_end is not None:
                # "relapsed 8 months after finishing 5 years of adjuvant tamoxifen": the interval as stated
                vals.append(0 <= t.relapse_months_after_end * 30.4375 <= a.relapse_within_after_end.days + 0.5)
            elif rec is not None and t.end is None and t.ongoing is not True and t.start is not None and t.cycles:
                # "EC x4 (2021)" and a relapse in 2026: a course of N cycles (each at most 5 weeks) ends by the
                # last day its start may stand for plus N cycles; a relapse later than the window after that is not
                # within it
                latest_end = _latest_day(t.start) + dt.timedelta(days=35 * t.cycles)
                vals.append(False if (rec - latest_end).days > a.relapse_within_after_end.days + 0.5 else None)
            elif rec is not None and a.min_duration is None and t.start is not None and t.start <= rec \
                    and setting in ("adjuvant", "neoadjuvant", "early") \
                    and (t.end is None and t.ongoing is True or t.end is not None and rec <= t.end):
                # relapse while still on her adjuvant therapy: resistance ("endocrine-resistant"); a trial's own
                # definition with a duration ("relapse within 12 months after at least 24 months") is read as written
                vals.append(True)
            elif t.end is None or rec is None:
                vals.append(None)
            else:
                gap = (rec - t.end).days
                vals.append(0 <= gap <= a.relapse_within_after_end.days or (gap < 0 and t.progressed is True))
        v = kleene_and(vals)
        if v is False:
            continue
        desc = f"{', '.join(t.drugs)} ({setting.replace('_', ' ')}"
        if t.start:
            desc += f", from {t.start}"
        if t.end:
            desc += f" to {t.end}"
        elif t.duration_months is not None:
            desc += f", {fmt_number(t.duration_months)} months"
        if t.progressed:
            desc += ", progressed"
        desc += ")"
        ev.append(used_fact(desc, t.source))
        (sure if v is True else maybe).append(ti)
    # count lines: treatments sharing a line number or a start date are one line
    def lines(items) -> int:
        keys = set()
        for ti in items:
            t = ti.treatment
            keys.add(("line", t.line) if t.line is not None else (("start", t.start) if t.start else ("i", ti.index)))
        return len(keys)
    n_sure = lines(sure)
    n_all = lines(sure + maybe)
    if neg is not None and not sure:
        n_all = 0
    possible = [a.lines.contains(k) for k in range(n_sure, n_all + 1)]
    if all(possible):
        v = True
    elif not any(possible):
        v = False
    else:
        v = None
    early_unknown = v is False and n_all == 0 and neg is None and not a.lines.contains(0) and \
        _early_history_untold(a, idx)
    if early_unknown:
        v = None
    desc = f"{n_sure} line(s) of {agents_txt}{setting_txt}"
    if n_all > n_sure:
        desc += f" (up to {n_all} not certain)"
    rw = a.relapse_within_after_end
    if early_unknown:
        desc += "; her record tells nothing of the treatment of her early disease"
    qualifiers = "".join(q for q, on in ((", lasting long enough", a.min_duration is not None),
                                         (", with progression", a.progressed is True),
                                         (f", relapse within {fmt_number(rw.value)} {rw.unit}s of its end" if rw else "",
                                          rw is not None)) if on)
    reasons.append(f"{desc}{qualifiers}; the check counts {range_text(a.lines)} line(s)")
    missing = []
    if v is None:
        missing.append(missing_fact("treatment_history:advanced_setting" if any(s in ("advanced", "metastatic") for s in a.settings)
                           else "treatment_history", f"details of prior {agents_txt} (setting, dates, duration, progression)"))
    if not ev:
        ev.append(used_fact(f"treatments recorded: {'; '.join(', '.join(t.treatment.drugs) for t in idx.treatments)}",
                      idx.treatments[0].treatment.source))
    return Result(v, reasons, ev, missing)


@evaluates("concomitant_medication")
def concomitant_medication(a: cm.ConcomitantMedication, ctx: EvalContext) -> Result:
    idx = ctx.idx
    keys = [norm_key(c) for c in a.classes]
    hits = []
    maybe = []
    for m, g, classes in idx.medication_generics:
        if g and any(drug_matches(g, k) or k in classes for k in keys):
            hits.append(used_fact(f"medication {m.name}", m.source, g))
        elif g and any(partial_class_match(classes, k) for k in keys):
            maybe.append(used_fact(f"medication {m.name} (possibly what the criterion means)", m.source, g))
    for ti in idx.treatments:
        t = ti.treatment
        if t.ongoing or (t.end is None and t.start is not None):
            if any(k in ti.classes or k in ti.generics for k in keys):
                hits.append(used_fact(f"current treatment {', '.join(t.drugs)}", t.source))
    what = ", ".join(readable(k) for k in keys)
    if hits:
        return Result(True, [f"takes {what}"], hits)
    if maybe:
        return Result(None, [f"takes {', '.join(e.value for e in maybe)}: whether it counts as {what} needs a person"],
                      maybe, [missing_fact("medications", f"whether her medication counts as {what}")])
    none = idx.assertions.get("medications:any") if not idx.medication_generics else None
    if none is not None and not none.present:  # "no regular medications"
        return Result(False, [f"no {what}: no current medications (stated)"], [used_fact("no current medications", none.source)])
    if closed_world_ok(ctx):
        n = len(idx.medication_generics)
        return Result(False, [f"no {what} among her {n} current medication(s)" if n else f"no {what} in her record"], [])
    return Result(None, ["current medications not recorded"], [], [missing_fact("medications", "current medications")])


@evaluates("cumulative_dose")
def cumulative_dose(a: cm.CumulativeDose, ctx: EvalContext) -> Result:
    """Her cumulative dose of one drug against a limit. No record gives a lifetime dose, so this is decided
    only when she never had the drug (a dose of 0: above no limit, below every one); when she had it, or her
    history is not recorded, it is unknown and the missing fact names the dose."""
    limit = f"cumulative {readable(a.agent)} dose {a.comparator} {fmt_number(a.value)} {a.unit}"
    had = prior_therapy(cm.PriorTherapy(agents=[a.agent]), ctx)
    if had.value is False:
        return Result(a.comparator in ("<", "<="), [f"no prior {readable(a.agent)}: cumulative dose 0 ({limit})"],
                      had.evidence)
    reason = f"prior {readable(a.agent)}: its cumulative dose is not recorded ({limit})" if had.value \
        else f"{limit}: treatment history not recorded"
    return Result(None, [reason], had.evidence,
                  [*had.missing, missing_fact(f"cumulative_dose:{a.agent}", f"cumulative dose of {readable(a.agent)} ({a.unit})")])
