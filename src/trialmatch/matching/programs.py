"""Value programs: each distinct compiled criterion turned, once per process, into nested
closures that compute its Kleene value for a patient without building its explanation.

Ranking needs every trial's verdict and score, so every criterion's *outcome*, for every
patient; the explanation (reasons, evidence, missing facts) is built later, and only for the
results shown. :func:`criterion_program` resolves up front everything about a criterion that
does not depend on the patient: the value each node must take to let her in (``want``), which
atoms name the trial's own condition, which items of an ``all_of`` under an exclusion only
name that condition, and an integer id for each (atom, want, own-condition) check. Per
patient, a program then only looks its atoms up in a memo (``{atom id: value}``), evaluates the
ones not seen yet (through :func:`~trialmatch.matching.evaluate.atom_result`, the memo the
explanations use too), and combines the values, stopping as soon as the value is decided (an
``all_of`` at its first ``False``, an ``any_of`` at its first ``True``, an ``if_then`` only
looks at the branch its condition picks).

The value is always the one :func:`~trialmatch.matching.evaluate.evaluate_expression` gives the
same criterion (the tests compare both on the real trial set).
"""

from __future__ import annotations

from typing import Any, Callable

from trialmatch.matching.evaluate import (
    CONFIRM, NA, PatientIndex, atom_result, evaluate_expression, excepted_therapies, names_target, node_key,
)
from trialmatch.matching.evaluate import _flip
from trialmatch.matching.evaluate import _and as kleene_and
from trialmatch.matching.evaluate import _not as _negate
from trialmatch.matching.evaluate import _or as kleene_or
from trialmatch.matching.options import MatchOptions

#: program(idx, options, memo) -> value (True / False / None / CONFIRM / NA); ``memo`` is the
#: patient's ``{atom id: value}`` under ``options`` (see :func:`atom_memo_for`)
Program = Callable[[PatientIndex, MatchOptions, dict], Any]

_MISS = object()

#: (atom content key, want, names the trial's own condition) -> a small integer (per process)
_ATOM_IDS: dict[tuple, int] = {}


def atom_memo_for(idx: PatientIndex, options: MatchOptions) -> dict:
    """This patient's memo of atom values (by atom id) under ``options``."""
    return idx.memo("atom-values", options)


def criterion_program(expression, kind: str, target_keys: tuple | frozenset = ()) -> Program:
    """The value program of a compiled criterion.

    Parameters
    ----------
    expression : compiled expression (atoms and boolean nodes)
    kind : {"inclusion", "exclusion"}
    target_keys : collection of str
        Content keys of the criterion's atoms that name the trial's own condition (see
        :func:`~trialmatch.matching.evaluate.target_atom_keys`).

    Returns
    -------
    Program
        ``program(idx, options, atom_memo_for(idx, options))`` is the criterion's value.
    """
    if kind not in ("inclusion", "exclusion"):
        raise ValueError(f"criterion kind {kind!r}: use inclusion or exclusion")
    return _node(expression, kind == "inclusion", frozenset(target_keys))


def _all_of_items(expr, want: Any, tk: frozenset) -> list:
    """The items of an ``all_of`` that decide it: as in evaluate_expression, under an exclusion
    an atom naming the trial's own condition only qualifies the other checks."""
    if want is False and tk:
        return [e for e in expr.items if not names_target(e, tk)] or expr.items
    return expr.items


def _node(expr, want: Any, tk: frozenset) -> Program:
    kind = getattr(expr, "kind", None)
    if kind == "all_of":
        return _all_of([_node(e, want, tk) for e in _all_of_items(expr, want, tk)])
    if kind == "any_of":
        return _any_of([_node(e, want, tk) for e in expr.items])
    if kind == "not":
        return _not(_node(expr.item, _flip(want), tk))
    if kind == "except":
        if excepted_therapies(expr) is not None:
            return _explained(expr, want, tk)  # excepted drugs: decided by the therapy check itself
        return _except(_node(expr.main, want, tk), _node(expr.exception, _flip(want), tk))
    if kind == "if_then":
        other = _node(expr.otherwise, want, tk) if expr.otherwise is not None else None
        return _if_then(_node(expr.condition, None, tk), _node(expr.then, want, tk), other)
    return _atom(expr, want, tk)


def _atom(atom, want: Any, tk: frozenset) -> Program:
    key = node_key(atom)
    target = want is False and key in tk
    aid = _ATOM_IDS.get((key, want, target))
    if aid is None:
        aid = _ATOM_IDS[(key, want, target)] = len(_ATOM_IDS)

    def atom_value(idx, o, memo):
        v = memo.get(aid, _MISS)
        if v is _MISS:
            v = memo[aid] = atom_result(atom, key, want, target, idx, o).value
        return v

    return atom_value


def _all_of(parts: list[Program]) -> Program:
    return _junction(parts, False)


def _any_of(parts: list[Program]) -> Program:
    return _junction(parts, True)


def _junction(parts: list[Program], decisive: bool) -> Program:
    """Kleene "and" (``decisive`` False: one False decides) or "or" (True decides) of the parts,
    stopping at the first deciding value; NA parts do not count, and none left gives NA."""
    if len(parts) == 1:
        return parts[0]  # the junction of one value is that value
    otherwise = not decisive

    def junction(idx, o, memo):
        unknown = confirm = seen = False
        for f in parts:
            v = f(idx, o, memo)
            if v is decisive:
                return decisive
            if v is None:
                unknown = seen = True
            elif v != NA:
                seen = True
                if v == CONFIRM:
                    confirm = True
        if not seen:
            return NA
        return None if unknown else (CONFIRM if confirm else otherwise)

    return junction


def _not(part: Program) -> Program:
    def not_(idx, o, memo):
        return _negate(part(idx, o, memo))

    return not_


def _except(main: Program, exception: Program) -> Program:
    return _all_of([main, _not(exception)])


def _if_then(cond: Program, then: Program, other: Program | None) -> Program:
    def if_then(idx, o, memo):
        c = cond(idx, o, memo)
        if c is True or c == CONFIRM:
            return then(idx, o, memo)
        if c is False:
            return NA if other is None else other(idx, o, memo)
        # condition unknown: decided only if both branches agree
        t = then(idx, o, memo)
        if other is None:
            return True if t is True else None
        if t is not True and t is not False:
            return None
        return t if other(idx, o, memo) is t else None

    return if_then


def _explained(expr, want: Any, tk: frozenset) -> Program:
    """The value from the explaining evaluator (rare shapes not worth a program of their own)."""
    targets = tk

    def explained(idx, o, memo):
        cache = idx.cache
        prev = cache.get("_targets")
        cache["_targets"] = targets
        try:
            return evaluate_expression(expr, idx, o, want).value
        finally:
            cache["_targets"] = prev

    return explained


# ---------------------------------------------------------------------------- own condition
#: own(idx, options, memo) -> (value, whether the value's reasons include an atom naming the
#: trial's own condition)
_OwnProgram = Callable[[PatientIndex, MatchOptions, dict], tuple]


def own_condition_program(expression, kind: str, target_keys: tuple | frozenset) -> Program:
    """Whether an open criterion is open because an atom names the trial's own condition.

    The explaining evaluator gives such an atom the reason "names the trial's own condition"
    and the ranking weighs a criterion left unknown for that reason like a failed one. This
    program follows which parts give the explanation its reasons (the parts whose value decided
    the node's, the kept branches of a conditional; never the inside of a negation) without
    building the explanation.

    Returns
    -------
    Program
        ``program(idx, options, atom_memo_for(idx, options))`` is True when the explanation's
        reasons include one from an atom naming the trial's own condition.
    """
    if kind not in ("inclusion", "exclusion"):
        raise ValueError(f"criterion kind {kind!r}: use inclusion or exclusion")
    f = _own(expression, kind == "inclusion", frozenset(target_keys))

    def own(idx, o, memo):
        return f(idx, o, memo)[1]

    return own


def _own(expr, want: Any, tk: frozenset) -> _OwnProgram:
    kind = getattr(expr, "kind", None)
    if kind in ("all_of", "any_of"):
        items = _all_of_items(expr, want, tk) if kind == "all_of" else expr.items
        parts = [_own(e, want, tk) for e in items]
        combine = kleene_and if kind == "all_of" else kleene_or

        def junction(idx, o, memo):
            rs = [p(idx, o, memo) for p in parts]
            v = combine([r[0] for r in rs])
            chosen = [r for r in rs if r[0] is v or r[0] == v] or rs
            return v, any(r[1] for r in chosen)

        return junction
    if kind == "not":
        part = _own(expr.item, _flip(want), tk)

        def not_(idx, o, memo):
            return _negate(part(idx, o, memo)[0]), False  # its reasons read "must not hold: ..."

        return not_
    if kind == "except":
        if excepted_therapies(expr) is not None:
            value = _explained(expr, want, tk)
            return lambda idx, o, memo: (value(idx, o, memo), False)
        main, exc = _own(expr.main, want, tk), _own(expr.exception, _flip(want), tk)

        def except_(idx, o, memo):
            m, e = main(idx, o, memo), exc(idx, o, memo)
            v = kleene_and([m[0], _negate(e[0])])
            if m[0] is False or (v is True and e[0] == NA):
                return v, m[1]
            return v, m[1] or e[1]

        return except_
    if kind == "if_then":
        cond, then = _own(expr.condition, None, tk), _own(expr.then, want, tk)
        other = _own(expr.otherwise, want, tk) if expr.otherwise is not None else None

        def if_then(idx, o, memo):
            c, t = cond(idx, o, memo), then(idx, o, memo)
            ot = other(idx, o, memo) if other is not None else None
            if c[0] is True or c[0] == CONFIRM:
                return t[0], c[1] or t[1]
            if c[0] is False:
                return (NA, False) if ot is None else (ot[0], c[1] or ot[1])
            if ot is None:
                return (True, t[1]) if t[0] is True else (None, c[1] or t[1])
            agree = t[0] is ot[0] and (t[0] is True or t[0] is False)
            return (t[0] if agree else None), c[1] or t[1] or ot[1]

        return if_then
    value = _atom(expr, want, tk)
    target = want is False and node_key(expr) in tk
    return lambda idx, o, memo: (value(idx, o, memo), target)
