"""Peak memory of auditing one track: a 3-minute song against a 2-hour live recording.

    python benchmarks/bench_memory.py [--long-minutes 120] [--rate 44100]

Writes two stereo 24-bit WAV files of the same kind of material (noise with a slow envelope and sparse
transients) and audits each in a fresh process, reporting that process's peak resident memory (ru_maxrss)
and the same process's memory after imports only, so the difference is what measuring costs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import resource, sys
sys.path.insert(0, {root!r})
from farm.catalogue import discover
from farm.qc import QCConfig, audit_track
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
(spec,) = discover([{path!r}])
r = audit_track(spec, QCConfig())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base // 1024, peak // 1024, r.row["status"], r.row["duration_s"], r.row["integrated_lufs"])
"""


def write_material(path: Path, minutes: float, rate: int) -> None:
    rng = np.random.default_rng(0)
    block = rate * 10
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, subtype="PCM_24") as f:
        for _ in range(int(minutes * 6)):
            env = np.repeat(rng.uniform(0.02, 0.3, size=20), block // 20)
            x = rng.standard_normal((block, 2)) * env[:, None]
            x[rng.integers(0, block, 5)] *= 3
            f.write(np.clip(x, -1, 1))


def measure(path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path))], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long-minutes", type=float, default=120.0)
    ap.add_argument("--rate", type=int, default=44100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (3.0, args.long_minutes):
            f = Path(tmp) / f"m{minutes:g}.wav"
            write_material(f, minutes, args.rate)
            base, peak, status, dur, lufs = measure(f).split()
            print(f"{minutes:6.0f} min: peak RSS {peak} MiB (after imports {base} MiB, measuring +{int(peak) - int(base)} MiB)"
                  f"  status={status} duration={float(dur):.0f}s I={lufs}")
            f.unlink()


if __name__ == "__main__":
    main()
