"""What the mastering decisions look at: one track's loudness, dynamics, tone and stereo image.

:func:`analyse` measures a whole track held in memory (the mastering chain needs it whole anyway): integrated
loudness, loudness range and crest factor (how dynamic it is), where its loud and quiet sections are (from the
3 s short-term loudness), the long-term spectrum of its mid and side signals in octave bands (its tone), and
the L/R correlation and side-to-mid level per band (its width; a poor low-end correlation is what makes a
vinyl cut or a mono playback lose the bass).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from farm.master.presets import CURVE_CENTRES_HZ
from kernels.loudness import measure_loudness
from kernels.spectrum import band_levels_db, long_term_spectrum, mid_side
from kernels.truepeak import TruePeakMeter
from kernels.width import width_by_band

__all__ = ["TrackAnalysis", "analyse", "WIDTH_EDGES_HZ"]

#: Bands of the stereo analysis and of the width stage: low (< 150 Hz), mid, high (> 2.5 kHz).
WIDTH_EDGES_HZ: tuple[float, float] = (150.0, 2500.0)
_MAX_SECTIONS = 8


@dataclass(frozen=True)
class TrackAnalysis:
    """Measurements of one track for the plan (``None`` where a value does not exist, e.g. for silence).

    Levels are dB; loudness LUFS/LU; times seconds. ``mid_band_db`` / ``side_band_db`` are energies per
    octave band at :data:`farm.master.presets.CURVE_CENTRES_HZ`; ``band_correlation`` and
    ``band_side_to_mid_db`` are per band of :data:`WIDTH_EDGES_HZ` (low, mid, high).
    """

    duration_s: float
    sample_rate: int
    channels: int
    integrated_lufs: float | None
    loudness_range_lu: float | None
    true_peak_dbtp: float | None
    sample_peak_dbfs: float | None
    rms_dbfs: float | None
    crest_db: float | None
    short_term_p10_lufs: float | None
    short_term_p95_lufs: float | None
    section_contrast_lu: float | None
    loud_sections_s: list[list[float]]
    quiet_sections_s: list[list[float]]
    band_centres_hz: list[float]
    mid_band_db: list[float | None]
    side_band_db: list[float | None]
    width_edges_hz: list[float]
    band_correlation: list[float | None]
    band_side_to_mid_db: list[float | None]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrackAnalysis":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def _num(v, digits: int = 2) -> float | None:
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def analyse(x: np.ndarray, sample_rate: int) -> TrackAnalysis:
    """Measure one track.

    Parameters
    ----------
    x : numpy.ndarray
        float, shape ``(channels, samples)``.
    sample_rate : int
        Hz.

    Returns
    -------
    TrackAnalysis

    Examples
    --------
    >>> sr = 48000
    >>> t = np.arange(10 * sr) / sr
    >>> a = analyse(0.25 * np.sin(2 * np.pi * 1000 * t) * np.ones((2, 1)), sr)
    >>> round(a.crest_db, 1), a.band_correlation[1]
    (3.0, 1.0)
    """
    x = np.asarray(x, dtype=np.float64)
    channels, n = x.shape
    loud = measure_loudness(x, sample_rate)
    tp = TruePeakMeter(sample_rate, channels)
    tp.process(x)
    true_peak = tp.result().true_peak_dbtp
    peak = float(np.max(np.abs(x))) if n else 0.0
    rms = math.sqrt(float(np.mean(x * x))) if n else 0.0
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    rms_db = 20 * math.log10(rms) if rms > 0 else -math.inf

    st = np.asarray(loud.short_term_lufs)
    # gated like the loudness range (EBU Tech 3342): a reverb tail or the silence after a fade is not a section
    gate = max(-70.0, loud.integrated_lufs - 20.0) if math.isfinite(loud.integrated_lufs) else -70.0
    audible = st[np.isfinite(st) & (st > gate)]
    if audible.size:
        p10, p95 = float(np.percentile(audible, 10)), float(np.percentile(audible, 95))
        loud_sec = _sections(st, loud.tick_s, lambda v: v >= p95 - 3.0)
        quiet_sec = _sections(st, loud.tick_s, lambda v: (v <= p10 + 3.0) & (v > gate))
    else:
        p10 = p95 = math.nan
        loud_sec = quiet_sec = []

    if channels >= 2:
        mid, side = mid_side(x[:2])
        mono = np.concatenate([mid, side])
    else:
        mono = np.concatenate([x[:1], np.zeros_like(x[:1])])
    freqs, power = long_term_spectrum(mono, sample_rate)
    bands = band_levels_db(freqs, power, CURVE_CENTRES_HZ)
    if channels >= 2:
        wa = width_by_band(x[:2], sample_rate, edges_hz=WIDTH_EDGES_HZ)
        corr = [_num(c, 3) for c in wa.correlation]
        s2m = [_num(s, 1) for s in wa.side_to_mid_db]
    else:
        corr = [None] * (len(WIDTH_EDGES_HZ) + 1)
        s2m = [None] * (len(WIDTH_EDGES_HZ) + 1)
    return TrackAnalysis(
        duration_s=round(n / sample_rate, 3),
        sample_rate=int(sample_rate),
        channels=int(channels),
        integrated_lufs=_num(loud.integrated_lufs),
        loudness_range_lu=_num(loud.loudness_range_lu),
        true_peak_dbtp=_num(true_peak),
        sample_peak_dbfs=_num(peak_db),
        rms_dbfs=_num(rms_db),
        crest_db=_num(peak_db - rms_db) if peak > 0 else None,
        short_term_p10_lufs=_num(p10),
        short_term_p95_lufs=_num(p95),
        section_contrast_lu=_num(p95 - p10),
        loud_sections_s=loud_sec,
        quiet_sections_s=quiet_sec,
        band_centres_hz=list(CURVE_CENTRES_HZ),
        mid_band_db=[_num(v, 1) for v in bands[0]],
        side_band_db=[_num(v, 1) for v in bands[1]],
        width_edges_hz=list(WIDTH_EDGES_HZ),
        band_correlation=corr,
        band_side_to_mid_db=s2m,
    )


def _sections(series: np.ndarray, tick_s: float, test) -> list[list[float]]:
    """Stretches of at least 3 s where ``test`` holds on the short-term series, as [start_s, end_s], longest
    first (at most ``_MAX_SECTIONS``). The series' value ``i`` is the 3 s window ending at ``(i + 300) * tick_s``."""
    ok = np.zeros(series.size + 2, dtype=bool)
    with np.errstate(invalid="ignore"):
        ok[1:-1] = test(series)
    edges = np.flatnonzero(np.diff(ok.astype(np.int8)))
    spans = []
    for a, b in zip(edges[::2], edges[1::2]):
        start, end = a * tick_s, (b - 1 + 300) * tick_s  # window start of the first, window end of the last
        if end - start >= 3.0:
            spans.append([round(start, 2), round(end, 2)])
    spans.sort(key=lambda s: s[0] - s[1])
    return sorted(spans[:_MAX_SECTIONS])
