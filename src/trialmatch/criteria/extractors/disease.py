"""Extractors of the disease: diagnosis and extent (stage), metastasis sites, measurable disease,
other malignancies.
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.common import (
    NUM, TIME, _OP_ANY, _any, _any_of, _dur, _has_any, _may_match, _num, _qualifiers, _rx,
)
from trialmatch.criteria.extractors.registry import family_data, register
from trialmatch.criteria.model import (
    AllOf, Diagnosis, DiseaseExtent, EventInterval, MeasurableDisease, Metastasis, Not, OtherMalignancy, Range, TherapyResponse,
    Unsupported, iter_atoms,
)
from trialmatch.criteria.rules import FoldedPattern, vocab_find, vocab_regexes


# (pattern, extent, words): each pattern behind the substrings it cannot match without (on the lower-cased text)
_EXTENT_RES = [(re.compile(e["pattern"], re.IGNORECASE), e["extent"], tuple(e["words"]))
               for e in family_data("disease").cues["extent_patterns"]]
_OTHER_CANCER_RE = re.compile(
    r"other (?:active |primary )*(?:malignan|cancer|tumou?r)|second (?:primary )?malignan|prior malignan|previous malignan|"
    r"another (?:primary )?(?:malignan|cancer)|history of (?:a )?(?:malignan|cancer)|other active cancers?", re.IGNORECASE)
_STAGE_RANGE = re.compile(r"(?i)\bstage\s*(iv|iii|ii|i|[1-4])([abc])?\s*(?:-|–|to|through)\s*(?:stage\s*)?(iv|iii|ii|i|[1-4])([abc])?\b")
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_STAGE_LIST = re.compile(r"(?i)\bstage\s*((?:iv|iii|ii|i|[1-4])[abc]?(?:\s*(?:,\s*(?:or|and)?|or|and|/|and/or)\s*(?:stage\s*)?"
                         r"(?:iv|iii|ii|i|[1-4])[abc]?\b)+)")
_STAGE_RE = re.compile(r"(?i)\bstage\s*((?:iv|iii|ii|i|Ⅳ|Ⅲ|[1-4])[abc]?)\b")


_CANCER_WORDS = (r"(?:cancers?|myeloma|lymphomas?|leuka?emias?|malignanc(?:y|ies)|tumou?rs?|carcinomas?|melanomas?|"
                 r"sarcomas?|gliomas?|glioblastomas?|neoplasms?|neoplastic|mds|cll|aml|all|cml)")
# a cancer named as the target of a therapy ("anti-myeloma therapy", "treatment for lymphoma"): the
# criterion is about the therapy (PriorTherapy / RecentEvent), not a diagnosis of that cancer
_THERAPY_FOR = re.compile(
    r"(?i)\banti-?\s?(?:[\w]+-)?" + _CANCER_WORDS + r"\b|\b(?:therapy|therapies|treatments?|regimens?|agents?|drugs?|"
    r"medications?|chemotherapy|chemotherapies|radiotherapy|radiation(?:\s+therapy)?|surgery)\s+(?:for|of|against|to treat)\s+"
    r"(?:the\s+|his\s+|her\s+|their\s+)?(?:[\w/-]+\s+){0,4}?" + _CANCER_WORDS + r"\b")
_THERAPY_FOR_GATE = family_data("disease").cues.words("therapy_for_gate")


# the whole clause names metastatic disease and nothing else ("Distant metastasis", "Metastatic disease",
# "Evidence of distant metastases (M1)"): her disease extent, also as an exclusion
_BARE_METASTATIC = re.compile(
    r"(?i)^\W*(?:(?:any|known|presence of|documented|definitive|clinical|radiological|(?:definitive\s+|clinical\s+)?"
    r"evidence of|history of|patients? with|diagnosis of)\s+)*(?:distant\s+)?(?:metastatic disease|metastas[ie]s|"
    r"distant disease|stage\s*iv(?:\s+disease)?|m1(?:\s+disease)?)(?:\s*\(\s*(?:m1|stage\s*iv)\s*\))?\W*$")
# a list item that is only extents ("is unresectable or metastatic", "Locally advanced or metastatic"): those extents
_BARE_EXTENTS = re.compile(
    r"(?i)^\W*(?:(?:is|are|has|have|with)\s+)?(?:(?:locally\s+advanced|unresectable|inoperable|metastatic|recurrent)"
    r"(?:\s*(?:,|or|and/or|/)\s*|\s*$))+\W*$")
_EXTENT_WORDS = {"locally advanced": "locally_advanced", "unresectable": "inoperable", "inoperable": "inoperable",
                 "metastatic": "metastatic", "recurrent": "recurrent"}


def _diagnosis(t: str, kind: str) -> list:
    out = []
    tl = t.lower()
    if "meta" in tl or "m1" in tl or "stage" in tl or "distant" in tl:
        if _BARE_METASTATIC.match(t):
            return [DiseaseExtent(allowed=["metastatic"], stages=[])]
    if kind == "inclusion" and _BARE_EXTENTS.match(t):
        found = [v for w, v in _EXTENT_WORDS.items() if re.search(r"(?i)\b" + w.replace(" ", r"\s+") + r"\b", t)]
        return [DiseaseExtent(allowed=list(dict.fromkeys(found)), stages=[])]
    if "free" in tl:
        t = _rx(r"[\w ]{0,20}cancer[- ]free").sub(" ", t)
        tl = t.lower()
    if _has_any(tl, _THERAPY_FOR_GATE) and _THERAPY_FOR.search(t):
        t = _THERAPY_FOR.sub(" ", t)
        tl = t.lower()
    rx = vocab_regexes()
    cancers = [h for h in vocab_find(rx["cancer"], t)
               if h[0] not in ("non_melanoma_skin_cancer", "cervical_carcinoma_in_situ", "stage_i_uterine_cancer",
                               "carcinoma_in_situ")]
    if _has_any(tl, ("malignan", "cancer", "tumo")) and _OTHER_CANCER_RE.search(t):
        return []
    if cancers and cancers[0][0] == "bilateral_breast_cancer":
        # "Bilateral (synchronous) breast cancer": a breast cancer in both breasts, not any breast cancer;
        # the record states it as a condition (the diagnosis model has no laterality): conditions.json
        # maps it, so it compiles to Condition(bilateral_breast_cancer) in _conditions
        return []
    if cancers:
        key = cancers[0][0]
        hist = [h[0] for h in vocab_find(rx["histology"], t) if h[0] != "triple_negative"]
        confirmed = None
        h = _any(r"histolog|patholog", t)
        c = _any(r"cytolog", t)
        if h and c:
            confirmed = "histology_or_cytology"
        elif h:
            confirmed = "histology"
        elif c:
            confirmed = "cytology"
        out.append(Diagnosis(cancer_type=key, histology=hist, confirmed_by=confirmed))
    stage_hit = _STAGE_RE.findall(t) if "stage" in tl else []
    allowed = []
    for rxx, val, gate in _EXTENT_RES:
        if _has_any(tl, gate) and rxx.search(t) and val not in allowed:
            if val == "metastatic" and _any(r"brain metasta|liver metasta|bone metasta|cns metasta|metastases? (?:to|in) the brain|poorly controlled|leptomening", t) and not cancers:
                continue
            allowed.append(val)
    if "locally_advanced" in allowed and "advanced" in allowed:
        allowed.remove("advanced")
    rng = _STAGE_RANGE.search(t) if stage_hit else None
    if rng:
        # "stage I-III", "stage II to IIIA": every stage in the range, the ends as written
        order = ["I", "II", "III", "IV"]
        lo, hi = (_ROMAN.get(g.upper(), g.upper()) for g in (rng.group(1), rng.group(3)))
        if lo in order and hi in order and order.index(lo) < order.index(hi):
            mid = order[order.index(lo) + 1:order.index(hi)]
            hi_l = (rng.group(4) or "").upper()
            his = [hi + x for x in "ABC"[:"ABC".index(hi_l) + 1]] if hi_l else [hi]  # "2-3B": IIIA and IIIB
            stage_hit = [lo + (rng.group(2) or "").upper()] + mid + his + \
                [x for x in stage_hit if x.upper() not in (rng.group(1).upper() + (rng.group(2) or "").upper(),)]
    sl = _STAGE_LIST.search(t) if stage_hit and not rng else None
    if sl:  # "Stage IIIB, IIIC, or IV": each stage listed
        stage_hit = re.findall(r"(?i)(?:iv|iii|ii|i|[1-4])[abc]?", re.sub(r"(?i)\b(?:stage|or|and)\b", " ", sl.group(1)))
    bare_stage = bool(stage_hit) and re.match(r"(?i)^\W*(?:(?:clinical|pathologic(?:al)?|ajcc)\s+)?stages?\b", t) is not None
    if (cancers or bare_stage or ((allowed or rng) and _any(r"disease|cancer|tumou?r|carcinoma|malignan|stage|has spread|spread", t))) \
            and (allowed or stage_hit):
        stages = []
        for s in stage_hit:
            s = s.upper().replace("Ⅳ", "IV").replace("Ⅲ", "III")
            s = {"4": "IV", "3": "III", "2": "II", "1": "I"}.get(s, s)
            if s not in stages:
                stages.append(s)
        if stages and "IV" in stages and "metastatic" not in allowed:
            allowed.append("metastatic")
        if not (kind == "exclusion" and not cancers):
            out.append(DiseaseExtent(allowed=allowed, stages=stages))
    return out


# "<sites> metastases" and "metastases to <site>" (groups 1, 2), then the wordings without "metasta"
# (groups 3, 4)
_METS_WITH_METASTA = (
    r"\b((?:(?!metasta)[\w-]+\s+){0,2}(?!metasta)[\w-]+(?:\s*(?:,|and|or|and/or|/)\s*(?!metasta)[\w-]+){0,2})\s+"
    r"(?:\(\s*[A-Za-z]{2,6}\s*\)\s+)?"
    r"metasta(?:ses|sis|tic disease)|metasta(?:ses|sis|tic disease)\s+(?:to|in|of)\s+(?:the\s+)?(\w+(?:\s+\w+){0,2})")
_METS_WITHOUT_METASTA = (
    r"\b(leptomeningeal|CNS|brain|central\s+nervous\s+system)\s+(?:\(\s*CNS\s*\)\s+)?(?:disease|involvement|lesions?|spread)|"
    r"\bspread\s+to\s+the\s+(brain|liver|bones?|lungs?|central\s+nervous\s+system)\b")
_METS_RE = re.compile(r"(?i)" + _METS_WITH_METASTA + "|" + _METS_WITHOUT_METASTA)
_METS_AS_TARGET = re.compile(r"(?i)\b(?:management|treatment|prevention|palliation|control|treat|treating|prevent)\s+"
                             r"(?:of\s+)?(?:the\s+)?(?:\w+\s+)?$")
_METS_GAP = re.compile(r"(?i)\s*(?:(?:,|and|or|and/or|/)\s*)*(?:\(\s*[A-Za-z]{2,6}\s*\))?\s*")


# Speed: ``_METS_RE`` for a clause without "metasta": its first two alternatives cannot match (the first
# tries up to five words at every word of the clause), so they become ``(?!)()`` (never match, same group numbers)
_METS_NO_METASTA_RE = re.compile(r"(?i)(?!)()|(?!)()|" + _METS_WITHOUT_METASTA)


def _metastasis(t: str) -> list:
    out = []
    rx = vocab_regexes()
    for m in (_METS_RE if _may_match(t, ("metasta",)) else _METS_NO_METASTA_RE).finditer(t):
        phrase = m.group(1) or m.group(2) or m.group(3) or m.group(4) or ""
        hits = vocab_find(rx["site"], phrase)
        if m.group(1):
            # the sites must be what qualifies "metastases" ("central nervous system (CNS) metastases",
            # "bone and brain metastases"), not a word further back ("bone pain from metastases")
            if not hits or not _METS_GAP.fullmatch(phrase[hits[-1][2]:]):
                continue
            run = [hits[-1]]
            for h in reversed(hits[:-1]):  # the sites listed right before it ("bone, liver or lung")
                if not _METS_GAP.fullmatch(phrase[h[2]:run[0][1]]):
                    break
                run.insert(0, h)
            hits = run
        elif m.group(2):
            hits = hits[:1] if hits and not phrase[:hits[0][1]].strip() else []
        sites = [h[0] for h in hits]
        if not sites:
            continue
        pos = (m.start(1) + hits[0][1]) if m.group(1) else m.start()
        if _METS_AS_TARGET.search(t[max(0, pos - 50):pos]):
            continue  # "antagonists permitted for the management of bone metastases": a therapy's purpose
        after = re.split(r"(?i)\s(?:or|and|and/or)\s+(?=(?:\w+\s+)?(?:leptomening|meningeal|carcinomatos|[\w-]+\s+metasta))|;",
                         t[m.end():m.end() + 80], maxsplit=1)[0]
        ctx = t[max(0, m.start() - 60):m.end()] + after
        quals = _qualifiers(ctx, {"active", "untreated", "unstable", "symptomatic", "progressing", "uncontrolled", "leptomeningeal"})
        only = _any(r"\bonly\b", t[max(0, m.start() - 20):m.end() + 10])
        for site in sites:
            if not any(isinstance(x, Metastasis) and x.site == site for a in out for x in iter_atoms(a)):
                allow = _METS_ALLOW.search(t, m.start()) if site in ("brain", "cns", "leptomeningeal") else None
                if allow is None and site in ("brain", "cns", "leptomeningeal") and \
                        re.search(r"(?i)\b(?:unless|except|provided)\b", t[m.end():]):
                    out.append(Unsupported(reason="brain metastases with an exception that is not modelled"))
                    continue
                if allow is not None:
                    # "no CNS metastases unless treated and stable", "... or previously treated and now stable
                    # CNS metastases": only active (untreated, unstable, progressing) ones count
                    atom = Metastasis(site=site, qualifiers=quals or ["active"], only=only)
                    out.append(Not(item=atom) if _METS_ELIGIBLE_IF.search(t) else atom)
                else:
                    out.append(Metastasis(site=site, qualifiers=quals, only=only))
    for m in re.finditer(r"(?i)\b(bone|visceral)[- ]only\b", t):
        site = m.group(1).lower()
        if not any(isinstance(a, Metastasis) and a.site == site for a in out):
            out.append(Metastasis(site=site, only=True))
    return out


# an allowance for treated, stable brain metastases after the mention ("unless treated and stable", "or
# previously treated and now stable CNS metastases", "if asymptomatic")
_METS_ALLOW = re.compile(
    r"(?i)\b(?:unless|except|or|if|provided(?:\s+that)?|as long as|but)\b[^.;]{0,60}?\b(?:(?<!un)treated|stable|"
    r"controlled|asymptomatic|inactive|clinically stable)\b")
# "Patients with brain metastases are eligible if ...": a permission with a condition, i.e. none that are active
_METS_ELIGIBLE_IF = re.compile(r"(?i)\b(?:are|is|will be|may be)\s+(?:eligible|allowed|permitted|included)\b[^.;]{0,20}?"
                               r"\b(?:if|provided|as long as|when)\b")


def _measurable(t: str) -> list:
    if _any(r"measurable|evaluable|recist", t) and _any(r"lesion|disease|recist|tumou?r", t):
        if _any(r"recist", t) and not _any(r"measurable|evaluable", t):
            return []
        std = "RECIST 1.1" if _any(r"recist", t) else "any"  # not None: to_dict drops None and the default is RECIST
        return [MeasurableDisease(standard=std, allow_bone_only_evaluable=_any(r"evaluable|bone[- ]only", t))]
    return []


# more wordings of another cancer ("Other major cancer in the past 3 years", "Previous cancer (except ...)", "No
# malignancy within the past 5 years except ..."): ``cues.other_malignancy_patterns`` of disease.json
_OTHER_MALIGNANCY_MORE = re.compile("|".join(family_data("disease").cues["other_malignancy_patterns"]), re.IGNORECASE)


def _other_malignancy(t: str) -> list:
    if not _any(r"other (?:active |primary |invasive )*(?:malignan|cancers?|tumou?rs?|invasive)|second (?:primary )?(?:malignan|cancer)|prior malignan|previous malignan|another (?:primary )?(?:malignan|cancer)|history of (?:a |any )?(?:other )?(?:malignan|cancer)|concurrent malignan|additional malignan|malignancies? (?:other than|within)", t) \
            and not _OTHER_MALIGNANCY_MORE.search(t):
        return []
    within = None
    m = re.search(r"(?i)(?:within|in)\s+(?:the\s+)?(?:last|past|previous|prior)?\s*" + NUM + r"\s*" + TIME, t) or \
        re.search(r"(?i)" + NUM + r"\s*" + TIME + r"\s*(?:prior|before)", t)
    if m:
        within = _dur(m.group(1), m.group(2))
    exc = []
    em = re.search(r"(?i)\b(?:except|excluding|other than|with the exception of|unless|apart from|but not|with)\b", t)
    if em:
        for key, _, _ in vocab_find(vocab_regexes()["cancer"], t[em.start():] if em else t):
            if key != "breast_cancer" and key not in exc:
                exc.append(key)
        for key, _, _ in vocab_find(vocab_regexes()["cancer"], t):
            if key in ("non_melanoma_skin_cancer", "cervical_carcinoma_in_situ", "stage_i_uterine_cancer", "dcis",
                       "carcinoma_in_situ") and key not in exc:
                exc.append(key)
    active = _any(r"\bactive\b|requir(?:ing|es?) (?:active )?treatment|currently (?:being )?treated|under treatment|"
                  r"needs? (?:active )?treatment|needing (?:active )?treatment|receiving treatment", t)
    return [OtherMalignancy(within=within, exceptions=exc, active_only=active)]


_SETTING_PHRASE = re.compile(
    r"(?i)\b(?:for|in|in the|of)\s+(?:the\s+)?(?:(?:locally\s+)?advanced|metastatic|recurrent|unresectable)"
    r"(?:\s*(?:,|or|and/or|and|/)\s*(?:locally\s+advanced|advanced|metastatic|recurrent|unresectable))*"
    r"(?:\s+(?:breast\s+)?(?:cancer|disease|setting|stage|bc|mbc))?|\b(?:metastatic|advanced)\s+setting")


# Speed: the case-insensitive patterns that run over most clauses, as ``FoldedPattern`` (rules.py): the
# same matches, found faster in most text (chosen by measurement, see compile.py).
for _name in ('_OTHER_CANCER_RE', '_THERAPY_FOR'):
    globals()[_name] = FoldedPattern(globals()[_name])
del _name


register("disease", "other_malignancy", _other_malignancy)
register("disease", "diagnosis", _diagnosis, takes="text_kind")
register("disease", "metastasis", _metastasis)
register("disease", "measurable", _measurable)


# ----------------------------------------------------------------------------- course of the disease
# response to a therapy she has had ("responding or stable on first-line therapy for ≥ 6 months", "complete
# response (CR), partial response (PR) or stable disease (SD) to their most recent therapy") and the interval
# between two events of her history ("time from diagnosis to randomisation ≤ 1 year", "disease-free interval
# ≤ 36 months"). Both are guards: their wordings hold words other extractors would misread (a diagnosis,
# a therapy history); a cue they cannot read fully stays unsupported with the reason.
_COURSE = family_data("disease").cues
_RESPONSE_CUE = re.compile(_COURSE["response_cue"]["pattern"])
_RESPONSE_CUE_WORDS = tuple(_COURSE["response_cue"]["words"])
_RESPONSE_TERMS = [(re.compile(p, re.IGNORECASE), tuple(codes)) for p, codes in _COURSE["response_terms"].items()]
_PROGRESSION_ON_RECENT = re.compile(_COURSE["progression_on_recent_cue"]["pattern"])
_PROGRESSION_ON_RECENT_WORDS = tuple(_COURSE["progression_on_recent_cue"]["words"])
_RESPONSE_AGENTS = [(re.compile(p, re.IGNORECASE), key) for p, key in _COURSE["response_agents"].items()]


def _check_response_agents() -> None:
    from trialmatch.vocab import class_vocabulary, drug_vocabulary

    bad = sorted({k for _, k in _RESPONSE_AGENTS} - set(class_vocabulary()) - set(drug_vocabulary()))
    if bad:
        raise ValueError(f"disease.json: cues.response_agents names keys not in the drug or class vocabulary: {bad}")


_check_response_agents()
_OP_NUM_TIME = r"(?P<op>" + _OP_ANY + r"|not (?:be )?less than|no less than|not shorter than|longer than)\s*(?P<n>" + NUM[1:-1] + r")\s*"
_MIN_DURATION = re.compile(r"(?i)(?:\bfor\s+)?(?:(?:at least|≥|>=|more than|>|a minimum of|not (?:be )?less than|no less than|"
                           r"longer than)\s*)(?P<n>" + NUM[1:-1] + r")\s*(?P<u>days?|weeks?|months?|years?)\b"
                           r"|(?:\bfor|\bduring|\blasting)\s+(?P<n2>" + NUM[1:-1] + r")\s*(?P<u2>days?|weeks?|months?|years?)\b"
                           r"|\b(?:the\s+)?time\s+(?:is\s+)?(?:not (?:be )?less than|no less than|at least)\s*(?P<n3>"
                           + NUM[1:-1] + r")\s*(?P<u3>days?|weeks?|months?|years?)\b")
_MIN_CYCLES = re.compile(r"(?i)(?:(?:at least|≥|>=|a minimum of|not (?:be )?less than|no less than|more than|>)\s*|\bafter\s+)"
                         r"(?P<n>\d+|one|two|three|four|five|six|eight|ten|twelve)\s*(?:cycles?|courses?)\b"
                         r"|\b(?:number of )?cycles?\s+(?:is\s+)?(?:not (?:be )?less than|no less than|at least|≥|>=)\s*(?P<n2>\d+)")


def _response_parts(t: str) -> list:
    """The TherapyResponse atoms of a clause that states a response (one per therapy with its own duration or
    cycles: "If endocrine therapy only, the time is not less than 6 months; when receiving chemotherapy, the
    number of cycles is not less than 4"), or [] when no response set is read."""
    codes: list[str] = []
    for rx, cs in _RESPONSE_TERMS:
        if rx.search(t):
            codes.extend(c for c in cs if c not in codes)
    if not codes:
        return []
    codes = [c for c in ("CR", "PR", "SD") if c in codes]
    lines = Range(low=1, high=1) if _any(r"\bfirst[- ]line\b|\b1st[- ]line\b", t) else None
    if lines is None and _any(r"\bsecond[- ]line\b|\b2nd[- ]line\b", t):
        lines = Range(low=2, high=2)
    settings = ["advanced"] if _any(r"\b(?:metastatic|advanced)\b", t) else ["any"]
    most_recent = True if _any(r"\b(?:most recent|last|latest|preceding|prior)\s+(?:line of\s+)?(?:therapy|treatment|regimen)", t) else None
    ongoing = True if _any(r"\b(?:ongoing|still responding|currently (?:responding|on)|continu(?:ing|es) (?:on|to respond))\b", t) else None
    base = dict(responses=codes, settings=settings, lines=lines, most_recent=most_recent, ongoing=ongoing)

    def limits(part: str) -> dict:
        out: dict = {}
        dm = _MIN_DURATION.search(part)
        if dm:
            n, u = next((dm.group(g), dm.group(h)) for g, h in (("n", "u"), ("n2", "u2"), ("n3", "u3")) if dm.group(g))
            out["min_duration"] = _dur(n, u)
        cm = _MIN_CYCLES.search(part)
        if cm:
            out["min_cycles"] = int(_num(cm.group("n") or cm.group("n2")))
        return out

    def agents(part: str) -> list[str]:
        found: list[str] = []
        for rx, key in _RESPONSE_AGENTS:
            if rx.search(part) and key not in found:
                found.append(key)
        return found

    parts = [p for p in _RESPONSE_PARTS.split(t) if p and p.strip()]
    own = [(agents(p), limits(p)) for p in parts]
    own = [(a, lim) for a, lim in own if a and lim]
    if len(own) >= 2:
        return [_any_of([TherapyResponse(agents=a, **base, **lim) for a, lim in own])]
    whole_agents, whole_limits = agents(t), limits(t)
    if len(whole_agents) > 1 and len(whole_limits) > 1:
        return []  # limits of several therapies not told apart: not read
    return [TherapyResponse(agents=whole_agents, **base, **whole_limits)]


# the parts of a response clause that may each hold a therapy with its own limit: sentences, semicolons,
# "or at least 6 months of endocrine therapy"
_RESPONSE_PARTS = re.compile(r"(?i);|(?<=[a-z)])\.\s+|,?\s+\bor\b\s+(?=(?:at least|≥|>=|a minimum of|more than)\b)")


def _therapy_response_guard(c, t: str):
    if _may_match(t, _PROGRESSION_ON_RECENT_WORDS) and _PROGRESSION_ON_RECENT.search(t):
        # "documented radiologic progression (during or after most recent treatment)"
        return [TherapyResponse(responses=["PD"], most_recent=True)]
    if not (_may_match(t, _RESPONSE_CUE_WORDS) and _RESPONSE_CUE.search(t)):
        return None
    atoms = _response_parts(t)
    return atoms or [Unsupported(reason="response to prior therapy: a wording not read")]


_INTERVAL_CUE = re.compile(_COURSE["interval_cue"]["pattern"])
_INTERVAL_CUE_WORDS = tuple(_COURSE["interval_cue"]["words"])
_INTERVAL_ANCHORS = {side: [(re.compile(p, re.IGNORECASE), key) for p, key in _COURSE["interval_anchors"][side].items()]
                     for side in ("start", "end")}
_INTERVAL_LIMIT = re.compile(
    r"(?i)(?P<op>≤|<=|=<|≥|>=|=>|<|>|less than or equal to|greater than or equal to|equal to or less than|of at least|"
    r"at least|no more than|not more than|does not exceed|do not exceed|not exceed(?:ing)?|not (?:be )?less than|"
    r"no less than|(?:longer|greater|more) than|(?:shorter|less) than|within|of|is|was|up to|maximum of)?\s*"
    r"(?P<n>\d+(?:[.,]\d+)?|one|two|three|four|five|six|twelve)\s*(?P<u>days?|weeks?|months?|years?)\b"
    r"(?P<after>\s*(?:or\s+(?:less|fewer|shorter|more|longer|greater))?)")
_LIMIT_OPS = {"≤": "<=", "<=": "<=", "=<": "<=", "less than or equal to": "<=", "equal to or less than": "<=",
              "no more than": "<=", "not more than": "<=", "does not exceed": "<=", "do not exceed": "<=",
              "not exceed": "<=", "not exceeding": "<=", "within": "<=", "up to": "<=", "maximum of": "<=",
              "≥": ">=", ">=": ">=", "=>": ">=", "greater than or equal to": ">=", "of at least": ">=",
              "at least": ">=", "not less than": ">=", "not be less than": ">=", "no less than": ">=",
              "longer than": ">", "greater than": ">", "more than": ">", ">": ">", "<": "<", "shorter than": "<",
              "less than": "<"}


def _event_interval_guard(c, t: str):
    if not (_may_match(t, _INTERVAL_CUE_WORDS) and _INTERVAL_CUE.search(t)):
        return None
    m = _INTERVAL_CUE.search(t)
    dfi = bool(m.group("dfi"))
    # a wording not read: a disease-free interval is left to the other extractors; "the time from A to B"
    # stays unsupported (no extractor reads an interval)
    unread = None if dfi else [Unsupported(reason="interval between two events is not modelled")]
    head = t[m.start():]
    to = None if dfi else re.search(r"(?i)\b(?:to|and|until)\b", head)
    if not dfi and to is None:
        return unread
    lm = _INTERVAL_LIMIT.search(head, m.end() - m.start() if dfi else to.end())
    if lm is None:
        return unread
    op = _LIMIT_OPS.get(re.sub(r"\s+", " ", (lm.group("op") or "").lower()))
    tail = lm.group("after").lower()
    if op is None and ("or less" in tail or "or fewer" in tail or "or shorter" in tail):
        op = "<="
    elif op is None and ("or more" in tail or "or longer" in tail or "or greater" in tail):
        op = ">="
    if op is None:
        return unread
    if dfi:
        after_end = _any(r"\b(?:after|from)\s+(?:the\s+)?(?:end|completion)\b", head)
        starts, ends = ["primary_treatment_end" if after_end else "diagnosis"], ["recurrence"]
    else:
        span = head[:lm.start()]
        starts = [k for rx, k in _INTERVAL_ANCHORS["start"] if rx.search(head[:to.start()])]
        ends = list(dict.fromkeys(k for rx, k in _INTERVAL_ANCHORS["end"] if rx.search(span[to.end():])))
        if not starts or len(ends) != 1:
            return unread
    dur = _dur(lm.group("n"), lm.group("u"))
    return [_any_of([EventInterval(start=s, end=ends[0], comparator=op, duration=dur) for s in dict.fromkeys(starts)])]


# "CNS progression after previous CNS-directed therapy", "progression of brain metastases following prior
# radiotherapy": brain metastases that were treated and then progressed; both must hold
_CNS_PROGRESSION_AFTER_LOCAL = re.compile(family_data("disease").cues["cns_progression_after_local_therapy"])


def _cns_progression_guard(c, t: str):
    if not _CNS_PROGRESSION_AFTER_LOCAL.search(t):
        return None
    return [AllOf(items=[Metastasis(site="cns", qualifiers=["progressing"]), Metastasis(site="cns", qualifiers=["treated"])])]


register("disease", "cns_progression_after_local_therapy", _cns_progression_guard, takes="clause")
register("disease", "therapy_response", _therapy_response_guard, takes="clause")
register("disease", "event_interval", _event_interval_guard, takes="clause")
