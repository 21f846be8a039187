"""The matcher: evaluate compiled criteria against a patient, give verdicts, rank and explain.

Public API
----------
match_patient(patient, trials, as_of=None, *, statuses=None, trial_ids=None, top=None, options=None) -> MatchReport
rank_patient(patient, trials, as_of=None, *, options=None) -> PatientRanking
    (.report(statuses=, trial_ids=, top=) -> MatchReport; .refresh(trials) after trial changes)
match_trial(trial, compiled, patient, as_of=None, options=None) -> TrialMatch
prepare_trials(trials) -> int   (optional: per-process trial plans up front)
evaluate_criterion(criterion, patient, as_of, options=None) -> CriterionOutcome
MatchOptions, MatchReport, TrialMatch, CriterionOutcome, Evidence, MissingFact, StepOutcome
MatchReport.print_summary() / .to_html() / .to_csv() / .to_output_json()

Modules
-------
logic (Kleene values and operators), context (EvalContext, Result, content keys), plan (each
distinct criterion compiled once into plan nodes: ``eval(ctx)`` gives the value, stopping early;
``eval(ctx, trace)`` the explanation too), atoms (the atom evaluators by family, registered by
atom kind), targets (atoms naming the trial's own condition), evaluate (criterion outcomes),
engine (verdicts, scores, ranking), steps (protocol steps).
"""

from trialmatch.matching.model import (
    VERDICT_ORDER, CriterionOutcome, Evidence, MatchReport, MissingFact, StepOutcome, TrialMatch,
)
from trialmatch.matching.options import MatchOptions
from trialmatch.matching.evaluate import evaluate_criterion
from trialmatch.matching.engine import (
    PatientRanking, match_patient, match_trial, prepare_trials, rank_key, rank_patient,
)

__all__ = [
    "match_patient", "match_trial", "evaluate_criterion", "MatchOptions", "MatchReport", "TrialMatch",
    "CriterionOutcome", "Evidence", "MissingFact", "StepOutcome", "VERDICT_ORDER", "rank_key",
    "prepare_trials", "rank_patient", "PatientRanking",
]
