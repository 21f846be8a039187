"""The JSON Schema of the patient format, generated from the model."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from .model import Patient

SCHEMA_ID = "https://trialmatch.example.org/schema/patient.schema.json"


def patient_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the patient JSON format, generated from :class:`Patient`."""
    schema = Patient.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """The schema as the text of the shipped file."""
    return json.dumps(patient_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def shipped_schema_path() -> Path:
    return Path(str(resources.files("trialmatch.patients").joinpath("schema", "patient.schema.json")))


def write_schema(path: Path | None = None) -> Path:
    """Write the schema file shipped with the package (``python -m trialmatch.patients.schema``)."""
    path = path or shipped_schema_path()
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_schema())
