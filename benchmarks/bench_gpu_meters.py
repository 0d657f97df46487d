"""The meters on NumPy (CPU) against CuPy (GPU), and ``audit_track`` with ``device="cpu"`` and ``"gpu"``.

    python benchmarks/bench_gpu_meters.py [--seconds 600]

Needs CuPy and a CUDA device (it says why and exits 0 where there is none). Each meter is fed ``--seconds`` of
stereo 48 kHz noise under a changing envelope in 262144-frame blocks, copied to the device block by block as a
GPU worker does (the copy is timed); best of three, after a warm-up that compiles the kernels. Then a 180 s
24-bit WAV is audited three times each way (the detectors run on the CPU either way). Both run in the same process
on the same machine, so the ratios compare; the absolute times are that machine's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def material(rate: int, seconds: float, channels: int = 2, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    env = np.repeat(10 ** (rng.uniform(-30, 0, size=int(seconds * 4) + 1) / 20), rate // 4)[:n]
    return 0.3 * rng.standard_normal((channels, n)) * env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    args = ap.parse_args()
    from kernels._xp import gpu_available

    ok, why = gpu_available()
    if not ok:
        print(f"no GPU here: {why}")
        return 0
    import cupy as cp
    import soundfile as sf

    from farm.catalogue import discover
    from farm.qc import QCConfig, audit_track
    from kernels.loudness import LoudnessMeter
    from kernels.stats import SignalStats
    from kernels.truepeak import TruePeakMeter

    def run(cls, x, rate, conv, block=262144):
        meter = cls(rate, x.shape[0])
        start = time.perf_counter()
        for i in range(0, x.shape[1], block):
            meter.process(conv(x[:, i : i + block]))
        meter.result()
        cp.cuda.Device().synchronize()
        return time.perf_counter() - start

    rate = 48000
    meters = (LoudnessMeter, TruePeakMeter, SignalStats)
    for cls in meters:
        run(cls, material(rate, 10), rate, cp.asarray)
    x = material(rate, args.seconds)
    for cls in meters:
        cpu = min(run(cls, x, rate, np.asarray) for _ in range(3))
        gpu = min(run(cls, x, rate, cp.asarray) for _ in range(3))
        print(f"{cls.__name__:14s} {args.seconds:.0f} s stereo 48 kHz: CPU {cpu:.3f} s ({args.seconds / cpu:.0f}x real "
              f"time), GPU {gpu:.3f} s ({args.seconds / gpu:.0f}x); GPU/CPU speed {cpu / gpu:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.wav")
        sf.write(path, material(rate, 180).T, rate, subtype="PCM_24")
        spec = discover([path])[0]
        audit_track(spec, QCConfig(device="gpu"))
        for name, cfg in (("cpu", QCConfig()), ("gpu", QCConfig(device="gpu"))):
            best = min(_timed(audit_track, spec, cfg) for _ in range(3))
            print(f"audit_track device={name}: a 180 s file, best of 3 {best:.3f} s ({180 / best:.0f}x real time)")
    return 0


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
