"""``run_screen`` on a small LocalCluster: one row per pair with the matcher's own verdicts, the
three formats, and restarts (a lost partition, a killed worker, a killed run) without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

from conftest import write_patients  # noqa: E402  (tests/screening/conftest.py)

from trialmatch.criteria import COMPILER_VERSION  # noqa: E402
from trialmatch.matching import match_patient  # noqa: E402
from trialmatch.patients import read_patient  # noqa: E402
from trialmatch.screening import file_patients, read_results, run_screen, stored_patients  # noqa: E402
from trialmatch.screening.output import OutputPaths  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _pairs(df):
    return list(zip(df.patient_source, df.trial_id))


def test_rows_are_the_matchers_verdicts(demo_store, dask_client, tmp_path):
    files = write_patients(tmp_path / "pts", 3)
    out = tmp_path / "res.parquet"
    result = run_screen(demo_store, file_patients(files), out, client=dask_client, patient_block=2, trial_block=3)
    assert not result.failed and result.ran == result.partitions > 1
    df = read_results(out)
    trials = demo_store.load_for_matching(COMPILER_VERSION)
    assert len(df) == 3 * len(trials) == result.pairs
    assert len(set(_pairs(df))) == len(df)
    for f in files:
        report = match_patient(read_patient(f), trials)
        want = {r.trial_id: r for r in report.results}
        got = df[df.patient_source == str(f)].set_index("trial_id")
        assert set(got.index) == set(want)
        for tid, r in want.items():
            row = got.loc[tid]
            assert row.verdict == r.verdict and row.score == pytest.approx(r.score)
            assert list(row.deciding_ids) == r.deciding
            texts = {c.criterion_id: c.text for c in r.criteria}
            assert list(row.deciding_text) == [texts[i] for i in r.deciding]
            assert list(row.missing_facts) == [m.fact for m in r.missing]
    assert set(df.verdict) >= {"ineligible", "uncertain"}


@pytest.mark.parametrize("suffix", [".csv", ".ndjson"])
def test_csv_and_ndjson_read_back_the_same_rows(demo_store, dask_client, tmp_path, suffix):
    files = write_patients(tmp_path / "pts", 2)
    items = file_patients(files)
    run_screen(demo_store, items, tmp_path / "a.parquet", client=dask_client)
    run_screen(demo_store, items, tmp_path / f"a{suffix}", client=dask_client, patient_block=1, trial_block=2)
    a = read_results(tmp_path / "a.parquet").sort_values(["patient_source", "trial_id"]).reset_index(drop=True)
    b = read_results(tmp_path / f"a{suffix}").sort_values(["patient_source", "trial_id"]).reset_index(drop=True)
    assert (tmp_path / f"a{suffix}").is_file()
    cols = ["patient_id", "trial_id", "verdict", "deciding_ids", "deciding_text", "missing_facts"]
    assert a[cols].map(lambda v: list(v) if not isinstance(v, str) else v).equals(
        b[cols].map(lambda v: list(v) if not isinstance(v, str) else v))
    assert (a.score - b.score).abs().max() < 1e-9


def test_lost_partitions_are_redone_and_only_they(demo_store, dask_client, tmp_path):
    files = write_patients(tmp_path / "pts", 6)
    items = file_patients(files)
    out = tmp_path / "r.parquet"
    first = run_screen(demo_store, items, out, client=dask_client, patient_block=2, trial_block=3)
    paths = OutputPaths.for_out(out)
    before = read_results(out)
    victims = sorted(paths.manifest_dir.glob("*.json"))[:2]
    victims[0].unlink()  # crashed after writing the file: the file stays, the entry is gone
    paths.part_file(victims[1].stem).unlink()  # lost file
    (paths.parts / ".tmp-part-x.parquet.123").write_bytes(b"half")  # a crash mid-write
    again = run_screen(demo_store, items, out, client=dask_client)
    assert again.ran == 2 and again.skipped == first.partitions - 2
    after = read_results(out)
    assert len(after) == len(before) and len(set(_pairs(after))) == len(after)
    assert not list(paths.parts.glob(".tmp-*"))
    # a third run has nothing to do
    assert run_screen(demo_store, items, out, client=dask_client).ran == 0


def test_changed_patient_rescreens_only_her_partitions(demo_store, dask_client, tmp_path):
    files = write_patients(tmp_path / "pts", 8)
    out = tmp_path / "r.parquet"
    first = run_screen(demo_store, file_patients(files), out, client=dask_client, patient_block=2, trial_block=4)
    text = files[0].read_text("utf-8").replace('"sex": "female"', '"sex": "male"')
    assert '"male"' in text
    files[0].write_text(text, "utf-8")
    again = run_screen(demo_store, file_patients(files), out, client=dask_client)
    assert 0 < again.ran < first.partitions
    df = read_results(out)
    assert len(df) == first.pairs and len(set(_pairs(df))) == len(df)


def test_stored_patients(demo_store, dask_client, tmp_path):
    from trialmatch.store import TrialStore

    store = TrialStore(demo_store.url)
    for f in write_patients(tmp_path / "pts", 2):
        store.save_patient(read_patient(f), "clinic-s")
    items = stored_patients(store, "clinic-s")
    assert [i.source for i in items] == ["store:clinic-s/gen-000@v1", "store:clinic-s/gen-001@v1"]
    df = read_results(run_screen(store, items, tmp_path / "s.ndjson", client=dask_client, statuses=["recruiting"]).out)
    assert set(df.trial_status) == {"RECRUITING"} and len(df) == 2 * len(store.trial_ids(status=["recruiting"]))


def test_index_backed_screen_has_the_same_verdicts(demo_store, dask_client, tmp_path):
    items = file_patients(write_patients(tmp_path / "pts", 6))
    plain = read_results(run_screen(demo_store, items, tmp_path / "a.parquet", client=dask_client).out)
    indexed = read_results(run_screen(demo_store, items, tmp_path / "b.parquet", client=dask_client, use_index=True).out)
    key = ["patient_source", "trial_id"]
    a = plain.sort_values(key).reset_index(drop=True)
    b = indexed.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) and list(a.verdict) == list(b.verdict)
    skipped = b.score.isna()
    assert skipped.sum() > 0 and set(b[skipped].verdict) == {"ineligible"}
    for da, db_ in zip(a[skipped].deciding_ids, b[skipped].deciding_ids):
        assert set(db_) <= set(da) and len(db_) > 0
    assert (a[~skipped].score - b[~skipped].score).abs().max() < 1e-9


def test_workers_load_each_trial_once_and_the_summary_has_cpu(demo_store, dask_client, tmp_path):
    from trialmatch.screening import worker

    dask_client.run(worker.clear_cache)
    before = dask_client.run(lambda: dict(worker.STATS))
    items = file_patients(write_patients(tmp_path / "pts", 6))
    res = run_screen(demo_store, items, tmp_path / "w.parquet", client=dask_client)
    after = dask_client.run(lambda: dict(worker.STATS))
    assert res.partitions >= 6 * 1 and res.ran == res.partitions and res.workers == 2
    assert res.load_seconds > 0 and res.cpu_seconds and res.cpu_seconds > 0
    # every worker read every trial of the run once, before the partitions, and never again
    for addr in after:
        assert after[addr]["trials_loaded"] - before[addr]["trials_loaded"] == res.trials
    # a second run on a new output reads nothing from the store
    again = run_screen(demo_store, items, tmp_path / "w2.parquet", client=dask_client)
    assert dask_client.run(lambda: worker.STATS["trials_loaded"]) == {a: v["trials_loaded"] for a, v in after.items()}
    assert again.ran == again.partitions
    df = read_results(tmp_path / "w2.parquet")
    assert "steps" in df.columns and all(len(s) == 0 for s in df.steps)  # the demo trials state no protocol steps


def test_killed_worker_mid_run_completes_without_duplicates(demo_store, dask_client, tmp_path):
    files = write_patients(tmp_path / "pts", 48)
    items = file_patients(files)
    out = tmp_path / "k.parquet"
    paths = OutputPaths.for_out(out)
    pids = list(dask_client.run(os.getpid).values())
    holder: dict = {}
    runner = threading.Thread(target=lambda: holder.setdefault("r", run_screen(
        demo_store, items, out, client=dask_client, patient_block=1, trial_block=7)))
    runner.start()
    deadline = time.time() + 60
    while time.time() < deadline and not (paths.manifest_dir.exists() and any(paths.manifest_dir.glob("*.json"))):
        time.sleep(0.005)
    done_at_kill = len(list(paths.manifest_dir.glob("*.json")))
    os.kill(pids[0], signal.SIGKILL)  # a worker process this test's cluster started
    runner.join(120)
    result = holder["r"]
    assert done_at_kill < result.partitions, "the run ended before the worker was killed"
    df = read_results(out)
    finished = not result.failed
    if not finished:  # the scheduler gave up on tasks of the dead worker: the next run completes them
        result = run_screen(demo_store, items, out, client=dask_client)
        df = read_results(out)
    assert not result.failed
    assert len(df) == 48 * 7 and len(set(_pairs(df))) == len(df)
    dask_client.wait_for_workers(2, timeout=60)


def test_killed_run_completes_on_the_next_run(demo_store, dask_client, tmp_path):
    """``trialmatch screen --scheduler`` on the test's cluster, killed mid-way, then run again."""
    files = write_patients(tmp_path / "pts", 40)
    out = tmp_path / "run.csv"
    paths = OutputPaths.for_out(out)
    cmd = [sys.executable, "-c", "from trialmatch.cli import main; main()", "screen", str(tmp_path / "pts"),
           "--db", demo_store.url, "--out", str(out), "--scheduler", dask_client.scheduler.address,
           "--patient-block", "1", "--trial-block", "7"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None and (
                not paths.manifest_dir.exists() or len(list(paths.manifest_dir.glob("*.json"))) < 2):
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run (this test's own process group)
        proc.wait(30)
    n_done = len(list(paths.manifest_dir.glob("*.json")))
    assert 2 <= n_done and not out.exists(), "the run was not killed mid-way"
    time.sleep(0.5)  # tasks of the dead client still running finish or are cancelled
    n_done = len(list(paths.manifest_dir.glob("*.json")))
    result = run_screen(demo_store, file_patients(files), out, client=dask_client)
    assert not result.failed and result.skipped >= n_done and result.ran + result.skipped == result.partitions
    assert result.ran > 0
    df = read_results(out)
    assert len(df) == len(files) * 7 and len(set(_pairs(df))) == len(df)
