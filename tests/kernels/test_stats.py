"""Signal statistics against plain NumPy computations on the whole signal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels.stats import SignalStats

# The streaming sums and NumPy's whole-array reductions add the same numbers in different orders;
# 1e-9 (relative, or dB / correlation units) is far above float64 rounding over a few 1e5 samples.
TOL = 1e-9


def run(x, sample_rate, *, block=4096, **kwargs):
    stats = SignalStats(sample_rate, x.shape[0], **kwargs)
    for start in range(0, x.shape[1], block):
        stats.process(x[:, start : start + block])
    return stats.result()


def reference_window_min(x, sample_rate, *, window_s=0.4, hop_s=0.1, floor_dbfs=-50.0):
    """Plain loop: every complete window starting at a multiple of hop on the 10 ms sample grid."""
    best, best_at = math.nan, math.nan
    k = 0
    hop_ticks, width_ticks = round(hop_s * 100), round(window_s * 100)
    while True:
        start_tick = k * hop_ticks
        lo = start_tick * sample_rate // 100
        hi = (start_tick + width_ticks) * sample_rate // 100
        if hi > x.shape[1]:
            break
        a, b = x[0, lo:hi], x[1, lo:hi]
        rms_ok = all(10 * np.log10(np.mean(c**2)) >= floor_dbfs for c in (a, b) if np.any(c))
        if rms_ok and np.any(a) and np.any(b) and np.std(a) > 0 and np.std(b) > 0:
            corr = np.corrcoef(a, b)[0, 1]
            if math.isnan(best) or corr < best:
                best, best_at = corr, lo / sample_rate
        k += 1
    return best, best_at


def stereo_material(rng, seconds, sample_rate):
    """Correlated noise whose inter-channel relation drifts, a quiet gap, and a DC offset."""
    n = int(seconds * sample_rate)
    common = rng.standard_normal(n)
    side = rng.standard_normal(n)
    mix = np.linspace(-0.9, 0.9, n)  # from mostly anti-phase to mostly in phase
    left = 0.3 * (common + 0.3 * side)
    right = 0.3 * (mix * common + np.sqrt(1 - mix**2) * rng.standard_normal(n))
    x = np.stack([left, right]) + np.array([[0.01], [-0.003]])
    x[:, n // 3 : n // 3 + sample_rate // 2] *= 1e-4  # a near-silent half second (under the floor)
    return x


@pytest.mark.parametrize("rate", [44100, 22050, 48000])
def test_matches_numpy_reference(rate):
    rng = np.random.default_rng(rate)
    x = stereo_material(rng, 3.0, rate)
    r = run(x, rate)
    assert r.frames == x.shape[1]
    peak = 20 * np.log10(np.max(np.abs(x)))
    rms = 10 * np.log10(np.mean(x**2))
    assert r.sample_peak_dbfs == pytest.approx(peak, abs=TOL)
    assert r.rms_dbfs == pytest.approx(rms, abs=TOL)
    assert r.crest_db == pytest.approx(peak - rms, abs=TOL)
    np.testing.assert_allclose(r.channel_dc_offset, x.mean(axis=1), rtol=TOL, atol=0)
    assert r.dc_offset == pytest.approx(0.01, abs=0.005) and r.dc_offset == r.channel_dc_offset[0]
    assert r.correlation == pytest.approx(np.corrcoef(x[0], x[1])[0, 1], abs=TOL)
    best, best_at = reference_window_min(x, rate)
    assert r.min_correlation == pytest.approx(best, abs=TOL)
    assert r.min_correlation_at_s == pytest.approx(best_at, abs=1e-12)


def test_window_options_and_floor():
    rate = 44100
    rng = np.random.default_rng(1)
    x = stereo_material(rng, 2.0, rate)
    r = run(x, rate, correlation_window_s=0.2, correlation_hop_s=0.05, correlation_floor_dbfs=-20.0)
    best, best_at = reference_window_min(x, rate, window_s=0.2, hop_s=0.05, floor_dbfs=-20.0)
    assert r.min_correlation == pytest.approx(best, abs=TOL)
    assert r.min_correlation_at_s == pytest.approx(best_at, abs=1e-12)
    # A floor above every window's level leaves nothing to report.
    r = run(x, rate, correlation_floor_dbfs=0.0)
    assert math.isnan(r.min_correlation) and math.isnan(r.min_correlation_at_s)


def test_levels_of_standard_signals():
    rate = 48000
    t = np.arange(rate) / rate
    sine = np.sin(2 * np.pi * 1000 * t)
    r = run(np.stack([sine, sine]), rate)
    # Full-scale sine: RMS 1/sqrt(2) = -3.0103 dBFS, crest +3.0103 dB; 1e-6 dB allows the sampled
    # sine's mean square to differ from 1/2 by rounding only (1000 Hz is periodic in 48 samples).
    assert r.rms_dbfs == pytest.approx(-3.0103, abs=1e-4)
    assert r.sample_peak_dbfs == pytest.approx(0.0, abs=1e-6)
    assert r.correlation == pytest.approx(1.0, abs=TOL)
    square = np.sign(np.sin(2 * np.pi * 1000 * t + 0.1))
    r = run(np.stack([square, -square]), rate)
    assert r.rms_dbfs == pytest.approx(0.0, abs=TOL)
    assert r.correlation == pytest.approx(-1.0, abs=TOL)
    assert r.min_correlation == pytest.approx(-1.0, abs=TOL) and r.min_correlation_at_s == 0.0


def test_head_and_tail_silence():
    rate = 44100
    x = np.zeros((2, rate * 2))
    x[1, 4410] = 1e-3  # -60 dBFS: sound
    x[0, 70000] = -0.5
    x[0, 80000] = 1e-5  # -100 dBFS: below the -80 dBFS threshold, still silence
    r = run(x, rate, block=1000)
    assert r.head_silence_s == pytest.approx(4410 / rate, abs=1e-12)
    assert r.tail_silence_s == pytest.approx((x.shape[1] - 1 - 70000) / rate, abs=1e-12)
    r = run(x, rate, silence_threshold_dbfs=-110.0)
    assert r.tail_silence_s == pytest.approx((x.shape[1] - 1 - 80000) / rate, abs=1e-12)


def test_silence_conventions():
    rate = 44100
    r = run(np.zeros((2, rate)), rate)
    assert r.sample_peak_dbfs == -math.inf and r.rms_dbfs == -math.inf
    assert math.isnan(r.crest_db)
    assert math.isnan(r.correlation) and math.isnan(r.min_correlation)
    assert r.head_silence_s == r.tail_silence_s == 1.0
    assert r.dc_offset == 0.0
    empty = SignalStats(rate, 2).result()
    assert empty.frames == 0 and math.isnan(empty.rms_dbfs) and math.isnan(empty.dc_offset)


def test_mono_has_no_correlation():
    rate = 44100
    x = np.random.default_rng(0).standard_normal((1, rate)) * 0.1
    r = run(x, rate)
    assert math.isnan(r.correlation) and math.isnan(r.min_correlation)
    assert r.rms_dbfs == pytest.approx(10 * np.log10(np.mean(x**2)), abs=TOL)


def test_large_dc_offset_stays_accurate():
    # A quiet signal riding on a large DC offset: naive raw sums would cancel catastrophically.
    rate = 44100
    rng = np.random.default_rng(3)
    x = 0.5 + 1e-4 * rng.standard_normal((2, rate * 2))
    x[1] = 0.5 + 0.5 * (x[0] - 0.5) + 1e-4 * rng.standard_normal(rate * 2)
    r = run(x, rate, correlation_floor_dbfs=-100.0)
    assert r.correlation == pytest.approx(np.corrcoef(x[0], x[1])[0, 1], abs=1e-7)
    np.testing.assert_allclose(r.channel_dc_offset, x.mean(axis=1), rtol=1e-12, atol=0)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="correlation_window_s"):
        SignalStats(44100, 2, correlation_window_s=0.405)
    with pytest.raises(ValueError, match="correlation_hop_s"):
        SignalStats(44100, 2, correlation_hop_s=0.0)
    with pytest.raises(ValueError, match="channels"):
        SignalStats(44100, 0)
    with pytest.raises(ValueError, match="silence_threshold_dbfs"):
        SignalStats(44100, 2, silence_threshold_dbfs=float("nan"))
    with pytest.raises(ValueError, match="sample_rate"):
        SignalStats(0, 2)
    with pytest.raises(ValueError, match="shape"):
        SignalStats(44100, 2).process(np.zeros((3, 5)))
