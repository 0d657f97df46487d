"""Speed of the measurement kernels against ffmpeg's ebur128 (with true peak) on the same audio, in one run.

    python benchmarks/bench_meters.py [--seconds 180] [--rate 44100] [--limited] [--block 65536] [--repeat 3]

Synthesises stereo music-like material (1/f noise, a bass line, song-section and beat envelopes, drum-like
transients; ``--limited`` adds a loud, brick-wall-limited master, the hard case for the true-peak skip), writes
it as a 24-bit WAV, reads that WAV back, and times on one core:

- ``kernels``: K-weighting + loudness (M, S, I, LRA) + true peak + signal statistics, fed block by block
  in-process (``LoudnessMeter``, ``TruePeakMeter``, ``SignalStats``), from float64 samples in memory;
- ``ffmpeg``: ``ffmpeg -threads 1 -i F.wav -af ebur128=peak=true -f null -`` (WAV decode is a copy).

Prints x-realtime for each (best of ``--repeat``), the ratio, the time per meter, the fraction of true-peak
chunks the exact skip had to compute, and how the readings compare with ffmpeg's.
"""

from __future__ import annotations

import os

# One core, as a batch worker gets: BLAS must not spread the true-peak products over threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.ndimage  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.loudness import LoudnessMeter  # noqa: E402
from kernels.stats import SignalStats  # noqa: E402
from kernels.truepeak import TruePeakMeter  # noqa: E402


def music_like(seconds: float, sample_rate: int, *, seed: int = 0, limited: bool = False) -> np.ndarray:
    """Stereo material with the statistics that matter to meters, shape ``(2, n)``, peak -1 dBFS.

    1/f noise (partly correlated between channels) and a bass line carry the energy; song sections
    (-14..0 dB) and a 120 bpm beat envelope make the level move; noise-burst "drums" on the beats give
    sparse transients. ``limited`` drives it 12 dB into a look-ahead brick-wall limiter with a -0.3 dBFS
    ceiling, like a loud modern master: sample peaks pile up at the ceiling all through the loud sections.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    spectrum = np.fft.rfft(rng.standard_normal((3, n)), axis=-1)
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / sample_rate), 40.0))
    pink = np.fft.irfft(spectrum, n, axis=-1)
    pink /= np.std(pink, axis=-1, keepdims=True)
    mid, side_l, side_r = pink
    bed = np.stack([mid + 0.5 * side_l, mid + 0.5 * side_r]) * 0.1

    beat = 0.5  # seconds per beat at 120 bpm
    notes = 110.0 * 2 ** (rng.integers(-5, 7, size=int(seconds / (2 * beat)) + 2) / 12)
    freq = notes[(t // (2 * beat)).astype(int)]
    bass = 0.25 * np.sin(2 * np.pi * np.cumsum(freq) / sample_rate)

    section_db = rng.choice([-14.0, -8.0, -3.0, 0.0], size=int(seconds / 16) + 2)
    section = np.repeat(10 ** (section_db / 20), 16 * sample_rate)[:n]
    smooth = np.hanning(int(0.5 * sample_rate))
    section = np.convolve(section, smooth / smooth.sum(), mode="same")
    pulse = 0.6 + 0.4 * np.exp(-(t % beat) / 0.15)
    x = (bed + bass) * section * pulse

    hit_len = int(0.08 * sample_rate)
    hit_env = np.exp(-np.arange(hit_len) / (0.012 * sample_rate))
    for start in np.arange(0, seconds - 0.1, beat):
        if rng.random() < 0.8:
            i = int(start * sample_rate)
            amp = rng.uniform(0.3, 0.8) * section[i]
            # Snare/hat-like: noise with its top octave tamed (a 2-tap average), not raw white noise.
            noise = rng.standard_normal(hit_len + 1)
            burst = 0.5 * (noise[1:] + noise[:-1]) * hit_env * amp
            x[:, i : i + hit_len] += burst * np.array([[1.0], [rng.uniform(0.7, 1.0)]])

    x /= np.max(np.abs(x))
    if limited:
        # Gain = ceiling / envelope, where the envelope is a 10 ms running maximum smoothed over 5 ms:
        # every smoothed value around a sample covers that sample, so nothing exceeds the ceiling, and
        # the gain moves over milliseconds rather than clipping sample by sample.
        ceiling = 10 ** (-0.3 / 20)
        width = int(0.005 * sample_rate)
        # Mastered loud, sections end up within a few dB of each other (LRA of a few LU).
        driven = x / section**0.7 * 10 ** (12 / 20)
        envelope = scipy.ndimage.maximum_filter1d(np.max(np.abs(driven), axis=0), 2 * width + 1)
        envelope = scipy.ndimage.uniform_filter1d(envelope, width)
        x = driven * np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    else:
        x *= 10 ** (-1.0 / 20)
    return x


def measure(x: np.ndarray, sample_rate: int, *, block: int = 65536) -> dict:
    """Run the three meters block by block; return readings and seconds spent in each."""
    channels = x.shape[0]
    loudness = LoudnessMeter(sample_rate, channels)
    peak = TruePeakMeter(sample_rate, channels)
    stats = SignalStats(sample_rate, channels)
    spent = {"loudness": 0.0, "truepeak": 0.0, "stats": 0.0}
    clock = time.perf_counter
    for start in range(0, x.shape[1], block):
        chunk = x[:, start : start + block]
        t0 = clock()
        loudness.process(chunk)
        t1 = clock()
        peak.process(chunk)
        t2 = clock()
        stats.process(chunk)
        t3 = clock()
        spent["loudness"] += t1 - t0
        spent["truepeak"] += t2 - t1
        spent["stats"] += t3 - t2
    t0 = clock()
    lr, tp, st = loudness.result(), peak.result(), stats.result()
    spent["results"] = clock() - t0
    return {
        "I": lr.integrated_lufs,
        "LRA": lr.loudness_range_lu,
        "TP": tp.true_peak_dbtp,
        "sample_peak": tp.sample_peak_dbfs,
        "correlation": st.correlation,
        "computed_fraction": peak.chunks_computed / max(peak.chunks_seen, 1),
        "spent": spent,
        "total_s": sum(spent.values()),
    }


def ffmpeg_ebur128(path: Path) -> tuple[dict, float]:
    """ffmpeg's integrated loudness, LRA and true peak for ``path``, and the wall time it took."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-threads", "1", "-i", str(path),
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed on {path}: {proc.stderr[-500:]}")
    summary = proc.stderr[proc.stderr.rindex("Summary:") :]
    values = {}
    for name, pattern in (
        ("I", r"\bI:\s+(-?[\d.]+|-inf) LUFS"),
        ("LRA", r"\bLRA:\s+(-?[\d.]+) LU\b"),
        ("TP", r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS"),
    ):
        match = re.search(pattern, summary)
        if not match:
            raise RuntimeError(f"no {name} in ffmpeg's summary:\n{summary}")
        values[name] = float(match.group(1))
    return values, elapsed


def run_benchmark(*, seconds: float = 180.0, rate: int = 44100, limited: bool = False, block: int = 65536,
                  repeat: int = 3) -> dict:
    """Generate, write, read back and time both; returns the figures (best of ``repeat`` runs each)."""
    if not shutil.which("ffmpeg"):
        raise RuntimeError("ffmpeg is not installed: apt-get install ffmpeg")
    x = music_like(seconds, rate, limited=limited)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.wav"
        sf.write(path, x.T, rate, subtype="PCM_24")
        audio = np.ascontiguousarray(sf.read(path, dtype="float64", always_2d=True)[0].T)
        duration = audio.shape[1] / rate
        ours = min((measure(audio, rate, block=block) for _ in range(repeat)), key=lambda r: r["total_s"])
        runs = [ffmpeg_ebur128(path) for _ in range(repeat)]
        theirs, ffmpeg_s = min(runs, key=lambda r: r[1])
    return {
        "duration_s": duration,
        "ours": ours,
        "ffmpeg": theirs,
        "ffmpeg_s": ffmpeg_s,
        "ours_x_realtime": duration / ours["total_s"],
        "ffmpeg_x_realtime": duration / ffmpeg_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--rate", type=int, default=44100)
    ap.add_argument("--limited", action="store_true", help="a loud, limited master (little for the skip to skip)")
    ap.add_argument("--block", type=int, default=65536)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        r = run_benchmark(seconds=args.seconds, rate=args.rate, limited=args.limited, block=args.block,
                          repeat=args.repeat)
    except RuntimeError as exc:
        sys.exit(str(exc))
    ours, theirs = r["ours"], r["ffmpeg"]
    kind = "limited" if args.limited else "dynamic"
    print(f"{r['duration_s']:.0f} s stereo {kind} material at {args.rate} Hz, blocks of {args.block}, one core")
    print(f"kernels : {r['ours_x_realtime']:7.0f}x realtime ({ours['total_s']:.3f} s)")
    print(f"ffmpeg  : {r['ffmpeg_x_realtime']:7.0f}x realtime ({r['ffmpeg_s']:.3f} s)")
    print(f"ratio   : {r['ours_x_realtime'] / r['ffmpeg_x_realtime']:7.2f}x ffmpeg's speed")
    spent = ours["spent"]
    print("per meter: " + ", ".join(f"{k} {v:.3f} s ({r['duration_s'] / v:.0f}x)" for k, v in spent.items() if v > 0))
    print(f"true-peak chunks computed: {100 * ours['computed_fraction']:.1f} %")
    print(
        f"readings (ours / ffmpeg): I {ours['I']:.2f} / {theirs['I']:.1f} LUFS, "
        f"LRA {ours['LRA']:.2f} / {theirs['LRA']:.1f} LU, TP {ours['TP']:.2f} / {theirs['TP']:.1f} dBTP "
        f"(sample peak {ours['sample_peak']:.2f} dBFS)"
    )


if __name__ == "__main__":
    main()
