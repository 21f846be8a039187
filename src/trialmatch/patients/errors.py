"""The one error a patient reader raises."""

from __future__ import annotations


class PatientReadError(ValueError):
    """A patient file that cannot be read, or holds an impossible value.

    Parameters
    ----------
    file_name : str
        The file (or a label for bytes) that was being read.
    field : str
        The field or path at fault ("$.labs[2].value", "Observation/abc", "json", ...).
    message : str
        What is wrong, in words a person can act on.
    """

    def __init__(self, file_name: str, field: str, message: str) -> None:
        self.file_name = file_name
        self.field = field
        self.message = message
        super().__init__(f"{file_name}: {field}: {message}")
