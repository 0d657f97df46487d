"""The pieces every report page shares: escaping, number formats, the stylesheet, the table script, and what
to do about each kind of finding. The stylesheet and the script are written once beside the pages
(``report/report.css``, ``report/report.js``): no CDN, no web fonts, nothing fetched from the network."""

from __future__ import annotations

import math
from html import escape

__all__ = ["ADVICE", "CSS", "JS", "esc", "num", "page", "status_badge"]


def esc(value) -> str:
    """Text from data, safe inside HTML text and quoted attributes."""
    return escape("" if value is None else str(value), quote=True)


def num(value, digits: int = 1, unit: str = "") -> str:
    """A number for a table cell ("" for null/NaN, ``-inf`` for silence)."""
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "-inf" if v < 0 else "+inf"
    return f"{v:.{digits}f}{unit}"


def sort_value(value) -> str:
    """``data-v`` of a numeric cell: the number, or empty (sorted last)."""
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if not math.isfinite(v) else repr(v)


def status_badge(status: str | None) -> str:
    s = status or "unknown"
    return f'<span class="badge {esc(s)}">{esc(s)}</span>'


ADVICE: dict[str, str] = {
    "bit_depth": "Export again at the session's real bit depth, or declare the file at its effective depth.",
    "click": "Listen at the time shown; repair with a de-click or a short crossfade, or go back to the stems.",
    "clipping": "Go back to a pre-limiter mix or lower the master's level; declipping is a last resort.",
    "dc_offset": "Remove the DC with a high-pass (the mastering chain's 20 Hz high-pass does) or fix the converter.",
    "discontinuity": "Check the edit at the time shown: re-do the splice with a crossfade or re-export the bounce.",
    "dropout": "Re-export from the session: the audio stops here (bad export, buffer underrun, damaged copy).",
    "end_cut": "The file ends mid-sound: re-export with the full tail (and a short fade).",
    "false_stereo": "Deliver as mono, or get the real stereo mix.",
    "format": "Deliver the lossless master in the format the profile asks for (rate, bits, channels).",
    "head_silence": "Trim the silence at the start to the label's allowance.",
    "hum": "Notch the mains lines (50/60 Hz and harmonics) or fix the grounding and re-record.",
    "invalid_isrc": "Correct the ISRC in the metadata (12 characters: CC-XXX-YY-NNNNN).",
    "invalid_upc": "Correct the UPC/EAN in the metadata (its check digit is wrong or it has the wrong length).",
    "lossy_bandwidth": "The source went through a lossy codec or a low rate: ask for the lossless original.",
    "loudness": "Master to the profile's loudness target (farm master does).",
    "noise_burst": "Listen at the time shown; remove the burst with spectral repair or re-export.",
    "non_finite": "The float file holds NaN or infinite samples: re-export; nothing can measure or play them.",
    "out_of_phase": "Check the section's polarity and stereo tools; make the low end mono if only the bass is affected.",
    "polarity_inverted": "Invert one channel back.",
    "start_cut": "The file starts mid-sound: re-export with the full attack (and a short fade-in).",
    "tail_silence": "Trim the silence at the end to the label's allowance.",
    "true_peak_over": "Lower the level or use a true-peak limiter with the profile's ceiling (farm master does).",
}


def page(title: str, body: str, *, depth: int = 0, extra_head: str = "") -> str:
    """A complete HTML page; ``depth`` is how many folders below ``report/`` it lives (for the CSS/JS links)."""
    up = "../" * depth
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><link rel=\"stylesheet\" href=\"{up}report.css\">{extra_head}</head>"
        f"<body>{body}<script src=\"{up}report.js\"></script></body></html>\n"
    )


CSS = """
:root { --fg:#1d2329; --muted:#6a737d; --line:#d0d7de; --bg:#fff; --soft:#f6f8fa;
        --ok:#1a7f37; --warn:#9a6700; --fail:#cf222e; --error:#8250df; --accent:#0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; padding: 16px 24px 48px; max-width: 1100px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
nav { font-size: 13px; color: var(--muted); } .muted, .note { color: var(--muted); }
.error-msg { color: var(--error); } .warnbox { background:#fff8c5; border:1px solid #d4a72c; padding:8px 12px; border-radius:6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
td { overflow-wrap: anywhere; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); position: sticky; top: 0; }
th[data-type] { cursor: pointer; user-select: none; } th[data-type]:after { content: " \\2195"; color: var(--muted); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display:inline-block; padding:0 7px; border-radius:10px; font-size:12px; color:#fff; background:var(--muted); }
.badge.ok, .badge.pass, .badge.mastered { background: var(--ok); } .badge.warn { background: var(--warn); }
.badge.fail, .badge.check_failed, .badge.held { background: var(--fail); } .badge.error { background: var(--error); }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 90px; }
.card b { display: block; font-size: 22px; }
.plots { display: flex; gap: 12px; flex-wrap: wrap; }
.filters { display: flex; gap: 8px; margin: 8px 0; align-items: center; }
.filters input { width: 320px; padding: 4px 6px; } pre { background: var(--soft); padding: 8px; white-space: pre-wrap; }
svg { display: block; margin: 4px 0; overflow: visible; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg .tick { fill: var(--muted); } svg .title { font-weight: 600; } svg .note { fill: var(--muted); }
svg .plot-area { fill: #fbfcfd; stroke: var(--line); } svg .grid { stroke: #eaeef2; }
svg .env { fill: #57606a; } svg .bar { fill: #8c959f; } svg .bar.after { fill: var(--accent); }
svg .mom { fill: none; stroke: #8c959f; stroke-width: 1; } svg .short { fill: none; stroke: var(--accent); stroke-width: 1.6; }
svg .spec { fill: none; stroke: var(--accent); stroke-width: 1.4; } svg .corr { fill: none; stroke: #1a7f37; stroke-width: 1.4; }
svg .integrated { stroke: var(--accent); stroke-dasharray: 5 3; } svg .integrated-label { fill: var(--accent); }
svg .target { stroke: var(--fail); stroke-dasharray: 2 3; } svg .target-label { fill: var(--fail); }
svg .zero { stroke: #57606a; } svg .zero-label { fill: #57606a; }
svg .mark line { stroke: var(--fail); stroke-dasharray: 4 3; } svg .mark text { fill: var(--fail); }
svg .finding line { stroke: var(--fail); stroke-width: 1.5; } svg .finding text { fill: var(--fail); font-size: 10px; }
svg .finding.warn line { stroke: var(--warn); } svg .finding.warn text { fill: var(--warn); }
svg .finding.info line { stroke: var(--muted); } svg .finding.info text { fill: var(--muted); }
svg .span { fill: var(--fail); opacity: .08; }
svg .album { fill: none; stroke: #1d2329; stroke-width: 2.5; } svg .tone { fill: none; stroke-width: 1.3; }
.legend span { display:inline-block; margin-right: 12px; font-size: 12px; } .legend i { display:inline-block; width:12px; height:3px; vertical-align: middle; margin-right:4px; }
"""

JS = r"""
// Sortable, filterable tables: <table class="sortable"> with <th data-type="num|text">; cells may carry data-v.
(function () {
  function cellValue(row, i, type) {
    var c = row.cells[i];
    if (!c) return type === "num" ? null : "";
    var v = c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim();
    if (type === "num") { var f = parseFloat(v); return isNaN(f) ? null : f; }
    return v.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, i) {
      var type = th.getAttribute("data-type");
      if (!type) return;
      th.addEventListener("click", function () {
        var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, i, type), y = cellValue(b, i, type);
          if (x === null && y === null) return 0;
          if (x === null) return 1;          // empty values last, whichever the direction
          if (y === null) return -1;
          var r = x < y ? -1 : x > y ? 1 : 0;
          return dir === "asc" ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("[data-filter-for]").forEach(function (box) {
    var table = document.getElementById(box.getAttribute("data-filter-for"));
    if (!table) return;
    var text = box.querySelector("input"), status = box.querySelector("select"), count = box.querySelector(".count");
    function apply() {
      var q = (text && text.value || "").toLowerCase(), s = status ? status.value : "", shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) && (!s || r.getAttribute("data-status") === s);
        r.style.display = ok ? "" : "none";
        if (ok) shown++;
      });
      if (count) count.textContent = shown + " shown";
    }
    if (text) text.addEventListener("input", apply);
    if (status) status.addEventListener("change", apply);
    apply();
  });
})();
"""
