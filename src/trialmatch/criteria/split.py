"""Split eligibility text into criteria, one per requirement, with nesting and exact spans.

Handles "Inclusion Criteria:" / "Exclusion Criteria:" headers (any case, with or without a
colon, also "Who Can Join" / "Who Cannot Join"), bullets (``-``, ``*``, ``•``, ``–``, ``1.``,
``1)``, ``a)``, roman numerals), nested lists (deeper indent, a different bullet type, or a
parent line ending with ":"), wrapped lines (a line continuing the previous criterion), several
"; "-separated requirements in one bullet (one child per requirement), and population prose
("postmenopausal women with HR-positive, HER2-negative, AI-resistant mBC": one child per check).
Sibling lines joined by a trailing "or" / "and/or" ("Small lymphocytic lymphoma or" / "Mantle cell
lymphoma"), by a leading "Or" on the second line ("Or patients with HR+ ..."), or separated by a line that
is only "OR", are ONE criterion: its span covers all the
lines (bullets between them included) and ``alternatives`` holds each line's own span; the compiler
makes it ``AnyOf`` of the lines (chosen over an "any of" header with children because the matcher
evaluates every child on its own).

Every :class:`SplitCriterion` satisfies ``text == source[span[0]:span[1]]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trialmatch.criteria.rules import folded_text

__all__ = ["SplitCriterion", "split_criteria", "split_prose"]


@dataclass
class SplitCriterion:
    """One requirement as written: ``text == source[span[0]:span[1]]``."""

    id: str
    kind: str  # "inclusion" | "exclusion"
    text: str
    span: tuple[int, int]
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    #: spans of the alternatives of a criterion joined from sibling lines ending in "or" ("Small
    #: lymphocytic lymphoma or" / "Mantle cell lymphoma"): the criterion holds when any holds
    alternatives: list[tuple[int, int]] = field(default_factory=list)


_HEADER_RE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:key\s+|main\s+|general\s+|major\s+)?"
    r"(?P<kind>inclusion|exclusion|eligibility|who\s+can\s+join|who\s+cannot\s+join|who\s+can\s*not\s+join|"
    r"who\s+can\s+take\s+part|who\s+cannot\s+take\s+part|ineligibility|non-?inclusion)"
    r"(?:\s+(?:criteria|criterion|requirements))?(?:\s+(?:the\s+)?(?:study|trial))?"
    r"(?:\s+for\s+[\w\s]{1,40}?)?\s*\??\s*(?::|-|\.)?\s*",
    re.IGNORECASE,
)
_BULLET_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<marker>(?:[-*•·▪◦‣–—o](?=\s))|(?:[•·▪◦‣–—])|(?:\(?\d{1,2}[.)](?!\d))|(?:\(?[a-z][.)](?=\s))|"
    r"(?:\(?(?:i{1,3}|iv|v|vi{1,3}|ix|x)[.)](?=\s)))(?P<more>(?:\s*[-*•·▪◦‣–—](?=\s))*)\s*",
    re.IGNORECASE,
)


# Speed: cheap pre-checks for the two patterns tried on every line (most lines are neither)
_MARKER_START = frozenset("-*•·▪◦‣–—(")


def _maybe_bullet(line: str) -> bool:
    """False only when ``_BULLET_RE.match(line)`` cannot match: after the indent, a marker starts with a
    symbol, "(", a digit, or a letter that is followed by "." / ")" (alphabetic), is a roman numeral's
    (i, v, x) or is the "o" bullet; other text (a non-ASCII letter) is left to the regex."""
    s = line.lstrip(" \t")
    c = s[:1]
    if not c or c in _MARKER_START or c.isdecimal() or not c.isascii() or not c.isalpha():
        return True
    return s[1:2] in (".", ")") or c in "ivxIVXoO"


_HEADER_WORDS = ("inclusion", "exclusion", "eligib", "who")  # one of these is in every header _HEADER_RE reads


def _maybe_header(content: str) -> bool:
    """False only when ``_HEADER_RE.match(content)`` cannot match (see ``rules.folded_text``)."""
    tl = folded_text(content)
    return tl is None or any(w in tl for w in _HEADER_WORDS)


def _marker_type(marker: str) -> str:
    m = marker.strip("()").rstrip(".)")
    if marker[0] in "-–—":
        return "dash" if marker[0] == "-" else "endash"
    if marker[0] == "*":
        return "star"
    if marker[0] in "•·▪◦‣o":
        return "bullet"
    if m.isdigit():
        return "num"
    if re.fullmatch(r"(?i)i{1,3}|iv|v|vi{1,3}|ix|x", m):
        return "roman"
    return "alpha"


@dataclass
class _Line:
    start: int  # offset of the content (after bullet)
    end: int  # end of content (stripped)
    indent: int
    marker: str | None
    doubled: bool
    blank: bool
    raw_len: int
    content_col: int = 0


def _lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            out.append(_Line(pos, pos, 0, None, False, True, 0))
        else:
            m = _BULLET_RE.match(line) if _maybe_bullet(line) else None
            if m and m.end() < len(line.rstrip()):
                content_start = pos + m.end()
                marker = m.group("marker")
                doubled = bool(m.group("more"))
                indent = len(m.group("indent").expandtabs(4))
            else:
                content_start = pos + (len(line) - len(line.lstrip()))
                marker = None
                doubled = False
                indent = len(line) - len(line.lstrip())
            content_end = pos + len(line.rstrip())
            out.append(_Line(content_start, content_end, indent, marker, doubled, False, len(line.rstrip()),
                             content_start - pos))
        pos += len(raw)
    return out


_SEMI_SPLIT_RE = re.compile(r";\s*")
_CMP_HINT = re.compile(r"(≥|≤|>|<|=|at least|no more than|less than|more than|\d)")
_TIME_VALUE_START = re.compile(r"(?i)\s*(?:≥|>=|\\?>|at\s+least|more\s+than|a\s+minimum\s+of|minimum)?\s*\d+(?:\.\d+)?\s*"
                               r"(?:days?|weeks?|wks?|months?|years?)\b")
_CMP_STRICT = re.compile(r"(≥|≤|>|<|=|\bULN\b|upper limit of normal)", re.IGNORECASE)


def _split_semicolons(text: str, start: int) -> list[tuple[int, int]]:
    """Sub-spans of a bullet holding several "; "-separated requirements (else [])."""
    if ";" not in text:
        return []  # one part only (the common case: the split below would find nothing)
    head_end = 0
    colon = text.find(":")
    if 0 < colon < len(text) - 1:
        head_end = colon + 1
    body = text[head_end:]
    parts = []
    pos = head_end
    for piece in re.split(r"(;)", body):
        if piece == ";":
            pos += 1
            continue
        lead = len(piece) - len(piece.lstrip())
        s, e = pos + lead, pos + len(piece.rstrip())
        if e > s:
            parts.append((s, e))
        pos += len(piece)
    if len(parts) < 2:
        return []
    if head_end and _TIME_VALUE_START.match(text[parts[0][0]:parts[0][1]]):
        # "Chemotherapy: ≥2 weeks or 5 half-lives; ≥6 weeks for nitrosoureas": the times are the washout of
        # the therapy named before the colon, one requirement (split, the parts would lose what they time)
        return []
    if head_end == 0 and not all(_CMP_STRICT.search(text[s:e]) for s, e in parts):
        return []
    if head_end and sum(bool(_CMP_HINT.search(text[s:e])) for s, e in parts) < 2:
        return []
    return [(start + s, start + e) for s, e in parts]


def _strip_span(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in " \t\r\n":
        s += 1
    while e > s and text[e - 1] in " \t\r\n;,":
        e -= 1
    return s, e


_ENDS_OR = re.compile(r"(?i)(?:^|\W)(?:or|and/or|and or|or/and)\W*$")
_ONLY_OR = re.compile(r"(?i)^\W*(?:or|and/or)\W*$")
# a sibling that opens with "Or" ("Triple negative breast cancer ..." / "Or patients with HR+/HER2- breast cancer ..."):
# the alternative of the line before it
_STARTS_OR = re.compile(r"(?i)or\s+(?!more\b|less\b|fewer\b|equal\b|greater\b)(?=\w)")


def _ends_with_or(seg: str) -> bool:
    """``_ENDS_OR.search(seg)``, looking at the end of ``seg`` only. A match runs to the end of the text
    (``\\W*$``) and its "or" / "and/or" ends with a letter, so it ends right after ``seg``'s last word
    character and starts at most 7 characters before that ("and/or" and the non-word character before)."""
    end = len(seg)
    while end and not (seg[end - 1].isalnum() or seg[end - 1] == "_"):  # re's \w: str.isalnum() or "_"
        end -= 1
    return _ENDS_OR.search(seg, max(0, end - 7)) is not None


def _join_alternatives(text: str, items: list[dict]) -> list[dict]:
    """Join a line ending in "or" ("Biopsy-proven small lymphocytic lymphoma or") with its next
    sibling (same kind, indent and bullet type) into one criterion whose span covers both lines and
    whose ``alts`` are the lines' own spans; a line that is only "OR" joins its two neighbours.
    Chains ("A or" / "B or" / "C") join into one criterion."""
    out: list[dict] = []
    i = 0
    while i < len(items):
        it = items[i]
        cur = dict(it)
        cur.setdefault("alts", [])
        while i + 1 < len(items):
            nxt = items[i + 1]
            seg = text[cur["start"]:cur["end"]] if not cur["alts"] else text[cur["alts"][-1][0]:cur["alts"][-1][1]]
            only_or = i + 2 < len(items) and _ONLY_OR.match(text[nxt["start"]:nxt["end"]])
            if only_or:
                nxt2 = items[i + 2]
                if nxt2["kind"] != cur["kind"] or nxt2["indent"] != cur["indent"] or nxt2["mtype"] != cur["mtype"]:
                    break
                if not cur["alts"]:
                    cur["alts"] = [(cur["start"], cur["end"])]
                cur["alts"].append((nxt2["start"], nxt2["end"]))
                cur["end"] = nxt2["end"]
                i += 2
                continue
            starts_or = _STARTS_OR.match(text, nxt["start"], nxt["end"]) is not None and not _ONLY_OR.match(
                text[nxt["start"]:nxt["end"]])
            if _ONLY_OR.match(seg) or not (_ends_with_or(seg) or starts_or):
                break
            if nxt["kind"] != cur["kind"] or nxt["indent"] != cur["indent"] or nxt["mtype"] != cur["mtype"] \
                    or _ENDS_OR.fullmatch(text[nxt["start"]:nxt["end"]]):
                break
            if not cur["alts"]:
                cur["alts"] = [(cur["start"], cur["end"])]
            cur["alts"].append((nxt["start"], nxt["end"]))
            cur["end"] = nxt["end"]
            i += 1
        out.append(cur)
        i += 1
    return out


_LIST_INTRO_END = re.compile(r"(?i)(following|as follows|including|defined as)\s*:?$")


def _ends_with_list_intro(t: str) -> bool:
    """``_LIST_INTRO_END.search(t)`` for a right-stripped ``t`` that does not end with ":" (as used
    below): the match can only be the text's last 10 characters ("as follows" is the longest), so
    only those are searched rather than every position of a long criterion."""
    return _LIST_INTRO_END.search(t, max(0, len(t) - 10)) is not None


def split_criteria(text: str, default_kind: str = "inclusion") -> list[SplitCriterion]:
    """Split eligibility text into criteria.

    Parameters
    ----------
    text : str
        The criteria text as written.
    default_kind : str
        Kind of criteria before any header ("inclusion").

    Returns
    -------
    list of SplitCriterion
        In source order; ids "I1", "I1.2", "E3"; ``parent`` links nested criteria; a criterion
        with children keeps its full text (children's spans lie inside the parent's span when the
        children come from the same line).
    """
    if not text or not text.strip():
        return []
    lines = _lines(text)
    max_len = max((ln.raw_len for ln in lines if not ln.blank), default=0)
    # hard-wrapped text (registry exports wrap at a fixed width): several lines end near the maximum
    wrapped_style = sum(1 for ln in lines if not ln.blank and ln.raw_len >= max_len - 12) >= 3
    kind = default_kind
    # items: [start, end, indent, marker_type, kind, ends_colon]
    items: list[dict] = []
    prev: _Line | None = None
    prev_item_line: _Line | None = None
    for i, ln in enumerate(lines):
        if ln.blank:
            prev = ln
            continue
        content = text[ln.start:ln.end]
        hm = _HEADER_RE.match(content) if (ln.marker is None or len(content) < 60) and _maybe_header(content) else None
        # "Exclusion Criteria:" alone on its line, or followed by text ("Exclusion Criteria: All of the following
        # questions must be answered 'No'"): the colon may be followed by spaces the header pattern consumed
        # "Exclusion Criteria Subjects who meet any of the following criteria will be excluded ...:": the same,
        # with its introduction on the line
        if hm and (hm.end() >= len(content) or content[:hm.end()].rstrip().endswith(":") or (
                content.rstrip().endswith(":") and re.match(r"(?i)\W*(?:inclusion|exclusion)\s+criteria\b", content)
                and len(content[hm.end():].split()) >= 6)):
            word = hm.group("kind").lower()
            rest_start = ln.start + hm.end()
            if "exclu" in word or "cannot" in word or "can not" in word or "inelig" in word or "non" in word:
                kind = "exclusion"
            elif "inclu" in word or "can" in word:
                kind = "inclusion"
            prev = None
            prev_item_line = None
            if rest_start < ln.end and text[rest_start:ln.end].strip():
                s, e = _strip_span(text, rest_start, ln.end)
                items.append(dict(start=s, end=e, indent=ln.indent + 2, mtype=None, kind=kind, doubled=False))
                prev = ln
            continue
        continuation = False
        if ln.marker is None and prev is not None and not prev.blank and items:
            first = content[:1]
            prev_text = text[prev.start:prev.end]
            if first.islower() or first in "(&":
                continuation = True
            elif prev.marker is not None and ln.indent >= prev.content_col > prev.indent and not prev_text.endswith((":", ";")):
                continuation = True  # aligned under the previous bullet's text
            elif wrapped_style and prev.raw_len >= max(60, max_len - 20) and not prev_text.endswith((":", ".", ";")):
                continuation = True
        if continuation:
            items[-1]["end"] = ln.end
        else:
            mtype = _marker_type(ln.marker) if ln.marker else None
            s, e = _strip_span(text, ln.start, ln.end)
            if e > s:
                items.append(dict(start=s, end=e, indent=ln.indent, mtype=mtype, kind=kind, doubled=ln.doubled))
        prev = ln
        prev_item_line = ln
    items = _join_alternatives(text, items)
    # a doubled bullet ("• • Sign ...") is a flattened list start: it takes the next item's indent
    for j, it in enumerate(items):
        if it["doubled"] and j + 1 < len(items):
            it["indent"] = items[j + 1]["indent"]
    # nesting
    out: list[SplitCriterion] = []
    counters: dict[str, int] = {}
    stack: list[tuple[dict, SplitCriterion]] = []
    last_kind = None
    for it in items:
        s, e = _strip_span(text, it["start"], it["end"])
        if e <= s:
            continue
        if it["kind"] != last_kind:
            stack = []
            last_kind = it["kind"]
        if it["mtype"] is not None and len(stack) > 1:
            # "4." after an indented sub-list: a marker of the same type at the same indent as an open ancestor
            # resumes that ancestor's list (its sibling), however deep the sub-list was
            for j in range(len(stack) - 2, -1, -1):
                a_it = stack[j][0]
                if a_it["mtype"] == it["mtype"] and a_it["indent"] == it["indent"]:
                    stack = stack[:j + 1]
                    break
        while stack:
            p_it, p_sc = stack[-1]
            p_text = text[p_sc.span[0]:p_sc.span[1]]
            colon_parent = p_text.rstrip().endswith(":") or _ends_with_list_intro(p_text.rstrip())
            deeper = it["indent"] > p_it["indent"] and (it["mtype"] != p_it["mtype"] or colon_parent
                                                       or p_it["mtype"] is None)
            if colon_parent and (it["indent"] != p_it["indent"] or it["mtype"] != p_it["mtype"]):
                if it["mtype"] is None and p_it["mtype"] is None and it["indent"] <= p_it["indent"] and not colon_parent:
                    stack.pop()
                    continue
                break
            if deeper:
                break
            stack.pop()
        parent = stack[-1][1] if stack else None
        prefix = "I" if it["kind"] == "inclusion" else "E"
        if parent is None:
            counters[prefix] = counters.get(prefix, 0) + 1
            cid = f"{prefix}{counters[prefix]}"
        else:
            cid = f"{parent.id}.{len(parent.children) + 1}"
        sc = SplitCriterion(cid, it["kind"], text[s:e], (s, e), parent.id if parent else None,
                            alternatives=list(it.get("alts", ())))
        if parent is not None:
            parent.children.append(cid)
        out.append(sc)
        stack.append((it, sc))
        if sc.alternatives:
            continue  # its parts are its alternatives, not "; "-separated requirements
        # several "; "-separated requirements on one bullet
        for k, (cs, ce) in enumerate(_split_semicolons(text[s:e], s), start=1):
            cs, ce = _strip_span(text, cs, ce)
            child = SplitCriterion(f"{cid}.{k}", it["kind"], text[cs:ce], (cs, ce), cid)
            sc.children.append(child.id)
            out.append(child)
    return out


# ----------------------------------------------------------------------------- prose
_PROSE_CONCEPTS = [
    r"\b(?:pre|peri|post)-?menopausal\b",
    r"\b(?:hormone|estrogen|oestrogen|progesterone)[ -]receptor[ -](?:positive|negative|high[ -]expressed)\b",
    r"\b(?:HR|ER|PR)[ -]?(?:positive|negative|\+|-)(?=[\s,;)]|$)",
    r"\bhuman epidermal growth factor receptor[ -]?2[ -](?:positive|negative)\b",
    r"\bHER-?2[ -]?(?:positive|negative|\+|-)(?=[\s,;)]|$)",
    r"\b[\w/-]+[ -](?:resistant|refractory|pretreated)\b",
    r"\bprior exposure to [\w /-]+?(?=[,;:.]|$)",
    r"\b(?:locally advanced or metastatic|metastatic|advanced|locally advanced)\s+breast cancer\b",
    r"\bm?BC\b",
    r"\bstage\s+(?:IV|Ⅳ|III[ABC]?)\s+breast cancer\b",
]
_PROSE_RE = re.compile("|".join(f"(?:{p})" for p in _PROSE_CONCEPTS), re.IGNORECASE)


def split_prose(text: str, kind: str = "inclusion", prefix: str = "I") -> list[SplitCriterion]:
    """Criteria buried in prose: the sentence as a parent, one child per recognised check.

    "postmenopausal women with hormone receptor-positive, human epidermal growth factor
    receptor 2-negative, AI-resistant mBC" gives children "postmenopausal", "hormone
    receptor-positive", "human epidermal growth factor receptor 2-negative", "AI-resistant",
    "mBC".
    """
    s, e = _strip_span(text, 0, len(text))
    if e <= s:
        return []
    parent = SplitCriterion(f"{prefix}1", kind, text[s:e], (s, e), None)
    out = [parent]
    for m in _PROSE_RE.finditer(text, s, e):
        cid = f"{parent.id}.{len(parent.children) + 1}"
        parent.children.append(cid)
        out.append(SplitCriterion(cid, kind, m.group(0), (m.start(), m.end()), parent.id))
    return out
