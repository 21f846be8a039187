"""A sync query: the filters of ``trialmatch sync`` and their ClinicalTrials.gov API v2 parameters."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trialmatch.trials.readers.common import STATUS_VALUES

_DISTANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mi|km)\s*$", re.I)


class QueryError(ValueError):
    """A sync filter that cannot be sent to the API (the message names the option)."""


def normalise_status_filter(value: str) -> str:
    """``"recruiting"``, ``"not-yet-recruiting"``, ``"Not yet recruiting"`` -> the API v2 value.

    Raises
    ------
    QueryError
        When the value is not an API v2 overall status.
    """
    key = re.sub(r"[^A-Z]+", "_", value.strip().upper()).strip("_")
    if key not in STATUS_VALUES:
        raise QueryError(f"--status {value!r} is not an overall status; use one of {', '.join(sorted(STATUS_VALUES))}")
    return key


class SyncQuery(BaseModel):
    """What to pull from the API. Every field is optional; at least one filter is required to sync.

    Parameters
    ----------
    condition, term, intervention, location : str, optional
        ``query.cond``, ``query.term``, ``query.intr``, ``query.locn``.
    statuses : list of str
        ``filter.overallStatus`` values (``RECRUITING``, ``NOT_YET_RECRUITING``, ...).
    near : tuple of float, optional
        ``(lat, lon)`` for ``filter.geo=distance(lat,lon,distance)``.
    distance : str
        Radius for ``near``: a number and ``mi`` or ``km`` (default ``50mi``).
    updated_since : date, optional
        ``filter.advanced=AREA[LastUpdatePostDate]RANGE[date,MAX]``.
    page_size : int
        Studies per page (1 to 1000; default 100).
    """

    model_config = ConfigDict(extra="forbid")

    condition: str | None = None
    term: str | None = None
    intervention: str | None = None
    location: str | None = None
    statuses: list[str] = Field(default_factory=list)
    near: tuple[float, float] | None = None
    distance: str = "50mi"
    updated_since: date | None = None
    page_size: int = 100

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for item in v:
            for part in re.split(r"[,|]", item):
                if part.strip():
                    s = normalise_status_filter(part)
                    if s not in out:
                        out.append(s)
        return out

    @field_validator("near")
    @classmethod
    def _near(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None:
            lat, lon = v
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise QueryError(f"--near {lat},{lon}: latitude must be in -90..90 and longitude in -180..180")
        return v

    @field_validator("distance")
    @classmethod
    def _distance(cls, v: str) -> str:
        m = _DISTANCE.match(v)
        if not m:
            raise QueryError(f"--distance {v!r}: give a number and mi or km, e.g. 50mi")
        return f"{m.group(1)}{m.group(2).lower()}"

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, v: int) -> int:
        if not 1 <= v <= 1000:
            raise QueryError(f"--page-size {v}: must be between 1 and 1000")
        return v

    @classmethod
    def build(cls, **fields) -> "SyncQuery":
        """Validate filters given by name; a bad one raises :class:`QueryError` naming its option."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = str(err.get("msg", exc))
            msg = msg.removeprefix("Value error, ")
            raise QueryError(msg) from None

    def has_filter(self) -> bool:
        """True when the query narrows the registry down (a sync of everything is refused)."""
        return any([self.condition, self.term, self.intervention, self.location, self.statuses,
                    self.near, self.updated_since])

    def api_params(self) -> dict[str, str]:
        """The API v2 ``/studies`` query parameters (without ``pageToken``)."""
        p: dict[str, str] = {"format": "json", "pageSize": str(self.page_size)}
        if self.condition:
            p["query.cond"] = self.condition
        if self.term:
            p["query.term"] = self.term
        if self.intervention:
            p["query.intr"] = self.intervention
        if self.location:
            p["query.locn"] = self.location
        if self.statuses:
            p["filter.overallStatus"] = ",".join(self.statuses)
        if self.near is not None:
            p["filter.geo"] = f"distance({self.near[0]:g},{self.near[1]:g},{self.distance})"
        if self.updated_since is not None:
            p["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{self.updated_since.isoformat()},MAX]"
        return p

    def key(self, base_url: str) -> str:
        """A stable key of this query against one server (the checkpoint it resumes from)."""
        blob = json.dumps({"base_url": base_url.rstrip("/"), "params": self.api_params()}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def describe(self) -> str:
        """One line a person reads: ``condition='breast cancer' status=RECRUITING,...``."""
        parts = []
        for name in ("condition", "term", "intervention", "location"):
            v = getattr(self, name)
            if v:
                parts.append(f"{name}={v!r}")
        if self.statuses:
            parts.append("status=" + ",".join(self.statuses))
        if self.near:
            parts.append(f"near={self.near[0]:g},{self.near[1]:g} within {self.distance}")
        if self.updated_since:
            parts.append(f"updated since {self.updated_since.isoformat()}")
        return " ".join(parts) or "(no filter)"


def parse_near(value: str) -> tuple[float, float]:
    """``"42.36,-71.06"`` -> ``(42.36, -71.06)``.

    Raises
    ------
    QueryError
        When the value is not two comma-separated numbers.
    """
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise QueryError(f"--near {value!r}: give latitude,longitude, e.g. 42.36,-71.06") from None


def parse_date(value: str) -> date:
    """``"2024-01-01"`` -> date.

    Raises
    ------
    QueryError
        When the value is not an ISO date.
    """
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(f"--updated-since {value!r}: give a date as YYYY-MM-DD") from None
