"""Shapes of requirements the compiler must not misread: a statement about the trial population, a sentence on
the patients with a condition only among other sentences, metastases at a named site beside the metastatic
extent, treated CNS metastases that progressed, and an "or" inside a closing bracket."""

from __future__ import annotations

import pytest

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.criteria.compile import _build
from trialmatch.criteria.split import split_criteria


def kinds(expr) -> list[str]:
    return [a.kind for a in cm.iter_atoms(expr)]


@pytest.mark.parametrize("text", [
    "HER2-positive patients: the proportion of patients receiving targeted therapy is not less than 80% of the total "
    "HER2-positive patients",
    "The percentage of patients with visceral metastases will not exceed 50%",
])
def test_a_statement_about_the_trial_population_is_no_requirement(text):
    compiled = _build(split_criteria(f"Inclusion Criteria:\n* {text}"), "t", "criteria_text", text)
    c = compiled.criteria[-1]
    assert c.expression is None and c.status == "compiled", c
    assert c.reason.startswith("not a requirement"), c.reason


def test_a_sentence_on_the_patients_with_a_condition_is_conditional_among_other_sentences():
    text = ("Participants must have adequate cardiac function. Participants with known history or current symptoms of "
            "cardiac disease, or history of treatment with cardiotoxic agents, must have a clinical risk assessment of "
            "cardiac function using the New York Heart Association Functional Classification, and must be class 2B or "
            "better")
    expr, status, _ = compile_criterion_text(text, "inclusion")
    assert isinstance(expr, cm.AllOf), expr
    conds = [x for x in expr.items if isinstance(x, cm.IfThen)]
    assert conds and any(isinstance(a, cm.Condition) and a.condition == "cardiac_disease"
                         for a in cm.iter_atoms(conds[0].condition))
    # the condition is not required of every patient
    assert not any(isinstance(x, cm.Condition) for x in expr.items)


def test_a_long_condition_of_a_conditional_sentence():
    text = ("Participants with known history or current symptoms of cardiac disease, or history of treatment with "
            "cardiotoxic agents, must be class 2B or better")
    expr, _, _ = compile_criterion_text(text, "inclusion")
    assert isinstance(expr, cm.IfThen), expr


@pytest.mark.parametrize("text", ["breast cancer with brain metastases", "metastatic breast cancer with brain metastases"])
def test_metastases_at_a_site_carry_the_metastatic_extent(text):
    expr, _, _ = compile_criterion_text(text, "inclusion")
    assert "metastasis" in kinds(expr) and "disease_extent" not in kinds(expr), expr


def test_the_metastatic_extent_alone_stays():
    expr, _, _ = compile_criterion_text("metastatic breast cancer", "inclusion")
    assert "disease_extent" in kinds(expr)


@pytest.mark.parametrize("text", [
    "Participants must have had CNS progression after previous CNS-directed therapy (radiation therapy, surgery, or any "
    "combination of therapy)",
    "Brain progression following prior stereotactic radiosurgery",
    "Progression of brain metastases after prior radiotherapy",
])
def test_cns_progression_after_local_therapy(text):
    expr, status, reason = compile_criterion_text(text, "inclusion")
    assert status == "compiled", (status, reason)
    mets = [a for a in cm.iter_atoms(expr) if isinstance(a, cm.Metastasis)]
    assert {q for a in mets for q in a.qualifiers} >= {"progressing", "treated"}, expr


def test_an_or_inside_a_closing_bracket_is_the_brackets_list():
    expr, status, reason = compile_criterion_text(
        "Must have had prior radiotherapy (whole brain, stereotactic, or any combination of these)", "inclusion")
    assert status == "compiled", (status, reason)
    assert not any(isinstance(a, cm.Unsupported) for a in cm.iter_atoms(expr))
