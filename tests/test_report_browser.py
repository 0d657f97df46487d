"""The report as a person sees it: loaded from disk in headless Chromium (Debian's ``chromium``, driven by
playwright; skipped with the reason where either is missing). Pages render without console errors, the index
names every track, every track page draws its plots, each finding's marker sits where its time says on the
drawn page, broken inputs show their messages, a title with HTML in it is shown as text, and the tables sort
and filter. Screenshots are saved under the test's tmp folder; with ``FARM_UPDATE_DOCS=1`` the track page also
replaces ``docs/report-track.png``, the README's picture (a plain test run leaves the checkout untouched)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.farm.test_report import HTML_TITLE, master_report, qc_report  # noqa: F401 - session fixtures

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS_SHOT = Path(__file__).resolve().parents[1] / "docs" / "report-track.png"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    page = browser.new_page(viewport={"width": 1150, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))

    def go(path: Path):
        errors.clear()
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        return page, errors

    yield go
    page.close()


def test_index_renders_names_every_track_sorts_and_filters(qc_report, open_page, tmp_path):  # noqa: F811
    _out, index, tracks, _ = qc_report
    page, errors = open_page(index)
    text = page.inner_text("body")
    for t in tracks:
        assert t["title"] in text  # shown as text, escaped in the source
    assert HTML_TITLE in text and page.locator("b", has_text="Bold").count() == 0
    broken = next(t for t in tracks if t["status"] == "error")
    assert broken["error"] in text
    assert page.locator("svg.plot").count() == 3  # loudness, true peak and LRA distributions
    # sort by LUFS: numeric order, empty (error row) last
    page.click("#tracks th:nth-child(5)")
    values = page.eval_on_selector_all("#tracks tbody tr td:nth-child(5)", "cs => cs.map(c => c.getAttribute('data-v'))")
    nums = [float(v) for v in values if v]
    assert nums == sorted(nums) and values[-1] == ""
    # filter on the status select
    page.select_option("#tracks ~ * select, .filters select", "error")
    visible = page.eval_on_selector_all("#tracks tbody tr", "rs => rs.filter(r => r.style.display !== 'none').length")
    assert visible == 1
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    assert errors == []


def test_track_pages_plots_and_marker_positions(qc_report, open_page, tmp_path):  # noqa: F811
    _out, index, tracks, events = qc_report
    for t in tracks:
        page, errors = open_page(index.parent / "tracks" / f"{t['track_id']}.html")
        assert errors == []
        if t["status"] == "error":
            assert t["error"] in page.inner_text("body")
            assert page.locator("svg.plot").count() == 0
            continue
        for plot in ("waveform", "loudness", "spectrum", "correlation"):
            box = page.locator(f'svg[data-plot="{plot}"]').bounding_box()
            assert box and box["width"] > 500 and box["height"] > 100, plot
        # each marker's drawn x (in CSS pixels, from the browser's layout) against its finding's time
        drawn = page.evaluate("""() => {
            const svg = document.querySelector('svg[data-plot="waveform"]');
            const area = svg.querySelector('.plot-area').getBoundingClientRect();
            const d = parseFloat(svg.dataset.durationS);
            return [...svg.querySelectorAll('g.finding')].map(g => {
                const r = g.querySelector('line').getBoundingClientRect();
                return {t: parseFloat(g.dataset.timeS), kind: g.dataset.kind,
                        x_t: (r.left + r.width / 2 - area.left) / area.width * d, px_per_s: area.width / d};
            });
        }""")
        mine = sorted((e["start_s"], e["kind"]) for e in events if e["track_id"] == t["track_id"])
        got = sorted((m["t"], m["kind"]) for m in drawn)
        assert [k for _, k in got] == [k for _, k in mine]
        assert [t_ for t_, _ in got] == pytest.approx([t_ for t_, _ in mine], abs=1e-6)
        for m in drawn:
            # within one CSS pixel of where the time says (about 10 ms on an 8 s track)
            assert abs(m["x_t"] - m["t"]) * m["px_per_s"] <= 1.0, m
        if any(e["kind"] == "dropout" for e in events if e["track_id"] == t["track_id"]):
            page.screenshot(path=str(tmp_path / "track.png"), full_page=True)
            if os.environ.get("FARM_UPDATE_DOCS") == "1":
                page.screenshot(path=str(DOCS_SHOT), clip={"x": 0, "y": 0, "width": 1150, "height": 820})


def test_release_page_of_a_mastering_run_renders(master_report, open_page, tmp_path):  # noqa: F811
    _out, index = master_report
    page, errors = open_page(index)
    assert errors == []
    page.click("#releases a")
    page.wait_for_load_state("load")
    assert errors == []
    text = page.inner_text("body")
    assert "The album as a sequence" in text and "Decisions" in text and "Deliverables" in text
    for cls in ("loudness-bars", "tone"):
        assert page.locator(f"svg.{cls}").bounding_box()["width"] > 200
    assert page.locator(".badge.fail").count() == 0
    page.screenshot(path=str(tmp_path / "release.png"), full_page=True)
