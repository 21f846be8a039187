"""Digests of everything the compiler and the matcher produce, to prove a refactor changes no output.

Two parts, each printed as one SHA-256 over per-item digests (and written, item by item, to
``benchmarks/output/digest_<part>.json`` so that two runs can be diffed to the item that moved):

* ``compiled``: every record of ``../shared/data`` (``ctgov-v2/breast_trials.ndjson``,
  ``hint/trials.ndjson``: 4,923 records) and the five seeds, each compiled with
  ``compile_criteria`` (through the batch compiler ``ingest`` uses); the digest of a record is the
  SHA-256 of its ``CompiledCriteria.model_dump_json()``.
* ``rankings``: the same records ingested into a temporary SQLite store (``ensure_compiled``,
  ``load_for_matching``), then every TREC 2021 note (75, read with the text reader), every
  fixture patient under ``tests/fixtures/patients`` (JSON, FHIR and text forms) and the speed
  benchmark's patient ranked against all trials as of a fixed date, two ways: ``match_patient``
  with every result explained (``top=None``; its ``report_json``) and ``rank_patient(...).view_json``
  of the first 20. The digest of a patient is the SHA-256 of those bytes.

Usage::

    python benchmarks/output_digest.py [--shared ../shared] [--part compiled|rankings|all]
                                       [--as-of 2026-12-01] [--label NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sha(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def combined(items: dict[str, str]) -> str:
    return sha("\n".join(f"{k}\t{v}" for k, v in sorted(items.items())))


def sources(shared: Path) -> list[Path]:
    data = shared / "data"
    return [data / "ctgov-v2" / "breast_trials.ndjson", data / "hint" / "trials.ndjson",
            *sorted((shared / "seeds").glob("0*"))]


def read_records(shared: Path):
    from trialmatch.trials import read_path

    out = []  # (key, trial): the key names the file and the position, so repeated ids stay apart
    for src in sources(shared):
        for i, r in enumerate(read_path(src)):
            if r.trial is not None:
                out.append((f"{src.name}#{i}:{r.trial.id}", r.trial))
    return out


def digest_compiled(shared: Path) -> dict[str, str]:
    from trialmatch.criteria.batch import compile_many

    records = read_records(shared)
    items: dict[str, str] = {}
    t0 = time.perf_counter()
    for (key, _), (tid, compiled, err) in zip(records, compile_many([t for _, t in records])):
        items[key] = sha(compiled.model_dump_json()) if compiled is not None else "error:" + str(err)
    print(f"compiled: {len(items)} records in {time.perf_counter() - t0:.1f} s")
    return items


def patients(shared: Path):
    from trialmatch.patients import read_patient, read_patient_bytes

    out = []
    fixtures = REPO / "tests" / "fixtures" / "patients"
    for p in sorted(fixtures.iterdir()):
        if p.suffix in (".json", ".txt"):
            out.append((f"fixture:{p.name}", read_patient(p)))
    with open(shared / "data" / "trec2021" / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out.append((f"trec:{rec['_id']}", read_patient_bytes(rec["text"].encode("utf-8"), f"{rec['_id']}.txt",
                                                                 fmt="text")))
    return out


def digest_rankings(shared: Path, as_of: dt.date) -> dict[str, str]:
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.matching import match_patient, prepare_trials, rank_patient
    from trialmatch.matching.render import report_json
    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import read_path

    with tempfile.TemporaryDirectory() as tmp:
        store = TrialStore(str(Path(tmp) / "digest.db"))
        for src in sources(shared):
            store.ingest_trials([r.trial for r in read_path(src) if r.trial is not None])
        ensure_compiled(store)
        trials = store.load_for_matching(COMPILER_VERSION)
        prepare_trials(trials)
        items: dict[str, str] = {}
        t0 = time.perf_counter()
        for key, patient in patients(shared):
            full = json.dumps(report_json(match_patient(patient, trials, as_of=as_of)), sort_keys=True,
                              ensure_ascii=False, default=str)
            view = rank_patient(patient, trials, as_of=as_of).view_json(top=20)
            items[key] = sha(full.encode("utf-8") + b"\0" + view)
        print(f"rankings: {len(items)} patients x {len(trials)} trials in {time.perf_counter() - t0:.1f} s")
        store.close() if hasattr(store, "close") else None
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--part", choices=["compiled", "rankings", "all"], default="all")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 12, 1))
    ap.add_argument("--label", default="current", help="name of the JSON files written (digest_<part>_<label>.json)")
    args = ap.parse_args(argv)
    if not (args.shared / "data").is_dir():
        print(f"error: {args.shared / 'data'} not found (pass --shared)", file=sys.stderr)
        return 2
    out = REPO / "benchmarks" / "output"
    out.mkdir(parents=True, exist_ok=True)
    parts = ["compiled", "rankings"] if args.part == "all" else [args.part]
    for part in parts:
        items = digest_compiled(args.shared) if part == "compiled" else digest_rankings(args.shared, args.as_of)
        path = out / f"digest_{part}_{args.label}.json"
        path.write_text(json.dumps(items, indent=1, sort_keys=True))
        print(f"{part} digest: {combined(items)}  ({len(items)} items; {path.relative_to(REPO)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
