"""Keep the trial store current from the ClinicalTrials.gov API v2 (``trialmatch sync``).

Public API: :class:`CtgovClient` (retries, backoff, ``Retry-After``, rate limit),
:class:`SyncQuery`, :func:`run_sync` -> :class:`SyncSummary`, saved searches
(:func:`save_search`, :func:`get_search`, :func:`list_searches`, :func:`delete_search`),
checkpoints (:func:`get_checkpoint`, :func:`clear_checkpoint`), and the errors
:class:`SyncError`, :class:`OfflineError`, :class:`ApiError`, :class:`MalformedPageError`,
:class:`QueryError`.
"""

from trialmatch.sync.client import (
    BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_RATE_PER_MINUTE, ApiError, ClientStats, ConnectionLostError, CtgovClient,
    MalformedPageError, OfflineError, RateLimiter, SyncError, parse_retry_after, resolve_base_url,
)
from trialmatch.sync.query import QueryError, SyncQuery, normalise_status_filter, parse_date, parse_near
from trialmatch.sync.runner import (
    FILE_PREFIX, Checkpoint, SavedSearch, StatusChange, SyncSummary, clear_checkpoint, delete_search,
    get_checkpoint, get_search, list_searches, read_study, run_sync, save_search,
)

__all__ = [
    "BASE_URL_ENV", "DEFAULT_BASE_URL", "DEFAULT_RATE_PER_MINUTE", "FILE_PREFIX", "ApiError", "Checkpoint",
    "ClientStats", "ConnectionLostError", "CtgovClient", "MalformedPageError", "OfflineError", "QueryError", "RateLimiter",
    "SavedSearch", "StatusChange", "SyncError", "SyncQuery", "SyncSummary", "clear_checkpoint",
    "delete_search", "get_checkpoint", "get_search", "list_searches", "normalise_status_filter",
    "parse_date", "parse_near", "parse_retry_after", "read_study", "resolve_base_url", "run_sync",
    "save_search",
]
