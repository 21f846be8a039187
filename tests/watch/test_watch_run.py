"""``run_watch`` reports exactly the changes between two states of the store."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria.model import (
    Age, CompiledCriteria, Criterion, LabThreshold, Range, Receptor,
)
from trialmatch.patients.model import Biomarker, GeneResult, LabResult, Patient, TrialAssignment, Treatment
from trialmatch.store import TrialStore
from trialmatch.trials.model import ProtocolStep, Provenance, Trial
from trialmatch.watch import Change, latest_changes, patient_as_of, run_watch

D = dt.date
AS_OF = D(2024, 6, 1)
CV = "test-watch"


def prov(tag: str) -> Provenance:
    return Provenance(source_format="demo_json", sha256=tag * 64, ingested_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))


def crit(cid: str, kind: str, expr) -> Criterion:
    return Criterion(id=cid, kind=kind, text=cid, span=(0, 1), status="compiled", expression=expr)


AGE = crit("I1", "inclusion", Age(years=Range(low=18)))
PLT = crit("I2", "inclusion", LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10**9/L"))
ER_POS = crit("I3", "inclusion", Receptor(receptor="ER", status="positive"))
ER_NEG_EXCL = crit("E1", "exclusion", Receptor(receptor="ER", status="negative"))


def trial(tid: str, tag: str, criteria: list[Criterion], steps=None, title=None):
    t = Trial(id=tid, title=title or tid, status="RECRUITING", provenance=prov(tag), steps=steps or [])
    return t, CompiledCriteria(trial_id=tid, compiler_version=CV, criteria=criteria)


STEPS = [ProtocolStep(number=1, name="Initial treatment", entry_event="registration"),
         ProtocolStep(number=2, name="Monitoring", entry_event="esr1_mutation_without_progression"),
         ProtocolStep(number=3, name="Follow-up", entry_event="progression_on_arm_a")]


def p1(version: int) -> Patient:
    p = Patient(id="p1", sex="female", birth_date=D(1960, 1, 1),
                biomarkers=[Biomarker(name="ER", status="positive", percent=90)],
                trial_assignments=[TrialAssignment(trial_id="TW-B", step=1, date=D(2024, 1, 10))],
                treatments=[Treatment(drugs=["palbociclib", "letrozole"], setting="metastatic", start=D(2024, 1, 15))])
    if version >= 2:  # a new lab and a dated ESR1 ctDNA result arrive
        p = p.model_copy(update={
            "labs": [LabResult(analyte="platelets", value=150, unit="10^9/L", date=D(2024, 5, 20))],
            "genes": [GeneResult(gene="ESR1", status="mutated", specimen="ctdna", date=D(2024, 5, 2))],
        })
    return p


def p2() -> Patient:
    return Patient(id="p2", sex="female", birth_date=D(1970, 1, 1),
                   biomarkers=[Biomarker(name="ER", status="negative", percent=0)],
                   labs=[LabResult(analyte="platelets", value=200, unit="10^9/L", date=D(2024, 5, 25))])


def keys(changes: list[Change]) -> set[tuple]:
    return {(c.workspace, c.patient_id, c.trial_id, c.change, c.before, c.after, c.step, c.fact) for c in changes}


@pytest.fixture()
def store(tmp_path):
    return TrialStore(f"sqlite:///{tmp_path / 'watch.db'}")


def watch(store, **kw):
    return run_watch(store, as_of=kw.pop("as_of", AS_OF), compiler_version=CV, compile=False, **kw)


def test_watch_reports_exactly_the_changes(store):
    ta, ca = trial("TW-A", "a", [AGE, PLT])
    tb, cb = trial("TW-B", "b", [AGE, ER_POS], steps=STEPS)
    store.ingest_trial(ta, ca)
    store.ingest_trial(tb, cb)
    store.save_patient(p1(1), "clinic")
    store.save_patient(p2(), "clinic")

    first = watch(store)
    assert first.baseline is True and first.patients == 2 and first.trials == 2
    assert keys(first.changes) == {
        ("clinic", "p1", "TW-A", "new", None, "uncertain", None, None),
        ("clinic", "p1", "TW-B", "new", None, "eligible", None, None),
        ("clinic", "p2", "TW-A", "new", None, "eligible", None, None),
        ("clinic", "p2", "TW-B", "new", None, "ineligible", None, None),
    }
    assert "step 1" in next(c for c in first.changes if c.trial_id == "TW-B" and c.patient_id == "p1").detail

    # new data: p1 gets a platelet count and an ESR1 ctDNA result; TW-A gets a new version
    # excluding ER-negative disease; a new trial TW-C arrives
    store.save_patient(p1(2), "clinic")
    ta2, ca2 = trial("TW-A", "c", [AGE, PLT, ER_NEG_EXCL], title="TW-A amended")
    store.ingest_trial(ta2, ca2)
    tc, cc = trial("TW-C", "d", [AGE])
    store.ingest_trial(tc, cc)

    second = watch(store)
    assert second.baseline is False
    assert keys(second.changes) == {
        ("clinic", "p1", "TW-A", "newly_eligible", "uncertain", "eligible", None, None),
        ("clinic", "p1", "TW-A", "missing_fact_known", "uncertain", "eligible", None, "lab:platelets"),
        ("clinic", "p1", "TW-B", "step_opened", "eligible", "eligible", 2, None),
        ("clinic", "p1", "TW-C", "new", None, "eligible", None, None),
        ("clinic", "p2", "TW-A", "no_longer_eligible", "eligible", "ineligible", None, None),
        ("clinic", "p2", "TW-C", "new", None, "eligible", None, None),
    }
    by = {(c.patient_id, c.trial_id, c.change): c for c in second.changes}
    assert by[("p1", "TW-A", "newly_eligible")].patient_version == 2
    assert by[("p2", "TW-A", "no_longer_eligible")].trial_version == 2
    assert latest_changes(store, "clinic") and keys(latest_changes(store, "clinic")) == keys(second.changes)

    third = watch(store)
    assert third.changes == [] and third.pairs == 6
    assert latest_changes(store, "clinic") == []

    # a deleted patient is erased with everything watch kept about her: nothing left to report
    store.delete_patient("p2", "clinic")
    fourth = watch(store)
    assert fourth.changes == [] and fourth.pairs == 3
    assert all(c.patient_id != "p2" for c in latest_changes(store, "clinic"))
    assert watch(store).changes == []


def test_as_of_ignores_later_facts(store):
    ta, ca = trial("TW-A", "a", [AGE, PLT])
    store.ingest_trial(ta, ca)
    store.save_patient(p1(2), "w")
    early = watch(store, as_of=D(2024, 5, 10))  # the platelet count (2024-05-20) is not there yet
    assert keys(early.changes) == {("w", "p1", "TW-A", "new", None, "uncertain", None, None)}
    later = watch(store, as_of=AS_OF)
    assert keys(later.changes) == {
        ("w", "p1", "TW-A", "newly_eligible", "uncertain", "eligible", None, None),
        ("w", "p1", "TW-A", "missing_fact_known", "uncertain", "eligible", None, "lab:platelets"),
    }


def test_workspaces_are_separate_and_a_failing_patient_is_reported(store):
    ta, ca = trial("TW-A", "a", [AGE, PLT])
    store.ingest_trial(ta, ca)
    store.save_patient(p2(), "one")
    store.save_patient(p2(), "two")
    r = watch(store, workspace="one")
    assert {c.workspace for c in r.changes} == {"one"} and r.workspaces == ["one"]
    assert latest_changes(store, "two") == []

    def flaky(patient, pairs, as_of):
        raise ValueError("boom")

    bad = run_watch(store, workspace="one", as_of=AS_OF, compiler_version=CV, compile=False, matcher=flaky)
    assert bad.changes == [] and len(bad.errors) == 1 and "boom" in bad.errors[0]
    # the failing run kept the snapshot: a good run afterwards reports nothing new
    assert watch(store, workspace="one").changes == []


def test_patient_as_of_truncates_facts():
    p = Patient(
        id="x", labs=[LabResult(analyte="platelets", value=1, date=D(2024, 1, 1)),
                      LabResult(analyte="platelets", value=2, date=D(2024, 3, 1)),
                      LabResult(analyte="anc", value=3)],
        genes=[GeneResult(gene="ESR1", status="mutated", specimen="ctdna", date=D(2024, 3, 1))],
        treatments=[Treatment(drugs=["letrozole"], start=D(2023, 1, 1), end=D(2024, 2, 1), progressed=True,
                              progression_date=D(2024, 2, 1), best_response="PD"),
                    Treatment(drugs=["fulvestrant"], start=D(2024, 2, 15))],
        trial_assignments=[TrialAssignment(trial_id="T", step=2, date=D(2024, 3, 1))],
    )
    q = patient_as_of(p, D(2024, 1, 15))
    assert [lab.value for lab in q.labs] == [1, 3]  # undated kept
    assert q.genes == [] and q.trial_assignments == [] and q.as_of == D(2024, 1, 15)
    assert len(q.treatments) == 1
    t = q.treatments[0]
    assert t.end is None and t.ongoing is True and t.progressed is None and t.progression_date is None
    assert t.best_response is None and t.duration_months == pytest.approx(12.5, abs=0.1)
    assert p.treatments[0].progressed is True  # the original is untouched
    assert patient_as_of(p, D(2024, 6, 1)).treatments == p.treatments
