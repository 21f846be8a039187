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


# ---- a course's start "more than N days before enrolment" is not a washout window ----

from trialmatch.criteria.model import PriorTherapy  # noqa: E402


@pytest.mark.parametrize("text", [
    "Start of T-DXd treatment for more than 30 days before enrolment (eCRF registration date)",
    "Initiation of palbociclib more than 4 weeks prior to registration",
])
def test_start_more_than_n_days_before_is_a_time_since_start(text):
    expr, _, _ = compile_criterion_text(text, "exclusion")
    assert isinstance(expr, PriorTherapy) and expr.within is None and expr.min_duration is not None, expr


def test_washout_window_is_still_within():
    expr, _, _ = compile_criterion_text("Chemotherapy within 14 days prior to registration", "exclusion")
    assert isinstance(expr, PriorTherapy) and expr.within is not None and expr.min_duration is None
