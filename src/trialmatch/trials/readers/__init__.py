"""Trial document readers: bytes in any supported format to :class:`~trialmatch.trials.model.Trial`.

The format is chosen by content, never by file name: ClinicalTrials.gov API v2 JSON (one study,
a ``{"studies": [...]}`` page, or NDJSON), legacy ClinicalTrials.gov XML, and unstructured
documents (plain text or HTML): registry records, registry mirror pages, PubMed abstract pages
and plain-language pages.
"""

from trialmatch.trials.readers.common import ReadResult, TrialReadError
from trialmatch.trials.readers.dispatch import detect_format, read_bytes, read_path

__all__ = ["ReadResult", "TrialReadError", "detect_format", "read_bytes", "read_path"]
