"""Fast version of the kill -9 figure of ``benchmarks/reliability_bench.py`` for ``trialmatch
sync`` against the fake CT.gov API on 127.0.0.1: killed at a random point, the store passes
``PRAGMA integrity_check``, holds no half-written trial, and a re-run completes with every
study once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reliability_bench as rb  # noqa: E402

pytestmark = pytest.mark.reliability


def test_kill_9_of_sync_loses_nothing(tmp_path):
    res = rb.kill_sync(1, seed=5, tmp=tmp_path, window=(2.5, 6.0))
    assert res.runs == 1
    assert (res.integrity_failures, res.half_written, res.rerun_failures, res.lost, res.duplicated) == (0, 0, 0, 0, 0), res.notes
