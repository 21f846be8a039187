"""Speed of two revisions side by side, in one run: compile time of every record and one patient's match.

Each revision is checked out into a temporary git worktree; the two are then measured in turns
(A, B, A, B, ...) in fresh processes so that a busy machine slows both alike:

* **compile**: every record of ``../shared/data`` (4,923) and the seeds compiled in ONE process
  with ``compile_criteria`` (wall and CPU seconds; the CPU figure is the steadier one on a shared
  machine);
* **one patient**: ``benchmarks/match_speed_bench.py``'s patient (``p7_denovo_palbo_eligible``)
  against every trial of a store compiled once (both revisions must share the compiler version,
  else each gets its own store), ``match_patient(top=20)``: median of ``--repeat`` runs, wall and
  CPU.

Usage::

    python benchmarks/compare_revisions.py BASE_REV HEAD_REV [--rounds 2] [--repeat 5] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMPILE = r"""
import json, sys, time
from pathlib import Path
from trialmatch.trials import read_path
from trialmatch.criteria import compile_criteria
shared = Path(sys.argv[1])
srcs = [shared / "data" / "ctgov-v2" / "breast_trials.ndjson", shared / "data" / "hint" / "trials.ndjson",
        *sorted((shared / "seeds").glob("0*"))]
trials = [r.trial for s in srcs for r in read_path(s) if r.trial is not None]
t0, c0 = time.perf_counter(), time.process_time()
for t in trials:
    compile_criteria(t)
print(json.dumps({"records": len(trials), "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
"""

MATCH = r"""
import json, statistics, sys, time
from pathlib import Path
from trialmatch.criteria import COMPILER_VERSION
from trialmatch.matching import match_patient, prepare_trials
from trialmatch.patients import read_patient
from trialmatch.store import TrialStore, ensure_compiled
from trialmatch.trials import read_path
shared, db, repeat, fixture = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = TrialStore(db)
if store.count_trials() == 0:
    for s in (shared / "data" / "ctgov-v2" / "breast_trials.ndjson", shared / "data" / "hint" / "trials.ndjson"):
        store.ingest_trials([r.trial for r in read_path(s) if r.trial is not None])
ensure_compiled(store)
trials = store.load_for_matching(COMPILER_VERSION)
prepare_trials(trials, freeze=True)
patient = read_patient(fixture)
wall, cpu = [], []
for _ in range(repeat):
    t0, c0 = time.perf_counter(), time.process_time()
    match_patient(patient, trials, top=20)
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({"trials": len(trials), "compiler": COMPILER_VERSION, "wall": statistics.median(wall),
                  "cpu": statistics.median(cpu)}))
"""


def run(tree: Path, code: str, *args: str) -> dict:
    env = {"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(Path.home())}
    import os

    env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: benchmark failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("head")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--rounds", type=int, default=2, help="turns of each revision per measure")
    ap.add_argument("--repeat", type=int, default=5, help="one-patient runs per turn (median)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "compare_revisions.json")
    args = ap.parse_args(argv)
    shared = args.shared.resolve()
    fixture = REPO / "tests" / "fixtures" / "patients" / "p7_denovo_palbo_eligible.json"
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for label, rev in (("base", args.base), ("head", args.head)):
            path = Path(tmp) / label
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(path), rev], check=True)
            trees[label] = path
        try:
            res: dict = {k: {"compile": [], "match": []} for k in trees}
            for _ in range(args.rounds):
                for label, tree in trees.items():
                    res[label]["compile"].append(run(tree, COMPILE, str(shared)))
                    print(f"  {label} compile: {res[label]['compile'][-1]}", flush=True)
            for _ in range(args.rounds):
                for label, tree in trees.items():
                    db = str(Path(tmp) / f"{label}.db")
                    res[label]["match"].append(run(tree, MATCH, str(shared), db, str(args.repeat), str(fixture)))
                    print(f"  {label} one patient: {res[label]['match'][-1]}", flush=True)
        finally:
            for path in trees.values():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], check=False)
    print(f"\n{'measure':44s} {'base ' + args.base[:10]:>18s} {'head ' + args.head[:10]:>18s}")
    for what, key in (("compile all records, one process", "compile"), ("one patient x all trials, top 20", "match")):
        for unit in ("cpu", "wall"):
            b = statistics.median(r[unit] for r in res["base"][key])
            h = statistics.median(r[unit] for r in res["head"][key])
            print(f"{what + ' (' + unit + ', s)':44s} {b:18.3f} {h:18.3f}   head/base {h / b:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"base": args.base, "head": args.head, "results": res}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
