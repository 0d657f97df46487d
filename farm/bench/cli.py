"""``farm bench``: benchmarks. ``farm bench qc-accuracy`` scores the QC audit's detectors on a generated corpus.

Mounted on the main command by ``app.add_typer(bench_app, name="bench")`` in :mod:`farm.cli`.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: how accurate and how fast the QC audit is, measured on generated material.",
    add_completion=False,
    no_args_is_help=True,
)


@bench_app.command("qc-accuracy")
def qc_accuracy(
    seed: Annotated[int, typer.Option(help="Seed of the generated corpus (songs, formats, defects).")] = 0,
    hours: Annotated[float, typer.Option(help="Hours of audio to generate (about half clean).")] = 0.2,
    workers: Annotated[Optional[int], typer.Option(help="Processes for generation and audit (default: all CPUs).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write (and keep) the corpus, the audit's rows and the scores here.")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the corpus even without --out (its folder is printed).")] = False,
    renderer: Annotated[str, typer.Option(help="auto (fluidsynth when available), fluidsynth or builtin.")] = "auto",
    profile: Annotated[str, typer.Option(help="QC profile the audit runs with.")] = "distributor-ingest",
    min_per_kind: Annotated[int, typer.Option(help="Plant every kind at least about this often (songs get shorter when the hours cannot hold it).")] = 4,
    show: Annotated[int, typer.Option(help="List at most this many misses and false alarms.")] = 20,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Score a kept corpus again (a folder an earlier --out wrote) with the detectors as they are now, instead of generating one; its audit rows and scores are replaced.")] = None,
) -> None:
    """Plant defects in realistic songs, run the QC audit, print recall, precision and false alarms per hour per kind."""
    from farm.bench.accuracy import report_dict, run_accuracy  # noqa: PLC0415 - keeps `farm --help` fast

    console = Console(width=max(Console().width, 132))
    err = Console(stderr=True)
    target = out if corpus is None else corpus
    if target is None and keep:
        target = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    if corpus is not None:
        err.print(f"[bold]farm bench qc-accuracy[/]: scoring the kept corpus in {corpus} again …")
    else:
        err.print(f"[bold]farm bench qc-accuracy[/]: seed {seed}, {hours:g} h"
                  + (f", corpus in {target}" if target is not None else "") + " …")
    # with --corpus, --out goes through as given: run_accuracy refuses the two together
    report = run_accuracy(seed, hours, workers=workers, out=target if corpus is None else out, renderer=renderer,
                          profile=profile, min_per_kind=min_per_kind, corpus=corpus)
    console.print(report.rich_table())
    audio_h = report.audio_s / 3600.0
    gen = report.generation_s / audio_h if audio_h else math.nan
    audit_x = report.audio_s / report.audit_s if report.audit_s else math.nan
    made = ("kept corpus, nothing generated" if corpus is not None
            else f"generation {report.generation_s:.1f} s ({gen:.0f} s per hour of audio)")
    console.print(f"{made}; audit {report.audit_s:.1f} s "
                  f"({audit_x:.0f}x real time on {report.workers} worker(s)); whole-track flags on clean files: "
                  f"{report.whole_track_flags_on_clean}")
    for title, rows, cols in (("misses", report.misses, ("path", "kind", "start_s", "end_s", "channel", "detail")),
                              ("false alarms", report.false_alarms,
                               ("path", "kind", "start_s", "end_s", "channel", "clean", "planted_on_track"))):
        if rows and show > 0:
            console.print(f"[bold]{title}[/] ({len(rows)}{', first ' + str(show) if len(rows) > show else ''}):")
            for r in rows[:show]:
                console.print("  " + "  ".join(_cell(r.get(c)) for c in cols), highlight=False, markup=False)
    failures = report.failures()
    if failures:
        console.print(f"[yellow]bar not met[/] (recall >= 0.95 per kind, <= 1 false alarm per clean hour per kind): "
                      f"{len(failures)} miss(es) of the bar")
        for line in failures:
            console.print(f"  {line}", highlight=False, markup=False)
    else:
        console.print("[green]bar met[/]: recall >= 0.95 per kind and <= 1 false alarm per clean hour per kind")
    if target is not None:
        (target / "accuracy.json").write_text(json.dumps(report_dict(report), indent=2, default=str) + "\n",
                                              encoding="utf-8")
        err.print(f"corpus, audit rows and scores kept in {target}")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)


__all__ = ["bench_app", "qc_accuracy"]
