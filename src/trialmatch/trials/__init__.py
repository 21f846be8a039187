"""Trials: the trial model and the readers that build it from documents."""

from trialmatch.trials.model import (
    Arm,
    ConfidenceInterval,
    Eligibility,
    Intervention,
    Location,
    Outcome,
    ProtocolStep,
    Provenance,
    ReportedStatistic,
    Sponsor,
    Trial,
    TrialResults,
)
from trialmatch.trials.readers import (
    ReadResult,
    TrialReadError,
    detect_format,
    read_bytes,
    read_path,
)

__all__ = [
    "Arm",
    "ConfidenceInterval",
    "Eligibility",
    "Intervention",
    "Location",
    "Outcome",
    "ProtocolStep",
    "Provenance",
    "ReadResult",
    "ReportedStatistic",
    "Sponsor",
    "Trial",
    "TrialReadError",
    "TrialResults",
    "detect_format",
    "read_bytes",
    "read_path",
]
