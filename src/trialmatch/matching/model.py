"""Match results: typed, explainable outcomes per criterion and verdicts per trial."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trialmatch.patients.model import Source

Outcome = Literal["pass", "fail", "unknown", "confirm", "not_applicable"]
Verdict = Literal["eligible", "uncertain", "ineligible"]

VERDICT_ORDER: dict[str, int] = {"eligible": 0, "uncertain": 1, "ineligible": 2}


class Evidence(BaseModel):
    """One patient fact used in a decision, and where it came from."""

    model_config = ConfigDict(extra="forbid")
    fact: str  # readable: "platelets 85 x10^9/L (2026-10-02)"
    value: Any = None
    source: Source | None = None


class MissingFact(BaseModel):
    """A fact the record lacks that would settle an ``unknown`` criterion."""

    model_config = ConfigDict(extra="forbid")
    fact: str  # machine key: "biomarker:ER", "lab:platelets", "performance_status"
    description: str  # "ER status (positive/negative, % of stained cells)"


class CriterionOutcome(BaseModel):
    """The outcome of one criterion for one patient: the "match reason"."""

    model_config = ConfigDict(extra="forbid")
    criterion_id: str
    kind: Literal["inclusion", "exclusion"]
    text: str
    outcome: Outcome
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)
    missing: list[MissingFact] = Field(default_factory=list)
    step: int | None = None


class StepOutcome(BaseModel):
    """Whether the patient qualifies for one step of a multi-step protocol (see matching.steps)."""

    model_config = ConfigDict(extra="forbid")
    number: int
    name: str
    verdict: Verdict
    reason: str
    #: the event key that opens the step ("registration", "esr1_mutation_without_progression", ...)
    entry_event: str | None = None
    #: the date the opening event happened, where the record dates it
    event_date: dt.date | None = None


class TrialMatch(BaseModel):
    """One trial's verdict for one patient, with every criterion's outcome."""

    model_config = ConfigDict(extra="forbid")
    trial_id: str
    title: str | None = None
    status: str | None = None
    closed: bool = False  # withdrawn, terminated, completed
    verdict: Verdict
    score: float  # higher is a better match
    deciding: list[str] = Field(default_factory=list)  # criterion ids that set the verdict
    criteria: list[CriterionOutcome] = Field(default_factory=list)
    missing: list[MissingFact] = Field(default_factory=list)
    to_confirm: list[str] = Field(default_factory=list)  # criterion ids needing a person
    steps: list[StepOutcome] = Field(default_factory=list)
    #: published / posted results with their consistency checks
    #: (``trialmatch.evidence.summarize_evidence(trial)``); None when the trial states none
    evidence: dict[str, Any] | None = None

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("pass", "fail", "unknown", "confirm", "not_applicable")}
        for c in self.criteria:
            out[c.outcome] += 1
        return out


class MatchReport(BaseModel):
    """All trials ranked for one patient."""

    model_config = ConfigDict(extra="forbid")
    patient: dict[str, Any]  # at least {"id": ...}; no names
    as_of: dt.date
    results: list[TrialMatch] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
