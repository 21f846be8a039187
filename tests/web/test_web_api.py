"""REST API through FastAPI's test client: every endpoint, its errors, and its access rules."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import auth, seed004_patient

SEED004 = "004_21168ffcb5444652"
SEED003 = "NCT04199520"


def _create(client, token, patient=None, **kw):
    return client.post("/api/v1/patients", json=patient or seed004_patient(), headers=auth(token), **kw)


# ----------------------------------------------------------------------------- access rules
@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/trials"), ("get", f"/api/v1/trials/{SEED004}"), ("post", "/api/v1/trials"),
    ("get", "/api/v1/patients"), ("post", "/api/v1/patients"), ("get", "/api/v1/patients/p004"),
    ("put", "/api/v1/patients/p004"), ("delete", "/api/v1/patients/p004"),
    ("post", "/api/v1/patients/p004/match"), ("get", "/api/v1/patients/p004/matches.csv"),
    ("get", "/api/v1/patients/p004/checklist"), ("get", "/api/v1/changes"),
])
def test_every_endpoint_needs_auth(web, method, path):
    _, client, tokens = web
    r = getattr(client, method)(path)
    assert r.status_code == 401, (path, r.status_code)
    assert "Bearer" in r.headers.get("www-authenticate", "")
    r = getattr(client, method)(path, headers=auth("tm_not-a-real-token"))
    assert r.status_code == 401


def test_workspace_isolation(web):
    _, client, tokens = web
    assert _create(client, tokens["A"]).status_code == 201
    for method, path in [("get", "/api/v1/patients/p004"), ("post", "/api/v1/patients/p004/match"),
                         ("get", "/api/v1/patients/p004/matches.csv"), ("get", "/api/v1/patients/p004/checklist"),
                         ("delete", "/api/v1/patients/p004")]:
        r = getattr(client, method)(path, headers=auth(tokens["B"]))
        assert r.status_code == 404, (method, path, r.status_code)
    r = client.put("/api/v1/patients/p004", json=seed004_patient(), headers=auth(tokens["B"]))
    assert r.status_code == 404
    assert client.get("/api/v1/patients", headers=auth(tokens["B"])).json() == {"items": []}
    assert client.get("/api/v1/patients", headers=auth(tokens["A"])).json() == {"items": [{"id": "p004"}]}
    # B may hold its own patient with the same id; A's stays untouched
    assert _create(client, tokens["B"], seed004_patient(name="B's own")).status_code == 201
    assert client.get("/api/v1/patients/p004", headers=auth(tokens["A"])).json()["patient"]["name"] is None


def test_session_cookie_writes_need_csrf_header(web):
    _, client, _ = web
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": "alice", "password": "alice-password-1", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/patients").status_code == 200  # reads work with the session
    assert client.post("/api/v1/patients", json=seed004_patient()).status_code == 403
    home = client.get("/")
    csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/api/v1/patients", json=seed004_patient(), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


# ----------------------------------------------------------------------------- trials
def test_list_and_filter_trials(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    r = client.get("/api/v1/trials", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 5 and {t["id"] for t in body["items"]} >= {SEED003, SEED004}
    r = client.get("/api/v1/trials", params={"status": "WITHDRAWN"}, headers=h).json()
    assert [t["id"] for t in r["items"]] == [SEED003]
    r = client.get("/api/v1/trials", params={"q": "palbociclib"}, headers=h).json()
    assert SEED004 in [t["id"] for t in r["items"]]
    r = client.get("/api/v1/trials", params={"phase": "PHASE2"}, headers=h).json()
    assert r["items"] and all("PHASE2" in t["phases"] for t in r["items"])
    r = client.get("/api/v1/trials", params={"intervention": "fulvestrant"}, headers=h).json()
    assert r["items"] and all(any("fulvestrant" in i.lower() for i in t["interventions"]) for t in r["items"])
    r = client.get("/api/v1/trials", params={"condition": "breast"}, headers=h).json()
    assert r["total"] >= 1
    r = client.get("/api/v1/trials", params={"country": "Nowhere-land"}, headers=h).json()
    assert r["total"] == 0
    r = client.get("/api/v1/trials", params={"limit": 2, "offset": 1}, headers=h).json()
    assert len(r["items"]) == 2 and r["offset"] == 1
    assert client.get("/api/v1/trials", params={"limit": 0}, headers=h).status_code == 422


def test_get_trial_with_results_and_checks(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    r = client.get(f"/api/v1/trials/{SEED003}", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["trial"]["status"] == "WITHDRAWN"
    assert body["compiled"]["criteria"], "compiled criteria are returned"
    pub = client.get("/api/v1/trials/002_cc6ceb7d8253810e", headers=h).json()
    assert pub["results"] is not None and pub["results"]["statistics"]
    assert pub["results_checks"], "the statistics check runs on published results"
    r = client.get("/api/v1/trials/NCT00000000", headers=h)
    assert r.status_code == 404 and "NCT00000000" in r.json()["detail"]


def test_ingest_trial_raw_and_upload(web, seeds_dir):
    _, client, tokens = web
    h = auth(tokens["A"])
    doc = (seeds_dir / "003_ca8a1317ec4e9225.txt").read_bytes()
    r = client.post("/api/v1/trials", content=doc, headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    assert r.json()["trials"][0] == r.json()["trials"][0] | {"id": SEED003, "status": "unchanged"}
    r = client.post("/api/v1/trials", params={"id": "MY-COPY-1"}, headers=h,
                    files={"file": ("copy.txt", doc, "text/plain")})
    assert r.status_code == 201, r.text
    got = r.json()["trials"][0]
    assert got["id"] == "MY-COPY-1" and got["status"] == "new" and got["version"] == 1
    assert sum(got["criteria"].values()) > 0
    assert client.get("/api/v1/trials/MY-COPY-1", headers=h).status_code == 200
    assert client.get("/api/v1/trials", headers=h).json()["total"] == 6


@pytest.mark.parametrize("body,ctype", [
    (b"", "text/plain"),
    (b'{"studies": [{"protocolSection": ', "application/json"),
    (b"\x00\x01\x02\xff\xfe binary", "application/octet-stream"),
])
def test_ingest_bad_trial_is_4xx_and_stores_nothing(web, body, ctype):
    _, client, tokens = web
    h = auth(tokens["A"])
    r = client.post("/api/v1/trials", content=body, headers={**h, "Content-Type": ctype})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]
    assert client.get("/api/v1/trials", headers=h).json()["total"] == 5


def test_ingest_multipart_without_file(web):
    _, client, tokens = web
    r = client.post("/api/v1/trials", data={"x": "1"}, files={"other": ("a.txt", b"abc")},
                    headers=auth(tokens["A"]))
    assert r.status_code == 400 and "file" in r.json()["detail"]


# ----------------------------------------------------------------------------- patients CRUD
def test_patient_crud(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    r = _create(client, tokens["A"])
    assert r.status_code == 201
    assert r.json()["version"] == 1 and r.json()["workspace"] == "A"
    got = client.get("/api/v1/patients/p004", headers=h).json()
    assert got["patient"]["biomarkers"][0]["percent"] == 80
    changed = seed004_patient()
    changed["performance"][0]["value"] = 1
    r = client.put("/api/v1/patients/p004", json=changed, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["patient"]["performance"][0]["value"] == 1
    # the id in the path wins over the document's
    r = client.put("/api/v1/patients/p004", json=seed004_patient("other-id"), headers=h)
    assert r.status_code == 200 and r.json()["id"] == "p004"
    assert client.put("/api/v1/patients/nobody", json=seed004_patient(), headers=h).status_code == 404
    assert client.delete("/api/v1/patients/p004", headers=h).status_code == 204
    assert client.get("/api/v1/patients/p004", headers=h).status_code == 404
    assert client.delete("/api/v1/patients/p004", headers=h).status_code == 404


def test_patient_from_text_summary(web):
    _, client, tokens = web
    h = {**auth(tokens["A"]), "Content-Type": "text/plain"}
    note = ("62-year-old postmenopausal woman with de novo metastatic breast cancer to bone. "
            "ER 90%, PR 20%, HER2 1+. ECOG 0. No brain metastases.")
    r = client.post("/api/v1/patients", params={"id": "note-1"}, content=note.encode(), headers=h)
    assert r.status_code == 201, r.text
    p = r.json()["patient"]
    assert p["id"] == "note-1"
    assert any(b["name"] == "ER" and b["percent"] == 90 for b in p["biomarkers"])


def test_patient_from_fhir_bundle(web, data_dir):
    _, client, tokens = web
    bundles = sorted((data_dir / "fhir").glob("*.json"))
    assert bundles, "the shared data holds FHIR bundles"
    r = client.post("/api/v1/patients", params={"format": "fhir", "id": "fhir-1"}, headers=auth(tokens["A"]),
                    files={"file": (bundles[0].name, bundles[0].read_bytes(), "application/fhir+json")})
    assert r.status_code == 201, r.text
    assert r.json()["patient"]["diagnoses"], "the bundle's cancer diagnosis was read"


@pytest.mark.parametrize("body,ctype,params,needle", [
    (b'{"id": "x", "age_years": ', "application/json", {}, "malformed JSON"),
    (json.dumps({**seed004_patient("bad-age"), "age_years": 250}).encode(), "application/json", {}, "age"),
    (json.dumps({**seed004_patient("bad-lab"), "labs": [{"analyte": "platelets", "value": -5, "unit": "10^9/L"}]}).encode(),
     "application/json", {}, "labs"),
    (json.dumps({**seed004_patient("future"), "as_of": "2026-01-01"}).encode(), "application/json", {}, "future"),
    (json.dumps({**seed004_patient("types"), "sex": 12}).encode(), "application/json", {}, "sex"),
    (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": "not-a-list"}).encode(), "application/json", {"format": "fhir"}, ""),
    (b"", "text/plain", {}, "empty"),
    (json.dumps(seed004_patient("wrong-format")).encode(), "application/json", {"format": "xml"}, ""),
    (json.dumps(seed004_patient("bad id!")).encode(), "application/json", {}, "id"),
])
def test_bad_patient_is_4xx_and_not_saved(web, body, ctype, params, needle):
    _, client, tokens = web
    h = {**auth(tokens["A"]), "Content-Type": ctype}
    r = client.post("/api/v1/patients", content=body, params=params, headers=h)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert needle.lower() in r.json()["detail"].lower() if isinstance(r.json()["detail"], str) else True
    assert client.get("/api/v1/patients", headers=auth(tokens["A"])).json() == {"items": []}


def test_put_bad_patient_keeps_old_version(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    bad = {**seed004_patient(), "age_years": -3}
    assert client.put("/api/v1/patients/p004", json=bad, headers=h).status_code == 422
    got = client.get("/api/v1/patients/p004", headers=h).json()
    assert got["version"] == 1 and got["patient"]["age_years"] == 62


def test_body_size_limit(web):
    _, client, tokens = web
    big = b'{"id": "big", "pad": "' + b"x" * (300 * 1024) + b'"}'
    r = client.post("/api/v1/patients", content=big, headers={**auth(tokens["A"]), "Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


# ----------------------------------------------------------------------------- match and exports
def test_match_same_json_as_cli(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    r = client.post("/api/v1/patients/p004/match", json={}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patient"]["id"] == "p004" and len(body["results"]) == 5
    by_id = {m["trial_id"]: m for m in body["results"]}
    assert by_id[SEED003]["closed"] is True and by_id[SEED003]["status"] == "WITHDRAWN"
    for m in body["results"]:
        assert {"trial_id", "title", "status", "verdict", "score", "criteria"} <= set(m)
        for c in m["criteria"]:
            assert {"kind", "text", "outcome", "reason", "evidence"} <= set(c)
    # exactly the JSON of `trialmatch match --format json` (MatchReport.to_output_json())
    from trialmatch.matching import match_patient
    from trialmatch.patients import read_patient_bytes
    from trialmatch.web import services

    app = web[0]
    patient = read_patient_bytes(json.dumps(seed004_patient()).encode(), "p004.json", fmt="json")
    direct = match_patient(patient, app.state.tm.store.load_for_matching(services.compiler_version()))
    assert body == json.loads(json.dumps(direct.to_output_json()))


def test_match_verdict_for_seed004_population(web):
    """A patient of seed 004's own population must not come out ineligible for it."""
    _, client, tokens = web
    _create(client, tokens["A"])
    body = client.post("/api/v1/patients/p004/match", json={}, headers=auth(tokens["A"])).json()
    m = {m["trial_id"]: m for m in body["results"]}[SEED004]
    fails = [(c["text"], c["reason"]) for c in m["criteria"] if c["outcome"] == "fail"]
    assert m["verdict"] != "ineligible", fails


def test_match_options_and_errors(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    r = client.post("/api/v1/patients/p004/match", json={"trial_ids": [SEED004]}, headers=h).json()
    assert [m["trial_id"] for m in r["results"]] == [SEED004]
    r = client.post("/api/v1/patients/p004/match", json={"status": ["WITHDRAWN"]}, headers=h).json()
    assert [m["trial_id"] for m in r["results"]] == [SEED003]
    r = client.post("/api/v1/patients/p004/match", json={"top": 2}, headers=h).json()
    assert len(r["results"]) == 2
    r = client.post("/api/v1/patients/p004/match", json={"trial_ids": ["NCT99999999"]}, headers=h)
    assert r.status_code == 422 and "NCT99999999" in r.json()["detail"]
    r = client.post("/api/v1/patients/p004/match", json={"top": 0}, headers=h)
    assert r.status_code == 422
    r = client.post("/api/v1/patients/p004/match", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert client.post("/api/v1/patients/nobody/match", json={}, headers=h).status_code == 404


def test_match_cache_follows_patient_version(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    first = client.post("/api/v1/patients/p004/match", json={}, headers=h)
    # the ranking started in the background when the patient was saved: ready (hit) or not yet
    assert first.headers["x-trialmatch-cache"] in ("hit", "miss")
    again = client.post("/api/v1/patients/p004/match", json={}, headers=h)
    assert again.headers["x-trialmatch-cache"] == "hit" and again.content == first.content
    # a new version (ER now negative, a prior CDK4/6 inhibitor) must be matched afresh
    changed = seed004_patient()
    changed["biomarkers"][0] = {"name": "ER", "status": "negative", "percent": 0}
    changed["treatments"] = [{"drugs": ["palbociclib", "letrozole"], "setting": "metastatic",
                              "start": "2026-09-20", "progressed": True, "progression_date": "2026-10-25"}]
    changed["sources"] = {}
    changed["assertions"] = [{"subject": "metastasis:brain", "present": False}]
    assert client.put("/api/v1/patients/p004", json=changed, headers=h).status_code == 200
    second = client.post("/api/v1/patients/p004/match", json={}, headers=h)
    assert second.content != first.content  # the new version's own ranking, not the old answer
    m = {m["trial_id"]: m for m in second.json()["results"]}[SEED004]
    assert m["verdict"] == "ineligible"
    outcomes = lambda r: {(m["trial_id"], c["id"]): c["outcome"]  # noqa: E731
                          for m in r.json()["results"] for c in m["criteria"]}
    assert outcomes(second) != outcomes(first)


def test_matches_csv_and_checklist(web):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    r = client.get("/api/v1/patients/p004/matches.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["trial_id"] for row in rows} == {"000_f365612121a3c530", "001_0908de8918da363a",
                                                "002_cc6ceb7d8253810e", SEED003, SEED004}
    r = client.get("/api/v1/patients/p004/checklist", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert SEED004 in r.text and "@media print" in r.text
    assert r.headers["cache-control"] == "no-store"


def test_changes(web):
    _, client, tokens = web
    r = client.get("/api/v1/changes", headers=auth(tokens["A"]))
    assert r.status_code == 200
    assert set(r.json()) == {"available", "changes"}


def test_openapi_document(web):
    _, client, _ = web
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for p in ["/api/v1/trials", "/api/v1/trials/{trial_id}", "/api/v1/patients", "/api/v1/patients/{patient_id}",
              "/api/v1/patients/{patient_id}/match", "/api/v1/patients/{patient_id}/matches.csv",
              "/api/v1/patients/{patient_id}/checklist", "/api/v1/changes"]:
        assert p in paths
    match_schema = paths["/api/v1/patients/{patient_id}/match"]["post"]["responses"]["200"]
    assert match_schema["content"]["application/json"]["schema"]["$ref"].endswith("/MatchOut")
    assert "text/plain" in paths["/api/v1/patients"]["post"]["requestBody"]["content"]


def test_new_trial_invalidates_match_cache(web, seeds_dir):
    _, client, tokens = web
    h = auth(tokens["A"])
    _create(client, tokens["A"])
    assert len(client.post("/api/v1/patients/p004/match", json={}, headers=h).json()["results"]) == 5
    doc = (seeds_dir / "001_0908de8918da363a.txt").read_bytes()
    r = client.post("/api/v1/trials", params={"id": "COPY-001"}, content=doc, headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 201
    r = client.post("/api/v1/patients/p004/match", json={}, headers=h)
    assert r.headers["x-trialmatch-cache"] == "refresh"  # only the new trial is evaluated
    assert "COPY-001" in {m["trial_id"] for m in r.json()["results"]}
