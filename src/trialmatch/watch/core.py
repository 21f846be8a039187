"""``trialmatch watch``: re-match the stored patients and report what changed.

Each run screens every (workspace, patient, trial) pair with the batch screening of
:mod:`trialmatch.screening` (one code path for matching: its partitions, patient block x trial
block, each keyed on its patients' records, its trials' current versions, the compiler version
and the ``as_of`` date). The screening results are kept in a folder (``screen_out``; by default
beside a SQLite store file), so a run after a sync or an ingest re-screens only the partitions
whose inputs changed, i.e. those holding a changed patient or a trial with a new version, and
reuses the others. It then compares the pairs of the partitions not yet compared with their last
snapshot (``match_snapshots``), records the changes (``watch_changes``) and the new snapshots in
one transaction, and optionally POSTs the report to a webhook. (Another ``as_of`` date changes
every key: age and recency windows move with it.)

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
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
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
    #: the screening behind the run: partitions planned / screened now / reused, pairs screened
    #: now, pairs compared with their snapshots, the results folder (None: a temporary one)
    screen: dict[str, Any] | None = None

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


#: the file (in the screening results folder) naming the partitions whose pairs the snapshots hold
DIFFED_FILE = "_watch.json"


def watch_screen_out(store: TrialStore, screen_out: Path | str | None, workspace: str | None) -> Path | None:
    """The screening results folder of a watch run: ``screen_out/<workspace or all>.parquet``;
    without ``screen_out`` the folder ``<store file>.watch`` beside a SQLite store file, else None
    (a temporary folder: every run then screens every pair)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", workspace) if workspace else "_all"
    if screen_out is None:
        from sqlalchemy.engine import make_url

        url = make_url(store.url)
        db = url.database
        if not url.drivername.startswith("sqlite") or not db or db == ":memory:" or db.startswith("file:"):
            return None
        screen_out = Path(db + ".watch")
    return Path(screen_out) / f"{name}.parquet"


def _read_diffed(parts: Path) -> tuple[int | None, dict[str, str]]:
    try:
        data = json.loads((parts / DIFFED_FILE).read_text("utf-8"))
        return int(data["run_id"]), dict(data["diffed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def _write_diffed(parts: Path, run_id: int, diffed: dict[str, str]) -> None:
    from trialmatch.screening.output import atomic_write_bytes

    atomic_write_bytes(parts / DIFFED_FILE, json.dumps({"run_id": run_id, "diffed": diffed}).encode("utf-8"))


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
    screen_out: Path | str | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    client=None,
    patient_block: int | None = None,
    trial_block: int | None = None,
) -> WatchReport:
    """Re-screen the stored patients against the current trials where inputs changed, and record what changed.

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
        ``(patient, [(trial, compiled)], as_of) -> [TrialMatch]``, a module-level function;
        default :func:`trialmatch.matching.match_patient` (what :func:`default_matcher` calls).
    compiler_version : str, optional
        Which compiled criteria to use (default: the current compiler's).
    compile : bool
        Compile the criteria of trials that lack them first (``ensure_compiled``).
    screen_out : path, optional
        Keep the screening results under this folder (see :func:`watch_screen_out`).
    workers : int
        0 (default): screen in this process; N: on an embedded Dask LocalCluster of N worker
        processes (the store must then be a file or a server).
    scheduler : str, optional
        Screen on this Dask cluster (``tcp://host:8786``; the results folder must be shared).
    client : distributed.Client, optional
        Screen with this Dask client (left open).
    patient_block, trial_block : int, optional
        Partition sizes of a new results folder (see :func:`trialmatch.screening.run_screen`).

    Returns
    -------
    WatchReport
        The changes, in (workspace, patient, trial) order. The first run for a workspace
        records a baseline and reports every pair as ``new``; a run after which nothing changed
        reports no changes. A partition that cannot be screened is listed in ``errors`` (with
        its patients) and the last snapshots of its patients are kept.
    """
    from trialmatch.screening import run as screen_run
    from trialmatch.screening.output import OutputPaths, read_partition_rows

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
    workspaces = [workspace] if workspace else store.list_workspaces()
    items = []
    owner: dict[str, tuple[str, str, int | None]] = {}  # patient key -> (workspace, patient id, version)
    for ws in workspaces:
        for item in screen_run.stored_patients(store, ws):
            items.append(item)
            owner[item.key] = (ws, item.patient_id, item.version)
    by_source = {item.source: item.key for item in items}
    trial_ids = {t.trial_id for t in screen_run.trial_refs(store, compiler_version)}
    previous = _load_snapshots(store, workspaces)
    baseline = not previous

    out = watch_screen_out(store, screen_out, workspace)
    tmp = tempfile.TemporaryDirectory(prefix="trialmatch-watch-") if out is None else None
    try:
        out = out or Path(tmp.name) / "watch.parquet"
        result = screen_run.run_screen(
            store, items, out, as_of=as_of, workers=workers, scheduler=scheduler, client=client,
            patient_block=patient_block or screen_run.DEFAULT_PATIENT_BLOCK,
            trial_block=trial_block or screen_run.DEFAULT_TRIAL_BLOCK, compiler_version=compiler_version,
            matcher=matcher)
        plan = result.plan
        failed = dict(result.failed)
        failed_patients: set[tuple[str, str]] = set()
        for part in plan.partitions:
            if part.name in failed:
                who = ", ".join(f"{owner[i.key][0]!r}/{owner[i.key][1]!r}" for i in part.patients)
                errors.append(f"partition {part.name} (workspace/patient {who}): could not match ({failed[part.name]})")
                failed_patients.update((owner[i.key][0], owner[i.key][1]) for i in part.patients)
        paths = OutputPaths.for_out(out)
        last_run, diffed = _read_diffed(paths.parts)
        with store.engine.connect() as conn:
            latest = conn.execute(select(watch_runs.c.id).order_by(watch_runs.c.id.desc()).limit(1)).scalar()
        if last_run is None or last_run != latest:
            diffed = {}  # another run changed the snapshots since: compare every pair again
        compare = [p for p in plan.partitions if p.name not in failed and diffed.get(p.name) != p.key]

        changes: list[Change] = []
        new_rows: dict[tuple[str, str, str], dict] = {}
        seen: set[tuple[str, str, str]] = set()
        for part in plan.partitions:
            if part.name in failed:
                continue
            for item in part.patients:
                ws, pid, _v = owner[item.key]
                seen.update((ws, pid, t.trial_id) for t in part.trials)
        compared = 0
        columns = ["patient_source", "trial_id", "trial_version", "verdict", "missing_facts", "missing_text", "steps"]
        for part in compare:
            for row in read_partition_rows(paths, part.name, columns):
                ws, pid, pv = owner[by_source[row["patient_source"]]]
                tid, tv = row["trial_id"], row["trial_version"]
                key = (ws, pid, tid)
                now = {
                    "verdict": row["verdict"],
                    "steps": [{"number": st["number"], "name": st["name"], "verdict": st["verdict"],
                               "reason": st["reason"]} for st in row["steps"] or []],
                    "missing": sorted(({"fact": f, "description": d}
                                       for f, d in zip(row["missing_facts"], row["missing_text"])),
                                      key=lambda m: m["fact"]),
                }
                compared += 1
                prev = previous.get(key)
                changes.extend(_diff(ws, pid, tid, prev, now, pv, tv))
                if prev is None or prev["verdict"] != now["verdict"] or prev["missing"] != now["missing"] \
                        or _step_verdicts(prev["steps"]) != _step_verdicts(now["steps"]) \
                        or prev["patient_version"] != pv or prev["trial_version"] != tv:
                    new_rows[key] = {**now, "patient_version": pv, "trial_version": tv}
        removed: list[tuple[str, str, str]] = []
        present = {(o[0], o[1]) for o in owner.values()}
        for key, prev in sorted(previous.items()):
            if key in seen or (key[0], key[1]) in failed_patients:
                continue
            ws, pid, tid = key
            why = "trial no longer in the store" if tid not in trial_ids else "patient no longer in the workspace"
            if tid in trial_ids and (ws, pid) in present:
                why = "no longer evaluated"
            removed.append(key)
            changes.append(Change(workspace=ws, patient_id=pid, trial_id=tid, change="removed",
                                  before=prev["verdict"], detail=why, patient_version=prev["patient_version"],
                                  trial_version=prev["trial_version"]))
        changes.sort(key=lambda c: (c.workspace, c.patient_id, c.trial_id))
        finished = dt.datetime.now(dt.timezone.utc)
        with store.transaction() as conn:
            run_id = conn.execute(watch_runs.insert().values(
                started_at=started, finished_at=finished, as_of=as_of, store_revision=revision,
                compiler_version=compiler_version, workspaces=json.dumps(workspaces), baseline=baseline,
                patients=len(items), trials=result.trials, changes=len(changes), errors=json.dumps(errors),
            )).inserted_primary_key[0]
            t = match_snapshots
            for (ws, pid, tid), row in new_rows.items():
                conn.execute(t.delete().where(t.c.workspace == ws, t.c.patient_id == pid, t.c.trial_id == tid))
                conn.execute(t.insert().values(
                    workspace=ws, patient_id=pid, trial_id=tid, verdict=row["verdict"],
                    steps=json.dumps(row["steps"]), missing=json.dumps(row["missing"]),
                    patient_version=row["patient_version"], trial_version=row["trial_version"],
                    store_revision=revision, run_id=run_id, as_of=as_of, updated_at=finished))
            for ws, pid, tid in removed:
                conn.execute(t.delete().where(t.c.workspace == ws, t.c.patient_id == pid, t.c.trial_id == tid))
            if changes:
                conn.execute(watch_changes.insert(), [dict(
                    run_id=run_id, workspace=c.workspace, patient_id=c.patient_id, trial_id=c.trial_id,
                    change=c.change, before=c.before, after=c.after, step=c.step, fact=c.fact, detail=c.detail,
                    patient_version=c.patient_version, trial_version=c.trial_version, created_at=finished,
                ) for c in changes])
        if tmp is None:  # after the commit: the snapshots now hold every pair of these partitions
            _write_diffed(paths.parts, run_id, {p.name: p.key for p in plan.partitions if p.name not in failed})
    finally:
        if tmp is not None:
            tmp.cleanup()
    for c in changes:
        c.run_id, c.created_at = run_id, finished
    screen = {"out": str(result.out) if tmp is None else None, "partitions": result.partitions,
              "ran": result.ran, "reused": result.skipped, "failed": len(result.failed),
              "pairs_screened": result.pairs_run, "pairs_compared": compared, "workers": result.workers,
              "seconds": round(result.seconds, 3)}
    report = WatchReport(run_id=run_id, started_at=started, finished_at=finished, as_of=as_of, baseline=baseline,
                         store_revision=revision, compiler_version=compiler_version, workspaces=workspaces,
                         patients=len(items), trials=result.trials, pairs=len(seen), changes=changes,
                         errors=errors, screen=screen)
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
