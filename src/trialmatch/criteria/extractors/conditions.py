"""Extractors of non-cancer conditions: infections, vocabulary conditions (with severity grades and
windows), generic "history of X" conditions, condition lists, vague comorbidities, allergies.
"""

from __future__ import annotations

import re
from typing import Any

from trialmatch.criteria.extractors.common import (
    NUM, TIME, _GRADE_NUM, _SEP_RUN, _STOP, _VAGUE_HEADS, _any, _dur, _qualifiers,
)
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import Allergy, AnyOf, Condition, Infection, NeedsConfirmation
from trialmatch.criteria.rules import FoldedPattern, rules, vocab_find, vocab_regexes


def _infections(t: str) -> list:
    out = []
    r = rules()
    hits = []
    first = r.infection_any.search(t)
    for key, rx in (r.infection_re.items() if first else ()):
        m = rx.search(t, first.start())  # no cue starts before the first cue of any pathogen (see _confirm)
        if m:
            hits.append((m.start(), key))
    if _any(r"hepatitis\s+b\s*(?:,|or|and|/)\s*(?:hepatitis\s+)?c\b", t):
        hits += [(0, "hbv"), (0, "hcv")]
    keys = []
    for _, k in sorted(hits):
        if k not in keys:
            keys.append(k)
    if ("hbv" in keys or "hcv" in keys) and "hepatitis" in keys:
        keys.remove("hepatitis")
    if not keys:
        return []
    quals = _qualifiers(t, {"active", "chronic", "uncontrolled", "known"})
    for k in keys:
        out.append(Infection(pathogen=k, qualifiers=quals))
    return out


# a grading scale with its grade right after (or before) a condition: "arrhythmia Lown III/IV", "heart failure
# (NYHA class ≥ III)", "grade 3 or 4 neuropathy": the condition counts only at those grades
_SEVERITY_SCALE = r"(?:lown|nyha|ccs|gold|child[- ]?pugh|ctcae|grade|class)\s*(?:class\s*)?(?:of\s*)?(?:[≥>]=?\s*)?(?P<g>iv|i{1,3}|[1-5])\b"
_SEVERITY_AFTER = re.compile(r"(?i)\s*(?:\(\s*)?(?:of\s+(?:a\s+)?severity\s*|of\s+any\s+cause\s*)?"  # "diarrhea ≥ CTCAE grade 2"
                             r"(?:[≥>]=?\s*|greater\s+than\s+(?:or\s+equal\s+to\s+)?)?(?:\w+\s*)?" + _SEVERITY_SCALE)
_SEVERITY_BEFORE = re.compile(r"(?i)" + _SEVERITY_SCALE + r"(?:\s*(?:-|–|/|,|or|and|to|through|or\s+higher|or\s+greater|"
                              r"or\s+more|\+|(?:iv|i{1,3}|[1-5])\b))*\s*(?:\w+\s+)?$")
_SEVERITY_IN = re.compile(r"(?i)" + _SEVERITY_SCALE)


def _severity_graded(t: str, s: int, e: int) -> bool:
    """Is the condition mention ``t[s:e]`` restricted to a grade of 2 or more on a grading scale?"""
    m = _SEVERITY_AFTER.match(t, e, min(len(t), e + 30)) or _SEVERITY_BEFORE.search(t, max(0, s - 45), s) \
        or _SEVERITY_IN.search(t, s, e)  # a name that is a grade itself ("NYHA class III")
    if m is None:
        return False
    g = m.group("g").lower()
    return (_GRADE_NUM.get(g) or int(g)) >= 2


_CONDITION_WITHIN_RE = re.compile(r"(?i)within\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+)?" + NUM + r"\s*" + TIME)
_LIST_ITEM_END = re.compile(r"(?i)[,;/]|\b(?:or|and|and/or|nor)\b")


_NARROWING = re.compile(r"(?i)\b(?:" + "|".join(map(re.escape, family_data("conditions").cues.words("narrowing_modifiers")))
                        + r")\s+$")
_EXAMPLE_LESION_KEYS = frozenset(family_data("conditions").cues.words("example_lesion_keys"))
_EXAMPLE_LESION_CONTEXT = re.compile(r"(?i)\b(?:" + "|".join(
    map(re.escape, family_data("conditions").cues.words("example_lesion_context"))) + r")")


def _conditions(t: str, strict: bool = False) -> list:
    out = []
    lesion_context = _EXAMPLE_LESION_CONTEXT.search(t) is not None
    for key, s, e in vocab_find(vocab_regexes()["condition"], t):
        if key == "myocardial_infarction" and t[s:e] == "MI" and False:
            continue
        if _NARROWING.search(t[max(0, s - 20):s]) or lesion_context and key in _EXAMPLE_LESION_KEYS:
            continue  # "Purulent pleural effusion" (a narrower condition), "ascites ... not measurable" (an example lesion)
        # a qualifier after the mention counts only up to the next list item: "MI, stroke or unstable angina"
        # does not make the MI or the stroke unstable
        after = _LIST_ITEM_END.split(t[e:e + 40], maxsplit=1)[0]
        ctx = t[max(0, s - 40):e] + after
        quals = _qualifiers(ctx, {"uncontrolled", "severe", "symptomatic", "active", "unstable", "chronic"})
        if "severe" not in quals and _severity_graded(t, s, e):
            quals.append("severe")  # "arrhythmia Lown III/IV", "NYHA class III-IV heart failure": only those grades
        wm = _CONDITION_WITHIN_RE.search(t[s:])
        if wm and _WINDOW_GAP_VERB.search(t[e:s + wm.start()]):
            wm = None  # "ulcerative colitis or are planning colectomy within 8 weeks": the window is the plan's
        kw: dict[str, Any] = {"condition": key, "qualifiers": quals}
        if wm:
            kw["within"] = _dur(wm.group(1), wm.group(2))
        same = [a for a in out if isinstance(a, Condition) and a.condition == key]
        if not same:
            out.append(Condition(**kw))
        elif "severe" in quals and "severe" not in same[0].qualifiers and _severity_graded(t, s, e):
            same[0].qualifiers.append("severe")  # "NYHA class III or IV heart failure": the scale's name, then the condition's
    return out


_WINDOW_GAP_VERB = re.compile(r"(?i)\b(?:are|is|was|were|be|been|plann\w*|plan|scheduled|undergo\w*|receiv\w*|had|have|has|"
                              r"require\w*|need\w*|taking|using)\b")
_GENERIC_LEAD = re.compile(
    r"^\s*(?:no\s+)?(?:(?:any\s+)?(?:known|documented|confirmed|current|active|prior|previous|significant)\s+)?"
    r"(?:(?:a\s+)?(?:personal\s+)?(?:history|diagnosis|evidence|presence|signs?)(?:\s+(?:or|and/or)\s+(?:current\s+)?(?:history|diagnosis|evidence|presence|signs?))?\s+of\s+|"
    r"(?:no\s+|any\s+|other\s+)*clinically[ -](?:significant|relevant)\s+|(?:patients?|subjects?|participants?|those)\s+(?:with|who have|having|diagnosed with)\s+|diagnosed with\s+|suffering from\s+|known\s+|has\s+|have\s+)"
    r"(?:(?:a|an|any|the|clinically significant|significant|known|active|severe|chronic|acute|current|uncontrolled|documented)\s+)*",
    re.IGNORECASE,
)


# the verb of a sentence whose subject is the condition ("Patients with HCL must have received ...", "History of X
# syndrome must be documented", "Patients with lupus should be excluded"): the condition's name ends before it
_MODAL_TAIL = re.compile(r"(?i)\s+\b(?:must|should|shall|will|would|may|might|can|cannot|could|need(?:s)?\s+to|"
                         r"(?:is|are|was|were)\s+(?:not\s+)?(?:eligible|ineligible|excluded|included|allowed|permitted|"
                         r"required|to\s+be))\b(?!-)")


def _generic_condition(t: str) -> list:
    m = _GENERIC_LEAD.match(t)
    if not m:
        return []
    significant = "clinically" in m.group(0).lower()
    if significant:
        # "Clinically significant X": X as written (or its vocabulary key), qualified; a head with no
        # content of its own ("clinically significant disease / abnormality") is not a checkable condition
        if re.match(r"(?i)(?:[A-Za-z'/-]+\s+){0,5}[A-Za-z'/-]+\s*(?:,|\bif\b|\bunless\b|\bwhen\b)", t[m.end():]):
            return []  # a list or a conditional, not one condition
        rest = re.split(r"(?i)\s*(?:[(,;:.]|\bthat\b|\bwhich\b|\bwho\b|\bas\b|\bper\b|\brequiring\b|\bincluding\b|"
                        r"\bsuch as\b|\bwithin\b|\bin the opinion\b|\baccording\b)", t[m.end():], maxsplit=1)[0]
        hits = vocab_find(vocab_regexes()["condition"], rest)
        if hits:
            keys = []
            for k, _, _ in hits:
                if k not in keys:
                    keys.append(k)
            conds = [Condition(condition=k, qualifiers=["clinically_significant"]) for k in keys]
            return [conds[0] if len(conds) == 1 else AnyOf(items=conds)]
        words = rest.strip().split()
        if not (1 <= len(words) <= 6) or not all(re.fullmatch(r"[A-Za-z][A-Za-z'/-]*", w) for w in words):
            return []
        lw = [w.lower() for w in words]
        if any(w in ("or", "and", "and/or") for w in lw) or all(w in _VAGUE_HEADS or w in _STOP for w in lw):
            return []
        return [Condition(condition=" ".join(lw), qualifiers=["clinically_significant"])]
    phrase = t[m.end():]
    if re.match(r"(?i)[^,;:()]{1,60}?(?:,|\bif\b|\bunless\b|\bwhen\b|\bexcept\b)", phrase) and re.match(
            r"(?i)(?:[A-Za-z'/-]+\s+){0,5}[A-Za-z'/-]+\s*(?:,|\bif\b|\bunless\b|\bwhen\b|\bexcept\b)", phrase):
        return []  # "X, Y or Z" (a list cut at its first comma) or "X if ..." (a condition on X): not one condition
    # a modal or auxiliary verb ends the name: "HCL must have received ...", "X syndrome should be documented"
    phrase = _MODAL_TAIL.split(phrase, maxsplit=1)[0]
    phrase = re.split(r"(?i)\s*(?:[(,;:.]|\bwithin\b|\bthat\b|\bwhich\b|\bwho\b|\bwhere\b|\bdefined\b|\bas\b|\bfor\b|\bwith\b|\bin the\b|\brequiring\b|\bincluding\b|\bsuch as\b|\bper\b|\baccording\b|\bby\b|\bon\b|\bat\b|\bfrom\b|\bof\s+(?:more|less|at)\b|\bduring\b|\bafter\b|\bbefore\b|\bprior\b|\bor\s+(?:any|other)\b)", phrase, maxsplit=1)[0]
    words = phrase.strip().split()
    if not (1 <= len(words) <= 6):
        return []
    if not all(re.fullmatch(r"[A-Za-z][A-Za-z'/-]*", w) for w in words):
        return []
    if all(w.lower() in _STOP for w in words) or words[0].lower() in _STOP and len(words) == 1:
        return []
    if words[0].lower() in ("been", "received", "had", "taken", "undergone", "participated", "to", "be", "not", "no"):
        return []
    name = " ".join(w.lower() for w in words)
    return [Condition(condition=name)]


def _allergy(t: str) -> list:
    if not _any(r"allerg|hypersensitiv|anaphyla|intoleran|adverse (?:drug )?reactions? to|sensitivity to", t):
        return []
    rx = vocab_regexes()
    subs = []
    for m in rx["agent"].finditer(t):
        key = rx["agent_names"].get(_SEP_RUN.sub(" ", m.group(0).lower()))
        if key and key not in subs:
            subs.append(key)
    if _any(r"study (?:drug|medication|treatment|agent)s?|investigational (?:product|drug)|excipient|components?|ingredients?|any of the (?:study )?drugs", t):
        subs.append("study_drug")
    if _any(r"contrast", t):
        subs.append("contrast_media")
    return [Allergy(substances=subs or ["unspecified"])]


# a comorbidity named only by its severity or its effect ("Current severe, uncontrolled systemic disease",
# "No other medical condition that would preclude study participation"): a clinician's judgement
_VAGUE_COMORBIDITY = re.compile(
    r"(?i)^\W*(?:no\s+|any\s+|has\s+(?:an?\s+)?|have\s+(?:an?\s+)?)?(?:other\s+)?"
    r"(?P<q>(?:(?:current|concurrent|active|ongoing|coexisting|co-existing|intercurrent|serious|severe|uncontrolled|unstable|"
    r"significant|clinically\s+significant|major|life-threatening|poorly\s+controlled|acute|chronic)\s*(?:,|and/or|and|or)?\s+)*)"
    r"(?:(?:medical|systemic|nonmalignant|non-malignant|concomitant|concurrent|psychiatric|psychosocial|comorbid|co-morbid|"
    r"underlying|other)\s+(?:or\s+\w+\s+)?)*(?:conditions?|illness(?:es)?|diseases?|disorders?|problems?|comorbidit(?:y|ies))\b"
    r"(?P<rest>[^.;]{0,120})")
_CONTRAINDICATION = re.compile(r"(?i)^\W*(?:no\s+|any\s+)?(?:known\s+)?(?:medical\s+)?contraindications?\s+(?:to|for)\s+[^.;]{1,80}")




# a window at the end of a condition list ("... within 6 months prior to study entry", "in the past 3 months")
_LIST_WINDOW = re.compile(
    r"(?i)[\s,]*\b(?:within|in|during)\s+(?:the\s+)?(?:last|past|previous|prior|preceding)?\s*"
    r"(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)?\s*(?P<u>days?|weeks?|months?|years?|yrs?)\b"
    r"(?:\s+(?:of|before|prior\s+to|preceding|from)\s+[^,;()]{0,60})?\s*\.?\s*$")
_LIST_BAD = re.compile(r"(?i)\b(?:other|any|e\.g|i\.e|such as|including|which|that|who|whose|unless|except|if|when|requiring|"
                       r"required|due to|related to|resulting|treated|defined|considered|judged|opinion|investigator|"
                       r"likely|may|might|could|would|affect|interfere|preclude|prevent|study|trial|protocol|patients?|"
                       r"subjects?|participants?|use|using|used|taken|took|had|undergone|underwent|taking|receiving|"
                       r"received|treatment|therapy|medications?|"
                       r"drugs?|allerg\w*|hypersensitiv\w*|not|no|without|excluding|only|than|per|at|on|after|"
                       r"before|prior|during|since|for|by|with|from|to|in|of the|the)\b|\d|[<>≤≥=%:;]")
_CANCER_EXTENT_WORDS = re.compile(r"(?i)\b(?:visceral|metasta\w*|tumou?rs?|lesions?|extensive|progressive|measurable|"
                                  r"evaluable|residual|palpable|bulky|malignan\w*|cancers?|loco-?regional|axillary|nodal|"
                                  r"primary|recurrent|bone)\b")
_LIST_QUAL_WORDS = frozenset(family_data("conditions").cues.words("condition_qualifier_words"))  # qualifiers of one condition, not items of a list
_SOFT_LEAD = re.compile(r"(?i)^\W*(?:no\s+)?(?:(?:prior|previous|known|documented|current|active|had|has\s+had|have\s+had|"
                        r"symptomatic|"
                        r"acute|chronic|severe|ongoing|concurrent|uncontrolled|significant|any)\s+(?:or\s+|and/or\s+)?)*")
_DISEASE_LIKE = re.compile(
    r"(?i)(?:itis|osis|emia|aemia|pathy|algia|oma|plegia|trophy|ectasis|megaly|mania|phobia|philia|penia|cytosis|"
    r"degeneration|disease|disorder|syndrome|failure|insufficiency|infection|ulcer|hernia|fistula|abscess|perforation|"
    r"obstruction|bleeding|hemorrhage|haemorrhage|thrombosis|embolism|effusion|ascites|dementia|epilepsy|seizures?|"
    r"psychosis|depression|diabetes|asthma|cirrhosis|hepatitis|stroke|angina|arrhythmia|infarction|accident|"
    r"schizophrenia|alcoholism|addiction|abuse|dependence|deficiency|malabsorption|colitis|fibrillation|block|"
    r"diarrh(?:o)?ea|nausea|vomiting|dyspn(?:o)?ea)s?$")
_LIST_MODIFIER = re.compile(r"(?i)(?:[a-z-]+\s+)?(?:[a-z-]+(?:al|ic|ar|ary|ous|ive|ory)|kidney|heart|lung|liver|bone|skin|eye|"
                            r"brain|bowel|stomach|artery|valve|joint|muscle|nerve|spine|spinal|thyroid|breast|colon)")
_LIST_HEADS = re.compile(r"(?i)\b(?:disease|diseases|disorders?|conditions?|syndromes?|dysfunction|insufficiency|failure|"
                         r"impairment|abnormalit(?:y|ies)|illness(?:es)?|infections?|injur(?:y|ies)|events?)$")


_GRADED_MARK = "zzgradedzz"  # stands for a grade of 2 or more in a list being split (letters only, as its items)
_GRADE_PHRASE = re.compile(r"(?i)\(?\b(?:nci[- ]?)?(?:(?:lown|nyha|ccs|gold|child[- ]?pugh|ctcae)\s*(?:v?\d(?:\.\d+)?\s*)?"
                           r"(?:class|grade|stage)?|class|grade)\s*"
                           r"(?:of\s*)?(?:[≥>]=?\s*)?(?P<g>iv|i{1,3}|[1-5])[abc]?\b(?:\s*(?:-|–|/|,|or|and|to|through|and/or)\s*"
                           r"(?:(?:class|grade)\s*)?(?:iv|i{1,3}|[1-5])[abc]?\b)*(?:\s*(?:or\s+(?:higher|greater|more|above)|\+))?\)?")


def _condition_list(t: str, kind: str) -> list:
    """"History of abdominal fistula, gastrointestinal perforation, or intra-abdominal abscess within 6 months",
    "Clinically significant coronary artery, cerebrovascular or peripheral vascular disease": any of the listed
    conditions (``AnyOf`` of ``Condition``, vocabulary keys else the names as written), with the window and the
    "clinically significant" qualifier the criterion states. Items sharing a head noun get it ("coronary
    artery ... disease"). Lists with an open item ("or any other ..."), an exception, a condition, a
    threshold or more than 5 words in an item are not taken."""
    m = _GENERIC_LEAD.match(t)
    soft = not m or not m.group(0).strip()
    if soft:
        # no "history of" lead ("No macular degeneration", "Documented cardiomyopathy"): only names of
        # diseases are taken (every item a vocabulary condition or ending like one)
        m = _SOFT_LEAD.match(t)
    lead = m.group(0).lower()
    rest = t[m.end():]
    rest = re.sub(r"\s*\((?:[^()]{0,80})\)", "", rest)  # acronyms and examples of the category
    # a grade on a scale ("NYHA class III or IV heart failure", "grade 3 or 4 neuropathy"): the grades joined by
    # "or" qualify the one condition beside them, they are not items of a list
    graded = _GRADE_PHRASE.search(rest)
    if graded is not None:
        g = graded.group("g").lower()
        mark = f" {_GRADED_MARK} " if (_GRADE_NUM.get(g) or int(g)) >= 2 else " "
        rest = (rest[:graded.start()] + mark + rest[graded.end():]).strip()
        if not re.sub(r"(?i)\b(?:with|of|and|or|" + _GRADED_MARK + r")\b", " ", rest).strip(" ,/-"):
            return []
    within = None
    wm = _LIST_WINDOW.search(rest)
    if wm:
        within = _dur(wm.group("n") or "one", wm.group("u"))
        rest = rest[:wm.start()]
    rest = rest.strip(" .,")
    if not rest or _LIST_BAD.search(rest):
        return []
    sep = r"\s*(?:,\s*(?:and/or|or|and)?|\band/or\b|\bor\b|/" + (r"|\band\b" if kind == "exclusion" or within else "") + r")\s*"
    items = [x.strip() for x in re.split(r"(?i)" + sep, rest) if x and x.strip()]
    if not items or (len(items) < 2 and within is None and not soft) or len(items) > 10:
        return []
    if soft and len(items) == 1 and items[0].split()[-1].lower() in _VAGUE_HEADS and len(items[0].split()) < 3 and \
            not vocab_find(vocab_regexes()["condition"], items[0]):
        return []  # "Palpable disease": not the name of a condition
    for it in items:
        w = it.split()
        if not 1 <= len(w) <= 5 or not all(re.fullmatch(r"[A-Za-z][A-Za-z'-]*", x) for x in w):
            return []
        if all(x.lower() in _LIST_QUAL_WORDS for x in w):
            return []  # "a known, pre-existing X": qualifiers of one condition, not a list
        if " and " in f" {it.lower()} " or all(x.lower() in _STOP or x.lower() in _VAGUE_HEADS for x in w):
            if not (len(items) > 1 and _LIST_HEADS.search(items[-1])):
                return []
    if soft and not all(_DISEASE_LIKE.search(it) or vocab_find(vocab_regexes()["condition"], it) for it in items):
        return []
    if soft and any(_CANCER_EXTENT_WORDS.search(it) for it in items):
        return []  # "Extensive visceral disease": the cancer's extent, not another condition
    head = _LIST_HEADS.search(items[-1])
    quals = ["clinically_significant"] if "clinically" in lead or "significant" in lead else []
    for q, rxq in (("uncontrolled", r"\buncontrolled\b"), ("severe", r"\bsevere\b"), ("symptomatic", r"\bsymptomatic\b"),
                   ("active", r"\bactive\b|\bongoing\b|\bcurrent\b")):
        if re.search(rxq, lead):
            quals.append(q)
    cond_rx = vocab_regexes()["condition"]
    out: list = []
    for i, it in enumerate(items):
        marked = _GRADED_MARK in it
        if marked:
            it = " ".join(w for w in it.split() if w != _GRADED_MARK)
            if not it:
                continue
        hits = vocab_find(cond_rx, it)
        if hits and hits[0][1] == 0 and hits[0][2] >= len(it.rstrip()) - 1:
            name = hits[0][0]
        else:
            name = " ".join(it.lower().split())
            if i < len(items) - 1 and len(items[-1].split()) > 1 and (
                    head and not _LIST_HEADS.search(it) or _LIST_MODIFIER.fullmatch(it)):
                # "coronary artery, ... vascular disease", "kidney, heart or lung transplants"
                name = f"{name} {items[-1].split()[-1].lower()}"
            if all(x in _STOP or x in _VAGUE_HEADS for x in name.split()):
                return []
        kw: dict[str, Any] = {"condition": name, "qualifiers": list(quals)}
        if marked and "severe" not in kw["qualifiers"]:
            kw["qualifiers"].append("severe")
        if within is not None:
            kw["within"] = within
        c = Condition(**kw)
        if not any(isinstance(o, Condition) and o.condition == name for o in out):
            out.append(c)
    if not out:
        return []
    return [out[0] if len(out) == 1 else AnyOf(items=out)]


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_DISEASE_LIKE', '_LIST_BAD', '_LIST_WINDOW', '_SEVERITY_BEFORE'):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


def _vague_comorbidity_atoms(t: str) -> list:
    """"Current severe, uncontrolled systemic disease", "No contraindication to ...": no defined condition,
    a clinician's call."""
    vm = _VAGUE_COMORBIDITY.match(t)
    if vm is not None and not (vm.group("q").strip() or re.search(
            r"(?i)preclud|interfer|compromis|jeopardi|prohibit|unsafe|undesirable|\brisk|opinion|judg|affect|"
            r"\blimit|prevent|unrelated|complicat|impair|contraindicat", vm.group("rest"))):
        vm = None
    vm = vm or _CONTRAINDICATION.match(t)
    if vm is None:
        return []
    return [NeedsConfirmation(
        category="investigator_judgement",
        reason=f"no defined condition: whether '{vm.group(0).strip()}' applies to her is a clinician's call")]


register("conditions", "infections", _infections)
register("conditions", "conditions", _conditions)
register("conditions", "allergy", _allergy)
register("conditions", "generic_condition", _generic_condition)
register("conditions", "condition_list", _condition_list, takes="text_kind")
register("conditions", "vague_comorbidity", _vague_comorbidity_atoms)


def _check_infection_cues() -> None:
    """Every infection cue holds a word of the infections gate, or is listed as read only beside one."""
    data = family_data("conditions")
    gate = data.extractors["infections"].gate.words()
    behind = set(data.cues.words("infection_cues_behind_other_words"))
    ungated = {cue for cues in rules().infections.values() for cue in cues
               if not any(w in cue.lower() for w in gate)}
    if ungated != behind:
        raise ValueError(f"conditions.json: infection cues that hold none of the infections gate words {list(gate)}: "
                         f"{sorted(ungated)}; cues.infection_cues_behind_other_words lists {sorted(behind)} (they must "
                         f"be the same: add a gate word, or list the cue)")


_check_infection_cues()
