"""The atom evaluators, registered by atom kind.

An evaluator is ``fn(atom, ctx) -> Result`` (``ctx``: :class:`~trialmatch.matching.context.EvalContext`).
It is registered under the atom's ``kind`` (the ``kind`` field of its model class in
:mod:`trialmatch.criteria.model`), given either as the name or as the class::

    @evaluates("lab")                  # or @evaluates(cm.LabThreshold)
    def lab(a: cm.LabThreshold, ctx: EvalContext) -> Result: ...

so that a new atom kind needs one model class in ``trialmatch.criteria`` and one registered
function in a module of this package.
"""

from __future__ import annotations

from typing import Callable

from trialmatch.matching.context import EvalContext, Result, missing_fact

__all__ = ["EVALUATORS", "evaluates", "evaluator_for", "kind_name", "run_evaluator"]

#: atom kind -> its evaluator
EVALUATORS: dict[str, Callable[..., Result]] = {}


def kind_name(kind_or_class) -> str:
    """The kind name of an atom kind given by name or by model class (its ``kind`` default)."""
    if isinstance(kind_or_class, str):
        return kind_or_class
    fields = getattr(kind_or_class, "model_fields", None)
    if not fields or "kind" not in fields or not isinstance(fields["kind"].default, str):
        raise TypeError(f"{kind_or_class!r} is neither an atom kind name nor an atom model class with a kind")
    return fields["kind"].default


def evaluates(*kinds):
    """Register the decorated function as the evaluator of the given atom kinds (names or classes).

    Raises
    ------
    ValueError
        A kind that already has an evaluator (two evaluators for one kind is a mistake).
    """
    names = [kind_name(k) for k in kinds]

    def deco(fn):
        for name in names:
            other = EVALUATORS.get(name)
            if other is not None and other is not fn:
                raise ValueError(f"atom kind {name!r} already has an evaluator ({other.__module__}.{other.__qualname__})")
            EVALUATORS[name] = fn
        return fn

    return deco


def evaluator_for(atom) -> Callable[..., Result] | None:
    """The evaluator registered for the atom's kind (None when none is)."""
    return EVALUATORS.get(getattr(atom, "kind", None))


def run_evaluator(fn, atom, ctx: EvalContext, **extra) -> Result:
    """``fn(atom, ctx)``; a missing evaluator or an error while evaluating gives an unknown
    result that asks a person (a bad fact must never crash a whole match)."""
    if fn is None:
        return Result(None, [f"criterion kind {getattr(atom, 'kind', type(atom).__name__)!r} is not handled by "
                             "the matcher"], [], [missing_fact("manual_review", "a person must check this criterion")])
    try:
        return fn(atom, ctx, **extra)
    except Exception as exc:  # noqa: BLE001 - a bad fact must never crash a whole match
        return Result(None, [f"could not evaluate ({exc.__class__.__name__}: {exc})"], [],
                      [missing_fact("manual_review", "a person must check this criterion")])
