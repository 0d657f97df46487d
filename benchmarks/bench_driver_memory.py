"""Peak memory of the ``farm qc`` driver's own work as the manifest grows: 100k and 1M rows.

    python benchmarks/bench_driver_memory.py --rows 100000 1000000

For each size, in a fresh process: writes one tiny WAV (0.1 s) and N hard links to it (distinct paths, as
distinct tracks to the catalogue), a CSV manifest of N rows (releases of 10 tracks), then runs the driver's
pipeline in that process: the counting pass and the feeding pass over the manifest (``iter_discover``), one
``stat`` per track for the resume fingerprint, a report per track (the tiny file is audited once and its report
reused with each track's ids: QC of tiny files, as the issue allows, without waiting an hour for a million
audits), and the Parquet writer publishing parts as it goes (the resume mode of ``farm qc``); then a second run
on the same ``--out`` that loads the resume index of N rows and skips them all. It prints the
process's peak RSS and Python's traced peak for each. Ray is left out on purpose: the driver's memory there is
bounded by the in-flight limit (2 tasks per worker), and what grows with the manifest is measured here.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _child(rows: int, root: str) -> None:
    from farm.catalogue import iter_discover
    from farm.output import QCWriter
    from farm.qc import QCConfig, audit_track
    from farm.resume import ResumeIndex, fingerprint

    import dataclasses
    import os

    import numpy as np
    import soundfile as sf

    root = Path(root)
    tiny = root / "tiny.wav"
    sf.write(tiny, 0.1 * np.sin(np.arange(4800) / 5.0)[:, None] * np.ones((1, 2)), 48000, subtype="PCM_16")
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["release_id", "upc", "track_number", "title", "path"])
        for i in range(rows):
            rel = f"audio/{i // 10000:03d}/{i:08d}.wav"
            if i % 10000 == 0:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
            if i % 50000 == 0:  # a file system allows ~65000 links per file: a fresh copy every 50000
                source = root / f"tiny-{i // 50000}.wav"
                source.write_bytes(tiny.read_bytes())
                os.utime(source, ns=(tiny.stat().st_atime_ns, tiny.stat().st_mtime_ns))
            os.link(source, root / rel)
            w.writerow([f"R{i // 10:07d}", "" if i % 10 else "5012345678900", i % 10 + 1, f"t{i}", rel])
    out = root / "out"
    config = QCConfig()
    template = audit_track(next(iter_discover([str(manifest)])), config)

    def audit(spec):
        row = {**template.row, "track_id": spec.track_id, "release_id": spec.release_id, "path": spec.path,
               "track_number": spec.track_number, "title": spec.title, "upc": spec.upc}
        events = [{**e, "track_id": spec.track_id} for e in template.events]
        return dataclasses.replace(template, row=row, events=events)
    result = {}
    for phase in ("first run", "re-run (resume index)"):
        tracemalloc.start()
        t0 = time.perf_counter()
        index = ResumeIndex.load(out, config.profile.name)
        found = sum(1 for _ in iter_discover([str(manifest)]))  # the counting pass
        done = 0
        with QCWriter(out, resume=index) as writer:
            for spec in iter_discover([str(manifest)]):
                if index.rows and index.is_done(spec.track_id, *fingerprint(spec.abs_path)):
                    continue
                writer.add(audit(spec))
                done += 1
            writer.commit({"rows": rows})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[phase] = {"found": found, "audited": done, "traced_peak_mib": peak / 2**20,
                         "wall_s": time.perf_counter() - t0}
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.root)
        return
    for n in a.rows:
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, __file__, "--child", str(n), "--root", tmp], capture_output=True,
                               text=True)
            if r.returncode:
                print(r.stderr[-3000:])
                raise SystemExit(1)
            res = json.loads(r.stdout.strip().splitlines()[-1])
            first, second = res["first run"], res["re-run (resume index)"]
            print(f"{n:>9,} rows: peak RSS {res['peak_rss_mib']:.0f} MiB; traced peak {first['traced_peak_mib']:.1f} "
                  f"MiB first run ({first['audited']:,} audited in {first['wall_s']:.0f} s), "
                  f"{second['traced_peak_mib']:.1f} MiB re-run ({second['audited']:,} audited, {second['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
