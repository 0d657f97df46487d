"""Starting or joining Ray, and running the QC audit over a catalogue on it.

This is the only package that imports Ray. The farm's functions stay plain callables; here they become Ray tasks.

- Embedded by default: ``ray.init(address="local")`` bound to 127.0.0.1, dashboard off, nothing to install or
  start, shut down at the end. ``address`` joins an existing cluster instead (``HOST:PORT`` or ``auto``).
- Bounded work in flight: at most ``2 x workers`` tasks are submitted at once, so a catalogue of a million
  tracks never sits in the object store or the driver's memory as futures.
- Audio moves as paths; only the small result rows come back.
- A task whose worker dies is retried by Ray (``max_retries``); if it still fails the track gets one ``error``
  row and the run goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ray

from farm.catalogue import TrackSpec
from farm.errors import ConfigError
from farm.qc import QCConfig, TrackReport, audit_track, error_report

TASK_RETRIES = 2


@dataclass(frozen=True)
class ClusterConfig:
    """Where to run: ``address=None`` for an embedded local Ray, else a cluster address."""

    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers {self.workers} must be at least 1")


@dataclass(frozen=True)
class SessionInfo:
    """What the run got: the address, whether Ray is embedded, and how many tasks may run at once."""

    address: str
    embedded: bool
    parallelism: int


@contextmanager
def ray_session(config: ClusterConfig) -> Iterator[SessionInfo]:
    """Start an embedded Ray (or join ``config.address``) for the duration of the ``with`` block."""
    started = False
    if not ray.is_initialized():
        common = dict(
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
        )
        try:
            if config.address is None:
                ray.init(
                    address="local",
                    num_cpus=config.workers or os.cpu_count() or 1,
                    # Nothing listens beyond loopback unless the user asks for a cluster.
                    _node_ip_address="127.0.0.1",
                    **common,
                )
            else:
                ray.init(address=config.address, **common)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = config.address or "an embedded local Ray"
            raise ConfigError(f"cannot start or join {where}: {exc}") from None
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        parallelism = min(cpus, config.workers) if config.workers else cpus
        yield SessionInfo(
            address=config.address or "local",
            embedded=config.address is None,
            parallelism=max(1, parallelism),
        )
    finally:
        if started:
            ray.shutdown()


@ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)
def _audit_remote(spec: TrackSpec, config: QCConfig) -> TrackReport:
    return audit_track(spec, config)


def run_qc(
    specs: Iterable[TrackSpec], qc_config: QCConfig, *, parallelism: int, in_flight_per_worker: int = 2
) -> Iterator[TrackReport]:
    """Audit every track on the current Ray session, yielding reports as they complete (not in input order).

    Exactly one report per spec: a task that still fails after Ray's retries becomes an ``error`` report.
    """
    limit = max(1, parallelism * in_flight_per_worker)
    config_ref = ray.put(qc_config)
    pending: dict[ray.ObjectRef, TrackSpec] = {}
    specs_iter = iter(specs)
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            try:
                spec = next(specs_iter)
            except StopIteration:
                exhausted = True
                break
            pending[_audit_remote.remote(spec, config_ref)] = spec
        if not pending:
            return
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            spec = pending.pop(ref)
            try:
                yield ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - worker crash, OOM kill, lost node: one error row
                yield error_report(
                    spec,
                    f"the worker measuring this track failed {TASK_RETRIES + 1} times "
                    f"({exc.__class__.__name__}): {_first_line(exc)}",
                    profile_name=qc_config.profile.name,
                )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else ""
