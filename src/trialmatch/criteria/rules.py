"""Compiler rules as data (``vocab/data/criteria_rules.json``, ``conditions.json``, ``cancers.json``).

A :class:`RuleSet` is built from JSON, validated on construction (unknown confirmation
categories or empty cue lists raise ``ValueError`` listing the allowed values), and serialises
back with :meth:`RuleSet.to_dict`, in the style of medspacy's rule classes.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from trialmatch.vocab import class_vocabulary, drug_vocabulary, load_json

__all__ = ["RuleSet", "rules", "phrase_regex"]

CONFIRM_CATEGORIES = (
    "consent", "compliance", "investigator_judgement", "social_security", "tissue_available",
    "recovered_from_toxicity", "swallow", "contraception", "withdrawal", "other",
)


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

    def depth(node: dict) -> int:
        return max((1 + depth(ch) for k, ch in node.items() if k), default=0)

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


def phrase_regex(phrases, flags=re.IGNORECASE) -> re.Pattern:
    """One regex over phrases, longest first, on word boundaries (compiled as a prefix trie)."""
    alts = sorted({p for p in phrases if p}, key=len, reverse=True)
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
    negation_cues : list of str
    """

    def __init__(self, confirm: dict, events: dict, infections: dict, qualifiers: dict,
                 negation_cues: list[str]):
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
        self.confirm_re = {k: phrase_regex(v) for k, v in confirm.items()}
        self.event_re = {k: phrase_regex(v) for k, v in events.items()}
        self.infection_re = {k: phrase_regex(v) for k, v in infections.items()}
        self.qualifier_re = {k: phrase_regex(v) for k, v in qualifiers.items()}
        # one pass over all cues of a family: when it finds nothing, the per-key regexes are skipped
        self.confirm_any = phrase_regex([c for cues in confirm.values() for c in cues])
        self.event_any = phrase_regex([c for cues in events.values() for c in cues])
        self.infection_any = phrase_regex([c for cues in infections.values() for c in cues])

    def to_dict(self) -> dict:
        return {"confirm": self.confirm, "events": self.events, "infections": self.infections,
                "qualifiers": self.qualifiers, "negation_cues": self.negation_cues}

    @classmethod
    def from_dict(cls, data: dict) -> "RuleSet":
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path) -> "RuleSet":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def rules() -> RuleSet:
    """The packaged rule set (cached)."""
    return RuleSet.from_dict(load_json("criteria_rules.json"))


@lru_cache(maxsize=1)
def vocab_regexes() -> dict:
    """Compiled regexes over the vocabularies (cached; built once per process)."""
    cancers = load_json("cancers.json")
    conditions = load_json("conditions.json")["conditions"]
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
    out["agent"] = phrase_regex(names)
    out["agent_acronyms"] = re.compile(r"(?<![\w-])(AIs?|NSAIs?|TKIs?|ADCs?|ET)(?![\w])")
    return out


_ACRONYM = re.compile(r"^[a-z0-9]{2,4}$")


def _vocab_re(synonyms: list[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
    """(case-insensitive regex for long phrases, case-sensitive regex for short acronyms)."""
    long = [s for s in synonyms if not _ACRONYM.match(s)]
    short = [s.upper() for s in synonyms if _ACRONYM.match(s)]
    short += [s[0] + s[1:].upper() for s in synonyms if _ACRONYM.match(s) and s.startswith("m")]  # "mBC"
    return (phrase_regex(long) if long else None, phrase_regex(short, flags=0) if short else None)


def _norm_phrase(s: str) -> str:
    return re.sub(r"[\s-]+", " ", s.lower()).strip()


# short synonyms that are ordinary words, not acronyms: matched in any case ("Bone and lung metastases")
_SHORT_WORDS = frozenset({"bone", "lung"})


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
    return (phrase_regex(long) if long else None, phrase_regex(short, flags=0) if short else None, lookup)


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
