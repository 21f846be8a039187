"""Prior radiotherapy to more than a share of the bone marrow (the atom kind added by following the
README's "How to add a criterion kind" recipe): compiled, then evaluated on hand-built records."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")
TEXT = "Prior radiotherapy to > 25% of bone marrow"


def outcome(p: pm.Patient):
    expr, status, _ = compile_criterion_text(TEXT, "exclusion")
    assert status == "compiled" and expr.kind == "marrow_radiotherapy"
    c = cm.Criterion(id="E1", kind="exclusion", text=TEXT, span=(0, len(TEXT)), expression=expr, status=status)
    return evaluate_criterion(c, p, AS_OF)


def test_no_radiotherapy_in_recorded_procedures_passes_the_exclusion():
    p = pm.Patient(id="p", as_of=AS_OF, procedures=[pm.Procedure(kind="surgery", name="mastectomy", source=SRC)],
                   sources={"procedures": SRC})
    o = outcome(p)
    assert o.outcome == "pass" and "no radiotherapy" in o.reason


def test_stated_absence_of_radiotherapy_passes_the_exclusion():
    p = pm.Patient(id="p", as_of=AS_OF, assertions=[pm.Assertion(subject="radiotherapy", present=False, source=SRC)])
    assert outcome(p).outcome == "pass"


def test_radiotherapy_without_its_marrow_share_is_unknown_and_names_the_missing_fact():
    p = pm.Patient(id="p", as_of=AS_OF, procedures=[
        pm.Procedure(kind="radiotherapy", name="palliative radiotherapy to the spine", date=dt.date(2026, 3, 1),
                     source=SRC)])
    o = outcome(p)
    assert o.outcome == "unknown"
    assert [m.fact for m in o.missing] == ["radiotherapy:marrow_share"]


@pytest.mark.parametrize("record", [{}, {"procedures": []}])
def test_no_history_recorded_is_unknown(record):
    o = outcome(pm.Patient(id="p", as_of=AS_OF, **record))
    assert o.outcome == "unknown" and o.missing
