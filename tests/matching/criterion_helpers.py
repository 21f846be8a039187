"""Helpers the matching tests share: a patient read from a few lines of note, and one criterion compiled from its
text (imported by the test modules of this folder; pytest puts the folder on ``sys.path``)."""

from __future__ import annotations

from trialmatch.criteria import model as cm
from trialmatch.criteria.compile import compile_criterion_text
from trialmatch.patients import read_patient_bytes


def note_patient(text: str):
    """The patient the text reader reads from ``text``."""
    return read_patient_bytes(text.encode(), "n.txt", fmt="text")


def compiled_criterion(text: str, kind: str = "inclusion") -> cm.Criterion:
    """One criterion ``I1`` of ``kind`` compiled from ``text`` by the product's compiler."""
    expr, status, reason = compile_criterion_text(text, kind)
    return cm.Criterion(id="I1", kind=kind, text=text, span=(0, len(text)), expression=expr, status=status,
                        reason=reason)


def compiled_outcome(text: str, patient, as_of, kind: str = "inclusion"):
    """The outcome for ``patient`` as of ``as_of`` of one criterion compiled from ``text``; the text must compile."""
    from trialmatch.matching import evaluate_criterion

    c = compiled_criterion(text, kind)
    assert c.status == "compiled", (c.status, c.reason)
    return evaluate_criterion(c, patient, as_of)
