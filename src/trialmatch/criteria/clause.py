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


_RUN = None


def compile_clause(t: str, kind: str) -> list:
    """Atoms for one clause (list; empty when nothing is recognised)."""
    if not t.strip():
        return []
    return (_RUN or _load())(Clause(t, kind))


def clause_source() -> str:
    """The source of the function :func:`compile_clause` runs, generated from the arbitration table."""
    from trialmatch.criteria.arbitration import pipeline

    return _generate(pipeline())[0]


def _load():
    global _RUN
    from trialmatch.criteria.arbitration import pipeline

    source, env = _generate(pipeline())
    exec(compile(source, "<trialmatch.criteria.clause: generated from the arbitration table>", "exec"), env)
    _RUN = env["run_steps"]
    return _RUN


def _generate(steps) -> tuple[str, dict]:
    """One straight-line function over the steps (each extractor's gate, skip rules, input rules, call, output
    rules, after rules, in order). Speed: it does what a loop over the steps would do, without the loop's cost
    per step (about 10 µs a clause): gates and the simple skip rules are written out as expressions."""
    import re

    env: dict = {"DIGIT": re.compile(r"\d").search}
    out = ["def run_steps(c):", "    P = c.produced", "    tl = c.tl", "    kind = c.kind"]
    for i, (name, fn, takes, guard, gate, skips, inputs, outputs, afters) in enumerate(steps):
        env[f"F{i}"] = fn
        first, last = [], []
        for j, r in enumerate(skips):
            if r.inline is not None:
                first.append(f"not ({r.inline})")
            else:
                env[f"S{i}_{j}"] = r.fn
                last.append(f"not S{i}_{j}(c)")
        cond = first + ([gate.source()] if gate is not None else []) + last
        out.append(f"    # {name}")
        out.append(f"    if {' and '.join(cond) or 'True'}:")
        out.append("        x = c.t")
        for j, r in enumerate(inputs):
            env[f"I{i}_{j}"] = r.fn
            out.append(f"        x = I{i}_{j}(c, x)  # {r.name}")
        out.append("        out = " + ("F{i}(x)", "F{i}(x, kind)", "F{i}(c, x)")[takes].format(i=i))
        if guard:
            out += ["        if out is not None:", "            return out", "        tl = c.tl  # a guard may narrow the text"]
        else:
            for j, r in enumerate(outputs):
                env[f"O{i}_{j}"] = r.fn
                out.append(f"        out = O{i}_{j}(c, out)  # {r.name}")
            out += [f"        P[{name!r}] = out", "        c.atoms += out"]
        for j, r in enumerate(afters):
            env[f"A{i}_{j}"] = r.fn
            cond = ([f"P.get({r.needs!r})"] if r.needs is not None else []) + ([r.gate.source()] if r.gate is not None else [])
            ind = "    "
            if cond:
                out.append(f"    if {' and '.join(cond)}:")
                ind = "        "
            out += [f"{ind}r = A{i}_{j}(c)  # {r.name}", f"{ind}if r is not None:", f"{ind}    return r"]
    out.append("    return c.atoms")
    return "\n".join(out) + "\n", env
