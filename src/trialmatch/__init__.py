"""trialmatch: find the clinical trials a cancer patient can join, explained criterion by criterion.

The flat public API (lifelines style) — everything a script needs::

    from trialmatch import read_path, compile_criteria, read_patient, match_patient, TrialStore

    store = TrialStore("trials.db")
    for result in read_path(Path("trials/")):
        if result.trial:
            store.ingest_trial(result.trial, compile_criteria(result.trial))
    report = match_patient(read_patient(Path("patient.json")), store.load_for_matching(COMPILER_VERSION))
    report.print_summary()

Data flows one way: documents -> :mod:`trialmatch.trials` -> :mod:`trialmatch.criteria`;
records -> :mod:`trialmatch.patients`; both -> :mod:`trialmatch.matching` -> CLI / API / web.
Names are resolved lazily so ``import trialmatch`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # trials
    "Trial": "trialmatch.trials.model",
    "read_path": "trialmatch.trials",
    "read_bytes": "trialmatch.trials",
    "TrialReadError": "trialmatch.trials",
    # criteria
    "Criterion": "trialmatch.criteria.model",
    "CompiledCriteria": "trialmatch.criteria.model",
    "compile_criteria": "trialmatch.criteria",
    "compile_text": "trialmatch.criteria",
    "COMPILER_VERSION": "trialmatch.criteria",
    # patients
    "Patient": "trialmatch.patients.model",
    "read_patient": "trialmatch.patients",
    "PatientReadError": "trialmatch.patients",
    # matching
    "match_patient": "trialmatch.matching",
    "match_trial": "trialmatch.matching",
    "rank_patient": "trialmatch.matching",
    "PatientRanking": "trialmatch.matching",
    "MatchReport": "trialmatch.matching.model",
    "TrialMatch": "trialmatch.matching.model",
    "CriterionOutcome": "trialmatch.matching.model",
    # store
    "TrialStore": "trialmatch.store",
    "ensure_compiled": "trialmatch.store",
    # evidence and watch
    "check_results": "trialmatch.evidence",
    "run_watch": "trialmatch.watch",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what IDEs and type checkers see: the names of ``_EXPORTS`` (test_public_api checks they agree)
    from trialmatch.criteria import COMPILER_VERSION, compile_criteria, compile_text
    from trialmatch.criteria.model import CompiledCriteria, Criterion
    from trialmatch.evidence import check_results
    from trialmatch.matching import PatientRanking, match_patient, match_trial, rank_patient
    from trialmatch.matching.model import CriterionOutcome, MatchReport, TrialMatch
    from trialmatch.patients import PatientReadError, read_patient
    from trialmatch.patients.model import Patient
    from trialmatch.store import TrialStore, ensure_compiled
    from trialmatch.trials import TrialReadError, read_bytes, read_path
    from trialmatch.trials.model import Trial
    from trialmatch.watch import run_watch


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trialmatch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
