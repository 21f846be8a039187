"""What a clinician's note states beyond bare mentions, by the rules of ``codes/note_rules.json``.

* the record's own date ("Summary date: 2026-11-01.", "Seen on 1 Nov 2026", a dated letter
  head) and whether numeric dates are day-first ("18/11/2026") or month-first;
* stated absences that close the history: "treatment-naive", "no prior chemotherapy for
  metastatic disease", "no CDK4/6 inhibitor" (:class:`HistoryStatement` plus the
  ``prior_therapy:<therapy>:<setting>`` assertion the matcher reads), "no cardiac history",
  "no regular medications", "bone-only disease", "not pregnant";
* qualitative labs: "creatinine normal", "LFTs normal", "CBC within normal limits"
  (:class:`LabStatement`);
* menopausal status and ovarian suppression in clinic shorthand ("pmp", "on goserelin").

The rule file is validated on load: an unknown key, a malformed pattern, an analyte outside the
vocabulary or an assertion subject the matcher does not read raises :class:`NoteRulesError`
naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from .model import Assertion, HistoryStatement, LabStatement, Metastasis

RULES_FILE = "patients/codes/note_rules.json"

_TOP_KEYS = {"_comment", "record_date", "day_first_hints", "month_first_hints", "therapy_absence", "absences", "site_only", "lab_panels",
             "normal_words", "abnormal_words", "usual_units", "responses", "ovarian_suppression", "menopause",
             "regimens", "hedged_dates", "negative_results"}
_OPTIONAL_KEYS = {"_comment", "hedged_dates", "negative_results"}
_ABSENCE_KEYS = {"pattern", "assertions", "fields", "only_if_not_metastatic", "only_if_recent"}
_ABSENCE_FIELDS = {"pregnant", "breastfeeding"}
_SUBJECT_PREFIXES = ("metastasis:", "condition:", "medications:", "prior_therapy:")
_SUBJECTS = {"other_malignancy", "procedure:radiotherapy"}
_SETTINGS = {"advanced", "adjuvant", "neoadjuvant", "early"}
_RESPONSES = {"CR", "PR", "SD", "PD"}
_MENOPAUSE = {"postmenopausal", "premenopausal", "perimenopausal"}


class NoteRulesError(ValueError):
    """The rule file is malformed; the message names the file and the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{RULES_FILE}: {key}: {message}")
        self.key = key


def _rx(pattern: Any, key: str, flags: int = re.I) -> re.Pattern:
    if not isinstance(pattern, str) or not pattern:
        raise NoteRulesError(key, f"expected a non-empty regular expression, got {pattern!r}")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise NoteRulesError(key, f"malformed regular expression {pattern!r} ({exc})") from None


def _alt(patterns: list[str]) -> str:
    return "|".join(sorted(patterns, key=len, reverse=True))


def _need(raw: dict, key: str, allowed: set[str], where: str) -> None:
    extra = set(raw) - allowed
    if extra:
        raise NoteRulesError(where, f"unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def validate_rules(raw: Any) -> dict:
    """Check and compile the raw rule file; return the compiled rules.

    Raises
    ------
    NoteRulesError
        Naming the key at fault and, for an unknown key, the allowed ones.
    """
    from trialmatch.vocab import analyte_vocabulary

    if not isinstance(raw, dict):
        raise NoteRulesError("(top)", "expected a JSON object")
    _need(raw, "(top)", _TOP_KEYS, "(top)")
    missing = _TOP_KEYS - _OPTIONAL_KEYS - set(raw)
    if missing:
        raise NoteRulesError("(top)", f"missing key(s) {sorted(missing)}")
    out: dict = {}
    rd = raw["record_date"]
    _need(rd, "record_date", {"_comment", "labels", "opening_cues", "opening_lines"}, "record_date")
    if not isinstance(rd.get("opening_lines"), int) or rd["opening_lines"] < 1:
        raise NoteRulesError("record_date.opening_lines", "expected a positive integer")
    # at a line start, or after a wide gap in a letter's header line ("From: Dr P. Agarwal   Date: 20 November 2026")
    out["labels"] = _rx(r"(?:^[ \t]*+[*#>\-]*+|(?<=\S)[ \t]{3,})[ \t]*+(?:" + _alt(rd["labels"]) + r")[ \t]*+[:\-–=][ \t]*+(?P<rest>[^\n]*)",
                        "record_date.labels", re.I | re.M)
    out["opening_cues"] = _rx(r"\b(?:" + _alt(rd["opening_cues"]) + r")[ \t:,]*", "record_date.opening_cues")
    out["opening_lines"] = rd["opening_lines"]
    out["day_first_hints"] = [_rx(p, f"day_first_hints[{i}]") for i, p in enumerate(raw["day_first_hints"])]
    out["month_first_hints"] = [_rx(p, f"month_first_hints[{i}]") for i, p in enumerate(raw["month_first_hints"])]

    ta = raw["therapy_absence"]
    _need(ta, "therapy_absence", {"_comment", "negations", "modifiers", "others", "therapies", "naive", "settings"},
          "therapy_absence")
    for k in ("negations", "modifiers", "others"):
        for i, p in enumerate(ta[k]):
            _rx(p, f"therapy_absence.{k}[{i}]")
    out["neg"] = ta["negations"]
    out["mods"] = ta["modifiers"]
    out["others"] = _rx(r"^(?:" + _alt(ta["others"]) + r")$", "therapy_absence.others")
    therapies: dict[str, re.Pattern] = {}
    for key, pats in ta["therapies"].items():
        if not isinstance(pats, list) or not pats:
            raise NoteRulesError(f"therapy_absence.therapies.{key}", "expected a list of patterns")
        therapies[key] = _rx(r"(?:" + _alt(pats) + r")", f"therapy_absence.therapies.{key}")
    out["therapies"] = therapies
    out["therapy_words"] = [p for pats in ta["therapies"].values() for p in pats]
    out["naive"] = [_rx(p, f"therapy_absence.naive[{i}]") for i, p in enumerate(ta["naive"])]
    bad = set(ta["settings"]) - _SETTINGS
    if bad:
        raise NoteRulesError("therapy_absence.settings", f"unknown setting(s) {sorted(bad)}; allowed: {sorted(_SETTINGS)}")
    out["settings"] = {k: _rx(r"(?:" + _alt(v) + r")", f"therapy_absence.settings.{k}") for k, v in ta["settings"].items()}

    absences = []
    for i, rule in enumerate(raw["absences"]):
        where = f"absences[{i}]"
        if not isinstance(rule, dict):
            raise NoteRulesError(where, "expected an object")
        _need(rule, where, _ABSENCE_KEYS, where)
        subjects = rule.get("assertions", [])
        for s in subjects:
            if s not in _SUBJECTS and not s.startswith(_SUBJECT_PREFIXES):
                raise NoteRulesError(f"{where}.assertions", f"subject {s!r} is not one the matcher reads "
                                     f"(allowed: {sorted(_SUBJECTS)} or prefixes {list(_SUBJECT_PREFIXES)})")
        fields = rule.get("fields", {})
        bad = set(fields) - _ABSENCE_FIELDS
        if bad:
            raise NoteRulesError(f"{where}.fields", f"unknown field(s) {sorted(bad)}; allowed: {sorted(_ABSENCE_FIELDS)}")
        if not subjects and not fields:
            raise NoteRulesError(where, "a rule needs 'assertions' or 'fields'")
        absences.append(dict(rx=_rx(rule["pattern"], f"{where}.pattern"), subjects=list(subjects), fields=dict(fields),
                             only_if_not_metastatic=bool(rule.get("only_if_not_metastatic")),
                             only_if_recent=bool(rule.get("only_if_recent"))))
    out["absences"] = absences

    so = raw["site_only"]
    _need(so, "site_only", {"_comment", "pattern", "sites"}, "site_only")
    out["site_only"] = _rx(so["pattern"], "site_only.pattern")
    out["site_only_sites"] = list(so["sites"])

    analytes = analyte_vocabulary()
    panels = []
    for phrase, keys in raw["lab_panels"].items():
        if phrase == "_comment":
            continue
        for k in keys:
            if k not in analytes:
                raise NoteRulesError(f"lab_panels.{phrase}", f"unknown analyte {k!r} (not in the analyte vocabulary)")
        panels.append((phrase, list(keys)))
    out["panel_keys"] = panels
    out["panel_rx"] = _rx(r"(?<![\w/-])(?:" + _alt(p for p, _ in panels) + r")(?![\w/-])", "lab_panels")
    out["panel_one"] = [(_rx(r"(?:" + p + r")", f"lab_panels.{p}"), keys) for p, keys in panels]
    out["normal_words"] = _rx(r"(?:" + raw["normal_words"] + r")", "normal_words")
    out["abnormal_words"] = _rx(r"(?:" + raw["abnormal_words"] + r")", "abnormal_words")

    uu: dict[str, list[tuple[float | None, str]]] = {}
    for analyte, rows in raw["usual_units"].items():
        if analyte == "_comment":
            continue
        if analyte not in analytes:
            raise NoteRulesError(f"usual_units.{analyte}", "unknown analyte (not in the analyte vocabulary)")
        if not rows or not all(isinstance(r, list) and len(r) == 2 for r in rows) or rows[-1][0] is not None:
            raise NoteRulesError(f"usual_units.{analyte}", "expected [[bound or null, unit], ...] ending with [null, unit]")
        uu[analyte] = [(None if b is None else float(b), str(u)) for b, u in rows]
    out["usual_units"] = uu

    bad = set(raw["responses"]) - _RESPONSES
    if bad:
        raise NoteRulesError("responses", f"unknown response(s) {sorted(bad)}; allowed: {sorted(_RESPONSES)}")
    # the bare abbreviations (CR, PR, SD) only in capitals: "PR" is also the progesterone receptor
    out["responses"] = [(k, _rx(p, f"responses.{k}", 0 if re.search(r"[A-Z]{2}", p) else re.I))
                        for k, pats in raw["responses"].items() for p in pats]
    from trialmatch.vocab import normalize_drug

    rg = raw["regimens"]
    _need(rg, "regimens", {"_comment", "case_sensitive", "any_case"}, "regimens")
    regimens: dict[str, list[str]] = {}
    for group in ("case_sensitive", "any_case"):
        for abbrev, generics in rg[group].items():
            for g in generics:
                if normalize_drug(g) != g:
                    raise NoteRulesError(f"regimens.{group}.{abbrev}", f"{g!r} is not a generic name of the drug vocabulary")
            regimens[abbrev if group == "case_sensitive" else abbrev.lower()] = list(generics)
    out["regimens"] = regimens
    # a hyphen may join regimens ("EC-paclitaxel", "FEC-docetaxel")
    out["regimen_cs"] = _rx(r"(?<![\w])(?:" + _alt(re.escape(k) for k in rg["case_sensitive"]) + r")(?![\w])",
                            "regimens.case_sensitive", 0)
    out["regimen_ci"] = _rx(r"(?<![\w])(?:" + _alt(re.escape(k) for k in rg["any_case"]) + r")(?![\w])", "regimens.any_case")
    out["ofs"] = _rx(r"(?<![\w-])(?:" + _alt(raw["ovarian_suppression"]) + r")(?![\w-])", "ovarian_suppression")
    bad = set(raw["menopause"]) - _MENOPAUSE
    if bad:
        raise NoteRulesError("menopause", f"unknown status(es) {sorted(bad)}; allowed: {sorted(_MENOPAUSE)}")
    out["menopause"] = [(k, _rx(p, f"menopause.{k}[{i}]")) for k, pats in raw["menopause"].items()
                        for i, p in enumerate(pats)]
    hd = raw.get("hedged_dates", {"patterns": []})
    _need(hd, "hedged_dates", {"_comment", "patterns"}, "hedged_dates")
    out["hedged_dates"] = _rx(_alt(hd["patterns"]), "hedged_dates.patterns") if hd["patterns"] else None
    nr = raw.get("negative_results", {"conditions": [], "results": [], "fillers": [], "positives": []})
    _need(nr, "negative_results", {"_comment", "conditions", "results", "fillers", "positives"}, "negative_results")
    out["negative_result_conditions"] = frozenset(nr["conditions"])
    # "HIV negative", "HIV, HBsAg, HCV Ab: all neg": a condition's test result written after it, across a list
    # of other tests (fillers), with no positive result between
    out["negative_result"] = _rx(r"^(?:[\s,/&:()-]+|\b(?:" + _alt(nr["fillers"]) + r")\b|[\w-]{1,12}\b){0,24}?"
                                 r"(?<![\w-])(?P<res>" + _alt(nr["results"]) + r")(?![\w-])", "negative_results") \
        if nr["results"] else None
    out["positive_result"] = _rx(r"(?<![\w-])(?:" + _alt(nr["positives"]) + r")(?![\w-])", "negative_results.positives") \
        if nr["positives"] else None
    return out


@lru_cache(maxsize=1)
def note_rules() -> dict:
    """The compiled rules of ``codes/note_rules.json`` (validated once)."""
    with resources.files("trialmatch.patients").joinpath("codes", "note_rules.json").open("r", encoding="utf-8") as fh:
        try:
            raw = json.load(fh)
        except ValueError as exc:
            raise NoteRulesError("(file)", f"malformed JSON ({exc})") from None
    return validate_rules(raw)


def negative_result_after(key: str, text: str) -> bool:
    """``text`` (what follows the mention of condition ``key``, to the end of its sentence) gives the condition's
    test result as negative: "HIV negative", "HIV, HBsAg and HCV Ab: all neg" (``negative_results`` of the rule
    file; only for the conditions it lists, which a laboratory test settles)."""
    r = note_rules()
    if r["negative_result"] is None or key not in r["negative_result_conditions"]:
        return False
    text = re.split(r"[.;\n]", text, maxsplit=1)[0]
    m = r["negative_result"].match(text)
    return m is not None and not (r["positive_result"] is not None and r["positive_result"].search(text, 0, m.start("res")))


@lru_cache(maxsize=1)
def _therapy_absence_rx() -> re.Pattern:
    """NEGATION [MODIFIERS] THERAPY, where THERAPY is a class term or a drug name."""
    from .text_reader import _patterns

    r = note_rules()
    drugs = [re.escape(n) for n in _patterns()["drug_names"] if len(n) >= 4]
    therapy = _alt(r["therapy_words"] + drugs)
    return re.compile(r"(?<![\w-])(?P<neg>" + _alt(r["neg"]) + r")(?P<mods>(?:\s+(?:" + _alt(r["mods"]) + r"))*)\s+"
                      r"(?P<th>" + therapy + r")(?![\w-])", re.I)


@lru_cache(maxsize=1)
def _therapy_more_rx() -> re.Pattern:
    from .text_reader import _patterns

    r = note_rules()
    drugs = [re.escape(n) for n in _patterns()["drug_names"] if len(n) >= 4]
    return re.compile(r"\s*(?:,\s*(?:or|nor|and)?|\bor\b|\bnor\b|\band\b|/)\s*(?:(?:prior|previous|any)\s+)?"
                      r"(?P<th>" + _alt(r["therapy_words"] + drugs) + r")(?![\w-])", re.I)


_ONCOLOGY = re.compile(r"\b(?:cancer|carcinoma|oncolog\w*|tumou?r|malignan\w*|metasta\w*|mets|systemic|anti-?cancer|"
                       r"breast|mbc|abc|chemo\w*|endocrine|naive|naïve)\b", re.I)


def therapy_key(word: str) -> str:
    """The class key of a therapy word ("chemo" -> "chemotherapy"), a drug's generic name, or "any"."""
    from .text_reader import _patterns

    r = note_rules()
    w = word.strip()
    for key, rx in r["therapies"].items():
        if rx.fullmatch(w):
            return key
    return _patterns()["drug_names"].get(w.lower(), w.lower())


def setting_of(text: str) -> str:
    """The setting a statement names: "advanced", "neoadjuvant", "adjuvant", "early", else "any"
    ("ever", "in any setting", "including the adjuvant setting": "any")."""
    if re.search(r"\b(?:ever|in any setting|including (?:in )?(?:the )?(?:neo-?)?adjuvant|at any time|to date in any)\b", text, re.I):
        return "any"
    for key in ("advanced", "neoadjuvant", "adjuvant", "early"):
        rx = note_rules()["settings"].get(key)
        if rx is not None and rx.search(text):
            return key
    return "any"


# ---------------------------------------------------------------------------------------------
# the reader's sentence-level rules (``reader`` is the text reader: .p, .src(s), .text)
# ---------------------------------------------------------------------------------------------
def _add_assertion(reader, subject: str, present: bool, s) -> None:
    p = reader.p
    if any(a.subject == subject and a.present == present for a in p.assertions):
        return
    p.assertions.append(Assertion(subject=subject, present=present, source=reader.src(s)))


def _add_history(reader, therapy: str, setting: str, received: str, s) -> None:
    p = reader.p
    if any(h.therapy == therapy and h.setting == setting and h.received == received for h in p.history_statements):
        return
    p.history_statements.append(HistoryStatement(therapy=therapy, setting=setting, received=received, source=reader.src(s)))
    if received == "none":
        _add_assertion(reader, f"prior_therapy:{therapy}:{setting}", False, s)


def read_therapy_absences(reader, s) -> None:
    """ "No prior chemotherapy or CDK4/6 inhibitor for metastatic disease", "treatment-naive",
    "has not received chemotherapy", "no other treatment" -> HistoryStatement (+ assertion)."""
    t = s.text
    r = note_rules()
    found: list[tuple[str, int, bool]] = []  # (therapy key, position, "other")
    for m in _therapy_absence_rx().finditer(t):
        mods = m.group("mods").split()
        other = any(r["others"].match(x) for x in mods)
        # "no treatment-related toxicity", "no therapy changes": the therapy word is not the object
        if re.match(r"[- ](?:related|induced|changes?|delays?|interruptions?|toxicit\w*|side[- ]effects?)", t[m.end():m.end() + 14], re.I):
            continue
        key = therapy_key(m.group("th"))
        if key == "any" and not re.search(r"\b(?:prior|previous|previously|past|earlier|other|further|any|yet)\b", m.group("mods"), re.I) \
                and not _ONCOLOGY.search(t):
            continue  # "hypertension, no treatment required": not her cancer treatment history
        found.append((key, m.start(), other))
        end = m.end()
        while True:
            mm = _therapy_more_rx().match(t, end)
            if not mm:
                break
            found.append((therapy_key(mm.group("th")), m.start(), other))
            end = mm.end()
    # "Prior treatment: none", "Adjuvant: nil (de novo)", "Chemo: none"
    for m in re.finditer(r"(?:^|(?<=[.;]\s))(?P<lab>[A-Za-z][A-Za-z0-9 /&+-]{1,40}?)\s*:\s*(?:none|nil|never)\b|"
                         r"(?:^|(?<=[.;]\s))\s*(?P<lab2>(?:neo-?)?adjuvant|chemo(?:therapy)?|endocrine therapy)\s+(?:none|nil)\b", t, re.I):
        lab = m.group("lab") or m.group("lab2")
        key = next((k for k, rx in sorted(r["therapies"].items(), key=lambda kv: kv[0] == "any")
                    if re.search(r"(?<![\w-])(?:" + rx.pattern + r")(?![\w-])", lab, re.I)), None)
        setting = setting_of(lab)
        if key is None and setting == "any" and not re.fullmatch(r"\s*(?:rx|tx|treatments?|(?:prior|previous) (?:rx|treatments?))\s*",
                                                                  lab, re.I):
            continue
        if key is None and not re.search(r"\b(?:adjuvant|neo-?adjuvant|treatments?|therapy|rx|systemic)\b", lab, re.I):
            continue
        found.append((key or "any", m.start(), False))
    for rx in r["naive"]:
        for m in rx.finditer(t):
            word = (m.groupdict().get("th") or m.groupdict().get("th2") or "treatment")
            key = therapy_key(word)
            if key in ("endocrine", "cdk4/6", "cdk 4/6"):
                key = {"endocrine": "endocrine_therapy"}.get(key, "cdk46_inhibitor")
            if re.search(r"untreated", m.group(0), re.I):
                key = "any"
                found.append((key, -1, False))  # "previously untreated metastatic": the advanced setting
                continue
            found.append((key, m.start(), False))
    for key, pos, other in found:
        if key == "radiotherapy":
            continue  # not a systemic therapy line; radiotherapy events are procedures
        rest = t[max(0, pos):] if pos >= 0 else t
        setting = setting_of(rest) if pos >= 0 else (setting_of(t) if setting_of(t) != "any" else "advanced")
        _add_history(reader, key, setting, "only_listed" if other else "none", s)


def read_absences(reader, s) -> None:
    """The data-driven closed statements of ``absences`` (cardiac history, medications, other
    malignancy, pregnancy, visceral disease, "no metastases")."""
    p = reader.p
    for rule in note_rules()["absences"]:
        m = rule["rx"].search(s.text)
        if not m:
            continue
        if rule["only_if_not_metastatic"]:
            dx = p.primary_diagnosis
            if dx is not None and (dx.extent == "metastatic" or dx.metastases) or re.search(r"metasta|\bmets\b|stage iv", reader.text[:s.start], re.I):
                continue
        if rule["only_if_recent"] and reader._stale_negative(s):
            continue  # "MRI brain 2025 clear" in a note of late 2026: not a finding about now
        for subj in rule["subjects"]:
            _add_assertion(reader, subj, False, s)
            if subj == "medications:any":
                p.sources.setdefault("medications", reader.src(s))
        for field, value in rule["fields"].items():
            if getattr(p, field) is None or p.sources.get(field) is None:
                setattr(p, field, value)
                p.sources[field] = reader.src(s)


def read_site_only(reader, s) -> None:
    """"bone-only disease": a bone metastasis, and every other site stated absent."""
    from .text_reader import _site_key

    r = note_rules()
    m = r["site_only"].search(s.text)
    if not m:
        return
    word = m.group("site") or m.group("site2") or m.group("site3")
    key = _site_key(word) or word
    if key in ("node", "nodes", "nodal"):
        key = "lymph_node"
    p = reader.p
    from .model import Diagnosis

    if not p.diagnoses:
        p.diagnoses.append(Diagnosis(cancer_type="cancer", source=reader.src(s)))
    dx = p.primary_diagnosis or p.diagnoses[0]
    if not any(x.site == key for x in dx.metastases):
        dx.metastases.append(Metastasis(site=key, source=reader.src(s)))
    if dx.extent in (None, "early", "locally_advanced"):
        dx.extent = "metastatic"
    for other in r["site_only_sites"]:
        if other != key and not (key == "bone" and other == "bone"):
            if not any(x.site == other for x in dx.metastases):
                _add_assertion(reader, f"metastasis:{other}", False, s)


def read_lab_statements(reader, s, date: dt.date | None) -> None:
    """ "creatinine normal", "liver and kidney function normal", "CBC within normal limits"."""
    r = note_rules()
    t = s.text
    if not r["normal_words"].search(t) and not r["abnormal_words"].search(t):
        return
    # split into clauses so "Hb 8.5, LFTs normal" gives normal only to the LFTs
    for clause_m in re.finditer(r"(?:[^,;:.]|\.(?=\d)|:(?!\s))+|(?<=\d)\.(?!\d)", t):
        clause = clause_m.group(0)
        nm = r["normal_words"].search(clause)
        am = r["abnormal_words"].search(clause)
        if not nm and not am:
            continue
        from .text_reader import DATE_RE

        bare = DATE_RE.sub(" ", clause)
        if re.search(r"\d", re.sub(r"\b(?:u&es?|1\.73|10\^9|x ?uln)\b", "", bare, flags=re.I)):
            continue  # a clause with its own value is a number, read by the numeric rules
        finding = "normal"
        if am and not nm or re.search(r"\b(?:not|non)[- ](?:normal|within)", clause, re.I):
            finding = "abnormal"
        if nm and re.search(r"\b(?:upper limit|uln|lln|limits? of normal|normal range)\b", clause, re.I) \
                and not re.search(r"within (?:the )?normal (?:limits|range)", clause, re.I):
            continue  # "(ULN 1.2)", "upper limit of normal": a reference, not a finding
        for pm in r["panel_rx"].finditer(clause):
            phrase = pm.group(0)
            keys = next((k for rx, k in r["panel_one"] if rx.fullmatch(phrase)), None)
            if not keys:
                continue
            # "liver and kidney function normal": "liver" alone reads through "function"
            for key in keys:
                if any(x.analyte == key and x.finding == finding and x.source and x.source.span == (s.start, s.end)
                       for x in reader.p.lab_statements):
                    continue
                reader.p.lab_statements.append(LabStatement(analyte=key, finding=finding, phrase=phrase, date=date,
                                                            source=reader.src(s)))
        # "liver and kidney function": "liver" and "kidney" before a shared "function"
        mm = re.search(r"\b(liver|hepatic|renal|kidney)\s+(?:and|&|/)\s+(liver|hepatic|renal|kidney)\s+function", clause, re.I)
        if mm:
            first = mm.group(1).lower()
            keys = ["alt", "ast", "total_bilirubin"] if first in ("liver", "hepatic") else ["creatinine"]
            for key in keys:
                if not any(x.analyte == key and x.source and x.source.span == (s.start, s.end) for x in reader.p.lab_statements):
                    reader.p.lab_statements.append(LabStatement(analyte=key, finding=finding, phrase=f"{first} function",
                                                                date=date, source=reader.src(s)))


def usual_unit(analyte: str, value: float) -> str | None:
    """The usual unit of a count written without one ("plt 190" -> "10^9/L"), or None."""
    rows = note_rules()["usual_units"].get(analyte)
    if not rows:
        return None
    for bound, unit in rows:
        if bound is None or value < bound:
            return unit
    return None


def response_in(text: str) -> str | None:
    """The best response a sentence states ("stable disease" -> "SD"), or None."""
    for key, rx in note_rules()["responses"]:
        if rx.search(text):
            return key
    return None


def menopause_in(text: str) -> tuple[str, int] | None:
    """(status, position) of the first menopausal-status statement in ``text``."""
    best = None
    for key, rx in note_rules()["menopause"]:
        m = rx.search(text)
        if m and (best is None or m.start() < best[1]):
            best = (key, m.start())
    return best


def ovarian_suppression_in(text: str):
    """The first mention of ovarian suppression (goserelin, GnRH agonist, bilateral oophorectomy)."""
    return note_rules()["ofs"].search(text)
