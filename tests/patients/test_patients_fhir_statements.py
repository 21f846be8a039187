"""FHIR reader: explicit "none" statements (nil-known Lists, not-taken medications, refuted
conditions), contradictions between them and recorded facts, and non-Bundle input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialmatch.patients import PatientReadError, read_patient, read_patient_bytes
from trialmatch.patients.fhir_reader import read_fhir_patient

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
LIST_EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SETTING = "http://trialmatch.example.org/fhir/StructureDefinition/treatment-setting"


def cc(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def bundle(*resources: dict) -> dict:
    entries = [{"fullUrl": "urn:uuid:pt", "resource": {"resourceType": "Patient", "id": "pt", "gender": "female",
                                                        "birthDate": "1965-03-01"}}]
    for i, r in enumerate(resources):
        r = dict(r)
        r.setdefault("id", f"r{i}")
        r.setdefault("subject", {"reference": "Patient/pt"})
        entries.append({"fullUrl": f"urn:uuid:{r['id']}", "resource": r})
    return {"resourceType": "Bundle", "type": "collection", "timestamp": "2026-11-01T00:00:00Z", "entry": entries}


def med_history_list(reason: str | None = "nilknown", setting: str | None = None, **extra) -> dict:
    r = {"resourceType": "List", "id": "hist", "status": "current", "mode": "snapshot",
         "code": cc(LOINC, "10160-0", "History of Medication use Narrative")}
    if reason:
        r["emptyReason"] = cc(LIST_EMPTY, reason)
    if setting:
        r["extension"] = [{"url": SETTING, "valueCode": setting}]
    r.update(extra)
    return r


def statement(status: str, med: dict, rid: str = "ms", setting: str | None = None, **extra) -> dict:
    r = {"resourceType": "MedicationStatement", "id": rid, "status": status, "medicationCodeableConcept": med}
    if setting:
        r["extension"] = [{"url": SETTING, "valueCode": setting}]
    r.update(extra)
    return r


def read(b: dict):
    return read_fhir_patient(json.dumps(b), "t.fhir.json")


def subjects(p) -> dict[str, tuple[bool, str]]:
    return {a.subject: (a.present, a.source.locator) for a in p.assertions}


# ---------------------------------------------------------------------------- List + emptyReason
def test_nilknown_medication_history_is_an_explicit_empty_treatment_history() -> None:
    p = read(bundle(med_history_list()))
    assert subjects(p) == {"treatment:systemic_therapy": (False, "List/hist")}
    assert p.treatments == [] and p.medications == []
    assert p.sources["treatments"].locator == "List/hist"  # the structured source's explicit empty list
    assert not [w for w in p.warnings if "List" in w]


def test_nilknown_list_scoped_to_a_setting_says_only_that_setting() -> None:
    p = read(bundle(med_history_list(setting="metastatic")))
    assert subjects(p) == {"treatment:systemic_therapy:metastatic": (False, "List/hist")}
    assert "treatments" not in p.sources  # adjuvant therapy is not ruled out


@pytest.mark.parametrize("reason", ["notasked", "unavailable", "withheld", "notstarted", None])
def test_empty_list_without_nilknown_says_nothing(reason) -> None:
    p = read(bundle(med_history_list(reason)))
    assert p.assertions == [] and "treatments" not in p.sources
    assert any("List/hist" in w and "nilknown" in w for w in p.warnings), p.warnings


def test_list_with_entries_is_not_a_nil_statement() -> None:
    ms = statement("completed", cc(RXNORM, "72965", "letrozole"), effectivePeriod={"start": "2025-01-01"})
    lst = med_history_list(None, entry=[{"item": {"reference": "MedicationStatement/ms"}},
                                        {"item": {"reference": "MedicationStatement/elsewhere"}}])
    p = read(bundle(ms, lst))
    assert p.assertions == [] and [t.drugs for t in p.treatments] == [["letrozole"]]
    assert any("MedicationStatement/elsewhere" in w and "not in the Bundle" in w for w in p.warnings)


def test_nilknown_history_beside_a_recorded_treatment_is_dropped_with_a_warning() -> None:
    ms = statement("completed", cc(RXNORM, "72965", "letrozole"), effectivePeriod={"start": "2025-01-01"})
    p = read(bundle(ms, med_history_list()))
    assert p.assertions == [] and "treatments" not in p.sources
    assert [t.drugs for t in p.treatments] == [["letrozole"]]
    assert any(w.startswith("List/hist") and "MedicationStatement/ms" in w for w in p.warnings), p.warnings


def test_scoped_nilknown_history_only_clashes_with_treatment_in_that_setting() -> None:
    adj = statement("completed", cc(RXNORM, "10324", "tamoxifen"), rid="adj", setting="adjuvant",
                    effectivePeriod={"start": "2015-01-01", "end": "2020-01-01"})
    p = read(bundle(adj, med_history_list(setting="metastatic")))
    assert "treatment:systemic_therapy:metastatic" in subjects(p)
    met = statement("completed", cc(RXNORM, "72965", "letrozole"), rid="met", setting="metastatic",
                    effectivePeriod={"start": "2025-01-01"})
    p = read(bundle(adj, met, med_history_list(setting="metastatic")))
    assert "treatment:systemic_therapy:metastatic" not in subjects(p)
    assert any("MedicationStatement/met" in w for w in p.warnings)


def test_nilknown_problem_list() -> None:
    lst = {"resourceType": "List", "id": "probs", "status": "current", "mode": "snapshot",
           "code": cc(LOINC, "11450-4", "Problem list - Reported"), "emptyReason": cc(LIST_EMPTY, "nilknown")}
    assert subjects(read(bundle(lst))) == {"condition:any": (False, "List/probs")}


def test_list_of_another_kind_is_reported_not_used() -> None:
    lst = {"resourceType": "List", "id": "al", "status": "current", "mode": "snapshot",
           "code": cc(LOINC, "52472-8", "Allergies and adverse reactions"), "emptyReason": cc(LIST_EMPTY, "nilknown")}
    p = read(bundle(lst))
    assert p.assertions == [] and any(w.startswith("List/al") and "not used" in w for w in p.warnings)


# ---------------------------------------------------------------------------- not-taken
@pytest.mark.parametrize("med, setting, subject", [
    (cc(RXNORM, "1601374", "palbociclib"), None, "treatment:palbociclib"),
    (cc(ATC, "L01EF", "Cyclin-dependent kinase (CDK) inhibitors"), None, "treatment:cdk46_inhibitor"),
    ({"text": "CDK4/6 inhibitor"}, None, "treatment:cdk46_inhibitor"),
    ({"text": "Cytotoxic chemotherapy"}, "metastatic", "treatment:chemotherapy:metastatic"),
    ({"text": "Strong CYP3A4 inhibitors or inducers"}, None, "medication:strong_cyp3a4_modulator"),
    ({"text": "strong CYP3A4 inhibitor"}, None, "medication:strong_cyp3a4_inhibitor"),
    (cc(RXNORM, "11289", "warfarin"), None, "medication:warfarin"),
])
def test_not_taken_statement_is_an_assertion_not_a_treatment(med, setting, subject) -> None:
    p = read(bundle(statement("not-taken", med, setting=setting)))
    assert subjects(p) == {subject: (False, "MedicationStatement/ms")}
    assert p.treatments == [] and p.medications == []


def test_not_taken_unrecognised_agent_is_a_warning() -> None:
    p = read(bundle(statement("not-taken", {"text": "Zzyzx elixir"})))
    assert p.assertions == [] and p.treatments == []
    assert any("MedicationStatement/ms" in w and "not recognised" in w for w in p.warnings)


def test_not_taken_beside_taken_is_dropped_with_a_warning() -> None:
    took = statement("completed", cc(RXNORM, "1601374", "palbociclib"), rid="took", setting="metastatic",
                     effectivePeriod={"start": "2024-01-01", "end": "2025-01-01"})
    p = read(bundle(took, statement("not-taken", cc(ATC, "L01EF"))))
    assert p.assertions == [] and [t.drugs for t in p.treatments] == [["palbociclib"]]
    assert any(w.startswith("MedicationStatement/ms") and "MedicationStatement/took" in w for w in p.warnings)


@pytest.mark.parametrize("res", [
    statement("entered-in-error", cc(RXNORM, "72965", "letrozole")),
    {"resourceType": "MedicationRequest", "id": "ms", "status": "active", "intent": "order", "doNotPerform": True,
     "medicationCodeableConcept": cc(RXNORM, "72965", "letrozole")},
])
def test_statements_that_say_nothing_about_her_history_are_not_treatments(res) -> None:
    p = read(bundle(res))
    assert p.treatments == [] and p.assertions == []
    assert any("/ms" in w for w in p.warnings)


# ---------------------------------------------------------------------------- refuted conditions
def test_refuted_conditions_are_negative_assertions() -> None:
    brain = {"resourceType": "Condition", "id": "nobrain", "verificationStatus": cc(VER, "refuted"),
             "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"]},
             "code": cc(SNOMED, "94225005", "Secondary malignant neoplasm of brain")}
    hbv = {"resourceType": "Condition", "id": "nohbv", "verificationStatus": cc(VER, "refuted"),
           "code": cc(SNOMED, "66071002", "Viral hepatitis type B (disorder)")}
    p = read(bundle(brain, hbv))
    s = subjects(p)
    assert s["metastasis:brain"] == (False, "Condition/nobrain")
    assert s["condition:hbv"] == (False, "Condition/nohbv")
    assert p.conditions == [] and (p.primary_diagnosis is None or p.primary_diagnosis.metastases == [])


# ---------------------------------------------------------------------------- the fixtures
@pytest.mark.parametrize("name, expected", [
    ("p1_anlotinib_not_palbo", {"treatment:chemotherapy:metastatic", "treatment:cdk46_inhibitor", "metastasis:brain"}),
    ("p4_prior_cdk46", {"metastasis:brain"}),
    ("p5_untreated_brain_mets", {"treatment:systemic_therapy"}),
    ("p6_er_missing", {"treatment:systemic_therapy", "metastasis:brain"}),
    ("p7_denovo_palbo_eligible", {"treatment:systemic_therapy:metastatic", "metastasis:brain", "condition:hbv",
                                  "condition:hcv", "condition:hiv", "condition:heart_disease",
                                  "medication:strong_cyp3a4_modulator"}),
])
def test_fhir_fixtures_state_what_the_json_forms_state(name: str, expected: set[str]) -> None:
    fp = read_patient(FIX / f"{name}.fhir.json")
    jp = read_patient(FIX / f"{name}.json")
    assert {a.subject for a in jp.assertions if not a.present} == expected  # the scenario
    assert {a.subject for a in fp.assertions if not a.present} == expected
    assert all(a.source.kind == "fhir" and a.source.locator.split("/")[0] in ("List", "MedicationStatement", "Condition")
               for a in fp.assertions)
    assert not [w for w in fp.warnings if "not used" in w or "not recognised" in w], fp.warnings


def test_p7_fhir_decides_the_palbociclib_treatment_criteria_from_the_list(seeds_dir) -> None:
    from trialmatch.criteria import compile_criteria
    from trialmatch.matching import match_trial
    from trialmatch.trials import read_path

    f = next(Path(seeds_dir).glob("004*.txt"))
    t = next(iter(read_path(f))).trial
    c = compile_criteria(t)
    m = match_trial(t, c, read_patient(FIX / "p7_denovo_palbo_eligible.fhir.json"))
    by_id = {o.criterion_id: o for o in m.criteria}
    for needle in ("previous systemic treatment for advanced disease", "Prior treatment with any CDK4/6"):
        crit = min((x for x in c.criteria if needle.lower() in x.text.lower()), key=lambda x: len(x.text))
        o = by_id[crit.id]
        assert o.outcome == "pass", (crit.id, o.outcome, o.reason)
        assert any(e.source is not None and e.source.locator.startswith("List/") for e in o.evidence), o.evidence


# ---------------------------------------------------------------------------- non-Bundle input
def test_lone_patient_with_content_reads_demographics_with_a_warning() -> None:
    raw = {"resourceType": "Patient", "id": "solo", "gender": "female", "birthDate": "1960-05-01"}
    p = read_patient_bytes(json.dumps(raw).encode(), "solo.json")
    assert p.id == "solo" and p.sex == "female" and p.birth_date.isoformat() == "1960-05-01"
    assert p.diagnoses == [] and p.treatments == []
    assert any("only demographics" in w for w in p.warnings), p.warnings


@pytest.mark.parametrize("raw", [{"resourceType": "Patient"}, {"resourceType": "Patient", "id": "x"},
                                 {"resourceType": "Patient", "id": "x", "name": [{}], "gender": ""}])
def test_lone_patient_without_content_is_an_error(raw) -> None:
    with pytest.raises(PatientReadError) as ei:
        read_patient_bytes(json.dumps(raw).encode(), "empty.json")
    assert ei.value.field == "Patient" and "nothing to read" in ei.value.message


@pytest.mark.parametrize("rt", ["Observation", "Condition", "Parameters", 5])
def test_other_resource_types_are_rejected_naming_the_allowed_values(rt) -> None:
    with pytest.raises(PatientReadError) as ei:
        read_patient_bytes(json.dumps({"resourceType": rt, "id": "o"}).encode(), "obs.json")
    e = ei.value
    assert e.file_name == "obs.json" and e.field == "resourceType"
    assert "'Bundle'" in e.message and "'Patient'" in e.message and repr(rt) in e.message


@pytest.mark.parametrize("raw", [{"resourceType": "Bundle", "type": "collection"},
                                 {"resourceType": "Bundle", "type": "collection", "entry": []}])
def test_empty_bundle_is_a_clear_error(raw) -> None:
    with pytest.raises(PatientReadError) as ei:
        read_patient_bytes(json.dumps(raw).encode(), "b.json")
    assert ei.value.field == "Bundle.entry" and "empty" in ei.value.message


def test_bundle_without_patient_is_an_error() -> None:
    raw = {"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}}]}
    with pytest.raises(PatientReadError) as ei:
        read_patient_bytes(json.dumps(raw).encode(), "b.json")
    assert ei.value.field == "Bundle.entry" and "no Patient" in ei.value.message


def test_refuted_cancer_is_an_assertion_unless_a_confirmed_one_says_otherwise() -> None:
    refuted = {"resourceType": "Condition", "id": "nolob", "verificationStatus": cc(VER, "refuted"),
               "code": cc(SNOMED, "254837009", "Malignant neoplasm of breast (disorder)")}
    assert subjects(read(bundle(refuted)))["cancer:breast_cancer"] == (False, "Condition/nolob")
    confirmed = {"resourceType": "Condition", "id": "idc", "verificationStatus": cc(VER, "confirmed"),
                 "code": cc(SNOMED, "408643008", "Infiltrating duct carcinoma of breast (disorder)")}
    p = read(bundle(confirmed, refuted))
    assert "cancer:breast_cancer" not in subjects(p)
    assert p.primary_diagnosis is not None and p.primary_diagnosis.cancer_type == "breast_cancer"
    assert any(w.startswith("Condition/nolob") and "Condition/idc" in w for w in p.warnings), p.warnings
