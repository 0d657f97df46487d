"""Per-band stereo width and its analysis, against sosfreqz responses and synthesised stereo scenes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from kernels._xp import gpu_available
from kernels.dynamics import allpass_sos, crossover_sos
from kernels.width import WidthAnalysis, adjust_width, width_by_band

_GPU_OK, _GPU_REASON = gpu_available()


def sine(freq_hz, amplitude, seconds, rate, phase=0.0):
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t + phase)


def lock_in(signal, freq_hz, rate):
    """Complex amplitude of ``freq_hz`` in ``signal`` (exact over whole cycles)."""
    t = np.arange(signal.size) / rate
    return 2 * np.mean(signal * np.exp(-2j * np.pi * freq_hz * t))


def wide_music(rate, seconds=1.0, seed=4):
    """Partly correlated noise: a common part plus an independent part per channel."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(int(seconds * rate))
    return 0.2 * np.stack([common + 0.7 * rng.standard_normal(common.size),
                           common + 0.7 * rng.standard_normal(common.size)])


@pytest.mark.parametrize("rate", [44100, 48000])
def test_width_zero_everywhere_gives_mono_with_the_mid_unchanged_in_magnitude(rate):
    x = wide_music(rate)
    y = adjust_width(x, rate, widths=(0.0, 0.0, 0.0))
    # The side is multiplied by exactly 0, so L and R are the same numbers (the brief allows 1e-12).
    np.testing.assert_allclose(y[0], y[1], rtol=0, atol=1e-12)
    # The mid went through the crossovers' allpasses: the output equals the input's mid through them
    # (sosfreqz-checked designs; rounding of two sosfilt calls against one) ...
    mid = 0.5 * (x[0] + x[1])
    allpassed = scipy.signal.sosfilt(np.concatenate([allpass_sos(rate, 150.0), allpass_sos(rate, 2500.0)]), mid)
    np.testing.assert_allclose(y[0], allpassed, rtol=0, atol=1e-12)
    # ... whose magnitude is 1 at every frequency.
    _, h = scipy.signal.sosfreqz(np.concatenate([allpass_sos(rate, 150.0), allpass_sos(rate, 2500.0)]),
                                 worN=4096, fs=rate)
    np.testing.assert_allclose(np.abs(h), 1.0, rtol=0, atol=1e-12)


def test_width_one_returns_input_unchanged():
    x = wide_music(44100)
    assert adjust_width(x, 44100) is x  # the default is neutral: skipped, not approximated
    assert adjust_width(x, 44100, edges_hz=(300.0,), widths=(1.0, 1.0)) is x


@pytest.mark.parametrize("widths", [(0.5, 2.0, 1.0), (1.0, 0.0, 1.5), (0.0, 1.0, 1.0)])
def test_side_response_is_the_weighted_band_sum(widths):
    """An impulse in L only (mid = side = 0.5): the side's response is sum(w_i H_i) of the band chains."""
    rate, n, edges = 48000, 1 << 15, (150.0, 2500.0)
    x = np.zeros((2, n))
    x[0, 0] = 1.0
    y = adjust_width(x, rate, edges_hz=edges, widths=widths)
    side = np.fft.rfft(0.5 * (y[0] - y[1]))
    mid = np.fft.rfft(0.5 * (y[0] + y[1]))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    low1, high1 = crossover_sos(rate, edges[0])
    low2, high2 = crossover_sos(rate, edges[1])
    chains = [np.concatenate([low1, allpass_sos(rate, edges[1])]), np.concatenate([high1, low2]),
              np.concatenate([high1, high2])]
    expected = sum(w * scipy.signal.sosfreqz(c, worN=freqs, fs=rate)[1] for w, c in zip(widths, chains))
    # Impulse responses decayed far below 1e-12 within 0.68 s; the rest is rounding.
    np.testing.assert_allclose(side, 0.5 * expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.abs(mid), 0.5, rtol=0, atol=1e-10)  # mid: allpass only
    # Inside each band the side gain is that band's width: within 0.2 dB, since 40 Hz is 1.9 octaves
    # below 150 Hz and 700 Hz 1.8 octaves below 2.5 kHz, where the neighbouring band still carries
    # 1/(1 + 2^(4 x 1.8)) of the signal (measured worst 0.12 dB, at 40 Hz with widths 0.5 / 2).
    for f, w in zip((40.0, 700.0, 12000.0), widths):
        k = round(f * n / rate)
        if w > 0:
            assert 20 * math.log10(abs(side[k]) / 0.5) == pytest.approx(20 * math.log10(w), abs=0.2)
        else:
            assert abs(side[k]) / 0.5 < 10 ** (-20 / 20)


def test_mono_below_removes_bass_side_and_keeps_treble_side():
    """Stereo bass (60 Hz, R partly anti-phase) plus a stereo 1 kHz pad; bass mono below 150 Hz."""
    rate, seconds = 48000, 3.0
    bass_l, bass_r = sine(60.0, 0.8, seconds, rate), sine(60.0, -0.3, seconds, rate)
    pad_l, pad_r = sine(1000.0, 0.3, seconds, rate), sine(1000.0, 0.3, seconds, rate, phase=math.pi / 2)
    x = np.stack([bass_l + pad_l, bass_r + pad_r])
    y = adjust_width(x, rate, mono_below_hz=150.0)  # widths neutral: only the bass-mono acts
    tail = slice(-2 * rate, None)  # the last 2 s, whole cycles, filters settled

    before = width_by_band(x[:, tail], rate, edges_hz=(150.0,))
    after = width_by_band(y[:, tail], rate, edges_hz=(150.0,))
    assert before.correlation[0] == pytest.approx(-1.0, abs=1e-3)  # the bass starts anti-correlated
    # The 60 Hz side is cut by |LR4 high(60 Hz)| (analog 0.4^4 / (1 + 0.4^4), -32.05 dB), so L and R
    # become same-sign 60 Hz sines (0.25 mid +- 0.014 side): correlation 1 but for the small phase
    # offset between the side's high-pass and the mid's allpass (measured 1 - 2e-6), and the band's
    # side-to-mid ratio drops by exactly that gain (0.02 dB: the 1 kHz pad's -66 dB skirt in this band).
    _, h = scipy.signal.sosfreqz(crossover_sos(rate, 150.0)[1], worN=[60.0], fs=rate)
    high_db = 20 * math.log10(abs(h[0]))
    assert after.correlation[0] > 0.9999
    assert after.side_to_mid_db[0] - before.side_to_mid_db[0] == pytest.approx(high_db, abs=0.02)
    side_60_before = abs(lock_in(0.5 * (x[0, tail] - x[1, tail]), 60.0, rate))
    side_60_after = abs(lock_in(0.5 * (y[0, tail] - y[1, tail]), 60.0, rate))
    # Lock-in over 120 whole cycles: leakage from the 1 kHz pad is rounding-level; 0.01 dB.
    assert 20 * math.log10(side_60_after / side_60_before) == pytest.approx(high_db, abs=0.01)
    # The 1 kHz side (2.7 octaves above the corner) keeps its level within the brief's 0.5 dB; in fact
    # within 0.01 dB, as |LR4 high(1 kHz)| is -0.004 dB. The mid of everything keeps its magnitude.
    side_1k_before = abs(lock_in(0.5 * (x[0, tail] - x[1, tail]), 1000.0, rate))
    side_1k_after = abs(lock_in(0.5 * (y[0, tail] - y[1, tail]), 1000.0, rate))
    assert abs(20 * math.log10(side_1k_after / side_1k_before)) < 0.5
    assert abs(20 * math.log10(side_1k_after / side_1k_before)) < 0.01
    for f in (60.0, 1000.0):
        mid_before = abs(lock_in(0.5 * (x[0, tail] + x[1, tail]), f, rate))
        mid_after = abs(lock_in(0.5 * (y[0, tail] + y[1, tail]), f, rate))
        assert mid_after == pytest.approx(mid_before, rel=1e-4)  # allpass: lock-in leakage only


def test_width_by_band_on_identical_channels():
    noise = wide_music(44100)[0]
    a = width_by_band(np.stack([noise, noise]), 44100)
    assert isinstance(a, WidthAnalysis) and a.edges_hz == (150.0, 2500.0)
    # L and R are the same numbers in every band: correlation 1 to rounding, side exactly zero.
    assert a.correlation == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)
    assert a.side_to_mid_db == (-math.inf, -math.inf, -math.inf)


def test_width_by_band_on_anti_phase_one_sided_and_silent_bands():
    rate = 44100
    noise = wide_music(rate)[0]
    anti = width_by_band(np.stack([noise, -noise]), rate)
    assert anti.correlation == pytest.approx((-1.0, -1.0, -1.0), abs=1e-12)
    assert anti.side_to_mid_db == (math.inf, math.inf, math.inf)
    one_sided = width_by_band(np.stack([noise, np.zeros_like(noise)]), rate)
    assert all(math.isnan(c) for c in one_sided.correlation)  # no R: correlation undefined
    assert one_sided.side_to_mid_db == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)  # side == mid
    # A 5 kHz tone only: the low band holds nothing but the -100+ dB skirt of the LR4 low-pass.
    tone = sine(5000.0, 0.5, 1.0, rate)
    scene = width_by_band(np.stack([tone, 0.5 * tone]), rate)
    assert scene.correlation[2] == pytest.approx(1.0, abs=1e-12)
    # side/mid energy of (1, 0.5) x tone: (0.5 / 1.5)^2, -9.54 dB in every band (the low bands hold the
    # same tone, attenuated, but L and R alike); rounding only, 1e-3 dB is loose.
    assert scene.side_to_mid_db[2] == pytest.approx(20 * math.log10(0.5 / 1.5), abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"widths": (1.0, 1.0)}, "one per band"), ({"widths": (1.0, -0.5, 1.0)}, ">= 0"),
     ({"widths": (1.0, math.nan, 1.0)}, ">= 0"), ({"mono_below_hz": 0.0}, "between 0"),
     ({"edges_hz": (2500.0, 150.0)}, "increasing")],
)
def test_invalid_width_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adjust_width(np.zeros((2, 100)), 44100, **kwargs)


def test_width_needs_stereo():
    with pytest.raises(ValueError, match="stereo"):
        adjust_width(np.zeros((1, 100)), 44100, widths=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="stereo"):
        width_by_band(np.zeros((6, 100)), 44100)


@pytest.mark.gpu
@pytest.mark.skipif(not _GPU_OK, reason=_GPU_REASON)
def test_gpu_parity():
    import cupy  # importable only where the skip did not trigger

    rate = 48000
    x = wide_music(rate, seconds=2.0)
    cpu = adjust_width(x, rate, widths=(0.0, 1.3, 1.6), mono_below_hz=120.0)
    gpu = adjust_width(cupy.asarray(x), rate, widths=(0.0, 1.3, 1.6), mono_below_hz=120.0)
    # CuPy 14's sosfilt is a blocked parallel scan, not SciPy's sample loop: 4.5e-11 at most on an H100 (session 24).
    np.testing.assert_allclose(cupy.asnumpy(gpu), cpu, rtol=0, atol=1e-9)
    a_cpu, a_gpu = width_by_band(x, rate), width_by_band(cupy.asarray(x), rate)
    assert a_gpu.correlation == pytest.approx(a_cpu.correlation, abs=1e-9)
    assert a_gpu.side_to_mid_db == pytest.approx(a_cpu.side_to_mid_db, abs=1e-9)
