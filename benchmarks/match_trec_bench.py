"""TREC Clinical Trials 2021: the matcher's ranking against BM25 on the same judged pairs.

Each of the 75 physician-written notes is read with the patients text reader and matched (the
real ``TrialMatch.score``) against ITS judged trials that are present in
``../shared/data/hint/trials.ndjson``; BM25 (bm25s) ranks the same trials for the same note
(note text vs trial conditions + interventions + criteria text). The judgements (2 eligible,
1 excluded, 0 not relevant) are used only to score the rankings, never to produce them.

Metrics: NDCG@10 over each topic's judged trials (gain = judgement), mean over topics; and the
within-topic AUROC of eligible (2) vs excluded (1), mean over topics having both.

Usage::

    python benchmarks/match_trec_bench.py [--shared ../shared] [--limit-topics N]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ndcg_at_k(ranked_gains: list[float], k: int = 10) -> float:
    def dcg(g):
        return sum((2 ** x - 1) / math.log2(i + 2) for i, x in enumerate(g[:k]))
    ideal = dcg(sorted(ranked_gains, reverse=True))
    return dcg(ranked_gains) / ideal if ideal > 0 else float("nan")


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random eligible trial scores above a random excluded one (ties 1/2)."""
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for p in pos:
        for n in neg:
            wins += 1.0 if p > n else (0.5 if p == n else 0.0)
    return wins / (len(pos) * len(neg))


def trial_text(trial) -> str:
    parts = [*trial.conditions]
    for iv in trial.interventions:
        parts.append(iv.name)
        parts.extend(iv.other_names)
    parts.append(trial.title or "")
    parts.append(trial.eligibility.criteria_text or "")
    return "\n".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--limit-topics", type=int, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "match_trec.json")
    args = ap.parse_args(argv)

    import bm25s

    from trialmatch.matching import match_trial
    from trialmatch.patients import read_patient_bytes
    from trialmatch.trials import read_path
    try:
        from trialmatch.criteria import compile_criteria
    except ImportError:
        from trialmatch.criteria.compile import compile_criteria

    data = args.shared / "data"
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(data / "trec2021" / "qrels.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            q, d, s = line.split()
            qrels[q][d] = int(s)
    notes = {}
    with open(data / "trec2021" / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            notes[rec["_id"]] = rec["text"]
    t0 = time.perf_counter()
    judged = {d for q in qrels.values() for d in q}
    trials = {}
    for r in read_path(data / "hint" / "trials.ndjson"):
        if r.trial is not None and r.trial.id in judged:
            trials[r.trial.id] = r.trial
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = {tid: compile_criteria(t) for tid, t in trials.items()}
    t_compile = time.perf_counter() - t0

    topics = sorted(q for q in qrels if q in notes and any(d in trials for d in qrels[q]))
    if args.limit_topics:
        topics = topics[: args.limit_topics]
    per_topic = []
    read_errors = []
    n_pairs = 0
    verdicts = defaultdict(lambda: defaultdict(int))
    t_match = 0.0
    for q in topics:
        docs = sorted(d for d in qrels[q] if d in trials)
        gains = [qrels[q][d] for d in docs]
        n_pairs += len(docs)
        # BM25 over this topic's judged trials
        corpus = [trial_text(trials[d]) for d in docs]
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
        qtok = bm25s.tokenize([notes[q]], stopwords="en", show_progress=False)
        res, sc = retriever.retrieve(qtok, k=len(docs), show_progress=False)
        bm = {docs[int(i)]: float(s) for i, s in zip(res[0], sc[0])}
        bm_scores = [bm.get(d, 0.0) for d in docs]
        # the matcher
        try:
            patient = read_patient_bytes(notes[q].encode("utf-8"), f"{q}.txt", fmt="text")
        except Exception as exc:  # noqa: BLE001 - reported, the topic still gets scored with no facts
            read_errors.append(f"{q}: {exc}")
            from trialmatch.patients.model import Patient
            patient = Patient(id=q)
        tm0 = time.perf_counter()
        ms = [match_trial(trials[d], compiled[d], patient) for d in docs]
        t_match += time.perf_counter() - tm0
        tm_scores = [m.score for m in ms]
        for m, g in zip(ms, gains):
            verdicts[g][m.verdict] += 1

        def metrics(scores):
            order = sorted(range(len(docs)), key=lambda i: (-scores[i], docs[i]))
            nd = ndcg_at_k([gains[i] for i in order], 10)
            au = auroc([s for s, g in zip(scores, gains) if g == 2], [s for s, g in zip(scores, gains) if g == 1])
            return nd, au
        nd_m, au_m = metrics(tm_scores)
        nd_b, au_b = metrics(bm_scores)
        per_topic.append({"topic": q, "n": len(docs), "ndcg10_matcher": nd_m, "ndcg10_bm25": nd_b,
                          "auroc_matcher": au_m, "auroc_bm25": au_b})

    def mean(key):
        vals = [t[key] for t in per_topic if not math.isnan(t[key])]
        return (statistics.fmean(vals) if vals else float("nan")), len(vals)

    summary = {
        "topics": len(per_topic), "pairs": n_pairs,
        "ndcg10": {"matcher": mean("ndcg10_matcher")[0], "bm25": mean("ndcg10_bm25")[0],
                   "topics": mean("ndcg10_matcher")[1]},
        "auroc_eligible_vs_excluded": {"matcher": mean("auroc_matcher")[0], "bm25": mean("auroc_bm25")[0],
                                       "topics": mean("auroc_matcher")[1]},
        "verdicts_by_judgement": {str(g): dict(v) for g, v in sorted(verdicts.items())},
        "seconds": {"read_trials": round(t_read, 2), "compile": round(t_compile, 2), "match": round(t_match, 3)},
        "patient_read_errors": read_errors,
    }
    print(f"TREC CT 2021: {summary['topics']} topics, {n_pairs} judged pairs with trial text")
    print(f"{'metric':34s} {'matcher':>9s} {'BM25':>9s}")
    print(f"{'NDCG@10 (mean over topics)':34s} {summary['ndcg10']['matcher']:9.4f} {summary['ndcg10']['bm25']:9.4f}")
    print(f"{'AUROC eligible vs excluded':34s} {summary['auroc_eligible_vs_excluded']['matcher']:9.4f} "
          f"{summary['auroc_eligible_vs_excluded']['bm25']:9.4f}  ({summary['auroc_eligible_vs_excluded']['topics']} topics)")
    print("verdicts by judgement:", json.dumps(summary["verdicts_by_judgement"]))
    print("seconds:", summary["seconds"], "patient read errors:", len(read_errors))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "per_topic": per_topic}, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
