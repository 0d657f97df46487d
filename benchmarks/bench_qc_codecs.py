"""Real lossy round trips, not the accuracy planter's FIR brick wall: does the QC audit flag them, and what else?

    python benchmarks/bench_qc_codecs.py CORPUS [--songs 60] [--workers N]

``CORPUS`` is a folder kept by ``farm bench qc-accuracy --out CORPUS``; its clean songs (no planted defect) are
used in order. Each goes through one of ffmpeg's encoders in turn (LAME MP3 at 128 and 320 kb/s, the native AAC
at 128 kb/s, Opus at 96 kb/s), is decoded to 24-bit WAV (every third one resampled to 96 kHz on the way, as a
"hi-res" file made from a lossy source is) and audited with ``farm.qc.audit_track``. Prints, per file, the local
findings and the whole-track kinds, then how many files of each codec were flagged ``lossy_bandwidth``. Local
findings here are not planted: each is a false alarm or something the round trip really did (a decoder's
output clipped at full scale is real clipping). Needs ffmpeg with libmp3lame and libopus.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOCAL = {"click", "discontinuity", "dropout", "clipping", "noise_burst", "hum", "out_of_phase", "start_cut",
         "end_cut"}
CODECS = {  # name: (encoder arguments, container)
    "mp3_128": (["-c:a", "libmp3lame", "-b:a", "128k"], "mp3"),
    "mp3_320": (["-c:a", "libmp3lame", "-b:a", "320k"], "mp3"),
    "aac_128": (["-c:a", "aac", "-b:a", "128k"], "m4a"),
    "opus_96": (["-c:a", "libopus", "-b:a", "96k"], "opus"),
}


def _one(job: tuple[str, str, bool]) -> tuple[str, str, list, list[str]]:
    from farm.catalogue import discover
    from farm.qc import audit_track

    path, codec, hires = job
    args, ext = CODECS[codec]
    with tempfile.TemporaryDirectory() as tmp:
        enc, dec = os.path.join(tmp, f"x.{ext}"), os.path.join(tmp, "x.wav")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", path, *args, enc], check=True)
        rate = ["-ar", "96000"] if hires else []
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", enc, *rate, "-c:a", "pcm_s24le", dec], check=True)
        events = audit_track(discover([dec])[0]).events
    local = [(e["kind"], round(e["start_s"], 3)) for e in events if e["kind"] in LOCAL]
    whole = sorted({e["kind"] for e in events if e["kind"] not in LOCAL})
    return os.path.basename(path), codec + ("@96k" if hires else ""), local, whole


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--songs", type=int, default=60)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    planted = {row["path"] for row in pq.read_table(os.path.join(args.corpus, "truth.parquet")).to_pylist()}
    songs = [row["path"] for row in pq.read_table(os.path.join(args.corpus, "qc_tracks.parquet")).to_pylist()
             if row["path"] not in planted][: args.songs]
    if not songs:
        sys.exit(f"no clean song in {args.corpus}")
    names = list(CODECS)
    jobs = [(os.path.join(args.corpus, s), names[i % len(names)], i % 3 == 0) for i, s in enumerate(songs)]
    minutes = sum(sf.info(p).duration for p, _, _ in jobs) / 60.0
    flagged, total, local_count = collections.Counter(), collections.Counter(), collections.Counter()
    with ProcessPoolExecutor(args.workers) as ex:
        for name, codec, local, whole in ex.map(_one, jobs):
            print(f"  {name:28s} {codec:12s} local: {local or 'none'}  whole-track: {', '.join(whole) or 'none'}")
            total[codec] += 1
            flagged[codec] += "lossy_bandwidth" in whole
            local_count.update(k for k, _ in local)
    print(f"\n{len(jobs)} files, {minutes:.1f} min; local findings: {dict(local_count) or 'none'}")
    for codec in sorted(total):
        print(f"  {codec:12s} lossy_bandwidth {flagged[codec]}/{total[codec]}")


if __name__ == "__main__":
    main()
