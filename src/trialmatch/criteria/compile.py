"""Compile eligibility criteria text into typed expressions (:mod:`trialmatch.criteria.model`).

Pipeline: :func:`~trialmatch.criteria.split.split_criteria` -> for each criterion, clause
splitting on ", or" -> concept extractors (regex first, vocabularies from ``vocab/data``) ->
an expression. The extractors are registered per family in ``criteria/extractors/`` (their gate
words, atom kinds and cue tables in ``extractors/data/<family>.json``); one clause is read by
:func:`trialmatch.criteria.clause.compile_clause`, which runs them in the order and under the
rules of the one arbitration table, ``criteria/arbitration.py``. This module keeps the criterion
and trial levels. Rules of combination:

* several atoms from one clause: inclusion -> ``AllOf``, exclusion -> ``AnyOf`` (an exclusion
  "A, B or C" excludes on any of them); lab alternatives joined by "or" -> ``AnyOf``;
* clauses joined by ", or" -> ``AnyOf``;
* a leading negation ("no", "without", "must not have") wraps non-numeric atoms in ``Not``;
  "no more than" / "not less than" are comparators, not negations;
* a clause with no atom -> ``Unsupported(reason)``.

Status rule: ``unsupported`` when any atom is ``Unsupported`` (every clause is treated as
essential); ``needs_confirmation`` when every atom is ``NeedsConfirmation``; else ``compiled``
(confirmation atoms inside a compiled criterion evaluate to "confirm" in the matcher). A parent
whose own text compiles to nothing but has children is a header (expression None, compiled).

Not criteria: placeholder lines ("Not specified", "See Disease Characteristics", "-", "The above
information is not intended to contain all considerations ...") and section headings with no
check of their own ("PRIOR CONCURRENT THERAPY:") are kept as header-like entries (expression None,
status compiled, a reason that says so), never compiled into a check; "Other protocol-defined
criteria may apply" needs a person (NeedsConfirmation). A requirement without a threshold
("adequate organ function", "normal or near-normal liver and kidney function") is
NeedsConfirmation with the reason "no defined threshold".

Speed: identical criterion texts compile once per process (an LRU cache on ``(text, kind)``;
callers get deep copies); vocabulary regexes are prefix tries (``rules.phrase_regex``); each family
of cue regexes sits behind one combined pre-check; the hot path skips pydantic validation of
already-typed nodes (``model_construct``). The case-insensitive regexes that scan whole clauses run
as ``rules.FoldedPattern`` (case-sensitive on the lower-cased text: the same matches, found about
twice as fast), and several sit behind a substring pre-check on words every match must hold
(``_may_match``). All of these leave the output unchanged.

Negation scope uses the regex cues here rather than medspacy/negspacy: a spaCy pipeline costs
milliseconds per criterion (measured: about 4 ms CPU per criterion for medspacy's sentence
splitter, target matcher and ConText on a blank English model, i.e. about 400 s for the ~99,000
HINT criteria, against a 60 s budget for everything), and criteria negate almost always at the start ("No ...", "Must not
have ..."), which ``_NEG_LEAD`` covers.

Generic conditions: "History of X" / "Patients with X" / "Known X" compile to
``Condition(condition=<conditions.json key>)`` when X is in the vocabulary, else to the cleaned
noun phrase (1-6 words, letters only); the matcher fuzzy-matches that phrase.
"""

from __future__ import annotations

import re
from functools import cache
from functools import lru_cache
from pydantic import BaseModel

from trialmatch.criteria.clause import compile_clause
from trialmatch.criteria.extractors.common import (
    NUM, TIME, _NEG_LEAD, _SEP_RUN, _STOP, _VAGUE_HEADS, _any, _dur, _has_any, _negated,
)
from trialmatch.criteria.extractors.confirm import (NOT_A_REQUIREMENT_REASONS, _PLACEHOLDER, _is_permission,
                                                     _maybe_placeholder)
from trialmatch.criteria.symbols import normalise_operators
from trialmatch.criteria.extractors.person import _age, _age_gate
from trialmatch.criteria.extractors.therapy import _FREE_AGENT_STOP
from trialmatch.criteria.headings import demote_labels, negate_dose_items, value_labels
from trialmatch.criteria.model import (
    Age, AllOf, Allergy, AnyOf, CompiledCriteria, ConcomitantMedication, Condition, Criterion, Diagnosis, DiseaseExtent,
    Except, IfThen, LabThreshold, LifeExpectancy, Measurement, MenopausalStatus, Metastasis, NeedsConfirmation, Not,
    PerformanceStatus, Pregnancy, PriorTherapy, Range, Sex, Unsupported, iter_atoms,
)
from trialmatch.criteria.rules import vocab_regexes
from trialmatch.criteria.sentences import exclusion_prohibition, without_non_requirement_sentences
from trialmatch.criteria.split import SplitCriterion, split_criteria, split_prose
from trialmatch.criteria.structure import (
    _ANY_OF_HEAD, _alternative_lists, _exclusive_statuses_as_alternatives, _listed_exceptions, _treated_or_ineligible_lists,
)

__all__ = ["COMPILER_VERSION", "compile_criteria", "compile_text", "compile_criterion_text"]

COMPILER_VERSION = "0.9.0"


_NUMERIC_KINDS = (Age, LabThreshold, PerformanceStatus, LifeExpectancy, Measurement)


_compile_clause = compile_clause  # one clause -> atoms: the registered extractors (criteria/clause.py)


def _combine(atoms: list, kind: str, t: str):
    if not atoms:
        return None
    if len(atoms) == 1:
        return atoms[0]
    if kind == "exclusion":
        return AnyOf(items=atoms)
    atoms = _exclusive_statuses_as_alternatives(atoms)
    atoms = _site_carries_extent(atoms)
    return atoms[0] if len(atoms) == 1 else AllOf(items=atoms)


def _site_carries_extent(atoms: list) -> list:
    """"Breast cancer that has metastasized to the brain", "metastatic breast cancer with brain metastases": the
    metastases at the named site are the requirement, and they make the disease metastatic; the extent beside them
    says nothing more, and it would decide on the staging of other sites (a locally advanced cancer whose brain was
    never imaged is not known to lack brain metastases)."""
    sites = [a for a in atoms if isinstance(a, Metastasis) and not a.only and a.site.lower() != "multiple"]
    if not sites:
        return atoms
    out = [a for a in atoms if not (isinstance(a, DiseaseExtent) and list(a.allowed) == ["metastatic"] and not a.stages)]
    return out if out else atoms


def _apply_negation(expr, t: str):
    if expr is None or not _negated(t):
        return expr
    if isinstance(expr, _NUMERIC_KINDS) or isinstance(expr, (NeedsConfirmation, Unsupported)):
        return expr
    if isinstance(expr, PriorTherapy) and expr.lines.high is not None:
        return expr
    if isinstance(expr, (AllOf, AnyOf)):
        if any(isinstance(a, _NUMERIC_KINDS) for a in expr.items):
            return expr
        if any(isinstance(a, Not) and isinstance(a.item, Pregnancy) for a in expr.items):
            return expr  # "must not be pregnant or breastfeeding": the extractor negated each state already
        # "no A, B or C" -> none of them
        return Not(item=AnyOf(items=expr.items))
    if isinstance(expr, Pregnancy) or isinstance(expr, Not):
        return expr if isinstance(expr, Not) else Not(item=expr)
    return Not(item=expr)


_CLAUSE_OR = re.compile(r",\s*or\s+(?=(?:the\s+)?(?:patient|disease|subject|have|has|had|any|if|when|previous|prior|participants?|known|on\s+(?:one|two|three|a|an|\d|at least)\b|(?!actively\s)[a-z]+\s+(?:progress|relapse|after)))|;\s*or\s+", re.IGNORECASE)


def _split_or(t: str) -> list[str]:
    """``t`` split at its ``_CLAUSE_OR`` separators, except inside a bracket that ends the criterion: such an "or"
    lists the bracket's own examples ("after previous CNS-directed therapy (radiation therapy, surgery, or any
    combination of therapy)"), not another requirement."""
    if not t.rstrip(" .;").endswith(")"):
        return _CLAUSE_OR.split(t)
    end = len(t.rstrip(" .;")) - 1
    depth, open_at = 0, None
    for i in range(end, -1, -1):  # the bracket that closes at the end: where it opens
        depth += {")": 1, "(": -1}.get(t[i], 0)
        if depth == 0:
            open_at = i
            break
    parts, start = [], 0
    for m in _CLAUSE_OR.finditer(t):
        if open_at is not None and m.start() > open_at:
            continue
        parts.append(t[start:m.start()])
        start = m.end()
    parts.append(t[start:])
    return parts


def compile_criterion_text(text: str, kind: str = "inclusion"):
    """Compile one criterion's text.

    Identical texts compile once per process (criteria such as "Pregnant or breastfeeding" recur
    across thousands of trials): results are cached by ``(text, kind)`` and every call gets its
    own deep copy, so a caller that edits the expression cannot change what later calls get.

    Returns
    -------
    tuple
        ``(expression or None, status, reason)`` following the module's status rule.
    """
    expr, status, reason = _compile_criterion_cached(normalise_operators(text.strip()), kind)
    return (_clone(expr) if expr is not None else None), status, reason


def _clone(x):
    """Deep copy of an expression tree: nodes, their lists and nested models (ranges, durations) are
    new objects; strings and numbers are shared (immutable). Several times faster than
    ``model_copy(deep=True)``, which goes through :func:`copy.deepcopy` for every value."""
    if isinstance(x, list):
        return [_clone(v) for v in x]
    if not isinstance(x, BaseModel):
        return x
    # what ``BaseModel.__copy__`` does, without its generic handling of private attributes (the
    # expression nodes have none): a new __dict__ (nested nodes and lists cloned) and fields-set
    cls = x.__class__
    new = cls.__new__(cls)
    d = {}
    for k, v in x.__dict__.items():
        d[k] = _clone(v) if isinstance(v, (list, BaseModel)) else v
    _SET(new, "__dict__", d)
    _SET(new, "__pydantic_fields_set__", set(x.__pydantic_fields_set__))
    extra = x.__pydantic_extra__
    _SET(new, "__pydantic_extra__", None if extra is None else dict(extra))
    private = x.__pydantic_private__
    _SET(new, "__pydantic_private__", None if private is None else dict(private))
    return new


_SET = object.__setattr__


# a definition ("Women are considered postmenopausal when >= 54 years", "Childbearing potential is
# defined as ..."): it says what a word means, not what she must be; its main verb is the defining one
_DEFINITION_GATE = ("consider", "defin", "regarded", "deemed")
_DEFINITION = re.compile(
    r"(?i)^(?P<head>[^.;:()]{0,80}?)\b(?<!who )(?<!that )(?<!which )(?:is|are|will be|shall be|would be|should be|can be)\s+"
    r"(?:(?:still|also|only|generally|usually)\s+)?(?:considered|defined|regarded|deemed)(?:\s+as|\s+to\s+be)?\b(?!\s+(?:eligible|ineligible|(?:a\s+)?candidates?|"
    r"excluded|included|unfit|fit|suitable|unsuitable|not\s+eligible|appropriate|inappropriate|at\s+(?:high|increased)\s+risk))")
# "Postmenopausal status, defined as age >= 60 or ...": the status is the requirement; the definition is
# the matcher's own menopause rule (an age gate made of it would shut out younger postmenopausal women)
_DEFINED_AS = re.compile(r"(?i)[\s,(]*\b(?:as\s+)?(?:defined|determined|documented|confirmed)\s+(?:as|by)\b")


def _definition(t: str, kind: str):
    """``(expression, status, reason)`` for a definition, or None when ``t`` is not one."""
    tl = t.lower()
    if not _has_any(tl, _DEFINITION_GATE):
        return None
    m = _DEFINITION.match(t)
    if m and not _NEG_LEAD.match(m.group("head")) and not re.search(r"(?i)\b(?:must|should|if|unless|patients?\s+with)\b",
                                                                        m.group("head")):
        return None, "compiled", "not a requirement: a definition of a term used by other criteria"
    if "menopaus" in tl and "defin" in tl:
        dm = _DEFINED_AS.search(t)
        if dm:
            head = t[:dm.start()]
            atoms = _compile_clause(head, kind) if "menopaus" in head.lower() else []
            if atoms and any(isinstance(x, MenopausalStatus) for a in atoms for x in iter_atoms(a)) and not any(
                    isinstance(x, Unsupported) for a in atoms for x in iter_atoms(a)):
                expr = _apply_negation(_combine(atoms, kind, head), head)
                return expr, *_status(expr)
    return None


# a requirement of the patients of one age group only: "Patients ages 50-65 must provide a negative colonoscopy
# report", "For participants ≥18 years of age: ability to provide informed consent", "For minor patients (ages
# 12 to 17 years), the ICF must be signed by a parent". The age says whom the requirement concerns, it is not an
# age limit of the trial: IfThen(age, requirement), which does not apply to a patient of another age.
_AGE_COND_SUBJ = (r"(?:(?:female|male|adult|minor|pediatric|paediatric|all|any)\s+)?(?:patients?|subjects?|participants?|"
                  r"women|men|females?|males?|individuals?|those|persons?|children|adolescents?|volunteers?)")
_AGE_COND_AGE = r"(?P<age>\(\s*(?:aged?|ages)\b[^()]{0,80}\)|\(?\s*(?:who\s+are\s+|that\s+are\s+)?(?:aged?\b|ages\b|between\b|over\b|under\b|older\b|younger\b|[<>≤≥]|\d)[^.;:()]{0,50}?\)?)"
_AGE_COND_LEAD = re.compile(r"(?i)^\W*(?:for|if|in)\s+" + _AGE_COND_SUBJ + r"\s*" + _AGE_COND_AGE +
                            r"\s*(?:[:,]|\)|(?=\s+(?:the|a|an|must|should|will|are|is)\b))\s*(?P<rest>\S.*)$", re.S)
_AGE_COND_MODAL = re.compile(r"(?i)^\W*" + _AGE_COND_SUBJ + r"\s+" + _AGE_COND_AGE +
                             r"(?:\s*\([^()]{0,30}\))?\s*,?\s+(?P<rest>(?:must|should|(?:are|is|will\s+be)\s+required\s+to|will\s+need\s+to|"
                             r"need\s+to)\s+\S.*)$", re.S)
_SENTENCE_SPLIT = re.compile(r"(?<=[a-z0-9)\]]\.)\s+(?=[A-Z])")


def _age_conditional(t: str, kind: str):
    """``(expression, status, reason)`` when some sentence of ``t`` is a requirement of one age group only
    (see ``_AGE_COND_LEAD``), else None."""
    if kind != "inclusion" or not _age_gate(t):
        return None
    sentences = [x for x in _SENTENCE_SPLIT.split(t) if x.strip()]
    conds = []
    for sent in sentences:
        m = _AGE_COND_LEAD.match(sent) or _AGE_COND_MODAL.match(sent)
        cond = _age(m.group("age")) if m else []
        conds.append((m, cond[0]) if m and len(cond) == 1 and isinstance(cond[0], (Age, AllOf, AnyOf)) else None)
    if not any(conds):
        return None
    exprs = []
    for sent, mc in zip(sentences, conds):
        if mc is not None:
            m, cond = mc
            rest = m.group("rest").strip()
            e, st, _why = compile_criterion_text(rest, kind)
            if e is None or st == "unsupported":
                e = NeedsConfirmation(category="other", reason=f"required of patients of that age only: "
                                                               f"{rest.strip(' .;')[:100]!r}")
            exprs.append(IfThen(condition=cond, then=e))
            continue
        e, st, _why = compile_criterion_text(sent, kind)  # a single sentence without an age group: no recursion
        if e is None:
            continue
        exprs.append(e)
    if not exprs:
        return None
    expr = exprs[0] if len(exprs) == 1 else AllOf(items=exprs)
    return expr, *_status(expr)


# a requirement of the male patients only: "For male patients who are sexually active and who are partners of
# premenopausal women: agreement to use two forms of contraception", "Male participants must agree to use a condom":
# IfThen(male, requirement), which does not apply to a woman (what it says of partners is not about the patient)
_MALE_COND = re.compile(
    r"(?i)^\W*(?:(?:for|in)\s+(?:all\s+)?(?:male|men)\b(?:\s+(?:patients?|participants?|subjects?))?(?P<who1>[^:;.]{0,160}?)\s*[:,]\s*"
    r"(?P<rest1>\S.*)|(?:male|men)\b(?:\s+(?:patients?|participants?|subjects?))?(?P<who2>(?:\s+(?:who|with|of|that)\b[^:;.]{0,120}?)?)"
    r"\s*,?\s+(?P<rest2>(?:must|should|shall|(?:are|is|will\s+be)\s+required\s+to|need\s+to|will\s+need\s+to)\s+\S.*))$", re.S)


def _male_conditional(t: str, kind: str):
    """``(IfThen(male, requirement), status, reason)`` for a requirement of male patients only (``_MALE_COND``),
    else None."""
    if kind != "inclusion":
        return None
    m = _MALE_COND.match(t)
    if m is None:
        return None
    who = m.group("who1") if m.group("rest1") is not None else m.group("who2")
    if who and re.search(r"(?i)\b(?:or|and)\s+(?:(?:pre|post)-?menopausal\s+)?(?:women|females?)\b(?!\s+(?:of|who|with)\b)", who) \
            and not re.search(r"(?i)partners?", who):
        return None  # "For men or postmenopausal women: ..." concerns both
    rest = (m.group("rest1") if m.group("rest1") is not None else m.group("rest2")).strip()
    e, st, _why = compile_criterion_text(rest, kind)
    if e is None or st == "unsupported":
        e = NeedsConfirmation(category="other", reason=f"required of male patients only: {rest.strip(' .;')[:100]!r}")
    expr = IfThen(condition=Sex(allowed=["male"]), then=e)
    return expr, *_status(expr)


# a requirement of the patients with one condition only: "Patients with HCL must have received at least one prior
# purine analog", "Subjects with diabetes must have HbA1c < 8%". The condition says whom the requirement concerns;
# it is not itself required: IfThen(condition, requirement), as for an age group (``_age_conditional``). A statement
# about them ("Patients with lupus are not eligible / should be excluded") is the condition's absence (inclusion) or
# presence (exclusion); "Patients with treated brain metastases are eligible" states what is allowed.
_COND_COND = re.compile(
    r"(?i)^\W*" + _AGE_COND_SUBJ + r"\s+(?:with|who\s+have|who\s+has|having|diagnosed\s+with)\s+(?P<cond>[^.;:]{2,160}?)"
    r"\s*,?\s+(?P<rest>(?:must|should|shall|(?:are|is|will\s+be)\s+required\s+to|will\s+need\s+to|need\s+to|"
    r"(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:not\s+)?(?:eligible|ineligible|excluded|included|"
    r"allowed|permitted|acceptable)\b)(?:\s+\S.*|\W*))$", re.S)
_COND_COND_EXCLUDED = re.compile(
    r"(?i)^(?:(?:must|should|shall|will)\s+(?:be\s+excluded|not\s+be\s+(?:eligible|included|enrolled|entered|allowed|"
    r"permitted))|(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:not\s+(?:eligible|included|allowed|"
    r"permitted|acceptable)|ineligible|excluded))\b(?![^.;]*\b(?:unless|if|except|provided|until)\b)")
_COND_COND_ALLOWED = re.compile(
    r"(?i)^(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:considered\s+)?(?:eligible|included|allowed|permitted|acceptable)"
    r"(?:\s+(?:to\s+(?:participate|enrol+|enter)|(?:in|into|for|on)\s+(?:this|the)\s+(?:study|trial|protocol)))?\W*$")
_COND_COND_STATEMENT = re.compile(r"(?i)^(?:are|is|will\s+be|shall\s+be|would\s+be)\b")
# whom a requirement about pregnancy or contraception concerns ("Patients with the potential for pregnancy must
# agree ...", "Female patients with infants must agree not to breastfeed"): read by the pregnancy extractors
_COND_COND_NOT_A_CONDITION = re.compile(r"(?i)potential|childbearing|pregnan|infants?\b|breast-?feed|partners?\b|"
                                        r"\bfollowing\b|\bcriteria\b")


def _condition_conditional(t: str, kind: str):
    """``(expression, status, reason)`` when ``t`` is one sentence about the patients with a condition only (see
    ``_COND_COND``), else None."""
    if len([x for x in _SENTENCE_SPLIT.split(t) if x.strip()]) != 1:
        return None
    m = _COND_COND.match(t)
    if m is None:
        return None
    cond_text = m.group("cond").strip()
    rest = m.group("rest").strip()
    statement = _COND_COND_STATEMENT.match(rest) is not None
    excluded = _COND_COND_EXCLUDED.match(rest) is not None
    if kind != "inclusion" and not excluded:
        return None
    if statement and not excluded and _COND_COND_ALLOWED.match(rest) is None:
        return None  # "are eligible and must be progressing": read as before
    if _NEG_LEAD.match(cond_text) or _COND_COND_NOT_A_CONDITION.search(cond_text) or re.search(
            r"(?i)\b(?:no|not|without|if|unless|except)\b", cond_text):
        return None
    ce, cs, _ = compile_criterion_text(f"Patients with {cond_text}", "inclusion")
    if ce is None or cs != "compiled" or any(isinstance(a, (NeedsConfirmation, Unsupported, Age, Sex))
                                             for a in iter_atoms(ce)):
        return None
    if isinstance(ce, AllOf) and re.search(r"(?i)\bor\b", cond_text) and not re.search(r"(?i)\band\b", cond_text):
        ce = AnyOf(items=ce.items)  # "a history of cardiac disease or mediastinal radiation": either
    if excluded:
        expr = ce if kind == "exclusion" else Not(item=ce)
        return expr, *_status(expr)
    if statement:
        return None, "compiled", "not a requirement: states what is allowed"
    e, st, _why = compile_criterion_text(rest, kind)
    if e is None or st == "unsupported" or e == ce:
        e = NeedsConfirmation(category="other", reason=f"required of patients with {cond_text[:60]!r} only: "
                                                       f"{rest.strip(' .;')[:100]!r}")
    expr = IfThen(condition=ce, then=e)
    return expr, *_status(expr)


def _semicolon_parts(t: str) -> list[str] | None:
    """Top-level "; "-separated requirements when a negation would otherwise cross the semicolon
    ("Measurable disease; no prior chemotherapy for metastatic disease": the "no" is the second
    requirement's only), else None (the clause is read as one)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(t):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            parts.append(t[start:i])
            start = i + 1
    parts.append(t[start:])
    parts = [p for p in parts if p.strip(" .,;")]
    if len(parts) < 2:
        return None
    kept = [p for p in parts if not _is_permission(p)]  # "no prior chemotherapy; prior hormonal therapy allowed"
    if not kept:
        return None
    negs = [_negated(p) for p in kept]
    if not any(negs[1:]) and len(kept) == len(parts):
        return None
    parts = kept
    # a negated part starts a group that keeps the parts after it up to the next negated one ("no A; B;
    # C": a list under one "no", read as one clause as before); the parts before it form the first group
    groups: list[str] = []
    for p, neg in zip(parts, negs):
        if neg or not groups:
            groups.append(p)
        else:
            groups[-1] += ";" + p
    return groups


def _compile_semicolon_parts(parts: list[str], kind: str):
    """Each part compiled with its own negation; inclusion: all must hold, exclusion: any excludes.
    A permission among them ("hormonal therapy allowed") is not a check; a part with no recognised
    requirement is ``Unsupported`` (never dropped)."""
    exprs = []
    for p in parts:
        if _is_permission(p):
            continue
        atoms = _compile_clause(p, kind)
        if not atoms:
            exprs.append(Unsupported(reason=f"no compilable requirement recognised in: {p.strip()[:120]!r}"))
            continue
        exprs.append(_apply_negation(_combine(atoms, kind, p), p))
    if not exprs:
        return Unsupported(reason="no compilable requirement recognised")
    if len(exprs) == 1:
        return exprs[0]
    return AnyOf(items=exprs) if kind == "exclusion" else AllOf(items=exprs)


# a permission with its condition: "Prior platinum allowed as long as no breast cancer progression occurred on
# treatment", "Prior taxane is permitted provided ..."; and "Patients may have received prior adjuvant chemotherapy"
# (what she may have had, without a limit: "may have received up to 2 prior lines" is a limit and stays a check)
_CONDITIONAL_PERMISSION = re.compile(
    r"(?i)^\W*(?:(?:any\s+)?(?:prior|previous)\s+)?[^.;:()]{1,80}?\s+(?:is\s+|are\s+|will\s+be\s+)?(?:allowed|permitted|acceptable)"
    r"\s*,?\s+(?:as\s+long\s+as|provided|if|when|only\s+if|so\s+long\s+as|on\s+condition|after)\b")
_MAY_HAVE = re.compile(
    r"(?i)^\W*(?:(?:patients?|participants?|subjects?|women|men)\s+)?(?:may|can|could)\s+have\s+(?:received|had|undergone|been\s+treated)\b"
    r"(?![^.;]*(?:\bup\s+to\b|\bno\s+more\s+than\b|\bat\s+most\b|\bmaximum\b|\bnot\s+more\s+than\b|≤|<|\bfewer\b|\bless\s+than\b|"
    r"\bonly\b|\bmust\b|\bbut\b|\bprovided\b|\bas\s+long\s+as\b|\bif\b|\bunless\b))")


def _conditional_permission(t: str) -> bool:
    """Is ``t`` a permission with a condition (``_CONDITIONAL_PERMISSION``) or a "may have received" statement
    without a limit (``_MAY_HAVE``)? Neither is a requirement."""
    tl = t.lower()
    if ("allowed" in tl or "permitted" in tl or "acceptable" in tl) and not _negated(t) and \
            _CONDITIONAL_PERMISSION.match(t) and not re.match(r"(?i)^\W*(?:no|not|none)\b", t):
        return True
    return ("may" in tl or "can" in tl or "could" in tl) and _MAY_HAVE.match(t) is not None and \
        len([x for x in _SENTENCE_SPLIT.split(t) if x.strip()]) == 1


# a reason given for a criterion: ", because the neutropenia caused by ... may make such subjects ..."
_RATIONALE = re.compile(r"(?i),?\s+\bbecause\b[^.;]*")
# unfit for a therapy to come: "medically unfit to receive eribulin", "not a candidate for chemotherapy"
_UNFIT_FOR = re.compile(r"(?i)\b(?:medically\s+)?(?:unfit|not\s+fit|unsuitable|not\s+suitable|not\s+(?:a\s+)?candidates?)\s+"
                        r"(?:to\s+(?:receive|be\s+treated\s+with|undergo|take)|for)\s+")
_PRIOR_WORDS = re.compile(r"(?i)\b(?:prior|previous(?:ly)?|received|pretreated|history\s+of|treated\s+with)\b")


def _few_sentences(t: str) -> list[str] | None:
    """The sentences of a criterion of two to four sentences (the shapes read sentence by sentence), else None."""
    sents = [x for x in _SENTENCE_SPLIT.split(t) if x.strip()]
    return sents if 2 <= len(sents) <= 4 else None


@lru_cache(maxsize=65536)
def _sentences_with_conditional(t: str, kind: str):
    """A criterion of a few sentences one of which concerns the patients with a condition only ("Participants must
    have adequate cardiac function. Participants with known history of cardiac disease ... must be NYHA class 2B or
    better"): each sentence compiled on its own and all required, the conditional one as ``IfThen`` (see
    ``_condition_conditional``); read whole, the condition would become a requirement of every patient."""
    sents = _few_sentences(t)
    if sents is None:
        return None
    conds = [_condition_conditional(x, kind) for x in sents]
    if not any(c is not None and isinstance(c[0], IfThen) for c in conds):
        return None
    exprs = []
    for x, c in zip(sents, conds):
        e, _st, _why = c if c is not None else _compile_criterion_cached(x, kind)
        if e is not None:
            exprs.append(e)
    expr = exprs[0] if len(exprs) == 1 else AllOf(items=exprs)
    return expr, *_status(expr)


@lru_cache(maxsize=65536)
def _exclusion_sentences(t: str, kind: str):
    """An exclusion of a few sentences, one a matter a person confirms and another a fact ("Female patients who are
    pregnant or breastfeeding. Patients ... not willing to employ contraception ..."): each sentence excludes on its
    own (AnyOf); read whole, the confirmation would hide the fact. None unless both kinds of sentence are there."""
    sents = _few_sentences(t)
    if sents is None:
        return None
    compiled = [_compile_criterion_cached(x.strip(), kind) for x in sents]
    if not any(st == "needs_confirmation" for _e, st, _w in compiled) or \
            not any(st == "compiled" and e is not None for e, st, _w in compiled) or \
            any(st == "unsupported" or e is None for e, st, _w in compiled):
        return None
    expr = AnyOf(items=[e for e, _st, _w in compiled])
    return expr, *_status(expr)


def _compile_criterion_cached(t: str, kind: str):
    """:func:`compile_criterion_text` on stripped text; cached, so never mutate what it returns."""
    if not t:
        return None, "unsupported", "empty criterion"
    if _is_permission(t, kind) or _conditional_permission(t):
        return None, "compiled", "not a requirement: states what is allowed"
    d = _definition(t, kind)
    if d is not None:
        return d
    if ". " in t and _has_any(t.lower(), _DEFINITION_GATE + ("purpose", "eligible", "exclude", "allowed", "permitted", "must", "may")):
        kept = without_non_requirement_sentences(t, kind)
        if kept is not None:
            return _compile_criterion_cached(kept, kind)
    if "because" in t:
        # "known to be HIV positive because the neutropenia caused by the eribulin treatment may make them
        # susceptible to infection": the reason given is not a requirement
        kept = _RATIONALE.sub("", t).strip()
        if kept and kept != t:
            return _compile_criterion_cached(kept, kind)
    if _UNFIT_FOR.search(t) and not _PRIOR_WORDS.search(t):
        # "the investigator believes her medically unfit to receive eribulin": a judgement of fitness for a
        # therapy to come, not a therapy she had
        return (NeedsConfirmation(category="investigator_judgement", reason="fitness for a therapy: a person judges"),
                "needs_confirmation", "fitness for a therapy: a person judges")
    d = _age_conditional(t, kind)
    if d is not None:
        return d
    d = _male_conditional(t, kind) if ("male" in t or "Male" in t or "men" in t or "Men" in t or "MALE" in t) else None
    if d is not None:
        return d
    d = _condition_conditional(t, kind) if (" with " in t or " who ha" in t or " having " in t or "diagnosed" in t) \
        else None
    if d is not None:
        return d
    d = _sentences_with_conditional(t, kind) if ". " in t and (" with " in t or " who ha" in t) else None
    if d is not None:
        return d
    d = _exclusion_sentences(t, kind) if kind == "exclusion" and ". " in t else None
    if d is not None:
        return d
    # every separator of _CLAUSE_OR starts with "," or ";": without one the split would return [t]
    parts = [p for p in (_split_or(t) if "," in t or ";" in t else (t,)) if p.strip()]
    exprs = []
    for p in parts:
        semi = _semicolon_parts(p) if ";" in p else None
        if semi is not None:
            exprs.append(_compile_semicolon_parts(semi, kind))
            continue
        atoms = _compile_clause(p, kind)
        if not atoms:
            exprs.append(Unsupported(reason=f"no compilable requirement recognised in: {p.strip()[:120]!r}"))
            continue
        if kind == "inclusion" and len(parts) == 1 and len(atoms) > 1 and any(isinstance(a, LabThreshold) for a in atoms) is False:
            pass
        e = _combine(atoms, kind, p)
        exprs.append(_apply_negation(e, p))
    if len(exprs) == 1:
        expr = exprs[0]
    else:
        confirms = [e for e in exprs if isinstance(e, NeedsConfirmation)]
        if len(confirms) == len(exprs) and len({c.category for c in confirms}) == 1:
            expr = confirms[0]
        else:
            expr = AnyOf(items=exprs)
    if kind == "exclusion" and isinstance(expr, Not) and exclusion_prohibition(t):
        expr = expr.item  # "Participants must not have received X" among the exclusions: excluded when X holds
    return expr, *_status(expr)


def _status(expr) -> tuple[str, str | None]:
    atoms = list(iter_atoms(expr))
    unsup = [a for a in atoms if isinstance(a, Unsupported)]
    if unsup:
        return "unsupported", "; ".join(a.reason for a in unsup)
    conf = [a for a in atoms if isinstance(a, NeedsConfirmation)]
    if conf and len(conf) == len(atoms):
        return "needs_confirmation", conf[0].reason
    return "compiled", None


# ----------------------------------------------------------------------------- trial level
_IMMUTABLE = (type(None), bool, int, float, str)


@cache
def _plain_fields(cls: type) -> tuple | None:
    """``(name, required, default)`` per field of a model class whose fields ``_construct`` can fill
    itself (no aliases, no default factories, immutable defaults, no extra fields kept, no post-init),
    else None."""
    if cls.model_config.get("extra") == "allow" or cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        return None
    out = []
    for name, f in cls.__pydantic_fields__.items():
        if f.alias is not None or f.validation_alias is not None or f.default_factory is not None:
            return None
        required = f.is_required()
        if not required and not isinstance(f.default, _IMMUTABLE):
            return None
        out.append((name, required, f.default))
    return tuple(out)


def _construct(cls, **values):
    """``cls.model_construct(**values)``, the same object, faster: pydantic's version looks up aliases
    and copies defaults field by field for every call, which cost about 3% of compiling with one
    ``Criterion`` per criterion. Models it cannot fill this way (see ``_plain_fields``) go to pydantic."""
    spec = _plain_fields(cls)
    if spec is None:
        return cls.model_construct(**values)
    d = {}
    fields_set = set()
    for name, required, default in spec:
        if name in values:
            d[name] = values[name]
            fields_set.add(name)
        elif not required:
            d[name] = default  # immutable: what pydantic's copy of the default would be
    m = cls.__new__(cls)
    _SET(m, "__dict__", d)
    _SET(m, "__pydantic_fields_set__", fields_set)
    _SET(m, "__pydantic_extra__", None)
    _SET(m, "__pydantic_private__", None)
    return m


def _build(splits: list[SplitCriterion], trial_id: str, source: str, source_text: str) -> CompiledCriteria:
    crits = []
    texts = {sc.id: sc.text for sc in splits}
    labelled, read_with_label = value_labels(splits), set()  # "Age" / "18 and over" (criteria/headings.py)
    for sc in splits:
        if _maybe_placeholder(sc.text) and _PLACEHOLDER.match(sc.text):
            crits.append(Criterion.model_construct(
                id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span), parent=sc.parent, expression=None,
                status="compiled", reason=f"not a criterion: placeholder text {sc.text.strip()[:40]!r}"))
            continue
        if not sc.children and _is_permission(sc.text, sc.kind):
            crits.append(Criterion.model_construct(
                id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span), parent=sc.parent, expression=None,
                status="compiled", reason="not a requirement: states what is allowed"))
            continue
        if sc.alternatives:
            expr, status, reason = _compile_alternatives(sc, source_text)
        else:
            expr, status, reason = compile_criterion_text(sc.text, sc.kind)
        if status == "unsupported" and isinstance(expr, Unsupported) and expr.reason in NOT_A_REQUIREMENT_REASONS:
            expr, status, reason = None, "compiled", f"not a requirement: {expr.reason}"
        if sc.id in labelled and status == "unsupported":
            e2, s2, r2 = compile_criterion_text(f"{labelled[sc.id]} {sc.text}", sc.kind)
            if s2 != "unsupported":
                expr, status, reason = e2, s2, r2
                read_with_label.add(sc.id)
        if status == "unsupported" and sc.parent is not None and not sc.children and not sc.alternatives:
            # PDQ-style lists put the subject in the heading and the value in the item ("Age:" /
            # "18 to 70", "Life expectancy:" / "More than 2 months"): read the item with its heading
            head = texts.get(sc.parent, "").strip()
            if len(head) <= 40 and _BARE_VALUE.match(sc.text) and not re.search(r"\d", head):
                e2, s2, r2 = compile_criterion_text(f"{head} {sc.text}", sc.kind)
                if s2 != "unsupported":
                    expr, status, reason = e2, s2, r2
            elif head and len(head) <= 200 and len(sc.text) <= 60 and _bare_drug(sc.text):
                # a drug listed under its heading ("No concurrent treatment with any of the following:" /
                # "Ritonavir"): the item read with its heading, kept only when that names the drug
                e2, s2, r2 = compile_criterion_text(f"{head} {sc.text.strip(' .;,')}", sc.kind)
                if s2 == "compiled" and _names_drug(e2, _bare_drug(sc.text)):
                    expr, status, reason = e2, s2, r2
            if status == "unsupported" and head and len(head) <= 240 and len(sc.text) <= 50:
                # "At least 7 days since prior and no concurrent CYP3A4 inhibitors, including:" / "Nelfinavir":
                # the heading's one therapy check, for the drug the item names
                e2 = _listed_under(head, sc.text, sc.kind)
                if e2 is not None:
                    expr, (status, reason) = e2, _status(e2)
        if sc.children:
            # a parent whose own words carry no check is a header ("... meets the following criteria:")
            own = _compile_clause(sc.text.split(":")[0], sc.kind) if sc.text.rstrip().endswith(":") or ":" in sc.text else None
            if ":" in sc.text and not own:
                expr, status, reason = None, "compiled", f"introduces {len(sc.children)} sub-criteria"
            elif ":" in sc.text and own:
                expr = _combine(own, sc.kind, sc.text)
                expr = _apply_negation(expr, sc.text)
                status, reason = _status(expr)
            elif status == "unsupported":
                expr, status, reason = None, "compiled", f"introduces {len(sc.children)} sub-criteria"
        elif status == "unsupported" and sc.text.rstrip().endswith(":") and len(sc.text) <= 80 and (
                sc.text.isupper() or _any(r"characteristics|therapy|criteria|following|must have|must be|include", sc.text)):
            # a section heading ("PRIOR CONCURRENT THERAPY:", "Patients must have:") whose items follow as
            # criteria of their own
            expr, status, reason = None, "compiled", "section heading: the criteria that follow carry the checks"
        # inputs are already valid (typed expression nodes, str/int fields): skip pydantic's validation
        crits.append(_construct(Criterion, id=sc.id, kind=sc.kind, text=sc.text, span=tuple(sc.span),
                                parent=sc.parent, expression=expr, status=status, reason=reason))
    _demote_list_headers(crits)
    demote_labels(crits, read_with_label)
    negate_dose_items(crits)
    _listed_types_as_alternatives(crits)
    _alternative_lists(crits, source_text)  # the list and cohort structure stages: criteria/structure.py
    _listed_exceptions(crits)
    _treated_or_ineligible_lists(crits)
    return CompiledCriteria.model_construct(trial_id=trial_id, compiler_version=COMPILER_VERSION, source=source,
                                            criteria=crits, source_text=source_text)


_LIST_INTRO = re.compile(r"(?i)[\s,;(-]*(?:\b(?:including|such as|e\.g\.?|i\.e\.?|for example|as follows|like)\b)?[\s,]*"
                         r"(?:\b(?:any|one|all|each)\s+(?:or\s+more\s+)?of\s+)?(?:\bthe\s+)?(?:\bfollowing|\bthese|\bbelow)?"
                         r"(?:\s+(?:drugs?|medications?|agents?|medicines?|inhibitors?|inducers?|compounds?|substances?))?"
                         r"(?:\s*\(\s*(?:list\s+)?not\s+(?:all-?inclusive|exhaustive)\s*\))?\s*:?\s*$")
_ITEM_NAME = re.compile(r"(?i)^[\s\-•*]*(?P<n>[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z][A-Za-z0-9-]*){0,2})\s*(?:\([^()]{0,40}\))?[\s.;,]*$")


_LIST_HEAD_MED = re.compile(
    r"(?i)\b(?:concurrent(?:ly)?|concomitant|currently\s+(?:receiving|taking|using|on)|(?:is|are)\s+(?:receiving|taking)|"
    r"(?:use|treatment|administration|receipt)\s+(?:of|with)|(?:have|has)\s+received|received)\b")
_LIST_HEAD_NOT_MED = re.compile(r"(?i)\b(?:dose|doses|dosing|change|changes|stable|allowed|permitted|acceptable|except|unless|"
                                r"may|can|if|provided|discontinu\w*|stop\w*|prior\s+to\s+the\s+(?:first|start))\b")


def _listed_under(head: str, item: str, kind: str):
    """The heading's single therapy check (``PriorTherapy`` or ``ConcomitantMedication``) applied to the
    drug an item names, or None (no such check, several of them, or an item that is not a name)."""
    m = _ITEM_NAME.match(item)
    if not m:
        return None
    name_t = m.group("n")
    words = name_t.lower().split()
    if all(w in _STOP or w in _FREE_AGENT_STOP for w in words) or words[0] in _VAGUE_HEADS:
        return None
    key = _bare_drug(name_t)
    if key is None:
        return None  # only vocabulary drugs: "Chemistry" is a heading, an unknown name may be anything
    if kind == "exclusion" and _negated(head):
        return None  # "No concurrent ..." under exclusions: its sense is the heading's problem, not copied
    intro = _LIST_INTRO.search(head)
    head_t = head[:intro.start()] if intro and intro.start() > 0 else head
    pe, ps, _ = compile_criterion_text(head_t, kind)
    targets = [a for a in iter_atoms(pe) if isinstance(a, (PriorTherapy, ConcomitantMedication))] \
        if pe is not None and ps == "compiled" else []
    if not targets:
        # "No concurrent administration of any of the following drugs:", "Have received any of the following
        # within 28 days prior to ...": a medication heading that names no drug of its own
        hm = _LIST_HEAD_MED.search(head_t)
        if hm is None or _LIST_HEAD_NOT_MED.search(head_t):
            return None
        wm = re.search(r"(?i)\bwithin\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME, head_t)
        if wm:
            atom = PriorTherapy(agents=[key], within=_dur(wm.group(1), wm.group(2)))
        elif re.search(r"(?i)concurrent|concomitant|currently|taking|receiving|\bon\b", hm.group(0)):
            atom = ConcomitantMedication(classes=[key])
        else:
            atom = PriorTherapy(agents=[key])
        return Not(item=atom) if _negated(head_t) else atom
    if len(targets) != 1 or any(isinstance(a, (Except, IfThen)) for a in _nodes(pe)):
        return None
    a = targets[0]
    if isinstance(a, PriorTherapy):
        a.agents = [key]
        a.lines = Range(low=1)
    else:
        a.classes = [key]
    return pe


def _nodes(x):
    yield x
    for k in ("items", "item", "main", "exception", "condition", "then", "otherwise"):
        v = getattr(x, k, None)
        if isinstance(v, list):
            for i in v:
                yield from _nodes(i)
        elif isinstance(v, BaseModel):
            yield from _nodes(v)


def _bare_drug(text: str) -> str | None:
    """The vocabulary key of an item that is only a drug or class name ("Ketoconazole", "Steroids")."""
    t = text.strip(" .;,*-•")
    if not t or len(t.split()) > 4:
        return None
    rx = vocab_regexes()
    m = rx["agent"].fullmatch(t)
    if m is None:
        return None
    return rx["agent_names"].get(_SEP_RUN.sub(" ", t.lower())) or rx["agent_names"].get(t.lower())


def _names_drug(expr, key: str | None) -> bool:
    if not key or expr is None:
        return False
    for a in iter_atoms(expr):
        if isinstance(a, PriorTherapy) and key in a.agents or isinstance(a, ConcomitantMedication) and key in a.classes \
                or isinstance(a, Allergy) and key in a.substances:
            return True
    return False


_TRAILING_OR = re.compile(r"(?i)[\s,;]*\b(?:and/or|and or|or/and|or)\W*$")
_LEADING_OR = re.compile(r"(?i)^\W*(?:and/or|or)\s+")


def _compile_alternatives(sc: SplitCriterion, source_text: str):
    """A criterion joined from sibling lines ending in "or": ``AnyOf`` of its lines, each compiled
    on its own (the trailing "or" removed); unsupported when any line is (the status rule)."""
    exprs = []
    for a, b in sc.alternatives:
        part = _LEADING_OR.sub("", _TRAILING_OR.sub("", source_text[a:b]))
        e, st, _why = compile_criterion_text(part, sc.kind)
        if e is None:  # a permission or an empty line among alternatives: nothing to check there
            e = Unsupported(reason=f"no check in the alternative {part.strip()[:80]!r}")
        exprs.append(e)
    expr = exprs[0] if len(exprs) == 1 else AnyOf(items=exprs)
    return expr, *_status(expr)


# an item that is only a value ("18 to 70", "More than 2 months", "0-2", "18 and over"): its subject is the heading
_BARE_VALUE = re.compile(
    r"(?i)^\W*(?:(?:at least|more than|less than|greater than|over|under|no more than|not more than|up to|between|"
    r"from|[<>≤≥]=?)\s*)?\d[\d.,]*\s*(?:(?:-|–|to|and)\s*\d[\d.,]*)?\s*(?:%|years?|months?|weeks?|days?)?"
    r"\s*(?:(?:and|or)\s+(?:over|older|above|under|younger|more|greater|less|better))?\W*$")


def _demote_list_headers(crits: list[Criterion]) -> None:
    """A parent ending with ":" whose own words only restate what its sub-criteria check ("Breast cancer
    meets the following criteria:" over "histologically confirmed breast cancer ..."), or only say that
    a function must be adequate ("Adequate organ function:" over the lab thresholds), is a header:
    the children carry the checks."""
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    for c in crits:
        if c.expression is None or c.id not in kids or not c.text.rstrip().endswith(":"):
            continue
        own = list(iter_atoms(c.expression))
        child_kinds = {a.kind for k in kids[c.id] if k.expression is not None for a in iter_atoms(k.expression)}
        if _ANY_OF_HEAD.search(c.text) and any(a.kind == "disease_extent" for a in own):
            # "Has advanced and/or metastatic cancer that meets one of the following criteria:": the items are
            # alternatives, so the heading's extent of disease is restated only where every item carries one
            per_item = [{a.kind for a in iter_atoms(k.expression)} for k in kids[c.id] if k.expression is not None]
            if not all("disease_extent" in kinds for kinds in per_item):
                child_kinds = child_kinds - {"disease_extent"}
        vague = all(isinstance(a, NeedsConfirmation) and (a.reason or "").startswith("no defined threshold") for a in own)
        if vague or all(a.kind in child_kinds and a.kind not in ("confirm", "unsupported") for a in own):
            c.expression, c.status = None, "compiled"
            c.reason = f"introduces {len(kids[c.id])} sub-criteria, which carry its checks"


# a heading that lists kinds of one disease ("Histologically confirmed indolent B-cell NHL, including any of the
# following subtypes:", "The patient has one of the following types of indolent B-cell lymphoma:", "Diagnosis of 1 of
# the following NHL subtypes:"): its items are alternatives (or examples) of the one diagnosis, not each required
_ALTERNATIVES_HEAD = re.compile(
    r"(?i)\b(?:(?:one|1|any|either)\s+(?:or\s+more\s+)?of\s+(?:the\s+)?(?:following|these|below)|including|such\s+as|e\.g\.?|"
    r"for\s+example|(?:sub)?types?|subtypes|histolog(?:y|ies|ical\s+subtypes?)|categories|varieties|forms?\s+of)\b")
_DIAGNOSIS_KINDS = (Diagnosis, Condition)


def _only_diagnoses(expr) -> bool:
    atoms = list(iter_atoms(expr)) if expr is not None else []
    return bool(atoms) and all(isinstance(a, _DIAGNOSIS_KINDS) for a in atoms) and not any(
        isinstance(n, (Not, Except, IfThen)) for n in _nodes(expr))


def _listed_types_as_alternatives(crits: list[Criterion]) -> None:
    """Inclusion sub-criteria that each only name a diagnosis, listed under a heading that introduces kinds of a
    disease (``_ALTERNATIVES_HEAD``, or a heading ending with ":" that itself names only a diagnosis), are one
    requirement: the heading gets ``AnyOf`` of them and each item becomes part of it (expression None, the reason
    names the heading). Only the leading run of such items is taken (a list of subtypes may be followed by
    requirements of their own the splitter put under the same heading)."""
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    parents = {c.parent for c in crits if c.parent is not None}
    for c in crits:
        if c.kind != "inclusion" or c.id not in kids or c.status == "unsupported":
            continue
        head = c.text.strip()
        own = c.expression
        if own is None and head.endswith(":"):
            own = compile_criterion_text(head.rstrip(":"), c.kind)[0]  # a heading demoted by _demote_list_headers
        if not (_ALTERNATIVES_HEAD.search(head) or (head.endswith(":") and _only_diagnoses(own))):
            continue
        if c.expression is not None and not _only_diagnoses(c.expression):
            continue
        if not head.endswith(":") and c.expression is not None:
            continue
        run = []
        for k in kids[c.id]:
            if k.id in parents or k.status != "compiled" or not _only_diagnoses(k.expression):
                break
            run.append(k)
        if len(run) < 2:
            continue
        items: list = []
        for k in run:  # "Mantle cell lymphoma", "Follicular lymphoma": the same check once
            if not any(k.expression == x for x in items):
                items.append(_clone(k.expression))
        c.expression = items[0] if len(items) == 1 else AnyOf(items=items)
        c.status, c.reason = "compiled", f"one of the {len(run)} kinds listed under it ({run[0].id}-{run[-1].id})"
        for k in run:
            k.expression, k.status = None, "compiled"
            k.reason = f"one of the alternatives listed under {c.id}: checked there"


def compile_text(text: str, trial_id: str, source: str = "criteria_text") -> CompiledCriteria:
    """Compile eligibility criteria text.

    Parameters
    ----------
    text : str
        Criteria text as written (or a population sentence when ``source="document_prose"``).
    trial_id : str
    source : str
        "criteria_text" (split on headers/bullets), "document_prose" (population prose: one
        criterion per recognised check), or "title_and_summary".

    Returns
    -------
    CompiledCriteria
        Spans index into ``text`` (kept as ``source_text``).
    """
    text = text or ""
    if source in ("document_prose", "title_and_summary"):
        splits = split_prose(text)
    else:
        splits = split_criteria(text)
    cc = _build(splits, trial_id, source, text)
    if source in ("document_prose", "title_and_summary"):
        for c in cc.criteria:  # the sentence is a header: its checks are the children
            if c.parent is None and any(d.parent == c.id for d in cc.criteria):
                c.expression, c.status, c.reason = None, "compiled", "population sentence: its checks are the sub-criteria"
    return cc


_POP_RE = re.compile(r"(?i)\b(?:randomly assigned|enrolled|included|eligible were|recruited)\s+((?:pre|peri|post)?-?menopausal\s+)?(?:women|patients|men|adults|participants)\s+with\s+[^.()]+?(?=\s+to\s+|\.|\(|$)")


def compile_criteria(trial) -> CompiledCriteria:
    """Compile a :class:`~trialmatch.trials.model.Trial`'s eligibility.

    Uses ``trial.eligibility.criteria_text`` when present (``source="criteria_text"``, or
    ``"document_prose"`` when the reader marked it as prose); otherwise the population sentence of
    the summary/description ("randomly assigned postmenopausal women with ...": ``document_prose``);
    otherwise what the title and summary state (``title_and_summary``: HR-high expression,
    advanced breast cancer, endocrine resistance), with spans into ``"title\\n\\nsummary"``.
    Never raises on odd text: a criterion that fails to compile becomes ``Unsupported``.
    """
    elig = trial.eligibility
    text = elig.criteria_text if elig is not None else None
    if text and text.strip():
        src = elig.criteria_source or ""
        if "prose" in src.lower() or "population" in src.lower():
            return compile_text(text, trial.id, source="document_prose")
        return compile_text(text, trial.id)
    for field_text in (trial.brief_summary, trial.description):
        if not field_text:
            continue
        m = _POP_RE.search(field_text)
        if m:
            start = m.start(1) if m.group(1) else m.start()
            sent = field_text[start:m.end()]
            cc = compile_text(sent, trial.id, source="document_prose")
            # spans into the sentence -> spans into the field text
            for c in cc.criteria:
                c.span = (c.span[0] + start, c.span[1] + start)
            cc.source_text = field_text
            return cc
    parts = [p for p in (trial.title, trial.brief_summary) if p]
    if not parts:
        return CompiledCriteria(trial_id=trial.id, compiler_version=COMPILER_VERSION, source="none")
    doc = "\n\n".join(parts)
    splits = _summary_splits(doc)
    cc = _build(splits, trial.id, "title_and_summary", doc)
    metastatic_only = bool(trial.conditions) and all(_METASTATIC_CONDITION.search(x) and not _ADVANCED_CONDITION.search(x)
                                                     for x in trial.conditions)
    for c in cc.criteria:
        c.reason = ((c.reason + "; ") if c.reason else "") + "read from the title/summary (no criteria list)"
        if metastatic_only and c.expression is not None:
            c.expression = _advanced_as_conditions_say(c.expression)
    return cc


_METASTATIC_CONDITION = re.compile(r"(?i)\bmetasta|\bstage\s+iv\b")
_ADVANCED_CONDITION = re.compile(r"(?i)\badvanced\b|\blocally\b")


def _advanced_as_conditions_say(e):
    """"Advanced ... breast cancer" in a title whose registry conditions name metastatic disease only (no
    criteria list): the two disagree on locally advanced disease, so it is left to a person (unknown); metastatic
    disease meets both, early disease neither."""
    if isinstance(e, DiseaseExtent) and e.allowed == ["advanced"] and not e.stages:
        return AnyOf(items=[DiseaseExtent(allowed=["metastatic"]), AllOf(items=[
            DiseaseExtent(allowed=["locally_advanced"]),
            Unsupported(reason="the title says advanced, the registry conditions metastatic: whether locally advanced "
                               "disease is eligible the document does not settle")])])
    if isinstance(e, (AllOf, AnyOf)):
        return e.model_copy(update={"items": [_advanced_as_conditions_say(i) for i in e.items]})
    return e


_SUMMARY_CONCEPTS = re.compile(
    r"(?i)hormone[ -]receptor[ -]high[ -]expressed|hormone receptor[ -]positive|\bHR[ -]?(?:positive|\+)|HER-?2[ -]?negative|"
    r"(?:locally advanced or metastatic|advanced|metastatic)\s+(?:hormone[ -]receptor[- \w]*?)?breast cancer|"
    r"endocrine[ -](?:therapy|treatment)[ -]resist\w*|endocrine therapy resisted|endocrine[ -]resistant|secondary endocrine-resistant|"
    r"(?:pre|post)menopausal"
)


def _summary_splits(doc: str) -> list[SplitCriterion]:
    out = []
    seen = set()
    has_high = re.search(r"(?i)receptor[ -]high", doc) is not None
    for m in _SUMMARY_CONCEPTS.finditer(doc):
        key = re.sub(r"\W+", " ", m.group(0).lower())
        if "resist" in key:
            key = "resist"
        elif "hormone receptor" in key and "breast" not in key or key.startswith("hr"):
            if has_high and "high" not in key:
                continue
            key = "hr"
        if key in seen:
            continue
        seen.add(key)
        out.append(SplitCriterion(f"I{len(out) + 1}", "inclusion", m.group(0), (m.start(), m.end()), None))
    return out
