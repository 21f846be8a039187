"""The REST API, under ``/api/v1``. Every endpoint needs a bearer token or a signed-in session."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from trialmatch.store import StoreError
from trialmatch.web import render, services
from trialmatch.web.auth_store import User
from trialmatch.web.deps import AppState, api_user, app_state
from trialmatch.web.schemas import (
    ID_PATTERN, ChangesOut, CriteriaCounts, ErrorOut, IngestedTrial, IngestOut, MatchOut, MatchRequest,
    PatientItem, PatientListOut, PatientOut, TrialDetailOut, TrialListOut, TrialSummary,
)
from trialmatch.web.services import InputError

log = logging.getLogger("trialmatch.web")
_ID_RE = re.compile(ID_PATTERN)

_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 415, 422, 503)}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)
# for routes whose success is not JSON (CSV, HTML): errors are still JSON, documented as such
_JSON_ERRORS = {code: {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ErrorOut"}}}} for code in _ERRORS}

UserDep = Annotated[User, Depends(api_user)]
StateDep = Annotated[AppState, Depends(app_state)]
PatientId = Annotated[str, Path(pattern=ID_PATTERN, description="The patient's id in your workspace.")]
TrialId = Annotated[str, Path(pattern=ID_PATTERN)]

_TRIAL_BODY = {
    "requestBody": {
        "required": True,
        "description": "A trial document: CT.gov v2 JSON (one study, a page or NDJSON), legacy CT.gov XML, "
                       "or a registry/publication/plain-language page as text or HTML; raw, or as a "
                       "multipart upload in the field `file`.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}

_PATIENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A patient: the JSON patient format, a FHIR R4 Bundle (application/fhir+json or "
                       "JSON with resourceType Bundle), or a free-text clinical summary (text/plain); raw, "
                       "or as a multipart upload in the field `file`. `format` overrides the detection.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Patient"}},
            "application/fhir+json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}


async def _body(request: Request) -> tuple[bytes, str, str | None]:
    """(bytes, file name, content type) from a raw body or a multipart upload."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
            raise InputError("the multipart body could not be read") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputError("the multipart upload needs a file in the field 'file'")
        data = await upload.read()
        return data, upload.filename or "upload", upload.content_type
    return await request.body(), "request-body", ctype or None


def _record_or_404(state: AppState, user: User, patient_id: str):
    rec = state.store.get_patient_record(patient_id, user.workspace)
    if rec is None:
        raise HTTPException(404, f"no patient {patient_id!r} in your workspace")
    return rec


# ----------------------------------------------------------------------------- trials
@router.post("/trials", status_code=201, response_model=IngestOut, openapi_extra=_TRIAL_BODY,
             summary="Ingest a trial document and compile its criteria")
async def ingest_trial(request: Request, user: UserDep, state: StateDep,
                       trial_id: Annotated[str | None, Query(alias="id", pattern=ID_PATTERN,
                                                             description="Override the trial id.")] = None,
                       ) -> IngestOut:
    data, name, _ = await _body(request)
    # reading, compiling and storing are CPU and disk work: off the event loop
    trials, compiled, statuses = await run_in_threadpool(_ingest_document, state, data, name, trial_id)
    out = []
    for t in trials:
        counts = compiled[t.id].counts()
        out.append(IngestedTrial(id=t.id, title=t.title, status=statuses.get(t.id, "unchanged"),
                                 version=state.store.current_version(t.id),
                                 source_format=t.provenance.source_format, criteria=CriteriaCounts(**counts)))
    log.info("trial ingest by user %s: %d trial(s)", user.id, len(out))
    return IngestOut(trials=out)


def _ingest_document(state: AppState, data: bytes, name: str, trial_id: str | None):
    trials = services.read_trial_document(data, name, trial_id)
    compiled = services.compile_trials(trials)
    try:
        statuses = state.store.ingest_trials(trials, compiled)
    except StoreError as exc:
        raise InputError(f"nothing was stored: {exc}", 422) from None
    for t in trials:  # an unchanged trial may lack criteria from this compiler: store them
        if statuses.get(t.id) == "unchanged" and state.store.get_compiled(t.id, services.compiler_version()) is None:
            state.store.save_compiled(t.id, compiled[t.id])
    return trials, compiled, statuses


def filter_trials(state: AppState, q=None, status=None, phase=None, condition=None, intervention=None,
                  country=None):
    items = services.trial_index(state.store, state.caches)

    def has(values, needle):
        n = needle.lower()
        return any(n in v.lower() for v in values)

    out = []
    statuses = {s.upper() for s in status} if status else None
    for e in items:
        if q and not all(w in e.text for w in q.lower().split()):
            continue
        if statuses and (e.status or "").upper() not in statuses:
            continue
        if phase and not any(p.upper().replace(" ", "") in (x.upper() for x in e.phases) for p in phase):
            continue
        if condition and not has(e.conditions, condition):
            continue
        if intervention and not has(e.interventions, intervention):
            continue
        if country and not has(e.countries, country):
            continue
        out.append(e)
    return out


@router.get("/trials", response_model=TrialListOut, summary="List and search trials")
def list_trials(user: UserDep, state: StateDep,
                q: Annotated[str | None, Query(max_length=200, description="Words in id, title, conditions, interventions")] = None,
                status: Annotated[list[str] | None, Query(max_length=20, description="e.g. RECRUITING")] = None,
                phase: Annotated[list[str] | None, Query(max_length=10, description="e.g. PHASE2")] = None,
                condition: Annotated[str | None, Query(max_length=200)] = None,
                intervention: Annotated[str | None, Query(max_length=200)] = None,
                country: Annotated[str | None, Query(max_length=100)] = None,
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> TrialListOut:
    found = filter_trials(state, q, status, phase, condition, intervention, country)
    page = found[offset:offset + limit]
    return TrialListOut(total=len(found), offset=offset, limit=limit, items=[
        TrialSummary(id=e.id, title=e.title, status=e.status, phases=e.phases, conditions=e.conditions,
                     interventions=e.interventions, countries=e.countries) for e in page])


@router.get("/trials/{trial_id}", response_model=TrialDetailOut,
            summary="A trial with its compiled criteria, results and their statistics check")
def get_trial(trial_id: TrialId, user: UserDep, state: StateDep) -> TrialDetailOut:
    trial = state.store.get_trial(trial_id)
    if trial is None:
        raise HTTPException(404, f"no trial {trial_id!r} in the store")
    compiled = state.store.get_compiled(trial_id)
    return TrialDetailOut(trial=trial, compiled=compiled, results=trial.results,
                          results_checks=services.results_checks(trial))


# ----------------------------------------------------------------------------- patients
FormatQ = Annotated[Literal["json", "fhir", "text"] | None,
                    Query(description="json, fhir or text (default: from the content type / content)")]


async def _read_patient_request(request: Request, fmt: str | None, patient_id: str | None):
    data, name, ctype = await _body(request)
    fmt = fmt or services.sniff_patient_format(data, ctype)
    patient = services.read_patient(data, fmt, name)
    if patient_id is not None:
        patient = patient.model_copy(update={"id": patient_id})
    elif fmt != "json" and patient.id == PurePath(name).stem:
        # a note or bundle that states no id gets a fresh one: never the upload's name, which
        # would merge two people posted the same way into one record
        patient = patient.model_copy(update={"id": "p-" + secrets.token_hex(4)})
    if not _ID_RE.match(patient.id or ""):
        raise InputError(f"patient id {patient.id!r} is not usable: use 1-128 letters, digits, '.', '_' or '-'"
                         " (set it in the document or with ?id=)", 422, field="id")
    services.check_patient(patient)
    return patient


def _patient_out(state: AppState, user: User, patient_id: str) -> PatientOut:
    rec = _record_or_404(state, user, patient_id)
    created = rec.created_at
    if created is not None and created.tzinfo is None:  # SQLite hands back naive UTC times
        created = created.replace(tzinfo=dt.timezone.utc)
    return PatientOut(id=rec.patient.id, workspace=rec.workspace, version=rec.version,
                      created_at=created, warnings=rec.patient.warnings, patient=rec.patient)


@router.post("/patients", status_code=201, response_model=PatientOut, openapi_extra=_PATIENT_BODY,
             summary="Create (or add a version of) a patient from JSON, a FHIR Bundle or a summary")
async def create_patient(request: Request, user: UserDep, state: StateDep, format: FormatQ = None,  # noqa: A002
                         patient_id: Annotated[str | None, Query(alias="id", pattern=ID_PATTERN)] = None,
                         ) -> PatientOut:
    patient = await _read_patient_request(request, format, patient_id)
    state.store.save_patient(patient, user.workspace)  # only after a full, successful read
    return _saved(state, user, patient.id)


def _saved(state: AppState, user: User, patient_id: str) -> PatientOut:
    """The saved patient's answer; its ranking starts in the background (its matches are ready,
    or under way, when they are asked for)."""
    out = _patient_out(state, user, patient_id)
    if state.settings.match_cache:
        services.rank_in_background(state.store, state.caches, user.workspace,
                                    state.store.get_patient_record(patient_id, user.workspace))
    return out


@router.get("/patients", response_model=PatientListOut, summary="The patients of your workspace")
def list_patients(user: UserDep, state: StateDep) -> PatientListOut:
    return PatientListOut(items=[PatientItem(id=i) for i in state.store.list_patients(user.workspace)])


@router.get("/patients/{patient_id}", response_model=PatientOut)
def get_patient(patient_id: PatientId, user: UserDep, state: StateDep) -> PatientOut:
    return _patient_out(state, user, patient_id)


@router.put("/patients/{patient_id}", response_model=PatientOut, openapi_extra=_PATIENT_BODY,
            summary="Replace a patient (a new version; the id in the path wins)")
async def put_patient(patient_id: PatientId, request: Request, user: UserDep, state: StateDep,
                      format: FormatQ = None) -> PatientOut:  # noqa: A002
    _record_or_404(state, user, patient_id)
    patient = await _read_patient_request(request, format, patient_id)
    state.store.save_patient(patient, user.workspace)
    return _saved(state, user, patient_id)


@router.delete("/patients/{patient_id}", status_code=204, response_class=Response)
def delete_patient(patient_id: PatientId, user: UserDep, state: StateDep) -> Response:
    if not state.store.delete_patient(patient_id, user.workspace):
        raise HTTPException(404, f"no patient {patient_id!r} in your workspace")
    services.forget_patient(state.caches, user.workspace, patient_id)
    return Response(status_code=204)


def do_match(state: AppState, user: User, patient_id: str, req: MatchRequest | None = None,
             as_json: bool = False, version: int | None = None, fp: tuple | None = None):
    """The patient's MatchReport (or its JSON bytes) and how its ranking was found (see
    :func:`services.cached_match`). ``version`` and ``fp``: the patient version and trial
    fingerprint the caller just read; with them, the JSON answer of a ranking that is ready
    comes without reading the record."""
    req = req or MatchRequest()
    store, caches = state.store, state.caches
    rec = _record_or_404(state, user, patient_id) if version is None else None
    fp = fp or services.trial_fingerprint(store)
    if req.trial_ids:
        unknown = services.unknown_trial_ids(store, caches, req.trial_ids, fp)
        if unknown:
            raise InputError(f"unknown trial id(s): {', '.join(unknown[:10])}", 422, field="trial_ids")
    if as_json and version is not None and state.settings.match_cache:
        ranking = services.ready_ranking(caches, user.workspace, patient_id, version, fp)
        if ranking is not None:
            return services.ranking_json(caches, ranking, user.workspace, patient_id, version, fp,
                                         trial_ids=req.trial_ids, status=req.status, top=req.top), "hit"
    rec = rec or _record_or_404(state, user, patient_id)
    return services.cached_match(store, caches, user.workspace, rec,
                                 trial_ids=req.trial_ids, status=req.status, top=req.top,
                                 use_cache=state.settings.match_cache, as_json=as_json, fp=fp)


@router.post("/patients/{patient_id}/match", response_model=MatchOut,
             summary="Match a patient against the stored trials (the JSON of `trialmatch match --format json`)")
async def match(patient_id: PatientId, user: UserDep, state: StateDep, req: MatchRequest | None = None) -> Response:
    # MatchReport.to_output_json(), the JSON of `trialmatch match --format json`, serialised once and
    # cached with the report. A repeat request for an unchanged patient and unchanged trials is
    # answered here on the event loop; anything else runs in the thread pool.
    req = req or MatchRequest()
    version = fp = None
    if state.settings.match_cache:
        version = services.patient_version(state.store, user.workspace, patient_id)
        if version is None:
            raise HTTPException(404, f"no patient {patient_id!r} in your workspace")
        fp = services.trial_fingerprint(state.store)
        body = services.peek_match_json(state.store, state.caches, user.workspace, patient_id, version,
                                        trial_ids=req.trial_ids, status=req.status, top=req.top, fp=fp)
        if body is not None:
            return Response(body, media_type="application/json", headers={"X-Trialmatch-Cache": "hit"})
    body, how = await run_in_threadpool(do_match, state, user, patient_id, req, True, version, fp)
    return Response(body, media_type="application/json", headers={"X-Trialmatch-Cache": how})


@router.get("/patients/{patient_id}/matches.csv", response_class=Response,
            responses={**_JSON_ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="A patient's matches as CSV")
def matches_csv(patient_id: PatientId, user: UserDep, state: StateDep) -> Response:
    report, _ = do_match(state, user, patient_id)
    return Response(render.report_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{patient_id}-matches.csv"'})


@router.get("/patients/{patient_id}/checklist", response_class=HTMLResponse,
            responses={**_JSON_ERRORS, 200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
            summary="A printable screening checklist (HTML)")
def checklist(patient_id: PatientId, request: Request, user: UserDep, state: StateDep) -> HTMLResponse:
    return HTMLResponse(checklist_for(state, user, patient_id, request, None, standalone=True))


def checklist_for(state: AppState, user: User, patient_id: str, request: Request | None,
                  trial_ids: list[str] | None, standalone: bool) -> str:
    """The printable checklist: the chosen trials, else the 50 best-ranked open ones (or the 50
    best when none is open)."""
    rec = _record_or_404(state, user, patient_id)
    use_cache = state.settings.match_cache
    if trial_ids:
        report, _, _ = services.ranked_view(state.store, state.caches, user.workspace, rec,
                                            trial_ids=trial_ids, use_cache=use_cache)
        total = None
    else:
        report, _, counts = services.ranked_view(state.store, state.caches, user.workspace, rec,
                                                 include_closed=False, top=50, use_cache=use_cache)
        if not report.results:
            report, _, counts = services.ranked_view(state.store, state.caches, user.workspace, rec, top=50,
                                                     use_cache=use_cache)
        total = sum(counts.values())
    return render.checklist_html(request, report, trial_ids=trial_ids, standalone=standalone, total=total)


@router.get("/changes", response_model=ChangesOut, summary="What changed for your workspace's patients")
def changes(user: UserDep, state: StateDep) -> ChangesOut:
    found = services.latest_changes(state.store, user.workspace)
    if found is None:
        return ChangesOut(available=False, changes=[])
    return ChangesOut(available=True, changes=found)
