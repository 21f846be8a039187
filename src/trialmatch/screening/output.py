"""Result files of a screening run: one file per partition, a manifest, and reading them back.

Layout on disk, for ``--out results.parquet`` (a Parquet dataset, readable as one table by
``pandas.read_parquet("results.parquet")`` or ``pyarrow.dataset``)::

    results.parquet/
        part-p00000-t00000.parquet    one file per partition (patient block x trial block)
        ...
        _screen.json                  the layout (block counts) and format of the run
        _manifest/p00000-t00000.json  one entry per finished partition: its key, file and rows

For ``--out results.csv`` or ``--out results.ndjson`` the partition files go to
``results.csv.parts/`` (same manifest) and, once every partition is finished, they are joined
into ``results.csv`` itself. Names starting with ``_`` or ``.`` are skipped by Parquet readers.

Every file is written to a temporary name and renamed into place (atomic on one file system),
and a partition's manifest entry is written only after its file: a partition is finished when
its entry exists, names the partition's current key, and its file is there. A run killed at any
point leaves no half-written file under a final name, and the next run redoes only the
partitions without such an entry; a partition redone replaces its file, so no row is written
twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

OutputFormat = Literal["parquet", "csv", "ndjson"]

#: the columns of a result row, in order, with their meaning
COLUMNS: dict[str, str] = {
    "patient_id": "the patient's id",
    "patient_source": "the patient file, or store:WORKSPACE/ID@vVERSION",
    "trial_id": "the trial's id",
    "trial_version": "the trial's version in the store",
    "trial_status": "the trial's overall status",
    "as_of": "the date the patient was evaluated at (YYYY-MM-DD)",
    "verdict": "eligible, uncertain or ineligible",
    "score": "the ranking score (higher is a better match)",
    "deciding_ids": "ids of the criteria that set the verdict (failed ones, else unknown ones)",
    "deciding_text": "the text of each deciding criterion",
    "missing_facts": "keys of the facts that would settle the unknown criteria",
    "missing_text": "their descriptions",
    "steps": "the protocol steps' outcomes: number, name, verdict, reason (empty for a trial without steps)",
    "partition": "the partition that wrote the row",
}
LIST_COLUMNS = ("deciding_ids", "deciding_text", "missing_facts", "missing_text", "steps")
#: the version of the row layout above: results on an output written with another are redone
ROW_FORMAT = 2
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def output_format(path: Path) -> OutputFormat:
    """The format of ``--out PATH``, from its suffix.

    Raises
    ------
    ValueError
        An unknown suffix (the message lists the allowed ones).
    """
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"--out {path}: unknown result format {Path(path).suffix or '(no suffix)'!r}; "
                         f"use one of {', '.join(sorted(_SUFFIXES))}")
    return fmt  # type: ignore[return-value]


@dataclass(frozen=True)
class OutputPaths:
    """Where a run's files go."""

    out: Path  # what the user named
    fmt: OutputFormat
    parts: Path  # the folder of partition files, _screen.json and _manifest/

    @classmethod
    def for_out(cls, out: Path | str) -> "OutputPaths":
        out = Path(out)
        fmt = output_format(out)
        parts = out if fmt == "parquet" else out.with_name(out.name + ".parts")
        return cls(out, fmt, parts)

    @property
    def manifest_dir(self) -> Path:
        return self.parts / "_manifest"

    @property
    def meta_file(self) -> Path:
        return self.parts / "_screen.json"

    def part_file(self, name: str) -> Path:
        return self.parts / f"part-{name}.{self.fmt}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _arrow_schema():
    import pyarrow as pa

    lst = pa.list_(pa.string())
    steps = pa.list_(pa.struct([("number", pa.int64()), ("name", pa.string()), ("verdict", pa.string()),
                                ("reason", pa.string())]))
    return pa.schema([
        ("patient_id", pa.string()), ("patient_source", pa.string()), ("trial_id", pa.string()),
        ("trial_version", pa.int64()), ("trial_status", pa.string()), ("as_of", pa.string()),
        ("verdict", pa.string()), ("score", pa.float64()), ("deciding_ids", lst), ("deciding_text", lst),
        ("missing_facts", lst), ("missing_text", lst), ("steps", steps), ("partition", pa.string()),
    ])


def encode_rows(rows: list[dict[str, Any]], fmt: OutputFormat) -> bytes:
    """The bytes of one partition file holding ``rows`` (every row has every :data:`COLUMNS` key)."""
    if fmt == "parquet":
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows, schema=_arrow_schema())
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        return buf.getvalue()
    if fmt == "ndjson":
        return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows).encode("utf-8")
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        for r in rows:  # list cells as JSON arrays (lossless; read_results turns them back into lists)
            writer.writerow({k: (json.dumps(v, ensure_ascii=False) if k in LIST_COLUMNS else v) for k, v in r.items()})
        return buf.getvalue().encode("utf-8")
    raise ValueError(f"unknown result format {fmt!r}")


def write_partition_file(paths: OutputPaths, name: str, rows: list[dict[str, Any]]) -> Path:
    """Write one partition's rows atomically; returns the file."""
    target = paths.part_file(name)
    atomic_write_bytes(target, encode_rows(rows, paths.fmt))
    return target


def read_partition_rows(paths: OutputPaths, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of one partition file as dicts (list cells as lists; ``columns``: only these).

    Raises
    ------
    FileNotFoundError
        The partition has no file.
    """
    f = paths.part_file(name)
    if paths.fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(f, columns=columns).to_pylist()
    text = f.read_text("utf-8")
    if paths.fmt == "ndjson":
        rows = [json.loads(line) for line in text.splitlines() if line]
    else:
        import csv
        import io

        rows = []
        for r in csv.DictReader(io.StringIO(text), fieldnames=list(COLUMNS)):
            for col in LIST_COLUMNS:
                r[col] = json.loads(r[col])
            r["trial_version"] = int(r["trial_version"])
            r["score"] = float(r["score"]) if r["score"] not in ("", None) else None
            rows.append(r)
    return [{k: r[k] for k in columns} for r in rows] if columns else rows


# ---------------------------------------------------------------------------- manifest
def read_meta(paths: OutputPaths) -> dict | None:
    """The run description kept with the results (layout, format), or None for a new output."""
    try:
        return json.loads(paths.meta_file.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{paths.meta_file}: unreadable screening metadata ({exc}); use --restart") from None


def write_meta(paths: OutputPaths, meta: dict) -> None:
    atomic_write_bytes(paths.meta_file, json.dumps(meta, indent=2).encode("utf-8"))


def finished_partitions(paths: OutputPaths) -> dict[str, dict]:
    """Manifest entries by partition name, for the partitions whose file exists."""
    out: dict[str, dict] = {}
    if not paths.manifest_dir.is_dir():
        return out
    for f in sorted(paths.manifest_dir.glob("*.json")):
        try:
            entry = json.loads(f.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # unreadable entry: the partition is redone
        if isinstance(entry, dict) and paths.part_file(entry.get("name", "")).is_file():
            out[entry["name"]] = entry
    return out


def record_partition(paths: OutputPaths, name: str, key: str, rows: int) -> None:
    """Mark a partition finished (after its file was written)."""
    entry = {"name": name, "key": key, "rows": rows, "file": paths.part_file(name).name}
    atomic_write_bytes(paths.manifest_dir / f"{name}.json", json.dumps(entry).encode("utf-8"))


def remove_stale(paths: OutputPaths, keep: Iterable[str]) -> int:
    """Delete partition files and manifest entries not among ``keep`` (partition names) and left-over
    temporary files; returns how many partition files went."""
    keep = set(keep)
    n = 0
    if not paths.parts.is_dir():
        return 0
    for f in paths.parts.iterdir():
        if f.name.startswith(".tmp-"):
            f.unlink(missing_ok=True)
        elif f.name.startswith("part-") and f.name.rsplit(".", 1)[0][5:] not in keep:
            f.unlink(missing_ok=True)
            n += 1
    if paths.manifest_dir.is_dir():
        for f in paths.manifest_dir.iterdir():
            if f.name.startswith(".tmp-") or f.stem not in keep:
                f.unlink(missing_ok=True)
    return n


def join_parts(paths: OutputPaths, names: list[str]) -> Path | None:
    """For CSV and NDJSON: join the partition files (in ``names`` order) into ``paths.out``."""
    if paths.fmt == "parquet":
        return None
    paths.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{paths.out.name}.", dir=paths.out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if paths.fmt == "csv":
                fh.write((",".join(COLUMNS) + "\n").encode("utf-8"))
            for name in names:
                fh.write(paths.part_file(name).read_bytes())
        os.replace(tmp, paths.out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return paths.out


def read_results(out: Path | str):
    """Read a run's results back as one pandas DataFrame (list columns as Python lists).

    Parameters
    ----------
    out : path
        What was given as ``--out`` (a ``.parquet`` dataset folder, a ``.csv`` or ``.ndjson`` file).
    """
    import pandas as pd

    paths = OutputPaths.for_out(out)
    if paths.fmt == "parquet":
        return pd.read_parquet(paths.out)
    if paths.fmt == "ndjson":
        return pd.read_json(paths.out, lines=True, dtype={"patient_id": str, "trial_id": str, "as_of": str})
    df = pd.read_csv(paths.out, dtype={"patient_id": str, "trial_id": str, "as_of": str, "trial_status": str})
    for col in LIST_COLUMNS:
        df[col] = df[col].map(json.loads)
    return df
