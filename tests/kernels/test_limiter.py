"""True-peak limiter: worst-case signals under the QC meter and ffmpeg, no clicks, smooth gain, the twins."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time

import numpy as np
import pytest

from kernels import limiter
from kernels._xp import gpu_available
from kernels.detect.impulses import ImpulseDetector
from kernels.limiter import LimiterConfig, limit_true_peak, release_gain
from kernels.truepeak import TAPS_PER_PHASE, TruePeakMeter

RATES = (44100, 48000, 96000)
CEILINGS = (-1.0, -2.0)


# ------------------------------------------------------------------------------------------------ signals
def square(fs, freq, seconds=1.0):
    n = np.arange(int(seconds * fs))
    return np.tile(np.where(np.sin(2 * np.pi * freq * n / fs + 0.1) >= 0, 1.0, -1.0), (2, 1))


def isp_sine(fs, seconds=1.0):
    """fs/4 sine at 45 degrees: every sample is +-1 (0 dBFS), the waveform peaks at sqrt(2) (+3 dBTP).

    10 ms linear fades at both ends: an abruptly started full-scale fs/4 tone rings at its edges, and how
    much depends on the interpolation filter (the QC meter reads +3.12 dBTP, ffmpeg's longer filter reads
    a limited copy 0.5 dB higher than the meter there, and 0.0 dB higher on the faded one); the squares
    keep the abrupt edges.
    """
    n = np.arange(int(seconds * fs))
    fade = np.minimum(1.0, np.minimum(n, n.size - 1 - n) / (0.01 * fs))
    return np.tile(math.sqrt(2) * fade * np.sin(np.pi / 2 * n + np.pi / 4), (2, 1))


def drum_hits(fs, seconds=2.0, peak=1.6):
    """Kick and snare hits, each starting from digital silence, peaking at +4 dBFS."""
    rng = np.random.default_rng(3)
    x = np.zeros((2, int(seconds * fs)))
    for i, start_s in enumerate((0.3, 0.8, 1.3)):
        t = np.arange(int(0.35 * fs)) / fs
        if i % 2 == 0:  # kick: falling pitch, fast decay; starts at phase 0 (no step)
            hit = np.sin(2 * np.pi * (50 * t + 150 * 0.03 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.12)
            hit = np.tile(hit, (2, 1))
        else:  # snare: tone plus a noise burst that starts at full level
            tone = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.08)
            hit = 0.5 * tone + rng.standard_normal((2, t.size)) * np.exp(-t / 0.05)
        s = int(start_s * fs)
        x[:, s : s + t.size] += hit
    return x * (peak / np.abs(x).max())


def white_noise(fs, seconds=1.0):
    """Gaussian noise whose sample peak is +12 dBFS."""
    x = np.random.default_rng(11).standard_normal((2, int(seconds * fs)))
    return x * (4.0 / np.abs(x).max())


def loud_mix(fs, seconds=1.0, *, over_db=6.0, seed=5):
    """Bass-heavy loud pop-like mix (kick on every beat, sub bass, hats, a pad), sample peak +6 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    beat = 0.5
    tb = t % beat
    kick = np.sin(2 * np.pi * (48 * tb + 120 * 0.025 * (1 - np.exp(-tb / 0.025)))) * np.exp(-tb / 0.11)
    notes = np.array([41.2, 55.0, 49.0, 36.7])[(t // 2.0).astype(int) % 4]
    phase = 2 * np.pi * np.cumsum(notes) / fs
    bass = sum(np.sin(k * phase) / k for k in range(1, 6))
    t8 = t % (beat / 2)
    hats = np.diff(rng.standard_normal((2, t.size + 1)), axis=1) * np.exp(-t8 / 0.015)
    pad = sum(np.sin(2 * np.pi * f * t + p) for f, p in ((220, 0.0), (277.2, 1.0), (329.6, 2.0)))
    mono = 1.0 * kick + 0.55 * bass + 0.12 * pad
    x = np.stack([mono + 0.25 * hats[0], mono + 0.25 * hats[1]])
    x += 0.05 * rng.standard_normal(x.shape)
    return x * (10 ** (over_db / 20) / np.abs(x).max())


WORST_CASES = {
    "square_100Hz": lambda fs: square(fs, 100.0),
    "square_1kHz": lambda fs: square(fs, 1000.0),
    "square_near_fs4": lambda fs: square(fs, fs / 4 - 37.0),
    "isp_sine_fs4": isp_sine,
    "drum_hits_after_silence": drum_hits,
    "noise_+12dB": white_noise,
    "loud_bass_mix": loud_mix,
}


def meter_dbtp(x, fs, block=None):
    meter = TruePeakMeter(fs, x.shape[0])
    step = x.shape[1] if block is None else block
    for i in range(0, x.shape[1], step):
        meter.process(x[:, i : i + step])
    return meter.result().true_peak_dbtp


def gain_step_bound(gain, fs, lookahead_ms=2.0, release_ms=100.0):
    """The module's stated bound on |g[n] - g[n-1]|."""
    k = max(1, round(lookahead_ms * fs / 1000))
    rho = math.exp(-1.0 / (release_ms * fs / 1000))
    g_min = float(gain.min())
    return max((1 - g_min) / k, (1 - rho) * math.log(1 / g_min))


# ------------------------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", list(WORST_CASES))
def test_worst_cases_stay_under_the_ceiling(case, rate):
    x = WORST_CASES[case](rate)
    assert meter_dbtp(x, rate) > 0.0  # every case starts over full scale (else the test proves nothing)
    for ceiling in CEILINGS:
        r = limit_true_peak(x, rate, ceiling_dbtp=ceiling)
        # The contract is exact (no tolerance): the QC meter, fed in one block or in odd blocks (its
        # result does not depend on blocking beyond float rounding, ~1e-15 dB), never reads above the ceiling.
        assert r.true_peak_dbtp <= ceiling
        assert meter_dbtp(r.audio, rate) == r.true_peak_dbtp
        assert meter_dbtp(r.audio, rate, block=12345) <= ceiling + 1e-12
        # Not over-limited either: each repeated pass lowers the internal ceiling by the excess (at most
        # ~0.01 dB measured on white noise at +12 dB) plus 0.01 dB, so the output ends within 0.05 dB.
        assert r.true_peak_dbtp >= ceiling - 0.05, r.true_peak_dbtp
        assert 1 <= r.passes <= limiter._MAX_PASSES
        assert r.audio.shape == x.shape and r.audio.dtype == np.float64
        # Linked gain: every channel scaled by the same gain, exactly (one multiplication per sample).
        np.testing.assert_array_equal(r.audio, x * r.gain)
        assert r.max_reduction_db == pytest.approx(-20 * math.log10(r.gain.min()), abs=1e-12)
        # Smooth gain: the bound stated in the module docstring; 1e-12 covers float rounding of exp/log.
        assert np.abs(np.diff(r.gain)).max() <= gain_step_bound(r.gain, rate) + 1e-12


@pytest.mark.parametrize("seed", [1, 2])
def test_rendered_song_driven_8_db_over(render_music, seed):
    # The project's own synthesised music, 8 dB too hot: under the ceiling, and no click the QC would flag.
    x = np.array(render_music(seed, 44100, 8.0)) * 10 ** (8 / 20)
    r = limit_true_peak(x, 44100, ceiling_dbtp=-1.0)
    assert r.true_peak_dbtp <= -1.0 and meter_dbtp(r.audio, 44100) <= -1.0
    assert r.max_reduction_db > 7.0
    detector = ImpulseDetector(44100, 2)
    detector.process(r.audio)
    assert [d for d in detector.finish() if d.kind in ("click", "discontinuity")] == []


def test_isp_sine_reduction_is_what_the_arithmetic_says():
    # +3.01 dBTP (waveform peak sqrt(2)) down to -1 dBTP: 4.01 dB of steady reduction, plus the passes' margin.
    r = limit_true_peak(isp_sine(48000), 48000, ceiling_dbtp=-1.0)
    assert 4.01 <= r.max_reduction_db <= 4.01 + 0.05
    assert meter_dbtp(isp_sine(48000), 48000) == pytest.approx(3.0103, abs=0.01)  # the signal reads +3 dBTP


def test_mono_and_six_channels_are_linked():
    x = loud_mix(44100, 0.5)
    six = np.concatenate([x, 0.5 * x, x[::-1] * 0.25])
    for audio in (x[:1], six):
        r = limit_true_peak(audio, 44100, ceiling_dbtp=-1.0)
        assert r.true_peak_dbtp <= -1.0
        np.testing.assert_array_equal(r.audio, audio * r.gain)


def test_last_resort_trim_keeps_the_contract(monkeypatch):
    # With one pass allowed, white noise at +12 dB reads ~0.01 dB over after it; the constant trim fixes that.
    monkeypatch.setattr(limiter, "_MAX_PASSES", 1)
    x = white_noise(44100)
    r = limit_true_peak(x, 44100, ceiling_dbtp=-1.0)
    assert r.passes == 1
    assert r.true_peak_dbtp <= -1.0
    assert meter_dbtp(r.audio, 44100) <= -1.0


def test_second_pass_under_the_skip_level_recomputes_the_detector(monkeypatch):
    # A first pass aimed 0.05 dB over the ceiling must read over it (the detector's reading goes to the meter
    # there), and the second pass's internal ceiling then lies under the detector's skip level (0.005 dB
    # under the first): the detector runs again with exact values down to it. The contract still holds.
    monkeypatch.setattr(limiter, "_FIRST_MARGIN_DB", -0.05)
    monkeypatch.setattr(limiter, "_SKIP_BELOW_DB", 0.005)
    calls = []
    detector = limiter._linked_intervals
    monkeypatch.setattr(limiter, "_linked_intervals", lambda *args: calls.append(args[-1]) or detector(*args))
    x = loud_mix(44100, 1.0)
    r = limit_true_peak(x, 44100, ceiling_dbtp=-1.0)
    assert r.passes >= 2 and len(calls) >= 2 and calls[1] < calls[0]
    assert r.true_peak_dbtp <= -1.0 and meter_dbtp(r.audio, 44100) <= -1.0
    np.testing.assert_array_equal(r.audio, x * r.gain)


# -------------------------------------------------------------------------------------------- ffmpeg
def _ffmpeg_true_peak_dbtp(path) -> float:
    proc = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    match = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert match, summary
    return float(match.group(1))


@pytest.mark.parametrize(("case", "rate", "ceiling"),
                         [("isp_sine_fs4", 48000, -1.0), ("loud_bass_mix", 44100, -1.0),
                          ("square_near_fs4", 44100, -2.0), ("noise_+12dB", 96000, -1.0)])
def test_ffmpeg_agrees_output_is_under_the_ceiling(tmp_path, case, rate, ceiling):
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the 'ffmpeg' program on PATH (Debian/Ubuntu: apt-get install ffmpeg)")
    soundfile = pytest.importorskip("soundfile")
    x = WORST_CASES[case](rate)
    r = limit_true_peak(x, rate, ceiling_dbtp=ceiling)
    path = tmp_path / f"{case}.wav"
    soundfile.write(path, r.audio.T.astype(np.float32), rate, subtype="FLOAT")
    # ffmpeg resamples to 192 kHz with its own filter and reads up to ~0.3 dB high on such material
    # (kernels/truepeak.py), and prints one decimal; so its reading must stay within ceiling + 0.3 dB.
    assert _ffmpeg_true_peak_dbtp(path) <= ceiling + 0.3


# ---------------------------------------------------------------------------------------------- clicks
@pytest.mark.parametrize("case", ["drum_hits_after_silence", "square_1kHz", "square_near_fs4", "isp_sine_fs4"])
def test_limiting_adds_no_clicks(case):
    fs = 44100
    x = WORST_CASES[case](fs)
    y = limit_true_peak(x, fs, ceiling_dbtp=-1.0).audio
    detector = ImpulseDetector(fs, 2)
    detector.process(y)
    found = [d for d in detector.finish() if d.kind in ("click", "discontinuity")]
    assert found == []


# ------------------------------------------------------------------------------------- pass-through
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_under_the_ceiling_comes_back_identical(dtype):
    x = loud_mix(48000, 0.5)
    x = (x * 10 ** ((-1.5 - meter_dbtp(x, 48000)) / 20)).astype(dtype)  # reads about -1.5 dBTP
    r = limit_true_peak(x, 48000, ceiling_dbtp=-1.0)
    assert r.audio is x  # the same array: not even a copy
    assert (r.passes, r.max_reduction_db) == (0, 0.0)
    assert r.true_peak_dbtp <= -1.0
    assert np.all(r.gain == 1.0)


def test_gain_is_exactly_one_away_from_the_limited_burst():
    fs = 44100
    t = np.arange(6 * fs) / fs
    x = np.tile(0.3 * np.sin(2 * np.pi * 220 * t), (2, 1))
    x[:, fs : fs + fs // 10] *= 5.0  # a 100 ms burst at +3.5 dBFS
    r = limit_true_peak(x, fs, ceiling_dbtp=-1.0)
    k = round(0.002 * fs)
    # Before the attack ramp (K samples plus the detector's reach of P/2 + 1 samples) nothing is touched.
    before = fs - k - TAPS_PER_PHASE // 2 - 1
    assert np.all(r.gain[:before] == 1.0)
    np.testing.assert_array_equal(r.audio[:, :before], x[:, :before])
    # The release decays the reduction in nepers by exp(-1/4410) per sample: from <= 0.5 Np it is under
    # 1e-16 (gain rounds to exactly 1.0) after ln(0.5e16) = 36.1 time constants = 3.61 s.
    after = fs + fs // 10 + int(3.7 * fs)
    assert np.all(r.gain[after:] == 1.0)
    np.testing.assert_array_equal(r.audio[:, after:], x[:, after:])


def test_empty_and_silent_input():
    for x in (np.zeros((2, 0)), np.zeros((2, 1000))):
        r = limit_true_peak(x, 44100)
        assert r.audio is x and r.passes == 0 and r.gain.shape == (x.shape[1],)


# ----------------------------------------------------------------------------------- the gain pieces
def test_detector_reads_what_the_meter_reads():
    # Same filter and grid as the QC meter at 4x: the detector's maximum is the meter's reading.
    x = loud_mix(44100, 0.5)
    peaks = limiter._linked_peaks(np, x, 4)
    assert 20 * math.log10(peaks.max()) == pytest.approx(meter_dbtp(x, 44100), abs=1e-9)


def _abrupt_end(fs, seconds=0.05):
    """fs/4 tone at 45 degrees, faded in, cut off at full swing: its largest interpolated value lies in
    the filter's ring after the last sample, which only a meter that flushes its tail reads."""
    n = np.arange(int(seconds * fs))
    x = np.tile(0.7 * np.sin(np.pi / 2 * n + np.pi / 4), (2, 1))
    x[:, : n.size // 2] *= np.linspace(0.0, 1.0, n.size // 2)
    return x


def _reading_cases(fs):
    rng = np.random.default_rng(fs)
    return {"noise": rng.standard_normal((2, fs // 4)) * rng.uniform(0.1, 2.0),
            "noise_mono_short": rng.standard_normal((1, 50)),
            "loud_mix": loud_mix(fs, 0.5),
            "drums": drum_hits(fs),
            "abrupt_end": _abrupt_end(fs)}


@pytest.mark.parametrize("rate", [44100, 48000])
def test_detector_maximum_is_the_meter_reading_flushed_tail_included(rate):
    # The limiter lets the detector stand in for the meter below 96 kHz (same filter, same grid, every window
    # the meter reads including the flushed tail): its maximum must be the meter's reading. Both sum the same
    # 20 products in another order (~1e-16 relative, ~1e-15 dB); 1e-9 dB is far under the 1e-6 dB margin
    # the limiter keeps before it trusts the detector.
    for name, x in _reading_cases(rate).items():
        interval = limiter._linked_intervals(np, x, 4)
        assert 20 * math.log10(interval.max()) == pytest.approx(meter_dbtp(x, rate), abs=1e-9), name
        if name == "abrupt_end":  # the maximum lies after the last sample: the tail is really covered
            assert interval[x.shape[1] + 1 :].max() == interval.max()


@pytest.mark.parametrize("rate", [44100, 48000])
def test_output_check_reads_what_the_meter_reads(rate):
    # _apply_and_verify_cpu writes y = x * g (one multiplication: bit-exact) and reads y's true peak, skipping
    # blocks it can bound under the running maximum; skipped bounds never exceed the exact maximum, and the
    # reading is the meter's to 1e-9 dB (see above), on gains that vary fast (the bound's spread term) or not.
    matrix, bound = limiter._phase_matrix(4)[:-1], limiter.phase_gain_bound(4)
    for name, x in _reading_cases(rate).items():
        n = x.shape[1]
        t = np.arange(n)
        for gain in (np.full(n, 0.5), 0.6 + 0.3 * np.sin(2 * np.pi * t / 300.0) ** 2):
            interval = limiter._linked_intervals(np, x, 4)
            y = np.empty_like(x)
            exact, skipped = limiter._apply_and_verify_cpu(x, gain, y, matrix, bound, 0.0, interval)
            np.testing.assert_array_equal(y, x * gain)
            assert skipped <= exact
            assert 20 * math.log10(exact) == pytest.approx(meter_dbtp(y, rate), abs=1e-9), name
            # Above every value (floor 10): all blocks skipped, and their bounds cover the true peak, which
            # is what tells the limiter to ask the meter instead (skipped > exact).
            exact, skipped = limiter._apply_and_verify_cpu(x, gain, y, matrix, bound, 10.0, interval)
            assert exact == 0.0 and skipped >= 10 ** (meter_dbtp(y, rate) / 20)


def test_detector_skip_is_exact_above_its_threshold():
    # Skipped blocks hold their bound G max|x| (<= threshold, >= every exact value in them); every value above
    # the threshold is the exact one (the same arithmetic: bit-equal). The gain depends only on values above
    # the internal ceiling, which the limiter keeps above the threshold.
    x = loud_mix(44100, 1.0)
    exact = limiter._linked_intervals(np, x, 4)
    for threshold in (0.5, 1.0, 1.5):
        skipping = limiter._linked_intervals(np, x, 4, threshold)
        above = skipping > threshold
        np.testing.assert_array_equal(skipping[above], exact[above])
        assert np.all(skipping[~above] >= exact[~above])
        assert 0 < above.sum() < above.size  # both kinds present, else the test proves little


def test_infinite_sample_raises():
    x = np.zeros((2, 5000))
    x[1, 4321] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        limit_true_peak(x, 44100)


def test_attack_never_leaves_a_peak_above_its_required_gain():
    # The proof in the module docstring, checked against a brute-force forward minimum and trailing mean;
    # with rho = 0 the release leaves s unchanged (exp(-(-ln s)) = s to 1 ulp), and SciPy's box filter is a
    # running sum (rounding grows ~1e-16 per sample over these 3000: 7e-15 seen), hence 1e-13.
    rng = np.random.default_rng(2)
    peaks = np.abs(rng.standard_normal(3000)) * rng.choice([0.3, 1.5], 3000)
    k, c = 17, 0.89
    r = np.minimum(1.0, c / peaks)
    padded = np.concatenate([np.ones(k), r, np.ones(k)])
    m = np.array([padded[i : i + k].min() for i in range(r.size + k)])  # m[j] for j = -k .. n-1
    s = np.array([m[i + 1 : i + k + 1].mean() for i in range(r.size)])
    g = limiter._gain(np, peaks, c, k, 0.0)
    np.testing.assert_allclose(g, s, rtol=0, atol=1e-13)
    assert np.all(g <= r + 1e-13)


@pytest.mark.parametrize("k", [1, 2, 17, 88])
def test_fused_cpu_gain_equals_the_array_path(k):
    # _gain_cpu (deque minimum, running box sum, release in one numba loop) against _gain_xp (SciPy ndimage
    # filters and release_gain: the GPU path run on NumPy). Both box sums round differently, ~1e-16 per
    # sample over a window (1.4e-15 seen): 1e-13. In the unlimited stretch both must give exactly 1.0.
    rng = np.random.default_rng(k)
    peaks = np.abs(rng.standard_normal(6000)) * rng.choice([0.3, 1.5], 6000)
    peaks[2000:4000] = 0.1
    for rho in (0.0, 0.99, math.exp(-1 / 4410)):
        fused = limiter._gain(np, peaks, 0.89, k, rho)
        arrays = limiter._gain_xp(np, peaks, 0.89, k, rho)
        np.testing.assert_allclose(fused, arrays, rtol=0, atol=1e-13)
    for rho in (0.0, 0.9):  # the release has faded (0.9**1000) well before the end of the quiet stretch
        assert np.all(limiter._gain(np, peaks, 0.89, k, rho)[3000:4000 - k] == 1.0)
        assert np.all(limiter._gain_xp(np, peaks, 0.89, k, rho)[3000:4000 - k] == 1.0)


def test_cpu_detector_equals_the_blas_products():
    # The numba detector (3 phases plus the pass-through sample, fastmath sums) against the meter-style
    # blocked products with all 4 phases: sums of 20 products reordered, ~1e-16 relative: 1e-14.
    x = loud_mix(44100, 0.3)
    padded = np.zeros((2, x.shape[1] + 2 * TAPS_PER_PHASE))
    padded[:, TAPS_PER_PHASE : -TAPS_PER_PHASE] = x
    blas = np.zeros(x.shape[1] + TAPS_PER_PHASE + 1)
    limiter._interval_peaks_xp(np, padded, limiter._phase_matrix(4), blas)
    np.testing.assert_allclose(limiter._linked_peaks(np, x, 4), np.maximum(blas[:-1], blas[1:]), rtol=0, atol=1e-14)


def test_array_path_end_to_end_matches(monkeypatch):
    # The whole limiter with the GPU path's array code (run on NumPy) in place of the numba loops: same
    # output to float rounding (1e-12: box sums and reordered dot products, ~1e-15, through exp/log).
    x = loud_mix(48000, 1.0)
    fused = limit_true_peak(x, 48000, ceiling_dbtp=-1.0)
    monkeypatch.setattr(limiter, "_gain", lambda xp, *args: limiter._gain_xp(xp, *args))
    def blas_detector(rows, matrix, gain_bound, threshold, out):  # exact everywhere: no skip, BLAS products
        padded = np.zeros((rows.shape[0], rows.shape[1] + 2 * TAPS_PER_PHASE))
        padded[:, TAPS_PER_PHASE : -TAPS_PER_PHASE] = rows
        out[:] = 0.0
        limiter._interval_peaks_xp(np, padded, limiter._phase_matrix(4), out)
        return True

    monkeypatch.setattr(limiter, "_interval_peaks_cpu", blas_detector)
    arrays = limit_true_peak(x, 48000, ceiling_dbtp=-1.0)
    assert arrays.passes == fused.passes
    np.testing.assert_allclose(arrays.audio, fused.audio, rtol=0, atol=1e-12)


def _release_python(s, rho):
    """Plain-Python reference of the release recursion."""
    a, out = 0.0, []
    for v in s:
        d = -math.log(v) if v < 1.0 else 0.0
        a = max(d, rho * a)
        if a < 1e-20:
            a = 0.0
        out.append(math.exp(-a) if a > 0.0 else 1.0)
    return np.array(out)


def _smoothed_gains(n, seed=4):
    rng = np.random.default_rng(seed)
    s = np.ones(n)
    for start in rng.integers(0, n - 50, size=n // 200):
        s[start : start + rng.integers(1, 50)] = rng.uniform(0.2, 1.0)
    return s


def test_numba_release_equals_python_reference():
    s = _smoothed_gains(2000)
    for rho in (0.0, 0.9, math.exp(-1 / 4410)):
        # numba's libm log/exp and CPython's may differ by an ulp; 1e-15 is ~5 ulp at gains <= 1.
        np.testing.assert_allclose(release_gain(s, rho), _release_python(s, rho), rtol=0, atol=1e-15)
    assert np.all(release_gain(s, 0.99) <= s)


def test_chunked_scan_equals_one_pass():
    # The GPU twin's algorithm, run on CPU with the numba kernel: per-chunk end values from 0, chained
    # start values, a second run from those. Chaining computes rho**len * A instead of len products:
    # relative rounding ~len * 1e-16, so 1e-13 absolute on gains.
    s = _smoothed_gains(5000)
    rho, chunk = 0.995, 37
    whole = release_gain(s, rho)
    pieces = [s[i : i + chunk] for i in range(0, s.size, chunk)]
    ends = np.array([limiter._release_cpu(p, rho, 0.0, np.empty_like(p)) for p in pieces])
    starts = np.empty(len(pieces))
    limiter._chain_starts(ends, rho ** chunk, starts)  # every piece but the last is a full chunk
    out = np.concatenate([np.empty_like(p) for p in pieces])
    for i, p in enumerate(pieces):
        limiter._release_cpu(p, rho, starts[i], out[i * chunk : i * chunk + p.size])
    np.testing.assert_allclose(out, whole, rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs", [{"ceiling_dbtp": 0.5}, {"ceiling_dbtp": float("nan")}, {"lookahead_ms": 0.0},
                                    {"release_ms": -1.0}, {"oversample": 2}, {"oversample": 4.0},
                                    {"ceiling_dbtp": True}])
def test_bad_settings_raise(kwargs):
    with pytest.raises(ValueError):
        LimiterConfig(**kwargs)
    with pytest.raises(ValueError):
        limit_true_peak(np.zeros((2, 10)), 44100, **kwargs)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        limit_true_peak(np.zeros(10), 44100)
    with pytest.raises(ValueError, match="NaN"):
        limit_true_peak(np.array([[0.0, np.nan]]), 44100)
    with pytest.raises(ValueError, match="sample_rate"):
        limit_true_peak(np.zeros((1, 10)), 0)


# ---------------------------------------------------------------------------------------------- GPU
_GPU_OK, _GPU_REASON = gpu_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _GPU_OK, reason=_GPU_REASON)
def test_gpu_parity():
    import cupy  # importable only where the skip above did not trigger

    s = _smoothed_gains(300_000)
    rho = math.exp(-1 / 4410)
    # CUDA's log/exp against numba's: a few ulp per step; the chunk chaining adds ~1e-13 (see above).
    np.testing.assert_allclose(cupy.asnumpy(release_gain(cupy.asarray(s), rho)), release_gain(s, rho),
                               rtol=0, atol=1e-12)
    x = loud_mix(48000, 3.0)
    cpu = limit_true_peak(x, 48000, ceiling_dbtp=-1.0)
    gpu = limit_true_peak(cupy.asarray(x), 48000, ceiling_dbtp=-1.0)
    assert isinstance(gpu.audio, cupy.ndarray)
    assert gpu.passes == cpu.passes
    np.testing.assert_allclose(cupy.asnumpy(gpu.audio), cpu.audio, rtol=0, atol=1e-9)
    assert gpu.true_peak_dbtp <= -1.0


# ---------------------------------------------------------------------------------------------- speed
@pytest.mark.slow
def test_speed_three_minutes_stereo():
    fs, seconds = 44100, 180.0
    x = loud_mix(fs, seconds)
    limit_true_peak(x[:, : fs], fs)  # compile and warm up
    start = time.perf_counter()
    r = limit_true_peak(x, fs, ceiling_dbtp=-1.0)
    elapsed = time.perf_counter() - start
    assert r.true_peak_dbtp <= -1.0
    # Target from the issue: well above 100x real time (measured 830-930x on one core, see the module;
    # 100x leaves room for a loaded shared machine).
    assert seconds / elapsed > 100, f"{seconds / elapsed:.0f}x real time"
