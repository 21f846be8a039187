"""Eligibility criteria: split the text as written, compile it into typed checks, render them.

Public API
----------
compile_criteria(trial) -> CompiledCriteria      a Trial's eligibility (criteria text, prose, or title/summary)
compile_text(text, trial_id, source=...)          criteria text -> CompiledCriteria
COMPILER_VERSION                                  stored with compiled criteria
split_criteria(text) -> list[SplitCriterion]      criteria with kind, exact span and parent
describe(expr) -> str                             readable form of an expression
"""

from __future__ import annotations

from trialmatch.criteria.compile import COMPILER_VERSION, compile_criteria, compile_criterion_text, compile_text
from trialmatch.criteria.render import describe
from trialmatch.criteria.split import SplitCriterion, split_criteria, split_prose

__all__ = [
    "COMPILER_VERSION", "compile_criteria", "compile_text", "compile_criterion_text", "describe",
    "SplitCriterion", "split_criteria", "split_prose",
]
