"""Choosing a patient reader by content."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .errors import PatientReadError
from .model import Patient

FORMATS = ("json", "fhir", "text")


def detect_format(data: bytes, file_name: str = "<bytes>") -> str:
    """"fhir" for a JSON object with a FHIR ``resourceType``, "json" for another JSON object,
    "text" otherwise (a malformed document that starts like JSON is "json", to be reported)."""
    stripped = data.lstrip()
    head = stripped[:1]
    if head in (b"{", b"[") or _is_json_scalar(stripped):
        try:
            raw = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return "json"
        if isinstance(raw, dict) and "resourceType" in raw:
            return "fhir"
        return "json"  # a JSON value that is not an object is reported by the JSON reader
    return "text"


def _is_json_scalar(data: bytes) -> bool:
    """A whole file that is one JSON scalar (``null``, ``42``, ``"text"``) is JSON, not a note."""
    if len(data) > 200 or b"\n" in data.strip():
        return False
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return not isinstance(value, (dict, list))


def read_patient_bytes(data: bytes, file_name: str, fmt: str | None = None, today: dt.date | None = None) -> Patient:
    """Read a patient from bytes.

    Parameters
    ----------
    data : bytes
        The file's content.
    file_name : str
        Named in errors; its stem is the default patient id.
    fmt : {"json", "fhir", "text"}, optional
        The format; None chooses it by content.
    today : date, optional
        For a note without a ``Date:`` line.

    Returns
    -------
    Patient

    Raises
    ------
    PatientReadError
        Empty, binary, malformed, wrong types, or impossible values; names the file and field.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise PatientReadError(file_name, "content", f"expected bytes, got {type(data).__name__}")
    if not data.strip():
        raise PatientReadError(file_name, "content", "the file is empty")
    if fmt is None:
        if b"\x00" in data[:4096]:
            raise PatientReadError(file_name, "content", "binary content: not JSON, FHIR or text")
        fmt = detect_format(bytes(data), file_name)
    if fmt not in FORMATS:
        raise PatientReadError(file_name, "format", f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    try:
        if fmt == "json":
            from .json_reader import read_json_patient
            return read_json_patient(bytes(data), file_name)
        if fmt == "fhir":
            from .fhir_reader import read_fhir_patient
            return read_fhir_patient(bytes(data), file_name)
        from .text_reader import read_text_patient
        return read_text_patient(bytes(data), file_name, today=today)
    except PatientReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - never a crash: every failure names the file
        raise PatientReadError(file_name, fmt, f"could not be read ({type(exc).__name__}: {exc})") from exc


def read_patient(path: Path | str, fmt: str | None = None, today: dt.date | None = None) -> Patient:
    """Read a patient file; the reader is chosen by content (see :func:`read_patient_bytes`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PatientReadError(str(path), "file", f"cannot be read ({exc.strerror or exc})") from None
    return read_patient_bytes(data, str(path.name), fmt=fmt, today=today)
