"""Stereo width per band: mid/side scaling on Linkwitz-Riley bands, bass to mono, and a width analysis.

With ``mid = (L + R) / 2`` and ``side = (L - R) / 2``, :func:`adjust_width` splits the side into bands
with the LR4 crossovers of :func:`kernels.dynamics.split_bands` (whose bands sum to an allpass of their
input), scales band ``i`` by ``widths[i]`` and passes the mid through the same allpasses. The mid's
magnitude is therefore untouched at every frequency and mid and side keep the same phase relation as in
the input: a source panned at 30 % stays a coherent source at (30 x width) %, instead of the smear that
a phase-shifted side would give. ``mono_below_hz`` then high-passes the side (LR4) and passes the mid
through the matching allpass, so below that frequency both channels carry the mid only.

:func:`width_by_band` measures, per band of the same split, the side-to-mid energy ratio and the L/R
correlation, the figures a mastering plan decides width and bass-mono settings from.

No sequential loops here, so no CPU/GPU twins: every step is ``sosfilt`` and array arithmetic on ``xp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kernels._xp import array_namespace, signal_module
from kernels.dynamics import (
    _allpass_chain,
    _check_edges,
    _check_rate,
    _sos,
    crossover_sos,
    split_bands,
)

__all__ = ["WidthAnalysis", "adjust_width", "width_by_band"]


@dataclass(frozen=True)
class WidthAnalysis:
    """Per-band stereo figures from :func:`width_by_band`, lowest band first.

    Attributes
    ----------
    edges_hz : tuple of float
        The crossover frequencies between the bands.
    side_to_mid_db : tuple of float
        ``10 log10(sum side^2 / sum mid^2)`` per band: -inf for identical channels (mono), 0 dB when side
        and mid are equally strong (e.g. one channel silent), +inf when the mid is zero (pure anti-phase).
        NaN for a silent band.
    correlation : tuple of float
        Zero-lag L/R correlation ``sum(L R) / sqrt(sum L^2 sum R^2)`` per band (a phase meter's
        reading, no mean removed): +1 mono, 0 unrelated, -1 anti-phase. NaN when a channel is silent in
        that band.
    """

    edges_hz: tuple[float, ...]
    side_to_mid_db: tuple[float, ...]
    correlation: tuple[float, ...]


def _check_stereo(x, xp):
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"audio has shape {tuple(x.shape)}, expected (2, samples): width needs stereo")
    return xp, x


def adjust_width(
    x,
    sample_rate: float,
    *,
    edges_hz: Sequence[float] = (150.0, 2500.0),
    widths: Sequence[float] = (1.0, 1.0, 1.0),
    mono_below_hz: float | None = None,
    xp=None,
):
    """Scale the side signal per band, and optionally make the bass mono.

    Parameters
    ----------
    x : array, shape (2, n)
        Stereo audio (L, R) in full-scale units (NumPy or CuPy).
    sample_rate : float
        Sampling rate in Hz.
    edges_hz : sequence of float
        Crossover frequencies between the width bands, strictly increasing.
    widths : sequence of float
        Side gain per band (``len(edges_hz) + 1`` values, ``>= 0``): 0 mono, 1 unchanged, 2 twice the side.
    mono_below_hz : float, optional
        Remove the side below this frequency (an LR4 high-pass on the side, the matching allpass on the
        mid); ``None`` keeps it.
    xp : module, optional
        ``numpy`` or ``cupy``; defaults to the namespace of ``x``.

    Returns
    -------
    array, shape (2, n), float64
        Aligned with ``x``. With every width 1 and no ``mono_below_hz`` the stage is skipped and ``x``
        itself is returned (as float64). Otherwise L and R come out through the crossovers' allpasses
        (flat magnitude): the mid's magnitude is unchanged at every frequency.

    Raises
    ------
    ValueError
        When ``x`` is not stereo, or on invalid edges, widths or ``mono_below_hz``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((2, 44100)) * 0.1
    >>> y = adjust_width(x, 44100, widths=(0.0, 0.0, 0.0))
    >>> bool(np.array_equal(y[0], y[1]))  # mono
    True
    """
    xp, x = _check_stereo(x, xp)
    fs = _check_rate(sample_rate)
    edges = _check_edges(edges_hz, fs)
    widths = tuple(widths)
    if len(widths) != len(edges) + 1:
        raise ValueError(f"{len(widths)} widths given for {len(edges)} edges; expected {len(edges) + 1} (one per band)")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"width {w!r} must be a finite number >= 0 (0 mono, 1 unchanged)")
    if mono_below_hz is not None:
        _check_edges((mono_below_hz,), fs)
    if all(w == 1.0 for w in widths) and mono_below_hz is None:
        return x
    mid = 0.5 * (x[0] + x[1])
    side = 0.5 * (x[0] - x[1])
    bands = split_bands(side, fs, edges, xp=xp)
    side = bands[0] * float(widths[0])
    for band, w in zip(bands[1:], widths[1:]):
        side += band * float(w)
    mid = _allpass_chain(mid, fs, edges, xp)
    if mono_below_hz is not None:
        _, high_sos = crossover_sos(fs, float(mono_below_hz))
        side = signal_module(xp).sosfilt(_sos(xp, high_sos), side, axis=-1)
        mid = _allpass_chain(mid, fs, (float(mono_below_hz),), xp)
    return xp.stack([mid + side, mid - side])


def width_by_band(x, sample_rate: float, *, edges_hz: Sequence[float] = (150.0, 2500.0), xp=None) -> WidthAnalysis:
    """Side-to-mid ratio and L/R correlation in each band of an LR4 split.

    Parameters
    ----------
    x : array, shape (2, n)
        Stereo audio (L, R) (NumPy or CuPy).
    sample_rate : float
        Sampling rate in Hz.
    edges_hz : sequence of float
        Crossover frequencies, strictly increasing (the same bands as :func:`adjust_width`).
    xp : module, optional
        ``numpy`` or ``cupy``; defaults to the namespace of ``x``.

    Returns
    -------
    WidthAnalysis
        Python floats, lowest band first. Both channels go through the same filters, so the in-band
        phase relation between L and R is that of the input.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).standard_normal(44100)
    >>> a = width_by_band(np.stack([noise, noise]), 44100)
    >>> [round(c, 6) for c in a.correlation], a.side_to_mid_db
    ([1.0, 1.0, 1.0], (-inf, -inf, -inf))
    """
    xp, x = _check_stereo(x, xp)
    fs = _check_rate(sample_rate)
    edges = _check_edges(edges_hz, fs)
    ratios, correlations = [], []
    for band in split_bands(x, fs, edges, xp=xp):
        left, right = band[0], band[1]
        mid_energy = float(xp.sum((left + right) ** 2))
        side_energy = float(xp.sum((left - right) ** 2))
        ratios.append(_ratio_db(side_energy, mid_energy))
        ll, rr, lr = float(xp.sum(left * left)), float(xp.sum(right * right)), float(xp.sum(left * right))
        correlations.append(lr / math.sqrt(ll * rr) if ll > 0.0 and rr > 0.0 else math.nan)
    return WidthAnalysis(edges_hz=edges, side_to_mid_db=tuple(ratios), correlation=tuple(correlations))


def _ratio_db(side_energy: float, mid_energy: float) -> float:
    if side_energy == 0.0 and mid_energy == 0.0:
        return math.nan
    if side_energy == 0.0:
        return -math.inf
    if mid_energy == 0.0:
        return math.inf
    return 10.0 * math.log10(side_energy / mid_energy)
