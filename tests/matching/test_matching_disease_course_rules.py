"""Disease and course rules read off a note's facts: "multiple metastases" and control qualifiers from her current
therapy, progression implied by a later line, treated CNS metastases that progressed, inoperable disease and the
metastatic setting, and a relapse window bounded by a course's cycles."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")


def patient(sites=("bone",), treatments=(), assertions=(), statuses=None, extent="metastatic",
            dx=dt.date(2026, 1, 10), met=dt.date(2026, 1, 10)) -> pm.Patient:
    mets = [pm.Metastasis(site=s, status=list((statuses or {}).get(s, [])), source=SRC) for s in sites]
    return pm.Patient(id="p", birth_date=dt.date(1970, 1, 1), sex="female", as_of=AS_OF,
                      diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", extent=extent, date=dx, metastatic_date=met,
                                              metastases=mets, source=SRC)],
                      treatments=list(treatments), assertions=list(assertions))


def run(expr, p, kind="inclusion"):
    c = cm.Criterion(id="I1", kind=kind, text="t", span=(0, 1), expression=expr, status="compiled")
    return evaluate_criterion(c, p, AS_OF)


def run_text(text, p, kind="inclusion"):
    expr, status, reason = compile_criterion_text(text, kind)
    assert expr is not None, (status, reason)
    c = cm.Criterion(id="I1", kind=kind, text=text, span=(0, len(text)), expression=expr, status=status)
    return evaluate_criterion(c, p, AS_OF)


ON_LETROZOLE_PR = pm.Treatment(drugs=["letrozole", "ribociclib"], setting="metastatic", start=dt.date(2026, 2, 1),
                               ongoing=True, best_response="PR", response_ongoing=True, progressed=False, source=SRC)
ON_LETROZOLE_PD = ON_LETROZOLE_PR.model_copy(update={"best_response": "PD", "response_ongoing": False, "progressed": True})
UNCONTROLLED_MULTIPLE = cm.Metastasis(site="multiple", qualifiers=["uncontrolled"])


def test_multiple_metastases_are_two_or_more_sites():
    assert run(cm.Metastasis(site="multiple"), patient(sites=("bone", "lymph_node"))).outcome == "pass"
    assert run(cm.Metastasis(site="multiple"), patient(sites=("bone",))).outcome == "unknown"  # lesions not counted


def test_uncontrolled_metastases_answered_by_the_current_course():
    # partial response on the therapy she is on now: her (extracranial) metastases are controlled
    p = patient(sites=("bone", "lymph_node"), treatments=[ON_LETROZOLE_PR])
    assert run(UNCONTROLLED_MULTIPLE, p, kind="exclusion").outcome == "pass"
    assert run(cm.Metastasis(site="bone", qualifiers=["uncontrolled"]), p, kind="exclusion").outcome == "pass"
    # progressing on it: uncontrolled
    p = patient(sites=("bone", "lymph_node"), treatments=[ON_LETROZOLE_PD])
    assert run(UNCONTROLLED_MULTIPLE, p, kind="exclusion").outcome == "fail"
    # no current therapy: not known
    assert run(UNCONTROLLED_MULTIPLE, patient(sites=("bone", "liver")), kind="exclusion").outcome == "unknown"


def test_brain_metastases_are_not_judged_by_the_systemic_course():
    p = patient(sites=("bone", "brain"), treatments=[ON_LETROZOLE_PR])
    assert run(cm.Metastasis(site="brain", qualifiers=["uncontrolled"]), p, kind="exclusion").outcome == "unknown"


def test_a_later_advanced_line_implies_progression_on_the_one_before():
    lines = [pm.Treatment(drugs=d, setting="metastatic", line=i + 1, source=SRC)
             for i, d in enumerate([["anastrozole", "ribociclib"], ["capecitabine"], ["eribulin"]])]
    expr = cm.PriorTherapy(agents=["systemic_therapy"], lines=cm.Range(low=1), progressed=True)
    o = run(expr, patient(sites=("liver",), treatments=lines), kind="exclusion")
    assert o.outcome == "fail", o.reasons
    # a response recorded on the first line (maintenance may follow it): not implied
    one = [lines[0].model_copy(update={"best_response": "SD"}), lines[1].model_copy(update={"ongoing": True})]
    assert run(expr, patient(sites=("liver",), treatments=one), kind="exclusion").outcome == "unknown"


CNS_PROGRESSION = ("Participants must have had CNS progression after previous CNS-directed therapy (radiation therapy, "
                   "surgery, or any combination of therapy)")


def test_cns_progression_after_cns_directed_therapy():
    untreated = patient(sites=("brain", "bone"), statuses={"brain": ["untreated", "new"]})
    assert run_text(CNS_PROGRESSION, untreated).outcome == "fail"
    stable = patient(sites=("brain",), statuses={"brain": ["treated", "stable"]})
    assert run_text(CNS_PROGRESSION, stable).outcome == "fail"
    progressed = patient(sites=("brain",), statuses={"brain": ["treated", "progressing"]})
    assert run_text(CNS_PROGRESSION, progressed).outcome == "pass"


INOPERABLE = pm.Assertion(subject="disease:inoperable", present=True, source=SRC)


def test_inoperable_disease_meets_unresectable_or_metastatic():
    p = patient(sites=(), extent="locally_advanced", assertions=[INOPERABLE], met=None)
    assert run(cm.DiseaseExtent(allowed=["inoperable", "metastatic"]), p).outcome == "pass"
    assert run(cm.DiseaseExtent(allowed=["inoperable"]), p).outcome == "pass"
    operable = patient(sites=(), extent="locally_advanced", met=None)
    assert run(cm.DiseaseExtent(allowed=["inoperable", "metastatic"]), operable).outcome == "fail"


def test_a_course_for_inoperable_local_disease_is_not_settled_as_outside_the_metastatic_setting():
    neo = pm.Treatment(drugs=["letrozole"], setting="neoadjuvant", start=dt.date(2026, 7, 1), end=dt.date(2026, 10, 1),
                       ongoing=False, progressed=True, source=SRC)
    expr = cm.PriorTherapy(agents=["endocrine_therapy"], settings=["metastatic"], lines=cm.Range(low=1))
    p = patient(sites=(), extent="locally_advanced", assertions=[INOPERABLE], treatments=[neo], met=None)
    assert run(expr, p).outcome == "unknown"
    operable = patient(sites=(), extent="locally_advanced", treatments=[neo], met=None)
    assert run(expr, operable).outcome == "fail"


def test_relapse_window_after_a_course_bounded_by_its_cycles():
    # "EC x4 (2021)", relapse in October 2026: not within 6 months of completing it
    ec = pm.Treatment(drugs=["epirubicin", "cyclophosphamide"], setting="adjuvant", start=dt.date(2021, 1, 1), cycles=4,
                      source=SRC)
    expr = cm.PriorTherapy(agents=["chemotherapy"], settings=["adjuvant"], lines=cm.Range(low=1),
                           relapse_within_after_end=cm.Duration(value=6, unit="month"))
    p = patient(sites=("liver",), treatments=[ec], dx=dt.date(2021, 1, 1), met=dt.date(2026, 9, 28))
    assert run(expr, p).outcome == "fail"
    soon = patient(sites=("liver",), treatments=[ec], dx=dt.date(2021, 1, 1), met=dt.date(2022, 2, 1))
    assert run(expr, soon).outcome == "unknown"  # may be within 6 months of an end not recorded
