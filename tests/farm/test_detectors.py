"""farm.detectors: which findings another finding explains (one defect, one event), on lists and end to end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from farm.catalogue import discover
from farm.detectors import BURST_AT_STOP_S, DROPOUT_EDGE_S, REPEAT_JOINT_S, explain
from farm.qc import audit_track
from kernels.detect import Detection


def _d(kind, start, end=None, channel=-1):
    return Detection(kind, start, start if end is None else end, channel)


def _song(render_music, seed: int, seconds: float) -> np.ndarray:
    """A fluidsynth render (a writable copy), or skip the test saying why there is none."""
    from farm.synth import fluidsynth_available

    ok, reason = fluidsynth_available()
    if not ok:
        pytest.skip(f"realistic-music test needs fluidsynth: {reason}")
    return np.array(render_music(seed, 44100, seconds, style="pop", renderer="fluidsynth"))


def _local(tmp_path, y: np.ndarray, kinds: tuple[str, ...]) -> list[tuple[float, str]]:
    """Audit ``y`` (44.1 kHz, written as 24-bit WAV) and return its findings of ``kinds`` as sorted (start_s, kind)."""
    path = tmp_path / "song.wav"
    sf.write(str(path), y.T, 44100, subtype="PCM_24")
    report = audit_track(discover([str(path)])[0])
    return sorted((e["start_s"], e["kind"]) for e in report.events if e["kind"] in kinds)


def test_jumps_at_a_dropouts_edges_are_the_dropout():
    drop = _d("dropout", 6.0, 6.08, channel=1)
    found = [drop, _d("discontinuity", 6.0), _d("click", 6.08 + DROPOUT_EDGE_S * 0.9, channel=1),
             _d("discontinuity", 6.04), _d("click", 6.0, channel=0), _d("discontinuity", 6.09),
             _d("noise_burst", 6.0, 6.1)]
    kept = explain(found)
    assert drop in kept
    # inside the gap, on the other channel only, 10 ms after it, or another kind: still reported
    assert [(d.kind, d.start_s, d.channel) for d in kept if d.kind != "dropout"] == [
        ("discontinuity", 6.04, -1), ("click", 6.0, 0), ("discontinuity", 6.09, -1), ("noise_burst", 6.0, -1)]


def test_a_proven_repeat_is_reported_once():
    # the repeat detector's joint (sample-exact) and the impulse detector's view of the same jump: one event
    proven = Detection("discontinuity", 4.0, 4.0, -1, -20.0, "played again", repeated=900)
    found = [_d("discontinuity", 4.0 + REPEAT_JOINT_S * 0.5), _d("click", 4.0 - REPEAT_JOINT_S * 0.9, channel=1),
             _d("click", 4.01, channel=0), _d("noise_burst", 4.0, 4.001), proven]
    assert [(d.kind, d.start_s) for d in explain(found)] == [("click", 4.01), ("noise_burst", 4.0),
                                                             ("discontinuity", 4.0)]


def test_a_cross_channel_burst_is_set_aside_in_a_lossy_file():
    """A burst found only against what the other channel does not predict is a lossy codec's own noise where the
    channels were coded apart; a burst the plain pass found, and any burst in a file not flagged lossy, stay."""
    lossy = Detection("lossy_bandwidth", 0.0, 30.0, -1, 16000.0)
    across = Detection("noise_burst", 4.25, 4.27, 1, 18.9, "across", across=True)
    plain = Detection("noise_burst", 9.10, 9.20, 0, 14.0, "plain")
    assert explain([lossy, across, plain]) == [lossy, plain]
    assert explain([across, plain]) == [across, plain]


def test_without_dropouts_nothing_is_dropped():
    found = [_d("discontinuity", 1.0), _d("click", 2.0, channel=0)]
    assert explain(found) == found


@pytest.mark.parametrize(("channel", "at_s"), [(1, 6.0), (0, 9.3)])
def test_dropout_in_a_song_is_one_event_not_three(render_music, tmp_path, channel, at_s):
    # 80 ms of one channel of a rendered song set to exact zeros: the impulse detector sees the steps into and
    # out of the gap (before explain(), this song gave a discontinuity at one edge or both); the audit reports
    # the dropout once, and a click planted elsewhere is still reported
    sr = 44100
    y = _song(render_music, 305, 20.0)
    s = int(at_s * sr)
    y[channel, s : s + int(0.08 * sr)] = 0.0
    y[0, 15 * sr] += 0.3
    local = [(round(t, 3), k) for t, k in _local(tmp_path, y, ("dropout", "discontinuity", "click"))]
    assert local == [(at_s, "dropout"), (15.0, "click")]


def _drop(start, end, channel=-1, silence=-84.0):
    return Detection("dropout", start, end, channel, end - start, silence_dbfs=silence)


def test_burst_running_into_a_stop_to_digital_silence_is_the_stop():
    stop = _drop(6.0, 6.04, channel=0)
    near = _drop(9.0, 9.1, silence=-54.0)  # the near-silence tier: a burst switched off over a quiet passage
    found = [stop, near,
             Detection("noise_burst", 5.9, 6.0 - BURST_AT_STOP_S * 0.5, 0),  # runs into the stop
             Detection("noise_burst", 6.04 + BURST_AT_STOP_S * 0.5, 6.2, -1),  # starts where it ends
             Detection("noise_burst", 5.5, 5.6, 0),  # elsewhere
             Detection("noise_burst", 5.9, 6.0, 1),  # on the other channel
             Detection("noise_burst", 8.9, 9.0, -1)]  # ends where near silence begins: a real burst's end
    kept = [(d.kind, d.start_s, d.channel) for d in explain(found) if d.kind == "noise_burst"]
    assert kept == [("noise_burst", 5.5, 0), ("noise_burst", 5.9, 1), ("noise_burst", 8.9, -1)]


def test_dropout_in_a_limited_master_raises_no_burst(render_music, tmp_path):
    # A pop song pushed 14 dB into a true-peak limiter: its level holds between hits, so the music before a
    # stop to digital silence (37 ms of zeros in one channel) rose, held and then "fell" like noise switched on
    # and off (before explain(), a 48 ms noise_burst ending at the dropout's first sample).
    from kernels.limiter import limit_true_peak

    sr = 44100
    x = _song(render_music, 33, 25.0)
    y = limit_true_peak(x * 10 ** (14 / 20), sr, ceiling_dbtp=-0.1, release_ms=30).audio
    s = int(20.6264 * sr)
    y[0, s : s + int(0.037 * sr)] = 0.0
    local = [(round(t, 3), k) for t, k in _local(tmp_path, y, ("dropout", "discontinuity", "click", "noise_burst"))]
    assert local == [(round(s / sr, 3), "dropout")]


@pytest.mark.parametrize(("ms", "at_s"), [(1.0, 5.2), (3.0, 9.9)])
def test_glitch_of_a_few_milliseconds_in_a_song_is_a_noise_burst(render_music, tmp_path, ms, at_s):
    # a buffer glitch: 1-3 ms of white noise at -12 dBFS RMS over a verse of a rendered song, too long for a
    # click (1-5 samples) and, before session 16, too short for a burst (8 ms): nothing was reported. (In the
    # song's bright chorus the same glitch stands only 23-24 dB over the music's residual, under the 25 dB a
    # glitch needs, and is not found.)
    sr = 44100
    y = _song(render_music, 305, 20.0)
    s, n = int(at_s * sr), int(ms / 1000 * sr)
    y[:, s : s + n] += np.random.default_rng(4).standard_normal((2, n)) * 10 ** (-12 / 20)
    local = _local(tmp_path, np.clip(y, -1, 1), ("noise_burst", "click", "discontinuity"))
    assert len(local) == 1 and local[0][1] == "noise_burst" and abs(local[0][0] - at_s) <= 0.05


def test_a_repeated_run_in_a_song_is_one_discontinuity_at_its_joint(render_music, tmp_path):
    # 1234 samples of a rendered song played again at 7.5 s, through the whole audit: reported once, at the
    # joint, whether or not the impulse detector also heard the jump there
    sr = 44100
    y = _song(render_music, 306, 15.0)
    y = np.round(y * 2**23) / 2**23  # the 24-bit grid the file will hold
    p, lag = int(7.5 * sr), 1234
    y = np.concatenate([y[:, :p], y[:, p - lag :]], axis=1)
    path = tmp_path / "song.wav"
    sf.write(str(path), y.T, sr, subtype="PCM_24")
    report = audit_track(discover([str(path)])[0])
    splices = [e for e in report.events if e["kind"] in ("discontinuity", "click")]
    assert [(e["kind"], round(e["start_s"] * sr), e["channel"]) for e in splices] == [("discontinuity", p, -1)]
    assert "1234 samples before it play again" in splices[0]["detail"]
