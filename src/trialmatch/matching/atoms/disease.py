"""Atom evaluators: the disease (diagnosis, extent and stage, metastases, measurable disease,
other malignancies), and the cancer-name matching they share.

* Metastases at a site: true when recorded; false only after an explicit negative assertion
  ("metastasis:<site>" or "metastasis:any" present=False) or for a patient whose disease is
  recorded as early (non-metastatic); otherwise unknown.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import closed_world_ok, find_assertion, qualifier_value, readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.facts import PatientIndex, norm_key, site_members
from trialmatch.matching.logic import kleene_and, kleene_or
from trialmatch.matching.model import Evidence


# ---------------------------------------------------------------------------- disease
_CANCER_WORDS = re.compile(r"\b(cancers?|carcinomas?|neoplasms?|tumou?rs?|malignan\w*|adenocarcinomas?|"
                           r"malignant|primary|invasive|disease)\b")


@lru_cache(maxsize=65536)
def cancer_core(text: str) -> str:
    """"breast_cancer" / "Breast Carcinoma" / "Breast Neoplasms" -> "breast"."""
    t = text.lower().replace("_", " ").replace("-", " ")
    t = _CANCER_WORDS.sub(" ", t)
    t = re.sub(r"[^a-z0-9 ]", " ", t)
    return " ".join(w.rstrip("s") if len(w) > 4 else w for w in t.split())


@lru_cache(maxsize=262144)
def same_cancer(a: str, b: str) -> bool:
    from rapidfuzz import fuzz

    ca, cb = cancer_core(a), cancer_core(b)
    if not ca or not cb:
        return norm_key(a) == norm_key(b)
    if ca == cb:
        return True
    return fuzz.token_set_ratio(ca, cb) >= 90


GENERIC_CANCERS = {"solid_tumor", "solid_tumour", "cancer", "malignancy", "any", "advanced_cancer", "solid_cancer"}


def _dx_ev(d) -> Evidence:
    txt = d.cancer_type.replace("_", " ") + (f", {d.histology.replace('_', ' ')}" if d.histology else "")
    if d.stage:
        txt += f", stage {d.stage}"
    return used_fact(txt, d.source, d.cancer_type)


@evaluates("diagnosis")
def diagnosis(a: cm.Diagnosis, ctx: EvalContext) -> Result:
    idx = ctx.idx
    dxs = [d for d in ([idx.primary] if idx.primary else []) + idx.others]
    if not dxs:
        return Result(None, ["no cancer diagnosis recorded"], [], [missing_fact("diagnosis", "cancer diagnosis (type, histology)")])
    generic = norm_key(a.cancer_type) in GENERIC_CANCERS
    matches = [d for d in dxs if generic or same_cancer(d.cancer_type, a.cancer_type)]
    if not matches:
        return Result(False, [f"her cancer ({', '.join(readable(d.cancer_type) for d in dxs)}) is not {readable(a.cancer_type)}"],
                      [_dx_ev(d) for d in dxs])
    d = matches[0]
    ev = [_dx_ev(d)]
    if a.histology:
        if not d.histology and _receptor_tested_breast(d, idx) and all(
                norm_key(h) in _BREAST_CARCINOMA_WORDS or (norm_key(h) in _INVASIVE_WORDS and _has_spread(d, idx))
                for h in a.histology):
            return Result(True, [f"{readable(d.cancer_type)} with receptor results (tissue examined): a carcinoma of the "
                                 "breast" + (", invasive (it has spread)" if any(norm_key(h) in _INVASIVE_WORDS for h in a.histology)
                                             else "") + " (histology type not recorded)"], ev)
        if not d.histology:
            return Result(None, [f"{readable(a.cancer_type)}; histology not recorded"], ev,
                          [missing_fact("diagnosis:histology", "histology of the cancer")])
        if not any(histology_matches(h, d.histology) for h in a.histology):
            return Result(False, [f"histology {readable(d.histology)} is not {'/'.join(map(readable, a.histology))}"], ev)
    return Result(True, [f"diagnosis: {readable(d.cancer_type)}" + (f" ({readable(d.histology)})" if d.histology else "")], ev)


#: histology words a breast cancer with receptor results (ER/PR/HER2 tested on its tissue) meets
#: when the type is not recorded: breast carcinomas are adenocarcinomas (ductal, lobular, ...)
_BREAST_CARCINOMA_WORDS = frozenset({"carcinoma", "adenocarcinoma", "invasive_carcinoma", "breast_carcinoma",
                                     "breast_adenocarcinoma"})


#: ... and, once it has metastasised, an invasive one
_INVASIVE_WORDS = frozenset({"invasive", "invasive_carcinoma", "invasive_breast_cancer", "infiltrating"})


def _has_spread(d, idx) -> bool:
    """Her index cancer has distant metastases (recorded sites, a metastatic date or extent)."""
    return bool(idx.metastases) or d.metastatic_date is not None or d.extent in ("metastatic", "recurrent") \
        or (d.stage or "").upper().startswith("IV")


def _receptor_tested_breast(d, idx) -> bool:
    """A breast cancer whose ER, PR or HER2 result is recorded: histologically confirmed."""
    return same_cancer(d.cancer_type, "breast_cancer") and any(n in idx.biomarkers for n in ("ER", "PR", "HER2"))


#: broader histology words and the specific types they include
_HISTOLOGY_BROADER = {
    "carcinoma": {"invasive_ductal", "invasive_lobular", "ductal", "lobular", "adenocarcinoma", "mixed_ductal_lobular",
                  "ductal_carcinoma", "lobular_carcinoma", "mucinous", "tubular", "metaplastic"},
    "adenocarcinoma": {"invasive_ductal", "invasive_lobular", "ductal", "lobular", "mixed_ductal_lobular",
                       "ductal_carcinoma", "lobular_carcinoma", "mucinous", "tubular"},
    "invasive": {"invasive_ductal", "invasive_lobular", "mixed_ductal_lobular", "invasive_carcinoma"},
}


def histology_matches(wanted: str, have: str) -> bool:
    w, h = norm_key(wanted), norm_key(have)
    if w == h or h in _HISTOLOGY_BROADER.get(w, ()):
        return True
    wt, ht = set(w.split("_")) - {"carcinoma", "cancer"}, set(h.split("_")) - {"carcinoma", "cancer"}
    if wt and wt <= ht:
        return True
    return same_cancer(wanted, have) if cancer_core(wanted) and cancer_core(have) else False


_STAGE_RE = re.compile(r"^\s*(?:stage\s*)?([0IV]+)([ABC]?)", re.I)


def _stage_group(stage: str | None) -> tuple[str, str] | None:
    if not stage:
        return None
    m = _STAGE_RE.match(stage.strip())
    if not m:
        return None
    return m.group(1).upper(), m.group(2).upper()


_TNM_TN = re.compile(r"^T(is|[0-4])[abcd]?N([0-3])", re.I)


def _tnm_early(tnm: str) -> bool:
    """T0-2 N0-1 or T3 N0 (stages I-II when M0)."""
    m = _TNM_TN.match(tnm)
    if not m or re.search(r"M1", tnm):
        return False
    t, n = m.group(1).lower(), int(m.group(2))
    return (t in ("is", "0", "1", "2") and n <= 1) or (t == "3" and n == 0)


def _no_distant(idx: PatientIndex):
    """The stated absence of any distant metastasis ("no evidence of distant disease"), if there are none recorded."""
    a = idx.assertions.get("metastasis:any")
    return a if a is not None and not a.present and not idx.metastases else None


def patient_extents(idx: PatientIndex) -> tuple[set[str] | None, list[Evidence]]:
    """The extents her disease is at (``None`` when the record does not say)."""
    d = idx.primary
    if d is None:
        return None, []
    ev = []
    out: set[str] = set()
    sg = _stage_group(d.stage)
    if d.extent:
        out.add(d.extent)
        ev.append(used_fact(f"disease extent {d.extent.replace('_', ' ')}", d.source))
    if sg and sg[0] == "IV" or d.metastatic_date and d.metastatic_date <= idx.as_of or idx.metastases \
            or (d.tnm and re.search(r"M1", d.tnm)):
        out.add("metastatic")
        if sg and sg[0] == "IV":
            ev.append(used_fact(f"stage {d.stage}", d.source))
        if idx.metastases:
            ev.append(used_fact("metastases: " + ", ".join(sorted(idx.met_sites)), idx.metastases[0].source))
    if sg and sg[0] == "III" and sg[1] in ("B", "C") and "metastatic" not in out:
        out.add("locally_advanced")
        ev.append(used_fact(f"stage {d.stage}", d.source))
    if sg and sg[0] in ("0", "I", "II") and not out:
        out.add("early")
        ev.append(used_fact(f"stage {d.stage}", d.source))
    if not out and d.tnm and _tnm_early(d.tnm) and (re.search(r"M0", d.tnm) or _no_distant(idx) is not None):
        # "pT1c pN0" with "no evidence of distant disease": T0-2 N0-1 or T3 N0 without metastases is stage I-II
        out.add("early")
        ev.append(used_fact(f"TNM {d.tnm}", d.source))
    if "metastatic" in out or "locally_advanced" in out:
        out.add("advanced")
    if not out:
        return None, ev
    return out, ev


@evaluates("disease_extent")
def disease_extent(a: cm.DiseaseExtent, ctx: EvalContext) -> Result:
    idx = ctx.idx
    ext, ev = patient_extents(idx)
    d = idx.primary
    allowed = {norm_key(x) for x in a.allowed}
    if "stage_iv" in allowed:
        allowed.add("metastatic")
    sg = _stage_group(d.stage) if d else None
    if a.stages and sg:
        for s in a.stages:
            want = _stage_group(s)
            if want and want[0] == sg[0] and (not want[1] or want[1] == sg[1]):
                return Result(True, [f"stage {d.stage} is among {', '.join(a.stages)}"], ev)
        if not allowed:
            return Result(False, [f"stage {d.stage} is not {', '.join(a.stages)}"], ev)
    if ext is None and allowed and allowed <= {"metastatic", "stage_iv"} and _no_distant(idx) is not None:
        nd = _no_distant(idx)
        return Result(False, ["no distant metastases (stated)"], ev + [used_fact("no distant metastases", nd.source)])
    if ext is None:
        return Result(None, ["stage / extent of disease not recorded"], ev,
                      [missing_fact("disease_extent", "stage or extent of disease (early, locally advanced, metastatic)")])
    if a.stages and not allowed:
        if "metastatic" in ext and any((_stage_group(s) or ("",))[0] == "IV" for s in a.stages):
            return Result(True, ["metastatic disease = stage IV"], ev)
        return Result(None, [f"stage not recorded (extent: {', '.join(sorted(ext))})"], ev,
                      [missing_fact("stage", "AJCC stage group")])
    inop = idx.assertions.get("disease:inoperable")
    if inop is not None and inop.present:  # "inoperable locally advanced breast cancer"
        ext = set(ext) | {"inoperable"}
        ev = ev + [used_fact("inoperable disease", inop.source)]
    if "inoperable" in allowed and not (allowed - {"inoperable"}):
        if "inoperable" in ext:
            return Result(True, ["inoperable disease (stated)"], ev)
        if "metastatic" in ext:
            return Result(True, ["metastatic disease is not operable with curative intent"], ev)
        return Result(None, ["operability not recorded"], ev, [missing_fact("disease_extent:operability", "whether the disease is operable")])
    if "recurrent" in allowed and "recurrent" not in ext and d and d.metastatic_date and d.date \
            and d.metastatic_date > d.date + dt.timedelta(days=90):
        ext = set(ext) | {"recurrent"}
    hit = ext & allowed
    if hit:
        return Result(True, [f"{'/'.join(sorted(hit)).replace('_', ' ')} disease"], ev)
    return Result(False, [f"her disease is {', '.join(sorted(ext)).replace('_', ' ')}, not {' or '.join(sorted(allowed)).replace('_', ' ')}"], ev)


def _absence_covering(idx: PatientIndex, site: str, members: frozenset):
    """A stated absence that covers every site of ``site``'s group: "no metastases", one on the
    site itself or one whose own group covers it ("no brain metastases" for CNS), or absences
    stated for every member; "no liver metastases" alone does not answer "visceral"."""
    a = find_assertion(idx, "metastasis:any", "metastases", f"metastasis:{site}")
    if a is not None and not a.present:
        return a
    covered: set[str] = set()
    first = None
    for s in sorted(members):
        x = idx.assertions.get(f"metastasis:{s}")
        if x is not None and not x.present:
            covered |= site_members(s)
            first = first or x
    return first if first is not None and members <= covered else None


# qualifiers on whether her disease is under control: for metastases outside the CNS whose own status is not
# recorded, the course of her current systemic therapy answers them (an ongoing response or stable disease on it:
# controlled; progression on it: progressing). Brain metastases are judged on their own (local therapy, imaging).
_CONTROL_QUALIFIERS = {"uncontrolled", "progressing", "unstable"}
_MULTIPLE = "multiple"  # "multiple metastases": metastases at two or more sites (one site: not known how many)


def _course_status(idx: PatientIndex):
    """``(status, evidence)`` of her disease from her one current treatment, or None."""
    current = [ti.treatment for ti in idx.treatments if ti.treatment.ongoing is True]
    if len(current) != 1:
        return None
    t = current[0]
    drugs = ", ".join(t.drugs)
    if t.progressed is True or t.progression_date is not None:
        return "progressing", used_fact(f"progression on {drugs} (current therapy)", t.source)
    if t.best_response in ("CR", "PR", "SD") and (t.response_ongoing is True or (t.response_ongoing is None
                                                                                and t.progressed is False)):
        return "controlled", used_fact(f"{t.best_response} on {drugs}, ongoing (current therapy)", t.source)
    return None


@evaluates("metastasis")
def metastasis(a: cm.Metastasis, ctx: EvalContext) -> Result:
    idx = ctx.idx
    members = site_members(a.site)
    site = norm_key(a.site)
    found = [m for m in idx.metastases if norm_key(m.site) in members]
    if site == _MULTIPLE and not a.only and idx.metastases:
        return _multiple_metastases(a, idx)
    ev = [used_fact(f"{m.site} metastasis" + (f" ({', '.join(m.status)})" if m.status else "") + (f", {m.date}" if m.date else ""),
              m.source) for m in found]
    if a.only:
        if not idx.metastases:
            return Result(None, ["metastatic sites not recorded"], [], [missing_fact("metastasis:sites", "sites of metastases")])
        others = [m for m in idx.metastases if norm_key(m.site) not in members]
        v = bool(found) and not others
        return Result(v, [f"{readable(site)}-only disease" if v else
                          f"sites: {', '.join(sorted(idx.met_sites))} (not {readable(site)}-only)"],
                      [used_fact("metastases: " + ", ".join(sorted(idx.met_sites)), idx.metastases[0].source)])
    if found:
        if not a.qualifiers:
            return Result(True, [f"{readable(site)} metastases recorded"], ev)
        vals = [qualifier_value(a.qualifiers, m.status) for m in found]
        v = kleene_or(vals)
        course = _course_status(idx) if v is None and {norm_key(q) for q in a.qualifiers} & _CONTROL_QUALIFIERS \
            and not members & _cns_sites() else None
        if course is not None:
            v = kleene_or([qualifier_value(a.qualifiers, list(m.status) + [course[0]]) for m in found])
            ev = ev + [course[1]]
        if v is True:
            return Result(True, [f"{readable(site)} metastases that are {'/'.join(a.qualifiers)}"], ev)
        if v is False:
            sts = sorted({s for m in found for s in m.status})
            return Result(False, [f"{readable(site)} metastases are {', '.join(sts)}, not {'/'.join(a.qualifiers)}"], ev)
        return Result(None, [f"{readable(site)} metastases: whether {'/'.join(a.qualifiers)} is not recorded"], ev,
                      [missing_fact(f"metastasis:{site}:status", f"status of the {readable(site)} metastases ({'/'.join(a.qualifiers)})")])
    neg = find_assertion(idx, *(f"metastasis:{s}" for s in sorted(members | {site})), "metastasis:any", "metastases")
    if neg is not None and not neg.present:
        neg = _absence_covering(idx, site, members) or find_assertion(
            idx, *(f"metastasis:{s}" for s in sorted(members | {site})
                   if (x := idx.assertions.get(f"metastasis:{s}")) is not None and x.present))
    if neg is not None and not neg.present:
        return Result(False, [f"no {readable(site)} metastases (stated)"], [used_fact(f"no {neg.subject.split(':')[-1]} metastases", neg.source)])
    if neg is not None and neg.present:
        return Result(True if not a.qualifiers else None, [f"{readable(site)} metastases (stated)"],
                      [used_fact(f"{neg.subject}", neg.source)])
    ext, eev = patient_extents(idx)
    if ext is not None and "metastatic" not in ext and "early" in ext:
        return Result(False, [f"non-metastatic disease: no {readable(site)} metastases"], eev)
    return Result(None, [f"{readable(site)} metastases: not recorded either way"], [],
                  [missing_fact(f"metastasis:{site}", f"whether she has {readable(site)} metastases (imaging)")])


@lru_cache(maxsize=1)
def _cns_sites() -> frozenset:
    return site_members("cns") | site_members("brain") | site_members("leptomeninges")


def _multiple_metastases(a: cm.Metastasis, idx: PatientIndex) -> Result:
    """"Multiple metastases" (with its qualifiers): metastases at two or more sites are multiple; at one site the
    number of lesions is not recorded; a qualifier on their control is answered as for any site."""
    sites = sorted(idx.met_sites)
    ev = [used_fact("metastases: " + ", ".join(sites), idx.metastases[0].source)]
    many = True if len(sites) >= 2 else None
    q = True
    if a.qualifiers:
        statuses = [s for m in idx.metastases for s in m.status]
        q = qualifier_value(a.qualifiers, statuses)
        if q is None and {norm_key(x) for x in a.qualifiers} & _CONTROL_QUALIFIERS \
                and not set(idx.met_sites) & _cns_sites():
            course = _course_status(idx)
            if course is not None:
                q = qualifier_value(a.qualifiers, statuses + [course[0]])
                ev.append(course[1])
    v = kleene_and([many, q])
    what = "multiple metastases" + (f" that are {'/'.join(a.qualifiers)}" if a.qualifiers else "")
    if v is True:
        return Result(True, [f"{what}: {len(sites)} sites"], ev)
    if v is False:
        return Result(False, [f"no {what}: " + ("not " + "/".join(a.qualifiers) if q is False else "one site")], ev)
    return Result(None, [f"{what}: " + ("number of lesions at her one site not recorded" if many is None
                                        else f"whether {'/'.join(a.qualifiers)} is not recorded")], ev,
                  [missing_fact("metastasis:multiple", f"whether her metastases are {what}")])


@evaluates("measurable_disease")
def measurable_disease(a: cm.MeasurableDisease, ctx: EvalContext) -> Result:
    idx = ctx.idx
    d = idx.primary
    if d is None or d.measurable_disease is None:
        if a.allow_bone_only_evaluable and idx.metastases and idx.met_sites <= site_members("bone"):
            return Result(True, ["bone-only disease is evaluable"], [])
        return Result(None, ["measurable disease (RECIST 1.1) not recorded"], [],
                      [missing_fact("measurable_disease", "measurable disease per RECIST 1.1")])
    ev = [used_fact(f"measurable disease: {'yes' if d.measurable_disease else 'no'}", d.source, d.measurable_disease)]
    if not d.measurable_disease and a.allow_bone_only_evaluable and idx.metastases and idx.met_sites <= site_members("bone"):
        return Result(True, ["bone-only evaluable disease is allowed"], ev)
    return Result(d.measurable_disease, [("measurable" if d.measurable_disease else "no measurable") +
                                         f" disease ({a.standard or 'RECIST 1.1'})"], ev)


@evaluates("other_malignancy")
def other_malignancy(a: cm.OtherMalignancy, ctx: EvalContext) -> Result:
    idx = ctx.idx
    others = idx.others
    hits, unsure, ev = [], [], []
    for d in others:
        ev.append(_dx_ev(d))
        if any(same_cancer(d.cancer_type, x) or norm_key(d.cancer_type) == norm_key(x) for x in a.exceptions):
            continue
        if a.active_only and d.status in ("in_remission", "resolved"):
            continue
        if a.within is not None:
            if d.date is None:
                unsure.append(d)
                continue
            if (idx.as_of - d.date).days > a.within.days:
                continue
        if a.active_only and d.status is None:
            unsure.append(d)
            continue
        hits.append(d)
    if hits:
        return Result(True, [f"other cancer: {', '.join(readable(d.cancer_type) for d in hits)}"], ev)
    if unsure:
        return Result(None, [f"other cancer {', '.join(readable(d.cancer_type) for d in unsure)}: date or activity not recorded"],
                      ev, [missing_fact("other_malignancy", "date and status of her other cancer")])
    if others:
        return Result(False, ["other cancers recorded do not count (excepted, outside the window or inactive)"], ev)
    neg = find_assertion(idx, "other_malignancy", "malignancy:other")
    if neg is not None and not neg.present:
        return Result(False, ["no other malignancy (stated)"], [used_fact("no other malignancy", neg.source)])
    if closed_world_ok(ctx) and idx.primary is not None:
        return Result(False, ["no other malignancy in her record"], [])
    return Result(None, ["other malignancies not recorded"], [], [missing_fact("other_malignancy", "history of other cancers")])
