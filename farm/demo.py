"""A small example catalogue with a few planted problems, for ``farm demo``, the README and tests.

Two releases of three tracks each, rendered from seeded songs (:mod:`farm.synth`), in the formats a label
actually sends: 24-bit/48 kHz WAV, 16-bit/44.1 kHz FLAC and one 24-bit/96 kHz FLAC. Levels are "mastered-ish"
(a soft-clipping bus drive, then a true-peak ceiling of -1.5 dBTP), and exactly the problems listed in
:data:`DEMO_PROBLEMS` are planted, so a QC audit of the demo has a known right answer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from farm.atomic import write_audio, write_csv
from farm.synth import generate_song, render_song, resolve_renderer

__all__ = ["DEMO_PROBLEMS", "MANIFEST_COLUMNS", "PlantedProblem", "make_demo_catalogue"]

#: Columns of the demo manifest, in order. ``path`` is relative to the manifest's folder.
MANIFEST_COLUMNS = ("release_id", "upc", "release_title", "release_artist", "track_number", "isrc", "title",
                    "artist", "path")


@dataclass(frozen=True)
class PlantedProblem:
    """One deliberate defect in the demo catalogue. ``track_number`` is ``None`` for a release-level one.

    ``kind`` is one of ``"head_silence"``, ``"true_peak_over"``, ``"isrc_format"``, ``"upc_check_digit"``,
    ``"click"``, ``"dropout"``.
    """

    release_id: str
    track_number: int | None
    kind: str
    detail: str


def _ean13_check_digit(first12: str) -> int:
    """EAN-13/UPC mod-10 check digit: weights 1, 3, 1, 3, ... from the left over the first 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


_UPC_GOOD = "501234567890" + str(_ean13_check_digit("501234567890"))
# Same kind of number, check digit deliberately off by one.
_UPC_BAD = "501234567891" + str((_ean13_check_digit("501234567891") + 1) % 10)
_HEAD_SILENCE_S = 3.5
_DROPOUT_S = (9.0, 0.06)  # start, length
_CLICK = (11.3, 2, 0.25)  # time, samples, amplitude added (left channel)
_BAD_ISRC = "QZFRM250005"  # 11 characters: one digit short of CC-XXX-YY-NNNNN

#: What :func:`make_demo_catalogue` plants, whatever the seed.
DEMO_PROBLEMS: tuple[PlantedProblem, ...] = (
    PlantedProblem("DEMO-R1", 2, "true_peak_over",
                   "mastered too hot: soft-clipped to a 0 dBFS sample peak, so the true peak is above -1 dBTP"),
    PlantedProblem("DEMO-R1", 1, "dropout",
                   f"{1000 * _DROPOUT_S[1]:.0f} ms of digital silence in both channels at {_DROPOUT_S[0]:g} s: "
                   "a bad export"),
    PlantedProblem("DEMO-R2", 1, "click",
                   f"a two-sample click of {_CLICK[2]:+g} full scale on the left channel at {_CLICK[0]:g} s"),
    PlantedProblem("DEMO-R1", 3, "head_silence",
                   f"{_HEAD_SILENCE_S} s of digital silence (exact zeros) before the music starts"),
    PlantedProblem("DEMO-R2", 2, "isrc_format",
                   f"ISRC {_BAD_ISRC!r} has 11 characters; an ISRC has 12 (CC-XXX-YY-NNNNN)"),
    PlantedProblem("DEMO-R2", None, "upc_check_digit",
                   f"UPC/EAN {_UPC_BAD} has check digit {_UPC_BAD[-1]}; the digits give "
                   f"{_ean13_check_digit(_UPC_BAD[:12])}"),
)


@dataclass(frozen=True)
class _Format:
    container: str  # soundfile format name
    subtype: str
    sample_rate: int
    extension: str


_WAV_24_48K = _Format("WAV", "PCM_24", 48000, "wav")
_FLAC_16_44K = _Format("FLAC", "PCM_16", 44100, "flac")
_FLAC_24_96K = _Format("FLAC", "PCM_24", 96000, "flac")


@dataclass(frozen=True)
class _DemoTrack:
    release_id: str
    track_number: int
    title: str
    artist: str
    isrc: str
    style: str
    duration_s: float
    fmt: _Format
    drive: float  # bus drive into the soft clipper: 1 = none; higher = louder, denser master


@dataclass(frozen=True)
class _DemoRelease:
    release_id: str
    upc: str
    title: str
    artist: str
    folder: str
    tracks: tuple[_DemoTrack, ...]


_RELEASES = (
    _DemoRelease("DEMO-R1", _UPC_GOOD, "Northern Test Lights", "The Test Patterns", "r1-northern-test-lights", (
        _DemoTrack("DEMO-R1", 1, "Slow Return", "The Test Patterns", "QZFRM2500001", "ballad", 20.0, _WAV_24_48K,
                   1.2),
        _DemoTrack("DEMO-R1", 2, "Overdrive", "The Test Patterns", "QZFRM2500002", "rock", 22.0, _WAV_24_48K, 2.5),
        # Pop, not the ballad, carries the head silence: pop never fades in, so the music starts at full level
        # right after the planted zeros and a silence detector's answer is unambiguous.
        _DemoTrack("DEMO-R1", 3, "First Light", "The Test Patterns", "QZFRM2500003", "pop", 20.0, _WAV_24_48K, 1.5),
    )),
    _DemoRelease("DEMO-R2", _UPC_BAD, "Quiet Machines", "Karplus and Strong", "r2-quiet-machines", (
        _DemoTrack("DEMO-R2", 1, "Nylon Rain", "Karplus and Strong", "QZFRM2500004", "acoustic", 22.0,
                   _FLAC_16_44K, 1.8),
        _DemoTrack("DEMO-R2", 2, "Grid Pulse", "Karplus and Strong", _BAD_ISRC, "electronic", 22.0, _FLAC_16_44K,
                   1.6),
        _DemoTrack("DEMO-R2", 3, "High Resolution", "Karplus and Strong", "QZFRM2500006", "pop", 20.0,
                   _FLAC_24_96K, 1.5),
    )),
)

# True-peak ceiling for the clean tracks; below the -1 dBTP most platforms ask for, with margin for a meter
# that reads a little higher than this module's 4x estimate.
_CLEAN_CEILING_DBTP = -1.5


def _true_peak_estimate(audio: np.ndarray) -> float:
    """Linear true peak via 4x polyphase oversampling (BS.1770 Annex 2 practice; good to a few tenths of a dB)."""
    return float(np.max(np.abs(scipy.signal.resample_poly(audio, 4, 1, axis=-1))))


def _master(audio: np.ndarray, drive: float, *, hot: bool) -> np.ndarray:
    """A crude mastering bus: soft clipping for density, then a ceiling.

    The clean ceiling is a true-peak one so that only the planted track trips a -1 dBTP check; the hot track
    is scaled to a 0 dBFS sample peak the way an over-eager loudness master would be.
    """
    x = audio / np.max(np.abs(audio))
    if drive > 1.0:
        x = np.tanh(drive * x) / math.tanh(drive)
    if hot:
        return x / np.max(np.abs(x))
    return x * 10.0 ** (_CLEAN_CEILING_DBTP / 20.0) / _true_peak_estimate(x)


def _quantise(audio: np.ndarray, subtype: str, rng: np.random.Generator) -> np.ndarray:
    """Float (channels, n) to the interleaved array soundfile writes. 16-bit gets TPDF dither (two uniform
    values of +/- 0.5 LSB each); 24-bit stays float, since libsndfile's rounding error at 24 bit is far
    below anything a check looks at."""
    frames = audio.T
    if subtype != "PCM_16":
        return np.ascontiguousarray(np.clip(frames, -1.0, 1.0))
    scale = 32767.0
    dither = rng.uniform(-0.5, 0.5, frames.shape) + rng.uniform(-0.5, 0.5, frames.shape)
    return np.clip(np.round(frames * scale + dither), -32768, 32767).astype(np.int16)


def _write_atomic(path: Path, frames: np.ndarray, fmt: _Format) -> None:
    write_audio(path, frames, fmt.sample_rate, subtype=fmt.subtype, container=fmt.container)


def make_demo_catalogue(root: str | os.PathLike, *, seed: int = 0, renderer: str = "auto") -> Path:
    """Write the demo catalogue under ``root`` and return the path of its manifest CSV.

    Parameters
    ----------
    root : path
        Folder to write into (created if missing). Existing demo files there are overwritten.
    seed : int, keyword-only
        Varies the music (keys, tempi, notes); the layout, metadata and :data:`DEMO_PROBLEMS` do not change.
    renderer : {"auto", "fluidsynth", "builtin"}, keyword-only
        Passed to :func:`farm.synth.render_song`.

    Returns
    -------
    pathlib.Path
        ``root / "manifest.csv"`` with columns :data:`MANIFEST_COLUMNS`, one row per track.

    Examples
    --------
    >>> manifest = make_demo_catalogue("/tmp/farm-demo", renderer="builtin")  # doctest: +SKIP
    >>> [p.kind for p in DEMO_PROBLEMS]  # doctest: +SKIP
    ['true_peak_over', 'head_silence', 'isrc_format', 'upc_check_digit']
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    which = resolve_renderer(renderer)  # fail before writing anything if the choice is unusable
    planted = {(p.release_id, p.track_number): p.kind for p in DEMO_PROBLEMS}
    rows = []
    for r_index, release in enumerate(_RELEASES):
        folder = root / release.folder
        folder.mkdir(exist_ok=True)
        for track in release.tracks:
            song_seed = int(seed) * 100 + r_index * 10 + track.track_number
            song = generate_song(song_seed, duration_s=track.duration_s, style=track.style)
            audio = render_song(song, track.fmt.sample_rate, renderer=which, peak_dbfs=None)
            kind = planted.get((release.release_id, track.track_number))
            audio = _master(audio, track.drive, hot=kind == "true_peak_over")
            sr = track.fmt.sample_rate
            if kind == "dropout":
                a = round(_DROPOUT_S[0] * sr)
                audio[:, a:a + round(_DROPOUT_S[1] * sr)] = 0.0
            elif kind == "click":
                a = round(_CLICK[0] * sr)
                audio[0, a:a + _CLICK[1]] += _CLICK[2]
                # keep the clean ceiling: the click must not also read as a true-peak over
                audio *= min(1.0, 10.0 ** (_CLEAN_CEILING_DBTP / 20.0) / _true_peak_estimate(audio))
            if kind == "head_silence":
                pad = np.zeros((audio.shape[0], int(round(_HEAD_SILENCE_S * track.fmt.sample_rate))))
                audio = np.concatenate([pad, audio], axis=1)
            slug = track.title.lower().replace(" ", "-")
            path = folder / f"{track.track_number:02d}-{slug}.{track.fmt.extension}"
            rng = np.random.default_rng([song_seed, 0xD17])
            _write_atomic(path, _quantise(audio, track.fmt.subtype, rng), track.fmt)
            rows.append({
                "release_id": release.release_id, "upc": release.upc, "release_title": release.title,
                "release_artist": release.artist, "track_number": track.track_number, "isrc": track.isrc,
                "title": track.title, "artist": track.artist, "path": path.relative_to(root).as_posix(),
            })
    manifest = root / "manifest.csv"
    write_csv(manifest, MANIFEST_COLUMNS, rows)
    return manifest

