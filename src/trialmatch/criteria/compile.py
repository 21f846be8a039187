"""Compile eligibility criteria text into typed expressions (:mod:`trialmatch.criteria.model`).

Pipeline: :func:`~trialmatch.criteria.split.split_criteria` -> for each criterion, clause
splitting on ", or" -> concept extractors (regex first, vocabularies from ``vocab/data``) ->
an expression. Rules of combination:

* several atoms from one clause: inclusion -> ``AllOf``, exclusion -> ``AnyOf`` (an exclusion
  "A, B or C" excludes on any of them); lab alternatives joined by "or" -> ``AnyOf``;
* clauses joined by ", or" -> ``AnyOf``;
* a leading negation ("no", "without", "must not have") wraps non-numeric atoms in ``Not``;
  "no more than" / "not less than" are comparators, not negations;
* a clause with no atom -> ``Unsupported(reason)``.

Status rule: ``unsupported`` when any atom is ``Unsupported`` (every clause is treated as
essential); ``needs_confirmation`` when every atom is ``NeedsConfirmation``; else ``compiled``
(confirmation atoms inside a compiled criterion evaluate to "confirm" in the matcher). A parent
whose own text compiles to nothing but has children is a header (expression None, compiled).

Not criteria: placeholder lines ("Not specified", "See Disease Characteristics", "-", "The above
information is not intended to contain all considerations ...") and section headings with no
check of their own ("PRIOR CONCURRENT THERAPY:") are kept as header-like entries (expression None,
status compiled, a reason that says so), never compiled into a check; "Other protocol-defined
criteria may apply" needs a person (NeedsConfirmation). A requirement without a threshold
("adequate organ function", "normal or near-normal liver and kidney function") is
NeedsConfirmation with the reason "no defined threshold".

Speed: identical criterion texts compile once per process (an LRU cache on ``(text, kind)``;
callers get deep copies); vocabulary regexes are prefix tries (``rules.phrase_regex``); each family
of cue regexes sits behind one combined pre-check; the hot path skips pydantic validation of
already-typed nodes (``model_construct``). The case-insensitive regexes that scan whole clauses run
as ``rules.FoldedPattern`` (case-sensitive on the lower-cased text: the same matches, found about
twice as fast), and several sit behind a substring pre-check on words every match must hold
(``_may_match``). All of these leave the output unchanged.

Negation scope uses the regex cues here rather than medspacy/negspacy: a spaCy pipeline costs
milliseconds per criterion (measured: about 4 ms CPU per criterion for medspacy's sentence
splitter, target matcher and ConText on a blank English model, i.e. about 400 s for the ~99,000
HINT criteria, against a 60 s budget for everything), and criteria negate almost always at the start ("No ...", "Must not
have ..."), which ``_NEG_LEAD`` covers.

Generic conditions: "History of X" / "Patients with X" / "Known X" compile to
``Condition(condition=<conditions.json key>)`` when X is in the vocabulary, else to the cleaned
noun phrase (1-6 words, letters only); the matcher fuzzy-matches that phrase.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel

from trialmatch.criteria.model import (
    Age, AllOf, Allergy, AnyOf, CompiledCriteria, ConcomitantMedication, Condition, Criterion,
    Diagnosis, DiseaseExtent, Duration, Except, GeneAlteration, IfThen, Infection, LabThreshold,
    LifeExpectancy, MeasurableDisease, Measurement, MenopausalStatus, Metastasis, NeedsConfirmation,
    Not, OtherMalignancy, OvarianSuppression, PerformanceStatus, Pregnancy, PriorTherapy, Range,
    Receptor, RecentEvent, Sex, Unsupported, iter_atoms,
)
from trialmatch.criteria.rules import FoldedPattern, folded_text, rules, vocab_find, vocab_regexes
from trialmatch.criteria.split import SplitCriterion, split_criteria, split_prose
from trialmatch.vocab import analyte_vocabulary, load_json
from trialmatch.criteria.quantities import bare_value, find_quantities, operator_before, to_years
from trialmatch.vocab.units import parse_quantity

__all__ = ["COMPILER_VERSION", "compile_criteria", "compile_text", "compile_criterion_text"]

COMPILER_VERSION = "0.4.4"

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


_NEG_LEAD = re.compile(
    r"^\s*(?:(?:the\s+)?(?:patients?|subjects?|participants?|women|men|she|he)\s+)?(?:must|should|will|may|can)?\s*"
    r"(?:have|has|had|be|is|are)?\s*(?:had\s+)?"
    r"(?:no(?!\s+(?:more|less|greater|fewer|lower|higher|longer|later|earlier)\b)|not(?!\s+(?:more|less|greater|fewer|lower|higher|exceed)\b)|"
    r"without|absence of|free of|never|none|neither|cannot have|must not|should not|did not|do not|does not)\b",
    re.IGNORECASE,
)


def _negated(t: str) -> bool:
    return bool(_NEG_LEAD.match(t)) and not re.match(r"(?i)\s*no\s+(?:limit|restriction)", t)


# ----------------------------------------------------------------------------- extractors
_AGE_GATE = re.compile(r"(?i)\bage[ds]?\b|\bold\b|years?\b|\by\.?o\b|\by/o\b|yrs?\b|\badults?\b|\bchild|\binfant|\bneonat|\bnewborn|older|younger")
# "patients <18", "Any patient ≥18 who presents": a person compared with a bare number
_AGE_SUBJ_CMP = re.compile(r"(?i)\b(?:patients?|subjects?|participants?|women|men|individuals?|persons?|volunteers?)\s*"
                           r"(?:[<>≤≥＜＞]=?)\s*\d{1,3}(?![\d.,]\d)(?=\s*(?:$|[;,.)]|who\b|with\b|at\b|in\b))")
_AGE_BEFORE = re.compile(r"(?i)(?:\bage[ds]?\b|\bgestational\s+age\b|\bolder\b|\byounger\b)(?:\s*:)?[^.;:\d<>≤≥＜＞]{0,22}$")
_AGE_SUBJ = re.compile(
    r"(?i)\b(?:patients?|subjects?|participants?|adults?|women|woman|men|man|males?|females?|children|child|individuals?|"
    r"persons?|people|volunteers?|inpatients?|outpatients?|girls?|boys?|infants?|neonates?|newborns?|be|are|aged?|"
    r"sexes|genders?|adolescents?|students?|smokers?|mothers?|pregnant\s+women|healthy|population|cases?)\b[^.;:\d]{0,30}$")
_AGE_SUBJ_NEXT = re.compile(r"(?i)\b(?:patients?|subjects?|participants?|adults?|women|men|individuals?|persons?|people|"
                            r"volunteers?|children|aged?|ages)\s*$")
_AGE_WINDOW = re.compile(r"(?i)\b(?:within|past|last|previous|prior|preceding|since|for|during|duration|history|ago|after|"
                         r"before|diagnos\w*|treat\w*|therapy|follow\w*|exposure|smok\w*|use|using|taking|lasting|"
                         r"interval|period|survival|expectancy|symptoms?|onset|disease|pain|stable)\b")
_AGE_TIME = ("year", "month", "week", "day", "hour", "minute")


# Numeric extractors share one scan per clause: ``find_quantities`` is cached by text, and every
# numeric extractor (age, performance, life expectancy, labs) records the spans of the comparisons
# it consumed here, keyed by the clause text, so that ``_measurements`` skips exactly those spans
# (rather than every comparison that happens to have the same value). A handful of clauses are
# kept (the current one and the few texts derived from it); entries are deterministic per text.
_CONSUMED: dict[str, set[tuple[int, int]]] = {}
_CONSUMED_MAX = 16
_LETTER = re.compile(r"[A-Za-z]")
_AGE_JOIN = re.compile(r"(?i)\s*(?:,|;)?\s*(?:or|and|to|but)?\s*")


_AGE_CUE_RIGHT_BEFORE = re.compile(r"(?i)\b(?:aged?|ages)\s*(?:of\s+|:\s*|between\s+|from\s+)?$")
_WINDOW_CUE_BEFORE = re.compile(r"(?i)\b(?:within|past|last|previous|prior|for|since|during|after|before)\b[^.;]{0,20}$")


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


def _age_quantities(t: str) -> list:
    """The comparisons of ``t`` that are ages (see :mod:`trialmatch.criteria.quantities`)."""
    out = []
    for q in find_quantities(t):
        if q.op == "+/-" or q.unit is not None or (q.time_unit not in _AGE_TIME and q.time_unit is not None):
            continue
        before = t[max(0, q.start - 45):q.start]
        if q.window and not (_AGE_CUE_RIGHT_BEFORE.search(before) and not _WINDOW_CUE_BEFORE.search(before)):
            continue  # "aged 55 to 74 years from the NEDICES study" is an age, "within 5 years from" is not
        lead = _LETTER.search(t, 0, q.start) is None
        tu = q.time_unit
        prev = out[-1] if out else None
        if q.age_cue or _AGE_BEFORE.search(before):
            ok = True
        elif tu == "year" and (lead or _AGE_SUBJ.search(before)) and not _AGE_WINDOW.search(before[-30:]):
            ok = True
        elif tu is None and _AGE_SUBJ_NEXT.search(before):
            ok = True
        elif prev is not None and _AGE_JOIN.fullmatch(t, prev.end, q.start) and tu in (None, prev.time_unit):
            ok = True  # "age ≥18 years and ≤ 70 years", "<18 or >65"
        else:
            ok = False
        if not ok:
            continue
        if to_years(q.value_high if q.value_high is not None else q.value, tu) > 130:
            continue
        out.append(q)
    return out


# every branch of _AGE_GATE holds one of these (lower case): a substring test keeps the regex off most clauses
_AGE_GATE_WORDS = ("age", "old", "year", "yo", "y.o", "y/o", "yr", "adult", "child", "infant", "neonat", "newborn",
                   "younger")
_AGE_SUBJ_SYMBOLS = ("<", ">", "≤", "≥", "＜", "＞")


def _age_gate(t: str) -> bool:
    """Could ``t`` state an age? (``_AGE_GATE``, or a person compared with a number: "patients <18")."""
    tl = t.lower()
    for w in _AGE_GATE_WORDS:
        if w in tl:
            if _AGE_GATE.search(t) is not None:
                return True
            break
    for c in _AGE_SUBJ_SYMBOLS:
        if c in t:
            return _AGE_SUBJ_CMP.search(t) is not None
    return False


def _age(t: str) -> list:
    """Age comparisons: one ``Age`` per comparison as written ("≥ 18 and ≤ 65 years" gives two,
    joined by ``AllOf``; "< 18 or > 65" by ``AnyOf`` since both cannot hold at once)."""
    if not _age_gate(t):
        return []
    atoms: list = []
    for q in _age_quantities(t):
        tu = q.time_unit or "year"
        written = None if tu == "year" else tu
        if q.op == "between":
            if q.value >= q.value_high:
                continue
            _consume(t, q.start, q.end)
            a = Age(years=Range(low=to_years(q.value, tu), high=to_years(q.value_high, tu)), unit_as_written=written)
        else:
            a = _age_op(q.op, to_years(q.value, tu))
            a.unit_as_written = written
            _consume(t, q.start, q.end)
        if a not in atoms:
            atoms.append(a)
    if len(atoms) <= 1:
        return atoms
    lo = max((a.years.low for a in atoms if a.years.low is not None), default=None)
    hi = min((a.years.high for a in atoms if a.years.high is not None), default=None)
    if lo is not None and hi is not None and lo > hi:
        return [AnyOf(items=atoms)]
    return [AllOf(items=atoms)]


def _age_op(op: str, v: float) -> Age:
    if op == ">=":
        return Age(years=Range(low=v))
    if op == ">":
        return Age(years=Range(low=v, low_inclusive=False))
    if op == "<=":
        return Age(years=Range(high=v))
    if op == "<":
        return Age(years=Range(high=v, high_inclusive=False))
    return Age(years=Range(low=v, high=v))


_MEN_OR_MENO_WOMEN = re.compile(
    r"(?i)\b(?:men|males?)\b\s*,?\s*(?:or|and|and/or)\s+(?P<m1>pre|peri|post)-?\s?menopausal\s+(?:women|females?)\b|"
    r"\b(?P<m2>pre|peri|post)-?\s?menopausal\s+(?:women|females?)\s*,?\s*(?:or|and|and/or)\s+(?:men|males?)\b")


def _men_or_menopausal_women(t: str) -> list:
    """"Men, or postmenopausal women": men, or women of that menopausal status (both may join)."""
    m = _MEN_OR_MENO_WOMEN.search(t)
    if not m:
        return []
    status = (m.group("m1") or m.group("m2")).lower() + "menopausal"
    return [AnyOf(items=[Sex(allowed=["male"]),
                         AllOf(items=[Sex(allowed=["female"]), MenopausalStatus(allowed=[status])])])]


_NONPREG = (r"(?:non-?\s?pregnant|not\s+pregnant|non-?\s?lactating|non-?\s?nursing|non-?\s?breast-?\s?feeding|"
            r"not\s+(?:breast-?\s?feeding|lactating|nursing))")
_WOMEN_NP = rf"(?:{_NONPREG}\s*(?:,|and/or|and|or|/)?\s*)+(?:women|females?|female\s+(?:patients|subjects))"
_NONPREG_RE = re.compile(rf"(?i){_NONPREG}")
_WOMEN_NP_RE = re.compile(rf"(?i)\b{_WOMEN_NP}\b")
_MEN_OR_NP_WOMEN = re.compile(
    rf"(?i)\b(?:men|males?)\s*,?\s*(?:or|and|and/or|&|/)\s+{_WOMEN_NP}\b|\b{_WOMEN_NP}\s*,?\s*(?:or|and|and/or|&|/)\s+(?:men|males?)\b")
_BOTH_SEXES = re.compile(
    r"(?i)\b(?:males?|men)\s*(?:and/or|and|or|&|/)\s*(?:females?|women)\b|\b(?:females?|women)\s*(?:and/or|and|or|&|/)\s*"
    r"(?:males?|men)\b|\b(?:both|either|all|any)\s+(?:sexes|sex|genders?)\b")


def _not_pregnant_atoms(t: str) -> list:
    """"non-pregnant, non-lactating": NOT pregnant, NOT breastfeeding (what the words negate)."""
    out = []
    for m in _NONPREG_RE.finditer(t):
        state = "pregnant" if "pregnan" in m.group(0).lower() else "breastfeeding"
        atom = Not(item=Pregnancy(state=state))
        if atom not in out:
            out.append(atom)
    return out


def _men_or_nonpregnant_women(t: str, kind: str) -> list:
    """"Men or non-pregnant, non-lactating women": male, or female and not pregnant and not breastfeeding;
    "Non-pregnant women": female, not pregnant. Inclusions only (the words describe who may join)."""
    if kind != "inclusion":
        return []
    np_ = _not_pregnant_atoms(t)
    if not np_:
        return []
    if _MEN_OR_NP_WOMEN.search(t):
        return [AnyOf(items=[Sex(allowed=["male"]), AllOf(items=[Sex(allowed=["female"]), *np_])])]
    if _WOMEN_NP_RE.search(t) and not _BOTH_SEXES.search(t):
        return [Sex(allowed=["female"]), *np_]
    return []


# a criterion that is only a sex ("Males.", "Male patients", "Are females"): she is that sex, whatever its kind
_BARE_SEX = re.compile(r"(?i)^\W*(?:(?:gender|sex)\s*:\s*)?(?:(?:are|is|be|was|were)\s+(?:an?\s+)?)?(?:(?P<m>males?|men|man)|(?P<f>females?|women|woman))"
                       r"(?:\s+(?:patients?|subjects?|participants?|only))?(?:\s*[,(]\s*as\s+no\b[^;]*)?\W*$")


def _sex(t: str, kind: str) -> list:
    if _BOTH_SEXES.search(t):
        return [Sex(allowed=["female", "male"])]
    bm = _BARE_SEX.match(t)
    if bm:
        return [Sex(allowed=["male"] if bm.group("m") else ["female"])]
    if kind != "inclusion":
        return []
    if re.search(r"(?i)(?:^|\b(?:be|aged?\b[^.;]{0,25}|years?(?: or older| old)?,?)\s*(?:an?\s+)?)(?:female|women|woman)\b(?!\s+(?:of|who|with))", t) \
            or re.match(r"(?i)\s*(?:female|women|woman)s?\b", t):
        if not re.search(r"(?i)child-?bearing|potential|pregnan|contracep", t):
            return [Sex(allowed=["female"])]
    if re.search(r"(?i)(?:^|\bbe\s+(?:an?\s+)?|\baged?\b[^.;]{0,25})(?:male|men|man)\b", t) or re.match(r"(?i)\s*males?\b", t):
        return [Sex(allowed=["male"])]
    return []


def _menopause(t: str, kind: str) -> list:
    out = []
    pre = _any(r"\bpre-?menopaus", t)
    peri = _any(r"\bperi-?menopaus", t)
    post = _any(r"\bpost-?menopaus|\bmenopausal\b(?!\s+status)|\bmenopause\b", t) and not _any(r"\b(?:pre|peri)-?menopausal\b", t) or _any(r"\bpost-?menopaus", t)
    ofs = _any(r"ovarian (?:function )?suppress|suppressed ovarian|ovariectomy|oophorectomy|ovarian ablation|gnrh|lhrh|goserelin|leuprolide|leuprorelin|triptorelin", t)
    young = [s for s, f in (("premenopausal", pre), ("perimenopausal", peri)) if f]
    if young and ofs and post and _any(
            r"(?:pre|peri)-?menopausal[^.;]{0,60}?\b(?:with|receiving|on|under|treated with|using|who (?:are|is) "
            r"(?:receiving|on)|must (?:have|receive|be on)|if (?:on|receiving|treated with))\b[^.;]{0,40}?"
            r"(?:ovarian|ofs|gnrh|lhrh|goserelin|leupro|triptorelin|oophor|ovariectom)", t):
        # "Postmenopausal, or premenopausal/perimenopausal with ovarian function suppression"
        out = [AnyOf(items=[MenopausalStatus(allowed=["postmenopausal"]),
                            AllOf(items=[MenopausalStatus(allowed=young), OvarianSuppression()])])]
    elif young and ofs and _any(r"have (?:taken|received|undergone)|must (?:have|receive|be on|undergo)|receiving|should", t):
        out = [IfThen(condition=MenopausalStatus(allowed=young), then=OvarianSuppression())]
    else:
        allowed = [s for s, f in (("premenopausal", pre), ("perimenopausal", peri), ("postmenopausal", post)) if f]
        if allowed:
            out.append(MenopausalStatus(allowed=allowed))
        if ofs:
            out.append(OvarianSuppression())
        if len(out) == 2 and _any(r"\bor\b", t):
            out = [AnyOf(items=out)]
    if out and _any(r"\b(?:women|females?|female patients)\s+(?:must|should|need to|have to|are required to)\b", t) \
            and _any(r"\b(?:men|males?)\b", t):
        # "Women or men ...; women must be postmenopausal or ...": the requirement is on the women only
        return [IfThen(condition=Sex(allowed=["female"]), then=_all(out))]
    return out


def _pregnancy(t: str, kind: str) -> list:
    out = []
    if kind == "inclusion" and _NONPREG_RE.search(t):
        return _not_pregnant_atoms(t) + (
            [Not(item=Pregnancy(state="pregnant"))] if _any(r"negative (?:serum |urine |blood )?pregnancy test", t)
            and not _any(r"non-?\s?pregnant|not\s+pregnant", t) else [])
    if _any(r"negative (?:serum |urine |blood |beta[- ]?hcg |β-?hcg )?pregnancy test|not (?:be )?pregnant", t):
        if kind != "inclusion":
            return []
        out = [Not(item=Pregnancy(state="pregnant"))]
        if _any(r"not (?:be )?pregnant,? (?:or|nor|and|and/or) (?:be )?(?:breast-?\s?feeding|lactating|nursing)", t):
            out.append(Not(item=Pregnancy(state="breastfeeding")))  # "must not be pregnant or breastfeeding"
        return out
    if _any(r"\bpositive\s+(?:serum\s+|urine\s+|urinary\s+|blood\s+|beta[- ]?hcg\s+|β-?hcg\s+)*(?:or\s+(?:serum|urine)\s+)?pregnancy\s+test", t) \
            and not _any(r"confirm|must be|followed by|repeat", t):
        out.append(Pregnancy(state="pregnant"))  # "positive urine pregnancy test": she is pregnant
        if _any(r"breast-?\s?feeding|lactating|lactation|nursing", t):
            out.append(Pregnancy(state="breastfeeding"))
        return out
    if _any(r"\bpregnan(?:t|cy)\b", t) and not _any(r"avoid|prevent|contracep|potential|test", t):
        out.append(Pregnancy(state="pregnant"))
    if _any(r"breast-?\s?feeding|lactating|lactation|nursing", t):
        out.append(Pregnancy(state="breastfeeding"))
    return out


def _performance(t: str) -> list:
    """Performance status; a value outside its scale (ECOG/WHO 0-5, Karnofsky/Lansky 0-100) is not one
    ("probing depth (PS) > 6 mm")."""
    out = _performance_as_written(t)
    for a in out:
        top = 100.0 if a.scale in ("karnofsky", "lansky") else 5.0
        if any(v is not None and (v > top or v < 0) for v in (a.range.low, a.range.high)):
            return []
    return out


def _performance_as_written(t: str) -> list:
    m = re.search(r"\b((?i:ecog|zubrod|karnofsky|kps|lansky|performance status|performance score)|WHO|PS)\b", t)
    if not m:
        return []
    word = m.group(1).lower()
    scale = {"ecog": "ecog", "who": "who", "zubrod": "ecog", "karnofsky": "karnofsky", "kps": "karnofsky",
             "lansky": "lansky"}.get(word, "ecog")
    if scale == "ecog" and _any(r"karnofsky|\bkps\b", t):
        scale = "karnofsky"
    rest = t[m.end():m.end() + 90]
    rest = re.sub(r"\((?:ECOG|PS|KPS|WHO|[A-Z]{2,5})\)", "", rest)
    rest = re.sub(r"(?<=[<>])\s+=", "=", rest)  # "> = 4"
    rest = re.sub(r"(?i)performance\s+status|performance\s+score|scores?\b|scales?\b|grades?\b|of\b|is\b|:|must be|should be|\bbe\b", " ", rest)
    rng = re.search(r"(\d{1,3})\s*%?\s*(?:-|–|~|to|through)\s*(\d{1,3})", rest)
    if rng and not re.match(r"\s*(?:≥|>|≤|<)", rest):
        lo, hi = float(rng.group(1)), float(rng.group(2))
        if lo <= hi:
            return [PerformanceStatus(scale=scale, range=Range(low=lo, high=hi))]
    ors = re.match(r"\s*(\d)\s*(?:,\s*\d\s*)*(?:,?\s*or\s*|\s*/\s*|\s*and\s*)(\d)\b", rest)
    if ors:
        vals = [float(x) for x in re.findall(r"\d", ors.group(0))]
        return [PerformanceStatus(scale=scale, range=Range(low=min(vals), high=max(vals)))]
    om = re.search(r"(" + _OP_ANY + r")\s*(\d{1,3})", rest, re.IGNORECASE)
    if om:
        op = _op(om.group(1))
        v = float(om.group(2))
        if op in (">=", ">"):
            return [PerformanceStatus(scale=scale, range=Range(low=v, low_inclusive=op == ">="))]
        if op in ("<=", "<"):
            # "ECOG ≤ 2" is an upper bound as written (the scale starts at 0 anyway)
            return [PerformanceStatus(scale=scale, range=Range(high=v, high_inclusive=op == "<="))]
    om = re.search(r"(\d{1,3})\s*%?\s*or\s*(?:less|lower|below|better)", rest)
    if om:
        return [PerformanceStatus(scale=scale, range=Range(low=0, high=float(om.group(1))))]
    om = re.search(r"(\d{1,3})\s*%?\s*or\s*(?:more|higher|greater|above)", rest)
    if om:
        return [PerformanceStatus(scale=scale, range=Range(low=float(om.group(1))))]
    om = re.match(r"\s*(\d{1,3})\b", rest)
    if om:
        v = float(om.group(1))
        return [PerformanceStatus(scale=scale, range=Range(low=v, high=v))]
    return []


def _life_expectancy(t: str) -> list:
    """"life expectancy ≥ 12 weeks" -> LifeExpectancy(12 weeks); "life expectancy < 3 months"
    -> Not(LifeExpectancy(3 months)) (the predicate stays "she is expected to live at least ...")."""
    m = re.search(r"(?i)life expectancy|expectancy of (?:life|survival)|expected (?:life[- ]?time|lifetime)|expected survival|estimated (?:patient )?survival|survival expectancy|expected to (?:live|survive)|predicted survival|prognosis", t)
    if not m:
        return []
    rest = t[m.end():m.end() + 80]
    for q in find_quantities(t):  # the clause's own scan (cached), not a second one of ``rest``
        if q.start < m.end() or q.start >= m.end() + 80:
            continue
        if q.time_unit not in ("day", "week", "month", "year") or q.op in ("+/-", "between"):
            continue
        if q.op == "<=" and t[q.start:q.start + 6].lower() == "within" and len(t[m.end():q.start].strip()) > 8:
            continue  # "within" far from the phrase is another window ("... and no surgery within 4 weeks")
        _consume(t, q.start, q.end)
        dur = Duration(value=q.value, unit=q.time_unit)
        if q.op in ("<", "<="):
            return [Not(item=LifeExpectancy(minimum=dur, strict=q.op == "<="))]
        return [LifeExpectancy(minimum=dur, strict=q.op == ">")]
    q2 = re.search(r"(?i)(?:of|is|:)\s*" + NUM + r"\s*" + TIME, rest)
    if q2:
        return [LifeExpectancy(minimum=_dur(q2.group(1), q2.group(2)))]
    return []


_RECEPTOR_PATTERNS = [
    (r"triple[ -]negative|\btnbc\b", [("ER", "negative"), ("PR", "negative"), ("HER2", "negative")]),
    (r"hormone[ -]receptors?[ -](?:\(hr\)[ -])?(?:high[ -]expressed|high expression|highly expressed)|hr[ -]high", [("HR", "high")]),
    (r"hormone[ -]receptors?[ -](?:\(hr\)[ -])?(?:-|\s)?positive|\bhr\s*(?:\+|-?\s?positive)|\bhr\+|er\s*(?:and|/)\s*/?(?:or\s*)?pr[ -]?positive|er\+?\s*(?:and/or|/|or)\s*pr\+|hormone[- ]sensitive", [("HR", "positive")]),
    (r"hormone[ -]receptors?[ -](?:\(hr\)[ -])?(?:-|\s)?negative|\bhr\s*(?:-\s?negative|negative)\b|\bhr-(?=[\s,/;)]|$)", [("HR", "negative")]),
    (r"(?:estrogen|oestrogen)[ -]receptor[ -](?:\(er\)[ -])?(?:-|\s)?positive|\ber\s*(?:\+|-?\s?positive)|\ber\+|\ber-?pos\b", [("ER", "positive")]),
    (r"(?:estrogen|oestrogen)[ -]receptor[ -](?:\(er\)[ -])?(?:-|\s)?negative|\ber\s*-?\s?negative|\ber-(?=[\s,/;)]|$)", [("ER", "negative")]),
    (r"progesterone[ -]receptor[ -](?:\(pr\)[ -])?(?:-|\s)?positive|\bpr\s*(?:\+|-?\s?positive)\b|\bpgr[ -]?positive", [("PR", "positive")]),
    (r"progesterone[ -]receptor[ -](?:\(pr\)[ -])?(?:-|\s)?negative|\bpr\s*-?\s?negative\b", [("PR", "negative")]),
    (r"her-?2[ -]?(?:-|\s)?(?:negative|non-?amplified|not amplified|normal)|her-?2[ /-]?neu[ -]?negative|her2\s*-(?=[\s,/;)]|$)|human epidermal growth factor receptor[ -]?2[ -](?:\(her2\)[ -])?negative|her2/neu[ -]negative", [("HER2", "negative")]),
    (r"her-?2[ -]?(?:-|\s)?(?:positive|amplified|overexpress\w*)|her2\s*\+(?!\d)|human epidermal growth factor receptor[ -]?2[ -](?:\(her2\)[ -])?positive|her2/neu[ -]positive", [("HER2", "positive")]),
    (r"her-?2[ -]?low", [("HER2", "low")]),
    (r"androgen[ -]receptor[ -](?:\(ar\)[ -])?(?:-|\s)?positive|\bar\s*(?:\+|-?\s?positive)", [("AR", "positive")]),
]
_RECEPTOR_RES = [(re.compile(p, re.IGNORECASE), v) for p, v in _RECEPTOR_PATTERNS]


# every receptor pattern below needs one of these words: clauses without them skip the 11 searches
# The gate: any of these words (substrings, case-insensitive: "oestrogen" holds "estrogen", "her-2" is
# written both ways) or one of the short acronyms, the only part that needs a regex. ``_receptor_gate`` tests
# the words as substrings first (``_may_match``), which is faster; ``_RECEPTOR_GATE`` is both as one regex
_RECEPTOR_GATE_WORDS = ("triple", "tnbc", "hormone", "estrogen", "progesterone", "pgr", "her2", "her-2",
                        "human epidermal", "androgen receptor", "androgen-receptor")
_RECEPTOR_GATE_SHORT_PATTERN = r"\b(?:hr|er|pr)(?:\W|$|p|n)|hr[ -]high|\bar\s*(?:\+|-?\s?positive)|pr[ -]?positive|pr\+"
_RECEPTOR_GATE_SHORT = re.compile(_RECEPTOR_GATE_SHORT_PATTERN, re.IGNORECASE)
_RECEPTOR_GATE = re.compile("|".join(map(re.escape, _RECEPTOR_GATE_WORDS)) + "|" + _RECEPTOR_GATE_SHORT_PATTERN,
                            re.IGNORECASE)


def _receptor_gate(t: str) -> bool:
    """``_RECEPTOR_GATE.search(t) is not None``, faster."""
    if folded_text(t) is None:  # text the word test cannot rule out (see _may_match): the whole gate
        return _RECEPTOR_GATE.search(t) is not None
    return _may_match(t, _RECEPTOR_GATE_WORDS) or _RECEPTOR_GATE_SHORT.search(t) is not None


# "Hormone receptor status known", "ER and PR status determined before registration": tested, either result
_RECEPTOR_STATUS_KNOWN = re.compile(
    r"(?i)\b(?:receptors?|her-?2(?:/neu)?|\ber|\bpr)\b[^.;]{0,25}?\bstatus\b[\s,]*(?:must\s+be\s+|is\s+|was\s+)?"
    r"(?:known|determined|documented|available|assessed)\b")
# "HER2/neu overexpression", "Must overexpress HER-2 gene", "Documented ErbB2 overexpression": HER2-positive
_HER2_OVEREXPRESSED = re.compile(
    r"(?i)\b(?:her-?\s?2(?:/neu)?|erb-?b-?2|c-?erbb-?2)\b[\s-]*(?:gene\s+|protein\s+|receptor\s+)?"
    r"(?:over-?\s?expression|over-?\s?expressing|over-?\s?expressed|amplification|gene\s+amplification|positivity)\b|"
    r"\bover-?\s?express(?:es|ing|ion)?\s+(?:of\s+)?(?:the\s+)?(?:her-?\s?2|erb-?b-?2)\b")


def _receptors(t: str) -> list:
    if _HER2_OVEREXPRESSED.search(t) and not _any(r"\bnot\s+required\b|\bno\s+(?:her|erb)|\bnon-?over|\bwithout\b", t) \
            and not _any(r"\bnegative\b|\blow\b|\bihc\b|\b[0-3]\+", t):
        return [Receptor(receptor="HER2", status="positive")]
    if not _receptor_gate(t):
        return []
    out: list = []
    seen = set()
    if _any(r"\bknown\b[^.;]{0,40}(?:receptors?|her-?2)[^.;]{0,20}status", t) or _RECEPTOR_STATUS_KNOWN.search(t):
        if _any(r"estrogen|oestrogen|\ber\b", t) and _any(r"progesterone|\bpr\b", t) or _any(r"hormone receptor", t):
            out.append(Receptor(receptor="HR", status="known"))
        elif _any(r"estrogen|oestrogen|\ber\b", t):
            out.append(Receptor(receptor="ER", status="known"))
        elif _any(r"progesterone|\bpr\b", t):
            out.append(Receptor(receptor="PR", status="known"))
        if _any(r"her-?2", t):
            out.append(Receptor(receptor="HER2", status="known"))
        return out
    for rx, vals in _RECEPTOR_RES:
        m = rx.search(t)
        if not m:
            continue
        for rec, status in vals:
            if (rec, status) in seen or (rec == "HR" and status == "positive" and ("HR", "high") in seen):
                continue
            seen.add((rec, status))
            extra: dict[str, Any] = {}
            pm = re.search(r"(?i)(?:at least|≥|>=|>|more than)\s*(\d+(?:\.\d+)?)\s*%", t[m.start():m.end() + 80])
            if pm and rec in ("ER", "PR", "HR") and status in ("positive", "high"):
                extra["min_percent"] = float(pm.group(1))
            out.append(Receptor(receptor=rec, status=status, **extra))
    if _ER_OR_PR_POS.search(t) and any(r.receptor in ("ER", "PR") and r.status == "positive" for r in out):
        # "ER-positive and/or PR-positive": either receptor positive, i.e. hormone receptor-positive
        pct = next((r.min_percent for r in out if r.min_percent is not None), None)
        out = [r for r in out if not (r.receptor in ("ER", "PR") and r.status == "positive")]
        if not any(r.receptor == "HR" and r.status in ("positive", "high") for r in out):
            out.insert(0, Receptor(receptor="HR", status="positive", min_percent=pct))
    ihc = [x for lst in _IHC_LIST.findall(t) for x in re.findall(r"[0-3]\+?", lst)]
    if ihc and _any(r"her-?2", t):
        scores = []
        for s in ihc:
            s = s if s.endswith("+") or s == "0" else s + "+"
            if s in ("0", "1+", "2+", "3+") and s not in scores:
                scores.append(s)
        ish = None
        if _any(r"(?:ish|fish|sish|cish)[ -]?(?:negative|non-?amplified|-)|(?:negative|non-?amplified|not amplified)\s+"
                r"(?:by\s+)?(?:in[ -]situ hybridi[sz]ation|ish|fish|sish|cish)\b", t):
            ish = "negative"
        elif _any(r"(?:ish|fish|sish|cish)[ -]?(?:positive|amplified|\+)|\b(?:positive|amplified)\s+(?:by\s+)?"
                  r"(?:in[ -]situ hybridi[sz]ation|ish|fish|sish|cish)\b", t):
            ish = "positive"
        status = next((r.status for r in out if r.receptor == "HER2"), None)
        out = [r for r in out if r.receptor != "HER2"]
        sset = set(scores)
        if status is None:
            status = "positive" if sset <= {"3+"} or ish == "positive" else ("negative" if sset <= {"0", "1+"} else "low")
        if ish == "negative" and "2+" in sset and len(sset) > 1 and \
                (status == "negative" and sset == {"0", "1+", "2+"} or status == "low" and sset == {"1+", "2+"}):
            # "IHC 0 or 1+, or IHC 2+ with negative ISH" / "IHC 1+, or 2+ and ISH-negative": the standard
            # definition of HER2-negative / HER2-low itself (the ISH result applies to 2+ only)
            out.append(Receptor(receptor="HER2", status=status))
        elif ish == "positive" and sset == {"3+"}:  # "IHC 3+ or ISH-positive": HER2-positive
            out.append(Receptor(receptor="HER2", status="positive"))
        elif ish is not None and "2+" in sset and len(sset) > 1:
            # the ISH result qualifies the 2+ score only
            rest = [x for x in scores if x != "2+"]
            out.append(AnyOf(items=[Receptor(receptor="HER2", status=status, her2_ihc=rest),
                                    Receptor(receptor="HER2", status=status, her2_ihc=["2+"], ish=ish)]))
        else:
            out.append(Receptor(receptor="HER2", status=status, her2_ihc=scores, ish=ish))
    return out


_ER_OR_PR_POS = re.compile(
    r"(?i)\b(?:er|estrogen receptor|oestrogen receptor)[ -]?(?:\(er\)[ -]?)?(?:\+|positive|pos)\s*(?:,\s*)?"
    r"(?:and/or|or|/)\s*(?:pr|pgr|progesterone receptor)[ -]?(?:\(pr\)[ -]?)?(?:\+|positive|pos)\b")
# "IHC 0 or 1+", "IHC 1+/2+", "IHC score of 2+": every score written after one "IHC"
_IHC_LIST = re.compile(r"(?i)ihc\s*(?:score\s*(?:of\s*)?)?((?:[0-3]\+?)(?:\s*(?:,|or|and|/|-|to)\s*[0-3]\+?(?![\d.]))*)")


_GENES = r"ESR1|PIK3CA|BRCA1/2|BRCA1|BRCA2|BRCA|PALB2|AKT1|PTEN|TP53|EGFR|ALK|ROS1|KRAS|NRAS|BRAF|HER2|ERBB2|MET|RET|NTRK|FGFR[1-4]?|IDH1|IDH2|MSI-H|dMMR|ATM|CHEK2|CDH1|NF1|RB1|CCND1"


_GENES_RE = re.compile(r"(?<![\w-])(" + _GENES + r")(?![\w])")
# Speed: the gene names alone, a plain case-sensitive alternation that ``re`` scans for quickly (a set of
# first letters); every match of ``_GENES_RE`` holds one, so a clause without any skips the full pattern
_GENES_ANY = re.compile(_GENES)


def _genes(t: str) -> list:
    out = []
    if _GENES_ANY.search(t) is None:
        return out
    for m in _GENES_RE.finditer(t):
        gene = m.group(1)
        ctx = t[max(0, m.start() - 40):m.end() + 60]
        if gene in ("HER2", "ERBB2") and not _any(r"mutat", ctx):
            continue
        if gene == "EGFR" and _any(r"\begfr\b\s*(?:≥|>|<|≤|of|\d)|glomerular|ml/min", ctx):
            continue
        status = None
        if _any(r"mutat|variant|alteration|pathogenic|deleterious|carrier", ctx):
            status = "mutated"
        elif _any(r"amplif", ctx):
            status = "amplified"
        elif _any(r"fusion|rearrange|translocation", ctx):
            status = "fusion"
        elif _any(r"wild[- ]?type", ctx):
            status = "wildtype"
        if status is None:
            continue
        sources = []
        ctx = t[max(0, m.start() - 40):m.end() + 120]  # "mutation (e.g. E542K, ...) in tumour tissue or ctDNA"
        if _any(r"ctdna|circulating tumou?r dna|liquid biopsy|plasma", ctx):
            sources.append("ctdna")
        if _any(r"\bblood\b", ctx) and "ctdna" not in sources:
            sources.append("blood")
        if _any(r"germline", ctx):
            sources.append("germline")
        if _any(r"tissue|tumou?r sample|biopsy", ctx):
            sources.append("tissue")
        genes = ["BRCA1", "BRCA2"] if gene in ("BRCA1/2", "BRCA") else [gene]
        for g in genes:
            if not any(isinstance(a, GeneAlteration) and a.gene == g for a in out):
                out.append(GeneAlteration(gene=g, status=status, sources=sources))
    return out


_EXTENT = [
    (r"locally advanced|spread locally", "locally_advanced"),
    (r"\bmetasta(?:tic|ses|sis|sized)\b|\bmbc\b|\bstage\s*(?:iv|Ⅳ|4)\b|spread (?:locally or )?to other parts|distant (?:disease|metasta)", "metastatic"),
    (r"(?<!locally )\badvanced\b|\babc\b", "advanced"),
    (r"\brecurren(?:t|ce)\b|\brelapsed\b", "recurrent"),
    (r"\binoperable\b|\bunresectable\b|not amenable to (?:curative )?(?:surgery|resection)", "inoperable"),
    (r"\bearly(?:[- ]stage)?\b(?= breast| cancer| disease)", "early"),
]
# precompiled, each behind the substrings its pattern cannot match without (on the lower-cased text)
_EXTENT_RES = [(re.compile(p, re.IGNORECASE), v, g) for (p, v), g in zip(_EXTENT, (
    ("locally", "spread"), ("metasta", "mbc", "stage", "spread", "distant"), ("advanced", "abc"),
    ("recurren", "relapsed"), ("inoperable", "unresectable", "not amenable"), ("early",)))]
_OTHER_CANCER_RE = re.compile(
    r"other (?:active |primary )*(?:malignan|cancer|tumou?r)|second (?:primary )?malignan|prior malignan|previous malignan|"
    r"another (?:primary )?(?:malignan|cancer)|history of (?:a )?(?:malignan|cancer)|other active cancers?", re.IGNORECASE)
_STAGE_RANGE = re.compile(r"(?i)\bstage\s*(iv|iii|ii|i|[1-4])([abc])?\s*(?:-|–|to|through)\s*(?:stage\s*)?(iv|iii|ii|i|[1-4])([abc])?\b")
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_STAGE_LIST = re.compile(r"(?i)\bstage\s*((?:iv|iii|ii|i|[1-4])[abc]?(?:\s*(?:,\s*(?:or|and)?|or|and|/|and/or)\s*(?:stage\s*)?"
                         r"(?:iv|iii|ii|i|[1-4])[abc]?\b)+)")
_STAGE_RE = re.compile(r"(?i)\bstage\s*((?:iv|iii|ii|i|Ⅳ|Ⅲ|[1-4])[abc]?)\b")


def _has_any(tl: str, needles) -> bool:
    for n in needles:
        if n in tl:
            return True
    return False


_CANCER_WORDS = (r"(?:cancers?|myeloma|lymphomas?|leuka?emias?|malignanc(?:y|ies)|tumou?rs?|carcinomas?|melanomas?|"
                 r"sarcomas?|gliomas?|glioblastomas?|neoplasms?|neoplastic|mds|cll|aml|all|cml)")
# a cancer named as the target of a therapy ("anti-myeloma therapy", "treatment for lymphoma"): the
# criterion is about the therapy (PriorTherapy / RecentEvent), not a diagnosis of that cancer
_THERAPY_FOR = re.compile(
    r"(?i)\banti-?\s?(?:[\w]+-)?" + _CANCER_WORDS + r"\b|\b(?:therapy|therapies|treatments?|regimens?|agents?|drugs?|"
    r"medications?|chemotherapy|chemotherapies|radiotherapy|radiation(?:\s+therapy)?|surgery)\s+(?:for|of|against|to treat)\s+"
    r"(?:the\s+|his\s+|her\s+|their\s+)?(?:[\w/-]+\s+){0,4}?" + _CANCER_WORDS + r"\b")
_THERAPY_FOR_GATE = ("anti", "therap", "treatment", "regimen", "agent", "drug", "medication", "radiation", "surgery")


def _diagnosis(t: str, kind: str) -> list:
    out = []
    tl = t.lower()
    if "free" in tl:
        t = _rx(r"[\w ]{0,20}cancer[- ]free").sub(" ", t)
        tl = t.lower()
    if _has_any(tl, _THERAPY_FOR_GATE) and _THERAPY_FOR.search(t):
        t = _THERAPY_FOR.sub(" ", t)
        tl = t.lower()
    rx = vocab_regexes()
    cancers = [h for h in vocab_find(rx["cancer"], t)
               if h[0] not in ("non_melanoma_skin_cancer", "cervical_carcinoma_in_situ", "stage_i_uterine_cancer",
                               "carcinoma_in_situ")]
    if _has_any(tl, ("malignan", "cancer", "tumo")) and _OTHER_CANCER_RE.search(t):
        return []
    if cancers and cancers[0][0] == "bilateral_breast_cancer":
        # "Bilateral (synchronous) breast cancer": a breast cancer in both breasts, not any breast cancer;
        # the record states it as a condition (the diagnosis model has no laterality): conditions.json
        # maps it, so it compiles to Condition(bilateral_breast_cancer) in _conditions
        return []
    if cancers:
        key = cancers[0][0]
        hist = [h[0] for h in vocab_find(rx["histology"], t) if h[0] != "triple_negative"]
        confirmed = None
        h = _any(r"histolog|patholog", t)
        c = _any(r"cytolog", t)
        if h and c:
            confirmed = "histology_or_cytology"
        elif h:
            confirmed = "histology"
        elif c:
            confirmed = "cytology"
        out.append(Diagnosis(cancer_type=key, histology=hist, confirmed_by=confirmed))
    stage_hit = _STAGE_RE.findall(t) if "stage" in tl else []
    allowed = []
    for rxx, val, gate in _EXTENT_RES:
        if _has_any(tl, gate) and rxx.search(t) and val not in allowed:
            if val == "metastatic" and _any(r"brain metasta|liver metasta|bone metasta|cns metasta|metastases? (?:to|in) the brain|poorly controlled|leptomening", t) and not cancers:
                continue
            allowed.append(val)
    if "locally_advanced" in allowed and "advanced" in allowed:
        allowed.remove("advanced")
    rng = _STAGE_RANGE.search(t) if stage_hit else None
    if rng:
        # "stage I-III", "stage II to IIIA": every stage in the range, the ends as written
        order = ["I", "II", "III", "IV"]
        lo, hi = (_ROMAN.get(g.upper(), g.upper()) for g in (rng.group(1), rng.group(3)))
        if lo in order and hi in order and order.index(lo) < order.index(hi):
            mid = order[order.index(lo) + 1:order.index(hi)]
            hi_l = (rng.group(4) or "").upper()
            his = [hi + x for x in "ABC"[:"ABC".index(hi_l) + 1]] if hi_l else [hi]  # "2-3B": IIIA and IIIB
            stage_hit = [lo + (rng.group(2) or "").upper()] + mid + his + \
                [x for x in stage_hit if x.upper() not in (rng.group(1).upper() + (rng.group(2) or "").upper(),)]
    sl = _STAGE_LIST.search(t) if stage_hit and not rng else None
    if sl:  # "Stage IIIB, IIIC, or IV": each stage listed
        stage_hit = re.findall(r"(?i)(?:iv|iii|ii|i|[1-4])[abc]?", re.sub(r"(?i)\b(?:stage|or|and)\b", " ", sl.group(1)))
    bare_stage = bool(stage_hit) and re.match(r"(?i)^\W*(?:(?:clinical|pathologic(?:al)?|ajcc)\s+)?stages?\b", t) is not None
    if (cancers or bare_stage or ((allowed or rng) and _any(r"disease|cancer|tumou?r|carcinoma|malignan|stage|has spread|spread", t))) \
            and (allowed or stage_hit):
        stages = []
        for s in stage_hit:
            s = s.upper().replace("Ⅳ", "IV").replace("Ⅲ", "III")
            s = {"4": "IV", "3": "III", "2": "II", "1": "I"}.get(s, s)
            if s not in stages:
                stages.append(s)
        if stages and "IV" in stages and "metastatic" not in allowed:
            allowed.append("metastatic")
        if not (kind == "exclusion" and not cancers):
            out.append(DiseaseExtent(allowed=allowed, stages=stages))
    return out


# "<sites> metastases" and "metastases to <site>" (groups 1, 2), then the wordings without "metasta"
# (groups 3, 4)
_METS_WITH_METASTA = (
    r"\b((?:(?!metasta)[\w-]+\s+){0,2}(?!metasta)[\w-]+(?:\s*(?:,|and|or|and/or|/)\s*(?!metasta)[\w-]+){0,2})\s+"
    r"(?:\(\s*[A-Za-z]{2,6}\s*\)\s+)?"
    r"metasta(?:ses|sis|tic disease)|metasta(?:ses|sis|tic disease)\s+(?:to|in|of)\s+(?:the\s+)?(\w+(?:\s+\w+){0,2})")
_METS_WITHOUT_METASTA = (
    r"\b(leptomeningeal|CNS|brain|central\s+nervous\s+system)\s+(?:\(\s*CNS\s*\)\s+)?(?:disease|involvement|lesions?|spread)|"
    r"\bspread\s+to\s+the\s+(brain|liver|bones?|lungs?|central\s+nervous\s+system)\b")
_METS_RE = re.compile(r"(?i)" + _METS_WITH_METASTA + "|" + _METS_WITHOUT_METASTA)
_METS_AS_TARGET = re.compile(r"(?i)\b(?:management|treatment|prevention|palliation|control|treat|treating|prevent)\s+"
                             r"(?:of\s+)?(?:the\s+)?(?:\w+\s+)?$")
_METS_GAP = re.compile(r"(?i)\s*(?:(?:,|and|or|and/or|/)\s*)*(?:\(\s*[A-Za-z]{2,6}\s*\))?\s*")


# Speed: ``_METS_RE`` for a clause without "metasta": its first two alternatives cannot match (the first
# tries up to five words at every word of the clause), so they become ``(?!)()`` (never match, same group numbers)
_METS_NO_METASTA_RE = re.compile(r"(?i)(?!)()|(?!)()|" + _METS_WITHOUT_METASTA)


def _metastasis(t: str) -> list:
    out = []
    rx = vocab_regexes()
    for m in (_METS_RE if _may_match(t, ("metasta",)) else _METS_NO_METASTA_RE).finditer(t):
        phrase = m.group(1) or m.group(2) or m.group(3) or m.group(4) or ""
        hits = vocab_find(rx["site"], phrase)
        if m.group(1):
            # the sites must be what qualifies "metastases" ("central nervous system (CNS) metastases",
            # "bone and brain metastases"), not a word further back ("bone pain from metastases")
            if not hits or not _METS_GAP.fullmatch(phrase[hits[-1][2]:]):
                continue
            run = [hits[-1]]
            for h in reversed(hits[:-1]):  # the sites listed right before it ("bone, liver or lung")
                if not _METS_GAP.fullmatch(phrase[h[2]:run[0][1]]):
                    break
                run.insert(0, h)
            hits = run
        elif m.group(2):
            hits = hits[:1] if hits and not phrase[:hits[0][1]].strip() else []
        sites = [h[0] for h in hits]
        if not sites:
            continue
        pos = (m.start(1) + hits[0][1]) if m.group(1) else m.start()
        if _METS_AS_TARGET.search(t[max(0, pos - 50):pos]):
            continue  # "antagonists permitted for the management of bone metastases": a therapy's purpose
        after = re.split(r"(?i)\s(?:or|and|and/or)\s+(?=(?:\w+\s+)?(?:leptomening|meningeal|carcinomatos|[\w-]+\s+metasta))|;",
                         t[m.end():m.end() + 80], maxsplit=1)[0]
        ctx = t[max(0, m.start() - 60):m.end()] + after
        quals = _qualifiers(ctx, {"active", "untreated", "unstable", "symptomatic", "progressing", "uncontrolled", "leptomeningeal"})
        only = _any(r"\bonly\b", t[max(0, m.start() - 20):m.end() + 10])
        for site in sites:
            if not any(isinstance(x, Metastasis) and x.site == site for a in out for x in iter_atoms(a)):
                allow = _METS_ALLOW.search(t, m.start()) if site in ("brain", "cns", "leptomeningeal") else None
                if allow is None and site in ("brain", "cns", "leptomeningeal") and \
                        re.search(r"(?i)\b(?:unless|except|provided)\b", t[m.end():]):
                    out.append(Unsupported(reason="brain metastases with an exception that is not modelled"))
                    continue
                if allow is not None:
                    # "no CNS metastases unless treated and stable", "... or previously treated and now stable
                    # CNS metastases": only active (untreated, unstable, progressing) ones count
                    atom = Metastasis(site=site, qualifiers=quals or ["active"], only=only)
                    out.append(Not(item=atom) if _METS_ELIGIBLE_IF.search(t) else atom)
                else:
                    out.append(Metastasis(site=site, qualifiers=quals, only=only))
    for m in re.finditer(r"(?i)\b(bone|visceral)[- ]only\b", t):
        site = m.group(1).lower()
        if not any(isinstance(a, Metastasis) and a.site == site for a in out):
            out.append(Metastasis(site=site, only=True))
    return out


# an allowance for treated, stable brain metastases after the mention ("unless treated and stable", "or
# previously treated and now stable CNS metastases", "if asymptomatic")
_METS_ALLOW = re.compile(
    r"(?i)\b(?:unless|except|or|if|provided(?:\s+that)?|as long as|but)\b[^.;]{0,60}?\b(?:(?<!un)treated|stable|"
    r"controlled|asymptomatic|inactive|clinically stable)\b")
# "Patients with brain metastases are eligible if ...": a permission with a condition, i.e. none that are active
_METS_ELIGIBLE_IF = re.compile(r"(?i)\b(?:are|is|will be|may be)\s+(?:eligible|allowed|permitted|included)\b[^.;]{0,20}?"
                               r"\b(?:if|provided|as long as|when)\b")


def _measurable(t: str) -> list:
    if _any(r"measurable|evaluable|recist", t) and _any(r"lesion|disease|recist|tumou?r", t):
        if _any(r"recist", t) and not _any(r"measurable|evaluable", t):
            return []
        std = "RECIST 1.1" if _any(r"recist", t) else "any"  # not None: to_dict drops None and the default is RECIST
        return [MeasurableDisease(standard=std, allow_bone_only_evaluable=_any(r"evaluable|bone[- ]only", t))]
    return []


def _other_malignancy(t: str) -> list:
    if not _any(r"other (?:active |primary |invasive )*(?:malignan|cancers?|tumou?rs?|invasive)|second (?:primary )?(?:malignan|cancer)|prior malignan|previous malignan|another (?:primary )?(?:malignan|cancer)|history of (?:a |any )?(?:other )?(?:malignan|cancer)|concurrent malignan|additional malignan|malignancies? (?:other than|within)", t):
        return []
    within = None
    m = re.search(r"(?i)(?:within|in)\s+(?:the\s+)?(?:last|past|previous|prior)?\s*" + NUM + r"\s*" + TIME, t) or \
        re.search(r"(?i)" + NUM + r"\s*" + TIME + r"\s*(?:prior|before)", t)
    if m:
        within = _dur(m.group(1), m.group(2))
    exc = []
    em = re.search(r"(?i)\b(?:except|excluding|other than|with the exception of|unless|apart from|but not|with)\b", t)
    if em:
        for key, _, _ in vocab_find(vocab_regexes()["cancer"], t[em.start():] if em else t):
            if key != "breast_cancer" and key not in exc:
                exc.append(key)
        for key, _, _ in vocab_find(vocab_regexes()["cancer"], t):
            if key in ("non_melanoma_skin_cancer", "cervical_carcinoma_in_situ", "stage_i_uterine_cancer", "dcis",
                       "carcinoma_in_situ") and key not in exc:
                exc.append(key)
    active = _any(r"\bactive\b|requir(?:ing|es?) (?:active )?treatment|currently (?:being )?treated|under treatment|"
                  r"needs? (?:active )?treatment|needing (?:active )?treatment|receiving treatment", t)
    return [OtherMalignancy(within=within, exceptions=exc, active_only=active)]


def _labs(t: str) -> list:
    """Lab thresholds, with shared comparisons ("ALT and AST ≤ 2.5 × ULN"), conditionals
    ("(≤5×ULN if has liver metastasis)") and "or" alternatives (AnyOf)."""
    avocab = analyte_vocabulary()
    mentions = _analyte_mentions(t)
    if not mentions:
        return []
    groups: list[list[tuple[str, int, int]]] = []
    for mt in mentions:
        if groups:
            between = t[groups[-1][-1][2]:mt[1]]
            between_clean = re.sub(r"\([^)]*\)", "", between)
            if re.fullmatch(r"[\s,/&()]*(?:and|or|and/or|,|/)?[\s,/&()]*", between_clean, re.IGNORECASE) or not between_clean.strip():
                groups[-1].append(mt)
                continue
        groups.append([mt])
    results: list[tuple[list, int, int]] = []  # (atoms, start, end)
    clause_qs = find_quantities(t)  # one scan of the clause, shared by its segments
    for gi, grp in enumerate(groups):
        start = grp[-1][2]
        end = groups[gi + 1][0][1] if gi + 1 < len(groups) else len(t)
        seg = t[start:end]
        comps = _comparisons(seg, _shift_quantities(clause_qs, start, end))
        if not comps:
            bare = _bare_comparison(t, grp, start, clause_qs)
            if bare is None:
                continue
            comps = [bare]
        base, cond = comps[0], None
        for c in comps[1:]:
            if c.get("condition") is not None:
                cond = c
                break
        extra, how = _more_comparisons(seg, comps)
        atoms = []
        seen_keys = []
        for key, _, _ in grp:
            if key in seen_keys:
                continue
            seen_keys.append(key)
            a = _lab_atom(key, base, avocab)
            if a is None:
                continue
            if cond is not None:
                a2 = _lab_atom(key, cond, avocab)
                if a2 is not None:
                    a = IfThen(condition=cond["condition"], then=a2, otherwise=a)
            elif extra:
                more = [x for x in (_lab_atom(key, c, avocab) for c in extra) if x is not None]
                if more:
                    a = _join_comparisons([a] + more, how)
            if base.get("pair") is not None and key in _BP_KEYS:
                seen_keys.extend(_BP_KEYS)  # "systolic/diastolic BP > 140/90": one pair
            atoms.append(a)
        if atoms:
            results.append((atoms, grp[0][1], end))
            for c in _lab_consumed(seg, comps, base, cond, extra if cond is None else []):
                _consume(t, start + c["start"], start + c["end"])
    if not results:
        return []
    # alternatives: "Cr ≤ 1.5 × ULN or creatinine clearance ≥ 60 mL/min"
    out: list = []
    i = 0
    while i < len(results):
        atoms, s, e = results[i]
        if i + 1 < len(results):
            nxt_atoms, ns, ne = results[i + 1]
            link = t[max(s, ns - 40):ns]
            seg_before = t[s:ns]
            if re.search(r"(?i)(?:^|[\s,;)])or\s*(?:a\s+|an\s+|the\s+|calculated\s+|measured\s+)?$", link) and not re.search(r";", seg_before):
                alt = AnyOf(items=[_all(atoms), _all(nxt_atoms)])
                out.append(alt)
                i += 2
                continue
        out.extend(atoms)
        i += 1
    return out


_RESTATEMENT_OPEN = re.compile(r"\(\s*$")


def _bare_comparison(t: str, grp: list, start: int, clause_qs) -> dict | None:
    """A value written with no operator right after an analyte or score name ("Gleason score 7",
    "PSA 20 ng/ml", "ASA status 1,2"), as an "==" comparison (a list of scores: "between"),
    relative to ``start``. Not a name in brackets right after another comparison: "Hb ≥ 10 g/dL
    (Hct 32%)" restates the threshold, it adds no requirement."""
    q = bare_value(t, start)
    if q is None:
        return None
    ms = grp[0][1]
    if _RESTATEMENT_OPEN.search(t, max(0, ms - 3), ms) and any(0 <= ms - x.end <= 4 for x in clause_qs):
        return None
    if any(x.start < q.end and q.start < x.end for x in clause_qs):
        return None  # part of a comparison read otherwise ("gestational age 35 to 39 weeks": a range of times)
    op = q.op
    if op == "==":  # "heart failure greater than NYHA 2": the operator is written before the name
        op = operator_before(t, ms) or op
    c: dict[str, Any] = {"op": op, "start": q.start - start, "end": q.end - start, "condition": None,
                         "value": q.value, "unit": q.unit}
    if q.op == "between":
        c["value_high"] = q.value_high
    return c


def _shift_quantities(qs, start: int, end: int) -> list:
    """The quantities of a clause lying within ``[start, end)``, with spans relative to ``start``."""
    if not qs:
        return []
    from dataclasses import replace

    return [replace(q, start=q.start - start, end=q.end - start, num_start=q.num_start - start)
            for q in qs if q.start >= start and q.end <= end]


def _lab_consumed(seg: str, comps: list[dict], base: dict, cond: dict | None, extra: list[dict]) -> list[dict]:
    """The comparisons of a lab segment that its atoms stand for: the first one, the conditional
    one, the ones joined to it, and restatements right after them ("≥ 1500/µL (1.5 × 10^9/L)")."""
    used = [base] + ([cond] if cond is not None else []) + list(extra)
    last = max(used, key=lambda c: c["end"])
    out = list(used)
    for c in comps:
        if c["start"] < last["end"] or any(c is u for u in used):
            continue
        between = seg[last["end"]:c["start"]]
        if len(between) <= 20 and _CMP_RESTATED.match(between) or \
                (c["op"] == last["op"] and c.get("value") == last.get("value") and len(between) <= 6):
            out.append(c)
            last = c
            continue
        break
    return out


def _all(items: list):
    return items[0] if len(items) == 1 else AllOf(items=items)


_CMP_RESTATED = re.compile(r"(?i)\s*[(\[]\s*(?:or\s+|i\.?e\.?,?\s*|=\s*|equivalent\s+to\s+)?$")
_CMP_GLUE = re.compile(r"(?i)\([^)]*\)|\[[^\]]*\]?|\b(?:and/or|and|or|but|in|for|(?:fe)?males?|women|men|patients|"
                       r"subjects|respectively)\b|[\s,;:/\[\]()]")
_CMP_SEX = re.compile(r"(?i)[^<>≤≥\d]{0,12}?\b(?:(?P<f>females?|women|woman)|(?P<m>males?|men|man))\b")


def _more_comparisons(seg: str, comps: list[dict]) -> tuple[list[dict], str]:
    """Comparisons after the first one of a lab segment that apply to the same analyte:
    "BMI ≥ 18.5 and ≤ 27.5" (``how="and"``), "BMI < 20 or > 35" ("or"), "HDL < 50 in females,
    < 40 mg/dL in males" ("sex"). Only comparisons joined by and/or/commas and sex qualifiers
    are taken; a restatement in brackets ("1500/µL (1.5 × 10^9/L)") and conditionals are not."""
    out: list[dict] = []
    prev = comps[0]
    how = "and"
    for c in comps[1:]:
        if c.get("condition") is not None:
            break
        between = seg[prev["end"]:c["start"]]
        if len(between) > 40 or _CMP_GLUE.sub("", between):
            break
        if _CMP_RESTATED.match(between) or (c["op"] == prev["op"] and c.get("value") == prev.get("value")):
            prev = c
            continue
        if re.search(r"(?i)\bor\b", between):
            how = "or"
        elif _CMP_SEX.match(between) and how != "or":
            how = "sex"
        out.append(c)
        prev = c
    if how == "sex":
        sexes = [(_CMP_SEX.match(seg, c["end"], c["end"] + 25) or None) for c in [comps[0]] + out]
        kinds = ["f" if m and m.group("f") else "m" if m else None for m in sexes]
        if len(out) != 1 or sorted(k or "" for k in kinds) != ["f", "m"]:
            how = "or"  # sex-specific thresholds that cannot be paired: either holds
        else:
            how = "sex_f_first" if kinds[0] == "f" else "sex_m_first"
    return out, how


def _join_comparisons(atoms: list, how: str):
    """Atoms for one analyte's comparisons joined as written (see :func:`_more_comparisons`)."""
    if how == "or":
        return AnyOf(items=atoms)
    if how.startswith("sex_"):
        f, m = (atoms[0], atoms[1]) if how == "sex_f_first" else (atoms[1], atoms[0])
        return IfThen(condition=Sex(allowed=["female"]), then=f, otherwise=m)
    return AllOf(items=atoms)


_ANALYTE_RE_CACHE: dict = {}


def _analyte_regex():
    """(regex, phrase -> analyte key, compact phrase -> key) over the analyte vocabulary.

    Long names match case-insensitively, names of three letters or fewer only in capitals (or
    from a short case-insensitive list: "Hb", "Cr", ...). The alternation is a prefix tree
    (``rules._trie_regex``, the builder of the other vocabulary regexes): a flat alternation of
    ~250 names costs ~250 attempts at every position of every clause.
    """
    if "rx" not in _ANALYTE_RE_CACHE:
        from trialmatch.criteria.rules import _trie_regex

        d = load_json("analytes.json")
        names: dict[str, str] = {}
        short: dict[str, str] = {}
        for key, entry in d["analytes"].items():
            for syn in entry.get("synonyms", []):
                (short if len(syn) <= 3 else names).setdefault(syn.lower(), key)
        for key, syns in d.get("scores", {}).items():
            for syn in syns:
                (short if len(syn) <= 3 else names).setdefault(syn.lower(), "score:" + key)
        ci_short = ("hb", "hgb", "cr", "ef", "plt", "anc", "wbc", "alt", "ast", "bmi", "inr", "asa", "psa", "alp", "ldh",
                    "tsh", "fsh", "bun", "gfr", "egfr", "crcl", "upcr", "nyha", "fev1", "ahi", "iop", "sbp", "dbp")
        # longest first; equal lengths in a fixed order (a set's varies with the hash seed)
        long_body = _trie_regex(sorted(set(names) | set(ci_short), key=lambda n: (-len(n), n)), fold=True)
        short_body = _trie_regex(sorted({n.upper() for n in short}, key=lambda n: (-len(n), n)), fold=False)
        _ANALYTE_RE_CACHE["rx"] = re.compile(r"(?<![\w])(?:(?i:" + long_body + r")|" + short_body + r")(?![\w])")
        # its two halves, for _analyte_finditer: the case-insensitive names (folded: faster) and the capitals
        _ANALYTE_RE_CACHE["long"] = FoldedPattern(re.compile(r"(?<![\w])(?:" + long_body + r")(?![\w])", re.IGNORECASE))
        _ANALYTE_RE_CACHE["short"] = re.compile(r"(?<![\w])(?:" + short_body + r")(?![\w])")
        all_names = {**names, **short}
        _ANALYTE_RE_CACHE["names"] = all_names
        compact: dict[str, str] = {}
        for n, k in all_names.items():
            compact.setdefault(_ANALYTE_SEP.sub("", n), k)
        _ANALYTE_RE_CACHE["compact"] = compact
    return _ANALYTE_RE_CACHE["rx"], _ANALYTE_RE_CACHE["names"]


_ANALYTE_SEP = _SEP_RUN = re.compile(r"[\s-]+")
_ANALYTE_EGFR_NOT_LAB = re.compile(r"(?i)mutat|tki|inhibitor")
_DIGIT = re.compile(r"\d")


def _analyte_finditer(t: str):
    """The matches of the analyte regex (``_analyte_regex``) in ``t``, the same ones, faster.

    That regex is one alternation, case-insensitive names first, then names in capitals, so at
    each position a name of the first half wins; ``finditer`` takes the leftmost match, then goes
    on after it. Done here with the two halves apart: the first half can then run as a
    ``FoldedPattern`` (about twice as fast as the mixed-case regex). Each half's next match is
    looked for again only once the previous match has gone past it.
    """
    long_rx, short_rx = _ANALYTE_RE_CACHE["long"], _ANALYTE_RE_CACHE["short"]
    a, b = long_rx.search(t), short_rx.search(t)
    while a is not None or b is not None:
        m = a if b is None or (a is not None and a.start() <= b.start()) else b
        yield m
        pos = m.end()
        if a is not None and a.start() < pos:
            a = long_rx.search(t, pos)
        if b is not None and b.start() < pos:
            b = short_rx.search(t, pos)


_RATIO_SEP = re.compile(r"\s*(?::|/|(?<![a-z])-?to-?(?![a-z]))\s*")
_RATIO_AFTER = re.compile(r"(?i)(?:\s*(?:/|:|-?to-?|\s)\s*[A-Za-z][\w-]*){0,2}?[\s-]*(?:ratio|quotient)\b")


def _analyte_mentions(t: str) -> list[tuple[str, int, int]]:
    _rx, names = _analyte_regex()
    compact = _ANALYTE_RE_CACHE["compact"]
    out = []
    for m in _analyte_finditer(t):
        low = m.group(0).lower()
        key = names.get(_ANALYTE_SEP.sub(" ", low)) or names.get(low) or names.get(_ANALYTE_SEP.sub("-", low)) \
            or compact.get(_ANALYTE_SEP.sub("", low))
        if key is None:
            continue
        if key == "egfr" and _ANALYTE_EGFR_NOT_LAB.search(t, m.end(), m.end() + 30):
            continue
        if key == "alcohol" and not _DIGIT.search(t, m.end(), m.end() + 40):
            continue
        rm = _RATIO_AFTER.match(t, m.end()) if "ratio" not in low else None
        if rm is not None:
            # "free-to-total PSA ratio", "albumin/creatinine ratio": a ratio of the analyte, not the analyte; the
            # ratio itself when the vocabulary names it as written here ("urine protein:creatinine ratio")
            whole = _RATIO_SEP.sub("/", t[m.start():rm.end()].lower())
            rkey = names.get(_ANALYTE_SEP.sub(" ", whole)) or compact.get(_ANALYTE_SEP.sub("", whole))
            if rkey is not None:
                out.append((rkey, m.start(), rm.end()))
            continue
        out.append((key, m.start(), m.end()))
    return out


_ULN = r"(?:\s*(?:x|×|\*|times|fold|-fold)\s*)?(?:the\s+)?(?:institutional\s+|upper\s+)?(?:uln|upper limits? of (?:the )?normal(?: range| limit)?|upper normal limit|normal upper limit|the upper limit|n\b|institutional upper limit of normal)"
_LLN = r"(?:\s*(?:x|×|times)\s*)?(?:the\s+)?(?:lln|lower limits? of (?:the )?normal)"
_CMP_RE = re.compile(
    r"(?P<op>" + _OP_ANY + r")\s*(?:than\s*)?(?P<num>\d+(?:[.,]\d+)*)(?P<tail>[^;,()]{0,30})",
    re.IGNORECASE,
)


_ULN_AFTER = re.compile(r"(?i)\s*(?:" + _ULN + r"|(?:x|×|\*|times|fold|-fold)\s*(?:the\s+)?(?:maximum\s+|upper\s+)?"
                        r"normal(?:\s+(?:value|level|limit))?\b(?!\s+(?:range|limits?\s+of)))")
_LLN_AFTER = re.compile(r"(?i)\s*" + _LLN)


def _comparisons(seg: str, qs=None) -> list[dict]:
    """Comparisons in a lab segment: [{op, value, unit | uln | lln, condition}] (from
    :func:`~trialmatch.criteria.quantities.find_quantities`; ranges give ``op="between"``).
    ``qs``: the segment's quantities when the caller already has them (spans relative to ``seg``)."""
    out = []
    for q in (find_quantities(seg) if qs is None else qs):
        if q.window or q.op in ("+/-", "==") or q.time_unit in ("day", "week", "month", "year"):
            continue
        c: dict[str, Any] = {"op": q.op, "start": q.start, "end": q.end}
        if q.pair is not None:
            c["pair"] = q.pair
        after_num = seg[q.end if q.unit_text else q.num_start:]
        tail = seg[q.end:q.end + 60]
        if q.unit_text is None and (_ULN_AFTER.match(tail)):
            c["uln"] = q.value
        elif q.unit_text is None and _LLN_AFTER.match(tail):
            c["lln"] = q.value
        else:
            c["value"], c["unit"] = q.value, q.unit
            if q.op == "between":
                c["value_high"] = q.value_high
        del after_num
        after = seg[q.end:q.end + 60]
        if re.search(r"(?i)\b(?:if|in case of|for patients with|in patients with|in the presence of|with|when)\b[^;)]{0,20}(?:liver|hepatic)\s+(?:metasta|involvement)", after[:50]):
            c["condition"] = Metastasis(site="liver")
        elif re.search(r"(?i)\b(?:if|in case of|for patients with|in patients with|in the presence of|with)\b[^;)]{0,20}bone\s+metasta", after[:50]):
            c["condition"] = Metastasis(site="bone")
        elif re.search(r"(?i)gilbert", after[:60]):
            c["condition"] = Condition(condition="gilbert_syndrome")
        else:
            c["condition"] = None
        if q.op == "between" and ("uln" in c or "lln" in c):
            continue
        out.append(c)
    if not out and re.search(r"(?i)within (?:the )?normal (?:limits|range)|\bnormal\b", seg[:40]):
        out.append({"op": "<=", "uln": 1.0, "condition": None, "normal": True})
    return out


_MEAS_STOP = {"a", "an", "the", "of", "with", "is", "are", "was", "be", "must", "should", "have", "has", "had", "and",
              "or", "her", "his", "their", "patients", "patient", "subjects", "subject", "participants", "in", "on",
              "at", "by", "as", "to", "for", "if", "who", "which", "that", "than", "value", "level", "levels", "defined",
              "measured", "e.g", "i.e", "eg", "ie", "x", "will", "need", "needs", "require", "requires", "having"}
_MEAS_SKIP_UNITS = re.compile(r"(?i)^(?:mg|mcg|µg|μg|ug|g|grams?|iu|units?|mg/kg|mg/day|mg/d|mg/m2|mg/m²|ug/kg|mcg/kg|"
                              r"g/day|g/d|mg/m\*\*2|milligram.*|microgram.*|gram)$")
_MEAS_DOSE_WORDS = re.compile(r"(?i)\b(?:dose|doses|dosage|daily|mg(?!-)|prednisone|steroids?|corticosteroids?|equivalent|"
                              r"lines?|cycles?|regimens?|courses?|episodes?|times|prior|previous|sessions?|visits?|"
                              r"metastases|fractions?|gy|grade|stage|type|"
                              r"phase|version|criteria|items?|questions?|days?|weeks?|months?|years?)\b")
_MEAS_COUNT_AFTER = re.compile(r"\s*(?:[a-z][a-z-]+)", re.IGNORECASE)
_MEAS_UNITLESS_OK_AFTER = re.compile(r"(?i)\s*(?:points?|score|class|level|on\b|in\b|at\b|for\b|and\b|or\b|with\b|"
                                     r"if\b|when\b|during\b|prior\b|before\b|after\b|as\b|by\b|according\b|"
                                     r"within\b|per\b|/|\)|,|;|\.|[；，。]|$|"
                                     r"\((?!\s*(?:one|two|three|four|five|six|seven|eight|nine|ten)\b))")


_MEAS_COLON_END = re.compile(r"(?<=[A-Za-z0-9)\]])\s*:\s*$")  # "Serum HDL-C: <50 mg/dl": the name is before the colon
_MEAS_PLURAL = re.compile(r"(?<=[A-Za-z])\((?:e?s)\)")  # "lesion(s)"


def _measurement_name(t: str, start: int, floor: int) -> str | None:
    """The observation named right before a comparison ("BMI", "systolic blood pressure", "MMSE score")."""
    before = _MEAS_PLURAL.sub("", _MEAS_COLON_END.sub(" ", t[floor:start]))
    before = re.split(r"[;:(\[\n]|\.\s|,\s|\b(?:or|and|with|who|which|if)\s+(?=\S)", before)[-1]
    words = re.findall(r"[A-Za-z][A-Za-z0-9'+-]*", before)
    while words and words[-1].lower() in _MEAS_STOP:
        words.pop()
    words = words[-4:]
    while words and words[0].lower() in _MEAS_STOP:
        words.pop(0)
    if not words:
        return None
    name = " ".join(w.lower() for w in words)
    if len(name) < 2:
        return None
    return name


_MEAS_AFTER = re.compile(r"\s*(?:of\s+)?((?:[A-Za-z][A-Za-z0-9'+-]*\s*){1,3})")


def _measurement_name_after(t: str, q, floor: int) -> str | None:
    """The name of a comparison written before it ("≥ 5 ppm carbon monoxide") when nothing
    names it before, else the words before an opening bracket ("lymphadenopathy (>1.5 cm)")."""
    before = t[floor:q.start]
    last = re.split(r"[;:(\[\n]|\.\s|,\s", before)[-1]
    if q.unit_text and all(w.lower() in _MEAS_STOP for w in re.findall(r"[A-Za-z][A-Za-z0-9'+-]*", last)):
        m = _MEAS_AFTER.match(t, q.end)
        if m:
            words = [w for w in m.group(1).split() if w.lower() not in _MEAS_STOP]
            cut = next((i for i, w in enumerate(m.group(1).split()) if w.lower() in _MEAS_STOP), None)
            if cut is not None:
                words = m.group(1).split()[:cut]
            if words and not _MEAS_DOSE_WORDS.search(" ".join(words)):
                return " ".join(w.lower() for w in words)
    k = before.rfind("(")
    if k > 0 and not re.search(r"[A-Za-z]", before[k + 1:]):
        return _measurement_name(t, floor + k, floor)
    return None


_PS_CUE = re.compile(r"(?i)\b(?:ecog|zubrod|karnofsky|kps|lansky|performance\s+(?:status|score)|who|ps)\b")
_SPAN_KINDS = (Age, LabThreshold, LifeExpectancy, Measurement)  # their extractors record spans (_consume)


def _used_test(t: str, atoms: list):
    """A test: was this comparison of ``t`` compiled already by another extractor?

    Age, lab and life-expectancy extractors record the spans they consumed (:func:`_consume`); for
    the others the comparison must carry the atom's number in the atom's own terms: a receptor's
    percent ("at least 10% of cancer cells show positive ER staining"), a performance score
    written after its scale's name, a count of prior lines. Time windows and durations are never
    measurements anyway.
    """
    spans = _consumed(t)
    pct: set[float] = set()
    ps: set[float] = set()
    counts: set[float] = set()
    other: set[float] = set()
    ps_cues: list[int] = []
    ready = False

    def collect() -> None:  # only when a comparison is not covered by a recorded span
        nonlocal ready
        ready = True
        for a in iter_atoms(_all(atoms)) if atoms else ():
            _collect_values(a, pct, ps, counts, other)
        if ps:
            ps_cues.extend(m.end() for m in _PS_CUE.finditer(t))

    def used(q) -> bool:
        for s, e in spans:
            if s < q.end and q.start < e:
                return True
        if not atoms:
            return False
        if not ready:
            collect()
        vals = {round(q.value, 6)} | ({round(q.value_high, 6)} if q.value_high is not None else set())
        if pct and q.unit == "percent" and vals & pct:
            return True
        if ps and vals & ps and any(c <= q.start <= c + 90 for c in ps_cues):
            return True
        if counts and q.unit_text is None and vals & counts:
            return True
        return bool(other and vals & other)

    return used


@cache
def _number_fields(cls: type) -> tuple[str, ...]:
    """Which of "value", "value_high", "min_percent" an atom class may have. Speed: ``getattr(a, name, None)``
    on a pydantic model without that attribute goes through its ``__getattr__`` and an exception; for a
    model class without the field, the attribute or extra fields that name can only be None."""
    if not issubclass(cls, BaseModel) or cls.model_config.get("extra") == "allow":
        return ("value", "value_high", "min_percent")
    return tuple(f for f in ("value", "value_high", "min_percent") if f in cls.model_fields or hasattr(cls, f))


def _collect_values(a, pct: set, ps: set, counts: set, other: set) -> None:
    """The numbers of an atom whose extractor records no spans, by what they stand for."""
    if isinstance(a, _SPAN_KINDS):
        return
    if isinstance(a, Receptor):
        if a.min_percent is not None:
            pct.add(round(float(a.min_percent), 6))
    elif isinstance(a, PerformanceStatus):
        ps.update(round(float(v), 6) for v in (a.range.low, a.range.high) if v is not None)
    elif isinstance(a, PriorTherapy):
        if a.lines is not None and (a.lines.low, a.lines.high) != (1, None):
            counts.update(round(float(v), 6) for v in (a.lines.low, a.lines.high) if v is not None)
    else:  # any other atom with a number of its own
        for f in _number_fields(type(a)):
            v = getattr(a, f, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                other.add(round(float(v), 6))


def _measurements(t: str, atoms: list) -> list:
    """Numeric comparisons of ``t`` that no other extractor used, as ``Measurement`` atoms named by
    the words before them (scores, vitals and other observations outside the analyte vocabulary).

    Not taken: time windows and durations, drug doses (mass units, "dose"), counts ("at least 2
    prior lines": a bare number followed by a noun), and comparisons without a name before them.
    """
    if _DIGIT.search(t) is None:
        return []
    is_used = _used_test(t, atoms)
    out: list = []
    prev_end = 0
    last = None  # (quantity, Measurement index in out, name) of the previous measurement
    for q in find_quantities(t):
        floor = prev_end
        prev_end = q.end
        if is_used(q):
            continue
        if q.window or q.op == "+/-" or (q.time_unit is not None and q.time_unit not in ("second",)):
            if not (q.time_unit is not None and not q.window and _GESTATION.search(t, q.start, min(len(t), q.end + 30))
                    or _GESTATION_BEFORE.search(t[max(0, q.start - 30):q.start])) or q.op == "+/-":
                continue
            out.append(Measurement(name="gestational age", comparator="between" if q.op == "between" else q.op,
                                   value=q.value, value_high=q.value_high, unit=q.time_unit))
            continue
        if q.unit and _MEAS_SKIP_UNITS.match(q.unit):
            name = _measurement_name(t, q.start, floor)
            if not name or not ("weight" in name or re.search(r"(?i)\bratio\b", name)):
                continue  # a dose; a ratio in "mg/g" is a measurement ("albumin-to-creatinine ratio > 300 mg/g")
        if q.unit_text is None and q.time_unit is None and q.op != "+/-" and _GESTATIONAL_WEEKS_AFTER.match(t, q.end):
            # "≥ 33 gestational weeks", "from 13 to 32.6 gestational weeks"
            out.append(Measurement(name="gestational age", comparator="between" if q.op == "between" else q.op,
                                   value=q.value, value_high=q.value_high, unit="week"))
            continue
        if q.unit_text is None and q.pair is None and not _MEAS_UNITLESS_OK_AFTER.match(t[q.end:q.end + 12]):
            continue  # "at least 2 prior lines": a count
        joined = last is not None and len(t[last[0].end:q.start]) <= 40 and not _CMP_GLUE.sub("", t[last[0].end:q.start])
        name = last[2] if joined else (_measurement_name(t, q.start, floor) or _measurement_name_after(t, q, floor))
        if not name or _MEAS_DOSE_WORDS.search(name):
            continue
        unit = q.unit if q.time_unit is None else "s"
        cmp_ = "between" if q.op == "between" else q.op
        m = Measurement(name=name, comparator=cmp_, value=q.value, value_high=q.value_high, unit=unit)
        if q.pair is not None:  # "BP > 140/90": see _pair_atom
            bp = _any(r"\b(?:blood\s+pressure|bp|pa)\b", name)
            m2 = Measurement(name="diastolic blood pressure" if bp else name, comparator=cmp_, value=q.pair, unit=unit)
            if bp:
                m.name = "systolic blood pressure"
            m = AllOf(items=[m, m2]) if bp and q.op in ("<", "<=") else AnyOf(items=[m, m2])
        if joined:  # "BMI < 20 or > 35", "≥ 18.5 and ≤ 27.5": one name, joined as written
            between = t[last[0].end:q.start]
            how = "or" if re.search(r"(?i)\bor\b", between) else "and"
            if how == "and" and _CMP_SEX.match(between) and not last[3]:
                sx = [_CMP_SEX.match(t, e, min(len(t), e + 25)) for e in (last[0].end, q.end)]
                kinds = ["f" if x and x.group("f") else "m" if x else "" for x in sx]
                how = ("sex_f_first" if kinds[0] == "f" else "sex_m_first") if sorted(kinds) == ["f", "m"] else "or"
            prev_atom = out[last[1]]
            if how == "or" and isinstance(prev_atom, AnyOf) and last[3]:
                prev_atom.items.append(m)
            elif how == "and" and isinstance(prev_atom, AllOf) and last[3]:
                prev_atom.items.append(m)
            else:
                out[last[1]] = _join_comparisons([prev_atom, m], how)
            last = (q, last[1], name, True)
            continue
        out.append(m)
        last = (q, len(out) - 1, name, False)
    return out


_GESTATION = re.compile(r"(?i)\bgestation|\b(?:weeks?|wks?)\s+(?:of\s+)?(?:pregnancy|amenorrh)")
_GESTATIONAL_WEEKS_AFTER = re.compile(r"(?i)\s*(?:completed\s+)?gestational\s+(?:weeks?|wks?)\b")
_GESTATION_BEFORE = re.compile(r"(?i)\bgestation(?:al)?(?:\s+age)?\b[^.;:\d]{0,15}$")


def _lab_atom(key: str, c: dict, avocab: dict):
    if c.get("pair") is not None and "value" in c:
        return _pair_atom(key, c, avocab)
    if key.startswith("score:") or key not in avocab:
        name = key.split(":", 1)[-1]
        if "value" not in c:
            return None
        return Measurement(name=name, comparator=c["op"], value=c["value"], value_high=c.get("value_high"),
                           unit=c.get("unit"))
    if c.get("normal"):
        return None
    if c["op"] == "between":  # a lab range: a measurement of the analyte between two values
        return Measurement(name=key, comparator="between", value=c["value"], value_high=c.get("value_high"),
                           unit=c.get("unit"))
    kw: dict[str, Any] = {"analyte": key, "comparator": c["op"]}
    if "uln" in c:
        kw["uln_multiple"] = c["uln"]
    elif "lln" in c:
        kw["lln_multiple"] = c["lln"]
    else:
        kw["value"] = c["value"]
        kw["unit"] = c.get("unit")
    return LabThreshold(**kw)


_BP_KEYS = ("blood_pressure", "systolic_bp", "diastolic_bp")


def _pair_atom(key: str, c: dict, avocab: dict):
    """"BP > 140/90 mmHg": systolic > 140 or diastolic > 90 (above a pair, either is too high;
    below it, both must be: "< 140/90" -> systolic < 140 and diastolic < 90). Another pair
    under one operator ("waist > 89/102 cm", sex-specific) -> either value."""
    first = {k: v for k, v in c.items() if k != "pair"}
    second = {**first, "value": c["pair"]}
    if key in ("blood_pressure", "systolic_bp", "diastolic_bp") and "systolic_bp" in avocab and "diastolic_bp" in avocab:
        items = [_lab_atom("systolic_bp", first, avocab), _lab_atom("diastolic_bp", second, avocab)]
        return AllOf(items=items) if c["op"] in ("<", "<=") else AnyOf(items=items)
    return AnyOf(items=[_lab_atom(key, first, avocab), _lab_atom(key, second, avocab)])


_BONE_TARGETED = re.compile(r"(?i)\bbone[- ](?=targeted\b)")
_INHIBITOR_LIST = re.compile(
    r"(?i)\b((?:[A-Za-z][\w/-]{1,9}\s*,\s*)*[A-Za-z][\w/-]{1,9})(?:\s*,\s*|\s+)(?:or|and|and/or)\s+([A-Za-z][\w/-]{1,9})\s+"
    r"(inhibitors?|antagonists?|agonists?)\b")
_LIST_SKIP = {"any", "other", "prior", "previous", "with", "a", "an", "the", "of", "or", "and", "kinase", "receptor",
              "treatment", "therapy", "no", "including"}


_DOSE_ANCHOR = re.compile(
    r"(?i)\b((?:prior\s+to|before|preceding|after|following|from|of)\s+(?:the\s+)?(?:first|initial|1st|last|final)\s+"
    r"(?:dose|administration|infusion)s?\s+of\s+(?:the\s+)?)(?!study\b|trial\b|investigational\b|protocol\b)"
    r"[A-Za-z][\w-]*(?=\s*(?:[:;,.()]|$|\b(?:and|or|in|on|is|are|was|were|within|for)\b))")


def _agent_text(t: str) -> str:
    """``t`` as the agent search reads it: "bone-targeted agents" is not "targeted agents", and
    "PI3K, AKT or mTOR inhibitor" names three classes ("PI3K inhibitor, AKT inhibitor or mTOR inhibitor")."""
    if "bone" in t or "Bone" in t:
        t = _BONE_TARGETED.sub("bone_", t)
    if "dose" in t or "administration" in t or "infusion" in t:
        # "within 28 days prior to the first dose of cyclophosphamide": the study drug is the window's
        # anchor, not a prior therapy the patient must (not) have had
        t = _DOSE_ANCHOR.sub(lambda m: m.group(1) + "study drug", t)
    if "nhibitor" in t or "gonist" in t:
        def expand(m: re.Match) -> str:
            heads = [h.strip() for h in m.group(1).split(",")] + [m.group(2)]
            if any(h.lower() in _LIST_SKIP or len(re.findall(r"[A-Z0-9]", h)) < 2 for h in heads):
                return m.group(0)  # only target names ("PI3K", "mTOR", "EGFR"), not words ("aromatase")
            return ", ".join(f"{h} {m.group(3)}" for h in heads)
        t = _INHIBITOR_LIST.sub(expand, t)
    return t


# the regexes of _prior_therapy, compiled once (``re``'s own cache costs a lookup per call), each with the
# words every one of its matches holds (a cheap pre-check, ``_may_match``)
_LINES_RE = re.compile(
    r"(?i)(no more than|not more than|up to|at most|maximum of|≤|<=|fewer than|less than|at least|≥|>=|more than|>|exactly)?\s*"
    + NUM + r"\s*(?:or\s+(?:more|fewer|less)\s+)?(?:prior\s+|previous\s+|lines?\s+of\s+|line\s+of\s+)?(?:\w+\s+){0,3}?"
    r"(?:lines?|regimens?|courses?)\b")
_LINES_WORDS = ("line", "regimen", "course")
_LINES_THERAPY_RE = re.compile(
    r"(?i)(no more than|not more than|up to|at most|at least|more than)\s*" + NUM +
    r"\s+(?!(?:cycles?|courses?|doses?|days?|weeks?|months?|years?|infusions?|injections?)\b)"
    r"(?:\w+\s+){0,2}(?:chemotherap\w*|therap\w*|treatments?)")
_LINES_THERAPY_WORDS = ("more than", "up to", "at most", "at least")
_LINES_RANGE_RE = re.compile(r"(?i)\b" + NUM + r"\s*(?:or|to|-|–)\s*" + NUM + r"\s+(?:prior\s+|previous\s+)?(?:\w+\s+){0,2}?"
                             r"(?:lines?|regimens?)\b")
_MIN_DURATION_RE = re.compile(r"(?i)(?:at least|≥|>=|minimum of|more than|for)\s*" + NUM + r"\s*" + TIME +
                              r"\s*(?:of\s+)?(?:\w+\s+){0,3}?(?:therap|treatment|adjuvant|endocrine|hormon)")
_RELAPSE_WITHIN_RE = re.compile(r"(?i)(?:relapse|recurrence|progression)\s+(?:\w+\s+){0,2}within\s+" + NUM + r"\s*" + TIME +
                                r"\s*(?:after|of|from|following)")
_THERAPY_WITHIN_RE = re.compile(
    r"(?i)within\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME + r"|" + NUM + r"\s*" + TIME +
    r"\s*(?:prior to|before|of)\s+(?:the\s+)?(?:first|start|randomi|enrol|registration|day 1|study)")
_THERAPY_WITHIN_WORDS = ("within", "first", "start", "randomi", "enrol", "registration", "day 1", "study")
_EXCEPT_RE = re.compile(r"(?i)\(?\b(?:except|excluding|other than|with the exception of|apart from)\b(.*)")


def _prior_therapy(t: str, kind: str) -> list:
    rx = vocab_regexes()
    agents = []
    t_orig, t = t, _agent_text(t)
    for m in rx["agent"].finditer(t):
        folded = _SEP_RUN.sub(" ", m.group(0).lower())  # (computed once: it was written twice)
        key = rx["agent_names"][folded] if folded in rx["agent_names"] else rx["agent_names"].get(m.group(0).lower())
        if key and key not in agents:
            agents.append(key)
    # every acronym (AI, AIs, NSAI, TKI, ADC, ET, in capitals) holds "AI", "TKI", "ADC" or "ET": most clauses skip the scan
    for m in (rx["agent_acronyms"].finditer(t) if "AI" in t or "TKI" in t or "ADC" in t or "ET" in t else ()):
        key = {"AI": "aromatase_inhibitor", "AIS": "aromatase_inhibitor", "NSAI": "nonsteroidal_aromatase_inhibitor",
               "NSAIS": "nonsteroidal_aromatase_inhibitor", "TKI": "tyrosine_kinase_inhibitor", "TKIS": "tyrosine_kinase_inhibitor",
               "ADC": "antibody_drug_conjugate", "ADCS": "antibody_drug_conjugate", "ET": "endocrine_therapy"}[m.group(1).upper()]
        if key not in agents:
            agents.append(key)
    if _any(r"\b(?:systemic|anti-?cancer|antineoplastic|cancer)\s+(?:treatment|therapy|therapies|treatments)", t) and "systemic_therapy" not in agents:
        agents.append("systemic_therapy")
    if not agents and "anti" in t.lower() and _any(r"\banti-?\s?(?:[\w]+-)?" + _CANCER_WORDS + r"\s+(?:treatments?|therap\w*|agents?|"
                                                    r"drugs?|medications?|regimens?)\b", t):
        agents.append("systemic_therapy")  # "anti-myeloma therapy": systemic therapy against that cancer
    if _any(r"\bendocrine\b|\bhormon(?:e|al)\b", t) and not agents:
        agents.append("endocrine_therapy")
    if not agents:
        free = _free_text_agent(t)
        if free is None:
            return []
        agents.extend(free)
    else:
        gap = _agent_list_gap(t, rx)
        if gap is not None:
            if gap:
                # "prior interferon, rituximab or other monoclonal antibody": an item that is neither in the
                # vocabulary nor a drug name would be lost, and she would pass on it: not compiled
                return [Unsupported(reason=f"therapy not in the vocabulary: {gap[0]!r}")]
        for name in _listed_drug_names(t, rx):
            if name not in agents:
                agents.append(name)  # "bortezomib or tipifarnib": a drug-like name listed beside a known one
    if not _any(r"prior|previous|previously|received|receiv|treated|treatment|therapy|exposure|exposed|pretreated|resistan|refractory|progress|relapse|failure|failed|line|regimen|after|taken|use of|washout|discontinu|current|ongoing", t):
        return []
    settings: list[str] = []
    if _any(r"\bneo-?adjuvant", t):
        settings.append("neoadjuvant")
    if _any(r"(?<!neo)(?<!neo-)\badjuvant", t):
        settings.append("adjuvant")
    if _any(r"(?:for|in the|in)\s+(?:the\s+)?(?:locally\s+)?(?:advanced|metastatic|recurrent)(?:\s+or\s+metastatic)?\s+(?:disease|setting|breast|cancer|stage)|\bsalvage\b|metastatic setting|advanced setting|for advanced|first[- ]line|second[- ]line", t):
        settings.append("metastatic" if _any(r"metastatic", t) and not _any(r"advanced|salvage", t) else "advanced")
    kw: dict[str, Any] = {"agents": agents, "settings": settings or ["any"]}
    lm = (_LINES_RE.search(t) if _may_match(t, _LINES_WORDS) else None) or \
        (_LINES_THERAPY_RE.search(t) if _may_match(t, _LINES_THERAPY_WORDS) else None)
    rng_m = _LINES_RANGE_RE.search(t) if _may_match(t, _LINES_WORDS) else None
    if rng_m and _num(rng_m.group(1)) < _num(rng_m.group(2)):
        kw["lines"] = Range(low=_num(rng_m.group(1)), high=_num(rng_m.group(2)))  # "one or two prior lines"
        lm = None
    if lm:
        n = _num(lm.group(2))
        opw = (lm.group(1) or "").lower()
        tail = lm.group(0).lower()
        if opw in ("no more than", "not more than", "up to", "at most", "maximum of", "≤", "<=") or "or fewer" in tail or "or less" in tail:
            kw["lines"] = Range(low=0, high=n)
        elif opw in ("fewer than", "less than"):
            kw["lines"] = Range(low=0, high=n, high_inclusive=False)
        elif opw in ("at least", "≥", ">=") or "or more" in tail:
            kw["lines"] = Range(low=n)
        elif opw in ("more than", ">"):
            kw["lines"] = Range(low=n, low_inclusive=False)
        else:
            kw["lines"] = Range(low=n, high=n)
    dm = _MIN_DURATION_RE.search(t)
    if dm:
        kw["min_duration"] = _dur(dm.group(1), dm.group(2))
    if _any(r"progress|resistan|refractory|failure|failed|relapse|recurr", t):
        kw["progressed"] = True
    rm = _RELAPSE_WITHIN_RE.search(t) if _may_match(t, ("within",)) else None
    if rm:
        kw["relapse_within_after_end"] = _dur(rm.group(1), rm.group(2))
        kw.pop("progressed", None)
    wm = _THERAPY_WITHIN_RE.search(t) if _may_match(t, _THERAPY_WITHIN_WORDS) else None
    if wm and not rm:
        kw["within"] = _dur(wm.group(1) or wm.group(3), wm.group(2) or wm.group(4))
    if _any(r"\bcurrent(?:ly)?\b|\bongoing\b|concomitant|concurrent", t):
        kw["ongoing"] = True
    main = PriorTherapy(**kw)
    em = _EXCEPT_RE.search(t) if _may_match(t, ("except", "excluding", "other than", "apart from")) else None
    if em:
        exc_text = em.group(1)
        exc_agents = []
        for m in rx["agent"].finditer(exc_text):
            key = rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
            if key and key not in exc_agents:
                exc_agents.append(key)
        if _any(r"ovarian (?:function )?suppression|ovarian ablation", exc_text):
            exc_agents = [a for a in exc_agents if a not in ("endocrine_therapy", "ovarian_function_suppression")] + ["ovarian_function_suppression"]
        if _any(r"bone treatment|bisphosphonate|denosumab|bone[-_ ]targeted", exc_text) and "bone_targeted_therapy" not in exc_agents:
            exc_agents.append("bone_targeted_therapy")
        head = t[:em.start()]
        main_agents = [a for a in agents if a not in exc_agents and (
            rx["agent"].search(head) is None or any(rx["agent_names"].get(_SEP_RUN.sub(" ", x.group(0).lower())) == a
                                                   for x in rx["agent"].finditer(head)) or a == "systemic_therapy")] or agents
        main = PriorTherapy(**{**kw, "agents": main_agents})
        if exc_agents:
            # the exception names a therapy class ("except hormone therapy for ovarian suppression or bone
            # treatments"): it is excused whatever setting it was given in
            excs = [PriorTherapy(agents=[a]) for a in exc_agents]
            return [Except(main=main, exception=_any_of(excs))]
    return [main]


_FREE_AGENT_RE = re.compile(
    r"(?i)\b(?:prior|previous|previously|any)\s+(?:(?:treatment|therapy|exposure|treated)\s+(?:with|to)|(?:use|receipt)\s+of)\s+"
    r"(?P<names>[^.;:()]+)")
_FREE_AGENT_STOP = {"the", "other", "any", "study", "investigational", "drugs", "drug", "agents", "agent", "medication",
                    "medications", "therapy", "therapies", "treatment", "treatments", "same", "similar", "this", "these",
                    "radiation", "radiotherapy", "surgery", "steroids", "live", "vaccines", "vaccine", "class", "inhibitor",
                    "inhibitors", "antibody", "antibodies", "based", "containing", "regimen", "regimens"}
_DRUG_LIKE = re.compile(
    r"(?i)^(?:[a-z]{3,}(?:mab|nib|lib|sib|parib|ciclib|lisib|tinib|zomib|platin|taxel|rubicin|mycin|trexate|abine|idine|"
    r"fene|xifene|zole|strant|relin|tecan|lidomide|domide|mustine|phamide|sporin|olimus|limus|semide|statin|vir|cept|kin)|"
    r"[a-z]{2,5}-?\d{2,7}[a-z]?)$")


def _drug_like_names(phrase: str) -> list[str] | None:
    """Drug names in a list ("interferon, rituximab or tucatinib"), normalised to lower case; None when
    any item is not a drug-like name (an INN stem such as -mab/-nib/-platin, or a code name such as
    "AZD9833"): a list with "other monoclonal antibody" in it is not compiled into names."""
    items = [x.strip(" ,") for x in re.split(r"(?i),|\bor\b|\band\b|/|\+", phrase) if x.strip(" ,")]
    out = []
    for it in items:
        it = re.sub(r"(?i)^(?:an?|the|any|prior|previous)\s+", "", it).strip().lower()
        it = re.sub(r"\s*\((?:[^)]*)\)$", "", it)
        if not it or " " in it or it in _FREE_AGENT_STOP or not _DRUG_LIKE.match(it):
            return None
        if it not in out:
            out.append(it)
    return out or None


_LIST_SEP = re.compile(r"(?i)\s*(?:,|;|\bor\b|\band/or\b|\band\b|\+)\s*")
_LIST_ITEM_LEAD = re.compile(r"(?i)^(?:(?:an?|the|any|other|prior|previous|all|some|approved|investigational)\s+)+")


def _agent_list_gap(t: str, rx: dict) -> list[str] | None:
    """Items of the list after "prior treatment with" that are neither vocabulary agents nor drug-like
    names (None when there is no such list)."""
    m = _FREE_AGENT_RE.search(t)
    if not m:
        return None
    phrase = re.split(r"(?i)\s+(?:for|within|in|during|at|prior|before|after|is|are|will|must|unless|except|"
                      r"such as|including|e\.g\.?|i\.e\.?)\b", m.group("names"))[0]
    gap = []
    for it in _LIST_SEP.split(phrase):
        it = _LIST_ITEM_LEAD.sub("", it.strip(" ,.")).strip()
        if not it or rx["agent"].search(it) or rx["agent_acronyms"].search(it):
            continue
        if " " not in it and (_DRUG_LIKE.match(it) or re.fullmatch(r"[A-Z]{2,}-?\d+[A-Za-z]?", it)):
            continue
        if it.lower() in _FREE_AGENT_STOP or re.fullmatch(r"(?i)(?:agents?|drugs?|therap(?:y|ies)|treatments?|"
                                                          r"inhibitors?|medications?|class(?:es)?)", it):
            continue
        gap.append(it)
    return gap


def _listed_drug_names(t: str, rx: dict) -> list[str]:
    """Drug-like names (INN stems, code names) not in the vocabulary, listed next to a vocabulary drug."""
    out = []
    for m in re.finditer(r"(?i)(?<![\w-])([a-z][a-z0-9-]{4,})(?![\w-])", t):
        w = m.group(1).lower()
        if w in rx["agent_names"] or w in _FREE_AGENT_STOP or not _DRUG_LIKE.match(w):
            continue
        before, after = t[max(0, m.start() - 8):m.start()], t[m.end():m.end() + 8]
        if re.search(r"(?i)(?:,|\bor|\band|/)\s*$", before) or re.match(r"(?i)\s*(?:,|or\b|and\b|/)", after):
            if w not in out:
                out.append(w)
    return out


def _free_text_agent(t: str) -> list[str] | None:
    """Drugs named after "prior treatment with" that are not in the vocabulary, normalised (lower case):
    ``PriorTherapy.agents`` then holds those names and the matcher compares them with the patient's drug
    names. Generic words ("investigational agents", "other therapy") are not names."""
    m = _FREE_AGENT_RE.search(t)
    if not m:
        return None
    names = re.split(r"(?i)\s+(?:for|within|in|during|at|prior|before|after|is|are|will|must|unless|except)\b", m.group("names"))[0]
    return _drug_like_names(names)


def _any_of(items: list):
    return items[0] if len(items) == 1 else AnyOf(items=items)


# an event's window: "within the last 6 months", "6 months prior", "less than 6 months" (compiled once)
_EVENT_WINDOW_RES = (
    re.compile(r"(?i)(?:within|in|during)\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+)?" + NUM + r"\s*" + TIME),
    re.compile(r"(?i)" + NUM + r"\s*" + TIME + r"\s*(?:prior|before|of|preceding)"),
    re.compile(r"(?i)(?:less than|<|≤)\s*" + NUM + r"\s*" + TIME),
)


def _events(t: str) -> list:
    out = []
    r = rules()
    first = r.event_any.search(t)
    if not first:
        return out
    wm = _EVENT_WINDOW_RES[0].search(t) or _EVENT_WINDOW_RES[1].search(t) or _EVENT_WINDOW_RES[2].search(t)
    within = _dur(wm.group(1), wm.group(2)) if wm else None
    for key, rx in r.event_re.items():
        m = rx.search(t, first.start())  # no event cue starts before the first cue of any event (see _confirm)
        if not m:
            continue
        if key == "major_surgery" and not (within or _any(r"major|recent", t)):
            continue
        if key in ("myocardial_infarction", "stroke", "thromboembolism") and within is None:
            continue  # without a window these are conditions
        if key == "radiotherapy":
            after = "diagnosis" if _any(r"after (?:the )?diagnosis", t) else None
            if within is None and after is None and not _any(r"prior|previous|history|received", t):
                continue
            site = "breast" if _any(r"breast radio|radiotherapy (?:to|of) the breast|local breast", t) else None
            out.append(RecentEvent(event=key, within=within, after=after, site=site))
            continue
        if key == "investigational_drug" and not (within or _any(r"participat|receiv|current|concurrent|treated", t)):
            continue
        if key == "investigational_drug" and within is None and _any(
                r"\b(?:concurrent(?:ly)?|current(?:ly)?|concomitant|ongoing|(?:is|are|be)\s+receiving|(?:is|are|be)\s+taking)\b", t):
            out.append(ConcomitantMedication(classes=["investigational_drug"]))  # taking one now, not ever
            continue
        out.append(RecentEvent(event=key, within=within))
    return out


_REQUIRING_MED = re.compile(r"(?i)\b(?:requiring|require)\s+(?:\w+\s+){0,2}?"
                            r"(?:anticoag|corticoster|steroid|immunosuppress|warfarin)")
# an episode of a condition ("asthma exacerbation requiring oral corticosteroids", "COPD flare that required
# steroids"): the drug says how severe the episode was; it is not a medication she takes now
_EPISODE_BEFORE = re.compile(r"(?i)\b(?:exacerbations?|flares?|flare-ups?|episodes?|attacks?|crises|crisis|"
                             r"decompensations?)\s*(?:,\s*)?(?:(?:that|which)\s+)?$")


_CURRENT_USE_CUE = re.compile(r"(?i)(?:current|concomitant|ongoing|chronic|concurrent|regular)\s+(?:\w+\s+){0,3}?"
                              r"(?:use|treatment|therapy|administration)|(?:receiving|taking)\s")
_TREATED_CLASSES = ((re.compile(r"(?i)anticoag|warfarin|heparin"), "anticoagulant"),
                    (re.compile(r"(?i)corticoster|steroid"), "corticosteroid"),
                    (re.compile(r"(?i)immunosuppress"), "immunosuppressant"))


def _drop_treating_drugs(t: str, atoms: list) -> list:
    """"Asthma exacerbation requiring oral corticosteroids within 1 month": the condition (its episode), not a
    medication atom for the drug that treated it. Drops the classes named after "requiring" whose subject is a
    condition or an episode of one, when the clause names that condition and no current use of its own."""
    if not any(isinstance(a, Condition) for a in atoms) or _CURRENT_USE_CUE.search(t):
        return atoms
    treated = set()
    for m in _REQUIRING_MED.finditer(t):
        if _treats_condition(t, m.start()):
            for rx, key in _TREATED_CLASSES:
                if rx.search(m.group(0)):
                    treated.add(key)
    if not treated:
        return atoms
    out = []
    for a in atoms:
        if isinstance(a, ConcomitantMedication) and set(a.classes) <= treated:
            continue
        if isinstance(a, PriorTherapy) and set(a.agents) <= treated:
            continue
        out.append(a)
    # with a window ("... requiring oral corticosteroids within 1 month"), the episode is the condition treated
    # with that drug within the window: both, one requirement
    for i, a in enumerate(out):
        if isinstance(a, Condition) and a.within is not None:
            out[i] = AllOf(items=[a, PriorTherapy(agents=sorted(treated), within=a.within.model_copy())])
            break
    return out


def _treats_condition(t: str, cue: int) -> bool:
    """Is the drug "required" at ``t[cue:]`` the treatment of a named condition or of an episode just before it?"""
    before = t[max(0, cue - 60):cue]
    if _EPISODE_BEFORE.search(before):
        return True
    hits = vocab_find(vocab_regexes()["condition"], before)
    return bool(hits) and not before[hits[-1][2]:].strip(" ,").split()[2:]  # the condition is its subject


def _conmeds(t: str) -> list:
    classes = []
    if _any(r"cyp3a4?|cyp 3a4", t):
        if _any(r"inhibitor|inhibit", t):
            classes.append("strong_cyp3a4_inhibitor")
        if _any(r"inducer|induc", t):
            classes.append("strong_cyp3a4_inducer")
        if not classes:
            classes = ["strong_cyp3a4_inhibitor", "strong_cyp3a4_inducer"]
    elif _any(r"strongly affect certain liver enzymes", t):
        classes = ["strong_cyp3a4_inhibitor", "strong_cyp3a4_inducer"]
    if _any(r"(?:current|concomitant|ongoing|chronic|concurrent|regular)\s+(?:\w+\s+){0,3}?(?:use|treatment|therapy|administration)|(?:requiring|require|receiving|taking)\s+(?:\w+\s+){0,2}?(?:anticoag|corticoster|steroid|immunosuppress|warfarin)", t):
        for rx, key in ((r"anticoag|warfarin|heparin", "anticoagulant"), (r"corticoster|steroid", "corticosteroid"),
                        (r"immunosuppress", "immunosuppressant")):
            if _any(rx, t) and key not in classes:
                classes.append(key)
    if _CURRENT_MED.search(t):
        for key in _non_oncology_agents(t):
            if key not in classes:
                classes.append(key)
    return [ConcomitantMedication(classes=classes)] if classes else []


_CURRENT_MED = re.compile(
    r"(?i)\b(?:current(?:ly)?\s+(?:use|using|taking|receiving|treat\w*|on)|(?:concomitant|concurrent|ongoing|chronic|regular)"
    r"\s+(?:use|treatment|therapy|administration|medications?)|(?:is|are|be)\s+(?:currently\s+)?(?:taking|receiving|on)\b|"
    r"(?:patients?|subjects?|participants?|those)\s+(?:currently\s+)?(?:taking|receiving|on)\b)")


def _non_oncology_agents(t: str) -> list[str]:
    """Vocabulary drugs and classes of ``t`` that are not anti-cancer therapies (statins, PPIs, MAO
    inhibitors, ...): medications she takes, not lines of cancer treatment."""
    from trialmatch.vocab import class_ancestors, drug_classes

    rx = vocab_regexes()
    out = []
    for m in rx["agent"].finditer(t):
        key = rx["agent_names"].get(m.group(0).lower()) or rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
        if key is None:
            continue
        anc = drug_classes(key) | class_ancestors(key)
        if anc & {"systemic_therapy", "ovarian_function_suppression", "bone_targeted_therapy", "monoclonal_antibody"} or \
                key in ("systemic_therapy", "monoclonal_antibody"):
            continue
        if key not in out:
            out.append(key)
    return out


def _infections(t: str) -> list:
    out = []
    r = rules()
    hits = []
    first = r.infection_any.search(t)
    for key, rx in (r.infection_re.items() if first else ()):
        m = rx.search(t, first.start())  # no cue starts before the first cue of any pathogen (see _confirm)
        if m:
            hits.append((m.start(), key))
    if _any(r"hepatitis\s+b\s*(?:,|or|and|/)\s*(?:hepatitis\s+)?c\b", t):
        hits += [(0, "hbv"), (0, "hcv")]
    keys = []
    for _, k in sorted(hits):
        if k not in keys:
            keys.append(k)
    if ("hbv" in keys or "hcv" in keys) and "hepatitis" in keys:
        keys.remove("hepatitis")
    if not keys:
        return []
    quals = _qualifiers(t, {"active", "chronic", "uncontrolled", "known"})
    for k in keys:
        out.append(Infection(pathogen=k, qualifiers=quals))
    return out


# a grading scale with its grade right after (or before) a condition: "arrhythmia Lown III/IV", "heart failure
# (NYHA class ≥ III)", "grade 3 or 4 neuropathy": the condition counts only at those grades
_SEVERITY_SCALE = r"(?:lown|nyha|ccs|gold|child[- ]?pugh|ctcae|grade|class)\s*(?:class\s*)?(?:of\s*)?(?:[≥>]=?\s*)?(?P<g>iv|i{1,3}|[1-5])\b"
_SEVERITY_AFTER = re.compile(r"(?i)\s*(?:\(\s*)?(?:\w+\s*)?" + _SEVERITY_SCALE)
_SEVERITY_BEFORE = re.compile(r"(?i)" + _SEVERITY_SCALE + r"(?:\s*(?:-|–|/|,|or|and|to|through|or\s+higher|or\s+greater|"
                              r"or\s+more|\+|(?:iv|i{1,3}|[1-5])\b))*\s*(?:\w+\s+)?$")
_GRADE_NUM = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_SEVERITY_IN = re.compile(r"(?i)" + _SEVERITY_SCALE)


def _severity_graded(t: str, s: int, e: int) -> bool:
    """Is the condition mention ``t[s:e]`` restricted to a grade of 2 or more on a grading scale?"""
    m = _SEVERITY_AFTER.match(t, e, min(len(t), e + 30)) or _SEVERITY_BEFORE.search(t, max(0, s - 45), s) \
        or _SEVERITY_IN.search(t, s, e)  # a name that is a grade itself ("NYHA class III")
    if m is None:
        return False
    g = m.group("g").lower()
    return (_GRADE_NUM.get(g) or int(g)) >= 2


_CONDITION_WITHIN_RE = re.compile(r"(?i)within\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME)
_LIST_ITEM_END = re.compile(r"(?i)[,;/]|\b(?:or|and|and/or|nor)\b")


def _conditions(t: str, strict: bool = False) -> list:
    out = []
    for key, s, e in vocab_find(vocab_regexes()["condition"], t):
        if key == "myocardial_infarction" and t[s:e] == "MI" and False:
            continue
        # a qualifier after the mention counts only up to the next list item: "MI, stroke or unstable angina"
        # does not make the MI or the stroke unstable
        after = _LIST_ITEM_END.split(t[e:e + 40], maxsplit=1)[0]
        ctx = t[max(0, s - 40):e] + after
        quals = _qualifiers(ctx, {"uncontrolled", "severe", "symptomatic", "active", "unstable", "chronic"})
        if "severe" not in quals and _severity_graded(t, s, e):
            quals.append("severe")  # "arrhythmia Lown III/IV", "NYHA class III-IV heart failure": only those grades
        wm = _CONDITION_WITHIN_RE.search(t[s:])
        if wm and _WINDOW_GAP_VERB.search(t[e:s + wm.start()]):
            wm = None  # "ulcerative colitis or are planning colectomy within 8 weeks": the window is the plan's
        kw: dict[str, Any] = {"condition": key, "qualifiers": quals}
        if wm:
            kw["within"] = _dur(wm.group(1), wm.group(2))
        same = [a for a in out if isinstance(a, Condition) and a.condition == key]
        if not same:
            out.append(Condition(**kw))
        elif "severe" in quals and "severe" not in same[0].qualifiers and _severity_graded(t, s, e):
            same[0].qualifiers.append("severe")  # "NYHA class III or IV heart failure": the scale's name, then the condition's
    return out


_WINDOW_GAP_VERB = re.compile(r"(?i)\b(?:are|is|was|were|be|been|plann\w*|plan|scheduled|undergo\w*|receiv\w*|had|have|has|"
                              r"require\w*|need\w*|taking|using)\b")
_GENERIC_LEAD = re.compile(
    r"^\s*(?:no\s+)?(?:(?:any\s+)?(?:known|documented|confirmed|current|active|prior|previous|significant)\s+)?"
    r"(?:(?:a\s+)?(?:personal\s+)?(?:history|diagnosis|evidence|presence|signs?)(?:\s+(?:or|and/or)\s+(?:current\s+)?(?:history|diagnosis|evidence|presence|signs?))?\s+of\s+|"
    r"(?:no\s+|any\s+|other\s+)*clinically[ -](?:significant|relevant)\s+|(?:patients?|subjects?|participants?|those)\s+(?:with|who have|having|diagnosed with)\s+|diagnosed with\s+|suffering from\s+|known\s+|has\s+|have\s+)"
    r"(?:(?:a|an|any|the|clinically significant|significant|known|active|severe|chronic|acute|current|uncontrolled|documented)\s+)*",
    re.IGNORECASE,
)
_STOP = {"the", "a", "an", "any", "other", "following", "this", "study", "trial", "protocol", "criteria", "patient",
         "patients", "condition", "conditions", "disease", "diseases", "illness", "treatment", "therapy", "drug", "drugs",
         "medication", "medications", "use", "able", "willing", "be", "to", "in", "of", "and", "or", "with", "their",
         "his", "her", "which", "that", "as", "been", "must", "not", "no", "is", "are", "was", "will", "would", "should",
         "received", "receive", "undergone", "participated", "participation", "taken", "agreed", "signed", "informed"}


_VAGUE_HEADS = {"disease", "diseases", "abnormality", "abnormalities", "illness", "illnesses", "condition", "conditions",
                "finding", "findings", "disorder", "disorders", "problem", "problems", "medical", "history", "result",
                "results", "impairment", "dysfunction", "event", "events", "comorbidity", "comorbidities"}


# the verb of a sentence whose subject is the condition ("Patients with HCL must have received ...", "History of X
# syndrome must be documented", "Patients with lupus should be excluded"): the condition's name ends before it
_MODAL_TAIL = re.compile(r"(?i)\s+\b(?:must|should|shall|will|would|may|might|can|cannot|could|need(?:s)?\s+to|"
                         r"(?:is|are|was|were)\s+(?:not\s+)?(?:eligible|ineligible|excluded|included|allowed|permitted|"
                         r"required|to\s+be))\b(?!-)")


def _generic_condition(t: str) -> list:
    m = _GENERIC_LEAD.match(t)
    if not m:
        return []
    significant = "clinically" in m.group(0).lower()
    if significant:
        # "Clinically significant X": X as written (or its vocabulary key), qualified; a head with no
        # content of its own ("clinically significant disease / abnormality") is not a checkable condition
        if re.match(r"(?i)(?:[A-Za-z'/-]+\s+){0,5}[A-Za-z'/-]+\s*(?:,|\bif\b|\bunless\b|\bwhen\b)", t[m.end():]):
            return []  # a list or a conditional, not one condition
        rest = re.split(r"(?i)\s*(?:[(,;:.]|\bthat\b|\bwhich\b|\bwho\b|\bas\b|\bper\b|\brequiring\b|\bincluding\b|"
                        r"\bsuch as\b|\bwithin\b|\bin the opinion\b|\baccording\b)", t[m.end():], maxsplit=1)[0]
        hits = vocab_find(vocab_regexes()["condition"], rest)
        if hits:
            keys = []
            for k, _, _ in hits:
                if k not in keys:
                    keys.append(k)
            conds = [Condition(condition=k, qualifiers=["clinically_significant"]) for k in keys]
            return [conds[0] if len(conds) == 1 else AnyOf(items=conds)]
        words = rest.strip().split()
        if not (1 <= len(words) <= 6) or not all(re.fullmatch(r"[A-Za-z][A-Za-z'/-]*", w) for w in words):
            return []
        lw = [w.lower() for w in words]
        if any(w in ("or", "and", "and/or") for w in lw) or all(w in _VAGUE_HEADS or w in _STOP for w in lw):
            return []
        return [Condition(condition=" ".join(lw), qualifiers=["clinically_significant"])]
    phrase = t[m.end():]
    if re.match(r"(?i)[^,;:()]{1,60}?(?:,|\bif\b|\bunless\b|\bwhen\b|\bexcept\b)", phrase) and re.match(
            r"(?i)(?:[A-Za-z'/-]+\s+){0,5}[A-Za-z'/-]+\s*(?:,|\bif\b|\bunless\b|\bwhen\b|\bexcept\b)", phrase):
        return []  # "X, Y or Z" (a list cut at its first comma) or "X if ..." (a condition on X): not one condition
    # a modal or auxiliary verb ends the name: "HCL must have received ...", "X syndrome should be documented"
    phrase = _MODAL_TAIL.split(phrase, maxsplit=1)[0]
    phrase = re.split(r"(?i)\s*(?:[(,;:.]|\bwithin\b|\bthat\b|\bwhich\b|\bwho\b|\bwhere\b|\bdefined\b|\bas\b|\bfor\b|\bwith\b|\bin the\b|\brequiring\b|\bincluding\b|\bsuch as\b|\bper\b|\baccording\b|\bby\b|\bon\b|\bat\b|\bfrom\b|\bof\s+(?:more|less|at)\b|\bduring\b|\bafter\b|\bbefore\b|\bprior\b|\bor\s+(?:any|other)\b)", phrase, maxsplit=1)[0]
    words = phrase.strip().split()
    if not (1 <= len(words) <= 6):
        return []
    if not all(re.fullmatch(r"[A-Za-z][A-Za-z'/-]*", w) for w in words):
        return []
    if all(w.lower() in _STOP for w in words) or words[0].lower() in _STOP and len(words) == 1:
        return []
    if words[0].lower() in ("been", "received", "had", "taken", "undergone", "participated", "to", "be", "not", "no"):
        return []
    name = " ".join(w.lower() for w in words)
    return [Condition(condition=name)]


def _allergy(t: str) -> list:
    if not _any(r"allerg|hypersensitiv|anaphyla|intoleran|adverse (?:drug )?reactions? to|sensitivity to", t):
        return []
    rx = vocab_regexes()
    subs = []
    for m in rx["agent"].finditer(t):
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
        if key and key not in subs:
            subs.append(key)
    if _any(r"study (?:drug|medication|treatment|agent)s?|investigational (?:product|drug)|excipient|components?|ingredients?|any of the (?:study )?drugs", t):
        subs.append("study_drug")
    if _any(r"contrast", t):
        subs.append("contrast_media")
    return [Allergy(substances=subs or ["unspecified"])]


def _confirm(t: str) -> NeedsConfirmation | None:
    r = rules()
    first = r.confirm_any.search(t)
    if not first:
        return None
    # Speed: a cue of any category is a cue of the combined regex, which would match where the cue starts:
    # no category matches before the combined regex's first match, so the searches below start there
    for cat in ("withdrawal", "consent", "recovered_from_toxicity", "swallow", "social_security", "tissue_available",
                "investigator_judgement", "compliance", "contraception", "other"):
        m = r.confirm_re[cat].search(t, first.start())
        if m:
            if cat == "other" and len(t) > 140:
                continue
            return NeedsConfirmation(category=cat, reason=f"needs a person to confirm ({cat.replace('_', ' ')}: '{m.group(0)}')")
    return None


_NUMERIC_KINDS = (Age, LabThreshold, PerformanceStatus, LifeExpectancy, Measurement)


_SETTING_PHRASE = re.compile(
    r"(?i)\b(?:for|in|in the|of)\s+(?:the\s+)?(?:(?:locally\s+)?advanced|metastatic|recurrent|unresectable)"
    r"(?:\s*(?:,|or|and/or|and|/)\s*(?:locally\s+advanced|advanced|metastatic|recurrent|unresectable))*"
    r"(?:\s+(?:breast\s+)?(?:cancer|disease|setting|stage|bc|mbc))?|\b(?:metastatic|advanced)\s+setting")

# (pattern, reason, words): every match of the pattern holds one of its words (a cheap pre-check, ``_may_match``)
_UNSUPPORTED_PATTERNS = [
    (re.compile(r"(?i)\bthe time from\b|\btime (?:interval )?(?:from|between)\b.*\bto\b"), "interval between two events is not modelled",
     ("time",)),
    (re.compile(r"(?i)proportion of patients|percentage of patients"), "a requirement on the trial population, not on one patient",
     ("proportion of patients", "percentage of patients")),
    (re.compile(r"(?i)\b(?:are|is|was|were) effective\b|(?:complete|partial) (?:remission|response)[^.]*(?:stabili|stable)|"
                r"\bresponse or stable disease\b|\bstable disease or (?:better|response)\b"), "response to prior therapy is not modelled",
     ("effective", "remission", "response", "stable disease")),
    (re.compile(r"(?i)\bwithin\s+\d+\s*(?:days?|weeks?|months?)\s+(?:of|after|from)\s+(?:the\s+)?(?:start(?:ing)?|initiat\w*|"
                r"beginning)\b(?!\s+(?:of\s+)?(?:the\s+)?(?:study|trial|protocol|investigational|dosing|enrol\w*|"
                r"randomi\w*|registration|treatment\s+(?:on|in)\s+(?:the\s+)?(?:study|trial)|screening)\b)"),
     "time from the start of a therapy to progression is not modelled", ("within",)),
]


_START_WINDOW = re.compile(r"(?i)\bwithin\s+\d+\s*(?:days?|weeks?|months?)\s+(?:of|after|from)\s+(?:the\s+)?"
                           r"(?:start(?:ing)?|initiat\w*|beginning)\b")
_MULTI_SENTENCE = re.compile(r"[a-z)]\.\s+[A-Z0-9]|\s-\s+[A-Z]")

# organ function required without a threshold ("normal or near-normal liver and kidney function",
# "adequate organ function"): only a person can judge it against the protocol's own limits
_VAGUE_FUNCTION = re.compile(
    r"(?i)\b(?:normal|near[- ]normal|adequate|sufficient|satisfactory|acceptable|good|appropriate)\b[^.;:\d]{0,50}?"
    r"\b(?:organ|liver|hepatic|kidney|renal|bone[- ]marrow|marrow|hematologic\w*|haematologic\w*|hematopoietic|"
    r"cardiac|heart|lung|pulmonary|respiratory|coagulation|laboratory|lab)\b[^.;:\d]{0,30}?\b(?:functions?|reserves?|values?|parameters?|status)\b")
# the words of its last group: one of them is in every match
_VAGUE_FUNCTION_WORDS = ("function", "reserve", "value", "parameter", "status")
_ECOG_LONG = re.compile(r"(?i)eastern\s+cooperative\s+oncology\s+group(?:\s*\(\s*ecog\s*\))?")
_SINCE_RE = re.compile(
    r"(?i)^\W*(?P<op>at least|more than|greater than|over|a minimum of|minimum of|no less than|not less than|≥|>=|>|"
    r"no more than|not more than|less than|fewer than|within|up to|≤|<=|<)\s*(?P<n>\d+(?:\.\d+)?|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|twelve)\s*(?P<u>days?|weeks?|wks?|months?|mo|years?|yrs?)\b\s+(?:must\s+have\s+(?:elapsed|passed)\s+)?"
    r"(?:since|from)\s+(?P<what>[^;]+?)\s*\.?$")


def _since_window(t: str, kind: str):
    """"At least 4 weeks since prior chemotherapy" -> NOT(chemotherapy within 4 weeks); "no more than 6
    weeks since surgery" -> surgery within 6 weeks. The event is a therapy (drug/class vocabulary, or a
    drug-like name) or a vocabulary event (surgery, radiotherapy, ...); anything else is not compiled."""
    m = _SINCE_RE.match(t)
    if not m:
        return None
    dur = _dur(m.group("n"), m.group("u"))
    what = m.group("what")
    # "at least 4 weeks since prior and no concurrent amiodarone": taking it now is taking it within the window
    what = re.sub(r"(?i)^\s*(?:any\s+)?prior\s+(?:and|or)\s+(?:no\s+)?(?:concurrent|concomitant)\s+", "prior ", what)
    what = re.sub(r"(?i)^\s*(?:the\s+)?(?:(?:last|final)\s+(?:dose|administration)|completion|end)\s+of\s+(?:prior\s+)?",
                  "prior ", what)
    what_l = what.lower()
    long_ago = m.group("op").lower() in ("at least", "more than", "greater than", "over", "a minimum of", "minimum of",
                                         "no less than", "not less than", "≥", ">=", ">")
    atom = None
    pts = [a for a in _prior_therapy(what if re.search(r"(?i)\b(?:prior|previous|last)\b", what) else "prior " + what, kind)
           if isinstance(a, PriorTherapy)]
    if pts:
        atom = pts[0].model_copy(update={"within": dur, "progressed": None, "settings": ["any"],
                                         "lines": Range(low=1)})
    else:
        names = _drug_like_names(re.sub(r"(?i)^\s*(?:prior|previous|last)\s+", "", what))
        if names:
            atom = PriorTherapy(agents=names, within=dur)
        for key, rx in (() if atom is not None else rules().event_re.items()):
            if rx.search(what):
                if key == "major_surgery" and "major" not in what_l:
                    key = "surgery"
                atom = RecentEvent(event=key, within=dur)
                break
        if atom is None and _any(r"\bsurg|\boperation|resection|biopsy|mastectomy|lumpectomy", what_l):
            atom = RecentEvent(event="surgery", within=dur)
        if atom is None and _any(r"\birradiation\b|\bradiation\b", what_l):
            atom = RecentEvent(event="radiotherapy", within=dur)
        if atom is None:
            # a therapy named as written ("prior biologic therapy", "prior valproic acid"): the name as the agent
            name = re.sub(r"(?i)^\s*(?:any\s+)?(?:prior|previous|last)\s+", "", what).strip(" .")
            words = name.split()
            if 1 <= len(words) <= 3 and all(re.fullmatch(r"[A-Za-z][A-Za-z-]*", w) for w in words) and \
                    not all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words) and \
                    words[0].lower() not in ("the", "diagnosis", "study", "randomization", "registration", "enrollment",
                                             "completion", "end", "start", "onset", "first", "progression", "recurrence",
                                             "relapse", "resolution", "recovery", "disease", "menopause", "menses"):
                atom = PriorTherapy(agents=[name.lower()], within=dur)
    if atom is None:
        return None
    return Not(item=atom) if long_ago else atom


_THRESHOLD_HINT = re.compile(r"\d|[≥≤<>]|\bx\s*uln\b|upper limit", re.IGNORECASE)
# text that is not a requirement ("Not specified", "See Disease Characteristics", "-"): reported as
# such (a header-like entry with the reason), never compiled into a check
_PLACEHOLDER = re.compile(
    r"(?i)^\W*(?:not specified|none specified|not applicable|n/?a|none|see (?:disease|patient) characteristics|"
    r"see (?:above|below|general eligibility criteria)|see (?:inclusion|exclusion) criteria|-+|\.+)\W*$"
    r"|^\W*(?:[A-Za-z][\w/-]*\s+){0,3}(?:status\s+|\w+\s+)?(?:not specified|unspecified|any)\W*$(?<!\bany)"
    r"|^\W*the above information (?:is|was) not intended to contain all considerations")
# Speed: a pre-check for _PLACEHOLDER (tried on every criterion). Its first two alternatives take the
# whole text and end with one of these words (then only non-word characters); the third starts with
# "the above information"; text without a word character at all is left to the regex.
_PLACEHOLDER_ENDINGS = ("specified", "applicable", "na", "n/a", "none", "characteristics", "above", "below", "criteria",
                        "any")


def _maybe_placeholder(text: str) -> bool:
    """False only when ``_PLACEHOLDER.match(text)`` cannot match."""
    tl = folded_text(text)
    if tl is None:
        return True
    end = len(tl)
    while end and not (tl[end - 1].isalnum() or tl[end - 1] == "_"):  # re's \w: str.isalnum() or "_"
        end -= 1
    return end == 0 or tl[:end].endswith(_PLACEHOLDER_ENDINGS) or "the above information" in tl


# "Prior adjuvant chemotherapy allowed", "Concurrent steroids permitted": a permission, not a requirement.
# Not taken: prohibitions ("no prior therapy allowed", "not permitted") and conditional permissions
# ("allowed provided ...", "allowed if ..."), whose condition is a requirement of its own.
_PERMISSION = re.compile(r"(?i)\b(?:is|are)?\s*(?:allowed|permitted|acceptable)\s*\.?\s*$")
_PERMISSION_WORDS = ("allowed", "permitted", "acceptable")
_PERMISSION_NOT = re.compile(
    r"(?i)\b(?:no|not|none|never|without|nor|only|unless|provided|if|when|must|except|but|until|as long as|"
    r"after|before|within|since|at least|more than|less than|no more|up to|maximum|except)\b|[<>≤≥:;]")


_PERMISSION_COND_NOT = re.compile(r"(?i)\b(?:no|not|none|never|without|nor|only|unless|except|but|if|provided)\b|[:;]")


def _is_permission(text: str, kind: str | None = None) -> bool:
    t = text.strip()
    if len(t) > (240 if kind == "exclusion" else 160) or not _may_match(t, _PERMISSION_WORDS) or not _PERMISSION.search(t):
        return False
    head = _PERMISSION.sub("", t)
    if kind == "exclusion":
        # an exclusion item "Use of topical corticosteroids (≤1% hydrocortisone cream) ... is permitted": the
        # bracketed detail narrows what is allowed; the item still excludes nothing
        head = re.sub(r"\([^()]{0,80}\)", " ", head)
        if head.strip() and not _PERMISSION_COND_NOT.search(head):
            # "Use of intranasal corticosteroids at a stable dose for at least 4 weeks prior to screening is
            # permitted": the conditions (dose, time) narrow what is allowed; as an exclusion it excludes nothing
            return True
    return bool(head.strip()) and not _PERMISSION_NOT.search(head)


# "(transfusion allowed)" inside a criterion: a permission, not part of the check
# "(concurrent prednisone allowed provided dose is ≤ 10 mg daily)": the condition narrows the permission
_PAREN_PERMISSION = re.compile(r"(?i)\s*\((?:[^()]{0,60}?\b(?:allowed|permitted|acceptable))"
                               r"(?:\s*,?\s+(?:provided|if|as\s+long\s+as|when|at|up\s+to)\b[^()]{0,60})?\)")
# a dose limit in such a permission: "≤ 10 mg prednisone/day or equivalent allowed", "allowed provided dose is
# ≤ 10 mg daily", "up to 100 mg of hydrocortisone"
_PERMITTED_DOSE = re.compile(r"(?i)(?:[≤<]=?|=<|\bup\s+to|\bno\s+more\s+than|\bnot\s+exceeding|\bmaximum(?:\s+of)?)\s*"
                             r"(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mg|mcg|µg|g)s?\b")

_PROTOCOL_DEFINED = re.compile(
    r"(?i)^\W*(?:note\s*:\s*)?(?:other|additional)\s+protocol[- ](?:defined|specific|dependent)\b[^.;]{0,40}?\bcriteri")


# a rule of some countries only: "In countries where the local regulations permit enrolment of adults only,
# patients must be 18 years of age and older", "(For those countries where local regulations ...)", "Note: Age
# requirements are as specified by local regulations". Where she is treated is not in her record: a person
# checks it; the rule is never applied as if it held everywhere.
_LOCAL_RULE = re.compile(
    r"(?i)\(\s*(?:for|in)\s+(?:those\s+|some\s+|the\s+|all\s+)?(?:countr(?:y|ies)|sites?|regions?|jurisdictions?)\s+"
    r"(?:where|in\s+which|that)\b[^()]*\)"
    r"|(?:^|(?<=[.;:]))\W*(?:note\s*:\s*)?(?:(?:for|in)\s+(?:those\s+|some\s+|the\s+|all\s+)?(?:countr(?:y|ies)|sites?|"
    r"regions?|jurisdictions?)\s+(?:where|in\s+which|that)\b|[^.;:]{0,40}\b(?:as\s+)?(?:specified|defined|required|"
    r"applicable)\s+(?:by|per|under|in)\s+(?:the\s+)?local\s+(?:regulations?|laws?|requirements?))[^.;]*(?:[.;]|$)")


def _drug_names(a) -> list[str] | None:
    """The drugs or classes a drug check names (None for any other atom)."""
    if isinstance(a, ConcomitantMedication):
        return a.classes
    if isinstance(a, PriorTherapy):
        return a.agents
    return None


def _dose_permitted(a, dm):
    """``a`` (a drug check) except at the permitted dose ``dm`` ("No concurrent corticosteroids (≤ 10 mg
    prednisone/day allowed)": a steroid counts only above 10 mg, and her dose is a fact of its own)."""
    names = _drug_names(a)
    if names is None:
        return a
    dose = Measurement(name=f"{' or '.join(n.replace('_', ' ') for n in names)} dose", comparator="<=",
                       value=float(dm.group("v")), unit=dm.group("u").lower())
    return Except(main=a, exception=dose)


_DOSE_ABOVE = re.compile(
    r"(?i)(?:(?P<op>[≥>]=?|=>|\bmore\s+than|\bgreater\s+than|\bexceeding|\bat\s+least|\bin\s+excess\s+of|\bover|"
    r"\babove)\s*(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mg|mcg|µg)s?\b"
    r"|(?P<v2>\d+(?:\.\d+)?)\s*(?P<u2>mg|mcg|µg)s?\b[^.;()]{0,40}?\b(?:or|and)\s+(?:more|higher|greater|above|over)\b)")


def _dose_above(a, dm):
    """``a`` (a drug check) only at the dose ``dm`` states: AllOf(a, the dose)."""
    names = _drug_names(a)
    if names is None:
        return a
    from trialmatch.vocab import class_ancestors, drug_classes

    if any((drug_classes(n) | class_ancestors(n)) & {"systemic_therapy", "ovarian_function_suppression",
                                                      "bone_targeted_therapy"} or n == "systemic_therapy" for n in names):
        return a  # a cancer drug's dose is a regimen detail ("paclitaxel 80 mg/m2"), not a limit on her use
    op = dm.group("op")
    comparator = ">" if op and op.strip().lower() in (">", "more than", "greater than", "exceeding", "in excess of",
                                                      "over", "above") else ">="
    v, u = (dm.group("v"), dm.group("u")) if dm.group("v") else (dm.group("v2"), dm.group("u2"))
    dose = Measurement(name=f"{' or '.join(n.replace('_', ' ') for n in names)} dose", comparator=comparator,
                       value=float(v), unit=u.lower())
    return AllOf(items=[a, dose])


def _compile_clause(t: str, kind: str) -> list:
    """Atoms for one clause (list; empty when nothing is recognised)."""
    if not t.strip():
        return []
    if ("countr" in t or "local" in t) and _LOCAL_RULE.search(t):
        local = [m.group(0).strip(" .;()") for m in _LOCAL_RULE.finditer(t)]
        rest = _LOCAL_RULE.sub(" ", t)
        note = NeedsConfirmation(category="other", reason=f"a rule of some countries only, to check where she is "
                                                          f"treated: {local[0][:100]!r}")
        return [*_compile_clause(rest, kind), note] if rest.strip(" .;,()") else [note]
    permitted_dose = None
    if "allow" in t or "permit" in t or "accept" in t:
        for pm in _PAREN_PERMISSION.finditer(t):
            if not re.search(r"(?i)\b(?:no|not|nor)\b", pm.group(0)):
                permitted_dose = permitted_dose or _PERMITTED_DOSE.search(pm.group(0))
        t = _PAREN_PERMISSION.sub(lambda m: m.group(0) if re.search(r"(?i)\b(?:no|not|nor)\b", m.group(0)) else " ", t)
        if permitted_dose is not None:
            atoms = _compile_clause(t, kind)
            return [_dose_permitted(a, permitted_dose) for a in atoms]
    for rx, why, words in _UNSUPPORTED_PATTERNS:
        if _may_match(t, words) and rx.search(t):
            return [Unsupported(reason=why)]
    if "within" in t and _START_WINDOW.search(t) and (_MULTI_SENTENCE.search(t) or _any(r"\bplann|\bscheduled", t)):
        # several sentences around a window "of starting study treatment": each extractor would take the
        # window for its own concept; not compiled rather than misread
        return [Unsupported(reason="several requirements in one criterion around a window from the start of study "
                                   "treatment: not compiled")]
    if _PROTOCOL_DEFINED.search(t):
        return [NeedsConfirmation(category="other", reason="further criteria are defined in the protocol and not "
                                                           "listed here: a person must check them")]
    vm = _VAGUE_FUNCTION.search(t) if _may_match(t, _VAGUE_FUNCTION_WORDS) else None
    if vm and not _THRESHOLD_HINT.search(t):
        return [NeedsConfirmation(category="other", reason=f"no defined threshold: '{vm.group(0)}' must be judged "
                                                           "by a person against the protocol's limits")]
    if "since" in t or "Since" in t or " from " in t:
        sw = _since_window(t, kind)
        if sw is not None:
            return [sw]
    conf = _confirm(t)
    strong_conf = conf is not None and conf.category in ("consent", "withdrawal", "recovered_from_toxicity", "swallow",
                                                          "social_security", "tissue_available", "compliance")
    if strong_conf and conf.category == "tissue_available" and _genes(t):
        strong_conf = False  # "PIK3CA mutation in tumour tissue or ctDNA": the tissue is where it is found
    if strong_conf and not any(not q.window for q in find_quantities(t)):
        return [conf]
    tl = t.lower()

    def has(*words: str) -> bool:  # cheap substring gates keep the regex extractors off most clauses
        for w in words:  # a plain loop: no generator per call (this runs ~20 times per clause)
            if w in tl:
                return True
        return False

    atoms: list = []
    if has("age", "year", "adult", "child", "old", "yo", "y.o", "y/o") or _DIGIT.search(t):
        atoms += _age(t)
    men_meno = _men_or_menopausal_women(t) if has("menopaus") and has("men", "male") else []
    atoms += men_meno
    men_np = _men_or_nonpregnant_women(t, kind) if has("non", "not") and has("pregnan", "feeding", "lactat",
                                                                               "nursing") else []
    atoms += men_np
    if not men_meno and not men_np and has("male", "female", "women", "woman", "men", "man", "sex", "gender"):
        atoms += _sex(t, kind)
    if not men_meno and has("menopaus", "ovar", "gnrh", "lhrh", "goserelin", "leupro", "triptorelin", "oophor"):
        atoms += _menopause(t, kind)
    if not men_np and has("pregnan", "feeding", "lactat", "nursing"):
        atoms += _pregnancy(t, kind)
    if has("ecog", "who", "zubrod", "karnofsky", "kps", "lansky", "performance", "ps"):
        # "Eastern Cooperative Oncology Group (ECOG) performance status of 0 or 1": the scale's name
        # written out then abbreviated reads as "ECOG performance status ..." to the extractor
        atoms += _performance(_ECOG_LONG.sub("ECOG", t) if "cooperative" in tl else t)
    if has("life", "surviv", "live"):
        atoms += _life_expectancy(t)
    rec = _receptors(t) if has("receptor", "her", "hormone", "triple", "tnbc", "ihc", "er", "pr", "hr") else []
    atoms += rec
    atoms += _genes(t)
    if not any(isinstance(a, (PerformanceStatus, LifeExpectancy)) for a in atoms) and _DIGIT.search(t) or has("normal"):
        atoms += _labs(t)
    om = _other_malignancy(t) if has("malignan", "cancer", "tumo", "carcinoma", "neoplas") else []
    atoms += om
    if not om:
        atoms += _diagnosis(t, kind)
    if has("metasta", "leptomening", "cns", "brain", "only", "central nervous", "spread to"):
        atoms += _metastasis(t)
    if has("measurable", "evaluable", "recist"):
        meas = _measurable(t)
        if meas and meas[0].allow_bone_only_evaluable and has("bone"):
            # "Measurable disease, or bone-only disease with an evaluable lesion": the bone-only case is
            # the alternative the MeasurableDisease atom allows, not a second requirement
            atoms = [a for a in atoms if not (isinstance(a, Metastasis) and a.site == "bone" and a.only)]
        atoms += meas
    if has("hepatitis", "hbv", "hcv", "hiv", "hbsag", "aids", "tubercul", "tb", "covid", "sars", "infect", "coronavirus"):
        atoms += _infections(t)
    if has("cyp", "liver enzymes", "current", "concomitant", "ongoing", "chronic", "concurrent", "regular", "requir", "receiv", "taking"):
        atoms += _conmeds(t)
    ev = _events(t) if has("surg", "operation", "infarction", "heart attack", "coronary", "stroke", "cerebrovasc",
                          "ischemic", "radi", "investigational", "trial", "study", "experimental", "transfusion",
                          "thrombo", "embolism", "vaccin") else []
    atoms += ev
    fit = _FITNESS.search(t) if has("fit", "candidate", "eligib", "suitab", "appropriate", "contraindicat",
                                     "refus", "declin", "indicated", "amenable") else None
    if fit is not None:
        # "considered unfit for chemotherapy", "candidate for endocrine therapy": a clinician's judgement
        # on a therapy she may get, not a therapy she has had
        atoms.append(NeedsConfirmation(category="investigator_judgement",
                                       reason=f"a clinician's judgement: '{fit.group(0).strip()}'"))
    cur = _concurrent_medication(t) if has("concurrent", "concomitant") and not atoms else []
    if cur:
        atoms += cur  # "No concurrent fluconazole or lithium": both, taken now
    elif not any(isinstance(a, (ConcomitantMedication, OtherMalignancy)) for a in atoms) and not (
            rec and not _any(r"prior|previous|treat|therap", t)):
        atoms += _prior_therapy(t if fit is None else t[:fit.start()] + " " + t[fit.end():], kind)
    atoms += _measurements(t, atoms)
    if "weight" in tl and ("gain" in tl or "loss" in tl or "lost" in tl or "chang" in tl or "reduc" in tl):
        _weight_change(t, atoms)
    if rec and any(isinstance(x, Receptor) and x.receptor == "HER2" for a in rec for x in iter_atoms(a)):
        # "IHC 1+, or IHC 2+ with negative ISH": the scores belong to the HER2 atom, not measurements
        atoms = [a for a in atoms if not (isinstance(a, (Measurement, AllOf, AnyOf)) and all(
            isinstance(x, Measurement) and re.search(r"(?i)\b(?:ihc|her-?2|ish|fish|score)\b", x.name)
            for x in iter_atoms(a)))]
    pct = {a.min_percent for a in atoms if isinstance(a, Receptor) and a.min_percent is not None}
    if pct:  # "at least 10% of cancer cells show positive ER staining": the 10% is the receptor's, not a measurement
        atoms = [a for a in atoms if not (isinstance(a, Measurement) and a.value in pct
                                          and (a.unit or "").lower() in ("%", "percent"))]
    if not any(isinstance(a, Infection) for a in atoms):
        conds = _conditions(t)
        if any(isinstance(a, RecentEvent) and a.event == "myocardial_infarction" for a in atoms):
            conds = [c for c in conds if c.condition != "myocardial_infarction"]
        if conds and not atoms:
            # "History of asthma, COPD or chronic bronchitis": the whole list, not only its vocabulary items
            listed = _condition_list(t, kind)
            if listed and sum(1 for _ in iter_atoms(listed[0])) > len(conds):
                conds = listed
        atoms += conds
    if "requir" in tl:
        atoms = _drop_treating_drugs(t, atoms)
    lab_conds = {a.condition.site for a in atoms if isinstance(a, IfThen) and isinstance(a.condition, Metastasis)}
    if lab_conds:
        atoms = [a for a in atoms if not (isinstance(a, Metastasis) and a.site in lab_conds)]
    if any(isinstance(x, OvarianSuppression) for a in atoms for x in iter_atoms(a)) and \
            any(isinstance(x, MenopausalStatus) for a in atoms for x in iter_atoms(a)):
        # "must receive ovarian function suppression (e.g. goserelin)": her OFS status, not a therapy count
        atoms = [a for a in atoms if not (isinstance(a, PriorTherapy) and all(_is_ofs_agent(g) for g in a.agents))]
    therapies = [a.main if isinstance(a, Except) else a for a in atoms]
    therapies = [a for a in therapies if isinstance(a, PriorTherapy)]
    if any(a.settings != ["any"] for a in therapies) and any(isinstance(a, (Diagnosis, DiseaseExtent)) for a in atoms):
        # "treatment for advanced disease", "in the metastatic setting": the extent is the therapy's
        # setting, not a separate requirement on her disease; keep only what the rest of the clause says
        rest = _diagnosis(_SETTING_PHRASE.sub(" ", t), kind)
        keep = {type(a) for a in rest}
        atoms = [a for a in atoms if not isinstance(a, (Diagnosis, DiseaseExtent)) or type(a) in keep]
    if any(isinstance(a, Except) and isinstance(a.main, PriorTherapy) and any(
            isinstance(x, PriorTherapy) and "ovarian_function_suppression" in x.agents for x in iter_atoms(a.exception))
           for a in atoms):
        # "(except hormone therapy for ovarian suppression)": OFS is the excused therapy class, not her status
        atoms = [a for a in atoms if not isinstance(a, OvarianSuppression)]
    # "history of any adverse reaction to any ... corticosteroid therapy": a reaction to the drug, not its use
    al = _allergy(t) if has("allerg", "hypersens", "anaphyla", "intoleran", "adverse reaction", "adverse drug reaction",
                            "sensitivity to") else []
    if al:
        atoms = [a for a in atoms if not isinstance(a, PriorTherapy)] + al
    if ("mg" in tl or "mcg" in tl) and any(isinstance(a, (ConcomitantMedication, PriorTherapy)) for a in atoms):
        dm = _DOSE_ABOVE.search(t)
        if dm is not None:
            # "glucocorticoid therapy (prednisone > 10 mg/day or equivalent) within the last 2 weeks": only at
            # that dose; her dose is a fact of its own (unknown unless recorded), never taken as met
            atoms = [_dose_above(a, dm) for a in atoms]
    if conf is not None and (not atoms or conf.category in ("investigator_judgement", "contraception")):
        if not atoms or all(isinstance(a, (Condition,)) and a.condition in ("comorbidity",) for a in atoms):
            return [conf]
        atoms.append(conf)
    if not atoms and has("concurrent", "concomitant"):
        atoms += _concurrent_medication(t)
    if not atoms and has("use of", "treatment with", "receipt of", "administration of", "exposure to", "therapy with",
                         "intake of", "used ", "taken ", "received ") and _DIGIT.search(t):
        atoms += _use_within(t)
    if not atoms:
        atoms += _generic_condition(t)
    if not atoms:
        atoms += _condition_list(t, kind)
    if not atoms and has("condition", "illness", "disease", "disorder", "problem", "contraindicat"):
        vm = _VAGUE_COMORBIDITY.match(t)
        if vm is not None and not (vm.group("q").strip() or re.search(
                r"(?i)preclud|interfer|compromis|jeopardi|prohibit|unsafe|undesirable|\brisk|opinion|judg|affect|"
                r"\blimit|prevent|unrelated|complicat|impair|contraindicat", vm.group("rest"))):
            vm = None
        vm = vm or _CONTRAINDICATION.match(t)
        if vm is not None:
            atoms.append(NeedsConfirmation(
                category="investigator_judgement",
                reason=f"no defined condition: whether '{vm.group(0).strip()}' applies to her is a clinician's call"))
    return atoms


# a comorbidity named only by its severity or its effect ("Current severe, uncontrolled systemic disease",
# "No other medical condition that would preclude study participation"): a clinician's judgement
_VAGUE_COMORBIDITY = re.compile(
    r"(?i)^\W*(?:no\s+|any\s+|has\s+(?:an?\s+)?|have\s+(?:an?\s+)?)?(?:other\s+)?"
    r"(?P<q>(?:(?:current|concurrent|active|ongoing|coexisting|co-existing|intercurrent|serious|severe|uncontrolled|unstable|"
    r"significant|clinically\s+significant|major|life-threatening|poorly\s+controlled|acute|chronic)\s*(?:,|and/or|and|or)?\s+)*)"
    r"(?:(?:medical|systemic|nonmalignant|non-malignant|concomitant|concurrent|psychiatric|psychosocial|comorbid|co-morbid|"
    r"underlying|other)\s+(?:or\s+\w+\s+)?)*(?:conditions?|illness(?:es)?|diseases?|disorders?|problems?|comorbidit(?:y|ies))\b"
    r"(?P<rest>[^.;]{0,120})")
_CONTRAINDICATION = re.compile(r"(?i)^\W*(?:no\s+|any\s+)?(?:known\s+)?(?:medical\s+)?contraindications?\s+(?:to|for)\s+[^.;]{1,80}")




# a window at the end of a condition list ("... within 6 months prior to study entry", "in the past 3 months")
_LIST_WINDOW = re.compile(
    r"(?i)[\s,]*\b(?:within|in|during)\s+(?:the\s+)?(?:last|past|previous|prior|preceding)?\s*"
    r"(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)?\s*(?P<u>days?|weeks?|months?|years?|yrs?)\b"
    r"(?:\s+(?:of|before|prior\s+to|preceding|from)\s+[^,;()]{0,60})?\s*\.?\s*$")
_LIST_BAD = re.compile(r"(?i)\b(?:other|any|e\.g|i\.e|such as|including|which|that|who|whose|unless|except|if|when|requiring|"
                       r"required|due to|related to|resulting|treated|defined|considered|judged|opinion|investigator|"
                       r"likely|may|might|could|would|affect|interfere|preclude|prevent|study|trial|protocol|patients?|"
                       r"subjects?|participants?|use|using|used|taken|took|had|undergone|underwent|taking|receiving|"
                       r"received|treatment|therapy|medications?|"
                       r"drugs?|allerg\w*|hypersensitiv\w*|not|no|without|excluding|only|than|per|at|on|after|"
                       r"before|prior|during|since|for|by|with|from|to|in|of the|the)\b|\d|[<>≤≥=%:;]")
_CANCER_EXTENT_WORDS = re.compile(r"(?i)\b(?:visceral|metasta\w*|tumou?rs?|lesions?|extensive|progressive|measurable|"
                                  r"evaluable|residual|palpable|bulky|malignan\w*|cancers?|loco-?regional|axillary|nodal|"
                                  r"primary|recurrent|bone)\b")
_LIST_QUAL_WORDS = frozenset({"known", "active", "current", "prior", "previous", "documented", "chronic", "acute",
                              "severe", "mild", "moderate", "significant", "uncontrolled", "unstable", "symptomatic",
                              "pre-existing", "preexisting", "existing", "ongoing", "recurrent", "persistent", "new",
                              "suspected", "confirmed", "untreated", "treated", "serious", "clinically", "relevant"})
_SOFT_LEAD = re.compile(r"(?i)^\W*(?:no\s+)?(?:(?:prior|previous|known|documented|current|active|had|has\s+had|have\s+had|"
                        r"symptomatic|"
                        r"acute|chronic|severe|ongoing|concurrent|uncontrolled|significant|any)\s+(?:or\s+|and/or\s+)?)*")
_DISEASE_LIKE = re.compile(
    r"(?i)(?:itis|osis|emia|aemia|pathy|algia|oma|plegia|trophy|ectasis|megaly|mania|phobia|philia|penia|cytosis|"
    r"degeneration|disease|disorder|syndrome|failure|insufficiency|infection|ulcer|hernia|fistula|abscess|perforation|"
    r"obstruction|bleeding|hemorrhage|haemorrhage|thrombosis|embolism|effusion|ascites|dementia|epilepsy|seizures?|"
    r"psychosis|depression|diabetes|asthma|cirrhosis|hepatitis|stroke|angina|arrhythmia|infarction|accident|"
    r"schizophrenia|alcoholism|addiction|abuse|dependence|deficiency|malabsorption|colitis|fibrillation|block|"
    r"diarrh(?:o)?ea|nausea|vomiting|dyspn(?:o)?ea)s?$")
_LIST_MODIFIER = re.compile(r"(?i)(?:[a-z-]+\s+)?(?:[a-z-]+(?:al|ic|ar|ary|ous|ive|ory)|kidney|heart|lung|liver|bone|skin|eye|"
                            r"brain|bowel|stomach|artery|valve|joint|muscle|nerve|spine|spinal|thyroid|breast|colon)")
_LIST_HEADS = re.compile(r"(?i)\b(?:disease|diseases|disorders?|conditions?|syndromes?|dysfunction|insufficiency|failure|"
                         r"impairment|abnormalit(?:y|ies)|illness(?:es)?|infections?|injur(?:y|ies)|events?)$")


_GRADED_MARK = "zzgradedzz"  # stands for a grade of 2 or more in a list being split (letters only, as its items)
_GRADE_PHRASE = re.compile(r"(?i)\(?\b(?:nci[- ]?)?(?:(?:lown|nyha|ccs|gold|child[- ]?pugh|ctcae)\s*(?:v?\d(?:\.\d+)?\s*)?"
                           r"(?:class|grade|stage)?|class|grade)\s*"
                           r"(?:of\s*)?(?:[≥>]=?\s*)?(?P<g>iv|i{1,3}|[1-5])[abc]?\b(?:\s*(?:-|–|/|,|or|and|to|through|and/or)\s*"
                           r"(?:(?:class|grade)\s*)?(?:iv|i{1,3}|[1-5])[abc]?\b)*(?:\s*(?:or\s+(?:higher|greater|more|above)|\+))?\)?")


def _condition_list(t: str, kind: str) -> list:
    """"History of abdominal fistula, gastrointestinal perforation, or intra-abdominal abscess within 6 months",
    "Clinically significant coronary artery, cerebrovascular or peripheral vascular disease": any of the listed
    conditions (``AnyOf`` of ``Condition``, vocabulary keys else the names as written), with the window and the
    "clinically significant" qualifier the criterion states. Items sharing a head noun get it ("coronary
    artery ... disease"). Lists with an open item ("or any other ..."), an exception, a condition, a
    threshold or more than 5 words in an item are not taken."""
    m = _GENERIC_LEAD.match(t)
    soft = not m or not m.group(0).strip()
    if soft:
        # no "history of" lead ("No macular degeneration", "Documented cardiomyopathy"): only names of
        # diseases are taken (every item a vocabulary condition or ending like one)
        m = _SOFT_LEAD.match(t)
    lead = m.group(0).lower()
    rest = t[m.end():]
    rest = re.sub(r"\s*\((?:[^()]{0,80})\)", "", rest)  # acronyms and examples of the category
    # a grade on a scale ("NYHA class III or IV heart failure", "grade 3 or 4 neuropathy"): the grades joined by
    # "or" qualify the one condition beside them, they are not items of a list
    graded = _GRADE_PHRASE.search(rest)
    if graded is not None:
        g = graded.group("g").lower()
        mark = f" {_GRADED_MARK} " if (_GRADE_NUM.get(g) or int(g)) >= 2 else " "
        rest = (rest[:graded.start()] + mark + rest[graded.end():]).strip()
        if not re.sub(r"(?i)\b(?:with|of|and|or|" + _GRADED_MARK + r")\b", " ", rest).strip(" ,/-"):
            return []
    within = None
    wm = _LIST_WINDOW.search(rest)
    if wm:
        within = _dur(wm.group("n") or "one", wm.group("u"))
        rest = rest[:wm.start()]
    rest = rest.strip(" .,")
    if not rest or _LIST_BAD.search(rest):
        return []
    sep = r"\s*(?:,\s*(?:and/or|or|and)?|\band/or\b|\bor\b|/" + (r"|\band\b" if kind == "exclusion" or within else "") + r")\s*"
    items = [x.strip() for x in re.split(r"(?i)" + sep, rest) if x and x.strip()]
    if not items or (len(items) < 2 and within is None and not soft) or len(items) > 10:
        return []
    if soft and len(items) == 1 and items[0].split()[-1].lower() in _VAGUE_HEADS and len(items[0].split()) < 3 and \
            not vocab_find(vocab_regexes()["condition"], items[0]):
        return []  # "Palpable disease": not the name of a condition
    for it in items:
        w = it.split()
        if not 1 <= len(w) <= 5 or not all(re.fullmatch(r"[A-Za-z][A-Za-z'-]*", x) for x in w):
            return []
        if all(x.lower() in _LIST_QUAL_WORDS for x in w):
            return []  # "a known, pre-existing X": qualifiers of one condition, not a list
        if " and " in f" {it.lower()} " or all(x.lower() in _STOP or x.lower() in _VAGUE_HEADS for x in w):
            if not (len(items) > 1 and _LIST_HEADS.search(items[-1])):
                return []
    if soft and not all(_DISEASE_LIKE.search(it) or vocab_find(vocab_regexes()["condition"], it) for it in items):
        return []
    if soft and any(_CANCER_EXTENT_WORDS.search(it) for it in items):
        return []  # "Extensive visceral disease": the cancer's extent, not another condition
    head = _LIST_HEADS.search(items[-1])
    quals = ["clinically_significant"] if "clinically" in lead or "significant" in lead else []
    for q, rxq in (("uncontrolled", r"\buncontrolled\b"), ("severe", r"\bsevere\b"), ("symptomatic", r"\bsymptomatic\b"),
                   ("active", r"\bactive\b|\bongoing\b|\bcurrent\b")):
        if re.search(rxq, lead):
            quals.append(q)
    cond_rx = vocab_regexes()["condition"]
    out: list = []
    for i, it in enumerate(items):
        marked = _GRADED_MARK in it
        if marked:
            it = " ".join(w for w in it.split() if w != _GRADED_MARK)
            if not it:
                continue
        hits = vocab_find(cond_rx, it)
        if hits and hits[0][1] == 0 and hits[0][2] >= len(it.rstrip()) - 1:
            name = hits[0][0]
        else:
            name = " ".join(it.lower().split())
            if i < len(items) - 1 and len(items[-1].split()) > 1 and (
                    head and not _LIST_HEADS.search(it) or _LIST_MODIFIER.fullmatch(it)):
                # "coronary artery, ... vascular disease", "kidney, heart or lung transplants"
                name = f"{name} {items[-1].split()[-1].lower()}"
            if all(x in _STOP or x in _VAGUE_HEADS for x in name.split()):
                return []
        kw: dict[str, Any] = {"condition": name, "qualifiers": list(quals)}
        if marked and "severe" not in kw["qualifiers"]:
            kw["qualifiers"].append("severe")
        if within is not None:
            kw["within"] = within
        c = Condition(**kw)
        if not any(isinstance(o, Condition) and o.condition == name for o in out):
            out.append(c)
    if not out:
        return []
    return [out[0] if len(out) == 1 else AnyOf(items=out)]


_USE_WITHIN = re.compile(
    r"(?i)^\W*(?:no\s+)?(?:(?:has|have|had)\s+)?(?:(?:any|current|prior|previous|recent|concurrent|chronic|regular|systemic)\s+)*"
    r"(?:(?:use|treatment|therapy|receipt|administration|exposure|intake)\s+(?:of|with|to)|(?:used|taken|received))\s+"
    r"(?P<x>[^;:]+?)\s*(?:(?:within|in|during)\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+|preceding\s+)?"
    r"(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*(?P<u>days?|weeks?|wks?|months?|mo|years?|yrs?)\b|"
    r"(?P<n2>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*(?P<u2>days?|weeks?|wks?|months?|mo|years?|yrs?)\s+"
    r"(?:before|prior\s+to|preceding))(?P<rest>[^;]*)$")
# "up to 8 words" is written as words separated by spaces: the former ``(?:\w+\s*){0,8}?`` matched the
# same strings but could cut one long word into up to 8 pieces in every possible way before failing
# (catastrophic backtracking: milliseconds per clause)
_USE_REST_OK = re.compile(
    r"(?i)^\s*(?:(?:of|before|prior\s+to|preceding|from|until)\s+(?:the\s+)?(?:\w+(?:\s+\w+){0,7}\s*)?)?"
    r"(?:\((?:[^()]{0,40})\))?\s*\.?\s*$")
_USE_ITEM_BAD = re.compile(r"(?i)\b(?:protocol|prohibited|excluded|listed|specified|study|trial|investigational|known|that|which|"
                           r"may|might|could|would|affect|interact\w*|substances?|products?|devices?|procedures?|any\s+drugs?|"
                           r"any\s+medications?|other\s+drugs?|other\s+medications?|following|certain|such|these|those|"
                           r"regimen|vaccines?|vaccination|blood|transfusions?|radiation|radiotherapy|surgery|other|"
                           r"experimental|prescription|over-the-counter|otc|non-prescription)\b")


def _use_within(t: str) -> list:
    """"Use of leflunomide within 6 months of randomization", "Treatment with androgens or tamoxifen in the
    past 4 weeks": those drugs given within the window (``PriorTherapy`` with ``within``; vocabulary keys,
    else the names as written). Lists with generic or protocol-defined items ("any medication listed in
    the protocol", "drugs that may affect ...") are not taken."""
    m = _USE_WITHIN.match(t)
    if not m or not _USE_REST_OK.match(m.group("rest")):
        return []
    x = re.sub(r"\s*\((?:e\.?g\.?|i\.?e\.?|such as|including|for example)[^()]*\)", "", m.group("x"))
    x = re.sub(r"(?i)\s*\((?:[^()]{0,30})\)", "", x).strip(" ,.")
    if not x or _USE_ITEM_BAD.search(x):
        return []
    rx = vocab_regexes()
    agents: list[str] = []
    for it in re.split(r"(?i)\s*(?:,|/|\band/or\b|\bor\b|\band\b)\s*", x):
        it = re.sub(r"(?i)^(?:an?|the|any|other|all|systemic|oral|chronic)\s+", "", it.strip())
        if not it:
            continue
        words = it.split()
        if len(words) > 3 or not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", w) for w in words):
            return []
        if all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words):
            return []
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", it.lower()))
        if key is None and len(words) == 1 and re.search(r"(?i)(?:al|ous|ar|ic|ive)$", it):
            return []  # "intravenous, intramuscular, or oral corticosteroids": routes, not drugs
        name = key or it.lower()
        if name not in agents:
            agents.append(name)
    if not agents:
        return []
    dur = _dur(m.group("n") or m.group("n2"), m.group("u") or m.group("u2"))
    return [PriorTherapy(agents=agents, within=dur)]


_CONCURRENT = re.compile(
    r"(?i)^\W*(?:no\s+)?(?:other\s+)?(?:concurrent|concomitant)\s+(?:use\s+of\s+|treatment\s+with\s+|administration\s+of\s+|"
    r"therapy\s+with\s+)?(?:any\s+)?(?:other\s+)?(?P<x>[A-Za-z][A-Za-z/ ,-]{2,70}?)\s*(?:\((?:[^()]{0,40})\))?\s*\.?$")
_CONCURRENT_NOT_MED = re.compile(r"(?i)radi|surg|irradiat|participat|stud(?:y|ies)|trial|disease|illness|infection|"
                                 r"malignan|cancer|condition|disorder|pregnan|investigational|anticancer|anti-cancer|"
                                 r"chemotherap|hormon|endocrine|therapy\s+for|treatment\s+for|dose")


def _concurrent_medication(t: str) -> list:
    """"No concurrent herbal medications", "No concurrent fluconazole or lithium": she takes none of them
    now (``ConcomitantMedication``, vocabulary keys or the names as written); anything that is not a
    medication (radiotherapy, other trials, diseases) or a list with an item of more than 4 words is not
    taken."""
    m = _CONCURRENT.match(t)
    if not m or _CONCURRENT_NOT_MED.search(m.group("x")) or re.search(r"(?i)\b(?:for|of|in|with|to|as|at|on)\b",
                                                                         m.group("x")):
        return []
    rx = vocab_regexes()
    classes: list[str] = []
    for it in re.split(r"(?i)\s*(?:,|/|\band/or\b|\bor\b|\band\b)\s*", m.group("x")):
        it = re.sub(r"(?i)^(?:an?|the|any|other)\s+", "", it.strip())
        if not it:
            continue
        words = it.split()
        if len(words) > 4 or not all(re.fullmatch(r"[A-Za-z][A-Za-z-]*", w) for w in words):
            return []
        if all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words):
            return []
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", it.lower()))
        name = key or it.lower()
        if name not in classes:
            classes.append(name)
    return [ConcomitantMedication(classes=classes)] if classes else []


# fitness for a therapy as a judgement ("unfit for chemotherapy", "not a candidate for endocrine therapy",
# "eligible for treatment with fulvestrant", "chemotherapy is not indicated"), up to the therapy's words
_FITNESS_THERAPY = (r"(?:[\w/+-]+\s+){0,4}?(?:chemo\w*|therap\w*|treatments?|regimens?|surgery|surgical\s+\w+|"
                    r"resection|radiation|radiotherapy|transplant\w*|[a-z]+(?:mab|nib|lib|ciclib|strant|zole|fen|xifen|"
                    r"platin|taxel|rubicin))\b(?:\s+with\s+[\w-]+)?")
_FITNESS = re.compile(
    r"(?i)\b(?:(?:considered|deemed|judged)\s+(?:to\s+be\s+)?)?(?:(?:not|in)?\s*(?:un)?fit|(?:in)?eligible|"
    r"(?:not\s+)?(?:an?\s+|good\s+|suitable\s+|appropriate\s+)?candidates?|(?:un)?suitable|(?:in)?appropriate|"
    r"amenable|contraindicated)\s+(?:for|to(?:\s+receive)?)\s+(?:\w+\s+){0,2}?" + _FITNESS_THERAPY +
    r"|\b(?:refus\w*|declin\w*)\s+(?:to\s+(?:receive|undergo)\s+)?" + _FITNESS_THERAPY +
    r"|(?:chemo\w*|therap\w*|treatment)\s+(?:is\s+|are\s+)?(?:not\s+)?(?:indicated|contraindicated|an option)\b")

_WEIGHT_CHANGE = re.compile(
    r"(?i)\bweight\s+(?P<a>gain|loss|change|reduction)(?:\s*(?:or|and|and/or|/)\s*(?P<b>gain|loss))?|"
    r"\b(?P<c>gain|loss|lost|change|reduction|decrease|increase)(?:\s*(?:or|and|and/or|/)\s*(?P<d>gain|loss))?\s+"
    r"(?:of|in)\s+(?:(?:total|body)\s+)?weight|"
    # "Loss of more than 10% body weight", "loss of >5% of usual body weight"
    r"\b(?P<e>gain|loss|lost|reduction|decrease|increase)\s+(?:of\s+)?[^.;]{0,30}?\d[^.;]{0,12}?(?:of\s+)?"
    r"(?:(?:total|body|their|her|his|usual|baseline|ideal|the)\s+)+weight")


def _weight_change(t: str, atoms: list) -> None:
    """"Weight gain or loss of greater than 5 kg": a change in weight, not her weight (renames the
    ``Measurement`` in place to "weight change", "weight loss" or "weight gain")."""
    m = _WEIGHT_CHANGE.search(t)
    if not m:
        return
    words = {w.lower() for w in m.groups() if w}
    if words <= {"loss", "lost", "reduction", "decrease"}:
        name = "weight loss"
    elif words <= {"gain", "increase"}:
        name = "weight gain"
    else:
        name = "weight change"
    def fix(x):
        if isinstance(x, LabThreshold) and x.analyte in ("weight", "body_weight") and x.value is not None:
            return Measurement(name=name, comparator=x.comparator, value=x.value, unit=x.unit)
        if isinstance(x, Measurement) and (x.name in ("weight", "body weight", "body_weight", "loss", "gain", "change")
                                           or "weight" in x.name and re.search(r"(?i)gain|loss|chang", x.name)):
            x.name = name
        elif isinstance(x, (AllOf, AnyOf)):
            x.items = [fix(i) for i in x.items]
        return x

    atoms[:] = [fix(a) for a in atoms]


def _is_ofs_agent(key: str) -> bool:
    """An ovarian function suppression class or drug (goserelin, "LHRH agonist", ...)."""
    from trialmatch.vocab import class_ancestors, drug_classes

    return "ovarian_function_suppression" in drug_classes(key) or "ovarian_function_suppression" in class_ancestors(key)


def _combine(atoms: list, kind: str, t: str):
    if not atoms:
        return None
    if len(atoms) == 1:
        return atoms[0]
    if kind == "exclusion":
        return AnyOf(items=atoms)
    return AllOf(items=atoms)


def _apply_negation(expr, t: str):
    if expr is None or not _negated(t):
        return expr
    if isinstance(expr, _NUMERIC_KINDS) or isinstance(expr, (NeedsConfirmation, Unsupported)):
        return expr
    if isinstance(expr, PriorTherapy) and expr.lines.high is not None:
        return expr
    if isinstance(expr, (AllOf, AnyOf)):
        if any(isinstance(a, _NUMERIC_KINDS) for a in expr.items):
            return expr
        if any(isinstance(a, Not) and isinstance(a.item, Pregnancy) for a in expr.items):
            return expr  # "must not be pregnant or breastfeeding": the extractor negated each state already
        # "no A, B or C" -> none of them
        return Not(item=AnyOf(items=expr.items))
    if isinstance(expr, Pregnancy) or isinstance(expr, Not):
        return expr if isinstance(expr, Not) else Not(item=expr)
    return Not(item=expr)


_CLAUSE_OR = re.compile(r",\s*or\s+(?=(?:the\s+)?(?:patient|disease|subject|have|has|had|any|if|when|previous|prior|participants?|known|on\s+(?:one|two|three|a|an|\d|at least)\b|[a-z]+\s+(?:progress|relapse|after)))|;\s*or\s+", re.IGNORECASE)


def compile_criterion_text(text: str, kind: str = "inclusion"):
    """Compile one criterion's text.

    Identical texts compile once per process (criteria such as "Pregnant or breastfeeding" recur
    across thousands of trials): results are cached by ``(text, kind)`` and every call gets its
    own deep copy, so a caller that edits the expression cannot change what later calls get.

    Returns
    -------
    tuple
        ``(expression or None, status, reason)`` following the module's status rule.
    """
    expr, status, reason = _compile_criterion_cached(text.strip(), kind)
    return (_clone(expr) if expr is not None else None), status, reason


def _clone(x):
    """Deep copy of an expression tree: nodes, their lists and nested models (ranges, durations) are
    new objects; strings and numbers are shared (immutable). Several times faster than
    ``model_copy(deep=True)``, which goes through :func:`copy.deepcopy` for every value."""
    if isinstance(x, list):
        return [_clone(v) for v in x]
    if not isinstance(x, BaseModel):
        return x
    # what ``BaseModel.__copy__`` does, without its generic handling of private attributes (the
    # expression nodes have none): a new __dict__ (nested nodes and lists cloned) and fields-set
    cls = x.__class__
    new = cls.__new__(cls)
    d = {}
    for k, v in x.__dict__.items():
        d[k] = _clone(v) if isinstance(v, (list, BaseModel)) else v
    _SET(new, "__dict__", d)
    _SET(new, "__pydantic_fields_set__", set(x.__pydantic_fields_set__))
    extra = x.__pydantic_extra__
    _SET(new, "__pydantic_extra__", None if extra is None else dict(extra))
    private = x.__pydantic_private__
    _SET(new, "__pydantic_private__", None if private is None else dict(private))
    return new


_SET = object.__setattr__


# a definition ("Women are considered postmenopausal when >= 54 years", "Childbearing potential is
# defined as ..."): it says what a word means, not what she must be; its main verb is the defining one
_DEFINITION_GATE = ("consider", "defin", "regarded", "deemed")
_DEFINITION = re.compile(
    r"(?i)^(?P<head>[^.;:()]{0,80}?)\b(?<!who )(?<!that )(?<!which )(?:is|are|will be|shall be|would be|should be|can be)\s+"
    r"(?:considered|defined|regarded|deemed)(?:\s+as|\s+to\s+be)?\b(?!\s+(?:eligible|ineligible|(?:a\s+)?candidates?|"
    r"excluded|included|unfit|fit|suitable|unsuitable|not\s+eligible|appropriate|inappropriate|at\s+(?:high|increased)\s+risk))")
# "Postmenopausal status, defined as age >= 60 or ...": the status is the requirement; the definition is
# the matcher's own menopause rule (an age gate made of it would shut out younger postmenopausal women)
_DEFINED_AS = re.compile(r"(?i)[\s,(]*\b(?:as\s+)?(?:defined|determined|documented|confirmed)\s+(?:as|by)\b")


def _definition(t: str, kind: str):
    """``(expression, status, reason)`` for a definition, or None when ``t`` is not one."""
    tl = t.lower()
    if not _has_any(tl, _DEFINITION_GATE):
        return None
    m = _DEFINITION.match(t)
    if m and not _NEG_LEAD.match(m.group("head")) and not re.search(r"(?i)\b(?:must|should|if|unless|patients?\s+with)\b",
                                                                        m.group("head")):
        return None, "compiled", "not a requirement: a definition of a term used by other criteria"
    if "menopaus" in tl and "defin" in tl:
        dm = _DEFINED_AS.search(t)
        if dm:
            head = t[:dm.start()]
            atoms = _compile_clause(head, kind) if "menopaus" in head.lower() else []
            if atoms and any(isinstance(x, MenopausalStatus) for a in atoms for x in iter_atoms(a)) and not any(
                    isinstance(x, Unsupported) for a in atoms for x in iter_atoms(a)):
                expr = _apply_negation(_combine(atoms, kind, head), head)
                return expr, *_status(expr)
    return None


# a requirement of the patients of one age group only: "Patients ages 50-65 must provide a negative colonoscopy
# report", "For participants ≥18 years of age: ability to provide informed consent", "For minor patients (ages
# 12 to 17 years), the ICF must be signed by a parent". The age says whom the requirement concerns, it is not an
# age limit of the trial: IfThen(age, requirement), which does not apply to a patient of another age.
_AGE_COND_SUBJ = (r"(?:(?:female|male|adult|minor|pediatric|paediatric|all|any)\s+)?(?:patients?|subjects?|participants?|"
                  r"women|men|females?|males?|individuals?|those|persons?|children|adolescents?|volunteers?)")
_AGE_COND_AGE = r"(?P<age>\(\s*(?:aged?|ages)\b[^()]{0,80}\)|\(?\s*(?:who\s+are\s+|that\s+are\s+)?(?:aged?\b|ages\b|between\b|over\b|under\b|older\b|younger\b|[<>≤≥]|\d)[^.;:()]{0,50}?\)?)"
_AGE_COND_LEAD = re.compile(r"(?i)^\W*(?:for|if|in)\s+" + _AGE_COND_SUBJ + r"\s*" + _AGE_COND_AGE +
                            r"\s*(?:[:,]|\)|(?=\s+(?:the|a|an|must|should|will|are|is)\b))\s*(?P<rest>\S.*)$", re.S)
_AGE_COND_MODAL = re.compile(r"(?i)^\W*" + _AGE_COND_SUBJ + r"\s+" + _AGE_COND_AGE +
                             r"(?:\s*\([^()]{0,30}\))?\s*,?\s+(?P<rest>(?:must|should|(?:are|is|will\s+be)\s+required\s+to|will\s+need\s+to|"
                             r"need\s+to)\s+\S.*)$", re.S)
_SENTENCE_SPLIT = re.compile(r"(?<=[a-z0-9)\]]\.)\s+(?=[A-Z])")


def _age_conditional(t: str, kind: str):
    """``(expression, status, reason)`` when some sentence of ``t`` is a requirement of one age group only
    (see ``_AGE_COND_LEAD``), else None."""
    if kind != "inclusion" or not _age_gate(t):
        return None
    sentences = [x for x in _SENTENCE_SPLIT.split(t) if x.strip()]
    conds = []
    for sent in sentences:
        m = _AGE_COND_LEAD.match(sent) or _AGE_COND_MODAL.match(sent)
        cond = _age(m.group("age")) if m else []
        conds.append((m, cond[0]) if m and len(cond) == 1 and isinstance(cond[0], (Age, AllOf, AnyOf)) else None)
    if not any(conds):
        return None
    exprs = []
    for sent, mc in zip(sentences, conds):
        if mc is not None:
            m, cond = mc
            rest = m.group("rest").strip()
            e, st, _why = compile_criterion_text(rest, kind)
            if e is None or st == "unsupported":
                e = NeedsConfirmation(category="other", reason=f"required of patients of that age only: "
                                                               f"{rest.strip(' .;')[:100]!r}")
            exprs.append(IfThen(condition=cond, then=e))
            continue
        e, st, _why = compile_criterion_text(sent, kind)  # a single sentence without an age group: no recursion
        if e is None:
            continue
        exprs.append(e)
    if not exprs:
        return None
    expr = exprs[0] if len(exprs) == 1 else AllOf(items=exprs)
    return expr, *_status(expr)


# a requirement of the patients with one condition only: "Patients with HCL must have received at least one prior
# purine analog", "Subjects with diabetes must have HbA1c < 8%". The condition says whom the requirement concerns;
# it is not itself required: IfThen(condition, requirement), as for an age group (``_age_conditional``). A statement
# about them ("Patients with lupus are not eligible / should be excluded") is the condition's absence (inclusion) or
# presence (exclusion); "Patients with treated brain metastases are eligible" states what is allowed.
_COND_COND = re.compile(
    r"(?i)^\W*" + _AGE_COND_SUBJ + r"\s+(?:with|who\s+have|who\s+has|having|diagnosed\s+with)\s+(?P<cond>[^.;:]{2,80}?)"
    r"\s*,?\s+(?P<rest>(?:must|should|shall|(?:are|is|will\s+be)\s+required\s+to|will\s+need\s+to|need\s+to|"
    r"(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:not\s+)?(?:eligible|ineligible|excluded|included|"
    r"allowed|permitted|acceptable)\b)(?:\s+\S.*|\W*))$", re.S)
_COND_COND_EXCLUDED = re.compile(
    r"(?i)^(?:(?:must|should|shall|will)\s+(?:be\s+excluded|not\s+be\s+(?:eligible|included|enrolled|entered|allowed|"
    r"permitted))|(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:not\s+(?:eligible|included|allowed|"
    r"permitted|acceptable)|ineligible|excluded))\b(?![^.;]*\b(?:unless|if|except|provided|until)\b)")
_COND_COND_ALLOWED = re.compile(
    r"(?i)^(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:eligible|included|allowed|permitted|acceptable)"
    r"(?:\s+(?:to\s+(?:participate|enrol+|enter)|(?:in|into|for|on)\s+(?:this|the)\s+(?:study|trial|protocol)))?\W*$")
_COND_COND_STATEMENT = re.compile(r"(?i)^(?:are|is|will\s+be|shall\s+be|would\s+be)\b")
# whom a requirement about pregnancy or contraception concerns ("Patients with the potential for pregnancy must
# agree ...", "Female patients with infants must agree not to breastfeed"): read by the pregnancy extractors
_COND_COND_NOT_A_CONDITION = re.compile(r"(?i)potential|childbearing|pregnan|infants?\b|breast-?feed|partners?\b|"
                                        r"\bfollowing\b|\bcriteria\b")


def _condition_conditional(t: str, kind: str):
    """``(expression, status, reason)`` when ``t`` is one sentence about the patients with a condition only (see
    ``_COND_COND``), else None."""
    if len([x for x in _SENTENCE_SPLIT.split(t) if x.strip()]) != 1:
        return None
    m = _COND_COND.match(t)
    if m is None:
        return None
    cond_text = m.group("cond").strip()
    rest = m.group("rest").strip()
    statement = _COND_COND_STATEMENT.match(rest) is not None
    excluded = _COND_COND_EXCLUDED.match(rest) is not None
    if kind != "inclusion" and not excluded:
        return None
    if statement and not excluded and _COND_COND_ALLOWED.match(rest) is None:
        return None  # "are eligible and must be progressing": read as before
    if _NEG_LEAD.match(cond_text) or _COND_COND_NOT_A_CONDITION.search(cond_text) or re.search(
            r"(?i)\b(?:no|not|without|if|unless|except)\b", cond_text):
        return None
    ce, cs, _ = compile_criterion_text(f"Patients with {cond_text}", "inclusion")
    if ce is None or cs != "compiled" or any(isinstance(a, (NeedsConfirmation, Unsupported, Age, Sex))
                                             for a in iter_atoms(ce)):
        return None
    if isinstance(ce, AllOf) and re.search(r"(?i)\bor\b", cond_text) and not re.search(r"(?i)\band\b", cond_text):
        ce = AnyOf(items=ce.items)  # "a history of cardiac disease or mediastinal radiation": either
    if excluded:
        expr = ce if kind == "exclusion" else Not(item=ce)
        return expr, *_status(expr)
    if statement:
        return None, "compiled", "not a requirement: states what is allowed"
    e, st, _why = compile_criterion_text(rest, kind)
    if e is None or st == "unsupported" or e == ce:
        e = NeedsConfirmation(category="other", reason=f"required of patients with {cond_text[:60]!r} only: "
                                                       f"{rest.strip(' .;')[:100]!r}")
    expr = IfThen(condition=ce, then=e)
    return expr, *_status(expr)


def _semicolon_parts(t: str) -> list[str] | None:
    """Top-level "; "-separated requirements when a negation would otherwise cross the semicolon
    ("Measurable disease; no prior chemotherapy for metastatic disease": the "no" is the second
    requirement's only), else None (the clause is read as one)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(t):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            parts.append(t[start:i])
            start = i + 1
    parts.append(t[start:])
    parts = [p for p in parts if p.strip(" .,;")]
    if len(parts) < 2:
        return None
    kept = [p for p in parts if not _is_permission(p)]  # "no prior chemotherapy; prior hormonal therapy allowed"
    if not kept:
        return None
    negs = [_negated(p) for p in kept]
    if not any(negs[1:]) and len(kept) == len(parts):
        return None
    parts = kept
    # a negated part starts a group that keeps the parts after it up to the next negated one ("no A; B;
    # C": a list under one "no", read as one clause as before); the parts before it form the first group
    groups: list[str] = []
    for p, neg in zip(parts, negs):
        if neg or not groups:
            groups.append(p)
        else:
            groups[-1] += ";" + p
    return groups


def _compile_semicolon_parts(parts: list[str], kind: str):
    """Each part compiled with its own negation; inclusion: all must hold, exclusion: any excludes.
    A permission among them ("hormonal therapy allowed") is not a check; a part with no recognised
    requirement is ``Unsupported`` (never dropped)."""
    exprs = []
    for p in parts:
        if _is_permission(p):
            continue
        atoms = _compile_clause(p, kind)
        if not atoms:
            exprs.append(Unsupported(reason=f"no compilable requirement recognised in: {p.strip()[:120]!r}"))
            continue
        exprs.append(_apply_negation(_combine(atoms, kind, p), p))
    if not exprs:
        return Unsupported(reason="no compilable requirement recognised")
    if len(exprs) == 1:
        return exprs[0]
    return AnyOf(items=exprs) if kind == "exclusion" else AllOf(items=exprs)


@lru_cache(maxsize=65536)
def _compile_criterion_cached(t: str, kind: str):
    """:func:`compile_criterion_text` on stripped text; cached, so never mutate what it returns."""
    if not t:
        return None, "unsupported", "empty criterion"
    if _is_permission(t, kind):
        return None, "compiled", "not a requirement: states what is allowed"
    d = _definition(t, kind)
    if d is not None:
        return d
    d = _age_conditional(t, kind)
    if d is not None:
        return d
    d = _condition_conditional(t, kind) if (" with " in t or " who ha" in t or " having " in t or "diagnosed" in t) \
        else None
    if d is not None:
        return d
    # every separator of _CLAUSE_OR starts with "," or ";": without one the split would return [t]
    parts = [p for p in (_CLAUSE_OR.split(t) if "," in t or ";" in t else (t,)) if p.strip()]
    exprs = []
    for p in parts:
        semi = _semicolon_parts(p) if ";" in p else None
        if semi is not None:
            exprs.append(_compile_semicolon_parts(semi, kind))
            continue
        atoms = _compile_clause(p, kind)
        if not atoms:
            exprs.append(Unsupported(reason=f"no compilable requirement recognised in: {p.strip()[:120]!r}"))
            continue
        if kind == "inclusion" and len(parts) == 1 and len(atoms) > 1 and any(isinstance(a, LabThreshold) for a in atoms) is False:
            pass
        e = _combine(atoms, kind, p)
        exprs.append(_apply_negation(e, p))
    if len(exprs) == 1:
        expr = exprs[0]
    else:
        confirms = [e for e in exprs if isinstance(e, NeedsConfirmation)]
        if len(confirms) == len(exprs) and len({c.category for c in confirms}) == 1:
            expr = confirms[0]
        else:
            expr = AnyOf(items=exprs)
    return expr, *_status(expr)


def _status(expr) -> tuple[str, str | None]:
    atoms = list(iter_atoms(expr))
    unsup = [a for a in atoms if isinstance(a, Unsupported)]
    if unsup:
        return "unsupported", "; ".join(a.reason for a in unsup)
    conf = [a for a in atoms if isinstance(a, NeedsConfirmation)]
    if conf and len(conf) == len(atoms):
        return "needs_confirmation", conf[0].reason
    return "compiled", None


# ----------------------------------------------------------------------------- trial level
_IMMUTABLE = (type(None), bool, int, float, str)


@cache
def _plain_fields(cls: type) -> tuple | None:
    """``(name, required, default)`` per field of a model class whose fields ``_construct`` can fill
    itself (no aliases, no default factories, immutable defaults, no extra fields kept, no post-init),
    else None."""
    if cls.model_config.get("extra") == "allow" or cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        return None
    out = []
    for name, f in cls.__pydantic_fields__.items():
        if f.alias is not None or f.validation_alias is not None or f.default_factory is not None:
            return None
        required = f.is_required()
        if not required and not isinstance(f.default, _IMMUTABLE):
            return None
        out.append((name, required, f.default))
    return tuple(out)


def _construct(cls, **values):
    """``cls.model_construct(**values)``, the same object, faster: pydantic's version looks up aliases
    and copies defaults field by field for every call, which cost about 3% of compiling with one
    ``Criterion`` per criterion. Models it cannot fill this way (see ``_plain_fields``) go to pydantic."""
    spec = _plain_fields(cls)
    if spec is None:
        return cls.model_construct(**values)
    d = {}
    fields_set = set()
    for name, required, default in spec:
        if name in values:
            d[name] = values[name]
            fields_set.add(name)
        elif not required:
            d[name] = default  # immutable: what pydantic's copy of the default would be
    m = cls.__new__(cls)
    _SET(m, "__dict__", d)
    _SET(m, "__pydantic_fields_set__", fields_set)
    _SET(m, "__pydantic_extra__", None)
    _SET(m, "__pydantic_private__", None)
    return m


def _build(splits: list[SplitCriterion], trial_id: str, source: str, source_text: str) -> CompiledCriteria:
    crits = []
    texts = {sc.id: sc.text for sc in splits}
    for sc in splits:
        if _maybe_placeholder(sc.text) and _PLACEHOLDER.match(sc.text):
            crits.append(Criterion.model_construct(
                id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span), parent=sc.parent, expression=None,
                status="compiled", reason=f"not a criterion: placeholder text {sc.text.strip()[:40]!r}"))
            continue
        if not sc.children and _is_permission(sc.text, sc.kind):
            crits.append(Criterion.model_construct(
                id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span), parent=sc.parent, expression=None,
                status="compiled", reason="not a requirement: states what is allowed"))
            continue
        if sc.alternatives:
            expr, status, reason = _compile_alternatives(sc, source_text)
        else:
            expr, status, reason = compile_criterion_text(sc.text, sc.kind)
        if status == "unsupported" and sc.parent is not None and not sc.children and not sc.alternatives:
            # PDQ-style lists put the subject in the heading and the value in the item ("Age:" /
            # "18 to 70", "Life expectancy:" / "More than 2 months"): read the item with its heading
            head = texts.get(sc.parent, "").strip()
            if len(head) <= 40 and _BARE_VALUE.match(sc.text) and not re.search(r"\d", head):
                e2, s2, r2 = compile_criterion_text(f"{head} {sc.text}", sc.kind)
                if s2 != "unsupported":
                    expr, status, reason = e2, s2, r2
            elif head and len(head) <= 200 and len(sc.text) <= 60 and _bare_drug(sc.text):
                # a drug listed under its heading ("No concurrent treatment with any of the following:" /
                # "Ritonavir"): the item read with its heading, kept only when that names the drug
                e2, s2, r2 = compile_criterion_text(f"{head} {sc.text.strip(' .;,')}", sc.kind)
                if s2 == "compiled" and _names_drug(e2, _bare_drug(sc.text)):
                    expr, status, reason = e2, s2, r2
            if status == "unsupported" and head and len(head) <= 240 and len(sc.text) <= 50:
                # "At least 7 days since prior and no concurrent CYP3A4 inhibitors, including:" / "Nelfinavir":
                # the heading's one therapy check, for the drug the item names
                e2 = _listed_under(head, sc.text, sc.kind)
                if e2 is not None:
                    expr, (status, reason) = e2, _status(e2)
        if sc.children:
            # a parent whose own words carry no check is a header ("... meets the following criteria:")
            own = _compile_clause(sc.text.split(":")[0], sc.kind) if sc.text.rstrip().endswith(":") or ":" in sc.text else None
            if ":" in sc.text and not own:
                expr, status, reason = None, "compiled", f"introduces {len(sc.children)} sub-criteria"
            elif ":" in sc.text and own:
                expr = _combine(own, sc.kind, sc.text)
                expr = _apply_negation(expr, sc.text)
                status, reason = _status(expr)
            elif status == "unsupported":
                expr, status, reason = None, "compiled", f"introduces {len(sc.children)} sub-criteria"
        elif status == "unsupported" and sc.text.rstrip().endswith(":") and len(sc.text) <= 80 and (
                sc.text.isupper() or _any(r"characteristics|therapy|criteria|following|must have|must be|include", sc.text)):
            # a section heading ("PRIOR CONCURRENT THERAPY:", "Patients must have:") whose items follow as
            # criteria of their own
            expr, status, reason = None, "compiled", "section heading: the criteria that follow carry the checks"
        # inputs are already valid (typed expression nodes, str/int fields): skip pydantic's validation
        crits.append(_construct(Criterion, id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span),
                                parent=sc.parent, expression=expr, status=status, reason=reason))
    _demote_list_headers(crits)
    _listed_types_as_alternatives(crits)
    return CompiledCriteria.model_construct(trial_id=trial_id, compiler_version=COMPILER_VERSION, source=source,
                                            criteria=crits, source_text=source_text)


_LIST_INTRO = re.compile(r"(?i)[\s,;(-]*(?:\b(?:including|such as|e\.g\.?|i\.e\.?|for example|as follows|like)\b)?[\s,]*"
                         r"(?:\b(?:any|one|all|each)\s+(?:or\s+more\s+)?of\s+)?(?:\bthe\s+)?(?:\bfollowing|\bthese|\bbelow)?"
                         r"(?:\s+(?:drugs?|medications?|agents?|medicines?|inhibitors?|inducers?|compounds?|substances?))?"
                         r"(?:\s*\(\s*(?:list\s+)?not\s+(?:all-?inclusive|exhaustive)\s*\))?\s*:?\s*$")
_ITEM_NAME = re.compile(r"(?i)^[\s\-•*]*(?P<n>[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z][A-Za-z0-9-]*){0,2})\s*(?:\([^()]{0,40}\))?[\s.;,]*$")


_LIST_HEAD_MED = re.compile(
    r"(?i)\b(?:concurrent(?:ly)?|concomitant|currently\s+(?:receiving|taking|using|on)|(?:is|are)\s+(?:receiving|taking)|"
    r"(?:use|treatment|administration|receipt)\s+(?:of|with)|(?:have|has)\s+received|received)\b")
_LIST_HEAD_NOT_MED = re.compile(r"(?i)\b(?:dose|doses|dosing|change|changes|stable|allowed|permitted|acceptable|except|unless|"
                                r"may|can|if|provided|discontinu\w*|stop\w*|prior\s+to\s+the\s+(?:first|start))\b")


def _listed_under(head: str, item: str, kind: str):
    """The heading's single therapy check (``PriorTherapy`` or ``ConcomitantMedication``) applied to the
    drug an item names, or None (no such check, several of them, or an item that is not a name)."""
    m = _ITEM_NAME.match(item)
    if not m:
        return None
    name_t = m.group("n")
    words = name_t.lower().split()
    if all(w in _STOP or w in _FREE_AGENT_STOP for w in words) or words[0] in _VAGUE_HEADS:
        return None
    key = _bare_drug(name_t)
    if key is None:
        return None  # only vocabulary drugs: "Chemistry" is a heading, an unknown name may be anything
    if kind == "exclusion" and _negated(head):
        return None  # "No concurrent ..." under exclusions: its sense is the heading's problem, not copied
    intro = _LIST_INTRO.search(head)
    head_t = head[:intro.start()] if intro and intro.start() > 0 else head
    pe, ps, _ = compile_criterion_text(head_t, kind)
    targets = [a for a in iter_atoms(pe) if isinstance(a, (PriorTherapy, ConcomitantMedication))] \
        if pe is not None and ps == "compiled" else []
    if not targets:
        # "No concurrent administration of any of the following drugs:", "Have received any of the following
        # within 28 days prior to ...": a medication heading that names no drug of its own
        hm = _LIST_HEAD_MED.search(head_t)
        if hm is None or _LIST_HEAD_NOT_MED.search(head_t):
            return None
        wm = re.search(r"(?i)\bwithin\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME, head_t)
        if wm:
            atom = PriorTherapy(agents=[key], within=_dur(wm.group(1), wm.group(2)))
        elif re.search(r"(?i)concurrent|concomitant|currently|taking|receiving|\bon\b", hm.group(0)):
            atom = ConcomitantMedication(classes=[key])
        else:
            atom = PriorTherapy(agents=[key])
        return Not(item=atom) if _negated(head_t) else atom
    if len(targets) != 1 or any(isinstance(a, (Except, IfThen)) for a in _nodes(pe)):
        return None
    a = targets[0]
    if isinstance(a, PriorTherapy):
        a.agents = [key]
        a.lines = Range(low=1)
    else:
        a.classes = [key]
    return pe


def _nodes(x):
    yield x
    for k in ("items", "item", "main", "exception", "condition", "then", "otherwise"):
        v = getattr(x, k, None)
        if isinstance(v, list):
            for i in v:
                yield from _nodes(i)
        elif isinstance(v, BaseModel):
            yield from _nodes(v)


def _bare_drug(text: str) -> str | None:
    """The vocabulary key of an item that is only a drug or class name ("Ketoconazole", "Steroids")."""
    t = text.strip(" .;,*-•")
    if not t or len(t.split()) > 4:
        return None
    rx = vocab_regexes()
    m = rx["agent"].fullmatch(t)
    if m is None:
        return None
    return rx["agent_names"].get(_SEP_RUN.sub(" ", t.lower())) or rx["agent_names"].get(t.lower())


def _names_drug(expr, key: str | None) -> bool:
    if not key or expr is None:
        return False
    for a in iter_atoms(expr):
        if isinstance(a, PriorTherapy) and key in a.agents or isinstance(a, ConcomitantMedication) and key in a.classes \
                or isinstance(a, Allergy) and key in a.substances:
            return True
    return False


_TRAILING_OR = re.compile(r"(?i)[\s,;]*\b(?:and/or|and or|or/and|or)\W*$")


def _compile_alternatives(sc: SplitCriterion, source_text: str):
    """A criterion joined from sibling lines ending in "or": ``AnyOf`` of its lines, each compiled
    on its own (the trailing "or" removed); unsupported when any line is (the status rule)."""
    exprs = []
    for a, b in sc.alternatives:
        part = _TRAILING_OR.sub("", source_text[a:b])
        e, st, _why = compile_criterion_text(part, sc.kind)
        if e is None:  # a permission or an empty line among alternatives: nothing to check there
            e = Unsupported(reason=f"no check in the alternative {part.strip()[:80]!r}")
        exprs.append(e)
    expr = exprs[0] if len(exprs) == 1 else AnyOf(items=exprs)
    return expr, *_status(expr)


# an item that is only a value ("18 to 70", "More than 2 months", "0-2", "18 and over"): its subject is the heading
_BARE_VALUE = re.compile(
    r"(?i)^\W*(?:(?:at least|more than|less than|greater than|over|under|no more than|not more than|up to|between|"
    r"from|[<>≤≥]=?)\s*)?\d[\d.,]*\s*(?:(?:-|–|to|and)\s*\d[\d.,]*)?\s*(?:%|years?|months?|weeks?|days?)?"
    r"\s*(?:(?:and|or)\s+(?:over|older|above|under|younger|more|greater|less|better))?\W*$")


def _demote_list_headers(crits: list[Criterion]) -> None:
    """A parent ending with ":" whose own words only restate what its sub-criteria check ("Breast cancer
    meets the following criteria:" over "histologically confirmed breast cancer ..."), or only say that
    a function must be adequate ("Adequate organ function:" over the lab thresholds), is a header:
    the children carry the checks."""
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    for c in crits:
        if c.expression is None or c.id not in kids or not c.text.rstrip().endswith(":"):
            continue
        own = list(iter_atoms(c.expression))
        child_kinds = {a.kind for k in kids[c.id] if k.expression is not None for a in iter_atoms(k.expression)}
        vague = all(isinstance(a, NeedsConfirmation) and (a.reason or "").startswith("no defined threshold") for a in own)
        if vague or all(a.kind in child_kinds and a.kind not in ("confirm", "unsupported") for a in own):
            c.expression, c.status = None, "compiled"
            c.reason = f"introduces {len(kids[c.id])} sub-criteria, which carry its checks"


# a heading that lists kinds of one disease ("Histologically confirmed indolent B-cell NHL, including any of the
# following subtypes:", "The patient has one of the following types of indolent B-cell lymphoma:", "Diagnosis of 1 of
# the following NHL subtypes:"): its items are alternatives (or examples) of the one diagnosis, not each required
_ALTERNATIVES_HEAD = re.compile(
    r"(?i)\b(?:(?:one|1|any|either)\s+(?:or\s+more\s+)?of\s+(?:the\s+)?(?:following|these|below)|including|such\s+as|e\.g\.?|"
    r"for\s+example|(?:sub)?types?|subtypes|histolog(?:y|ies|ical\s+subtypes?)|categories|varieties|forms?\s+of)\b")
_DIAGNOSIS_KINDS = (Diagnosis, Condition)


def _only_diagnoses(expr) -> bool:
    atoms = list(iter_atoms(expr)) if expr is not None else []
    return bool(atoms) and all(isinstance(a, _DIAGNOSIS_KINDS) for a in atoms) and not any(
        isinstance(n, (Not, Except, IfThen)) for n in _nodes(expr))


def _listed_types_as_alternatives(crits: list[Criterion]) -> None:
    """Inclusion sub-criteria that each only name a diagnosis, listed under a heading that introduces kinds of a
    disease (``_ALTERNATIVES_HEAD``, or a heading ending with ":" that itself names only a diagnosis), are one
    requirement: the heading gets ``AnyOf`` of them and each item becomes part of it (expression None, the reason
    names the heading). Only the leading run of such items is taken (a list of subtypes may be followed by
    requirements of their own the splitter put under the same heading)."""
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    parents = {c.parent for c in crits if c.parent is not None}
    for c in crits:
        if c.kind != "inclusion" or c.id not in kids or c.status == "unsupported":
            continue
        head = c.text.strip()
        own = c.expression
        if own is None and head.endswith(":"):
            own = compile_criterion_text(head.rstrip(":"), c.kind)[0]  # a heading demoted by _demote_list_headers
        if not (_ALTERNATIVES_HEAD.search(head) or (head.endswith(":") and _only_diagnoses(own))):
            continue
        if c.expression is not None and not _only_diagnoses(c.expression):
            continue
        if not head.endswith(":") and c.expression is not None:
            continue
        run = []
        for k in kids[c.id]:
            if k.id in parents or k.status != "compiled" or not _only_diagnoses(k.expression):
                break
            run.append(k)
        if len(run) < 2:
            continue
        items: list = []
        for k in run:  # "Mantle cell lymphoma", "Follicular lymphoma": the same check once
            if not any(k.expression == x for x in items):
                items.append(_clone(k.expression))
        c.expression = items[0] if len(items) == 1 else AnyOf(items=items)
        c.status, c.reason = "compiled", f"one of the {len(run)} kinds listed under it ({run[0].id}-{run[-1].id})"
        for k in run:
            k.expression, k.status = None, "compiled"
            k.reason = f"one of the alternatives listed under {c.id}: checked there"


def compile_text(text: str, trial_id: str, source: str = "criteria_text") -> CompiledCriteria:
    """Compile eligibility criteria text.

    Parameters
    ----------
    text : str
        Criteria text as written (or a population sentence when ``source="document_prose"``).
    trial_id : str
    source : str
        "criteria_text" (split on headers/bullets), "document_prose" (population prose: one
        criterion per recognised check), or "title_and_summary".

    Returns
    -------
    CompiledCriteria
        Spans index into ``text`` (kept as ``source_text``).
    """
    text = text or ""
    if source in ("document_prose", "title_and_summary"):
        splits = split_prose(text)
    else:
        splits = split_criteria(text)
    cc = _build(splits, trial_id, source, text)
    if source in ("document_prose", "title_and_summary"):
        for c in cc.criteria:  # the sentence is a header: its checks are the children
            if c.parent is None and any(d.parent == c.id for d in cc.criteria):
                c.expression, c.status, c.reason = None, "compiled", "population sentence: its checks are the sub-criteria"
    return cc


_POP_RE = re.compile(r"(?i)\b(?:randomly assigned|enrolled|included|eligible were|recruited)\s+((?:pre|peri|post)?-?menopausal\s+)?(?:women|patients|men|adults|participants)\s+with\s+[^.()]+?(?=\s+to\s+|\.|\(|$)")


def compile_criteria(trial) -> CompiledCriteria:
    """Compile a :class:`~trialmatch.trials.model.Trial`'s eligibility.

    Uses ``trial.eligibility.criteria_text`` when present (``source="criteria_text"``, or
    ``"document_prose"`` when the reader marked it as prose); otherwise the population sentence of
    the summary/description ("randomly assigned postmenopausal women with ...": ``document_prose``);
    otherwise what the title and summary state (``title_and_summary``: HR-high expression,
    advanced breast cancer, endocrine resistance), with spans into ``"title\\n\\nsummary"``.
    Never raises on odd text: a criterion that fails to compile becomes ``Unsupported``.
    """
    elig = trial.eligibility
    text = elig.criteria_text if elig is not None else None
    if text and text.strip():
        src = elig.criteria_source or ""
        if "prose" in src.lower() or "population" in src.lower():
            return compile_text(text, trial.id, source="document_prose")
        return compile_text(text, trial.id)
    for field_text in (trial.brief_summary, trial.description):
        if not field_text:
            continue
        m = _POP_RE.search(field_text)
        if m:
            start = m.start(1) if m.group(1) else m.start()
            sent = field_text[start:m.end()]
            cc = compile_text(sent, trial.id, source="document_prose")
            # spans into the sentence -> spans into the field text
            for c in cc.criteria:
                c.span = (c.span[0] + start, c.span[1] + start)
            cc.source_text = field_text
            return cc
    parts = [p for p in (trial.title, trial.brief_summary) if p]
    if not parts:
        return CompiledCriteria(trial_id=trial.id, compiler_version=COMPILER_VERSION, source="none")
    doc = "\n\n".join(parts)
    splits = _summary_splits(doc)
    cc = _build(splits, trial.id, "title_and_summary", doc)
    for c in cc.criteria:
        c.reason = ((c.reason + "; ") if c.reason else "") + "read from the title/summary (no criteria list)"
    return cc


_SUMMARY_CONCEPTS = re.compile(
    r"(?i)hormone[ -]receptor[ -]high[ -]expressed|hormone receptor[ -]positive|\bHR[ -]?(?:positive|\+)|HER-?2[ -]?negative|"
    r"(?:locally advanced or metastatic|advanced|metastatic)\s+(?:hormone[ -]receptor[- \w]*?)?breast cancer|"
    r"endocrine[ -](?:therapy|treatment)[ -]resist\w*|endocrine therapy resisted|endocrine[ -]resistant|secondary endocrine-resistant|"
    r"(?:pre|post)menopausal"
)


def _summary_splits(doc: str) -> list[SplitCriterion]:
    out = []
    seen = set()
    has_high = re.search(r"(?i)receptor[ -]high", doc) is not None
    for m in _SUMMARY_CONCEPTS.finditer(doc):
        key = re.sub(r"\W+", " ", m.group(0).lower())
        if "resist" in key:
            key = "resist"
        elif "hormone receptor" in key and "breast" not in key or key.startswith("hr"):
            if has_high and "high" not in key:
                continue
            key = "hr"
        if key in seen:
            continue
        seen.add(key)
        out.append(SplitCriterion(f"I{len(out) + 1}", "inclusion", m.group(0), (m.start(), m.end()), None))
    return out


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text. Chosen by measurement (each pattern timed both ways on the
# benchmark's records): for a cheap or anchored pattern the extra Python call costs more than it saves.
for _name in ("_AGE_GATE", "_AGE_SUBJ_CMP", "_BOTH_SEXES", "_CURRENT_MED", "_DISEASE_LIKE", "_DRUG_LIKE", "_FITNESS",
              "_FREE_AGENT_RE", "_HER2_OVEREXPRESSED", "_LIST_BAD", "_LIST_WINDOW", "_NEG_LEAD", "_OTHER_CANCER_RE",
              "_RECEPTOR_GATE_SHORT", "_SEVERITY_BEFORE", "_THERAPY_FOR"):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name
