"""Starting or joining Ray, and running the QC audit over a catalogue on it.

This is the only package that imports Ray. The farm's functions stay plain callables; here they become Ray tasks.

- Embedded by default: ``ray.init(address="local")`` with every server bound to 127.0.0.1, dashboard off,
  nothing to install or start, shut down at the end, its session folder removed. ``address`` joins an existing
  cluster instead (``HOST:PORT`` or ``auto``); Ray's token authentication stays as the cluster has it.
- Bounded work in flight: at most ``2 x workers`` tasks are submitted at once, so a catalogue of a million
  tracks never sits in the object store or the driver's memory as futures.
- Audio moves as paths; only the small result rows come back.
- A task whose worker dies is retried by Ray (``max_retries``); if it still fails the track gets one ``error``
  row and the run goes on.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import ray

from farm.allocator import keep_freed_memory
from farm.catalogue import TrackSpec
from farm.errors import ConfigError
from farm.qc import QCConfig, TrackReport, audit_track, error_report

TASK_RETRIES = 2
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ClusterConfig:
    """Where to run: ``address=None`` for an embedded local Ray, else a cluster address."""

    address: str | None = None
    workers: int | None = None
    gpu: str = "auto"  # auto | on | off

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers {self.workers} must be at least 1")
        if self.gpu not in ("auto", "on", "off"):
            raise ConfigError(f"--gpu {self.gpu!r} must be auto, on or off")


@dataclass(frozen=True)
class SessionInfo:
    """What the run got: the address, whether Ray is embedded, and how many tasks may run at once."""

    address: str
    embedded: bool
    parallelism: int
    gpus: float = 0.0  # GPUs the tasks use (0: everything on CPU)
    gpu_note: str = ""
    warm_pids: frozenset[int] = frozenset()  # worker processes started and importing the farm before the run


# Ray turns a node address of 127.0.0.1 into the machine's outward address (ray.init and `ray start` alike) and
# then binds its gRPC servers to every interface. Its single-machine mode, the one it uses on macOS and Windows,
# keeps the node address on loopback, and then every server (GCS, raylet, workers, agents) binds 127.0.0.1 only.
# That mode is switched by this variable, read by the driver (patched below, as Ray may be imported already) and
# inherited by every process Ray starts.
_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextmanager
def _loopback_only() -> Iterator[None]:
    from ray._private import ray_constants  # noqa: PLC0415 - private, but the only switch Ray has for this

    saved_env, saved_flag = os.environ.get(_LOCAL_ONLY_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_LOCAL_ONLY_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(_LOCAL_ONLY_ENV, None)
        else:
            os.environ[_LOCAL_ONLY_ENV] = saved_env


@contextmanager
def ray_session(config: ClusterConfig) -> Iterator[SessionInfo]:
    """Start an embedded Ray (or join ``config.address``) for the duration of the ``with`` block."""
    if config.address is None and not ray.is_initialized():
        # A private session folder (logs, sockets), removed afterwards: nothing is left behind in /tmp/ray.
        temp_dir = tempfile.mkdtemp(prefix="farm-ray-")
        try:
            with _loopback_only(), _ray_session(config, temp_dir=temp_dir) as info:
                yield info
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)
    elif config.address is not None and _is_loopback(config.address) and not ray.is_initialized():
        # A cluster on this machine's loopback (a test cluster, or one behind an SSH tunnel): the driver must
        # stay on loopback too, or it would advertise, and listen on, the machine's outward address.
        with _loopback_only(), _ray_session(config, temp_dir=None) as info:
            yield info
    else:
        with _ray_session(config, temp_dir=None) as info:
            yield info


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast with a clear message: Ray itself retries an unreachable GCS for minutes."""
    if address in ("auto", "local") or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address {address!r} must be HOST:PORT (the Ray head's GCS port, 6379 by default) or 'auto'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot start or join the Ray cluster at {address}: {exc.strerror or exc}") from None


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


@contextmanager
def _ray_session(config: ClusterConfig, *, temp_dir: str | None) -> Iterator[SessionInfo]:
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
                    _temp_dir=temp_dir,
                    **common,
                )
            else:
                _check_reachable(config.address)
                ray.init(address=config.address, **common)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = config.address or "an embedded local Ray"
            raise ConfigError(f"cannot start or join {where}: {exc}") from None
        started = True
    try:
        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 1)) or 1
        parallelism = min(cpus, config.workers) if config.workers else cpus
        gpus, note = _gpu_plan(config.gpu, float(resources.get("GPU", 0.0)))
        warm = _warm_workers(max(1, parallelism))
        yield SessionInfo(
            address=config.address or "local",
            embedded=config.address is None,
            parallelism=max(1, parallelism),
            gpus=gpus,
            gpu_note=note,
            warm_pids=warm,
        )
    finally:
        if started:
            ray.shutdown()


#: How long the start-up waits for the workers to be ready before it goes on without them.
WARM_TIMEOUT_S = 120.0


@ray.remote(num_cpus=1, max_retries=0)
def _warm_remote() -> int:
    # Unpickling this task imports this module, and with it the audit and its kernels (SciPy's signal package
    # alone takes half a second); the import is named here so that it does not depend on that.
    import farm.qc  # noqa: F401, PLC0415

    return os.getpid()


def _warm_workers(count: int) -> frozenset[int]:
    """Start ``count`` workers and import the farm in each before the first track is handed out.

    A fresh worker spends most of a second starting and importing NumPy, SciPy and the kernels. Paid inside the
    run, that start-up lands on the first tracks (slowing them and the progress line's rate and ETA); paid here,
    it is part of the session's start-up, which the CLI reports as such ("ready in N s"). A worker that cannot
    start or import is not an error here: the tasks that follow report it, one error row per track. Returns the
    process ids of the workers that got ready (empty when the warm-up failed).
    """
    try:
        return frozenset(ray.get([_warm_remote.remote() for _ in range(count)], timeout=WARM_TIMEOUT_S))
    except Exception:  # noqa: BLE001 - start-up help only; the run's own tasks meet and report any failure
        logging.getLogger(__name__).debug("worker warm-up did not complete", exc_info=True)
        return frozenset()


#: Tasks sharing one GPU: the meters' arrays of a 64k-frame block are small, so several audits fit one device.
TASKS_PER_GPU = 4


def _gpu_plan(mode: str, cluster_gpus: float) -> tuple[float, str]:
    """How many GPUs the run's tasks use, and a line saying why.

    ``auto`` uses GPUs where the cluster has them and CuPy imports on the driver (the workers run the same
    image); ``on`` insists and fails with the reason; ``off`` never. Without GPUs everything runs on CPU with no
    configuration."""
    if mode == "off":
        return 0.0, "GPU off (--gpu off)"
    from kernels._xp import gpu_available  # noqa: PLC0415

    ok, why = gpu_available() if cluster_gpus > 0 else (False, "the cluster has no GPU")
    if cluster_gpus > 0 and ok:
        return cluster_gpus, f"DSP on {cluster_gpus:g} GPU(s), {TASKS_PER_GPU} tasks per GPU"
    if mode == "on":
        raise ConfigError(f"--gpu on, but {why}; use --gpu auto to fall back to CPU")
    return 0.0, f"CPU only ({why})"


@ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)
def _audit_remote(audit: Callable[[TrackSpec, QCConfig], TrackReport], spec: TrackSpec, config: QCConfig) -> TrackReport:
    keep_freed_memory()
    return audit(spec, config)


def run_qc(
    specs: Iterable[TrackSpec],
    qc_config: QCConfig,
    *,
    parallelism: int,
    in_flight_per_worker: int = 2,
    audit: Callable[[TrackSpec, QCConfig], TrackReport] = audit_track,
) -> Iterator[TrackReport]:
    """Audit every track on the current Ray session, yielding reports as they complete (not in input order).

    Exactly one report per spec: a task that still fails after Ray's retries (its worker killed, its node lost)
    becomes an ``error`` report. ``audit`` is the per-track function (the farm's audit unless a test injects
    faults).
    """
    limit = max(1, parallelism * in_flight_per_worker)
    remote = _audit_remote
    if qc_config.device == "gpu":
        # DSP on a GPU worker (the meters take CuPy arrays); decoding stays on the task's CPU
        remote = _audit_remote.options(num_gpus=1.0 / TASKS_PER_GPU)
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
            pending[remote.remote(audit, spec, config_ref)] = spec
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


@ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)
def _call_remote(fn: Callable[[T], R], item: T) -> R:
    keep_freed_memory()
    return fn(item)


def run_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    parallelism: int,
    on_failure: Callable[[T, str], R],
    in_flight_per_worker: int = 2,
    num_gpus: float = 0.0,
) -> Iterator[tuple[T, R]]:
    """Run ``fn`` on every item as a Ray task, yielding ``(item, result)`` as they complete.

    The mastering stages use it (``farm.master``): ``fn`` is a plain module-level function of the farm (with
    its configuration bound by :func:`functools.partial`) that never raises for bad input. A task that still
    fails after Ray's retries (its worker killed, its node lost) yields ``on_failure(item, reason)`` instead,
    so every item gets exactly one result. At most ``parallelism x in_flight_per_worker`` tasks are in flight.
    ``num_gpus`` (e.g. ``1 / TASKS_PER_GPU``) places every task on a GPU worker.
    """
    limit = max(1, parallelism * in_flight_per_worker)
    fn_ref = ray.put(fn)
    remote = _call_remote.options(num_gpus=num_gpus) if num_gpus else _call_remote
    pending: dict[ray.ObjectRef, T] = {}
    it = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            try:
                item = next(it)
            except StopIteration:
                exhausted = True
                break
            pending[remote.remote(fn_ref, item)] = item
        if not pending:
            return
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            item = pending.pop(ref)
            try:
                yield item, ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - worker crash, OOM kill, lost node: one failure result
                yield item, on_failure(
                    item, f"the worker failed {TASK_RETRIES + 1} times ({exc.__class__.__name__}): {_first_line(exc)}"
                )
