"""Fast versions of ``benchmarks/reliability_bench.py``: every reader fuzzed with mutated real
inputs and hypothesis-generated ones (no crash: only the documented read errors, each naming the
file), and ``trialmatch ingest`` killed with SIGKILL (the store intact, a re-run completes with
nothing lost or duplicated)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reliability_bench as rb  # noqa: E402

pytestmark = pytest.mark.reliability

#: inputs per reader here (the benchmark tries 10,000 each); the slower readers get fewer
FAST = {"ctgov_json": 200, "ctgov_xml": 200, "html_trial": 120, "text_trial": 150,
        "patient_json": 150, "patient_fhir": 60, "patient_text": 60}


@pytest.fixture(scope="module")
def corpora():
    return rb.reader_corpora()


@pytest.mark.parametrize("reader", sorted(FAST))
def test_fuzzed_reader_never_crashes(reader, corpora):
    corpus = corpora[reader]
    assert corpus, f"no real inputs for {reader}"
    res = rb.fuzz_reader(reader, corpus, FAST[reader], seed=1)
    assert res.tried >= FAST[reader]
    assert res.crashes == 0, f"{reader}: {res.crash_examples}"
    assert res.unnamed_errors == 0, f"{reader}: read errors that do not name the file"
    assert res.clear_errors > 0 and res.read > 0, "both good and refused inputs were tried"


def test_mutations_change_the_input_and_are_reproducible(corpora):
    import random

    name, data = corpora["ctgov_json"][0]
    a = [rb.mutate("ctgov_json", data, random.Random(7)) for _ in range(3)]
    b = [rb.mutate("ctgov_json", data, random.Random(7)) for _ in range(3)]
    assert a == b and all(m != data for m in a)


def test_check_store_finds_a_half_written_trial(tmp_path):
    """The checker the kill -9 figures rest on sees a version without its trial, a missing
    current version and a content hash that does not match."""
    import sqlite3

    from trialmatch.store import TrialStore
    from trialmatch.trials import read_bytes

    db = tmp_path / "h.db"
    doc = (rb.DEMO / "trials" / "NCT90000001_apatinib_fulvestrant.json").read_bytes()
    store = TrialStore(str(db))
    store.ingest_trials([r.trial for r in read_bytes(doc, "t.json")])
    store.engine.dispose()
    assert rb.check_store(db).half_written == []
    con = sqlite3.connect(db)
    con.execute("UPDATE trial_versions SET content_hash = 'x'")
    con.execute("INSERT INTO trial_versions SELECT 'NCT_ORPHAN', version, sha256, content_hash, source_format, "
                "file_name, ingested_at, data FROM trial_versions")
    con.execute("UPDATE trials SET current_version = 9")
    con.commit()
    con.close()
    found = " ".join(rb.check_store(db).half_written)
    assert "content hash" in found and "without its trial" in found and "current version 9 missing" in found


def test_kill_9_of_ingest_loses_nothing(tmp_path):
    res = rb.kill_ingest(1, seed=3, tmp=tmp_path, window=(2.0, 6.0))
    assert res.runs == 1
    assert (res.integrity_failures, res.half_written, res.rerun_failures, res.lost, res.duplicated) == (0, 0, 0, 0, 0), res.notes


# ------------------------------------------------------------------ crashes the fuzzing found
DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000]


@pytest.mark.parametrize("data", DEEP, ids=["array", "object"])
def test_json_nested_too_deeply_is_a_clear_error(data):
    from trialmatch.patients import read_patient_bytes
    from trialmatch.patients.errors import PatientReadError
    from trialmatch.trials import read_bytes

    (res,) = read_bytes(data, "deep.json")
    assert res.error is not None and "deep.json" in str(res.error) and "nested too deeply" in str(res.error)

    for fmt in ("json", "fhir"):
        with pytest.raises(PatientReadError) as exc:
            read_patient_bytes(data, "deep.json", fmt=fmt)
        assert exc.value.file_name == "deep.json" and "nested too deeply" in exc.value.message


def test_ctgov_results_with_non_array_fields_do_not_crash():
    import json

    from trialmatch.trials import read_bytes

    study = json.loads((rb.FIXTURES / "trials" / "study_v2.json").read_text())
    study["resultsSection"] = {"adverseEventsModule": {
        "eventGroups": [{"id": "EG000", "title": "Arm A"}],
        "seriousEvents": [{"term": "Anaemia", "stats": 5}, {"term": "Fatigue", "stats": [
            {"groupId": ["EG000"], "numAffected": 2, "numAtRisk": 10}]}]}}
    (res,) = read_bytes(json.dumps(study).encode(), "results.json")
    assert res.error is None, res.error
    stats = res.trial.results.statistics if res.trial.results else []
    assert all(s.arm is None or isinstance(s.arm, str) for s in stats)
    # a field of the wrong type where the reader needs it: a clear error naming file and field
    study["resultsSection"] = {"outcomeMeasuresModule": {"outcomeMeasures": [{"title": "ORR", "groups": 3}]}}
    (res,) = read_bytes(json.dumps(study).encode(), "results.json")
    assert res.error is not None and "results.json" in str(res.error) and "groups" in str(res.error)


def test_ctgov_results_with_odd_numbers_and_group_ids_do_not_crash():
    import json

    from trialmatch.trials import read_bytes

    study = json.loads((rb.FIXTURES / "trials" / "study_v2.json").read_text())
    group = [{"id": "EG000", "title": "Arm A"}]
    study["resultsSection"] = {
        "participantFlowModule": {"groups": group, "periods": [{"milestones": [
            {"type": "STARTED", "achievements": [{"groupId": ["EG000"], "numSubjects": "10"}]}]}]},
        "baselineCharacteristicsModule": {"groups": group, "denoms": [{"counts": [{"groupId": {}, "value": 3}]}]},
        "outcomeMeasuresModule": {"outcomeMeasures": [{
            "title": "ORR", "groups": group, "denoms": [{"counts": [{"groupId": ["EG000"], "value": 1e308 * 10}]}],
            "classes": [{"categories": [{"measurements": [{"groupId": ["EG000"], "value": "12"}]}]}],
            "analyses": [{"groupIds": 4, "paramType": "Hazard Ratio", "paramValue": 10 ** 400}]}]},
    }
    (res,) = read_bytes(json.dumps(study).encode(), "odd.json")
    assert res.error is None or "odd.json" in str(res.error)
