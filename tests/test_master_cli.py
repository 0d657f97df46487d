"""`farm master` end to end, as a person runs it: unmastered mixes in, masters, streaming files, plans and
before/after rows out; checked with our meters and with tools written by others (ffmpeg, flac, metaflac)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import soundfile as sf

from farm.master.presets import CURVE_CENTRES_HZ, TARGET_CURVES
from farm.synth.mixes import make_unmastered_release
from kernels.loudness import measure_loudness
from kernels.spectrum import band_levels_db, long_term_spectrum, mid_side
from kernels.truepeak import TruePeakMeter
from tests.test_cli import farm

# Four songs of 20 s at 48 kHz, at different mix levels (RMS dBFS), one problem each (dull, boomy, wide low
# end, quiet); and a single at 96 kHz (its streaming file is resampled to 48 kHz).
LEVELS = (-22.0, -27.0, -20.0, -30.0)


@pytest.fixture(scope="module")
def mixes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixes")
    album = make_unmastered_release(root / "album", seed=3, tracks=4, duration_s=20.0, sample_rate=48000,
                                    renderer="builtin", release_id="MIX-ALBUM", levels_db=LEVELS)
    single = make_unmastered_release(root / "single", seed=5, tracks=1, duration_s=12.0, sample_rate=96000,
                                     renderer="builtin", release_id="MIX-SINGLE", levels_db=(-24.0,))
    return album, single


@pytest.fixture(scope="module")
def mastered(mixes, tmp_path_factory):
    out = tmp_path_factory.mktemp("master")
    album, single = mixes
    r = farm("master", album, single, "--out", out, "--target", "spotify", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = ds.dataset(out / "qc" / "mastering", format="parquet").to_table().to_pylist()
    return out, rows, r


def _lufs(path: Path) -> float:
    x, sr = sf.read(path, always_2d=True, dtype="float64")
    return measure_loudness(x.T, sr).integrated_lufs


def _tp(path: Path) -> float:
    x, sr = sf.read(path, always_2d=True, dtype="float64")
    m = TruePeakMeter(sr, x.shape[1])
    m.process(x.T)
    return m.result().true_peak_dbtp


def _ffmpeg_ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) as ffmpeg's ebur128 filter reads them."""
    r = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true",
                        "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    summary = r.stderr[r.stderr.rfind("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak


def _shape(path: Path) -> np.ndarray:
    x, sr = sf.read(path, always_2d=True, dtype="float64")
    mid, side = mid_side(x.T)
    f, p = long_term_spectrum(np.concatenate([mid, side]), sr)
    b = band_levels_db(f, p, CURVE_CENTRES_HZ)[0]
    return b - np.mean(b[1:9])


def test_every_track_mastered_and_checked(mastered):
    out, rows, _ = mastered
    assert len(rows) == 5
    assert {r["status"] for r in rows} == {"mastered"}, [(r["title"], r["checks"]) for r in rows]
    for r in rows:
        assert r["new_clicks"] == 0 and r["new_clipping"] == 0
        assert abs(r["loudness_error_lu"]) <= 0.5


def test_album_loudest_at_target_peaks_under_ceiling_order_kept(mastered, requires_tool):
    requires_tool("ffmpeg")
    out, rows, _ = mastered
    album = sorted((r for r in rows if r["release_id"] == "MIX-ALBUM"), key=lambda r: r["track_number"])
    masters = [Path(r["master_path"]) for r in album]
    ours = [_lufs(p) for p in masters]
    theirs = [_ffmpeg_ebur128(p) for p in masters]
    # the loudest track lands on the target: 0.5 LU is the bar; our meter and ffmpeg agree to 0.1 LU
    assert max(ours) == pytest.approx(-14.0, abs=0.5)
    assert max(t[0] for t in theirs) == pytest.approx(-14.0, abs=0.5)
    # true peak at or under -1 dBTP with the QC's meter, and as ffmpeg reads it (ffmpeg's 192 kHz
    # resampling reads at most a few hundredths of a dB differently on music: it must not read over either)
    for p, (_, ff_tp) in zip(masters, theirs):
        assert _tp(p) <= -1.0 + 1e-9
        assert ff_tp <= -1.0 + 0.05, (p.name, ff_tp)
    # loudness order kept: the mix levels' order is the masters' order
    before = [r["before_integrated_lufs"] for r in album]
    assert np.argsort(before).tolist() == np.argsort(ours).tolist()
    # the quietest song stays clearly quieter than the loudest
    assert max(ours) - min(ours) > 3.0


def test_spectrum_moves_toward_the_target(mastered, mixes):
    out, rows, _ = mastered
    target = np.array(TARGET_CURVES["neutral"])
    target = target - np.mean(target[1:9])
    album_csv = mixes[0]
    srcs = {int(r["track_number"]): album_csv.parent / r["path"] for r in csv.DictReader(open(album_csv))}
    for r in rows:
        if r["release_id"] != "MIX-ALBUM":
            continue
        before = np.abs(_shape(srcs[r["track_number"]]) - target)[1:9]
        after = np.abs(_shape(Path(r["master_path"])) - target)[1:9]
        # the tone moves toward the curve on average over 63 Hz-8 kHz (by at least 0.5 dB: the EQ moves 70 %
        # of the way, bounded, so a track far off the curve moves a lot, one near it a little)
        assert after.mean() < before.mean() - 0.5 or before.mean() < 1.5, (r["title"], before, after)


def test_streaming_files_are_valid_tagged_flac_with_manifest(mastered, requires_tool):
    flac, metaflac = requires_tool("flac"), requires_tool("metaflac")
    out, rows, _ = mastered
    for release, rate in (("MIX-ALBUM", 48000), ("MIX-SINGLE", 48000)):
        rdir = out / "releases" / release
        manifest = json.loads((rdir / "manifest.json").read_text())
        assert manifest["checks"] == "pass" and manifest["upc"] == "" and manifest["release_id"] == release
        streaming = [f for f in manifest["deliverables"] if f["format"] == "streaming"]
        assert len(streaming) == sum(1 for r in rows if r["release_id"] == release)
        for f in streaming:
            path = rdir / f["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            assert subprocess.run([flac, "-t", "-s", str(path)], capture_output=True).returncode == 0
            info = sf.info(path)
            assert (info.samplerate, info.subtype) == (rate, "PCM_24")
            tags = subprocess.run([metaflac, "--export-tags-to=-", str(path)], capture_output=True,
                                  text=True).stdout
            assert f"ISRC={f['isrc']}" in tags and "TITLE=" in tags and f"TRACKNUMBER={f['track']}" in tags
            assert _tp(path) <= -1.0 + 1e-9  # after resampling 96 -> 48 kHz too
        for f in manifest["masters"]:
            info = sf.info(rdir / f["path"])
            assert info.subtype == "FLOAT"
    assert sf.info(next((out / "releases" / "MIX-SINGLE" / "masters").iterdir())).samplerate == 96000


def test_plan_explains_and_an_edited_plan_is_applied(mastered, tmp_path):
    out, rows, _ = mastered
    plan_path = out / "releases" / "MIX-ALBUM" / "plan.json"
    plan = json.loads(plan_path.read_text())
    for t in plan["tracks"]:
        for stage in ("highpass", "eq", "dynamics", "stereo", "loudness", "limiter"):
            assert t[stage]["reason"], (t["title"], stage)
    wide = next(t for t in plan["tracks"] if t["title"].startswith("wide-low"))
    assert wide["stereo"]["mono_below_hz"] == 150.0  # its bass is in anti-phase: made mono
    # an engineer turns track 1 down to -17 LUFS and keeps its dynamics
    plan["tracks"][0]["loudness"]["target_lufs"] = -17.0
    edited = tmp_path / "plan.json"
    edited.write_text(json.dumps(plan))
    out2 = tmp_path / "out"
    r = farm("master", "--plan", edited, "--out", out2, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    new = ds.dataset(out2 / "qc" / "mastering", format="parquet").to_table().to_pylist()
    first = next(x for x in new if x["track_number"] == 1)
    assert first["target_lufs"] == -17.0
    assert _lufs(Path(first["master_path"])) == pytest.approx(-17.0, abs=0.5)


def test_a_release_that_fails_qc_is_held_then_forced(tmp_path):
    root = tmp_path / "rel"
    manifest = make_unmastered_release(root, seed=7, tracks=2, duration_s=12.0, sample_rate=44100,
                                       renderer="builtin", release_id="BROKEN")
    bad = root / next(csv.DictReader(open(manifest)))["path"]
    x, sr = sf.read(bad, always_2d=True)
    x[int(5.0 * sr):int(5.08 * sr)] = 0.0  # an 80 ms dropout at 5.000 s
    sf.write(bad, x, sr, subtype="PCM_24")
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    out = tmp_path / "out"
    r = farm("master", manifest, "--out", out, timeout=600)
    assert r.returncode == 2
    hold = (out / "releases" / "BROKEN" / "HOLD.txt").read_text()
    assert "dropout at 0:05.000" in hold, hold
    assert "held" in r.stdout and not (out / "releases" / "BROKEN" / "masters").exists()
    rows = ds.dataset(out / "qc" / "mastering", format="parquet").to_table().to_pylist()
    assert {x["status"] for x in rows} == {"held"}
    r = farm("master", manifest, "--out", out, "--force", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = ds.dataset(out / "qc" / "mastering", format="parquet").to_table().to_pylist()
    assert {x["status"] for x in rows} == {"mastered"} and all(x["forced"] for x in rows)
    assert json.loads((out / "releases" / "BROKEN" / "plan.json").read_text())["forced"] is True
    assert not (out / "releases" / "BROKEN" / "HOLD.txt").exists()
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before  # the source is never changed


def test_bad_options_are_one_line_errors(mixes, tmp_path):
    album, _ = mixes
    for args, msg in ((("--target", "spotfy"), "neither a built-in preset"),
                      (("--amount", "150"), "--amount 150.0 must lie in 0..100"),
                      (("--eq", "fancy"), "--eq 'fancy' must be one of"),
                      (("--reference", tmp_path / "nope.wav"), "file not found"),
                      (("--gpu", "maybe"), "--gpu 'maybe' must be auto, on or off")):
        r = farm("master", album, "--out", tmp_path / "o", *args)
        assert r.returncode == 1 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = farm("master", "--out", tmp_path / "o")
    assert r.returncode == 1 and "--plan" in r.stderr


def test_progress_lines_and_json_say_rates_failures_and_eta(mixes, tmp_path):
    """Progress at scale: tracks and audio hours per second, failures so far, ETA; the same as JSON lines."""
    _, single = mixes
    log = tmp_path / "progress.jsonl"
    r = farm("master", single, "--out", tmp_path / "o", "--log-json", log, "--formats", "streaming", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    end = json.loads(log.read_text().splitlines()[-1])
    assert end["event"] == "end" and end["analysed"] == end["mastered"] == end["tracks_to_master"] == 1
    assert end["failed"] == 0 and end["delivered"] == 1
    assert end["tracks_per_s"] > 0 and end["audio_h_per_s"] > 0 and end["eta_s"] == 0.0


def test_gpu_on_without_a_gpu_says_why(mixes, tmp_path):
    from kernels._xp import gpu_available

    if gpu_available()[0]:
        pytest.skip("this machine has a usable GPU: --gpu on would run")
    album, _ = mixes
    r = farm("master", album, "--out", tmp_path / "o", "--gpu", "on", "--workers", "1")
    assert r.returncode == 1 and "--gpu on, but" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_rerun_skips_delivered_releases_and_redo_forces(mastered, mixes):
    out, rows, _ = mastered
    album, single = mixes
    before = {p: p.stat().st_mtime_ns for p in (out / "releases").rglob("*.flac")}
    log = out.parent / "master-progress.jsonl"
    r = farm("master", album, single, "--out", out, "--target", "spotify", "--log-json", log, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resume: 2 release(s) already delivered" in r.stdout.replace("\n", " ")
    end = json.loads(log.read_text().splitlines()[-1])
    assert end["event"] == "end" and end["skipped"] == 2 and end["held"] == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "releases").rglob("*.flac")} == before  # nothing rewritten
    again = ds.dataset(out / "qc" / "mastering", format="parquet").to_table().to_pylist()
    assert sorted(x["track_id"] for x in again) == sorted(x["track_id"] for x in rows)  # rows carried, once
    assert ds.dataset(out / "qc" / "tracks").to_table().num_rows == len(rows)
    # another preset is another result: everything is done again
    other = farm("master", single, "--out", out, "--target", "apple", timeout=600)
    assert other.returncode == 0 and "resume:" not in other.stdout
