"""Object storage for real: an S3-compatible server (moto's server mode) on 127.0.0.1, spoken to over HTTP.

Nothing is mocked inside the process: pyarrow's S3 client talks to a separate server process that this module
starts on a free loopback port and ends by its pid. The catalogue is generated audio uploaded as objects, with a
local copy of every file as the oracle (decoding an object must give exactly what decoding the file gives: the
same bytes go through the same libsndfile decoder, so the tolerance is zero).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from farm import storage
from farm.audio import probe, read_blocks
from farm.catalogue import discover, track_id_for
from farm.errors import ConfigError, InputError
from tests.processes import free_port, port_opens, stop

pytest.importorskip("moto.server", reason="needs moto's server mode: pip install 'moto[server]' (the test extra)")
pytest.importorskip("flask", reason="moto's server mode needs flask: pip install 'moto[server]'")

BUCKET = "catalogue-bucket"
SR = 48_000

# key below s3://BUCKET/ -> (container, subtype, channels, seconds)
OBJECTS = {
    "cat/Artist A - First Album/01 Opening.wav": ("WAV", "PCM_24", 2, 2.0),
    "cat/Artist A - First Album/02 Second.flac": ("FLAC", "PCM_16", 2, 1.5),
    "cat/Artist A - First Album/10 Tenth.aiff": ("AIFF", "PCM_16", 1, 1.0),
    "cat/Various/Compilation ünï/1 Song.ogg": ("OGG", "VORBIS", 2, 1.0),
}


def _start_moto(extra_env: dict[str, str] | None = None):
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    if not port_opens(port, proc):
        stop(proc)
        pytest.skip("moto's S3 server did not start on 127.0.0.1 (is 'moto[server]' installed?)")
    return proc, f"http://127.0.0.1:{port}"


def _s3_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # never wait for an instance-metadata endpoint that is not there
    }


def _audio(channels: int, seconds: float, seed: int) -> np.ndarray:
    """A chord plus a little noise, (samples, channels), peak about -6 dBFS."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0 * (seed + 1), 330.0, 550.0)) / 3
    x = np.stack([0.5 * tone + 0.01 * rng.standard_normal(t.size) for _ in range(channels)], axis=1)
    return x


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server's endpoint, a local copy of every object (the oracle) and the environment to reach it."""
    proc, endpoint = _start_moto()
    try:
        env = _s3_env(endpoint)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        import pyarrow.fs as pafs

        creator = pafs.S3FileSystem(endpoint_override=endpoint.removeprefix("http://"), scheme="http",
                                    region="us-east-1", allow_bucket_creation=True)
        creator.create_dir(BUCKET)
        local = tmp_path_factory.mktemp("local-copy")
        for seed, (key, (container, subtype, channels, seconds)) in enumerate(OBJECTS.items()):
            buf = io.BytesIO()
            sf.write(buf, _audio(channels, seconds, seed), SR, format=container, subtype=subtype)
            storage.write_bytes_atomic(f"s3://{BUCKET}/{key}", buf.getvalue())
            (local / key).parent.mkdir(parents=True, exist_ok=True)
            (local / key).write_bytes(buf.getvalue())
        # macOS Finder litter beside the audio: must not become a track.
        storage.write_bytes_atomic(f"s3://{BUCKET}/cat/Artist A - First Album/._01 Opening.wav",
                                   b"\x00\x05\x16\x07" + bytes(60))
        storage.write_bytes_atomic(f"s3://{BUCKET}/cat/notes.txt", b"not audio")
        # A manifest in its own prefix whose relative cells climb out of it, plus one full URI.
        rows = [
            {"path": "../cat/Artist A - First Album/02 Second.flac", "release_id": "R1", "track_number": 1,
             "isrc": "US-AAA-25-00001", "title": "Second"},
            {"path": f"s3://{BUCKET}/cat/Various/Compilation ünï/1 Song.ogg", "release_id": "R1",
             "track_number": 2, "isrc": "", "title": ""},
            {"path": "../cat/missing.wav", "release_id": "R2", "track_number": 1, "isrc": "", "title": ""},
        ]
        csv_text = "path,release_id,track_number,isrc,title\n" + "".join(
            f"\"{r['path']}\",{r['release_id']},{r['track_number']},{r['isrc']},{r['title']}\n" for r in rows
        )
        storage.write_bytes_atomic(f"s3://{BUCKET}/manifests/ingest.csv", csv_text.encode("utf-8"))
        parquet = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), parquet)
        storage.write_bytes_atomic(f"s3://{BUCKET}/manifests/ingest.parquet", parquet.getvalue())
        storage.write_bytes_atomic(f"s3://{BUCKET}/manifests/ingest.json", json.dumps(rows).encode("utf-8"))
        yield {"endpoint": endpoint, "local": local, "env": env}
    finally:
        for k, v in locals().get("saved", {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop(proc)


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


# --------------------------------------------------------------------------------------------------------------
# Paths and URIs, no server needed


def test_is_uri_and_join():
    assert storage.is_uri("s3://b/k") and storage.is_uri("gs://b/k") and storage.is_uri("GS://b")
    assert not storage.is_uri("/music/a.wav") and not storage.is_uri("s3:/b/k") and not storage.is_uri(Path("x"))
    assert storage.join("s3://b/cat/manifests", "../A/01.wav") == "s3://b/cat/A/01.wav"
    assert storage.join("s3://b/", "x", "y.wav") == "s3://b/x/y.wav"
    assert storage.join("s3://b/a//./c.wav") == "s3://b/a/c.wav"
    assert storage.parent("s3://b/a/c.wav") == "s3://b/a" and storage.parent("s3://b/c.wav") == "s3://b"
    assert storage.basename("s3://b") == "b" and storage.basename("s3://b/a/") == "a"


def test_staged_run_on_a_local_folder(tmp_path):
    _check_staged_run(str(tmp_path / "qc"))


# --------------------------------------------------------------------------------------------------------------
# Discovery


def test_discover_prefix_gives_releases_by_folder(s3):
    specs = discover([uri("cat")])
    got = [(s.release_id, s.track_number, s.title) for s in specs]
    assert got == [
        ("cat/Artist A - First Album", 1, "01 Opening"),
        ("cat/Artist A - First Album", 2, "02 Second"),
        ("cat/Artist A - First Album", 3, "10 Tenth"),  # natural order: 10 after 2
        ("cat/Various/Compilation ünï", 1, "1 Song"),
    ]
    for spec in specs:
        assert spec.abs_path == uri(spec.abs_path.split(f"{BUCKET}/", 1)[1])
        assert spec.track_id == track_id_for(spec.abs_path)  # ids come from the URI string


def test_discover_bucket_root_and_single_object(s3):
    specs = discover([f"s3://{BUCKET}"])
    assert {s.release_id for s in specs} == {f"{BUCKET}/cat/Artist A - First Album",
                                             f"{BUCKET}/cat/Various/Compilation ünï"}
    (one,) = discover([uri("cat/Artist A - First Album/02 Second.flac")])
    assert (one.release_id, one.track_number, one.title) == ("02 Second", 1, "02 Second")


@pytest.mark.parametrize("suffix", ["csv", "parquet", "json"])
def test_manifest_object_resolves_relative_paths_against_its_prefix(s3, suffix):
    specs = discover([uri(f"manifests/ingest.{suffix}")])
    assert [s.abs_path for s in specs] == [
        uri("cat/Artist A - First Album/02 Second.flac"),
        uri("cat/Various/Compilation ünï/1 Song.ogg"),
        uri("cat/missing.wav"),  # a missing file still becomes a track; QC gives it an error row
    ]
    assert [s.release_id for s in specs] == ["R1", "R1", "R2"]
    assert specs[0].isrc == "USAAA2500001" and specs[0].title == "Second" and specs[1].title == "1 Song"


def test_discover_missing_prefix_and_bucket_say_so(s3):
    with pytest.raises(ConfigError, match="no such object or prefix"):
        discover([uri("nothing/here")])
    with pytest.raises(ConfigError, match="no such object or prefix"):
        discover(["s3://no-such-bucket/cat"])


# --------------------------------------------------------------------------------------------------------------
# Reading audio objects


@pytest.mark.parametrize("key", list(OBJECTS))
@pytest.mark.parametrize("block_frames", [1000, 65536])
def test_probe_and_read_blocks_equal_the_local_copy(s3, key, block_frames):
    local = str(s3["local"] / key)
    remote_info, local_info = probe(uri(key)), probe(local)
    assert remote_info.path == uri(key)
    for field in ("sample_rate", "channels", "frames", "subtype", "container", "bits_per_sample", "is_float"):
        assert getattr(remote_info, field) == getattr(local_info, field), field
    remote = np.concatenate(list(read_blocks(uri(key), remote_info, block_frames=block_frames)), axis=1)
    expected = np.concatenate(list(read_blocks(local, local_info, block_frames=block_frames)), axis=1)
    np.testing.assert_array_equal(remote, expected)  # same bytes, same decoder: bit-identical


def test_missing_object_gives_the_clear_message(s3):
    with pytest.raises(InputError, match=r"^s3://.*/cat/nope\.wav: object not found; check the URI"):
        probe(uri("cat/nope.wav"))
    with pytest.raises(InputError, match="object not found"):
        probe("s3://no-such-bucket/a.wav")
    with pytest.raises(InputError, match="is a prefix"):
        probe(uri("cat"))
    info = probe(uri("cat/Artist A - First Album/01 Opening.wav"))
    with pytest.raises(InputError, match="object not found"):
        next(read_blocks(uri("cat/gone.wav"), info))


def test_truncated_object_is_caught_like_a_truncated_file(s3):
    key = "cat/Artist A - First Album/01 Opening.wav"
    data = (s3["local"] / key).read_bytes()
    storage.write_bytes_atomic(uri("broken/cut.wav"), data[: len(data) // 2])
    try:
        with pytest.raises(InputError, match="truncated export or copy"):
            probe(uri("broken/cut.wav"))
    finally:
        storage.remove(uri("broken/cut.wav"))


def test_refused_credentials_give_the_credentials_hint(monkeypatch):
    # A second server that checks signatures: keys it never issued are refused (403).
    proc, endpoint = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        for k, v in _s3_env(endpoint).items():
            monkeypatch.setenv(k, v)
        with pytest.raises(InputError, match="access denied; check the credentials"):
            probe("s3://locked/a.wav")
        with pytest.raises(ConfigError, match="access denied; check the credentials"):
            discover(["s3://locked/cat"])
    finally:
        stop(proc)


def test_audit_track_on_an_object_matches_the_local_file(s3):
    from dataclasses import replace

    from farm.qc import audit_track

    (spec,) = discover([uri("cat/Artist A - First Album/01 Opening.wav")])
    remote = audit_track(spec)
    local_path = str(s3["local"] / "cat/Artist A - First Album/01 Opening.wav")
    local = audit_track(replace(spec, path=local_path, abs_path=local_path))
    assert remote.status == local.status and remote.row["error"] == ""
    for column in ("integrated_lufs", "true_peak_dbtp", "sample_peak_dbfs", "duration_s"):
        assert remote.row[column] == local.row[column], column


# --------------------------------------------------------------------------------------------------------------
# Writing and publishing


def test_single_objects_appear_whole_or_not_at_all(s3):
    target = uri("out/run.json")
    with storage.open_output(target) as fh:
        fh.write(b'{"a": 1}')
    assert storage.read_bytes(target) == b'{"a": 1}' and storage.stat(target).size == 8
    with pytest.raises(RuntimeError), storage.open_output(uri("out/half.bin")) as fh:
        fh.write(b"x" * 1000)
        raise RuntimeError("the writer died")
    assert not storage.exists(uri("out/half.bin"))  # nothing was uploaded
    assert storage.listdir(uri("out")) == ([], ["run.json"])
    storage.remove(target)
    assert not storage.exists(target)


def test_staged_run_on_s3(s3):
    _check_staged_run(uri("runs-test/qc"))


def _part(values: list[int]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"track_id": pa.array(values, pa.int64())}), buf)
    return buf.getvalue()


def _rows(root: str) -> list[int]:
    return sorted(storage.published_dataset(root, "tracks").to_table().column("track_id").to_pylist())


def _check_staged_run(root: str) -> None:
    assert storage.published_files(root) == []
    with pytest.raises(FileNotFoundError, match="no published"):
        storage.published_dataset(root, "tracks")

    # A run that dies before publishing leaves nothing readers can see, and its prefix is removed.
    with pytest.raises(RuntimeError), storage.StagedRun(root) as dead:
        dead.write_bytes("tracks/part-00000.parquet", _part([99]))
        raise RuntimeError("killed")
    assert not storage.exists(dead.prefix) and storage.current_pointer(root) is None

    with storage.StagedRun(root, run_id="run-1") as first:
        first.write_bytes("tracks/part-00000.parquet", _part([1, 2]))
        with first.open_output("tracks/part-00001.parquet") as fh:
            pq.write_table(pa.table({"track_id": pa.array([3], pa.int64())}), fh)
        first.write_bytes("run.json", b"{}")
        assert storage.published_files(root) == []  # parts written, nothing published yet
        manifest = first.publish({"tracks": 3})
    assert _rows(root) == [1, 2, 3]
    assert manifest["info"] == {"tracks": 3}
    assert [e["dataset"] for e in manifest["files"]] == ["", "tracks", "tracks"]

    # Resume: the next run keeps the published parts (no copy) and adds its own.
    second = storage.StagedRun(root, run_id="run-2")
    assert second.keep(storage.current_manifest(root), datasets=("tracks",)) == 2
    second.write_bytes("tracks/part-00000.parquet", _part([4]))
    # A reader in the meantime still sees run 1, whole.
    assert _rows(root) == [1, 2, 3]
    second.publish()
    assert _rows(root) == [1, 2, 3, 4]
    assert storage.current_pointer(root)["previous_manifest"] == "_runs/run-1/_SUCCESS"

    # A later run that replaces everything; pruning keeps what the current and previous manifests use.
    orphan = storage.StagedRun(root, run_id="run-0-orphan")
    orphan.write_bytes("tracks/part-00000.parquet", _part([0]))  # a crashed writer's leftovers
    with storage.StagedRun(root, run_id="run-3") as third:
        third.write_bytes("tracks/part-00000.parquet", _part([7]))
        third.publish()
    assert _rows(root) == [7]
    # Run 1's parts are still referenced by run 2's manifest (the previous publication): only the orphan goes.
    assert storage.prune(root) == ["run-0-orphan"]
    assert storage.listdir(storage.join(root, "_runs"))[0] == ["run-1", "run-2", "run-3"]
    assert storage.prune(root, keep_previous=False) == ["run-1", "run-2"]
    assert storage.listdir(storage.join(root, "_runs"))[0] == ["run-3"]
    assert _rows(root) == [7]


# --------------------------------------------------------------------------------------------------------------
# The command line, end to end


def test_farm_qc_over_an_s3_prefix_writes_local_datasets(s3, tmp_path, monkeypatch):
    import pyarrow.dataset as ds

    from tests.test_cli import farm

    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)  # farm() passes os.environ to the subprocess (and Ray's workers inherit it)
    out = tmp_path / "out"
    proc = farm("qc", uri("cat"), "--out", out, "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    table = ds.dataset(out / "qc" / "tracks").to_table().to_pylist()
    assert sorted(r["path"] for r in table) == sorted(uri(k) for k in OBJECTS)
    assert {r["release_id"] for r in table} == {"cat/Artist A - First Album", "cat/Various/Compilation ünï"}
    assert all(r["status"] != "error" for r in table), [r["error"] for r in table]
    assert {r["track_id"] for r in table} == {track_id_for(uri(k)) for k in OBJECTS}


def test_farm_qc_writes_to_s3_and_resumes_there(s3, tmp_path, monkeypatch):
    """--out s3://…: the datasets are published under OUT/qc (manifest + pointer); a re-run resumes from them;
    a changed object is redone and its row replaced, never duplicated."""
    from farm import storage
    from tests.test_cli import farm

    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)
    out = uri("runs/qc-1")
    proc = farm("qc", uri("cat"), "--out", out, "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    root = storage.join(out, "qc")
    rows = storage.published_dataset(root, "tracks").to_table().to_pylist()
    assert sorted(r["path"] for r in rows) == sorted(uri(k) for k in OBJECTS)
    assert all(r["input_size"] and r["input_mtime_ns"] for r in rows)
    again = farm("qc", uri("cat"), "--out", out, "--workers", 2)
    assert again.returncode == 0, again.stderr
    assert f"resume: {len(OBJECTS)} of {len(OBJECTS)}" in again.stderr.replace("\n", " ")
    # one object changes (rewritten: new size/mtime): only it is redone, its row replaced
    key = sorted(OBJECTS)[0]
    storage.write_bytes_atomic(uri(key), storage.read_bytes(uri(key)))
    third = farm("qc", uri("cat"), "--out", out, "--workers", 2)
    assert third.returncode == 0, third.stderr
    assert f"resume: {len(OBJECTS) - 1} of {len(OBJECTS)}" in third.stderr.replace("\n", " ")
    rows3 = storage.published_dataset(root, "tracks").to_table().to_pylist()
    assert sorted(r["track_id"] for r in rows3) == sorted(r["track_id"] for r in rows)
    redo = farm("qc", uri("cat"), "--out", out, "--workers", 2, "--redo")
    assert redo.returncode == 0 and "resume:" not in redo.stderr
    assert len(storage.published_dataset(root, "tracks").to_table()) == len(OBJECTS)


def test_farm_master_out_to_s3_uploads_the_release(s3, tmp_path, monkeypatch):
    """farm master --out s3://…: every task stages on its own node and uploads what it made (the delivery task
    downloads the masters), the driver uploads plans and datasets; nothing is left in the staging folders; a
    re-run resumes from the object store without duplicating a row."""
    import hashlib
    import json

    import pyarrow.dataset as pads

    from farm import storage
    from farm.synth.mixes import make_unmastered_release
    from tests.test_cli import farm

    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setenv("FARM_STAGING", str(staging))
    manifest = make_unmastered_release(tmp_path / "mix", seed=2, tracks=2, duration_s=8.0, sample_rate=44100,
                                       renderer="builtin", release_id="S3-ALBUM")
    out = uri("runs/master-1")
    proc = farm("master", manifest, "--out", out, "--formats", "streaming", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "uploaded" in proc.stdout
    m = json.loads(storage.read_bytes(storage.join(out, "releases/S3-ALBUM/manifest.json")))
    assert m["checks"] == "pass" and len([d for d in m["deliverables"] if d["format"] == "streaming"]) == 2
    for d in m["deliverables"]:
        assert storage.exists(storage.join(out, "releases/S3-ALBUM", d["path"]))
    assert storage.exists(storage.join(out, "releases/S3-ALBUM/plan.json"))
    for entry in m["masters"]:  # uploaded by the mastering tasks, read back by the delivery task
        data = storage.read_bytes(storage.join(out, "releases/S3-ALBUM", entry["path"]))
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert list(staging.iterdir()) == []  # every task and the driver removed their folders

    def mastering_rows():
        fs, root = storage.filesystem_for(storage.join(out, "qc/mastering"))
        return pads.dataset(root, filesystem=fs, format="parquet").to_table().to_pylist()

    rows = mastering_rows()
    assert len(rows) == 2 and all(r["master_path"].startswith(out + "/releases/S3-ALBUM/masters/") for r in rows)
    again = farm("master", manifest, "--out", out, "--formats", "streaming", timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resume: 1 release(s) already delivered" in again.stdout
    assert sorted(r["track_id"] for r in mastering_rows()) == sorted(r["track_id"] for r in rows)
    assert list(staging.iterdir()) == []
