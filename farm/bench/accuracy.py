"""Score the QC audit's findings against a benchmark corpus's truth: recall, precision, false alarms per hour.

Matching, per track and per kind:

* a planted defect is **found** when a detection of the same kind on the same track starts within
  :data:`LOCATION_TOLERANCE_S` (50 ms) of its start (for a span, its first defective sample: the first clipped
  sample, the first zero of a dropout, the first sample of a hum section). Overlapping a long section somewhere
  is not enough. For whole-track kinds (:data:`farm.bench.defects.WHOLE_TRACK_KINDS`) the same track is enough.
* a detection is **matched** when it locates a planted defect of its kind or lies on one (within 50 ms of its
  span: a long section reported in pieces is one defect, its later pieces are not false alarms).
* a detection that matches nothing is **excused** when another defect planted on that track legitimately causes
  it (:data:`IMPLIED`); otherwise it is a **false alarm**. False alarms on clean tracks, per hour of clean audio,
  are the headline number (the issue's bar: at most 1 per hour per kind, and no whole-track flag on a clean file).

Per kind the report gives planted, found, recall, detections, matched, excused, false alarms on clean and on
defective tracks, precision (matched / (matched + false alarms), over all tracks and over the defective tracks
only), false alarms per hour (clean audio; all audio), and the largest start offset of a found local defect.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from farm.atomic import write_csv
from farm.bench.corpus import corpus_info, make_corpus, read_truth
from farm.bench.defects import DEFECT_KINDS, UNDER_RULE, WHOLE_TRACK_KINDS
from farm.errors import ConfigError

__all__ = [
    "IMPLIED",
    "LOCATION_TOLERANCE_S",
    "NEAR_S",
    "AccuracyReport",
    "KindScore",
    "evaluate",
    "run_accuracy",
]

#: Start times closer than this match, whether or not the spans overlap (the issue's location bar).
LOCATION_TOLERANCE_S = 0.050

#: How close to a planted defect a detection it legitimately causes must lie (for ``"near"`` entries of IMPLIED).
NEAR_S = 0.25

#: Planted kind -> {other kind it legitimately causes: scope}. Scope ``"near"``: only detections within
#: :data:`NEAR_S` of the planted span are excused; ``"track"``: anywhere on the track. Why each holds:
IMPLIED: dict[str, dict[str, str]] = {
    # A click of a few samples is a jump out of the waveform and back, and a very short broadband event.
    "click": {"discontinuity": "near", "noise_burst": "near"},
    # A splice's step is impulsive and broadband: click and burst detectors see it.
    "discontinuity": {"click": "near", "noise_burst": "near"},
    # Cutting into and out of digital silence is a waveform jump at each edge of the dropout.
    "dropout": {"discontinuity": "near", "click": "near"},
    # Hard clipping at full scale puts the sample peak at 0 dBFS (true peak above any ceiling), and a short
    # clipped section is a burst of broadband distortion.
    "clipping": {"true_peak_over": "track", "noise_burst": "near"},
    # A burst's onset is a broadband step (even with 1 ms ramps); loud white noise is full of sample-scale spikes.
    # A burst planted in a quiet passage is switched off into near silence: a cut from signal to near silence.
    "noise_burst": {"click": "near", "discontinuity": "near", "dropout": "near"},
    # The file's first (last) sample is a step from (to) silence.
    "start_cut": {"click": "near", "discontinuity": "near"},
    "end_cut": {"click": "near", "discontinuity": "near"},
    # An inverted channel makes every stretch of the track negatively correlated.
    "polarity_inverted": {"out_of_phase": "track"},
    # A constant offset adds to the peaks (the true peak may pass the ceiling), and the file then starts and ends
    # with a step from zero to the offset.
    "dc_offset": {"true_peak_over": "track", "start_cut": "track", "end_cut": "track"},
    # Hum over the whole track starts at full level at the first sample and stops at the last.
    "hum": {"start_cut": "track", "end_cut": "track"},
    "out_of_phase": {},
    "false_stereo": {},
    "lossy_bandwidth": {},
    "bit_depth": {},
    "true_peak_over": {},
    "head_silence": {},
    "tail_silence": {},
}


@dataclass(frozen=True)
class KindScore:
    """The score of one kind over a corpus."""

    kind: str
    planted: int
    found: int
    detections: int
    matched: int
    excused: int
    false_alarms_clean: int
    false_alarms_defective: int
    clean_hours: float
    total_hours: float
    matched_defective: int = 0
    max_offset_s: float = math.nan
    #: Planted (and of those missed) where no drawn position met the planter's audibility rule
    #: (``farm.bench.defects.UNDER_RULE`` in the truth's detail): counted in ``planted`` like the others.
    under_rule: int = 0
    missed_under_rule: int = 0

    @property
    def recall(self) -> float:
        """Found / planted (nan when nothing of this kind was planted)."""
        return self.found / self.planted if self.planted else math.nan

    @property
    def false_alarms(self) -> int:
        return self.false_alarms_clean + self.false_alarms_defective

    @property
    def precision(self) -> float:
        """Matched / (matched + false alarms), all tracks; excused detections count on neither side."""
        den = self.matched + self.false_alarms
        return self.matched / den if den else math.nan

    @property
    def precision_defective(self) -> float:
        """Matched / (matched + false alarms on the defective tracks)."""
        den = self.matched_defective + self.false_alarms_defective
        return self.matched_defective / den if den else math.nan

    @property
    def false_alarms_per_hour_clean(self) -> float:
        """False alarms on clean tracks per hour of clean audio (the headline number)."""
        return self.false_alarms_clean / self.clean_hours if self.clean_hours > 0 else math.nan

    @property
    def false_alarms_per_hour(self) -> float:
        """False alarms on all tracks per hour of all audio."""
        return self.false_alarms / self.total_hours if self.total_hours > 0 else math.nan


@dataclass(frozen=True)
class AccuracyReport:
    """The score of a QC audit on a benchmark corpus (see the module notes for the matching rules)."""

    scores: dict[str, KindScore]
    tracks: int
    clean_tracks: int
    audio_s: float
    clean_audio_s: float
    misses: list[dict] = field(default_factory=list)
    false_alarms: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    corpus_dir: str = ""
    seed: int | None = None
    hours: float | None = None
    generation_s: float = math.nan
    audit_s: float = math.nan
    workers: int | None = None

    @property
    def whole_track_flags_on_clean(self) -> int:
        """Whole-track findings (hum over the whole track included) on clean files: the issue wants none."""
        return sum(1 for fa in self.false_alarms if fa["clean"] and fa["whole_track"])

    def failures(self, *, recall_min: float = 0.95, false_alarms_per_hour_max: float = 1.0) -> list[str]:
        """Where the bar is missed, one line each (empty when it holds)."""
        out = []
        for s in self.scores.values():
            if s.planted and s.recall < recall_min:
                out.append(f"{s.kind}: recall {s.recall:.2f} < {recall_min:g} ({s.found}/{s.planted} found)")
            if s.clean_hours > 0 and s.false_alarms_per_hour_clean > false_alarms_per_hour_max:
                out.append(f"{s.kind}: {s.false_alarms_clean} false alarm(s) on clean tracks = "
                           f"{s.false_alarms_per_hour_clean:.1f}/h > {false_alarms_per_hour_max:g}/h")
        if self.whole_track_flags_on_clean:
            out.append(f"{self.whole_track_flags_on_clean} whole-track flag(s) on clean files")
        if self.errors:
            out.append(f"{len(self.errors)} track(s) could not be audited")
        return out

    @property
    def meets_bar(self) -> bool:
        return not self.failures()

    def rows(self) -> list[dict]:
        """One plain dict per kind (for CSV/JSON and the README table)."""
        return [{
            "kind": s.kind, "planted": s.planted, "found": s.found, "recall": s.recall,
            "detections": s.detections, "matched": s.matched, "excused": s.excused,
            "false_alarms_clean": s.false_alarms_clean, "false_alarms_defective": s.false_alarms_defective,
            "precision": s.precision, "precision_defective": s.precision_defective,
            "false_alarms_per_hour_clean": s.false_alarms_per_hour_clean,
            "false_alarms_per_hour": s.false_alarms_per_hour, "max_offset_ms": 1000.0 * s.max_offset_s,
            "under_rule": s.under_rule, "missed_under_rule": s.missed_under_rule,
        } for s in self.scores.values()]

    def rich_table(self):
        """A :class:`rich.table.Table` of the scores (the CLI prints it)."""
        from rich.table import Table  # noqa: PLC0415 - only the CLI needs rich

        hours = self.audio_s / 3600.0
        title = (f"QC accuracy: {self.tracks} tracks, {hours:.2f} h ({self.clean_tracks} clean, "
                 f"{self.clean_audio_s / 3600.0:.2f} h)")
        if self.seed is not None:
            title += f", seed {self.seed}"
        table = Table(title=title)
        for name, justify in (("kind", "left"), ("planted", "right"), ("found", "right"), ("recall", "right"),
                              ("precision", "right"), ("prec. defective", "right"), ("FA clean", "right"),
                              ("FA/h clean", "right"), ("FA/h all", "right"), ("excused", "right"),
                              ("max offset ms", "right"), ("under rule (missed)", "right")):
            table.add_column(name, justify=justify)

        def f(v: float, fmt: str) -> str:
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

        for s in self.scores.values():
            bad_recall = s.planted and s.recall < 0.95
            bad_fa = s.clean_hours > 0 and s.false_alarms_per_hour_clean > 1.0
            recall = f(s.recall, ".2f")
            fa_h = f(s.false_alarms_per_hour_clean, ".1f")
            table.add_row(
                s.kind, str(s.planted), str(s.found), f"[red]{recall}[/]" if bad_recall else recall,
                f(s.precision, ".2f"), f(s.precision_defective, ".2f"), str(s.false_alarms_clean),
                f"[red]{fa_h}[/]" if bad_fa else fa_h, f(s.false_alarms_per_hour, ".1f"), str(s.excused),
                f(1000.0 * s.max_offset_s, ".1f"),
                f"{s.under_rule} ({s.missed_under_rule})" if s.under_rule else "-",
            )
        return table


# ----------------------------------------------------------------------------------------------------------------
# Matching


def _rows(table) -> list[dict]:
    """Rows of a pyarrow Table, a Parquet file or dataset folder, or an iterable of dicts."""
    if table is None:
        return []
    if isinstance(table, (str, os.PathLike)):
        table = pq.read_table(str(table))
    if isinstance(table, pa.Table):
        return table.to_pylist()
    if hasattr(table, "to_dict"):  # a pandas DataFrame
        return table.to_dict("records")
    return [dict(r) for r in table]


def _norm_path(path: str, corpus_dir: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(corpus_dir.resolve())
        except ValueError:
            return p.as_posix()
    return p.as_posix().removeprefix("./")


def _overlaps(a0: float, a1: float, b0: float, b1: float, pad: float = 0.0) -> bool:
    return a0 <= b1 + pad and b0 <= a1 + pad


def _matches(det: Mapping, truth: Mapping) -> tuple[bool, float]:
    """Whether a detection *locates* a planted defect of the same kind, and the location error in seconds.

    Located means the detection starts within :data:`LOCATION_TOLERANCE_S` of the truth's start (for a span,
    its first defective sample): a detection that merely overlaps a long planted section somewhere does not
    locate it. Whole-track kinds need only the same track.
    """
    if truth["kind"] in WHOLE_TRACK_KINDS:
        return True, 0.0
    offset = abs(float(det["start_s"]) - float(truth["start_s"]))
    return offset <= LOCATION_TOLERANCE_S + 1e-9, offset


def _within(det: Mapping, truth: Mapping) -> bool:
    """Whether a detection lies on a planted defect of its kind (a piece of a long section reported apart is
    part of that defect, not a false alarm, although only a detection at its start locates it)."""
    if truth["kind"] in WHOLE_TRACK_KINDS:
        return True
    return _overlaps(float(det["start_s"]), float(det["end_s"]), float(truth["start_s"]), float(truth["end_s"]),
                     LOCATION_TOLERANCE_S)


def _excused(det: Mapping, truths: Iterable[Mapping]) -> str | None:
    """The planted kind that legitimately causes this detection, if any."""
    for t in truths:
        scope = IMPLIED.get(t["kind"], {}).get(det["kind"])
        if scope == "track":
            return t["kind"]
        if scope == "near" and _overlaps(float(det["start_s"]), float(det["end_s"]), float(t["start_s"]),
                                         float(t["end_s"]), NEAR_S):
            return t["kind"]
    return None


def evaluate(corpus_dir: str | os.PathLike, events_table, tracks_table) -> AccuracyReport:
    """Match the audit's findings to the corpus's truth and score every kind.

    Parameters
    ----------
    corpus_dir : path
        The corpus folder (or its ``manifest.csv``): ``truth.parquet`` and ``manifest.csv`` are read from it.
    events_table : pyarrow.Table, Parquet path, or iterable of dict
        The ``qc/events`` rows (``track_id``, ``kind``, ``start_s``, ``end_s``, ``channel``, ``value``, ...).
        Kinds other than the defect kinds (loudness, format, codes) are ignored.
    tracks_table : pyarrow.Table, Parquet path, or iterable of dict
        The ``qc/tracks`` rows (``track_id``, ``path``, ``duration_s``, ``status``, ``error``).

    Returns
    -------
    AccuracyReport

    Raises
    ------
    ConfigError
        When the corpus folder has no truth or manifest.

    Examples
    --------
    >>> report = evaluate("bench", "out/qc/events", "out/qc/tracks")  # doctest: +SKIP
    >>> report.scores["click"].recall  # doctest: +SKIP
    1.0
    """
    corpus_dir = Path(corpus_dir)
    if corpus_dir.is_file():
        corpus_dir = corpus_dir.parent
    manifest = corpus_dir / "manifest.csv"
    if not manifest.is_file():
        raise ConfigError(f"{manifest} does not exist; is {corpus_dir} a benchmark corpus?")
    with open(manifest, newline="", encoding="utf-8") as fh:
        corpus_paths = [row["path"] for row in csv.DictReader(fh)]
    truths_by_path: dict[str, list[dict]] = {p: [] for p in corpus_paths}
    for t in read_truth(corpus_dir).to_pylist():
        truths_by_path.setdefault(t["path"], []).append(t)

    track_rows = _rows(tracks_table)
    path_of_id: dict[str, str] = {}
    duration: dict[str, float] = {}
    errors: list[dict] = []
    audited = set()
    for row in track_rows:
        path = _norm_path(str(row.get("path") or ""), corpus_dir)
        if path not in truths_by_path:
            continue
        audited.add(path)
        path_of_id[str(row["track_id"])] = path
        if row.get("duration_s") is not None:
            duration[path] = float(row["duration_s"])
        if row.get("status") == "error":
            errors.append({"path": path, "error": row.get("error", "")})
    for path in corpus_paths:
        if path not in audited:
            errors.append({"path": path, "error": "no row in the tracks table"})
        if path not in duration:
            try:
                import soundfile as sf  # noqa: PLC0415

                duration[path] = float(sf.info(str(corpus_dir / path)).duration)
            except Exception:  # noqa: BLE001 - an unreadable file is already an error row
                duration[path] = 0.0

    dets_by_path: dict[str, list[dict]] = {p: [] for p in corpus_paths}
    for ev in _rows(events_table):
        if ev.get("kind") not in IMPLIED:
            continue
        path = path_of_id.get(str(ev.get("track_id")))
        if path is not None:
            dets_by_path[path].append(ev)

    clean_paths = {p for p in corpus_paths if not truths_by_path.get(p)}
    audio_s = sum(duration[p] for p in corpus_paths)
    clean_s = sum(duration[p] for p in clean_paths)
    counts = {k: {"planted": 0, "found": 0, "detections": 0, "matched": 0, "matched_defective": 0, "excused": 0,
                  "fa_clean": 0, "fa_def": 0, "max_offset": math.nan, "under_rule": 0, "missed_under_rule": 0}
              for k in DEFECT_KINDS}
    misses: list[dict] = []
    false_alarms: list[dict] = []
    for path in corpus_paths:
        truths = truths_by_path.get(path, [])
        dets = dets_by_path.get(path, [])
        clean = path in clean_paths
        for t in truths:
            c = counts[t["kind"]]
            c["planted"] += 1
            under = UNDER_RULE in (t.get("detail") or "")
            c["under_rule"] += under
            hits = [_matches(d, t) for d in dets if d["kind"] == t["kind"]]
            offsets = [off for ok, off in hits if ok]
            if offsets:
                c["found"] += 1
                if t["kind"] not in WHOLE_TRACK_KINDS:
                    best = min(offsets)
                    c["max_offset"] = best if math.isnan(c["max_offset"]) else max(c["max_offset"], best)
            else:
                c["missed_under_rule"] += under
                near = [d for d in dets if d["kind"] == t["kind"]]
                misses.append({**t, "nearest_detection_s": min((float(d["start_s"]) for d in near),
                                                               key=lambda s: abs(s - t["start_s"]), default=None)})
        for d in dets:
            c = counts[d["kind"]]
            c["detections"] += 1
            same = [t for t in truths if t["kind"] == d["kind"]]
            if any(_matches(d, t)[0] or _within(d, t) for t in same):
                c["matched"] += 1
                c["matched_defective"] += 1
                continue
            cause = _excused(d, truths)
            if cause is not None:
                c["excused"] += 1
                continue
            c["fa_clean" if clean else "fa_def"] += 1
            false_alarms.append({
                "path": path, "kind": d["kind"], "start_s": float(d["start_s"]), "end_s": float(d["end_s"]),
                "channel": d.get("channel"), "value": d.get("value"), "detail": d.get("detail", ""),
                "clean": clean, "whole_track": _is_whole_track(d, duration[path]),
                "planted_on_track": " ".join(t["kind"] for t in truths),
            })
    scores = {
        k: KindScore(
            kind=k, planted=c["planted"], found=c["found"], detections=c["detections"], matched=c["matched"],
            excused=c["excused"], false_alarms_clean=c["fa_clean"], false_alarms_defective=c["fa_def"],
            clean_hours=clean_s / 3600.0, total_hours=audio_s / 3600.0, matched_defective=c["matched_defective"],
            max_offset_s=c["max_offset"], under_rule=c["under_rule"], missed_under_rule=c["missed_under_rule"],
        )
        for k, c in counts.items()
    }
    info = corpus_info(corpus_dir)
    return AccuracyReport(
        scores=scores, tracks=len(corpus_paths), clean_tracks=len(clean_paths), audio_s=audio_s,
        clean_audio_s=clean_s, misses=misses, false_alarms=false_alarms, errors=errors, corpus_dir=str(corpus_dir),
        seed=info.get("seed"), hours=info.get("hours"), generation_s=float(info.get("generation_wall_s", math.nan)),
    )


def _is_whole_track(det: Mapping, duration_s: float) -> bool:
    """A whole-track kind, or a detection covering (nearly) the whole file."""
    if det["kind"] in WHOLE_TRACK_KINDS:
        return True
    return duration_s > 0 and float(det["end_s"]) - float(det["start_s"]) >= 0.95 * duration_s


# ----------------------------------------------------------------------------------------------------------------
# The whole benchmark


_WORKER_CONFIG = None


def _init_worker(profile: str) -> None:
    """Build the QC config once per worker process (a Profile holds mapping proxies, which do not pickle)."""
    global _WORKER_CONFIG  # noqa: PLW0603 - one config per worker process
    from farm.profiles import load_profile  # noqa: PLC0415
    from farm.qc import QCConfig  # noqa: PLC0415

    _WORKER_CONFIG = QCConfig(profile=load_profile(profile))


def _audit(spec):
    from farm.qc import audit_track  # noqa: PLC0415

    return audit_track(spec, _WORKER_CONFIG)


def run_accuracy(seed: int, hours: float, *, workers: int | None = None, out: str | os.PathLike | None = None,
                 renderer: str = "auto", profile: str = "distributor-ingest",
                 clean_fraction: float = 0.5, min_per_kind: int = 4,
                 corpus: str | os.PathLike | None = None) -> AccuracyReport:
    """Generate a corpus, audit it with the real QC audit (in-process pool), and score it.

    With ``corpus`` (a folder an earlier run kept), nothing is generated: that corpus is audited again with the
    detectors as they are now and scored, and its audit rows and scores are replaced (``seed`` and ``hours`` are
    then read from its ``corpus.json``). Comparing two versions of a detector on the same kept corpora is what
    this is for.

    Parameters
    ----------
    seed, hours : int, float
        Passed to :func:`farm.bench.corpus.make_corpus`.
    workers : int, optional, keyword-only
        Processes for generation and audit (default: all CPUs).
    out : path, optional, keyword-only
        Keep the corpus here, with the audit's rows (``qc_tracks.parquet``, ``qc_events.parquet``) and the
        scores (``accuracy.csv``); default: a temporary folder, removed afterwards.
    renderer : str, keyword-only
        ``"auto"`` (fluidsynth when available), ``"fluidsynth"`` or ``"builtin"``.
    profile : str, keyword-only
        The QC profile the audit runs with (its thresholds; kinds set to ``off`` are not reported).
    clean_fraction : float, keyword-only
        Fraction of clean tracks.
    min_per_kind : int, keyword-only
        Plant every kind at least about this often (shorter songs when the hours cannot hold it otherwise).

    Returns
    -------
    AccuracyReport
        With ``generation_s`` and ``audit_s`` (wall seconds) filled in.
    """
    from farm.catalogue import discover  # noqa: PLC0415
    from farm.schema import events_schema, tracks_schema  # noqa: PLC0415

    workers = max(1, workers or os.cpu_count() or 1)
    _init_worker(profile)  # fails early on an unknown profile, and serves the one-worker path
    if corpus is not None:
        if out is not None:
            raise ConfigError("give either a corpus to score again or --out for a new one, not both")
        root = Path(corpus)
        if not (root / "manifest.csv").is_file() or not (root / "truth.parquet").is_file():
            raise ConfigError(f"{root} is not a kept benchmark corpus (no manifest.csv and truth.parquet there)")
        info = corpus_info(root)
        seed, hours = int(info.get("seed", seed)), float(info.get("hours", hours))
        out = root
    with tempfile.TemporaryDirectory(prefix="farm-bench-") as tmp:
        root = Path(out) if out is not None else Path(tmp) / "corpus"
        t0 = time.perf_counter()
        if corpus is not None:
            manifest = root / "manifest.csv"
        else:
            manifest = make_corpus(root, seed=seed, hours=hours, clean_fraction=clean_fraction, renderer=renderer,
                                   min_per_kind=min_per_kind, workers=workers)
        generation_s = time.perf_counter() - t0
        specs = discover([str(manifest)])
        t0 = time.perf_counter()
        if workers == 1:
            reports = [_audit(s) for s in specs]
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(specs)), initializer=_init_worker,
                                     initargs=(profile,)) as pool:
                reports = list(pool.map(_audit, specs))
        audit_s = time.perf_counter() - t0
        track_rows = [r.row for r in reports]
        event_rows = [e for r in reports for e in r.events]
        report = evaluate(root, event_rows, track_rows)
        report = AccuracyReport(**{**{f: getattr(report, f) for f in report.__dataclass_fields__},
                                   "seed": int(seed), "hours": float(hours), "generation_s": generation_s,
                                   "audit_s": audit_s, "workers": workers})
        if out is not None:
            pq.write_table(pa.Table.from_pylist(track_rows, schema=tracks_schema()), root / "qc_tracks.parquet")
            pq.write_table(pa.Table.from_pylist(event_rows, schema=events_schema()), root / "qc_events.parquet")
            _write_csv(root / "accuracy.csv", report.rows())
            _write_csv(root / "misses.csv", report.misses)
            _write_csv(root / "false_alarms.csv", report.false_alarms)
    return report


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    write_csv(path, columns or ["kind"], rows)


def report_dict(report: AccuracyReport) -> dict:
    """The report as plain data (JSON-ready)."""
    d = asdict(report)
    d["scores"] = report.rows()
    return d
