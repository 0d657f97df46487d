"""What a track page plots, measured from the audio in one streaming pass with bounded output.

:func:`track_view` reads the file block by block (:func:`farm.audio.read_blocks`) and keeps only summaries whose
size does not grow with the duration beyond a few thousand numbers: a min/max envelope of ``columns`` columns,
the momentary and short-term loudness series (10 ms ticks, reduced to at most ``series_points`` by taking each
bucket's maximum), a long-term spectrum of the mid signal (Welch, ~0.1 s segments, averaged over the blocks) and
the L/R correlation over at most ``correlation_points`` windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farm.audio import probe, read_blocks
from kernels.loudness import LoudnessMeter
from kernels.spectrum import default_nfft, long_term_spectrum

__all__ = ["TrackView", "track_view"]

#: Windows quieter than this (mean square of either channel, dBFS) have no correlation: as in the QC meter.
QUIET_DBFS = -50.0


@dataclass(frozen=True)
class TrackView:
    """Plot data of one track. Times in seconds, levels in dB.

    ``env_min``/``env_max``: shape (columns,), the lowest and highest sample over all channels in column ``c``,
    which covers ``[c, c + 1) * duration_s / columns``.
    """

    duration_s: float
    sample_rate: int
    channels: int
    env_min: np.ndarray
    env_max: np.ndarray
    momentary_t: np.ndarray
    momentary_lufs: np.ndarray
    short_term_t: np.ndarray
    short_term_lufs: np.ndarray
    integrated_lufs: float
    spectrum_hz: np.ndarray
    spectrum_db: np.ndarray
    correlation_t: np.ndarray
    correlation: np.ndarray


def _bucket_max(series: np.ndarray, first_end_tick: int, tick_s: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a 10 ms series to at most ``points`` values (each bucket's max), timed at the bucket's centre."""
    n = series.size
    if n == 0:
        return np.zeros(0), np.zeros(0)
    t = (np.arange(n) + first_end_tick) * tick_s
    k = max(1, math.ceil(n / points))
    m = n // k * k
    s = np.where(np.isfinite(series), series, -np.inf)
    vals = s[:m].reshape(-1, k).max(axis=1)
    times = t[:m].reshape(-1, k).mean(axis=1)
    if m < n:
        vals = np.append(vals, s[m:].max())
        times = np.append(times, t[m:].mean())
    vals = np.where(np.isfinite(vals), vals, np.nan)
    return times, vals


def track_view(path: str, *, columns: int = 2000, series_points: int = 1500, correlation_points: int = 600,
               block_frames: int = 65536) -> TrackView:
    """Measure what the track page draws.

    Parameters
    ----------
    path : str
        An audio file :func:`farm.audio.probe` can read.
    columns : int
        Envelope columns (the waveform overview's horizontal resolution).

    Raises
    ------
    farm.errors.InputError
        When the file cannot be read (its message says why).
    """
    info = probe(path)
    frames, sr, ch = info.frames, info.sample_rate, info.channels
    columns = max(1, min(columns, frames))
    col_start = (np.arange(columns + 1, dtype=np.int64) * frames + columns - 1) // columns  # ceil(c * frames / C)
    env_min = np.full(columns, np.inf)
    env_max = np.full(columns, -np.inf)
    nb = max(1, min(correlation_points, int(info.duration_s / 0.1)))
    bucket_start = (np.arange(nb + 1, dtype=np.int64) * frames + nb - 1) // nb
    s_lr, s_ll, s_rr, s_n = (np.zeros(nb) for _ in range(4))
    meter = LoudnessMeter(sr, ch)
    nfft = default_nfft(sr)
    spec_sum, spec_weight = None, 0
    short_audio: list[np.ndarray] = []
    pos = 0
    for block in read_blocks(path, info, block_frames=block_frames):
        n = block.shape[1]
        finite = np.where(np.isfinite(block), block, 0.0)
        # envelope: every column the block touches, combined with what earlier blocks left in it
        c0 = int(np.searchsorted(col_start, pos, side="right") - 1)
        c1 = int(np.searchsorted(col_start, pos + n, side="left"))
        starts = np.maximum(col_start[c0:c1], pos) - pos
        env_min[c0:c1] = np.minimum(env_min[c0:c1], np.minimum.reduceat(finite.min(axis=0), starts))
        env_max[c0:c1] = np.maximum(env_max[c0:c1], np.maximum.reduceat(finite.max(axis=0), starts))
        if ch >= 2:
            b0 = int(np.searchsorted(bucket_start, pos, side="right") - 1)
            b1 = int(np.searchsorted(bucket_start, pos + n, side="left"))
            starts = np.maximum(bucket_start[b0:b1], pos) - pos
            left, right = finite[0], finite[1]
            s_lr[b0:b1] += np.add.reduceat(left * right, starts)
            s_ll[b0:b1] += np.add.reduceat(left * left, starts)
            s_rr[b0:b1] += np.add.reduceat(right * right, starts)
            s_n[b0:b1] += np.diff(np.append(starts, n))
        meter.process(finite)
        mid = finite.mean(axis=0, keepdims=True)
        if n >= nfft:
            _, p = long_term_spectrum(mid, sr, nfft=nfft)
            spec_sum = p[0] * n if spec_sum is None else spec_sum + p[0] * n
            spec_weight += n
        elif spec_sum is None:
            short_audio.append(mid)
        pos += n
    if spec_sum is None and short_audio:
        mid = np.concatenate(short_audio, axis=1)
        if mid.shape[1] >= 2:
            _, p = long_term_spectrum(mid, sr)
            spec_sum, spec_weight = p[0], 1
    if spec_sum is not None:
        bins = spec_sum.size
        freqs = np.arange(bins) * (sr / 2) / (bins - 1)
        power = spec_sum / spec_weight
        spectrum_hz, spectrum_db = _log_bins(freqs, power)
    else:
        spectrum_hz = spectrum_db = np.zeros(0)

    res = meter.result()
    mt, mv = _bucket_max(np.asarray(res.momentary_lufs), 40, res.tick_s, series_points)
    st, sv = _bucket_max(np.asarray(res.short_term_lufs), 300, res.tick_s, series_points)
    if ch >= 2:
        quiet = 10 ** (QUIET_DBFS / 10)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (s_n > 0) & (s_ll > quiet * s_n) & (s_rr > quiet * s_n)
            corr = np.where(ok, s_lr / np.sqrt(s_ll * s_rr), np.nan)
        corr_t = (bucket_start[:-1] + bucket_start[1:]) / 2 / sr
    else:
        corr, corr_t = np.zeros(0), np.zeros(0)
    empty = ~np.isfinite(env_min)
    env_min[empty], env_max[empty] = 0.0, 0.0
    return TrackView(
        duration_s=info.duration_s, sample_rate=sr, channels=ch, env_min=env_min, env_max=env_max,
        momentary_t=mt, momentary_lufs=mv, short_term_t=st, short_term_lufs=sv,
        integrated_lufs=float(res.integrated_lufs), spectrum_hz=spectrum_hz, spectrum_db=spectrum_db,
        correlation_t=corr_t, correlation=corr,
    )


def _log_bins(freqs: np.ndarray, power: np.ndarray, per_octave: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Power density averaged in 1/``per_octave``-octave bins from 20 Hz to Nyquist (bins with no FFT bin are
    skipped); dB re full scale squared per Hz."""
    nyq = freqs[-1]
    lo = 20.0
    if nyq <= lo:
        return freqs[1:], 10 * np.log10(np.maximum(power[1:], 1e-30))
    edges = lo * 2.0 ** (np.arange(0, math.log2(nyq / lo) * per_octave + 1) / per_octave)
    idx = np.searchsorted(edges, freqs, side="right") - 1
    ok = (idx >= 0) & (idx < len(edges) - 1) & (freqs > 0)
    sums = np.bincount(idx[ok], weights=power[ok], minlength=len(edges) - 1)
    counts = np.bincount(idx[ok], minlength=len(edges) - 1)
    has = counts > 0
    centres = np.sqrt(edges[:-1] * edges[1:])[has]
    return centres, 10 * np.log10(np.maximum(sums[has] / counts[has], 1e-30))
