"""Atom evaluators: lab thresholds and other measurements (BMI, weight, height).

* Lab results: the most recent result for the analyte on or before ``as_of``; older than the
  atom's ``max_age_days`` (else :attr:`MatchOptions.lab_max_age_days`, 28 days) -> unknown. An
  undated result is taken as of the record's ``as_of`` date (said in the reason).
* ULN multiples use the result's own ULN, else the analyte vocabulary's normal range (the
  reason says which).
* A qualitative statement ("creatinine normal", "LFTs normal", "CBC within normal limits"),
  when no newer numeric result exists and within the same recency window: "normal" decides a
  threshold the analyte's whole normal range (the analyte vocabulary's, converted to the
  threshold's unit) decides (it passes "≤ 1.5 × ULN" and "platelets ≥ 100 × 10^9/L", fails
  "> 3 × ULN"); a threshold that cuts into the normal range stays unknown ("normal, but the
  threshold is stricter than the normal range"); "abnormal" stays unknown, shown as evidence.
  "Creatinine normal" never settles a creatinine clearance or eGFR.
* Creatinine clearance, when not measured, is computed by Cockcroft-Gault from age, weight, sex
  and serum creatinine; a missing weight makes it unknown and names the weight.
"""

from __future__ import annotations

import re
from functools import lru_cache

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.common import fmt_number, readable
from trialmatch.matching.atoms.registry import evaluates
from trialmatch.matching.context import EvalContext, Result, missing_fact, used_fact
from trialmatch.matching.facts import PatientIndex, norm_key
from trialmatch.matching.model import Evidence
from trialmatch.matching.options import MatchOptions
from trialmatch.vocab import analyte_vocabulary, normalize_analyte


# ---------------------------------------------------------------------------- labs
def _analyte_entry(key: str) -> dict:
    return analyte_vocabulary().get(key, {})


def _lab_text(r) -> str:
    return f"{readable(r.analyte)} {fmt_number(r.value)}{(' ' + r.unit) if r.unit else ''}" + (f" ({r.date})" if r.date else " (undated)")


def _cmp(x: float, comp: str, y: float) -> bool:
    eps = 1e-9 * max(1.0, abs(y))
    return {">=": x >= y - eps, ">": x > y + eps, "<=": x <= y + eps, "<": x < y - eps, "==": abs(x - y) <= eps}[comp]


def _latest_lab(analyte: str, a: cm.LabThreshold, idx: PatientIndex, o: MatchOptions):
    """(result, None) or (None, Result explaining why unknown)."""
    items = idx.labs.get(analyte) or []
    label = _analyte_entry(analyte).get("label", readable(analyte))
    if not items:
        return None, Result(None, [f"no {label} result"], [], [missing_fact(f"lab:{analyte}", f"{label} (recent result)")])
    r = items[0]
    window = a.max_age_days if a.max_age_days is not None else o.lab_max_age_days
    when = r.date or idx.patient.as_of
    if when is not None and (idx.as_of - when).days > window:
        return None, Result(None, [f"latest {label} from {when} is older than {window} days"], [used_fact(_lab_text(r), r.source, r.value)],
                            [missing_fact(f"lab:{analyte}", f"{label} (result within {window} days)")])
    return r, None


def _newer_statement(analyte: str, idx: PatientIndex, numeric):
    """Her newest qualitative statement on ``analyte`` when no numeric result is as recent."""
    sts = idx.lab_statements.get(analyte)
    if not sts:
        return None
    st = sts[0]
    if numeric is None:
        return st
    undated_at = idx.patient.as_of or idx.as_of
    return st if (st.date or undated_at) > (numeric.date or undated_at) else None


def _range_decides(low: float | None, high: float | None, comp: str, limit: float):
    """True when every value in [low, high] meets ``comp limit``, False when none does, else None."""
    if low is None or high is None:
        return None
    lo_ok, hi_ok = _cmp(low, comp, limit), _cmp(high, comp, limit)
    if lo_ok and hi_ok:
        return True
    if not lo_ok and not hi_ok and comp != "==":
        return False
    return None


def _statement_result(a: cm.LabThreshold, st, idx: PatientIndex, o: MatchOptions, entry: dict, label: str) -> Result:
    """A lab threshold decided from a qualitative statement (see the module docstring)."""
    window = a.max_age_days if a.max_age_days is not None else o.lab_max_age_days
    when = st.date or idx.patient.as_of
    said = f"{label} {st.finding}" + (f" ({st.date})" if st.date else " (undated)")
    ev = [used_fact(f"{said}, as stated" + (f": '{st.phrase}'" if st.phrase else ""), st.source, st.finding)]
    if when is not None and (idx.as_of - when).days > window:
        return Result(None, [f"latest {label} statement from {when} is older than {window} days"], ev,
                      [missing_fact(f"lab:{a.analyte}", f"{label} (result within {window} days)")])
    if st.finding != "normal":
        return Result(None, [f"{label} stated abnormal (no value): the threshold cannot be checked"], ev,
                      [missing_fact(f"lab:{a.analyte}", f"{label} (the value)")])
    normal = entry.get("normal") or {}
    low, high, unit = normal.get("low"), normal.get("high"), entry.get("unit")
    if a.uln_multiple is not None or a.lln_multiple is not None:
        if low is None or not high:
            return Result(None, [f"{label} stated normal; no normal range for {label} in the analyte vocabulary"], ev,
                          [missing_fact(f"lab:{a.analyte}", f"{label} (the value)")])
        if a.uln_multiple is not None:
            v = _range_decides(low / high, 1.0, a.comparator, a.uln_multiple)
            thr = f"{a.comparator} {fmt_number(a.uln_multiple)}×ULN"
        else:
            v = _range_decides(1.0, high / low if low else float("inf"), a.comparator, a.lln_multiple)
            thr = f"{a.comparator} {fmt_number(a.lln_multiple)}×LLN"
    else:
        if a.value is None or low is None or high is None or not unit:
            return Result(None, [f"{label} stated normal; the threshold cannot be compared with a normal range"], ev,
                          [missing_fact(f"lab:{a.analyte}", f"{label} (the value)")])
        thr_unit = a.unit or _unitless_count_unit(a, entry)
        try:
            limit = _to_unit(a.value, thr_unit, unit, a.analyte) if thr_unit else a.value
        except Exception as exc:  # noqa: BLE001
            return Result(None, [f"{label} stated normal; threshold unit {a.unit!r} cannot be compared ({exc})"], ev,
                          [missing_fact(f"lab:{a.analyte}", f"{label} (the value)")])
        v = _range_decides(low, high, a.comparator, limit)
        thr = f"{a.comparator} {fmt_number(a.value)} {thr_unit or unit}"
    rng = f"normal range {fmt_number(low)}-{fmt_number(high)} {unit or ''}".rstrip()
    if v is None:
        return Result(None, [f"{label} normal, but the threshold is stricter than the normal range ({thr}; {rng})"], ev,
                      [missing_fact(f"lab:{a.analyte}", f"{label} (the value: normal does not settle {thr})")])
    return Result(v, [f"{label} stated normal ({rng}) {thr}: {'met' if v else 'not met'} across the normal range"], ev)


def _to_unit(value: float, unit: str | None, target: str, analyte: str) -> float:
    if unit is None:
        raise ValueError("result has no unit")
    return _convert(value, unit, target, analyte)


@lru_cache(maxsize=65536)
def _convert(value: float, unit: str, target: str, analyte: str) -> float:
    """pint conversion, memoised: a patient's few lab values meet thousands of thresholds."""
    from trialmatch.vocab.units import convert

    return convert(value, unit, target, analyte=analyte)


def _creatinine_clearance(a: cm.LabThreshold, idx: PatientIndex, o) -> tuple[float | None, Result | None, list[Evidence]]:
    """Cockcroft-Gault from age, weight, sex and serum creatinine."""
    p = idx.patient
    cr, why = _latest_lab("creatinine", a, idx, o)
    missing, ev = [], []
    if cr is None:
        why.missing = [missing_fact("lab:creatinine_clearance", "creatinine clearance, or serum creatinine with weight to compute it")] + why.missing
        if idx.lab_statements.get("creatinine"):
            st = idx.lab_statements["creatinine"][0]
            why = Result(None, [f"serum creatinine stated {st.finding} without a value: that does not settle creatinine clearance"],
                         [used_fact(f"serum creatinine {st.finding}, as stated", st.source, st.finding)], why.missing)
        return None, why, []
    ev.append(used_fact(_lab_text(cr), cr.source, cr.value))
    if idx.age is None:
        missing.append(missing_fact("age", "age (for Cockcroft-Gault)"))
    if p.weight_kg is None:
        missing.append(missing_fact("weight", "body weight in kg (for Cockcroft-Gault creatinine clearance)"))
    if p.sex not in ("female", "male"):
        missing.append(missing_fact("sex", "sex (for Cockcroft-Gault)"))
    if missing:
        return None, Result(None, ["creatinine clearance not measured; Cockcroft-Gault needs " +
                                   ", ".join(m.fact for m in missing)], ev, missing), ev
    scr = _to_unit(cr.value, cr.unit, "mg/dL", "creatinine")
    crcl = (140 - idx.age) * p.weight_kg / (72 * scr) * (0.85 if p.sex == "female" else 1.0)
    ev.append(used_fact(f"weight {fmt_number(p.weight_kg)} kg", p.sources.get("weight_kg"), p.weight_kg))
    return crcl, None, ev


#: a unitless cell-count threshold this many times above the normal range's top (in 10^9/L) is read per mm³
_PER_MM3_RATIO = 50


def _unitless_count_unit(a: cm.LabThreshold, entry: dict) -> str | None:
    """"1/mm**3" for "ANC greater than 1500", "platelets at least 100,000" written without a unit (in 10^9/L the
    number would lie hundreds of times above the normal range), else None."""
    high = (entry.get("normal") or {}).get("high")
    if a.unit is None and a.value is not None and entry.get("unit") == "10**9/L" and high and a.value > _PER_MM3_RATIO * high:
        return "1/mm**3"
    return None


@evaluates("lab")
def lab_threshold(a: cm.LabThreshold, ctx: EvalContext) -> Result:
    idx = ctx.idx
    o = ctx.options
    analyte = a.analyte
    entry = _analyte_entry(analyte)
    label = entry.get("label", readable(analyte))
    if idx.lab_statements:  # a statement on this analyte itself ("creatinine normal" is not a clearance)
        st = _newer_statement(analyte, idx, idx.labs[analyte][0] if idx.labs.get(analyte) else None)
        if st is not None:
            return _statement_result(a, st, idx, o, entry, label)
    if analyte == "creatinine_clearance" and not idx.labs.get("creatinine_clearance"):
        if a.value is None:
            return Result(None, ["creatinine clearance threshold without a value"], [], [missing_fact("manual_review", "check")])
        crcl, why, ev = _creatinine_clearance(a, idx, o)
        if crcl is None:
            return why
        thr = a.value
        if a.unit and a.unit not in ("mL/min", "ml/min"):
            try:
                thr = _to_unit(a.value, a.unit, "mL/min", analyte)
            except Exception:  # noqa: BLE001
                pass
        ok = _cmp(crcl, a.comparator, thr)
        return Result(ok, [f"creatinine clearance {crcl:.0f} mL/min (Cockcroft-Gault) {a.comparator} {fmt_number(a.value)} {a.unit or 'mL/min'}: "
                           f"{'met' if ok else 'not met'}"], ev)
    r, why = _latest_lab(analyte, a, idx, o)
    if r is None:
        return why
    ev = [used_fact(_lab_text(r), r.source, r.value)]
    undated = "" if r.date else " (undated, taken as of the record date)"
    if a.uln_multiple is not None or a.lln_multiple is not None:
        mult = a.uln_multiple if a.uln_multiple is not None else a.lln_multiple
        own = r.uln if a.uln_multiple is not None else r.lln
        if own is not None:
            limit, value, which = own, r.value, "the lab's own " + ("ULN" if a.uln_multiple is not None else "LLN")
            unit = r.unit or ""
        else:
            normal = entry.get("normal") or {}
            ref = normal.get("high" if a.uln_multiple is not None else "low")
            if ref is None:
                return Result(None, [f"no {'ULN' if a.uln_multiple is not None else 'LLN'} for {label}"], ev,
                              [missing_fact(f"lab:{analyte}:uln", f"{label} upper limit of normal")])
            unit = entry.get("unit", r.unit)
            try:
                value = _to_unit(r.value, r.unit, unit, analyte) if r.unit else r.value
            except Exception as exc:  # noqa: BLE001
                return Result(None, [f"{label}: unit {r.unit!r} cannot be compared ({exc})"], ev,
                              [missing_fact(f"lab:{analyte}", f"{label} with a unit")])
            limit, which = ref, f"the reference {'ULN' if a.uln_multiple is not None else 'LLN'} ({fmt_number(ref)} {unit}) of the analyte vocabulary"
        ratio = value / limit if limit else float("inf")
        ok = _cmp(value, a.comparator, mult * limit)
        x = "ULN" if a.uln_multiple is not None else "LLN"
        return Result(ok, [f"{label} {fmt_number(r.value)} {r.unit or ''} = {ratio:.2f}×{x} {a.comparator} {fmt_number(mult)}×{x} "
                           f"(using {which}){undated}: {'met' if ok else 'not met'}"], ev)
    if a.value is None:
        return Result(None, [f"{label} threshold without a value"], ev, [missing_fact("manual_review", "a person must check")])
    ref_high = (entry.get("normal") or {}).get("high")
    if a.unit is None and ref_high is not None and ref_high >= 20 and 0 < a.value <= 5 \
            and str(entry.get("unit", "")).upper() in ("U/L", "IU/L"):
        # "ALT > 2X UNL" compiled without its "× ULN": a small unitless number against an
        # enzyme whose normal range is in the tens of U/L reads as a multiple of the ULN
        return Result(None, [f"{label} threshold {a.comparator} {fmt_number(a.value)} has no unit and lies far below the "
                             f"normal range (ULN {fmt_number(ref_high)} {entry.get('unit', '')}): a multiple of the ULN?"],
                      ev, [missing_fact("manual_review", f"a person must check the {label} threshold (its unit)")])
    target = a.unit or _unitless_count_unit(a, entry) or entry.get("unit")
    try:
        value = _to_unit(r.value, r.unit, target, analyte) if target and r.unit else r.value
        if target and not r.unit:
            if entry.get("unit") != target:
                raise ValueError("result has no unit")
    except Exception as exc:  # noqa: BLE001 - UnitError or missing unit
        return Result(None, [f"{label} {fmt_number(r.value)} {r.unit or '(no unit)'} cannot be compared with {a.unit}: {exc}"], ev,
                      [missing_fact(f"lab:{analyte}", f"{label} with its unit")])
    ok = _cmp(value, a.comparator, a.value)
    unit = a.unit or (target if target != entry.get("unit") else None)
    conv = "" if (r.unit == unit or not unit) else f" (= {fmt_number(round(value, 4))} {unit})"
    return Result(ok, [f"{label} {fmt_number(r.value)} {r.unit or ''}{conv} {a.comparator} {fmt_number(a.value)} {unit or ''}{undated}: "
                       f"{'met' if ok else 'not met'}"], ev)


# ---------------------------------------------------------------------------- other measurements
@lru_cache(maxsize=65536)
def measurement_analyte(name: str) -> str | None:
    """The analyte vocabulary key of a measurement's name (remembered per process)."""
    return normalize_analyte(name)


@evaluates("measurement")
def measurement(a, ctx: EvalContext) -> Result:
    """BMI, weight, height, or any analyte-like measurement (looked up among her labs)."""
    idx = ctx.idx
    name = norm_key(a.name)
    p = idx.patient
    value, unit, ev = None, a.unit, []
    if name in ("weight", "body_weight") and p.weight_kg is not None:
        value, unit = p.weight_kg, "kg"
        ev.append(used_fact(f"weight {fmt_number(p.weight_kg)} kg", p.sources.get("weight_kg"), p.weight_kg))
    elif name in ("height",) and p.height_cm is not None:
        value, unit = p.height_cm, "cm"
        ev.append(used_fact(f"height {fmt_number(p.height_cm)} cm", p.sources.get("height_cm"), p.height_cm))
    elif name in ("bmi", "body_mass_index") and p.weight_kg and p.height_cm:
        value, unit = p.weight_kg / (p.height_cm / 100.0) ** 2, None
        ev.append(used_fact(f"BMI {value:.1f} (weight {fmt_number(p.weight_kg)} kg, height {fmt_number(p.height_cm)} cm)", p.sources.get("weight_kg")))
    elif re.search(r"change|gain|loss|increase|decrease|reduction|decline", name) and name not in idx.labs:
        pass  # a change (weight gain or loss) is not answered by her current value
    else:
        key = name if name in idx.labs else (measurement_analyte(a.name) or name)
        items = idx.labs.get(key) or []
        if items:
            r = items[0]
            value = r.value
            ev.append(used_fact(_lab_text(r), r.source, r.value))
            if a.unit and r.unit and a.unit != r.unit:
                try:
                    value = _to_unit(r.value, r.unit, a.unit, key)
                except Exception as exc:  # noqa: BLE001
                    return Result(None, [f"{readable(name)}: unit {r.unit} cannot be compared with {a.unit} ({exc})"], ev,
                                  [missing_fact(f"measurement:{name}", f"{readable(name)} in {a.unit}")])
    if value is None:
        return Result(None, [f"{readable(name)} not recorded"], [], [missing_fact(f"measurement:{name}", readable(name))])
    if a.comparator == "between":
        hi = a.value_high if a.value_high is not None else float("inf")
        ok = a.value <= value <= hi
        txt = f"between {fmt_number(a.value)} and {fmt_number(hi)}"
    else:
        ok = _cmp(value, a.comparator, a.value)
        txt = f"{a.comparator} {fmt_number(a.value)}"
    return Result(ok, [f"{readable(name)} {fmt_number(round(value, 2))} {txt}{(' ' + a.unit) if a.unit else ''}: {'met' if ok else 'not met'}"], ev)
