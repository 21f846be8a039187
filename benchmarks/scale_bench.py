"""Scale: one patient against registries of 5k, 50k and 500k trials, and ``screen`` throughput on Dask.

Builds the registries by replicating the real records of ``../shared/data`` (55 ctgov-v2 +
4,868 HINT) with fresh ids (``SYN00000001``, ...) and perturbed values drawn from small discrete
sets (as real registries repeat criteria: the same "ANC >= 1.5 x 10^9/L" in thousands of trials):
per replica one overall status (recruiting, completed, not yet recruiting, active not recruiting,
terminated), one age shift of -2..+3 years (applied to the registry age limits and to every age
band of its compiled criteria) and one lab factor of 0.9, 1.0 or 1.1 (applied to every lab
threshold value). The criteria of each *distinct* source record are compiled once (that compile
is timed: the compile rate), and each replica stores a perturbed copy of its source's compiled
criteria (compiling 500k criteria texts would take hours on 2 cores and measure the compiler,
not the registry). Each size is a SQLite store written through ``TrialStore.ingest_trials`` in
batches (the ingest rate) and its :class:`~trialmatch.screening.registry.CompiledRegistry`
(columnar: distinct criterion plans once, per trial a CSR list of plan ids) built from the same
objects in the same pass and saved beside the store. In that pass the first replica of each
template (source record, age shift, lab factor) is read from its criteria (``RegistryBuilder.add``:
the engine's ``trial_plan``); the other replicas of that template differ only in id, status and
provenance, and their row is copied (``RegistryBuilder.add_copy``): the printed registry build
rate is therefore that of a replicated registry; ``CompiledRegistry.build(store)``, reading every
trial back from the store (the rate of a real registry), is timed at sizes up to ``--full-max``.

The stores and registries are cached in ``--workdir`` (keyed by size, seed, compiler version
and perturbation version) and reused by later runs: ``--reuse`` re-runs only the measurements
on the cached stores (an error if one is missing).

Then, per size, in a fresh process (so that peak RSS is that size's own): the registry loaded
(memory-mapped arrays; the distinct criterion plans compiled: timed), one patient
(tests/fixtures/patients/p7_denovo_palbo_eligible.json) ranked against every trial with the top
20 read from the store and explained (``rank_registry(top=20)``), median of ``--repeat`` runs,
wall and CPU time (on a shared machine the CPU time is the steadier figure); the process's peak
RSS (VmHWM). At sizes up to ``--full-max`` also the full in-memory path in another fresh process
(``load_for_matching``, ``prepare_trials``, ``match_patient(top=20)``) and the candidate index,
with the top 20 compared with the registry's. Finally ``trialmatch screen`` (``run_screen`` on an
embedded LocalCluster) of ``--screen-patients`` generated patients x ``--screen-trials`` trials
with 1 and 2 workers (``--no-screen`` skips it).

Usage::

    python benchmarks/scale_bench.py --workdir /tmp/scale --no-screen      # build (once) and measure 5k, 50k, 500k
    python benchmarks/scale_bench.py --workdir /tmp/scale --no-screen --reuse   # measure again on the cached stores
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

#: the perturbations drawn per replica (discrete: see the module docstring); bump PERTURB_VERSION
#: when they change (the cached stores are keyed on it)
AGE_SHIFTS = [-2, -1, 0, 0, 1, 2, 3]
LAB_FACTORS = [0.9, 1.0, 1.1]
PERTURB_VERSION = 2
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
    """Yield ``n`` (Trial, CompiledCriteria, template) replicas of ``sources`` with fresh ids and
    perturbed values; ``template`` is (source index, age shift, lab factor): replicas with the same
    template differ only in id, status and provenance hash.

    Copy on write: a replica shares its source's criteria objects except those with an age band
    or a lab threshold value (deep-copied, then perturbed).
    """
    from trialmatch.criteria import model as cm

    rng = random.Random(seed)
    perturbed_kinds = {"age", "lab"}
    touched = [[any(a.kind in perturbed_kinds for a in cm.iter_atoms(c.expression)) if c.expression is not None else False
                for c in comp.criteria] for _t, comp in sources]
    for i in range(n):
        k = i % len(sources)
        trial0, comp0 = sources[k]
        new_id = f"SYN{i + 1:08d}"
        delta = rng.choice(AGE_SHIFTS)
        status = rng.choice(STATUSES)
        factor = rng.choice(LAB_FACTORS)
        el = trial0.eligibility
        upd: dict = {}
        if el.min_age_years is not None:
            upd["min_age_years"] = _shift(el.min_age_years, delta)
        if el.max_age_years is not None:
            upd["max_age_years"] = _shift(el.max_age_years, delta, upd.get("min_age_years", el.min_age_years) or 0)
        trial = trial0.model_copy(update={
            "id": new_id, "status": status, "eligibility": el.model_copy(update=upd),
            "provenance": trial0.provenance.model_copy(update={"sha256": f"{i:064x}"})})
        criteria = []
        for c, touch in zip(comp0.criteria, touched[k]):
            if touch:
                expr = c.expression.model_copy(deep=True)
                for a in cm.iter_atoms(expr):
                    if a.kind == "age":
                        a.years.low = _shift(a.years.low, delta)
                        a.years.high = _shift(a.years.high, delta, a.years.low or 0)
                    elif a.kind == "lab" and a.value is not None:
                        a.value = round(a.value * factor, 3)
                c = c.model_copy(update={"expression": expr})
            criteria.append(c)
        compiled = comp0.model_copy(update={"trial_id": new_id, "criteria": criteria})
        yield trial, compiled, (k, delta, factor)


def build_registry(db: str, sources, n: int, batch: int = 2000, seed: int = 11) -> dict:
    """A store of ``n`` replicas and its compiled registry (saved beside it); returns the figures."""
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.screening.registry import RegistryBuilder, registry_path
    from trialmatch.store import TrialStore

    store = TrialStore(db)
    builder = RegistryBuilder()
    t_gen = t_ingest = t_reg = 0.0
    buf = []
    rows: dict[tuple, int] = {}  # template -> the row of its first replica
    n_read = [0]

    def flush():
        nonlocal t_ingest, t_reg
        t1 = time.perf_counter()
        store.ingest_trials([t for t, _c, _k in buf], {t.id: c for t, c, _k in buf})
        t2 = time.perf_counter()
        for t, c, k in buf:
            row = rows.get(k)
            if row is None:  # the first replica of its template: read from its criteria
                rows[k] = len(builder)
                builder.add(t, c)
                n_read[0] += 1
            else:  # the same criteria, conditions and titles as that one: its row copied
                builder.add_copy(t, row)
        t_ingest += t2 - t1
        t_reg += time.perf_counter() - t2
        buf.clear()

    t0 = time.perf_counter()
    for trial, compiled, template in replicate(sources, n, seed):
        buf.append((trial, compiled, template))
        if len(buf) >= batch:
            t_gen += time.perf_counter() - t0
            flush()
            if len(builder) % (10 * batch) == 0:
                print(f"    {len(builder):,} of {n:,} trials stored ({t_gen + t_ingest + t_reg:.0f} s)", flush=True)
            t0 = time.perf_counter()
    t_gen += time.perf_counter() - t0
    if buf:
        flush()
    t1 = time.perf_counter()
    reg = builder.finish({"compiler_version": COMPILER_VERSION, "store_revision": store.revision()})
    folder = reg.save(registry_path(store))
    t_reg += time.perf_counter() - t1
    store.engine.dispose()
    return {"trials": n, "generate_s": t_gen, "ingest_s": t_ingest, "ingest_per_s": n / t_ingest if t_ingest else 0,
            "registry_build_s": t_reg, "registry_build_per_s": n / t_reg if t_reg else 0,
            "registry_rows_read": n_read[0],
            "registry_mib": sum(f.stat().st_size for f in folder.iterdir()) / 2**20,
            "plans": len(reg.plan_keys), "entries": len(reg.entries), "fit_keys": len(reg.fit_keys),
            "db_mib": Path(db.replace("sqlite:///", "")).stat().st_size / 2**20}


def measure_registry(db: str, repeat: int) -> dict:
    """One patient against every trial of ``db`` through its compiled registry (own process)."""
    from trialmatch.patients import read_patient
    from trialmatch.screening import CompiledRegistry, rank_registry
    from trialmatch.screening.registry import registry_path
    from trialmatch.store import TrialStore

    store = TrialStore(db)
    t0, c0 = time.perf_counter(), time.process_time()
    reg = CompiledRegistry.load(registry_path(store))
    reg.engine_plans()
    t_load, c_load = time.perf_counter() - t0, time.process_time() - c0
    if reg.meta.get("store_revision") != store.revision():
        raise RuntimeError(f"{db}: the registry is older than the store")
    rss_loaded = _rss()[0]
    one = read_patient(REPO / "tests" / "fixtures" / "patients" / "p7_denovo_palbo_eligible.json")
    times, cpu = [], []
    rep = None
    for _ in range(repeat):
        rep = None
        t0, c0 = time.perf_counter(), time.process_time()
        rep = rank_registry(one, reg, store, top=20)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ranking = reg.rank(one)
    counts = ranking.counts()
    cur, peak = _rss()
    return {"trials": len(reg), "plans": len(reg.plan_keys), "entries": len(reg.entries), "fit_keys": len(reg.fit_keys),
            "registry_load_s": t_load, "registry_load_cpu_s": c_load, "latency_runs": times, "cpu_runs": cpu,
            "latency_median": statistics.median(times), "cpu_median": statistics.median(cpu), "verdicts": counts,
            "rss_loaded_mib": rss_loaded, "rss_mib": cur, "peak_rss_mib": peak,
            "top20": [(r.trial_id, r.verdict, r.score) for r in rep.results]}


def _registry_from_store_rate(db: str) -> dict:
    """``CompiledRegistry.build(store)`` timed (reading every trial back from the store)."""
    from trialmatch.screening import CompiledRegistry
    from trialmatch.store import TrialStore

    store = TrialStore(db)
    t0, c0 = time.perf_counter(), time.process_time()
    reg = CompiledRegistry.build(store)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"trials": len(reg), "build_s": wall, "build_cpu_s": cpu, "per_s": len(reg) / wall if wall else 0}


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
    top20 = [(r.trial_id, r.verdict, r.score) for r in rep.results]
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
            "top1": full_top[0][0] if full_top else None, "top20": top20,
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


def _child(env: dict, *args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"failed": f"exit {proc.returncode}: {proc.stderr[-2000:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sources(args, work: Path, result: dict):
    """The distinct source records, ingested and compiled once (cached in ``work``)."""
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import read_path

    data = args.shared / "data"
    base_db = f"sqlite:///{work / f'base-c{COMPILER_VERSION}.db'}"
    info_path = work / f"base-c{COMPILER_VERSION}.json"
    store = TrialStore(base_db)
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        t0 = time.perf_counter()
        records = []
        for src in (data / "ctgov-v2" / "breast_trials.ndjson", data / "hint" / "trials.ndjson"):
            records.extend(r.trial for r in read_path(src) if r.trial is not None)
        store.ingest_trials(records)
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_compiled = ensure_compiled(store)
        t_compile = time.perf_counter() - t0
        info = {"records": len(records), "source_ingest_s": t_ingest, "compile_s": t_compile, "compiled": n_compiled,
                "compile_per_s": n_compiled / t_compile if t_compile else None}
    was_cached = "cached" in info
    info["cached"] = True
    info_path.write_text(json.dumps(info))
    sources = store.load_for_matching(COMPILER_VERSION)
    from trialmatch.screening import RegistryBuilder

    b = RegistryBuilder()
    for t, c in sources:
        b.add(t, c)
    reg = b.finish()
    info["distinct_plans"] = len(reg.plan_keys)
    info["entry_criteria"] = len(reg.entries)
    info["distinct_ratio"] = len(reg.plan_keys) / max(1, len(reg.entries))
    result.update({"sources": len(sources), **info})
    print(f"source records: {info['records']} read, {len(sources)} distinct trials; ingest {info['source_ingest_s']:.1f} s, "
          f"compile {info['compile_s']:.1f} s ({info['compiled']} compiled, {info['compile_per_s'] or 0:,.0f} trials/s"
          f"{', cached' if was_cached else ''}); their {info['entry_criteria']:,} patient-dependent entry "
          f"criteria are {info['distinct_plans']:,} distinct criterion plans (ratio {info['distinct_ratio']:.3f}); each "
          "replica stores a perturbed copy of its source's compiled criteria", flush=True)
    return sources


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--sizes", default="5000,50000,500000", help="registry sizes, comma separated")
    ap.add_argument("--repeat", type=int, default=5, help="timed one-patient runs per size (median)")
    ap.add_argument("--seed", type=int, default=11, help="seed of the perturbations")
    ap.add_argument("--screen-patients", type=int, default=1000, help="generated patients for the screen run")
    ap.add_argument("--screen-trials", type=int, default=50000, help="trials for the screen run (a replica registry)")
    ap.add_argument("--screen-workers", default="1,2")
    ap.add_argument("--no-screen", action="store_true")
    ap.add_argument("--full-max", type=int, default=5000,
                    help="sizes up to this also run the full in-memory match_patient (and the candidate index)")
    ap.add_argument("--workdir", "--work-dir", type=Path, default=None,
                    help="keep (and reuse) the stores here (default: a temp folder, removed)")
    ap.add_argument("--reuse", action="store_true", help="only measure: every size must be cached in --workdir")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "scale.json")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # internal: one size, in a child process
    ap.add_argument("--measure-registry", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--registry-rate", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0
    if args.measure_registry:
        print(json.dumps(measure_registry(args.measure_registry, args.repeat)))
        return 0
    if args.registry_rate:
        print(json.dumps(_registry_from_store_rate(args.registry_rate)))
        return 0

    from trialmatch.criteria import COMPILER_VERSION

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.reuse and args.workdir is None:
        print("--reuse needs --workdir (where the stores were built)", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory() if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    if not (args.shared / "data").is_dir():
        print(f"needs the shared data at {args.shared / 'data'}", file=sys.stderr)
        return 2
    result: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "perturbations": {"age_shifts": AGE_SHIFTS, "lab_factors": LAB_FACTORS, "statuses": sorted(set(STATUSES))},
                    "sizes": {}}
    sources = _sources(args, work, result)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def cached(n: int) -> tuple[str, Path]:
        key = f"reg-{n}-s{args.seed}-c{COMPILER_VERSION}-p{PERTURB_VERSION}"
        return f"sqlite:///{work / (key + '.db')}", work / (key + ".build.json")

    for n in sorted(sizes):
        db, info_path = cached(n)
        if info_path.exists():
            built = json.loads(info_path.read_text())
            note = "cached"
        elif args.reuse:
            print(f"{n:>7} trials: not cached in {work} (run without --reuse first)", file=sys.stderr)
            return 2
        else:
            Path(db[len("sqlite:///"):]).unlink(missing_ok=True)
            print(f"{n:>7} trials: building the store and its registry", flush=True)
            built = build_registry(db, sources, n, seed=args.seed)
            info_path.write_text(json.dumps(built))
            note = "built now"
        m = _child(env, "--measure-registry", db, "--repeat", str(args.repeat))
        result["sizes"][n] = {**built, **{k: v for k, v in m.items() if k not in built or k == "trials"}}
        print(f"{n:>7} trials ({note}): ingest {built['ingest_per_s']:,.0f} trials/s ({built['ingest_s']:.0f} s, store "
              f"{built['db_mib']:,.0f} MiB); registry build {built['registry_build_per_s']:,.0f} trials/s "
              f"({built['registry_build_s']:.0f} s, {built['registry_mib']:,.0f} MiB on disk); {built['plans']:,} distinct "
              f"criterion plans for {built['entries']:,} entry criteria, {built['fit_keys']:,} fit keys", flush=True)
        if "failed" in m:
            print(f"{'':>7}   measuring failed: {m['failed'][-600:]}", flush=True)
            continue
        print(f"{'':>7}   registry loaded in {m['registry_load_s']:.1f} s (CPU {m['registry_load_cpu_s']:.1f} s); one "
              f"patient (top 20 explained) median of {args.repeat}: {m['latency_median']:.3f} s (CPU "
              f"{m['cpu_median']:.3f} s); peak RSS {m['peak_rss_mib']:,.0f} MiB; verdicts {m['verdicts']}", flush=True)
        if n <= args.full_max:
            rate = _child(env, "--registry-rate", db)
            if "failed" not in rate:
                result["sizes"][n]["registry_from_store"] = rate
                print(f"{'':>7}   CompiledRegistry.build(store), reading the store back: {rate['per_s']:,.0f} trials/s "
                      f"({rate['build_s']:.1f} s, CPU {rate['build_cpu_s']:.1f} s)", flush=True)
            full = _child(env, "--measure", db, "--repeat", str(args.repeat))
            result["sizes"][n]["full_path"] = full
            if "failed" in full:
                print(f"{'':>7}   full path failed: {full['failed'][-600:]}", flush=True)
            else:
                print(f"{'':>7}   full in-memory path (match_patient, every trial loaded): median {full['latency_median']:.3f} s "
                      f"(CPU {full['cpu_median']:.3f} s), peak RSS {full['peak_rss_mib']:,.0f} MiB; top 20 "
                      f"{'identical' if full['top20'] == m['top20'] else 'DIFFERENT'}; candidate index median "
                      f"{full['indexed_latency_median']:.3f} s", flush=True)
    done = [n for n in sorted(result["sizes"]) if "latency_median" in result["sizes"][n]]
    if len(done) >= 2:
        lo, hi = done[0], done[-1]
        a, b = result["sizes"][lo], result["sizes"][hi]
        result["growth"] = {"from": lo, "to": hi, "ratio": b["latency_median"] / a["latency_median"],
                            "cpu_ratio": b["cpu_median"] / a["cpu_median"]}
        print(f"growth {hi}/{lo}: {result['growth']['ratio']:.2f}x latency (CPU {result['growth']['cpu_ratio']:.2f}x) "
              f"for {hi / lo:.0f}x trials")
    if not args.no_screen:
        n_st = args.screen_trials
        db, info_path = cached(n_st)
        if not info_path.exists():
            info_path.write_text(json.dumps(build_registry(db, sources, n_st, seed=args.seed)))
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
