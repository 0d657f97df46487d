"""Every meter gives the same result whatever the block sizes, and its memory does not grow with the
stream beyond the per-10 ms loudness series."""

from __future__ import annotations

import functools
import math
import tracemalloc

import numpy as np
import pytest

from kernels.loudness import LoudnessMeter
from kernels.stats import SignalStats
from kernels.truepeak import TruePeakMeter

# Different block sizes change only the order of a few float64 additions (tick partial sums, the
# first-block offset in the statistics); 1e-9 in LU, dB or correlation is orders of magnitude above
# that rounding and far below anything a meter reading could care about.
TOL = 1e-9

METERS = {
    "loudness": LoudnessMeter,
    "truepeak": TruePeakMeter,
    "stats": SignalStats,
}


def material(rate, seconds, *, seed=0):
    """Stereo noise with level changes, a few clicks and a small DC offset."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    env = np.repeat(10 ** (rng.uniform(-30, 0, size=int(seconds * 5) + 1) / 20), rate // 5)[:n]
    x = 0.3 * rng.standard_normal((2, n)) * env
    x[1] = 0.6 * x[1] + 0.4 * x[0]
    x[:, rng.integers(0, n, size=5)] = 0.95
    return x + np.array([[0.002], [-0.001]])


def feed(cls, x, rate, sizes):
    meter = cls(rate, x.shape[0])
    start = 0
    i = 0
    while start < x.shape[1]:
        size = sizes[i % len(sizes)]
        meter.process(x[:, start : start + size])
        start += size
        i += 1
    return meter.result()


def assert_same(a, b):
    for name, va in vars(a).items():
        vb = getattr(b, name)
        if isinstance(va, np.ndarray):
            assert va.shape == vb.shape, name
            np.testing.assert_allclose(va, vb, rtol=0, atol=TOL, err_msg=name)
        elif isinstance(va, tuple):
            np.testing.assert_allclose(va, vb, rtol=0, atol=TOL, err_msg=name)
        elif isinstance(va, float) and (math.isnan(va) or math.isinf(va)):
            assert (math.isnan(va) and math.isnan(vb)) or va == vb, name
        else:
            assert va == pytest.approx(vb, abs=TOL), name


# 22050 Hz has ticks of 220 and 221 samples, 44100 Hz of exactly 441.
@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("meter", sorted(METERS))
@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([7], id="7"),
        pytest.param([4410], id="4410"),
        pytest.param([65536], id="65536"),
        pytest.param([1, 1, 3, 1000, 1, 9000, 2], id="mixed-with-ones"),
    ],
)
def test_block_sizes_give_the_same_result(rate, meter, sizes):
    x = material(rate, 3.6)  # long enough for short-term windows and loudness range values
    whole = feed(METERS[meter], x, rate, [x.shape[1]])
    assert_same(feed(METERS[meter], x, rate, sizes), whole)


@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("meter", sorted(METERS))
def test_one_sample_blocks(rate, meter):
    # One sample per call costs ~25 us per meter, so a shorter stream: still several momentary
    # windows, correlation windows and true-peak chunks.
    x = material(rate, 0.8, seed=1)
    whole = feed(METERS[meter], x, rate, [x.shape[1]])
    assert_same(feed(METERS[meter], x, rate, [1]), whole)


def test_loudness_series_are_block_invariant_in_length_and_value():
    rate = 44100
    x = material(rate, 3.6, seed=2)
    a = feed(LoudnessMeter, x, rate, [x.shape[1]])
    b = feed(LoudnessMeter, x, rate, [333])
    assert a.momentary_lufs.size == 360 - 39 and a.short_term_lufs.size == 360 - 299
    np.testing.assert_allclose(b.momentary_lufs, a.momentary_lufs, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.short_term_lufs, a.short_term_lufs, rtol=0, atol=TOL)


def _retained_bytes(meter, block, blocks):
    tracemalloc.start()
    try:
        for _ in range(blocks):
            meter.process(block)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current


@pytest.mark.parametrize("meter", sorted(METERS))
def test_memory_does_not_grow_with_the_stream(meter):
    rate = 44100
    block = material(rate, 65536 / rate, seed=3)
    block[:, :100] = 0.99  # a loud start, so the true-peak skip keeps the test fast afterwards
    # The loudness meter as the QC audit runs it: without the 10 ms series.
    make = functools.partial(LoudnessMeter, keep_series=False) if meter == "loudness" else METERS[meter]
    short = _retained_bytes(make(rate, 2), block, 20)
    long = _retained_bytes(make(rate, 2), block, 120)
    ticks = 100 * 65536 // 441  # extra 10 ms ticks in the longer stream
    # The loudness meter keeps two float64 window energies per 100 ms for gating (1.6 bytes per tick),
    # held as one small array per block per window length (~120 bytes of array header each). The other
    # meters must not grow at all beyond noise from Python's allocator (64 KiB).
    allowance = 2 * 8 * ticks // 10 + 100 * 2 * 120 if meter == "loudness" else 0
    assert long - short <= allowance + 64 * 1024


def test_loudness_without_series_gives_the_same_readings():
    """keep_series=False (what the QC audit uses, constant memory) changes nothing but the series."""
    rng = np.random.default_rng(7)
    fs = 8000
    env = np.repeat(rng.uniform(0.001, 0.5, size=400), fs // 20)  # 20 s of level changes every 50 ms
    x = rng.standard_normal((2, env.size)) * env
    a, b = LoudnessMeter(fs, 2), LoudnessMeter(fs, 2, keep_series=False)
    for start in range(0, x.shape[1], 3001):
        a.process(x[:, start : start + 3001])
        b.process(x[:, start : start + 3001])
    ra, rb = a.result(), b.result()
    for name in ("integrated_lufs", "loudness_range_lu", "max_momentary_lufs", "max_short_term_lufs"):
        assert getattr(ra, name) == getattr(rb, name), name  # the same arithmetic, bit for bit
    assert rb.momentary_lufs.size == 0 and ra.momentary_lufs.size == (env.size // 80) - 39
