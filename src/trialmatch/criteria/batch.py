"""Compile many trials at once, on every core.

Compiling is pure CPU work on independent trials, so a large batch (a first ingest, a sync, a
compiler upgrade) is spread over worker processes; small batches stay in this process, where
starting workers would cost more than it saves. Results come back in input order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from trialmatch.criteria.compile import compile_criteria, compile_text
from trialmatch.criteria.model import CompiledCriteria
from trialmatch.trials.model import Trial

#: below this many trials, compile in this process
PARALLEL_THRESHOLD = 200

CompileResult = tuple[str, "CompiledCriteria | None", "str | None"]


def default_workers() -> int:
    """Worker processes to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _compile_one(trial: Trial) -> CompileResult:
    try:
        return trial.id, compile_criteria(trial), None
    except Exception as exc:  # noqa: BLE001 - reported per trial; the others still compile
        return trial.id, None, f"{exc.__class__.__name__}: {exc}"


def _compile_text_one(item: tuple[str, str]) -> CompileResult:
    trial_id, text = item
    try:
        return trial_id, compile_text(text, trial_id), None
    except Exception as exc:  # noqa: BLE001
        return trial_id, None, f"{exc.__class__.__name__}: {exc}"


def _run(func, items: Sequence, workers: int | None) -> Iterator[CompileResult]:
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(items) < PARALLEL_THRESHOLD:
        for item in items:
            yield func(item)
        return
    # fork: the workers inherit the loaded vocabularies and compiled patterns
    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    chunksize = max(1, min(64, len(items) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(func, items, chunksize=chunksize)


def compile_many(trials: Sequence[Trial], workers: int | None = None) -> Iterator[CompileResult]:
    """Compile each trial's criteria: yields ``(trial id, compiled or None, error or None)``.

    Parameters
    ----------
    trials : sequence of Trial
    workers : int, optional
        Worker processes (default: the available cores; 1 compiles in this process).
    """
    yield from _run(_compile_one, list(trials), workers)


def compile_texts(items: Sequence[tuple[str, str]], workers: int | None = None) -> Iterator[CompileResult]:
    """Like :func:`compile_many` for raw ``(trial id, criteria text)`` pairs."""
    yield from _run(_compile_text_one, list(items), workers)
