"""The matcher's per-trial plans and per-patient memoising (speed work) and the semantics they carry:
atoms naming the trial's own condition, women-only requirements for a man."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion, match_patient, match_trial, prepare_trials
from trialmatch.patients import model as pm
from trialmatch.trials.model import Eligibility, Provenance, Trial

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")


def trial(tid: str, conditions: list[str]) -> Trial:
    return Trial(id=tid, title=f"A study of {conditions[0]}", conditions=conditions, status="RECRUITING",
                 eligibility=Eligibility(criteria_text="x"),
                 provenance=Provenance(source_format="ctgov_v2_json", file_name="x", sha256="0" * 64,
                                       ingested_at=dt.datetime(2026, 1, 1)))


def compiled(tid: str, *criteria: cm.Criterion) -> cm.CompiledCriteria:
    return cm.CompiledCriteria(trial_id=tid, compiler_version="t", criteria=list(criteria))


def crit(cid, kind, expr, text="t") -> cm.Criterion:
    return cm.Criterion(id=cid, kind=kind, text=text, span=(0, 1), expression=expr, status="compiled")


def asthma_patient(**kw) -> pm.Patient:
    base = dict(id="a", age_years=40, sex="female", as_of=AS_OF,
                conditions=[pm.OtherCondition(name="asthma", qualifiers=["severe"], source=SRC)])
    base.update(kw)
    return pm.Patient(**base)


def test_exclusion_naming_the_trials_own_condition_does_not_exclude_by_itself():
    t = trial("NCT1", ["Asthma"])
    c = compiled("NCT1",
                 crit("E1", "exclusion", cm.Condition(condition="asthma"), "Life-threatening asthma in the past year"),
                 crit("E2", "exclusion", cm.AllOf(items=[cm.Condition(condition="asthma"),
                                                         cm.RecentEvent(event="major_surgery")]),
                      "Surgery for asthma complications"),
                 crit("I1", "inclusion", cm.Condition(condition="asthma"), "Asthma"))
    m = match_trial(t, c, asthma_patient())
    by = {o.criterion_id: o for o in m.criteria}
    assert by["E1"].outcome == "unknown" and "trial's own condition" in by["E1"].reason
    assert by["E2"].outcome == "pass"  # the other check decides
    assert by["I1"].outcome == "pass"  # an inclusion on it is checked as usual
    assert m.verdict == "uncertain"
    # the same exclusion in a trial for another condition excludes her
    m2 = match_trial(trial("NCT2", ["Hypertension"]), compiled("NCT2", c.criteria[0]), asthma_patient())
    assert m2.verdict == "ineligible" and m2.criteria[0].outcome == "fail"


def test_womens_requirements_do_not_apply_to_a_man():
    man = asthma_patient(sex="male", menopausal_status=None)
    c = crit("I1", "inclusion", cm.MenopausalStatus(allowed=["postmenopausal"]))
    assert evaluate_criterion(c, man, AS_OF).outcome == "not_applicable"
    e = crit("E1", "exclusion", cm.Pregnancy(state="pregnant"))
    assert evaluate_criterion(e, man, AS_OF).outcome == "pass"


def test_memoised_outcomes_equal_one_by_one_evaluation_and_keep_each_trials_text():
    shared = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L")
    pairs = [(trial(f"NCT{i}", ["Breast Cancer"]),
              compiled(f"NCT{i}", crit("I1", "inclusion", shared.model_copy(), f"platelets text {i}"),
                       crit("I2", "inclusion", cm.Unsupported(reason="no rule"), f"odd text {i}")))
             for i in range(3)]
    assert prepare_trials(pairs) == 3
    p = pm.Patient(id="p", age_years=50, sex="female", as_of=AS_OF,
                   labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=AS_OF, source=SRC)])
    rep = match_patient(p, pairs)
    assert len(rep.results) == 3
    for r in rep.results:
        i = r.trial_id[-1]
        one = {o.criterion_id: o for o in match_trial(*next((t, c) for t, c in pairs if t.id == r.trial_id), p).criteria}
        for o in r.criteria:
            assert o.text.endswith(i)
            ref = evaluate_criterion(next(c for c in pairs[int(i)][1].criteria if c.id == o.criterion_id), p, AS_OF)
            assert (o.outcome, o.reason) == (ref.outcome, ref.reason) == (one[o.criterion_id].outcome,
                                                                         one[o.criterion_id].reason)
        assert r.verdict == "ineligible" and r.deciding == ["I1"]
    # a later lab changes the verdict: nothing memoised leaks from one patient to the next
    p2 = p.model_copy(update={"labs": [pm.LabResult(analyte="platelets", value=150, unit="10^9/L", date=AS_OF,
                                                    source=SRC)]})
    assert {r.verdict for r in match_patient(p2, pairs).results} == {"uncertain"}
    # JSON round trip of the fast-built outcomes
    assert rep.to_json_dict()["results"][0]["criteria"][0]["evidence"][0]["source"]["locator"] == "$.x"


def test_top_n_ranks_from_outcomes_alone_and_explains_the_same_as_the_full_report():
    """With ``top`` the ranking comes from outcomes computed without explanations (every trial),
    and only the returned results are explained: both must agree with the full report."""
    plt = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L")
    er = cm.Receptor(receptor="ER", status="positive")
    asthma = cm.Condition(condition="asthma")
    exprs = [
        plt, er, cm.AllOf(items=[plt.model_copy(), er.model_copy()]), cm.AnyOf(items=[plt.model_copy(), asthma]),
        cm.Not(item=cm.Infection(pathogen="hiv")),
        cm.IfThen(condition=cm.Metastasis(site="liver"), then=plt.model_copy(), otherwise=er.model_copy()),
        cm.Except(main=cm.Condition(condition="asthma"), exception=cm.Condition(condition="copd")),
    ]
    pairs = []
    for i, e in enumerate(exprs):
        for kind in ("inclusion", "exclusion"):
            tid = f"NCT{i}{kind[0]}"
            pairs.append((trial(tid, ["Asthma"] if i % 2 else ["Breast Cancer"]),
                          compiled(tid, crit("I1", kind, e.model_copy(deep=True), f"text {tid}"),
                                   crit("I2", "exclusion", asthma.model_copy(), "asthma"),
                                   crit("I3", "inclusion", cm.NeedsConfirmation(category="consent"), "consent"))))
    patients = [
        asthma_patient(labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=AS_OF, source=SRC)]),
        pm.Patient(id="b", age_years=60, sex="female", as_of=AS_OF,
                   biomarkers=[pm.Biomarker(name="ER", percent=90, source=SRC)]),
    ]
    for p in patients:
        full = match_patient(p, pairs).to_json_dict()["results"]
        assert {r["verdict"] for r in full} >= {"ineligible", "uncertain"}
        for n in (1, 5, len(pairs)):
            top = match_patient(p, pairs, top=n).to_json_dict()["results"]
            assert top == full[:n]
