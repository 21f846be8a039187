"""The structure stage of compiling a trial's criteria: what a list of sub-criteria means as a whole.

Runs after every criterion has been compiled on its own (``compile._build``) and rewrites the expressions of
headings and their items in place:

* :func:`_alternative_lists`: items that are alternatives ("meets one of the following criteria:", "with >= 1 of
  the following risk factors:", "from the following primary tumours:", items naming different cancers, cohort
  headings "Cohort A:" / "Phase 3 only:") become one ``AnyOf`` (a cohort: the ``AllOf`` of its items);
* :func:`_listed_exceptions`: items listed as exceptions to their heading are permissions;
* :func:`_treated_or_ineligible_lists`: items under "prior treatment with, or ineligibility for, each of the
  following" hold by the therapy or by a person's judgement.
"""

from __future__ import annotations

import re

from trialmatch.criteria.model import (
    AllOf, AnyOf, Criterion, Diagnosis, IfThen, NeedsConfirmation, PriorTherapy, Receptor, iter_atoms,
)

__all__ = ["_alternative_lists", "_exclusive_statuses_as_alternatives", "_listed_exceptions", "_treated_or_ineligible_lists"]


def _compile_api():
    """``compile_criterion_text``, ``_clone`` and ``_status`` of the compiler (imported when first used: the
    compiler imports this module)."""
    from trialmatch.criteria.compile import _clone, _status, compile_criterion_text

    return compile_criterion_text, _clone, _status


# a heading whose items are alternatives: "meets one of the following criteria:", "with >= 1 of the following risk
# factors:", "at least one of the following:", "any of the following:" ("all of the following" is the default reading)
_ANY_OF_HEAD = re.compile(
    r"(?i)(?:\b(?:at\s+least|a\s+minimum\s+of)\s+(?:one|1)|(?:≥|>=|>\s*/?=)\s*(?:one|1)|\b(?:one|1|any|either))\s+"
    r"(?:or\s+more\s+)?(?:\([^()]{0,10}\)\s+)?of\s+(?:the\s+)?(?:following|these|below)\b")
# a heading that introduces populations: "... from the following primary tumours:", "the following cohorts:"
_POPULATION_HEAD = re.compile(
    r"(?i)\bfollowing\s+(?:\w+\s+){0,2}?(?:tumou?rs?|tumou?r\s+types?|cancers?|cancer\s+types?|malignanc\w+|"
    r"indications?|populations?|cohorts?|arms?|diseases?|diagnos[ie]s|histolog\w*)\b[^:]{0,80}:\s*$")
# one cohort of a basket / multi-cohort trial: "Cohort A:", "Arm 1 (HR+): ...", "Phase 3 only:", "HR+ cohort:",
# "TNBC cohort", "Part B - dose expansion:"
_COHORT_HEAD = re.compile(
    r"(?i)^\W*(?:(?:cohorts?|arms?|groups?|strat(?:um|a)|sub-?stud(?:y|ies)|modules?)\s+(?:[A-Z]{1,2}|\d{1,2}[a-z]?|"
    r"[IVX]{1,4})\b(?:\s*[-–(:)][^:]{0,80}|\s*$)|(?:phase|part)\s+(?:[A-Z]|\d[a-z]?|[IVX]{1,3})\b[^:]{0,60}:|"
    r"[^:.;]{1,40}?\s+(?:cohorts?|arms?)\s*(?::|$)|[^:.;]{1,40}?\bonly\s*:\s*$)")
_DEPTH_SEP = "."
# an item that is only a name, perhaps with a note ("HRPC (Note that study treatment may be the first chemotherapy)"):
# in a list of cancers, one more population the vocabulary does not know
_BARE_NAME = re.compile(r"^\W*[A-Za-z][\w/-]*(?:\s+[A-Za-z][\w/-]*){0,3}\s*(?:\([^()]*\))?\W*$")
_NEGATED_HEAD = re.compile(r"(?i)\b(?:no|not|none|without|never|neither|nor|exclud\w*|cannot|can't)\b")


def _subtree_expr(c: Criterion, kids: dict[str, list[Criterion]]):
    """What a criterion and its sub-criteria require together (``AllOf``; None when nothing)."""
    parts = [c.expression] if c.expression is not None else []
    for k in kids.get(c.id, ()):
        e = _subtree_expr(k, kids)
        if e is not None:
            parts.append(e)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(items=parts)


def _distinct_cancers(c: Criterion) -> set[str]:
    if c.expression is None:
        return set()
    return {a.cancer_type for a in iter_atoms(c.expression) if isinstance(a, Diagnosis)}


def _with_descendants(items: list[Criterion], kids: dict):
    """Each of ``items`` and every criterion listed under it, at any depth."""
    stack = list(items)
    while stack:
        k = stack.pop()
        yield k
        stack.extend(kids.get(k.id, ()))


def _cover(holder: Criterion, items: list[Criterion], kids: dict, source_text: str | None) -> None:
    """The holder of a list of alternatives is the whole list: its span (and text) run to the end of its last item."""
    if not source_text:
        return
    end = max([holder.span[1], *(k.span[1] for k in _with_descendants(items, kids))])
    if end > holder.span[1]:
        holder.span = (holder.span[0], end)
        holder.text = source_text[holder.span[0]:end]


def _alternative_lists(crits: list[Criterion], source_text: str | None = None) -> None:
    """Inclusion lists whose items are alternatives, not a conjunction:

    * items under a heading that asks for one of them (``_ANY_OF_HEAD``: "meets one of the following criteria:",
      "with >= 1 of the following risk factors:") or that introduces populations (``_POPULATION_HEAD``: "from the
      following primary tumours:");
    * items (under a heading ending with ":") that each name a different primary cancer ("Breast cancer",
      "Prostate cancer"): she cannot be required to have all of them;
    * a run of sibling cohort headings ("Cohort A: ...", "Phase 3 only:", "HR+ cohort:"): each cohort is the
      ``AllOf`` of its own items, the cohorts are alternatives.

    The heading (or the first cohort, when the cohorts have no common heading) gets ``AllOf(own check,
    AnyOf(items))`` and every item's own expression becomes None, with a reason naming where it is checked; the
    holder's span and text then cover the whole list (``source_text``: the text the spans index).
    Lists are read from the deepest up, so a cohort whose items are alternatives is one alternative above."""
    _compile_text, _clone, _status = _compile_api()
    kids: dict[str | None, list[Criterion]] = {}
    for c in crits:
        kids.setdefault(c.parent, []).append(c)

    def absorb(holder: Criterion, items: list[Criterion], own, why: str) -> None:
        alts = []
        for k in items:
            e = _subtree_expr(k, kids)
            if e is not None and not any(e == x for x in alts):
                alts.append(_clone(e))
        if len(alts) < 2:
            return
        anyof = AnyOf(items=alts)
        holder.expression = anyof if own is None else AllOf(items=[own, anyof])
        holder.status, holder.reason = _status(holder.expression)
        holder.reason = (holder.reason + "; " if holder.reason else "") + why
        _cover(holder, items, kids, source_text)
        for k in _with_descendants(items, kids):
            if k is not holder:
                k.expression, k.status = None, "compiled"
                k.reason = f"an alternative listed under {holder.id}: checked there"

    depth_first = sorted((c for c in crits if c.kind == "inclusion"), key=lambda c: -c.id.count(_DEPTH_SEP))
    done: set[str] = set()
    for c in depth_first:
        if c.id in done or c.id not in kids or (c.reason or "").startswith("one of the "):
            continue
        items = [k for k in kids[c.id] if not (k.reason or "").startswith("one of the alternatives")]
        head = c.text.strip()
        if len(items) < 2:
            continue
        if _NEGATED_HEAD.search(head):
            continue  # "No concurrent treatment with any of the following:": each item is excluded on its own
        if _ANY_OF_HEAD.search(head) or _POPULATION_HEAD.search(head):
            chosen, why = items, f"one of the {len(items)} items listed under it"
        elif head.endswith(":") and sum(1 for k in items if _distinct_cancers(k)) >= 2 and len(
                set().union(*(_distinct_cancers(k) for k in items))) >= 2:
            run = []
            for k in items:  # the leading run of items that name a cancer (requirements of their own may follow)
                if not _distinct_cancers(k) and k.id not in kids and not _BARE_NAME.match(k.text):
                    break
                run.append(k)
            chosen, why = run, f"one of the {len(run)} cancers listed under it"
        else:
            continue
        own = c.expression
        if own is not None and (c.reason or "").startswith("introduces"):
            own = None
        done.add(c.id)
        absorb(c, chosen, own, why)
    # runs of sibling cohort headings (under one heading or at the top level): the first cohort holds them all
    for sibs in kids.values():
        run: list[Criterion] = []
        for k in sibs + [None]:
            if k is not None and k.kind == "inclusion" and _COHORT_HEAD.match(k.text) and (
                    k.expression is not None or k.id in kids):
                run.append(k)
                continue
            if len(run) >= 2:
                alts = [e for e in (_subtree_expr(r, kids) for r in run) if e is not None]
                if len(alts) >= 2:
                    holder = run[0]
                    for x in _with_descendants(run, kids):
                        if x is not holder:
                            x.expression, x.status = None, "compiled"
                            x.reason = f"an alternative cohort, checked under {holder.id}"
                    _cover(holder, run, kids, source_text)
                    holder.expression = AnyOf(items=[_clone(e) for e in alts])
                    holder.status, holder.reason = _status(holder.expression)
                    holder.reason = (holder.reason + "; " if holder.reason else "") + \
                        f"one of the {len(run)} cohorts {run[0].id}-{run[-1].id}"
            run = []


# a heading whose items are exceptions to it: "... The following are exceptions to this criterion:", "Exceptions:",
# "except the following:", "The following are allowed:"
_EXCEPTIONS_HEAD = re.compile(
    r"(?i)(?:[.;:]\s*|^)(?:the\s+following\s+(?:are|is|will\s+be)\s+(?:(?:the\s+)?exceptions?|exempt|allowed|permitted|eligible|"
    r"not\s+excluded)(?:\s+(?:to|from)\s+this\s+(?:criterion|exclusion))?|exceptions?(?:\s+to\s+this\s+criterion)?(?:\s+are|\s+include)?"
    r"|(?:with\s+the\s+)?except(?:ion)?(?:\s+of)?\s+the\s+following)\s*:\s*$")
# a prohibition with its exceptions after it in the sentence: "No prior malignancy with the exceptions listed below:"
# (the exceptions to a requirement, "required to have prior pertuzumab with the exceptions listed below:", are not
# permissions: that heading keeps its items)
_PROHIBITION_EXCEPTIONS_HEAD = re.compile(r"(?i)^\W*no\s+[^:]*?\s(?P<exc>with\s+the\s+exceptions?\s+(?:(?:listed\s+)?(?:below|as\s+follows)"
                                          r"|of\s+the\s+following))\s*:\s*$")


def _listed_exceptions(crits: list[Criterion]) -> None:
    """Items listed as exceptions to their heading ("Active or prior autoimmune disorders (...). The following are
    exceptions to this criterion:" / "Patients with vitiligo or alopecia." / ...) are what the heading allows, not
    criteria of their own: each becomes a permission (expression None), and the heading keeps the check its own
    sentence states (before the exceptions' introduction)."""
    compile_criterion_text, _clone, _status = _compile_api()
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    for c in crits:
        if c.id not in kids:
            continue
        m = _EXCEPTIONS_HEAD.search(c.text.strip())
        start = m.start() if m is not None else None
        if m is None and (m := _PROHIBITION_EXCEPTIONS_HEAD.match(c.text.strip())) is not None:
            start = m.start("exc")
        if m is None:
            continue
        own_text = c.text.strip()[:start].strip(" .;:")
        if own_text:
            e, st, why = compile_criterion_text(own_text, c.kind)
            c.expression, c.status, c.reason = e, st, why
        else:
            c.expression, c.status, c.reason = None, "compiled", None
        c.reason = (c.reason + "; " if c.reason else "") + f"its {len(kids[c.id])} listed exceptions are allowed"
        for k in _with_descendants(kids[c.id], kids):
            k.expression, k.status = None, "compiled"
            k.reason = f"not a requirement: an exception to {c.id} (states what is allowed)"


# "Prior treatment with, ineligibility for, or commercial unavailability of each of the following therapies:": each
# item is met by the therapy she had, or by a judgement that she cannot have it
_TREATED_OR_INELIGIBLE_HEAD = re.compile(
    r"(?i)\b(?:(?:prior|previous)\s+(?:treatment|therapy)\s+with|previously\s+(?:treated|received)|(?:have|has)\s+(?:received|been\s+treated\s+with))"
    r"\b[^:]{0,40}?\b(?:or\s+)?(?:be\s+)?(?:ineligib\w*|contraindicat\w*|intoleran\w*|unsuitab\w*|unavailab\w*|not\s+(?:be\s+)?(?:a\s+)?"
    r"(?:candidates?|suitable|eligible))\b[^:]{0,120}:\s*$")


# an item whose availability or extent only a person can judge: "Ixabepilone in countries where this agent is
# marketed", "where available", "All other marketed therapies, eg, gemcitabine or vinorelbine"
_OPEN_ITEM = re.compile(
    r"(?i)\b(?:in\s+(?:the\s+)?(?:countries|regions?)\s+where|where\s+(?:(?:it|this\s+(?:agent|drug|therapy))\s+is\s+)?"
    r"(?:available|marketed|approved|licensed)|if\s+(?:available|marketed|approved))\b|^\W*(?:all|any)\s+other\b")


def _each_listed_agent(e, item: str):
    """"Anthracyclines, taxanes, and capecitabine." under "each of the following therapies": each class is asked
    for (``AllOf`` of one ``PriorTherapy`` per agent), not any one of them; an item that says "or" keeps them as
    alternatives."""
    if (isinstance(e, PriorTherapy) and len(e.agents) > 1 and re.search(r"(?i)\band\b|&", item)
            and not re.search(r"(?i)\b(?:or|and/or|either|any)\b", item)):
        return AllOf(items=[e.model_copy(update={"agents": [a]}) for a in e.agents])
    return e


def _for_subtype_only(e, alternative):
    """``AnyOf(therapy, alternative)``; "Trastuzumab for HER2-positive disease" in a list of therapies she must have
    had asks it of that subtype only: ``IfThen(receptor status, AnyOf(therapy, alternative))``."""
    if isinstance(e, AllOf):
        rec = [x for x in e.items if isinstance(x, Receptor)]
        rest = [x for x in e.items if not isinstance(x, Receptor)]
        if rec and rest and any(isinstance(a, PriorTherapy) for x in rest for a in iter_atoms(x)):
            cond = rec[0] if len(rec) == 1 else AllOf(items=rec)
            then = rest[0] if len(rest) == 1 else AllOf(items=rest)
            return IfThen(condition=cond, then=AnyOf(items=[then, alternative]))
    return AnyOf(items=[e, alternative])


def _treated_or_ineligible_lists(crits: list[Criterion]) -> None:
    """Items under a heading that asks for each therapy she had *or* could not have (``_TREATED_OR_INELIGIBLE_HEAD``)
    hold by that therapy in her history or by a person's judgement: ``AnyOf(prior therapy, NeedsConfirmation)``
    (the item read as "Prior treatment with <item>"), not the therapy alone; the heading is a header."""
    compile_criterion_text, _clone, _status = _compile_api()
    kids: dict[str, list[Criterion]] = {}
    for c in crits:
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c)
    for c in crits:
        if c.kind != "inclusion" or c.id not in kids or not _TREATED_OR_INELIGIBLE_HEAD.search(c.text.strip()):
            continue
        for k in kids[c.id]:
            item = k.text.strip().rstrip(".;,")
            e, st, _why = compile_criterion_text(f"Prior treatment with {item[:1].lower() + item[1:]}", k.kind)
            if e is None or st == "unsupported" or not any(isinstance(a, PriorTherapy) for a in iter_atoms(e)):
                e = k.expression
                if e is None or not any(isinstance(a, PriorTherapy) for a in iter_atoms(e)):
                    continue
            e = _each_listed_agent(e, item)
            if _OPEN_ITEM.search(item):
                # "in countries where this agent is marketed", "all other marketed therapies": whether it is
                # available to her, or what "all other" takes in, is a person's call
                conf = NeedsConfirmation(category="investigator_judgement",
                                         reason=f"or she is ineligible for it / it is unavailable (as {c.id} allows): "
                                                "a person must judge")
            else:
                # the record names no judgement that she cannot have it: the therapy she had decides, and a
                # person may still grant the alternative
                conf = NeedsConfirmation(category="investigator_judgement",
                                         alternative_to=sorted({g for x in iter_atoms(e) if isinstance(x, PriorTherapy)
                                                                for g in x.agents}),
                                         reason=f"or she is ineligible for it / it is unavailable (as {c.id} allows): "
                                                "a person must judge")
            k.expression = _for_subtype_only(e, conf)
            k.status, k.reason = _status(k.expression)
            k.reason = (k.reason + "; " if k.reason else "") + f"treated with it, or unable to have it ({c.id})"
        c.expression, c.status = None, "compiled"
        c.reason = f"introduces {len(kids[c.id])} therapies, each had or not possible for her"


def _receptor_alternatives(a):
    """An ``AllOf`` of receptor atoms only (one extractor's reading of "HER2+, HER2-low or HER2-ultralow") with
    its exclusive statuses made alternatives (see ``_exclusive_statuses_as_alternatives``)."""
    if isinstance(a, AllOf) and len(a.items) > 1 and all(isinstance(x, Receptor) for x in a.items):
        items = _exclusive_statuses_as_alternatives(list(a.items))
        if len(items) != len(a.items):
            return items[0] if len(items) == 1 else AllOf(items=items)
    return a


def _exclusive_statuses_as_alternatives(atoms: list) -> list:
    """Inclusion atoms that cannot all hold ("HER2+, HER2-low or HER2-ultralow": one receptor, several statuses)
    are the clause's alternatives: one ``AnyOf`` in the place of the first of them."""
    atoms = [_receptor_alternatives(a) for a in atoms]
    by_receptor: dict[str, list] = {}
    for a in atoms:
        if isinstance(a, Receptor):
            by_receptor.setdefault(a.receptor, []).append(a)
    groups = [g for g in by_receptor.values() if len(g) > 1 and len({x.status for x in g}) > 1]
    if not groups:
        return atoms
    out = []
    for a in atoms:
        g = next((g for g in groups if any(a is x for x in g)), None)
        if g is None:
            out.append(a)
        elif a is g[0]:
            out.append(AnyOf(items=list(g)))
    return out
