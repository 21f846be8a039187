"""Request and response models of the REST API (they make the OpenAPI document precise)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trialmatch.criteria.model import CompiledCriteria
from trialmatch.matching.model import MissingFact, StepOutcome
from trialmatch.patients.model import Patient, Source
from trialmatch.trials.model import Trial, TrialResults

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ErrorOut(BaseModel):
    detail: str = Field(description="What is wrong and what to do about it.")


class CriteriaCounts(BaseModel):
    compiled: int = 0
    needs_confirmation: int = 0
    unsupported: int = 0


class IngestedTrial(BaseModel):
    id: str
    title: str | None = None
    status: Literal["new", "updated", "unchanged"]
    version: int | None = None
    source_format: str
    criteria: CriteriaCounts


class IngestOut(BaseModel):
    trials: list[IngestedTrial]


class TrialSummary(BaseModel):
    id: str
    title: str | None = None
    status: str | None = None
    phases: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    interventions: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)


class TrialListOut(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[TrialSummary]


class TrialDetailOut(BaseModel):
    trial: Trial
    compiled: CompiledCriteria | None = None
    results: TrialResults | None = None
    results_checks: list[dict[str, Any]] = Field(default_factory=list)


class PatientOut(BaseModel):
    id: str
    workspace: str
    version: int
    created_at: dt.datetime | None = None
    warnings: list[str] = Field(default_factory=list)
    patient: Patient


class PatientItem(BaseModel):
    id: str


class PatientListOut(BaseModel):
    items: list[PatientItem]


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trial_ids: list[str] | None = Field(default=None, max_length=500,
                                        description="Only these trials (each must exist).")
    status: list[str] | None = Field(default=None, max_length=20,
                                     description="Only trials with these overall statuses, e.g. RECRUITING.")
    top: int | None = Field(default=None, ge=1, le=10000, description="Keep the best N results.")


class ChangesOut(BaseModel):
    available: bool = Field(description="False when the watch part is not installed.")
    changes: list[dict[str, Any]] = Field(default_factory=list)


# ----------------------------------------------------------------------------- match output
# The JSON of ``trialmatch match --format json`` (``MatchReport.to_output_json()``), described
# field by field so that the OpenAPI document states it exactly.
class EvidenceOut(BaseModel):
    fact: str
    source: Source | None = None


class CriterionOut(BaseModel):
    id: str
    kind: Literal["inclusion", "exclusion"]
    text: str
    outcome: Literal["pass", "fail", "unknown", "confirm", "not_applicable"]
    reason: str
    evidence: list[EvidenceOut] = Field(default_factory=list)
    missing: list[MissingFact] = Field(default_factory=list)
    step: int | None = Field(default=None, description="Present when the criterion belongs to a protocol step.")


class TrialMatchOut(BaseModel):
    rank: int
    trial_id: str
    title: str | None = None
    status: str | None = None
    closed: bool
    verdict: Literal["eligible", "uncertain", "ineligible"]
    score: float = Field(description="Higher is a better match.")
    deciding: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    criteria: list[CriterionOut] = Field(default_factory=list)
    missing: list[MissingFact] = Field(default_factory=list)
    to_confirm: list[str] = Field(default_factory=list)
    steps: list[StepOutcome] = Field(default_factory=list)


class PatientRef(BaseModel):
    id: str | None = None


class MatchOut(BaseModel):
    patient: PatientRef
    as_of: dt.date
    results: list[TrialMatchOut]
    warnings: list[str] = Field(default_factory=list)
