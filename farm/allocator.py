"""Keep a worker's freed memory for its next track instead of giving it back to the kernel after each one.

A worker allocates and frees the same few signal-sized arrays (tens of MB each) for every track. glibc serves
blocks that big with ``mmap`` and returns them with ``munmap`` when freed, so every new array is faulted in again,
page by page. NumPy asks for transparent huge pages on such arrays (``madvise``); on a kernel whose THP defrag
setting is ``madvise`` (the common default) each fault may then stop the process for direct memory compaction.
Measured on the mastering chain (3 minutes of stereo, one core, ``benchmarks/bench_master.py``): runs alternated
between 0.53 s and 1.40 s; with the memory kept they hold 0.46 s, with NumPy's huge pages turned off instead they
hold 0.66 s (more TLB misses).

:func:`keep_freed_memory` raises glibc's mmap threshold to 1 GiB (blocks under it come from the heap and are
reused) and its trim threshold out of reach (the heap is not shrunk after a track). The worker's resident memory
then stays at its peak for one track; nothing else changes. A no-op where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 30
_TRIM_THRESHOLD = (1 << 31) - 1  # an int argument: the largest it takes
_done = False


def keep_freed_memory() -> bool:
    """Tune glibc's allocator once per process (see the module docstring); True where it was applied."""
    global _done  # noqa: PLW0603 - once per process
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: leave the allocator alone
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # older glibc caps the mmap threshold at 32 MiB (64-bit; this machine's 2.36 takes 1 GiB): larger blocks are
    # then still mapped afresh
    mapped = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) or bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    trimmed = bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    _done = mapped and trimmed
    return _done
