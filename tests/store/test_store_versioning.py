"""The store's versioning and atomicity: same bytes twice -> unchanged; a changed document
for the same id -> a new version with the old one readable; a batch that fails half-way
leaves the store exactly as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from trialmatch.store import StoreError, TrialStore, content_hash
from trialmatch.trials import read_bytes


def _study(nct: str, title: str, status: str = "RECRUITING") -> bytes:
    import json

    return json.dumps({"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": title},
        "statusModule": {"overallStatus": status},
        "conditionsModule": {"conditions": ["Breast Cancer"]},
        "eligibilityModule": {"eligibilityCriteria": "Inclusion Criteria:\n* Age 18 or older",
                              "sex": "FEMALE", "minimumAge": "18 Years"},
    }}).encode()


def _trial(nct: str, title: str, status: str = "RECRUITING", name: str = "doc.json"):
    [res] = read_bytes(_study(nct, title, status), name)
    assert res.ok, res.error
    return res.trial


@pytest.fixture()
def store(db_url) -> TrialStore:
    return TrialStore(db_url)


def test_same_bytes_twice_is_unchanged(store):
    t = _trial("NCT90000101", "A")
    assert store.ingest_trials([t]) == {"NCT90000101": "new"}
    rev = store.revision()
    again = _trial("NCT90000101", "A", name="copy-elsewhere.json")  # new ingest time, other name
    assert store.ingest_trials([again]) == {"NCT90000101": "unchanged"}
    assert [v.version for v in store.versions("NCT90000101")] == [1]
    assert store.revision() == rev  # a no-op batch commits nothing


def test_changed_document_becomes_new_version_old_readable(store):
    store.ingest_trials([_trial("NCT90000102", "First title")])
    assert store.ingest_trials([_trial("NCT90000102", "Amended title", "COMPLETED")]) == {
        "NCT90000102": "updated"}
    vs = store.versions("NCT90000102")
    assert [v.version for v in vs] == [1, 2]
    assert vs[0].sha256 != vs[1].sha256
    assert store.get_trial("NCT90000102").title == "Amended title"
    assert store.get_trial("NCT90000102", version=1).title == "First title"
    assert store.trial_ids(status=["completed"]) == ["NCT90000102"]
    assert store.trial_ids(status=["recruiting"]) == []
    # re-ingesting the older copy neither reverts nor adds a version
    assert store.ingest_trials([_trial("NCT90000102", "First title")]) == {"NCT90000102": "unchanged"}
    assert store.current_version("NCT90000102") == 2


def test_content_hash_ignores_ingest_time_and_file_name():
    a = _trial("NCT90000103", "Same", name="a.json")
    b = _trial("NCT90000103", "Same", name="elsewhere/b.json")
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(_trial("NCT90000103", "Different"))
    # the same study inside an API page: other bytes (sha256), same content
    import json

    page = json.dumps({"studies": [json.loads(_study("NCT90000103", "Same"))]}, indent=1).encode()
    [res] = read_bytes(page, "page.json")
    assert res.trial.provenance.sha256 != a.provenance.sha256
    assert content_hash(res.trial) == content_hash(a)


def test_failing_batch_leaves_store_as_before(store):
    store.ingest_trials([_trial("NCT90000104", "Existing v1")])
    before = (store.count_trials(), store.revision(), [v.version for v in store.versions("NCT90000104")])

    # fail half-way: after the new trial and both version rows are inserted, on the UPDATE of
    # the existing trial's row
    def boom(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE TRIALS"):
            raise RuntimeError("injected failure mid-batch")

    event.listen(store.engine, "before_cursor_execute", boom)
    try:
        with pytest.raises(StoreError, match="store unchanged"):
            store.ingest_trials([_trial("NCT90000105", "Brand new"), _trial("NCT90000104", "Existing v2")])
    finally:
        event.remove(store.engine, "before_cursor_execute", boom)

    after = (store.count_trials(), store.revision(), [v.version for v in store.versions("NCT90000104")])
    assert after == before
    assert store.get_trial("NCT90000105") is None
    assert store.versions("NCT90000105") == []
    assert store.get_trial("NCT90000104").title == "Existing v1"
    # and the store still works afterwards
    assert store.ingest_trials([_trial("NCT90000105", "Brand new")]) == {"NCT90000105": "new"}


def test_duplicate_id_within_one_batch(store):
    res = store.ingest_trials([_trial("NCT90000106", "one"), _trial("NCT90000106", "two")])
    assert res == {"NCT90000106": "new"}
    assert [v.version for v in store.versions("NCT90000106")] == [1, 2]
    assert store.get_trial("NCT90000106").title == "two"
    assert store.count_trials() == 1


def test_list_and_iter_filters(store):
    store.ingest_trials([_trial("NCT90000108", "b", "WITHDRAWN"), _trial("NCT90000107", "a")])
    assert store.trial_ids() == ["NCT90000107", "NCT90000108"]
    assert [t.id for t in store.list_trials(status=["withdrawn"])] == ["NCT90000108"]
    assert [t.id for t in store.list_trials(limit=1)] == ["NCT90000107"]
    assert [t.id for t in store.iter_trials(ids=["NCT90000108"])] == ["NCT90000108"]
    assert store.get_trial("NCT00000000") is None
