"""What runs on a Dask worker: load a block's trials from the store (kept across tasks) and
screen a partition's patients against them.

Tasks carry only trial ids and versions, never trials: each worker process reads the trials it
needs from the store URL itself and keeps them in a per-process cache keyed on the store URL and
the compiler version, each trial under its version. A later task on the same trials (the same
trial block with another patient block, the usual order of a run) reuses them and their
matching plans; a trial whose version changed is read again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import and_, select

from trialmatch.screening.output import OutputPaths, record_partition, write_partition_file
from trialmatch.screening.partitions import Partition

#: (store url, compiler version) -> {trial id: (version, Trial, CompiledCriteria)}, oldest first
_CACHE: dict[tuple[str, str], "OrderedDict[str, tuple]"] = {}
_STORES: dict[str, Any] = {}
_LOCK = threading.Lock()
#: most trials one worker process keeps (the oldest read are dropped beyond it)
MAX_CACHED_TRIALS = 200_000
#: counters of this process (for tests and the benchmark): trials read from the store, cache hits
STATS = {"trials_loaded": 0, "trials_reused": 0, "partitions": 0}


class StoreChangedError(RuntimeError):
    """The store no longer holds the trial version a partition was planned with."""


def _store(url: str):
    from trialmatch.store import TrialStore

    st = _STORES.get(url)
    if st is None:
        st = _STORES[url] = TrialStore(url)
    return st


def load_trials(url: str, compiler_version: str, refs, freeze: bool = True) -> list[tuple]:
    """The ``(Trial, CompiledCriteria)`` pairs of ``refs`` (TrialRef), from this process's cache
    or the store.

    Trials read from the store get their matching plans at once (``prepare_trials``); with
    ``freeze`` (a worker process) the loaded set also goes to the collector's permanent
    generation.

    Raises
    ------
    StoreChangedError
        A trial is no longer in the store at the planned version, or lacks compiled criteria
        for ``compiler_version``: the store changed during the run (run the screen again).
    """
    from trialmatch.criteria.model import CompiledCriteria
    from trialmatch.store import schema
    from trialmatch.trials.model import Trial

    with _LOCK:
        cache = _CACHE.setdefault((url, compiler_version), OrderedDict())
        todo = [r for r in refs if (hit := cache.get(r.trial_id)) is None or hit[0] != r.version]
        STATS["trials_reused"] += len(refs) - len(todo)
        if todo:
            store = _store(url)
            tv, cc = schema.trial_versions, schema.compiled_criteria
            want = {r.trial_id: r.version for r in todo}
            found: dict[str, tuple] = {}
            ids = list(want)
            with store.engine.connect() as conn:
                for i in range(0, len(ids), 500):
                    chunk = ids[i:i + 500]
                    rows = conn.execute(
                        select(tv.c.trial_id, tv.c.version, tv.c.data, cc.c.data)
                        .join(cc, and_(cc.c.trial_id == tv.c.trial_id, cc.c.version == tv.c.version,
                                       cc.c.compiler_version == compiler_version))
                        .where(tv.c.trial_id.in_(chunk))).all()
                    for tid, version, tdata, cdata in rows:
                        if version == want[tid]:
                            found[tid] = (version, Trial.model_validate_json(tdata),
                                          CompiledCriteria.model_validate_json(cdata))
            lost = sorted(set(want) - set(found))
            if lost:
                raise StoreChangedError(
                    f"{len(lost)} trial(s) are no longer in the store {url} at the planned version with criteria "
                    f"compiled by {compiler_version} (first: {lost[0]}): the store changed during the run; "
                    "run the screen again")
            for tid, entry in found.items():
                cache[tid] = entry
                cache.move_to_end(tid)
            STATS["trials_loaded"] += len(found)
            while len(cache) > MAX_CACHED_TRIALS:
                cache.popitem(last=False)
        out = []
        for r in refs:
            _v, trial, compiled = cache[r.trial_id]
            cache.move_to_end(r.trial_id)
            out.append((trial, compiled))
    if todo:
        from trialmatch.matching import prepare_trials

        # their matching plans now, and the long-lived trial set out of the collector's full passes
        prepare_trials([tc for tc in out if tc[0].id in found], freeze=freeze)
    return out


def preload_trials(url: str, compiler_version: str, refs) -> dict[str, Any]:
    """Load and prepare ``refs`` into this process's cache before the partitions that need them
    (run on every worker at the start of a run: the once-per-worker cost, timed on its own).

    Returns
    -------
    dict
        ``trials`` (how many are cached now), ``loaded`` (read from the store by this call),
        ``seconds``, ``cpu_seconds``.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    before = STATS["trials_loaded"]
    load_trials(url, compiler_version, refs)
    return {"trials": len(refs), "loaded": STATS["trials_loaded"] - before,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def process_cpu_seconds() -> float:
    """CPU time of this process so far (all its threads): what a worker spent, read by the client."""
    return time.process_time()


def clear_cache() -> None:
    """Forget every cached trial of this process."""
    with _LOCK:
        _CACHE.clear()
        _STORES.clear()


def result_rows(partition: Partition, results, item, versions: dict[str, int], as_of: dt.date) -> list[dict[str, Any]]:
    """The result rows of one patient's :class:`~trialmatch.matching.TrialMatch` results."""
    when = as_of.isoformat()
    rows = []
    for tm in results:
        texts = {c.criterion_id: c.text for c in tm.criteria}
        rows.append({
            "patient_id": item.patient_id, "patient_source": item.source, "trial_id": tm.trial_id,
            "trial_version": versions[tm.trial_id], "trial_status": tm.status, "as_of": when,
            "verdict": tm.verdict, "score": float(tm.score),
            "deciding_ids": list(tm.deciding), "deciding_text": [texts.get(i, "") for i in tm.deciding],
            "missing_facts": [m.fact for m in tm.missing], "missing_text": [m.description for m in tm.missing],
            "steps": [{"number": st.number, "name": st.name, "verdict": st.verdict, "reason": st.reason}
                      for st in tm.steps],
            "partition": partition.name,
        })
    return rows


_INDEXES: dict[tuple, Any] = {}


def load_index(url: str, compiler_version: str, revision: int):
    """The store's :class:`~trialmatch.screening.index.CandidateIndex`, kept per process and revision."""
    from trialmatch.screening.index import CandidateIndex

    key = (url, compiler_version, revision)
    with _LOCK:
        index = _INDEXES.get(key)
        if index is None:
            _INDEXES.clear()
            index = _INDEXES[key] = CandidateIndex.from_store(_store(url), compiler_version, sync=False)
    return index


def excluded_rows(partition: Partition, item, as_of: str, excluded: dict) -> list[dict[str, Any]]:
    """Result rows of the trials the candidate index excluded for one patient (score left empty)."""
    rows = []
    for ref in partition.trials:
        hits = excluded.get(ref.trial_id)
        if hits is None:
            continue
        rows.append({
            "patient_id": item.patient_id, "patient_source": item.source, "trial_id": ref.trial_id,
            "trial_version": ref.version, "trial_status": ref.status, "as_of": as_of, "verdict": "ineligible",
            "score": None, "deciding_ids": [h.criterion_id for h in hits], "deciding_text": [h.text for h in hits],
            "missing_facts": [], "missing_text": [], "steps": [], "partition": partition.name,
        })
    return rows


def screen_partition(partition: Partition, *, store_url: str, compiler_version: str, as_of: dt.date | None,
                     out: str, include_evidence: bool = False, index_revision: int | None = None,
                     matcher=None, freeze: bool = True) -> dict[str, Any]:
    """Screen one partition and write its file (atomically); returns a summary for the client.

    Parameters
    ----------
    partition : Partition
    store_url : str
        The store's SQLAlchemy URL (every worker must reach it).
    compiler_version : str
        Whose compiled criteria to use.
    as_of : date, optional
        Evaluate every patient as of this date (default: her record's date, else today).
    out : str
        What was given as ``--out`` (its file or folder must be reachable from the worker).
    include_evidence : bool
        Attach patient facts to the outcomes (not written to the results; off for speed).
    index_revision : int, optional
        Use the store's candidate index (synced by the client at this store revision): trials it
        excludes for a patient are not evaluated; their rows are ``ineligible`` with the index's
        failed criteria as deciding, an empty score and no missing facts.
    matcher : callable, optional
        ``matcher(patient, [(trial, compiled)], as_of) -> [TrialMatch]`` instead of
        :func:`trialmatch.matching.match_patient` (the patient is given as of ``as_of``).
    freeze : bool
        Move newly loaded trials to the collector's permanent generation (a worker process).

    Returns
    -------
    dict
        ``name``, ``key``, ``rows``, ``seconds``, ``trials_loaded`` (read from the store by this task).
    """
    from trialmatch.matching import MatchOptions, match_patient
    from trialmatch.patients.asof import patient_as_of
    from trialmatch.patients.model import Patient

    t0 = time.perf_counter()
    loaded_before = STATS["trials_loaded"]
    pairs = load_trials(store_url, compiler_version, partition.trials, freeze=freeze)
    versions = {r.trial_id: r.version for r in partition.trials}
    options = MatchOptions(include_evidence=include_evidence)
    rows: list[dict[str, Any]] = []
    index = load_index(store_url, compiler_version, index_revision) if index_revision is not None else None
    for item in partition.patients:
        patient = Patient.model_validate_json(item.data)
        when = as_of or patient.as_of or dt.date.today()
        excluded: dict = {}
        if index is not None:
            excluded = index.excluded(patient, when, options)
        kept = [tc for tc in pairs if tc[0].id not in excluded] if excluded else pairs
        if matcher is None:
            report = match_patient(patient, kept, as_of=as_of if index is None else when, options=options)
            results, when = report.results, report.as_of
        else:
            results = list(matcher(patient_as_of(patient, when), kept, when))
        rows.extend(result_rows(partition, results, item, versions, when))
        if index is not None:
            rows.extend(excluded_rows(partition, item, when.isoformat(), excluded))
    paths = OutputPaths.for_out(out)
    write_partition_file(paths, partition.name, rows)
    record_partition(paths, partition.name, partition.key, len(rows))  # after the file: finished
    STATS["partitions"] += 1
    return {"name": partition.name, "key": partition.key, "rows": len(rows),
            "seconds": time.perf_counter() - t0, "trials_loaded": STATS["trials_loaded"] - loaded_before}
