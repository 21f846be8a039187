"""One clause -> atoms: the registered extractors run in the order of the arbitration table.

:func:`compile_clause` is a loop over the steps that ``trialmatch.criteria.arbitration`` declares:
each step is one registered extractor (``trialmatch.criteria.extractors.registry``) with its gate,
the rules that skip it, rewrite its input or its output, and the rules that apply to the clause's
atoms after it. Guards come first (any result of theirs is the clause's result); fallbacks run only
when nothing else read the clause.
"""

from __future__ import annotations

__all__ = ["Clause", "compile_clause"]


class Clause:
    """The state of one clause while its extractors run.

    ``t``: the text (a guard may narrow it: a permission in brackets is taken out), ``tl``: ``t`` lower-cased,
    ``kind``: "inclusion" or "exclusion", ``atoms``: what the extractors found so far, ``produced``: each
    extractor's own atoms (by name; absent when it did not run), ``conf``: the confirmation cue of the clause
    (``NeedsConfirmation`` or None, from the ``confirm`` guard), ``fit``: the fitness judgement's match (from
    ``fitness``), read by the rule that keeps it out of the therapy history."""

    __slots__ = ("t", "tl", "kind", "atoms", "produced", "conf", "fit")

    def __init__(self, t: str, kind: str):
        self.t, self.tl, self.kind = t, t.lower(), kind
        self.atoms: list = []
        self.produced: dict[str, list] = {}
        self.conf = None
        self.fit = None

    def set_text(self, t: str) -> None:
        self.t, self.tl = t, t.lower()

    def has(self, *words: str) -> bool:
        """Is any of ``words`` a substring of the lower-cased clause?"""
        tl = self.tl
        for w in words:
            if w in tl:
                return True
        return False


def compile_clause(t: str, kind: str) -> list:
    """Atoms for one clause (list; empty when nothing is recognised)."""
    if not t.strip():
        return []
    from trialmatch.criteria.arbitration import pipeline

    c = Clause(t, kind)
    for ex, skips, inputs, outputs, afters in pipeline():
        gate = ex.gate
        run = gate is None or gate.passes(c.t, c.tl)
        if run and skips:
            for skip in skips:
                if skip(c):
                    run = False
                    break
        if run:
            text = c.t
            for rewrite in inputs:
                text = rewrite(c, text)
            out = ex.run(c, text)
            if ex.phase == "guard":
                if out is not None:
                    return out
            else:
                for rule in outputs:
                    out = rule(c, out)
                c.produced[ex.name] = out
                c.atoms += out
        for rule in afters:
            result = rule(c)
            if result is not None:
                return result
    return c.atoms
