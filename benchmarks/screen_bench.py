"""Batch screening throughput: ``run_screen`` with 1 and 2 Dask workers on one fixed workload.

Workload: the 7 JSON fixture patients (tests/fixtures/patients) and the first TREC 2021 notes
(../shared/data/trec2021/queries.jsonl, read as text summaries), ``--patients`` in all (default
16), against every real trial of ../shared/data (55 ctgov-v2 + 4,868 HINT records = 4,921
trials), ingested and compiled once into a SQLite store (``--store`` keeps it between runs), all
evaluated as of one date.

Each round screens the whole workload into a fresh output with 1 worker, then with 2 workers
(``--rounds`` rounds, interleaved 1,2,1,2,... so that a change of load on a shared machine hits
both alike). Each run is a new embedded LocalCluster (processes, one thread each); its workers
first load and prepare the run's trials (once per worker, timed on its own as ``preload``), then
the timed screening runs. Figures per run and their medians:

* pairs/s: patient-trial pairs screened per second of wall time (first partition sent to the
  last one written), and the 2-worker / 1-worker ratio of the medians (target >= 1.7);
* CPU ms per 1,000 pairs: the worker processes' CPU time during the screening (read from each
  worker) per 1,000 pairs: what the work costs, whatever else the machine runs;
* CPU-bound speed-up: the workers' CPU time, all / the busiest one's: the speed-up the run's
  division of the work allows on cores of its own (on a saturated machine the wall ratio
  cannot show it);
* every run's rows (verdict, score, deciding criteria, missing facts) are checked to be the
  first run's.

Usage::

    python benchmarks/screen_bench.py [--shared ../shared] [--store PATH] [--patients 16]
        [--rounds 3] [--min-partitions 1 --no-preload] [--out benchmarks/output/screen.json]

(``--min-partitions 1 --no-preload`` reproduces the earlier run layout: blocks by size only,
trials loaded by each partition as it needs them.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_store(db: str, data: Path):
    """A SQLite store of every record of ``data`` with criteria compiled (kept when it exists)."""
    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import read_path

    store = TrialStore(db)
    t0 = time.perf_counter()
    if store.count_trials() == 0:
        batch = []
        for src in (data / "ctgov-v2" / "breast_trials.ndjson", data / "hint" / "trials.ndjson"):
            batch.extend(r.trial for r in read_path(src) if r.trial is not None)
        store.ingest_trials(batch)
    n = ensure_compiled(store)
    print(f"store {db}: {store.count_trials()} trials ({n} compiled now, {time.perf_counter() - t0:.1f} s)", flush=True)
    return store


def workload_patients(data: Path, n: int):
    """``n`` patients: the JSON fixtures, then TREC 2021 notes read as text summaries."""
    from trialmatch.patients import read_patient, read_patient_bytes
    from trialmatch.screening.partitions import PatientItem

    items = []
    for f in sorted((REPO / "tests" / "fixtures" / "patients").glob("*.json")):
        if f.name.endswith(".fhir.json"):
            continue
        p = read_patient(f)
        items.append(PatientItem(key=str(f.relative_to(REPO)), patient_id=p.id, source=f.name, data=p.model_dump_json()))
    with open(data / "trec2021" / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if len(items) >= n:
                break
            q = json.loads(line)
            p = read_patient_bytes(q["text"].encode("utf-8"), f"{q['_id']}.txt", fmt="text")
            items.append(PatientItem(key=f"trec/{q['_id']}", patient_id=q["_id"], source=f"trec:{q['_id']}",
                                     data=p.model_dump_json()))
    return items[:n]


def rows_digest(out) -> str:
    """SHA-256 over the sorted (patient, trial, verdict, score, deciding, missing) of a run's rows."""
    import hashlib

    from trialmatch.screening import read_results

    df = read_results(out)
    items = sorted(zip(df.patient_source, df.trial_id, df.verdict, df.score.round(9).astype(str),
                       df.deciding_ids.map(lambda v: "|".join(v)), df.missing_facts.map(lambda v: "|".join(v))))
    return hashlib.sha256(json.dumps(items).encode("utf-8")).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--store", type=str, default=None, help="reuse this SQLite file (default: a temp file)")
    ap.add_argument("--patients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (1 worker, 2 workers)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts of a round, in order")
    ap.add_argument("--as-of", default="2025-06-01", help="every patient evaluated as of this date")
    ap.add_argument("--min-partitions", type=int, default=None,
                    help="layout: at least this many partitions (default: the library's; 1 = blocks by size only)")
    ap.add_argument("--patient-block", type=int, default=None)
    ap.add_argument("--trial-block", type=int, default=None)
    ap.add_argument("--no-preload", action="store_true", help="workers load trial blocks as partitions need them")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "screen.json")
    args = ap.parse_args(argv)

    import datetime as dt

    from trialmatch.screening import run as screen_run
    from trialmatch.screening.partitions import MIN_PARTITIONS

    data = args.shared / "data"
    if not (data / "hint" / "trials.ndjson").is_file():
        print(f"no trial data under {data}: give --shared", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory(prefix="screen-bench-")
    store = build_store(args.store or str(Path(tmp.name) / "bench.db"), data)
    items = workload_patients(data, args.patients)
    as_of = dt.date.fromisoformat(args.as_of)
    kw = dict(as_of=as_of, preload=not args.no_preload,
              min_partitions=MIN_PARTITIONS if args.min_partitions is None else args.min_partitions,
              patient_block=args.patient_block or screen_run.DEFAULT_PATIENT_BLOCK,
              trial_block=args.trial_block or screen_run.DEFAULT_TRIAL_BLOCK)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    print(f"workload: {len(items)} patients x the store's trials; rounds {args.rounds} of workers {args.workers}; "
          f"load average {load}", flush=True)
    runs = []
    digest = None
    for rnd in range(args.rounds):
        for w in args.workers:
            out = Path(tmp.name) / f"r{rnd}-w{w}.parquet"
            t0, c0 = time.perf_counter(), time.process_time()
            res = screen_run.run_screen(store, items, out, workers=w, **kw)
            total, client_cpu = time.perf_counter() - t0, time.process_time() - c0
            assert not res.failed, res.failed
            d = rows_digest(out)
            digest = digest or d
            run = {"round": rnd, "workers": w, "pairs": res.pairs_run, "partitions": res.partitions,
                   "seconds": round(res.seconds, 3), "pairs_per_second": round(res.pairs_per_second, 1),
                   "cpu_seconds": round(res.cpu_seconds, 3) if res.cpu_seconds is not None else None,
                   "cpu_ms_per_1000_pairs": round(1e6 * res.cpu_seconds / res.pairs_run, 1) if res.cpu_seconds else None,
                   "worker_cpu_seconds": [round(v, 3) for v in res.worker_cpu_seconds.values()],
                   "cpu_bound_speedup": round(res.cpu_bound_speedup, 3) if res.cpu_bound_speedup else None,
                   "client_cpu_seconds": round(client_cpu, 3),
                   "preload_seconds": round(res.load_seconds, 3), "total_seconds": round(total, 3),
                   "same_rows_as_first": d == digest}
            runs.append(run)
            print(f"round {rnd} workers {w}: {res.pairs_run:,} pairs in {res.partitions} partitions, "
                  f"{res.seconds:.1f} s = {res.pairs_per_second:,.0f} pairs/s; worker CPU {run['cpu_seconds']} s "
                  f"({run['cpu_ms_per_1000_pairs']} ms per 1,000 pairs; per worker {run['worker_cpu_seconds']}: "
                  f"CPU-bound speed-up {run['cpu_bound_speedup']}; client process {client_cpu:.1f} s); preload {res.load_seconds:.1f} s, "
                  f"total with cluster start {total:.1f} s; same rows: {d == digest}", flush=True)
    summary = {}
    for w in args.workers:
        mine = [r for r in runs if r["workers"] == w]
        summary[str(w)] = {
            "pairs_per_second_median": round(statistics.median(r["pairs_per_second"] for r in mine), 1),
            "cpu_ms_per_1000_pairs_median": round(statistics.median(r["cpu_ms_per_1000_pairs"] for r in mine
                                                                    if r["cpu_ms_per_1000_pairs"]), 1),
            "preload_seconds_median": round(statistics.median(r["preload_seconds"] for r in mine), 2),
            "cpu_bound_speedup_median": round(statistics.median(r["cpu_bound_speedup"] or 0 for r in mine), 3),
        }
    line = ", ".join(f"{w} worker(s) {s['pairs_per_second_median']:,.0f} pairs/s "
                     f"({s['cpu_ms_per_1000_pairs_median']} CPU ms per 1,000 pairs)" for w, s in summary.items())
    ratio = None
    if "1" in summary and "2" in summary:
        ratio = round(summary["2"]["pairs_per_second_median"] / summary["1"]["pairs_per_second_median"], 3)
        line += (f"; 2 / 1 workers: {ratio}x wall (target >= 1.7); the 2-worker runs' division of the work allows "
                 f"{summary['2']['cpu_bound_speedup_median']}x on 2 free cores")
    print("median: " + line)
    result = {"benchmark": "screen", "patients": len(items), "trials": runs[0]["pairs"] // len(items) if runs else 0,
              "as_of": args.as_of, "options": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in kw.items()},
              "cpu_count": os.cpu_count(), "load_average_at_start": load, "runs": runs, "median": summary,
              "speedup_2_over_1": ratio, "rows_digest": digest,
              "all_runs_same_rows": all(r["same_rows_as_first"] for r in runs)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
