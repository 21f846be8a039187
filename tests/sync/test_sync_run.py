"""Whole syncs against the fake API: stored once, nothing rewritten, resume, changes, saved searches."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fake_ctgov import FakeClock, clock, ctgov_studies, fake_api  # noqa: F401 - fixtures
from trialmatch.store import TrialStore, schema
from trialmatch.sync import (
    ConnectionLostError, CtgovClient, MalformedPageError, SyncError, SyncQuery, get_checkpoint, get_search,
    list_searches, run_sync, save_search,
)
from trialmatch.trials import read_bytes

#: every record of the fixture (all were updated after 2000), 7 per page: 8 pages
BREAST = SyncQuery.build(updated_since="2000-01-01", page_size=7)


@pytest.fixture()
def store(db_url) -> TrialStore:
    return TrialStore(db_url)


def client_for(fake, clock: FakeClock, **kw) -> CtgovClient:
    kw.setdefault("rate_per_minute", 0)
    kw.setdefault("max_attempts", 3)
    return CtgovClient(fake.url, clock=clock, sleep=clock.sleep, rng=lambda: 1.0, timeout=5, **kw)


def sync(store, fake, clock, query=BREAST, **kw):
    client_kw = {k: kw.pop(k) for k in list(kw) if k in ("max_attempts", "malformed_attempts")}
    with client_for(fake, clock, **client_kw) as c:
        return run_sync(store, query, c, compile_criteria=kw.pop("compile_criteria", False), **kw)


def version_counts(store) -> dict[str, int]:
    return {tid: len(store.versions(tid)) for tid in store.trial_ids()}


def test_full_sync_stores_every_study_once(store, fake_api, clock, ctgov_studies):
    assert len(fake_api.studies) == 55 and len(fake_api.select(BREAST.api_params())) == 55
    summary = sync(store, fake_api, clock)
    assert summary.completed and summary.error is None
    assert summary.total == 55 and summary.pages == 8  # 7 per page
    assert summary.counts()["read"] == 55 and len(summary.new) == 55
    assert summary.updated == [] and summary.unchanged == [] and summary.failed == []
    assert store.count_trials() == 55
    assert set(version_counts(store).values()) == {1}
    assert sorted(store.trial_ids()) == sorted(fake_api.studies)
    v = store.versions(store.trial_ids()[0])[0]
    assert v.file_name.startswith("ctgov-api:NCT") and v.source_format == "ctgov_v2_json"
    assert get_checkpoint(store, BREAST, fake_api.url) is None
    # the pages were walked with the API's own paging parameters
    reqs = fake_api.page_requests()
    assert len(reqs) == 8
    assert reqs[0]["params"]["countTotal"] == "true" and "pageToken" not in reqs[0]["params"]
    assert all(r["params"].get("pageToken") for r in reqs[1:])
    assert all(r["params"]["pageSize"] == "7" and r["params"]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2000-01-01,MAX]" for r in reqs)


def test_second_sync_with_nothing_changed_writes_nothing(store, fake_api, clock):
    sync(store, fake_api, clock)
    rev = store.revision()
    summary = sync(store, fake_api, clock)
    assert len(summary.unchanged) == 55 and summary.new == [] and summary.updated == []
    assert store.revision() == rev
    assert set(version_counts(store).values()) == {1}


def test_sync_matches_file_ingest_of_the_same_records(store, fake_api, clock, data_dir):
    """The same reader: trials ingested from the NDJSON file are `unchanged` when synced."""
    path = data_dir / "ctgov-v2" / "breast_trials.ndjson"
    results = read_bytes(path.read_bytes(), path.name)
    assert all(r.ok for r in results)
    store.ingest_trials([r.trial for r in results])
    rev = store.revision()
    summary = sync(store, fake_api, clock)
    assert len(summary.unchanged) == 55 and store.revision() == rev
    # the stored versions are still the file's (nothing rewritten)
    assert {v.file_name for tid in store.trial_ids() for v in store.versions(tid)} == {path.name}


@pytest.mark.parametrize("kind", ["503", "drop", "malformed"])
def test_interrupted_sync_resumes_without_duplicates(store, fake_api, clock, kind):
    fake_api.add_fault(kind, page=4, times=None)  # persists beyond the retries
    expected_error = {"503": SyncError, "drop": ConnectionLostError, "malformed": MalformedPageError}[kind]
    with pytest.raises(expected_error):
        sync(store, fake_api, clock, max_attempts=2, malformed_attempts=2)
    # pages 1-3 are committed, with the checkpoint pointing at page 4
    assert store.count_trials() == 21
    cp = get_checkpoint(store, BREAST, fake_api.url)
    assert cp is not None and cp.pages_done == 3 and len(cp.state.new) == 21
    fake_api.clear_faults()
    before = len(fake_api.page_requests())
    summary = sync(store, fake_api, clock)
    assert summary.completed and summary.resumed_from_page == 4
    assert len(fake_api.page_requests()) - before == 5  # pages 4..8 only
    assert fake_api.page_requests()[before]["page"] == 4
    assert len(summary.new) == 55 and summary.unchanged == []  # counts cover the whole sync
    assert store.count_trials() == 55 and set(version_counts(store).values()) == {1}
    assert get_checkpoint(store, BREAST, fake_api.url) is None


def test_transient_faults_do_not_interrupt(store, fake_api, clock):
    fake_api.add_fault("429", page=2, times=1, retry_after="3")
    fake_api.add_fault("503", page=3, times=1)
    fake_api.add_fault("drop", page=5, times=1)
    fake_api.add_fault("malformed", page=6, times=1)
    summary = sync(store, fake_api, clock)
    assert summary.completed and len(summary.new) == 55 and summary.retries == 4
    assert 3.0 in clock.sleeps
    assert store.count_trials() == 55 and set(version_counts(store).values()) == {1}


def test_expired_checkpoint_token_restarts_from_first_page(store, fake_api, clock):
    fake_api.add_fault("503", page=3, times=None)
    with pytest.raises(SyncError):
        sync(store, fake_api, clock, max_attempts=1)
    fake_api.clear_faults()
    fake_api.expire_tokens()
    summary = sync(store, fake_api, clock)
    assert summary.completed and summary.resumed_from_page is None
    assert len(summary.new) == 55 and store.count_trials() == 55
    assert set(version_counts(store).values()) == {1}


def test_changed_studies_are_updated_and_reported(store, fake_api, clock):
    sync(store, fake_api, clock)
    statuses = {n: fake_api.status_module(n)["overallStatus"] for n in fake_api.studies}
    recruiting = sorted(n for n, s in statuses.items() if s == "RECRUITING")
    completed = sorted(n for n, s in statuses.items() if s == "COMPLETED")
    withdrawn_id, closed_id, edited_id = recruiting[0], recruiting[1], completed[0]
    fake_api.set_status(withdrawn_id, "WITHDRAWN")
    fake_api.set_status(closed_id, "ACTIVE_NOT_RECRUITING")
    fake_api.edit_criteria(edited_id, "Inclusion Criteria:\n\n* ECOG 0-1\n\nExclusion Criteria:\n\n* Pregnancy")
    rev = store.revision()
    summary = sync(store, fake_api, clock)
    assert sorted(summary.updated) == sorted([withdrawn_id, closed_id, edited_id])
    assert len(summary.unchanged) == 52 and summary.new == []
    assert [(c.id, c.previous, c.current) for c in summary.withdrawn] == [(withdrawn_id, "RECRUITING", "WITHDRAWN")]
    assert [(c.id, c.previous, c.current) for c in summary.closed] == [(closed_id, "RECRUITING", "ACTIVE_NOT_RECRUITING")]
    assert store.revision() > rev
    for tid in (withdrawn_id, closed_id, edited_id):
        assert [v.version for v in store.versions(tid)] == [1, 2]
    assert store.get_trial(withdrawn_id).status == "WITHDRAWN"
    assert store.get_trial(withdrawn_id, version=1).status == "RECRUITING"  # the old version stays
    assert "Pregnancy" in store.get_trial(edited_id).eligibility.criteria_text
    assert store.get_trial(edited_id).last_update_posted == "2099-01-15"
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.trials.c.status).where(schema.trials.c.id == withdrawn_id)).scalar() == "WITHDRAWN"


def test_filters_reach_the_api(store, fake_api, clock):
    q = SyncQuery.build(condition="breast cancer", statuses=["recruiting", "Not yet recruiting"], page_size=5)
    summary = sync(store, fake_api, clock, query=q)
    expected = {n for n, s in fake_api.studies.items()
                if s["protocolSection"]["statusModule"]["overallStatus"] in ("RECRUITING", "NOT_YET_RECRUITING")
                and fake_api._matches(s, {"query.cond": "breast cancer"})}
    assert expected and set(summary.new) == expected and set(store.trial_ids()) == expected
    params = fake_api.page_requests()[0]["params"]
    assert params["filter.overallStatus"] == "RECRUITING,NOT_YET_RECRUITING"
    assert params["query.cond"] == "breast cancer" and params["format"] == "json"


def test_geo_and_updated_since_filters(store, fake_api, clock):
    near = SyncQuery.build(condition="breast", near=(40.7128, -74.0060), distance="50mi", page_size=50)
    assert near.api_params()["filter.geo"] == "distance(40.7128,-74.006,50mi)"
    s1 = sync(store, fake_api, clock, query=near)
    assert 0 < len(s1.new) < 55
    fake_api.set_status(sorted(fake_api.studies)[0], "WITHDRAWN", posted="2099-02-01")
    since = SyncQuery.build(updated_since="2099-01-01", page_size=50)
    assert since.api_params()["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2099-01-01,MAX]"
    s2 = sync(store, fake_api, clock, query=since)
    assert s2.counts()["read"] == 1


def test_a_sync_without_filters_is_refused(store, fake_api, clock):
    with pytest.raises(SyncError, match="at least one filter"):
        sync(store, fake_api, clock, query=SyncQuery())
    assert fake_api.requests == []


def test_bad_study_is_reported_and_the_rest_stored(store, fake_api, clock):
    bad = sorted(fake_api.studies)[3]
    fake_api.studies[bad]["protocolSection"]["conditionsModule"]["conditions"] = "breast"  # wrong JSON type
    summary = sync(store, fake_api, clock)
    assert len(summary.failed) == 1 and bad in summary.failed[0]["locator"]
    assert "conditions" in summary.failed[0]["error"]
    assert store.count_trials() == 54 and bad not in store.trial_ids()


def test_saved_search_round_trip(store, fake_api, clock):
    q = SyncQuery.build(condition="breast cancer", statuses=["RECRUITING", "NOT_YET_RECRUITING"], page_size=4)
    saved = save_search(store, "open-bc", q, base_url=fake_api.url)
    assert get_search(store, "open-bc").query == q and saved.last_run_at is None
    assert [s.name for s in list_searches(store)] == ["open-bc"]
    first = sync(store, fake_api, clock, query=get_search(store, "open-bc").query, search_name="open-bc")
    after = get_search(store, "open-bc")
    assert after.last_run_at is not None and after.last_summary["counts"]["new"] == len(first.new) > 0
    assert sorted(after.last_ids) == sorted(first.new)
    # one trial of the search closes: it drops out of a RECRUITING search, and the re-run says so
    gone = sorted(first.new)[0]
    fake_api.set_status(gone, "COMPLETED")
    second = sync(store, fake_api, clock, query=after.query, search_name="open-bc")
    assert second.left_search == [gone]
    assert [(c.id, c.current) for c in second.closed] == [(gone, "COMPLETED")]
    assert second.updated == [gone] and len(second.unchanged) == len(first.new) - 1
    assert store.get_trial(gone).status == "COMPLETED"
    assert gone not in get_search(store, "open-bc").last_ids
    # a changed query forgets the last run
    save_search(store, "open-bc", SyncQuery.build(condition="breast", page_size=4))
    assert get_search(store, "open-bc").last_run_at is None


def test_compiled_criteria_refreshed(store, fake_api, clock):
    summary = sync(store, fake_api, clock, compile_criteria=True)
    try:
        from trialmatch.criteria import COMPILER_VERSION  # noqa: F401
    except ImportError:
        assert summary.compile_error and "compiler" in summary.compile_error
        return
    assert summary.compile_error is None, summary.compile_error
    assert store.trials_needing_compile(COMPILER_VERSION) == []


def test_a_failed_page_write_leaves_no_half_written_study(store, fake_api, clock, monkeypatch):
    """Trials and checkpoint commit together: a failure after page 3's trials were written
    inside its transaction rolls them back, and the checkpoint still points at page 3."""
    from trialmatch.sync import runner

    real = runner.SyncSummary.state_json
    calls = {"n": 0}

    def failing(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(self)

    monkeypatch.setattr(runner.SyncSummary, "state_json", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        sync(store, fake_api, clock)
    assert store.count_trials() == 14  # pages 1 and 2 only; page 3's 7 trials were rolled back
    cp = get_checkpoint(store, BREAST, fake_api.url)
    assert cp is not None and cp.pages_done == 2
    monkeypatch.setattr(runner.SyncSummary, "state_json", real)
    summary = sync(store, fake_api, clock)
    assert summary.resumed_from_page == 3 and len(summary.new) == 55
    assert store.count_trials() == 55 and set(version_counts(store).values()) == {1}
