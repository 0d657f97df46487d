"""Local paths and object storage (``s3://``, ``gs://``) behind one small API, over :mod:`pyarrow.fs`.

Everything that reads inputs or writes results goes through these functions when a path may be a URI; local
paths keep their plain, fast route (the audio reader passes them straight to libsndfile).

Which store, and how it is reached
----------------------------------
* ``s3://bucket/key``: :class:`pyarrow.fs.S3FileSystem` with the AWS SDK's usual credential chain (``AWS_ACCESS_KEY_ID``
  / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``~/.aws``, instance or pod roles). The region comes from
  ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, else it is looked up once per bucket. An S3-compatible server (MinIO,
  Ceph, moto, R2) is named by ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (``http://host:port``; the region
  then defaults to ``us-east-1``, which such servers ignore).
* ``gs://bucket/key`` (or ``gcs://``): :class:`pyarrow.fs.GcsFileSystem` with Google's default credentials;
  ``STORAGE_EMULATOR_HOST`` (``http://host:port``) points it at an emulator, anonymously.
* anything else is a local path (:class:`pyarrow.fs.LocalFileSystem` where a filesystem object is needed).

Errors are Python's own: :class:`FileNotFoundError` for a missing object or bucket, :class:`PermissionError`
for refused credentials (S3 answers 403 both for "no such key" without list permission and for bad keys, so the
message says to check both), :class:`OSError` for the rest. Callers turn them into ``InputError``/``ConfigError``.

Writing: one object appears whole or not at all
-----------------------------------------------
:func:`open_output` and :func:`write_bytes_atomic` write a local file through :mod:`farm.atomic` (a hidden
temporary name, then a rename) and an object with a single PUT of the finished bytes (buffered in memory, so an
exception inside the ``with`` block uploads nothing; Arrow switches to a multipart upload above its part size,
whose completion is equally all-or-nothing; moto 5.2's server answers that completion with an error Arrow 26
rejects, so tests stay below 10 MiB and the multipart path is not tested here). Memory is therefore bounded by
the object's size: fine for Parquet parts, manifests and reports; write large audio locally and upload it.

Publishing a run on object storage: parts, a manifest, then a pointer
---------------------------------------------------------------------
A folder of part files is published locally by renaming a staging folder; object stores have no rename (a
"rename" is a copy and a delete per object, neither atomic nor cheap). :class:`StagedRun` instead never moves
anything. For a dataset root such as ``s3://bucket/out/qc``::

    ROOT/_runs/<run_id>/tracks/part-00000.parquet     parts, written as the run goes (immutable, never renamed)
    ROOT/_runs/<run_id>/events/part-00000.parquet
    ROOT/_runs/<run_id>/run.json                      anything else the run writes
    ROOT/_runs/<run_id>/_SUCCESS                      the run's manifest: every file, its dataset and size
    ROOT/_CURRENT                                     the pointer: which manifest is published

:meth:`StagedRun.publish` writes ``_SUCCESS`` after every part is written, then overwrites ``_CURRENT`` with
one PUT. A single PUT is atomic and S3 and GCS are strongly consistent (read-after-write, since 2020 for S3), so
a reader that reads ``_CURRENT``, then the manifest it names, sees exactly the files of one complete run, never
a half-written one; a run that dies before ``publish`` leaves ``_CURRENT`` as it was. Readers use
:func:`published_files` / :func:`published_dataset`, not a listing of the prefix (names under ``_runs`` start
with ``_``, so pyarrow, DuckDB and Spark ignore them when pointed at ``ROOT``). A manifest may name parts under
earlier runs' prefixes (:meth:`StagedRun.keep`): a resumed run publishes old parts plus its new ones without
copying a byte, as Delta Lake and Iceberg do. :func:`prune` deletes run prefixes that neither the current nor
the previous manifest references (keeping the previous lets a reader that read the old pointer finish). Two
writers publishing to one root at once: the last pointer wins, as with the local rename.

The same code runs on local paths (useful in tests), but locally the rename layout of :mod:`farm.output` keeps
``OUT/qc/tracks`` a plain folder, which is friendlier; use :class:`StagedRun` where ``is_uri(out)``.

How a writer such as ``QCWriter`` uses it for ``--out s3://…`` (``root = join(out, "qc")``): open
``StagedRun(root)`` in ``__enter__``; flush each part with ``run.write_bytes(f"tracks/part-{n:05d}.parquet", data)``
where ``data`` is ``pq.write_table`` into a ``BytesIO`` (or use ``run.open_output(name)`` as the file); in
``commit`` write ``run.json`` the same way, call ``run.publish(run_info)`` and then ``prune(root)``; ``__exit__``
discards an unpublished run. To resume, read the previous rows with ``published_dataset(root, "tracks")`` and
carry them with ``run.keep(current_manifest(root), datasets=("tracks", "events"))``; fingerprint inputs with
:func:`stat` (``size``, ``mtime_ns``), which works for objects too. Keep parts under Arrow's part size (10 MiB)
to get single PUTs. A CLI option typed ``pathlib.Path`` turns ``s3://b/x`` into ``s3:/b/x``: keep URIs as ``str``.

Examples
--------
>>> with StagedRun("s3://bucket/out/qc") as run:          # doctest: +SKIP
...     run.write_bytes("tracks/part-00000.parquet", parquet_bytes)
...     run.publish({"tracks": 1})
>>> published_dataset("s3://bucket/out/qc", "tracks").to_table()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import io
import json
import os
import pathlib
import posixpath
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import pyarrow.fs as pafs

__all__ = [
    "URI_SCHEMES",
    "FileStat",
    "is_uri",
    "filesystem_for",
    "join",
    "parent",
    "basename",
    "open_input",
    "upload_file",
    "upload_tree",
    "staging_dir",
    "download_file",
    "stat",
    "exists",
    "is_dir",
    "listdir",
    "walk",
    "open_output",
    "write_bytes_atomic",
    "read_bytes",
    "remove",
    "remove_tree",
    "StagedRun",
    "current_manifest",
    "published_files",
    "published_dataset",
    "prune",
]

URI_SCHEMES = ("s3", "gs", "gcs")
"""URI schemes taken as object storage; any other string is a local path."""

READ_BUFFER_BYTES = 4 << 20
"""Bytes fetched per ranged GET when reading an object: libsndfile reads a few KiB at a time, and a request per
read would cost a round trip each (tens of ms); 4 MiB keeps requests few and memory small."""

RUNS_DIR = "_runs"
SUCCESS_NAME = "_SUCCESS"
CURRENT_NAME = "_CURRENT"
MANIFEST_FORMAT = "farm-publication/1"

_ACCESS_DENIED_MARKS = ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "Forbidden",
                        "AccessDenied", "403", "PERMISSION_DENIED", "Unauthorized", "401")


def is_uri(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names object storage (``s3://``, ``gs://``, ``gcs://``).

    Examples
    --------
    >>> is_uri("s3://bucket/cat/a.wav"), is_uri("/music/a.wav"), is_uri("C:/music/a.wav")
    (True, False, False)
    """
    if isinstance(path, os.PathLike):
        return False  # a pathlib.Path would have collapsed "s3://" to "s3:/" anyway
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.lower() in URI_SCHEMES


def _split(uri: str) -> tuple[str, str, str]:
    """(scheme, bucket, key) of a URI, key without leading or trailing slashes."""
    parts = urlsplit(uri)
    if not parts.netloc:
        raise ValueError(f"{uri!r} names no bucket; write it as {parts.scheme}://BUCKET/KEY")
    return parts.scheme.lower(), parts.netloc, parts.path.strip("/")


def filesystem_for(uri: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem that holds ``uri`` and the path to give it (``bucket/key``, or an absolute path).

    Filesystems are cached per process and per configuration (the environment variables above), so calling
    this for every file costs nothing after the first.

    Examples
    --------
    >>> fs, path = filesystem_for("s3://bucket/cat/a.wav")  # doctest: +SKIP
    >>> path
    'bucket/cat/a.wav'
    """
    if not is_uri(uri):
        return _local_fs(), os.path.abspath(os.fspath(uri))
    scheme, bucket, key = _split(str(uri))
    path = f"{bucket}/{key}" if key else bucket
    if scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
        if not region and not endpoint:
            region = _bucket_region(bucket)
        return _s3_fs(endpoint, region or "us-east-1"), path
    return _gcs_fs(os.environ.get("STORAGE_EMULATOR_HOST", "")), path


@functools.cache
def _local_fs() -> pafs.FileSystem:
    return pafs.LocalFileSystem()


@functools.cache
def _bucket_region(bucket: str) -> str:
    try:
        return pafs.resolve_s3_region(bucket)
    except OSError:
        return ""  # no network or no permission to ask: the SDK default applies and its error will say more


@functools.cache
def _s3_fs(endpoint: str, region: str) -> pafs.FileSystem:
    options: dict = {"region": region, "allow_delayed_open": True}
    # allow_delayed_open makes Arrow send an object smaller than its part size as one PutObject at close
    # instead of a multipart upload: one request, and atomic by nature.
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=parts.netloc + parts.path.rstrip("/"), scheme=parts.scheme or "https")
    return pafs.S3FileSystem(**options)


@functools.cache
def _gcs_fs(emulator: str) -> pafs.FileSystem:
    if emulator:
        parts = urlsplit(emulator if "://" in emulator else f"http://{emulator}")
        return pafs.GcsFileSystem(anonymous=True, endpoint_override=parts.netloc, scheme=parts.scheme or "http")
    return pafs.GcsFileSystem()


def _translate(uri: str, exc: OSError, doing: str) -> OSError:
    """Turn Arrow's OSError into FileNotFoundError / PermissionError / OSError with a message naming ``uri``."""
    if isinstance(exc, (FileNotFoundError, PermissionError)):
        return exc
    text = str(exc)
    if any(mark in text for mark in _ACCESS_DENIED_MARKS):
        return PermissionError(
            f"{uri}: access denied while {doing}; check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE, "
            f"GOOGLE_APPLICATION_CREDENTIALS) and that they may read this bucket ({text})"
        )
    if "NoSuchBucket" in text or "NO_SUCH_BUCKET" in text or "does not exist" in text:
        return FileNotFoundError(f"{uri}: the bucket does not exist ({text})")
    return OSError(f"{uri}: {doing} failed ({text})")


def join(base: str, *parts: str) -> str:
    """Join path parts: with ``/`` for URIs (``..`` and ``.`` resolved), with :func:`os.path.join` locally.

    Examples
    --------
    >>> join("s3://bucket/cat/manifests", "../A/01.wav")
    's3://bucket/cat/A/01.wav'
    """
    if not is_uri(base):
        return os.path.join(os.fspath(base), *parts)
    scheme, bucket, key = _split(base)
    joined = posixpath.normpath(posixpath.join("/" + key, *parts)).lstrip("/")
    return f"{scheme}://{bucket}/{joined}" if joined and joined != "." else f"{scheme}://{bucket}"


def parent(path: str) -> str:
    """The folder (prefix) holding ``path``; a bucket is its own parent."""
    if not is_uri(path):
        return os.path.dirname(os.path.abspath(path))
    scheme, bucket, key = _split(path)
    head = posixpath.dirname(key)
    return f"{scheme}://{bucket}/{head}" if head else f"{scheme}://{bucket}"


def basename(path: str) -> str:
    """The last component of ``path``: a file's name, a prefix's last segment, or a bucket's name."""
    if not is_uri(path):
        return os.path.basename(os.path.abspath(path))
    _, bucket, key = _split(path)
    return posixpath.basename(key) if key else bucket


@dataclass(frozen=True)
class FileStat:
    """What :func:`stat` says about a file or object: size in bytes, modification time, whether a folder."""

    size: int
    mtime_ns: int | None
    is_dir: bool


def stat(path: str) -> FileStat:
    """Size and modification time of a file or object (one HEAD request for an object).

    Raises
    ------
    FileNotFoundError
        Nothing there (for an object store: no object and no object below it as a prefix).
    PermissionError
        The credentials were refused.
    """
    fs, p = filesystem_for(path)
    try:
        info = fs.get_file_info(p)
    except OSError as exc:
        raise _translate(path, exc, "looking it up") from None
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{path}: not found")
    return FileStat(
        size=int(info.size or 0),
        mtime_ns=info.mtime_ns,
        is_dir=info.type == pafs.FileType.Directory,
    )


def exists(path: str) -> bool:
    """True when a file/object or a folder/prefix is there (credentials refused still raise)."""
    try:
        stat(path)
    except FileNotFoundError:
        return False
    return True


def is_dir(path: str) -> bool:
    """True for a folder, a bucket, or a prefix with objects below it."""
    try:
        return stat(path).is_dir
    except FileNotFoundError:
        return False


class _ArrowRaw(io.RawIOBase):
    """A pyarrow RandomAccessFile as a raw stream, so io.BufferedReader can batch small reads into large GETs."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._handle.readinto(buffer)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


def open_input(path: str, *, buffer_bytes: int = READ_BUFFER_BYTES) -> BinaryIO:
    """Open a file or object for reading: a seekable binary file object (``soundfile.SoundFile`` takes it).

    Local paths get Python's own ``open(path, "rb")``. Objects are read with ranged GETs of ``buffer_bytes``
    through :class:`io.BufferedReader`, so memory stays bounded whatever the object's size.

    Raises
    ------
    FileNotFoundError, PermissionError, OSError
        As :func:`stat`.

    Examples
    --------
    >>> with open_input("s3://bucket/cat/a.flac") as fh, soundfile.SoundFile(fh) as f:  # doctest: +SKIP
    ...     f.samplerate
    48000
    """
    if not is_uri(path):
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    fs, p = filesystem_for(path)
    try:
        handle = fs.open_input_file(p)
    except OSError as exc:
        raise _translate(path, exc, "opening it") from None
    return io.BufferedReader(_ArrowRaw(handle), buffer_size=buffer_bytes)


def read_bytes(path: str) -> bytes:
    """The whole content of a (small) file or object."""
    with open_input(path) as fh:
        return fh.read()


def listdir(path: str) -> tuple[list[str], list[str]]:
    """(folder names, file names) directly inside a folder or prefix, each sorted by name."""
    fs, p = filesystem_for(path)
    try:
        infos = fs.get_file_info(pafs.FileSelector(p, recursive=False))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found") from None
    except OSError as exc:
        raise _translate(path, exc, "listing it") from None
    folders = sorted(posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.Directory)
    files = sorted(posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.File)
    return folders, files


def walk(path: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """Like :func:`os.walk` (top-down; the caller may prune or reorder ``folders`` in place), for URIs as well.

    For object storage the whole prefix is listed once (ListObjectsV2 pages of 1,000 keys) and grouped into
    "folders" by ``/``; a local path is delegated to :func:`os.walk` (following links).
    """
    if not is_uri(path):
        yield from os.walk(path, followlinks=True)
        return
    fs, p = filesystem_for(path)
    try:
        infos = fs.get_file_info(pafs.FileSelector(p, recursive=True))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found") from None
    except OSError as exc:
        raise _translate(path, exc, "listing it") from None
    root = p.rstrip("/")
    children: dict[str, tuple[set[str], list[str]]] = {"": (set(), [])}
    for info in infos:
        rel = info.path[len(root):].strip("/")
        if not rel:
            continue
        # Every ancestor of an object is a "folder", whether or not a zero-byte marker object exists for it.
        segments = rel.split("/")
        for depth in range(len(segments) - 1):
            children.setdefault("/".join(segments[:depth]), (set(), []))[0].add(segments[depth])
            children.setdefault("/".join(segments[: depth + 1]), (set(), []))
        if info.type == pafs.FileType.File:
            children.setdefault("/".join(segments[:-1]), (set(), []))[1].append(segments[-1])
        else:
            children.setdefault(rel, (set(), []))
            children.setdefault("/".join(segments[:-1]), (set(), []))[0].add(segments[-1])

    def visit(rel: str) -> Iterator[tuple[str, list[str], list[str]]]:
        folders, files = children[rel]
        names = sorted(folders)
        yield (join(path, rel) if rel else path.rstrip("/")), names, sorted(files)
        for name in names:  # in the order the caller left them
            yield from visit(f"{rel}/{name}" if rel else name)

    yield from visit("")


@contextmanager
def open_output(path: str) -> Iterator[BinaryIO]:
    """Write a file or object that appears whole, and only if the ``with`` block succeeds.

    Locally: a hidden temporary file beside ``path`` renamed over it (:func:`farm.atomic.atomic_path`); parent
    folders are created. Object storage: the bytes are collected in memory and sent in one PUT on success.

    Examples
    --------
    >>> with open_output("s3://bucket/out/run.json") as fh:  # doctest: +SKIP
    ...     fh.write(b"{}")
    """
    if not is_uri(path):
        from farm.atomic import atomic_path  # noqa: PLC0415 - atomic imports soundfile; keep URI-only use light

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            yield fh
        return
    buffer = io.BytesIO()
    yield buffer
    write_bytes_atomic(path, buffer.getvalue())


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to a file (temporary name + rename) or an object (a single PUT): whole or not at all."""
    if not is_uri(path):
        with open_output(path) as fh:
            fh.write(data)
        return
    fs, p = filesystem_for(path)
    try:
        with fs.open_output_stream(p) as out:
            out.write(data)
    except OSError as exc:
        raise _translate(path, exc, "writing it") from None


def upload_file(local: str | os.PathLike[str], path: str) -> None:
    """Copy a local file to ``path`` (a file or an object), whole or not at all."""
    with open(local, "rb") as fh:
        write_bytes_atomic(path, fh.read())


def upload_tree(root: str | os.PathLike[str], target: str, *, exclude: str | os.PathLike[str] | None = None) -> int:
    """Upload every file under the local folder ``root`` (hidden names and the subfolder ``exclude`` left out)
    to the prefix ``target``, each whole; every ``manifest.json`` last, so a reader that finds a manifest finds
    the files it lists. Returns the number of files."""
    root = pathlib.Path(root)
    skip = pathlib.Path(exclude) if exclude is not None else None
    files = sorted((p for p in root.rglob("*")
                    if p.is_file() and not p.name.startswith(".") and not (skip and p.is_relative_to(skip))),
                   key=lambda p: (p.name == "manifest.json", str(p)))
    for p in files:
        upload_file(p, join(target, p.relative_to(root).as_posix()))
    return len(files)


def staging_dir(prefix: str) -> pathlib.Path:
    """A fresh local folder for files on their way to object storage: under ``FARM_STAGING`` where set (a
    volume sized for a release's deliverables), else the system's temporary folder. The caller removes it."""
    return pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("FARM_STAGING") or None))


def download_file(path: str, local: str | os.PathLike[str]) -> None:
    """Copy a file or object to a local file, which appears whole or not at all (parent folders made)."""
    from farm.atomic import atomic_path  # noqa: PLC0415

    os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
    with open_input(path) as src, atomic_path(local) as tmp, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def remove(path: str, *, missing_ok: bool = True) -> None:
    """Delete one file or object."""
    fs, p = filesystem_for(path)
    try:
        fs.delete_file(p)
    except FileNotFoundError:
        if not missing_ok:
            raise FileNotFoundError(f"{path}: not found") from None
    except OSError as exc:
        raise _translate(path, exc, "deleting it") from None


def remove_tree(path: str) -> None:
    """Delete a folder or prefix and everything below it; nothing there is fine."""
    fs, p = filesystem_for(path)
    try:
        fs.delete_dir(p)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _translate(path, exc, "deleting it") from None


# --------------------------------------------------------------------------------------------------------------
# Publishing a run: parts under a run prefix, then its manifest, then the pointer


def new_run_id() -> str:
    """A run id that sorts by time: ``20250101T120000Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


class StagedRun:
    """Stage a run's files under ``ROOT/_runs/<run_id>/`` and publish them together (see the module notes).

    Parameters
    ----------
    root : str
        The dataset root, e.g. ``s3://bucket/out/qc`` (a local folder works too).
    run_id : str, optional
        Default: :func:`new_run_id`.

    Use as a context manager: leaving it without :meth:`publish` deletes the run's prefix (a crash that skips
    ``__exit__`` leaves an unpublished prefix, invisible to readers, which :func:`prune` removes).
    File names given to :meth:`write_bytes`/:meth:`open_output` are relative to the run prefix; their first
    component is the dataset (``tracks/part-00000.parquet`` belongs to ``tracks``).
    """

    def __init__(self, root: str, *, run_id: str | None = None) -> None:
        self.root = root.rstrip("/") if is_uri(root) else os.path.abspath(root)
        self.run_id = run_id or new_run_id()
        if not self.run_id or "/" in self.run_id or self.run_id.startswith("."):
            raise ValueError(f"run_id {self.run_id!r} must be a non-empty name without '/'")
        self.prefix = join(self.root, RUNS_DIR, self.run_id)
        self.files: dict[str, int] = {}  # path relative to root -> size in bytes
        self.published = False

    def __enter__(self) -> "StagedRun":
        return self

    def __exit__(self, *exc) -> None:
        if not self.published:
            self.discard()

    def uri(self, name: str) -> str:
        """Where the run's file ``name`` (relative to the run prefix) is written."""
        return join(self.prefix, name)

    def _relative(self, name: str) -> str:
        clean = posixpath.normpath(name.replace(os.sep, "/"))
        if clean.startswith(("/", "..")) or clean in (".", SUCCESS_NAME):
            raise ValueError(f"file name {name!r} must be relative, inside the run, and not {SUCCESS_NAME}")
        return posixpath.join(RUNS_DIR, self.run_id, clean)

    def write_bytes(self, name: str, data: bytes) -> str:
        """Write one file of the run (a single PUT) and record it; returns its URI."""
        rel = self._relative(name)
        target = join(self.root, rel)
        write_bytes_atomic(target, data)
        self.files[rel] = len(data)
        return target

    @contextmanager
    def open_output(self, name: str) -> Iterator[BinaryIO]:
        """Like :func:`open_output` for a file of the run; e.g. ``pq.write_table(table, fh)`` inside."""
        self._relative(name)  # refuse a bad name before the caller does the work
        buffer = io.BytesIO()
        yield buffer
        self.write_bytes(name, buffer.getvalue())

    def keep(self, manifest: dict, *, datasets: tuple[str, ...] | None = None) -> int:
        """Carry files of an earlier published manifest into this run (resume: no copy); returns how many."""
        kept = 0
        for entry in manifest.get("files", []):
            if datasets is None or entry["dataset"] in datasets:
                self.files.setdefault(entry["path"], int(entry["size"]))
                kept += 1
        return kept

    def publish(self, info: dict | None = None) -> dict:
        """Write the manifest ``_SUCCESS`` under the run prefix, then point ``ROOT/_CURRENT`` at it.

        Returns the manifest. Until the pointer's single PUT returns, readers see the previous publication.
        """
        previous = current_pointer(self.root)
        manifest = {
            "format": MANIFEST_FORMAT,
            "run_id": self.run_id,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": [
                {"path": rel, "dataset": _dataset_of(rel), "size": size} for rel, size in sorted(self.files.items())
            ],
            "info": info or {},
        }
        manifest_rel = posixpath.join(RUNS_DIR, self.run_id, SUCCESS_NAME)
        write_bytes_atomic(join(self.root, manifest_rel), _json_bytes(manifest))
        pointer = {
            "format": MANIFEST_FORMAT,
            "run_id": self.run_id,
            "manifest": manifest_rel,
            "previous_manifest": (previous or {}).get("manifest", ""),
        }
        write_bytes_atomic(join(self.root, CURRENT_NAME), _json_bytes(pointer))
        self.published = True
        return manifest

    def discard(self) -> None:
        """Delete this run's prefix (only files it wrote; parts kept from earlier runs are untouched)."""
        remove_tree(self.prefix)


def _dataset_of(rel: str) -> str:
    # "_runs/<id>/tracks/part-00000.parquet" -> "tracks"; "_runs/<id>/run.json" -> "" (not in a dataset)
    segments = rel.split("/")
    return segments[2] if len(segments) > 3 else ""


def _json_bytes(document: dict) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=str).encode("utf-8")


def current_pointer(root: str) -> dict | None:
    """The pointer ``ROOT/_CURRENT`` (run id, manifest path), or None when nothing was published there."""
    try:
        return json.loads(read_bytes(join(root, CURRENT_NAME)))
    except FileNotFoundError:
        return None


def current_manifest(root: str) -> dict | None:
    """The manifest of the published run under ``root``, or None when nothing was published."""
    pointer = current_pointer(root)
    if pointer is None:
        return None
    return json.loads(read_bytes(join(root, pointer["manifest"])))


def published_files(root: str, dataset: str | None = None) -> list[str]:
    """URIs (or paths) of the published files, all or those of one ``dataset``; [] when nothing is published."""
    manifest = current_manifest(root)
    if manifest is None:
        return []
    return [join(root, e["path"]) for e in manifest["files"] if dataset is None or e["dataset"] == dataset]


def published_dataset(root: str, dataset: str, *, format: str = "parquet"):  # noqa: A002 - pyarrow's name
    """A :class:`pyarrow.dataset.Dataset` over exactly the published parts of ``dataset``.

    Raises
    ------
    FileNotFoundError
        Nothing is published under ``root``, or the publication has no such dataset.
    """
    import pyarrow.dataset as pads  # noqa: PLC0415

    files = published_files(root, dataset)
    if not files:
        raise FileNotFoundError(f"{root}: no published {dataset!r} dataset (no {CURRENT_NAME}, or no such dataset)")
    fs, _ = filesystem_for(files[0])
    return pads.dataset([filesystem_for(f)[1] for f in files], filesystem=fs, format=format)


def prune(root: str, *, keep_previous: bool = True) -> list[str]:
    """Delete run prefixes under ``ROOT/_runs`` that the current (and previous) manifest do not reference.

    Returns the run ids deleted. Run it after :meth:`StagedRun.publish`, never concurrently with another
    writer on the same root (it would delete that writer's unpublished run).
    """
    pointer = current_pointer(root)
    if pointer is None:
        return []
    referenced = {pointer["run_id"]}
    manifests = [pointer["manifest"]]
    if keep_previous and pointer.get("previous_manifest"):
        manifests.append(pointer["previous_manifest"])
    for rel in manifests:
        try:
            manifest = json.loads(read_bytes(join(root, rel)))
        except FileNotFoundError:
            continue
        referenced.add(manifest["run_id"])
        referenced.update(e["path"].split("/")[1] for e in manifest["files"])
    try:
        run_ids, _ = listdir(join(root, RUNS_DIR))
    except FileNotFoundError:
        return []
    doomed = [r for r in run_ids if r not in referenced]
    for run_id in doomed:
        remove_tree(join(root, RUNS_DIR, run_id))
    return doomed
