"""Compiler behaviours: splitting, conditionals, alternatives, exceptions, negation, round trip."""

from __future__ import annotations

import json

from trialmatch.criteria.compile import COMPILER_VERSION, compile_criterion_text, compile_text
from trialmatch.criteria.model import CompiledCriteria, expression_from_dict
from trialmatch.criteria.split import split_criteria

HINT_STYLE = """Inclusion Criteria:

          -  Histologically confirmed adenocarcinoma of the breast with measurable disease per
             RECIST 1.1

          -  Adequate organ function:

               -  ANC >= 1,500/mm3

               -  Platelets >= 100,000/mm3

        Exclusion Criteria:

          -  Known HIV infection

          -  Major surgery within 4 weeks prior to enrollment
"""


def test_split_hint_style_wrapped_and_nested():
    parts = split_criteria(HINT_STYLE)
    texts = [(p.id, p.kind, p.parent) for p in parts]
    assert texts[0] == ("I1", "inclusion", None)
    assert "RECIST 1.1" in parts[0].text  # wrapped line continues the criterion
    assert ("I2.1", "inclusion", "I2") in texts and ("I2.2", "inclusion", "I2") in texts
    assert [p.kind for p in parts if p.id.startswith("E")] == ["exclusion", "exclusion"]
    for p in parts:
        assert HINT_STYLE[p.span[0]:p.span[1]] == p.text


def test_split_numbered_and_headers_any_case():
    text = "INCLUSION CRITERIA\n1. Age >= 18\n2) ECOG 0-1\nexclusion criteria:\na) Pregnant women\n"
    parts = split_criteria(text)
    assert [(p.id, p.text) for p in parts] == [("I1", "Age >= 18"), ("I2", "ECOG 0-1"), ("E1", "Pregnant women")]


def test_conditional_liver_metastases():
    expr, status, _ = compile_criterion_text("ALT ≤ 2.5 × ULN (≤ 5 × ULN if liver metastases)")
    assert status == "compiled" and expr.kind == "if_then"
    assert expr.condition.kind == "metastasis" and expr.condition.site == "liver"
    assert expr.then.uln_multiple == 5 and expr.otherwise.uln_multiple == 2.5
    assert "if liver metastases" in expr.describe()


def test_alternative_cockcroft_gault():
    expr, status, _ = compile_criterion_text(
        "Serum creatinine ≤ 1.5 × ULN or creatinine clearance ≥ 60 mL/min (Cockcroft-Gault)")
    assert expr.kind == "any_of"
    crcl = expr.items[1]
    assert crcl.analyte == "creatinine_clearance" and crcl.value == 60 and crcl.unit == "mL/min"


def test_other_malignancy_exceptions():
    expr, _, _ = compile_criterion_text(
        "Other malignancy within 3 years, except adequately treated basal cell carcinoma or carcinoma in situ of the cervix",
        "exclusion")
    assert expr.kind == "other_malignancy" and expr.within.value == 3 and expr.within.unit == "year"
    assert set(expr.exceptions) >= {"non_melanoma_skin_cancer", "cervical_carcinoma_in_situ"}


def test_negation_and_comparator_phrases():
    expr, _, _ = compile_criterion_text("No prior CDK4/6 inhibitor", "inclusion")
    assert expr.kind == "not" and expr.item.agents == ["cdk46_inhibitor"]
    expr, _, _ = compile_criterion_text("No more than two prior lines of chemotherapy for metastatic disease")
    assert expr.kind == "prior_therapy" and expr.lines.high == 2 and expr.lines.low == 0
    expr, _, _ = compile_criterion_text("Karnofsky performance status ≥ 70%")
    assert expr.scale == "karnofsky" and expr.range.low == 70


def test_unsupported_is_explicit():
    expr, status, reason = compile_criterion_text("Zorblax quantifier must be flumbled")
    assert status == "unsupported" and expr.kind == "unsupported" and "Zorblax" in reason


def test_round_trip_and_version():
    text = open(__file__, encoding="utf-8").read().split('HINT_STYLE = """', 1)[1].split('"""', 1)[0]
    cc = compile_text(text, "T1")
    assert cc.compiler_version == COMPILER_VERSION
    for c in cc.criteria:
        if c.expression is not None:
            again = expression_from_dict(json.loads(json.dumps(c.expression.to_dict())))
            assert again == c.expression
    assert CompiledCriteria.model_validate_json(cc.model_dump_json()) == cc


def test_bad_input_never_crashes():
    for text in ["", "   ", "\x00\x01", "-\n-\n", "≥≥≥ 10^^9/L", "Inclusion Criteria:"]:
        cc = compile_text(text, "bad")
        assert isinstance(cc, CompiledCriteria)
