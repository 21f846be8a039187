"""Compiler behaviours: splitting, conditionals, alternatives, exceptions, negation, round trip."""

from __future__ import annotations

import json

from trialmatch.criteria.compile import COMPILER_VERSION, compile_criterion_text, compile_text
from trialmatch.criteria.model import CompiledCriteria, expression_from_dict, iter_atoms
from trialmatch.criteria.split import split_criteria

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


def test_conditional_liver_metastases():
    expr, status, _ = compile_criterion_text("ALT ≤ 2.5 × ULN (≤ 5 × ULN if liver metastases)")
    assert status == "compiled" and expr.kind == "if_then"
    assert expr.condition.kind == "metastasis" and expr.condition.site == "liver"
    assert expr.then.uln_multiple == 5 and expr.otherwise.uln_multiple == 2.5
    assert "if liver metastases" in expr.describe()


def test_alternative_cockcroft_gault():
    expr, status, _ = compile_criterion_text(
        "Serum creatinine ≤ 1.5 × ULN or creatinine clearance ≥ 60 mL/min (Cockcroft-Gault)")
    assert expr.kind == "any_of"
    crcl = expr.items[1]
    assert crcl.analyte == "creatinine_clearance" and crcl.value == 60 and crcl.unit == "mL/min"


def test_other_malignancy_exceptions():
    expr, _, _ = compile_criterion_text(
        "Other malignancy within 3 years, except adequately treated basal cell carcinoma or carcinoma in situ of the cervix",
        "exclusion")
    assert expr.kind == "other_malignancy" and expr.within.value == 3 and expr.within.unit == "year"
    assert set(expr.exceptions) >= {"non_melanoma_skin_cancer", "cervical_carcinoma_in_situ"}


def test_negation_and_comparator_phrases():
    expr, _, _ = compile_criterion_text("No prior CDK4/6 inhibitor", "inclusion")
    assert expr.kind == "not" and expr.item.agents == ["cdk46_inhibitor"]
    expr, _, _ = compile_criterion_text("No more than two prior lines of chemotherapy for metastatic disease")
    assert expr.kind == "prior_therapy" and expr.lines.high == 2 and expr.lines.low == 0
    expr, _, _ = compile_criterion_text("Karnofsky performance status ≥ 70%")
    assert expr.scale == "karnofsky" and expr.range.low == 70


def test_unsupported_is_explicit():
    expr, status, reason = compile_criterion_text("Zorblax quantifier must be flumbled")
    assert status == "unsupported" and expr.kind == "unsupported" and "Zorblax" in reason


def test_round_trip_and_version():
    text = open(__file__, encoding="utf-8").read().split('HINT_STYLE = """', 1)[1].split('"""', 1)[0]
    cc = compile_text(text, "T1")
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


# ----------------------------------------------------------------------------- patterns added with the speed work
def _d(text, kind="inclusion"):
    expr, status, reason = compile_criterion_text(text, kind)
    return expr, status, reason


def test_setting_phrase_is_the_therapy_setting_not_a_disease_extent():
    expr, status, _ = _d("Prior chemotherapy for metastatic breast cancer", "exclusion")
    assert status == "compiled" and expr.kind == "prior_therapy", expr.describe()
    assert expr.agents == ["chemotherapy"] and expr.settings == ["metastatic"]
    expr, _, _ = _d("Must not have received any previous systemic treatment for advanced disease "
                    "(except hormone therapy for ovarian suppression or bone treatments)")
    assert expr.kind == "not" and expr.item.kind == "except"
    kinds = {a.kind for a in iter_atoms(expr)}
    assert kinds == {"prior_therapy"}, expr.describe()


def test_vague_organ_function_needs_confirmation_with_reason():
    for text in ("Normal or near-normal liver and kidney function", "Adequate organ function",
                 "Adequate bone marrow, liver, and renal function"):
        expr, status, reason = _d(text)
        assert status == "needs_confirmation" and "no defined threshold" in reason, (text, reason)
    # with a threshold it is not vague
    _, status, _ = _d("Adequate renal function: creatinine ≤ 1.5 × ULN")
    assert status != "needs_confirmation"


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


def test_clinically_significant_condition():
    expr, status, _ = _d("Clinically significant auditory impairment", "exclusion")
    assert status == "compiled" and expr.kind == "condition"
    assert expr.condition == "auditory impairment" and expr.qualifiers == ["clinically_significant"]
    # a head with no content of its own is not a condition
    _, status, _ = _d("Clinically relevant disease or clinical finding", "exclusion")
    assert status == "unsupported"


def test_contraception_wording_needs_confirmation():
    for text in ("Fertile patients must use effective contraception",
                 "Agree to use an effective form of contraception during the study"):
        expr, status, _ = _d(text)
        assert status == "needs_confirmation" and expr.category == "contraception", text


def test_ecog_written_out():
    expr, status, _ = _d("Eastern Cooperative Oncology Group (ECOG) performance status of 0 or 1.")
    assert status == "compiled" and expr.kind == "performance_status"
    assert expr.scale == "ecog" and (expr.range.low, expr.range.high) == (0, 1)


def test_time_since_windows():
    expr, _, _ = _d("At least 4 weeks since prior chemotherapy")
    assert expr.kind == "not" and expr.item.kind == "prior_therapy"
    assert expr.item.agents == ["chemotherapy"] and expr.item.within.value == 4 and expr.item.within.unit == "week"
    expr, _, _ = _d("No more than 6 weeks since initial surgical procedure (e.g., biopsy)")
    assert expr.kind == "recent_event" and expr.event == "surgery" and expr.within.value == 6
    expr, _, _ = _d("At least 10 days since prior bortezomib or tipifarnib")
    assert expr.kind == "not" and set(expr.item.agents) == {"bortezomib", "tipifarnib"}
    # a range of weeks is ambiguous: not compiled
    _, status, _ = _d("At least 4-6 weeks since prior 5-alpha-reductase inhibitor")
    assert status == "unsupported"


def test_free_text_drug_names_in_prior_therapy():
    expr, status, _ = _d("Prior exposure to SNS-595 (vosaroxin)", "exclusion")
    assert status == "compiled" and expr.kind == "prior_therapy" and expr.agents == ["sns-595"]
    # a list with a generic item is not turned into names
    _, status, _ = _d("Prior treatment with tipifarnib, rituximab or other farnesyltransferase inhibitor", "exclusion")
    assert status == "unsupported"
    # (lenalidomide and "immunomodulatory agent" are vocabulary entries since compiler 0.4.2: that list compiles)
    expr, status, _ = _d("Prior treatment with lenalidomide, rituximab or other immunomodulatory agent", "exclusion")
    assert status == "compiled" and "immunomodulatory_drug" in expr.agents


def test_concurrent_investigational_agents_are_current_medication():
    expr, _, _ = _d("Currently receiving any other investigational agents", "exclusion")
    assert expr.kind == "concomitant_medication" and expr.classes == ["investigational_drug"]
    expr, _, _ = _d("Received any investigational drugs within 30 days before study entry", "exclusion")
    assert expr.kind == "recent_event" and expr.within.value == 30


def test_clause_cache_returns_independent_copies():
    a, _, _ = _d("Prior chemotherapy for metastatic breast cancer", "exclusion")
    a.agents.append("mutated")
    b, _, _ = _d("Prior chemotherapy for metastatic breast cancer", "exclusion")
    assert b.agents == ["chemotherapy"]


# ----------------------------------------------------------------------------- demo regressions (wrong verdicts)
def _desc(text, kind="inclusion"):
    expr, status, reason = compile_criterion_text(text, kind)
    return expr, status, reason


def test_men_or_menopausal_women_and_women_only_requirements():
    expr, _, _ = _desc("Men, or postmenopausal women, aged 18 years or older.")
    kinds = [a.kind for a in iter_atoms(expr)]
    assert expr.kind == "all_of" and kinds.count("sex") == 2 and "menopausal_status" in kinds
    alt = next(i for i in expr.items if i.kind == "any_of")
    assert alt.items[0].allowed == ["male"] and alt.items[1].kind == "all_of"
    expr, _, _ = _desc("Women or men aged 18 years or older; women must be postmenopausal or receive ovarian "
                       "function suppression.")
    sex = [a for a in iter_atoms(expr) if a.kind == "sex"]
    assert sorted(sex[0].allowed) == ["female", "male"]
    cond = next(i for i in expr.items if i.kind == "if_then")
    assert cond.condition.allowed == ["female"] and cond.then.kind == "any_of"
    assert not any(a.kind == "prior_therapy" for a in iter_atoms(expr))  # OFS is her status, not a therapy count


def test_menopause_with_ovarian_suppression_alternatives():
    expr, _, _ = _desc("Postmenopausal, or premenopausal/perimenopausal with ovarian function suppression by an LHRH agonist.")
    assert expr.kind == "any_of" and expr.items[0].allowed == ["postmenopausal"]
    assert expr.items[1].kind == "all_of" and set(expr.items[1].items[0].allowed) == {"premenopausal", "perimenopausal"}
    expr, _, _ = _desc("Premenopausal or perimenopausal women must receive ovarian function suppression (e.g. goserelin) "
                       "or have had bilateral oophorectomy")
    assert expr.kind == "if_then" and set(expr.condition.allowed) == {"premenopausal", "perimenopausal"}
    assert expr.then.kind == "ovarian_suppression"


def test_er_and_or_pr_positive_is_hormone_receptor_positive():
    expr, _, _ = _desc("Must have hormone receptor-positive (ER-positive and/or PR-positive), HER2-negative breast cancer")
    recs = [(a.receptor, a.status) for a in iter_atoms(expr) if a.kind == "receptor"]
    assert ("HR", "positive") in recs and ("ER", "positive") not in recs and ("PR", "positive") not in recs
    expr, _, _ = _desc("ER-positive and PR-positive")  # both required
    assert {(a.receptor, a.status) for a in iter_atoms(expr)} == {("ER", "positive"), ("PR", "positive")}


def test_her2_standard_definitions_in_brackets():
    expr, _, _ = _desc("HER2-negative (IHC 0 or 1+, or IHC 2+ with negative ISH) breast cancer")
    her2 = [a for a in iter_atoms(expr) if a.kind == "receptor" and a.receptor == "HER2"]
    assert len(her2) == 1 and her2[0].status == "negative" and her2[0].her2_ihc == []
    assert not any(a.kind == "measurement" for a in iter_atoms(expr))
    expr, _, _ = _desc("HER2-low expression: IHC 1+, or IHC 2+ with negative in situ hybridisation (ISH).")
    her2 = [a for a in iter_atoms(expr) if a.kind == "receptor"]
    assert len(her2) == 1 and her2[0].status == "low" and not any(a.kind == "measurement" for a in iter_atoms(expr))
    expr, _, _ = _desc("HER2-negative defined as IHC 1+ or IHC 2+ and ISH negative")
    assert expr.kind == "any_of" and expr.items[1].her2_ihc == ["2+"] and expr.items[1].ish == "negative"
    assert expr.items[0].ish is None


def test_line_ranges_cycles_and_response():
    expr, _, _ = _desc("One or two prior lines of endocrine therapy for advanced disease.")
    assert expr.lines.low == 1 and expr.lines.high == 2
    expr, status, _ = _desc("Response or stable disease (RECIST 1.1) after at least 4 cycles of chemotherapy or at "
                            "least 6 months of endocrine therapy.")
    assert status == "unsupported"  # response to therapy is not modelled; never "lines >= 4"
    assert not any(a.kind == "prior_therapy" and a.lines.low == 4 for a in iter_atoms(expr))


def test_measurable_or_bone_only_is_one_alternative():
    expr, _, _ = _desc("Measurable disease per RECIST 1.1, or bone-only disease with at least one evaluable lesion.")
    assert expr.kind == "measurable_disease" and expr.allow_bone_only_evaluable


def test_degrader_classes_and_exceptions():
    expr, _, _ = _desc("Prior treatment with an oral SERD or any investigational estrogen receptor degrader.", "exclusion")
    assert set(expr.agents) == {"oral_serd", "investigational_er_degrader"}  # not "serd": fulvestrant is not a hit
    expr, _, _ = _desc("No prior systemic therapy for advanced disease (except bone-targeted agents or ovarian suppression).")
    exc = [a.agents[0] for a in iter_atoms(expr.item.exception)]
    assert set(exc) == {"ovarian_function_suppression", "bone_targeted_therapy"}  # not "targeted therapy"
    expr, _, _ = _desc("Prior treatment with any PI3K, AKT or mTOR inhibitor.", "exclusion")
    assert set(expr.agents) == {"pi3k_inhibitor", "akt_inhibitor", "mtor_inhibitor"}
    expr, _, _ = _desc("Prior treatment with fulvestrant or with any VEGFR tyrosine kinase inhibitor", "exclusion")
    assert set(expr.agents) == {"fulvestrant", "vegfr_tki"}


def test_bilateral_breast_cancer_is_not_any_breast_cancer():
    for text in ("Bilateral breast cancer.", "Double breast cancer"):
        expr, status, _ = _desc(text, "exclusion")
        assert status == "compiled" and expr.kind == "condition" and expr.condition == "bilateral_breast_cancer"


def test_permissions_are_not_requirements():
    for text in ("Prior CDK4/6 inhibitor allowed.", "Prior adjuvant chemotherapy allowed", "Concurrent steroids permitted"):
        expr, status, reason = _desc(text)
        assert expr is None and status == "compiled" and "not a requirement" in reason
    expr, _, _ = _desc("Hemoglobin at least 10 g/dL (transfusion allowed)")
    assert expr.kind == "lab"  # the bracketed permission is not a transfusion requirement
    _, _, reason = _desc("Radiation therapy (XRT): no prior therapy allowed")  # a prohibition, not a permission
    assert not (reason or "").startswith("not a requirement")
    cc = compile_text("Inclusion Criteria:\n- Prior CDK4/6 inhibitor allowed.\n- Age 18 or more\n", "T")
    assert cc.criteria[0].expression is None and cc.criteria[0].reason.startswith("not a requirement")


def test_gene_in_tissue_is_not_a_tissue_confirmation():
    expr, status, _ = _desc("PIK3CA mutation (e.g. E542K, E545K, H1047R) in tumour tissue or ctDNA.")
    assert status == "compiled" and expr.kind == "gene_alteration" and set(expr.sources) == {"tissue", "ctdna"}


def test_current_medications_and_pregnancy_tests():
    expr, _, _ = _desc("Current use of statins", "exclusion")
    assert expr.kind == "concomitant_medication" and expr.classes == ["statin"]
    expr, _, _ = _desc("Currently receiving ACE-I or ARB medications", "exclusion")
    assert set(expr.classes) == {"ace_inhibitor", "angiotensin_receptor_blocker"}
    expr, _, _ = _desc("Concurrent use of any other anti-cancer agents", "exclusion")
    assert expr.kind == "prior_therapy" and expr.agents == ["systemic_therapy"] and expr.ongoing
    expr, _, _ = _desc("Positive urine pregnancy test.", "exclusion")
    assert expr.kind == "pregnancy" and expr.state == "pregnant"
    _, status, _ = _desc("a positive urine test must be confirmed by a serum pregnancy test")
    assert status == "unsupported"  # a testing procedure, not her pregnancy


def test_condition_lists_and_unknown_list_items():
    expr, _, _ = _desc("No serious non-healing wound, ulcer, or bone fracture")
    assert expr.kind == "not" and {a.condition for a in iter_atoms(expr)} == {"non_healing_wound", "ulcer", "bone_fracture"}
    expr, _, _ = _desc("Previously treated with a PD-1/PD-L1-blocking antibody or a histone deacetylase inhibitor", "exclusion")
    assert set(expr.agents) == {"pd1_pdl1_inhibitor", "hdac_inhibitor"}


def test_placeholders_not_specified():
    cc = compile_text("Inclusion Criteria:\n- Menopausal status not specified\n- Age 18 or more\n", "T")
    assert cc.criteria[0].expression is None and "placeholder" in cc.criteria[0].reason


# ----------------------------------------------------------------------------- matcher-reported fixes
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


def test_men_or_non_pregnant_women_keeps_the_negation():
    expr, status, _ = _desc("Men or non-pregnant, non-lactating women 18 to 75 years of age")
    assert status == "compiled" and expr.kind == "all_of"
    alt = [i for i in expr.items if i.kind == "any_of"][0]
    assert alt.items[0].kind == "sex" and alt.items[0].allowed == ["male"]
    women = alt.items[1]
    assert [a.kind for a in women.items] == ["sex", "not", "not"]
    assert {a.item.state for a in women.items[1:]} == {"pregnant", "breastfeeding"}
    expr, _, _ = _desc("Non-pregnant, non-lactating women")
    assert not any(a.kind == "pregnancy" and a not in [x.item for x in expr.items if x.kind == "not"]
                   for a in expr.items)
    expr, _, _ = _desc("Women must not be pregnant or breastfeeding")
    assert expr.kind == "all_of" and all(i.kind == "not" for i in expr.items)


def test_male_and_female_is_both_sexes():
    for text in ("Male and female patients between ages 18-55 with MS", "Male or female, aged 18 or older",
                 "Women and men aged >= 18 years", "Both sexes"):
        expr, _, _ = _desc(text)
        sexes = [a for a in iter_atoms(expr) if a.kind == "sex"]
        assert len(sexes) == 1 and set(sexes[0].allowed) == {"female", "male"}, text


def test_therapy_for_a_cancer_is_not_a_diagnosis():
    for text in ("anti-myeloma therapy within 28 days", "Use of anti-leukemia therapy within 2 weeks of enrollment",
                 "systemic therapy for breast cancer within 4 weeks"):
        expr, status, _ = _desc(text, "exclusion")
        kinds = {a.kind for a in iter_atoms(expr)}
        assert "diagnosis" not in kinds, text
        assert expr.kind == "prior_therapy" and expr.within is not None, text
    expr, _, _ = _desc("Histologically confirmed multiple myeloma")
    assert expr.kind == "diagnosis"


def test_definitions_are_not_requirements():
    for text in ("women are considered postmenopausal when >= 54 years",
                 "Childbearing potential is defined as not postmenopausal for 12 months"):
        expr, status, reason = _desc(text, "exclusion")
        assert expr is None and status == "compiled" and "definition" in reason, text
    expr, _, _ = _desc("Postmenopausal status, defined as age >= 60 years, or age < 60 with amenorrhea for 12 months")
    assert expr.kind == "menopausal_status"  # never an age gate
    expr, _, _ = _desc("Patients are considered eligible if ECOG 0-1")
    assert expr.kind == "performance_status"  # "considered eligible" is a requirement
    cc = compile_text("Exclusion Criteria:\n- Women are considered postmenopausal when >= 54 years\n", "T")
    assert cc.criteria[0].expression is None and "definition" in cc.criteria[0].reason


def test_weight_change_is_not_weight():
    expr, _, _ = _desc("Weight gain or loss of greater than 5 kg", "exclusion")
    assert expr.kind == "measurement" and expr.name == "weight change" and expr.value == 5
    expr, _, _ = _desc("Weight loss > 10% in the last 6 months", "exclusion")
    assert expr.name == "weight loss"
    expr, _, _ = _desc("Weight >= 40 kg")
    assert "change" not in getattr(expr, "name", getattr(expr, "analyte", ""))


def test_bare_drug_items_read_with_their_heading():
    cc = compile_text("Inclusion Criteria:\n- No concurrent treatment with any of the following:\n"
                      "   * Ritonavir\n   * Fooxyzumabine\n", "T")
    by = {c.text: c for c in cc.criteria}
    assert by["Ritonavir"].status == "compiled" and "ritonavir" in by["Ritonavir"].expression.describe()
    assert by["Fooxyzumabine"].status == "unsupported"


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


# ----------------------------------------------------------------------------- correctness and coverage patterns
def _atoms(text: str, kind: str = "inclusion"):
    expr, status, _ = compile_criterion_text(text, kind)
    return expr, status, list(iter_atoms(expr)) if expr is not None else []


def test_negation_after_semicolon_stays_in_its_part():
    expr, status, atoms = _atoms("Measurable disease; no prior chemotherapy for metastatic disease")
    assert status == "compiled" and expr.kind == "all_of"
    assert expr.items[0].kind == "measurable_disease"
    neg = expr.items[1]
    assert neg.kind == "not" and neg.item.kind == "prior_therapy" and neg.item.agents == ["chemotherapy"]
    assert neg.item.settings == ["metastatic"]
    # a permission after the semicolon is not a check, and not negated into the first part
    expr, _, atoms = _atoms("No prior chemotherapy; prior hormonal therapy allowed")
    assert expr.kind == "not" and expr.item.agents == ["chemotherapy"]
    # "no A; B": a list under one "no" is still read as one negated clause
    expr, _, _ = _atoms("No prior chemotherapy; prior hormonal therapy allowed; no prior radiotherapy")
    assert expr.kind == "all_of" and all(i.kind == "not" for i in expr.items)


def test_fitness_for_a_therapy_is_a_judgement_not_a_prior_therapy():
    for text in ("considered unfit for chemotherapy", "Not a candidate for endocrine therapy",
                 "Patients who refuse chemotherapy", "Candidates for treatment with fulvestrant"):
        expr, status, atoms = _atoms(text)
        assert status == "needs_confirmation", text
        assert not any(a.kind == "prior_therapy" for a in atoms), text
        assert atoms[0].category == "investigator_judgement"
    _, _, atoms = _atoms("Prior chemotherapy for metastatic disease")
    assert atoms[0].kind == "prior_therapy"  # the plain therapy history is unchanged


def test_loss_of_body_weight_is_weight_loss():
    expr, status, _ = _atoms("Loss of more than 10% body weight", "exclusion")
    assert status == "compiled" and expr.kind == "measurement"
    assert expr.name == "weight loss" and expr.comparator == ">" and expr.value == 10


def test_cns_metastases_written_out_and_allowances():
    expr, _, _ = _atoms("Active central nervous system metastases", "exclusion")
    assert expr.kind == "metastasis" and expr.site == "cns" and expr.qualifiers == ["active"]
    expr, _, _ = _atoms("Cancer that has spread to the brain.", "exclusion")
    assert expr.kind == "metastasis" and expr.site == "brain"
    expr, _, _ = _atoms("No known CNS metastases or previously treated and now stable CNS metastases")
    assert expr.kind == "not" and expr.item.site == "cns" and expr.item.qualifiers == ["active"]
    expr, _, _ = _atoms("Patients with brain metastases are eligible if treated and stable")
    assert expr.kind == "not" and expr.item.site == "brain" and expr.item.qualifiers == ["active"]
    expr, _, _ = _atoms("Bone, liver or lung metastases", "exclusion")
    assert [i.site for i in expr.items] == ["bone", "liver", "lung"]
    _, status, _ = _atoms("bone pain from metastases", "exclusion")
    assert status == "unsupported"  # "bone" does not qualify the metastases here


def test_bare_sex_criteria():
    assert _atoms("Males.", "exclusion")[0].allowed == ["male"]
    assert _atoms("Male patients.", "exclusion")[0].allowed == ["male"]
    assert _atoms("Are females")[0].allowed == ["female"]


def test_concurrent_medications_and_since_windows():
    expr, _, _ = _atoms("No concurrent fluconazole or lithium")
    assert expr.kind == "not" and expr.item.kind == "concomitant_medication"
    assert expr.item.classes == ["fluconazole", "lithium"]
    _, status, _ = _atoms("No concurrent radiotherapy")
    assert status == "unsupported"  # not a medication
    expr, _, _ = _atoms("At least 6 months since prior and no concurrent amiodarone")
    assert expr.kind == "not" and expr.item.agents == ["amiodarone"]
    assert (expr.item.within.value, expr.item.within.unit) == (6, "month")
    expr, _, _ = _atoms("At least three weeks from completion of irradiation")
    assert expr.kind == "not" and expr.item.event == "radiotherapy" and expr.item.within.value == 3


def test_use_of_drugs_within_a_window():
    expr, status, _ = _atoms("Use of leflunomide within 6 months of randomization", "exclusion")
    assert status == "compiled" and expr.kind == "prior_therapy" and expr.agents == ["leflunomide"]
    assert (expr.within.value, expr.within.unit) == (6, "month")
    expr, _, _ = _atoms("Treatment with tamoxifen within 4 weeks prior to the first dose of study drug", "exclusion")
    assert expr.agents == ["tamoxifen"] and expr.within.value == 4
    _, status, _ = _atoms("Use of any medication listed in the protocol within 30 days prior to Day 0", "exclusion")
    assert status == "unsupported"  # protocol-defined list: nothing to check it against


def test_condition_lists_with_windows_and_shared_heads():
    expr, status, _ = _atoms("History of abdominal fistula, gastrointestinal perforation, or intra-abdominal abscess "
                             "within 6 months prior to study enrollment", "exclusion")
    assert status == "compiled" and expr.kind == "any_of"
    assert [i.condition for i in expr.items] == ["abdominal fistula", "gastrointestinal perforation",
                                                 "intra-abdominal abscess"]
    assert all(i.within.value == 6 and i.within.unit == "month" for i in expr.items)
    expr, _, _ = _atoms("Clinically significant coronary artery, cerebrovascular or peripheral vascular disease", "exclusion")
    assert [i.condition for i in expr.items] == ["coronary artery disease", "cerebrovascular disease",
                                                 "peripheral vascular disease"]
    assert all(i.qualifiers == ["clinically_significant"] for i in expr.items)
    expr, _, _ = _atoms("History of kidney, heart or lung transplants.", "exclusion")
    assert [i.condition for i in expr.items] == ["kidney transplants", "heart transplants", "lung transplants"]
    # an exception or an open item is not a plain list
    assert _atoms("History of cholecystitis or cholelithiasis unless treated by cholecystectomy", "exclusion")[1] == "unsupported"
    # a window "of beginning study treatment" is before the study, not time to progression
    expr, status, _ = _atoms("History of myocardial infarction or unstable angina within 6 months of beginning study "
                             "treatment.", "exclusion")
    assert status == "compiled" and all(i.within.value == 6 for i in iter_atoms(expr))


def test_drug_items_take_their_headings_single_therapy_check():
    text = ("Inclusion Criteria:\n- At least 7 days since prior and no concurrent CYP3A4 inhibitors, including any of "
            "the following:\n  - Nelfinavir\n  - Chemistry\n")
    cc = compile_text(text, "T")
    by = {c.text.strip(): c for c in cc.criteria}
    nel = by["Nelfinavir"]
    assert nel.status == "compiled" and nel.expression.kind == "not"
    assert "nelfinavir" in nel.expression.item.agents and nel.expression.item.within.value == 7
    assert by["Chemistry"].status == "unsupported"  # a heading word, not a drug


def test_receptor_status_known_overexpression_and_ar():
    assert _atoms("Hormone receptor status known")[0].model_dump(include={"receptor", "status"}) == \
        {"receptor": "HR", "status": "known"}
    assert _atoms("Estrogen receptor status known")[0].receptor == "ER"
    for text in ("HER2/neu overexpression", "Must overexpress HER-2 gene", "Documented ErbB2 overexpression"):
        e = _atoms(text)[0]
        assert (e.receptor, e.status) == ("HER2", "positive"), text
    assert _atoms("Epidermal growth factor receptor (EGFR) and/or erbB2 positivity not required")[1] == "unsupported"
    e = _atoms("Androgen receptor-positive")[0]
    assert (e.receptor, e.status) == ("AR", "positive")


def test_stage_ranges_expand():
    assert _atoms("Clinical stage I-III disease")[0].stages == ["I", "II", "III"]
    assert _atoms("Clinical stage 2-3B")[0].stages == ["II", "IIIA", "IIIB"]


def test_named_diseases_without_a_lead_and_vague_comorbidities():
    e = _atoms("No macular degeneration")[0]
    assert e.kind == "not" and e.item.condition == "macular degeneration"
    e = _atoms("Ongoing diarrhea", "exclusion")[0]
    assert e.condition == "diarrhea" and e.qualifiers == ["active"]
    assert _atoms("Palpable disease")[1] == "unsupported"  # not the name of a condition
    for text in ("Current severe, uncontrolled systemic disease", "No other medical condition that would preclude study "
                 "participation", "No contraindication to dexamethasone"):
        e, status, atoms = _atoms(text, "exclusion")
        assert status == "needs_confirmation" and atoms[0].category == "investigator_judgement", text
    assert _atoms("Medical conditions", "exclusion")[1] == "unsupported"  # nothing to judge by


def test_brain_metastasis_exceptions_and_therapy_targets():
    assert _atoms("Patient with CNS involvement unless they are at least 4 weeks from prior therapy completion.",
                  "exclusion")[1] == "unsupported"
    assert _atoms("bisphosphonates or RANK ligand antagonists that are permitted for the management of bone "
                  "metastases", "exclusion")[1] == "unsupported"
    e = _atoms("History or clinical evidence of central nervous system (CNS) metastases or leptomeningeal "
               "carcinomatosis", "exclusion")[0]
    assert e.kind == "metastasis" and e.site == "cns" and e.qualifiers == []  # not "leptomeningeal CNS only"


def test_window_from_study_start_in_several_sentences_is_not_compiled():
    text = ("Prior treatment with any cytotoxic chemotherapy for treatment of pancreatic cancer except as an adjuvant "
            "therapy. Should not have received gemcitabine within 6 months of starting the study treatment.")
    assert _atoms(text, "exclusion")[1] == "unsupported"
    e = _atoms("Major surgery within 4 weeks of the start of study treatment", "exclusion")[0]
    assert e.kind == "recent_event" and e.within.value == 4


def test_drug_items_under_a_medication_heading_without_a_drug():
    text = ("Inclusion Criteria:\n- No concurrent administration of any of the following drugs:\n  - Zidovudine\n"
            "- Patient that requires changes in the dose of one of the following medications within 2 weeks:\n"
            "  - Abacavir\n")
    by = {c.text.strip(): c for c in compile_text(text, "T").criteria}
    z = by["Zidovudine"].expression
    assert z.kind == "not" and z.item.kind == "concomitant_medication" and z.item.classes == ["zidovudine"]
    assert by["Abacavir"].status == "unsupported"  # a dose change is not taking the drug


def test_bare_stage_lists_sex_with_label_and_her2_spellings():
    e = _atoms("Stage IIIB, IIIC, or IV")[0]
    assert e.stages == ["IIIB", "IIIC", "IV"]
    assert _atoms("Gender: female")[0].allowed == ["female"]
    assert _atoms("Was male", "exclusion")[0].allowed == ["male"]
    e = _atoms("HER2neu negative tumours.", "exclusion")[0]
    assert (e.receptor, e.status) == ("HER2", "negative")
    e = _atoms("Over-expression of HER2")[0]
    assert (e.receptor, e.status) == ("HER2", "positive")
    e = _atoms("Symptomatic peripheral vascular disease", "exclusion")[0]
    assert e.condition == "peripheral vascular disease" and e.qualifiers == ["symptomatic"]
    assert _atoms("Extensive visceral disease", "exclusion")[1] == "unsupported"  # the cancer's extent


def test_item_qualifier_does_not_spread_back_over_earlier_items():
    from trialmatch.criteria.model import iter_atoms
    expr, status, _ = compile_criterion_text("History of MI, stroke or unstable angina within 6 months", "exclusion")
    assert status == "compiled"
    conds = {a.condition: a.qualifiers for a in iter_atoms(expr) if a.kind == "condition"}
    assert "unstable" not in conds.get("myocardial_infarction", []) and "unstable" not in conds.get("stroke", [])
    assert "myocardial_infarction" in conds and "stroke" in conds, expr.describe()


def test_study_drug_named_as_window_anchor_is_not_a_prior_therapy():
    expr, status, _ = compile_criterion_text(
        "Have received any of the following within 28 days prior to the first dose of cyclophosphamide: Fluvoxamine",
        "exclusion")
    assert status == "compiled"
    assert "cyclophosphamide" not in expr.describe() and "fluvoxamine" in expr.describe(), expr.describe()


def test_bracketed_detail_keeps_an_exclusion_permission_a_permission():
    expr, status, reason = compile_criterion_text(
        "Use of topical corticosteroids (≤1% hydrocortisone cream) for dermatological disease is permitted", "exclusion")
    assert expr is None and status == "compiled" and "allowed" in reason


def test_adverse_reaction_to_a_drug_is_an_allergy_not_its_use():
    expr, status, _ = compile_criterion_text(
        "History of any adverse reaction to any intranasal, inhaled or systemic corticosteroid therapy.", "exclusion")
    assert status == "compiled" and expr.kind == "allergy", expr.describe()
