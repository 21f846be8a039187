"""Readable rendering of compiled expressions: "age ≥ 18 y", "NOT (prior CDK4/6 inhibitor)".

Each expression kind's renderer is registered with its model class (``@atom_kind`` in
:mod:`trialmatch.criteria.model`, registry in :mod:`trialmatch.criteria.kinds`); :func:`describe`
dispatches on the node's kind.
"""

from __future__ import annotations

from trialmatch.criteria import model as _model  # noqa: F401  (registers every kind)
from trialmatch.criteria.kinds import describe

__all__ = ["describe"]
