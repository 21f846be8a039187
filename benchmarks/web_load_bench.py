"""Web load: POST /api/v1/patients/{id}/match on the full ../shared/data trial set, driven from a
second process by concurrent clients over loopback.

The server (uvicorn, 127.0.0.1, a free port) runs in a child process on a SQLite store holding the
55 ctgov-v2 + 4,868 hint records, ingested and compiled once and cached in
``benchmarks/output/web_load.db`` (reused while the compiler version is the same). This process
creates a user, an API token and patients, then drives the server with N concurrent httpx
clients, bounded in requests and seconds, and records requests/s, p50 and p99 latency.

Three runs:

* ``views`` (the server as it runs by default): when a patient is saved, the server ranks every
  trial for her in the background (``PatientRanking``: each trial's verdict and score, with her
  memo of decided criteria); a match request is a *view* of that ranking (its status filter,
  chosen trials and top N), whose results are explained in full for the answer. 2 × N patients
  are created first, one after the other, each followed at once by its first match request
  (``save_to_first_answer_s``: what a user waits from saving to seeing her matches). The measured
  requests then ask each patient for views never asked before (``--requests`` in all, bodies
  from ``VIEWS``: different top N, status filters and trial lists), so no answer comes from the
  server's cache of identical answers; the ``X-Trialmatch-Cache`` header (hit: the ranking was
  ready) is counted.
* ``writes`` (same server, after ``views``): each client saves a new version of its patient
  (PUT, ``--write-rounds`` times) and asks for its matches right away: the PUT latency and the
  save-to-answer latency, with the ranking computed between them, under N concurrent clients.
* ``fresh`` (``Settings(match_cache=False)``): nothing is kept per patient; every match request
  runs the matcher over all trials (``--fresh-requests`` requests).

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
    # as `trialmatch serve` runs it: trials loaded and prepared in the background at start
    app = create_app(TrialStore(db), settings=Settings(match_cache=match_cache, preload=True))
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


def patient_doc(i: int, version: int = 0) -> dict:
    """Patients modeled on seed 004's population, varied a little per patient (and per saved
    version: a new platelet count)."""
    return {
        "id": f"bench-{i}", "age_years": 50 + i % 20, "sex": "female", "menopausal_status": "postmenopausal",
        "as_of": "2026-11-01",
        "diagnoses": [{"cancer_type": "breast_cancer", "stage": "IV", "extent": "metastatic",
                       "metastases": [{"site": "bone"}, {"site": ["liver", "lung"][i % 2]}]}],
        "biomarkers": [{"name": "ER", "status": "positive", "percent": 60 + i},
                       {"name": "PR", "status": "positive", "percent": 20},
                       {"name": "HER2", "status": "negative", "ihc_score": ["0", "1+"][i % 2]}],
        "performance": [{"scale": "ecog", "value": i % 2, "date": "2026-10-20"}],
        "labs": [{"analyte": "platelets", "value": 180 + 10 * i + 7 * version, "unit": "10^9/L",
                  "date": "2026-10-20"},
                 {"analyte": "hemoglobin", "value": 120, "unit": "g/L", "date": "2026-10-20"},
                 {"analyte": "anc", "value": 3.0, "unit": "10^9/L", "date": "2026-10-20"}],
        "treatments": ([] if i % 2 == 0 else
                       [{"drugs": ["letrozole"], "setting": "adjuvant", "start": "2019-01-01", "end": "2024-01-01"}]),
    }


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of latencies in seconds, in milliseconds."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] * 1000 if v else float("nan")


def latency_summary(lat: list[float], wall: float | None = None) -> dict:
    out = {"requests": len(lat), "p50_ms": round(pct(lat, 50), 1), "p90_ms": round(pct(lat, 90), 1),
           "p99_ms": round(pct(lat, 99), 1), "max_ms": round(max(lat) * 1000, 1) if lat else None,
           "mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else None}
    if wall is not None:
        out = {"requests": len(lat), "wall_s": round(wall, 3), "requests_per_s": round(len(lat) / wall, 2),
               **{k: v for k, v in out.items() if k != "requests"}}
    return out


def views(trial_ids: list[str]) -> list[dict]:
    """Distinct match views: top N, status filters, chosen trials."""
    out = [{"top": n} for n in (1, 3, 5, 10, 15, 20, 25, 30, 40, 50)]
    out += [{"top": n, "status": s} for n in (10, 20) for s in (["RECRUITING"], ["RECRUITING", "NOT_YET_RECRUITING"],
                                                                ["ACTIVE_NOT_RECRUITING"], ["COMPLETED"])]
    out += [{"top": 20, "status": ["open"]}, {"top": 20, "status": ["closed"]}]
    step = max(1, len(trial_ids) // 40)
    out += [{"trial_ids": trial_ids[i:i + 5 * step:step]} for i in range(0, 5 * 5 * step, 5 * step)]
    return out


def http_clients(base: str, token: str, n: int, timeout: float) -> list:
    """``n`` HTTP clients, made before any timing starts.

    Making an ``httpx.AsyncClient`` takes tens of milliseconds of this process's CPU (it builds
    an SSL context even for plain HTTP), during which this process's event loop cannot read the
    answers already sent: made inside the timed loop, each client's set-up would be counted in
    the latency of the requests other clients have in flight. (Connections are still opened by
    the first timed requests.)
    """
    import httpx

    return [httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
            for _ in range(n)]


async def drive(base: str, token: str, jobs: list[tuple[str, dict]], clients: int, seconds: float) -> dict:
    """Send the match requests ``jobs`` ((patient id, body), in order) from ``clients`` concurrent
    clients; each client takes the next job when its previous answer is in."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cache: dict[str, int] = {}
    queue = list(reversed(jobs))
    conns = http_clients(base, token, clients, 120)
    t_start = time.perf_counter()
    deadline = t_start + seconds

    async def client(c) -> None:
        while queue and time.perf_counter() < deadline:
            pid, body = queue.pop()
            t0 = time.perf_counter()
            r = await c.post(f"/api/v1/patients/{pid}/match", json=body)
            _ = r.content
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            tag = r.headers.get("x-trialmatch-cache", "none")
            cache[tag] = cache.get(tag, 0) + 1

    try:
        await asyncio.gather(*(client(c) for c in conns))
    finally:
        wall = time.perf_counter() - t_start
        for c in conns:
            await c.aclose()
    return {**latency_summary(latencies, wall), "statuses": statuses, "cache": cache}


async def drive_writes(base: str, token: str, patients: list[str], clients: int, rounds: int, body: dict) -> dict:
    """Each client saves a new version of its patient (PUT) and asks for its matches at once."""
    put_lat: list[float] = []
    answer_lat: list[float] = []
    total_lat: list[float] = []
    statuses: dict[int, int] = {}
    conns = http_clients(base, token, clients, 300)
    t_start = time.perf_counter()

    async def client(k: int, c) -> None:
        pid = patients[k]
        for j in range(rounds):
            doc = patient_doc(k, version=j + 1)
            t0 = time.perf_counter()
            r = await c.put(f"/api/v1/patients/{pid}", json=doc)
            t1 = time.perf_counter()
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            r = await c.post(f"/api/v1/patients/{pid}/match", json=body)
            _ = r.content
            t2 = time.perf_counter()
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            put_lat.append(t1 - t0)
            answer_lat.append(t2 - t1)
            total_lat.append(t2 - t0)

    try:
        await asyncio.gather(*(client(k, c) for k, c in enumerate(conns)))
    finally:
        wall = time.perf_counter() - t_start
        for c in conns:
            await c.aclose()
    return {"saves": len(put_lat), "wall_s": round(wall, 2), "saves_per_s": round(len(put_lat) / wall, 2),
            "put": latency_summary(put_lat), "match_after_put": latency_summary(answer_lat),
            "save_to_answer": latency_summary(total_lat), "statuses": statuses}


def run_server_phases(db: Path, match_cache: bool, clients: int, max_requests: int, seconds: float,
                      write_rounds: int, workers: int = 1) -> dict:
    import httpx

    from trialmatch.store import TrialStore
    from trialmatch.web.auth_store import create_token

    store = TrialStore(str(db))
    token = create_token(store, "bench", "load")
    trial_ids = [t.id for t, _ in store.load_for_matching(store_compiler_version())]
    store.engine.dispose()
    proc, base = start_server(db, match_cache, workers)
    h = {"Authorization": f"Bearer {token}"}
    out: dict = {"server_workers": workers}
    try:
        n_patients = 2 * clients if match_cache else clients
        patients, first = [], []
        for i in range(n_patients):
            t0 = time.perf_counter()
            r = httpx.post(base + "/api/v1/patients", json=patient_doc(i), headers=h, timeout=60)
            if r.status_code != 201:
                raise RuntimeError(f"creating patient {i}: {r.status_code} {r.text[:500]}")
            pid = r.json()["id"]
            r = httpx.post(base + f"/api/v1/patients/{pid}/match", json={"top": 20}, headers=h, timeout=600)
            r.raise_for_status()
            first.append(time.perf_counter() - t0)
            patients.append(pid)
        # the first one includes loading the 4,921 (trial, criteria) pairs from the database
        out["first_patient_save_to_answer_s_incl_loading_trials"] = round(first[0], 2)
        if len(first) > 1:
            out["save_to_first_answer_s"] = {"patients": len(first) - 1, "sequential": True,
                                             "p50": round(statistics.median(first[1:]), 3),
                                             "max": round(max(first[1:]), 3)}
        if match_cache:
            vs = views(trial_ids)
            jobs = [(patients[i % len(patients)], vs[(i // len(patients)) % len(vs)]) for i in range(max_requests)]
            distinct = len(set((p, json.dumps(b, sort_keys=True)) for p, b in jobs))
            out["views"] = {"distinct_views": len(vs), "distinct_requests": distinct,
                            **asyncio.run(drive(base, token, jobs, clients, seconds))}
            out["writes"] = asyncio.run(drive_writes(base, token, patients, clients, write_rounds, {"top": 20}))
        else:
            jobs = [(patients[i % len(patients)], {"top": 20}) for i in range(max_requests)]
            out["fresh"] = asyncio.run(drive(base, token, jobs, clients, seconds))
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def store_compiler_version() -> str:
    from trialmatch.web import services

    return services.compiler_version()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--db", type=Path, default=OUT_DIR / "web_load.db")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--fresh-requests", type=int, default=16)
    ap.add_argument("--write-rounds", type=int, default=2, help="new versions saved per client in the writes run")
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
        "endpoint": "POST /api/v1/patients/{id}/match on every stored trial: a view (top N, status filter, "
                    "chosen trials) of the patient's ranking, its results explained in full",
        "clients": args.clients,
        "bounds": {"requests": args.requests, "seconds": args.seconds, "fresh_requests": args.fresh_requests,
                   "write_rounds": args.write_rounds},
        "kept_in_every_run": "the (trial, compiled criteria) pairs in memory, reloaded (changed trials only) "
                             "when the store's revision moves",
    }
    print("run: views and writes (server default) ...", flush=True)
    report["server_default"] = run_server_phases(args.db, True, args.clients, args.requests, args.seconds,
                                                 args.write_rounds, workers=args.workers)
    print(json.dumps(report["server_default"]), flush=True)
    print("run: fresh (match_cache=False) ...", flush=True)
    report["no_rankings_kept"] = run_server_phases(args.db, False, args.clients, args.fresh_requests, args.seconds,
                                                   0, workers=args.workers)
    print(json.dumps(report["no_rankings_kept"]), flush=True)
    report["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["target"] = {"p99_ms": 300, "clients": 8}
    v = report["server_default"]["views"]
    report["meets_target_views"] = v["p99_ms"] < 300 and set(v["statuses"]) == {200}
    report["meets_target_fresh"] = report["no_rankings_kept"]["fresh"]["p99_ms"] < 300
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
