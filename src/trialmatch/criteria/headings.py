"""Labels and section headings written as list items: which lines are not criteria of their own.

Two layouts put a line in a criteria list that only names what follows:

* a label whose value is the next line (PDQ-style lists: "Age" / "18 and over", "Total bilirubin:" /
  "<= 1.5 x ULN"): :func:`value_labels` pairs the value with its label, so the compiler reads
  "Age 18 and over" (a typed check), and :func:`demote_labels` marks the label itself as a heading;
* a section heading with no words of a requirement ("Hematologic", "Renal:", "Inclusion Criteria
  Phase 1", "Concomitant Medications"), a label whose content is a placeholder ("Biologic therapy" /
  "Not specified"), or a sentence that only introduces the items after it ("Subject has any of the
  following cardiac abnormalities"): the lines after it carry the checks;
* a line of a formula ("Creatinine clearance for females = 0.85 x male value"): not a requirement.

The label words and the words a bare value may hold are data: ``section_labels``,
``section_label_prefixes``, ``section_label_suffixes`` and ``value_words`` under ``"cues"`` in ``extractors/data/confirm.json``.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.registry import family_data
from trialmatch.criteria.extractors.common import _negated
from trialmatch.criteria.model import CumulativeDose, Criterion, Not, iter_atoms

__all__ = ["demote_labels", "is_formula", "is_list_intro", "is_section_label", "negate_dose_items", "value_labels"]

_CUES = family_data("confirm").cues
_SECTION_LABELS = frozenset(_CUES.words("section_labels"))
_LABEL_SUFFIX = re.compile(r"(?i)\s+(?:" + "|".join(map(re.escape, _CUES.words("section_label_suffixes"))) + r")$")
_VALUE_WORDS = frozenset(_CUES.words("value_words"))
_PHASE_TAIL = re.compile(r"(?i)\s*(?:\(\s*)?(?:for\s+)?(?:phases?|parts?|cohorts?|arms?|stages?|steps?)\s+"
                         r"[\w-]+(?:\s*(?:,|and|&|/|-)\s*[\w-]+)*(?:\s+(?:portions?|only))?\s*\)?$")
_LABEL_SHAPE = re.compile(r"^[A-Za-z][A-Za-z /&,'-]*$")
_SECTION_PREFIXES = tuple(_CUES.words("section_label_prefixes"))
# a sentence that only introduces the items after it: "Any potential patient who meets any of the following criteria
# has to be excluded", "Subject has any of the following cardiac abnormalities" (exclusions: any item excludes, as a
# flat list does), "... satisfies all the conditions below" (inclusions: every item is required, as a flat list is)
_INTRO = re.compile(r"(?i)\b(?:meet(?:s|ing)?|satisf(?:y|ies|ying)|ha(?:s|ve)|with|of)\s+(?P<q>any|all|each)\s+(?:one\s+)?"
                    r"(?:or\s+more\s+)?(?:of\s+)?(?:the|these)\s+(?:following|below)\b|\b(?P<q2>any|all)\s+of\s+the\s+below\b")
_INTRO_SECTION = re.compile(r"(?i)\b(?:following|below)\s+(?:exclusion|inclusion)\s+criteria\s+(?:are|is)\s+(?:not\s+)?eligible\b")
# a formula or a definition line of a calculation ("Creatinine clearance for females = 0.85 x male value",
# "(140 - age [yrs]) (body wt [kg])", "The creatinine clearance is determined by the Cockcroft-Gault formula:")
_FORMULA = re.compile(r"(?i)(?:^\W*\(?\s*\d+\s*-\s*age\b|(?<![<>≤≥=/])=\s*(?:\d|[—–-]{3,})|\b(?:equation|formula)\s*:?\s*$|"
                      r"^\W*\(\s*\d+\s*\)\s*\(|^\W*[†‡*]\s*\w[^.]{0,60}\b(?:calculated|defined as)\b)")


def _label_words(text: str) -> str | None:
    """The words of a short label ("Hematologic", "Age:", "Inclusion Criteria Phase 1"), lower-cased
    with the phase or cohort tail and a trailing ":" removed; None when the text is not label-shaped."""
    t = re.sub(r"\s+", " ", text.strip(" \t\n-*•.;")).rstrip(":").strip()
    t = _PHASE_TAIL.sub("", t).strip()
    t = re.sub(r"\s*\([^()]{0,40}\)\s*", " ", t).strip()  # "System (Laboratory Values)"
    if not t or len(t) > 50 or len(t.split()) > 6 or not _LABEL_SHAPE.match(t):
        return None
    return t.lower()


def is_section_label(text: str) -> bool:
    """A line that is only a section heading ("Hematologic", "Renal:", "Exclusion Criteria (Phases 1
    and 2)", "Concomitant Medications"): no requirement of its own."""
    words = _label_words(text)
    if words is None:
        return False
    words = _LABEL_SUFFIX.sub("", words)
    return words in _SECTION_LABELS or words.startswith(_SECTION_PREFIXES)


def is_list_intro(text: str, kind: str) -> bool:
    """A sentence with no check of its own that introduces the items after it (no number in it: a window
    such as "within the past 6 months:" belongs to its items and is not dropped)."""
    if re.search(r"\d", text) or len(text) > 160:
        return False
    if _INTRO_SECTION.search(text):
        return True
    m = _INTRO.search(text)
    if m is None:
        return False
    q = (m.group("q") or m.group("q2")).lower()
    return q == "any" and kind == "exclusion" or q in ("all", "each") and kind == "inclusion"


_COHORT_WORD = re.compile(r"(?i)\b(?:part|cohort|arm|phase|stage|step|group|portion)s?\b")


def _is_colon_intro(text: str, kind: str) -> bool:
    """A line ending with ":" that compiled to nothing, with no number (a window belongs to its items) and,
    for an inclusion, no word of alternatives ("one of", "either"): its items, listed flat after it, carry
    the checks as a flat list does."""
    t = text.strip()
    if not t.endswith(":") or len(t) > 120 or re.search(r"\d", t) or _COHORT_WORD.search(t):
        return False  # a cohort heading ("Part B (dose expansion):") is the structure stage's
    return kind == "exclusion" or not re.search(r"(?i)\b(?:one|either|any)\s+of\b|\bat\s+least\b|\bor\b", t)


def is_formula(text: str) -> bool:
    """A line of a formula or the definition of a calculation, not a requirement."""
    return len(text) <= 120 and _FORMULA.search(text.strip()) is not None


def _is_bare_value(text: str) -> bool:
    """A line that is only a value ("18 and over", "<= 1.5 x ULN", ">= 1.5 x 10^9/L", "60 mL/min"):
    a number, comparators and unit or bound words, nothing naming what is measured."""
    t = text.strip()
    if not re.search(r"\d", t) or len(t) > 60:
        return False
    words = re.findall(r"[^\W\d_]+", t.lower())
    return all(w in _VALUE_WORDS for w in words)


def value_labels(splits) -> dict[str, str]:
    """Criterion id -> the label to read it with, for a bare value right after a childless label
    ("Age" / "18 and over"): the label is the line before it in the list, at its level or above. The
    compiler uses it only for a value that compiles to nothing alone ("Over 18 years" needs no label)."""
    out: dict[str, str] = {}
    for prev, sc in zip(splits, splits[1:]):
        if prev.children or sc.alternatives or prev.kind != sc.kind or not _is_bare_value(sc.text):
            continue
        if not _at_or_above(sc.parent, prev.parent, splits):
            continue  # the value at the label's level or above ("Age" the last item of a sub-list, PDQ layout)
        words = _label_words(prev.text)
        if words is not None and not re.search(r"\d", prev.text):
            out[sc.id] = prev.text.strip(" \t\n-*•.;").rstrip(":").strip()
    return out


def _at_or_above(parent: str | None, label_parent: str | None, splits) -> bool:
    """Is ``parent`` the label's parent or one of its ancestors (None: the top level)?"""
    parents = {sc.id: sc.parent for sc in splits}
    p = label_parent
    while True:
        if p == parent:
            return True
        if p is None:
            return False
        p = parents.get(p)


def demote_labels(crits: list[Criterion], read_with_label: set[str]) -> None:
    """Mark as headings the labels whose value line was read with them (``read_with_label``: the ids of
    the values, which compiled only with their label), and the section headings written as items; only
    criteria that compiled to nothing (unsupported) and have no sub-criteria."""
    parents = {c.parent for c in crits if c.parent is not None}
    order = [c.id for c in crits]
    label_ids = {order[order.index(cid) - 1] for cid in read_with_label if order.index(cid) > 0}
    for i, c in enumerate(crits):
        if c.status != "unsupported" or c.id in parents:
            continue
        if c.id in label_ids:
            c.expression, c.status = None, "compiled"
            c.reason = f"a label: its value is the next line ({crits[i + 1].id}), read with it"
        elif i + 1 < len(crits) and is_section_label(c.text):
            c.expression, c.status = None, "compiled"
            c.reason = "section heading: the criteria that follow carry the checks"
        elif i + 1 < len(crits) and (crits[i + 1].reason or "").startswith("not a criterion: placeholder") \
                and _label_words(c.text) is not None and len(c.text.split()) <= 4:
            c.expression, c.status = None, "compiled"  # PDQ "Biologic therapy" / "Not specified"
            c.reason = f"a label whose content is a placeholder ({crits[i + 1].id})"
        elif i + 1 < len(crits) and (crits[i + 1].kind == c.kind or _INTRO_SECTION.search(c.text)) \
                and is_list_intro(c.text, c.kind):
            c.expression, c.status = None, "compiled"
            c.reason = "introduces the criteria that follow, which carry the checks"
        elif is_formula(c.text):
            c.expression, c.status = None, "compiled"
            c.reason = "not a criterion: a formula or the definition of a calculation"
        elif i + 1 < len(crits) and crits[i + 1].kind == c.kind and crits[i + 1].parent == c.parent \
                and _is_colon_intro(c.text, c.kind):
            c.expression, c.status = None, "compiled"  # "Adequate bone marrow as evidenced by:" over flat items
            c.reason = "introduces the criteria that follow, which carry the checks"


def negate_dose_items(crits: list[Criterion]) -> None:
    """Inclusion items that are only cumulative-dose limits under a negated heading ("No prior therapy with
    anthracyclines exceeding the following doses:" / "Doxorubicin > 450 mg/m^2"): the heading's "no" applies to
    each item (she must not have had more than that dose)."""
    by_id = {c.id: c for c in crits}
    for c in crits:
        head = by_id.get(c.parent) if c.parent else None
        if c.kind != "inclusion" or head is None or c.expression is None or not _negated(head.text):
            continue
        atoms = list(iter_atoms(c.expression))
        if atoms and all(isinstance(a, CumulativeDose) for a in atoms):
            c.expression = Not(item=c.expression)
            c.reason = f"under the negated heading {head.id}: none of these doses"
