"""Helpers shared by the three readers: code maps, unit normalisation, finishing a record."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from importlib import resources

from .errors import PatientReadError
from .model import Patient
from .validate import impossible_values, validate_patient


@lru_cache(maxsize=None)
def load_codes(name: str) -> dict:
    """Load ``patients/codes/<name>.json`` (cached)."""
    with resources.files("trialmatch.patients").joinpath("codes", f"{name}.json").open(
        "r", encoding="utf-8"
    ) as fh:
        return json.load(fh)


_UCUM_POWER = re.compile(r"^\s*10\*(\d+)\s*/")


def normalize_unit(unit: str | None, analyte: str | None = None) -> tuple[str | None, str | None]:
    """A unit as written -> (pint-parsable unit, warning or None).

    UCUM "10*9/L" is read as 10^9/L; "G/L" for a cell count is giga per litre. A unit that
    cannot be read is kept as written and a warning says so.
    """
    if unit is None or not str(unit).strip():
        return None, None
    text = str(unit).strip()
    text = _UCUM_POWER.sub(lambda m: f"10^{m.group(1)}/", text)
    if text in ("{cells}/uL", "/uL", "cells/uL"):
        text = "/uL"
    try:
        from trialmatch.vocab.units import normalize_unit_text
    except ImportError:  # pragma: no cover - units module not there yet
        return text, None
    try:
        return normalize_unit_text(text), None
    except Exception as exc:  # noqa: BLE001 - the units module raises its own error type
        return text, f"unit {unit!r} cannot be read ({exc}); kept as written"


def finish(p: Patient, file_name: str, strict: bool = True, today: dt.date | None = None) -> Patient:
    """Check a freshly read record: impossible values raise (``strict``) or become warnings;
    implausible values and contradictions are appended to ``p.warnings``."""
    bad = impossible_values(p, today)
    if bad and strict:
        field, msg = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise PatientReadError(file_name, field, msg + more)
    for w in validate_patient(p, today):
        if w not in p.warnings:
            p.warnings.append(w)
    return p
