"""Streaming true-peak meter (ITU-R BS.1770-4 Annex 2) with an exact skip for quiet passages.

The interpolation filter
------------------------
The signal is oversampled ``L`` times (4x below 96 kHz, 2x at 96 kHz and above, as BS.1770 asks)
with a polyphase FIR designed here: a Kaiser-windowed sinc (beta 6) with its cutoff exactly at the
input Nyquist frequency, 20 taps per phase (80 taps at 4x, 40 at 2x).

- Cutoff at Nyquist makes the filter an L-th-band (Nyquist) filter: one phase is a pure delay whose
  taps are exactly 0 except a 1, so the original samples appear unchanged among the outputs and the
  true peak can never read below the sample peak.
- 20 taps per phase with beta 6 keeps every phase's interpolation error (magnitude and phase against
  an ideal fractional delay) under 0.01 dB up to 0.40 fs (17.6 kHz at 44.1 kHz, 19.2 kHz at 48 kHz)
  and under 0.2 dB at 0.42 fs. The same window with 12 taps per phase (the length of BS.1770's
  example 48-tap 4x filter) is off by about 0.9 dB at 0.40 fs. Above about 0.4 fs the finite oversampling grid dominates anyway (a 0.4 fs tone
  can peak between 4x output samples and read up to 0.44 dB low; ffmpeg's 192 kHz resampling has
  the same limit, which is why a 0.3 dB budget against it on music is realistic).
- Cost: shorter filters are not proportionally cheaper here (see below): per 4096 outputs, 12, 16, 20
  and 24 taps per phase measured 25, 31, 36 and 41 us; 16 taps (beta 5) would save 15 % of the
  oversampling time but is 3x less flat at 0.40 fs (0.04 dB).

Cross-check: ffmpeg's ``ebur128=peak=true`` (which resamples to 192 kHz) within 0.3 dB on music.

How it is computed, and the exact skip
--------------------------------------
Each output is a dot product of the last ``P`` = 20 input samples with one phase of the filter, so a
stretch of ``n`` outputs is one matrix product: the ``(L, P)`` polyphase matrix times the ``(P, n)``
matrix whose row ``k`` is the input shifted by ``k`` (filled by ``P`` contiguous copies), run through
BLAS in float64. Measured on one core, computing every output this way costs about 12-18 ns per
sample and channel, roughly 3x less than ``scipy.signal.upfirdn`` with the same filter; ``upfirdn`` in
float32 was barely faster than in float64, and float32 would give up the 1e-6 dB agreement with a
float64 reference that the tests demand.

Every output of phase ``p`` is bounded by ``max|x|`` over its ``P`` input samples times
``sum(|h_p|)``; the largest such sum over phases, ``G`` (about +6.8 dB at these settings), turns a
chunk's sample peak into a bound on all of its interpolated values. A chunk of ``_CHUNK`` = 1024
outputs whose bound does not exceed the running true-peak maximum of its channel cannot raise it, so
it is skipped without approximation. Chunks are visited loudest first, so the maximum rises early;
a chunk that must be computed takes along up to ``_RUN_CHUNKS - 1`` neighbours that the current
maximum cannot rule out either (fewer, larger products). On 3 minutes of dynamic stereo music-like
material at 44.1 kHz about 3 % of the chunks get computed (true peak ~4700x real time); a loud
limited master, whose peaks sit at the ceiling throughout, still needs about 80 % (~1100x real
time). On CuPy arrays every output is computed, in one product per channel and block, since
per-chunk decisions would stall the GPU; both paths give the same value.

The last ``P - 1`` samples of each channel are carried between blocks, and :meth:`TruePeakMeter.result`
flushes the filter tail (the interpolation past the last sample, with zeros after it), so the value is
that of one convolution over the whole stream, whatever the block sizes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

from kernels._xp import array_namespace, as_block, check_channels, to_numpy

__all__ = ["TruePeakMeter", "TruePeakResult", "default_oversampling", "interpolation_filter", "phase_gain_bound"]

TAPS_PER_PHASE = 20  # must be even, so that the pass-through phase lines up (see interpolation_filter)
KAISER_BETA = 6.0
_CHUNK = 1024  # outputs per skip decision: small enough for tight bounds, large enough to amortise a call
_RUN_CHUNKS = 4  # at most this many adjacent chunks that all need computing go in one product
_MAX_OVERSAMPLING = 32


def default_oversampling(sample_rate: float) -> int:
    """BS.1770-4's oversampling: 4x below 96 kHz (so 4x at 88.2 kHz), 2x at 96 kHz and above."""
    return 4 if float(sample_rate) < 96000.0 else 2


@functools.lru_cache(maxsize=16)
def interpolation_filter(oversampling: int) -> np.ndarray:
    """The prototype low-pass of the ``oversampling``-times interpolator.

    Parameters
    ----------
    oversampling : int
        Interpolation factor ``L`` (2 to 32).

    Returns
    -------
    ndarray, shape (L * TAPS_PER_PHASE,), float64, read-only
        Taps ``h``; phase ``p`` is ``h[p::L]``. DC gain of every phase is about 1 and phase ``L - 1``
        is exactly a unit impulse (a pure delay of ``TAPS_PER_PHASE / 2 - 1`` input samples).
    """
    L = int(oversampling)
    n_taps = L * TAPS_PER_PHASE
    index = np.arange(n_taps + 1)
    # Symmetric length N + 1 design centred on N / 2; its first tap is a zero of the sinc, so dropping
    # it leaves N taps without changing the filter (only its delay, by one output sample).
    taps = np.sinc((index - n_taps / 2) / L) * scipy.signal.windows.kaiser(n_taps + 1, KAISER_BETA)
    taps = taps[1:].copy()
    centre = n_taps // 2 - 1
    # The sinc's zeros come out as ~1e-17 in floating point; make the pass-through phase exact.
    taps[centre % L :: L] = 0.0
    taps[centre] = 1.0
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=16)
def _polyphase_matrix(oversampling: int) -> np.ndarray:
    """``(P, L)`` matrix so that ``windows @ M`` interpolates: row ``k`` multiplies ``x[j - P + 1 + k]``."""
    L = int(oversampling)
    m = np.ascontiguousarray(interpolation_filter(L).reshape(TAPS_PER_PHASE, L)[::-1, :])
    m.flags.writeable = False
    return m


def phase_gain_bound(oversampling: int) -> float:
    """``G = max_p sum(|h_p|)``: no interpolated value exceeds ``G`` times the peak of its inputs."""
    return float(np.abs(_polyphase_matrix(oversampling)).sum(axis=0).max())


def _db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0.0 else float("-inf")


@dataclass(frozen=True)
class TruePeakResult:
    """True and sample peaks of one stream.

    Attributes
    ----------
    true_peak_dbtp : float
        Maximum over channels of the interpolated peak, dBTP; ``-inf`` for silence.
    channel_true_peak_dbtp : tuple of float
        Per channel.
    sample_peak_dbfs : float
        Maximum over channels of ``max|x|``, dBFS; ``-inf`` for silence.
    channel_sample_peak_dbfs : tuple of float
        Per channel.
    oversampling : int
        The interpolation factor used.
    """

    true_peak_dbtp: float
    channel_true_peak_dbtp: tuple[float, ...]
    sample_peak_dbfs: float
    channel_sample_peak_dbfs: tuple[float, ...]
    oversampling: int


class TruePeakMeter:
    """Streaming true-peak meter.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    channels : int
        Number of channels of every block.
    oversampling : int, optional
        Interpolation factor, at least 2; default :func:`default_oversampling` for the rate.

    Attributes
    ----------
    chunks_seen, chunks_computed : int
        Channel-chunks of ``_CHUNK`` samples fed so far, and how many of them the exact skip could
        not rule out (NumPy path only); their ratio is the fraction of the oversampling work done.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 48000
    >>> n = np.arange(fs)
    >>> fade = np.minimum(1.0, np.minimum(n, fs - 1 - n) / 480)  # 10 ms fades: no ringing at the edges
    >>> x = np.tile(0.5 * fade * np.sin(2 * np.pi * n / 4 + np.pi / 4), (2, 1))  # samples reach 0.354
    >>> meter = TruePeakMeter(fs, 2)
    >>> meter.process(x)
    >>> r = meter.result()
    >>> round(r.sample_peak_dbfs, 2), round(r.true_peak_dbtp, 2)
    (-9.03, -6.02)
    """

    def __init__(self, sample_rate: float, channels: int, *, oversampling: int | None = None):
        fs = float(sample_rate)
        if not math.isfinite(fs) or fs <= 0:
            raise ValueError(f"sample_rate {sample_rate!r} must be a positive finite number of Hz")
        check_channels(channels)
        if oversampling is None:
            oversampling = default_oversampling(fs)
        elif (
            isinstance(oversampling, bool)
            or not isinstance(oversampling, (int, np.integer))
            or not 2 <= oversampling <= _MAX_OVERSAMPLING
        ):
            raise ValueError(
                f"oversampling {oversampling!r} must be an integer from 2 to {_MAX_OVERSAMPLING} "
                "(BS.1770 asks for at least 4x below 96 kHz)"
            )
        self.sample_rate = fs
        self.channels = int(channels)
        self.oversampling = int(oversampling)
        self._matrix_np = _polyphase_matrix(self.oversampling)
        self._matrix_t = np.ascontiguousarray(self._matrix_np.T)
        self._matrix = None  # in the namespace of the blocks, made at the first block
        self._gain_bound = phase_gain_bound(self.oversampling)
        self._history = None
        self._true_peak = np.zeros(self.channels)  # running max |interpolated|, linear
        # Bookkeeping for tests and benchmarks: how many chunks the skip had to compute.
        self.chunks_seen = 0
        self.chunks_computed = 0
        self._skip = True  # False computes every output on NumPy too (the GPU path; used by tests)
        self._buffers: dict[str, np.ndarray] = {}
        self._sample_peak = np.zeros(self.channels)

    def process(self, block) -> None:
        """Feed the next block.

        Parameters
        ----------
        block : array, shape (channels, n)
            Samples in full-scale units (NumPy or CuPy, the same kind for every block); any ``n``,
            including 0 and 1.
        """
        xp, block = as_block(block, self.channels)
        n = int(block.shape[1])
        if n == 0:
            return
        taps = TAPS_PER_PHASE
        if self._history is None:
            self._history = xp.zeros((self.channels, taps - 1), dtype=xp.float64)
            self._matrix = xp.asarray(self._matrix_np)
        if xp is not np or not self._skip:
            extended = xp.concatenate([self._history, block], axis=1)
            self._history = extended[:, n:].copy()
            np.maximum(self._sample_peak, to_numpy(xp.abs(block).max(axis=1)), out=self._sample_peak)
            self._scan_all(xp, extended, self._true_peak)
            return
        # NumPy: work in buffers kept between blocks (fresh megabyte arrays per block cost more in page
        # faults than the arithmetic they hold).
        extended = self._buffer("_extended", n + taps - 1)
        extended[:, : taps - 1] = self._history
        extended[:, taps - 1 :] = block
        self._history = extended[:, n:].copy()
        magnitude = self._magnitude_of(extended, n)
        np.maximum(self._sample_peak, magnitude[:, taps - 1 : taps - 1 + n].max(axis=1), out=self._sample_peak)
        self._scan_skipping(extended, magnitude, n, self._true_peak)

    def result(self) -> TruePeakResult:
        """Peaks for everything fed so far, including the filter's tail after the last sample."""
        true_peak = self._true_peak.copy()
        if self._history is not None:
            xp = array_namespace(self._history)
            tail = xp.concatenate([self._history, xp.zeros_like(self._history)], axis=1)
            if xp is not np or not self._skip:
                self._scan_all(xp, tail, true_peak)
            else:
                counts = (self.chunks_seen, self.chunks_computed)
                n = TAPS_PER_PHASE - 1
                self._scan_skipping(tail, self._magnitude_of(tail, n), n, true_peak)
                self.chunks_seen, self.chunks_computed = counts  # result() leaves the meter as it was
        channel_tp = tuple(_db(float(v)) for v in true_peak)
        channel_sp = tuple(_db(float(v)) for v in self._sample_peak)
        return TruePeakResult(
            true_peak_dbtp=max(channel_tp),
            channel_true_peak_dbtp=channel_tp,
            sample_peak_dbfs=max(channel_sp),
            channel_sample_peak_dbfs=channel_sp,
            oversampling=self.oversampling,
        )

    def _buffer(self, name: str, length: int) -> np.ndarray:
        """A ``(channels, length)`` view of a float64 work buffer that grows as needed."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1] < length:
            buf = np.empty((self.channels, max(length, 4096)))
            self._buffers[name] = buf
        return buf[:, :length]

    def _magnitude_of(self, extended: np.ndarray, n: int) -> np.ndarray:
        """``|extended|`` followed by zeros up to a whole number of chunks plus one (see the bounds)."""
        width = (-(-n // _CHUNK) + 1) * _CHUNK
        magnitude = self._buffer("_magnitude", width)
        np.abs(extended, out=magnitude[:, : extended.shape[1]])
        magnitude[:, extended.shape[1] :] = 0.0
        return magnitude

    def _scan_all(self, xp, extended, running: np.ndarray) -> None:
        """Raise ``running`` (per channel, in place) to the peak of every output of ``extended``.

        ``extended`` is ``(channels, P - 1 + n)``: the carried history followed by the new samples;
        output position ``j`` is interpolated from ``extended[:, j : j + P]``.
        """
        for ch in range(self.channels):
            out = _windows(xp, extended[ch], TAPS_PER_PHASE) @ self._matrix
            running[ch] = max(running[ch], float(xp.maximum(out.max(), -out.min())))

    def _scan_skipping(self, extended: np.ndarray, magnitude: np.ndarray, n: int, running: np.ndarray) -> None:
        """As :meth:`_scan_all`, but only for the chunks whose bound exceeds the running maximum.

        ``magnitude`` is ``|extended|`` zero-padded by :meth:`_magnitude_of`.
        """
        taps = TAPS_PER_PHASE
        size = _CHUNK
        chunks = -(-n // size)
        # Peak of every chunk's input span: its own samples plus the P - 1 samples after them (the
        # zero padding beyond the data only ever lowers a maximum, so the bound stays valid).
        grid = magnitude.reshape(self.channels, chunks + 1, size)
        body = grid.max(axis=-1)
        head = grid[:, :, : taps - 1].max(axis=-1)
        bounds = np.maximum(body[:, :chunks], head[:, 1:]) * self._gain_bound
        self.chunks_seen += self.channels * chunks
        for ch in range(self.channels):
            row = bounds[ch]
            peak = running[ch]
            done = np.zeros(chunks, dtype=bool)
            for c in np.argsort(-row, kind="stable"):
                if row[c] <= peak:
                    break  # sorted: no later chunk can raise the maximum either
                if done[c]:
                    continue
                # Grow a run of neighbours that the current maximum cannot rule out either: one
                # larger product costs less than several small ones.
                lo = hi = int(c)
                while hi - lo + 1 < _RUN_CHUNKS:
                    if hi + 1 < chunks and not done[hi + 1] and row[hi + 1] > peak:
                        hi += 1
                    elif lo > 0 and not done[lo - 1] and row[lo - 1] > peak:
                        lo -= 1
                    else:
                        break
                done[lo : hi + 1] = True
                self.chunks_computed += hi - lo + 1
                start, stop = lo * size, min((hi + 1) * size, n)
                peak = max(peak, self._peak_of(extended[ch, start : stop + taps - 1]))
            running[ch] = peak

    def _peak_of(self, signal: np.ndarray) -> float:
        """max |interpolated| over the outputs of a 1-D NumPy stretch (history included)."""
        taps = TAPS_PER_PHASE
        count = signal.shape[0] - taps + 1
        # Windows as columns: row k is signal[k : k + count], so filling the matrix is P contiguous
        # copies, and the product is (L, P) @ (P, count), the shape BLAS handles fastest here.
        windows = self._buffer_2d("_columns", taps, count)
        np.copyto(windows, _windows(np, signal, count))
        out = self._matrix_t @ windows
        return float(max(out.max(), -out.min()))

    def _buffer_2d(self, name: str, rows: int, length: int) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1] < length:
            buf = np.empty((rows, max(length, _CHUNK * _RUN_CHUNKS)))
            self._buffers[name] = buf
        return buf[:, :length]


def _abs_max(values) -> float:
    return float(max(values.max(), -values.min()))


def _windows(xp, signal, width: int):
    """Read-only ``(len(signal) - width + 1, width)`` view of the sliding windows of a 1-D array."""
    stride = signal.strides[-1]
    return xp.lib.stride_tricks.as_strided(
        signal, shape=(signal.shape[-1] - width + 1, width), strides=(stride, stride)
    )
