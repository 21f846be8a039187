"""Sentences of a criterion that are no requirement of their own, and prohibitions among the exclusions.

Used by :mod:`trialmatch.criteria.compile`: :func:`without_non_requirement_sentences` drops, from a criterion of
several sentences, those after the first that define a word or allow rather than require;
:func:`exclusion_prohibition` tells an exclusion written as a prohibition ("Participants must not have received
X"), whose negation the exclusion itself already states.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.common import _NEG_LEAD

__all__ = ["exclusion_prohibition", "without_non_requirement_sentences"]

# sentences after the first that are no requirement: a definition ("for the purpose of this study, ..."), what is
# allowed ("HBsAg carriers may be eligible provided ...", "does NOT exclude"), and in an exclusion what a subgroup must
# have ("Patients with a positive HBsAg must have a negative viral load before each chemotherapy": the carve-out)
_PURPOSE_DEFINITION = re.compile(r"(?i)^\W*(?:however,?\s+|note:?\s+)?for\s+(?:the\s+)?purposes?\s+of\s+(?:this|the)\s+"
                                 r"(?:study|trial|protocol)\b(?![^.;]*\b(?:must|should|required|will\s+be\s+excluded|eligible)\b)")
_ALLOWING_SENTENCE = re.compile(r"(?i)\b(?:may|can|could|will|would)\s+(?:still\s+)?be\s+(?:eligible|allowed|permitted|"
                                r"included|enrolled)\b|\bdo(?:es)?\s+not\s+exclude\b|\b(?:is|are)\s+(?:eligible|allowed|permitted)\b")
# a first sentence that only says what she may have had, before the requirement ("Patients may have received
# non-anthracycline based adjuvant chemotherapy, completed ... Patients must not have had previous chemotherapy ...")
_MAY_HAVE_RECEIVED = re.compile(r"(?i)^\W*(?:(?:patients?|participants?|subjects?|women)\s+)?(?:may|can|could)\s+have\s+"
                                r"(?:received|had|undergone|been\s+treated)\b")
_SUBGROUP_MUST = re.compile(r"(?i)^\W*(?:patients?|subjects?|participants?|those)\s+(?:with|who)\b[^.;]{0,100}?\bmust\b")


def without_non_requirement_sentences(t: str, kind: str) -> str | None:
    """``t`` without the sentences after its first that are definitions (``_DEFINITION``: "Females of childbearing
    potential are defined as ...") or allow rather than require (see above), and without a first sentence that only
    says what she may have had (``_MAY_HAVE_RECEIVED``); None when none is dropped (or nothing would be left)."""
    from trialmatch.criteria.compile import _DEFINITION, _SENTENCE_SPLIT  # the compiler imports this module

    sentences = [x for x in _SENTENCE_SPLIT.split(t) if x.strip()]
    kept = [x for i, x in enumerate(sentences) if not _MAY_HAVE_RECEIVED.match(x) if i == 0 or not (_PURPOSE_DEFINITION.match(x) or (
        (m := _DEFINITION.match(x)) and not _NEG_LEAD.match(m.group("head"))
        and not re.search(r"(?i)\b(?:must|should|if|unless|patients?\s+with)\b", m.group("head")) and not _measured(x))
        or _ALLOWING_SENTENCE.search(x) or (kind == "exclusion" and _SUBGROUP_MUST.match(x)))]
    return " ".join(kept) if len(kept) < len(sentences) and kept else None


def _measured(sentence: str) -> bool:
    """Does the sentence hold a measured value or a comparison ("CST > 300 microns", "+3 or more by dipstick")? A definition
    with one gives the required condition its threshold ("CI-DME will be defined as CST > 300 microns"): kept."""
    from trialmatch.criteria.quantities import find_quantities

    return any(q.time_unit is None and (q.unit_text or q.op) and not _TIME_AFTER.match(sentence, q.end)
               for q in find_quantities(sentence))


_TIME_AFTER = re.compile(r"(?i)\s*(?:days?|weeks?|months?|years?)\b")  # "12 or more months": a duration


# "Participants must not have received nitrosoureas within 42 days" listed among the exclusions: the exclusion is
# the thing prohibited (a Not would exclude every patient who did NOT receive it)
_PROHIBITION = re.compile(r"(?i)^\W*(?:(?:the\s+)?(?:patients?|subjects?|participants?|women|men)\s+)?"
                          r"(?:must|should|shall|may|can)\s*(?:not|n't)\s+(?:have|be|receive|take|undergo|use)\b"
                          # "No immunosuppressant therapy", "No active brain metastases" listed among the exclusions:
                          # the leading "No" repeats the exclusion's own negation (not "No more than 3 regimens")
                          r"|^\W*no\s+(?!(?:more|less|fewer|greater|later|longer|sooner|earlier)\s+than\b)"
                          # "Nitrosoureas must be discontinued 6 weeks prior to Cycle 1 Day 1": the drug is prohibited
                          r"|^\W*[^.;:]{1,80}?\bmust\s+(?:have\s+)?(?:be(?:en)?\s+)?(?:discontinued|stopped)\b")


def exclusion_prohibition(t: str) -> bool:
    """Is the exclusion ``t`` written as a prohibition ("must not have received ...", "No X", "X must be discontinued
    ... prior")?"""
    return _PROHIBITION.match(t) is not None
