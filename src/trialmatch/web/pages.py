"""Server-rendered pages: sign-in, intake, results, trial, checklist, changes."""

from __future__ import annotations

import logging
import secrets
import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trialmatch.web import auth_store, forms, render, services
from trialmatch.web.api import checklist_for, filter_trials
from trialmatch.web.auth_store import User
from trialmatch.web.deps import AppState, app_state, page_user
from trialmatch.web.schemas import ID_PATTERN
from trialmatch.web.security import CSRF_FIELD, csrf_ok, csrf_token
from trialmatch.web.services import InputError

log = logging.getLogger("trialmatch.web")
router = APIRouter(include_in_schema=False)
UserDep = Annotated[User, Depends(page_user)]
StateDep = Annotated[AppState, Depends(app_state)]


def _page(request: Request, name: str, status_code: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(render.render(request, name, **ctx), status_code=status_code)


async def _form_checked(request: Request) -> dict:
    """The submitted form, after the CSRF check (403 when it fails)."""
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001
        raise HTTPException(400, "the form could not be read") from None
    if not csrf_ok(request.session, form.get(CSRF_FIELD)):
        raise HTTPException(403, "the form has expired or did not come from this site: reload the page and try again")
    return form


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"


# ----------------------------------------------------------------------------- sign-in
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
    return _page(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, state: StateDep):
    form = await _form_checked(request)
    user = auth_store.authenticate(state.store, str(form.get("username", "")), str(form.get("password", "")))
    nxt = _safe_next(str(form.get("next", "/")))
    if user is None:
        return _page(request, "login.html", 401, next=nxt, error="Wrong user name or password.")
    request.session.clear()  # a fresh session on sign-in
    request.session["uid"] = user.id
    csrf_token(request.session)
    log.info("user %s signed in", user.id)
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
async def logout(request: Request):
    await _form_checked(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# ----------------------------------------------------------------------------- home and intake
@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: UserDep, state: StateDep) -> HTMLResponse:
    return _page(request, "home.html", user=user, patients=state.store.list_patients(user.workspace),
                 n_trials=state.store.count_trials())


def _intake(request: Request, user: User, status_code: int = 200, error: str | None = None,
            error_field: str | None = None, values: dict | None = None, read_report=None) -> HTMLResponse:
    return _page(request, "intake.html", status_code, user=user, error=error, error_field=error_field,
                 v=values or {}, labs=forms.LABS, met_sites=forms.MET_SITES, genes=forms.GENES,
                 settings=forms.SETTINGS, rows=range(forms.THERAPY_ROWS), read_report=read_report)


@router.get("/patients/new", response_class=HTMLResponse)
def intake_page(request: Request, user: UserDep) -> HTMLResponse:
    return _intake(request, user)


@router.post("/patients/new")
async def intake_submit(request: Request, user: UserDep, state: StateDep):
    form = await _form_checked(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    mode = values.get("mode", "form")
    if mode == "summary" and values.get("action") == "read":
        # "Show what is read": the report of `trialmatch patient show`, nothing saved
        try:
            report = services.read_summary_report(values.get("summary", "").strip())
        except InputError as exc:
            return _intake(request, user, exc.status_code if 400 <= exc.status_code < 500 else 422,
                           exc.message, exc.field, values)
        return _intake(request, user, values=values, read_report=report)
    try:
        if mode == "summary":
            text = values.get("summary", "").strip()
            if not text:
                raise InputError("paste a clinical summary first", field="summary")
            patient = services.read_patient(text.encode("utf-8"), "text", "summary")
        elif mode == "fhir":
            upload = form.get("fhir_file")
            data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
            if not data:
                raise InputError("choose a FHIR bundle file (.json) to upload", field="fhir_file")
            patient = services.read_patient(data, "fhir", getattr(upload, "filename", None) or "bundle.json")
        else:
            patient = forms.patient_from_form(values)
        if mode != "form":  # a summary or bundle gets the id given, else a fresh one (never the file's stem)
            patient = patient.model_copy(update={"id": values.get("patient_id") or "p-" + secrets.token_hex(4)})
        if not re.match(ID_PATTERN, patient.id):
            raise InputError(f"the patient id {patient.id!r} is not usable (letters, digits, . _ -)", field="patient_id")
        services.check_patient(patient)
    except forms.FormError as exc:
        return _intake(request, user, 422, exc.message, exc.field, values)
    except InputError as exc:
        return _intake(request, user, exc.status_code if 400 <= exc.status_code < 500 else 422,
                       exc.message, exc.field, values)
    state.store.save_patient(patient, user.workspace)
    if state.settings.match_cache:
        services.rank_in_background(state.store, state.caches, user.workspace,
                                    state.store.get_patient_record(patient.id, user.workspace))
    return RedirectResponse(f"/patients/{patient.id}/results", status_code=303)


def _patient_or_404(state: AppState, user: User, pid: str):
    rec = state.store.get_patient_record(pid, user.workspace)
    if rec is None:
        raise HTTPException(404, "no such patient in your workspace")
    return rec


@router.get("/patients/{pid}", response_class=HTMLResponse)
def patient_page(pid: str, user: UserDep, state: StateDep):
    _patient_or_404(state, user, pid)
    return RedirectResponse(f"/patients/{pid}/results", status_code=303)


@router.post("/patients/{pid}/delete")
async def patient_delete(pid: str, request: Request, user: UserDep, state: StateDep):
    await _form_checked(request)
    if not state.store.delete_patient(pid, user.workspace):
        raise HTTPException(404, "no such patient in your workspace")
    services.forget_patient(state.caches, user.workspace, pid)
    return RedirectResponse("/", status_code=303)


# ----------------------------------------------------------------------------- results
@router.get("/patients/{pid}/results", response_class=HTMLResponse)
def results_page(pid: str, request: Request, user: UserDep, state: StateDep,
                 status: Annotated[str | None, Query(max_length=40)] = None,
                 phase: Annotated[str | None, Query(max_length=20)] = None,
                 country: Annotated[str | None, Query(max_length=100)] = None,
                 verdict: Annotated[str | None, Query(max_length=20)] = None,
                 hide_closed: Annotated[str | None, Query(max_length=5)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> HTMLResponse:
    rec = _patient_or_404(state, user, pid)
    index = {e.id: e for e in services.trial_index(state.store, state.caches)}
    allowed = None
    if phase or country:
        allowed = [e.id for e in filter_trials(state, phase=[phase] if phase else None, country=country)]
    if verdict and verdict not in ("eligible", "uncertain", "ineligible"):
        verdict = None  # an unknown verdict filter shows every verdict (the form offers only these)
    use_cache = state.settings.match_cache
    try:
        if allowed == []:
            raise InputError("no trial has this phase and country")
        report, total_shown, counts = services.ranked_view(
            state.store, state.caches, user.workspace, rec, statuses=[status] if status else None,
            verdicts=[verdict] if verdict else None, include_closed=not hide_closed, trial_ids=allowed, top=limit,
            use_cache=use_cache)
    except InputError:  # an unknown status, or a phase/country no trial has: nothing to show
        report, _, counts = services.ranked_view(state.store, state.caches, user.workspace, rec, top=0,
                                                 use_cache=use_cache)
        total_shown = 0
    shown = report.results
    statuses = sorted({e.status for e in index.values() if e.status})
    phases = sorted({p for e in index.values() for p in e.phases})
    return _page(request, "results.html", user=user, rec=rec, report=report, shown=shown,
                 total_shown=total_shown, counts=counts, index=index, statuses=statuses, phases=phases,
                 f={"status": status or "", "phase": phase or "", "country": country or "",
                    "verdict": verdict or "", "hide_closed": bool(hide_closed)}, limit=limit)


@router.get("/patients/{pid}/trials/{tid}", response_class=HTMLResponse)
def patient_trial_page(pid: str, tid: str, request: Request, user: UserDep, state: StateDep) -> HTMLResponse:
    rec = _patient_or_404(state, user, pid)
    trial = state.store.get_trial(tid)
    if trial is None:
        raise HTTPException(404, "no such trial in the store")
    report, _, _ = services.ranked_view(state.store, state.caches, user.workspace, rec, trial_ids=[tid],
                                     use_cache=state.settings.match_cache)
    tm = next((r for r in report.results if r.trial_id == tid), None)
    return _page(request, "trial.html", user=user, rec=rec, trial=trial, tm=tm,
                 compiled=state.store.get_compiled(tid), checks=services.results_checks(trial))


@router.get("/trials/{tid}", response_class=HTMLResponse)
def trial_page(tid: str, request: Request, user: UserDep, state: StateDep) -> HTMLResponse:
    trial = state.store.get_trial(tid)
    if trial is None:
        raise HTTPException(404, "no such trial in the store")
    return _page(request, "trial.html", user=user, rec=None, trial=trial, tm=None,
                 compiled=state.store.get_compiled(tid), checks=services.results_checks(trial))


@router.get("/trials", response_class=HTMLResponse)
def trials_page(request: Request, user: UserDep, state: StateDep,
                q: Annotated[str | None, Query(max_length=200)] = None,
                status: Annotated[str | None, Query(max_length=40)] = None,
                phase: Annotated[str | None, Query(max_length=20)] = None,
                country: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    found = filter_trials(state, q=q, status=[status] if status else None, phase=[phase] if phase else None,
                          country=country)
    return _page(request, "trials.html", user=user, found=found[:200], total=len(found),
                 f={"q": q or "", "status": status or "", "phase": phase or "", "country": country or ""})


@router.get("/patients/{pid}/checklist", response_class=HTMLResponse)
def checklist_page(pid: str, request: Request, user: UserDep, state: StateDep,
                   trial: Annotated[list[str] | None, Query(max_length=50)] = None,
                   download: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    _patient_or_404(state, user, pid)
    html = checklist_for(state, user, pid, request, trial, standalone=bool(download))
    headers = {"Content-Disposition": f'attachment; filename="{pid}-checklist.html"'} if download else {}
    return HTMLResponse(html, headers=headers)


@router.get("/changes", response_class=HTMLResponse)
def changes_page(request: Request, user: UserDep, state: StateDep) -> HTMLResponse:
    changes = services.latest_changes(state.store, user.workspace)
    return _page(request, "changes.html", user=user, changes=changes)
