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

Before the partitions, every worker loads and prepares the trials the run needs (up to
:data:`PRELOAD_MAX_TRIALS`; beyond that each worker loads a block when a partition needs it and
keeps it): a once-per-worker cost timed on its own (``ScreenResult.load_seconds``), after which
any worker can take any partition, so the partitions go out largest first and the workers stay
busy to the end. ``workers=0`` runs the same partitions one after another in this process,
without Dask (what ``trialmatch watch`` does by default).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, select

from trialmatch.screening.output import (
    ROW_FORMAT, OutputPaths, finished_partitions, join_parts, read_meta, remove_stale, write_meta,
)
from trialmatch.screening.partitions import (
    MIN_PARTITIONS, Layout, PatientItem, Plan, TrialRef, choose_layout, plan_partitions, status_filter,
)

DEFAULT_PATIENT_BLOCK = 25
DEFAULT_TRIAL_BLOCK = 2000
#: a run needing at most this many trials has every worker load them all before the partitions
PRELOAD_MAX_TRIALS = 20_000
_LOCAL_TOKENS = itertools.count(1)


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
    seconds: float = 0.0  # wall time of the screening (cluster start-up and trial preloading excluded)
    workers: int = 0
    stale_removed: int = 0
    layout: Layout | None = None
    load_seconds: float = 0.0  # the workers' trial preloading (wall time, every worker at once)
    cpu_seconds: float | None = None  # CPU time of the workers (sum) during the screening
    worker_cpu_seconds: dict[str, float] = field(default_factory=dict)  # ... of each worker
    ran_partitions: list[str] = field(default_factory=list)  # names of the partitions screened by this run
    plan: Plan | None = field(default=None, repr=False)

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
            "load_seconds": round(self.load_seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3) if self.cpu_seconds is not None else None,
            "cpu_bound_speedup": round(self.cpu_bound_speedup, 3) if self.cpu_bound_speedup else None,
        }

    @property
    def cpu_bound_speedup(self) -> float | None:
        """Workers' CPU time, all of them / the busiest one's: the speed-up over one worker that
        this run's division of the work allows when each worker has a core to itself (it does
        not depend on how busy the machine was)."""
        busiest = max(self.worker_cpu_seconds.values(), default=0.0)
        return sum(self.worker_cpu_seconds.values()) / busiest if busiest > 0 else None


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
                                   data=rec.patient.model_dump_json(), version=rec.version))
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
                trial_block: int = DEFAULT_TRIAL_BLOCK, restart: bool = False,
                min_partitions: int = MIN_PARTITIONS) -> tuple[OutputPaths, Plan, dict]:
    """The partitions of a run on ``out`` and the manifest entries already finished there.

    The layout (block counts) recorded with earlier results on ``out`` is reused, so that only
    the blocks whose patients or trials changed get new keys; ``restart`` starts over.
    """
    paths = OutputPaths.for_out(out)
    meta = None if restart else read_meta(paths)
    if meta and meta.get("row_format") != ROW_FORMAT:  # rows of another layout: redo all
        restart, meta = True, None
    if meta and meta.get("format") == paths.fmt and meta.get("layout"):
        layout = Layout(int(meta["layout"]["patient_blocks"]), int(meta["layout"]["trial_blocks"]))
    else:
        layout = choose_layout(len(patients), len(trials), patient_block, trial_block, min_partitions)
    plan = plan_partitions(patients, trials, layout, compiler_version=compiler_version, as_of=as_of)
    done = {} if restart else finished_partitions(paths)
    if restart:
        remove_stale(paths, keep=())
    write_meta(paths, {"format": paths.fmt, "layout": layout.to_json(), "compiler_version": compiler_version,
                       "row_format": ROW_FORMAT})
    return paths, plan, done


def run_screen(store, patients: list[PatientItem], out: Path | str, *, statuses: list[str] | None = None,
               as_of: dt.date | None = None, scheduler: str | None = None, workers: int | None = None,
               patient_block: int = DEFAULT_PATIENT_BLOCK, trial_block: int = DEFAULT_TRIAL_BLOCK,
               restart: bool = False, client=None, use_index: bool = False,
               progress: Callable[[int, int, int], None] | None = None, compiler_version: str | None = None,
               matcher: Callable | None = None, preload: bool = True,
               min_partitions: int = MIN_PARTITIONS) -> ScreenResult:
    """Screen every patient against every (kept) trial of ``store`` on Dask and write the results.

    Parameters
    ----------
    store : TrialStore
        Its trials' criteria must be compiled (``ensure_compiled``); its URL must be readable by
        the workers (not ``sqlite:///:memory:``, except with ``workers=0``).
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
        Worker processes of the LocalCluster (default: one per core); 0: no Dask, the partitions
        run one after another in this process (with ``store`` itself).
    patient_block, trial_block : int
        At most about how many patients and trials a partition holds (on a new output; trials
        are cut finer to make at least ``min_partitions``).
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
    compiler_version : str, optional
        Whose compiled criteria to use (default: the current compiler's).
    matcher : callable, optional
        ``matcher(patient, [(trial, compiled)], as_of) -> [TrialMatch]`` instead of
        ``match_patient`` (a module-level function, so that Dask can send it); its name is part
        of every partition's key.
    preload : bool
        Have every worker load the trials of the partitions to do before they start (when at
        most :data:`PRELOAD_MAX_TRIALS`), timed as ``load_seconds`` and left out of ``seconds``.
    min_partitions : int
        A new output is cut into at least this many partitions (when there are that many trials;
        default :data:`~trialmatch.screening.partitions.MIN_PARTITIONS`).

    Returns
    -------
    ScreenResult
    """
    if compiler_version is None:
        from trialmatch.criteria import COMPILER_VERSION as compiler_version
    local = workers == 0 and scheduler is None and client is None
    if not local:
        _check_url(store.url)
    index_revision = None
    if use_index:
        from trialmatch.store.candidate_index import sync_candidate_index

        sync_candidate_index(store, compiler_version)
        index_revision = store.revision()
    trials = trial_refs(store, compiler_version, statuses)
    # the choice of index and of matcher is part of every partition's key (their rows differ)
    key_version = compiler_version + ("+index" if use_index else "") + (
        f"+matcher:{getattr(matcher, '__module__', '?')}.{getattr(matcher, '__qualname__', repr(matcher))}"
        if matcher is not None else "")
    paths, plan, done = plan_screen(patients, trials, out, compiler_version=key_version,
                                    as_of=as_of, patient_block=patient_block, trial_block=trial_block,
                                    restart=restart, min_partitions=min_partitions)
    todo = [p for p in plan.partitions if done.get(p.name, {}).get("key") != p.key]
    result = ScreenResult(out=paths.out, fmt=paths.fmt, patients=len(patients), trials=len(trials),
                          partitions=len(plan.partitions), skipped=len(plan.partitions) - len(todo), ran=0,
                          pairs=plan.pairs, layout=plan.layout, plan=plan)
    total = sum(p.pairs for p in todo)
    if progress:
        progress(0, total, 0)
    kwargs = dict(store_url=store.url, compiler_version=compiler_version, as_of=as_of, out=str(paths.out),
                  index_revision=index_revision, matcher=matcher)
    if todo and local:
        _run_local(store, todo, result, progress, total, **kwargs)
    elif todo:
        cluster = _Cluster(scheduler, workers, client)
        try:
            result.workers = cluster.n_workers()
            needed = {t.trial_id: t for p in todo for t in p.trials}
            warm = preload and len(needed) <= PRELOAD_MAX_TRIALS
            if warm:
                result.load_seconds = _preload(cluster.client, list(needed.values()), store.url, compiler_version)
                todo = sorted(todo, key=lambda p: -p.pairs)  # largest first: every worker holds every trial
            cpu0 = _worker_cpu(cluster.client)
            t0 = time.perf_counter()
            _submit_all(cluster.client, todo, result, progress, total, **kwargs)
            result.seconds = time.perf_counter() - t0
            cpu1 = _worker_cpu(cluster.client)
            same = set(cpu0) & set(cpu1)
            result.worker_cpu_seconds = {w: cpu1[w] - cpu0[w] for w in sorted(same)}
            result.cpu_seconds = sum(result.worker_cpu_seconds.values()) if same else None
        finally:
            cluster.close()
    if not result.failed:
        names = [p.name for p in sorted(plan.partitions, key=lambda p: p.name)]
        result.stale_removed = remove_stale(paths, keep=names)
        join_parts(paths, names)
    return result


def _preload(client, refs: list[TrialRef], url: str, compiler_version: str) -> float:
    """Every worker loads and prepares ``refs``; returns the wall time (all workers at once)."""
    from trialmatch.screening.worker import preload_trials

    t0 = time.perf_counter()
    try:
        client.run(preload_trials, url, compiler_version, refs)
    except Exception as exc:  # noqa: BLE001 - a worker lost meanwhile: the partitions load what they need
        logging.getLogger(__name__).warning("preloading trials on the workers failed (%s: %s); "
                                            "each partition loads its trials", exc.__class__.__name__, exc)
    return time.perf_counter() - t0


def _worker_cpu(client) -> dict[str, float]:
    """CPU seconds of every worker process so far, by worker address."""
    from trialmatch.screening.worker import process_cpu_seconds

    try:
        return dict(client.run(process_cpu_seconds))
    except Exception:  # noqa: BLE001 - a worker lost while asking: no CPU figure
        return {}


def _run_local(store, todo, result: ScreenResult, progress, total: int, **kwargs) -> None:
    """The partitions one after another in this process, reading trials through ``store`` itself."""
    from trialmatch.screening import worker

    # this store object under a name of its own: the per-process trial cache is keyed on it (two
    # in-memory stores share one URL)
    token = store.__dict__.setdefault("_screen_local_token", next(_LOCAL_TOKENS))
    kwargs = {**kwargs, "store_url": f"{store.url}#local-{token}"}
    worker._STORES[kwargs["store_url"]] = store
    result.workers = 0
    done_pairs = 0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        for part in todo:
            try:
                worker.screen_partition(part, freeze=False, **kwargs)
            except Exception as exc:  # noqa: BLE001 - reported per partition, as a Dask task's error is
                result.failed.append((part.name, f"{exc.__class__.__name__}: {exc}"))
            else:
                result.ran += 1
                result.pairs_run += part.pairs
                result.ran_partitions.append(part.name)
                done_pairs += part.pairs
            if progress:
                progress(done_pairs, total, len(result.failed))
    finally:
        worker._STORES.pop(kwargs["store_url"], None)
        result.seconds = time.perf_counter() - t0
        result.cpu_seconds = time.process_time() - c0


def _submit_all(client, todo, result: ScreenResult, progress, total: int, **kwargs) -> None:
    from distributed import as_completed

    from trialmatch.screening.worker import screen_partition

    n = len(todo)
    # in ``todo`` order (the scheduler runs higher priority first)
    futures = {client.submit(screen_partition, p, pure=False, key=f"screen-{p.name}-{p.key[:12]}", priority=n - i,
                             **kwargs): p
               for i, p in enumerate(todo)}
    done_pairs = 0
    for fut in as_completed(futures):
        part = futures[fut]
        if fut.status == "finished":
            result.ran += 1
            result.pairs_run += part.pairs
            result.ran_partitions.append(part.name)
            done_pairs += part.pairs
        else:
            exc = fut.exception()
            result.failed.append((part.name, f"{exc.__class__.__name__}: {exc}"))
        if progress:
            progress(done_pairs, total, len(result.failed))
        fut.release()
