"""The three kinds of page: the catalogue (``index.html``), a track, a release."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from farm.report.data import STATUS_ORDER, RunData
from farm.report.html import ADVICE, esc, num, page, sort_value, status_badge
from farm.report.svg import Axes, fmt_time, histogram, nice_ticks
from farm.report.view import TrackView

__all__ = ["index_page", "kind_counts", "release_page", "track_page"]

PLOT_W = 880


def kind_counts(row: dict) -> dict[str, int]:
    return {k[2:]: int(v) for k, v in row.items() if k.startswith("n_") and k != "n_events" and v}


def _findings_cell(row: dict) -> str:
    return ", ".join(f"{k}&times;{n}" if n > 1 else k for k, n in sorted(kind_counts(row).items()))


# ------------------------------------------------------------------------------------------------------------
# index.html


def index_page(run: RunData, tracks: list[dict], pages: dict[str, str], release_pages: dict[str, str],
               *, wall_note: str = "") -> str:
    statuses = Counter(t.get("status") or "unknown" for t in tracks)
    cards = "".join(f'<div class="card"><span class="badge {esc(s)}">{esc(s)}</span><b>{statuses.get(s, 0)}</b></div>'
                    for s in ("ok", "warn", "fail", "error"))
    cards = f'<div class="card">tracks<b>{len(tracks)}</b></div>' + cards
    if run.mastering:
        ms = Counter(m["status"] for m in run.mastering.values())
        cards += "".join(f'<div class="card">{esc(s)}<b>{n}</b></div>' for s, n in sorted(ms.items()))
    kinds = Counter()
    for t in tracks:
        for k, n in kind_counts(t).items():
            kinds[k] += n
    kind_list = ", ".join(f"{esc(k)} {n}" for k, n in kinds.most_common()) or "none"

    lufs = [t.get("integrated_lufs") for t in tracks]
    tp = [t.get("true_peak_dbtp") for t in tracks]
    lra = [t.get("loudness_range_lu") for t in tracks]
    plots = (histogram(lufs, title="Integrated loudness", xlabel="LUFS", bin_width=1.0, marks=((-14.0, "-14"),))
             + histogram(tp, title="True peak", xlabel="dBTP", bin_width=0.5, marks=((-1.0, "-1 dBTP"),))
             + histogram(lra, title="Loudness range", xlabel="LU", bin_width=1.0))

    rows = []
    mastered = bool(run.mastering)
    for t in tracks:
        tid = t["track_id"]
        title = esc(t.get("title") or t.get("path"))
        link = f'<a href="{esc(pages[tid])}">{title}</a>' if tid in pages else title
        rel = t.get("release_id") or ""
        rlink = f'<a href="{esc(release_pages[rel])}">{esc(rel)}</a>' if rel in release_pages else esc(rel)
        why = esc(t.get("error") or "")
        m = run.mastering.get(tid)
        mcells = ""
        if mastered:
            mcells = (f'<td>{status_badge(m["status"]) if m else ""}</td>'
                      f'<td class="n" data-v="{sort_value(m and m["after_integrated_lufs"])}">'
                      f'{num(m and m["after_integrated_lufs"])}</td>')
        rows.append(
            f'<tr data-status="{esc(t.get("status"))}" data-track-id="{esc(tid)}">'
            f'<td data-v="{STATUS_ORDER.get(t.get("status"), 4)}">{status_badge(t.get("status"))}</td>'
            f"<td>{rlink}</td><td class=\"n\">{esc(t.get('track_number') or '')}</td><td>{link}</td>"
            f'<td class="n" data-v="{sort_value(t.get("integrated_lufs"))}">{num(t.get("integrated_lufs"))}</td>'
            f'<td class="n" data-v="{sort_value(t.get("loudness_range_lu"))}">{num(t.get("loudness_range_lu"))}</td>'
            f'<td class="n" data-v="{sort_value(t.get("true_peak_dbtp"))}">{num(t.get("true_peak_dbtp"), 2)}</td>'
            f'<td class="n">{t.get("n_events") or 0}</td><td>{_findings_cell(t)}'
            + (f'<div class="error-msg">{why}</div>' if why else "") + f"</td>{mcells}</tr>"
        )
    mheads = ('<th data-type="text">mastering</th><th class="n" data-type="num">LUFS after</th>' if mastered else "")
    table = (
        '<div class="filters" data-filter-for="tracks"><input type="search" placeholder="filter: title, release, '
        'kind, message…" aria-label="filter tracks"><select aria-label="status"><option value="">any status</option>'
        + "".join(f'<option value="{s}">{s}</option>' for s in ("error", "fail", "warn", "ok"))
        + '</select><span class="count muted"></span></div>'
        '<table id="tracks" class="sortable"><thead><tr><th data-type="num">status</th><th data-type="text">release</th>'
        '<th class="n" data-type="num">#</th><th data-type="text">title</th><th class="n" data-type="num">LUFS</th>'
        '<th class="n" data-type="num">LRA LU</th><th class="n" data-type="num">TP dBTP</th>'
        '<th class="n" data-type="num">findings</th><th data-type="text">by kind / error</th>' + mheads
        + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )

    rel_rows = []
    by_rel: dict[str, list[dict]] = {}
    for t in tracks:
        by_rel.setdefault(t.get("release_id") or "", []).append(t)
    for rel, ts in sorted(by_rel.items(), key=lambda kv: (min(STATUS_ORDER.get(t.get("status"), 4) for t in kv[1]), kv[0])):
        worst = min((t.get("status") or "unknown" for t in ts), key=lambda s: STATUS_ORDER.get(s, 4))
        rf = run.releases.get(rel)
        master = ""
        if rf is not None:
            if rf.hold:
                master = status_badge("held")
            elif rf.manifest is not None:
                master = status_badge(rf.manifest.get("checks"))
        link = f'<a href="{esc(release_pages[rel])}">{esc(rel)}</a>' if rel in release_pages else esc(rel)
        rel_rows.append(f'<tr data-status="{esc(worst)}"><td data-v="{STATUS_ORDER.get(worst, 4)}">{status_badge(worst)}'
                        f'</td><td>{link}</td><td class="n">{len(ts)}</td>'
                        f'<td class="n">{sum(t.get("n_events") or 0 for t in ts)}</td><td>{master}</td></tr>')
    rel_table = ('<table id="releases" class="sortable"><thead><tr><th data-type="num">worst</th><th data-type="text">'
                 'release</th><th class="n" data-type="num">tracks</th><th class="n" data-type="num">findings</th>'
                 '<th data-type="text">delivery</th></tr></thead><tbody>' + "".join(rel_rows) + "</tbody></table>")
    problems = "".join(f'<p class="warnbox">{esc(p)}</p>' for p in run.problems)
    not_linked = len(tracks) - sum(1 for t in tracks if t["track_id"] in pages)
    note = (f'<p class="muted">{not_linked} track(s) have no page of their own (--max-track-pages); the worst '
            "ones do.</p>" if not_linked else "")
    body = (
        f'<h1>Catalogue report</h1><nav>{esc(run.out_dir)}{(" · " + esc(wall_note)) if wall_note else ""}</nav>'
        f"{problems}<div class=\"cards\">{cards}</div><p>Findings by kind: {kind_list}</p>"
        f'<h2>Distributions</h2><div class="plots">{plots}</div>'
        f"<h2>Releases</h2>{rel_table}<h2>Tracks, worst first</h2>{note}{table}"
    )
    return page("Catalogue report", body)


# ------------------------------------------------------------------------------------------------------------
# tracks/<track_id>.html


def _time_label(duration: float) -> str:
    return "time (mm:ss)" if duration >= 10 else "time (s)"


def _time_ticks(duration: float) -> list[tuple[float, str]]:
    return [(t, fmt_time(t, ms=False) if duration >= 10 else f"{t:g} s") for t in nice_ticks(0, duration, n=10)]


def _findings_markers(ax: Axes, events: list[dict], duration: float) -> None:
    for i, e in enumerate(events):
        t = min(max(e["start_s"] or 0.0, 0.0), duration)
        end = min(max(e["end_s"] or t, t), duration)
        x = float(ax.x(t))
        if end - t > 0:
            ax.add(f'<rect class="span" x="{x:.2f}" y="{ax.top}" width="{float(ax.x(end)) - x:.2f}" '
                   f'height="{ax.height}"/>')
        label_y = ax.top + 10 + 11 * (i % 4)
        anchor = "end" if x > ax.left + ax.width - 90 else "start"
        dx = -3 if anchor == "end" else 3
        ax.add(f'<g class="finding {esc(e["severity"])}" data-time-s="{t!r}" data-kind="{esc(e["kind"])}">'
               f'<title>{esc(e["kind"])} at {fmt_time(t)}: {esc(e["detail"])}</title>'
               f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{ax.top}" y2="{ax.top + ax.height}"/>'
               f'<text x="{x + dx:.1f}" y="{label_y}" text-anchor="{anchor}">{esc(e["kind"])}</text></g>')


def _waveform(view: TrackView, events: list[dict]) -> str:
    d = view.duration_s
    lim = max(1.0, float(np.max(np.abs(np.concatenate([view.env_min, view.env_max])))) if view.env_min.size else 1.0)
    ax = Axes((0, d), (-lim, lim), title="Waveform (min/max envelope, all channels) and findings",
              xlabel=_time_label(d), ylabel="amplitude (full scale)", width=PLOT_W, height=170,
              css_class="plot waveform", attrs={"data-duration-s": repr(d), "data-plot": "waveform"})
    n = view.env_min.size
    xs = (np.arange(n) + 0.5) * d / n
    ax.band(xs, view.env_min, view.env_max, css="env")
    _findings_markers(ax, events, d)
    return ax.render(xticks=_time_ticks(d), yticks=[(v, f"{v:g}") for v in (-lim, -lim / 2, 0, lim / 2, lim)])


def _loudness(view: TrackView, target: float | None) -> str:
    d = view.duration_s
    vals = np.concatenate([view.momentary_lufs, view.short_term_lufs])
    vals = vals[np.isfinite(vals)]
    hi = math.ceil((max(vals.max(), target or -99) if vals.size else 0) / 5) * 5 + 2
    lo = max(-70.0, math.floor((np.percentile(vals, 2) if vals.size else -60) / 5) * 5 - 5)
    ax = Axes((0, d), (lo, hi), title="Loudness: momentary (400 ms, grey) and short-term (3 s, blue)",
              xlabel=_time_label(d), ylabel="LUFS", width=PLOT_W, height=170, css_class="plot loudness",
              attrs={"data-duration-s": repr(d), "data-plot": "loudness"})
    ax.line(view.momentary_t, view.momentary_lufs, css="mom", label="momentary")
    ax.line(view.short_term_t, view.short_term_lufs, css="short", label="short-term")
    if math.isfinite(view.integrated_lufs):
        ax.hline(view.integrated_lufs, css="integrated", label=f"integrated {view.integrated_lufs:.1f} LUFS")
    if target is not None:
        ax.hline(target, css="target", label=f"target {target:.1f} LUFS")
    return ax.render(xticks=_time_ticks(d))


def _spectrum(view: TrackView, cutoff_hz: float | None) -> str:
    if view.spectrum_hz.size == 0:
        return '<p class="note">too short for a spectrum</p>'
    nyq = view.sample_rate / 2
    db = view.spectrum_db
    hi = math.ceil(db.max() / 10) * 10 + 5
    lo = max(hi - 120, math.floor(np.percentile(db, 1) / 10) * 10)
    ax = Axes((20, nyq), (lo, hi), title="Long-term spectrum of the mid signal (1/48 octave)", xlabel="frequency (Hz)",
              ylabel="dB re FS²/Hz", width=PLOT_W, height=170, log_x=True, css_class="plot spectrum",
              attrs={"data-plot": "spectrum"})
    ax.line(view.spectrum_hz, db, css="spec")
    if cutoff_hz is not None and 20 < cutoff_hz < nyq:
        ax.vline(cutoff_hz, css="mark", label=f"lossy cutoff {cutoff_hz / 1000:.1f} kHz",
                 attrs=f'data-cutoff-hz="{cutoff_hz!r}"')
    return ax.render()


def _correlation(view: TrackView, events: list[dict]) -> str:
    if view.channels < 2:
        return '<p class="note">mono: no L/R correlation</p>'
    d = view.duration_s
    ax = Axes((0, d), (-1, 1), title="L/R correlation (quiet windows left out)", xlabel=_time_label(d),
              ylabel="correlation", width=PLOT_W, height=120, css_class="plot correlation",
              attrs={"data-duration-s": repr(d), "data-plot": "correlation"})
    ax.hline(0.0, css="zero")
    ax.line(view.correlation_t, view.correlation, css="corr", label="L/R correlation")
    return ax.render(xticks=_time_ticks(d), yticks=[(-1, "-1"), (-0.5, "-0.5"), (0, "0"), (0.5, "0.5"), (1, "+1")])


def track_page(row: dict, events: list[dict], *, view: TrackView | None, view_note: str, release_href: str | None,
               mastering: dict | None, target_lufs: float | None) -> str:
    title = row.get("title") or row.get("path") or row["track_id"]
    facts = [
        ("release", esc(row.get("release_id"))), ("track", esc(row.get("track_number") or "")),
        ("artist", esc(row.get("artist"))), ("ISRC", esc(row.get("isrc"))), ("path", esc(row.get("path"))),
        ("format", esc(" ".join(str(row.get(k) or "") for k in ("container", "subtype")) +
                       (f", {row['sample_rate']} Hz, {row['channels']} ch" if row.get("sample_rate") else ""))),
        ("duration", fmt_time(row.get("duration_s")) if row.get("duration_s") else ""),
        ("integrated", num(row.get("integrated_lufs"), 1, " LUFS")), ("LRA", num(row.get("loudness_range_lu"), 1, " LU")),
        ("true peak", num(row.get("true_peak_dbtp"), 2, " dBTP")),
        ("max momentary / short-term", f"{num(row.get('max_momentary_lufs'))} / {num(row.get('max_short_term_lufs'))} LUFS"),
        ("correlation (min)", f"{num(row.get('correlation'), 2)} ({num(row.get('min_correlation'), 2)})"),
        ("head / tail silence", f"{num(row.get('head_silence_s'), 2)} / {num(row.get('tail_silence_s'), 2)} s"),
        ("DC offset", num(row.get("dc_offset"), 4)), ("profile", esc(row.get("profile"))),
    ]
    fact_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts if v and v.strip(" /()"))
    err = row.get("error")
    err_html = f'<p class="warnbox error-msg">Could not be measured: {esc(err)}</p>' if err else ""
    if view is not None:
        cutoff = next((e["value"] for e in events if e["kind"] == "lossy_bandwidth" and e["value"]), None)
        plots = (_waveform(view, events) + _loudness(view, target_lufs) + _spectrum(view, cutoff)
                 + _correlation(view, events))
    else:
        plots = f'<p class="note plots-skipped">Plots skipped: {esc(view_note)}</p>'
    ev_rows = []
    for e in events:
        ch = "all" if e["channel"] is None or e["channel"] < 0 else str(e["channel"])
        ev_rows.append(
            f'<tr data-kind="{esc(e["kind"])}" data-start-s="{e["start_s"]!r}"><td class="n">{fmt_time(e["start_s"])}</td>'
            f'<td class="n">{fmt_time(e["end_s"])}</td><td>{esc(e["kind"])}</td><td>{status_badge(e["severity"])}</td>'
            f"<td>{ch}</td><td class=\"n\">{num(e['value'], 3)}</td><td>{esc(e['detail'])}</td>"
            f"<td>{esc(ADVICE.get(e['kind'], ''))}</td></tr>")
    findings = ('<table id="findings" class="sortable"><thead><tr><th class="n" data-type="text">start</th>'
                '<th class="n" data-type="text">end</th><th data-type="text">kind</th><th data-type="text">severity</th>'
                '<th>channel</th><th class="n" data-type="num">value</th><th>detail</th><th>what to do</th></tr></thead>'
                "<tbody>" + "".join(ev_rows) + "</tbody></table>") if events else "<p>No findings.</p>"
    master_html = ""
    if mastering:
        m = mastering
        master_html = (
            "<h2>Mastering</h2><table><tbody>"
            f"<tr><th>status</th><td>{status_badge(m['status'])} {esc(m.get('error') or '')}</td></tr>"
            f"<tr><th>loudness</th><td>{num(m['before_integrated_lufs'])} → {num(m['after_integrated_lufs'])} LUFS "
            f"(target {num(m['target_lufs'])})</td></tr>"
            f"<tr><th>true peak</th><td>{num(m['before_true_peak_dbtp'], 2)} → {num(m['after_true_peak_dbtp'], 2)} dBTP"
            f"</td></tr><tr><th>checks</th><td>{esc(m.get('checks'))}</td></tr>"
            f"<tr><th>master</th><td>{esc(m.get('master_path'))}</td></tr></tbody></table>")
    nav = '<nav><a href="../index.html">catalogue</a>' + (
        f' · <a href="{esc(release_href)}">release {esc(row.get("release_id"))}</a>' if release_href else "") + "</nav>"
    body = (f"{nav}<h1>{esc(title)} {status_badge(row.get('status'))}</h1>{err_html}"
            f'<h2>Plots</h2><div class="track-plots">{plots}</div>'
            f"<h2>Findings ({len(events)})</h2><p class=\"muted\">Times are mm:ss.mmm from the start of the file."
            f"</p>{findings}{master_html}<h2>Measurements</h2><table><tbody>{fact_rows}</tbody></table>")
    return page(f"{title}: track report", body, depth=1)


# ------------------------------------------------------------------------------------------------------------
# releases/<release>.html


_PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#1b7c83", "#6e7781")


def _shape(bands: list, centres: list) -> np.ndarray:
    v = np.array([np.nan if b is None else b for b in bands], dtype=float)
    core = v[1:9] if v.size >= 9 else v
    return v - np.nanmean(core) if np.isfinite(core).any() else np.full_like(v, np.nan)


def _loudness_bars(tracks: list[dict], mastering: dict[str, dict], target: float | None) -> tuple[str, str]:
    items = []
    for t in tracks:
        m = mastering.get(t["track_id"])
        before = m["before_integrated_lufs"] if m else t.get("integrated_lufs")
        after = m["after_integrated_lufs"] if m else None
        items.append((t, before, after))
    vals = [v for _, b, a in items for v in (b, a) if v is not None and math.isfinite(v)]
    if not vals:
        return '<p class="note">no measurable loudness</p>', ""
    lo = math.floor(min(vals + [target or 0]) / 5) * 5 - 5 if target is not None else math.floor(min(vals) / 5) * 5 - 5
    hi = min(0.0, math.ceil(max(vals + ([target] if target is not None else [])) / 5) * 5 + 2)
    n = len(items)
    ax = Axes((0, n), (lo, hi), title="Integrated loudness per track: before (grey) and after mastering (blue)",
              xlabel="track", ylabel="LUFS", width=min(PLOT_W, max(240, 90 * n)), height=180,
              css_class="plot loudness-bars")
    for i, (t, b, a) in enumerate(items):
        label = f"{t.get('track_number') or i + 1}. {t.get('title') or ''}"
        if b is not None and math.isfinite(b):
            ax.bar(i + 0.12, i + 0.48, lo, b, css="bar before", label=f"{label}: before {b:.1f} LUFS")
        if a is not None and math.isfinite(a):
            ax.bar(i + 0.52, i + 0.88, lo, a, css="bar after", label=f"{label}: after {a:.1f} LUFS")
    if target is not None:
        ax.hline(target, css="target", label=f"target {target:.1f} LUFS")
    xt = [(i + 0.5, str(t.get("track_number") or i + 1)) for i, (t, _, _) in enumerate(items)]
    befores = [b for _, b, _ in items if b is not None and math.isfinite(b)]
    afters = [a for _, _, a in items if a is not None and math.isfinite(a)]
    spread = (f"Spread (loudest minus quietest): before {max(befores) - min(befores):.1f} LU"
              if len(befores) > 1 else "")
    if len(afters) > 1:
        spread += f", after {max(afters) - min(afters):.1f} LU"
    return ax.render(xticks=xt), spread


def _tone(plan: dict) -> str:
    tracks = [t for t in plan.get("tracks", []) if (t.get("analysis") or {}).get("mid_band_db")]
    if not tracks:
        return '<p class="note">no tonal analysis in plan.json</p>'
    centres = tracks[0]["analysis"].get("band_centres_hz") or []
    shapes = [_shape(t["analysis"]["mid_band_db"], centres) for t in tracks]
    n = min(len(s) for s in shapes + [np.zeros(len(centres))])
    shapes = [s[:n] for s in shapes]
    centres = centres[:n]
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.stack(shapes), axis=0)
    devs = [s - mean for s in shapes]
    allv = np.concatenate([mean] + devs)
    allv = allv[np.isfinite(allv)]
    lim = max(6.0, math.ceil(np.abs(allv).max() / 3) * 3) if allv.size else 6.0
    ax = Axes((centres[0] / 1.4, centres[-1] * 1.4), (-lim, lim), log_x=True, width=PLOT_W, height=180,
              title="Tonal balance: album mean shape (black, levelled over 63 Hz-8 kHz) and each track minus the mean",
              xlabel="octave band (Hz)", ylabel="dB", css_class="plot tone")
    ax.hline(0.0, css="zero")
    ax.line(centres, mean, css="album", label="album mean")
    legend = ['<span><i style="background:#1d2329"></i>album mean</span>']
    for i, (t, dv) in enumerate(zip(tracks, devs)):
        colour = _PALETTE[i % len(_PALETTE)]
        ax.add(f'<g style="stroke:{colour}">')
        ax.line(centres, dv, css="tone", label=f"{t.get('track_number')}. {t.get('title')} minus album mean")
        ax.add("</g>")
        legend.append(f'<span><i style="background:{colour}"></i>{esc(t.get("track_number") or "")}. '
                      f'{esc(t.get("title"))}</span>')
    xt = [(c, f"{c / 1000:g}k" if c >= 1000 else f"{c:g}") for c in centres]
    rows = "".join(
        f"<tr><td>{esc(t.get('track_number') or '')}. {esc(t.get('title'))}</td>"
        + "".join(f'<td class="n">{num(v, 1)}</td>' for v in dv) + "</tr>" for t, dv in zip(tracks, devs))
    table = ("<table><thead><tr><th>track minus album mean, dB</th>"
             + "".join(f'<th class="n">{c / 1000:g}k</th>' if c >= 1000 else f'<th class="n">{c:g}</th>' for c in centres)
             + f"</tr></thead><tbody>{rows}</tbody></table>")
    return ax.render(xticks=xt) + f'<div class="legend">{"".join(legend)}</div>' + table


def _stage_summary(name: str, s: dict) -> str:
    if name == "highpass":
        return f"{s.get('cutoff_hz'):g} Hz" if s.get("enabled") else "off"
    if name == "eq":
        moves = [f"{g:+.1f} dB @ {c / 1000:g}k" if c >= 1000 else f"{g:+.1f} dB @ {c:g}"
                 for c, g in zip(s.get("centres_hz", []), s.get("gains_db", [])) if g]
        return ", ".join(moves) or "flat"
    if name == "dynamics":
        return (f"{s.get('ratio'):g}:1 from {s.get('threshold_dbfs'):g} dBFS" + (" multiband" if s.get("multiband") else "")
                if s.get("enabled") else "off")
    if name == "stereo":
        parts = [f"mono below {s['mono_below_hz']:g} Hz"] if s.get("mono_below_hz") else []
        parts += [f"width {w:g}" for w in s.get("widths", []) if w != 1.0]
        return ", ".join(parts) or "unchanged"
    if name == "loudness":
        return (f"target {s['target_lufs']:.1f} LUFS" if s.get("target_lufs") is not None
                else f"gain {s.get('gain_db', 0):+.1f} dB")
    if name == "limiter":
        return f"ceiling {s.get('ceiling_dbtp'):g} dBTP" if s.get("enabled") else "off"
    return ""


def _decisions(plan: dict) -> str:
    album = plan.get("album") or {}
    head = (f"<p>Preset <b>{esc((plan.get('preset') or {}).get('name'))}</b>, mode <b>{esc(plan.get('mode'))}</b>, "
            f"tone toward <b>{esc(plan.get('curve'))}</b> at {num(plan.get('amount_pct'), 0)} %"
            + (" · <b>forced</b> despite failing QC" if plan.get("forced") else "") + "</p>")
    if album.get("reason"):
        head += f"<p>{esc(album['reason'])}</p>"
    rows = []
    for t in plan.get("tracks", []):
        for name in ("highpass", "eq", "dynamics", "stereo", "loudness", "limiter"):
            s = t.get(name) or {}
            rows.append(f"<tr><td>{esc(t.get('track_number') or '')}. {esc(t.get('title'))}</td><td>{name}</td>"
                        f"<td>{esc(_stage_summary(name, s))}</td><td>{esc(s.get('reason'))}</td></tr>")
    return head + ("<table><thead><tr><th>track</th><th>stage</th><th>setting</th><th>reason</th></tr></thead><tbody>"
                   + "".join(rows) + "</tbody></table>")


def _deliverables(manifest: dict | None, checks: list[dict], folder: Path | None) -> str:
    if manifest is None and not checks:
        return '<p class="note">No deliverables (a QC run, a held release, or --formats made none).</p>'
    html = ""
    if manifest is not None:
        html += (f"<p>Checks overall: {status_badge(manifest.get('checks'))} · formats: "
                 f"{esc(', '.join(manifest.get('formats') or []))}</p>")
        rows = "".join(
            f"<tr><td>{esc(d.get('format'))}</td><td>{esc(d.get('track') or d.get('side') or '')}</td>"
            f"<td>{esc(d.get('path'))}</td><td>{status_badge(d.get('checks'))}</td>"
            f"<td class=\"mono\">{esc((d.get('sha256') or '')[:16])}</td></tr>"
            for d in manifest.get("deliverables") or [])
        html += ("<table><thead><tr><th>format</th><th>track/side</th><th>path (in the release folder)</th>"
                 "<th>checks</th><th>sha256</th></tr></thead><tbody>" + rows + "</tbody></table>")
        warnings = manifest.get("warnings") or []
        if warnings:
            html += "<p>Warnings:</p><ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>"
    if checks:
        failed = [c for c in checks if not c.get("passed")]
        html += (f"<p>{len(checks) - len(failed)} of {len(checks)} checks passed"
                 + (f", <b>{len(failed)} failed</b>" if failed else "") + ".</p>")
        ordered = failed + [c for c in checks if c.get("passed")]
        rows = "".join(
            f'<tr data-status="{"pass" if c.get("passed") else "fail"}"><td>{status_badge("pass" if c.get("passed") else "fail")}</td>'
            f"<td>{esc(c.get('format'))}</td><td>{esc(c.get('path'))}</td><td>{esc(c.get('check'))}</td>"
            f"<td>{esc(c.get('expected'))}</td><td>{esc(c.get('measured'))}</td><td>{esc(c.get('detail'))}</td></tr>"
            for c in ordered)
        html += (f'<details{" open" if failed else ""}><summary>every check ({len(checks)})</summary>'
                 '<table id="checks" class="sortable"><thead><tr><th data-type="text">result</th><th data-type="text">'
                 'format</th><th data-type="text">path</th><th data-type="text">check</th><th>expected</th>'
                 "<th>measured</th><th>detail</th></tr></thead><tbody>" + rows + "</tbody></table></details>")
    if folder is not None:
        html += f'<p class="muted">Release folder: {esc(folder)}</p>'
    return html


def release_page(release_id: str, tracks: list[dict], run: RunData, track_pages: dict[str, str]) -> str:
    rf = run.releases.get(release_id)
    plan = rf.plan if rf else None
    manifest = rf.manifest if rf else None
    tracks = sorted(tracks, key=lambda t: (t.get("track_number") or 0, t.get("path") or ""))
    target = None
    if plan:
        target = (plan.get("album") or {}).get("target_lufs") or (plan.get("preset") or {}).get("target_lufs")
    bars, spread = _loudness_bars(tracks, run.mastering, target)
    rows = []
    for t in tracks:
        tid = t["track_id"]
        m = run.mastering.get(tid)
        title = esc(t.get("title") or t.get("path"))
        link = f'<a href="../{esc(track_pages[tid])}">{title}</a>' if tid in track_pages else title
        rows.append(
            f"<tr><td class=\"n\">{esc(t.get('track_number') or '')}</td><td>{link}</td><td>{status_badge(t.get('status'))}</td>"
            f"<td class=\"n\">{num(t.get('integrated_lufs'))}</td><td class=\"n\">{num(m and m['after_integrated_lufs'])}</td>"
            f"<td class=\"n\">{num(t.get('true_peak_dbtp'), 2)}</td><td class=\"n\">{num(m and m['after_true_peak_dbtp'], 2)}</td>"
            f"<td>{status_badge(m['status']) if m else ''}</td><td>{esc((m or {}).get('checks') or t.get('error') or '')}</td></tr>")
    table = ("<table><thead><tr><th class=\"n\">#</th><th>title</th><th>QC</th><th class=\"n\">LUFS before</th>"
             "<th class=\"n\">LUFS after</th><th class=\"n\">dBTP before</th><th class=\"n\">dBTP after</th>"
             "<th>mastering</th><th>checks / error</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    hold = f'<h2>Held</h2><pre class="hold">{esc(rf.hold)}</pre>' if rf and rf.hold else ""
    problems = "".join(f'<p class="warnbox">{esc(p)}</p>' for p in (rf.problems if rf else []))
    title = (manifest or {}).get("title") or release_id
    body = (
        f'<nav><a href="../index.html">catalogue</a></nav><h1>{esc(title)}</h1>'
        f"<p class=\"muted\">release {esc(release_id)} · {len(tracks)} track(s)</p>{problems}{hold}"
        f"<h2>The album as a sequence</h2>{bars}<p>{esc(spread)}</p>{table}"
        + (f"<h2>Tonal balance</h2>{_tone(plan)}<h2>Decisions</h2>{_decisions(plan)}" if plan else
           '<p class="note">No plan.json: this release was not mastered in this folder.</p>')
        + f"<h2>Deliverables</h2>{_deliverables(manifest, run.deliverables.get(release_id, []), rf.folder if rf else None)}"
    )
    return page(f"{title}: release report", body, depth=1)
