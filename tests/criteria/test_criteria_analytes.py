"""Analyte names as written map to the vocabulary's keys: whole words only, the longest synonym
found wins."""

from __future__ import annotations

import pytest

from trialmatch.vocab import normalize_analyte


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Platelet count (PLT)", "platelets"),
        ("serum total bilirubin", "total_bilirubin"),
        ("absolute neutrophil count", "anc"),
        ("haemoglobin level", "hemoglobin"),
        ("creatinine clearance", "creatinine_clearance"),  # longer than "creatinine", which it contains
        ("ALT", "alt"),
    ],
)
def test_names_map_to_their_analyte(written, key):
    assert normalize_analyte(written) == key


@pytest.mark.parametrize("written", ["altitude", "salt intake", "", "   "])
def test_a_synonym_inside_another_word_is_not_found(written):
    assert normalize_analyte(written) is None
