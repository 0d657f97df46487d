"""Spectrum and stereo analysis against plain NumPy references and signals with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from kernels._xp import gpu_available
from kernels.eq import OCTAVE_CENTRES_HZ
from kernels.spectrum import (
    BandStereo,
    band_correlation,
    band_levels_db,
    crossover_sos,
    default_nfft,
    long_term_spectrum,
    mid_side,
    smooth_octave,
)

_GPU_OK, _GPU_REASON = gpu_available()


def pink_noise(n, seed, channels=2):
    """Unit-variance pink noise: white noise shaped by 1/sqrt(f) in one FFT (exactly -3 dB per octave)."""
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal((channels, n)), axis=-1)
    f = np.fft.rfftfreq(n)
    spec[:, 0] = 0.0
    spec[:, 1:] /= np.sqrt(f[1:])
    y = np.fft.irfft(spec, n=n, axis=-1)
    return y / y.std(axis=-1, keepdims=True)


def welch_reference(x, fs, nfft):
    """Welch PSD written out: Hann segments at 50 % overlap, |FFT|^2 averaged, one-sided density scaling."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nfft) / nfft)  # periodic Hann, as scipy's get_window
    hop = nfft // 2
    starts = range(0, x.shape[-1] - nfft + 1, hop)
    p = np.mean([np.abs(np.fft.rfft(x[:, s : s + nfft] * w, axis=-1)) ** 2 for s in starts], axis=0)
    p /= fs * np.sum(w**2)
    p[:, 1:-1] *= 2  # one-sided: fold negative frequencies (not DC, not Nyquist for even nfft)
    return np.fft.rfftfreq(nfft, 1 / fs), p


@pytest.mark.parametrize(("fs", "channels"), [(44100, 1), (48000, 2), (96000, 2)])
def test_long_term_spectrum_matches_reference(fs, channels):
    x = np.random.default_rng(fs).standard_normal((channels, fs)) + 0.1  # DC kept (no detrend)
    spec = long_term_spectrum(x, fs)
    freqs, power = spec  # unpacks like a tuple
    nfft = default_nfft(fs)
    assert nfft == (8192 if fs == 96000 else 4096)
    assert power.shape == (channels, nfft // 2 + 1) and isinstance(power, np.ndarray)
    f_ref, p_ref = welch_reference(x, fs, nfft)
    np.testing.assert_allclose(freqs, f_ref, rtol=1e-12)
    np.testing.assert_allclose(power, p_ref, rtol=1e-9)  # same sums in another order


def test_long_term_spectrum_total_power_is_mean_square():
    fs = 48000
    x = 0.3 * np.random.default_rng(2).standard_normal((2, 10 * fs))
    freqs, power = long_term_spectrum(x, fs)
    total_db = 10 * np.log10(power.sum(axis=-1) * freqs[1])
    # Welch weights samples by overlapping Hann^2 windows rather than uniformly; on 10 s of stationary noise
    # that changes the estimate by a few hundredths of a dB (measured 0.01-0.02).
    np.testing.assert_allclose(total_db, 10 * np.log10(np.mean(x**2, axis=-1)), atol=0.1)


def test_long_term_spectrum_short_input_and_validation():
    x = np.random.default_rng(0).standard_normal((1, 3000))
    freqs, power = long_term_spectrum(x, 48000)
    assert power.shape == (1, 2048 // 2 + 1)  # the largest power of two that fits: 2048
    with pytest.raises(ValueError, match="channels, samples"):
        long_term_spectrum(np.zeros(100), 48000)
    with pytest.raises(ValueError, match="nfft"):
        long_term_spectrum(x, 48000, nfft=1)


@pytest.mark.parametrize("fs", [44100, 48000])
def test_band_levels_of_pink_noise_are_flat(fs):
    x = pink_noise(10 * fs, seed=fs)
    freqs, power = long_term_spectrum(x, fs)
    levels = band_levels_db(freqs, power, OCTAVE_CENTRES_HZ)
    assert levels.shape == (2, len(OCTAVE_CENTRES_HZ))
    # Pink noise has equal power per octave. 1 dB: the 31.25 Hz band holds only ~2 bins of 10.8-11.7 Hz, so
    # its estimate is the noisiest and Hann leakage from the louder bins below lifts it (measured up to
    # +0.72 dB); the 16 kHz band loses the 4 % of its octave above 22.05 kHz at 44.1 kHz (-0.16 dB).
    # Flat means: every band within 1 dB of the mean of the bands.
    dev = levels - levels.mean(axis=1, keepdims=True)
    assert np.abs(dev).max() < 1.0
    # Above 100 Hz each band holds dozens of bins, and the spread is tighter (measured < 0.3 dB).
    assert np.abs(dev[:, 2:]).max() < 0.5


@pytest.mark.parametrize("fs", [44100, 48000])
@pytest.mark.parametrize("f0", [125.0, 1000.0, 4000.0])
def test_band_levels_of_sine_concentrate_in_its_band(fs, f0):
    t = np.arange(2 * fs) / fs
    x = 0.5 * np.sin(2 * np.pi * f0 * t)[None]
    freqs, power = long_term_spectrum(x, fs)
    levels = band_levels_db(freqs, power, OCTAVE_CENTRES_HZ)[0]
    k = OCTAVE_CENTRES_HZ.index(f0)
    # The band holds the sine's mean square (0.125, -9.03 dB): 0.05 dB covers the Welch weighting ripple
    # and the Hann sidelobes that fall outside the band.
    assert levels[k] == pytest.approx(10 * math.log10(0.125), abs=0.05)
    # A sine at a centre is half an octave from either edge (>= 3 bins at 125 Hz): Hann leakage is more than
    # 40 dB down there.
    assert np.delete(levels, k).max() < levels[k] - 40


def test_band_levels_edges_and_empty_bands():
    freqs = np.linspace(0, 24000, 4097)
    flat = np.ones((1, freqs.size))  # 1 unit per Hz
    centres = [1000.0, 4000.0, 40000.0]
    levels = band_levels_db(freqs, flat, centres, fraction=3)
    # A flat density integrates to the band width (edge bins counted by overlap), exactly.
    widths = np.array(centres[:2]) * (2 ** (1 / 6) - 2 ** (-1 / 6))
    np.testing.assert_allclose(levels[0, :2], 10 * np.log10(widths), atol=1e-9)
    assert levels[0, 2] == -np.inf  # above Nyquist: no bins
    assert band_levels_db(freqs, np.zeros(freqs.size), [1000.0]).tolist() == [[-np.inf]]
    with pytest.raises(ValueError, match="fraction"):
        band_levels_db(freqs, flat, centres, fraction=0)


def _smooth_reference(freqs, db, fraction):
    out = np.empty_like(db)
    half = 2 ** (1 / (2 * fraction))
    for i, f in enumerate(freqs):
        inside = (freqs >= f / half) & (freqs <= f * half)
        out[i] = 10 * np.log10(np.mean(10 ** (db[inside] / 10)))
    return out


@pytest.mark.parametrize("fraction", [1, 3, 6])
def test_smooth_octave_matches_reference(fraction):
    freqs = np.linspace(0, 24000, 1025)
    db = np.random.default_rng(fraction).normal(-40, 6, freqs.size)
    # Prefix sums vs direct means: rounding of a cumulative sum over ~1000 values, far below 1e-9 dB.
    np.testing.assert_allclose(smooth_octave(freqs, db, fraction=fraction), _smooth_reference(freqs, db, fraction),
                               atol=1e-9)
    two = np.stack([db, db - 3])  # any leading shape
    np.testing.assert_allclose(smooth_octave(freqs, two, fraction=fraction)[1],
                               smooth_octave(freqs, db, fraction=fraction) - 3, atol=1e-9)


def test_smooth_octave_flat_and_spike():
    freqs = np.linspace(0, 24000, 2049)
    np.testing.assert_allclose(smooth_octave(freqs, np.full(freqs.size, -20.0)), -20.0, atol=1e-9)
    db = np.full(freqs.size, -np.inf)
    k = 400  # 4687.5 Hz
    db[k] = 0.0
    smooth = smooth_octave(freqs, db, fraction=3)
    touched = np.flatnonzero(np.isfinite(smooth))
    # The spike reaches exactly the bins whose third-octave window contains it: f within f_k * 2^(+/- 1/6).
    lo, hi = freqs[k] / 2 ** (1 / 6), freqs[k] * 2 ** (1 / 6)
    assert freqs[touched].min() >= lo and freqs[touched].max() <= hi
    assert smooth[k] < 0.0  # spread out, lower than the spike


def test_mid_side():
    x = np.random.default_rng(0).standard_normal((2, 1000))
    mid, side = mid_side(x)
    assert mid.shape == side.shape == (1, 1000)
    # (L+R)/2 and (L-R)/2 each round once: reconstruction is exact to an ulp or two of |x| < 5 (~1e-15).
    np.testing.assert_allclose(mid + side, x[:1], rtol=0, atol=2e-15)
    np.testing.assert_allclose(mid - side, x[1:], rtol=0, atol=2e-15)
    np.testing.assert_array_equal(mid, 0.5 * (x[:1] + x[1:]))
    with pytest.raises(ValueError, match="stereo"):
        mid_side(x[:1])


@pytest.mark.parametrize("fs", [44100, 48000, 96000])
@pytest.mark.parametrize("fc", [80.0, 150.0, 2000.0, 8000.0])
def test_crossover_is_linkwitz_riley(fs, fc):
    low, high = crossover_sos(fs, fc)
    assert low.shape == high.shape == (2, 6) and not low.flags.writeable
    f = np.concatenate([np.geomspace(5, fs / 2 * 0.999, 2000), [fc]])
    h_low = scipy.signal.sosfreqz(low, worN=f, fs=fs)[1]
    h_high = scipy.signal.sosfreqz(high, worN=f, fs=fs)[1]
    # The defining LR4 properties: both halves -6.02 dB at the crossover, and low + high an allpass.
    assert 20 * np.log10(abs(h_low[-1])) == pytest.approx(-20 * math.log10(2), abs=1e-9)
    assert 20 * np.log10(abs(h_high[-1])) == pytest.approx(-20 * math.log10(2), abs=1e-9)
    assert np.abs(20 * np.log10(np.abs(h_low + h_high))).max() < 0.01  # measured ~1e-11 dB


def test_band_correlation_identical_and_inverted():
    fs = 48000
    noise = np.random.default_rng(0).standard_normal(3 * fs)
    same = band_correlation(np.stack([noise, noise]), fs)
    assert isinstance(same, BandStereo) and same.edges_hz == (150.0, 2000.0)
    # L = R: the products are the same numbers, so +1 and no side exactly (up to one rounding).
    np.testing.assert_allclose(same.correlation, 1.0, atol=1e-12)
    assert np.all(same.side_to_mid_db == -np.inf)
    inverted = band_correlation(np.stack([noise, -noise]), fs)
    np.testing.assert_allclose(inverted.correlation, -1.0, atol=1e-12)
    assert np.all(inverted.side_to_mid_db == np.inf)


def test_band_correlation_low_band_negated():
    fs = 48000
    t = np.arange(4 * fs) / fs
    low = np.sin(2 * np.pi * 40 * t) + np.sin(2 * np.pi * 55 * t + 1)
    mid = np.sin(2 * np.pi * 550 * t + 0.3) + np.sin(2 * np.pi * 700 * t)
    high = np.sin(2 * np.pi * 6000 * t) + np.sin(2 * np.pi * 9000 * t + 2)
    r = band_correlation(np.stack([low + mid + high, -low + mid + high]), fs)
    # The LR4 skirts (24 dB/octave) let each band hear its neighbours' tones ~30-50 dB down, which moves a
    # correlation of +/-1 by < 1e-3 (measured -0.99993, +0.99956, +0.99999).
    np.testing.assert_allclose(r.correlation, [-1.0, 1.0, 1.0], atol=2e-3)
    assert r.side_to_mid_db[0] > 30 and r.side_to_mid_db[1] < -30 and r.side_to_mid_db[2] < -30


def test_band_correlation_uncorrelated_and_edges():
    fs = 44100
    x = np.random.default_rng(9).standard_normal((2, 5 * fs))
    r = band_correlation(x, fs, edges_hz=(100.0, 1000.0, 5000.0))
    assert r.correlation.shape == r.side_to_mid_db.shape == (4,)
    # Independent noise: correlation ~ N(0, 1/N_eff); the narrowest band (0-100 Hz, ~200 Hz of two-sided
    # bandwidth over 5 s, N_eff ~ 1000) gives a standard deviation ~0.03, so 0.15 is five sigma.
    assert np.abs(r.correlation).max() < 0.15
    np.testing.assert_allclose(r.side_to_mid_db, 0.0, atol=1.5)  # S/M = (1 - c) / (1 + c): |c| < 0.15
    silent = band_correlation(np.zeros((2, 1000)), fs)
    assert np.all(np.isnan(silent.correlation)) and np.all(np.isnan(silent.side_to_mid_db))
    with pytest.raises(ValueError, match="increasing"):
        band_correlation(x, fs, edges_hz=(1000.0, 100.0))


@pytest.mark.gpu
@pytest.mark.skipif(not _GPU_OK, reason=_GPU_REASON)
def test_gpu_parity():
    import cupy  # noqa: PLC0415 - only where the skip above did not trigger

    fs = 48000
    x = np.random.default_rng(4).standard_normal((2, 3 * fs))
    xg = cupy.asarray(x)
    f_cpu, p_cpu = long_term_spectrum(x, fs)
    f_gpu, p_gpu = long_term_spectrum(xg, fs)
    assert isinstance(p_gpu, np.ndarray)
    # float64 FFTs in another library: ~1e-15 relative.
    np.testing.assert_allclose(f_gpu, f_cpu, rtol=1e-12)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-9)
    cpu, gpu = band_correlation(x, fs), band_correlation(xg, fs)
    np.testing.assert_allclose(gpu.correlation, cpu.correlation, atol=1e-9)
    np.testing.assert_allclose(gpu.side_to_mid_db, cpu.side_to_mid_db, atol=1e-9)
    mid, side = mid_side(xg)
    assert isinstance(mid, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(mid), mid_side(x).mid)
