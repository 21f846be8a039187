"""The embedded store: versioned trials, their compiled criteria, and patients.

SQLite by default (``./trialmatch.db``, or ``$TRIALMATCH_DB``); any SQLAlchemy 2 URL works
(``postgresql+psycopg://...``). Every write is one transaction: a batch that fails half-way
leaves the store exactly as it was before it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, MetaData, Table, and_, create_engine, event, func, inspect, select, update
from sqlalchemy.engine import Connection

from trialmatch.criteria.model import CompiledCriteria
from trialmatch.patients.model import Patient
from trialmatch.store import schema
from trialmatch.trials.model import Trial

IngestStatus = Literal["new", "updated", "unchanged"]
DEFAULT_DB = "trialmatch.db"


class StoreError(RuntimeError):
    """A store operation that could not be carried out; the store is unchanged."""


def resolve_url(db: str | None = None) -> str:
    """Turn ``--db`` / ``$TRIALMATCH_DB`` / the default into an SQLAlchemy URL."""
    value = db or os.environ.get("TRIALMATCH_DB") or DEFAULT_DB
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


_CONTENT_EXCLUDE = {"provenance"}


def content_hash(trial: Trial) -> str:
    """SHA-256 of a trial's content without its provenance (see :meth:`Trial.content_dict`):
    the same study read from an NDJSON line and from an API page has the same content hash.

    Serialised by pydantic-core in model field order (deterministic, and several times faster
    than ``json.dumps`` of ``content_dict()`` on the ingest path).
    """
    blob = trial.model_dump_json(by_alias=True, exclude=_CONTENT_EXCLUDE)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrialVersionInfo:
    trial_id: str
    version: int
    sha256: str
    content_hash: str
    source_format: str
    file_name: str | None
    ingested_at: datetime


@dataclass(frozen=True)
class PatientRecord:
    workspace: str
    patient: Patient
    version: int
    created_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


#: the store's revision (built once: it is read on every web request)
_REVISION_QUERY = select(schema.store_meta.c.value).where(schema.store_meta.c.key == "revision")


class TrialStore:
    """Versioned storage of trials, compiled criteria and patients.

    Parameters
    ----------
    db : str, optional
        A SQLite file path or an SQLAlchemy URL. Defaults to ``$TRIALMATCH_DB`` or
        ``./trialmatch.db``.

    Examples
    --------
    >>> store = TrialStore("sqlite:///:memory:")
    >>> store.ingest_trials([trial])          # doctest: +SKIP
    {'NCT04199520': 'new'}
    """

    def __init__(self, db: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = resolve_url(db) if engine is None else str(engine.url)
        if engine is None:
            # the rows hold patient records: never let SQL logging (a root logger at DEBUG) or an
            # error message show their values
            kwargs: dict = {"hide_parameters": True}
            if self.url.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False}
                if ":memory:" in self.url or self.url in ("sqlite://", "sqlite:///"):
                    from sqlalchemy.pool import StaticPool

                    kwargs["poolclass"] = StaticPool
            engine = create_engine(self.url, **kwargs)
            if self.url.startswith("sqlite"):
                event.listen(engine, "connect", _sqlite_pragmas)
        self.engine = engine
        _hide_logged_rows()
        schema.metadata.create_all(self.engine)
        # (revision, compiler version, [(Trial, CompiledCriteria)], {trial id: (content key, Trial, CompiledCriteria)})
        self._matching_cache: tuple[int, object, list, dict] | None = None

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic unit of work: everything inside commits together or not at all.

        Writes to trials or compiled criteria must also call :meth:`_bump_revision` (the
        public methods do), so caches keyed on :meth:`revision` see them; other writes
        (patients, watch snapshots, sync checkpoints) leave the revision alone.
        """
        with self.engine.begin() as conn:
            yield conn

    def _bump_revision(self, conn: Connection) -> None:
        row = conn.execute(select(schema.store_meta.c.value).where(schema.store_meta.c.key == "revision")).first()
        if row is None:
            conn.execute(schema.store_meta.insert().values(key="revision", value="1"))
        else:
            conn.execute(
                update(schema.store_meta).where(schema.store_meta.c.key == "revision").values(value=str(int(row[0]) + 1))
            )

    def revision(self) -> int:
        """A counter that grows with every committed write (for caches)."""
        with self.engine.connect() as conn:
            row = conn.execute(_REVISION_QUERY).first()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ trials
    def ingest_trials(
        self, trials: Iterable[Trial], compiled: dict[str, CompiledCriteria] | None = None,
        *, conn: Connection | None = None,
    ) -> dict[str, IngestStatus]:
        """Store trials in ONE transaction; returns each trial's status.

        Same bytes (SHA-256) or same content as a stored version of that id -> ``unchanged``
        (re-ingesting an older copy never replaces a newer version); a new id -> ``new``;
        changed content -> ``updated`` (a new version; the old one stays readable).
        ``compiled`` optionally maps trial id -> compiled criteria to store with the version.
        If anything fails, nothing of the batch is written and :class:`StoreError` is raised.

        With ``conn`` the batch joins that open transaction (the caller commits or rolls back),
        so a caller can write its own rows atomically with the trials (a sync checkpoint).
        """
        trials = list(trials)
        if not trials:
            return {}
        if conn is not None:
            return self._write_trials(conn, trials, compiled)[0]
        try:
            with self.transaction() as own:
                results, wrote = self._write_trials(own, trials, compiled)
                if not wrote:
                    raise _NothingWritten
        except _NothingWritten:
            pass
        except Exception as exc:  # noqa: BLE001 - re-raised with context, nothing written
            raise StoreError(f"store unchanged: could not write the batch ({exc.__class__.__name__}: {exc})") from exc
        return results

    def _write_trials(
        self, conn: Connection, trials: list[Trial], compiled: dict[str, CompiledCriteria] | None
    ) -> tuple[dict[str, IngestStatus], bool]:
        """Write a batch on ``conn``; returns each trial's status and whether anything was written."""
        results: dict[str, IngestStatus] = {}
        ids = list(dict.fromkeys(t.id for t in trials))
        # per id: (current version, hashes of EVERY stored version): the same bytes or
        # content as any stored version is "unchanged", so re-ingesting an older copy
        # (or two sources stating the same id, ingested again) never adds versions
        current: dict[str, tuple[int, set[str]]] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start:chunk_start + 500]
            rows = conn.execute(
                select(schema.trials.c.id, schema.trials.c.current_version,
                       schema.trial_versions.c.sha256, schema.trial_versions.c.content_hash)
                .join(schema.trial_versions, schema.trial_versions.c.trial_id == schema.trials.c.id)
                .where(schema.trials.c.id.in_(chunk))
            ).all()
            for r in rows:
                entry = current.setdefault(r[0], (r[1], set()))
                entry[1].update((r[2], r[3]))
        now = _now()
        new_trial_rows, version_rows, trial_updates, compiled_rows = [], [], [], []
        for trial in trials:
            prev = current.get(trial.id)
            if prev is not None and trial.provenance.sha256 in prev[1]:  # same bytes: cheap
                results[trial.id] = results.get(trial.id, "unchanged")
                continue
            chash = content_hash(trial)
            if prev is not None and chash in prev[1]:
                results[trial.id] = results.get(trial.id, "unchanged")
                continue
            version = 1 if prev is None else prev[0] + 1
            status: IngestStatus = "new" if prev is None else "updated"
            if trial.id in results and results[trial.id] != "unchanged":
                status = results[trial.id]
            results[trial.id] = status
            version_rows.append(dict(
                trial_id=trial.id, version=version, sha256=trial.provenance.sha256,
                content_hash=chash, source_format=trial.provenance.source_format,
                file_name=trial.provenance.file_name, ingested_at=trial.provenance.ingested_at,
                data=trial.model_dump_json(by_alias=True),
            ))
            if prev is None:
                new_trial_rows.append(dict(id=trial.id, current_version=version, title=trial.title,
                                           status=trial.status, updated_at=now))
            else:
                trial_updates.append(dict(id=trial.id, current_version=version, title=trial.title,
                                          status=trial.status, updated_at=now))
            current[trial.id] = (version, (prev[1] if prev else set()) | {trial.provenance.sha256, chash})
            if compiled and trial.id in compiled:
                cc = compiled[trial.id]
                compiled_rows.append(dict(trial_id=trial.id, version=version,
                                          compiler_version=cc.compiler_version,
                                          data=cc.model_dump_json()))
        # a trial new in this batch and changed again later in the same batch
        seen_new = {r["id"]: r for r in new_trial_rows}
        for upd in list(trial_updates):
            if upd["id"] in seen_new:
                seen_new[upd["id"]].update(upd)
                trial_updates.remove(upd)
        if new_trial_rows:
            conn.execute(schema.trials.insert(), list(seen_new.values()))
        if version_rows:
            conn.execute(schema.trial_versions.insert(), version_rows)
        for upd in trial_updates:
            conn.execute(update(schema.trials).where(schema.trials.c.id == upd["id"]).values(
                current_version=upd["current_version"], title=upd["title"],
                status=upd["status"], updated_at=upd["updated_at"]))
        if compiled_rows:
            conn.execute(schema.compiled_criteria.insert(), compiled_rows)
        if version_rows:
            self._bump_revision(conn)
        return results, bool(version_rows)

    def ingest_trial(self, trial: Trial, compiled: CompiledCriteria | None = None) -> IngestStatus:
        """Store one trial (see :meth:`ingest_trials`)."""
        return self.ingest_trials([trial], {trial.id: compiled} if compiled else None)[trial.id]

    def get_trial(self, trial_id: str, version: int | None = None) -> Trial | None:
        """The current (or a given) version of a trial, or None."""
        with self.engine.connect() as conn:
            if version is None:
                row = conn.execute(select(schema.trials.c.current_version).where(schema.trials.c.id == trial_id)).first()
                if row is None:
                    return None
                version = row[0]
            data = conn.execute(
                select(schema.trial_versions.c.data).where(
                    schema.trial_versions.c.trial_id == trial_id, schema.trial_versions.c.version == version)
            ).scalar()
        return Trial.model_validate_json(data) if data else None

    def current_version(self, trial_id: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(schema.trials.c.current_version).where(schema.trials.c.id == trial_id)).scalar()

    def versions(self, trial_id: str) -> list[TrialVersionInfo]:
        """Every stored version of a trial, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.trial_versions.c.trial_id, schema.trial_versions.c.version,
                       schema.trial_versions.c.sha256, schema.trial_versions.c.content_hash,
                       schema.trial_versions.c.source_format, schema.trial_versions.c.file_name,
                       schema.trial_versions.c.ingested_at)
                .where(schema.trial_versions.c.trial_id == trial_id)
                .order_by(schema.trial_versions.c.version)
            ).all()
        return [TrialVersionInfo(*r) for r in rows]

    def trial_ids(self, status: Iterable[str] | None = None) -> list[str]:
        q = select(schema.trials.c.id).order_by(schema.trials.c.id)
        if status:
            q = q.where(schema.trials.c.status.in_([s.upper() for s in status]))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def count_trials(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.trials)).scalar() or 0

    def iter_trials(self, status: Iterable[str] | None = None, ids: Iterable[str] | None = None) -> Iterator[Trial]:
        """Current versions of all (or the filtered) trials, ordered by id."""
        q = (
            select(schema.trial_versions.c.data)
            .join(schema.trials, and_(schema.trials.c.id == schema.trial_versions.c.trial_id,
                                      schema.trials.c.current_version == schema.trial_versions.c.version))
            .order_by(schema.trials.c.id)
        )
        if status:
            q = q.where(schema.trials.c.status.in_([s.upper() for s in status]))
        if ids is not None:
            q = q.where(schema.trials.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            for (data,) in conn.execute(q):
                yield Trial.model_validate_json(data)

    def list_trials(self, status: Iterable[str] | None = None, limit: int | None = None) -> list[Trial]:
        out = []
        for t in self.iter_trials(status=status):
            out.append(t)
            if limit is not None and len(out) >= limit:
                break
        return out

    # ------------------------------------------------------------------ compiled criteria
    def save_compiled(self, trial_id: str, compiled: CompiledCriteria, version: int | None = None) -> None:
        """Store compiled criteria for a trial version (replacing the same compiler version's)."""
        with self.transaction() as conn:
            if version is None:
                version = conn.execute(select(schema.trials.c.current_version).where(schema.trials.c.id == trial_id)).scalar()
                if version is None:
                    raise StoreError(f"no trial {trial_id!r} in the store")
            self._put_compiled(conn, trial_id, version, compiled)
            self._bump_revision(conn)

    def save_compiled_many(self, items: Iterable[tuple[str, int, CompiledCriteria]]) -> None:
        with self.transaction() as conn:
            for trial_id, version, compiled in items:
                self._put_compiled(conn, trial_id, version, compiled)
            self._bump_revision(conn)

    def _put_compiled(self, conn: Connection, trial_id: str, version: int, compiled: CompiledCriteria) -> None:
        t = schema.compiled_criteria
        conn.execute(t.delete().where(t.c.trial_id == trial_id, t.c.version == version,
                                      t.c.compiler_version == compiled.compiler_version))
        conn.execute(t.insert().values(trial_id=trial_id, version=version,
                                       compiler_version=compiled.compiler_version,
                                       data=compiled.model_dump_json()))

    def get_compiled(self, trial_id: str, compiler_version: str | None = None) -> CompiledCriteria | None:
        """Compiled criteria stored for the trial's current version (newest compiler first)."""
        t = schema.compiled_criteria
        with self.engine.connect() as conn:
            version = conn.execute(select(schema.trials.c.current_version).where(schema.trials.c.id == trial_id)).scalar()
            if version is None:
                return None
            q = select(t.c.data, t.c.compiler_version).where(t.c.trial_id == trial_id, t.c.version == version)
            if compiler_version:
                q = q.where(t.c.compiler_version == compiler_version)
            rows = conn.execute(q).all()
        if not rows:
            return None
        return CompiledCriteria.model_validate_json(sorted(rows, key=lambda r: r[1])[-1][0])

    def trials_needing_compile(self, compiler_version: str) -> list[tuple[str, int]]:
        """(trial id, version) pairs whose current version has no criteria from ``compiler_version``."""
        t = schema.compiled_criteria
        q = (
            select(schema.trials.c.id, schema.trials.c.current_version)
            .outerjoin(t, and_(t.c.trial_id == schema.trials.c.id, t.c.version == schema.trials.c.current_version,
                               t.c.compiler_version == compiler_version))
            .where(t.c.trial_id.is_(None))
            .order_by(schema.trials.c.id)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(q)]

    def load_for_matching(self, compiler_version: str) -> list[tuple[Trial, CompiledCriteria]]:
        """Every current trial with its compiled criteria (from ``compiler_version``), by id.

        Cached in memory until the store's revision changes, so a server matches without
        re-reading the database on every request. After a change only the trials whose current
        version or compiled criteria changed are read again: the others keep the very objects
        returned before, so per-trial work keyed on them (matching plans, a patient's
        :class:`~trialmatch.matching.PatientRanking`) stays valid. Trials lacking compiled
        criteria for that compiler version are left out: compile them first (``ensure_compiled``
        in :mod:`trialmatch.store`).
        """
        rev = self.revision()
        cache = self._matching_cache
        if cache and cache[0] == rev and cache[1] == compiler_version:
            return cache[2]
        before = cache[3] if cache and cache[1] == compiler_version else {}
        t, tv, tr = schema.compiled_criteria, schema.trial_versions, schema.trials
        current = (
            select(tr.c.id, tr.c.current_version, tv.c.content_hash, t.c.data)
            .join(tv, and_(tr.c.id == tv.c.trial_id, tr.c.current_version == tv.c.version))
            .join(t, and_(t.c.trial_id == tr.c.id, t.c.version == tr.c.current_version,
                          t.c.compiler_version == compiler_version))
            .order_by(tr.c.id)
        )
        out: list[tuple[Trial, CompiledCriteria]] = []
        index: dict[str, tuple] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(current).all()
            changed = [r for r in rows if (old := before.get(r[0])) is None
                       or old[0] != (r[1], r[2], hash(r[3]))]
            trial_data: dict[str, str] = {}
            ids = [r[0] for r in changed]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                trial_data.update(conn.execute(
                    select(tv.c.trial_id, tv.c.data).join(tr, and_(tr.c.id == tv.c.trial_id,
                                                                   tr.c.current_version == tv.c.version))
                    .where(tv.c.trial_id.in_(chunk))).all())
        for tid, version, content_hash, cdata in rows:
            key = (version, content_hash, hash(cdata))
            old = before.get(tid)
            if old is not None and old[0] == key:
                trial, compiled = old[1], old[2]
            else:
                trial = Trial.model_validate_json(trial_data[tid])
                compiled = CompiledCriteria.model_validate_json(cdata)
            out.append((trial, compiled))
            index[tid] = (key, trial, compiled)
        self._matching_cache = (rev, compiler_version, out, index)
        return out

    # ------------------------------------------------------------------ patients
    def save_patient(self, patient: Patient, workspace: str = "default") -> int:
        """Store a patient (a new version if it exists); returns the version number."""
        with self.transaction() as conn:
            row = conn.execute(select(schema.patients.c.current_version).where(
                schema.patients.c.workspace == workspace, schema.patients.c.id == patient.id)).first()
            version = 1 if row is None else row[0] + 1
            now = _now()
            conn.execute(schema.patient_versions.insert().values(
                workspace=workspace, patient_id=patient.id, version=version, created_at=now,
                data=patient.model_dump_json()))
            if row is None:
                conn.execute(schema.patients.insert().values(workspace=workspace, id=patient.id,
                                                             current_version=version, deleted=False, updated_at=now))
            else:
                conn.execute(update(schema.patients).where(
                    schema.patients.c.workspace == workspace, schema.patients.c.id == patient.id
                ).values(current_version=version, deleted=False, updated_at=now))
        return version

    def get_patient(self, patient_id: str, workspace: str = "default", version: int | None = None) -> Patient | None:
        rec = self.get_patient_record(patient_id, workspace, version)
        return rec.patient if rec else None

    def get_patient_record(self, patient_id: str, workspace: str = "default", version: int | None = None) -> PatientRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.patients.c.current_version, schema.patients.c.deleted).where(
                schema.patients.c.workspace == workspace, schema.patients.c.id == patient_id)).first()
            if row is None or (row[1] and version is None):
                return None
            v = version or row[0]
            r = conn.execute(select(schema.patient_versions.c.data, schema.patient_versions.c.created_at).where(
                schema.patient_versions.c.workspace == workspace, schema.patient_versions.c.patient_id == patient_id,
                schema.patient_versions.c.version == v)).first()
        if r is None:
            return None
        return PatientRecord(workspace, Patient.model_validate_json(r[0]), v, r[1])

    def list_patients(self, workspace: str = "default") -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(
                select(schema.patients.c.id).where(schema.patients.c.workspace == workspace,
                                                   schema.patients.c.deleted.is_(False)).order_by(schema.patients.c.id))]

    def list_workspaces(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(schema.patients.c.workspace).distinct().order_by(schema.patients.c.workspace))]

    def delete_patient(self, patient_id: str, workspace: str = "default") -> bool:
        """Remove a patient from its workspace and erase everything stored about them: their
        versions and every row of any table (watch snapshots and changes included) keyed by
        ``workspace`` and ``patient_id``. True if the patient existed."""
        with self.transaction() as conn:
            n = conn.execute(schema.patients.delete().where(
                schema.patients.c.workspace == workspace, schema.patients.c.id == patient_id)).rowcount
            inspector = inspect(conn)
            for name in inspector.get_table_names():  # tables of every part, imported or not
                columns = {c["name"] for c in inspector.get_columns(name)}
                if {"workspace", "patient_id"} <= columns:
                    table = Table(name, MetaData(), autoload_with=conn)
                    conn.execute(table.delete().where(table.c.workspace == workspace,
                                                      table.c.patient_id == patient_id))
        return bool(n)


class _NothingWritten(Exception):
    """Internal: roll back the empty transaction (no revision bump for a no-op batch)."""


class _NoRowsFilter(logging.Filter):
    """Drops SQLAlchemy's DEBUG records of result rows (``Row (...)``): they would copy patient
    records into the log of anyone running with a root logger at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_NO_ROWS = _NoRowsFilter()


def _hide_logged_rows() -> None:
    for name in ("sqlalchemy.engine.Engine", "sqlalchemy.engine"):
        logger = logging.getLogger(name)
        if _NO_ROWS not in logger.filters:
            logger.addFilter(_NO_ROWS)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
