"""K-weighting (ITU-R BS.1770-4): the frequency weighting in front of every loudness measurement.

K-weighting is two biquads in series: a high-shelf "pre-filter" (about +4 dB above ~1.7 kHz, modelling
the acoustic effect of the head) and the "RLB" high-pass (about 38 Hz). BS.1770 publishes coefficients
only for 48 kHz. Reusing them at another rate moves every corner frequency (at 44.1 kHz the response is
off by more than 1 dB), so this module re-designs both stages for the rate at hand.

How the design works
--------------------
Each stage is taken to be the bilinear-transform image, with prewarping at its pole frequency ``f0``,
of a fixed analog prototype in the normalised variable ``s' = s / w0``::

    H(s') = (n2 s'^2 + n1 s' + n0) / (s'^2 + s'/Q + 1)

The bilinear transform with prewarping is invertible, so the prototype is *derived* from the published
48 kHz coefficients rather than typed in (see :func:`_prototype_from_biquad`). That gives:

==============  ===============  ==========  ==============================================
stage           f0 (Hz)          Q           numerator
==============  ===============  ==========  ==============================================
pre-filter      1681.97445095    0.70717524  n2 = 1.58486 (+3.99984 dB above the shelf),
                                             n1 = 1.77993, n0 = 1 (unity gain at DC)
RLB high-pass   38.1354708761    0.50032704  n2 = 1.00499 (gain at high frequency), n1 = n0 = 0
==============  ===============  ==========  ==============================================

The RLB numerator gain ``n2`` is not 1 because the published high-pass numerator is exactly
``[1, -2, 1]`` rather than normalised; keeping that same analog gain at every rate keeps the overall
K-weighting gain (and so the -0.691 dB constant in the loudness formula) consistent across rates.
Implementations that keep the numerator at ``[1, -2, 1]`` at every rate (ffmpeg's ebur128,
libebur128, pyloudnorm's "DeMan" filters) read 20 log10(1 / b0) dB differently at other rates:
+0.004 dB at 44.1 kHz, +0.022 dB at 32 kHz, -0.020 dB at 88.2 kHz, -0.032 dB at 192 kHz.
Designing at 48 kHz reproduces the published coefficients to rounding (about 1e-15); at 44.1 kHz the
magnitude response stays within 0.002 dB of the 48 kHz design up to 15 kHz.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

from kernels._xp import array_namespace, signal_module, to_numpy

__all__ = ["kweighting_sos", "kweight", "KWEIGHTING_48K_SOS"]

#: The coefficients published in ITU-R BS.1770-4 for 48 kHz, as an SOS array (pre-filter, RLB).
#: Each row is ``[b0, b1, b2, 1, a1, a2]``.
KWEIGHTING_48K_SOS = np.array(
    [
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ],
    dtype=np.float64,
)
KWEIGHTING_48K_SOS.flags.writeable = False

_PUBLISHED_RATE_HZ = 48000.0

# Outside this range the shelf corner (1.68 kHz) approaches Nyquist or the design stops being useful.
_MIN_RATE_HZ = 8000.0
_MAX_RATE_HZ = 768000.0


def _prototype_from_biquad(sos_row: np.ndarray, sample_rate: float) -> tuple[float, float, float, float, float]:
    """Invert the prewarped bilinear transform of one biquad.

    Parameters
    ----------
    sos_row : ndarray, shape (6,)
        ``[b0, b1, b2, 1, a1, a2]`` of a stable biquad with complex or real poles.
    sample_rate : float
        The rate the biquad was designed for.

    Returns
    -------
    f0_hz, q, n2, n1, n0 : float
        The analog prototype ``(n2 s'^2 + n1 s' + n0) / (s'^2 + s'/Q + 1)`` with ``s' = s / w0``,
        prewarped at ``f0_hz``.

    Notes
    -----
    With ``K = tan(pi f0 / fs)`` the bilinear image has denominator ``[1 + K/Q + K^2, 2(K^2 - 1),
    1 - K/Q + K^2]`` (before normalising ``a0`` to 1), so evaluating the digital filter at z = 1 (DC)
    and z = -1 (Nyquist) gives ``K^2`` directly, and the remaining terms follow linearly.
    """
    b0, b1, b2, _, a1, a2 = (float(v) for v in sos_row)
    den_dc = 1.0 + a1 + a2  # 4 K^2 / a0
    den_nyq = 1.0 - a1 + a2  # 4 / a0
    k = math.sqrt(den_dc / den_nyq)
    a0 = 4.0 / den_nyq
    k_over_q = a0 * (1.0 - a2) / 2.0
    n0 = (b0 + b1 + b2) / den_dc  # gain at DC
    n2 = (b0 - b1 + b2) / den_nyq  # gain at Nyquist = analog gain at infinity
    n1 = a0 * (b0 - b2) / (2.0 * k)
    f0_hz = sample_rate * math.atan(k) / math.pi
    return f0_hz, k / k_over_q, n2, n1, n0


def _biquad_from_prototype(
    f0_hz: float, q: float, n2: float, n1: float, n0: float, sample_rate: float
) -> np.ndarray:
    """Bilinear transform (prewarped at ``f0_hz``) of the normalised analog biquad; returns one SOS row."""
    k = math.tan(math.pi * f0_hz / sample_rate)
    kk = k * k
    a0 = 1.0 + k / q + kk
    b = np.array([n2 + n1 * k + n0 * kk, 2.0 * (n0 * kk - n2), n2 - n1 * k + n0 * kk]) / a0
    a = np.array([1.0, 2.0 * (kk - 1.0) / a0, (1.0 - k / q + kk) / a0])
    return np.concatenate([b, a])


#: The analog prototypes of the two stages, derived once from the published 48 kHz table.
PREFILTER_PROTOTYPE = _prototype_from_biquad(KWEIGHTING_48K_SOS[0], _PUBLISHED_RATE_HZ)
RLB_PROTOTYPE = _prototype_from_biquad(KWEIGHTING_48K_SOS[1], _PUBLISHED_RATE_HZ)


@functools.lru_cache(maxsize=32)
def kweighting_sos(sample_rate: float) -> np.ndarray:
    """K-weighting filter for ``sample_rate`` as second-order sections.

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz, 8 kHz to 768 kHz.

    Returns
    -------
    ndarray, shape (2, 6), float64, read-only
        Rows ``[b0, b1, b2, 1, a1, a2]``: the high-shelf pre-filter, then the RLB high-pass.
        Cached per rate, so callers must not (and cannot) modify it.

    Raises
    ------
    ValueError
        If ``sample_rate`` is not a finite number in the supported range.

    Examples
    --------
    >>> sos = kweighting_sos(48000)
    >>> bool(abs(sos[0, 0] - 1.53512485958697) < 1e-12)
    True
    """
    fs = float(sample_rate)
    if not math.isfinite(fs) or not _MIN_RATE_HZ <= fs <= _MAX_RATE_HZ:
        raise ValueError(
            f"sample_rate {sample_rate!r} Hz is outside the K-weighting design range "
            f"{_MIN_RATE_HZ:g}..{_MAX_RATE_HZ:g} Hz"
        )
    sos = np.stack(
        [
            _biquad_from_prototype(*PREFILTER_PROTOTYPE, fs),
            _biquad_from_prototype(*RLB_PROTOTYPE, fs),
        ]
    )
    sos.flags.writeable = False
    return sos


def kweight(x, sample_rate: float, *, zi=None):
    """Apply K-weighting along the last axis, carrying filter state between calls.

    Parameters
    ----------
    x : array, shape (..., samples)
        Audio in full-scale units, usually ``(channels, samples)``; NumPy or CuPy.
    sample_rate : float
        Sampling rate in Hz.
    zi : array, shape (2, ..., 2), optional
        Filter state returned by the previous call (``zf``) for the same stream; ``None`` starts
        from rest (all zeros), as a meter reset does.

    Returns
    -------
    y : array, shape like ``x``, float64
        K-weighted signal.
    zf : array, shape (2, ..., 2)
        State to pass as ``zi`` with the next block; feeding a stream block by block gives the same
        output as one call on the whole stream.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 480)); x[:, 0] = 1.0
    >>> y1, z = kweight(x[:, :100], 48000)
    >>> y2, _ = kweight(x[:, 100:], 48000, zi=z)
    >>> y, _ = kweight(x, 48000)
    >>> bool(np.allclose(np.concatenate([y1, y2], axis=-1), y))
    True
    """
    xp = array_namespace(x)
    signal = signal_module(xp)
    x = xp.asarray(x, dtype=xp.float64)
    # A writeable copy: the cached design is read-only and scipy's sosfilt insists on a writeable buffer.
    sos = xp.array(kweighting_sos(float(sample_rate)), dtype=xp.float64, copy=True)
    state_shape = (sos.shape[0], *x.shape[:-1], 2)
    if zi is None:
        zi = xp.zeros(state_shape, dtype=xp.float64)
    elif tuple(zi.shape) != state_shape:
        raise ValueError(f"zi has shape {tuple(zi.shape)}, expected {state_shape} for x of shape {tuple(x.shape)}")
    if xp is not np:
        # CuPy 14's sosfilt fails whenever it is given a state (zi) in any layout, and its lfilter with a state
        # returns wrong samples (both seen on an H100 in session 24): the recursion runs on the host, scipy's
        # arithmetic exactly, and the weighted block goes back to the device (a 3 s stereo block: 3.4 ms)
        import scipy.signal

        y, zf = scipy.signal.sosfilt(to_numpy(sos), to_numpy(x), axis=-1, zi=to_numpy(zi))
        return xp.asarray(y), xp.asarray(zf)
    if xp is np and x.ndim == 2 and "numba" in sys.modules:
        # where numba is loaded anyway (the mastering chain), farm's own cascade: scipy's arithmetic to the last
        # bit, two channels at a time, ~1.5x faster; a QC worker does not load numba for it (~100 MB, 0.25 s)
        from kernels.eq import sos_cascade_with_state  # noqa: PLC0415

        return sos_cascade_with_state(sos, x, zi)
    return signal.sosfilt(sos, x, axis=-1, zi=zi)
