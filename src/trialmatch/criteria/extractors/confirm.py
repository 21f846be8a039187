"""Clauses only a person can settle or that are not checks: confirmation cues, clinician judgements on
fitness, permissions, placeholders, rules of some countries only, unsupported patterns.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.common import _any, _may_match
from trialmatch.criteria.extractors.receptors import _genes
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.extractors.therapy import _PERMITTED_DOSE, _dose_permitted
from trialmatch.criteria.model import NeedsConfirmation, Unsupported
from trialmatch.criteria.quantities import find_quantities
from trialmatch.criteria.rules import FoldedPattern, folded_text, rules


_CONFIRM_ORDER = family_data("confirm").cues.words("category_order")


def _confirm(t: str) -> NeedsConfirmation | None:
    r = rules()
    first = r.confirm_any.search(t)
    if not first:
        return None
    # Speed: a cue of any category is a cue of the combined regex, which would match where the cue starts:
    # no category matches before the combined regex's first match, so the searches below start there
    for cat in _CONFIRM_ORDER:
        m = r.confirm_re[cat].search(t, first.start())
        if m:
            if cat == "other" and len(t) > 140:
                continue
            return NeedsConfirmation(category=cat, reason=f"needs a person to confirm ({cat.replace('_', ' ')}: '{m.group(0)}')")
    return None

# (pattern, reason, words): every match of the pattern holds one of its words (a cheap pre-check, ``_may_match``)
_UNSUPPORTED_PATTERNS = [(re.compile(p["pattern"]), p["reason"], tuple(p["words"]))
                         for p in family_data("confirm").cues["unsupported_patterns"]]
# reasons of patterns that mark a statement about the trial as a whole (``"not_a_requirement": true``: "the
# proportion of patients receiving targeted therapy is not less than 80%"): no patient can meet or fail it, so a
# criterion made only of one is reported as no requirement rather than as a check a person must make
NOT_A_REQUIREMENT_REASONS = frozenset(p["reason"] for p in family_data("confirm").cues["unsupported_patterns"]
                                      if p.get("not_a_requirement"))


_START_WINDOW = re.compile(r"(?i)\bwithin\s+\d+\s*(?:days?|weeks?|months?)\s+(?:of|after|from)\s+(?:the\s+)?"
                           r"(?:start(?:ing)?|initiat\w*|beginning)\b")
_MULTI_SENTENCE = re.compile(r"[a-z)]\.\s+[A-Z0-9]|\s-\s+[A-Z]")

# organ function required without a threshold ("normal or near-normal liver and kidney function",
# "adequate organ function"): only a person can judge it against the protocol's own limits
_VAGUE_FUNCTION = re.compile(
    r"(?i)\b(?:normal|near[- ]normal|adequate|sufficient|satisfactory|acceptable|good|appropriate|inadequate|"
    r"insufficient)\b[^.;:\d]{0,50}?"
    r"\b(?:organ|liver|hepatic|kidney|renal|bone[- ]marrow|marrow|hematologic\w*|haematologic\w*|hematopoietic|"
    r"cardiac|heart|lung|pulmonary|respiratory|coagulation|laboratory|lab|safety laboratory)\b[^.;:\d]{0,30}?"
    r"\b(?:functions?|reserves?|values?|parameters?|status|tests?)\b")
# the words of its last group: one of them is in every match
_VAGUE_FUNCTION_WORDS = family_data("confirm").cues.words("vague_function_words")


_THRESHOLD_HINT = re.compile(r"\d|[≥≤<>]|\bx\s*uln\b|upper limit", re.IGNORECASE)
# text that is not a requirement ("Not specified", "See Disease Characteristics", "-"): reported as
# such (a header-like entry with the reason), never compiled into a check
_PLACEHOLDER = re.compile(
    r"(?i)^\W*(?:not specified|none specified|not applicable|n/?a|none|see (?:disease|patient) characteristics|"
    r"see (?:above|below|general eligibility criteria)|see (?:inclusion|exclusion) criteria|-+|\.+)\W*$"
    r"|^\W*(?:[A-Za-z][\w/-]*\s+){0,3}(?:status\s+|\w+\s+)?(?:not specified|unspecified|any)\W*$(?<!\bany)"
    r"|^\W*the above information (?:is|was) not intended to contain all considerations"
    # a permissive statement: "Any estrogen receptor (ER), progesterone receptor (PR), HER2 status", "Any HER2
    # status": no requirement on the receptors
    r"|^\W*(?:any|all)\s+(?:(?:er|pr|hr|her-?2|estrogen|oestrogen|progesterone|hormone|hormonal|receptors?|\(\w+\)|"
    r"and|or|,|/|-)\s*)+status(?:es)?\s*(?:is|are)?\s*(?:allowed|eligible|permitted)?\W*$")
# Speed: a pre-check for _PLACEHOLDER (tried on every criterion). Its first two alternatives take the
# whole text and end with one of these words (then only non-word characters); the third starts with
# "the above information"; text without a word character at all is left to the regex.
_PLACEHOLDER_ENDINGS = family_data("confirm").cues.words("placeholder_endings")


def _maybe_placeholder(text: str) -> bool:
    """False only when ``_PLACEHOLDER.match(text)`` cannot match."""
    tl = folded_text(text)
    if tl is None:
        return True
    end = len(tl)
    while end and not (tl[end - 1].isalnum() or tl[end - 1] == "_"):  # re's \w: str.isalnum() or "_"
        end -= 1
    return end == 0 or tl[:end].endswith(_PLACEHOLDER_ENDINGS) or "the above information" in tl


# "Prior adjuvant chemotherapy allowed", "Concurrent steroids permitted": a permission, not a requirement.
# Not taken: prohibitions ("no prior therapy allowed", "not permitted") and conditional permissions
# ("allowed provided ...", "allowed if ..."), whose condition is a requirement of its own.
_PERMISSION = re.compile(r"(?i)\b(?:is|are)?\s*(?:allowed|permitted|acceptable)\s*\.?\s*$")
_PERMISSION_WORDS = family_data("confirm").cues.words("permission_words")
_PERMISSION_NOT = re.compile(
    r"(?i)\b(?:no|not|none|never|without|nor|only|unless|provided|if|when|must|except|but|until|as long as|"
    r"after|before|within|since|at least|more than|less than|no more|up to|maximum|except)\b|[<>≤≥:;]")


_PERMISSION_COND_NOT = re.compile(r"(?i)\b(?:no|not|none|never|without|nor|only|unless|except|but|if|provided)\b|[:;]")


def _is_permission(text: str, kind: str | None = None) -> bool:
    t = text.strip()
    if len(t) > (240 if kind == "exclusion" else 160) or not _may_match(t, _PERMISSION_WORDS) or not _PERMISSION.search(t):
        return False
    head = _PERMISSION.sub("", t)
    if kind == "exclusion":
        # an exclusion item "Use of topical corticosteroids (≤1% hydrocortisone cream) ... is permitted": the
        # bracketed detail narrows what is allowed; the item still excludes nothing
        head = re.sub(r"\([^()]{0,80}\)", " ", head)
        if head.strip() and not _PERMISSION_COND_NOT.search(head):
            # "Use of intranasal corticosteroids at a stable dose for at least 4 weeks prior to screening is
            # permitted": the conditions (dose, time) narrow what is allowed; as an exclusion it excludes nothing
            return True
    return bool(head.strip()) and not _PERMISSION_NOT.search(head)


# "(transfusion allowed)" inside a criterion: a permission, not part of the check
# "(concurrent prednisone allowed provided dose is ≤ 10 mg daily)": the condition narrows the permission
_PAREN_PERMISSION = re.compile(r"(?i)\s*\((?:[^()]{0,60}?\b(?:allowed|permitted|acceptable))"
                               r"(?:\s*,?\s+(?:provided|if|as\s+long\s+as|when|at|up\s+to)\b[^()]{0,60})?\)")

_PROTOCOL_DEFINED = re.compile(
    r"(?i)^\W*(?:note\s*:\s*)?(?:other|additional)\s+protocol[- ](?:defined|specific|dependent)\b[^.;]{0,40}?\bcriteri")


# a rule of some countries only: "In countries where the local regulations permit enrolment of adults only,
# patients must be 18 years of age and older", "(For those countries where local regulations ...)", "Note: Age
# requirements are as specified by local regulations". Where she is treated is not in her record: a person
# checks it; the rule is never applied as if it held everywhere.
_LOCAL_RULE = re.compile(
    r"(?i)\(\s*(?:for|in)\s+(?:those\s+|some\s+|the\s+|all\s+)?(?:countr(?:y|ies)|sites?|regions?|jurisdictions?)\s+"
    r"(?:where|in\s+which|that)\b[^()]*\)"
    r"|(?:^|(?<=[.;:]))\W*(?:note\s*:\s*)?(?:(?:for|in)\s+(?:those\s+|some\s+|the\s+|all\s+)?(?:countr(?:y|ies)|sites?|"
    r"regions?|jurisdictions?)\s+(?:where|in\s+which|that)\b|[^.;:]{0,40}\b(?:as\s+)?(?:specified|defined|required|"
    r"applicable)\s+(?:by|per|under|in)\s+(?:the\s+)?local\s+(?:regulations?|laws?|requirements?))[^.;]*(?:[.;]|$)")


# fitness for a therapy as a judgement ("unfit for chemotherapy", "not a candidate for endocrine therapy",
# "eligible for treatment with fulvestrant", "chemotherapy is not indicated"), up to the therapy's words
_FITNESS_THERAPY = (r"(?:[\w/+-]+\s+){0,4}?(?:chemo\w*|therap\w*|treatments?|regimens?|surgery|surgical\s+\w+|"
                    r"resection|radiation|radiotherapy|transplant\w*|[a-z]+(?:mab|nib|lib|ciclib|strant|zole|fen|xifen|"
                    r"platin|taxel|rubicin))\b(?:\s+with\s+[\w-]+)?")
_FITNESS = re.compile(
    r"(?i)\b(?:(?:considered|deemed|judged)\s+(?:to\s+be\s+)?)?(?:(?:not|in)?\s*(?:un)?fit|(?:in)?eligible|"
    r"(?:not\s+)?(?:an?\s+|good\s+|suitable\s+|appropriate\s+)?candidates?|(?:un)?suitable|(?:in)?appropriate|"
    r"amenable|contraindicated)\s+(?:for|to(?:\s+receive)?)\s+(?:\w+\s+){0,2}?" + _FITNESS_THERAPY +
    r"|\b(?:refus\w*|declin\w*)\s+(?:to\s+(?:receive|undergo)\s+)?" + _FITNESS_THERAPY +
    r"|(?:chemo\w*|therap\w*|treatment)\s+(?:is\s+|are\s+)?(?:not\s+)?(?:indicated|contraindicated|an option)\b")


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_FITNESS',):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


# ----------------------------------------------------------------------------- guards and registration
def _local_rule_guard(c, t: str):
    """A rule of some countries only: the rest of the clause compiled, and a note for a person."""
    if not _LOCAL_RULE.search(t):
        return None
    from trialmatch.criteria.clause import compile_clause

    local = [m.group(0).strip(" .;()") for m in _LOCAL_RULE.finditer(t)]
    rest = _LOCAL_RULE.sub(" ", t)
    note = NeedsConfirmation(category="other", reason=f"a rule of some countries only, to check where she is "
                                                      f"treated: {local[0][:100]!r}")
    return [*compile_clause(rest, c.kind), note] if rest.strip(" .;,()") else [note]


def _paren_permission_guard(c, t: str):
    """"(transfusion allowed)" is taken out of the clause; a dose it permits limits the drug checks."""
    permitted_dose = None
    for pm in _PAREN_PERMISSION.finditer(t):
        if not re.search(r"(?i)\b(?:no|not|nor)\b", pm.group(0)):
            permitted_dose = permitted_dose or _PERMITTED_DOSE.search(pm.group(0))
    t = _PAREN_PERMISSION.sub(lambda m: m.group(0) if re.search(r"(?i)\b(?:no|not|nor)\b", m.group(0)) else " ", t)
    c.set_text(t)
    if permitted_dose is not None:
        from trialmatch.criteria.clause import compile_clause

        return [_dose_permitted(a, permitted_dose) for a in compile_clause(t, c.kind)]
    return None




def _unsupported_guard(c, t: str):
    for rx, why, words in _UNSUPPORTED_PATTERNS:
        if _may_match(t, words) and rx.search(t):
            return [Unsupported(reason=why)]
    return None


def _start_window_guard(c, t: str):
    if _START_WINDOW.search(t) and (_MULTI_SENTENCE.search(t) or _any(r"\bplann|\bscheduled", t)):
        # several sentences around a window "of starting study treatment": each extractor would take the
        # window for its own concept; not compiled rather than misread
        return [Unsupported(reason="several requirements in one criterion around a window from the start of study "
                                   "treatment: not compiled")]
    return None


def _protocol_defined_guard(c, t: str):
    if _PROTOCOL_DEFINED.search(t):
        return [NeedsConfirmation(category="other", reason="further criteria are defined in the protocol and not "
                                                           "listed here: a person must check them")]
    return None


# more requirements with no threshold of their own ("Adequate blood counts", "AST and ALT must be in the acceptable
# range", "within the parameters specified in protocol"): ``cues.vague_requirement_patterns`` of confirm.json
_VAGUE_MORE = re.compile("|".join(family_data("confirm").cues["vague_requirement_patterns"]), re.IGNORECASE)


def _vague_function_guard(c, t: str):
    vm = _VAGUE_FUNCTION.search(t) if _may_match(t, _VAGUE_FUNCTION_WORDS) else None
    vm = vm or _VAGUE_MORE.search(t)
    if vm and not _THRESHOLD_HINT.search(t):
        return [NeedsConfirmation(category="other", reason=f"no defined threshold: '{vm.group(0)}' must be judged "
                                                           "by a person against the protocol's limits")]
    return None


_STRONG_CONFIRM = frozenset(family_data("confirm").cues.words("strong_categories"))


def _confirm_guard(c, t: str):
    """A confirmation cue (kept for the clause as ``c.conf``); a strong one with no comparison beside it is
    the clause's whole result."""
    conf = c.conf = _confirm(t)
    strong_conf = conf is not None and conf.category in _STRONG_CONFIRM
    if strong_conf and conf.category == "tissue_available" and _genes(t):
        strong_conf = False  # "PIK3CA mutation in tumour tissue or ctDNA": the tissue is where it is found
    if strong_conf and not any(not q.window for q in find_quantities(t)):
        return [conf]
    return None


def _fitness(c, t: str) -> list:
    """"considered unfit for chemotherapy", "candidate for endocrine therapy": a clinician's judgement on a
    therapy she may get, not a therapy she has had (the match is kept as ``c.fit``)."""
    fit = c.fit = _FITNESS.search(t)
    if fit is None:
        return []
    return [NeedsConfirmation(category="investigator_judgement", reason=f"a clinician's judgement: '{fit.group(0).strip()}'")]


register("confirm", "local_rule", _local_rule_guard, takes="clause")
register("confirm", "paren_permission", _paren_permission_guard, takes="clause")
register("confirm", "unsupported_pattern", _unsupported_guard, takes="clause")
register("confirm", "start_window", _start_window_guard, takes="clause")
register("confirm", "protocol_defined", _protocol_defined_guard, takes="clause")
register("confirm", "vague_function", _vague_function_guard, takes="clause")
register("confirm", "confirm", _confirm_guard, takes="clause")
register("confirm", "fitness", _fitness, takes="clause")


def _check_confirm_cues() -> None:
    """Every confirmation cue reads as its own category, or is listed in ``cues.shadowed_cues`` with the
    category it reads as (a cue of a category tried earlier matches it too)."""
    data = family_data("confirm")
    categories, order = list(data.cues["categories"]), list(data.cues.words("category_order"))
    if sorted(categories) != sorted(order) or len(set(order)) != len(order):
        raise ValueError(f"confirm.json: cues.category_order {order} must list every category of cues.categories "
                         f"{categories} once")
    declared = {(s["category"], s["cue"]): s["read_as"] for s in data.cues["shadowed_cues"]}
    found = {}
    for cat, cues in data.rules["confirm"].items():
        for cue in cues:
            got = _confirm(cue)
            if got is None or got.category != cat:
                found[(cat, cue)] = None if got is None else got.category
    if found != declared:
        raise ValueError(f"confirm.json: confirmation cues that do not read as their own category: {found}; "
                         f"cues.shadowed_cues declares {declared} (they must be the same)")


_check_confirm_cues()
