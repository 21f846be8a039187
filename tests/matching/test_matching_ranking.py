"""PatientRanking: one patient's ranking kept for many views and for trial-set updates.

Every view must be exactly what ``match_patient`` gives with the same arguments on the same
trials, and a refresh must re-evaluate only the trials that changed."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialmatch
from trialmatch.criteria import compile_criteria
from trialmatch.matching import PatientRanking, match_patient, rank_patient
from trialmatch.patients import read_patient
from trialmatch.trials import read_path

DEMO = Path(trialmatch.__file__).parent / "demo"


@pytest.fixture(scope="module")
def pairs():
    out = []
    for f in sorted((DEMO / "trials").iterdir()):
        for r in read_path(f):
            assert r.trial is not None, r.error
            out.append((r.trial, compile_criteria(r.trial)))
    assert len(out) >= 7
    return out


@pytest.fixture(scope="module", params=sorted(p.name for p in (DEMO / "patients").glob("*.json")))
def patient(request):
    return read_patient(DEMO / "patients" / request.param)


def dump(report):
    return report.model_dump()


@pytest.mark.parametrize("view", [
    {}, {"top": 3}, {"top": 1}, {"statuses": ["recruiting"]}, {"statuses": ["closed"], "top": 2},
    {"trial_ids": ["NCT90000002", "NCT90000007"]}, {"trial_ids": ["NCT90000002", "NCT00000000"]},
])
def test_every_view_equals_match_patient(pairs, patient, view):
    ranking = rank_patient(patient, pairs)
    assert isinstance(ranking, PatientRanking) and len(ranking) == len(pairs)
    assert dump(ranking.report(**view)) == dump(match_patient(patient, pairs, **view))


def test_views_of_verdicts_and_open_trials(pairs, patient):
    ranking = rank_patient(patient, pairs)
    full = match_patient(patient, pairs)
    counts = ranking.counts()
    assert sum(counts.values()) == len(pairs)
    for verdict, n in counts.items():
        report, kept = ranking.view(verdicts=[verdict])
        assert kept == n == len(report.results)
        assert [r.trial_id for r in report.results] == [r.trial_id for r in full.results if r.verdict == verdict]
    report, kept = ranking.view(include_closed=False, top=2)
    open_ids = [r.trial_id for r in full.results if not r.closed]
    assert kept == len(open_ids) and [r.trial_id for r in report.results] == open_ids[:2]
    with pytest.raises(ValueError, match="eligible, uncertain"):
        ranking.report(verdicts=["maybe"])
    with pytest.raises(ValueError, match="recruiting"):
        ranking.report(statuses=["nonsense"])


def test_refresh_re_evaluates_only_changed_trials(pairs, patient):
    ranking = rank_patient(patient, pairs)
    assert ranking.refresh(pairs) == 0  # same objects: nothing to do
    # one trial changed (a new object, as the store hands back after an update), one removed
    (t0, c0), (t1, _c1) = pairs[0], pairs[1]
    changed = t0.model_copy(update={"title": "An updated title", "conditions": ["Asthma"]})
    new_pairs = [(changed, compile_criteria(changed))] + pairs[2:]
    assert ranking.refresh(new_pairs) == 1
    assert len(ranking) == len(pairs) - 1
    assert t1.id not in {tid for tid, _, _ in ranking.summary()}
    assert dump(ranking.report()) == dump(match_patient(patient, new_pairs))


@pytest.mark.parametrize("view", [{}, {"top": 2}, {"statuses": ["recruiting"]}, {"trial_ids": ["NCT90000007"]}])
def test_view_json_is_the_reports_output_json(pairs, patient, view):
    import json

    ranking = rank_patient(patient, pairs)
    for _ in range(2):  # built, then from the per-result memo
        body = ranking.view_json(**view)
        expected = json.dumps(match_patient(patient, pairs, **view).to_output_json(), ensure_ascii=False,
                              separators=(",", ":"), default=str).encode("utf-8")
        assert body == expected


def test_explained_results_are_rebuilt_for_changed_trials(pairs, patient):
    ranking = rank_patient(patient, pairs)
    before = ranking.view_json()
    t0, _ = pairs[0]
    changed = t0.model_copy(update={"title": "A different title"})
    new_pairs = [(changed, compile_criteria(changed))] + pairs[1:]
    ranking.refresh(new_pairs)
    after = ranking.view_json()
    assert after != before and b"A different title" in after
    assert dump(ranking.report()) == dump(match_patient(patient, new_pairs))
