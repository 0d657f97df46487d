"""Streaming signal statistics for QC: peak, RMS, crest factor, DC offset, stereo correlation, silence.

Everything is accumulated block by block into a handful of numbers per channel; the windowed stereo
correlation is computed from per-10 ms sums on the same exact tick grid as the loudness meter
(:class:`kernels.loudness.TickGrid`) as soon as each window is complete, so memory stays constant
whatever the length of the stream and results do not depend on the block sizes.

Conventions
-----------
- Levels are dBFS with a full-scale square wave at 0 dB, so a full-scale sine has an RMS of -3.01 dBFS.
- Silence: peak and RMS ``-inf``, crest factor ``nan``, correlation ``nan``. No samples at all:
  RMS and DC offsets ``nan`` as well.
- Correlation uses mean-removed channels 0 and 1 (the Pearson coefficient); ``nan`` for mono input or
  where either channel is constant.
- To keep the sums well conditioned when a channel carries a large DC offset, samples are summed
  relative to the mean of each channel's first block (which moves results by rounding only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels._xp import array_namespace, as_block, check_channels, to_numpy
from kernels.loudness import TICK_S, TickAccumulator, TickGrid

__all__ = ["SignalStats", "SignalStatsResult"]


@dataclass(frozen=True)
class SignalStatsResult:
    """Statistics of one stream.

    Attributes
    ----------
    frames : int
        Samples per channel.
    sample_peak_dbfs : float
        ``max |x|`` over all channels, dBFS.
    rms_dbfs : float
        RMS over all samples of all channels, dBFS (full-scale square = 0 dBFS).
    crest_db : float
        ``sample_peak_dbfs - rms_dbfs``; ``nan`` for silence.
    dc_offset : float
        The per-channel mean with the largest magnitude, signed, in full-scale units.
    channel_dc_offset : tuple of float
        Mean of each channel.
    correlation : float
        Whole-stream Pearson correlation of channels 0 and 1; ``nan`` for mono or silence.
    min_correlation : float
        Lowest correlation over the analysis windows where both channels are above the floor;
        ``nan`` if there is no such window.
    min_correlation_at_s : float
        Start time of that window in seconds (``nan`` if none).
    head_silence_s, tail_silence_s : float
        Time before the first and after the last sample whose magnitude exceeds the silence threshold
        on any channel; both equal the duration for a fully silent stream.
    """

    frames: int
    sample_peak_dbfs: float
    rms_dbfs: float
    crest_db: float
    dc_offset: float
    channel_dc_offset: tuple[float, ...]
    correlation: float
    min_correlation: float
    min_correlation_at_s: float
    head_silence_s: float
    tail_silence_s: float


def _ticks_from_seconds(seconds: float, name: str) -> int:
    ticks = round(seconds / TICK_S)
    if not math.isfinite(seconds) or ticks < 1 or abs(ticks * TICK_S - seconds) > 1e-9:
        raise ValueError(f"{name} {seconds!r} must be a positive multiple of {TICK_S} s (the tick grid)")
    return int(ticks)


def _first_above(xp, block, threshold: float, *, from_end: bool) -> int:
    """Index of the first (or last) sample where any channel's magnitude exceeds ``threshold``.

    The caller knows one exists. Searches outwards from the chosen end in growing windows, so a block
    that is loud near that end (the usual case) costs a few thousand comparisons, not a full pass.
    """
    n = int(block.shape[1])
    width = 1024
    done = 0
    while True:
        lo, hi = (n - done - width, n - done) if from_end else (done, done + width)
        lo, hi = max(lo, 0), min(hi, n)
        hits = to_numpy(xp.flatnonzero(xp.any(xp.abs(block[:, lo:hi]) > threshold, axis=0)))
        if hits.size:
            return lo + int(hits[-1] if from_end else hits[0])
        done += hi - lo
        if done >= n:
            raise RuntimeError("no sample above the threshold although the block peak is")  # pragma: no cover
        width *= 4


class SignalStats:
    """Streaming peak / RMS / DC / correlation / silence statistics.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    channels : int
        Number of channels of every block.
    silence_threshold_dbfs : float
        A sample is "sound" when its magnitude exceeds this level (default -80 dBFS).
    correlation_window_s, correlation_hop_s : float
        Length and spacing of the windows for ``min_correlation`` (default 0.4 s every 0.1 s);
        multiples of 10 ms. Windows start at 0, hop, 2 hop, ... and only complete ones count.
    correlation_floor_dbfs : float
        Windows where either channel's RMS is below this level are not considered (default -50 dBFS),
        so fades and near-silence do not produce meaningless correlation readings.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 44100
    >>> t = np.arange(fs) / fs
    >>> x = np.stack([np.sin(2 * np.pi * 440 * t), -np.sin(2 * np.pi * 440 * t)])
    >>> stats = SignalStats(fs, 2)
    >>> stats.process(x)
    >>> r = stats.result()
    >>> round(r.rms_dbfs, 2), round(r.correlation, 3)
    (-3.01, -1.0)
    """

    def __init__(
        self,
        sample_rate: float,
        channels: int,
        *,
        silence_threshold_dbfs: float = -80.0,
        correlation_window_s: float = 0.4,
        correlation_hop_s: float = 0.1,
        correlation_floor_dbfs: float = -50.0,
    ):
        check_channels(channels)
        for name, value in (
            ("silence_threshold_dbfs", silence_threshold_dbfs),
            ("correlation_floor_dbfs", correlation_floor_dbfs),
        ):
            if not math.isfinite(float(value)):
                raise ValueError(f"{name} {value!r} must be a finite level in dBFS")
        self._grid = TickGrid(sample_rate)  # validates the rate
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        self.silence_threshold_dbfs = float(silence_threshold_dbfs)
        self.correlation_floor_dbfs = float(correlation_floor_dbfs)
        self._window_ticks = _ticks_from_seconds(float(correlation_window_s), "correlation_window_s")
        self._hop_ticks = _ticks_from_seconds(float(correlation_hop_s), "correlation_hop_s")
        self._threshold = 10.0 ** (self.silence_threshold_dbfs / 20.0)

        self._frames = 0
        self._shift: np.ndarray | None = None  # per-channel offset the sums are taken around
        self._shift_xp = None  # the same, in the namespace of the blocks
        self._scratch = None  # reusable work rows, see process()
        self._peak = np.zeros(self.channels)
        self._sum = np.zeros(self.channels)  # of (x - shift)
        self._sum_sq = np.zeros(self.channels)  # of (x - shift)^2
        self._cross = 0.0  # of (x0 - shift0)(x1 - shift1)
        self._first_sound: int | None = None
        self._last_sound: int | None = None

        # Windowed correlation: tick sums of [d0, d1, d0^2, d1^2, d0 d1] for d = x - shift.
        self._stereo = self.channels >= 2
        self._ticks = TickAccumulator(self._grid, 5) if self._stereo else None
        self._pending = np.zeros((5, 0))  # tick sums not yet behind every future window
        self._pending_start = 0  # tick index of _pending[:, 0]
        self._next_window = 0
        self._min_correlation = math.nan
        self._min_correlation_tick: int | None = None

    def process(self, block) -> None:
        """Feed the next block.

        Parameters
        ----------
        block : array, shape (channels, n)
            Samples in full-scale units (NumPy or CuPy); any ``n``, including 0 and 1.
        """
        xp, block = as_block(block, self.channels)
        n = int(block.shape[1])
        if n == 0:
            return
        if self._shift is None:
            self._shift = to_numpy(block.mean(axis=1)).astype(np.float64)
            self._shift_xp = xp.asarray(self._shift)
        c = self.channels
        # Scratch rows, reused between blocks (fresh multi-megabyte arrays per block cost more in page
        # faults than the arithmetic): d = x - shift for every channel, and for stereo the products
        # d0^2, d1^2, d0 d1 placed right after d0, d1 so the five tick quantities are one view.
        scratch = self._scratch_for(xp, n)
        if self._stereo:
            xp.subtract(block[:2], self._shift_xp[:2, None], out=scratch[:2])
            if c > 2:
                xp.subtract(block[2:], self._shift_xp[2:, None], out=scratch[5 : c + 3])
            xp.multiply(scratch[0], scratch[0], out=scratch[2])
            xp.multiply(scratch[1], scratch[1], out=scratch[3])
            xp.multiply(scratch[0], scratch[1], out=scratch[4])
            quantities = scratch[:5]
            row_sums = scratch[: c + 3].sum(axis=1)
            sums = xp.concatenate([row_sums[:2], row_sums[5 : c + 3]])
            squares = xp.concatenate([row_sums[2:4], xp.einsum("ij,ij->i", scratch[5 : c + 3], scratch[5 : c + 3])])
            extra = row_sums[4:5]
        else:
            d = scratch
            xp.subtract(block, self._shift_xp[:, None], out=d)
            sums = d.sum(axis=1)
            squares = xp.einsum("ij,ij->i", d, d)
            extra = xp.zeros(1, dtype=xp.float64)
        # max |x| without materialising |x|.
        peaks = xp.maximum(block.max(axis=1), -block.min(axis=1))
        host = to_numpy(xp.concatenate([peaks, sums, squares, extra]))
        np.maximum(self._peak, host[:c], out=self._peak)
        self._sum += host[c : 2 * c]
        self._sum_sq += host[2 * c : 3 * c]
        if host[:c].max() > self._threshold:
            if self._first_sound is None:
                self._first_sound = self._frames + _first_above(xp, block, self._threshold, from_end=False)
            self._last_sound = self._frames + _first_above(xp, block, self._threshold, from_end=True)
        if self._stereo:
            self._cross += float(host[3 * c])
            self._add_ticks(to_numpy(self._ticks.push(quantities)))
        self._frames += n

    def _scratch_for(self, xp, n: int):
        rows = self.channels + 3 if self._stereo else self.channels
        buf = self._scratch
        if buf is None or array_namespace(buf) is not xp or buf.shape[1] < n:
            buf = xp.empty((rows, max(n, 1024)), dtype=xp.float64)
            self._scratch = buf
        return buf[:, :n]

    def _add_ticks(self, ticks: np.ndarray) -> None:
        """Append completed tick sums and evaluate every window they complete."""
        if ticks.shape[1] == 0:
            return
        pending = np.concatenate([self._pending, ticks], axis=1)
        width, hop = self._window_ticks, self._hop_ticks
        available_end = self._pending_start + pending.shape[1]
        last_window = (available_end - width) // hop  # index of the last complete window (may be < next)
        if last_window >= self._next_window:
            starts = np.arange(self._next_window, last_window + 1) * hop
            local = starts - self._pending_start
            sums = pending[:, local[:, None] + np.arange(width)[None, :]].sum(axis=-1)
            counts = (self._grid.boundary(starts + width) - self._grid.boundary(starts)).astype(np.float64)
            corr = self._window_correlations(sums, counts)
            if np.any(np.isfinite(corr)):
                i = int(np.nanargmin(corr))
                if math.isnan(self._min_correlation) or corr[i] < self._min_correlation:
                    self._min_correlation = float(corr[i])
                    self._min_correlation_tick = int(starts[i])
            self._next_window = last_window + 1
        # Keep only ticks that a future window can still use.
        keep_from = self._next_window * hop - self._pending_start
        if keep_from > 0:
            pending = pending[:, keep_from:]
            self._pending_start += keep_from
        self._pending = pending

    def _window_correlations(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        s0, s1, s00, s11, s01 = sums
        shift0, shift1 = self._shift[0], self._shift[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            # Raw (not mean-removed) mean squares for the level floor.
            ms0 = (s00 + 2 * shift0 * s0) / counts + shift0 * shift0
            ms1 = (s11 + 2 * shift1 * s1) / counts + shift1 * shift1
            floor = 10.0 ** (self.correlation_floor_dbfs / 10.0)
            var0 = s00 - s0 * s0 / counts
            var1 = s11 - s1 * s1 / counts
            cov = s01 - s0 * s1 / counts
            corr = np.clip(cov / np.sqrt(var0 * var1), -1.0, 1.0)
        usable = (ms0 >= floor) & (ms1 >= floor) & (var0 > 0) & (var1 > 0)
        return np.where(usable, corr, np.nan)

    def result(self) -> SignalStatsResult:
        """Statistics for everything fed so far."""
        frames = self._frames
        fs = self.sample_rate
        peak = float(self._peak.max())
        peak_dbfs = 20.0 * math.log10(peak) if peak > 0 else -math.inf
        if frames == 0:
            channel_dc = tuple(math.nan for _ in range(self.channels))
            rms_dbfs = math.nan
        else:
            shift = self._shift
            channel_dc = tuple(float(v) for v in shift + self._sum / frames)
            raw_energy = float(np.sum(self._sum_sq + 2 * shift * self._sum + frames * shift * shift))
            mean_square = max(raw_energy, 0.0) / (frames * self.channels)
            rms_dbfs = 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf
        crest = peak_dbfs - rms_dbfs if math.isfinite(peak_dbfs) and math.isfinite(rms_dbfs) else math.nan
        dc = max(channel_dc, key=abs) if frames else math.nan

        correlation = math.nan
        if self._stereo and frames:
            var0 = self._sum_sq[0] - self._sum[0] ** 2 / frames
            var1 = self._sum_sq[1] - self._sum[1] ** 2 / frames
            if var0 > 0 and var1 > 0:
                cov = self._cross - self._sum[0] * self._sum[1] / frames
                correlation = float(min(1.0, max(-1.0, cov / math.sqrt(var0 * var1))))

        if self._min_correlation_tick is None:
            min_at = math.nan
        else:
            min_at = int(self._grid.boundary(self._min_correlation_tick)) / fs

        if self._first_sound is None:
            head = tail = frames / fs
        else:
            head = self._first_sound / fs
            tail = (frames - 1 - self._last_sound) / fs
        return SignalStatsResult(
            frames=frames,
            sample_peak_dbfs=peak_dbfs,
            rms_dbfs=rms_dbfs,
            crest_db=crest,
            dc_offset=float(dc),
            channel_dc_offset=channel_dc,
            correlation=correlation,
            min_correlation=self._min_correlation,
            min_correlation_at_s=min_at,
            head_silence_s=head,
            tail_silence_s=tail,
        )
