"""The candidate index: the trials it excludes are exactly ineligible by the full evaluation, with
its deciding criteria among the evaluator's; it follows ingests incrementally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialmatch.criteria import COMPILER_VERSION
from trialmatch.matching import match_patient, rank_patient
from trialmatch.patients import read_patient
from trialmatch.screening.index import CandidateIndex, match_with_index
from trialmatch.store import TrialStore
from conftest import real_patients  # noqa: E402  (tests/screening/conftest.py)
from trialmatch.store.candidate_index import indexable, sync_candidate_index

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "patients"


def _check_same_verdicts(store, patients) -> tuple[int, int]:
    """Assert index-backed matching equals the full matcher; returns (pairs, excluded by the index)."""
    index = CandidateIndex.from_store(store)
    pairs = store.load_for_matching(COMPILER_VERSION)
    n = n_ex = 0
    for p in patients:
        full = rank_patient(p, pairs)
        verdicts = {tid: v for tid, v, _s in full.summary()}
        excluded = index.excluded(p)
        n_ex += len(excluded)
        n += len(verdicts)
        assert all(verdicts[t] == "ineligible" for t in excluded), p.id
        if excluded:
            deciding = {r.trial_id: set(r.deciding) for r in full.report(trial_ids=list(excluded)).results}
            for tid, hits in excluded.items():
                assert {h.criterion_id for h in hits} <= deciding[tid], (p.id, tid)
    return n, n_ex


def _male_only_trial(tmp_path: Path) -> Path:
    data = json.loads((REPO / "src" / "trialmatch" / "demo" / "trials" / "NCT90000001_apatinib_fulvestrant.json").read_text())
    text = json.dumps(data).replace("NCT90000001", "NCT90000099")
    data = json.loads(text)
    el = data["protocolSection"]["eligibilityModule"]
    el["sex"] = "MALE"
    assert "Women aged 18 years or older" in el["eligibilityCriteria"]
    el["eligibilityCriteria"] = el["eligibilityCriteria"].replace("Women aged 18 years or older", "Men aged 18 years or older")
    path = tmp_path / "NCT90000099.json"
    path.write_text(json.dumps(data))
    return path


def test_index_verdicts_equal_full_evaluation_on_demo_trials(tmp_path):
    from trialmatch.cli.ingest import run_ingest

    store = TrialStore(str(tmp_path / "ix.db"))
    assert run_ingest(store, [REPO / "src" / "trialmatch" / "demo" / "trials", _male_only_trial(tmp_path)],
                      compile_=True).ok
    patients = [read_patient(f) for f in sorted(FIXTURES.glob("*.json"))]
    patients += [read_patient(f) for f in sorted((REPO / "src" / "trialmatch" / "demo" / "patients").glob("*.json"))]
    n, n_ex = _check_same_verdicts(store, patients)
    assert n == len(patients) * 8 and n_ex >= len(patients)  # the male-only trial, at least, for each of them
    # match_with_index: same verdicts as match_patient for every trial; excluded ones carry the index's criterion
    index = CandidateIndex.from_store(store)
    pairs = store.load_for_matching(COMPILER_VERSION)
    for p in patients[:4]:
        a = {r.trial_id: r for r in match_patient(p, pairs).results}
        b = {r.trial_id: r for r in match_with_index(p, pairs, index).results}
        assert {t: r.verdict for t, r in a.items()} == {t: r.verdict for t, r in b.items()}
        assert b["NCT90000099"].deciding[0] in a["NCT90000099"].deciding
        assert b["NCT90000099"].criteria[0].outcome == "fail"
    assert len(match_with_index(patients[0], pairs, index, top=3).results) == 3
    assert {r.status for r in match_with_index(patients[0], pairs, index, statuses=["recruiting"]).results} == {"RECRUITING"}


def test_index_follows_ingests_incrementally(tmp_path):
    from trialmatch.cli.ingest import run_ingest

    store = TrialStore(str(tmp_path / "inc.db"))
    run_ingest(store, [REPO / "src" / "trialmatch" / "demo" / "trials"], compile_=True)  # ensure_compiled syncs it
    assert sync_candidate_index(store) == {"indexed": 0, "removed": 0}
    path = _male_only_trial(tmp_path)
    run_ingest(store, [path], compile_=True)
    assert sync_candidate_index(store) == {"indexed": 0, "removed": 0}  # done by the ingest's compile
    index = CandidateIndex.from_store(store, sync=False)
    female = read_patient(FIXTURES / "p7_denovo_palbo_eligible.json")
    assert "NCT90000099" in index.excluded(female)
    data = json.loads(path.read_text())  # a new version that admits women
    el = data["protocolSection"]["eligibilityModule"]
    el["sex"] = "ALL"
    el["eligibilityCriteria"] = el["eligibilityCriteria"].replace("Men aged 18 years or older", "Adults aged 18 years or older")
    path.write_text(json.dumps(data))
    run_ingest(store, [path], compile_=True)
    index = CandidateIndex.from_store(store)
    assert "NCT90000099" not in index.excluded(female)


def test_only_trial_independent_criteria_are_indexed():
    dx = {"kind": "diagnosis", "cancer_type": "breast_cancer"}
    age = {"kind": "age", "years": {"low": 18}}
    assert indexable("inclusion", dx) and indexable("exclusion", age)
    assert indexable("inclusion", {"kind": "all_of", "items": [dx, age]})
    assert not indexable("exclusion", dx)  # may name the trial's own condition
    assert not indexable("inclusion", {"kind": "not", "item": dx})
    assert not indexable("inclusion", {"kind": "all_of", "items": [dx, {"kind": "lab", "analyte": "anc"}]})
    assert not indexable("inclusion", None)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_index_verdicts_equal_full_evaluation_on_all_real_trials(data_dir, real_store, tmp_path):
    """All 4,921 trials of ../shared/data; the TREC 2021 notes and the fixture patients (JSON, FHIR).

    ``$TRIALMATCH_REAL_STORE``: a store already holding exactly those trials, compiled (e.g. the
    ``base.db`` that ``benchmarks/scale_bench.py --workdir`` keeps), to skip the compile.
    """
    store = real_store
    patients = real_patients(data_dir, every=5)
    assert len(patients) >= 25
    n, n_ex = _check_same_verdicts(store, patients)
    assert n == 4921 * len(patients)
    print(f"candidate index: {n_ex} of {n} pairs excluded ({n_ex / n:.1%})")
    assert n_ex > 0
