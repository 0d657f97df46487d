"""gs:// for real: a Google Cloud Storage emulator (gcp-storage-emulator, the test extra) started on 127.0.0.1
by this module and ended by its pid; pyarrow's GCS client speaks the JSON API to it over HTTP, as it would to
Google. `farm qc` reads a catalogue from gs://, publishes its datasets there and resumes; `farm master` delivers
a release there."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from farm import storage
from tests.processes import free_port, port_opens, stop

pytest.importorskip("gcp_storage_emulator", reason="needs the GCS emulator: pip install gcp-storage-emulator (the test extra)")

BUCKET = "farm-gcs"


@pytest.fixture(scope="module")
def gcs():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
         "--in-memory", "--default-bucket", BUCKET],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        if not port_opens(port, proc):
            pytest.skip("the GCS emulator did not start on 127.0.0.1")
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
        rng = np.random.default_rng(3)
        t = np.arange(48000 * 3) / 48000
        for i in range(3):
            x = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t)[:, None] + 0.01 * rng.standard_normal((t.size, 2))
            buf = io.BytesIO()
            sf.write(buf, x, 48000, format="FLAC", subtype="PCM_24")
            storage.write_bytes_atomic(f"gs://{BUCKET}/cat/Album/{i + 1:02d} Song {i + 1}.flac", buf.getvalue())
        yield f"http://127.0.0.1:{port}"
    finally:
        if saved is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = saved
        stop(proc)


def test_qc_reads_and_publishes_on_gcs_and_resumes(gcs, monkeypatch):
    from tests.test_cli import farm

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs)
    out = f"gs://{BUCKET}/runs/qc-1"
    first = farm("qc", f"gs://{BUCKET}/cat", "--out", out, "--workers", "1")
    assert first.returncode in (0, 2), first.stdout + first.stderr
    rows = storage.published_dataset(storage.join(out, "qc"), "tracks").to_table().to_pylist()
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in rows) == ["01 Song 1.flac", "02 Song 2.flac",
                                                                   "03 Song 3.flac"]
    assert all(r["status"] != "error" and abs(r["duration_s"] - 3.0) < 1e-6 for r in rows), rows
    again = farm("qc", f"gs://{BUCKET}/cat", "--out", out, "--workers", "1")
    assert again.returncode in (0, 2) and "resume: 3 of 3" in again.stderr + again.stdout, again.stderr
    assert len(storage.published_dataset(storage.join(out, "qc"), "tracks").to_table()) == 3


def test_master_delivers_a_release_on_gcs(gcs, monkeypatch, tmp_path):
    from farm.synth.mixes import make_unmastered_release
    from tests.test_cli import farm

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs)
    monkeypatch.setenv("FARM_STAGING", str(tmp_path))
    manifest = make_unmastered_release(tmp_path / "mix", seed=4, tracks=2, duration_s=6.0, sample_rate=44100,
                                       renderer="builtin", release_id="GCS-ALBUM")
    out = f"gs://{BUCKET}/runs/master-1"
    proc = farm("master", manifest, "--out", out, "--formats", "streaming", "--workers", "1", "--report",
                timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = json.loads(storage.read_bytes(storage.join(out, "releases/GCS-ALBUM/manifest.json")))
    assert m["checks"] == "pass"
    for d in m["deliverables"]:
        assert storage.exists(storage.join(out, "releases/GCS-ALBUM", d["path"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix"]  # every staging folder removed
    page = storage.read_bytes(storage.join(out, "report/index.html")).decode("utf-8")  # made in the run, uploaded
    assert "GCS-ALBUM" in page
