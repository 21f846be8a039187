"""The compiler gives the same answer every time: in every process (nothing in it may depend on
Python's string hash seed, i.e. set iteration order, which changes from one interpreter to the
next), and on every call (the per-process cache of compiled texts hands out independent copies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from trialmatch.criteria import compile_criterion_text

_TEXTS = [
    "Prior therapy with any anti-PD-1, anti-PD-L1, or anti-CTLA4 antibody.",
    "Previous treatment with an anti-PD1/PD-L1 including durvalumab or an anti-CTLA-4 therapy including "
    "tremelimumab or vinorelbine.",
    "Platelet count >= 100 x 10^9/L, ALT <= 2.5 x ULN (<= 5 x ULN with liver metastases)",
]

_SCRIPT = """
import json, sys
from trialmatch.criteria import compile_criterion_text
out = []
for text in json.loads(sys.argv[1]):
    expr, status, _ = compile_criterion_text(text, "exclusion")
    out.append([status, expr.model_dump(mode="json") if expr is not None else None])
print(json.dumps(out, sort_keys=True))
"""


def _compile_with_seed(seed: str) -> list:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    r = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(_TEXTS)], env=env, capture_output=True,
                       text=True, timeout=120, check=True)
    return json.loads(r.stdout)


def test_same_compiled_criteria_under_every_hash_seed():
    first = _compile_with_seed("0")
    assert first == _compile_with_seed("1") == _compile_with_seed("7")
    agents = first[0][1]["agents"]
    assert {"pd1_inhibitor", "pdl1_inhibitor", "ctla4_inhibitor"} <= set(agents), agents


def test_cached_results_are_independent_copies():
    a, _, _ = compile_criterion_text("Prior chemotherapy for metastatic breast cancer", "exclusion")
    a.agents.append("mutated")
    b, _, _ = compile_criterion_text("Prior chemotherapy for metastatic breast cancer", "exclusion")
    assert b.agents == ["chemotherapy"]
