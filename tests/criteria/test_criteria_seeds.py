"""Every criterion of the five seeds: what it compiles to, or that it needs confirmation / is
unsupported, with a reason. Spans are exact. The seeds are read with the trial readers."""

from __future__ import annotations

import pytest

from trialmatch.criteria import compile_criteria
from trialmatch.criteria.model import iter_atoms

SEEDS = {
    "000": "000_f365612121a3c530.txt", "001": "001_0908de8918da363a.txt", "002": "002_cc6ceb7d8253810e.txt",
    "003": "003_ca8a1317ec4e9225.txt", "004": "004_21168ffcb5444652.txt",
}

C, N, U, H = "compiled", "needs_confirmation", "unsupported", "header"


def _atoms(c):
    return [a for a in iter_atoms(c.expression)] if c.expression is not None else []


def _has(c, kind, **params):
    for a in _atoms(c):
        if a.kind == kind and all(_eq(getattr(a, k), v) for k, v in params.items()):
            return True
    return False


def _eq(actual, expected):
    if hasattr(actual, "model_dump") and isinstance(expected, dict):
        d = actual.model_dump()
        return all(d.get(k) == v for k, v in expected.items())
    return actual == expected


# (seed, criterion id): (status, [(atom kind, {params})], top-level node kind or None)
EXPECTED = {
    ("000", "I1"): (C, [("receptor", {"receptor": "HR", "status": "high"}), ("diagnosis", {"cancer_type": "breast_cancer"}),
                       # "advanced" in the title, "Breast Cancer Metastatic" the registry condition: locally advanced is open
                       ("disease_extent", {"allowed": ["metastatic"]}), ("disease_extent", {"allowed": ["locally_advanced"]}),
                       ("unsupported", {})], "all_of"),
    # resistance (ESO-ESMO): progression on it, or relapse within 12 months of completing it for early disease
    ("000", "I2"): (C, [("prior_therapy", {"agents": ["endocrine_therapy"], "progressed": True}),
                        ("prior_therapy", {"agents": ["endocrine_therapy"], "settings": ["adjuvant", "neoadjuvant"],
                                           "relapse_within_after_end": {"value": 12.0, "unit": "month"}})], "any_of"),
    ("000", "I3"): (C, [("receptor", {"receptor": "HR", "status": "high"})], None),
    ("001", "I1"): (C, [("age", {"years": {"low": 18.0, "high": None}}), ("sex", {"allowed": ["female"]})], "all_of"),
    ("001", "I2"): (C, [("performance_status", {"scale": "ecog", "range": {"low": 0.0, "high": 1.0}})], None),
    ("001", "I3"): (C, [("life_expectancy", {"minimum": {"value": 12.0, "unit": "week"}, "strict": False})], None),
    ("001", "I4"): (C, [("receptor", {"receptor": "HR", "status": "positive"}), ("receptor", {"receptor": "HER2", "status": "negative"}),
                       ("diagnosis", {"cancer_type": "breast_cancer", "confirmed_by": "histology"}),
                       ("disease_extent", {"allowed": ["locally_advanced", "metastatic"]})], "all_of"),
    ("001", "I5"): (C, [("menopausal_status", {"allowed": ["premenopausal"]}), ("ovarian_suppression", {})], "if_then"),
    ("001", "I6"): (C, [("measurable_disease", {"standard": "RECIST 1.1"})], None),
    ("001", "I7"): (C, [("prior_therapy", {"agents": ["chemotherapy"], "settings": ["metastatic"],
                                          "lines": {"low": 0.0, "high": 1.0}})], None),
    ("001", "I8"): (C, [("prior_therapy", {"settings": ["adjuvant"], "min_duration": {"value": 24.0, "unit": "month"},
                                          "relapse_within_after_end": {"value": 12.0, "unit": "month"}}),
                       ("prior_therapy", {"settings": ["advanced"], "min_duration": {"value": 6.0, "unit": "month"},
                                          "progressed": True})], "any_of"),
    ("001", "I9"): (H, [], None),
    ("001", "I9.1"): (C, [("lab", {"analyte": "hemoglobin", "comparator": ">=", "value": 90.0, "unit": "g/L"})], None),
    ("001", "I9.2"): (C, [("lab", {"analyte": "anc", "comparator": ">=", "value": 1.5, "unit": "10**9/L"})], None),
    ("001", "I9.3"): (C, [("lab", {"analyte": "platelets", "comparator": ">=", "value": 80.0, "unit": "10**9/L"})], None),
    ("001", "I9.4"): (C, [("lab", {"analyte": "total_bilirubin", "comparator": "<=", "uln_multiple": 1.5})], None),
    ("001", "I9.5"): (C, [("lab", {"analyte": "alt", "uln_multiple": 5.0}), ("lab", {"analyte": "alt", "uln_multiple": 2.5}),
                         ("lab", {"analyte": "ast", "uln_multiple": 5.0}), ("metastasis", {"site": "liver"})], "all_of"),
    ("001", "I9.6"): (C, [("lab", {"analyte": "creatinine", "uln_multiple": 1.5}),
                         ("lab", {"analyte": "creatinine_clearance", "comparator": ">=", "value": 60.0, "unit": "mL/min"})], "any_of"),
    ("001", "I10"): (N, [("confirm", {"category": "consent"})], None),
    ("002", "I1"): (H, [], None),
    ("002", "I1.1"): (C, [("menopausal_status", {"allowed": ["postmenopausal"]})], None),
    ("002", "I1.2"): (C, [("receptor", {"receptor": "HR", "status": "positive"})], None),
    ("002", "I1.3"): (C, [("receptor", {"receptor": "HER2", "status": "negative"})], None),
    ("002", "I1.4"): (C, [("prior_therapy", {"agents": ["aromatase_inhibitor"], "progressed": True}),
                          ("prior_therapy", {"agents": ["aromatase_inhibitor"], "settings": ["adjuvant", "neoadjuvant"],
                                             "relapse_within_after_end": {"value": 12.0, "unit": "month"}})], "any_of"),
    ("002", "I1.5"): (C, [("diagnosis", {"cancer_type": "breast_cancer"}), ("disease_extent", {"allowed": ["metastatic"]})], "all_of"),
    ("003", "I1"): (N, [("confirm", {"category": "consent"})], None),
    ("003", "I2"): (C, [("age", {"years": {"low": 18.0, "high": 70.0}})], None),
    # a list header: its children carry the diagnosis (was compiled to a Diagnosis atom that only repeated I3.1)
    ("003", "I3"): (H, [], None),
    ("003", "I3.1"): (C, [("diagnosis", {"cancer_type": "breast_cancer", "histology": ["invasive"], "confirmed_by": "histology"}),
                         ("disease_extent", {"allowed": ["metastatic"]})], "all_of"),
    ("003", "I3.2"): (C, [("receptor", {"receptor": "HR", "status": "known"}), ("receptor", {"receptor": "HER2", "status": "known"})], "all_of"),
    # "ECOG ... score ≤1": an upper bound as written (was low=0.0, high=1.0: the same set of scores)
    ("003", "I4"): (C, [("performance_status", {"scale": "ecog", "range": {"low": None, "high": 1.0}})], None),
    ("003", "I5"): (C, [("life_expectancy", {"minimum": {"value": 1.0, "unit": "year"}, "strict": True})], None),
    # the interval from diagnosis (or from the start of systemic treatment) to randomisation (was unsupported)
    ("003", "I6"): (C, [("event_interval", {"start": "diagnosis", "end": "enrolment", "comparator": "<=",
                                            "duration": {"value": 1.0, "unit": "year"}}),
                       ("event_interval", {"start": "systemic_treatment_start", "end": "enrolment"})], "any_of"),
    # response (CR, PR or SD) to endocrine therapy for >= 6 months or to >= 4 cycles of chemotherapy (was unsupported)
    ("003", "I7"): (C, [("therapy_response", {"agents": ["endocrine_therapy"], "responses": ["CR", "PR", "SD"],
                                              "min_duration": {"value": 6.0, "unit": "month"}}),
                       ("therapy_response", {"agents": ["chemotherapy"], "min_cycles": 4})], "any_of"),
    ("003", "I8"): (H, [], None),  # a requirement on the trial population: no requirement on her
    ("003", "I9"): (N, [("confirm", {"category": "other"})], None),
    ("003", "I10"): (N, [("confirm", {"category": "investigator_judgement"})], None),
    ("003", "E1"): (C, [("condition", {"condition": "bilateral_breast_cancer"})], None),
    ("003", "E2"): (C, [("prior_therapy", {"agents": ["systemic_therapy"], "progressed": True})], None),
    ("003", "E3"): (C, [("metastasis", {"site": "brain", "qualifiers": ["uncontrolled"]}),
                       ("metastasis", {"site": "liver", "qualifiers": ["uncontrolled"]})], "any_of"),
    ("003", "E4"): (C, [("recent_event", {"event": "radiotherapy", "after": "diagnosis", "site": "breast"})], None),
    ("003", "E5"): (C, [("other_malignancy", {"within": {"value": 5.0, "unit": "year"}})], None),
    ("003", "E6"): (C, [("recent_event", {"event": "major_surgery", "within": {"value": 4.0, "unit": "week"}}),
                       ("confirm", {"category": "recovered_from_toxicity"})], "any_of"),
    ("003", "E7"): (N, [("confirm", {"category": "investigator_judgement"})], None),
    ("003", "E8"): (N, [("confirm", {"category": "withdrawal"})], None),
    ("003", "E9"): (C, [("pregnancy", {"state": "pregnant"})], None),
    ("003", "E10"): (N, [("confirm", {"category": "investigator_judgement"})], None),
    ("003", "E11"): (N, [("confirm", {"category": "compliance"})], None),
    ("003", "E12"): (N, [("confirm", {"category": "withdrawal"})], None),
    ("004", "I1"): (C, [("age", {"years": {"low": 18.0, "high": None}}), ("sex", {"allowed": ["female"]})], "all_of"),
    ("004", "I2"): (C, [("diagnosis", {"cancer_type": "breast_cancer"})], None),
    ("004", "I2.1"): (C, [("receptor", {"receptor": "ER", "status": "positive", "min_percent": 10.0})], None),
    ("004", "I2.2"): (C, [("receptor", {"receptor": "HER2", "status": "negative"})], None),
    ("004", "I2.3"): (C, [("disease_extent", {"allowed": ["locally_advanced", "metastatic"]})], None),
    ("004", "I3"): (C, [("menopausal_status", {"allowed": ["postmenopausal"]}), ("ovarian_suppression", {})], "any_of"),
    ("004", "I4"): (H, [], None),
    ("004", "I4.1"): (C, [("lab", {"analyte": "hemoglobin", "value": 90.0, "unit": "g/L"})], None),
    ("004", "I4.2"): (C, [("lab", {"analyte": "wbc", "value": 1.5, "unit": "G/L"})], None),
    ("004", "I4.3"): (C, [("lab", {"analyte": "platelets", "value": 100.0, "unit": "G/L"})], None),
    # "normal or near-normal liver and kidney function": no threshold -> a person confirms (was unsupported)
    ("004", "I4.4"): (N, [("confirm", {"category": "other"})], None),
    ("004", "I5"): (C, [("life_expectancy", {"minimum": {"value": 3.0, "unit": "month"}, "strict": True})], None),
    ("004", "I6"): (C, [("performance_status", {"scale": "ecog", "range": {"low": 0.0, "high": 2.0}})], None),
    # Not(Except(systemic therapy for advanced disease, OFS or bone-targeted therapy)); "for advanced
    # disease" is the setting, not a DiseaseExtent atom, and OFS is the excused class, not her status
    ("004", "I7"): (C, [("prior_therapy", {"agents": ["systemic_therapy"], "settings": ["advanced"]}),
                       ("prior_therapy", {"agents": ["ovarian_function_suppression"], "settings": ["any"]}),
                       ("prior_therapy", {"agents": ["bone_targeted_therapy"], "settings": ["any"]})], "not"),
    ("004", "I8"): (N, [("confirm", {"category": "tissue_available"})], None),
    ("004", "I9"): (N, [("confirm", {"category": "compliance"})], None),
    ("004", "I9.1"): (N, [("confirm", {"category": "compliance"})], None),
    ("004", "I9.2"): (N, [("confirm", {"category": "compliance"})], None),
    ("004", "I9.3"): (N, [("confirm", {"category": "compliance"})], None),
    ("004", "I9.4"): (N, [("confirm", {"category": "compliance"})], None),
    ("004", "I10"): (N, [("confirm", {"category": "recovered_from_toxicity"})], None),
    ("004", "I11"): (N, [("confirm", {"category": "social_security"})], None),
    ("004", "I12"): (N, [("confirm", {"category": "consent"})], None),
    ("004", "E1"): (C, [("prior_therapy", {"agents": ["cdk46_inhibitor"]})], None),
    ("004", "E2"): (C, [("metastasis", {"site": "brain", "qualifiers": ["active", "untreated", "unstable"]})], None),
    ("004", "E3"): (C, [("recent_event", {"event": "major_surgery", "within": {"value": 2.0, "unit": "week"}})], None),
    ("004", "E4"): (C, [("concomitant_medication", {"classes": ["strong_cyp3a4_inhibitor", "strong_cyp3a4_inducer"]})], None),
    ("004", "E5"): (C, [("condition", {"condition": "cardiac_disease", "qualifiers": ["severe"]})], None),
    ("004", "E6"): (C, [("condition", {"condition": "hypertension", "qualifiers": ["uncontrolled"]})], None),
    ("004", "E7"): (C, [("condition", {"condition": "arrhythmia", "qualifiers": ["unstable"]})], None),
    ("004", "E8"): (C, [("recent_event", {"event": "myocardial_infarction", "within": {"value": 6.0, "unit": "month"}})], None),
    ("004", "E9"): (C, [("infection", {"pathogen": "hbv"}), ("infection", {"pathogen": "hcv"})], "any_of"),
    ("004", "E10"): (C, [("infection", {"pathogen": "hiv"})], None),
    ("004", "E11"): (C, [("other_malignancy", {"active_only": True,
                                               "exceptions": ["non_melanoma_skin_cancer", "cervical_carcinoma_in_situ"]})], None),
    ("004", "E12"): (C, [("condition", {"condition": "liver_disease"})], None),
    ("004", "E13"): (C, [("allergy", {"substances": ["study_drug"]})], None),
    ("004", "E14"): (C, [("pregnancy", {"state": "pregnant"}), ("pregnancy", {"state": "breastfeeding"})], "any_of"),
    ("004", "E15"): (N, [("confirm", {"category": "swallow"})], None),
    ("004", "E16"): (N, [("confirm", {"category": "investigator_judgement"})], None),
}


@pytest.fixture(scope="module")
def compiled(seeds_dir):
    from trialmatch.trials import read_path

    out = {}
    for key, name in SEEDS.items():
        res = list(read_path(seeds_dir / name))[0]
        assert res.trial is not None, res.error
        out[key] = compile_criteria(res.trial)
    return out


def test_every_seed_criterion_has_an_expectation(compiled):
    got = {(k, c.id) for k, cc in compiled.items() for c in cc.criteria}
    assert got == set(EXPECTED), f"missing expectations {sorted(got - set(EXPECTED))}, stale {sorted(set(EXPECTED) - got)}"


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_seed_criterion(compiled, key):
    seed, cid = key
    status, atoms, top = EXPECTED[key]
    c = next(c for c in compiled[seed].criteria if c.id == cid)
    if status == H:
        assert c.is_header and c.reason, c
        return
    assert c.status == status, (c.text, c.status, c.reason, c.expression and c.expression.describe())
    if status != C:
        assert c.reason, "needs_confirmation / unsupported criteria carry a reason"
    for kind, params in atoms:
        assert _has(c, kind, **params), (c.text, kind, params, c.expression.describe())
    if top:
        assert c.expression.kind == top, c.expression.describe()


def test_seed_spans_exact(compiled):
    for cc in compiled.values():
        assert cc.source_text is not None
        for c in cc.criteria:
            assert cc.source_text[c.span[0]:c.span[1]] == c.text


def test_seed_sources(compiled):
    assert compiled["000"].source == "title_and_summary"
    assert compiled["002"].source == "document_prose"
    assert compiled["001"].source == "criteria_text"
    for c in compiled["000"].criteria:
        assert "title/summary" in (c.reason or "")


def test_seed_kinds(compiled):
    assert {c.kind for c in compiled["004"].criteria} == {"inclusion", "exclusion"}
    assert all(c.kind == "inclusion" for c in compiled["001"].criteria)


def test_seed_004_i7_is_an_exception_to_prior_systemic_therapy(compiled):
    c = next(c for c in compiled["004"].criteria if c.id == "I7")
    e = c.expression
    assert e.kind == "not" and e.item.kind == "except", e.describe()
    assert e.item.main.kind == "prior_therapy" and e.item.main.agents == ["systemic_therapy"]
    assert e.item.main.settings == ["advanced"]
    assert sorted(a.agents[0] for a in iter_atoms(e.item.exception)) == ["bone_targeted_therapy",
                                                                         "ovarian_function_suppression"]
    assert not any(a.kind in ("disease_extent", "ovarian_suppression") for a in iter_atoms(e))


def test_seed_004_vague_organ_function_names_the_missing_threshold(compiled):
    c = next(c for c in compiled["004"].criteria if c.id == "I4.4")
    assert c.status == "needs_confirmation" and "no defined threshold" in c.reason
