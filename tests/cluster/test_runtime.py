"""The Ray runner: loopback only, one report per track even when a worker dies, bounded work in flight."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import ray
import soundfile as sf

from cluster.runtime import ClusterConfig, ray_session, run_qc
from farm.catalogue import discover
from farm.errors import ConfigError
from farm.qc import QCConfig, audit_track


def _listening() -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket on this machine, from /proc (IPv4 and IPv6)."""
    found = set()
    for name, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] != "0A":  # LISTEN
                continue
            addr_hex, port_hex = cols[1].split(":")
            raw = bytes.fromhex(addr_hex)
            if v6:
                # /proc prints four little-endian 32-bit words
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, raw)
            else:
                addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
            found.add((addr, int(port_hex, 16)))
    return found


def _loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1") or addr.startswith("::ffff:127.")


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    root = tmp_path_factory.mktemp("rt")
    rng = np.random.default_rng(1)
    for i in range(5):
        sf.write(root / f"{i:02d}.wav", 0.1 * rng.standard_normal((48000, 2)), 48000, subtype="PCM_16")
    return discover([str(root)])


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp to list sockets")
def test_embedded_ray_listens_on_loopback_only(tracks):
    before = _listening()
    with ray_session(ClusterConfig(workers=1)) as session:
        reports = list(run_qc(tracks[:1], QCConfig(), parallelism=session.parallelism))
        opened = _listening() - before
    assert reports[0].status != "error"
    assert opened, "Ray opened no listening socket at all: the check is not seeing Ray"
    exposed = sorted(a for a in opened if not _loopback(a[0]))
    assert exposed == [], f"listening beyond loopback: {exposed}"


def _crash_on_third(spec, config):
    # A worker process dying outright (segfault in a decoder, OOM kill): Ray retries, then gives up.
    if spec.path.endswith("02.wav"):
        os._exit(1)
    return audit_track(spec, config)


def _raise_on_first(spec, config):
    if spec.path.endswith("00.wav"):
        raise RuntimeError("decoder exploded")
    return audit_track(spec, config)


def test_dead_worker_and_raising_task_give_one_error_row_each(tracks):
    with ray_session(ClusterConfig(workers=2)) as session:
        crashed = list(run_qc(tracks, QCConfig(), parallelism=session.parallelism, audit=_crash_on_third))
        raised = list(run_qc(tracks, QCConfig(), parallelism=session.parallelism, audit=_raise_on_first))
    for reports, bad in ((crashed, "02.wav"), (raised, "00.wav")):
        assert sorted(r.row["path"] for r in reports) == sorted(s.path for s in tracks)  # exactly one each
        by_name = {Path(r.row["path"]).name: r for r in reports}
        assert by_name[bad].status == "error"
        assert "failed" in by_name[bad].row["error"]
        assert all(r.status != "error" for n, r in by_name.items() if n != bad)


@ray.remote(num_cpus=1)
def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_session_starts_its_workers_before_the_first_track():
    with ray_session(ClusterConfig(workers=2)) as session:
        assert len(session.warm_pids) == 2
        # the run's tasks land on the workers that were started (and imported the farm) during the start-up
        used = set(ray.get([_pid_after.remote(0.3) for _ in range(4)]))
    assert used <= session.warm_pids


@ray.remote(num_cpus=1, max_retries=0)
def _broken_warm_up() -> int:
    raise ImportError("no farm on this worker")


def test_a_failed_warm_up_does_not_stop_the_run(tracks, monkeypatch):
    import cluster.runtime as runtime  # noqa: PLC0415

    monkeypatch.setattr(runtime, "_warm_remote", _broken_warm_up)
    with ray_session(ClusterConfig(workers=1)) as session:
        reports = list(run_qc(tracks[:1], QCConfig(), parallelism=session.parallelism))
    assert session.warm_pids == frozenset()
    assert reports[0].status != "error"


def test_workers_must_be_positive():
    with pytest.raises(ConfigError):
        ClusterConfig(workers=0)


def test_gpu_plan_falls_back_to_cpu_and_on_insists():
    from cluster.runtime import _gpu_plan
    from farm.errors import ConfigError

    assert _gpu_plan("off", 4.0) == (0.0, "GPU off (--gpu off)")
    gpus, note = _gpu_plan("auto", 0.0)
    assert gpus == 0.0 and "no GPU" in note
    with pytest.raises(ConfigError, match="--gpu on, but the cluster has no GPU"):
        _gpu_plan("on", 0.0)


def _gpu_ids(_item) -> list:
    import ray

    return list(ray.get_gpu_ids())


def test_run_map_places_tasks_on_gpu_workers(tmp_path):
    # The scheduling half of `farm master --gpu`: with num_gpus the tasks get a GPU of the cluster, without it
    # they do not. A cluster that declares one GPU (Ray takes the declaration as it is) stands in for a GPU node.
    import ray

    from cluster.runtime import TASKS_PER_GPU, run_map

    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        fail = lambda item, why: why  # noqa: E731
        placed = list(run_map(_gpu_ids, range(4), parallelism=2, on_failure=fail, num_gpus=1.0 / TASKS_PER_GPU))
        assert len(placed) == 4 and all(ids == [0] or ids == ["0"] for _, ids in placed), placed
        plain = list(run_map(_gpu_ids, range(2), parallelism=2, on_failure=fail))
        assert all(ids == [] for _, ids in plain), plain
    finally:
        ray.shutdown()
