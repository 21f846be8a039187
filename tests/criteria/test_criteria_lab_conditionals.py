"""Lab limits that another fact replaces: "unless <condition>, in which case <other analyte's limit>" and
"(<stricter limit> if <other analyte's comparison>)": one IfThen, the condition not a requirement of its own."""

from __future__ import annotations

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm


def compiled(text: str):
    expr, status, reason = compile_criterion_text(text, "inclusion")
    assert status == "compiled", (status, reason)
    return expr


def test_unless_condition_in_which_case_other_analyte():
    e = compiled("Serum total bilirubin </= 1.5 times the upper limit normal (ULN), unless the patient has a diagnosis "
                 "of Gilbert's disease, in which case direct bilirubin </= 1.5 times ULN of the direct bilirubin.")
    assert isinstance(e, cm.IfThen)
    assert e.condition == cm.Condition(condition="gilbert_syndrome")
    assert (e.then.analyte, e.then.uln_multiple) == ("direct_bilirubin", 1.5)
    assert (e.otherwise.analyte, e.otherwise.uln_multiple) == ("total_bilirubin", 1.5)
    e2 = compiled("Total bilirubin ≤ 1.5 x ULN unless Gilbert syndrome, in which case direct bilirubin ≤ ULN")
    assert isinstance(e2, cm.IfThen) and e2.then.uln_multiple == 1.0


def test_stricter_limit_if_other_analyte_comparison():
    e = compiled("Aspartate aminotransferase (AST) and alanine aminotransferase (ALT) </= 2.5 x ULN "
                 "(</= 1.5 x ULN if alkaline phosphatase is > 2.5 x ULN)")
    assert isinstance(e, cm.AllOf) and all(isinstance(x, cm.IfThen) for x in e.items)
    for x, key in zip(e.items, ("ast", "alt")):
        assert (x.condition.analyte, x.condition.comparator, x.condition.uln_multiple) == ("alkaline_phosphatase", ">", 2.5)
        assert (x.then.analyte, x.then.uln_multiple, x.otherwise.uln_multiple) == (key, 1.5, 2.5)


def test_plain_lists_of_limits_are_unchanged():
    e = compiled("AST and ALT ≤ 2.5 x ULN; alkaline phosphatase ≤ 2.5 x ULN")
    assert isinstance(e, cm.AllOf) and all(isinstance(x, cm.LabThreshold) for x in e.items)
    e2 = compiled("ALT ≤ 3 x ULN (≤ 5 x ULN if liver metastases)")
    assert isinstance(e2, cm.IfThen) and e2.condition == cm.Metastasis(site="liver")


def test_pregnant_with_the_test_that_shows_it_in_brackets():
    expr, status, _ = compile_criterion_text("Females who are pregnant (positive B-hCG test) or breastfeeding.", "exclusion")
    assert status == "compiled"
    assert expr == cm.AnyOf(items=[cm.Pregnancy(state="pregnant"), cm.Pregnancy(state="breastfeeding")])


def test_exclusion_sentences_each_exclude_when_one_is_a_confirmation():
    expr, status, _ = compile_criterion_text(
        "Female patients who are pregnant or breastfeeding. Male or female patients of reproductive potential who are "
        "not willing to employ highly effective methods of contraception from screening to 180 days after the last dose.",
        "exclusion")
    assert status == "compiled" and isinstance(expr, cm.AnyOf)
    kinds = {a.kind for a in cm.iter_atoms(expr)}
    assert {"pregnancy", "confirm"} <= kinds
