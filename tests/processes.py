"""Processes the tests start on loopback: a free port, waiting for it to open, and ending a process by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


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
