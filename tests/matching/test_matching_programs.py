"""Value programs (ranking without explanations) against the explaining evaluator, on real trials
and real patients: every criterion's outcome and every trial's verdict and score must agree."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import pytest

from trialmatch.criteria import compile_criteria
from trialmatch.criteria import model as cm
from trialmatch.matching import match_patient, prepare_trials, rank_patient
from trialmatch.matching.evaluate import (
    CONFIRM, DEFAULT_OPTIONS, NA, decide, is_static, node_key, outcome_from, target_atom_keys,
)
from trialmatch.matching.facts import build_index
from trialmatch.matching.programs import atom_memo_for, criterion_program, own_condition_program
from trialmatch.patients import read_patient, read_patient_bytes
from trialmatch.patients import model as pm
from trialmatch.patients.asof import patient_as_of
from trialmatch.trials import read_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
N_TOPICS = 8


@pytest.fixture(scope="module")
def real(data_dir):
    """The 55 breast trials, the trials judged for the first TREC topics, and those topics' notes."""
    qrels: dict[str, set[str]] = defaultdict(set)
    with open(data_dir / "trec2021" / "qrels.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            q, d, _s = line.split()
            qrels[q].add(d)
    notes = {}
    with open(data_dir / "trec2021" / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            notes[rec["_id"]] = rec["text"]
    topics = sorted(q for q in qrels if q in notes)[:N_TOPICS]
    judged = set().union(*(qrels[q] for q in topics))
    trials = [r.trial for r in read_path(data_dir / "ctgov-v2" / "breast_trials.ndjson") if r.trial is not None]
    trials += [r.trial for r in read_path(data_dir / "hint" / "trials.ndjson")
               if r.trial is not None and r.trial.id in judged]
    pairs = [(t, compile_criteria(t)) for t in trials]
    prepare_trials(pairs)
    patients = [read_patient(p) for p in sorted(FIXTURES.glob("*.json")) if not p.name.endswith(".fhir.json")]
    patients += [read_patient_bytes(notes[q].encode("utf-8"), f"{q}.txt", fmt="text") for q in topics]
    return pairs, patients


def test_every_criterion_outcome_equals_the_explained_one(real):
    pairs, patients = real
    n = 0
    n_own = {True: 0, False: 0}
    for patient in patients:
        as_of = patient.as_of or dt.date.today()
        idx = build_index(patient_as_of(patient, as_of), as_of)
        memo = atom_memo_for(idx, DEFAULT_OPTIONS)
        for trial, compiled in pairs:
            targets = target_atom_keys(compiled.criteria, [*trial.conditions, trial.title])
            idx.cache["_targets"] = targets
            for c in compiled.criteria:
                if c.expression is None or is_static(c.expression):
                    continue
                tk = tuple(sorted({k for a in cm.iter_atoms(c.expression) if (k := node_key(a)) in targets}))
                fast = outcome_from(c.kind, criterion_program(c.expression, c.kind, tk)(idx, DEFAULT_OPTIONS, memo))
                full = decide(c.kind, c.expression, idx, DEFAULT_OPTIONS)
                assert fast == full[0], (patient.id, trial.id, c.id, c.text)
                n += 1
                if tk and fast == "unknown":  # open because it names the trial's own condition?
                    own = own_condition_program(c.expression, c.kind, tk)(idx, DEFAULT_OPTIONS, memo)
                    assert own == full[4], (patient.id, trial.id, c.id, c.text)
                    n_own[own] += 1
            idx.cache["_targets"] = None
    assert n > 20_000  # the comparison covered the real criteria
    assert n_own[True] > 50 and n_own[False] > 50, n_own  # ... and both answers of the own-condition check


def test_ranking_without_explanations_equals_the_full_report(real):
    pairs, patients = real
    for patient in patients:
        full = [(r.trial_id, r.verdict, r.score, r.deciding, r.to_confirm)
                for r in match_patient(patient, pairs).results]
        ranking = rank_patient(patient, pairs)
        assert [(t, v, s) for t, v, s, *_ in full] == ranking.summary()
        top = ranking.report(top=15).results
        assert [(r.trial_id, r.verdict, r.score, r.deciding, r.to_confirm) for r in top] == full[:15]
    verdicts = {v for p in patients for _t, v, _s in rank_patient(p, pairs).summary()}
    assert verdicts == {"eligible", "uncertain", "ineligible"}


def test_programs_follow_kleene_logic_and_stop_early():
    """Hand-built shapes: short-circuits give the same values as evaluating every item."""
    src = pm.Source(kind="json", locator="$.x")
    p = pm.Patient(id="k", age_years=50, sex="female", as_of=dt.date(2026, 1, 1),
                   labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=dt.date(2026, 1, 1), source=src)])
    idx = build_index(p, p.as_of)
    memo = atom_memo_for(idx, DEFAULT_OPTIONS)
    low = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L")  # False
    ok = cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10^9/L")  # True
    unk = cm.LabThreshold(analyte="hemoglobin", comparator=">=", value=9, unit="g/dL")  # None
    conf = cm.NeedsConfirmation(category="consent")  # CONFIRM
    man = cm.IfThen(condition=cm.Sex(allowed=["male"]), then=ok)  # NA for her
    cases = [
        (cm.AllOf(items=[low, unk]), False), (cm.AllOf(items=[unk, low]), False), (cm.AllOf(items=[ok, unk]), None),
        (cm.AllOf(items=[ok, conf]), CONFIRM), (cm.AllOf(items=[man, man]), NA), (cm.AllOf(items=[man, ok]), True),
        (cm.AnyOf(items=[unk, ok]), True), (cm.AnyOf(items=[low, unk]), None), (cm.AnyOf(items=[low, conf]), CONFIRM),
        (cm.AnyOf(items=[man]), NA), (cm.Not(item=low), True), (cm.Not(item=unk), None),
        (cm.Except(main=ok, exception=low), True), (cm.Except(main=low, exception=unk), False),
        (cm.Except(main=ok, exception=ok), False),
        (cm.IfThen(condition=unk, then=ok, otherwise=ok), True), (cm.IfThen(condition=unk, then=ok, otherwise=low), None),
        (cm.IfThen(condition=unk, then=low), None), (cm.IfThen(condition=unk, then=ok), True),
        (cm.IfThen(condition=low, then=unk, otherwise=ok), True), (cm.IfThen(condition=conf, then=low), False),
    ]
    for expr, expected in cases:
        got = criterion_program(expr, "inclusion")(idx, DEFAULT_OPTIONS, memo)
        assert got == expected, (expr, got)
        assert outcome_from("inclusion", got) == decide("inclusion", expr, idx, DEFAULT_OPTIONS)[0], expr
    with pytest.raises(ValueError, match="inclusion or exclusion"):
        criterion_program(ok, "heading")


def test_atoms_naming_the_trials_own_condition():
    """Under an exclusion, an atom naming the trial's own condition is unknown alone and only
    qualifies the other checks of an ``all_of`` (the programs get this from ``target_keys``)."""
    src = pm.Source(kind="json", locator="$.x")
    p = pm.Patient(id="a", age_years=40, sex="female", as_of=dt.date(2026, 1, 1),
                   conditions=[pm.OtherCondition(name="asthma", source=src)],
                   labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=dt.date(2026, 1, 1), source=src)])
    idx = build_index(p, p.as_of)
    memo = atom_memo_for(idx, DEFAULT_OPTIONS)
    asthma = cm.Condition(condition="asthma")
    ok = cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10^9/L")
    low = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L")
    tk = (node_key(asthma),)
    idx.cache["_targets"] = frozenset(tk)
    for expr, kind, expected in [
        (asthma, "exclusion", "unknown"), (asthma, "inclusion", "pass"),
        (cm.AllOf(items=[asthma, ok]), "exclusion", "fail"), (cm.AllOf(items=[asthma, low]), "exclusion", "pass"),
        (cm.AnyOf(items=[asthma, low]), "exclusion", "unknown"), (cm.Not(item=asthma), "inclusion", "unknown"),
    ]:
        fast = outcome_from(kind, criterion_program(expr, kind, tk)(idx, DEFAULT_OPTIONS, memo))
        full = decide(kind, expr, idx, DEFAULT_OPTIONS)
        assert fast == full[0] == expected, (expr, kind)
        assert own_condition_program(expr, kind, tk)(idx, DEFAULT_OPTIONS, memo) == full[4], (expr, kind)
