"""The units of work of ``farm master``: analyse a track, master a track, finish a release.

The cluster runs :func:`analyse_track` on every track, the driver decides one plan per release
(:func:`farm.master.plan.decide`), the cluster runs :func:`master_track` on every track of the releases that are
not held, and the driver finishes each release (:func:`finish_release`: ``manifest.json``). None of them raises
for a bad input: a broken file becomes a row with its message.

Output layout (``DIR`` is ``--out``)::

    DIR/releases/<release>/plan.json          the decisions and their reasons (edit it, give it to --plan)
    DIR/releases/<release>/HOLD.txt           only for a held release: what to fix, where
    DIR/releases/<release>/masters/NN Title.wav       32-bit float WAV at the source rate
    DIR/releases/<release>/manifest.json      the deliverables (farm.deliver.release), with their sha256
    DIR/qc/mastering/part-*.parquet           one before/after row per track

``<release>`` is the release id made safe as a folder name (:func:`safe_name`).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from farm import storage
from farm.atomic import write_audio
from farm.audio import probe, read_blocks
from farm.catalogue import TrackSpec
from farm.errors import InputError
from farm.master.analysis import TrackAnalysis, analyse
from farm.master.chain import apply_plan
from farm.master.plan import TrackPlan
from farm.profiles import Profile, load_profile
from farm.qc import QCConfig, TrackReport, audit_track
from kernels.truepeak import TruePeakMeter

__all__ = ["AnalysisResult", "MasterJob", "analyse_track", "master_track", "safe_name",
           "LOCAL_KINDS", "LOUDNESS_CHECK_LU"]

#: Findings the mastering must not add (compared with the QC before, by kind and time).
LOCAL_KINDS = ("click", "discontinuity", "clipping", "dropout", "noise_burst")
LOUDNESS_CHECK_LU = 0.5
_SAME_EVENT_S = 0.1


def safe_name(text: str, *, fallback: str = "release") -> str:
    """A folder or file name made from ``text``: letters, digits, space, ``-_.,()&'`` kept, others ``_``.

    When anything had to change, 8 hex digits of the text's SHA-256 are appended, so two different ids never
    share a folder.

    Examples
    --------
    >>> safe_name("DEMO-R1")
    'DEMO-R1'
    >>> safe_name("cat/Artist - Album")
    'cat_Artist - Album-8f8c8f48'
    """
    norm = unicodedata.normalize("NFC", text)
    kept = re.sub(r"[^\w \-.,()&']", "_", norm, flags=re.UNICODE).strip(" .")
    kept = kept[:120] or fallback
    if kept != text:
        kept = f"{kept}-{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    return kept


def track_file_stem(number: int | None, title: str, track_id: str) -> str:
    """``NN Title`` (or the track id when there is neither)."""
    title = re.sub(r"[^\w \-.,()&']", "_", unicodedata.normalize("NFC", title)).strip(" .")[:80]
    if number is not None:
        return f"{number:02d} {title}".strip() if title else f"{number:02d} {track_id}"
    return title or track_id


def read_track(path: str) -> tuple[np.ndarray, int]:
    """Decode a whole file as float64 ``(channels, samples)``."""
    info = probe(path)
    blocks = list(read_blocks(path, info, block_frames=1 << 20))
    x = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    if not np.isfinite(x).all():
        raise InputError(f"{path}: holds NaN or infinite samples; it cannot be mastered")
    return x, info.sample_rate


@dataclass(frozen=True)
class AnalysisResult:
    spec: TrackSpec
    qc: TrackReport
    analysis: TrackAnalysis | None
    error: str = ""
    wall_s: float = 0.0


def analyse_track(spec: TrackSpec, profile: Profile) -> AnalysisResult:
    """QC first, then the analysis (skipped for an unreadable track)."""
    t0 = time.perf_counter()
    qc = audit_track(spec, QCConfig(profile=profile))
    if qc.status == "error":
        return AnalysisResult(spec, qc, None, qc.row["error"], time.perf_counter() - t0)
    try:
        x, sr = read_track(spec.abs_path)
        a = analyse(x, sr)
        err = ""
    except InputError as exc:
        a, err = None, str(exc)
    except MemoryError:
        a, err = None, "ran out of memory while analysing; use a worker with more memory"
    except Exception as exc:  # noqa: BLE001 - one track must not end the run
        a, err = None, f"internal error while analysing ({exc.__class__.__name__}: {exc}); please report it"
    return AnalysisResult(spec, qc, a, err, time.perf_counter() - t0)


@dataclass(frozen=True)
class MasterJob:
    """One track to master: where it is, its plan, where its files go, what QC found before."""

    spec: TrackSpec
    plan: TrackPlan
    release_dir: str
    release_title: str
    release_artist: str
    upc: str
    track_total: int
    forced: bool
    profile_name: str
    before: dict = field(default_factory=dict)  # integrated_lufs, true_peak_dbtp, loudness_range_lu, status
    before_events: tuple[tuple[str, float, float], ...] = ()  # (kind, start_s, end_s) of LOCAL_KINDS found before
    # With ``--out`` on object storage: the release's prefix there. The task then works in a folder of its own
    # node's (``FARM_STAGING`` or the temporary folder), uploads the master, and removes the folder, so no
    # task relies on a file another node wrote. ``master_path`` in the row is then the object's URI.
    remote_release: str = ""
    # "gpu": the chain runs on CuPy arrays on the task's GPU (the task was placed with ``num_gpus``); decoding,
    # the QC after and the file writing stay on the CPU. The kernels are the same code on both.
    device: str = "cpu"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _true_peak(x: np.ndarray, sr: int) -> float:
    m = TruePeakMeter(sr, x.shape[0])
    m.process(x)
    return float(m.result().true_peak_dbtp)


def _under_ceiling(x: np.ndarray, sr: int, ceiling: float | None, convert) -> np.ndarray:
    """``convert(x)`` (to float32, or to 24-bit steps), turned down by the excess and converted again if the
    conversion (or a resampling before it) pushed the true peak over ``ceiling``; the excess is at most a few
    thousandths of a dB."""
    y = convert(x)
    if ceiling is None:
        return y
    for _ in range(6):
        tp = _true_peak(np.asarray(y, dtype=np.float64), sr)
        if tp <= ceiling:
            return y
        x = np.asarray(x, dtype=np.float64) * 10.0 ** ((ceiling - tp - 2e-4) / 20.0)
        y = convert(x)
    return y


def master_track(job: MasterJob) -> dict:
    """Process one track by its plan, write its master, QC the result; return its row for
    ``qc/mastering`` (never raises)."""
    t0 = time.perf_counter()
    spec, plan = job.spec, job.plan
    row = _base_row(job)
    stage = storage.staging_dir("farm-master-track-") if job.remote_release else None
    try:
        x, sr = read_track(spec.abs_path)
        res = _apply_on(job.device, x, sr, plan)
        ceiling = plan.ceiling_dbtp
        rel = stage if stage is not None else Path(job.release_dir)
        stem = track_file_stem(spec.track_number, spec.title, spec.track_id)
        master_path = rel / "masters" / f"{stem}.wav"
        master_path.parent.mkdir(parents=True, exist_ok=True)
        y32 = _under_ceiling(np.asarray(res.audio), sr, ceiling, lambda v: np.asarray(v, dtype=np.float32))
        write_audio(master_path, y32.T, sr, subtype="FLOAT", container="WAV")

        after = audit_track(replace(spec, path=str(master_path), abs_path=str(master_path.resolve())),
                            QCConfig(profile=load_profile(job.profile_name)))
        a = after.row
        new = _new_events(after.events, job.before_events)
        target = plan.loudness.target_lufs
        problems = []
        if ceiling is not None and a["true_peak_dbtp"] is not None and a["true_peak_dbtp"] > ceiling + 1e-9:
            problems.append(f"master true peak {a['true_peak_dbtp']:.2f} dBTP over the ceiling {ceiling:g}")
        if target is not None and a["integrated_lufs"] is not None and abs(a["integrated_lufs"] - target) > LOUDNESS_CHECK_LU:
            problems.append(f"loudness {a['integrated_lufs']:.2f} LUFS, planned {target:.2f} (more than "
                            f"{LOUDNESS_CHECK_LU} LU off)")
        for kind, when in new:
            problems.append(f"new {kind} at {when:.3f} s")
        row.update({
            "status": "mastered" if not problems else "check_failed",
            "after_integrated_lufs": a["integrated_lufs"],
            "after_true_peak_dbtp": a["true_peak_dbtp"],
            "after_loudness_range_lu": a["loudness_range_lu"],
            "after_sample_peak_dbfs": a["sample_peak_dbfs"],
            "loudness_error_lu": (a["integrated_lufs"] - target) if (target is not None and a["integrated_lufs"] is not None) else None,
            "gain_db": res.gain_db,
            "compression_max_db": res.compression_max_db,
            "limiter_max_db": res.limiter_max_db,
            "new_clicks": sum(1 for k, _ in new if k == "click"),
            "new_clipping": sum(1 for k, _ in new if k == "clipping"),
            "new_other": sum(1 for k, _ in new if k not in ("click", "clipping")),
            "checks": "; ".join(problems) if problems else "true peak, loudness and no new defects: all pass",
            "qc_after_status": a["status"],
            "master_path": str(master_path),
            "master_sha256": _sha256(master_path),
            "sample_rate": sr,
            "duration_s": round(x.shape[1] / sr, 6),
        })
        if stage is not None:
            uri = storage.join(job.remote_release, master_path.relative_to(stage).as_posix())
            try:
                storage.upload_file(master_path, uri)
            except OSError as exc:
                raise InputError(f"the master could not be uploaded to {uri}: {exc}") from None
            row["master_path"] = uri
    except InputError as exc:
        row.update(status="error", error=str(exc))
    except MemoryError:
        row.update(status="error", error="ran out of memory while mastering; use a worker with more memory")
    except Exception as exc:  # noqa: BLE001 - one track must not end the run
        row.update(status="error", error=f"internal error while mastering ({exc.__class__.__name__}: {exc}); "
                                         "please report it")
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    if row.get("status") == "error":
        row["master_path"] = row["master_sha256"] = None
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    return row


def _apply_on(device: str, x: np.ndarray, sr: int, plan: TrackPlan):
    """The chain on the CPU, or on this task's GPU with the result brought back as NumPy."""
    if device != "gpu":
        return apply_plan(x, sr, plan)
    import cupy  # noqa: PLC0415 - the GPU extra; the driver checked that it imports before choosing "gpu"

    res = apply_plan(cupy.asarray(x), sr, plan)
    return replace(res, audio=cupy.asnumpy(res.audio))


def _new_events(after_events: list[dict], before: tuple[tuple[str, float, float], ...]) -> list[tuple[str, float]]:
    """The master's local findings that the source did not have: not the same kind within ``_SAME_EVENT_S`` of a
    source finding's start, nor a jump, click or burst at either end of a source dropout (processing fills a
    gap of zeros with filter tails, so the master may show the music resuming as a click where the source
    showed the dropout, which the audit reports once, as the dropout)."""
    new = []
    for ev in after_events:
        if ev["kind"] not in LOCAL_KINDS:
            continue
        t = float(ev["start_s"])
        if any(k == ev["kind"] and abs(s - t) <= _SAME_EVENT_S for k, s, _ in before):
            continue
        if ev["kind"] != "dropout" and any(k == "dropout" and min(abs(s - t), abs(e - t)) <= _SAME_EVENT_S
                                           for k, s, e in before):
            continue
        new.append((ev["kind"], t))
    return new


def _base_row(job: MasterJob) -> dict:
    spec, plan = job.spec, job.plan
    b = job.before
    return {
        "release_id": spec.release_id, "track_id": spec.track_id, "track_number": spec.track_number,
        "title": spec.title, "path": spec.path, "status": "", "error": "", "forced": job.forced,
        "qc_before_status": b.get("status"), "qc_after_status": None,
        "target_lufs": plan.loudness.target_lufs, "ceiling_dbtp": plan.ceiling_dbtp,
        "before_integrated_lufs": b.get("integrated_lufs"), "after_integrated_lufs": None,
        "loudness_error_lu": None,
        "before_true_peak_dbtp": b.get("true_peak_dbtp"), "after_true_peak_dbtp": None,
        "before_loudness_range_lu": b.get("loudness_range_lu"), "after_loudness_range_lu": None,
        "after_sample_peak_dbfs": None,
        "gain_db": None, "compression_max_db": None, "limiter_max_db": None,
        "eq_max_db": max((abs(g) for g in plan.eq.gains_db), default=0.0),
        "compressed": bool(plan.dynamics.enabled), "mono_below_hz": plan.stereo.mono_below_hz,
        "new_clicks": None, "new_clipping": None, "new_other": None, "checks": "",
        "master_path": None, "master_sha256": None, "sample_rate": None, "duration_s": None, "wall_s": None,
    }


def held_row(job: MasterJob, status: str, why: str) -> dict:
    """The row of a track that was not mastered (its release held, or it could not be read)."""
    row = _base_row(job)
    row.update(status=status, error=why)
    return row
