"""Fixtures of the screening tests: a store of the bundled demo trials (a SQLite file the Dask
workers can read), generated patient files, and one small LocalCluster shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "src" / "trialmatch" / "demo"


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    from trialmatch.cli.ingest import run_ingest
    from trialmatch.store import TrialStore

    db = tmp_path_factory.mktemp("screen-store") / "demo.db"
    store = TrialStore(str(db))
    summary = run_ingest(store, [DEMO / "trials"], compile_=True)
    assert summary.ok
    return store


def write_patients(folder: Path, n: int) -> list[Path]:
    """``n`` patient files: the demo patients under new ids, some with a changed age."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((DEMO / "patients").glob("*.json"))
    out = []
    for i in range(n):
        data = json.loads(sources[i % len(sources)].read_text("utf-8"))
        data["id"] = f"gen-{i:03d}"
        if i % 4 == 3:
            data["birth_date"] = f"{1950 + i % 40}-06-01"
        path = folder / f"gen-{i:03d}.json"
        path.write_text(json.dumps(data), "utf-8")
        out.append(path)
    return out


@pytest.fixture(scope="session")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    client.wait_for_workers(2, timeout=120)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def real_store(data_dir, tmp_path_factory):
    """All 4,921 trials of ``../shared/data`` in one compiled SQLite store, built once per session
    (the candidate-index and registry equivalence tests share it).

    ``$TRIALMATCH_REAL_STORE``: a store already holding exactly those trials, compiled (e.g. the
    ``base-c<compiler>.db`` that ``benchmarks/scale_bench.py --workdir`` keeps), to skip the compile.
    """
    import os

    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import read_path

    given = os.environ.get("TRIALMATCH_REAL_STORE")
    store = TrialStore(given or str(tmp_path_factory.mktemp("real-store") / "real.db"))
    if not given:
        records = []
        for src in (data_dir / "ctgov-v2" / "breast_trials.ndjson", data_dir / "hint" / "trials.ndjson"):
            records.extend(r.trial for r in read_path(src) if r.trial is not None)
        store.ingest_trials(records)
    ensure_compiled(store)
    assert store.count_trials() == 4921
    return store


def real_patients(data_dir: Path, every: int) -> list:
    """The fixture patients (tests/fixtures/patients/*.json) and every ``every``-th TREC 2021 note
    of ``../shared/data`` read as a text summary (``$TRIALMATCH_INDEX_ALL_NOTES=1``: every note)."""
    import os

    from trialmatch.patients import read_patient, read_patient_bytes

    if os.environ.get("TRIALMATCH_INDEX_ALL_NOTES") == "1":
        every = 1
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
    patients = [read_patient(f) for f in sorted(fixtures.glob("*.json"))]
    with open(data_dir / "trec2021" / "queries.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % every == 0:
                rec = json.loads(line)
                patients.append(read_patient_bytes(rec["text"].encode("utf-8"), f"{rec['_id']}.txt", fmt="text"))
    return patients
