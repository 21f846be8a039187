"""Shared pieces of the extractors: numbers, comparators, durations, cached case-insensitive regexes,
the leading-negation test and the record of comparisons consumed by the numeric extractors.
"""

from __future__ import annotations

import re

from trialmatch.criteria.model import AllOf, AnyOf, Duration
from trialmatch.criteria.extractors.registry import family_data
from trialmatch.criteria.rules import FoldedPattern, folded_text, rules


# ----------------------------------------------------------------------------- comparators
_NUMW = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "twelve": 12, "a": 1, "an": 1, "zero": 0}
NUM = r"(\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_OPS = [
    (r"≥|>=|=>|≧|⩾|greater than or equal to|more than or equal to|equal to or greater than|equal or greater than|"
     r"equal to or more than|at least|no less than|not less than|not lower than|no lower than|minimum of|a minimum of|min\.?|"
     r"not below|over or equal to", ">="),
    (r"≤|<=|=<|≦|⩽|less than or equal to|equal to or less than|equal or less than|no more than|not more than|not exceeding|"
     r"does not exceed|do not exceed|not exceed|not higher than|no higher than|not greater than|no greater than|up to|"
     r"maximum of|a maximum of|max\.?|within|below or equal to", "<="),
    (r">|greater than|more than|higher than|above|over|exceeding|exceeds|exceed|beyond|in excess of|older than", ">"),
    (r"<|less than|lower than|below|under|fewer than|younger than", "<"),
    (r"=|equal to|of|is|was", "=="),
]
_OP_RE = re.compile("|".join(f"(?P<g{i}>{p})" for i, (p, _) in enumerate(_OPS)), re.IGNORECASE)
_OP_LIST = [op for _, op in _OPS]
_OP_ANY = "(?:" + "|".join(p for p, _ in _OPS[:4]) + ")"


def _op(text: str) -> str | None:
    m = _OP_RE.fullmatch(text.strip())
    if not m:
        return None
    for i, op in enumerate(_OP_LIST):
        if m.group(f"g{i}"):
            return op
    return None


def _num(s: str) -> float:
    s = s.lower()
    if s in _NUMW:
        return float(_NUMW[s])
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", s):
        return float(s.replace(",", ""))
    return float(s.replace(",", "."))


_UNIT_TIME = {"day": "day", "days": "day", "d": "day", "week": "week", "weeks": "week", "wk": "week", "wks": "week",
              "month": "month", "months": "month", "mo": "month", "year": "year", "years": "year", "yr": "year",
              "yrs": "year"}
TIME = r"(days?|weeks?|wks?|months?|mo|years?|yrs?)\b"


def _dur(value: str, unit: str) -> Duration:
    return Duration(value=_num(value), unit=_UNIT_TIME[unit.lower()])


# ----------------------------------------------------------------------------- helpers
_RX_CACHE: dict[str, FoldedPattern] = {}


def _rx(pattern: str) -> FoldedPattern:
    """A case-insensitive compiled pattern, compiled once per process (a dict lookup is much
    cheaper than ``re``'s own cache, which also evicts after 512 patterns); a ``FoldedPattern``
    (the same matches, found faster in most text)."""
    p = _RX_CACHE.get(pattern)
    if p is None:
        p = _RX_CACHE[pattern] = FoldedPattern(re.compile(pattern, re.IGNORECASE))
    return p


def _any(rx: str, t: str) -> bool:
    return _rx(rx).search(t) is not None


def _may_match(t: str, words: tuple[str, ...]) -> bool:
    """A cheap pre-check for a case-insensitive regex: False only when the regex cannot match ``t``.

    ``words`` (lower case ASCII) are pieces of text that every match of the regex contains; a substring
    test on the lower-cased text costs far less than running the regex over every position. Only text
    that lower-casing shows as IGNORECASE sees it is ruled out this way (``rules.folded_text``: not
    "ſ", "ı", which IGNORECASE matches to "s", "i"); other text always goes to the regex.
    """
    tl = folded_text(t)
    if tl is None:
        return True
    for w in words:
        if w in tl:
            return True
    return False


def _qualifiers(t: str, keys=None) -> list[str]:
    out = []
    for k, rx in rules().qualifier_re.items():
        if keys and k not in keys:
            continue
        if rx.search(t):
            out.append(k)
    return out


def _negation_cues() -> dict:
    """The leading-negation cues of ``common.json`` (``rules.negation_cues``), checked: lower-case words and
    spaces only (they are joined into the regex as written)."""
    cues = family_data("common").rules["negation_cues"]
    allowed = ("lead_cues", "no_unless_followed_by", "not_unless_followed_by", "not_a_negation", "lead_connectives")
    bad = sorted(k for k in cues if k not in allowed and not k.startswith("_"))
    if bad:
        raise ValueError(f"common.json: rules.negation_cues: unknown keys {bad}; allowed keys: {list(allowed)}")
    for k in allowed:
        words = cues.get(k)
        if not words or not all(isinstance(w, str) and re.fullmatch(r"[a-z]+(?: [a-z]+)*", w) for w in words):
            raise ValueError(f"common.json: rules.negation_cues.{k}: expected a list of lower-case words")
    return cues


_NEG_CUES = _negation_cues()
_NEG_LEAD = re.compile(
    r"^\s*(?:(?:" + "|".join(_NEG_CUES["lead_connectives"]) + r")\s*,\s*)?"  # "however, patients may not have had ..."
    r"(?:(?:the\s+)?(?:patients?|subjects?|participants?|women|men|she|he)\s+)?(?:must|should|will|may|can)?\s*"
    r"(?:have|has|had|be|is|are)?\s*(?:had\s+)?"
    r"(?:no(?!\s+(?:" + "|".join(_NEG_CUES["no_unless_followed_by"]) + r")\b)|not(?!\s+(?:"
    + "|".join(_NEG_CUES["not_unless_followed_by"]) + r")\b)|" + "|".join(_NEG_CUES["lead_cues"]) + r")\b",
    re.IGNORECASE,
)
_NOT_A_NEGATION = re.compile(r"(?i)\s*no\s+(?:" + "|".join(_NEG_CUES["not_a_negation"]) + ")")


def _negated(t: str) -> bool:
    return bool(_NEG_LEAD.match(t)) and not _NOT_A_NEGATION.match(t)


# Numeric extractors share one scan per clause: ``find_quantities`` is cached by text, and every
# numeric extractor (age, performance, life expectancy, labs) records the spans of the comparisons
# it consumed here, keyed by the clause text, so that ``_measurements`` skips exactly those spans
# (rather than every comparison that happens to have the same value). A handful of clauses are
# kept (the current one and the few texts derived from it); entries are deterministic per text.
_CONSUMED: dict[str, set[tuple[int, int]]] = {}
_CONSUMED_MAX = 16


def _consume(t: str, start: int, end: int) -> None:
    """Record that an extractor compiled the comparison at ``t[start:end]``."""
    spans = _CONSUMED.get(t)
    if spans is None:
        while len(_CONSUMED) >= _CONSUMED_MAX:
            del _CONSUMED[next(iter(_CONSUMED))]  # oldest first (dicts keep insertion order)
        spans = _CONSUMED[t] = set()
    spans.add((start, end))


def _consumed(t: str) -> set[tuple[int, int]]:
    return _CONSUMED.get(t, set())


def _has_any(tl: str, needles) -> bool:
    for n in needles:
        if n in tl:
            return True
    return False


def _all(items: list):
    return items[0] if len(items) == 1 else AllOf(items=items)


_ANALYTE_SEP = _SEP_RUN = re.compile(r"[\s-]+")
_DIGIT = re.compile(r"\d")


def _any_of(items: list):
    return items[0] if len(items) == 1 else AnyOf(items=items)
_GRADE_NUM = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_STOP = frozenset(family_data("common").cues.words("stop_words"))  # words that are not names (of a condition, a drug, a measurement)


_VAGUE_HEADS = frozenset(family_data("common").cues.words("vague_heads"))  # heads with no content of their own ('disease', 'abnormality')


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_NEG_LEAD',):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name
