"""Persistent DC: a constant offset is measured in full; a mean that follows the music is not taken for one."""

import numpy as np
import pytest

from kernels.dc import DCOffsetMeter
from tests.kernels._feed import feed

SR = 48000


def _instrument_dc(seconds: float, seed: int) -> np.ndarray:
    """Music whose own mean follows its level: noise bars with a one-sided component proportional to the
    bar's level (like a sampled instrument with an asymmetric waveform), quiet bars, and a digital pause."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    bar = SR  # one level per second, so every window sees one level
    levels = rng.choice([0.01, 0.02, 0.3, 0.4, 0.5], size=n // bar + 1)
    env = np.repeat(levels, bar)[:n]
    x = rng.standard_normal((2, n)) * env + 0.1 * env  # mean = 10 % of the level, as measured on renders
    x[:, int(0.4 * n) : int(0.5 * n)] = 0.0
    return x


def _measure(x, block=None, **kw):
    return feed(DCOffsetMeter(SR, x.shape[0], **kw), x, block).result()


def test_mean_that_follows_the_music_is_not_an_offset():
    x = _instrument_dc(40, 2)
    whole_mean = np.abs(x.mean(axis=1)).max()
    r = _measure(x)
    assert whole_mean > 0.02  # a whole-track mean would call this an offset
    # the quietest quarter are the 0.01-0.02 bars: their own mean is at most 0.002
    assert abs(r.persistent_dc) < 0.0025


def test_constant_offset_is_measured_in_full():
    x = _instrument_dc(40, 1)
    r = _measure(x + np.array([[0.02], [-0.03]]))
    # offset plus the quiet bars' own mean (<= 0.002)
    assert r.channel_persistent_dc[0] == pytest.approx(0.02, abs=2.5e-3)
    assert r.channel_persistent_dc[1] == pytest.approx(-0.03, abs=2.5e-3)
    assert r.persistent_dc_channel == 1


def test_silent_windows_do_not_dilute_the_offset():
    x = np.zeros((1, 20 * SR))
    x[:, 5 * SR : 8 * SR] = 0.1 * np.random.default_rng(3).standard_normal(3 * SR) + 0.05
    r = _measure(x)
    assert r.persistent_dc == pytest.approx(0.05, abs=0.01)
    assert r.windows == 20


@pytest.mark.parametrize("block", [1, 777, SR, 10 * SR])
def test_block_invariance(block):
    x = _instrument_dc(7.3, 4) + 0.01
    ref = _measure(x)
    got = _measure(x, block=block)
    # identical window boundaries; only float summation order differs
    np.testing.assert_allclose(got.channel_persistent_dc, ref.channel_persistent_dc, atol=1e-12)
    assert got.windows == ref.windows


def test_short_stream_uses_plain_mean_and_empty_is_nan():
    x = np.full((2, 1000), 0.25)
    assert _measure(x).persistent_dc == pytest.approx(0.25)
    assert np.isnan(DCOffsetMeter(SR, 2).result().persistent_dc)
