"""Evaluate compiled criteria against a patient in three-valued (Kleene) logic.

The truth values and operators are in :mod:`trialmatch.matching.logic`; each distinct compiled
criterion is compiled once into a plan (:mod:`trialmatch.matching.plan`) whose atoms are
evaluated by the registered evaluators of :mod:`trialmatch.matching.atoms` (their modules
document the rules: labs, treatment history, metastases, closed-world history lists, pregnancy).
This module gives a criterion's outcome: ``pass`` / ``fail`` / ``unknown`` / ``confirm`` /
``not_applicable`` with the reason, the patient facts used and the missing facts, memoised per
patient on the criterion's content.
"""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.matching.context import EvalContext, criterion_outcome, fast_model, missing_fact, node_key
from trialmatch.matching.facts import PatientIndex, build_index
from trialmatch.matching.model import CriterionOutcome
from trialmatch.matching.options import MatchOptions
from trialmatch.matching.plan import criterion_plan
from trialmatch.patients.model import Patient

__all__ = [
    "DEFAULT_OPTIONS", "STATIC_KINDS", "is_static", "decide", "crit_cache_for", "outcome_for", "evaluate_with_index",
    "evaluate_criterion",
]

DEFAULT_OPTIONS = MatchOptions()

#: atom kinds whose result does not depend on the patient
STATIC_KINDS = frozenset({"unsupported", "confirm"})


def is_static(expr) -> bool:
    """True when the criterion's outcome cannot depend on the patient (only ``unsupported``
    and ``confirm`` atoms): it is worked out once per process, not per patient."""
    return all(a.kind in STATIC_KINDS and not getattr(a, "alternative_to", None) for a in cm.iter_atoms(expr))


def decide(kind: str, expr, idx: PatientIndex, options: MatchOptions, target_keys: tuple = ()) -> tuple:
    """``(outcome, reason, evidence, missing, own)`` of a compiled criterion (not memoised; see
    :meth:`~trialmatch.matching.plan.CriterionPlan.decide`)."""
    return criterion_plan(expr, kind, target_keys).decide(EvalContext(idx, options))


def crit_cache_for(idx: PatientIndex, options: MatchOptions) -> dict:
    """This patient's memo of decided criteria under ``options``, by ``(node_key(expression),
    kind, target keys)``."""
    return idx.memo("criteria", options)


def _outcome(criterion: cm.Criterion, outcome: str, reason: str, evidence: list, missing: list) -> CriterionOutcome:
    return fast_model(CriterionOutcome, {
        "criterion_id": criterion.id, "kind": criterion.kind, "text": criterion.text, "outcome": outcome,
        "reason": reason, "evidence": evidence, "missing": missing, "step": criterion.step,
    })


def evaluate_with_index(criterion: cm.Criterion, idx: PatientIndex, options: MatchOptions,
                        target_key: tuple = ()) -> CriterionOutcome:
    """Evaluate one criterion against an already-indexed patient.

    ``target_key`` names the atoms of this criterion that are the trial's own condition (see
    :func:`~trialmatch.matching.targets.target_atom_keys`). Results are memoised per patient
    index on the criterion's content.
    """
    expr = criterion.expression
    if expr is None:
        if criterion.status == "unsupported":
            return _outcome(criterion, "unknown", f"criterion could not be compiled: {criterion.reason or 'no check'}",
                            [], [missing_fact("manual_review",
                                              "a person must check this criterion (it could not be compiled)")])
        if criterion.status == "needs_confirmation":
            return _outcome(criterion, "confirm",
                            "needs confirmation by a person" + (f": {criterion.reason}" if criterion.reason else ""), [], [])
        return _outcome(criterion, "not_applicable", criterion.reason or "heading: its sub-criteria carry the checks", [], [])
    return outcome_for(criterion, (node_key(expr), criterion.kind, tuple(target_key)), idx, options)


def outcome_for(criterion: cm.Criterion, ck: tuple, idx: PatientIndex, options: MatchOptions,
                cache: dict | None = None) -> CriterionOutcome:
    """The outcome of a compiled criterion whose cache key ``ck`` is
    ``(node_key(expression), kind, target_key)``."""
    if cache is None:
        cache = crit_cache_for(idx, options)
    hit = cache.get(ck)
    if hit is None:
        hit = cache[ck] = criterion_plan(criterion.expression, criterion.kind, ck[2], key=ck).decide(
            EvalContext(idx, options))
    return criterion_outcome(criterion, hit)


def evaluate_criterion(criterion: cm.Criterion, patient: Patient, as_of: dt.date | None = None,
                       options: MatchOptions | None = None) -> CriterionOutcome:
    """Evaluate one compiled criterion for one patient.

    Parameters
    ----------
    criterion : Criterion
        A compiled criterion (inclusion or exclusion).
    patient : Patient
        The patient.
    as_of : date, optional
        Evaluate as of this date (facts dated later are ignored). Defaults to
        ``patient.as_of`` or today.
    options : MatchOptions, optional

    Returns
    -------
    CriterionOutcome
        ``pass`` / ``fail`` / ``unknown`` / ``confirm`` / ``not_applicable`` with the reason,
        the patient facts used (with their sources) and the missing facts.
    """
    as_of = as_of or patient.as_of or dt.date.today()
    return evaluate_with_index(criterion, build_index(patient, as_of), options or DEFAULT_OPTIONS)
