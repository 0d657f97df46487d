"""Resuming a run: which tracks of a catalogue already have a good row in ``OUT/qc/tracks``.

Re-running ``farm qc`` on the same ``--out`` audits only what is missing: a track is skipped when the dataset
already holds a row for it that is not an ``error`` row, made with the same profile, from an input of the same
size and modification time (``input_size``, ``input_mtime_ns`` in the row: a fingerprint that costs one
``stat`` per file, where a content hash would cost reading the catalogue). A track whose input changed, whose
last row is an ``error``, or that was audited with another profile is audited again and its old row (and its
findings) replaced; ``--redo`` audits everything.

The index keeps 8 bytes per track (a 64-bit hash of track id, size, mtime and profile in a sorted array), so a
catalogue of a million tracks costs 8 MB of the driver's memory, not a million Python objects.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

__all__ = ["ResumeIndex", "fingerprint"]

_COLUMNS = ["track_id", "status", "profile", "input_size", "input_mtime_ns"]


def fingerprint(abs_path: str) -> tuple[int | None, int | None]:
    """``(size, mtime_ns)`` of an input (a local file or an object), or ``(None, None)`` when it cannot be
    examined (its audit will say why)."""
    from farm import storage  # noqa: PLC0415

    if storage.is_uri(abs_path):
        try:
            st = storage.stat(abs_path)
        except (OSError, ValueError):
            return None, None
        return int(st.size), int(st.mtime_ns) if st.mtime_ns is not None else None
    try:
        st = os.stat(abs_path)
    except OSError:
        return None, None
    return int(st.st_size), int(st.st_mtime_ns)


def _key(*parts) -> int:
    text = "|".join("" if p is None else str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class ResumeIndex:
    """What a previous run left in ``OUT/qc/tracks``: the good rows' fingerprints and every track id."""

    profile: str
    done: np.ndarray  # sorted uint64 keys of (track_id, size, mtime_ns, profile) of non-error rows
    had: np.ndarray  # sorted uint64 keys of every track id with a row
    rows: int

    @classmethod
    def empty(cls, profile: str) -> "ResumeIndex":
        z = np.zeros(0, dtype=np.uint64)
        return cls(profile, z, z, 0)

    @classmethod
    def load(cls, out_dir: str | Path, profile: str) -> "ResumeIndex":
        """Read the previous rows (only the five columns needed, in batches); ``out_dir`` may be a URI."""
        from farm import storage  # noqa: PLC0415

        if storage.is_uri(str(out_dir)):
            try:
                dataset = storage.published_dataset(storage.join(str(out_dir), "qc"), "tracks")
            except FileNotFoundError:
                return cls.empty(profile)
        else:
            folder = Path(out_dir) / "qc" / "tracks"
            if not folder.is_dir():
                return cls.empty(profile)
            dataset = ds.dataset(folder, format="parquet")
        names = set(dataset.schema.names)
        if not {"track_id", "status"} <= names:
            return cls.empty(profile)
        cols = [c for c in _COLUMNS if c in names]
        done, had = [], []  # one uint64 array per batch: 8 bytes per row, never a list of Python ints
        rows = 0
        for batch in dataset.to_batches(columns=cols, batch_size=65536):
            d = batch.to_pydict()
            n = batch.num_rows
            rows += n
            ids = d["track_id"]
            had.append(np.fromiter((_key(t) for t in ids), dtype=np.uint64, count=n))
            sizes = d.get("input_size", [None] * n)
            mtimes = d.get("input_mtime_ns", [None] * n)
            profiles = d.get("profile", [""] * n)
            status = d["status"]
            good = [i for i in range(n) if status[i] != "error" and sizes[i] is not None and mtimes[i] is not None]
            done.append(np.fromiter((_key(ids[i], sizes[i], mtimes[i], profiles[i]) for i in good),
                                    dtype=np.uint64, count=len(good)))
        cat = (lambda parts: np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64))
        return cls(profile, cat(done), cat(had), rows)

    @staticmethod
    def _has(keys: np.ndarray, key: int) -> bool:
        if keys.size == 0:
            return False
        k = np.uint64(key)
        i = int(np.searchsorted(keys, k))
        return i < keys.size and keys[i] == k

    def is_done(self, track_id: str, size: int | None, mtime_ns: int | None) -> bool:
        """A good row exists for this input as it is now (same size, same mtime, same profile)."""
        return size is not None and self._has(self.done, _key(track_id, size, mtime_ns, self.profile))

    def existed(self, track_id: str) -> bool:
        """Some row (good or not) exists for this track id: a new row must replace it."""
        return self._has(self.had, _key(track_id))
