"""Unstructured trial documents (plain text, or HTML turned into text lines).

Four kinds are recognised by their content:

``registry_mirror``
    a page of labelled fields (``Conditions``, ``Interventions``, ``Registration Number``,
    ``Lead Sponsor``, ``Inclusion Criteria``, ``Primary Outcome Measures`` ...), as registry
    mirror sites show a ClinicalTrials.gov record.
``pubmed_abstract``
    a PubMed page: citation, title and a structured abstract; results are read from it.
``plain_language``
    a page for patients with "Who Can Join / Who Cannot Join" sections and protocol steps.
``registry_text``
    a registry record flattened to text: a title line, a summary, then lines such as
    ``"Breast Cancer Metastatic"`` (conditions), ``"DRUG: Tamoxifen"`` (interventions),
    ``"Progression-free Survival (PFS), 36months"`` (measure, time frame), or bullet criteria.

Anything else is an unrecognised format. Rules used everywhere (documented in the report):

* boilerplate lines (cookie / consent banners, copyright lines and the site name they give,
  "Skip to main content" and other page furniture, flag emoji) never become data;
* ages and sex come from structured fields; only when a document has none are they read from the
  first inclusion line that states an explicit age range or minimum (see
  :func:`~trialmatch.trials.readers.common.ages_from_criteria`);
* a phase is read from prose only when it is said of the study (``"This phase II study"``);
* the id is the registry number the document states, else the file stem.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from trialmatch.trials.readers.common import (
    age_to_years,
    clean_space,
    find_registry_ids,
    intervention_type,
    is_registry_id,
    normalise_sex,
    normalise_status,
    phase_tokens,
)

# --------------------------------------------------------------------------- boilerplate

_BOILER_EXACT = {
    "skip to main page content", "skip to main content", "skip to content", "back to top",
    "menu", "search", "log in", "login", "sign in", "sign up", "share", "print", "close",
    "accept", "accept all", "reject all", "cookie settings", "manage cookies", "u.s. flag",
    "dot gov", "https", "the site is secure.", "an official website of the united states government",
    "toggle navigation", "main navigation",
}
_COOKIE = re.compile(r"(?i)\bcookies?\b")
_COOKIE_CTX = re.compile(r"(?i)consent|privacy|accept|website|browser|this site|our site|tracking")
_COPYRIGHT = re.compile(r"(?i)^\s*(?:©|\(c\)|copyright\b)|all rights reserved")
_SITE_FROM_COPYRIGHT = re.compile(
    r"(?i)(?:all rights reserved\s+by|©\s*(?:copyright\s*)?(?:\d{4}\s*)?(?:[-–]\s*\d{4}\s*)?)\s*"
    r"([A-Z][\w&.\- ]{1,40}?)\s*\.?\s*$"
)
_NO_LETTERS = re.compile(r"^[^A-Za-z0-9]*$")


def is_boilerplate(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    low = s.lower()
    if low in _BOILER_EXACT:
        return True
    if _COOKIE.search(s) and _COOKIE_CTX.search(s):
        return True
    if _COPYRIGHT.search(s):
        return True
    if re.match(r"(?i)^(?:terms of (?:use|service)|privacy policy|disclaimer|contact us)$", s):
        return True
    return False


def prepare_lines(text: str) -> list[str]:
    """Normalise line ends and spaces; drop boilerplate lines and the site name they reveal."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    raw = [ln.rstrip() for ln in text.split("\n")]
    sites: set[str] = set()
    for ln in raw:
        if _COPYRIGHT.search(ln):
            m = _SITE_FROM_COPYRIGHT.search(ln.strip())
            if m:
                sites.add(m.group(1).strip().lower())
    out = []
    for ln in raw:
        s = ln.strip()
        if s and (is_boilerplate(s) or s.lower() in sites or _NO_LETTERS.match(s)):
            continue
        out.append(ln.replace("\t", "    "))
    return out


def _nonblank(lines: list[str]) -> list[str]:
    return [ln.strip() for ln in lines if ln.strip()]


_BULLET = re.compile(r"^\s*(?:[•●○◦▪▫■□·*‣⁃–—-]|\d{1,2}[.)])\s+")


def _is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line))


def _paragraphs(lines: list[str]) -> list[str]:
    paras, cur = [], []
    for ln in lines:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return paras


def _join_paras(lines: list[str]) -> str | None:
    text = "\n\n".join(_paragraphs(lines)).strip()
    return text or None


# --------------------------------------------------------------------------- drug names


@lru_cache(maxsize=1)
def _drug_vocab() -> tuple[re.Pattern[str], set[str]]:
    raw = resources.files("trialmatch.trials.readers").joinpath("drug_stems.json").read_text("utf-8")
    vocab = json.loads(raw)
    min_len = int(vocab.get("min_length", 6))
    suffixes = sorted(vocab["suffixes"], key=len, reverse=True)
    extra: list[str] = []
    try:  # the project's drug vocabulary (generic names), where present
        from trialmatch.vocab import drug_vocabulary

        # single-word generic names only ("grapefruit juice" is in there as an interaction)
        extra = [n for n in drug_vocabulary() if len(n) >= min_len and re.fullmatch(r"[a-z-]+", n)]
    except Exception:  # noqa: BLE001 - the stems alone still work
        extra = []
    names = sorted(set(vocab["names"]) | set(extra), key=len, reverse=True)
    alts = [re.escape(n) for n in names] + [
        rf"[a-z][a-z-]{{{max(min_len - len(s) - 1, 0)},}}{re.escape(s)}" for s in suffixes
    ]
    pat = re.compile(r"(?i)\b(?:" + "|".join(alts) + r")\b")
    return pat, {e.lower() for e in vocab.get("exclude", [])}


def drug_names(text: str) -> list[str]:
    """Drug names a text states, in order of first mention (as first written, lower-cased)."""
    pat, exclude = _drug_vocab()
    out: list[str] = []
    for m in pat.finditer(text):
        name = m.group(0).lower()
        if name in exclude or name in out:
            continue
        out.append(name)
    return out


_DOSE_NAME = re.compile(
    r"\b([A-Za-z][A-Za-z-]{3,})\s+\d+(?:\.\d+)?\s*(?:mg|g|µg|mcg|ug|IU|units?|mL)(?:/[A-Za-z0-9²]+)*\b"
)


def _names_in_regimen(text: str) -> list[str]:
    """Drug names in an arm description: known names, and any word followed by a dose."""
    names = drug_names(text)
    for m in _DOSE_NAME.finditer(text):
        n = m.group(1).lower()
        if n not in names:
            names.append(n)
    order = {n: text.lower().find(n) for n in names}
    return sorted(names, key=lambda n: order[n])


# --------------------------------------------------------------------------- classification

_MIRROR_LABELS: dict[str, str] = {
    "conditions": "conditions", "condition": "conditions", "conditions studied": "conditions",
    "interventions": "interventions", "intervention": "interventions",
    "registration number": "reg", "registration no": "reg", "nct number": "reg",
    "trial id": "reg", "study id": "reg", "trial registration": "reg", "clinicaltrials.gov id": "reg",
    "lead sponsor": "sponsor", "sponsor": "sponsor", "collaborators": "collaborators",
    "brief summary": "summary", "summary": "summary", "detailed description": "description",
    "recruitment & eligibility": "_", "recruitment and eligibility": "_", "eligibility": "_",
    "status": "status", "recruitment status": "status", "overall status": "status",
    "sex": "sex", "gender": "sex", "sexes eligible": "sex", "sex/gender": "sex",
    "age": "age", "ages": "age", "ages eligible": "age", "minimum age": "min_age",
    "maximum age": "max_age", "healthy volunteers": "healthy",
    "accepts healthy volunteers": "healthy", "target recruitment": "_", "enrollment": "_",
    "inclusion criteria": "inclusion", "exclusion criteria": "exclusion",
    "eligibility criteria": "criteria", "study & design": "_", "study design": "_",
    "study type": "study_type", "arm && interventions": "arms", "arm & interventions": "arms",
    "arms & interventions": "arms", "arms and interventions": "arms", "arm groups": "arms",
    "primary outcome measures": "primary", "primary outcomes": "primary",
    "primary outcome": "primary", "secondary outcome measures": "secondary",
    "secondary outcomes": "secondary", "secondary outcome": "secondary",
    "trial locations": "locations", "locations": "locations", "study locations": "locations",
    "phase": "phase", "study phase": "phase", "start date": "start_date", "study start": "start_date",
    "last updated": "last_update", "last update posted": "last_update", "acronym": "acronym",
    "official title": "official_title", "why stopped": "why_stopped",
}
_MIRROR_CORE = {"conditions", "interventions", "reg", "sponsor", "summary", "description",
                "status", "sex", "inclusion", "exclusion", "study_type", "arms", "primary",
                "secondary", "locations", "phase", "criteria"}
_LOCATIONS_N = re.compile(r"(?i)^locations?\s*\(\d+\)$")


def _mirror_label(line: str) -> tuple[str, str | None] | None:
    """``(key, inline value)`` when a line is a known field label (``"Sex"`` or ``"Sex: Female"``)."""
    s = line.strip()
    if not s or len(s) > 80:
        if s and ":" in s:
            head, _, rest = s.partition(":")
            key = _MIRROR_LABELS.get(head.strip().lower())
            if key and key not in ("inclusion", "exclusion", "criteria", "summary", "description"):
                return key, rest.strip() or None
        return None
    if _LOCATIONS_N.match(s):
        return "locations", None
    key = _MIRROR_LABELS.get(s.rstrip(":").strip().lower())
    if key:
        return key, None
    if ":" in s:
        head, _, rest = s.partition(":")
        key = _MIRROR_LABELS.get(head.strip().lower())
        if key and rest.strip():
            return key, rest.strip()
    return None


_WHO_CAN = re.compile(r"(?i)^\W*who\s+(?:can|may|is able to)\s+(?:join|take part|participate)")
_WHO_CANNOT = re.compile(
    r"(?i)^\W*who\s+(?:cannot|can ?not|can't|may not|should not)\s+(?:join|take part|participate)"
)
_STEP = re.compile(r"^\s*(?:step\s*)?(\d{1,2})\s*[.):-]?\s*([A-Za-z][^()]{2,80}?)\s*\(\s*step\s*(\d{1,2})\s*\)\s*$",
                   re.I)
_STEP2 = re.compile(r"(?i)^\s*step\s+(\d{1,2})\s*[:.–-]\s*(.{3,80})$")
_ABSTRACT = re.compile(r"(?i)^\s*abstract\s*$")
_DOI = re.compile(r"(?i)\bdoi:\s*(10\.\d{3,9}/\S+?)\.?(?=\s|$)")
_PMID = re.compile(r"\bPMID:\s*(\d{5,9})\b")
_TRAILER = re.compile(
    r"(?i)^\s*(?:pubmed disclaimer|comment in|comment on|similar articles|cited by|publication types|"
    r"mesh terms|substances|related information|linkout - more resources|full text links|"
    r"grants and funding|conflict of interest statement|references|associated data|erratum in|"
    r"supplementary info|figures|keywords|update of|updated by)\s*$"
)
_INTERV_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z_ /]{1,30}):\s*(\S.*)$")

_TIME_UNIT = r"(?:minutes?|hours?|days?|weeks?|months?|years?|year\(s\)|month\(s\)|cycles?|yrs?)"
_TIMEFRAME = re.compile(
    rf"(?i)^(?:(?:up to|within|through|until|from|at|after|every|approximately|about|over|"
    rf"baseline(?: to| and| through)?|day|week|month|year|end of)\s*)*"
    rf"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|twelve)\s*(?:[-–]|to)?\s*(?:\d+(?:\.\d+)?)?\s*"
    rf"{_TIME_UNIT}\b.*$|^(?i:baseline\b.*)$"
)


def _is_timeframe(text: str) -> bool:
    t = text.strip()
    return bool(t) and len(t) <= 120 and bool(_TIMEFRAME.match(t))


def _norm_timeframe(text: str) -> str:
    return clean_space(re.sub(r"(\d)([A-Za-z])", r"\1 \2", text))


def classify(lines: list[str]) -> str | None:
    """The kind of an unstructured document: ``pubmed_abstract``, ``registry_mirror``,
    ``plain_language``, ``registry_text``, or None when nothing is recognisable."""
    nb = _nonblank(lines)
    if not nb:
        return None
    text = "\n".join(nb)
    has_abstract = any(_ABSTRACT.match(ln) for ln in nb)
    pub_markers = sum(bool(x) for x in (_DOI.search(text), _PMID.search(text),
                                        re.search(r"(?i)\bpubmed\b|\bncbi\b", text)))
    if has_abstract and pub_markers:
        return "pubmed_abstract"
    keys = set()
    for ln in nb:
        lab = _mirror_label(ln)
        if lab and lab[0] in _MIRROR_CORE:
            keys.add(lab[0])
    if len(keys) >= 4:
        return "registry_mirror"
    if any(_WHO_CAN.match(ln) or _WHO_CANNOT.match(ln) for ln in nb):
        return "plain_language"
    if len(nb) >= 2 and 3 <= len(nb[0].split()) and len(nb[0]) <= 300:
        bullets = sum(1 for ln in nb if _is_bullet(ln))
        interv = any(_interventions_from_line(ln) for ln in nb[1:])
        outcome = any(_outcome_from_line(ln) for ln in nb[1:])
        header = any(re.match(r"(?i)^\W*(?:inclusion|exclusion) criteria\b", ln) for ln in nb)
        # a registry number alone is not enough: documents about trials mention them too
        if bullets >= 2 or interv or outcome or header:
            return "registry_text"
    return None


# --------------------------------------------------------------------------- registry text


def _interventions_from_line(line: str) -> list[dict]:
    """``"DRUG: Tamoxifen Oral Product"`` (``|``-separated for several) -> interventions."""
    out = []
    for part in line.split("|"):
        m = _INTERV_LINE.match(part)
        if not m:
            return []
        itype = intervention_type(m.group(1))
        if itype is None:
            return []
        out.append({"type": itype, "name": clean_space(m.group(2))})
    return out


def _outcome_from_line(line: str) -> list[dict]:
    """``"Measure, [description,] time frame"`` (``|``-separated for several) -> outcomes."""
    out = []
    for part in line.split("|"):
        pieces = [p.strip() for p in part.split(", ")]
        if len(pieces) < 2 or not pieces[0] or not _is_timeframe(_norm_timeframe(pieces[-1])):
            return []
        if len(pieces[0]) > 200:
            return []
        out.append({"measure": pieces[0], "time_frame": _norm_timeframe(pieces[-1]),
                    "description": ", ".join(pieces[1:-1]) or None})
    return out


def _dedupe_repeats(lines: list[str]) -> list[str]:
    """Drop the second copy of a repeated block (a paragraph seen before, and the short lines
    sitting inside such a repeated run)."""
    seen: set[str] = set()
    out: list[str] = []
    prev_dropped = False
    for ln in lines:
        s = ln.strip()
        if not s:
            out.append(ln)
            continue
        if s in seen and (len(s) > 40 or prev_dropped):
            prev_dropped = True
            continue
        prev_dropped = False
        seen.add(s)
        out.append(ln)
    return out


def parse_registry_text(lines: list[str]) -> dict:
    lines = _dedupe_repeats(lines)
    idx = [i for i, ln in enumerate(lines) if ln.strip()]
    title_i = idx[0]
    d: dict = {"title": clean_space(lines[title_i])}
    body = lines[title_i + 1:]

    kinds: list[str] = []
    for ln in body:
        s = ln.strip()
        if not s:
            kinds.append("blank")
        elif re.match(r"(?i)^\W*(?:inclusion|exclusion) criteria\b", s):
            kinds.append("header")
        elif _is_bullet(s):
            kinds.append("bullet")
        elif _interventions_from_line(s):
            kinds.append("interv")
        elif _outcome_from_line(s):
            kinds.append("outcome")
        else:
            kinds.append("text")

    first_struct = next((i for i, k in enumerate(kinds) if k != "text" and k != "blank"), len(body))
    # conditions: the short, non-sentence lines right before the first intervention line
    cond_start = first_struct
    if first_struct < len(body) and kinds[first_struct] == "interv":
        j = first_struct - 1
        while j >= 0 and kinds[j] == "text":
            s = body[j].strip()
            if len(s) > 120 or s.endswith((".", ":", ";")) or _INTERV_LINE.match(s):
                break
            j -= 1
        cond_start = j + 1
        conds = []
        for ln in body[cond_start:first_struct]:
            conds.extend(c.strip() for c in ln.split("|") if c.strip())
        d["conditions"] = conds
    d["brief_summary"] = _join_paras(body[:cond_start])

    interventions: list[dict] = []
    primary: list[dict] = []
    secondary: list[dict] = []
    criteria: list[str] = []
    rest: list[str] = []
    in_criteria = False
    for pos in range(first_struct, len(body)):
        ln, k = body[pos], kinds[pos]
        if k == "interv":
            interventions.extend(_interventions_from_line(ln.strip()))
            in_criteria = False
        elif k == "outcome":
            (secondary if primary else primary).extend(_outcome_from_line(ln.strip()))
            in_criteria = False
        elif k == "header":
            in_criteria = True
            criteria.append(ln.strip())
        elif k == "bullet" or (in_criteria and k == "text"):
            criteria.append(ln.rstrip())
        elif k == "text":
            rest.append(ln)
        elif k == "blank":
            rest.append(ln)
    if not interventions:
        # no "TYPE: name" lines: the drugs the title names (type DRUG: the name is a drug name)
        interventions = [{"type": "DRUG", "name": n} for n in drug_names(d["title"])]
    d["interventions"] = interventions
    d["primary_outcomes"] = primary
    d["secondary_outcomes"] = secondary
    desc = _join_paras(rest)
    if desc and desc != d.get("brief_summary"):
        d["description"] = desc
    if criteria:
        has_header = any(re.match(r"(?i)^\W*(?:inclusion|exclusion) criteria\b", c) for c in criteria)
        d["eligibility"] = {"criteria_text": "\n".join(criteria).strip(),
                            "criteria_source": None if has_header else "bullets"}
    return d


# --------------------------------------------------------------------------- registry mirror


def _split_measure_time(row: str) -> tuple[str, str] | None:
    """``"OSup to 2 year"`` / ``"OS | up to 2 year"`` -> (measure, time frame)."""
    if " | " in row:
        cells = [c.strip() for c in row.split(" | ")]
        if len(cells) >= 2 and _is_timeframe(cells[1]):
            return cells[0], _norm_timeframe(cells[1])
        return None
    for m in re.finditer(r"(?i)up to|within|through|until|from|at|after|every|baseline|\d", row):
        p = m.start()
        if p == 0:
            continue
        rest = row[p:]
        if _is_timeframe(rest) and row[:p].strip():
            return row[:p].strip(), _norm_timeframe(rest)
    return None


def _mirror_sections(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for ln in lines:
        lab = _mirror_label(ln) if ln.strip() else None
        if lab:
            key, value = lab
            cur = sections.setdefault(key, [])
            if value:
                cur.append(value)
            continue
        (head if cur is None else cur).append(ln)
    return head, sections


def _criteria_block(header: str, lines: list[str]) -> str | None:
    body = [ln.rstrip() for ln in lines if ln.strip()]
    if not body:
        return None
    return header + "\n" + "\n".join(body)


def parse_registry_mirror(lines: list[str]) -> dict:
    head, sec = _mirror_sections(lines)
    d: dict = {}
    phases: list[str] = []
    status = None
    title_candidates = []
    for s in _nonblank(head):
        if re.match(r"(?i)^(?:early\s+)?phase\s*\S+(?:\s*/\s*phase\s*\S+)?$", s) or s.lower() in (
                "not applicable", "n/a"):
            phases = phase_tokens(s) or phases
        elif normalise_status(s):
            status = normalise_status(s)
        else:
            title_candidates.append(s)
    if title_candidates:
        d["title"] = max(title_candidates, key=len)

    def first(key: str) -> str | None:
        vals = _nonblank(sec.get(key, []))
        return vals[0] if vals else None

    if sec.get("phase"):
        phases = phase_tokens(" ".join(_nonblank(sec["phase"]))) or phases
    d["phases"] = phases
    d["status"] = normalise_status(first("status")) or status
    d["why_stopped"] = first("why_stopped")
    d["acronym"] = first("acronym")
    d["official_title"] = first("official_title")
    d["conditions"] = [_BULLET.sub("", c) for c in _nonblank(sec.get("conditions", []))]
    interventions = []
    for s in _nonblank(sec.get("interventions", [])):
        s = _BULLET.sub("", s)
        m = _INTERV_LINE.match(s)
        itype = intervention_type(m.group(1)) if m else None
        if m and itype:
            interventions.append({"type": itype, "name": clean_space(m.group(2))})
        else:
            interventions.append({"type": None, "name": clean_space(s)})
    reg = first("reg")
    if reg:
        ids = find_registry_ids(reg)
        if ids:
            d["id"] = ids[0]
        elif is_registry_id(reg):
            d["id"] = reg
    sponsor = first("sponsor")
    if sponsor:
        d["sponsor"] = {"name": sponsor}
    d["collaborators"] = [{"name": _BULLET.sub("", c)} for c in _nonblank(sec.get("collaborators", []))]
    d["brief_summary"] = _join_paras(sec.get("summary", []))
    d["description"] = _join_paras(sec.get("description", []))
    st = first("study_type")
    if st:
        d["study_type"] = re.sub(r"[^A-Z]+", "_", st.upper()).strip("_")
    d["start_date"] = first("start_date")
    d["last_update_posted"] = first("last_update")

    # eligibility
    elig: dict = {}
    parts = []
    if sec.get("criteria"):
        block = "\n".join(ln.rstrip() for ln in sec["criteria"] if ln.strip())
        if block:
            parts.append(block)
    inc = _criteria_block("Inclusion Criteria:", sec.get("inclusion", []))
    exc = _criteria_block("Exclusion Criteria:", sec.get("exclusion", []))
    parts += [p for p in (inc, exc) if p]
    if parts:
        elig["criteria_text"] = "\n\n".join(parts)
    elig["sex"] = normalise_sex(first("sex"))
    if first("age"):
        age = first("age")
        m = re.search(r"(\d+(?:\.\d+)?)\s*(?:years?)?\s*(?:to|-|–)\s*(\d+(?:\.\d+)?)", age)
        if m:
            elig["min_age_years"], elig["max_age_years"] = float(m.group(1)), float(m.group(2))
        else:
            m = re.search(r"(\d+(?:\.\d+)?)\s*(?:years?)?\s*(?:and|or)\s*(?:older|over|above)|"
                          r"(?:≥|>=)\s*(\d+)", age)
            if m:
                elig["min_age_years"] = float(m.group(1) or m.group(2))
    if first("min_age"):
        elig["min_age_years"] = age_to_years(first("min_age"))
    if first("max_age"):
        elig["max_age_years"] = age_to_years(first("max_age"))
    hv = (first("healthy") or "").lower()
    if hv:
        elig["healthy_volunteers"] = hv.startswith(("yes", "accepts", "true"))
    d["eligibility"] = elig

    d["interventions"] = interventions
    d["arms"] = _mirror_arms(sec.get("arms", []), interventions)
    d["primary_outcomes"] = _mirror_outcomes(sec.get("primary", []))
    d["secondary_outcomes"] = _mirror_outcomes(sec.get("secondary", []))
    d["locations"] = _mirror_locations(sec.get("locations", []))
    return d


def _mirror_arms(lines: list[str], interventions: list[dict]) -> list[dict]:
    names = sorted({iv["name"] for iv in interventions}, key=len, reverse=True)
    arms = []
    for s in _nonblank(lines):
        if re.fullmatch(r"(?i)(?:group|arm)s?\W*(?:/\s*cohort)?\W*interventions?\W*(?:description)?", s):
            continue
        if " | " in s:
            cells = [c.strip() for c in s.split(" | ")]
            if re.fullmatch(r"(?i)(group|arm).*", cells[0]) and len(cells) > 1 and \
                    re.fullmatch(r"(?i)interventions?.*", cells[1]):
                continue
            arm = {"label": cells[0], "interventions": [c for c in cells[1:2] if c],
                   "description": cells[2] if len(cells) > 2 and cells[2] else None}
        else:
            arm = {"label": s, "interventions": [], "description": None}
            for n in names:
                p = s.find(n, 1)
                if p > 0:
                    label = s[:p].strip()
                    desc = s[p + len(n):].strip() or None
                    arm = {"label": label, "interventions": [n], "description": desc}
                    break
        if arm["description"] == arm["label"]:
            arm["description"] = None
        arms.append(arm)
    for iv in interventions:
        iv["arm_labels"] = [a["label"] for a in arms if iv["name"] in a["interventions"]]
    return arms


def _mirror_outcomes(lines: list[str]) -> list[dict]:
    out: list[dict] = []
    desc: list[str] = []

    def flush() -> None:
        if out and desc:
            out[-1]["description"] = " ".join(desc)
        desc.clear()

    for s in _nonblank(lines):
        if re.fullmatch(r"(?i)(?:name|measure|outcome)s?\W*time(?:\s*frame)?\W*(?:method|description)?", s):
            continue
        split = _split_measure_time(s) if len(s) <= 250 else None
        if split and len(split[0]) <= 150:
            flush()
            cells = s.split(" | ")
            out.append({"measure": split[0], "time_frame": split[1],
                        "description": cells[2].strip() if len(cells) > 2 and cells[2].strip()
                        else None})
        elif out:
            desc.append(s)
    flush()
    return out


def _mirror_locations(lines: list[str]) -> list[dict]:
    locs: list[dict] = []
    pending: dict | None = None
    for s in _nonblank(lines):
        if normalise_status(s):
            if pending is not None:
                pending["status"] = normalise_status(s)
            elif locs:
                locs[-1]["status"] = normalise_status(s)
            continue
        parts = [p.strip() for p in s.split(",") if p.strip()]
        if pending is not None and 2 <= len(parts) <= 4 and all(len(p) <= 60 for p in parts):
            pending["city"] = parts[0]
            pending["country"] = parts[-1]
            if len(parts) >= 3:
                pending["state"] = parts[1]
            locs.append(pending)
            pending = None
            continue
        if pending is not None:
            locs.append(pending)
        pending = {"facility": s}
    if pending is not None:
        locs.append(pending)
    return locs


# --------------------------------------------------------------------------- PubMed abstract

_PUB_HEAD_BOILER = re.compile(
    r"(?i)^(?:skip to|u\.s\. flag|an official website|dot gov|the \.gov means|federal government "
    r"websites|https$|the site is secure|the https:// ensures|access keys|affiliations?$|clinical trial$|"
    r"randomized controlled trial$|review$|free pmc article|full text links|cite$|display options|"
    r"save$|email$|send to|collections|add to|actions|page navigation|title & authors|"
    r"expand$|show details|item in clipboard)"
)
_SECTION = re.compile(r"^([A-Z][A-Za-z /&]{2,40}):\s+(.*)$")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_NUMV = r"(\d+(?:\.\d+)?)"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text) if s.strip()]


def parse_pubmed(lines: list[str]) -> tuple[dict, list[str], str]:
    """Returns the trial dict, extra other ids (DOI, PMID) and the text ids may be read from."""
    nb = _nonblank(lines)
    a_idx = next(i for i, s in enumerate(nb) if _ABSTRACT.match(s))
    head = nb[:a_idx]
    end = next((i for i in range(a_idx + 1, len(nb)) if _TRAILER.match(nb[i])), len(nb))
    abstract = nb[a_idx + 1:end]
    d: dict = {}
    extra_ids: list[str] = []

    head_text = "\n".join(head)
    doi = _DOI.search(head_text)
    pmid = _PMID.search(head_text)
    if doi:
        extra_ids.append(f"doi:{doi.group(1)}")
    if pmid:
        extra_ids.append(f"PMID:{pmid.group(1)}")
    journal = None
    m = re.search(r"et al\.\s+([A-Z][^.]{1,80}?)\.\s*(?:\.|$|\d)", head_text, re.M)
    if m:
        journal = m.group(1).strip()
    issue = None
    for s in head:
        m = re.match(r"^[.\s]*((?:19|20)\d{2}\b[^;]{0,20};\s*\d+\(?[\w-]*\)?:[\w-]+)", s)
        if m:
            issue = m.group(1)
            break
    cit = ". ".join(x for x in (journal, issue) if x)
    if doi:
        cit = f"{cit}. doi:{doi.group(1)}" if cit else f"doi:{doi.group(1)}"
    if pmid:
        cit = f"{cit}. PMID:{pmid.group(1)}" if cit else f"PMID:{pmid.group(1)}"

    candidates = [s for s in head if len(s) >= 30 and len(s.split()) >= 5 and not
                  _PUB_HEAD_BOILER.match(s) and not _DOI.search(s) and "et al." not in s and
                  not re.match(r"^[.\s]*(?:19|20)\d{2}\b", s)]
    if candidates:
        repeated = [c for c in candidates if candidates.count(c) > 1]
        d["title"] = (repeated or candidates)[0]

    sections: dict[str, str] = {}
    order: list[str] = []
    paras = []
    for s in abstract:
        m = _SECTION.match(s)
        if m:
            key = m.group(1).lower()
            sections[key] = m.group(2).strip()
            order.append(key)
        elif order:
            sections[order[-1]] += " " + s
        paras.append(s)
    d["brief_summary"] = "\n\n".join(paras) or None

    def section(*names: str) -> str:
        for k in order:
            if any(n in k for n in names):
                return sections[k]
        return ""

    methods = section("method", "patients", "design") or " ".join(abstract)
    results_text = section("result", "finding") or " ".join(abstract)
    conclusion = section("conclusion", "interpretation") or None

    arms, population = _pub_arms(methods)
    interventions: list[dict] = []
    for arm in arms:
        for name in arm["interventions"]:
            iv = next((x for x in interventions if x["name"] == name), None)
            if iv is None:
                iv = {"type": "DRUG" if re.search(rf"(?i)\b{re.escape(name)}\s+\d", arm["label"])
                      else None, "name": name, "arm_labels": []}
                interventions.append(iv)
            iv["arm_labels"].append(arm["label"])
    d["arms"] = [{"label": a["label"], "size": a["size"], "interventions": a["interventions"]}
                 for a in arms]
    d["interventions"] = interventions
    if population:
        d["eligibility"] = {"criteria_text": population, "criteria_source": "abstract_population"}

    stats = _pub_statistics(results_text, arms)
    if arms or stats or conclusion or cit:
        d["results"] = {
            "source": "publication_abstract",
            "citation": cit or None,
            "arms": d["arms"],
            "statistics": stats,
            "conclusion": conclusion,
        }
    id_text = head_text + "\n" + "\n".join(abstract)
    return d, extra_ids, id_text


_VERB = r"(?:randomly assigned|randomi[sz]ed|assigned|allocated|enrolled|included|recruited)"


def _pub_arms(methods: str) -> tuple[list[dict], str | None]:
    for sent in _sentences(methods):
        sizes = list(re.finditer(r"\(\s*n\s*=\s*(\d+)\s*\)", sent))
        if not sizes:
            continue
        prefix = sent[: sizes[0].start()]
        population = None
        first_arm = prefix
        vm = re.search(rf"(?i)\b{_VERB}\s+", prefix)
        if vm:
            after = prefix[vm.end():]
            tos = [m for m in re.finditer(r"\s+to\s+", after)
                   if not after[: m.start()].lower().endswith("up")]
            if tos:
                population = after[: tos[-1].start()].strip(" ,;:")
                first_arm = after[tos[-1].end():]
            else:
                first_arm = after
        labels = [first_arm]
        for a, b in zip(sizes, sizes[1:]):
            labels.append(sent[a.end(): b.start()])
        arms = []
        for label, size in zip(labels, sizes):
            label = re.sub(r"(?i)^[\s,;:]*(?:or|and|versus|vs\.?|v)?\s+", "", " " + label)
            label = clean_space(label.strip(" ,;:"))
            if not label:
                continue
            arms.append({"label": label, "size": int(size.group(1)),
                         "interventions": _names_in_regimen(label)})
        if arms:
            return arms, population or None
    return [], None


def _match_arm(phrase: str | None, arms: list[dict]) -> str | None:
    if not phrase or not arms:
        return None
    p = phrase.lower()
    names = {n for a in arms for n in a["interventions"]}
    found = {n for n in names if n in p}
    if not found:
        return None
    exact = [a for a in arms if set(a["interventions"]) == found]
    if len(exact) == 1:
        return exact[0]["label"]
    scored = sorted(arms, key=lambda a: -len(found & set(a["interventions"]))
                    / max(len(found | set(a["interventions"])), 1))
    return scored[0]["label"]


def _subject(sent: str) -> str:
    m = re.match(r"^(?:The\s+|A\s+)?(.+?)\s+(?:was|were|is|are|increased|decreased|improved|"
                 r"reached|of|in)\b", sent)
    return clean_space(m.group(1)) if m else clean_space(sent[:60])


_ARM_PHRASE = (r"(?:with|in|for|on|in the)\s+(.+?)"
               r"(?=\s+(?:and|versus|vs\.?|v|compared)\s|\s+to\s+\d|[,;)]|\.(?!\d)|$)")
_RATE_CI = re.compile(
    rf"{_NUMV}\s*%\s*\(\s*(?:{_NUMV}\s*%\s*(?:CI|confidence interval)[,:]?\s*)?{_NUMV}\s*%?\s*"
    rf"(?:to|-|–|—)\s*{_NUMV}\s*%?\s*\)\s*(?:{_ARM_PHRASE})?",
    re.I,
)
_MEDIAN = re.compile(
    rf"{_NUMV}\s*(months?|weeks?|years?|days?)\s*(?:\(\s*{_NUMV}\s*%\s*CI[,:]?\s*{_NUMV}\s*(?:to|-|–)\s*"
    rf"{_NUMV}\s*\)\s*)?{_ARM_PHRASE}",
    re.I,
)
_HR = re.compile(
    rf"(?:hazard ratio|\bHR\b)(?:\s*\[\s*HR\s*\])?\s*[,:=]?\s*{_NUMV}\s*[;,]\s*{_NUMV}\s*%\s*"
    rf"(?:CI|confidence interval)[,:]?\s*{_NUMV}\s*(?:to|-|–)\s*{_NUMV}(?:\s*[;,]\s*P\s*([=<>])\s*"
    rf"(\d*\.\d+))?",
    re.I,
)
_TOX = re.compile(
    rf"([A-Za-z][A-Za-z \-/]*?)\s*\(\s*{_NUMV}\s*%\s*(?:v|vs\.?|versus)\s*{_NUMV}\s*%([^)]*)\)"
)


def _pub_statistics(results: str, arms: list[dict]) -> list[dict]:
    sizes = {a["label"]: a["size"] for a in arms}
    stats: list[dict] = []
    for sent in _sentences(results):
        for m in _RATE_CI.finditer(sent):
            arm = _match_arm(m.group(5), arms)
            stats.append({
                "outcome": _subject(sent), "kind": "rate", "arm": arm, "value": float(m.group(1)),
                "unit": "%", "ci": {"level": float(m.group(2)) / 100 if m.group(2) else 0.95,
                                    "lower": float(m.group(3)), "upper": float(m.group(4))},
                "n": sizes.get(arm), "text": sent})
        hr_spans = []
        for m in _HR.finditer(sent):
            hr_spans.append(m.span())
            before = sent[: m.start()]
            om = list(re.finditer(r"(?i)\brisk of ([a-z-]+(?: or [a-z-]+)?)", before))
            outcome = om[-1].group(1) if om else _subject(sent)
            arm = comp = None
            vm = re.search(r"(?i)\bwith\s+(.+?)\s+(?:versus|vs\.?|compared with)\s+(.+?)(?=\s*[(,;.]|$)",
                           sent)
            if vm:
                arm, comp = _match_arm(vm.group(1), arms), _match_arm(vm.group(2), arms)
            elif re.search(r"(?i)\bcombination\b", before) and len(arms) == 2:
                ranked = sorted(arms, key=lambda a: -len(a["interventions"]))
                if len(ranked[0]["interventions"]) > len(ranked[1]["interventions"]):
                    arm, comp = ranked[0]["label"], ranked[1]["label"]
            p_value = float(m.group(6)) if m.group(6) else None
            stats.append({
                "outcome": outcome, "kind": "hazard_ratio", "arm": arm, "comparator_arm": comp,
                "value": float(m.group(1)),
                "ci": {"level": float(m.group(2)) / 100, "lower": float(m.group(3)),
                       "upper": float(m.group(4))},
                "p_value": p_value, "text": sent})
        for m in _MEDIAN.finditer(sent):
            if any(a <= m.start() < b for a, b in hr_spans):
                continue
            arm = _match_arm(m.group(6), arms)
            if arm is None:
                continue
            ci = None
            if m.group(3):
                ci = {"level": float(m.group(3)) / 100, "lower": float(m.group(4)),
                      "upper": float(m.group(5))}
            stats.append({
                "outcome": _subject(sent), "kind": "median", "arm": arm,
                "value": float(m.group(1)), "unit": m.group(2).lower().rstrip("s") + "s",
                "ci": ci, "n": sizes.get(arm), "text": sent})
        tox = list(_TOX.finditer(sent))
        if tox:
            intro = sent[: tox[0].start(2)]
            am = re.search(r"(?i)\b(?:associated with|in patients receiving|with|in)\s+(.+?)\s+"
                           r"(?:were|was|included|including|:)", intro)
            arm1 = _match_arm(am.group(1), arms) if am else None
            arm2 = None
            for m in tox:
                tail = m.group(4)
                if tail.strip():
                    arm2 = _match_arm(tail, arms) or arm2
            if arm2 is None and arm1 and len(arms) == 2:
                arm2 = next(a["label"] for a in arms if a["label"] != arm1)
            for m in tox:
                term = re.split(r"\s(?:were|was|included|including|and|or)\s|,\s*", " " + m.group(1))[-1]
                term = clean_space(term)
                if not term:
                    continue
                for arm, val in ((arm1, m.group(2)), (arm2, m.group(3))):
                    stats.append({"outcome": term, "kind": "rate", "arm": arm,
                                  "value": float(val), "unit": "%", "n": sizes.get(arm),
                                  "text": sent})
    return stats


# --------------------------------------------------------------------------- plain language

_GLOSSARY = re.compile(r"^[A-Z][\w+/\-() ]{0,60}?\s(?:is|are)\s(?:a|an|the)\s|^[^–]{2,80}\s[–—-]\s(?:A|An|The)\s")


def _is_prose(line: str) -> bool:
    s = line.strip()
    if _GLOSSARY.match(s):
        return True
    return len(s) > 220 and len(_sentences(s)) >= 2


def _slug(text: str, limit: int = 8) -> str:
    stop = {"you", "your", "were", "was", "to", "the", "these", "there", "are", "is", "be", "if",
            "of", "on", "that", "any", "a", "an", "and", "have", "has", "will", "may", "been",
            "specific", "shows", "in"}
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in stop]
    return "_".join(words[:limit]) or "event"


def parse_plain_language(lines: list[str]) -> dict:
    nb = _nonblank(lines)
    raw_nb = [ln.rstrip() for ln in lines if ln.strip()]
    d: dict = {}
    # where the structured parts start
    i_join = next((i for i, s in enumerate(nb) if _WHO_CAN.match(s)), None)
    i_nojoin = next((i for i, s in enumerate(nb) if _WHO_CANNOT.match(s)), None)
    step_idx = [i for i, s in enumerate(nb) if _STEP.match(s) or _STEP2.match(s)]
    starts = [i for i in (i_join, i_nojoin, *(step_idx[:1])) if i is not None]
    intro_end = min(starts) if starts else len(nb)
    intro = nb[:intro_end]
    if intro and len(intro[0]) <= 150 and not intro[0].endswith((".", ":", "?", "!")) and len(intro) > 1:
        d["title"] = intro[0]
        intro = intro[1:]
    if intro:
        d["brief_summary"] = intro[0]
        if len(intro) > 1:
            d["description"] = "\n\n".join(intro[1:])

    # steps
    steps = []
    bounds = sorted([i for i in (i_join, i_nojoin) if i is not None] + [len(nb)])
    for k, i in enumerate(step_idx):
        m = _STEP.match(nb[i])
        if m:
            number, name = int(m.group(3)), clean_space(m.group(2))
        else:
            m2 = _STEP2.match(nb[i])
            number, name = int(m2.group(1)), clean_space(m2.group(2))
        stop = min([j for j in step_idx if j > i] + [b for b in bounds if b > i])
        body = nb[i + 1: stop]
        cond = next((s for s in body if re.match(r"(?i)^if\b", s)), None)
        if number == 1 or (k == 0 and cond is None):
            event = "registration"
        elif cond:
            clause = re.split(r",\s*(?:you|patients?|participants?)\b", cond, maxsplit=1)[0]
            event = _slug(re.sub(r"(?i)^if\s+", "", clause))
        else:
            event = None
        steps.append({"number": number, "name": name, "description": "\n".join(body) or None,
                      "entry_event": event, "entry_criteria_text": cond})
    d["steps"] = steps

    # criteria
    def block(start: int | None, end_candidates: list[int | None]) -> list[str]:
        if start is None:
            return []
        ends = [e for e in end_candidates if e is not None and e > start] + [len(nb)]
        stop = min(ends)
        out = []
        for s, raw in zip(nb[start + 1: stop], raw_nb[start + 1: stop]):
            if _is_prose(s) or _WHO_CAN.match(s) or _WHO_CANNOT.match(s):
                break
            if raw != s:  # indented in the source: keep its nesting
                out.append(raw)
            elif re.match(r"^[–—-]\s*", s):  # a dash sub-bullet under a "...:" line
                out.append("  " + s)
            else:
                out.append(s)
        return out

    later_steps = lambda i: [j for j in step_idx if i is not None and j > i]  # noqa: E731
    inc = block(i_join, [i_nojoin, *later_steps(i_join)[:1]])
    exc = block(i_nojoin, [i_join if i_join and i_nojoin and i_join > i_nojoin else None,
                           *later_steps(i_nojoin)[:1]])
    parts = []
    if inc:
        parts.append("Inclusion Criteria:\n" + "\n".join(inc))
    if exc:
        parts.append("Exclusion Criteria:\n" + "\n".join(exc))
    if parts:
        d["eligibility"] = {"criteria_text": "\n\n".join(parts), "criteria_source": "who_can_join"}

    # arms and interventions named in the study description and steps (not in glossary text)
    arms = []
    study_text = "\n".join(intro + [s for st in steps for s in [st["name"], st["description"] or ""]])
    for s in nb[:intro_end] + [ln for st in steps for ln in (st["description"] or "").split("\n")]:
        m = re.match(r"^(.*?)\s*\((Arm\s+[A-Z0-9]+)\)\s*:?\s*(.*)$", s)
        if m and not any(a["label"] == m.group(2) for a in arms):
            desc = ": ".join(x for x in (m.group(1).strip(), m.group(3).strip()) if x)
            arms.append({"label": m.group(2), "description": desc or None,
                         "interventions": drug_names(m.group(3))})
    d["arms"] = arms
    d["interventions"] = [
        {"type": "DRUG", "name": n, "arm_labels": [a["label"] for a in arms if n in a["interventions"]]}
        for n in drug_names(study_text)
    ]
    return d
