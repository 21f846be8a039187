"""Options of the matcher."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MatchOptions(BaseModel):
    """Tunable rules of the matcher (every default is documented in the matching README rules).

    Attributes
    ----------
    lab_max_age_days : int
        A lab result older than this (days before ``as_of``) counts as unknown when the
        criterion states no window of its own. Default 28.
    closed_world_history : bool
        Comorbidities, infections, other malignancies, current medications, allergies and
        recent events are *lists of what she has*: when the record has no such entry the
        predicate is false ("not in her record"), with that reason shown. Set False to make
        such absences unknown instead. The rule only ever rules a condition *out* where that
        lets her in (exclusions, "no history of X"): a condition an inclusion criterion requires
        her to have, that her record does not list, is unknown, never false. Brain (and every other) metastasis, receptor status,
        labs, performance status and treatment history are never closed-world.
    fuzzy_threshold : int
        rapidfuzz score (0-100) needed to match free-text condition names. Default 90.
    include_evidence : bool
        Attach patient facts to every criterion outcome (turn off only for bulk scoring).
    """

    model_config = ConfigDict(extra="forbid")
    lab_max_age_days: int = 28
    closed_world_history: bool = True
    fuzzy_threshold: int = 90
    include_evidence: bool = True
