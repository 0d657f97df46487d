"""Vinyl pre-master: one 24-bit WAV per side, cut from the pre-limiter masters, verified after writing.

What a side file is
-------------------
``vinyl/side-A.wav``, ``side-B.wav``, ...: 24-bit PCM WAV, stereo, at the masters' rate (the most common rate
among the release's masters, the higher one on a tie; a track at another rate is resampled with soxr VHQ).
The tracks of the side follow each other in the file with their gaps (``track.gap_s``, else
``default_gap_s``) as silence before every track but the first; the start of every track in the file is in
the deliverable's ``extra["tracks"]``.

The audio is a separate pass, not the streaming file turned down: ``premaster(track)`` gives the track before
the limiter, at the plan's relative level. Per track:

1. **Mono low end**: :func:`kernels.width.adjust_width` with ``mono_below_hz=crossover_hz`` (an LR4 high-pass
   on the side signal, the matching allpass on the mid). Anti-phase bass makes vertical groove motion the
   cutter cannot follow; the low end's L/R correlation (400 ms windows below 150 Hz) must never be negative.
   If it still is somewhere in the track (anti-phase bass with little mid content under it), the track is
   done again with the crossover 1.5x higher, up to 300 Hz (the reference's 150-300 Hz range).
2. **De-essing**: :func:`kernels.deess.deess` (5-10 kHz band, turned down where it bursts above its running
   level): sibilance is what a cutter's acceleration limiter and the playback stylus handle worst.

No limiter: each side gets one gain, so that its sample peak lands on -1 dBFS, or 3 or 6 dB lower for a long
side (:data:`VINYL_FORMATS`). The gain is set against the 24-bit code (``floor(target * 2**23)``), so the
written peak is at or under the target exactly, without a tolerance.

Sides
-----
From every track's ``side`` ("A", "B", ...) when all tracks have one (tracks of a side in track order);
otherwise split automatically with the order kept: the fewest records (an even number of sides, or one side
per track for a short odd release) whose longest side fits the size, and among those splits the one with the
shortest longest side. A side over the size's -6 dB length (or a single track that cannot fit) raises
:class:`farm.errors.DeliverableError`; a side that needs -3 or -6 dB is a warning, and so is a loud and
bright track last on a side (inner-groove distortion).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from farm.atomic import write_audio
from farm.deliver.model import (
    Check,
    Deliverable,
    DeliveryRelease,
    DeliveryResult,
    DeliveryTrack,
)
from farm.errors import DeliverableError
from kernels.deess import deess
from kernels.dynamics import crossover_sos
from kernels.eq import apply_sos, highpass_sos
from kernels.loudness import measure_loudness
from kernels.width import adjust_width

__all__ = ["VINYL_FORMATS", "VinylFormat", "write_vinyl"]

FORMAT = "vinyl"
BITS = 24
_FULL_SCALE = 2 ** 23  # 24-bit codes run from -2**23 to 2**23 - 1
PEAK_DBFS = -1.0
CORRELATION_HZ = 150.0
CORRELATION_WINDOW_S = 0.4
# Windows whose low band is this quiet (RMS, dBFS) on either channel carry no groove motion worth measuring
# (gaps, fades, filter tails): their correlation is not counted.
CORRELATION_FLOOR_DBFS = -60.0
MAX_CROSSOVER_HZ = 300.0
BRIGHT_BAND_HZ = 5000.0


@dataclass(frozen=True)
class VinylFormat:
    """Side length against cutting level for one record size and speed.

    Attributes
    ----------
    name : str
    full_level_s, minus3_s, max_s : float
        Longest side (seconds) cut at full level, at -3 dB, and at -6 dB (the most a side can hold).
    """

    name: str
    full_level_s: float
    minus3_s: float
    max_s: float

    def level_db(self, side_s: float) -> float | None:
        """Cutting level for a side of ``side_s`` seconds: 0, -3 or -6 dB, None when it does not fit."""
        for limit, level in ((self.full_level_s, 0.0), (self.minus3_s, -3.0), (self.max_s, -6.0)):
            if side_s <= limit + 1e-9:
                return level
        return None

    def limit_s(self, level_db: float) -> float:
        return {0.0: self.full_level_s, -3.0: self.minus3_s, -6.0: self.max_s}[level_db]


def _scaled(name: str, max_min: float) -> VinylFormat:
    # REFERENCE.md gives one length for these sizes (their usual maximum); the full-level and -3 dB lengths
    # follow the 12" 33 1/3 proportions 20 : 24 : 28, so a long side is cut lower rather than overcut.
    return VinylFormat(name, max_min * 60.0 * 20.0 / 28.0, max_min * 60.0 * 24.0 / 28.0, max_min * 60.0)


#: Size/speed -> side length vs level (REFERENCE.md, "Vinyl pre-master"): 12" 33 1/3: 20 / 24 / 28 min
#: at full level / -3 dB / -6 dB; the other sizes' single figure is taken as their -6 dB maximum.
VINYL_FORMATS: dict[str, VinylFormat] = {
    "12in33": VinylFormat("12in33", 20 * 60.0, 24 * 60.0, 28 * 60.0),
    "12in45": _scaled("12in45", 13.5),
    "10in33": _scaled("10in33", 13.0),
    "10in45": _scaled("10in45", 10.0),
    "7in45": _scaled("7in45", 5.0),
}


# --------------------------------------------------------------------------------------------------
# Helpers shared with farm.deliver.cassette


def release_rate(tracks: Sequence[DeliveryTrack]) -> int:
    """The masters' rate: the most common ``sample_rate``, the higher one on a tie."""
    counts: dict[int, int] = {}
    for t in tracks:
        counts[int(t.sample_rate)] = counts.get(int(t.sample_rate), 0) + 1
    return max(counts, key=lambda r: (counts[r], r))


def as_stereo(audio, name: str) -> np.ndarray:
    """``(channels, n)`` float64 stereo from a mono or stereo array (1-D taken as mono)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise DeliverableError(f"{name}: audio has shape {x.shape}; expected (channels, samples) with 1 or 2 "
                               "channels")
    if x.shape[0] == 1:
        x = np.concatenate([x, x])
    if not np.all(np.isfinite(x)):
        raise DeliverableError(f"{name}: audio has non-finite samples (NaN or inf); fix the master")
    return x


def resample_to(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """soxr VHQ resampling of ``(channels, n)`` audio; unchanged when the rates agree."""
    if int(rate) == int(target):
        return x
    return np.ascontiguousarray(soxr.resample(x.T, int(rate), int(target), quality="VHQ").T)


def gaps_s(tracks: Sequence[DeliveryTrack], default_gap_s: float) -> list[float]:
    """Silence before each track (0 for the first of a side: callers zero it)."""
    out = []
    for t in tracks:
        g = default_gap_s if t.gap_s is None else float(t.gap_s)
        if not math.isfinite(g) or g < 0:
            raise DeliverableError(f"track {t.number}: gap_s {t.gap_s!r} must be a number of seconds >= 0")
        out.append(g)
    return out


def group_length_s(durations: Sequence[float], gaps: Sequence[float], start: int, stop: int) -> float:
    """Length of tracks ``start..stop-1`` on one side: their durations and the gaps between them."""
    return float(sum(durations[start:stop]) + sum(gaps[start + 1:stop]))


def min_max_partition(durations: Sequence[float], gaps: Sequence[float], k: int) -> list[int]:
    """Cut points ``[0, c1, ..., n]`` of ``k`` contiguous non-empty groups with the shortest longest group."""
    n = len(durations)
    inf = math.inf
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0.0
    for j in range(1, k + 1):
        for i in range(j, n - (k - j) + 1):
            for m in range(j - 1, i):
                v = max(best[j - 1][m], group_length_s(durations, gaps, m, i))
                if v < best[j][i] - 1e-9:
                    best[j][i], cut[j][i] = v, m
    cuts = [n]
    for j in range(k, 0, -1):
        cuts.append(cut[j][cuts[-1]])
    return cuts[::-1]


def quantize_24(y: np.ndarray) -> np.ndarray:
    """``(channels, n)`` float in full-scale units -> ``(n, channels)`` int32 holding 24-bit codes << 8.

    libsndfile writes the top 24 bits of an int32 to PCM_24, so the written codes are exactly ``round(y *
    2**23)`` (clipped to the 24-bit range) with no conversion of its own in between.
    """
    q = np.clip(np.rint(y.T * _FULL_SCALE), -_FULL_SCALE, _FULL_SCALE - 1).astype(np.int32)
    return q << 8


def read_back_24(path: Path) -> tuple[sf._SoundFileInfo, np.ndarray]:
    """``(info, audio)`` with audio ``(channels, n)`` float64 in full-scale units (codes / 2**23)."""
    info = sf.info(str(path))
    codes, _ = sf.read(str(path), dtype="int32", always_2d=True)
    return info, (codes >> 8).T.astype(np.float64) / _FULL_SCALE


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clock(seconds: float) -> str:
    s = max(0.0, float(seconds))
    return f"{int(s // 60)}:{s % 60:06.3f}"


def db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0 else -math.inf


def side_letter(k: int) -> str:
    return chr(ord("A") + k) if k < 26 else f"S{k + 1}"


# --------------------------------------------------------------------------------------------------
# Vinyl


def low_end_correlation(x: np.ndarray, sample_rate: float, *, below_hz: float = CORRELATION_HZ,
                        window_s: float = CORRELATION_WINDOW_S,
                        floor_dbfs: float = CORRELATION_FLOOR_DBFS) -> tuple[float, float]:
    """Lowest L/R correlation of the low band over consecutive windows: ``(correlation, start_s)``.

    Both channels go through the LR4 low-pass at ``below_hz``; each ``window_s`` window gives
    ``sum(L R) / sqrt(sum L^2 sum R^2)`` (a phase meter's reading). Windows with either channel's band RMS under
    ``floor_dbfs`` are left out. ``(1.0, nan)`` when no window counts (no low end to cut).
    """
    low, _ = crossover_sos(float(sample_rate), float(below_hz))
    band = apply_sos(x, low)
    w = max(1, round(window_s * sample_rate))
    n = band.shape[1] // w
    if n == 0:
        return 1.0, math.nan
    b = band[:, : n * w].reshape(2, n, w)
    ll, rr, lr = (b[0] ** 2).sum(1), (b[1] ** 2).sum(1), (b[0] * b[1]).sum(1)
    floor = w * 10.0 ** (floor_dbfs / 10.0)
    ok = (ll > floor) & (rr > floor)
    if not ok.any():
        return 1.0, math.nan
    corr = np.full(n, np.inf)
    corr[ok] = lr[ok] / np.sqrt(ll[ok] * rr[ok])
    i = int(np.argmin(corr))
    return float(corr[i]), i * w / sample_rate


def _sides(release: DeliveryRelease, fmt: VinylFormat, gaps: list[float]) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """``[(letter, [track indices])]`` in side order, and warnings."""
    tracks = release.tracks
    durations = [float(t.duration_s) for t in tracks]
    warnings: list[str] = []
    for t, d in zip(tracks, durations):
        if d > fmt.max_s:
            raise DeliverableError(f"track {t.number} ({t.title!r}) is {clock(d)} long; a {fmt.name} side holds at "
                                   f"most {clock(fmt.max_s)} (cut 6 dB low): choose a larger size or slower speed")
    sides_given = [t.side.strip().upper() if t.side and t.side.strip() else None for t in tracks]
    if all(sides_given):
        for t, letter in zip(tracks, sides_given):
            if not (letter.isascii() and letter.isalnum() and len(letter) <= 3):
                raise DeliverableError(f"track {t.number}: side {t.side!r} is not a side name; use letters like "
                                       "'A', 'B' (manifest column 'side')")
        groups: dict[str, list[int]] = {}
        for i, letter in sorted(enumerate(sides_given), key=lambda p: (p[1], tracks[p[0]].number)):
            groups.setdefault(letter, []).append(i)
        out = sorted(groups.items())
        for letter, idx in out:
            length = sum(durations[i] for i in idx) + sum(gaps[i] for i in idx[1:])
            if fmt.level_db(length) is None:
                raise DeliverableError(
                    f"side {letter} is {clock(length)} with its gaps; a {fmt.name} side holds at most "
                    f"{clock(fmt.max_s)} (cut 6 dB low): move tracks to another side (manifest column 'side') "
                    "or choose a larger size or slower speed")
        return out, warnings
    if any(sides_given):
        warnings.append("vinyl: only some tracks have a side; splitting the sides automatically (give every "
                        "track a side, or none)")
    n = len(tracks)
    candidates = [k for k in range(2, n + 1, 2)] + ([n] if n % 2 else [])
    for k in candidates:
        cuts = min_max_partition(durations, gaps, k)
        longest = max(group_length_s(durations, gaps, a, b) for a, b in itertools.pairwise(cuts))
        if longest <= fmt.max_s + 1e-9:
            return [(side_letter(j), list(range(a, b))) for j, (a, b) in enumerate(itertools.pairwise(cuts))], warnings
    raise DeliverableError(f"the release does not fit {fmt.name} sides")  # unreachable: one track per side fits


def _process_track(x: np.ndarray, fs: int, crossover_hz: float) -> tuple[np.ndarray, float, float]:
    """Mono low end (crossover raised until the low end's correlation is not negative, up to 300 Hz), de-essed.

    Returns the audio, the crossover used and the lowest low-end correlation left.
    """
    f = float(crossover_hz)
    while True:
        y = adjust_width(x, fs, edges_hz=(f,), widths=(1.0, 1.0), mono_below_hz=f)
        corr, _ = low_end_correlation(y, fs)
        if corr >= 0.0 or f >= MAX_CROSSOVER_HZ:
            break
        f = min(MAX_CROSSOVER_HZ, f * 1.5)
    return deess(y, fs), f, corr


def write_vinyl(release: DeliveryRelease, out_dir: Path, *, size: str = "12in33",
                premaster: Callable[[DeliveryTrack], tuple[np.ndarray, int]], crossover_hz: float = 150.0,
                default_gap_s: float = 2.0) -> DeliveryResult:
    """Write ``vinyl/side-<letter>.wav`` per side under ``out_dir``, read them back and check them.

    Parameters
    ----------
    release : DeliveryRelease
    out_dir : Path
        The release's folder; files go to ``out_dir / "vinyl"``.
    size : str
        A key of :data:`VINYL_FORMATS`: ``12in33``, ``12in45``, ``10in33``, ``10in45``, ``7in45``.
    premaster : callable
        ``premaster(track) -> (audio, sample_rate)``: the track before the limiter at the plan's relative
        level, ``audio`` shaped ``(channels, samples)`` (1 or 2 channels; 1-D is mono), float, full scale 1.
    crossover_hz : float
        Below this the side signal is removed (LR4), raised per track up to 300 Hz where needed.
    default_gap_s : float
        Silence before a track (not the first of a side) whose ``gap_s`` is None.

    Returns
    -------
    DeliveryResult
        One :class:`Deliverable` per side (``extra``: size, rate, bits, length_s, level_db, gain_db,
        peak_dbfs, min_low_correlation, tracks with start_s/duration_s/crossover_hz), the checks and warnings.

    Raises
    ------
    DeliverableError
        Unknown size, no tracks, a track longer than a side, a manual side too long, unusable audio.

    Examples
    --------
    >>> # write_vinyl(release, Path("OUT/releases/r1"), size="12in33", premaster=plan.render_premaster)
    """
    if size not in VINYL_FORMATS:
        raise DeliverableError(f"vinyl size {size!r} is not one of {', '.join(VINYL_FORMATS)}")
    if not release.tracks:
        raise DeliverableError(f"release {release.release_id!r} has no tracks to cut")
    if not (math.isfinite(crossover_hz) and 20.0 <= crossover_hz <= MAX_CROSSOVER_HZ):
        raise DeliverableError(f"crossover_hz {crossover_hz!r} must lie between 20 and {MAX_CROSSOVER_HZ:g} Hz")
    fmt = VINYL_FORMATS[size]
    tracks = release.tracks
    gaps = gaps_s(tracks, default_gap_s)
    plan, warnings = _sides(release, fmt, gaps)
    rate = release_rate(tracks)
    folder = Path(out_dir) / "vinyl"
    folder.mkdir(parents=True, exist_ok=True)
    deliverables, checks = [], []
    for letter, idx in plan:
        d, c, w = _write_side(folder, letter, [tracks[i] for i in idx], [0.0] + [gaps[i] for i in idx[1:]], fmt,
                              rate, premaster, crossover_hz)
        deliverables.append(d)
        checks.extend(c)
        warnings.extend(w)
    return DeliveryResult(tuple(deliverables), tuple(checks), tuple(warnings))


def _write_side(folder: Path, letter: str, tracks: list[DeliveryTrack], gaps: list[float], fmt: VinylFormat,
                rate: int, premaster, crossover_hz: float):
    warnings: list[str] = []
    gap_n = [round(g * rate) for g in gaps]
    pieces: list[np.ndarray] = []
    info_rows = []
    loudness, brightness = [], []
    hp = highpass_sos(rate, BRIGHT_BAND_HZ, 4)
    position = 0
    for k, track in enumerate(tracks):
        audio, sr = premaster(track)
        x = resample_to(as_stereo(audio, f"track {track.number}"), int(sr), rate)
        if x.shape[1] == 0:
            raise DeliverableError(f"track {track.number}: the pre-master has no samples")
        n = x.shape[1]
        # Filter tails ring into the next track's gap rather than being cut off.
        tail = gap_n[k + 1] if k + 1 < len(tracks) else 0
        y, used_hz, corr = _process_track(np.concatenate([x, np.zeros((2, tail))], axis=1), rate, crossover_hz)
        if corr < 0.0:
            warnings.append(f"vinyl side {letter}: track {track.number} ({track.title!r}) still has anti-phase low end "
                            f"(correlation {corr:.2f} below {CORRELATION_HZ:g} Hz) with the bass in mono below "
                            f"{used_hz:g} Hz: fix the phase of the bass in the mix")
        if gap_n[k]:
            pieces.append(np.zeros((2, gap_n[k]), dtype=np.float32))
            position += gap_n[k]
        info_rows.append({"number": track.number, "title": track.title, "isrc": track.isrc,
                          "start_s": position / rate, "duration_s": n / rate, "crossover_hz": used_hz})
        loudness.append(measure_loudness(y[:, :n], rate).integrated_lufs)
        brightness.append(10.0 * math.log10(max(float(np.mean(apply_sos(y[:, :n], hp) ** 2)), 1e-30)))
        # The tail goes in place of the next gap's silence.
        pieces.append(y.astype(np.float32))
        position += y.shape[1]
        if tail:
            gap_n[k + 1] = 0
    side = np.concatenate(pieces, axis=1)
    length_s = side.shape[1] / rate
    level_db = fmt.level_db(length_s)
    if level_db is None:  # the real audio ran longer than the durations said
        level_db = -6.0
        warnings.append(f"vinyl side {letter}: {clock(length_s)} is over the {clock(fmt.max_s)} a {fmt.name} side "
                        "holds; split it or choose a larger size")
    elif level_db < 0:
        warnings.append(f"vinyl side {letter}: {clock(length_s)} is over the {clock(fmt.full_level_s)} a {fmt.name} "
                        f"side holds at full level; cut {-level_db:g} dB lower")
    target = math.floor(10.0 ** ((PEAK_DBFS + level_db) / 20.0) * _FULL_SCALE)
    peak = float(np.max(np.abs(side))) if side.size else 0.0
    gain = target / (peak * _FULL_SCALE) if peak > 0 else 1.0
    path = folder / f"side-{letter}.wav"
    write_audio(path, quantize_24(side.astype(np.float64) * gain), rate, subtype="PCM_24", container="WAV")
    del side, pieces
    if len(tracks) >= 2:
        last = len(tracks) - 1
        if loudness[last] > statistics.median(loudness) and brightness[last] > statistics.median(brightness):
            warnings.append(f"vinyl side {letter}: track {tracks[last].number} ({tracks[last].title!r}) is loud and "
                            "bright and sits last, on the inner grooves (distortion): move a quieter or gentler "
                            "track there")
    # Read back and check.
    rel = f"vinyl/side-{letter}.wav"
    info, back = read_back_24(path)
    peak_limit_dbfs = PEAK_DBFS + level_db
    measured_peak = float(np.max(np.abs(back))) if back.size else 0.0
    corr, corr_at = low_end_correlation(back, info.samplerate) if back.shape[0] == 2 else (math.nan, math.nan)
    limit_s = fmt.limit_s(level_db)
    expected_frames = position
    rows = [
        ("sample_rate", info.samplerate == rate, str(rate), str(info.samplerate), ""),
        ("bit_depth", info.subtype == "PCM_24", "PCM_24", info.subtype, ""),
        ("channels", info.channels == 2, "2", str(info.channels), ""),
        ("side_length", info.frames / rate <= limit_s + 1e-9, f"<= {clock(limit_s)} ({level_db:g} dB, {fmt.name})",
         clock(info.frames / rate), ""),
        ("sample_peak", measured_peak <= 10.0 ** (peak_limit_dbfs / 20.0), f"<= {peak_limit_dbfs:.2f} dBFS",
         f"{db(measured_peak):.3f} dBFS", "one gain for the side, no limiter"),
        ("low_end_correlation", not (corr < 0.0) and not math.isnan(corr), ">= 0",
         f"{corr:.3f}", f"lowest 400 ms window below {CORRELATION_HZ:g} Hz"
         + (f" at {clock(corr_at)}" if math.isfinite(corr_at) else " (no low end above the floor)")),
        ("track_starts", info.frames == expected_frames and all(r["start_s"] * rate < info.frames for r in info_rows),
         f"{expected_frames} frames, starts " + ", ".join(clock(r["start_s"]) for r in info_rows),
         f"{info.frames} frames", "tracks and gaps laid end to end"),
    ]
    checks = [Check(FORMAT, rel, name, bool(ok), expected, measured, detail)
              for name, ok, expected, measured, detail in rows]
    passed = all(c.passed for c in checks)
    extra = {"size": fmt.name, "rate": rate, "bits": BITS, "channels": info.channels, "length_s": info.frames / rate,
             "level_db": level_db, "gain_db": db(gain), "peak_dbfs": db(measured_peak),
             "min_low_correlation": corr, "tracks": info_rows}
    deliverable = Deliverable(FORMAT, rel, side=letter, sha256=sha256_file(path), checks="pass" if passed else "fail",
                              extra=extra)
    return deliverable, checks, warnings
