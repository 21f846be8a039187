"""Match results: typed, explainable outcomes per criterion and verdicts per trial.

The results show themselves (lifelines style): ``report.print_summary()``, ``report.to_html()``,
``report.to_csv()``, ``report.to_output_json()``, ``trial_match.deciding_line()``; a short
``repr`` and, in a notebook, an HTML table (``_repr_html_``). The renderings live in
:mod:`trialmatch.matching.render`, imported when a method is first called (render imports this
module, so importing it here at the top would be a cycle).
"""

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

    def deciding_line(self) -> str:
        """The deciding criterion in one line (see :func:`trialmatch.matching.render.deciding_line`)."""
        from trialmatch.matching import render

        return render.deciding_line(self)

    def __repr__(self) -> str:
        return f"<TrialMatch {self.trial_id}: {self.verdict}, score {self.score:.2f}, {len(self.criteria)} criteria>"

    def _repr_html_(self) -> str:
        """The criterion table a notebook shows for this trial (every value escaped)."""
        from trialmatch.matching import render

        return render.trial_match_html_table(self)


class MatchReport(BaseModel):
    """All trials ranked for one patient."""

    model_config = ConfigDict(extra="forbid")
    patient: dict[str, Any]  # at least {"id": ...}; no names
    as_of: dt.date
    results: list[TrialMatch] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    #: where the as-of date comes from: the record's own date (the note's sentence, the FHIR element, the
    #: JSON path), a date the caller gave, or today's
    as_of_from: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def print_summary(self, console=None, max_rows: int | None = None) -> None:
        """Print the ranked trials as a Rich table (see :func:`trialmatch.matching.render.print_summary`).

        Parameters
        ----------
        console : rich.console.Console, optional
            Where to print; a new console on stdout when omitted.
        max_rows : int, optional
            Print only the first ``max_rows`` trials.
        """
        from trialmatch.matching import render

        render.print_summary(self, console, max_rows)

    def to_html(self, max_trials: int | None = None) -> str:
        """A self-contained, printable HTML checklist (``trialmatch match --format html``).

        Parameters
        ----------
        max_trials : int, optional
            Only the first ``max_trials`` trials.
        """
        from trialmatch.matching import render

        return render.to_html(self, max_trials)

    def to_csv(self) -> str:
        """One CSV row per trial and criterion (``trialmatch match --format csv``)."""
        from trialmatch.matching import render

        return render.to_csv(self)

    def to_output_json(self) -> dict[str, Any]:
        """The JSON face of ``trialmatch match --format json`` and the API (no patient name)."""
        from trialmatch.matching import render

        return render.report_json(self)

    def verdict_counts(self) -> dict[str, int]:
        """How many trials got each verdict, in verdict order (eligible, uncertain, ineligible)."""
        out = {v: 0 for v in VERDICT_ORDER}
        for m in self.results:
            out[m.verdict] += 1
        return out

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in self.verdict_counts().items())
        return (f"<MatchReport patient {self.patient.get('id')} as of {self.as_of.isoformat()}: "
                f"{len(self.results)} trial(s) ({counts})>")

    def _repr_html_(self) -> str:
        """The table a notebook shows: rank, trial, verdict, score, deciding criterion (escaped)."""
        from trialmatch.matching import render

        return render.report_html_table(self)
