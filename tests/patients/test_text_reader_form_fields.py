"""'Field: value' forms (tumour-board submissions): receptor fields, and fields that state an absence."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.patients.text_reader import read_text_patient


def note(text: str):
    return read_text_patient(text, "n.txt", today=dt.date(2026, 12, 3))


@pytest.mark.parametrize("line,score,status", [
    ("HER2: IHC 1+", "1+", "negative"), ("HER2: IHC 3+", "3+", "positive"), ("HER2: (IHC) 0", "0", "negative"),
])
def test_her2_field_with_ihc_after_the_colon(line, score, status):
    p = note(f"Form 2026-11-16\nHistology: invasive ductal carcinoma\nER: 90%\n{line}\nECOG: 0")
    her2 = [b for b in p.biomarkers if b.name == "HER2"]
    assert her2 and her2[0].ihc_score == score and her2[0].status == status


@pytest.mark.parametrize("line", ["Radiotherapy: none", "Prior radiotherapy: nil", "RT: none"])
def test_radiotherapy_field_none_is_an_absence_not_a_procedure(line):
    p = note(f"Form 2026-11-16\nBreast cancer, ER 90%.\n{line}\nECOG: 0")
    assert not [x for x in p.procedures if x.kind == "radiotherapy"]
    assert any(a.subject == "procedure:radiotherapy" and not a.present for a in p.assertions)


def test_surgery_field_biopsy_only_is_not_an_operation():
    p = note("Form 2026-11-16\nBreast cancer, ER 90%.\nPrior surgery: diagnostic core biopsies only\nECOG: 0")
    assert not [x for x in p.procedures if x.kind in ("surgery", "major_surgery")]
    p = note("Form 2026-11-16\nBreast cancer, ER 90%.\nPrior surgery: mastectomy 2024\nECOG: 0")
    assert [x for x in p.procedures if x.kind in ("surgery", "major_surgery")]


@pytest.mark.parametrize("opening,age", [
    ("I would be grateful if you could consider Ms Priya Raman (52, postmenopausal) for the registry.", 52),
    ("Mrs R. Adeyemi, 34 years, G2P1, seen today.", 34),
    ("Mrs Smith, 61, postmenopausal.", 61),
])
def test_age_after_title_first_name_and_surname(opening, age):
    p = note(f"Letter dated 5 November 2026\n{opening}\nBreast cancer, ER 90%.")
    assert p.age_years == age


def test_indented_bullets_are_sentences_of_their_own():
    from trialmatch.patients.text_reader import sentence_starts
    text = ("Dx: metastatic breast cancer, ER 95%.\n"
            " - Line 1: anastrozole + palbociclib Jan 2023 - Mar 2025, progressed.\n"
            "   * Line 2: capecitabine since April 2025.\n")
    starts = sentence_starts(text)
    assert text.index("- Line 1") in starts and text.index("* Line 2") in starts
    p = note("Seen: 06.10.2026\n" + text)
    cape = [t for t in p.treatments if t.drugs == ["capecitabine"] and t.start is not None]
    assert cape and cape[0].progressed is not True and cape[0].ongoing is True


@pytest.mark.parametrize("line", [
    "Staging CT chest/abdomen/pelvis and bone scan (June 2026): no distant metastases.",
    "CT thorax/abdomen/pelvis and bone scintigraphy: no evidence of metastatic disease.",
])
def test_imaged_regions_and_scan_names_are_not_sites_of_disease(line):
    p = note(f"Referral 20 November 2026\nLeft breast IDC, clinical T4b N2, ER 88%.\n{line}")
    assert not [m for d in p.diagnoses for m in d.metastases], [m.site for d in p.diagnoses for m in d.metastases]
    assert p.primary_diagnosis.extent != "metastatic"


@pytest.mark.parametrize("line", [
    "Bone scan: multiple metastases in the spine.", "Bone scan shows metastases in the spine.",
    "Metastatic breast cancer with bone metastases on bone scan.",
])
def test_a_scan_that_shows_metastases_still_gives_the_site(line):
    p = note(f"Clinic 1 November 2026\nBreast cancer, ER 88%.\n{line}")
    assert "bone" in {m.site for d in p.diagnoses for m in d.metastases}
