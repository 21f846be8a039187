"""Keep compiled criteria in step with the stored trials."""

from __future__ import annotations

from collections.abc import Callable

from trialmatch.store.store import TrialStore


def ensure_compiled(store: TrialStore, progress: Callable[[int, int], None] | None = None,
                    batch_size: int = 500, errors: list[tuple[str, str]] | None = None) -> int:
    """Compile the criteria of every current trial version that lacks them for this compiler.

    Returns how many trials were compiled. ``progress(done, total)`` is called after each batch.
    Each batch is written in one transaction. A trial whose compilation raises is left out (and
    retried on the next call); when ``errors`` is given, ``(trial id, message)`` is appended to
    it, else the exception propagates.
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
            try:
                compiled = compile_criteria(trial)
            except Exception as exc:  # noqa: BLE001 - reported, the other trials still compile
                if errors is None:
                    raise
                errors.append((trial.id, f"{exc.__class__.__name__}: {exc}"))
                continue
            items.append((trial.id, versions[trial.id], compiled))
        if items:
            store.save_compiled_many(items)
        done += len(items)
        if progress:
            progress(start + len(chunk), total)
    return done
