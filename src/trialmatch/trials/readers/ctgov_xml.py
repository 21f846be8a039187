"""Legacy ClinicalTrials.gov XML (``<clinical_study>``, the pre-2023 public XML), read with lxml."""

from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from trialmatch.trials.readers.common import (
    RecordError,
    age_to_years,
    normalise_sex,
    normalise_status,
    phase_tokens,
)

FORMAT = "ctgov_legacy_xml"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                          remove_comments=True)


def _t(el, path: str) -> str | None:
    if el is None:
        return None
    node = el.find(path) if path else el
    if node is None:
        return None
    return " ".join("".join(node.itertext()).split()) or None


def _block(el, path: str) -> str | None:
    """A ``<textblock>``: keep its lines, drop the common indentation."""
    node = el.find(path)
    if node is None:
        return None
    raw = "".join(node.itertext())
    lines = [ln.rstrip() for ln in raw.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in lines)


def _all(el, path: str) -> list[str]:
    out = []
    for node in el.findall(path):
        s = " ".join("".join(node.itertext()).split())
        if s and s not in out:
            out.append(s)
    return out


def _upper_key(value: str | None) -> str | None:
    if not value:
        return None
    return re.sub(r"[^A-Z0-9]+", "_", value.strip().upper()).strip("_") or None


def xml_to_dict(data: bytes, file_name: str | None, sha: str, now: datetime) -> dict:
    """Map a ``<clinical_study>`` document to a dict in the shape of ``Trial``.

    Raises
    ------
    RecordError
        Malformed XML, a root that is not ``clinical_study``, or no ``id_info/nct_id``.
    """
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise RecordError(f"malformed XML: {exc.msg} (line {exc.lineno})") from None
    if root is None or root.tag != "clinical_study":
        raise RecordError(f"not a ClinicalTrials.gov XML record: root element is <{root.tag}>",
                          "clinical_study")
    nct = _t(root, "id_info/nct_id")
    if not nct:
        raise RecordError("record without an id: no id_info/nct_id", "id_info/nct_id")
    other_ids = [x for x in _all(root, "id_info/org_study_id") + _all(root, "id_info/secondary_id")
                 + _all(root, "id_info/nct_alias") if x != nct]

    interventions = []
    for iv in root.findall("intervention"):
        name = _t(iv, "intervention_name")
        if not name:
            continue
        interventions.append({
            "type": _upper_key(_t(iv, "intervention_type")),
            "name": name,
            "description": _t(iv, "description"),
            "other_names": _all(iv, "other_name"),
            "arm_labels": _all(iv, "arm_group_label"),
        })
    arms = []
    for ag in root.findall("arm_group"):
        label = _t(ag, "arm_group_label")
        if not label:
            continue
        arms.append({
            "label": label,
            "type": _upper_key(_t(ag, "arm_group_type")),
            "description": _t(ag, "description"),
            "interventions": [f"{iv['type'].replace('_', ' ').title() + ': ' if iv['type'] else ''}"
                              f"{iv['name']}" for iv in interventions if label in iv["arm_labels"]],
        })

    def outcomes(tag: str) -> list[dict]:
        out = []
        for oc in root.findall(tag):
            measure = _t(oc, "measure")
            if measure:
                out.append({"measure": measure, "time_frame": _t(oc, "time_frame"),
                            "description": _t(oc, "description")})
        return out

    elig = root.find("eligibility")
    eligibility = {}
    if elig is not None:
        hv = (_t(elig, "healthy_volunteers") or "").lower()
        eligibility = {
            "criteria_text": _block(elig, "criteria/textblock"),
            "min_age_years": age_to_years(_t(elig, "minimum_age")),
            "max_age_years": age_to_years(_t(elig, "maximum_age")),
            "sex": normalise_sex(_t(elig, "gender") or _t(elig, "sex")),
            "healthy_volunteers": True if hv.startswith("accepts") or hv == "yes"
            else False if hv.startswith("no") else None,
        }

    locations = []
    for loc in root.findall("location"):
        fac = loc.find("facility")
        locations.append({
            "facility": _t(fac, "name") if fac is not None else None,
            "city": _t(fac, "address/city") if fac is not None else None,
            "state": _t(fac, "address/state") if fac is not None else None,
            "country": _t(fac, "address/country") if fac is not None else None,
            "status": _upper_key(_t(loc, "status")),
        })
    lead = _t(root, "sponsors/lead_sponsor/agency")
    collaborators = [{"name": _t(c, "agency"), "class": _upper_key(_t(c, "agency_class"))}
                     for c in root.findall("sponsors/collaborator") if _t(c, "agency")]

    phase = _t(root, "phase")
    return {
        "id": nct,
        "other_ids": other_ids,
        "title": _t(root, "brief_title"),
        "official_title": _t(root, "official_title"),
        "acronym": _t(root, "acronym"),
        "brief_summary": _block(root, "brief_summary/textblock"),
        "description": _block(root, "detailed_description/textblock"),
        "phases": phase_tokens(phase) if phase else [],
        "status": normalise_status(_t(root, "overall_status")),
        "why_stopped": _t(root, "why_stopped"),
        "study_type": _upper_key(_t(root, "study_type")),
        "conditions": _all(root, "condition"),
        "keywords": _all(root, "keyword"),
        "interventions": interventions,
        "arms": arms,
        "primary_outcomes": outcomes("primary_outcome"),
        "secondary_outcomes": outcomes("secondary_outcome"),
        "eligibility": eligibility,
        "sponsor": {"name": lead, "class": _upper_key(_t(root, "sponsors/lead_sponsor/agency_class"))}
        if lead else None,
        "collaborators": collaborators,
        "locations": locations,
        "start_date": _t(root, "start_date"),
        "last_update_posted": _t(root, "last_update_posted"),
        "provenance": {"source_format": FORMAT, "file_name": file_name, "sha256": sha,
                       "ingested_at": now},
    }
