"""Speed of the QC audit against ffmpeg's ebur128 (with true peak) on the same files, in the same run.

    python benchmarks/bench_qc.py [--songs 6] [--seconds 180] [--rate 44100]

Renders realistic songs (fluidsynth when available, else the built-in synthesiser), writes them as 24-bit FLAC,
then times, one file after another (one farm worker, one ffmpeg process):
- ``farm``: ``farm.qc.audit_track`` (decode + K-weighting + loudness + LRA + true peak + stats + every
  detector), in-process, as configured by default (262144-frame blocks, decoded ahead on a second thread,
  analysed on two) and as before session 21 (65536-frame blocks, one analysing thread; with and without the
  read-ahead of session 19);
- ``ffmpeg``: ``ffmpeg -nostats -i F -af ebur128=peak=true -f null -`` (decode + loudness + LRA + true peak),
  with ``-threads 1`` and with its own threading; the faster of the two is the peer the ratios use.
- ``farm qc --workers 1``: the whole command on an embedded Ray with one worker (the start-up excluded, as
  ``run.json``'s ``wall_s`` excludes it: Ray and the worker's start and imports, printed apart as ``startup_s``;
  scheduling, Parquet writing and the per-task overhead included).
Both decode the same FLAC. Prints x-realtime and CPU seconds for each, and the ratios (above 1: farm is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.allocator import keep_freed_memory  # noqa: E402
from farm.catalogue import discover  # noqa: E402
from farm.qc import QCConfig, audit_track  # noqa: E402
from farm.synth.midi import generate_song  # noqa: E402
from farm.synth.render import render_song  # noqa: E402

# the set-ups timed, by name: as before session 21 (without and with read-ahead), and the default
OLD_PLAIN = "65536-frame blocks, decode on the same thread"
OLD = "65536-frame blocks, read-ahead, one thread"
DEFAULT = "default (262144 frames, two threads)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--rate", type=int, default=44100)
    ap.add_argument("--renderer", default="auto")
    args = ap.parse_args()
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is not installed: apt-get install ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.songs):
            x = render_song(generate_song(100 + i, duration_s=args.seconds), args.rate, renderer=args.renderer)
            f = Path(tmp) / f"song{i}.flac"
            sf.write(f, x.T, args.rate, subtype="PCM_24")
            files.append(f)
        audio_s = sum(sf.info(str(f)).duration for f in files)
        specs = discover([tmp])
        keep_freed_memory()  # as farm's Ray workers do
        default = QCConfig()
        audit_track(specs[0], default)  # warm imports and caches, as a long-running worker would be
        farm = {}
        setups = {
            OLD_PLAIN: QCConfig(read_ahead=0, block_frames=65536, analysis_threads=1),
            OLD: QCConfig(block_frames=65536, analysis_threads=1),
            DEFAULT: default,
        }
        for what, config in setups.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for spec in specs:
                audit_track(spec, config)
            farm[what] = (time.perf_counter() - t0, time.process_time() - c0)
        ffmpeg = {}
        for label, threads in (("-threads 1", ["-threads", "1"]), ("its own threading", [])):
            t0 = time.perf_counter()
            cpu0 = os.times()
            for f in files:
                subprocess.run(
                    ["ffmpeg", "-nostats", "-hide_banner", *threads, "-i", str(f), "-af", "ebur128=peak=true",
                     "-f", "null", "-"],
                    check=True, capture_output=True,
                )
            cpu1 = os.times()
            ffmpeg[label] = (time.perf_counter() - t0,
                             cpu1.children_user - cpu0.children_user + cpu1.children_system - cpu0.children_system)
        out = Path(tmp) / "out"
        subprocess.run([sys.executable, "-m", "farm.cli", "qc", tmp, "--out", str(out), "--workers", "1"],
                       check=True, capture_output=True)
        run = json.loads((out / "qc" / "run.json").read_text())
        cli_s, startup_s = run["wall_s"], run.get("startup_s", float("nan"))
    print(f"{len(files)} songs, {audio_s / 60:.1f} min of {args.rate} Hz stereo 24-bit FLAC")
    print("(wall clock; CPU time in brackets: farm decodes on a second thread, ffmpeg may use several)")
    for what, (wall, cpu) in farm.items():
        print(f"farm audit_track, {what:46s}: {audio_s / wall:5.0f}x realtime ({wall:.2f} s; CPU {cpu:.2f} s)")
    for label, (wall, cpu) in ffmpeg.items():
        print(f"ffmpeg ebur128, {label:48s}: {audio_s / wall:5.0f}x realtime ({wall:.2f} s; CPU {cpu:.2f} s)")
    print(f"farm qc --workers 1: {audio_s / cli_s:5.0f}x realtime ({cli_s:.2f} s, start-up excluded: "
          f"{startup_s:.2f} s for Ray and the worker's imports, once per run)")
    peer = min(wall for wall, _ in ffmpeg.values())  # the faster of ffmpeg's two ways
    print(f"speed ratio against the faster ffmpeg ({peer:.2f} s): audit_track {peer / farm[DEFAULT][0]:.2f} "
          f"(before session 21: {peer / farm[OLD][0]:.2f}, without read-ahead {peer / farm[OLD_PLAIN][0]:.2f}); "
          f"farm qc {peer / cli_s:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
