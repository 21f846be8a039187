"""The atom evaluators, one module per family, registered by atom kind.

=============== ==========================================================================
module          atom kinds
=============== ==========================================================================
``person``      age, sex, menopausal_status, ovarian_suppression, pregnancy,
                performance_status, life_expectancy
``disease``     diagnosis, disease_extent, metastasis, measurable_disease, other_malignancy
``biomarkers``  receptor, gene_alteration
``labs``        lab, measurement
``therapy``     prior_therapy, concomitant_medication
``history``     infection, condition, allergy, recent_event
``review``      confirm, unsupported
=============== ==========================================================================

A new atom kind: its model class in :mod:`trialmatch.criteria.model` and one function here,
registered with :func:`~trialmatch.matching.atoms.registry.evaluates`.
"""

from __future__ import annotations

from trialmatch.matching.atoms.registry import EVALUATORS, evaluates, evaluator_for, kind_name, run_evaluator
from trialmatch.matching.atoms import biomarkers, disease, history, labs, person, review, therapy  # registers the evaluators
from trialmatch.matching.context import EvalContext, Result

__all__ = [
    "EVALUATORS", "evaluates", "evaluator_for", "kind_name", "evaluate_atom",
    "biomarkers", "disease", "history", "labs", "person", "review", "therapy",
]


def evaluate_atom(atom, ctx: EvalContext) -> Result:
    """Evaluate one atom with its registered evaluator under ``ctx`` (not memoised).

    Parameters
    ----------
    atom : compiled atom (``trialmatch.criteria.model``)
    ctx : EvalContext
        The patient, the options and the atom's wanted value.

    Returns
    -------
    Result
        An unknown result asking a person for a kind no evaluator handles or an evaluator error.
    """
    return run_evaluator(evaluator_for(atom), atom, ctx)
