"""Consistency check of reported statistics: seed 002 (TAMRAD) and planted errors."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.evidence import check_results, clopper_pearson, precision_of, printed_precision, summarize_evidence
from trialmatch.trials.model import Arm, ConfidenceInterval, Provenance, ReportedStatistic, Trial, TrialResults


def rate(value, lo=None, hi=None, n=None, arm=None, text=None, outcome="CBR"):
    ci = ConfidenceInterval(lower=lo, upper=hi) if lo is not None else None
    return ReportedStatistic(outcome=outcome, kind="rate", arm=arm, value=value, unit="%", ci=ci, n=n, text=text)


def hr(value, lo, hi, text=None, kind="hazard_ratio"):
    return ReportedStatistic(outcome="TTP", kind=kind, value=value, ci=ConfidenceInterval(lower=lo, upper=hi), text=text)


def by_check(checks):
    return {(c.statistic, c.check): c for c in checks}


def test_clopper_pearson_matches_beta_quantiles():
    from scipy.stats import beta

    lo, hi = clopper_pearson(33, 54)
    assert lo == pytest.approx(beta.ppf(0.025, 33, 22), abs=1e-9)
    assert hi == pytest.approx(beta.ppf(0.975, 34, 21), abs=1e-9)


def test_precision():
    assert precision_of(61.0) == 1 and precision_of(0.54) == 0.01 and precision_of(4.5) == 0.1
    assert printed_precision(0.7, "HR, 0.70; 95% CI") == 0.01
    assert printed_precision(0.7, None) == pytest.approx(0.1)


def test_tamrad_cbr_checks_out_and_planted_interval_is_flagged():
    res = TrialResults(source="publication_abstract", statistics=[
        rate(61, 47, 74, n=54), rate(42, 29, 56, n=57), rate(61, 52, 70, n=54)])
    checks = by_check(check_results(res))
    assert checks[(0, "count_recovery")].ok and checks[(0, "count_recovery")].recomputed["k"] == 33
    assert checks[(0, "clopper_pearson_ci")].ok is True
    assert checks[(1, "count_recovery")].recomputed["k"] == 24
    assert checks[(1, "clopper_pearson_ci")].ok is True
    bad = checks[(2, "clopper_pearson_ci")]
    assert bad.ok is False
    assert "52" in bad.message and "70" in bad.message and "46.9" in bad.message and "74.1" in bad.message
    assert bad.recomputed["exact_lower"] == pytest.approx(46.88, abs=0.01)


def test_rate_no_integer_count_and_outside_interval():
    # 50% of 7: 3/7 = 42.9%, 4/7 = 57.1%: no count gives 50%
    checks = by_check(check_results(TrialResults(source="publication_abstract", statistics=[rate(50, 20, 80, n=7)])))
    assert checks[(0, "count_recovery")].ok is False
    assert "no integer count of 7" in checks[(0, "count_recovery")].message
    checks = by_check(check_results(TrialResults(source="publication_abstract", statistics=[rate(61, 65, 80, n=54)])))
    assert checks[(0, "value_in_ci")].ok is False


def test_denominator_from_arm_size_and_missing_denominator():
    res = TrialResults(source="publication_abstract", arms=[Arm(label="TAM", size=57)],
                       statistics=[rate(53, arm="TAM", outcome="fatigue"), rate(53, outcome="rash")])
    checks = by_check(check_results(res))
    assert checks[(0, "count_recovery")].ok is True and checks[(0, "count_recovery")].recomputed["k"] == 30
    assert checks[(1, "denominator")].ok is None


def test_hazard_ratios():
    res = TrialResults(source="publication_abstract", statistics=[
        hr(0.54, 0.36, 0.81), hr(0.45, 0.24, 0.81),
        hr(0.70, 0.36, 0.81, text="HR 0.70; 95% CI, 0.36 to 0.81"),  # not at the log midpoint
        hr(0.90, 0.36, 0.81),  # outside its interval
        hr(0.5, 0.0, 0.9),  # impossible lower bound
    ])
    checks = by_check(check_results(res))
    for i in (0, 1):
        assert checks[(i, "value_in_ci")].ok and checks[(i, "ci_positive")].ok and checks[(i, "log_symmetry")].ok
    assert checks[(0, "log_symmetry")].recomputed["value_at_midpoint"] == pytest.approx(0.54, abs=0.001)
    assert checks[(2, "log_symmetry")].ok is False and "0.540" in checks[(2, "log_symmetry")].message
    assert checks[(3, "value_in_ci")].ok is False
    assert checks[(4, "ci_positive")].ok is False


def test_seed_002_results_read_and_consistent(seeds_dir):
    from trialmatch.trials import read_path

    results = list(read_path(seeds_dir / "002_cc6ceb7d8253810e.txt"))
    assert results and results[0].error is None
    trial = results[0].trial
    assert trial.results is not None
    assert sorted(a.size for a in trial.results.arms) == [54, 57]
    stats = trial.results.statistics
    cbr = sorted((s for s in stats if s.kind == "rate" and s.ci is not None), key=lambda s: -s.value)
    assert [(s.value, s.ci.lower, s.ci.upper) for s in cbr] == [(61, 47, 74), (42, 29, 56)]
    hrs = sorted((s.value, s.ci.lower, s.ci.upper) for s in stats if s.kind == "hazard_ratio")
    assert hrs == [(0.45, 0.24, 0.81), (0.54, 0.36, 0.81)]
    checks = check_results(trial.results)
    assert not [c.message for c in checks if c.ok is False]
    cp = [c for c in checks if c.check == "clopper_pearson_ci"]
    assert len(cp) == 2 and all(c.ok for c in cp)
    assert sum(1 for c in checks if c.check == "log_symmetry" and c.ok) == 2
    # adverse-event rates per arm: every one has an integer count behind it
    ae = [c for c in checks if c.check == "count_recovery" and c.outcome in ("fatigue", "stomatitis", "rash", "anorexia", "diarrhea")]
    assert len(ae) == 10 and all(c.ok for c in ae)

    # the same page with a planted wrong interval is flagged
    planted = trial.results.model_copy(deep=True)
    first = next(s for s in planted.statistics if s.kind == "rate" and s.value == 61)
    first.ci = ConfidenceInterval(lower=52, upper=70)
    first.text = None
    flagged = [c for c in check_results(planted) if c.ok is False]
    assert len(flagged) == 1 and flagged[0].check == "clopper_pearson_ci"

    summary = summarize_evidence(trial)
    assert summary["consistent"] is True and summary["flags"] == []
    assert summary["arms"] and len(summary["checks"]) == len(checks)


def test_summarize_evidence_none_and_flags():
    prov = Provenance(source_format="demo_json", sha256="1" * 64, ingested_at=dt.datetime(2024, 1, 1))
    assert summarize_evidence(Trial(id="T0", provenance=prov)) is None
    t = Trial(id="T1", provenance=prov, results=TrialResults(source="publication_abstract",
                                                             statistics=[rate(61, 52, 70, n=54)]))
    s = summarize_evidence(t)
    assert s["consistent"] is False and len(s["flags"]) == 1


def test_interval_from_another_method_is_flagged_and_named():
    # 17 of 558 reported with a Wilson score interval (as a CT.gov record does): not the exact one
    res = TrialResults(source="ctgov_results_section", statistics=[rate(3.05, 1.91, 4.82, n=558)])
    cp = by_check(check_results(res))[(0, "clopper_pearson_ci")]
    assert cp.ok is False and "Wilson score" in cp.message
    assert cp.recomputed["k"] == 17 and cp.recomputed["exact_lower"] == pytest.approx(1.785, abs=0.001)
