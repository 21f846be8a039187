"""Unit tests of the matcher: every atom kind and the three-valued logic, on hand-built facts."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria import model as cm
from trialmatch.matching import MatchOptions, evaluate_criterion, match_patient, match_trial
from trialmatch.patients import model as pm
from trialmatch.trials.model import Eligibility, Provenance, Trial

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")


def patient(**kw) -> pm.Patient:
    base = dict(
        id="p", birth_date=dt.date(1966, 5, 1), sex="female", menopausal_status="postmenopausal", as_of=AS_OF,
        diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", histology="invasive_ductal", stage="IV",
                                date=dt.date(2025, 1, 10), metastatic_date=dt.date(2025, 1, 10), source=SRC,
                                metastases=[pm.Metastasis(site="bone", source=SRC)], measurable_disease=True)],
        biomarkers=[pm.Biomarker(name="ER", percent=90, status="positive", source=SRC),
                    pm.Biomarker(name="PR", percent=20, status="positive", source=SRC),
                    pm.Biomarker(name="HER2", ihc_score="1+", status="negative", source=SRC)],
        performance=[pm.PerformanceStatus(scale="ecog", value=1, date=dt.date(2026, 10, 1), source=SRC)],
        labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=dt.date(2026, 10, 2), source=SRC),
              pm.LabResult(analyte="alt", value=160, unit="U/L", uln=40, date=dt.date(2026, 10, 2), source=SRC),
              pm.LabResult(analyte="creatinine", value=1.0, unit="mg/dL", date=dt.date(2026, 10, 2), source=SRC),
              pm.LabResult(analyte="hemoglobin", value=11.5, unit="g/dL", date=dt.date(2026, 10, 2), source=SRC)],
        weight_kg=65, life_expectancy_months=12,
    )
    base.update(kw)
    return pm.Patient(**base)


def crit(expr, kind="inclusion", cid="I1", **kw) -> cm.Criterion:
    return cm.Criterion(id=cid, kind=kind, text="t", span=(0, 1), expression=expr, status="compiled", **kw)


def out(expr, p=None, kind="inclusion", **kw):
    return evaluate_criterion(crit(expr, kind), p or patient(), AS_OF, MatchOptions(**kw) if kw else None)


def test_age_sex_menopause():
    assert out(cm.Age(years=cm.Range(low=18))).outcome == "pass"
    assert out(cm.Age(years=cm.Range(high=50))).outcome == "fail"
    assert out(cm.Age(years=cm.Range(low=18)), patient(birth_date=None, age_years=None)).outcome == "unknown"
    assert out(cm.Sex(allowed=["male"])).outcome == "fail"
    assert out(cm.MenopausalStatus(allowed=["premenopausal"])).outcome == "fail"
    o = out(cm.MenopausalStatus(allowed=["postmenopausal"]), patient(menopausal_status=None))
    assert o.outcome == "unknown" and o.missing[0].fact == "menopausal_status"


def test_ovarian_suppression_from_gnrh_treatment():
    p = patient(menopausal_status="premenopausal",
                treatments=[pm.Treatment(drugs=["goserelin"], start=dt.date(2025, 2, 1), ongoing=True, source=SRC)])
    assert out(cm.OvarianSuppression(), p).outcome == "pass"
    expr = cm.IfThen(condition=cm.MenopausalStatus(allowed=["premenopausal"]), then=cm.OvarianSuppression())
    assert out(expr).outcome == "not_applicable"  # postmenopausal: the conditional does not apply
    assert out(expr, patient(menopausal_status="premenopausal")).outcome == "unknown"


def test_pregnancy_inferred_false_when_postmenopausal_only():
    assert out(cm.Pregnancy(state="pregnant"), kind="exclusion").outcome == "pass"
    assert out(cm.Pregnancy(state="pregnant"), patient(menopausal_status="premenopausal"), kind="exclusion").outcome == "unknown"
    assert out(cm.Pregnancy(state="pregnant"), patient(pregnant=True), kind="exclusion").outcome == "fail"


@pytest.mark.parametrize("scale,value,rng,expected", [
    ("ecog", 1, cm.Range(low=0, high=1), "pass"),
    ("ecog", 2, cm.Range(low=0, high=1), "fail"),
    ("karnofsky", 80, cm.Range(low=0, high=1), "pass"),   # KPS 80 = ECOG 1
    ("karnofsky", 60, cm.Range(low=0, high=1), "fail"),
])
def test_performance_status_conversion(scale, value, rng, expected):
    p = patient(performance=[pm.PerformanceStatus(scale=scale, value=value, source=SRC)])
    assert out(cm.PerformanceStatus(scale="ecog", range=rng), p).outcome == expected


def test_karnofsky_criterion_against_ecog():
    p = patient(performance=[pm.PerformanceStatus(scale="ecog", value=1, source=SRC)])  # = KPS 70-80
    assert out(cm.PerformanceStatus(scale="karnofsky", range=cm.Range(low=70)), p).outcome == "pass"
    assert out(cm.PerformanceStatus(scale="karnofsky", range=cm.Range(low=80)), p).outcome == "unknown"
    assert out(cm.PerformanceStatus(scale="karnofsky", range=cm.Range(low=90)), p).outcome == "fail"


def test_life_expectancy():
    assert out(cm.LifeExpectancy(minimum=cm.Duration(value=12, unit="week"))).outcome == "pass"
    assert out(cm.LifeExpectancy(minimum=cm.Duration(value=24, unit="month"))).outcome == "fail"


def test_diagnosis_and_extent():
    assert out(cm.Diagnosis(cancer_type="breast_cancer")).outcome == "pass"
    assert out(cm.Diagnosis(cancer_type="lung_cancer")).outcome == "fail"
    assert out(cm.Diagnosis(cancer_type="breast_cancer", histology=["invasive_lobular"])).outcome == "fail"
    assert out(cm.DiseaseExtent(allowed=["advanced"])).outcome == "pass"  # stage IV => metastatic => advanced
    assert out(cm.DiseaseExtent(allowed=["early"])).outcome == "fail"
    p = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer")])
    assert out(cm.DiseaseExtent(allowed=["metastatic"]), p).outcome == "unknown"


def test_brain_metastases_qualifiers_and_negatives():
    untreated = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", stage="IV", metastases=[
        pm.Metastasis(site="brain", status=["untreated"], source=SRC)])])
    treated = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", stage="IV", metastases=[
        pm.Metastasis(site="brain", status=["treated", "stable"], source=SRC)])])
    expr = cm.Metastasis(site="brain", qualifiers=["active", "untreated", "unstable"])
    assert out(expr, untreated, kind="exclusion").outcome == "fail"
    assert out(expr, treated, kind="exclusion").outcome == "pass"
    o = out(expr, kind="exclusion")  # bone metastases only recorded, nothing said about the brain
    assert o.outcome == "unknown" and o.missing[0].fact == "metastasis:brain"
    neg = patient(assertions=[pm.Assertion(subject="metastasis:brain", present=False, source=SRC)])
    assert out(expr, neg, kind="exclusion").outcome == "pass"


def test_liver_conditional_alt():
    alt = cm.IfThen(condition=cm.Metastasis(site="liver"),
                    then=cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=5),
                    otherwise=cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5))
    liver = patient(diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", stage="IV", metastases=[
        pm.Metastasis(site="liver", source=SRC)])])
    assert out(alt, liver).outcome == "pass"  # ALT 4 x ULN <= 5 x ULN
    no_liver = patient(assertions=[pm.Assertion(subject="metastasis:liver", present=False)])
    assert out(alt, no_liver).outcome == "fail"  # 4 x ULN > 2.5 x ULN
    assert out(alt).outcome == "unknown"  # liver status not recorded and the branches disagree


def test_labs_units_staleness_and_uln_source():
    assert out(cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10**9/L")).outcome == "pass"
    assert out(cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="G/L")).outcome == "fail"
    assert out(cm.LabThreshold(analyte="platelets", comparator=">=", value=100000, unit="1/uL")).outcome == "fail"
    assert out(cm.LabThreshold(analyte="hemoglobin", comparator=">=", value=90, unit="g/L")).outcome == "pass"
    o = out(cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10**9/L", max_age_days=3))
    assert o.outcome == "unknown" and "older than 3 days" in o.reason
    p = patient(labs=[pm.LabResult(analyte="platelets", value=300, unit="10^9/L", date=dt.date(2026, 8, 1))])
    o = out(cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10**9/L"), p)
    assert o.outcome == "unknown" and "older than 28 days" in o.reason and o.missing[0].fact == "lab:platelets"
    o = out(cm.LabThreshold(analyte="alt", comparator="<=", uln_multiple=2.5))
    assert o.outcome == "fail" and "lab's own ULN" in o.reason
    p = patient(labs=[pm.LabResult(analyte="ast", value=50, unit="U/L", date=dt.date(2026, 10, 2))])
    o = out(cm.LabThreshold(analyte="ast", comparator="<=", uln_multiple=1.5), p)
    assert o.outcome == "pass" and "reference ULN" in o.reason


def test_unitless_cell_count_far_above_the_normal_range_reads_per_mm3():
    # "ANC greater than 1500", "platelets at least 100,000": counts per mm³, not 10^9/L
    p = patient(labs=[pm.LabResult(analyte="anc", value=3.2, unit="10**9/L", date=dt.date(2026, 10, 2), source=SRC)])
    o = out(cm.LabThreshold(analyte="anc", comparator=">", value=1500), p)
    assert o.outcome == "pass" and "3200" in o.reason
    assert out(cm.LabThreshold(analyte="anc", comparator=">", value=1.5), p).outcome == "pass"  # a 10^9/L number
    assert out(cm.LabThreshold(analyte="platelets", comparator=">=", value=100000)).outcome == "fail"  # 85 x 10^9/L
    assert out(cm.LabThreshold(analyte="platelets", comparator=">=", value=80)).outcome == "pass"
    normal = patient(labs=[], lab_statements=[pm.LabStatement(analyte="anc", finding="normal", date=dt.date(2026, 10, 2),
                                                               source=SRC)])
    assert out(cm.LabThreshold(analyte="anc", comparator=">=", value=1500), normal).outcome == "pass"  # "CBC normal"


def test_hormone_receptor_high_without_a_cut_off():
    high = cm.Receptor(receptor="ER", status="high")

    def er(pct):
        return patient(biomarkers=[pm.Biomarker(name="ER", percent=pct, status="positive", source=SRC)])
    assert out(high, er(95)).outcome == "pass"
    assert out(high, er(60)).outcome == "unknown"  # no cut-off stated: a person decides
    assert out(high, er(5)).outcome == "fail"  # ER-low is not high
    assert out(cm.Receptor(receptor="ER", status="high", min_percent=50), er(60)).outcome == "pass"


def test_creatinine_clearance_cockcroft_gault():
    expr = cm.LabThreshold(analyte="creatinine_clearance", comparator=">=", value=60, unit="mL/min")
    # (140-60)*65/(72*1.0)*0.85 = 61.4
    o = out(expr)
    assert o.outcome == "pass" and "Cockcroft-Gault" in o.reason
    o = out(expr, patient(weight_kg=None))
    assert o.outcome == "unknown" and any(m.fact == "weight" for m in o.missing)
    either = cm.AnyOf(items=[cm.LabThreshold(analyte="creatinine", comparator="<=", uln_multiple=1.5), expr])
    assert out(either, patient(weight_kg=None)).outcome == "pass"  # creatinine 88 umol/L <= 1.5 x 90


def test_receptors():
    assert out(cm.Receptor(receptor="HR", status="positive")).outcome == "pass"
    assert out(cm.Receptor(receptor="ER", status="positive", min_percent=10)).outcome == "pass"
    assert out(cm.Receptor(receptor="HER2", status="negative")).outcome == "pass"
    assert out(cm.Receptor(receptor="HER2", status="low")).outcome == "pass"
    p = patient(biomarkers=[pm.Biomarker(name="HER2", ihc_score="2+")])
    o = out(cm.Receptor(receptor="HER2", status="negative"), p)
    assert o.outcome == "unknown"
    p = patient(biomarkers=[pm.Biomarker(name="HER2", ihc_score="2+", ish="negative")])
    assert out(cm.Receptor(receptor="HER2", status="negative"), p).outcome == "pass"
    p = patient(biomarkers=[pm.Biomarker(name="ER", percent=5, status="positive")])
    assert out(cm.Receptor(receptor="ER", status="positive", min_percent=10), p).outcome == "fail"
    o = out(cm.Receptor(receptor="ER", status="positive"), patient(biomarkers=[]))
    assert o.outcome == "unknown" and o.missing[0].fact == "biomarker:ER"


def test_gene_alteration():
    p = patient(genes=[pm.GeneResult(gene="ESR1", status="mutated", variant="Y537S", specimen="ctdna")])
    assert out(cm.GeneAlteration(gene="ESR1", sources=["ctdna"]), p).outcome == "pass"
    assert out(cm.GeneAlteration(gene="ESR1", sources=["tissue"]), p).outcome == "unknown"
    assert out(cm.GeneAlteration(gene="PIK3CA"), p).outcome == "unknown"


def _t(drugs, setting, start, end=None, **kw):
    return pm.Treatment(drugs=drugs, setting=setting, start=start, end=end, source=SRC, **kw)


def test_prior_therapy_classes_settings_lines():
    p = patient(treatments=[
        _t(["letrozole"], "adjuvant", dt.date(2019, 1, 1), dt.date(2024, 1, 1)),
        _t(["palbociclib", "fulvestrant"], "metastatic", dt.date(2025, 2, 1), dt.date(2026, 8, 1), progressed=True),
        _t(["paclitaxel"], "metastatic", dt.date(2026, 8, 15), ongoing=True),
    ])
    cdk = cm.PriorTherapy(agents=["cdk46_inhibitor"])
    assert out(cdk, p, kind="exclusion").outcome == "fail"
    chemo_max1 = cm.PriorTherapy(agents=["chemotherapy"], settings=["metastatic"], lines=cm.Range(low=0, high=1))
    assert out(chemo_max1, p).outcome == "pass"
    none_adv = cm.PriorTherapy(agents=["systemic_therapy"], settings=["advanced"])
    assert out(none_adv, p, kind="exclusion").outcome == "fail"
    endo6 = cm.PriorTherapy(agents=["endocrine_therapy"], settings=["advanced"], min_duration=cm.Duration(value=6, unit="month"),
                            progressed=True)
    assert out(endo6, p).outcome == "pass"
    adj = cm.PriorTherapy(agents=["endocrine_therapy"], settings=["adjuvant"], min_duration=cm.Duration(value=24, unit="month"),
                          relapse_within_after_end=cm.Duration(value=12, unit="month"))
    assert out(adj, p).outcome == "fail"  # relapse (2025-01-10) came 12+ months after the end (2024-01-01)? no: 375 days


def test_prior_therapy_no_history_is_unknown_unless_asserted():
    expr = cm.PriorTherapy(agents=["chemotherapy"], settings=["metastatic"])
    o = out(expr, patient(), kind="exclusion")
    assert o.outcome == "unknown" and o.missing[0].fact.startswith("treatment_history")
    p = patient(assertions=[pm.Assertion(subject="prior_therapy:chemotherapy:metastatic", present=False, source=SRC)])
    assert out(expr, p, kind="exclusion").outcome == "pass"
    p = patient(sources={"treatments": SRC})  # an explicit empty list in a structured record
    assert out(expr, p, kind="exclusion").outcome == "pass"


def test_closed_world_history_and_its_switch():
    hbv = cm.Infection(pathogen="hbv", qualifiers=["active"])
    assert out(hbv, kind="exclusion").outcome == "pass"
    assert out(hbv, kind="exclusion", closed_world_history=False).outcome == "unknown"
    p = patient(conditions=[pm.OtherCondition(name="Hepatitis B", qualifiers=["active"], source=SRC)])
    assert out(hbv, p, kind="exclusion").outcome == "fail"
    p = patient(conditions=[pm.OtherCondition(name="hepatitis b", qualifiers=["resolved"])])
    assert out(hbv, p, kind="exclusion").outcome == "pass"
    htn = cm.Condition(condition="hypertension", qualifiers=["uncontrolled"])
    p = patient(conditions=[pm.OtherCondition(name="high blood pressure", qualifiers=[])])
    assert out(htn, p, kind="exclusion").outcome == "unknown"
    mi = cm.Condition(condition="myocardial_infarction", within=cm.Duration(value=6, unit="month"))
    p = patient(conditions=[pm.OtherCondition(name="myocardial infarction", onset=dt.date(2026, 7, 1))])
    assert out(mi, p, kind="exclusion").outcome == "fail"
    p = patient(conditions=[pm.OtherCondition(name="myocardial infarction", onset=dt.date(2020, 7, 1))])
    assert out(mi, p, kind="exclusion").outcome == "pass"


def test_recent_event_conmed_allergy_other_malignancy():
    p = patient(procedures=[pm.Procedure(kind="major_surgery", name="mastectomy", date=dt.date(2026, 10, 1), source=SRC)])
    ev = cm.RecentEvent(event="major_surgery", within=cm.Duration(value=2, unit="week"))
    assert out(ev, p, kind="exclusion").outcome == "fail"
    assert out(ev, kind="exclusion").outcome == "pass"
    p = patient(medications=[pm.Medication(name="clarithromycin", source=SRC)])
    assert out(cm.ConcomitantMedication(classes=["strong_cyp3a4_inhibitor"]), p, kind="exclusion").outcome == "fail"
    p = patient(diagnoses=[*patient().diagnoses, pm.Diagnosis(cancer_type="basal_cell_carcinoma", primary=False,
                                                              date=dt.date(2024, 1, 1))])
    om = cm.OtherMalignancy(within=cm.Duration(value=5, unit="year"), exceptions=["basal_cell_carcinoma"])
    assert out(om, p, kind="exclusion").outcome == "pass"
    om2 = cm.OtherMalignancy(within=cm.Duration(value=5, unit="year"))
    assert out(om2, p, kind="exclusion").outcome == "fail"
    p = patient(conditions=[pm.OtherCondition(name="allergy to fulvestrant", source=SRC)])
    assert out(cm.Allergy(substances=["fulvestrant"]), p, kind="exclusion").outcome == "fail"


def test_confirm_unsupported_header_and_logic():
    o = out(cm.NeedsConfirmation(category="consent"))
    assert o.outcome == "confirm"
    o = out(cm.Unsupported(reason="no rule"))
    assert o.outcome == "unknown" and o.reason == "criterion could not be compiled: no rule"
    assert o.missing[0].fact == "manual_review"
    header = cm.Criterion(id="I2", kind="inclusion", text="Must have:", span=(0, 1), status="compiled")
    assert evaluate_criterion(header, patient(), AS_OF).outcome == "not_applicable"
    # Kleene: false AND unknown = false; true OR unknown = true; NOT unknown = unknown
    unk = cm.Receptor(receptor="ER", status="positive")
    p = patient(biomarkers=[])
    assert out(cm.AllOf(items=[cm.Sex(allowed=["male"]), unk]), p).outcome == "fail"
    assert out(cm.AnyOf(items=[cm.Sex(allowed=["female"]), unk]), p).outcome == "pass"
    assert out(cm.Not(item=unk), p).outcome == "unknown"
    ex = cm.Except(main=cm.PriorTherapy(agents=["systemic_therapy"], settings=["advanced"]),
                   exception=cm.AnyOf(items=[cm.PriorTherapy(agents=["gnrh_agonist"]), cm.PriorTherapy(agents=["bone_targeted_therapy"])]))
    p = patient(treatments=[_t(["zoledronic acid"], "metastatic", dt.date(2025, 2, 1))])
    # only a bone treatment for advanced disease: the exception covers it
    assert out(ex, p, kind="exclusion").outcome == "pass"
    p2 = patient(treatments=[_t(["zoledronic acid"], "metastatic", dt.date(2025, 2, 1)),
                             _t(["capecitabine"], "metastatic", dt.date(2025, 3, 1))])
    assert out(ex, p2, kind="exclusion").outcome == "fail"


def _trial(tid="NCT1", status="RECRUITING", conditions=("Breast Cancer",)):
    return Trial(id=tid, title=f"Trial {tid}", status=status, conditions=list(conditions),
                 eligibility=Eligibility(sex="FEMALE", min_age_years=18),
                 provenance=Provenance(source_format="demo_json", sha256="0" * 64, ingested_at=dt.datetime(2026, 1, 1)))


def test_match_trial_verdicts_ranking_and_filters():
    ok = cm.CompiledCriteria(trial_id="A", compiler_version="t", criteria=[
        crit(cm.Receptor(receptor="HR", status="positive"), cid="I1"),
        crit(cm.NeedsConfirmation(category="consent"), cid="I2")])
    bad = cm.CompiledCriteria(trial_id="B", compiler_version="t", criteria=[
        crit(cm.PerformanceStatus(scale="ecog", range=cm.Range(high=0)), cid="I1")])
    unk = cm.CompiledCriteria(trial_id="C", compiler_version="t", criteria=[
        crit(cm.GeneAlteration(gene="ESR1"), cid="I1")])
    trials = [(_trial("B"), bad), (_trial("C", "COMPLETED"), unk), (_trial("A"), ok)]
    rep = match_patient(patient(), trials)
    assert [r.trial_id for r in rep.results] == ["A", "C", "B"]
    assert [r.verdict for r in rep.results] == ["eligible", "uncertain", "ineligible"]
    assert rep.results[0].to_confirm == ["I2"] and rep.results[2].deciding == ["I1"]
    assert rep.results[1].closed and rep.results[1].missing[0].fact == "gene:ESR1"
    scores = [r.score for r in rep.results]
    assert scores == sorted(scores, reverse=True)
    assert [r.trial_id for r in match_patient(patient(), trials, statuses=["recruiting"]).results] == ["A", "B"]
    assert [r.trial_id for r in match_patient(patient(), trials, top=1).results] == ["A"]
    assert [r.trial_id for r in match_patient(patient(), trials, trial_ids=["b"]).results] == ["B"]
    # the registry sex field is checked when no criterion covers it
    m = match_trial(_trial("A"), ok, patient(sex="male"))
    assert m.verdict == "ineligible" and m.deciding == ["SEX"]
    # disease fit orders trials of the same verdict
    lung = match_trial(_trial("L", conditions=["Lung Cancer"]), ok, patient())
    assert lung.score < rep.results[0].score


def test_renderers_escape_and_csv():
    bad = cm.CompiledCriteria(trial_id="X", compiler_version="t", criteria=[
        crit(cm.Sex(allowed=["female"]), cid="I1")])
    t = _trial("X")
    t.title = "<script>alert(1)</script>"
    rep = match_patient(patient(), [(t, bad)])
    html = rep.to_html()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert rep.to_csv().splitlines()[0].startswith("patient_id,rank,trial_id")
    js = rep.to_output_json()
    sexc = [c for c in js["results"][0]["criteria"] if c["id"] == "I1"][0]
    assert sexc["evidence"][0]["fact"] == "sex female" and sexc["evidence"][0]["source"] is None
    assert "name" not in js["patient"]
    from rich.console import Console
    con = Console(record=True, width=160)
    rep.print_summary(console=con)
    assert "eligible" in con.export_text()


def test_every_atom_kind_has_an_evaluator():
    from trialmatch.matching.atoms import EVALUATORS

    assert set(cm.ATOM_KINDS) <= set(EVALUATORS), set(cm.ATOM_KINDS) - set(EVALUATORS)


def test_unhandled_kind_is_unknown_never_pass():
    from trialmatch.matching.atoms import evaluate_atom
    from trialmatch.matching.context import EvalContext
    from trialmatch.matching.evaluate import DEFAULT_OPTIONS
    from trialmatch.matching.facts import build_index

    class Strange:
        kind = "strange_new_kind"

    res = evaluate_atom(Strange(), EvalContext(build_index(patient(), AS_OF), DEFAULT_OPTIONS))
    assert res.value is None and "not handled" in res.reasons[0]
    with pytest.raises(ValueError, match="already has an evaluator"):
        from trialmatch.matching.atoms import evaluates

        evaluates("lab")(lambda a, ctx: None)  # one evaluator per kind
    assert evaluate_atom(Strange(), EvalContext(build_index(patient(), AS_OF), DEFAULT_OPTIONS)).value is None


def test_measurement_bmi():
    p = patient(height_cm=165)  # 65 kg -> BMI 23.9
    assert out(cm.Measurement(name="bmi", comparator="<", value=30), p).outcome == "pass"
    assert out(cm.Measurement(name="bmi", comparator="<", value=30)).outcome == "unknown"


def test_facts_after_as_of_are_ignored():
    p = patient(labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=dt.date(2026, 10, 2)),
                      pm.LabResult(analyte="platelets", value=150, unit="10^9/L", date=dt.date(2026, 10, 20))])
    thr = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10**9/L")
    assert evaluate_criterion(crit(thr), p, dt.date(2026, 10, 10)).outcome == "fail"
    assert evaluate_criterion(crit(thr), p, dt.date(2026, 10, 21)).outcome == "pass"


def test_closed_world_never_rules_out_a_required_condition():
    asthma = cm.Condition(condition="asthma")
    o = out(asthma)  # inclusion: she must have asthma; her record does not list it
    assert o.outcome == "unknown" and o.missing[0].fact == "condition:asthma"
    assert out(asthma, kind="exclusion").outcome == "pass"
    assert out(cm.Not(item=asthma)).outcome == "pass"  # inclusion "no asthma"
    p = patient(conditions=[pm.OtherCondition(name="asthma", source=SRC)])
    assert out(asthma, p).outcome == "pass"


def test_current_medication_counts_as_recent_therapy_and_an_inhaled_steroid_only_maybe():
    steroid_8w = cm.PriorTherapy(agents=["corticosteroid"], lines=cm.Range(low=1),
                                 within=cm.Duration(value=8, unit="week"))
    oral = patient(medications=[pm.Medication(name="oral corticosteroids", source=SRC)])
    o = out(steroid_8w, oral, kind="exclusion")
    assert o.outcome == "fail" and "currently takes" in o.reason and o.evidence
    inhaled = patient(medications=[pm.Medication(name="fluticasone", source=SRC)])
    o = out(steroid_8w, inhaled, kind="exclusion")
    assert o.outcome == "unknown" and "needs a person" in o.reason
    assert out(cm.ConcomitantMedication(classes=["corticosteroid"]), inhaled, kind="exclusion").outcome == "unknown"
    assert out(cm.ConcomitantMedication(classes=["inhaled_corticosteroid"]), inhaled, kind="exclusion").outcome == "fail"
    # a supportive drug is not "any anti-cancer therapy" just because she takes it now
    bone = patient(medications=[pm.Medication(name="zoledronic acid", source=SRC)], treatments=[],
                   sources={"treatments": SRC})
    o = out(cm.PriorTherapy(agents=["systemic_therapy"], lines=cm.Range(low=1)), bone, kind="exclusion")
    assert o.outcome == "pass"
    # no medication: the treatment history decides as before
    assert out(steroid_8w, patient(), kind="exclusion").outcome == "unknown"


def test_exclusion_that_holds_for_every_patient_is_left_to_a_person():
    everyone = cm.Sex(allowed=["female", "male"])
    o = out(everyone, kind="exclusion")
    assert o.outcome == "unknown" and "every patient" in o.reason
    assert out(everyone).outcome == "pass"  # as an inclusion it lets everyone in
    assert out(cm.Age(years=cm.Range(low=1)), kind="exclusion").outcome == "unknown"
    assert out(cm.Age(years=cm.Range(low=50)), kind="exclusion").outcome == "fail"  # a real age limit still excludes
    assert out(cm.Sex(allowed=["female"]), kind="exclusion").outcome == "fail"


def test_small_unitless_enzyme_threshold_reads_as_uln_multiple_not_a_value():
    o = out(cm.LabThreshold(analyte="alt", comparator=">", value=2), kind="exclusion")
    assert o.outcome == "unknown" and "multiple of the ULN" in o.reason
    # with its unit it is a value and decides
    assert out(cm.LabThreshold(analyte="alt", comparator=">", value=100, unit="U/L"), kind="exclusion").outcome == "fail"


def test_trec_style_note_facts_reach_the_matcher():
    from trialmatch.patients import read_patient_bytes

    note = ("A 46-year-old woman with MDD complains of persistent sadness. She is on anti-depressants for the past "
            "6 months. She doubled her oral corticosteroids in the past week. The tumor is HER2-positive and "
            "ER/PR negative. The second MRI revealed another lesion in the left cerebral hemisphere.")
    p = read_patient_bytes(note.encode(), "n.txt", fmt="text")
    assert "depression" in [c.name for c in p.conditions]
    assert {"anti-depressants", "oral corticosteroids"} <= {m.name for m in p.medications}
    assert {b.name: b.status for b in p.biomarkers if b.name in ("ER", "PR")} == {"ER": "negative", "PR": "negative"}
    assert not p.diagnoses  # a brain "lesion" in a note that names no cancer is not a metastasis
    when = p.as_of or AS_OF
    assert evaluate_criterion(crit(cm.Condition(condition="major depressive disorder")), p, when).outcome == "pass"
    assert evaluate_criterion(crit(cm.ConcomitantMedication(classes=["antidepressant"]), "exclusion"), p,
                              when).outcome == "fail"
