"""``farm master``: QC, analyse, plan, process and check every release of the input, on Ray.

The driver holds one small analysis per track (a few kB) and the plans; audio stays on the workers.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from farm import __version__
from farm.atomic import write_text
from farm.catalogue import TrackSpec, discover
from farm.deliver.model import DeliveryRelease, DeliveryTrack
from farm.deliver.release import DeliveryJob, DeliveryOptions, DeliveryOutcome, deliver_release
from farm.errors import ConfigError
from farm.events import KINDS
from farm.master.plan import ReleasePlan, TrackInput, decide
from farm.master.presets import Preset
from farm.master.run import (
    LOCAL_KINDS,
    AnalysisResult,
    MasterJob,
    analyse_track,
    held_row,
    master_track,
    read_track,
    safe_name,
)
from farm.profiles import Profile
from farm.qc import error_report
from farm.resume import fingerprint

__all__ = ["MasterOptions", "MasterOutcome", "run_master", "release_dir"]


@dataclass(frozen=True)
class MasterOptions:
    preset: Preset
    profile: Profile
    mode: str = "auto"  # auto | album | per-track
    amount_pct: float = 70.0
    eq_mode: str = "minimum-phase"
    multiband: bool = False
    force: bool = False
    reference: str | None = None
    plans: tuple[str, ...] = ()
    delivery: DeliveryOptions = DeliveryOptions()
    redo: bool = False
    # ``--out`` on object storage: ``out`` is then the driver's local staging folder and this the prefix the
    # tasks upload masters and deliverables to (farm.master.run.MasterJob.remote_release)
    remote_out: str = ""
    device: str = "cpu"  # "gpu": the mastering chain runs on GPU workers (CuPy arrays); see farm.master.run


@dataclass
class MasterOutcome:
    rows: list[dict]
    plans: dict[str, ReleasePlan]
    held: dict[str, list[str]]
    statuses: Counter
    audio_s: float
    wall_s: float
    mastering_dir: Path | None = None
    deliveries: dict[str, DeliveryOutcome] = field(default_factory=dict)
    deliverables_dir: Path | None = None
    skipped: list[str] = field(default_factory=list)


def release_dir(out: Path, release_id: str) -> Path:
    return out / "releases" / safe_name(release_id)


def _load_plans(paths: tuple[str, ...]) -> dict[str, ReleasePlan]:
    plans: dict[str, ReleasePlan] = {}
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--plan {p}: cannot read it ({exc.strerror or exc})") from None
        plan = ReleasePlan.from_json(text, source=f"--plan {p}")
        if plan.release_id in plans:
            raise ConfigError(f"--plan {p}: a second plan for release {plan.release_id!r}")
        plans[plan.release_id] = plan
    return plans


def _specs_from_plans(plans: dict[str, ReleasePlan]) -> list[TrackSpec]:
    specs = []
    for plan in plans.values():
        for t in plan.tracks:
            found = discover([t.path])
            if len(found) != 1:
                raise ConfigError(f"plan of {plan.release_id!r}: track {t.track_id} path {t.path!r} is not one audio file")
            specs.append(replace(found[0], release_id=plan.release_id, track_number=t.track_number,
                                 title=t.title or found[0].title, isrc=t.isrc or found[0].isrc))
    return specs


def _hold_reasons(results: list[AnalysisResult]) -> list[str]:
    reasons = []
    for r in results:
        name = f"track {r.spec.track_number or '?'} {r.spec.title!r} ({r.spec.path})"
        if r.qc.status == "error" or r.error:
            reasons.append(f"{name}: cannot be read: {r.error or r.qc.row.get('error')}")
            continue
        fails = [e for e in r.qc.events if e["severity"] == "fail"]
        for e in fails:
            info = KINDS.get(e["kind"])
            if info is not None and info.whole_track:  # codes, format, polarity: no place in the audio
                reasons.append(f"{name}: {e['kind']}: {e['detail']}")
                continue
            when = f"{_mmss(e['start_s'])}" + (f"-{_mmss(e['end_s'])}" if e["end_s"] - e["start_s"] >= 0.05 else "")
            ch = "" if e["channel"] < 0 else f" (channel {e['channel']})"
            reasons.append(f"{name}: {e['kind']} at {when}{ch}: {e['detail']}")
    return reasons


def _mmss(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m):d}:{s:06.3f}"


def run_master(specs: list[TrackSpec], out: Path, options: MasterOptions, *, parallelism: int, progress=None,
               qc_writer=None) -> MasterOutcome:
    """Master every release of ``specs`` (Ray must be running: see :mod:`cluster.runtime`)."""
    from cluster.runtime import run_map  # noqa: PLC0415 - the only place Ray is imported
    from farm.master.output import DeliverablesWriter, MasteringWriter  # noqa: PLC0415

    t0 = time.perf_counter()
    given_plans = _load_plans(options.plans)
    if not specs:
        specs = _specs_from_plans(given_plans)
    order = {s.track_id: i for i, s in enumerate(specs)}

    reference = None
    if options.reference:
        try:
            from farm.master.analysis import analyse  # noqa: PLC0415

            x, sr = read_track(options.reference)
            reference = analyse(x, sr)
        except Exception as exc:  # noqa: BLE001 - the message says which file and why
            raise ConfigError(f"--reference {options.reference}: {exc}") from None

    # 0. resume: a release already delivered from the same inputs with the same options is not done again
    skipped: list[str] = []
    fingerprints = {s.track_id: list(fingerprint(s.abs_path)) for s in specs}
    options_key = _options_key(options)
    if not options.redo and not given_plans:
        by_rel: dict[str, list[TrackSpec]] = defaultdict(list)
        for s in specs:
            by_rel[s.release_id].append(s)
        for release_id, rspecs in by_rel.items():
            if _already_delivered(out, release_id, {s.track_id: fingerprints[s.track_id] for s in rspecs},
                                  options_key, options.remote_out):
                skipped.append(release_id)
        if skipped:
            done = set(skipped)
            specs = [s for s in specs if s.release_id not in done]
            order = {s.track_id: i for i, s in enumerate(specs)}

    # 1. QC first, and the analysis, on the cluster
    by_release: dict[str, list[AnalysisResult]] = defaultdict(list)
    audio_s = 0.0
    analyse_fn = functools.partial(analyse_track, profile=options.profile)

    def analysis_failed(spec: TrackSpec, why: str) -> AnalysisResult:
        return AnalysisResult(spec, error_report(spec, why, options.profile.name), None, why)

    if skipped and qc_writer is not None:
        for report in _previous_qc_reports(out, set(skipped)):
            qc_writer.add(report)
    for spec, res in run_map(analyse_fn, specs, parallelism=parallelism, on_failure=analysis_failed):
        by_release[spec.release_id].append(res)
        if qc_writer is not None:
            qc_writer.add(res.qc)
        audio_s += res.qc.audio_s
        if progress:
            progress("analysed", res.spec, audio_s=res.qc.audio_s, failed=res.analysis is None)

    # 2. one plan per release
    plans: dict[str, ReleasePlan] = {}
    held: dict[str, list[str]] = {}
    jobs: list[MasterJob] = []
    rows: list[dict] = []
    for release_id in sorted(by_release, key=lambda r: min(order[x.spec.track_id] for x in by_release[r])):
        results = sorted(by_release[release_id], key=lambda r: order[r.spec.track_id])
        inputs = [TrackInput(r.spec.track_id, r.spec.track_number, r.spec.title, r.spec.abs_path, r.spec.isrc,
                             r.analysis) for r in results]
        if release_id in given_plans:
            plan = _merge_given(given_plans[release_id], results)
        else:
            plan = decide(release_id, inputs, options.preset, mode=options.mode, amount_pct=options.amount_pct,
                          eq_mode=options.eq_mode, multiband=options.multiband, reference=reference,
                          reference_name=Path(options.reference).name if options.reference else None)
        reasons = _hold_reasons(results)
        hold = bool(reasons) and not options.force
        plan = replace(plan, held=hold, hold_reasons=tuple(reasons), forced=bool(reasons) and options.force)
        plans[release_id] = plan
        rdir = release_dir(out, release_id)
        rdir.mkdir(parents=True, exist_ok=True)
        write_text(rdir / "plan.json", plan.to_json())
        hold_file = rdir / "HOLD.txt"
        if hold:
            held[release_id] = reasons
            write_text(hold_file, _hold_text(release_id, reasons))
        elif hold_file.exists():
            hold_file.unlink()
        by_id = {t.track_id: t for t in plan.tracks}
        first = results[0].spec
        for r in results:
            before = {k: r.qc.row.get(k) for k in ("integrated_lufs", "true_peak_dbtp", "loudness_range_lu", "status")}
            job = MasterJob(
                spec=r.spec, plan=by_id[r.spec.track_id], release_dir=str(rdir),
                remote_release=_remote_release(options, out, rdir), device=options.device,
                release_title=first.release_title or release_id, release_artist=first.release_artist,
                upc=first.upc, track_total=len(results), forced=plan.forced, profile_name=options.profile.name,
                before=before,
                before_events=tuple((e["kind"], e["start_s"], e["end_s"]) for e in r.qc.events
                                    if e["kind"] in LOCAL_KINDS),
            )
            if hold:
                rows.append(held_row(job, "held", "release held: QC found what must be fixed first (see HOLD.txt)"))
            elif r.analysis is None:
                rows.append(held_row(job, "error", r.error or "could not be read"))
            else:
                jobs.append(job)

    # 3. process, write and check, on the cluster
    def master_failed(job: MasterJob, why: str) -> dict:
        return held_row(job, "error", why)

    from cluster.runtime import TASKS_PER_GPU  # noqa: PLC0415

    gpus = 1.0 / TASKS_PER_GPU if options.device == "gpu" else 0.0
    for job, row in run_map(master_track, jobs, parallelism=parallelism, on_failure=master_failed, num_gpus=gpus):
        rows.append(row)
        if progress:
            progress("mastered", job.spec, audio_s=float(row.get("duration_s") or 0.0),
                     failed=row["status"] != "mastered", planned=len(jobs))

    # 4. per release: the deliverables, verified, and manifest.json (on the cluster, one task per release)
    rows.sort(key=lambda r: order.get(r["track_id"], 0))
    jobs_by_release = {j.spec.release_id: [] for j in jobs}
    for j in jobs:
        jobs_by_release[j.spec.release_id].append(j)
    delivery_jobs = []
    for release_id, rjobs in jobs_by_release.items():
        rrows = {r["track_id"]: r for r in rows if r["release_id"] == release_id}
        if any(rrows.get(j.spec.track_id, {}).get("master_path") is None for j in rjobs):
            continue  # a track could not be mastered: nothing to deliver (its row says why)
        delivery_jobs.append(_delivery_job(release_id, rjobs, rrows, plans[release_id], options))

    def delivery_failed(job: DeliveryJob, why: str) -> DeliveryOutcome:
        row = {"release_id": job.release.release_id, "format": "", "path": "", "check": "deliverable_made",
               "passed": False, "expected": "made", "measured": "worker failed", "detail": why}
        return DeliveryOutcome(job.release.release_id, (row,), (), (why,), True, 0.0)

    deliveries: dict[str, DeliveryOutcome] = {}
    for job, outcome in run_map(deliver_release, delivery_jobs, parallelism=parallelism,
                                on_failure=delivery_failed):
        deliveries[job.release.release_id] = outcome
        if job.remote_release and outcome.manifest_json:  # a copy beside plan.json, for the report
            write_text(Path(job.release_dir) / "manifest.json", outcome.manifest_json)
        if progress:
            progress("delivered", None, failed=outcome.failed)

    statuses = Counter(r["status"] for r in rows)
    outcome = MasterOutcome(rows=rows, plans=plans, held=held, statuses=statuses, audio_s=audio_s,
                            wall_s=time.perf_counter() - t0, deliveries=deliveries, skipped=skipped)
    with DeliverablesWriter(out) as w:
        for c in _previous_rows(out / "qc" / "deliverables", set(skipped)):
            w.add(c)
        for d in deliveries.values():
            for c in d.checks:
                w.add(c)
        outcome.deliverables_dir = w.commit({"farm_version": __version__,
                                             "formats": list(options.delivery.formats),
                                             "failed_releases": sorted(r for r, d in deliveries.items() if d.failed)})
    with MasteringWriter(out) as w:
        for r in _previous_rows(out / "qc" / "mastering", set(skipped)):
            w.add(r)
        for r in rows:
            w.add(r)
        outcome.mastering_dir = w.commit({
            "farm_version": __version__, "preset": options.preset.to_dict(), "profile": options.profile.name,
            "mode": options.mode, "amount_pct": options.amount_pct, "eq_mode": options.eq_mode,
            "multiband": options.multiband, "force": options.force, "reference": options.reference,
            "status_counts": dict(statuses), "held_releases": sorted(held),
        })
    return outcome


def _merge_given(plan: ReleasePlan, results: list[AnalysisResult]) -> ReleasePlan:
    """An edited plan, checked against the tracks found (every track needs its plan)."""
    have = {t.track_id for t in plan.tracks}
    missing = [r.spec.path for r in results if r.spec.track_id not in have]
    if missing:
        raise ConfigError(f"the plan of release {plan.release_id!r} has no entry for {', '.join(missing)}")
    return plan


def _hold_text(release_id: str, reasons: list[str]) -> str:
    lines = [f"Release {release_id!r} is held: QC found what should be fixed before mastering.",
             "Fix the sources and run again, or master anyway with --force (recorded in plan.json and the",
             "qc/mastering rows).", ""]
    lines += [f"- {r}" for r in reasons]
    return "\n".join(lines) + "\n"


def _options_key(options: MasterOptions) -> str:
    """What decides a release's result besides its inputs: preset, profile, mode, tone, dynamics, formats."""
    import hashlib  # noqa: PLC0415

    d = options.delivery
    parts = [json.dumps(options.preset.to_dict(), sort_keys=True), options.profile.name, options.mode,
             options.amount_pct, options.eq_mode, options.multiband, options.force, options.reference or "",
             d.formats, d.wav, d.vinyl, d.tape, d.noise_shaping, __version__]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _remote_release(options: MasterOptions, out: Path, rdir: Path) -> str:
    if not options.remote_out:
        return ""
    from farm import storage  # noqa: PLC0415

    return storage.join(options.remote_out, rdir.relative_to(out).as_posix())


def _already_delivered(out: Path, release_id: str, inputs: dict[str, list], options_key: str,
                       remote_out: str = "") -> bool:
    """The release's manifest says every check passed, for these very inputs and options, and every file it
    lists is there. With ``remote_out``, looked up in the object store, and the release's small files (plan,
    manifest, hold note) copied into the local ``out`` for the report and the final upload."""
    from farm import storage  # noqa: PLC0415

    rdir = release_dir(out, release_id)
    base = storage.join(remote_out, rdir.relative_to(out).as_posix()) if remote_out else str(rdir)
    try:
        m = json.loads(storage.read_bytes(storage.join(base, "manifest.json")).decode("utf-8"))
    except (OSError, ValueError):
        return False
    if m.get("checks") != "pass" or m.get("options_key") != options_key or m.get("inputs") != inputs:
        return False
    if any(v[0] is None for v in inputs.values()):
        return False
    try:
        if not all(storage.exists(storage.join(base, e["path"])) for e in m.get("deliverables", [])):
            return False
        if remote_out:
            for name in ("plan.json", "manifest.json", "HOLD.txt"):
                if storage.exists(storage.join(base, name)):
                    storage.download_file(storage.join(base, name), rdir / name)
    except OSError:
        return False
    return True


def _previous_rows(folder: Path, releases: set[str]):
    """Rows of ``releases`` from the dataset the previous run published in ``folder``."""
    if not releases or not folder.is_dir():
        return
    import pyarrow.dataset as pads  # noqa: PLC0415

    for batch in pads.dataset(folder, format="parquet").to_batches():
        for row in batch.to_pylist():
            if row.get("release_id") in releases:
                yield row


def _previous_qc_reports(out: Path, releases: set[str]):
    """The QC rows and findings of ``releases`` from the previous run, as reports for the QC writer."""
    from farm.qc import TrackReport  # noqa: PLC0415

    tracks = list(_previous_rows(out / "qc" / "tracks", releases))
    ids = {t["track_id"] for t in tracks}
    events: dict[str, list] = defaultdict(list)
    folder = out / "qc" / "events"
    if ids and folder.is_dir():
        import pyarrow.dataset as pads  # noqa: PLC0415

        for batch in pads.dataset(folder, format="parquet").to_batches():
            for e in batch.to_pylist():
                if e["track_id"] in ids:
                    events[e["track_id"]].append(e)
    for t in tracks:
        yield TrackReport(row=t, events=events.get(t["track_id"], []))


def _extra(spec: TrackSpec, *names: str) -> str:
    d = dict(spec.extra)
    for n in names:
        if d.get(n, "").strip():
            return d[n].strip()
    return ""


def _delivery_job(release_id: str, jobs: list[MasterJob], rows: dict[str, dict], plan: ReleasePlan,
                  options: MasterOptions) -> DeliveryJob:
    first = jobs[0].spec
    tracks = []
    for j in sorted(jobs, key=lambda j: (j.spec.track_number is None, j.spec.track_number or 0)):
        r = rows[j.spec.track_id]
        gap, side = _extra(j.spec, "gap_s"), _extra(j.spec, "side")
        try:
            gap_s = float(gap) if gap else None
        except ValueError:
            raise ConfigError(f"{j.spec.path}: gap_s {gap!r} is not a number of seconds") from None
        if gap_s is not None and not 0.0 <= gap_s <= 60.0:
            raise ConfigError(f"{j.spec.path}: gap_s {gap_s} must lie in 0..60 s")
        tracks.append(DeliveryTrack(
            number=j.spec.track_number or len(tracks) + 1, title=j.spec.title,
            artist=j.spec.artist or first.release_artist, isrc=j.spec.isrc, master_path=r["master_path"],
            sample_rate=int(r["sample_rate"]), duration_s=float(r["duration_s"]),
            integrated_lufs=r["after_integrated_lufs"], true_peak_dbtp=r["after_true_peak_dbtp"], gap_s=gap_s,
            side=side.upper() or None, track_id=j.spec.track_id, source_path=j.spec.abs_path,
        ))
    ceilings = [t.ceiling_dbtp for t in plan.tracks if t.ceiling_dbtp is not None]
    release = DeliveryRelease(
        release_id=release_id, title=first.release_title or release_id, artist=first.release_artist,
        upc=first.upc, date=_extra(first, "date", "release_date", "year"),
        ceiling_dbtp=min(ceilings) if ceilings else options.preset.ceiling_dbtp, tracks=tuple(tracks),
    )
    by_id = {t.track_id: t for t in plan.tracks}
    rdir = Path(jobs[0].release_dir)
    remote = jobs[0].remote_release

    def relative(master_path: str) -> str:
        if remote:  # an object's URI under the release's prefix
            return master_path[len(remote.rstrip("/")) + 1:]
        return Path(master_path).relative_to(rdir).as_posix()

    masters = tuple({"path": relative(rows[j.spec.track_id]["master_path"]),
                     "track": j.spec.track_number, "isrc": j.spec.isrc,
                     "sha256": rows[j.spec.track_id]["master_sha256"]} for j in jobs)
    return DeliveryJob(
        release=release, release_dir=str(rdir), options=options.delivery,
        plans={t.number: by_id[t.track_id] for t in tracks},
        gains_db={t.number: rows[t.track_id]["gain_db"] for t in tracks},
        manifest_head={"preset": plan.preset.get("name"), "mode": plan.mode, "forced": plan.forced,
                       "options_key": _options_key(options),
                       "inputs": {j.spec.track_id: list(fingerprint(j.spec.abs_path)) for j in jobs}},
        masters=masters,
        remote_release=remote,
    )


def finite_or_none(v):
    return v if v is None or math.isfinite(v) else None
