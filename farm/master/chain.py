"""Apply one track's plan: high-pass, EQ, dynamics, stereo, loudness and the true-peak limiter, in that order.

Every stage is a kernel (``kernels/``, the same code on NumPy and CuPy arrays); a neutral stage is skipped, so a
pass-through plan returns the input unchanged. Loudness is set where it is measured: the gain before the limiter
is corrected until the limited result lands within ``LOUDNESS_TOLERANCE_LU`` of the plan's target (the limiter
lowers loudness a little, more for dynamic music), at most ``MAX_LOUDNESS_PASSES`` passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from farm.master.plan import TrackPlan
from kernels._xp import array_namespace
from kernels.dynamics import compress, multiband_compress
from kernels.eq import apply_fir, apply_sos, graphic_eq_sos, highpass_sos, linear_phase_fir
from kernels.limiter import limit_true_peak
from kernels.loudness import measure_loudness
from kernels.width import adjust_width

__all__ = ["ChainResult", "apply_plan", "MULTIBAND_EDGES_HZ"]

LOUDNESS_TOLERANCE_LU = 0.05
MAX_LOUDNESS_PASSES = 8
MULTIBAND_EDGES_HZ = (120.0, 2000.0, 8000.0)


@dataclass(frozen=True)
class ChainResult:
    """The processed audio and what each stage did."""

    audio: np.ndarray
    gain_db: float
    compression_max_db: float
    limiter_max_db: float
    integrated_lufs: float | None
    loudness_passes: int


def _integrated(x, sample_rate: int) -> float:
    v = measure_loudness(x, sample_rate).integrated_lufs
    return float(v)


def apply_plan(x, sample_rate: int, plan: TrackPlan) -> ChainResult:
    """Run the chain of ``plan`` on ``x`` (shape ``(channels, samples)``, NumPy or CuPy).

    Examples
    --------
    >>> from farm.master.plan import neutral_track_plan
    >>> x = np.random.default_rng(0).standard_normal((2, 48000)) * 0.1
    >>> y = apply_plan(x, 48000, neutral_track_plan("t", "a.wav")).audio
    >>> bool(np.array_equal(x, y))
    True
    """
    xp = array_namespace(x)
    y = x
    # the high-pass and a minimum-phase EQ run as one cascade of biquads (one pass over the audio)
    sections = [highpass_sos(sample_rate, plan.highpass.cutoff_hz)] if plan.highpass.enabled else []
    if plan.eq.enabled:
        # bands too close to Nyquist for a biquad at this rate (16 kHz at 32 kHz and below) are dropped
        keep = [(c, g) for c, g in zip(plan.eq.centres_hz, plan.eq.gains_db) if c < 0.45 * sample_rate]
        centres, gains = tuple(c for c, _ in keep), tuple(g for _, g in keep)
        if any(gains) and plan.eq.mode == "linear-phase":
            if sections:
                y = apply_sos(y, sections.pop())
            y = apply_fir(y, linear_phase_fir(sample_rate, centres, gains))
        elif any(gains):
            sections.append(graphic_eq_sos(sample_rate, centres, gains))
    if sections:
        y = apply_sos(y, np.concatenate(sections, axis=0) if len(sections) > 1 else sections[0])
    comp_db = 0.0
    d = plan.dynamics
    if d.enabled and d.ratio > 1.0:
        settings = dict(threshold_db=d.threshold_dbfs, ratio=d.ratio, attack_ms=d.attack_ms,
                        release_ms=d.release_ms, knee_db=d.knee_db)
        if d.multiband:
            # the low band a little firmer (it carries the peaks), the top gentler (it carries the air)
            bands = [dict(settings, ratio=min(d.ratio * r, 20.0)) for r in (1.25, 1.0, 1.0, 0.8)]
            res = multiband_compress(y, sample_rate, edges_hz=MULTIBAND_EDGES_HZ, bands=bands)
        else:
            res = compress(y, sample_rate, **settings)
        y, comp_db = res.audio, float(res.max_reduction_db)
    s = plan.stereo
    if s.enabled and y.shape[0] == 2:
        y = adjust_width(y, sample_rate, edges_hz=s.edges_hz, widths=s.widths, mono_below_hz=s.mono_below_hz)

    lim = plan.limiter
    target = plan.loudness.target_lufs

    def finish(gain_db: float):
        z = y * (10.0 ** (gain_db / 20.0)) if gain_db != 0.0 else y
        if lim.enabled:
            r = limit_true_peak(z, sample_rate, ceiling_dbtp=lim.ceiling_dbtp, lookahead_ms=lim.lookahead_ms,
                                release_ms=lim.release_ms)
            return r.audio, float(r.max_reduction_db)
        return z, 0.0

    if target is None:  # a fixed gain: nothing to measure (the QC after mastering measures the result)
        out, lim_db = finish(plan.loudness.gain_db)
        return ChainResult(out, plan.loudness.gain_db, comp_db, lim_db, None, 1)

    level = _integrated(y, sample_rate)
    if not math.isfinite(level):  # nothing to set the loudness of
        out, lim_db = finish(0.0)
        return ChainResult(out, 0.0, comp_db, lim_db, None, 1)
    gain = target - level
    passes = 0
    out, lim_db, lufs = y, 0.0, level
    tried: list[tuple[float, float]] = []  # (gain, loudness reached)
    for passes in range(1, MAX_LOUDNESS_PASSES + 1):
        out, lim_db = finish(gain)
        lufs = _integrated(out, sample_rate)
        err = target - lufs
        if abs(err) <= LOUDNESS_TOLERANCE_LU or not math.isfinite(lufs):
            break
        tried.append((gain, lufs))
        if len(tried) >= 2 and tried[-1][1] != tried[-2][1]:
            # secant through the last two passes: the limiter gives back less loudness than the gain added
            # (0.3-0.9 LU per dB when it works hard), so this converges in 2-4 passes where a plain step does not
            (g1, l1), (g2, l2) = tried[-2], tried[-1]
            slope = max((l2 - l1) / (g2 - g1), 0.05) if g2 != g1 else 1.0
            gain = g2 + min(err / slope, 12.0)
        else:
            gain += err
    del xp
    return ChainResult(out, round(gain, 3), comp_db, lim_db, _finite(lufs), passes)


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None
