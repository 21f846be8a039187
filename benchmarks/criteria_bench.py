"""Benchmark of the eligibility criteria compiler.

(a) LCT accuracy: every annotated Age / Observation event with a Numeric-Filter Eq-Comparison in
    ``<shared>/data/lct/ner`` (brat) against the numeric comparisons the compiler found in the
    criterion covering that span: same operator and value(s), and unit where one is annotated.
    Scoring, exactly:
    * recall = gold comparisons matched / gold comparisons. A gold comparison is matched by one
      compiler comparison (Age, PerformanceStatus, LifeExpectancy, LabThreshold, Measurement
      atoms; an atom directly under ``Not`` with its operator inverted) of a criterion whose span
      covers it, with the same operator, the same value(s) and a compatible unit (time unit for
      ages; an annotated unit piece "mg" / "dL" / "mEq" must be part of, or the same dimension
      as, the compiler's unit; scale words "score", "grade" are not units; Karnofsky is "%").
      A gold comparison with several values under one operator other than BETWEEN ("BP > 140/90")
      is matched when the compiler has one comparison per value with that operator.
    * precision = compiler comparisons matching (wholly, or as one value of such a pair) a gold
      comparison inside their criterion / all compiler comparisons in all criteria of the
      annotated documents (an observation the annotators left out counts against precision).
    * gold normalisation, counted and reported under ``gold_normalisation`` (see
      :func:`normalize_gold`): a "109" value that is the damaged power of ten of "×109/L" and a
      scale maximum after a slash ("4/10") are dropped from the values.
(b) Coverage: share of criteria in ``<shared>/data/hint/trials.ndjson`` compiling to something
    other than ``unsupported`` (headers excluded), overall and for breast cancer trials, and the
    most common unsupported patterns.
(c) Time to compile all records of ``ctgov-v2/breast_trials.ndjson`` and ``hint/trials.ndjson``.

Usage: ``python benchmarks/criteria_bench.py [--shared PATH] [--limit-lct N]``; writes
``benchmarks/output/criteria.json``.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from trialmatch.criteria.batch import compile_texts, default_workers  # noqa: E402
from trialmatch.criteria.compile import COMPILER_VERSION, compile_text  # noqa: E402
from trialmatch.criteria.model import (  # noqa: E402
    Age, AllOf, AnyOf, Except, IfThen, LabThreshold, LifeExpectancy, Measurement, Not, PerformanceStatus,
)
from trialmatch.vocab.units import normalize_unit_text, ureg  # noqa: E402

OP_MAP = {">=": "GTEQ", ">": "GT", "<=": "LTEQ", "<": "LT", "==": "EQ", "between": "BETWEEN"}
TIME_UNITS = {"second", "minute", "hour", "day", "week", "month", "year"}


# ----------------------------------------------------------------------------- brat
def read_brat(ann_path: str) -> list[dict]:
    """Gold numeric comparisons: [{type, op, values, unit, span}] for Age/Observation events."""
    T, E, A = {}, {}, {}
    for line in open(ann_path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if not parts or not parts[0]:
            continue
        if parts[0].startswith("T") and len(parts) >= 2:
            head = parts[1].split(" ")
            try:
                T[parts[0]] = (head[0], int(head[1]), int(head[-1]), parts[2] if len(parts) > 2 else "")
            except ValueError:
                continue
        elif parts[0].startswith("E"):
            args = parts[1].split()
            E[parts[0]] = args
        elif parts[0].startswith("A"):
            a = parts[1].split()
            if len(a) >= 3:
                A[a[1]] = a[2]
    gold = []
    for eid, args in E.items():
        typ, trig = args[0].split(":")
        if typ not in ("Age", "Observation"):
            continue
        for a in args[1:]:
            if not a.startswith("Numeric-Filter"):
                continue
            cid = a.split(":")[1]
            cmp_args = E.get(cid)
            if not cmp_args:
                continue
            ctrig = cmp_args[0].split(":")[1]
            if ctrig not in T:
                continue
            op, values, unit, tunit = None, [], None, None
            for ca in cmp_args[1:]:
                role, ref = ca.split(":")
                role = re.sub(r"\d+$", "", role)
                if role == "Operator":
                    op = A.get(ref)
                elif role == "Value" and ref in T:
                    values.append((T[ref][3], T[ref][1], T[ref][2]))
                elif role == "Unit" and ref in T:
                    unit = T[ref][3]
                elif role == "Temporal-Unit":
                    tunit = A.get(ref)
            nums = []
            for v, vs, ve in sorted(values, key=lambda x: x[1]):
                try:  # "3,000" is a thousands separator, "6,1" a decimal comma
                    v = v.strip()
                    nums.append((float(v.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", v)
                                       else v.replace(",", ".")), v, vs, ve))
                except ValueError:
                    pass
            if not nums:
                continue
            if op is None:
                op = "BETWEEN" if len(nums) == 2 else "EQ"
            gold.append({"type": typ, "op": op, "values": sorted({n[0] for n in nums}), "value_spans": nums,
                         "unit": unit, "tunit": tunit,
                         "span": (T[ctrig][1], T[ctrig][2]), "name": T.get(trig, ("", 0, 0, ""))[3]})
    return gold


_DAMAGED_POWER = re.compile(r"[x×✕*]\s*$")


def normalize_gold(gold: dict, text: str, notes: collections.Counter, examples: dict) -> dict:
    """Two annotation habits that do not describe a compared value, made explicit (and counted
    in the output, never silently):

    * "damaged power of ten": the annotated value is the "109" of "×109/L" (PDF damage of
      ×10^9/L, read by the compiler as a unit, as the issue asks): it is part of the unit, so it
      is dropped from the values ("< 100×109/L" is one comparison, < 100 × 10^9/L);
    * "scale maximum": a value written after a slash and larger than the value before it
      ("pain > 4/10", "MMSE 26 / 30") is the scale's maximum, not a second threshold: dropped.

    A value pair that is not a scale ("BP > 140/90") keeps both values (see :func:`gold_matched`).
    """
    spans = gold.get("value_spans") or []
    keep = []
    for i, (v, vt, vs, ve) in enumerate(spans):
        if re.fullmatch(r"10\d{1,2}", vt) and _DAMAGED_POWER.search(text[max(0, vs - 3):vs]) and \
                re.match(r"\s*/", text[ve:ve + 3]):
            notes["damaged power of ten dropped"] += 1
            examples.setdefault("damaged power of ten dropped", text[max(0, vs - 15):ve + 5])
            continue
        if i > 0 and gold["op"] != "BETWEEN" and re.fullmatch(r"\s*/\s*", text[spans[i - 1][3]:vs]) and v > spans[i - 1][0]:
            notes["scale maximum dropped"] += 1
            examples.setdefault("scale maximum dropped", text[max(0, spans[i - 1][2] - 15):ve + 5])
            continue
        keep.append(v)
    if keep and len(keep) != len(spans):
        gold = {**gold, "values": sorted(set(keep))}
        if gold["op"] == "BETWEEN" and len(gold["values"]) == 1:
            gold["op"] = "EQ"
    return gold


# ----------------------------------------------------------------------------- compiler side
_NEGATED_OP = {"GTEQ": "LT", "GT": "LTEQ", "LTEQ": "GT", "LT": "GTEQ"}


def _numeric_atoms(expr, negated: bool = False):
    """(atom, negated) for every atom; ``Not`` directly around a numeric atom inverts it
    ("life expectancy < 3 months" compiles to Not(LifeExpectancy(minimum=3 months)))."""
    if isinstance(expr, Not) and isinstance(expr.item, (Age, LabThreshold, LifeExpectancy, Measurement, PerformanceStatus)):
        yield expr.item, not negated
        return
    if isinstance(expr, Not):
        yield from _numeric_atoms(expr.item, negated)
        return
    if isinstance(expr, (AllOf, AnyOf)):
        for item in expr.items:
            yield from _numeric_atoms(item, negated)
        return
    if isinstance(expr, (Except, IfThen)):
        for child in ((expr.main, expr.exception) if isinstance(expr, Except) else
                      (expr.condition, expr.then, expr.otherwise)):
            if child is not None:
                yield from _numeric_atoms(child, negated)
        return
    yield expr, negated


def comparisons(expr) -> list[dict]:
    """Numeric comparisons of an expression: [{op, values, unit, tunit}].

    Ages are compared in the time unit they were written in (``Age.unit_as_written``); an atom
    under ``Not`` counts with the inverted operator. Time windows (``within`` of therapies and
    events) are not counted: the LCT annotation marks them as Temporality, not Numeric-Filter.
    """
    out = []
    for a, neg in _numeric_atoms(expr):
        n0 = len(out)
        _atom_comparisons(a, out)
        if neg:
            for c in out[n0:]:
                c["op"] = _NEGATED_OP.get(c["op"], c["op"])
    return out


_YEARS_PER = {"second": 1 / 31557600, "minute": 1 / 525960, "hour": 1 / 8766, "day": 1 / 365.25,
              "week": 7 / 365.25, "month": 1 / 12, "year": 1.0}


def _atom_comparisons(a, out: list) -> None:
    if True:
        if isinstance(a, (Age, PerformanceStatus)):
            r = a.years if isinstance(a, Age) else a.range
            tunit = ((a.unit_as_written or "year") if isinstance(a, Age) else None)
            unit = "percent" if isinstance(a, PerformanceStatus) and a.scale in ("karnofsky", "lansky") else None
            if isinstance(a, Age) and tunit != "year":
                f = _YEARS_PER[tunit]
                r = r.model_copy(update={"low": None if r.low is None else round(r.low / f, 6),
                                         "high": None if r.high is None else round(r.high / f, 6)})
            if r.low is not None and r.high is not None:
                if r.low == r.high:
                    out.append({"op": "EQ", "values": [r.low], "unit": unit, "tunit": tunit})
                else:
                    out.append({"op": "BETWEEN", "values": [r.low, r.high], "unit": unit, "tunit": tunit})
            elif r.low is not None:
                out.append({"op": "GTEQ" if r.low_inclusive else "GT", "values": [r.low], "unit": unit, "tunit": tunit})
            elif r.high is not None:
                out.append({"op": "LTEQ" if r.high_inclusive else "LT", "values": [r.high], "unit": unit, "tunit": tunit})
        elif isinstance(a, LifeExpectancy):
            out.append({"op": "GT" if a.strict else "GTEQ", "values": [a.minimum.value], "unit": None,
                        "tunit": a.minimum.unit})
        elif isinstance(a, LabThreshold):
            v = a.value if a.value is not None else (a.uln_multiple if a.uln_multiple is not None else a.lln_multiple)
            unit = a.unit if a.value is not None else ("ULN" if a.uln_multiple is not None else "LLN")
            out.append({"op": OP_MAP[a.comparator], "values": [v], "unit": unit, "tunit": None})
        elif isinstance(a, Measurement):
            vals = [a.value] if a.value_high is None else [a.value, a.value_high]
            out.append({"op": OP_MAP[a.comparator], "values": vals, "unit": a.unit, "tunit": None})


def _unit_ok(gold_unit: str | None, gold_tunit: str | None, comp: dict) -> bool:
    if gold_tunit and comp.get("tunit"):
        return gold_tunit == comp["tunit"]
    if not gold_unit:
        return True
    g = gold_unit.strip().lower()
    c = (comp.get("unit") or "")
    # brat marks the word written after the number as the "unit" even when it is the scale's
    # own word ("score 24", "grade 1-4", "ASA class 1-3"): not a unit of measure, nothing to check
    if g in _NOT_UNITS:
        return True
    if not c:
        return False
    if g in ("uln", "upper limit of normal", "upper limit of the normal", "x uln", "× uln", "times uln") or \
            "upper limit" in g or "normal" in g:
        return c == "ULN"
    # a count per volume is annotated by its piece "cells" ("1500 cells/mm3"); "beats" of "beats/min"
    if g in ("cells", "cell") and re.match(r"(?:1|10\*\*\d+|G)/", c):
        return True
    if g.startswith("beat") and c == "bpm":
        return True
    # the same unit spelled differently: mEq (monovalent ions) = mmol, gm / gr = g, ℃ = °C
    if (g.startswith("meq") and c.lower().startswith("mmol")) or (g in ("gm", "gr", "gm%") and c.lower().startswith("g")) \
            or (g in ("℃", "c", "degrees c", "degree c", "°c") and c == "degC"):
        return True
    # brat marks unit pieces ("mg", "dL", "mm3", "μmol"): the annotated text must be part of the
    # compiler's unit (after normalisation), or both must parse to the same dimension
    gn = re.sub(r"[^a-z0-9%]", "", g.replace("μ", "u").replace("µ", "u").replace("²", "2").replace("³", "3"))
    cn = re.sub(r"[^a-z0-9%]", "", c.lower().replace("percent", "%").replace("**", ""))
    if gn and (gn in cn or cn in gn):
        return True
    try:
        gq = ureg.parse_expression(normalize_unit_text(gold_unit))
        cq = ureg.parse_expression(normalize_unit_text(c))
        return getattr(gq, "dimensionality", None) == getattr(cq, "dimensionality", None)
    except Exception:
        return False


_NOT_UNITS = {"score", "scores", "grade", "class", "points", "point", "level", "stage", "percentile"}


def _match_part(gold: dict, comp: dict) -> bool:
    """A compiler comparison with one value that is one of a multi-valued gold comparison's
    values under the same operator ("BP > 140/90": systolic > 140, diastolic > 90)."""
    if gold["op"] == "BETWEEN" or len(gold["values"]) < 2 or comp["op"] != gold["op"] or len(comp["values"]) != 1:
        return False
    return any(abs(comp["values"][0] - v) < 1e-6 for v in gold["values"]) and _unit_ok(gold["unit"], gold["tunit"], comp)


def gold_matched(gold: dict, comps: list[dict]) -> bool:
    """Recall side: one compiler comparison equal to the gold one, or, for a gold comparison
    with several values under one operator (not BETWEEN), one compiler comparison per value."""
    if any(_match(gold, c) for c in comps):
        return True
    if gold["op"] == "BETWEEN" or len(gold["values"]) < 2:
        return False
    return all(any(_match_part(gold, c) and abs(c["values"][0] - v) < 1e-6 for c in comps) for v in gold["values"])


def _match(gold: dict, comp: dict) -> bool:
    gop, cop = gold["op"], comp["op"]
    if gop != cop:
        return False
    if len(gold["values"]) != len(comp["values"]):
        return False
    if any(abs(a - b) > 1e-6 for a, b in zip(sorted(gold["values"]), sorted(comp["values"]))):
        return False
    return _unit_ok(gold["unit"], gold["tunit"], comp)


def bench_lct(shared: Path, limit: int | None = None) -> dict:
    files = sorted(glob.glob(str(shared / "data" / "lct" / "ner" / "**" / "*.ann"), recursive=True))
    if limit:
        files = files[:limit]
    n_gold = n_gold_hit = n_comp = n_comp_hit = 0
    notes: collections.Counter = collections.Counter()
    note_examples: dict[str, str] = {}
    per_type = collections.defaultdict(lambda: {"gold": 0, "gold_hit": 0})
    misses = []
    miss_kinds: collections.Counter = collections.Counter()
    for ann in files:
        txt_path = ann[:-4] + ".txt"
        if not os.path.exists(txt_path):
            continue
        text = open(txt_path, encoding="utf-8").read()
        gold = [normalize_gold(g, text, notes, note_examples) for g in read_brat(ann)]
        cc = compile_text(text, Path(ann).stem)
        crit_comps = []
        by_id = {c.id: comparisons(c.expression) for c in cc.criteria if c.expression is not None}
        for c in cc.criteria:
            if c.expression is None:
                continue
            # count a criterion's comparisons once: a parent whose text holds its children ("Age ≥ 18;
            # BP ≥ 140/90" split into two) repeats their comparisons; those count with the children only
            comps = _without_children(by_id[c.id], [by_id[k.id] for k in cc.criteria
                                                     if k.parent == c.id and k.id in by_id])
            crit_comps.append((c.span, comps))
        # gold -> covering criteria
        for g in gold:
            n_gold += 1
            per_type[g["type"]]["gold"] += 1
            cands = [cp for span, comps in crit_comps if span[0] <= g["span"][0] and g["span"][1] <= span[1] + 2
                     for cp in comps]
            if gold_matched(g, cands):
                n_gold_hit += 1
                per_type[g["type"]]["gold_hit"] += 1
                continue
            miss_kinds[_miss_kind(g, cands)] += 1
            if len(misses) < 40:
                misses.append({"doc": Path(ann).stem, "gold": {k: g[k] for k in ("type", "op", "values", "unit", "name")},
                               "text": text[max(0, g["span"][0] - 40):g["span"][1] + 20].replace("\n", " "),
                               "compiled": cands[:4]})
        for span, comps in crit_comps:
            inside = [g for g in gold if span[0] <= g["span"][0] and g["span"][1] <= span[1] + 2]
            for cp in comps:
                n_comp += 1
                if any(_match(g, cp) or _match_part(g, cp) for g in inside):
                    n_comp_hit += 1
    p = n_comp_hit / n_comp if n_comp else 0.0
    r = n_gold_hit / n_gold if n_gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    types = {t: {**v, "recall": v["gold_hit"] / v["gold"] if v["gold"] else 0.0} for t, v in per_type.items()}
    return {"documents": len(files), "gold": n_gold, "gold_matched": n_gold_hit, "compiler_comparisons": n_comp,
            "compiler_matched": n_comp_hit, "precision": p, "recall": r, "f1": f1, "per_type": types,
            "gold_normalisation": {"counts": dict(notes), "examples": note_examples},
            "miss_categories": dict(miss_kinds.most_common()), "sample_misses": misses}


def _without_children(comps: list[dict], children: list[list[dict]]) -> list[dict]:
    """``comps`` less one occurrence of each comparison its children have (a multiset difference)."""
    if not children:
        return comps
    key = lambda c: (c["op"], tuple(c["values"]), c["unit"], c["tunit"])  # noqa: E731
    left = collections.Counter(key(c) for kid in children for c in kid)
    out = []
    for c in comps:
        if left[key(c)] > 0:
            left[key(c)] -= 1
            continue
        out.append(c)
    return out


def _miss_kind(gold: dict, cands: list[dict]) -> str:
    """Why a gold comparison was missed: the closest thing the compiler emitted in its criterion."""
    t = gold["type"].lower()
    if not cands:
        return f"{t}: no comparison compiled in the criterion"
    same_vals = [c for c in cands if sorted(c["values"]) == sorted(gold["values"])]
    if not same_vals:
        return f"{t}: value not found"
    if not any(c["op"] == gold["op"] for c in same_vals):
        return f"{t}: operator differs ({gold['op']})"
    return f"{t}: unit differs"


# ----------------------------------------------------------------------------- coverage + time
def _records(path: Path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def _criteria_text(rec: dict) -> tuple[str, str, list[str]]:
    ps = rec.get("protocolSection", {})
    nct = ps.get("identificationModule", {}).get("nctId", "?")
    text = ps.get("eligibilityModule", {}).get("eligibilityCriteria") or ""
    conds = ps.get("conditionsModule", {}).get("conditions", []) or []
    return nct, text, conds


def _pattern(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    stop = {"the", "a", "an", "of", "to", "with", "and", "or", "in", "for", "be", "is", "are", "must", "patients",
            "patient", "subjects", "subject", "have", "has", "who", "any", "that", "on", "at", "by", "as", "not", "no"}
    content = [w for w in words if w not in stop][:2]
    return " ".join(content) or "(empty)"


def bench_coverage_and_time(shared: Path, workers: int | None = None) -> dict:
    hint = shared / "data" / "hint" / "trials.ndjson"
    ctgov = shared / "data" / "ctgov-v2" / "breast_trials.ndjson"
    recs = [("hint", r) for r in _records(hint)] + [("ctgov", r) for r in _records(ctgov)]
    total = ok = breast_total = breast_ok = 0
    unsup = collections.Counter()
    examples: dict[str, str] = {}
    status_counts = collections.Counter()
    prepared = [(src, *_criteria_text(rec)) for src, rec in recs]
    items = [(nct, text) for _src, nct, text, _conds in prepared]
    # timed twice through the real batch path: on every core (what `ingest` does) and in one process
    t0 = time.perf_counter()
    outputs = list(compile_texts(items, workers=workers))
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    for _ in compile_texts(items, workers=1):
        pass
    elapsed_one = time.perf_counter() - t1
    compiled = 0
    errors = 0
    results = []
    for (src, nct, _text, conds), (_tid, cc, error) in zip(prepared, outputs):
        if cc is None:  # the benchmark reports crashes instead of stopping
            errors += 1
            print(f"error compiling {nct}: {error}", file=sys.stderr)
            continue
        compiled += 1
        results.append((src, conds, cc))
    for src, conds, cc in results:
        if src != "hint":
            continue
        breast = any("breast" in c.lower() for c in conds)
        for c in cc.criteria:
            if c.expression is None and c.status == "compiled":
                continue  # headers
            total += 1
            status_counts[c.status] += 1
            good = c.status != "unsupported"
            ok += good
            if breast:
                breast_total += 1
                breast_ok += good
            if not good:
                pat = _pattern(c.text)
                unsup[pat] += 1
                examples.setdefault(pat, c.text[:120])
    return {
        "records": len(recs), "compiled_records": compiled, "errors": errors,
        "seconds": elapsed, "records_per_second": compiled / elapsed if elapsed else 0.0,
        "workers": workers or default_workers(), "seconds_one_process": elapsed_one,
        "criteria": total, "supported": ok, "coverage": ok / total if total else 0.0,
        "status_counts": dict(status_counts),
        "breast_criteria": breast_total, "breast_supported": breast_ok,
        "breast_coverage": breast_ok / breast_total if breast_total else 0.0,
        "top_unsupported": [{"pattern": p, "count": n, "example": examples[p]} for p, n in unsup.most_common(15)],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(REPO.parent / "shared"), help="path of the shared data (default <repo>/../shared)")
    ap.add_argument("--limit-lct", type=int, default=None, help="score only the first N LCT documents")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "output" / "criteria.json"))
    ap.add_argument("--workers", type=int, default=None, help="compile worker processes (default: every available core)")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    if not (shared / "data").exists():
        print(f"shared data not found at {shared}/data", file=sys.stderr)
        return 2
    lct = bench_lct(shared, args.limit_lct)
    cov = bench_coverage_and_time(shared, args.workers)
    print(f"criteria compiler {COMPILER_VERSION}")
    print(f"(a) LCT numeric comparisons: {lct['documents']} documents, {lct['gold']} annotations, "
          f"{lct['compiler_comparisons']} compiler comparisons")
    print(f"    precision {lct['precision']:.3f}  recall {lct['recall']:.3f}  F1 {lct['f1']:.3f}  (target F1 >= 0.90)")
    for t, v in sorted(lct["per_type"].items()):
        print(f"    {t:<12} recall {v['recall']:.3f} ({v['gold_hit']}/{v['gold']})")
    print(f"    gold normalisation: {lct['gold_normalisation']['counts']}")
    print("    top miss categories:")
    for k, n in list(lct["miss_categories"].items())[:8]:
        print(f"      {n:>5}  {k}")
    print(f"(b) HINT coverage: {cov['supported']}/{cov['criteria']} = {cov['coverage']:.3f} (target >= 0.75); "
          f"breast {cov['breast_supported']}/{cov['breast_criteria']} = {cov['breast_coverage']:.3f} (target >= 0.85)")
    print(f"    status counts: {cov['status_counts']}")
    print("    most common unsupported patterns:")
    for u in cov["top_unsupported"]:
        print(f"      {u['count']:>5}  {u['pattern']:<28} e.g. {u['example'][:80]!r}")
    print(f"(c) compile time: {cov['compiled_records']} records in {cov['seconds']:.1f} s on {cov['workers']} worker "
          f"process(es) = {cov['records_per_second']:.0f} records/s (target < 60 s); in one process "
          f"{cov['seconds_one_process']:.1f} s; errors {cov['errors']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"compiler_version": COMPILER_VERSION, "lct": lct, "hint": cov}, indent=2, default=str))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
