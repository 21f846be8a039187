"""Fast versions of ``benchmarks/reliability_bench.py`` for the web app: mutated documents posted
to the API never give a 5xx; logs at DEBUG hold no patient note text, name or birth date; every
patient endpoint refuses another workspace's token and session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reliability_bench as rb  # noqa: E402

pytestmark = pytest.mark.reliability


def test_fuzzed_api_never_answers_5xx(tmp_path):
    res = rb.fuzz_api(48, seed=2, tmp=tmp_path)
    assert res.tried == 48
    assert res.crashes == 0, res.crash_examples
    assert any(s < 300 for s in res.by_status) and any(400 <= s < 500 for s in res.by_status), res.by_status


def test_no_patient_text_in_debug_logs(tmp_path):
    res = rb.log_check(tmp_path)
    assert res.lines > 0, "the flow logged something at DEBUG"
    assert res.needles >= 5
    assert res.found == []


def test_log_check_sees_a_leak():
    """The needles are found where they are: a line with the name counts."""
    needles = rb._needles("She has had a long course of endocrine therapy.", "Ada Quill", "1961-07-23")
    assert "Ada Quill" in needles and "1961-07-23" in needles
    assert any(n in "patient She has had a long course of endocrine therapy. seen" for n in needles)


def test_every_patient_endpoint_refuses_another_workspace(tmp_path):
    res = rb.cross_workspace(tmp_path)
    assert res.endpoints >= 10, "API and page routes with a patient id"
    assert res.tried >= res.endpoints
    assert res.allowed == 0, res.examples
