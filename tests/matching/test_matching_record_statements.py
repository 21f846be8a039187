"""What a note states without numbers or dates settles checks (issue 12, matcher side): qualitative
labs, stated absences, relapse and duration intervals, HER2 0 / null / ultralow, histology,
life expectancy as the investigator's estimate, and the order of the facts an uncertain trial lacks.
One test per class of wording."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria import model as cm
from trialmatch.matching import MatchOptions, evaluate_criterion, match_trial
from trialmatch.matching.engine import decisive_missing, match_score
from trialmatch.matching.model import MissingFact
from trialmatch.patients import model as pm
from trialmatch.trials.model import Eligibility, Provenance, Trial

AS_OF = dt.date(2026, 11, 1)
SRC = pm.Source(kind="text", locator="Labs 30 Oct 2026: creatinine normal, LFTs normal.", span=(40, 89))


def patient(**kw) -> pm.Patient:
    base = dict(
        id="p", birth_date=dt.date(1962, 5, 1), sex="female", menopausal_status="postmenopausal", as_of=AS_OF,
        diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", histology="invasive_ductal", stage="IV",
                                date=dt.date(2015, 3, 1), metastatic_date=dt.date(2026, 9, 1), source=SRC,
                                metastases=[pm.Metastasis(site="bone", source=SRC)], measurable_disease=True)],
        biomarkers=[pm.Biomarker(name="ER", percent=90, status="positive", source=SRC),
                    pm.Biomarker(name="HER2", ihc_score="1+", status="negative", source=SRC)],
    )
    base.update(kw)
    return pm.Patient(**base)


def out(expr, p, kind="inclusion"):
    c = cm.Criterion(id="I1", kind=kind, text="t", span=(0, 1), expression=expr, status="compiled")
    return evaluate_criterion(c, p, AS_OF, MatchOptions())


def normal(*analytes, date=dt.date(2026, 10, 30), finding="normal"):
    return [pm.LabStatement(analyte=a, finding=finding, date=date, phrase="LFTs", source=SRC) for a in analytes]


# ---------------------------------------------------------------------------- qualitative labs
@pytest.mark.parametrize("expr, kind, outcome", [
    (cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5), "inclusion", "pass"),  # "≤ 2.5 × ULN"
    (cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=1.0), "inclusion", "pass"),  # "≤ ULN"
    (cm.LabThreshold(analyte="alt", comparator=">", uln_multiple=3.0), "exclusion", "pass"),  # "ALT > 3 × ULN" excludes
    (cm.LabThreshold(analyte="creatinine", comparator="<=", value=1.5, unit="mg/dL"), "inclusion", "pass"),  # absolute, converted
    (cm.LabThreshold(analyte="platelets", comparator=">=", value=100000, unit="/uL"), "inclusion", "pass"),
    (cm.LabThreshold(analyte="hemoglobin", comparator=">=", value=9, unit="g/dL"), "inclusion", "pass"),
    (cm.LabThreshold(analyte="anc", comparator=">=", lln_multiple=1.0), "inclusion", "pass"),  # "≥ LLN"
])
def test_a_normal_statement_passes_thresholds_the_normal_range_meets(expr, kind, outcome):
    p = patient(lab_statements=normal("alt", "creatinine", "platelets", "hemoglobin", "anc"))
    o = out(expr, p, kind)
    assert o.outcome == outcome, o.reason
    assert "normal" in o.reason
    assert o.evidence and o.evidence[0].source == SRC  # cites the statement's sentence


@pytest.mark.parametrize("expr", [
    cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=0.8),
    cm.LabThreshold(analyte="anc", comparator=">=", value=2.0, unit="10^9/L"),  # normal range starts at 1.8
    cm.LabThreshold(analyte="anc", comparator=">=", lln_multiple=1.2),
])
def test_a_threshold_stricter_than_normal_stays_unknown_and_says_so(expr):
    o = out(expr, patient(lab_statements=normal("alt", "anc")))
    assert o.outcome == "unknown"
    assert "normal, but the threshold is stricter than the normal range" in o.reason
    assert o.missing and o.missing[0].fact == f"lab:{expr.analyte}"


def test_normal_creatinine_does_not_settle_clearance_or_egfr():
    p = patient(lab_statements=normal("creatinine"), weight_kg=60)
    for analyte in ("creatinine_clearance", "egfr"):
        o = out(cm.LabThreshold(analyte=analyte, comparator=">=", value=60, unit="mL/min"), p)
        assert o.outcome == "unknown", o.reason
    o = out(cm.LabThreshold(analyte="creatinine_clearance", comparator=">=", value=60, unit="mL/min"), p)
    assert "does not settle creatinine clearance" in o.reason


def test_abnormal_statement_is_unknown_with_evidence():
    o = out(cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5), patient(lab_statements=normal("alt", finding="abnormal")))
    assert o.outcome == "unknown" and "abnormal" in o.reason
    assert o.evidence and o.evidence[0].value == "abnormal"


def test_a_newer_numeric_result_wins_over_a_statement_and_an_older_one_does_not():
    thr = cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5)
    newer = pm.LabResult(analyte="alt", value=200, unit="U/L", uln=40, date=dt.date(2026, 10, 31), source=SRC)
    older = pm.LabResult(analyte="alt", value=200, unit="U/L", uln=40, date=dt.date(2026, 10, 20), source=SRC)
    assert out(thr, patient(labs=[newer], lab_statements=normal("alt"))).outcome == "fail"
    assert out(thr, patient(labs=[older], lab_statements=normal("alt"))).outcome == "pass"


def test_a_stale_normal_statement_is_unknown_like_a_stale_result():
    o = out(cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5),
            patient(lab_statements=normal("alt", date=dt.date(2026, 8, 1))))
    assert o.outcome == "unknown" and "older than 28 days" in o.reason


# ---------------------------------------------------------------------------- stated absences
def _no(subject):
    return pm.Assertion(subject=subject, present=False, source=SRC)


def test_no_early_systemic_therapy_covers_adjuvant_and_neoadjuvant():
    p = patient(assertions=[_no("prior_therapy:chemotherapy:early")],
                history_statements=[pm.HistoryStatement(therapy="chemotherapy", setting="early", source=SRC)])
    for settings in (["adjuvant"], ["neoadjuvant"], ["adjuvant", "neoadjuvant"]):
        required = cm.PriorTherapy(agents=["chemotherapy"], settings=settings)
        assert out(required, p).outcome == "fail"  # a requirement of prior therapy fails
        assert out(required, p, "exclusion").outcome == "pass"  # an exclusion of prior therapy passes
    # it says nothing about chemotherapy for metastatic disease
    assert out(cm.PriorTherapy(agents=["chemotherapy"], settings=["metastatic"]), p).outcome == "unknown"


def test_only_listed_closes_an_empty_history():
    p = patient(history_statements=[pm.HistoryStatement(therapy="any", setting="any", received="only_listed", source=SRC)])
    assert out(cm.PriorTherapy(agents=["endocrine_therapy"]), p).outcome == "fail"
    assert out(cm.PriorTherapy(agents=["cdk46_inhibitor"]), p, "exclusion").outcome == "pass"


def test_no_liver_metastases_does_not_answer_visceral():
    p = patient(assertions=[_no("metastasis:liver")])
    assert out(cm.Metastasis(site="liver"), p, "exclusion").outcome == "pass"
    assert out(cm.Metastasis(site="visceral"), p, "exclusion").outcome == "unknown"
    assert out(cm.Metastasis(site="visceral"), patient(assertions=[_no("metastasis:visceral")]), "exclusion").outcome == "pass"
    assert out(cm.Metastasis(site="cns"), patient(assertions=[_no("metastasis:brain")]), "exclusion").outcome == "pass"


def test_nil_past_medical_history_closes_comorbidities_even_required_ones():
    p = patient(assertions=[_no("condition:any")])
    assert out(cm.Condition(condition="heart_failure"), p, "exclusion").outcome == "pass"
    o = out(cm.Condition(condition="diabetes"), p)  # a criterion requiring a condition
    assert o.outcome == "fail" and "no past medical history" in o.reason


def test_no_regular_medications_closes_current_medication_checks():
    p = patient(assertions=[_no("medications:any")])
    o = out(cm.ConcomitantMedication(classes=["strong_cyp3a4_inhibitor"]), p, "exclusion")
    assert o.outcome == "pass" and "no current medications" in o.reason
    # also where it does not let her in: a required medication is stated absent
    assert out(cm.ConcomitantMedication(classes=["bisphosphonate"]), p).outcome == "fail"
    assert out(cm.ConcomitantMedication(classes=["bisphosphonate"]), patient()).outcome == "unknown"


# ---------------------------------------------------------------------------- intervals as stated
def test_relapse_months_after_end_without_dates():
    expr = cm.PriorTherapy(agents=["endocrine_therapy"], settings=["adjuvant"], min_duration=cm.Duration(value=24, unit="month"),
                           relapse_within_after_end=cm.Duration(value=12, unit="month"))
    soon = pm.Treatment(drugs=["tamoxifen"], setting="adjuvant", duration_months=60, relapse_months_after_end=8, source=SRC)
    late = pm.Treatment(drugs=["tamoxifen"], setting="adjuvant", duration_months=60, relapse_months_after_end=30, source=SRC)
    assert out(expr, patient(treatments=[soon])).outcome == "pass"
    assert out(expr, patient(treatments=[late])).outcome == "fail"


def test_months_to_progression_gives_the_duration():
    expr = cm.PriorTherapy(agents=["endocrine_therapy"], settings=["advanced"], min_duration=cm.Duration(value=6, unit="month"),
                           progressed=True)
    long = pm.Treatment(drugs=["anastrozole"], setting="metastatic", progressed=True, months_to_progression=21, source=SRC)
    short = pm.Treatment(drugs=["anastrozole"], setting="metastatic", progressed=True, months_to_progression=3, source=SRC)
    assert out(expr, patient(treatments=[long])).outcome == "pass"
    assert out(expr, patient(treatments=[short])).outcome == "fail"


# ---------------------------------------------------------------------------- receptors, histology
def _her2(**kw):
    return patient(biomarkers=[pm.Biomarker(name="ER", percent=90, status="positive", source=SRC),
                               pm.Biomarker(name="HER2", source=SRC, **kw)])


def test_her2_zero_may_be_ultralow_unless_stated_null():
    ultralow = cm.Receptor.model_construct(kind="receptor", receptor="HER2", status="ultralow", min_percent=None,
                                           her2_ihc=[], ish=None)
    assert out(ultralow, _her2(ihc_score="0")).outcome == "unknown"
    assert out(ultralow, _her2(ihc_score="0", intensity="null (no staining)")).outcome == "fail"
    assert out(ultralow, _her2(ihc_score="0", intensity="ultralow")).outcome == "pass"
    assert out(ultralow, _her2(ihc_score="1+")).outcome == "fail"


def test_breast_cancer_with_receptor_results_is_a_histologically_confirmed_carcinoma():
    p = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", stage="IV", source=SRC)])
    expr = cm.Diagnosis(cancer_type="breast_cancer", histology=["adenocarcinoma"], confirmed_by="histology")
    assert out(expr, p).outcome == "pass"
    assert out(expr, patient()).outcome == "pass"  # IDC is an adenocarcinoma of the breast
    lobular = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", histology="invasive_lobular", source=SRC)])
    assert out(expr, lobular).outcome == "pass"
    invasive = cm.Diagnosis(cancer_type="breast_cancer", histology=["invasive"], confirmed_by="histology")
    assert out(invasive, p).outcome == "pass"  # stage IV: it has spread, so it is invasive
    assert out(invasive, patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", source=SRC)])).outcome == "unknown"
    untested = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", source=SRC)], biomarkers=[])
    assert out(expr, untested).outcome == "unknown"


# ---------------------------------------------------------------------------- life expectancy
def test_life_expectancy_not_recorded_is_for_a_person_to_confirm():
    expr = cm.LifeExpectancy(minimum=cm.Duration(value=12, unit="week"))
    assert out(expr, patient()).outcome == "confirm"
    assert out(expr, patient(life_expectancy_months=2)).outcome == "fail"  # a stated one is still compared
    assert out(expr, patient(life_expectancy_months=12)).outcome == "pass"


def _trial(*criteria) -> tuple:
    t = Trial(id="T1", title="HR+ metastatic breast cancer", conditions=["Breast Cancer"], status="RECRUITING",
              eligibility=Eligibility(),
              provenance=Provenance(source_format="demo_json", sha256="0" * 64, ingested_at=dt.datetime(2026, 1, 1)))
    cc = cm.CompiledCriteria(trial_id="T1", compiler_version="t", criteria=list(criteria))
    return t, cc


def _c(cid, expr, kind="inclusion"):
    return cm.Criterion(id=cid, kind=kind, text=cid, span=(0, 1), expression=expr, status="compiled")


def test_confirm_does_not_make_a_trial_uncertain():
    t, cc = _trial(_c("LE", cm.LifeExpectancy(minimum=cm.Duration(value=3, unit="month"))),
                   _c("AGE", cm.Age(years=cm.Range(low=18))))
    m = match_trial(t, cc, patient(), AS_OF)
    assert m.verdict == "eligible" and m.to_confirm == ["LE"]


# ---------------------------------------------------------------------------- uncertain made useful
def _m(fact):
    return MissingFact(fact=fact, description=fact)


def test_missing_facts_most_decisive_first():
    lists = [
        [_m("weight"), _m("lab:creatinine")],  # needs two facts
        [_m("manual_review")],
        [_m("lab:creatinine"), _m("age")],
        [_m("biomarker:HER2")],  # alone settles an open criterion
        [_m("lab:creatinine"), _m("sex")],
    ]
    order = [m.fact for m in decisive_missing(lists)]
    assert order[0] == "biomarker:HER2"
    assert order[1] == "lab:creatinine"  # concerns three open criteria
    assert order[-1] == "manual_review"
    assert set(order) == {"weight", "lab:creatinine", "manual_review", "age", "biomarker:HER2", "sex"}


def test_trial_missing_lists_the_deciding_fact_first():
    t, cc = _trial(_c("CRCL", cm.LabThreshold(analyte="creatinine_clearance", comparator=">=", value=60, unit="mL/min")),
                   _c("HER2", cm.Receptor(receptor="HER2", status="negative")),
                   _c("BRAIN", cm.Metastasis(site="brain"), "exclusion"))
    p = patient(biomarkers=[pm.Biomarker(name="ER", percent=90, status="positive", source=SRC)])
    m = match_trial(t, cc, p, AS_OF)
    assert m.verdict == "uncertain"
    facts = [x.fact for x in m.missing]
    assert facts.index("biomarker:HER2") < facts.index("lab:creatinine")
    assert facts.index("metastasis:brain") < facts.index("lab:creatinine")


def test_uncertain_ranking_prefers_fewer_open_criteria_and_better_fit():
    near = match_score("uncertain", 0.8, 10, 0, 1, 11)
    far = match_score("uncertain", 0.8, 10, 0, 6, 16)
    assert near > far
    assert match_score("uncertain", 0.9, 10, 0, 2, 12) > match_score("uncertain", 0.5, 10, 0, 2, 12)
    assert match_score("ineligible", 1.0, 20, 1, 0, 21) < far < match_score("eligible", 0.0, 0, 0, 0, 0)


def test_a_confirmation_her_record_leaves_open_weighs_in_closeness_not_in_the_verdict():
    t, cc = _trial(_c("LE", cm.LifeExpectancy(minimum=cm.Duration(value=3, unit="month"))),
                   _c("AGE", cm.Age(years=cm.Range(low=18))))
    open_le = match_trial(t, cc, patient(), AS_OF)
    stated = match_trial(t, cc, patient(life_expectancy_months=12), AS_OF)
    assert open_le.verdict == stated.verdict == "eligible"
    assert stated.score > open_le.score
