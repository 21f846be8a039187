"""load_for_matching after a change reads again only what changed, and keeps the other objects."""

from __future__ import annotations

from pathlib import Path

import trialmatch
from trialmatch.criteria import COMPILER_VERSION, compile_criteria
from trialmatch.store import TrialStore, ensure_compiled
from trialmatch.trials import read_path

DEMO = Path(trialmatch.__file__).parent / "demo" / "trials"


def demo_trials():
    return [r.trial for f in sorted(DEMO.iterdir()) for r in read_path(f) if r.trial is not None]


def test_reload_keeps_unchanged_objects_and_reads_changed_ones(db_url):
    store = TrialStore(db_url)
    trials = demo_trials()
    store.ingest_trials(trials)
    ensure_compiled(store, workers=1)
    first = store.load_for_matching(COMPILER_VERSION)
    assert [t.id for t, _ in first] == sorted(t.id for t in trials)
    assert store.load_for_matching(COMPILER_VERSION) is first  # same revision: the same list

    # a new version of one trial
    target = trials[0]
    changed = target.model_copy(update={"title": "Updated title"})
    changed = changed.model_copy(update={"provenance": changed.provenance.model_copy(update={"sha256": "f" * 64})})
    assert store.ingest_trials([changed])[changed.id] == "updated"
    ensure_compiled(store, workers=1)
    second = store.load_for_matching(COMPILER_VERSION)
    old = {t.id: (t, c) for t, c in first}
    new = {t.id: (t, c) for t, c in second}
    assert new.keys() == old.keys()
    assert new[target.id][0].title == "Updated title" and new[target.id][0] is not old[target.id][0]
    for tid in new.keys() - {target.id}:
        assert new[tid][0] is old[tid][0] and new[tid][1] is old[tid][1]

    # compiled criteria rewritten for the same trial version: read again
    other = sorted(new.keys() - {target.id})[0]
    trial = new[other][0]
    recompiled = compile_criteria(trial).model_copy(update={"criteria": []})
    store.save_compiled_many([(other, 1, recompiled)])  # its first and only version
    third = {t.id: (t, c) for t, c in store.load_for_matching(COMPILER_VERSION)}
    assert third[other][1] is not new[other][1] and third[other][1].criteria == []
    assert third[target.id][1] is new[target.id][1]
