"""audit_track end to end in-process (no Ray): rows, findings, error rows, bounded blocks, untouched sources."""

import hashlib
import os

import numpy as np
import pytest
import soundfile as sf

from farm.catalogue import discover
from farm.profiles import load_profile
from farm.qc import QCConfig, audit_track
from farm.schema import events_schema, tracks_schema

SR = 48000


def _tone(seconds: float, peak_dbfs: float, *, sr: int = SR, channels: int = 2, freq: float = 997.0):
    t = np.arange(int(seconds * sr)) / sr
    x = 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * freq * t)
    # 20 ms fades: a tone that starts or stops at full level is a (correctly detected) start_cut / end_cut
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    return np.tile(x * ramp, (channels, 1))


def _write(path, x, sr=SR, subtype="PCM_24"):
    sf.write(str(path), x.T, sr, subtype=subtype)
    return path


def _audit(path, profile="streaming", **kw):
    (spec,) = discover([str(path)])
    return audit_track(spec, QCConfig(profile=load_profile(profile), **kw))


# The kinds of the QC audit itself; the defect detectors (kernels/detect) have their own tests.
AUDIT_KINDS = {"true_peak_over", "head_silence", "tail_silence", "dc_offset", "invalid_isrc", "invalid_upc",
               "format", "loudness", "non_finite"}


def _kinds(report):
    return sorted(e["kind"] for e in report.events if e["kind"] in AUDIT_KINDS)


def test_row_has_every_contract_column_and_sane_numbers(tmp_path):
    # 1 kHz stereo sine at -20 dBFS peak: Tech 3341 case 1 scaled, so integrated = -20.0 LUFS (+/- 0.1 from the table)
    f = _write(tmp_path / "tone.wav", _tone(10, -20.0))
    r = _audit(f)
    assert set(r.row) == set(tracks_schema().names)
    assert _kinds(r) == [] and r.row["error"] == ""
    assert r.row["n_false_stereo"] == 1  # the same tone in both channels is mono delivered as stereo
    assert r.row["integrated_lufs"] == pytest.approx(-20.0, abs=0.1)
    # a steady tone has no loudness range
    assert r.row["loudness_range_lu"] == pytest.approx(0.0, abs=0.1)
    assert r.row["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert r.row["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.05)
    assert r.row["rms_dbfs"] == pytest.approx(-23.01, abs=0.02)  # sine RMS is peak - 3.01 dB
    assert r.row["crest_db"] == pytest.approx(3.01, abs=0.02)
    assert r.row["correlation"] == pytest.approx(1.0, abs=1e-6)
    assert r.row["duration_s"] == pytest.approx(10.0)
    assert (r.row["sample_rate"], r.row["channels"], r.row["subtype"]) == (SR, 2, "PCM_24")


def test_findings_true_peak_silence_dc(tmp_path):
    x = _tone(6, -0.5)
    x = np.concatenate([np.zeros((2, 3 * SR)), x, np.zeros((2, int(2.5 * SR)))], axis=1) + 0.0
    x[:, 3 * SR : 9 * SR] += 0.03  # DC on the music only, leaving the silences digital
    x = np.clip(x, -1, 1)
    r = _audit(_write(tmp_path / "hot.wav", x, subtype="FLOAT"))
    assert _kinds(r) == ["dc_offset", "head_silence", "tail_silence", "true_peak_over"]
    ev = {e["kind"]: e for e in r.events}
    assert ev["head_silence"]["start_s"] == 0.0
    assert ev["head_silence"]["end_s"] == pytest.approx(3.0, abs=1e-3)
    assert ev["tail_silence"]["value"] == pytest.approx(2.5, abs=1e-3)
    assert ev["true_peak_over"]["value"] > -1.0
    assert r.row["n_head_silence"] == 1 and r.row["n_true_peak_over"] == 1
    assert r.status in ("warn", "fail")
    assert set(ev["dc_offset"]) == set(events_schema().names)


def test_codes_are_findings_not_crashes(tmp_path):
    f = _write(tmp_path / "t.wav", _tone(5, -20))
    (spec,) = discover([str(f)])
    import dataclasses

    spec = dataclasses.replace(spec, isrc="US-ABC-24-0001", upc="036000291453")  # 11-char ISRC, bad check digit
    r = audit_track(spec, QCConfig(profile=load_profile("distributor-ingest")))
    assert _kinds(r) == ["invalid_isrc", "invalid_upc"]
    assert r.status == "fail"
    assert r.row["integrated_lufs"] is not None  # measured all the same


def test_format_findings_for_mono_8k_8bit(tmp_path):
    x = _tone(3, -6, sr=8000, channels=1, freq=440)
    r = _audit(_write(tmp_path / "m.wav", x, sr=8000, subtype="PCM_U8"), profile="distributor-ingest")
    details = " ".join(e["detail"] for e in r.events if e["kind"] == "format")
    assert "8000 Hz" in details and "8-bit" in details and "mono" in details
    assert r.status == "fail"
    assert r.row["correlation"] is None and r.row["integrated_lufs"] is not None


def test_non_finite_float_file_is_fail_without_measurements(tmp_path):
    x = _tone(4, -10)
    x[1, SR : SR + 10] = np.nan
    r = _audit(_write(tmp_path / "nan.wav", x, subtype="FLOAT"))
    assert r.status == "fail"
    assert _kinds(r) == ["non_finite"]
    assert r.events[0]["value"] == 10
    assert r.events[0]["start_s"] == pytest.approx(1.0)
    for col in ("integrated_lufs", "true_peak_dbtp", "rms_dbfs", "sample_peak_dbfs"):
        assert r.row[col] is None


def test_float_far_above_full_scale_is_measured(tmp_path):
    r = _audit(_write(tmp_path / "hot.wav", _tone(4, +12.0), subtype="FLOAT"))
    assert r.row["sample_peak_dbfs"] == pytest.approx(12.0, abs=0.01)
    assert r.row["integrated_lufs"] == pytest.approx(12.0, abs=0.1)


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_16_bit_audio_exported_as_float_is_a_bit_depth_finding(tmp_path, subtype):
    rng = np.random.default_rng(5)
    x = np.round((_tone(4, -6) + 0.01 * rng.standard_normal((2, 4 * SR))) * 2**15) / 2**15
    r = _audit(_write(tmp_path / "f.wav", x, subtype=subtype))
    (finding,) = [e for e in r.events if e["kind"] == "bit_depth"]
    width = 32 if subtype == "FLOAT" else 64
    assert finding["value"] == 16 and f"in a {width}-bit float container" in finding["detail"]
    assert r.row["n_bit_depth"] == 1
    # the same audio with a float gain on it is on no grid: nothing to report
    r = _audit(_write(tmp_path / "g.wav", x * 0.9, subtype=subtype))
    assert [e for e in r.events if e["kind"] == "bit_depth"] == []


def test_unreadable_gives_error_row(tmp_path):
    f = tmp_path / "text.wav"
    f.write_text("this is not audio\n")
    r = _audit(f)
    assert r.status == "error" and r.row["error"]
    assert "Traceback" not in r.row["error"]
    assert r.row["integrated_lufs"] is None and r.events == []


def test_missing_file_gives_error_row(tmp_path):
    f = _write(tmp_path / "gone.wav", _tone(1, -20))
    (spec,) = discover([str(f)])
    os.remove(f)
    r = audit_track(spec)
    assert r.status == "error" and r.row["error"]


@pytest.mark.parametrize("sr, channels", [(44100, 2), (96000, 1), (48000, 6)])
def test_block_size_does_not_change_any_number(tmp_path, sr, channels):
    rng = np.random.default_rng(sr + channels)
    n = int(4.3 * sr)
    env = np.repeat(rng.uniform(0.05, 0.6, size=n // 4800 + 1), 4800)[:n]
    x = rng.standard_normal((channels, n)) * env * 0.3
    x[:, : sr // 2] = 0.0
    f = _write(tmp_path / "n.wav", x, sr=sr, subtype="FLOAT")
    rows = [_audit(f, block_frames=b).row for b in (256, 4099, 1 << 20)]
    for col in ("integrated_lufs", "loudness_range_lu", "max_momentary_lufs", "max_short_term_lufs",
                "true_peak_dbtp", "sample_peak_dbfs", "rms_dbfs", "dc_offset", "min_correlation",
                "head_silence_s", "tail_silence_s"):
        vals = [r[col] for r in rows]
        if vals[0] is None:
            assert all(v is None for v in vals), col
        else:
            # float64 accumulation in a different order: agreement to 1e-6 of a dB/LU is rounding, not drift
            assert max(vals) - min(vals) <= 1e-6, (col, vals)


def test_source_file_is_never_changed(tmp_path):
    f = _write(tmp_path / "t.flac", _tone(3, -3), subtype="PCM_16")
    before = (hashlib.sha256(f.read_bytes()).hexdigest(), os.stat(f).st_mtime_ns, sorted(os.listdir(tmp_path)))
    _audit(f)
    after = (hashlib.sha256(f.read_bytes()).hexdigest(), os.stat(f).st_mtime_ns, sorted(os.listdir(tmp_path)))
    assert before == after
