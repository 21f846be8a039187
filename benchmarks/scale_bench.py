"""Scale: one patient against registries of 5k, 50k and 500k trials, and ``screen`` throughput on Dask.

Builds the registries by replicating the real records of ``../shared/data`` (55 ctgov-v2 +
4,868 HINT) with fresh ids (``SYN00000001``, ...) and perturbed values: the overall status
(drawn: recruiting, completed, not yet recruiting, active not recruiting, terminated), the
registry age limits, and in the compiled criteria the age bands (shifted by -2..+3 years) and
every lab threshold value (x 0.9..1.1). The criteria of each *distinct* source record are
compiled once (that compile is timed: the compile rate), and each replica stores a perturbed
copy of its source's compiled criteria (compiling 500k criteria texts would take hours on 2
cores and measure the compiler, not the registry). Each registry is a fresh SQLite store
written through ``TrialStore.ingest_trials`` in batches (the ingest rate).

Then, per size, in a fresh process (so that peak RSS is that size's own): load for matching,
``prepare_trials(freeze=True)``, one patient (tests/fixtures/patients/p7_denovo_palbo_eligible.json)
ranked against every trial with the top 20 explained (``match_patient(top=20)``), median of
``--repeat`` runs; the candidate index built (``sync_candidate_index``, timed) and the same
patient through ``match_with_index(top=20)`` (median; its top 20 compared with the full one);
the process's peak RSS (VmHWM). Wall and CPU time are both printed: on a shared machine the
CPU time is the steadier figure. A size whose projected memory (RSS per trial measured
at the smallest size x trials) exceeds ``--max-rss-gib`` is reported as not run, with the
projection. Finally ``trialmatch screen`` (``run_screen`` on an embedded LocalCluster) of
``--screen-patients`` generated patients x ``--screen-trials`` trials with 1 and 2 workers:
patient-trial pairs per second (every result explained and written as Parquet), after a warm-up
in which every worker reads the trials from the store and builds their plans (timed on its own),
excluding the cluster start-up.

Usage::

    python benchmarks/scale_bench.py                       # sizes 5000,50000,500000
    python benchmarks/scale_bench.py --sizes 5000,20000 --screen-patients 20 --screen-trials 5000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

STATUSES = ["RECRUITING"] * 4 + ["COMPLETED"] * 3 + ["NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "TERMINATED"]


def _rss() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc/self/status."""
    cur = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cur, peak


def _shift(value, delta, low=0.0):
    return None if value is None else max(low, value + delta)


def replicate(sources, n: int, seed: int = 11):
    """Yield ``n`` (Trial, CompiledCriteria) replicas of ``sources`` with fresh ids and perturbed values."""
    from trialmatch.criteria import model as cm
    from trialmatch.trials.model import Trial
    from trialmatch.criteria.model import CompiledCriteria

    rng = random.Random(seed)
    dumped = [(t.model_dump(mode="json", by_alias=True), c.model_dump(mode="json")) for t, c in sources]
    for i in range(n):
        tdata, cdata = dumped[i % len(dumped)]
        new_id = f"SYN{i + 1:08d}"
        delta = rng.choice([-2, 0, 0, 0, 1, 3])
        tdict = json.loads(json.dumps(tdata))
        tdict["id"] = new_id
        tdict["status"] = rng.choice(STATUSES)
        el = tdict.get("eligibility") or {}
        if el.get("min_age_years") is not None:
            el["min_age_years"] = _shift(el["min_age_years"], delta)
        if el.get("max_age_years") is not None:
            el["max_age_years"] = _shift(el["max_age_years"], delta, el.get("min_age_years") or 0)
        prov = tdict.get("provenance") or {}
        if "sha256" in prov:
            prov["sha256"] = f"{i:064x}"
        trial = Trial.model_validate(tdict)
        compiled = CompiledCriteria.model_validate(cdata)
        compiled.trial_id = new_id
        factor = rng.uniform(0.9, 1.1)
        for c in compiled.criteria:
            if c.expression is None:
                continue
            for a in cm.iter_atoms(c.expression):
                if a.kind == "age":
                    a.years.low = _shift(a.years.low, delta)
                    a.years.high = _shift(a.years.high, delta, a.years.low or 0)
                elif a.kind == "lab" and a.value is not None:
                    a.value = round(a.value * factor, 3)
        yield trial, compiled


def build_registry(db: str, sources, n: int, batch: int = 2000) -> dict:
    """A store of ``n`` replicas; returns the ingest figures."""
    from trialmatch.store import TrialStore

    store = TrialStore(db)
    t_gen = t_ingest = 0.0
    buf = []
    t0 = time.perf_counter()
    for trial, compiled in replicate(sources, n):
        buf.append((trial, compiled))
        if len(buf) >= batch:
            t1 = time.perf_counter()
            t_gen += t1 - t0
            store.ingest_trials([t for t, _ in buf], {t.id: c for t, c in buf})
            t0 = time.perf_counter()
            t_ingest += t0 - t1
            buf = []
    t1 = time.perf_counter()
    t_gen += t1 - t0
    if buf:
        store.ingest_trials([t for t, _ in buf], {t.id: c for t, c in buf})
    t_ingest += time.perf_counter() - t1
    store.engine.dispose()
    return {"trials": n, "generate_s": t_gen, "ingest_s": t_ingest, "ingest_per_s": n / t_ingest if t_ingest else 0,
            "db_mib": Path(db.replace("sqlite:///", "")).stat().st_size / 2**20}


def measure(db: str, repeat: int) -> dict:
    """One patient against every trial of ``db`` (run in its own process)."""
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.matching import match_patient, prepare_trials
    from trialmatch.patients import read_patient
    from trialmatch.store import TrialStore

    store = TrialStore(db)
    t0 = time.perf_counter()
    trials = store.load_for_matching(COMPILER_VERSION)
    t_load = time.perf_counter() - t0
    rss_loaded = _rss()[0]
    t0 = time.perf_counter()
    prepare_trials(trials, freeze=True)
    t_prepare = time.perf_counter() - t0
    one = read_patient(REPO / "tests" / "fixtures" / "patients" / "p7_denovo_palbo_eligible.json")
    times, cpu = [], []
    rep = None
    for _ in range(repeat):
        rep = None
        t0, c0 = time.perf_counter(), time.process_time()
        rep = match_patient(one, trials, top=20)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    full_top = [(r.trial_id, r.verdict) for r in rep.results]
    # the candidate index: built from the store (incrementally: every trial is new here), then
    # the same patient through match_with_index (only the candidates evaluated)
    from trialmatch.screening.index import CandidateIndex, match_with_index
    from trialmatch.store.candidate_index import sync_candidate_index

    t0 = time.perf_counter()
    sync_candidate_index(store)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = CandidateIndex.from_store(store, sync=False)
    t_index_load = time.perf_counter() - t0
    itimes, icpu = [], []
    for _ in range(repeat):
        rep = None
        t0, c0 = time.perf_counter(), time.process_time()
        rep = match_with_index(one, trials, index, top=20)
        itimes.append(time.perf_counter() - t0)
        icpu.append(time.process_time() - c0)
    n_excluded = len(index.excluded(one))
    cur, peak = _rss()
    return {"trials": len(trials), "load_s": t_load, "prepare_s": t_prepare, "latency_runs": times,
            "latency_median": statistics.median(times), "cpu_median": statistics.median(cpu),
            "rss_loaded_mib": rss_loaded, "rss_mib": cur, "peak_rss_mib": peak,
            "top1": full_top[0][0] if full_top else None,
            "index_build_s": t_index, "index_load_s": t_index_load, "index_signatures": index.signatures,
            "index_excluded": n_excluded, "indexed_latency_runs": itimes,
            "indexed_latency_median": statistics.median(itimes), "indexed_cpu_median": statistics.median(icpu),
            "indexed_top_equal": [(r.trial_id, r.verdict) for r in rep.results] == full_top}


def _warm_worker(url: str, compiler_version: str, refs) -> int:
    """On a worker: read the trials into its cache and build their plans (returns how many)."""
    from trialmatch.screening.worker import load_trials

    return len(load_trials(url, compiler_version, refs))


def screen_throughput(db: str, n_patients: int, workers_list: list[int], workdir: Path) -> list[dict]:
    from match_speed_bench import vary

    from trialmatch.patients import read_patient
    from trialmatch.screening import PatientItem, run_screen
    from trialmatch.store import TrialStore

    fixtures = REPO / "tests" / "fixtures" / "patients"
    base = [read_patient(p) for p in sorted(fixtures.glob("*.json")) if not p.name.endswith(".fhir.json")]
    items = [PatientItem(key=f"gen/{p.id}", patient_id=p.id, source="generated", data=p.model_dump_json())
             for p in vary(base, n_patients)]
    import logging

    from distributed import Client, LocalCluster

    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.screening import trial_refs
    store = TrialStore(db)
    n_trials = store.count_trials()
    refs = trial_refs(store, COMPILER_VERSION)
    out = []
    for w in workers_list:
        cluster = LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)
        try:
            client.wait_for_workers(w, timeout=300)
            # warm-up: every worker reads the trials from the store and builds their plans once
            # (what a long run amortises; timed on its own)
            t0 = time.perf_counter()
            client.run(_warm_worker, store.url, COMPILER_VERSION, refs)
            t_load = time.perf_counter() - t0
            # enough partitions for every worker to stay busy: 4 trial blocks x patient blocks of ~1/4
            res = run_screen(store, items, workdir / f"screen-{w}.parquet", client=client, restart=True,
                             patient_block=max(1, n_patients // 8), trial_block=max(1, -(-n_trials // 4)))
        finally:
            client.close()
            cluster.close()
        if res.failed:
            raise RuntimeError(f"screen with {w} worker(s): {res.failed[0]}")
        out.append({"workers": w, "patients": n_patients, "trials": n_trials, "pairs": res.pairs_run,
                    "partitions": res.partitions, "worker_load_s": t_load, "seconds": res.seconds,
                    "pairs_per_s": res.pairs_per_second})
        print(f"  screen {n_patients} patients x {n_trials} trials = {res.pairs_run:,} pairs, {res.partitions} "
              f"partitions, {w} worker(s): trials loaded on the workers in {t_load:.1f} s, then {res.seconds:.1f} s: "
              f"{res.pairs_per_second:,.0f} pairs/s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--sizes", default="5000,50000,500000", help="registry sizes, comma separated")
    ap.add_argument("--repeat", type=int, default=5, help="timed one-patient runs per size (median)")
    ap.add_argument("--screen-patients", type=int, default=1000, help="generated patients for the screen run")
    ap.add_argument("--screen-trials", type=int, default=50000, help="trials for the screen run (a replica registry)")
    ap.add_argument("--screen-workers", default="1,2")
    ap.add_argument("--no-screen", action="store_true")
    ap.add_argument("--max-rss-gib", type=float, default=16.0, help="skip a size projected to need more memory")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the stores here (default: a temp folder)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "scale.json")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # internal: one size, in a child process
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0

    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import read_path

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tmp = tempfile.TemporaryDirectory() if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    data = args.shared / "data"
    if not data.is_dir():
        print(f"needs the shared data at {data}", file=sys.stderr)
        return 2

    # the distinct source records: ingested and compiled once
    base_db = f"sqlite:///{work / 'base.db'}"
    store = TrialStore(base_db)
    t0 = time.perf_counter()
    records = []
    for src in (data / "ctgov-v2" / "breast_trials.ndjson", data / "hint" / "trials.ndjson"):
        records.extend(r.trial for r in read_path(src) if r.trial is not None)
    store.ingest_trials(records)
    t_ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_compiled = ensure_compiled(store)
    t_compile = time.perf_counter() - t0
    sources = store.load_for_matching(COMPILER_VERSION)
    print(f"source records: {len(records)} read, {len(sources)} distinct trials; ingest {t_ingest:.1f} s "
          f"({len(records) / t_ingest:,.0f} records/s), compile {t_compile:.1f} s ({n_compiled} compiled, "
          f"{n_compiled / t_compile if t_compile else 0:,.0f} trials/s); each replica stores a perturbed copy of its "
          "source's compiled criteria (compiled once per distinct record)", flush=True)
    result: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "sources": len(sources), "source_ingest_s": t_ingest, "compile_s": t_compile,
                    "compiled": n_compiled, "compile_per_s": n_compiled / t_compile if t_compile else None,
                    "sizes": {}}
    mib_per_trial = None
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for n in sorted(sizes):
        if mib_per_trial is not None and mib_per_trial * n / 1024 > args.max_rss_gib:
            need = mib_per_trial * n / 1024
            print(f"{n:>7} trials: not run: projected {need:.1f} GiB RSS (> --max-rss-gib {args.max_rss_gib:g}) "
                  "with every compiled plan in memory", flush=True)
            result["sizes"][n] = {"skipped": f"projected {need:.1f} GiB RSS"}
            continue
        db = f"sqlite:///{work / f'reg-{n}.db'}"
        built = build_registry(db, sources, n)
        proc = subprocess.run([sys.executable, __file__, "--measure", db, "--repeat", str(args.repeat)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"{n:>7} trials: measuring failed (exit {proc.returncode}): {proc.stderr[-600:]}", flush=True)
            result["sizes"][n] = {**built, "failed": proc.stderr[-2000:]}
            continue
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        if mib_per_trial is None:
            mib_per_trial = m["peak_rss_mib"] / n
        result["sizes"][n] = {**built, **m}
        print(f"{n:>7} trials: ingest {built['ingest_per_s']:,.0f} trials/s ({built['ingest_s']:.1f} s, store "
              f"{built['db_mib']:,.0f} MiB); load {m['load_s']:.1f} s, prepare {m['prepare_s']:.1f} s; one patient "
              f"(top 20 explained) median of {args.repeat}: {m['latency_median']:.3f} s (CPU {m['cpu_median']:.3f} s); "
              f"peak RSS {m['peak_rss_mib']:,.0f} MiB", flush=True)
        print(f"{'':>7}         candidate index: built in {m['index_build_s']:.1f} s ({n / m['index_build_s']:,.0f} "
              f"trials/s, {m['index_signatures']:,} signatures), loaded in {m['index_load_s']:.1f} s; it excludes "
              f"{m['index_excluded']:,} of {n:,} trials for this patient; match_with_index median "
              f"{m['indexed_latency_median']:.3f} s (CPU {m['indexed_cpu_median']:.3f} s); top 20 "
              f"{'identical' if m['indexed_top_equal'] else 'DIFFERENT'}", flush=True)
    done = [n for n in sorted(result["sizes"]) if "latency_median" in result["sizes"][n]]
    if len(done) >= 2:
        lo, hi = done[0], done[-1]
        ratio = result["sizes"][hi]["latency_median"] / result["sizes"][lo]["latency_median"]
        iratio = result["sizes"][hi]["indexed_latency_median"] / result["sizes"][lo]["indexed_latency_median"]
        result["growth"] = {"from": lo, "to": hi, "ratio": ratio, "indexed_ratio": iratio}
        print(f"growth {hi}/{lo}: {ratio:.1f}x latency for {hi / lo:.0f}x trials (with the candidate index {iratio:.1f}x)")
    if not args.no_screen:
        n_st = args.screen_trials
        db = f"sqlite:///{work / f'reg-{n_st}.db'}"
        if n_st not in result["sizes"] or "trials" not in result["sizes"][n_st] or "skipped" in result["sizes"][n_st]:
            build_registry(db, sources, n_st)
        workers = [int(w) for w in args.screen_workers.split(",")]
        result["screen"] = screen_throughput(db, args.screen_patients, workers, work)
        if len(result["screen"]) >= 2 and result["screen"][0]["pairs_per_s"]:
            speedup = result["screen"][1]["pairs_per_s"] / result["screen"][0]["pairs_per_s"]
            result["screen_speedup"] = speedup
            print(f"  speed-up {result['screen'][1]['workers']} vs {result['screen'][0]['workers']} worker(s): {speedup:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
