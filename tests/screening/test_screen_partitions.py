"""Partition layout and keys (no Dask needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.screening.partitions import (
    Layout, PatientItem, TrialRef, choose_layout, plan_partitions, status_filter,
)


def _patients(n):
    return [PatientItem(key=f"ws/p{i}", patient_id=f"p{i}", source=f"store:ws/p{i}@v1", data=f'{{"id":"p{i}"}}')
            for i in range(n)]


def _trials(n, version=1):
    return [TrialRef(f"NCT{i:08d}", version, "RECRUITING") for i in range(n)]


def test_every_pair_in_exactly_one_partition():
    pts, trs = _patients(23), _trials(101)
    plan = plan_partitions(pts, trs, choose_layout(23, 101, 5, 20), compiler_version="c", as_of=None)
    pairs = [(p.key, t.trial_id) for part in plan.partitions for p in part.patients for t in part.trials]
    assert len(pairs) == len(set(pairs)) == 23 * 101 == plan.pairs
    assert len({p.name for p in plan.partitions}) == len(plan.partitions)


def test_a_changed_trial_changes_only_its_blocks_keys():
    pts, trs = _patients(10), _trials(60)
    layout = Layout(3, 4)
    before = {p.name: p.key for p in plan_partitions(pts, trs, layout, compiler_version="c", as_of=None).partitions}
    trs2 = list(trs)
    trs2[7] = TrialRef(trs[7].trial_id, 2, "RECRUITING")  # a new version of one trial
    after = plan_partitions(pts, trs2, layout, compiler_version="c", as_of=None).partitions
    changed = {p.name for p in after if before[p.name] != p.key}
    holding = {p.name for p in after if any(t.trial_id == trs[7].trial_id for t in p.trials)}
    assert changed == holding and len(holding) == sum(1 for p in after if p.name.endswith(next(iter(holding))[-6:]))
    # another as_of date changes every key
    other = plan_partitions(pts, trs, layout, compiler_version="c", as_of=dt.date(2026, 1, 1)).partitions
    assert all(before[p.name] != p.key for p in other)


def test_duplicate_patient_and_bad_status_are_errors():
    pts = _patients(2)
    with pytest.raises(ValueError, match="given twice"):
        plan_partitions(pts + pts[:1], _trials(3), Layout(1, 1), compiler_version="c", as_of=None)
    assert status_filter(["recruiting"]) == {"RECRUITING"}
    assert "COMPLETED" in status_filter(["closed"])
    with pytest.raises(ValueError, match="unknown trial status 'recruting'"):
        status_filter(["recruting"])


def test_layout_cuts_patients_then_trials_to_reach_min_partitions():
    # by size alone: 1 patient block x 3 trial blocks; 32 partitions wanted: patients first
    assert choose_layout(16, 4921, 25, 2000) == Layout(11, 3)
    assert choose_layout(16, 4921, 25, 2000, min_partitions=1) == Layout(1, 3)
    # one patient a block is not enough: trials are cut finer
    assert choose_layout(3, 7, 2, 3) == Layout(3, 7)
    assert choose_layout(2, 100, 25, 2000) == Layout(2, 16)
    # large runs are cut by size
    assert choose_layout(1000, 500_000, 25, 2000) == Layout(40, 250)
    assert choose_layout(0, 0, 25, 2000) == Layout(1, 1)
