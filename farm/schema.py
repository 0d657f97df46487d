"""Parquet schemas of the QC datasets: the public contract documented in the README.

Loudness of silence (``-inf`` LUFS from the meters) and values that do not exist for a file (correlation of a
mono file, measurements of an error row) are stored as null, so a query's ``avg()`` is never poisoned by
infinities.
"""

from __future__ import annotations

import math

import pyarrow as pa

from farm.events import KINDS

# (name, type, unit or meaning) — the order is the column order in the files.
TRACK_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("track_id", pa.string(), "16 hex chars of sha256 of the resolved absolute path; stable across re-runs"),
    ("release_id", pa.string(), "release: manifest column, folder path relative to the input's parent, or file stem"),
    ("path", pa.string(), "the path as found (as given or as written in the manifest)"),
    ("track_number", pa.int32(), "position in the release"),
    ("title", pa.string(), "manifest title, else the file stem"),
    ("artist", pa.string(), "manifest artist"),
    ("isrc", pa.string(), "ISRC as given (normalised: no hyphens, upper case)"),
    ("upc", pa.string(), "UPC/EAN of the release as given"),
    ("container", pa.string(), "file format as libsndfile names it: WAV, FLAC, AIFF, OGG, MP3…"),
    ("sample_rate", pa.int32(), "Hz"),
    ("channels", pa.int16(), "count"),
    ("subtype", pa.string(), "sample encoding: PCM_16, PCM_24, FLOAT…"),
    ("duration_s", pa.float64(), "seconds"),
    ("integrated_lufs", pa.float64(), "BS.1770-4 gated programme loudness, LUFS (null: nothing above -70 LUFS)"),
    ("loudness_range_lu", pa.float64(), "EBU Tech 3342 LRA, LU"),
    ("max_momentary_lufs", pa.float64(), "highest 400 ms loudness, updated every 10 ms, LUFS"),
    ("max_short_term_lufs", pa.float64(), "highest 3 s loudness, updated every 10 ms, LUFS"),
    ("true_peak_dbtp", pa.float64(), "BS.1770 Annex 2 true peak, max over channels, dBTP"),
    ("sample_peak_dbfs", pa.float64(), "largest |sample|, dBFS"),
    ("rms_dbfs", pa.float64(), "RMS over all samples and channels, dBFS (full-scale square = 0, sine = -3.01)"),
    ("crest_db", pa.float64(), "sample_peak_dbfs - rms_dbfs, dB"),
    ("dc_offset", pa.float64(), "mean of the channel whose mean is largest in magnitude, linear full scale"),
    ("correlation", pa.float64(), "whole-track L/R correlation coefficient, -1..1 (null for mono)"),
    ("min_correlation", pa.float64(), "lowest L/R correlation over 400 ms windows every 100 ms (quiet windows skipped)"),
    ("head_silence_s", pa.float64(), "seconds before the first sample above the silence threshold"),
    ("tail_silence_s", pa.float64(), "seconds after the last sample above the silence threshold"),
    ("status", pa.string(), "ok | warn | fail | error: the worst finding's severity, or error if unreadable"),
    ("error", pa.string(), "why the track could not be measured (error rows), else empty"),
    ("profile", pa.string(), "QC profile name"),
    ("n_events", pa.int32(), "findings on this track (after the profile's severities)"),
    ("input_size", pa.int64(), "bytes of the input file when it was audited (with input_mtime_ns: the resume fingerprint)"),
    ("input_mtime_ns", pa.int64(), "modification time of the input when it was audited, ns since the epoch"),
]

EVENT_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("track_id", pa.string(), "the track the finding is on"),
    ("kind", pa.string(), "finding kind (see the list of kinds)"),
    ("start_s", pa.float64(), "seconds from the start of the file"),
    ("end_s", pa.float64(), "seconds from the start of the file"),
    ("channel", pa.int16(), "zero-based channel, -1 for all"),
    ("severity", pa.string(), "info | warn | fail, from the profile"),
    ("value", pa.float64(), "the measured magnitude, in the kind's unit"),
    ("detail", pa.string(), "one sentence for a person"),
]


def kind_count_columns() -> list[str]:
    """``n_<kind>`` columns, one per registered finding kind, in a stable order."""
    return [f"n_{k}" for k in sorted(KINDS)]


def tracks_schema() -> pa.Schema:
    """Schema of ``qc/tracks``: the fixed columns then one ``n_<kind>`` count per finding kind."""
    fields = [pa.field(n, t) for n, t, _ in TRACK_COLUMNS]
    fields += [pa.field(c, pa.int32()) for c in kind_count_columns()]
    return pa.schema(fields)


def events_schema() -> pa.Schema:
    """Schema of ``qc/events``."""
    return pa.schema([pa.field(n, t) for n, t, _ in EVENT_COLUMNS])


def clean_float(value) -> float | None:
    """Map ``nan``/``±inf`` (and None) to null for Parquet; keep finite numbers as float."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
