"""Files that appear whole or not at all: write to a hidden temporary name in the same folder, then rename.

A rename within one file system is atomic, so a reader (or a crash) never sees half a file; readers of datasets
(pyarrow, DuckDB) also ignore names starting with ``.``. On failure the temporary file is removed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_audio(path: str | Path, frames: np.ndarray, sample_rate: int, *, subtype: str, container: str) -> None:
    """Write ``frames`` (shape ``(samples, channels)``, as soundfile takes them) atomically."""
    with atomic_path(path) as tmp:
        sf.write(str(tmp), frames, sample_rate, subtype=subtype, format=container)


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
    """Write dict rows under ``columns`` as UTF-8 CSV, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
