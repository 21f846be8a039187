"""Units for laboratory values, through one module-level :mod:`pint` registry.

Lab thresholds are written in many ways ("1.5×10^9/L", "1.5 G/L", "1500/µL", "9 g/dL", "90 g/L")
and PDF/HTML extraction damages them ("1.5×109/L" for 1.5×10^9/L). This module turns what is
written into a pint-parsable unit string and converts between units, including mass <-> molar
concentration for analytes whose molar mass is in ``analytes.json`` (creatinine mg/dL <-> µmol/L).

Public API
----------
UnitError                                   raised for units that cannot be read or converted
normalize_unit_text(text) -> str            "×109/L" -> "10**9/L", "g/dl" -> "g/dL", "/mm3" -> "1/mm**3"
convert(value, from_unit, to_unit, analyte=None) -> float
parse_quantity(text) -> (value, unit) | None   "1.5×109/L" -> (1.5, "10**9/L")
"""

from __future__ import annotations

import re
from functools import lru_cache

import pint

__all__ = ["UnitError", "normalize_unit_text", "convert", "parse_quantity", "ureg", "same_dimension"]


class UnitError(ValueError):
    """A unit that cannot be read, or two units that cannot be converted into each other."""


# One registry for the whole process: building one costs ~100 ms, conversions are cached below.
ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# Count units: "cells" are dimensionless counts; "G" (giga-count) is 10^9 of them ("1.5 G/L").
ureg.define("cell = 1 = cells")
ureg.define("G_count = 1e9 = G")
ureg.define("T_count = 1e12")
ureg.define("international_unit = [iu_activity] = IU = iu")
ureg.define("enzyme_unit = [enzyme_activity] = U")
ureg.define("beats_per_minute = 1/minute = bpm")

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_MULT = r"(?:[x×✕*╳]|\s*\*\s*)"

# "10^9", "10**9", "10e9", "10⁹" after normalisation of superscripts; and the damaged forms
# "109", "1012", "103" (lost superscript) only when directly followed by "/".
_POWER_RE = re.compile(r"10\s*(?:\^|\*\*|\*|e|E)\s*(-?\d+)")
_DAMAGED_POWER_RE = re.compile(r"^10(3|6|9|12)(?=\s*/)")


def _clean(text: str) -> str:
    t = text.strip().translate(_SUPERSCRIPTS)
    t = t.replace("μ", "µ").replace("µ", "u").replace("mcg", "ug")
    t = t.replace("㎕", "uL").replace("cu mm", "mm3").replace("cumm", "mm3").replace("mm³", "mm3")
    t = t.replace("1.73 m2", "1.73m2").replace("1.73m²", "1.73m2").replace("1,73", "1.73")
    t = re.sub(r"\s+", " ", t)
    return t


_SIMPLE = {
    "%": "percent",
    "percent": "percent",
    "g/l": "g/L",
    "g/dl": "g/dL",
    "mg/dl": "mg/dL",
    "mg/l": "mg/L",
    "ug/l": "ug/L",
    "ug/dl": "ug/dL",
    "ng/ml": "ng/mL",
    "pg/ml": "pg/mL",
    "umol/l": "umol/L",
    "mmol/l": "mmol/L",
    "nmol/l": "nmol/L",
    "pmol/l": "pmol/L",
    "mol/l": "mol/L",
    "meq/l": "mmol/L",
    "u/l": "U/L",
    "iu/l": "IU/L",
    "iu/ml": "IU/mL",
    "miu/l": "mIU/L",
    "miu/ml": "mIU/mL",
    "u/ml": "U/mL",
    "ml/min": "mL/min",
    "ml/min/1.73m2": "mL/min",  # body-surface normalised rate, compared as mL/min
    "ml/min/1.73 m2": "mL/min",
    "ml/min/1.73m^2": "mL/min",
    "ml/min/1.73": "mL/min",
    "g/24h": "g/day",
    "g/24 h": "g/day",
    "g/24 hours": "g/day",
    "mg/24h": "mg/day",
    "mg/24 h": "mg/day",
    "ms": "ms",
    "msec": "ms",
    "mmhg": "mmHg",
    "mm hg": "mmHg",
    "kg": "kg",
    "kg/m2": "kg/m**2",
    "kg/m^2": "kg/m**2",
    "kg/m²": "kg/m**2",
    "g/l ": "g/L",
    "sec": "s",
    "seconds": "s",
    "s": "s",
    "bpm": "bpm",
    "cells/ul": "1/uL",
    "cells/mm3": "1/mm**3",
    "cells/l": "1/L",
    "/ul": "1/uL",
    "/mm3": "1/mm**3",
    "/mm^3": "1/mm**3",
    "/l": "1/L",
    "/ml": "1/mL",
    "/nl": "1/nL",
    "g/l.": "g/L",
    "gm/dl": "g/dL",
    "gr/dl": "g/dL",
    "gm/l": "g/L",
    "mg%": "mg/dL",
    "mm": "mm",
    "cm": "cm",
    "mg": "mg",
    "g": "g",
    "l": "L",
    "ml": "mL",
}


@lru_cache(maxsize=4096)
def normalize_unit_text(text: str) -> str:
    """Turn a unit as written into a pint-parsable string.

    Parameters
    ----------
    text : str
        The unit as written: "×109/L", "x10^9/L", "10^9/L", "G/L", "/µL", "/mm3", "g/dl",
        "mg/dL", "µmol/L", "umol/l", "U/L", "IU/L", "mL/min", "ml/min/1.73m2", "%", ...

    Returns
    -------
    str
        A unit string pint parses ("10**9/L", "G/L", "1/uL", "1/mm**3", "g/dL", "percent", ...).

    Raises
    ------
    UnitError
        When the text is empty or pint cannot read the result.
    """
    if text is None or not str(text).strip():
        raise UnitError("empty unit")
    t = _clean(str(text))
    t = re.sub(r"^" + _MULT + r"\s*", "", t)  # leading "×" of "×10^9/L"
    t = t.rstrip(".;, ")
    low = t.lower()
    if re.fullmatch(r"G(?:iga)?\s*/\s*[lL]", t):  # capital G: giga-count per litre (not grams)
        return "G/L"
    if re.fullmatch(r"T\s*/\s*[lL]", t):
        return "T_count/L"
    if low in _SIMPLE:
        return _SIMPLE[low]
    # powers of ten: "10^9/L", "10**9/L", "10e9/L", damaged "109/L"
    m = _POWER_RE.match(t)
    if m:
        rest = t[m.end():].strip()
        unit = f"10**{int(m.group(1))}" + _normalize_rest(rest)
        _check(unit, text)
        return unit
    m = _DAMAGED_POWER_RE.match(t)
    if m:
        rest = t[m.end():].strip()
        unit = f"10**{int(m.group(1))}" + _normalize_rest(rest)
        _check(unit, text)
        return unit
    unit = _normalize_rest(t)
    if unit.startswith("/"):
        unit = "1" + unit
    _check(unit, text)
    return unit


def _normalize_rest(rest: str) -> str:
    """Normalise the non-power part of a unit: "/l" -> "/L", "/mm3" -> "/mm**3", "/µl" -> "/uL"."""
    if not rest:
        return ""
    r = rest.replace(" ", "")
    low = r.lower()
    if low.startswith("cells/") or low.startswith("cell/"):
        r = r[r.index("/"):]
        low = r.lower()
    if low in _SIMPLE:
        return _SIMPLE[low] if not _SIMPLE[low].startswith("1/") else _SIMPLE[low][1:]
    r = re.sub(r"(?<=[a-zA-Z])(\d)$", r"**\1", r)  # mm3 -> mm**3, m2 -> m**2
    r = re.sub(r"\^", "**", r)
    r = re.sub(r"(?i)(?<![a-z])l$", "L", r)
    r = re.sub(r"(?i)(?<![a-z])dl$", "dL", r)
    r = re.sub(r"(?i)(?<![a-z])ml$", "mL", r)
    r = re.sub(r"(?i)(?<![a-z])ul$", "uL", r)
    r = re.sub(r"(?i)(?<![a-z])nl$", "nL", r)
    return r


def _check(unit: str, original: str) -> None:
    try:
        _parse_unit(unit)
    except UnitError:
        raise UnitError(f"cannot read unit {original!r} (normalised {unit!r})") from None


#: an exponent or a number of more than 3 digits in a unit ("10**999999", "mg**12345") is no unit a
#: record states, and pint would compute it exactly (a huge power takes minutes): refused up front
_HUGE_UNIT_NUMBER = re.compile(r"(?:\*\*|\^)\s*[-+(]*\s*\d{3,}|\d{7,}")


@lru_cache(maxsize=4096)
def _parse_unit(unit: str):
    if len(unit) > 100 or _HUGE_UNIT_NUMBER.search(unit):
        raise UnitError(f"cannot read unit {unit[:60]!r}: too long, or an exponent beyond any unit's")
    try:
        q = ureg.parse_expression(unit)
        if not isinstance(q, ureg.Quantity):
            q = ureg.Quantity(float(q), "dimensionless")
        return q
    except Exception as exc:  # pint raises several error types (UndefinedUnitError, DefinitionSyntaxError, ...)
        raise UnitError(f"cannot read unit {unit!r}: {exc}") from None


def _molar_mass(analyte: str | None) -> float | None:
    if not analyte:
        return None
    from trialmatch.vocab import analyte_vocabulary

    entry = analyte_vocabulary().get(analyte)
    return entry.get("molar_mass") if entry else None


def _factor(from_unit: str, to_unit: str, analyte: str | None) -> float:
    """The multiplicative factor from ``from_unit`` to ``to_unit``.

    Raises
    ------
    UnitError
        As :func:`convert`. Both answers are remembered (the matcher meets the same pair of
        units thousands of times, incompatible pairs included).
    """
    f = _factor_or_error(from_unit, to_unit, analyte)
    if isinstance(f, UnitError):
        raise UnitError(str(f))
    return f


@lru_cache(maxsize=8192)
def _factor_or_error(from_unit: str, to_unit: str, analyte: str | None) -> float | UnitError:
    try:
        return _compute_factor(from_unit, to_unit, analyte)
    except UnitError as exc:
        return exc


def _compute_factor(from_unit: str, to_unit: str, analyte: str | None) -> float:
    fu = normalize_unit_text(from_unit)
    tu = normalize_unit_text(to_unit)
    q_from = _parse_unit(fu)
    q_to = _parse_unit(tu)
    if q_from.dimensionality == q_to.dimensionality:
        return float(q_from.to(q_to.units).magnitude) / float(q_to.magnitude)
    mm = _molar_mass(analyte)
    if mm is not None:
        mass_conc = ureg.Quantity(1, "g/L").dimensionality
        molar_conc = ureg.Quantity(1, "mol/L").dimensionality
        g_per_mol = ureg.Quantity(mm, "g/mol")
        if q_from.dimensionality == mass_conc and q_to.dimensionality == molar_conc:
            return float((q_from / g_per_mol).to(q_to.units).magnitude) / float(q_to.magnitude)
        if q_from.dimensionality == molar_conc and q_to.dimensionality == mass_conc:
            return float((q_from * g_per_mol).to(q_to.units).magnitude) / float(q_to.magnitude)
    what = f" for {analyte}" if analyte else ""
    raise UnitError(
        f"cannot convert {from_unit!r} ({q_from.dimensionality}) to {to_unit!r} "
        f"({q_to.dimensionality}){what}"
    )


def convert(value: float, from_unit: str, to_unit: str, analyte: str | None = None) -> float:
    """Convert ``value`` from one unit to another.

    Parameters
    ----------
    value : float
        The number to convert.
    from_unit, to_unit : str
        Units as written or pint strings (see :func:`normalize_unit_text`).
    analyte : str, optional
        Analyte vocabulary key; when its molar mass is known, mass and molar concentrations
        convert into each other (creatinine 1 mg/dL == 88.4 µmol/L).

    Returns
    -------
    float
        The value in ``to_unit``.

    Raises
    ------
    UnitError
        When a unit cannot be read or the two are incompatible (the message names both).

    Examples
    --------
    >>> round(convert(1.5, "G/L", "/µL"))
    1500
    >>> convert(9, "g/dL", "g/L")
    90.0
    """
    return float(value) * _factor(from_unit, to_unit, analyte)


def same_dimension(unit_a: str, unit_b: str, analyte: str | None = None) -> bool:
    """True when the two units can be converted into each other."""
    try:
        _factor(unit_a, unit_b, analyte)
        return True
    except UnitError:
        return False


_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)"
_QTY_RE = re.compile(
    _NUM
    + r"\s*(?P<unit>"
    + r"(?:[x×✕*]\s*10\s*(?:\^|\*\*|\*|e)?\s*[-⁻]?[0-9⁰¹²³⁴⁵⁶⁷⁸⁹]+\s*(?:cells\s*)?/\s*(?:[µμu]?l|mm3|mm³|mm\^3|nl)\b)"
    + r"|(?:10\s*(?:\^|\*\*|\*)\s*\d+\s*/\s*(?:[µμu]?l|mm3)\b)"
    + r"|(?:(?:cells\s*)?/\s*(?:[µμu]l|mm3|mm³|mm\^3|cu\.?\s*mm|l)\b)"
    + r"|(?:G\s*/\s*L\b)"
    + r"|(?:(?:mg|g|gm|µg|μg|ug|ng|pg)\s*/\s*(?:dl|l|ml|24\s*h(?:ours)?)\b)"
    + r"|(?:(?:µmol|μmol|umol|mmol|nmol|pmol|mol|meq)\s*/\s*l\b)"
    + r"|(?:(?:m?iu|u)\s*/\s*(?:l|ml)\b)"
    + r"|(?:ml\s*/\s*min(?:\s*/\s*1[.,]73\s*m(?:2|²|\^2))?)"
    + r"|(?:kg\s*/\s*m(?:2|²|\^2))"
    + r"|(?:mm\s*hg\b)|(?:msec\b|ms\b)|%"
    + r")",
    re.IGNORECASE,
)


@lru_cache(maxsize=8192)
def parse_quantity(text: str) -> tuple[float, str] | None:
    """Read the first number with a lab unit in ``text``.

    Parameters
    ----------
    text : str
        E.g. "≥1.5×109/L", "100 G/L", "1500/µL", "9 g/dL", "≥ 60 mL/min".

    Returns
    -------
    tuple of (float, str) or None
        The value and a pint-parsable unit ("10**9/L", "G/L", "1/uL", ...), or None when no
        quantity with a recognised unit is found. The damaged "×109/L" reads as ×10^9/L, and
        "×10^3/µL" as 10**3/uL.

    Examples
    --------
    >>> parse_quantity("1.5×109/L")
    (1.5, '10**9/L')
    """
    m = _QTY_RE.search(text)
    if not m:
        return None
    num = m.group(1)
    value = float(num.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", num) else num.replace(",", "."))
    try:
        unit = normalize_unit_text(m.group("unit"))
    except UnitError:
        return None
    return value, unit
