"""Free-text clinical summaries -> :class:`Patient`, by rules (spaCy blank English + medspacy).

The note is split into sentences by a rule splitter (:func:`sentence_starts`; medspacy's PyRuSH
was ~7x too slow for the 50 ms/note budget); concept mentions
(cancers, metastatic sites, conditions, drugs, drug classes) are found by the regular
expressions of the concept registry (``vocab/concepts``) and the drug vocabulary, set as entities, and medspacy's
ConText marks each as negated, historical, hypothetical or about family. Numbers (age,
receptors, labs, ECOG, dates, durations) are read per sentence by regular expressions. Every fact
keeps ``Source(kind="text", locator=<sentence>, span=(start, end))``.

Dates: ``Date: YYYY-MM-DD`` in the note sets ``as_of`` (else today); "14 months ago" is counted
back from it. No model is downloaded.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterable

from trialmatch.vocab import analyte_vocabulary, drug_classes, drug_vocabulary, normalize_analyte

from trialmatch.vocab.concepts import procedure_text_kind, procedure_text_terms, text_terms

from .common import finish, normalize_unit
from .fhir_reader import ANTICANCER
from .model import (Assertion, Biomarker, Diagnosis, GeneResult, LabResult, Medication, Metastasis,
                    OtherCondition, Patient, PerformanceStatus, Procedure, Source, Treatment)

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
_MON = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
DATE_RE = re.compile(
    r"(?P<iso>(?<!\d)(?P<y1>(?:19|20)\d{2})-(?P<m1>\d{1,2})(?:-(?P<d1>\d{1,2}))?(?!\d))"
    r"|(?P<mdy>\b(?P<mon2>" + _MON + r")\.?\s+(?:(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+)?(?P<y2>(?:19|20)\d{2})\b)"
    r"|(?P<dmy>\b(?P<d3>\d{1,2})\s+(?P<mon3>" + _MON + r")\.?\s+(?P<y3>(?:19|20)\d{2})\b)"
    r"|(?P<num>(?<![\d/.])(?P<a6>\d{1,2})[/.](?P<b6>\d{1,2})[/.](?P<y6>(?:19|20)\d{2})(?![\d/]))"
    r"|(?P<slash>\b(?P<m4>\d{1,2})/(?P<y4>(?:19|20)\d{2})\b)"
    r"|(?P<year>(?<![\d.-])(?P<y5>(?:19|20)\d{2})(?![\d%]|\s*(?:mg|ml|g/|u/|cells|x)))",
    re.I)
NUM = r"(\d+(?:[.,]\d+)?)"
UNIT_RE = (r"(?:[x×*]\s*)?10\s*(?:\^|\*\*|e|\*)?\s*(?:9|6|12|3)\s*/\s*[lL]|(?:[x×]\s*)?109/L|G/L|g/dL|g/dl|g/L|g/l|mg/dL|mg/dl|"
           r"µmol/L|μmol/L|umol/L|umol/l|µmol/l|mmol/L|mmol/l|IU/L|U/L|u/l|mL/min(?:/1\.73\s?m2)?|ml/min|%|"
           r"/µL|/uL|/mm3|/mm\^3|cells/µL|cells/uL|K/uL|K/µL|ng/mL|pg/mL|mIU/L|mEq/L|s\b|sec\b|ms\b")


#: words just before a treatment mention that make it a plan, not a treatment she had
_PLANNED = re.compile(
    r"\b(?:prior to|before|candidate for|plan(?:ned|s)?(?: for| to)?|will (?:receive|start|begin|undergo|be given)|"
    r"scheduled (?:for|to)|to (?:start|receive|begin|undergo)|recommended|considered for|considering|"
    r"eligible for|referred for|awaiting|offered)\b(?:\s+[\w/-]+){0,3}\s*$", re.I)

#: "options are ovarian suppression + AI + CDK4/6 inhibitor, or epirubicin/cyclophosphamide": every therapy named
#: after it in the sentence is one to choose from, not one she had
_OPTIONS = re.compile(r"\b(?:(?:treatment |therapeutic |the )?options?|alternatives?|choices?)\s*(?:are|is|include|would be|:)", re.I)

# ---------------------------------------------------------------------------------------------
# pipeline and patterns (built once)
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _nlp():
    try:
        from loguru import logger
        logger.disable("PyRuSH")
        logger.disable("medspacy")
    except ImportError:  # pragma: no cover
        pass
    import medspacy
    import spacy

    nlp = medspacy.load(spacy.blank("en"), medspacy_enable=["medspacy_context"])
    return nlp


_ABBREV = re.compile(r"(?:\b(?:dr|mr|mrs|ms|vs|e\.g|i\.e|approx|no|st|pt|inc|fig|wk|mo|yr|hrs?|min|max|b\.i\.d|t\.i\.d|q\.d|p\.o|s/p)|\b[A-Z])\.$",
                     re.I)
_BOUNDARY = re.compile(r"\n\s*\n|\n(?=\d{1,3}\s?(?:F|M|yo|y/o)\b|\d{1,2}[/.]\d{1,2}[/.]\d{4})|\n(?=[ \t]*(?:\d{1,2}[/.])?(?:19|20)\d{2}\b(?![/.]\d))|\n(?=\s*(?:[-•*–]|\d+[.)]\s|[A-Z][\w /()-]{0,40}:|[A-Z]))|(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])")


def sentence_starts(text: str) -> list[int]:
    """Character offsets where sentences start: blank lines, line starts that open a new item
    (bullet, number, "Heading:", a capital), and ``. ! ? ;`` followed by a capital or digit
    (not after common abbreviations such as "Dr." or "e.g.")."""
    starts = [0]
    for m in _BOUNDARY.finditer(text):
        if m.group(0).startswith(("\n",)) is False and _ABBREV.search(text[max(0, m.start() - 8):m.start()]):
            continue
        if m.start() > 0 and text[m.start() - 1] == ";":
            # "(liver, bone; CT 20/08/2026)": a semicolon inside brackets does not end the sentence
            line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            if line.count("(") > line.count(")"):
                continue
        e = m.end()
        while e < len(text) and text[e] in " \t":
            e += 1  # an indented line starts at its first character (spaCy keeps "\n  " as one whitespace token)
        if e > m.end() and "\n\n" not in m.group(0) and text[m.start()] == "\n" and \
                not re.match(r"(?:[-•*–]|\d+[.)]\s|(?:\d{1,2}[/.])?(?:19|20)\d{2}\b)", text[e:e + 8]):
            prev = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            if len(prev) - len(prev.lstrip(" \t")) < e - m.end() and not prev.rstrip().endswith((".", ":", ";", "!", "?")):
                continue  # a wrapped line indented under its item ("- 2021: ... adjuvant\n  EC x4 ..."): the same sentence
        starts.append(e)
    return sorted(set(starts))


def _set_sentences(doc, text: str) -> None:
    """Mark sentence starts on a spaCy Doc by :func:`sentence_starts` (a fast rule splitter:
    medspacy's PyRuSH took ~360 ms per TREC note, over the 50 ms budget)."""
    starts = sentence_starts(text)
    j = 0
    for i, tok in enumerate(doc):
        if i == 0:
            tok.is_sent_start = True
            continue
        while j < len(starts) and starts[j] < tok.idx:
            j += 1
        prev = doc[i - 1]
        # a start inside a whitespace token ("progressed.\n - Line 2": the start at the " " of "\n ") is the next token's
        boundary = any(prev.idx + len(prev.text) <= b <= tok.idx or prev.is_space and prev.idx < b <= tok.idx
                       for b in starts[max(0, j - 1):j + 1])
        tok.is_sent_start = boundary


def _alt(patterns: Iterable[str]) -> str:
    return "|".join(sorted(patterns, key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> dict:
    terms = text_terms()
    out: dict = {}
    for group in ("metastasis_sites", "cancers", "conditions", "treatment_classes"):
        items = []
        for key, pats in terms[group].items():
            for pat in pats:
                items.append((pat, key))
        # one big alternation per group, longest first; map back with a per-key pass
        keyed = [(key, re.compile(r"(?:" + _alt(pats) + r")", re.I)) for key, pats in terms[group].items()]
        big = re.compile(r"(?<![\w-])(?:" + _alt(p for _, pats in terms[group].items() for p in pats) + r")(?![\w-])", re.I)
        out[group] = (big, keyed)
    names: dict[str, str] = {}
    for generic, entry in drug_vocabulary().items():
        names[generic.lower()] = generic
        for syn in entry.get("synonyms", []):
            if len(syn) >= 3:
                names.setdefault(syn.lower(), generic)
    for med in terms["other_medications"]:
        names.setdefault(med.lower(), med.rstrip("?").replace("s?", "s") if "?" in med else med)
    out["drug_names"] = names
    # hyphens may join the drugs of a regimen ("docetaxel-cyclophosphamide", "EC-paclitaxel")
    out["drug_re"] = re.compile(r"(?<![\w])(" + _alt(re.escape(n) if "?" not in n else n for n in names) + r")(?![\w])"
                                r"(?!-(?:like|naive|naïve|free|related|induced|based)\b)", re.I)
    syn: dict[str, str] = {}
    for key, entry in analyte_vocabulary().items():
        for s in [key.replace("_", " "), *entry.get("synonyms", [])]:
            if len(s) >= 2:
                syn.setdefault(s.lower(), key)
    syn.update({"hgb": "hemoglobin", "plt": "platelets", "tbili": "total_bilirubin", "cr": "creatinine",
                "scr": "creatinine", "crcl": "creatinine_clearance", "sgpt": "alt", "sgot": "ast"})
    for short, key in (("creat", "creatinine"), ("bili", "total_bilirubin"), ("neuts", "anc"), ("neutrophils", "anc"),
                       ("neut", "anc"), ("neutrophil", "anc"), ("platelet", "platelets"),
                       ("neutrophil count", "anc"), ("plts", "platelets"), ("hb", "hemoglobin"), ("wcc", "wbc"),
                       ("alp", "alkaline_phosphatase"), ("alk phos", "alkaline_phosphatase")):
        syn.setdefault(short, key)
    out["analytes"] = syn
    out["lab_re"] = re.compile(
        r"(?<![\w-])(" + _alt(re.escape(s) for s in syn) + r")(?![\w-])(?:\s*\([A-Za-z ]{2,12}\))?"
        r"\s*(?:count|level|levels|value)?\s*(?:of|was|is|were|at|:|=|-)?\s*(?:[<>≤≥]=?\s*)?" + NUM +
        r"\s*(" + UNIT_RE + r")?", re.I)
    out["quals"] = re.compile(r"\b(" + _alt(terms["condition_qualifiers"]) + r")\b", re.I)
    out["procedures"] = re.compile(
        r"\b(" + "|".join(p for pats in procedure_text_terms().values() for p in pats) + r")\b", re.I)
    return out


# ---------------------------------------------------------------------------------------------
def _mkdate(y: int, m: int = 1, d: int = 1) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


NUMERIC_DATE_RE = re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.]((?:19|20)\d{2})(?![\d/])")


def numeric_date_order(text: str, day_first_hints: Iterable[re.Pattern] = (),
                       month_first_hints: Iterable[re.Pattern] = ()) -> tuple[bool | None, str | None]:
    """Whether the note writes numeric dates day-first ("18/11/2026") or month-first.

    Returns ``(dayfirst, reason)``: decided by a date whose first part is over 12 (day-first) or
    whose second is (month-first); else by the note's spelling and units (British: day-first;
    American, e.g. "mg/dL", "tumor": month-first); else day-first is assumed (the order of
    most of the world's clinical letters). ``(None, None)`` when the note has no numeric date.
    """
    firsts = seconds = 0
    any_date = False
    for m in NUMERIC_DATE_RE.finditer(text):
        any_date = True
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 >= b:
            firsts += 1
        elif b > 12 >= a:
            seconds += 1
    if not any_date:
        return None, None
    if firsts and not seconds:
        return True, "day-first (the note writes a day over 12 first elsewhere)"
    if seconds and not firsts:
        return False, "month-first (the note writes a day over 12 second elsewhere)"
    uk = sum(1 for h in day_first_hints if h.search(text))
    us = sum(1 for h in month_first_hints if h.search(text))
    if us > uk:
        return False, "month-first assumed (American spelling or units in the note)"
    if uk > us:
        return True, "day-first assumed (British spelling or units in the note)"
    return True, "day-first assumed (no day over 12 and no spelling or units that tell)"


def find_dates(text: str, dayfirst: bool | None = None) -> list[tuple[int, int, dt.date, str]]:
    """All dates in ``text`` as (start, end, date, precision) - precision "day"|"month"|"year".

    A numeric date "05/06/2026" is read day-first when ``dayfirst`` (else month-first); one
    whose first part is over 12 is always day-first."""
    out = []
    for m in DATE_RE.finditer(text):
        if m.group("num"):
            a, b, y = int(m.group("a6")), int(m.group("b6")), int(m.group("y6"))
            day_first = a > 12 or (dayfirst is True and b <= 12)
            d = _mkdate(y, b, a) if day_first else _mkdate(y, a, b)
            prec = "day"
        elif m.group("iso"):
            d = _mkdate(int(m.group("y1")), int(m.group("m1")), int(m.group("d1") or 1))
            prec = "day" if m.group("d1") else "month"
        elif m.group("mdy"):
            d = _mkdate(int(m.group("y2")), MONTHS[m.group("mon2").lower()[:3] if m.group("mon2").lower()[:4] != "sept" else "sep"],
                        int(m.group("d2") or 1))
            prec = "day" if m.group("d2") else "month"
        elif m.group("dmy"):
            d = _mkdate(int(m.group("y3")), MONTHS[m.group("mon3").lower()[:3]], int(m.group("d3")))
            prec = "day"
        elif m.group("slash"):
            d = _mkdate(int(m.group("y4")), int(m.group("m4")))
            prec = "month"
        else:
            d = _mkdate(int(m.group("y5")))
            prec = "year"
        if d:
            out.append((m.start(), m.end(), d, prec))
    return out


def _add_months(d: dt.date, months: float) -> dt.date:
    total = d.year * 12 + (d.month - 1) + int(round(months))
    y, m = divmod(total, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(days?|weeks?|wks?|months?|mos?|years?|yrs?)\b", re.I)


def _months(n: float, unit: str) -> float:
    u = unit.lower()
    if u.startswith("d"):
        return n / 30.4375
    if u.startswith("w"):
        return n * 7 / 30.4375
    if u.startswith("y"):
        return n * 12
    return n


#: her disease is not operable with curative intent (``Assertion("disease:inoperable", present=True)``)
_INOPERABLE = re.compile(r"(?<!not )\b(?:inoperable|unresectable|non-?resectable|not (?:surgically )?(?:resectable|operable)|"
                         r"not amenable to (?:curative )?(?:surgery|resection))\b")

class _Sentence:
    __slots__ = ("text", "start", "end", "low", "ents", "hints")

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.start, self.end = text, start, end
        self.low = text.lower()
        self.ents: list = []
        #: what a course segment takes from its sentence: "setting", "line", "progressed", "prior"
        self.hints: dict = {}


NEG_LOCAL = re.compile(r"\b(no|not|without|negative for|denies|denied|absence of|free of|ruled out|never)\b", re.I)


#: a run of this many characters with no space is no word of a note (pasted markup, a data blob):
#: it is blanked before reading, because tokenising such a run costs time quadratic in its length
LONG_RUN = re.compile(r"\S{%d,}" % 200)


def blank_long_runs(text: str) -> tuple[str, list[str]]:
    """``text`` with every run of 200 or more non-space characters replaced by as many spaces
    (offsets of the rest unchanged), and a warning for each run."""
    warnings: list[str] = []

    def blank(m: re.Match) -> str:
        if len(warnings) < 5:
            warnings.append(f"text: a run of {len(m.group(0))} characters without a space at offset {m.start()} "
                            "was not read (no word of a note is that long)")
        return " " * len(m.group(0))

    return LONG_RUN.sub(blank, text), warnings


class _TextReader:
    def __init__(self, text: str, file_name: str, today: dt.date | None) -> None:
        text, self.warnings = blank_long_runs(text)
        self.text = text
        self.file_name = file_name
        from .note_rules import note_rules

        rules = note_rules()
        self.dayfirst, self.date_order_reason = numeric_date_order(text, rules["day_first_hints"], rules["month_first_hints"])
        self.stated_as_of, self.as_of_span, self.as_of_how = self._record_date(text, rules)
        if self.stated_as_of is not None and self.dayfirst is not None and self.stated_as_of > (today or dt.date.today()) \
                and "assumed" in (self.date_order_reason or ""):
            # the assumed order puts the note's own date in the future: the other order is meant
            flipped = not self.dayfirst
            other = self._record_date(text, rules, dayfirst=flipped)
            if other[0] is not None and other[0] <= (today or dt.date.today()):
                self.dayfirst = flipped
                self.date_order_reason = (("day-first" if flipped else "month-first") +
                                          " (the other order puts the note's date in the future)")
                self.stated_as_of, self.as_of_span, self.as_of_how = other
        self.as_of = self.stated_as_of or today or dt.date.today()
        stem = file_name.rsplit("/", 1)[-1]
        for suf in (".txt", ".text"):
            stem = stem.removesuffix(suf)
        self.p = Patient(id=stem or "patient", as_of=self.as_of)
        if self.stated_as_of is not None:
            a, b = self.as_of_span
            self.p.as_of_source = Source(kind="text", locator=text[a:b].strip(), span=(a, b))
        else:
            self.p.as_of_source = Source(kind="derived", locator=(
                f"{'the given date' if today else 'today'} {self.as_of.isoformat()}: the note states no date of its own"))

    def _find_dates(self, text: str) -> list[tuple[int, int, dt.date, str]]:
        return find_dates(text, self.dayfirst)

    def _record_date(self, text: str, rules: dict, dayfirst: bool | None = None
                     ) -> tuple[dt.date | None, tuple[int, int] | None, str | None]:
        """The note's own date: a "Date:"-like label anywhere at a line start, else a cue
        ("Seen on", "Clinic letter") or a short line that starts or ends with a date in the
        opening lines (a letter head)."""
        dayfirst = self.dayfirst if dayfirst is None else dayfirst
        for m in rules["labels"].finditer(text):
            ds = [d for d in find_dates(m.group("rest"), dayfirst) if d[3] == "day"]
            if ds and ds[0][0] <= 3:
                return ds[0][2], (m.start(), m.end()), "label"
        head_end = 0
        for _ in range(rules["opening_lines"]):
            nl = text.find("\n", head_end)
            if nl < 0:
                head_end = len(text)
                break
            head_end = nl + 1
            while head_end < len(text) and text[head_end] == "\n":
                head_end += 1
        head = text[:head_end]
        for m in rules["opening_cues"].finditer(head):
            ds = [d for d in find_dates(head[m.end():m.end() + 40], dayfirst) if d[3] == "day"]
            if ds and ds[0][0] <= 2:
                line_start = head.rfind("\n", 0, m.start()) + 1
                line_end = head.find("\n", m.end())
                return ds[0][2], (line_start, line_end if line_end >= 0 else len(head)), "cue"
        pos = 0
        for line in head.split("\n"):
            stripped = line.strip().strip(".,:;")
            ds = [d for d in find_dates(stripped, dayfirst) if d[3] == "day"]
            if len(ds) == 1 and len(stripped) <= 80 and (ds[0][0] == 0 or ds[0][1] >= len(stripped) - 1) \
                    and not re.search(r"\b(?:diagnos\w*|started|since|from|until|biopsy|scan|ct|mri|pet|labs?|bloods?)\b",
                                      stripped, re.I):
                return ds[0][2], (pos, pos + len(line)), "letter head"
            pos += len(line) + 1
        return None, None, None

    def src(self, s: _Sentence) -> Source:
        return Source(kind="text", locator=s.text.strip(), span=(s.start, s.end))

    # -- pipeline ----------------------------------------------------------------------------
    def run(self) -> Patient:
        self._pending: list[Biomarker] = []
        self._assessed: dict[int, dt.date] = {}  # a course's scan or assessment date, by id(course)
        nlp = _nlp()
        doc = nlp.make_doc(self.text)
        _set_sentences(doc, self.text)
        pats = _patterns()
        cands = []  # (start, end, label, key)
        for group, label in (("cancers", "CANCER"), ("metastasis_sites", "SITE"), ("conditions", "CONDITION"),
                             ("treatment_classes", "TXCLASS")):
            big, keyed = pats[group]
            for m in big.finditer(self.text):
                key = next((k for k, rx in keyed if rx.fullmatch(m.group(0))), None)
                if key is None:
                    continue
                if True:
                    if label == "CONDITION" and m.group(0).isupper() is False and len(m.group(0)) <= 3 \
                            and m.group(0).lower() in ("mi", "pe", "all", "tia", "als", "pad", "ibs", "osa", "cad"):
                        # short abbreviations only when written in capitals
                        continue
                    if label == "CANCER" and m.group(0).lower() in ("all", "aml", "cll", "idc", "ilc", "hcc", "rcc", "gbm", "mbc") \
                            and not m.group(0).isupper():
                        continue
                    cands.append((m.start(), m.end(), label, key))
        for m in pats["drug_re"].finditer(self.text):
            cands.append((m.start(), m.end(), "DRUG", m.group(1).lower()))
        from .note_rules import note_rules

        rules = note_rules()
        for rx in (rules["regimen_cs"], rules["regimen_ci"]):
            for m in rx.finditer(self.text):
                key = m.group(0) if m.group(0) in rules["regimens"] else m.group(0).lower()
                cands.append((m.start(), m.end(), "DRUG", "regimen:" + key))
        cands.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
        taken = bytearray(len(self.text) + 1)
        spans = []
        for s, e, label, key in cands:
            if any(taken[s:e]):
                continue
            span = doc.char_span(s, e, label=label, alignment_mode="expand")
            if span is None or any(taken[span.start_char:span.end_char]):
                continue
            for i in range(span.start_char, span.end_char):
                taken[i] = 1
            spans.append((span, key))
        spans.sort(key=lambda x: x[0].start)
        doc.ents = [sp for sp, _ in spans]
        keys = {(sp.start_char, sp.end_char): k for sp, k in spans}
        doc = nlp.get_pipe("medspacy_context")(doc)
        sents: list[_Sentence] = []
        for sent in doc.sents:
            st = _Sentence(sent.text, sent.start_char, sent.end_char)
            sents.append(st)
        si = 0
        for ent in doc.ents:
            while si < len(sents) - 1 and ent.start_char >= sents[si].end:
                si += 1
            sents[si].ents.append((ent, keys.get((ent.start_char, ent.end_char))))
        self.sents = sents
        self.demographics()
        for s in sents:
            for fn in (self.cancer, self.receptors, self.genes, self.labs, self.performance, self.misc):
                try:
                    if fn == self.cancer:
                        with self._citing(s):
                            fn(s)
                        continue
                    fn(s)
                except Exception as exc:  # noqa: BLE001 - one bad sentence must not lose the note
                    self.warnings.append(f"text: sentence at {s.start}-{s.end} not fully read ({type(exc).__name__}: {exc})")
        for s in sents:
            try:
                self.sites(s)
                self.drugs(s)
                self.conditions(s)
                self.procedures(s)
            except Exception as exc:  # noqa: BLE001
                self.warnings.append(f"text: sentence at {s.start}-{s.end} not fully read ({type(exc).__name__}: {exc})")
        from .note_rules import read_absences, read_site_only, read_therapy_absences

        for s in sents:
            try:
                with self._citing(s):
                    self.metastatic_since(s)
            except Exception as exc:  # noqa: BLE001
                self.warnings.append(f"text: sentence at {s.start}-{s.end} not fully read ({type(exc).__name__}: {exc})")
        for s in sents:
            try:
                with self._citing(s):
                    self.measurable(s)
                    self.metastatic_onset(s)
            except Exception as exc:  # noqa: BLE001
                self.warnings.append(f"text: sentence at {s.start}-{s.end} not fully read ({type(exc).__name__}: {exc})")
            for fn in (read_therapy_absences, read_absences, read_site_only):
                try:
                    fn(self, s)
                except Exception as exc:  # noqa: BLE001
                    self.warnings.append(f"text: sentence at {s.start}-{s.end} not fully read ({type(exc).__name__}: {exc})")
        try:
            self.extent_from_stage()
            self.diagnosis_date_field()
            self.metastatic_found()
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"text: metastatic onset not read ({type(exc).__name__}: {exc})")
        for b in self._pending:
            if not any(x.name == b.name for x in self.p.biomarkers) or b.date is not None:
                self.p.biomarkers.append(b)
        try:
            self._settle_settings()
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"text: treatment settings not settled ({type(exc).__name__}: {exc})")
        self.p.warnings.extend(self.warnings)
        if self.stated_as_of is None:
            self.p.warnings.append("as_of: the note states no date of its own; relative dates counted from "
                                   f"{self.as_of.isoformat()}")
        if self.date_order_reason and "assumed" in self.date_order_reason:
            self.p.warnings.append(f"dates: numeric dates read {self.date_order_reason}")
        return self.p

    @contextmanager
    def _citing(self, s: _Sentence):
        """Cite ``s`` on the primary diagnosis when what runs inside changes it from a sentence
        other than its own (so the report does not list that sentence as unread)."""
        dx = self.p.primary_diagnosis
        before = dx.model_dump(exclude={"also_from", "metastases", "source"}) if dx is not None else None
        yield
        dx2 = self.p.primary_diagnosis
        if dx2 is None or dx2 is not dx or dx2.source is None or dx2.source.span == (s.start, s.end):
            return
        if dx2.model_dump(exclude={"also_from", "metastases", "source"}) != before and \
                not any(x.span == (s.start, s.end) for x in dx2.also_from):
            dx2.also_from.append(self.src(s))

    def _settle_settings(self) -> None:
        """A course whose setting the note does not name is metastatic when the disease was de
        novo metastatic, or when the course began on or after the metastatic date (its start, or
        else its progression, end or scan date less the months it ran)."""
        dx = self.p.primary_diagnosis
        if dx is None:
            return
        met = dx.metastatic_date
        de_novo = dx.extent == "metastatic" and bool(
            re.search(r"(?<!not )\bde novo\b|\bmetasta\w*[^.;]{0,40}\bat (?:presentation|diagnosis)\b", self.text, re.I))
        for t in self.p.treatments:
            if t.setting != "unknown" or not any(set(drug_classes(g)) & ANTICANCER for g in t.drugs):
                continue
            if de_novo:
                t.setting = "metastatic"
                continue
            if met is None:
                continue
            began = t.start
            if began is None:
                later = [d for d in (t.progression_date, t.end, self._assessed.get(id(t))) if d is not None]
                if later:
                    began = _add_months(min(later), -(t.months_to_progression or t.duration_months or 0))
            if began is not None and began >= met:
                t.setting = "metastatic"
        # a course named after a course for metastatic disease in the same sentence ("Treatment:
        # letrozole + ribociclib 2023-2025 (PD), fulvestrant 3 months (PD)") is for metastatic disease too
        for before, t in zip(self.p.treatments, self.p.treatments[1:]):
            if t.setting == "unknown" and before.setting == "metastatic" and t.source and before.source and \
                    t.source.span and before.source.span and \
                    self._sent_at(t.source.span[0]) is self._sent_at(before.source.span[0]) and \
                    any(set(drug_classes(g)) & ANTICANCER for g in t.drugs):
                t.setting = "metastatic"

    # -- demographics --------------------------------------------------------------------------
    #: the age patterns, most reliable first; ``_AGE_MONTHS`` counts months/weeks/days
    _AGE_MONTHS = re.compile(r"\b(\d{1,3})\s*(?:-|\s)?(?:month|week|day)s?[\s-]*old\b", re.I)
    AGE_RES = [
        re.compile(r"\b(\d{1,3})\s*(?:-|\s)?\s*(?:years?|yrs?|yr)[\s-]*old\b", re.I),
        re.compile(r"\b(\d{1,3})\s*(?:yo|y/o|y\.o\.?|yof|yom)\b", re.I),
        # "Ms K, 41, premenopausal", "Mrs F (51, postmenopausal", "Ms D, 50 years,", "Mrs Gwen Talbot, 68,",
        # "Ms T. Kowalczyk, 42": title, name (up to four words or initials), age
        re.compile(r"\b(?:Mrs|Mr|Ms|Miss|Mx)\.?\s+(?:[A-Z][\w'-]*\.?\s+){0,3}[A-Z][\w'-]*\s*[,(]\s*(\d{1,3})\s*(?:years?|yrs?|y)?"
                   r"(?=\s*[,.;()]|\s+(?:years?\b|woman|lady|female|man|male|pre|post|peri))"),
        # clinic-letter shorthand "66F, postmenopausal", "Mrs B, 58 F": capitals only
        re.compile(r"(?<![\w.,/:-])(\d{1,3})\s?(?:yo\s?|y/o\s?|y\s)?(?:F|M)\b(?![/.]\d)"),
        re.compile(r"\b(?:aged?|age of|age:)\s*(\d{1,3})\b", re.I),
        re.compile(r"^\s*(?:\w+\s+){0,3}?(\d{1,3})\s*(?:M|F|male|female|man|woman)\b", re.I),
        _AGE_MONTHS,
    ]

    def demographics(self) -> None:
        text = self.text
        for i, rx in enumerate(self.AGE_RES):
            # "LMP age 51", "diagnosed at age 45", "menopause aged 50": an age of the past
            m = next((mm for mm in rx.finditer(text) if not _PAST_AGE.search(text[max(0, mm.start() - 25):mm.start()])),
                     None)
            if m:
                age = float(m.group(1))
                if rx is self._AGE_MONTHS:
                    unit = re.search(r"(month|week|day)", m.group(0), re.I).group(1).lower()
                    age = round(age / {"month": 12, "week": 52.18, "day": 365.25}[unit], 2)
                s = self._sent_at(m.start())
                if age > 130:
                    self.warnings.append(f"age_years: impossible age {age:g} in the note ({m.group(0)!r}); not used")
                    break
                self.p.age_years = age
                self.p.sources["age_years"] = Source(kind="text", locator=s.text.strip(), span=(s.start, s.end))
                break
        fem = len(re.findall(r"\b(she|her|hers|woman|women|female|lady|girl|mrs|ms|mother|f)\b|\b\d+\s*yo\s*f\b|\bg\d+p\d+", text, re.I))
        mal = len(re.findall(r"\b(he|him|his|man|men|male|gentleman|boy|mr|father|m)\b", text, re.I))
        strong_f = re.search(r"\b(woman|female|lady|girl|she)\b|\d\s*(?:yo|y/o)?\s*f\b", text, re.I) or \
            re.search(r"\b(?:Mrs|Ms|Miss)\.?\s+[A-Z]", text)
        strong_m = re.search(r"\b(man|male|gentleman|boy|he)\b|\d\s*(?:yo|y/o)?\s*m\b", text, re.I) or \
            re.search(r"\bMr\.?\s+[A-Z]", text)
        sex = None
        short = re.search(r"(?<![\w.,/:-])\d{1,3}\s?(?:yo\s?|y/o\s?)?(F|M)\b(?![/.]\d)", text)
        if short:
            # "66F": the letter's own shorthand for age and sex outweighs pronoun counts
            fem += 3 if short.group(1) == "F" else 0
            mal += 3 if short.group(1) == "M" else 0
            strong_f = strong_f or (short if short.group(1) == "F" else None)
            strong_m = strong_m or (short if short.group(1) == "M" else None)
        if fem > mal and strong_f:
            sex, m = "female", strong_f
        elif mal > fem and strong_m:
            sex, m = "male", strong_m
        if sex:
            self.p.sex = sex
            s = self._sent_at(m.start())
            self.p.sources["sex"] = self.src(s)
        from .note_rules import menopause_in, note_rules

        found = menopause_in(text)
        if found:
            self.p.menopausal_status = found[0]
            self.p.sources["menopausal_status"] = self.src(self._sent_at(found[1]))
        for m in note_rules()["ofs"].finditer(text):
            sent = self._sent_at(m.start())
            before = text[max(sent.start, m.start() - 40):m.start()]
            if re.search(r"\b(?:no|not|never|without|declined|stopped|off|plan\w*|consider\w*|offered|will|candidate|"
                         r"options?|could|would|may|might|discuss\w*|recommend\w*|propos\w*|suggest\w*)\b", before, re.I) \
                    or re.search(r"\b(?:not|never)\b", sent.text[:max(0, m.start() - sent.start)], re.I) and NEG_LOCAL.search(before):
                continue
            self.p.ovarian_suppression = True
            self.p.sources["ovarian_suppression"] = self.src(sent)
            break
        if self.p.ovarian_suppression is None:
            for m in note_rules()["ofs"].finditer(text):
                # "not on ovarian suppression", "No ovarian suppression": stated absent
                if re.search(r"\b(?:not on|no|without|never had|never on)\s+(?:any\s+)?$", text[max(0, m.start() - 20):m.start()], re.I):
                    self.p.ovarian_suppression = False
                    self.p.sources["ovarian_suppression"] = self.src(self._sent_at(m.start()))
                    break
        for m in re.finditer(r"\b(pregnan\w*|breast[- ]?feeding|lactating|nursing)\b", text, re.I):
            s = self._sent_at(m.start())
            neg = bool(re.search(r"\b(not|no|negative|denies|non)\b", s.low))
            field = "pregnant" if m.group(1).lower().startswith("pregnan") else "breastfeeding"
            if re.search(r"\b(G\d+P\d+|pregnancies)\b", m.group(0), re.I):
                continue
            if field == "pregnant" and re.search(r"pregnancy test (?:was |is )?negative|not pregnant|no pregnan|negative pregnancy", s.low):
                neg = True
            if getattr(self.p, field) is None:
                setattr(self.p, field, not neg)
                self.p.sources[field] = self.src(s)
        m = re.search(r"life expectancy\s*(?:of|is|was|:|estimated at|>|≥|>=|greater than|more than|over|at least|\s)*"
                      r"(\d+(?:\.\d+)?)\s*(weeks?|months?|years?)", text, re.I)
        if m:
            self.p.life_expectancy_months = round(_months(float(m.group(1)), m.group(2)), 2)
            self.p.sources["life_expectancy_months"] = self.src(self._sent_at(m.start()))
        for rx, field in ((r"\b(?:weight|weighs|wt)\s*(?:of|is|:)?\s*(\d{2,3}(?:\.\d)?)\s*(kg|lbs?|pounds)\b", "weight_kg"),
                          (r"\b(?:height|ht)\s*(?:of|is|:)?\s*(\d{2,3}(?:\.\d)?)\s*(cm|m)\b", "height_cm")):
            m = re.search(rx, text, re.I)
            if m:
                v = float(m.group(1))
                if m.group(2).lower() in ("lb", "lbs", "pounds"):
                    v = round(v * 0.45359237, 1)
                setattr(self.p, field, v)
                self.p.sources[field] = self.src(self._sent_at(m.start()))

    def _sent_at(self, pos: int) -> _Sentence:
        for s in self.sents:
            if s.start <= pos < s.end:
                return s
        return self.sents[-1] if self.sents else _Sentence(self.text, 0, len(self.text))

    def _date_on_line_before(self, s: _Sentence) -> dt.date | None:
        """The date of the sentence just before ``s`` on the same line ("Liver biopsy 30/10/2026:
        ER-low (5%); HER2 testing pending")."""
        prev = [x for x in self.sents if x.end <= s.start]
        if not prev or "\n" in self.text[prev[-1].end:s.start] or "\n" in prev[-1].text.strip():
            return None
        ds = self._find_dates(prev[-1].text)
        return ds[0][2] if ds and ds[0][3] == "day" else None

    def _date_in(self, s: _Sentence, after: str | None = None) -> dt.date | None:
        text = s.text
        if after:
            m = re.search(after, text, re.I)
            if not m:
                return None
            text = text[m.end():m.end() + 40]
        ds = self._find_dates(text)
        if ds:
            return ds[0][2]
        m = re.search(r"(\d+(?:\.\d+)?)\s*(days?|weeks?|months?|years?)\s+ago", text, re.I)
        if m:
            return _add_months(self.as_of, -_months(float(m.group(1)), m.group(2)))
        return None

    # -- diagnoses -----------------------------------------------------------------------------
    def _ents(self, s: _Sentence, label: str):
        return [(e, k) for e, k in s.ents if e.label_ == label]

    def cancer(self, s: _Sentence) -> None:
        for ent, key in self._ents(s, "CANCER"):
            if key == "cancer" and re.match(r"[- ]?(?:treatments?|therapy|therapies|directed|drugs?|care|centre|center|"
                                            r"clinic|team|nurse|unit|screening|services?)\b", self.text[ent.end_char:ent.end_char + 15], re.I):
                continue  # "no prior cancer treatment", "the cancer centre": not a diagnosis
            negated = bool(ent._.is_negated)
            if negated and _THERAPY_FOR.search(self.text[max(s.start, ent.start_char - 60):ent.start_char]):
                # "no prior treatment for breast cancer": the treatment is negated, not the cancer
                negated = False
            if negated and re.search(r"\b(?:other|another|second|further|new)\s+(?:\w+\s+)?$",
                                     self.text[max(s.start, ent.start_char - 25):ent.start_char], re.I):
                continue  # "no other malignancy": the other-malignancy rule's, not an absent cancer
            if negated and key and any(d.cancer_type == key for d in self.p.diagnoses):
                continue  # "No prior breast cancer history" in a note about her breast cancer
            if negated or ent._.is_family or ent._.is_hypothetical:
                if negated and key:
                    self.p.assertions.append(Assertion(subject=f"cancer:{key}", present=False, source=self.src(s)))
                continue
            if key == "cancer" and self.p.diagnoses:
                continue  # a generic "cancer" after a specific one adds nothing
            existing = next((d for d in self.p.diagnoses if d.cancer_type == key), None)
            if existing is None and key != "cancer":
                generic = next((d for d in self.p.diagnoses if d.cancer_type == "cancer"), None)
                if generic is not None:
                    generic.cancer_type = key
                    existing = generic
            if existing is None:
                existing = Diagnosis(cancer_type=key, primary=not any(d.primary for d in self.p.diagnoses),
                                     source=self.src(s))
                self.p.diagnoses.append(existing)
            self._dx_details(existing, s)
        # stage / extent words in sentences without a cancer mention refer to the primary
        if not self._ents(s, "CANCER") and self.p.diagnoses and re.search(r"\bstage\s+(?:[0IV]|[1-4])|metastatic|de novo|locally advanced|measurable|"
                                                                       r"metasta\w*[^.;]{0,40}\bat (?:presentation|diagnosis)", s.text, re.I):
            self._dx_details(self.p.primary_diagnosis or self.p.diagnoses[0], s)

    def _dx_details(self, dx: Diagnosis, s: _Sentence) -> None:
        t = s.text
        if dx.histology is None:
            if re.search(r"\b(?:invasive |infiltrating )?ductal\b|\bidc\b", t, re.I):
                dx.histology = "invasive_ductal"
            elif re.search(r"\b(?:invasive |infiltrating )?lobular\b|\bilc\b", t, re.I):
                dx.histology = "invasive_lobular"
            elif re.search(r"\badenocarcinoma\b", t, re.I):
                dx.histology = "adenocarcinoma"
            elif re.search(r"\bsquamous cell\b", t, re.I):
                dx.histology = "squamous_cell"
        m = re.search(r"\bstage\s+(IV|III|II|I|0|[1-4])\s*([ABC])?\b", t, re.I)
        if m:
            st = m.group(1).upper()
            st = {"1": "I", "2": "II", "3": "III", "4": "IV"}.get(st, st)
            dx.stage = st + (m.group(2) or "").upper()
            if st == "IV":
                dx.extent = "metastatic"
        m = re.search(r"\b(c|p|yp)?T([0-4x](?:is|[abcd])?)\s*N([0-3x][abc]?)\s*M([01x])\b", t, re.I)
        if m:
            dx.tnm = f"T{m.group(2)}N{m.group(3)}M{m.group(4)}"
        elif dx.tnm is None:
            # "pT1c pN0 (0/2 nodes)", "ypT2 ypN1a": a pathological T and N, each with its own prefix, no M
            m = re.search(r"\b(?:c|p|yp)T([0-4x](?:is|[abcd])?)\s*,?\s*(?:\(\w+\)\s*)?(?:c|p|yp)N([0-3x][abc]?)(?:\s*(?:c|p)?M([01x]))?\b", t, re.I)
            if m:
                dx.tnm = f"T{m.group(1)}N{m.group(2)}" + (f"M{m.group(3)}" if m.group(3) else "")
        low = s.low
        if re.search(r"\blocally advanced\b", low):
            dx.extent = dx.extent or "locally_advanced"
        if _INOPERABLE.search(low) and not any(a.subject == "disease:inoperable" for a in self.p.assertions):
            # "inoperable locally advanced breast cancer", "unresectable disease": not operable with curative intent
            self.p.assertions.append(Assertion(subject="disease:inoperable", present=True, source=self.src(s)))
        if re.search(r"\b(metastatic|metastases|metastasis|mets|stage iv|de novo)\b", low) and \
                not re.search(r"\bno (?:evidence of )?(?:distant )?metasta", low):
            dx.extent = "metastatic"
        if re.search(r"\brecurren(?:t|ce)\b", low) and dx.extent is None:
            dx.extent = "recurrent"
        if dx.extent is None and re.search(r"\bearly(?:[- ]stage)? (?:breast )?(?:cancer|disease)\b|\bstage (?:0|i|ii|1|2)[abc]?\b|"
                                           r"\bm0\b", low) and not re.search(r"metasta|\bmets\b|stage (?:iv|4)", low):
            dx.extent = "early"
        m = re.search(r"\b(?:measurable disease|measurable (?:lesions?|target lesions?))\b", low)
        if m:
            dx.measurable_disease = not re.search(r"\b(no|non-?measurable|without|not)\b[^.]{0,20}measurable", low)
        elif re.search(r"\bnon-?measurable\b|bone[- ]only (?:non-?measurable )?disease", low):
            dx.measurable_disease = False if "non" in low else dx.measurable_disease
        d = self._date_in(s, r"\b(?:diagnosed|diagnosis|dx)\b")
        if d is None and dx.date is None:
            # "Right breast cancer 2013 (pT2 pN0 ...)", "IDC L breast, T2N1 2018", "left breast IDC 2023",
            # "endometrial cancer stage II 2023" (the stage between the cancer and its year)
            for a, b, dd, _ in self._find_dates(t):
                if re.search(r"(?:\b(?:cancer|carcinoma|IDC|ILC|tumou?r|breast)|\bT[0-4x]\w*\s*N[0-3x][abc]?(?:\s*M[01x])?)"
                             r"(?:,?\s*\(?stage\s+(?:IV|III|II|I|0|[1-4])[ABC]?\)?)?[,:]?\s*(?:in\s+)?$",
                             t[max(0, a - 30):a]) and not re.match(r"\s*(?:-|–|to)\s*\d", t[b:b + 4]):
                    d = dd
                    break
        if d and dx.date is None:
            dx.date = d
        mm = re.search(r"\b(?:metastatic|mbc)\b[^.;]{0,60}?\b(?:diagnosed|dx)\b", t, re.I)
        if mm and d and dx.metastatic_date is None and not re.search(r"\b(?:no|not|without|prior|previous)\b", t[max(0, mm.start() - 15):mm.start()], re.I):
            dx.metastatic_date = d  # "metastatic breast cancer to liver and bone diagnosed August 2026"
        if re.search(r"\bde novo\b|\bmetasta\w*[^.;]{0,40}\bat (?:presentation|diagnosis)\b", low):
            dx.extent = "metastatic"
            if dx.date and dx.metastatic_date is None:
                dx.metastatic_date = dx.date
        m = re.search(r"\b(?:metastatic (?:disease|recurrence|relapse)|metastases|recurrence|relapse)\s+(?:was |were )?"
                      r"(?:diagnosed |detected |found |confirmed )?(?:in|on|since)\s", s.text, re.I)
        if m and dx.metastatic_date is None and not re.search(r"\b(?:no|without)\s+(?:\w+\s+)?$", s.text[max(0, m.start() - 25):m.start()], re.I):
            d = self._date_in(_Sentence(s.text[m.end():m.end() + 30], 0, 0))
            if d:
                dx.metastatic_date = d

    _MET_ONSET = re.compile(r"(?<!local )(?<!locoregional )\b(?:metastatic (?:relapse|recurrence|disease)|relapse[ds]?|recurrence|"
                            r"mets to|metastases (?:to|in|on|diagnosed|found|detected)|new (?:\w+ )?metastas[ie]s|mbc(?: dx| diagnosed)?|"
                            r"de novo (?:stage iv |metastatic )?(?:breast cancer|mbc|disease)?)\b", re.I)

    #: "metastatic breast cancer (bone, liver) since 2024", "Metastatic since 2023", "metastatic to
    #: bone and liver since 2022", "Metastatic breast cancer to bone only since 2025"
    _MET_SINCE = re.compile(r"\b(?:metastatic|mbc|metastases|mets)\b(?:\s+(?:breast\s+)?(?:cancer|disease|carcinoma))?"
                            r"(?:\s*\([^)]{0,60}\))?(?:\s+to\s+[\w ,/&-]{1,60}?)?\s+since\s+", re.I)

    def metastatic_since(self, s: _Sentence) -> None:
        """The metastatic date a sentence states outright ("metastatic ... since 2024"): it
        outweighs a date the reader inferred."""
        dx = self.p.primary_diagnosis
        if dx is None:
            return
        for m in self._MET_SINCE.finditer(s.text):
            ds = [d for d in self._find_dates(s.text[m.end():m.end() + 20]) if d[0] == 0]
            if ds and ds[0][2] <= self.as_of:
                dx.metastatic_date = ds[0][2]
                if dx.extent in (None, "early", "locally_advanced", "recurrent"):
                    dx.extent = "metastatic"
                return

    def metastatic_onset(self, s: _Sentence) -> None:
        """ "relapsed ... (March 2025) with lung metastases", "Mets to bone/liver Apr 2025",
        "MBC dx 2022", "Metastatic relapse 2021 (liver, bone)": the date metastatic disease began."""
        dx = self.p.primary_diagnosis
        if dx is None or dx.metastatic_date is not None or not (dx.extent == "metastatic" or dx.metastases):
            return
        m = next((mm for mm in self._MET_ONSET.finditer(s.text)
                  if not re.search(r"\b(?:since|at|after)\s+(?:her|the|his)\s+(?:\w+\s+)?$", s.text[:mm.start()], re.I)), None)
        if not m or re.search(r"\b(?:no|without)\s+(?:\w+\s+)?(?:relapse|recurrence|metasta)", s.low):
            return
        dates = self._find_dates(s.text)
        after = [d for d in dates if d[0] >= m.start()]
        # "In January 2025 she relapsed with bone and liver metastases": the date just before it
        before = [d for d in dates if d[1] <= m.start() and re.fullmatch(r"[\s,]*(?:she|he|they|the patient|patient|"
                                                                           r"disease|there was a)?\s*(?:has\s+|had\s+)?",
                                                                           s.text[d[1]:m.start()], re.I)]
        if after and (after[0][0] - m.end()) <= 100:
            d = after[0][2]
        elif before:
            d = before[-1][2]
        else:
            return
        if d <= self.as_of and (dx.date is None or d >= dx.date):
            dx.metastatic_date = d

    #: a dated finding of distant disease: "CT on 18 September 2026 showed two liver lesions ... bone metastases",
    #: "February 2026: ... CT showed bone metastases", "PET in May 2025 revealed nodal and bone metastases"
    _MET_FOUND = re.compile(r"\b(?:showed|shows|revealed|reveals|demonstrated|found|detected|confirmed|identified)\b"
                            r"[^.;]{0,120}?\b(?:metastas[ie]s|metastatic|mets|deposits?)\b", re.I)
    _MET_FOUND_NOT = re.compile(r"\b(?:no|without|stable|unchanged|known|progress\w*|respon\w*|shrink\w*|smaller|"
                                r"reduc\w*|regress\w*|resolv\w*|new)\b", re.I)

    def metastatic_found(self) -> None:
        """Where no sentence dates the onset of her metastatic disease, the earliest dated scan or biopsy that
        found distant metastases after her first diagnosis ("CT on 18 September 2026 showed two liver lesions and
        sclerotic bone metastases"): a finding about known disease (stable, progressing, responding, new lesions
        besides the old) is not its onset."""
        dx = self.p.primary_diagnosis
        if dx is None or dx.metastatic_date is not None or dx.extent != "metastatic":
            return
        early = [t.start for t in self.p.treatments if t.start is not None and t.setting in ("adjuvant", "neoadjuvant")]
        first = dx.date or (min(early) if early else None)  # her early disease dated, or its treatment
        if first is None:
            return
        best = None
        for s in self.sents:
            m = self._MET_FOUND.search(s.text)
            if not m or self._MET_FOUND_NOT.search(s.text[m.start():m.end()]):
                continue
            ds = [d for d in self._find_dates(s.text) if d[0] < m.start()]
            d0 = ds[-1][2] if ds else None
            if d0 is None or d0 > self.as_of or (d0 - first).days <= 90:
                continue
            if best is None or d0 < best:
                best = d0
        if best is not None:
            dx.metastatic_date = best

    _TN = re.compile(r"\b(?:c|p|yp)?T([0-4](?:is|mi|[abcd])?)\s*(?:c|p|yp)?N([0-3](?:mi|[abc])?)\b")

    _DX_FIELD = re.compile(r"^[ \t]*(?:date of (?:first |initial )?diagnosis|diagnosis date|dx date|date of dx)[ \t]*[:=-][ \t]*",
                           re.I | re.M)
    _DE_NOVO = re.compile(r"\bde novo\b|\bstage (?:iv|4)\b[^.\n]{0,20}\bat (?:diagnosis|presentation)\b|"
                          r"\bstage at (?:diagnosis|presentation)[ \t]*:[^\n]{0,30}\b(?:iv|4|M1)\b", re.I)

    def diagnosis_date_field(self) -> None:
        """ "Date of diagnosis: 10 February 2026" (a form's field): the date of her first diagnosis where no
        sentence gave it; with de novo metastatic disease ("Stage at diagnosis: de novo stage IV") it is also the
        date her disease became metastatic."""
        dx = self.p.primary_diagnosis
        if dx is None:
            return
        if dx.date is None:
            m = self._DX_FIELD.search(self.text)
            ds = [d for d in self._find_dates(self.text[m.end():m.end() + 40]) if d[0] == 0] if m else []
            if ds and ds[0][2] <= self.as_of:
                dx.date = ds[0][2]
        if dx.date is not None and dx.metastatic_date is None and dx.extent == "metastatic" \
                and self._DE_NOVO.search(self.text):
            dx.metastatic_date = dx.date

    def extent_from_stage(self) -> None:
        """A tumour staged by T and N without M ("pT1c pN0 (0/2 nodes)") in a note that states no distant disease
        ("No evidence of distant disease"): early (T4 or N2-3: locally advanced)."""
        dx = self.p.primary_diagnosis
        if dx is None or dx.extent is not None or dx.metastases:
            return
        if not any(a.subject == "metastasis:any" and a.present is False for a in self.p.assertions):
            return
        m = self._TN.search(self.text)
        if not m:
            return
        dx.extent = "locally_advanced" if m.group(1).startswith("4") or m.group(2)[0] in "23" else "early"

    def measurable(self, s: _Sentence) -> None:
        """ "measurable by RECIST 1.1", "target lesion 31 mm", "new liver lesions, largest 24 mm":
        measurable disease (a lesion of at least 10 mm, a node of 15 mm); "non-measurable": not."""
        dx = self.p.primary_diagnosis
        if dx is None:
            return
        t, low = s.text, s.low
        if re.search(r"\bnon-?measurable\b|\bnot measurable\b|\bno measurable\b", low):
            dx.measurable_disease = False if dx.measurable_disease is None else dx.measurable_disease
            return
        if re.search(r"\bmeasurable\b", low):
            dx.measurable_disease = True
            return
        # measurable: a lesion, node or mass of at least 10 mm (RECIST 1.1; a node 15 mm) in metastatic disease
        if dx.measurable_disease is None and (dx.extent == "metastatic" or dx.metastases):
            for mm in re.finditer(r"\b(lesions?|mass|masses|metastas[ie]s|mets|deposits?|nodes?|nodules?|target|primary|tumou?r)\b[^.;]{0,40}?"
                                  r"(\d+(?:\.\d+)?)\s*(?:-\s*\d+(?:\.\d+)?\s*)?(mm|cm)\b", t, re.I):
                size = float(mm.group(2)) * (10 if mm.group(3).lower() == "cm" else 1)
                if "-" in mm.group(0):
                    hi = re.search(r"-\s*(\d+(?:\.\d+)?)\s*(?:mm|cm)", mm.group(0))
                    size = max(size, float(hi.group(1)) * (10 if mm.group(3).lower() == "cm" else 1)) if hi else size
                need = 15 if mm.group(1).lower().startswith("node") else 10
                if size >= need and re.search(r"metasta|\bmets\b|liver|lung|hepatic|pulmonary|target|measurable|pd\b|progress", low):
                    dx.measurable_disease = True
                    break

    #: a negative finding older than this (days before the note's date) no longer says the site is clear now
    #: ("MRI brain 2025 clear" in a note of late 2026): a stated absence is kept only from recent imaging
    STALE_NEGATIVE_DAYS = 365

    def _stale_negative(self, s: _Sentence) -> bool:
        """The sentence's dates are all older than :attr:`STALE_NEGATIVE_DAYS` (a year alone counts from its
        start): its "no ... metastases" describes then, not now."""
        ds = [d[2] for d in self._find_dates(s.text)]
        return bool(ds) and self.as_of is not None and (self.as_of - max(ds)).days > self.STALE_NEGATIVE_DAYS

    def sites(self, s: _Sentence) -> None:
        cue = re.search(r"metasta|\bmets\b|spread|secondar|deposits|lesions?|involvement|disease in|\bmbc\b|\babc\b|"
                        r"(?<!local )(?<!locoregional )(?<!local-)\b(?:relapse\w*|recurren\w*)\b|infiltration|"
                        r"^\s*(?:sites?|metastatic sites?|sites? of (?:disease|metastas[ie]s))\s*:", s.low)
        if not cue:
            return
        strong_cue = re.search(r"metasta|\bmets\b|spread|secondar|deposits|\bmbc\b|relapse|recurren", s.low)
        for ent, key in self._ents(s, "SITE"):
            before = self.text[max(s.start, ent.start_char - 25):ent.start_char]
            after = self.text[ent.end_char:min(s.end, ent.end_char + 25)]
            if re.search(r"\bno\s+(?:evidence of\s+|definite\s+|known\s+)?$", before, re.I) and \
                    re.match(r"\s*(?:metasta|mets\b|lesions?|involvement|deposits?|disease)", after, re.I):
                # "no brain metastases", even after "MRI brain:" in the same sentence
                if not self._stale_negative(s):
                    self.p.assertions.append(Assertion(subject=f"metastasis:{key}", present=False, source=self.src(s)))
                continue
            if key in ("skin", "chest_wall", "lymph_node") and not strong_cue and \
                    re.search(r"\b(?:primary|breast|local|axilla\w*|regional)\b", s.low):
                continue  # "skin involvement" of a locally advanced primary is not a metastasis
            # "lymph node" in "sentinel lymph node biopsy" etc. is not a metastasis
            if re.search(r"biopsy|dissection", s.text[ent.end_char - s.start:ent.end_char - s.start + 12], re.I):
                continue
            if re.search(r"(?:MRI|CT|PET|scan|imaging|x-ray|ultrasound|biopsy|exam\w*)\s+(?:of\s+)?(?:the\s+)?"
                         r"(?:[\w-]+\s*(?:/|,|&|\band\b)\s*){0,4}$",
                         self.text[max(s.start, ent.start_char - 45):ent.start_char], re.I) or \
                    re.match(r"\s*(?:imaging|scans?|MRI|CT|PET|x-?rays?|ultrasound|USS?)\b", after, re.I):
                # "MRI brain", "CT chest/abdomen/pelvis", "Brain imaging: MRI brain 05/02/2026 - no metastases",
                # "bone scan": the organ imaged; "MRI brain (October 2026): normal" says it is free of metastases
                rest = self.text[ent.end_char:s.end]
                cleared = re.sub(r"\b(?:no|without)\s+(?:evidence of\s+)?(?:\w+\s+)?(?:metasta\w*|mets|lesions?|deposits?|"
                                 r"disease|abnormalit\w*)\b", " CLEAR ", rest, flags=re.I)
                if (re.search(r"\bCLEAR\b|\b(?:normal|clear|negative|unremarkable)\b", cleared)
                        and not re.search(r"\b(?:metasta\w*|mets|lesions?|deposits?|nodules?|progress\w*|otherwise|"
                                          r"except|but)\b", cleared, re.I)
                        and not self._stale_negative(s)):
                    self.p.assertions.append(Assertion(subject=f"metastasis:{key}", present=False, source=self.src(s)))
                continue
            if re.match(r"\s*(?:scans?|scintigraphy|scintigram|imaging|x-?rays?|ultrasound|mri|ct)\b", after, re.I) and \
                    not re.match(r"\s*\w+\s*(?::|showed|shows|revealed|confirmed|demonstrated)?\s*(?:multiple\s+|new\s+|several\s+)?"
                                 r"(?:metasta|mets\b|lesions?|deposits?|uptake)", after, re.I):
                continue  # "Staging CT and bone scan (June 2026): no distant metastases": the test, not a site of disease
            if re.search(r"\b(?:MRI|CT|PET(?:[- ]CT)?|CAP)\s+(?:of\s+)?(?:the\s+)?(?:[A-Za-z]+\s*/\s*)+$",
                         self.text[max(s.start, ent.start_char - 40):ent.start_char]):
                continue  # "CT chest/abdomen/pelvis": the regions imaged, not sites of disease
            if not ent._.is_negated and any(e2._.is_negated and k2 == key for e2, k2 in self._ents(s, "SITE")):
                continue
            if ent._.is_negated or re.search(r"\bno\b[^.;]{0,30}$", self.text[s.start:ent.start_char]) and \
                    re.search(r"\bno\b", self.text[max(s.start, ent.start_char - 30):ent.start_char], re.I):
                if not self._stale_negative(s):
                    self.p.assertions.append(Assertion(subject=f"metastasis:{key}", present=False, source=self.src(s)))
                continue
            if ent._.is_hypothetical or ent._.is_family:
                continue
            if not self.p.diagnoses:
                # a "lesion" or "involvement" in a note without a cancer is not a metastasis
                # (multiple sclerosis plaques, amyloid involvement): only an explicit metastasis
                # word stands for a cancer the note does not name
                if not re.search(r"metasta|\bmets\b|spread|secondar|deposits", s.low):
                    continue
                self.p.diagnoses.append(Diagnosis(cancer_type="cancer", source=self.src(s)))
            dx = self.p.primary_diagnosis or self.p.diagnoses[0]
            if any(m.site == key for m in dx.metastases):
                met = next(m for m in dx.metastases if m.site == key)
            else:
                met = Metastasis(site=key, source=self.src(s))
                dx.metastases.append(met)
                if dx.extent in (None, "early", "locally_advanced"):
                    dx.extent = "metastatic"
            if key in ("brain", "leptomeninges"):
                for qm in re.finditer(r"\b(untreated|treated|stable|unstable|active|progressing|progressive|"
                                      r"symptomatic|asymptomatic|leptomeningeal|controlled|uncontrolled)\b", s.low):
                    if re.search(r"\b(?:no|without|not)\s+$", s.low[max(0, qm.start() - 10):qm.start()]):
                        continue  # "no leptomeningeal disease"
                    q = qm.group(1)
                    q = {"progressive": "progressing", "uncontrolled": "active", "controlled": "stable",
                         "unstable": "active"}.get(q, q)
                    if q not in met.status:
                        met.status.append(q)

    # -- receptors ----------------------------------------------------------------------------
    _REC = r"(ER|PR|PgR|HER-?2(?:/neu)?|estrogen receptors?|oestrogen receptors?|progesterone receptors?|ERBB2)"

    def _rec_name(self, raw: str) -> str:
        r = raw.lower()
        if r.startswith(("er", "estrogen", "oestrogen")) and not r.startswith("erbb"):
            return "ER"
        if r.startswith(("pr", "pgr", "progesterone")):
            return "PR"
        return "HER2"

    def receptors(self, s: _Sentence) -> None:
        t = s.text
        found: dict[str, Biomarker] = {}
        extras: list[Biomarker] = []

        def get(name: str) -> Biomarker:
            if name not in found:
                found[name] = Biomarker(name=name, source=self.src(s), date=self._date_in(s) if re.search(r"\b(?:biopsy|tested|assessed|sample|specimen)\b", s.low) else None)
            return found[name]

        for m in re.finditer(r"(?<![\w-])" + self._REC + r"(?:\s*(?:status|expression|staining))?\s*(?:[:=]\s*(?=\(?IHC\b))?(?:\(IHC\)|IHC)?\s*(?:[:=]|of|was|is|in)?\s*"
                             r"(?:(\d{1,3}(?:\.\d+)?)\s*%|([0-3])\s*\+|(\+{1,3})(?![\w])|([0])(?![\d%]|\.\d)|"
                             r"(positive|negative|pos|neg|low|equivocal|amplified|non-?amplified|not amplified|\+|-|−)(?![\w]))", t, re.I):
            name = self._rec_name(m.group(1))
            if "receptors" in m.group(1).lower() and re.search(r"hormone receptor", t[max(0, m.start() - 10):m.end()], re.I):
                continue
            b = get(name)
            pct, score, plus, zero, word = m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)
            if (pct is not None and b.percent is not None and name != "HER2") or \
                    ((score is not None or zero is not None) and b.ihc_score is not None and name == "HER2"):
                # a second result for the same receptor ("right IDC ER 95% ...; left ILC ER 90%"): kept apart
                extras.append(b)
                del found[name]
                b = get(name)
            if pct is not None and name != "HER2":
                b.percent = float(pct)
            elif score is not None or zero is not None:
                if name == "HER2":
                    b.ihc_score = {"0": "0", "1": "1+", "2": "2+", "3": "3+"}[score or zero]
            elif plus is not None and name == "HER2" and len(plus) > 1:
                b.ihc_score = f"{len(plus)}+"
            elif plus is not None:
                b.status = "positive"
            elif word:
                w = word.lower()
                if w in ("positive", "pos", "+", "amplified"):
                    b.status = "positive"
                elif w in ("negative", "neg", "-", "−", "non-amplified", "nonamplified", "not amplified"):
                    b.status = "negative"
                elif w == "low":
                    b.status = "low"
                elif w == "equivocal":
                    b.status = "equivocal"
        # "ER 90 PR 50 HER2 0", "ER 90 / PR 70 / HER2 1+": percentages written without the % sign in clinic shorthand
        for m in re.finditer(r"(?<![\w-])(ER|PR|PgR)\s+(\d{1,3})(?![\d.,/%]|\s*(?:mm|cm|x|months?|years?))"
                             r"(?=\s*(?:[,;]|/\s*(?:PR|PgR|HER-?2)\b|\s(?:PR|PgR|HER-?2|and)\b|$))", t):
            b = get(self._rec_name(m.group(1)))
            if b.percent is None and float(m.group(2)) <= 100:
                b.percent = float(m.group(2))
        # Allred scores "ER 8/8 Allred": positive from 3/8; the score is kept, no percent is made up
        for m in re.finditer(r"(?<![\w-])(ER|PR|PgR)\s*(?:Allred\s*(?:score\s*)?)?([0-8])\s*/\s*8\b(\s*\(?Allred\)?)?", t, re.I):
            if "allred" not in m.group(0).lower() and not re.search(r"allred", t, re.I):
                continue
            b = get(self._rec_name(m.group(1)))
            score = int(m.group(2))
            b.intensity = f"Allred {score}/8"
            b.status = b.status or ("positive" if score >= 3 else "negative")
        # "ER+/PR-/HER2-" compact forms
        for m in re.finditer(r"(?<![\w-])(ER|PR|PgR|HER-?2)\s*([+\-−])(?=\s*[/,;)]|\s|$)", t):
            b = get(self._rec_name(m.group(1)))
            if b.status is None:
                b.status = "positive" if m.group(2) == "+" else "negative"
        for m in re.finditer(r"\b(ER|PR|PgR|HER-?2)[- ](positive|negative|low|pos|neg)\b(?:\s*\(\s*(\d{1,3}(?:\.\d+)?)\s*%\s*\))?", t, re.I):
            b = get(self._rec_name(m.group(1)))
            w = {"pos": "positive", "neg": "negative"}.get(m.group(2).lower(), m.group(2).lower())
            b.status = b.status or w
            if w == "low" and b.status == "positive":
                b.status = "low"
            if m.group(3) and b.percent is None and b.name != "HER2":
                b.percent = float(m.group(3))
        # "ER/PR negative", "ER and PR positive", "ER/PgR-positive": one status for both receptors
        for m in re.finditer(r"(?<![\w-])(ER|estrogen receptor)\s*(?:/|and|&)\s*(PR|PgR|progesterone receptor)s?"
                             r"(?:\s*(?:status|expression))?\s*(?:were|was|are|is|:)?\s*[- ]?\s*"
                             r"(positive|negative|pos|neg)\b", t, re.I):
            w = "positive" if m.group(3).lower().startswith("pos") else "negative"
            for n in ("ER", "PR"):
                b = get(n)
                b.status = b.status or w
        if "HER2" in found and found["HER2"].ihc_score is None:
            mm = re.search(r"\bIHC\s*(?:score\s*)?(?:of\s*)?([0-3])\s*\+?", t, re.I)
            if mm:
                found["HER2"].ihc_score = {"0": "0", "1": "1+", "2": "2+", "3": "3+"}[mm.group(1)]
        # HER2 ISH
        m = re.search(r"\b(?:FISH|ISH|SISH|CISH|DISH)\b\s*(?:was|is|:)?\s*(not amplified|non-?amplified|negative|neg|amplified|positive|pos|equivocal)\b", t, re.I)
        if m and ("HER2" in found or re.search(r"her-?2", t, re.I)):
            b = get("HER2")
            w = {"neg": "negative", "pos": "positive"}.get(m.group(1).lower(), m.group(1).lower())
            b.ish = "positive" if w in ("amplified", "positive") else "equivocal" if w == "equivocal" else "negative"
        # HR-positive (ER and/or PR) as an assertion: which receptor is not said
        m = re.search(r"\b(?:HR|hormone[- ]receptor)[- ]?(positive|negative|\+|-)", t, re.I)
        if m:
            pos = m.group(1).lower() in ("positive", "+")
            self.p.assertions.append(Assertion(subject="biomarker:HR_positive", present=pos, source=self.src(s)))
            if not pos:
                for n in ("ER", "PR"):
                    get(n).status = get(n).status or "negative"
        for name, b in [(x.name, x) for x in extras] + list(found.items()):
            if name in ("ER", "PR"):
                if b.percent is not None:
                    inferred = "negative" if b.percent < 1 else ("low" if b.percent <= 10 and name == "ER" else "positive")
                    if b.status is None:
                        b.status = inferred
                    elif b.status == "positive" and inferred == "low":
                        b.status = "low"
            if name == "HER2" and b.status is None:
                if b.ihc_score in ("0", "1+"):
                    b.status = "negative" if b.ihc_score == "0" or not re.search(r"her2[- ]low", t, re.I) else "low"
                elif b.ihc_score == "3+":
                    b.status = "positive"
                elif b.ihc_score == "2+":
                    b.status = {"positive": "positive", "negative": "negative"}.get(b.ish or "", "equivocal")
                elif b.ish:
                    b.status = b.ish
            if name == "HER2" and b.ihc_score == "2+" and b.ish in ("positive", "negative"):
                b.status = b.ish
            if b.status is None and b.percent is None and b.ihc_score is None and b.ish is None:
                continue
            if re.search(r"\b(?:not (?:reported|known|available|done|tested|assessed)|unknown|pending)\b", s.low) and b.status is None:
                continue
            if b.percent is None and b.ihc_score is None and b.ish is None and b.date is None and \
                    any(x.name == b.name and x.status == b.status for x in self.p.biomarkers):
                continue  # "no endocrine therapy (ER-low)": the result already read, named again
            self.p.biomarkers.append(b)
        # "HER2 testing pending", "PR awaited": unknown, not negative (kept so the reader shows it)
        for m in re.finditer(r"(?<![\w-])" + self._REC + r"(?:\s+(?:status|testing|test|result|results|staining|IHC|FISH|ISH))*"
                             r"\s*(?:is|are|was|:)?\s*(?:still\s+)?(pending|awaited|not (?:yet )?(?:known|available|reported|done|tested|assessed)|unknown|to follow|requested)\b", t, re.I):
            name = self._rec_name(m.group(1))
            if name in found and found[name] in self.p.biomarkers:
                continue
            when = self._date_in(s)
            context = s.low
            if when is None:
                when = self._date_on_line_before(s)
                if when is not None:
                    context += " " + next(x for x in reversed(self.sents) if x.end <= s.start).low
            known = [b for b in self.p.biomarkers if b.name == name]
            # a result still pending on a newer sample supersedes the older result: unknown now
            newer = when is not None and all(b.date is None or b.date < when for b in known) and (
                not known or re.search(r"\b(?:metasta\w*|new|repeat|recent|re-?biopsy|biopsy|sample)\b", context))
            if not known or newer:
                self._pending.append(Biomarker(name=name, status="unknown", date=when, source=self.src(s)))

    GENES = r"(ESR1|PIK3CA|BRCA1|BRCA2|PALB2|AKT1|PTEN|TP53|ERBB2|HER2|CDH1|ATM|CHEK2|FGFR1|CCND1|MYC|RB1|KRAS|NRAS|BRAF|EGFR|ALK|ROS1|MET|RET|NTRK\d?|IDH1|IDH2|KIT|MSI-H)"

    def genes(self, s: _Sentence) -> None:
        t = s.text
        for m in re.finditer(r"(?<![\w-])(germline\s+|somatic\s+)?" + self.GENES + r"(?![\w-])", t):
            gene = m.group(2)
            after = t[m.end():m.end() + 60]
            nxt = _NEXT_GENE.search(after)
            if nxt is not None and _GENE_RESULT.search(after, 0, nxt.start()):
                # "PALB2 pathogenic variant (heterozygous), BRCA1/BRCA2 no variant detected": this gene's result is
                # before the next gene's; in "BRCA1/2, PALB2, ATM: no pathogenic variant" the result is shared
                after = after[:nxt.start()]
            before = t[max(0, m.start() - 40):m.start()]
            if gene == "HER2" and not re.search(r"amplif|mutat", after[:20], re.I):
                continue
            if gene == "HER2" and re.search(r"\b(?:not|non-?|no|un)\s*amplif", after[:25], re.I):
                continue  # "HER2 2+, FISH not amplified": the receptor's ISH result, read with the biomarker
            win = (before + " " + m.group(0) + after).lower()
            if not re.search(r"mutat|variant|alteration|amplif|fusion|wild[- ]?type|pathogenic|deletion|rearrang|"
                             r"\b[A-Z]\d{2,4}[A-Z*]\b|detected|carrier|positive|negative", before + after, re.I):
                continue
            status = "mutated"
            if re.search(r"amplif", after[:25], re.I):
                status = "amplified"
            if re.search(r"fusion|rearrang", after[:25], re.I):
                status = "fusion"
            if re.search(r"wild[- ]?type|not detected|no (?:\w+ )?(?:mutations?|variants?|alterations?)|negative", after[:60], re.I) or \
                    re.search(r"\bno\s+(?:\w+\s+)?$", before, re.I):
                status = "wildtype"
            vm = re.search(r"\(?\b(?:p\.)?([A-Z]\d{2,4}(?:[A-Z*]|del|fs\w*)|[A-Z][a-z]{2}\d{2,4}[A-Z][a-z]{2})\b", after[:40])
            variant = vm.group(1) if vm and status == "mutated" else None
            specimen = None
            if m.group(1) and "germline" in m.group(1).lower() or re.search(r"germline", win):
                specimen = "germline"
            elif re.search(r"ctdna|circulating tumou?r dna|liquid biopsy|plasma|cell-free", win):
                specimen = "ctdna"
            elif re.search(r"tissue|tumou?r (?:biopsy|sample)|biopsy", win):
                specimen = "tissue"
            if any(g.gene == gene and g.variant == variant and g.status == status for g in self.p.genes):
                continue
            self.p.genes.append(GeneResult(gene=gene, status=status, variant=variant, specimen=specimen,
                                           date=self._date_in(s), source=self.src(s)))

    # -- labs ------------------------------------------------------------------------------------
    def labs(self, s: _Sentence) -> None:
        pats = _patterns()
        # a lab table's cells ("| Hb          | 112 g/L    | 115-165 |"): the bars are column spacing (same length)
        t = re.sub(r"[ \t]*\|[ \t]*", lambda m: " " * len(m.group(0)), s.text) if s.text.count("|") >= 4 else s.text
        date = None
        if re.search(r"\blab|blood|cbc|chemistry|panel|count|hemoglobin|platelet|\becho|\bmuga\b|\blvef\b", s.low):
            date = self._date_in(s)
            if date is None:
                date = getattr(self, "_lab_date", None)
            else:
                self._lab_date = date
        for m in pats["lab_re"].finditer(t):
            raw_name, val, unit = m.group(1), m.group(2), m.group(3)
            analyte = pats["analytes"].get(raw_name.lower()) or normalize_analyte(raw_name)
            if analyte is None:
                continue
            if raw_name.isupper() is False and raw_name.lower() in ("hb", "cr", "alt", "ast", "plt", "anc", "wbc", "inr") \
                    and raw_name not in ("Hb", "Cr", "Hgb"):
                pass
            # a date or a year right after the name is not a value
            if re.match(r"\s*[-/]\d", t[m.end(2):m.end(2) + 3]) and unit is None:
                continue
            value = float(val.replace(",", "."))
            after = t[m.end():m.end() + 50]
            xm = re.match(r"\s*(?:x|×|\*|times)\s*(?:the\s*)?(?:ULN|upper limit(?: of normal)?|UNL)\b", t[m.end(2):m.end(2) + 40], re.I)
            if xm:
                # "ALT 4.0 x ULN": a multiple of her lab's ULN, kept as such (value in ULN units)
                self.p.labs.append(LabResult(analyte=analyte, value=value, unit="x ULN", uln=1.0, uln_multiple=value,
                                             date=date, source=self.src(s)))
                continue
            if re.match(r"\s*(?:x|×)\s*(?:LLN)\b", t[m.end(2):m.end(2) + 12], re.I):
                self.p.labs.append(LabResult(analyte=analyte, value=value, unit="x LLN", lln=1.0, date=date,
                                             source=self.src(s)))
                continue
            unit_note = None
            if unit is None:
                from .note_rules import usual_unit

                if re.match(r"\s*(?:%|percent)", after) or re.match(r"\s*(?:mm|cm|kg|years?|months?|weeks?|days?|mg\b)", after, re.I):
                    continue
                guess = usual_unit(analyte, value)
                if guess is not None:
                    unit = guess
                    unit_note = f"no unit written: read as {guess}, the usual unit for this value"
            norm, warn = normalize_unit(unit, analyte) if unit else (None, None)
            if warn:
                self.warnings.append(f"labs: {analyte}: {warn}")
            uln = None
            um = re.match(r"\s*\(?\s*(?:ULN|upper limit(?: of normal)?|normal\s*(?:<|≤|up to|range[^)]*?-))\s*(?:[:=]|of|is)?\s*(\d+(?:\.\d+)?)", after, re.I)
            if um:
                uln = float(um.group(1))
            self.p.labs.append(LabResult(analyte=analyte, value=value, unit=norm, date=date, uln=uln, unit_note=unit_note,
                                         source=self.src(s)))
        from .note_rules import read_lab_statements

        read_lab_statements(self, s, date if date is not None else self._date_in(s) if re.search(r"\d{4}", t) else None)

    def performance(self, s: _Sentence) -> None:
        t = s.text
        m = re.search(r"\b(?:ECOG|WHO)(?:\s*(?:performance status|PS|score))?\s*(?:of|is|was|:|=)?\s*([0-5])(?!\s*[-–]\s*\d|\d)", t, re.I) or \
            re.search(r"\bperformance status(?:\s*\((?:ECOG|WHO)\))?\s*(?:of|is|was|:|=)?\s*([0-5])(?!\s*[-–]\s*\d|\d)", t, re.I)
        if m:
            self.p.performance.append(PerformanceStatus(scale="ecog", value=float(m.group(1)), date=self._date_in(s),
                                                        source=self.src(s)))
        m = re.search(r"\b(?:KPS|Karnofsky(?: performance (?:status|score))?)\s*(?:of|is|was|:|=)?\s*(\d{2,3})\s*%?", t, re.I)
        if m:
            self.p.performance.append(PerformanceStatus(scale="karnofsky", value=float(m.group(1)), date=self._date_in(s),
                                                        source=self.src(s)))

    def misc(self, s: _Sentence) -> None:
        m = re.search(r"\b(?:no|not on|takes no|without)\b[^.]{0,20}?\b(strong )?CYP3A4?\s*(inhibitors?|inducers?)(?:\s*(?:or|and|/)\s*(inhibitors?|inducers?))?", s.text, re.I)
        if m:
            self.p.assertions.append(Assertion(subject="medication:strong_cyp3a4_modulator", present=False,
                                               source=self.src(s)))

    # -- treatments and medications -------------------------------------------------------------
    def drugs(self, s: _Sentence) -> None:
        """The treatments of a sentence; a list of courses ("anastrozole + palbo 2022-24 (PD),
        fulv 2024-25 (PD on fulv), cape 2025-26 PD", "Prior lines for MBC: A + B, C, D",
        "X since July 2026 (second line after PD on Y)", "AC x4 then tamoxifen 2019-2021") is
        read course by course; a later segment with no setting of its own takes the sentence
        label's ("Adjuvant 2018: ...", "Treatment for MBC: ...") or, after "then", the one before."""
        ents = self._ents(s, "DRUG")
        if len(ents) >= 2:
            segments = self._course_segments(s, ents)
            if len(segments) >= 2:
                n0 = len(self.p.treatments)
                label = re.match(r"\s*([^:]{1,40}):", s.text)
                label_setting = _setting_words(label.group(1)) if label else None
                prev_setting = None
                for seg in segments:
                    own = _setting_words(seg.text)
                    inherit = own
                    if own is None:
                        if label_setting is not None:
                            inherit = label_setting
                        elif prev_setting is not None and (_SEQUENCE_START.match(seg.text) or seg.hints.get("prior")
                                                           or prev_setting == "metastatic"):
                            # after "then", or anything after a course for metastatic disease
                            inherit = prev_setting
                    seg.hints.setdefault("setting", inherit)
                    n_before = len(self.p.treatments)
                    self._drugs_in(seg)
                    if len(self.p.treatments) > n_before:
                        prev_setting = self.p.treatments[-1].setting if self.p.treatments[-1].setting != "unknown" \
                            else prev_setting
                self._sequence_year(s, segments, n0)
                return
        self._drugs_in(s)

    def _sequence_year(self, s: _Sentence, segments: list, n0: int) -> None:
        """"EC x4 then docetaxel x4 (2021)": a bracketed year after the last course of a sequence joined by "then"
        dates the whole sequence; a course of it with no date of its own starts in that year."""
        if not all(_SEQUENCE_START.match(seg.text) for seg in segments[1:] if self._ents(seg, "DRUG")):
            return
        m = re.search(r"\(\s*((?:19|20)\d{2})\s*\)", segments[-1].text)
        if m is None:
            return
        year = dt.date(int(m.group(1)), 1, 1)
        if year > self.as_of:
            return
        for t in self.p.treatments[n0:]:
            if t.start is None and t.end is None and t.ongoing is not True:
                t.start = year

    def _course_segments(self, s: _Sentence, ents) -> list[_Sentence]:
        """Split at "," or ";" (outside brackets), at "then", "followed by", "->", and at
        "after PD on", "previously" (also inside brackets), where each part holds its own drugs
        and its own dates or outcome (or the sentence is a list: "Prior lines for MBC: ...")."""
        cuts = [0]
        prior_at: set[int] = set()
        depth = 0
        for i, ch in enumerate(s.text):
            depth += ch == "("
            depth -= ch == ")" and depth > 0
            if ch in ",;" and depth == 0:
                cuts.append(i + 1)
        for m in _SEQUENCE_CUT.finditer(s.text):
            before = s.text[:m.start()]
            if before.count("(") <= before.count(")"):
                cuts.append(m.start())
        for m in _PRIOR_CUT.finditer(s.text):
            cuts.append(m.start())
            prior_at.add(m.start())
        if re.search(r"\bboth (?:PD|progressed)\b|\ball (?:PD|progressed)\b", s.text):
            # "previously letrozole + palbociclib and fulvestrant, both PD": two courses
            for m in re.finditer(r"\s+and\s+", s.text):
                if any(p < m.start() for p in prior_at) and re.search(r"[+/]", s.text[max(prior_at):m.start()]):
                    cuts.append(m.start())
        cuts = sorted(set(cuts))
        cuts.append(len(s.text))
        parts = []
        for a, b in zip(cuts, cuts[1:]):
            if a == b:
                continue
            seg_ents = [(e, k) for e, k in s.ents if s.start + a <= e.start_char < s.start + b]
            parts.append([a, b, seg_ents, a in prior_at])
        # merge a part without a drug into the one before ("letrozole 2019-2024, no chemo")
        merged: list[list] = []
        for a, b, se, prior in parts:
            if merged and not any(e.label_ == "DRUG" for e, _ in se):
                merged[-1][1] = b
                merged[-1][2] += se
            else:
                merged.append([a, b, list(se), prior])
        names = _patterns()["drug_names"]
        from .note_rules import note_rules

        regimens = note_rules()["regimens"]

        def drugset(m) -> set[str]:
            out: set[str] = set()
            for e, k in m[2]:
                if e.label_ == "DRUG":
                    out |= set(regimens.get(k[8:], [])) if k and k.startswith("regimen:") else {names.get(k, k)}
            return out

        # a part that goes on with the drugs of the part before ("letrozole from April 2023,
        # progressed on letrozole after 21 months") is the same course
        joined: list[list] = []
        for m in merged:
            if joined and drugset(m) and drugset(joined[-1]) and drugset(m) <= drugset(joined[-1]) \
                    and not _SEQUENCE_START.match(s.text[m[0]:m[1]]) and not m[3] \
                    and not _START_CUE.search(s.text[m[0]:m[1]]):
                joined[-1][1] = m[1]
                joined[-1][2] += m[2]
            else:
                joined.append(m)
        merged = joined
        with_drug = [m for m in merged if drugset(m)]
        count = re.search(r"\((\d+) lines\b", s.text)
        # "Prior lines for MBC: anastrozole + ribociclib, capecitabine, eribulin": a list of courses
        # when the writer joins a combination with "+" (so a comma separates courses) or counts them
        listed = bool(_COURSE_LIST.match(s.text)) and (
            bool(count and int(count.group(1)) == len(with_drug)) or
            any(re.search(r"[+/]|\bwith\b", s.text[m[0]:m[1]]) and len(drugset(m)) >= 2 for m in with_drug))
        # the part an "after PD on ..." / "previously ..." part follows is a course of its own: the current one
        before_prior = {id(m) for m, n in zip(with_drug, with_drug[1:]) if n[3]}
        with_course = [m for m in with_drug if m[3] or id(m) in before_prior or listed or
                       _SEQUENCE_START.match(s.text[m[0]:m[1]]) or
                       re.search(r"(?:19|20)\d{2}|\bPD\b|progress|\bSD\b|\bPR\b|response|stable|cycles?|\bx\s*\d|months?|years?",
                                 s.text[m[0]:m[1]], re.I)]
        if len(with_course) < 2 or len(with_course) != len(with_drug):
            return []
        if len({frozenset(drugset(m)) for m in with_drug}) < len(with_drug) and not listed:
            return []  # the same drugs twice, not one after the other: not a list of courses
        both = re.search(r"\bboth (?:PD|progressed)\b|\ball (?:PD|progressed)\b", s.text)
        out = []
        for i, (a, b, se, prior) in enumerate(merged):
            seg = _Sentence(s.text[a:b], s.start + a, s.start + b)
            seg.ents = se
            if prior or prior_at and a >= min(prior_at) and both:
                seg.hints["prior"] = True
            if both and prior_at and a >= min(prior_at):
                seg.hints["progressed"] = True
            if count and listed and int(count.group(1)) == len(with_drug) and drugset([a, b, se]):
                seg.hints["line"] = with_drug.index(next(m for m in with_drug if m[0] == a)) + 1
            out.append(seg)
        return out

    def _drugs_in(self, s: _Sentence) -> None:
        pats = _patterns()
        ents = self._ents(s, "DRUG")
        classes = self._ents(s, "TXCLASS")
        low = s.low
        setting = _setting_words(low) or s.hints.get("setting") or "unknown"
        line = s.hints.get("line")
        for lm in re.finditer(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[- ]line\b", low):
            if re.search(r"\b(?:start|starting|due|plan\w*|consider\w*|discuss\w*|for|options?|to)\s+(?:\w+\s+)?$", low[:lm.start()]):
                continue  # "now due to start second-line therapy": the line to come, not this course's
            line = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}[lm.group(1)]
            break
        if re.match(r"\s*(?:plan|recommendations?|proposed|proposal|next steps?|options?|to discuss)\s*[:\-–]", low):
            return  # "Plan: letrozole with ribociclib": what is to come, not her history
        is_med_list = bool(re.match(r"\s*(?:current |home |active )?(?:medications|meds|drugs)\b", low))
        # "Patient was initially treated with melphalan and prednisone, followed by VAD": a past course,
        # not what she takes now (unless the sentence says it goes on)
        past = not is_med_list and bool(_PAST_COURSE.search(low)) and not _STILL_ON.search(low)
        cancer_drugs: list[str] = []
        companions: list[str] = []  # non-cancer drugs given with the cancer drugs or in a past course
        from .note_rules import note_rules

        regimens = note_rules()["regimens"]
        expanded = []
        for ent, key in ents:
            if key and key.startswith("regimen:"):
                expanded.extend((ent, g) for g in regimens.get(key[8:], []))
            else:
                expanded.append((ent, pats["drug_names"].get(key, key)))
        for ent, generic in expanded:
            neg = self._clause_negated(s, ent) or bool(re.search(r"\b(?:no|never|not)\b(?:\s+\w+){0,3}\s*$",
                                                      self.text[max(s.start, ent.start_char - 40):ent.start_char], re.I))
            if neg:
                self.p.assertions.append(Assertion(subject=f"treatment:{generic}", present=False, source=self.src(s)))
                continue
            if ent._.is_hypothetical or ent._.is_family or self._planned(s, ent):
                continue
            if re.search(r"\b(?:allerg\w*|intoleran\w*)\b", low):
                continue
            if set(drug_classes(generic)) & ANTICANCER and not (generic in ("letrozole", "tamoxifen") and False):
                if generic not in cancer_drugs:
                    cancer_drugs.append(generic)
            elif generic not in companions:
                companions.append(generic)
        if not past and not (cancer_drugs and not is_med_list and _REGIMEN_WITH.search(low)
                             and not _STILL_ON.search(low)):
            # current medications; "treated with melphalan and prednisone": the steroid belongs to the regimen
            for generic in companions:
                if not any(mm.name == generic for mm in self.p.medications):
                    self.p.medications.append(Medication(name=generic, source=self.src(s)))
            companions = []
        for ent, key in classes:
            neg = self._clause_negated(s, ent) or bool(re.search(r"\b(?:no|never|not|without)\b(?:\s+[\w/-]+){0,3}\s*$",
                                                      self.text[max(s.start, ent.start_char - 40):ent.start_char], re.I))
            subj = f"treatment:{key}" + (":metastatic" if setting == "metastatic" else "")
            if neg:
                self.p.assertions.append(Assertion(subject=subj, present=False, source=self.src(s)))
            elif not cancer_drugs and not ent._.is_hypothetical and not ent._.is_family and not self._planned(s, ent) and \
                    re.search(r"\b(received|treated|underwent|completed|cycles?|on|after|progressed|prior|previous)\b", low):
                cancer_drugs.append(key)
        if not cancer_drugs:
            self._course_details_elsewhere(s)
            if companions:  # a past course of non-cancer drugs only: history, date unknown, not current
                self.p.treatments.append(Treatment(drugs=companions, setting="unknown", ongoing=False,
                                                   source=self.src(s)))
            return
        cancer_drugs += [g for g in companions if g not in cancer_drugs]
        if any(not e._.is_negated for e, _ in self._ents(s, "CONDITION")) and not s.hints and not re.search(
                r"cancer|carcinoma|metasta|\bmets\b|\bmbc\b|tumou?r|breast|\blines?\b|adjuvant|chemo|cycles?|\bPD\b|progress", low):
            # "rheumatoid arthritis on methotrexate": a drug for another condition, a medication
            for generic in cancer_drugs:
                if not any(mm.name == generic for mm in self.p.medications):
                    self.p.medications.append(Medication(name=generic, source=self.src(s)))
            return
        if len(pats["lab_re"].findall(s.text)) >= 2 and all(any(g in t.drugs for t in self.p.treatments) for g in cancer_drugs):
            return  # "ANC 1.3 x 10^9/L (ribociclib)": a lab put down to a drug she is on, not a course
        start = end = pd = None
        duration = None
        # "since her relapse", "since diagnosis": when a course began, not a progression on it
        ptext = re.sub(r"\b(?:since|at|after)\s+(?:her|the|his)\s+(?:\w+\s+)?(?:relapse|recurrence|progression|diagnosis)\b",
                       lambda m: " " * len(m.group(0)), s.text, flags=re.I)
        prog_m = re.search(r"\bprogress\w*|\bPD\b|recurr\w*|relapse\w*", ptext, re.I)
        mr = _MONTH_RANGE.search(s.text)
        rm = None if mr else re.search(r"\(?\b((?:19|20)\d{2})\s*(?:-|–|to|until|through)\s*((?:19|20)\d{2}|\d{2})\b(?![/.-]\d)\)?", s.text)
        if mr:
            # "Jul-Nov 2026", "April-September 2026", "Nov 2020 - Nov 2025", "2024 - Sept 2026"
            y2 = int(mr.group("y2"))
            m1 = MONTHS.get((mr.group("m1") or "jan").lower()[:3], 1)
            m2 = MONTHS[mr.group("m2").lower()[:3]]
            y1 = int(mr.group("y1") or mr.group("y1b") or (y2 if m1 <= m2 else y2 - 1))
            d1, d2 = _mkdate(y1, m1), _mkdate(y2, m2)
            if d1 and d2 and d2 >= d1:
                start, end = d1, min(d2, self.as_of)
        elif rm and not re.search(r"\d{4}-\d{1,2}-\d{1,2}", s.text[rm.start():rm.end() + 6]):
            y1, y2 = int(rm.group(1)), rm.group(2)
            y2 = int(y2) if len(y2) == 4 else (y1 // 100) * 100 + int(y2)  # "2022-24"
            if y2 >= y1:
                # a year is its last day at the latest, and no later than the note's own date
                start, end = dt.date(y1, 1, 1), min(dt.date(y2, 12, 31), self.as_of)
        ds = self._find_dates(s.text)
        assessed = None
        range_span = (mr or rm).span() if (mr or rm) else None
        for (a, b, d, prec) in ds:
            if range_span and range_span[0] <= a < range_span[1]:
                continue
            before = s.text[max(0, a - 25):a].lower()
            if prog_m and a > prog_m.start() and re.search(r"progress|pd|recurr|relapse|in|on|metasta|\bmets\b|lesions?|disease", before):
                pd = pd or d
            elif _ASSESSED_BEFORE.search(s.text[max(0, a - 40):a]):
                assessed = assessed or d  # "partial response after 4 cycles on CT 27/10/2026": a scan's date
            elif range_span:
                continue
            elif re.search(r"(?:until|to|through|stopped|ended|discontinued|completed|last\s+(?:[\w-]+\s+){0,2}dose)\s*(?:in|on|:)?\s*$", before) \
                    or _LAST_DOSE_BEFORE.search(s.text[:a]):
                end = end or d
            elif start is None:
                start = d
            elif end is None and not prog_m:
                end = d
        hedged = note_rules()["hedged_dates"]
        if hedged is not None and (start or end or pd) and hedged.search(s.text):
            start = end = pd = None  # "letrozole 2019-2024? (records awaited)": dates the note itself doubts
        ctext = _compound_durations(_number_words(s.text))
        relapse_after = None
        rl = _RELAPSE_AFTER.search(ctext)
        if rl:
            relapse_after = round(_months(float(rl.group(1)), rl.group(2)), 2)
            ctext = ctext[:rl.start()] + " " * (rl.end(2) - rl.start()) + ctext[rl.end(2):]
        drug_alt = "|".join(re.escape(d) for d in cancer_drugs)
        dm = re.search(r"\b(\d+(?:\.\d+)?)\s*(days?|weeks?|months?|mos?|years?|yrs?)\s+of\s+(?:[\w/-]+\s+){0,3}?"
                       r"(?:" + drug_alt + r"|therapy|treatment)\b", ctext, re.I) or \
            re.search(r"\b(?:for|after|x|over|of)\s+(\d+(?:\.\d+)?)\s*(days?|weeks?|months?|mos?|years?|yrs?)\b", ctext, re.I) or \
            re.search(r"\b(?:" + drug_alt + r")\s+(\d+(?:\.\d+)?)\s*(weeks?|months?|mos?|years?|yrs?)\b", ctext, re.I) or \
            re.search(r"[(,]\s*(\d+(?:\.\d+)?)\s*(months?|mos?|years?|yrs?)\s*(?=[),])", ctext, re.I)
        if dm:
            duration = round(_months(float(dm.group(1)), dm.group(2)), 2)
        cm_ = re.search(r"\b(\d{1,2})\s*(?:cycles?|courses?)\b|\bx\s*(\d{1,2})\s*(?:cycles?|courses?)?\b(?!\s*(?:10|ULN|day|week|month|year|mg))", ctext, re.I)
        cycles = int(cm_.group(1) or cm_.group(2)) if cm_ else None
        from .note_rules import response_in

        response = response_in(s.text)
        progressed = True if prog_m and not re.search(r"\bno (?:disease )?progression|without progression", low) else None
        if s.hints.get("progressed"):
            progressed = True
        if response == "PD":
            progressed = True
        to_progression = None
        tp = re.search(r"\b(?:progress\w*|PD|relapse\w*)\b[^.;]{0,40}?\b(?:after|at)\s+(\d+(?:\.\d+)?)\s*(weeks?|months?|mos?|years?|yrs?)\b", ctext, re.I) \
            or re.search(r"\b(?:PFS|TTP|time to progression)\s*(?:of|was|:|=)?\s*(\d+(?:\.\d+)?)\s*(weeks?|months?|mos?|years?)\b", ctext, re.I)
        if tp and progressed and relapse_after is None:
            to_progression = round(_months(float(tp.group(1)), tp.group(2)), 2)
        if relapse_after is not None and response != "PD":
            # "relapsed 8 months after finishing tamoxifen": the relapse came after the course, not on it
            progressed, pd = False, None
        if progressed and pd is None and end is None and start and duration:
            pd = _add_months(start, duration)
        # "since" with no date or event after it ("no anticancer treatment since") says nothing goes on
        ongoing = True if re.search(r"\b(currently|current|ongoing|continues|continuing|remains on|still on|since(?!\s*(?:[.;,)]|$)))\b", low) \
            or is_med_list else None
        if ongoing is None and start is not None and end is None and not progressed and relapse_after is None and \
                re.search(r"\bfrom\s+(?:\d{1,2}\s+)?(?:" + _MON + r"|\d{1,2}[/.])", low) and not _PAST_COURSE.search(low):
            ongoing = True  # "First-line anastrozole + ribociclib from June 2026: partial response": open-ended
        if re.search(r"\b(?:now )?off (?:treatment|therapy)\b", low):
            ongoing = False
        if progressed or end or relapse_after is not None or re.search(r"\b(?:completed|finished|stopped|discontinued)\b", low):
            ongoing = False if ongoing is None or progressed or relapse_after is not None else ongoing
        response_ongoing = None
        if response in ("CR", "PR", "SD"):
            response_ongoing = True if re.search(r"\b(ongoing|continues|continuing|maintained|remains|still)\b", low) else None
            if response_ongoing and ongoing is None:
                ongoing = True
            if progressed is None and (response_ongoing or ongoing) and not prog_m:
                progressed = False  # "partial response to letrozole ongoing": no progression on it (yet)
        if progressed is None and response in ("CR", "PR", "SD") and not prog_m and re.search(r"\bnow\b|\bcurrently\b|\bat present\b", low):
            progressed = False  # "PR, now off treatment": the response is where she stands now
        if progressed is None and ongoing and not prog_m and re.search(r"\b(?:now|currently|still|remains|continues|continuing)\b", low):
            progressed = False  # "now on maintenance letrozole": she has not progressed on what she still takes
        course = Treatment(drugs=cancer_drugs, setting=setting, line=line, start=start, end=end,
                           duration_months=duration, ongoing=ongoing, progressed=progressed,
                           progression_date=pd, best_response=response, response_ongoing=response_ongoing,
                           cycles=cycles, relapse_months_after_end=relapse_after,
                           months_to_progression=to_progression, source=self.src(s))
        if assessed is not None:
            self._assessed[id(course)] = assessed
            if response in ("CR", "PR", "SD") and end is None and not progressed and (start is None or assessed >= start):
                course.response_date = assessed
        self._add_course(course, s)

    def _add_course(self, course: Treatment, s: _Sentence) -> None:
        """Add a course, or complete the one it goes on with.

        A sentence whose drugs are all of an earlier course's, with no start of its own ("Partial
        response to letrozole ongoing at 8 months", "PD on goserelin/tamoxifen Oct 2026",
        "relapsed eight years after completing tamoxifen", "Last eribulin dose 10/11/2026"), tells
        more of that course; a course that adds drugs to a single-drug course begun the same month
        ("on goserelin since Nov 2025" ... "goserelin + anastrozole + abemaciclib from Nov 2025")
        takes its place."""
        drugs = set(course.drugs)
        if course.start is None and not _START_CUE.search(s.text):
            for prev in reversed(self.p.treatments):
                if drugs <= set(prev.drugs) and (course.setting == "unknown" or prev.setting in ("unknown", course.setting)):
                    _complete_course(prev, course)
                    if id(course) in self._assessed:
                        self._assessed.setdefault(id(prev), self._assessed[id(course)])
                    return
        if course.start is not None:
            for i, prev in enumerate(self.p.treatments):
                if set(prev.drugs) < drugs and prev.start is not None and prev.end is None and \
                        (prev.start.year, prev.start.month) == (course.start.year, course.start.month):
                    course.also_from.append(prev.source)
                    if course.setting == "unknown":
                        course.setting = prev.setting
                    del self.p.treatments[i]
                    break
        if _SEQUENCE_START.match(s.text) and self.p.treatments:
            prev = self.p.treatments[-1]
            if prev.ongoing is None and prev.end is None and set(prev.drugs) != drugs:
                prev.ongoing = False  # "docetaxel-trastuzumab 2024 then maintenance trastuzumab": the first is over
        self.p.treatments.append(course)

    def _course_details_elsewhere(self, s: _Sentence) -> None:
        """"Best response: partial response." in a sentence of its own: the last treatment's."""
        from .note_rules import response_in

        if not self.p.treatments:
            return
        last = self.p.treatments[-1]
        pm = re.search(r"\b(?:PD|progressive disease|progression|progressed|progressing)\b", s.text, re.I)
        if pm and last.progressed is not True and (last.end is None or last.ongoing) and \
                not re.search(r"\b(?:no|without|not|free of|no evidence of)\s+(?:\w+\s+){0,2}(?:PD|progress\w*)", s.text, re.I) and \
                not re.search(r"\b(?:local|breast primary|of the primary)\b", s.low) and not _FUTURE_PROGRESSION.search(s.text) \
                and self.p.primary_diagnosis is not None \
                and (self.p.primary_diagnosis.extent == "metastatic" or self.p.primary_diagnosis.metastases):
            # "CT 5 Nov 2026: PD in lung": progression on the course she is on
            last.progressed = True
            ds = self._find_dates(s.text)
            if ds and last.progression_date is None and (last.start is None or ds[0][2] >= last.start):
                last.progression_date = ds[0][2]
            last.ongoing = False
            return
        if not re.search(r"\bresponse|\bresponding|\bstable\b|\b(?:CR|PR|SD)\b", s.text):
            return
        if not re.search(r"\b(?:best|overall|radiological|radiologic|clinical)?\s*response\b|\bresponding\b|"
                         r"\b(?:disease|scans?|restaging)\b[^.;]{0,30}\bstable\b|\bstable disease\b", s.text, re.I):
            return
        response = response_in(s.text)
        t = self.p.treatments[-1]
        if response and t.best_response is None:
            t.best_response = response
            if response == "PD":
                t.progressed = True
            if re.search(r"\b(ongoing|continues|continuing|maintained|remains|still)\b", s.low) and response != "PD":
                t.response_ongoing = True
                if t.ongoing is None and t.end is None:
                    t.ongoing = True
                if t.progressed is None:
                    t.progressed = False

    def _clause_negated(self, s: _Sentence, ent) -> bool:
        """ConText's negation, limited to the clause of the mention: in "lumpectomy, no
        radiotherapy (declined), adjuvant docetaxel x4" the "no" does not reach docetaxel."""
        if not ent._.is_negated:
            return False
        before = self.text[s.start:ent.start_char]
        cut = max(before.rfind(c) for c in (",", ";", "(", ")", " then ", " followed by "))
        clause = before[cut + 1:] if cut >= 0 else before
        return bool(re.search(r"\b(?:no|not|never|without|denies|denied|nil|none|neither|nor|free of|absence of|"
                              r"ruled out|negative for|n't)\b", clause, re.I))

    def _planned(self, s: _Sentence, ent) -> bool:
        """The mention is a treatment still to come ("a candidate for tumor resection prior to
        chemotherapy", "will start letrozole", "planned for adjuvant radiotherapy"): not history."""
        before = self.text[max(s.start, ent.start_char - 45):ent.start_char]
        return bool(_PLANNED.search(before) or _OPTIONS.search(self.text[s.start:ent.start_char]))

    def conditions(self, s: _Sentence) -> None:
        from .note_rules import negative_result_after

        for ent, key in self._ents(s, "CONDITION"):
            if ent._.is_family or ent._.is_hypothetical:
                continue
            after = self.text[ent.end_char:s.end]
            if ent._.is_negated or negative_result_after(key, after):
                # "HIV negative", "HIV, hepatitis B and hepatitis C negative", "HIV, HBsAg, HCV Ab: all neg": a
                # negative test result after it
                self.p.assertions.append(Assertion(subject=f"condition:{key}", present=False, source=self.src(s)))
                continue
            quals = []
            window = self.text[max(s.start, ent.start_char - 30):min(s.end, ent.end_char + 30)]
            for q in _patterns()["quals"].findall(window):
                q = q.lower().replace("-", " ")
                q = {"poorly controlled": "uncontrolled", "well controlled": "controlled"}.get(q, q)
                if q not in quals:
                    quals.append(q)
            if ent._.is_historical:
                quals.append("history")
            existing = next((c for c in self.p.conditions if c.name == key), None)
            if existing:
                for q in quals:
                    if q not in existing.qualifiers:
                        existing.qualifiers.append(q)
                continue
            self.p.conditions.append(OtherCondition(name=key, qualifiers=quals, onset=self._date_in(s, r"\b(?:in|since|diagnosed)\b") if key in ("myocardial_infarction", "stroke") else None,
                                                    source=self.src(s)))

    def procedures(self, s: _Sentence) -> None:
        t = s.text
        for m in _patterns()["procedures"].finditer(t):
            before = t[max(0, m.start() - 30):m.start()]
            if re.search(r"\b(no|never|not|without|denies)\b(?:\s+\w+){0,3}\s*$", before, re.I):
                continue
            if re.match(r"\s*:\s*(?:none|nil|never|no)\b", t[m.end():], re.I):
                continue  # "Radiotherapy: none" (a form field): the absence is read with the stated absences
            if re.match(r"\s*:\s*(?:(?:diagnostic|core|needle|tru-?cut|image-guided|percutaneous)\s+)*biops(?:y|ies)\s+only\b",
                        t[m.end():], re.I):
                continue  # "Prior surgery: diagnostic core biopsies only": a biopsy, not an operation
            if re.search(r"\b(plan(?:ned)?|will|candidate|consider|offered|recommend\w*|scheduled|referral|referred|"
                         r"question|asks?|asked|interested|trial|discuss\w*)\b", s.low):
                continue  # "Radiotherapy referral", "Question from patient about the surgery trial": not done
            word = m.group(1).lower()
            if re.search(r"\b(?:previous|prior|earlier|after)\s+$", before, re.I) and \
                    any(x.name == word for x in self.p.procedures):
                continue  # "CNS progression after previous SRS": the SRS already read
            kind = procedure_text_kind(word) or "surgery"
            if word.startswith("major"):
                kind = "major_surgery"
            site = None
            sm = re.search(r"\bto the (\w+(?: \w+)?)", t[m.end():m.end() + 30], re.I)
            if sm:
                site = _site_key(sm.group(1))
                win = t[m.end():m.end() + 50]
                known = _known_site(win)
                if known or re.search(r"\bbreast\b", win, re.I):
                    site = known or "breast"  # "to the fungating left breast primary"
            if word in ("wbrt", "whole-brain radiotherapy", "whole brain radiotherapy", "srs", "stereotactic radiosurgery", "gamma knife"):
                site = "brain"
            date = None
            ds = self._find_dates(t[m.start():m.end() + 40]) or self._find_dates(t)
            if ds:
                date = ds[0][2]
            else:
                d = self._date_in(s)
                date = d
            self.p.procedures.append(Procedure(kind=kind, name=word, site=site, date=date, source=self.src(s)))


_SETTING_RES = (
    ("neoadjuvant", re.compile(r"\bneo-?adj(?:uvant)?\b", re.I)),
    ("adjuvant", re.compile(r"\badj(?:uvant)?\b", re.I)),
    ("metastatic", re.compile(r"\b(?:metastatic|advanced|mbc|abc|first[- ]line|second[- ]line|third[- ]line|"
                              r"\d(?:st|nd|rd|th)[- ]line|palliative|salvage)\b", re.I)),
)


def _setting_words(text: str) -> str | None:
    """The setting a course's words name ("adjuvant", "Adj", "neoadjuvant", "for MBC", "second
    line"), or None."""
    for key, rx in _SETTING_RES:
        if rx.search(text):
            return key
    return None


#: where a sentence goes on to the next course: "then", "followed by", "->"
_SEQUENCE_CUT = re.compile(r"(?<=\S)\s+(?=(?:then|followed by|subsequently|->|→)\s)", re.I)
_SEQUENCE_START = re.compile(r"\s*[,;]?\s*(?:then|followed by|subsequently|->|→)\s", re.I)
#: an earlier course named inside a sentence about the current one: "(second line after PD on
#: anastrozole + abemaciclib)", "(third line; previously letrozole + palbociclib and fulvestrant)"
_PRIOR_CUT = re.compile(r"\b(?:after (?:PD|progression|progressive disease|progressing|relapse|failure) (?:on|of|with)|"
                        r"previously(?! (?:untreated|treated for|diagnosed))(?= [a-z]))", re.I)
#: a sentence that starts a course (rather than telling more of one already read)
_START_CUE = re.compile(r"\b(?:start(?:ed|ing|s)?|commenced|began|begun|initiated|restarted|from|since|rechallenge\w*)\b|"
                        r"\b(?:first|second|third|fourth|1st|2nd|3rd|4th)[- ]line\b", re.I)
#: "Prior lines for MBC:", "Rx:", "Treatment for MBC:", "MBC lines:": a list of courses follows
_COURSE_LIST = re.compile(r"\s*(?:[A-Za-z][\w/ -]{0,30}?\s)?(?:lines?|treatments?|therapies|regimens|rx)\b[\w/ ()-]{0,25}:", re.I)
#: "Jul-Nov 2026", "April-September 2026", "Nov 2020 - Nov 2025", "2024 - Sept 2026"
_MONTH_RANGE = re.compile(r"\b(?:(?P<m1>" + _MON + r")\.?\s*(?P<y1>(?:19|20)\d{2})?|(?P<y1b>(?:19|20)\d{2}))\s*(?:-|–|to|until)\s*"
                          r"(?P<m2>" + _MON + r")\.?\s+(?P<y2>(?:19|20)\d{2})\b", re.I)
#: the words before a scan's or an assessment's date ("on CT 27/10/2026", "stable disease after 6 cycles (Oct 2025)")
_ASSESSED_BEFORE = re.compile(r"(?:\b(?:CT|MRI|PET(?:-CT)?|scans?|imaging|restaging|x-?ray|ultrasound|echo)\b[^()]{0,15}|"
                              r"\b(?:response|disease|responding)\b[^()]{0,30}\(\s*)$", re.I)
_COMPOUND_DURATION = re.compile(r"\b(\d+)\s*(?:years?|yrs?)\s*(?:and\s+)?(\d+)\s*(?:months?|mos?)\b", re.I)


def _compound_durations(text: str) -> str:
    """ "3 years 10 months" -> "46 months" padded to the same length (offsets stay)."""
    def one(m: re.Match) -> str:
        n = int(m.group(1)) * 12 + int(m.group(2))
        out = f"{n} months" if len(f"{n} months") <= len(m.group(0)) else f"{n} mo"
        return out.ljust(len(m.group(0)))

    return _COMPOUND_DURATION.sub(one, text)


def _complete_course(prev: Treatment, new: Treatment) -> None:
    """Complete ``prev`` with what a later sentence ``new`` tells of the same course."""
    if new.best_response and prev.best_response is None:
        prev.best_response = new.best_response
    if new.response_ongoing is not None:
        prev.response_ongoing = new.response_ongoing
    if new.progressed is True:
        prev.progressed = True
    elif new.progressed is False and prev.progressed is None:
        prev.progressed = False
    for field in ("progression_date", "months_to_progression", "relapse_months_after_end", "cycles", "duration_months",
                  "end", "line"):
        if getattr(prev, field) is None and getattr(new, field) is not None:
            setattr(prev, field, getattr(new, field))
    if prev.setting == "unknown" and new.setting != "unknown":
        prev.setting = new.setting
    if new.progressed or new.end is not None or new.relapse_months_after_end is not None:
        prev.ongoing = False
    elif new.ongoing and prev.ongoing is None:
        prev.ongoing = True
    if prev.progressed is None and prev.ongoing and new.best_response in ("CR", "PR", "SD") and not new.progressed:
        prev.progressed = False  # "Stable disease on ribociclib at 8 months" of a course she is still on
    if new.source is not None:
        prev.also_from.append(new.source)


_THERAPY_FOR = re.compile(r"\b(?:treatments?|therapy|therapies|chemo(?:therapy)?|surgery|systemic \w+|"
                          r"radiotherapy|inhibitors?)\s+(?:for|of|against|directed at|targeting)\s+(?:her\s+|the\s+|this\s+)?"
                          r"(?:metastatic\s+|advanced\s+|early\s+)?$", re.I)
_RELAPSE_AFTER = re.compile(r"\b(?:relapse[ds]?|relapsing|recurr\w*|progress\w*|metastatic (?:relapse|recurrence)|"
                            r"metastases (?:appeared|developed|diagnosed))\s+(?:[^.;]{0,60}?[\s(,])?(\d+(?:\.\d+)?)\s*(weeks?|months?|mos?|years?|yrs?)\s+"
                            r"(?:after|following|post|off)\s+(?:finishing|completing|completion of|stopping|the end of|end of|"
                            r"cessation of|discontinuing|discontinuation of|she (?:finished|completed|stopped))?", re.I)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty-four": 24, "twenty four": 24,
                 "thirty-six": 36}
_NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b(?=\s+(?:cycles?|courses?|"
                             r"years?|yrs?|months?|mos?|weeks?|days?)\b)", re.I)


def _number_words(text: str) -> str:
    """ "five years of tamoxifen" -> "5    years of tamoxifen" (same length: offsets stay)."""
    return _NUMBER_WORD_RE.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]).ljust(len(m.group(1))), text)


_PAST_AGE = re.compile(r"\b(?:lmp|menopaus\w*|menarche|diagnos\w*|presented|at)\s*(?:was\s*)?(?:at\s*)?(?:the\s*)?$", re.I)
_PAST_COURSE = re.compile(r"\b(?:initially|previously|formerly|originally|first|had\s+been|was|were)\s+(?:\w+\s+)?"
                          r"(?:treated|managed|given|started|placed)\b|\bfollowed\s+by\b")
#: the date of a course's last dose, written after it ("The last tablets of letrozole and ribociclib were taken on")
_LAST_DOSE_BEFORE = re.compile(r"(?i)\b(?:last|final)\s+(?:[\w-]+\s+){0,2}(?:doses?|tablets?|capsules?|pills?|cycles?|infusions?|"
                               r"injections?|treatments?)\b[^.;]{0,60}?\b(?:taken|given|administered|received)\s+(?:on|in)\s*$")
#: a progression spoken of as a future event ("PARP inhibitor trial at progression", "until PD"): not one now
_FUTURE_PROGRESSION = re.compile(r"(?i)\b(?:at|upon|on|until|if|when|in case of|in the event of)\s+(?:further\s+|future\s+|disease\s+)?"
                                 r"(?:PD|progression|progressive disease)\b")
#: a clause about another gene after a gene's own result, and the words of a result
_NEXT_GENE = re.compile(r"[,;]\s*(?:germline\s+|somatic\s+)?" + _TextReader.GENES + r"(?![\w-])")
_GENE_RESULT = re.compile(r"(?i)mutat|variant|alteration|amplif|fusion|wild[- ]?type|pathogenic|deletion|detected|carrier|"
                          r"positive|negative")
_STILL_ON = re.compile(r"\b(?:currently|now|still|continues?|continuing|remains?|ongoing|will\s+continue|since)\b")
_REGIMEN_WITH = re.compile(r"\b(?:treated|received|receiving|regimen|combination|cycles?|therapy)\b")


def _known_site(text: str) -> str | None:
    """The first metastatic site of the vocabulary named in ``text``, or None."""
    low = text.lower()
    best = None
    for key, pats in text_terms()["metastasis_sites"].items():
        for p in pats:
            m = re.search(r"\b(?:" + p + r")\b", low)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), key)
    return best[1] if best else None


def _site_key(text: str) -> str | None:
    low = text.lower()
    for key, pats in text_terms()["metastasis_sites"].items():
        for p in pats:
            if re.search(r"\b(?:" + p + r")\b", low):
                return key
    return re.sub(r"[^a-z0-9]+", "_", low).strip("_") or None


def read_text_patient(data: bytes | str, file_name: str, strict: bool = False,
                      today: dt.date | None = None) -> Patient:
    """Read a free-text clinical summary.

    Parameters
    ----------
    data : bytes or str
        The note.
    file_name : str
        For messages and the patient id (the file's stem).
    strict : bool
        Raise on impossible values. Off by default: what the rules misread is reported as a
        warning naming the field rather than failing the note.
    today : date, optional
        Used as ``as_of`` when the note has no ``Date:`` line.

    Returns
    -------
    Patient
    """
    from .errors import PatientReadError

    if isinstance(data, bytes):
        if b"\x00" in data[:4096]:
            raise PatientReadError(file_name, "text", "binary content, not a text note")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data
    if not text.strip():
        raise PatientReadError(file_name, "text", "the note is empty")
    return read_text_with_sentences(text, file_name, strict=strict, today=today)[0]


def read_text_with_sentences(text: str, file_name: str, strict: bool = False, today: dt.date | None = None
                             ) -> tuple[Patient, list[tuple[int, int, str]]]:
    """Read a note (decoded text) and return the patient with the note's sentences as
    ``(start, end, text)``, so a caller can show which sentences gave which facts."""
    from .errors import PatientReadError

    if not text.strip():
        raise PatientReadError(file_name, "text", "the note is empty")
    reader = _TextReader(text, file_name, today)
    p = reader.run()
    p = _drop_impossible(p) if not strict else p
    sentences = [(x.start, x.end, x.text) for x in reader.sents]
    return finish(p, file_name, strict=strict), sentences


def _drop_impossible(p: Patient) -> Patient:
    """Remove facts the rules read with impossible values, leaving a warning naming each."""
    from .validate import impossible_values

    bad = impossible_values(p)
    if not bad:
        return p
    drop: dict[str, set[int]] = {}
    for field, msg in bad:
        p.warnings.append(f"{field}: impossible value read from the note ({msg}); not used")
        m = re.fullmatch(r"(\w+)\[(\d+)\](?:\.metastases\[(\d+)\])?\.(\w+)", field)
        if m and m.group(4) in ("date", "start", "end", "progression_date", "metastatic_date", "onset", "uln"):
            obj = getattr(p, m.group(1))[int(m.group(2))]
            if m.group(3) is not None:
                obj = obj.metastases[int(m.group(3))]
            setattr(obj, m.group(4), None)
        elif m:
            drop.setdefault(m.group(1), set()).add(int(m.group(2)))
        elif field in ("age_years", "birth_date", "weight_kg", "height_cm", "life_expectancy_months"):
            setattr(p, field, None)
            p.sources.pop(field, None)
    for coll, idx in drop.items():
        items = getattr(p, coll)
        setattr(p, coll, [x for i, x in enumerate(items) if i not in idx])
    return p
