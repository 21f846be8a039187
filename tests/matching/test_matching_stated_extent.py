"""Extent of disease from a pathological TNM and a stated absence of distant disease, and "one of the following"
headings whose own extent of disease is not restated by every alternative."""

from __future__ import annotations

import pytest

from trialmatch.criteria.compile import compile_text
from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient as _note

EARLY = ("Clinic 14/10/2026. 51 y/o woman. Mastectomy 01/09/2026: invasive lobular carcinoma, {tnm}, margins clear. "
         "ER 90%, PR 60%, HER2 0. {absent}")


@pytest.mark.parametrize("tnm,absent", [
    ("pT1c pN0 (0/2 nodes)", "No evidence of distant disease."),
    ("ypT2 ypN1a", "No radiological evidence of distant disease."),
    ("pT2 pN0", "No distant metastases."),
])
def test_node_limited_tnm_without_distant_disease_is_early(tnm, absent):
    p = _note(EARLY.format(tnm=tnm, absent=absent))
    assert p.primary_diagnosis.tnm is not None
    out = evaluate_criterion(_crit("Metastatic or locally advanced breast cancer"), p, p.as_of)
    assert out.outcome == "fail", out


def test_stated_absence_of_distant_disease_fails_a_metastatic_requirement():
    p = _note("Clinic 14/10/2026. 51 y/o woman with breast cancer, ER 90%. No evidence of distant disease.")
    out = evaluate_criterion(_crit("Metastatic breast cancer"), p, p.as_of)
    assert out.outcome == "fail", out
    # a locally advanced cancer is not excluded by the absence of distant disease alone
    out = evaluate_criterion(_crit("Locally advanced or metastatic breast cancer"), p, p.as_of)
    assert out.outcome != "fail", out


def test_tnm_without_stated_absence_leaves_extent_open():
    p = _note(EARLY.format(tnm="pT1c pN0", absent=""))
    out = evaluate_criterion(_crit("Metastatic breast cancer"), p, p.as_of)
    assert out.outcome == "unknown", out


def test_one_of_the_following_heading_keeps_its_extent():
    text = ("Inclusion Criteria:\n\n"
            "* Has advanced and/or metastatic cancer that meets one of the following criteria:\n"
            "  1. Triple negative breast cancer that progressed on at least 1 prior line of therapy.\n"
            "  2. Hormone receptor positive breast cancer which has progressed on a CDK4/6 inhibitor.\n")
    cc = compile_text(text, "T1")
    head = next(c for c in cc.criteria if c.text.startswith("Has advanced"))
    kinds = {type(a).__name__ for a in _atoms(head.expression)}
    assert "DiseaseExtent" in kinds, head


def _atoms(e):
    items = getattr(e, "items", None)
    if items is None:
        yield e
        inner = getattr(e, "item", None)
        if inner is not None:
            yield from _atoms(inner)
        return
    for x in items:
        yield from _atoms(x)
