"""Deliver one mastered release in every format asked for, write its ``manifest.json``, return every check.

:func:`deliver_release` is the unit of work the cluster runs per release (after all its tracks are mastered). A
format that cannot be made at all (a CD of 100 tracks, an album too long for the tape) becomes a failed check
with the reason, and the other formats are still made; a release with any failed check is reported as failed.

``manifest.json`` (the contract of the deliverables issue)::

    {"release_id", "upc", "title", "artist", "farm_version", "preset", "mode", "forced", "formats",
     "checks": "pass" | "fail",
     "deliverables": [{"format", "path", "track" | "side", "isrc", "sha256", "checks", ...}],
     "masters": [{"path", "track", "isrc", "sha256"}],
     "warnings": [...]}

``path`` is relative to the manifest's folder; for ``cd_ddp`` it is the DDP folder and ``sha256`` that of its
IMAGE.DAT.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from farm import __version__
from farm.atomic import write_text
from farm.deliver.model import Check, Deliverable, DeliveryRelease, DeliveryTrack
from farm.errors import DeliverableError

__all__ = ["DeliveryOptions", "DeliveryJob", "deliver_release", "DEFAULT_FORMATS", "parse_formats"]

DEFAULT_FORMATS = ("streaming", "cd")
_ALL = ("streaming", "hires", "cd", "vinyl", "cassette", "lossy")


def parse_formats(text: str) -> tuple[str, ...]:
    """``"streaming,cd"`` -> ``("streaming", "cd")``, checked; order of :data:`_ALL`."""
    from farm.errors import ConfigError  # noqa: PLC0415

    asked = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in asked if f not in _ALL]
    if bad or not asked:
        raise ConfigError(f"--formats {text!r}: unknown format(s) {bad}; choose from {','.join(_ALL)}")
    return tuple(f for f in _ALL if f in asked)


@dataclass(frozen=True)
class DeliveryOptions:
    formats: tuple[str, ...] = DEFAULT_FORMATS
    wav: bool = False
    vinyl: str = "12in33"
    tape: str = "C60"
    noise_shaping: bool = False


@dataclass(frozen=True)
class DeliveryJob:
    """One release to deliver: its masters, where it goes, and how to render the vinyl pre-master (the
    track plans, applied to the sources without the limiter at the gain the mastering found)."""

    release: DeliveryRelease
    release_dir: str
    options: DeliveryOptions
    plans: dict = field(default_factory=dict)  # track number -> TrackPlan
    gains_db: dict = field(default_factory=dict)  # track number -> gain found by the loudness search
    manifest_head: dict = field(default_factory=dict)  # preset, mode, forced
    masters: tuple[dict, ...] = ()
    # With ``--out`` on object storage: the release's prefix there. The task downloads the masters (objects)
    # into a folder of its own node's, writes and checks every deliverable there, uploads them (``manifest.json``
    # last) and removes the folder (see farm.master.run.MasterJob).
    remote_release: str = ""


@dataclass(frozen=True)
class DeliveryOutcome:
    release_id: str
    checks: tuple[dict, ...]
    deliverables: tuple[Deliverable, ...]
    warnings: tuple[str, ...]
    failed: bool
    wall_s: float
    manifest_json: str = ""  # the manifest written (the driver keeps a copy beside plan.json for the report)


def _premaster_fn(job: DeliveryJob):
    """``premaster(track)``: the track's chain without its limiter, at the mastering's gain (so the album's
    relative levels hold); peaks may exceed full scale here, the vinyl writer sets the side's level."""
    from farm.master.chain import apply_plan  # noqa: PLC0415
    from farm.master.plan import Limiter, Loudness  # noqa: PLC0415
    from farm.master.run import read_track  # noqa: PLC0415

    def premaster(track: DeliveryTrack) -> tuple[np.ndarray, int]:
        plan = job.plans.get(track.number)
        if plan is None or not track.source_path:
            from farm.master.run import read_track as read  # noqa: PLC0415

            return read(track.master_path)
        x, sr = read_track(track.source_path)
        gain = float(job.gains_db.get(track.number) or 0.0)
        unlimited = replace(plan, limiter=Limiter(enabled=False), loudness=Loudness(target_lufs=None, gain_db=gain))
        return np.asarray(apply_plan(x, sr, unlimited).audio), sr

    return premaster


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deliver_release(job: DeliveryJob) -> DeliveryOutcome:
    """Write every format of ``job.options.formats``, then ``manifest.json``; never raises."""
    if not job.remote_release:
        return _deliver(job, Path(job.release_dir))
    import shutil  # noqa: PLC0415

    from farm import storage  # noqa: PLC0415

    t0 = time.perf_counter()
    stage = storage.staging_dir("farm-deliver-")
    try:
        tracks = []
        for tr in job.release.tracks:  # the masters, from the object store onto this node
            local = stage / "masters" / storage.basename(tr.master_path)
            storage.download_file(tr.master_path, local)
            tracks.append(replace(tr, master_path=str(local)))
        local_job = replace(job, release=replace(job.release, tracks=tuple(tracks)), release_dir=str(stage))
        outcome = _deliver(local_job, stage)
        storage.upload_tree(stage, job.remote_release, exclude=stage / "masters")  # uploaded by their tasks
        return outcome
    except OSError as exc:
        why = f"object storage: {exc}"
        row = {"release_id": job.release.release_id, "format": "", "path": job.remote_release,
               "check": "deliverable_made", "passed": False, "expected": "uploaded", "measured": "not uploaded",
               "detail": why}
        return DeliveryOutcome(job.release.release_id, (row,), (), (why,), True, time.perf_counter() - t0)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _deliver(job: DeliveryJob, out: Path) -> DeliveryOutcome:
    t0 = time.perf_counter()
    rel = job.release
    deliverables: list[Deliverable] = []
    checks: list[Check] = []
    warnings: list[str] = []
    for fmt in job.options.formats:
        try:
            result = _write_format(fmt, job, out)
        except DeliverableError as exc:
            checks.append(Check(fmt, "", "deliverable_made", False, "made", "not made", str(exc)))
            warnings.append(f"{fmt}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one format's bug must not lose the others
            checks.append(Check(fmt, "", "deliverable_made", False, "made", "internal error",
                                f"{exc.__class__.__name__}: {exc}; please report it"))
            warnings.append(f"{fmt}: internal error ({exc.__class__.__name__}: {exc})")
            continue
        deliverables += result.deliverables
        checks += result.checks
        warnings += [f"{fmt}: {w}" for w in result.warnings]
    failed = any(not c.passed for c in checks)
    manifest = {
        "farm_version": __version__,
        "release_id": rel.release_id,
        "upc": rel.upc,
        "title": rel.title,
        "artist": rel.artist,
        **job.manifest_head,
        "formats": list(job.options.formats),
        "checks": "fail" if failed else "pass",
        "deliverables": [_entry(d) for d in deliverables],
        "masters": list(job.masters),
        "warnings": warnings,
    }
    text = json.dumps(manifest, indent=2, allow_nan=False, default=str) + "\n"
    write_text(out / "manifest.json", text)
    rows = tuple({"release_id": rel.release_id, **asdict(c)} for c in checks)
    return DeliveryOutcome(rel.release_id, rows, tuple(deliverables), tuple(warnings), failed,
                           time.perf_counter() - t0, text)


def _entry(d: Deliverable) -> dict:
    e = {"format": d.format, "path": d.path}
    if d.track is not None:
        e["track"] = d.track
    if d.side is not None:
        e["side"] = d.side
    if d.isrc:
        e["isrc"] = d.isrc
    e["sha256"] = d.sha256
    e["checks"] = d.checks
    e.update({k: v for k, v in d.extra.items() if k not in e})
    return e


def _write_format(fmt: str, job: DeliveryJob, out: Path):
    rel, o = job.release, job.options
    if fmt == "streaming":
        from farm.deliver.files import write_streaming  # noqa: PLC0415

        return write_streaming(rel, out, wav=o.wav)
    if fmt == "hires":
        from farm.deliver.files import write_hires  # noqa: PLC0415

        return write_hires(rel, out)
    if fmt == "lossy":
        from farm.deliver.files import write_lossy  # noqa: PLC0415

        return write_lossy(rel, out)
    if fmt == "cd":
        from farm.deliver.cd import write_cd  # noqa: PLC0415

        return write_cd(rel, out, noise_shaping=o.noise_shaping)
    if fmt == "vinyl":
        from farm.deliver.vinyl import write_vinyl  # noqa: PLC0415

        return write_vinyl(rel, out, size=o.vinyl, premaster=_premaster_fn(job))
    if fmt == "cassette":
        from farm.deliver.cassette import write_cassette  # noqa: PLC0415

        return write_cassette(rel, out, tape=o.tape)
    raise DeliverableError(f"unknown format {fmt!r}")
