"""Evaluation plans, property-tested: generated expression trees of real atoms against generated
patients (no ../shared needed).

For every tree, kind (inclusion / exclusion) and choice of atoms naming the trial's own
condition, the plan's value without a trace equals its value with a trace, and both equal an
independent, straightforward Kleene reference (the atoms evaluated by their registered
evaluators, the operators written as orderings); the own-condition flag of the explanation
equals the reference's and the old reading of the reason text.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms import EVALUATORS, evaluates, kind_name
from trialmatch.matching.atoms.therapy import prior_therapy
from trialmatch.matching.context import EvalContext, node_key
from trialmatch.matching.evaluate import DEFAULT_OPTIONS
from trialmatch.matching.facts import build_index
from trialmatch.matching.logic import CONFIRM, NA, outcome_from
from trialmatch.matching.plan import AtomNode, criterion_plan, excepted_therapies
from trialmatch.matching.targets import OWN_CONDITION, TARGET_KINDS
from trialmatch.patients import model as pm

AS_OF = dt.date(2026, 6, 1)
SRC = pm.Source(kind="json", locator="$.x")

ATOMS = [
    cm.Age(years=cm.Range(low=18, high=75)),
    cm.Age(years=cm.Range(low=0)),  # holds for everyone: an exclusion on it cannot exclude
    cm.Sex(allowed=["female"]),
    cm.Sex(allowed=["female", "male"]),
    cm.MenopausalStatus(allowed=["postmenopausal"]),  # NA for a man under an inclusion
    cm.Pregnancy(state="pregnant"),
    cm.PerformanceStatus(scale="ecog", range=cm.Range(high=1)),
    cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L"),
    cm.LabThreshold(analyte="hemoglobin", comparator=">=", value=9, unit="g/dL"),
    cm.Receptor(receptor="ER", status="positive"),
    cm.Receptor(receptor="HER2", status="negative"),
    cm.Receptor(receptor="HR", status="positive"),
    cm.Diagnosis(cancer_type="breast_cancer"),
    cm.Metastasis(site="brain"),
    cm.Metastasis(site="brain", qualifiers=["active"]),
    cm.Condition(condition="asthma"),
    cm.Condition(condition="asthma", qualifiers=["severe"]),
    cm.Condition(condition="hypertension"),
    cm.Infection(pathogen="hiv"),
    cm.Diagnosis(cancer_type="lung_cancer"),
    cm.PriorTherapy(agents=["chemotherapy"]),
    cm.PriorTherapy(agents=["cdk46_inhibitor"], settings=["advanced"]),
    cm.PriorTherapy(agents=["systemic_therapy"], lines=cm.Range(high=1)),
    cm.ConcomitantMedication(classes=["corticosteroid"]),
    cm.RecentEvent(event="major_surgery", within=cm.Duration(value=4, unit="week")),
    cm.NeedsConfirmation(category="consent"),
    cm.Unsupported(reason="not compiled"),
]
THERAPIES = [a for a in ATOMS if isinstance(a, cm.PriorTherapy)]


SHAPES = ["atom", "all_of", "any_of", "not", "except", "except_therapies", "if_then"]


@st.composite
def expressions(draw, depth: int = 0):
    """A tree of real atoms under every boolean node kind (at most 4 levels)."""
    shape = "atom" if depth >= 3 else draw(st.sampled_from(SHAPES[1:] if depth == 0 else SHAPES))
    if shape == "atom":
        return draw(st.sampled_from(ATOMS))
    if shape in ("all_of", "any_of"):
        items = draw(st.lists(expressions(depth + 1), min_size=1, max_size=4))
        return cm.AllOf(items=items) if shape == "all_of" else cm.AnyOf(items=items)
    if shape == "not":
        return cm.Not(item=draw(expressions(depth + 1)))
    if shape == "except":
        return cm.Except(main=draw(expressions(depth + 1)), exception=draw(expressions(depth + 1)))
    if shape == "except_therapies":  # "systemic therapy, except ..." (the excepted drugs do not count)
        excepted = draw(st.lists(st.sampled_from(THERAPIES), min_size=1, max_size=2))
        return cm.Except(main=draw(st.sampled_from(THERAPIES)),
                         exception=excepted[0] if len(excepted) == 1 else cm.AnyOf(items=excepted))
    other = draw(st.one_of(st.none(), expressions(depth + 1)))
    return cm.IfThen(condition=draw(expressions(depth + 1)), then=draw(expressions(depth + 1)), otherwise=other)


@st.composite
def patients(draw):
    date = st.sampled_from([AS_OF, AS_OF - dt.timedelta(days=10), AS_OF - dt.timedelta(days=90), None])
    sex = draw(st.sampled_from(["female", "male", None]))
    labs = []
    if draw(st.booleans()):
        labs.append(pm.LabResult(analyte="platelets", value=draw(st.sampled_from([50, 99, 100, 250])),
                                 unit="10^9/L", date=draw(date), source=SRC))
    if draw(st.booleans()):
        labs.append(pm.LabResult(analyte="hemoglobin", value=draw(st.sampled_from([8.0, 9.0, 12.5])), unit="g/dL",
                                 date=draw(date), source=SRC))
    biomarkers = []
    if draw(st.booleans()):
        biomarkers.append(pm.Biomarker(name="ER", percent=draw(st.sampled_from([0.0, 5.0, 90.0])), source=SRC))
    if draw(st.booleans()):
        biomarkers.append(pm.Biomarker(name="HER2", ihc_score=draw(st.sampled_from(["0", "1+", "2+", "3+"])),
                                       source=SRC))
    diagnoses = []
    if draw(st.booleans()):
        mets = [pm.Metastasis(site="brain", status=draw(st.sampled_from([[], ["active"], ["stable"]])), source=SRC)] \
            if draw(st.booleans()) else []
        diagnoses.append(pm.Diagnosis(cancer_type=draw(st.sampled_from(["breast_cancer", "lung_cancer"])),
                                      stage=draw(st.sampled_from([None, "II", "IV"])), metastases=mets, source=SRC))
    treatments = []
    for drug in draw(st.lists(st.sampled_from(["paclitaxel", "palbociclib", "letrozole", "xyz-123"]), max_size=2)):
        treatments.append(pm.Treatment(drugs=[drug], setting=draw(st.sampled_from(["adjuvant", "metastatic", "unknown"])),
                                       start=AS_OF - dt.timedelta(days=400), source=SRC))
    conditions = [pm.OtherCondition(name=n, source=SRC)
                  for n in draw(st.lists(st.sampled_from(["asthma", "hiv infection", "hypertension"]), max_size=2))]
    medications = [pm.Medication(name=n, source=SRC) for n in draw(st.lists(st.sampled_from(["prednisone"]), max_size=1))]
    assertions = [pm.Assertion(subject=s, present=False, source=SRC)
                  for s in draw(st.lists(st.sampled_from(["metastasis:brain", "prior_therapy:any"]), max_size=1))]
    return pm.Patient(
        id="gen", age_years=draw(st.sampled_from([None, 17.0, 45.0, 80.0])), sex=sex,
        menopausal_status=draw(st.sampled_from([None, "premenopausal", "postmenopausal"])) if sex != "male" else None,
        pregnant=draw(st.sampled_from([None, False])), labs=labs, biomarkers=biomarkers, diagnoses=diagnoses,
        performance=[pm.PerformanceStatus(scale="ecog", value=v, source=SRC)
                     for v in draw(st.lists(st.sampled_from([0, 1, 2]), max_size=1))],
        treatments=treatments, conditions=conditions, medications=medications, assertions=assertions, as_of=AS_OF)


# ---------------------------------------------------------------------------- the reference
#: Kleene "and" is the minimum, "or" the maximum, of these orderings (NA parts do not count)
AND_RANK = {False: 0, None: 1, CONFIRM: 2, True: 3}
OR_RANK = {False: 0, CONFIRM: 1, None: 2, True: 3}


def _rank_key(v):
    return "confirm" if v == CONFIRM else v


def ref_and(values):
    vals = [_rank_key(v) for v in values if v != NA]
    return min(vals, key=AND_RANK.__getitem__) if vals else NA


def ref_or(values):
    vals = [_rank_key(v) for v in values if v != NA]
    return max(vals, key=OR_RANK.__getitem__) if vals else NA


def ref_not(v):
    return (not v) if v is True or v is False else v


def reference(expr, want, tk, ctx):
    """(value, own): evaluated the straightforward way, every atom by its registered evaluator."""
    kind = expr.kind
    if kind in ("all_of", "any_of"):
        items = expr.items
        if kind == "all_of" and want is False:
            kept = [e for e in items if not (e.kind in TARGET_KINDS and node_key(e) in tk)]
            items = kept or items
        rs = [reference(e, want, tk, ctx) for e in items]
        v = (ref_and if kind == "all_of" else ref_or)([r[0] for r in rs])
        chosen = [r for r in rs if r[0] == v] or rs
        return v, any(r[1] for r in chosen)
    if kind == "not":
        return ref_not(reference(expr.item, None if want is None else not want, tk, ctx)[0]), False
    if kind == "except":
        if excepted_therapies(expr) is not None:
            excluded = [ag for x in cm.iter_atoms(expr.exception) for ag in x.agents]
            return prior_therapy(expr.main, ctx.with_want(want), excluded=excluded).value, False
        m = reference(expr.main, want, tk, ctx)
        e = reference(expr.exception, None if want is None else not want, tk, ctx)
        v = ref_and([m[0], ref_not(e[0])])
        if m[0] is False or (v is True and e[0] == NA):
            return v, m[1]
        return v, m[1] or e[1]
    if kind == "if_then":
        c = reference(expr.condition, None, tk, ctx)
        t = reference(expr.then, want, tk, ctx)
        o = reference(expr.otherwise, want, tk, ctx) if expr.otherwise is not None else None
        if c[0] is True or c[0] == CONFIRM:
            return t[0], c[1] or t[1]
        if c[0] is False:
            return (NA, False) if o is None else (o[0], c[1] or o[1])
        if o is None:
            return (True, t[1]) if t[0] is True else (None, c[1] or t[1])
        agree = t[0] in (True, False) and o[0] is t[0]
        return (t[0] if agree else None), c[1] or t[1] or o[1]
    if want is False and node_key(expr) in tk:
        return None, True
    return EVALUATORS[expr.kind](expr, ctx.with_want(want)).value, False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expr=expressions(), kind=st.sampled_from(["inclusion", "exclusion"]), patient=patients(), data=st.data())
def test_plan_value_with_and_without_trace_equals_the_reference(expr, kind, patient, data):
    target_atoms = sorted({node_key(a) for a in cm.iter_atoms(expr) if a.kind in TARGET_KINDS})
    tk = tuple(sorted(data.draw(st.sets(st.sampled_from(target_atoms)) if target_atoms else st.just(set()))))
    idx = build_index(patient, AS_OF)
    plan = criterion_plan(expr, kind, tk)
    want = kind == "inclusion"
    expected, expected_own = reference(expr, want, frozenset(tk), EvalContext(idx, DEFAULT_OPTIONS, results={}))

    fast = plan.value(EvalContext(idx, DEFAULT_OPTIONS, results={}))  # fresh memo: no explanation built before
    trace: list = []
    traced = plan.root.eval(EvalContext(idx, DEFAULT_OPTIONS, results={}), trace)
    assert fast == traced == expected, (fast, traced, expected)
    assert len(trace) == 1 and trace[0].value == traced

    shared = EvalContext(idx, DEFAULT_OPTIONS)  # both ways on one memo, in either order
    decided = plan.decide(shared)
    assert plan.outcome(shared) == decided[0] == outcome_from(kind, expected)
    own = decided[4]
    by_text = decided[0] == "unknown" and any(r.startswith(OWN_CONDITION) for r in plan.explain(shared).reasons)
    assert own == by_text == (decided[0] == "unknown" and expected_own), (own, by_text, expected_own)
    if not plan.has_targets:  # what the ranking relies on to skip the explanation
        assert own is False and not expected_own


# ---------------------------------------------------------------------------- hand-built shapes
def _her():
    return pm.Patient(id="k", age_years=50, sex="female", as_of=dt.date(2026, 1, 1),
                      conditions=[pm.OtherCondition(name="asthma", source=SRC)],
                      labs=[pm.LabResult(analyte="platelets", value=85, unit="10^9/L", date=dt.date(2026, 1, 1),
                                         source=SRC)])


LOW = cm.LabThreshold(analyte="platelets", comparator=">=", value=100, unit="10^9/L")  # False
OK = cm.LabThreshold(analyte="platelets", comparator=">=", value=80, unit="10^9/L")  # True
UNK = cm.LabThreshold(analyte="hemoglobin", comparator=">=", value=9, unit="g/dL")  # None
CONF = cm.NeedsConfirmation(category="consent")  # CONFIRM
MAN = cm.IfThen(condition=cm.Sex(allowed=["male"]), then=OK)  # NA for her


@pytest.mark.parametrize("expr, expected", [
    (cm.AllOf(items=[LOW, UNK]), False), (cm.AllOf(items=[UNK, LOW]), False), (cm.AllOf(items=[OK, UNK]), None),
    (cm.AllOf(items=[OK, CONF]), CONFIRM), (cm.AllOf(items=[MAN, MAN]), NA), (cm.AllOf(items=[MAN, OK]), True),
    (cm.AnyOf(items=[UNK, OK]), True), (cm.AnyOf(items=[LOW, UNK]), None), (cm.AnyOf(items=[LOW, CONF]), CONFIRM),
    (cm.AnyOf(items=[MAN]), NA), (cm.Not(item=LOW), True), (cm.Not(item=UNK), None),
    (cm.Except(main=OK, exception=LOW), True), (cm.Except(main=LOW, exception=UNK), False),
    (cm.Except(main=OK, exception=OK), False),
    (cm.IfThen(condition=UNK, then=OK, otherwise=OK), True), (cm.IfThen(condition=UNK, then=OK, otherwise=LOW), None),
    (cm.IfThen(condition=UNK, then=LOW), None), (cm.IfThen(condition=UNK, then=OK), True),
    (cm.IfThen(condition=LOW, then=UNK, otherwise=OK), True), (cm.IfThen(condition=CONF, then=LOW), False),
])
def test_kleene_shapes_both_ways(expr, expected):
    idx = build_index(_her(), dt.date(2026, 1, 1))
    plan = criterion_plan(expr, "inclusion")
    assert plan.value(EvalContext(idx, DEFAULT_OPTIONS, results={})) == expected
    assert plan.explain(EvalContext(idx, DEFAULT_OPTIONS, results={})).value == expected
    assert plan.outcome(EvalContext(idx, DEFAULT_OPTIONS)) == outcome_from("inclusion", expected)


def test_without_a_trace_evaluation_stops_at_the_deciding_value():
    idx = build_index(_her(), dt.date(2026, 1, 1))

    def atoms_evaluated(expr, trace):
        ctx = EvalContext(idx, DEFAULT_OPTIONS, results={})
        plan = criterion_plan(expr, "inclusion")
        plan.root.eval(ctx, [] if trace else None)
        return len(ctx.results)

    for expr in (cm.AllOf(items=[LOW, UNK, OK]), cm.AnyOf(items=[OK, UNK, LOW]), cm.Except(main=LOW, exception=UNK),
                 cm.IfThen(condition=LOW, then=UNK, otherwise=OK)):
        n_atoms = len(list(cm.iter_atoms(expr)))
        assert atoms_evaluated(expr, trace=False) < atoms_evaluated(expr, trace=True) == n_atoms, expr


def test_atoms_naming_the_trials_own_condition():
    """Under an exclusion, an atom naming the trial's own condition is unknown alone (flagged
    ``own``) and only qualifies the other checks of an ``all_of``."""
    idx = build_index(_her(), dt.date(2026, 1, 1))
    asthma = cm.Condition(condition="asthma")
    tk = (node_key(asthma),)
    for expr, kind, expected, own in [
        (asthma, "exclusion", "unknown", True), (asthma, "inclusion", "pass", False),
        (cm.AllOf(items=[asthma, OK]), "exclusion", "fail", False),
        (cm.AllOf(items=[asthma, LOW]), "exclusion", "pass", False),
        (cm.AnyOf(items=[asthma, LOW]), "exclusion", "unknown", True),
        (cm.AnyOf(items=[asthma, UNK]), "exclusion", "unknown", True),
        (cm.Not(item=asthma), "inclusion", "unknown", False),
    ]:
        plan = criterion_plan(expr, kind, tk)
        ctx = EvalContext(idx, DEFAULT_OPTIONS, results={})
        assert plan.outcome(ctx) == expected, (expr, kind)
        decided = plan.decide(ctx)
        assert decided[0] == expected and decided[4] is own, (expr, kind, decided)
    with pytest.raises(ValueError, match="inclusion or exclusion"):
        criterion_plan(OK, "heading")


def test_one_registered_function_per_atom_kind():
    assert set(cm.ATOM_KINDS) == set(EVALUATORS)
    assert kind_name(cm.LabThreshold) == kind_name("lab") == "lab"
    with pytest.raises(ValueError, match="already has an evaluator"):
        evaluates(cm.LabThreshold)(lambda a, ctx: None)
    with pytest.raises(TypeError, match="atom kind"):
        kind_name(int)
    node = criterion_plan(cm.LabThreshold(analyte="platelets", comparator=">=", value=1), "inclusion").root
    assert isinstance(node, AtomNode) and node.fn is EVALUATORS["lab"]
