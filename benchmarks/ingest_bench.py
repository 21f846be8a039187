"""Ingest benchmark: all 4,923 trial records of ``../shared/data`` into a FRESH store.

Goes through the real code path of ``trialmatch ingest`` (:func:`trialmatch.cli.ingest.ingest_files`:
``read_path`` per file, then ``TrialStore.ingest_trials`` per file in one transaction), and reports:

1. the first ingest: records per second, peak Python memory (tracemalloc) and peak RSS;
2. a second ingest of the same files, which must report every record unchanged;
3. compiling the criteria of every stored trial (``ensure_compiled``), timed separately.

Usage::

    python benchmarks/ingest_bench.py [--shared ../shared] [--db PATH] [--no-compile] [--profile]

Writes ``benchmarks/output/ingest.json``. Target: >= 1,000 records/s for the first ingest on a
2-core machine. ``--profile`` prints the top cProfile entries of the first ingest.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RECORDS_PER_S = 1000.0
FILES = ("ctgov-v2/breast_trials.ndjson", "hint/trials.ndjson")


def _maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _ingest(store, files: list[Path], trace: bool, profile: bool):
    from trialmatch.cli.ingest import ingest_files

    prof = cProfile.Profile() if profile else None
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    summary = ingest_files(store, files)
    if prof:
        prof.disable()
    seconds = time.perf_counter() - t0
    summary.cpu_seconds = time.process_time() - c0  # CPU time: steadier than wall time on a busy machine
    peak = None
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return summary, seconds, peak, prof


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                    help="the shared folder (default: <repo>/../shared)")
    ap.add_argument("--db", default=None, help="store path or URL (default: a fresh temporary SQLite file)")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile step")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the first ingest")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "ingest.json")
    args = ap.parse_args(argv)

    files = [args.shared / "data" / f for f in FILES]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"error: shared data not found: {', '.join(missing)} (use --shared)", file=sys.stderr)
        return 2

    from trialmatch.store import TrialStore

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="trialmatch-bench-")
        db = str(Path(tmp.name) / "bench.db")
    else:
        db = args.db
        if "://" not in db and Path(db).exists():
            print(f"error: {db} exists; the benchmark needs a fresh store", file=sys.stderr)
            return 2
    store = TrialStore(db)
    rss_before = _maxrss_mib()

    # 1. timed run into the fresh store (no tracing: tracemalloc slows Python ~3x)
    s1, t1, _, prof = _ingest(store, files, trace=False, profile=args.profile)
    rss_after = _maxrss_mib()
    rate1 = s1.read / t1 if t1 else 0.0
    cpu1 = s1.cpu_seconds
    print(f"first ingest : {s1.read} records in {t1:.2f} s = {rate1:,.0f} records/s "
          f"(CPU {cpu1:.2f} s = {s1.read / cpu1:,.0f} records per CPU-second; "
          f"new {s1.new}, updated {s1.updated}, unchanged {s1.unchanged}, failed {s1.failed})")
    for e in s1.errors[:10]:
        print(f"  error: {e}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)

    # peak Python memory: the same ingest into a second fresh store, under tracemalloc
    with tempfile.TemporaryDirectory(prefix="trialmatch-bench-mem-") as mem_dir:
        mem_store = TrialStore(str(Path(mem_dir) / "mem.db"))
        _, t_mem, peak1, _ = _ingest(mem_store, files, trace=True, profile=False)
        mem_store.engine.dispose()
    print(f"  peak memory: tracemalloc {peak1 / 2**20:.1f} MiB (traced run, {t_mem:.1f} s), "
          f"ru_maxrss {rss_after:.1f} MiB after the first ingest (process before: {rss_before:.1f} MiB)")

    # 2. the same files again: every record must be unchanged
    s2, t2, _, _ = _ingest(store, files, trace=False, profile=False)
    rate2 = s2.read / t2 if t2 else 0.0
    all_unchanged = s2.unchanged == s2.read == s1.read and s2.new == s2.updated == s2.failed == 0
    print(f"second ingest: {s2.read} records in {t2:.2f} s = {rate2:,.0f} records/s, CPU {s2.cpu_seconds:.2f} s "
          f"(unchanged {s2.unchanged}; all unchanged: {'yes' if all_unchanged else 'NO'})")

    compile_info: dict = {"skipped": True}
    if not args.no_compile:
        from trialmatch.store import ensure_compiled

        errors: list[tuple[str, str]] = []
        t0 = time.perf_counter()
        try:
            n = ensure_compiled(store, errors=errors)
        except ImportError as exc:
            print(f"compile      : skipped, the criteria compiler is not available ({exc})")
        else:
            t3 = time.perf_counter() - t0
            rate3 = n / t3 if t3 else 0.0
            print(f"compile      : {n} trials in {t3:.2f} s = {rate3:,.1f} trials/s ({len(errors)} failed)")
            compile_info = {"trials": n, "seconds": round(t3, 3), "records_per_s": round(rate3, 1),
                            "failed": len(errors), "errors": [f"{i}: {m}" for i, m in errors[:20]]}

    ok = s1.failed == 0 and s1.read == 4923 and all_unchanged
    verdict = "meets" if rate1 >= TARGET_RECORDS_PER_S else "BELOW"
    print(f"target {TARGET_RECORDS_PER_S:,.0f} records/s: {verdict} ({rate1:,.0f} records/s on "
          f"{os.cpu_count()} CPU(s))")

    result = {
        "benchmark": "ingest",
        "command": "python benchmarks/ingest_bench.py" + (" --no-compile" if args.no_compile else ""),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "store": "sqlite (fresh temporary file)" if tmp else db,
        "files": [str(f.relative_to(args.shared)) for f in files],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "first_ingest": {"records": s1.read, "seconds": round(t1, 3), "records_per_s": round(rate1, 1),
                         "cpu_seconds": round(cpu1, 3), "records_per_cpu_s": round(s1.read / cpu1, 1),
                         "new": s1.new, "updated": s1.updated, "unchanged": s1.unchanged,
                         "failed": s1.failed, "tracemalloc_peak_mib": round(peak1 / 2**20, 1),
                         "ru_maxrss_mib": round(rss_after, 1)},
        "second_ingest": {"records": s2.read, "seconds": round(t2, 3), "records_per_s": round(rate2, 1),
                          "cpu_seconds": round(s2.cpu_seconds, 3),
                          "unchanged": s2.unchanged, "all_unchanged": all_unchanged},
        "compile": compile_info,
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "meets_target": rate1 >= TARGET_RECORDS_PER_S,
        "ok": ok,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if tmp:
        store.engine.dispose()
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
