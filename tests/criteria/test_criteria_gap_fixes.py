"""Compiler fixes for wordings met in registry text (general language rules, own sentences)."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.criteria.compile import compile_criterion_text


def _atoms(expr):
    return list(cm.iter_atoms(expr)) if expr is not None else []


def _conditions(expr):
    return [a for a in _atoms(expr) if isinstance(a, cm.Condition)]


def test_grades_joined_by_or_qualify_one_condition():
    for text in ("NYHA class III or IV heart failure", "Congestive heart failure NYHA class III or IV"):
        expr, status, _ = compile_criterion_text(text, "exclusion")
        conds = _conditions(expr)
        assert status == "compiled" and [c.condition for c in conds] == ["heart_failure"], text
        assert "severe" in conds[0].qualifiers


def test_patients_with_a_condition_must_is_a_conditional():
    expr, status, _ = compile_criterion_text(
        "Patients with hairy cell leukemia must have received at least one prior purine analog")
    assert isinstance(expr, cm.IfThen), expr
    assert isinstance(expr.condition, cm.Diagnosis) and expr.condition.cancer_type == "leukemia"
    assert all("must" not in c.condition for c in _conditions(expr))
    expr, status, _ = compile_criterion_text("Subjects with diabetes must have HbA1c < 8%")
    assert isinstance(expr, cm.IfThen) and [c.condition for c in _conditions(expr.condition)] == ["diabetes"]
    assert [(a.analyte, a.value) for a in _atoms(expr.then) if isinstance(a, cm.LabThreshold)] == [("hba1c", 8.0)]
    expr, _, _ = compile_criterion_text("Patients with HCL must have had a splenectomy")
    assert all("must" not in c.condition and "have" not in c.condition.split() for c in _conditions(expr))


def test_condition_name_never_carries_a_modal_verb():
    for text in ("History of X syndrome must be documented", "Patients with lupus should be excluded"):
        for kind in ("inclusion", "exclusion"):
            expr, _, _ = compile_criterion_text(text, kind)
            assert all(not {"must", "should"} & set(c.condition.split()) for c in _conditions(expr)), (text, kind)


def test_a_ratio_is_not_the_analyte_it_is_a_ratio_of():
    expr, status, _ = compile_criterion_text("Free-to-total PSA ratio < 25%")
    labs = [a for a in _atoms(expr) if isinstance(a, cm.LabThreshold)]
    assert not labs, labs
    meas = [a for a in _atoms(expr) if isinstance(a, cm.Measurement)]
    assert status == "compiled" and [m.name for m in meas] == ["free-to-total psa ratio"], expr
    expr, status, _ = compile_criterion_text("PSA < 4 ng/mL")
    assert [a.analyte for a in _atoms(expr) if isinstance(a, cm.LabThreshold)] == ["psa"]
    # a ratio the vocabulary names, written with another separator, is that ratio
    expr, _, _ = compile_criterion_text("Urine protein:creatinine ratio < 1.0")
    assert [a.analyte for a in _atoms(expr) if isinstance(a, cm.LabThreshold)] == ["urine_protein_ratio"]


def test_an_exacerbation_treated_with_a_drug_is_not_the_drug_alone():
    expr, status, _ = compile_criterion_text(
        "Asthma exacerbation requiring oral corticosteroids within 1 month before screening", "exclusion")
    conds = _conditions(expr)
    assert [c.condition for c in conds] == ["asthma"] and conds[0].within is not None
    assert not [a for a in _atoms(expr) if isinstance(a, cm.ConcomitantMedication)], expr
    # the episode is the condition treated with the drug within the window (not her current medication)
    assert [(a.agents, a.within.days) for a in _atoms(expr) if isinstance(a, cm.PriorTherapy)] == \
        [(["corticosteroid"], conds[0].within.days)]



def test_patients_with_a_condition_are_excluded_is_its_absence():
    expr, status, _ = compile_criterion_text("Patients with lupus should be excluded", "inclusion")
    assert isinstance(expr, cm.Not) and _conditions(expr.item), expr
    expr, status, _ = compile_criterion_text("Patients with lupus are not eligible", "exclusion")
    assert isinstance(expr, cm.Condition), expr
    expr, status, reason = compile_criterion_text("Patients with treated brain metastases are eligible", "inclusion")
    assert expr is None and status == "compiled" and "allowed" in reason


def test_grade_lists_of_one_condition_are_graded():
    expr, status, _ = compile_criterion_text("Grade 3 or 4 diarrhea", "exclusion")
    assert status == "compiled" and [c.condition for c in _conditions(expr)] == ["diarrhea"]
    assert "severe" in _conditions(expr)[0].qualifiers
    expr, _, _ = compile_criterion_text("NYHA class II-IV heart failure or stroke", "exclusion")
    by_name = {c.condition: c.qualifiers for c in _conditions(expr)}
    assert set(by_name) == {"heart_failure", "stroke"} and "severe" in by_name["heart_failure"]
    assert "severe" not in by_name["stroke"]


def test_a_drug_required_by_no_condition_is_still_a_medication():
    expr, _, _ = compile_criterion_text("Any condition requiring chronic corticosteroid therapy", "exclusion")
    assert [a.classes for a in _atoms(expr) if isinstance(a, cm.ConcomitantMedication)] == [["corticosteroid"]]


_SUBTYPES = """Inclusion Criteria:

  -  Histologically confirmed indolent B-cell non-Hodgkin lymphoma (NHL), including any of
     the following subtypes:

       -  Marginal zone lymphoma

       -  Follicular lymphoma

       -  Mantle cell lymphoma

  -  ECOG performance status 0-1

Exclusion Criteria:

  -  Known CNS lymphoma
"""


def test_subtypes_listed_under_a_diagnosis_are_alternatives():
    from trialmatch.criteria.compile import compile_text

    cc = compile_text(_SUBTYPES, "T-subtypes")
    by_id = {c.id: c for c in cc.criteria}
    head = by_id["I1"]
    assert head.status == "compiled" and head.expression is not None
    assert all(isinstance(a, cm.Diagnosis) and a.cancer_type == "lymphoma" for a in _atoms(head.expression))
    items = [c for c in cc.criteria if c.parent == "I1"]
    assert len(items) == 3 and all(c.expression is None and "I1" in (c.reason or "") for c in items)
    ecog = [c for c in cc.criteria if c.kind == "inclusion" and any(
        isinstance(a, cm.PerformanceStatus) for a in _atoms(c.expression))]
    assert len(ecog) == 1  # the requirement after the list is still one of its own


def test_subtypes_in_real_registry_text(data_dir):
    import json

    from trialmatch.criteria.compile import compile_text

    path = data_dir / "hint" / "trials.ndjson"
    text = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if '"NCT01500083"' in line:
                text = json.loads(line)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
                break
    assert text is not None
    cc = compile_text(text, "NCT01500083")
    head = next(c for c in cc.criteria if c.text.startswith("The patient has one of the following types"))
    kids = [c for c in cc.criteria if c.parent == head.id]
    assert head.expression is not None and len(kids) == 4
    assert all(c.expression is None for c in kids)
