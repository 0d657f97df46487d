"""The ``farm`` command line.

Exit codes: 0 when every input was read and measured (whatever QC found), 2 when some inputs could not be read
(each has an ``error`` row), 1 for usage or configuration errors (a one-line message, never a traceback).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

try:  # recent typer vendors its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as click_exceptions
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from farm import __version__
from farm.errors import ConfigError, FarmError

app = typer.Typer(
    name="farm",
    help="Mastering farm: catalogue-scale audio QC (and, later, mastering and deliverables) on Ray.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2


def _mount_bench() -> None:
    from farm.bench.cli import bench_app  # noqa: PLC0415 - keeps the benchmark's imports off the hot path

    app.add_typer(bench_app, name="bench")


_mount_bench()


def _mount_report() -> None:
    from farm.report.cli import mount  # noqa: PLC0415 - the report's imports stay off the hot path

    mount(app)


_mount_report()


def _consoles() -> tuple[Console, Console]:
    return Console(), Console(stderr=True)


@app.command()
def qc(
    inputs: Annotated[list[str], typer.Argument(help="Audio files, folders (searched recursively) or manifests (.csv, .parquet, .json).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder or s3://, gs:// prefix; the datasets go to OUT/qc/tracks and OUT/qc/events.")],
    profile: Annotated[str, typer.Option(help="QC profile: a built-in name (see `farm profiles`) or a TOML file.")] = "distributor-ingest",
    address: Annotated[Optional[str], typer.Option(help="Join an existing Ray cluster (HOST:PORT or 'auto') instead of starting an embedded one.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="At most this many tracks measured at once (default: all CPUs).")] = None,
    block_frames: Annotated[int, typer.Option(help="Frames read and measured at a time (bounds memory per worker).")] = 262144,
    redo: Annotated[bool, typer.Option("--redo", help="Audit every track again, even those --out already has a good row for.")] = False,
    log_json: Annotated[Optional[Path], typer.Option("--log-json", help="Also write progress as JSON lines to this file ('-' for stdout), for schedulers.")] = None,
    gpu: Annotated[str, typer.Option(help="auto: measure on GPU workers where the cluster has GPUs and CuPy; on: insist; off: CPU only.")] = "auto",
    report: Annotated[bool, typer.Option("--report", help="Also write the HTML report (OUT/report/index.html).")] = False,
) -> int:
    """Audit audio for loudness, true peak, silence, DC, codes and format; write Parquet datasets.

    Re-running on the same --out resumes: tracks that already have a good row from an unchanged input (same size
    and modification time, same profile) are skipped."""
    return run_qc_command(inputs, out, profile=profile, address=address, workers=workers, block_frames=block_frames,
                          redo=redo, log_json=log_json, gpu=gpu, report=report)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the example catalogue and the results go.")] = Path("farm-demo"),
    seed: Annotated[int, typer.Option(help="Seed of the generated music.")] = 0,
    workers: Annotated[Optional[int], typer.Option(help="At most this many tracks at once.")] = None,
) -> int:
    """Generate a small example catalogue of realistic music, audit it, then master it (QC first: releases with
    planted defects are held, an album of unmastered mixes is mastered to Spotify's target)."""
    from farm.demo import make_demo_catalogue  # noqa: PLC0415 - only the demo needs the synthesiser
    from farm.master.cli import run_master_command  # noqa: PLC0415
    from farm.synth.mixes import make_unmastered_release  # noqa: PLC0415

    console, err = _consoles()
    err.print(f"[bold]farm demo[/]: writing an example catalogue to {out / 'catalogue'} …")
    t0 = time.perf_counter()
    manifest = make_demo_catalogue(out / "catalogue", seed=seed)
    mixes = make_unmastered_release(out / "catalogue" / "unmastered", seed=seed, tracks=4, duration_s=20.0,
                                    release_id="DEMO-MIXES")
    err.print(f"catalogue ready in {time.perf_counter() - t0:.1f} s: {manifest} and {mixes}")
    code = run_qc_command([str(manifest)], out, profile="distributor-ingest", address=None, workers=workers,
                          report=True)
    console.print(f"\n[bold]farm master[/] {manifest} {mixes} --out {out / 'master'} --target spotify")
    console.print("(the two demo releases carry planted defects, so QC holds them; the unmastered album is mastered)")
    run_master_command([str(manifest), str(mixes)], out / "master", target="spotify", per_track=False,
                       reference=None, amount=70.0, eq="minimum-phase", multiband=False, force=False, plans=[],
                       profile="distributor-ingest", address=None, workers=workers,
                       formats="streaming,hires,cd,vinyl,cassette,lossy", report=True)
    return code


@app.command()
def master(
    inputs: Annotated[Optional[list[str]], typer.Argument(help="Audio files, folders or manifests, as for `farm qc` (optional with --plan).")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder (or s3://, gs:// prefix, uploaded at the end): releases/<release>/ (plan, masters, deliverables, manifest) and qc/.")] = "farm-master",
    target: Annotated[str, typer.Option(help="Preset: spotify, apple, youtube, amazon, tidal, deezer, ebu-r128, atsc-a85, aes-streaming, or a TOML file.")] = "spotify",
    per_track: Annotated[bool, typer.Option("--per-track", help="Decide every track on its own (singles, compilations) instead of album mode.")] = False,
    reference: Annotated[Optional[str], typer.Option(help="A reference master whose tonal balance the EQ moves toward.")] = None,
    amount: Annotated[float, typer.Option(help="How far the tone moves toward the target curve or reference, 0..100 %.")] = 70.0,
    eq: Annotated[str, typer.Option(help="EQ filters: minimum-phase (biquads) or linear-phase (FIR).")] = "minimum-phase",
    multiband: Annotated[bool, typer.Option(help="Where the plan compresses, compress in four bands.")] = False,
    force: Annotated[bool, typer.Option(help="Master releases whose QC failed anyway (recorded in the plan and the rows).")] = False,
    plan: Annotated[Optional[list[str]], typer.Option("--plan", help="Apply an edited plan.json instead of deciding (repeat for several releases).")] = None,
    formats: Annotated[str, typer.Option(help="Deliverables, comma-separated: streaming,hires,cd,vinyl,cassette,lossy.")] = "streaming,cd",
    wav: Annotated[bool, typer.Option("--wav", help="Streaming files as 24-bit WAV too (besides FLAC).")] = False,
    vinyl: Annotated[str, typer.Option(help="Vinyl format for the side split and level: 12in33, 12in45, 10in33, 10in45, 7in45.")] = "12in33",
    tape: Annotated[str, typer.Option(help="Cassette length: C46, C60 or C90.")] = "C60",
    noise_shaping: Annotated[bool, typer.Option("--noise-shaping", help="Noise-shaped dither for the CD (TPDF, flat, by default).")] = False,
    report: Annotated[bool, typer.Option("--report", help="Also write the HTML report (OUT/report/index.html).")] = False,
    redo: Annotated[bool, typer.Option("--redo", help="Master every release again, even those already delivered from the same inputs and options.")] = False,
    log_json: Annotated[Optional[Path], typer.Option("--log-json", help="Also write progress as JSON lines to this file ('-' for stdout), for schedulers.")] = None,
    profile: Annotated[str, typer.Option(help="QC profile of the first listen and of the check after.")] = "distributor-ingest",
    address: Annotated[Optional[str], typer.Option(help="Join an existing Ray cluster (HOST:PORT or 'auto').")] = None,
    workers: Annotated[Optional[int], typer.Option(help="At most this many tracks processed at once (default: all CPUs).")] = None,
    gpu: Annotated[str, typer.Option(help="auto: run the mastering chain on GPU workers where the cluster has GPUs and CuPy; on: insist; off: CPU only.")] = "auto",
) -> int:
    """Master every release of the input: QC first, an album-aware plan, processing, and QC again."""
    from farm.master.cli import run_master_command  # noqa: PLC0415

    return run_master_command(
        inputs or [], out, target=target, per_track=per_track, reference=reference, amount=amount, eq=eq,
        multiband=multiband, force=force, plans=plan or [], profile=profile, address=address, workers=workers,
        formats=formats, wav=wav, vinyl=vinyl, tape=tape, noise_shaping=noise_shaping, report=report, redo=redo,
        log_json=log_json, gpu=gpu,
    )


@app.command()
def profiles() -> int:
    """List the built-in QC profiles."""
    from farm.profiles import builtin_profiles, load_profile  # noqa: PLC0415

    console, _ = _consoles()
    table = Table(title="Built-in QC profiles")
    table.add_column("name")
    table.add_column("ceiling dBTP", justify="right")
    table.add_column("fails on")
    table.add_column("description")
    for name in builtin_profiles():
        p = load_profile(name)
        fails = ", ".join(sorted(k for k, v in p.severity.items() if v == "fail"))
        table.add_row(name, f"{p.thresholds.true_peak_ceiling_dbtp:+.1f}", fails, p.description)
    console.print(table)
    return EXIT_OK


@app.command()
def version() -> int:
    """Print the version."""
    typer.echo(__version__)
    return EXIT_OK


def run_qc_command(
    inputs: list[str],
    out: Path,
    *,
    profile: str,
    address: str | None,
    workers: int | None,
    block_frames: int = 262144,
    redo: bool = False,
    log_json: Path | None = None,
    gpu: str = "auto",
    report: bool = False,
) -> int:
    """Discover, audit on Ray, write the datasets, print the summary; return the exit code."""
    from farm import storage  # noqa: PLC0415

    remote_out = storage.is_uri(str(out))
    if not remote_out:
        out = Path(out)
    qc_where = storage.join(str(out), "qc") if remote_out else Path(out) / "qc"
    from cluster.runtime import ClusterConfig, SessionInfo, ray_session, run_qc  # noqa: PLC0415 - Ray is slow to import
    from farm.catalogue import iter_discover  # noqa: PLC0415
    from farm.output import QCWriter  # noqa: PLC0415
    from farm.profiles import load_profile  # noqa: PLC0415
    from farm.qc import QCConfig  # noqa: PLC0415

    console, err = _consoles()
    qc_profile = load_profile(profile)
    try:
        qc_config = QCConfig(profile=qc_profile, block_frames=block_frames)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    cluster_config = ClusterConfig(address=address, workers=workers, gpu=gpu)
    from farm.resume import ResumeIndex, fingerprint  # noqa: PLC0415

    # Two passes over the inputs, one track at a time (a manifest of millions of rows is never held): the first
    # counts and checks, the second feeds the cluster.
    index = None if redo else ResumeIndex.load(out, qc_profile.name)
    resuming = index is not None and index.rows > 0

    def wanted():
        for spec in iter_discover(inputs):
            if not (resuming and index.is_done(spec.track_id, *fingerprint(spec.abs_path))):
                yield spec

    found = skipped = total = 0
    releases: set[str] = set()
    for spec in iter_discover(inputs):
        if not remote_out:
            _check_out_dir(out, [spec])
        found += 1
        if resuming and index.is_done(spec.track_id, *fingerprint(spec.abs_path)):
            skipped += 1
        else:
            total += 1
            releases.add(spec.release_id)
    if resuming:
        err.print(f"resume: {skipped} of {found} track(s) already audited from unchanged inputs in {qc_where}, "
                  f"skipped; {total} to do (--redo audits everything)", highlight=False)
    err.print(f"{total} track(s) in {len(releases)} release(s); profile {qc_profile.name}")
    del releases
    specs = wanted()

    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    offenders: list[dict] = []
    audio_s = 0.0
    t_start = time.perf_counter()
    if not total and address is None:  # nothing left to do: no need to start Ray
        session_ctx = contextlib.nullcontext(SessionInfo(address="local", embedded=True, parallelism=1))
    else:
        session_ctx = ray_session(cluster_config)
    from farm.output import ObjectQCWriter  # noqa: PLC0415

    writer_ctx = ObjectQCWriter(str(out), resume=index) if remote_out else QCWriter(out, resume=index)
    with writer_ctx as writer, session_ctx as session:
        if not total:
            err.print("nothing to audit: every track is up to date", highlight=False)
        else:
            err.print(
                f"Ray {'embedded' if session.embedded else 'at ' + session.address}: {session.parallelism} "
                f"worker(s), ready in {time.perf_counter() - t_start:.1f} s; {session.gpu_note}",
                highlight=False,
            )
            if session.gpus > 0:
                qc_config = dataclasses.replace(qc_config, device="gpu")
        # Speed is measured from here: Ray's start-up is a constant, not a property of the audit.
        t0 = time.perf_counter()
        with _progress(err, total, log_json=log_json) as tick:
            reports = run_qc(specs, qc_config, parallelism=session.parallelism) if total else []
            for report in reports:
                writer.add(report)
                statuses[report.status] += 1
                for ev in report.events:
                    kinds[(ev["kind"], ev["severity"])] += 1
                audio_s += report.audio_s
                if report.status != "ok":
                    _keep_worst(offenders, report.row)
                tick(audio_s, time.perf_counter() - t0, failed=report.status == "error")
        wall = time.perf_counter() - t0
        qc_dir = writer.commit(
            {
                "farm_version": __version__,
                "inputs": [i if storage.is_uri(i) else str(Path(i).resolve()) for i in inputs],
                "profile": qc_profile.to_dict(),
                "ray": {"address": session.address, "embedded": session.embedded, "parallelism": session.parallelism},
                "tracks": total,
                "tracks_found": found,
                "tracks_skipped_resume": skipped,
                "status_counts": dict(statuses),
                "audio_s": audio_s,
                "wall_s": wall,
                "startup_s": t0 - t_start,
            }
        )
    _summary(console, statuses, kinds, offenders, qc_dir, audio_s, wall)
    if not remote_out:
        if report:
            from farm.report.build import build_report  # noqa: PLC0415

            console.print(f"report: {build_report(out)}", highlight=False)
        else:
            console.print(f"to see it: farm report {out}", highlight=False)
    return EXIT_UNREADABLE if statuses["error"] else EXIT_OK


def _check_out_dir(out: Path, specs) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    out_abs = out.resolve()
    for spec in specs:
        # Nothing is written beside the sources: an output folder that *is* a source file's folder is allowed
        # (we only add OUT/qc), but never one inside which we would overwrite a source file.
        if Path(spec.abs_path).resolve().is_relative_to(out_abs / "qc"):
            raise ConfigError(f"--out {out} would write over input {spec.path}; choose another output folder")


class _progress:
    """Progress: a rich bar on a terminal, plain lines (at most every 5 s) otherwise, and with ``log_json`` one
    JSON object per line (at most every 5 s, and at the end) for schedulers: tracks done/total, failures (error
    rows) so far, tracks and audio hours per second, x real time, ETA."""

    def __init__(self, err: Console, total: int, *, log_json: Path | None = None) -> None:
        self.err, self.total, self.done, self.failed = err, total, 0, 0
        self.rich = err.is_terminal
        self.last_line = self.last_json = 0.0
        self.log_json = log_json
        self._json_fh = None

    def __enter__(self):
        if self.log_json is not None:
            self._json_fh = sys.stdout if str(self.log_json) == "-" else open(self.log_json, "a", encoding="utf-8")
        if self.rich:
            self.bar = Progress(
                TextColumn("[bold]QC"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[audio]}"),
                TextColumn("{task.fields[speed]}"),
                TextColumn("{task.fields[failed]}"),
                TimeRemainingColumn(),
                console=self.err,
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("qc", total=self.total, audio="0.00 h audio", speed="", failed="")
        return self.tick

    def _numbers(self, audio_s: float, wall_s: float) -> dict:
        left = self.total - self.done
        return {
            "tracks_done": self.done, "tracks_total": self.total, "failed": self.failed,
            "audio_h": round(audio_s / 3600, 4), "wall_s": round(wall_s, 2),
            "tracks_per_s": round(self.done / wall_s, 3) if wall_s > 0 else None,
            "audio_h_per_s": round(audio_s / 3600 / wall_s, 5) if wall_s > 0 else None,
            "x_realtime": round(audio_s / wall_s, 1) if wall_s > 0 else None,
            "eta_s": round(wall_s / self.done * left, 1) if self.done else None,
        }

    def tick(self, audio_s: float, wall_s: float, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += bool(failed)
        n = self._numbers(audio_s, wall_s)
        speed = (f"{n['tracks_per_s']:.1f} tracks/s, {n['audio_h_per_s'] * 3600:.0f}x realtime"
                 if wall_s > 0 else "")
        audio = f"{audio_s / 3600:.2f} h audio"
        failures = f"{self.failed} failed" if self.failed else ""
        if self.rich:
            self.bar.update(self.task, advance=1, audio=audio, speed=speed, failed=failures)
        elif wall_s - self.last_line >= 5 or self.done == self.total:
            self.last_line = wall_s
            eta = f", ETA {n['eta_s']:.0f} s" if n["eta_s"] is not None else ""
            self.err.print(f"qc {self.done}/{self.total} tracks, {audio}, {speed}"
                           f"{', ' + failures if failures else ''}{eta}", highlight=False)
        if self._json_fh is not None and (wall_s - self.last_json >= 5 or self.done == self.total):
            self.last_json = wall_s
            self._write_json({"event": "progress", **n})

    def _write_json(self, obj: dict) -> None:
        self._json_fh.write(json.dumps({"time": time.time(), **obj}) + "\n")
        self._json_fh.flush()

    def __exit__(self, *exc) -> None:
        if self.rich:
            self.bar.__exit__(*exc)
        if self._json_fh is not None:
            self._write_json({"event": "end", "tracks_done": self.done, "tracks_total": self.total,
                              "failed": self.failed, "ok": exc[0] is None})
            if self._json_fh is not sys.stdout:
                self._json_fh.close()


_STATUS_ORDER = {"error": 0, "fail": 1, "warn": 2, "ok": 3}
WORST_SHOWN = 10


def _worst_key(row: dict) -> tuple:
    return (_STATUS_ORDER[row["status"]], -row["n_events"], row["path"])


def _keep_worst(worst: list[dict], row: dict) -> None:
    """Keep only the WORST_SHOWN worst rows, so the summary costs no memory on a catalogue of millions."""
    worst.append(row)
    if len(worst) > 4 * WORST_SHOWN:
        worst.sort(key=_worst_key)
        del worst[WORST_SHOWN:]


def _summary(console, statuses, kinds, offenders, qc_dir, audio_s, wall) -> None:
    table = Table(title="QC summary")
    table.add_column("status")
    table.add_column("tracks", justify="right")
    colours = {"ok": "green", "warn": "yellow", "fail": "red", "error": "magenta"}
    for status in ("ok", "warn", "fail", "error"):
        table.add_row(f"[{colours[status]}]{status}[/]", str(statuses.get(status, 0)))
    console.print(table)
    if kinds:
        kt = Table(title="Findings")
        kt.add_column("kind")
        kt.add_column("severity")
        kt.add_column("count", justify="right")
        for (kind, sev), n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
            kt.add_row(kind, sev, str(n))
        console.print(kt)
    if offenders:
        worst = sorted(offenders, key=_worst_key)[:WORST_SHOWN]
        ot = Table(title="Worst offenders")
        ot.add_column("status")
        ot.add_column("path", overflow="fold")
        ot.add_column("LUFS", justify="right")
        ot.add_column("dBTP", justify="right")
        ot.add_column("why", overflow="fold")
        for r in worst:
            why = r["error"] or ", ".join(k[2:] for k, v in r.items() if k.startswith("n_") and k != "n_events" and v)
            ot.add_row(r["status"], r["path"], _fmt(r["integrated_lufs"]), _fmt(r["true_peak_dbtp"]), why)
        console.print(ot)
    speed = f", {audio_s / wall:.0f}x realtime" if wall > 0 else ""
    console.print(f"{audio_s / 3600:.3f} h of audio in {wall:.1f} s{speed}")
    if isinstance(qc_dir, str):  # object storage: a manifest names the published parts
        console.print(f"Parquet: published under {qc_dir} (read with farm.storage.published_dataset({qc_dir!r}, "
                      "'tracks'))")
    else:
        console.print(f"Parquet: {qc_dir / 'tracks'} and {qc_dir / 'events'}")


def _fmt(v) -> str:
    return "" if v is None else f"{v:.1f}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every expected failure into a one-line message and an exit code."""
    _, err = _consoles()
    try:
        code = app(args=argv, standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError:
        code = EXIT_OK
    except click_exceptions.UsageError as exc:
        err.print(f"farm: usage error: {exc.format_message()}", highlight=False, markup=False, soft_wrap=True)
        code = EXIT_USAGE
    except click_exceptions.ClickException as exc:
        err.print(f"farm: {exc.format_message()}", highlight=False, markup=False, soft_wrap=True)
        code = EXIT_USAGE
    except typer.Abort:
        err.print("farm: interrupted", highlight=False)
        code = 130
    except typer.Exit as exc:
        code = exc.exit_code
    except FarmError as exc:
        err.print(f"farm: {exc}", highlight=False, markup=False, soft_wrap=True)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        err.print("farm: interrupted", highlight=False)
        code = 130
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
