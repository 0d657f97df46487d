"""Inline SVG plots drawn by hand: crisp at any zoom, a few kilobytes each, no plotting library.

Every plot has a plot area ``left .. left + width`` by ``top .. top + height`` (in SVG user units, which are CSS
pixels as the SVG is written with a fixed ``width``), recorded on the ``<svg>`` element as ``data-left``,
``data-width``, ``data-top``, ``data-height``. A time axis maps ``t`` seconds to
``x = left + t / duration_s * width`` (``data-duration-s`` on the ``<svg>``), so a test can check where a marker
is drawn from its ``data-time-s`` attribute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import numpy as np

__all__ = ["Axes", "fmt_time", "histogram", "nice_ticks"]


def fmt_time(t: float, *, ms: bool = True) -> str:
    """``mm:ss.mmm`` (or ``mm:ss`` with ``ms=False``); hours roll into the minutes (``125:03.250``)."""
    if t is None or not math.isfinite(t):
        return ""
    t = max(0.0, float(t))
    total_ms = round(t * 1000.0)
    minutes, rest = divmod(total_ms, 60_000)
    seconds, milli = divmod(rest, 1000)
    return f"{minutes:02d}:{seconds:02d}.{milli:03d}" if ms else f"{minutes:02d}:{seconds:02d}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``lo..hi``, about ``n`` of them (1, 2, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v - round(v)) > 1e-9 else str(round(v))


@dataclass
class Axes:
    """One plot: a linear (or log-x) data window mapped onto a plot area, collecting SVG elements.

    Parameters
    ----------
    xlim, ylim : (float, float)
        Data ranges; ``ylim`` is drawn bottom to top.
    width, height : int
        Size of the plot area in pixels; the SVG adds ``left``/``right``/``top``/``bottom`` margins.
    log_x : bool
        Logarithmic x axis (frequencies).
    """

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    width: int = 880
    height: int = 180
    left: int = 64
    right: int = 16
    top: int = 26
    bottom: int = 38
    log_x: bool = False
    css_class: str = "plot"
    attrs: dict = field(default_factory=dict)
    parts: list = field(default_factory=list)

    def x(self, v) -> np.ndarray | float:
        lo, hi = self.xlim
        if self.log_x:
            v, lo, hi = np.log10(np.maximum(v, 1e-12)), math.log10(lo), math.log10(hi)
        return self.left + (np.asarray(v, dtype=float) - lo) / (hi - lo) * self.width

    def y(self, v) -> np.ndarray | float:
        lo, hi = self.ylim
        v = np.clip(np.asarray(v, dtype=float), lo, hi)
        return self.top + (hi - v) / (hi - lo) * self.height

    # --- elements -------------------------------------------------------------------------------------------

    def add(self, svg: str) -> None:
        self.parts.append(svg)

    def line(self, xs, ys, *, css: str, label: str = "") -> None:
        """A polyline through finite points; a NaN breaks the line."""
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        ok = np.isfinite(xs) & np.isfinite(ys)
        if not ok.any():
            return
        px, py = self.x(xs), self.y(ys)
        runs, cur = [], []
        for i in range(len(xs)):
            if ok[i]:
                cur.append(f"{px[i]:.1f},{py[i]:.1f}")
            elif cur:
                runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        title = f"<title>{escape(label)}</title>" if label else ""
        for run in runs:
            if len(run) == 1:
                run = run * 2
            self.add(f'<polyline class="{css}" points="{" ".join(run)}">{title}</polyline>')

    def band(self, xs, lo, hi, *, css: str) -> None:
        """A filled band between ``lo`` and ``hi`` (the waveform envelope)."""
        xs = np.asarray(xs, dtype=float)
        px, plo, phi = self.x(xs), self.y(lo), self.y(hi)
        pts = [f"{a:.1f},{b:.1f}" for a, b in zip(px, phi)] + [f"{a:.1f},{b:.1f}" for a, b in zip(px[::-1], plo[::-1])]
        self.add(f'<polygon class="{css}" points="{" ".join(pts)}"/>')

    def hline(self, v: float, *, css: str, label: str = "") -> None:
        if v is None or not math.isfinite(v) or not self.ylim[0] <= v <= self.ylim[1]:
            return
        y = float(self.y(v))
        self.add(f'<line class="{css}" x1="{self.left}" x2="{self.left + self.width}" y1="{y:.1f}" y2="{y:.1f}"/>')
        if label:
            self.add(f'<text class="{css}-label" x="{self.left + self.width - 4}" y="{y - 3:.1f}" '
                     f'text-anchor="end">{escape(label)}</text>')

    def vline(self, v: float, *, css: str, label: str = "", attrs: str = "") -> None:
        x = float(self.x(v))
        self.add(f'<g class="{css}" {attrs}><line x1="{x:.2f}" x2="{x:.2f}" y1="{self.top}" '
                 f'y2="{self.top + self.height}"/>'
                 + (f'<text x="{x + 3:.1f}" y="{self.top + 11}">{escape(label)}</text>' if label else "") + "</g>")

    def bar(self, x0: float, x1: float, y0: float, y1: float, *, css: str, label: str = "") -> None:
        ax0, ax1 = sorted((float(self.x(x0)), float(self.x(x1))))
        ay0, ay1 = sorted((float(self.y(y0)), float(self.y(y1))))
        title = f"<title>{escape(label)}</title>" if label else ""
        self.add(f'<rect class="{css}" x="{ax0:.1f}" y="{ay0:.1f}" width="{max(ax1 - ax0, 0.5):.1f}" '
                 f'height="{max(ay1 - ay0, 0.5):.1f}">{title}</rect>')

    # --- frame ----------------------------------------------------------------------------------------------

    def render(self, *, xticks: list[tuple[float, str]] | None = None,
               yticks: list[tuple[float, str]] | None = None) -> str:
        w = self.left + self.width + self.right
        h = self.top + self.height + self.bottom
        if xticks is None:
            if self.log_x:
                cands = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
                xticks = [(c, f"{c / 1000:g}k" if c >= 1000 else f"{c:g}") for c in cands
                          if self.xlim[0] <= c <= self.xlim[1]]
            else:
                xticks = [(t, _f(t)) for t in nice_ticks(*self.xlim, n=8)]
        if yticks is None:
            yticks = [(t, _f(t)) for t in nice_ticks(*self.ylim, n=4)]
        g = []
        g.append(f'<rect class="plot-area" x="{self.left}" y="{self.top}" width="{self.width}" '
                 f'height="{self.height}"/>')
        for v, text in yticks:
            y = float(self.y(v))
            g.append(f'<line class="grid" x1="{self.left}" x2="{self.left + self.width}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{self.left - 5}" y="{y + 3.5:.1f}" text-anchor="end">{escape(text)}</text>')
        for v, text in xticks:
            x = float(self.x(v))
            g.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{self.top}" y2="{self.top + self.height}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{self.top + self.height + 14}" '
                     f'text-anchor="middle">{escape(text)}</text>')
        if self.title:
            g.append(f'<text class="title" x="{self.left}" y="{self.top - 9}">{escape(self.title)}</text>')
        if self.xlabel:
            g.append(f'<text class="label" x="{self.left + self.width / 2:.0f}" y="{h - 4}" '
                     f'text-anchor="middle">{escape(self.xlabel)}</text>')
        if self.ylabel:
            g.append(f'<text class="label" transform="translate(13,{self.top + self.height / 2:.0f}) rotate(-90)" '
                     f'text-anchor="middle">{escape(self.ylabel)}</text>')
        extra = "".join(f' {k}="{escape(str(v))}"' for k, v in self.attrs.items())
        return (f'<svg class="{self.css_class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" data-left="{self.left}" data-width="{self.width}" data-top="{self.top}" '
                f'data-height="{self.height}"{extra}>' + "".join(g) + "".join(self.parts) + "</svg>")


def histogram(values: list[float], *, title: str, xlabel: str, bin_width: float, width: int = 360,
              css: str = "hist", marks: tuple[tuple[float, str], ...] = ()) -> str:
    """A histogram of the finite ``values`` with ``bin_width``-wide bins; ``marks`` are labelled vertical lines."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        ax = Axes((0, 1), (0, 1), title=title, xlabel=xlabel, ylabel="tracks", width=width, height=120)
        ax.add(f'<text class="note" x="{ax.left + 10}" y="{ax.top + 60}">no values</text>')
        return ax.render(xticks=[], yticks=[])
    lo = math.floor(v.min() / bin_width) * bin_width
    hi = max(math.ceil(v.max() / bin_width) * bin_width, lo + bin_width)
    for m, _ in marks:
        lo, hi = min(lo, math.floor(m / bin_width) * bin_width), max(hi, math.ceil(m / bin_width) * bin_width)
    edges = np.arange(lo, hi + bin_width / 2, bin_width)
    counts, _ = np.histogram(v, bins=edges)
    top = max(int(counts.max()), 1)
    ax = Axes((lo, hi), (0, top * 1.1), title=f"{title} ({v.size} tracks)", xlabel=xlabel, ylabel="tracks",
              width=width, height=120, left=48)
    for c, a, b in zip(counts, edges[:-1], edges[1:]):
        if c:
            ax.bar(a, b, 0, c, css="bar", label=f"{a:g} .. {b:g}: {c} track(s)")
    for m, label in marks:
        ax.vline(m, css="mark", label=label)
    yt = [(t, _f(t)) for t in nice_ticks(0, top, n=3) if t == int(t)]
    return ax.render(yticks=yt)
