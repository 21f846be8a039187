"""Extractors of tumour biology: hormone receptors and HER2 (with IHC/ISH), gene alterations.
"""

from __future__ import annotations

import re
from typing import Any

from trialmatch.criteria.extractors.common import _any, _may_match
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import AnyOf, GeneAlteration, Receptor
from trialmatch.criteria.rules import FoldedPattern, folded_text


# (pattern, [(receptor, status), ...]): what each wording states
_RECEPTOR_RES = [(re.compile(r["pattern"], re.IGNORECASE), [tuple(x) for x in r["statuses"]])
                 for r in family_data("receptors").cues["receptor_patterns"]]


# every receptor pattern below needs one of these words: clauses without them skip the 11 searches
# The gate: any of these words (substrings, case-insensitive: "oestrogen" holds "estrogen", "her-2" is
# written both ways) or one of the short acronyms, the only part that needs a regex. ``_receptor_gate`` tests
# the words as substrings first (``_may_match``), which is faster; ``_RECEPTOR_GATE`` is both as one regex
_RECEPTOR_GATE_WORDS = family_data("receptors").cues.words("receptor_gate_words")
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
        # "ER-positive and/or PR-positive", "estrogen receptor and/or progesterone receptor positive": either
        # receptor positive, i.e. hormone receptor-positive
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
    r"(?i)\b(?:er|estrogen receptor|oestrogen receptor)[ -]?(?:\(er\)[ -]?)?(?:(?:\+|positive|pos)\s*)?(?:,\s*)?"
    r"(?:and/or|or|/)\s*(?:pr|pgr|progesterone receptor)[ -]?(?:\(pr\)[ -]?)?(?:\+|positive|pos)\b")
# "IHC 0 or 1+", "IHC 1+/2+", "IHC score of 2+": every score written after one "IHC"
_IHC_LIST = re.compile(r"(?i)ihc\s*(?:score\s*(?:of\s*)?)?((?:[0-3]\+?)(?:\s*(?:,|or|and|/|-|to)\s*[0-3]\+?(?![\d.]))*)")


_GENES = r"ESR1|PIK3CA|BRCA1/2|BRCA1\s*\\?&\s*2\b|BRCA1|BRCA2|BRCA|PALB2|AKT1|PTEN|TP53|EGFR|ALK|ROS1|KRAS|NRAS|BRAF|HER2|ERBB2|MET|RET|NTRK|FGFR[1-4]?|IDH1|IDH2|MSI-H|dMMR|ATM|CHEK2|CDH1|NF1|RB1|CCND1"


_GENES_RE = re.compile(r"(?<![\w-])(" + _GENES + r")(?![\w])")
# Speed: the gene names alone, a plain case-sensitive alternation that ``re`` scans for quickly (a set of
# first letters); every match of ``_GENES_RE`` holds one, so a clause without any skips the full pattern
_GENES_ANY = re.compile(_GENES)


_GENE_STATUS = (("mutated", re.compile(r"(?i)mutat|variant|alteration|pathogenic|deleterious|carrier")),
                ("amplified", re.compile(r"(?i)amplif")),
                ("fusion", re.compile(r"(?i)fusion|rearrange|translocation")),
                ("wildtype", re.compile(r"(?i)wild[- ]?type")))


def _gene_status(ctx: str, a: int, b: int) -> str | None:
    """The status word nearest the gene name at ``ctx[a:b]`` ("PALB2 mutation carrier, wild type BRCA1": BRCA1
    is wild type); at equal distance the earlier kind of ``_GENE_STATUS`` wins."""
    best = None
    for rank, (status, rx) in enumerate(_GENE_STATUS):
        for w in rx.finditer(ctx):
            d = a - w.end() if w.end() <= a else (w.start() - b if w.start() >= b else 0)
            if best is None or (d, rank) < best[:2]:
                best = (d, rank, status)
    return best[2] if best else None


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
        status = _gene_status(ctx, m.start() - max(0, m.start() - 40), m.end() - max(0, m.start() - 40))
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
        genes = ["BRCA1", "BRCA2"] if gene in ("BRCA1/2", "BRCA") or gene.startswith("BRCA1") and gene.endswith("2") \
            else [gene]
        for g in genes:
            if not any(isinstance(a, GeneAlteration) and a.gene == g for a in out):
                out.append(GeneAlteration(gene=g, status=status, sources=sources))
    return out


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_HER2_OVEREXPRESSED', '_RECEPTOR_GATE_SHORT'):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


register("receptors", "receptors", _receptors)
register("receptors", "genes", _genes)
