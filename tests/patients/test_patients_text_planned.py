"""Free-text reader: a treatment still to come is not treatment history."""

from __future__ import annotations

import pytest

from trialmatch.patients import read_patient_bytes

BASE = "A 45-year-old woman with invasive ductal breast carcinoma. "


def read(text: str):
    return read_patient_bytes((BASE + text).encode(), "note.txt", fmt="text")


@pytest.mark.parametrize("text", [
    "She is a candidate for tumor resection and agrees to do so prior to chemotherapy.",
    "She will start letrozole next week.",
    "She is scheduled to receive adjuvant chemotherapy.",
])
def test_planned_treatment_is_not_history(text):
    p = read(text)
    assert p.treatments == [], [t.drugs for t in p.treatments]


@pytest.mark.parametrize("text, drug", [
    ("She received 4 cycles of chemotherapy in 2019.", "chemotherapy"),
    ("She progressed on letrozole after 14 months.", "letrozole"),
])
def test_past_treatment_still_read(text, drug):
    p = read(text)
    assert [drug] in [t.drugs for t in p.treatments]
