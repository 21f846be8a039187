"""ER-low (1-10%, ASCO/CAP "low positive") against an ER-negative requirement: a person decides."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import read_patient_bytes

AS_OF = dt.date(2026, 11, 2)


def _patient(receptors: str):
    note = (f"Clinic letter 2 Nov 2026\n55-year-old postmenopausal woman with metastatic breast cancer (liver), "
            f"{receptors}.\nECOG 0.\n")
    return read_patient_bytes(note.encode(), "note.txt")


def test_er_low_is_not_settled_against_an_er_negative_requirement():
    c = cm.Criterion(id="I1", kind="inclusion", text="ER negative", span=(0, 11), status="compiled",
                     expression=cm.Receptor(receptor="ER", status="negative"))
    assert evaluate_criterion(c, _patient("ER-low (5%), PR negative, HER2 1+"), as_of=AS_OF).outcome == "unknown"
    assert evaluate_criterion(c, _patient("ER 60%, PR negative, HER2 1+"), as_of=AS_OF).outcome == "fail"
