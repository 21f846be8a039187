"""A cumulative-dose limit ("Doxorubicin > 450 mg/m^2" listed under prior anthracyclines), the atom kind
``cumulative_dose``: compiled, then evaluated on hand-built records."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import compile_criterion_text, compile_text
from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")
TEXT = "Doxorubicin hydrochloride > 450 mg/m^2"


def outcome(p: pm.Patient, kind: str = "exclusion"):
    expr, status, _ = compile_criterion_text(TEXT, kind)
    assert status == "compiled" and expr.kind == "cumulative_dose"
    assert (expr.agent, expr.comparator, expr.value) == ("doxorubicin", ">", 450.0)
    c = cm.Criterion(id="E1", kind=kind, text=TEXT, span=(0, len(TEXT)), expression=expr, status=status)
    return evaluate_criterion(c, p, AS_OF)


def _treated(*drugs: str) -> pm.Patient:
    return pm.Patient(id="p", as_of=AS_OF, sources={"treatments": SRC},
                      treatments=[pm.Treatment(drugs=list(drugs), setting="adjuvant", end=dt.date(2024, 1, 1), source=SRC)])


def test_never_had_the_drug_is_dose_zero_and_passes_the_exclusion():
    o = outcome(_treated("paclitaxel"))
    assert o.outcome == "pass" and "cumulative dose 0" in o.reason


def test_had_the_drug_without_a_recorded_dose_is_unknown_and_names_the_dose():
    o = outcome(_treated("doxorubicin", "cyclophosphamide"))
    assert o.outcome == "unknown"
    assert "cumulative_dose:doxorubicin" in [m.fact for m in o.missing]


def test_no_history_recorded_is_unknown():
    o = outcome(pm.Patient(id="p", as_of=AS_OF))
    assert o.outcome == "unknown" and o.missing


def test_items_under_a_negated_heading_are_negated():
    cc = compile_text("Inclusion Criteria:\n- No prior therapy with anthracyclines exceeding the following doses:\n"
                      "   * Doxorubicin hydrochloride > 450 mg/m^2\n   * Epirubicin hydrochloride > 900 mg/m^2\n", "T")
    by = {c.text.strip(): c for c in cc.criteria}
    item = by["Doxorubicin hydrochloride > 450 mg/m^2"]
    assert item.expression.kind == "not" and item.expression.item.kind == "cumulative_dose"


def test_a_dose_with_a_schedule_is_not_a_cumulative_limit():
    _expr, status, _ = compile_criterion_text("Docetaxel 75 mg/m2 every 3 weeks", "exclusion")
    assert status == "unsupported"
