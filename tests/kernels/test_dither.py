"""TPDF dither: the error's level and spectrum, no distortion of a -90 dBFS sine, noise shaping, determinism.

Why the expected error variance is LSB^2/4: the total error ``eps = y - q`` is the dither ``d`` (two
independent uniform +/-0.5 LSB values: variance 2 x LSB^2/12 = LSB^2/6) plus the rounding error of the dithered
value. With TPDF dither the rounding error is uniform on (-0.5, 0.5] LSB and uncorrelated with ``d``, whatever
the signal (nonsubtractive-dither theory: TPDF makes the first two moments of ``eps`` independent of the
input), which adds LSB^2/12: LSB^2/6 + LSB^2/12 = LSB^2/4. (The ``LSB^2/4 + LSB^2/12`` in the brief would count
the rounding error twice: LSB^2/4 is already the total.) With noise shaping that white error is filtered by
``NTF(z)``, so the output error's variance is LSB^2/4 x sum(ntf_k^2) and its spectrum is LSB^2/4 x |NTF|^2.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from kernels._xp import gpu_available
from kernels.dither import (
    BLOCK,
    SHAPED_ERROR_BOUND_LSB,
    TPDF_ERROR_BOUND_LSB,
    noise_transfer,
    tpdf_quantise,
)

FS = 44100
LSB16 = 1.0 / 32768


def _error_lsb(x, bits=16, **kw):
    y = tpdf_quantise(x, bits, **kw)
    return y.astype(np.float64) - x * 2.0 ** (bits - 1)


@pytest.mark.parametrize("offset_lsb", [0.0001, 0.25, 0.5, 0.75, -3.4])
def test_error_moments_do_not_depend_on_the_signal(offset_lsb):
    # A constant between two codes is the worst case for undithered rounding (error = -offset, variance 0)
    # and for RPDF dither (variance depends on the offset). With TPDF: mean 0, variance 1/4, at every offset.
    # n = 400k: the standard error of the mean is sqrt(0.25 / n) = 7.9e-4 and of the variance ~0.25 *
    # sqrt(2 * 1.4 / n) ~ 6.6e-4 (kurtosis of r + d is about 2.4); 0.005 is over 6 standard errors.
    n = 200_000
    x = np.full((2, n), offset_lsb * LSB16)
    err = _error_lsb(x, rng_seed=3)
    assert abs(err.mean()) < 0.005
    assert abs(err.var() - 0.25) < 0.005
    assert np.abs(err).max() < TPDF_ERROR_BOUND_LSB


def test_error_spectrum_is_flat_at_the_tpdf_level(render_music):
    # Music at -40 dBFS (so not a constant: the theory's claim is for any signal). Welch PSD (2048-point
    # segments, ~343 of them with 50 % overlap, 2 channels) grouped into 63 bands of 16 bins: each band's
    # estimate averages roughly 16 x 2 x 343 / 2 ~ 5500 independent values, a relative standard deviation of
    # ~1.4 %, so +/- 0.5 dB (12 %) is a wide band around the one-sided white level 2 x (1/4) / fs.
    x = np.array(render_music(11, FS, 8.0)) * 0.01
    err = _error_lsb(x, rng_seed=[1, 2])
    f, psd = scipy.signal.welch(err, fs=FS, nperseg=2048, axis=-1)
    psd = psd.mean(axis=0)
    white = 2 * 0.25 / FS
    bands = psd[1:1009].reshape(-1, 16).mean(axis=1)  # no DC bin (half weight); 63 bands up to 21.7 kHz
    level_db = 10 * np.log10(bands / white)
    assert np.abs(level_db).max() < 0.5, level_db.round(2)
    assert abs(err.mean()) < 0.005


def test_no_harmonics_of_a_minus_90_dbfs_sine():
    # -90 dBFS at 16 bits is 1.04 LSB peak. Undithered rounding makes it a 3-level wave with strong odd
    # harmonics; TPDF dither must leave only the fundamental above a flat floor. Coherent sampling (an integer
    # number of cycles, rectangular window) puts each harmonic in one bin. A noise bin's power / mean noise
    # power is exponentially distributed, so for an absent harmonic P(> 10 dB) = e^-10 = 4.5e-5 per bin: the
    # 10 dB threshold fails by chance about once in 2500 runs over 9 harmonics, and the seed is fixed.
    n = 1 << 18
    cycles = 5953  # ~1001 Hz, prime: harmonics up to the 9th stay below Nyquist on distinct bins
    t = np.arange(n)
    amplitude = 10 ** (-90 / 20)
    x = np.tile(amplitude * np.sin(2 * np.pi * cycles * t / n), (1, 1))
    harmonic_bins = [k * cycles for k in range(2, 10)]

    def spectrum(y):
        return np.abs(np.fft.rfft(y[0].astype(np.float64))) ** 2

    dithered = spectrum(tpdf_quantise(x, 16, rng_seed=9))
    noise_bins = np.setdiff1d(np.arange(1, n // 2), [cycles, *harmonic_bins])
    floor = dithered[noise_bins].mean()
    assert floor == pytest.approx(n * 0.25, rel=0.02)  # the white LSB^2/4 floor (130k bins: 0.3 % std error)
    assert (dithered[harmonic_bins] / floor).max() < 10.0
    # The fundamental comes through at its level: |X| = A n / 2 in LSB; +/-0.3 dB allows for the noise
    # in that bin (floor / signal power ~ 4e-5) with a wide margin.
    fundamental_db = 10 * np.log10(dithered[cycles] / (amplitude * 32768 * n / 2) ** 2)
    assert abs(fundamental_db) < 0.3
    # The test has teeth: plain rounding puts the 3rd harmonic over 20 dB above that floor.
    plain = spectrum(np.rint(x * 32768))
    assert plain[3 * cycles] / floor > 100


def test_noise_shaping_moves_noise_out_of_1_to_5_khz():
    x = np.full((2, 20 * FS // 10), 0.37 * LSB16)  # 2 s of a constant between codes (worst case undithered)
    plain = _error_lsb(x, rng_seed=4)
    shaped = _error_lsb(x, rng_seed=4, noise_shaping=True)
    f, p_plain = scipy.signal.welch(plain, fs=FS, nperseg=1024, axis=-1)
    _, p_shaped = scipy.signal.welch(shaped, fs=FS, nperseg=1024, axis=-1)
    p_plain, p_shaped = p_plain.mean(axis=0), p_shaped.mean(axis=0)
    band = (f >= 1000) & (f <= 5000)
    drop_db = 10 * np.log10(p_plain[band].sum() / p_shaped[band].sum())
    # Prediction from the filter alone: the white error (LSB^2/4) times |NTF|^2, averaged over the band.
    _, ntf = scipy.signal.freqz(noise_transfer(), worN=f, fs=FS)
    predicted_db = -10 * np.log10(np.mean(np.abs(ntf[band]) ** 2))
    # 2 x 171 segments x 93 bins in the band: the measured ratio is good to ~0.1 dB; 0.5 dB covers it and
    # Welch's 43 Hz resolution smoothing the 4 kHz notch.
    assert drop_db > 15.0  # measured ~18 dB less noise where the ear is most sensitive
    assert drop_db == pytest.approx(predicted_db, abs=0.5)
    # The noise went up top, not away: above 15 kHz it is louder than plain TPDF, and the total follows
    # LSB^2/4 x sum(ntf^2) (~4.14 LSB^2; 2 % covers the estimate's ~0.5 % standard error and the DC offset).
    top = f >= 15000
    assert p_shaped[top].mean() > 10 * p_plain[top].mean()
    assert shaped.var() == pytest.approx(0.25 * np.sum(noise_transfer() ** 2), rel=0.02)
    assert np.abs(shaped).max() < SHAPED_ERROR_BOUND_LSB


def test_shaped_loop_equals_a_plain_python_reference():
    # The numba loop against the module docstring's equations written out in Python, including exact zeros
    # and a block boundary (the state carried between blocks). Integers: must be equal.
    n = BLOCK + 300
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.001, 0.001, size=(2, n))
    x[:, 100:110] = 0.0
    x[:, BLOCK - 3 : BLOCK + 3] = 0.0
    got = tpdf_quantise(x, 16, rng_seed=8, noise_shaping=True)

    gen = np.random.default_rng(8)
    h = (2.033, -2.165, 1.959, -1.590, 0.6149)
    dither = np.concatenate([(lambda u: u[0] - u[1])(gen.random((2, 2, min(BLOCK, n - s))))
                             for s in range(0, n, BLOCK)], axis=1)
    expected = np.zeros((2, n), dtype=np.int64)
    for ch in range(2):
        e = [0.0] * 5
        for i in range(n):
            q = x[ch, i] * 32768
            if q == 0.0:
                err, y = 0.0, 0.0
            else:
                acc = 0.0
                for k in range(5):
                    acc = acc + h[k] * e[k]
                v = q - acc
                y = np.floor(v + dither[ch, i] + 0.5)
                err = y - v
            e = [err] + e[:4]
            expected[ch, i] = min(max(y, -32768), 32767)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shaping", [False, True])
def test_zeros_stay_zero_and_range_is_clipped(shaping):
    x = np.zeros((2, 5000))
    x[:, 1000:2000] = 1.0  # full scale: would round to 32768 without the clip
    x[:, 3000:4000] = -1.0
    y = tpdf_quantise(x, 16, rng_seed=1, noise_shaping=shaping)
    assert y.dtype == np.int16
    assert not y[:, :1000].any() and not y[:, 2000:3000].any() and not y[:, 4000:].any()
    assert y.max() == 32767 and y.min() == -32768
    assert tpdf_quantise(x, 24, rng_seed=1).dtype == np.int32


@pytest.mark.parametrize("shaping", [False, True])
def test_deterministic_per_seed(shaping):
    x = np.random.default_rng(5).uniform(-0.5, 0.5, size=(2, 3 * BLOCK // 2))
    a = tpdf_quantise(x, 16, rng_seed=[3, 1234], noise_shaping=shaping)
    b = tpdf_quantise(x, 16, rng_seed=[3, 1234], noise_shaping=shaping)
    c = tpdf_quantise(x, 16, rng_seed=[4, 1234], noise_shaping=shaping)
    assert a.tobytes() == b.tobytes()
    assert (a != c).mean() > 0.3  # another seed: different dither (about half the samples change)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bits"):
        tpdf_quantise(np.zeros((1, 4)), 1, rng_seed=0)
    with pytest.raises(ValueError, match="channels, samples"):
        tpdf_quantise(np.zeros(4), 16, rng_seed=0)


_GPU_OK, _GPU_REASON = gpu_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _GPU_OK, reason=_GPU_REASON)
@pytest.mark.parametrize("shaping", [False, True])
def test_gpu_parity(shaping):
    # Same host-generated dither, float64 IEEE arithmetic without FMA contraction: identical integers.
    import cupy  # noqa: PLC0415 - only where the skip above did not trigger

    x = np.random.default_rng(6).uniform(-0.9, 0.9, size=(2, BLOCK + 777)) * 10.0 ** (-np.arange(2)[:, None])
    x[:, 50:80] = 0.0
    cpu = tpdf_quantise(x, 16, rng_seed=2, noise_shaping=shaping)
    gpu = tpdf_quantise(cupy.asarray(x), 16, rng_seed=2, noise_shaping=shaping)
    np.testing.assert_array_equal(cupy.asnumpy(gpu), cpu)
