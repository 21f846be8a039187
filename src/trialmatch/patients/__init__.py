"""Patient records from JSON, FHIR R4 Bundles (mCODE / US Core) and free-text summaries.

Public API
----------
read_patient(path) -> Patient                       the reader chosen by content
read_patient_bytes(data, file_name, fmt=None)       fmt in {"json", "fhir", "text"} or None
PatientReadError(file_name, field, message)         a ValueError naming the file and field
validate_patient(p, today=None) -> list[str]        warnings (implausible, contradictory)
patient_json_schema() -> dict                       the JSON Schema of the patient format
read_patient_with_report(path, as_of=None) -> PatientReadReport   what was read, fact by fact
"""

from .errors import PatientReadError
from .model import (Assertion, Biomarker, Diagnosis, GeneResult, HistoryStatement, LabResult, LabStatement, Medication,
                    Metastasis, OtherCondition, Patient, PerformanceStatus, Procedure, Source, Treatment)
from .readers import detect_format, read_patient, read_patient_bytes
from .report import PatientReadReport, read_patient_with_report
from .schema import patient_json_schema
from .validate import validate_patient

__all__ = [
    "read_patient", "read_patient_bytes", "detect_format", "PatientReadError", "validate_patient",
    "patient_json_schema", "Patient", "Source", "Biomarker", "GeneResult", "Metastasis", "Diagnosis",
    "PerformanceStatus", "LabResult", "Treatment", "Procedure", "OtherCondition", "Medication", "Assertion",
    "LabStatement", "HistoryStatement", "read_patient_with_report", "PatientReadReport",
]
