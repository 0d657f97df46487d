"""``DIR/qc/mastering`` (one before/after row per track of a ``farm master`` run) and ``DIR/qc/deliverables``
(one row per check of a written deliverable): Parquet, the public contract.

Written like the QC datasets (:mod:`farm.output`): part files in a hidden staging folder, published by a rename
when the run completes, so a killed run never leaves half a dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa

from farm.output import _PartWriter

# (name, type, meaning)
MASTERING_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("release_id", pa.string(), "the release"),
    ("track_id", pa.string(), "as in qc/tracks"),
    ("track_number", pa.int32(), "position in the release"),
    ("title", pa.string(), "track title"),
    ("path", pa.string(), "the source file as found"),
    ("status", pa.string(), "mastered | check_failed | held | error"),
    ("error", pa.string(), "why the track was held or could not be mastered, else empty"),
    ("forced", pa.bool_(), "mastered with --force despite failing QC"),
    ("qc_before_status", pa.string(), "QC status of the source: ok | warn | fail | error"),
    ("qc_after_status", pa.string(), "QC status of the master"),
    ("target_lufs", pa.float64(), "the plan's loudness, LUFS (null: fixed gain)"),
    ("ceiling_dbtp", pa.float64(), "the limiter's ceiling, dBTP (null: no limiter)"),
    ("before_integrated_lufs", pa.float64(), "source loudness, LUFS"),
    ("after_integrated_lufs", pa.float64(), "master loudness, LUFS"),
    ("loudness_error_lu", pa.float64(), "after minus target, LU (the check allows 0.5)"),
    ("before_true_peak_dbtp", pa.float64(), "source true peak, dBTP"),
    ("after_true_peak_dbtp", pa.float64(), "master true peak, dBTP (the QC's meter)"),
    ("before_loudness_range_lu", pa.float64(), "source LRA, LU"),
    ("after_loudness_range_lu", pa.float64(), "master LRA, LU"),
    ("after_sample_peak_dbfs", pa.float64(), "master sample peak, dBFS"),
    ("gain_db", pa.float64(), "gain before the limiter, dB"),
    ("eq_max_db", pa.float64(), "largest EQ move of the plan, dB"),
    ("compressed", pa.bool_(), "the plan compressed this track"),
    ("compression_max_db", pa.float64(), "largest gain reduction of the compressor, dB"),
    ("limiter_max_db", pa.float64(), "largest gain reduction of the limiter, dB"),
    ("mono_below_hz", pa.float64(), "bass made mono below this frequency (null: left alone)"),
    ("new_clicks", pa.int32(), "clicks in the master that the source did not have"),
    ("new_clipping", pa.int32(), "clipping in the master that the source did not have"),
    ("new_other", pa.int32(), "other new local defects (discontinuity, dropout, noise burst)"),
    ("checks", pa.string(), "what the QC after mastering found wrong, or that all checks passed"),
    ("master_path", pa.string(), "the 32-bit float WAV master"),
    ("master_sha256", pa.string(), "its SHA-256"),
    ("sample_rate", pa.int32(), "the master's rate (the source's), Hz"),
    ("duration_s", pa.float64(), "the master's duration, s"),
    ("wall_s", pa.float64(), "seconds spent mastering the track"),
]


DELIVERABLE_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("release_id", pa.string(), "the release"),
    ("format", pa.string(), "streaming | hires | cd | vinyl | cassette | lossy (the writer that made the check)"),
    ("path", pa.string(), "the file checked, relative to the release folder (empty: the format was not made)"),
    ("check", pa.string(), "what was checked: sample_rate, bits, true_peak, tags, image_matches_wav, ..."),
    ("passed", pa.bool_(), "whether it holds"),
    ("expected", pa.string(), "the spec's value"),
    ("measured", pa.string(), "what was read back from the file"),
    ("detail", pa.string(), "one sentence for a person"),
]


def mastering_schema() -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t, _ in MASTERING_COLUMNS])


class _DatasetWriter:
    """Rows into ``DIR/qc/<name>``, published whole by :meth:`commit` (one rename)."""

    def __init__(self, out_dir: str | Path, name: str, columns, *, rows_per_part: int = 50_000) -> None:
        self.qc_dir = Path(out_dir) / "qc"
        self.name = name
        self.columns = columns
        self.staging = self.qc_dir / f".staging-{name}-{uuid.uuid4().hex[:12]}"
        self.rows_per_part = rows_per_part
        self._writer: _PartWriter | None = None

    def __enter__(self):
        self.qc_dir.mkdir(parents=True, exist_ok=True)
        schema = pa.schema([pa.field(n, t) for n, t, _ in self.columns])
        self._writer = _PartWriter(self.staging / self.name, schema, self.rows_per_part)
        return self

    def add(self, row: dict) -> None:
        self._writer.add([{name: row.get(name) for name, _, _ in self.columns}])

    def commit(self, run_info: dict | None = None) -> Path:
        self._writer.flush(force=True)
        if run_info is not None:
            tmp = self.staging / self.name / ".run.json.tmp"
            tmp.write_text(json.dumps(run_info, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, self.staging / self.name / "_run.json")
        target = self.qc_dir / self.name
        trash = self.qc_dir / f".old-{self.name}-{uuid.uuid4().hex[:12]}"
        if target.exists():
            os.replace(target, trash)
        os.replace(self.staging / self.name, target)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        return target

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class MasteringWriter(_DatasetWriter):
    """Collect mastering rows into ``DIR/qc/mastering``; :meth:`commit` publishes them."""

    def __init__(self, out_dir: str | Path, *, rows_per_part: int = 50_000) -> None:
        super().__init__(out_dir, "mastering", MASTERING_COLUMNS, rows_per_part=rows_per_part)


class DeliverablesWriter(_DatasetWriter):
    """Collect deliverable checks into ``DIR/qc/deliverables`` (one row per check)."""

    def __init__(self, out_dir: str | Path, *, rows_per_part: int = 50_000) -> None:
        super().__init__(out_dir, "deliverables", DELIVERABLE_COLUMNS, rows_per_part=rows_per_part)
