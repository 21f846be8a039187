"""Compiler rules as data (the ``rules`` of ``criteria/extractors/data/<family>.json``; the concepts'
criterion cues, cancers and conditions from the concept registry, :mod:`trialmatch.vocab.concepts`).

A :class:`RuleSet` is built from JSON, validated on construction (unknown keys, unknown confirmation
categories or empty cue lists raise ``ValueError`` listing the allowed values), and serialises
back with :meth:`RuleSet.to_dict`, in the style of medspacy's rule classes. Its cue phrases live with
the extractors that read them: confirmation cues in ``confirm.json``, the leading-negation cues in
``common.json``; the cues of concepts (events, infections, qualifiers) in the concept registry.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from trialmatch.vocab import class_vocabulary, drug_vocabulary

__all__ = ["RuleSet", "rules", "phrase_regex", "FoldedPattern", "folded_text"]

#: the NeedsConfirmation categories, each with its doc: ``cues.categories`` of extractors/data/confirm.json
CONFIRM_CATEGORIES = tuple(json.loads((Path(__file__).parent / "extractors" / "data" / "confirm.json")
                                      .read_text(encoding="utf-8"))["cues"]["categories"])


_SP, _HY = r"[\s-]+", r"[\s-]?"  # a space in a phrase matches any run of spaces/hyphens; a hyphen is optional


def _phrase_tokens(phrase: str, fold: bool) -> list[str]:
    toks = []
    for ch in phrase:
        if ch == " ":
            toks.append(_SP)
        elif ch == "-":
            toks.append(_HY)
        else:
            toks.append(re.escape(ch.lower() if fold else ch))
    return toks


def _trie_regex(phrases: list[str], fold: bool) -> str:
    """A prefix-factored alternation (a trie) equivalent to ``p1|p2|...`` tried longest first.

    Python's ``re`` tries every alternative of a flat alternation at every position, so a
    vocabulary of hundreds of phrases costs hundreds of attempts per character; the trie costs
    one attempt per character of the text (plus backtracking on shared prefixes). Children are
    tried longest subtree first and a phrase ending at a node is tried after its longer
    continuations, which keeps the longest-match-first behaviour of the flat form.
    """
    root: dict = {}
    for ph in phrases:
        node = root
        for tok in _phrase_tokens(ph, fold):
            node = node.setdefault(tok, {})
        node[""] = {}

    heights: dict[int, int] = {}  # id(node) -> depth, each computed once (the sort below asks again and again)

    def depth(node: dict) -> int:
        h = heights.get(id(node))
        if h is None:
            h = heights[id(node)] = max((1 + depth(ch) for k, ch in node.items() if k), default=0)
        return h

    def build(node: dict) -> str:
        ends = "" in node
        kids = sorted(((k, ch) for k, ch in node.items() if k), key=lambda kv: -depth(kv[1]))
        alts = [k + build(ch) for k, ch in kids]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and not ends else "(?:" + "|".join(alts) + ")"
        if len(alts) == 1 and not ends:
            return body
        return body + ("?" if ends else "")

    return build(root)


# non-ASCII letters that ``re.IGNORECASE`` matches to ASCII letters (found by trying every code point)
_FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")  # İ ı ſ K (Kelvin sign)
_GROUP_SYNTAX = re.compile(r"\(\?(?::|P<\w+>|=|!|<=|<!)")


_last_folded: tuple = ("", "")  # (text, folded_text(text)): one clause goes through many patterns in a row


def folded_text(text: str) -> str | None:
    """``text.lower()`` when ``re.IGNORECASE`` sees nothing in ``text`` that lower-casing does not
    show (else None): ASCII text, or text whose other characters have no case at all ("≥", "×",
    "°"; checked with ``str.lower``/``str.upper``, which for this Python's ``re`` was verified over
    every code point: such a character matches only itself under IGNORECASE). Then a case-insensitive
    match in ``text`` is the same span as a case-sensitive match of lower-case literals in the
    result. Text with a cased non-ASCII letter ("µ", "é") gives None."""
    global _last_folded
    last = _last_folded
    if last[0] is text:
        return last[1]
    if text.isascii():
        low = text.lower()
    else:
        low = text.lower()
        for ch in set(text):
            if not ch.isascii() and not (ch.lower() == ch == ch.upper()):
                low = None
                break
    _last_folded = (text, low)
    return low


class FoldedPattern:
    """A case-insensitive compiled regex that scans most text faster (same matches).

    ``re`` has fast paths for plain literals that ``re.IGNORECASE`` turns off (each alternative of an
    alternation is then tried in full at every position). On ASCII text (and text whose other
    characters have no case, see :func:`folded_text`), a case-insensitive pattern whose literals are
    lower case matches exactly where the same pattern, case-sensitive, matches the lower-cased text
    (same positions, same lengths). :meth:`search`, :meth:`match` and :meth:`finditer` look for the
    matches that way, then take each one from the original pattern at its start (one anchored
    attempt), so that callers get ordinary ``re.Match`` objects on their own text (original case,
    same groups). Other text, and patterns this does not hold for (an upper-case literal, an inline
    flag, one of the few non-ASCII letters IGNORECASE matches to ASCII ones), use the original
    pattern only. ``sub``, ``split``, ``pattern`` and the rest are the original pattern's.

    Worth it for patterns run over whole clauses (vocabulary tries, long alternations of words); used
    where measured faster, not everywhere (for a cheap pattern the extra Python call costs more).
    """

    def __init__(self, rx: re.Pattern):
        self.rx = rx
        self._lower = self._lower_twin(rx)
        self.pattern, self.flags, self.groups, self.groupindex = rx.pattern, rx.flags, rx.groups, rx.groupindex
        self.fullmatch, self.sub, self.subn, self.split, self.findall = rx.fullmatch, rx.sub, rx.subn, rx.split, rx.findall
        if self._lower is None:  # nothing to gain: the original pattern's own methods, no extra call
            self.search, self.match, self.finditer = rx.search, rx.match, rx.finditer

    @staticmethod
    def _lower_twin(rx: re.Pattern) -> re.Pattern | None:
        if not rx.flags & re.IGNORECASE or not isinstance(rx.pattern, str):
            return None
        body = rx.pattern.removeprefix("(?i)")
        # what is left once escapes (\w, \S, \.) and groups / look-arounds are taken out must be lower case
        # and hold no other "(?" (an inline flag such as "(?-i:" would change what lower-casing means)
        literal = _GROUP_SYNTAX.sub("", re.sub(r"\\.", "", body))
        if literal != literal.lower() or "(?" in literal or _FOLDS_TO_ASCII & set(body):
            return None
        return re.compile(body, rx.flags & ~re.IGNORECASE)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize):
        low = folded_text(text)
        if low is None:
            return self.rx.search(text, pos, endpos)
        m = self._lower.search(low, pos, endpos)
        return None if m is None else self.rx.match(text, m.start(), endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize):
        low = folded_text(text)
        if low is None:
            return self.rx.match(text, pos, endpos)
        return None if self._lower.match(low, pos, endpos) is None else self.rx.match(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize):
        low = folded_text(text)
        if low is None:
            yield from self.rx.finditer(text, pos, endpos)
            return
        for m in self._lower.finditer(low, pos, endpos):
            yield self.rx.match(text, m.start(), endpos)

    def __repr__(self) -> str:
        return f"FoldedPattern({self.rx!r})"


class GatedPattern:
    """A regex behind a cheap pre-check: ``gate``, a regex that every match of ``rx`` contains a match
    of, scanned for first; text without one cannot hold a match of ``rx``, which is then not run.
    ``search``/``finditer`` give the same results as ``rx``'s; anything else is ``rx``'s."""

    def __init__(self, rx: re.Pattern, gate: re.Pattern):
        self.rx, self.gate = rx, gate
        self.pattern, self.flags, self.groups, self.groupindex = rx.pattern, rx.flags, rx.groups, rx.groupindex
        self.match, self.fullmatch, self.sub, self.split, self.findall = rx.match, rx.fullmatch, rx.sub, rx.split, rx.findall

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize):
        return self.rx.search(text, pos, endpos) if self.gate.search(text, pos, endpos) is not None else None

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize):
        return self.rx.finditer(text, pos, endpos) if self.gate.search(text, pos, endpos) is not None else iter(())

    def __repr__(self) -> str:
        return f"GatedPattern({self.rx!r})"


def phrase_regex(phrases, flags=re.IGNORECASE) -> re.Pattern:
    """One regex over phrases, longest first, on word boundaries (compiled as a prefix trie)."""
    # longest first; equal lengths in a fixed order (not a set's, which varies with the hash seed)
    alts = sorted({p for p in phrases if p}, key=lambda p: (-len(p), p))
    body = _trie_regex(alts, fold=bool(flags & re.IGNORECASE))
    return re.compile(r"(?<![\w])(?:" + body + r")(?![\w])", flags)


class RuleSet:
    """Cue phrases for the compiler, keyed by concept.

    Parameters
    ----------
    confirm : dict
        NeedsConfirmation category -> cue phrases (categories from ``CONFIRM_CATEGORIES``).
    events, infections, qualifiers : dict
        RecentEvent keys, Infection pathogens, qualifier keys -> cue phrases.
    negation_cues : dict
        The leading-negation cues (``common.json``: lead cues, the words after "no"/"not" that make them
        comparators, the words after "no" that make it no negation); ``extractors.common`` builds its
        negation regex from them.
    """

    FIELDS = ("confirm", "events", "infections", "qualifiers", "negation_cues")

    def __init__(self, confirm: dict, events: dict, infections: dict, qualifiers: dict,
                 negation_cues: dict):
        bad = sorted(set(confirm) - set(CONFIRM_CATEGORIES))
        if bad:
            raise ValueError(f"unknown confirmation categories {bad}; allowed: {list(CONFIRM_CATEGORIES)}")
        for name, table in (("confirm", confirm), ("events", events), ("infections", infections),
                            ("qualifiers", qualifiers)):
            for key, cues in table.items():
                if not cues or not all(isinstance(c, str) and c for c in cues):
                    raise ValueError(f"{name}.{key}: cue list must hold non-empty strings")
        self.confirm = confirm
        self.events = events
        self.infections = infections
        self.qualifiers = qualifiers
        self.negation_cues = negation_cues
        # FoldedPattern: the same regexes, faster on most text (where measured faster: not the short
        # per-key lists of infections and qualifiers)
        self.confirm_re = {k: FoldedPattern(phrase_regex(v)) for k, v in confirm.items()}
        self.event_re = {k: FoldedPattern(phrase_regex(v)) for k, v in events.items()}
        self.infection_re = {k: phrase_regex(v) for k, v in infections.items()}
        self.qualifier_re = {k: phrase_regex(v) for k, v in qualifiers.items()}
        # one pass over all cues of a family: when it finds nothing, the per-key regexes are skipped
        self.confirm_any = FoldedPattern(phrase_regex([c for cues in confirm.values() for c in cues]))
        self.event_any = FoldedPattern(phrase_regex([c for cues in events.values() for c in cues]))
        self.infection_any = FoldedPattern(phrase_regex([c for cues in infections.values() for c in cues]))

    def to_dict(self) -> dict:
        return {"confirm": self.confirm, "events": self.events, "infections": self.infections,
                "qualifiers": self.qualifiers, "negation_cues": self.negation_cues}

    @classmethod
    def from_dict(cls, data: dict) -> "RuleSet":
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        bad = sorted(set(data) - set(cls.FIELDS))
        missing = sorted(set(cls.FIELDS) - set(data))
        if bad or missing:
            raise ValueError(f"rule set: unknown keys {bad}, missing keys {missing}; allowed keys: {list(cls.FIELDS)}")
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path) -> "RuleSet":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def rules() -> RuleSet:
    """The packaged rule set (cached): the ``rules`` of the extractor families' data files."""
    from trialmatch.criteria.extractors.registry import family_data

    from trialmatch.vocab.concepts import criteria_rule_tables

    data: dict = {}
    for family in ("confirm", "events", "conditions", "common"):
        data.update(family_data(family).rules)
    # the concepts' criterion cues (events, infections, qualifiers) come from the concept registry
    data.update(criteria_rule_tables())
    return RuleSet.from_dict(data)


@lru_cache(maxsize=1)
def vocab_regexes() -> dict:
    """Compiled regexes over the vocabularies (cached; built once per process)."""
    from trialmatch.vocab.concepts import cancer_vocabulary_for_compiler, condition_vocabulary_for_compiler

    cancers = cancer_vocabulary_for_compiler()
    conditions = condition_vocabulary_for_compiler()
    out: dict = {}
    # cancers: a case-sensitive pass for short acronyms, case-insensitive for the rest
    out["cancer"] = _table({k: v["synonyms"] for k, v in cancers["cancers"].items()})
    out["histology"] = _table({k: v["synonyms"] for k, v in cancers["histologies"].items()})
    out["site"] = _table({k: v["synonyms"] for k, v in cancers["metastasis_sites"].items()})
    out["condition"] = _table({k: v["synonyms"] for k, v in conditions.items()})
    # drugs and classes: one regex, group name -> key via a lookup table
    names: dict[str, str] = {}
    for generic, entry in drug_vocabulary().items():
        names.setdefault(generic.lower(), generic)
        for syn in entry.get("synonyms", []):
            names.setdefault(syn.lower(), generic)
    for key, entry in class_vocabulary().items():
        for syn in entry.get("synonyms", []):
            if syn.lower() in ("et", "ai", "ais", "adc", "adcs", "tki"):
                continue  # short acronyms handled case-sensitively below
            names.setdefault(syn.lower(), key)
    # a phrase matches with any run of spaces/hyphens where its synonym has a space or hyphen: look it up
    # with those runs folded to one space as well ("PD-1/PD-L1-blocking antibody")
    for k, v in list(names.items()):
        names.setdefault(re.sub(r"[\s-]+", " ", k), v)
    out["agent_names"] = names
    out["agent"] = FoldedPattern(phrase_regex(names))  # the same regex, faster on most text
    out["agent_acronyms"] = re.compile(r"(?<![\w-])(AIs?|NSAIs?|TKIs?|ADCs?|ET)(?![\w])")
    return out


_ACRONYM = re.compile(r"^[a-z0-9]{2,4}$")


def _vocab_re(synonyms: list[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
    """(case-insensitive regex for long phrases, case-sensitive regex for short acronyms)."""
    long = [s for s in synonyms if not _ACRONYM.match(s)]
    short = [s.upper() for s in synonyms if _ACRONYM.match(s)]
    short += [s[0] + s[1:].upper() for s in synonyms if _ACRONYM.match(s) and s.startswith("m")]  # "mBC"
    return (phrase_regex(long) if long else None, phrase_regex(short, flags=0) if short else None)


_SEP_RUN = re.compile(r"[\s-]+")


def _norm_phrase(s: str) -> str:
    return _SEP_RUN.sub(" ", s.lower()).strip()


# short synonyms that are ordinary words, not acronyms: matched in any case ("Bone and lung metastases")
_SHORT_WORDS = frozenset({"bone", "lung"})
# Speed: every acronym of a table is 2-4 capitals or digits, or "m" and capitals ("mBC"), so any match of
# its regex holds two such characters in a row: a fast scan (a set of first characters) for that pair
# skips the acronym regex on most clauses (it checks every position)
_ACRONYM_PAIR = re.compile(r"[A-Z0-9m][A-Z0-9]")


def _table(entries: dict[str, list[str]]) -> tuple:
    """One combined (case-insensitive, case-sensitive acronym) regex pair and a phrase -> key map."""
    lookup: dict[str, str] = {}
    long, short = [], []
    for key, syns in entries.items():
        for syn in syns:
            if _ACRONYM.match(syn) and syn not in _SHORT_WORDS:
                short.append(syn.upper())
                if syn.startswith("m"):
                    short.append(syn[0] + syn[1:].upper())
            else:
                long.append(syn)
            lookup.setdefault(_norm_phrase(syn), key)
            lookup.setdefault(_norm_phrase(syn).replace(" ", ""), key)
    return (FoldedPattern(phrase_regex(long)) if long else None,
            GatedPattern(phrase_regex(short, flags=0), _ACRONYM_PAIR) if short else None, lookup)


def vocab_find(table: tuple, text: str) -> list[tuple[str, int, int]]:
    """All (key, start, end) mentions of a vocabulary table in ``text``, non-overlapping, longest first."""
    hits = []
    rx_long, rx_short, lookup = table
    for rx in (rx_long, rx_short):
        if rx is None:
            continue
        for m in rx.finditer(text):
            ph = _norm_phrase(m.group(0))
            key = lookup.get(ph) or lookup.get(ph.replace(" ", ""))
            if key is not None:
                hits.append((key, m.start(), m.end()))
    hits.sort(key=lambda h: (h[1], -(h[2] - h[1])))
    out = []
    last_end = -1
    for h in hits:
        if h[1] >= last_end:
            out.append(h)
            last_end = h[2]
    return out
