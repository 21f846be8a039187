"""Atom evaluators: checks only a person can settle (``confirm``) and text the compiler could
not turn into a check (``unsupported``); neither depends on the patient."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact
from trialmatch.matching.logic import CONFIRM


# ---------------------------------------------------------------------------- confirm / unsupported
@evaluates("confirm")
def needs_confirmation(a: cm.NeedsConfirmation, ctx: EvalContext) -> Result:
    if a.absent_unless_stated:
        # the record states no such judgement: the alternative does not hold, and a person may still grant it
        return Result(False, [f"not recorded: {a.reason}" if a.reason else "no such judgement is recorded"])
    return Result(CONFIRM, [f"needs confirmation by a person ({readable(a.category)})" + (f": {a.reason}" if a.reason else "")])


@evaluates("unsupported")
def unsupported(a: cm.Unsupported, ctx: EvalContext) -> Result:
    return Result(None, [f"criterion could not be compiled: {a.reason}"], [],
                  [missing_fact("manual_review", "a person must check this criterion (it could not be compiled)")])
