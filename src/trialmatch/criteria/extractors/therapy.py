"""Extractors of therapies: prior therapy (lines, settings, windows, exceptions), concomitant and
concurrent medications, use within a window, dose limits.
"""

from __future__ import annotations

import re
from typing import Any

from trialmatch.criteria.extractors.common import NUM, TIME, _SEP_RUN, _STOP, _any, _any_of, _dur, _may_match, _num
from trialmatch.criteria.extractors.disease import _CANCER_WORDS
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import (
    AllOf, ConcomitantMedication, CumulativeDose, Condition, Except, Measurement, Not, OtherMalignancy, PriorTherapy,
    Range, Unsupported,
)
from trialmatch.criteria.rules import FoldedPattern, vocab_find, vocab_regexes
from trialmatch.vocab import class_ancestors, drug_classes


_BONE_TARGETED = re.compile(r"(?i)\bbone[- ](?=targeted\b)")
_INHIBITOR_LIST = re.compile(
    r"(?i)\b((?:[A-Za-z][\w/-]{1,9}\s*,\s*)*[A-Za-z][\w/-]{1,9})(?:\s*,\s*|\s+)(?:or|and|and/or)\s+([A-Za-z][\w/-]{1,9})\s+"
    r"(inhibitors?|antagonists?|agonists?)\b")
_LIST_SKIP = frozenset(family_data("therapy").cues.words("inhibitor_list_skip"))  # words of 'X, Y or Z inhibitors' that are not target names


_DOSE_ANCHOR = re.compile(
    r"(?i)\b((?:prior\s+to|before|preceding|after|following|from|of)\s+(?:the\s+)?(?:first|initial|1st|last|final)\s+"
    r"(?:dose|administration|infusion)s?\s+of\s+(?:the\s+)?)(?!study\b|trial\b|investigational\b|protocol\b)"
    r"[A-Za-z][\w-]*(?=\s*(?:[:;,.()]|$|\b(?:and|or|in|on|is|are|was|were|within|for)\b))")


def _agent_text(t: str) -> str:
    """``t`` as the agent search reads it: "bone-targeted agents" is not "targeted agents", and
    "PI3K, AKT or mTOR inhibitor" names three classes ("PI3K inhibitor, AKT inhibitor or mTOR inhibitor")."""
    if "\\" in t:
        t = t.replace("\\<", "<").replace("\\>", ">")  # CT.gov markdown: "failed \\< 5 prior lines"
    if "bone" in t or "Bone" in t:
        t = _BONE_TARGETED.sub("bone_", t)
    if "dose" in t or "administration" in t or "infusion" in t:
        # "within 28 days prior to the first dose of cyclophosphamide": the study drug is the window's
        # anchor, not a prior therapy the patient must (not) have had
        t = _DOSE_ANCHOR.sub(lambda m: m.group(1) + "study drug", t)
    if "nhibitor" in t or "gonist" in t:
        def expand(m: re.Match) -> str:
            heads = [h.strip() for h in m.group(1).split(",")] + [m.group(2)]
            if any(h.lower() in _LIST_SKIP or len(re.findall(r"[A-Z0-9]", h)) < 2 for h in heads):
                return m.group(0)  # only target names ("PI3K", "mTOR", "EGFR"), not words ("aromatase")
            return ", ".join(f"{h} {m.group(3)}" for h in heads)
        t = _INHIBITOR_LIST.sub(expand, t)
    return t


# the regexes of _prior_therapy, compiled once (``re``'s own cache costs a lookup per call), each with the
# words every one of its matches holds (a cheap pre-check, ``_may_match``)
_LINES_RE = re.compile(
    r"(?i)(no more than|not more than|up to|at most|maximum of|≤|<=|fewer than|less than|<|at least|≥|>=|more than|>|exactly)?\s*"
    + NUM + r"\s*(?:or\s+(?:more|fewer|less)\s+)?(?:prior\s+|previous\s+|lines?\s+of\s+|line\s+of\s+)?(?:\w+\s+){0,3}?"
    r"(?:lines?|regimens?|courses?)\b")
_LINES_WORDS = family_data("therapy").cues.words("lines_words")
_LINES_THERAPY_RE = re.compile(
    r"(?i)(no more than|not more than|up to|at most|at least|more than)\s*" + NUM +
    r"\s+(?!(?:cycles?|courses?|doses?|days?|weeks?|months?|years?|infusions?|injections?)\b)"
    r"(?:\w+\s+){0,2}(?:chemotherap\w*|therap\w*|treatments?)")
_LINES_THERAPY_WORDS = family_data("therapy").cues.words("lines_therapy_words")
_LINES_RANGE_RE = re.compile(r"(?i)\b" + NUM + r"\s*(?:or|to|-|–)\s*" + NUM + r"\s+(?:prior\s+|previous\s+)?(?:\w+\s+){0,2}?"
                             r"(?:lines?|regimens?)\b")
_MIN_DURATION_RE = re.compile(r"(?i)(?:at least|≥|>=|minimum of|more than|for)\s*" + NUM + r"\s*" + TIME +
                              r"\s*(?:of\s+)?(?:\w+\s+){0,3}?(?:therap|treatment|adjuvant|endocrine|hormon)")
_RELAPSE_WITHIN_RE = re.compile(r"(?i)(?:relapse|recurrence|progression)\s+(?:\w+\s+){0,2}within\s+" + NUM + r"\s*" + TIME +
                                r"\s*(?:after|of|from|following)")
_THERAPY_WITHIN_RE = re.compile(
    r"(?i)within\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME + r"|" + NUM + r"\s*" + TIME +
    r"\s*(?:prior to|before|of)\s+(?:the\s+)?(?:first|start|randomi|enrol|registration|day 1|study)")
_START_OF = re.compile(r"(?i)\b(?:start(?:ed|ing)?|initiat\w*|commenc\w*|began|begun|beginning)\b")
_THERAPY_WITHIN_WORDS = family_data("therapy").cues.words("therapy_within_words")
_LINE_OF_THERAPY = re.compile(r"(?i)\b(?:\d+|one|two|three|four|a|an)\s+(?:prior\s+|previous\s+|earlier\s+)?lines?\s+of\b")
_EXCEPT_RE = re.compile(r"(?i)\(?\b(?:except|excluding|other than|with the exception of|apart from)\b(.*)")


# "resistant to conventional therapies", "refractory to standard treatment", "after failure of available therapies"
_GENERIC_FAILED_THERAPY = re.compile(
    r"(?i)\b(?:resistant|refractory|progress\w*\s+(?:on|after)|failed|failure\s+of|intolerant)\s+(?:to\s+)?(?:all\s+|the\s+)?"
    r"(?:conventional|standard|standard[- ]of[- ]care|available|established|approved|existing)\s+(?:\w+\s+)?(?:therap(?:y|ies)|treatments?)\b")


# "progressed on hormonal based therapy including CDK4/6 inhibitor and 1 prior line of chemotherapy and/or ADC":
# two therapy requirements, the second with its own count of lines
_AND_LINES_OF = re.compile(r"(?i)\s+and\s+(?=(?:at\s+least\s+)?(?:\d+|one|two|three)\s+(?:or\s+more\s+)?(?:prior\s+|previous\s+)?"
                           r"lines?\s+of\s+)")


# "systemic treatment of any tumor other than metastatic BC", "therapy for another malignancy": a treated other
# cancer (the therapy is not hers for the index cancer), read as an active other malignancy
_OTHER_TUMOUR_THERAPY = re.compile(
    r"(?i)\b(?:treatment|therapy|therapies)\s+(?:of|for)\s+(?:any|an|a)?\s*(?:other|another|second|additional)?\s*"
    r"(?:tumou?rs?|cancers?|malignanc(?:y|ies))\s+other\s+than\b|\b(?:treatment|therapy)\s+(?:of|for)\s+(?:an?\s+)?"
    r"(?:another|other|second|concurrent)\s+(?:tumou?r|cancer|malignancy)\b")


# "anti-cancer therapy-related toxicities of Grade >= 2", "toxicity from prior therapy": the toxicity is the
# requirement, the therapy only says where it comes from
_THERAPY_TOXICITY = re.compile(r"(?i)\b(?:therap(?:y|ies)|treatments?)[- ](?:related|induced)\s+(?:toxicit|adverse|side[- ]effect)|"
                               r"\b(?:toxicit(?:y|ies)|adverse\s+(?:events?|effects?))\s+(?:from|of|due\s+to|related\s+to)\s+"
                               r"(?:any\s+)?(?:prior|previous)\s+(?:\w+\s+)?(?:therap|treatment)")


_REQUIRING_THERAPY = re.compile(r"(?i)\b(?:requir(?:ing|es?)|needing|in\s+need\s+of|warrant(?:ing|s)?)\s+(?:[\w-]+\s+)?"
                                r"(?:chemo|therap|treatment)")
_HISTORY_WORDS = re.compile(r"(?i)\b(?:prior|previous(?:ly)?|received|treated|history|had|pretreated|exposure|since|within)\b")


# "progressed on or after the last anti-cancer therapy", "progression during or after the most recent line"
_LAST_THERAPY_RE = re.compile(
    r"(?i)\b(?:on|after|during|following|on\s*/\s*after|on\s+or\s+after|during\s+or\s+after)\s+(?:the\s+|her\s+|their\s+|his\s+)?"
    r"(?:last|latest|most\s+recent|immediately\s+preceding)\s+(?:prior\s+)?(?:line|regimen|anti-?\s?cancer|systemic|therapy|"
    r"treatment|endocrine|chemotherapy)")


_BASED_CHEMO = re.compile(r"(?i)[-\s](?:based|containing)\s+chemotherap")
# chemotherapy also named on its own or by what it lacks ("non-nitrosourea containing chemotherapy", "or other
# chemotherapy"): the broad class stays
_OTHER_CHEMO = re.compile(r"(?i)\bnon-?\s?\w+[-\s](?:based|containing)|(?<![-\s]based )(?<![-\s]containing )\bchemotherap")


def _prior_therapy(t: str, kind: str) -> list:
    if ("other" in t or "second" in t) and _OTHER_TUMOUR_THERAPY.search(t):
        return [OtherMalignancy(active_only=True)]
    if ("toxic" in t or "adverse" in t or "side" in t) and _THERAPY_TOXICITY.search(t):
        return [Condition(condition="treatment-related toxicity")]
    if ("requir" in t or "need" in t or "warrant" in t) and _REQUIRING_THERAPY.search(t) and not _HISTORY_WORDS.search(t):
        return []  # "visceral crisis requiring chemotherapy": what the condition calls for, not a therapy she had
    if " and " in t and "line" in t:
        parts = _AND_LINES_OF.split(t, maxsplit=1)
        if len(parts) == 2 and kind == "inclusion":
            first, second = _prior_therapy(parts[0], kind), _prior_therapy("prior " + parts[1], kind)
            if first and second and all(isinstance(a, PriorTherapy) for a in first + second):
                # "progressed on ... and 1 prior line of chemotherapy": a count of what she had, at least that many
                second = [a.model_copy(update={"lines": Range(low=a.lines.low)}) if a.lines.high == a.lines.low else a
                          for a in second]
                return first + second
    rx = vocab_regexes()
    agents = []
    t_orig, t = t, _agent_text(t)
    spans = []
    for m in rx["agent"].finditer(t):
        folded = _SEP_RUN.sub(" ", m.group(0).lower())  # (computed once: it was written twice)
        key = rx["agent_names"][folded] if folded in rx["agent_names"] else rx["agent_names"].get(m.group(0).lower())
        if key and _EXACERBATED_BY.search(t, max(0, m.start() - 40), m.start()):
            continue  # "autoimmune disease ... that might be exacerbated by therapy with alfa interferon": not had
        if key and key not in agents:
            agents.append(key)
            spans.append((key, m.start(), m.end()))
    starts = [st for _k, st, _e in spans]
    if len(spans) > 1 and " with " in t:
        # "systemic therapy with capecitabine", "endocrine therapy with an aromatase inhibitor": the class names its member
        headed = {k for k, _st, e in spans if (w := _WITH_MEMBER.match(t, e)) and w.end() in starts}
        agents = [a for a in agents if a not in headed]
    # every acronym (AI, AIs, NSAI, TKI, ADC, ET, in capitals) holds "AI", "TKI", "ADC" or "ET": most clauses skip the scan
    for m in (rx["agent_acronyms"].finditer(t) if "AI" in t or "TKI" in t or "ADC" in t or "ET" in t else ()):
        key = {"AI": "aromatase_inhibitor", "AIS": "aromatase_inhibitor", "NSAI": "nonsteroidal_aromatase_inhibitor",
               "NSAIS": "nonsteroidal_aromatase_inhibitor", "TKI": "tyrosine_kinase_inhibitor", "TKIS": "tyrosine_kinase_inhibitor",
               "ADC": "antibody_drug_conjugate", "ADCS": "antibody_drug_conjugate", "ET": "endocrine_therapy"}[m.group(1).upper()]
        if key not in agents:
            agents.append(key)
    am = _ANTIBODY_THERAPY.search(t) if "ntibod" in t else None
    if am and "monoclonal_antibody" not in agents:
        # "antibody-based anti-cancer therapy", "antibody therapy": antibodies, not any systemic therapy
        agents = [a for a in agents if not (a == "systemic_therapy" and any(
            k == a and am.start() <= st < am.end() for k, st, _e in spans))] + ["monoclonal_antibody"]
    sm = _BROAD_THERAPY_RE.search(t) if "systemic_therapy" not in agents else None
    if sm and not (sm.group("with") and sm.end() in starts) and not (am and am.start() <= sm.start() < am.end()):
        agents.append("systemic_therapy")  # not "systemic therapy with capecitabine": that therapy is capecitabine
    if not agents and _GENERIC_FAILED_THERAPY.search(t):
        agents.append("systemic_therapy")  # "resistant to conventional therapies": whatever standard therapy she had
    if not agents and "anti" in t.lower() and _any(r"\banti-?\s?(?:[\w]+-)?" + _CANCER_WORDS + r"\s+(?:treatments?|therap\w*|agents?|"
                                                    r"drugs?|medications?|regimens?)\b", t):
        agents.append("systemic_therapy")  # "anti-myeloma therapy": systemic therapy against that cancer
    if _any(r"\bendocrine\b|(?<!non )(?<!non-)\bhormon(?:e|al)\b(?!\s+(?:methods?|contracepti|birth)|[- ]releasing)", t) and (not agents or "endocrine_therapy" not in agents and _SHARED_HEAD_ENDOCRINE.search(t)):
        agents.insert(0, "endocrine_therapy")  # "prior oral endocrine or targeted therapy": both share "therapy"
    if not agents:
        free = _free_text_agent(t)
        if free is None:
            return []
        agents.extend(free)
    else:
        gap = _agent_list_gap(t, rx)
        if gap is not None:
            if gap:
                # "prior interferon, rituximab or other monoclonal antibody": an item that is neither in the
                # vocabulary nor a drug name would be lost, and she would pass on it: not compiled
                return [Unsupported(reason=f"therapy not in the vocabulary: {gap[0]!r}")]
        for name in _listed_drug_names(t, rx):
            if name not in agents:
                agents.append(name)  # "bortezomib or tipifarnib": a drug-like name listed beside a known one
    if not _any(r"prior|previous|previously|received|receiv|treated|treatment|therapy|exposure|exposed|pretreated|resistan|resisted|refractory|progress|relapse|failure|failed|line|regimen|after|taken|use of|washout|discontinu|current|ongoing", t):
        return []
    if "chemotherapy" in agents and len(agents) > 1 and _BASED_CHEMO.search(t) and not _OTHER_CHEMO.search(t) and any(
            a != "chemotherapy" and "chemotherapy" in (class_ancestors(a) | drug_classes(a)) for a in agents):
        # "anthracycline/anthracenedione-based chemotherapy": the chemotherapy named by its class, not any
        agents = [a for a in agents if a != "chemotherapy"]
    settings: list[str] = []
    if _any(r"\bneo-?adjuvant", t):
        settings.append("neoadjuvant")
    if _any(r"(?<!neo)(?<!neo-)\badjuvant", t):
        settings.append("adjuvant")
    if _any(r"(?:for|in the|in)\s+(?:the\s+)?(?:locally\s+)?(?:advanced|metastatic|recurrent)(?:\s+or\s+metastatic)?\s+(?:disease|setting|breast|cancer|stage)|\bsalvage\b|metastatic setting|advanced setting|for advanced|first[- ]line|second[- ]line", t):
        settings.append("metastatic" if _any(r"metastatic", t) and not _any(r"advanced|salvage", t) else "advanced")
    if not settings and _LINE_OF_THERAPY.search(t):
        settings.append("advanced")  # "1 prior line of chemotherapy": lines are counted for advanced disease
    kw: dict[str, Any] = {"agents": agents, "settings": settings or ["any"]}
    lm = (_LINES_RE.search(t) if _may_match(t, _LINES_WORDS) else None) or \
        (_LINES_THERAPY_RE.search(t) if _may_match(t, _LINES_THERAPY_WORDS) else None)
    rng_m = _LINES_RANGE_RE.search(t) if _may_match(t, _LINES_WORDS) else None
    if rng_m and _num(rng_m.group(1)) < _num(rng_m.group(2)):
        kw["lines"] = Range(low=_num(rng_m.group(1)), high=_num(rng_m.group(2)))  # "one or two prior lines"
        lm = None
    if lm:
        n = _num(lm.group(2))
        opw = (lm.group(1) or "").lower()
        tail = lm.group(0).lower()
        if opw in ("no more than", "not more than", "up to", "at most", "maximum of", "≤", "<=") or "or fewer" in tail or "or less" in tail:
            kw["lines"] = Range(low=0, high=n)
        elif opw in ("fewer than", "less than", "<"):
            kw["lines"] = Range(low=0, high=n, high_inclusive=False)
        elif opw in ("at least", "≥", ">=") or "or more" in tail:
            kw["lines"] = Range(low=n)
        elif opw in ("more than", ">"):
            kw["lines"] = Range(low=n, low_inclusive=False)
        else:
            kw["lines"] = Range(low=n, high=n)
    dm = _MIN_DURATION_RE.search(t)
    if dm:
        kw["min_duration"] = _dur(dm.group(1), dm.group(2))
    if _any(r"progress|resistan|resisted|refractory|failure|failed|relapse|recurr", t):
        kw["progressed"] = True
        if _LAST_THERAPY_RE.search(t):
            kw["most_recent"] = True  # "progressed on or after the last anti-cancer therapy"
    rm = _RELAPSE_WITHIN_RE.search(t) if _may_match(t, ("within",)) else None
    if rm:
        kw["relapse_within_after_end"] = _dur(rm.group(1), rm.group(2))
        kw.pop("progressed", None)
    wm = _THERAPY_WITHIN_RE.search(t) if _may_match(t, _THERAPY_WITHIN_WORDS) else None
    if wm and not rm and re.search(r"(?i)(?:more than|over|greater than|longer than|at least|>=?|≥)\s*(?:for\s+)?$",
                                   t[max(0, wm.start() - 20):wm.start()]) and _START_OF.search(t[:wm.start()]):
        # "Start of T-DXd treatment (for) more than 30 days before enrolment": the course began that long ago (the
        # days from its start, to today while it goes on), not a washout window within which it was given
        kw["min_duration"] = _dur(wm.group(1) or wm.group(3), wm.group(2) or wm.group(4))
    elif wm and not rm:
        kw["within"] = _dur(wm.group(1) or wm.group(3), wm.group(2) or wm.group(4))
    if _any(r"\bcurrent(?:ly)?\b|\bongoing\b|concomitant|concurrent", t) or ("receiving" in t and _RECEIVING_NOW.search(t)):
        kw["ongoing"] = True
    main = PriorTherapy(**kw)
    em = _EXCEPT_RE.search(t) if _may_match(t, ("except", "excluding", "other than", "apart from")) else None
    if em:
        exc_text = em.group(1)
        exc_agents = []
        for m in rx["agent"].finditer(exc_text):
            key = rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
            if key and key not in exc_agents:
                exc_agents.append(key)
        if _any(r"ovarian (?:function )?suppression|ovarian ablation", exc_text):
            exc_agents = [a for a in exc_agents if a not in ("endocrine_therapy", "ovarian_function_suppression")] + ["ovarian_function_suppression"]
        if _any(r"bone treatment|bisphosphonate|denosumab|bone[-_ ]targeted", exc_text) and "bone_targeted_therapy" not in exc_agents:
            exc_agents.append("bone_targeted_therapy")
        head = t[:em.start()]
        main_agents = [a for a in agents if a not in exc_agents and (
            rx["agent"].search(head) is None or any(rx["agent_names"].get(_SEP_RUN.sub(" ", x.group(0).lower())) == a
                                                   for x in rx["agent"].finditer(head)) or a == "systemic_therapy")] or agents
        main = PriorTherapy(**{**kw, "agents": main_agents})
        same = _same_therapy_exception(t, em, agents, exc_agents, kw)
        if same is not None:
            return [same]
        if exc_agents:
            # the exception names a therapy class ("except hormone therapy for ovarian suppression or bone
            # treatments"): it is excused whatever setting it was given in
            excs = [PriorTherapy(agents=[a]) for a in exc_agents]
            return [Except(main=main, exception=_any_of(excs))]
    if "within" in kw and ("stop" in t or "discontinu" in t) and _WASHOUT_STOP.search(t):
        return [Not(item=main)]  # "Immunotherapy must stop a minimum of 4 weeks prior to randomization": a washout
    if kw.get("progressed"):
        return [_endocrine_resistance(main, t)]
    return [main]


# "given > 1 year prior to first dose", "more than 12 months before": a course that ended earlier than that
_LONGER_AGO = re.compile(r"(?i)(?:>|≥|>=|\bmore\s+than|\bgreater\s+than|\bat\s+least|\bover)\s*" + NUM + r"\s*" + TIME +
                         r"\s*(?:prior|before|ago|earlier|previously)")


def _same_therapy_exception(t: str, em, agents: list[str], exc_agents: list[str], kw: dict):
    """"Received prior docetaxel treatment, except adjuvant docetaxel given > 1 year prior": the exception excuses
    the same therapy given in one setting (and long enough ago), so the main check is the therapy in any setting and
    the exception that setting (``AllOf(adjuvant docetaxel, NOT docetaxel within 1 year)``); None when the
    exception names no setting of a therapy the main check names."""
    exc_text = em.group(1)
    if not exc_agents or not set(exc_agents) <= set(agents):
        return None
    exc_settings = [x for x, pat in (("neoadjuvant", r"\bneo-?adjuvant"), ("adjuvant", r"(?<!neo)(?<!neo-)\badjuvant"))
                    if _any(pat, exc_text)]
    if not exc_settings:
        return None
    head = t[:em.start()]
    head_settings = [x for x, pat in (("neoadjuvant", r"\bneo-?adjuvant"), ("adjuvant", r"(?<!neo)(?<!neo-)\badjuvant"))
                     if _any(pat, head)]
    wm = _THERAPY_WITHIN_RE.search(head)
    main_kw = {k: v for k, v in kw.items() if k not in ("settings", "within", "relapse_within_after_end", "min_duration")}
    main = PriorTherapy(**{**main_kw, "settings": head_settings or ["any"],
                           **({"within": _dur(wm.group(1) or wm.group(3), wm.group(2) or wm.group(4))} if wm else {})})
    exc = PriorTherapy(agents=list(exc_agents), settings=exc_settings)
    lm = _LONGER_AGO.search(exc_text)
    if lm:
        exception = AllOf(items=[exc, Not(item=PriorTherapy(agents=list(exc_agents), within=_dur(lm.group(1), lm.group(2))))])
    else:
        xm = _THERAPY_WITHIN_RE.search(exc_text)
        exception = exc if xm is None else exc.model_copy(update={"within": _dur(xm.group(1) or xm.group(3),
                                                                                    xm.group(2) or xm.group(4))})
    return Except(main=main, exception=exception)


_RESISTANCE = family_data("therapy").cues["endocrine_resistance"]
_RESISTANCE_RE = re.compile(_RESISTANCE["pattern"])


def _endocrine_resistance(main: PriorTherapy, t_orig: str):
    """"endocrine-resistant", "AI-resistant", "endocrine therapy resisted" with no definition of its own
    (no relapse window, duration or setting stated): resistance as the ESO-ESMO ABC guidelines define it,
    progression on the therapy (``main``) or, for early disease, relapse within 12 months of completing it
    (``cues.endocrine_resistance`` in therapy.json). Other therapies, and "progressed on", stay ``main``."""
    if main.relapse_within_after_end is not None or main.within is not None or main.min_duration is not None \
            or main.ongoing is not None or main.settings != ["any"] or not _RESISTANCE_RE.search(t_orig):
        return main
    classes = frozenset(_RESISTANCE["classes"])
    if not main.agents or not all(classes & (class_ancestors(a) | drug_classes(a)) for a in main.agents):
        return main
    w = _RESISTANCE["relapse_within_after_end"]
    after = main.model_copy(update={"settings": list(_RESISTANCE["settings"]), "progressed": None,
                                    "relapse_within_after_end": _dur(str(w["value"]), w["unit"])})
    return _any_of([main, after])


_SHARED_HEAD_ENDOCRINE = re.compile(r"(?i)\b(?:endocrine|hormonal)\s*(?:,|/|\bor\b|\band\b|\band/or\b)\s*(?:[\w-]+\s+){0,2}?"
                                    r"(?:therapy|therapies|treatments?|agents?)\b")
_EXACERBATED_BY = re.compile(r"(?i)\b(?:exacerbated|aggravated|worsened|made\s+worse)\s+by\s+(?:(?:the\s+)?(?:therapy|treatment)\s+with\s+)?"
                             r"(?:the\s+)?(?:[\w-]+\s+)?$")
_WASHOUT_STOP = re.compile(r"(?i)\b(?:must|should|shall|has\s+to|have\s+to)\s+(?:be\s+|have\s+been\s+)?(?:stop(?:ped)?|discontinued)\s+"
                           r"(?:(?:a\s+minimum\s+of|at\s+least|for|≥|>=)\s*)?\d")
_ANTIBODY_THERAPY = re.compile(r"(?i)(?<!non-)(?<!non )\bantibod(?:y|ies)(?:[- ]based)?\s+(?:anti-?cancer\s+)?(?:therap|treatment|agent)")
_BROAD_THERAPY_RE = re.compile(r"(?i)\b(?:systemic|anti-?cancer|antineoplastic|cancer)\s+(?:treatment|therapy|therapies|treatments)"
                               r"(?P<with>\s+(?:with|using|consisting\s+of)\s+(?:an?\s+|the\s+)?)?")
_WITH_MEMBER = re.compile(r"(?i)(?:\s+(?:therapy|treatment|regimen))?\s+(?:with|using|consisting\s+of)\s+(?:an?\s+|the\s+)?")
# "Patients receiving systemic therapy with capecitabine": what she is given now (not "receiving prior ...")
_RECEIVING_NOW = re.compile(r"(?i)\b(?:patients?|subjects?|participants?|women|who\s+are|are|is)\s+receiving\s+"
                            r"(?!(?:prior|previous|at\s+least|no\b|any\s+prior|\d|one\b|two\b))")


_FREE_AGENT_RE = re.compile(
    r"(?i)\b(?:prior|previous|previously|any)\s+(?:(?:treatment|therapy|exposure|treated)\s+(?:with|to)|(?:use|receipt)\s+of)\s+"
    r"(?P<names>[^.;:()]+)")
_FREE_AGENT_STOP = frozenset(family_data("therapy").cues.words("not_drug_names"))  # words after 'prior treatment with' that are not drug names
_DRUG_LIKE = re.compile(
    r"(?i)^(?:[a-z]{3,}(?:mab|nib|lib|sib|parib|ciclib|lisib|tinib|zomib|platin|taxel|rubicin|mycin|trexate|abine|idine|"
    r"fene|xifene|zole|strant|relin|tecan|lidomide|domide|mustine|phamide|sporin|olimus|limus|semide|statin|vir|cept|kin)|"
    r"[a-z]{2,5}-?\d{2,7}[a-z]?)$")


def _drug_like_names(phrase: str) -> list[str] | None:
    """Drug names in a list ("interferon, rituximab or tucatinib"), normalised to lower case; None when
    any item is not a drug-like name (an INN stem such as -mab/-nib/-platin, or a code name such as
    "AZD9833"): a list with "other monoclonal antibody" in it is not compiled into names."""
    items = [x.strip(" ,") for x in re.split(r"(?i),|\bor\b|\band\b|/|\+", phrase) if x.strip(" ,")]
    out = []
    for it in items:
        it = re.sub(r"(?i)^(?:an?|the|any|prior|previous)\s+", "", it).strip().lower()
        it = re.sub(r"\s*\((?:[^)]*)\)$", "", it)
        if not it or " " in it or it in _FREE_AGENT_STOP or not _DRUG_LIKE.match(it):
            return None
        if it not in out:
            out.append(it)
    return out or None


_LIST_SEP = re.compile(r"(?i)\s*(?:,|;|\bor\b|\band/or\b|\band\b|\+)\s*")
_LIST_ITEM_LEAD = re.compile(r"(?i)^(?:(?:an?|the|any|other|prior|previous|all|some|approved|investigational)\s+)+")


_LIST_COUNT_LEAD = re.compile(r"(?i)^\s*(?:at\s+least\s+|a\s+minimum\s+of\s+)?(?:one|two|three|four|\d+)\s+(?:or\s+more\s+)?"
                              r"(?:(?:prior|previous)\s+)?(?:lines?\s+of\s+)?")


def _agent_list_gap(t: str, rx: dict) -> list[str] | None:
    """Items of the list after "prior treatment with" that are neither vocabulary agents nor drug-like
    names (None when there is no such list)."""
    m = _FREE_AGENT_RE.search(t)
    if not m:
        return None
    phrase = re.split(r"(?i)\s+(?:for|within|in|during|at|prior|before|after|is|are|will|must|unless|except|"
                      r"such as|including|e\.g\.?|i\.e\.?)\b", m.group("names"))[0]
    # "treated with one or more anti-HER2 directed therapy": the count is not an item of the list
    phrase = _LIST_COUNT_LEAD.sub("", phrase)
    gap = []
    for it in _LIST_SEP.split(phrase):
        it = _LIST_ITEM_LEAD.sub("", it.strip(" ,.")).strip()
        if not it or rx["agent"].search(it) or rx["agent_acronyms"].search(it):
            continue
        if " " not in it and (_DRUG_LIKE.match(it) or re.fullmatch(r"[A-Z]{2,}-?\d+[A-Za-z]?", it)):
            continue
        if it.lower() in _FREE_AGENT_STOP or re.fullmatch(r"(?i)(?:agents?|drugs?|therap(?:y|ies)|treatments?|"
                                                          r"inhibitors?|medications?|class(?:es)?)", it):
            continue
        gap.append(it)
    return gap


def _listed_drug_names(t: str, rx: dict) -> list[str]:
    """Drug-like names (INN stems, code names) not in the vocabulary, listed next to a vocabulary drug."""
    out = []
    for m in re.finditer(r"(?i)(?<![\w-])([a-z][a-z0-9-]{4,})(?![\w-])", t):
        w = m.group(1).lower()
        if w in rx["agent_names"] or w in _FREE_AGENT_STOP or not _DRUG_LIKE.match(w):
            continue
        before, after = t[max(0, m.start() - 8):m.start()], t[m.end():m.end() + 8]
        if re.search(r"(?i)(?:,|\bor|\band|/)\s*$", before) or re.match(r"(?i)\s*(?:,|or\b|and\b|/)", after):
            if w not in out:
                out.append(w)
    return out


def _free_text_agent(t: str) -> list[str] | None:
    """Drugs named after "prior treatment with" that are not in the vocabulary, normalised (lower case):
    ``PriorTherapy.agents`` then holds those names and the matcher compares them with the patient's drug
    names. Generic words ("investigational agents", "other therapy") are not names."""
    m = _FREE_AGENT_RE.search(t)
    if not m:
        return None
    names = re.split(r"(?i)\s+(?:for|within|in|during|at|prior|before|after|is|are|will|must|unless|except)\b", m.group("names"))[0]
    return _drug_like_names(names)


_REQUIRING_MED = re.compile(r"(?i)\b(?:requiring|require[ds]?)\s+(?:\w+\s+){0,2}?"
                            r"(?:anticoag|corticoster|steroid|immunosuppress|warfarin)")
# an episode of a condition ("asthma exacerbation requiring oral corticosteroids", "COPD flare that required
# steroids"): the drug says how severe the episode was; it is not a medication she takes now
_EPISODE_BEFORE = re.compile(r"(?i)\b(?:exacerbations?|flares?|flare-ups?|episodes?|attacks?|crises|crisis|"
                             r"decompensations?)\s*(?:,\s*)?(?:(?:that|which)\s+)?$")


_CURRENT_USE_CUE = re.compile(r"(?i)(?:current|concomitant|ongoing|chronic|concurrent|regular)\s+(?:\w+\s+){0,3}?"
                              r"(?:use|treatment|therapy|administration)|(?:receiving|taking)\s")
_TREATED_CLASSES = ((re.compile(r"(?i)anticoag|warfarin|heparin"), "anticoagulant"),
                    (re.compile(r"(?i)corticoster|steroid"), "corticosteroid"),
                    (re.compile(r"(?i)immunosuppress"), "immunosuppressant"))


def _drop_treating_drugs(t: str, atoms: list) -> list:
    """"Asthma exacerbation requiring oral corticosteroids within 1 month": the condition (its episode), not a
    medication atom for the drug that treated it. Drops the classes named after "requiring" whose subject is a
    condition or an episode of one, when the clause names that condition and no current use of its own."""
    if not any(isinstance(a, Condition) for a in atoms) or _CURRENT_USE_CUE.search(t):
        return atoms
    treated = set()
    for m in _REQUIRING_MED.finditer(t):
        if _treats_condition(t, m.start()):
            for rx, key in _TREATED_CLASSES:
                if rx.search(m.group(0)):
                    treated.add(key)
    if not treated:
        return atoms
    out = []
    for a in atoms:
        if isinstance(a, ConcomitantMedication) and set(a.classes) <= treated:
            continue
        if isinstance(a, PriorTherapy) and set(a.agents) <= treated:
            continue
        out.append(a)
    # with a window ("... requiring oral corticosteroids within 1 month"), the episode is the condition treated
    # with that drug within the window: both, one requirement
    for i, a in enumerate(out):
        if isinstance(a, Condition) and a.within is not None:
            out[i] = AllOf(items=[a, PriorTherapy(agents=sorted(treated), within=a.within.model_copy())])
            break
    return out


def _treats_condition(t: str, cue: int) -> bool:
    """Is the drug "required" at ``t[cue:]`` the treatment of a named condition or of an episode just before it?"""
    before = t[max(0, cue - 60):cue]
    if _EPISODE_BEFORE.search(before):
        return True
    hits = vocab_find(vocab_regexes()["condition"], before)
    return bool(hits) and not before[hits[-1][2]:].strip(" ,").split()[2:]  # the condition is its subject


def _conmeds(t: str) -> list:
    classes = []
    if _any(r"cyp3a4?|cyp 3a4", t):
        if _any(r"inhibitor|inhibit", t):
            classes.append("strong_cyp3a4_inhibitor")
        if _any(r"inducer|induc", t):
            classes.append("strong_cyp3a4_inducer")
        if not classes:
            classes = ["strong_cyp3a4_inhibitor", "strong_cyp3a4_inducer"]
    elif _any(r"strongly affect certain liver enzymes", t):
        classes = ["strong_cyp3a4_inhibitor", "strong_cyp3a4_inducer"]
    if _any(r"(?:current|concomitant|ongoing|chronic|concurrent|regular)\s+(?:\w+\s+){0,3}?(?:use|treatment|therapy|administration)|(?:requiring|require|receiving|taking)\s+(?:\w+\s+){0,2}?(?:anticoag|corticoster|steroid|immunosuppress|warfarin)", t):
        for rx, key in ((r"anticoag|warfarin|heparin", "anticoagulant"), (r"corticoster|steroid", "corticosteroid"),
                        (r"immunosuppress", "immunosuppressant")):
            if _any(rx, t) and key not in classes:
                classes.append(key)
    if _CURRENT_MED.search(t):
        for key in _non_oncology_agents(t):
            if key not in classes:
                classes.append(key)
    return [ConcomitantMedication(classes=classes)] if classes else []


_CURRENT_MED = re.compile(
    r"(?i)\b(?:current(?:ly)?\s+(?:use|using|taking|receiving|treat\w*|on)|(?:concomitant|concurrent|ongoing|chronic|regular)"
    r"\s+(?:use|treatment|therapy|administration|medications?)|(?:is|are|be)\s+(?:currently\s+)?(?:taking|receiving|on)\b|"
    r"(?:patients?|subjects?|participants?|those)\s+(?:currently\s+)?(?:taking|receiving|on)\b|^\W*(?:currently\s+)?taking\b)")


def _non_oncology_agents(t: str) -> list[str]:
    """Vocabulary drugs and classes of ``t`` that are not anti-cancer therapies (statins, PPIs, MAO
    inhibitors, ...): medications she takes, not lines of cancer treatment."""
    from trialmatch.vocab import class_ancestors, drug_classes

    rx = vocab_regexes()
    out = []
    for m in rx["agent"].finditer(t):
        key = rx["agent_names"].get(m.group(0).lower()) or rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
        if key is None:
            continue
        anc = drug_classes(key) | class_ancestors(key)
        if anc & {"systemic_therapy", "ovarian_function_suppression", "bone_targeted_therapy", "monoclonal_antibody"} or \
                key in ("systemic_therapy", "monoclonal_antibody"):
            continue
        if key not in out:
            out.append(key)
    return out
# a dose limit in such a permission: "≤ 10 mg prednisone/day or equivalent allowed", "allowed provided dose is
# ≤ 10 mg daily", "up to 100 mg of hydrocortisone"
_PERMITTED_DOSE = re.compile(r"(?i)(?:[≤<]=?|=<|\bup\s+to|\bno\s+more\s+than|\bnot\s+exceeding|\bmaximum(?:\s+of)?)\s*"
                             r"(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mg|mcg|µg|g)s?\b")


def _drug_names(a) -> list[str] | None:
    """The drugs or classes a drug check names (None for any other atom)."""
    if isinstance(a, ConcomitantMedication):
        return a.classes
    if isinstance(a, PriorTherapy):
        return a.agents
    return None


def _dose_permitted(a, dm):
    """``a`` (a drug check) except at the permitted dose ``dm`` ("No concurrent corticosteroids (≤ 10 mg
    prednisone/day allowed)": a steroid counts only above 10 mg, and her dose is a fact of its own)."""
    names = _drug_names(a)
    if names is None:
        return a
    dose = Measurement(name=f"{' or '.join(n.replace('_', ' ') for n in names)} dose", comparator="<=",
                       value=float(dm.group("v")), unit=dm.group("u").lower())
    return Except(main=a, exception=dose)


_DOSE_ABOVE = re.compile(
    r"(?i)(?:(?P<op>[≥>]=?|=>|\bmore\s+than|\bgreater\s+than|\bexceeding|\bat\s+least|\bin\s+excess\s+of|\bover|"
    r"\babove)\s*(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mg|mcg|µg)s?\b"
    r"|(?P<v2>\d+(?:\.\d+)?)\s*(?P<u2>mg|mcg|µg)s?\b[^.;()]{0,40}?\b(?:or|and)\s+(?:more|higher|greater|above|over)\b)")


def _dose_above(a, dm):
    """``a`` (a drug check) only at the dose ``dm`` states: AllOf(a, the dose)."""
    names = _drug_names(a)
    if names is None:
        return a
    from trialmatch.vocab import class_ancestors, drug_classes

    if any((drug_classes(n) | class_ancestors(n)) & {"systemic_therapy", "ovarian_function_suppression",
                                                      "bone_targeted_therapy"} or n == "systemic_therapy" for n in names):
        return a  # a cancer drug's dose is a regimen detail ("paclitaxel 80 mg/m2"), not a limit on her use
    op = dm.group("op")
    comparator = ">" if op and op.strip().lower() in (">", "more than", "greater than", "exceeding", "in excess of",
                                                      "over", "above") else ">="
    v, u = (dm.group("v"), dm.group("u")) if dm.group("v") else (dm.group("v2"), dm.group("u2"))
    dose = Measurement(name=f"{' or '.join(n.replace('_', ' ') for n in names)} dose", comparator=comparator,
                       value=float(v), unit=u.lower())
    return AllOf(items=[a, dose])


_USE_WITHIN = re.compile(
    r"(?i)^\W*(?:no\s+)?(?:(?:has|have|had)\s+)?(?:(?:any|current|prior|previous|recent|concurrent|chronic|regular|systemic)\s+)*"
    r"(?:(?:use|treatment|therapy|receipt|administration|exposure|intake)\s+(?:of|with|to)|(?:used|taken|received))\s+"
    r"(?P<x>[^;:]+?)\s*(?:(?:within|in|during)\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+|preceding\s+)?"
    r"(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*(?P<u>days?|weeks?|wks?|months?|mo|years?|yrs?)\b|"
    r"(?P<n2>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*(?P<u2>days?|weeks?|wks?|months?|mo|years?|yrs?)\s+"
    r"(?:before|prior\s+to|preceding))(?P<rest>[^;]*)$")
# "up to 8 words" is written as words separated by spaces: the former ``(?:\w+\s*){0,8}?`` matched the
# same strings but could cut one long word into up to 8 pieces in every possible way before failing
# (catastrophic backtracking: milliseconds per clause)
_USE_REST_OK = re.compile(
    r"(?i)^\s*(?:(?:of|before|prior\s+to|preceding|from|until)\s+(?:the\s+)?(?:\w+(?:\s+\w+){0,7}\s*)?)?"
    r"(?:\((?:[^()]{0,40})\))?\s*\.?\s*$")
_USE_ITEM_BAD = re.compile(r"(?i)\b(?:protocol|prohibited|excluded|listed|specified|study|trial|investigational|known|that|which|"
                           r"may|might|could|would|affect|interact\w*|substances?|products?|devices?|procedures?|any\s+drugs?|"
                           r"any\s+medications?|other\s+drugs?|other\s+medications?|following|certain|such|these|those|"
                           r"regimen|vaccines?|vaccination|blood|transfusions?|radiation|radiotherapy|surgery|other|"
                           r"experimental|prescription|over-the-counter|otc|non-prescription)\b")


def _use_within(t: str) -> list:
    """"Use of leflunomide within 6 months of randomization", "Treatment with androgens or tamoxifen in the
    past 4 weeks": those drugs given within the window (``PriorTherapy`` with ``within``; vocabulary keys,
    else the names as written). Lists with generic or protocol-defined items ("any medication listed in
    the protocol", "drugs that may affect ...") are not taken."""
    m = _USE_WITHIN.match(t)
    if not m or not _USE_REST_OK.match(m.group("rest")):
        return []
    x = re.sub(r"\s*\((?:e\.?g\.?|i\.?e\.?|such as|including|for example)[^()]*\)", "", m.group("x"))
    x = re.sub(r"(?i)\s*\((?:[^()]{0,30})\)", "", x).strip(" ,.")
    if not x or _USE_ITEM_BAD.search(x):
        return []
    rx = vocab_regexes()
    agents: list[str] = []
    for it in re.split(r"(?i)\s*(?:,|/|\band/or\b|\bor\b|\band\b)\s*", x):
        it = re.sub(r"(?i)^(?:an?|the|any|other|all|systemic|oral|chronic)\s+", "", it.strip())
        if not it:
            continue
        words = it.split()
        if len(words) > 3 or not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", w) for w in words):
            return []
        if all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words):
            return []
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", it.lower()))
        if key is None and len(words) == 1 and re.search(r"(?i)(?:al|ous|ar|ic|ive)$", it):
            return []  # "intravenous, intramuscular, or oral corticosteroids": routes, not drugs
        name = key or it.lower()
        if name not in agents:
            agents.append(name)
    if not agents:
        return []
    dur = _dur(m.group("n") or m.group("n2"), m.group("u") or m.group("u2"))
    return [PriorTherapy(agents=agents, within=dur)]


_CONCURRENT = re.compile(
    r"(?i)^\W*(?:no\s+)?(?:other\s+)?(?:concurrent|concomitant)\s+(?:use\s+of\s+|treatment\s+with\s+|administration\s+of\s+|"
    r"therapy\s+with\s+)?(?:any\s+)?(?:other\s+)?(?P<x>[A-Za-z][A-Za-z/ ,-]{2,70}?)\s*(?:\((?:[^()]{0,40})\))?\s*\.?$")
_CONCURRENT_NOT_MED = re.compile(r"(?i)radi|surg|irradiat|participat|stud(?:y|ies)|trial|disease|illness|infection|"
                                 r"malignan|cancer|condition|disorder|pregnan|investigational|anticancer|anti-cancer|"
                                 r"chemotherap|hormon|endocrine|therapy\s+for|treatment\s+for|dose")


def _concurrent_medication(t: str) -> list:
    """"No concurrent herbal medications", "No concurrent fluconazole or lithium": she takes none of them
    now (``ConcomitantMedication``, vocabulary keys or the names as written); anything that is not a
    medication (radiotherapy, other trials, diseases) or a list with an item of more than 4 words is not
    taken."""
    m = _CONCURRENT.match(t)
    if not m or _CONCURRENT_NOT_MED.search(m.group("x")) or re.search(r"(?i)\b(?:for|of|in|with|to|as|at|on)\b",
                                                                         m.group("x")):
        return []
    rx = vocab_regexes()
    classes: list[str] = []
    for it in re.split(r"(?i)\s*(?:,|/|\band/or\b|\bor\b|\band\b)\s*", m.group("x")):
        it = re.sub(r"(?i)^(?:an?|the|any|other)\s+", "", it.strip())
        if not it:
            continue
        words = it.split()
        if len(words) > 4 or not all(re.fullmatch(r"[A-Za-z][A-Za-z-]*", w) for w in words):
            return []
        if all(w.lower() in _STOP or w.lower() in _FREE_AGENT_STOP for w in words):
            return []
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", it.lower()))
        name = key or it.lower()
        if name not in classes:
            classes.append(name)
    return [ConcomitantMedication(classes=classes)] if classes else []


def _is_ofs_agent(key: str) -> bool:
    """An ovarian function suppression class or drug (goserelin, "LHRH agonist", ...)."""
    from trialmatch.vocab import class_ancestors, drug_classes

    return "ovarian_function_suppression" in drug_classes(key) or "ovarian_function_suppression" in class_ancestors(key)


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_CURRENT_MED', '_DRUG_LIKE', '_FREE_AGENT_RE'):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


_CUMULATIVE_DOSE = re.compile(family_data("therapy").cues["cumulative_dose"]["pattern"], re.IGNORECASE)
_CUMULATIVE_OPS = {">": ">", ">=": ">=", "≥": ">=", "more than": ">", "greater than": ">", "exceeding": ">", "<": "<",
                   "<=": "<=", "≤": "<=", "=<": "<=", "=>": ">=", "less than": "<"}


def _cumulative_dose_guard(c, t: str):
    """A line that is only drug-and-dose limits ("Doxorubicin hydrochloride > 450 mg/m^2", "Mitoxantrone > 120 mg/m^2
    and idarubicin > 90 mg/m^2", as listed under prior anthracyclines): each a cumulative dose of a vocabulary drug
    (a guard: the whole clause is these limits, none of them a lab or a measurement)."""
    pos, out = 0, []
    rx = vocab_regexes()
    for m in _CUMULATIVE_DOSE.finditer(t):
        if t[pos:m.start()].strip(" ,;.-*•") and not re.fullmatch(r"\s*(?:,|;|and|or)\s*", t[pos:m.start()]):
            return None
        op = _CUMULATIVE_OPS.get(re.sub(r"\s+", " ", m.group("op").strip().lower()))
        names = re.split(r"\s+or\s+", re.sub(r"^(?:and|or)\s+", "", _SEP_RUN.sub(" ", m.group("drug").strip().lower())))
        keys = [rx["agent_names"].get(n) for n in names]  # "Doxorubicin or liposomal doxorubicin > 500 mg/m^2": each
        if op is None or None in keys:
            return None
        out += [CumulativeDose(agent=k, comparator=op, value=float(m.group("v"))) for k in keys]
        pos = m.end()
    if not out or t[pos:].strip(" .;,"):
        return None
    return out


register("therapy", "cumulative_dose", _cumulative_dose_guard, takes="clause")
register("therapy", "conmeds", _conmeds)
register("therapy", "concurrent_medication", _concurrent_medication)
register("therapy", "prior_therapy", _prior_therapy, takes="text_kind")
register("therapy", "concurrent_medication_fallback", _concurrent_medication)
register("therapy", "use_within", _use_within)
