"""Defect detectors: streaming kernels that find what should not be in a file.

Each detector is a class ``D(sample_rate, channels, *, bits_per_sample=None, **options)`` with
``process(block)`` for blocks shaped ``(channels, n)`` (float64, any ``n``) and ``finish() -> list[Detection]``.
They never read files, never import farm or Ray; thresholds are keyword options with measured defaults.
"""

from kernels.detect.base import Detection

__all__ = ["Detection"]
