"""The most recent course: undated mentions of a dated course, or of a finished one while a dated course goes
on, do not hide which course is her latest; "CT <date>: stable disease" is the response of the course above it."""

from __future__ import annotations

from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient as _note

PROGRESSION = "Has documented radiologic progression (during or after most recent treatment)"


def test_stable_disease_on_the_current_course_fails_progression_on_the_most_recent():
    p = _note("Clinic 16 November 2026. 60 y/o woman with metastatic breast cancer (bone, liver), ER 90%, HER2 0.\n"
              "Prior: adjuvant EC x4.\n"
              "- fulvestrant + abemaciclib Sept 2024 - July 2026 -> PD (new liver lesions).\n"
              "- capecitabine since 5 August 2026, today cycle 5. CT 6 November 2026: stable disease.\n"
              "Opinion: she is benefiting from capecitabine and I would continue it.")
    cape = [t for t in p.treatments if t.drugs == ["capecitabine"] and t.start is not None]
    assert cape and cape[0].best_response == "SD"
    out = evaluate_criterion(_crit(PROGRESSION), p, p.as_of)
    assert out.outcome == "fail", out


def test_progression_on_the_current_course_passes():
    p = _note("Clinic 16 November 2026. 60 y/o woman with metastatic breast cancer (bone, liver), ER 90%, HER2 0.\n"
              "Prior: adjuvant EC x4.\n"
              "- capecitabine since 5 August 2026. CT 1 November 2026: progressive disease in the liver.\n")
    out = evaluate_criterion(_crit(PROGRESSION), p, p.as_of)
    assert out.outcome == "pass", out


def test_an_undated_course_that_may_be_current_still_leaves_it_open():
    p = _note("Clinic 16 November 2026. 60 y/o woman with metastatic breast cancer (bone, liver), ER 90%, HER2 0.\n"
              "- capecitabine from 5 August 2026 to 1 October 2026, stable disease.\n"
              "Now on eribulin.\n")
    out = evaluate_criterion(_crit(PROGRESSION), p, p.as_of)
    assert out.outcome != "fail", out
