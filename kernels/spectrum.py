"""Spectral and stereo analysis for mastering decisions: long-term spectrum, band levels, smoothing,
mid/side, and per-band stereo correlation.

The heavy parts (Welch averaging, the crossover filtering, band sums) run on NumPy or CuPy through
``scipy.signal`` / ``cupyx.scipy.signal``; the small results (a spectrum, a few numbers per band) come
back as NumPy. Nothing here is a sequential loop, so this module has no numba/CuPy twins.
:func:`crossover_sos` (Linkwitz-Riley 4th order) is the one from :mod:`kernels.dynamics`, re-exported.

Levels are in dB of mean square (10 log10 of power, full-scale square wave = 0 dB, full-scale sine =
-3.01 dB), so the band levels of a signal add up (in power) to its mean square.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from kernels._xp import array_namespace, signal_module, to_numpy
# One LR4 design (and one cache) for the multiband compressor and this analysis: re-exported here.
from kernels.dynamics import crossover_sos

__all__ = [
    "BandStereo",
    "MidSide",
    "Spectrum",
    "band_correlation",
    "band_levels_db",
    "crossover_sos",
    "long_term_spectrum",
    "mid_side",
    "smooth_octave",
]


@dataclass(frozen=True)
class Spectrum:
    """A long-term average power spectrum; unpacks as ``freqs_hz, power``.

    Attributes
    ----------
    freqs_hz : ndarray, shape (bins,)
        Bin frequencies, 0 to Nyquist, spaced ``sample_rate / nfft``.
    power : ndarray, shape (channels, bins)
        One-sided power spectral density in full-scale units squared per Hz: the sum over all bins times
        the bin spacing is the mean square of the channel.
    """

    freqs_hz: np.ndarray
    power: np.ndarray

    def __iter__(self):
        return iter((self.freqs_hz, self.power))


@dataclass(frozen=True)
class MidSide:
    """Mid ``(L + R) / 2`` and side ``(L - R) / 2``, each shaped ``(1, samples)``; unpacks as ``mid, side``."""

    mid: object
    side: object

    def __iter__(self):
        return iter((self.mid, self.side))


@dataclass(frozen=True)
class BandStereo:
    """Stereo image per crossover band.

    Attributes
    ----------
    edges_hz : tuple of float
        Crossover frequencies; band ``k`` spans ``edges_hz[k - 1]`` to ``edges_hz[k]`` (0 and Nyquist at
        the ends), so there are ``len(edges_hz) + 1`` bands.
    correlation : ndarray, shape (bands,)
        Zero-lag L/R correlation coefficient ``sum(L R) / sqrt(sum(L^2) sum(R^2))`` in the band: +1 mono,
        0 unrelated, -1 out of phase; NaN where either channel is silent in the band.
    side_to_mid_db : ndarray, shape (bands,)
        Side energy over mid energy in dB: -inf for mono, +inf for a pure side (L = -R), NaN when both are
        silent. Uncorrelated equal channels read 0 dB.
    """

    edges_hz: tuple[float, ...]
    correlation: np.ndarray
    side_to_mid_db: np.ndarray


def _check_rate(sample_rate) -> float:
    fs = float(sample_rate)
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"sample_rate {sample_rate!r} Hz must be a positive finite number")
    return fs


def _check_fraction(fraction) -> int:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, np.integer)) or fraction < 1:
        raise ValueError(f"fraction {fraction!r} must be a positive integer (1 = octave, 3 = third octave)")
    return int(fraction)


def default_nfft(sample_rate: float) -> int:
    """About 0.1 s rounded to the nearest power of two in log terms (4096 at 44.1/48 kHz, 8192 at 96 kHz)."""
    return 2 ** round(math.log2(0.1 * _check_rate(sample_rate)))


def long_term_spectrum(x, sample_rate: float, *, nfft: int | None = None, xp=None) -> Spectrum:
    """Welch-averaged power spectrum of each channel (Hann window, 50 % overlap, no detrending).

    Parameters
    ----------
    x : array, shape (channels, samples)
        Audio; NumPy or CuPy.
    sample_rate : float
        Sampling rate in Hz.
    nfft : int, optional
        Segment length; default :func:`default_nfft` (about 0.1 s: 10.8 Hz bins at 44.1 kHz). Shorter
        inputs use one segment of the largest power of two that fits.
    xp : module, optional
        Array namespace; defaults to that of ``x``.

    Returns
    -------
    Spectrum
        ``freqs_hz`` (bins,) and ``power`` (channels, bins) as NumPy float64 (see :class:`Spectrum`).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((2, 48000))
    >>> freqs, power = long_term_spectrum(x, 48000)
    >>> power.shape, bool(abs(power[0].sum() * freqs[1] - 1.0) < 0.05)
    ((2, 2049), True)
    """
    fs = _check_rate(sample_rate)
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2 or x.shape[-1] < 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (channels, samples) with at least 2 samples")
    nfft = default_nfft(fs) if nfft is None else nfft
    if isinstance(nfft, bool) or not isinstance(nfft, (int, np.integer)) or nfft < 2:
        raise ValueError(f"nfft {nfft!r} must be an integer >= 2")
    nfft = int(min(nfft, 2 ** math.floor(math.log2(x.shape[-1]))))
    signal = signal_module(xp)
    # No detrending: DC offset is part of what a mastering engineer wants to see (and keeps Parseval exact).
    freqs, power = signal.welch(
        x, fs=fs, window="hann", nperseg=nfft, noverlap=nfft // 2, detrend=False, scaling="density", axis=-1
    )
    return Spectrum(to_numpy(freqs).astype(np.float64), to_numpy(power).astype(np.float64))


def _bin_band_weights(freqs_hz: np.ndarray, lo_hz: np.ndarray, hi_hz: np.ndarray) -> np.ndarray:
    """(bands, bins) fraction of each bin's width ``[f - df/2, f + df/2]`` (clipped to 0..Nyquist) in each band.

    Splitting edge bins by overlap keeps band levels continuous as a centre moves, instead of jumping by a
    whole bin (at 10.8 Hz bins the 31.5 Hz octave holds only two).
    """
    df = freqs_hz[1] - freqs_hz[0]
    b_lo = np.maximum(freqs_hz - df / 2, 0.0)
    b_hi = np.minimum(freqs_hz + df / 2, freqs_hz[-1])
    overlap = np.minimum(b_hi[None, :], hi_hz[:, None]) - np.maximum(b_lo[None, :], lo_hz[:, None])
    width = np.maximum(b_hi - b_lo, np.finfo(np.float64).tiny)
    return np.clip(overlap, 0.0, None) / width[None, :]


def band_levels_db(freqs_hz, power, centres_hz, *, fraction: int = 1) -> np.ndarray:
    """Energy in the 1/``fraction``-octave band around each centre, in dB.

    Parameters
    ----------
    freqs_hz : array_like, shape (bins,)
        Evenly spaced bin frequencies from 0 (as from :func:`long_term_spectrum`).
    power : array_like, shape (channels, bins) or (bins,)
        Power spectral density per Hz.
    centres_hz : array_like, shape (bands,)
        Band centres; band edges are ``centre * 2 ** (+/- 1 / (2 fraction))``.
    fraction : int, default 1
        1 for octave bands, 3 for third-octave bands.

    Returns
    -------
    ndarray, shape (channels, bands), float64
        ``10 log10`` of the band's power (edge bins counted by the fraction of their width inside the
        band); ``-inf`` for a band that holds no bin or no energy (e.g. above Nyquist).

    Examples
    --------
    >>> t = np.arange(48000) / 48000
    >>> f, p = long_term_spectrum(np.sin(2 * np.pi * 1000 * t)[None], 48000)
    >>> band_levels_db(f, p, [500, 1000, 2000]).round(1).tolist()[0][1]
    -3.0
    """
    fraction = _check_fraction(fraction)
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(power, dtype=np.float64)
    p2 = p[None, :] if p.ndim == 1 else p
    if freqs.ndim != 1 or freqs.shape[0] < 2 or p2.ndim != 2 or p2.shape[-1] != freqs.shape[0]:
        raise ValueError(f"power of shape {p.shape} does not match {freqs.shape[0]} bin frequencies")
    centres = np.atleast_1d(np.asarray(centres_hz, dtype=np.float64))
    if np.any(~np.isfinite(centres)) or np.any(centres <= 0):
        raise ValueError(f"centres_hz {centres.tolist()!r} must be positive finite frequencies")
    half = 2.0 ** (1.0 / (2 * fraction))
    weights = _bin_band_weights(freqs, centres / half, centres * half)
    band_power = (p2 @ weights.T) * (freqs[1] - freqs[0])
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(band_power)


def smooth_octave(freqs_hz, power_db, *, fraction: int = 3) -> np.ndarray:
    """Fractional-octave smoothing: each bin becomes the mean power over ``f * 2 ** (+/- 1 / (2 fraction))``.

    Parameters
    ----------
    freqs_hz : array_like, shape (bins,)
        Increasing bin frequencies (need not be evenly spaced).
    power_db : array_like, shape (..., bins)
        Spectrum in dB (power); averaging is done on power, so a narrow peak spreads without its
        level being over-counted.
    fraction : int, default 3
        Window width in fractions of an octave (3 = 1/3 octave); wider windows at higher frequencies
        give the even look on a log axis that EQ decisions are made on.

    Returns
    -------
    ndarray, shape like ``power_db``, float64
        Smoothed spectrum in dB; the 0 Hz bin (window of zero width) is its own value.

    Examples
    --------
    >>> f = np.linspace(0, 24000, 2049)
    >>> bool(np.allclose(smooth_octave(f, np.full(2049, -20.0)), -20.0))
    True
    """
    fraction = _check_fraction(fraction)
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    db = np.asarray(power_db, dtype=np.float64)
    if freqs.ndim != 1 or db.shape[-1:] != freqs.shape:
        raise ValueError(f"power_db of shape {db.shape} does not match {freqs.shape[0]} bin frequencies")
    if np.any(np.diff(freqs) <= 0):
        raise ValueError("freqs_hz must be strictly increasing")
    half = 2.0 ** (1.0 / (2 * fraction))
    lo = np.searchsorted(freqs, freqs / half, side="left")
    hi = np.searchsorted(freqs, freqs * half, side="right")
    power = 10.0 ** (db / 10.0)
    # Prefix sums make every window an O(1) difference; -inf dB (zero power) averages in naturally.
    csum = np.concatenate([np.zeros(db.shape[:-1] + (1,)), np.cumsum(power, axis=-1)], axis=-1)
    mean = (csum[..., hi] - csum[..., lo]) / (hi - lo)
    mean = np.where(hi - lo == 1, power, mean)  # exact for single-bin windows (no cumsum rounding)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.maximum(mean, 0.0))


def mid_side(x, *, xp=None) -> MidSide:
    """Mid ``(L + R) / 2`` and side ``(L - R) / 2`` of a stereo signal.

    Parameters
    ----------
    x : array, shape (2, samples)
        Stereo audio; NumPy or CuPy.
    xp : module, optional
        Array namespace; defaults to that of ``x``.

    Returns
    -------
    MidSide
        ``mid`` and ``side``, each shaped ``(1, samples)``, float64, in the namespace of ``x``.

    Examples
    --------
    >>> mid, side = mid_side(np.array([[1.0, 0.5], [1.0, -0.5]]))
    >>> mid.tolist(), side.tolist()
    ([[1.0, 0.0]], [[0.0, 0.5]])
    """
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (2, samples) stereo")
    return MidSide(0.5 * (x[0:1] + x[1:2]), 0.5 * (x[0:1] - x[1:2]))


def _split_bands(x, fs: float, edges: tuple[float, ...], xp):
    """Yield each band of ``x`` (low to high): low-pass at each edge, carrying the high-pass remainder up."""
    signal = signal_module(xp)
    rest = x
    for f in edges:
        low, high = crossover_sos(fs, f)
        yield signal.sosfilt(xp.array(low, copy=True), rest, axis=-1)
        rest = signal.sosfilt(xp.array(high, copy=True), rest, axis=-1)
    yield rest


def band_correlation(x, sample_rate: float, *, edges_hz=(150.0, 2000.0), xp=None) -> BandStereo:
    """L/R correlation and side-to-mid level in bands split by Linkwitz-Riley crossovers.

    Parameters
    ----------
    x : array, shape (2, samples)
        Stereo audio; NumPy or CuPy.
    sample_rate : float
        Sampling rate in Hz.
    edges_hz : sequence of float, default (150.0, 2000.0)
        Increasing crossover frequencies (LR4, see :func:`crossover_sos`); the default gives low (bass,
        where mono compatibility matters most), mid and high bands.
    xp : module, optional
        Array namespace; defaults to that of ``x``.

    Returns
    -------
    BandStereo
        ``len(edges_hz) + 1`` bands, low to high (NumPy results).

    Examples
    --------
    >>> noise = np.random.default_rng(0).standard_normal(48000)
    >>> r = band_correlation(np.stack([noise, noise]), 48000)
    >>> r.correlation.round(6).tolist()
    [1.0, 1.0, 1.0]
    """
    fs = _check_rate(sample_rate)
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (2, samples) stereo")
    edges = tuple(float(f) for f in edges_hz)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges_hz {edges!r} must be strictly increasing")
    corr, s2m = [], []
    for band in _split_bands(x, fs, edges, xp):
        left, right = band[0], band[1]
        # Three sums per band, one transfer: the ratios are computed on the host in float64.
        sums = to_numpy(xp.stack([xp.sum(left * left), xp.sum(right * right), xp.sum(left * right)]))
        ll, rr, lr = (float(v) for v in sums)
        mid_e = 0.25 * (ll + rr + 2.0 * lr)
        side_e = 0.25 * (ll + rr - 2.0 * lr)
        corr.append(lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else math.nan)
        if mid_e <= 0 and side_e <= 0:
            s2m.append(math.nan)
        elif mid_e <= 0:
            s2m.append(math.inf)
        elif side_e <= 0:
            s2m.append(-math.inf)
        else:
            s2m.append(10.0 * math.log10(side_e / mid_e))
    return BandStereo(edges, np.array(corr, dtype=np.float64), np.array(s2m, dtype=np.float64))
