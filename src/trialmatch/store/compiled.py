"""Keep compiled criteria in step with the stored trials."""

from __future__ import annotations

from collections.abc import Callable

from trialmatch.store.store import StoreError, TrialStore


def ensure_compiled(store: TrialStore, progress: Callable[[int, int], None] | None = None,
                    batch_size: int = 1000, errors: list[tuple[str, str]] | None = None,
                    workers: int | None = None) -> int:
    """Compile the criteria of every current trial version that lacks them for this compiler.

    Returns how many trials were compiled. ``progress(done, total)`` is called after each batch.
    Each batch is compiled on ``workers`` processes (default: every available core; see
    :func:`trialmatch.criteria.batch.compile_many`) and written in one transaction. A trial
    whose compilation raises is left out (and retried on the next call); when ``errors`` is
    given, ``(trial id, message)`` is appended to it, else a :class:`StoreError` names the trial.
    """
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.criteria.batch import compile_many

    todo = store.trials_needing_compile(COMPILER_VERSION)
    total = len(todo)
    done = 0
    for start in range(0, total, batch_size):
        chunk = todo[start:start + batch_size]
        versions = dict(chunk)
        items = []
        for trial_id, compiled, error in compile_many(list(store.iter_trials(ids=list(versions))), workers):
            if compiled is None:
                if errors is None:
                    raise StoreError(f"could not compile the criteria of {trial_id}: {error}")
                errors.append((trial_id, error or "unknown error"))
                continue
            items.append((trial_id, versions[trial_id], compiled))
        if items:
            store.save_compiled_many(items)
        done += len(items)
        if progress:
            progress(start + len(chunk), total)
    from trialmatch.store.candidate_index import sync_candidate_index

    sync_candidate_index(store)  # the candidate index follows each ingest/sync (only changed trials)
    return done
