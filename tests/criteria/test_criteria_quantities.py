"""Numeric comparisons (criteria.quantities) and the atoms the compiler builds from them."""

from __future__ import annotations

import pytest

from trialmatch.criteria.compile import compile_criterion_text
from trialmatch.criteria.model import Age, AllOf, AnyOf, LabThreshold, LifeExpectancy, Measurement, Not, iter_atoms
from trialmatch.criteria.quantities import find_quantities, to_years


def _q(text):
    return [(q.op, q.value, q.value_high, q.unit, q.time_unit) for q in find_quantities(text)]


@pytest.mark.parametrize("text, expected", [
    ("Age ≥ 18", [(">=", 18.0, None, None, None)]),
    ("no less than 6 months", [(">=", 6.0, None, None, "month")]),
    ("at least 10%", [(">=", 10.0, None, "percent", None)]),
    ("greater than or equal to 19 years", [(">=", 19.0, None, None, "year")]),
    ("more than 3 cm", [(">", 3.0, None, "cm", None)]),
    ("up to 28 kg/m2", [("<=", 28.0, None, "kg/m**2", None)]),
    ("not exceeding 450 ms", [("<=", 450.0, None, "ms", None)]),
    ("between 18 and 65 years", [("between", 18.0, 65.0, None, "year")]),
    ("ECOG 0-1", [("between", 0.0, 1.0, None, None)]),
    ("ECOG 0~2", [("between", 0.0, 2.0, None, None)]),
    ("18 to 75 years", [("between", 18.0, 75.0, None, "year")]),
    ("≥ 18 and ≤ 65 years", [(">=", 18.0, None, None, "year"), ("<=", 65.0, None, None, "year")]),
    ("±2 kg", [("+/-", 2.0, None, "kg", None)]),
    ("ages 13-17 or 18-20", [("between", 13.0, 17.0, None, None), ("between", 18.0, 20.0, None, None)]),
    ("lesion (>1.5cm diameter)", [(">", 1.5, None, "cm", None)]),
    ("platelets ≥ 100,000/mm3", [(">=", 100000.0, None, "1/mm**3", None)]),
    ("ANC ≥ 1.5×109/L", [(">=", 1.5, None, "10**9/L", None)]),
    ("ANC ≥ 1.5 x 10^9/L", [(">=", 1.5, None, "10**9/L", None)]),
    ("glucose < 6,1 mmol/l", [("<", 6.1, None, "mmol/L", None)]),
    ("age 1-12 months", [("between", 1.0, 12.0, None, "month")]),
    ("< 72 hours old", [("<", 72.0, None, None, "hour")]),
    ("18 years or older", [(">=", 18.0, None, None, "year")]),
    ("ASA 1 or 2", [("between", 1.0, 2.0, None, None)]),
    ("BMI <25 or >37 kg/m2", [("<", 25.0, None, "kg/m**2", None), (">", 37.0, None, "kg/m**2", None)]),
    ("SBP > 160 mmHg", [(">", 160.0, None, "mmHg", None)]),
    ("Tmax>6s", [(">", 6.0, None, None, "second")]),
    ("between 2005-2017", []),
    ("COVID-19 infection", []),
    ("no digits at all", []),
])
def test_find_quantities(text, expected):
    assert _q(text) == expected


def test_windows_are_marked():
    (q,) = find_quantities("major surgery within 4 weeks")
    assert q.window and q.op == "<=" and q.time_unit == "week"


def test_to_years():
    assert to_years(6, "month") == 0.5
    assert abs(to_years(72, "hour") - 72 / 8766) < 1e-12


def _atoms(text, kind="inclusion"):
    expr, status, _ = compile_criterion_text(text, kind)
    return expr, list(iter_atoms(expr)) if expr is not None else []


def test_age_two_bounds_as_written():
    expr, atoms = _atoms("Age ≥18 years and ≤ 70 years")
    ages = [a for a in atoms if isinstance(a, Age)]
    assert [(a.years.low, a.years.high) for a in ages] == [(18.0, None), (None, 70.0)]
    assert any(isinstance(n, AllOf) for n in [expr]) or isinstance(expr, AllOf)


def test_age_disjoint_bounds_are_alternatives():
    expr, atoms = _atoms("Age < 18 or > 80 years", "exclusion")
    assert isinstance(expr, AnyOf)
    assert {(a.years.high, a.years.low) for a in atoms if isinstance(a, Age)} == {(18.0, None), (None, 80.0)}


def test_age_in_months_keeps_unit():
    _, atoms = _atoms("age 1-12 months")
    (a,) = [a for a in atoms if isinstance(a, Age)]
    assert a.unit_as_written == "month" and abs(a.years.low - 1 / 12) < 1e-9 and a.years.high == 1.0


def test_age_in_hours():
    _, atoms = _atoms("Neonates less than 72 hours old")
    (a,) = [a for a in atoms if isinstance(a, Age)]
    assert a.unit_as_written == "hour" and not a.years.high_inclusive


def test_age_not_a_window():
    _, atoms = _atoms("Patients who had surgery within 5 years")
    assert not [a for a in atoms if isinstance(a, Age)]


def test_life_expectancy_below_is_negated():
    expr, _ = _atoms("Life expectancy < 12 weeks", "exclusion")
    assert isinstance(expr, Not) and isinstance(expr.item, LifeExpectancy)
    assert expr.item.minimum.value == 12 and expr.item.minimum.unit == "week"


def test_lab_range_is_measurement_between():
    _, atoms = _atoms("Plasma phosphate between 0.7 and 3.0 mmol/L")
    (m,) = [a for a in atoms if isinstance(a, Measurement)]
    assert (m.comparator, m.value, m.value_high, m.unit) == ("between", 0.7, 3.0, "mmol/L")


def test_lab_damaged_power():
    _, atoms = _atoms("Platelets ≥ 100×109/L")
    (lab,) = [a for a in atoms if isinstance(a, LabThreshold)]
    assert (lab.analyte, lab.comparator, lab.value, lab.unit) == ("platelets", ">=", 100.0, "10**9/L")


@pytest.mark.parametrize("text, name, op, value, unit", [
    ("Liver stiffness ≥ 10 kPa", "liver stiffness", ">=", 10.0, "kPa"),
    ("MMSE score of 24 or above", None, ">=", 24.0, None),
    ("Clinical Frailty Score above 7", "clinical frailty score", ">", 7.0, None),
    ("Index lesion greater than 0.5 cm3", "index lesion", ">", 0.5, "cm**3"),
])
def test_measurements(text, name, op, value, unit):
    _, atoms = _atoms(text)
    ms = [a for a in atoms if isinstance(a, Measurement)]
    assert ms, atoms
    m = ms[0]
    if name:
        assert m.name == name
    assert (m.comparator, m.value) == (op, value)
    if unit:
        assert m.unit == unit


def test_counts_and_doses_are_not_measurements():
    for text in ("At least 2 prior lines of chemotherapy", "Prednisone dose > 10 mg daily"):
        _, atoms = _atoms(text)
        assert not [a for a in atoms if isinstance(a, Measurement)], (text, atoms)


@pytest.mark.parametrize("text, expected", [
    ("Age > or = to 65 years", [(">=", 65.0, None, None, "year")]),
    ("ECOG > = 4", [(">=", 4.0, None, None, None)]),
    ("Age ˂ 18 years old", [("<", 18.0, None, None, "year")]),
    ("Minimum Age: 18 Years", [(">=", 18.0, None, None, "year")]),
    ("Age between 20 years old and 65 years old", [("between", 20.0, 65.0, None, "year")]),
    ("7 and 65 years old", [("between", 7.0, 65.0, None, "year")]),
    ("18 and 65", []),
    ("18-35-year-old women", [("between", 18.0, 35.0, None, "year")]),
    ("aged between 18- and 65-years", [("between", 18.0, 65.0, None, "year")]),
    ("Children age 4 to < 17 years", [("between", 4.0, 17.0, None, "year")]),
    ("Haemoglobin equal to or greater than100 g/L", [(">=", 100.0, None, "g/L", None)]),
    ("TBI >= 1200 cGy", [(">=", 1200.0, None, "cGy", None)]),
])
def test_find_quantities_more_forms(text, expected):
    assert _q(text) == expected


def test_slash_pairs_and_scale_maxima():
    (q,) = find_quantities("BP >140/90 mmHg.")
    assert (q.op, q.value, q.pair, q.unit) == (">", 140.0, 90.0, "mmHg")
    (q,) = find_quantities("pain > 4/10 on a VAS")
    assert (q.value, q.out_of, q.pair) == (4.0, 10.0, None)
    (q,) = find_quantities("more than 1/3 of the liver")
    assert (q.value, q.out_of, q.pair) == (1.0, None, None)


def _desc(text, kind="inclusion"):
    expr, _, _ = compile_criterion_text(text, kind)
    return expr


def test_every_comparison_of_one_analyte_is_kept():
    e = _desc("BMI <20 or >35 kg/m2", "exclusion")
    assert isinstance(e, AnyOf) and [(a.comparator, a.value) for a in e.items] == [("<", 20.0), (">", 35.0)]
    e = _desc("BMI ≥18,5 and ≤27,5")
    assert isinstance(e, AllOf) and [(a.comparator, a.value) for a in e.items] == [(">=", 18.5), ("<=", 27.5)]
    # a restatement in another unit is not a second threshold
    e = _desc("ANC ≥ 1500/µL (1.5 × 10^9/L)")
    assert isinstance(e, LabThreshold) and e.value == 1500.0


def test_sex_specific_thresholds_become_a_conditional():
    from trialmatch.criteria.model import IfThen, Sex
    e = _desc("HDL-C ≥ 40 mg/dL in men, ≥ 50 mg/dL in women")
    assert isinstance(e, IfThen) and isinstance(e.condition, Sex) and e.condition.allowed == ["female"]
    assert (e.then.value, e.otherwise.value) == (50.0, 40.0)


def test_blood_pressure_pairs():
    e = _desc("uncontrolled hypertension (BP > 160/100 mmHg)", "exclusion")
    atoms = [a for a in iter_atoms(e) if isinstance(a, LabThreshold)]
    assert {(a.analyte, a.comparator, a.value) for a in atoms} == {("systolic_bp", ">", 160.0), ("diastolic_bp", ">", 100.0)}
    e = _desc("Normal blood pressure <140/90 mmHg")
    assert isinstance(e, AllOf) and {a.value for a in e.items} == {140.0, 90.0}


def test_age_after_a_colon_and_ecog_upper_bound():
    from trialmatch.criteria.model import PerformanceStatus
    e = _desc("Age: 50-80 years")
    assert isinstance(e, Age) and (e.years.low, e.years.high) == (50.0, 80.0)
    e = _desc("ECOG ≤ 2")
    assert isinstance(e, PerformanceStatus) and (e.range.low, e.range.high) == (None, 2.0)


def test_measurement_named_after_or_before_a_bracket():
    e = _desc(">/= 5 ppm carbon monoxide (CO)")
    assert isinstance(e, Measurement) and e.name == "carbon monoxide" and e.value == 5.0
    e = _desc("Greater than 37 weeks gestation")
    assert isinstance(e, Measurement) and (e.name, e.comparator, e.value, e.unit) == ("gestational age", ">", 37.0, "week")


@pytest.mark.parametrize("text, expected", [
    ("died from cancer between 2008 and 2017", []),  # calendar years of a period, not a range to compare
    ("from 2000 to 2017", []),
    ("RASS score > 1 or < -1", [(">", 1.0, None, None, None), ("<", -1.0, None, None, None)]),
    ("z-score < +1.5", [("<", 1.5, None, None, None)]),
    ("Questionnaire = 5 or higher", [(">=", 5.0, None, None, None)]),
    ("Age equal or above 18 years", [(">=", 18.0, None, None, "year")]),
    ("less then 60 y/o", [("<", 60.0, None, None, "year")]),
    ("life expectancy shorter than 6 months", [("<", 6.0, None, None, "month")]),
    ("axillary temperature ≥ 38 ℃", [(">=", 38.0, None, "degC", None)]),
    ("varus angle ≥ 15 °", [(">=", 15.0, None, "degree", None)]),
    ("hemoglobin <10gm%", [("<", 10.0, None, "g/dL", None)]),
    ("creatinine clearance >= 40 cc/min", [(">=", 40.0, None, "mL/min", None)]),
    ("Age: > 8 - 40 years", [("between", 8.0, 40.0, None, "year")]),
    ("moreover 5 patients", []),  # an operator word starts a word
    ("Chronic Kidney Disease stage 1-5", [("between", 1.0, 5.0, None, None)]),
])
def test_find_quantities_signs_units_and_ranges(text, expected):
    assert _q(text) == expected


def test_stage_range_is_not_an_age():
    assert not [q for q in find_quantities("Chronic Kidney Disease stage 1-5") if q.age_cue]


def test_receptor_percent_is_not_a_measurement():
    # seed 004: the 10% belongs to the receptor; no Measurement("cancer cells show" >= 10%) beside it
    _, atoms = _atoms("Estrogen Receptor-positive (at least 10% of cancer cells show positive ER staining)")
    assert not [a for a in atoms if isinstance(a, Measurement)]
    assert [a.min_percent for a in atoms if a.kind == "receptor"] == [10.0]


def test_measurement_not_skipped_for_a_value_another_atom_has():
    # the age 18 and the score 18 are two comparisons: the score is not "used" by the age
    _, atoms = _atoms("Age ≥ 18 years and pain score ≥ 18")
    assert any(isinstance(a, Age) for a in atoms)
    assert [(m.value, m.comparator) for m in atoms if isinstance(m, Measurement)] == [(18.0, ">=")]


def test_lab_restatement_is_one_comparison():
    _, atoms = _atoms("ANC ≥ 1500/µL (1.5 × 10^9/L)")
    assert [type(a).__name__ for a in atoms] == ["LabThreshold"]


def test_life_expectancy_within():
    expr, _ = _atoms("life expectancy within 12 months", "exclusion")
    assert isinstance(expr, Not) and isinstance(expr.item, LifeExpectancy)
    assert expr.item.minimum.value == 12 and expr.item.strict


def test_performance_scores_and_out_of_scale_values():
    _, atoms = _atoms("ECOG Scale of Performance Status (PS) scores 0 or 1.")
    ps = [a for a in atoms if a.kind == "performance_status"]
    assert [(a.range.low, a.range.high) for a in ps] == [(0.0, 1.0)]
    _, atoms = _atoms("Present locations with probing depth (PS)> 6 mm")
    assert not [a for a in atoms if a.kind == "performance_status"]
    assert [(m.value, m.unit) for m in atoms if isinstance(m, Measurement)] == [(6.0, "mm")]


def test_analyte_names_with_optional_hyphens_and_spaces():
    _, atoms = _atoms("Mini Mental State Exam score >= 15")
    assert [(m.name, m.comparator, m.value) for m in atoms if isinstance(m, Measurement)] == [("mmse", ">=", 15.0)]


# ----------------------------------------------------------------------------- bare values, age cues, names
def test_bare_value_reader():
    from trialmatch.criteria.quantities import bare_value
    q = bare_value("Gleason score 7, or", 7)
    assert (q.op, q.value, q.unit) == ("==", 7.0, None)
    q = bare_value("ASA status 1,2", 3)
    assert (q.op, q.value, q.value_high) == ("between", 1.0, 2.0)
    for text, pos in [("pain 3 months", 4), ("Gleason 3+4", 7), ("PSA 2019", 3), ("creatinine 1.5 times ULN", 10),
                      ("Hb 10 g/dL or more", 2), ("visual acuity 20/40", 15)]:
        assert bare_value(text, pos) is None, text


@pytest.mark.parametrize("text, cls, key, op, value, unit", [
    ("Gleason score 7, or", Measurement, "gleason", "==", 7.0, None),
    ("PSA 20 ng/ml", LabThreshold, "psa", "==", 20.0, "ng/mL"),
    ("Healthy adult volunteers (ASA 1 physical state)", Measurement, "asa", "==", 1.0, None),
    ("Glasgow coma scale of 15 within 24 hours after admission", Measurement, "glasgow_coma_scale", "==", 15.0, None),
    ("heart failure greater than NYHA 2", Measurement, "nyha", ">", 2.0, None),
])
def test_bare_values_after_a_vocabulary_name(text, cls, key, op, value, unit):
    _, atoms = _atoms(text, "exclusion")
    hits = [a for a in atoms if isinstance(a, cls)]
    assert len(hits) == 1, atoms
    a = hits[0]
    assert ((a.name if cls is Measurement else a.analyte), a.comparator, a.value, a.unit) == (key, op, value, unit)


def test_bare_value_lists_and_what_is_not_one():
    (m,) = [a for a in _atoms("ASA physical status 1 and 2, undergoing surgery")[1] if isinstance(a, Measurement)]
    assert (m.comparator, m.value, m.value_high) == ("between", 1.0, 2.0)
    (m,) = [a for a in _atoms("ASA 3 or 4, mental retardation", "exclusion")[1] if isinstance(a, Measurement)]
    assert (m.comparator, m.value, m.value_high) == ("between", 3.0, 4.0)
    # a restatement in brackets after a threshold adds no requirement; a range of times is no bare value
    _, atoms = _atoms("Haemoglobin (Hb) ≥10 g/dL (Hct 32%)")
    assert [(a.analyte, a.value) for a in atoms if isinstance(a, LabThreshold)] == [("hemoglobin", 10.0)]
    _, atoms = _atoms("gestational age 35 to 39 weeks")
    assert not [a for a in atoms if isinstance(a, Measurement) and a.comparator == "=="]


@pytest.mark.parametrize("text, low, high", [
    ("patients <18", None, 18.0),
    ("Any patient ≥18 who presents for a colonoscopy", 18.0, None),
    ("Women >18 yo", 18.0, None),
    ("Inpatient ≥18 y.o. who are scheduled for surgery", 18.0, None),
    ("age between 50 an 65 years", 50.0, 65.0),
    ("Women aged 18 or older who are able to give informed consent", 18.0, None),
])
def test_age_cues(text, low, high):
    _, atoms = _atoms(text, "exclusion" if high == 18.0 else "inclusion")
    ages = [a for a in atoms if isinstance(a, Age)]
    assert [(a.years.low, a.years.high) for a in ages] == [(low, high)], atoms


def test_person_compared_with_a_time_is_not_an_age():
    _, atoms = _atoms("Patients ≥1 and ≤6 months after type I myocardial infarction")
    assert not [a for a in atoms if isinstance(a, Age)]
    _, atoms = _atoms("Patients ≥ 2 prior lines of therapy")
    assert not [a for a in atoms if isinstance(a, Age)]


def test_consent_clause_keeps_its_comparison_but_not_its_window():
    from trialmatch.criteria.model import NeedsConfirmation
    expr, _, _ = compile_criterion_text("Signed informed consent within 28 days before registration")
    assert isinstance(expr, NeedsConfirmation)


@pytest.mark.parametrize("text, name, op, value", [
    ("Serum HDL-C: <50 mg/dl", "serum hdl-c", "<", 50.0),
    ("Index lesion(s) greater than 0.5 cm3", "index lesion", ">", 0.5),
    ("Pre-stroke modified Rankin scale ≤ 3 (being able to ambulate)", "pre-stroke modified rankin scale", "<=", 3.0),
    ("Patients with a ≥20mm non-pedunculated colorectal polyp", "non-pedunculated colorectal polyp", ">=", 20.0),
    ("GDM diagnosed ≥ 33 gestational weeks", "gestational age", ">=", 33.0),
])
def test_measurement_names(text, name, op, value):
    ms = [a for a in _atoms(text)[1] if isinstance(a, Measurement)]
    assert [(m.name, m.comparator, m.value) for m in ms] == [(name, op, value)]


def test_count_restated_in_words_is_not_a_measurement():
    _, atoms = _atoms("Received at least 2 (two) prior lines of chemotherapy")
    assert not [a for a in atoms if isinstance(a, Measurement)]

