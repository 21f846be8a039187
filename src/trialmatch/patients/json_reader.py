"""The documented JSON patient format: ``Patient.model_dump(mode="json")``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .common import finish, normalize_unit
from .errors import PatientReadError
from .model import Patient, Source

_LISTS = ("diagnoses", "biomarkers", "genes", "performance", "labs", "treatments", "procedures",
          "conditions", "medications", "assertions", "lab_statements", "history_statements")
_SCALARS = ("birth_date", "age_years", "sex", "menopausal_status", "ovarian_suppression", "pregnant",
            "breastfeeding", "life_expectancy_months", "weight_kg", "height_cm")


def _loc(loc: tuple) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def pydantic_message(err: ValidationError, limit: int = 3) -> tuple[str, str]:
    """Turn a pydantic error into (field path, message)."""
    errs = err.errors()
    first = errs[0]
    field = _loc(tuple(first.get("loc", ())))
    parts = []
    for e in errs[:limit]:
        got = e.get("input")
        got_s = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
        parts.append(f"{_loc(tuple(e.get('loc', ())))}: {e.get('msg')}{got_s}")
    if len(errs) > limit:
        parts.append(f"... and {len(errs) - limit} more")
    return field, "; ".join(parts)


def read_json_patient(data: bytes | str, file_name: str, strict: bool = True) -> Patient:
    """Read the JSON patient format.

    Parameters
    ----------
    data : bytes or str
        The file's content.
    file_name : str
        For messages and the default id.
    strict : bool
        Raise :class:`PatientReadError` on impossible values (default) instead of warning.

    Returns
    -------
    Patient
        With a ``Source(kind="json")`` on every fact and in ``sources`` for each scalar given.

    Raises
    ------
    PatientReadError
        Malformed JSON (with line and column), wrong types (naming the field path), or an
        impossible value.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PatientReadError(file_name, "json", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    else:
        text = data
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PatientReadError(file_name, "json",
                               f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except RecursionError:
        raise PatientReadError(file_name, "json", "nested too deeply to be a patient record") from None
    return patient_from_dict(raw, file_name, strict=strict)


def patient_from_dict(raw: Any, file_name: str, strict: bool = True) -> Patient:
    """Validate a parsed JSON object as a patient (see :func:`read_json_patient`)."""
    if not isinstance(raw, dict):
        raise PatientReadError(file_name, "$", f"expected a JSON object, got {type(raw).__name__}")
    raw = dict(raw)
    if "id" not in raw or raw.get("id") in (None, ""):
        stem = file_name.rsplit("/", 1)[-1]
        for suffix in (".json", ".fhir"):
            stem = stem.removesuffix(suffix)
        raw["id"] = stem or "patient"
    try:
        p = Patient.model_validate(raw)
    except ValidationError as exc:
        field, msg = pydantic_message(exc)
        raise PatientReadError(file_name, field, msg) from None
    for name in _LISTS:
        for i, fact in enumerate(getattr(p, name)):
            if fact.source is None:
                fact.source = Source(kind="json", locator=f"$.{name}[{i}]")
            if name == "diagnoses":
                for j, m in enumerate(fact.metastases):
                    if m.source is None:
                        m.source = Source(kind="json", locator=f"$.diagnoses[{i}].metastases[{j}]")
    for name in _SCALARS:
        if getattr(p, name) is not None and name not in p.sources:
            p.sources[name] = Source(kind="json", locator=f"$.{name}")
    if p.as_of is not None and p.as_of_source is None:
        p.as_of_source = Source(kind="json", locator="$.as_of")
    for i, lab in enumerate(p.labs):
        if lab.uln_multiple is not None:
            continue  # "x ULN" is a multiple, not a physical unit
        unit, warn = normalize_unit(lab.unit, lab.analyte)
        lab.unit = unit
        if warn:
            p.warnings.append(f"labs[{i}].unit: {warn}")
    return finish(p, file_name, strict=strict)
