"""Candidate selection before evaluation: which trials a patient's query must evaluate at all.

The store keeps, per trial, its cheap entry criteria (sex, age, cancer type, extent, receptor
and menopausal status) under signatures shared between trials (see
:mod:`trialmatch.store.candidate_index`). For one patient, :class:`CandidateIndex` evaluates
each *distinct* signature once with the real evaluator; every trial holding a signature that
fails for her is ineligible (one failed entry criterion makes a trial ineligible), and the
criteria that failed are its deciding criteria as far as the index knows them. Only the other
trials, those that can still be eligible or uncertain for her, are evaluated in full.

:func:`match_with_index` gives the same verdict as :func:`trialmatch.matching.match_patient` for
every trial. For a trial excluded by the index, its result lists the index's failed criteria
(each among the ones the full evaluation lists as deciding), with ``score`` 0.0 (not computed:
it would need every criterion) and no missing facts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, select

from trialmatch.matching import MatchReport, TrialMatch, match_patient
from trialmatch.matching.model import CriterionOutcome
from trialmatch.screening.partitions import status_filter

EXCLUDED_REASON = "excluded by the candidate index: this entry criterion fails for the patient"


@dataclass(frozen=True)
class IndexHit:
    """One indexed criterion of one trial that fails for the patient."""

    ordinal: int
    criterion_id: str
    kind: str
    text: str


class CandidateIndex:
    """The candidate index of a store, in memory.

    Build with :meth:`from_store`; ask :meth:`excluded` which trials a patient's query can skip.
    """

    def __init__(self, criteria: dict, members: dict, n_trials: int, revision: int | None = None) -> None:
        self._criteria = criteria  # signature -> Criterion (a representative, for evaluation)
        self._members = members  # signature -> [(trial id, ordinal, criterion id, kind, text)]
        self.n_trials = n_trials
        self.revision = revision

    @property
    def signatures(self) -> int:
        return len(self._criteria)

    @classmethod
    def from_store(cls, store, compiler_version: str | None = None, *, sync: bool = True) -> "CandidateIndex":
        """Load the index of ``store`` (bringing it up to date first, unless ``sync`` is False)."""
        from trialmatch.criteria import COMPILER_VERSION
        from trialmatch.criteria import model as cm
        from trialmatch.store import schema
        from trialmatch.store.candidate_index import (
            candidate_index_entries as ie, candidate_index_trials as it, sync_candidate_index,
        )

        compiler_version = compiler_version or COMPILER_VERSION
        if sync:
            sync_candidate_index(store, compiler_version)
        revision = store.revision()
        tr = schema.trials
        q = (select(ie.c.signature, ie.c.check_kind, ie.c.expression, ie.c.trial_id, ie.c.ordinal, ie.c.criterion_id,
                    ie.c.kind, ie.c.text)
             .join(it, it.c.trial_id == ie.c.trial_id)
             .join(tr, and_(tr.c.id == it.c.trial_id, tr.c.current_version == it.c.version))
             .where(it.c.compiler_version == compiler_version))
        criteria: dict = {}
        members: dict = defaultdict(list)
        with store.engine.connect() as conn:
            n_trials = conn.execute(select(it.c.trial_id).join(tr, and_(
                tr.c.id == it.c.trial_id, tr.c.current_version == it.c.version))
                .where(it.c.compiler_version == compiler_version)).all()
            for sig, check_kind, expr, tid, ordinal, cid, kind, text in conn.execute(q):
                if sig not in criteria:
                    criteria[sig] = cm.Criterion.model_validate_json(
                        '{"id":"INDEX","kind":"%s","text":"","span":[0,0],"status":"compiled","expression":%s}'
                        % (check_kind, expr))
                members[sig].append((tid, ordinal, cid, kind, text))
        return cls(criteria, dict(members), len(n_trials), revision)

    def excluded(self, patient, as_of: dt.date | None = None, options=None) -> dict[str, list[IndexHit]]:
        """The trials ineligible for ``patient`` by their indexed criteria, each with the criteria
        that fail (in the matcher's order)."""
        outcome = _outcome_function(patient, as_of, options)
        out: dict[str, list[IndexHit]] = defaultdict(list)
        for sig, crit in self._criteria.items():
            if outcome(crit) == "fail":
                for tid, ordinal, cid, kind, text in self._members[sig]:
                    out[tid].append(IndexHit(ordinal, cid, kind, text))
        return {tid: sorted({h.ordinal: h for h in hits}.values(), key=lambda h: h.ordinal)
                for tid, hits in out.items()}


def _outcome_function(patient, as_of, options):
    """``criterion -> outcome`` for one patient, on one patient index (memoised per patient)."""
    from trialmatch.matching import MatchOptions
    from trialmatch.matching.facts import build_index
    from trialmatch.patients.asof import patient_as_of

    as_of = as_of or patient.as_of or dt.date.today()
    options = options or MatchOptions()
    patient = patient_as_of(patient, as_of)
    try:
        from trialmatch.matching.evaluate import evaluate_with_index
    except ImportError:  # the evaluator's module was reorganised: the public call (one index per call)
        from trialmatch.matching import evaluate_criterion

        return lambda c: evaluate_criterion(c, patient, as_of, options).outcome
    idx = build_index(patient, as_of)
    return lambda c: evaluate_with_index(c, idx, options).outcome


def excluded_match(trial, hits: list[IndexHit]) -> TrialMatch:
    """The result of a trial excluded by the index: ineligible, deciding = the failed criteria."""
    from trialmatch.trials.model import CLOSED_STATUSES

    return TrialMatch(
        trial_id=trial.id, title=trial.title or (trial.conditions[0] if trial.conditions else None),
        status=trial.status, closed=trial.status in CLOSED_STATUSES, verdict="ineligible", score=0.0,
        deciding=[h.criterion_id for h in hits],
        criteria=[CriterionOutcome(criterion_id=h.criterion_id, kind=h.kind, text=h.text, outcome="fail",
                                   reason=EXCLUDED_REASON) for h in hits])


def match_with_index(patient, trials, index: CandidateIndex, as_of: dt.date | None = None, *,
                     statuses: list[str] | None = None, top: int | None = None, options=None) -> MatchReport:
    """Match one patient, evaluating in full only the trials the index leaves as candidates.

    Parameters
    ----------
    patient : Patient
    trials : list of (Trial, CompiledCriteria)
    index : CandidateIndex
        Of the store the trials come from (:meth:`CandidateIndex.from_store`).
    as_of, statuses, top, options
        As in :func:`trialmatch.matching.match_patient`.

    Returns
    -------
    MatchReport
        The candidates ranked by the matcher, then the trials excluded by the index (ineligible,
        score 0.0, deciding: the index's failed criteria), by id; ``top`` cuts the whole list.
    """
    as_of = as_of or patient.as_of or dt.date.today()
    excluded = index.excluded(patient, as_of, options)
    wanted = status_filter(statuses)
    candidates, skipped = [], []
    for trial, compiled in trials:
        if wanted is not None and (trial.status or "UNKNOWN").upper() not in wanted:
            continue
        (skipped if trial.id in excluded else candidates).append((trial, compiled))
    report = match_patient(patient, candidates, as_of, top=top, options=options)
    room = None if top is None else max(top - len(report.results), 0)
    if room != 0:
        skipped.sort(key=lambda tc: tc[0].id)
        for trial, _ in skipped[:room]:
            report.results.append(excluded_match(trial, excluded[trial.id]))
    return report
