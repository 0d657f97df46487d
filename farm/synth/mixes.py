"""Unmastered-sounding mixes: the material ``farm master`` is tested and benchmarked on.

A mix engineer's bounce is typically quiet (peaks well under full scale, -26..-18 LUFS), and each song has its
own problem: a dull top, a boomy low end, or a low end that is too wide (bass with anti-phase content, which
collapses in mono and troubles a vinyl cut). :func:`make_unmastered_release` renders seeded songs
(:mod:`farm.synth`) and applies one such problem per song, at a different level per song, so that an album
has loud and quiet songs whose order the mastering must keep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from farm.atomic import write_audio, write_csv
from farm.synth import generate_song, render_song, resolve_renderer

__all__ = ["MIX_PROBLEMS", "MixTrack", "make_unmastered_release", "unmaster"]

MIX_PROBLEMS = ("dull", "boomy", "wide-low", "quiet")
_STYLES = ("pop", "rock", "ballad", "electronic", "acoustic")


@dataclass(frozen=True)
class MixTrack:
    path: str
    title: str
    problem: str
    mix_level_db: float


def _shelf(sample_rate: int, f0: float, gain_db: float, kind: str) -> np.ndarray:
    """RBJ shelving biquad as SOS (written here so the test material does not share code with the EQ under test)."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sample_rate
    cosw, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2)
    k = 2 * np.sqrt(a) * alpha
    if kind == "low":
        b = [a * ((a + 1) - (a - 1) * cosw + k), 2 * a * ((a - 1) - (a + 1) * cosw), a * ((a + 1) - (a - 1) * cosw - k)]
        d = [(a + 1) + (a - 1) * cosw + k, -2 * ((a - 1) + (a + 1) * cosw), (a + 1) + (a - 1) * cosw - k]
    else:
        b = [a * ((a + 1) + (a - 1) * cosw + k), -2 * a * ((a - 1) + (a + 1) * cosw), a * ((a + 1) + (a - 1) * cosw - k)]
        d = [(a + 1) - (a - 1) * cosw + k, 2 * ((a - 1) - (a + 1) * cosw), (a + 1) - (a - 1) * cosw - k]
    return np.array([[*(np.array(b) / d[0]), 1.0, *(np.array(d[1:]) / d[0])]])


def unmaster(audio: np.ndarray, sample_rate: int, problem: str, rng: np.random.Generator) -> np.ndarray:
    """Give a rendered song one mix problem of :data:`MIX_PROBLEMS` (level is set by the caller)."""
    x = np.array(audio, dtype=np.float64, copy=True)
    if problem == "dull":
        x = scipy.signal.sosfilt(_shelf(sample_rate, 3000.0, -float(rng.uniform(6, 10)), "high"), x, axis=-1)
    elif problem == "boomy":
        x = scipy.signal.sosfilt(_shelf(sample_rate, 120.0, float(rng.uniform(6, 9)), "low"), x, axis=-1)
    elif problem == "wide-low":
        # the bass below ~120 Hz partly in anti-phase between the channels (a stereo-widened or mis-miked bass)
        sos = scipy.signal.butter(4, 120.0, btype="lowpass", fs=sample_rate, output="sos")
        low = scipy.signal.sosfiltfilt(sos, x.mean(axis=0))
        amount = float(rng.uniform(0.8, 1.2))
        x[0] += amount * low
        x[1] -= amount * low
    elif problem != "quiet":
        raise ValueError(f"unknown mix problem {problem!r}; choose one of {', '.join(MIX_PROBLEMS)}")
    return x


def make_unmastered_release(root: str | os.PathLike, *, seed: int = 0, tracks: int = 4, duration_s: float = 20.0,
                            sample_rate: int = 48000, renderer: str = "auto", release_id: str = "MIX-1",
                            levels_db: tuple[float, ...] | None = None) -> Path:
    """Write an album of unmastered mixes (24-bit WAV) and its manifest; return the manifest's path.

    Parameters
    ----------
    levels_db : tuple of float, optional
        Each track's RMS level in dBFS (default: spread over -30..-20 dBFS, a different one per song).
    """
    root = Path(root)
    (root / "mixes").mkdir(parents=True, exist_ok=True)
    which = resolve_renderer(renderer)
    rng = np.random.default_rng([seed, 0x4D49])
    if levels_db is None:
        levels_db = tuple(float(v) for v in rng.uniform(-30.0, -20.0, tracks))
    rows = []
    for i in range(tracks):
        problem = MIX_PROBLEMS[(seed + i) % len(MIX_PROBLEMS)]
        song = generate_song(int(seed * 1000 + i), duration_s=duration_s, style=_STYLES[(seed + i) % len(_STYLES)])
        audio = render_song(song, sample_rate, renderer=which, peak_dbfs=None)
        x = unmaster(audio, sample_rate, problem, rng)
        rms = float(np.sqrt(np.mean(x * x))) or 1.0
        x *= 10 ** (levels_db[i] / 20) / rms
        peak = float(np.max(np.abs(x)))
        if peak > 0.89:  # a mix keeps its peaks under -1 dBFS
            x *= 0.89 / peak
        name = f"{i + 1:02d} {problem} {_STYLES[(seed + i) % len(_STYLES)]}.wav"
        write_audio(root / "mixes" / name, x.T, sample_rate, subtype="PCM_24", container="WAV")
        rows.append({"release_id": release_id, "release_title": f"Unmastered mixes {seed}", "release_artist": "farm.synth",
                     "track_number": i + 1, "title": f"{problem} {i + 1}", "artist": "farm.synth",
                     "isrc": f"QZFRM26{seed % 100:02d}{i + 1:03d}", "path": f"mixes/{name}"})
    manifest = root / "mixes.csv"
    write_csv(manifest, list(rows[0]), rows)
    return manifest
