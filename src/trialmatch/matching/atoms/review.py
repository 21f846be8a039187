"""Atom evaluators: checks only a person can settle (``confirm``) and text the compiler could
not turn into a check (``unsupported``); neither depends on the patient."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.logic import CONFIRM


# ---------------------------------------------------------------------------- confirm / unsupported
@evaluates("confirm")
def needs_confirmation(a: cm.NeedsConfirmation, ctx: EvalContext) -> Result:
    if a.alternative_to:
        from trialmatch.matching.atoms.therapy import stated_absent_therapies

        absent = stated_absent_therapies(ctx.idx, a.alternative_to)
        if absent:
            # "never had an anthracycline": the record settles it; a person may still grant the alternative
            return Result(False, [f"she had no {', '.join(readable(x) for x in absent)} (stated), and no judgement "
                                  f"that she cannot have it is recorded" + (f": {a.reason}" if a.reason else "")],
                          [used_fact(f"no prior {readable(x)}", src) for x, src in absent.items()])
    return Result(CONFIRM, [f"needs confirmation by a person ({readable(a.category)})" + (f": {a.reason}" if a.reason else "")])


@evaluates("unsupported")
def unsupported(a: cm.Unsupported, ctx: EvalContext) -> Result:
    return Result(None, [f"criterion could not be compiled: {a.reason}"], [],
                  [missing_fact("manual_review", "a person must check this criterion (it could not be compiled)")])
