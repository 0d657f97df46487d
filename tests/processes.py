"""Processes the tests start on loopback: a free port, waiting for it to open, ending a process by its pid, and the
environment of a test Ray cluster."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_opens(port: int, proc: subprocess.Popen, timeout_s: float = 30.0) -> bool:
    """Wait until 127.0.0.1:``port`` accepts a connection; False if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def stop(proc: subprocess.Popen, *, group: bool = False, timeout_s: float = 10.0) -> None:
    """End ``proc`` by its pid (``group``: its whole process group, which ``start_new_session`` made): SIGTERM,
    then SIGKILL if it has not exited within ``timeout_s``."""
    if proc.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill(proc.pid, signal.SIGKILL)
        proc.wait()


def ray_cluster_env(home: Path) -> dict[str, str]:
    """The environment for a test Ray cluster and the clients that join it: token authentication on, with a token
    of its own under ``home/.ray/auth_token``, whatever the test process inherited.

    Ray switches token mode on in ``os.environ`` of any process that ran ``ray.init`` (``RAY_AUTH_MODE=token``);
    a cluster started later from that process, with a fresh ``HOME`` and no token in it, then refused to start
    (it happened when the suite's files ran in a different order across test processes). So the mode is set here
    and the token written first, rather than left to what came before.
    """
    (home / ".ray").mkdir(parents=True, exist_ok=True)
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env.update(HOME=str(home), RAY_AUTH_MODE="token")
    return env

