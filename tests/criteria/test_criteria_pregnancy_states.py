"""Pregnancy and breastfeeding named as states in exclusions, whatever test or prohibition wording surrounds them."""

from __future__ import annotations

import pytest

from trialmatch.criteria.compile import compile_criterion_text
from trialmatch.criteria.model import AnyOf, Pregnancy


def _states(expr) -> set[str]:
    items = expr.items if isinstance(expr, AnyOf) else [expr]
    return {a.state for a in items if isinstance(a, Pregnancy)}


@pytest.mark.parametrize("text", [
    "Is lactating or pregnant as confirmed by pregnancy tests performed within 7 days before enrollment.",
    "Women who are pregnant or breastfeeding, as confirmed by a positive pregnancy test",
    "Participants must not be pregnant or nursing.",
    "Patients must not be breastfeeding or pregnant. A negative serum pregnancy test is required within 7 days.",
    "Pregnant or lactating women",
])
def test_exclusion_names_both_states(text):
    expr, status, _ = compile_criterion_text(text, "exclusion")
    assert _states(expr) == {"pregnant", "breastfeeding"}, expr


def test_test_wording_alone_does_not_make_a_pregnancy_state():
    expr, _, _ = compile_criterion_text("Breastfeeding women, or women unwilling to have a pregnancy test", "exclusion")
    assert "pregnant" not in _states(expr)
