"""The golden corpus of the criteria grammar: criterion text -> what it compiles to.

Every line of every ``tests/criteria/golden/*.jsonl`` file is one case, run as its own test
(pytest id ``<file stem>:<id>``); the file is a behaviour family (``person``, ``labs``,
``therapy``, ...). A line is one JSON object::

    {"id": "...", "text": "<criterion text>", "kind": "inclusion" | "exclusion",
     "expect": {...}, "note": "why the compiler must read it so"}

The text is compiled with the public ``trialmatch.criteria.compile_criterion_text(text, kind)``,
which returns ``(expression or None, status, reason)``. ``expect`` holds any of these keys (at
least one; all given must hold):

``status``
    the status, exactly: ``"compiled"``, ``"needs_confirmation"`` or ``"unsupported"``.
``reason``
    a pattern (see below) over the reason string (``null`` when there is none), usually
    ``{"$contains": "allowed"}``.
``expr``
    the exact expression in canonical form, or ``null`` for "no expression". Canonical form is
    the expression's JSON with every field at its default left out except ``kind`` (what
    ``regen.py`` prints); the golden value is rebuilt through the model
    (``expression_from_dict``), so a field written at its default compares the same.
``match``
    a pattern over the *full* JSON of the expression (``model_dump(mode="json")``: every field
    present, defaults included), or ``null`` for "no expression".
``atoms``
    a pattern over the list of the expression's atoms (``iter_atoms``, depth first), each in full
    JSON; ``[]`` when there is no expression.
``describe``
    a pattern over the readable form ``describe(expr)`` (``""`` when there is no expression).

Patterns (a small subset matcher over JSON):

* a scalar (string, number, bool, ``null``) equals the value (``18`` equals ``18.0``);
* an object without ``$`` keys matches an object having every key given, each value matching
  (keys not named are not checked: this is the subset match);
* a list matches a list of the same length, item by item in order;
* operators, an object whose keys start with ``$``:

  - ``{"$set": [...]}``: a list with these items in any order (as many as given);
  - ``{"$has": [p, ...]}``: a list in which each pattern matches some item;
  - ``{"$none": [p, ...]}``: a list in which no item matches any of the patterns;
  - ``{"$every": p}``: a list whose every item matches ``p`` (and which is not empty);
  - ``{"$where": f, "$is": p}``: the items of a list that match ``f``, as a list, match ``p``
    (``{"$where": {"kind": "age"}, "$is": [{"years": {"low": 12}}]}``: exactly one age atom, from 12);
  - ``{"$contains": "s"}``: a string containing ``s``;
  - ``{"$not": p}``: anything ``p`` does not match;
  - ``{"$all": [p, ...]}``: every pattern matches;
  - ``{"$any": [p, ...]}``: at least one pattern matches (``{"kind": {"$any": ["lab", "measurement"]}}``).

A malformed line (bad JSON, missing or unknown keys, a kind other than inclusion/exclusion, an
unknown ``$`` operator, an ``expr`` the model rejects, a duplicate id) fails its own test (id
``<file stem>:line<N>``) with a message naming the file and line; the other lines still run.

To write a new line, print the current compiled form with
``PYTHONPATH=$PWD/src python tests/criteria/golden/regen.py "text"`` (it never writes a file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from trialmatch.criteria import compile_criterion_text, describe
from trialmatch.criteria import model as cm

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
LINE_KEYS = {"id", "text", "kind", "expect", "note"}
EXPECT_KEYS = {"status", "reason", "expr", "match", "atoms", "describe"}
STATUSES = {"compiled", "needs_confirmation", "unsupported"}
OPERATORS = {"$set", "$has", "$none", "$every", "$where", "$is", "$contains", "$not", "$all", "$any"}


class GoldenFormatError(ValueError):
    """A golden line that does not follow the format; the message names the file and line."""


# ----------------------------------------------------------------------------- the compiled result
def canonical(expr) -> dict | None:
    """The expression's JSON with fields at their default left out, ``kind`` always kept."""
    if expr is None:
        return None
    return _canonical_node(expr)


def _canonical_node(node):
    if isinstance(node, list):
        return [_canonical_node(v) for v in node]
    if not isinstance(node, BaseModel):
        return node
    out = {}
    for name, field in type(node).model_fields.items():
        value = getattr(node, name)
        if name != "kind" and not field.is_required() and value == field.get_default(call_default_factory=True):
            continue
        out[name] = _canonical_node(value)
    return out


def compile_result(text: str, kind: str) -> dict:
    """What the golden expectations are checked against: status, reason and the expression's forms."""
    expr, status, reason = compile_criterion_text(text, kind)
    return {
        "status": status,
        "reason": reason,
        "expression": expr,
        "canonical": canonical(expr),
        "full": expr.model_dump(mode="json") if expr is not None else None,
        "atoms": [a.model_dump(mode="json") for a in cm.iter_atoms(expr)] if expr is not None else [],
        "describe": describe(expr) if expr is not None else "",
    }


# ----------------------------------------------------------------------------- patterns
def check_pattern(pattern, where: str) -> None:
    """Raise :class:`GoldenFormatError` for an unknown operator or a misshapen one."""
    if isinstance(pattern, list):
        for i, p in enumerate(pattern):
            check_pattern(p, f"{where}[{i}]")
        return
    if not isinstance(pattern, dict):
        return
    ops = [k for k in pattern if k.startswith("$")]
    if not ops:
        for k, v in pattern.items():
            check_pattern(v, f"{where}.{k}")
        return
    unknown = sorted(set(ops) - OPERATORS)
    if unknown:
        raise GoldenFormatError(f"{where}: unknown operator(s) {unknown}; allowed: {sorted(OPERATORS)}")
    if len(ops) != len(pattern):
        raise GoldenFormatError(f"{where}: an operator object holds only $ keys, got {sorted(pattern)}")
    if ("$where" in pattern) != ("$is" in pattern) or (len(pattern) > 1 and set(pattern) != {"$where", "$is"}):
        raise GoldenFormatError(f"{where}: one operator per object ($where goes with $is), got {sorted(pattern)}")
    for op, arg in pattern.items():
        if op in ("$set", "$has", "$none", "$all", "$any") and not isinstance(arg, list):
            raise GoldenFormatError(f"{where}: {op} takes a list, got {arg!r}")
        if op == "$contains" and not isinstance(arg, str):
            raise GoldenFormatError(f"{where}: $contains takes a string, got {arg!r}")
        check_pattern(arg, f"{where}.{op}")


def matches(pattern, actual) -> bool:
    """True when ``actual`` (JSON data) matches ``pattern`` (see the module docstring)."""
    if isinstance(pattern, dict) and pattern and all(k.startswith("$") for k in pattern):
        if "$where" in pattern:
            if not isinstance(actual, list):
                return False
            return matches(pattern["$is"], [a for a in actual if matches(pattern["$where"], a)])
        ((op, arg),) = pattern.items()
        if op == "$contains":
            return isinstance(actual, str) and arg in actual
        if op == "$not":
            return not matches(arg, actual)
        if op == "$all":
            return all(matches(p, actual) for p in arg)
        if op == "$any":
            return any(matches(p, actual) for p in arg)
        if not isinstance(actual, list):
            return False
        if op == "$has":
            return all(any(matches(p, a) for a in actual) for p in arg)
        if op == "$none":
            return not any(matches(p, a) for p in arg for a in actual)
        if op == "$every":
            return bool(actual) and all(matches(arg, a) for a in actual)
        if op == "$set":
            left = list(actual)
            if len(left) != len(arg):
                return False
            for p in arg:
                hit = next((i for i, a in enumerate(left) if matches(p, a)), None)
                if hit is None:
                    return False
                left.pop(hit)
            return True
        raise GoldenFormatError(f"unknown operator {op}")
    if isinstance(pattern, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(actual, list) and len(pattern) == len(actual) and all(
            matches(p, a) for p, a in zip(pattern, actual))
    if isinstance(pattern, bool) or isinstance(actual, bool):
        return pattern is actual
    return pattern == actual


# ----------------------------------------------------------------------------- the golden files
def read_golden(directory: Path = GOLDEN_DIR) -> list[dict]:
    """Every golden line, each validated on its own: a dict with ``file`` (family), ``where``
    ("person.jsonl:12") and ``id``, and either the parsed line's keys or ``error`` (the message
    of a malformed line, which names the file and line). Blank lines are skipped."""
    out, seen = [], {}
    for path in sorted(directory.glob("*.jsonl")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                case = parse_line(raw, where)
                key = (path.stem, case["id"])
                if key in seen:
                    raise GoldenFormatError(f"{where}: id {key[1]!r} already used at {seen[key]}")
                seen[key] = where
            except GoldenFormatError as err:
                case = {"id": f"line{number}", "error": str(err)}
            case.update(file=path.stem, where=where)
            out.append(case)
    return out


def load_golden(directory: Path = GOLDEN_DIR) -> list[dict]:
    """Every golden line, validated; the first malformed one raises :class:`GoldenFormatError`."""
    cases = read_golden(directory)
    bad = next((c for c in cases if "error" in c), None)
    if bad is not None:
        raise GoldenFormatError(bad["error"])
    return cases


def parse_line(raw: str, where: str) -> dict:
    """One golden line as a dict; :class:`GoldenFormatError` naming ``where`` if malformed."""
    try:
        case = json.loads(raw)
    except json.JSONDecodeError as err:
        raise GoldenFormatError(f"{where}: not JSON ({err})") from None
    if not isinstance(case, dict):
        raise GoldenFormatError(f"{where}: a golden line is a JSON object, got {type(case).__name__}")
    missing, unknown = LINE_KEYS - set(case), set(case) - LINE_KEYS
    if missing or unknown:
        raise GoldenFormatError(f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; "
                                f"a line has exactly {sorted(LINE_KEYS)}")
    for key in ("id", "text", "note"):
        if not isinstance(case[key], str) or not case[key].strip():
            raise GoldenFormatError(f"{where}: {key!r} must be a non-empty string")
    if case["kind"] not in ("inclusion", "exclusion"):
        raise GoldenFormatError(f"{where}: kind must be 'inclusion' or 'exclusion', got {case['kind']!r}")
    expect = case["expect"]
    if not isinstance(expect, dict) or not expect:
        raise GoldenFormatError(f"{where}: expect must be a non-empty object with keys among {sorted(EXPECT_KEYS)}")
    if set(expect) - EXPECT_KEYS:
        raise GoldenFormatError(f"{where}: unknown expect keys {sorted(set(expect) - EXPECT_KEYS)}; "
                                f"allowed: {sorted(EXPECT_KEYS)}")
    if "status" in expect and expect["status"] not in STATUSES:
        raise GoldenFormatError(f"{where}: status must be one of {sorted(STATUSES)}, got {expect['status']!r}")
    if expect.get("expr") is not None:
        try:
            cm.expression_from_dict(expect["expr"])
        except Exception as err:  # pydantic's ValidationError lists the fields
            raise GoldenFormatError(f"{where}: expect.expr is not a valid expression: {err}") from None
    for key in ("reason", "match", "atoms", "describe"):
        if key in expect:
            check_pattern(expect[key], f"{where}: expect.{key}")
    return case


def failures(case: dict, result: dict) -> list[str]:
    """The expectations of ``case`` that ``result`` (from :func:`compile_result`) does not meet."""
    expect, out = case["expect"], []
    if "status" in expect and result["status"] != expect["status"]:
        out.append(f"status: expected {expect['status']!r}, got {result['status']!r}")
    if "reason" in expect and not matches(expect["reason"], result["reason"]):
        out.append(f"reason: {result['reason']!r} does not match {json.dumps(expect['reason'])}")
    if "expr" in expect:
        want = expect["expr"]
        if want is None:
            if result["expression"] is not None:
                out.append("expr: expected no expression")
        elif result["full"] != cm.expression_from_dict(want).model_dump(mode="json"):
            out.append(f"expr: expected {json.dumps(want, ensure_ascii=False)}")
    for key, actual in (("match", result["full"]), ("atoms", result["atoms"]), ("describe", result["describe"])):
        if key in expect and not matches(expect[key], actual):
            out.append(f"{key}: {json.dumps(expect[key], ensure_ascii=False)} does not match")
    return out


CASES = read_golden()


def test_golden_corpus_is_there():
    assert CASES, f"no golden lines under {GOLDEN_DIR}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['id']}" for c in CASES])
def test_golden(case):
    if "error" in case:
        pytest.fail(case["error"], pytrace=False)
    result = compile_result(case["text"], case["kind"])
    problems = failures(case, result)
    if problems:
        pytest.fail(f"{case['where']} {case['id']} ({case['kind']}): {case['text']!r}\n  " + "\n  ".join(problems)
                    + f"\n  got status={result['status']!r} reason={result['reason']!r}\n  canonical: "
                    + json.dumps(result["canonical"], ensure_ascii=False) + f"\n  describe: {result['describe']}",
                    pytrace=False)


# ----------------------------------------------------------------------------- the matcher itself
@pytest.mark.parametrize(("pattern", "actual", "expected"), [
    ({"a": 1}, {"a": 1.0, "b": 2}, True),
    ({"a": 1, "c": 3}, {"a": 1}, False),
    ([1, 2], [1, 2], True),
    ([1, 2], [2, 1], False),
    ({"$set": [2, 1]}, [1, 2], True),
    ({"$set": [1]}, [1, 1], False),
    ({"$has": [{"x": 1}]}, [{"x": 1, "y": 2}, {"x": 3}], True),
    ({"$has": [{"x": 4}]}, [{"x": 1}], False),
    ({"$none": [{"x": 1}]}, [{"x": 2}], True),
    ({"$none": [{"x": 1}]}, [{"x": 1}], False),
    ({"$every": {"x": 1}}, [{"x": 1}, {"x": 1, "y": 0}], True),
    ({"$every": {"x": 1}}, [], False),
    ({"$where": {"k": "a"}, "$is": [{"v": 1}]}, [{"k": "a", "v": 1}, {"k": "b", "v": 2}], True),
    ({"$where": {"k": "a"}, "$is": []}, [{"k": "a", "v": 1}], False),
    ({"$contains": "ow"}, "allowed", True),
    ({"$not": {"$contains": "x"}}, "allowed", True),
    ({"$all": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 2}, True),
    ({"$all": [{"a": 1}, {"b": 3}]}, {"a": 1, "b": 2}, False),
    ({"k": {"$any": ["x", "y"]}}, {"k": "y"}, True),
    ({"k": {"$any": ["x", "y"]}}, {"k": "z"}, False),
    (True, 1, False),
    (None, None, True),
])
def test_matcher(pattern, actual, expected):
    assert matches(pattern, actual) is expected


@pytest.mark.parametrize(("raw", "message"), [
    ("{not json", "not JSON"),
    ('{"id": "a", "text": "t", "kind": "inclusion", "expect": {"status": "compiled"}}', "missing keys ['note']"),
    ('{"id": "a", "text": "t", "kind": "both", "expect": {"status": "compiled"}, "note": "n"}', "kind must be"),
    ('{"id": "a", "text": "t", "kind": "inclusion", "expect": {"stat": "compiled"}, "note": "n"}', "unknown expect"),
    ('{"id": "a", "text": "t", "kind": "inclusion", "expect": {"match": {"$nope": 1}}, "note": "n"}', "unknown operator"),
    ('{"id": "a", "text": "t", "kind": "inclusion", "expect": {"expr": {"kind": "sex"}}, "note": "n"}', "not a valid"),
])
def test_a_malformed_line_names_its_file_and_line(raw, message):
    with pytest.raises(GoldenFormatError) as err:
        parse_line(raw, "person.jsonl:7")
    assert str(err.value).startswith("person.jsonl:7: ") and message in str(err.value)


def test_a_duplicate_id_names_both_lines(tmp_path):
    line = '{"id": "a", "text": "Males.", "kind": "exclusion", "expect": {"status": "compiled"}, "note": "n"}'
    (tmp_path / "x.jsonl").write_text(line + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(GoldenFormatError, match=r"x\.jsonl:3: id 'a' already used at x\.jsonl:1"):
        load_golden(tmp_path)
    # read as the test module does, only the malformed line is an error; the others still run
    (tmp_path / "y.jsonl").write_text("{oops\n" + line + "\n", encoding="utf-8")
    cases = read_golden(tmp_path)
    assert [(c["where"], "error" in c) for c in cases] == [("x.jsonl:1", False), ("x.jsonl:3", True),
                                                          ("y.jsonl:1", True), ("y.jsonl:2", False)]
    assert cases[2]["error"].startswith("y.jsonl:1: not JSON")


def test_a_wrong_expectation_fails():
    case = parse_line('{"id": "a", "text": "Males.", "kind": "exclusion", "note": "n", "expect": '
                      '{"status": "unsupported", "expr": {"kind": "sex", "allowed": ["female"]}, '
                      '"atoms": {"$has": [{"kind": "age"}]}}}', "x.jsonl:1")
    assert [p.split(":")[0] for p in failures(case, compile_result("Males.", "exclusion"))] == \
        ["status", "expr", "atoms"]


def test_canonical_form_rebuilds_the_expression():
    for text in ("Platelets ≥ 100×109/L", "ALT ≤ 2.5 × ULN (≤ 5 × ULN if liver metastases)",
                 "At least 4 weeks since prior chemotherapy"):
        result = compile_result(text, "inclusion")
        assert cm.expression_from_dict(result["canonical"]) == result["expression"], text
        assert "kind" in result["canonical"]


def test_regen_prints_lines_that_hold_and_writes_nothing(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("golden_regen", GOLDEN_DIR / "regen.py")
    regen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regen)
    before = {p.name: p.read_bytes() for p in GOLDEN_DIR.iterdir()}
    texts = ["Males.", "Prior CDK4/6 inhibitor allowed.", "Zorblax quantifier must be flumbled"]
    assert regen.main(["--kind", "exclusion", *texts]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    for raw, text in zip(printed, texts):
        case = parse_line(raw, "regen")
        assert case["text"] == text and not failures(case, compile_result(text, "exclusion")), raw
    assert regen.main(["--show", f"{CASES[0]['file']}:{CASES[0]['id']}"]) == 0
    assert "every expectation holds" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in GOLDEN_DIR.iterdir()} == before
