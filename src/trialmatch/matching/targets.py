"""Atoms that name the trial's own condition.

An exclusion such as "use of anti-myeloma therapy within 28 days" that compiles to a bare
diagnosis of multiple myeloma in a myeloma trial, or "asthma exacerbation requiring intubation"
compiled to the condition asthma in an asthma trial, would exclude every patient the trial is
for: such an atom only names the trial's population. Under an exclusion it is neutral inside an
``all_of`` (the other checks decide) and unknown elsewhere (the qualifier the compiler did not
capture needs a person); the ranking weighs a criterion left open for that reason like a failed
one (the ``own`` flag of :class:`~trialmatch.matching.context.Result`).
"""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.matching.atoms.disease import GENERIC_CANCERS, same_cancer
from trialmatch.matching.atoms.history import condition_matches
from trialmatch.matching.context import node_key
from trialmatch.matching.facts import norm_key

__all__ = ["TARGET_KINDS", "OWN_CONDITION", "target_atom_keys", "names_target"]

#: atom kinds that can name the trial's own target condition
TARGET_KINDS = frozenset({"diagnosis", "condition", "infection"})

#: how the reason of an atom naming the trial's own condition starts
OWN_CONDITION = "names the trial's own condition"


def target_atom_keys(criteria, names: list[str]) -> frozenset[str]:
    """Content keys (:func:`~trialmatch.matching.context.node_key`) of the atoms that name the
    trial's own target condition.

    Parameters
    ----------
    criteria : iterable of Criterion
    names : list of str
        The trial's conditions (and title).

    Returns
    -------
    frozenset of str
    """
    out = set()
    names = [n for n in names if n]
    if not names:
        return frozenset()
    for c in criteria:
        if c.expression is None:
            continue
        for a in cm.iter_atoms(c.expression):
            k = a.kind
            if k == "diagnosis":
                if norm_key(a.cancer_type) in GENERIC_CANCERS:
                    continue
                hit = any(same_cancer(a.cancer_type, n) for n in names)
            elif k == "condition":
                hit = any(condition_matches(n, norm_key(a.condition)) for n in names)
            elif k == "infection":
                hit = any(condition_matches(n, norm_key(a.pathogen)) for n in names)
            else:
                continue
            if hit:
                out.add(node_key(a))
    return frozenset(out)


def names_target(expr, targets) -> bool:
    """``expr`` is an atom naming the trial's own condition (its key is among ``targets``, see
    :func:`target_atom_keys`)."""
    return bool(targets) and getattr(expr, "kind", None) in TARGET_KINDS and node_key(expr) in targets
