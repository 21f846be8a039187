"""Atom evaluators: the person (age, sex, menopausal status, ovarian suppression, pregnancy,
performance status, life expectancy).

* Pregnancy and breastfeeding: false for a postmenopausal woman or a man when not stated.
* An exclusion whose compiled check holds for every patient (any age, both sexes) cannot
  exclude by itself: unknown, for a person to read.
"""

from __future__ import annotations

import re

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import fmt_number, range_text
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.logic import NA


# ---------------------------------------------------------------------------- demographics
def _excludes_everyone(what: str, ev: list) -> Result:
    """An exclusion check that every patient meets (any sex, any age): the compiled check lost
    the qualifier that made it an exclusion ("men and women not using contraception"), so it
    cannot exclude her by itself; a person must read the criterion."""
    return Result(None, [f"{what}, as is every patient: the rest of this exclusion was not compiled"], ev,
                  [missing_fact("manual_review", "a person must check this exclusion (its compiled check holds for everyone)")])


@evaluates("age")
def age(a: cm.Age, ctx: EvalContext) -> Result:
    idx = ctx.idx
    p = idx.patient
    if idx.age is None:
        return Result(None, ["age not recorded"], [], [missing_fact("age", "age or date of birth")])
    src = p.sources.get("birth_date") if p.birth_date else p.sources.get("age_years")
    ev = [used_fact(f"age {fmt_number(idx.age)} years on {idx.as_of}", src, idx.age)]
    r = a.years
    if ctx.want is False and (r.low is None or r.low <= 1) and (r.high is None or r.high >= 120):
        return _excludes_everyone(f"age {fmt_number(idx.age)} within {range_text(r, 'years')}", ev)
    ok = a.years.contains(idx.age)
    return Result(ok, [f"age {fmt_number(idx.age)} {'within' if ok else 'outside'} {range_text(a.years, 'years')}"], ev)


@evaluates("sex")
def sex(a: cm.Sex, ctx: EvalContext) -> Result:
    idx = ctx.idx
    sex = idx.patient.sex
    if sex not in ("female", "male"):
        return Result(None, ["sex not recorded"], [], [missing_fact("sex", "sex")])
    ev = [used_fact(f"sex {sex}", idx.source_of("sex"), sex)]
    if ctx.want is False and {"female", "male"} <= set(a.allowed):
        return _excludes_everyone(f"sex {sex} is {'/'.join(a.allowed)}", ev)
    ok = sex in a.allowed
    return Result(ok, [f"sex {sex} {'is' if ok else 'is not'} {'/'.join(a.allowed)}"], ev)


@evaluates("menopausal_status")
def menopausal_status(a: cm.MenopausalStatus, ctx: EvalContext) -> Result:
    idx = ctx.idx
    p = idx.patient
    st = p.menopausal_status
    if st is None:
        if p.sex == "male":
            if ctx.want is True:
                # a requirement on women's menopausal status does not concern a man (the
                # trial's sex criterion decides whether men may join)
                return Result(NA, ["applies to women only (male)"], [used_fact("sex male", idx.source_of("sex"))])
            return Result(False, ["male: no menopausal status"], [used_fact("sex male", idx.source_of("sex"))])
        return Result(None, ["menopausal status not recorded"], [],
                      [missing_fact("menopausal_status", "menopausal status (pre/peri/post)")])
    ev = [used_fact(f"menopausal status {st}", idx.source_of("menopausal_status"), st)]
    ok = st in a.allowed
    return Result(ok, [f"{st} {'is' if ok else 'is not'} {'/'.join(a.allowed)}"], ev)


_OFS_PROC = re.compile(r"oophorectomy|ovariectomy|ovarian (ablation|suppression)|salpingo-?oophorectomy", re.I)


@evaluates("ovarian_suppression")
def ovarian_suppression(a, ctx: EvalContext) -> Result:
    idx = ctx.idx
    p = idx.patient
    if p.ovarian_suppression is True:
        return Result(True, ["on ovarian function suppression"],
                      [used_fact("ovarian function suppression", idx.source_of("ovarian_suppression"), True)])
    for t in idx.treatments:
        if "gnrh_agonist" in t.classes or "ovarian_function_suppression" in t.classes:
            if t.treatment.end is None or t.treatment.end >= idx.as_of or t.treatment.ongoing:
                return Result(True, [f"on {', '.join(t.generics)} (GnRH agonist)"],
                              [used_fact(f"treatment {', '.join(t.treatment.drugs)}", t.treatment.source)])
    for m, g, classes in idx.medication_generics:
        if "gnrh_agonist" in classes or "ovarian_function_suppression" in classes:
            return Result(True, [f"takes {m.name} (GnRH agonist)"], [used_fact(f"medication {m.name}", m.source)])
    for pr in p.procedures:
        text = f"{pr.kind} {pr.name or ''}"
        if _OFS_PROC.search(text) and (pr.date is None or pr.date <= idx.as_of):
            return Result(True, [f"had {pr.name or pr.kind}"], [used_fact(f"procedure {pr.name or pr.kind}", pr.source)])
    if p.ovarian_suppression is False:
        return Result(False, ["not on ovarian function suppression"],
                      [used_fact("no ovarian function suppression", idx.source_of("ovarian_suppression"), False)])
    return Result(None, ["ovarian function suppression not recorded"], [],
                  [missing_fact("ovarian_suppression", "ovarian function suppression (GnRH agonist or oophorectomy)")])


@evaluates("pregnancy")
def pregnancy(a: cm.Pregnancy, ctx: EvalContext) -> Result:
    idx = ctx.idx
    p = idx.patient
    val = p.pregnant if a.state == "pregnant" else p.breastfeeding
    if val is not None:
        return Result(val, [f"{'is' if val else 'not'} {a.state}"],
                      [used_fact(f"{a.state}: {'yes' if val else 'no'}", idx.source_of(a.state if a.state == "pregnant" else "breastfeeding"), val)])
    if p.sex == "male":
        if ctx.want is True:
            return Result(NA, [f"applies to women only (male: not {a.state})"], [used_fact("sex male", idx.source_of("sex"))])
        return Result(False, [f"male: not {a.state}"], [used_fact("sex male", idx.source_of("sex"))])
    if p.menopausal_status == "postmenopausal":
        return Result(False, [f"postmenopausal: not {a.state} (not stated, inferred)"],
                      [used_fact("postmenopausal", idx.source_of("menopausal_status"))])
    return Result(None, [f"{a.state} status not recorded"], [], [missing_fact(a.state, f"whether she is {a.state}")])


# ---------------------------------------------------------------------------- performance
_KPS_FROM_ECOG = {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (10, 20), 5: (0, 0)}


def _ecog_from_kps(k: float) -> int:
    for e, (lo, hi) in _KPS_FROM_ECOG.items():
        if lo <= k <= hi:
            return e
    return 0 if k > 100 else (5 if k < 10 else int(round((100 - k) / 20)))


@evaluates("performance_status")
def performance_status(a: cm.PerformanceStatus, ctx: EvalContext) -> Result:
    idx = ctx.idx
    ps = idx.performance
    if ps is None:
        return Result(None, ["performance status not recorded"], [],
                      [missing_fact("performance_status", "performance status (ECOG or Karnofsky)")])
    ev = [used_fact(f"{ps.scale.upper()} {fmt_number(ps.value)}" + (f" ({ps.date})" if ps.date else ""), ps.source, ps.value)]
    want_ecog = a.scale in ("ecog", "who")
    have_ecog = ps.scale in ("ecog", "who")
    if want_ecog == have_ecog:
        ok = a.range.contains(ps.value)
        return Result(ok, [f"{ps.scale.upper()} {fmt_number(ps.value)} {'within' if ok else 'outside'} "
                           f"{a.scale.upper()} {range_text(a.range)}"], ev)
    if want_ecog:  # patient Karnofsky -> ECOG
        e = _ecog_from_kps(ps.value)
        ok = a.range.contains(e)
        return Result(ok, [f"Karnofsky {fmt_number(ps.value)} = ECOG {e}, {'within' if ok else 'outside'} "
                           f"ECOG {range_text(a.range)}"], ev)
    lo, hi = _KPS_FROM_ECOG.get(int(ps.value), (None, None))
    if lo is None:
        return Result(None, [f"ECOG {ps.value} cannot be converted"], ev, [])
    ins = [a.range.contains(k) for k in range(int(lo), int(hi) + 1, 10)]
    v = True if all(ins) else (False if not any(ins) else None)
    reason = f"ECOG {fmt_number(ps.value)} = Karnofsky {lo}-{hi}, vs Karnofsky {range_text(a.range)}"
    return Result(v, [reason], ev, [] if v is not None else [missing_fact("performance_status", "Karnofsky score")])


@evaluates("life_expectancy")
def life_expectancy(a: cm.LifeExpectancy, ctx: EvalContext) -> Result:
    idx = ctx.idx
    le = idx.patient.life_expectancy_months
    if le is None:
        return Result(None, ["life expectancy not recorded"], [],
                      [missing_fact("life_expectancy", "life expectancy (estimated by her physician)")])
    need = a.minimum.days / 30.4375
    ok = le > need if a.strict else le >= need
    return Result(ok, [f"life expectancy {fmt_number(le)} months vs {'>' if a.strict else '≥'} {fmt_number(a.minimum.value)} {a.minimum.unit}s"],
                  [used_fact(f"life expectancy {fmt_number(le)} months", idx.source_of("life_expectancy_months"), le)])
