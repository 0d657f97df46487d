"""Feeding a streaming meter or detector in tests: whole, or in blocks of a fixed size."""

from __future__ import annotations


def feed(meter, x, block: int | None = None):
    """Feed ``x`` (channels, n) to ``meter`` in one call (``block`` None) or in blocks of ``block`` frames; return
    the meter, ready for ``finish()`` or ``result()``."""
    if block is None:
        meter.process(x)
    else:
        for i in range(0, x.shape[1], block):
            meter.process(x[:, i : i + block])
    return meter
