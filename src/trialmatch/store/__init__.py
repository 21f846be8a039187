"""The embedded store (SQLite by default, any SQLAlchemy URL): versioned trials, their
compiled criteria, and patients by workspace.

Public API: :class:`TrialStore`, :func:`resolve_url`, :func:`content_hash`, :func:`ensure_compiled`,
:class:`StoreError`, :class:`TrialVersionInfo`, :class:`PatientRecord`, ``schema.metadata``.
"""

from trialmatch.store.store import (
    DEFAULT_DB, PatientRecord, StoreError, TrialStore, TrialVersionInfo, content_hash, resolve_url,
)
from trialmatch.store.compiled import ensure_compiled

__all__ = [
    "DEFAULT_DB", "PatientRecord", "StoreError", "TrialStore", "TrialVersionInfo", "content_hash",
    "resolve_url", "ensure_compiled",
]
