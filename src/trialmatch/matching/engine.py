"""Match one patient against trials: verdicts, scores and ranking.

Score (higher = better; consistent with the ranking)::

    score = band(verdict) + 0.5 * disease_fit + 0.2 * pass_share + 0.29 * closeness
    closeness = exp(-(0.05 * n_unknown + 0.3 * n_fail))

with band 2 (eligible), 1 (uncertain), 0 (ineligible), so every eligible trial ranks above every
uncertain one and every uncertain one above every ineligible one; within a band, trials that fit
her disease better, whose criteria pass more often and that leave fewer questions open come
first. ``disease_fit`` (0-1) compares the trial's conditions, title and keywords with her
diagnoses (cancer type by fuzzy matching, receptor subtype, extent of disease); ``pass_share``
is the share of decided criteria that pass; ``closeness`` counts what stands between her and the
trial: each criterion the record cannot settle (unknown) and, more, each that fails, so an
uncertain trial with two open questions ranks above one with twenty, and an ineligible trial
that fails one criterion above one that fails five. An open exclusion that names the trial's own
condition (its specifics not compiled, e.g. "life-threatening asthma" in an asthma trial) concerns
exactly her population and weighs like a failed one. A confirmation every patient is asked for
(a criterion only a person can settle: consent, compliance) never lowers it; one her record leaves
open (``confirm`` from a patient-dependent criterion, e.g. an investigator's estimate of life
expectancy that her record does not state) counts in ``n_unknown`` for closeness, not for the verdict.

Within the uncertain band, then, a trial ranks higher the better it fits her disease (up to 0.5)
and the closer it is to a decision (up to 0.29: one open criterion 0.276, five 0.226, twenty
0.107); a confirmation never makes a trial uncertain. Each uncertain trial's
``missing`` lists the facts that would settle it, most decisive first (:func:`decisive_missing`):
the facts that alone settle an open criterion, then by how many open criteria they concern.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from trialmatch.criteria import model as cm
from trialmatch.evidence import summarize_evidence
from trialmatch.matching.atoms.biomarkers import her2_category
from trialmatch.matching.atoms.disease import cancer_core, patient_extents, same_cancer
from trialmatch.matching.atoms.labs import measurement_analyte
from trialmatch.matching.context import EvalContext, criterion_outcome, fast_model, node_key
from trialmatch.matching.evaluate import DEFAULT_OPTIONS, crit_cache_for, evaluate_with_index, is_static
from trialmatch.matching.facts import PatientIndex, build_index
from trialmatch.matching.logic import outcome_from
from trialmatch.matching.model import VERDICT_ORDER, CriterionOutcome, MatchReport, TrialMatch
from trialmatch.matching.options import MatchOptions
from trialmatch.matching.plan import criterion_plan, plan_count
from trialmatch.matching.targets import target_atom_keys
from trialmatch.patients.asof import patient_as_of, with_as_of_origin
from trialmatch.patients.model import Patient
from trialmatch.trials.model import CLOSED_STATUSES, Trial, status_filter

BAND = {"eligible": 2.0, "uncertain": 1.0, "ineligible": 0.0}


def match_score(verdict: str, fit: float, n_pass: int, n_fail: int, n_unknown: int, n_decided: int,
                n_unknown_own: int = 0) -> float:
    """The ranking score (see the module docstring): band + 0.5 fit + 0.2 pass share + 0.29 closeness.

    ``n_unknown_own`` of the ``n_unknown`` open criteria name the trial's own condition (an
    exclusion on its specifics the compiler could not capture): in the ranking, not the verdict,
    they weigh like a failed criterion.
    """
    pass_share = n_pass / n_decided if n_decided else 0.0
    closeness = math.exp(-(0.05 * (n_unknown - n_unknown_own) + 0.3 * (n_fail + n_unknown_own)))
    return BAND[verdict] + 0.5 * fit + 0.2 * pass_share + 0.29 * closeness


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


@dataclass
class TrialPlan:
    """What matching needs from one trial, worked out once per process (not per patient)."""

    trial: Trial
    compiled: object  # weak reference to the CompiledCriteria (the plan must not keep it alive)
    criteria: list  # structured (registry age/sex) + compiled criteria
    target_keys: list[tuple]  # per criterion: its atoms that name the trial's own condition
    static: list  # per criterion: its patient-independent outcome, or None
    keys: list  # per criterion: its content key (node key, kind, target key), None when static
    dynamic: list  # (index, criterion, key, counts for entry, criterion plan) of the patient-dependent criteria
    entry_dynamic: list  # (index, criterion, key, plan id, criterion plan) of those that count for entry
    entry_idx: tuple  # their indexes,
    entry_kids: tuple  # ... their plan ids
    entry_target: tuple  # plan ids of the entries with an atom naming the trial's own condition
    static_unknown: list  # indexes of entry criteria whose static outcome is unknown
    static_confirm: list  # ... and confirm
    targets: frozenset  # all of them
    terms: list[str]  # conditions, titles, keywords (disease fit)
    cond_lower: list[str]
    flags: dict[str, bool]  # subtype / extent words in the trial's text
    title: str | None
    closed: bool
    evidence: dict | None = None  # summarize_evidence(trial): published results and their checks
    status_key: str = "UNKNOWN"  # the status, upper case (view filters)
    id_key: str = ""  # the id, upper case (view filters)


#: id(compiled) -> plan; an entry goes when its compiled-criteria object does (weak reference)
_PLANS: dict[int, TrialPlan] = {}


def trial_plan(trial: Trial, compiled: cm.CompiledCriteria) -> TrialPlan:
    """The trial's :class:`TrialPlan`, cached per process on the compiled-criteria object
    (compiled criteria are treated as immutable once matched)."""
    plan = _PLANS.get(id(compiled))
    if plan is not None and plan.compiled() is compiled and plan.trial is trial:
        return plan
    criteria = [*_structured_criteria(trial, compiled), *compiled.criteria]
    names = [*trial.conditions, *(t for t in (trial.title,) if t)]
    targets = target_atom_keys(criteria, names)
    target_keys = []
    for c in criteria:
        if targets and c.expression is not None:
            target_keys.append(tuple(sorted({k for a in cm.iter_atoms(c.expression)
                                             if (k := node_key(a)) in targets})))
        else:
            target_keys.append(())
    # criteria whose outcome cannot depend on the patient (not compiled, or only a person can
    # settle them): their outcome objects are built once and shared by every patient's report
    static: list[CriterionOutcome | None] = []
    keys: list[tuple | None] = []
    blank = PatientIndex(patient=None, as_of=dt.date.today(), age=None)
    for c, tk in zip(criteria, target_keys):
        if c.expression is None or is_static(c.expression):
            static.append(evaluate_with_index(c, blank, DEFAULT_OPTIONS, tk))
            keys.append(None)
        else:
            static.append(None)
            keys.append((node_key(c.expression), c.kind, tk))
            for a in cm.iter_atoms(c.expression):  # content keys of its atoms, for the atom memo
                node_key(a)
                if a.kind == "measurement":
                    measurement_analyte(a.name)  # its vocabulary lookup, remembered per process
    dynamic, entry_dynamic, static_unknown, static_confirm = [], [], [], []
    for i, (c, k, st) in enumerate(zip(criteria, keys, static)):
        entry = c.step is None or c.step <= 1
        if st is None:
            cplan = criterion_plan(c.expression, c.kind, k[2], key=k)  # once per distinct criterion
            dynamic.append((i, c, k, entry, cplan))
            if entry:
                entry_dynamic.append((i, c, k, cplan.id, cplan))
        elif entry and st.outcome == "unknown":
            static_unknown.append(i)
        elif entry and st.outcome == "confirm":
            static_confirm.append(i)
    text = _trial_text(trial)
    flags = {name: bool(rx.search(text)) for name, rx in _re_subtype().items()}
    terms = [*trial.conditions, *(t for t in (trial.title, trial.official_title) if t), *trial.keywords]
    for t in terms:
        cancer_core(t)  # the disease-fit side of her cancer type against these terms, remembered per process
    i = id(compiled)
    plan = TrialPlan(
        trial=trial, compiled=weakref.ref(compiled, lambda _r, i=i: _PLANS.pop(i, None)), criteria=criteria,
        target_keys=target_keys, static=static, keys=keys, dynamic=dynamic, entry_dynamic=entry_dynamic,
        entry_idx=tuple(e[0] for e in entry_dynamic), entry_kids=tuple(e[3] for e in entry_dynamic),
        entry_target=tuple(e[3] for e in entry_dynamic if e[2][2]),
        static_unknown=static_unknown,
        static_confirm=static_confirm, targets=targets, terms=terms,
        cond_lower=[t.lower() for t in trial.conditions], flags=flags,
        title=trial.title or (trial.conditions[0] if trial.conditions else None),
        closed=trial.status in CLOSED_STATUSES, evidence=summarize_evidence(trial),
        status_key=(trial.status or "UNKNOWN").upper(), id_key=trial.id.upper(),
    )
    _PLANS[id(compiled)] = plan
    return plan


def prepare_trials(trials: Iterable[tuple[Trial, cm.CompiledCriteria]], *, freeze: bool = False) -> int:
    """Work out each trial's :class:`TrialPlan` now (once per process) rather than on its first match.

    Parameters
    ----------
    trials : iterable of (Trial, CompiledCriteria)
    freeze : bool
        Freeze the garbage collector's view of the objects alive now (see Notes).

    Returns
    -------
    int
        How many trials were prepared. Matching works without this call; it only moves the
        one-off cost (content keys of every check, patient-independent outcomes, published
        results checks) out of the first patient's match, like loading the store.

    Notes
    -----
    With ``freeze=True`` the objects alive now (the loaded trials, their compiled criteria and
    plans) are moved to the garbage collector's permanent generation (:func:`gc.freeze`), so its
    full passes stop re-scanning millions of long-lived objects after every large match; for a
    process that loads the trial set once and matches many patients (server, batch).
    """
    n = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for trial, compiled in trials:
            trial_plan(trial, compiled)
            n += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    if freeze:
        gc.collect()
        gc.freeze()
    return n


def _patient_fit_facts(idx: PatientIndex) -> dict:
    """The patient's side of :func:`disease_fit`, once per patient."""
    f = idx.cache.get("_fitfacts")
    if f is not None:
        return f
    p = idx.patient
    cancers = [d.cancer_type for d in ([idx.primary] if idx.primary else [])]
    f = {
        "cancers": [(c, cancer_core(c)) for c in cancers],
        "other": [c.lower().replace("_", " ") for c in [c.name for c in p.conditions] + [d.cancer_type for d in idx.others]],
        "term": {}, "cond": {},
    }
    hr_pos = her2_neg = her2_pos = False
    if idx.primary is not None:
        er = idx.biomarkers.get("ER")
        pr = idx.biomarkers.get("PR")
        her2 = idx.biomarkers.get("HER2")
        hr_pos = any(b is not None and ((b.percent or 0) >= 1 or b.status == "positive") for b in (er, pr))
        her2_neg = her2 is not None and her2_category(her2) == "negative"
        her2_pos = her2 is not None and her2_category(her2) == "positive"
    f["sub"] = (hr_pos, her2_neg, her2_pos)
    f["ext"] = patient_extents(idx)[0]
    idx.cache["_fitfacts"] = f
    return f


def disease_fit(trial: Trial, idx: PatientIndex, plan: TrialPlan | None = None) -> float:
    """How well the trial's conditions/title fit her disease, 0-1 (not a judgement of eligibility).

    0.7 × cancer fit (her primary cancer against the trial's conditions, titles and keywords:
    1 for the same cancer, else a fuzzy score × 0.8; her other conditions count when she has no
    cancer) + 0.15 × receptor-subtype fit + 0.15 × extent fit (metastatic / early).
    """
    key = ("fit", trial.id)
    if key in idx.cache:
        return idx.cache[key]
    from rapidfuzz import fuzz

    plan = plan or trial_plan_for_fit(trial)
    f = _patient_fit_facts(idx)
    best = 0.0
    term_cache = f["term"]
    for c, core in f["cancers"]:
        for t in plan.terms:
            tk = (c, t)
            sc = term_cache.get(tk)
            if sc is None:
                if same_cancer(c, t):
                    sc = 1.0
                else:
                    tc = cancer_core(t)
                    sc = fuzz.token_set_ratio(core, tc) / 100.0 * 0.8 if core and tc else 0.0
                term_cache[tk] = sc
            if sc > best:
                best = sc
            if best >= 1.0:
                break
        if best >= 1.0:
            break
    other = 0.0
    cond_cache = f["cond"]
    for cl in f["other"]:
        for t in plan.cond_lower:
            ck = (cl, t)
            sc = cond_cache.get(ck)
            if sc is None:
                sc = cond_cache[ck] = fuzz.token_set_ratio(cl, t) / 100.0
            if sc > other:
                other = sc
    cancers = f["cancers"]
    fit_cancer = best if cancers else other * 0.9
    if cancers and other > best:
        fit_cancer = max(best, other * 0.6)
    fl = plan.flags
    sub = 0.5
    hr_pos, her2_neg, her2_pos = f["sub"]
    score, n = 0.0, 0
    if hr_pos:
        n += 1
        score += 1.0 if fl["hr_pos"] else (0.0 if fl["hr_neg"] else 0.5)
    if her2_neg:
        n += 1
        score += 1.0 if fl["her2_neg"] else (0.0 if fl["her2_pos"] else 0.5)
    if her2_pos:
        n += 1
        score += 1.0 if fl["her2_pos"] else (0.0 if fl["her2_neg"] else 0.5)
    if n:
        sub = score / n
    ext = f["ext"]
    extent = 0.5
    if ext:
        met, early = fl["metastatic"], fl["early"]
        if "advanced" in ext:
            extent = 1.0 if met else (0.1 if early else 0.5)
        elif "early" in ext:
            extent = 1.0 if early and not met else (0.1 if met and not early else 0.5)
    fit = 0.7 * fit_cancer + 0.15 * sub + 0.15 * extent
    idx.cache[key] = fit
    return fit


def trial_plan_for_fit(trial: Trial) -> TrialPlan:
    """A plan with only the disease-fit features (for callers without compiled criteria)."""
    text = _trial_text(trial)
    return TrialPlan(trial=trial, compiled=lambda: None, criteria=[], target_keys=[], static=[], keys=[], dynamic=[],
                     entry_dynamic=[], entry_idx=(), entry_kids=(), entry_target=(), static_unknown=[],
                     static_confirm=[], targets=frozenset(),
                     terms=[*trial.conditions, *(t for t in (trial.title, trial.official_title) if t), *trial.keywords],
                     cond_lower=[t.lower() for t in trial.conditions],
                     flags={name: bool(rx.search(text)) for name, rx in _re_subtype().items()},
                     title=trial.title, closed=trial.status in CLOSED_STATUSES)


# ---------------------------------------------------------------------------- one trial
def _outcome_memo(idx: PatientIndex, options: MatchOptions) -> tuple[list, set, EvalContext]:
    """This patient's memos under ``options``: outcomes by criterion plan id (None: not decided
    yet) and the plan ids whose unknown comes from naming the trial's own condition; and the
    evaluation context (patient, options, her memo of atom results)."""
    vals, owns = idx.memo("outcomes", options, lambda: ([], set()))
    return vals, owns, EvalContext(idx, options)


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
    if "receptor" not in kinds and compiled.source == "criteria_text":
        pop = _title_population(trial)
        if pop is not None:
            out.append(pop)
    return out


@lru_cache(maxsize=1)
def _title_population_res():
    import json
    from importlib import resources

    with resources.files("trialmatch.matching").joinpath("data", "title_population.json").open("r", encoding="utf-8") as fh:
        d = json.load(fh)
    disease = re.compile(r"(?i)\b(?:" + "|".join(d["disease_names"]) + r")\b")
    boundary = re.compile(r"(?i)(?:^|\s)(?:" + "|".join(d["boundaries"]) + r")(?=\s|$)|[:;()]|\s-\s")
    receptor = re.compile(r"(?i)(?<![\w-])(?:" + "|".join(d["receptor_words"]) + r")(?![a-z])")
    alternatives = re.compile(r"(?i)(?:^|\s)(?:" + "|".join(d["alternatives"]) + r")(?=\s|$)")
    return disease, boundary, receptor, alternatives


def _has_alternatives(expr) -> bool:
    if expr.kind in ("any_of", "not", "except", "if_then"):
        return True
    return expr.kind == "all_of" and any(_has_alternatives(x) for x in expr.items)


def _title_population(trial: Trial) -> cm.Criterion | None:
    """The receptor population the trial's title states ("... in HR+/HER2- Breast Cancer Patients"), as an
    inclusion criterion of its receptor checks, read by the compiler (``matching/data/title_population.json``).
    Only called when no compiled criterion states receptors: the title is then the only place the trial
    says which subtype it is for."""
    from trialmatch.criteria.compile import compile_criterion_text

    disease, boundary, receptor, alternatives = _title_population_res()
    for title in (trial.title, trial.official_title):
        if not title:
            continue
        for dm in disease.finditer(title):
            head = title[:dm.start()]
            cuts = [m.end() for m in boundary.finditer(head)]
            phrase = title[(cuts[-1] if cuts else 0):dm.end()].strip(" ,")
            recm = list(receptor.finditer(phrase))
            if not recm or alternatives.search(phrase, recm[0].start(), recm[-1].end()):
                continue  # no subtype named, or alternatives among the subtypes
            expr, status, _ = compile_criterion_text(phrase, "inclusion")
            if expr is None or status != "compiled" or _has_alternatives(expr):
                continue  # "HR+ or triple-negative breast cancer": not one population to check
            recs = [a for a in cm.iter_atoms(expr) if a.kind == "receptor"]
            if not recs or len({a.receptor for a in recs}) < len(recs):
                continue  # none, or one receptor read twice (a contradiction, not a population)
            return cm.Criterion(id="TITLE", kind="inclusion", text=phrase, span=(0, 0), status="compiled",
                                expression=recs[0] if len(recs) == 1 else cm.AllOf(items=recs),
                                reason="the receptor population named in the trial's title (no criterion states it)")
    return None


class _Compact:
    """One trial's verdict and score for one patient, before its explanation is built."""

    __slots__ = ("trial", "compiled", "plan", "verdict", "score", "deciding", "unknown_i", "confirms")

    def __init__(self, trial, compiled, plan, verdict, score, deciding, unknown_i, confirms):
        self.trial, self.compiled, self.plan = trial, compiled, plan
        self.verdict, self.score, self.deciding = verdict, score, deciding
        self.unknown_i, self.confirms = unknown_i, confirms


def _compact(trial: Trial, compiled: cm.CompiledCriteria, idx: PatientIndex, options: MatchOptions,
             full: bool, memo: tuple | None = None) -> _Compact:
    """Verdict and score of one trial (what ranking needs). ``full``: decide every criterion with
    its explanation now (all results will be materialised); else only its outcome (the
    explanation is built by :func:`_materialise` for the results returned); ``memo``: the
    patient's :func:`_outcome_memo` (looked up here otherwise)."""
    plan = trial_plan(trial, compiled)
    if full:
        counts = _explained_counts(plan, idx, options, memo[2] if memo else EvalContext(idx, options))
    elif plan.entry_kids:
        counts = _outcome_counts(plan, idx, options, memo or _outcome_memo(idx, options))
    else:
        counts = (0, 0, [], [], [])
    n_pass, n_own, fail_i, unknown_i, confirm_i = counts
    n_asked = len(confirm_i)  # confirmations her own record raised (not the static ones)
    if plan.static_unknown:
        unknown_i = sorted(unknown_i + plan.static_unknown) if unknown_i else plan.static_unknown
    if plan.static_confirm:
        confirm_i = sorted(confirm_i + plan.static_confirm) if confirm_i else plan.static_confirm
    crit = plan.criteria
    n_fail, n_unknown = len(fail_i), len(unknown_i)
    n_decided = n_pass + n_fail + n_unknown
    if fail_i:
        verdict, deciding = "ineligible", [crit[i].id for i in fail_i]
    elif unknown_i:
        verdict, deciding = "uncertain", [crit[i].id for i in unknown_i]
    else:
        verdict, deciding = "eligible", []
    fit = disease_fit(trial, idx, plan)
    score = round(match_score(verdict, fit, n_pass, n_fail, n_unknown + n_asked, n_decided, n_own), 6)
    return _Compact(trial, compiled, plan, verdict, score, deciding, unknown_i,
                    [crit[i].id for i in confirm_i])


def _explained_counts(plan: TrialPlan, idx: PatientIndex, options: MatchOptions, ctx: EvalContext) -> tuple:
    """``(n_pass, n_own, fail_i, unknown_i, confirm_i)`` of the entry criteria, each decided
    with its explanation (memoised for :func:`_materialise`)."""
    crit_cache = crit_cache_for(idx, options)
    fail_i: list[int] = []
    unknown_i: list[int] = []
    confirm_i: list[int] = []
    n_pass = n_own = 0
    for i, _c, k, _pid, cplan in plan.entry_dynamic:
        hit = crit_cache.get(k)
        if hit is None:
            hit = crit_cache[k] = cplan.decide(ctx)
        oc = hit[0]
        if oc == "pass":
            n_pass += 1
        elif oc == "fail":
            fail_i.append(i)
        elif oc == "unknown":
            unknown_i.append(i)
            if hit[4]:
                n_own += 1
        elif oc == "confirm":
            confirm_i.append(i)
    return n_pass, n_own, fail_i, unknown_i, confirm_i


def _outcome_counts(plan: TrialPlan, idx: PatientIndex, options: MatchOptions, memo: tuple) -> tuple:
    """The same counts from outcomes alone (plans evaluated without a trace), memoised per
    patient by plan id in a flat list; a trial's outcomes are gathered and counted with list
    operations (only the ones not decided yet are visited one by one). An open criterion with
    an atom naming the trial's own condition is explained (and memoised for
    :func:`_materialise`) to tell whether that atom left it open."""
    vals, owns, ctx = memo
    kids = plan.entry_kids
    n_plans = plan_count()
    if len(vals) < n_plans:  # plan ids of trials prepared since
        vals.extend([None] * (n_plans - len(vals)))
    outs = [vals[k] for k in kids]
    if None in outs:
        j = -1
        for _ in range(outs.count(None)):  # each position not decided yet
            j = outs.index(None, j + 1)
            _i, c, k, pid, cplan = plan.entry_dynamic[j]
            oc = vals[pid]
            if oc is None:
                oc = vals[pid] = outcome_from(c.kind, cplan.root.eval(ctx))
                if oc == "unknown" and cplan.has_targets:
                    crit_cache = crit_cache_for(idx, options)
                    hit = crit_cache.get(k)
                    if hit is None:
                        hit = crit_cache[k] = cplan.decide(ctx)
                    if hit[4]:
                        owns.add(pid)  # open because it names the trial's own condition
            outs[j] = oc
    ei = plan.entry_idx
    fail_i = [ei[j] for j, o in enumerate(outs) if o == "fail"] if "fail" in outs else []
    unknown_i = confirm_i = []
    n_own = 0
    if "unknown" in outs:
        unknown_i = [ei[j] for j, o in enumerate(outs) if o == "unknown"]
        if owns and plan.entry_target:
            n_own = sum(1 for k in plan.entry_target if k in owns and vals[k] == "unknown")
    if "confirm" in outs:
        confirm_i = [ei[j] for j, o in enumerate(outs) if o == "confirm"]
    return outs.count("pass"), n_own, fail_i, unknown_i, confirm_i


def decisive_missing(open_lists: list[list]) -> list:
    """The missing facts of a trial's open criteria, most decisive first.

    ``open_lists`` holds, per open (unknown) criterion, its missing facts. A fact that alone
    settles an open criterion (the only fact it lacks: once known, that criterion passes or
    fails, and a failing one makes the trial ineligible) comes first; then facts by how many
    open criteria they concern; a person's review (``manual_review``) last; ties keep the
    criteria's order. Each fact key once (its first description).
    """
    first: dict[str, tuple[int, object]] = {}
    sole: set[str] = set()
    count: dict[str, int] = {}
    for items in open_lists:
        keys = list(dict.fromkeys(m.fact for m in items))
        if len(keys) == 1:
            sole.add(keys[0])
        for m in items:
            if m.fact not in first:
                first[m.fact] = (len(first), m)
        for k in keys:
            count[k] = count.get(k, 0) + 1
    order = sorted(first, key=lambda k: (k == "manual_review", k not in sole, -count[k], first[k][0]))
    return [first[k][1] for k in order]


def _materialise(m: _Compact, idx: PatientIndex, options: MatchOptions, ctx: EvalContext | None = None) -> TrialMatch:
    """The full :class:`TrialMatch` (every criterion's outcome, reason, evidence, missing facts,
    protocol steps) of a compact result (``ctx``: the patient's evaluation context under
    ``options``, made here when not given)."""
    plan, trial = m.plan, m.trial
    crit_cache = crit_cache_for(idx, options)
    outcomes: list[CriterionOutcome] = list(plan.static)  # patient-independent ones already there
    for i, c, k, _entry, cplan in plan.dynamic:
        hit = crit_cache.get(k)
        if hit is None:
            hit = crit_cache[k] = cplan.decide(ctx or (ctx := EvalContext(idx, options)))
        outcomes[i] = criterion_outcome(c, hit)
    unknown_i = m.unknown_i
    missing = decisive_missing([outcomes[i].missing for i in unknown_i]) if unknown_i else []
    steps = []
    if trial.steps:
        try:
            from trialmatch.matching.steps import evaluate_steps  # written by the protocol-steps work
        except ImportError:
            evaluate_steps = None
        if evaluate_steps is not None:
            try:
                steps = evaluate_steps(trial, m.compiled, idx.patient, idx.as_of, outcomes)
            except Exception:  # noqa: BLE001 - steps are extra information, never a crash
                steps = []
    return fast_model(TrialMatch, {
        "trial_id": trial.id, "title": plan.title, "status": trial.status, "closed": plan.closed,
        "verdict": m.verdict, "score": m.score, "deciding": m.deciding, "criteria": outcomes,
        "missing": missing, "to_confirm": m.confirms, "steps": steps, "evidence": plan.evidence,
    })


def match_with_index(trial: Trial, compiled: cm.CompiledCriteria, idx: PatientIndex,
                     options: MatchOptions | None = None) -> TrialMatch:
    """Match one trial against an already-indexed patient (see :func:`match_trial`)."""
    options = options or DEFAULT_OPTIONS
    return _materialise(_compact(trial, compiled, idx, options, True), idx, options)


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
    patient = with_as_of_origin(patient, as_of)
    as_of = as_of or patient.as_of or dt.date.today()
    patient = patient_as_of(patient, as_of)
    return match_with_index(trial, compiled, build_index(patient, as_of), options)


def rank_key(m: TrialMatch):
    return (VERDICT_ORDER[m.verdict], -m.score, m.trial_id)


def _compact_key(m: _Compact):
    return (VERDICT_ORDER[m.verdict], -m.score, m.trial.id)


def _rank(idx: PatientIndex, trials: Iterable[tuple[Trial, cm.CompiledCriteria]], options: MatchOptions,
          full: bool, wanted: set[str] | None = None, ids: set[str] | None = None) -> list[_Compact]:
    """Every (kept) trial's compact result, ranked."""
    compact: list[_Compact] = []
    memo = _outcome_memo(idx, options)
    for trial, compiled in trials:
        if wanted is not None and (trial.status or "UNKNOWN").upper() not in wanted:
            continue
        if ids is not None and trial.id.upper() not in ids:
            continue
        compact.append(_compact(trial, compiled, idx, options, full, memo))
    compact.sort(key=_compact_key)
    return compact


class _GcPaused:
    """Pause the cyclic garbage collector for a matching loop (restored as it was).

    The loops allocate many short-lived objects but create no reference cycles: with thousands
    of trials loaded, the collector's full passes over them cost more than the matching itself.
    """

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def _report(patient: Patient, as_of: dt.date, idx: PatientIndex, options: MatchOptions, ranked: list[_Compact],
            ids: set[str] | None, top: int | None, explained: dict | None = None) -> MatchReport:
    """The :class:`MatchReport` of ranked compact results: the first ``top`` explained in full
    (``explained``: a memo of explained results by trial id, used and filled)."""
    if top is not None:
        ranked = ranked[: max(top, 0)]
    ctx = EvalContext(idx, options)
    with _GcPaused():
        if explained is None:
            results = [_materialise(m, idx, options, ctx) for m in ranked]
        else:
            results = []
            for m in ranked:
                tm = explained.get(m.trial.id)
                if tm is None:
                    tm = explained[m.trial.id] = _materialise(m, idx, options, ctx)
                results.append(tm)
    warnings = list(patient.warnings)
    if ids is not None and top is None:
        found = {r.trial_id.upper() for r in results}
        warnings.extend(f"trial {t} is not in the trial set (or filtered out by status)" for t in sorted(ids - found))
    src = patient.as_of_source
    return MatchReport(patient={"id": patient.id}, as_of=as_of, results=results, warnings=warnings,
                       as_of_from=(f"{src.kind}: {src.locator}" if src is not None else None))



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

    See Also
    --------
    rank_patient : the same ranking kept for many views (filters, top N) and trial-set updates.
    """
    patient = with_as_of_origin(patient, as_of)
    as_of = as_of or patient.as_of or dt.date.today()
    patient = patient_as_of(patient, as_of)  # once per patient, not per trial
    idx = build_index(patient, as_of)
    wanted = status_filter(statuses)
    ids = {t.strip().upper() for t in trial_ids} if trial_ids else None
    options = options or DEFAULT_OPTIONS
    # every trial gets its verdict and score (what ranking needs); the full explanation
    # (criterion outcomes with reasons, evidence, missing facts; protocol steps) is built only for
    # the results returned: all of them without ``top`` (decided in full in the first pass), else
    # the first ``top``
    with _GcPaused():
        ranked = _rank(idx, trials, options, top is None, wanted, ids)
        report = _report(patient, as_of, idx, options, ranked, ids, top)
        # her memo (~100k objects) is freed before the collector runs again, so that its first
        # pass does not walk it only to find it gone
        del ranked
        idx.clear()
    return report


class PatientRanking:
    """Every trial's verdict and score for one patient, kept to answer many views cheaply.

    Built by :func:`rank_patient`. Each criterion's outcome is decided once (the patient's memo
    is kept with the ranking), so

    * :meth:`report` answers any view (status filter, chosen trials, top N) by filtering the
      ranking and explaining only the results it returns, and
    * :meth:`refresh` follows a changed trial set by re-evaluating only the trials that changed
      (new objects), reusing every outcome already decided for criteria they share.

    A ranking belongs to one patient *version* and one ``as_of`` date: a changed record needs a
    new ranking. Its methods are serialised by a lock (the patient's memo is not thread-safe).
    """

    def __init__(self, patient: Patient, as_of: dt.date, options: MatchOptions, idx: PatientIndex) -> None:
        import threading

        self.patient, self.as_of, self.options, self._idx = patient, as_of, options, idx
        self._ranked: list[_Compact] = []
        self._by_id: dict[str, _Compact] = {}
        self._by_upper: dict[str, _Compact] = {}  # by upper-case trial id (view filters)
        self._explained: dict[str, TrialMatch] = {}  # trial id -> its explained result, once built
        self._fragments: dict[str, str] = {}  # trial id -> its result's JSON (without rank), once built
        self._filtered: dict[tuple, list[_Compact]] = {}  # (statuses, verdicts, include closed) -> the ranking filtered
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ranked)

    def __repr__(self) -> str:
        return f"<PatientRanking patient={self.patient.id!r} as_of={self.as_of} trials={len(self)} {self.counts()}>"

    def summary(self) -> list[tuple[str, str, float]]:
        """``(trial_id, verdict, score)`` of every trial, in ranked order."""
        return [(m.trial.id, m.verdict, m.score) for m in self._ranked]

    def refresh(self, trials: Iterable[tuple[Trial, cm.CompiledCriteria]]) -> int:
        """Follow a new trial set; returns how many trials were (re-)evaluated.

        A trial whose (Trial, CompiledCriteria) objects are the ones already ranked keeps its
        result; a new or changed one is evaluated (criteria it shares with others are not
        decided again); trials no longer in the set leave the ranking.
        """
        with self._lock, _GcPaused():
            idx, options = self._idx, self.options
            kept: list[_Compact] = []
            n_new = 0
            outcomes = _outcome_memo(idx, options)
            for trial, compiled in trials:
                old = self._by_id.get(trial.id)
                if old is not None and old.trial is trial and old.compiled is compiled:
                    kept.append(old)
                    continue
                idx.cache.pop(("fit", trial.id), None)  # its conditions/title may have changed
                for memo in (self._explained, self._fragments):
                    memo.pop(trial.id, None)
                kept.append(_compact(trial, compiled, idx, options, False, outcomes))
                n_new += 1
            kept.sort(key=_compact_key)
            self._ranked = kept
            self._filtered = {}
            self._by_id = {m.trial.id: m for m in kept}
            self._by_upper = {m.plan.id_key: m for m in kept}
            for memo in (self._explained, self._fragments):  # trials gone from the set
                for gone in [t for t in memo if t not in self._by_id]:
                    del memo[gone]
        return n_new

    def counts(self) -> dict[str, int]:
        """How many trials have each verdict."""
        counts = {v: 0 for v in VERDICT_ORDER}
        for m in self._ranked:
            counts[m.verdict] += 1
        return counts

    def report(self, *, statuses: list[str] | None = None, trial_ids: list[str] | None = None,
               top: int | None = None, verdicts: list[str] | None = None,
               include_closed: bool = True) -> MatchReport:
        """The :class:`MatchReport` of a view of the ranking: the same as :func:`match_patient`
        with ``statuses``, ``trial_ids`` and ``top`` on the same trials.

        Parameters
        ----------
        statuses, trial_ids, top
            As in :func:`match_patient`.
        verdicts : list of str, optional
            Keep only these verdicts (eligible, uncertain, ineligible).
        include_closed : bool
            False leaves out withdrawn, terminated, completed and other closed trials.

        Raises
        ------
        ValueError
            An unknown status or verdict (the message lists the allowed ones).
        """
        return self._view(statuses, trial_ids, top, verdicts, include_closed)[0]

    def view(self, *, statuses: list[str] | None = None, trial_ids: list[str] | None = None,
             top: int | None = None, verdicts: list[str] | None = None,
             include_closed: bool = True) -> tuple[MatchReport, int]:
        """Like :meth:`report`, with how many trials the view kept before ``top`` was applied."""
        return self._view(statuses, trial_ids, top, verdicts, include_closed)

    def view_json(self, *, statuses: list[str] | None = None, trial_ids: list[str] | None = None,
                  top: int | None = None, verdicts: list[str] | None = None,
                  include_closed: bool = True) -> bytes:
        """The compact UTF-8 JSON of ``report(...).to_output_json()`` (what ``trialmatch match
        --format json`` prints, and the API answers), each result's JSON built once per ranking."""
        import json

        from trialmatch.matching.render import trial_json

        report = self._view(statuses, trial_ids, top, verdicts, include_closed)[0]

        def dumps(x) -> str:
            return json.dumps(x, ensure_ascii=False, separators=(",", ":"), default=str)

        parts = []
        with self._lock:
            for rank, m in enumerate(report.results, 1):
                frag = self._fragments.get(m.trial_id)
                if frag is None:
                    frag = self._fragments[m.trial_id] = dumps(trial_json(m))
                parts.append(f'{{"rank":{rank},' + frag[1:])  # a result's JSON is never empty
        head = {"patient": {"id": report.patient.get("id")}, "as_of": report.as_of.isoformat(),
                "as_of_from": report.as_of_from}
        return (dumps(head)[:-1] + ',"results":[' + ",".join(parts) + '],"warnings":'
                + dumps(report.warnings) + "}").encode("utf-8")

    @staticmethod
    def _filter(ranked: list[_Compact], wanted, keep_v, include_closed: bool) -> list[_Compact]:
        return [m for m in ranked
                if (wanted is None or m.plan.status_key in wanted)
                and (keep_v is None or m.verdict in keep_v)
                and (include_closed or not m.plan.closed)]

    def _view(self, statuses, trial_ids, top, verdicts, include_closed) -> tuple[MatchReport, int]:
        wanted = status_filter(statuses)
        ids = {t.strip().upper() for t in trial_ids} if trial_ids else None
        if verdicts:
            bad = [v for v in verdicts if v not in VERDICT_ORDER]
            if bad:
                raise ValueError(f"unknown verdict {bad[0]!r}: use one of " + ", ".join(VERDICT_ORDER))
        keep_v = set(verdicts) if verdicts else None
        with self._lock:
            ranked = self._ranked
            filtered = wanted is not None or keep_v is not None or not include_closed
            if ids is not None:  # chosen trials: looked up, then put in ranked order
                ranked = sorted({self._by_upper[k] for k in ids if k in self._by_upper}, key=_compact_key)
            elif filtered:  # the ranking filtered (kept: many views share a filter)
                fkey = (frozenset(wanted) if wanted is not None else None,
                        frozenset(keep_v) if keep_v is not None else None, include_closed)
                hit = self._filtered.get(fkey)
                if hit is None:
                    if len(self._filtered) >= 32:
                        self._filtered.clear()
                    hit = self._filtered[fkey] = self._filter(ranked, wanted, keep_v, include_closed)
                ranked, filtered = hit, False
            if filtered:
                ranked = self._filter(ranked, wanted, keep_v, include_closed)
            return (_report(self.patient, self.as_of, self._idx, self.options, ranked, ids, top, self._explained),
                    len(ranked))


def rank_patient(patient: Patient, trials: Iterable[tuple[Trial, cm.CompiledCriteria]], as_of: dt.date | None = None,
                 *, options: MatchOptions | None = None) -> PatientRanking:
    """Rank every trial for one patient and keep the ranking for many views.

    Parameters
    ----------
    patient : Patient
    trials : iterable of (Trial, CompiledCriteria)
    as_of : date, optional
        Defaults to ``patient.as_of`` or today.
    options : MatchOptions, optional

    Returns
    -------
    PatientRanking
        ``ranking.report(statuses=..., trial_ids=..., top=...)`` gives the same
        :class:`MatchReport` as :func:`match_patient` with those arguments, explaining only the
        results it returns; ``ranking.refresh(new_trials)`` re-evaluates only changed trials.
    """
    patient = with_as_of_origin(patient, as_of)
    as_of = as_of or patient.as_of or dt.date.today()
    patient = patient_as_of(patient, as_of)
    options = options or DEFAULT_OPTIONS
    ranking = PatientRanking(patient, as_of, options, build_index(patient, as_of))
    ranking.refresh(trials)
    return ranking
