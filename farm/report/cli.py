"""``farm report OUT`` (the static HTML report of a run) and ``farm inspect FILE`` (one file's QC in the
terminal). Registered on the main command by :func:`mount` (called from :mod:`farm.cli`)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["inspect", "mount", "report", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values, *, width: int = 60, lo: float | None = None, hi: float | None = None) -> str:
    """One line of unicode blocks: ``values`` reduced to ``width`` buckets (each bucket's maximum); a bucket
    with no finite value is a space.

    >>> sparkline([-30, -20, -10], width=3)
    '▁▅█'
    """
    vals = [float(v) for v in values]
    if not vals:
        return ""
    n = min(width, len(vals))
    buckets = []
    for i in range(n):
        chunk = [v for v in vals[i * len(vals) // n:(i + 1) * len(vals) // n] if math.isfinite(v)]
        buckets.append(max(chunk) if chunk else math.nan)
    finite = [b for b in buckets if math.isfinite(b)]
    if not finite:
        return " " * n
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    span = hi - lo or 1.0
    return "".join(" " if not math.isfinite(b) else
                   _BLOCKS[min(len(_BLOCKS) - 1, max(0, int((b - lo) / span * (len(_BLOCKS) - 1) + 0.5)))]
                   for b in buckets)


def report(
    out: Annotated[Path, typer.Argument(help="The --out folder of `farm qc` or `farm master`.")],
    max_track_pages: Annotated[int | None, typer.Option(help="At most this many track pages, worst tracks first (each reads its audio once).")] = None,
    audio_root: Annotated[list[Path] | None, typer.Option("--audio-root", help="A folder the tracks' relative paths are relative to (a manifest's folder); repeatable.")] = None,
) -> int:
    """Write a static HTML report of a run (OUT/report/index.html) and print its path."""
    from farm.report.build import build_report

    err = Console(stderr=True)
    t0 = time.perf_counter()
    index = build_report(out, max_track_pages=max_track_pages, audio_roots=audio_root or [])
    err.print(f"report written in {time.perf_counter() - t0:.1f} s", highlight=False)
    typer.echo(str(index))
    return 0


def inspect(
    file: Annotated[Path, typer.Argument(help="One audio file.")],
    profile: Annotated[str, typer.Option(help="QC profile: a built-in name or a TOML file.")] = "distributor-ingest",
) -> int:
    """One file's QC in the terminal (a table and a loudness sparkline); nothing is written."""
    from farm.catalogue import discover
    from farm.errors import ConfigError
    from farm.profiles import load_profile
    from farm.qc import QCConfig, audit_track
    from farm.report.html import ADVICE
    from farm.report.svg import fmt_time

    if file.is_dir():
        raise ConfigError(f"{file} is a folder; `farm inspect` looks at one audio file (use `farm qc` for folders)")
    specs = discover([str(file)])
    console = Console()
    rep = audit_track(specs[0], QCConfig(profile=load_profile(profile)))
    r = rep.row
    colours = {"ok": "green", "warn": "yellow", "fail": "red", "error": "magenta"}
    t = Table(title=f"{file.name}: [{colours.get(r['status'], 'white')}]{r['status']}[/]", show_header=False,
              box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()

    def f(v, d=1, unit=""):
        return "" if v is None else f"{v:.{d}f}{unit}"

    if r["error"]:
        t.add_row("error", r["error"])
    else:
        t.add_row("format", f"{r['container']} {r['subtype']}, {r['sample_rate']} Hz, {r['channels']} ch, "
                            f"{fmt_time(r['duration_s'])}")
        t.add_row("loudness", f"{f(r['integrated_lufs'], 1, ' LUFS')}  LRA {f(r['loudness_range_lu'], 1, ' LU')}  "
                              f"max short-term {f(r['max_short_term_lufs'], 1, ' LUFS')}")
        t.add_row("peaks", f"true {f(r['true_peak_dbtp'], 2, ' dBTP')}  sample {f(r['sample_peak_dbfs'], 2, ' dBFS')}  "
                           f"crest {f(r['crest_db'], 1, ' dB')}")
        t.add_row("stereo", f"correlation {f(r['correlation'], 2)} (min {f(r['min_correlation'], 2)})")
        t.add_row("silence", f"head {f(r['head_silence_s'], 2, ' s')}  tail {f(r['tail_silence_s'], 2, ' s')}")
        line = _loudness_line(specs[0].abs_path)
        if line:
            t.add_row("short-term", line)
    console.print(t)
    if rep.events:
        et = Table(show_lines=False)
        for c in ("time", "kind", "severity", "ch", "detail", "what to do"):
            et.add_column(c, overflow="fold")
        for e in sorted(rep.events, key=lambda e: e["start_s"]):
            ch = "all" if e["channel"] < 0 else str(e["channel"])
            et.add_row(fmt_time(e["start_s"]), e["kind"], e["severity"], ch, e["detail"], ADVICE.get(e["kind"], ""))
        console.print(et)
    else:
        console.print("no findings")
    return 2 if r["status"] == "error" else 0


def _loudness_line(path: str) -> str:
    """The short-term loudness over the file as a sparkline, with its range in LUFS."""
    from farm.audio import probe, read_blocks
    from kernels.loudness import LoudnessMeter

    info = probe(path)
    meter = LoudnessMeter(info.sample_rate, info.channels)
    for block in read_blocks(path, info):
        meter.process(block)
    res = meter.result()
    series = [v for v in res.short_term_lufs] or [v for v in res.momentary_lufs]
    finite = [v for v in series if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = max(min(finite), max(finite) - 40), max(finite)
    return f"{sparkline(series, width=60, lo=lo, hi=hi)}  {lo:.0f}..{hi:.0f} LUFS"


def mount(app: typer.Typer) -> None:
    """Register ``report`` and ``inspect`` on the ``farm`` command."""
    app.command("report")(report)
    app.command("inspect")(inspect)
