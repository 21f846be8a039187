"""Three-valued (Kleene) logic of the matcher.

Truth values: ``True``, ``False``, ``None`` (unknown: the record does not say), plus two
markers: :data:`CONFIRM` (only a person can settle it) and :data:`NA` (a conditional whose
condition does not hold and that has no ``otherwise``).

``NA`` parts do not count in a junction (none left gives ``NA``); in an "and" one ``False``
decides, then an unknown makes it unknown, then a ``CONFIRM`` makes it ``CONFIRM``; "or" is
the dual. A negation swaps ``True`` and ``False`` and keeps the markers and unknown.

The *wanted value* of a node (``want``) is the value that lets the patient in: ``True`` under
an inclusion, ``False`` under an exclusion, flipped by a negation and by an exception, ``None``
(either way) under the condition of a conditional.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["CONFIRM", "NA", "kleene_and", "kleene_or", "kleene_not", "flip", "outcome_from"]

CONFIRM = "confirm"
NA = "na"


def kleene_and(values: Iterable[Any]) -> Any:
    """Kleene conjunction of ``values`` (``NA`` ignored; none left gives ``NA``).

    Parameters
    ----------
    values : iterable of {True, False, None, CONFIRM, NA}

    Returns
    -------
    {True, False, None, CONFIRM, NA}
    """
    vals = [v for v in values if v is not NA and v != NA]
    if not vals:
        return NA
    if any(v is False for v in vals):
        return False
    if any(v is None for v in vals):
        return None
    if any(v == CONFIRM for v in vals):
        return CONFIRM
    return True


def kleene_or(values: Iterable[Any]) -> Any:
    """Kleene disjunction of ``values`` (``NA`` ignored; none left gives ``NA``).

    Parameters
    ----------
    values : iterable of {True, False, None, CONFIRM, NA}

    Returns
    -------
    {True, False, None, CONFIRM, NA}
    """
    vals = [v for v in values if v != NA]
    if not vals:
        return NA
    if any(v is True for v in vals):
        return True
    if any(v is None for v in vals):
        return None
    if any(v == CONFIRM for v in vals):
        return CONFIRM
    return False


def kleene_not(value: Any) -> Any:
    """Kleene negation: ``True`` <-> ``False``; ``None``, ``CONFIRM`` and ``NA`` stay."""
    if value is True:
        return False
    if value is False:
        return True
    return value


def flip(want: Any) -> Any:
    """The wanted value under a negation (``None``, "either way", stays)."""
    return None if want is None else (not want)


def outcome_from(kind: str, value: Any) -> str:
    """A criterion's outcome from its expression's value.

    Parameters
    ----------
    kind : {"inclusion", "exclusion"}
    value : {True, False, None, CONFIRM, NA}

    Returns
    -------
    str
        ``pass`` / ``fail`` / ``unknown`` / ``confirm`` / ``not_applicable`` (an exclusion that
        holds fails).
    """
    if value == NA:
        return "not_applicable"
    if value == CONFIRM:
        return "confirm"
    if value is None:
        return "unknown"
    if kind == "inclusion":
        return "pass" if value else "fail"
    return "fail" if value else "pass"
