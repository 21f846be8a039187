"""``trialmatch patient show``: what was read from a note, a JSON file or a FHIR bundle."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trialmatch.cli import app

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
runner = CliRunner()

LETTER = """Royal Infirmary, Breast Unit
Clinic letter 20 Nov 2026

66F, pmp. ER 90%, PR 40%, HER2 1+ (HER2-low). Mets to bone/liver.
Adjuvant letrozole 2019-2024. PD on letrozole 10/2026.
No chemotherapy. No cardiac history.
Bloods 18/11/2026: Hb 118 g/L, neutrophils 3.2, plt 190, bili 14 umol/L, ALT 2 x ULN, creat 70.
Kind regards
"""


def _note(tmp_path: Path) -> Path:
    path = tmp_path / "letter.txt"
    path.write_text(LETTER, encoding="utf-8")
    return path


def test_show_note_json(tmp_path: Path) -> None:
    res = runner.invoke(app, ["patient", "show", str(_note(tmp_path)), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["format"] == "text"
    assert out["as_of"] == "2026-11-20"
    assert out["as_of_source"]["kind"] == "text" and out["as_of_source"]["locator"] == "Clinic letter 20 Nov 2026"
    facts = {f["fact"] for f in out["facts"]}
    assert "age 66" in facts and "postmenopausal" in facts
    assert any(f.startswith("alt 2 x ULN") for f in facts)
    assert any("platelets 190" in f and "no unit written" in f for f in facts)
    # every fact of a note names its sentence
    assert all(f["source"] and f["source"]["kind"] == "text" for f in out["facts"])
    absences = {f["fact"] for f in out["absences"]}
    assert any(a.startswith("no chemotherapy") for a in absences)
    assert any("condition:cardiac_disease" in a for a in absences)
    unread = [s["text"] for s in out["unread_sentences"]]
    assert "Kind regards" in unread and "Royal Infirmary, Breast Unit" in unread
    assert not any("Bloods" in u for u in unread)


def test_show_note_table(tmp_path: Path) -> None:
    res = runner.invoke(app, ["patient", "show", str(_note(tmp_path))], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "as of 2026-11-20" in res.stdout
    assert "date from: Clinic letter 20 Nov 2026" in res.stdout
    assert "Stated absences" in res.stdout
    assert "Sentences from which nothing was read" in res.stdout


def test_show_as_of_override(tmp_path: Path) -> None:
    res = runner.invoke(app, ["patient", "show", str(_note(tmp_path)), "--format", "json", "--as-of", "2025-01-01"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["as_of"] == "2025-01-01"
    assert out["as_of_source"]["kind"] == "derived" and "--as-of" in out["as_of_source"]["locator"]
    assert out["record_date"] == "2026-11-20"
    # the labs of 18/11/2026 come after that date: not part of the record as of 2025-01-01
    assert not any(f["fact"].startswith("hemoglobin") for f in out["facts"])


def test_show_json_and_fhir_patients() -> None:
    for name, kind, locator in (("p2_platelets_85.json", "json", "$.as_of"),
                                ("p2_platelets_85.fhir.json", "fhir", "Bundle.timestamp")):
        res = runner.invoke(app, ["patient", "show", str(FIX / name), "--format", "json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["as_of"] == "2026-11-01"
        assert (out["as_of_source"]["kind"], out["as_of_source"]["locator"]) == (kind, locator)
        assert any(f["fact"].startswith("platelets 85") for f in out["facts"])
        assert out["sentences"] == []


def test_show_errors(tmp_path: Path) -> None:
    res = runner.invoke(app, ["patient", "show", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2 and "no such file" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x", "labs": [{"analyte": "alt"}]}', encoding="utf-8")
    res = runner.invoke(app, ["patient", "show", str(bad)])
    assert res.exit_code == 2 and "bad.json" in res.output
    res = runner.invoke(app, ["patient", "show", str(_note(tmp_path)), "--as-of", "20/11/2026"])
    assert res.exit_code == 2 and "--as-of" in res.output
