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
"""

from trialmatch.matching.model import (
    VERDICT_ORDER, CriterionOutcome, Evidence, MatchReport, MissingFact, StepOutcome, TrialMatch,
)
from trialmatch.matching.options import MatchOptions
from trialmatch.matching.evaluate import evaluate_criterion
from trialmatch.matching import course as _course  # noqa: F401  (registers the therapy_response / event_interval evaluators)
from trialmatch.matching.engine import (
    PatientRanking, match_patient, match_trial, prepare_trials, rank_key, rank_patient,
)

__all__ = [
    "match_patient", "match_trial", "evaluate_criterion", "MatchOptions", "MatchReport", "TrialMatch",
    "CriterionOutcome", "Evidence", "MissingFact", "StepOutcome", "VERDICT_ORDER", "rank_key",
    "prepare_trials", "rank_patient", "PatientRanking",
]
