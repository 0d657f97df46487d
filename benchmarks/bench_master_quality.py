"""What ``farm master`` does to unmastered mixes: loudness, true peak (ours and ffmpeg's), order, tone.

    python benchmarks/bench_master_quality.py [--albums 3] [--tracks 4] [--seconds 30] [--target spotify]

Generates ``--albums`` albums of unmastered mixes (:mod:`farm.synth.mixes`: quiet, each song with one problem:
dull top, boomy low end, anti-phase bass, or just quiet, at different levels; fluidsynth when available), runs
``farm master`` on them, and prints per album the loudest master's loudness (our meter and ffmpeg's ebur128),
the highest true peak (both), whether the loudness order of the mix was kept, and per octave band
(63 Hz-8 kHz, the bands whose centres lie in 60 Hz-12 kHz) how far the mid signal's spectrum is from the
target curve before and after (mean absolute difference in dB, both curves levelled over the same bands).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from farm.master.presets import CURVE_CENTRES_HZ, TARGET_CURVES, load_preset  # noqa: E402
from farm.synth.mixes import make_unmastered_release  # noqa: E402
from kernels.loudness import measure_loudness  # noqa: E402
from kernels.spectrum import band_levels_db, long_term_spectrum, mid_side  # noqa: E402
from kernels.truepeak import TruePeakMeter  # noqa: E402

BANDS = slice(1, 9)  # 63 Hz .. 8 kHz


def _read(path):
    x, sr = sf.read(path, always_2d=True, dtype="float64")
    return x.T, sr


def _ffmpeg(path) -> tuple[float, float]:
    r = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true",
                        "-f", "null", "-"], capture_output=True, text=True)
    s = r.stderr[r.stderr.rfind("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", s).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", s).group(1)))


def _shape(x, sr) -> np.ndarray:
    mid, side = mid_side(x)
    f, p = long_term_spectrum(np.concatenate([mid, side]), sr)
    b = band_levels_db(f, p, CURVE_CENTRES_HZ)[0]
    return b - np.mean(b[BANDS])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--albums", type=int, default=3)
    ap.add_argument("--tracks", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--target", default="spotify")
    ap.add_argument("--renderer", default="auto")
    a = ap.parse_args()
    preset = load_preset(a.target)
    curve = np.array(TARGET_CURVES[preset.curve])
    curve = curve - np.mean(curve[BANDS])
    before_dev, after_dev = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifests = [make_unmastered_release(tmp / f"album{i}", seed=100 + i, tracks=a.tracks,
                                             duration_s=a.seconds, renderer=a.renderer, release_id=f"ALBUM-{i}")
                     for i in range(a.albums)]
        out = tmp / "out"
        r = subprocess.run([sys.executable, "-m", "farm.cli", "master", *map(str, manifests), "--out", str(out),
                            "--target", a.target], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr)
        import pyarrow.dataset as ds  # noqa: PLC0415

        rows = ds.dataset(out / "qc" / "mastering").to_table().to_pylist()
        print(f"farm master --target {a.target}: {len(rows)} tracks in {a.albums} albums; statuses "
              f"{sorted({x['status'] for x in rows})}")
        print(f"{'album':8s} {'loudest LUFS (ours/ffmpeg)':>27s} {'max dBTP (ours/ffmpeg)':>23s} {'order kept':>10s}")
        for i, m in enumerate(manifests):
            srcs = {int(x["track_number"]): m.parent / x["path"] for x in csv.DictReader(open(m))}
            album = sorted((x for x in rows if x["release_id"] == f"ALBUM-{i}"), key=lambda x: x["track_number"])
            lufs, ff, tps = [], [], []
            for row in album:
                y, sr = _read(row["master_path"])
                lufs.append(measure_loudness(y, sr).integrated_lufs)
                meter = TruePeakMeter(sr, y.shape[0])
                meter.process(y)
                tps.append(meter.result().true_peak_dbtp)
                ff.append(_ffmpeg(row["master_path"]))
                x, sr0 = _read(srcs[row["track_number"]])
                before_dev.append(np.abs(_shape(x, sr0) - curve)[BANDS])
                after_dev.append(np.abs(_shape(y, sr) - curve)[BANDS])
            before = [x["before_integrated_lufs"] for x in album]
            kept = np.argsort(before).tolist() == np.argsort(lufs).tolist()
            print(f"ALBUM-{i:<2d} {max(lufs):13.2f} / {max(f[0] for f in ff):6.2f}"
                  f" {max(tps):13.2f} / {max(f[1] for f in ff):6.2f} {str(kept):>10s}")
    b, c = np.mean(before_dev, axis=0), np.mean(after_dev, axis=0)
    names = [f"{f:g}" if f < 1000 else f"{f / 1000:g}k" for f in CURVE_CENTRES_HZ[BANDS]]
    print("distance from the target curve per octave band, mean |dB| over all tracks (mid signal):")
    print("  band   " + " ".join(f"{n:>6s}" for n in names) + "   mean")
    print("  before " + " ".join(f"{v:6.2f}" for v in b) + f" {b.mean():6.2f}")
    print("  after  " + " ".join(f"{v:6.2f}" for v in c) + f" {c.mean():6.2f}")


if __name__ == "__main__":
    main()
