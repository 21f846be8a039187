"""One concept registry: every clinical concept the package knows, defined once.

A concept (a condition, a cancer type, a metastasis site, a procedure such as radiotherapy, a
qualifier, ...) used to be written in several files, each in its own format: the compiler's
vocabulary, the matcher's fallback synonyms, the free-text reader's patterns, the FHIR reader's
SNOMED CT codes, the compiler's rule cues, and regexes inside the code. Here each concept is one
record under one schema, in ``vocab/concepts/data/<group>.json`` (one file per concept group:
conditions by family, cancers, sites, procedures, ...), and the accessors below give each
consumer exactly the structure it used to read from its own file.

Schema of a group file::

    {"_comment": "...", "group": "<file name without .json>", "concepts": [CONCEPT, ...]}

    CONCEPT = {
      "key": "radiotherapy",              # what the package calls it (lower case, digits, "_")
      "label": "radiotherapy",            # for people
      "kind": "procedure",                # one of KINDS
      "criterion_cues":   {TABLE: [phrase, ...]},  # what the compiler looks for (CRITERION_TABLES)
      "patient_text":     {TABLE: [regex, ...]},   # what the patient readers look for (PATIENT_TEXT_TABLES)
      "matcher_synonyms": {TABLE: [name, ...]},    # what the matcher compares with (MATCHER_TABLES)
      "codes": [{"system": "SNOMED", "code": "53438000", "table": "procedure",
                 "detail": "radiation therapy", "value": ...}]  # CODE_KEYS; table in CODE_TABLES
    }

Only ``key``, ``label`` and ``kind`` are required. ``vocab/concepts/data/_order.json`` lists, for
every table, the keys in the order the consumer sees them (the readers and the compiler take the
first match, so the order is part of the data); the loader checks that it names exactly the
concepts that have data for the table. Every file is checked on load: an unknown key, table,
kind or code system raises :class:`ConceptFileError` naming the file and listing what is allowed.

Public API
----------
concepts() -> tuple[Concept, ...]                 every concept, in file order
find_concept(key, kind=None) -> Concept            one concept by key (and kind where keys repeat)
condition_vocabulary_for_compiler() -> dict        was vocab/data/conditions.json ["conditions"]
cancer_vocabulary_for_compiler() -> dict           was vocab/data/cancers.json (cancers, histologies, metastasis_sites)
criteria_rule_tables() -> dict                     was criteria_rules.json ["events"], ["infections"], ["qualifiers"]
matcher_condition_fallbacks() -> dict              was matching/data/conditions.json ["conditions"]
condition_synonyms_for_matcher() -> dict           what matching.evaluate._condition_synonyms() builds from both
event_procedure_kinds() -> dict[str, set]          was matching.evaluate._EVENT_PROC
site_groups_for_matcher() -> dict[str, frozenset]  was matching.facts.SITE_GROUPS
text_terms() -> dict                               was patients/codes/text_terms.json
procedure_text_terms() -> dict                     the procedure words of patients.text_reader (surgery, radiotherapy)
procedure_text_kind(word) -> str | None            which procedure a word of that regex names
fhir_procedure_kind(text) -> str | None            "radiotherapy" for a FHIR Procedure text that names it
snomed_codes() -> dict                             was patients/codes/snomed.json
radiotherapy_terms() -> dict                       everything the package knows about radiotherapy, by consumer
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "Concept", "ConceptCode", "ConceptFileError", "KINDS", "CRITERION_TABLES", "PATIENT_TEXT_TABLES",
    "MATCHER_TABLES", "CODE_TABLES", "CODE_SYSTEMS", "load_concept_file", "concepts", "find_concept",
    "condition_vocabulary_for_compiler", "cancer_vocabulary_for_compiler", "criteria_rule_tables",
    "matcher_condition_fallbacks", "condition_synonyms_for_matcher", "event_procedure_kinds", "site_groups_for_matcher",
    "text_terms",
    "procedure_text_terms", "procedure_text_kind", "fhir_procedure_kind", "snomed_codes", "radiotherapy_terms",
]

KINDS = ("condition", "cancer", "histology", "site", "procedure", "treatment_class", "qualifier", "medication",
         "result", "stage", "menopausal_status", "pregnancy_status")
#: compiler tables: vocab conditions, the cancer vocabulary's three tables, the rule cues of criteria_rules.json
CRITERION_TABLES = ("conditions", "cancers", "histologies", "metastasis_sites", "events", "infections", "qualifiers")
#: free-text reader tables (text_terms.json and the procedure words) and the FHIR reader's procedure text words
PATIENT_TEXT_TABLES = ("metastasis_sites", "cancers", "conditions", "condition_qualifiers", "treatment_classes",
                       "other_medications", "procedures", "fhir_procedure_text")
#: matcher tables: fallback condition names, the procedure kinds that count as an event, the sites a site word covers
MATCHER_TABLES = ("conditions", "event_procedure_kinds", "site_members")
#: the tables of snomed.json, in its order
CODE_TABLES = ("cancer", "histology_morphology", "metastasis", "body_site", "qualifier", "stage", "procedure",
               "conditions", "menopause", "pregnancy")
CODE_SYSTEMS = ("SNOMED", "LOINC", "RxNorm", "ICD-10-CM")
CONCEPT_KEYS = ("key", "label", "kind", "criterion_cues", "patient_text", "matcher_synonyms", "codes")
CODE_KEYS = ("system", "code", "table", "detail", "value")
FILE_KEYS = ("_comment", "group", "concepts")
_PAIR_TABLES = ("cancer", "procedure")  # snomed.json gives [key, detail] for these
_KEY = re.compile(r"^[a-z0-9_]+$")
_ORDER_FILE = "_order.json"


class ConceptFileError(ValueError):
    """A concept file that does not follow the schema (the message names the file and the field)."""


@dataclass(frozen=True)
class ConceptCode:
    """One code of a concept: ``system`` and ``code``, the consumer ``table`` it belongs to, and
    where that table holds more than the key, ``detail`` (a histology, a procedure name) or
    ``value`` (what the table maps the code to, when that is not the key)."""

    system: str
    code: str
    table: str
    detail: str | None = None
    value: Any = None


@dataclass(frozen=True)
class Concept:
    """One concept, with what each consumer looks for (see the module docstring for the schema)."""

    key: str
    label: str
    kind: str
    group: str
    criterion_cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    patient_text: dict[str, tuple[str, ...]] = field(default_factory=dict)
    matcher_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    codes: tuple[ConceptCode, ...] = ()


# ---------------------------------------------------------------------------- loading and checks
def _fail(where: str, message: str) -> None:
    raise ConceptFileError(f"{where}: {message}")


def _check_keys(where: str, obj: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    if not isinstance(obj, dict):
        _fail(where, f"must be an object with keys {list(allowed)}, not {type(obj).__name__}")
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        _fail(where, f"unknown key(s) {unknown}; allowed keys: {list(allowed)}")
    missing = [k for k in required if k not in obj]
    if missing:
        _fail(where, f"missing key(s) {missing}; required: {list(required)}")


def _strings(where: str, value: Any, regex: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        _fail(where, "must be a non-empty list of strings")
    for s in value:
        if not isinstance(s, str) or not s.strip():
            _fail(where, f"must hold non-empty strings, not {s!r}")
        if regex:
            try:
                re.compile(s)
            except re.error as exc:
                _fail(where, f"{s!r} is not a regular expression ({exc})")
    return tuple(value)


def _tables(where: str, value: Any, allowed: tuple[str, ...], regex: bool = False) -> dict[str, tuple[str, ...]]:
    _check_keys(where, value, allowed)
    return {t: _strings(f"{where}.{t}", v, regex=regex) for t, v in value.items()}


def _code(where: str, value: Any) -> ConceptCode:
    _check_keys(where, value, CODE_KEYS, required=("system", "code", "table"))
    if value["system"] not in CODE_SYSTEMS:
        _fail(f"{where}.system", f"unknown code system {value['system']!r}; allowed: {list(CODE_SYSTEMS)}")
    if value["table"] not in CODE_TABLES:
        _fail(f"{where}.table", f"unknown code table {value['table']!r}; allowed: {list(CODE_TABLES)}")
    if not isinstance(value["code"], str) or not value["code"]:
        _fail(f"{where}.code", "must be a non-empty string")
    if "detail" in value and value["table"] not in _PAIR_TABLES:
        _fail(f"{where}.detail", f"only codes of the tables {list(_PAIR_TABLES)} carry a detail")
    return ConceptCode(system=value["system"], code=value["code"], table=value["table"],
                       detail=value.get("detail"), value=value.get("value"))


def load_concept_file(name: str, data: Any) -> tuple[Concept, ...]:
    """Check one group file's content and return its concepts.

    Parameters
    ----------
    name : str
        The file name, for the messages (``"procedures.json"``).
    data : Any
        The parsed JSON.

    Raises
    ------
    ConceptFileError
        On any departure from the schema; the message names the file, the concept and the field,
        and for an unknown key lists the allowed ones.
    """
    _check_keys(name, data, FILE_KEYS, required=("group", "concepts"))
    group = data["group"]
    if group != name.removesuffix(".json"):
        _fail(f"{name}.group", f"{group!r} must be the file name without .json ({name.removesuffix('.json')!r})")
    if not isinstance(data["concepts"], list) or not data["concepts"]:
        _fail(f"{name}.concepts", "must be a non-empty list of concepts")
    out: list[Concept] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["concepts"]):
        where = f"{name}: concept {i}" + (f" ({raw.get('key')!r})" if isinstance(raw, dict) and "key" in raw else "")
        _check_keys(where, raw, CONCEPT_KEYS, required=("key", "label", "kind"))
        key = raw["key"]
        if not isinstance(key, str) or not _KEY.match(key):
            _fail(f"{where}.key", "must be lower-case letters, digits and '_'")
        if key in seen:
            _fail(f"{where}.key", f"{key!r} appears twice in the file")
        seen.add(key)
        if not isinstance(raw["label"], str) or not raw["label"].strip():
            _fail(f"{where}.label", "must be a non-empty string")
        if raw["kind"] not in KINDS:
            _fail(f"{where}.kind", f"unknown kind {raw['kind']!r}; allowed: {list(KINDS)}")
        codes = raw.get("codes", [])
        if not isinstance(codes, list):
            _fail(f"{where}.codes", "must be a list of codes")
        out.append(Concept(
            key=key, label=raw["label"], kind=raw["kind"], group=group,
            criterion_cues=_tables(f"{where}.criterion_cues", raw.get("criterion_cues", {}), CRITERION_TABLES),
            patient_text=_tables(f"{where}.patient_text", raw.get("patient_text", {}), PATIENT_TEXT_TABLES, regex=True),
            matcher_synonyms=_tables(f"{where}.matcher_synonyms", raw.get("matcher_synonyms", {}), MATCHER_TABLES),
            codes=tuple(_code(f"{where}.codes[{j}]", c) for j, c in enumerate(codes)),
        ))
    return tuple(out)


def _data_dir():
    return resources.files("trialmatch.vocab.concepts").joinpath("data")


def _read(path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConceptFileError(f"{path.name}: not valid JSON ({exc})") from None


@lru_cache(maxsize=1)
def concepts() -> tuple[Concept, ...]:
    """Every concept of every group file (files in name order, concepts in file order); cached."""
    out: list[Concept] = []
    for path in sorted(_data_dir().iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json") and not path.name.startswith("_"):
            out.extend(load_concept_file(path.name, _read(path)))
    return tuple(out)


def find_concept(key: str, kind: str | None = None) -> Concept:
    """The concept with this key (and kind, where two kinds use the same key: "leptomeningeal").

    Raises
    ------
    KeyError
        When no concept, or more than one, has that key (and kind).
    """
    hits = [c for c in concepts() if c.key == key and (kind is None or c.kind == kind)]
    if len(hits) != 1:
        raise KeyError(f"{len(hits)} concepts with key {key!r}" + (f" and kind {kind!r}" if kind else "")
                       + ("" if hits else "; none") + (f": {[c.group for c in hits]}" if hits else ""))
    return hits[0]


@lru_cache(maxsize=1)
def _ordered() -> dict[str, list[Concept]]:
    """``"<field>.<table>"`` -> the concepts that have data for that table, in ``_order.json`` order."""
    order = _read(_data_dir().joinpath(_ORDER_FILE))
    fields = {"criterion_cues": CRITERION_TABLES, "patient_text": PATIENT_TEXT_TABLES,
              "matcher_synonyms": MATCHER_TABLES}
    allowed = ["_comment", *(f"{f}.{t}" for f, ts in fields.items() for t in ts)]
    _check_keys(_ORDER_FILE, order, tuple(allowed))
    out: dict[str, list[Concept]] = {}
    for name in allowed[1:]:
        fld, table = name.split(".", 1)
        with_data = [c for c in concepts() if table in getattr(c, fld)]
        having = {c.key: c for c in with_data}
        if len(having) != len(with_data):
            dup = sorted({c.key for c in with_data if sum(d.key == c.key for d in with_data) > 1})
            _fail(name, f"two concepts with the same key have {fld} for this table: {dup}")
        listed = order.get(name, [])
        if len(set(listed)) != len(listed):
            _fail(f"{_ORDER_FILE}: {name}", "a key is listed twice")
        missing, extra = sorted(set(having) - set(listed)), sorted(set(listed) - set(having))
        if missing or extra:
            _fail(f"{_ORDER_FILE}: {name}", f"must list exactly the concepts with {fld}.{table}; "
                  f"not listed: {missing}; listed without data: {extra}")
        out[name] = [having[k] for k in listed]
    return out


# ---------------------------------------------------------------------------- the compiler
@lru_cache(maxsize=1)
def condition_vocabulary_for_compiler() -> dict[str, dict]:
    """Condition key -> ``{"label", "synonyms"}``: what ``criteria.rules.vocab_regexes`` read from
    ``vocab/data/conditions.json["conditions"]``."""
    return {c.key: {"label": c.label, "synonyms": list(c.criterion_cues["conditions"])}
            for c in _ordered()["criterion_cues.conditions"]}


@lru_cache(maxsize=1)
def cancer_vocabulary_for_compiler() -> dict[str, dict]:
    """``{"cancers": {key: {"label", "synonyms"}}, "histologies": {key: {"synonyms"}},
    "metastasis_sites": {key: {"synonyms"}}}``: what the compiler read from ``vocab/data/cancers.json``."""
    o = _ordered()
    return {
        "cancers": {c.key: {"label": c.label, "synonyms": list(c.criterion_cues["cancers"])}
                    for c in o["criterion_cues.cancers"]},
        "histologies": {c.key: {"synonyms": list(c.criterion_cues["histologies"])} for c in o["criterion_cues.histologies"]},
        "metastasis_sites": {c.key: {"synonyms": list(c.criterion_cues["metastasis_sites"])}
                             for c in o["criterion_cues.metastasis_sites"]},
    }


@lru_cache(maxsize=1)
def criteria_rule_tables() -> dict[str, dict[str, list[str]]]:
    """``{"events", "infections", "qualifiers"}``, each key -> cue phrases: those tables of
    ``vocab/data/criteria_rules.json`` (its ``confirm`` and ``negation_cues`` are rules, not concepts,
    and stay there)."""
    return {t: {c.key: list(c.criterion_cues[t]) for c in _ordered()[f"criterion_cues.{t}"]}
            for t in ("events", "infections", "qualifiers")}


# ---------------------------------------------------------------------------- the matcher
@lru_cache(maxsize=1)
def matcher_condition_fallbacks() -> dict[str, list[str]]:
    """Condition key -> names: ``matching/data/conditions.json["conditions"]``."""
    return {c.key: list(c.matcher_synonyms["conditions"]) for c in _ordered()["matcher_synonyms.conditions"]}


@lru_cache(maxsize=1)
def condition_synonyms_for_matcher() -> dict[str, list[str]]:
    """Condition / infection key -> names the matcher compares a patient's condition with: the
    compiler's synonyms (after the key written with spaces), then the matcher's own names not
    already there; what ``matching.evaluate._condition_synonyms()`` builds."""
    out: dict[str, list[str]] = {key: [key.replace("_", " "), *e["synonyms"]]
                                 for key, e in condition_vocabulary_for_compiler().items()}
    for key, syns in matcher_condition_fallbacks().items():
        out.setdefault(key, [key.replace("_", " ")])
        out[key] = list(dict.fromkeys(out[key] + syns))
    return out


@lru_cache(maxsize=1)
def event_procedure_kinds() -> dict[str, set[str]]:
    """Event key -> the procedure kinds (normalised keys) that count as that event:
    ``matching.evaluate._EVENT_PROC``."""
    return {c.key: set(c.matcher_synonyms["event_procedure_kinds"])
            for c in _ordered()["matcher_synonyms.event_procedure_kinds"]}


@lru_cache(maxsize=1)
def site_groups_for_matcher() -> dict[str, frozenset[str]]:
    """Site word of a criterion -> the patient site keys it covers ("brain" covers "leptomeningeal"):
    ``matching.facts.SITE_GROUPS``."""
    return {c.key: frozenset(c.matcher_synonyms["site_members"]) for c in _ordered()["matcher_synonyms.site_members"]}


# ---------------------------------------------------------------------------- the patient readers
@lru_cache(maxsize=1)
def text_terms() -> dict[str, Any]:
    """What the free-text reader read from ``patients/codes/text_terms.json``: key -> regexes for
    ``metastasis_sites``, ``cancers``, ``conditions``, ``treatment_classes``; flat lists for
    ``condition_qualifiers`` and ``other_medications`` (in the file's order)."""
    o = _ordered()
    out: dict[str, Any] = {}
    for table in ("metastasis_sites", "cancers", "conditions"):
        out[table] = {c.key: list(c.patient_text[table]) for c in o[f"patient_text.{table}"]}
    out["condition_qualifiers"] = [p for c in o["patient_text.condition_qualifiers"]
                                   for p in c.patient_text["condition_qualifiers"]]
    out["treatment_classes"] = {c.key: list(c.patient_text["treatment_classes"]) for c in o["patient_text.treatment_classes"]}
    out["other_medications"] = [p for c in o["patient_text.other_medications"] for p in c.patient_text["other_medications"]]
    return out


@lru_cache(maxsize=1)
def procedure_text_terms() -> dict[str, list[str]]:
    """Procedure key -> the regexes the free-text reader's procedure pattern is made of (joined with
    ``|`` in this order they are the alternation ``patients.text_reader`` wrote inline)."""
    return {c.key: list(c.patient_text["procedures"]) for c in _ordered()["patient_text.procedures"]}


@lru_cache(maxsize=1)
def _procedure_word_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((key, re.compile("|".join(f"(?:{p})" for p in pats), re.I))
                 for key, pats in procedure_text_terms().items())


def procedure_text_kind(word: str) -> str | None:
    """The procedure key (``"surgery"``, ``"radiotherapy"``) whose free-text patterns match all of
    ``word`` (a match of the procedure pattern), else None."""
    return next((key for key, rx in _procedure_word_patterns() if rx.fullmatch(word)), None)


def fhir_procedure_kind(text: str) -> str | None:
    """The procedure key whose FHIR text words (``"radiat"``, ``"brachy"``, ...) occur in ``text``
    (lower-cased), else None."""
    low = text.lower()
    for c in _ordered()["patient_text.fhir_procedure_text"]:
        if any(w in low for w in c.patient_text["fhir_procedure_text"]):
            return c.key
    return None


@lru_cache(maxsize=1)
def snomed_codes() -> dict[str, dict[str, Any]]:
    """What the FHIR reader read from ``patients/codes/snomed.json``: table -> code -> the key
    (``[key, detail]`` for ``cancer`` and ``procedure``; the stated value where one is given)."""
    out: dict[str, dict[str, Any]] = {t: {} for t in CODE_TABLES}
    for c in concepts():
        for code in c.codes:
            if code.value is not None:
                val = code.value
            elif code.table in _PAIR_TABLES:
                val = [c.key, code.detail]
            else:
                val = c.key
            table = out[code.table]
            if code.code in table:
                raise ConceptFileError(f"{c.group}.json: concept {c.key!r}: code {code.code} of table "
                                       f"{code.table!r} is also given to another concept")
            table[code.code] = val
    return out


# ---------------------------------------------------------------------------- one concept, every consumer
def radiotherapy_terms() -> dict[str, Any]:
    """Everything the package knows about radiotherapy, by consumer: the compiler's event cues, the
    procedure kinds the matcher counts, the free-text reader's patterns, the FHIR reader's text words
    and the SNOMED CT codes (code -> name)."""
    c = find_concept("radiotherapy", "procedure")
    return {
        "criterion_cues": list(c.criterion_cues["events"]),
        "procedure_kinds": set(c.matcher_synonyms["event_procedure_kinds"]),
        "text_patterns": list(c.patient_text["procedures"]),
        "fhir_text": list(c.patient_text["fhir_procedure_text"]),
        "snomed": {code.code: code.detail for code in c.codes if code.system == "SNOMED"},
    }
