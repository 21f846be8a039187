"""A well-behaved ClinicalTrials.gov API v2 client.

Timeouts on every request; retries with exponential backoff and jitter on 429, 5xx, dropped
connections and timeouts, honouring ``Retry-After`` (seconds or an HTTP date); a bounded number
of attempts; a request rate kept below the API's published limit (about 50 per minute, so 40 by
default); a clear :class:`OfflineError` ("cannot reach <base url>: ...") when the server cannot
be reached. The clock and ``sleep`` are injectable so tests never wait for real.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://clinicaltrials.gov/api/v2"
BASE_URL_ENV = "TRIALMATCH_CTGOV_URL"
#: The API's published limit is about 50 requests per minute; stay below it.
DEFAULT_RATE_PER_MINUTE = 40.0


class SyncError(RuntimeError):
    """A sync that could not go on; the message says why in words a person can act on.

    Pages committed before the error stay in the store, and the checkpoint lets the same
    query resume where it stopped.
    """


class OfflineError(SyncError):
    """The server could not be reached (connection refused, DNS failure, timeouts)."""


class ConnectionLostError(SyncError):
    """The connection broke (dropped mid-answer, read timeout) on every attempt."""


class ApiError(SyncError):
    """The server answered with an error status that retrying did not cure."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class MalformedPageError(SyncError):
    """A page that is not an API v2 ``{"studies": [...]}`` JSON object, even after retries."""


def resolve_base_url(base_url: str | None = None) -> str:
    """``--base-url``, else ``$TRIALMATCH_CTGOV_URL``, else the public API; no trailing slash."""
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()
    if "://" not in url:
        raise SyncError(f"base URL {url!r} is not a URL: give one like {DEFAULT_BASE_URL}")
    return url.rstrip("/")


class RateLimiter:
    """Spaces requests at least ``60 / per_minute`` seconds apart.

    Parameters
    ----------
    per_minute : float
        Requests allowed per minute (0 or less: no limit).
    clock, sleep : callable
        ``clock()`` returns seconds (monotonic); ``sleep(seconds)`` waits.
    """

    def __init__(self, per_minute: float = DEFAULT_RATE_PER_MINUTE, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def acquire(self) -> None:
        """Wait until the next request is allowed."""
        if self.interval <= 0:
            return
        now = self.clock()
        if self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self.clock()
        self._next = max(now, self._next or now) + self.interval


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass
class ClientStats:
    """What the client did: requests sent, retries, seconds waited (backoff and rate limit)."""

    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


class CtgovClient:
    """Fetch pages of ``/studies`` from ClinicalTrials.gov API v2 (or a mirror).

    Parameters
    ----------
    base_url : str, optional
        API root, e.g. ``https://clinicaltrials.gov/api/v2`` (see :func:`resolve_base_url`).
    timeout : float
        Seconds for each request (connect at most 10 s).
    max_attempts : int
        Attempts per request, the first included (429, 5xx, connection errors are retried).
    malformed_attempts : int
        Attempts per page when the body is not a valid API v2 page.
    backoff_base, backoff_max : float
        Exponential backoff: ``base * 2**(n-1)`` seconds, capped at ``backoff_max``, with jitter.
    retry_after_max : float
        Longest ``Retry-After`` honoured; a server asking for more ends the sync with a message.
    rate_per_minute : float
        Request rate limit (default 40/min, below the API's ~50/min).
    clock, sleep, rng : callable
        Injectable time source, sleep and random source (tests pass fakes).
    transport : httpx.BaseTransport, optional
        For tests; the default is a real network transport.

    Examples
    --------
    >>> with CtgovClient("http://127.0.0.1:8080/api/v2") as client:   # doctest: +SKIP
    ...     page = client.fetch_page({"query.cond": "breast cancer", "pageSize": "100"})
    """

    def __init__(self, base_url: str | None = None, *, timeout: float = 30.0, max_attempts: int = 5,
                 malformed_attempts: int = 3, backoff_base: float = 1.0, backoff_max: float = 60.0,
                 retry_after_max: float = 600.0, rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random, transport: httpx.BaseTransport | None = None,
                 user_agent: str = "trialmatch-sync/0.1 (+https://clinicaltrials.gov/data-api)") -> None:
        self.base_url = resolve_base_url(base_url)
        self.max_attempts = max(1, int(max_attempts))
        self.malformed_attempts = max(1, int(malformed_attempts))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.clock = clock
        self._sleep = sleep
        self.rng = rng
        self.stats = ClientStats()
        self.limiter = RateLimiter(rate_per_minute, clock=clock, sleep=self._wait)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            transport=transport, follow_redirects=True,
        )

    # ------------------------------------------------------------------ plumbing
    def __enter__(self) -> "CtgovClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_s += seconds
            self._sleep(seconds)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based): exponential, capped, with jitter."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay * (0.5 + 0.5 * self.rng())

    # ------------------------------------------------------------------ requests
    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """GET ``base_url + path`` with rate limiting and retries; returns a 2xx response.

        Raises
        ------
        OfflineError
            The server could not be reached in ``max_attempts`` attempts.
        ConnectionLostError
            The connection broke mid-answer (or timed out reading) on every attempt.
        ApiError
            A 4xx answer (not retried, except 429), or 429/5xx on every attempt.
        """
        url = self.base_url + path
        last_exc: Exception | None = None
        last_resp: httpx.Response | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.stats.retries += 1
            self.limiter.acquire()
            self.stats.requests += 1
            try:
                resp = self._http.get(url, params=params)
            except httpx.TransportError as exc:  # refused, DNS, timeouts, dropped mid-body
                last_exc, last_resp = exc, None
                if attempt < self.max_attempts:
                    self._wait(self.backoff(attempt))
                continue
            self.stats.statuses[resp.status_code] = self.stats.statuses.get(resp.status_code, 0) + 1
            if resp.status_code < 400:
                return resp
            if resp.status_code == 429 or resp.status_code >= 500:
                last_exc, last_resp = None, resp
                if attempt < self.max_attempts:
                    delay = parse_retry_after(resp.headers.get("Retry-After"))
                    if delay is not None and delay > self.retry_after_max:
                        raise ApiError(
                            f"{self.base_url} answered {resp.status_code} and asks to wait {delay:.0f} s "
                            f"(more than {self.retry_after_max:.0f} s): try again later", resp.status_code)
                    self._wait(delay if delay is not None else self.backoff(attempt))
                continue
            raise ApiError(f"{url} answered {resp.status_code}: {_error_text(resp)}", resp.status_code)
        if last_resp is not None:
            raise ApiError(
                f"{self.base_url} answered {last_resp.status_code} ({_error_text(last_resp)}) "
                f"on all {self.max_attempts} attempts: try again later", last_resp.status_code)
        if isinstance(last_exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            raise OfflineError(f"cannot reach {self.base_url}: {_exc_text(last_exc)}")
        raise ConnectionLostError(
            f"lost the connection to {self.base_url} on all {self.max_attempts} attempts: {_exc_text(last_exc)}")

    def fetch_page(self, params: dict[str, str]) -> dict[str, Any]:
        """One page of ``/studies``: a dict with ``studies`` (a list of objects) and, when more
        pages follow, ``nextPageToken``. A body that is not such a page is fetched again up to
        ``malformed_attempts`` times.

        Raises
        ------
        MalformedPageError
            Every attempt gave a malformed page.
        OfflineError, ApiError
            See :meth:`get`.
        """
        problem = ""
        for attempt in range(1, self.malformed_attempts + 1):
            resp = self.get("/studies", params)
            page, problem = _parse_page(resp)
            if page is not None:
                return page
            if attempt < self.malformed_attempts:
                self.stats.retries += 1
                self._wait(self.backoff(attempt))
        token = params.get("pageToken")
        where = f"the page after token {token!r}" if token else "the first page"
        raise MalformedPageError(
            f"{self.base_url}/studies gave a malformed page ({problem}) for {where} "
            f"on all {self.malformed_attempts} attempts")


def _parse_page(resp: httpx.Response) -> tuple[dict[str, Any] | None, str]:
    """The page, or None and why the response is not an API v2 page."""
    try:
        doc = json.loads(resp.content)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"not JSON: {exc}"
    if type(doc) is not dict:
        return None, "not a JSON object"
    studies = doc.get("studies")
    if type(studies) is not list:
        return None, "no 'studies' array"
    for i, s in enumerate(studies):
        if type(s) is not dict:
            return None, f"studies[{i}] is not an object"
    tok = doc.get("nextPageToken")
    if tok is not None and (type(tok) is not str or not tok):
        return None, "'nextPageToken' is not a non-empty string"
    return doc, ""


def _error_text(resp: httpx.Response) -> str:
    text = resp.text.strip().replace("\n", " ")
    return (text[:200] + "...") if len(text) > 200 else (text or resp.reason_phrase or "no message")


def _exc_text(exc: Exception | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({text or exc.__class__.__name__})"
    return text or exc.__class__.__name__
