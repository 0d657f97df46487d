"""Read what a run left in its output folder: the QC datasets, the mastering rows, the deliverable checks, and
each release's ``plan.json``, ``manifest.json`` and ``HOLD.txt``. Anything missing is simply absent: a QC run
has no mastering, a held release no manifest."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.dataset as ds

from farm.catalogue import track_id_for
from farm.errors import ConfigError

__all__ = [
    "STATUS_ORDER",
    "ReleaseFiles",
    "RunData",
    "audio_bases",
    "load_run",
    "resolve_audio",
    "worst_key",
]

STATUS_ORDER = {"error": 0, "fail": 1, "warn": 2, "ok": 3}


def worst_key(row: dict) -> tuple:
    """Sort key that puts the worst tracks first: status, then more findings, then path."""
    return (STATUS_ORDER.get(row.get("status"), 4), -(row.get("n_events") or 0), row.get("path") or "")


@dataclass
class ReleaseFiles:
    """One release folder of ``farm master``: ``plan.json`` and ``manifest.json`` parsed, ``HOLD.txt`` as text."""

    folder: Path
    plan: dict | None = None
    manifest: dict | None = None
    hold: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class RunData:
    out_dir: Path
    tracks: list[dict]
    events: dict[str, list[dict]]
    mastering: dict[str, dict]
    deliverables: dict[str, list[dict]]
    releases: dict[str, ReleaseFiles]
    run_info: dict
    problems: list[str]


def _rows(path: Path, problems: list[str]) -> list[dict]:
    if not path.is_dir():
        return []
    try:
        return ds.dataset(path, format="parquet").to_table().to_pylist()
    except Exception as exc:  # noqa: BLE001 - a damaged dataset becomes a note on the page, not a crash
        problems.append(f"{path.name}: could not be read ({exc.__class__.__name__}: {exc})")
        return []


def _json(path: Path, problems: list[str]) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: could not be read ({exc})")
        return None
    return value if isinstance(value, dict) else None


def load_run(out_dir: Path) -> RunData:
    """Read a run's output folder.

    Raises
    ------
    ConfigError
        When ``out_dir`` holds neither ``qc/tracks`` nor ``qc/mastering``: nothing to report on.
    """
    out_dir = Path(out_dir)
    qc = out_dir / "qc"
    if not (qc / "tracks").is_dir() and not (qc / "mastering").is_dir():
        raise ConfigError(f"{out_dir} holds no qc/tracks or qc/mastering; give the --out folder of `farm qc` or "
                          "`farm master`")
    problems: list[str] = []
    tracks = _rows(qc / "tracks", problems)
    events: dict[str, list[dict]] = defaultdict(list)
    for e in _rows(qc / "events", problems):
        events[e["track_id"]].append(e)
    for evs in events.values():
        evs.sort(key=lambda e: (e["start_s"] if e["start_s"] is not None else 0.0, e["kind"]))
    mastering = {r["track_id"]: r for r in _rows(qc / "mastering", problems)}
    deliverables: dict[str, list[dict]] = defaultdict(list)
    for r in _rows(qc / "deliverables", problems):
        deliverables[r["release_id"]].append(r)
    # tracks the mastering saw but QC has no row for (should not happen; keep them visible anyway)
    known = {t["track_id"] for t in tracks}
    for tid, m in mastering.items():
        if tid not in known:
            tracks.append({"track_id": tid, "release_id": m["release_id"], "path": m["path"],
                           "track_number": m["track_number"], "title": m["title"], "status": m["qc_before_status"],
                           "error": m["error"], "n_events": 0})
    releases: dict[str, ReleaseFiles] = {}
    rel_root = out_dir / "releases"
    if rel_root.is_dir():
        for folder in sorted(p for p in rel_root.iterdir() if p.is_dir()):
            rf = ReleaseFiles(folder)
            rf.plan = _json(folder / "plan.json", rf.problems)
            rf.manifest = _json(folder / "manifest.json", rf.problems)
            hold = folder / "HOLD.txt"
            rf.hold = hold.read_text(encoding="utf-8", errors="replace") if hold.is_file() else ""
            rid = (rf.manifest or {}).get("release_id") or (rf.plan or {}).get("release_id")
            if rid is None:
                rid = next((m["release_id"] for m in mastering.values()
                            if Path(m.get("master_path") or "").parent.parent == folder), folder.name)
            releases[str(rid)] = rf
    run_info = _json(qc / "run.json", problems) or {}
    return RunData(out_dir, tracks, dict(events), mastering, dict(deliverables), releases, run_info, problems)


def resolve_audio(row: dict, bases: list[Path]) -> Path | None:
    """The file a ``qc/tracks`` row was measured from, or None when it is gone.

    ``path`` is as found (relative to the working folder of the run, or to a manifest's folder), so candidates
    are tried against ``bases``; the one whose track id (SHA-256 of its resolved path) matches is the file.
    """
    path = row.get("path") or ""
    if not path:
        return None
    p = Path(path)
    candidates = [p] if p.is_absolute() else [b / p for b in bases] + [p]
    first_existing = None
    for c in candidates:
        try:
            if not c.is_file():
                continue
            resolved = str(c.resolve())
        except OSError:
            continue
        if track_id_for(resolved) == row.get("track_id"):
            return Path(resolved)
        first_existing = first_existing or Path(resolved)
    return first_existing if p.is_absolute() else None


def audio_bases(run: RunData, extra: list[Path] = ()) -> list[Path]:
    """Folders a relative ``path`` may be relative to: ``extra`` (``--audio-root``), the run's inputs (a
    manifest's folder; ``farm qc`` records them in ``qc/run.json``), the output folder's parent, and the working
    folder."""
    bases: list[Path] = [Path(e) for e in extra]
    for given in run.run_info.get("inputs") or []:
        p = Path(str(given))
        bases += [p.parent, p]
    bases += [run.out_dir.parent, Path(os.getcwd())]
    seen, unique = set(), []
    for b in bases:
        if str(b) not in seen:
            seen.add(str(b))
            unique.append(b)
    return unique
