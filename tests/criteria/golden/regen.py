"""Print the current compiled form of criterion texts as golden lines, to write new ones quickly.

It only prints (to stdout); it never writes or rewrites a golden file: copy the line you checked
into the family's ``.jsonl``, write its ``note``, and loosen ``expect`` to a pattern where only a
property matters (see the docstring of ``tests/criteria/test_criteria_golden.py``).

Usage, from the repository root::

    PYTHONPATH=$PWD/src python tests/criteria/golden/regen.py "Platelets >= 100 x 10^9/L"
    PYTHONPATH=$PWD/src python tests/criteria/golden/regen.py --kind exclusion --id males "Males."
    PYTHONPATH=$PWD/src python tests/criteria/golden/regen.py --show person:males   # an existing line

``--show FILE:ID`` prints an existing line's text compiled now, its expectation and what does not
hold, next to each other.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_criteria_golden import compile_result, failures, load_golden  # noqa: E402


def golden_line(text: str, kind: str, case_id: str | None = None) -> str:
    """A golden line (one JSON object) with the exact current result of ``text``."""
    result = compile_result(text, kind)
    expect: dict = {"status": result["status"], "expr": result["canonical"]}
    if result["expression"] is None and result["reason"]:
        expect["reason"] = {"$contains": result["reason"]}
    slug = case_id or re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]
    line = {"id": slug, "text": text, "kind": kind, "expect": expect, "note": "TODO: why it must read so"}
    return json.dumps(line, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="*", help="criterion texts")
    parser.add_argument("--kind", choices=["inclusion", "exclusion"], default="inclusion")
    parser.add_argument("--id", dest="case_id", help="id of the printed line (one text only)")
    parser.add_argument("--show", metavar="FILE:ID", help="an existing golden line, compiled now")
    args = parser.parse_args(argv)
    if args.show:
        stem, _, case_id = args.show.partition(":")
        case = next((c for c in load_golden() if c["file"] == stem and c["id"] == case_id), None)
        if case is None:
            parser.error(f"no golden line {args.show!r} (FILE is the file name without .jsonl)")
        result = compile_result(case["text"], case["kind"])
        print(f"{case['where']}  {case['kind']}: {case['text']}")
        print("expect: " + json.dumps(case["expect"], ensure_ascii=False))
        print("now:    " + golden_line(case["text"], case["kind"], case["id"]))
        print("describe: " + result["describe"])
        for problem in failures(case, result) or ["(every expectation holds)"]:
            print("  " + problem)
        return 0
    if not args.texts:
        parser.error("give criterion texts, or --show FILE:ID")
    if args.case_id and len(args.texts) > 1:
        parser.error("--id names one line: give one text")
    for text in args.texts:
        print(golden_line(text, args.kind, args.case_id))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
