"""A numbered line with a later line recorded after it is over (no dates needed)."""

from __future__ import annotations

from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient as _note

NOTE = ("Clinic letter 30 Oct 2026\n58-year-old woman with HR+/HER2- metastatic breast cancer (liver), ER 85%, HER2 0.\n"
        "Prior lines for MBC: letrozole + palbociclib, capecitabine, eribulin (3 lines; 2 of them chemotherapy).\n")



def test_an_earlier_numbered_line_is_not_what_she_receives_now():
    p = _note(NOTE)
    assert [t.line for t in p.treatments] == [1, 2, 3]
    c = _crit("Patients receiving systemic therapy with capecitabine for metastatic disease")
    assert evaluate_criterion(c, p).outcome == "fail"
    last = _crit("Patients receiving systemic therapy with eribulin for metastatic disease")
    assert evaluate_criterion(last, p).outcome != "fail"  # the last line listed may still be given


def test_adjuvant_therapy_is_open_when_her_early_disease_is_not_told():
    c = _crit("Prior therapy with an anthracycline and a taxane in an adjuvant setting.")
    referral = ("Radiotherapy referral - 11 November 2026\nPatient: 61-year-old woman with ER+ (ER 60%), HER2-negative "
                "metastatic breast cancer.\nCurrent treatment: capecitabine since July 2026 (second line after PD on "
                "anastrozole + abemaciclib 2024-2026).\n")
    assert evaluate_criterion(c, _note(referral)).outcome == "unknown"
    de_novo = ("Clinic letter 13 Oct 2026\n56F pmp. De novo MBC Jan 2026 - mets to liver/lung, ER 99% PR 80% HER2 1+.\n"
               "1st line letrozole Feb 2026 -> PD on letrozole at 4 months (June 2026).\n")
    assert evaluate_criterion(c, _note(de_novo)).outcome == "fail"
