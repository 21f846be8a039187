"""Bad input: a clear TrialReadError naming the file (and field), never a crash or a partial trial."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialmatch.trials import ReadResult, TrialReadError, detect_format, read_bytes, read_path


def _error(data: bytes, name: str = "doc.txt") -> TrialReadError:
    [r] = read_bytes(data, name)
    assert isinstance(r, ReadResult)
    assert r.trial is None and r.error is not None
    assert r.error.file_name == name
    assert str(r.error).startswith(f"{name}: ")
    return r.error


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_empty_file(data: bytes) -> None:
    assert _error(data).message == "empty file"
    with pytest.raises(TrialReadError, match="empty file"):
        detect_format(data, "doc.txt")


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(256)) * 4,
                                  b"\x01\x02\x03\x04\x05\x06\x07\x08" * 100])
def test_binary_file(data: bytes) -> None:
    assert "binary" in _error(data, "img.png").message


def test_latin1_text_is_read() -> None:
    doc = ("Étude de phase II du létrozole\n"
           "- Femmes âgées de 18 ans ou plus\n- Cancer du sein métastatique\n").encode("latin-1")
    [r] = read_bytes(doc, "etude.txt")
    assert r.error is None and r.trial.title == "Étude de phase II du létrozole"


def test_unrecognised_format() -> None:
    err = _error(b"Shopping list\nmilk, eggs and bread\n", "notes.txt")
    assert "unrecognised format" in err.message
    with pytest.raises(TrialReadError, match="unrecognised format"):
        detect_format(b"Shopping list\nmilk\n", "notes.txt")


def test_malformed_json_names_the_line() -> None:
    err = _error(b'{\n  "protocolSection": {\n    "identificationModule": {,\n', "bad.json")
    assert "malformed JSON at line 3" in err.message and err.line == 3


def test_json_that_is_not_a_study() -> None:
    err = _error(b'{"name": "a recipe", "steps": []}', "recipe.json")
    assert "protocolSection" in err.message and err.field == "protocolSection"
    assert "without an id" in _error(b'{"protocolSection": {}}', "s.json").message
    assert "must be an object" in _error(b'{"protocolSection": []}', "s.json").message
    assert "no studies" in _error(b'{"studies": []}', "p.json").message


def test_read_path_missing_and_folders(tmp_path: Path) -> None:
    [r] = list(read_path(tmp_path / "nope.json"))
    assert r.trial is None and "no such file" in r.error.message

    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    good = b'{"protocolSection": {"identificationModule": {"nctId": "NCT09000009"}}}'
    (tmp_path / "b" / "z.json").write_bytes(good)
    (tmp_path / "a.json").write_bytes(good.replace(b"09", b"10"))
    (tmp_path / ".secret.json").write_bytes(good)
    (tmp_path / ".hidden" / "x.json").write_bytes(good)
    (tmp_path / "empty.txt").write_bytes(b"")
    results = list(read_path(tmp_path))
    assert [r.locator for r in results] == ["a.json", "b/z.json", "empty.txt"]
    assert [r.trial.id if r.trial else None for r in results] == [
        "NCT10000010", "NCT09000009", None]
    assert results[0].trial.provenance.file_name == "a.json"
    [r] = list(read_path(tmp_path, id_override="X"))
    assert r.trial is None and "single file" in r.error.message


def test_text_id_rules(tmp_path: Path) -> None:
    doc = b"A Study of Drugumab\n\xe2\x80\xa2 Adults aged 18 to 65 years\n\xe2\x80\xa2 Measurable disease\n"
    [r] = read_bytes(doc, "folder/my_trial.txt")
    assert r.trial.id == "my_trial"  # the file stem
    assert (r.trial.eligibility.min_age_years, r.trial.eligibility.max_age_years) == (18, 65)
    assert r.trial.eligibility.sex is None  # no sex named on the age line
    [r] = read_bytes(doc + b"\xe2\x80\xa2 Registered as ISRCTN12345678\n", "t.txt")
    assert r.trial.id == "ISRCTN12345678"
    [r] = read_bytes(doc + b"\xe2\x80\xa2 Registered as ISRCTN12345678\n", "t.txt", id_override="MINE")
    assert r.trial.id == "MINE" and "ISRCTN12345678" in r.trial.other_ids


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_never_crashes_on_random_bytes(data: bytes) -> None:
    results = read_bytes(data, "fuzz.bin")
    assert results
    for r in results:
        assert (r.trial is None) != (r.error is None)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_never_crashes_on_random_text(text: str) -> None:
    for r in read_bytes(text.encode("utf-8"), "fuzz.txt"):
        assert (r.trial is None) != (r.error is None)
