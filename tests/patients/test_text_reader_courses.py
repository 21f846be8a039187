"""Treatment courses as clinicians write them, phrasing class by phrasing class (issue 12): a
later sentence that tells more of a course already read, lists of courses in one sentence,
earlier courses named inside the current one, month ranges, scan dates, relapse intervals,
settings taken from a label or from the metastatic date. The sentences are written for these
tests (not copied from the labelled notes)."""

from __future__ import annotations

import datetime as dt

from trialmatch.patients.report import read_patient_with_report
from trialmatch.patients.text_reader import read_text_patient, sentence_starts

HEAD = "Clinic letter 10 Dec 2026\n"


def read(body: str):
    return read_text_patient(HEAD + body, "note.txt")


def courses(p):
    return [(tuple(t.drugs), t) for t in p.treatments]


# -- a later sentence completes the course it names ------------------------------------------------
def test_response_sentence_completes_the_combination_course():
    p = read("58-year-old woman, de novo metastatic breast cancer (bone, liver) diagnosed March 2026.\n"
             "Started anastrozole + abemaciclib 1 April 2026. Partial response to anastrozole ongoing at 7 months "
             "(CT 01/11/2026: liver lesions smaller).\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert t.drugs == ["anastrozole", "abemaciclib"] and t.start == dt.date(2026, 4, 1)
    assert (t.best_response, t.response_ongoing, t.ongoing, t.progressed) == ("PR", True, True, False)
    assert t.end is None  # the CT date is a scan's date, not the end of the course
    assert t.setting == "metastatic"  # de novo metastatic: every course is for metastatic disease
    assert len(t.also_from) == 1 and t.also_from[0].locator.startswith("Partial response to anastrozole")


def test_progression_sentence_completes_the_course_it_names():
    p = read("44F premenopausal. MBC (liver) since 2024.\nOn goserelin + exemestane since 2024 for MBC.\n"
             "PD on goserelin/exemestane Nov 2026 (liver, new lesions).\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert t.progressed is True and t.progression_date == dt.date(2026, 11, 1) and t.ongoing is False
    assert t.setting == "metastatic"


def test_relapse_years_after_completing_is_the_adjuvant_course_not_a_new_one():
    p = read("Left breast cancer 2012, ER 95%, HER2 negative, treated with 5 years of adjuvant anastrozole 2012-2017.\n"
             "Relapse confirmed in June 2026 (lung), nine years after completing anastrozole.\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert t.setting == "adjuvant" and t.relapse_months_after_end == 108.0
    assert t.progressed is False and t.progression_date is None  # the relapse came after the course
    assert p.primary_diagnosis.date == dt.date(2012, 1, 1)


def test_relapse_on_adjuvant_therapy_after_years_and_months():
    p = read("Right breast cancer March 2021. Adjuvant exemestane from April 2021.\n"
             "Relapsed on adjuvant exemestane after 2 years 6 months: biopsy-proven lung metastasis October 2023.\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert (t.progressed, t.months_to_progression, t.progression_date) == (True, 30.0, dt.date(2023, 10, 1))
    assert p.primary_diagnosis.metastatic_date == dt.date(2023, 10, 1)


def test_last_dose_sentence_gives_the_end():
    p = read("Metastatic since 2024 (bone). Treatment: letrozole 2024-2025 (PD), then eribulin 5 cycles (current).\n"
             "Last eribulin dose 01/12/2026.\n")
    eri = next(t for d, t in courses(p) if d == ("eribulin",))
    assert len([1 for d, _ in courses(p) if d == ("eribulin",)]) == 1
    assert eri.end == dt.date(2026, 12, 1) and eri.cycles == 5 and eri.setting == "metastatic"


def test_single_drug_course_is_replaced_by_the_combination_begun_the_same_month():
    p = read("39F, premenopausal, on triptorelin since March 2026.\n"
             "MBC (bone) since March 2026. From March 2026 triptorelin + letrozole + palbociclib.\n")
    assert [t.drugs for t in p.treatments] == [["triptorelin", "letrozole", "palbociclib"]]
    assert p.treatments[0].also_from  # the first sentence is cited too


def test_since_her_relapse_is_a_start_not_a_progression():
    p = read("50-year-old woman. Metastatic relapse August 2026 (liver).\n"
             "On goserelin since her relapse (started 01/09/2026).\n")
    t = p.treatments[0]
    assert t.progressed is None and t.start == dt.date(2026, 9, 1)


# -- several courses in one sentence ---------------------------------------------------------------
def test_a_list_of_lines_without_dates_is_read_course_by_course():
    p = read("Metastatic breast cancer (liver, lung).\n"
             "Prior lines for MBC: letrozole + palbociclib, fulvestrant + everolimus, capecitabine, eribulin (4 lines).\n")
    assert [t.drugs for t in p.treatments] == [["letrozole", "palbociclib"], ["fulvestrant", "everolimus"],
                                              ["capecitabine"], ["eribulin"]]
    assert [t.line for t in p.treatments] == [1, 2, 3, 4]
    assert {t.setting for t in p.treatments} == {"metastatic"}


def test_an_earlier_course_named_inside_the_current_one():
    p = read("Metastatic breast cancer (bone).\n"
             "Current treatment: paclitaxel weekly since June 2026 (second line after PD on letrozole + ribociclib 2024-2026).\n")
    by = dict(courses(p))
    pac, prior = by[("paclitaxel",)], by[("letrozole", "ribociclib")]
    assert (pac.line, pac.start, pac.ongoing) == (2, dt.date(2026, 6, 1), True)
    assert prior.progressed is True and prior.start == dt.date(2024, 1, 1) and prior.setting == "metastatic"


def test_previously_two_courses_both_progressed():
    p = read("Metastatic breast cancer, on eribulin since May 2026 (third line; previously anastrozole + palbociclib "
             "and fulvestrant, both PD).\n")
    by = dict(courses(p))
    assert set(by) == {("eribulin",), ("anastrozole", "palbociclib"), ("fulvestrant",)}
    assert by[("anastrozole", "palbociclib")].progressed and by[("fulvestrant",)].progressed
    assert by[("fulvestrant",)].setting == "metastatic"


def test_then_separates_sequential_courses_and_they_share_the_setting():
    p = read("Adjuvant 2017: EC x4 then weekly paclitaxel x12, then tamoxifen 2017-2022.\n")
    drugs = [t.drugs for t in p.treatments]
    assert drugs == [["epirubicin", "cyclophosphamide"], ["paclitaxel"], ["tamoxifen"]]
    assert {t.setting for t in p.treatments} == {"adjuvant"}
    assert [t.cycles for t in p.treatments][:2] == [4, 12]


def test_a_course_going_on_in_the_next_clause_is_one_course():
    p = read("Relapse March 2024 (lung). First-line exemestane from April 2024, progressed on exemestane after 15 months "
             "(July 2025); then fulvestrant + alpelisib, progressed November 2026.\n")
    by = dict(courses(p))
    assert set(by) == {("exemestane",), ("fulvestrant", "alpelisib")}
    ex = by[("exemestane",)]
    assert (ex.start, ex.months_to_progression, ex.progression_date, ex.line) == (
        dt.date(2024, 4, 1), 15.0, dt.date(2025, 7, 1), 1)
    assert by[("fulvestrant", "alpelisib")].setting == "metastatic"


# -- dates, durations, settings --------------------------------------------------------------------
def test_month_ranges():
    p = read("Locally advanced breast cancer. Had 5 months of neoadjuvant anastrozole (Feb-Jul 2026).\n"
             "Adjuvant tamoxifen (Mar 2015 - Mar 2020).\n")
    by = dict(courses(p))
    ana, tam = by[("anastrozole",)], by[("tamoxifen",)]
    assert (ana.setting, ana.start, ana.end) == ("neoadjuvant", dt.date(2026, 2, 1), dt.date(2026, 7, 1))
    assert (tam.start, tam.end) == (dt.date(2015, 3, 1), dt.date(2020, 3, 1))


def test_scan_and_assessment_dates_are_not_the_end_of_a_course():
    p = read("First-line letrozole + ribociclib started 3 March 2026, stable disease after 6 cycles on CT 20/09/2026.\n")
    t = p.treatments[0]
    assert (t.start, t.end, t.best_response, t.cycles) == (dt.date(2026, 3, 3), None, "SD", 6)


def test_progression_date_after_a_year_range():
    p = read("Metastatic since 2023. MBC: capecitabine 2025-2026 (8 cycles), PD Oct 2026.\n")
    t = p.treatments[0]
    assert (t.progressed, t.progression_date, t.setting) == (True, dt.date(2026, 10, 1), "metastatic")


def test_duration_right_after_the_drug_and_adj_abbreviation():
    p = read("Metastatic breast cancer since 2022. Treatment: letrozole 2022-2025 (PD), fulvestrant 5 months (PD), then capecitabine "
             "(current).\n"
             "Adj anastrozole 2016-2021.\n")
    by = dict(courses(p))
    assert by[("fulvestrant",)].duration_months == 5.0 and by[("fulvestrant",)].setting == "metastatic"
    assert by[("anastrozole",)].setting == "adjuvant"
    assert by[("capecitabine",)].ongoing is True


def test_a_drug_put_down_as_the_cause_of_a_lab_is_no_course():
    p = read("On letrozole + ribociclib since May 2026.\nBloods 01/12/2026: Hb 12.0 g/dL, ANC 1.1 x 10^9/L (ribociclib), "
             "platelets 150 x 10^9/L.\n")
    assert [t.drugs for t in p.treatments] == [["letrozole", "ribociclib"]]


def test_a_drug_for_another_condition_is_a_medication():
    p = read("PMH: rheumatoid arthritis, on methotrexate weekly.\n")
    assert not p.treatments and [m.name for m in p.medications] == ["methotrexate"]


def test_abbreviated_and_brand_drug_names_are_read():
    # "IFN" is interferon (hepatitis C notes), Sinemet is levodopa (a dopaminergic therapy)
    p = read("53-year-old man with chronic HCV infection. He is on IFN plus ribavirin for the past 9 months.\n")
    assert [t.drugs for t in p.treatments] == [["interferon"]]
    p = read("57-year-old man with Parkinson disease. He is on Sinemet and trihexyphenidyl.\n")
    assert [m.name for m in p.medications] == ["levodopa"]


def test_planned_line_is_not_this_courses_line():
    p = read("Letrozole + palbociclib 2024 - Oct 2026, then PD in bone; now due to start second-line therapy.\n")
    t = p.treatments[0]
    assert t.line is None and t.end == dt.date(2026, 10, 1) and t.progressed is True


# -- diagnosis dates, receptors, genes, other statements --------------------------------------------
def test_metastatic_since_and_diagnosis_dates():
    p = read("62-year-old woman with metastatic breast cancer (liver, bone) since 2023; primary tumour 2018 ER 80%.\n")
    dx = p.primary_diagnosis
    assert dx.metastatic_date == dt.date(2023, 1, 1) and dx.date == dt.date(2018, 1, 1)


def test_no_distant_metastases_on_a_dated_scan_gives_no_metastatic_date():
    p = read("Inoperable locally advanced breast cancer, no distant metastases on staging CT (01/12/2026).\n")
    assert p.primary_diagnosis.metastatic_date is None and p.primary_diagnosis.extent == "locally_advanced"


def test_metastases_at_presentation_are_de_novo():
    p = read("Breast cancer diagnosed April 2026. Distant metastases to liver at presentation.\n")
    assert p.primary_diagnosis.metastatic_date == dt.date(2026, 4, 1)


def test_her2_fish_not_amplified_is_no_gene_amplification():
    p = read("ER 80%, PR 10%, HER2 2+, FISH not amplified.\n")
    her2 = next(b for b in p.biomarkers if b.name == "HER2")
    assert (her2.ihc_score, her2.ish, her2.status) == ("2+", "negative", "negative")
    assert not [g for g in p.genes if g.gene == "HER2"]


def test_no_pathogenic_variant_is_wildtype():
    p = read("BRCA1 / PALB2 germline panel: no pathogenic variant.\n")
    assert {(g.gene, g.status) for g in p.genes} == {("BRCA1", "wildtype"), ("PALB2", "wildtype")}


def test_stated_absence_of_ovarian_suppression():
    p = read("41F, premenopausal, not on ovarian suppression.\n")
    assert p.ovarian_suppression is False and p.sources["ovarian_suppression"].locator.startswith("41F")


def test_previously_untreated_brain_metastases_is_not_a_treatment_history():
    p = read("On second-line fulvestrant. MRI brain shows 3 new, previously untreated brain metastases, "
             "no leptomeningeal disease.\n")
    assert not p.history_statements
    brain = next(m for m in p.primary_diagnosis.metastases if m.site == "brain")
    assert "untreated" in brain.status and "leptomeningeal" not in brain.status


def test_a_referral_or_a_question_about_a_trial_is_no_procedure():
    p = read("Radiotherapy referral for a painful rib metastasis.\nShe asked about the surgery trial.\n")
    assert not p.procedures


def test_no_other_malignancy_does_not_deny_the_breast_cancer():
    p = read("Metastatic breast cancer (bone). No prior breast cancer history. No other malignancy.\n")
    assert not [a for a in p.assertions if a.subject.startswith("cancer:")]
    assert any(a.subject == "other_malignancy" and not a.present for a in p.assertions)


def test_semicolon_inside_brackets_does_not_end_the_sentence():
    text = "Relapsed 6 months after finishing tamoxifen (liver, bone; CT 20/08/2026). ECOG 0."
    starts = sentence_starts(text)
    assert starts == [0, text.index("ECOG")]


def test_report_cites_every_sentence_a_course_was_completed_from():
    note = (HEAD + "Started letrozole + ribociclib 2 February 2026.\nPartial response to letrozole ongoing.\n").encode()
    r = read_patient_with_report(data=note, file_name="n.txt", fmt="text")
    assert not [s.text for s in r.unread]
    line = next(f for f in r.facts if f.group == "treatment")
    assert [a.locator for a in line.also_from] == ["Partial response to letrozole ongoing."]
    assert r.to_json()["facts"][-1]["also_from"][0]["locator"] == "Partial response to letrozole ongoing."


def test_no_radiotherapy_is_a_stated_absence_but_not_when_a_site_is_named():
    p = read("Mastectomy 2019, no radiotherapy, no chemotherapy.\n")
    assert any(a.subject == "procedure:radiotherapy" and not a.present for a in p.assertions)
    p = read("Painful rib metastasis, no previous radiotherapy to that site.\n")
    assert not any(a.subject == "procedure:radiotherapy" for a in p.assertions)


def test_report_cites_the_sentence_that_dated_the_metastatic_disease():
    note = (HEAD + "Left breast cancer 2015, ER 90%, HER2 0.\nRelapse 2023.\nLiver lesions measurable (seg VI 31 mm).\n").encode()
    r = read_patient_with_report(data=note, file_name="n.txt", fmt="text")
    dx = r.patient.primary_diagnosis
    assert dx.metastatic_date == dt.date(2023, 1, 1) and dx.measurable_disease is True
    assert [s.text for s in r.unread] == []
    assert {a.locator for a in dx.also_from} == {"Relapse 2023.", "Liver lesions measurable (seg VI 31 mm)."}


def test_ec_t_regimen_and_a_bare_pr_as_the_response():
    p = read("Adj EC-T 2018. MBC since 2024. 2nd line docetaxel x 6 (Jan-Jun 2025), PR, now off treatment.\n")
    ec = next(t for t in p.treatments if "epirubicin" in t.drugs)
    assert set(ec.drugs) == {"epirubicin", "cyclophosphamide", "docetaxel"} and ec.setting == "adjuvant"
    doc = next(t for t in p.treatments if t.drugs == ["docetaxel"])
    assert (doc.best_response, doc.ongoing, doc.cycles, doc.line) == ("PR", False, 6, 2)
    # "ER 90%, PR 40%": the receptor, not a response
    q = read("ER 90%, PR 40%, HER2 0. Letrozole since 2024, stable.\n")
    assert q.treatments[0].best_response != "PR"


def test_a_course_from_a_date_with_a_response_is_ongoing_and_not_progressed():
    p = read("De novo MBC (liver) dx May 2026. First-line letrozole + abemaciclib from June 2026: partial response "
             "at 4 months (CT 20/10/2026).\n")
    t = p.treatments[0]
    assert (t.ongoing, t.progressed, t.best_response, t.end) == (True, False, "PR", None)


def test_response_now_off_treatment_is_no_progression():
    p = read("MBC since 2025. 2nd line paclitaxel x 12 (Jan-Apr 2026), partial response, now off treatment.\n")
    t = p.treatments[0]
    assert (t.ongoing, t.progressed, t.best_response) == (False, False, "PR")


def test_a_course_and_its_progression_written_with_shorthand_stay_one_sentence_source():
    p = read("1st line anastrozole + palbociclib from May 2025, PD on anastrozole/palbo Oct 2026 (new liver lesions).\n")
    assert len(p.treatments) == 1
    t = p.treatments[0]
    assert t.source.locator.endswith("(new liver lesions).") and not t.also_from
    assert (t.line, t.progressed, t.progression_date) == (1, True, dt.date(2026, 10, 1))


def test_the_current_course_before_an_after_pd_on_bracket_is_its_own_course():
    # no date on either part: the "(after PD on ...)" bracket still names an earlier course
    p = read("57-year-old woman with ER 90%, HER2 0 metastatic breast cancer (bone, lung) since 2024, currently on "
             "second-line fulvestrant + alpelisib (after PD on anastrozole + palbociclib).\n")
    by = dict(courses(p))
    assert set(by) == {("fulvestrant", "alpelisib"), ("anastrozole", "palbociclib")}
    cur, prior = by[("fulvestrant", "alpelisib")], by[("anastrozole", "palbociclib")]
    assert (cur.ongoing, cur.line) == (True, 2)
    assert (prior.ongoing, prior.progressed) == (False, True)


def test_a_course_followed_by_then_is_over():
    p = read("Metastatic breast cancer (liver) since 2024.\nTreated with docetaxel-trastuzumab-pertuzumab 2024 then "
             "maintenance trastuzumab-pertuzumab + letrozole; progression in the liver October 2026.\n")
    first = p.treatments[0]
    assert first.drugs == ["docetaxel", "trastuzumab", "pertuzumab"] and first.ongoing is False
    assert p.treatments[1].progressed is True
