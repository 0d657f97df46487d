"""Throughput of ``farm qc`` with 1 and with 2 workers on the same CPU-bound catalogue, same machine, same run.

    python benchmarks/bench_scaling.py [--files 60] [--seconds 60] [--workers 1 2]

Writes ``--files`` songs of ``--seconds`` (built-in synthesiser, 44.1 kHz, 16-bit WAV) into a temporary folder,
then runs ``farm qc`` on them once per worker count (embedded Ray, a fresh ``--out`` each time, ``--redo``), and
prints the wall time of the audit itself (from the run's ``run.json``: Ray's start-up excluded) and the speed-up
over one worker. On a 2-core machine the ideal is 2.0x; runs of a few seconds understate it (each worker's
start-up is a fixed cost), hence an hour of audio by default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.synth import generate_song, render_song  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "catalogue"
        src.mkdir()
        song = render_song(generate_song(1, duration_s=a.seconds), 44100, renderer="builtin")
        for i in range(a.files):  # the same song, gain-varied: every file is a full audit's work
            sf.write(src / f"{i:04d}.wav", (song * (0.3 + 0.5 * i / a.files)).T, 44100, subtype="PCM_16")
        walls = {}
        for w in a.workers:
            out = Path(tmp) / f"out{w}"
            r = subprocess.run([sys.executable, "-m", "farm.cli", "qc", str(src), "--out", str(out), "--workers",
                                str(w), "--redo"], capture_output=True, text=True)
            if r.returncode not in (0, 2):
                print(r.stderr[-2000:])
                raise SystemExit(1)
            info = json.loads((out / "qc" / "run.json").read_text())
            walls[w] = info["wall_s"]
            print(f"{w} worker(s): {info['audio_s'] / 3600:.3f} h of audio in {info['wall_s']:.2f} s "
                  f"({info['audio_s'] / info['wall_s']:.0f}x realtime)")
        base = walls[a.workers[0]]
        for w in a.workers[1:]:
            print(f"throughput with {w} workers / with {a.workers[0]}: {base / walls[w]:.2f}x")


if __name__ == "__main__":
    main()
