"""The extractor registry and the family data files (``extractors/data/<family>.json``).

Every extractor is registered with its name, the atom kinds it yields, its gate (the cheap substring
pre-check that keeps its regexes off most clauses) and its phase:

* ``guard``: returns the clause's whole result, or None to let the clause go on (unsupported patterns,
  permissions, rules of some countries only, strong confirmation cues, "N weeks since X");
* ``main``: atoms added to the clause's atoms;
* ``fallback``: main extractors that run only on a clause no other extractor read (declared in the
  arbitration table, ``trialmatch.criteria.arbitration``).

What an extractor yields to (it is skipped when another one produced atoms) is declared once, in the
arbitration table; :attr:`Extractor.yields_to` reads it from there.

The data of an extractor (gate words, its atom kinds, a description) is JSON, validated on load in
the manner of medspacy's ``ConTextRule.from_dict``: an unknown key raises ``ValueError`` naming the file,
the entry and the allowed keys; :meth:`ExtractorSpec.to_dict` / :meth:`ExtractorSpec.from_dict` and
:meth:`FamilyData.from_json` round-trip it. Plain cue tables of a family (word lists, pattern tables)
sit in the same file under ``"cues"``; :class:`CueTables` records which ones the code read, so a test
can show that no cue in the data is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

__all__ = ["Gate", "ExtractorSpec", "FamilyData", "CueTables", "Extractor", "FAMILIES", "family_data", "register",
           "registered", "DATA_DIR"]

DATA_DIR = Path(__file__).resolve().parent / "data"

#: the extractor families, one module and one data file each
FAMILIES = ("common", "person", "receptors", "disease", "labs", "therapy", "events", "conditions", "confirm")
PHASES = ("guard", "main", "fallback")

_DIGIT = re.compile(r"\d")


def _check_keys(where: str, data: dict, allowed: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    bad = sorted(k for k in data if k not in allowed and not k.startswith("_"))
    if bad:
        raise ValueError(f"{where}: unknown keys {bad}; allowed keys: {list(allowed)}")


def _words(where: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


class Gate:
    """A cheap pre-check on a clause: a word of ``any`` is a substring of it (lower-cased unless
    ``case_sensitive``) and, when given, a word of ``and_any`` too; ``or_digit``: a digit also opens the
    gate; ``and_digit``: a digit is needed as well. A gate with no words and no digit test is always open."""

    FIELDS = ("any", "and_any", "or_digit", "and_digit", "case_sensitive")

    __slots__ = ("any", "and_any", "or_digit", "and_digit", "case_sensitive")

    def __init__(self, any: tuple[str, ...] = (), and_any: tuple[str, ...] = (), or_digit: bool = False,
                 and_digit: bool = False, case_sensitive: bool = False):
        self.any, self.and_any = tuple(any), tuple(and_any)
        self.or_digit, self.and_digit, self.case_sensitive = bool(or_digit), bool(and_digit), bool(case_sensitive)

    def passes(self, t: str, tl: str) -> bool:
        """Could the extractor find something in ``t`` (``tl``: ``t.lower()``)?"""
        s = t if self.case_sensitive else tl
        ok = True
        if self.any:
            ok = False
            for w in self.any:  # plain loops: this runs for every extractor of every clause
                if w in s:
                    ok = True
                    break
        if ok and self.and_any:
            ok = False
            for w in self.and_any:
                if w in s:
                    ok = True
                    break
        if self.or_digit and not ok:
            ok = _DIGIT.search(t) is not None
        if self.and_digit and ok:
            ok = _DIGIT.search(t) is not None
        return ok

    def source(self, t: str = "c.t", tl: str = "tl", digit: str = "DIGIT") -> str:
        """The gate as a Python expression (``t``, ``tl``: the names of the text and its lower-cased form,
        ``digit``: a function that finds a digit): the same test as :meth:`passes`, for generated code."""
        s = t if self.case_sensitive else tl
        parts = []
        if self.any:
            parts.append("(" + " or ".join(f"{w!r} in {s}" for w in self.any) + ")")
        if self.and_any:
            parts.append("(" + " or ".join(f"{w!r} in {s}" for w in self.and_any) + ")")
        expr = " and ".join(parts) or "True"
        if self.or_digit:
            expr = f"({expr} or {digit}({t}) is not None)"
        if self.and_digit:
            expr = f"({expr} and {digit}({t}) is not None)"
        return expr

    def words(self) -> tuple[str, ...]:
        return self.any + self.and_any

    def to_dict(self) -> dict:
        out: dict = {}
        if self.any:
            out["any"] = list(self.any)
        if self.and_any:
            out["and_any"] = list(self.and_any)
        for k in ("or_digit", "and_digit", "case_sensitive"):
            if getattr(self, k):
                out[k] = True
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "gate") -> "Gate":
        _check_keys(where, data, cls.FIELDS)
        for k in ("or_digit", "and_digit", "case_sensitive"):
            if k in data and not isinstance(data[k], bool):
                raise ValueError(f"{where}.{k}: expected true or false")
        return cls(any=_words(f"{where}.any", data.get("any", [])), and_any=_words(f"{where}.and_any", data.get("and_any", [])),
                   or_digit=data.get("or_digit", False), and_digit=data.get("and_digit", False),
                   case_sensitive=data.get("case_sensitive", False))

    def __repr__(self) -> str:
        return f"Gate({self.to_dict()})"


class ExtractorSpec:
    """The data of one extractor: its atom kinds, phase, gate and description."""

    FIELDS = ("kinds", "phase", "gate", "doc")

    def __init__(self, name: str, family: str, kinds: tuple[str, ...], phase: str, gate: Gate | None, doc: str):
        if phase not in PHASES:
            raise ValueError(f"{family}.{name}.phase: {phase!r} is not one of {list(PHASES)}")
        self.name, self.family, self.kinds, self.phase, self.gate, self.doc = name, family, tuple(kinds), phase, gate, doc

    def to_dict(self) -> dict:
        out: dict = {"kinds": list(self.kinds), "phase": self.phase}
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        out["doc"] = self.doc
        return out

    @classmethod
    def from_dict(cls, name: str, family: str, data: dict) -> "ExtractorSpec":
        where = f"{family}.json: extractors.{name}"
        _check_keys(where, data, cls.FIELDS)
        for k in ("kinds", "phase", "doc"):
            if k not in data:
                raise ValueError(f"{where}: missing key {k!r}; keys: {list(cls.FIELDS)}")
        gate = Gate.from_dict(data["gate"], f"{where}.gate") if data.get("gate") is not None else None
        if not isinstance(data["doc"], str) or not data["doc"]:
            raise ValueError(f"{where}.doc: expected a description")
        return cls(name, family, _words(f"{where}.kinds", data["kinds"]), data["phase"], gate, data["doc"])


class CueTables(dict):
    """A family's cue tables (``"cues"`` of its data file); remembers which tables the code read."""

    def __init__(self, family: str, data: dict):
        super().__init__(data)
        self.family = family
        self.read: set[str] = set()

    def __getitem__(self, key: str):
        if key not in self:
            raise KeyError(f"{self.family}.json: no cue table {key!r}; tables: {sorted(self)}")
        self.read.add(key)
        return super().__getitem__(key)

    def words(self, key: str) -> tuple[str, ...]:
        """A list of cue words, as a tuple (validated: non-empty strings)."""
        return _words(f"{self.family}.json: cues.{key}", self[key])


class FamilyData:
    """One family's data file: ``extractors`` (name -> :class:`ExtractorSpec`), ``cues`` (cue tables),
    ``rules`` (cue phrases for :class:`trialmatch.criteria.rules.RuleSet`)."""

    FIELDS = ("extractors", "cues", "rules")

    def __init__(self, family: str, extractors: dict[str, ExtractorSpec], cues: dict, rules: dict):
        self.family, self.extractors, self.rules = family, extractors, rules
        self.cues = CueTables(family, cues)

    def to_dict(self) -> dict:
        return {"extractors": {k: v.to_dict() for k, v in self.extractors.items()}, "cues": dict(self.cues),
                "rules": self.rules}

    @classmethod
    def from_dict(cls, family: str, data: dict) -> "FamilyData":
        _check_keys(f"{family}.json", data, cls.FIELDS)
        ex = data.get("extractors", {})
        specs = {name: ExtractorSpec.from_dict(name, family, d) for name, d in ex.items() if not name.startswith("_")}
        cues = data.get("cues", {})
        if not isinstance(cues, dict):
            raise ValueError(f"{family}.json: cues: expected an object")
        return cls(family, specs, {k: v for k, v in cues.items() if not k.startswith("_")}, data.get("rules", {}))

    @classmethod
    def from_json(cls, path: str | Path) -> "FamilyData":
        path = Path(path)
        return cls.from_dict(path.stem, json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=None)
def family_data(family: str) -> FamilyData:
    """The packaged data of one family (cached)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown extractor family {family!r}; families: {list(FAMILIES)}")
    return FamilyData.from_json(DATA_DIR / f"{family}.json")


TAKES = ("text", "text_kind", "clause")


class Extractor:
    """A registered extractor: its data (:class:`ExtractorSpec`) and the function that reads a clause.

    ``fn`` is called as ``fn(text)`` (``takes="text"``), ``fn(text, kind)`` (``"text_kind"``) or
    ``fn(clause, text)`` (``"clause"``: it gets the clause state, :class:`trialmatch.criteria.clause.Clause`,
    with its kind and the atoms found so far). ``text`` is the clause text, or what an input rule of the
    arbitration table made of it; :meth:`run` calls it either way."""

    __slots__ = ("name", "family", "kinds", "phase", "gate", "doc", "fn", "takes")

    def __init__(self, spec: ExtractorSpec, fn: Callable, takes: str):
        if takes not in TAKES:
            raise ValueError(f"extractor {spec.name!r}: takes={takes!r} is not one of {list(TAKES)}")
        self.name, self.family, self.kinds, self.phase, self.gate, self.doc = (
            spec.name, spec.family, spec.kinds, spec.phase, spec.gate, spec.doc)
        self.fn, self.takes = fn, takes

    def run(self, clause, text: str):
        """The extractor's atoms for ``text`` (a guard: the clause's result, or None)."""
        if self.takes == "text":
            return self.fn(text)
        if self.takes == "text_kind":
            return self.fn(text, clause.kind)
        return self.fn(clause, text)

    @property
    def yields_to(self) -> tuple[str, ...]:
        """The extractors whose atoms make this one skip (from the arbitration table)."""
        from trialmatch.criteria.arbitration import yields_to

        return yields_to(self.name)

    def __repr__(self) -> str:
        return f"Extractor({self.name!r}, family={self.family!r}, phase={self.phase!r})"


_REGISTRY: dict[str, Extractor] = {}


def register(family: str, name: str, fn: Callable, takes: str = "text") -> Extractor:
    """Register ``fn`` as the extractor ``name`` of ``family`` (its data: ``data/<family>.json``).

    ``fn`` returns a list of atoms (a guard: a list that is the clause's result, or None); ``takes`` says how it
    is called (see :class:`Extractor`)."""
    spec = family_data(family).extractors.get(name)
    if spec is None:
        raise ValueError(f"{family}.json has no extractor {name!r}; it has {sorted(family_data(family).extractors)}")
    if name in _REGISTRY:
        raise ValueError(f"extractor {name!r} registered twice")
    ex = _REGISTRY[name] = Extractor(spec, fn, takes)
    return ex


def registered() -> dict[str, Extractor]:
    """Every registered extractor by name (importing the family modules registers them)."""
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"trialmatch.criteria.extractors.{family}")

    return dict(_REGISTRY)
