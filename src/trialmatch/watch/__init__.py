"""Eligibility over time: ``trialmatch watch`` re-matches stored patients and reports changes.

Public API: :func:`run_watch`, :func:`latest_changes`, :class:`Change`, :class:`WatchReport`,
:class:`WebhookResult`, :func:`post_webhook`, :func:`patient_as_of` (re-exported from
``trialmatch.patients.asof``). Importing this package adds the watch tables to the store's
``metadata``.
"""

from trialmatch.patients.asof import patient_as_of
from trialmatch.watch.core import Change, WatchReport, default_matcher, latest_changes, run_watch
from trialmatch.watch.webhook import WebhookResult, post_webhook

__all__ = [
    "Change", "WatchReport", "WebhookResult", "default_matcher", "latest_changes", "patient_as_of",
    "post_webhook", "run_watch",
]
