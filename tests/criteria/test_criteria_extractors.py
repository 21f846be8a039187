"""The extractor registry, its data files, the arbitration table and the atom-kind registry."""

from __future__ import annotations

import json

import pytest

from trialmatch.criteria import model as cm
from trialmatch.criteria.arbitration import ORDER, RULES, pipeline, yields_to
from trialmatch.criteria.clause import Clause, clause_source, compile_clause
from trialmatch.criteria.compile import compile_criterion_text
from trialmatch.criteria.extractors.common import _negated
from trialmatch.criteria.extractors.conditions import _infections
from trialmatch.criteria.extractors.confirm import _confirm
from trialmatch.criteria.extractors.events import _events
from trialmatch.criteria.extractors.registry import (
    DATA_DIR, FAMILIES, ExtractorSpec, FamilyData, Gate, family_data, registered,
)
from trialmatch.criteria.kinds import atom_kind, atom_kinds, describe, kind_info, node_kinds
from trialmatch.criteria.rules import RuleSet, rules

# one clause per family, each read by a different extractor
CLAUSES = [
    ("Age >= 18 years", "inclusion"), ("Postmenopausal women", "inclusion"), ("Female patients", "inclusion"), ("ECOG performance status 0-1", "inclusion"),
    ("HER2-negative, ER-positive breast cancer", "inclusion"), ("PIK3CA mutation in tumour tissue", "inclusion"),
    ("ANC >= 1.5 x 10^9/L and platelets >= 100 x 10^9/L", "inclusion"), ("Brain metastases", "exclusion"),
    ("Prior treatment with a CDK4/6 inhibitor", "exclusion"), ("Major surgery within 4 weeks", "exclusion"),
    ("Active hepatitis B infection", "exclusion"), ("History of interstitial lung disease", "exclusion"),
    ("Known hypersensitivity to fulvestrant", "exclusion"), ("Signed informed consent", "inclusion"),
    ("BMI < 35 kg/m2", "inclusion"), ("Life expectancy of at least 12 weeks", "inclusion"),
    ("Pregnant or breastfeeding", "exclusion"), ("Measurable disease per RECIST 1.1", "inclusion"),
    ("No concurrent fluconazole", "exclusion"), ("Use of leflunomide within 6 months", "exclusion"),
]


def test_every_extractor_is_registered_ordered_once_and_in_the_data():
    reg = registered()
    in_data = {name for f in FAMILIES for name in family_data(f).extractors}
    assert set(reg) == in_data == set(ORDER)
    assert len(ORDER) == len(set(ORDER))
    for name, ex in reg.items():
        assert ex.family in FAMILIES and name in family_data(ex.family).extractors
        assert ex.fn.__module__.endswith(ex.family) or ex.fn.__module__.endswith("extractors." + ex.family)
    guards = [n for n in ORDER if reg[n].phase == "guard"]
    assert ORDER[:len(guards)] == tuple(guards)  # guards run first
    assert len(pipeline()) == len(ORDER)


def test_arbitration_rules_name_known_extractors_and_are_documented():
    reg = registered()
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for r in RULES:
        assert r.target in reg and all(b in reg for b in r.by) and (r.needs is None or r.needs in reg)
        assert r.doc and r.stage in ("skip", "input", "output", "after")
    assert yields_to("sex") == ("men_or_menopausal_women", "men_or_nonpregnant_women")
    assert reg["diagnosis"].yields_to == ("other_malignancy",)
    assert reg["age"].yields_to == ()


def test_generated_clause_function_follows_the_order():
    src = clause_source()
    pos = [src.index(f"    # {name}\n") for name in ORDER]
    assert pos == sorted(pos)
    assert "('age' in tl" in src  # a plain-word gate is written out


def test_skip_rule_holds_sex_back_when_the_joint_rule_read_the_clause():
    atoms = compile_clause("Men, or postmenopausal women", "inclusion")
    assert len(atoms) == 1 and isinstance(atoms[0], cm.AnyOf)
    assert not any(isinstance(a, cm.Sex) for a in atoms)  # the sex extractor yielded


def test_each_extractor_yields_only_its_declared_kinds():
    reg = registered()
    seen: dict[str, set] = {}
    for text, kind in CLAUSES:
        for name, ex in reg.items():
            if ex.phase == "guard":
                continue
            out = ex.run(Clause(text, kind), text)
            kinds = {x.kind for a in out for x in cm.iter_atoms(a)}
            assert kinds <= set(ex.kinds), (name, text, kinds - set(ex.kinds))
            if out:
                seen.setdefault(name, set()).update(kinds)
    assert {"age", "sex", "performance", "receptors", "genes", "labs", "metastasis", "prior_therapy", "events",
            "infections", "conditions", "allergy", "measurements", "life_expectancy", "pregnancy", "measurable"} <= set(seen)
    known = set(cm.ATOM_KINDS)
    for ex in reg.values():
        assert set(ex.kinds) - {"*"} <= known, ex.name


def test_every_cue_table_in_the_data_is_read():
    registered()
    rules()
    for f in FAMILIES:
        cues = family_data(f).cues
        assert set(cues) == cues.read, (f, sorted(set(cues) - cues.read))
    rule_keys = set()
    for f in FAMILIES:
        rule_keys |= set(family_data(f).rules)
    from trialmatch.vocab.concepts import criteria_rule_tables

    assert not rule_keys & set(criteria_rule_tables())  # concept cues live in the concept registry only
    assert rule_keys | set(criteria_rule_tables()) == set(RuleSet.FIELDS)  # every rules table goes into the rule set
    assert set(rules().to_dict()) == set(RuleSet.FIELDS)


def test_every_event_infection_and_confirmation_cue_is_read_by_its_extractor():
    r = rules()
    for key, cues in r.events.items():
        for cue in cues:
            got = {a.event for a in _events(f"{cue} within 6 months") if isinstance(a, cm.RecentEvent)}
            assert key in got or (key == "major_surgery" and "surgery" in got), (key, cue)
    for key, cues in r.infections.items():
        for cue in cues:
            assert key in {a.pathogen for a in _infections(cue)}, (key, cue)
    shadowed = {(s["category"], s["cue"]) for s in family_data("confirm").cues["shadowed_cues"]}
    for cat, cues in r.confirm.items():
        for cue in cues:
            got = _confirm(cue)
            assert got is not None, cue
            assert got.category == cat or (cat, cue) in shadowed, (cat, cue, got.category)


def test_negation_cues_are_what_the_negation_test_reads():
    cues = family_data("common").rules["negation_cues"]
    for cue in cues["lead_cues"]:
        assert _negated(f"{cue} prior chemotherapy"), cue
    for w in cues["no_unless_followed_by"]:
        assert not _negated(f"no {w} than 2 prior lines"), w
    for w in cues["not_unless_followed_by"]:
        assert not _negated(f"not {w} than 2 prior lines"), w
    for w in cues["not_a_negation"]:
        assert not _negated(f"no {w} on prior therapy"), w
    assert _negated("No prior chemotherapy") and _negated("Patients must not have brain metastases")


def test_the_events_gate_is_checked_against_the_event_cues(monkeypatch):
    from trialmatch.criteria.extractors import events

    table = rules().events
    monkeypatch.setitem(table, "stroke", [*table["stroke"], "apoplexy"])
    with pytest.raises(ValueError, match="apoplexy.*gate would skip it"):
        events._check_event_cues()


def test_data_validation_names_the_allowed_keys():
    with pytest.raises(ValueError, match=r"unknown keys \['gates'\]; allowed keys: \['kinds', 'phase', 'gate', 'doc'\]"):
        ExtractorSpec.from_dict("age", "person", {"kinds": ["age"], "phase": "main", "gates": {}, "doc": "x"})
    with pytest.raises(ValueError, match=r"unknown keys \['words'\].*allowed keys: \['any', 'and_any'"):
        Gate.from_dict({"words": ["age"]})
    with pytest.raises(ValueError, match=r"person.json: unknown keys \['extractor'\]"):
        FamilyData.from_dict("person", {"extractor": {}})
    with pytest.raises(ValueError, match="phase"):
        ExtractorSpec.from_dict("age", "person", {"kinds": ["age"], "phase": "late", "doc": "x"})
    with pytest.raises(ValueError, match=r"unknown keys \['negation'\].*allowed keys"):
        RuleSet.from_dict({**rules().to_dict(), "negation": []})
    with pytest.raises(ValueError, match="no extractor 'nope'"):
        from trialmatch.criteria.extractors.registry import register

        register("person", "nope", lambda t: [])


def test_family_data_round_trips():
    for f in FAMILIES:
        fd = FamilyData.from_json(DATA_DIR / f"{f}.json")
        again = FamilyData.from_dict(f, json.loads(json.dumps(fd.to_dict())))
        assert again.to_dict() == fd.to_dict()
    g = Gate(any=("age",), or_digit=True)
    assert Gate.from_dict(g.to_dict()).to_dict() == {"any": ["age"], "or_digit": True}
    assert g.passes("aged", "aged") and g.passes("X 5", "x 5") and not g.passes("none", "none")
    env = {"DIGIT": __import__("re").compile(r"\d").search}
    for gate in (g, Gate(any=("a",), and_any=("b",)), Gate(any=("X",), case_sensitive=True), Gate(any=("z",), and_digit=True)):
        for t in ("a b", "X", "x", "z 1", "z", "b"):
            assert eval(gate.source("t", "tl"), env, {"t": t, "tl": t.lower()}) == gate.passes(t, t.lower())


def test_atom_kind_registry_feeds_the_union_and_describe():
    atoms = atom_kinds()
    assert tuple(c.model_fields["kind"].default for c in atoms) == cm.ATOM_KINDS
    assert cm.Age in atoms and cm.AllOf not in atoms and cm.AllOf in node_kinds()
    assert kind_info("lab").cls is cm.LabThreshold
    e = cm.expression_from_dict({"kind": "all_of", "items": [{"kind": "age", "years": {"low": 18}},
                                                             {"kind": "not", "item": {"kind": "sex", "allowed": ["male"]}}]})
    assert describe(e) == "age ≥ 18 y AND NOT (sex male)" == e.describe()
    with pytest.raises(KeyError, match="no expression kind 'nope'"):
        kind_info("nope")
    with pytest.raises(ValueError, match="registered twice"):
        atom_kind(lambda a: "x")(type("Age2", (cm._Node,), {"__annotations__": {"kind": "str"}, "kind": "age"}))


def test_compiled_output_of_the_family_clauses_is_stable():
    # the same compile through the public face, twice (the cache hands out copies)
    for text, kind in CLAUSES:
        a = compile_criterion_text(text, kind)
        b = compile_criterion_text(text, kind)
        assert a == b and a[1] in ("compiled", "needs_confirmation")


@pytest.mark.parametrize("text, value", [
    ("Has a left ventricular ejection fraction (LVEF) 50% by either an echocardiogram (ECHO) or multiple gated "
     "acquisition scan (MUGA) within 28 days before enrollment.", 50.0),
    ("Ejection fraction (EF) 55% on echocardiogram", 55.0),
    ("Hemoglobin 9 g/dL", 9.0),
])
def test_a_bare_value_of_a_floor_measure_is_its_minimum(text, value):
    # the "≥" lost from the text: a measure whose limit is a floor (cues.normal_reads_as "lower") reads as a minimum
    expr, status, _ = compile_criterion_text(text, "inclusion")
    assert status == "compiled" and isinstance(expr, cm.LabThreshold)
    assert (expr.comparator, expr.value) == (">=", value)


def test_a_bare_value_of_other_measures_stays_an_equality():
    expr, _, _ = compile_criterion_text("PSA 20 ng/ml", "inclusion")
    assert isinstance(expr, cm.LabThreshold) and expr.comparator == "=="


@pytest.mark.parametrize("text, want", [
    ("PALB2 germline heterozygous mutation carrier, wild type BRCA1\\&2 (breast cancer 1\\&2) affected with "
     "metastatic breast cancer", {"PALB2": "mutated", "BRCA1": "wildtype", "BRCA2": "wildtype"}),
    ("wild-type BRCA1 & 2, ESR1 mutation", {"BRCA1": "wildtype", "BRCA2": "wildtype", "ESR1": "mutated"}),
    ("germline BRCA1/2 mutation", {"BRCA1": "mutated", "BRCA2": "mutated"}),
])
def test_each_gene_takes_the_status_word_nearest_it(text, want):
    expr, _, _ = compile_criterion_text(text, "inclusion")
    got = {a.gene: a.status for a in cm.iter_atoms(expr) if isinstance(a, cm.GeneAlteration)}
    assert got == want


@pytest.mark.parametrize("text", [
    "Has a history of non-infectious ILD/pneumonitis including radiation pneumonitis that required steroids, has "
    "current ILD/pneumonitis, or where suspected ILD/pneumonitis cannot be ruled out by imaging at screening.",
    "History of radiation-induced pneumonitis",
    "History of (non-infectious) pneumonitis that required steroids or current pneumonitis",
])
def test_radiation_or_steroids_qualifying_a_condition_are_not_events_of_their_own(text):
    # the radiation is the pneumonitis' cause, the steroids say how severe it was: only the condition is checked
    expr, _, _ = compile_criterion_text(text, "exclusion")
    kinds = {a.kind for a in cm.iter_atoms(expr)}
    assert kinds == {"condition"}, expr.describe()


def test_radiotherapy_named_beside_a_radiation_condition_is_still_read():
    expr, _, _ = compile_criterion_text("Prior radiation pneumonitis or prior radiotherapy to the lung", "exclusion")
    assert "recent_event" in {a.kind for a in cm.iter_atoms(expr)}


def test_contraception_methods_are_not_endocrine_therapy():
    expr, _, _ = compile_criterion_text(
        "If of child-bearing potential, agrees to use a highly effective form of contraception until 7 months after the "
        "last dose of study drug. Highly effective methods include: intrauterine hormone-releasing system (IUS); "
        "bilateral tubal occlusion.", "inclusion")
    assert "prior_therapy" not in {a.kind for a in cm.iter_atoms(expr)}


@pytest.mark.parametrize("text", ["Aspartate aminotransferase ≤3 ×ULN (if liver metastases are present, ≤5 × ULN)",
                                  "ALT ≤ 3 x ULN (in patients with liver metastases: ≤ 5 x ULN)"])
def test_a_liver_condition_written_before_its_limit(text):
    expr, _, _ = compile_criterion_text(text, "inclusion")
    assert isinstance(expr, cm.IfThen) and isinstance(expr.condition, cm.Metastasis)
    assert (expr.then.uln_multiple, expr.otherwise.uln_multiple) == (5.0, 3.0)


def test_a_bare_number_beside_uln_multiples_is_one_and_a_stray_digit_is_skipped():
    expr, _, _ = compile_criterion_text(
        "Total bilirubin ≤1.5 × ULN if no liver metastases or liver < 3 if liver metastases are present.", "inclusion")
    assert isinstance(expr, cm.IfThen) and expr.then.uln_multiple == 3.0 and expr.then.value is None
    expr, _, _ = compile_criterion_text("ALT and AST no greater than 3 5 times the institutional normal", "inclusion")
    assert [a.uln_multiple for a in cm.iter_atoms(expr)] == [3.0, 3.0]


@pytest.mark.parametrize("text", ["estrogen receptor and/or progesterone receptor positive, HER2 negative",
                                  "ER and/or PR positive"])
def test_er_and_or_pr_sharing_one_positive_is_hormone_receptor_positive(text):
    expr, _, _ = compile_criterion_text(text, "inclusion")
    recs = [(a.receptor, a.status) for a in cm.iter_atoms(expr) if isinstance(a, cm.Receptor)]
    assert ("HR", "positive") in recs and ("PR", "positive") not in recs


def test_a_counted_line_of_therapy_is_for_advanced_disease():
    expr, _, _ = compile_criterion_text("at least 1 prior line of chemotherapy", "inclusion")
    assert expr.settings == ["advanced"]
    expr, _, _ = compile_criterion_text("1 line of adjuvant chemotherapy", "inclusion")
    assert expr.settings == ["adjuvant"]
