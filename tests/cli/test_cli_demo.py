"""`trialmatch demo` on a temporary store, and the bundled demo data itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.cli.demo import DEMO_TRIALS, demo_patient_files
from trialmatch.store import TrialStore
from trialmatch.trials import read_path

runner = CliRunner()


def test_demo_trials_read_cleanly_in_three_formats():
    results = list(read_path(DEMO_TRIALS))
    errors = [str(r.error) for r in results if not r.ok]
    assert errors == []
    trials = [r.trial for r in results]
    assert 6 <= len(trials) <= 8
    ids = [t.id for t in trials]
    assert len(set(ids)) == len(ids)
    for t in trials:
        assert t.id.startswith("NCT9000000"), t.id
        marked = "demo" in (t.title or "").lower() or any("demo" in k.lower() for k in t.keywords)
        assert marked, f"{t.id} is not marked as a demo record"
        assert t.eligibility.criteria_text, t.id
    formats = {t.provenance.source_format for t in trials}
    assert {"ctgov_v2_json", "ctgov_legacy_xml", "plain_language"} <= formats
    assert any(t.status == "WITHDRAWN" for t in trials)


def test_demo_data_is_not_copied_from_shared(shared_dir):
    demo_hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in DEMO_TRIALS.rglob("*") if p.is_file()}
    shared_hashes = {hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in (shared_dir / "seeds").iterdir() if p.is_file()}
    assert not demo_hashes & shared_hashes
    shared_ids = set()
    for f in ("ctgov-v2/breast_trials.ndjson", "hint/trials.ndjson"):
        for line in (shared_dir / "data" / f).read_text().splitlines():
            if line.strip():
                shared_ids.add(json.loads(line)["protocolSection"]["identificationModule"]["nctId"])
    demo_ids = {r.trial.id for r in read_path(DEMO_TRIALS) if r.ok}
    assert not demo_ids & shared_ids


def test_demo_patients_load():
    from trialmatch.patients.json_reader import read_json_patient

    files = demo_patient_files()
    assert len(files) == 3
    for f in files:
        p = read_json_patient(f.read_bytes(), f.name)
        assert p.as_of == dt.date(2026, 11, 1)
        assert p.diagnoses and p.biomarkers and p.warnings == []


def test_demo_command_on_temp_db(tmp_path):
    db = str(tmp_path / "demo.db")
    r = runner.invoke(app, ["demo", "--db", db], catch_exceptions=False)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "read 7, new 7, updated 0, unchanged 0, failed 0" in r.stdout
    store = TrialStore(db)
    ids = store.trial_ids()
    assert len(ids) == 7 and all(i.startswith("NCT9000000") for i in ids)
    from trialmatch.criteria import COMPILER_VERSION

    assert all(store.get_compiled(i, COMPILER_VERSION) is not None for i in ids)
    out = r.stdout
    for f in demo_patient_files():
        assert f"Trials for patient {f.stem}" in out
    # a second run: nothing new, nothing recompiled, the same report
    r2 = runner.invoke(app, ["demo", "--db", db], catch_exceptions=False)
    assert r2.exit_code == 0
    assert "read 7, new 0, updated 0, unchanged 7, failed 0" in r2.stdout
    assert "compiled 0" in r2.stdout
