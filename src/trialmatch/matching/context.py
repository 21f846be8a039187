"""What evaluating a check needs and gives: the evaluation context and the result.

* :class:`EvalContext`: the patient's index, the match options, the *wanted value* of the node
  being evaluated (see :mod:`trialmatch.matching.logic`) and the patient's memo of atom results;
  passed explicitly to every plan node and atom evaluator.
* :class:`Result`: a node's value and its explanation (reasons, evidence, missing facts) and
  whether that explanation comes from an atom naming the trial's own condition (``own``).
* :func:`node_key`: the content key of a compiled node (equal keys, equal checks).
* :func:`fast_model`, :func:`used_fact`, :func:`missing_fact`, :func:`criterion_outcome`:
  the matcher's output models built without validation (from values it made itself).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel

from trialmatch.matching.facts import PatientIndex
from trialmatch.matching.model import CriterionOutcome, Evidence, MissingFact
from trialmatch.matching.options import MatchOptions

__all__ = [
    "EvalContext", "Result", "merge_results", "node_key", "fast_model", "used_fact", "missing_fact",
    "criterion_outcome",
]


@dataclass(eq=False, slots=True)
class Result:
    """What evaluating one node found (compared by identity)."""

    value: Any  # True / False / None / CONFIRM / NA
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[MissingFact] = field(default_factory=list)
    #: the reasons include one from an atom naming the trial's own condition (see
    #: :func:`trialmatch.matching.targets.target_atom_keys`)
    own: bool = False


def merge_results(value: Any, parts: list[Result], pick: Callable[[Result], bool] | None = None) -> Result:
    """Combine the parts' explanations into the result of value ``value``.

    The parts ``pick`` chooses (all when None; all when it chooses none) give the reasons and
    the ``own`` flag; evidence comes from every part that was looked at, missing facts from the
    chosen parts and the unknown ones. New lists: the parts are never changed.
    """
    chosen = [p for p in parts if pick(p)] if pick else parts
    if not chosen:
        chosen = parts
    out = Result(value)
    reasons, evidence, missing = out.reasons, out.evidence, out.missing
    own = False
    for p in chosen:
        reasons.extend(p.reasons)
        if p.own:
            own = True
    for p in parts:
        evidence.extend(p.evidence)
        if p.value is None or p in chosen:
            missing.extend(p.missing)
    out.own = own
    return out


class EvalContext:
    """The explicit context of an evaluation.

    Parameters
    ----------
    idx : PatientIndex
        The patient's facts.
    options : MatchOptions
    want : {True, False, None}
        The value of the node being evaluated that lets her in (atom evaluators read it: the
        closed-world rule only rules a condition out where that lets her in).
    results : dict, optional
        The patient's memo of atom results (by atom id) under ``options``; by default the
        index's own (``idx.memo("atom-results", options)``).
    """

    __slots__ = ("idx", "options", "want", "results", "_by_want")

    def __init__(self, idx: PatientIndex, options: MatchOptions, want: Any = None, results: dict | None = None):
        self.idx = idx
        self.options = options
        self.want = want
        self.results = idx.memo("atom-results", options) if results is None else results
        self._by_want: dict | None = None

    def with_want(self, want: Any) -> "EvalContext":
        """The same context for a node whose wanted value is ``want`` (made once per value and
        kept by this context; the ones made hold no reference back, so that no reference cycle
        keeps a patient's memo alive after her match)."""
        if want is self.want:
            return self
        by = self._by_want
        if by is None:
            by = self._by_want = {}
        ctx = by.get(want)
        if ctx is None:
            ctx = by[want] = EvalContext(self.idx, self.options, want, self.results)
        return ctx


# ---------------------------------------------------------------------------- content keys
#: id(node) -> (weak reference to the node, canonical JSON): a compiled node's content key,
#: computed once per process; the entry goes when the node does
_NODE_KEYS: dict[int, tuple[Any, str]] = {}


def node_key(node) -> str:
    """Canonical content key of a compiled expression node (cached per node object).

    Equal keys mean equal checks, so results can be shared between trials for one patient.
    Compiled criteria are treated as immutable once matched.
    """
    i = id(node)
    e = _NODE_KEYS.get(i)
    if e is not None and e[0]() is node:
        return e[1]
    k = f"{getattr(node, 'kind', '')}|{node.model_dump_json(warnings=False)}"
    try:
        ref = weakref.ref(node, lambda _r, i=i: _NODE_KEYS.pop(i, None))
    except TypeError:  # not weak-referenceable: not cached
        return k
    _NODE_KEYS[i] = (ref, k)
    return k


# ---------------------------------------------------------------------------- output models
_new = object.__new__
_oset = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__

_ALL_FIELDS: dict[type, set] = {}


def fast_model(cls, fields: dict):
    """Build a pydantic model from already-valid ``fields`` (every field given) without
    validation (what ``model_construct`` does, minus its per-field default handling): the hot
    matching loop builds hundreds of thousands of these from values it made itself.

    Every field is set, so the objects of a class share one "fields set" (pydantic only ever
    adds a field name to it on assignment, which is already there): one object less per model
    for the garbage collector to scan.
    """
    obj = _new(cls)
    _oset(obj, "__dict__", fields)
    fs = _ALL_FIELDS.get(cls)
    if fs is None or len(fs) != len(fields):
        fs = set(fields)
        if len(fs) == len(cls.model_fields):
            _ALL_FIELDS[cls] = fs
    _set_fields_set(obj, fs)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def used_fact(fact: str, source=None, value=None) -> Evidence:
    """An :class:`Evidence` item: a patient fact a check used."""
    return fast_model(Evidence, {"fact": fact, "value": value, "source": source})


def missing_fact(key: str, description: str) -> MissingFact:
    """A :class:`MissingFact`: what her record would need to settle a check."""
    return fast_model(MissingFact, {"fact": key, "description": description})


_CO_FIELDS = set(CriterionOutcome.model_fields)  # shared, as fast_model does (always complete)


def criterion_outcome(criterion, decided: tuple) -> CriterionOutcome:
    """The :class:`CriterionOutcome` of ``criterion`` from its decided
    ``(outcome, reason, evidence, missing, own)`` (:func:`fast_model` inlined for the hot loop)."""
    obj = _new(CriterionOutcome)
    _oset(obj, "__dict__", {
        "criterion_id": criterion.id, "kind": criterion.kind, "text": criterion.text, "outcome": decided[0],
        "reason": decided[1], "evidence": decided[2], "missing": decided[3], "step": criterion.step,
    })
    _set_fields_set(obj, _CO_FIELDS)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
