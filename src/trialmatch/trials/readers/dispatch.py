"""Choosing a reader by content, and the public entry points ``read_bytes`` / ``read_path``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePath

from trialmatch.trials.readers import ctgov_json, ctgov_xml, text as textmod
from trialmatch.trials.readers.common import (
    ReadResult,
    RecordError,
    TrialReadError,
    ages_from_criteria,
    build_trial,
    decode_text,
    find_registry_ids,
    phases_from_prose,
    sha256_hex,
    utc_now,
)
from trialmatch.trials.readers.html import html_to_text, looks_like_html

_TEXT_FORMATS = {
    "pubmed_abstract": "pubmed_abstract",
    "registry_mirror": "registry_mirror_text",
    "plain_language": "plain_language",
    "registry_text": "registry_text",
}
_XML_ROOT = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<([A-Za-z_][\w.-]*)",
                       re.S)


class _Sniffed:
    __slots__ = ("fmt", "text", "kind", "lines")

    def __init__(self, fmt: str, text: str, kind: str | None = None,
                 lines: list[str] | None = None) -> None:
        self.fmt, self.text, self.kind, self.lines = fmt, text, kind, lines


def _sniff(data: bytes, file_name: str) -> _Sniffed:
    if not data.strip():
        raise TrialReadError(file_name, "empty file")
    try:
        text = decode_text(data)
    except RecordError as exc:
        raise TrialReadError(file_name, exc.message) from None
    stripped = text.lstrip()
    if not stripped:
        raise TrialReadError(file_name, "empty file")
    first = stripped[0]
    if first in "{[":
        return _Sniffed(ctgov_json.FORMAT, text)
    if first == "<":
        m = _XML_ROOT.match(text[:4096])
        if m and m.group(1) == "clinical_study":
            return _Sniffed(ctgov_xml.FORMAT, text)
        if looks_like_html(text):
            lines = textmod.prepare_lines(html_to_text(text))
            kind = textmod.classify(lines)
            if kind is None:
                raise TrialReadError(file_name, "unrecognised format: an HTML page with no trial "
                                                "record structure (registry, mirror, PubMed or "
                                                "plain-language page)")
            fmt = "registry_mirror_html" if kind == "registry_mirror" else _TEXT_FORMATS[kind]
            return _Sniffed(fmt, text, kind, lines)
        root = m.group(1) if m else "?"
        raise TrialReadError(file_name, f"unrecognised format: XML whose root element is <{root}>, "
                                        "not <clinical_study>")
    lines = textmod.prepare_lines(text)
    kind = textmod.classify(lines)
    if kind is None:
        raise TrialReadError(file_name, "unrecognised format: no JSON, XML or recognisable trial "
                                        "document structure")
    return _Sniffed(_TEXT_FORMATS[kind], text, kind, lines)


def detect_format(data: bytes, file_name: str) -> str:
    """The source format of a document, judged by its content.

    Parameters
    ----------
    data : bytes
        The document's bytes.
    file_name : str
        Its name, used in error messages only (never to choose the format).

    Returns
    -------
    str
        A :data:`~trialmatch.trials.model.SourceFormat` value.

    Raises
    ------
    TrialReadError
        Empty, binary or unrecognisable content.
    """
    return _sniff(data, file_name).fmt


def read_bytes(data: bytes, file_name: str, id_override: str | None = None) -> list[ReadResult]:
    """Read every trial record a document holds.

    Parameters
    ----------
    data : bytes
        The document's bytes.
    file_name : str
        Its name, recorded in provenance and used in locators and errors.
    id_override : str, optional
        Use this id instead of the one the document states (single-record documents only).

    Returns
    -------
    list of ReadResult
        One result per record (one per line for NDJSON); each has a trial or an error.
        Never raises for bad input.
    """
    return list(_read(data, file_name, id_override))


def read_path(path: Path, id_override: str | None = None) -> Iterator[ReadResult]:
    """Read a file, or every non-hidden file under a folder (recursively, in sorted order).

    Parameters
    ----------
    path : Path
        A file or a folder.
    id_override : str, optional
        Id for a single-trial file (refused for folders).

    Yields
    ------
    ReadResult
        One per record; locators are file names relative to ``path`` for folders.
    """
    path = Path(path)
    if path.is_dir():
        if id_override:
            yield ReadResult(str(path), None, TrialReadError(
                str(path), "an id override needs a single file, not a folder"))
            return
        files = sorted(p for p in path.rglob("*")
                       if not any(part.startswith(".") for part in p.relative_to(path).parts))
        for f in files:
            if f.is_file():
                yield from _read_file(f, f.relative_to(path).as_posix(), None)
        return
    if not path.exists():
        yield ReadResult(str(path), None, TrialReadError(str(path), "no such file or folder"))
        return
    yield from _read_file(path, path.name, id_override)


def _read_file(path: Path, name: str, id_override: str | None) -> Iterator[ReadResult]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield ReadResult(name, None, TrialReadError(name, f"cannot read file: {exc.strerror or exc}"))
        return
    yield from _read(data, name, id_override)


def _read(data: bytes, file_name: str, id_override: str | None) -> Iterator[ReadResult]:
    try:
        sniffed = _sniff(data, file_name)
    except TrialReadError as exc:
        yield ReadResult(file_name, None, exc)
        return
    if sniffed.fmt == ctgov_json.FORMAT:
        yield from ctgov_json.read_json(data, sniffed.text, file_name, id_override)
        return
    try:
        if sniffed.fmt == ctgov_xml.FORMAT:
            d = ctgov_xml.xml_to_dict(data, file_name, sha256_hex(data), utc_now())
            if id_override:
                if d["id"] != id_override:
                    d["other_ids"] = [d["id"], *d["other_ids"]]
                d["id"] = id_override
            trial = build_trial(d)
        else:
            trial = _read_text(sniffed, data, file_name, id_override)
    except RecordError as exc:
        yield ReadResult(file_name, None, TrialReadError(file_name, exc.message, exc.field))
        return
    except Exception as exc:  # noqa: BLE001 - a reader bug must not stop an ingest run
        yield ReadResult(file_name, None, TrialReadError(
            file_name, f"could not read this {sniffed.fmt} document: {type(exc).__name__}: {exc}"))
        return
    yield ReadResult(file_name, trial)


def _read_text(sniffed: _Sniffed, data: bytes, file_name: str, id_override: str | None):
    lines = sniffed.lines or []
    extra_ids: list[str] = []
    if sniffed.kind == "pubmed_abstract":
        d, extra_ids, id_text = textmod.parse_pubmed(lines)
    elif sniffed.kind == "registry_mirror":
        d, id_text = textmod.parse_registry_mirror(lines), "\n".join(lines)
    elif sniffed.kind == "plain_language":
        d, id_text = textmod.parse_plain_language(lines), "\n".join(lines)
    else:
        d, id_text = textmod.parse_registry_text(lines), "\n".join(lines)

    stated = find_registry_ids(id_text)
    stem = PurePath(file_name).stem or file_name
    trial_id = id_override or d.get("id") or (stated[0] if stated else stem)
    other = []
    for x in [*( [d["id"]] if d.get("id") else []), *stated, *extra_ids]:
        if x != trial_id and x not in other:
            other.append(x)
    d["id"] = trial_id
    d["other_ids"] = other

    elig = d.get("eligibility") or {}
    crit = elig.get("criteria_text")
    if crit and elig.get("min_age_years") is None and elig.get("max_age_years") is None:
        lo, hi, sex = ages_from_criteria(crit)
        elig["min_age_years"], elig["max_age_years"] = lo, hi
        if elig.get("sex") is None and sex:
            elig["sex"] = sex
    d["eligibility"] = elig
    if not d.get("phases"):
        prose = " ".join(x for x in (d.get("title"), d.get("brief_summary"), d.get("description"))
                         if x)
        d["phases"] = phases_from_prose(prose)
    d["provenance"] = {"source_format": sniffed.fmt, "file_name": file_name,
                       "sha256": sha256_hex(data), "ingested_at": utc_now()}
    return build_trial(d)
