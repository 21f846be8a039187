"""Evaluators of the course of her disease: response to a therapy she has had
(:class:`~trialmatch.criteria.model.TherapyResponse`) and the interval between two events of her
history (:class:`~trialmatch.criteria.model.EventInterval`).

Registered by atom kind with :func:`~trialmatch.matching.atoms.registry.evaluates`.
Both are three-valued: unknown, with a :class:`~trialmatch.matching.model.MissingFact` naming the facts
that would settle them, when the record lacks them.
"""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import fmt_number as _fmt
from trialmatch.matching.atoms.common import readable as _label
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.atoms.therapy import _assert_no_therapy, _drug_match, _duration_days, _setting_match, _setting_of
from trialmatch.matching.context import EvalContext, Result
from trialmatch.matching.context import missing_fact as _mf
from trialmatch.matching.context import used_fact as _ev
from trialmatch.matching.facts import PatientIndex
from trialmatch.matching.logic import kleene_and as _and

__all__ = ["evaluate_therapy_response", "evaluate_event_interval"]

_RESPONSE_WORDS = {"CR": "complete response", "PR": "partial response", "SD": "stable disease", "PD": "progression",
                   "NE": "not evaluable"}


def _course_text(t) -> str:
    desc = f"{', '.join(t.drugs)} ({t.setting.replace('_', ' ')}"
    if t.line is not None:
        desc += f", line {t.line}"
    if t.start:
        desc += f", from {t.start}"
    if t.end:
        desc += f" to {t.end}"
    if t.cycles is not None:
        desc += f", {t.cycles} cycles"
    if t.best_response:
        desc += f", best response {t.best_response}"
    if t.progressed:
        desc += ", progressed"
    return desc + ")"


def _undated_left_out(items: list) -> list:
    """Her courses less the undated ones that cannot be her most recent: a mention of a dated course's drugs
    ("she is benefiting from fulvestrant with ribociclib" beside "Since March 2026: fulvestrant + ribociclib"),
    while a dated course goes on, an undated one that is over, and an undated (neo)adjuvant course beside a dated
    course of a later setting ("adjuvant EC x4" before "capecitabine since August 2026")."""
    dated = [ti for ti in items if ti.treatment.start is not None]
    if not dated:
        return items
    current = any(ti.treatment.ongoing is True for ti in dated)
    later = any(ti.treatment.setting not in ("adjuvant", "neoadjuvant") for ti in dated)
    out = []
    for ti in items:
        t = ti.treatment
        if t.start is None and (any(set(t.drugs) <= set(d.treatment.drugs) for d in dated)
                                or (current and t.ongoing is False)
                                or (later and t.setting in ("adjuvant", "neoadjuvant"))):
            continue
        out.append(ti)
    return out


@evaluates("therapy_response")
def evaluate_therapy_response(a: cm.TherapyResponse, ctx: EvalContext) -> Result:
    """True when a treatment of hers that matches the therapy, setting and line had one of the wanted
    best responses (and lasted / gave the cycles / is ongoing as required); False when every such
    treatment fails one of them; unknown (with the missing facts) otherwise."""
    idx = ctx.idx
    p = idx.patient
    what = ", ".join(_label(x) for x in a.agents) or "anti-cancer therapy"
    wanted = "/".join(a.responses)
    if not idx.treatments:
        if "treatments" in p.sources:
            return Result(False, [f"no prior {what} recorded (empty treatment list): no response to it"],
                          [_ev("no prior treatment", p.sources.get("treatments"))])
        neg = _assert_no_therapy(idx, list(a.agents), list(a.settings or ["any"]))
        if neg is not None:  # "treatment-naive", "no prior cancer treatment": nothing to respond to
            return Result(False, [f"no prior {what} (stated): no response to it"],
                          [_ev(f"no prior {neg.subject.split(':', 1)[-1]}", neg.source)])
        return Result(None, ["treatment history not recorded"], [],
                      [_mf("treatment_history", f"prior {what} with its best response ({wanted}), dates and cycles")])
    items = list(idx.treatments)
    if a.most_recent:
        items = _undated_left_out(items)
        if len(items) > 1 and any(ti.treatment.start is None for ti in items):
            return Result(None, ["which treatment was her most recent is not recorded (start dates)"],
                          [_ev(_course_text(ti.treatment), ti.treatment.source) for ti in items],
                          [_mf("treatment_history:start", "start dates of her treatments (which was the most recent)")])
        items = [max(items, key=lambda ti: ti.treatment.start or dt.date.min)]
    sure: list = []
    unsure: list = []
    missing: dict[str, str] = {}
    for ti in items:
        t = ti.treatment
        dm = True if not a.agents else _drug_match(ti, a.agents)
        if dm is False:
            continue
        setting = _setting_of(t, idx)
        sm = _setting_match(setting, a.settings)
        if sm is False:
            continue
        if setting == "adjuvant" and "PD" not in a.responses:
            continue  # no disease left to respond: adjuvant therapy has no CR/PR/SD (a relapse on it is PD)
        vals = [dm, sm]
        if a.lines is not None:
            vals.append(None if t.line is None else a.lines.contains(t.line))
            if t.line is None:
                missing["treatment_history:line"] = "the line of each treatment in the advanced setting"
        resp = t.best_response
        if resp is None and t.progressed is True and t.months_to_progression is None:
            resp = "PD"
        if "PD" in a.responses and (t.progressed is True or t.progression_date is not None):
            resp = "PD"  # progression during or after it, whatever its best response before
        elif "PD" in a.responses and resp is None and t.progressed is False:
            resp = "no progression"  # "stable on it, no progression": not PD
        if resp is None:
            vals.append(None)
            missing["treatment_history:best_response"] = f"the best response to {', '.join(t.drugs)} ({wanted} wanted)"
        else:
            vals.append(resp in a.responses)
        if a.min_duration is not None:
            dd = _duration_days(t, idx.as_of)
            if dd is None and t.months_to_progression is not None:
                dd = t.months_to_progression * 30.4375
            long_enough = None if dd is None else dd >= a.min_duration.days - 0.5
            if long_enough is False and t.ongoing is True and not (t.progressed or t.progression_date):
                long_enough = None  # still going on: it may last long enough by the time she enrols
            vals.append(long_enough)
            if dd is None:
                missing["treatment_history:dates"] = f"start and end (or duration) of {', '.join(t.drugs)}"
        if a.min_cycles is not None:
            vals.append(None if t.cycles is None else t.cycles >= a.min_cycles)
            if t.cycles is None:
                missing["treatment_history:cycles"] = f"the number of cycles of {', '.join(t.drugs)}"
        if a.ongoing:
            on = t.response_ongoing
            if on is None and t.progressed is True:
                on = False
            vals.append(on)
            if on is None:
                missing["treatment_history:response_ongoing"] = f"whether the response to {', '.join(t.drugs)} is ongoing"
        v = _and(vals)
        if v is True:
            sure.append(ti)
        elif v is None:
            unsure.append(ti)
    if sure:
        return Result(True, [f"{_RESPONSE_WORDS.get(sure[0].treatment.best_response or '', 'response')} on "
                             f"{', '.join(sure[0].treatment.drugs)}: {a.describe()}"],
                      [_ev(_course_text(ti.treatment), ti.treatment.source) for ti in sure])
    if unsure:
        return Result(None, [f"not recorded whether {a.describe()}"],
                      [_ev(_course_text(ti.treatment), ti.treatment.source) for ti in unsure],
                      [_mf(k, d) for k, d in missing.items()] or
                      [_mf("treatment_history", f"the response to prior {what}")])
    return Result(False, [f"no treatment of hers meets: {a.describe()}"],
                  [_ev(_course_text(ti.treatment), ti.treatment.source) for ti in items])


_EVENT_TEXT = {"diagnosis": "diagnosis", "metastatic_diagnosis": "diagnosis of metastatic disease",
               "systemic_treatment_start": "start of systemic treatment",
               "primary_treatment_end": "end of (neo)adjuvant treatment", "recurrence": "recurrence",
               "enrolment": "enrolment (the matching date)"}
_EVENT_FACT = {"diagnosis": ("diagnosis.date", "the date of her cancer diagnosis"),
               "metastatic_diagnosis": ("diagnosis.metastatic_date", "the date metastatic disease was diagnosed"),
               "recurrence": ("diagnosis.metastatic_date", "the date of recurrence (metastatic disease)"),
               "systemic_treatment_start": ("treatment_history:start", "the start date of her first systemic treatment"),
               "primary_treatment_end": ("treatment_history:end", "the end date of her (neo)adjuvant treatment")}


def _event_date(event: str, idx: PatientIndex) -> dt.date | None:
    d = idx.primary
    if event == "enrolment":
        return idx.as_of
    if event == "diagnosis":
        return d.date if d is not None else None
    if event in ("metastatic_diagnosis", "recurrence"):
        return d.metastatic_date if d is not None else None
    if event == "systemic_treatment_start":
        starts = [ti.treatment.start for ti in idx.treatments]
        return min(starts) if starts and all(s is not None for s in starts) else None
    if event == "primary_treatment_end":
        ends = [ti.treatment.end for ti in idx.treatments if _setting_of(ti.treatment, idx) in ("adjuvant", "neoadjuvant")]
        return max(ends) if ends and all(e is not None for e in ends) else None
    raise ValueError(f"EventInterval: unknown event {event!r}; allowed: {list(_EVENT_TEXT)}")


_CMP = {"<=": lambda x, y: x <= y, "<": lambda x, y: x < y, ">=": lambda x, y: x >= y, ">": lambda x, y: x > y}


def _recurred(idx: PatientIndex) -> bool:
    """Her metastatic disease came later than her first diagnosis (a recurrence, not de novo)."""
    d = idx.primary
    return bool(d is not None and d.date and d.metastatic_date and (d.metastatic_date - d.date).days > 90)


def _first_start(items, cmp_fails_earlier) -> tuple[dt.date | None, bool]:
    """``(date, known)``: the earliest start of ``items``; when some starts are missing, the earliest known one
    stands in only where an earlier date could not change the answer (``cmp_fails_earlier`` tells)."""
    starts = [ti.treatment.start for ti in items]
    known = [x for x in starts if x is not None]
    if not known:
        return None, False
    if len(known) == len(starts):
        return min(known), True
    return (min(known), False) if cmp_fails_earlier(min(known)) else (None, False)


def _event_candidates(event: str, idx: PatientIndex, earlier_settles,
                      end_event: str = "enrolment") -> list[tuple[str, dt.date | None]]:
    """The dates an event of the criterion can mean for her, as ``(label, date)``. After a recurrence
    "diagnosis" may be her first diagnosis or that of her metastatic disease, and "systemic treatment" her first
    systemic treatment or the first one for her metastatic disease: the criterion holds only when both do. Only for
    intervals up to her enrolment (the interval to her recurrence starts at her first diagnosis)."""
    if end_event != "enrolment":
        return [(event, _event_date(event, idx))]  # "diagnosis to recurrence": her first diagnosis
    if event == "diagnosis" and _recurred(idx):
        return [("diagnosis", idx.primary.date), ("metastatic_diagnosis", idx.primary.metastatic_date)]
    if event == "systemic_treatment_start" and idx.treatments:
        first, _ = _first_start(idx.treatments, earlier_settles)
        out = [("systemic_treatment_start", first)]
        if _recurred(idx):
            adv = [ti for ti in idx.treatments if _setting_of(ti.treatment, idx) in ("metastatic", "locally_advanced")]
            if adv:
                out.append(("metastatic_treatment_start", _first_start(adv, earlier_settles)[0]))
        return out
    return [(event, _event_date(event, idx))]


_EVENT_TEXT["metastatic_treatment_start"] = "start of systemic treatment for metastatic disease"
_EVENT_FACT["metastatic_treatment_start"] = ("treatment_history:start",
                                             "the start date of her first treatment for metastatic disease")


@evaluates("event_interval")
def evaluate_event_interval(a: cm.EventInterval, ctx: EvalContext) -> Result:
    """The days from the first event's date to the second's, compared with the duration; unknown (with
    the missing dates) when either date is not in her record. Where an event can mean two dates for her
    (after a recurrence: the first diagnosis or the metastatic one, see :func:`_event_candidates`), the
    interval is true or false only when it is for both."""
    idx = ctx.idx
    end = _event_date(a.end, idx)
    if end is None:
        return Result(None, [f"{a.describe()}: the date of the {_EVENT_TEXT[a.end]} is not recorded"], [],
                      [_mf(*_EVENT_FACT[a.end])])

    def fails_if_earlier(start: dt.date) -> bool:  # an earlier start only lengthens the interval
        ok = _CMP[a.comparator]((end - start).days, a.duration.days)
        return (not ok) if a.comparator in ("<=", "<") else ok

    cands = _event_candidates(a.start, idx, fails_if_earlier, a.end)
    src = idx.primary.source if idx.primary is not None else None
    vals, reasons, ev, missing = [], [], [], []
    for label, start in cands:
        if start is None:
            vals.append(None)
            reasons.append(f"{a.describe()}: the date of the {_EVENT_TEXT[label]} is not recorded")
            missing.append(_mf(*_EVENT_FACT[label]))
            continue
        days = (end - start).days
        ok = _CMP[a.comparator](days, a.duration.days)
        vals.append(ok)
        reasons.append(f"{_EVENT_TEXT[label]} {start} to {_EVENT_TEXT[a.end]} {end}: {_fmt(round(days / 30.4375, 1))} "
                       f"months, {'within' if ok else 'outside'} {a.comparator} {_fmt(a.duration.value)} {a.duration.unit}s")
        ev.append(_ev(f"{_EVENT_TEXT[label]} {start}", src, str(start)))
    if ev:
        ev.append(_ev(f"{_EVENT_TEXT[a.end]} {end}", src, str(end)))
    if all(v is True for v in vals):
        return Result(True, reasons, ev)
    if all(v is False for v in vals):
        return Result(False, reasons, ev)
    if len(cands) > 1 and True in vals and False in vals:
        reasons.append("which of her two dates the criterion means is not settled: a person must decide")
        missing.append(_mf("manual_review", f"which date '{_EVENT_TEXT[a.start]}' means after her recurrence"))
    return Result(None, reasons, ev, missing)
