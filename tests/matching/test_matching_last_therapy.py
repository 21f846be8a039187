"""Criteria about her most recent therapy, judgements of fitness, reasons given in a criterion, and current
medications with non-cancer uses."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.criteria.model import iter_atoms
from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient as _note

_LAST = "Metastatic breast cancer that has progressed on or after the last anti-cancer therapy."




def test_last_therapy_criterion_compiles_to_the_most_recent_line():
    c = _crit(_LAST)
    pt = [a for a in iter_atoms(c.expression) if isinstance(a, cm.PriorTherapy)]
    assert pt and pt[0].most_recent and pt[0].progressed
    other = _crit("Progressed on prior endocrine therapy.")
    assert not any(getattr(a, "most_recent", None) for a in iter_atoms(other.expression))


def test_response_on_her_latest_line_means_no_progression_on_it():
    p = _note("Clinic letter 13 Oct 2026\n56F pmp. De novo MBC Jan 2026 - mets to liver/lung, ER 99% PR 80% HER2 1+.\n"
              "1st line letrozole alone Feb 2026 -> PD on letrozole at 4 months (June 2026).\n"
              "2nd line paclitaxel weekly x 12 (Jul-Sep 2026), PR, now off treatment.\nECOG 1.")
    out = evaluate_criterion(_crit(_LAST), p, p.as_of)
    assert out.outcome == "fail", out.reason
    # progression on her latest line passes
    p = _note("Clinic letter 13 Oct 2026\n56F pmp. De novo MBC Jan 2026 - mets to liver, ER 99% HER2 1+.\n"
              "1st line letrozole + palbociclib Feb 2026, PD on letrozole/palbo Sep 2026.\nECOG 1.")
    assert evaluate_criterion(_crit(_LAST), p, p.as_of).outcome == "pass"


def test_ongoing_first_line_with_partial_response_has_not_progressed():
    p = _note("Seen on 2 Nov 2026. 55-year-old woman with metastatic breast cancer diagnosed August 2026. ER 70%, "
              "HER2 3+. First-line docetaxel, trastuzumab and pertuzumab started 25 August 2026, partial response "
              "after 4 cycles on CT 27/10/2026.")
    out = evaluate_criterion(_crit(_LAST), p, p.as_of)
    assert out.outcome == "fail", out.reason


def test_fitness_for_a_therapy_to_come_is_a_judgement_not_a_prior_therapy():
    c = _crit("The Investigator believes the subject to be medically unfit to receive eribulin or unsuitable for "
              "any other reason.", "exclusion")
    assert c.status == "needs_confirmation"
    assert not any(isinstance(a, cm.PriorTherapy) for a in iter_atoms(c.expression))


def test_the_reason_given_for_a_criterion_is_not_a_requirement():
    c = _crit("Subjects who are known to be human immunodeficiency virus positive because the neutropenia caused "
              "by the eribulin treatment may make such subjects particularly susceptible to infection.", "exclusion")
    atoms = list(iter_atoms(c.expression))
    assert any(isinstance(a, cm.Infection) and a.pathogen == "hiv" for a in atoms)
    assert not any(isinstance(a, cm.PriorTherapy) for a in atoms)


def test_methotrexate_for_arthritis_is_not_recent_chemotherapy_but_is_an_immunosuppressant():
    p = _note("Seen on 30 Oct 2026. 54-year-old woman with HR+/HER2- metastatic breast cancer. Prior lines: "
              "capecitabine 2023-2024, eribulin 2025-2026 (PD). Comorbidity: rheumatoid arthritis on methotrexate.")
    out = evaluate_criterion(_crit("Chemotherapy within 2 weeks.", "exclusion"), p, p.as_of)
    assert out.outcome != "fail", out.reason
    # an immunosuppressant exclusion still holds for it
    out = evaluate_criterion(_crit("Current use of immunosuppressive medications.", "exclusion"), p, p.as_of)
    assert out.outcome == "fail", out.reason


def test_a_response_assessed_on_a_date_keeps_the_course_given_until_then():
    p = _note("Seen on 2 Nov 2026. 55-year-old woman with metastatic breast cancer diagnosed August 2026. ER 70%, "
              "HER2 3+. First-line docetaxel, trastuzumab and pertuzumab started 25 August 2026, partial response "
              "after 4 cycles on CT 27/10/2026.")
    t = next(t for t in p.treatments if "docetaxel" in t.drugs)
    assert t.response_date is not None and t.response_date.isoformat() == "2026-10-27"
    out = evaluate_criterion(_crit("Received chemotherapy within 4 weeks prior to the first dose of study drug.",
                                   "exclusion"), p, p.as_of)
    assert out.outcome == "fail", out.reason


_DOCETAXEL = "Received prior docetaxel treatment, except adjuvant docetaxel given > 1 year prior to first dose of study drug"


def test_an_exception_for_the_same_drug_in_one_setting_excuses_that_setting_only():
    c = _crit(_DOCETAXEL, "exclusion")
    assert isinstance(c.expression, cm.Except) and c.expression.main.settings == ["any"]
    metastatic = _note("Oncology clinic, 8 November 2026. 65-year-old woman with metastatic breast cancer since 2024. "
                       "Treated with docetaxel-trastuzumab-pertuzumab 2024, progression October 2026.")
    assert evaluate_criterion(c, metastatic, metastatic.as_of).outcome == "fail"
    long_ago = _note("Oncology clinic, 8 November 2026. 60-year-old woman, breast cancer 2017 treated with adjuvant "
                     "docetaxel-cyclophosphamide x4 (2017). Metastatic relapse 2026, no treatment yet for it.")
    assert evaluate_criterion(c, long_ago, long_ago.as_of).outcome == "pass"


def test_a_course_that_ended_exactly_the_washout_ago_is_outside_the_window():
    base = ("Neuro-oncology MDT summary - 24 November 2026\n\n49-year-old woman, HR+/HER2- metastatic breast cancer. "
            "Treatment: letrozole + ribociclib 2023-2025 (PD), then eribulin 4 cycles. Last eribulin dose {}.")
    c = _crit("Chemotherapy within 2 weeks.", "exclusion")
    day14 = _note(base.format("10/11/2026"))
    assert evaluate_criterion(c, day14, day14.as_of).outcome == "pass"   # 14 days: "≥ 2 weeks" since the last dose
    day13 = _note(base.format("11/11/2026"))
    assert evaluate_criterion(c, day13, day13.as_of).outcome == "fail"
