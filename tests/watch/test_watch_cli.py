"""``trialmatch watch`` on the command line, and with the real seeds, compiler and matcher."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.patients.model import Biomarker, Diagnosis, GeneResult, Patient, TrialAssignment, Treatment
from trialmatch.store import TrialStore

D = dt.date


def seed004_patient(trial_id: str, with_esr1: bool) -> Patient:
    p = Patient(
        id="pt-004", sex="female", birth_date=D(1958, 3, 1), menopausal_status="postmenopausal",
        diagnoses=[Diagnosis(cancer_type="breast_cancer", extent="metastatic", stage="IV", date=D(2023, 11, 2))],
        biomarkers=[Biomarker(name="ER", status="positive", percent=90), Biomarker(name="HER2", status="negative", ihc_score="1+")],
        trial_assignments=[TrialAssignment(trial_id=trial_id, step=1, date=D(2024, 1, 10))],
        treatments=[Treatment(drugs=["palbociclib", "letrozole"], setting="metastatic", start=D(2024, 1, 15), ongoing=True)],
    )
    if with_esr1:
        p = p.model_copy(update={"genes": [GeneResult(gene="ESR1", status="mutated", variant="D538G", specimen="ctdna",
                                                       date=D(2024, 5, 2))]})
    return p


def test_cli_watch_with_real_seeds(tmp_path, seeds_dir):
    from trialmatch.trials import read_path

    db = str(tmp_path / "cli.db")
    store = TrialStore(db)
    trials = [r.trial for f in ("002_cc6ceb7d8253810e.txt", "004_21168ffcb5444652.txt")
              for r in read_path(seeds_dir / f) if r.trial is not None]
    assert len(trials) == 2
    try:
        from trialmatch.criteria import compile_criteria
    except ImportError:  # the criteria package face not re-exporting it yet
        from trialmatch.criteria.compile import compile_criteria
    store.ingest_trials(trials, {t.id: compile_criteria(t) for t in trials})
    t004 = next(t for t in trials if t.steps)
    store.save_patient(seed004_patient(t004.id, with_esr1=False), "clinic")
    runner = CliRunner()

    first = runner.invoke(app, ["watch", "--db", db, "--as-of", "2024-06-01", "--format", "json"])
    assert first.exit_code == 0, first.output
    rep = json.loads(first.stdout)
    assert rep["baseline"] is True and rep["trials"] == 2
    assert {(c["trial_id"], c["change"]) for c in rep["changes"]} == {(t.id, "new") for t in trials}

    store.save_patient(seed004_patient(t004.id, with_esr1=True), "clinic")
    second = runner.invoke(app, ["watch", "--db", db, "--as-of", "2024-06-01", "--format", "json"])
    assert second.exit_code == 0, second.output
    changes = json.loads(second.stdout)["changes"]
    opened = [c for c in changes if c["change"] == "step_opened"]
    assert [(c["trial_id"], c["step"]) for c in opened] == [(t004.id, 2)]
    assert all(c["trial_id"] == t004.id for c in changes)

    third = runner.invoke(app, ["watch", "--db", db, "--as-of", "2024-06-01"])
    assert third.exit_code == 0 and "0 change(s)" in " ".join(third.stdout.split())

    # the match output carries the published results and their checks (seed 002)
    from trialmatch.watch import latest_changes

    assert latest_changes(store, "clinic") == []


def test_cli_watch_bad_input(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "empty.db")
    r = runner.invoke(app, ["watch", "--db", db, "--as-of", "June 1st"])
    assert r.exit_code == 2 and "not a date" in r.output
    r = runner.invoke(app, ["watch", "--db", db, "--workspace", "nope"])
    assert r.exit_code == 2 and "no patients in workspace" in r.output
    r = runner.invoke(app, ["watch", "--db", db])
    assert r.exit_code == 0 and "0 patient(s)" in " ".join(r.stdout.split())


FIX = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "watch"


def test_cli_worked_example_add_patient(tmp_path, seeds_dir):
    """The README's worked example: a patient on step 1 of seed 004 gets a dated ESR1 ctDNA result."""
    from trialmatch.trials import read_path

    try:
        from trialmatch.criteria import compile_criteria
    except ImportError:
        from trialmatch.criteria.compile import compile_criteria
    db = str(tmp_path / "example.db")
    store = TrialStore(db)
    trials = [r.trial for f in sorted(seeds_dir.glob("0*.txt")) for r in read_path(f) if r.trial is not None]
    store.ingest_trials(trials, {t.id: compile_criteria(t) for t in trials})
    runner = CliRunner()
    r1 = runner.invoke(app, ["watch", "--db", db, "--add-patient", str(FIX / "pt_esr1_before.json"),
                             "--as-of", "2026-03-01", "--format", "json"])
    assert r1.exit_code == 0, r1.output
    rep1 = json.loads(r1.stdout)
    assert rep1["baseline"] and rep1["counts"] == {"new": len(trials)}
    r2 = runner.invoke(app, ["watch", "--db", db, "--add-patient", str(FIX / "pt_esr1_after.json"),
                             "--as-of", "2026-05-20", "--format", "json"])
    assert r2.exit_code == 0, r2.output
    changes = json.loads(r2.stdout)["changes"]
    assert ("004_21168ffcb5444652", "step_opened", 2) in {(c["trial_id"], c["change"], c["step"]) for c in changes}
    assert ("004_21168ffcb5444652", "missing_fact_known", "lab:platelets") in {
        (c["trial_id"], c["change"], c["fact"]) for c in changes}
    opened = next(c for c in changes if c["change"] == "step_opened")
    assert "ESR1 Y537S" in opened["detail"] and "2026-05-12" in opened["detail"]
    # the same file again: unchanged, nothing to report
    r3 = runner.invoke(app, ["watch", "--db", db, "--add-patient", str(FIX / "pt_esr1_after.json"),
                             "--as-of", "2026-05-20"])
    assert r3.exit_code == 0 and "0 change(s)" in " ".join(r3.stdout.split())
    assert store.get_patient_record("pt-esr1-watch").version == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r4 = runner.invoke(app, ["watch", "--db", db, "--add-patient", str(bad), "--as-of", "2026-05-20"])
    assert r4.exit_code == 1 and "bad.json" in r4.output


def test_cli_watch_screen_out_reuses_partitions(tmp_path, seeds_dir):
    """--screen-out keeps the screening results: a second run with nothing changed screens nothing."""
    from trialmatch.trials import read_path

    try:
        from trialmatch.criteria import compile_criteria
    except ImportError:
        from trialmatch.criteria.compile import compile_criteria
    db = str(tmp_path / "so.db")
    store = TrialStore(db)
    trials = [r.trial for f in sorted(seeds_dir.glob("0*.txt")) for r in read_path(f) if r.trial is not None]
    store.ingest_trials(trials, {t.id: compile_criteria(t) for t in trials})
    runner = CliRunner()
    out = tmp_path / "results"
    args = ["watch", "--db", db, "--screen-out", str(out), "--as-of", "2026-03-01", "--format", "json"]
    r1 = runner.invoke(app, args + ["--add-patient", str(FIX / "pt_esr1_before.json")])
    assert r1.exit_code == 0, r1.output
    rep1 = json.loads(r1.stdout)
    n = rep1["screen"]["partitions"]
    assert 1 < n <= len(trials) and rep1["screen"]["ran"] == n and rep1["counts"] == {"new": len(trials)}
    assert (out / "_all.parquet" / "_watch.json").is_file()
    r2 = runner.invoke(app, args[:-2] + ["--format", "table"])
    assert r2.exit_code == 0, r2.output
    text = " ".join(r2.output.split())
    assert "0 change(s)" in text and f"screened 0 of {n} partition(s) (0 pairs), {n} reused" in text
    # Dask workers cannot read an in-memory store: a clear error, no traceback
    r3 = runner.invoke(app, ["watch", "--db", "sqlite:///:memory:", "--workers", "2"])
    assert r3.exit_code == 2 and "in-memory store" in r3.output
