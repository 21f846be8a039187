"""What clinicians write, class by class (issue 12): the record's own date, stated absences,
labs as written, treatment course details, clinic shorthand, receptors in every wording."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from trialmatch.patients import read_patient_bytes
from trialmatch.patients.note_rules import NoteRulesError, note_rules, validate_rules
from trialmatch.patients.text_reader import find_dates, read_text_patient

TODAY = dt.date(2026, 12, 3)


def note(text: str, today: dt.date = TODAY):
    return read_text_patient(text, "n.txt", today=today)


def _subjects(p) -> set[str]:
    return {a.subject for a in p.assertions if not a.present}


# -- 1. the record's own date --------------------------------------------------------------------
@pytest.mark.parametrize("head, date", [
    ("Summary date: 2026-11-01.", dt.date(2026, 11, 1)),
    ("Date of note: 03/11/2026", dt.date(2026, 11, 3)),
    ("Seen on 1 Nov 2026", dt.date(2026, 11, 1)),
    ("Clinic letter 20 Nov 2026", dt.date(2026, 11, 20)),
    ("Oncology clinic, 5 October 2026", dt.date(2026, 10, 5)),
    ("20/11/2026 clinic", dt.date(2026, 11, 20)),
    ("Royal Hospital\nBreast Unit\n18/11/2026", dt.date(2026, 11, 18)),
])
def test_record_date(head: str, date: dt.date) -> None:
    p = note(head + "\n\n60F, metastatic breast cancer. Hb 12.1 g/dL on 30/10/2026.")
    assert p.as_of == date
    assert p.as_of_source.kind == "text" and p.as_of_source.locator in head


def test_no_record_date_says_so() -> None:
    p = note("A 60-year-old woman with metastatic breast cancer.")
    assert p.as_of == TODAY
    assert p.as_of_source.kind == "derived" and "states no date" in p.as_of_source.locator
    assert any("states no date" in w for w in p.warnings)


def test_day_first_and_month_first() -> None:
    # a day over 12 decides the order for the whole note
    p = note("Date: 05/06/2026\nBloods 18/05/2026: Hb 12 g/dL. Breast cancer.")
    assert p.as_of == dt.date(2026, 6, 5)
    p = note("Date: 05/06/2026\nLabs 05/18/2026: hemoglobin 12 g/dL. Breast cancer.")
    assert p.as_of == dt.date(2026, 5, 6)
    # nothing decides: American units -> month-first, said in a warning
    p = note("Date: 05/06/2026\nbilirubin 1.1 mg/dL. Breast cancer, tumor 2 cm.")
    assert p.as_of == dt.date(2026, 5, 6)
    assert any("month-first assumed" in w for w in p.warnings)
    # an order that puts the note's own date in the future is not meant
    p = note("Date of note: 12/10/2026\nBreast cancer.", today=dt.date(2026, 12, 3))
    assert p.as_of == dt.date(2026, 10, 12)
    assert find_dates("18/11/2026")[0][2] == dt.date(2026, 11, 18)


def test_fhir_record_date_from_clinical_dates() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1960-01-01"}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                      "effectiveDateTime": "2026-10-30", "valueQuantity": {"value": 12.1, "unit": "g/dL"}}},
        {"resource": {"resourceType": "Observation", "id": "o2", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "777-3"}]},
                      "effectiveDateTime": "2026-09-01", "valueQuantity": {"value": 200, "unit": "10*9/L"}}}]}
    p = read_patient_bytes(json.dumps(bundle).encode(), "b.json")
    assert p.as_of == dt.date(2026, 10, 30)
    assert p.as_of_source.kind == "fhir" and p.as_of_source.locator == "Observation/o1.effectiveDateTime"
    del bundle["entry"][1:]
    bundle["meta"] = {"lastUpdated": "2026-08-01T10:00:00Z"}
    p = read_patient_bytes(json.dumps(bundle).encode(), "b.json")
    assert (p.as_of, p.as_of_source.locator) == (dt.date(2026, 8, 1), "Bundle.meta.lastUpdated")


# -- 2. stated absences ---------------------------------------------------------------------------
@pytest.mark.parametrize("sentence, subject", [
    ("No prior cancer treatment.", "prior_therapy:any:any"),
    ("No prior treatment for breast cancer.", "prior_therapy:any:any"),
    ("She is treatment-naive.", "prior_therapy:any:any"),
    ("No systemic therapy has been given yet for metastatic disease.", "prior_therapy:systemic_therapy:advanced"),
    ("She has not received chemotherapy.", "prior_therapy:chemotherapy:any"),
    ("No CDK4/6 inhibitor.", "prior_therapy:cdk46_inhibitor:any"),
    ("No prior chemotherapy for metastatic disease.", "prior_therapy:chemotherapy:advanced"),
    ("Never had an anthracycline.", "prior_therapy:anthracycline:any"),
    ("No brain metastases on MRI.", "metastasis:brain"),
    ("MRI brain: no brain metastases.", "metastasis:brain"),
    ("No liver metastases.", "metastasis:liver"),
    ("No cardiac history.", "condition:cardiac_disease"),
    ("No regular medications.", "medications:any"),
    ("No other malignancy.", "other_malignancy"),
])
def test_stated_absences(sentence: str, subject: str) -> None:
    p = note("Date: 2026-11-01\n62F with metastatic breast cancer to bone. " + sentence)
    assert subject in _subjects(p), _subjects(p)
    a = next(a for a in p.assertions if a.subject == subject)
    assert a.source.locator == sentence


def test_history_statements_and_their_scope() -> None:
    p = note("Date: 2026-11-01\n62F, metastatic breast cancer. Adjuvant tamoxifen 2015-2020. "
             "No chemotherapy or CDK4/6 inhibitor for metastatic disease. No other treatment.")
    got = {(h.therapy, h.setting, h.received) for h in p.history_statements}
    assert ("chemotherapy", "advanced", "none") in got and ("cdk46_inhibitor", "advanced", "none") in got
    assert ("any", "any", "only_listed") in got
    assert "prior_therapy:any:any" not in _subjects(p)  # "no other" is not "none at all"
    # the cancer in "no prior treatment for breast cancer" is not negated
    p = note("Date: 2026-11-01\nNo prior treatment for breast cancer.")
    assert p.primary_diagnosis is not None and p.primary_diagnosis.cancer_type == "breast_cancer"
    assert "other_malignancy" not in _subjects(note("Date: 2026-11-01\nBreast cancer. No prior cancer treatment."))


def test_bone_only_and_pregnancy() -> None:
    p = note("Date: 2026-11-01\n52F, de novo metastatic breast cancer, bone-only disease. Not pregnant.")
    assert [m.site for m in p.primary_diagnosis.metastases] == ["bone"]
    assert {"metastasis:liver", "metastasis:lung", "metastasis:brain", "metastasis:visceral"} <= _subjects(p)
    assert p.pregnant is False


# -- 3. labs as clinicians write them -------------------------------------------------------------
def test_labs_as_written() -> None:
    p = note("Clinic letter 20 Nov 2026\nMetastatic breast cancer.\n"
             "Bloods 18/11/2026: Hb 118 g/L, neutrophils 3.2, plt 190, bili 14 umol/L, ALT 2 x ULN, creat 70.\n"
             "AST 2.2× ULN. Bilirubin 1.8 mg/dL (ULN 1.2). Platelets 85 G/L. WBC 4.1 x 10^9/L.")
    labs = {(x.analyte, x.value, x.unit) for x in p.labs}
    assert ("hemoglobin", 118, "g/L") in labs and ("total_bilirubin", 1.8, "mg/dL") in labs
    alt = next(x for x in p.labs if x.analyte == "alt")
    assert (alt.uln_multiple, alt.value, alt.uln, alt.unit, alt.date) == (2.0, 2.0, 1.0, "x ULN", dt.date(2026, 11, 18))
    assert next(x for x in p.labs if x.analyte == "ast").uln_multiple == 2.2
    plt = next(x for x in p.labs if x.analyte == "platelets" and x.value == 190)
    assert plt.unit_note and "10^9/L" in plt.unit_note
    cr = next(x for x in p.labs if x.analyte == "creatinine")
    assert (cr.value, cr.unit) == (70, "umol/L") and cr.unit_note
    assert next(x for x in p.labs if x.analyte == "total_bilirubin" and x.value == 1.8).uln == 1.2


def test_normal_statements() -> None:
    p = note("Date: 2026-11-01\nMetastatic breast cancer.\nLabs 28/10/2026: CBC within normal limits; "
             "liver and kidney function normal. Total bilirubin normal. Hb 8.5 g/dL, LFTs deranged.")
    st = {(s.analyte, s.finding) for s in p.lab_statements}
    assert {("hemoglobin", "normal"), ("platelets", "normal"), ("anc", "normal"), ("creatinine", "normal"),
            ("alt", "normal"), ("ast", "normal"), ("total_bilirubin", "normal"), ("alt", "abnormal")} <= st
    assert not any(s.analyte == "hemoglobin" and s.finding == "abnormal" for s in p.lab_statements)
    assert all(s.date == dt.date(2026, 10, 28) for s in p.lab_statements if s.phrase == "CBC")
    # a reference range is not a finding
    assert not note("Date: 2026-11-01\nBilirubin 1.8 mg/dL (upper limit of normal 1.2).").lab_statements


# -- 4. treatment course ----------------------------------------------------------------------------
def test_treatment_course_details() -> None:
    p = note("Date: 2026-11-01\n68F, metastatic breast cancer.\nProgressed on anastrozole after 21 months.\n"
             "She relapsed 8 months after finishing 5 years of adjuvant tamoxifen.\n"
             "Stable disease after 6 cycles of paclitaxel.\nPartial response to letrozole ongoing.\n"
             "Adjuvant letrozole 2019-2024.\nAdjuvant EC x4 then docetaxel x4 (2021).")
    by = {tuple(t.drugs): t for t in p.treatments}
    ana = by[("anastrozole",)]
    assert (ana.progressed, ana.months_to_progression, ana.duration_months) == (True, 21.0, 21.0)
    tam = by[("tamoxifen",)]
    assert (tam.setting, tam.duration_months, tam.relapse_months_after_end, tam.ongoing) == ("adjuvant", 60.0, 8.0, False)
    pac = by[("paclitaxel",)]
    assert (pac.best_response, pac.cycles) == ("SD", 6)
    let = [t for t in p.treatments if t.drugs == ["letrozole"]]
    assert any(t.best_response == "PR" and t.response_ongoing and t.ongoing for t in let)
    assert any(t.setting == "adjuvant" and t.start == dt.date(2019, 1, 1) and t.end == dt.date(2024, 12, 31) for t in let)
    ec = next(t for t in p.treatments if "epirubicin" in t.drugs)
    assert {"epirubicin", "cyclophosphamide"} <= set(ec.drugs) and ec.setting == "adjuvant"
    # "EC x4 then docetaxel x4": two courses one after the other, both adjuvant
    doc = next(t for t in p.treatments if "docetaxel" in t.drugs)
    assert doc is not ec and doc.setting == "adjuvant" and doc.cycles == 4


def test_negation_stays_in_its_clause_and_plans_are_not_history() -> None:
    p = note("Date: 2026-11-01\nLumpectomy, no radiotherapy (declined), adjuvant docetaxel-cyclophosphamide x4 (2020).\n"
             "Plan: letrozole with ribociclib.")
    drugs = {d for t in p.treatments for d in t.drugs}
    assert {"docetaxel", "cyclophosphamide"} <= drugs and "letrozole" not in drugs


# -- 5. shorthand, 6. receptors and status -----------------------------------------------------------
def test_shorthand() -> None:
    p = note("Clinic letter 20 Nov 2026\n66F, pmp. Mets to bone/liver. PD on letrozole + palbo.")
    assert (p.age_years, p.sex, p.menopausal_status) == (66, "female", "postmenopausal")
    assert {m.site for m in p.primary_diagnosis.metastases} == {"bone", "liver"}
    t = p.treatments[0]
    assert set(t.drugs) == {"letrozole", "palbociclib"} and t.progressed
    p = note("Date: 2026-11-01\nMs K, 41, premenopausal, on goserelin since 2025. Breast cancer.")
    assert (p.age_years, p.sex, p.menopausal_status, p.ovarian_suppression) == (41, "female", "premenopausal", True)
    p = note("Date: 2026-11-01\nMrs X, 66, menopausal (LMP age 51). Breast cancer.")
    assert (p.age_years, p.menopausal_status) == (66, "postmenopausal")


def test_receptors() -> None:
    p = note("Date: 2026-11-01\nHormone receptor positive (ER 70%, PR 30%), HER2 2+, FISH not amplified.")
    b = {x.name: x for x in p.biomarkers}
    assert (b["ER"].percent, b["PR"].percent, b["HER2"].ihc_score, b["HER2"].ish, b["HER2"].status) == \
        (70, 30, "2+", "negative", "negative")
    p = note("Date: 2026-11-01\nBreast cancer, ER-low (5%), HER2-low.")
    b = {x.name: x for x in p.biomarkers}
    assert (b["ER"].status, b["ER"].percent, b["HER2"].status) == ("low", 5, "low")
    p = note("Date: 2026-11-01\nBreast cancer. ER 8/8 Allred, PR 6/8. ER 90 PR 50 HER2 0 on the new biopsy.")
    assert any(x.name == "ER" and x.intensity == "Allred 8/8" and x.status == "positive" for x in p.biomarkers)
    assert any(x.name == "PR" and x.percent == 50 for x in p.biomarkers)
    # pending is unknown, not negative; a result pending on a newer sample supersedes the old one
    p = note("Date: 2026-11-01\nPrimary 2021: ER 90%, HER2 1+.\nLiver biopsy 30/10/2026: ER 90%; HER2 testing pending.")
    her2 = sorted((x for x in p.biomarkers if x.name == "HER2"), key=lambda x: x.date or dt.date.min)
    assert her2[-1].status == "unknown" and her2[-1].date == dt.date(2026, 10, 30)


# -- the rule file is validated on load -------------------------------------------------------------
def test_rules_validated() -> None:
    from importlib import resources

    raw = json.loads(resources.files("trialmatch.patients").joinpath("codes", "note_rules.json").read_text("utf-8"))
    assert note_rules()["absences"]
    bad = copy.deepcopy(raw)
    bad["absences"][0]["assertions"] = ["brain_mets"]
    with pytest.raises(NoteRulesError, match=r"absences\[0\]\.assertions.*not one the matcher reads"):
        validate_rules(bad)
    bad = copy.deepcopy(raw)
    bad["lab_panels"]["cbc"] = ["haemoglobinn"]
    with pytest.raises(NoteRulesError, match="unknown analyte 'haemoglobinn'"):
        validate_rules(bad)
    bad = copy.deepcopy(raw)
    bad["colour"] = 1
    with pytest.raises(NoteRulesError, match=r"unknown key\(s\) \['colour'\]; allowed"):
        validate_rules(bad)
    bad = copy.deepcopy(raw)
    bad["therapy_absence"]["settings"]["advanced"] = ["(unclosed"]
    with pytest.raises(NoteRulesError, match="malformed regular expression"):
        validate_rules(bad)


def test_absence_labels_and_what_is_not_an_absence() -> None:
    p = note("Date: 2026-11-01\nMetastatic breast cancer. Adjuvant: nil (de novo). Prior chemotherapy: none.")
    assert {"prior_therapy:any:adjuvant", "prior_therapy:chemotherapy:any"} <= _subjects(p)
    # a comorbidity's treatment is not her cancer treatment history; "no other" is not "none"
    p = note("Date: 2026-11-01\nHypertension, no treatment required. She takes no other medications.")
    assert not p.history_statements and "medications:any" not in _subjects(p)


def test_a_list_of_courses_is_read_course_by_course() -> None:
    p = note("Date: 2026-11-01\nMetastatic breast cancer.\n"
             "Rx: anastrozole + palbo 2022-24 (PD), fulv 2024-25 (PD on fulv), cape 2025-26 PD.")
    got = [(tuple(t.drugs), t.start, t.end, t.progressed) for t in p.treatments]
    assert got == [(("anastrozole", "palbociclib"), dt.date(2022, 1, 1), dt.date(2024, 12, 31), True),
                   (("fulvestrant",), dt.date(2024, 1, 1), dt.date(2025, 12, 31), True),
                   # a year that is not over ends no later than the note's own date
                   (("capecitabine",), dt.date(2025, 1, 1), dt.date(2026, 11, 1), True)]
    # one course told in two clauses stays one course
    p = note("Date: 2026-11-01\nFirst-line letrozole was started on 2025-01-10; she progressed on letrozole after 14 months.")
    assert len(p.treatments) == 1 and p.treatments[0].progressed


def test_course_outcomes_told_apart_and_metastatic_onset() -> None:
    p = note("Date: 2026-11-12\n41F, breast cancer 2023. Relapsed on tamoxifen (March 2025) with lung metastases.\n"
             "Maintenance anastrozole + abemaciclib from Nov 2025. CT 5 Nov 2026: PD in lung.")
    dx = p.primary_diagnosis
    assert dx.metastatic_date == dt.date(2025, 3, 1)
    ai = next(t for t in p.treatments if "anastrozole" in t.drugs)
    assert (ai.progressed, ai.ongoing, ai.progression_date) == (True, False, dt.date(2026, 11, 5))
    p = note("Date: 2026-11-01\nMetastatic breast cancer. Now on maintenance letrozole + ribociclib since October 2026.")
    assert p.treatments[0].progressed is False and p.treatments[0].ongoing is True


def test_a_long_run_without_spaces_is_blanked_and_read_in_linear_time():
    """Pasted markup or a data blob (20,000 characters with no space) neither stalls the reader
    (tokenising it cost time quadratic in its length) nor hides the sentence after it."""
    import time

    from trialmatch.patients import read_patient_bytes

    for blob in (b"[" * 20000, b'{"a":' * 4000):
        t0 = time.perf_counter()
        p = read_patient_bytes(blob + b" ER positive breast cancer, age 61.", "blob.txt", fmt="text")
        assert time.perf_counter() - t0 < 30
        assert p.age_years == 61
        assert any("without a space at offset 0 was not read" in w for w in p.warnings)


# -- stated absences that are old, and facts written in other places -----------------------------
@pytest.mark.parametrize("line, clear", [
    ("MRI brain 2025 clear.", False),  # more than a year before the note: not a finding about now
    ("No brain mets on CT head 2025 (no MRI).", False),
    ("No brain metastases (MRI 12/2025).", True),  # within a year
    ("No brain mets (MRI 02/2026).", True),
    ("MRI brain: no brain metastases.", True),  # undated: as written
])
def test_negative_brain_imaging_older_than_a_year_is_not_a_current_absence(line: str, clear: bool) -> None:
    p = note(f"Clinic letter 20 Nov 2026\n62F, metastatic breast cancer (bone, liver).\n{line}")
    assert ("metastasis:brain" in _subjects(p)) is clear, p.assertions


def test_other_cancer_year_after_its_stage() -> None:
    p = note("Clinic letter 21 Oct 2026\nMrs L, 64. De novo MBC (bone) dx Feb 2026, ER 80%.\n"
             "PMH: endometrial cancer stage II 2023, hysterectomy + vaginal brachytherapy.")
    other = next(d for d in p.diagnoses if not d.primary)
    assert other.cancer_type == "endometrial_cancer" and other.date == dt.date(2023, 1, 1)


def test_bilateral_breast_cancer_is_a_condition_and_keeps_the_diagnosis() -> None:
    p = note("Breast unit, 3 November 2026\nSynchronous bilateral breast cancer diagnosed May 2026: right IDC ER 95%; "
             "left ILC ER 90%. Distant metastases to bone at presentation.")
    assert any(c.name == "bilateral_breast_cancer" for c in p.conditions), p.conditions
    assert p.primary_diagnosis is not None and p.primary_diagnosis.cancer_type == "breast_cancer"


@pytest.mark.parametrize("text, inoperable", [
    ("61-year-old woman with inoperable locally advanced right breast cancer (cT4b N2).", True),
    ("Unresectable locally advanced breast cancer.", True),
    ("Locally advanced breast cancer, operable after neoadjuvant therapy.", False),
])
def test_inoperable_disease(text: str, inoperable: bool) -> None:
    p = note("Breast MDT outcome - 2 December 2026\n" + text)
    got = any(a.subject == "disease:inoperable" and a.present for a in p.assertions)
    assert got is inoperable, p.assertions


def test_a_bracketed_year_after_a_then_sequence_dates_the_whole_sequence() -> None:
    p = note("Date of note: 03/11/2026\nRecurrent breast cancer, liver metastases.\n"
             "Adjuvant: EC x4 then docetaxel x4 (2021), no endocrine therapy given.")
    courses = [t for t in p.treatments if t.setting == "adjuvant"]
    assert len(courses) == 2 and all(t.start == dt.date(2021, 1, 1) for t in courses), courses
