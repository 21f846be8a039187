"""Consistency checks of reported trial statistics.

What is checked
---------------
Rates (``ReportedStatistic.kind == "rate"``)
    * ``count_recovery``: from the rate and its denominator (``n``, else the size of its arm in
      ``TrialResults.arms``) recover the count of patients ``k = round(rate * n)``, and list every
      integer count whose rate rounds to the reported value. No such count means the rate
      cannot be right for that denominator.
    * ``value_in_ci``: the rate lies inside its interval.
    * ``clopper_pearson_ci``: the exact (Clopper-Pearson) interval for ``k`` of ``n`` at the
      reported level (``scipy.stats.binomtest(k, n).proportion_ci(method="exact")``) agrees
      with the reported interval at the reported precision.

Hazard and odds ratios
    * ``ci_positive``: the lower bound is above 0;
    * ``value_in_ci``: ``lower < ratio < upper`` (a ratio on a bound is flagged);
    * ``log_symmetry``: intervals of ratios are computed on the log scale, so
      ``log(ratio)`` must sit at the midpoint of ``log(lower)`` and ``log(upper)``, within what
      rounding of the three printed numbers can explain.

Medians and other values with an interval get ``value_in_ci``.

Tolerances (documented, not tuned to the seeds)
-----------------------------------------------
``precision`` is the smallest unit of the printed number (1 for "61%", 0.01 for "0.54").
A reported value of 61.0 is read as "61" (trailing zeros carry no precision in a float).

* a count reproduces a rate when ``|100 k / n - rate| <= precision / 2`` (rounding to the
  printed digits);
* a recomputed interval bound agrees when it is within **one printed unit** of the reported
  bound (``±1`` percentage point for integer percents): half a unit for the rounding of the
  printed bound, plus half a unit because the printed rate itself may stand for a neighbouring
  count. Anything further is flagged;
* ``log_symmetry`` tolerates ``precision/2`` of error in each printed number, propagated to
  the log scale (``d log x = dx / x``), plus 0.005 for the arithmetic of the source.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trialmatch.trials.model import ReportedStatistic, TrialResults

CheckName = Literal[
    "count_recovery", "clopper_pearson_ci", "value_in_ci", "ci_positive", "log_symmetry", "denominator",
]

#: extra slack on the log scale for ratio intervals, beyond what rounding explains
LOG_SLACK = 0.005


class StatCheck(BaseModel):
    """The result of one check of one reported statistic.

    ``ok`` is True (agrees), False (does not agree: flagged) or None (could not be checked,
    the message says why). ``statistic`` is the index of the statistic in
    ``TrialResults.statistics``; ``recomputed`` holds the numbers the check computed.
    """

    model_config = ConfigDict(extra="forbid")

    statistic: int
    outcome: str
    kind: str
    arm: str | None = None
    check: CheckName
    ok: bool | None
    message: str
    reported: dict[str, Any] = Field(default_factory=dict)
    recomputed: dict[str, Any] = Field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers
def precision_of(x: float) -> float:
    """The smallest printed unit of ``x``: 61.0 -> 1, 0.54 -> 0.01, 4.5 -> 0.1."""
    d = Decimal(repr(float(x))).normalize()
    exp = d.as_tuple().exponent
    if not isinstance(exp, int):  # nan / inf
        return 1.0
    return 10.0 ** min(0, exp)


_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def printed_precision(x: float, text: str | None) -> float:
    """Precision of ``x`` as printed in ``text`` when it appears there ("0.70" -> 0.01),
    else :func:`precision_of`."""
    best: float | None = None
    if text:
        for m in _NUMBER.finditer(text):
            tok = m.group(0)
            try:
                if abs(float(tok) - float(x)) < 1e-12:
                    p = 10.0 ** -(len(tok.split(".")[1]) if "." in tok else 0)
                    best = p if best is None else min(best, p)
            except ValueError:
                continue
    return best if best is not None else precision_of(x)


def _fmt(x: float, unit: float) -> str:
    decimals = max(0, -int(round(math.log10(unit)))) if unit < 1 else 0
    return f"{x:.{decimals}f}"


def _is_percent(stat: ReportedStatistic) -> bool:
    if stat.unit is not None:
        return stat.unit.strip() in ("%", "percent", "percentage") or "percent" in stat.unit.lower()
    return stat.value > 1.0


def _norm_label(s: str | None) -> str:
    return " ".join((s or "").lower().split())


def _denominator(stat: ReportedStatistic, results: TrialResults) -> tuple[int | None, str]:
    if stat.n is not None:
        return stat.n, "n of the statistic"
    if stat.arm:
        want = _norm_label(stat.arm)
        for arm in results.arms:
            if _norm_label(arm.label) == want and arm.size is not None:
                return arm.size, f"size of arm {arm.label!r}"
    return None, ""


def _ref(stat: ReportedStatistic) -> dict[str, Any]:
    out: dict[str, Any] = {"value": stat.value, "unit": stat.unit}
    if stat.ci is not None:
        out["ci"] = {"level": stat.ci.level, "lower": stat.ci.lower, "upper": stat.ci.upper}
    if stat.n is not None:
        out["n"] = stat.n
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for ``k`` successes of ``n``, as proportions."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def _wilson(k: int, n: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    p = k / n
    z = float(norm.ppf(0.5 + level / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _wald(k: int, n: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    p = k / n
    z = float(norm.ppf(0.5 + level / 2))
    half = z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)


# ----------------------------------------------------------------------------- rate checks
def _check_rate(i: int, stat: ReportedStatistic, results: TrialResults) -> list[StatCheck]:
    base = dict(statistic=i, outcome=stat.outcome, kind=stat.kind, arm=stat.arm, reported=_ref(stat))
    checks: list[StatCheck] = []
    pct = _is_percent(stat)
    scale = 100.0 if pct else 1.0
    unit_sym = "%" if pct else ""
    value = stat.value
    if stat.ci is not None:
        checks.append(_value_in_ci(base, value, stat.ci.lower, stat.ci.upper, strict=False))
    n, n_from = _denominator(stat, results)
    if n is None or n <= 0:
        checks.append(StatCheck(**base, check="denominator", ok=None,
                                message=f"{stat.outcome}: no denominator stated (no n, no arm size), "
                                        "so the count and exact interval cannot be recomputed"))
        return checks
    if not 0 <= value <= scale:
        checks.append(StatCheck(**base, check="count_recovery", ok=False,
                                message=f"{stat.outcome}: rate {value}{unit_sym} is outside 0-{scale:g}{unit_sym}"))
        return checks
    prec = printed_precision(value, stat.text)
    k0 = int(round(value / scale * n))
    candidates = [k for k in range(max(0, k0 - 2), min(n, k0 + 2) + 1)
                  if abs(k / n * scale - value) <= prec / 2 + 1e-9]
    rec: dict[str, Any] = {"n": n, "n_from": n_from, "k": k0, "k_rate": round(k0 / n * scale, 4),
                           "counts_reproducing_rate": candidates, "precision": prec}
    if candidates:
        k_txt = ", ".join(f"{k}/{n} = {_fmt(k / n * scale, min(prec, 0.1))}{unit_sym}" for k in candidates)
        checks.append(StatCheck(**base, check="count_recovery", ok=True, recomputed=rec,
                                message=f"{stat.outcome}: {value:g}{unit_sym} of {n} ({n_from}) -> "
                                        f"count {k_txt}"))
    else:
        checks.append(StatCheck(**base, check="count_recovery", ok=False, recomputed=rec,
                                message=f"{stat.outcome}: no integer count of {n} gives {value:g}{unit_sym} "
                                        f"within rounding (±{prec / 2:g}); nearest {k0}/{n} = "
                                        f"{k0 / n * scale:.2f}{unit_sym}"))
    if stat.ci is None:
        return checks
    level = stat.ci.level or 0.95
    ci_prec = max(printed_precision(stat.ci.lower, stat.text), printed_precision(stat.ci.upper, stat.text))
    tol = ci_prec  # one printed unit, see the module docstring
    tried = candidates or [k0]
    best: tuple[float, int, tuple[float, float]] | None = None
    for k in tried:
        lo, hi = clopper_pearson(k, n, level)
        err = max(abs(lo * scale - stat.ci.lower), abs(hi * scale - stat.ci.upper))
        if best is None or err < best[0]:
            best = (err, k, (lo, hi))
    assert best is not None
    err, k, (lo, hi) = best
    wlo, whi = _wald(k, n, level)
    rec_ci = {"k": k, "n": n, "level": level,
              "exact_lower": round(lo * scale, 4), "exact_upper": round(hi * scale, 4),
              "wald_lower": round(wlo * scale, 4), "wald_upper": round(whi * scale, 4),
              "wilson_lower": round(_wilson(k, n, level)[0] * scale, 4),
              "wilson_upper": round(_wilson(k, n, level)[1] * scale, 4),
              "tolerance": tol, "max_difference": round(err, 4)}
    dec = max(1, -int(round(math.log10(ci_prec))) + 1) if ci_prec < 1 else 1
    exact_txt = (f"exact {int(level * 100) if level * 100 == int(level * 100) else level * 100}% CI for "
                 f"{k}/{n}: {lo * scale:.{dec}f} to {hi * scale:.{dec}f}{unit_sym}")
    reported_txt = f"reported {stat.ci.lower:g} to {stat.ci.upper:g}{unit_sym}"
    if err <= tol + 1e-9:
        checks.append(StatCheck(**base, check="clopper_pearson_ci", ok=True, recomputed=rec_ci,
                                message=f"{stat.outcome}: {exact_txt}; {reported_txt} (agrees within ±{tol:g})"))
    else:
        note = ""
        for label, (alo, ahi) in (("normal-approximation (Wald)", (wlo, whi)), ("Wilson score", _wilson(k, n, level))):
            if max(abs(alo * scale - stat.ci.lower), abs(ahi * scale - stat.ci.upper)) <= tol + 1e-9:
                note = f"; it matches the {label} interval, not the exact one"
                break
        checks.append(StatCheck(**base, check="clopper_pearson_ci", ok=False, recomputed=rec_ci,
                                message=f"{stat.outcome}: {reported_txt} does not agree with the {exact_txt} "
                                        f"(off by {err:.{dec}f}, tolerance ±{tol:g}){note}"))
    return checks


def _value_in_ci(base: dict, value: float, lower: float, upper: float, *, strict: bool) -> StatCheck:
    if lower > upper:
        return StatCheck(**base, check="value_in_ci", ok=False,
                         message=f"{base['outcome']}: interval bounds reversed ({lower:g} > {upper:g})")
    inside = lower < value < upper if strict else lower <= value <= upper
    if inside:
        return StatCheck(**base, check="value_in_ci", ok=True,
                         message=f"{base['outcome']}: {value:g} lies inside {lower:g} to {upper:g}")
    where = "on a bound of" if value in (lower, upper) else "outside"
    return StatCheck(**base, check="value_in_ci", ok=False,
                     message=f"{base['outcome']}: {value:g} lies {where} its interval {lower:g} to {upper:g}")


# ----------------------------------------------------------------------------- ratio checks
def _check_ratio(i: int, stat: ReportedStatistic) -> list[StatCheck]:
    base = dict(statistic=i, outcome=stat.outcome, kind=stat.kind, arm=stat.arm, reported=_ref(stat))
    name = "HR" if stat.kind == "hazard_ratio" else "OR"
    if stat.ci is None:
        return [StatCheck(**base, check="value_in_ci", ok=None,
                          message=f"{stat.outcome}: {name} {stat.value:g} has no interval to check")]
    hr, lo, hi = stat.value, stat.ci.lower, stat.ci.upper
    checks: list[StatCheck] = []
    if lo <= 0 or hr <= 0:
        checks.append(StatCheck(**base, check="ci_positive", ok=False,
                                message=f"{stat.outcome}: a ratio and its interval must be above 0 "
                                        f"({name} {hr:g}, {lo:g} to {hi:g})"))
        return checks
    checks.append(StatCheck(**base, check="ci_positive", ok=True,
                            message=f"{stat.outcome}: lower bound {lo:g} > 0"))
    checks.append(_value_in_ci(base, hr, lo, hi, strict=True))
    if lo >= hi:
        return checks
    p_hr, p_lo, p_hi = (printed_precision(v, stat.text) for v in (hr, lo, hi))
    log_mid = (math.log(lo) + math.log(hi)) / 2
    diff = abs(math.log(hr) - log_mid)
    tol = (p_hr / 2) / hr + 0.5 * ((p_lo / 2) / lo + (p_hi / 2) / hi) + LOG_SLACK
    level = stat.ci.level or 0.95
    from scipy.stats import norm

    z_crit = float(norm.ppf(0.5 + level / 2))
    se = (math.log(hi) - math.log(lo)) / (2 * z_crit)
    z = math.log(hr) / se
    p_implied = 2 * (1 - float(norm.cdf(abs(z))))
    rec = {"log_value": round(math.log(hr), 4), "log_midpoint": round(log_mid, 4),
           "value_at_midpoint": round(math.exp(log_mid), 4), "difference": round(diff, 4),
           "tolerance": round(tol, 4), "se_log": round(se, 4), "z": round(z, 3), "p_implied": round(p_implied, 5)}
    if diff <= tol:
        checks.append(StatCheck(**base, check="log_symmetry", ok=True, recomputed=rec,
                                message=f"{stat.outcome}: {name} {hr:g} vs geometric midpoint of {lo:g}-{hi:g} = "
                                        f"{math.exp(log_mid):.3f}; |log difference| {diff:.4f} <= {tol:.4f} "
                                        f"(rounding); implied p = {p_implied:.4f}"))
    else:
        checks.append(StatCheck(**base, check="log_symmetry", ok=False, recomputed=rec,
                                message=f"{stat.outcome}: {name} {hr:g} is not at the log-scale midpoint of its "
                                        f"interval {lo:g}-{hi:g} (geometric midpoint {math.exp(log_mid):.3f}; "
                                        f"|log difference| {diff:.4f} > {tol:.4f} that rounding explains)"))
    return checks


# ----------------------------------------------------------------------------- public
def check_results(results: TrialResults) -> list[StatCheck]:
    """Check the reported statistics of a trial's results against their own numbers.

    Parameters
    ----------
    results : TrialResults
        Results as read from a publication abstract or a CT.gov ``resultsSection``.

    Returns
    -------
    list of StatCheck
        One entry per check per statistic, in the order of ``results.statistics``. A check
        that cannot run (no denominator, no interval) has ``ok=None`` and says why; nothing
        is skipped silently. Statistics of other kinds without an interval get no check.

    Examples
    --------
    >>> from trialmatch.trials.model import TrialResults, ReportedStatistic, ConfidenceInterval
    >>> r = TrialResults(source="publication_abstract", statistics=[ReportedStatistic(
    ...     outcome="CBR", kind="rate", value=61, unit="%", n=54,
    ...     ci=ConfidenceInterval(lower=47, upper=74))])
    >>> [c.ok for c in check_results(r)]
    [True, True, True]
    """
    out: list[StatCheck] = []
    for i, stat in enumerate(results.statistics):
        try:
            if stat.kind == "rate":
                out.extend(_check_rate(i, stat, results))
            elif stat.kind in ("hazard_ratio", "odds_ratio"):
                out.extend(_check_ratio(i, stat))
            elif stat.ci is not None:
                base = dict(statistic=i, outcome=stat.outcome, kind=stat.kind, arm=stat.arm, reported=_ref(stat))
                out.append(_value_in_ci(base, stat.value, stat.ci.lower, stat.ci.upper, strict=False))
        except Exception as exc:  # noqa: BLE001 - one bad number must not stop the others
            out.append(StatCheck(statistic=i, outcome=stat.outcome, kind=stat.kind, arm=stat.arm,
                                 check="denominator", ok=None, reported=_ref(stat),
                                 message=f"{stat.outcome}: could not check ({exc.__class__.__name__}: {exc})"))
    return out


_SUMMARY_CACHE: dict[tuple[str, str], dict | None] = {}


def summarize_evidence(trial) -> dict | None:
    """The published/posted results of a trial with their checks, for match output and pages.

    Parameters
    ----------
    trial : Trial

    Returns
    -------
    dict or None
        None when the trial states no results; else ``{"source", "citation", "arms",
        "statistics", "checks", "consistent", "flags"}`` where ``consistent`` is False when any
        check failed, None when nothing could be checked, and ``flags`` lists the messages of
        the failed checks. Cached per trial id and SHA-256 of its source.
    """
    results = getattr(trial, "results", None)
    if results is None:
        return None
    key = (trial.id, trial.provenance.sha256)
    if key in _SUMMARY_CACHE:
        return _SUMMARY_CACHE[key]
    checks = check_results(results)
    decided = [c.ok for c in checks if c.ok is not None]
    summary = {
        "source": results.source,
        "citation": results.citation,
        "arms": [{"label": a.label, "size": a.size} for a in results.arms],
        "statistics": [s.model_dump(mode="json", exclude_none=True) for s in results.statistics],
        "checks": [c.model_dump(mode="json") for c in checks],
        "consistent": (all(decided) if decided else None),
        "flags": [c.message for c in checks if c.ok is False],
    }
    if len(_SUMMARY_CACHE) > 4096:
        _SUMMARY_CACHE.clear()
    _SUMMARY_CACHE[key] = summary
    return summary
