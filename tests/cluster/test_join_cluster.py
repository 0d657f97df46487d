"""`farm qc --address` joins a running Ray cluster: a real `ray start` head on loopback, token auth on."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import soundfile as sf

from tests.processes import free_port, ray_cluster_env, stop


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if not Path(ray_cli).exists():
        pytest.skip("the `ray` command is not installed next to this Python")
    home = tmp_path_factory.mktemp("home")  # the cluster's auth token lies under $HOME/.ray
    temp = Path(f"/tmp/farm-test-ray-{os.getpid()}")  # short: Ray's unix socket paths must fit 107 bytes
    port = free_port()
    env = {
        **ray_cluster_env(home),
        # Ray's single-machine mode keeps every server on loopback (see cluster/runtime.py).
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }
    proc = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.fail(f"ray start exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("ray head did not open its port in 60 s")
    try:
        yield address, env
    finally:
        # End the head and everything it started: its own process group, created above, by its pid.
        stop(proc, group=True, timeout_s=5)  # `ray start --block` outlasts any SIGTERM grace: the group is killed
        shutil.rmtree(temp, ignore_errors=True)


def test_qc_joins_an_existing_cluster(ray_head, tmp_path):
    address, env = ray_head
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(src / f"{i}.wav", 0.1 * rng.standard_normal((48000, 2)), 48000, subtype="PCM_24")
    (src / "broken.wav").write_text("not audio")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "farm.cli", "qc", str(src), "--out", str(out), "--address", address],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr  # one unreadable input
    assert f"Ray at {address}" in proc.stderr
    rows = ds.dataset(out / "qc" / "tracks").to_table().to_pylist()
    assert sorted(r["status"] == "error" for r in rows) == [False, False, False, True]


def test_unreachable_address_is_a_one_line_error(tmp_path):
    src = tmp_path / "a.wav"
    sf.write(src, np.zeros((4800, 2)), 48000)
    proc = subprocess.run(
        [sys.executable, "-m", "farm.cli", "qc", str(src), "--out", str(tmp_path / "o"), "--address",
         f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot start or join" in proc.stderr
