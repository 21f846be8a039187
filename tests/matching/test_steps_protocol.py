"""Multi-step protocols (seed 004's design): which step a patient qualifies for, over time."""

from __future__ import annotations

import datetime as dt


from trialmatch.matching.model import CriterionOutcome
from trialmatch.matching.steps import current_step, evaluate_steps, resolve_event
from trialmatch.patients.model import Biomarker, Diagnosis, GeneResult, Patient, TrialAssignment, Treatment
from trialmatch.trials.model import ProtocolStep, Provenance, Trial

D = dt.date
TRIAL_ID = "SEED004-LIKE"


def make_trial(steps=None) -> Trial:
    if steps is None:
        steps = [
            ProtocolStep(number=1, name="Initial treatment", entry_event="registration"),
            ProtocolStep(number=2, name="Monitoring", entry_event="esr1_mutation_without_progression"),
            ProtocolStep(number=3, name="Follow-up", entry_event="progression_on_arm_a"),
        ]
    return Trial(id=TRIAL_ID, title="palbociclib + AI, ESR1 tracked in blood", steps=steps,
                 provenance=Provenance(source_format="demo_json", sha256="0" * 64,
                                       ingested_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)))


def base_patient(**extra) -> Patient:
    data = dict(
        id="p-steps", sex="female", birth_date=D(1960, 5, 1), menopausal_status="postmenopausal",
        diagnoses=[Diagnosis(cancer_type="breast_cancer", extent="metastatic", date=D(2023, 11, 2))],
        biomarkers=[Biomarker(name="ER", status="positive", percent=90), Biomarker(name="HER2", status="negative")],
        trial_assignments=[TrialAssignment(trial_id=TRIAL_ID, step=1, date=D(2024, 1, 10))],
        treatments=[Treatment(drugs=["palbociclib", "letrozole"], setting="metastatic", start=D(2024, 1, 15), ongoing=True)],
    )
    data.update(extra)
    return Patient(**data)


def outcome(cid: str, result: str, step=None) -> CriterionOutcome:
    return CriterionOutcome(criterion_id=cid, kind="inclusion", text=cid, outcome=result, reason="hand-built", step=step)


ESR1 = GeneResult(gene="ESR1", status="mutated", variant="Y537S", specimen="ctdna", date=D(2024, 5, 2))


def verdicts(steps):
    return {s.number: s.verdict for s in steps}


def test_no_steps_gives_nothing():
    assert evaluate_steps(make_trial(steps=[]), None, base_patient(), D(2024, 6, 1), []) == []


def test_moves_from_step1_to_step2_when_dated_esr1_result_arrives():
    trial = make_trial()
    before = evaluate_steps(trial, None, base_patient(), D(2024, 6, 1), [])
    assert verdicts(before) == {1: "eligible", 2: "ineligible", 3: "ineligible"}
    assert current_step(before) == 1
    assert "no ESR1 mutated result in blood" in before[1].reason

    after = evaluate_steps(trial, None, base_patient(genes=[ESR1]), D(2024, 6, 1), [])
    assert verdicts(after) == {1: "eligible", 2: "eligible", 3: "ineligible"}
    assert current_step(after) == 2
    assert after[1].event_date == D(2024, 5, 2)
    assert after[1].entry_event == "esr1_mutation_without_progression"
    assert "Y537S" in after[1].reason and "2024-05-02" in after[1].reason


def test_as_of_ignores_the_result_that_came_later():
    steps = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1]), D(2024, 4, 30), [])
    assert verdicts(steps)[2] == "ineligible"


def test_progression_first_makes_step2_ineligible():
    progressed = Treatment(drugs=["palbociclib", "letrozole"], setting="metastatic", start=D(2024, 1, 15),
                           end=D(2024, 4, 20), progressed=True, progression_date=D(2024, 4, 20))
    steps = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=[progressed]), D(2024, 6, 1), [])
    assert steps[1].verdict == "ineligible"
    assert "progression on 2024-04-20 came before" in steps[1].reason
    # as of a day before that progression, the ESR1 result had not arrived either: still ineligible
    # but for the other reason; as of after ESR1 but with the progression dated later, eligible
    late = progressed.model_copy(update={"end": D(2024, 7, 1), "progression_date": D(2024, 7, 1)})
    on_day = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=[late]), D(2024, 6, 1), [])
    assert on_day[1].verdict == "eligible"
    after_prog = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=[late]), D(2024, 8, 1), [])
    assert after_prog[1].verdict == "ineligible" and "followed" in after_prog[1].reason


def test_undated_progression_and_undated_or_tissue_esr1():
    undated_prog = Treatment(drugs=["palbociclib", "letrozole"], start=D(2024, 1, 15), progressed=True)
    s = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=[undated_prog]), D(2024, 6, 1), [])
    assert s[1].verdict == "uncertain"
    undated = ESR1.model_copy(update={"date": None})
    assert evaluate_steps(make_trial(), None, base_patient(genes=[undated]), D(2024, 6, 1), [])[1].verdict == "uncertain"
    tissue = ESR1.model_copy(update={"specimen": "tissue"})
    assert evaluate_steps(make_trial(), None, base_patient(genes=[tissue]), D(2024, 6, 1), [])[1].verdict == "ineligible"
    before_start = ESR1.model_copy(update={"date": D(2023, 12, 1)})
    s = evaluate_steps(make_trial(), None, base_patient(genes=[before_start]), D(2024, 6, 1), [])
    assert s[1].verdict == "ineligible" and "predates" in s[1].reason


def test_regimen_given_as_separate_treatment_records():
    split = [Treatment(drugs=["Ibrance"], start=D(2024, 1, 15)), Treatment(drugs=["anastrozole"], start=D(2024, 1, 16))]
    s = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=split), D(2024, 6, 1), [])
    assert s[1].verdict == "eligible"
    no_ai = [Treatment(drugs=["palbociclib", "fulvestrant"], start=D(2024, 1, 15))]
    s = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1], treatments=no_ai), D(2024, 6, 1), [])
    assert s[1].verdict == "ineligible" and "no such treatment" in s[1].reason


def test_step1_from_entry_outcomes_without_registration():
    p = base_patient(trial_assignments=[], treatments=[])
    trial = make_trial()
    ok = evaluate_steps(trial, None, p, D(2024, 6, 1), [outcome("I1", "pass"), outcome("I2", "confirm")])
    assert ok[0].verdict == "eligible"
    unk = evaluate_steps(trial, None, p, D(2024, 6, 1), [outcome("I1", "pass"), outcome("I2", "unknown")])
    assert unk[0].verdict == "uncertain" and "I2" in unk[0].reason
    bad = evaluate_steps(trial, None, p, D(2024, 6, 1), [outcome("E1", "fail"), outcome("I2", "unknown")])
    assert bad[0].verdict == "ineligible" and "E1" in bad[0].reason
    assert bad[1].verdict == "ineligible"  # not on step-1 treatment: step 2 not open


def test_step_criteria_lower_a_step_verdict():
    outcomes = [outcome("I1", "pass"), outcome("S2.1", "fail", step=2)]
    s = evaluate_steps(make_trial(), None, base_patient(genes=[ESR1]), D(2024, 6, 1), outcomes)
    assert s[0].verdict == "eligible"
    assert s[1].verdict == "ineligible" and "S2.1" in s[1].reason


def test_step3_progression_on_arm_a():
    trial = make_trial()
    assigned_a = [TrialAssignment(trial_id=TRIAL_ID, step=1, date=D(2024, 1, 10)),
                  TrialAssignment(trial_id=TRIAL_ID, step=2, arm="Arm A", date=D(2024, 5, 20))]
    prog = Treatment(drugs=["palbociclib", "letrozole"], start=D(2024, 1, 15), end=D(2024, 9, 1),
                     progressed=True, progression_date=D(2024, 9, 1))
    p = base_patient(genes=[ESR1], trial_assignments=assigned_a, treatments=[prog])
    assert evaluate_steps(trial, None, p, D(2024, 8, 1), [])[2].verdict == "ineligible"
    s = evaluate_steps(trial, None, p, D(2024, 10, 1), [])
    assert s[2].verdict == "eligible" and s[2].event_date == D(2024, 9, 1)
    assert current_step(s) == 3
    arm_b = [assigned_a[0], assigned_a[1].model_copy(update={"arm": "B"})]
    s = evaluate_steps(trial, None, p.model_copy(update={"trial_assignments": arm_b}), D(2024, 10, 1), [])
    assert s[2].verdict == "ineligible" and "arm B" in s[2].reason
    # no arm recorded, but the record fits arm A (ESR1 found, same regimen continued, progression later)
    s = evaluate_steps(trial, None, p.model_copy(update={"trial_assignments": assigned_a[:1]}), D(2024, 10, 1), [])
    assert s[2].verdict == "uncertain" and "record the arm" in s[2].reason


def test_unknown_event_is_uncertain_with_reason():
    trial = make_trial(steps=[ProtocolStep(number=1, name="Start", entry_event="registration"),
                              ProtocolStep(number=2, name="Boost", entry_event="tumour_marker_doubling")])
    s = evaluate_steps(trial, None, base_patient(), D(2024, 6, 1), [])
    assert s[1].verdict == "uncertain"
    assert "tumour_marker_doubling" in s[1].reason and "not a known event" in s[1].reason


def test_free_text_events_map_by_patterns():
    assert resolve_event(ProtocolStep(number=2, name="x", entry_event="ESR1 mutation found in ctDNA"))[0] == \
        "esr1_mutation_without_progression"
    assert resolve_event(ProtocolStep(number=3, name="x", entry_event=None,
                                      description="Patients on Arm A with progression cross over"))[0] == \
        "progression_on_arm_a"
    assert resolve_event(ProtocolStep(number=9, name="x", entry_event=None, description="Quality of life"))[0] is None


def test_real_seed_004_steps_with_a_patient(seeds_dir):
    from trialmatch.trials import read_path

    results = list(read_path(seeds_dir / "004_21168ffcb5444652.txt"))
    assert results and results[0].error is None
    trial = results[0].trial
    assert [s.number for s in trial.steps] == [1, 2, 3]
    reg = TrialAssignment(trial_id=trial.id, step=1, date=D(2024, 1, 10))
    p = base_patient(trial_assignments=[reg])
    assert verdicts(evaluate_steps(trial, None, p, D(2024, 6, 1), [])) == {1: "eligible", 2: "ineligible", 3: "ineligible"}
    p2 = base_patient(trial_assignments=[reg], genes=[ESR1])
    assert verdicts(evaluate_steps(trial, None, p2, D(2024, 6, 1), [])) == {1: "eligible", 2: "eligible", 3: "ineligible"}
