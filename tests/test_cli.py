"""`farm` end to end in subprocesses, as a person runs it: real embedded Ray, real files, exit codes, Parquet."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import soundfile as sf

from farm.schema import events_schema, tracks_schema
from tests.farm.hostile import write_hostile_folder

FARM = [sys.executable, "-m", "farm.cli"]


def farm(*args, cwd=None, timeout=300):
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([*FARM, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _music(seconds: float, sr: int, seed: int) -> np.ndarray:
    from farm.synth.midi import generate_song
    from farm.synth.render import render_song

    return render_song(generate_song(seed, duration_s=seconds), sr, renderer="builtin")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("catalogue")
    a = root / "Artist A - First Album"
    b = root / "Various" / "Compilation ünï"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    sf.write(a / "01 Opening.wav", _music(8, 48000, 1).T * 0.8, 48000, subtype="PCM_24")
    sf.write(a / "02 Second.flac", _music(8, 44100, 2).T * 0.5, 44100, subtype="PCM_16")
    sf.write(b / "1 Song.aiff", _music(6, 44100, 3).T * 0.6, 44100, subtype="PCM_16")
    write_hostile_folder(root / "hostile")
    return root


@pytest.fixture(scope="module")
def qc_run(catalogue, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    before = _snapshot(catalogue)
    proc = farm("qc", catalogue, "--out", out, "--workers", 2)
    return proc, out, before


def _tracks(out: Path):
    return ds.dataset(out / "qc" / "tracks").to_table()


def test_mixed_folder_exit_code_and_rows(qc_run, catalogue):
    proc, out, _ = qc_run
    assert proc.returncode == 2, proc.stderr  # some inputs could not be read
    assert "Traceback" not in proc.stderr + proc.stdout
    t = _tracks(out)
    assert t.schema.equals(tracks_schema())
    audio_files = [p for p in catalogue.rglob("*") if p.is_file() and not p.name.endswith(".txt")]
    assert t.num_rows == len(audio_files)  # exactly one row per input track
    assert len(set(t.column("track_id").to_pylist())) == t.num_rows


def test_hostile_files_get_the_expected_outcome(qc_run, catalogue):
    proc, out, _ = qc_run
    rows = {Path(r["path"]).name: r for r in _tracks(out).to_pylist()}
    outcomes = _expected_hostile(catalogue)
    for name, outcome in outcomes.items():
        row = rows[name]
        if outcome == "error":
            assert row["status"] == "error", (name, row)
            assert row["error"] and "Traceback" not in row["error"]
            assert row["integrated_lufs"] is None
        elif outcome == "fail":
            assert row["status"] in ("fail", "error"), (name, row)
            assert row["integrated_lufs"] is None
        else:
            assert row["status"] != "error", (name, row["error"])


def _expected_hostile(catalogue: Path) -> dict[str, str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return {Path(k).name: v for k, v in write_hostile_folder(Path(d)).items()}


def test_events_dataset(qc_run):
    _, out, _ = qc_run
    ev = ds.dataset(out / "qc" / "events").to_table()
    assert ev.schema.equals(events_schema())
    kinds = set(ev.column("kind").to_pylist())
    assert "non_finite" in kinds or "format" in kinds
    ids = set(_tracks(out).column("track_id").to_pylist())
    assert set(ev.column("track_id").to_pylist()) <= ids


def test_sources_untouched_and_nothing_outside_out(qc_run, catalogue):
    proc, out, before = qc_run
    assert _snapshot(catalogue) == before
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []
    assert sorted(p.name for p in (out / "qc").iterdir()) == ["events", "run.json", "tracks"]


def test_plain_progress_and_summary_when_not_a_tty(qc_run):
    proc, out, _ = qc_run
    assert "qc " in proc.stderr and "tracks" in proc.stderr  # plain progress lines on a pipe
    assert "QC summary" in proc.stdout and "Parquet:" in proc.stdout
    assert str(out / "qc" / "tracks") in proc.stdout.replace("\n", "")


def test_rerun_gives_same_ids_and_values(qc_run, catalogue, tmp_path):
    _, out, _ = qc_run
    proc = farm("qc", catalogue / "Artist A - First Album", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = {r["track_id"]: r for r in _tracks(out).to_pylist()}
    for r in _tracks(tmp_path).to_pylist():
        assert first[r["track_id"]]["integrated_lufs"] == r["integrated_lufs"]


def test_manifest_input_codes_and_relative_paths(catalogue, tmp_path):
    man = catalogue / "Artist A - First Album" / "manifest.csv"
    with open(man, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["release_id", "upc", "release_title", "release_artist", "track_number", "isrc", "title", "artist", "path"])
        w.writerow(["REL-1", "036000291452", "First Album", "Artist A", 1, "USRC17607839", "Opening", "Artist A", "01 Opening.wav"])
        w.writerow(["REL-1", "", "", "", 2, "XX-BAD-1", "Second", "Artist A", "02 Second.flac"])
    try:
        proc = farm("qc", man, "--out", tmp_path, "--profile", "streaming")
    finally:
        man.unlink()
    assert proc.returncode == 0, proc.stderr
    rows = sorted(_tracks(tmp_path).to_pylist(), key=lambda r: r["track_number"])
    assert [r["title"] for r in rows] == ["Opening", "Second"]
    assert {r["release_id"] for r in rows} == {"REL-1"}
    assert rows[0]["n_invalid_isrc"] == 0 and rows[1]["n_invalid_isrc"] == 1
    assert rows[1]["upc"] == "036000291452"  # release-level field filled from the first row


def test_duckdb_query_from_readme(qc_run):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a test extra")
    _, out, _ = qc_run
    q = (
        f"SELECT status, count(*) AS n FROM read_parquet('{out}/qc/tracks/*.parquet') GROUP BY status ORDER BY status"
    )
    res = dict(duckdb.sql(q).fetchall())
    assert res.get("error", 0) >= 5


@pytest.mark.parametrize(
    "args, fragment",
    [
        ((), "Missing argument"),
        (("qc", "/no/such/input", "--out", "{tmp}"), "does not exist"),
        (("qc", "{tmp}", "--out", "{tmp}/o", "--profile", "no-such"), "neither a built-in"),
        (("qc", "{tmp}", "--out", "{tmp}/o", "--workers", "0"), "at least 1"),
        (("qc", "{tmp}", "--bogus"), "No such option"),
    ],
)
def test_usage_errors_exit_1_with_one_line(tmp_path, args, fragment):
    sf.write(tmp_path / "a.wav", np.zeros((4800, 2)), 48000)
    args = [a.replace("{tmp}", str(tmp_path)) for a in (args or ("qc",))]
    proc = farm(*args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_demo_runs_end_to_end(tmp_path):
    proc = farm("demo", "--out", tmp_path / "demo", timeout=600)
    assert proc.returncode == 0, proc.stderr
    t = _tracks(tmp_path / "demo")
    assert t.num_rows >= 6
    assert "QC summary" in proc.stdout
    ev = ds.dataset(tmp_path / "demo" / "qc" / "events").to_table().column("kind").to_pylist()
    # the demo plants a silent head, a hot master, a dropout, a click and bad codes; the audit must find each
    planted = {"head_silence", "true_peak_over", "dropout", "click", "invalid_isrc", "invalid_upc"}
    assert planted <= set(ev)
    # and nothing else: the rest of the demo is clean music, and a false alarm there is a bug
    assert set(ev) == planted
    # then it masters: the releases with planted defects are held, the album of unmastered mixes is mastered
    rows = ds.dataset(tmp_path / "demo" / "master" / "qc" / "mastering").to_table().to_pylist()
    by_release = {}
    for r in rows:
        by_release.setdefault(r["release_id"], set()).add(r["status"])
    assert by_release == {"DEMO-R1": {"held"}, "DEMO-R2": {"held"}, "DEMO-MIXES": {"mastered"}}
    assert "dropout at 0:09.000" in (tmp_path / "demo" / "master" / "releases" / "DEMO-R1" / "HOLD.txt").read_text()
    # and shows both runs as HTML reports
    assert (tmp_path / "demo" / "report" / "index.html").is_file()
    assert (tmp_path / "demo" / "master" / "report" / "index.html").is_file()


def test_rerun_resumes_and_redo_forces(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        sf.write(src / f"{i}.wav", _music(6, 44100, 10 + i).T * 0.5, 44100, subtype="PCM_16")
    out = tmp_path / "out"
    assert farm("qc", src, "--out", out).returncode == 0
    again = farm("qc", src, "--out", out, "--log-json", tmp_path / "p.jsonl")
    assert again.returncode == 0
    assert "resume: 3 of 3" in again.stderr.replace("\n", " ") and "nothing to audit" in again.stderr
    os.utime(src / "1.wav", ns=(1, 1_000_000_000))  # the input changed (its mtime): audited again
    third = farm("qc", src, "--out", out)
    assert "resume: 2 of 3" in third.stderr.replace("\n", " ")
    assert sorted(_tracks(out).column("path").to_pylist()) == sorted(str(src / f"{i}.wav") for i in range(3))
    redo = farm("qc", src, "--out", out, "--redo")
    assert "resume:" not in redo.stderr and redo.returncode == 0
    assert _tracks(out).num_rows == 3
