"""A split-band de-esser: the sibilance band is turned down when it jumps above its own running level.

How it works
------------
1. **Split** with the LR4 crossovers of :func:`kernels.dynamics.split_bands` at ``low_hz`` and ``high_hz``
   (default 5 and 10 kHz): low, sibilance band and high, which sum to an allpass of the input (flat
   magnitude). Only the middle band is ever changed, so a 1 kHz tone comes out at its own level.
2. **Detector** on the band, linked across channels (the largest ``band**2`` over channels at each sample,
   so the image does not move): a *fast* mean-square envelope (one pole, ``attack_ms`` rising,
   ``release_ms`` falling) and a *slow* running level (one pole, ``reference_ms``). An "s" is a burst whose
   fast level rises above the running level of the same band. The reference is the larger of that running
   level and the full-band fast level (same detector on ``x**2``) plus ``full_offset_db`` (-20 dB): at an
   onset after silence every band rises above its running level, but only sibilance comes near the level of
   the whole signal.
3. **Gain computer**, in dB: ``excess = fast_db - reference_db - threshold_db``; when ``excess > 0`` and the
   fast level is above ``floor_dbfs`` (so hiss and reverb tails in the band are left alone), the band gets
   ``-(1 - 1/ratio) * excess``, limited to ``-max_reduction_db``.
4. **Smoothing** of that gain with the attack/release one-pole of :mod:`kernels.dynamics` (attack while more
   reduction is wanted than applied), then ``y = low + band * 10**(g/20) + high``.

How much a band gain ``g`` takes off depends on the frequency: the LR4 bands are in phase with each other,
and at the band's centre (7.1 kHz for 5-10 kHz) the middle band carries 0.64 of the amplitude, the two
others the remaining 0.36 (a one-octave band), so ``g = -10 dB`` there gives ``20 log10(0.36 + 0.64 g)``
= -5.0 dB.

Steps 2-4 are one recursion on its own state (the envelopes and the smoothed gain), run in a compiled loop:
this module's CPU/GPU twin:

=====================  ===============================================================================
CPU                    :func:`_deess_gain_cpu` (numba ``@njit(cache=True)``)
GPU                    :func:`_deess_gain_gpu` (CuPy ``RawKernel`` ``deess_gain_db``, one thread, compiled
                       with ``--fmad=false`` so it does the float64 operations of the CPU loop in order)
=====================  ===============================================================================

The band split and the gain application are ``sosfilt`` and array arithmetic on ``xp``. Output is aligned
with the input (no lookahead), and, as for every crossover here, filtered from rest (one call = one block).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from kernels._xp import array_namespace
from kernels.dynamics import _check_rate, _one_pole_coefficient, split_bands

__all__ = ["deess", "deess_gain_db"]

# Mean-square values are floored here before the logarithm (-300 dB): silence maps to a finite level.
_POWER_FLOOR = 1e-30


def _check_settings(fs, low_hz, high_hz, threshold_db, ratio, max_reduction_db, attack_ms, release_ms,
                    reference_ms, floor_dbfs):
    lo, hi = float(low_hz), float(high_hz)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo < hi < fs / 2.0):
        raise ValueError(f"band {low_hz!r}-{high_hz!r} Hz must satisfy 0 < low_hz < high_hz < {fs / 2:g} Hz "
                         f"(Nyquist); at {fs:g} Hz lower high_hz")
    for name, v, lowest in (("threshold_db", threshold_db, 0.0), ("max_reduction_db", max_reduction_db, 0.0),
                            ("attack_ms", attack_ms, 0.0), ("release_ms", release_ms, 0.0),
                            ("reference_ms", reference_ms, 0.0)):
        if isinstance(v, bool) or not math.isfinite(float(v)) or float(v) < lowest:
            raise ValueError(f"{name} {v!r} must be a finite number >= {lowest:g}")
    if isinstance(ratio, bool) or not math.isfinite(float(ratio)) or float(ratio) < 1.0:
        raise ValueError(f"ratio {ratio!r} must be a finite number >= 1 (1: no reduction)")
    if not math.isfinite(float(floor_dbfs)):
        raise ValueError(f"floor_dbfs {floor_dbfs!r} must be a finite level in dBFS")
    return lo, hi


@njit(cache=True, nogil=True)
def _deess_gain_cpu(power, full_power, a_up, a_down, a_ref, threshold_db, full_offset_db, slope, max_reduction_db,
                    floor_db, a_attack, a_release):  # pragma: no cover - compiled; tested through deess_gain_db()
    """Band gain in dB (<= 0) per sample from the linked band and full-band powers, starting at rest."""
    n = power.shape[0]
    out = np.empty(n, dtype=np.float64)
    fast = 0.0
    full = 0.0
    slow = 0.0
    gain = 0.0
    for i in range(n):
        p = power[i]
        if p > fast:
            fast = a_up * fast + (1.0 - a_up) * p
        else:
            fast = a_down * fast + (1.0 - a_down) * p
        q = full_power[i]
        if q > full:
            full = a_up * full + (1.0 - a_up) * q
        else:
            full = a_down * full + (1.0 - a_down) * q
        slow = a_ref * slow + (1.0 - a_ref) * p
        fast_db = 10.0 * math.log10(max(fast, 1e-30))
        reference_db = 10.0 * math.log10(max(slow, 1e-30))
        full_db = 10.0 * math.log10(max(full, 1e-30)) + full_offset_db
        reference_db = max(reference_db, full_db)
        excess = fast_db - reference_db - threshold_db
        target = 0.0
        if excess > 0.0 and fast_db > floor_db:
            target = -slope * excess
            target = max(target, -max_reduction_db)
        if target < gain:
            gain = a_attack * gain + (1.0 - a_attack) * target
        else:
            gain = a_release * gain + (1.0 - a_release) * target
        out[i] = gain
    return out


_DEESS_GAIN_SOURCE = r"""
extern "C" __global__ void deess_gain_db(const double* power, const double* full_power, double* out,
        const long long n, const double a_up, const double a_down, const double a_ref, const double threshold_db,
        const double full_offset_db, const double slope, const double max_reduction_db, const double floor_db,
        const double a_attack, const double a_release) {
    // A recursion on its own state: one thread walks the whole signal (see the module docstring).
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double fast = 0.0, full = 0.0, slow = 0.0, gain = 0.0;
    for (long long i = 0; i < n; ++i) {
        const double p = power[i];
        if (p > fast) {
            fast = a_up * fast + (1.0 - a_up) * p;
        } else {
            fast = a_down * fast + (1.0 - a_down) * p;
        }
        const double q = full_power[i];
        if (q > full) {
            full = a_up * full + (1.0 - a_up) * q;
        } else {
            full = a_down * full + (1.0 - a_down) * q;
        }
        slow = a_ref * slow + (1.0 - a_ref) * p;
        const double fast_db = 10.0 * log10(fmax(fast, 1e-30));
        double reference_db = 10.0 * log10(fmax(slow, 1e-30));
        const double full_db = 10.0 * log10(fmax(full, 1e-30)) + full_offset_db;
        if (full_db > reference_db) reference_db = full_db;
        const double excess = fast_db - reference_db - threshold_db;
        double target = 0.0;
        if (excess > 0.0 && fast_db > floor_db) {
            target = -slope * excess;
            if (target < -max_reduction_db) target = -max_reduction_db;
        }
        if (target < gain) {
            gain = a_attack * gain + (1.0 - a_attack) * target;
        } else {
            gain = a_release * gain + (1.0 - a_release) * target;
        }
        out[i] = gain;
    }
}
"""


@functools.lru_cache(maxsize=1)
def _deess_gain_kernel():
    import cupy  # optional, only on the GPU path

    return cupy.RawKernel(_DEESS_GAIN_SOURCE, "deess_gain_db", options=("--fmad=false",))


def _deess_gain_gpu(power, full_power, *params):
    """GPU twin of :func:`_deess_gain_cpu` on CuPy float64 vectors."""
    import cupy  # optional, only on the GPU path

    power = cupy.ascontiguousarray(power, dtype=cupy.float64)
    full_power = cupy.ascontiguousarray(full_power, dtype=cupy.float64)
    out = cupy.empty_like(power)
    n = power.shape[0]
    if n:
        _deess_gain_kernel()((1,), (1,), (power, full_power, out, cupy.int64(n),
                                           *(cupy.float64(p) for p in params)))
    return out


def _bands_and_gain(x, sample_rate, low_hz, high_hz, threshold_db, ratio, max_reduction_db, attack_ms,
                    release_ms, reference_ms, full_offset_db, floor_dbfs, xp):
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2:
        raise ValueError(f"audio has shape {tuple(x.shape)}, expected (channels, samples)")
    fs = _check_rate(sample_rate)
    lo, hi = _check_settings(fs, low_hz, high_hz, threshold_db, ratio, max_reduction_db, attack_ms, release_ms,
                             reference_ms, floor_dbfs)
    if not math.isfinite(float(full_offset_db)):
        raise ValueError(f"full_offset_db {full_offset_db!r} must be a finite number of dB")
    low, band, high = split_bands(x, fs, (lo, hi), xp=xp)
    if x.shape[0] == 0:
        raise ValueError("audio has no channels")
    power = xp.max(band * band, axis=0)
    full_power = xp.max(x * x, axis=0)
    params = (_one_pole_coefficient(float(attack_ms), fs), _one_pole_coefficient(float(release_ms), fs),
              _one_pole_coefficient(float(reference_ms), fs), float(threshold_db), float(full_offset_db),
              1.0 - 1.0 / float(ratio),
              float(max_reduction_db), float(floor_dbfs),
              # The gain follows the detector's own attack and release.
              _one_pole_coefficient(float(attack_ms), fs), _one_pole_coefficient(float(release_ms), fs))
    if xp is np:
        gain_db = _deess_gain_cpu(np.ascontiguousarray(power), np.ascontiguousarray(full_power), *params)
    else:
        gain_db = _deess_gain_gpu(power, full_power, *params)
    return xp, low, band, high, gain_db


def deess_gain_db(x, sample_rate: float, *, low_hz: float = 5000.0, high_hz: float = 10000.0,
                  threshold_db: float = 4.0, ratio: float = 4.0, max_reduction_db: float = 10.0,
                  attack_ms: float = 1.0, release_ms: float = 60.0, reference_ms: float = 2000.0,
                  full_offset_db: float = -20.0, floor_dbfs: float = -60.0, xp=None):
    """The gain (dB, <= 0) :func:`deess` applies to the sibilance band, per sample.

    Parameters are those of :func:`deess`. Returns an array of shape ``(n,)`` (NumPy or CuPy), float64.
    """
    *_, gain_db = _bands_and_gain(x, sample_rate, low_hz, high_hz, threshold_db, ratio, max_reduction_db,
                                  attack_ms, release_ms, reference_ms, full_offset_db, floor_dbfs, xp)
    return gain_db


def deess(x, sample_rate: float, *, low_hz: float = 5000.0, high_hz: float = 10000.0, threshold_db: float = 4.0,
          ratio: float = 4.0, max_reduction_db: float = 10.0, attack_ms: float = 1.0, release_ms: float = 60.0,
          reference_ms: float = 2000.0, full_offset_db: float = -20.0, floor_dbfs: float = -60.0, xp=None):
    """Turn the ``low_hz``-``high_hz`` band down where it bursts above its running level.

    Parameters
    ----------
    x : array, shape (channels, n)
        Audio in full-scale units (NumPy or CuPy).
    sample_rate : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Edges of the sibilance band (LR4 crossovers), ``0 < low_hz < high_hz < Nyquist``.
    threshold_db : float
        How far (dB) the band's fast level may rise above its running level before it is reduced.
    ratio : float
        Compression ratio above the threshold (``>= 1``): 4 takes 3/4 of the excess off.
    max_reduction_db : float
        The most the band is ever turned down.
    attack_ms, release_ms : float
        Rise and fall of the fast detector and of the gain smoother.
    reference_ms : float
        Time constant of the running level the bursts are compared with.
    full_offset_db : float
        The reference is never below the full-band fast level plus this (dB): at the onset of music after
        silence every band jumps above its running level together, and only a band that also comes within
        ``-full_offset_db - threshold_db`` dB of the whole signal is sibilance.
    floor_dbfs : float
        Band levels (mean square, dBFS) below this are never reduced.
    xp : module, optional
        ``numpy`` or ``cupy``; defaults to the namespace of ``x``.

    Returns
    -------
    array, shape (channels, n), float64
        ``low + band * gain + high``: with no reduction, ``x`` through the two crossovers' allpasses (flat
        magnitude), aligned with ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(48000) / 48000
    >>> tone = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t)] * 2)
    >>> y = deess(tone, 48000)
    >>> round(float(np.sqrt(np.mean(y[:, 4800:] ** 2)) / np.sqrt(np.mean(tone[:, 4800:] ** 2))), 4)
    1.0
    """
    xp, low, band, high, gain_db = _bands_and_gain(x, sample_rate, low_hz, high_hz, threshold_db, ratio,
                                                   max_reduction_db, attack_ms, release_ms, reference_ms,
                                                   full_offset_db, floor_dbfs, xp)
    return low + band * (10.0 ** (gain_db / 20.0)) + high
