"""``build_report``: a run's output folder in, a static HTML report out (``OUT/report/``)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from farm.errors import FarmError, InputError
from farm.master.run import safe_name
from farm.report.data import audio_bases, load_run, resolve_audio, worst_key
from farm.report.html import CSS, JS
from farm.report.pages import index_page, release_page, track_page
from farm.report.view import track_view

__all__ = ["build_report"]


def _target(run, release_id: str) -> float | None:
    rf = run.releases.get(release_id)
    if rf is not None and rf.plan:
        album = rf.plan.get("album") or {}
        return album.get("target_lufs") or (rf.plan.get("preset") or {}).get("target_lufs")
    return None


def build_report(out_dir: Path, *, max_track_pages: int | None = None, audio_roots=(), dest: Path | None = None) -> Path:
    """Write the HTML report of a ``farm qc`` or ``farm master`` output folder; return ``report/index.html``.

    Parameters
    ----------
    out_dir : Path
        The run's ``--out`` folder (``qc/tracks``, ``qc/events``, and for a mastering run ``qc/mastering``,
        ``qc/deliverables``, ``releases/<release>/``).
    max_track_pages : int, optional
        Write at most this many track pages, worst tracks first (each reads its audio once); the others are
        listed on the index without a link. Default: every track.
    audio_roots : sequence of Path
        Folders a track's relative ``path`` may be relative to (a manifest's folder), besides the run's inputs,
        the output folder's parent and the working folder.
    dest : Path, optional
        Where the report folder goes (default ``out_dir / "report"``).

    Returns
    -------
    Path
        ``report/index.html``. The folder is built beside and renamed into place, so a reader never sees half a
        report.

    Raises
    ------
    farm.errors.ConfigError
        When ``out_dir`` holds no QC or mastering dataset.

    Examples
    --------
    >>> build_report(Path("farm-demo"))  # doctest: +SKIP
    PosixPath('farm-demo/report/index.html')
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if max_track_pages is not None and max_track_pages < 0:
        raise FarmError(f"max_track_pages {max_track_pages} must be >= 0")
    run = load_run(out_dir)
    dest = Path(dest) if dest is not None else out_dir / "report"
    staging = dest.parent / f".staging-report-{uuid.uuid4().hex[:12]}"
    (staging / "tracks").mkdir(parents=True)
    (staging / "releases").mkdir()
    try:
        (staging / "report.css").write_text(CSS, encoding="utf-8")
        (staging / "report.js").write_text(JS, encoding="utf-8")
        tracks = sorted(run.tracks, key=worst_key)
        with_page = tracks if max_track_pages is None else tracks[:max_track_pages]
        # file names: made safe; links: the same names percent-encoded (a release id may hold spaces or '#')
        track_files = {t["track_id"]: f"tracks/{safe_name(t['track_id'], fallback='track')}.html" for t in with_page}
        track_pages = {tid: quote(f) for tid, f in track_files.items()}
        releases = sorted({t.get("release_id") or "" for t in tracks} | set(run.releases))
        release_files = {r: f"releases/{safe_name(r)}.html" for r in releases}
        release_pages = {r: quote(f) for r, f in release_files.items()}
        bases = audio_bases(run, list(audio_roots))
        for t in with_page:
            rid = t.get("release_id") or ""
            view, note = None, ""
            audio = resolve_audio(t, bases)
            if t.get("error"):
                note = "the file could not be measured (see the message above)"
            elif audio is None:
                note = (f"the audio file {t.get('path')!r} was not found (moved or deleted); give its folder with "
                        "--audio-root to draw the plots")
            else:
                try:
                    view = track_view(str(audio))
                except InputError as exc:
                    note = f"the audio could not be read again: {exc}"
            html = track_page(t, run.events.get(t["track_id"], []), view=view, view_note=note,
                              release_href=f"../{release_pages[rid]}" if rid in release_pages else None,
                              mastering=run.mastering.get(t["track_id"]), target_lufs=_target(run, rid))
            (staging / track_files[t["track_id"]]).write_text(html, encoding="utf-8")
        by_rel: dict[str, list[dict]] = {r: [] for r in releases}
        for t in tracks:
            by_rel[t.get("release_id") or ""].append(t)
        for r in releases:
            (staging / release_files[r]).write_text(release_page(r, by_rel[r], run, track_pages), encoding="utf-8")
        note = f"{len(tracks)} track(s), {len(track_pages)} track page(s), built in {time.perf_counter() - t0:.1f} s"
        (staging / "index.html").write_text(index_page(run, tracks, track_pages, release_pages, wall_note=note),
                                            encoding="utf-8")
        trash = dest.parent / f".old-report-{uuid.uuid4().hex[:12]}"
        if dest.exists():
            os.replace(dest, trash)
        os.replace(staging, dest)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest / "index.html"
