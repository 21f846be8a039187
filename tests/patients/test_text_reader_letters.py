"""A robustness set of short clinic letters written for this test (not the labelled dev or
held-out notes), each with the facts a careful reader takes from it: the record's date, stated
absences, labs as clinicians write them, treatment courses (setting, years, cycles, best
response, months to progression, relapse interval), clinic shorthand and receptor wordings."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.patients.report import read_patient_with_report


def read(text: str):
    r = read_patient_with_report(data=text.encode("utf-8"), file_name="letter.txt", fmt="text")
    return r, r.patient


def lab(p, analyte):
    return next(x for x in p.labs if x.analyte == analyte)


def statement(p, analyte):
    return next(x for x in p.lab_statements if x.analyte == analyte)


def bio(p, name):
    return [b for b in p.biomarkers if b.name == name]


def history(p):
    return {(h.therapy, h.setting, h.received) for h in p.history_statements}


def course(p, *drugs):
    return next(t for t in p.treatments if tuple(t.drugs) == drugs)


def test_letter_1_terse_pd_on_ai_and_cdk():
    r, p = read("Oncology clinic 02/12/2026\n"
                "71F, pmp. ER 95% PR 30% HER2 0. IDC R breast 2017, T1N0.\n"
                "Adj anastrozole 2017-2022. Mets to bone/lung Jun 2024.\n"
                "1st line anastrozole + ribociclib from Jul 2024, PD on anastrozole/ribo Nov 2026.\n"
                "No chemo ever. ECOG 1.\n"
                "Bloods 28/11/2026: Hb 121 g/L, neut 2.8, plt 201, bili 9 umol/L, ALT 1.5 x ULN, creat 66.\n")
    assert p.as_of == dt.date(2026, 12, 2) and r.as_of_source.locator == "Oncology clinic 02/12/2026"
    assert (p.age_years, p.sex, p.menopausal_status) == (71.0, "female", "postmenopausal")
    dx = p.primary_diagnosis
    assert (dx.date, dx.metastatic_date) == (dt.date(2017, 1, 1), dt.date(2024, 6, 1))
    assert {m.site for m in dx.metastases} == {"bone", "lung"}
    adj = course(p, "anastrozole")
    assert (adj.setting, adj.start, adj.end) == ("adjuvant", dt.date(2017, 1, 1), dt.date(2022, 12, 31))
    first = course(p, "anastrozole", "ribociclib")
    assert (first.setting, first.line, first.start, first.progressed, first.progression_date) == (
        "metastatic", 1, dt.date(2024, 7, 1), True, dt.date(2026, 11, 1))
    assert len(p.treatments) == 2
    assert ("chemotherapy", "any", "none") in history(p)
    assert lab(p, "hemoglobin").value == 121 and lab(p, "hemoglobin").date == dt.date(2026, 11, 28)
    assert lab(p, "alt").uln_multiple == 1.5
    assert lab(p, "creatinine").unit_note  # "creat 66": the usual unit, said so
    assert [b.ihc_score for b in bio(p, "HER2")] == ["0"]


def test_letter_2_er_low_her2_pending_and_adjuvant_chemo():
    r, p = read("Breast clinic, 14 November 2026\n\n"
                "Mrs N, 53, postmenopausal. Original 2020 tumour: ER-low (5%), PR negative, HER2 2+, FISH not amplified.\n"
                "Adjuvant: FEC x3 then docetaxel x3 (2020), no endocrine therapy (ER-low).\n"
                "New liver metastases on CT 01/11/2026 (largest 27 mm). Liver biopsy 05/11/2026: ER-low (5%); "
                "HER2 testing pending.\n"
                "No systemic therapy yet for metastatic disease. ECOG 0.\n"
                "Bloods 10/11/2026: Hb 11.8 g/dL, neutrophils 3.9 x 10^9/L, platelets 244 x 10^9/L, "
                "bilirubin normal, ALT 3 x ULN, AST 2.5 x ULN, creatinine normal.\n")
    assert p.as_of == dt.date(2026, 11, 14)
    er = bio(p, "ER")
    assert er and all(b.status == "low" for b in er) and {b.percent for b in er} == {5.0}
    her2 = bio(p, "HER2")
    assert any(b.status == "unknown" and b.date == dt.date(2026, 11, 5) for b in her2)  # pending on the new sample
    assert any(b.ihc_score == "2+" and b.ish == "negative" for b in her2)
    assert not [g for g in p.genes if g.gene == "HER2"]
    fec = next(t for t in p.treatments if "epirubicin" in t.drugs)
    doc = course(p, "docetaxel")
    assert (fec.setting, fec.cycles, doc.setting, doc.cycles) == ("adjuvant", 3, "adjuvant", 3)
    assert ("endocrine_therapy", "any", "none") in history(p)
    assert ("systemic_therapy", "advanced", "none") in history(p)
    assert statement(p, "total_bilirubin").finding == "normal" and statement(p, "creatinine").finding == "normal"
    assert lab(p, "ast").uln_multiple == 2.5
    assert p.primary_diagnosis.metastatic_date == dt.date(2026, 11, 1)
    assert p.primary_diagnosis.measurable_disease is True


def test_letter_3_relapse_interval_after_adjuvant_tamoxifen():
    r, p = read("Seen on 20 Oct 2026\n"
                "48-year-old premenopausal woman. Left breast cancer 2018, ER 90%, PR 80%, HER2 1+.\n"
                "Wide local excision, adjuvant tamoxifen 2018-2023.\n"
                "She relapsed 10 months after finishing five years of adjuvant tamoxifen (bone, liver; CT 02/10/2026).\n"
                "Not on ovarian suppression. Not pregnant. No chemotherapy.\n"
                "Labs 15/10/2026: CBC within normal limits; LFTs normal.\n")
    assert p.as_of == dt.date(2026, 10, 20)
    assert len(p.treatments) == 1
    tam = p.treatments[0]
    assert (tam.setting, tam.relapse_months_after_end, tam.progressed) == ("adjuvant", 10.0, False)
    assert p.primary_diagnosis.metastatic_date == dt.date(2026, 10, 2)
    assert p.ovarian_suppression is False and p.pregnant is False
    assert {s.analyte for s in p.lab_statements if s.finding == "normal"} >= {"hemoglobin", "platelets", "alt", "ast"}
    assert [s.text for s in r.unread] == []


def test_letter_4_lines_listed_without_dates():
    r, p = read("Phase I unit, 3 December 2026\n"
                "60F pmp, heavily pretreated HR+/HER2-low MBC (liver, lung, nodes).\n"
                "Prior lines for MBC: letrozole + abemaciclib, fulvestrant + capivasertib, capecitabine, "
                "trastuzumab deruxtecan (4 lines; 2 of them chemotherapy).\n"
                "Adjuvant EC x4 2016. ECOG 1. No brain metastases on MRI 11/2026.\n"
                "Bloods 01/12/2026: Hb 10.4 g/dL, ANC 1.6, platelets 118, bilirubin 1.3 x ULN, ALT 2 x ULN.\n")
    met = [t for t in p.treatments if t.setting == "metastatic"]
    assert [t.drugs for t in met] == [["letrozole", "abemaciclib"], ["fulvestrant", "capivasertib"], ["capecitabine"],
                                      ["trastuzumab deruxtecan"]]
    assert [t.line for t in met] == [1, 2, 3, 4]
    ec = next(t for t in p.treatments if "epirubicin" in t.drugs)
    assert (ec.setting, ec.cycles, ec.start) == ("adjuvant", 4, dt.date(2016, 1, 1))
    assert any(a.subject == "metastasis:brain" and not a.present for a in p.assertions)
    assert lab(p, "total_bilirubin").uln_multiple == 1.3


def test_letter_5_response_ongoing_and_best_response_in_its_own_sentence():
    r, p = read("Clinic letter 9 Dec 2026\n"
                "57F, pmp. De novo MBC (bone only) dx Mar 2026, ER 85% PR 60% HER2 1+ (HER2-low).\n"
                "Fulvestrant + ribociclib since April 2026. Stable disease on ribociclib at 8 months (bone scan 01/12/2026).\n"
                "No prior radiotherapy. No other malignancy. ECOG 0.\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert (t.setting, t.start, t.end, t.best_response, t.progressed) == (
        "metastatic", dt.date(2026, 4, 1), None, "SD", False)
    dx = p.primary_diagnosis
    assert (dx.date, dx.metastatic_date) == (dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    assert any(a.subject == "metastasis:liver" and not a.present for a in p.assertions)  # bone only
    assert [b.status for b in bio(p, "HER2")] == ["low"]
    assert any(a.subject == "other_malignancy" and not a.present for a in p.assertions)
    assert not [a for a in p.assertions if a.subject.startswith("cancer:")]


def test_letter_6_current_line_with_the_previous_one_in_brackets():
    r, p = read("Acute oncology review - 30 November 2026\n"
                "66-year-old woman with ER 90%/PR 0%/HER2 0 metastatic breast cancer (liver) since 2023, on capecitabine "
                "since June 2026 (second line after PD on letrozole + palbociclib 2023-2026).\n"
                "ECOG 2. Bloods 29/11/2026: Hb 9.9 g/dL, ANC 1.4, platelets 99, bilirubin 2.1 x ULN, ALT 4 x ULN, "
                "creatinine normal.\n")
    cap, prior = course(p, "capecitabine"), course(p, "letrozole", "palbociclib")
    assert (cap.line, cap.start, cap.ongoing, cap.setting) == (2, dt.date(2026, 6, 1), True, "metastatic")
    assert (prior.progressed, prior.setting, prior.start) == (True, "metastatic", dt.date(2023, 1, 1))
    assert p.primary_diagnosis.metastatic_date == dt.date(2023, 1, 1)
    assert lab(p, "alt").uln_multiple == 4.0 and statement(p, "creatinine").finding == "normal"
    assert [b.percent for b in bio(p, "PR")] == [0.0] and bio(p, "PR")[0].status == "negative"


def test_letter_7_months_to_progression_and_then():
    r, p = read("Date: 2026-11-27\n"
                "Patient: 64-year-old postmenopausal woman, metastatic breast cancer (lung, nodes).\n"
                "History: adjuvant exemestane 2014-2019. Relapse with lung metastases May 2022; first-line letrozole "
                "from June 2022, progressed on letrozole after 19 months (January 2024); then fulvestrant + everolimus, "
                "progressed October 2026.\n"
                "Has not received chemotherapy. No CDK4/6 inhibitor.\n")
    assert p.as_of == dt.date(2026, 11, 27)
    let, ful = course(p, "letrozole"), course(p, "fulvestrant", "everolimus")
    assert (let.line, let.start, let.months_to_progression, let.progression_date) == (
        1, dt.date(2022, 6, 1), 19.0, dt.date(2024, 1, 1))
    assert (ful.setting, ful.progressed, ful.progression_date) == ("metastatic", True, dt.date(2026, 10, 1))
    assert course(p, "exemestane").setting == "adjuvant"
    assert {("chemotherapy", "any", "none"), ("cdk46_inhibitor", "any", "none")} <= history(p)
    assert p.primary_diagnosis.metastatic_date == dt.date(2022, 5, 1)


def test_letter_8_month_range_and_cycles_with_response_abbreviation():
    r, p = read("Clinic letter 1 Dec 2026\n"
                "45F, premenopausal, on goserelin since Jan 2026. De novo MBC Dec 2025 - mets to liver.\n"
                "1st line paclitaxel weekly x 12 (Jan-Apr 2026), then goserelin + letrozole + ribociclib from May 2026, "
                "ongoing.\n"
                "ECOG 0. Bloods 27/11/2026: Hb 12.6, neut 1.9, plt 210, bili 0.6 x ULN, ALT 0.9 x ULN, creat 58 (normal).\n")
    pac = course(p, "paclitaxel")
    assert (pac.start, pac.end, pac.cycles, pac.line, pac.setting) == (
        dt.date(2026, 1, 1), dt.date(2026, 4, 1), 12, 1, "metastatic")
    combo = course(p, "goserelin", "letrozole", "ribociclib")
    assert (combo.start, combo.ongoing, combo.setting) == (dt.date(2026, 5, 1), True, "metastatic")
    assert p.ovarian_suppression is True and p.menopausal_status == "premenopausal"
    assert lab(p, "hemoglobin").unit == "g/dL" and lab(p, "creatinine").value == 58


@pytest.mark.parametrize("text", [
    "Seen 4 Dec 2026. Treatment-naive. No prior cancer treatment.",
    "Letter 04/12/2026\n70M. MBC. Rx: nil.",
])
def test_letters_stated_naive(text):
    r, p = read(text)
    assert ("any", "any", "none") in history(p) or ("any", "advanced", "none") in history(p) or \
        any(h.received == "none" for h in p.history_statements)


# -- helper hA: metastatic onset from a dated scan, names before the age, planned OFS, negative screening ----
def test_dated_scan_finding_metastases_dates_the_relapse_and_relapse_on_tamoxifen():
    _, p = read("Clinic 30 October 2026\nMs Sofia Brennan, 38, premenopausal. Not on ovarian suppression yet.\n"
                "Dx January 2024: right breast IDC, ER 95%, HER2 1+. Tamoxifen from late June 2024.\n"
                "Relapse: pain in August. CT on 18 September 2026 showed two liver lesions and sclerotic bone "
                "metastases in T8.\nTamoxifen was stopped on 20 September 2026.\n"
                "HIV, hepatitis B and hepatitis C negative.\n"
                "Discussion: options are ovarian suppression + AI + CDK4/6 inhibitor.\n")
    assert p.primary_diagnosis.metastatic_date == dt.date(2026, 9, 18)
    assert p.age_years == 38
    assert p.ovarian_suppression is False
    assert not {c.name for c in p.conditions} & {"hiv", "hbv", "hcv"}
    assert {a.subject for a in p.assertions if not a.present} >= {"condition:hiv"}


def test_stable_metastases_on_a_dated_scan_do_not_date_the_onset():
    _, p = read("Clinic 30 October 2026\nMrs A, 60, postmenopausal. Dx 2019 right breast IDC, ER 90%.\n"
                "Metastatic breast cancer to bone.\nCT on 2 October 2026 showed stable bone metastases.\n")
    assert p.primary_diagnosis.metastatic_date is None


def test_hiv_on_treatment_with_undetectable_load_stays_a_condition():
    _, p = read("Clinic 30 October 2026\n48F. HIV on ART, VL undetectable, CD4 610.\n")
    assert "hiv" in {c.name for c in p.conditions}


@pytest.mark.parametrize("tn, extent", [("pT1c pN0 (0/2 nodes)", "early"), ("pT4b pN2a", "locally_advanced")])
def test_t_and_n_stage_with_no_distant_disease_stated_sets_the_extent(tn, extent):
    _, p = read(f"Post-op clinic 14/10/2026\n44 y/o woman.\nWide local excision: invasive ductal carcinoma, {tn}.\n"
                "ER 90%, HER2 1+.\nNo evidence of distant disease.\n")
    assert p.primary_diagnosis.extent == extent


def test_t_and_n_stage_alone_leaves_the_extent_open():
    _, p = read("Clinic 14/10/2026\n44 y/o woman.\nWide local excision: invasive ductal carcinoma, pT1c pN0.\n")
    assert p.primary_diagnosis.extent is None


def test_no_previous_breast_cancer_treatment_is_a_stated_naive_history():
    _, p = read("Clinic 18 October 2026\nMrs R, 34. Right breast IDC with liver metastases, ER 85%.\n"
                "No previous breast cancer treatment of any kind.\n")
    assert any(h.therapy == "any" and h.received == "none" for h in p.history_statements)


def test_form_fields_date_of_diagnosis_de_novo_and_imaged_organ():
    _, p = read("TUMOUR BOARD FORM\nMeeting date: 2026-11-16\nName: Mrs C\nAge: 61\n"
                "Histology: invasive ductal carcinoma\nER: 90%\nDate of diagnosis: 10 February 2026\n"
                "Stage at diagnosis: de novo stage IV, T2 N1 M1\n"
                "Metastatic sites: single lung metastasis, right upper lobe\n"
                "Brain imaging: MRI brain 05/02/2026 - no metastases\n")
    dx = p.primary_diagnosis
    assert dx.date == dt.date(2026, 2, 10) and dx.metastatic_date == dt.date(2026, 2, 10)
    assert [m.site for m in dx.metastases] == ["lung"]
    assert any(a.subject == "metastasis:brain" and a.present is False for a in p.assertions)


def test_indented_history_table_lines_are_sentences_of_their_own():
    from trialmatch.patients.text_reader import sentence_starts
    text = ("Treatment history\n  2019  lumpectomy, adjuvant letrozole\n  06/2023  relapse on adjuvant letrozole: "
            "liver and para-aortic nodes\n  L1  07/2023-01/2025  fulvestrant + palbociclib -> PD\n")
    starts = sentence_starts(text)
    for line in ("2019  lump", "06/2023  rel", "L1  07/2023"):
        assert text.index(line) in starts, line
    _, p = read("Clinic 27 October 2026\nMrs D, 57. Left IDC, ER 85%, HER2 1+.\n" + text)
    assert "liver" in {m.site for m in p.primary_diagnosis.metastases}
    assert ["fulvestrant", "palbociclib"] in [t.drugs for t in p.treatments]


def test_a_wrapped_line_indented_under_its_bullet_stays_in_its_sentence():
    from trialmatch.patients.text_reader import sentence_starts
    text = "- 2021: right breast IDC. Mastectomy, adjuvant\n  EC x4 followed by paclitaxel x4\n- 2026: relapse\n"
    starts = sentence_starts(text)
    assert text.index("EC x4") not in starts and text.index("- 2026") in starts


def test_therapies_listed_as_options_are_not_history():
    _, p = read("Clinic 30 October 2026\nMs B, 38. Right breast IDC 2024, ER 95%. Liver metastases.\n"
                "Discussion: options are ovarian suppression + AI + CDK4/6 inhibitor, or epirubicin/cyclophosphamide "
                "chemotherapy given liver involvement.\n")
    assert not any("epirubicin" in t.drugs for t in p.treatments)


def test_receptor_percentages_without_percent_sign_separated_by_slashes():
    _, p = read("Clinic note - 2 Oct 2026\n46F. De novo MBC Feb 2023 - bone. ER 90 / PR 70 / HER2 1+.\n")
    assert bio(p, "ER")[0].percent == 90 and bio(p, "PR")[0].percent == 70


def test_regions_listed_after_the_scan_are_imaged_organs_not_sites():
    _, p = read("Clinic 20 November 2026\nMrs H, 60. Left breast IDC, clinical T4b N2, ER 88%.\n"
                "Staging CT chest/abdomen/pelvis and bone scan (June 2026): no distant metastases.\n")
    assert p.primary_diagnosis.metastases == [] and p.primary_diagnosis.extent != "metastatic"
    _, p = read("Clinic 20 November 2026\nMrs H, 60. Left breast IDC, ER 88%.\n"
                "CT chest/abdomen/pelvis: liver metastases, otherwise normal.\n")
    assert [m.site for m in p.primary_diagnosis.metastases] == ["liver"]
    assert not any(a.subject == "metastasis:bone" for a in p.assertions)


def test_pipe_table_lab_rows():
    _, p = read("Day unit 12/11/2026\nMrs P, 53. Breast IDC, ER 90%.\nBloods 10/11/2026:\n"
                "| Test        | Result     | Range        |\n| Hb          | 112 g/L    | 115-165      |\n"
                "| Platelets   | 118        | 150-400      |\n| Creatinine  | 88 umol/L  | 45-90        |\n")
    assert lab(p, "hemoglobin").value == 112 and lab(p, "platelets").value == 118
    assert lab(p, "creatinine").value == 88 and lab(p, "creatinine").date == dt.date(2026, 11, 10)


def test_date_just_before_relapsed_dates_the_metastatic_onset():
    _, p = read("Clinic 9 October 2026\nMrs K, 63. Treated in 2017 for a left breast invasive ductal carcinoma, ER 95%.\n"
                "Anastrozole for five years (2017 to June 2022).\n\n"
                "In January 2025 she relapsed with bone and liver metastases.\n")
    assert p.primary_diagnosis.metastatic_date == dt.date(2025, 1, 1)
