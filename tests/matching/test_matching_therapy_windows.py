"""Therapy windows ("chemotherapy within 4 weeks", "currently receiving"): when a course may have ended
(``end_bounds``) and whether that settles the window, on hand-built facts."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 11, 12)
SRC = pm.Source(kind="json", locator="$.x")
WITHIN_4W = "Received chemotherapy within 4 weeks prior to the first dose of study drug."


def patient(*treatments, met_date=dt.date(2025, 3, 1)) -> pm.Patient:
    return pm.Patient(id="p", birth_date=dt.date(1966, 5, 1), sex="female", as_of=AS_OF, treatments=list(treatments),
                      diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", date=dt.date(2023, 1, 1),
                                              metastatic_date=met_date, source=SRC)])


def outcome(text: str, p: pm.Patient, kind: str = "exclusion") -> str:
    expr, status, reason = compile_criterion_text(text, kind)
    assert status == "compiled", (status, reason)
    c = cm.Criterion(id="E1", kind=kind, text=text, span=(0, len(text)), expression=expr, status=status)
    return evaluate_criterion(c, p, AS_OF).outcome


def course(drugs, **kw) -> pm.Treatment:
    return pm.Treatment(drugs=drugs, source=SRC, **kw)


def test_ongoing_course_is_within_any_window():
    p = patient(course(["capecitabine"], setting="metastatic", start=dt.date(2026, 7, 1), ongoing=True))
    assert outcome(WITHIN_4W, p) == "fail"


def test_course_ended_by_the_start_of_a_later_line_is_outside_the_window():
    # paclitaxel x6 (no end stated), then letrozole + ribociclib from a date more than 4 weeks ago
    p = patient(course(["paclitaxel"], start=dt.date(2025, 4, 1), cycles=6, best_response="SD"),
                course(["letrozole", "ribociclib"], start=dt.date(2026, 9, 10), ongoing=True))
    assert outcome(WITHIN_4W, p) == "pass"


def test_finished_course_without_end_date_leaves_the_window_unknown():
    # over (stated cycles), nothing after it: it may have ended yesterday or months ago
    p = patient(course(["paclitaxel"], setting="metastatic", start=dt.date(2026, 7, 1), cycles=12))
    assert outcome(WITHIN_4W, p) == "unknown"


def test_course_that_progressed_inside_the_window_was_given_inside_it():
    p = patient(course(["eribulin"], ongoing=False, progressed=True, cycles=4, progression_date=dt.date(2026, 11, 1)))
    assert outcome(WITHIN_4W, p) == "fail"


def test_adjuvant_course_ended_by_the_metastatic_relapse():
    p = patient(course(["docetaxel", "cyclophosphamide"], setting="adjuvant", start=dt.date(2018, 1, 1)))
    assert outcome(WITHIN_4W, p) == "pass"


def test_end_written_as_a_year_is_any_day_of_that_year():
    # "capecitabine 2025-2026" as the reader gives it: 1 January 2025 to the note's date
    p = patient(course(["capecitabine"], start=dt.date(2025, 1, 1), end=AS_OF, ongoing=False, progressed=True))
    assert outcome(WITHIN_4W, p) == "unknown"
    exact = patient(course(["capecitabine"], start=dt.date(2025, 3, 14), end=dt.date(2026, 11, 2), ongoing=False))
    assert outcome(WITHIN_4W, exact) == "fail"


def test_course_not_said_to_be_over_and_nothing_after_it_runs_to_today():
    p = patient(course(["capecitabine"], setting="metastatic", start=dt.date(2026, 7, 1)))
    assert outcome(WITHIN_4W, p) == "fail"


def test_currently_receiving_needs_the_course_to_run_to_today():
    text = "Patients currently receiving chemotherapy"
    over = patient(course(["docetaxel", "cyclophosphamide"], setting="adjuvant", start=dt.date(2018, 1, 1)))
    assert outcome(text, over) == "pass"
    now = patient(course(["capecitabine"], setting="metastatic", start=dt.date(2026, 7, 1), ongoing=True))
    assert outcome(text, now) == "fail"


def test_adjuvant_course_of_a_patient_now_metastatic_is_not_still_given():
    # no relapse date to bound it, but her disease is metastatic now: the adjuvant course is over, when is unknown
    p = pm.Patient(id="p", birth_date=dt.date(1966, 5, 1), sex="female", as_of=AS_OF,
                   treatments=[course(["docetaxel"], setting="adjuvant", start=dt.date(2015, 1, 1))],
                   diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", extent="metastatic", source=SRC)])
    assert outcome(WITHIN_4W, p) == "unknown"
