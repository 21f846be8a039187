"""Wordings that compile through vocabulary entries or the placeholder rule (not through
``compile_criterion_text`` alone): drug abbreviations and classes, permissive statements."""

from __future__ import annotations

import pytest

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria.extractors.confirm import _PLACEHOLDER, _maybe_placeholder


@pytest.mark.parametrize("text, kind, agents", [
    ("Formerly treated with DOX.", "exclusion", ["doxorubicin"]),
    ("Prior CDK2 inhibitor", "exclusion", ["cdk2_inhibitor"]),
])
def test_prior_therapy_vocabulary(text, kind, agents):
    expr, status, _ = compile_criterion_text(text, kind)
    assert status == "compiled" and expr.kind == "prior_therapy" and expr.agents == agents


def test_current_diuretic_is_a_medication_class():
    expr, status, _ = compile_criterion_text("Current use of diuretics", "exclusion")
    assert status == "compiled" and expr.kind == "concomitant_medication" and expr.classes == ["diuretic"]


def test_qt_prolonging_drugs_are_a_medication_class():
    expr, status, _ = compile_criterion_text(
        "Subjects taking any drugs with a known risk of causing torsades de pointes.", "exclusion")
    assert status == "compiled" and expr.classes == ["qt_prolonging_drug"]


@pytest.mark.parametrize("text, permissive", [
    ("Any estrogen receptor (ER), progesterone receptor (PR), HER2 status", True),
    ("Any HER2 status", True),
    ("Any hormone receptor status is allowed", True),
    ("HER2 status must be known", False),
    ("Any HER2-positive status", False),
])
def test_any_receptor_status_is_no_requirement(text, permissive):
    assert (_maybe_placeholder(text) and _PLACEHOLDER.match(text) is not None) is permissive
