"""A real two-node Ray cluster on loopback: a worker process killed mid-run loses nothing, a re-run redoes nothing.

`ray start --head` and a second `ray start --address` node (each with one CPU, every server on 127.0.0.1), then
`farm qc --address` over a catalogue of short files; while it runs, the test kills the process of a Ray worker
that is auditing a track (by its pid). Every track must end with exactly one row; the re-run must skip them all.
Every process the test starts is ended by its own pid (its process group).
"""

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

N_FILES = 120  # the default suite; the slow variant below runs the "few thousand"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if not Path(ray_cli).exists():
        pytest.skip("the `ray` command is not installed next to this Python")
    home = tmp_path_factory.mktemp("home")  # the cluster's auth token lies under $HOME/.ray; both nodes read it
    temp = Path(f"/tmp/farm-faults-{os.getpid()}")
    port = free_port()
    env = ray_cluster_env(home)
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(temp),
         *common], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    procs = [head]
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if head.poll() is not None:
                pytest.fail(f"ray head exited: {head.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
        node = subprocess.Popen([ray_cli, "start", "--address", address, *common], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        procs.append(node)
        # wait until the cluster has both nodes' CPUs
        probe = ("import ray,time\nray.init(address='%s', _node_ip_address='127.0.0.1')\nt=time.time()\n"
                 "while ray.cluster_resources().get('CPU',0)<2 and time.time()-t<60: time.sleep(0.5)\n"
                 "print(int(ray.cluster_resources().get('CPU',0)))" % address)
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
        assert out.stdout.strip().endswith("2"), out.stderr[-2000:]
        yield address, env, temp
    finally:
        # `ray start --block` does not end on SIGTERM (the group was killed after the whole 30 s wait every time):
        # a short grace, then SIGKILL to the group, ends it the same way 25 s sooner
        for p in reversed(procs):
            stop(p, group=True, timeout_s=5)
        shutil.rmtree(temp, ignore_errors=True)


def _worker_pids(temp: Path) -> list[int]:
    """Pids of Ray worker processes of this test's cluster that are running a farm task."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and ("_audit_remote" in cmd or "_call_remote" in cmd):
            try:
                env = (d / "environ").read_bytes()
            except OSError:
                continue
            if str(temp).encode() in env or b"RAY_" in env:
                pids.append(int(d.name))
    return pids


def test_killed_worker_loses_nothing_and_rerun_redoes_nothing(two_nodes, tmp_path):
    _killed_worker_run(two_nodes, tmp_path, N_FILES)


@pytest.mark.slow
def test_a_few_thousand_files_with_a_killed_worker(two_nodes, tmp_path):
    _killed_worker_run(two_nodes, tmp_path, 3000)


def _killed_worker_run(two_nodes, tmp_path, N_FILES: int) -> None:
    address, env, temp = two_nodes
    src = tmp_path / "catalogue"
    rng = np.random.default_rng(1)
    for i in range(N_FILES):
        folder = src / f"release-{i // 10:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        t = np.arange(24000) / 48000
        x = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)[:, None] * np.ones((1, 2))
        sf.write(folder / f"{i % 10:02d}.wav", x + 0.01 * rng.standard_normal(x.shape), 48000, subtype="PCM_16")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "farm.cli", "qc", str(src), "--out", str(out), "--address", address,
           "--log-json", str(tmp_path / "progress.jsonl")]
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    killed = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and run.poll() is None:
            pids = _worker_pids(temp)
            if pids:
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)
            else:
                time.sleep(0.05)
        stdout, stderr = run.communicate(timeout=600)
    finally:
        stop(run, group=True, timeout_s=30)
    assert killed is not None, "no Ray worker running a farm task was seen to kill"
    assert run.returncode in (0, 2), stderr[-3000:]
    rows = ds.dataset(out / "qc" / "tracks").to_table().to_pylist()
    ids = [r["track_id"] for r in rows]
    assert len(ids) == len(set(ids)) == N_FILES  # exactly one row per track
    # the killed task was retried (Ray's max_retries) or recorded as an error row with the reason
    assert all(r["status"] != "error" or "worker" in r["error"] for r in rows)
    progress = (tmp_path / "progress.jsonl").read_text().splitlines()
    assert '"event": "end"' in progress[-1] and f'"tracks_total": {N_FILES}' in progress[-1]

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode in (0, 2)
    good = sum(r["status"] != "error" for r in rows)
    assert f"resume: {good} of {N_FILES}" in again.stderr.replace("\n", " "), again.stderr[-2000:]
    rows2 = ds.dataset(out / "qc" / "tracks").to_table().to_pylist()
    assert sorted(r["track_id"] for r in rows2) == sorted(ids)  # nothing duplicated
    events = ds.dataset(out / "qc" / "events").to_table().column("track_id").to_pylist()
    assert set(events) <= set(ids)


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (from each process's parent pid in /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    found, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def _runs_farm_task(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return cmd.startswith("ray::") and "_audit_remote" in cmd


def test_lost_node_loses_nothing(two_nodes, tmp_path):
    """A third node joins, takes tasks, and is lost mid-run (every process of it killed by its pid: raylet,
    object store and workers at once): its tasks are retried on the nodes left, every track has exactly
    one row."""
    address, env, _ = two_nodes
    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    node = subprocess.Popen([ray_cli, "start", "--address", address, "--node-ip-address", "127.0.0.1",
                             "--num-cpus", "1", "--disable-usage-stats", "--block"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run = None
    try:
        probe = ("import ray,time\nray.init(address='%s', _node_ip_address='127.0.0.1')\nt=time.time()\n"
                 "while ray.cluster_resources().get('CPU',0)<3 and time.time()-t<60: time.sleep(0.5)\n"
                 "print(int(ray.cluster_resources().get('CPU',0)))" % address)
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
        assert out.stdout.strip().endswith("3"), out.stderr[-2000:]
        n_files = 90
        src = tmp_path / "catalogue"
        src.mkdir()
        rng = np.random.default_rng(2)
        for i in range(n_files):
            x = 0.2 * rng.standard_normal((48000 * 4, 2))
            sf.write(src / f"{i:03d}.wav", x, 48000, subtype="PCM_16")
        out_dir = tmp_path / "out"
        run = subprocess.Popen([sys.executable, "-m", "farm.cli", "qc", str(src), "--out", str(out_dir),
                                "--address", address], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
        lost = False
        deadline = time.monotonic() + 120
        while not lost and time.monotonic() < deadline and run.poll() is None:
            below = _descendants(node.pid)
            if any(_runs_farm_task(p) for p in below):  # the node runs farm tasks: lose it, all at once
                for pid in [node.pid, *below]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                node.wait()
                lost = True
            else:
                time.sleep(0.05)
        stdout, stderr = run.communicate(timeout=600)
        assert lost, "the third node never ran a farm task"
        assert run.returncode in (0, 2), stderr[-3000:]
        rows = ds.dataset(out_dir / "qc" / "tracks").to_table().to_pylist()
        ids = [r["track_id"] for r in rows]
        assert len(ids) == len(set(ids)) == n_files
        assert all(r["status"] != "error" or "worker" in r["error"] for r in rows)
        alive = ("import ray,time\nray.init(address='%s', _node_ip_address='127.0.0.1')\nt=time.time()\n"
                 "while sum(n['Alive'] for n in ray.nodes())>2 and time.time()-t<90: time.sleep(1)\n"
                 "print(sum(n['Alive'] for n in ray.nodes()))" % address)
        nodes = subprocess.run([sys.executable, "-c", alive], env=env, capture_output=True, text=True, timeout=120)
        assert nodes.stdout.strip().endswith("2"), nodes.stdout + nodes.stderr[-2000:]  # the node is gone
    finally:
        if run is not None:
            stop(run, group=True, timeout_s=30)
        stop(node, group=True, timeout_s=30)
