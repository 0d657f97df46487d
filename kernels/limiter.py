"""True-peak limiter for offline mastering: look-ahead, linked channels, verified by the QC's meter.

How the gain is made
--------------------
1. **Detector.** Every channel is oversampled ``oversample`` times (default 4x, at every rate) with the
   QC meter's own interpolation filter (:func:`kernels.truepeak.interpolation_filter`: a Nyquist filter,
   20 taps per phase, whose last phase passes the samples through exactly). ``|.|`` is maximised over each
   interval between two input samples, then ``peak[n]`` is the larger of the two intervals touching sample
   ``n`` (the value half-way between ``n`` and ``n + 1`` is made from both samples' gains, so both must
   honour it), and the maximum over channels (linked gain: the stereo image never moves). The signal is
   zero-padded by ``P / 2`` samples at both ends, so the interpolation's ramp-in and its tail after the
   last sample (which the meter flushes and reads) are limited too. Below 96 kHz the detector's grid and
   filter are the meter's, so its maximum *is* the meter's reading of the input.
2. **Required gain** ``r[n] = min(1, c / peak[n])``, ``c`` the internal ceiling (linear).
3. **Look-ahead attack**, ``K = round(lookahead_ms * fs / 1000)`` samples: a forward sliding minimum
   ``m[n] = min(r[n .. n + K - 1])`` then a trailing box average ``s[n] = mean(m[n - K + 1 .. n])``.

   *Why the gain at a peak is never above what it needs:* take any ``p``. Every ``k`` in
   ``[p - K + 1, p]`` has ``p`` inside its forward window ``[k, k + K - 1]``, so ``m[k] <= r[p]``; ``s[p]``
   is the mean of exactly those ``K`` values of ``m``, hence ``s[p] <= r[p]``. The gain ramps down
   linearly over the ``K`` samples before a peak (a smooth attack, no step) and reaches the needed value
   exactly at the peak; nothing is delayed, so the gain is aligned with the audio (no latency). (``K``
   unconstrained samples are put in front of the padded signal so that this holds in the first ``K``
   samples too.)
4. **Release**: the gain reduction in nepers, ``A = -ln(g)``, follows the attack instantly and decays
   exponentially, ``A[n] = max(-ln s[n], rho * A[n - 1])`` with ``rho = exp(-1 / (release_ms * fs / 1000))``:
   an exponential recovery *in dB* with time constant ``release_ms`` (63 % of the reduction, in dB, is
   recovered after ``release_ms``), the classic program-friendly release. ``g[n] = exp(-A[n]) <= s[n]``,
   so the guarantee of step 3 survives. This recursion is the one truly sequential loop.

Gain smoothness (a bound the tests check): with ``g_min`` the smallest gain applied,
``|g[n] - g[n-1]| <= max((1 - g_min) / K, (1 - rho) * ln(1 / g_min))``: the box average moves by at most
``(1 - g_min) / K`` per sample, and the release raises ``g = exp(-A)`` by at most
``exp(-rho A) - exp(-A) <= (1 - rho) A``. At 44.1 kHz with the defaults (``K`` = 88, release 100 ms) and
12 dB of reduction that is 0.0085 per sample, i.e. a full-scale sample moves at most -41 dBFS off its
unlimited course from one sample to the next because of the gain.

CPU and GPU twins
-----------------
One test each compares them; the GPU path also runs on NumPy, where the tests use it as the reference
for the CPU one.

- detector: :func:`_interval_peaks_cpu` (numba, blocks of 64 intervals: the ``L - 1`` interpolating
  phases as 20-tap sums vectorised across outputs, plus the pass-through sample; blocks whose bound
  ``G max|x|`` lies under the skip level hold that bound instead) / :func:`_interval_peaks_xp` (the
  meter's blocked products: ``P`` shifted copies times the polyphase matrix, every value exact);
- steps 2-4: :func:`_reduction_cpu` (numba, one pass: a monotone-deque sliding minimum, a running box
  sum that restarts from an exact 0 wherever its window holds no reduction, the release in nepers; then
  NumPy's vectorised ``exp``) / :func:`_gain_xp` (``minimum_filter1d`` and ``uniform_filter1d`` of
  ``scipy.ndimage`` / ``cupyx.scipy.ndimage``, then :func:`release_gain`);
- the release alone (:func:`release_gain`): :func:`_release_cpu` (numba) / :data:`_RELEASE_CUDA` (CuPy
  ``RawKernel``), a two-pass chunked scan: the map ``A -> max(d, rho * A)`` composes as
  ``A -> max(E, rho**len * A)``, so each thread runs its chunk from ``A = 0`` to get ``E``, a short scan
  (:func:`_chain_starts`) chains the chunks' start values, and each thread runs its chunk again from its
  start value, writing the gain. The same mathematics runs on CPU in ``test_chunked_scan_equals_one_pass``;
  the kernel itself in ``test_gpu_parity`` where there is a GPU.

Verification and passes
-----------------------
Scaling a signal by a smooth gain is not exactly scaling its interpolated peaks (the interpolation spans
20 samples over which the gain moves a little), so the output can read slightly over the internal
ceiling: at most 0.006 dB measured (white noise 12 dB over full scale; square waves 0.0004 dB). The first
pass therefore aims ``_FIRST_MARGIN_DB`` (0.01 dB) under ``ceiling_dbtp``, and its output is measured with
:class:`kernels.truepeak.TruePeakMeter` (the QC's meter, at its default oversampling for the rate). When
that reads above ``ceiling_dbtp``, the limiter runs again with the internal ceiling lowered by the excess
plus ``_PASS_MARGIN_DB`` (0.01 dB), at most ``_MAX_PASSES`` (4) passes in all (one sufficed on every test
signal). Should the last pass still read over, the output is trimmed by a constant gain of the remaining
excess plus the margin: the meter is linear in amplitude, so that always lands under the ceiling. Hence
the contract: **the output read by TruePeakMeter never exceeds ceiling_dbtp** (in float64; quantising to
24 bits afterwards moves a peak by ~1e-6 dB, dither by its own level).

An input that the meter reads at or under the ceiling is returned as it is: the same array, no copy, no
gain.

*The detector stands in for the meter on the meter's own grid* (below 96 kHz at the default 4x): same
filter, same windows (the flushed tail included), the same 20 products summed in another order, so its
maximum is the meter's reading to ~1e-15 dB (tests: random signals, music, drums and a tone cut off at
full swing, whose peak lies in the tail, within 1e-9 dB). Its reading is accepted only when it is exact
and at least ``_TRUST_DB`` (1e-6 dB) clear of the ceiling (over it for the input, under it for the
output); anything closer, and every other grid, is measured by the meter. On CPU the output ``y = x g``
is written and read in one pass (:func:`_apply_and_verify_cpu`) that skips blocks bounded under the
running maximum: writing ``y = g x`` with ``g`` in ``[g_lo, g_hi]`` over a block's samples,
``|sum h g x| <= g_hi |sum h x| + G (g_hi - g_lo) max|x|``, and the input's peaks are known, so on a
limited master only the blocks near a limited peak (~2 %) are computed. Exact skip in the input detector
too: where ``G max|x|`` over a block is under the internal ceiling less ``_SKIP_BELOW_DB`` (0.1 dB),
``r = 1`` whatever the exact value, so the block keeps the bound (a later pass that lowers the internal
ceiling under that level recomputes the detector). Hence ``true_peak_dbtp`` is the detector's reading
(equal to the meter's within 1e-9 dB, tested) or the meter's, and the contract holds as stated.

Not handled: a full-scale tone that starts or stops abruptly (not band-limited) rings at its edges by an
amount that depends on the interpolation filter; the QC meter is held to the ceiling there, but ffmpeg's
longer filter read such a limited fs/4 tone 0.5 dB above it. On the test signals (squares, faded fs/4
tone, drum hits, a loud mix) ffmpeg reads the output 0.0-0.1 dB above the ceiling, on white noise at
+12 dB (full band up to Nyquist, where the 4x grid is coarse: see kernels/truepeak.py) 0.3 dB above it.

Speed
-----
3 minutes of loud bass-heavy stereo at 44.1 kHz (``loud_mix`` in the tests, driven 6 dB over full scale,
7 dB of peak reduction), one core (``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=NUMBA_NUM_THREADS=1``,
``taskset -c 0``) of a shared 2-core box, best of 5: 0.19-0.22 s, 830-930x real time (was 0.62 s,
290x, with the meter verifying and a per-sample detector): input detector 0.067 s (0.089 s without its
skip), gain 0.061 s (0.010 s of it NumPy's exp), writing and checking the output 0.057 s (~2 % of its
blocks computed); the QC meter would take 0.3 s to read that output. ``test_speed_three_minutes_stereo``
(marked slow) asserts more than 100x.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from types import ModuleType

import numba
import numpy as np

from kernels._xp import array_namespace, to_numpy
from kernels.truepeak import (
    TAPS_PER_PHASE,
    TruePeakMeter,
    default_oversampling,
    interpolation_filter,
    phase_gain_bound,
)

__all__ = ["LimiterConfig", "LimiterResult", "limit_true_peak", "release_gain"]

_MAX_PASSES = 4
_TRUST_DB = 1e-6  # the detector stands in for the meter only this far clear of the ceiling (it agrees to ~1e-14 dB)
_SKIP_BELOW_DB = 0.1  # detector skip level under the internal ceiling: the output's peak sits at the ceiling
_FIRST_MARGIN_DB = 0.01  # internal ceiling of the first pass: its overs measured <= 0.006 dB (white noise +12 dB)
_PASS_MARGIN_DB = 0.01  # extra lowering per repeated pass, on top of the excess measured
_BLOCK = 1 << 15  # samples per polyphase product on CPU: the (P, block) copies stay in L2 cache
_GPU_BLOCK = 1 << 21
_GPU_CHUNK = 4096  # samples per thread in the GPU release scan
_FLUSH = 1e-20  # a reduction this small (nepers) is 0 dB to float64: flush it to keep denormals out
_SKIP_BLOCK = 64  # intervals per skip decision of the CPU detector: tight bounds, small buffers
_ABS_BITS = 0x7FFFFFFFFFFFFFFF
_INF_BITS = 0x7FF0000000000000  # |v| bit patterns from here up are inf or NaN
_TINY_REDUCTION = 1e-13  # box-average rounding residue below this is exactly no reduction (gain 1.0)


@dataclass(frozen=True)
class LimiterConfig:
    """Settings of :func:`limit_true_peak` (validated here, so a plan can hold and check them early).

    Attributes
    ----------
    ceiling_dbtp : float
        Highest true peak allowed at the output, dBTP, from -40 to 0.
    lookahead_ms : float
        Attack ramp length (and look-ahead), 0.1 to 50 ms.
    release_ms : float
        Time constant of the recovery of the gain reduction in dB, 1 to 5000 ms.
    oversample : int
        Detector oversampling, 4 to 16.
    """

    ceiling_dbtp: float = -1.0
    lookahead_ms: float = 2.0
    release_ms: float = 100.0
    oversample: int = 4

    def __post_init__(self):
        for name, lo, hi in (("ceiling_dbtp", -40.0, 0.0), ("lookahead_ms", 0.1, 50.0), ("release_ms", 1.0, 5000.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value) or not lo <= value <= hi:
                raise ValueError(f"{name} {value!r} must be a number from {lo:g} to {hi:g}")
        k = self.oversample
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 4 <= k <= 16:
            raise ValueError(f"oversample {k!r} must be an integer from 4 to 16 (true peak needs at least 4x)")


@dataclass(frozen=True)
class LimiterResult:
    """What :func:`limit_true_peak` did.

    Attributes
    ----------
    audio : array, shape (channels, n)
        Limited audio, float64, in the input's namespace; the input array itself when no gain was needed.
    max_reduction_db : float
        Largest gain reduction applied, dB (>= 0; 0.0 when the input was returned).
    true_peak_dbtp : float
        True peak of ``audio`` read by :class:`kernels.truepeak.TruePeakMeter`; ``<= ceiling_dbtp``.
    passes : int
        Limiter passes run (1 unless the first output read over the ceiling; at most 4).
    gain : array, shape (n,)
        The linked gain applied to every channel (ones when the input was returned).
    """

    audio: object
    max_reduction_db: float
    true_peak_dbtp: float
    passes: int
    gain: object


def limit_true_peak(x, sample_rate, *, ceiling_dbtp=-1.0, lookahead_ms=2.0, release_ms=100.0, oversample=4,
                    xp=None) -> LimiterResult:
    """Limit ``x`` so that its true peak stays at or under ``ceiling_dbtp``, without latency.

    Parameters
    ----------
    x : array, shape (channels, n)
        Audio in full-scale units (NumPy or CuPy), finite.
    sample_rate : float
        Hz.
    ceiling_dbtp, lookahead_ms, release_ms, oversample
        See :class:`LimiterConfig`.
    xp : module, optional
        ``numpy`` or ``cupy``; default the namespace of ``x``.

    Returns
    -------
    LimiterResult

    Raises
    ------
    ValueError
        For a badly shaped or non-finite ``x``, a bad rate or bad settings.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 48000
    >>> n = np.arange(fs)
    >>> fade = np.minimum(1.0, np.minimum(n, fs - 1 - n) / 480)  # 10 ms fades: no ringing at the edges
    >>> x = np.tile(fade * np.sin(2 * np.pi * n / 4 + np.pi / 4), (2, 1))  # samples 0.707, peak 1.0
    >>> r = limit_true_peak(x, fs, ceiling_dbtp=-1.0)
    >>> r.true_peak_dbtp <= -1.0, round(r.max_reduction_db, 2)
    (True, 1.01)
    """
    config = LimiterConfig(ceiling_dbtp=ceiling_dbtp, lookahead_ms=lookahead_ms, release_ms=release_ms,
                           oversample=oversample)
    fs = float(sample_rate) if isinstance(sample_rate, (int, float, np.integer, np.floating)) \
        and not isinstance(sample_rate, bool) else float("nan")
    if not math.isfinite(fs) or fs < 1000.0:
        raise ValueError(f"sample_rate {sample_rate!r} must be a number of Hz, at least 1000")
    if xp is None:
        xp = array_namespace(x)
    x = xp.asarray(x)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (channels, samples)")
    n = int(x.shape[1])

    ceiling = config.ceiling_dbtp
    lookahead = max(1, round(config.lookahead_ms * fs / 1000.0))
    rho = math.exp(-1.0 / (config.release_ms * fs / 1000.0))
    x64 = x.astype(xp.float64, copy=False)
    internal_db = ceiling - _FIRST_MARGIN_DB
    # Below 96 kHz at the default 4x the detector uses the meter's filter on the meter's grid and reads a
    # signal exactly as the meter does (to ~1e-15 relative: the sums' order), so it can stand in for the
    # meter wherever its reading is clear of the ceiling (see "Verification" in the module docstring).
    same_grid = config.oversample == default_oversampling(fs)
    cpu = xp is np and n > 0
    if cpu:
        # Intervals bounded under the skip level need no exact value: r = 1 there (all passes while the
        # internal ceiling stays above it), and the output check can bound them again from these bounds.
        skip_lin = 10.0 ** ((internal_db - _SKIP_BELOW_DB) / 20.0)
        peaks = _adjacent_max(_linked_intervals(np, x64, config.oversample, skip_lin))  # raises on NaN/inf
    else:
        if n and not bool(xp.isfinite(x).all()):
            raise ValueError("x contains NaN or infinite samples; a limiter cannot bound them")
        skip_lin = 0.0
        peaks = _linked_peaks(xp, x64, config.oversample) if n else xp.zeros(1)
    detector_lin = float(peaks.max())
    detector_db = 20.0 * math.log10(max(detector_lin, 1e-300))
    # (values stored under skip_lin are bounds, not readings: a maximum above it is exact)
    if same_grid and detector_db > ceiling + _TRUST_DB and detector_lin > skip_lin:
        true_peak = float("inf")
    else:
        true_peak = _true_peak_dbtp(x64, fs)
    y, gain, passes = x, None, 0
    while true_peak > ceiling and passes < _MAX_PASSES:
        passes += 1
        ceiling_lin = 10.0 ** (internal_db / 20.0)
        if cpu and ceiling_lin < skip_lin:  # a later pass went under the skip level: exact values again
            skip_lin = ceiling_lin * 10.0 ** (-_SKIP_BELOW_DB / 20.0)
            peaks = _adjacent_max(_linked_intervals(np, x64, config.oversample, skip_lin))
        gain = _gain(xp, peaks, ceiling_lin, lookahead, rho)[TAPS_PER_PHASE // 2:][:n]
        if cpu:
            y = np.empty((x64.shape[0], n))
            rows = np.ascontiguousarray(x64)
            exact, skipped = _apply_and_verify_cpu(rows, np.ascontiguousarray(gain), y, _phase_matrix(config.oversample)[:-1],
                                                   phase_gain_bound(config.oversample), skip_lin, peaks)
            reading = 20.0 * math.log10(exact) if exact > 0.0 else float("-inf")
            # The detector's reading stands for the meter's where it is exact (no skipped block could hold
            # more) and clearly under the ceiling; anything closer, or any other grid, goes to the meter.
            if same_grid and skipped <= exact and reading <= ceiling - _TRUST_DB:
                true_peak = reading
            else:
                true_peak = _true_peak_dbtp(y, fs)
        else:
            y = x64 * gain
            true_peak = _true_peak_dbtp(y, fs)
        internal_db -= max(true_peak - ceiling, 0.0) + _PASS_MARGIN_DB
    if true_peak > ceiling:  # last resort (see the module docstring): the meter is linear in amplitude
        trim = 10.0 ** (-(true_peak - ceiling + _PASS_MARGIN_DB) / 20.0)
        gain = gain * trim if gain is not None else xp.full(n, trim)
        y = x64 * gain
        true_peak = _true_peak_dbtp(y, fs)
    if gain is None:
        return LimiterResult(audio=x, max_reduction_db=0.0, true_peak_dbtp=true_peak, passes=0,
                             gain=xp.ones(n))
    g_min = float(gain.min()) if n else 1.0
    return LimiterResult(audio=y, max_reduction_db=max(0.0, -20.0 * math.log10(g_min)), true_peak_dbtp=true_peak,
                         passes=passes, gain=gain)


def _true_peak_dbtp(x, fs: float) -> float:
    if x.shape[1] == 0:
        return float("-inf")
    meter = TruePeakMeter(fs, int(x.shape[0]))
    meter.process(x)
    return meter.result().true_peak_dbtp


# ---------------------------------------------------------------------------------------------- detector
@functools.lru_cache(maxsize=8)
def _phase_matrix(oversample: int) -> np.ndarray:
    """``(L, P)``: row ``q`` dotted with ``x[s .. s + P - 1]`` is the interpolated value at ``s + P/2 - 1 + (q+1)/L``."""
    L = int(oversample)
    m = np.ascontiguousarray(interpolation_filter(L).reshape(TAPS_PER_PHASE, L)[::-1, :].T)
    m.flags.writeable = False
    return m


def _linked_peaks(xp: ModuleType, x, oversample: int, threshold: float = 0.0):
    """``peak[u]``, ``u = t + P/2``: max ``|interpolated|`` over ``(t - 1, t + 1)``, all channels, ``t`` in
    ``[-P/2, n + P/2)``; shape ``(n + P,)``. The numba loop on NumPy, BLAS products on CuPy.

    On NumPy, stretches whose bound ``G max|x|`` is at most ``threshold`` hold that bound instead of
    their exact peak (see :func:`_interval_peaks_cpu`); ``threshold = 0`` computes every value."""
    interval = _linked_intervals(xp, x, oversample, threshold)
    return xp.maximum(interval[:-1], interval[1:])


def _linked_intervals(xp: ModuleType, x, oversample: int, threshold: float = 0.0):
    """``interval[w]``: max ``|.|`` over ``(t - 1, t]``, ``t = w - P/2``, all channels, from the samples
    ``x[w - P .. w - 1]`` (zeros outside ``x``); ``w`` in ``[0, n + P]``."""
    taps = TAPS_PER_PHASE
    channels, n = int(x.shape[0]), int(x.shape[1])
    if xp is np:
        interval = np.empty(n + taps + 1)
        rows = np.ascontiguousarray(x, dtype=np.float64)
        if not _interval_peaks_cpu(rows, _phase_matrix(oversample)[:-1], phase_gain_bound(oversample),
                                   float(threshold), interval):
            raise ValueError("x contains NaN or infinite samples; a limiter cannot bound them")
        return interval
    padded = xp.zeros((channels, n + 2 * taps), dtype=xp.float64)
    padded[:, taps:taps + n] = x
    interval = xp.zeros(n + taps + 1, dtype=xp.float64)
    _interval_peaks_xp(xp, padded, _phase_matrix(oversample), interval)
    return interval


def _interval_peaks_xp(xp: ModuleType, padded, matrix, interval):
    """The detector as the meter computes it: per block, ``P`` shifted copies as columns, one product."""
    taps = TAPS_PER_PHASE
    matrix = xp.asarray(matrix)
    count = int(interval.shape[0])
    block = _BLOCK if xp is np else _GPU_BLOCK
    columns = xp.empty((taps, min(block, count)), dtype=xp.float64)
    for lo in range(0, count, block):
        hi = min(lo + block, count)
        cols = columns[:, : hi - lo]
        for ch in range(int(padded.shape[0])):
            row = padded[ch]
            for k in range(taps):
                cols[k] = row[lo + k: hi + k]
            out = matrix @ cols
            xp.maximum(interval[lo:hi], xp.abs(out).max(axis=0), out=interval[lo:hi])


# fastmath without 'nnan'/'ninf': the finiteness checks below must survive optimisation
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@numba.njit(cache=True, nogil=True)
def _span_bits(bits, first, last):  # pragma: no cover - compiled
    """Bit pattern of ``max |row[first .. last]|`` (indices clipped), ``bits`` the row viewed as int64: the
    sign bit cleared, non-negative doubles order as their bit patterns (and NaN/inf above every finite
    value), so the maximum is an integer reduction that vectorises (a float one without 'nnan' does not)."""
    lo = max(first, 0)
    hi = min(last + 1, bits.shape[0])
    peak = 0
    for s in range(lo, hi):
        b = bits[s] & _ABS_BITS
        peak = b if b > peak else peak
    return peak


@numba.njit(cache=True, nogil=True, fastmath=True)
def _range_of(values, lo, hi):  # pragma: no cover - compiled
    """``(min, max)`` of ``values[lo:hi]`` (finite values: full fastmath vectorises the reductions)."""
    top = -math.inf
    bottom = math.inf
    for s in range(lo, hi):
        v = values[s]
        top = max(top, v)
        bottom = min(bottom, v)
    return bottom, top


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _exact_block(row, first, matrix, m, best, tmp):  # pragma: no cover - compiled
    """``best[w] = max(best[w], |centre sample|, |phase q|)`` over the windows ``row[first + w ..
    first + w + P - 1]``, ``w < m``, zeros outside the row (copied into ``tmp`` only at the ends): the
    ``L - 1`` interpolating phases plus the pass-through sample. Vectorised across ``w`` (the 20-tap sum
    is unrolled: its length is a compile-time constant), accumulators in registers."""
    width = m + TAPS_PER_PHASE - 1
    if first < 0 or first + width > row.shape[0]:
        for j in range(width):
            s = first + j
            tmp[j] = row[s] if 0 <= s < row.shape[0] else 0.0
        src = tmp
        off = 0
    else:
        src = row
        off = first
    centre = TAPS_PER_PHASE // 2
    if matrix.shape[0] == 3:  # 4x, the default: the three phases share every load
        h0 = matrix[0]
        h1 = matrix[1]
        h2 = matrix[2]
        for w in range(m):
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            for k in range(TAPS_PER_PHASE):
                v = src[off + w + k]
                a0 += h0[k] * v
                a1 += h1[k] * v
                a2 += h2[k] * v
            best[w] = max(best[w], abs(src[off + w + centre]), abs(a0), abs(a1), abs(a2))
        return
    for w in range(m):
        best[w] = max(best[w], abs(src[off + w + centre]))
    for q in range(matrix.shape[0]):
        h = matrix[q]
        for w in range(m):
            acc = 0.0
            for k in range(TAPS_PER_PHASE):
                acc += h[k] * src[off + w + k]
            best[w] = max(best[w], abs(acc))


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _interval_peaks_cpu(x, matrix, gain_bound, threshold, interval):  # pragma: no cover - compiled; tested
    """CPU detector: ``interval[w]`` (``w`` in ``[0, n + P]``) from the samples ``x[:, w - P .. w - 1]``,
    zeros outside, in blocks of ``_SKIP_BLOCK`` intervals: no padded copy of the signal, nothing the size
    of the oversampled signal written.

    Exact skip: a block whose bound ``G * max|x|`` over its samples (``G`` = ``gain_bound``, the largest
    ``sum |h_q|``; times ``1 + 1e-9`` for rounding) is at most ``threshold`` stores that bound instead,
    an upper bound of its exact values (the gain needs no exact value under the ceiling: ``r = 1`` there).
    ``fastmath`` only reorders the 20-term sums (~1e-16). Returns False if ``x`` holds a non-finite value."""
    channels = x.shape[0]
    count = interval.shape[0]
    tmp = np.zeros(_SKIP_BLOCK + TAPS_PER_PHASE)
    bits = x.view(np.int64)
    conv = np.empty(1, np.int64)
    as_float = conv.view(np.float64)
    for lo in range(0, count, _SKIP_BLOCK):
        m = min(_SKIP_BLOCK, count - lo)
        best = interval[lo:lo + m]
        best[:] = 0.0
        first = lo - TAPS_PER_PHASE
        for ch in range(channels):
            row = x[ch]
            # every sample lies in some block's span: this also checks that x is finite
            conv[0] = _span_bits(bits[ch], first, first + m + TAPS_PER_PHASE - 2)
            if conv[0] >= _INF_BITS:
                return False
            bound = gain_bound * as_float[0] * (1.0 + 1e-9)
            if bound <= threshold:
                for w in range(m):
                    best[w] = max(best[w], bound)
            else:
                _exact_block(row, first, matrix, m, best, tmp)
    return True


def _adjacent_max(interval):
    """``peak[u] = max(interval[u], interval[u + 1])`` in place (no second signal-sized array); a view."""
    _adjacent_max_cpu(interval)
    return interval[:-1]


@numba.njit(cache=True, nogil=True)
def _adjacent_max_cpu(values):  # pragma: no cover - compiled
    for u in range(values.shape[0] - 1):
        values[u] = max(values[u], values[u + 1])


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _apply_and_verify_cpu(x, gain, y, matrix, gain_bound, floor, interval_x):  # pragma: no cover - compiled
    """``y = x * gain`` (each channel), and the largest interval peak of ``y`` over every window that the
    meter reads (the same windows as :func:`_interval_peaks_cpu`, flushed tail included).

    ``interval_x[w]`` bounds the input's interval ``w`` (exact values, bounds, or the detector's peaks
    ``max(interval[w], interval[w + 1])``, length ``n + P``: every one is an upper bound; a block takes
    the maximum over ``interval_x[lo : lo + m]``, clipped to its length).

    Exact skip: a block's values are bounded by ``G * max|y|`` and, writing ``y = g x`` with ``g`` between
    ``g_lo`` and ``g_hi`` over the block's samples, by ``g_hi * max(interval_x) + G (g_hi - g_lo) max|x|``
    (``sum h g x = g_hi sum h x + sum h (g - g_hi) x``); blocks bounded by ``max(floor, running maximum)``
    are skipped. Returns ``(exact, skipped)``: the maximum over the computed blocks and the largest bound
    of a skipped one; ``exact`` is the maximum over all windows when ``skipped <= exact``."""
    channels, n = x.shape
    count = n + TAPS_PER_PHASE + 1  # intervals w in [0, n + P]
    tmp = np.zeros(_SKIP_BLOCK + TAPS_PER_PHASE)
    best = np.zeros(_SKIP_BLOCK)
    exact = 0.0
    skipped = 0.0
    x_bits = x.view(np.int64)
    y_bits = y.view(np.int64)
    conv = np.empty(1, np.int64)
    as_float = conv.view(np.float64)
    for lo in range(0, count, _SKIP_BLOCK):
        m = min(_SKIP_BLOCK, count - lo)
        first = lo - TAPS_PER_PHASE  # samples [first, last] feed this block's windows
        last = lo + m - 2
        for ch in range(channels):  # the product for the samples that earlier blocks did not reach
            xr = x[ch]
            yr = y[ch]
            for s in range(max(lo - 1, 0), min(last + 1, n)):
                yr[s] = xr[s] * gain[s]
        best[:m] = 0.0
        computed = False
        spread_known = False
        g_lo = g_hi = ix = 1.0
        for ch in range(channels):
            level = max(floor, exact)
            conv[0] = _span_bits(y_bits[ch], first, last)
            bound = gain_bound * as_float[0] * (1.0 + 1e-9)
            if bound > level:
                if not spread_known:  # the second bound's gain range, only where the first does not do
                    spread_known = True
                    g_lo, g_hi = _range_of(gain, max(first, 0), min(last + 1, n))
                    if g_hi < g_lo:  # no sample in the span (cannot happen for n >= 1; kept for safety)
                        g_lo = g_hi = 1.0
                    ix = _range_of(interval_x, lo, min(lo + m, interval_x.shape[0]))[1]
                conv[0] = _span_bits(x_bits[ch], first, last)
                spread = g_hi * ix + gain_bound * (g_hi - g_lo) * as_float[0]
                bound = min(bound, spread * (1.0 + 1e-9))
            if bound <= level:
                skipped = max(skipped, bound)
            else:
                _exact_block(y[ch], first, matrix, m, best, tmp)
                computed = True
        if computed:
            for w in range(m):
                exact = max(exact, best[w])
    return exact, skipped


# ------------------------------------------------------------------------------------------------- gain
def _ndimage(xp: ModuleType) -> ModuleType:
    if xp is np:
        import scipy.ndimage  # imported when first needed, like kernels._xp.signal_module

        return scipy.ndimage
    import cupyx.scipy.ndimage  # optional dependency, GPU path only

    return cupyx.scipy.ndimage


def _gain(xp: ModuleType, peaks, ceiling_lin: float, lookahead: int, rho: float):
    """Gain over the padded domain (steps 2-4): the fused numba loop on NumPy, array operations on CuPy."""
    if xp is np:
        out = np.empty_like(peaks)
        _reduction_cpu(peaks, float(ceiling_lin), int(lookahead), float(rho), out)  # writes -A
        return np.exp(out, out=out)
    return _gain_xp(xp, peaks, ceiling_lin, lookahead, rho)


def _gain_xp(xp: ModuleType, peaks, ceiling_lin: float, lookahead: int, rho: float):
    """Steps 2-4 as array operations (SciPy/CuPy ndimage filters and :func:`release_gain`): the GPU path,
    and on NumPy the reference that the fused CPU loop is tested against."""
    required = xp.minimum(1.0, ceiling_lin / xp.maximum(peaks, 1e-300))
    # K unconstrained samples in front, so the attack towards a peak in the first K samples starts before
    # the domain (the box's zero padding would otherwise pretend nothing was needed there); dropped below.
    required = xp.concatenate([xp.ones(lookahead, dtype=xp.float64), required])
    nd = _ndimage(xp)
    # forward window [n, n + K - 1]; beyond the ends nothing is required (1.0)
    ahead = nd.minimum_filter1d(required, lookahead, origin=-(lookahead // 2), mode="constant", cval=1.0)
    # trailing mean over [n - K + 1, n], taken on the reduction 1 - m so unlimited stretches sum exact zeros
    reduction = nd.uniform_filter1d(1.0 - ahead, lookahead, origin=(lookahead - 1) // 2, mode="constant",
                                    cval=0.0)
    reduction = xp.where(reduction < _TINY_REDUCTION, 0.0, reduction)[lookahead:]
    return release_gain(1.0 - reduction, rho, xp=xp)


def release_gain(smoothed, rho: float, *, xp=None):
    """Apply the release recursion ``A[n] = max(-ln s[n], rho A[n-1])``, ``g = exp(-A)``, from ``A = 0``.

    Parameters
    ----------
    smoothed : array, shape (n,)
        Gains ``s`` in ``(0, 1]`` after the look-ahead smoothing.
    rho : float
        Per-sample decay of the reduction in nepers, ``exp(-1 / release_samples)``, in ``[0, 1)``.
    xp : module, optional
        Namespace; default that of ``smoothed``. NumPy runs the numba twin, CuPy the CUDA twin.

    Returns
    -------
    array, shape (n,)
        ``g <= s`` everywhere; exactly 1.0 where ``s`` is 1.0 and no earlier reduction is left.

    Examples
    --------
    >>> import numpy as np
    >>> g = release_gain(np.array([1.0, 0.5, 1.0, 1.0]), 0.5)
    >>> np.round(g, 4).tolist()
    [1.0, 0.5, 0.7071, 0.8409]
    """
    if xp is None:
        xp = array_namespace(smoothed)
    s = xp.ascontiguousarray(xp.asarray(smoothed, dtype=xp.float64))
    out = xp.empty_like(s)
    if xp is np:
        _release_cpu(s, float(rho), 0.0, out)
        return out
    return _release_gpu(xp, s, float(rho), out)


@numba.njit(cache=True, nogil=True)
def _reduction_cpu(peaks, ceiling, k, rho, out):  # pragma: no cover - compiled; tested against _gain_xp
    """Steps 2-4 in one pass (CPU), writing minus the reduction, ``-A`` (nepers; :func:`_gain` takes ``exp``
    with NumPy's vectorised ``exp``, a scalar ``exp`` per sample cost more than everything else here):
    required gain, forward minimum (a monotone deque), trailing box mean (a running sum that restarts from
    an exact 0 whenever its window holds no reduction, so unlimited stretches get ``A = 0``, a gain of
    exactly 1.0) and the release, without any array the size of the input. ``log`` runs only where the
    box holds a reduction."""
    n = peaks.shape[0]
    total = n + k  # k unconstrained samples in front, as in _gain_xp
    size = 1
    while size < k + 1:
        size *= 2
    mask = size - 1  # ring indices by mask, not modulo: an integer division per sample cost ~10 %
    dq_idx = np.empty(size, np.int64)
    dq_val = np.empty(size)
    head = 0
    tail = 0
    ring = np.zeros(k)  # reductions 1 - m of the last k windows
    slot = 0
    acc = 0.0
    nonzero = 0
    a = 0.0
    for idx in range(total + k - 1):
        if idx < total:
            v = 1.0
            if idx >= k:
                p = peaks[idx - k]
                if p > ceiling:
                    v = ceiling / p
            while tail > head and dq_val[(tail - 1) & mask] >= v:
                tail -= 1
            dq_idx[tail & mask] = idx
            dq_val[tail & mask] = v
            tail += 1
        e = idx - k + 1  # window [e, e + k - 1] is complete
        if e < 0:
            continue
        if dq_idx[head & mask] < e:
            head += 1
        red = 1.0 - dq_val[head & mask]
        old = ring[slot]
        if old != 0.0:
            nonzero -= 1
        if red != 0.0:
            nonzero += 1
        ring[slot] = red
        slot += 1
        if slot == k:
            slot = 0
        acc += red - old
        if nonzero == 0:
            acc = 0.0
        i = e - k
        if i < 0:
            continue
        a *= rho
        if acc != 0.0:
            s = 1.0 - acc / k
            if s < 1.0:
                a = max(-math.log(s), a)
        if a < _FLUSH:
            a = 0.0
        out[i] = -a


@numba.njit(cache=True, nogil=True)
def _release_cpu(s, rho, start, out):  # pragma: no cover - compiled; tested against a Python reference
    """CPU twin: the recursion from reduction ``start`` (nepers); returns the final reduction."""
    a = start
    for i in range(s.shape[0]):
        v = s[i]
        d = -math.log(v) if v < 1.0 else 0.0
        a = max(d, rho * a)
        if a < _FLUSH:
            a = 0.0
        out[i] = math.exp(-a) if a > 0.0 else 1.0
    return a


# GPU twin. Mode 0: each thread runs its chunk from reduction 0 and stores the end value; mode 1: each runs
# it again from its start value, writing the gain. Same operations as _release_cpu, in the same order.
_RELEASE_CUDA = r"""
extern "C" __global__
void limiter_release(const double* s, double* out, double* ends, const double* starts,
                     const long long n, const long long chunk, const double rho, const int write)
{
    long long k = (long long)blockDim.x * blockIdx.x + threadIdx.x;
    long long lo = k * chunk;
    if (lo >= n) return;
    long long hi = lo + chunk < n ? lo + chunk : n;
    double a = write ? starts[k] : 0.0;
    for (long long i = lo; i < hi; ++i) {
        double v = s[i];
        double d = v < 1.0 ? -log(v) : 0.0;
        a = fmax(d, rho * a);
        if (a < 1e-20) a = 0.0;
        if (write) out[i] = a > 0.0 ? exp(-a) : 1.0;
    }
    if (!write) ends[k] = a;
}
"""


@functools.lru_cache(maxsize=1)
def _release_kernel():
    import cupy  # optional dependency, GPU path only

    return cupy.RawKernel(_RELEASE_CUDA, "limiter_release")


@numba.njit(cache=True)
def _chain_starts(ends, decay, starts):  # pragma: no cover - compiled
    """Start reduction of each chunk: ``start[k] = max(E[k-1], decay * start[k-1])`` (``decay = rho**chunk``)."""
    a = 0.0
    for k in range(ends.shape[0]):
        starts[k] = a
        a = max(ends[k], decay * a)
        if a < _FLUSH:
            a = 0.0


def _release_gpu(xp: ModuleType, s, rho: float, out):
    n = int(s.shape[0])
    if n == 0:
        return out
    chunks = -(-n // _GPU_CHUNK)
    ends = xp.zeros(chunks, dtype=xp.float64)
    threads = 128
    grid = (-(-chunks // threads),)
    kernel = _release_kernel()
    args = (np.int64(n), np.int64(_GPU_CHUNK), np.float64(rho))
    kernel(grid, (threads,), (s, out, ends, ends, *args, np.int32(0)))
    starts = np.empty(chunks)
    _chain_starts(to_numpy(ends), rho ** _GPU_CHUNK, starts)
    kernel(grid, (threads,), (s, out, ends, xp.asarray(starts), *args, np.int32(1)))
    return out
