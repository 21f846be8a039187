"""Match one patient against trials: verdicts, scores and ranking.

Score (higher = better; consistent with the ranking)::

    score = band(verdict) + 0.5 * disease_fit + 0.3 * pass_share + 0.19 * (1 - unknown_share)

with band 2 (eligible), 1 (uncertain), 0 (ineligible), so every eligible trial ranks above every
uncertain one and every uncertain one above every ineligible one; within a band, trials that fit
her disease better and whose criteria pass more often come first. ``disease_fit`` (0-1) compares
the trial's conditions, title and keywords with her diagnoses (cancer type by fuzzy matching,
receptor subtype, extent of disease); ``pass_share`` is the share of decided criteria that pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

from trialmatch.criteria import model as cm
from trialmatch.evidence import summarize_evidence
from trialmatch.matching.evaluate import (
    DEFAULT_OPTIONS, _dedup_missing, cancer_core, evaluate_with_index, her2_category, patient_extents, same_cancer,
)
from trialmatch.matching.facts import PatientIndex, build_index
from trialmatch.matching.model import VERDICT_ORDER, CriterionOutcome, MatchReport, TrialMatch
from trialmatch.matching.options import MatchOptions
from trialmatch.patients.asof import patient_as_of
from trialmatch.patients.model import Patient
from trialmatch.trials.model import CLOSED_STATUSES, OPEN_STATUSES, Trial

BAND = {"eligible": 2.0, "uncertain": 1.0, "ineligible": 0.0}


# ---------------------------------------------------------------------------- disease fit
@lru_cache(maxsize=1)
def _re_subtype():
    return {
        "hr_pos": re.compile(r"\b(hr|er|hormone[- ]receptor|estrogen[- ]receptor|oestrogen[- ]receptor)[- ]?(\+|pos|positive)", re.I),
        "hr_neg": re.compile(r"triple[- ]negative|\btnbc\b|\b(hr|er|hormone[- ]receptor|estrogen[- ]receptor)[- ]?(-|neg|negative)", re.I),
        "her2_neg": re.compile(r"\bher[- ]?2[- ]?(-|neg|negative|low)|\bher2/neu[- ]?negative|triple[- ]negative", re.I),
        "her2_pos": re.compile(r"\bher[- ]?2[- ]?(\+|pos|positive|overexpress|amplified)", re.I),
        "metastatic": re.compile(r"metasta|advanced|stage iv|\bstage 4\b|recurrent|unresectable|\bmbc\b", re.I),
        "early": re.compile(r"\bearly\b|adjuvant|neoadjuvant|operable|\bstage (i|ii|1|2)\b|\bdcis\b|in situ", re.I),
    }


def _trial_text(trial: Trial) -> str:
    parts = [*trial.conditions, trial.title or "", trial.official_title or "", *trial.keywords]
    return " | ".join(p for p in parts if p)


def disease_fit(trial: Trial, idx: PatientIndex) -> float:
    """How well the trial's conditions/title fit her disease, 0-1 (not a judgement of eligibility)."""
    key = ("fit", trial.id)
    if key in idx.cache:
        return idx.cache[key]
    from rapidfuzz import fuzz

    terms = [*trial.conditions, *(t for t in (trial.title, trial.official_title) if t), *trial.keywords]
    p = idx.patient
    cancers = [d.cancer_type for d in ([idx.primary] if idx.primary else [])]
    other_terms = [c.name for c in p.conditions] + [d.cancer_type for d in idx.others]
    best = 0.0
    for c in cancers:
        core = cancer_core(c)
        for t in terms:
            if same_cancer(c, t):
                best = 1.0
                break
            tc = cancer_core(t)
            if core and tc:
                best = max(best, fuzz.token_set_ratio(core, tc) / 100.0 * 0.8)
        if best >= 1.0:
            break
    other = 0.0
    for c in other_terms:
        cl = c.lower().replace("_", " ")
        for t in trial.conditions:
            other = max(other, fuzz.token_set_ratio(cl, t.lower()) / 100.0)
    fit_cancer = best if cancers else other * 0.9
    if cancers and other > best:
        fit_cancer = max(best, other * 0.6)
    text = _trial_text(trial)
    rx = _re_subtype()
    sub = 0.5
    if idx.primary is not None:
        er = idx.biomarkers.get("ER")
        pr = idx.biomarkers.get("PR")
        her2 = idx.biomarkers.get("HER2")
        hr_pos = any(b is not None and ((b.percent or 0) >= 1 or b.status == "positive") for b in (er, pr))
        her2_neg = her2 is not None and her2_category(her2) == "negative"
        her2_pos = her2 is not None and her2_category(her2) == "positive"
        score, n = 0.0, 0
        if hr_pos:
            n += 1
            score += 1.0 if rx["hr_pos"].search(text) else (0.0 if rx["hr_neg"].search(text) else 0.5)
        if her2_neg:
            n += 1
            score += 1.0 if rx["her2_neg"].search(text) else (0.0 if rx["her2_pos"].search(text) else 0.5)
        if her2_pos:
            n += 1
            score += 1.0 if rx["her2_pos"].search(text) else (0.0 if rx["her2_neg"].search(text) else 0.5)
        if n:
            sub = score / n
    ext, _ = patient_extents(idx)
    extent = 0.5
    if ext:
        met, early = bool(rx["metastatic"].search(text)), bool(rx["early"].search(text))
        if "advanced" in ext:
            extent = 1.0 if met else (0.1 if early else 0.5)
        elif "early" in ext:
            extent = 1.0 if early and not met else (0.1 if met and not early else 0.5)
    fit = 0.7 * fit_cancer + 0.15 * sub + 0.15 * extent
    idx.cache[key] = fit
    return fit


# ---------------------------------------------------------------------------- one trial
def _structured_criteria(trial: Trial, compiled: cm.CompiledCriteria) -> list[cm.Criterion]:
    """Age and sex limits stated as registry fields, when no compiled criterion covers them."""
    el = trial.eligibility
    kinds = set()
    for c in compiled.criteria:
        if c.expression is not None:
            kinds.update(a.kind for a in cm.iter_atoms(c.expression))
    out = []
    if "age" not in kinds and (el.min_age_years is not None or el.max_age_years is not None):
        out.append(cm.Criterion(id="AGE", kind="inclusion", text=f"Age {el.min_age_years or 0:g} to "
                                f"{el.max_age_years:g} years" if el.max_age_years is not None else
                                f"Age {el.min_age_years:g} years or older", span=(0, 0), status="compiled",
                                expression=cm.Age(years=cm.Range(low=el.min_age_years, high=el.max_age_years))))
    if "sex" not in kinds and el.sex in ("FEMALE", "MALE"):
        out.append(cm.Criterion(id="SEX", kind="inclusion", text=f"Sex: {el.sex.lower()}", span=(0, 0),
                                status="compiled", expression=cm.Sex(allowed=[el.sex.lower()])))
    return out


def match_with_index(trial: Trial, compiled: cm.CompiledCriteria, idx: PatientIndex,
                     options: MatchOptions | None = None) -> TrialMatch:
    """Match one trial against an already-indexed patient (see :func:`match_trial`)."""
    options = options or DEFAULT_OPTIONS
    criteria = [*_structured_criteria(trial, compiled), *compiled.criteria]
    outcomes: list[CriterionOutcome] = [evaluate_with_index(c, idx, options) for c in criteria]
    entry = [o for o in outcomes if o.step is None or o.step <= 1]
    fails = [o.criterion_id for o in entry if o.outcome == "fail"]
    unknowns = [o.criterion_id for o in entry if o.outcome == "unknown"]
    confirms = [o.criterion_id for o in entry if o.outcome == "confirm"]
    if fails:
        verdict, deciding = "ineligible", fails
    elif unknowns:
        verdict, deciding = "uncertain", unknowns
    else:
        verdict, deciding = "eligible", []
    decided = [o for o in entry if o.outcome in ("pass", "fail", "unknown")]
    n_pass = sum(1 for o in decided if o.outcome == "pass")
    pass_share = n_pass / len(decided) if decided else 0.0
    unknown_share = len(unknowns) / len(decided) if decided else 1.0
    fit = disease_fit(trial, idx)
    score = BAND[verdict] + 0.5 * fit + 0.3 * pass_share + 0.19 * (1.0 - unknown_share)
    missing = _dedup_missing([m for o in entry if o.outcome == "unknown" for m in o.missing])
    steps = []
    if trial.steps:
        try:
            from trialmatch.matching.steps import evaluate_steps  # written by the protocol-steps work
        except ImportError:
            evaluate_steps = None
        if evaluate_steps is not None:
            try:
                steps = evaluate_steps(trial, compiled, idx.patient, idx.as_of, outcomes)
            except Exception:  # noqa: BLE001 - steps are extra information, never a crash
                steps = []
    return TrialMatch(
        trial_id=trial.id, title=trial.title or (trial.conditions[0] if trial.conditions else None),
        status=trial.status, closed=trial.status in CLOSED_STATUSES, verdict=verdict, score=round(score, 6),
        deciding=deciding, criteria=outcomes, missing=missing, to_confirm=confirms, steps=steps,
        evidence=summarize_evidence(trial),
    )


def match_trial(trial: Trial, compiled: cm.CompiledCriteria, patient: Patient, as_of: dt.date | None = None,
                options: MatchOptions | None = None) -> TrialMatch:
    """Evaluate every criterion of one trial for one patient and give the verdict.

    Parameters
    ----------
    trial : Trial
    compiled : CompiledCriteria
        The trial's compiled criteria (``trialmatch.criteria.compile_criteria(trial)``).
    patient : Patient
    as_of : date, optional
        Defaults to ``patient.as_of`` or today.
    options : MatchOptions, optional

    Returns
    -------
    TrialMatch
        ``ineligible`` if any criterion fails, else ``uncertain`` if any is unknown, else
        ``eligible`` (``to_confirm`` lists what a person must still confirm).
    """
    as_of = as_of or patient.as_of or dt.date.today()
    patient = patient_as_of(patient, as_of)
    return match_with_index(trial, compiled, build_index(patient, as_of), options)


def _status_filter(statuses: list[str] | None):
    if not statuses:
        return None
    wanted: set[str] = set()
    for s in statuses:
        k = s.strip().upper().replace("-", "_").replace(" ", "_")
        if k == "OPEN":
            wanted |= OPEN_STATUSES
        elif k == "CLOSED":
            wanted |= CLOSED_STATUSES
        else:
            wanted.add(k)
    return wanted


def rank_key(m: TrialMatch):
    return (VERDICT_ORDER[m.verdict], -m.score, m.trial_id)


def match_patient(patient: Patient, trials: Iterable[tuple[Trial, cm.CompiledCriteria]], as_of: dt.date | None = None, *,
                  statuses: list[str] | None = None, trial_ids: list[str] | None = None, top: int | None = None,
                  options: MatchOptions | None = None) -> MatchReport:
    """Match one patient against trials and rank them.

    Parameters
    ----------
    patient : Patient
    trials : iterable of (Trial, CompiledCriteria)
    as_of : date, optional
        Defaults to ``patient.as_of`` or today.
    statuses : list of str, optional
        Keep only trials with these overall statuses ("recruiting", "RECRUITING", or the groups
        "open" / "closed").
    trial_ids : list of str, optional
        Keep only these trials.
    top : int, optional
        Keep the first ``top`` after ranking.
    options : MatchOptions, optional

    Returns
    -------
    MatchReport
        Eligible first, then uncertain, then ineligible; within each by score.
    """
    as_of = as_of or patient.as_of or dt.date.today()
    patient = patient_as_of(patient, as_of)  # once per patient, not per trial
    idx = build_index(patient, as_of)
    wanted = _status_filter(statuses)
    ids = {t.strip().upper() for t in trial_ids} if trial_ids else None
    results = []
    for trial, compiled in trials:
        if wanted is not None and (trial.status or "UNKNOWN").upper() not in wanted:
            continue
        if ids is not None and trial.id.upper() not in ids:
            continue
        results.append(match_with_index(trial, compiled, idx, options))
    results.sort(key=rank_key)
    if top is not None:
        results = results[: max(top, 0)]
    warnings = list(patient.warnings)
    if ids is not None:
        found = {r.trial_id.upper() for r in results}
        for t in sorted(ids - found):
            if top is None:
                warnings.append(f"trial {t} is not in the trial set (or filtered out by status)")
    return MatchReport(patient={"id": patient.id}, as_of=as_of, results=results, warnings=warnings)
