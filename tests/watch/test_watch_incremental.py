"""``run_watch`` on the screening partitions: after a change only the partitions holding it are
screened again, the others are reused, and the results equal a full re-screen."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pandas")

from trialmatch.criteria.model import Age, CompiledCriteria, Criterion, LabThreshold, Range, Receptor  # noqa: E402
from trialmatch.patients.model import Biomarker, LabResult, Patient  # noqa: E402
from trialmatch.screening import read_results, run_screen, stored_patients  # noqa: E402
from trialmatch.store import TrialStore  # noqa: E402
from trialmatch.trials.model import Provenance, Trial  # noqa: E402
from trialmatch.watch import run_watch  # noqa: E402

AS_OF = dt.date(2024, 6, 1)
CV = "test-watch-inc"
WS = "clinic"


def crit(cid: str, kind: str, expr) -> Criterion:
    return Criterion(id=cid, kind=kind, text=f"criterion {cid}", span=(0, 1), status="compiled", expression=expr)


AGE = crit("I1", "inclusion", Age(years=Range(low=18)))
PLT = crit("I2", "inclusion", LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10**9/L"))
ER_POS = crit("I3", "inclusion", Receptor(receptor="ER", status="positive"))
ER_NEG_EXCL = crit("E1", "exclusion", Receptor(receptor="ER", status="negative"))
OLD = crit("I4", "inclusion", Age(years=Range(low=60)))

CRITERIA = [[AGE], [AGE, PLT], [AGE, ER_POS], [AGE, PLT, ER_POS], [AGE, OLD], [AGE, ER_NEG_EXCL], [PLT], [AGE, PLT, OLD]]


def ingest(store, i: int, criteria, tag: str = "a") -> None:
    tid = f"TW-{i}"
    prov = Provenance(source_format="demo_json", sha256=(tag + str(i)) * 32,
                      ingested_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    store.ingest_trial(Trial(id=tid, title=f"{tid} {tag}", status="RECRUITING", provenance=prov),
                       CompiledCriteria(trial_id=tid, compiler_version=CV, criteria=criteria))


def patient(i: int, platelets: float | None = None) -> Patient:
    labs = [LabResult(analyte="platelets", value=platelets if platelets is not None else 80 + 30 * i, unit="10^9/L",
                      date=dt.date(2024, 5, 20))] if i % 3 else []
    return Patient(id=f"p{i}", sex="female", birth_date=dt.date(1950 + 5 * i, 1, 1), labs=labs,
                   biomarkers=[Biomarker(name="ER", status="positive" if i % 2 else "negative")])


@pytest.fixture()
def store(tmp_path):
    st = TrialStore(f"sqlite:///{tmp_path / 'inc.db'}")
    for i, criteria in enumerate(CRITERIA):
        ingest(st, i, criteria)
    for i in range(6):
        st.save_patient(patient(i), WS)
    return st


def watch(store, **kw):
    return run_watch(store, as_of=kw.pop("as_of", AS_OF), compiler_version=CV, compile=False,
                     patient_block=2, trial_block=2, **kw)


def rows(out):
    df = read_results(out)
    df = df.assign(deciding=df.deciding_ids.map(list), missing=df.missing_facts.map(list),
                   step_list=df.steps.map(lambda s: [dict(x) for x in s]))
    return sorted(zip(df.patient_source, df.trial_id, df.trial_version, df.verdict, df.score.round(9),
                      df.deciding.map(tuple), df.missing.map(tuple)))


def full_rescreen(store, tmp_path, name):
    out = tmp_path / f"{name}.parquet"
    res = run_screen(store, stored_patients(store, WS), out, as_of=AS_OF, workers=0, compiler_version=CV,
                     patient_block=2, trial_block=2)
    assert not res.failed and res.ran == res.partitions
    return rows(out)


def partitions_of(out, trial_id=None, patient_source=None):
    df = read_results(out)
    if trial_id is not None:
        df = df[df.trial_id == trial_id]
    if patient_source is not None:
        df = df[df.patient_source == patient_source]
    return set(df.partition)


def test_only_partitions_touching_a_change_are_rescreened(store, tmp_path):
    first = watch(store)
    sc = first.screen
    out = sc["out"]
    assert out and out.endswith(".watch/_all.parquet")  # beside the store file
    n_parts = sc["partitions"]
    assert n_parts > 8 and sc["ran"] == n_parts and sc["reused"] == 0
    assert first.pairs == 6 * len(CRITERIA) == sc["pairs_screened"] == sc["pairs_compared"] == len(first.changes)
    assert {c.change for c in first.changes} == {"new"}

    # a new version of trial TW-4 (age >= 60 becomes age >= 18 and platelets >= 100)
    ingest(store, 4, [AGE, PLT], tag="b")
    touching = partitions_of(out, trial_id="TW-4")
    second = watch(store)
    sc = second.screen
    assert 0 < len(touching) < n_parts
    assert sc["ran"] == len(touching) and sc["reused"] == n_parts - len(touching) and sc["partitions"] == n_parts
    pairs_touching = sum(1 for _ in read_results(out).query("partition in @touching").itertuples())
    assert sc["pairs_screened"] == sc["pairs_compared"] == pairs_touching
    assert {c.trial_id for c in second.changes} == {"TW-4"}
    assert second.changes and all(c.trial_version == 2 for c in second.changes)
    # the incremental results are the full re-screen's
    assert rows(out) == full_rescreen(store, tmp_path, "full-after-trial")

    # a new record of patient p1 (platelets 50: fails every platelet criterion)
    store.save_patient(patient(1, platelets=50), WS)
    source = f"store:{WS}/p1@v1"
    hers = partitions_of(out, patient_source=source)
    third = watch(store)
    sc = third.screen
    assert sc["ran"] == len(hers) and sc["reused"] == n_parts - len(hers)
    assert third.changes and {c.patient_id for c in third.changes} == {"p1"}
    assert {(c.trial_id, c.change) for c in third.changes} >= {("TW-1", "no_longer_eligible")}
    assert rows(out) == full_rescreen(store, tmp_path, "full-after-patient")

    # nothing changed: nothing screened, nothing compared
    fourth = watch(store)
    assert fourth.changes == [] and fourth.screen["ran"] == 0 and fourth.screen["pairs_compared"] == 0
    assert fourth.pairs == 6 * len(CRITERIA)

    # another date moves every key
    later = watch(store, as_of=dt.date(2025, 6, 1))
    assert later.screen["ran"] == n_parts


def test_a_run_on_one_workspace_between_makes_the_next_compare_again(store, tmp_path):
    for i in range(2):
        store.save_patient(patient(i), "other")
    base = watch(store)
    assert base.screen["pairs_compared"] == 8 * len(CRITERIA)
    ingest(store, 2, [AGE], tag="c")  # ER positive no longer required
    one = watch(store, workspace="other")  # its own results folder; updates the snapshots of "other"
    assert one.screen["out"].endswith("other.parquet") and {c.workspace for c in one.changes} == {"other"}
    both = watch(store)
    # the snapshots changed since this folder's last run: every pair is compared again, and only
    # clinic's changes (not yet reported) come out
    assert both.screen["pairs_compared"] == both.pairs == 8 * len(CRITERIA)
    assert both.changes and {c.workspace for c in both.changes} == {WS}
    assert {c.trial_id for c in both.changes} == {"TW-2"}
    assert watch(store).changes == []


def test_removed_trial_and_new_trial(store):
    watch(store)
    with store.transaction() as conn:  # TW-7 leaves the store
        from trialmatch.store import schema

        for t in (schema.compiled_criteria, schema.trial_versions, schema.trials):
            col = t.c.trial_id if "trial_id" in t.c else t.c.id
            conn.execute(t.delete().where(col == "TW-7"))
    ingest(store, 9, [AGE])
    rep = watch(store)
    kinds = {(c.trial_id, c.change) for c in rep.changes}
    assert kinds == {("TW-7", "removed"), ("TW-9", "new")}
    assert sum(1 for c in rep.changes if c.change == "removed") == 6
    assert rep.screen["ran"] < rep.screen["partitions"]


def test_dask_workers_give_the_same_changes(store, tmp_path):
    pytest.importorskip("distributed")
    screen_out = tmp_path / "dask-results"
    first = watch(store, workers=2, screen_out=screen_out)
    assert first.screen["workers"] == 2 and first.screen["out"].startswith(str(screen_out))
    ingest(store, 1, [AGE, PLT, ER_NEG_EXCL], tag="d")
    second = watch(store, workers=2, screen_out=screen_out)
    local = watch(store, screen_out=tmp_path / "local-results")  # a fresh folder, in this process
    assert local.screen["ran"] == local.screen["partitions"]
    assert second.screen["ran"] < second.screen["partitions"]
    assert rows(second.screen["out"]) == rows(local.screen["out"])
    assert {c.trial_id for c in second.changes} == {"TW-1"} and local.changes == []
