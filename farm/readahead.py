"""Decode the next blocks of a file on a second thread while the current block is analysed.

Decoding (libsndfile's FLAC, MP3 or PCM reader, or a ranged GET from object storage) and analysis (NumPy and
SciPy kernels) both run in C with the GIL released, so a QC worker that decodes on one thread and analyses on
another keeps two cores busy where it used to alternate between them: on a 180 s 24-bit FLAC song decoding is
about a fifth of the audit's time, and it now overlaps the rest. ffmpeg does the same (its demuxer, decoder
and filter graph run on separate threads).

:func:`read_ahead` wraps any iterator of blocks:

* at most ``depth`` blocks wait in the queue, so memory stays bounded by the block size as before;
* an exception raised by the producer (an :class:`~farm.errors.InputError` for a truncated file, say) reaches
  the consumer at the same point it would have without the thread: after every block produced before it;
* when the consumer stops early (an analysis error, or ``close()`` on the generator), the producer thread is
  told to stop, its iterator is closed on that thread (which closes the file), and the thread is joined before
  ``read_ahead`` returns, so no thread and no open file outlives the call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")

_DONE = object()
_POLL_S = 0.05  # how often a producer blocked on a full queue checks whether the consumer has gone


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(blocks: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield what ``blocks`` yields, produced on a background thread up to ``depth`` items ahead.

    Parameters
    ----------
    blocks : iterator
        The producer, e.g. :func:`farm.audio.read_blocks`. It is iterated, and closed, on the background thread
        only.
    depth : int
        Items produced ahead of the consumer, at least 1. ``0`` turns the read-ahead off: ``blocks`` is then
        iterated on the caller's thread, exactly as without this wrapper.

    Yields
    ------
    The items of ``blocks`` in order. An exception ``blocks`` raises is re-raised here after the items before it.

    Examples
    --------
    >>> list(read_ahead(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth={depth!r} must be a whole number >= 0")
    if depth == 0:
        yield from blocks
        return
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        """Hand ``item`` over; False when the consumer has gone and nothing more should be produced."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in blocks:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Raised(exc))
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="farm-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()
