"""Streaming, hi-res and MP3 deliverables (farm.deliver.files), checked with flac, metaflac, mediainfo and ffmpeg."""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from farm.deliver import files
from farm.deliver.files import (
    replaygain,
    streaming_rate,
    write_hires,
    write_lossy,
    write_streaming,
)
from farm.deliver.model import DeliveryRelease, DeliveryTrack
from farm.errors import DeliverableError
from kernels.limiter import limit_true_peak
from kernels.truepeak import TruePeakMeter

RATES = (44100, 48000, 96000, 88200)
DURATION_S = 4.0
CEILING_DBTP = -1.0
ISRCS = ("USRC17607839", "GBAYE0000351", "FRZ039800212", "DEA620900001")
UPC = "036000291452"


def _write_master(folder: Path, name: str, audio: np.ndarray, sr: int) -> str:
    path = folder / f"{name}.wav"
    sf.write(str(path), audio.T, sr, subtype="FLOAT")
    return str(path)


def _release(tracks, *, ceiling=CEILING_DBTP, upc=UPC) -> DeliveryRelease:
    return DeliveryRelease("R1", "Album: Test/One", "The Band", upc, "2024-05-01", ceiling, tuple(tracks))


def _track(number: int, path: str, sr: int, frames: int, *, title=None, isrc="") -> DeliveryTrack:
    return DeliveryTrack(number, title or f"Song {number}", "", isrc, path, sr, frames / sr)


@pytest.fixture(scope="module")
def album(render_music, tmp_path_factory):
    """Four rendered masters at 44.1 / 48 / 96 / 88.2 kHz, delivered as streaming (+WAV), hires and lossy."""
    folder = tmp_path_factory.mktemp("deliver_files")
    tracks = []
    for i, sr in enumerate(RATES, 1):
        audio = np.array(render_music(i, sr, DURATION_S))
        tracks.append(_track(i, _write_master(folder, f"m{i}", audio, sr), sr, audio.shape[1],
                             title=f"Song {i}?" if i == 2 else None, isrc=ISRCS[i - 1]))
    release = _release(tracks)
    out = folder / "release"
    results = {"streaming": write_streaming(release, out, wav=True), "hires": write_hires(release, out),
               "lossy": write_lossy(release, out)}
    return release, out, results


def _metaflac_tags(path: Path) -> dict[str, str]:
    text = subprocess.run(["metaflac", "--export-tags-to=-", str(path)], check=True, capture_output=True,
                          text=True).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def _ffmpeg_integrated_lufs(inputs: list[Path]) -> float:
    """ffmpeg's ebur128 integrated loudness (three decimals, from its metadata) of one file or a concatenation."""
    args = ["ffmpeg", "-hide_banner", "-nostats"]
    for p in inputs:
        args += ["-i", str(p)]
    chain = "".join(f"[{i}:a]" for i in range(len(inputs))) + f"concat=n={len(inputs)}:v=0:a=1,"
    chain += "ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.I:file=-"
    text = subprocess.run(args + ["-filter_complex", chain, "-f", "null", "-"], check=True, capture_output=True,
                          text=True).stdout
    return float(re.findall(r"lavfi\.r128\.I=(-?[\d.]+)", text)[-1])


def _gain_db(text: str) -> float:
    assert text.endswith(" dB")
    return float(text[:-3])


def test_streaming_rate_never_upsamples():
    assert [streaming_rate(r) for r in (32000, 44100, 48000, 88200, 96000, 176400, 192000, 352800)] == [
        32000, 44100, 48000, 44100, 48000, 44100, 48000, 44100]


def test_rates_frames_and_hires_only_above_48k(album):
    release, out, results = album
    want_rate = {1: 44100, 2: 48000, 3: 48000, 4: 44100}
    for t in release.tracks:
        for ext in ("flac", "wav"):
            info = sf.info(str(out / "streaming" / files.track_filename(t, ext)))
            master = sf.info(t.master_path)
            # soxr's length: n * out / in rounded half up (exact frames for 44.1/48 masters)
            frames = (2 * master.frames * want_rate[t.number] + master.samplerate) // (2 * master.samplerate)
            assert (info.samplerate, info.subtype, info.channels, info.frames) == (
                want_rate[t.number], "PCM_24", 2, frames)
    hires = sorted(p.name for p in (out / "hires").iterdir())
    assert hires == ["03 Song 3.flac", "04 Song 4.flac"]
    for t in release.tracks[2:]:
        info = sf.info(str(out / "hires" / files.track_filename(t, "flac")))
        assert (info.samplerate, info.subtype) == (t.sample_rate, "PCM_24")
        assert info.frames == sf.info(t.master_path).frames
    assert {d.track for d in results["hires"].deliverables} == {3, 4}
    assert files.track_filename(release.tracks[1], "flac") == "02 Song 2_.flac"  # '?' is not a safe file name


def test_every_check_passes_and_sha256(album):
    _release, out, results = album
    for fmt, result in results.items():
        failed = [c for c in result.checks if not c.passed]
        assert not failed, failed
        assert result.warnings == ()
        for d in result.deliverables:
            assert d.checks == "pass" and d.format == fmt
            assert d.sha256 == hashlib.sha256((out / d.path).read_bytes()).hexdigest()
            assert d.isrc == ISRCS[d.track - 1]
    names = {c.check for c in results["streaming"].checks}
    assert {"sample_rate", "bits", "channels", "frames", "audio_exact", "true_peak", "tags", "replaygain",
            "flac_md5", "wav_format_code", "wav_chunks", "codes"} <= names
    assert len(results["streaming"].deliverables) == 8 and len(results["lossy"].deliverables) == 4


def test_flac_test_and_metaflac_tags(album, requires_tool):
    requires_tool("flac")
    requires_tool("metaflac")
    release, out, _results = album
    paths = sorted((out / "streaming").glob("*.flac")) + sorted((out / "hires").glob("*.flac"))
    assert len(paths) == 6
    subprocess.run(["flac", "-t", "-s", *map(str, paths)], check=True)  # decodes and checks the STREAMINFO MD5
    rg = replaygain(release)
    for path in sorted((out / "streaming").glob("*.flac")):
        n = int(path.name[:2])
        tags = _metaflac_tags(path)
        assert tags == {"TITLE": f"Song {n}?" if n == 2 else f"Song {n}", "ARTIST": "The Band",
                        "ALBUM": "Album: Test/One", "ALBUMARTIST": "The Band", "TRACKNUMBER": str(n),
                        "TRACKTOTAL": "4", "ISRC": ISRCS[n - 1], "BARCODE": UPC, "DATE": "2024-05-01", **rg[n]}
    for path in sorted((out / "hires").glob("*.flac")):
        tags = _metaflac_tags(path)
        assert tags["ISRC"] == ISRCS[int(path.name[:2]) - 1]
        assert set(tags) == set(_metaflac_tags(out / "streaming" / path.name))


def test_wav_is_plain_pcm_with_nothing_after_data(album, requires_tool):
    requires_tool("mediainfo")
    _release, out, _results = album
    for path in sorted((out / "streaming").glob("*.wav")):
        text = subprocess.run(["mediainfo", "--Inform=Audio;%Format%|%CodecID%|%Format_Settings_Wrapping%|%BitDepth%",
                               str(path)], check=True, capture_output=True, text=True).stdout.strip()
        fmt, codec_id, _, bits = text.split("|")
        assert (fmt, codec_id, bits) == ("PCM", "1", "24"), text  # 1, not FFFE (extensible)
        general = subprocess.run(["mediainfo", str(path)], check=True, capture_output=True, text=True).stdout
        assert "Extensible" not in general
        raw = path.read_bytes()
        # RIFF / fmt (16 bytes, code 1) / data, and the data chunk ends the file (plus its pad byte if odd)
        assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE" and raw[12:16] == b"fmt "
        assert struct.unpack("<IH", raw[16:22]) == (16, 1)
        assert raw[36:40] == b"data"
        size = struct.unpack("<I", raw[40:44])[0]
        assert 44 + size + (size & 1) == len(raw) == struct.unpack("<I", raw[4:8])[0] + 8
        flac, _ = sf.read(str(path.with_suffix(".flac")), dtype="int32")
        wav, _ = sf.read(str(path), dtype="int32")
        assert np.array_equal(flac, wav)


def test_mp3_bitrate_and_tags(album, requires_tool):
    requires_tool("mediainfo")
    _release, out, _results = album
    paths = sorted((out / "lossy").glob("*.mp3"))
    assert len(paths) == 4
    for path in paths:
        text = subprocess.run(["mediainfo", "--Inform=Audio;%Format%|%BitRate%|%BitRate_Mode%|%SamplingRate%",
                               str(path)], check=True, capture_output=True, text=True).stdout.strip()
        n = int(path.name[:2])
        rate = {1: 44100, 2: 48000, 3: 48000, 4: 44100}[n]
        assert text == f"MPEG Audio|320000|CBR|{rate}", text
        # file size: 320 kbit/s for the duration, plus the ID3 tag and LAME's last partial frame
        duration_s = sf.info(str(path)).frames / rate
        assert path.stat().st_size * 8 / duration_s / 1000 == pytest.approx(320, rel=0.03)
        general = subprocess.run(["mediainfo", "--Inform=General;%Track%|%ISRC%|%Album%", str(path)], check=True,
                                 capture_output=True, text=True).stdout.strip()
        title = f"Song {n}?" if n == 2 else f"Song {n}"
        assert general == f"{title}|{ISRCS[n - 1]}|Album: Test/One"


def test_replaygain_against_ffmpeg(album, requires_tool):
    """Track gain = -18 - ffmpeg's integrated loudness of the written file, within 0.1 dB.

    0.1 dB: two BS.1770 meters agree to about 0.01 dB on music; the tag is rounded to 0.01 dB; ffmpeg's last
    metadata value comes at its last 100 ms frame, so it can miss up to one 400 ms block of about 36 (< 0.05 dB
    on this steady music). Measured: within 0.002 dB.
    """
    requires_tool("ffmpeg")
    release, out, _results = album
    rg = replaygain(release)
    for t in release.tracks:
        path = out / "streaming" / files.track_filename(t, "flac")
        assert _gain_db(rg[t.number]["REPLAYGAIN_TRACK_GAIN"]) == pytest.approx(
            -18.0 - _ffmpeg_integrated_lufs([path]), abs=0.1)
        # the peak tag is the linear true peak of the file, at or under the ceiling
        x, sr = sf.read(str(path), always_2d=True)
        meter = TruePeakMeter(sr, 2)
        meter.process(x.T)
        assert float(rg[t.number]["REPLAYGAIN_TRACK_PEAK"]) == pytest.approx(
            10 ** (meter.result().true_peak_dbtp / 20), abs=1e-6)  # 6 decimals in the tag
        assert float(rg[t.number]["REPLAYGAIN_TRACK_PEAK"]) <= 10 ** (CEILING_DBTP / 20) + 5e-7
    peaks = [float(v["REPLAYGAIN_TRACK_PEAK"]) for v in rg.values()]
    assert all(float(v["REPLAYGAIN_ALBUM_PEAK"]) == max(peaks) for v in rg.values())


def test_album_gain_is_the_concatenation_not_the_mean(render_music, tmp_path, requires_tool):
    requires_tool("ffmpeg")
    sr = 44100
    loud = np.array(render_music(11, sr, DURATION_S))
    quiet = np.array(render_music(12, sr, DURATION_S)) * 10 ** (-24 / 20)  # ~24 dB quieter
    tracks = [_track(1, _write_master(tmp_path, "loud", loud, sr), sr, loud.shape[1]),
              _track(2, _write_master(tmp_path, "quiet", quiet, sr), sr, quiet.shape[1])]
    release = _release(tracks)
    result = write_streaming(release, tmp_path / "out")
    assert all(c.passed for c in result.checks)
    rg = replaygain(release)
    track_gains = [_gain_db(rg[n]["REPLAYGAIN_TRACK_GAIN"]) for n in (1, 2)]
    album_gain = _gain_db(rg[1]["REPLAYGAIN_ALBUM_GAIN"])
    assert rg[2]["REPLAYGAIN_ALBUM_GAIN"] == rg[1]["REPLAYGAIN_ALBUM_GAIN"]
    # The quiet track's blocks fall under the relative gate: the album is about as loud as the loud track
    # (minus up to 3 dB), nowhere near the mean of the two track gains (12 dB away here).
    assert abs(album_gain - np.mean(track_gains)) > 6.0
    paths = [tmp_path / "out" / "streaming" / files.track_filename(t, "flac") for t in tracks]
    # Gating over the concatenation (ffmpeg's concat filter): 0.1 dB as for tracks; our pooled blocks leave
    # out the 3 windows that straddle the join, ffmpeg keeps them (< 0.05 dB here; measured 0.001 dB).
    assert album_gain == pytest.approx(-18.0 - _ffmpeg_integrated_lufs(paths), abs=0.1)


def test_true_peak_after_resampling_loud_96k_master(render_music, tmp_path):
    """A master limited to -1 dBTP at 96 kHz, driven 10 dB into the limiter: at 48 kHz its true peak stays
    at or under -1 dBTP (the check and an independent measurement with 8x oversampling)."""
    sr = 96000
    hot = np.array(render_music(21, sr, DURATION_S)) * 10 ** (10 / 20)
    master = limit_true_peak(hot, sr, ceiling_dbtp=-1.0).audio
    track = _track(1, _write_master(tmp_path, "hot", master, sr), sr, master.shape[1])
    release = _release([track], ceiling=-1.0)
    result = write_streaming(release, tmp_path / "out")
    assert all(c.passed for c in result.checks), [c for c in result.checks if not c.passed]
    x, rate = sf.read(str(tmp_path / "out" / "streaming" / "01 Song 1.flac"), always_2d=True)
    assert rate == 48000
    meter = TruePeakMeter(rate, 2, oversampling=8)
    meter.process(x.T)
    # 8x instead of the 4x of the check: 0.02 dB of grid error allowed (a peak between 4x points reads low)
    assert meter.result().true_peak_dbtp <= -1.0 + 0.02
    tp_check = next(c for c in result.checks if c.check == "true_peak")
    assert float(tp_check.measured.split()[0]) <= -1.0
    # turning down, when it happens, is reported and small (resampling moves inter-sample peaks by < 0.5 dB;
    # this master needed 0.077 dB)
    for w in result.warnings:
        assert "turned down" in w and float(w.split("turned down ")[1].split()[0]) < 0.5


def test_master_below_44k_keeps_its_rate_and_warns(render_music, tmp_path):
    sr = 32000
    audio = np.array(render_music(31, sr, DURATION_S))
    release = _release([_track(1, _write_master(tmp_path, "low", audio, sr), sr, audio.shape[1])])
    result = write_streaming(release, tmp_path / "out")
    assert sf.info(str(tmp_path / "out" / "streaming" / "01 Song 1.flac")).samplerate == 32000
    assert any("below 44.1 kHz" in w for w in result.warnings)
    assert write_hires(release, tmp_path / "out").deliverables == ()
    assert not (tmp_path / "out" / "hires").exists()


def test_deterministic_bytes(album, tmp_path):
    release, _out, results = album
    again = write_streaming(release, tmp_path, wav=True)
    assert [d.sha256 for d in again.deliverables] == [d.sha256 for d in results["streaming"].deliverables]
    again = write_lossy(release, tmp_path)
    assert [d.sha256 for d in again.deliverables] == [d.sha256 for d in results["lossy"].deliverables]


def test_codec_clip_check_reports_intersample_overs(tmp_path):
    """A square wave limited to -0.05 dBTP: MP3 coding drops its top harmonics and the decoded wave overshoots
    0 dBTP (Gibbs). The check fails and says by how much; the file is still written."""
    sr = 44100
    n = np.arange(3 * sr)
    square = np.tile(np.sign(np.sin(2 * np.pi * 997 * n / sr)) * 1.5, (2, 1))
    master = limit_true_peak(square, sr, ceiling_dbtp=-0.05).audio
    release = _release([_track(1, _write_master(tmp_path, "sq", master, sr), sr, master.shape[1])], ceiling=-0.05)
    result = write_lossy(release, tmp_path / "out")
    clip = next(c for c in result.checks if c.check == "codec_clip")
    assert not clip.passed
    tp = float(re.search(r"true peak (-?[\d.]+) dBTP", clip.measured).group(1))
    assert tp > 0.0
    assert result.deliverables[0].checks == "fail"
    assert (tmp_path / "out" / "lossy" / "01 Song 1.mp3").is_file()


def test_mp3_unavailable_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(files.sf, "available_formats", lambda: {"WAV": "WAV", "FLAC": "FLAC"})
    release = _release([_track(1, str(tmp_path / "none.wav"), 44100, 44100)])
    with pytest.raises(DeliverableError, match="cannot write MP3.*install"):
        write_lossy(release, tmp_path)


def test_unreadable_master_raises(tmp_path):
    release = _release([_track(1, str(tmp_path / "missing.wav"), 44100, 44100)])
    with pytest.raises(DeliverableError, match="does not exist"):
        write_streaming(release, tmp_path)


def test_invalid_isrc_is_a_failed_check_not_an_error(render_music, tmp_path):
    sr = 44100
    audio = np.array(render_music(31, sr, DURATION_S))
    release = _release([_track(1, _write_master(tmp_path, "m", audio, sr), sr, audio.shape[1], isrc="US-RC1-76-0783X")])
    result = write_streaming(release, tmp_path / "out")
    codes = next(c for c in result.checks if c.check == "codes")
    assert not codes.passed and "0783X" in codes.measured
    assert result.deliverables[0].checks == "fail"
