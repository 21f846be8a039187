"""Extractors of numbers: laboratory thresholds (with shared, conditional and alternative comparisons),
other measurements and scores, weight change.
"""

from __future__ import annotations

import re
from functools import cache
from pydantic import BaseModel
from typing import Any

from trialmatch.criteria.extractors.common import _ANALYTE_SEP, _DIGIT, _OP_ANY, _all, _any, _consume, _consumed
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import (
    Age, AllOf, AnyOf, Condition, IfThen, LabThreshold, LifeExpectancy, Measurement, Metastasis, PerformanceStatus,
    PriorTherapy, Receptor, Sex, iter_atoms,
)
from trialmatch.criteria.quantities import bare_value, find_quantities, operator_before
from trialmatch.criteria.rules import FoldedPattern
from trialmatch.vocab import analyte_vocabulary, load_json


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
    links: dict[int, tuple] = {}  # result index -> ("unless", condition) | ("if", comparison): see _link_conditionals
    clause_qs = find_quantities(t)  # one scan of the clause, shared by its segments
    short = _core_length(t) <= _BARE_LIMIT_MAX_CLAUSE
    for gi, grp in enumerate(groups):
        start = grp[-1][2]
        end = groups[gi + 1][0][1] if gi + 1 < len(groups) else len(t)
        seg = t[start:end]
        comps = _comparisons(seg, _shift_quantities(clause_qs, start, end), bare_ok=short)
        if not comps and short and _NORMAL_BEFORE.search(t, max(0, grp[0][1] - 20), grp[0][1]) \
                and _NORMAL_AFTER_OK.match(t, grp[-1][2]):
            # "normal left ventricular ejection fraction": the analyte's normal range
            comps = [{"op": "<=", "uln": 1.0, "condition": None, "normal": True, "start": 0, "end": 0}]
        if not comps:
            bare = _bare_comparison(t, grp, start, clause_qs)
            if bare is None:
                continue
            comps = [bare]
        if any("uln" in c for c in comps):
            for c in comps:
                if "value" in c and c.get("unit") is None and c.get("value_high") is None and "pair" not in c:
                    # "bilirubin ≤1.5 × ULN if no liver metastases or < 3 if liver metastases": a bare number
                    # beside multiples of the ULN for the same analyte is one too
                    c["uln"] = c.pop("value")
                    c.pop("unit", None)
        base, cond = comps[0], None
        for c in comps[1:]:
            if c.get("condition") is not None:
                cond = c
                break
        link = None
        unless = _UNLESS_IN_WHICH_CASE.search(seg, base["end"]) if gi + 1 < len(groups) else None
        unless_cond = _condition_in(unless.group("cond")) if unless is not None else None
        if unless_cond is not None:
            # "bilirubin ≤ 1.5 × ULN, unless Gilbert's disease, in which case direct bilirubin ≤ 1.5 × ULN": the
            # next analyte's limit replaces this one for the patients with the condition
            link = ("unless", unless_cond)
            _consume(t, start + unless.start(), start + unless.end())
        elif cond is None and gi + 1 < len(groups):
            lab_if = next((c for c in comps[1:] if _LAB_IF_TAIL.fullmatch(seg, _uln_end(seg, c["end"]))), None)
            if lab_if is not None:
                # "AST and ALT ≤ 2.5 × ULN (≤ 1.5 × ULN if alkaline phosphatase > 2.5 × ULN)": the stricter limit
                # holds when the next analyte's comparison does
                link = ("if", lab_if)
                _consume(t, start + lab_if["start"], start + _uln_end(seg, lab_if["end"]))
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
            elif link is not None:
                pass
            elif extra:
                more = [x for x in (_lab_atom(key, c, avocab) for c in extra) if x is not None]
                if more:
                    a = _join_comparisons([a] + more, how)
            if base.get("pair") is not None and key in _BP_KEYS:
                seen_keys.extend(_BP_KEYS)  # "systolic/diastolic BP > 140/90": one pair
            atoms.append(a)
        if atoms:
            if link is not None:
                links[len(results)] = link
            results.append((atoms, grp[0][1], end))
            for c in _lab_consumed(seg, comps, base, cond, extra if cond is None else []):
                _consume(t, start + c["start"], start + c["end"])
    if not results:
        return []
    results = _link_conditionals(results, links, avocab, t)
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


_UNLESS_IN_WHICH_CASE = re.compile(r"(?i)\bunless\b(?P<cond>[^;]{0,100}?)\bin\s+which\s+case\b[^;]{0,20}$")
_GILBERT = re.compile(r"(?i)gilbert")


def _condition_in(text: str):
    """The patient condition a conditional limit is written for ("unless the patient has Gilbert's disease",
    "if liver metastases"), or None."""
    if _GILBERT.search(text):
        return Condition(condition="gilbert_syndrome")
    m = re.search(r"(?i)\b(liver|hepatic|bone)\s+(?:metasta|involvement)", text)
    if m is not None:
        return Metastasis(site="bone" if m.group(1).lower() == "bone" else "liver")
    return None


def _uln_end(seg: str, end: int) -> int:
    """``end`` moved past a "× ULN" written right after it."""
    m = _ULN_AFTER.match(seg, end)
    return m.end() if m is not None else end


_LAB_IF_TAIL = re.compile(r"(?i)\s*(?:if|when|in case of|in patients with|for patients with)\s+(?:the\s+|an?\s+)?(?:serum\s+)?")


def _link_conditionals(results: list, links: dict, avocab, t: str) -> list:
    """Results with each linked pair joined into one conditional: ``("unless", C)`` at ``i``:
    IfThen(C, then=results[i + 1], otherwise=results[i]); ``("if", comparison)`` at ``i``: each analyte of
    ``results[i]`` gets IfThen(results[i + 1], then=<its limit by the comparison>, otherwise=<its limit>)."""
    if not links:
        return results
    out: list = []
    i = 0
    while i < len(results):
        atoms, s, e = results[i]
        link = links.get(i)
        if link is None or i + 1 >= len(results):
            out.append(results[i])
            i += 1
            continue
        nxt_atoms, _, ne = results[i + 1]
        if link[0] == "unless":
            out.append(([IfThen(condition=link[1], then=_all(nxt_atoms), otherwise=_all(atoms))], s, ne))
        else:
            cond = _all(nxt_atoms)
            joined = []
            for a in atoms:
                a2 = _lab_atom(a.analyte, link[1], avocab) if isinstance(a, LabThreshold) else None
                joined.append(a if a2 is None else IfThen(condition=cond, then=a2, otherwise=a))
            out.append((joined, s, ne))
        i += 2
    return out


_RESTATEMENT_OPEN = re.compile(r"\(\s*$")
_NORMAL_BEFORE = re.compile(r"(?i)(?<!ab)(?<!near[- ])\bnormal\s+(?:resting\s+|serum\s+|baseline\s+|cardiac\s+)?$")


def _bare_comparison(t: str, grp: list, start: int, clause_qs) -> dict | None:
    """A value written with no operator right after an analyte or score name ("Gleason score 7",
    "PSA 20 ng/ml", "ASA status 1,2"), as an "==" comparison (a list of scores: "between"),
    relative to ``start``. Not a name in brackets right after another comparison: "Hb ≥ 10 g/dL
    (Hct 32%)" restates the threshold, it adds no requirement."""
    close = re.match(r"\s*\)", t[start:start + 4]) if t.rfind("(", grp[0][1], start) >= 0 else None
    q = bare_value(t, start + (close.end() if close else 0))  # "ejection fraction (LVEF) 50%": past the bracket
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
    if op == "==" and q.unit is not None and all(k in _NORMAL_READS_AS["lower"] for k, _, _ in grp):
        # "Has a left ventricular ejection fraction (LVEF) 50% by ECHO": a value of a measure whose limit
        # is a floor (cues.normal_reads_as "lower" of labs.json), written without its "≥": the minimum
        op = ">="
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
_ANALYTE_EGFR_NOT_LAB = re.compile(r"(?i)mutat|tki|inhibitor")


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


_ULN_AFTER = re.compile(r"(?i)\s*(?:" + _ULN + r"|(?:x|×|\*|times|fold|-fold)\s*(?:the\s+)?(?:institutional\s+|institution'?s\s+)?(?:maximum\s+|upper\s+)?"
                        r"normal(?:\s+(?:value|level|limit))?\b(?!\s+(?:range|limits?\s+of)))")
_LLN_AFTER = re.compile(r"(?i)\s*" + _LLN)
_STRAY_DIGIT = re.compile(r"(?i)\s+\d(?=\s*(?:x|×|times)\b)")


#: a limit with no number written ("≤ ULN", "normal") is read only in a clause at most this long: in a
#: longer sentence it is most often part of a definition or a condition ("anaemia with Hb below the LLN"),
#: not a threshold of its own
_BARE_LIMIT_MAX_CLAUSE = 110
# how the value is measured ("as measured by MUGA scan or echocardiogram", "by ECHO or MUGA") and bracketed
# abbreviations: not counted in that length (the words of ``cues.measurement_method_words`` of labs.json)
_METHOD_TAIL = re.compile(r"(?i)(?:,\s*)?\b(?:(?:as\s+)?(?:measured|determined|assessed|documented|evaluated|demonstrated)\s+by|"
                          r"by|on)\s+(?:either\s+)?(?:a\s+|an\s+|the\s+)?(?:" + "|".join(
                              map(re.escape, family_data("labs").cues.words("measurement_method_words"))) + r")\b.*$", re.S)


def _core_length(t: str) -> int:
    """The length of a clause less its bracketed abbreviations ("(LVEF)") and its measurement-method tail."""
    core = re.sub(r"\([^()]{0,24}\)", "", t)
    return len(_METHOD_TAIL.sub("", core).strip())


def _comparisons(seg: str, qs=None, bare_ok: bool = True) -> list[dict]:
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
        stray = _STRAY_DIGIT.match(tail) if q.unit_text is None else None
        if q.unit_text is None and (_ULN_AFTER.match(tail) or stray and _ULN_AFTER.match(tail, stray.end())):
            # "no greater than 3 5 times the institutional normal" (a digit astray): the multiple written first
            c["uln"] = q.value
        elif q.unit_text is None and _LLN_AFTER.match(tail):
            c["lln"] = q.value
        else:
            c["value"], c["unit"] = q.value, q.unit
            if q.op == "between":
                c["value_high"] = q.value_high
        del after_num
        after = seg[q.end:q.end + 60]
        if re.search(r"(?i)\b(?:if|in case of|for patients with|in patients with|in the presence of|with|when)\b[^;)]{0,20}(?:liver|hepatic)\s+(?:metasta|involvement)", after[:50]) \
                or _LIVER_CONDITION_BEFORE.search(seg[max(0, q.start - 70):q.start]):
            # "≤5 × ULN if liver metastases"; "(if liver metastases are present, ≤5 × ULN)": the condition first
            c["condition"] = Metastasis(site="liver")
        elif re.search(r"(?i)\b(?:if|in case of|for patients with|in patients with|in the presence of|with)\b[^;)]{0,20}bone\s+metasta", after[:50]):
            c["condition"] = Metastasis(site="bone")
        elif _GILBERT.search(after[:60]):
            c["condition"] = Condition(condition="gilbert_syndrome")
        else:
            c["condition"] = None
        if q.op == "between" and ("uln" in c or "lln" in c):
            continue
        out.append(c)
    if not out and bare_ok:
        bm = _BARE_LIMIT.search(seg[:60])
        if bm is not None:
            # "Bilirubin ≤ ULN", "creatinine ≤ IULN", "calcium ≥ LLN": the limit itself, 1 × ULN / LLN
            op = _BARE_LIMIT_OPS.get(re.sub(r"\s+", " ", bm.group("op").lower()), None)
            if op is not None:
                out.append({"op": op, ("lln" if bm.group("lln") else "uln"): 1.0, "condition": None,
                            "start": bm.start(), "end": bm.end()})
                return out
    nm = None if out or not bare_ok else re.search(r"(?i)within (?:the )?(?:institutional )?normal (?:institutional )?(?:limits|range)|"
                                    r"within (?:the )?(?:institutional |institution'?s )?range of normal|"
                                    r"\bnormal\b", seg[:60])
    if nm is not None and not _NORMAL_LEAD.fullmatch(seg[:nm.start()]):
        nm = None  # "three times the upper normal", "twice higher than normal", "glucose tolerance": not a normal value
    if nm is not None and re.search(r"(?i)\b(?:not|non|no|outside|beyond|above|below)\W*(?:the\s+|within\s+)?$", seg[:nm.start()]):
        nm = None  # "not normal", "outside the normal range": no threshold read
    if nm is not None:
        out.append({"op": "<=", "uln": 1.0, "condition": None, "normal": True, "start": nm.start(), "end": nm.end()})
    return out


_LIVER_CONDITION_BEFORE = re.compile(
    r"(?i)\(\s*(?:if|in case of|for patients with|in patients with|in the presence of|with|when)\b[^;()]{0,20}"
    r"(?:liver|hepatic)\s+(?:metasta|involvement)[^;()≤≥<>\d]{0,30}[,:]\s*$")


# an operator right before the limit, with no multiple: "≤ ULN", "< or = the upper limit of normal", "≥ LLN"
# what may stand between the analyte and "normal" in "<analyte> ... normal": linking words only
_NORMAL_LEAD = re.compile(r"(?i)[\s:,\-–]*(?:(?:\([^()]{0,30}\)|is|are|must|should|be|levels?|values?|counts?|results?|"
                         r"tests?|serum|both|remain|within|with)[\s:,\-–]*)*")
_NORMAL_AFTER_OK = re.compile(r"(?i)\s*(?:$|[,;.:()]|(?:by|on|as|at|and|or|levels?|counts?|values?|must|is|per|"
                              r"according|measured|determined|assessed|of)\b)")
_BARE_LIMIT = re.compile(
    r"(?i)(?P<op>≤|≥|<=|>=|=<|=>|<\s*/\s*=|>\s*/\s*=|<\s*or\s*=|>\s*or\s*=|<|>|less than\s*(?:or|/)\s*equal to|"
    r"greater than\s*(?:or|/)\s*equal to|not (?:greater|more|higher) than|no (?:greater|more|higher) than|below|under|"
    r"at or below|at or above|at least|above|greater than|more than|higher than|less than|lower than)\s*"
    r"(?:\(\s*(?:<=|>=)\s*\)\s*)?(?:the\s+)?(?:institution(?:'?s|al)?\s+|site\s+|local\s+)?"
    r"(?:(?P<uln>i?uln\b|upper limits? of (?:the )?(?:institutional )?normal|institutional upper limit of normal|"
    r"upper normal limit)|(?P<lln>i?lln\b|lower limits? of (?:the )?(?:institutional )?normal))(?!\s*(?:x|×|times))")
_BARE_LIMIT_OPS = {"≤": "<=", "<=": "<=", "=<": "<=", "< or =": "<=", "<or=": "<=", "less than or equal to": "<=",
                   "</=": "<=", "< /=": "<=", "< / =": "<=", ">/=": ">=", "> /=": ">=", "> / =": ">=",
                   "less than/equal to": "<=", "less than / equal to": "<=", "greater than/equal to": ">=",
                   "greater than / equal to": ">=", "at or above": ">=", "greater than": ">", "more than": ">",
                   "higher than": ">", "less than": "<", "lower than": "<",
                   "not greater than": "<=", "not more than": "<=", "not higher than": "<=", "no greater than": "<=",
                   "no more than": "<=", "no higher than": "<=", "at or below": "<=", "≥": ">=", ">=": ">=",
                   "=>": ">=", "> or =": ">=", ">or=": ">=", "greater than or equal to": ">=", "at least": ">=",
                   "<": "<", "below": "<", "under": "<", ">": ">", "above": ">"}


_MEAS_STOP = frozenset(family_data("labs").cues.words("measurement_name_stop_words"))  # words trimmed off a measurement's name
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
        return _normal_atom(key)
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


_NORMAL_READS_AS = {side: family_data("labs").cues["normal_reads_as"][side] for side in ("upper", "lower", "both")}
_bad_normal = sorted({k for keys in _NORMAL_READS_AS.values() for k in keys} - set(analyte_vocabulary()))
if _bad_normal:
    raise ValueError(f"labs.json: cues.normal_reads_as names analytes not in the analyte vocabulary: {_bad_normal}")
del _bad_normal


def _normal_atom(key: str):
    """"Bilirubin normal", "PT within normal limits": the analyte's normal range as thresholds on its
    limits, by the side that matters for it (``cues.normal_reads_as`` of labs.json: "upper" ≤ 1 × ULN,
    "lower" ≥ 1 × LLN, "both"); an analyte not listed there: None (not compiled)."""
    side = next((s for s, keys in _NORMAL_READS_AS.items() if key in keys), None)
    if side is None:
        return None
    upper = LabThreshold(analyte=key, comparator="<=", uln_multiple=1.0)
    lower = LabThreshold(analyte=key, comparator=">=", lln_multiple=1.0)
    return upper if side == "upper" else lower if side == "lower" else AllOf(items=[lower, upper])


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


register("labs", "labs", _labs)
register("labs", "measurements", lambda c, t: _measurements(t, c.atoms), takes="clause")
