"""POST a watch report to a URL (httpx), with a timeout and retries with backoff."""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict


class WebhookResult(BaseModel):
    """How the delivery went: ``ok`` with the final status code, or the error after retries."""

    model_config = ConfigDict(extra="forbid")
    url: str
    ok: bool
    status_code: int | None = None
    attempts: int
    error: str | None = None


def _redact(url: str) -> str:
    """The URL without credentials or query (it may carry a token)."""
    try:
        u = httpx.URL(url)
        return str(u.copy_with(userinfo=b"", query=None, fragment=None))
    except Exception:  # noqa: BLE001
        return "<invalid url>"


def post_webhook(url: str, payload: dict[str, Any], *, retries: int = 3, backoff: float = 0.5,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> WebhookResult:
    """POST ``payload`` as JSON to ``url``.

    Parameters
    ----------
    url : str
        An http(s) URL.
    payload : dict
        JSON-serialisable body.
    retries : int
        Retries after the first attempt, on connection errors, timeouts, 429 and 5xx answers
        (other 4xx answers are not retried: the request itself is wrong).
    backoff : float
        Seconds before the first retry; doubled for each next one.
    timeout : float
        Seconds per attempt.

    Returns
    -------
    WebhookResult
        Never raises: a delivery that failed after the retries is reported with its error.
    """
    shown = _redact(url)
    try:
        parsed = httpx.URL(url)
    except Exception as exc:  # noqa: BLE001
        return WebhookResult(url=shown, ok=False, attempts=0, error=f"invalid webhook URL ({exc})")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return WebhookResult(url=shown, ok=False, attempts=0,
                             error="invalid webhook URL: it must be http:// or https:// with a host")
    attempts = 0
    last_error: str | None = None
    status: int | None = None
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff * (2 ** (attempt - 1)))
            attempts += 1
            try:
                resp = client.post(url, json=payload, headers={"User-Agent": "trialmatch-watch"})
            except httpx.HTTPError as exc:
                last_error, status = f"{exc.__class__.__name__}: {exc}", None
                continue
            status = resp.status_code
            if 200 <= status < 300:
                return WebhookResult(url=shown, ok=True, status_code=status, attempts=attempts)
            last_error = f"HTTP {status}"
            if status != 429 and status < 500:
                break
    return WebhookResult(url=shown, ok=False, status_code=status, attempts=attempts,
                         error=f"delivery failed after {attempts} attempt(s): {last_error}")
