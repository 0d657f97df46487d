"""TPDF dither and requantisation to integer PCM, with optional 5-tap noise shaping.

What it does
------------
``tpdf_quantise`` turns float audio in full-scale units (``(channels, samples)``, -1.0 .. 1.0) into integers
of ``bits`` bits: ``y = floor(q + d + 1/2)`` with ``q = x * 2**(bits - 1)`` (the signal in LSB) and ``d`` the
sum of two independent uniform values of +/- 0.5 LSB (triangular, TPDF, on (-1, 1) LSB). Then:

* **exact zeros stay zero**: a sample that is exactly 0.0 gives 0 (digital silence, e.g. the gaps of a CD,
  stays digital silence, as players and plants expect);
* the result is **clipped** to ``[-2**(bits-1), 2**(bits-1) - 1]``.

Why TPDF, and what the error is
-------------------------------
The total error ``eps = y - q = (y - (q + d)) + d = r + d`` is the rounding error ``r`` of the dithered value
plus the dither. With TPDF dither (Wannamaker, Lipshitz & Vanderkooy, "A theory of nonsubtractive dither",
2000) the first two moments of ``eps`` do not depend on the signal: ``E[eps] = 0`` and
``E[eps^2] = E[d^2] + LSB^2/12 = LSB^2/6 + LSB^2/12 = LSB^2/4`` (each uniform +/-0.5 LSB value has variance
LSB^2/12, the two add to LSB^2/6; the rounding adds the LSB^2/12 of a uniform quantiser). Successive errors
are uncorrelated, so the error spectrum is white at that power: a constant 4.77 dB above the plain LSB^2/12
floor, with no harmonics of the signal however quiet it is (a -90 dBFS sine at 16 bits, about 1 LSB,
stays a sine in noise instead of becoming a square wave).

Noise shaping
-------------
With ``noise_shaping=True`` the quantisation error is fed back through Lipshitz's 5-tap filter for 44.1 kHz
(``h = 2.033, -2.165, 1.959, -1.590, 0.6149``): ``v[n] = q[n] - sum_k h[k] e[n-1-k]``,
``y[n] = floor(v[n] + d[n] + 1/2)``, ``e[n] = y[n] - v[n]``. Then ``y = q + e * (1 - sum_k h[k] z^-(k+1))``:
the same white error ``e`` (variance LSB^2/4) coloured by the noise transfer function
``NTF(z) = 1 - h(z) z^-1`` (minimum phase, zeros inside the unit circle), about -16 dB from DC to 3 kHz,
-27 dB at 4 kHz, -14 dB at 5 kHz, 0 dB near 9 kHz and +19 dB at Nyquist: the noise moves from where the ear
is most sensitive to where it is least. The feedback uses the unclipped value, so ``|e| < 1.5`` LSB always
and the loop cannot run away; the output error is bounded by ``(1 + sum|h|) * 1.5 = 14.0`` LSB
(:data:`SHAPED_ERROR_BOUND_LSB`). An exact-zero input sample outputs 0 and feeds an error of 0 back, so the
filter's state dies out within 5 samples of digital silence. The filter is designed for 44.1 kHz; at other
rates its shape scales with the rate.

The loop is sequential per channel, so it has two twins (compared in ``tests/kernels/test_dither.py``, skipped
where there is no GPU): :func:`_shape_cpu` (numba) and :data:`_SHAPE_CUDA` (a CuPy ``RawKernel``, one thread
per channel, compiled with ``--fmad=false`` so that every product and sum rounds as the CPU's does and the
integers come out identical).

Determinism
-----------
The dither comes from ``numpy.random.default_rng(rng_seed)`` on the host, in a fixed order (blocks of
:data:`BLOCK` samples, all channels, two uniforms each), and is copied to the device for CuPy input; the
rounding is ``floor(v + d + 0.5)`` in float64 everywhere. The same input and seed give the same integers on
any machine, CPU or GPU.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from kernels._xp import array_namespace

__all__ = ["tpdf_quantise", "NOISE_SHAPING_TAPS", "noise_transfer", "SHAPED_ERROR_BOUND_LSB",
           "TPDF_ERROR_BOUND_LSB"]

#: Lipshitz et al.'s 5-tap error-feedback filter for 44.1 kHz ("Minimally audible noise shaping", 1991).
NOISE_SHAPING_TAPS = (2.033, -2.165, 1.959, -1.590, 0.6149)
#: ``|y - q|`` never exceeds this without noise shaping (dither < 1 LSB plus rounding <= 0.5 LSB).
TPDF_ERROR_BOUND_LSB = 1.5
#: ... and this with noise shaping: ``(1 + sum |h|) * 1.5`` LSB.
SHAPED_ERROR_BOUND_LSB = (1.0 + sum(abs(h) for h in NOISE_SHAPING_TAPS)) * 1.5
BLOCK = 1 << 16  # samples per channel per dither block (fixes the order the generator is drawn in)


def noise_transfer() -> np.ndarray:
    """FIR coefficients of the noise transfer function ``1 - sum_k h[k] z^-(k+1)`` (for ``scipy.signal.freqz``)."""
    return np.array((1.0,) + tuple(-h for h in NOISE_SHAPING_TAPS))


def tpdf_quantise(x, bits: int, *, rng_seed, noise_shaping: bool = False, xp=None):
    """Requantise float audio to ``bits``-bit integers with TPDF dither (and optional noise shaping).

    Parameters
    ----------
    x : array, shape (channels, samples)
        Float audio in full-scale units (NumPy or CuPy).
    bits : int
        Target word length, 2 to 32 (16 for a CD). The caller skips dither at 24 bits and above if it wants
        to (the reference's advice); this function always dithers.
    rng_seed : int or sequence of int
        Seed of ``numpy.random.default_rng``; the same seed gives the same integers.
    noise_shaping : bool
        Feed the error back through :data:`NOISE_SHAPING_TAPS` (see the module docstring).
    xp : module, optional
        ``numpy`` or ``cupy``; default the namespace of ``x``.

    Returns
    -------
    array, shape (channels, samples)
        ``int16`` for ``bits <= 16``, else ``int32``, in the namespace of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.5, -1.0, 1.0]])
    >>> tpdf_quantise(x, 16, rng_seed=1)[0, [0, 2, 3]].tolist()   # zero stays zero; clipped to the range
    [0, -32768, 32767]
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 32:
        raise ValueError(f"bits {bits!r} must be an integer from 2 to 32")
    xp = array_namespace(x) if xp is None else xp
    x = xp.asarray(x, dtype=xp.float64)
    if x.ndim != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (channels, samples)")
    channels, n = (int(s) for s in x.shape)
    scale = float(2 ** (int(bits) - 1))
    lo, hi = -scale, scale - 1.0
    out = xp.empty((channels, n), dtype=xp.int16 if bits <= 16 else xp.int32)
    rng = np.random.default_rng(rng_seed)
    state = np.zeros((channels, len(NOISE_SHAPING_TAPS)))  # past errors, newest first
    if xp is not np:
        state = xp.asarray(state)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        u = rng.random((2, channels, stop - start))
        dither = u[0] - u[1]  # (u0 - 1/2) + (1/2 - u1): two uniform +/-0.5 LSB values, summed
        if xp is not np:
            dither = xp.asarray(dither)
        q = x[:, start:stop] * scale  # a power of two: exact
        if noise_shaping:
            y = _shape(xp, q, dither, state)
        else:
            y = xp.floor(q + dither + 0.5)
            y = xp.where(q == 0.0, 0.0, y)
        out[:, start:stop] = xp.clip(y, lo, hi).astype(out.dtype)
    return out


def _shape(xp, q, dither, state):
    """Noise-shaped rounding of one block; ``state`` (channels, 5) carries the past errors in and out."""
    y = xp.empty_like(q)
    taps = np.asarray(NOISE_SHAPING_TAPS)
    if xp is np:
        _shape_cpu(np.ascontiguousarray(q), np.ascontiguousarray(dither), taps, state, y)
    else:
        _shape_gpu(xp, xp.ascontiguousarray(q), xp.ascontiguousarray(dither), xp.asarray(taps), state, y)
    return y


@numba.njit(cache=True, nogil=True)
def _shape_cpu(q, dither, taps, state, y):  # pragma: no cover - compiled; tested against the reference loop
    channels, n = q.shape
    m = taps.shape[0]
    for ch in range(channels):
        e = state[ch].copy()
        for i in range(n):
            if q[ch, i] == 0.0:
                y[ch, i] = 0.0
                err = 0.0
            else:
                acc = 0.0
                for k in range(m):
                    acc = acc + taps[k] * e[k]
                v = q[ch, i] - acc
                r = np.floor(v + dither[ch, i] + 0.5)
                y[ch, i] = r
                err = r - v
            for k in range(m - 1, 0, -1):
                e[k] = e[k - 1]
            e[0] = err
        state[ch, :] = e


_SHAPE_CUDA = r"""
extern "C" __global__ void dither_shape(const double* q, const double* dither, const double* taps,
                                        double* state, double* y, const int channels, const long long n) {
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= channels) return;
    double e[5];
    for (int k = 0; k < 5; ++k) e[k] = state[ch * 5 + k];
    const double* qc = q + (long long)ch * n;
    const double* dc = dither + (long long)ch * n;
    double* yc = y + (long long)ch * n;
    for (long long i = 0; i < n; ++i) {
        double err;
        if (qc[i] == 0.0) {
            yc[i] = 0.0;
            err = 0.0;
        } else {
            double acc = 0.0;
            for (int k = 0; k < 5; ++k) acc = acc + taps[k] * e[k];
            const double v = qc[i] - acc;
            const double r = floor(v + dc[i] + 0.5);
            yc[i] = r;
            err = r - v;
        }
        for (int k = 4; k > 0; --k) e[k] = e[k - 1];
        e[0] = err;
    }
    for (int k = 0; k < 5; ++k) state[ch * 5 + k] = e[k];
}
"""


@functools.lru_cache(maxsize=1)
def _shape_kernel():
    import cupy  # noqa: PLC0415 - optional dependency, GPU path only

    # No fused multiply-add: every product and sum rounds as on the CPU, so the integers match exactly.
    return cupy.RawKernel(_SHAPE_CUDA, "dither_shape", options=("--fmad=false",))


def _shape_gpu(xp, q, dither, taps, state, y):  # pragma: no cover - needs a CUDA device
    channels, n = (int(s) for s in q.shape)
    _shape_kernel()((1,), (max(channels, 1),), (q, dither, taps, state, y, np.int32(channels), np.int64(n)))
