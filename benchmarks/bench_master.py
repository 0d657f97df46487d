"""Speed of the mastering chain per track against pedalboard running a comparable chain, one core, same run.

    python benchmarks/bench_master.py [--seconds 180] [--rate 44100] [--repeat 3] [--renderer auto]

Renders one song (fluidsynth when available) at an unmastered level (-24 dBFS RMS), then times, best of
``--repeat``:

* **pedalboard**: high-pass 20 Hz, low shelf, peak, high shelf (three filters), a compressor (2:1), a gain and
  its limiter, on float32 (pedalboard's native type);
* **farm, one pass**: our chain with the same stages (high-pass, graphic EQ of the same three moves, 2:1
  compressor, fixed gain, true-peak limiter with 4x oversampled detection), float64;
* **farm, full**: the same plan with a loudness target, as ``farm master`` runs it: the gain before the
  limiter is searched until the limited result lands within 0.05 LU (2-4 limiter and loudness passes).

The ratio printed is pedalboard's time over ours (above 1: we are faster), against pedalboard's chain as it is
(its limiter reads sample peaks) and against the same chain with its limiter run at 4x the rate between
pedalboard's own resamplers, which is what it takes to make it see inter-sample peaks like ours. Threads are pinned to one
(OPENBLAS/OMP/NUMBA) and the process to one CPU where ``os.sched_setaffinity`` exists. Note that the limiters
differ in kind: pedalboard's limits the sample peak, ours the true peak (an oversampled detector, and a meter
check of its output).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.allocator import keep_freed_memory  # noqa: E402
from farm.master.chain import apply_plan  # noqa: E402
from farm.master.plan import EQ, Dynamics, HighPass, Limiter, Loudness, neutral_track_plan  # noqa: E402
from farm.synth.midi import generate_song  # noqa: E402
from farm.synth.render import render_song  # noqa: E402
from kernels.loudness import measure_loudness  # noqa: E402

# The three EQ moves of both chains: +2 dB low shelf at 100 Hz ~ +2 dB at 63/125 Hz, -1.5 dB at 1 kHz,
# +2 dB high shelf at 8 kHz ~ +2 dB at 8/16 kHz.
GAINS = (0.0, 2.0, 2.0, 0.0, 0.0, -1.5, 0.0, 0.0, 2.0, 2.0)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(seconds: float, rate: int, repeat: int, renderer: str) -> dict:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    keep_freed_memory()  # as farm's Ray workers do (farm/allocator.py); pedalboard, in this process, gains too
    x = render_song(generate_song(7, duration_s=seconds, style="rock"), rate, renderer=renderer)
    x = x * (10 ** (-24 / 20) / np.sqrt(np.mean(x * x)))
    dur = x.shape[1] / rate
    level = measure_loudness(x, rate).integrated_lufs
    rms_db = 20 * np.log10(np.sqrt(np.mean(x * x)))

    import pedalboard  # noqa: PLC0415 - optional peer

    gain_db = -14.0 - level
    board = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(cutoff_frequency_hz=20.0),
        pedalboard.LowShelfFilter(cutoff_frequency_hz=100.0, gain_db=2.0),
        pedalboard.PeakFilter(cutoff_frequency_hz=1000.0, gain_db=-1.5, q=1.0),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=8000.0, gain_db=2.0),
        pedalboard.Compressor(threshold_db=float(rms_db + 3), ratio=2.0, attack_ms=30.0, release_ms=250.0),
        pedalboard.Gain(gain_db=float(gain_db)),
        pedalboard.Limiter(threshold_db=-1.0, release_ms=100.0),
    ])
    x32 = x.astype(np.float32)
    front = pedalboard.Pedalboard(list(board)[:-1])  # the same filters, compressor and gain
    limiter = pedalboard.Pedalboard([pedalboard.Limiter(threshold_db=-1.0, release_ms=100.0)])

    def oversampled() -> np.ndarray:
        # pedalboard's limiter reads sample peaks; to make it see the peaks between samples (what a true-peak
        # ceiling needs) it runs at 4x the rate, between pedalboard's own windowed-sinc resamplers
        y = front(x32, rate)
        # WindowedSinc16: 16 taps, fewer than the 20 per phase of our interpolation filter (generous to the peer)
        quality = pedalboard.Resample.Quality.WindowedSinc16
        up = pedalboard.io.StreamResampler(rate, 4 * rate, 2, quality)
        y4 = np.concatenate([up.process(y), up.process(None)], axis=1)
        y4 = limiter(y4, 4 * rate)
        down = pedalboard.io.StreamResampler(4 * rate, rate, 2, quality)
        z = down.process(y4)
        return np.concatenate([z, down.process(None)], axis=1)

    plan = replace(
        neutral_track_plan("bench", "bench.wav"),
        highpass=HighPass(enabled=True, cutoff_hz=20.0),
        eq=EQ(gains_db=GAINS),
        dynamics=Dynamics(enabled=True, threshold_dbfs=float(rms_db + 3), ratio=2.0),
        loudness=Loudness(gain_db=float(gain_db)),
        limiter=Limiter(enabled=True, ceiling_dbtp=-1.0),
    )
    full = replace(plan, loudness=Loudness(target_lufs=-14.0))
    apply_plan(x[:, : rate * 5], rate, plan)  # compile the numba loops before timing
    import pedalboard.io  # noqa: PLC0415, F401

    t_pb = _best(lambda: board(x32, rate), repeat)
    t_pb4 = _best(oversampled, repeat)
    t_one = _best(lambda: apply_plan(x, rate, plan), repeat)
    t_full = _best(lambda: apply_plan(x, rate, full), repeat)
    res = apply_plan(x, rate, full)
    return {"audio_s": dur, "pedalboard_s": t_pb, "pedalboard_4x_s": t_pb4, "farm_one_pass_s": t_one,
            "farm_full_s": t_full,
            "passes": res.loudness_passes, "pedalboard_version": pedalboard.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--rate", type=int, default=44100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--renderer", default="auto")
    a = ap.parse_args()
    r = run(a.seconds, a.rate, a.repeat, a.renderer)
    d = r["audio_s"]
    print(f"{d:.0f} s of stereo at {a.rate} Hz, one core, best of {a.repeat} (pedalboard {r['pedalboard_version']})")
    print(f"  pedalboard chain       {r['pedalboard_s']:7.3f} s  {d / r['pedalboard_s']:6.0f}x realtime  "
          "(its limiter on sample peaks)")
    print(f"  pedalboard, 4x limiter {r['pedalboard_4x_s']:7.3f} s  {d / r['pedalboard_4x_s']:6.0f}x realtime  "
          "(limiter at 4x the rate between its resamplers: sees inter-sample peaks)")
    print(f"  farm chain, one pass   {r['farm_one_pass_s']:7.3f} s  {d / r['farm_one_pass_s']:6.0f}x realtime  "
          f"ratio {r['pedalboard_s'] / r['farm_one_pass_s']:.2f} / {r['pedalboard_4x_s'] / r['farm_one_pass_s']:.2f} (4x)")
    print(f"  farm chain, to target  {r['farm_full_s']:7.3f} s  {d / r['farm_full_s']:6.0f}x realtime  "
          f"ratio {r['pedalboard_s'] / r['farm_full_s']:.2f} / {r['pedalboard_4x_s'] / r['farm_full_s']:.2f} (4x)  "
          f"({r['passes']} loudness passes)")


if __name__ == "__main__":
    main()
