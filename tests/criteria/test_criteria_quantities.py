"""Numeric comparisons as the quantity reader finds them (``criteria.quantities``): operators,
values, ranges, units, time units, pairs and bare values. What the compiler builds from them for
a criterion's wording is in the golden corpus (``golden/person.jsonl``, ``labs.jsonl``,
``measurements.jsonl``)."""

from __future__ import annotations

import pytest

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


def test_bare_value_reader():
    from trialmatch.criteria.quantities import bare_value
    q = bare_value("Gleason score 7, or", 7)
    assert (q.op, q.value, q.unit) == ("==", 7.0, None)
    q = bare_value("ASA status 1,2", 3)
    assert (q.op, q.value, q.value_high) == ("between", 1.0, 2.0)
    for text, pos in [("pain 3 months", 4), ("Gleason 3+4", 7), ("PSA 2019", 3), ("creatinine 1.5 times ULN", 10),
                      ("Hb 10 g/dL or more", 2), ("visual acuity 20/40", 15)]:
        assert bare_value(text, pos) is None, text
