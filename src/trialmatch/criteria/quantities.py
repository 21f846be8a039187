"""Numeric comparisons in eligibility text: operator, value (or range), unit, temporal unit.

One left-to-right scan of a criterion finds every comparison written with

* a symbol or words before the number: ``≥ ≤ > < =`` (and ``>=``, ``=>``, ``≥/=``, ``> or =``,
  full-width ``＞ ＜``), "at least", "no less than", "greater than or equal to", "more than",
  "up to", "not exceeding", "older than", "younger than", ... ("over age 18" too);
* words after the number: "18 years or older", "60 or more", "24 or above", "18+", "65 and up";
* a range: "between X and Y", "from X to Y", "X-Y", "X–Y", "X~Y", "X to Y", "X through Y";
  a list of small scores "1 or 2", "0, 1 or 2" (read as a range when no unit follows);
* plus/minus: "±2 kg", "+/- 10%".

``≥ X and ≤ Y`` gives two comparisons (as written). Numbers keep thousands separators
("3,000"), decimal commas ("6,1") and the damaged powers of ten of PDF extraction ("×109/L",
read by :func:`trialmatch.vocab.units.normalize_unit_text`). Time windows ("within 4 weeks",
"in the past 3 months") are marked ``window=True`` so callers can tell them from measurements.

Public API
----------
Quantity                        one comparison (frozen dataclass)
find_quantities(text) -> list   every comparison in ``text``, in order (cached)
bare_value(text, pos)           a value written without an operator right at ``pos`` ("Gleason score 7")
operator_before(text, pos)      the operator written right before ``pos`` ("greater than NYHA 2": ">")
TIME_UNITS                      time unit words -> "hour" / "day" / "week" / "month" / "year" / ...
to_years(value, time_unit)      a value in a time unit, in years
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from trialmatch.criteria.rules import FoldedPattern
from trialmatch.vocab.units import UnitError, normalize_unit_text

__all__ = ["Quantity", "find_quantities", "bare_value", "operator_before", "TIME_UNITS", "to_years"]


@dataclass(frozen=True)
class Quantity:
    """One numeric comparison as written.

    Attributes
    ----------
    op : str
        ">=", ">", "<=", "<", "==", "between" (``value`` .. ``value_high``) or "+/-".
    value, value_high : float
        The number (``value_high`` only for "between").
    unit : str or None
        A pint-parsable unit when :func:`normalize_unit_text` reads it, else the unit as
        written (lower case); None for time units and bare numbers.
    unit_text : str or None
        The unit exactly as written.
    time_unit : str or None
        "second", "minute", "hour", "day", "week", "month" or "year" when the unit is a time.
    start, end : int
        Character span of the comparison (operator to unit) in the text.
    num_start : int
        Where the (first) number starts.
    window : bool
        A time window ("within 4 weeks", "in the last 3 months", "for 2 years").
    age_cue : bool
        The words say it is an age ("older than", "years old", "of age", "over age 18").
    pair : float or None
        The second value of a slash pair compared under the same operator, the first being
        the larger ("BP > 140/90 mmHg": systolic 140, diastolic ``pair`` 90).
    out_of : float or None
        The scale's maximum written after a score ("pain > 4/10", "MMSE ≥ 24/30"); not a value.
    """

    op: str
    value: float
    value_high: float | None
    unit: str | None
    unit_text: str | None
    time_unit: str | None
    start: int
    end: int
    num_start: int
    window: bool = False
    age_cue: bool = False
    pair: float | None = None
    out_of: float | None = None


TIME_UNITS = {
    "s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
    "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "wk": "week", "wks": "week", "week": "week", "weeks": "week",
    "mo": "month", "mos": "month", "month": "month", "months": "month",
    "y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year", "y.o": "year", "y.o.": "year",
    "yo": "year",
}
_YEARS_PER = {"second": 1 / 31557600, "minute": 1 / 525960, "hour": 1 / 8766, "day": 1 / 365.25,
              "week": 7 / 365.25, "month": 1 / 12, "year": 1.0}


def to_years(value: float, time_unit: str | None) -> float:
    """``value`` expressed in ``time_unit`` (None: years), in years."""
    return value * _YEARS_PER.get(time_unit or "year", 1.0)


# ----------------------------------------------------------------------------- operators
_GE = (r"≥\s*/?\s*=|>\s*/\s*=|>\s*or\s*=(?:\s*to\b)?|>\s+=(?!\s*<)|=\s*/?\s*>|≥|>=|=>|≧|⩾|"
       r"(?:greater|more|higher|larger|older)(?:\s+than)?\s*(?:or|and/or)\s*equal(?:s)?(?:\s+to)?|"
       r"equal\s+to\s+or\s+(?:greater|more|higher|older|larger)(?:\s+than)?|equal\s+or\s+(?:greater|more|higher)(?:\s+than)?|"
       r"equal\s+(?:to\s+)?or\s+(?:above|over)|"
       r"at\s+least|no\s+less\s+than|not\s+less\s+than|not\s+lower\s+than|no\s+lower\s+than|no\s+fewer\s+than|"
       r"not\s+fewer\s+than|(?:a\s+)?minimum\s+(?:of\s+)?|not\s+below|no\s+younger\s+than|not\s+younger\s+than|"
       r"not\s+under|over\s+or\s+equal(?:\s+to)?|from\s+the\s+age\s+of")
_LE = (r"≤\s*/?\s*=|<\s*/\s*=|<\s*or\s*=(?:\s*to\b)?|<\s+=(?!\s*>)|=\s*/?\s*<|≤|<=|=<|≦|⩽|"
       r"(?:less|lower|smaller|fewer|younger)(?:\s+than)?\s*(?:or|and/or)\s*equal(?:s)?(?:\s+to)?|"
       r"equal\s+to\s+or\s+(?:less|lower|smaller|younger)(?:\s+than)?|equal\s+or\s+(?:less|lower|smaller)(?:\s+than)?|"
       r"equal\s+(?:to\s+)?or\s+(?:below|under)|"
       r"no\s+more\s+than|not\s+more\s+than|not\s+exceeding|does\s+not\s+exceed|do\s+not\s+exceed|not\s+to\s+exceed|"
       r"not\s+exceed|not\s+higher\s+than|no\s+higher\s+than|not\s+greater\s+than|no\s+greater\s+than|"
       r"not\s+above|not\s+over|up\s+to|(?:a\s+)?maximum\s+(?:of\s+)?|at\s+most|no\s+older\s+than|not\s+older\s+than|"
       r"below\s+or\s+equal\s+to|within")
_GT = (r">>|>|＞|˃|greater\s+than|more\s+than|higher\s+than|larger\s+than|bigger\s+than|longer\s+than|above|over|"
       r"exceeding|exceeds|"
       r"in\s+excess\s+of|older\s+than|superior\s+to|beyond")
_LT = (r"<<|<|＜|˂|less\s+than|lower\s+than|smaller\s+than|fewer\s+than|shorter\s+than|below|under|younger\s+than|"
       r"inferior\s+to")
_EQ = r"=|equal\s+to|equals"
_PM = r"±|\+\s*/\s*-|\+\s*-"

_OP_GROUPS = (("ge", _GE, ">="), ("le", _LE, "<="), ("gt", _GT, ">"), ("lt", _LT, "<"), ("pm", _PM, "+/-"),
              ("eq", _EQ, "=="))
# "less then 60", "more then 3": a common misspelling of "than" in registry text
_OP_GROUPS = tuple((n, p.replace(r"than", r"th[ae]n"), op) for n, p, op in _OP_GROUPS)
# Speed: ``re`` tries every alternative of an alternation at every position of the text. The gate
# in front lets only a symbol, or the start of a word whose first letter begins some operator
# phrase, into the ~90 alternatives (an operator word never starts inside a word: "moreover 5" is
# not "over 5").
_OP_GATE = r"(?=[≥≤<>=＞＜˃˂≧≦⩾⩽±+]|\b[abdefghilmnosuwy])"
_OP_RX = _OP_GATE + "(?:" + "|".join(f"(?P<{n}>{p})" for n, p, _ in _OP_GROUPS) + ")"
_OP_OF = {n: op for n, _, op in _OP_GROUPS}
_LIMIT_MULTIPLE = re.compile(r"(?i)\s*(?:x|×|times)\s*(?:of\s+)?(?:the\s+)?(?:institution(?:'?s|al)?\s+)?(?:i?uln|i?lln|upper|lower)\b")

# ----------------------------------------------------------------------------- numbers and units
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+)"
_WORDNUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty": 20}
_NUMW = _NUM + r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty"
_NUMW_GATE = r"(?=[\d.otfsen])"  # the first character of a number (or number word)
_HAS_NUMBER = re.compile(
    r"\d|(?i:\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty)\b)")
_DIGIT = re.compile(r"\d")  # the first alternative of _HAS_NUMBER
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACES = re.compile(r"\s+")

# only used in case-insensitive patterns, so written in lower case ("mEq" = "meq", "G/L" = "g/l"), which
# lets those patterns run as ``FoldedPattern`` (see the end of this module)
_UNIT = (
    r"(?:[x×✕*]\s*10\s*(?:\^|\*\*|\*|e)?\s*[-⁻]?[0-9⁰¹²³⁴⁵⁶⁷⁸⁹]{1,2}\s*(?:cells\s*)?/\s*(?:[µμu]?l|mm3|mm³|mm\^3|nl|ml)\b)"
    r"|(?:10\s*(?:\^|\*\*)\s*\d{1,2}\s*/\s*(?:[µμu]?l|mm3|mm³)\b)"
    r"|(?:cells?\s*/\s*(?:[µμu]l|mm3|mm³|mm\^3|cu\.?\s*mm|ml|l)\b)"
    r"|(?:/\s*(?:[µμu]l|mm3|mm³|mm\^3|cu\.?\s*mm|hpf)\b)"
    r"|(?:g\s*/\s*l\b)"
    r"|(?:(?:mg|g|gm|gr|µg|μg|ug|mcg|ng|pg)\s*/\s*(?:dl|l|ml|kg|m2|m²|24\s*h(?:ours?|rs?)?|day|d)\b)"
    r"|(?:(?:µmol|μmol|umol|mmol|nmol|pmol|mol|meq)\s*/\s*(?:l|dl|24\s*h)\b)"
    r"|(?:(?:m?iu|mu|u)\s*/\s*(?:l|ml|dl)\b)"
    r"|(?:(?:ml|cc)\s*/\s*min(?:ute)?(?:\s*/\s*1[.,]73\s*m(?:2|²|\^2)?)?(?:\s*/\s*m(?:2|²))?)"
    r"|(?:ml\s*/\s*kg(?:\s*/\s*min)?)"
    r"|(?:kg\s*/\s*m(?:2|²|\^2)\b|kg\s*/\s*m\b)"
    r"|(?:mm\s*hg\b|mmhg\b|cm\s*h2o\b|kpa\b)"
    r"|(?:beats?\s*(?:per|/)\s*min(?:ute)?\b|bpm\b|breaths?\s*(?:per|/)\s*min(?:ute)?\b)"
    r"|(?:°\s*[cf]\b|℃|degrees?\s*(?:celsius|c\b|fahrenheit|f\b)?|ºc\b|°)"
    r"|(?:(?:gm?|gr)\s*%|(?:eu|ku|ku[a-z]?)\s*/\s*(?:ml|l)\b)"
    r"|(?:%|percent\b|per\s*cent\b)"
    r"|(?:msec\b|ms\b)"
    r"|(?:c?gy\b|db\s*(?:hl|a|spl)\b|dba\b|diopters?\b|dioptres?\b|ppb\b)"
    r"|(?:kg\b|kilograms?\b|lbs?\b|pounds?\b|grams?\b|g\b|mg\b|mcg\b|µg\b|μg\b)"
    r"|(?:cm3\b|cm²|cm2\b|mm3\b|mm2\b|cm\b|mm\b|µm\b|μm\b|um\b|microns?\b|nm\b|meters?\b|metres?\b|m\b|km\b|inch(?:es)?\b)"
    r"|(?:ml\b|l\b|liters?\b|litres?\b|dl\b|cc\b)"
    r"|(?:feet\b|ft\b|kilomet(?:er|re)s?\b|miles?\b)"
    r"|(?:ppm\b|fl\b|iu\b|units?\b|points?\b|pts?\b|pack[- ]?years?\b|cigarettes?\b|drinks?\b|steps?\b|"
    r"mets?\b|db\b|hz\b|mosm/kg\b|ng/ml\b|mmol\b|µmol\b|umol\b)"
    r"|(?:y\.o\.?|yo\b|years?|yrs?\b|y\b|months?|mos?\b|weeks?|wks?\b|days?|d\b|hours?|hrs?\b|h\b|minutes?|mins?\b|"
    r"seconds?|secs?\b|s\b)"
)

def _u(n: str) -> str:
    # "18-35-year-old": a hyphen may join the number and its unit
    return r"(?:(?:\s*|-)(?P<" + n + ">" + _UNIT + r"))?"


_BEFORE_NUM = r"(?<![\w.,/^*-])"
_AFTER_NUM = r"(?![\d])"
_AGE_OF = r"(?:(?:the\s+)?ages?\s+(?:of\s+)?)?"

_RANGE_RE = re.compile(
    r"(?<![\w])(?=[\d.bftaosen])(?P<lead>between\s+|from\s+)?" + _AGE_OF + _BEFORE_NUM + r"(?P<a>" + _NUMW + r")" + _AFTER_NUM
    + _u("ua") + r"(?:\s*(?:-\s*)?(?:old|of\s+age))?(?:-(?=\s))?"
    + r"\s*(?P<sep>and|to|through|until|till|-|–|—|~|～|‐|−|an(?=\s))\s*(?:(?P<opb><|≤|<=|˂)\s*)?"
    + r"(?P<b>" + _NUMW + r")" + _AFTER_NUM + _u("ub"),
    re.IGNORECASE,
)
_OP_NUM_RE = re.compile(
    r"(?P<op>" + _OP_RX + r")\s*(?:than\s+)?(?:\(\s*(?:[<>≤≥]=?|=[<>])\s*\)\s*|to\s+(?=\d))?"  # "equal to or less than (<=) 1", ">= to 80"
    r"(?:(?P<agew>(?:the\s+)?ages?\s*:?\s*(?:of\s+)?)|of\s+)?"
    + r"(?:(?P<sign>[-−+])(?=\.?\d)|(?<![\d.,/^*-]))(?P<a>" + _NUMW + r")" + _AFTER_NUM  # "greater than100 g/L": letters may touch
    + r"(?:\s*/\s*(?P<pair>\d{1,3}(?:[.,]\d+)?)(?![\d]|[.,]\d))?" + _u("ua"),
    re.IGNORECASE,
)
_POSTFIX_RE = re.compile(
    _BEFORE_NUM + _NUMW_GATE + r"(?P<a>" + _NUMW + r")" + _AFTER_NUM + _u("ua")
    + r"(?P<mid>(?:\s*(?:-\s*)?(?:old|of\s+age))?)"
    + r"(?:\s*(?P<post>(?:or|and|&)\s+(?:older|over|above|greater|more|higher|longer|bigger|larger|up|beyond|"
    + r"younger|under|below|less|lower|fewer|smaller|shorter|later|earlier)|\+(?!\s*\d)))",
    re.IGNORECASE,
)
_LIST_RE = re.compile(
    _BEFORE_NUM + r"(?P<a>\d(?:\.\d)?)(?:\s*,\s*\d(?:\.\d)?)*\s*(?:,?\s*(?:or|and/or)\s*|\s*/\s*)(?P<b>\d(?:\.\d)?)(?![\d%]|[.,]\d|\s*(?:[a-zµμ%°/]))",
    re.IGNORECASE,
)
_WINDOW_BEFORE = re.compile(
    r"(?i)(?:\bwithin|\bin\s+the\s+(?:past|last|previous|prior|preceding|next|first)|\bduring\s+the\s+(?:past|last|previous|first)|"
    r"\b(?:past|last|previous|prior|preceding)|\bfor(?:\s+a\s+(?:period|duration)\s+of)?|\bat\s+least|\bsince|\bduration\s+(?:of\s+)?|"
    r"\bafter|\bbefore|\bover\s+the\s+(?:past|last|previous))\s*(?:than\s+)?$")
_WINDOW_AFTER = re.compile(r"(?i)\s*(?:of\s+)?(?:before|prior|ago|after|since|from|preceding|following|before\s+|of\s+(?:the\s+)?(?:study|screening|enrol|random|treatment|therapy|diagnos|surgery|start|first))")
_AGE_AFTER = re.compile(r"(?i)\s*(?:-\s*|\s)?(?:old\b|of\s+age\b|of\s+life\b|age\b|aged\b)")


_DEG_C = re.compile(r"°\s*c|℃|degrees?\s*(?:celsius|c)|ºc")
_GRAM_PERCENT = re.compile(r"(?:gm?|gr)\s*%")


def _num(s: str) -> float:
    s = s.strip().lower()
    if s in _WORDNUM:
        return float(_WORDNUM[s])
    if _THOUSANDS.fullmatch(s):
        return float(s.replace(",", ""))
    return float(s.replace(",", "."))


@lru_cache(maxsize=2048)
def _unit(text: str | None) -> tuple[str | None, str | None]:
    """(unit, time unit) from a unit as written."""
    if not text:
        return None, None
    raw = _SPACES.sub(" ", text.strip())
    low = raw.lower().rstrip(".")
    if low in TIME_UNITS or low + "." in TIME_UNITS:
        return None, TIME_UNITS.get(low) or TIME_UNITS[low + "."]
    if low in ("points", "point", "pts", "pt"):
        return "points", None
    if re.fullmatch(r"beats?\s*(?:per|/)\s*min(?:ute)?|bpm", low):
        return "bpm", None
    if _DEG_C.fullmatch(low):
        return "degC", None
    if low in ("°", "degree", "degrees"):
        return "degree", None  # an angle
    if _GRAM_PERCENT.fullmatch(low):
        return "g/dL", None  # "gram percent": grams per 100 mL
    if low == "cc":
        return "mL", None
    if low.startswith("cc"):  # "cc/min": cubic centimetres are millilitres
        raw = "mL" + raw[2:]
    if low in ("percent", "per cent"):
        return "percent", None
    if low in ("kilogram", "kilograms"):
        return "kg", None
    if low in ("lb", "lbs", "pound", "pounds"):
        return "lb", None
    try:
        return normalize_unit_text(raw), None
    except UnitError:
        return low, None


def _window(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 45):start]
    return bool(_WINDOW_BEFORE.search(before.rstrip() + (" " if before[-1:].isspace() else ""))) or bool(
        _WINDOW_AFTER.match(text[end:end + 30]))


@lru_cache(maxsize=8192)
def find_quantities(text: str) -> tuple[Quantity, ...]:
    """Every numeric comparison in ``text``, in order of position.

    Parameters
    ----------
    text : str
        One criterion (or clause) as written.

    Returns
    -------
    tuple of Quantity
        Non-overlapping comparisons; time windows are included with ``window=True``.

    Examples
    --------
    >>> [(q.op, q.value, q.value_high, q.time_unit) for q in find_quantities("age 1-12 months")]
    [('between', 1.0, 12.0, 'month')]
    >>> [(q.op, q.value, q.unit) for q in find_quantities("ANC ≥ 1.5×109/L")]
    [('>=', 1.5, '10**9/L')]
    """
    # a digit is found by a fast scan; only text without one needs the number words of _HAS_NUMBER
    if not text or (_DIGIT.search(text) is None and _HAS_NUMBER.search(text) is None):
        return ()
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    def add(q: Quantity) -> None:
        found.append(q)
        taken.append((q.start, q.end))

    # 1. ranges (a range wins over an operator in front of its first number only for "between"/"from")
    for m in _RANGE_RE.finditer(text):
        sep = m.group("sep").lower()
        a_txt, b_txt = m.group("a"), m.group("b")
        if sep == "an" and (m.group("lead") or "").strip().lower() != "between":
            continue
        if sep == "and" and not m.group("lead") and not (
                m.group("ub") and _unit(m.group("ub"))[1] == "year" and _AGE_AFTER.match(text[m.end():m.end() + 12])):
            continue  # "18 and 65" without "between" is two things ("7 and 65 years old" is a range)
        if _CAL_YEAR.fullmatch(a_txt) and _CAL_YEAR.fullmatch(b_txt) and not m.group("ub") and \
                (sep in ("-", "–", "—", "‐", "−") or m.group("lead")):
            continue  # calendar years of a period: "2005-2017", "between 2008 and 2017", "from 2000 to 2017"
        try:
            a, b = _num(a_txt), _num(b_txt)
        except ValueError:
            continue
        if a_txt.isalpha() != b_txt.isalpha():
            continue
        if a_txt.isalpha() and not m.group("lead"):
            continue
        if b < a:
            continue
        if m.group("ua") and m.group("ub"):
            # "37 weeks 6 days" is not a range; units must agree in kind
            ua, ta = _unit(m.group("ua"))
            ub, tb = _unit(m.group("ub"))
            if (ta is None) != (tb is None):
                continue
        # an operator right before the range: a lower bound written in front of a range ("> 8 - 40 years",
        # "≥ 12 to < 18 years", "more than 2-3 drinks") leaves the range; another operator takes the number
        before = text[max(0, m.start() - 12):m.start()]
        lower = None
        if not m.group("lead") and _OP_BEFORE.search(before) and _OP_BEFORE2.search(before):
            lower = _LOWER_BOUND_BEFORE.search(before)
            if not (lower and sep in ("to", "-", "–", "—", "~", "～", "‐", "−")):
                continue
        # "x10^9/L" second numbers, "COVID-19", "T2-T4" are excluded by the look-behind; "1-2 days" fine
        utext = m.group("ub") or m.group("ua")
        unit, tunit = _unit(utext)
        s, e = m.start(), m.end()
        if lower is not None:  # the range's span takes in the operator written before it
            s = m.start() - (len(before) - lower.start())
        if not m.group("ub"):
            e = m.end("b")
        if not free(s, e):
            continue
        add(Quantity("between", a, b, unit, utext, tunit, s, e, m.start("a"),
                     window=_window(text, s, e),
                     age_cue=bool(_AGE_AFTER.match(text[e:e + 12])) or "age" in text[s:m.start("a")].lower()))
    # 2. operator + number
    for m in _OP_NUM_RE.finditer(text):
        if not free(m.start("a"), m.end("a")):
            continue
        name = next(n for n, _, _ in _OP_GROUPS if m.group(n))
        op = _OP_OF[name]
        optext = m.group("op").lower()
        if name == "eq" and optext.startswith("equal") is False and text[m.start():m.start() + 1] == "=":
            # "=" inside "x=3"? fine; skip "==>"-like arrows
            pass
        try:
            v = _num(m.group("a"))
        except ValueError:
            continue
        if m.group("a").isalpha() and (name in ("eq", "pm") or m.group("sign")):
            continue
        if m.group("sign") in ("-", "−"):
            v = -v
        utext = m.group("ua")
        e = m.end("ua") if utext else m.end("a")
        pair = out_of = None
        if m.group("pair"):
            pv = _num(m.group("pair"))
            if v >= 40 and 20 <= pv < v:
                pair = pv  # "140/90": systolic/diastolic (or another pair under one operator)
            elif pv > v and pv >= 5 and pv == int(pv):
                out_of = pv  # "4/10", "26/30": a score out of the scale's maximum
            else:  # "1/3": a fraction, read as before (the number alone)
                utext, e = None, m.end("a")
        # "≥18 years-old", "up to 5 mm deep"
        unit, tunit = _unit(utext)
        if utext and unit is None and tunit is None:
            utext = None
        if op == "==":  # "= 5 or higher": the words after the number give the operator
            om = _OR_MORE_AFTER.match(text, e)
            if om:
                op, e = (">=" if om.group("ge") else "<="), om.end()
        window = optext.startswith("within") and not _LIMIT_MULTIPLE.match(text, m.end("a")) \
            or _window(text, m.start(), e) and tunit is not None  # "within 1.5 x ULN" is a limit, not a window
        age = bool(m.group("agew")) or "older" in optext or "younger" in optext or bool(_AGE_AFTER.match(text[e:e + 12]))
        # a suffix "or more" / "or older" after an operator changes nothing
        add(Quantity(op, v, None, unit, utext, tunit, m.start(), e, m.start("a"), window=window, age_cue=age,
                     pair=pair, out_of=out_of))
    # 3. number + "or more" / "or older" / "+"
    for m in _POSTFIX_RE.finditer(text):
        if not free(m.start("a"), m.end("a")):
            continue
        if m.group("a").isalpha():
            continue
        post = (m.group("post") or "").lower()
        if post.startswith("+"):
            if m.group("ua"):
                continue
            op = ">="
        else:
            word = post.split()[-1]
            if word in ("older", "over", "above", "greater", "more", "higher", "longer", "bigger", "larger", "up",
                        "beyond", "later"):
                op = ">="
            else:
                op = "<="
        utext = m.group("ua")
        unit, tunit = _unit(utext)
        e = m.end()
        age = bool(m.group("mid").strip()) or "older" in post or "younger" in post or bool(
            _AGE_AFTER.match(text[e:e + 12]))
        add(Quantity(op, _num(m.group("a")), None, unit, utext, tunit, m.start(), e, m.start("a"),
                     window=_window(text, m.start(), m.start()) and tunit is not None, age_cue=age))
    # 4. lists of small scores "1 or 2", "0, 1 or 2" -> a range (no unit)
    for m in _LIST_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        vals = [float(x) for x in re.findall(r"\d(?:\.\d)?", m.group(0))]
        if len(vals) < 2 or vals != sorted(vals):
            continue
        add(Quantity("between", min(vals), max(vals), None, None, None, m.start(), m.end(), m.start("a")))
    found.sort(key=lambda q: q.start)
    return tuple(_share_units(text, found))


_CAL_YEAR = re.compile(r"(?:19|20)\d\d")
_OP_BEFORE = re.compile(r"(?i)(?:[<>≤≥=]|than|least|to|of)\s*$")
_OP_BEFORE2 = re.compile(r"(?i)[<>≤≥]|than|least")
_LOWER_BOUND_BEFORE = re.compile(r"(?i)(?:(?<![<>=])(?:≥|>=|>)|\bat\s+least|\b(?:more|greater)\s+th[ae]n)\s*$")
_OR_MORE_AFTER = re.compile(r"(?i)\s*(?:or|and)\s+(?:(?P<ge>higher|more|greater|above|over|older)|(?:lower|less|below|under|younger))\b")
_JOIN = re.compile(r"(?i)\s*(?:,|;|/)?\s*(?:or|and|and/or|nor)?\s*$")


def _share_units(text: str, qs: list[Quantity]) -> list[Quantity]:
    """"<25 or >37 kg/m2": the first comparison takes the unit written after the second;
    "≥18 years and ≤ 90": the second takes the first's time unit."""
    out = list(qs)
    for i in range(len(out) - 1, 0, -1):
        a, b = out[i - 1], out[i]
        if not _JOIN.fullmatch(text[a.end:b.start]) or a.window != b.window:
            continue
        if a.unit is None and a.time_unit is None and (b.unit is not None or b.time_unit is not None):
            out[i - 1] = replace(a, unit=b.unit, unit_text=b.unit_text, time_unit=b.time_unit,
                                 age_cue=a.age_cue or b.age_cue)
    for i in range(1, len(out)):
        a, b = out[i - 1], out[i]
        if not _JOIN.fullmatch(text[a.end:b.start]) or a.window != b.window:
            continue
        if b.unit is None and b.time_unit is None and a.time_unit is not None:
            out[i] = replace(b, time_unit=a.time_unit, unit_text=a.unit_text, age_cue=a.age_cue or b.age_cue)
    return out


# ----------------------------------------------------------------------------- bare values
# "Gleason score 7", "PSA 20 ng/ml", "ASA 1", "CDR of 0", "ASA status 1,2": a value written right
# after the name of what it measures, with no operator. Only the caller knows that a name stands
# right before ``pos`` (the compiler calls this after a vocabulary analyte or score name only).
_BARE_RE = re.compile(
    r"\s*(?:\(\s*[A-Za-z][\w-]{0,10}\s*\)\s*)?"  # "Clinical Dementia Rating (CDR) of 0"
    r"(?:(?:physical\s+)?(?:total\s+)?(?:scores?|status|class|levels?|values?|concentrations?|counts?)\b\s*)?"
    r"(?:(?:of|=|:|is|was|equal\s+to|equals)\s*)?"
    r"(?<![\w.,/^*+-])(?P<a>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])"
    r"(?P<list>(?:\s*(?:,|and/or|and|or|&)\s*\d(?:\.\d)?(?![\d.,]\d))*)"
    + _u("ua"),
    re.IGNORECASE,
)
# what may not follow a bare value: more of a number ("3+4", "20/40", "1.5 x ULN", "2-3"), an
# operator written after it ("7 or more": find_quantities reads those), an ordinal ("12th")
_BARE_NOT_AFTER = re.compile(
    r"(?i)\s*(?:[-–~+/×x*^:]\s*\d|[.,]\d|(?:or|and|&)\s+(?:older|over|above|greater|more|higher|longer|bigger|larger|"
    r"up|beyond|younger|under|below|less|lower|fewer|smaller|shorter|worse|better)\b|\+|times\b|fold\b|"
    r"[x×*]\s*(?:the\s+)?(?:uln|upper|lln|lower|normal)|th\b|st\b|nd\b|rd\b)")


def bare_value(text: str, pos: int) -> Quantity | None:
    """A value written without an operator right at ``text[pos:]``, after the name it measures.

    Parameters
    ----------
    text : str
        The criterion (or clause).
    pos : int
        Where the name ends ("Gleason score 7": after "Gleason").

    Returns
    -------
    Quantity or None
        ``op="=="`` for one value ("PSA 20 ng/ml"), ``op="between"`` for a list of small scores
        ("ASA status 1,2", "ASA physical status 1 and 2"); None when nothing of the kind is there,
        when the number is a time ("pain 3 months"), a calendar year, part of a larger expression
        ("Gleason 3+4", "20/40", "1.5 × ULN") or followed by an operator phrase ("7 or more").

    Examples
    --------
    >>> q = bare_value("Gleason score 7, or", 7)
    >>> (q.op, q.value, q.unit)
    ('==', 7.0, None)
    >>> bare_value("PSA 20 ng/ml", 3).unit
    'ng/mL'
    """
    m = _BARE_RE.match(text, pos)
    if m is None:
        return None
    a_txt, lst = m.group("a"), m.group("list") or ""
    end = m.end()
    if _BARE_NOT_AFTER.match(text, end):
        return None
    if lst.strip() and m.group("ua"):
        return None  # "1 and 2 mg": not a list of scores
    utext = m.group("ua")
    unit, tunit = _unit(utext)
    if tunit is not None:
        return None  # "pain 3 months": a time, not a value of the measure
    if utext and unit is None:
        utext = None
        end = m.end("list") if lst else m.end("a")
    if not utext and _CAL_YEAR.fullmatch(a_txt):
        return None
    try:
        v = _num(a_txt)
    except ValueError:
        return None
    if lst.strip():
        if not re.fullmatch(r"\d(?:\.\d)?", a_txt):
            return None
        vals = [v] + [float(x) for x in re.findall(r"\d(?:\.\d)?", lst)]
        if vals != sorted(vals) or len(set(vals)) != len(vals):
            return None
        return Quantity("between", vals[0], vals[-1], None, None, None, m.start("a"), end, m.start("a"))
    return Quantity("==", v, None, unit, utext, None, m.start("a"), end, m.start("a"))


_OP_BEFORE_NAME = re.compile(r"(?:" + _OP_RX + r")\s*(?:(?:the|an?)\s+)?$", re.IGNORECASE)


def operator_before(text: str, pos: int) -> str | None:
    """The comparison operator written right before ``pos`` (a name then its value follow it:
    "heart failure greater than NYHA 2", "> GINA 2"), or None.

    Returns
    -------
    str or None
        ">=", ">", "<=", "<" (never "==" or "+/-": those say nothing about the value after the name).
    """
    before = text[max(0, pos - 40):pos]
    m = _OP_BEFORE_NAME.search(before)
    if m is None:
        return None
    name = next((n for n, _, _ in _OP_GROUPS if m.group(n)), None)
    op = _OP_OF.get(name)
    if op in ("==", "+/-") or m.group(0).lower().startswith("within"):
        return None
    return op


# Speed: the scans of every clause, as ``FoldedPattern`` (rules.py): the same matches, found faster in ASCII
# text (chosen by measurement: ``_LIST_RE`` starts with a digit, nothing to gain there)
_RANGE_RE, _OP_NUM_RE, _POSTFIX_RE, _WINDOW_BEFORE = (FoldedPattern(_RANGE_RE), FoldedPattern(_OP_NUM_RE),
                                                      FoldedPattern(_POSTFIX_RE), FoldedPattern(_WINDOW_BEFORE))
