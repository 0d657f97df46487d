"""The Parquet writer: part files of bounded size, published whole, nothing left behind."""

import pyarrow.dataset as ds
import pytest

from farm.output import QCWriter
from types import SimpleNamespace as TrackReport
from farm.schema import kind_count_columns, tracks_schema


def _report(i: int, n_events: int = 1) -> TrackReport:
    row = {f.name: None for f in tracks_schema()}
    row.update(track_id=f"{i:016x}", release_id="r", path=f"t{i}.wav", status="ok", error="", profile="p",
               n_events=n_events, **{c: 0 for c in kind_count_columns()})
    ev = [dict(track_id=row["track_id"], kind="dc_offset", start_s=0.0, end_s=1.0, channel=-1, severity="warn",
               value=0.01, detail="d")] * n_events
    return TrackReport(row=row, events=ev)


def test_parts_are_bounded_and_complete(tmp_path):
    with QCWriter(tmp_path, rows_per_part=3) as w:
        for i in range(10):
            w.add(_report(i))
        w.commit({"x": 1})
    tracks = tmp_path / "qc" / "tracks"
    parts = sorted(p.name for p in tracks.iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(4)]  # 3+3+3+1 rows
    t = ds.dataset(tracks).to_table()
    assert t.num_rows == 10 and t.schema.equals(tracks_schema())
    assert ds.dataset(tmp_path / "qc" / "events").to_table().num_rows == 10
    assert (tmp_path / "qc" / "run.json").is_file()
    # no staging or temporary names left anywhere
    assert not [p for p in (tmp_path / "qc").rglob("*") if p.name.startswith(".")]


def test_empty_events_dataset_still_has_schema(tmp_path):
    with QCWriter(tmp_path) as w:
        w.add(_report(0, n_events=0))
        w.commit()
    t = ds.dataset(tmp_path / "qc" / "events").to_table()
    assert t.num_rows == 0 and "kind" in t.column_names


def test_failed_run_keeps_previous_results(tmp_path):
    with QCWriter(tmp_path) as w:
        w.add(_report(0))
        w.commit()
    with pytest.raises(RuntimeError):
        with QCWriter(tmp_path, rows_per_part=1) as w:
            w.add(_report(1))
            w.add(_report(2))
            raise RuntimeError("worker exploded")
    t = ds.dataset(tmp_path / "qc" / "tracks").to_table()
    assert t.column("track_id").to_pylist() == [f"{0:016x}"]
    assert not [p for p in (tmp_path / "qc").rglob("*") if p.name.startswith(".")]


def test_rerun_replaces_not_appends(tmp_path):
    for _ in range(2):
        with QCWriter(tmp_path) as w:
            w.add(_report(0))
            w.add(_report(1))
            w.commit()
    assert ds.dataset(tmp_path / "qc" / "tracks").to_table().num_rows == 2
