"""Published and posted trial results, and a consistency check of the reported statistics.

Public API: :func:`check_results`, :class:`StatCheck`, :func:`summarize_evidence`,
:func:`clopper_pearson`, :func:`precision_of`, :func:`printed_precision`.
"""

from trialmatch.evidence.check import StatCheck, check_results, clopper_pearson, precision_of, printed_precision, summarize_evidence

__all__ = ["StatCheck", "check_results", "clopper_pearson", "precision_of", "printed_precision", "summarize_evidence"]
