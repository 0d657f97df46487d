"""What ``farm master`` prints: progress on stderr, a per-track table and where everything went on stdout."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from farm.errors import ConfigError

EXIT_OK, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2


def run_master_command(inputs: list[str], out: Path, *, target: str, per_track: bool, reference: str | None,
                       amount: float, eq: str, multiband: bool, force: bool, plans: list[str], profile: str,
                       address: str | None, workers: int | None, formats: str = "streaming,cd", wav: bool = False,
                       vinyl: str = "12in33", tape: str = "C60", noise_shaping: bool = False,
                       report: bool = False, redo: bool = False, log_json: Path | None = None,
                       remote_out: str = "", gpu: str = "auto") -> int:
    """Run ``farm master``; exit 0 when every release was mastered and passed its checks, 2 when a release was
    held or a track failed (each has its row and reason), 1 for usage errors.

    ``out`` may be an ``s3://`` or ``gs://`` prefix. Every task then works in a folder of its own node's
    (``FARM_STAGING`` or the system's temporary folder: deliverables are large files written and verified on
    disk) and uploads what it made: the mastering task its master, the delivery task (which downloads the
    masters first) the deliverables, ``manifest.json`` last, so a reader that finds a release's manifest finds
    all its files, and no task needs a file another node wrote. The driver keeps the run's small files (plans,
    hold notes, the ``qc/`` datasets, the report) in its own staging folder, starting from the ``qc/`` datasets
    already at ``out`` (resume), uploads them at the end and removes the dataset objects the new run replaced."""
    from farm import storage  # noqa: PLC0415

    if storage.is_uri(str(out)):
        import shutil  # noqa: PLC0415

        upload_to = str(out).rstrip("/")
        stage = storage.staging_dir("farm-master-")
        try:
            try:
                before = _pull_datasets(upload_to, stage) if not redo else set()
            except OSError as exc:
                raise ConfigError(f"--out {upload_to}: {exc}") from None
            code = run_master_command(
                inputs, stage, target=target, per_track=per_track, reference=reference,
                amount=amount, eq=eq, multiband=multiband, force=force, plans=plans, profile=profile,
                address=address, workers=workers, formats=formats, wav=wav, vinyl=vinyl, tape=tape,
                noise_shaping=noise_shaping, report=report, redo=redo, log_json=log_json, remote_out=upload_to,
                gpu=gpu)
            n = storage.upload_tree(stage, upload_to)
            stale = _remove_replaced(stage, upload_to, before)
            Console().print(f"uploaded {n} file(s) to {upload_to}"
                            + (f" (removed {stale} replaced dataset part(s))" if stale else ""), highlight=False)
            return code
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    out = Path(out)
    from cluster.runtime import ClusterConfig, ray_session  # noqa: PLC0415 - Ray is slow to import
    from farm.catalogue import discover  # noqa: PLC0415
    from farm.cli import _check_out_dir  # noqa: PLC0415
    from farm.master.driver import MasterOptions, run_master  # noqa: PLC0415
    from farm.master.plan import EQ_MODES  # noqa: PLC0415
    from farm.master.presets import load_preset  # noqa: PLC0415
    from farm.output import QCWriter  # noqa: PLC0415
    from farm.profiles import load_profile  # noqa: PLC0415

    console, err = Console(), Console(stderr=True)
    if not inputs and not plans:
        raise ConfigError("give the audio to master (files, folders or manifests), or --plan plan.json")
    if gpu not in ("auto", "on", "off"):
        raise ConfigError(f"--gpu {gpu!r} must be auto, on or off")
    if not 0.0 <= amount <= 100.0:
        raise ConfigError(f"--amount {amount} must lie in 0..100")
    if eq not in EQ_MODES:
        raise ConfigError(f"--eq {eq!r} must be one of {', '.join(EQ_MODES)}")
    if reference is not None and not Path(reference).is_file():
        raise ConfigError(f"--reference {reference}: file not found")
    from farm.deliver.release import DeliveryOptions, parse_formats  # noqa: PLC0415

    vinyl_sizes, tapes = ("12in33", "12in45", "10in33", "10in45", "7in45"), ("C46", "C60", "C90")
    if vinyl not in vinyl_sizes:
        raise ConfigError(f"--vinyl {vinyl!r} must be one of {', '.join(vinyl_sizes)}")
    if tape not in tapes:
        raise ConfigError(f"--tape {tape!r} must be one of {', '.join(tapes)}")
    delivery = DeliveryOptions(formats=parse_formats(formats), wav=wav, vinyl=vinyl, tape=tape,
                               noise_shaping=noise_shaping)
    options = MasterOptions(
        preset=load_preset(target), profile=load_profile(profile), mode="per-track" if per_track else "auto",
        amount_pct=amount, eq_mode=eq, multiband=multiband, force=force, reference=reference, plans=tuple(plans),
        delivery=delivery, redo=redo, remote_out=remote_out,
    )
    specs = discover(inputs) if inputs else []
    _check_out_dir(out, specs)
    if any(Path(s.abs_path).resolve().is_relative_to((out / "releases").resolve()) for s in specs):
        raise ConfigError(f"--out {out} holds the inputs' releases folder; choose another output folder")
    err.print(f"farm master: {len(specs) or 'planned'} track(s), preset {options.preset.name} "
              f"({options.preset.target_lufs:g} LUFS, {options.preset.ceiling_dbtp:g} dBTP)", highlight=False)
    t0 = time.perf_counter()
    counts = {"analysed": 0, "mastered": 0, "delivered": 0, "failed": 0}
    audio = {"analysed": 0.0, "mastered": 0.0}
    planned_count = [len(specs)]  # tracks to master: all of them until the plans say which releases are held
    last = [0.0, 0.0]
    log = (sys.stdout if str(log_json) == "-" else open(log_json, "a", encoding="utf-8")) if log_json else None

    def rates() -> dict:
        """Tracks and audio hours per second over both track stages (QC + analysis, then the chain), and the
        ETA of the track stages at that pace (delivery, one task per release, comes after)."""
        now = time.perf_counter() - t0
        steps = counts["analysed"] + counts["mastered"]
        left = max(0, len(specs) - counts["analysed"]) + max(0, planned_count[0] - counts["mastered"])
        per_s = steps / now if now > 0 else 0.0
        hours = (audio["analysed"] + audio["mastered"]) / 2 / 3600
        return {"tracks_per_s": round(per_s / 2, 3), "audio_h_per_s": round(hours / now, 5) if now > 0 else 0.0,
                "eta_s": round(left / per_s, 1) if per_s > 0 else None}

    def emit(event: str, **extra) -> None:
        if log is not None:
            log.write(json.dumps({"time": time.time(), "event": event, "tracks_total": len(specs),
                                  "tracks_to_master": planned_count[0], **counts, **rates(),
                                  "wall_s": round(time.perf_counter() - t0, 2), **extra}) + "\n")
            log.flush()

    def progress(stage: str, spec, *, audio_s: float = 0.0, failed: bool = False,
                 planned: int | None = None) -> None:
        counts[stage] += 1
        counts["failed"] += bool(failed)
        if stage in audio:
            audio[stage] += audio_s
        if planned is not None:
            planned_count[0] = planned
        now = time.perf_counter() - t0
        if now - last[0] >= 2.0:
            last[0] = now
            r = rates()
            eta = f", ETA {r['eta_s']:.0f} s" if r["eta_s"] is not None else ""
            total = len(specs) or counts["analysed"]  # --plan alone: the tracks come from the plans
            err.print(f"  {counts['analysed']}/{total} analysed, {counts['mastered']}/{planned_count[0]} "
                      f"mastered, {counts['delivered']} release(s) delivered, {counts['failed']} failed; "
                      f"{r['tracks_per_s']:.2f} tracks/s, {r['audio_h_per_s'] * 3600:.0f}x real time{eta} "
                      f"({now:.0f} s)", highlight=False)
        if now - last[1] >= 5.0:
            last[1] = now
            emit("progress")

    with QCWriter(out) as qc_writer, ray_session(ClusterConfig(address=address, workers=workers, gpu=gpu)) as session:
        err.print(f"  {session.gpu_note}", highlight=False)
        if session.gpus > 0:  # the chain on GPU workers; decoding, QC and file writing stay on the CPU
            options = replace(options, device="gpu")
        outcome = run_master(specs, out, options, parallelism=session.parallelism, progress=progress,
                             qc_writer=qc_writer)
        qc_writer.commit({"command": "farm master", "profile": options.profile.to_dict(),
                          "inputs": [_absolute(i) for i in inputs]})

    table = Table(title=f"farm master: {options.preset.name}")
    for col, just in (("release", "left"), ("#", "right"), ("title", "left"), ("status", "left"),
                      ("LUFS before", "right"), ("LUFS after", "right"), ("dBTP after", "right"),
                      ("notes", "left")):
        table.add_column(col, justify=just, overflow="fold", no_wrap=col != "notes", min_width=len(col) if col != "notes" else 30)
    colours = {"mastered": "green", "check_failed": "red", "held": "yellow", "error": "magenta"}
    for r in outcome.rows:
        note = r["error"] or ("" if r["status"] == "mastered" else r["checks"])
        note = note if len(note) <= 90 else note[:87] + "…"
        table.add_row(r["release_id"], str(r["track_number"] or ""), r["title"],
                      f"[{colours.get(r['status'], 'white')}]{r['status']}[/]", _f(r["before_integrated_lufs"]),
                      _f(r["after_integrated_lufs"]), _f(r["after_true_peak_dbtp"]), note)
    console.print(table)
    for release_id, reasons in outcome.held.items():
        console.print(f"[yellow]held[/] {release_id}: fix these, or run with --force:", highlight=False)
        for line in reasons[:10]:
            console.print(f"  - {line}", highlight=False, markup=False)
        if len(reasons) > 10:
            console.print(f"  … and {len(reasons) - 10} more in HOLD.txt", highlight=False)
    for release_id, d in outcome.deliveries.items():
        bad = [c for c in d.checks if not c["passed"]]
        made = sorted({x.format for x in d.deliverables})
        if bad:
            console.print(f"[bold red]DELIVERY FAILED[/] {release_id}: {len(bad)} check(s) failed "
                          f"(made: {', '.join(made) or 'nothing'})", highlight=False)
            for c in bad[:8]:
                console.print(f"  - {c['format']} {c['path']}: {c['check']}: {c['detail'] or c['measured']}",
                              highlight=False, markup=False)
        else:
            console.print(f"[green]delivered[/] {release_id}: {', '.join(made)}; {len(d.checks)} checks passed",
                          highlight=False)
        for w in d.warnings:
            console.print(f"  [yellow]warning[/] {w}", highlight=False)
    if outcome.skipped:
        console.print(f"resume: {len(outcome.skipped)} release(s) already delivered from the same inputs and options, "
                      f"skipped ({', '.join(outcome.skipped[:5])}{'…' if len(outcome.skipped) > 5 else ''}); "
                      "--redo masters them again", highlight=False)
    console.print(f"plans, masters and deliverables: {out / 'releases'}", highlight=False)
    console.print(f"before/after rows: {outcome.mastering_dir}   deliverable checks: {outcome.deliverables_dir}",
                  highlight=False)
    console.print(f"{outcome.audio_s / 60:.1f} min of audio in {outcome.wall_s:.1f} s", highlight=False)
    emit("end", statuses=dict(outcome.statuses), held=len(outcome.held), skipped=len(outcome.skipped),
         delivery_failed=sum(d.failed for d in outcome.deliveries.values()))
    if log is not None and log is not sys.stdout:
        log.close()
    if report:
        from farm.report.build import build_report  # noqa: PLC0415

        console.print(f"report: {build_report(out)}", highlight=False)
    else:
        console.print(f"to see it: farm report {out}", highlight=False)
    bad = (outcome.held or any(r["status"] != "mastered" for r in outcome.rows)
           or any(d.failed for d in outcome.deliveries.values()))
    return EXIT_PROBLEMS if bad else EXIT_OK


def _pull_datasets(remote: str, stage: Path) -> set[str]:
    """Copy the ``qc/`` datasets of an earlier run at ``remote`` into ``stage`` (resume carries their rows of
    the releases it skips); return their paths relative to ``remote``, to remove those the new run replaces."""
    from farm import storage  # noqa: PLC0415

    qc = storage.join(remote, "qc")
    if not storage.is_dir(qc):
        return set()
    found = set()
    for folder, _dirs, files in storage.walk(qc):  # folders come back as URIs under ``qc``
        for name in files:
            uri = storage.join(folder, name)
            rel = uri[len(remote) + 1:]
            storage.download_file(uri, stage / rel)
            found.add(rel)
    return found


def _remove_replaced(stage: Path, remote: str, before: set[str]) -> int:
    """Remove the dataset objects of the earlier run that the new run's upload did not write over."""
    from farm import storage  # noqa: PLC0415

    stale = [rel for rel in sorted(before) if not (stage / rel).is_file()]
    for rel in stale:
        storage.remove(storage.join(remote, rel))
    return len(stale)


def _absolute(given: str) -> str:
    from farm import storage  # noqa: PLC0415

    return given if storage.is_uri(given) else str(Path(given).resolve())


def _f(v) -> str:
    return "" if v is None else f"{v:.1f}"
