"""Reader classes found on the dev2 notes, on letters written for this test: infection test results written
after the mention, age after a title and a full name, "Seen:" / mid-line "Date:" labels, indented bullet
lines as sentences, a course's last dose, bare "since", a progression spoken of as future."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.patients.report import read_patient_with_report


def read(text: str):
    return read_patient_with_report(data=text.encode("utf-8"), file_name="letter.txt", fmt="text").patient


def absent(p, key):
    return any(a.subject == f"condition:{key}" and a.present is False for a in p.assertions)


@pytest.mark.parametrize("line, negative, positive", [
    ("HIV, HBsAg, HCV Ab: all neg (Oct 2026).", {"hiv", "hcv"}, set()),
    ("HIV, hepatitis B and hepatitis C serology negative (October 2026).", {"hiv", "hbv", "hcv"}, set()),
    ("HIV neg. No other cancers.", {"hiv"}, set()),
    ("Hepatitis C antibody non-reactive.", {"hcv"}, set()),
    ("HIV positive, HBV negative.", {"hbv"}, {"hiv"}),
    ("Known HIV, viral load undetectable.", set(), {"hiv"}),
    ("Hepatitis B carrier, HIV negative.", {"hiv"}, {"hbv"}),
])
def test_infection_result_written_after_the_mention(line, negative, positive):
    p = read("Clinic note 01/10/2026\n60F, postmenopausal. " + line + "\n")
    assert {k for k in ("hiv", "hbv", "hcv") if absent(p, k)} == negative
    assert {c.name for c in p.conditions} & {"hiv", "hbv", "hcv"} == positive


def test_negative_result_is_for_tests_not_other_conditions():
    p = read("Clinic note 01/10/2026\n60F. Diabetes, HIV negative.\n")
    assert "diabetes" in {c.name for c in p.conditions} and absent(p, "hiv")


@pytest.mark.parametrize("line, age", [
    ("Patient: Mrs Gwen Talbot, 68, postmenopausal.", 68), ("Re: Mrs Helen Marsh, 63 years", 63),
    ("Ms T. Kowalczyk, 42, premenopausal.", 42), ("Mrs F (51, postmenopausal)", 51),
])
def test_age_after_title_and_full_name(line, age):
    assert read("Clinic note 01/10/2026\n" + line + "\n").age_years == age


@pytest.mark.parametrize("head, date", [
    ("Nurse-led toxicity clinic\nSeen: 06.10.2026   By: S. Whitfield, Nurse Practitioner\n", dt.date(2026, 10, 6)),
    ("Referral to breast MDT\nFrom: Dr P. Agarwal   Date: 20 November 2026\n", dt.date(2026, 11, 20)),
])
def test_seen_and_mid_line_date_labels(head, date):
    assert read(head + "\n62F, postmenopausal, ECOG 1.\n").as_of == date


def test_indented_bullets_are_sentences_of_their_own():
    p = read("Seen: 06.10.2026\n - Line 1: anastrozole Jan 2023 - Mar 2025, progressed.\n"
             " - Line 2: capecitabine since April 2025. Now cycle 20 day 5.\n")
    ana = next(t for t in p.treatments if t.drugs == ["anastrozole"])
    cape = next(t for t in p.treatments if t.drugs == ["capecitabine"])
    assert ana.progressed is True
    assert cape.ongoing is True and cape.progressed is not True and cape.start == dt.date(2025, 4, 1)


def test_last_dose_date_ends_the_course_and_bare_since_is_not_ongoing():
    p = read("12 October 2026\nRe: Mrs Helen Marsh, 63 years\nMetastatic breast cancer (liver).\n"
             "The last tablets of letrozole and ribociclib were taken on 20 September 2026 and she has had no "
             "anticancer treatment since.\n")
    last = [t for t in p.treatments if "ribociclib" in t.drugs][-1]
    assert last.end == dt.date(2026, 9, 20) and last.ongoing is False


def test_progression_spoken_of_as_future_is_not_a_progression():
    p = read("11 Nov 2026 - review\nMetastatic breast cancer, lung metastases.\n"
             "- Sacituzumab govitecan since 28 Oct 2026; C1D8 given 4 Nov. Tolerating ok.\n"
             "Plan: C2D1 18 Nov. Discussed PARP inhibitor trial for PALB2 carriers at progression.\n")
    sg = next(t for t in p.treatments if t.drugs == ["sacituzumab govitecan"])
    assert sg.progressed is not True and sg.ongoing is not False


@pytest.mark.parametrize("line, settled", [
    ("No evidence of distant disease; staging not indicated.", True),
    ("No signs of distant metastases.", True),
    ("No distant metastases on staging PET-CT (25/11/2026).", False),  # what the scan covers: not everything
])
def test_no_evidence_of_distant_disease(line, settled):
    p = read("Post-operative clinic - 14/10/2026\n44 y/o woman. Left breast IDC, pT1c pN0.\n" + line + "\n")
    assert any(a.subject == "metastasis:any" and a.present is False for a in p.assertions) is settled


@pytest.mark.parametrize("line, want", [
    ("Germline: PALB2 pathogenic variant (heterozygous), BRCA1/BRCA2 no variant detected.",
     {"PALB2": "mutated", "BRCA1": "wildtype", "BRCA2": "wildtype"}),
    ("Germline panel (BRCA1, PALB2, CHEK2, ATM): no pathogenic variant.",
     {"BRCA1": "wildtype", "PALB2": "wildtype", "CHEK2": "wildtype", "ATM": "wildtype"}),
])
def test_a_gene_result_before_the_next_gene_is_its_own(line, want):
    p = read("Clinic note 01/10/2026\n53F. " + line + "\n")
    assert {g.gene: g.status for g in p.genes if g.gene in want} == want
