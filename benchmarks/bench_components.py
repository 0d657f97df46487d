"""Time of each meter and detector of the QC audit alone, on one rendered song, one core.

    python benchmarks/bench_components.py [--seconds 180] [--rate 44100] [--repeat 2] [--renderer auto]
    python benchmarks/bench_components.py --memory-hours 2

Renders one song (fluidsynth when available), then feeds it to every meter and detector of ``farm qc`` in
65536-frame blocks, the way the audit does, and prints each one's best time and x-realtime. Use it to see where
the audit's time goes; the comparison with ffmpeg is ``benchmarks/bench_qc.py``.

With ``--memory-hours H`` it streams H hours of stereo noise blocks into each part instead and prints, from
``tracemalloc``, what the part holds after the stream and its peak while it finishes (what grows with duration).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.synth.midi import generate_song  # noqa: E402
from farm.synth.render import render_song  # noqa: E402
from kernels.dc import DCOffsetMeter  # noqa: E402
from kernels.detect.impulses import ImpulseDetector  # noqa: E402
from kernels.detect.runs import RunDetector  # noqa: E402
from kernels.detect.spectral import SpectralDetector  # noqa: E402
from kernels.detect.stereo import StereoDetector  # noqa: E402
from kernels.loudness import LoudnessMeter  # noqa: E402
from kernels.stats import SignalStats  # noqa: E402
from kernels.truepeak import TruePeakMeter  # noqa: E402

BLOCK = 65536


def _parts(sr: int) -> dict:
    """Every meter and detector of the audit, as factories, in the audit's order."""
    return {
        "loudness (K-weighting, M/S/I/LRA)": lambda: LoudnessMeter(sr, 2, keep_series=False),
        "true peak": lambda: TruePeakMeter(sr, 2),
        "signal stats": lambda: SignalStats(sr, 2),
        "dc offset": lambda: DCOffsetMeter(sr, 2),
        "impulses (click, discontinuity, noise_burst)": lambda: ImpulseDetector(sr, 2),
        "runs (dropout, clipping, cuts)": lambda: RunDetector(sr, 2),
        "spectral (hum, lossy, bit depth)": lambda: SpectralDetector(sr, 2, bits_per_sample=24),
        "stereo (polarity, phase, false stereo)": lambda: StereoDetector(sr, 2),
    }


def _finish(meter) -> None:
    (getattr(meter, "finish", None) or meter.result)()


def _memory(parts: dict, sr: int, hours: float) -> None:
    block = 0.1 * np.random.default_rng(0).standard_normal((2, BLOCK))
    blocks = int(hours * 3600 * sr / BLOCK)
    print(f"{hours:g} h of stereo noise at {sr} Hz in blocks of {BLOCK}; tracemalloc, MiB")
    for name, make in parts.items():
        meter = make()
        tracemalloc.start()
        for _ in range(blocks):
            meter.process(block)
        held, _ = tracemalloc.get_traced_memory()
        _finish(meter)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  {name:46s} held {held / 2**20:6.1f}  peak while finishing {peak / 2**20:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--rate", type=int, default=44100)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--renderer", default="auto")
    ap.add_argument("--memory-hours", type=float, default=None)
    args = ap.parse_args()
    sr = args.rate
    parts = _parts(sr)
    if args.memory_hours:
        _memory(parts, sr, args.memory_hours)
        return
    x = np.ascontiguousarray(render_song(generate_song(100, duration_s=args.seconds), sr, renderer=args.renderer))
    duration = x.shape[1] / sr
    print(f"one song, {duration:.0f} s at {sr} Hz, blocks of {BLOCK}, best of {args.repeat}")
    total = 0.0
    for name, make in parts.items():
        best = float("inf")
        for _ in range(args.repeat):
            meter = make()
            t0 = time.perf_counter()
            for i in range(0, x.shape[1], BLOCK):
                meter.process(x[:, i : i + BLOCK])
            _finish(meter)
            best = min(best, time.perf_counter() - t0)
        total += best
        print(f"  {name:46s} {best:7.3f} s  {duration / best:7.0f}x realtime")
    print(f"  {'all of them':46s} {total:7.3f} s  {duration / total:7.0f}x realtime")


if __name__ == "__main__":
    main()
