"""Evaluation plans: each distinct compiled criterion compiled once into a tree of plan nodes.

A plan node knows everything about its part of the criterion that does not depend on the
patient: its *wanted value* (the value that lets her in: see :mod:`trialmatch.matching.logic`),
which of its atoms name the trial's own condition (see :mod:`trialmatch.matching.targets`),
which items of an ``all_of`` under an exclusion only name that condition, the evaluator of each
atom and an integer id for each (atom, wanted value, own condition) check.

Every node has one method, ``eval(ctx, trace=None)``:

* without a trace it returns the node's Kleene value, stopping as soon as the value is decided
  (an ``all_of`` at its first ``False``, an ``any_of`` at its first ``True``, an ``if_then``
  only looks at the branch its condition picks): what ranking needs for every trial;
* with a trace (a list) it evaluates every part, appends the node's :class:`Result` (value,
  reasons, evidence, missing facts and the ``own`` flag) to the trace and returns the value:
  the explanation of the results shown.

Atom results are memoised per patient and options (``ctx.results``, by atom id) and shared by
both ways; a memoised result is never changed (nodes build new lists when they combine).
:class:`CriterionPlan` wraps a criterion's root node (value, outcome, explanation, decision).
"""

from __future__ import annotations

from typing import Any

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms import evaluator_for
from trialmatch.matching.atoms.common import readable
from trialmatch.matching.atoms.registry import run_evaluator
from trialmatch.matching.atoms.therapy import prior_therapy
from trialmatch.matching.context import EvalContext, Result, merge_results, missing_fact, node_key
from trialmatch.matching.logic import CONFIRM, NA, flip, kleene_and, kleene_not, kleene_or, outcome_from
from trialmatch.matching.model import Evidence, MissingFact
from trialmatch.matching.targets import OWN_CONDITION, names_target

__all__ = [
    "Node", "AtomNode", "AllOfNode", "AnyOfNode", "NotNode", "ExceptNode", "ExceptTherapiesNode", "IfThenNode",
    "CriterionPlan", "compile_node", "criterion_plan", "plan_by_id", "plan_count", "excepted_therapies",
    "dedup_missing", "dedup_evidence",
]

#: (check content key, wanted value, names the trial's own condition) -> a small integer (per process)
_ATOM_IDS: dict[tuple, int] = {}


def _atom_id(key: str, want: Any, target: bool) -> int:
    aid = _ATOM_IDS.get((key, want, target))
    if aid is None:
        aid = _ATOM_IDS[(key, want, target)] = len(_ATOM_IDS)
    return aid


class Node:
    """A compiled part of a criterion (see the module docstring)."""

    __slots__ = ()

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:  # pragma: no cover - abstract
        """The node's value under ``ctx``; with ``trace``, its :class:`Result` appended to it."""
        raise NotImplementedError


class AtomNode(Node):
    """One atom, with its wanted value; ``target``: it names the trial's own condition under an
    exclusion (then unknown, for a person: the compiled check cannot tell whom it excludes)."""

    __slots__ = ("atom", "want", "target", "aid", "fn")

    def __init__(self, atom, want: Any, target: bool) -> None:
        self.atom, self.want, self.target = atom, want, target
        self.aid = _atom_id(node_key(atom), want, target)
        self.fn = evaluator_for(atom)

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        res = ctx.results.get(self.aid)
        if res is None:
            res = ctx.results[self.aid] = self._evaluate(ctx)
        if trace is not None:
            trace.append(res)
        return res.value

    def _evaluate(self, ctx: EvalContext) -> Result:
        if self.target:
            atom = self.atom
            what = readable(getattr(atom, "cancer_type", None) or getattr(atom, "condition", None)
                            or getattr(atom, "pathogen", None) or atom.kind)
            return Result(None, [f"{OWN_CONDITION} ({what}): the compiled check cannot tell "
                                 "which of its patients this excludes"], [],
                          [missing_fact("manual_review",
                                        "a person must check this exclusion (it names the trial's own condition)")],
                          own=True)
        return run_evaluator(self.fn, self.atom, ctx.with_want(self.want))


def _pick_value(v):
    return lambda p: p.value is v or p.value == v


class AllOfNode(Node):
    """Kleene "and" of the parts (NA parts do not count; none left gives NA)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Node]) -> None:
        self.parts = parts

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        if trace is None:
            unknown = confirm = seen = False
            for part in self.parts:
                v = part.eval(ctx)
                if v is False:
                    return False
                if v is None:
                    unknown = seen = True
                elif v != NA:
                    seen = True
                    if v == CONFIRM:
                        confirm = True
            if not seen:
                return NA
            return None if unknown else (CONFIRM if confirm else True)
        sub: list[Result] = []
        for part in self.parts:
            part.eval(ctx, sub)
        v = kleene_and([p.value for p in sub])
        trace.append(merge_results(v, sub, _pick_value(v)))
        return v


class AnyOfNode(Node):
    """Kleene "or" of the parts (NA parts do not count; none left gives NA)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Node]) -> None:
        self.parts = parts

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        if trace is None:
            unknown = confirm = seen = False
            for part in self.parts:
                v = part.eval(ctx)
                if v is True:
                    return True
                if v is None:
                    unknown = seen = True
                elif v != NA:
                    seen = True
                    if v == CONFIRM:
                        confirm = True
            if not seen:
                return NA
            return None if unknown else (CONFIRM if confirm else False)
        sub: list[Result] = []
        for part in self.parts:
            part.eval(ctx, sub)
        v = kleene_or([p.value for p in sub])
        res = merge_results(v, sub, _pick_value(v))
        if v is not None:
            res.missing = []
        trace.append(res)
        return v


class NotNode(Node):
    """Kleene negation; its reasons read "must not hold: ..." (never the own-condition flag)."""

    __slots__ = ("part",)

    def __init__(self, part: Node) -> None:
        self.part = part

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        if trace is None:
            return kleene_not(self.part.eval(ctx))
        sub: list[Result] = []
        self.part.eval(ctx, sub)
        p = sub[0]
        v = kleene_not(p.value)
        trace.append(Result(v, [f"must not hold: {r}" for r in p.reasons], list(p.evidence), list(p.missing)))
        return v


class ExceptNode(Node):
    """``main`` unless ``exception``: "and" of the main check and the exception's negation."""

    __slots__ = ("main", "exception")

    def __init__(self, main: Node, exception: Node) -> None:
        self.main, self.exception = main, exception

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        if trace is None:
            m = self.main.eval(ctx)
            if m is False:
                return False
            return kleene_and([m, kleene_not(self.exception.eval(ctx))])
        sub: list[Result] = []
        self.main.eval(ctx, sub)
        self.exception.eval(ctx, sub)
        main, exc = sub
        v = kleene_and([main.value, kleene_not(exc.value)])
        if main.value is False or v is True and exc.value is NA:
            res = merge_results(v, [main])
        else:
            res = merge_results(v, [main, exc])
            if exc.value is True:
                res.reasons.append("the exception applies")
        trace.append(res)
        return v


class ExceptTherapiesNode(Node):
    """A prior therapy except other prior therapies ("systemic therapy for advanced disease,
    except OFS or bone treatment"): the excepted drugs do not count; any other qualifying drug
    still does (one therapy check, memoised like an atom)."""

    __slots__ = ("main", "want", "excluded", "aid", "note")

    def __init__(self, expr: cm.Except, want: Any, excluded: list[str]) -> None:
        self.main, self.want, self.excluded = expr.main, want, excluded
        self.aid = _atom_id("except-therapies|" + node_key(expr), want, False)
        self.note = f"not counting {', '.join(readable(x) for x in excluded)}"

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        res = ctx.results.get(self.aid)
        if res is None:
            res = run_evaluator(prior_therapy, self.main, ctx.with_want(self.want), excluded=self.excluded)
            res.reasons.append(self.note)
            ctx.results[self.aid] = res
        if trace is not None:
            trace.append(res)
        return res.value


class IfThenNode(Node):
    """``condition -> then [else otherwise]``: NA when the condition fails without an
    ``otherwise``; with the condition unknown, decided only when both branches agree."""

    __slots__ = ("condition", "then", "otherwise")

    def __init__(self, condition: Node, then: Node, otherwise: Node | None) -> None:
        self.condition, self.then, self.otherwise = condition, then, otherwise

    def eval(self, ctx: EvalContext, trace: list | None = None) -> Any:
        if trace is None:
            c = self.condition.eval(ctx)
            if c is True or c == CONFIRM:
                return self.then.eval(ctx)
            other = self.otherwise
            if c is False:
                return NA if other is None else other.eval(ctx)
            t = self.then.eval(ctx)
            if other is None:
                return True if t is True else None
            if t is not True and t is not False:
                return None
            return t if other.eval(ctx) is t else None
        sub: list[Result] = []
        self.condition.eval(ctx, sub)
        self.then.eval(ctx, sub)
        if self.otherwise is not None:
            self.otherwise.eval(ctx, sub)
            cond, then, other = sub
        else:
            (cond, then), other = sub, None
        res = self._explain(cond, then, other)
        trace.append(res)
        return res.value

    @staticmethod
    def _explain(cond: Result, then: Result, other: Result | None) -> Result:
        if cond.value is True or cond.value == CONFIRM:
            return merge_results(then.value, [cond, then])
        if cond.value is False:
            if other is None:
                return Result(NA, [f"does not apply: {'; '.join(cond.reasons)}"], cond.evidence, [])
            return merge_results(other.value, [cond, other])
        # condition unknown: decided only if both branches agree
        if other is None:
            # cond -> then: true when then holds; otherwise unknown
            if then.value is True:
                return merge_results(True, [then])
            return merge_results(None, [cond, then])
        bvals = [then.value, other.value]
        if all(b is True for b in bvals) or all(b is False for b in bvals):
            res = merge_results(bvals[0], [cond, then, other])
            res.reasons.insert(0, "either way")
            res.missing = []
            return res
        return merge_results(None, [cond, then, other])


def excepted_therapies(expr) -> list | None:
    """The exception's therapy atoms of an ``except`` whose main check and every exception are
    prior therapies ("systemic therapy, except OFS or bone treatment": the excepted drugs do not
    count), else None."""
    if not isinstance(expr.main, cm.PriorTherapy):
        return None
    if not isinstance(expr.exception, (cm.PriorTherapy, cm.AnyOf)):
        return None  # "except adjuvant docetaxel given > 1 year prior": an exception with conditions of its own
    exc_atoms = list(cm.iter_atoms(expr.exception))
    if exc_atoms and all(isinstance(x, cm.PriorTherapy) and (x.settings == ["any"] or not set(x.agents) & set(expr.main.agents))
                         and x.within is None for x in exc_atoms):
        return exc_atoms
    return None


def compile_node(expr, want: Any, target_keys: frozenset) -> Node:
    """The plan node of a compiled expression whose wanted value is ``want``.

    Parameters
    ----------
    expr : compiled expression (atoms and boolean nodes)
    want : {True, False, None}
    target_keys : frozenset of str
        Content keys of the atoms that name the trial's own condition.
    """
    kind = getattr(expr, "kind", None)
    if kind == "all_of":
        items = expr.items
        if want is False and target_keys:
            # "prior chemotherapy for <the trial's own disease>": naming her (required) disease
            # only qualifies the other checks of an exclusion; it does not exclude by itself
            items = [e for e in items if not names_target(e, target_keys)] or items
        return AllOfNode([compile_node(e, want, target_keys) for e in items])
    if kind == "any_of":
        return AnyOfNode([compile_node(e, want, target_keys) for e in expr.items])
    if kind == "not":
        return NotNode(compile_node(expr.item, flip(want), target_keys))
    if kind == "except":
        exc_atoms = excepted_therapies(expr)
        if exc_atoms is not None:
            return ExceptTherapiesNode(expr, want, [ag for x in exc_atoms for ag in x.agents])
        return ExceptNode(compile_node(expr.main, want, target_keys), compile_node(expr.exception, flip(want), target_keys))
    if kind == "if_then":
        other = compile_node(expr.otherwise, want, target_keys) if expr.otherwise is not None else None
        return IfThenNode(compile_node(expr.condition, None, target_keys), compile_node(expr.then, want, target_keys), other)
    return AtomNode(expr, want, want is False and node_key(expr) in target_keys)


def _can_be_own(node: Node) -> bool:
    """Whether the node's ``own`` flag can be True: it has an atom naming the trial's own
    condition whose flag reaches it (a negation's and an excepted-therapies check's never is)."""
    if isinstance(node, AtomNode):
        return node.target
    if isinstance(node, (AllOfNode, AnyOfNode)):
        return any(_can_be_own(p) for p in node.parts)
    if isinstance(node, ExceptNode):
        return _can_be_own(node.main) or _can_be_own(node.exception)
    if isinstance(node, IfThenNode):
        return any(_can_be_own(p) for p in (node.condition, node.then, node.otherwise) if p is not None)
    return False  # NotNode, ExceptTherapiesNode


# ============================================================================ criteria
def dedup_missing(items: list[MissingFact]) -> list[MissingFact]:
    """Missing facts, the first of each fact key kept."""
    seen, out = set(), []
    for m in items:
        if m.fact not in seen:
            seen.add(m.fact)
            out.append(m)
    return out


def dedup_evidence(items: list[Evidence]) -> list[Evidence]:
    """Evidence, the first of each (fact, source locator) kept."""
    seen, out = set(), []
    for e in items:
        k = (e.fact, e.source.locator if e.source else None)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


class CriterionPlan:
    """The plan of one distinct compiled criterion (expression, kind, own-condition atoms).

    Attributes
    ----------
    id : int
        A small integer per process (per-patient memos of outcomes are lists indexed by it).
    kind : {"inclusion", "exclusion"}
    root : Node
    has_targets : bool
        Some atom names the trial's own condition where its flag can reach the criterion (not
        under a negation): only then can ``own`` be True.
    """

    __slots__ = ("id", "kind", "root", "has_targets")

    def __init__(self, pid: int, kind: str, root: Node, has_targets: bool) -> None:
        self.id, self.kind, self.root, self.has_targets = pid, kind, root, has_targets

    def value(self, ctx: EvalContext) -> Any:
        """The expression's Kleene value (no explanation built)."""
        return self.root.eval(ctx)

    def outcome(self, ctx: EvalContext) -> str:
        """``pass`` / ``fail`` / ``unknown`` / ``confirm`` / ``not_applicable`` (no explanation built)."""
        return outcome_from(self.kind, self.root.eval(ctx))

    def explain(self, ctx: EvalContext) -> Result:
        """The expression's :class:`Result` with its explanation."""
        trace: list[Result] = []
        self.root.eval(ctx, trace)
        return trace[0]

    def decide(self, ctx: EvalContext) -> tuple:
        """``(outcome, reason, evidence, missing, own)``: the criterion's outcome, its reason
        text, the evidence (when ``ctx.options.include_evidence``), the missing facts (of an
        unknown outcome) and whether it is unknown because an atom names the trial's own
        condition (weighs in the ranking only)."""
        kind = self.kind
        res = self.explain(ctx)
        outcome = outcome_from(kind, res.value)
        reasons = list(dict.fromkeys(r for r in res.reasons if r))
        reason = "; ".join(reasons) or outcome
        if outcome == "pass" and kind == "exclusion":
            reason = f"not excluded: {reason}"
        elif outcome == "fail" and kind == "exclusion":
            reason = f"excluded: {reason}"
        missing = dedup_missing(res.missing) if outcome == "unknown" else []
        if outcome == "unknown" and not missing:
            missing = [missing_fact("manual_review", "a person must check this criterion")]
        evidence = dedup_evidence(res.evidence) if ctx.options.include_evidence else []
        return outcome, reason, evidence, missing, outcome == "unknown" and res.own


#: (expression content key, kind, target keys) -> its plan; and the plans by id
_CRITERION_PLANS: dict[tuple, CriterionPlan] = {}
_BY_ID: list[CriterionPlan] = []


def criterion_plan(expression, kind: str, target_keys: tuple | frozenset = (), key: tuple | None = None) -> CriterionPlan:
    """The plan of a compiled criterion, compiled once per process per distinct criterion.

    Parameters
    ----------
    expression : compiled expression
    kind : {"inclusion", "exclusion"}
    target_keys : collection of str
        Content keys of the criterion's atoms that name the trial's own condition (see
        :func:`~trialmatch.matching.targets.target_atom_keys`).
    key : tuple, optional
        ``(node_key(expression), kind, tuple(target_keys))`` when the caller has it.

    Raises
    ------
    ValueError
        A kind other than inclusion or exclusion.
    """
    if key is None:
        if kind not in ("inclusion", "exclusion"):
            raise ValueError(f"criterion kind {kind!r}: use inclusion or exclusion")
        key = (node_key(expression), kind, tuple(target_keys))
    cp = _CRITERION_PLANS.get(key)
    if cp is None:
        if kind not in ("inclusion", "exclusion"):
            raise ValueError(f"criterion kind {kind!r}: use inclusion or exclusion")
        root = compile_node(expression, kind == "inclusion", frozenset(target_keys))
        cp = CriterionPlan(len(_BY_ID), kind, root, _can_be_own(root))
        _CRITERION_PLANS[key] = cp
        _BY_ID.append(cp)
    return cp


def plan_by_id(pid: int) -> CriterionPlan:
    """The criterion plan whose :attr:`CriterionPlan.id` is ``pid``."""
    return _BY_ID[pid]


def plan_count() -> int:
    """How many criterion plans this process has compiled (ids are ``0 .. plan_count() - 1``)."""
    return len(_BY_ID)
