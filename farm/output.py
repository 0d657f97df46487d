"""Writing the QC datasets: Parquet part files of bounded size, published whole or not at all.

Rows are buffered and flushed to part files as results arrive, so the driver never holds a catalogue's results
in memory. Parts go to a hidden staging folder inside ``DIR/qc``; only when the run completes does the staging
folder replace the previous datasets (a rename on the same file system). A run that dies leaves the previous
results untouched and, after the cleanup in ``__exit__``, no temporary files. Readers (pyarrow, DuckDB, Spark)
ignore names starting with ``.`` or ``_``, so even a killed run's leftovers never appear in a query.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from farm.schema import events_schema, tracks_schema

DATASETS = ("tracks", "events")


class _PartWriter:
    def __init__(self, folder: Path, schema: pa.Schema, rows_per_part: int) -> None:
        self.folder = folder
        self.schema = schema
        self.rows_per_part = rows_per_part
        self.buffer: list[dict] = []
        self.parts = 0
        self.rows = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, rows: list[dict]) -> None:
        self.buffer.extend(rows)
        if len(self.buffer) >= self.rows_per_part:
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        if not self.buffer and not (force and self.parts == 0):
            return
        table = pa.Table.from_pylist(self.buffer, schema=self.schema)
        name = f"part-{self.parts:05d}.parquet"
        tmp = self.folder / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, self.folder / name)
        self.rows += len(self.buffer)
        self.parts += 1
        self.buffer = []


class QCWriter:
    """Collect :class:`~farm.qc.TrackReport` results into ``DIR/qc/tracks`` and ``DIR/qc/events``.

    Use as a context manager; :meth:`commit` publishes the datasets, leaving the context without it discards
    the staging folder.

    Examples
    --------
    >>> with QCWriter(out_dir) as w:        # doctest: +SKIP
    ...     for report in reports:
    ...         w.add(report)
    ...     w.commit({"profile": "streaming"})
    """

    def __init__(self, out_dir: str | Path, *, rows_per_part: int = 50_000) -> None:
        self.qc_dir = Path(out_dir) / "qc"
        self.staging = self.qc_dir / f".staging-{uuid.uuid4().hex[:12]}"
        self.rows_per_part = rows_per_part
        self.committed = False
        self._writers: dict[str, _PartWriter] = {}

    def __enter__(self) -> "QCWriter":
        self.qc_dir.mkdir(parents=True, exist_ok=True)
        self._writers = {
            "tracks": _PartWriter(self.staging / "tracks", tracks_schema(), self.rows_per_part),
            "events": _PartWriter(self.staging / "events", events_schema(), self.rows_per_part),
        }
        return self

    def add(self, report) -> None:
        """Queue one track's row and its findings."""
        self._writers["tracks"].add([report.row])
        self._writers["events"].add(report.events)

    @property
    def tracks_written(self) -> int:
        w = self._writers["tracks"]
        return w.rows + len(w.buffer)

    def commit(self, run_info: dict | None = None) -> Path:
        """Flush, then replace the previous datasets by this run's in one rename each."""
        for w in self._writers.values():
            w.flush(force=True)  # an empty dataset still gets one part file carrying the schema
        if run_info is not None:
            tmp = self.staging / ".run.json.tmp"
            tmp.write_text(json.dumps(run_info, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, self.staging / "run.json")
        trash = self.qc_dir / f".old-{uuid.uuid4().hex[:12]}"
        trash.mkdir()
        for name in (*DATASETS, "run.json"):
            old = self.qc_dir / name
            if old.exists():
                os.replace(old, trash / name)
            new = self.staging / name
            if new.exists():
                os.replace(new, old)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.committed = True
        return self.qc_dir

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
