"""Free-text notes: verdict accuracy and deciding-criterion hit rate on the labelled note sets.

The note sets (``tests/fixtures/notes/dev``, ``dev2``, ``heldout`` and ``heldout2``) are fictional
breast-cancer summaries written for this benchmark, each labelled by hand against 15 trials: the
five seeds (``../shared/seeds``) and ten real CT.gov breast trials
(``../shared/data/ctgov-v2/breast_trials.ndjson``). A label gives the verdict a careful screener
reaches from the note and the trial text alone and, for an ineligible pair, an exact substring of
the criterion that decides it (``deciding``, plus ``also_failing`` when several fail). The labels
are never read by the product; they only score it. The held-out sets are reported separately and
were never used to tune anything: ``heldout`` was written after the first reader work (3 December
2026), ``heldout2`` after the reader and compiler work of 4 December 2026, by a screener who did not
run the product. ``dev2`` (20 notes by another screener who did not run the product, 4 December
2026) is a second development set: written after ``heldout2`` had shown how far the first dev set's
figure overstated new notes, and used for tuning like ``dev``.

For every (note, trial) pair the note is read with the text reader (``read_patient``) and matched
with ``match_trial`` as of the note's own date (the reader's as-of date). Reported per set:

* verdict accuracy: an ``ineligible`` label is right only as ineligible, ``uncertain`` only as
  uncertain, ``eligible`` only as eligible; with the confusion matrix;
* deciding-criterion hit rate: of the pairs labelled ineligible and matched as ineligible, the
  share whose deciding criteria (``TrialMatch.deciding``) include one whose text contains the
  labelled substring (or one of ``also_failing``); also the strict rate over every pair labelled
  ineligible.

``--full`` adds, in the same run, the compiler figures the issue asks for (the compiled share of
the 55 CT.gov breast trials' criteria and of the HINT breast trials', the 20 most common remaining
unsupported patterns, the LCT F1 through ``criteria_bench.bench_lct``) and the TREC 2021 figures
(``match_trec_bench``: NDCG@10, AUROC, verdict balanced accuracy).

Usage::

    python benchmarks/notes_bench.py [--shared ../shared] [--sets dev,dev2,heldout,heldout2] [--full] [--show-errors N]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "tests" / "fixtures" / "notes"
VERDICTS = ("eligible", "uncertain", "ineligible")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\\", "")).strip().lower()


def load_trials(shared: Path, ids: set[str]):
    """The labelled trials: (trial, compiled) by id, read and compiled by the product's own path."""
    from trialmatch.criteria import compile_criteria
    from trialmatch.trials import read_path

    out = {}
    for p in sorted((shared / "seeds").glob("0*")):
        for r in read_path(p):
            if r.trial is not None:
                out[r.trial.id] = r.trial
    for r in read_path(shared / "data" / "ctgov-v2" / "breast_trials.ndjson"):
        if r.trial is not None and r.trial.id in ids:
            out[r.trial.id] = r.trial
    missing = sorted(ids - set(out))
    if missing:
        raise SystemExit(f"labelled trials not found in {shared}: {', '.join(missing)}")
    return {tid: (t, compile_criteria(t)) for tid, t in out.items() if tid in ids}


def load_set(folder: Path) -> tuple[dict[str, Path], list[dict]]:
    labels_path = folder / "labels.jsonl"
    labels = []
    with open(labels_path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    labels.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{labels_path}:{n}: malformed JSON: {exc}") from exc
    notes = {p.name: p for p in sorted(folder.glob("*.txt"))}
    return notes, labels


def score_set(name: str, folder: Path, trials: dict, show_errors: int = 0) -> dict:
    from trialmatch.matching import match_trial
    from trialmatch.patients import read_patient

    notes, labels = load_set(folder)
    patients, read_errors = {}, []
    for fname, path in notes.items():
        try:
            patients[fname] = read_patient(path)
        except Exception as exc:  # noqa: BLE001 - a note that cannot be read is counted, not fatal
            read_errors.append(f"{fname}: {exc.__class__.__name__}: {exc}")
    confusion = collections.Counter()
    right = total = 0
    inel_pred = inel_cited = inel_label = 0
    errors = []
    t0 = time.perf_counter()
    for lab in labels:
        patient = patients.get(lab["note"])
        trial, compiled = trials[lab["trial"]]
        if patient is None:
            got, m = "unread", None
        else:
            m = match_trial(trial, compiled, patient, as_of=patient.as_of)
            got = m.verdict
        want = lab["verdict"]
        confusion[(want, got)] += 1
        total += 1
        ok = got == want
        right += ok
        cited = None
        if want == "ineligible":
            inel_label += 1
            if got == "ineligible":
                inel_pred += 1
                needles = [_norm(x) for x in [lab.get("deciding"), *lab.get("also_failing", [])] if x]
                texts = {o.criterion_id: _norm(o.text) for o in m.criteria}
                cited = any(n in texts.get(cid, "") or texts.get(cid, "") in n
                            for cid in m.deciding for n in needles if texts.get(cid))
                inel_cited += cited
        if not ok or cited is False:
            errors.append({"note": lab["note"], "trial": lab["trial"], "label": want, "got": got,
                           "deciding_label": lab.get("deciding"),
                           "deciding_got": [next((o.text[:90] for o in m.criteria if o.criterion_id == cid), cid)
                                            for cid in (m.deciding if m else [])][:2]})
    seconds = time.perf_counter() - t0
    res = {
        "set": name, "notes": len(notes), "pairs": total, "read_errors": read_errors,
        "verdict_accuracy": right / total if total else float("nan"),
        "by_label": {v: {"n": sum(n for (w, _), n in confusion.items() if w == v),
                         "right": confusion[(v, v)]} for v in VERDICTS},
        "confusion": {f"{w}->{g}": n for (w, g), n in sorted(confusion.items())},
        "ineligible_cite_rate": inel_cited / inel_pred if inel_pred else float("nan"),
        "ineligible_cite_rate_strict": inel_cited / inel_label if inel_label else float("nan"),
        "ineligible": {"labelled": inel_label, "matched_ineligible": inel_pred, "cited": inel_cited},
        "seconds": seconds,
        "errors": errors,
    }
    print(f"[{name}] {len(notes)} notes, {total} pairs: verdict accuracy {res['verdict_accuracy']:.3f} "
          f"(target >= 0.95); ineligible verdicts citing the deciding criterion "
          f"{res['ineligible_cite_rate']:.3f} ({inel_cited}/{inel_pred}; target >= 0.90), strict "
          f"{res['ineligible_cite_rate_strict']:.3f} ({inel_cited}/{inel_label} labelled ineligible)")
    for v in VERDICTS:
        b = res["by_label"][v]
        row = "  ".join(f"{g}:{confusion[(v, g)]}" for g in (*VERDICTS, "unread") if confusion[(v, g)])
        print(f"    labelled {v:<10} {b['right']:>4}/{b['n']:<4} right   ({row})")
    if read_errors:
        print(f"    notes that could not be read: {len(read_errors)}: {read_errors[:3]}")
    for e in errors[:show_errors]:
        print(f"    x {e['note']} / {e['trial']}: label {e['label']} got {e['got']}; label deciding "
              f"{(e['deciding_label'] or '')[:60]!r}; got {e['deciding_got']}")
    return res


def _load_bench(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compiler_figures(shared: Path) -> dict:
    """Compiled share of the CT.gov and HINT breast trials' criteria, remaining unsupported patterns, LCT F1."""
    from trialmatch.criteria import COMPILER_VERSION, compile_criteria
    from trialmatch.trials import read_path

    cb = _load_bench("criteria_bench")
    out = {"compiler_version": COMPILER_VERSION}
    patterns = collections.Counter()
    examples: dict[str, str] = {}
    for label, path, breast_only in (("ctgov_breast", shared / "data" / "ctgov-v2" / "breast_trials.ndjson", False),
                                     ("hint_breast", shared / "data" / "hint" / "trials.ndjson", True)):
        n_trials = total = ok = 0
        for r in read_path(path):
            t = r.trial
            if t is None or (breast_only and not any("breast" in c.lower() for c in t.conditions)):
                continue
            n_trials += 1
            for c in compile_criteria(t).criteria:
                if c.expression is None and c.status == "compiled":
                    continue  # headers
                total += 1
                if c.status != "unsupported":
                    ok += 1
                else:
                    pat = cb._pattern(c.text)
                    patterns[pat] += 1
                    examples.setdefault(pat, c.text[:100])
        out[label] = {"trials": n_trials, "criteria": total, "compiled": ok, "share": ok / total if total else 0.0}
        print(f"compiled share, {label}: {ok}/{total} = {ok / total:.3f} over {n_trials} trials (target >= 0.90)")
    out["top_unsupported"] = [{"pattern": p, "count": n, "example": examples[p]} for p, n in patterns.most_common(20)]
    print("20 most common remaining unsupported patterns (CT.gov + HINT breast):")
    for u in out["top_unsupported"]:
        print(f"    {u['count']:>4}  {u['pattern']:<26} e.g. {u['example'][:80]!r}")
    lct = cb.bench_lct(shared, None)
    out["lct"] = {k: lct[k] for k in ("precision", "recall", "f1", "gold", "compiler_comparisons")}
    print(f"LCT numeric comparisons: P {lct['precision']:.3f} R {lct['recall']:.3f} F1 {lct['f1']:.3f} "
          f"(not lower than 0.901)")
    return out


def trec_figures(shared: Path) -> dict:
    tb = _load_bench("match_trec_bench")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trec.json"
        tb.main(["--shared", str(shared), "--out", str(path)])
        summary = json.loads(path.read_text())["summary"]
    v = summary["verdicts_by_judgement"]
    elig, excl = v.get("2", {}), v.get("1", {})
    rec_elig = 1 - elig.get("ineligible", 0) / max(1, sum(elig.values()))
    rec_excl = excl.get("ineligible", 0) / max(1, sum(excl.values()))
    bal = (rec_elig + rec_excl) / 2
    print(f"TREC 2021 verdict balanced accuracy (eligible judged not ineligible {rec_elig:.3f}, excluded judged "
          f"ineligible {rec_excl:.3f}): {bal:.4f}")
    return {"ndcg10": summary["ndcg10"]["matcher"], "auroc": summary["auroc_eligible_vs_excluded"]["matcher"],
            "verdict_balanced_accuracy": bal, "verdicts_by_judgement": v}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--notes", type=Path, default=NOTES, help="folder holding the note sets")
    ap.add_argument("--sets", default="dev,dev2,heldout,heldout2")
    ap.add_argument("--full", action="store_true", help="also the compiler and TREC figures")
    ap.add_argument("--show-errors", type=int, default=0, help="print the first N wrong pairs of each set")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "notes.json")
    args = ap.parse_args(argv)
    if not (args.shared / "seeds").is_dir():
        print(f"error: {args.shared / 'seeds'} not found (pass --shared)", file=sys.stderr)
        return 2
    sets = [s for s in args.sets.split(",") if (args.notes / s / "labels.jsonl").exists()]
    ids = set()
    for s in sets:
        ids |= {lab["trial"] for lab in load_set(args.notes / s)[1]}
    trials = load_trials(args.shared, ids)
    result: dict = {"sets": {}}
    for s in sets:
        result["sets"][s] = score_set(s, args.notes / s, trials, args.show_errors)
    if args.full:
        result["compiler"] = compiler_figures(args.shared)
        result["trec"] = trec_figures(args.shared)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
