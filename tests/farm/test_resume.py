"""Resume: the index of what a previous run finished, and the writer that publishes as it goes."""

from __future__ import annotations

import os
from types import SimpleNamespace as TrackReport

import pyarrow.dataset as ds
import pytest

from farm.output import QCWriter
from farm.resume import ResumeIndex, fingerprint
from farm.schema import kind_count_columns, tracks_schema


def _report(i: int, *, status="ok", size=100, mtime=5, n_events=1, tag="") -> TrackReport:
    row = {f.name: None for f in tracks_schema()}
    row.update(track_id=f"{i:016x}", release_id="r", path=f"t{i}.wav", status=status, error=tag, profile="p",
               n_events=n_events, input_size=size, input_mtime_ns=mtime, **{c: 0 for c in kind_count_columns()})
    ev = [dict(track_id=row["track_id"], kind="dc_offset", start_s=0.0, end_s=1.0, channel=-1, severity="warn",
               value=0.01, detail=tag or "d")] * n_events
    return TrackReport(row=row, events=ev)


def _ids(tmp_path, name="tracks"):
    return sorted(ds.dataset(tmp_path / "qc" / name).to_table().column("track_id").to_pylist())


def test_index_knows_good_rows_by_fingerprint_and_profile(tmp_path):
    with QCWriter(tmp_path) as w:
        w.add(_report(0))
        w.add(_report(1, status="error"))
        w.commit()
    idx = ResumeIndex.load(tmp_path, "p")
    assert idx.rows == 2
    assert idx.is_done(f"{0:016x}", 100, 5)
    assert not idx.is_done(f"{0:016x}", 101, 5)  # size changed
    assert not idx.is_done(f"{0:016x}", 100, 6)  # mtime changed
    assert not idx.is_done(f"{1:016x}", 100, 5)  # an error row is retried
    assert not ResumeIndex.load(tmp_path, "other").is_done(f"{0:016x}", 100, 5)  # another profile: redo
    assert idx.existed(f"{1:016x}") and not idx.existed(f"{2:016x}")
    assert ResumeIndex.load(tmp_path / "nothing-here", "p").rows == 0


def test_fingerprint_is_size_and_mtime(tmp_path):
    f = tmp_path / "a.wav"
    f.write_bytes(b"x" * 10)
    os.utime(f, ns=(1, 123_456_789))
    assert fingerprint(str(f)) == (10, 123_456_789)
    assert fingerprint(str(tmp_path / "missing.wav")) == (None, None)


def test_resume_publishes_as_it_goes_and_a_killed_run_keeps_its_progress(tmp_path):
    with QCWriter(tmp_path) as w:
        w.add(_report(0))
        w.commit()
    idx = ResumeIndex.load(tmp_path, "p")
    with pytest.raises(RuntimeError):
        with QCWriter(tmp_path, resume=idx, rows_per_part=2) as w:
            for i in (1, 2, 3):
                w.add(_report(i))
            raise RuntimeError("driver killed")
    # the new tracks were published (two in a full part, the third flushed on the way out); the old row kept
    assert _ids(tmp_path) == [f"{i:016x}" for i in range(4)]
    assert _ids(tmp_path, "events") == [f"{i:016x}" for i in range(4)]
    assert not [p for p in (tmp_path / "qc").rglob(".*") if p.is_file()]


def test_replaced_rows_never_duplicate(tmp_path):
    with QCWriter(tmp_path) as w:
        for i in range(3):
            w.add(_report(i, tag="old"))
        w.commit()
    idx = ResumeIndex.load(tmp_path, "p")
    # a run that dies before publishing the replacements leaves the old rows, never two
    with pytest.raises(RuntimeError):
        with QCWriter(tmp_path, resume=idx) as w:
            w.add(_report(1, size=999, tag="new"))
            raise RuntimeError("killed")
    assert _ids(tmp_path) == [f"{i:016x}" for i in range(3)]
    with QCWriter(tmp_path, resume=idx) as w:
        w.add(_report(1, size=999, tag="new"))
        w.add(_report(7, tag="new"))
        w.commit()
    t = ds.dataset(tmp_path / "qc" / "tracks").to_table().to_pylist()
    assert sorted(r["track_id"] for r in t) == [f"{i:016x}" for i in (0, 1, 2, 7)]
    assert {r["track_id"]: r["error"] for r in t}[f"{1:016x}"] == "new"
    ev = ds.dataset(tmp_path / "qc" / "events").to_table().to_pylist()
    assert sorted(e["track_id"] for e in ev) == [f"{i:016x}" for i in (0, 1, 2, 7)]
    assert {e["track_id"]: e["detail"] for e in ev}[f"{1:016x}"] == "new"


def test_orphan_findings_are_removed_at_start(tmp_path):
    with QCWriter(tmp_path) as w:
        w.add(_report(0))
        w.commit()
    # a run killed between a flush's findings part and its tracks part: findings of a track with no row
    with QCWriter(tmp_path, resume=ResumeIndex.load(tmp_path, "p")) as w:
        w.add(_report(5))
        w.commit()
    new = [p for p in (tmp_path / "qc" / "tracks").glob("*.parquet") if p.stem.count("-") == 3]
    assert len(new) == 1 and (tmp_path / "qc" / "events" / new[0].name).exists()
    new[0].unlink()  # as if the process died right after writing the findings' part
    assert f"{5:016x}" in _ids(tmp_path, "events")
    with QCWriter(tmp_path, resume=ResumeIndex.load(tmp_path, "p")) as w:
        w.commit()
    assert _ids(tmp_path, "events") == [f"{0:016x}"] and _ids(tmp_path) == [f"{0:016x}"]
