"""`farm report` and `farm inspect` on real runs: a QC run of generated songs with planted defects, an error row
and a title with HTML in it, and a mastering run; plus a 1,000-track report from synthesised Parquet rows."""

from __future__ import annotations

import csv
import re
import time
from html import escape
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from farm.report import build_report
from farm.report.cli import sparkline
from farm.report.svg import fmt_time
from farm.schema import events_schema, kind_count_columns, tracks_schema
from farm.synth.mixes import make_unmastered_release
from tests.test_cli import _music, farm

SR = 44100
HTML_TITLE = '<script>alert("x")</script> & <b>Bold</b>'
DROPOUT_S = (3.0, 0.06)
CLICK_S = 6.2  # at 5.5 s the music hides this click (the test passed on the dropout edge's click)


@pytest.fixture(scope="session")
def qc_report(tmp_path_factory):
    """A QC run (three songs: one with a dropout and a click, one titled with HTML; one text file named .wav)
    and its report."""
    root = tmp_path_factory.mktemp("report-cat")
    (root / "audio").mkdir()
    a = _music(8, SR, 11) * 0.7
    a[:, round(DROPOUT_S[0] * SR):round(sum(DROPOUT_S) * SR)] = 0.0
    a[0, round(CLICK_S * SR):round(CLICK_S * SR) + 2] += 0.25
    sf.write(root / "audio" / "01 defects.wav", a.T, SR, subtype="PCM_24")
    sf.write(root / "audio" / "02 html.wav", (_music(6, SR, 12) * 0.6).T, SR, subtype="PCM_24")
    (root / "audio" / "03 broken.wav").write_text("This is not audio.\n", "utf-8")
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["release_id", "track_number", "title", "path"])
        w.writerow(["REL <i>1</i>", 1, "Defects", "audio/01 defects.wav"])
        w.writerow(["REL <i>1</i>", 2, HTML_TITLE, "audio/02 html.wav"])
        w.writerow(["REL <i>1</i>", 3, "Broken", "audio/03 broken.wav"])
    out = tmp_path_factory.mktemp("report-qc")
    proc = farm("qc", root / "manifest.csv", "--out", out, "--workers", 2)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # the broken file is an error row
    r = farm("report", out)
    assert r.returncode == 0, r.stdout + r.stderr
    index = Path(r.stdout.strip().splitlines()[-1])
    assert index == out / "report" / "index.html"
    tracks = ds.dataset(out / "qc" / "tracks").to_table().to_pylist()
    events = ds.dataset(out / "qc" / "events").to_table().to_pylist()
    return out, index, tracks, events


@pytest.fixture(scope="session")
def master_report(tmp_path_factory):
    """A mastering run of two unmastered mixes (streaming deliverables) and its report."""
    root = tmp_path_factory.mktemp("report-mixes")
    manifest = make_unmastered_release(root, seed=3, tracks=2, duration_s=8.0, sample_rate=SR, renderer="builtin",
                                       release_id="MIX <A>", levels_db=(-22.0, -27.0))
    out = tmp_path_factory.mktemp("report-master")
    r = farm("master", manifest, "--out", out, "--formats", "streaming", "--workers", 2)
    assert r.returncode == 0, r.stdout + r.stderr
    # farm master does not record its inputs: the manifest's folder is given for the plots
    index = build_report(out, audio_roots=[manifest.parent])
    return out, index


def _track_pages(index: Path) -> dict[str, str]:
    return {p.stem: p.read_text("utf-8") for p in (index.parent / "tracks").glob("*.html")}


def test_index_names_every_track_and_escapes_titles(qc_report):
    _out, index, tracks, _ = qc_report
    html = index.read_text("utf-8")
    for t in tracks:
        assert escape(t["title"], quote=True) in html, t["title"]
    assert "<script>alert" not in html and "<b>Bold</b>" not in html and "<i>1</i>" not in html
    for page in _track_pages(index).values():
        assert "<script>alert" not in page and "<b>Bold</b>" not in page
    # the error row appears with its message; worst first: the error row is the first row of the table
    broken = next(t for t in tracks if t["status"] == "error")
    assert broken["error"] and escape(broken["error"], quote=True) in html
    first_row = re.search(r'<tbody><tr data-status="([a-z]+)" data-track-id="([0-9a-f]+)"', html)
    assert first_row.group(1) == "error"
    # no asset from the network
    for f in index.parent.rglob("*.html"):
        assert not re.search(r'(src|href)="(https?:)?//', f.read_text("utf-8")), f


def test_track_page_markers_at_the_findings_times(qc_report):
    _out, index, tracks, events = qc_report
    pages = _track_pages(index)
    defects = next(t for t in tracks if t["title"] == "Defects")
    kinds = {e["kind"] for e in events if e["track_id"] == defects["track_id"]}
    assert {"dropout", "click"} <= kinds, kinds
    for t in tracks:
        if t["status"] == "error":
            assert "Plots skipped" in pages[t["track_id"]]
            continue
        page = pages[t["track_id"]]
        for plot in ("waveform", "loudness", "spectrum", "correlation"):
            assert f'data-plot="{plot}"' in page
        svg = re.search(r'<svg class="plot waveform"[^>]*>', page).group(0)
        left, width = (float(re.search(fr'data-{k}="([^"]+)"', svg).group(1)) for k in ("left", "width"))
        duration = float(re.search(r'data-duration-s="([^"]+)"', svg).group(1))
        assert duration == pytest.approx(t["duration_s"], abs=1e-9)
        markers = re.findall(r'<g class="finding [a-z]+" data-time-s="([^"]+)" data-kind="([a-z_]+)">.*?'
                             r'<line x1="([0-9.]+)"', page)
        mine = sorted((e["start_s"], e["kind"]) for e in events if e["track_id"] == t["track_id"])
        got = sorted((float(m[0]), m[1]) for m in markers)
        # every finding has its marker: same kinds, same times (markers carry the time to the microsecond)
        assert [k for _, k in got] == [k for _, k in mine]
        assert [t_ for t_, _ in got] == pytest.approx([t_ for t_, _ in mine], abs=1e-6)
        for time_s, kind, x1 in markers:
            # the documented scale: x = left + t / duration * width (SVG coordinates written to 0.01 px)
            assert float(x1) == pytest.approx(left + float(time_s) / duration * width, abs=0.006)
        for e in events:
            if e["track_id"] == t["track_id"]:
                assert f">{fmt_time(e['start_s'])}<" in page  # seekable mm:ss.mmm in the findings table
    dropout = next(e for e in events if e["kind"] == "dropout" and e["track_id"] == defects["track_id"])
    assert dropout["start_s"] == pytest.approx(DROPOUT_S[0], abs=0.01)  # the marker sits where it was planted


def test_release_page_of_a_mastering_run(master_report):
    _out, index = master_report
    rel = (index.parent / "releases").glob("*.html")
    page = next(rel).read_text("utf-8")
    assert "MIX &lt;A&gt;" in page and "MIX <A>" not in page
    assert 'class="plot loudness-bars"' in page and 'class="plot tone"' in page
    assert page.count('class="bar after"') == 2 and page.count('class="bar before"') == 2
    assert "Spread (loudest minus quietest): before" in page
    assert "album mode" in page and "limiter" in page and "reason" in page
    assert "streaming/01" in page and 'badge pass' in page and 'badge fail' not in page
    # the track pages found the sources through the manifest's folder and drew their plots
    for p in _track_pages(index).values():
        assert 'data-plot="waveform"' in p and "Mastering" in p
    html = index.read_text("utf-8")
    assert "LUFS after" in html and html.count("mastered") >= 2


def test_missing_audio_is_a_note_not_a_crash(master_report, tmp_path):
    import json
    import shutil

    out, _ = master_report
    # a copy of the run whose record of its inputs is gone (as if the sources had moved): the audio is not found
    copy = tmp_path / "run"
    shutil.copytree(out / "qc", copy / "qc")
    info = json.loads((copy / "qc" / "run.json").read_text())
    info.pop("inputs", None)
    (copy / "qc" / "run.json").write_text(json.dumps(info))
    index = build_report(copy, dest=tmp_path / "report", max_track_pages=1)  # no --audio-root either
    pages = list((index.parent / "tracks").glob("*.html"))
    assert len(pages) == 1
    assert "Plots skipped: the audio file" in pages[0].read_text("utf-8")


def test_thousand_tracks_report_is_fast_and_small(tmp_path):
    n = 1000
    rng = np.random.default_rng(0)
    kinds = kind_count_columns()
    rows = []
    events = []
    for i in range(n):
        status = ["ok", "warn", "fail", "error"][int(rng.integers(0, 4)) if i % 7 == 0 else 0]
        tid = f"{i:016x}"
        row = {c.name: None for c in tracks_schema()}
        row.update({k: 0 for k in kinds})
        row.update(track_id=tid, release_id=f"REL-{i // 10:03d}", path=f"/gone/{i:04d}.wav", track_number=i % 10 + 1,
                   title=f"Song {i} <em>{i}</em>", status=status, duration_s=200.0, sample_rate=44100, channels=2,
                   container="WAV", subtype="PCM_24", error="unreadable: test" if status == "error" else "",
                   n_events=0, profile="distributor-ingest")
        if status != "error":
            row.update(integrated_lufs=float(rng.normal(-12, 3)), loudness_range_lu=float(rng.uniform(2, 14)),
                       true_peak_dbtp=float(rng.normal(-1, 1)))
        if status in ("warn", "fail"):
            for k in range(3):
                events.append({"track_id": tid, "kind": "click", "start_s": float(rng.uniform(0, 200)), "end_s": None,
                               "channel": 0, "severity": status, "value": 12.0, "detail": "a click"})
            row.update(n_events=3, n_click=3)
        rows.append(row)
    for name, schema, data in (("tracks", tracks_schema(), rows), ("events", events_schema(), events)):
        (tmp_path / "qc" / name).mkdir(parents=True)
        for e in data:
            e.setdefault("end_s", None)
        table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in data], schema=schema)
        pq.write_table(table, tmp_path / "qc" / name / "part-00000.parquet")
    t0 = time.perf_counter()
    index = build_report(tmp_path)
    wall = time.perf_counter() - t0
    files = list(index.parent.rglob("*"))
    size = sum(f.stat().st_size for f in files if f.is_file())
    index_size = index.stat().st_size
    print(f"\n1000-track report: {wall:.2f} s, {len(files)} files, {size / 1e6:.2f} MB in all, "
          f"index.html {index_size / 1e3:.0f} kB")
    assert len(list((index.parent / "tracks").glob("*.html"))) == n
    # generous bounds (the README gives the measured figures): a shared 2-core machine must not flake
    assert wall < 20.0
    assert index_size < 2_000_000


def test_inspect_prints_a_table_and_a_sparkline(qc_report, tmp_path):
    out, _, tracks, _ = qc_report
    defects = next(t for t in tracks if t["title"] == "Defects")
    src = next(Path(out).parent.glob("report-cat*")) / "audio" / "01 defects.wav"
    before = set(tmp_path.iterdir())
    r = farm("inspect", src, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LUFS" in r.stdout and "dropout" in r.stdout and "00:03.000" in r.stdout
    assert re.search("[▁▂▃▄▅▆▇█]{20,}", r.stdout)
    assert set(tmp_path.iterdir()) == before  # nothing written
    assert defects["integrated_lufs"] is not None
    bad = farm("inspect", src.parent / "03 broken.wav")
    assert bad.returncode == 2 and "error" in bad.stdout


def test_sparkline():
    assert sparkline([-30.0, -20.0, -10.0], width=3) == "▁▅█"
    assert sparkline([float("nan"), 1.0, 2.0], width=3) == " ▁█"
    assert len(sparkline(list(range(1000)), width=60)) == 60
