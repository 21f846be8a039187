"""The course of her disease: response to a therapy she has had (TherapyResponse) and the interval
between two events of her history (EventInterval), on hand-built facts."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.patients import model as pm

from criterion_helpers import compiled_outcome

AS_OF = dt.date(2026, 10, 10)
SRC = pm.Source(kind="json", locator="$.x")


def patient(treatments=None, dx_date=dt.date(2025, 1, 10), met_date=dt.date(2025, 1, 10), **kw) -> pm.Patient:
    base = dict(id="p", birth_date=dt.date(1966, 5, 1), sex="female", as_of=AS_OF,
                diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", stage="IV", date=dx_date, metastatic_date=met_date,
                                        source=SRC)])
    if treatments is not None:
        base["treatments"] = treatments
    base.update(kw)
    return pm.Patient(**base)


def outcome(text: str, p: pm.Patient, kind: str = "inclusion"):
    return compiled_outcome(text, p, AS_OF, kind)


LETROZOLE_SD = pm.Treatment(drugs=["letrozole"], setting="metastatic", line=1, start=dt.date(2025, 2, 1),
                            best_response="SD", response_ongoing=True, ongoing=True, source=SRC)
PACLI_PR_6 = pm.Treatment(drugs=["paclitaxel"], setting="metastatic", line=1, start=dt.date(2025, 2, 1),
                          end=dt.date(2025, 6, 1), cycles=6, best_response="PR", source=SRC)
PACLI_PD_2 = pm.Treatment(drugs=["paclitaxel"], setting="metastatic", line=1, start=dt.date(2026, 8, 1),
                          end=dt.date(2026, 9, 1), cycles=2, best_response="PD", progressed=True, source=SRC)

RESPONSE = "Responding or stable on first-line therapy for at least 6 months"
BY_THERAPY = ("Response or stable disease (RECIST 1.1) after at least 4 cycles of chemotherapy or at least 6 months "
              "of endocrine therapy.")


def test_response_stable_for_six_months_passes():
    o = outcome(RESPONSE, patient([LETROZOLE_SD]))
    assert o.outcome == "pass", o.reasons


def test_response_progression_fails_and_short_course_fails():
    assert outcome(RESPONSE, patient([PACLI_PD_2])).outcome == "fail"
    short_done = LETROZOLE_SD.model_copy(update={"start": dt.date(2026, 6, 1), "end": dt.date(2026, 8, 1),
                                                 "ongoing": False, "response_ongoing": None})
    assert outcome(RESPONSE, patient([short_done])).outcome == "fail"


def test_response_on_an_ongoing_course_not_yet_long_enough_is_unknown():
    # stable on letrozole for 2 months and still on it: it may have lasted 6 months by the time she enrols
    short = LETROZOLE_SD.model_copy(update={"start": dt.date(2026, 8, 1)})
    assert outcome(RESPONSE, patient([short])).outcome == "unknown"
    progressed = short.model_copy(update={"progressed": True, "best_response": "PD", "response_ongoing": False})
    assert outcome(RESPONSE, patient([progressed])).outcome == "fail"


def test_response_with_no_prior_therapy_stated_fails():
    # "Treatment-naive", "No prior cancer treatment": there is no therapy to have responded to
    naive = patient(assertions=[pm.Assertion(subject="prior_therapy:any:any", present=False, source=SRC)])
    o = outcome(BY_THERAPY, naive)
    assert o.outcome == "fail", o.reasons
    assert outcome(BY_THERAPY, patient()).outcome == "unknown"  # nothing said: not known


def test_adjuvant_therapy_has_no_recist_response():
    # adjuvant tamoxifen for 5 years, then relapse: no measurable disease was treated, so no CR/PR/SD on it
    tam = pm.Treatment(drugs=["tamoxifen"], setting="adjuvant", start=dt.date(2013, 1, 1), end=dt.date(2018, 1, 1),
                       ongoing=False, source=SRC)
    p = patient([tam], dx_date=dt.date(2013, 1, 1), met_date=dt.date(2026, 9, 1))
    assert outcome(BY_THERAPY, p).outcome == "fail"


def test_interval_after_a_recurrence_holds_only_for_both_dates():
    text = "The time from diagnosis or systemic treatment to randomization does not exceed 1 year"
    adj = pm.Treatment(drugs=["tamoxifen"], setting="adjuvant", start=dt.date(2020, 1, 1), end=dt.date(2025, 1, 1),
                       ongoing=False, source=SRC)
    met = pm.Treatment(drugs=["letrozole", "ribociclib"], setting="metastatic", start=dt.date(2026, 9, 1), ongoing=True,
                       source=SRC)
    # first diagnosis 2020, relapse 2026: which diagnosis (and which treatment) is meant is not settled
    o = outcome(text, patient([adj, met], dx_date=dt.date(2020, 1, 1), met_date=dt.date(2026, 8, 20)))
    assert o.outcome == "unknown", o.reasons
    # both long ago: fails
    met_old = met.model_copy(update={"start": dt.date(2024, 2, 1)})
    o = outcome(text, patient([adj, met_old], dx_date=dt.date(2019, 1, 1), met_date=dt.date(2024, 1, 1)))
    assert o.outcome == "fail", o.reasons
    # de novo: one diagnosis, recent
    o = outcome(text, patient([met], dx_date=dt.date(2026, 8, 1), met_date=dt.date(2026, 8, 1)))
    assert o.outcome == "pass", o.reasons


def test_interval_to_recurrence_starts_at_the_first_diagnosis():
    text = "Disease free interval less than or equal to 36 months."
    assert outcome(text, patient(dx_date=dt.date(2015, 1, 1), met_date=dt.date(2022, 1, 1))).outcome == "fail"


def test_interval_from_first_treatment_with_an_undated_course():
    # one course undated, another started years ago: the first start is earlier still, the interval too long
    text = "The time from systemic treatment to randomization does not exceed 1 year"
    old = pm.Treatment(drugs=["letrozole"], setting="metastatic", start=dt.date(2022, 1, 1), end=dt.date(2024, 1, 1),
                       ongoing=False, source=SRC)
    undated = pm.Treatment(drugs=["capecitabine"], setting="metastatic", source=SRC)
    o = outcome(text, patient([old, undated], dx_date=dt.date(2021, 12, 1), met_date=dt.date(2021, 12, 1)))
    assert o.outcome == "fail", o.reasons


def test_response_unknown_names_the_missing_fact():
    no_resp = LETROZOLE_SD.model_copy(update={"best_response": None, "response_ongoing": None})
    o = outcome(RESPONSE, patient([no_resp]))
    assert o.outcome == "unknown"
    assert any(m.fact == "treatment_history:best_response" for m in o.missing), o.missing
    o = outcome(RESPONSE, patient())
    assert o.outcome == "unknown" and o.missing[0].fact == "treatment_history"


def test_response_per_therapy_limits():
    assert outcome(BY_THERAPY, patient([PACLI_PR_6])).outcome == "pass"
    four_short = PACLI_PR_6.model_copy(update={"cycles": 3})
    assert outcome(BY_THERAPY, patient([four_short])).outcome == "fail"
    no_cycles = PACLI_PR_6.model_copy(update={"cycles": None})
    o = outcome(BY_THERAPY, patient([no_cycles]))
    assert o.outcome == "unknown" and any(m.fact == "treatment_history:cycles" for m in o.missing)


def test_interval_from_diagnosis_to_enrolment():
    text = "The time from diagnosis to randomization does not exceed 1 year"
    assert outcome(text, patient(dx_date=dt.date(2026, 3, 1))).outcome == "pass"
    assert outcome(text, patient(dx_date=dt.date(2024, 3, 1))).outcome == "fail"
    o = outcome(text, patient(dx_date=None))
    assert o.outcome == "unknown" and o.missing[0].fact == "diagnosis.date"


def test_disease_free_interval():
    text = "Disease free interval less than or equal to 36 months."
    assert outcome(text, patient(dx_date=dt.date(2020, 1, 1), met_date=dt.date(2022, 1, 1))).outcome == "pass"
    assert outcome(text, patient(dx_date=dt.date(2015, 1, 1), met_date=dt.date(2022, 1, 1))).outcome == "fail"
    o = outcome(text, patient(met_date=None))
    assert o.outcome == "unknown" and o.missing[0].fact == "diagnosis.metastatic_date"


def test_atoms_describe_and_round_trip():
    a = cm.EventInterval(start="diagnosis", end="recurrence", comparator="<=", duration=cm.Duration(value=36, unit="month"))
    assert a.describe() == "time from diagnosis to recurrence ≤ 36 months"
    assert cm.expression_from_dict(a.to_dict()) == a
    r = cm.TherapyResponse(responses=["CR", "PR"], min_cycles=4)
    assert cm.expression_from_dict(r.to_dict()) == r


def test_progression_on_or_after_most_recent_therapy():
    text = "Has documented radiologic progression (during or after most recent treatment)"
    pd_after_pr = pm.Treatment(drugs=["letrozole", "palbociclib"], setting="metastatic", line=1, start=dt.date(2025, 2, 1),
                               best_response="PR", progressed=True, progression_date=dt.date(2026, 9, 1), source=SRC)
    assert outcome(text, patient([pd_after_pr])).outcome == "pass"
    assert outcome(text, patient([LETROZOLE_SD])).outcome == "fail"
    assert outcome(text, patient([PACLI_PR_6, PACLI_PD_2])).outcome == "pass"  # the most recent progressed
    no_pd = pm.Treatment(drugs=["letrozole"], setting="metastatic", start=dt.date(2026, 3, 1), ongoing=True,
                         progressed=False, source=SRC)
    assert outcome(text, patient([no_pd])).outcome == "fail"
