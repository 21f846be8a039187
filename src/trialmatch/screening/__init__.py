"""Batch screening of many patients against many trials on Dask distributed.

Public API
----------
run_screen(store, patients, out, *, statuses=None, as_of=None, scheduler=None, workers=None, ...) -> ScreenResult
file_patients(paths) / stored_patients(store, workspace=None) -> list[PatientItem]
read_results(out) -> pandas.DataFrame
COLUMNS: the result columns and their meaning
CompiledRegistry.build(store) / .load(folder) / .for_store(store); rank_registry(patient, registry, store, top=20) -> MatchReport
"""

from trialmatch.screening.output import COLUMNS, read_results
from trialmatch.screening.registry import CompiledRegistry, RegistryBuilder, RegistryError, RegistryRanking, rank_registry
from trialmatch.screening.partitions import Partition, PatientItem, TrialRef
from trialmatch.screening.run import ScreenResult, file_patients, run_screen, stored_patients, trial_refs

__all__ = [
    "COLUMNS", "read_results", "Partition", "PatientItem", "TrialRef", "ScreenResult", "file_patients",
    "run_screen", "stored_patients", "trial_refs", "CompiledRegistry", "RegistryBuilder", "RegistryError",
    "RegistryRanking", "rank_registry",
]
