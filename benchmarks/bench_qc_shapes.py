"""Defect shapes the accuracy corpus does not plant: does the QC audit still find them?

    python benchmarks/bench_qc_shapes.py CORPUS [--per-shape 8] [--shapes a,b,...]

``CORPUS`` is a folder kept by ``farm bench qc-accuracy --out CORPUS`` (its ``truth.parquet`` names the files
with planted defects; only the clean ones, 20 s or longer, are used). Each shape below is planted into
``--per-shape`` of those songs at a random loud moment (seeded by shape and song), written as WAV at the song's own
sample format (16-bit songs stay 16-bit, so that the audit does not also report 16-bit audio padded to 24), and
audited with ``farm.qc.audit_track``; a shape counts as found when the audit reports its kind within 50 ms of
the planted start (anywhere in the file for whole-track hum). The corpus's own planter makes rectangular
clicks, exact or -100 dBFS dropouts, white bursts, splices chosen to be audible and hum with six decaying
harmonics; these shapes are the ones a user's material may bring instead. Prints found/planted per shape and
every other finding on the missed files. With ``--keep DIR`` the planted files stay in ``DIR`` (named by shape,
index and song, with the planted start in seconds), for tracing a miss with the detectors alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.bench.defects import _frame_rms_db, _pick_start

TOLERANCE_S = 0.05
Shape = Callable[[np.ndarray, int, np.random.Generator], tuple[np.ndarray, str, int] | None]


def _loud_start(x: np.ndarray, sr: int, rng: np.random.Generator, span: int, floor_db: float = -30.0) -> int:
    """A start where every 10 ms frame over ``span`` samples is ``floor_db`` RMS or more in the quietest channel
    (the accuracy planter's own position picker), else the middle of the song."""
    env, hop = _frame_rms_db(x, sr)
    p = _pick_start(rng, env.min(axis=0) >= floor_db, hop, x.shape[1], sr, span)
    return (x.shape[1] - span) // 2 if p is None else p


def _noise(rng, channels: int, n: int, rms_dbfs: float) -> np.ndarray:
    return 10 ** (rms_dbfs / 20) * rng.standard_normal((channels, n))


def dropout_to_hiss(x, sr, rng):
    """40 ms of every channel replaced by -72 dBFS white noise (near silence, not zeros)."""
    n = int(0.04 * sr)
    p = _loud_start(x, sr, rng, n)
    x[:, p : p + n] = _noise(rng, x.shape[0], n, -72.0)
    return x, "dropout", p


def dropout_with_1ms_ramps(x, sr, rng):
    """40 ms of zeros entered and left through 1 ms linear ramps (a gap an editor smoothed)."""
    n, r = int(0.04 * sr), int(0.001 * sr)
    p = _loud_start(x, sr, rng, n + 2 * r)
    gain = np.concatenate([np.linspace(1, 0, r), np.zeros(n), np.linspace(0, 1, r)])
    x[:, p : p + n + 2 * r] *= gain
    return x, "dropout", p


def dropout_one_channel(x, sr, rng):
    """2048 samples of zeros in the left channel only (a lost buffer)."""
    p = _loud_start(x, sr, rng, 2048)
    x[0, p : p + 2048] = 0.0
    return x, "dropout", p


def click_single_sample(x, sr, rng):
    """One sample knocked by +-0.3 in one channel."""
    p = _loud_start(x, sr, rng, 1)
    x[int(rng.integers(x.shape[0])), p] += float(rng.choice([-1.0, 1.0])) * 0.3
    return x, "click", p


def click_doublet(x, sr, rng):
    """+0.25 then -0.25 on two consecutive samples of one channel."""
    p = _loud_start(x, sr, rng, 2)
    c = int(rng.integers(x.shape[0]))
    x[c, p] += 0.25
    x[c, p + 1] -= 0.25
    return x, "click", p


def click_in_a_quiet_passage(x, sr, rng):
    """A one-sample tick of 0.03 (-30 dBFS) on both channels where the music is at -45..-30 dBFS."""
    power = np.convolve(np.mean(x * x, axis=0), np.ones(sr // 20) / (sr // 20), mode="same")
    ok = np.flatnonzero((power > 10 ** (-90 / 10)) & (power < 10 ** (-60 / 10)))  # RMS -45..-30 dBFS
    ok = ok[(ok > sr) & (ok < x.shape[1] - sr)]
    if not ok.size:
        return None
    p = int(rng.choice(ok))
    x[:, p] += 0.03
    return x, "click", p


def click_damped_pop(x, sr, rng):
    """A pop: 0.3 x a 4 kHz tone decaying with a 4-sample time constant (about 15 samples long), both channels."""
    k = np.arange(40)
    p = _loud_start(x, sr, rng, 40)
    x[:, p : p + 40] += 0.3 * np.exp(-k / 4.0) * np.sin(2 * np.pi * 4000 * k / sr + 0.5)
    return x, "click", p


def _smooth_click(name: str, n: int, pulse: Callable[[int], np.ndarray], doc: str) -> Shape:
    def plant(x, sr, rng):
        m = round(n * sr / 44100)  # the same duration at every rate
        p = _loud_start(x, sr, rng, m)
        chans = [int(rng.integers(x.shape[0]))] if rng.random() < 0.5 else list(range(x.shape[0]))
        for c in chans:
            x[c, p : p + m] += float(rng.uniform(0.1, 0.4)) * float(rng.choice([-1.0, 1.0])) * pulse(m)
        return x, "click", p

    plant.__name__ = name
    plant.__doc__ = doc + " (0.1-0.4, either sign, one channel or both, as long at every rate)"
    return plant


def _hann(m: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(m) + 1) / (m + 1))


def _glitch(ms: float) -> Shape:
    def plant(x, sr, rng):
        n = max(1, round(ms / 1000 * sr))
        p = _loud_start(x, sr, rng, n)
        x[:, p : p + n] += _noise(rng, x.shape[0], n, -15.0)
        return x, "noise_burst", p

    plant.__doc__ = f"A {ms:g} ms glitch: white noise at -15 dBFS RMS added to both channels at a loud moment."
    return plant


def splice_to_another_place(x, sr, rng):
    """The song cut at one loud moment and continued from another one, 2-8 s later."""
    p = _loud_start(x, sr, rng, 1)
    q = p + int(rng.uniform(2.0, 8.0) * sr)
    if q >= x.shape[1] - sr:
        q = p - int(rng.uniform(2.0, 8.0) * sr)
    if q < sr:
        return None
    y = np.concatenate([x[:, :p], x[:, q:]], axis=1)
    return y, "discontinuity", p


def splice_half_second_repeated(x, sr, rng):
    """Half a second played twice: the joint where the copy starts."""
    n = int(0.5 * sr)
    p = _loud_start(x, sr, rng, n)
    y = np.concatenate([x[:, : p + n], x[:, p:]], axis=1)
    return y, "discontinuity", p + n


def burst_pink(x, sr, rng):
    """50 ms of pink noise at -20 dBFS RMS on both channels."""
    n = int(0.05 * sr)
    p = _loud_start(x, sr, rng, n)
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]  # a standard pink-noise approximation
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    w = signal.lfilter(b, a, rng.standard_normal((x.shape[0], n + 2000)), axis=1)[:, 2000:]
    x[:, p : p + n] += w * 10 ** (-20 / 20) / np.sqrt(np.mean(w * w))
    return x, "noise_burst", p


def burst_short_white(x, sr, rng):
    """12 ms of white noise at -25 dBFS RMS."""
    n = int(0.012 * sr)
    p = _loud_start(x, sr, rng, n)
    x[:, p : p + n] += _noise(rng, x.shape[0], n, -25.0)
    return x, "noise_burst", p


def hum_buzz_50(x, sr, rng):
    """A whole-track 50 Hz buzz: odd harmonics 1-15 falling as 1/k, peak -38 dBFS."""
    t = np.arange(x.shape[1]) / sr
    h = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 16, 2))
    x += h * 10 ** (-38 / 20) / np.max(np.abs(h))
    return x, "hum", 0


def _hum_section(seconds: float, level_dbfs: float) -> Shape:
    def plant(x, sr, rng):
        n = int(seconds * sr)
        p = _loud_start(x, sr, rng, n)
        t = np.arange(n) / sr
        phase = rng.uniform(0, 2 * np.pi, 7)
        x[:, p : p + n] += sum(10 ** (level_dbfs / 20) * 0.5 ** (k - 1) * np.sin(2 * np.pi * 60 * k * t + phase[k])
                               for k in range(1, 7))
        return x, "hum", p
    plant.__doc__ = f"A {seconds:g} s section of 60 Hz hum (harmonics halving), fundamental {level_dbfs:g} dBFS."
    return plant


SHAPES: dict[str, Shape] = {
    "dropout_to_hiss": dropout_to_hiss,
    "dropout_with_1ms_ramps": dropout_with_1ms_ramps,
    "dropout_one_channel": dropout_one_channel,
    "click_single_sample": click_single_sample,
    "click_doublet": click_doublet,
    "click_in_a_quiet_passage": click_in_a_quiet_passage,
    "click_damped_pop": click_damped_pop,
    "splice_to_another_place": splice_to_another_place,
    "splice_half_second_repeated": splice_half_second_repeated,
    "burst_pink": burst_pink,
    "burst_short_white": burst_short_white,
    "hum_buzz_50": hum_buzz_50,
    "hum_section_12s_-34dB": _hum_section(12.0, -34.0),
    "hum_section_6s_-34dB": _hum_section(6.0, -34.0),
    "hum_section_12s_-40dB": _hum_section(12.0, -40.0),
    # added in session 16, last so that the shapes above keep their seeds
    "glitch_1ms": _glitch(1.0),
    "glitch_2ms": _glitch(2.0),
    "glitch_5ms": _glitch(5.0),
    # added in session 28: clicks that are smooth pulses, not rectangles
    "click_hann_6": _smooth_click("click_hann_6", 6, _hann, "A pop: a raised-cosine bump of 6 samples at 44.1 kHz"),
    "click_hann_10": _smooth_click("click_hann_10", 10, _hann, "A raised-cosine bump of 10 samples at 44.1 kHz"),
    "click_sine_cycle_8": _smooth_click("click_sine_cycle_8", 8, lambda m: np.sin(2 * np.pi * np.arange(m) / m),
                                        "One sine cycle over 8 samples at 44.1 kHz (a click through a high-pass)"),
    "click_decaying_1.5": _smooth_click("click_decaying_1.5", 13, lambda m: np.exp(-np.arange(m) * 13 / m / 1.5),
                                        "A spike decaying with a 1.5-sample time constant at 44.1 kHz"),
    "click_decaying_3": _smooth_click("click_decaying_3", 20, lambda m: np.exp(-np.arange(m) * 20 / m / 3.0),
                                      "A spike decaying with a 3-sample time constant at 44.1 kHz"),
}


def _clean_songs(corpus: str) -> list[str]:
    defective = {row["path"] for row in pq.read_table(os.path.join(corpus, "truth.parquet")).to_pylist()}
    songs = [row["path"] for row in pq.read_table(os.path.join(corpus, "qc_tracks.parquet")).to_pylist()]
    return [p for p in songs if p not in defective and sf.info(os.path.join(corpus, p)).duration >= 20.0]


def _one(job: tuple[str, str, int, str, str | None]) -> tuple[str, str, bool | None, list, float]:
    from farm.catalogue import discover
    from farm.qc import audit_track

    corpus, song, index, shape, keep = job
    rng = np.random.default_rng([list(SHAPES).index(shape), index])
    source = os.path.join(corpus, song)
    x, sr = sf.read(source, always_2d=True)
    subtype = "PCM_16" if sf.info(source).subtype == "PCM_16" else "PCM_24"
    planted = SHAPES[shape](np.ascontiguousarray(x.T), sr, rng)
    if planted is None:
        return shape, song, None, [], 0.0
    y, kind, start = planted
    with tempfile.TemporaryDirectory() as tmp:
        name = f"{shape}-{index:02d}-{Path(song).stem}-at-{start / sr:.4f}s.wav"
        path = os.path.join(keep or tmp, name)
        sf.write(path, np.clip(y, -1.0, 1.0).T, sr, subtype=subtype)
        report = audit_track(discover([path])[0])
    found = [(e["kind"], round(e["start_s"], 3)) for e in report.events]
    hit = any(k == kind and (abs(s - start / sr) <= TOLERANCE_S or (kind == "hum" and start == 0)) for k, s in found)
    return shape, song, hit, found, start / sr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--per-shape", type=int, default=8)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", metavar="DIR", help="keep the planted files in DIR (created if missing)")
    args = ap.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    songs = _clean_songs(args.corpus)
    if not songs:
        sys.exit(f"no clean song of 20 s or more in {args.corpus}")
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        sys.exit(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    jobs = [(args.corpus, songs[(7 * i + j) % len(songs)], i, s, args.keep) for j, s in enumerate(shapes)
            for i in range(args.per_shape)]
    tally: dict[str, list[int]] = {s: [0, 0] for s in shapes}
    misses = []
    with ProcessPoolExecutor(args.workers) as pool:
        for shape, song, hit, found, at in pool.map(_one, jobs):
            if hit is None:
                continue
            tally[shape][1] += 1
            tally[shape][0] += int(hit)
            if not hit:
                misses.append(f"  {shape}: {song} planted at {at:.3f} s; found {found}")
    for s in shapes:
        print(f"{s:30s} {tally[s][0]:3d}/{tally[s][1]:<3d}  {SHAPES[s].__doc__.splitlines()[0]}")
    if misses:
        print("missed:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
