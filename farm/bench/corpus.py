"""The benchmark corpus: realistic songs, about half of them with planted defects, and the truth list.

:func:`make_corpus` renders seeded songs with :mod:`farm.synth` (fluidsynth and a General MIDI soundfont when
available, else the built-in synthesiser) in every style, at 44.1, 48 and 96 kHz, 16 and 24 bit, WAV and FLAC,
masters them to realistic levels and plants 1-3 defects of different kinds (:mod:`farm.bench.defects`) into
about half of them. It writes::

    root/tracks/0001-rock.flac ...   the audio (written atomically: a temporary name, then a rename)
    root/manifest.csv                 a catalogue manifest (``farm qc root/manifest.csv`` audits it)
    root/truth.parquet                one row per planted defect: path, kind, start_s, end_s, channel, value, detail
    root/corpus.json                  the parameters, so a corpus says how it was made

The same seed, hours and renderer give the same files, byte for byte, whatever the number of workers.

Choices that keep the truth honest:

* **Kinds are dealt, not drawn.** Each defective track takes the next kinds from a shuffled deck of all kinds
  (skipping a kind that cannot share the track, e.g. false stereo with polarity inversion), so every kind is
  planted about equally often. The corpus aims for at least ``min_per_kind`` plantings of each kind: when the
  hours asked for cannot hold that many with 60-240 s songs and 1-3 defects each, defective tracks carry 3
  defects and all songs get shorter (down to 10-20 s songs for ``hours=0.2``), which keeps recall measurable on
  a small corpus.
* **Clean masters stay inside the usual limits**: DC removed (5 Hz high-pass), true peak at most -1.25 dBTP
  (measured with the audit's own meter), no flat tops (louder masters are made with a soft ``tanh`` saturation, not a clipper). A defective
  track is brought back under that ceiling after its defects are planted, unless a ``true_peak_over`` or a
  full-scale clipping is what was planted.
* **No anti-phase patches.** Several FluidR3 GM synth programs (leads, pads, synth bass 87; listed in
  :data:`ANTI_PHASE_PROGRAMS`) come out of fluidsynth with their right channel almost inverted (L/R correlation
  -0.7 to -0.9, measured one program at a time), which makes clean electronic songs look polarity-inverted. A mix
  engineer would flip those parts; the corpus renders each of them on its own and flips the right channel of
  whichever band (below or above 150 Hz) is anti-phase.
* **Dither where a master would have it**: 16-bit files get TPDF dither, except on exact zeros (planted
  silences and dropouts stay digital silence) and on tracks with planted clipping (a clipped master exported at
  16 bit undithered keeps its flat tops flat). 24-bit files are rounded.
* **Defects do not sit on each other.** A local defect is placed at least 0.25 s from the local defects
  planted before it on the same track (see ``_plant_apart``): a dropout over a splice would erase it.
"""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.signal

from farm.bench.defects import (
    DEFECT_KINDS,
    WHOLE_TRACK_KINDS,
    Truth,
    plant,
    true_peak_dbtp,
)
from farm.atomic import atomic_path, write_audio, write_csv, write_text
from farm.catalogue import MANIFEST_COLUMNS
from farm.errors import ConfigError
from farm.synth import STYLES, generate_song, render_song, resolve_renderer

__all__ = [
    "ANTI_PHASE_PROGRAMS",
    "EXCLUSIVE",
    "TRUTH_COLUMNS",
    "corpus_info",
    "make_corpus",
    "read_truth",
]

#: Columns of ``truth.parquet``; ``path`` is relative to the corpus folder, with ``/`` separators.
TRUTH_COLUMNS = ("path", "kind", "start_s", "end_s", "channel", "value", "detail")

#: GM programs (0-based) that FluidR3_GM renders with a nearly inverted right channel (whole-note L/R
#: correlation below -0.25 for a centred part, measured one program at a time with fluidsynth 2.3).
ANTI_PHASE_PROGRAMS = frozenset({5, 50, 62, 63, 80, 81, 82, 84, 85, 87, 88, 90, 94, 95})

#: Kinds that never share a track: they contradict each other, or one would hide the other's truth.
EXCLUSIVE: frozenset[frozenset[str]] = frozenset(frozenset(p) for p in (
    ("start_cut", "head_silence"),  # zeros at the head vs. loud music at the first sample
    ("end_cut", "tail_silence"),
    ("false_stereo", "polarity_inverted"),  # L = R cannot also be L = -R
    ("false_stereo", "out_of_phase"),
    ("polarity_inverted", "out_of_phase"),
    ("clipping", "true_peak_over"),  # both set the master's level
    ("dc_offset", "true_peak_over"),
    ("dc_offset", "head_silence"),  # padded digital silence without the offset would hide it from a
    ("dc_offset", "tail_silence"),  # meter that reads the quietest passages
    ("false_stereo", "dc_offset"),  # an offset on one channel would make the copy inexact
    ("lossy_bandwidth", "clipping"),  # a low-pass puts Gibbs ripple on flat tops; clipping after it refills the
    ("lossy_bandwidth", "noise_burst"),  # cut band, and so does a loud broadband burst
    ("bit_depth", "clipping"),  # dithered re-quantisation roughens the flat tops
    ("noise_burst", "clipping"),  # a loud burst on top would become the file's maximum, above the flat tops
))

_NOMINAL_DURATION_S = (60.0, 240.0)
_MIN_MEAN_DURATION_S = 15.0
_RENDER_TAIL_S = 2.0
_RATES = (44100, 48000, 96000)
_RATE_WEIGHTS = (0.4, 0.4, 0.2)
_CLEAN_CEILING_DBTP = -1.25  # clean masters stay under this; profiles' ceilings are -1 dBTP or higher
_HEADROOM_TARGET_DBTP = -1.5


@dataclass(frozen=True)
class _TrackPlan:
    index: int
    path: str
    style: str
    duration_s: float
    sample_rate: int
    subtype: str  # PCM_16 or PCM_24
    container: str  # WAV or FLAC
    kinds: tuple[str, ...]
    song_seed: int
    track_seed: tuple[int, ...]
    renderer: str


def _compatible(kind: str, chosen: list[str]) -> bool:
    return kind not in chosen and all(frozenset((kind, c)) not in EXCLUSIVE for c in chosen)


def _plan(seed: int, hours: float, clean_fraction: float, renderer: str, min_per_kind: int) -> list[_TrackPlan]:
    rng = np.random.default_rng([seed, 0xC0])
    total_s = hours * 3600.0
    defective_s = total_s * (1.0 - clean_fraction)
    n_kinds = len(DEFECT_KINDS)
    lo, hi = _NOMINAL_DURATION_S
    mean_s = 0.5 * (lo + hi)
    per_track = (1, 3)
    needed = n_kinds * min_per_kind
    if clean_fraction < 1.0 and defective_s / mean_s * 2.0 < needed:
        # Not enough room for min_per_kind of every kind at the nominal sizes: 3 defects per defective track,
        # and songs as short as it takes (not below a 15 s mean).
        per_track = (3, 3)
        mean_s = min(mean_s, max(_MIN_MEAN_DURATION_S, defective_s / math.ceil(needed / 3)))
        lo = max(10.0, 0.4 * mean_s)
        hi = 2.0 * mean_s - lo
    n_tracks = max(1, round(total_s / mean_s))
    n_clean = round(n_tracks * clean_fraction)
    clean = np.zeros(n_tracks, dtype=bool)
    clean[rng.permutation(n_tracks)[:n_clean]] = True

    deck: list[str] = []
    styles: list[str] = []
    lossy_count = 0
    plans = []
    for i in range(n_tracks):
        if not styles:
            styles = [STYLES[j] for j in rng.permutation(len(STYLES))]
        style = styles.pop()
        kinds: list[str] = []
        if not clean[i]:
            want = int(rng.integers(per_track[0], per_track[1] + 1))
            while len(kinds) < want:
                if len(deck) < n_kinds:
                    deck += [DEFECT_KINDS[j] for j in rng.permutation(n_kinds)]
                pick = next((k for k in deck if _compatible(k, kinds)), None)
                if pick is None:
                    break
                deck.remove(pick)
                kinds.append(pick)
        kinds.sort(key=DEFECT_KINDS.index)
        rate = int(rng.choice(_RATES, p=_RATE_WEIGHTS))
        subtype = "PCM_16" if rng.random() < 0.5 else "PCM_24"
        container = "FLAC" if rng.random() < 0.5 else "WAV"
        if "lossy_bandwidth" in kinds:
            # Every third lossy track is the "hi-res" upsampled variant.
            rate = 96000 if lossy_count % 3 == 2 else rate if rate != 96000 else 44100
            lossy_count += 1
        if "bit_depth" in kinds:
            subtype = "PCM_24"
        # The render adds the release and reverb tail (about 2 s) to the musical length.
        duration = max(8.0, float(rng.uniform(lo, hi)) - _RENDER_TAIL_S)
        ext = "flac" if container == "FLAC" else "wav"
        plans.append(_TrackPlan(
            index=i, path=f"tracks/{i + 1:04d}-{style}.{ext}", style=style, duration_s=round(duration, 3),
            sample_rate=rate, subtype=subtype, container=container, kinds=tuple(kinds),
            song_seed=int((seed * 1_000_003 + i * 7919 + 17) % (2**31 - 1)), track_seed=(int(seed), i, 0xBE),
            renderer=renderer,
        ))
    return plans


def _render(plan: _TrackPlan) -> np.ndarray:
    """The song at its rate, raw level, with fluidsynth's anti-phase parts put back in phase.

    Each part played by a program of :data:`ANTI_PHASE_PROGRAMS` is rendered on its own and split at 150 Hz
    (zero-phase, complementary); the right channel of each band whose L/R correlation is negative is flipped.
    Band by band, because some patches are anti-phase only above or only below the split.
    """
    song = generate_song(plan.song_seed, duration_s=plan.duration_s, style=plan.style)
    if plan.renderer != "fluidsynth":
        return render_song(song, plan.sample_rate, renderer=plan.renderer, peak_dbfs=None)
    anti = [p for p in song.parts if not p.is_drums and p.program in ANTI_PHASE_PROGRAMS and p.notes]
    if not anti:
        return render_song(song, plan.sample_rate, renderer="fluidsynth", peak_dbfs=None)
    anti_ids = {id(p) for p in anti}
    rest = tuple(p for p in song.parts if id(p) not in anti_ids)
    groups = [render_song(replace(song, parts=rest), plan.sample_rate, renderer="fluidsynth", peak_dbfs=None)]
    sos = scipy.signal.butter(4, 150.0, btype="lowpass", fs=plan.sample_rate, output="sos")
    for part in anti:
        audio = render_song(replace(song, parts=(part,)), plan.sample_rate, renderer="fluidsynth", peak_dbfs=None)
        low = scipy.signal.sosfiltfilt(sos, audio, axis=-1)
        high = audio - low
        for band in (low, high):
            if float(np.dot(band[0], band[1])) < 0.0:
                band[1] = -band[1]
        groups.append(low + high)
    n = max(g.shape[1] for g in groups)
    out = np.zeros((2, n))
    for g in groups:
        out[:, : g.shape[1]] += g
    return out


def _scale_to_true_peak(x: np.ndarray, sample_rate: int, target_dbtp: float) -> np.ndarray:
    tp = true_peak_dbtp(x, sample_rate)
    return x * 10.0 ** ((target_dbtp - tp) / 20.0) if math.isfinite(tp) else x


def _dc_block(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Zero-phase 2nd-order high-pass at 5 Hz, as every mastering chain has: GM renders carry a slowly varying
    offset (whole-track mean up to ~3 % of the peak, 0.013 in the quiet passages) that saturation keeps."""
    sos = scipy.signal.butter(2, 5.0, btype="highpass", fs=sample_rate, output="sos")
    return scipy.signal.sosfiltfilt(sos, x, axis=-1)


def _master(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Peak-normalised (-3..-1.25 dBTP), louder (tanh saturation, -1.5..-1.25 dBTP) or quiet (-8..-3 dBTP),
    with a DC blocker before and after."""
    x = _dc_block(audio, sample_rate)
    x = x / (float(np.max(np.abs(x))) or 1.0)
    u = rng.random()
    if u < 0.45:
        target = float(rng.uniform(-3.0, _CLEAN_CEILING_DBTP))
        label = f"peak-normalised to {target:.2f} dBTP"
    elif u < 0.85:
        drive = float(rng.uniform(1.5, 4.0))
        x = _dc_block(np.tanh(drive * x) / math.tanh(drive), sample_rate)
        target = float(rng.uniform(-1.5, _CLEAN_CEILING_DBTP))
        label = f"saturated (drive {drive:.2f}) to {target:.2f} dBTP"
    else:
        target = float(rng.uniform(-8.0, -3.0))
        label = f"quiet master at {target:.2f} dBTP"
    return _scale_to_true_peak(x, sample_rate, target), label


def _to_pcm(audio: np.ndarray, subtype: str, rng: np.random.Generator, *, dither: bool) -> np.ndarray:
    """Float (channels, n) to the interleaved integers soundfile writes bit-exactly.

    24-bit goes through int32 (libsndfile keeps the top 24 bits), so audio already on a coarser grid (a planted
    16-bit ``bit_depth``) lands on it exactly.
    """
    frames = audio.T
    if subtype == "PCM_16":
        scale = 32768.0
        q = frames * scale
        if dither:
            tpdf = rng.uniform(-0.5, 0.5, frames.shape) + rng.uniform(-0.5, 0.5, frames.shape)
            q = q + np.where(frames == 0.0, 0.0, tpdf)
        return np.clip(np.round(q), -32768, 32767).astype(np.int16)
    if subtype == "PCM_24":
        q = np.clip(np.round(frames * 8388608.0), -8388608, 8388607).astype(np.int32)
        return np.ascontiguousarray(q << 8)
    raise ValueError(f"unsupported subtype {subtype!r}")


def _write_atomic(path: Path, frames: np.ndarray, sample_rate: int, subtype: str, container: str) -> None:
    write_audio(path, frames, sample_rate, subtype=subtype, container=container)


def _make_track(plan: _TrackPlan, root: str) -> tuple[list[Truth], float, str]:
    """Render, master, plant and write one track; return its truths, its duration and its master's label."""
    rng = np.random.default_rng(list(plan.track_seed))
    sr = plan.sample_rate
    audio, master = _master(_render(plan), sr, rng)
    truths: list[Truth] = []
    kinds = set(plan.kinds)
    for kind in DEFECT_KINDS:
        if kind == "true_peak_over":
            audio = _restore_headroom(audio, sr, kinds)
        if kind not in kinds:
            continue
        audio, planted = _plant_apart(kind, audio, sr, rng, truths)
        if kind == "head_silence":
            pad = planted[0].end_s
            truths = [t if t.kind in WHOLE_TRACK_KINDS else t.shifted(pad) for t in truths]
        truths += planted
    dur = audio.shape[1] / sr
    truths = [_at_final_length(t, dur) for t in truths]
    frames = _to_pcm(audio, plan.subtype, rng, dither="clipping" not in kinds)
    _write_atomic(Path(root) / plan.path, frames, sr, plan.subtype, plan.container)
    return truths, dur, master


_APART_S = 0.25  # local defects of one track keep at least this far from each other
_APART_TRIES = 20


def _is_local(t: Truth) -> bool:
    """A defect at a place in the track (not the whole track, not an edge)."""
    return (t.kind not in WHOLE_TRACK_KINDS and t.kind not in ("start_cut", "end_cut")
            and not t.detail.startswith("whole track"))


def _plant_apart(kind: str, audio: np.ndarray, sample_rate: int, rng: np.random.Generator,
                 earlier: list[Truth]) -> tuple[np.ndarray, list[Truth]]:
    """Plant ``kind`` where it does not overlap an earlier local defect (with ``_APART_S`` between them).

    A later defect planted on top of an earlier one can erase it (a dropout over a splice, a clipped section
    over a click) or move its start (a click at the first sample of a hum section), and the benchmark would
    then count a miss that no detector could avoid. Up to ``_APART_TRIES`` placements are drawn; failing that
    (a long section on a short song), the last one stands.
    """
    taken = [(t.start_s - _APART_S, t.end_s + _APART_S) for t in earlier if _is_local(t)]
    for _ in range(_APART_TRIES):
        y, planted = plant(kind, audio, sample_rate, rng)
        if not any(_is_local(t) and t.start_s < b and t.end_s > a for t in planted for a, b in taken):
            break
    return y, planted


def _restore_headroom(audio: np.ndarray, sample_rate: int, kinds: set[str]) -> np.ndarray:
    """Bring a track whose defects raised its peak back under the clean ceiling (see the module notes)."""
    if "true_peak_over" in kinds:
        return audio
    peak = float(np.max(np.abs(audio)))
    if "clipping" in kinds:
        # A clipped master keeps its flat tops where they are unless something on top pushed past full scale.
        return audio * (0.999 / peak) if peak > 1.0 else audio
    if true_peak_dbtp(audio, sample_rate) > _CLEAN_CEILING_DBTP:
        return _scale_to_true_peak(audio, sample_rate, _HEADROOM_TARGET_DBTP)
    return audio


def _at_final_length(t: Truth, duration_s: float) -> Truth:
    """Whole-track and end truths refer to the final length (later edits and padding may have changed it)."""
    if t.kind in WHOLE_TRACK_KINDS and t.kind not in ("head_silence", "tail_silence"):
        return replace(t, start_s=0.0, end_s=duration_s)
    if t.kind == "tail_silence":
        return replace(t, start_s=duration_s - t.value, end_s=duration_s)
    if t.kind == "end_cut":
        return replace(t, start_s=duration_s, end_s=duration_s)
    if t.kind == "hum" and t.detail.startswith("whole track"):
        return replace(t, start_s=0.0, end_s=duration_s)
    if t.kind == "clipping" and t.detail.startswith("whole track"):
        # The span is from the first clipped sample to the last, not the whole file: keep it, clamped.
        return replace(t, start_s=min(t.start_s, duration_s), end_s=min(t.end_s, duration_s))
    return t


def _make_track_job(args: tuple[_TrackPlan, str]) -> tuple[list[Truth], float, str]:
    return _make_track(*args)


def make_corpus(root: str | os.PathLike, *, seed: int, hours: float, clean_fraction: float = 0.5,
                renderer: str = "auto", min_per_kind: int = 4, workers: int | None = None) -> Path:
    """Write a benchmark corpus under ``root`` and return the path of its manifest.

    Parameters
    ----------
    root : path
        Folder to write into (created if missing); files of an earlier corpus there are overwritten.
    seed : int, keyword-only
        Decides everything: songs, formats, which tracks are clean, kinds, positions, sizes.
    hours : float, keyword-only
        Audio to generate, in hours (the result is within a few percent).
    clean_fraction : float, keyword-only
        Fraction of tracks left clean (default 0.5).
    renderer : {"auto", "fluidsynth", "builtin"}, keyword-only
        ``"auto"`` uses fluidsynth when available (sampled instruments, the realistic choice).
    min_per_kind : int, keyword-only
        Plant each kind at least about this often (see the module notes on song lengths); default 4.
    workers : int, optional, keyword-only
        Processes rendering in parallel (default: all CPUs). Does not change the result.

    Returns
    -------
    pathlib.Path
        ``root / "manifest.csv"``; ``truth.parquet`` and ``corpus.json`` lie next to it.

    Raises
    ------
    ConfigError
        For hours or a clean fraction out of range, or an unusable renderer.

    Examples
    --------
    >>> manifest = make_corpus("/tmp/bench", seed=1, hours=0.2)  # doctest: +SKIP
    >>> read_truth(manifest.parent).num_rows  # doctest: +SKIP
    72
    """
    if not (math.isfinite(hours) and 0 < hours <= 1000):
        raise ConfigError(f"hours={hours!r} must be a positive number of hours (at most 1000)")
    if not 0.0 <= clean_fraction <= 1.0:
        raise ConfigError(f"clean_fraction={clean_fraction!r} must lie in 0..1")
    if min_per_kind < 1:
        raise ConfigError(f"min_per_kind={min_per_kind!r} must be at least 1")
    which = resolve_renderer(renderer)
    t0 = time.perf_counter()
    root = Path(root)
    (root / "tracks").mkdir(parents=True, exist_ok=True)
    plans = _plan(int(seed), float(hours), float(clean_fraction), which, int(min_per_kind))
    jobs = [(p, str(root)) for p in plans]
    workers = max(1, min(workers or os.cpu_count() or 1, len(plans)))
    if workers == 1:
        results = [_make_track_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_make_track_job, jobs))

    truth_rows = {c: [] for c in TRUTH_COLUMNS}
    manifest_rows = []
    audio_s = clean_s = 0.0
    for plan, (truths, dur, master) in zip(plans, results):
        audio_s += dur
        clean_s += dur if not truths else 0.0
        for t in truths:
            for col, val in zip(TRUTH_COLUMNS, (plan.path, t.kind, t.start_s, t.end_s, t.channel, t.value, t.detail)):
                truth_rows[col].append(val)
        manifest_rows.append({
            "release_id": f"BENCH-{seed}", "upc": "", "release_title": f"QC benchmark corpus, seed {seed}",
            "release_artist": "farm.synth", "track_number": plan.index + 1, "isrc": "",
            "title": f"{plan.style} {plan.index + 1}", "artist": "farm.synth", "path": plan.path,
            "style": plan.style, "sample_rate": plan.sample_rate, "subtype": plan.subtype,
            "container": plan.container, "master": master, "planted": " ".join(t.kind for t in truths),
        })
    truth_schema = pa.schema([
        ("path", pa.string()), ("kind", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64()),
        ("channel", pa.int16()), ("value", pa.float64()), ("detail", pa.string()),
    ])
    table = pa.Table.from_pydict(truth_rows, schema=truth_schema)
    truth_path = root / "truth.parquet"
    with atomic_path(truth_path) as tmp:
        pq.write_table(table, tmp)

    manifest = root / "manifest.csv"
    columns = list(MANIFEST_COLUMNS) + ["style", "sample_rate", "subtype", "container", "master", "planted"]
    write_csv(manifest, columns, manifest_rows)

    info = {"seed": int(seed), "hours": float(hours), "clean_fraction": float(clean_fraction),
            "min_per_kind": int(min_per_kind), "renderer": which, "tracks": len(plans),
            "clean_tracks": sum(1 for truths, _d, _m in results if not truths), "audio_s": round(audio_s, 3),
            "clean_audio_s": round(clean_s, 3), "defects": table.num_rows,
            "generation_wall_s": round(time.perf_counter() - t0, 3), "workers": workers}
    write_text(root / "corpus.json", json.dumps(info, indent=2) + "\n")
    return manifest


def read_truth(corpus_dir: str | os.PathLike) -> pa.Table:
    """The truth table of a corpus (``truth.parquet``), columns :data:`TRUTH_COLUMNS`."""
    path = Path(corpus_dir) / "truth.parquet"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; is {corpus_dir} a corpus made by farm.bench.corpus.make_corpus?")
    return pq.read_table(path)


def corpus_info(corpus_dir: str | os.PathLike) -> dict:
    """The parameters and sizes recorded in ``corpus.json`` (empty when absent)."""
    path = Path(corpus_dir) / "corpus.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
