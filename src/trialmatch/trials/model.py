"""The trial model: one faithful record of a clinical trial, whatever its source format.

A field the source does not state stays empty (``None`` or an empty list): readers never
invent values. Every trial carries its :class:`Provenance` (source format, file, SHA-256).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

SourceFormat = Literal[
    "ctgov_v2_json",
    "ctgov_legacy_xml",
    "registry_text",
    "registry_mirror_html",
    "registry_mirror_text",
    "pubmed_abstract",
    "plain_language",
    "demo_json",
]

OverallStatus = Literal[
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "ENROLLING_BY_INVITATION",
    "ACTIVE_NOT_RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "COMPLETED",
    "WITHDRAWN",
    "UNKNOWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
]

#: every overall status value
STATUS_VALUES: frozenset[str] = frozenset(get_args(OverallStatus))

#: Statuses under which a trial can still take patients.
OPEN_STATUSES: frozenset[str] = frozenset(
    {"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"}
)
#: Statuses under which a trial will never take patients again.
CLOSED_STATUSES: frozenset[str] = frozenset({"WITHDRAWN", "TERMINATED", "COMPLETED"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Provenance(_Model):
    """Where a trial record came from."""

    source_format: SourceFormat
    file_name: str | None = None
    sha256: str
    ingested_at: datetime
    url: str | None = None


class Intervention(_Model):
    type: str | None = None  # DRUG, PROCEDURE, COMBINATION_PRODUCT, OTHER, ...
    name: str
    description: str | None = None
    other_names: list[str] = Field(default_factory=list)
    arm_labels: list[str] = Field(default_factory=list)


class Arm(_Model):
    label: str
    type: str | None = None  # EXPERIMENTAL, ACTIVE_COMPARATOR, ...
    description: str | None = None
    interventions: list[str] = Field(default_factory=list)
    size: int | None = None  # number of patients, where the source states it


class Outcome(_Model):
    measure: str
    time_frame: str | None = None
    description: str | None = None


class Eligibility(_Model):
    criteria_text: str | None = None
    min_age_years: float | None = None
    max_age_years: float | None = None
    sex: Literal["ALL", "FEMALE", "MALE"] | None = None
    healthy_volunteers: bool | None = None
    #: where the criteria text came from when it is not a dedicated field
    #: (e.g. "Who Can Join / Who Cannot Join" sections, or the population in prose)
    criteria_source: str | None = None


class Location(_Model):
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    status: str | None = None
    lat: float | None = None
    lon: float | None = None


class Sponsor(_Model):
    name: str
    class_: str | None = Field(default=None, alias="class")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConfidenceInterval(_Model):
    level: float = 0.95
    lower: float
    upper: float


class ReportedStatistic(_Model):
    """One number a source reports: a rate, a median, a hazard ratio, a count.

    ``value`` is as reported (percent for rates, e.g. 61.0 for 61%).
    """

    outcome: str  # e.g. "6-month clinical benefit rate", "time to progression", "fatigue"
    kind: Literal["rate", "median", "hazard_ratio", "odds_ratio", "mean", "count", "other"]
    arm: str | None = None  # arm label, None for between-arm statistics
    comparator_arm: str | None = None  # for hazard/odds ratios
    value: float
    unit: str | None = None  # "%", "months", ...
    ci: ConfidenceInterval | None = None
    n: int | None = None  # denominator where known
    p_value: float | None = None
    text: str | None = None  # the sentence it was read from


class TrialResults(_Model):
    """Published or registry-posted results."""

    source: Literal["ctgov_results_section", "publication_abstract"]
    citation: str | None = None  # journal, year, DOI or PMID
    arms: list[Arm] = Field(default_factory=list)
    statistics: list[ReportedStatistic] = Field(default_factory=list)
    conclusion: str | None = None


class ProtocolStep(_Model):
    """A step of a multi-step protocol (e.g. registration, randomisation at ESR1 rise, crossover)."""

    number: int
    name: str
    description: str | None = None
    #: the event that opens this step, e.g. "registration", "esr1_mutation_without_progression",
    #: "progression_on_arm_a"
    entry_event: str | None = None
    entry_criteria_text: str | None = None


class Trial(_Model):
    """One clinical trial, as its source states it."""

    id: str  # NCT number, another registry's number, or the file stem
    other_ids: list[str] = Field(default_factory=list)
    title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    brief_summary: str | None = None
    description: str | None = None
    phases: list[str] = Field(default_factory=list)  # "PHASE2", "PHASE1/PHASE2" -> ["PHASE1","PHASE2"]
    status: str | None = None  # OverallStatus value
    why_stopped: str | None = None
    study_type: str | None = None  # INTERVENTIONAL, OBSERVATIONAL, ...
    conditions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    arms: list[Arm] = Field(default_factory=list)
    primary_outcomes: list[Outcome] = Field(default_factory=list)
    secondary_outcomes: list[Outcome] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    sponsor: Sponsor | None = None
    collaborators: list[Sponsor] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    start_date: str | None = None
    last_update_posted: str | None = None
    results: TrialResults | None = None
    steps: list[ProtocolStep] = Field(default_factory=list)
    provenance: Provenance

    @property
    def outcomes(self) -> list[Outcome]:
        return [*self.primary_outcomes, *self.secondary_outcomes]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def content_dict(self) -> dict:
        """The trial's content without its provenance (what versioning compares: the same study
        read from an NDJSON line and from an API page is the same content)."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"provenance"})
        return data

    def to_summary_json(self) -> dict:
        """The JSON face of a trial used by ``trialmatch trials show --format json`` and the API."""
        data = self.model_dump(mode="json", by_alias=True)
        data["outcomes"] = {
            "primary": data.pop("primary_outcomes"),
            "secondary": data.pop("secondary_outcomes"),
        }
        return data


def status_filter(statuses: list[str] | None) -> set[str] | None:
    """The trial statuses kept by ``--status`` values (``recruiting``, ``open``, ``closed``, ...).

    Raises
    ------
    ValueError
        An unknown status; the message lists the allowed ones.
    """
    if not statuses:
        return None
    wanted: set[str] = set()
    for s in statuses:
        k = s.strip().upper().replace("-", "_").replace(" ", "_")
        if k == "OPEN":
            wanted |= OPEN_STATUSES
        elif k == "CLOSED":
            wanted |= CLOSED_STATUSES
        elif k in STATUS_VALUES:
            wanted.add(k)
        else:
            raise ValueError(f"unknown trial status {s!r}: use open, closed or one of "
                             + ", ".join(sorted(STATUS_VALUES)).lower())
    return wanted
