"""The mastering chain on arrays: pass-through, loudness through the limiter, the ceiling, each stage's effect."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from farm.master.analysis import analyse
from farm.master.chain import LOUDNESS_TOLERANCE_LU, apply_plan
from farm.master.plan import EQ, Dynamics, HighPass, Limiter, Loudness, Stereo, TrackInput, decide, neutral_track_plan
from farm.master.presets import PRESETS
from kernels.detect.impulses import ImpulseDetector
from kernels.loudness import measure_loudness
from kernels.truepeak import TruePeakMeter

SR = 48000


@pytest.fixture(scope="module")
def song(render_music) -> np.ndarray:
    x = np.array(render_music(21, SR, 15.0, style="rock"))
    return x * (10 ** (-24 / 20) / np.sqrt(np.mean(x * x)))  # an unmastered level: -24 dBFS RMS


def _tp(x, sr=SR) -> float:
    m = TruePeakMeter(sr, x.shape[0])
    m.process(x)
    return m.result().true_peak_dbtp


def test_pass_through_plan_returns_the_input_unchanged(song):
    y = apply_plan(song, SR, neutral_track_plan("t", "a.wav")).audio
    assert np.array_equal(y, song)  # every stage skipped: bit for bit, not merely within float precision


def test_neutral_stages_are_skipped_even_when_present(song):
    plan = replace(neutral_track_plan("t", "a.wav"), eq=EQ(gains_db=(0.0,) * 10), dynamics=Dynamics(ratio=1.0),
                   stereo=Stereo(widths=(1.0, 1.0, 1.0)), loudness=Loudness(gain_db=0.0), limiter=Limiter(enabled=False))
    assert np.array_equal(apply_plan(song, SR, plan).audio, song)


@pytest.mark.parametrize("ceiling", [-1.0, -2.0])
@pytest.mark.parametrize("target", [-14.0, -9.0])
def test_loudness_lands_on_target_under_the_ceiling(song, target, ceiling):
    plan = replace(neutral_track_plan("t", "a.wav"), highpass=HighPass(enabled=True),
                   loudness=Loudness(target_lufs=target), limiter=Limiter(enabled=True, ceiling_dbtp=ceiling))
    res = apply_plan(song, SR, plan)
    # the chain's own tolerance (0.05 LU) is far inside the 0.5 LU check
    assert measure_loudness(res.audio, SR).integrated_lufs == pytest.approx(target, abs=LOUDNESS_TOLERANCE_LU)
    assert _tp(res.audio) <= ceiling + 1e-12
    assert res.limiter_max_db > 0.0 and res.loudness_passes <= 6
    det = ImpulseDetector(SR, 2)
    det.process(res.audio)
    assert [d for d in det.finish() if d.kind in ("click", "discontinuity")] == []


def test_each_stage_does_what_its_plan_says(song):
    base = neutral_track_plan("t", "a.wav")
    a0 = analyse(song, SR)
    # EQ: +4 dB at 8 kHz (both filter designs), the 8 kHz octave band rises by about that much
    for mode in ("minimum-phase", "linear-phase"):
        gains = (0.0,) * 8 + (4.0, 0.0)
        y = apply_plan(song, SR, replace(base, eq=EQ(mode=mode, gains_db=gains))).audio
        rise = analyse(y, SR).mid_band_db[8] - a0.mid_band_db[8]
        # the band's energy is spread over the octave and the filters overlap: within 1 dB of the set gain
        assert rise == pytest.approx(4.0, abs=1.0), mode
        assert abs(analyse(y, SR).mid_band_db[3] - a0.mid_band_db[3]) < 0.6
    # compression brings the loudest moments closer to the average (a 30 ms attack lets the transients
    # through, so the sample crest factor is not the measure; the loudness of 400 ms windows is)
    comp = replace(base, dynamics=Dynamics(enabled=True, threshold_dbfs=a0.rms_dbfs, ratio=3.0))
    res = apply_plan(song, SR, comp)
    before, after = measure_loudness(song, SR), measure_loudness(res.audio, SR)
    assert res.compression_max_db > 1.0
    assert (after.max_momentary_lufs - after.integrated_lufs) < (before.max_momentary_lufs - before.integrated_lufs) - 0.3
    multi = replace(comp, dynamics=replace(comp.dynamics, multiband=True))
    assert apply_plan(song, SR, multi).compression_max_db > 1.0
    # width 0 everywhere: mono
    y = apply_plan(song, SR, replace(base, stereo=Stereo(widths=(0.0, 0.0, 0.0)))).audio
    assert np.allclose(y[0], y[1], atol=1e-12)


def test_mono_bass_fixes_an_anti_phase_low_end(song):
    x = song.copy()
    low = np.sin(2 * np.pi * 55 * np.arange(x.shape[1]) / SR) * 0.05
    x[0] += low
    x[1] -= low
    a = analyse(x, SR)
    assert a.band_correlation[0] < 0.5  # poor: the plan's threshold
    plan = decide("R", [TrackInput("t", 1, "t", "a.wav", "", a)], PRESETS["spotify"]).tracks[0]
    assert plan.stereo.mono_below_hz == 150.0
    y = apply_plan(x, SR, plan).audio
    assert analyse(y, SR).band_correlation[0] > 0.9


def test_reference_pulls_the_tone_toward_it(song, render_music):
    ref = np.array(render_music(22, SR, 15.0, style="electronic"))
    a, r = analyse(song, SR), analyse(ref, SR)
    plan = decide("R", [TrackInput("t", 1, "t", "a.wav", "", a)], PRESETS["spotify"], reference=r,
                  reference_name="ref.wav", amount_pct=100).tracks[0]
    assert "reference ref.wav" in plan.eq.reason
    y = apply_plan(song, SR, replace(plan, dynamics=Dynamics(), limiter=Limiter(),
                                     loudness=Loudness())).audio
    b = analyse(y, SR)

    def dist(x):
        s = np.array(x.mid_band_db[1:9]) - np.mean(x.mid_band_db[1:9])
        t = np.array(r.mid_band_db[1:9]) - np.mean(r.mid_band_db[1:9])
        return np.abs(s - t).mean()

    assert dist(b) < dist(a) - 0.5


def test_chain_on_cupy_matches_numpy():
    # farm master --gpu: the same plan on CuPy arrays (the task's GPU) gives the CPU result to rounding.
    from kernels._xp import gpu_available

    ok, why = gpu_available()
    if not ok:
        pytest.skip(f"no GPU path here: {why}")
    import cupy

    fs = 44100
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, fs * 20)) * 0.05
    x[:, fs * 5 : fs * 5 + 400] *= 20  # a loud hit for the compressor and the limiter
    plan = replace(neutral_track_plan("t", "a.wav"), highpass=HighPass(enabled=True, cutoff_hz=25.0),
                   eq=EQ(gains_db=(0.0, 2.0, 1.0, 0.0, 0.0, -1.5, 0.0, 0.0, 2.0, 1.0)),
                   dynamics=Dynamics(enabled=True, threshold_dbfs=-24.0, ratio=2.0),
                   stereo=Stereo(mono_below_hz=120.0),
                   loudness=Loudness(target_lufs=-14.0), limiter=Limiter(enabled=True, ceiling_dbtp=-1.0))
    cpu = apply_plan(x, fs, plan)
    gpu = apply_plan(cupy.asarray(x), fs, plan)
    # CuPy 14's sosfilt (EQ, crossovers) is a blocked parallel scan: -148 dB of difference at most (tests/kernels)
    np.testing.assert_allclose(cupy.asnumpy(gpu.audio), cpu.audio, rtol=0, atol=1e-7)
    assert gpu.integrated_lufs == pytest.approx(cpu.integrated_lufs, abs=1e-6)
