"""Labels whose value is the next line, and section headings written as list items
(``trialmatch.criteria.headings``): read in the context of their list."""

from __future__ import annotations

from trialmatch.criteria import compile_text
from trialmatch.criteria.headings import is_section_label

# the PDQ layout as CT.gov and HINT hold it: the labels are unindented, so the splitter puts "Age" under the
# last heading of the disease section and its value one level up
PDQ = """DISEASE CHARACTERISTICS:

          -  Histologically or cytologically confirmed breast cancer

          -  Hormone receptor status:

               -  Not specified

        PATIENT CHARACTERISTICS:

        Age

          -  18 to 69

        Sex

          -  Female

        Hematopoietic

          -  Platelet count at least 100,000/mm^3
"""


def _by_text(text: str) -> dict:
    return {c.text.strip(): c for c in compile_text(text, "T").criteria}


def test_a_value_line_is_read_with_the_label_before_it():
    by = _by_text(PDQ)
    value = by["18 to 69"]
    assert value.status == "compiled" and value.expression.kind == "age"
    assert (value.expression.years.low, value.expression.years.high) == (18.0, 69.0)
    label = by["Age"]
    assert label.is_header and "next line" in label.reason


def test_the_value_is_not_read_with_a_distant_heading():
    # before: "18 to 69" was read with "DISEASE CHARACTERISTICS" (a measurement named "disease characteristics")
    by = _by_text(PDQ)
    assert all(a.kind != "measurement" for a in [by["18 to 69"].expression])


def test_lab_value_on_the_line_after_its_label():
    by = _by_text("Inclusion Criteria:\n- Total bilirubin:\n- <= 1.5 x ULN\n- Age 18 or over\n")
    value = by["<= 1.5 x ULN"]
    assert value.status == "compiled"
    assert (value.expression.kind, value.expression.analyte, value.expression.uln_multiple) == ("lab", "total_bilirubin", 1.5)
    assert by["Total bilirubin:"].is_header


def test_section_labels_between_items_are_headings():
    text = ("Inclusion Criteria:\n- Inclusion Criteria Phase 1\n- Age 18 or over\n- Hematologic\n"
            "- Absolute neutrophil count >= 1.5 x 10^9/L\n- Renal:\n- Creatinine <= 1.5 x ULN\n"
            "Exclusion Criteria:\n- Exclusion Criteria (Phases 1 and 2)\n- Known HIV infection\n")
    by = _by_text(text)
    for t in ("Inclusion Criteria Phase 1", "Hematologic", "Renal:", "Exclusion Criteria (Phases 1 and 2)"):
        assert by[t].is_header and "section heading" in by[t].reason, t
    assert by["Absolute neutrophil count >= 1.5 x 10^9/L"].expression.kind == "lab"


def test_what_is_not_a_section_label():
    assert is_section_label("Hematology:") and is_section_label("System (Laboratory Values)")
    assert is_section_label("Concomitant Medications")
    for t in ("Radiation therapy", "Rifampin", "Total bilirubin:", "Age 18 or over", "Hepatitis B",
              "Known HIV infection", "Renal failure"):
        assert not is_section_label(t), t


def test_a_lone_label_with_a_checkable_name_stays_unsupported():
    # "Radiation therapy" in an exclusion list is a thing she must not have had, not a heading
    by = _by_text("Exclusion Criteria:\n- Prior treatment with any of the following:\n   * Fooxyzumabine\n"
                  "- Renal failure requiring dialysis\n")
    assert not by["Fooxyzumabine"].is_header


def test_a_value_that_compiles_alone_keeps_its_own_reading_and_the_line_before_stays():
    # "Federated boxers" / "Over 18 years" (an LCT document): the age needs no label, and the line before
    # it is a criterion of its own, not a label to demote
    by = _by_text("Inclusion Criteria:\n- Federated boxers\n- Over 18 years\n")
    assert by["Over 18 years"].expression.kind == "age"
    assert not by["Federated boxers"].is_header


def test_a_pdq_label_over_a_placeholder_is_a_heading():
    by = _by_text("PRIOR CONCURRENT THERAPY:\nBiologic therapy\n- Not specified\nChemotherapy\n"
                  "- No prior chemotherapy\n")
    assert by["Biologic therapy"].is_header and "placeholder" in by["Biologic therapy"].reason
    assert by["No prior chemotherapy"].expression is not None


def test_list_introductions_are_headings_only_where_a_flat_list_means_the_same():
    by = _by_text("Inclusion Criteria:\n- Age 18 or over\nExclusion Criteria:\n"
                  "- Subject has any of the following cardiac abnormalities\n- Severe conduction abnormality\n"
                  "- History of any one or more of the following cardiovascular conditions within the past 6 months:\n"
                  "- Myocardial infarction\n")
    assert by["Subject has any of the following cardiac abnormalities"].is_header
    # a window in the introduction belongs to its items: not dropped as a heading
    windowed = by["History of any one or more of the following cardiovascular conditions within the past 6 months:"]
    assert not (windowed.reason or "").startswith("introduces the criteria that follow")
    by = _by_text("Inclusion Criteria:\n- Cardiac function satisfies either of the below.\n- LVEF >= 50%\n")
    assert not by["Cardiac function satisfies either of the below."].is_header  # alternatives: not a flat list


def test_formula_lines_are_not_criteria():
    text = ("Exclusion Criteria:\n- Creatinine clearance < 60 mL/min\n- Cockcroft and Gault Equation:\n"
            "- (140 - age [yrs]) (body wt [kg])\n- Creatinine clearance for females = 0.85 x male value\n"
            "- History of persistent Grade >= 2 hematologic toxicity\n")
    by = _by_text(text)
    for t in ("Cockcroft and Gault Equation:", "(140 - age [yrs]) (body wt [kg])",
              "Creatinine clearance for females = 0.85 x male value"):
        assert by[t].is_header and "formula" in by[t].reason, t
    assert not by["History of persistent Grade >= 2 hematologic toxicity"].is_header


def test_a_colon_introduction_over_flat_items_is_a_heading_but_not_a_cohort_or_alternatives():
    by = _by_text("Inclusion Criteria:\n- Adequate bone marrow as evidenced by:\n- Absolute neutrophil count >= 1500/mm3\n"
                  "- Platelets >= 100,000/mm3\n- Part B (dose expansion):\n- Age 18 or over\n"
                  "- One of the following:\n- Age 18 or over\n")
    assert by["Adequate bone marrow as evidenced by:"].is_header
    assert not (by["Part B (dose expansion):"].reason or "").startswith("introduces the criteria that follow")
    assert not (by["One of the following:"].reason or "").startswith("introduces the criteria that follow")
