"""Vocabularies as data: drugs and their classes, lab analytes, and (added by the compiler)
conditions and cancer types. Loaded once from the JSON files in ``vocab/data``.

Clinical concepts (conditions, cancer types, histologies, sites, procedures such as radiotherapy,
qualifiers) are defined once in the concept registry, :mod:`trialmatch.vocab.concepts`
(``vocab/concepts/data/<group>.json``), which gives each consumer (compiler, matcher, text and
FHIR readers) the table it reads.

Public API
----------
drug_vocabulary() -> dict[str, dict]           generic name -> {"synonyms": [...], "classes": [...]}
class_vocabulary() -> dict[str, dict]          class key -> {"label", "synonyms", "parents"}
analyte_vocabulary() -> dict[str, dict]        analyte key -> {"label", "synonyms", "unit", ...}
normalize_drug(name) -> str | None             "Femara" -> "letrozole"
drug_classes(generic) -> set[str]              all classes incl. ancestors: "palbociclib" -> {"cdk46_inhibitor", "targeted_therapy", "systemic_therapy"}
drug_matches(generic, agent_key) -> bool       True if the drug is the agent or belongs to the class
normalize_analyte(name) -> str | None          "Platelet count (PLT)" -> "platelets"
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

__all__ = [
    "load_json", "drug_vocabulary", "class_vocabulary", "analyte_vocabulary", "normalize_drug",
    "drug_classes", "drug_matches", "normalize_analyte", "class_ancestors",
]


@lru_cache(maxsize=None)
def load_json(name: str) -> dict:
    """Load ``vocab/data/<name>`` (cached)."""
    with resources.files("trialmatch.vocab").joinpath("data", name).open("r", encoding="utf-8") as fh:
        return json.load(fh)


def drug_vocabulary() -> dict[str, dict]:
    return load_json("drugs.json")["drugs"]


def class_vocabulary() -> dict[str, dict]:
    return load_json("drug_classes.json")["classes"]


def analyte_vocabulary() -> dict[str, dict]:
    return load_json("analytes.json")["analytes"]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("’", "'"))


@lru_cache(maxsize=None)
def _drug_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for generic, entry in drug_vocabulary().items():
        index[_norm(generic)] = generic
        for syn in entry.get("synonyms", []):
            index.setdefault(_norm(syn), generic)
    return index


def normalize_drug(name: str) -> str | None:
    """Return the generic name for a drug name, brand name or code name, else None."""
    key = _norm(name)
    index = _drug_index()
    if key in index:
        return index[key]
    # "letrozole 2.5 mg daily" -> first known token sequence
    for token in re.split(r"[\s,;/()+]+", key):
        if token in index:
            return index[token]
    return None


@lru_cache(maxsize=None)
def class_ancestors(class_key: str) -> frozenset[str]:
    """A class and every class above it."""
    classes = class_vocabulary()
    out = {class_key}
    stack = [class_key]
    while stack:
        for parent in classes.get(stack.pop(), {}).get("parents", []):
            if parent not in out:
                out.add(parent)
                stack.append(parent)
    return frozenset(out)


@lru_cache(maxsize=None)
def drug_classes(generic: str) -> frozenset[str]:
    """Every class a drug belongs to, ancestors included."""
    entry = drug_vocabulary().get(generic)
    if entry is None:
        return frozenset()
    out: set[str] = set()
    for c in entry.get("classes", []):
        out |= class_ancestors(c)
    return frozenset(out)


def drug_matches(generic: str, agent_key: str) -> bool:
    """True when ``generic`` is the agent itself or a member of the class ``agent_key``."""
    return generic == agent_key or agent_key in drug_classes(generic)


@lru_cache(maxsize=None)
def _analyte_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for key, entry in analyte_vocabulary().items():
        index[key] = key
        for syn in entry.get("synonyms", []):
            index.setdefault(_norm(syn), key)
    return index


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@lru_cache(maxsize=None)
def _analyte_pattern() -> tuple[re.Pattern, dict[str, tuple[int, str]]]:
    """One pattern of every synonym of two characters or more, longest first and ending a word
    (matched at each word start: the longest synonym starting there), and each synonym's
    ``(index order, analyte)``."""
    index = _analyte_index()
    order = {syn: (i, analyte) for i, (syn, analyte) in enumerate(index.items()) if len(syn) >= 2}
    alternatives = "|".join(re.escape(s) for s in sorted(order, key=len, reverse=True))
    return re.compile(f"(?:{alternatives})(?![a-z0-9])"), order


@lru_cache(maxsize=4096)
def normalize_analyte(name: str) -> str | None:
    """Map an analyte name as written to its vocabulary key (longest synonym found wins; between
    synonyms of the same length, the first in the vocabulary)."""
    key = _norm(name)
    index = _analyte_index()
    if key in index:
        return index[key]
    pattern, order = _analyte_pattern()
    best: tuple[int, int, str] | None = None  # (-length, index order, analyte): the smallest wins
    for i in range(len(key)):
        if i and key[i - 1] in _WORD_CHARS:
            continue  # not a word start
        m = pattern.match(key, i)
        if m is not None:
            syn = m.group()
            cand = (-len(syn), *order[syn])
            if best is None or cand < best:
                best = cand
    return best[2] if best else None
