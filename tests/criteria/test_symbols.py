"""Symbol-font and mojibake operators (trialmatch.criteria.symbols)."""

import pytest

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria.symbols import normalise_operators


@pytest.mark.parametrize("text, expected", [
    ("LVEF ³50%", "LVEF ≥50%"),
    ("LVEF Â³ 50%", "LVEF ≥ 50%"),
    ("Creatinine £ 1.5 x ULN", "Creatinine ≤ 1.5 x ULN"),
    ("Bilirubin Â£1.5 mg/dL", "Bilirubin ≤1.5 mg/dL"),
    ("ANC â‰¥ 1500", "ANC ≥ 1500"),
])
def test_operator_before_a_number_is_read(text, expected):
    assert normalise_operators(text) == expected


@pytest.mark.parametrize("text", [
    "Platelets 100 x 10³/µL",  # a unit's superscript
    "Platelets >= 100,000/mm³ 2 weeks before",  # after a unit, before a number: still the unit
    "no sign before a number £",
    "Plain text",
])
def test_other_uses_are_kept(text):
    assert normalise_operators(text) == text


def test_compiled_threshold_uses_the_operator():
    expr, status, _ = compile_criterion_text("Left ventricular ejection fraction (LVEF) ³50% by echocardiogram", "inclusion")
    assert status == "compiled"
    assert expr.kind == "lab" and expr.analyte == "lvef" and expr.comparator == ">=" and expr.value == 50
