"""Whole criteria texts: split as written (headers, nesting, numbering, joined alternatives), compiled
criterion by criterion with the context of their list (headings, parents, placeholders), and
serialised without loss. One criterion's wording alone is the golden corpus
(``test_criteria_golden.py``); these cases need the surrounding text."""

from __future__ import annotations

import json

from trialmatch.criteria import COMPILER_VERSION, compile_text, split_criteria
from trialmatch.criteria import model as cm
from trialmatch.criteria.model import CompiledCriteria, expression_from_dict, iter_atoms


def _atoms(expr):
    return list(cm.iter_atoms(expr)) if expr is not None else []


HINT_STYLE = """Inclusion Criteria:

          -  Histologically confirmed adenocarcinoma of the breast with measurable disease per
             RECIST 1.1

          -  Adequate organ function:

               -  ANC >= 1,500/mm3

               -  Platelets >= 100,000/mm3

        Exclusion Criteria:

          -  Known HIV infection

          -  Major surgery within 4 weeks prior to enrollment
"""


# ----------------------------------------------------------------------------- splitting
def test_split_hint_style_wrapped_and_nested():
    parts = split_criteria(HINT_STYLE)
    texts = [(p.id, p.kind, p.parent) for p in parts]
    assert texts[0] == ("I1", "inclusion", None)
    assert "RECIST 1.1" in parts[0].text  # wrapped line continues the criterion
    assert ("I2.1", "inclusion", "I2") in texts and ("I2.2", "inclusion", "I2") in texts
    assert [p.kind for p in parts if p.id.startswith("E")] == ["exclusion", "exclusion"]
    for p in parts:
        assert HINT_STYLE[p.span[0]:p.span[1]] == p.text


def test_split_numbered_and_headers_any_case():
    text = "INCLUSION CRITERIA\n1. Age >= 18\n2) ECOG 0-1\nexclusion criteria:\na) Pregnant women\n"
    parts = split_criteria(text)
    assert [(p.id, p.text) for p in parts] == [("I1", "Age >= 18"), ("I2", "ECOG 0-1"), ("E1", "Pregnant women")]


def test_header_with_text_on_its_line_switches_to_exclusions():
    text = ("Inclusion Criteria:\n\n  - Age 50 or older\n\nExclusion Criteria: All of the following must be "
            "answered No.\n\n  - History of bladder cancer or a serum PSA > 10 ng/mL?\n")
    kinds = [(s.kind, s.text[:20]) for s in split_criteria(text)]
    assert kinds[0][0] == "inclusion"
    assert kinds[-1] == ("exclusion", "History of bladder c")


def test_lines_ending_in_or_join_into_one_any_of_criterion():
    text = ("Inclusion Criteria:\n  - Biopsy-proven small lymphocytic lymphoma or\n  - Mantle cell lymphoma (MCL)\n"
            "  - Age >= 18 years\nRenal:\n  - Creatinine <= 1.5 mg/dL OR\n  - Creatinine clearance at least 60 mL/min\n")
    splits = split_criteria(text)
    first = splits[0]
    assert first.text.startswith("Biopsy-proven") and first.text.endswith("Mantle cell lymphoma (MCL)")
    assert first.text == text[first.span[0]:first.span[1]] and len(first.alternatives) == 2
    assert [s.text for s in splits[1:2]] == ["Age >= 18 years"]
    cc = compile_text(text, "T")
    renal = [c for c in cc.criteria if c.text.startswith("Creatinine <=")][0]
    assert renal.expression.kind == "any_of" and renal.status == "compiled"
    assert {a.analyte for a in iter_atoms(renal.expression)} == {"creatinine", "creatinine_clearance"}
    assert not any(c.text.startswith("Creatinine clearance") for c in cc.criteria)  # not a separate requirement


def test_a_line_that_is_only_or_joins_its_neighbours():
    sc = split_criteria("Inclusion Criteria:\n- ECOG 0-1\n- Or\n- Karnofsky >= 70\n")
    assert len(sc) == 1 and [sc[0].text[a - sc[0].span[0]:b - sc[0].span[0]] for a, b in sc[0].alternatives] == \
        ["ECOG 0-1", "Karnofsky >= 70"]


# ----------------------------------------------------------------------------- criteria in their list
def test_list_header_with_children_repeating_it():
    text = "Inclusion Criteria:\n- Breast cancer meets the following criteria:\n  - histologically confirmed invasive breast cancer\n  - metastatic\n"
    cc = compile_text(text, "T")
    head = cc.criteria[0]
    assert head.is_header and "sub-criteria" in head.reason


def test_placeholders_and_section_headings_are_not_criteria():
    text = ("DISEASE CHARACTERISTICS:\nNot specified\nPATIENT CHARACTERISTICS:\nSee Disease Characteristics\n-\n"
            "Other protocol-defined inclusion criteria may apply\nNote: Other protocol-defined criteria may also apply.")
    cc = compile_text(text, "T")
    by_text = {c.text: c for c in cc.criteria}
    for t in ("DISEASE CHARACTERISTICS:", "Not specified", "See Disease Characteristics"):
        assert by_text[t].is_header and by_text[t].reason, t
    for t in ("Other protocol-defined inclusion criteria may apply", "Note: Other protocol-defined criteria may also apply."):
        assert by_text[t].status == "needs_confirmation" and "protocol" in by_text[t].reason


def test_placeholders_not_specified():
    cc = compile_text("Inclusion Criteria:\n- Menopausal status not specified\n- Age 18 or more\n", "T")
    assert cc.criteria[0].expression is None and "placeholder" in cc.criteria[0].reason


def test_bare_drug_items_read_with_their_heading():
    cc = compile_text("Inclusion Criteria:\n- No concurrent treatment with any of the following:\n"
                      "   * Ritonavir\n   * Fooxyzumabine\n", "T")
    by = {c.text: c for c in cc.criteria}
    assert by["Ritonavir"].status == "compiled" and "ritonavir" in by["Ritonavir"].expression.describe()
    assert by["Fooxyzumabine"].status == "unsupported"


def test_drug_items_take_their_headings_single_therapy_check():
    text = ("Inclusion Criteria:\n- At least 7 days since prior and no concurrent CYP3A4 inhibitors, including any of "
            "the following:\n  - Nelfinavir\n  - Chemistry\n")
    cc = compile_text(text, "T")
    by = {c.text.strip(): c for c in cc.criteria}
    nel = by["Nelfinavir"]
    assert nel.status == "compiled" and nel.expression.kind == "not"
    assert "nelfinavir" in nel.expression.item.agents and nel.expression.item.within.value == 7
    assert by["Chemistry"].status == "unsupported"  # a heading word, not a drug


def test_drug_items_under_a_medication_heading_without_a_drug():
    text = ("Inclusion Criteria:\n- No concurrent administration of any of the following drugs:\n  - Zidovudine\n"
            "- Patient that requires changes in the dose of one of the following medications within 2 weeks:\n"
            "  - Abacavir\n")
    by = {c.text.strip(): c for c in compile_text(text, "T").criteria}
    z = by["Zidovudine"].expression
    assert z.kind == "not" and z.item.kind == "concomitant_medication" and z.item.classes == ["zidovudine"]
    assert by["Abacavir"].status == "unsupported"  # a dose change is not taking the drug


def test_a_permission_item_in_a_list_has_no_expression():
    cc = compile_text("Inclusion Criteria:\n- Prior CDK4/6 inhibitor allowed.\n- Age 18 or more\n", "T")
    assert cc.criteria[0].expression is None and cc.criteria[0].reason.startswith("not a requirement")


def test_a_definition_item_in_a_list_has_no_expression():
    cc = compile_text("Exclusion Criteria:\n- Women are considered postmenopausal when >= 54 years\n", "T")
    assert cc.criteria[0].expression is None and "definition" in cc.criteria[0].reason


_SUBTYPES = """Inclusion Criteria:

  -  Histologically confirmed indolent B-cell non-Hodgkin lymphoma (NHL), including any of
     the following subtypes:

       -  Marginal zone lymphoma

       -  Follicular lymphoma

       -  Mantle cell lymphoma

  -  ECOG performance status 0-1

Exclusion Criteria:

  -  Known CNS lymphoma
"""


def test_subtypes_listed_under_a_diagnosis_are_alternatives():
    cc = compile_text(_SUBTYPES, "T-subtypes")
    by_id = {c.id: c for c in cc.criteria}
    head = by_id["I1"]
    assert head.status == "compiled" and head.expression is not None
    assert all(isinstance(a, cm.Diagnosis) and a.cancer_type == "lymphoma" for a in _atoms(head.expression))
    items = [c for c in cc.criteria if c.parent == "I1"]
    assert len(items) == 3 and all(c.expression is None and "I1" in (c.reason or "") for c in items)
    ecog = [c for c in cc.criteria if c.kind == "inclusion" and any(
        isinstance(a, cm.PerformanceStatus) for a in _atoms(c.expression))]
    assert len(ecog) == 1  # the requirement after the list is still one of its own


def test_subtypes_in_real_registry_text(data_dir):
    path = data_dir / "hint" / "trials.ndjson"
    text = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if '"NCT01500083"' in line:
                text = json.loads(line)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
                break
    assert text is not None
    cc = compile_text(text, "NCT01500083")
    head = next(c for c in cc.criteria if c.text.startswith("The patient has one of the following types"))
    kids = [c for c in cc.criteria if c.parent == head.id]
    assert head.expression is not None and len(kids) == 4
    assert all(c.expression is None for c in kids)


# ----------------------------------------------------------------------------- robustness and serialisation
def test_round_trip_and_version():
    cc = compile_text(HINT_STYLE, "T1")
    assert cc.compiler_version == COMPILER_VERSION
    for c in cc.criteria:
        if c.expression is not None:
            again = expression_from_dict(json.loads(json.dumps(c.expression.to_dict())))
            assert again == c.expression
    assert CompiledCriteria.model_validate_json(cc.model_dump_json()) == cc


def test_bad_input_never_crashes():
    for text in ["", "   ", "\x00\x01", "-\n-\n", "≥≥≥ 10^^9/L", "Inclusion Criteria:"]:
        cc = compile_text(text, "bad")
        assert isinstance(cc, CompiledCriteria)


def test_serialisation_emits_no_warnings():
    import warnings

    text = ("Inclusion Criteria:\n- Men or non-pregnant, non-lactating women 18 to 75 years\n- Age 1-12 months\n"
            "- Outpatient >= 12 years of age; adults >= 18 years\n- Age >= 18 and <= 70 years\n")
    cc = compile_text(text, "T")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = cc.model_dump_json()
        for c in cc.criteria:
            if c.expression is not None:
                c.expression.to_dict()
    assert CompiledCriteria.model_validate_json(dumped).model_dump_json() == dumped


def _by_text(cc):
    return {c.text: c for c in cc.criteria}


def test_numbered_item_after_an_indented_sub_list_resumes_the_top_level():
    text = ("Inclusion Criteria:\n\n1. Age 18 or over.\n2. Patients with:\n\n   Phase 2 only:\n\n   • Advanced NSCLC\n\n"
            "   Phase 3 only:\n   * Advanced breast cancer\n   * Prostate cancer\n"
            "3. Pathology confirmation of cancer is required.\n4. ECOG 0-1.\n")
    splits = {s.text: s for s in split_criteria(text)}
    assert splits["Pathology confirmation of cancer is required."].parent is None
    assert splits["ECOG 0-1."].parent is None
    assert splits["Prostate cancer"].parent == splits["Phase 3 only:"].id


def test_cohorts_are_alternatives_each_the_conjunction_of_its_items():
    text = ("Inclusion Criteria:\n\n1. Patients with:\n\n   Phase 2 only:\n\n   • Advanced or metastatic NSCLC\n\n"
            "   Phase 3 only:\n   * Advanced or metastatic breast cancer\n   * Prostate cancer\n2. ECOG 0-1.\n")
    cc = compile_text(text, "T")
    by = _by_text(cc)
    holder = next(c for c in cc.criteria if c.text.startswith("Phase 2 only:"))
    assert isinstance(holder.expression, cm.AnyOf) and len(holder.expression.items) == 2
    # the holder is the whole list of cohorts: its span covers the last cohort's last item
    assert holder.text.endswith("Prostate cancer") and text[holder.span[0]:holder.span[1]] == holder.text
    # the phase 3 cohort lists two cancers: one alternative that is itself any of them
    cancers = {a.cancer_type for a in iter_atoms(holder.expression) if isinstance(a, cm.Diagnosis)}
    assert cancers == {"non_small_cell_lung_cancer", "breast_cancer", "prostate_cancer"}
    for t in ("Phase 3 only:", "Advanced or metastatic breast cancer", "Prostate cancer", "Advanced or metastatic NSCLC"):
        item = next(c for c in cc.criteria if c.text.startswith(t))
        assert item.expression is None and holder.id in item.reason
    assert by["ECOG 0-1."].expression is not None


def test_items_under_one_of_the_following_are_alternatives():
    text = ("Inclusion Criteria:\n* Has metastatic cancer that meets one of the following criteria:\n\n"
            "  1. Triple negative breast cancer that has progressed on at least 1 prior line of therapy.\n"
            "  2. Hormone receptor positive breast cancer which has progressed on hormonal therapy.\n* Aged 18 or over.\n")
    cc = compile_text(text, "T")
    head = cc.criteria[0]
    anyofs = [n for n in ([head.expression] + list(getattr(head.expression, "items", []))) if isinstance(n, cm.AnyOf)]
    assert anyofs and len(anyofs[0].items) == 2
    assert all(c.expression is None for c in cc.criteria if c.parent == head.id)


def test_at_least_one_risk_factor_is_any_of_but_all_of_the_following_is_all():
    any_text = ("Inclusion Criteria:\n1. Patients with ≥ 1 of the following risk factors:\n\n"
                "   * Prior chemotherapy\n   * Age > 65 years\n")
    cc = compile_text(any_text, "T")
    assert isinstance(cc.criteria[0].expression, cm.AnyOf)
    all_text = ("Inclusion Criteria:\n1. Patients must meet all of the following:\n\n"
                "   * Prior chemotherapy\n   * Age > 65 years\n")
    cc = compile_text(all_text, "T")
    assert cc.criteria[0].expression is None and all(c.expression is not None for c in cc.criteria[1:])


def test_distinct_primary_cancers_listed_are_alternatives():
    text = ("Inclusion Criteria:\n1. Histologically confirmed metastatic solid tumours from the following primary tumours:\n\n"
            "   * Breast cancer,\n   * Prostate cancer,\n   * Cervical cancer,\n2. Age 18 or over.\n")
    cc = compile_text(text, "T")
    head = cc.criteria[0]
    cancers = [a.cancer_type for a in iter_atoms(head.expression) if isinstance(a, cm.Diagnosis)]
    assert {"breast_cancer", "prostate_cancer", "cervical_cancer"} <= set(cancers)
    assert any(isinstance(n, cm.AnyOf) for n in [head.expression, *getattr(head.expression, "items", [])])


def test_a_sibling_opening_with_or_is_the_alternative_of_the_line_before():
    text = ("Inclusion Criteria:\n\n* Triple negative breast cancer\n"
            "* Or patients with hormone receptor positive, HER2 negative breast cancer\n* ECOG 0-2\n")
    cc = compile_text(text, "T")
    assert len(cc.criteria) == 2
    assert isinstance(cc.criteria[0].expression, cm.AnyOf) and len(cc.criteria[0].expression.items) == 2


def test_items_listed_as_exceptions_are_allowed_not_excluded():
    text = ("Exclusion Criteria:\n\n1. Active or prior documented autoimmune disease. The following are exceptions to "
            "this criterion:\n\n   * Patients with vitiligo or alopecia.\n   * Patients with hypothyroidism stable on hormone "
            "replacement therapy.\n2. Pregnant women.\n")
    cc = compile_text(text, "T")
    head = cc.criteria[0]
    assert head.expression is not None and any(a.kind == "condition" for a in iter_atoms(head.expression))
    for c in cc.criteria:
        if c.parent == head.id:
            assert c.expression is None and "exception" in c.reason


def test_exceptions_listed_below_mid_sentence_are_allowed():
    text = ("Inclusion Criteria:\n\n1. ECOG 0-2.\n2. No prior malignancy with the exceptions listed below:\n\n"
            "   * Adequately treated non-melanomatous skin cancer or lentigo maligna melanoma without current evidence of "
            "disease\n   * Adequately treated cervical carcinoma in situ without current evidence of disease\n")
    cc = compile_text(text, "T")
    head = next(c for c in cc.criteria if c.text.startswith("No prior malignancy"))
    assert head.expression is not None and any(a.kind == "other_malignancy" for a in iter_atoms(head.expression))
    items = [c for c in cc.criteria if c.parent == head.id]
    assert len(items) == 2
    for c in items:
        assert c.expression is None and "exception" in c.reason
    # exceptions to a requirement are no permissions: that heading keeps its items
    text = ("Inclusion Criteria:\n\n1. Patients are required to have prior treatment with pertuzumab with the exceptions "
            "listed below:\n\n   * Patients who have not received prior pertuzumab are eligible if heavily pretreated\n")
    cc = compile_text(text, "T")
    assert not any("exception" in (c.reason or "") for c in cc.criteria)


def test_therapies_had_or_not_possible_are_therapy_or_judgement():
    text = ("Inclusion Criteria\n\n1. Prior treatment with, ineligibility for, or commercial unavailability of each of the "
            "following therapies:\n\n   * Anthracyclines, taxanes, and capecitabine.\n   * Ixabepilone.\n2. ECOG 0-2.\n")
    cc = compile_text(text, "T")
    items = [c for c in cc.criteria if c.parent == cc.criteria[0].id]
    assert cc.criteria[0].expression is None and len(items) == 2
    for c in items:
        assert isinstance(c.expression, cm.AnyOf)
        kinds = {type(x) for x in c.expression.items}
        assert cm.NeedsConfirmation in kinds and any(isinstance(a, cm.PriorTherapy) for a in iter_atoms(c.expression))


def test_exclusion_header_with_its_introduction_on_the_line_switches_the_kind():
    text = ("Inclusion Criteria\n\n1. ECOG 0-2.\n\nExclusion Criteria Subjects who meet any of the following criteria will be "
            "excluded from participation in the treatment protocol:\n\n1. Females who are pregnant or breastfeeding.\n"
            "2. Known HIV infection.\n")
    cc = compile_text(text, "T")
    kinds = {c.text.split()[0]: c.kind for c in cc.criteria}
    assert kinds["ECOG"] == "inclusion"
    assert kinds["Females"] == "exclusion" and kinds["Known"] == "exclusion"


def test_washout_times_after_a_colon_stay_with_the_therapy_they_time():
    text = ("Inclusion Criteria:\n\n* Adequate washout from:\n\n  1. Chemotherapy (including immunotherapy), and retinoid "
            "therapy: ≥2 weeks or 5 times terminal elimination half-life (whichever is longer); ≥6 weeks for "
            "nitrosoureas or mitomycin C\n  2. Antibody-based anti-cancer therapy: ≥4 weeks\n"
            "* Hemoglobin ≥ 9 g/dL; platelets ≥ 100,000/mm3\n")
    cc = compile_text(text, "X")
    chemo = next(c for c in cc.criteria if c.text.startswith("Chemotherapy"))
    assert not [c for c in cc.criteria if c.parent == chemo.id]  # one requirement, not split at ";"
    assert isinstance(chemo.expression, cm.Not) and chemo.expression.item.within is not None
    labs = next(c for c in cc.criteria if c.text.startswith("Hemoglobin"))
    assert len([c for c in cc.criteria if c.parent == labs.id]) == 2  # requirements joined by ";" still split


def test_negative_tests_ecog_status_and_class_based_chemotherapy():
    from trialmatch.criteria.compile import compile_criterion_text

    e, _, _ = compile_criterion_text("Negative blood tests for HIV and Hepatitis B and C", "inclusion")
    assert isinstance(e, cm.Not) and {a.pathogen for a in iter_atoms(e)} == {"hiv", "hbv", "hcv"}
    e, _, _ = compile_criterion_text("ECOG status of 0, 1 or 2", "inclusion")
    assert isinstance(e, cm.PerformanceStatus) and e.range.high == 2
    e, _, _ = compile_criterion_text("No previous exposure to anthracycline/anthracenedione-based chemotherapy",
                                     "inclusion")
    assert [a.agents for a in iter_atoms(e)] == [["anthracycline"]]
    e, _, _ = compile_criterion_text("Prior taxane or other chemotherapy", "exclusion")
    assert "chemotherapy" in e.agents


def test_chemotherapy_named_by_what_it_lacks_keeps_the_broad_class():
    from trialmatch.criteria.compile import compile_criterion_text

    e, _, _ = compile_criterion_text("at least 3 weeks must have elapsed since the completion of a non-nitrosourea "
                                     "containing chemotherapy regimen and at least 6 weeks since the completion of a "
                                     "nitrosourea containing chemotherapy", "inclusion")
    assert any("chemotherapy" in a.agents for a in iter_atoms(e))
