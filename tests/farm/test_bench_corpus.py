"""The benchmark's defect planters plant what they say, where they say; the corpus is deterministic and its truth
matches its files."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.signal
import soundfile as sf

from farm.bench import corpus as corpus_mod
from farm.bench.defects import (
    DEFECT_KINDS,
    WHOLE_TRACK_KINDS,
    UNDER_RULE,
    Truth,
    plant,
    true_peak_dbtp,
)

SR = 44100


@pytest.fixture(scope="module")
def music(render_music) -> np.ndarray:
    """12 s of built-in-rendered pop at a mastered level (true peak about -1.5 dBTP), read-only."""
    x = np.array(render_music(11, SR, 12.0, style="pop"))
    x *= 10 ** (-1.5 / 20) / np.max(np.abs(x))
    x.setflags(write=False)
    return x


def _plant(kind: str, x: np.ndarray, seed: int, sr: int = SR) -> tuple[np.ndarray, Truth]:
    y, truths = plant(kind, x, sr, np.random.default_rng(seed))
    assert len(truths) == 1
    return y, truths[0]


def _chans(channel: int) -> list[int]:
    return [0, 1] if channel < 0 else [channel]


def _rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(x * x)) + 1e-30)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_every_planter_returns_stereo_truth_in_range_and_is_deterministic(music, kind):
    before = music.copy()
    y, t = _plant(kind, music, 3)
    y2, t2 = _plant(kind, music, 3)
    np.testing.assert_array_equal(music, before)  # the input is left alone
    assert y.dtype == np.float64 and y.shape[0] == 2 and np.all(np.isfinite(y))
    assert t.kind == kind
    dur = y.shape[1] / SR
    assert 0.0 <= t.start_s <= t.end_s <= dur + 1e-9
    if kind in WHOLE_TRACK_KINDS - {"head_silence", "tail_silence"}:
        assert (t.start_s, t.end_s) == (0.0, pytest.approx(dur))
    elif kind not in ("start_cut", "end_cut", "head_silence", "tail_silence") and not t.detail.startswith("whole"):
        # Local kinds lie inside the music, away from the first and last second.
        assert 1.0 <= t.start_s and t.end_s <= dur - 1.0 + 1e-9
    np.testing.assert_array_equal(y, y2)
    assert t == t2


@pytest.mark.parametrize("seed", range(6))
def test_click_is_added_exactly_at_the_truth(music, seed):
    y, t = _plant("click", music, seed)
    d = y - music
    p0, p1 = round(t.start_s * SR), round(t.end_s * SR)
    assert 1 <= p1 - p0 <= 5
    assert 0.05 <= t.value <= 0.5
    for c in range(2):
        nz = np.flatnonzero(d[c])
        if c in _chans(t.channel):
            np.testing.assert_array_equal(nz, np.arange(p0, p1))
            np.testing.assert_allclose(np.abs(d[c, p0:p1]), t.value, rtol=1e-12)
        else:
            assert nz.size == 0
    assert np.max(np.abs(y)) <= 0.98 + 1e-12  # no overflow at the write
    # Audible (the planter's documented rule): the amplitude is 4x the music's local RMS second difference.
    w = int(0.003 * SR)
    for c in _chans(t.channel):
        d2 = np.concatenate([np.diff(music[c, p0 - w:p0], n=2), np.diff(music[c, p1:p1 + w], n=2)])
        assert t.value >= 4 * np.sqrt(np.mean(d2**2))


@pytest.mark.parametrize("seed", range(6))
def test_discontinuity_is_a_splice_at_the_truth_and_audible(music, seed):
    y, t = _plant("discontinuity", music, seed)
    p = round(t.start_s * SR)
    variant, size = t.detail.split()[0], int(t.detail.split()[1])
    np.testing.assert_array_equal(y[:, :p], music[:, :p])
    q = p - size if variant == "repeat" else p + size
    np.testing.assert_array_equal(y[:, p:], music[:, q:])
    assert y.shape[1] == music.shape[1] + (size if variant == "repeat" else -size)
    if variant == "jump":
        assert 0.05 * SR - 1 <= size <= 2.0 * SR + 1
    else:
        assert 20 <= size <= 2000
    # Audible: the joint's second difference stands out of the local waveform (the planter's documented rule).
    d2 = np.abs(np.diff(y[:, p - 200:p + 200], n=2, axis=1))
    joint = d2[:, 197:200].max(axis=1)
    local = np.sqrt(np.mean(np.delete(d2, np.s_[195:202], axis=1) ** 2, axis=1))
    assert np.max(joint / local) >= 3.0


@pytest.mark.parametrize("seed", range(8))
def test_dropout_zeroes_the_truth_span_inside_music(music, seed):
    y, t = _plant("dropout", music, seed)
    p0, p1 = round(t.start_s * SR), round(t.end_s * SR)
    assert 0.005 * SR - 1 <= p1 - p0 <= 0.2 * SR + 1
    assert t.value == pytest.approx((p1 - p0) / SR)
    for c in range(2):
        seg = y[c, p0:p1]
        if c in _chans(t.channel):
            if t.detail == "exact zeros":
                assert np.all(seg == 0.0)
            else:
                assert -110 < _rms_db(seg) < -90
        else:
            np.testing.assert_array_equal(seg, music[c, p0:p1])
    np.testing.assert_array_equal(y[:, :p0], music[:, :p0])
    np.testing.assert_array_equal(y[:, p1:], music[:, p1:])
    # Not already silent: the music just before and just after is well above the noise floor.
    guard = int(0.02 * SR)
    for c in _chans(t.channel):
        assert _rms_db(music[c, p0 - guard:p0]) > -50 and _rms_db(music[c, p1:p1 + guard]) > -50


@pytest.mark.parametrize("seed", range(8))
def test_clipping_flat_tops_count_is_the_value(music, seed):
    y, t = _plant("clipping", music, seed)
    s, e = round(t.start_s * SR), round(t.end_s * SR)
    top = np.max(np.abs(y))
    assert 10 ** (-6 / 20) - 1e-9 <= top <= 1.0
    flat = np.abs(y) >= top * (1 - 1e-12)
    assert int(flat.sum()) == int(t.value) > 0
    # The truth spans the flat tops exactly: its first sample is the first clipped one, its last the last.
    flat_at = np.flatnonzero(flat.any(axis=0))
    assert (flat_at[0], flat_at[-1]) == (s, e - 1)
    # Before the driven section (at most 5 s before the first flat top) the music is only scaled (the clipped
    # master turned down).
    b = max(0, s - round(5.1 * SR))
    if b > 0:
        scale = y[:, :b].ravel() @ music[:, :b].ravel() / max(1e-30, music[:, :b].ravel() @ music[:, :b].ravel())
        np.testing.assert_allclose(y[:, :b], scale * music[:, :b], atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_noise_burst_is_added_only_over_the_span_at_its_level(music, seed):
    y, t = _plant("noise_burst", music, seed)
    d = y - music
    p0, p1 = round(t.start_s * SR), round(t.end_s * SR)
    for c in range(2):
        outside = np.concatenate([d[c, :p0], d[c, p1:]])
        assert np.all(outside == 0.0)
        if c in _chans(t.channel):
            # RMS over the burst equals the value within the loss of the two 1 ms ramps (< 1 dB for >= 10 ms).
            assert _rms_db(d[c, p0:p1]) == pytest.approx(20 * math.log10(t.value), abs=1.0)
        else:
            assert np.all(d[c] == 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_hum_spectrum_has_the_mains_series(music, seed):
    y, t = _plant("hum", music, seed)
    d = (y - music)[0]
    s, e = round(t.start_s * SR), round(t.end_s * SR)
    assert np.all(d[:s] == 0) and np.all(d[e:] == 0)
    assert t.value in (50.0, 60.0)
    assert t.detail.startswith("whole track") or e - s >= 5 * SR - 1
    seg = d[s:e]
    f, p = scipy.signal.periodogram(seg, SR, window="hann")
    for k in range(1, 7):
        band = (f > k * t.value - 3) & (f < k * t.value + 3)
        assert p[band].max() > 1e3 * np.median(p)  # each harmonic stands 30 dB out of the spectrum
    # Fundamental's peak level (RMS + 3.01 dB) is the one in the detail, within -50..-30 dBFS (0.3 dB: Hann
    # window band sum over +/- 3 Hz and the ramps of a section).
    rms_db = 10 * math.log10(p[(f > t.value - 3) & (f < t.value + 3)].sum() * (f[1] - f[0]))
    planted_db = float(t.detail.split("fundamental ")[1].split(" dBFS")[0])
    assert -50 <= planted_db <= -30
    assert rms_db + 3.01 == pytest.approx(planted_db, abs=0.3)


def test_polarity_inverted_negates_the_right_channel(music):
    y, t = _plant("polarity_inverted", music, 0)
    np.testing.assert_array_equal(y[0], music[0])
    np.testing.assert_array_equal(y[1], -music[1])
    assert t.value == pytest.approx(-np.corrcoef(music)[0, 1], abs=1e-4)  # corrcoef removes the mean, value not


@pytest.mark.parametrize("seed", range(6))
def test_out_of_phase_section(music, seed):
    y, t = _plant("out_of_phase", music, seed)
    s, e = round(t.start_s * SR), round(t.end_s * SR)
    assert 2 * SR - 1 <= e - s <= 10 * SR + 1 or e - s <= 0.3 * music.shape[1] + 1
    np.testing.assert_array_equal(y[0], music[0])
    np.testing.assert_array_equal(y[1, :s], music[1, :s])
    np.testing.assert_array_equal(y[1, e:], music[1, e:])
    inner = slice(s + int(0.01 * SR), e - int(0.01 * SR))
    # it starts where there is something to invert: the first 0.1 s sounds within 10 dB of the section
    sec = music[:, s:e]
    if not t.detail.startswith("right"):
        sec = scipy.signal.sosfiltfilt(scipy.signal.butter(4, 150, "lowpass", fs=SR, output="sos"), sec, axis=-1)
    assert _rms_db(sec[:, : int(0.1 * SR)]) >= _rms_db(sec) - 10.0
    if t.detail.startswith("right"):
        np.testing.assert_allclose(y[1, inner], -music[1, inner], atol=1e-12)
    else:
        sos = scipy.signal.butter(4, 150, "lowpass", fs=SR, output="sos")
        low_before = scipy.signal.sosfiltfilt(sos, music[:, inner], axis=-1)
        low_after = scipy.signal.sosfiltfilt(sos, y[:, inner], axis=-1)
        assert np.corrcoef(low_after)[0, 1] < -0.3 < 0.3 < np.corrcoef(low_before)[0, 1]
        # The top end is untouched: above 1 kHz the right channel is the same.
        hp = scipy.signal.butter(4, 1000, "highpass", fs=SR, output="sos")
        diff = scipy.signal.sosfiltfilt(hp, y[1, inner] - music[1, inner])
        assert _rms_db(diff) < _rms_db(music[1, inner]) - 40
    assert t.value < 0


def test_a_planting_under_the_audibility_rule_says_so(music):
    """Where no position meets the planter's rule, the best one is planted and its detail says so.

    Music high-passed at 400 Hz has no low end to negate: every low-end out-of-phase planting is under the rule
    (its bass is 60 dB down), every full-band one meets it; in the music as it is, none is marked.
    """
    sos = scipy.signal.butter(8, 400, "highpass", fs=SR, output="sos")
    thin = scipy.signal.sosfiltfilt(sos, music, axis=-1)
    variants = set()
    for seed in range(8):
        _, t = _plant("out_of_phase", thin, seed)
        variants.add(t.detail.split(";")[0])
        assert (UNDER_RULE in t.detail) == t.detail.startswith("low end"), t.detail
        assert UNDER_RULE not in _plant("out_of_phase", music, seed)[1].detail
    assert len(variants) == 2
    # a click into full-scale white noise cannot stand 4x over its roughness anywhere
    noise = np.random.default_rng(5).uniform(-0.9, 0.9, (2, 4 * SR))
    _, t = _plant("click", noise, 0)
    assert t.detail.endswith(f"{UNDER_RULE} (best of 100 positions)")


@pytest.mark.parametrize("seed", range(4))
def test_false_stereo(music, seed):
    y, t = _plant("false_stereo", music, seed)
    if t.detail == "exact copy":
        np.testing.assert_array_equal(y[0], y[1])
        assert t.value == -math.inf
    else:
        side_db = _rms_db(0.5 * (y[0] - y[1])) - _rms_db(0.5 * (y[0] + y[1]))
        assert side_db == pytest.approx(t.value, abs=0.01)
        assert -77.5 < side_db < -75.5  # noise 70 dB under the mid on one channel: side = noise / 2 (-6 dB)


@pytest.mark.parametrize("sr, seed", [(44100, 0), (44100, 1), (48000, 2), (96000, 3), (96000, 4)])
def test_lossy_bandwidth_leaves_nothing_above_the_cutoff(render_music, sr, seed):
    x = np.array(render_music(11, sr, 8.0, style="rock"))
    y, t = _plant("lossy_bandwidth", x, seed, sr)
    if sr >= 88200:
        assert 16000 <= t.value <= 20000 and "upsampled" in t.detail
    else:
        assert t.value in (11000, 13000, 15000, 16000, 17000, 19000)
    f, p = scipy.signal.welch(y[0], sr, nperseg=8192)
    _, px = scipy.signal.welch(x[0], sr, nperseg=8192)
    stop = f >= t.value + 200
    passband = (f > 1000) & (f < t.value - 1000)
    # The stop band lies 80+ dB under the spectrum's peak and 40+ dB under the music just below the cutoff
    # (100 dB design; resampler images and Welch leakage eat the rest), and it is the filter that did it: the
    # music had content there (within 80 dB of its pass band).
    edge = (f > t.value - 1500) & (f < t.value - 500)
    assert p[stop].max() < 1e-8 * p.max()
    assert p[stop].max() < 1e-4 * p[edge].mean()
    assert px[stop & (f < t.value + 1000)].mean() > 1e-8 * px[passband].mean()
    np.testing.assert_allclose(np.sqrt(np.mean(y**2)), np.sqrt(np.mean(x**2)), rtol=0.05)


@pytest.mark.parametrize("seed", range(4))
def test_bit_depth_puts_samples_on_a_coarser_grid(music, seed):
    y, t = _plant("bit_depth", music, seed)
    bits = int(t.value)
    assert bits in (16, 12)
    q = y * 2 ** (bits - 1)
    np.testing.assert_array_equal(q, np.round(q))
    assert np.mean(np.abs(y - music)) < 2 ** -(bits - 1)


@pytest.mark.parametrize("seed", range(4))
def test_start_and_end_cut_land_in_loud_music(music, seed):
    y, t = _plant("start_cut", music, seed)
    assert (t.start_s, t.end_s) == (0.0, 0.0)
    c = music.shape[1] - y.shape[1]
    assert SR <= c <= 0.4 * music.shape[1] + SR // 100
    np.testing.assert_array_equal(y, music[:, c:])
    assert _rms_db(y[:, : int(0.02 * SR)]) > -30 and t.value > -30
    y, t = _plant("end_cut", music, seed)
    assert t.start_s == t.end_s == pytest.approx(y.shape[1] / SR)
    np.testing.assert_array_equal(y, music[:, : y.shape[1]])
    assert _rms_db(y[:, -int(0.02 * SR):]) > -30


def test_head_and_tail_silence_are_exact_zeros(music):
    y, t = _plant("head_silence", music, 0)
    pad = round(t.end_s * SR)
    assert 2.5 <= t.value <= 8.0 and np.all(y[:, :pad] == 0) and np.array_equal(y[:, pad:], music)
    y, t = _plant("tail_silence", music, 0)
    s = round(t.start_s * SR)
    assert s == music.shape[1] and np.all(y[:, s:] == 0) and t.end_s == pytest.approx(y.shape[1] / SR)


@pytest.mark.parametrize("seed", range(4))
def test_dc_offset_is_a_constant(music, seed):
    y, t = _plant("dc_offset", music, seed)
    assert 0.02 <= abs(t.value) <= 0.05
    d = y - music  # no rescale needed: the music peaks at 0.84
    for c in range(2):
        np.testing.assert_allclose(d[c], t.value if c in _chans(t.channel) else 0.0, atol=1e-15)


def test_true_peak_over_is_over_a_minus_one_ceiling_without_clipping(music):
    y, t = _plant("true_peak_over", music, 0)
    assert np.max(np.abs(y)) < 1.0
    assert t.value > -1.0
    assert true_peak_dbtp(y, SR) == pytest.approx(t.value)


def test_doctests():
    import doctest

    import farm.bench.defects

    failures, _ = doctest.testmod(farm.bench.defects)
    assert failures == 0


def test_unknown_kind_and_mono_are_refused(music):
    with pytest.raises(ValueError, match="unknown defect kind"):
        plant("wow", music, SR, np.random.default_rng(0))
    with pytest.raises(ValueError, match="stereo"):
        plant("click", music[:1], SR, np.random.default_rng(0))


# ----------------------------------------------------------------------------------------------------------------
# The corpus


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_corpus_plans_every_kind_several_times_with_compatible_kinds(seed):
    plans = corpus_mod._plan(seed, 0.2, 0.5, "builtin", 4)
    counts = Counter(k for p in plans for k in p.kinds)
    assert set(counts) == set(DEFECT_KINDS)
    assert min(counts.values()) >= 3, counts
    assert max(counts.values()) - min(counts.values()) <= 2  # dealt from a deck: nearly equal
    clean = sum(1 for p in plans if not p.kinds)
    assert abs(clean - 0.5 * len(plans)) <= 1
    for p in plans:
        assert 1 <= len(p.kinds) <= 3 or not p.kinds
        assert len(set(p.kinds)) == len(p.kinds)
        for a in p.kinds:
            for b in p.kinds:
                assert frozenset((a, b)) not in corpus_mod.EXCLUSIVE or a == b
        if "bit_depth" in p.kinds:
            assert p.subtype == "PCM_24"
    assert any(p.sample_rate == 96000 for p in plans if "lossy_bandwidth" in p.kinds)
    assert {p.style for p in plans} == {"pop", "rock", "ballad", "electronic", "acoustic"}
    assert {p.sample_rate for p in plans} == {44100, 48000, 96000}
    assert {(p.subtype, p.container) for p in plans} == {(s, c) for s in ("PCM_16", "PCM_24") for c in ("WAV", "FLAC")}


def test_large_corpus_uses_full_length_songs():
    plans = corpus_mod._plan(0, 3.0, 0.5, "builtin", 4)
    durations = [p.duration_s for p in plans]
    assert min(durations) >= 58 - 2 and max(durations) <= 240
    assert sum(durations) / 3600 == pytest.approx(3.0 - 2 * len(plans) / 3600, rel=0.15)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus-a")
    manifest = corpus_mod.make_corpus(root, seed=5, hours=0.02, renderer="builtin", workers=2)
    return manifest


def test_corpus_is_deterministic_whatever_the_workers(small_corpus, tmp_path):
    other = corpus_mod.make_corpus(tmp_path, seed=5, hours=0.02, renderer="builtin", workers=1)
    a, b = small_corpus.parent, other.parent
    names = sorted(p.name for p in (a / "tracks").iterdir())
    assert names == sorted(p.name for p in (b / "tracks").iterdir()) and names
    for name in names:
        assert (a / "tracks" / name).read_bytes() == (b / "tracks" / name).read_bytes(), name
    assert pq.read_table(a / "truth.parquet").equals(pq.read_table(b / "truth.parquet"))
    assert (a / "manifest.csv").read_text() == (b / "manifest.csv").read_text()
    assert not list(a.rglob("*.part"))


def _check_truth_in_file(t: dict, y: np.ndarray, sr: int, subtype: str) -> None:
    lsb = 2.0 ** -15 if subtype == "PCM_16" else 2.0 ** -23
    dur = y.shape[1] / sr
    kind = t["kind"]
    s, e = round(t["start_s"] * sr), round(t["end_s"] * sr)
    chans = _chans(t["channel"])
    if kind in WHOLE_TRACK_KINDS - {"head_silence", "tail_silence"} or (kind == "hum" and t["detail"].startswith("whole")):
        assert t["start_s"] == 0.0 and t["end_s"] == pytest.approx(dur)
    if kind == "clipping":
        # From the first clipped sample to the last, whole-track clippings included: flat tops at both ends.
        top = np.max(np.abs(y))
        flat = np.flatnonzero(np.any(np.abs(y) >= top * (1 - 1e-9), axis=0))
        assert 0.0 <= t["start_s"] <= t["end_s"] <= dur + 1e-9
        assert flat[0] >= s - 1 and flat[-1] <= e
    if kind == "dropout":
        seg = y[chans, s:e]
        assert np.max(np.abs(seg)) <= (0 if t["detail"] == "exact zeros" else 3 * lsb + 1e-4)
    elif kind in ("head_silence", "tail_silence"):
        assert np.all(y[:, s:e] == 0) and (s == 0 if kind == "head_silence" else e == y.shape[1])
    elif kind == "false_stereo":
        if t["detail"] == "exact copy":
            assert np.array_equal(y[0], y[1])
        else:
            assert _rms_db(y[0] - y[1]) < _rms_db(y[0]) - 60
    elif kind == "polarity_inverted":
        assert np.corrcoef(y)[0, 1] < 0
    elif kind == "bit_depth":
        q = y * 2 ** (int(t["value"]) - 1)
        np.testing.assert_array_equal(q, np.round(q))
    elif kind == "clipping":
        top = np.max(np.abs(y[:, s:e]))
        assert np.count_nonzero(np.abs(y[:, s:e]) >= top - 1.5 * lsb) >= 0.9 * t["value"]
    elif kind == "click":
        # The click stands out of its neighbourhood in the file.
        for c in chans:
            around = np.abs(np.diff(y[c, s - 50:e + 50]))
            assert around.max() > 0.05 * 0.9
    elif kind == "start_cut":
        assert _rms_db(y[:, : int(0.02 * sr)]) > -31
    elif kind == "end_cut":
        assert t["start_s"] == pytest.approx(dur) and _rms_db(y[:, -int(0.02 * sr):]) > -31
    elif kind == "true_peak_over":
        assert true_peak_dbtp(y, sr) > -1.0
    elif kind == "dc_offset":
        for c in chans:
            assert abs(np.median(y[c]) - t["value"]) < 0.02


def test_corpus_truth_matches_its_files(small_corpus):
    import csv

    root = small_corpus.parent
    with open(small_corpus, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    truth = pq.read_table(root / "truth.parquet").to_pylist()
    assert {t["path"] for t in truth} <= {r["path"] for r in rows}
    assert {t["kind"] for t in truth} <= set(DEFECT_KINDS)
    for r in rows:
        info = sf.info(str(root / r["path"]))
        assert info.samplerate == int(r["sample_rate"]) and info.subtype == r["subtype"] and info.channels == 2
        y, sr = sf.read(str(root / r["path"]), dtype="float64", always_2d=True)
        y = y.T
        mine = [t for t in truth if t["path"] == r["path"]]
        assert r["planted"] == " ".join(t["kind"] for t in mine)
        for t in mine:
            _check_truth_in_file(t, y, sr, r["subtype"])
        if not mine:
            # Clean masters: under the ceiling, in phase, no exact copies, no long silences.
            assert true_peak_dbtp(y, sr) <= -1.2
            assert np.corrcoef(y)[0, 1] > 0
            assert not np.array_equal(y[0], y[1])
            from kernels.dc import DCOffsetMeter

            meter = DCOffsetMeter(sr, 2)
            meter.process(y)
            assert abs(meter.result().persistent_dc) < 0.002  # the DC blocker: well under the 0.01 threshold


def test_pcm_writer_is_bit_exact_for_a_16_bit_grid_in_24_bit(tmp_path):
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(-0.9, 0.9, (2, 1000)) * 32768) / 32768
    for container in ("WAV", "FLAC"):
        path = tmp_path / f"x.{container.lower()}"
        corpus_mod._write_atomic(path, corpus_mod._to_pcm(x, "PCM_24", rng, dither=False), 48000, "PCM_24",
                                 container)
        y, _ = sf.read(str(path), dtype="float64", always_2d=True)
        np.testing.assert_array_equal(y.T, x)


def test_bad_arguments_are_refused(tmp_path):
    from farm.errors import ConfigError

    with pytest.raises(ConfigError, match="hours"):
        corpus_mod.make_corpus(tmp_path, seed=0, hours=0)
    with pytest.raises(ConfigError, match="clean_fraction"):
        corpus_mod.make_corpus(tmp_path, seed=0, hours=0.1, clean_fraction=1.5)


def test_whole_track_clipping_keeps_its_first_clipped_sample_at_the_final_length():
    from farm.bench.corpus import _at_final_length
    from farm.bench.defects import Truth

    t = Truth("clipping", 2.034, 9.5, -1, 900.0, "whole track driven 4.1 dB over full scale, then +0.0 dB")
    assert (_at_final_length(t, 9.0).start_s, _at_final_length(t, 9.0).end_s) == (2.034, 9.0)
    hum = Truth("hum", 0.0, 9.5, -1, 50.0, "whole track, fundamental -40.0 dBFS, harmonics x0.50 each")
    assert (_at_final_length(hum, 9.0).start_s, _at_final_length(hum, 9.0).end_s) == (0.0, 9.0)


@pytest.mark.parametrize("kind", ["click", "dropout", "noise_burst", "discontinuity"])
def test_local_defects_are_planted_apart_from_earlier_ones(music, kind):
    """A later defect never lands on an earlier one (a dropout over a splice would erase it)."""
    sr, x = SR, music
    earlier = [Truth("hum", 3.0, 9.0, -1, 50.0, "section")]
    for seed in range(12):
        _, planted = corpus_mod._plant_apart(kind, x, sr, np.random.default_rng(seed), earlier)
        for t in planted:
            assert t.end_s < 3.0 - corpus_mod._APART_S or t.start_s > 9.0 + corpus_mod._APART_S, (seed, t)
