"""Helpers shared by the atom evaluators: how reasons write numbers and ranges, explicit
assertions, qualifier words (active, untreated, ...) and the closed-world rule."""

from __future__ import annotations

from typing import Any

from trialmatch.criteria import model as cm
from trialmatch.matching.context import EvalContext
from trialmatch.matching.facts import PatientIndex, norm_key
from trialmatch.matching.logic import kleene_or


def fmt_number(x: float) -> str:
    """A number as reasons write it (``12``, ``0.5``, ``1.2e+06``)."""
    return f"{x:g}" if abs(x) < 1e6 else f"{x:.3g}"


def readable(key: str) -> str:
    """A vocabulary key as words ("lymph_node" -> "lymph node")."""
    return key.replace("_", " ")


def range_text(r: cm.Range, unit: str = "") -> str:
    """A range as reasons write it ("≥ 18 and ≤ 75 years")."""
    parts = []
    if r.low is not None:
        parts.append(f"{'≥' if r.low_inclusive else '>'} {fmt_number(r.low)}")
    if r.high is not None:
        parts.append(f"{'≤' if r.high_inclusive else '<'} {fmt_number(r.high)}")
    return (" and ".join(parts) or "any") + (f" {unit}" if unit else "")



# brain-metastasis (and general) qualifiers: criterion word -> (patient words that make it true,
# patient words that make it false)
QUALIFIERS: dict[str, tuple[set[str], set[str]]] = {
    "untreated": ({"untreated", "new", "newly_diagnosed"}, {"treated", "irradiated", "resected", "treated_stable"}),
    "treated": ({"treated", "irradiated", "resected", "treated_stable"}, {"untreated"}),
    "active": ({"active", "progressing", "untreated", "symptomatic", "unstable", "uncontrolled", "new"},
               {"stable", "treated_stable", "inactive", "controlled", "treated"}),
    "unstable": ({"unstable", "progressing", "uncontrolled"}, {"stable", "treated_stable", "controlled"}),
    "symptomatic": ({"symptomatic"}, {"asymptomatic"}),
    "progressing": ({"progressing", "progressive"}, {"stable", "treated_stable", "controlled"}),
    "uncontrolled": ({"uncontrolled", "progressing", "unstable", "active", "untreated", "symptomatic"},
                     {"controlled", "stable", "treated_stable"}),
    "leptomeningeal": ({"leptomeningeal"}, {"parenchymal"}),
    "chronic": ({"chronic"}, {"acute", "resolved", "cleared", "past", "cured"}),
    "known": ({"known", "active", "chronic"}, set()),
    "severe": ({"severe"}, {"mild", "moderate"}),
    "clinically_significant": ({"clinically_significant", "severe", "symptomatic", "uncontrolled"}, {"not_clinically_significant", "mild"}),
}
# extra falsifiers for infections/conditions: a resolved or controlled condition is not active
_NOT_ACTIVE = {"resolved", "cleared", "past", "cured", "history", "inactive", "remission", "in_remission"}


def qualifier_value(wanted: list[str], have: list[str], resolved: bool = False) -> Any:
    """True if any wanted qualifier is shown, False if all are ruled out, else None."""
    have_k = {norm_key(h) for h in have}
    if resolved:
        have_k |= {"resolved"}
    if not wanted:
        return True
    verdicts = []
    for w in wanted:
        wk = norm_key(w)
        pos, neg = QUALIFIERS.get(wk, ({wk}, set()))
        if wk in ("active", "uncontrolled", "chronic", "unstable", "progressing"):
            neg = neg | _NOT_ACTIVE
        if have_k & pos:
            verdicts.append(True)
        elif have_k & neg:
            verdicts.append(False)
        else:
            verdicts.append(None)
    return kleene_or(verdicts)


def find_assertion(idx: PatientIndex, *subjects: str):
    """Her first explicit assertion on one of ``subjects`` (None when there is none)."""
    for s in subjects:
        a = idx.assertions.get(s)
        if a is not None:
            return a
    return None

def closed_world_ok(ctx: EvalContext) -> bool:
    """May an absence from her history lists count as false here? Only where that lets her in
    (the closed-world rule never rules out a condition she must have), and only under
    :attr:`MatchOptions.closed_world_history`."""
    return ctx.options.closed_world_history and ctx.want is not True
