"""FHIR out: ``trialmatch match --format fhir`` and ``/api/fhir``: a searchset Bundle of
ResearchStudy resources, valid against fhir.resources R4B, in the mCODE matching-service shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import auth, seed004_patient

R4B_bundle = pytest.importorskip("fhir.resources.R4B.bundle")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
EXT = "urn:trialmatch:fhir:StructureDefinition:"


def _validate(doc: dict):
    bundle = R4B_bundle.Bundle.model_validate(doc)
    assert bundle.type == "searchset"
    studies = [e for e in bundle.entry or [] if e.resource.get_resource_type() == "ResearchStudy"]
    assert bundle.total == len(studies)
    for e in studies:
        assert e.search.mode == "match" and 0 <= float(e.search.score) <= 1
    return bundle, studies


def _check_study_json(study: dict) -> None:
    assert study["resourceType"] == "ResearchStudy"
    assert study["identifier"][0]["value"]
    if study["identifier"][0]["value"].startswith("NCT"):
        assert study["identifier"][0]["system"] == "http://clinicaltrials.gov/"
    ext = {e["url"][len(EXT):]: e for e in study["extension"] if e["url"].startswith(EXT)}
    assert ext["match-verdict"]["valueCode"] in ("eligible", "uncertain", "ineligible")
    crit = [c for c in study.get("contained", []) if c["resourceType"] == "List"]
    assert ext["match-criteria"]["valueReference"]["reference"] == "#" + crit[0]["id"]
    assert crit[0]["entry"], "per-criterion outcomes"
    for entry in crit[0]["entry"]:
        assert entry["flag"]["coding"][0]["code"] in ("pass", "fail", "unknown", "confirm", "not_applicable")
        assert entry["item"]["display"]


@pytest.fixture()
def fhir_db(seed_db_template, tmp_path) -> str:
    import shutil

    path = tmp_path / "fhir.db"
    shutil.copy(seed_db_template[0], path)
    return str(path)


def _cli(args):
    from typer.testing import CliRunner

    from trialmatch.cli import app

    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("name", ["TrialMatching_Patient01.json", "TrialMatching_Patient02.json", "TEXT"])
def test_cli_format_fhir_is_an_r4b_searchset(name, fhir_db, data_dir):
    path = FIXTURES / "p7_denovo_palbo_eligible.txt" if name == "TEXT" else data_dir / "fhir" / name
    res = _cli(["match", str(path), "--db", fhir_db, "--format", "fhir"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    bundle, studies = _validate(doc)
    assert len(studies) == 5  # the five seeds, every one explained
    for e in doc["entry"]:
        if e["resource"]["resourceType"] == "ResearchStudy":
            _check_study_json(e["resource"])
    scores = [float(e.search.score) for e in studies]
    assert scores == sorted(scores, reverse=True), "entries in ranking order"
    ids = {s.resource.identifier[0].value for s in studies}
    assert "NCT04199520" in ids


def test_status_phase_conditions_sites_mapped(fhir_db):
    from trialmatch.matching.fhir_bundle import fhir_phase, fhir_status, report_to_searchset
    from trialmatch.matching import match_patient
    from trialmatch.patients import read_patient
    from trialmatch.store import TrialStore
    from trialmatch.criteria import COMPILER_VERSION

    assert fhir_status("RECRUITING") == "active"
    assert fhir_status("Active, not recruiting") == "closed-to-accrual"
    assert fhir_status("NOT_YET_RECRUITING") == "approved"
    assert fhir_status(None) == "in-review"
    assert fhir_phase(["PHASE1", "PHASE2"])["coding"][0]["code"] == "phase-1-phase-2"
    assert fhir_phase(["PHASE3"])["coding"][0]["code"] == "phase-3"
    assert fhir_phase([]) is None
    pairs = TrialStore(fhir_db).load_for_matching(COMPILER_VERSION)
    trials = {t.id: t for t, _ in pairs}
    report = match_patient(read_patient(FIXTURES / "p7_denovo_palbo_eligible.json"), pairs)
    doc = report_to_searchset(report, trials)
    _validate(doc)
    for e in doc["entry"]:
        study = e["resource"]
        trial = trials[study["identifier"][0]["value"]]
        assert study["status"] == fhir_status(trial.status)
        assert [c["text"] for c in study.get("condition", [])] == [c for c in trial.conditions if c]
        sites = [c for c in study.get("contained", []) if c["resourceType"] == "Location"]
        assert len(study.get("site", [])) == len(sites)
        if any(loc.facility or loc.city for loc in trial.locations):
            assert sites, f"{trial.id}: its sites are listed"


def test_api_fhir_match_answers_a_searchset(web, data_dir):
    _, client, tokens = web
    body = (data_dir / "fhir" / "TrialMatching_Patient01.json").read_bytes()
    r = client.post("/api/fhir/match", content=body, headers={**auth(tokens["A"]), "Content-Type": "application/fhir+json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle, studies = _validate(r.json())
    assert len(studies) == 5
    # the mCODE matching app's request shape: {"patientData": Bundle}
    wrapped = client.post("/api/fhir/match", json={"patientData": json.loads(body)}, headers=auth(tokens["A"]))
    assert wrapped.status_code == 200
    assert [e["resource"]["id"] for e in wrapped.json()["entry"]] == [e["resource"]["id"] for e in r.json()["entry"]]
    top = client.post("/api/fhir/match?top=2&status=RECRUITING", content=body, headers=auth(tokens["A"]))
    assert top.status_code == 200 and top.json()["total"] <= 2
    assert client.get("/api/v1/patients", headers=auth(tokens["A"])).json()["items"] == [], "nothing stored"


@pytest.mark.parametrize("body,status,needle", [
    (b"", 400, "empty"),
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 422, "resourceType"),
    (b'{"resourceType": "Patient", "gender": "female"}', 422, "'Bundle'"),
    (b'{"resourceType": "Bundle", "type": "collection"}', 422, "Bundle.entry"),
    (b'{"resourceType": "Bundle", "entry": 7}', 422, "Bundle.entry"),
    (b'{"patientData": "{oops"}', 400, "patientData"),
    (b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation"}}]}', 422, ""),
])
def test_api_fhir_match_refuses_a_malformed_bundle(web, body, status, needle):
    _, client, tokens = web
    r = client.post("/api/fhir/match", content=body, headers={**auth(tokens["A"]), "Content-Type": "application/fhir+json"})
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]
    assert r.json()["detail"]


def test_api_fhir_stored_patient_and_other_workspace(web):
    _, client, tokens = web
    assert client.post("/api/v1/patients", json=seed004_patient("p004"), headers=auth(tokens["A"])).status_code == 201
    r = client.post("/api/fhir/patients/p004/match", headers=auth(tokens["A"]))
    assert r.status_code == 200, r.text
    _, studies = _validate(r.json())
    assert len(studies) == 5
    other = client.post("/api/fhir/patients/p004/match", headers=auth(tokens["B"]))
    assert other.status_code == 404
    assert client.post("/api/fhir/match", content=b"{}", headers={"Content-Type": "application/fhir+json"}).status_code == 401


def test_docs_and_redoc_are_served_from_the_app(web):
    _, client, _ = web
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        page = client.get(path)
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "googleapis" not in page.text
        assert f"/static-docs/{asset}" in page.text
        js = client.get(f"/static-docs/{asset}")
        assert js.status_code == 200 and len(js.content) > 100_000
