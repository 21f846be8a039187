"""A match report as a FHIR R4 ``searchset`` Bundle of ``ResearchStudy`` resources.

The shape follows the mCODE clinical-trial-matching-service contract (what the SMART-on-FHIR
clinical-trial-matching-app reads back from a matching service): a ``Bundle`` of ``type``
``searchset`` whose entries are ``ResearchStudy`` resources with ``search.mode`` ``match`` and
``search.score`` in 0..1, the trial's NCT id as an identifier of the system
``http://clinicaltrials.gov/``, its status mapped to ``ResearchStudy.status``, its phase coded in
``http://terminology.hl7.org/CodeSystem/research-study-phase``, its conditions as
``CodeableConcept.text`` and its sites as contained ``Location`` resources referenced from
``site``.

What trialmatch adds, documented here and in :data:`EXTENSIONS`:

* on each ``ResearchStudy``: the verdict (``eligible`` / ``uncertain`` / ``ineligible``), the
  ranking score, the date the match was evaluated as of, the trial's own status text, the ids
  of the deciding criteria and each missing fact, as extensions;
* a contained ``List`` (``ResearchStudy.contained``, referenced from the ``match-criteria``
  extension) with one entry per criterion: ``item.display`` the criterion text,
  ``item.identifier.value`` its id, ``flag`` its outcome (``pass``, ``fail``, ``unknown``,
  ``confirm``, ``not_applicable``), and its kind, reason, evidence and missing facts as entry
  extensions;
* report warnings as an ``OperationOutcome`` entry with ``search.mode`` ``outcome``.

``search.score`` is the ranking score divided by 3 (the score runs from 0 to just under 3:
eligible trials score 2 and above, uncertain 1 to 2, ineligible below 1), so the order of the
entries is the ranking order and eligible trials score at least 2/3.

Only trialmatch core is imported here (never ``cli`` or ``web``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from trialmatch.matching.model import CriterionOutcome, MatchReport, TrialMatch
from trialmatch.trials.model import Trial

#: the identifier system of NCT numbers in the mCODE matching services
CTGOV_SYSTEM = "http://clinicaltrials.gov/"
PHASE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-phase"
OUTCOME_SYSTEM = "urn:trialmatch:fhir:CodeSystem:criterion-outcome"
VERDICT_SYSTEM = "urn:trialmatch:fhir:CodeSystem:match-verdict"
_EXT = "urn:trialmatch:fhir:StructureDefinition:"

#: the extensions this module writes: url -> what it holds
EXTENSIONS: dict[str, str] = {
    _EXT + "match-verdict": "ResearchStudy: valueCode eligible, uncertain or ineligible",
    _EXT + "match-score": "ResearchStudy: valueDecimal, the ranking score (0 to < 3) before scaling",
    _EXT + "match-as-of": "ResearchStudy: valueDate, the date the criteria were evaluated as of",
    _EXT + "match-criteria": "ResearchStudy: valueReference to the contained List of criterion outcomes",
    _EXT + "deciding-criterion": "ResearchStudy: valueString, the id of a criterion that set the verdict (repeats)",
    _EXT + "missing-fact": "ResearchStudy and List entry: valueString 'key: description' of a fact the record lacks (repeats)",
    _EXT + "source-status": "ResearchStudy: valueString, the trial's overall status as its source states it",
    _EXT + "criterion-kind": "List entry: valueCode inclusion or exclusion",
    _EXT + "criterion-reason": "List entry: valueString, why the criterion has its outcome",
    _EXT + "criterion-evidence": "List entry: valueString, a patient fact used in the decision (repeats)",
    _EXT + "criterion-step": "List entry: valueInteger, the protocol step the criterion belongs to",
}

SCORE_SCALE = 3.0
_ID_BAD = re.compile(r"[^A-Za-z0-9\-.]+")
_KEY_BAD = re.compile(r"[^A-Z0-9]+")
_MAP_KEYS = {"_comment", "status", "unknown_status", "phase"}
_FHIR_STATUSES = {
    "active", "administratively-completed", "approved", "closed-to-accrual",
    "closed-to-accrual-and-intervention", "completed", "disapproved", "in-review",
    "temporarily-closed-to-accrual", "temporarily-closed-to-accrual-and-intervention", "withdrawn",
}


class FhirMapError(ValueError):
    """The package's ``matching/data/fhir_maps.json`` is malformed (names the key at fault)."""


@lru_cache(maxsize=1)
def fhir_maps() -> dict[str, Any]:
    """The status and phase maps of ``matching/data/fhir_maps.json``, validated.

    Returns
    -------
    dict
        ``status`` (CT.gov key -> FHIR status), ``unknown_status``, ``phase`` (key ->
        ``(code, display)``).

    Raises
    ------
    FhirMapError
        A key outside ``_comment``, ``status``, ``unknown_status``, ``phase``, or a status that
        is not a FHIR ResearchStudy status.
    """
    name = "matching/data/fhir_maps.json"
    with resources.files("trialmatch.matching").joinpath("data", "fhir_maps.json").open("r", encoding="utf-8") as fh:
        raw = json.load(fh)
    unknown = set(raw) - _MAP_KEYS
    missing = {"status", "unknown_status", "phase"} - set(raw)
    if unknown or missing:
        raise FhirMapError(f"{name}: keys {sorted(unknown)} not allowed, {sorted(missing)} missing; "
                           f"allowed keys: {sorted(_MAP_KEYS)}")
    for key, value in [*raw["status"].items(), ("unknown_status", raw["unknown_status"])]:
        if value not in _FHIR_STATUSES:
            raise FhirMapError(f"{name}: status[{key!r}] = {value!r} is not a ResearchStudy status; "
                               f"allowed: {sorted(_FHIR_STATUSES)}")
    phase = {}
    for key, value in raw["phase"].items():
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise FhirMapError(f"{name}: phase[{key!r}] must be [code, display]")
        phase[key] = (value[0], value[1])
    return {"status": dict(raw["status"]), "unknown_status": raw["unknown_status"], "phase": phase}


def fhir_status(status: str | None) -> str:
    """``ResearchStudy.status`` of a CT.gov overall status ("RECRUITING" -> "active"; none or
    an unlisted one -> ``unknown_status``, "in-review" as in the mCODE services)."""
    maps = fhir_maps()
    if not status:
        return maps["unknown_status"]
    key = _KEY_BAD.sub("_", status.upper()).strip("_")
    return maps["status"].get(key, maps["unknown_status"])


def fhir_phase(phases: list[str]) -> dict | None:
    """``ResearchStudy.phase`` of a trial's phases (["PHASE1", "PHASE2"] -> phase-1-phase-2),
    or None when it states none; a combination outside the code system keeps its text only."""
    if not phases:
        return None
    keys = sorted({_KEY_BAD.sub("", p.upper()) for p in phases})
    key = "|".join(keys)
    text = "/".join(keys)
    found = fhir_maps()["phase"].get(key)
    if found is None:
        return {"text": text}
    return {"coding": [{"system": PHASE_SYSTEM, "code": found[0], "display": found[1]}], "text": text}


def _resource_id(value: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) made from a trial id."""
    rid = _ID_BAD.sub("-", value).strip("-.")[:64]
    return rid or "trial"


def _ext(name: str, **value) -> dict:
    return {"url": _EXT + name, **value}


def _location(loc, n: int) -> dict | None:
    address = {k: v for k, v in (("city", loc.city), ("state", loc.state), ("country", loc.country)) if v}
    if not (loc.facility or address):
        return None
    res: dict[str, Any] = {"resourceType": "Location", "id": f"site-{n}"}
    if loc.facility:
        res["name"] = loc.facility
    if address:
        res["address"] = address
    if loc.lat is not None and loc.lon is not None:
        res["position"] = {"latitude": loc.lat, "longitude": loc.lon}
    return res


def _criterion_entry(c: CriterionOutcome) -> dict:
    ext = [_ext("criterion-kind", valueCode=c.kind)]
    if c.reason:
        ext.append(_ext("criterion-reason", valueString=c.reason))
    ext += [_ext("criterion-evidence", valueString=e.fact) for e in c.evidence if e.fact]
    ext += [_ext("missing-fact", valueString=f"{m.fact}: {m.description}") for m in c.missing]
    if c.step is not None:
        ext.append(_ext("criterion-step", valueInteger=c.step))
    return {
        "extension": ext,
        "flag": {"coding": [{"system": OUTCOME_SYSTEM, "code": c.outcome}], "text": c.outcome},
        "item": {"identifier": {"value": c.criterion_id}, "display": c.text or c.criterion_id},
    }


def research_study(match: TrialMatch, trial: Trial | None, as_of) -> dict:
    """One ``ResearchStudy`` (as a JSON dict) for one trial's match.

    Parameters
    ----------
    match : TrialMatch
        The verdict, score and criterion outcomes.
    trial : Trial or None
        The trial (phase, conditions, sites, summary); None gives what the match states only.
    as_of : date
        The report's evaluation date.

    Returns
    -------
    dict
        A ResearchStudy valid against FHIR R4/R4B.
    """
    status_text = match.status if match.status is not None else (trial.status if trial else None)
    res: dict[str, Any] = {"resourceType": "ResearchStudy", "id": _resource_id(match.trial_id)}
    contained: list[dict] = []
    ext = [_ext("match-verdict", valueCode=match.verdict),
           _ext("match-score", valueDecimal=round(float(match.score), 6)),
           _ext("match-as-of", valueDate=as_of.isoformat())]
    if status_text:
        ext.append(_ext("source-status", valueString=status_text))
    ext += [_ext("deciding-criterion", valueString=cid) for cid in match.deciding]
    ext += [_ext("missing-fact", valueString=f"{m.fact}: {m.description}") for m in match.missing]
    if match.criteria:
        contained.append({"resourceType": "List", "id": "criteria", "status": "current", "mode": "snapshot",
                          "title": "Eligibility criteria: the outcome of each for this patient",
                          "entry": [_criterion_entry(c) for c in match.criteria]})
        ext.append(_ext("match-criteria", valueReference={"reference": "#criteria"}))
    res["extension"] = ext
    ids = [{"use": "official", "system": CTGOV_SYSTEM, "value": match.trial_id}] if match.trial_id.upper().startswith("NCT") \
        else [{"use": "usual", "value": match.trial_id}]
    if trial is not None:
        ids += [{"use": "secondary", "value": o} for o in trial.other_ids if o and o != match.trial_id]
    res["identifier"] = ids
    title = match.title or (trial.title if trial else None) or (trial.official_title if trial else None)
    if title:
        res["title"] = title
    res["status"] = fhir_status(status_text)
    if trial is not None:
        phase = fhir_phase(trial.phases)
        if phase:
            res["phase"] = phase
        if trial.conditions:
            res["condition"] = [{"text": c} for c in trial.conditions if c]
        if trial.brief_summary:
            res["description"] = trial.brief_summary
        sites = []
        for n, loc in enumerate(trial.locations, 1):
            found = _location(loc, n)
            if found is not None:
                contained.append(found)
                sites.append({"reference": f"#{found['id']}"})
        if sites:
            res["site"] = sites
    if contained:
        res["contained"] = contained
    return res


def search_score(score: float) -> float:
    """``search.score`` (0..1) of a ranking score: ``score / 3``, clamped."""
    return round(min(1.0, max(0.0, float(score) / SCORE_SCALE)), 6)


def report_to_searchset(report: MatchReport, trials: Mapping[str, Trial] | Iterable[Trial] | None = None) -> dict:
    """A match report as a FHIR ``searchset`` Bundle (a JSON dict).

    Parameters
    ----------
    report : MatchReport
        The ranked results, in ranking order.
    trials : mapping of id to Trial, or iterable of Trial, optional
        The trials of the results (their phase, conditions and sites); results whose trial is
        not given carry what the match states (id, title, status, verdict, criteria).

    Returns
    -------
    dict
        ``{"resourceType": "Bundle", "type": "searchset", "total": n, "entry": [...]}``, valid
        against ``fhir.resources.R4B.bundle.Bundle``; entries in ranking order, each with
        ``search.mode`` ``match`` and ``search.score`` in 0..1, then an ``OperationOutcome``
        entry (``search.mode`` ``outcome``) when the report has warnings.
    """
    if trials is None:
        by_id: Mapping[str, Trial] = {}
    elif isinstance(trials, Mapping):
        by_id = trials
    else:
        by_id = {t.id: t for t in trials}
    entries = []
    for m in report.results:
        entries.append({"resource": research_study(m, by_id.get(m.trial_id), report.as_of),
                        "search": {"mode": "match", "score": search_score(m.score)}})
    if report.warnings:
        entries.append({"resource": {
            "resourceType": "OperationOutcome", "id": "match-warnings",
            "issue": [{"severity": "warning", "code": "informational", "diagnostics": w} for w in report.warnings],
        }, "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(report.results), "entry": entries}
