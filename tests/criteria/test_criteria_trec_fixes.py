"""Compiler fixes found on TREC CT 2021 notes (general language rules, own sentences)."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.criteria.compile import compile_criterion_text
from trialmatch.criteria.split import split_criteria


def _atoms(expr):
    return list(cm.iter_atoms(expr)) if expr is not None else []


def test_condition_restricted_to_a_grade_needs_that_severity():
    expr, status, _ = compile_criterion_text(
        "Serious organ dysfunction (e.g. lung diseases (NYHA >= III, arrhythmia Lown III/IV))", "exclusion")
    arr = [a for a in _atoms(expr) if isinstance(a, cm.Condition) and a.condition == "arrhythmia"]
    assert status == "compiled" and arr and "severe" in arr[0].qualifiers
    expr, _, _ = compile_criterion_text("History of atrial fibrillation", "exclusion")
    assert all("severe" not in a.qualifiers for a in _atoms(expr) if isinstance(a, cm.Condition))
    expr, _, _ = compile_criterion_text("Grade 1 peripheral neuropathy", "exclusion")
    assert all("severe" not in a.qualifiers for a in _atoms(expr) if isinstance(a, cm.Condition))


def test_requirement_of_one_age_group_is_a_conditional_not_an_age_limit():
    expr, status, _ = compile_criterion_text("Subjects aged 45-70 must provide a normal mammogram report")
    assert status == "compiled" and isinstance(expr, cm.IfThen)
    assert isinstance(expr.condition, cm.Age) and expr.condition.years.low == 45 and expr.condition.years.high == 70
    assert isinstance(expr.then, cm.NeedsConfirmation)
    expr, _, _ = compile_criterion_text("Participants 60 years of age and older must have a normal ECG.")
    assert isinstance(expr, cm.IfThen) and expr.condition.years.low == 60
    expr, _, _ = compile_criterion_text(
        "For subjects >= 18 years of age: ability to give informed consent. For subjects under 18 years of age: "
        "ability to give assent and consent of a parent.")
    assert isinstance(expr, cm.AllOf) and all(isinstance(i, cm.IfThen) for i in expr.items)
    # a plain age limit stays an age limit
    for text in ("Patients must be 18 years or older", "Patients aged 18 to 75 years", "Age >= 18 years"):
        expr, _, _ = compile_criterion_text(text)
        assert isinstance(expr, cm.Age), text


def test_age_limit_of_some_countries_only_is_not_applied_everywhere():
    expr, status, _ = compile_criterion_text(
        "Outpatients >= 12 years of age at consent. In countries where local regulations allow only adults, "
        "patients must be 18 years of age or older.")
    ages = [a for a in _atoms(expr) if isinstance(a, cm.Age)]
    assert [a.years.low for a in ages] == [12]
    assert any(isinstance(a, cm.NeedsConfirmation) for a in _atoms(expr))
    expr, _, _ = compile_criterion_text(
        "At least 12 years old (for those countries where local rules permit only adults, recruitment is "
        "restricted to those >= 18 years)")
    assert [a.years.low for a in _atoms(expr) if isinstance(a, cm.Age)] == [12]


def test_exclusion_item_that_states_what_is_permitted_excludes_nothing():
    expr, status, reason = compile_criterion_text(
        "Use of nasal corticosteroids at a stable dose for at least 4 weeks before screening is permitted",
        "exclusion")
    assert expr is None and status == "compiled" and "allowed" in reason
    expr, status, _ = compile_criterion_text("No prior chemotherapy is permitted", "exclusion")
    assert expr is not None


def test_dose_in_a_permission_limits_the_drug_check():
    expr, status, _ = compile_criterion_text("No concurrent steroids (up to 7.5 mg prednisone daily allowed)")
    assert status == "compiled" and isinstance(expr, cm.Not) and isinstance(expr.item, cm.Except)
    assert isinstance(expr.item.main, (cm.ConcomitantMedication, cm.PriorTherapy))
    dose = expr.item.exception
    assert isinstance(dose, cm.Measurement) and dose.comparator == "<=" and dose.value == 7.5
    # the permission's condition ("provided ...") is part of the permission, not a requirement
    expr, _, _ = compile_criterion_text(
        "At least 4 weeks since prior chemotherapy (concurrent dexamethasone allowed provided dose is <= 4 mg daily)")
    assert "dexamethasone" not in str(expr)


def test_dose_threshold_on_drug_use_is_kept():
    expr, status, _ = compile_criterion_text(
        "Received corticosteroids (prednisone > 20 mg/day or equivalent) within the last 4 weeks", "exclusion")
    doses = [a for a in _atoms(expr) if isinstance(a, cm.Measurement)]
    assert status == "compiled" and doses and doses[0].comparator == ">" and doses[0].value == 20
    assert any(isinstance(a, cm.PriorTherapy) for a in _atoms(expr))
    # a cancer drug's dose is not turned into a limit
    expr, _, _ = compile_criterion_text("Prior paclitaxel at more than 80 mg/m2", "exclusion")
    assert not any(isinstance(a, cm.Measurement) for a in _atoms(expr))


def test_header_with_text_on_its_line_switches_to_exclusions():
    text = ("Inclusion Criteria:\n\n  - Age 50 or older\n\nExclusion Criteria: All of the following must be "
            "answered No.\n\n  - History of bladder cancer or a serum PSA > 10 ng/mL?\n")
    kinds = [(s.kind, s.text[:20]) for s in split_criteria(text)]
    assert kinds[0][0] == "inclusion"
    assert kinds[-1] == ("exclusion", "History of bladder c")


def test_hematologic_drugs_are_vocabulary():
    expr, status, _ = compile_criterion_text("Prior treatment with melphalan or thalidomide", "exclusion")
    agents = {g for a in _atoms(expr) if isinstance(a, cm.PriorTherapy) for g in a.agents}
    assert status == "compiled" and {"melphalan", "thalidomide"} <= agents
