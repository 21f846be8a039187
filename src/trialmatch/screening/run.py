"""Batch screening: every patient against every trial, on Dask distributed.

By default the run starts an embedded :class:`distributed.LocalCluster` on this machine
(``n_workers`` processes of one thread each) and closes it at the end; given a scheduler address
(``tcp://host:8786``) the same tasks run on an existing cluster. Its workers need ``trialmatch``
installed, the store URL reachable (a SQLite file on a shared file system, or PostgreSQL) and
the output folder writable.

The work is cut into partitions (patient block x trial block, :mod:`.partitions`); each
partition is one Dask task that loads its trials on the worker (:mod:`.worker`), matches its
patients and writes its rows as one file (:mod:`.output`). A finished partition is not redone:
running the same command again after a crash, a killed worker or a change to the trials or
patients redoes only the partitions whose inputs are not already on disk.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, select

from trialmatch.screening.output import (
    OutputPaths, finished_partitions, join_parts, read_meta, remove_stale, write_meta,
)
from trialmatch.screening.partitions import (
    Layout, PatientItem, Plan, TrialRef, choose_layout, plan_partitions, status_filter,
)

DEFAULT_PATIENT_BLOCK = 25
DEFAULT_TRIAL_BLOCK = 2000


@dataclass
class ScreenResult:
    """What a screening run did."""

    out: Path
    fmt: str
    patients: int
    trials: int
    partitions: int  # in the plan
    skipped: int  # already finished on disk (not redone)
    ran: int  # screened by this run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (partition, error)
    pairs: int = 0  # patient-trial pairs in the plan (= result rows when nothing failed)
    pairs_run: int = 0  # ... screened by this run
    seconds: float = 0.0  # wall time of the screening (cluster start-up excluded)
    workers: int = 0
    stale_removed: int = 0
    layout: Layout | None = None

    @property
    def pairs_per_second(self) -> float:
        return self.pairs_run / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "out": str(self.out), "format": self.fmt, "patients": self.patients, "trials": self.trials,
            "partitions": self.partitions, "skipped": self.skipped, "ran": self.ran,
            "failed": [{"partition": p, "error": e} for p, e in self.failed], "pairs": self.pairs,
            "pairs_run": self.pairs_run, "seconds": round(self.seconds, 3),
            "pairs_per_second": round(self.pairs_per_second, 1), "workers": self.workers,
            "stale_removed": self.stale_removed,
            "layout": self.layout.to_json() if self.layout else None,
        }


# ---------------------------------------------------------------------------- inputs
def file_patients(paths: Iterable[Path | str], today: dt.date | None = None) -> list[PatientItem]:
    """Read patient files (JSON, FHIR Bundle, text summary); a folder stands for its files.

    Raises
    ------
    trialmatch.patients.PatientReadError
        A file that cannot be read (names the file and field).
    """
    from trialmatch.patients import read_patient

    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        else:
            files.append(p)
    out = []
    for f in files:
        patient = read_patient(f, today=today)
        out.append(PatientItem(key=str(f), patient_id=patient.id, source=str(f), data=patient.model_dump_json()))
    return out


def stored_patients(store, workspace: str | None = None) -> list[PatientItem]:
    """The current version of every stored patient of ``workspace`` (default: every workspace)."""
    out = []
    for ws in [workspace] if workspace else store.list_workspaces():
        for pid in store.list_patients(ws):
            rec = store.get_patient_record(pid, ws)
            if rec is None:
                continue
            out.append(PatientItem(key=f"{ws}/{pid}", patient_id=pid, source=f"store:{ws}/{pid}@v{rec.version}",
                                   data=rec.patient.model_dump_json()))
    return out


def trial_refs(store, compiler_version: str, statuses: list[str] | None = None) -> list[TrialRef]:
    """Id, current version and status of every trial whose current version has criteria compiled by
    ``compiler_version`` (kept to ``statuses``, as ``match --status`` reads them)."""
    from trialmatch.store import schema

    wanted = status_filter(statuses)
    tr, cc = schema.trials, schema.compiled_criteria
    q = (select(tr.c.id, tr.c.current_version, tr.c.status)
         .join(cc, and_(cc.c.trial_id == tr.c.id, cc.c.version == tr.c.current_version,
                        cc.c.compiler_version == compiler_version))
         .order_by(tr.c.id))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [TrialRef(r[0], r[1], r[2]) for r in rows
            if wanted is None or (r[2] or "UNKNOWN").upper() in wanted]


def _check_url(url: str) -> None:
    if url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite://")):
        raise ValueError(f"store {url}: an in-memory store cannot be read by Dask workers; use a file or a server URL")


# ---------------------------------------------------------------------------- the run
class _Cluster:
    """The Dask client of a run: on ``scheduler`` when given, else an embedded LocalCluster."""

    def __init__(self, scheduler: str | None, workers: int | None, client=None) -> None:
        self.own = client is None
        self.cluster = None
        if client is not None:
            self.client = client
            return
        from distributed import Client, LocalCluster

        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            self.cluster = LocalCluster(n_workers=workers or max(1, os.cpu_count() or 1), threads_per_worker=1,
                                        processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            self.client.wait_for_workers(workers or 1, timeout=120)

    def n_workers(self) -> int:
        try:
            return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        except TypeError:  # older distributed: no n_workers argument
            return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        if self.own:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def plan_screen(patients: list[PatientItem], trials: list[TrialRef], out: Path | str, *, compiler_version: str,
                as_of: dt.date | None = None, patient_block: int = DEFAULT_PATIENT_BLOCK,
                trial_block: int = DEFAULT_TRIAL_BLOCK, restart: bool = False) -> tuple[OutputPaths, Plan, dict]:
    """The partitions of a run on ``out`` and the manifest entries already finished there.

    The layout (block counts) recorded with earlier results on ``out`` is reused, so that only
    the blocks whose patients or trials changed get new keys; ``restart`` starts over.
    """
    paths = OutputPaths.for_out(out)
    meta = None if restart else read_meta(paths)
    if meta and meta.get("format") == paths.fmt and meta.get("layout"):
        layout = Layout(int(meta["layout"]["patient_blocks"]), int(meta["layout"]["trial_blocks"]))
    else:
        layout = choose_layout(len(patients), len(trials), patient_block, trial_block)
    plan = plan_partitions(patients, trials, layout, compiler_version=compiler_version, as_of=as_of)
    done = {} if restart else finished_partitions(paths)
    if restart:
        remove_stale(paths, keep=())
    write_meta(paths, {"format": paths.fmt, "layout": layout.to_json(), "compiler_version": compiler_version})
    return paths, plan, done


def run_screen(store, patients: list[PatientItem], out: Path | str, *, statuses: list[str] | None = None,
               as_of: dt.date | None = None, scheduler: str | None = None, workers: int | None = None,
               patient_block: int = DEFAULT_PATIENT_BLOCK, trial_block: int = DEFAULT_TRIAL_BLOCK,
               restart: bool = False, client=None, use_index: bool = False,
               progress: Callable[[int, int, int], None] | None = None) -> ScreenResult:
    """Screen every patient against every (kept) trial of ``store`` on Dask and write the results.

    Parameters
    ----------
    store : TrialStore
        Its trials' criteria must be compiled (``ensure_compiled``); its URL must be readable by
        the workers (not ``sqlite:///:memory:``).
    patients : list of PatientItem
        From :func:`file_patients` or :func:`stored_patients`.
    out : path
        ``*.parquet`` (a dataset folder), ``*.csv`` or ``*.ndjson`` (see :mod:`.output`).
    statuses : list of str, optional
        Keep trials with these statuses (``recruiting``, ``open``, ...).
    as_of : date, optional
        Evaluate every patient at this date (default: her record's date, else today).
    scheduler : str, optional
        A Dask scheduler address; default an embedded LocalCluster of ``workers`` processes.
    workers : int, optional
        Worker processes of the LocalCluster (default: one per core).
    patient_block, trial_block : int
        About how many patients and trials a partition holds (on a new output).
    restart : bool
        Forget the results already on ``out`` and screen everything.
    client : distributed.Client, optional
        Use this client (and leave it open) instead of making one.
    use_index : bool
        Skip, per patient, the trials the candidate index excludes (same verdicts; their rows
        have the index's failed criteria as deciding, an empty score, no missing facts). A
        different choice than the results on ``out`` were made with redoes every partition.
    progress : callable, optional
        ``progress(pairs done, pairs to do, partitions failed)`` after each partition.

    Returns
    -------
    ScreenResult
    """
    from trialmatch.criteria import COMPILER_VERSION

    _check_url(store.url)
    index_revision = None
    if use_index:
        from trialmatch.store.candidate_index import sync_candidate_index

        sync_candidate_index(store, COMPILER_VERSION)
        index_revision = store.revision()
    trials = trial_refs(store, COMPILER_VERSION, statuses)
    # the choice of index is part of every partition's key (its rows differ in score and missing facts)
    paths, plan, done = plan_screen(patients, trials, out, compiler_version=COMPILER_VERSION + ("+index" if use_index else ""),
                                    as_of=as_of, patient_block=patient_block, trial_block=trial_block,
                                    restart=restart)
    todo = [p for p in plan.partitions if done.get(p.name, {}).get("key") != p.key]
    result = ScreenResult(out=paths.out, fmt=paths.fmt, patients=len(patients), trials=len(trials),
                          partitions=len(plan.partitions), skipped=len(plan.partitions) - len(todo), ran=0,
                          pairs=plan.pairs, layout=plan.layout)
    total = sum(p.pairs for p in todo)
    if progress:
        progress(0, total, 0)
    if todo:
        cluster = _Cluster(scheduler, workers, client)
        try:
            result.workers = cluster.n_workers()
            t0 = time.perf_counter()
            _submit_all(cluster.client, todo, result, progress, total, store_url=store.url,
                        compiler_version=COMPILER_VERSION, as_of=as_of, out=str(paths.out),
                        index_revision=index_revision)
            result.seconds = time.perf_counter() - t0
        finally:
            cluster.close()
    if not result.failed:
        names = [p.name for p in sorted(plan.partitions, key=lambda p: p.name)]
        result.stale_removed = remove_stale(paths, keep=names)
        join_parts(paths, names)
    return result


def _submit_all(client, todo, result: ScreenResult, progress, total: int, **kwargs) -> None:
    from distributed import as_completed

    from trialmatch.screening.worker import screen_partition

    futures = {client.submit(screen_partition, p, pure=False, key=f"screen-{p.name}-{p.key[:12]}", **kwargs): p
               for p in todo}
    done_pairs = 0
    for fut in as_completed(futures):
        part = futures[fut]
        if fut.status == "finished":
            result.ran += 1
            result.pairs_run += part.pairs
            done_pairs += part.pairs
        else:
            exc = fut.exception()
            result.failed.append((part.name, f"{exc.__class__.__name__}: {exc}"))
        if progress:
            progress(done_pairs, total, len(result.failed))
        fut.release()
