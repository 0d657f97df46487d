"""Copies of clean songs that a catalogue holds instead of the masters: what does the QC audit say about them?

    python benchmarks/bench_qc_copies.py CORPUS --copy resample:22050 [--copy hiss:-60 ...] [--plant]
        [--songs N] [--workers N]

``CORPUS`` is a folder kept by ``farm bench qc-accuracy --out CORPUS``; its clean songs (no planted defect) are
used in order. Each ``--copy`` makes one copy of every song and audits it whole with ``farm.qc.audit_track``:

- ``resample:RATE``: soxr (HQ) to RATE Hz, written as 16-bit WAV (an archive at 22.05 kHz, a broadcast file at
  32 kHz);
- ``ffmpeg:RATE``: ffmpeg's default resampler to RATE Hz, 16-bit WAV (the everyday conversion of a hi-res master);
- ``hiss:DBFS``: pink hiss at DBFS RMS, independent per channel, under the whole song, at the song's own format
  (a tape transfer).

Prints every finding except ``format``, ``bit_depth`` and ``true_peak_over`` (resampling moves inter-sample
peaks: those are real), then the count per kind and the hours audited; the songs are clean, so each finding is a
false alarm or something the copy really did. With ``--plant`` the corpus planter's ``click``, ``discontinuity``
and ``noise_burst`` are also planted, one at a time, into the first 40 copies (after the copy is made) and the
impulse detector alone reports how many it finds within 50 ms.
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

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SKIP = {"format", "bit_depth", "true_peak_over"}
PLANTED = ("click", "discontinuity", "noise_burst")


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    import scipy.signal

    y = scipy.signal.lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                             [1.0, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(n))
    return y / np.sqrt(np.mean(y * y))


def _copy(path: str, how: str, tmp: str, index: int) -> tuple[np.ndarray, int, str]:
    """The copy as (channels, n) floats, its rate and the file it was written to."""
    kind, arg = how.split(":")
    out = os.path.join(tmp, "copy.wav")
    if kind == "ffmpeg":
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", path, "-ar", arg, "-c:a", "pcm_s16le", out], check=True)
        x, sr = sf.read(out, always_2d=True)
        return x.T, sr, out
    x, sr = sf.read(path, always_2d=True)
    if kind == "resample":
        import soxr

        x, sr, subtype = soxr.resample(x, sr, int(arg)), int(arg), "PCM_16"
    elif kind == "hiss":
        rng = np.random.default_rng(index)
        x = x + 10 ** (float(arg) / 20) * np.stack([_pink(len(x), rng) for _ in range(x.shape[1])], axis=1)
        subtype = sf.info(path).subtype if sf.info(path).subtype in ("PCM_16", "PCM_24") else "PCM_24"
    else:
        raise SystemExit(f"unknown copy {how!r}: resample:RATE, ffmpeg:RATE or hiss:DBFS")
    sf.write(out, np.clip(x, -1.0, 1.0), sr, subtype=subtype)
    y, _ = sf.read(out, always_2d=True)  # the samples as written (quantised)
    return y.T, sr, out


def _one(job: tuple[str, str, int, bool]) -> tuple[str, str, float, list, dict]:
    from farm.bench.defects import plant
    from farm.catalogue import discover
    from farm.qc import audit_track
    from kernels.detect.impulses import ImpulseDetector

    path, how, index, planting = job
    found: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        x, sr, out = _copy(path, how, tmp, index)
        events = [(e["kind"], round(e["start_s"], 3), e["detail"]) for e in audit_track(discover([out])[0]).events
                  if e["kind"] not in SKIP]
    if planting:
        for j, kind in enumerate(PLANTED):
            y, (truth,) = plant(kind, x.copy(), sr, np.random.default_rng([index, j, sr]))
            y = np.clip(y, -1.0, 1.0)
            det = ImpulseDetector(sr, y.shape[0], bits_per_sample=16)
            for i in range(0, y.shape[1], 262144):
                det.process(y[:, i : i + 262144])
            found[kind] = any(d.kind == kind and abs(d.start_s - truth.start_s) <= 0.05 for d in det.finish())
    return os.path.basename(path), how, x.shape[1] / sr, events, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--copy", action="append", required=True, help="resample:RATE, ffmpeg:RATE or hiss:DBFS")
    ap.add_argument("--songs", type=int, default=1000)
    ap.add_argument("--plant", action="store_true", help="also plant clicks, splices and bursts into 40 copies")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    planted = {str(p) for p in pq.read_table(os.path.join(args.corpus, "truth.parquet")).column("path").to_pylist()}
    songs = sorted(f"tracks/{p}" for p in os.listdir(os.path.join(args.corpus, "tracks")))
    songs = [os.path.join(args.corpus, p) for p in songs if p not in planted][: args.songs]
    jobs = [(p, how, i, args.plant and i < 40) for how in args.copy for i, p in enumerate(songs)]
    hours: dict[str, float] = collections.defaultdict(float)
    kinds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    hits: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with ProcessPoolExecutor(args.workers) as ex:
        for name, how, seconds, events, found in ex.map(_one, jobs):
            hours[how] += seconds / 3600
            for kind, start, detail in events:
                kinds[how][kind] += 1
                print(f"{how:16s} {name:28s} {kind:15s} {start:9.3f}  {detail}")
            for kind, hit in found.items():
                hits[how][kind] += hit
    for how in args.copy:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(kinds[how].items())) or "nothing"
        print(f"{how}: {hours[how]:.2f} h of clean songs: {counts}")
        if hits[how] or args.plant:
            n = min(40, len(songs))
            print(f"{how}: planted, found by the impulse detector within 50 ms: "
                  + ", ".join(f"{k} {hits[how][k]}/{n}" for k in PLANTED))


if __name__ == "__main__":
    main()
