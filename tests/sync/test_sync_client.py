"""The API v2 client against a real HTTP server on 127.0.0.1: retries, Retry-After, rate, offline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from fake_ctgov import FakeClock, clock, closed_port, ctgov_studies, fake_api  # noqa: F401 - fixtures
from trialmatch.sync import (
    ApiError, ConnectionLostError, CtgovClient, MalformedPageError, OfflineError, RateLimiter, SyncQuery,
    parse_retry_after, resolve_base_url,
)

PARAMS = SyncQuery(condition="breast cancer", page_size=10).api_params()


def client_for(url: str, clock: FakeClock, **kw) -> CtgovClient:
    kw.setdefault("rate_per_minute", 0)
    kw.setdefault("max_attempts", 4)
    return CtgovClient(url, clock=clock, sleep=clock.sleep, rng=lambda: 1.0, timeout=5, **kw)


def test_pages_and_count(fake_api, clock):
    with client_for(fake_api.url, clock) as c:
        page = c.fetch_page({**PARAMS, "countTotal": "true"})
    assert len(page["studies"]) == 10
    assert page["totalCount"] == len(fake_api.select(PARAMS))
    assert page["nextPageToken"]
    assert clock.sleeps == []


def test_429_honours_retry_after_seconds(fake_api, clock):
    fake_api.add_fault("429", page=1, times=2, retry_after="7")
    with client_for(fake_api.url, clock) as c:
        page = c.fetch_page(PARAMS)
    assert len(page["studies"]) == 10
    assert clock.sleeps == [7.0, 7.0]
    assert [r["outcome"] for r in fake_api.page_requests()] == ["429", "429", 200]
    assert c.stats.retries == 2


def test_429_honours_retry_after_http_date(fake_api, clock):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    fake_api.add_fault("429", page=1, times=1, retry_after=format_datetime(when, usegmt=True))
    with client_for(fake_api.url, clock) as c:
        c.fetch_page(PARAMS)
    assert len(clock.sleeps) == 1 and 25 <= clock.sleeps[0] <= 31


def test_parse_retry_after():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_too_long_stops_with_message(fake_api, clock):
    fake_api.add_fault("429", page=1, times=None, retry_after="86400")
    with client_for(fake_api.url, clock, retry_after_max=600) as c, pytest.raises(ApiError, match="asks to wait 86400 s"):
        c.fetch_page(PARAMS)
    assert clock.sleeps == []


def test_503_exponential_backoff_then_success(fake_api, clock):
    fake_api.add_fault("503", page=1, times=3)
    with client_for(fake_api.url, clock, backoff_base=2.0) as c:
        c.fetch_page(PARAMS)
    assert clock.sleeps == [2.0, 4.0, 8.0]  # jitter source fixed at 1.0: the full delay


def test_backoff_jitter_and_cap(clock):
    c = CtgovClient("http://127.0.0.1:9/api/v2", backoff_base=1.0, backoff_max=10.0, rng=lambda: 0.0,
                    clock=clock, sleep=clock.sleep)
    assert [c.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    c.close()


def test_attempts_are_bounded(fake_api, clock):
    fake_api.add_fault("503", page=1, times=None)
    with client_for(fake_api.url, clock, max_attempts=3) as c, pytest.raises(ApiError, match="503.*all 3 attempts"):
        c.fetch_page(PARAMS)
    assert len(fake_api.page_requests()) == 3
    assert len(clock.sleeps) == 2  # no wait after the last attempt


def test_client_errors_are_not_retried(fake_api, clock):
    with client_for(fake_api.url, clock) as c, pytest.raises(ApiError, match="400") as info:
        c.fetch_page({**PARAMS, "pageToken": "garbage"})
    assert info.value.status_code == 400
    assert len(fake_api.page_requests()) == 1


def test_dropped_connection_mid_page_is_retried(fake_api, clock):
    fake_api.add_fault("drop", page=1, times=2)
    with client_for(fake_api.url, clock) as c:
        page = c.fetch_page(PARAMS)
    assert len(page["studies"]) == 10
    assert [r["outcome"] for r in fake_api.page_requests()] == ["drop", "drop", 200]


def test_dropped_connection_every_time(fake_api, clock):
    fake_api.add_fault("drop", page=1, times=None)
    with client_for(fake_api.url, clock, max_attempts=2) as c, pytest.raises(ConnectionLostError, match="lost the connection"):
        c.fetch_page(PARAMS)


def test_malformed_page_retried_then_clear_error(fake_api, clock):
    fake_api.add_fault("malformed", page=1, times=1)
    with client_for(fake_api.url, clock) as c:
        assert len(c.fetch_page(PARAMS)["studies"]) == 10
    fake_api.add_fault("malformed", page=1, times=None)
    with client_for(fake_api.url, clock, malformed_attempts=3) as c, \
            pytest.raises(MalformedPageError, match="malformed page .*not JSON.*first page.*3 attempts"):
        c.fetch_page(PARAMS)


def test_offline_is_a_clear_error(clock):
    url = f"http://127.0.0.1:{closed_port()}/api/v2"
    with client_for(url, clock, max_attempts=2) as c, pytest.raises(OfflineError) as info:
        c.fetch_page(PARAMS)
    assert str(info.value).startswith(f"cannot reach {url}: ")
    assert len(clock.sleeps) == 1


def test_rate_limiter_spaces_requests(fake_api, clock):
    with client_for(fake_api.url, clock, rate_per_minute=30) as c:
        for _ in range(4):
            c.fetch_page(PARAMS)
    assert clock.sleeps == [2.0, 2.0, 2.0]
    lim = RateLimiter(clock=clock, sleep=clock.sleep)
    assert lim.interval == 1.5  # default 40/min, below the API's ~50/min


def test_rate_limiter_does_not_wait_when_slow_enough(clock):
    lim = RateLimiter(60, clock=clock, sleep=clock.sleep)
    lim.acquire()
    clock.now += 5
    lim.acquire()
    clock.now += 0.25
    lim.acquire()
    assert clock.sleeps == [0.75]


def test_base_url_resolution(monkeypatch):
    monkeypatch.delenv("TRIALMATCH_CTGOV_URL", raising=False)
    assert resolve_base_url() == "https://clinicaltrials.gov/api/v2"
    monkeypatch.setenv("TRIALMATCH_CTGOV_URL", "http://mirror.hospital.local/ctgov/api/v2/")
    assert resolve_base_url() == "http://mirror.hospital.local/ctgov/api/v2"
    assert resolve_base_url("http://other/api/v2") == "http://other/api/v2"
