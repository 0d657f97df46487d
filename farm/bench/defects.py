"""Plant one defect into stereo music and say exactly where it is.

Each ``plant_<kind>(audio, sample_rate, rng)`` takes float64 audio shaped ``(2, n)`` (full scale = 1), a sample
rate and a ``numpy.random.Generator``, and returns ``(new_audio, [Truth, ...])``. The input is never modified.
Position, size and channel are drawn at random inside the ranges below; a position is always inside the music
(away from the first and last second), except for the kinds that are about the file's edges. Sizes are audible:
where a random draw could give an inaudible defect (a splice that happens to join two matching waveforms, a dropout
inside a pause) the planter draws again, and the rule it uses is written next to it. Where no draw meets the
rule (a low end to negate in a song without bass, a click 4 times over the roughness of a dense mix), the best
one is planted and its truth's ``detail`` ends with ``under the audibility rule (best of N positions)``: the
benchmark scores it like any other and counts its misses apart.

What is planted (the contract the detectors are measured against):

=====================  ==================================================================================
kind                   how
=====================  ==================================================================================
click                  1-5 consecutive samples get +/-(0.05..0.5) added, one channel or both, where the music
                       around is not so bright that it masks the click; truth = first sample. The sign is
                       chosen so the sum stays below 0.98 (no clipping at the write).
discontinuity          a splice at p: delete 20-2000 samples, repeat the last 20-2000 samples, or jump ahead
                       by 0.05-2 s (all channels); truth = p in the new audio.
dropout                5-200 ms of exact zeros (70 %) or white noise at -100 dBFS RMS, all channels or one,
                       inside music at least -45 dBFS (10 ms RMS) on both sides and throughout.
clipping               a 0.3-5 s section (or, one time in five, the whole track) driven 3-12 dB above full
                       scale (10 ms gain ramps), hard-clipped at 1.0, then the whole track scaled by
                       -6..0 dB (0 dB one time in three); value = clipped channel-samples.
noise_burst            10-300 ms of white or pink noise at 0.03-0.3 RMS (log-uniform) with 1 ms ramps, added
                       to one channel or both, where the music under it is no more than 12 dB (white) or
                       6 dB (pink) louder.
hum                    50 or 60 Hz plus harmonics 2-6 (each 0.35-0.7 of the previous), fundamental at
                       -50..-30 dBFS, whole track or a section of at least 5 s (50 ms ramps); value = Hz.
polarity_inverted      right channel negated for the whole track; value = resulting correlation.
out_of_phase           a 2-10 s section (at most 30 % of the track) with the right channel negated (10 ms
                       crossfades), or only its low end
                       (< 150 Hz, zero-phase 4th-order split) negated; value = resulting correlation.
false_stereo           both channels = the mid (L + R) / 2, exactly or with white noise 70 dB below it added to
                       the right; value = side/mid level in dB (-inf when exact).
lossy_bandwidth        a steep linear-phase FIR low-pass (Kaiser, 100 dB, 400 Hz transition) whose stop band
                       starts at 11, 13, 15, 16, 17 or 19 kHz; at 88.2 kHz and above, a 44.1 kHz source
                       low-passed at 16-20 kHz and upsampled back; value = cutoff Hz.
bit_depth              quantised to 16 (two times in three) or 12 bits with TPDF dither, exact zeros kept;
                       the corpus stores such tracks in 24-bit files; value = bits.
start_cut / end_cut    the first (last) 1 s .. 40 % of the track removed at a point inside loud music (20 ms
                       RMS at least -30 dBFS and within 15 dB of the track's loud level); truth at 0 (end).
head_silence /         2.5-8 s of exact zeros before (after) the music; value = seconds.
tail_silence
dc_offset              a constant 0.02-0.05 (either sign) added to one channel or both (the music is turned
                       down first where the sum would pass 0.99); value = the offset.
true_peak_over         the track scaled to a sample peak of -0.6..-0.05 dBFS, so its true peak is above the
                       usual -1 dBTP ceiling; value = true peak, dBTP (measured with kernels.truepeak).
=====================  ==================================================================================

Whole-track kinds get ``start_s = 0`` and ``end_s`` = the duration of the audio returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal

__all__ = [
    "DEFECT_KINDS",
    "EDGE_KINDS",
    "PLANTERS",
    "UNDER_RULE",
    "WHOLE_TRACK_KINDS",
    "Truth",
    "plant",
    "true_peak_dbtp",
]


@dataclass(frozen=True)
class Truth:
    """One planted defect: what, where (seconds in the audio returned by the planter), which channel, how much.

    ``channel`` is zero-based or ``-1`` for all channels; ``value`` is in the unit of the kind's QC event
    (see the module table); ``detail`` names the variant planted, for debugging misses.
    """

    kind: str
    start_s: float
    end_s: float
    channel: int = -1
    value: float = math.nan
    detail: str = ""

    def shifted(self, offset_s: float) -> Truth:
        """The same truth ``offset_s`` seconds later (after audio was inserted before it)."""
        return Truth(self.kind, self.start_s + offset_s, self.end_s + offset_s, self.channel, self.value,
                     self.detail)


#: Kinds whose truth spans the whole track: a detection anywhere on the same track matches them.
WHOLE_TRACK_KINDS = frozenset({
    "polarity_inverted", "false_stereo", "lossy_bandwidth", "bit_depth", "dc_offset", "true_peak_over",
    "head_silence", "tail_silence",
})

#: Kinds about the file's edges; the others are planted away from the first and last second.
EDGE_KINDS = frozenset({"start_cut", "end_cut", "head_silence", "tail_silence"})

_FRAME_S = 0.010  # envelope frames for choosing positions
_EDGE_S = 1.0  # positions keep this far from the start and the end


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def _db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else float("-inf")


def _frame_rms_db(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """RMS per channel over consecutive 10 ms frames, in dBFS: shape ``(channels, frames)``, and the hop."""
    hop = max(1, round(_FRAME_S * sample_rate))
    n = audio.shape[-1] // hop
    if n == 0:
        return np.full((audio.shape[0], 1), -math.inf), hop
    frames = audio[:, : n * hop].reshape(audio.shape[0], n, hop)
    ms = np.mean(frames * frames, axis=-1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(ms), hop


def _all_true_runs(ok: np.ndarray, length: int) -> np.ndarray:
    """Indices ``i`` where ``ok[i : i + length]`` is all True."""
    if length <= 0:
        return np.flatnonzero(ok)
    if ok.size < length:
        return np.empty(0, dtype=int)
    run = np.convolve(ok.astype(np.int32), np.ones(length, dtype=np.int32), mode="valid")
    return np.flatnonzero(run == length)


def _inner_range(n: int, sample_rate: int, span: int = 0) -> tuple[int, int]:
    """First and last allowed start sample for an event of ``span`` samples, away from the edges."""
    edge = int(_EDGE_S * sample_rate)
    if n - span - 2 * edge < sample_rate // 10:  # very short audio: keep 10 % margins instead
        edge = n // 10
    return edge, max(edge, n - edge - span)


def _pick_start(rng: np.random.Generator, env_ok: np.ndarray, hop: int, n: int, sample_rate: int,
                span: int, *, covered: int | None = None) -> int | None:
    """A start sample for an event of ``span`` samples, drawn uniformly among positions whose frames are all
    ``env_ok`` over ``covered`` samples (default: the span)."""
    lo, hi = _inner_range(n, sample_rate, span)
    need = (span if covered is None else covered) // hop + 2
    starts = _all_true_runs(env_ok, need) * hop
    starts = starts[(starts >= lo) & (starts <= hi)]
    if starts.size == 0:
        return None
    return int(starts[rng.integers(starts.size)] + rng.integers(hop))


def _channel(rng: np.random.Generator, p_all: float = 0.5) -> int:
    return -1 if rng.random() < p_all else int(rng.integers(2))


def _chans(channel: int, channels: int) -> list[int]:
    return list(range(channels)) if channel < 0 else [channel]


def _ramp(n_ramp: int) -> np.ndarray:
    """Raised-cosine ramp from 0 to 1 over ``n_ramp`` samples (excluding both end points)."""
    if n_ramp <= 0:
        return np.empty(0)
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_ramp) + 0.5) / n_ramp)


#: Appended to a truth's ``detail`` when no drawn position met the planter's audibility rule and the best one
#: tried was planted anyway: the benchmark scores it like any other, and reports such misses apart.
UNDER_RULE = "under the audibility rule"


def _marked(detail: str, met: bool, tries: int) -> str:
    """``detail``, marked as planted under the audibility rule (best of ``tries`` positions) unless ``met``."""
    return detail if met else f"{detail}; {UNDER_RULE} (best of {tries} positions)"


def _window(length: int, n_ramp: int) -> np.ndarray:
    """1 inside, raised-cosine ramps of ``n_ramp`` samples at both ends, inside the span."""
    n_ramp = min(n_ramp, length // 2)
    w = np.ones(length)
    if n_ramp:
        r = _ramp(n_ramp)
        w[:n_ramp] = r
        w[length - n_ramp:] = r[::-1]
    return w


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pink (1/f power) noise by shaping white noise in the frequency domain; zero mean, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x * x)) or 1.0)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    den = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return float(np.dot(a, b)) / den if den > 0 else math.nan


@lru_cache(maxsize=16)
def _lowpass_sos(sample_rate: int, corner_hz: float) -> np.ndarray:
    return scipy.signal.butter(4, corner_hz, btype="lowpass", fs=sample_rate, output="sos")


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP with the meter the QC audit uses (:class:`kernels.truepeak.TruePeakMeter`)."""
    from kernels.truepeak import TruePeakMeter  # noqa: PLC0415

    meter = TruePeakMeter(sample_rate, audio.shape[0])
    meter.process(np.ascontiguousarray(audio))
    return meter.result().true_peak_dbtp


def _tpdf_quantise(audio: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Round to ``bits`` with TPDF dither (two uniform +/- 0.5 LSB values); exact zeros stay exact zeros."""
    scale = float(2 ** (bits - 1))
    dither = rng.uniform(-0.5, 0.5, audio.shape) + rng.uniform(-0.5, 0.5, audio.shape)
    q = np.round(audio * scale + np.where(audio == 0.0, 0.0, dither))
    return np.clip(q, -scale, scale - 1.0) / scale


def _loud_level_db(env_db: np.ndarray) -> float:
    """The track's loud level: 90th percentile of the audible 10 ms frames (max over channels)."""
    level = env_db.max(axis=0)
    level = level[np.isfinite(level) & (level > -80)]
    return float(np.percentile(level, 90)) if level.size else -80.0


# ----------------------------------------------------------------------------------------------------------------
# Local defects


def _roughness(x: np.ndarray, p: int, width: int, sample_rate: int) -> float:
    """RMS second difference of ``x`` (one channel) over ~3 ms each side of ``[p, p + width)``, excluding it."""
    w = max(32, int(0.003 * sample_rate))
    left = x[max(0, p - w):p]
    right = x[p + width:p + width + w]
    d2 = np.concatenate([np.diff(left, n=2), np.diff(right, n=2)])
    return float(np.sqrt(np.mean(d2 * d2))) if d2.size else 0.0


def plant_click(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """1-5 samples with +/-(0.05..0.5) added, in one channel or both, anywhere the music is not digital silence.

    Audible means: the click's edges (second difference about the click's amplitude) are at least 4 times the
    RMS second difference of the music around it (in the quieter of the clicked channels), so a small click is
    not placed inside a loud, bright passage that would mask it. Up to 100 positions are tried; failing that,
    the least masked one.
    """
    y = np.array(audio, dtype=np.float64, copy=True)
    n = y.shape[1]
    env, hop = _frame_rms_db(y, sample_rate)
    width = int(rng.integers(1, 6))
    amp = float(rng.uniform(0.05, 0.5))
    channel = _channel(rng)
    chans = _chans(channel, y.shape[0])
    nonsilent = env[chans].min(axis=0) > -80.0
    best: tuple[float, int] | None = None
    for _ in range(100):
        p = _pick_start(rng, nonsilent, hop, n, sample_rate, width)
        if p is None:
            p = int(rng.integers(*_inner_range(n, sample_rate, width)))
        rough = min(_roughness(y[c], p, width, sample_rate) for c in chans)
        score = amp / (4.0 * rough) if rough > 0 else math.inf
        if best is None or score > best[0]:
            best = (score, p)
        if score >= 1.0:
            break
    met, p = best[0] >= 1.0, best[1]
    seg = y[chans, p:p + width]
    sign = 1.0 if rng.random() < 0.5 else -1.0
    # Keep the sum below 0.98: a click that overflowed full scale would also plant clipping at the write.
    if np.max(np.abs(seg + sign * amp)) > 0.98:
        sign = -sign
    if np.max(np.abs(seg + sign * amp)) > 0.98:
        amp = max(0.05, 0.98 - float(np.max(np.abs(seg))))
    y[chans, p:p + width] += sign * amp
    return y, [Truth("click", p / sample_rate, (p + width) / sample_rate, channel, amp,
                     _marked(f"{width} sample(s) of {sign * amp:+.3f}", met, 100))]


def _splice_audibility(x: np.ndarray, p: int, q: int, sample_rate: int) -> tuple[float, float]:
    """How audible joining ``x[:, :p]`` to ``x[:, q:]`` is: (extrapolation error / local roughness, jump size).

    The error is the second difference across the joint; the roughness is the RMS second difference of the
    ~6 ms of music on both sides. A ratio of a few means the joint stands out of the waveform (a tick).
    """
    w = max(32, int(0.003 * sample_rate))
    left = x[:, max(0, p - w):p]
    right = x[:, q:q + w]
    if left.shape[1] < 3 or right.shape[1] < 3:
        return 0.0, 0.0
    joined = np.concatenate([left, right], axis=1)
    d2 = np.diff(joined, n=2, axis=1)
    k = left.shape[1] - 2  # d2[:, k] and d2[:, k + 1] straddle the joint
    err = np.max(np.abs(d2[:, k:k + 2]), axis=1)
    mask = np.ones(d2.shape[1], dtype=bool)
    mask[max(0, k - 2):k + 4] = False
    rough = np.sqrt(np.mean(d2[:, mask] ** 2, axis=1)) + 1e-9
    jump = np.abs(joined[:, left.shape[1]] - joined[:, left.shape[1] - 1])
    best = int(np.argmax(err / rough))
    return float(err[best] / rough[best]), float(jump[best])


def plant_discontinuity(audio: np.ndarray, sample_rate: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """A splice: delete 20-2000 samples, repeat 20-2000 samples, or jump 0.05-2 s ahead, at a point in the music.

    Audible means: the music is at least -40 dBFS (10 ms RMS) around the joint, the second difference across
    the joint is at least 4 times the local RMS second difference and the step at least 0.005 (-46 dBFS). Up
    to 200 positions are tried; failing that, the most audible one is used.
    """
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    env, hop = _frame_rms_db(x, sample_rate)
    loud = env.max(axis=0) > -40.0
    variant = ("delete", "repeat", "jump")[int(rng.integers(3))]
    best: tuple[float, int, int, float] | None = None
    for _ in range(200):
        length = int(rng.integers(20, 2001)) if variant != "jump" else round(rng.uniform(0.05, 2.0) * sample_rate)
        span = length if variant != "repeat" else 0
        # Loud just before and after the joint; what lies between the two ends of a long jump does not matter.
        p = _pick_start(rng, loud, hop, n, sample_rate, span + hop, covered=hop)
        if p is None:
            p = int(rng.integers(*_inner_range(n, sample_rate, span)))
        if variant == "repeat":
            p = max(p, length + 1)
            q = p - length
        else:
            q = p + length
        ratio, jump = _splice_audibility(x, p, q, sample_rate)
        score = min(ratio / 4.0, jump / 0.005)
        if best is None or score > best[0]:
            best = (score, p, q, jump)
        if score >= 1.0:
            break
    score, p, q, jump = best
    y = np.concatenate([x[:, :p], x[:, q:]], axis=1)
    detail = f"{variant} {abs(q - p)} samples" + (f" ({abs(q - p) / sample_rate:.3f} s)" if variant == "jump" else "")
    return y, [Truth("discontinuity", p / sample_rate, p / sample_rate, -1, jump, _marked(detail, score >= 1.0, 200))]


def plant_dropout(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """5-200 ms of zeros (or -100 dBFS noise) in one channel or all, where the music is not already quiet."""
    y = np.array(audio, dtype=np.float64, copy=True)
    n = y.shape[1]
    env, hop = _frame_rms_db(y, sample_rate)
    length = round(rng.uniform(0.005, 0.2) * sample_rate)
    channel = _channel(rng, p_all=0.6)
    chans = _chans(channel, y.shape[0])
    guard = int(0.02 * sample_rate)
    p = None
    for floor_db in (-45.0, -55.0, -65.0):
        start = _pick_start(rng, env[chans].min(axis=0) > floor_db, hop, n, sample_rate, length + 2 * guard)
        if start is not None:
            p = start + guard
            break
    if p is None:
        p = int(rng.integers(*_inner_range(n, sample_rate, length)))
    zeros = rng.random() < 0.7
    if zeros:
        y[chans, p:p + length] = 0.0
    else:
        y[chans, p:p + length] = 1e-5 * rng.standard_normal((len(chans), length))
    return y, [Truth("dropout", p / sample_rate, (p + length) / sample_rate, channel, length / sample_rate,
                     "exact zeros" if zeros else "noise at -100 dBFS")]


def plant_clipping(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """A section (or the whole track) driven 3-12 dB over full scale, hard-clipped, the track then turned down.

    The truth span runs from the first clipped sample to the last (for a whole-track clipping too).
    """
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    over_db = float(rng.uniform(3.0, 12.0))
    post_db = 0.0 if rng.random() < 1 / 3 else float(rng.uniform(-6.0, 0.0))
    peak = float(np.max(np.abs(x))) or 1.0
    whole = rng.random() < 0.2
    if whole:
        s, e = 0, n
        gain = np.full(n, 10.0 ** (over_db / 20.0) / peak)
        local_peak = peak
    else:
        length = round(min(rng.uniform(0.3, 5.0), 0.4 * n / sample_rate) * sample_rate)
        env, hop = _frame_rms_db(x, sample_rate)
        # Loud sections only (within 20 dB of the loud level), so that the drive is that of a hot master and
        # not a quiet passage pushed up 40 dB.
        s = _pick_start(rng, env.max(axis=0) > _loud_level_db(env) - 20.0, hop, n, sample_rate, length)
        if s is None:
            s = int(rng.integers(*_inner_range(n, sample_rate, length)))
        e = min(n, s + length)
        local_peak = float(np.max(np.abs(x[:, s:e]))) or peak
        g = 10.0 ** (over_db / 20.0) / local_peak
        gain = np.ones(n)
        gain[s:e] = 1.0 + (g - 1.0) * _window(e - s, int(0.01 * sample_rate))
    y = x * gain
    over = np.flatnonzero(np.any(np.abs(y[:, s:e]) >= 1.0, axis=0))
    clipped = int(np.count_nonzero(np.abs(y[:, s:e]) >= 1.0))
    y = np.clip(y, -1.0, 1.0) * 10.0 ** (post_db / 20.0)
    span = "whole track" if whole else f"{(e - s) / sample_rate:.2f} s section"
    # The defect is where the waveform is flat-topped: from the first clipped sample to the last, not the
    # driven section (whose quiet start may hold no clipped sample at all).
    first, last = (s + int(over[0]), s + int(over[-1]) + 1) if over.size else (s, e)
    return y, [Truth("clipping", first / sample_rate, last / sample_rate, -1, float(clipped),
                     f"{span} driven {over_db:.1f} dB over full scale, then {post_db:+.1f} dB")]


def plant_noise_burst(audio: np.ndarray, sample_rate: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """10-300 ms of white or pink noise at 0.03-0.3 RMS with 1 ms ramps, added to one channel or both.

    Audible means: not buried in the music under it. The burst's RMS is at least the music's RMS over the same
    span minus 12 dB for white noise (its energy sits in the top octaves, where music is weak) or minus 6 dB for
    pink noise (spread like the music's). Up to 200 positions are tried; failing that, the least masked one.
    """
    y = np.array(audio, dtype=np.float64, copy=True)
    n = y.shape[1]
    env, hop = _frame_rms_db(y, sample_rate)
    length = round(rng.uniform(0.01, 0.3) * sample_rate)
    rms = float(math.exp(rng.uniform(math.log(0.03), math.log(0.3))))
    pink = rng.random() < 0.5
    channel = _channel(rng)
    chans = _chans(channel, y.shape[0])
    margin_db = 6.0 if pink else 12.0
    nonsilent = env.max(axis=0) > -80.0
    best: tuple[float, int] | None = None
    for _ in range(200):
        p = _pick_start(rng, nonsilent, hop, n, sample_rate, length)
        if p is None:
            p = int(rng.integers(*_inner_range(n, sample_rate, length)))
        seg = y[chans, p:p + length]
        music_db = _db(float(np.sqrt(np.mean(seg * seg)))) if seg.size else -math.inf
        score = _db(rms) + margin_db - music_db
        if best is None or score > best[0]:
            best = (score, p)
        if score >= 0:
            break
    met, p = best[0] >= 0, best[1]
    length = min(length, n - p)
    w = _window(length, int(0.001 * sample_rate))
    for c in chans:
        noise = _pink(rng, length) if pink else rng.standard_normal(length)
        noise *= rms / (np.sqrt(np.mean(noise * noise)) or 1.0)
        y[c, p:p + length] += noise * w
    return y, [Truth("noise_burst", p / sample_rate, (p + length) / sample_rate, channel, rms,
                     _marked(f"{'pink' if pink else 'white'} noise, {_db(rms):.1f} dBFS RMS", met, 200))]


def plant_hum(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Mains hum (50 or 60 Hz and harmonics 2-6) at -50..-30 dBFS, whole track or a section of 5 s or more."""
    y = np.array(audio, dtype=np.float64, copy=True)
    n = y.shape[1]
    dur = n / sample_rate
    f0 = 50.0 if rng.random() < 0.5 else 60.0
    level_db = float(rng.uniform(-50.0, -30.0))
    decay = float(rng.uniform(0.35, 0.7))
    whole = rng.random() < 0.5 or dur < 12.0
    if whole:
        s, e = 0, n
    else:
        length = round(rng.uniform(5.0, min(30.0, 0.6 * dur)) * sample_rate)
        lo, hi = _inner_range(n, sample_rate, length)
        s = int(rng.integers(lo, hi + 1))
        e = min(n, s + length)
    t = np.arange(s, e) / sample_rate
    hum = np.zeros(e - s)
    amp = 10.0 ** (level_db / 20.0)
    for k in range(1, 7):
        hum += amp * decay ** (k - 1) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    if not whole:
        hum *= _window(e - s, int(0.05 * sample_rate))
    y[:, s:e] += hum
    return y, [Truth("hum", s / sample_rate, e / sample_rate, -1, f0,
                     f"{'whole track' if whole else 'section'}, fundamental {level_db:.1f} dBFS, "
                     f"harmonics x{decay:.2f} each")]


def _negated_low(y: np.ndarray, s: int, e: int, sos: np.ndarray, margin: int, sample_rate: int) -> np.ndarray:
    """The right channel's samples ``s:e`` with their low end (the zero-phase split ``sos``) negated, 10 ms ramps."""
    n = y.shape[1]
    a, b = max(0, s - margin), min(n, e + margin)
    low = scipy.signal.sosfiltfilt(sos, y[1, a:b])[s - a:s - a + (e - s)]
    return y[1, s:e] - 2.0 * _window(e - s, int(0.01 * sample_rate)) * low



def plant_out_of_phase(audio: np.ndarray, sample_rate: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """A 2-10 s section with the right channel negated, or only its low end (< 150 Hz), with 10 ms crossfades.

    The section is chosen where negation matters: music at least -35 dBFS RMS there and a positive L/R
    correlation before (above 0.2 full band; above 0.5 with low-end RMS at least -40 dBFS for the low-end
    variant, and below -0.3 once negated: a band whose energy sits at the split's corner, where only part
    of it is negated, stays positive), and already sounding at its start: the first 0.1 s (of the low end, for
    that variant) within 10 dB of the section's RMS. (A section that began in a bass-less moment had its truth
    start hundreds of ms before the first inverted bass: nothing there is out of phase to find.) Up to 60
    positions are tried; failing that, the best one is used.
    """
    y = np.array(audio, dtype=np.float64, copy=True)
    n = y.shape[1]
    low_only = rng.random() < 0.5
    # At most 30 % of the track: a section, not most of the song (which would be a polarity inversion).
    length = round(min(rng.uniform(2.0, 10.0), 0.3 * n / sample_rate) * sample_rate)
    lo, hi = _inner_range(n, sample_rate, length)
    sos = _lowpass_sos(sample_rate, 150.0)
    margin = int(0.2 * sample_rate)
    best = None
    for _ in range(60):
        s = int(rng.integers(lo, hi + 1))
        e = min(n, s + length)
        sec = y[:, s:e]
        negated = None
        head = int(0.1 * sample_rate)
        if low_only:
            band = scipy.signal.sosfiltfilt(sos, sec, axis=-1)
            level = _db(float(np.sqrt(np.mean(band * band))))
            start = _db(float(np.sqrt(np.mean(band[:, :head] ** 2))))
            corr = _correlation(band[0], band[1])
            score = min(corr - 0.5, (level + 40.0) / 20.0, (start - level + 10.0) / 10.0)
            if score > 0:
                # What the split negates must be what makes the band correlate: a band whose energy sits near
                # the corner (the bass stopped, a 150-200 Hz part goes on) stays positive when negated.
                negated = _negated_low(y, s, e, sos, margin, sample_rate)
                after = scipy.signal.sosfiltfilt(sos, np.stack([y[0, s:e], negated]), axis=-1)
                score = min(score, -0.3 - _correlation(after[0], after[1]))
        else:
            level = _db(float(np.sqrt(np.mean(sec * sec))))
            start = _db(float(np.sqrt(np.mean(sec[:, :head] ** 2))))
            corr = _correlation(sec[0], sec[1])
            score = min(corr - 0.2, (level + 35.0) / 20.0, (start - level + 10.0) / 10.0)
        if not math.isfinite(score):
            score = -math.inf
        if best is None or score > best[0]:
            best = (score, s, e, negated)
        if score > 0:
            break
    score, s, e, negated = best
    if low_only:
        # the right channel's negated low end, as the rule computed it (only the fallback has not)
        y[1, s:e] = negated if negated is not None else _negated_low(y, s, e, sos, margin, sample_rate)
        band = scipy.signal.sosfiltfilt(sos, y[:, s:e], axis=-1)
        corr = _correlation(band[0], band[1])
    else:
        y[1, s:e] *= 1.0 - 2.0 * _window(e - s, int(0.01 * sample_rate))
        corr = _correlation(y[0, s:e], y[1, s:e])
    return y, [Truth("out_of_phase", s / sample_rate, e / sample_rate, -1, corr,
                     _marked("low end (< 150 Hz) negated" if low_only else "right channel negated", score > 0, 60))]


# ----------------------------------------------------------------------------------------------------------------
# Whole-track defects


def plant_polarity_inverted(audio: np.ndarray, sample_rate: int,
                            rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """The right channel negated for the whole track."""
    y = np.array(audio, dtype=np.float64, copy=True)
    y[1] = -y[1]
    corr = _correlation(y[0], y[1])
    return y, [Truth("polarity_inverted", 0.0, y.shape[1] / sample_rate, 1, corr, f"correlation {corr:+.2f}")]


def plant_false_stereo(audio: np.ndarray, sample_rate: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Both channels = the mid, exactly or with white noise 70 dB below the mid's RMS on the right."""
    x = np.asarray(audio, dtype=np.float64)
    mid = 0.5 * (x[0] + x[1])
    y = np.stack([mid, mid.copy()])
    exact = rng.random() < 0.5
    if exact:
        value = -math.inf
    else:
        rms = float(np.sqrt(np.mean(mid * mid)))
        y[1] += rms * 10.0 ** (-70.0 / 20.0) * rng.standard_normal(mid.size)
        side = 0.5 * (y[0] - y[1])
        value = _db(float(np.sqrt(np.mean(side * side)))) - _db(rms)
    return y, [Truth("false_stereo", 0.0, y.shape[1] / sample_rate, -1, value,
                     "exact copy" if exact else "copy plus noise 70 dB down")]


def _bandwidth_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Highest frequency where the music's spectrum is within 75 dB of its 1-4 kHz level (Welch, 500 Hz smoothing)."""
    mid = 0.5 * (audio[0] + audio[1])
    f, psd = scipy.signal.welch(mid, fs=sample_rate, nperseg=4096)
    width = max(1, round(500.0 / (f[1] - f[0])))
    smooth = np.convolve(psd, np.ones(width) / width, mode="same")
    ref = float(np.median(smooth[(f >= 1000) & (f <= 4000)])) if np.any(smooth > 0) else 0.0
    if ref <= 0:
        return 0.0
    above = np.flatnonzero(smooth >= ref * 10.0 ** (-75.0 / 10.0))
    return float(f[above[-1]]) if above.size else 0.0


@lru_cache(maxsize=32)
def _brickwall(sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Linear-phase Kaiser low-pass: pass band to ``cutoff - 400 Hz``, 100 dB down from ``cutoff``."""
    transition = 400.0
    numtaps, beta = scipy.signal.kaiserord(100.0, transition / (0.5 * sample_rate))
    numtaps |= 1  # odd: a whole-sample delay, removed by mode="same"
    return scipy.signal.firwin(numtaps, cutoff_hz - 0.5 * transition, window=("kaiser", beta), fs=sample_rate)


def _apply_fir(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    return scipy.signal.oaconvolve(x, taps[None, :], mode="same", axes=-1)


def plant_lossy_bandwidth(audio: np.ndarray, sample_rate: int,
                          rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """A brick-wall low-pass typical of a lossy source; at 88.2 kHz and above, an upsampled 44.1 kHz lossy source.

    Cutoffs are drawn among those at least 1 kHz below the music's own bandwidth (so the cliff is visible);
    when none is, the lowest of the list is used.
    """
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    bandwidth = _bandwidth_hz(x, sample_rate)
    if sample_rate >= 88200:
        options = [c for c in (16000.0, 17000.0, 18000.0, 19000.0, 20000.0) if c <= bandwidth - 1000.0] or [16000.0]
        cutoff = options[int(rng.integers(len(options)))]
        g = math.gcd(sample_rate, 44100)
        up, down = 44100 // g, sample_rate // g
        source = scipy.signal.resample_poly(x, up, down, axis=-1, window=("kaiser", 10.0))
        source = _apply_fir(source, _brickwall(44100, cutoff))
        y = scipy.signal.resample_poly(source, down, up, axis=-1, window=("kaiser", 10.0))
        # A polyphase upsampler's transition band lets images of the top octave through just above 22.05 kHz;
        # the same brick wall at the new rate removes them (what an ideal resampler would give).
        y = _apply_fir(y, _brickwall(sample_rate, cutoff))
        y = y[:, :n] if y.shape[1] >= n else np.pad(y, ((0, 0), (0, n - y.shape[1])))
        detail = f"44.1 kHz source low-passed at {cutoff / 1000:g} kHz, upsampled to {sample_rate / 1000:g} kHz"
    else:
        options = [c for c in (11000.0, 13000.0, 15000.0, 16000.0, 17000.0, 19000.0)
                   if c <= min(bandwidth - 1000.0, 0.45 * sample_rate)] or [11000.0]
        cutoff = options[int(rng.integers(len(options)))]
        y = _apply_fir(x, _brickwall(sample_rate, cutoff))
        detail = f"FIR brick wall at {cutoff / 1000:g} kHz"
    return y, [Truth("lossy_bandwidth", 0.0, n / sample_rate, -1, cutoff, detail)]


def plant_bit_depth(audio: np.ndarray, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Quantised to 16 or 12 bits with TPDF dither (exact zeros kept); store the result in a 24-bit file."""
    bits = 16 if rng.random() < 2 / 3 else 12
    y = _tpdf_quantise(np.asarray(audio, dtype=np.float64), bits, rng)
    return y, [Truth("bit_depth", 0.0, y.shape[1] / sample_rate, -1, float(bits), f"{bits}-bit audio")]


def plant_dc_offset(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """A constant 0.02-0.05 added to one channel or both (music turned down first if the sum would pass 0.99)."""
    y = np.array(audio, dtype=np.float64, copy=True)
    offset = float(rng.uniform(0.02, 0.05)) * (1.0 if rng.random() < 0.5 else -1.0)
    channel = _channel(rng)
    peak = float(np.max(np.abs(y)))
    if peak + abs(offset) > 0.99:
        y *= (0.99 - abs(offset)) / peak
    y[_chans(channel, y.shape[0])] += offset
    return y, [Truth("dc_offset", 0.0, y.shape[1] / sample_rate, channel, offset, f"offset {offset:+.4f}")]


def plant_true_peak_over(audio: np.ndarray, sample_rate: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """The track scaled to a sample peak of -0.6..-0.05 dBFS: true peak above a -1 dBTP ceiling."""
    x = np.asarray(audio, dtype=np.float64)
    target_db = float(rng.uniform(-0.6, -0.05))
    y = x * (10.0 ** (target_db / 20.0) / (float(np.max(np.abs(x))) or 1.0))
    tp = true_peak_dbtp(y, sample_rate)
    return y, [Truth("true_peak_over", 0.0, y.shape[1] / sample_rate, -1, tp,
                     f"sample peak {target_db:.2f} dBFS, true peak {tp:+.2f} dBTP")]


# ----------------------------------------------------------------------------------------------------------------
# Edge defects


def _cut_candidates(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int, float]:
    env, hop = _frame_rms_db(x, sample_rate)
    level = env.max(axis=0)
    threshold = max(-30.0, _loud_level_db(env) - 15.0)
    return level > threshold, hop, threshold


def plant_start_cut(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Remove the first 1 s .. 40 % so the file starts inside loud music (20 ms RMS >= -30 dBFS, loud level - 15 dB)."""
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    loud, hop, _ = _cut_candidates(x, sample_rate)
    ok = np.flatnonzero(np.convolve(loud.astype(int), np.ones(2, dtype=int), mode="valid") == 2) * hop
    lo, hi = int(_EDGE_S * sample_rate), int(0.4 * n)
    ok = ok[(ok >= lo) & (ok <= hi)]
    if ok.size == 0:  # no loud start point: take the loudest frame in range
        env, _ = _frame_rms_db(x, sample_rate)
        level = env.max(axis=0)
        f0, f1 = lo // hop, max(lo // hop + 1, hi // hop)
        c = (f0 + int(np.argmax(level[f0:f1]))) * hop
    else:
        c = int(ok[rng.integers(ok.size)] + rng.integers(hop))
    y = np.ascontiguousarray(x[:, c:])
    head = y[:, : int(0.02 * sample_rate)]
    level_db = _db(float(np.sqrt(np.mean(head * head))))
    return y, [Truth("start_cut", 0.0, 0.0, -1, level_db, f"first {c / sample_rate:.2f} s removed")]


def plant_end_cut(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Remove the last 1 s .. 40 % so the file ends inside loud music."""
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    loud, hop, _ = _cut_candidates(x, sample_rate)
    # An end point e is good when the two frames before it are loud.
    ends = (np.flatnonzero(np.convolve(loud.astype(int), np.ones(2, dtype=int), mode="valid") == 2) + 2) * hop
    lo, hi = int(0.6 * n), n - int(_EDGE_S * sample_rate)
    ends = ends[(ends >= lo) & (ends <= hi)]
    if ends.size == 0:
        env, _ = _frame_rms_db(x, sample_rate)
        level = env.max(axis=0)
        f0, f1 = lo // hop, max(lo // hop + 1, hi // hop)
        e = (f0 + int(np.argmax(level[f0:f1])) + 1) * hop
    else:
        e = int(ends[rng.integers(ends.size)] - rng.integers(hop))
    y = np.ascontiguousarray(x[:, :e])
    tail = y[:, -int(0.02 * sample_rate):]
    level_db = _db(float(np.sqrt(np.mean(tail * tail))))
    end_s = e / sample_rate
    return y, [Truth("end_cut", end_s, end_s, -1, level_db, f"last {(n - e) / sample_rate:.2f} s removed")]


def plant_head_silence(audio: np.ndarray, sample_rate: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """2.5-8 s of exact zeros before the music."""
    pad = round(rng.uniform(2.5, 8.0) * sample_rate)
    y = np.concatenate([np.zeros((audio.shape[0], pad)), audio], axis=1)
    return y, [Truth("head_silence", 0.0, pad / sample_rate, -1, pad / sample_rate, "exact zeros")]


def plant_tail_silence(audio: np.ndarray, sample_rate: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """2.5-8 s of exact zeros after the music."""
    n = audio.shape[1]
    pad = round(rng.uniform(2.5, 8.0) * sample_rate)
    y = np.concatenate([audio, np.zeros((audio.shape[0], pad))], axis=1)
    return y, [Truth("tail_silence", n / sample_rate, (n + pad) / sample_rate, -1, pad / sample_rate,
                     "exact zeros")]


Planter = Callable[[np.ndarray, int, np.random.Generator], tuple[np.ndarray, list[Truth]]]

#: Every kind with its planter, in the order the corpus applies them to one track: edits that change the length
#: first, then the source's and the master's faults, clicks, the lossy round trip (so a click in a lossy file is
#: band-limited like the rest of it), the transport's faults (after it, so a dropout stays exact zeros), levels,
#: padding, and re-quantisation last.
PLANTERS: dict[str, Planter] = {
    "start_cut": plant_start_cut,
    "end_cut": plant_end_cut,
    "discontinuity": plant_discontinuity,
    "false_stereo": plant_false_stereo,
    "polarity_inverted": plant_polarity_inverted,
    "out_of_phase": plant_out_of_phase,
    "hum": plant_hum,
    "clipping": plant_clipping,
    "click": plant_click,
    "lossy_bandwidth": plant_lossy_bandwidth,
    "dropout": plant_dropout,
    "noise_burst": plant_noise_burst,
    "true_peak_over": plant_true_peak_over,
    "dc_offset": plant_dc_offset,
    "head_silence": plant_head_silence,
    "tail_silence": plant_tail_silence,
    "bit_depth": plant_bit_depth,
}

#: The kinds the benchmark plants (in application order).
DEFECT_KINDS: tuple[str, ...] = tuple(PLANTERS)


def plant(kind: str, audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Truth]]:
    """Plant one defect of ``kind`` (see :data:`PLANTERS`).

    Parameters
    ----------
    kind : str
        One of :data:`DEFECT_KINDS`.
    audio : numpy.ndarray
        float64, shape ``(2, n)``; not modified.
    sample_rate : int
        In Hz.
    rng : numpy.random.Generator
        Source of every random choice (position, size, channel, variant).

    Returns
    -------
    (numpy.ndarray, list of Truth)
        The new audio (its length may differ for the edit kinds) and where the defect is in it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> music = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * 48000) / 48000) * np.ones((2, 1))
    >>> y, [truth] = plant("dropout", music, 48000, rng)
    >>> truth.kind, bool(np.all(y[:, round(truth.start_s * 48000)] == 0) or truth.channel >= 0)
    ('dropout', True)
    """
    try:
        planter = PLANTERS[kind]
    except KeyError:
        raise ValueError(f"unknown defect kind {kind!r}; choose one of {', '.join(DEFECT_KINDS)}") from None
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise ValueError(f"audio must be stereo shaped (2, n); got shape {audio.shape}")
    return planter(audio, int(sample_rate), rng)
