"""The server keeps one ranking per patient version: started when the patient is saved, answering
every view of the match, refreshed for changed trials only, and forgotten when the patient is."""

from __future__ import annotations

import time

from conftest import auth, seed004_patient


def _wait_ready(caches, workspace, pid, version=None, timeout=60.0):
    """The patient's kept rankings once all are ready and one is for ``version`` (if given): the
    background job that ranks a saved version may not have started when the save is answered."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with caches.lock:
            keyed = [(k, s) for k, s in caches.rankings.items() if k[0] == workspace and k[1] == pid]
        slots = [s for _, s in keyed]
        wanted = version is None or any(k[2] == version for k, _ in keyed)
        if slots and wanted and all(s.ready.is_set() for s in slots):
            return slots
        time.sleep(0.05)
    raise AssertionError(f"no ranking for {pid} (version {version}) after {timeout} s")


def test_saving_a_patient_starts_its_ranking_and_views_use_it(web):
    app, client, tokens = web
    h = auth(tokens["A"])
    r = client.post("/api/v1/patients", json=seed004_patient("rank-1"), headers=h)
    assert r.status_code == 201
    caches = app.state.tm.caches
    workspace = r.json()["workspace"]
    (slot,) = _wait_ready(caches, workspace, "rank-1")
    assert slot.error is None and len(slot.ranking) == 5
    views = [{}, {"top": 2}, {"status": ["RECRUITING"]}, {"status": ["WITHDRAWN"], "top": 1}]
    bodies = []
    for v in views:
        r = client.post("/api/v1/patients/rank-1/match", json=v, headers=h)
        assert r.status_code == 200 and r.headers["x-trialmatch-cache"] == "hit", v
        bodies.append(r.json())
    full = bodies[0]["results"]
    assert [m["trial_id"] for m in bodies[1]["results"]] == [m["trial_id"] for m in full[:2]]
    assert [m["trial_id"] for m in bodies[2]["results"]] == [m["trial_id"] for m in full if m["status"] == "RECRUITING"]
    assert bodies[1]["results"] == full[:2]  # the same explanations as in the full view
    # a new version gets a ranking of its own
    changed = seed004_patient("rank-1")
    changed["biomarkers"][0] = {"name": "ER", "status": "negative", "percent": 0}
    r = client.put("/api/v1/patients/rank-1", json=changed, headers=h)
    assert r.status_code == 200
    slots = _wait_ready(caches, workspace, "rank-1", version=r.json()["version"])
    assert len(slots) == 2
    r = client.post("/api/v1/patients/rank-1/match", json={}, headers=h)
    assert r.json()["results"] != full


def test_deleting_a_patient_forgets_its_rankings(web):
    app, client, tokens = web
    h = auth(tokens["A"])
    r = client.post("/api/v1/patients", json=seed004_patient("rank-2"), headers=h)
    workspace = r.json()["workspace"]
    _wait_ready(app.state.tm.caches, workspace, "rank-2")
    assert client.post("/api/v1/patients/rank-2/match", json={"top": 1}, headers=h).status_code == 200
    assert client.delete("/api/v1/patients/rank-2", headers=h).status_code == 204
    caches = app.state.tm.caches
    with caches.lock:
        assert not [k for k in caches.rankings if k[1] == "rank-2"]
        assert not [k for k in caches.reports if k[1] == "rank-2"]
    assert client.post("/api/v1/patients/rank-2/match", json={}, headers=h).status_code == 404


def test_fresh_mode_matches_without_keeping_anything(seed_store):
    from fastapi.testclient import TestClient

    from trialmatch.web import Settings, create_app
    from trialmatch.web.auth_store import create_token, create_user

    app = create_app(seed_store, settings=Settings(secret="s" * 32, match_cache=False))
    create_user(seed_store, "fresh@example.org", "a-long-password-1", workspace="W")
    token = create_token(seed_store, "fresh@example.org", "t")
    with TestClient(app) as client:
        h = auth(token)
        assert client.post("/api/v1/patients", json=seed004_patient("rank-3"), headers=h).status_code == 201
        r = client.post("/api/v1/patients/rank-3/match", json={"top": 2}, headers=h)
        assert r.status_code == 200 and r.headers["x-trialmatch-cache"] == "miss" and len(r.json()["results"]) == 2
        assert not app.state.tm.caches.rankings


def test_preload_prepares_the_trials_at_start(seed_store):
    from fastapi.testclient import TestClient

    from trialmatch.web import Settings, create_app, services

    app = create_app(seed_store, settings=Settings(secret="s" * 32, preload=True))
    with TestClient(app):
        services._background().submit(lambda: None).result(timeout=60)  # the preload job is done
        caches = app.state.tm.caches
        assert caches.pairs_key == services.trial_fingerprint(seed_store) and len(caches.pairs) == 5


def test_a_patient_deleted_before_its_ranking_starts_is_not_ranked(web):
    from trialmatch.web import services

    app, client, tokens = web
    h = auth(tokens["A"])
    state = app.state.tm
    import threading

    release = threading.Event()
    gate = services._background().submit(release.wait, 60)  # the worker is busy until the patient is deleted
    try:
        r = client.post("/api/v1/patients", json=seed004_patient("rank-4"), headers=h)
        workspace = r.json()["workspace"]
        assert client.delete("/api/v1/patients/rank-4", headers=h).status_code == 204
    finally:
        release.set()
    gate.result(timeout=30)
    services._background().submit(lambda: None).result(timeout=60)  # the queued ranking job has run
    with state.caches.lock:
        assert not [k for k in state.caches.rankings if k[:2] == (workspace, "rank-4")]


def test_a_view_of_a_ready_ranking_is_answered_without_reading_the_record(web, monkeypatch):
    """Once the saved version's ranking is ready, a new view is computed from it (the version,
    read first, finds it): the record is not read again, and the answer is the one the record
    path gives."""
    app, client, tokens = web
    h = auth(tokens["A"])
    r = client.post("/api/v1/patients", json=seed004_patient("rank-3"), headers=h)
    workspace, version = r.json()["workspace"], r.json()["version"]
    _wait_ready(app.state.tm.caches, workspace, "rank-3", version=version)
    store = app.state.tm.store
    by_record = client.post("/api/v1/patients/rank-3/match", json={"top": 3, "status": ["recruiting"]}, headers=h)

    def no_read(*_a, **_k):
        raise AssertionError("the record was read")

    monkeypatch.setattr(store, "get_patient_record", no_read)
    r = client.post("/api/v1/patients/rank-3/match", json={"top": 2, "status": ["recruiting"]}, headers=h)
    assert r.status_code == 200 and r.headers["x-trialmatch-cache"] == "hit"
    assert r.json()["results"] == by_record.json()["results"][:2]
    # another workspace's token finds nothing (the kept ranking is keyed by workspace)
    assert client.post("/api/v1/patients/rank-3/match", json={}, headers=auth(tokens["B"])).status_code == 404
    # an unknown trial id is still refused
    r = client.post("/api/v1/patients/rank-3/match", json={"trial_ids": ["NCT00000000"]}, headers=h)
    assert r.status_code == 422
