"""Units through pint: the forms trials write lab thresholds in compare correctly."""

from __future__ import annotations

import pytest

from trialmatch.vocab.units import UnitError, convert, normalize_unit_text, parse_quantity


@pytest.mark.parametrize(
    "text, expected",
    [
        ("×109/L", "10**9/L"), ("x10^9/L", "10**9/L"), ("10^9/L", "10**9/L"), ("G/L", "G/L"),
        ("/µL", "1/uL"), ("/mm3", "1/mm**3"), ("g/dl", "g/dL"), ("mg/dL", "mg/dL"),
        ("µmol/L", "umol/L"), ("umol/l", "umol/L"), ("U/L", "U/L"), ("IU/L", "IU/L"),
        ("mL/min", "mL/min"), ("ml/min/1.73m2", "mL/min"), ("%", "percent"), ("×10^3/µL", "10**3/uL"),
        ("x 10⁹/L", "10**9/L"),
    ],
)
def test_normalize_unit_text(text, expected):
    assert normalize_unit_text(text) == expected


def test_hemoglobin_forms_compare_equal():
    assert convert(9, "g/dL", "g/L") == pytest.approx(90)
    assert convert(90, "g/L", "g/dL") == pytest.approx(9)


@pytest.mark.parametrize("text", ["1.5×10^9/L", "1.5 G/L", "1500/µL", "1.5×109/L", "1,500/mm3", "1.5 x 10^3/µL"])
def test_cell_counts_compare_equal(text):
    value, unit = parse_quantity(text)
    assert convert(value, unit, "10**9/L") == pytest.approx(1.5)


def test_parse_quantity_damaged_superscript():
    assert parse_quantity("Neutrophil count (ANC)≥1.5×109/L") == (1.5, "10**9/L")
    assert parse_quantity("Platelet count (PLT)≥80×109/L") == (80.0, "10**9/L")
    assert parse_quantity("Hemoglobin≥90g/L") == (90.0, "g/L")
    assert parse_quantity("no unit here 42") is None


def test_grams_are_not_giga():
    # lower-case g/L is grams per litre; capital G/L is 10^9 per litre
    with pytest.raises(UnitError):
        convert(1, "g/L", "G/L")


def test_molar_mass_conversion_creatinine():
    assert convert(1.0, "mg/dL", "umol/L", analyte="creatinine") == pytest.approx(88.4, abs=0.1)
    assert convert(88.4, "µmol/L", "mg/dL", analyte="creatinine") == pytest.approx(1.0, abs=0.01)


def test_incompatible_units_name_both():
    with pytest.raises(UnitError) as err:
        convert(1, "mg/dL", "U/L", analyte="alt")
    assert "mg/dL" in str(err.value) and "U/L" in str(err.value)
    with pytest.raises(UnitError):
        convert(1, "mg/dL", "umol/L")  # no analyte: no molar mass


def test_unreadable_unit():
    with pytest.raises(UnitError):
        normalize_unit_text("furlongs per fortnight?")
    with pytest.raises(UnitError):
        normalize_unit_text("")


@pytest.mark.parametrize("unit", ["10**999999/L", "x10^99999/L", "mg**12345", "10**-99999 g", "g/" + "d" * 200])
def test_a_unit_with_a_huge_exponent_is_refused_at_once(unit):
    """pint computes powers exactly: '10**999999' took minutes (found by fuzzing patient JSON)."""
    import time

    from trialmatch.vocab.units import UnitError, normalize_unit_text

    t0 = time.perf_counter()
    with pytest.raises(UnitError):
        normalize_unit_text(unit)
    assert time.perf_counter() - t0 < 1.0
