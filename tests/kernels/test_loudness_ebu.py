"""Loudness meter against EBU Tech 3341 / 3342 conformance cases, pyloudnorm, and a NumPy reference.

The EBU cases are generated here from the tables in /work/shared/REFERENCE.md: 1 kHz sines, stereo
in phase, level = sine peak in dBFS per channel. The tolerances are the published ones (+/-0.1 LU for
momentary, short-term and integrated; +/-1 LU for loudness range).
"""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from kernels.kweighting import KWEIGHTING_48K_SOS, kweighting_sos
from kernels.loudness import (
    LoudnessMeter,
    TickGrid,
    channel_weights,
    measure_loudness,
    window_sums,
)

EBU_TOL_LU = 0.1
LRA_TOL_LU = 1.0


def tone_segments(segments, sample_rate, *, channels=2, freq_hz=1000.0):
    """Concatenate 1 kHz sine segments ``[(seconds, peak_dbfs or None for silence), ...]``.

    The sine runs on one clock across segments; each segment gets its own amplitude.
    """
    lengths = [int(round(seconds * sample_rate)) for seconds, _ in segments]
    t = np.arange(sum(lengths)) / sample_rate
    amplitude = np.concatenate(
        [np.full(n, 0.0 if level is None else 10 ** (level / 20)) for n, (_, level) in zip(lengths, segments)]
    )
    mono = amplitude * np.sin(2 * np.pi * freq_hz * t)
    return np.tile(mono, (channels, 1))


def run_meter(x, sample_rate, *, block=48000, **kwargs):
    meter = LoudnessMeter(sample_rate, x.shape[0], **kwargs)
    for start in range(0, x.shape[1], block):
        meter.process(x[:, start : start + block])
    return meter.result()


# --- EBU Tech 3341 -----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_3341_cases_1_2_steady_tone(rate, level):
    r = run_meter(tone_segments([(20.0, level)], rate), rate)
    assert abs(r.integrated_lufs - level) <= EBU_TOL_LU
    # Every momentary and short-term value, the first windows included (they start at the first sample).
    assert np.all(np.abs(r.momentary_lufs - level) <= EBU_TOL_LU)
    assert np.all(np.abs(r.short_term_lufs - level) <= EBU_TOL_LU)


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize(
    "segments",
    [
        pytest.param([(10, -36), (60, -23), (10, -36)], id="case3"),
        pytest.param([(10, -72), (10, -36), (60, -23), (10, -36), (10, -72)], id="case4"),
        pytest.param([(20, -26), (20.1, -20), (20, -26)], id="case5"),
    ],
)
def test_3341_cases_3_4_5_gating(rate, segments):
    r = run_meter(tone_segments(segments, rate), rate, block=65536)
    assert abs(r.integrated_lufs - (-23.0)) <= EBU_TOL_LU


@pytest.mark.parametrize("rate", [48000, 44100])
def test_3341_case_6_five_channels(rate):
    levels = [-28.0, -28.0, -24.0, -30.0, -30.0]  # L R C Ls Rs
    x = np.concatenate([tone_segments([(20.0, lv)], rate, channels=1) for lv in levels])
    r = run_meter(x, rate)
    assert abs(r.integrated_lufs - (-23.0)) <= EBU_TOL_LU


def test_3341_case_9_short_term_after_3s():
    rate = 48000
    r = run_meter(tone_segments([(1.34, -20), (1.66, -30)] * 5, rate), rate)
    # short_term_lufs[i] ends at (i + 300) ticks, so every value is "after 3 s".
    assert r.short_term_lufs.size == 1201
    assert np.all(np.abs(r.short_term_lufs - (-23.0)) <= EBU_TOL_LU)


@pytest.mark.parametrize("i", range(20))
def test_3341_case_10_max_short_term(i):
    rate = 48000
    r = run_meter(tone_segments([(i * 0.15, None), (3.0, -23), (1.0, None)], rate), rate)
    assert abs(r.max_short_term_lufs - (-23.0)) <= EBU_TOL_LU


@pytest.mark.parametrize("i", range(20))
def test_3341_case_11_max_short_term_levels(i):
    rate = 48000
    r = run_meter(tone_segments([(i * 0.15, None), (3.0, -38 + i), (3 - 0.15 * i, None)], rate), rate)
    assert abs(r.max_short_term_lufs - (-38.0 + i)) <= EBU_TOL_LU


def test_3341_case_12_momentary_after_1s():
    rate = 48000
    r = run_meter(tone_segments([(0.18, -20), (0.22, -30)] * 25, rate), rate)
    after_1s = r.momentary_lufs[100 - 40 :]  # windows ending at 1.00 s and later
    assert np.all(np.abs(after_1s - (-23.0)) <= EBU_TOL_LU)


@pytest.mark.parametrize("i", range(20))
def test_3341_case_13_max_momentary(i):
    rate = 48000
    r = run_meter(tone_segments([(i * 0.02, None), (0.4, -23), (1.0, None)], rate), rate)
    assert abs(r.max_momentary_lufs - (-23.0)) <= EBU_TOL_LU


@pytest.mark.parametrize("i", range(20))
def test_3341_case_14_max_momentary_levels(i):
    rate = 48000
    r = run_meter(tone_segments([(i * 0.02, None), (0.4, -38 + i), (0.4 - 0.02 * i, None)], rate), rate)
    assert abs(r.max_momentary_lufs - (-38.0 + i)) <= EBU_TOL_LU


# --- EBU Tech 3342 (loudness range) -------------------------------------------------------------


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize(
    ("levels", "expected_lu"),
    [
        pytest.param([-20, -30], 10.0, id="case1"),
        pytest.param([-20, -15], 5.0, id="case2"),
        pytest.param([-40, -20], 20.0, id="case3"),
        pytest.param([-50, -35, -20, -35, -50], 15.0, id="case4"),
    ],
)
def test_3342_loudness_range(rate, levels, expected_lu):
    x = tone_segments([(20.0, lv) for lv in levels], rate)
    r = run_meter(x, rate, block=65536)
    assert abs(r.loudness_range_lu - expected_lu) <= LRA_TOL_LU


# --- conventions -------------------------------------------------------------------------------


def test_silence_and_short_input_conventions():
    r = measure_loudness(np.zeros((2, 48000 * 4)), 48000)
    assert r.integrated_lufs == -math.inf
    assert r.max_momentary_lufs == -math.inf and r.max_short_term_lufs == -math.inf
    assert r.loudness_range_lu == 0.0
    short = measure_loudness(tone_segments([(0.3, -20)], 48000), 48000)
    assert short.integrated_lufs == -math.inf  # no complete 400 ms block
    assert math.isnan(short.max_momentary_lufs) and math.isnan(short.max_short_term_lufs)
    assert short.momentary_lufs.size == 0 and short.short_term_lufs.size == 0
    below_gate = measure_loudness(tone_segments([(2.0, -75)], 48000), 48000)
    assert below_gate.integrated_lufs == -math.inf
    assert below_gate.max_momentary_lufs == pytest.approx(-75.0, abs=EBU_TOL_LU)


def test_series_lengths_and_read_only():
    r = measure_loudness(tone_segments([(3.5, -20)], 44100), 44100)
    assert r.tick_s == 0.01
    assert r.momentary_lufs.size == 350 - 39 and r.short_term_lufs.size == 350 - 299
    with pytest.raises(ValueError):
        r.momentary_lufs[0] = 0.0


def test_channel_weights_table():
    assert channel_weights(1) == (1.0,)
    assert channel_weights(2) == (1.0, 1.0)
    assert channel_weights(3) == (1.0, 1.0, 1.0)
    assert channel_weights(4) == (1.0, 1.0, 1.41, 1.41)
    assert channel_weights(5) == (1.0, 1.0, 1.0, 1.41, 1.41)
    assert channel_weights(6) == (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    assert channel_weights(7) == (1.0, 1.0, 1.0, 0.0, 1.0, 1.41, 1.41)
    assert channel_weights(8) == (1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.41, 1.41)
    for bad in (0, 9, 2.0, True):
        with pytest.raises(ValueError, match="channel"):
            channel_weights(bad)


def test_lfe_is_excluded_in_5_1():
    rate = 48000
    x = tone_segments([(5.0, -20)], rate, channels=6)
    loud_lfe = x.copy()
    loud_lfe[3] *= 4.0
    a = measure_loudness(x, rate).integrated_lufs
    b = measure_loudness(loud_lfe, rate).integrated_lufs
    assert a == pytest.approx(b, abs=1e-9)  # only rounding differs: the LFE never enters the sum


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        LoudnessMeter(48000, 0)
    with pytest.raises(ValueError, match="channel_weights"):
        LoudnessMeter(48000, 2, channel_weights=(1.0,))
    with pytest.raises(ValueError, match="channel_weights"):
        LoudnessMeter(48000, 2, channel_weights=(1.0, -1.0))
    with pytest.raises(ValueError, match="sample_rate"):
        LoudnessMeter(1000, 2)
    meter = LoudnessMeter(48000, 2)
    with pytest.raises(ValueError, match="shape"):
        meter.process(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="shape"):
        meter.process(np.zeros(10))


# --- independent oracles -----------------------------------------------------------------------


def music_like(rng, seconds, sample_rate, *, channels=2):
    """Pink-ish noise with a wandering envelope (quiet passages included) and sparse transients."""
    n = int(seconds * sample_rate)
    spectrum = np.fft.rfft(rng.standard_normal((channels, n)), axis=-1)
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    spectrum /= np.sqrt(np.maximum(freqs, 30.0))
    noise = np.fft.irfft(spectrum, n, axis=-1)
    noise /= np.max(np.abs(noise))
    # Envelope: a new level every 0.5 s, -45..0 dB, smoothed over ~50 ms.
    steps = rng.uniform(-45.0, 0.0, size=int(np.ceil(seconds * 2)) + 1)
    env_db = np.repeat(steps, sample_rate // 2)[:n]
    kernel = np.hanning(int(0.05 * sample_rate))
    env = np.convolve(10 ** (env_db / 20), kernel / kernel.sum(), mode="same")
    x = 0.5 * noise * env
    for pos in rng.integers(0, n - sample_rate // 10, size=int(seconds)):
        decay = np.exp(-np.arange(sample_rate // 10) / (0.004 * sample_rate))
        x[:, pos : pos + decay.size] += rng.uniform(0.2, 0.6) * decay * rng.choice([-1, 1], size=(channels, 1))
    return x


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize("kind", ["noise", "music"])
def test_integrated_matches_pyloudnorm(rate, kind):
    rng = np.random.default_rng(11)
    seconds = 12.0  # a whole number of 100 ms steps, so both meters form the same gating blocks
    if kind == "noise":
        x = 0.1 * rng.standard_normal((2, int(seconds * rate)))
    else:
        x = music_like(rng, seconds, rate)
    # pyloudnorm's "DeMan" filter class re-designs the BS.1770 filters per rate from the same kind of
    # analog prototype (our own K-weighting derivation is independent of it), with one difference:
    # it keeps the RLB numerator at exactly [1, -2, 1] at every rate, as ffmpeg and libebur128 do,
    # while we keep the analog prototype's gain (so the response, and a 1 kHz tone's reading, match
    # 48 kHz). The two RLB filters then differ by the constant factor b0 of ours, an exact offset of
    # 20 log10(b0) dB: 0 at 48 kHz, -0.0039 dB at 44.1 kHz.
    offset_db = 20 * np.log10(kweighting_sos(rate)[1, 0])
    oracle = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(x.T) + offset_db
    ours = measure_loudness(x, rate).integrated_lufs
    # Measured agreement is about 3e-12 LU; 1e-6 LU leaves room for pyloudnorm's prototype constants
    # (rounded to about 12 digits) and summation order, while any real difference in filtering,
    # block boundaries or gating would show up far above it.
    assert ours == pytest.approx(oracle, abs=1e-6)


def test_momentary_matches_plain_numpy_reference():
    rate = 48000
    rng = np.random.default_rng(5)
    x = music_like(rng, 3.0, rate, channels=5)
    # Reference: the published biquads run with lfilter, weighted channel energies, one window at a time.
    b1, a1 = KWEIGHTING_48K_SOS[0, :3], KWEIGHTING_48K_SOS[0, 3:]
    b2, a2 = KWEIGHTING_48K_SOS[1, :3], KWEIGHTING_48K_SOS[1, 3:]
    y = scipy.signal.lfilter(b2, a2, scipy.signal.lfilter(b1, a1, x, axis=-1), axis=-1)
    weights = np.array(channel_weights(5))
    r = measure_loudness(x, rate)
    for end_tick in (40, 41, 137, 250, 300):
        end = end_tick * rate // 100
        window = y[:, end - int(0.4 * rate) : end]
        ref = -0.691 + 10 * np.log10(np.sum(weights * np.mean(window**2, axis=-1)))
        # Two float64 computations of the same sums: 1e-9 LU is many orders above their rounding.
        assert r.momentary_lufs[end_tick - 40] == pytest.approx(ref, abs=1e-9)


def test_tick_grid_is_exact_at_non_integer_tick_lengths():
    grid = TickGrid(22050)
    k = np.arange(1000)
    assert np.array_equal(grid.boundary(k), (k * 22050) // 100)
    for samples in (0, 1, 220, 221, 440, 441, 442, 22050, 10**9):
        count = grid.complete_ticks(samples)
        assert grid.boundary(count) <= samples < grid.boundary(count + 1)


def test_window_sums_has_no_cancellation():
    # A loud stretch followed by silence: every window inside the silence must sum to exactly 0,
    # which a global cumulative-sum difference does not guarantee.
    values = np.concatenate([np.full(1000, 1e6) + np.arange(1000) * 0.37, np.zeros(1000)])
    sums = window_sums(values, 40)
    ref = np.array([values[i : i + 40].sum() for i in range(values.size - 39)])
    np.testing.assert_allclose(sums, ref, rtol=1e-13, atol=0)
    assert np.all(sums[1000:] == 0.0)
