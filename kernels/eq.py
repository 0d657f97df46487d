"""Mastering EQ: cached filter designs (high-pass, RBJ peaking and shelving biquads, a graphic EQ bank,
a linear-phase FIR) and the two ways to apply them.

Designs return NumPy coefficients, cached per parameter set and read-only (callers must copy before
changing them); :func:`apply_sos` and :func:`apply_fir` run them on NumPy or CuPy arrays through
``scipy.signal`` / ``cupyx.scipy.signal`` (one code path). Nothing here is a sequential loop beyond the
IIR recursion that ``sosfilt`` already implements on both back ends, so this module has no numba/CuPy twins.

Neutral settings are skipped, not approximated: a 0 dB peaking or shelving filter and an all-zero graphic
EQ are the empty SOS ``shape (0, 6)``, an all-zero FIR curve is ``[1.0]``, and applying either returns the
input object itself.

Band centres
------------
:data:`OCTAVE_CENTRES_HZ` are the exact base-2 octave centres anchored at 1 kHz (31.25 Hz ... 16 kHz).
The ISO 266 nominal labels (31.5, 63, 125, ...) are rounded versions of the same bands; using the exact
values keeps adjacent centres exactly one octave apart, so the default graphic-EQ Q (derived from the
spacing) is exact.

Graphic EQ
----------
A bank of peaking biquads, one per centre, whose *combined* dB response hits the requested gains at the
centres. Adjacent bands overlap (at octave spacing and the default Q = 1.0 a filter still gives about
30 % of its dB gain one octave away), so setting each filter to its own target would overshoot. The per-filter gains
are solved Newton-style: the interaction matrix ``B[i, j]`` (dB of filter ``j`` at centre ``i`` per dB of
its gain, evaluated at the current gains, since a peaking filter's dB response is not linear in its
gain) is inverted by least squares on the remaining error, and the step repeated until the error at every
centre is below 1e-4 dB (measured: 2-4 solves for random +/-6 dB octave or third-octave targets,
3-6 for +/-12 dB).
"""

from __future__ import annotations

import functools
import itertools
import math

import numba
import numpy as np
import scipy.signal

from kernels._xp import array_namespace, signal_module

__all__ = [
    "OCTAVE_CENTRES_HZ",
    "apply_fir",
    "apply_sos",
    "default_fir_taps",
    "graphic_eq_sos",
    "highpass_sos",
    "linear_phase_fir",
    "peaking_sos",
    "response_db",
    "shelf_sos",
]

#: Exact base-2 octave centres anchored at 1 kHz (ISO 266 labels: 31.5, 63, 125, ... 16k).
OCTAVE_CENTRES_HZ = (31.25, 62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)

_EMPTY_SOS = np.zeros((0, 6), dtype=np.float64)
_EMPTY_SOS.flags.writeable = False
_IDENTITY_FIR = np.ones(1, dtype=np.float64)
_IDENTITY_FIR.flags.writeable = False

_GEQ_TOL_DB = 1e-4  # solver stops when every centre is this close: far below any audible or metered change
_GEQ_MAX_ITER = 12
_GEQ_PROBE_DB = 1.0  # gain used to shape the interaction column of a filter whose current gain is 0 dB
_FIR_RESOLUTION_HZ = 10.0


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _check_rate(sample_rate) -> float:
    fs = float(sample_rate)
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"sample_rate {sample_rate!r} Hz must be a positive finite number")
    return fs


def _check_freq(name: str, f_hz, fs: float) -> float:
    f = float(f_hz)
    if not math.isfinite(f) or not 0.0 < f < fs / 2:
        raise ValueError(f"{name} {f_hz!r} Hz must lie strictly between 0 and Nyquist ({fs / 2:g} Hz)")
    return f


def _check_gain(gain_db) -> float:
    g = float(gain_db)
    if not math.isfinite(g):
        raise ValueError(f"gain_db {gain_db!r} must be a finite number of dB")
    return g


@functools.lru_cache(maxsize=64)
def highpass_sos(sample_rate: float, cutoff_hz: float = 20.0, order: int = 4) -> np.ndarray:
    """Butterworth high-pass (subsonic / DC clean-up filter) as second-order sections.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    cutoff_hz : float, default 20.0
        -3 dB frequency in Hz, between 0 and Nyquist.
    order : int, default 4
        Filter order (24 dB/octave at 4), 1 to 16.

    Returns
    -------
    ndarray, shape (ceil(order / 2), 6), float64, read-only
        Rows ``[b0, b1, b2, 1, a1, a2]``.

    Examples
    --------
    >>> sos = highpass_sos(48000, 20.0)
    >>> sos.shape
    (2, 6)
    """
    fs = _check_rate(sample_rate)
    fc = _check_freq("cutoff_hz", cutoff_hz, fs)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= 16:
        raise ValueError(f"order {order!r} must be an integer from 1 to 16")
    return _readonly(scipy.signal.butter(int(order), fc, btype="highpass", fs=fs, output="sos"))


@functools.lru_cache(maxsize=256)
def peaking_sos(sample_rate: float, f0_hz: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ "Audio EQ Cookbook" peaking biquad.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    f0_hz : float
        Centre frequency in Hz, between 0 and Nyquist; the gain there is exactly ``gain_db``.
    gain_db : float
        Boost (positive) or cut (negative) at ``f0_hz``.
    q : float
        Quality factor (> 0); the cookbook's bandwidth is measured between the frequencies where the dB
        gain is half of ``gain_db``.

    Returns
    -------
    ndarray, shape (1, 6) or (0, 6), float64, read-only
        One SOS row; the empty SOS when ``gain_db == 0`` (the neutral filter is skipped).

    Examples
    --------
    >>> sos = peaking_sos(48000, 1000.0, 3.0, 1.0)
    >>> float(round(response_db(48000, [1000.0], sos=sos)[0], 9))
    3.0
    """
    fs = _check_rate(sample_rate)
    f0 = _check_freq("f0_hz", f0_hz, fs)
    g = _check_gain(gain_db)
    q = float(q)
    if not math.isfinite(q) or q <= 0:
        raise ValueError(f"q {q!r} must be a positive finite number")
    if g == 0.0:
        return _EMPTY_SOS
    a = 10.0 ** (g / 40.0)
    w0 = 2.0 * math.pi * f0 / fs
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * q)
    b = [1.0 + alpha * a, -2.0 * cos_w0, 1.0 - alpha * a]
    den = [1.0 + alpha / a, -2.0 * cos_w0, 1.0 - alpha / a]
    return _readonly(np.array([[*(v / den[0] for v in b), 1.0, den[1] / den[0], den[2] / den[0]]]))


@functools.lru_cache(maxsize=256)
def shelf_sos(sample_rate: float, f0_hz: float, gain_db: float, *, kind: str = "low", slope: float = 1.0) -> np.ndarray:
    """RBJ "Audio EQ Cookbook" low or high shelving biquad.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    f0_hz : float
        Shelf midpoint in Hz, where the gain is exactly ``gain_db / 2``.
    gain_db : float
        Gain of the shelf (at DC for ``"low"``, at Nyquist for ``"high"``); the other end stays at 0 dB.
    kind : {"low", "high"}
        Which end is shelved.
    slope : float, default 1.0
        Cookbook shelf slope ``S``; 1 is the steepest that stays monotonic, larger values overshoot, and
        the design is refused where ``(A + 1/A)(1/S - 1) + 2 <= 0`` (no real ``alpha``).

    Returns
    -------
    ndarray, shape (1, 6) or (0, 6), float64, read-only
        One SOS row; the empty SOS when ``gain_db == 0``.

    Examples
    --------
    >>> sos = shelf_sos(44100, 100.0, -4.0, kind="low")
    >>> float(round(response_db(44100, [100.0], sos=sos)[0], 9))
    -2.0
    """
    fs = _check_rate(sample_rate)
    f0 = _check_freq("f0_hz", f0_hz, fs)
    g = _check_gain(gain_db)
    if kind not in ("low", "high"):
        raise ValueError(f"kind {kind!r} must be 'low' or 'high'")
    s = float(slope)
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"slope {slope!r} must be a positive finite number")
    if g == 0.0:
        return _EMPTY_SOS
    a = 10.0 ** (g / 40.0)
    arg = (a + 1.0 / a) * (1.0 / s - 1.0) + 2.0
    if arg <= 0:
        raise ValueError(f"slope {slope!r} is too steep for a {g:g} dB shelf (the cookbook design has no real alpha)")
    w0 = 2.0 * math.pi * f0 / fs
    c = math.cos(w0)
    two_sqrt_a_alpha = 2.0 * math.sqrt(a) * math.sin(w0) / 2.0 * math.sqrt(arg)
    if kind == "low":
        b = [a * ((a + 1) - (a - 1) * c + two_sqrt_a_alpha), 2 * a * ((a - 1) - (a + 1) * c),
             a * ((a + 1) - (a - 1) * c - two_sqrt_a_alpha)]
        den = [(a + 1) + (a - 1) * c + two_sqrt_a_alpha, -2 * ((a - 1) + (a + 1) * c),
               (a + 1) + (a - 1) * c - two_sqrt_a_alpha]
    else:
        b = [a * ((a + 1) + (a - 1) * c + two_sqrt_a_alpha), -2 * a * ((a - 1) + (a + 1) * c),
             a * ((a + 1) + (a - 1) * c - two_sqrt_a_alpha)]
        den = [(a + 1) - (a - 1) * c + two_sqrt_a_alpha, 2 * ((a - 1) - (a + 1) * c),
               (a + 1) - (a - 1) * c - two_sqrt_a_alpha]
    return _readonly(np.array([[*(v / den[0] for v in b), 1.0, den[1] / den[0], den[2] / den[0]]]))


def _default_q(centres: tuple[float, ...]) -> float:
    """Default graphic-EQ Q: half-gain bandwidth sqrt(2) times the (geometric mean) centre spacing.

    ``sqrt(r) / (r - 1) / sqrt(2)`` for spacing ratio ``r``: 1.0 for octaves, 3.05 for third octaves.
    Bands a spacing wide (Q 1.41 for octaves) also hit the centres, but dip or bulge between them: on
    random +/-6 dB octave targets at 48 kHz the response strayed up to 2.35 dB from the straight line (dB
    against log frequency) between centres, against 1.48 dB with this default (third octaves: 3.2 and
    2.0 dB). Wider bands interact more, which the solver absorbs.
    """
    if len(centres) < 2:
        ratio = 2.0
    else:
        ratio = (max(centres) / min(centres)) ** (1.0 / (len(centres) - 1))
    return math.sqrt(ratio) / (ratio - 1.0) / math.sqrt(2.0)


def graphic_eq_sos(sample_rate: float, centres_hz, gains_db, *, q: float | None = None) -> np.ndarray:
    """A bank of peaking biquads whose combined response is ``gains_db`` at ``centres_hz``.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    centres_hz : sequence of float, length bands
        Band centres in Hz, distinct, each between 0 and Nyquist (e.g. :data:`OCTAVE_CENTRES_HZ`,
        minus the top band below 32.1 kHz rates).
    gains_db : sequence of float, length bands
        Target combined gain at each centre.
    q : float, optional
        Q of every filter; by default derived from the centre spacing (1.0 for octaves, 3.05 for
        third octaves; see ``_default_q``).

    Returns
    -------
    ndarray, shape (bands, 6) or (0, 6), float64, read-only
        One peaking section per centre with the solved gains (see the module notes); the empty SOS
        when every target is 0 dB.

    Raises
    ------
    ValueError
        For mismatched lengths, repeated centres, a centre outside (0, Nyquist), or targets the bank
        cannot reach (the solver did not converge to 1e-4 dB).

    Examples
    --------
    >>> gains = (3, 0, -2, 0, 0, 1, 0, 0, 2, 0)
    >>> sos = graphic_eq_sos(48000, OCTAVE_CENTRES_HZ, gains)
    >>> bool(np.allclose(response_db(48000, OCTAVE_CENTRES_HZ, sos=sos), gains, atol=1e-3))
    True
    """
    centres = tuple(float(f) for f in np.atleast_1d(np.asarray(centres_hz, dtype=np.float64)))
    gains = tuple(float(g) for g in np.atleast_1d(np.asarray(gains_db, dtype=np.float64)))
    return _graphic_eq_sos(float(sample_rate), centres, gains, None if q is None else float(q))


@functools.lru_cache(maxsize=128)
def _graphic_eq_sos(fs: float, centres: tuple[float, ...], gains: tuple[float, ...], q: float | None) -> np.ndarray:
    fs = _check_rate(fs)
    if len(centres) != len(gains):
        raise ValueError(f"{len(centres)} centres_hz but {len(gains)} gains_db: give one gain per centre")
    if len(centres) == 0:
        return _EMPTY_SOS
    for f in centres:
        _check_freq("centre", f, fs)
    for g in gains:
        _check_gain(g)
    if len(set(centres)) != len(centres):
        raise ValueError(f"centres_hz {centres!r} contains a repeated centre")
    if all(g == 0.0 for g in gains):
        return _EMPTY_SOS
    q = _default_q(centres) if q is None else q
    if not math.isfinite(q) or q <= 0:
        raise ValueError(f"q {q!r} must be a positive finite number")

    target = np.array(gains)
    solved = target.copy()
    freqs = np.array(centres)
    for _ in range(_GEQ_MAX_ITER):
        # Column j: filter j's dB response at every centre per dB of its current gain.
        basis = np.empty((len(centres), len(centres)))
        total = np.zeros(len(centres))
        for j, (f0, g) in enumerate(zip(centres, solved)):
            probe = g if abs(g) > 1e-9 else _GEQ_PROBE_DB
            col = response_db(fs, freqs, sos=peaking_sos(fs, f0, probe, q))
            basis[:, j] = col / probe
            if probe == g:
                total += col
        error = target - total
        if np.max(np.abs(error)) < _GEQ_TOL_DB:
            break
        solved = solved + np.linalg.lstsq(basis, error, rcond=None)[0]
    else:
        raise ValueError(
            f"graphic EQ targets {gains!r} dB are not reachable with Q {q:.3g} at these centres "
            f"(residual {np.max(np.abs(error)):.3g} dB); use smaller steps between neighbouring bands"
        )
    rows = [peaking_sos(fs, f0, g, q) for f0, g in zip(centres, solved) if g != 0.0]
    return _readonly(np.concatenate(rows) if rows else _EMPTY_SOS)


def default_fir_taps(sample_rate: float) -> int:
    """Default linear-phase FIR length: a Hann main lobe 10 Hz wide from null to null, rounded up to odd.

    ``N = 4 fs / 10 Hz``: 17641 taps (0.2 s of delay each side, compensated by :func:`apply_fir`) at
    44.1 kHz. Frequency sampling with a window smooths the target curve with the window's spectrum; at a
    kink (the slope of the dB curve changing at a centre) the error grows with the lobe width. With the
    steepest +/-6 dB octave curve (+6, -6, +6, ... a 24 dB/octave change of slope at 62.5 Hz) the error
    measured 0.82 dB at ``fs / 5`` taps, 0.48 dB at ``fs / 3`` and 0.40 dB at this length.
    """
    n = math.ceil(4.0 * _check_rate(sample_rate) / _FIR_RESOLUTION_HZ)
    return n + 1 if n % 2 == 0 else n


def linear_phase_fir(sample_rate: float, freqs_hz, gains_db, *, taps: int | None = None) -> np.ndarray:
    """Symmetric (type I) FIR whose magnitude follows a dB curve drawn on a log-frequency axis.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    freqs_hz : sequence of float, length points
        Increasing frequencies in Hz, between 0 and Nyquist.
    gains_db : sequence of float, length points
        Gain at each frequency; between points the curve is linear in dB against log frequency, and
        flat beyond the first and last points.
    taps : int, optional
        Odd filter length; default :func:`default_fir_taps` (10 Hz resolution). With the default the
        magnitude follows any curve through +/-6 dB octave-band points to within 0.5 dB from 40 Hz up.

    Returns
    -------
    ndarray, shape (taps,) or (1,), float64, read-only
        The impulse response, exactly symmetric, delay ``(taps - 1) / 2`` samples (compensated by
        :func:`apply_fir`); ``[1.0]`` when every gain is 0 dB.

    Examples
    --------
    >>> h = linear_phase_fir(48000, [100.0, 1000.0, 10000.0], [2.0, 0.0, -1.5])
    >>> bool(np.array_equal(h, h[::-1]))
    True
    """
    freqs = tuple(float(f) for f in np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64)))
    gains = tuple(float(g) for g in np.atleast_1d(np.asarray(gains_db, dtype=np.float64)))
    return _linear_phase_fir(float(sample_rate), freqs, gains, taps)


@functools.lru_cache(maxsize=32)
def _linear_phase_fir(fs: float, freqs: tuple[float, ...], gains: tuple[float, ...], taps: int | None) -> np.ndarray:
    fs = _check_rate(fs)
    if len(freqs) != len(gains) or len(freqs) == 0:
        raise ValueError(f"{len(freqs)} freqs_hz and {len(gains)} gains_db: give one gain per frequency (at least one)")
    for f in freqs:
        _check_freq("frequency", f, fs)
    for g in gains:
        _check_gain(g)
    if any(b <= a for a, b in itertools.pairwise(freqs)):
        raise ValueError(f"freqs_hz {freqs!r} must be strictly increasing")
    if taps is None:
        taps = default_fir_taps(fs)
    if isinstance(taps, bool) or not isinstance(taps, (int, np.integer)) or taps < 3 or taps % 2 == 0:
        raise ValueError(f"taps {taps!r} must be an odd integer >= 3 (odd keeps the delay a whole number of samples)")
    if all(g == 0.0 for g in gains):
        return _IDENTITY_FIR
    taps = int(taps)
    # Sample the curve densely on firwin2's own grid so its linear interpolation adds nothing.
    nfreqs = 1 + 2 ** math.ceil(math.log2(2 * taps))
    grid = np.linspace(0.0, fs / 2, nfreqs)
    log_grid = np.log2(np.maximum(grid, freqs[0]))
    curve_db = np.interp(log_grid, np.log2(freqs), gains)  # np.interp holds the end values: flat beyond
    h = scipy.signal.firwin2(taps, grid, 10.0 ** (curve_db / 20.0), nfreqs=nfreqs, window="hann", fs=fs)
    h = 0.5 * (h + h[::-1])  # exact symmetry (firwin2 is symmetric to rounding only)
    return _readonly(h)


def apply_sos(x, sos, *, xp=None):
    """Filter along the last axis with second-order sections, from rest (zero initial state).

    Parameters
    ----------
    x : array, shape (channels, samples)
        Audio; NumPy or CuPy.
    sos : array_like, shape (sections, 6)
        Coefficients, e.g. from :func:`peaking_sos`; an empty SOS returns ``x`` itself (neutral skip).
    xp : module, optional
        Array namespace; defaults to that of ``x``.

    Returns
    -------
    array, shape like ``x``, float64

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((2, 1000))
    >>> apply_sos(x, graphic_eq_sos(48000, [1000.0], [0.0])) is x
    True
    """
    sos_np = np.asarray(sos, dtype=np.float64)
    if sos_np.ndim != 2 or sos_np.shape[1] != 6:
        raise ValueError(f"sos has shape {sos_np.shape}, expected (sections, 6)")
    if sos_np.shape[0] == 0:
        return x
    xp = array_namespace(x) if xp is None else xp
    signal = signal_module(xp)
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (channels, samples)")
    if xp is np:
        segments = _segments_for(sos_np, x.shape[0], x.shape[1])
        if segments is None:  # scipy's arithmetic to the last bit, two channels at a time
            return sos_cascade_with_state(sos_np, x, np.zeros((sos_np.shape[0], x.shape[0], 2)))[0]
        out = np.empty_like(x)
        _sos_segmented(np.ascontiguousarray(sos_np), np.ascontiguousarray(x), out, *segments)
        return out
    # A writeable copy: cached designs are read-only and scipy's sosfilt wants a writeable buffer.
    return signal.sosfilt(xp.array(sos_np, dtype=xp.float64, copy=True), x, axis=-1)


@numba.njit(cache=True, nogil=True)
def _sos_cascade_cpu(sos, x, out, zi):  # pragma: no cover - compiled; tested against scipy.signal.sosfilt
    """Transposed direct form II biquads in series (scipy's sosfilt arithmetic), channels in pairs, from the
    state ``zi`` (sections, channels, 2; sosfilt's layout for ``axis=-1``), which is left holding the end state."""
    nsec = sos.shape[0]
    channels, n = x.shape
    b0, b1, b2 = sos[:, 0].copy(), sos[:, 1].copy(), sos[:, 2].copy()
    a1, a2 = sos[:, 4].copy(), sos[:, 5].copy()
    for c0 in range(0, channels, 2):
        c1 = min(c0 + 1, channels - 1)
        za1, za2 = zi[:, c0, 0].copy(), zi[:, c0, 1].copy()
        zb1, zb2 = zi[:, c1, 0].copy(), zi[:, c1, 1].copy()
        for i in range(n):
            u = x[c0, i]
            v = x[c1, i]
            for s in range(nsec):
                yu = b0[s] * u + za1[s]
                yv = b0[s] * v + zb1[s]
                za1[s] = b1[s] * u - a1[s] * yu + za2[s]
                zb1[s] = b1[s] * v - a1[s] * yv + zb2[s]
                za2[s] = b2[s] * u - a2[s] * yu
                zb2[s] = b2[s] * v - a2[s] * yv
                u = yu
                v = yv
            out[c0, i] = u
            out[c1, i] = v
        zi[:, c0, 0] = za1
        zi[:, c0, 1] = za2
        zi[:, c1, 0] = zb1
        zi[:, c1, 1] = zb2


def sos_cascade_with_state(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy twin of ``scipy.signal.sosfilt(sos, x, axis=-1, zi=zi)`` for ``x`` of shape (channels, n): the same
    arithmetic in the same order (equal to the last bit), two channels' recursions interleaved (~1.5x faster
    on stereo). Returns ``(y, zf)``; ``zi`` is not modified."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    zf = np.array(zi, dtype=np.float64, copy=True, order="C")
    out = np.empty_like(x)
    if x.shape[0] and x.shape[1]:
        _sos_cascade_cpu(np.ascontiguousarray(sos, dtype=np.float64), x, out, zf)
    return out, zf


# ------------------------------------------------------------------------------------------------------------
# Long signals on CPU: the cascade cut into segments that run side by side.
#
# A biquad cascade is latency-bound on one signal: every sample waits for the previous one through all the
# sections, so two channels keep the CPU's multipliers mostly idle. Cut each channel into S segments and run all
# ``channels x S`` streams together from rest (``_STREAMS`` recursions interleaved, no dependency between them),
# and the output is right except at the start of each segment, where the true filter carried a state from the
# segment before. The cascade is linear and time-invariant, so the difference is exactly the cascade's response
# to zero input from that state (the *zero-input response*), which decays like the slowest pole: after
# ``decay`` samples (``max|pole| ** decay <= 1e-20``) it is under the float64 rounding of anything the state
# came from. ``_sos_fixup_cpu`` adds it to the first ``decay`` samples of every segment, in order, starting from
# the true end state of the segment before (the zero-state end state plus what is left of the response when a
# segment is shorter than ``decay``). Same result as one recursion to ~1e-12 of full scale (summation order
# and the high-pass's large internal states); 1.6-1.8x faster on 3 minutes of stereo through 12 sections.
_STREAMS = 16  # recursions run together: two 8-wide vectors of doubles
_BATCH = 128  # time steps per pass of one section over the streams: the (128, 16) buffer stays in L1
_RESIDUE = 1e-20  # the zero-input response is followed until the slowest pole has shrunk it this much
_MIN_SEGMENT_DECAYS = 4  # segment at least this many decay lengths, or the plain cascade is used


def _decay_samples(sos: np.ndarray) -> int | None:
    """Samples until every section's zero-input response is under ``_RESIDUE`` of its start (None: unstable or
    on the unit circle, where the response never dies out). Sections with nearly the same pole feed each other a
    response that decays like ``k r**k`` rather than ``r**k``: at ``k = decay`` (~40,000 samples for a 20 Hz
    high-pass at 44.1 kHz) that is still under 1e-15 of the start."""
    radius = 0.0
    for a1, a2 in sos[:, 4:6] / sos[:, 3:4]:
        radius = max(radius, float(np.max(np.abs(np.roots([1.0, a1, a2])))) if (a1 or a2) else 0.0)
    if radius >= 1.0 - 1e-9:
        return None
    if radius == 0.0:  # FIR sections: two samples of memory
        return 2
    return math.ceil(math.log(_RESIDUE) / math.log(radius))


def _segments_for(sos: np.ndarray, channels: int, n: int) -> tuple[int, int, int] | None:
    """``(segment length, segments per channel, decay)`` for the segmented cascade, or None for the plain one."""
    per_channel = _STREAMS // max(channels, 1)
    if per_channel < 2 or np.any(sos[:, 3] != 1.0):
        return None
    decay = _decay_samples(sos)
    if decay is None:
        return None
    segment = -(-n // per_channel)
    if segment < _MIN_SEGMENT_DECAYS * decay:
        return None
    return segment, per_channel, decay


def _sos_segmented(sos: np.ndarray, x: np.ndarray, out: np.ndarray, segment: int, per_channel: int,
                   decay: int) -> None:
    state1 = np.zeros((sos.shape[0], _STREAMS))
    state2 = np.zeros((sos.shape[0], _STREAMS))
    _sos_streams_cpu(sos, x, out, segment, per_channel, state1, state2)
    _sos_fixup_cpu(sos, out, segment, per_channel, state1, state2, decay)


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _sos_streams_cpu(sos, x, out, segment, per_channel, state1, state2):  # pragma: no cover - compiled; tested
    """Every (channel, segment) stream through the cascade from rest, ``_STREAMS`` side by side; leaves each
    stream's end state in ``state1``/``state2`` (sections x streams). Stream ``j`` is channel
    ``j // per_channel``, segment ``j % per_channel``; streams past the channels run on zeros."""
    nsec = sos.shape[0]
    channels, n = x.shape
    used = channels * per_channel
    buf = np.zeros((_BATCH, _STREAMS))
    z1 = np.zeros(_STREAMS)
    z2 = np.zeros(_STREAMS)
    for i0 in range(0, segment, _BATCH):
        m = min(_BATCH, segment - i0)
        for j in range(used):
            c = j // per_channel
            p0 = (j - c * per_channel) * segment + i0
            for i in range(m):
                p = p0 + i
                buf[i, j] = x[c, p] if p < n else 0.0
        for s in range(nsec):
            b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
            for j in range(_STREAMS):
                z1[j] = state1[s, j]
                z2[j] = state2[s, j]
            for i in range(m):
                for j in range(_STREAMS):
                    u = buf[i, j]
                    y = b0 * u + z1[j]
                    z1[j] = b1 * u - a1 * y + z2[j]
                    z2[j] = b2 * u - a2 * y
                    buf[i, j] = y
            for j in range(_STREAMS):
                state1[s, j] = z1[j]
                state2[s, j] = z2[j]
        for j in range(used):
            c = j // per_channel
            p0 = (j - c * per_channel) * segment + i0
            for i in range(m):
                p = p0 + i
                if p < n:
                    out[c, p] = buf[i, j]


@numba.njit(cache=True, nogil=True)
def _sos_fixup_cpu(sos, out, segment, per_channel, state1, state2, decay):  # pragma: no cover - compiled; tested
    """Add to each segment the cascade's zero-input response from the true end state of the segment before."""
    nsec = sos.shape[0]
    channels, n = out.shape
    z1 = np.empty(nsec)
    z2 = np.empty(nsec)
    for c in range(channels):
        for k in range(1, per_channel):
            lo = k * segment
            if lo >= n:
                break
            hi = min(lo + segment, n)
            j = c * per_channel + k
            for s in range(nsec):  # the true end state of segment k - 1 (already corrected)
                z1[s] = state1[s, j - 1]
                z2[s] = state2[s, j - 1]
            m = min(hi - lo, decay)
            for i in range(lo, lo + m):
                u = 0.0
                for s in range(nsec):
                    y = sos[s, 0] * u + z1[s]
                    z1[s] = sos[s, 1] * u - sos[s, 4] * y + z2[s]
                    z2[s] = sos[s, 2] * u - sos[s, 5] * y
                    u = y
                out[c, i] += u
            if m == hi - lo:  # the segment ended before the response died out: carry what is left
                for s in range(nsec):
                    state1[s, j] += z1[s]
                    state2[s, j] += z2[s]


def apply_fir(x, h, *, xp=None):
    """Convolve with a linear-phase FIR and remove its delay, so the output lines up with the input.

    Parameters
    ----------
    x : array, shape (channels, samples)
        Audio; NumPy or CuPy.
    h : array_like, shape (taps,)
        Odd-length impulse response centred at ``(taps - 1) / 2`` (e.g. :func:`linear_phase_fir`);
        ``[1.0]`` returns ``x`` itself (neutral skip).
    xp : module, optional
        Array namespace; defaults to that of ``x``.

    Returns
    -------
    array, shape like ``x``, float64
        ``y[n] = sum_k h[k] x[n + (taps - 1) / 2 - k]`` with zeros outside ``x`` (FFT overlap-add).

    Examples
    --------
    >>> x = np.zeros((1, 9)); x[0, 4] = 1.0
    >>> (apply_fir(x, [0.25, 0.5, 0.25])[0].round(12) + 0.0).tolist()  # + 0.0 turns -0.0 into 0.0
    [0.0, 0.0, 0.0, 0.25, 0.5, 0.25, 0.0, 0.0, 0.0]
    """
    h_np = np.asarray(h, dtype=np.float64)
    if h_np.ndim != 1 or h_np.shape[0] % 2 == 0:
        raise ValueError(f"h has shape {h_np.shape}, expected an odd length (taps,) so the delay is whole samples")
    if h_np.shape[0] == 1 and h_np[0] == 1.0:
        return x
    xp = array_namespace(x) if xp is None else xp
    signal = signal_module(xp)
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (channels, samples)")
    delay = (h_np.shape[0] - 1) // 2
    n = x.shape[-1]
    conv = getattr(signal, "oaconvolve", None) or signal.fftconvolve
    full = conv(x, xp.asarray(h_np)[None, :], mode="full", axes=-1)
    return xp.ascontiguousarray(full[:, delay : delay + n])


def response_db(sample_rate: float, freqs_hz, *, sos=None, fir=None) -> np.ndarray:
    """Magnitude response in dB of an SOS cascade, an FIR, or both in series.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    freqs_hz : array_like, shape (points,)
        Frequencies in Hz (0 to Nyquist).
    sos : array_like, shape (sections, 6), optional
        An empty SOS is 0 dB everywhere.
    fir : array_like, shape (taps,), optional

    Returns
    -------
    ndarray, shape (points,), float64
        ``20 log10 |H(f)|``; ``-inf`` at exact zeros.

    Examples
    --------
    >>> response_db(48000, [10.0, 1000.0], sos=highpass_sos(48000, 20.0)).round(2).tolist()
    [-24.1, -0.0]
    """
    fs = _check_rate(sample_rate)
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64))
    h = np.ones(freqs.shape, dtype=np.complex128)
    if sos is not None:
        sos_np = np.asarray(sos, dtype=np.float64)
        if sos_np.shape[0] > 0:
            h = h * scipy.signal.sosfreqz(sos_np, worN=freqs, fs=fs)[1]
    if fir is not None:
        h = h * scipy.signal.freqz(np.asarray(fir, dtype=np.float64), worN=freqs, fs=fs)[1]
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.abs(h))
