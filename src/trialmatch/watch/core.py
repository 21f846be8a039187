"""``trialmatch watch``: re-match the stored patients and report what changed.

Each run evaluates every (workspace, patient, trial) pair against the current trials, compares
it with the pair's last snapshot (``match_snapshots``), records the changes (``watch_changes``)
and the new snapshots in one transaction, and optionally POSTs the report to a webhook.

Change kinds
------------
``new``                 the pair had no snapshot (first run: the baseline; or a new trial/patient)
``newly_eligible``      verdict became eligible
``no_longer_eligible``  verdict was eligible and is not any more
``verdict_changed``     uncertain <-> ineligible
``step_opened``         a protocol step's verdict became eligible (one record per step)
``missing_fact_known``  a fact the last snapshot listed as missing is no longer missing
                        (one record per fact)
``removed``             the trial left the store (a deleted patient is erased with her
                        snapshots and changes, so nothing is reported about her)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from trialmatch.matching.model import TrialMatch
from trialmatch.patients.asof import patient_as_of
from trialmatch.patients.model import Patient
from trialmatch.store import schema as store_schema
from trialmatch.store.store import TrialStore
from trialmatch.watch.tables import create_tables, match_snapshots, watch_changes, watch_runs
from trialmatch.watch.webhook import WebhookResult, post_webhook

ChangeKind = Literal[
    "new", "newly_eligible", "no_longer_eligible", "verdict_changed", "step_opened", "missing_fact_known", "removed",
]

#: a matcher: (patient, [(trial, compiled), ...], as_of) -> one TrialMatch per trial
Matcher = Callable[[Patient, list, dt.date], Iterable[TrialMatch]]


class Change(BaseModel):
    """One change of one (patient, trial) pair between two watch runs."""

    model_config = ConfigDict(extra="forbid")
    run_id: int | None = None
    workspace: str
    patient_id: str
    trial_id: str
    change: ChangeKind
    before: str | None = None  # verdict before (None for "new")
    after: str | None = None  # verdict now (None for "removed")
    step: int | None = None
    fact: str | None = None
    detail: str
    patient_version: int | None = None
    trial_version: int | None = None
    created_at: dt.datetime | None = None

    def key(self) -> tuple:
        """What identifies the change regardless of the run (for comparisons in tests and UIs)."""
        return (self.workspace, self.patient_id, self.trial_id, self.change, self.before, self.after,
                self.step, self.fact)


class WatchReport(BaseModel):
    """The result of one watch run."""

    model_config = ConfigDict(extra="forbid")
    run_id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    as_of: dt.date
    baseline: bool  # no snapshot existed for the watched workspaces before this run
    store_revision: int  # the store's revision the run read
    compiler_version: str | None = None
    workspaces: list[str] = Field(default_factory=list)
    patients: int = 0
    trials: int = 0
    pairs: int = 0
    changes: list[Change] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    webhook: WebhookResult | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.change] = out.get(c.change, 0) + 1
        return out

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["counts"] = self.counts()
        return data


# ----------------------------------------------------------------------------- matching
def default_matcher(patient: Patient, pairs: list, as_of: dt.date) -> list[TrialMatch]:
    """Match with :func:`trialmatch.matching.match_patient` over every given trial (no top-N, no
    status filter), the patient taken as of ``as_of``."""
    from trialmatch.matching import match_patient

    report = match_patient(patient, pairs, as_of=as_of)
    return list(getattr(report, "results", report))


def _state(tm: TrialMatch) -> dict[str, Any]:
    return {
        "verdict": tm.verdict,
        "steps": [{"number": s.number, "name": s.name, "verdict": s.verdict, "reason": s.reason} for s in tm.steps],
        "missing": sorted(({"fact": m.fact, "description": m.description} for m in tm.missing),
                          key=lambda m: m["fact"]),
    }


def _step_verdicts(steps: list[dict]) -> list[tuple]:
    return [(s["number"], s["verdict"]) for s in steps]


def _diff(ws: str, pid: str, tid: str, prev: dict | None, now: dict, pv: int | None, tv: int | None) -> list[Change]:
    base = dict(workspace=ws, patient_id=pid, trial_id=tid, patient_version=pv, trial_version=tv)
    if prev is None:
        opened = [s for s in now["steps"] if s["verdict"] == "eligible"]
        extra = f"; qualifies for step {max(s['number'] for s in opened)}" if opened else ""
        n_missing = len(now["missing"])
        miss = f"; {n_missing} missing fact(s)" if n_missing else ""
        return [Change(**base, change="new", after=now["verdict"], detail=f"first evaluation: {now['verdict']}{extra}{miss}")]
    out: list[Change] = []
    b, a = prev["verdict"], now["verdict"]
    if a != b:
        kind = "newly_eligible" if a == "eligible" else "no_longer_eligible" if b == "eligible" else "verdict_changed"
        out.append(Change(**base, change=kind, before=b, after=a, detail=f"verdict {b} -> {a}"))
    before_steps = {s["number"]: s for s in prev["steps"]}
    for s in now["steps"]:
        old = before_steps.get(s["number"])
        if s["verdict"] == "eligible" and (old is None or old["verdict"] != "eligible"):
            out.append(Change(**base, change="step_opened", before=b, after=a, step=s["number"],
                              detail=f"step {s['number']} ({s['name']}): {old['verdict'] if old else 'not evaluated'} "
                                     f"-> eligible" + (f": {s['reason']}" if s.get("reason") else "")))
    now_missing = {m["fact"] for m in now["missing"]}
    for m in prev["missing"]:
        if m["fact"] not in now_missing:
            out.append(Change(**base, change="missing_fact_known", before=b, after=a, fact=m["fact"],
                              detail=f"{m['description']} is now known"))
    return out


# ----------------------------------------------------------------------------- the run
def _trial_versions(store: TrialStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(store_schema.trials.c.id, store_schema.trials.c.current_version))}


def _load_snapshots(store: TrialStore, workspaces: list[str]) -> dict[tuple[str, str, str], dict]:
    t = match_snapshots
    out: dict[tuple[str, str, str], dict] = {}
    if not workspaces:
        return out
    with store.engine.connect() as conn:
        for r in conn.execute(select(t).where(t.c.workspace.in_(workspaces))).mappings():
            out[(r["workspace"], r["patient_id"], r["trial_id"])] = {
                "verdict": r["verdict"], "steps": json.loads(r["steps"]), "missing": json.loads(r["missing"]),
                "patient_version": r["patient_version"], "trial_version": r["trial_version"],
            }
    return out


def _compiler_version() -> str:
    try:
        from trialmatch.criteria import COMPILER_VERSION
    except ImportError:  # the package face may not re-export it
        from trialmatch.criteria.compile import COMPILER_VERSION
    return COMPILER_VERSION


def run_watch(
    store: TrialStore,
    workspace: str | None = None,
    as_of: dt.date | None = None,
    webhook: str | None = None,
    *,
    matcher: Matcher | None = None,
    compiler_version: str | None = None,
    compile: bool = True,
    webhook_retries: int = 3,
    webhook_backoff: float = 0.5,
    webhook_timeout: float = 10.0,
) -> WatchReport:
    """Re-match the stored patients against the current trials and record what changed.

    Parameters
    ----------
    store : TrialStore
    workspace : str, optional
        Watch one workspace (default: every workspace with patients).
    as_of : datetime.date, optional
        Evaluate as of this day (default today): facts dated later are ignored
        (:func:`trialmatch.patients.asof.patient_as_of`).
    webhook : str, optional
        POST the report (JSON, ``WatchReport.to_json_dict``) here when the run found changes.
        A failed delivery is reported in ``WatchReport.webhook``; it never raises.
    matcher : callable, optional
        ``(patient, [(trial, compiled)], as_of) -> [TrialMatch]``; default
        :func:`default_matcher`.
    compiler_version : str, optional
        Which compiled criteria to use (default: the current compiler's).
    compile : bool
        Compile the criteria of trials that lack them first (``ensure_compiled``).

    Returns
    -------
    WatchReport
        The changes, in (workspace, patient, trial) order. The first run for a workspace
        records a baseline and reports every pair as ``new``; a run after which nothing changed
        reports no changes. A patient that cannot be matched is listed in ``errors`` and its
        last snapshots are kept.
    """
    create_tables(store.engine)
    started = dt.datetime.now(dt.timezone.utc)
    as_of = as_of or dt.date.today()
    errors: list[str] = []
    if compiler_version is None:
        compiler_version = _compiler_version()
    if compile:
        try:
            from trialmatch.store import ensure_compiled

            ensure_compiled(store)
        except Exception as exc:  # noqa: BLE001 - report, match what is compiled
            errors.append(f"could not compile criteria ({exc.__class__.__name__}: {exc})")
    revision = store.revision()
    pairs = store.load_for_matching(compiler_version)
    trial_ids = {t.id for t, _ in pairs}
    versions = _trial_versions(store)
    workspaces = [workspace] if workspace else store.list_workspaces()
    previous = _load_snapshots(store, workspaces)
    baseline = not previous
    matcher = matcher or default_matcher
    changes: list[Change] = []
    new_rows: dict[tuple[str, str, str], dict] = {}
    seen: set[tuple[str, str, str]] = set()
    failed_patients: set[tuple[str, str]] = set()
    n_patients = 0
    for ws in workspaces:
        for pid in store.list_patients(ws):
            rec = store.get_patient_record(pid, ws)
            if rec is None:
                continue
            n_patients += 1
            try:
                patient = patient_as_of(rec.patient, as_of)
                matches = list(matcher(patient, pairs, as_of))
            except Exception as exc:  # noqa: BLE001 - one patient must not stop the run
                errors.append(f"workspace {ws!r}, patient {pid!r}: could not match ({exc.__class__.__name__}: {exc})")
                failed_patients.add((ws, pid))
                continue
            for tm in sorted(matches, key=lambda m: m.trial_id):
                key = (ws, pid, tm.trial_id)
                seen.add(key)
                now = _state(tm)
                tv = versions.get(tm.trial_id)
                prev = previous.get(key)
                changes.extend(_diff(ws, pid, tm.trial_id, prev, now, rec.version, tv))
                if prev is None or prev["verdict"] != now["verdict"] or prev["missing"] != now["missing"] \
                        or _step_verdicts(prev["steps"]) != _step_verdicts(now["steps"]) \
                        or prev["patient_version"] != rec.version or prev["trial_version"] != tv:
                    new_rows[key] = {**now, "patient_version": rec.version, "trial_version": tv}
    removed: list[tuple[str, str, str]] = []
    for key, prev in sorted(previous.items()):
        if key in seen or (key[0], key[1]) in failed_patients:
            continue
        ws, pid, tid = key
        why = "trial no longer in the store" if tid not in trial_ids else "patient no longer in the workspace"
        if tid in trial_ids and store.get_patient_record(pid, ws) is not None:
            why = "no longer evaluated"
        removed.append(key)
        changes.append(Change(workspace=ws, patient_id=pid, trial_id=tid, change="removed", before=prev["verdict"],
                              detail=why, patient_version=prev["patient_version"], trial_version=prev["trial_version"]))
    changes.sort(key=lambda c: (c.workspace, c.patient_id, c.trial_id))
    finished = dt.datetime.now(dt.timezone.utc)
    with store.transaction() as conn:
        run_id = conn.execute(watch_runs.insert().values(
            started_at=started, finished_at=finished, as_of=as_of, store_revision=revision,
            compiler_version=compiler_version, workspaces=json.dumps(workspaces), baseline=baseline,
            patients=n_patients, trials=len(pairs), changes=len(changes), errors=json.dumps(errors),
        )).inserted_primary_key[0]
        t = match_snapshots
        for (ws, pid, tid), row in new_rows.items():
            conn.execute(t.delete().where(t.c.workspace == ws, t.c.patient_id == pid, t.c.trial_id == tid))
            conn.execute(t.insert().values(
                workspace=ws, patient_id=pid, trial_id=tid, verdict=row["verdict"], steps=json.dumps(row["steps"]),
                missing=json.dumps(row["missing"]), patient_version=row["patient_version"],
                trial_version=row["trial_version"], store_revision=revision, run_id=run_id, as_of=as_of,
                updated_at=finished))
        for ws, pid, tid in removed:
            conn.execute(t.delete().where(t.c.workspace == ws, t.c.patient_id == pid, t.c.trial_id == tid))
        if changes:
            conn.execute(watch_changes.insert(), [dict(
                run_id=run_id, workspace=c.workspace, patient_id=c.patient_id, trial_id=c.trial_id, change=c.change,
                before=c.before, after=c.after, step=c.step, fact=c.fact, detail=c.detail,
                patient_version=c.patient_version, trial_version=c.trial_version, created_at=finished,
            ) for c in changes])
    for c in changes:
        c.run_id, c.created_at = run_id, finished
    report = WatchReport(run_id=run_id, started_at=started, finished_at=finished, as_of=as_of, baseline=baseline,
                         store_revision=revision, compiler_version=compiler_version, workspaces=workspaces,
                         patients=n_patients, trials=len(pairs), pairs=len(seen), changes=changes, errors=errors)
    if webhook and changes:
        report.webhook = post_webhook(webhook, report.to_json_dict(), retries=webhook_retries,
                                      backoff=webhook_backoff, timeout=webhook_timeout)
        with store.engine.begin() as conn:
            conn.execute(watch_runs.update().where(watch_runs.c.id == run_id).values(
                webhook=report.webhook.model_dump_json()))
    return report


def latest_changes(store: TrialStore, workspace: str = "default", limit: int | None = None) -> list[Change]:
    """The changes found by the latest watch run that covered ``workspace``.

    Parameters
    ----------
    store : TrialStore
    workspace : str
        Only this workspace's changes are returned (a user sees only their workspace).
    limit : int, optional
        At most this many changes.

    Returns
    -------
    list of Change
        Empty when no run covered the workspace, or the latest run found nothing new.
    """
    create_tables(store.engine)
    with store.engine.connect() as conn:
        runs = conn.execute(select(watch_runs.c.id, watch_runs.c.workspaces).order_by(watch_runs.c.id.desc())).all()
        run_id = next((r[0] for r in runs if workspace in json.loads(r[1] or "[]")), None)
        if run_id is None:
            return []
        q = (select(watch_changes).where(watch_changes.c.run_id == run_id, watch_changes.c.workspace == workspace)
             .order_by(watch_changes.c.id))
        if limit is not None:
            q = q.limit(limit)
        rows = conn.execute(q).mappings().all()
    return [Change(run_id=r["run_id"], workspace=r["workspace"], patient_id=r["patient_id"], trial_id=r["trial_id"],
                   change=r["change"], before=r["before"], after=r["after"], step=r["step"], fact=r["fact"],
                   detail=r["detail"], patient_version=r["patient_version"], trial_version=r["trial_version"],
                   created_at=r["created_at"]) for r in rows]
