"""Multi-step protocols: which step of a trial a patient qualifies for, as of a date.

A trial's :class:`~trialmatch.trials.model.ProtocolStep` names the event that opens it
(``entry_event``). Events are data: ``matching/step_events.json`` maps each event key to one of
the evaluators registered here (with its parameters: gene, specimens, regimen, arm), and maps
free-text entry events to keys with patterns. A step whose event cannot be mapped to a key is
reported ``uncertain`` with the reason, never guessed.

Verdict of a step
-----------------
* the opening event: ``eligible`` (it happened, with its date), ``ineligible`` (it did not, or
  something that rules it out came first), ``uncertain`` (the record cannot tell: a missing
  date, an unknown event key);
* combined with the outcomes of the criteria that belong to the step (``Criterion.step``):
  any ``fail`` -> ineligible, else any ``unknown`` -> uncertain. Step 1 uses the trial's entry
  criteria (``step`` None or 1), i.e. the trial's entry verdict.

Evaluators
----------
``registration``
    Step 1. The entry verdict from the criterion outcomes; a recorded registration in the trial
    (``Patient.trial_assignments``) is reported with its date.
``gene_in_blood_without_progression``
    E.g. seed 004's step 2: a ``GeneResult`` of ``gene``/``status`` from one of ``specimens``,
    dated on or after the start of the step-1 ``regimen`` (all its agents given together, on or
    after a recorded registration), with no progression dated on or before that result. A
    progression after it, before any step-2 assignment, also closes the step.
``progression_on_arm``
    E.g. seed 004's step 3: assigned to ``arm`` (``Patient.trial_assignments``) and a progression
    on the regimen dated after the assignment. Without a recorded arm, a record consistent with
    the arm (the step-2 event happened and the regimen continued until progression) is
    ``uncertain``; assignment to another arm is ``ineligible``.

Only facts dated on or before ``as_of`` are used (:func:`trialmatch.patients.asof.patient_as_of`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from trialmatch.matching.model import CriterionOutcome, StepOutcome
from trialmatch.patients.asof import patient_as_of
from trialmatch.patients.model import Patient, TrialAssignment, Treatment
from trialmatch.trials.model import ProtocolStep, Trial

__all__ = [
    "evaluate_steps", "resolve_event", "current_step", "step_events", "EVALUATORS", "StepContext",
]

EventResult = tuple[str, str, "dt.date | None"]  # verdict, reason, event date


@lru_cache(maxsize=1)
def step_events() -> dict[str, Any]:
    """The event vocabulary (``matching/step_events.json``)."""
    with resources.files("trialmatch.matching").joinpath("step_events.json").open("r", encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _compiled_patterns() -> list[tuple[str, list[re.Pattern]]]:
    return [(p["key"], [re.compile(r, re.I | re.S) for r in p["regex"]]) for p in step_events()["patterns"]]


def resolve_event(step: ProtocolStep) -> tuple[str | None, str]:
    """Map a step to an event key.

    Returns
    -------
    (key, how)
        ``key`` is a key of ``step_events.json`` or None; ``how`` says how it was found
        ("key", "pattern on entry_event", "pattern on description") or why not.
    """
    events = step_events()["events"]
    raw = (step.entry_event or "").strip()
    if raw:
        norm = re.sub(r"[\s\-]+", "_", raw.lower())
        if norm in events:
            return norm, "key"
        spaced = re.sub(r"[_\-]+", " ", raw)
        for key, pats in _compiled_patterns():
            if any(p.search(spaced) for p in pats):
                return key, f"pattern on entry_event {raw!r}"
    text = " ".join(x for x in (step.entry_criteria_text, step.description) if x)
    if text:
        for key, pats in _compiled_patterns():
            if any(p.search(text) for p in pats):
                return key, "pattern on the step's text" + (f" (entry event {raw!r} is not a known key)" if raw else "")
    if raw:
        return None, f"entry event {raw!r} is not a known event, and the step's text matches no event pattern"
    return None, "the step states no entry event trialmatch can recognise"


# ----------------------------------------------------------------------------- context
def _norm_id(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _norm_arm(s: str | None) -> str:
    s = re.sub(r"^\s*arm\s*", "", (s or "").strip().lower())
    return re.sub(r"[^a-z0-9]", "", s)


@dataclass
class StepContext:
    """What an event evaluator sees: the trial, the patient as of the date, her assignments."""

    trial: Trial
    patient: Patient
    as_of: dt.date
    outcomes: Sequence[CriterionOutcome]
    assignments: list[TrialAssignment] = field(default_factory=list)

    def registration(self) -> TrialAssignment | None:
        regs = [a for a in self.assignments if a.step in (None, 1) and a.arm is None]
        regs = regs or [a for a in self.assignments]
        dated = sorted((a for a in regs if a.date), key=lambda a: a.date)
        return dated[0] if dated else (regs[0] if regs else None)

    def assigned_step(self, number: int) -> TrialAssignment | None:
        for a in self.assignments:
            if a.step is not None and a.step >= number:
                return a
        return None


def _drug_covers(drug: str, agent: str) -> bool:
    from trialmatch.vocab import drug_matches, normalize_drug

    generic = normalize_drug(drug) or drug.strip().lower()
    return drug_matches(generic, agent)


def _regimen(ctx: StepContext, agents: list[str], not_before: dt.date | None) -> tuple[dt.date | None, list[Treatment]]:
    """Start of the first course giving every agent together (courses starting within 14 days
    of each other count as together), on or after ``not_before``; and its treatments."""
    candidates = [t for t in ctx.patient.treatments if t.start is not None
                  and (not_before is None or t.start >= not_before)
                  and any(_drug_covers(d, a) for d in t.drugs for a in agents)]
    for t in sorted(candidates, key=lambda t: t.start):
        group = [u for u in candidates if abs((u.start - t.start).days) <= 14]
        if all(any(_drug_covers(d, a) for u in group for d in u.drugs) for a in agents):
            return min(u.start for u in group), group
    return None, []


def _progressions(treatments: list[Treatment]) -> tuple[list[dt.date], bool]:
    """Dated progressions on these treatments, and whether one is recorded without a date."""
    dated = sorted(t.progression_date for t in treatments if t.progression_date is not None)
    undated = any((t.progressed or t.best_response == "PD") and t.progression_date is None for t in treatments)
    return dated, undated


# ----------------------------------------------------------------------------- evaluators
def _entry_verdict(outcomes: Sequence[CriterionOutcome], steps: set[int | None]) -> tuple[str, str]:
    relevant = [o for o in outcomes if o.step in steps]
    failed = [o.criterion_id for o in relevant if o.outcome == "fail"]
    unknown = [o.criterion_id for o in relevant if o.outcome == "unknown"]
    if failed:
        return "ineligible", f"criteria not met: {', '.join(failed)}"
    if unknown:
        return "uncertain", f"criteria not settled by the record: {', '.join(unknown)}"
    if not relevant:
        return "eligible", "no criteria of its own"
    return "eligible", f"all {len(relevant)} criteria pass or need a person's confirmation"


def _ev_registration(ctx: StepContext, step: ProtocolStep, spec: dict) -> EventResult:
    reg = ctx.registration()
    verdict, reason = _entry_verdict(ctx.outcomes, {None, step.number})
    if reg is not None:
        when = reg.date.isoformat() if reg.date else "an undated day"
        return "eligible", f"registered in the trial on {when} (recorded); step 1 entered", reg.date
    return verdict, f"entry criteria: {reason}", None


def _ev_gene_in_blood(ctx: StepContext, step: ProtocolStep, spec: dict) -> EventResult:
    gene = spec.get("gene", "ESR1").upper()
    status = spec.get("status", "mutated")
    specimens = set(spec.get("specimens", ["ctdna", "blood"]))
    agents = spec.get("regimen", [])
    regimen_label = spec.get("regimen_label", " + ".join(agents))
    entered = ctx.assigned_step(step.number)
    if entered is not None:
        when = entered.date.isoformat() if entered.date else "an undated day"
        return "eligible", f"entered step {entered.step} on {when} (recorded)", entered.date
    reg = ctx.registration()
    start, course = _regimen(ctx, agents, reg.date if reg and reg.date else None)
    if start is None:
        since = f" since registration on {reg.date.isoformat()}" if reg and reg.date else ""
        return ("ineligible", f"step {step.number} opens during step-1 treatment ({regimen_label}); "
                f"no such treatment recorded{since} as of {ctx.as_of.isoformat()}", None)
    results = [g for g in ctx.patient.genes if g.gene.upper() == gene and g.status == status]
    blood = [g for g in results if g.specimen in specimens]
    unknown_specimen = [g for g in results if g.specimen is None]
    after = sorted((g for g in blood if g.date is not None and g.date >= start), key=lambda g: g.date)
    undated = [g for g in blood if g.date is None]
    if not after:
        if undated or unknown_specimen:
            what = "undated" if undated else "of unstated specimen"
            return ("uncertain", f"{gene} {status} result {what}: cannot tell whether it was found in blood "
                    f"after step-1 treatment began on {start.isoformat()}", None)
        before = [g for g in blood if g.date is not None and g.date < start]
        extra = f" (a result of {before[0].date.isoformat()} predates the treatment)" if before else ""
        return ("ineligible", f"no {gene} {status} result in blood ({'/'.join(sorted(specimens))}) since step-1 "
                f"treatment began on {start.isoformat()}{extra}", None)
    hit = after[0]
    variant = f" {hit.variant}" if hit.variant else ""
    dated, undated_prog = _progressions(course)
    first = dated[0] if dated else None
    if first is not None and first <= hit.date:
        return ("ineligible", f"radiological progression on {first.isoformat()} came before (or with) the {gene}"
                f"{variant} detection in {hit.specimen} on {hit.date.isoformat()}", hit.date)
    if first is not None:
        return ("ineligible", f"{gene}{variant} detected in {hit.specimen} on {hit.date.isoformat()}, but "
                f"progression on {first.isoformat()} followed before any step-{step.number} entry was recorded",
                hit.date)
    if undated_prog:
        return ("uncertain", f"{gene}{variant} detected in {hit.specimen} on {hit.date.isoformat()}; a progression "
                "is recorded without a date, so whether it came first cannot be told", hit.date)
    return ("eligible", f"{gene}{variant} {status} in {hit.specimen} on {hit.date.isoformat()}, during step-1 "
            f"treatment (since {start.isoformat()}), with no progression recorded before it", hit.date)


def _ev_progression_on_arm(ctx: StepContext, step: ProtocolStep, spec: dict) -> EventResult:
    arm = _norm_arm(spec.get("arm", "A"))
    agents = spec.get("regimen", [])
    entered = ctx.assigned_step(step.number)
    if entered is not None:
        when = entered.date.isoformat() if entered.date else "an undated day"
        return "eligible", f"entered step {entered.step} on {when} (recorded)", entered.date
    arms = [a for a in ctx.assignments if a.arm]
    if arms:
        a = sorted(arms, key=lambda x: x.date or dt.date.min)[-1]
        label = a.arm
        if _norm_arm(a.arm) != arm:
            return "ineligible", f"assigned to arm {label} (not arm {spec.get('arm', 'A')}); step {step.number} is for arm {spec.get('arm', 'A')}", None
        course = [t for t in ctx.patient.treatments if any(_drug_covers(d, g) for d in t.drugs for g in agents)]
        dated, undated = _progressions(course)
        after = [d for d in dated if a.date is None or d >= a.date]
        if after:
            return "eligible", f"progression on {after[0].isoformat()} on arm {label} (assigned {a.date.isoformat() if a.date else 'undated'})", after[0]
        if undated:
            return "uncertain", f"on arm {label}; a progression is recorded without a date", None
        return "ineligible", f"on arm {label} since {a.date.isoformat() if a.date else 'an undated day'}; no progression recorded", None
    # no arm recorded: is the record consistent with the arm (step-2 event, regimen continued, progression)?
    esr1_spec = next((s for s in step_events()["events"].values()
                      if s.get("evaluator") == "gene_in_blood_without_progression"), None)
    if esr1_spec is not None:
        reg = ctx.registration()
        start, course = _regimen(ctx, agents, reg.date if reg and reg.date else None)
        if start is not None:
            hits = sorted((g for g in ctx.patient.genes if g.gene.upper() == esr1_spec["gene"].upper()
                           and g.status == esr1_spec["status"] and g.specimen in set(esr1_spec["specimens"])
                           and g.date is not None and g.date >= start), key=lambda g: g.date)
            dated, _ = _progressions(course)
            if hits and dated and dated[0] > hits[0].date:
                return ("uncertain", f"no arm assignment recorded; the record fits arm {spec.get('arm', 'A')} "
                        f"(ESR1 found on {hits[0].date.isoformat()}, same treatment continued, progression on "
                        f"{dated[0].isoformat()}): record the arm to settle it", dated[0])
    return "ineligible", f"not assigned to arm {spec.get('arm', 'A')} (no arm assignment recorded)", None


#: evaluator name (as used in ``step_events.json``) -> function(ctx, step, spec) -> (verdict, reason, date)
EVALUATORS: dict[str, Callable[[StepContext, ProtocolStep, dict], EventResult]] = {
    "registration": _ev_registration,
    "gene_in_blood_without_progression": _ev_gene_in_blood,
    "progression_on_arm": _ev_progression_on_arm,
}

_RANK = {"eligible": 0, "uncertain": 1, "ineligible": 2}


def _assignments_for(trial: Trial, patient: Patient) -> list[TrialAssignment]:
    ids = {_norm_id(trial.id), *(_norm_id(x) for x in trial.other_ids)}
    if trial.acronym:
        ids.add(_norm_id(trial.acronym))
    return [a for a in patient.trial_assignments if _norm_id(a.trial_id) in ids]


def evaluate_steps(
    trial: Trial,
    compiled: Any,
    patient: Patient,
    as_of: dt.date | None = None,
    outcomes: Sequence[CriterionOutcome] | None = None,
) -> list[StepOutcome]:
    """Say, for each step of a multi-step protocol, whether the patient qualifies for it.

    Parameters
    ----------
    trial : Trial
        A trial with ``steps`` (an empty list gives an empty result).
    compiled : CompiledCriteria or None
        The trial's compiled criteria (used for the steps of criteria with ``Criterion.step``;
        their outcomes come in ``outcomes``).
    patient : Patient
        The full record; only facts dated on or before ``as_of`` are used.
    as_of : datetime.date, optional
        The day to evaluate on (default: the record's ``as_of``, else today).
    outcomes : sequence of CriterionOutcome, optional
        The matcher's criterion outcomes for this trial and patient (step 1 = entry verdict).

    Returns
    -------
    list of StepOutcome
        One per step, in step order: ``verdict`` (eligible / uncertain / ineligible),
        ``reason`` with the dates, ``entry_event`` key and ``event_date``.
    """
    if not trial.steps:
        return []
    as_of = as_of or patient.as_of or dt.date.today()
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    p = patient_as_of(patient, as_of)
    ctx = StepContext(trial=trial, patient=p, as_of=as_of, outcomes=list(outcomes or []),
                      assignments=_assignments_for(trial, p))
    events = step_events()["events"]
    out: list[StepOutcome] = []
    for step in sorted(trial.steps, key=lambda s: s.number):
        key, how = resolve_event(step)
        spec = events.get(key) if key else None
        evaluator = EVALUATORS.get(spec["evaluator"]) if spec else None
        if evaluator is None:
            out.append(StepOutcome(number=step.number, name=step.name, verdict="uncertain", entry_event=step.entry_event,
                                   reason=f"cannot evaluate the event that opens step {step.number}: {how}"))
            continue
        try:
            verdict, reason, when = evaluator(ctx, step, spec)
        except Exception as exc:  # noqa: BLE001 - one odd record must not stop the match
            verdict, reason, when = "uncertain", f"could not evaluate {key} ({exc.__class__.__name__}: {exc})", None
        if step.number != 1 and not (verdict == "eligible" and "(recorded)" in reason):
            c_verdict, c_reason = _entry_verdict(ctx.outcomes, {step.number})
            if any(o.step == step.number for o in ctx.outcomes) and _RANK[c_verdict] > _RANK[verdict]:
                verdict, reason = c_verdict, f"{reason}; step criteria: {c_reason}"
        out.append(StepOutcome(number=step.number, name=step.name, verdict=verdict, reason=reason,
                               entry_event=key, event_date=when))
    return out


def current_step(steps: Sequence[StepOutcome]) -> int | None:
    """The highest step the patient qualifies for (verdict eligible), or None."""
    ok = [s.number for s in steps if s.verdict == "eligible"]
    return max(ok) if ok else None
