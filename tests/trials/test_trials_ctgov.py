"""ClinicalTrials.gov API v2 JSON (study, page, NDJSON) and legacy XML."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from trialmatch.trials import detect_format, read_bytes, read_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trials"


@pytest.fixture()
def study() -> dict:
    return json.loads((FIXTURES / "study_v2.json").read_text("utf-8"))


def test_v2_single_study_maps_every_module() -> None:
    data = (FIXTURES / "study_v2.json").read_bytes()
    assert detect_format(data, "study_v2.json") == "ctgov_v2_json"
    [r] = read_bytes(data, "study_v2.json")
    assert r.error is None and r.locator == "study_v2.json"
    t = r.trial
    assert t.id == "NCT09000003"
    assert t.other_ids == ["EX-003", "2020-000111-22"]
    assert (t.title, t.acronym) == ("Invented Study of Drug X Versus Placebo in Advanced Breast Cancer",
                                    "INVENT")
    assert t.official_title.startswith("A Randomised, Double-blind")
    assert (t.status, t.start_date, t.last_update_posted) == ("COMPLETED", "2018-02", "2022-05-10")
    assert (t.brief_summary, t.description) == ("Drug X or placebo with letrozole.", "Longer text.")
    assert t.conditions == ["Breast Cancer"] and t.keywords == ["HR+", "HER2-"]
    assert (t.study_type, t.phases) == ("INTERVENTIONAL", ["PHASE3"])
    assert [(a.label, a.type, a.interventions) for a in t.arms][0] == (
        "Drug X + letrozole", "EXPERIMENTAL", ["Drug: Drug X", "Drug: Letrozole"])
    dx = t.interventions[0]
    assert (dx.type, dx.name, dx.other_names, dx.arm_labels) == (
        "DRUG", "Drug X", ["DX-1"], ["Drug X + letrozole"])
    assert [(o.measure, o.time_frame, o.description) for o in t.primary_outcomes] == [
        ("Progression-free survival", "up to 36 months", "RECIST 1.1")]
    assert [o.measure for o in t.secondary_outcomes] == ["Overall survival"]
    e = t.eligibility
    assert (e.min_age_years, e.max_age_years, e.sex, e.healthy_volunteers) == (18, 0.5, "FEMALE", False)
    assert e.criteria_text.startswith("Inclusion Criteria:")
    assert (t.sponsor.name, t.sponsor.class_) == ("Invented Sponsor", "INDUSTRY")
    assert [c.name for c in t.collaborators] == ["Invented Network"]
    loc = t.locations[0]
    assert (loc.facility, loc.city, loc.country, loc.status, loc.lat, loc.lon) == (
        "Invented Hospital", "Lyon", "France", "RECRUITING", 45.75, 4.85)
    assert t.provenance.sha256 == hashlib.sha256(data).hexdigest()
    assert t.provenance.source_format == "ctgov_v2_json"


def test_v2_results_section() -> None:
    [r] = read_bytes((FIXTURES / "study_v2.json").read_bytes(), "study_v2.json")
    res = r.trial.results
    assert res.source == "ctgov_results_section"
    assert [(a.label, a.size) for a in res.arms] == [("Drug X + letrozole", 120),
                                                     ("Placebo + letrozole", 118)]
    med = [s for s in res.statistics if s.kind == "median"]
    assert [(s.arm, s.value, s.n, s.unit) for s in med] == [
        ("Drug X + letrozole", 14.2, 120, "months"), ("Placebo + letrozole", 9.1, 118, "months")]
    assert (med[0].ci.lower, med[0].ci.upper, med[0].ci.level) == (11.0, 17.5, 0.95)
    assert med[1].ci is None  # upper limit "NA": no interval invented
    [hr] = [s for s in res.statistics if s.kind == "hazard_ratio"]
    assert (hr.value, hr.ci.lower, hr.ci.upper, hr.p_value) == (0.62, 0.45, 0.85, 0.003)
    assert (hr.arm, hr.comparator_arm) == ("Drug X + letrozole", "Placebo + letrozole")
    ae = {s.arm: (s.value, s.n) for s in res.statistics if "Neutropenia" in s.outcome}
    assert ae == {"Drug X + letrozole": (50.0, 120), "Placebo + letrozole": (5.08, 118)}


def test_v2_page_and_array(study: dict) -> None:
    other = json.loads(json.dumps(study))
    other["protocolSection"]["identificationModule"]["nctId"] = "NCT09000004"
    page = json.dumps({"studies": [study, other], "nextPageToken": "abc"}, indent=2).encode()
    results = read_bytes(page, "page.json")
    assert [r.trial.id for r in results] == ["NCT09000003", "NCT09000004"]
    assert [r.locator for r in results] == ["page.json#1", "page.json#2"]
    canon = json.dumps(other, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert results[1].trial.provenance.sha256 == hashlib.sha256(canon).hexdigest()
    arr = read_bytes(json.dumps([study]).encode(), "arr.json")
    assert arr[0].trial.id == "NCT09000003"


def test_ndjson_bad_line_does_not_stop_the_others(study: dict) -> None:
    good = json.dumps(study).encode()
    other = json.loads(good)
    other["protocolSection"]["identificationModule"]["nctId"] = "NCT09000005"
    no_id = {"protocolSection": {"identificationModule": {"briefTitle": "x"}}}
    wrong = json.loads(good)
    wrong["protocolSection"]["conditionsModule"]["conditions"] = "Breast Cancer"
    lines = [good, b'{"protocolSection": {', json.dumps(other).encode(), b"",
             json.dumps(no_id).encode(), json.dumps(wrong).encode()]
    data = b"\n".join(lines) + b"\n"
    assert detect_format(data, "x.ndjson") == "ctgov_v2_json"
    results = read_bytes(data, "x.ndjson")
    assert [r.locator for r in results] == ["x.ndjson:1", "x.ndjson:2", "x.ndjson:3",
                                            "x.ndjson:5", "x.ndjson:6"]
    assert results[0].trial.id == "NCT09000003"
    assert results[0].trial.provenance.sha256 == hashlib.sha256(good).hexdigest()
    bad = results[1].error
    assert results[1].trial is None and "malformed JSON on line 2" in str(bad)
    assert str(bad).startswith("x.ndjson:2: ")
    assert results[2].trial.id == "NCT09000005"
    assert results[3].trial is None and "without an id" in results[3].error.message
    assert results[3].error.field == "protocolSection.identificationModule.nctId"
    assert results[4].trial is None
    assert results[4].error.field == "protocolSection.conditionsModule.conditions"
    assert "must be an array" in results[4].error.message


def test_v2_wrong_types_name_the_field(study: dict) -> None:
    cases = {
        ("eligibilityModule", "healthyVolunteers"): "yes",
        ("designModule", "phases"): [2],
        ("statusModule", "overallStatus"): 3,
        ("armsInterventionsModule", "interventions"): {"name": "x"},
    }
    for (module, key), bad in cases.items():
        s = json.loads(json.dumps(study))
        s["protocolSection"][module][key] = bad
        [r] = read_bytes(json.dumps(s).encode(), "s.json")
        assert r.trial is None, (module, key)
        assert r.error.field.startswith(f"protocolSection.{module}.{key}")
        assert r.error.file_name == "s.json"


def test_id_override(study: dict) -> None:
    [r] = read_bytes(json.dumps(study).encode(), "s.json", id_override="MY-ID")
    assert r.trial.id == "MY-ID" and "NCT09000003" in r.trial.other_ids
    page = json.dumps({"studies": [study, study]}).encode()
    [r] = read_bytes(page, "p.json", id_override="MY-ID")
    assert r.trial is None and "one trial" in r.error.message


def test_legacy_xml_fixture() -> None:
    data = (FIXTURES / "legacy_study.xml").read_bytes()
    assert detect_format(data, "legacy_study.xml") == "ctgov_legacy_xml"
    [r] = read_bytes(data, "legacy_study.xml")
    t = r.trial
    assert r.error is None
    assert t.id == "NCT09000001" and t.other_ids == ["TMX-LEG-01", "2019-001234-56"]
    assert (t.title, t.acronym) == (
        "Exemestane With or Without a Test Kinase Inhibitor in ER-positive Advanced Breast Cancer",
        "EXKI")
    assert t.phases == ["PHASE1", "PHASE2"]
    assert (t.status, t.why_stopped, t.study_type) == ("TERMINATED", "Slow accrual", "INTERVENTIONAL")
    assert t.conditions == ["Breast Cancer", "Metastatic Breast Cancer"]
    ex = t.interventions[0]
    assert (ex.type, ex.name, ex.other_names) == ("DRUG", "Exemestane", ["Aromasin"])
    assert ex.arm_labels == ["Exemestane + testinib", "Exemestane"]
    assert [(a.label, a.type) for a in t.arms] == [("Exemestane + testinib", "EXPERIMENTAL"),
                                                   ("Exemestane", "ACTIVE_COMPARATOR")]
    assert [(o.measure, o.time_frame) for o in t.primary_outcomes] == [
        ("Progression-free survival", "24 months")]
    assert t.secondary_outcomes[0].description == "RECIST 1.1"
    e = t.eligibility
    assert (e.min_age_years, e.max_age_years, e.sex, e.healthy_volunteers) == (18, None, "FEMALE", False)
    assert e.criteria_text.startswith("Inclusion Criteria:") and "Prior exemestane" in e.criteria_text
    assert t.sponsor.name == "Example Oncology Group"
    assert [c.name for c in t.collaborators] == ["Example Pharma"]
    loc = t.locations[0]
    assert (loc.facility, loc.city, loc.country, loc.status) == (
        "Example University Hospital", "Lyon", "France", "RECRUITING")
    assert t.last_update_posted == "June 1, 2020"


def test_legacy_xml_without_id_and_other_roots() -> None:
    [r] = read_bytes(b"<clinical_study><brief_title>x</brief_title></clinical_study>", "a.xml")
    assert r.trial is None and r.error.field == "id_info/nct_id"
    [r] = read_bytes(b"<clinical_study><id_info><nct_id>NCT1</nct_id>", "b.xml")
    assert r.trial is None and "malformed XML" in r.error.message
    [r] = read_bytes(b"<?xml version='1.0'?><catalog><book/></catalog>", "c.xml")
    assert r.trial is None and "unrecognised format" in r.error.message


def test_all_shared_records_read_fast(data_dir: Path) -> None:
    """All 55 + 4,868 API v2 records read without error, above 1,000 records/s."""
    files = [data_dir / "ctgov-v2" / "breast_trials.ndjson", data_dir / "hint" / "trials.ndjson"]
    n = errors = with_results = titled = 0
    start = time.perf_counter()
    for f in files:
        for r in read_path(f):
            n += 1
            if r.error is not None:
                errors += 1
                continue
            with_results += r.trial.results is not None
            titled += r.trial.title is not None
    elapsed = time.perf_counter() - start
    assert (n, errors) == (4923, 0)
    assert titled == 55  # the HINT records carry no title: it stays None
    assert with_results >= 1
    assert n / elapsed > 1000, f"{n / elapsed:.0f} records/s"  # the target; several times that on a quiet machine
