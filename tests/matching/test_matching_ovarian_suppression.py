"""Ovarian function suppression (a GnRH agonist) is endocrine (hormonal) therapy: it does not fail "any concurrent
anticancer therapies (except continued hormonal treatment)", and it counts for a hormonal-therapy washout."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 10, 21)
SRC = pm.Source(kind="json", locator="$.x")


def patient(*treatments) -> pm.Patient:
    return pm.Patient(id="p", birth_date=dt.date(1979, 5, 1), sex="female", as_of=AS_OF, treatments=list(treatments),
                      diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", date=dt.date(2020, 1, 1),
                                              metastatic_date=dt.date(2023, 3, 1), source=SRC)])


def outcome(text: str, p: pm.Patient, kind: str = "exclusion") -> str:
    expr, status, reason = compile_criterion_text(text, kind)
    assert status == "compiled", (status, reason)
    c = cm.Criterion(id="E1", kind=kind, text=text, span=(0, len(text)), expression=expr, status=status)
    return evaluate_criterion(c, p, AS_OF).outcome


GOSERELIN = pm.Treatment(drugs=["goserelin"], setting="metastatic", start=dt.date(2023, 4, 1), ongoing=True, source=SRC)
CAPE = pm.Treatment(drugs=["capecitabine"], setting="metastatic", start=dt.date(2026, 9, 1), ongoing=True, source=SRC)


def test_goserelin_is_continued_hormonal_treatment():
    text = "Receiving any concurrent anticancer therapies (except continued hormonal treatment)."
    assert outcome(text, patient(GOSERELIN)) == "pass"
    assert outcome(text, patient(GOSERELIN, CAPE)) == "fail"


def test_goserelin_counts_as_endocrine_therapy():
    assert outcome("Prior endocrine therapy for metastatic disease", patient(GOSERELIN), "inclusion") == "pass"
