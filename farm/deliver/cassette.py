"""Cassette duplication master: two side files, level-matched and softened for tape, verified after writing.

``cassette/side-A.wav`` and ``side-B.wav``: 24-bit PCM WAV, stereo, at the masters' rate (the most common
rate, the higher on a tie; others resampled with soxr VHQ), from the mastered files (``master_path``).

- **Sides**: tracks in order, cut in two where the sides come out most equal with side A not the shorter
  (side A a little longer, as the reference advises); silence of ``gap_s`` (else ``default_gap_s``) before
  every track but the first of a side, inside the file. A release whose best split does not fit the tape raises
  :class:`farm.errors.DeliverableError` naming the tape it would fit.
- **Consistent level** (duplicators set the level from the first minutes): each track's integrated loudness
  ``L`` is moved to ``M + D tanh((L - M) / D)``, with ``M`` the album's median and ``D = max_deviation_lu``
  (2 LU): every track within ``D`` of the median, close tracks almost untouched, and the order of loudness
  never changed (the map is strictly increasing).
- **High frequencies**: tape saturates from the top first, so a gentle high shelf (RBJ cookbook, slope 1)
  of ``hf_shelf_db`` (-4 dB at the top, -2 dB at its 10 kHz midpoint) softens everything above about 10 kHz.
- **Headroom**: one gain for the whole tape (both sides, so the level stays consistent) puts the highest sample
  peak at -3 dBFS (set against the 24-bit code, so at or under it exactly). No limiter.
"""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path

import numpy as np
import soundfile as sf

from farm.atomic import write_audio
from farm.deliver.model import Check, Deliverable, DeliveryRelease, DeliveryResult
from farm.deliver.vinyl import (
    _FULL_SCALE,
    as_stereo,
    clock,
    db,
    gaps_s,
    group_length_s,
    quantize_24,
    read_back_24,
    release_rate,
    resample_to,
    sha256_file,
)
from farm.errors import DeliverableError
from kernels.eq import apply_sos, shelf_sos
from kernels.loudness import measure_loudness

__all__ = ["TAPES", "split_sides", "write_cassette"]

FORMAT = "cassette"
BITS = 24
#: Seconds per side (REFERENCE.md "Cassette master"; blanks usually run about a minute longer: not counted).
TAPES = {"C46": 23 * 60, "C60": 30 * 60, "C90": 45 * 60}
PEAK_DBFS = -3.0
HF_SHELF_HZ = 10000.0


def split_sides(durations, gaps) -> tuple[int, float, float]:
    """Cut index ``c`` (side A = tracks ``[:c]``) and the two side lengths.

    The most equal split with side A at least as long as side B; a single track goes on side A.
    """
    n = len(durations)
    if n == 1:
        return 1, float(durations[0]), 0.0
    best = None
    for c in range(1, n):
        a = group_length_s(durations, gaps, 0, c)
        b = group_length_s(durations, gaps, c, n)
        if a >= b and (best is None or a - b < best[1] - best[2]):
            best = (c, a, b)
    if best is None:  # the last track alone is longer than all the others: it gets side B to itself
        c = n - 1
        best = (c, group_length_s(durations, gaps, 0, c), group_length_s(durations, gaps, c, n))
    return best


def _fitting_tape(durations, gaps) -> str | None:
    _, a, b = split_sides(durations, gaps)
    for name, side_s in sorted(TAPES.items(), key=lambda p: p[1]):
        if max(a, b) <= side_s:
            return name
    return None


def write_cassette(release: DeliveryRelease, out_dir: Path, *, tape: str = "C60", default_gap_s: float = 3.0,
                   max_deviation_lu: float = 2.0, hf_shelf_db: float = -4.0) -> DeliveryResult:
    """Write ``cassette/side-A.wav`` and ``side-B.wav`` under ``out_dir``, read them back and check them.

    Parameters
    ----------
    release : DeliveryRelease
    out_dir : Path
        The release's folder; files go to ``out_dir / "cassette"``.
    tape : str
        ``C46``, ``C60`` or ``C90`` (:data:`TAPES`).
    default_gap_s : float
        Silence before a track (not the first of a side) whose ``gap_s`` is None.
    max_deviation_lu : float
        The most a track's loudness may sit from the album's median after levelling (> 0).
    hf_shelf_db : float
        Gain of the high shelf at 10 kHz (<= 0; its midpoint gets half).

    Returns
    -------
    DeliveryResult
        Two :class:`Deliverable` (``extra``: tape, rate, bits, length_s, gain_db, peak_dbfs, tracks with
        start_s, duration_s, loudness before/after), checks and warnings.

    Raises
    ------
    DeliverableError
        Unknown tape, no tracks, a release too long for the tape (the message names the tape it fits), a
        master that cannot be read.

    Examples
    --------
    >>> # write_cassette(release, Path("OUT/releases/r1"), tape="C60")
    """
    if tape not in TAPES:
        raise DeliverableError(f"tape {tape!r} is not one of {', '.join(TAPES)}")
    if not release.tracks:
        raise DeliverableError(f"release {release.release_id!r} has no tracks for a cassette")
    if not (math.isfinite(max_deviation_lu) and max_deviation_lu > 0):
        raise DeliverableError(f"max_deviation_lu {max_deviation_lu!r} must be a positive number of LU")
    if not (math.isfinite(hf_shelf_db) and hf_shelf_db <= 0):
        raise DeliverableError(f"hf_shelf_db {hf_shelf_db!r} must be a number of dB <= 0 (a cut)")
    tracks = release.tracks
    gaps = gaps_s(tracks, default_gap_s)
    durations = [float(t.duration_s) for t in tracks]
    side_s = TAPES[tape]
    cut, a_s, b_s = split_sides(durations, gaps)
    if max(a_s, b_s) > side_s:
        fits = _fitting_tape(durations, gaps)
        advice = f"use a {fits}" if fits else "it is longer than a C90: split the release over two tapes"
        raise DeliverableError(f"the release needs sides of {clock(a_s)} and {clock(b_s)} with gaps; a {tape} side "
                               f"holds {clock(side_s)}: {advice}")
    rate = release_rate(tracks)
    shelf = shelf_sos(rate, HF_SHELF_HZ, hf_shelf_db, kind="high") if hf_shelf_db < 0 else np.zeros((0, 6))
    # Pass 1: read, resample, shelve; loudness per track. Audio is kept in float32 (24-bit output).
    audio, loud = [], []
    for t in tracks:
        try:
            x, sr = sf.read(t.master_path, dtype="float64", always_2d=True)
        except Exception as exc:  # libsndfile's error for a missing or broken file
            raise DeliverableError(f"track {t.number}: cannot read master {t.master_path!r} ({exc})") from exc
        y = apply_sos(resample_to(as_stereo(x.T, f"track {t.number}"), int(sr), rate), shelf)
        if y.shape[1] == 0:
            raise DeliverableError(f"track {t.number}: master {t.master_path!r} has no samples")
        audio.append(y.astype(np.float32))
        loud.append(measure_loudness(y, rate).integrated_lufs)
    # The files' real lengths decide the split (the durations above only ruled out a tape early).
    real_s = [a.shape[1] / rate for a in audio]
    cut, a_s, b_s = split_sides(real_s, gaps)
    if max(a_s, b_s) > side_s:
        fits = _fitting_tape(real_s, gaps)
        advice = f"use a {fits}" if fits else "it is longer than a C90: split the release over two tapes"
        raise DeliverableError(f"the masters need sides of {clock(a_s)} and {clock(b_s)} with gaps; a {tape} side "
                               f"holds {clock(side_s)}: {advice}")
    finite = [v for v in loud if math.isfinite(v)]
    median = statistics.median(finite) if finite else 0.0
    target = [median + max_deviation_lu * math.tanh((v - median) / max_deviation_lu) if math.isfinite(v) else v
              for v in loud]
    track_gain_db = [(tv - v) if math.isfinite(v) else 0.0 for v, tv in zip(loud, target)]
    # One tape gain: the highest sample peak at -3 dBFS, against the 24-bit code.
    peak = max(float(np.max(np.abs(y))) * 10.0 ** (g / 20.0) for y, g in zip(audio, track_gain_db))
    code = math.floor(10.0 ** (PEAK_DBFS / 20.0) * _FULL_SCALE)
    tape_gain = code / (peak * _FULL_SCALE) if peak > 0 else 1.0
    folder = Path(out_dir) / "cassette"
    folder.mkdir(parents=True, exist_ok=True)
    deliverables, checks, warnings = [], [], []
    sides = (("A", range(cut)), ("B", range(cut, len(tracks))))
    lengths = {}
    measured_loud: dict[int, float] = {}
    for letter, idx in sides:
        idx = list(idx)
        pieces, rows, position = [], [], 0
        for k, i in enumerate(idx):
            if k:
                g = round(gaps[i] * rate)
                pieces.append(np.zeros((2, g)))
                position += g
            pieces.append(audio[i].astype(np.float64) * (tape_gain * 10.0 ** (track_gain_db[i] / 20.0)))
            rows.append({"number": tracks[i].number, "title": tracks[i].title, "isrc": tracks[i].isrc,
                         "start_s": position / rate, "duration_s": audio[i].shape[1] / rate,
                         "loudness_in_lufs": loud[i], "track_gain_db": track_gain_db[i]})
            position += audio[i].shape[1]
        side = np.concatenate(pieces, axis=1) if pieces else np.zeros((2, 0))
        path = folder / f"side-{letter}.wav"
        write_audio(path, quantize_24(side), rate, subtype="PCM_24", container="WAV")
        del side, pieces
        rel = f"cassette/side-{letter}.wav"
        info, back = read_back_24(path)
        lengths[letter] = info.frames / rate
        for r in rows:
            start = round(r["start_s"] * rate)
            seg = back[:, start:start + round(r["duration_s"] * rate)]
            r["loudness_out_lufs"] = measure_loudness(seg, rate).integrated_lufs
            measured_loud[r["number"]] = r["loudness_out_lufs"]
        measured_peak = float(np.max(np.abs(back))) if back.size else 0.0
        side_checks = [
            ("sample_rate", info.samplerate == rate, str(rate), str(info.samplerate), ""),
            ("bit_depth", info.subtype == "PCM_24", "PCM_24", info.subtype, ""),
            ("channels", info.channels == 2, "2", str(info.channels), ""),
            ("side_length", info.frames / rate <= side_s, f"<= {clock(side_s)} ({tape})", clock(info.frames / rate),
             ""),
            ("sample_peak", measured_peak <= 10.0 ** (PEAK_DBFS / 20.0), f"<= {PEAK_DBFS:.2f} dBFS",
             f"{db(measured_peak):.3f} dBFS", "one gain for the tape, no limiter"),
            ("track_starts", info.frames == position, f"{position} frames, starts "
             + ", ".join(clock(r["start_s"]) for r in rows), f"{info.frames} frames", "tracks and gaps end to end"),
        ]
        checks.extend(Check(FORMAT, rel, *c[:1], bool(c[1]), *c[2:]) for c in side_checks)
        extra = {"tape": tape, "rate": rate, "bits": BITS, "channels": info.channels, "length_s": info.frames / rate,
                 "gain_db": db(tape_gain), "peak_dbfs": db(measured_peak), "hf_shelf_db": hf_shelf_db,
                 "hf_shelf_hz": HF_SHELF_HZ, "tracks": rows}
        deliverables.append([rel, letter, path, extra])
    # Whole-tape checks, reported against side A's file (balance) and every file (spread).
    a_len, b_len = lengths["A"], lengths["B"]
    _, best_a, best_b = split_sides(real_s, gaps)
    balance_ok = a_len >= b_len and abs((a_len - b_len) - (best_a - best_b)) <= 1.0 / rate * 4
    checks.append(Check(FORMAT, "cassette/side-A.wav", "balance", balance_ok,
                        f"A >= B, A - B = {best_a - best_b:.2f} s (the most equal order-keeping split)",
                        f"A {clock(a_len)}, B {clock(b_len)}", ""))
    finite_out = {n: v for n, v in measured_loud.items() if math.isfinite(v)}
    if finite_out:
        med_out = statistics.median(finite_out.values())
        spread = max(abs(v - med_out) for v in finite_out.values())
        # Order kept: sorting by the input loudness sorts the output too (ties within 0.05 LU of metering).
        numbers = [t.number for t in tracks if t.number in finite_out]
        by_in = sorted(numbers, key=lambda n: loud[[t.number for t in tracks].index(n)])
        order_ok = all(finite_out[p] <= finite_out[q] + 0.05 for p, q in itertools.pairwise(by_in))
        # 0.1 LU: the shelf is applied before the loudness is measured, so only the per-track gain and the
        # 24-bit rounding lie between the measured input and output (both well under 0.01 LU).
        ok = spread <= max_deviation_lu + 0.1 and order_ok
        checks.append(Check(FORMAT, "cassette/side-A.wav", "loudness_spread", ok,
                            f"<= {max_deviation_lu:g} LU from the median, order kept",
                            f"{spread:.2f} LU", "" if order_ok else "the loudness order of the tracks changed"))
    out = []
    for rel, letter, path, extra in deliverables:
        passed = all(c.passed for c in checks if c.path == rel)
        out.append(Deliverable(FORMAT, rel, side=letter, sha256=sha256_file(path), checks="pass" if passed else "fail",
                               extra=extra))
    if b_len == 0:
        warnings.append("cassette: one track only; side B is empty")
    return DeliveryResult(tuple(out), tuple(checks), tuple(warnings))
