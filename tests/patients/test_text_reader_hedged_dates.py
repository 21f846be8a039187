"""Course dates the note itself doubts ("letrozole 2019-2024? (records from other hospital awaited)") are not
read: the drugs and setting are, the dates stay unknown, so no interval or relapse-on-therapy is decided from
them. Sentences written for these tests."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.patients.text_reader import read_text_patient

HEAD = "Clinic letter 10 Dec 2026\n61-year-old postmenopausal woman, metastatic breast cancer since 2024.\n"


def course(body: str, drug: str):
    p = read_text_patient(HEAD + body, "note.txt")
    return next(t for t in p.treatments if drug in t.drugs)


@pytest.mark.parametrize("body", [
    "Adjuvant tamoxifen 2016-2021? (records from the referring hospital awaited).\n",
    "Adjuvant tamoxifen 2016-2021, dates to be confirmed.\n",
    "Adjuvant tamoxifen 2016-2021 (details not yet available from her GP).\n",
])
def test_doubted_dates_are_not_read(body):
    t = course(body, "tamoxifen")
    assert t.setting == "adjuvant"
    assert t.start is None and t.end is None


def test_plain_dates_are_read():
    t = course("Adjuvant tamoxifen 2016-2021.\n", "tamoxifen")
    assert t.start == dt.date(2016, 1, 1) and t.end == dt.date(2021, 12, 31)
