"""Keep compiled criteria in step with the stored trials."""

from __future__ import annotations

from collections.abc import Callable

from trialmatch.store.store import TrialStore


def ensure_compiled(store: TrialStore, progress: Callable[[int, int], None] | None = None,
                    batch_size: int = 500) -> int:
    """Compile the criteria of every current trial version that lacks them for this compiler.

    Returns how many trials were compiled. ``progress(done, total)`` is called after each batch.
    Each batch is written in one transaction.
    """
    from trialmatch.criteria import COMPILER_VERSION, compile_criteria

    todo = store.trials_needing_compile(COMPILER_VERSION)
    total = len(todo)
    done = 0
    for start in range(0, total, batch_size):
        chunk = todo[start:start + batch_size]
        versions = dict(chunk)
        items = []
        for trial in store.iter_trials(ids=list(versions)):
            items.append((trial.id, versions[trial.id], compile_criteria(trial)))
        store.save_compiled_many(items)
        done += len(chunk)
        if progress:
            progress(done, total)
    return done
