"""How a screening run is cut into partitions: patient block x trial block.

Patients and trials are put into blocks by a stable hash of their key (not by position), and
the number of blocks is recorded with the results (see :mod:`trialmatch.screening.output`).
So when trials or patients are added, changed or removed between two runs on the same output,
only the blocks that hold them get a new content key, and only the partitions of those blocks
are screened again: the others keep their files.

A partition's key is a SHA-256 over everything its rows depend on: each patient's key and
content digest, each trial's id and current version, the compiler version and the ``as_of``
date. A finished partition whose recorded key equals the key worked out now is not redone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field

from trialmatch.trials.model import status_filter  # noqa: F401  (re-exported: screening's --status)


@dataclass(frozen=True)
class PatientItem:
    """One patient to screen.

    Attributes
    ----------
    key : str
        Unique in the run: the file path for a patient file, ``workspace/id`` for a stored one.
    patient_id : str
        The patient's own id (the ``patient_id`` column of the results).
    source : str
        Where she came from: the file path, or ``store:WORKSPACE/ID@vVERSION``.
    data : str
        The patient as JSON (``Patient.model_dump_json()``): what a worker reads her from.
    version : int, optional
        Her version in the store (a stored patient; None for a file).
    """

    key: str
    patient_id: str
    source: str
    data: str
    version: int | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of her JSON (changes when her record does)."""
        return hashlib.sha256(self.data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrialRef:
    """A trial as the client sees it: id, current version, status (no criteria: workers load them)."""

    trial_id: str
    version: int
    status: str | None


@dataclass(frozen=True)
class Partition:
    """One unit of work: a block of patients against a block of trials.

    Attributes
    ----------
    name : str
        ``p{patient block:05d}-t{trial block:05d}``: the name of its result file.
    key : str
        SHA-256 of its inputs (see the module docstring).
    patients : tuple of PatientItem
    trials : tuple of TrialRef
    """

    name: str
    key: str
    patients: tuple[PatientItem, ...]
    trials: tuple[TrialRef, ...]

    @property
    def pairs(self) -> int:
        """How many patient-trial pairs (result rows) it holds."""
        return len(self.patients) * len(self.trials)


@dataclass(frozen=True)
class Layout:
    """How many blocks patients and trials are hashed into (kept with the results)."""

    patient_blocks: int
    trial_blocks: int

    def to_json(self) -> dict:
        return {"patient_blocks": self.patient_blocks, "trial_blocks": self.trial_blocks}


#: a new output is cut into at least this many partitions (when there are that many patient-trial
#: blocks), so that the work spreads evenly over the workers of a run
MIN_PARTITIONS = 32


def choose_layout(n_patients: int, n_trials: int, patient_block: int, trial_block: int,
                  min_partitions: int = MIN_PARTITIONS) -> Layout:
    """Blocks of at most about ``patient_block`` patients and ``trial_block`` trials (at least one
    each), cut finer when that gives fewer than ``min_partitions`` partitions: patients first
    (down to one a block), then trials.

    Patients first, because each patient costs a fixed set-up per partition (her fact index,
    about 20 ms, the cost of some 70 trials), so fewer, larger trial blocks waste less; with
    every worker holding every trial (see :mod:`.run`) the uneven patient blocks that hashing a
    few patients gives are evened out by sending the largest partitions first.
    """
    if patient_block < 1 or trial_block < 1:
        raise ValueError("block sizes must be at least 1")
    t_blocks = max(1, math.ceil(n_trials / trial_block))
    p_blocks = max(1, math.ceil(n_patients / patient_block), min(n_patients, math.ceil(min_partitions / t_blocks)))
    t_blocks = max(t_blocks, min(n_trials, math.ceil(min_partitions / p_blocks)))
    return Layout(p_blocks, t_blocks)


def bucket(key: str, n: int) -> int:
    """The block of ``key`` among ``n`` (CRC-32: stable across processes and runs)."""
    return zlib.crc32(key.encode("utf-8")) % n


def partition_key(patients: list[PatientItem], trials: list[TrialRef], *, compiler_version: str,
                  as_of: dt.date | None) -> str:
    """SHA-256 of what a partition's rows depend on."""
    blob = json.dumps({
        "patients": [(p.key, p.digest) for p in patients],
        "trials": [(t.trial_id, t.version) for t in trials],
        "compiler": compiler_version,
        "as_of": as_of.isoformat() if as_of else None,
    }, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class Plan:
    """Every partition of a run, in the order they are submitted (trial block major, so that a
    worker that keeps a trial block in its cache is likely to get the next task on it)."""

    layout: Layout
    partitions: list[Partition] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return sum(p.pairs for p in self.partitions)


def plan_partitions(patients: list[PatientItem], trials: list[TrialRef], layout: Layout, *,
                    compiler_version: str, as_of: dt.date | None) -> Plan:
    """Cut ``patients`` x ``trials`` into the partitions of ``layout`` (empty blocks are left out).

    Raises
    ------
    ValueError
        Two patients with the same key.
    """
    seen: dict[str, PatientItem] = {}
    for p in patients:
        if p.key in seen:
            raise ValueError(f"patient {p.key!r} is given twice ({seen[p.key].source} and {p.source})")
        seen[p.key] = p
    p_blocks: list[list[PatientItem]] = [[] for _ in range(layout.patient_blocks)]
    for p in sorted(patients, key=lambda p: p.key):
        p_blocks[bucket(p.key, layout.patient_blocks)].append(p)
    t_blocks: list[list[TrialRef]] = [[] for _ in range(layout.trial_blocks)]
    for t in sorted(trials, key=lambda t: t.trial_id):
        t_blocks[bucket(t.trial_id, layout.trial_blocks)].append(t)
    plan = Plan(layout)
    for ti, tb in enumerate(t_blocks):
        if not tb:
            continue
        for pi, pb in enumerate(p_blocks):
            if not pb:
                continue
            plan.partitions.append(Partition(
                name=f"p{pi:05d}-t{ti:05d}",
                key=partition_key(pb, tb, compiler_version=compiler_version, as_of=as_of),
                patients=tuple(pb), trials=tuple(tb)))
    return plan
