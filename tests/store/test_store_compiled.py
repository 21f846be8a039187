"""ensure_compiled: compiles what lacks criteria for this compiler, once; a trial whose
compilation raises is reported and left for the next call, the others are stored."""

from __future__ import annotations

import json

import pytest

import trialmatch.criteria as criteria
import trialmatch.criteria.batch as batch
from trialmatch.store import StoreError, TrialStore, ensure_compiled
from trialmatch.trials import read_bytes


def _trial(nct: str, criteria_text: str):
    doc = {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": f"Trial {nct}"},
        "statusModule": {"overallStatus": "RECRUITING"},
        "eligibilityModule": {"eligibilityCriteria": criteria_text},
    }}
    [res] = read_bytes(json.dumps(doc).encode(), f"{nct}.json")
    assert res.ok, res.error
    return res.trial


@pytest.fixture()
def store(db_url) -> TrialStore:
    s = TrialStore(db_url)
    s.ingest_trials([
        _trial("NCT90000201", "Inclusion Criteria:\n* ECOG performance status 0-1"),
        _trial("NCT90000202", "Inclusion Criteria:\n* Age 18 years or older"),
    ])
    return s


def test_compiles_each_trial_once(store):
    calls = []
    assert ensure_compiled(store, progress=lambda d, t: calls.append((d, t))) == 2
    assert calls[-1] == (2, 2)
    for tid in ("NCT90000201", "NCT90000202"):
        cc = store.get_compiled(tid, criteria.COMPILER_VERSION)
        assert cc is not None and cc.compiler_version == criteria.COMPILER_VERSION
    assert ensure_compiled(store) == 0
    assert store.trials_needing_compile(criteria.COMPILER_VERSION) == []


def test_a_failing_trial_is_reported_and_retried(store, monkeypatch):
    real = criteria.compile_criteria

    def flaky(trial):
        if trial.id == "NCT90000202":
            raise ValueError("boom")
        return real(trial)

    monkeypatch.setattr(batch, "compile_criteria", flaky)
    errors: list[tuple[str, str]] = []
    assert ensure_compiled(store, errors=errors) == 1
    assert errors == [("NCT90000202", "ValueError: boom")]
    assert store.get_compiled("NCT90000202", criteria.COMPILER_VERSION) is None
    with pytest.raises(StoreError, match="NCT90000202.*ValueError: boom"):  # without an errors list: an error naming the trial
        ensure_compiled(store)
    monkeypatch.setattr(batch, "compile_criteria", real)
    assert ensure_compiled(store) == 1
    assert store.trials_needing_compile(criteria.COMPILER_VERSION) == []
