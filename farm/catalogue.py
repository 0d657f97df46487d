"""Finding the tracks to work on: audio files, folders of releases, and manifests.

:func:`discover` turns what a person typed on the command line into a flat list of :class:`TrackSpec`, one per
audio file, each tagged with the release it belongs to. It only looks at names and manifest cells; whether a file
is readable audio is the QC layer's question (a manifest row whose file is missing still becomes a TrackSpec, and
the QC layer gives it an error row).

Three kinds of input:

* **an audio file** (by extension, see :data:`AUDIO_EXTENSIONS`): a release of one track, named after the file.
  Files in formats the reader does not decode (:data:`UNDECODED_EXTENSIONS`: ALAC, AAC, WavPack, DSD, ...) are
  tracks too, and the QC layer gives each an ``error`` row that names the format, so none is left out unseen.
* **a folder**, searched recursively (hidden-looking folders included; symbolic links followed, loops not): every
  folder that holds audio files is one release, its tracks are those files in natural name order
  (``2 x.wav`` before ``10 x.wav``), and its ``release_id`` is the folder's path from the input folder's parent
  (``cat/Artist - Album`` for input ``cat``). macOS "AppleDouble" companions (``._name.wav``, which hold Finder
  metadata and no audio) are skipped.
* **a manifest** (``.csv``, ``.parquet`` or ``.json``) with the columns of :data:`MANIFEST_COLUMNS`, of which only
  ``path`` is required. See :func:`discover` for how gaps are filled.

Track ids are the first 16 hex digits of the SHA-256 of the file's resolved absolute path: stable across re-runs
and working directories, but moving or renaming the catalogue changes them (content hashes, which survive a move,
come with resumable runs).

Object storage: each kind of input may also be a URI (``s3://bucket/key``, ``gs://bucket/key``; see
:mod:`farm.storage`). A prefix is a folder (``s3://bucket/cat`` gives releases ``cat/Artist - Album``; a bare
bucket ``s3://bucket`` is named after the bucket), an object with an audio extension is a single file, and a
manifest object's relative ``path`` cells resolve against the manifest's prefix (``../x.wav`` included); a cell
may also be a full URI, in a local manifest too. :attr:`TrackSpec.abs_path` then holds the normalised URI, and
the track id is made from that URI string: copying a catalogue to another bucket or prefix (or from a local disk
to a bucket) changes its track ids, exactly as moving a folder does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from farm import storage
from farm.codes import normalize_isrc, normalize_upc
from farm.errors import ConfigError

__all__ = [
    "AUDIO_EXTENSIONS",
    "UNDECODED_EXTENSIONS",
    "MANIFEST_EXTENSIONS",
    "MANIFEST_COLUMNS",
    "TrackSpec",
    "discover",
    "iter_discover",
    "track_id_for",
    "natural_key",
]

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".opus", ".mp3",
     ".caf", ".au", ".snd"}
)
"""File extensions taken as audio (compared case-insensitively)."""

UNDECODED_EXTENSIONS = frozenset(
    {".m4a", ".m4b", ".aac", ".alac", ".wv", ".ape", ".wma", ".dsf", ".dff", ".tak", ".tta", ".mpc", ".mka"}
)
"""Audio formats that the reader (libsndfile) does not decode: AAC and ALAC in MP4, WavPack, Monkey's Audio, WMA,
DSD, TAK, TTA, Musepack, Matroska audio. They are tracks all the same, so that each gets an ``error`` row saying
what it is and how to convert it, rather than being left out of the audit without a word."""

MANIFEST_EXTENSIONS = frozenset({".csv", ".parquet", ".json"})
"""File extensions taken as manifests (compared case-insensitively)."""

MANIFEST_COLUMNS = (
    "release_id",
    "upc",
    "release_title",
    "release_artist",
    "track_number",
    "isrc",
    "title",
    "artist",
    "path",
)
"""Columns a manifest may have; only ``path`` is required. Other columns are kept in :attr:`TrackSpec.extra`."""

_RELEASE_FIELDS = ("upc", "release_title", "release_artist")
_APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07"


@dataclass(frozen=True)
class TrackSpec:
    """One track to measure, and the release it belongs to.

    Parameters
    ----------
    track_id : str
        16 hex digits, from the resolved absolute path (see :func:`track_id_for`).
    release_id : str
        The release the track belongs to: a folder path with ``/`` separators, a file's stem, or the manifest's
        ``release_id`` cell (the manifest's stem when empty).
    path : str
        The path as found: the input argument joined with the path below it, or the manifest's cell as written.
    abs_path : str
        The resolved absolute path (symbolic links followed), the one the track id is made from; for object
        storage the normalised URI (``s3://bucket/cat/A/01.wav``).
    track_number : int or None
        1..n in name order for folders, 1 for a single file, the manifest's cell (None when empty).
    title, artist : str
        Track metadata; the title defaults to the file's stem, the artist to "".
    isrc : str
        As given, without spaces or hyphens and in upper case (:func:`farm.codes.normalize_isrc`); "" when none.
    upc : str
        As given, without spaces or hyphens (:func:`farm.codes.normalize_upc`); "" when none. Not validated here.
    release_title, release_artist : str
        The release's metadata; a folder release is titled with the folder's name.
    extra : tuple of (str, str)
        Further manifest columns (e.g. ``gap_s``, ``side``), in the manifest's column order, as text.
    """

    track_id: str
    release_id: str
    path: str
    abs_path: str
    track_number: int | None
    title: str
    artist: str
    isrc: str
    upc: str
    release_title: str
    release_artist: str
    extra: tuple[tuple[str, str], ...] = ()


def track_id_for(abs_path: str) -> str:
    """The track id of a file: the first 16 hex digits of SHA-256 over its resolved absolute path (UTF-8).

    Examples
    --------
    >>> len(track_id_for("/music/cat/Artist - Album/01 Intro.wav"))
    16
    """
    # surrogateescape keeps undecodable bytes in POSIX file names hashable instead of raising.
    return hashlib.sha256(abs_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def natural_key(name: str) -> tuple:
    """Sort key putting ``"2 x.wav"`` before ``"10 x.wav"``: digit runs compare as numbers, text ignoring case.

    Examples
    --------
    >>> sorted(["10 x.wav", "2 x.wav", "B.wav", "a.wav"], key=natural_key)
    ['2 x.wav', '10 x.wav', 'a.wav', 'B.wav']
    """
    parts = []
    for run in re.split(r"(\d+)", name):
        if run.isdigit():
            parts.append((0, int(run)))
        elif run:
            parts.append((1, run.casefold()))
    # The name itself breaks ties ("01" vs "1", "a" vs "A") so the order is total and repeatable.
    return (tuple(parts), name)


def discover(inputs: Sequence[str | os.PathLike[str]]) -> list[TrackSpec]:
    """Turn command-line inputs (audio files, folders, manifests) into the list of tracks to work on.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Each an audio file, a folder or a manifest (``.csv``, ``.parquet``, ``.json``). Tracks come out in input
        order, then folder/name order or manifest row order. A file reached twice (by two inputs, two manifest
        rows, or a link) is kept once, where it was first found.

    Returns
    -------
    list of TrackSpec

    Raises
    ------
    ConfigError
        An input does not exist or is of no known kind; a folder holds no audio; a folder cannot be listed; a
        manifest cannot be read, has no ``path`` column, no rows, an empty ``path`` cell, a ``track_number``
        that is not a whole number >= 1, or a release with two different values of ``upc``, ``release_title`` or
        ``release_artist``.

    Notes
    -----
    Manifest rules: ``path`` is resolved against the manifest's folder when relative; an empty ``release_id``
    becomes the manifest's stem and an empty ``title`` the audio file's stem; release-level cells (``upc``,
    ``release_title``, ``release_artist``) may be given on one row of a release and are copied to its other rows.
    CSV is read as UTF-8 (a byte-order mark is allowed); column names are compared ignoring case and surrounding
    spaces, and cells are stripped of surrounding spaces. Parquet and JSON numbers become text (``2.0`` stays
    ``"2.0"``; a UPC stored as a number has lost its leading zeros, which the QC layer will report).

    Examples
    --------
    >>> tracks = discover(["cat"])  # doctest: +SKIP
    >>> tracks[0].release_id, tracks[0].track_number, tracks[0].title  # doctest: +SKIP
    ('cat/Artist - Album', 1, '01 Intro')
    """
    return list(iter_discover(inputs))


def iter_discover(inputs: Sequence[str | os.PathLike[str]]) -> Iterator[TrackSpec]:
    """:func:`discover` one track at a time, for catalogues too large to hold as a list.

    Manifests are read in pieces, twice (a first pass collects the release-level cells, which may sit on any row
    of a release, and checks them; the second yields the tracks), so the driver holds one row at a time plus a
    few cells per release. A file reached twice is kept once: the 64-bit hashes of the paths seen are kept
    (8 MB for a million tracks), not the paths. Errors in a manifest are raised when reached.
    """
    if isinstance(inputs, (str, bytes, os.PathLike)):
        raise TypeError("discover() takes a sequence of inputs; wrap a single path in a list")
    seen = _SeenIds()
    for item in inputs:
        for spec in _discover_one(os.fspath(item)):
            if seen.add(int(spec.track_id, 16)):  # the first 64 bits of the path's SHA-256
                yield spec


class _SeenIds:
    """A set of 64-bit ids at 8 bytes each: a sorted NumPy array plus a small set of recent ids, merged into the
    array every ``batch`` ids (a Python set of a million ints costs ~70 MB; this, 8 MB)."""

    def __init__(self, batch: int = 65536) -> None:
        import numpy as np  # noqa: PLC0415

        self._np = np
        self._sorted = np.zeros(0, dtype=np.uint64)
        self._recent: set[int] = set()
        self._batch = batch

    def add(self, key: int) -> bool:
        """Add ``key``; False when it was already there."""
        if key in self._recent:
            return False
        k = self._np.uint64(key)
        i = int(self._np.searchsorted(self._sorted, k))
        if i < self._sorted.size and self._sorted[i] == k:
            return False
        self._recent.add(key)
        if len(self._recent) >= self._batch:
            merged = self._np.fromiter(self._recent, dtype=self._np.uint64, count=len(self._recent))
            self._sorted = self._np.union1d(self._sorted, merged)
            self._recent.clear()
        return True


def _discover_one(given: str) -> Iterable[TrackSpec]:
    if storage.is_uri(given):
        return _discover_uri(given)
    path = Path(given)
    if not path.exists():
        if path.is_symlink():
            raise ConfigError(f"input {given!r} is a symbolic link to something that does not exist; fix the link")
        raise ConfigError(
            f"input {given!r} does not exist; give an audio file, a folder or a manifest (.csv, .parquet, .json)"
        )
    if path.is_dir():
        return _discover_folder(given)
    suffix = path.suffix.lower()
    if suffix in MANIFEST_EXTENSIONS:
        return _stream_manifest(given)
    if _is_audio_name(given):
        return [_single_file(given)]
    raise ConfigError(
        f"input {given!r} is not an audio file ({', '.join(sorted(AUDIO_EXTENSIONS))}), a folder, "
        "or a manifest (.csv, .parquet, .json); check the path or rename the file"
    )


def _discover_uri(given: str) -> Iterable[TrackSpec]:
    try:
        st = storage.stat(given)
    except FileNotFoundError:
        raise ConfigError(
            f"input {given!r}: no such object or prefix (or no such bucket); check the URI"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"input {given!r}: access denied; check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE, "
            "GOOGLE_APPLICATION_CREDENTIALS) and that they may list and read this bucket"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"input {given!r} cannot be looked up: {exc}") from None
    if st.is_dir:
        return _discover_folder(given)
    suffix = os.path.splitext(given)[1].lower()
    if suffix in MANIFEST_EXTENSIONS:
        return _stream_manifest(given)
    if _is_audio_name(given):
        return [_single_file(given)]
    raise ConfigError(
        f"input {given!r} is not an audio object ({', '.join(sorted(AUDIO_EXTENSIONS))}), a prefix, "
        "or a manifest (.csv, .parquet, .json); check the URI"
    )


def _resolved(path: str) -> str:
    if storage.is_uri(path):
        return storage.join(path)  # normalised: "s3://b/a//./x.wav" -> "s3://b/a/x.wav"
    return str(Path(path).resolve())


def _make_spec(
    *,
    path: str,
    release_id: str,
    track_number: int | None,
    release_title: str,
    abs_path: str | None = None,
    title: str = "",
    artist: str = "",
    isrc: str = "",
    upc: str = "",
    release_artist: str = "",
    extra: tuple[tuple[str, str], ...] = (),
) -> TrackSpec:
    abs_path = abs_path or _resolved(path)
    return TrackSpec(
        track_id=track_id_for(abs_path),
        release_id=release_id,
        path=path,
        abs_path=abs_path,
        track_number=track_number,
        title=title or _stem(path),
        artist=artist,
        isrc=normalize_isrc(isrc),
        upc=normalize_upc(upc),
        release_title=release_title,
        release_artist=release_artist,
        extra=extra,
    )


def _stem(path: str) -> str:
    return Path(storage.basename(path) if storage.is_uri(path) else path).stem


def _single_file(given: str) -> TrackSpec:
    stem = _stem(given)
    return _make_spec(path=given, release_id=stem, track_number=1, release_title=stem)


# --------------------------------------------------------------------------------------------------------------
# Folders


def _is_audio_name(name: str) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix in AUDIO_EXTENSIONS or suffix in UNDECODED_EXTENSIONS


def _is_appledouble(path: str) -> bool:
    if not os.path.basename(path).startswith("._"):
        return False
    try:
        with storage.open_input(path) as fh:
            return fh.read(4) == _APPLEDOUBLE_MAGIC
    except OSError:
        return False


def _walk(top: str) -> Iterator[tuple[str, list[str]]]:
    """Yield (folder, audio file names in natural order), depth first in natural order, each real folder once."""
    visited: set[tuple[int, int]] = set()

    def fail(exc: OSError) -> None:
        raise ConfigError(f"cannot list folder {exc.filename!r}: {exc.strerror}; fix its permissions") from None

    for folder, subfolders, names in os.walk(top, topdown=True, onerror=fail, followlinks=True):
        st = os.stat(folder)
        # Following links means a link to an ancestor would recurse for ever; a folder's device and inode say
        # whether we have been here before under another name.
        if (st.st_dev, st.st_ino) in visited:
            subfolders[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        subfolders.sort(key=natural_key)
        audio = [n for n in names if _is_audio_name(n) and not _is_appledouble(os.path.join(folder, n))]
        if audio:
            yield folder, sorted(audio, key=natural_key)


def _walk_prefix(top: str) -> Iterator[tuple[str, list[str]]]:
    """:func:`_walk` for an object-storage prefix: (prefix URI, audio object names in natural order)."""
    try:
        for folder, subfolders, names in storage.walk(top):
            subfolders.sort(key=natural_key)
            audio = [n for n in names if _is_audio_name(n) and not _is_appledouble(storage.join(folder, n))]
            if audio:
                yield folder, sorted(audio, key=natural_key)
    except OSError as exc:
        raise ConfigError(f"cannot list {top!r}: {exc}; check the URI and the credentials") from None


def _discover_folder(given: str) -> list[TrackSpec]:
    # The release id starts at the input folder's own name, as the person sees it (abspath normalizes "." and
    # "cat/" without following links, so a link named "latest" stays "latest").
    remote = storage.is_uri(given)
    top = storage.join(given) if remote else given
    top_name = storage.basename(top) if remote else Path(os.path.abspath(given)).name
    tracks: list[TrackSpec] = []
    for folder, names in _walk_prefix(top) if remote else _walk(given):
        if remote:
            below = folder[len(top):].strip("/")
            parts = [top_name] + (below.split("/") if below else [])
        else:
            below = os.path.relpath(folder, given)
            parts = [top_name] + ([] if below == os.curdir else below.split(os.sep))
        release_id = "/".join(p for p in parts if p)
        release_title = parts[-1] if parts[-1] else release_id
        for number, name in enumerate(names, start=1):
            tracks.append(
                _make_spec(
                    path=storage.join(folder, name),
                    release_id=release_id,
                    track_number=number,
                    release_title=release_title,
                )
            )
    if not tracks:
        raise ConfigError(
            f"folder {given!r} holds no audio files in it or its subfolders (looked for "
            f"{', '.join(sorted(AUDIO_EXTENSIONS))}); check the path"
        )
    return tracks


# --------------------------------------------------------------------------------------------------------------
# Manifests


@dataclass(frozen=True)
class _Row:
    where: str  # "line 4" (CSV) or "row 3" (Parquet, JSON), for messages
    cells: dict[str, str]


def _read_manifest(given: str) -> list[TrackSpec]:
    return list(_stream_manifest(given))


def _manifest_source(given: str) -> tuple[list[str], Callable[[], Iterator[_Row]]]:
    """The manifest's columns and a function that iterates its rows (each call reads it again)."""
    suffix = Path(given).suffix.lower()
    if suffix == ".csv":
        return _csv_source(given)
    if suffix == ".parquet":
        return _parquet_source(given)
    columns, rows = _read_json(given)
    return columns, lambda: iter(rows)


def _stream_manifest(given: str) -> Iterator[TrackSpec]:
    try:
        columns, rows = _manifest_source(given)
        if not columns and next(rows(), None) is None:
            raise ConfigError(f"manifest {given!r} has no rows; list at least one track")
        if "path" not in columns:
            found = ", ".join(repr(c) for c in columns) or "none"
            raise ConfigError(
                f"manifest {given!r} has no 'path' column (columns: {found}); add one giving each track's audio "
                "file"
            )
        remote = storage.is_uri(given)
        base = storage.parent(given) if remote else Path(os.path.abspath(given)).parent  # as the person sees it
        default_release = Path(given).stem
        extra_columns = [c for c in columns if c not in MANIFEST_COLUMNS]
        # pass 1: the release-level cells (given on any one row of a release), checked
        with _ReleaseCells(given) as values:
            count = 0
            for row in rows():
                count += 1
                release = row.cells.get("release_id") or default_release
                for field in _RELEASE_FIELDS:
                    value = row.cells.get(field, "")
                    if field == "upc":
                        value = normalize_upc(value)  # as the track's spec will hold it
                    if value:
                        values.add(release, field, value)
            if not count:
                raise ConfigError(f"manifest {given!r} has no rows; list at least one track")
            values.settle()
            # pass 2: the tracks
            for row in rows():
                spec = _row_spec(given, base, default_release, extra_columns, row)
                yield replace(spec, **values.get(spec.release_id))
    except PermissionError as exc:
        raise ConfigError(f"manifest {given!r} cannot be read: {exc.strerror or exc}; check its permissions "
                          "(or, for a URI, the credentials)") from None
    except OSError as exc:
        raise ConfigError(f"manifest {given!r} cannot be read: {exc.strerror or exc}") from None


class _ReleaseCells:
    """The release-level cells of a manifest (``upc``, ``release_title``, ``release_artist``), each checked to be
    the same on every row of its release, in memory flat in the number of releases.

    Up to ``in_memory`` releases are held in a dict (~300 bytes each: every manifest of ordinary size). Past that
    they spill to an SQLite file in the temporary folder (``FARM_STAGING`` where set), in batches; the conflict
    check then runs in SQL, and the second pass reads a release's cells back through a small cache (a manifest's
    rows usually come release by release). Removed when the manifest has been read."""

    def __init__(self, given: str, *, in_memory: int = 50_000, batch: int = 20_000) -> None:
        self.given = given
        self.in_memory, self.batch = in_memory, batch
        self.mem: dict[str, dict[str, str]] = {}
        self.db = None
        self.folder = None
        self.cache: dict[str, dict[str, str]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _conflict(self, release: str, field: str, old: str, new: str) -> ConfigError:
        return ConfigError(
            f"manifest {self.given!r}: release {release!r} has two {field} values, {old!r} and {new!r}; give one "
            "per release (or split it into two release_ids)")

    def add(self, release: str, field: str, value: str) -> None:
        known = self.mem.setdefault(release, {})
        if known.setdefault(field, value) != value:
            raise self._conflict(release, field, known[field], value)
        if len(self.mem) > (self.batch if self.db is not None else self.in_memory):
            self._spill()

    def _spill(self) -> None:
        import sqlite3  # noqa: PLC0415

        if self.db is None:
            self.folder = storage.staging_dir("farm-manifest-")
            self.db = sqlite3.connect(self.folder / "releases.sqlite")
            self.db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
                "CREATE TABLE cells (release TEXT, field TEXT, value TEXT, PRIMARY KEY (release, field))"
                " WITHOUT ROWID;"
                "CREATE TEMP TABLE batch (release TEXT, field TEXT, value TEXT);")
        db = self.db
        db.executemany("INSERT INTO batch VALUES (?, ?, ?)",
                       ((r, f, v) for r, cells in self.mem.items() for f, v in cells.items()))
        clash = db.execute("SELECT b.release, b.field, c.value, b.value FROM batch b JOIN cells c "
                           "ON c.release = b.release AND c.field = b.field WHERE c.value != b.value LIMIT 1").fetchone()
        if clash:
            raise self._conflict(*clash)
        db.execute("INSERT OR IGNORE INTO cells SELECT release, field, value FROM batch")
        db.execute("DELETE FROM batch")
        self.mem.clear()

    def settle(self) -> None:
        """End of the first pass: everything checked (and, past ``in_memory`` releases, on disk)."""
        if self.db is not None and self.mem:
            self._spill()

    def get(self, release: str) -> dict[str, str]:
        if self.db is None:
            return self.mem.get(release, {})
        cells = self.cache.get(release)
        if cells is None:
            if len(self.cache) >= 1024:
                self.cache.clear()
            cells = dict(self.db.execute("SELECT field, value FROM cells WHERE release = ?", (release,)).fetchall())
            self.cache[release] = cells
        return cells


def _normalize_columns(given: str, raw: Sequence[object]) -> list[str]:
    columns = [str(c).strip().lower() for c in raw]
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ConfigError(f"manifest {given!r} has the column {duplicates[0]!r} more than once; keep one")
    return columns


def _csv_source(given: str) -> tuple[list[str], Callable[[], Iterator[_Row]]]:
    try:
        with _open_text(given) as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"manifest {given!r} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
    except csv.Error as exc:
        raise ConfigError(f"manifest {given!r} is not valid CSV: {exc}") from None
    if header is None:
        raise ConfigError(f"manifest {given!r} is empty; it needs a header line with a 'path' column")
    columns = _normalize_columns(given, header)

    def rows() -> Iterator[_Row]:
        try:
            with _open_text(given) as fh:
                reader = csv.reader(fh)
                next(reader, None)
                for cells in reader:
                    if not any(c.strip() for c in cells):
                        continue  # blank lines, common at the end of hand-edited files
                    if len(cells) > len(columns):
                        raise ConfigError(
                            f"manifest {given!r}, line {reader.line_num}: {len(cells)} cells but the header has "
                            f"{len(columns)} columns; quote cells that contain commas"
                        )
                    values = [c.strip() for c in cells] + [""] * (len(columns) - len(cells))
                    yield _Row(f"line {reader.line_num}", dict(zip(columns, values)))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"manifest {given!r} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
            ) from None
        except csv.Error as exc:
            raise ConfigError(f"manifest {given!r} is not valid CSV: {exc}") from None

    return columns, rows


def _open_text(given: str):
    """A manifest as UTF-8 text (a byte-order mark allowed), from a local file or an object."""
    if not storage.is_uri(given):
        return open(given, newline="", encoding="utf-8-sig")  # noqa: SIM115 - the caller's with closes it
    return io.TextIOWrapper(storage.open_input(given), encoding="utf-8-sig", newline="")


def _cell_text(given: str, where: str, column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    if isinstance(value, (list, tuple, dict)):
        raise ConfigError(
            f"manifest {given!r}, {where}: column {column!r} holds a {type(value).__name__}; "
            "give one text or number per cell"
        )
    return str(value).strip()


def _parquet_source(given: str) -> tuple[list[str], Callable[[], Iterator[_Row]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def open_file():
        try:
            source = storage.open_input(given) if storage.is_uri(given) else given
            # buffered page reads: a row group of a million paths is decoded a batch at a time, not held whole
            return pq.ParquetFile(source, buffer_size=1 << 20)
        except (pa.ArrowException, ValueError) as exc:
            raise ConfigError(f"manifest {given!r} is not a readable Parquet file: {exc}") from None

    raw_columns = open_file().schema_arrow.names
    columns = _normalize_columns(given, raw_columns)

    def rows() -> Iterator[_Row]:
        index = 0
        try:
            for batch in open_file().iter_batches(batch_size=8192):
                for record in batch.to_pylist():
                    index += 1
                    where = f"row {index}"
                    yield _Row(where, {col: _cell_text(given, where, col, record[raw])
                                       for col, raw in zip(columns, raw_columns)})
        except (pa.ArrowException, ValueError) as exc:
            raise ConfigError(f"manifest {given!r} is not a readable Parquet file: {exc}") from None

    return columns, rows


def _read_json(given: str) -> tuple[list[str], list[_Row]]:
    try:
        with _open_text(given) as fh:
            document = json.load(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"manifest {given!r} is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"manifest {given!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("tracks"), list):
        document = document["tracks"]
    if not isinstance(document, list):
        raise ConfigError(
            f"manifest {given!r} must hold a JSON array of track objects, or an object with a \"tracks\" array"
        )
    columns: list[str] = []
    records = []
    for index, record in enumerate(document, start=1):
        if not isinstance(record, dict):
            raise ConfigError(
                f"manifest {given!r}, row {index}: is a {type(record).__name__}, not an object of column: value"
            )
        normalized = dict(zip(_normalize_columns(given, record.keys()), record.values()))
        for col in normalized:
            if col not in columns:
                columns.append(col)
        records.append(normalized)
    rows = []
    for index, record in enumerate(records, start=1):
        where = f"row {index}"
        rows.append(_Row(where, {col: _cell_text(given, where, col, record.get(col)) for col in columns}))
    return columns, rows


def _track_number(given: str, where: str, text: str) -> int | None:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (number.is_integer() and number >= 1):
        raise ConfigError(
            f"manifest {given!r}, {where}: track_number {text!r} is not a whole number >= 1 "
            "(put vinyl sides such as 'A1' in a 'side' column)"
        )
    return int(number)


def _row_spec(given: str, base, default_release: str, extra_columns: list[str], row: _Row) -> TrackSpec:
    cells = row.cells
    path = cells["path"]
    if not path:
        raise ConfigError(
            f"manifest {given!r}, {row.where}: the path cell is empty; every row needs its audio file's path"
        )
    return _make_spec(
        path=path,
        abs_path=_manifest_target(base, path),
        release_id=cells.get("release_id") or default_release,
        track_number=_track_number(given, row.where, cells.get("track_number", "")),
        title=cells.get("title", ""),
        artist=cells.get("artist", ""),
        isrc=cells.get("isrc", ""),
        upc=cells.get("upc", ""),
        release_title=cells.get("release_title", ""),
        release_artist=cells.get("release_artist", ""),
        extra=tuple((c, cells[c]) for c in extra_columns),
    )


def _manifest_target(base: str | Path, cell: str) -> str:
    """Where a manifest's path cell points: a URI as given, else resolved against the manifest's folder/prefix."""
    if storage.is_uri(cell):
        return _resolved(cell)
    if isinstance(base, str):  # the manifest is an object: its relative cells are keys below its prefix
        if os.path.isabs(cell):
            return str(Path(cell).resolve())  # an absolute local path stays local
        return storage.join(base, cell)
    return str((base / cell).resolve())
