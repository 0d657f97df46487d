"""Array-namespace dispatch: one kernel body for NumPy and CuPy.

Kernels call :func:`array_namespace` on their input and :func:`signal_module` for the matching
``scipy.signal``-compatible module, so the same code runs on a laptop and on a GPU worker.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def array_namespace(x) -> ModuleType:
    """Return ``cupy`` for CuPy arrays and ``numpy`` for everything else."""
    mod = type(x).__module__
    if mod.startswith("cupy"):
        import cupy  # noqa: PLC0415 - optional dependency, only when given a CuPy array

        return cupy
    return np


def signal_module(xp: ModuleType) -> ModuleType:
    """``scipy.signal`` for NumPy, ``cupyx.scipy.signal`` for CuPy (same names and signatures)."""
    if xp is np:
        import scipy.signal  # noqa: PLC0415

        return scipy.signal
    import cupyx.scipy.signal  # noqa: PLC0415

    return cupyx.scipy.signal


def to_numpy(x) -> np.ndarray:
    """Bring an array to host memory (no copy for NumPy input)."""
    if type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def gpu_available() -> tuple[bool, str]:
    """Whether CuPy imports and sees a CUDA device, with the reason when it does not."""
    try:
        import cupy  # noqa: PLC0415
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        return False, f"cupy is not importable ({exc.__class__.__name__}: {exc})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"no CUDA device ({exc.__class__.__name__}: {exc})"
    if n < 1:
        return False, "no CUDA device"
    return True, f"{n} CUDA device(s)"


def as_block(block, channels: int):
    """Validate one block fed to a streaming meter and return ``(xp, block)`` with the block as float64.

    Raises
    ------
    ValueError
        When the block is not shaped ``(channels, n)``.
    """
    xp = array_namespace(block)
    block = xp.asarray(block, dtype=xp.float64)
    if block.ndim != 2 or block.shape[0] != channels:
        raise ValueError(f"block has shape {tuple(block.shape)}, expected ({channels}, samples)")
    return xp, block


def check_channels(channels) -> int:
    """A meter's channel count: a positive integer (not a bool)."""
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"channels {channels!r} must be a positive integer")
    return int(channels)
