"""Atom evaluators: receptors (ER, PR, HR, HER2, AR) and gene alterations."""

from __future__ import annotations

import re
from typing import Any

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import fmt_number
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, merge_results, missing_fact, used_fact
from trialmatch.matching.facts import PatientIndex
from trialmatch.matching.logic import kleene_and, kleene_or


# ---------------------------------------------------------------------------- receptors / genes
_BM_DESC = {
    "ER": "ER status (positive/negative, % stained cells)",
    "PR": "PR status (positive/negative, % stained cells)",
    "HER2": "HER2 status (IHC 0-3+, ISH)",
    "AR": "AR status",
}


def _bm_text(b) -> str:
    parts = [b.name]
    if b.ihc_score:
        parts.append(f"IHC {b.ihc_score}")
    if b.ish:
        parts.append(f"ISH {b.ish}")
    if b.percent is not None:
        parts.append(f"{fmt_number(b.percent)}%")
    if b.status:
        parts.append(b.status)
    if b.date:
        parts.append(f"({b.date})")
    return " ".join(parts)


def _er_pr_status(b) -> Any:
    """True positive / False negative / None unknown, for ER/PR/AR."""
    if b.percent is not None:
        return b.percent >= 1.0
    if b.status == "positive" or b.status == "low":
        return True
    if b.status == "negative":
        return False
    return None


def her2_category(b) -> str | None:
    """"positive", "negative" (with "low" flagged separately) or None for equivocal/unknown."""
    if b.ihc_score == "3+" or b.ish == "positive":
        return "positive"
    if b.ihc_score in ("0", "1+"):
        return "negative"
    if b.ihc_score == "2+":
        if b.ish == "negative":
            return "negative"
        return None
    if b.status in ("negative", "low"):
        return "negative"
    if b.status == "positive":
        return "positive"
    return None


_NULL_WORDS = ("null", "no staining", "absent", "no membrane staining")


def her2_null_stated(b) -> bool:
    """Her record says HER2 is null (IHC 0 with no staining at all), not only "0"."""
    text = " ".join(x for x in (b.intensity, b.status) if x).lower()
    return any(w in text for w in _NULL_WORDS)


def _her2_ultralow(b, ev: list) -> Result:
    """HER2-ultralow (IHC 0 with faint staining in ≤ 10% of cells): IHC 1+ and above are not
    ultralow; a plain "0" may be ultralow (unknown) unless the record says null / no staining."""
    if b.intensity and "ultralow" in b.intensity.lower():
        return Result(True, ["HER2-ultralow"], ev)
    if b.ihc_score in ("1+", "2+", "3+") or her2_category(b) == "positive":
        return Result(False, [f"HER2 IHC {b.ihc_score or 'positive'} is not ultralow"], ev)
    if her2_null_stated(b):
        return Result(False, ["HER2-null (no staining) is not ultralow"], ev)
    return Result(None, ["HER2 0 without the staining detail: null or ultralow not recorded"], ev,
                  [missing_fact("biomarker:HER2", "HER2 IHC 0: null (no staining) or ultralow (faint staining ≤ 10%)")])


def _receptor_one(name: str, a: cm.Receptor, idx: PatientIndex) -> Result:
    b = idx.biomarkers.get(name)
    if b is None:
        return Result(None, [f"{name} status not recorded"], [], [missing_fact(f"biomarker:{name}", _BM_DESC.get(name, f"{name} status"))])
    ev = [used_fact(_bm_text(b), b.source)]
    if name == "HER2":
        cat = her2_category(b)
        if a.her2_ihc:
            if b.ihc_score is None:
                return Result(None, ["HER2 IHC score not recorded"], ev, [missing_fact("biomarker:HER2", _BM_DESC["HER2"])])
            ok = b.ihc_score in a.her2_ihc
            if ok and a.ish:
                if b.ish is None:
                    return Result(None, ["HER2 ISH not recorded"], ev, [missing_fact("biomarker:HER2:ISH", "HER2 ISH result")])
                ok = b.ish == a.ish
            return Result(ok, [f"HER2 IHC {b.ihc_score} {'is' if ok else 'is not'} {'/'.join(a.her2_ihc)}"], ev)
        if a.status == "known":
            return Result(cat is not None or b.ihc_score is not None, ["HER2 tested"], ev)
        if a.status == "ultralow":
            return _her2_ultralow(b, ev)
        if a.status == "low":
            if b.ihc_score is None:
                if b.status == "low":
                    return Result(True, ["HER2-low"], ev)
                return Result(None if cat != "positive" else False, ["HER2 IHC score not recorded (HER2-low needs it)"], ev,
                              [] if cat == "positive" else [missing_fact("biomarker:HER2", _BM_DESC["HER2"])])
            low = b.ihc_score == "1+" or (b.ihc_score == "2+" and b.ish == "negative")
            if b.ihc_score == "2+" and b.ish is None:
                return Result(None, ["HER2 IHC 2+ without ISH"], ev, [missing_fact("biomarker:HER2:ISH", "HER2 ISH result")])
            return Result(low, [f"HER2 {'is' if low else 'is not'} low (IHC {b.ihc_score})"], ev)
        if cat is None:
            miss = "biomarker:HER2:ISH" if b.ihc_score == "2+" else "biomarker:HER2"
            return Result(None, ["HER2 equivocal (IHC 2+ without ISH)" if b.ihc_score == "2+" else "HER2 status unclear"], ev,
                          [missing_fact(miss, "HER2 ISH result" if b.ihc_score == "2+" else _BM_DESC["HER2"])])
        want = "positive" if a.status in ("positive", "high") else "negative"
        ok = cat == want
        return Result(ok, [f"HER2 {cat}"], ev)
    pos = _er_pr_status(b)
    if a.status == "known":
        return Result(pos is not None, [f"{name} tested"], ev)
    if pos is None:
        return Result(None, [f"{name} result unclear"], ev, [missing_fact(f"biomarker:{name}", _BM_DESC.get(name, name))])
    if a.status == "negative":
        if pos and name == "ER" and (b.status == "low" or b.percent is not None and b.percent <= ER_LOW_MAX_PERCENT):
            # ASCO/CAP "ER-low positive" (1-10%): often treated as triple-negative; whether it counts as negative
            # here is the investigator's reading
            return Result(None, [f"ER-low ({fmt_number(b.percent) + '%' if b.percent is not None else 'low'}): whether "
                                 f"it counts as ER-negative is for a person to decide"], ev,
                          [missing_fact("manual_review", "whether ER-low (1-10%) counts as ER-negative for this trial")])
        return Result(not pos, [f"{name} {'positive' if pos else 'negative'}"], ev)
    if a.status in ("positive", "high", "low"):
        need = a.min_percent
        if not pos:
            return Result(False, [f"{name} negative"], ev)
        if a.status == "high" and need is None:
            return _high_expression(name, b, ev)
        if a.status == "low" and a.min_percent is None:
            if b.percent is None:
                return Result(None, [f"{name} percent not recorded"], ev, [missing_fact(f"biomarker:{name}", _BM_DESC.get(name, name))])
            return Result(1 <= b.percent <= 10, [f"{name} {fmt_number(b.percent)}% (low = 1-10%)"], ev)
        if need is not None:
            if b.percent is None:
                return Result(None, [f"{name} positive but % of stained cells not recorded (needs ≥ {fmt_number(need)}%)"], ev,
                              [missing_fact(f"biomarker:{name}", _BM_DESC.get(name, name))])
            ok = b.percent >= need
            return Result(ok, [f"{name} {fmt_number(b.percent)}% {'≥' if ok else '<'} {fmt_number(need)}%"], ev)
        return Result(True, [f"{name} positive" + (f" ({fmt_number(b.percent)}%)" if b.percent is not None else "")], ev)
    return Result(None, [f"{name} status {a.status!r} not handled"], ev, [missing_fact("manual_review", "a person must check")])


#: ER "low positive" (ASCO/CAP 2020): 1% to this share of stained cells
ER_LOW_MAX_PERCENT = 10.0

#: "hormone receptor-high expressed" states no cut-off: at least this share of stained cells is high by any reading
#: (Allred 8/8 territory), below the second it is low-positive (ER-low) and not high; in between a person decides
HIGH_EXPRESSION_SURE_PERCENT = 80.0
HIGH_EXPRESSION_NOT_BELOW_PERCENT = 10.0
#: an Allred score (proportion + intensity, 0-8) at least this is high by any reading: 8/8 is more than two
#: thirds of the cells stained, strongly; lower scores do not say the share of cells
HIGH_EXPRESSION_SURE_ALLRED = 8
_ALLRED = re.compile(r"(?i)\bAllred\s+([0-8])\s*/\s*8\b")


def _high_expression(name: str, b, ev: list) -> Result:
    """A receptor "high expressed" without a stated cut-off (see ``HIGH_EXPRESSION_SURE_PERCENT``); with no
    percentage, an Allred score of ``HIGH_EXPRESSION_SURE_ALLRED`` is high."""
    allred = _ALLRED.search(b.intensity or "") if b.percent is None else None
    if allred and int(allred.group(1)) >= HIGH_EXPRESSION_SURE_ALLRED:
        return Result(True, [f"{name} Allred {allred.group(1)}/8: high"], ev)
    if b.percent is None:
        return Result(None, [f"{name} positive but % of stained cells not recorded (high expression wanted)"], ev,
                      [missing_fact(f"biomarker:{name}", _BM_DESC.get(name, name))])
    if b.percent >= HIGH_EXPRESSION_SURE_PERCENT:
        return Result(True, [f"{name} {fmt_number(b.percent)}%: high (≥ {fmt_number(HIGH_EXPRESSION_SURE_PERCENT)}%)"], ev)
    if b.percent < HIGH_EXPRESSION_NOT_BELOW_PERCENT:
        return Result(False, [f"{name} {fmt_number(b.percent)}%: low-positive, not high"], ev)
    return Result(None, [f"{name} {fmt_number(b.percent)}%: whether this is 'high' expression the criterion does not say "
                         f"(no cut-off stated)"], ev, [missing_fact("manual_review", f"whether {name} {fmt_number(b.percent)}% counts as high")])


@evaluates("receptor")
def receptor(a: cm.Receptor, ctx: EvalContext) -> Result:
    idx = ctx.idx
    if a.receptor == "HR":
        er = _receptor_one("ER", a, idx)
        pr = _receptor_one("PR", a, idx)
        if a.status == "negative":
            v = kleene_and([er.value, pr.value])
            res = merge_results(v, [er, pr])
        else:
            v = kleene_or([er.value, pr.value])
            res = merge_results(v, [er, pr], lambda p: p.value is v)
            if v is True:
                res.missing = []
        return res
    return _receptor_one(a.receptor, a, idx)


@evaluates("gene_alteration")
def gene_alteration(a: cm.GeneAlteration, ctx: EvalContext) -> Result:
    idx = ctx.idx
    gene = a.gene.upper()
    srcs = {("ctdna" if s == "blood" else s) for s in a.sources}
    res = [g for g in idx.patient.genes if g.gene.upper() == gene and (g.date is None or g.date <= idx.as_of)]
    if srcs:
        res = [g for g in res if g.specimen is None or ("ctdna" if g.specimen == "blood" else g.specimen) in srcs]
    src_txt = f" ({'/'.join(sorted(srcs))})" if srcs else ""
    if not res:
        return Result(None, [f"{gene} testing{src_txt} not recorded"], [],
                      [missing_fact(f"gene:{gene}", f"{gene} test result{src_txt}")])
    ev = [used_fact(f"{g.gene} {g.status}" + (f" {g.variant}" if g.variant else "") + (f" in {g.specimen}" if g.specimen else "")
              + (f" ({g.date})" if g.date else ""), g.source) for g in res]
    if a.status == "known":
        return Result(True, [f"{gene} tested"], ev)
    if a.status == "wildtype":
        mutated = [g for g in res if g.status in ("mutated", "amplified", "fusion")]
        return Result(not mutated, [f"{gene} {'altered' if mutated else 'wild-type'}"], ev)
    hits = [g for g in res if g.status == a.status]
    if hits and a.variants:
        hv = [g for g in hits if g.variant and any(v.upper() in g.variant.upper() for v in a.variants)]
        if hv:
            return Result(True, [f"{gene} {a.status} ({hv[0].variant})"], ev)
        if any(g.variant is None for g in hits):
            return Result(None, [f"{gene} variant not recorded"], ev, [missing_fact(f"gene:{gene}", f"{gene} variant")])
        return Result(False, [f"{gene} variant not among {', '.join(a.variants)}"], ev)
    return Result(bool(hits), [f"{gene} {a.status if hits else 'not ' + a.status}{src_txt}"], ev)
