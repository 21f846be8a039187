"""`trialmatch ingest` and `trialmatch trials list|show` through the real CLI (CliRunner)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.store import TrialStore

runner = CliRunner()
SEED_FILES = ["000_f365612121a3c530.txt", "001_0908de8918da363a.txt", "002_cc6ceb7d8253810e.txt",
              "003_ca8a1317ec4e9225.txt", "004_21168ffcb5444652.txt"]


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _summary(result) -> dict:
    return json.loads(result.stdout)


@pytest.fixture()
def db(tmp_path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture()
def mixed_folder(tmp_path, seeds_dir) -> Path:
    """The five seeds, plus every kind of bad input, in one folder (with a sub-folder)."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for name in SEED_FILES:
        shutil.copy(seeds_dir / name, folder / name)
    (folder / "bad.json").write_text('{"protocolSection": {"identificationModule": ')
    (folder / "empty.txt").write_bytes(b"")
    (folder / "sub" / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    (folder / "sub" / "notes.txt").write_text("Shopping list\nmilk\neggs\nbread\n")
    (folder / "noid.json").write_text(json.dumps(
        {"protocolSection": {"identificationModule": {"briefTitle": "A study with no number"}}}))
    (folder / ".hidden.json").write_text("{broken")  # hidden files are not read
    return folder


def test_ingest_mixed_folder_reports_each_bad_file_and_keeps_the_rest(mixed_folder, db):
    r = run("ingest", str(mixed_folder), "--db", db, "--no-compile", "--format", "json")
    assert r.exit_code == 1
    s = _summary(r)
    assert s["read"] == 5 and s["new"] == 5 and s["failed"] == 5
    err = r.stderr
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 5, err
    expect = {
        "bad.json": "malformed JSON",
        "empty.txt": "empty file",
        "sub/image.bin": "binary",
        "sub/notes.txt": "unrecognised format",
        "noid.json": "without an id",
    }
    for name, what in expect.items():
        assert any(f"{mixed_folder / name}:" in ln and what in ln for ln in lines), (name, err)
    assert ".hidden" not in err
    store = TrialStore(db)
    assert store.count_trials() == 5
    assert "NCT04199520" in store.trial_ids()

    # a second ingest: everything readable is unchanged, the same errors again
    r2 = run("ingest", str(mixed_folder), "--db", db, "--no-compile", "--format", "json")
    s2 = _summary(r2)
    assert r2.exit_code == 1
    assert (s2["new"], s2["updated"], s2["unchanged"], s2["failed"]) == (0, 0, 5, 5)


def test_ndjson_bad_line_names_file_and_line(tmp_path, data_dir, db):
    src = (data_dir / "ctgov-v2" / "breast_trials.ndjson").read_text().splitlines()
    f = tmp_path / "page.ndjson"
    f.write_text("\n".join([src[0], '{"protocolSection": ', src[1], src[2]]) + "\n")
    r = run("ingest", str(f), "--db", db, "--no-compile", "--format", "json")
    assert r.exit_code == 1
    assert f"error: {f}:2: malformed JSON" in r.stderr
    s = _summary(r)
    assert (s["read"], s["new"], s["failed"]) == (3, 3, 1)


def test_store_failure_rolls_back_that_file_only(tmp_path, seeds_dir, db, monkeypatch):
    """A file whose store write fails leaves nothing behind; the other files still ingest."""
    from trialmatch.store import StoreError

    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(seeds_dir / SEED_FILES[3], folder / "a.txt")
    shutil.copy(seeds_dir / SEED_FILES[1], folder / "b.txt")
    real = TrialStore.ingest_trials

    def flaky(self, trials, compiled=None):
        trials = list(trials)
        if any(t.provenance.file_name == "a.txt" for t in trials):
            raise StoreError("store unchanged: could not write the batch (injected)")
        return real(self, trials, compiled)

    monkeypatch.setattr(TrialStore, "ingest_trials", flaky)
    r = run("ingest", str(folder), "--db", db, "--no-compile", "--format", "json")
    assert r.exit_code == 1
    assert f"error: {folder / 'a.txt'}: store unchanged" in r.stderr.replace("\n", "")
    s = _summary(r)
    assert s["new"] == 1 and s["failed"] == 1
    store = TrialStore(db)
    assert [t.provenance.file_name for t in store.iter_trials()] == ["b.txt"]
    assert "NCT04199520" not in store.trial_ids() and store.versions("NCT04199520") == []


def test_id_override_and_its_limits(seeds_dir, db, tmp_path):
    r = run("ingest", str(seeds_dir / SEED_FILES[0]), "--id", "HDTAM-2026", "--db", db,
            "--no-compile", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert TrialStore(db).trial_ids() == ["HDTAM-2026"]
    r = run("ingest", str(seeds_dir / SEED_FILES[0]), str(seeds_dir / SEED_FILES[1]), "--id", "X",
            "--db", db)
    assert r.exit_code == 2 and "--id needs exactly one document" in r.stderr
    r = run("ingest", str(seeds_dir), "--id", "X", "--db", db)
    assert r.exit_code == 2


def test_missing_path_is_an_error(tmp_path, db):
    r = run("ingest", str(tmp_path / "nope.json"), "--db", db, "--no-compile")
    assert r.exit_code == 1
    assert "nope.json: no such file or folder" in r.stderr


def test_trials_list_and_show_json(seeds_dir, db):
    r = run("ingest", *[str(seeds_dir / n) for n in SEED_FILES], "--db", db, "--no-compile")
    assert r.exit_code == 0, r.stderr
    r = run("trials", "list", "--format", "json", "--db", db)
    assert r.exit_code == 0
    items = json.loads(r.stdout)
    assert len(items) == 5
    for item in items:
        for key in ("id", "title", "status", "phases", "conditions", "interventions", "outcomes",
                    "eligibility"):
            assert key in item, key
        for key in ("criteria_text", "min_age_years", "max_age_years", "sex"):
            assert key in item["eligibility"], key

    r = run("trials", "list", "--status", "withdrawn", "--format", "json", "--db", db)
    assert [t["id"] for t in json.loads(r.stdout)] == ["NCT04199520"]
    r = run("trials", "list", "--status", "bogus", "--db", db)
    assert r.exit_code == 2 and "unknown status" in r.stderr

    r = run("trials", "show", "NCT04199520", "--format", "json", "--db", db)
    assert r.exit_code == 0
    t = json.loads(r.stdout)
    assert t["id"] == "NCT04199520" and t["status"] == "WITHDRAWN" and t["phases"] == ["PHASE2"]
    assert t["eligibility"]["sex"] == "FEMALE"
    assert (t["eligibility"]["min_age_years"], t["eligibility"]["max_age_years"]) == (18, 70)
    assert t["outcomes"]["primary"][0]["time_frame"].startswith("up to 2 year")
    assert t["version"] == 1 and [v["version"] for v in t["versions"]] == [1]
    assert t["versions"][0]["source_format"].startswith("registry_mirror")

    r = run("trials", "show", "NCT04199520", "--db", db)  # table
    assert r.exit_code == 0 and "NCT04199520" in r.stdout and "versions" in r.stdout

    r = run("trials", "show", "NCT00000000", "--db", db)
    assert r.exit_code == 1 and "no trial 'NCT00000000'" in r.stderr
    r = run("trials", "show", "NCT04199520", "--version", "7", "--db", db)
    assert r.exit_code == 1 and "no version 7" in r.stderr


def test_show_old_version_after_update(tmp_path, db):
    doc = {"protocolSection": {"identificationModule": {"nctId": "NCT90000199", "briefTitle": "Before"},
                               "statusModule": {"overallStatus": "RECRUITING"}}}
    f = tmp_path / "t.json"
    f.write_text(json.dumps(doc))
    assert run("ingest", str(f), "--db", db, "--no-compile").exit_code == 0
    doc["protocolSection"]["identificationModule"]["briefTitle"] = "After"
    f.write_text(json.dumps(doc))
    r = run("ingest", str(f), "--db", db, "--no-compile", "--format", "json")
    assert _summary(r)["updated"] == 1
    new = json.loads(run("trials", "show", "NCT90000199", "--format", "json", "--db", db).stdout)
    old = json.loads(run("trials", "show", "NCT90000199", "--version", "1", "--format", "json",
                         "--db", db).stdout)
    assert (new["title"], new["version"], old["title"], old["version"]) == ("After", 2, "Before", 1)
    assert [v["current"] for v in new["versions"]] == [False, True]


@pytest.mark.slow
def test_all_shared_records_ingest_then_all_unchanged(data_dir, db):
    """All 4,923 records of ../shared/data ingest without error; a second ingest: all unchanged."""
    files = [str(data_dir / "ctgov-v2" / "breast_trials.ndjson"), str(data_dir / "hint" / "trials.ndjson")]
    t0 = time.perf_counter()
    r = run("ingest", *files, "--db", db, "--no-compile", "--format", "json")
    s = _summary(r)
    assert r.exit_code == 0, r.stderr[-2000:]
    assert s["read"] == 4923 and s["failed"] == 0 and s["errors"] == []
    # two NCT ids are in both files: the second copy is a new version of the same trial
    assert s["new"] + s["updated"] == 4923
    assert TrialStore(db).count_trials() == s["new"]
    r2 = run("ingest", *files, "--db", db, "--no-compile", "--format", "json")
    s2 = _summary(r2)
    assert r2.exit_code == 0
    assert (s2["read"], s2["unchanged"], s2["new"], s2["updated"], s2["failed"]) == (4923, 4923, 0, 0, 0)
    assert time.perf_counter() - t0 < 60


def test_ingest_compiles_and_reports_compiler_failures(seeds_dir, db, monkeypatch):
    import trialmatch.criteria as criteria

    r = run("ingest", str(seeds_dir / SEED_FILES[3]), "--db", db, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert _summary(r)["compiled"] == 1
    assert TrialStore(db).get_compiled("NCT04199520", criteria.COMPILER_VERSION) is not None

    def broken(trial):
        raise RuntimeError("cannot compile")

    import trialmatch.criteria.batch as batch

    monkeypatch.setattr(batch, "compile_criteria", broken)
    r = run("ingest", str(seeds_dir / SEED_FILES[1]), "--db", db, "--format", "json")
    assert r.exit_code == 1
    s = _summary(r)
    assert s["new"] == 1 and s["compiled"] == 0 and s["failed"] == 1
    assert "criteria compiler failed: RuntimeError: cannot compile" in r.stderr
