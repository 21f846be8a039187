"""ClinicalTrials.gov API v2 JSON: one study, a ``{"studies": [...]}`` page, or NDJSON.

Every module of ``protocolSection`` that the trial model holds is mapped; ``resultsSection``
becomes :class:`~trialmatch.trials.model.TrialResults` (``source="ctgov_results_section"``).
The reader is on the hot path of ingest (thousands of records), so it does one ``json.loads``
per record, builds a plain dict and validates it once. A JSON value of the wrong type raises an
error naming its JSON path (``protocolSection.conditionsModule.conditions``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from trialmatch.trials.readers.common import (
    ReadResult,
    RecordError,
    TrialReadError,
    age_to_years,
    build_trial,
    sha256_hex,
    utc_now,
)

FORMAT = "ctgov_v2_json"

_EMPTY: dict = {}


# --------------------------------------------------------------------------- typed getters


def _type_name(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(v), type(v).__name__)


def _obj(d: dict, key: str, path: str) -> dict:
    v = d.get(key)
    if v is None:
        return _EMPTY
    if type(v) is not dict:
        raise RecordError(f"{path}.{key} must be an object, got {_type_name(v)}", f"{path}.{key}")
    return v


def _list(d: dict, key: str, path: str) -> list:
    v = d.get(key)
    if v is None:
        return []
    if type(v) is not list:
        raise RecordError(f"{path}.{key} must be an array, got {_type_name(v)}", f"{path}.{key}")
    return v


def _str(d: dict, key: str, path: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not str:
        raise RecordError(f"{path}.{key} must be a string, got {_type_name(v)}", f"{path}.{key}")
    return v.strip() or None


def _strs(d: dict, key: str, path: str) -> list[str]:
    v = d.get(key)
    if v is None:
        return []
    if type(v) is not list:
        raise RecordError(
            f"{path}.{key} must be an array of strings, got {_type_name(v)}", f"{path}.{key}"
        )
    out = []
    for i, s in enumerate(v):
        if type(s) is not str:
            raise RecordError(
                f"{path}.{key}[{i}] must be a string, got {_type_name(s)}", f"{path}.{key}[{i}]"
            )
        s = s.strip()
        if s:
            out.append(s)
    return out


def _item(v: Any, path: str) -> dict:
    if type(v) is not dict:
        raise RecordError(f"{path} must be an object, got {_type_name(v)}", path)
    return v


def _bool(d: dict, key: str, path: str) -> bool | None:
    v = d.get(key)
    if v is None or type(v) is bool:
        return v
    raise RecordError(f"{path}.{key} must be true or false, got {_type_name(v)}", f"{path}.{key}")


def _num(v: Any) -> float | None:
    """A reported number ("61.2", 8, "NA") as float, or None."""
    if v is None or type(v) is bool:
        return None
    f = None
    if type(v) in (int, float):
        try:
            f = float(v)
        except OverflowError:  # an integer beyond any float
            return None
    elif type(v) is str:
        m = re.search(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?", v.replace(",", ""))
        if m:
            try:
                f = float(m.group(0))
            except ValueError:
                return None
    return f if f is not None and math.isfinite(f) else None  # no infinity or NaN


def _int(v: Any) -> int | None:
    f = _num(v)
    return int(f) if f is not None and f == int(f) and f >= 0 else None


# --------------------------------------------------------------------------- mapping


def study_to_dict(study: Any, file_name: str | None, sha: str, now: datetime) -> dict:
    """Map one API v2 study object to a dict in the shape of ``Trial``.

    Raises
    ------
    RecordError
        The record has no ``nctId``, or a field has the wrong JSON type.
    """
    if type(study) is not dict:
        raise RecordError(f"a study must be a JSON object, got {_type_name(study)}")
    if "protocolSection" not in study:
        raise RecordError(
            "not a ClinicalTrials.gov API v2 study: no protocolSection", "protocolSection"
        )
    p = "protocolSection"
    ps = _obj(study, "protocolSection", "")
    ident = _obj(ps, "identificationModule", p)
    ip = f"{p}.identificationModule"
    nct = _str(ident, "nctId", ip)
    if not nct:
        raise RecordError("record without an id: no protocolSection.identificationModule.nctId",
                          f"{ip}.nctId")

    other_ids: list[str] = []
    org = _obj(ident, "orgStudyIdInfo", ip)
    if org:
        oid = _str(org, "id", f"{ip}.orgStudyIdInfo")
        if oid and oid != nct:
            other_ids.append(oid)
    for i, sec in enumerate(_list(ident, "secondaryIdInfos", ip)):
        sec = _item(sec, f"{ip}.secondaryIdInfos[{i}]")
        sid = _str(sec, "id", f"{ip}.secondaryIdInfos[{i}]")
        if sid and sid != nct and sid not in other_ids:
            other_ids.append(sid)
    for alias in _strs(ident, "nctIdAliases", ip):
        if alias != nct and alias not in other_ids:
            other_ids.append(alias)

    out: dict[str, Any] = {
        "id": nct,
        "other_ids": other_ids,
        "title": _str(ident, "briefTitle", ip),
        "official_title": _str(ident, "officialTitle", ip),
        "acronym": _str(ident, "acronym", ip),
    }

    status = _obj(ps, "statusModule", p)
    if status:
        sp = f"{p}.statusModule"
        out["status"] = _str(status, "overallStatus", sp)
        out["why_stopped"] = _str(status, "whyStopped", sp)
        sd = _obj(status, "startDateStruct", sp)
        if sd:
            out["start_date"] = _str(sd, "date", f"{sp}.startDateStruct")
        lu = _obj(status, "lastUpdatePostDateStruct", sp)
        if lu:
            out["last_update_posted"] = _str(lu, "date", f"{sp}.lastUpdatePostDateStruct")

    desc = _obj(ps, "descriptionModule", p)
    if desc:
        out["brief_summary"] = _str(desc, "briefSummary", f"{p}.descriptionModule")
        out["description"] = _str(desc, "detailedDescription", f"{p}.descriptionModule")

    cond = _obj(ps, "conditionsModule", p)
    if cond:
        out["conditions"] = _strs(cond, "conditions", f"{p}.conditionsModule")
        out["keywords"] = _strs(cond, "keywords", f"{p}.conditionsModule")

    design = _obj(ps, "designModule", p)
    if design:
        out["study_type"] = _str(design, "studyType", f"{p}.designModule")
        out["phases"] = _strs(design, "phases", f"{p}.designModule")

    arms_mod = _obj(ps, "armsInterventionsModule", p)
    if arms_mod:
        ap = f"{p}.armsInterventionsModule"
        interventions = []
        for i, iv in enumerate(_list(arms_mod, "interventions", ap)):
            ipath = f"{ap}.interventions[{i}]"
            iv = _item(iv, ipath)
            name = _str(iv, "name", ipath)
            if not name:
                continue
            interventions.append({
                "type": _str(iv, "type", ipath),
                "name": name,
                "description": _str(iv, "description", ipath),
                "other_names": _strs(iv, "otherNames", ipath),
                "arm_labels": _strs(iv, "armGroupLabels", ipath),
            })
        out["interventions"] = interventions
        arms = []
        for i, ag in enumerate(_list(arms_mod, "armGroups", ap)):
            gpath = f"{ap}.armGroups[{i}]"
            ag = _item(ag, gpath)
            label = _str(ag, "label", gpath)
            if not label:
                continue
            arms.append({
                "label": label,
                "type": _str(ag, "type", gpath),
                "description": _str(ag, "description", gpath),
                "interventions": _strs(ag, "interventionNames", gpath),
            })
        out["arms"] = arms

    outcomes = _obj(ps, "outcomesModule", p)
    if outcomes:
        op = f"{p}.outcomesModule"
        for key, field in (("primaryOutcomes", "primary_outcomes"),
                           ("secondaryOutcomes", "secondary_outcomes")):
            items = []
            for i, oc in enumerate(_list(outcomes, key, op)):
                opath = f"{op}.{key}[{i}]"
                oc = _item(oc, opath)
                measure = _str(oc, "measure", opath)
                if measure:
                    items.append({
                        "measure": measure,
                        "time_frame": _str(oc, "timeFrame", opath),
                        "description": _str(oc, "description", opath),
                    })
            out[field] = items

    elig = _obj(ps, "eligibilityModule", p)
    if elig:
        ep = f"{p}.eligibilityModule"
        out["eligibility"] = {
            "criteria_text": _str(elig, "eligibilityCriteria", ep),
            "min_age_years": age_to_years(_str(elig, "minimumAge", ep)),
            "max_age_years": age_to_years(_str(elig, "maximumAge", ep)),
            "sex": _str(elig, "sex", ep),
            "healthy_volunteers": _bool(elig, "healthyVolunteers", ep),
        }

    spons = _obj(ps, "sponsorCollaboratorsModule", p)
    if spons:
        sp = f"{p}.sponsorCollaboratorsModule"
        lead = _obj(spons, "leadSponsor", sp)
        if lead and _str(lead, "name", f"{sp}.leadSponsor"):
            out["sponsor"] = {"name": _str(lead, "name", f"{sp}.leadSponsor"),
                              "class": _str(lead, "class", f"{sp}.leadSponsor")}
        collabs = []
        for i, c in enumerate(_list(spons, "collaborators", sp)):
            cp = f"{sp}.collaborators[{i}]"
            c = _item(c, cp)
            name = _str(c, "name", cp)
            if name:
                collabs.append({"name": name, "class": _str(c, "class", cp)})
        out["collaborators"] = collabs

    contacts = _obj(ps, "contactsLocationsModule", p)
    if contacts:
        cp = f"{p}.contactsLocationsModule"
        locs = []
        for i, loc in enumerate(_list(contacts, "locations", cp)):
            lp = f"{cp}.locations[{i}]"
            loc = _item(loc, lp)
            geo = _obj(loc, "geoPoint", lp)
            locs.append({
                "facility": _str(loc, "facility", lp),
                "city": _str(loc, "city", lp),
                "state": _str(loc, "state", lp),
                "country": _str(loc, "country", lp),
                "status": _str(loc, "status", lp),
                "lat": _num(geo.get("lat")) if geo else None,
                "lon": _num(geo.get("lon")) if geo else None,
            })
        out["locations"] = locs

    results = study.get("resultsSection")
    if results is not None:
        if type(results) is not dict:
            raise RecordError(
                f"resultsSection must be an object, got {_type_name(results)}", "resultsSection"
            )
        res = results_to_dict(results)
        if res is not None:
            out["results"] = res

    out["provenance"] = {
        "source_format": FORMAT,
        "file_name": file_name,
        "sha256": sha,
        "ingested_at": now,
    }
    return out


# --------------------------------------------------------------------------- results section


def _seq(value) -> list:
    """A value the API states as an array; anything else (a number, a string, an object) as no
    items, so a malformed results section gives no statistics instead of a crash."""
    return value if type(value) is list else []


def _arm(groups: dict[str, str], gid) -> str | None:
    """The arm title of a group id (the id itself when unknown; None when it is not a string)."""
    return groups.get(gid, gid) if type(gid) is str else None


def _group_titles(groups: list, path: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for i, g in enumerate(groups):
        g = _item(g, f"{path}[{i}]")
        gid = _str(g, "id", f"{path}[{i}]")
        if gid:
            titles[gid] = _str(g, "title", f"{path}[{i}]") or gid
    return titles


def _stat_kind(param_type: str | None, unit: str | None) -> str:
    pt = (param_type or "").upper()
    u = (unit or "").lower()
    if "MEDIAN" in pt:
        return "median"
    if "MEAN" in pt:
        return "mean"
    if "COUNT" in pt:
        return "count"
    if "percent" in u or u.strip() == "%":
        return "rate"
    return "other"


def results_to_dict(rs: dict) -> dict | None:
    """Map an API v2 ``resultsSection`` to a dict in the shape of ``TrialResults``."""
    r = "resultsSection"
    arms: list[dict] = []
    flow = _obj(rs, "participantFlowModule", r)
    if flow:
        fp = f"{r}.participantFlowModule"
        groups = _list(flow, "groups", fp)
        titles = _group_titles(groups, f"{fp}.groups")
        descs = {g.get("id"): g.get("description") for g in groups if type(g) is dict}
        started: dict[str, int] = {}
        for period in _list(flow, "periods", fp)[:1]:
            for ms in _list(_item(period, f"{fp}.periods[0]"), "milestones", f"{fp}.periods[0]"):
                if type(ms) is dict and ms.get("type") == "STARTED":
                    for ach in _seq(ms.get("achievements")):
                        if type(ach) is dict and type(ach.get("groupId")) is str and _int(ach.get("numSubjects")) is not None:
                            started[ach.get("groupId")] = _int(ach.get("numSubjects"))
        for gid, title in titles.items():
            d = descs.get(gid)
            arms.append({"label": title, "description": d if type(d) is str and d.strip() else None,
                         "size": started.get(gid)})
    base = _obj(rs, "baselineCharacteristicsModule", r)
    if base:
        bp = f"{r}.baselineCharacteristicsModule"
        groups = _list(base, "groups", bp)
        titles = _group_titles(groups, f"{bp}.groups")
        counts: dict[str, int] = {}
        for den in _list(base, "denoms", bp)[:1]:
            if type(den) is dict:
                for c in _seq(den.get("counts")):
                    if type(c) is dict and type(c.get("groupId")) is str and _int(c.get("value")) is not None:
                        counts[c.get("groupId")] = _int(c.get("value"))
        if not arms:
            for gid, title in titles.items():
                if title.lower() == "total" and len(titles) > 1:
                    continue
                arms.append({"label": title, "size": counts.get(gid)})
        else:
            by_label = {a["label"]: a for a in arms}
            for gid, title in titles.items():
                a = by_label.get(title)
                if a is not None and a.get("size") is None:
                    a["size"] = counts.get(gid)

    stats: list[dict] = []
    om = _obj(rs, "outcomeMeasuresModule", r)
    if om:
        mp = f"{r}.outcomeMeasuresModule.outcomeMeasures"
        for i, m in enumerate(_list(om, "outcomeMeasures", f"{r}.outcomeMeasuresModule")):
            m = _item(m, f"{mp}[{i}]")
            stats.extend(_measure_stats(m, f"{mp}[{i}]"))
    ae = _obj(rs, "adverseEventsModule", r)
    if ae:
        stats.extend(_adverse_event_stats(ae, f"{r}.adverseEventsModule"))
    if not arms and not stats:
        return None
    return {"source": "ctgov_results_section", "arms": arms, "statistics": stats}


def _measure_stats(m: dict, path: str) -> list[dict]:
    title = _str(m, "title", path) or "outcome"
    unit = _str(m, "unitOfMeasure", path)
    param = _str(m, "paramType", path)
    disp = (_str(m, "dispersionType", path) or "")
    kind = _stat_kind(param, unit)
    groups = _group_titles(_list(m, "groups", path), f"{path}.groups")
    denoms: dict[str, int] = {}
    for den in _list(m, "denoms", path)[:1]:
        if type(den) is dict:
            for c in _seq(den.get("counts")):
                if type(c) is dict and type(c.get("groupId")) is str and _int(c.get("value")) is not None:
                    denoms[c.get("groupId")] = _int(c.get("value"))
    ci_level = None
    cm = re.search(r"(\d+(?:\.\d+)?)\s*%\s*Confidence Interval", disp, re.I)
    if cm:
        ci_level = float(cm.group(1)) / 100
    unit_out = "%" if kind == "rate" else unit
    out: list[dict] = []
    for ci_, cls in enumerate(_list(m, "classes", path)):
        cls = _item(cls, f"{path}.classes[{ci_}]")
        ctitle = cls.get("title") if type(cls.get("title")) is str else None
        for cat in _seq(cls.get("categories")):
            if type(cat) is not dict:
                continue
            cat_title = cat.get("title") if type(cat.get("title")) is str else None
            name = " — ".join(x for x in (title, ctitle, cat_title) if x)
            for meas in _seq(cat.get("measurements")):
                if type(meas) is not dict:
                    continue
                value = _num(meas.get("value"))
                if value is None:
                    continue
                gid = meas.get("groupId") if type(meas.get("groupId")) is str else None
                ci = None
                if ci_level is not None:
                    lo, hi = _num(meas.get("lowerLimit")), _num(meas.get("upperLimit"))
                    if lo is not None and hi is not None and lo <= hi:
                        ci = {"level": ci_level, "lower": lo, "upper": hi}
                out.append({
                    "outcome": name,
                    "kind": kind,
                    "arm": _arm(groups, gid),
                    "value": value,
                    "unit": unit_out,
                    "ci": ci,
                    "n": denoms.get(gid),
                })
    for j, an in enumerate(_list(m, "analyses", path)):
        an = _item(an, f"{path}.analyses[{j}]")
        value = _num(an.get("paramValue"))
        if value is None:
            continue
        ptype = (an.get("paramType") or "") if type(an.get("paramType")) is str else ""
        low = ptype.lower()
        akind = ("hazard_ratio" if "hazard" in low else "odds_ratio" if "odds" in low
                 else "mean" if "mean" in low else "other")
        ids = [g for g in _seq(an.get("groupIds")) if type(g) is str]
        ci = None
        lo, hi = _num(an.get("ciLowerLimit")), _num(an.get("ciUpperLimit"))
        level = _num(an.get("ciPctValue"))
        if lo is not None and hi is not None and lo <= hi:
            ci = {"level": (level / 100) if level else 0.95, "lower": lo, "upper": hi}
        out.append({
            "outcome": title,
            "kind": akind,
            "arm": groups.get(ids[0]) if ids else None,
            "comparator_arm": groups.get(ids[1]) if len(ids) > 1 else None,
            "value": value,
            "unit": None,
            "ci": ci,
            "p_value": _num(an.get("pValue")),
            "text": ptype or None,
        })
    return out


def _adverse_event_stats(ae: dict, path: str) -> list[dict]:
    groups = _group_titles(_list(ae, "eventGroups", path), f"{path}.eventGroups")
    out: list[dict] = []
    for key, label in (("seriousEvents", "serious adverse event"), ("otherEvents", "adverse event")):
        for ev in _list(ae, key, path):
            if type(ev) is not dict or type(ev.get("term")) is not str:
                continue
            for st in _seq(ev.get("stats")):
                if type(st) is not dict:
                    continue
                aff, risk = _int(st.get("numAffected")), _int(st.get("numAtRisk"))
                if aff is None or not risk:
                    continue
                out.append({
                    "outcome": f"{label}: {ev['term']}",
                    "kind": "rate",
                    "arm": _arm(groups, st.get("groupId")),
                    "value": round(100.0 * aff / risk, 2),
                    "unit": "%",
                    "n": risk,
                })
    return out


# --------------------------------------------------------------------------- documents


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _one(study: Any, file_name: str, locator: str, sha: str, now: datetime,
         id_override: str | None, line: int | None = None) -> ReadResult:
    try:
        d = study_to_dict(study, file_name, sha, now)
        if id_override:
            if d["id"] != id_override and d["id"] not in d["other_ids"]:
                d["other_ids"] = [d["id"], *d["other_ids"]]
            d["id"] = id_override
        return ReadResult(locator, build_trial(d))
    except RecordError as exc:
        return ReadResult(locator, None, TrialReadError(locator, exc.message, exc.field, line))


def looks_like_ndjson(text: str) -> bool:
    """Two or more non-blank lines, the first ones each a whole ``{...}`` object."""
    lines = [ln.strip() for ln in text.split("\n", 20)[:20] if ln.strip()]
    if len(lines) < 2:
        return False
    head = lines[:5]
    whole = sum(1 for ln in head if ln.startswith("{") and ln.endswith("}") and len(ln) > 2)
    return whole * 2 > len(head)


def read_ndjson(data: bytes, file_name: str, id_override: str | None = None) -> Iterator[ReadResult]:
    """One result per non-blank line; a bad line gives an error result, the others still read."""
    now = utc_now()
    lines = data.split(b"\n")
    records = sum(1 for ln in lines if ln.strip())
    if id_override and records > 1:
        yield ReadResult(file_name, None, TrialReadError(
            file_name, f"an id override needs a file with one trial; this one has {records} records"))
        return
    loads = json.loads
    for no, raw in enumerate(lines, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            continue
        loc = f"{file_name}:{no}"
        try:
            study = loads(raw)
        except UnicodeDecodeError:
            yield ReadResult(loc, None, TrialReadError(loc, "line is not valid UTF-8", None, no))
            continue
        except json.JSONDecodeError as exc:
            yield ReadResult(loc, None, TrialReadError(
                loc, f"malformed JSON on line {no}, column {exc.colno}: {exc.msg}", None, no))
            continue
        except RecursionError:
            yield ReadResult(loc, None, TrialReadError(
                loc, f"JSON on line {no} is nested too deeply to be a study record", None, no))
            continue
        yield _one(study, file_name, loc, sha256_hex(raw), now, id_override, no)


def read_json(data: bytes, text: str, file_name: str,
              id_override: str | None = None) -> Iterator[ReadResult]:
    """A single study object, a ``{"studies": [...]}`` page, a JSON array of studies, or NDJSON."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if looks_like_ndjson(text):
            yield from read_ndjson(data, file_name, id_override)
            return
        yield ReadResult(file_name, None, TrialReadError(
            file_name, f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            None, exc.lineno))
        return
    except RecursionError:
        yield ReadResult(file_name, None, TrialReadError(
            file_name, "JSON nested too deeply to be a study record (arrays or objects inside each "
                       "other beyond the parser's depth limit)"))
        return
    now = utc_now()
    studies: list | None = None
    if type(doc) is dict and "studies" in doc and "protocolSection" not in doc:
        studies = doc["studies"]
        if type(studies) is not list:
            yield ReadResult(file_name, None, TrialReadError(
                file_name, f"studies must be an array, got {_type_name(studies)}", "studies"))
            return
    elif type(doc) is list:
        studies = doc
    if studies is None:
        yield _one(doc, file_name, file_name, sha256_hex(data), now, id_override)
        return
    if id_override and len(studies) > 1:
        yield ReadResult(file_name, None, TrialReadError(
            file_name, f"an id override needs a file with one trial; this one has {len(studies)}"))
        return
    if not studies:
        yield ReadResult(file_name, None, TrialReadError(file_name, "a page with no studies",
                                                         "studies"))
        return
    for i, study in enumerate(studies):
        loc = f"{file_name}#{i + 1}"
        yield _one(study, file_name, loc, sha256_hex(canonical_json(study)), now, id_override)
