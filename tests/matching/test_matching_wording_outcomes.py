"""Matcher-level effects of the TREC CT 2021 fixes: patient facts read from notes and compiled criteria."""

from __future__ import annotations

from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient as _note




def test_age_group_requirement_does_not_fail_a_patient_of_another_age():
    p = _note("A 41-year-old woman with major depressive disorder on antidepressants for 6 months.")
    out = evaluate_criterion(_crit("Subjects aged 45-70 must provide a normal mammogram report"), p, p.as_of)
    assert out.outcome != "fail"
    p = _note("A 52-year-old woman with major depressive disorder on antidepressants for 6 months.")
    out = evaluate_criterion(_crit("Subjects aged 45-70 must provide a normal mammogram report"), p, p.as_of)
    assert out.outcome == "confirm"


def test_drug_of_a_past_regimen_is_not_a_current_medication():
    p = _note("A 66-year-old man with multiple myeloma. He was initially treated with melphalan and prednisone, "
              "followed by autologous stem cell transplant.")
    assert "prednisone" not in {m.name for m in p.medications}
    assert any("melphalan" in t.drugs for t in p.treatments)
    out = evaluate_criterion(_crit("No concurrent corticosteroids", "inclusion"), p, p.as_of)
    assert out.outcome != "fail"
    # a recent change of a current drug stays current
    p = _note("A 39-year-old man with asthma. He doubled his oral corticosteroids in the past week.")
    assert "oral corticosteroids" in {m.name for m in p.medications}


def test_graded_condition_is_open_when_her_grade_is_not_recorded():
    p = _note("70 year-old woman with pancreatic adenocarcinoma. Past Medical History: Atrial fibrillation.")
    out = evaluate_criterion(_crit("Cardiac disease (arrhythmia Lown III/IV)", "exclusion"), p, p.as_of)
    assert out.outcome == "unknown"


def test_steroid_dose_limit_is_open_when_her_dose_is_not_recorded():
    p = _note("A 39-year-old man with asthma. He currently takes prednisone.")
    out = evaluate_criterion(_crit("No concurrent corticosteroids (<= 10 mg prednisone/day or equivalent allowed)"),
                             p, p.as_of)
    assert out.outcome == "unknown"
