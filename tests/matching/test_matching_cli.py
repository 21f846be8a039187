"""`trialmatch match`: formats, filters, and bad patient files (clear message, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialmatch.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory, seeds_dir):
    from trialmatch.store import TrialStore
    from trialmatch.trials import read_path

    path = tmp_path_factory.mktemp("store") / "t.db"
    store = TrialStore(str(path))
    store.ingest_trials([r.trial for f in sorted(Path(seeds_dir).glob("0*.txt")) for r in read_path(f) if r.trial])
    return str(path)


def run(*args):
    return runner.invoke(app, ["match", *args])


def test_match_json_ranked_with_evidence(db):
    r = run(str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["patient"] == {"id": "p1_anlotinib_not_palbo"}
    res = data["results"]
    assert len(res) == 5
    order = {"eligible": 0, "uncertain": 1, "ineligible": 2}
    assert [order[x["verdict"]] for x in res] == sorted(order[x["verdict"]] for x in res)
    by_id = {x["trial_id"]: x for x in res}
    assert by_id["001_0908de8918da363a"]["verdict"] == "eligible"
    assert by_id["004_21168ffcb5444652"]["verdict"] == "ineligible"
    c = by_id["001_0908de8918da363a"]["criteria"][0]
    assert set(c) >= {"kind", "text", "outcome", "reason", "evidence"}
    assert any(e["source"] for x in res for cr in x["criteria"] for e in cr["evidence"])


def test_match_table_html_status_top_trial(db):
    r = run(str(FIXTURES / "p5_untreated_brain_mets.txt"), "--db", db)
    assert r.exit_code == 0 and "ineligible" in r.stdout
    r = run(str(FIXTURES / "p5_untreated_brain_mets.json"), "--db", db, "--format", "html", "--top", "2")
    assert r.exit_code == 0 and r.stdout.lstrip().startswith("<!DOCTYPE html>")
    r = run(str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db, "--format", "json", "--status", "withdrawn")
    assert [x["trial_id"] for x in json.loads(r.stdout)["results"]] == ["NCT04199520"]
    r = run(str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db, "--format", "json", "--trial", "NCT04199520",
            "--as-of", "2026-11-01")
    data = json.loads(r.stdout)
    assert data["as_of"] == "2026-11-01" and data["results"][0]["closed"] is True


@pytest.mark.parametrize("content,field", [
    ("{not json", None),
    (json.dumps({"id": "x", "age_years": 250, "sex": "female"}), "age"),
    (json.dumps({"id": "x", "sex": "female", "labs": [{"analyte": "platelets", "value": -5, "unit": "10^9/L"}]}), "labs"),
    (json.dumps({"id": "x", "sex": "female", "birth_date": "2090-01-01"}), "birth_date"),
])
def test_bad_patient_files_get_a_clear_message(db, tmp_path, content, field):
    f = tmp_path / "bad.json"
    f.write_text(content)
    r = run(str(f), "--db", db, "--format", "json")
    text = (r.stderr if hasattr(r, "stderr") else "") + r.output
    assert "Traceback" not in text
    assert r.exception is None or isinstance(r.exception, SystemExit)
    if r.exit_code != 0:
        assert r.exit_code == 2 and "bad.json" in text
    else:  # accepted with a warning naming the field
        assert "warning" in text.lower()
    if field:
        assert field in text


def test_malformed_missing_file_and_bad_date_need_no_store(tmp_path):
    db = str(tmp_path / "empty.db")
    f = tmp_path / "broken.json"
    f.write_text('{"id": "x", "sex": ')
    r = run(str(f), "--db", db)
    assert r.exit_code == 2 and "broken.json" in r.output and "Traceback" not in r.output
    r = run(str(tmp_path / "nope.json"), "--db", db)
    assert r.exit_code == 2 and "no such file" in r.output
    r = run(str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db, "--as-of", "yesterday")
    assert r.exit_code == 2 and "--as-of" in r.output


@pytest.mark.parametrize("name", ["p1_anlotinib_not_palbo.json", "p5_untreated_brain_mets.txt"])
def test_match_registry_gives_the_same_report(db, name):
    """``--registry`` (the compiled registry beside the store) prints what the full evaluation prints."""
    args = (str(FIXTURES / name), "--db", db, "--format", "json", "--as-of", "2026-11-01")
    full = run(*args)
    fast = run(*args, "--registry")
    assert full.exit_code == 0 and fast.exit_code == 0, fast.output
    assert json.loads(fast.stdout) == json.loads(full.stdout)
    assert Path(db + ".registry").is_dir()
    top = run(*args, "--registry", "--top", "2", "--status", "open")
    assert [x["trial_id"] for x in json.loads(top.stdout)["results"]] == [
        x["trial_id"] for x in json.loads(run(*args, "--top", "2", "--status", "open").stdout)["results"]]


def test_match_registry_refuses_trial_filter(db):
    r = run(str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db, "--registry", "--trial", "NCT04199520")
    assert r.exit_code == 2 and "--trial" in r.output
