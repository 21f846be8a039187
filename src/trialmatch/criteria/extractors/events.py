"""Extractors of recent events (surgery, myocardial infarction, radiotherapy, investigational drugs, ...)
and of "at least N weeks since X" windows.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.common import NUM, TIME, _STOP, _any, _dur
from trialmatch.criteria.extractors.therapy import _FREE_AGENT_STOP, _drug_like_names, _prior_therapy
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import ConcomitantMedication, MarrowRadiotherapy, Not, PriorTherapy, Range, RecentEvent
from trialmatch.criteria.rules import rules


# an event's window: "within the last 6 months", "6 months prior", "less than 6 months" (compiled once)
_EVENT_WINDOW_RES = (
    re.compile(r"(?i)(?:within|in|during)\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+|preceding\s+)?" + NUM + r"\s*" + TIME),
    re.compile(r"(?i)" + NUM + r"\s*" + TIME + r"\s*(?:prior|before|of|preceding)"),
    re.compile(r"(?i)(?:less than|<|≤)\s*" + NUM + r"\s*" + TIME),
)


def _events(t: str) -> list:
    out = []
    r = rules()
    first = r.event_any.search(t)
    if not first:
        return out
    wm = _EVENT_WINDOW_RES[0].search(t) or _EVENT_WINDOW_RES[1].search(t) or _EVENT_WINDOW_RES[2].search(t)
    within = _dur(wm.group(1), wm.group(2)) if wm else None
    for key, rx in r.event_re.items():
        m = rx.search(t, first.start())  # no event cue starts before the first cue of any event (see _confirm)
        if not m:
            continue
        if key == "major_surgery" and not (within or _any(r"major|recent", t)):
            continue
        if key in ("myocardial_infarction", "stroke", "thromboembolism") and within is None:
            continue  # without a window these are conditions
        if key == "radiotherapy":
            causes = [c.span() for c in _RT_CAUSE.finditer(t)]
            if causes and all(any(a <= x.start() < b for a, b in causes) for x in rx.finditer(t)):
                continue  # "history of radiation pneumonitis": the condition, radiation only its cause
            after = "diagnosis" if _any(r"after (?:the )?diagnosis", t) else None
            if within is None and after is None and not _any(r"prior|previous|history|received", t):
                continue
            site = "breast" if _any(r"breast radio|radiotherapy (?:to|of) the breast|local breast", t) else None
            out.append(RecentEvent(event=key, within=within, after=after, site=site))
            continue
        if key == "investigational_drug" and not (within or _any(r"participat|receiv|current|concurrent|treated", t)):
            continue
        if key == "investigational_drug" and within is None and _any(
                r"\b(?:concurrent(?:ly)?|current(?:ly)?|concomitant|ongoing|(?:is|are|be)\s+receiving|(?:is|are|be)\s+taking)\b", t):
            out.append(ConcomitantMedication(classes=["investigational_drug"]))  # taking one now, not ever
            continue
        out.append(RecentEvent(event=key, within=within))
    return out
_SINCE_RE = re.compile(
    r"(?i)^\W*(?P<op>at least|more than|greater than|over|a minimum of|minimum of|no less than|not less than|≥|>=|>|"
    r"no more than|not more than|less than|fewer than|within|up to|≤|<=|<)\s*(?P<n>\d+(?:\.\d+)?|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|twelve)\s*(?P<u>days?|weeks?|wks?|months?|mo|years?|yrs?)\b\s+(?:must\s+have\s+(?:elapsed|passed)\s+)?"
    r"(?:since|from)\s+(?P<what>[^;]+?)\s*\.?$")


_N_UNIT = (r"(?P<n>\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*"
           r"(?P<u>days?|weeks?|wks?|months?|mo|years?|yrs?)\b")
# the same window said otherwise, rewritten as "at least N weeks since prior X":
# a washout item "Hormonal therapy: >= 2 weeks" (under "adequate washout period ... from:");
_WASHOUT_ITEM_RE = re.compile(r"(?i)^\W*(?P<what>[A-Za-z][^:;]{1,140}?)\s*:\s*(?:≥|>=|\\?>|at\s+least|more\s+than|a\s+minimum\s+of)"
                              r"\s*" + _N_UNIT + r"(?:\s*(?:\([^()]*\)|\[[^\[\]]*\]|or\b.*|;.*|\.))*\s*$")
# "Prior radiotherapy must have been completed 2 weeks prior to first dose", "... must be discontinued at least 14 days
# before randomisation";
_COMPLETED_BEFORE_RE = re.compile(
    r"(?i)^\W*(?P<what>[A-Za-z][^.;:]{1,80}?)\s+(?:must|should|will\s+need\s+to|need\s+to|has\s+to|have\s+to)\s+(?:have\s+)?(?:been\s+|be\s+)?"
    r"(?:completed|discontinued|stopped|finished|ended|terminated)\s+(?:at\s+least\s+|≥\s*|>=\s*|a\s+minimum\s+of\s+|more\s+than\s+)?"
    + _N_UNIT + r"\s+(?:prior\s+to|before|preceding)\b")
# "Patients must be at least 28 days post immunosuppressants", "must be >= 4 weeks from last chemotherapy"
_POST_RE = re.compile(
    r"(?i)^\W*(?:(?:patients?|participants?|subjects?)\s+)?(?:must|should)\s+be\s+(?:at\s+least|≥|>=|more\s+than|a\s+minimum\s+of)\s*"
    + _N_UNIT + r"\s+(?:post|after|from|since|beyond|out\s+from)\s+(?:the\s+)?(?:(?:last|final)\s+(?:dose\s+of\s+)?)?(?P<what>[^.;]{2,80}?)\s*\.?$")


def _since_rewrite(t: str) -> str | None:
    """"at least N <unit> since prior <what>" for a window said another way (``_WASHOUT_ITEM_RE``,
    ``_COMPLETED_BEFORE_RE``, ``_POST_RE``), else None."""
    if not re.search(r"\d|one|two|three|four|five|six|seven|eight|nine|ten|twelve", t):
        return None
    m = _WASHOUT_ITEM_RE.match(t) or _COMPLETED_BEFORE_RE.match(t) or _POST_RE.match(t)
    if m is None:
        return None
    what = re.sub(r"\s*\([^()]*\)", "", m.group("what")).strip()
    what = re.sub(r"(?i)^(?:any\s+)?(?:prior|previous|last)\s+", "", what)
    if not what or re.match(r"(?i)(?:patients?|participants?|subjects?|she|he|they)\b", what):
        return None
    return f"at least {m.group('n')} {m.group('u')} since prior {what}"


def _since_window(t: str, kind: str):
    """"At least 4 weeks since prior chemotherapy" -> NOT(chemotherapy within 4 weeks); "no more than 6
    weeks since surgery" -> surgery within 6 weeks. The event is a therapy (drug/class vocabulary, or a
    drug-like name) or a vocabulary event (surgery, radiotherapy, ...); anything else is not compiled.
    The same window said otherwise ("Hormonal therapy: >= 2 weeks" in a washout list, "Prior radiotherapy
    must have been completed 2 weeks prior to first dose", "must be at least 28 days post immunosuppressants")
    reads as "at least N weeks since" (``_since_rewrite``)."""
    m = _SINCE_RE.match(t)
    if not m:
        rw = _since_rewrite(t)
        m = _SINCE_RE.match(rw) if rw is not None else None
    if not m:
        return None
    dur = _dur(m.group("n"), m.group("u"))
    what = m.group("what")
    # "at least 4 weeks since prior and no concurrent amiodarone": taking it now is taking it within the window
    what = re.sub(r"(?i)^\s*(?:any\s+)?prior\s+(?:and|or)\s+(?:no\s+)?(?:concurrent|concomitant)\s+", "prior ", what)
    what = re.sub(r"(?i)^\s*(?:the\s+)?(?:(?:last|final)\s+(?:dose|administration)|completion|end)\s+of\s+(?:prior\s+)?",
                  "prior ", what)
    what_l = what.lower()
    long_ago = m.group("op").lower() in ("at least", "more than", "greater than", "over", "a minimum of", "minimum of",
                                         "no less than", "not less than", "≥", ">=", ">")
    atom = None
    pts = [a for a in _prior_therapy(what if re.search(r"(?i)\b(?:prior|previous|last)\b", what) else "prior " + what, kind)
           if isinstance(a, PriorTherapy)]
    if pts:
        atom = pts[0].model_copy(update={"within": dur, "progressed": None, "settings": ["any"],
                                         "lines": Range(low=1)})
    else:
        names = _drug_like_names(re.sub(r"(?i)^\s*(?:prior|previous|last)\s+", "", what))
        if names:
            atom = PriorTherapy(agents=names, within=dur)
        for key, rx in (() if atom is not None else rules().event_re.items()):
            if rx.search(what):
                if key == "major_surgery" and "major" not in what_l:
                    key = "surgery"
                atom = RecentEvent(event=key, within=dur)
                break
        if atom is None and _any(r"\bsurg|\boperation|resection|biopsy|mastectomy|lumpectomy", what_l):
            atom = RecentEvent(event="surgery", within=dur)
        if atom is None and _any(r"\birradiation\b|\bradiation\b", what_l):
            atom = RecentEvent(event="radiotherapy", within=dur)
        if atom is None:
            # a therapy named as written ("prior biologic therapy", "prior valproic acid"): the name as the agent
            name = re.sub(r"(?i)^\s*(?:any\s+)?(?:prior|previous|last)\s+", "", what).strip(" .")
            words = name.split()
            if 1 <= len(words) <= 3 and all(re.fullmatch(r"[A-Za-z][A-Za-z-]*", w) for w in words) and \
                    not all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words) and \
                    words[0].lower() not in ("the", "diagnosis", "study", "randomization", "registration", "enrollment",
                                             "completion", "end", "start", "onset", "first", "progression", "recurrence",
                                             "relapse", "resolution", "recovery", "disease", "menopause", "menses"):
                atom = PriorTherapy(agents=[name.lower()], within=dur)
    if atom is None:
        return None
    return Not(item=atom) if long_ago else atom


def _since_window_guard(c, t: str):
    sw = _since_window(t, c.kind)
    return None if sw is None else [sw]


register("events", "since_window", _since_window_guard, takes="clause")

_RT_CAUSE = re.compile(family_data("events").cues["radiation_as_cause"]["pattern"], re.IGNORECASE)
_MARROW_RT = re.compile(family_data("events").cues["marrow_radiotherapy"]["pattern"], re.IGNORECASE)


def _marrow_radiotherapy_guard(c, t: str):
    """'Prior radiotherapy to > 25% of the bone marrow': the share of marrow irradiated (a guard: the
    clause is about this share, not about any radiotherapy within a window)."""
    m = _MARROW_RT.search(t)
    return [MarrowRadiotherapy(min_percent=float(m.group("pct")))] if m else None


register("events", "marrow_radiotherapy", _marrow_radiotherapy_guard, takes="clause")
register("events", "events", _events)


def _check_event_cues() -> None:
    """Every event cue holds a word of the events gate, else the gate would skip a clause that names it."""
    gate = family_data("events").extractors["events"].gate.words()
    for key, cues in rules().events.items():  # the event concepts' criterion cues (trialmatch.vocab.concepts)
        for cue in cues:
            if not any(w in cue.lower() for w in gate):
                raise ValueError(f"concept {key!r} (criterion_cues.events): the cue {cue!r} holds none of the events "
                                 f"gate words of events.json "
                                 f"{list(gate)}: the gate would skip it (add a gate word)")


_check_event_cues()
