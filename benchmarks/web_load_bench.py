"""Web load: POST /api/v1/patients/{id}/match on the full ../shared/data trial set, driven from a
second process by concurrent clients over loopback.

The server (uvicorn, 127.0.0.1, a free port) runs in a child process on a SQLite store holding the
55 ctgov-v2 + 4,868 hint records, ingested and compiled once and cached in
``benchmarks/output/web_load.db`` (reused while the compiler version is the same). This process
creates a user, an API token and patients, then drives the match endpoint with N concurrent
httpx clients, bounded in requests and seconds, and records requests/s, p50 and p99 latency.

Two runs, each on a freshly started server, with the body ``{"top": N}`` (default 20: every
trial is matched and ranked, the best N are returned; ``--top 0`` asks for the full report, which
is ~47 MB of JSON for 4,921 trials):

* ``cached`` (the server's default): match reports are cached per (patient version, trial
  fingerprint, options) and kept serialised. Each client's patient is matched once before the
  measured run (timed and reported as ``prewarm_s_per_patient_sequential``), so the measured
  requests are repeat views of unchanged patients; the ``X-Trialmatch-Cache`` header says hit or
  miss and the counts are reported.
* ``uncached`` (``Settings(match_cache=False)``): every request runs the matcher over all trials
  and serialises the report. Only the (trial, compiled criteria) pairs stay in memory, as they do
  in every configuration.

Usage::

    python benchmarks/web_load_bench.py [--shared ../shared] [--clients 8] [--requests 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "benchmarks" / "output"
PASSWORD = "bench-password-1"


def build_db(shared: Path, db: Path) -> dict:
    """Ingest and compile the full data set into ``db`` unless it is there for this compiler."""
    from trialmatch.store import TrialStore
    from trialmatch.trials import read_bytes
    from trialmatch.web import services

    version = services.compiler_version()
    marker = db.with_name(db.name + ".meta.json")
    if db.exists() and marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("compiler_version") == version:
            return {**meta, "reused": True}
        db.unlink()
    files = [shared / "data" / "ctgov-v2" / "breast_trials.ndjson", shared / "data" / "hint" / "trials.ndjson"]
    t0 = time.perf_counter()
    trials, failed = [], 0
    for f in files:
        for r in read_bytes(f.read_bytes(), f.name):
            if r.trial is not None and r.error is None:
                trials.append(r.trial)
            else:
                failed += 1
    t_read = time.perf_counter() - t0
    store = TrialStore(str(db))
    t0 = time.perf_counter()
    compiled = services.compile_trials(trials)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.ingest_trials(trials, compiled)
    t_ingest = time.perf_counter() - t0
    store.engine.dispose()
    meta = {"compiler_version": version, "records": len(trials), "failed": failed,
            "read_s": round(t_read, 2), "compile_s": round(t_compile, 2), "ingest_s": round(t_ingest, 2)}
    marker.write_text(json.dumps(meta))
    return {**meta, "reused": False}


def serve(db: str, port: int, match_cache: bool, workers: int = 1) -> None:
    """Child-process entry: run the app with uvicorn on 127.0.0.1:port (as `trialmatch serve` does)."""
    import uvicorn

    from trialmatch.store import TrialStore
    from trialmatch.web import Settings, create_app
    from trialmatch.web.auth_store import server_secret

    if workers > 1:
        store = TrialStore(db)
        server_secret(store)
        os.environ["TRIALMATCH_DB"] = store.url
        os.environ["TRIALMATCH_MATCH_CACHE"] = "1" if match_cache else "0"
        uvicorn.run("trialmatch.web.app:create_app_from_env", factory=True, workers=workers, host="127.0.0.1",
                    port=port, log_level="warning", access_log=False, timeout_worker_healthcheck=120)
        return
    app = create_app(TrialStore(db), settings=Settings(match_cache=match_cache))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, match_cache: bool, workers: int = 1):
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", "--db", str(db), "--port", str(port), "--workers", str(workers)]
    if not match_cache:
        cmd.append("--no-match-cache")
    proc = subprocess.Popen(cmd, cwd=REPO)
    import httpx

    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def patient_doc(i: int) -> dict:
    """Patients modeled on seed 004's population, varied a little per client."""
    return {
        "id": f"bench-{i}", "age_years": 50 + i, "sex": "female", "menopausal_status": "postmenopausal",
        "as_of": "2026-11-01",
        "diagnoses": [{"cancer_type": "breast_cancer", "stage": "IV", "extent": "metastatic",
                       "metastases": [{"site": "bone"}, {"site": ["liver", "lung"][i % 2]}]}],
        "biomarkers": [{"name": "ER", "status": "positive", "percent": 60 + i},
                       {"name": "PR", "status": "positive", "percent": 20},
                       {"name": "HER2", "status": "negative", "ihc_score": ["0", "1+"][i % 2]}],
        "performance": [{"scale": "ecog", "value": i % 2, "date": "2026-10-20"}],
        "labs": [{"analyte": "platelets", "value": 180 + 10 * i, "unit": "10^9/L", "date": "2026-10-20"},
                 {"analyte": "hemoglobin", "value": 120, "unit": "g/L", "date": "2026-10-20"},
                 {"analyte": "anc", "value": 3.0, "unit": "10^9/L", "date": "2026-10-20"}],
        "treatments": ([] if i % 2 == 0 else
                       [{"drugs": ["letrozole"], "setting": "adjuvant", "start": "2019-01-01", "end": "2024-01-01"}]),
    }


async def drive(base: str, token: str, patients: list[str], clients: int, max_requests: int, seconds: float,
                body: dict) -> dict:
    import httpx

    latencies: list[float] = []
    by_tag: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    cache: dict[str, int] = {}
    sent = 0
    t_start = time.perf_counter()
    deadline = t_start + seconds

    async def client(k: int) -> None:
        nonlocal sent
        pid = patients[k % len(patients)]
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as c:
            while True:
                if sent >= max_requests or time.perf_counter() >= deadline:
                    return
                sent += 1
                t0 = time.perf_counter()
                r = await c.post(f"/api/v1/patients/{pid}/match", json=body)
                _ = r.content
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                tag = r.headers.get("x-trialmatch-cache", "none")
                cache[tag] = cache.get(tag, 0) + 1
                by_tag.setdefault(tag, []).append(latencies[-1])

    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - t_start
    lat = sorted(latencies)

    def pct(p: float, values: list[float] | None = None) -> float:
        v = lat if values is None else sorted(values)
        return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] * 1000 if v else float("nan")

    return {"requests": len(lat), "wall_s": round(wall, 3), "requests_per_s": round(len(lat) / wall, 2),
            "p50_ms": round(pct(50), 1), "p90_ms": round(pct(90), 1), "p99_ms": round(pct(99), 1),
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else None,
            "statuses": statuses, "cache": cache,
            "by_cache_outcome": {tag: {"requests": len(v), "p50_ms": round(pct(50, v), 1),
                                       "p99_ms": round(pct(99, v), 1)} for tag, v in by_tag.items()}}


def run_phase(db: Path, match_cache: bool, clients: int, max_requests: int, seconds: float, body: dict,
              prewarm: bool, workers: int = 1) -> dict:
    import httpx

    from trialmatch.store import TrialStore
    from trialmatch.web.auth_store import create_token

    store = TrialStore(str(db))
    token = create_token(store, "bench", "load")
    store.engine.dispose()
    proc, base = start_server(db, match_cache, workers)
    try:
        h = {"Authorization": f"Bearer {token}"}
        patients = []
        for i in range(clients):
            r = httpx.post(base + "/api/v1/patients", json=patient_doc(i), headers=h, timeout=60)
            if r.status_code != 201:
                raise RuntimeError(f"creating patient {i}: {r.status_code} {r.text[:500]}")
            patients.append(r.json()["id"])
        out: dict = {"body": body, "server_workers": workers}
        # the first match loads the 4,921 (trial, criteria) pairs from the database into memory
        t0 = time.perf_counter()
        r = httpx.post(base + f"/api/v1/patients/{patients[0]}/match", json=body, headers=h, timeout=600)
        r.raise_for_status()
        out["first_request_s_incl_loading_trials"] = round(time.perf_counter() - t0, 2)
        out["response_bytes"] = len(r.content)
        out["results_per_response"] = len(r.json()["results"])
        if prewarm:  # one real match per patient before the measured run (timed, sequential)
            t0 = time.perf_counter()
            for pid in patients[1:]:
                httpx.post(base + f"/api/v1/patients/{pid}/match", json=body, headers=h, timeout=600).raise_for_status()
            n = max(1, len(patients) - 1)
            out["prewarm_s_per_patient_sequential"] = round((time.perf_counter() - t0) / n, 2)
        out.update(asyncio.run(drive(base, token, patients, clients, max_requests, seconds, body)))
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--db", type=Path, default=OUT_DIR / "web_load.db")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--uncached-requests", type=int, default=16)
    ap.add_argument("--top", type=int, default=20,
                    help="ask for the best N trials (all trials are matched and ranked); 0: the full report")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "web_load.json")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (as `trialmatch serve --workers`)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--no-match-cache", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(str(args.db), args.port, not args.no_match_cache, args.workers)
        return 0
    if not (args.shared / "data").exists():
        print(f"needs the shared data at {args.shared / 'data'}", file=sys.stderr)
        return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build = build_db(args.shared, args.db)
    build["seconds"] = round(time.perf_counter() - t0, 2)
    print("store:", build, flush=True)

    from trialmatch.store import TrialStore
    from trialmatch.web.auth_store import create_user, get_user

    store = TrialStore(str(args.db))
    if get_user(store, "bench") is None:
        create_user(store, "bench", PASSWORD, "bench")
    store.engine.dispose()

    report = {
        "benchmark": "web_load",
        "command": "python benchmarks/web_load_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_1min_at_start": round(os.getloadavg()[0], 2)},
        "store": build,
        "endpoint": "POST /api/v1/patients/{id}/match: every stored trial matched and ranked, the best --top returned",
        "clients": args.clients,
        "bounds": {"requests": args.requests, "seconds": args.seconds, "uncached_requests": args.uncached_requests},
        "cached_in_every_run": "the (trial, compiled criteria) pairs in memory, reloaded when the trial "
                               "fingerprint (count, latest update, compiled rows) changes",
    }
    body = {"top": args.top} if args.top else {}
    print(f"run: cached (server default), body {body} ...", flush=True)
    report["cached"] = run_phase(args.db, True, args.clients, args.requests, args.seconds, body, prewarm=True,
                                 workers=args.workers)
    report["cached"]["what_is_cached"] = ("match reports and their serialised JSON per (workspace, patient id, "
                                          "patient version, trial fingerprint, options); each patient matched "
                                          "once before the measured run, so measured requests are repeat views")
    print(json.dumps(report["cached"]), flush=True)
    print(f"run: uncached (match_cache=False), body {body} ...", flush=True)
    report["uncached"] = run_phase(args.db, False, args.clients, args.uncached_requests, args.seconds, body,
                                   prewarm=False, workers=args.workers)
    report["uncached"]["what_is_cached"] = "nothing per request: the matcher runs over every trial each time"
    print(json.dumps(report["uncached"]), flush=True)
    report["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["target"] = {"p99_ms": 300, "clients": 8}
    report["meets_target_cached"] = report["cached"]["p99_ms"] < 300
    report["meets_target_uncached"] = report["uncached"]["p99_ms"] < 300
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
