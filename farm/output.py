"""Writing the QC datasets: Parquet part files of bounded size, published whole or not at all.

Rows are buffered and flushed to part files as results arrive, so the driver never holds a catalogue's results
in memory. Readers (pyarrow, DuckDB, Spark) ignore names starting with ``.`` or ``_``, so a part being written
(a hidden temporary name, renamed when complete) never appears in a query. Two ways to publish:

* **Replace** (``--redo``, and the default without a resume index): parts go to a hidden staging folder inside
  ``DIR/qc``; only when the run completes does it replace the previous datasets (a rename on the same file
  system). A run that dies leaves the previous results untouched.
* **Resume** (``resume=`` a :class:`farm.resume.ResumeIndex`, what ``farm qc`` does by default): rows of tracks
  that had no row before are published as they come (every ``rows_per_part`` rows or every ``flush_every_s``
  seconds, the findings' part first, then the tracks' part), so a killed run keeps what it finished and the next
  run resumes from there. Rows that *replace* an old row (input changed, last row an error) are staged and
  published at the end, after the old rows are removed from their parts; a run that dies before that leaves the
  old row, never two. At start, findings whose track has no row (a run killed between the two parts of a flush)
  are removed, so a track's findings appear exactly once, with its row.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from farm.schema import events_schema, tracks_schema

DATASETS = ("tracks", "events")


class _PartWriter:
    def __init__(self, folder: Path, schema: pa.Schema, rows_per_part: int, *, prefix: str = "part") -> None:
        self.folder = folder
        self.schema = schema
        self.rows_per_part = rows_per_part
        self.prefix = prefix
        self.buffer: list[dict] = []
        self.parts = 0
        self.rows = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, rows: list[dict]) -> None:
        self.buffer.extend(rows)
        if len(self.buffer) >= self.rows_per_part:
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        if not self.buffer and not (force and self.parts == 0):
            return
        table = pa.Table.from_pylist(self.buffer, schema=self.schema)
        name = f"{self.prefix}-{self.parts:05d}.parquet"
        tmp = self.folder / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, self.folder / name)
        self.rows += len(self.buffer)
        self.parts += 1
        self.buffer = []


class QCWriter:
    """Collect :class:`~farm.qc.TrackReport` results into ``DIR/qc/tracks`` and ``DIR/qc/events``.

    Use as a context manager; :meth:`commit` publishes the datasets, leaving the context without it discards
    the staging folder.

    Examples
    --------
    >>> with QCWriter(out_dir) as w:        # doctest: +SKIP
    ...     for report in reports:
    ...         w.add(report)
    ...     w.commit({"profile": "streaming"})
    """

    def __init__(self, out_dir: str | Path, *, rows_per_part: int = 20_000, resume=None,
                 flush_every_s: float = 30.0) -> None:
        self.qc_dir = Path(out_dir) / "qc"
        self.staging = self.qc_dir / f".staging-{uuid.uuid4().hex[:12]}"
        self.rows_per_part = rows_per_part
        self.committed = False
        self.resume = resume
        self.flush_every_s = float(flush_every_s)
        self._writers: dict[str, _PartWriter] = {}
        self._live: dict[str, _PartWriter] = {}
        self._replaced: set[str] = set()
        self._last_flush = time.monotonic()

    def __enter__(self) -> "QCWriter":
        self.qc_dir.mkdir(parents=True, exist_ok=True)
        self._writers = {
            "tracks": _PartWriter(self.staging / "tracks", tracks_schema(), self.rows_per_part),
            "events": _PartWriter(self.staging / "events", events_schema(), self.rows_per_part),
        }
        if self.resume is not None:
            run = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
            self._live = {
                "tracks": _PartWriter(self.qc_dir / "tracks", tracks_schema(), self.rows_per_part, prefix=run),
                "events": _PartWriter(self.qc_dir / "events", events_schema(), self.rows_per_part, prefix=run),
            }
            _remove_orphan_events(self.qc_dir)
        return self

    def add(self, report) -> None:
        """Queue one track's row and its findings."""
        tid = report.row["track_id"]
        if self.resume is not None and not self.resume.existed(tid):
            # a track with no row before: published as it comes (a killed run keeps it)
            self._live["events"].buffer.extend(report.events)
            self._live["tracks"].buffer.append(report.row)
            due = len(self._live["tracks"].buffer) >= self.rows_per_part or len(self._live["events"].buffer) >= self.rows_per_part
            if due or time.monotonic() - self._last_flush >= self.flush_every_s:
                self._flush_live()
            return
        if self.resume is not None:
            self._replaced.add(tid)
        self._writers["tracks"].add([report.row])
        self._writers["events"].add(report.events)

    def _flush_live(self) -> None:
        # the findings first: a run killed between the two leaves orphan findings (removed at the next start),
        # never a row whose findings are missing. Both parts of one flush get the same name.
        ev, tr = self._live["events"], self._live["tracks"]
        if tr.buffer:
            ev.parts = tr.parts = max(ev.parts, tr.parts)
            if ev.buffer:
                ev.flush()
            tr.flush()
            ev.parts = tr.parts
        self._last_flush = time.monotonic()

    @property
    def tracks_written(self) -> int:
        total = 0
        for group in (self._writers, self._live):
            w = group.get("tracks")
            if w is not None:
                total += w.rows + len(w.buffer)
        return total

    def commit(self, run_info: dict | None = None) -> Path:
        """Flush and publish (see the module docstring for the two ways)."""
        if self.resume is not None:
            return self._commit_resume(run_info)
        for w in self._writers.values():
            w.flush(force=True)  # an empty dataset still gets one part file carrying the schema
        if run_info is not None:
            tmp = self.staging / ".run.json.tmp"
            tmp.write_text(json.dumps(run_info, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, self.staging / "run.json")
        trash = self.qc_dir / f".old-{uuid.uuid4().hex[:12]}"
        trash.mkdir()
        for name in (*DATASETS, "run.json"):
            old = self.qc_dir / name
            if old.exists():
                os.replace(old, trash / name)
            new = self.staging / name
            if new.exists():
                os.replace(new, old)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.committed = True
        return self.qc_dir

    def _commit_resume(self, run_info: dict | None) -> Path:
        self._flush_live()
        staged = self._writers
        for w in staged.values():
            w.flush()
        if self._replaced:
            # old rows out first (each part rewritten atomically), then the new ones in: a crash in between leaves
            # the track without a row (redone next time), never with two
            for name in DATASETS:
                _drop_ids(self.qc_dir / name, self._replaced)
            for name in ("events", "tracks"):  # the findings first, as in every flush (see _remove_orphan_events)
                for part in sorted((self.staging / name).glob("part-*.parquet")):
                    os.replace(part, self.qc_dir / name / f"{self._live[name].prefix}-r{part.name[5:]}")
        for name, schema in (("tracks", tracks_schema()), ("events", events_schema())):
            folder = self.qc_dir / name
            if not any(folder.glob("*.parquet")):  # an empty dataset still carries its schema
                _PartWriter(folder, schema, 1, prefix=self._live[name].prefix).flush(force=True)
        if run_info is not None:
            tmp = self.qc_dir / ".run.json.tmp"
            tmp.write_text(json.dumps(run_info, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, self.qc_dir / "run.json")
        shutil.rmtree(self.staging, ignore_errors=True)
        self.committed = True
        return self.qc_dir

    def __exit__(self, *exc) -> None:
        if self.resume is not None and not self.committed and exc and exc[0] is not None:
            # keep what was finished: the next run resumes from it (rows replacing old ones are dropped)
            try:
                self._flush_live()
            except Exception:  # noqa: BLE001 - the original exception is the one to report
                pass
        shutil.rmtree(self.staging, ignore_errors=True)


def _remove_orphan_events(qc_dir: Path) -> None:
    """Remove findings whose track has no row: a run killed between a flush's findings part and its tracks part.

    Both parts of a flush carry the same file name, the findings' written first; so a findings part with no
    tracks part of its name holds only such orphans and is removed whole. Nothing is read: the check costs a
    directory listing, whatever the size of the datasets."""
    events, tracks = qc_dir / "events", qc_dir / "tracks"
    if not events.is_dir():
        return
    have = {p.name for p in tracks.glob("*.parquet")} if tracks.is_dir() else set()
    for part in events.glob("part-*.parquet"):
        # only parts published as they came (``part-<20-digit time>-<id>-NNNNN``) pair up by name; the parts of
        # a replacing run (``part-NNNNN``) and its empty schema parts are not flushes and are left alone
        pieces = part.stem.split("-")
        if len(pieces) == 4 and len(pieces[1]) == 20 and pieces[3].isdigit() and part.name not in have:
            part.unlink()


def _drop_ids(folder: Path, ids: set[str]) -> None:
    """Rewrite the parts of ``folder`` that hold rows of ``ids``, without them."""
    if not folder.is_dir():
        return
    drop = pa.array(sorted(ids), type=pa.string())
    for part in sorted(folder.glob("*.parquet")):
        table = pq.read_table(part)
        hit = pc.is_in(table.column("track_id"), value_set=drop)
        if not pc.any(hit).as_py():
            continue
        _rewrite(part, table.filter(pc.invert(hit)))


def _rewrite(part: Path, table: pa.Table) -> None:
    if table.num_rows == 0:
        part.unlink()
        return
    tmp = part.with_name(f".{part.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, part)


class ObjectQCWriter:
    """The QC datasets on object storage (``--out s3://…`` or ``gs://…``), with the resume semantics of
    :class:`QCWriter` and :mod:`farm.storage`'s publication (parts under ``qc/_runs/<id>/``, a manifest, then the
    ``qc/_CURRENT`` pointer; nothing is ever renamed).

    Rows of new tracks are published as they come (every part flush publishes a manifest of the previous
    publication's parts plus this run's so far, so a killed run keeps its progress); rows that replace old ones
    (``resume.existed``) are written but listed only at :meth:`commit`, after the old parts that hold the
    replaced tracks have been rewritten without them, so no publication ever shows a track twice. Without a
    resume index (``--redo``) the publication holds only this run's parts. Read the result with
    ``farm.storage.published_dataset(OUT + "/qc", "tracks")``.
    """

    def __init__(self, out: str, *, rows_per_part: int = 20_000, resume=None, flush_every_s: float = 30.0) -> None:
        from farm import storage  # noqa: PLC0415

        self.storage = storage
        self.root = storage.join(out, "qc")
        self.qc_dir = self.root
        self.rows_per_part = rows_per_part
        self.resume = resume
        self.flush_every_s = float(flush_every_s)
        self.committed = False
        self._tracks: list[dict] = []
        self._events: list[dict] = []
        self._staged: list[tuple[str, list[dict], list[dict]]] = []
        self._replaced: set[str] = set()
        self._parts = 0
        self._rows = 0
        self._last = time.monotonic()

    def __enter__(self) -> "ObjectQCWriter":
        self.run = self.storage.StagedRun(self.root)
        if self.resume is not None:
            previous = self.storage.current_manifest(self.root)
            if previous is not None:
                self.run.keep(previous, datasets=DATASETS)
        return self

    def _part(self, dataset: str, rows: list[dict], schema: pa.Schema) -> str:
        import io  # noqa: PLC0415

        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf, compression="zstd")
        name = f"{dataset}/part-{self._parts:05d}.parquet"
        self.run.write_bytes(name, buf.getvalue())
        return name

    def add(self, report) -> None:
        tid = report.row["track_id"]
        if self.resume is not None and self.resume.existed(tid):
            self._replaced.add(tid)
            self._staged.append((tid, [report.row], list(report.events)))
            return
        self._tracks.append(report.row)
        self._events.extend(report.events)
        if len(self._tracks) >= self.rows_per_part or time.monotonic() - self._last >= self.flush_every_s:
            self._flush(publish=True)

    def _flush(self, *, publish: bool) -> None:
        if self._tracks:
            self._part("events", self._events, events_schema())
            self._part("tracks", self._tracks, tracks_schema())
            self._parts += 1
            self._rows += len(self._tracks)
            self._tracks, self._events = [], []
            if publish:
                self.run.publish({"partial": True, "rows": self._rows})
        self._last = time.monotonic()

    @property
    def tracks_written(self) -> int:
        return self._rows + len(self._tracks) + len(self._staged)

    def commit(self, run_info: dict | None = None) -> str:
        self._flush(publish=False)
        if self._replaced:
            drop = pa.array(sorted(self._replaced), type=pa.string())
            for rel in [r for r in self.run.files if not r.startswith(f"_runs/{self.run.run_id}/")]:
                dataset = rel.split("/")[-2]
                if dataset not in DATASETS:
                    continue
                with self.storage.open_input(self.storage.join(self.root, rel)) as fh:
                    table = pq.read_table(fh)
                hit = pc.is_in(table.column("track_id"), value_set=drop)
                if not pc.any(hit).as_py():
                    continue
                del self.run.files[rel]  # the old part leaves the publication; its other rows move to a new part
                kept = table.filter(pc.invert(hit))
                if kept.num_rows:
                    import io  # noqa: PLC0415

                    buf = io.BytesIO()
                    pq.write_table(kept, buf, compression="zstd")
                    self.run.write_bytes(f"{dataset}/part-{self._parts:05d}-kept.parquet", buf.getvalue())
                    self._parts += 1
            for _, rows, events in self._staged:
                self._tracks.extend(rows)
                self._events.extend(events)
            self._flush(publish=False)
        if not any(self.storage._dataset_of(r) == "tracks" for r in self.run.files):  # schema-carrying empty parts
            self._part("events", [], events_schema())
            self._part("tracks", [], tracks_schema())
            self._parts += 1
        if run_info is not None:
            self.run.write_bytes("run.json", json.dumps(run_info, indent=2, default=str).encode("utf-8"))
        self.run.publish(run_info or {})
        self.storage.prune(self.root)
        self.committed = True
        return self.root

    def __exit__(self, *exc) -> None:
        if not self.committed and self.resume is not None and exc and exc[0] is not None:
            try:
                self._flush(publish=True)  # keep what was finished for the next run
            except Exception:  # noqa: BLE001 - the original exception is the one to report
                pass
        if not self.run.published:
            self.run.discard()
