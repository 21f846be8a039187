"""Extractors of the person: age, sex, menopausal status and ovarian suppression, pregnancy and
breastfeeding, performance status, life expectancy.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.common import NUM, TIME, _OP_ANY, _all, _any, _consume, _dur, _op
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import (
    Age, AllOf, AnyOf, Duration, IfThen, LifeExpectancy, MenopausalStatus, Not, OvarianSuppression,
    PerformanceStatus, Pregnancy, Range, Sex,
)
from trialmatch.criteria.quantities import find_quantities, to_years
from trialmatch.criteria.rules import FoldedPattern


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
_LETTER = re.compile(r"[A-Za-z]")
_AGE_JOIN = re.compile(r"(?i)\s*(?:,|;)?\s*(?:or|and|to|but)?\s*")


_AGE_CUE_RIGHT_BEFORE = re.compile(r"(?i)\b(?:aged?|ages)\s*(?:of\s+|:\s*|between\s+|from\s+)?$")
_WINDOW_CUE_BEFORE = re.compile(r"(?i)\b(?:within|past|last|previous|prior|for|since|during|after|before)\b[^.;]{0,20}$")


# "... a 200 mL increase from baseline FEV1 (patients age 18 and older)": the parenthesis says whom a requirement about
# something else applies to, it requires no age (but "Adults (patients aged 18 or older)" does: an age word before it)
_AGE_SCOPE_OPEN = re.compile(r"(?i)\((?:\s*(?:for|in|only)\s+)?\s*(?:patients?|subjects?|participants?|those)\s+"
                             r"(?:aged?|ages|who\s+are|≥|>=|>)[^()]*$")
_AGE_WORD_BEFORE = re.compile(r"(?i)\b(?:aged?|ages|adults?|years?|old|older|younger|children|adolescents?|pediatric)\b")


def _age_scope(t: str, start: int) -> bool:
    """Is the comparison at ``start`` inside a parenthesis that scopes another requirement by age (``_AGE_SCOPE_OPEN``),
    after text that names no age?"""
    open_at = t.rfind("(", 0, start)
    if open_at < 0 or not _AGE_SCOPE_OPEN.match(t, open_at, start) or _AGE_WORD_BEFORE.search(t, 0, open_at):
        return False
    return _LETTER.search(t, 0, open_at) is not None


def _age_quantities(t: str) -> list:
    """The comparisons of ``t`` that are ages (see :mod:`trialmatch.criteria.quantities`)."""
    out = []
    for q in find_quantities(t):
        if q.op == "+/-" or q.unit is not None or (q.time_unit not in _AGE_TIME and q.time_unit is not None):
            continue
        before = t[max(0, q.start - 45):q.start]
        if q.window and not (_AGE_CUE_RIGHT_BEFORE.search(before) and not _WINDOW_CUE_BEFORE.search(before)):
            continue  # "aged 55 to 74 years from the NEDICES study" is an age, "within 5 years from" is not
        if _age_scope(t, q.start):
            _consume(t, q.start, q.end)  # read: no other extractor takes it for a value
            continue
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
_AGE_GATE_WORDS = family_data("person").cues.words("age_gate_words")
_AGE_SUBJ_SYMBOLS = family_data("person").cues.words("age_subject_symbols")


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
_BARE_SEX = re.compile(r"(?i)^\W*(?:(?:gender|sex)\s*:\s*)?(?:(?:are|is|be|was|were)\s+(?:an?\s+)?)?(?:biological(?:ly)?\s+)?(?:(?P<m>males?|men|man)|(?P<f>females?|women|woman))"
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


_PREG_STATE = r"(?:pregnant|lactating|breast-?\s?feeding|nursing)"
# "pregnant or lactating", "lactating or pregnant": the words name her states, whatever test follows them
_PREG_STATE_LIST = re.compile(rf"(?i)\b{_PREG_STATE}\s*(?:,|/|\bor\b|\band/or\b|\bnor\b)\s*(?:be\s+)?{_PREG_STATE}\b")
# an exclusion written as a prohibition, "Participants must not be pregnant or nursing": the states exclude
_PREG_PROHIBITED = re.compile(rf"(?i)\b(?:must|should|shall|may|can)\s*(?:not|n't)\s+be\s+{_PREG_STATE}"
                              rf"(?:\s*(?:,|/|\bor\b|\band/or\b|\bnor\b)\s*(?:be\s+)?{_PREG_STATE})*\b")


def _pregnancy_states(words: str) -> list:
    out = []
    if _any(r"\bpregnan", words):
        out.append(Pregnancy(state="pregnant"))
    if _any(r"breast-?\s?feeding|lactating|lactation|nursing", words):
        out.append(Pregnancy(state="breastfeeding"))
    return out
_PREGNANCY_SHOWN_BY = re.compile(r"(?i)(?<=pregnant)\s*\((?:as\s+)?(?:shown\s+by\s+|confirmed\s+by\s+|i\.e\.,?\s*)?(?:a\s+)?positive\b[^()]{0,40}\)")


def _pregnancy(t: str, kind: str) -> list:
    out = []
    if kind != "inclusion":
        pm = _PREG_PROHIBITED.search(t)
        if pm:
            return _pregnancy_states(pm.group(0))
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
    # "pregnant (positive B-hCG test)": the bracket says how pregnancy is shown, it asks for no test
    t_nb = _PREGNANCY_SHOWN_BY.sub(" ", t)
    if _any(r"\bpregnan(?:t|cy)\b", t_nb) and not _any(r"avoid|prevent|contracep|potential|test", t_nb) \
            or _any(r"\bpregnant\b", "".join(m.group(0) for m in _PREG_STATE_LIST.finditer(t))):
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
    # "equal to or less than (<=) 1", ">= to 80", "Performance status of ECOG 0, 1, 2, or 3"
    rest = re.sub(r"(?i)\(\s*(?:[<>≤≥]=?|=[<>])\s*\)|(?<=[=<>≥≤])\s*to\b|^\s*(?:of\s+)?(?:ecog|who|zubrod)\b", " ", rest)
    rest = re.sub(r"(?i)performance\s+status|performance\s+score|status\b|scores?\b|scales?\b|grades?\b|of\b|is\b|:|must be|should be|"
                  r"\bbe\b", " ", rest)  # "ECOG status of 0, 1 or 2"
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
    m = re.search(r"(?i)life expectancy|expectancy of (?:life|survival)|expected (?:life[- ]?time|lifetime|life[- ]?span)|expected survival|estimated (?:patient )?survival|survival expectancy|expected to (?:live|survive)|predicted survival|prognosis", t)
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
_ECOG_LONG = re.compile(r"(?i)eastern\s+cooperative\s+oncology\s+group(?:\s*\(\s*ecog\s*\))?")


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_AGE_GATE', '_AGE_SUBJ_CMP', '_BOTH_SEXES'):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


register("person", "age", _age)
register("person", "men_or_menopausal_women", _men_or_menopausal_women)
register("person", "men_or_nonpregnant_women", _men_or_nonpregnant_women, takes="text_kind")
register("person", "sex", _sex, takes="text_kind")
register("person", "menopause", _menopause, takes="text_kind")
register("person", "pregnancy", _pregnancy, takes="text_kind")
# "Eastern Cooperative Oncology Group (ECOG) performance status of 0 or 1": the scale's name written out then
# abbreviated reads as "ECOG performance status ..." to the extractor
register("person", "performance", lambda c, t: _performance(_ECOG_LONG.sub("ECOG", t) if "cooperative" in c.tl else t),
         takes="clause")
register("person", "life_expectancy", _life_expectancy)
