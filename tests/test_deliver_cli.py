"""`farm master --formats streaming,hires,cd,vinyl,cassette` end to end, as the deliverables issue's "done when":
an album of five songs with ISRCs and a UPC, one at 96 kHz and one with a wide, out-of-phase bass; every file
written, every check passed, the DDP and the CUE/WAV the same disc, the vinyl sides mono in the low end; and
checked with tools written by others (flac, metaflac, cuebreakpoints, mediainfo)."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess

import numpy as np
import pyarrow.dataset as ds
import pytest
import scipy.signal
import soundfile as sf
import soxr

from farm.deliver.cdlayout import CD_PREGAP_FRAMES
from farm.deliver.cue import parse_cue
from farm.deliver.ddp import read_ddp
from farm.synth.mixes import make_unmastered_release
from tests.test_cli import farm

UPC = "5012345678900"  # EAN-13 with a valid check digit (5+3*0+1+3*2+3+3*4+5+3*6+7+3*8+9+3*0+0 -> 0)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    root = tmp_path_factory.mktemp("album5")
    manifest = make_unmastered_release(root, seed=3, tracks=5, duration_s=15.0, sample_rate=48000,
                                       renderer="builtin", release_id="ALBUM-5")
    rows = list(csv.DictReader(open(manifest)))
    # track 3 at 96 kHz (a "hi-res" master), the UPC on every row
    hi = root / rows[2]["path"]
    x, sr = sf.read(hi, always_2d=True)
    sf.write(hi, soxr.resample(x, sr, 96000, quality="VHQ"), 96000, subtype="PCM_24")
    for r in rows:
        r["upc"] = UPC
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert any(r["title"].startswith("wide-low") for r in rows)  # the song with the out-of-phase bass
    out = tmp_path_factory.mktemp("out")
    r = farm("master", manifest, "--out", out, "--formats", "streaming,hires,cd,vinyl,cassette", timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    rdir = out / "releases" / "ALBUM-5"
    return out, rdir, json.loads((rdir / "manifest.json").read_text()), r


def test_manifest_lists_every_deliverable_and_every_check_passed(delivered):
    out, rdir, manifest, r = delivered
    assert (manifest["release_id"], manifest["upc"], manifest["checks"]) == ("ALBUM-5", UPC, "pass")
    by_format: dict[str, list] = {}
    for d in manifest["deliverables"]:
        by_format.setdefault(d["format"], []).append(d)
        assert d["checks"] == "pass", d
        assert (rdir / d["path"]).exists()
        if d["format"] != "cd_ddp":
            assert hashlib.sha256((rdir / d["path"]).read_bytes()).hexdigest() == d["sha256"]
    assert len(by_format["streaming"]) == 5 and len(by_format["hires"]) == 1
    assert by_format["hires"][0]["track"] == 3
    assert {f: len(v) for f, v in by_format.items() if f.startswith("cd_")} == {"cd_ddp": 1, "cd_cue": 1, "cd_wav": 1}
    assert len(by_format["vinyl"]) >= 2 and len(by_format["cassette"]) == 2
    assert all(d["isrc"] for d in by_format["streaming"])
    checks = ds.dataset(out / "qc" / "deliverables").to_table().to_pylist()
    assert len(checks) > 50 and all(c["passed"] for c in checks), [c for c in checks if not c["passed"]]
    assert "delivered ALBUM-5" in r.stdout


def test_ddp_and_cue_describe_the_same_disc(delivered, requires_tool):
    cuebreakpoints = requires_tool("cuebreakpoints")
    _, rdir, manifest, _ = delivered
    cue_path = next(rdir / d["path"] for d in manifest["deliverables"] if d["format"] == "cd_cue")
    wav_path = next(rdir / d["path"] for d in manifest["deliverables"] if d["format"] == "cd_wav")
    ddp = read_ddp(rdir / "cd" / "ddp")
    # the CUE does not say where the last track ends: the WAV's length does
    cue = parse_cue(cue_path.read_text(encoding="utf-8"), program_frames=sf.info(wav_path).frames // 588).layout
    assert ddp.layout.upc == cue.upc == UPC
    assert len(ddp.layout.tracks) == len(cue.tracks) == 5
    for a, b in zip(ddp.layout.tracks, cue.tracks):
        # parse_cue gives disc frames (the CUE's times plus the 150-frame pregap its WAV leaves out)
        assert (a.index00, a.index01, a.end, a.isrc) == (b.index00, b.index01, b.end, b.isrc)
    # IMAGE.DAT after the pregap is the CUE's WAV, sample for sample
    wav, sr = sf.read(wav_path, dtype="int16")
    assert sr == 44100
    image = ddp.audio()
    assert np.array_equal(image[CD_PREGAP_FRAMES * 588:], wav)
    assert not image[:CD_PREGAP_FRAMES * 588].any()
    # cuetools reads the same track starts (INDEX 01, in M:SS.FF from the start of the WAV)
    out = subprocess.run([cuebreakpoints, str(cue_path)], capture_output=True, text=True, check=True).stdout.split()

    def frames(t: str) -> int:
        m, rest = t.split(":")
        s, f = rest.split(".")
        return (int(m) * 60 + int(s)) * 75 + int(f)

    assert [frames(t) for t in out] == [t.index01 - CD_PREGAP_FRAMES for t in cue.tracks[1:]]


def test_vinyl_sides_have_a_mono_low_end(delivered):
    _, rdir, manifest, _ = delivered
    sides = [d for d in manifest["deliverables"] if d["format"] == "vinyl"]
    for d in sides:
        x, sr = sf.read(rdir / d["path"], always_2d=True)
        info = sf.info(rdir / d["path"])
        assert info.subtype == "PCM_24"
        assert np.max(np.abs(x)) <= 10 ** (-1 / 20) + 1e-6  # sample peaks at or under -1 dBFS
        sos = scipy.signal.butter(4, 100.0, btype="lowpass", fs=sr, output="sos")
        low = scipy.signal.sosfiltfilt(sos, x, axis=0)
        side, mid = low[:, 0] - low[:, 1], low[:, 0] + low[:, 1]
        # below 100 Hz the side is at least 30 dB under the mid: mono bass (the 150 Hz LR4 crossover leaves
        # a little side just under it; -30 dB is inaudible and cuts no vertical groove to speak of)
        assert 10 * np.log10(np.sum(side**2) / np.sum(mid**2)) < -30.0, d["path"]


def test_files_pass_tools_written_by_others(delivered, requires_tool):
    flac, metaflac, mediainfo = requires_tool("flac"), requires_tool("metaflac"), requires_tool("mediainfo")
    _, rdir, manifest, _ = delivered
    for d in manifest["deliverables"]:
        path = rdir / d["path"]
        if d["format"] in ("streaming", "hires"):
            assert subprocess.run([flac, "-t", "-s", str(path)], capture_output=True).returncode == 0
            tags = subprocess.run([metaflac, "--export-tags-to=-", str(path)], capture_output=True,
                                  text=True).stdout
            for key in ("TITLE=", "ARTIST=", "ALBUM=", "TRACKNUMBER=", "TRACKTOTAL=5", f"ISRC={d['isrc']}",
                        f"BARCODE={UPC}", "REPLAYGAIN_TRACK_GAIN=", "REPLAYGAIN_ALBUM_GAIN=",
                        "REPLAYGAIN_TRACK_PEAK=", "REPLAYGAIN_ALBUM_PEAK="):
                assert key in tags, (key, path.name)
        if d["format"] in ("cd_wav", "vinyl", "cassette"):
            info = subprocess.run([mediainfo, "--Inform=Audio;%Format%|%SamplingRate%|%BitDepth%|%Channel(s)%",
                                   str(path)], capture_output=True, text=True).stdout.strip()
            fmt, rate, bits, ch = info.split("|")
            assert fmt == "PCM" and ch == "2"
            if d["format"] == "cd_wav":
                assert (rate, bits) == ("44100", "16")
            else:
                assert bits == "24"
