"""The FHIR face of the API, under ``/api/fhir``: a patient Bundle in, a ``searchset`` Bundle of
``ResearchStudy`` resources out (``application/fhir+json``), in the shape of the mCODE
clinical-trial-matching-service (see :mod:`trialmatch.matching.fhir_bundle`).

``POST /api/fhir/match`` takes the patient's FHIR R4 Bundle, raw or wrapped as the mCODE
matching app sends it (``{"patientData": Bundle}``), matches it against the stored trials and
stores nothing. ``POST /api/fhir/patients/{id}/match`` answers the same for a patient stored in
the caller's workspace (404 for any other). Both need a bearer token or a signed-in session.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from trialmatch.web import services
from trialmatch.web.api import PatientId, _record_or_404, do_match
from trialmatch.web.auth_store import User
from trialmatch.web.deps import AppState, api_user, app_state
from trialmatch.web.schemas import ID_PATTERN, ErrorOut, MatchRequest
from trialmatch.web.services import InputError

log = logging.getLogger("trialmatch.web")
FHIR_JSON = "application/fhir+json"

_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 415, 422, 503)}
_SEARCHSET = {200: {"description": "A FHIR R4 Bundle of type searchset: one ResearchStudy entry per trial, in "
                                   "ranking order, with search.score in 0..1 and the verdict and criterion "
                                   "outcomes as extensions and a contained List",
                    "content": {FHIR_JSON: {"schema": {"type": "object", "required": ["resourceType", "type"],
                                                       "properties": {"resourceType": {"const": "Bundle"},
                                                                      "type": {"const": "searchset"},
                                                                      "total": {"type": "integer"},
                                                                      "entry": {"type": "array"}}}}}}}
router = APIRouter(prefix="/api/fhir", tags=["fhir"], responses=_ERRORS)

UserDep = Annotated[User, Depends(api_user)]
StateDep = Annotated[AppState, Depends(app_state)]
StatusQ = Annotated[list[str] | None, Query(max_length=20, description="Only trials with these statuses, e.g. RECRUITING")]
TrialQ = Annotated[list[Annotated[str, Query(pattern=ID_PATTERN)]] | None,
                   Query(alias="trial", max_length=500, description="Only these trials (each must exist)")]
TopQ = Annotated[int, Query(ge=1, le=10000, description="Keep the best N trials (default 100)")]

_BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The patient's FHIR R4 Bundle (mCODE / US Core), raw or as the mCODE matching app "
                       "sends it: {\"patientData\": Bundle}.",
        "content": {FHIR_JSON: {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}},
    }
}


def _fhir_response(bundle: dict) -> Response:
    return Response(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")), media_type=FHIR_JSON)


def bundle_bytes(body: bytes) -> bytes:
    """The patient Bundle of a request body: the body itself, or its ``patientData`` (an object
    or a JSON string). Raise InputError naming what is wrong with a body that is not a Bundle."""
    if not body or not body.strip():
        raise InputError("the request body is empty: send the patient's FHIR Bundle", 400, field="body")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"the body is not JSON: {exc.__class__.__name__}"
                         + (f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""),
                         400, field="body") from None
    if isinstance(doc, dict) and "patientData" in doc and "resourceType" not in doc:
        doc = doc["patientData"]
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except (ValueError, RecursionError):
                raise InputError("patientData: a string that is not JSON", 400, field="patientData") from None
    if not isinstance(doc, dict):
        raise InputError(f"resourceType: expected a FHIR Bundle object, got a JSON {type(doc).__name__}",
                         422, field="resourceType")
    if doc.get("resourceType") != "Bundle":
        got = doc.get("resourceType")
        raise InputError(f"resourceType: expected 'Bundle', got {got!r}"[:200], 422, field="resourceType")
    if not isinstance(doc.get("entry"), list) or not doc["entry"]:
        raise InputError("Bundle.entry: the Bundle has no entries (no patient to read)", 422, field="Bundle.entry")
    return json.dumps(doc).encode("utf-8")


def _trials_by_id(state: AppState) -> dict:
    _, pairs = services.matching_pairs(state.store, state.caches)
    return {t.id: t for t, _ in pairs}


def _match_bundle(state: AppState, body: bytes, status, trial_ids, top):
    from trialmatch.matching.fhir_bundle import report_to_searchset

    patient = services.read_patient(bundle_bytes(body), "fhir", "Bundle")
    services.check_patient(patient)
    _, pairs = services.matching_pairs(state.store, state.caches)
    if trial_ids:
        known = {t.id for t, _ in pairs}
        unknown = [t for t in trial_ids if t not in known]
        if unknown:
            raise InputError(f"unknown trial id(s): {', '.join(unknown[:10])}", 422, field="trial")
    with services._MATCH_SLOT:
        report = services.run_match(patient, pairs, trial_ids=trial_ids, status=status, top=top)
    return report_to_searchset(report, {t.id: t for t, _ in pairs})


@router.post("/match", response_class=Response, openapi_extra=_BUNDLE_BODY, responses=_SEARCHSET,
             summary="Match a patient's FHIR Bundle: a searchset Bundle of ResearchStudy (nothing is stored)")
async def fhir_match(request: Request, user: UserDep, state: StateDep, status: StatusQ = None,
                     trial_ids: TrialQ = None, top: TopQ = 100) -> Response:
    body = await request.body()
    bundle = await run_in_threadpool(_match_bundle, state, body, status, trial_ids, top)
    log.info("fhir match by user %s: %d trial(s)", user.id, bundle["total"])
    return _fhir_response(bundle)


def _match_stored(state: AppState, user: User, patient_id: str, req: MatchRequest):
    from trialmatch.matching.fhir_bundle import report_to_searchset

    _record_or_404(state, user, patient_id)
    report, _ = do_match(state, user, patient_id, req)
    return report_to_searchset(report, _trials_by_id(state))


@router.post("/patients/{patient_id}/match", response_class=Response, responses=_SEARCHSET,
             summary="Match a stored patient of your workspace: a searchset Bundle of ResearchStudy")
async def fhir_match_stored(patient_id: PatientId, user: UserDep, state: StateDep,
                            req: MatchRequest | None = None) -> Response:
    req = req or MatchRequest(top=100)
    bundle = await run_in_threadpool(_match_stored, state, user, patient_id, req)
    return _fhir_response(bundle)

