"""Pieces shared by every trial reader: the error and result types, text decoding, ids, ages.

Nothing here knows a source format; each reader module builds a plain ``dict`` in the shape of
:class:`~trialmatch.trials.model.Trial` and validates it once with :func:`build_trial`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import ValidationError

from trialmatch.trials.model import STATUS_VALUES, Trial  # noqa: F401 - re-exported


class TrialReadError(Exception):
    """A document (or one record of it) that cannot become a :class:`Trial`.

    Parameters
    ----------
    file_name : str
        The file (or ``file:line`` locator) the problem is in.
    message : str
        What is wrong, in words a person can act on.
    field : str, optional
        The field (JSON path, XML element, section) at fault, where one is.
    line : int, optional
        The 1-based line number, for NDJSON records and malformed JSON.
    """

    def __init__(
        self, file_name: str, message: str, field: str | None = None, line: int | None = None
    ) -> None:
        self.file_name = file_name
        self.message = message
        self.field = field
        self.line = line
        super().__init__(f"{file_name}: {message}")

    def __str__(self) -> str:
        return f"{self.file_name}: {self.message}"


@dataclass
class ReadResult:
    """One record read from a document: a trial, or the error that stopped it.

    ``locator`` is ``"file.ndjson:12"`` for a line of an NDJSON file, ``"page.json#3"`` for the
    third study of a ``{"studies": [...]}`` page, and the file name otherwise.
    """

    locator: str
    trial: Trial | None = None
    error: TrialReadError | None = None

    @property
    def ok(self) -> bool:
        return self.trial is not None and self.error is None


class RecordError(Exception):
    """Internal: a problem inside one record; the caller adds the file name."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------- bytes and text


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (BOM allowed), UTF-16 with a BOM, else latin-1.

    Raises
    ------
    RecordError
        When the bytes are binary (NUL bytes, or mostly control characters).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise RecordError("binary file: not decodable as text") from exc
    if b"\x00" in data:
        raise RecordError("binary file: contains NUL bytes, not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        # latin-1 decodes anything: refuse what is clearly not text
        sample = text[:4096]
        if sample and len(_CONTROL.findall(sample)) > len(sample) * 0.05:
            raise RecordError("binary file: not decodable as UTF-8 or latin-1 text") from None
    sample = text[:4096]
    if sample and len(_CONTROL.findall(sample)) > len(sample) * 0.05:
        raise RecordError("binary file: too many control characters for a text document")
    return text


def clean_space(text: str) -> str:
    """Collapse runs of spaces/tabs, strip the ends."""
    return re.sub(r"[ \t\u00a0\u2009\u202f]+", " ", text).strip()


# --------------------------------------------------------------------------- registry ids

#: Registry numbers a document may state, most specific first.
REGISTRY_ID_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"\bNCT\d{8}\b"),
    re.compile(r"\b(?:EudraCT[\s:#-]*(?:No\.?|Number)?[\s:#-]*)?(\d{4}-\d{6}-\d{2})\b"),
    re.compile(r"\b\d{4}-5\d{5}-\d{2}-\d{2}\b"),  # EU CT number (CTIS)
    re.compile(r"\bISRCTN\d{8}\b"),
    re.compile(r"\bChiCTR-?[A-Z]{0,4}-?\d{6,12}\b"),
    re.compile(r"\bACTRN\d{14}\b"),
    re.compile(r"\bJPRN-[A-Za-z]+-?\d+\b"),
    re.compile(r"\bjRCT[a-z]?\d{10}\b"),
    re.compile(r"\bDRKS\d{8}\b"),
    re.compile(r"\bCTRI/\d{4}/\d{2,3}/\d{6}\b"),
    re.compile(r"\bIRCT\d{8,}N\d+\b"),
    re.compile(r"\bKCT\d{7}\b"),
    re.compile(r"\bNTR\d{3,5}\b"),
    re.compile(r"\bPACTR\d{15}\b"),
    re.compile(r"\bUMIN\d{9}\b"),
]


def find_registry_ids(text: str) -> list[str]:
    """Every registry number stated in ``text``, in order of first appearance, deduplicated."""
    found: list[tuple[int, str]] = []
    for pat in REGISTRY_ID_PATTERNS:
        for m in pat.finditer(text):
            value = m.group(1) if m.groups() and m.group(1) else m.group(0)
            found.append((m.start(), value))
    found.sort()
    out: list[str] = []
    for _, v in found:
        if v not in out:
            out.append(v)
    return out


def is_registry_id(value: str) -> bool:
    return any(p.fullmatch(value.strip()) for p in REGISTRY_ID_PATTERNS)


# --------------------------------------------------------------------------- ages, phases, status

_AGE_UNIT_YEARS = {
    "year": 1.0,
    "month": 1 / 12,
    "week": 7 / 365.25,
    "day": 1 / 365.25,
    "hour": 1 / (365.25 * 24),
    "minute": 1 / (365.25 * 24 * 60),
}
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+?)s?\s*$")


def age_to_years(value: str | None) -> float | None:
    """``"18 Years"``, ``"6 Months"``, ``"2 Weeks"`` to years; ``"N/A"`` and unknown units to None."""
    if not value:
        return None
    m = _AGE_RE.match(value)
    if not m:
        return None
    unit = m.group(2).lower().rstrip("s")
    factor = _AGE_UNIT_YEARS.get(unit)
    if factor is None:
        return None
    years = float(m.group(1)) * factor
    return round(years, 4) if factor != 1.0 else float(m.group(1))


_ROMAN = {"0": "0", "I": "1", "II": "2", "III": "3", "IV": "4", "1": "1", "2": "2", "3": "3", "4": "4"}


def phase_tokens(text: str) -> list[str]:
    """``"Phase 1/Phase 2"``, ``"Phase II"``, ``"Early Phase 1"``, ``"N/A"`` to API v2 phase values."""
    t = text.strip()
    if not t:
        return []
    if re.fullmatch(r"(?i)n/?a|not applicable", t):
        return ["NA"]
    if re.search(r"(?i)early\s+phase\s*(1|I)\b", t):
        return ["EARLY_PHASE1"]
    out: list[str] = []
    for m in re.finditer(r"(?i)\b(?:phase\s*)?(IV|III|II|I|[0-4])\b", t):
        if not re.match(r"(?i)phase", m.group(0)) and not out:
            continue  # the first number must follow the word "phase"
        num = _ROMAN.get(m.group(1).upper())
        if num is not None and f"PHASE{num}" not in out:
            out.append(f"PHASE{num}")
    return out


_PHASE_IN_PROSE = re.compile(
    r"(?i)\bphase\s*(IV|III|II|I|[1-4])(?:\s*(?:/|-|–|and)\s*(?:phase\s*)?(IV|III|II|I|[1-4]))?\b"
    r"(?=[\s,]+(?:\w+[\s,]+){0,3}?(?:study|trial|clinical|randomi[sz]ed|open-label|multicent))"
)


def phases_from_prose(text: str) -> list[str]:
    """A phase the prose states about its own study (``"This phase II study"``), or []."""
    m = _PHASE_IN_PROSE.search(text)
    if not m:
        return []
    out = [f"PHASE{_ROMAN[m.group(1).upper()]}"]
    if m.group(2):
        out.append(f"PHASE{_ROMAN[m.group(2).upper()]}")
    return out




def normalise_status(value: str | None) -> str | None:
    """``"Active, not recruiting"`` -> ``ACTIVE_NOT_RECRUITING``; unknown wording -> None."""
    if not value:
        return None
    key = re.sub(r"[^A-Z]+", "_", value.strip().upper()).strip("_")
    if key == "UNKNOWN_STATUS":
        key = "UNKNOWN"
    return key if key in STATUS_VALUES else None


INTERVENTION_TYPES = {
    "DRUG",
    "DEVICE",
    "BIOLOGICAL",
    "PROCEDURE",
    "RADIATION",
    "BEHAVIORAL",
    "GENETIC",
    "DIETARY_SUPPLEMENT",
    "COMBINATION_PRODUCT",
    "DIAGNOSTIC_TEST",
    "OTHER",
}


def intervention_type(label: str) -> str | None:
    """``"Combination Product"`` / ``"Biological/Vaccine"`` -> API v2 type value, else None."""
    key = re.sub(r"[^A-Z]+", "_", label.strip().upper()).strip("_")
    if key in INTERVENTION_TYPES:
        return key
    if key in ("BIOLOGICAL_VACCINE", "BIOLOGIC"):
        return "BIOLOGICAL"
    if key in ("BEHAVIOURAL",):
        return "BEHAVIORAL"
    if key in ("DIAGNOSTIC", "DIAGNOSTIC_TESTS"):
        return "DIAGNOSTIC_TEST"
    return None


def normalise_sex(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().upper()
    if v in ("FEMALE", "FEMALES", "WOMEN"):
        return "FEMALE"
    if v in ("MALE", "MALES", "MEN"):
        return "MALE"
    if v in ("ALL", "BOTH", "MALE AND FEMALE", "FEMALE AND MALE"):
        return "ALL"
    return None


# --------------------------------------------------------------------------- ages and sex in criteria

_NUM = r"(\d{1,3}(?:\.\d)?)"
_AGE_RANGE = [
    re.compile(rf"(?i)\bage[sd]?\b[^\d\n;]{{0,25}}?{_NUM}\s*(?:years?)?\s*(?:-|–|—|to|and)\s*{_NUM}\b"),
    re.compile(rf"(?i)\b{_NUM}\s*(?:-|–|—|to)\s*{_NUM}\s*(?:years?|yrs?)\s*(?:old|of age)\b"),
]
_AGE_MIN = [
    re.compile(
        rf"(?i)\bage[sd]?\b[^\d\n;]{{0,20}}?(?:≥|>=|at least|of at least|over|above|>)?\s*{_NUM}\s*"
        r"(?:years?|yrs?)?\s*(?:old\s*)?(?:or|and)\s*(?:older|above|over)\b"
    ),
    re.compile(rf"(?i)\bage[sd]?\b\s*(?:of\s*)?(?:≥|>=|⩾)\s*{_NUM}\b"),
    re.compile(rf"(?i)\b{_NUM}\s*(?:years?|yrs?)\s*(?:of age|old)?\s*(?:or|and)\s*(?:older|above|over)\b"),
    re.compile(rf"(?i)\bage[sd]?\b\s*(?:at least|of at least|minimum of)\s*{_NUM}\b"),
]
_FEMALE = re.compile(r"(?i)\b(?:female|females|woman|women)\b")
_MALE = re.compile(r"(?i)\b(?:male|males|man|men)\b")


def inclusion_part(criteria: str) -> str:
    """The criteria text before an exclusion header (ages are read from inclusion only)."""
    m = re.search(r"(?im)^\W*(?:exclusion criteria|who cannot join|non-inclusion criteria)", criteria)
    return criteria[: m.start()] if m else criteria


def ages_from_criteria(criteria: str) -> tuple[float | None, float | None, str | None]:
    """Minimum age, maximum age and sex that an inclusion criterion states explicitly.

    Used only when a document has no structured age or sex field. The rule: the first inclusion
    line that states an explicit age range (``"ages 18-70"``) or minimum (``"Aged 18 years or
    older"``, ``"age ≥ 18"``) gives the ages; that same line gives the sex when it names one sex
    only (``"..., female"``, ``"a woman aged 18 years or older"``). Sex is never taken from other
    prose (``"postmenopausal women with ..."``).
    """
    for line in inclusion_part(criteria).splitlines():
        lo = hi = None
        for pat in _AGE_RANGE:
            m = pat.search(line)
            if m:
                a, b = float(m.group(1)), float(m.group(2))
                if 0 <= a < b <= 120:
                    lo, hi = a, b
                    break
        if lo is None:
            for pat in _AGE_MIN:
                m = pat.search(line)
                if m and 0 < float(m.group(1)) <= 120:
                    lo = float(m.group(1))
                    break
        if lo is None:
            continue
        fem, mal = bool(_FEMALE.search(line)), bool(_MALE.search(line))
        sex = "FEMALE" if fem and not mal else "MALE" if mal and not fem else None
        return lo, hi, sex
    return None, None, None


# --------------------------------------------------------------------------- build


def build_trial(data: dict) -> Trial:
    """Validate a built dict into a :class:`Trial` once; validation problems become RecordError."""
    try:
        return Trial.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise RecordError(f"invalid value for {loc}: {err.get('msg')}", field=loc) from None
