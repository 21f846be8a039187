"""Run a sync: page through ``/studies``, store what changed, checkpoint every page.

Each page is written in ONE transaction together with the sync's checkpoint (query, next
``pageToken``, pages done, running counts), so a sync stopped half-way resumes at the page after
the last committed one and never leaves a half-written study. The checkpoint is deleted in the
transaction of the last page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.engine import Connection

from trialmatch.store import StoreError, TrialStore, content_hash, schema
from trialmatch.sync import tables
from trialmatch.sync.client import ApiError, CtgovClient, SyncError
from trialmatch.sync.query import SyncQuery
from trialmatch.trials import ReadResult, Trial, read_bytes
from trialmatch.trials.model import OPEN_STATUSES
from trialmatch.trials.readers.ctgov_json import canonical_json

#: File-name prefix recorded in provenance for studies fetched from the API.
FILE_PREFIX = "ctgov-api:"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StatusChange:
    """A stored trial whose overall status changed in this sync."""

    id: str
    previous: str | None
    current: str | None
    title: str | None = None


@dataclass
class SyncSummary:
    """What one sync did (accumulated over an interrupted run and its resumption).

    ``read`` counts distinct studies received (plus records that failed to read). ``new``,
    ``updated`` and ``unchanged`` list trial ids; ``closed`` are trials whose status moved from
    an open one (recruiting, not yet recruiting, enrolling by invitation, available) to another
    one other than withdrawn; ``withdrawn`` those now withdrawn that were not before;
    ``reopened`` those that moved back to an open status. ``left_search`` are trials the saved
    search returned last time but not this time (re-fetched one by one so their status is current).
    """

    query: str = ""
    base_url: str = ""
    search_name: str | None = None
    total: int | None = None
    pages: int = 0
    resumed_from_page: int | None = None
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    closed: list[StatusChange] = field(default_factory=list)
    withdrawn: list[StatusChange] = field(default_factory=list)
    reopened: list[StatusChange] = field(default_factory=list)
    left_search: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    compiled: int | None = None
    compile_error: str | None = None
    requests: int = 0
    retries: int = 0
    completed: bool = False
    error: str | None = None

    @property
    def read(self) -> int:
        return len(self.seen) + len(self.failed)

    def counts(self) -> dict[str, int]:
        return {"read": self.read, "new": len(self.new), "updated": len(self.updated),
                "unchanged": len(self.unchanged), "failed": len(self.failed),
                "closed": len(self.closed), "withdrawn": len(self.withdrawn)}

    def to_json(self) -> dict[str, Any]:
        """The JSON face of the summary (``trialmatch sync --format json``)."""
        data = asdict(self)
        data.pop("seen")
        data["counts"] = self.counts()
        return data

    def state_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_state(cls, text: str) -> "SyncSummary":
        data = json.loads(text)
        for key in ("closed", "withdrawn", "reopened"):
            data[key] = [StatusChange(**c) for c in data.get(key, [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    # ------------------------------------------------------------------ bookkeeping
    def record(self, trial_id: str, status: str) -> None:
        """Note a stored trial's outcome; new beats updated beats unchanged for the same id."""
        if trial_id not in self.seen:
            self.seen.append(trial_id)
        if trial_id in self.new:
            return
        if status == "new":
            for lst in (self.updated, self.unchanged):
                if trial_id in lst:
                    lst.remove(trial_id)
            self.new.append(trial_id)
        elif status == "updated":
            if trial_id in self.unchanged:
                self.unchanged.remove(trial_id)
            if trial_id not in self.updated:
                self.updated.append(trial_id)
        elif trial_id not in self.updated and trial_id not in self.unchanged:
            self.unchanged.append(trial_id)

    def record_status_change(self, trial: Trial, previous: str | None) -> None:
        current = trial.status
        if previous == current:
            return
        change = StatusChange(trial.id, previous, current, trial.title)
        for lst in (self.closed, self.withdrawn, self.reopened):
            lst[:] = [c for c in lst if c.id != trial.id]
        if current == "WITHDRAWN":
            self.withdrawn.append(change)
        elif previous in OPEN_STATUSES and current not in OPEN_STATUSES:
            self.closed.append(change)
        elif previous is not None and previous not in OPEN_STATUSES and current in OPEN_STATUSES:
            self.reopened.append(change)


ProgressCallback = Callable[[SyncSummary], None]


# --------------------------------------------------------------------------- saved searches


@dataclass
class SavedSearch:
    """A named query kept in the store (``trialmatch sync --save NAME``)."""

    name: str
    query: SyncQuery
    base_url: str | None
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None
    last_summary: dict[str, Any] | None
    last_ids: list[str]


def save_search(store: TrialStore, name: str, query: SyncQuery, base_url: str | None = None) -> SavedSearch:
    """Store (or replace) a named query; its last-run record is kept when the query is unchanged.

    Raises
    ------
    SyncError
        When the name is empty or the query has no filter.
    """
    name = name.strip()
    if not name:
        raise SyncError("a saved search needs a name")
    if not query.has_filter():
        raise SyncError(f"saved search {name!r} needs at least one filter")
    tables.ensure_tables(store.engine)
    t = tables.saved_searches
    now = _now()
    qjson = query.model_dump_json()
    with store.engine.begin() as conn:
        row = conn.execute(select(t.c.query).where(t.c.name == name)).first()
        if row is None:
            conn.execute(t.insert().values(name=name, query=qjson, base_url=base_url, created_at=now,
                                           updated_at=now))
        else:
            values: dict[str, Any] = dict(query=qjson, updated_at=now)
            if base_url:
                values["base_url"] = base_url
            if row[0] != qjson:  # a different query: the last run no longer describes it
                values.update(last_run_at=None, last_summary=None, last_ids=None)
            conn.execute(update(t).where(t.c.name == name).values(**values))
    result = get_search(store, name)
    assert result is not None
    return result


def get_search(store: TrialStore, name: str) -> SavedSearch | None:
    """The saved search called ``name``, or None."""
    tables.ensure_tables(store.engine)
    t = tables.saved_searches
    with store.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).mappings().first()
    return _to_saved(row) if row else None


def list_searches(store: TrialStore) -> list[SavedSearch]:
    """Every saved search, by name."""
    tables.ensure_tables(store.engine)
    t = tables.saved_searches
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.name)).mappings().all()
    return [_to_saved(r) for r in rows]


def delete_search(store: TrialStore, name: str) -> bool:
    """Forget a saved search; True if it existed."""
    tables.ensure_tables(store.engine)
    with store.engine.begin() as conn:
        return bool(conn.execute(delete(tables.saved_searches).where(tables.saved_searches.c.name == name)).rowcount)


def _to_saved(row: Any) -> SavedSearch:
    return SavedSearch(
        name=row["name"], query=SyncQuery.model_validate_json(row["query"]), base_url=row["base_url"],
        created_at=row["created_at"], updated_at=row["updated_at"], last_run_at=row["last_run_at"],
        last_summary=json.loads(row["last_summary"]) if row["last_summary"] else None,
        last_ids=json.loads(row["last_ids"]) if row["last_ids"] else [],
    )


# --------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """Where an unfinished sync stopped: the token of the next page to fetch."""

    query_key: str
    base_url: str
    query: SyncQuery
    search_name: str | None
    next_page_token: str
    pages_done: int
    state: SyncSummary
    started_at: datetime
    updated_at: datetime


def get_checkpoint(store: TrialStore, query: SyncQuery, base_url: str) -> Checkpoint | None:
    """The checkpoint of an unfinished sync of ``query`` against ``base_url``, or None."""
    tables.ensure_tables(store.engine)
    t = tables.checkpoints
    with store.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.query_key == query.key(base_url))).mappings().first()
    if row is None:
        return None
    return Checkpoint(row["query_key"], row["base_url"], SyncQuery.model_validate_json(row["query"]),
                      row["search_name"], row["next_page_token"], row["pages_done"],
                      SyncSummary.from_state(row["state"]), row["started_at"], row["updated_at"])


def clear_checkpoint(store: TrialStore, query: SyncQuery, base_url: str) -> bool:
    """Drop an unfinished sync's checkpoint (the next run starts from the first page)."""
    tables.ensure_tables(store.engine)
    with store.engine.begin() as conn:
        return bool(conn.execute(delete(tables.checkpoints).where(
            tables.checkpoints.c.query_key == query.key(base_url))).rowcount)


# --------------------------------------------------------------------------- one transaction per page


def read_study(study: dict[str, Any], index: int | None = None) -> list[ReadResult]:
    """Read one API study through the same reader as ``trialmatch ingest``.

    The bytes are the study's canonical JSON (sorted keys), so the SHA-256 does not depend on
    how a server orders keys; the file name is ``ctgov-api:<NCT id>``.
    """
    nct = None
    ident = (study.get("protocolSection") or {}).get("identificationModule") if isinstance(
        study.get("protocolSection"), dict) else None
    if isinstance(ident, dict) and isinstance(ident.get("nctId"), str):
        nct = ident["nctId"].strip()
    name = FILE_PREFIX + (nct or f"study#{index if index is not None else '?'}")
    return read_bytes(canonical_json(study), name)


def _same_study(trial: Trial, stored_hash: str, stored_data: str) -> bool:
    """True when ``trial`` says what the stored version says (the content hash leaves the
    provenance out, so one study read from an NDJSON line and from an API page is the same)."""
    return content_hash(trial) == stored_hash


def _current(conn: Connection, ids: list[str]) -> dict[str, tuple[str | None, str, str]]:
    """id -> (status, content hash, data) of the stored current versions."""
    out: dict[str, tuple[str | None, str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(
            select(schema.trials.c.id, schema.trials.c.status, schema.trial_versions.c.content_hash,
                   schema.trial_versions.c.data)
            .join(schema.trial_versions, and_(
                schema.trial_versions.c.trial_id == schema.trials.c.id,
                schema.trial_versions.c.version == schema.trials.c.current_version))
            .where(schema.trials.c.id.in_(chunk))
        ).all()
        for r in rows:
            out[r[0]] = (r[1], r[2], r[3])
    return out


def _write_page(store: TrialStore, results: list[ReadResult], summary: SyncSummary,
                checkpoint: dict[str, Any] | None, query_key: str | None) -> None:
    """Store one page's changed trials and the checkpoint (or its removal) in one transaction."""
    trials: dict[str, Trial] = {}
    for r in results:
        if r.ok:
            trials[r.trial.id] = r.trial  # a study listed twice in one page: the last one
        else:
            summary.failed.append({"locator": r.locator, "error": str(r.error) if r.error else "no trial"})
    try:
        _write_page_tx(store, trials, summary, checkpoint, query_key)
    except SQLAlchemyError as exc:
        raise StoreError(f"store unchanged for this page ({exc.__class__.__name__}: {exc})") from exc


def _write_page_tx(store: TrialStore, trials: dict[str, Trial], summary: SyncSummary,
                   checkpoint: dict[str, Any] | None, query_key: str | None) -> None:
    t = tables.checkpoints
    with store.engine.begin() as conn:
        current = _current(conn, list(trials))
        changed = [tr for tid, tr in trials.items()
                   if tid not in current or not _same_study(tr, current[tid][1], current[tid][2])]
        statuses: dict[str, str] = {}
        if changed:
            statuses = store.ingest_trials(changed, conn=conn)
        for tid, trial in trials.items():
            status = statuses.get(tid, "unchanged")
            summary.record(tid, status)
            if status == "updated":
                summary.record_status_change(trial, current[tid][0])
        if query_key is None:
            return
        conn.execute(delete(t).where(t.c.query_key == query_key))
        if checkpoint is not None:
            conn.execute(t.insert().values(query_key=query_key, state=summary.state_json(), **checkpoint))


# --------------------------------------------------------------------------- the sync


def run_sync(store: TrialStore, query: SyncQuery, client: CtgovClient, *, search_name: str | None = None,
             restart: bool = False, compile_criteria: bool = True,
             progress: ProgressCallback | None = None) -> SyncSummary:
    """Bring the store up to date with what ``query`` returns from the API.

    Parameters
    ----------
    store : TrialStore
        Where trials go (versioned: unchanged studies write nothing).
    query : SyncQuery
        The filters; at least one is required.
    client : CtgovClient
        The HTTP client (base URL, retries, rate limit).
    search_name : str, optional
        The saved search this run belongs to: its last run is updated, and trials it returned
        last time but not now are re-fetched one by one and reported in ``left_search``.
    restart : bool
        Ignore an unfinished sync's checkpoint and start from the first page.
    compile_criteria : bool
        Compile the criteria of new and changed trials afterwards (``ensure_compiled``).
    progress : callable, optional
        Called with the running :class:`SyncSummary` after each page.

    Returns
    -------
    SyncSummary
        Counts and ids of new, updated and unchanged trials, status changes, failures.

    Raises
    ------
    SyncError
        The server could not be reached, kept failing, or sent malformed pages. Pages
        committed before stay, and the checkpoint lets the same query resume.
    """
    if not query.has_filter():
        raise SyncError("give at least one filter (--condition, --term, --intervention, --status, "
                        "--location, --near or --updated-since): a sync of the whole registry is refused")
    tables.ensure_tables(store.engine)
    base_url = client.base_url
    key = query.key(base_url)
    params = query.api_params()
    cp = None if restart else get_checkpoint(store, query, base_url)
    if restart:
        clear_checkpoint(store, query, base_url)
    if cp is not None:
        summary = cp.state
        summary.resumed_from_page = cp.pages_done + 1
        token: str | None = cp.next_page_token
        pages_done = cp.pages_done
        started_at = cp.started_at
    else:
        summary = SyncSummary()
        token, pages_done, started_at = None, 0, _now()
    summary.query, summary.base_url, summary.search_name = query.describe(), base_url, search_name
    summary.completed, summary.error = False, None
    qjson = query.model_dump_json()
    req0, retries0 = client.stats.requests, client.stats.retries

    while True:
        page_params = dict(params)
        if token:
            page_params["pageToken"] = token
        elif summary.total is None:
            page_params["countTotal"] = "true"
        try:
            page = client.fetch_page(page_params)
        except ApiError as exc:
            if token and cp is not None and pages_done == cp.pages_done and exc.status_code in (400, 404, 410):
                # the checkpoint's token has expired on the server: start over (ids dedupe counts)
                token, pages_done, cp = None, 0, None
                summary.resumed_from_page = None
                continue
            summary.error = str(exc)
            summary.requests += client.stats.requests - req0
            summary.retries += client.stats.retries - retries0
            raise
        if isinstance(page.get("totalCount"), int):
            summary.total = page["totalCount"]
        results: list[ReadResult] = []
        for i, study in enumerate(page["studies"]):
            results.extend(read_study(study, i + 1))
        next_token = page.get("nextPageToken")
        if next_token is not None and next_token == token:
            raise SyncError(f"{base_url} returned the same pageToken again on page {pages_done + 1}: stopping")
        pages_done += 1
        summary.pages = pages_done
        checkpoint = None
        if next_token:
            checkpoint = dict(base_url=base_url, query=qjson, search_name=search_name,
                              next_page_token=next_token, pages_done=pages_done, started_at=started_at,
                              updated_at=_now())
        _write_page(store, results, summary, checkpoint, key)
        if progress:
            progress(summary)
        if not next_token:
            break
        token = next_token

    if search_name:
        _refresh_left_search(store, client, search_name, summary)
    summary.requests += client.stats.requests - req0
    summary.retries += client.stats.retries - retries0
    if compile_criteria:
        _compile(store, summary)
    summary.completed = True
    if search_name:
        _record_run(store, search_name, base_url, summary)
    return summary


def _refresh_left_search(store: TrialStore, client: CtgovClient, name: str, summary: SyncSummary) -> None:
    """Re-fetch trials the saved search returned last time but not now (closed ones drop out of
    a ``--status RECRUITING`` search), so their stored status is current."""
    saved = get_search(store, name)
    if saved is None or not saved.last_ids:
        return
    seen = set(summary.seen)
    gone = [i for i in saved.last_ids if i not in seen]
    for nct in gone:
        try:
            resp = client.get(f"/studies/{nct}", {"format": "json"})
            study = resp.json()
        except (SyncError, ValueError) as exc:
            summary.failed.append({"locator": FILE_PREFIX + nct, "error": f"could not re-fetch: {exc}"})
            continue
        if not isinstance(study, dict):
            summary.failed.append({"locator": FILE_PREFIX + nct, "error": "re-fetch gave no study object"})
            continue
        _write_page(store, read_study(study), summary, None, None)
        summary.left_search.append(nct)


def _compile(store: TrialStore, summary: SyncSummary) -> None:
    try:
        import inspect

        from trialmatch.store import ensure_compiled

        if "errors" in inspect.signature(ensure_compiled).parameters:
            errors: list[tuple[str, str]] = []
            summary.compiled = ensure_compiled(store, errors=errors)
            if errors:
                summary.compile_error = f"{len(errors)} trial(s) could not be compiled: " + "; ".join(
                    f"{tid}: {msg}" for tid, msg in errors[:5])
        else:
            summary.compiled = ensure_compiled(store)
    except ImportError as exc:
        summary.compile_error = f"criteria compiler not available ({exc}); compile later with ensure_compiled"
    except Exception as exc:  # noqa: BLE001 - the trials are stored; report, do not crash
        summary.compile_error = f"compiling criteria failed: {exc.__class__.__name__}: {exc}"


def _record_run(store: TrialStore, name: str, base_url: str, summary: SyncSummary) -> None:
    t = tables.saved_searches
    ids = sorted(set(summary.seen) - set(summary.left_search))
    with store.engine.begin() as conn:
        conn.execute(update(t).where(t.c.name == name).values(
            last_run_at=_now(), base_url=base_url, last_summary=json.dumps(summary.to_json(), default=str),
            last_ids=json.dumps(ids)))
