"""Streaming loudness meter (ITU-R BS.1770-4, EBU R128 / Tech 3341, Tech 3342).

Design
------
Every reading a meter gives (momentary, short-term, integrated, loudness range) is a function of the
channel-weighted, K-weighted energy summed over windows that start and end on a 10 ms grid. So the
meter reduces audio to one number per 10 ms "tick" as it streams:

1. K-weight each channel (:func:`kernels.kweighting.kweight`, state carried between blocks).
2. Square, weight by channel (:func:`channel_weights`) and sum over channels: one energy per sample.
3. Sum those energies into ticks. Tick ``k`` covers samples ``floor(k fs / 100)`` up to (not
   including) ``floor((k + 1) fs / 100)``, so the grid is exact even where ``fs / 100`` is not an
   integer (22050 Hz, 11025 Hz). A partially filled tick is carried to the next block.

Each window is evaluated as soon as its last tick completes, and only the last 299 ticks are kept, so
the results are the same for any block sizes (up to float64 rounding) and memory does not grow with the
input, apart from the windows every 100 ms that the integrated and LRA gating need (16 bytes per 100 ms:
1.2 MB for two hours) and, unless the meter is made with ``keep_series=False``, the 10 ms series.

From the ticks:

- momentary loudness: 400 ms (40-tick) windows ending at every tick, i.e. updated every 10 ms;
- short-term loudness: 3 s (300-tick) windows ending at every tick;
- integrated loudness: the BS.1770-4 gated mean over 400 ms blocks every 100 ms (windows ending at
  ticks 40, 50, 60, ...), absolute gate -70 LUFS, relative gate 10 LU below the mean *energy* of the
  blocks that pass the absolute gate; a block passes a gate when its loudness is strictly above it;
- loudness range (EBU Tech 3342): short-term values every 100 ms (windows ending at ticks 300, 310,
  ...), absolute gate -70 LUFS, relative gate 20 LU below the energy mean of the absolutely gated
  values, then the 95th minus the 10th percentile (linear interpolation between order statistics,
  NumPy's default) of the values that pass both gates.

Loudness of a mean-square energy ``z`` is ``-0.691 + 10 log10(z)`` LUFS.

Conventions
-----------
- The loudness of silence, and an integrated loudness with no block above the gates (including a
  file shorter than one 400 ms block), is ``float('-inf')``.
- A maximum over an empty set (``max_momentary_lufs`` for a file shorter than 400 ms,
  ``max_short_term_lufs`` for one shorter than 3 s) is ``float('nan')``.
- A loudness range with fewer than two values passing the gates is ``0.0``.
- Non-finite input samples propagate into the readings (NaN); the meter does not scan for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

import numpy as np

from kernels._xp import array_namespace, as_block, check_channels, to_numpy
from kernels.kweighting import kweight, kweighting_sos

__all__ = [
    "LoudnessMeter",
    "LoudnessResult",
    "TickAccumulator",
    "TickGrid",
    "channel_weights",
    "lufs_from_energy",
    "measure_loudness",
]

#: The grid every meter in this package sums onto: 100 ticks per second.
TICK_S = 0.01
_TICKS_PER_SECOND = 100

MOMENTARY_TICKS = 40  # 400 ms
SHORT_TERM_TICKS = 300  # 3 s
GATING_HOP_TICKS = 10  # 100 ms: integrated blocks and LRA values are taken every 10th window

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)

# BS.1770-4, Table 4 (surround channels +1.5 dB, written 1.41 in the standard).
_SURROUND = 1.41
# Channel orders assumed for each channel count, with their weights. Orders follow the WAVE
# (WAVEFORMATEXTENSIBLE) speaker order, except 3-, 4- and 5-channel files which follow the
# layouts used by the EBU test material (L R C; L R Ls Rs; L R C Ls Rs).
_LAYOUTS: dict[int, tuple[tuple[str, float], ...]] = {
    1: (("M", 1.0),),
    2: (("L", 1.0), ("R", 1.0)),
    3: (("L", 1.0), ("R", 1.0), ("C", 1.0)),
    4: (("L", 1.0), ("R", 1.0), ("Ls", _SURROUND), ("Rs", _SURROUND)),
    5: (("L", 1.0), ("R", 1.0), ("C", 1.0), ("Ls", _SURROUND), ("Rs", _SURROUND)),
    6: (("L", 1.0), ("R", 1.0), ("C", 1.0), ("LFE", 0.0), ("Ls", _SURROUND), ("Rs", _SURROUND)),
    7: (("L", 1.0), ("R", 1.0), ("C", 1.0), ("LFE", 0.0), ("Cs", 1.0), ("Ls", _SURROUND), ("Rs", _SURROUND)),
    8: (
        ("L", 1.0),
        ("R", 1.0),
        ("C", 1.0),
        ("LFE", 0.0),
        ("Lb", 1.0),
        ("Rb", 1.0),
        ("Ls", _SURROUND),
        ("Rs", _SURROUND),
    ),
}


def channel_weights(channels: int) -> tuple[float, ...]:
    """BS.1770-4 channel weights for the channel order assumed for ``channels``.

    ===  ============================  ==================================
    ch   assumed order                 weights
    ===  ============================  ==================================
    1    mono                          1
    2    L R                           1 1
    3    L R C                         1 1 1
    4    L R Ls Rs (quad)              1 1 1.41 1.41
    5    L R C Ls Rs                   1 1 1 1.41 1.41
    6    L R C LFE Ls Rs (5.1, WAVE)   1 1 1 0 1.41 1.41
    7    L R C LFE Cs Ls Rs (6.1)      1 1 1 0 1 1.41 1.41
    8    L R C LFE Lb Rb Ls Rs (7.1)   1 1 1 0 1 1 1.41 1.41
    ===  ============================  ==================================

    LFE is excluded (weight 0). For any other layout, pass weights to the meter explicitly.

    Parameters
    ----------
    channels : int
        Number of channels, 1 to 8.

    Returns
    -------
    tuple of float, length ``channels``

    Raises
    ------
    ValueError
        For a channel count without a standard layout.

    Examples
    --------
    >>> channel_weights(6)
    (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    """
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or int(channels) not in _LAYOUTS:
        raise ValueError(
            f"no standard BS.1770 channel layout for {channels!r} channels (known: 1-8); "
            "pass channel_weights explicitly"
        )
    return tuple(weight for _, weight in _LAYOUTS[int(channels)])


def lufs_from_energy(energy):
    """Loudness in LUFS of a channel-weighted mean-square energy: ``-0.691 + 10 log10(energy)``.

    Zero energy gives ``-inf`` (no warning). Works on floats and NumPy arrays.
    """
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(energy)


class TickGrid:
    """The 10 ms grid: tick ``k`` starts at sample ``floor(k * fs / 100)``.

    Integer arithmetic on the rate as a fraction, so boundaries are exact at any rate, including ones
    where ``fs / 100`` is not an integer.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz (positive). Non-integer rates are taken as the nearest fraction with a
        denominator up to 1000.
    """

    def __init__(self, sample_rate: float):
        fs = float(sample_rate)
        if not math.isfinite(fs) or fs <= 0:
            raise ValueError(f"sample_rate {sample_rate!r} must be a positive finite number of Hz")
        rate = Fraction(fs).limit_denominator(1000)
        self.sample_rate = fs
        self._num = rate.numerator
        self._den = rate.denominator * _TICKS_PER_SECOND

    def boundary(self, k):
        """First sample of tick ``k`` (an int, or an int64 array of tick indices)."""
        return (k * self._num) // self._den

    def complete_ticks(self, samples: int) -> int:
        """Number of whole ticks in the first ``samples`` samples: the largest ``k`` with
        ``boundary(k) <= samples``."""
        return ((samples + 1) * self._den - 1) // self._num


class TickAccumulator:
    """Sums per-sample quantities into ticks of a :class:`TickGrid`, carrying partial ticks.

    Parameters
    ----------
    grid : TickGrid
    width : int
        Number of quantities summed per sample (rows of the arrays given to :meth:`push`).
    """

    def __init__(self, grid: TickGrid, width: int):
        self.grid = grid
        self.width = int(width)
        self.samples = 0  #: samples pushed so far
        self.ticks = 0  #: ticks completed so far
        self._partial = None

    def push(self, q):
        """Add ``q`` (shape ``(width, n)``) and return the sums of the ticks it completes.

        Returns
        -------
        array, shape (width, m)
            One column per tick completed by this push (``m`` may be 0), in the namespace of ``q``.
        """
        xp = array_namespace(q)
        n = int(q.shape[-1])
        if self._partial is None:
            self._partial = xp.zeros(self.width, dtype=xp.float64)
        start = self.samples
        end_tick = self.grid.complete_ticks(start + n)
        self.samples = start + n
        if end_tick == self.ticks:
            self._partial = self._partial + q.sum(axis=-1)
            return xp.zeros((self.width, 0), dtype=xp.float64)
        ticks = np.arange(self.ticks + 1, end_tick + 1, dtype=np.int64)
        # Local indices of the tick ends inside this block; the first one is >= 1 and the last <= n.
        ends = self.grid.boundary(ticks) - start
        self.ticks = end_tick
        first = self._partial + q[:, : ends[0]].sum(axis=-1)
        self._partial = q[:, ends[-1] :].sum(axis=-1)
        if len(ends) == 1:
            return first[:, None]
        middle = _segment_sums(xp, q, ends)
        return xp.concatenate([first[:, None], middle], axis=-1)


def _segment_sums(xp, q, ends: np.ndarray):
    """Sums of ``q[:, ends[i]:ends[i+1]]`` for consecutive ``ends``; shape ``(width, len(ends) - 1)``."""
    lengths = np.diff(ends)
    lo, hi = int(ends[0]), int(ends[-1])
    if lengths.min() == lengths.max():
        # The common case (fs a multiple of 100 Hz): equal ticks, a reshape and one reduction.
        return q[:, lo:hi].reshape(q.shape[0], len(lengths), int(lengths[0])).sum(axis=-1)
    # Ticks of two lengths (e.g. 220 and 221 samples at 22050 Hz): gather into a padded matrix.
    width = int(lengths.max())
    offsets = np.arange(width)
    index = ends[:-1, None] + offsets[None, :]
    valid = offsets[None, :] < lengths[:, None]
    index = np.where(valid, index, lo)
    gathered = q[:, xp.asarray(index)]
    return xp.where(xp.asarray(valid)[None, :, :], gathered, 0.0).sum(axis=-1)


def window_sums(values: np.ndarray, width: int) -> np.ndarray:
    """Sums of every run of ``width`` consecutive values: ``out[i] = values[i:i + width].sum()``.

    Computed from prefix sums inside chunks of ``width`` and suffix sums of the preceding chunk, so each
    result adds non-negative terms of at most two chunks: no cancellation, unlike a global
    cumulative-sum difference (which can turn a silent window after a loud passage into noise).

    Parameters
    ----------
    values : ndarray, shape (..., n)
    width : int

    Returns
    -------
    ndarray, shape (..., max(n - width + 1, 0))
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    lead = values.shape[:-1]
    if n < width:
        return np.zeros((*lead, 0), dtype=np.float64)
    chunks = -(-n // width)
    padded = np.zeros((*lead, chunks * width), dtype=np.float64)
    padded[..., :n] = values
    mat = padded.reshape(*lead, chunks, width)
    prefix = np.cumsum(mat, axis=-1)
    suffix = np.cumsum(mat[..., ::-1], axis=-1)[..., ::-1]
    ends = np.arange(width, n + 1)  # exclusive end of each window
    chunk = ends // width
    offset = ends % width
    # A window ending at chunk c, offset j covers the suffix of chunk c-1 from j, and the prefix of
    # chunk c up to j-1 (nothing when j == 0). Indices are clipped where that branch is unused.
    tail_part = suffix[..., chunk - 1, offset]
    head_part = prefix[..., np.minimum(chunk, chunks - 1), np.maximum(offset - 1, 0)]
    return np.where(offset == 0, tail_part, tail_part + head_part)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class LoudnessResult:
    """Loudness readings of one stream (see the module docstring for definitions and conventions).

    Attributes
    ----------
    integrated_lufs : float
        Gated integrated loudness; ``-inf`` when nothing passes the gates.
    loudness_range_lu : float
        EBU Tech 3342 loudness range; ``0.0`` with fewer than two gated short-term values.
    max_momentary_lufs, max_short_term_lufs : float
        Maxima of the series below; ``nan`` when the stream is shorter than one window.
    momentary_lufs : ndarray, shape (max(ticks - 39, 0),), read-only
        ``momentary_lufs[i]`` is the 400 ms window ending at tick ``i + 40``, i.e. at ``(i + 40) * tick_s``.
    short_term_lufs : ndarray, shape (max(ticks - 299, 0),), read-only
        ``short_term_lufs[i]`` is the 3 s window ending at tick ``i + 300``.
    tick_s : float
        Spacing of the series in seconds (0.01).

    Notes
    -----
    Compared by identity (``eq=False``): element-wise array fields make field-by-field equality
    ambiguous. Compare the fields you care about, with a tolerance.
    """

    integrated_lufs: float
    loudness_range_lu: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    momentary_lufs: np.ndarray = field(repr=False)
    short_term_lufs: np.ndarray = field(repr=False)
    tick_s: float = TICK_S


def _integrated_lufs(block_energy: np.ndarray) -> float:
    loudness = lufs_from_energy(block_energy)
    above_absolute = loudness > ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return float("-inf")
    relative_gate = lufs_from_energy(np.mean(block_energy[above_absolute])) + RELATIVE_GATE_LU
    gated = above_absolute & (loudness > relative_gate)
    if not gated.any():  # cannot happen (the loudest block beats the mean), kept for safety
        return float("-inf")
    return float(lufs_from_energy(np.mean(block_energy[gated])))


def _loudness_range_lu(short_term_energy: np.ndarray) -> float:
    loudness = lufs_from_energy(short_term_energy)
    above_absolute = loudness > ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return 0.0
    relative_gate = lufs_from_energy(np.mean(short_term_energy[above_absolute])) + LRA_RELATIVE_GATE_LU
    values = loudness[above_absolute & (loudness > relative_gate)]
    if values.size < 2:
        return 0.0
    low, high = np.percentile(values, LRA_PERCENTILES)
    return float(high - low)


class LoudnessMeter:
    """Streaming BS.1770-4 / EBU R128 loudness meter.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz (8 kHz to 768 kHz).
    channels : int
        Number of channels of every block.
    channel_weights : sequence of float, optional
        Per-channel weights (non-negative); default :func:`channel_weights` for ``channels``.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 48000
    >>> t = np.arange(20 * fs) / fs
    >>> x = np.tile(10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1))
    >>> meter = LoudnessMeter(fs, 2)
    >>> for start in range(0, x.shape[1], 65536):
    ...     meter.process(x[:, start:start + 65536])
    >>> round(meter.result().integrated_lufs, 1)
    -23.0
    """

    def __init__(
        self,
        sample_rate: float,
        channels: int,
        *,
        channel_weights: Sequence[float] | None = None,
        keep_series: bool = True,
    ):
        check_channels(channels)
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        kweighting_sos(self.sample_rate)  # validates the rate now rather than at the first block
        if channel_weights is None:
            weights = _default_weights(self.channels)
        else:
            weights = tuple(float(w) for w in channel_weights)
            if len(weights) != self.channels:
                raise ValueError(f"channel_weights has {len(weights)} values for {self.channels} channels")
            if not all(math.isfinite(w) and w >= 0 for w in weights):
                raise ValueError(f"channel_weights {weights!r} must be finite and non-negative")
        self.channel_weights = weights
        self._grid = TickGrid(self.sample_rate)
        self._ticks = TickAccumulator(self._grid, 1)
        self._zi = None
        # Windows are evaluated as their last tick completes; only the ticks a future window still needs
        # are kept, so memory is constant apart from the 10 Hz values for gating (1.2 MB for two hours)
        # and, when asked for, the 100 Hz series.
        self.keep_series = bool(keep_series)
        self._tail = np.zeros(0)
        self._tail_start = 0  # tick index of _tail[0]
        self._momentary = _WindowScan(MOMENTARY_TICKS, keep_series=self.keep_series)
        self._short_term = _WindowScan(SHORT_TERM_TICKS, keep_series=self.keep_series)

    def process(self, block) -> None:
        """Feed the next block.

        Parameters
        ----------
        block : array, shape (channels, n)
            Samples in full-scale units (NumPy or CuPy, the same kind for every block); any ``n``,
            including 0 and 1.
        """
        xp, block = as_block(block, self.channels)
        if block.shape[1] == 0:
            return
        weighted, self._zi = kweight(block, self.sample_rate, zi=self._zi)
        # Channel by channel rather than a matrix product, so each sample's sum is computed the same
        # way whatever the block length (BLAS kernels may change summation order with the shape).
        energy = None
        for ch, weight in enumerate(self.channel_weights):
            if weight == 0.0:
                continue
            term = weighted[ch] * weighted[ch]
            if weight != 1.0:
                term = term * weight
            energy = term if energy is None else energy + term
        if energy is None:  # every channel weighted 0
            energy = xp.zeros(block.shape[1], dtype=xp.float64)
        ticks = self._ticks.push(energy[None, :])[0]
        if ticks.shape[-1]:
            self._advance(to_numpy(ticks).astype(np.float64, copy=False))

    def _advance(self, new: np.ndarray) -> None:
        """Evaluate every window that the newly completed ticks ``new`` complete."""
        buf = np.concatenate([self._tail, new])
        total = self._tail_start + buf.size  # ticks completed so far
        for scan in (self._momentary, self._short_term):
            scan.advance(buf, self._tail_start, total - new.size, self._grid)
        keep = min(buf.size, SHORT_TERM_TICKS - 1)
        self._tail = buf[buf.size - keep :].copy()
        self._tail_start = total - keep

    def result(self) -> LoudnessResult:
        """Readings for everything fed so far (the meter can keep going afterwards).

        The ``momentary_lufs`` and ``short_term_lufs`` series are empty when the meter was made with
        ``keep_series=False`` (the QC audit's choice: 16 bytes per 10 ms it does not need).
        """
        momentary, short_term = self._momentary, self._short_term
        return LoudnessResult(
            integrated_lufs=_integrated_lufs(momentary.every_hop()),
            loudness_range_lu=_loudness_range_lu(short_term.every_hop()),
            max_momentary_lufs=float(lufs_from_energy(momentary.max_energy)),
            max_short_term_lufs=float(lufs_from_energy(short_term.max_energy)),
            momentary_lufs=_readonly(lufs_from_energy(momentary.series())),
            short_term_lufs=_readonly(lufs_from_energy(short_term.series())),
        )


class _WindowScan:
    """Mean energies of the ``width``-tick windows, evaluated as they complete.

    Keeps the running maximum, the windows ending at ticks ``width, width + 10, ...`` (the 100 ms hop
    of integrated gating and LRA), and optionally every window.
    """

    def __init__(self, width: int, *, keep_series: bool):
        self.width = width
        self.max_energy = float("nan")
        self._hops: list[np.ndarray] = []
        self._series: list[np.ndarray] | None = [] if keep_series else None

    def advance(self, buf: np.ndarray, buf_start: int, done_before: int, grid: "TickGrid") -> None:
        """``buf`` holds ticks ``buf_start ..``; windows ending after tick ``done_before`` are new."""
        total = buf_start + buf.size
        first_end = max(self.width, done_before + 1)
        if first_end > total:
            return
        starts = np.arange(first_end - self.width, total - self.width + 1, dtype=np.int64)
        segment = buf[starts[0] - buf_start :]
        sums = window_sums(segment, self.width)
        means = sums / (grid.boundary(starts + self.width) - grid.boundary(starts)).astype(np.float64)
        top = float(means.max())
        if not self.max_energy >= top:  # also replaces the initial nan
            self.max_energy = top
        hop = means[starts % GATING_HOP_TICKS == 0]
        if hop.size:
            self._hops.append(hop)
        if self._series is not None:
            self._series.append(means)

    def every_hop(self) -> np.ndarray:
        return np.concatenate(self._hops) if self._hops else np.zeros(0)

    def series(self) -> np.ndarray:
        if not self._series:
            return np.zeros(0)
        merged = np.concatenate(self._series)
        self._series = [merged]  # keep one array, so repeated results stay cheap
        return merged.copy()


def _default_weights(channels: int) -> tuple[float, ...]:
    return channel_weights(channels)


def measure_loudness(x, sample_rate: float, *, channel_weights: Sequence[float] | None = None) -> LoudnessResult:
    """Measure a whole signal in one call.

    Parameters
    ----------
    x : array, shape (channels, samples) or (samples,)
        A 1-D array is taken as mono.
    sample_rate : float
    channel_weights : sequence of float, optional
        As for :class:`LoudnessMeter`.

    Returns
    -------
    LoudnessResult
    """
    xp = array_namespace(x)
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim == 1:
        x = x[None, :]
    meter = LoudnessMeter(sample_rate, x.shape[0], channel_weights=channel_weights)
    meter.process(x)
    return meter.result()
