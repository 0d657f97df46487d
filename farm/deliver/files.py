"""Per-track file deliverables: streaming FLAC/WAV, hi-res FLAC, MP3 previews, with ReplayGain 2.0 tags.

Each writer reads the release's float masters, makes the audio of its format, writes every file atomically
(:mod:`farm.atomic`), reads every file back and checks it (one :class:`~farm.deliver.model.Check` per check).

The audio
---------
- ``streaming/NN Title.flac`` (and ``.wav`` with ``wav=True``): 24-bit at 44.1 or 48 kHz. A master at 44.1 or
  48 kHz keeps its rate; above 48 kHz it is resampled with soxr ("VHQ") to 44.1 kHz when its rate is a multiple
  of 44.1 kHz (88.2, 176.4, 352.8 kHz) and to 48 kHz otherwise; a master below 44.1 kHz keeps its rate (never
  upsampled) with a warning, since stores ask for at least 44.1 kHz. soxr gives ``floor(n * out / in + 1/2)``
  frames for ``n`` master frames; that is the expected frame count.
- ``hires/NN Title.flac``: masters above 48 kHz only, 24-bit at the native rate.
- ``lossy/NN Title.mp3``: 320 kbit/s constant-bitrate MPEG-1 layer III, encoded by libsndfile's LAME from the
  streaming audio, with ID3 tags.
- 24-bit means: rounded to the nearest step of 2**-23 (no dither: its noise would sit at -141 dBFS, under any
  converter's noise, and re-runs stay byte-identical without a seed). After rounding, the true peak
  (:class:`kernels.truepeak.TruePeakMeter`) is measured; when it exceeds ``release.ceiling_dbtp`` (resampling
  moves inter-sample peaks; rounding moves samples by up to half a step) the float audio is turned down by the
  excess and rounded again, until it is at or under the ceiling. The gain is reported as a warning.
- The WAV header is written here (RIFF, a 16-byte ``fmt `` chunk with format code 1, ``data``, nothing after
  it): libsndfile's header depends on its version and options, distributors' ingest wants exactly this.

ReplayGain 2.0
--------------
Reference -18 LUFS. ``REPLAYGAIN_TRACK_GAIN = -18 - integrated loudness of the track`` ("-7.02 dB"),
``REPLAYGAIN_TRACK_PEAK`` the linear true peak ("0.891251"), ``REPLAYGAIN_ALBUM_GAIN = -18 - loudness of the
album as one programme``: the BS.1770 gating (absolute -70 LUFS, relative -10 LU) applied to the 400 ms blocks
of every track pooled together (libebur128's ``ebur128_loudness_global_multiple``; it differs from gating a
literal concatenation only in the few blocks that would straddle two tracks), not a mean of track values.
``REPLAYGAIN_ALBUM_PEAK`` is the highest track peak. All four are measured on the 24-bit audio exactly as it is
written, and checked again from the files read back. For ``hires/`` the track values are those of the hi-res
file and the album is every track of the release in its highest-rate delivered form (hi-res where there is one,
streaming otherwise). MP3 previews carry no ReplayGain tags (they are previews; their decoded level differs).

Checks (per file)
-----------------
``sample_rate``, ``bits``, ``channels``, ``frames``, ``audio_exact`` (decoded samples equal the samples meant to
be written), ``true_peak`` (<= ceiling; not for MP3), ``tags`` (every tag read back equal), ``replaygain``
(recomputed from the files read back), ``flac_md5`` (STREAMINFO MD5 equals the MD5 of the decoded samples),
``wav_format_code`` and ``wav_chunks`` (format code 1, nothing after ``data``), ``codes`` (ISRC/UPC form), and for
MP3 ``bitrate`` and ``codec_clip`` (decoded back: samples at or above full scale, and true peak above 0 dBTP,
reported separately as Apple's round trip check does for AAC).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from farm.atomic import atomic_path
from farm.codes import isrc_problem, normalize_isrc, normalize_upc, upc_problem
from farm.deliver.model import (
    Check,
    Deliverable,
    DeliveryRelease,
    DeliveryResult,
    DeliveryTrack,
)
from farm.errors import DeliverableError
from kernels.loudness import (
    ABSOLUTE_GATE_LUFS,
    RELATIVE_GATE_LU,
    lufs_from_energy,
    measure_loudness,
)
from kernels.truepeak import TruePeakMeter

__all__ = [
    "MP3_BITRATE_KBPS",
    "REPLAYGAIN_REFERENCE_LUFS",
    "replaygain",
    "streaming_rate",
    "write_hires",
    "write_lossy",
    "write_streaming",
]

REPLAYGAIN_REFERENCE_LUFS = -18.0
MP3_BITRATE_KBPS = 320
_FULL_SCALE_24 = float(1 << 23)
_MAX_TURN_DOWNS = 8  # each pass removes the measured excess; one was enough on every test master
_GAIN_MARGIN_DB = 0.001  # below the excess, so that rounding the turned-down audio cannot land on the ceiling
_RG_KEYS = ("REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN", "REPLAYGAIN_ALBUM_PEAK")


# ----------------------------------------------------------------------------------------------------------
# Rates, names, audio
# ----------------------------------------------------------------------------------------------------------

def streaming_rate(master_rate: int) -> int:
    """The streaming delivery rate for a master rate, Hz (see the module docstring; never above the master's).

    >>> streaming_rate(96000), streaming_rate(88200), streaming_rate(44100), streaming_rate(32000)
    (48000, 44100, 44100, 32000)
    """
    if master_rate <= 48000:
        return int(master_rate)
    return 44100 if master_rate % 44100 == 0 else 48000


def _resampled_frames(frames: int, rate_in: int, rate_out: int) -> int:
    """soxr's output length: ``floor(frames * out / in + 1/2)``."""
    return (2 * frames * rate_out + rate_in) // (2 * rate_in)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def track_filename(track: DeliveryTrack, ext: str) -> str:
    """``"NN Title.ext"``: two-digit number, the title with characters no file system takes replaced by ``_``."""
    title = _UNSAFE.sub("_", track.title).strip().rstrip(".").strip()[:120] or "Track"
    return f"{track.number:02d} {title}.{ext}"


@dataclass(frozen=True)
class _Audio:
    """One track's audio as it goes into files: 24-bit integer steps, (channels, frames) int32."""

    track: DeliveryTrack
    pcm: np.ndarray
    sample_rate: int
    master_rate: int
    master_frames: int
    turned_down_db: float
    true_peak_dbtp: float

    @property
    def float_audio(self) -> np.ndarray:
        return self.pcm / _FULL_SCALE_24


def _read_master(track: DeliveryTrack) -> tuple[np.ndarray, int]:
    path = Path(track.master_path)
    if not path.is_file():
        raise DeliverableError(f"track {track.number}: master {str(path)!r} does not exist; master the release first")
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DeliverableError(f"track {track.number}: master {str(path)!r} cannot be read ({exc})") from exc
    if data.shape[0] == 0:
        raise DeliverableError(f"track {track.number}: master {str(path)!r} is empty")
    if not np.isfinite(data).all():
        raise DeliverableError(f"track {track.number}: master {str(path)!r} has NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(rate)


def _quantize(x: np.ndarray) -> np.ndarray:
    """Round float audio to 24-bit steps (no dither), saturating at the 24-bit limits."""
    return np.clip(np.rint(x * _FULL_SCALE_24), -(1 << 23), (1 << 23) - 1).astype(np.int32)


def _true_peak_dbtp(x: np.ndarray, rate: int) -> float:
    meter = TruePeakMeter(rate, x.shape[0])
    meter.process(x)
    return meter.result().true_peak_dbtp


def _make_audio(track: DeliveryTrack, master: np.ndarray, master_rate: int, rate: int,
                ceiling_dbtp: float) -> _Audio:
    """Resample (if ``rate`` differs), round to 24 bits, turn down until the true peak is at or under the ceiling."""
    if rate != master_rate:
        import soxr

        x = soxr.resample(master.T, master_rate, rate, quality="VHQ").T
        x = np.ascontiguousarray(x, dtype=np.float64)
    else:
        x = master
    gain_db = 0.0
    pcm = _quantize(x)
    tp = _true_peak_dbtp(pcm / _FULL_SCALE_24, rate)
    for _ in range(_MAX_TURN_DOWNS):
        if not tp > ceiling_dbtp:
            break
        gain_db -= tp - ceiling_dbtp + _GAIN_MARGIN_DB
        pcm = _quantize(x * 10.0 ** (gain_db / 20.0))
        tp = _true_peak_dbtp(pcm / _FULL_SCALE_24, rate)
    return _Audio(track, pcm, rate, master_rate, master.shape[1], gain_db, tp)


def _prepare(release: DeliveryRelease, track: DeliveryTrack, master: np.ndarray, master_rate: int, *,
             hires: bool) -> _Audio:
    rate = master_rate if hires else streaming_rate(master_rate)
    return _make_audio(track, master, master_rate, rate, release.ceiling_dbtp)


def _audio_warnings(kind: str, audio: _Audio) -> list[str]:
    out = []
    n = audio.track.number
    if audio.turned_down_db < 0.0:
        out.append(f"{kind} track {n}: turned down {-audio.turned_down_db:.3f} dB so that its true peak after "
                   f"{'resampling and ' if audio.sample_rate != audio.master_rate else ''}24-bit rounding stays "
                   f"at or under the ceiling ({audio.true_peak_dbtp:.2f} dBTP)")
    return out


# ----------------------------------------------------------------------------------------------------------
# ReplayGain
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Measure:
    block_energy: np.ndarray  # mean-square energy of every 400 ms gating block (100 ms hop)
    integrated_lufs: float
    true_peak_linear: float


def _measure(x: np.ndarray, rate: int) -> _Measure:
    result = measure_loudness(x, rate)
    # momentary_lufs[i] is the 400 ms window starting at tick i; the gating blocks start every 10th tick.
    blocks = np.asarray(result.momentary_lufs[::10], dtype=np.float64)
    energy = 10.0 ** ((blocks + 0.691) / 10.0)
    return _Measure(energy, result.integrated_lufs, 10.0 ** (_true_peak_dbtp(x, rate) / 20.0))


def _gated_lufs(block_energy: np.ndarray) -> float:
    """BS.1770-4 gating over a set of 400 ms block energies (the integrated loudness of those blocks)."""
    loud = lufs_from_energy(block_energy)
    kept = loud > ABSOLUTE_GATE_LUFS
    if not kept.any():
        return float("-inf")
    relative = float(lufs_from_energy(np.mean(block_energy[kept]))) + RELATIVE_GATE_LU
    kept &= loud > relative
    return float(lufs_from_energy(np.mean(block_energy[kept])))


def _gain_text(loudness_lufs: float) -> str:
    # Silence (or a track shorter than one 400 ms block) has no loudness: use the absolute gate.
    gain = REPLAYGAIN_REFERENCE_LUFS - max(loudness_lufs, ABSOLUTE_GATE_LUFS)
    text = f"{gain:.2f} dB"
    return "0.00 dB" if text == "-0.00 dB" else text


def _peak_text(peak: float) -> str:
    return f"{peak:.6f}"


def _replaygain_tags(tracks: dict[int, _Measure], album: list[_Measure]) -> dict[int, dict[str, str]]:
    album_lufs = _gated_lufs(np.concatenate([m.block_energy for m in album]))
    album_peak = max(m.true_peak_linear for m in album)
    return {n: {"REPLAYGAIN_TRACK_GAIN": _gain_text(m.integrated_lufs),
                "REPLAYGAIN_TRACK_PEAK": _peak_text(m.true_peak_linear),
                "REPLAYGAIN_ALBUM_GAIN": _gain_text(album_lufs),
                "REPLAYGAIN_ALBUM_PEAK": _peak_text(album_peak)}
            for n, m in tracks.items()}


def replaygain(release: DeliveryRelease) -> dict[int, dict[str, str]]:
    """ReplayGain 2.0 tags of the release's streaming files (the 24-bit audio exactly as written).

    Parameters
    ----------
    release : DeliveryRelease

    Returns
    -------
    dict
        Track number -> ``{"REPLAYGAIN_TRACK_GAIN": "-7.02 dB", "REPLAYGAIN_TRACK_PEAK": "0.891251",
        "REPLAYGAIN_ALBUM_GAIN": ..., "REPLAYGAIN_ALBUM_PEAK": ...}``.

    Examples
    --------
    >>> tags = replaygain(release)  # doctest: +SKIP
    >>> tags[1]["REPLAYGAIN_TRACK_GAIN"]  # doctest: +SKIP
    '-5.98 dB'
    """
    _check_release(release)
    audio = [_prepare(release, t, *_read_master(t), hires=False) for t in release.tracks]
    measures = {a.track.number: _measure(a.float_audio, a.sample_rate) for a in audio}
    return _replaygain_tags(measures, list(measures.values()))


# ----------------------------------------------------------------------------------------------------------
# Tags
# ----------------------------------------------------------------------------------------------------------

def _text_tags(release: DeliveryRelease, track: DeliveryTrack) -> dict[str, str]:
    tags = {"TITLE": track.title, "ARTIST": track.artist or release.artist, "ALBUM": release.title,
            "ALBUMARTIST": release.artist, "TRACKNUMBER": str(track.number),
            "TRACKTOTAL": str(len(release.tracks))}
    if track.isrc:
        tags["ISRC"] = normalize_isrc(track.isrc)
    if release.upc:
        tags["BARCODE"] = normalize_upc(release.upc)
    if release.date:
        tags["DATE"] = release.date
    return {k: v for k, v in tags.items() if v}


def _code_problems(release: DeliveryRelease, track: DeliveryTrack) -> list[str]:
    problems = []
    if track.isrc and (p := isrc_problem(track.isrc)):
        problems.append(p)
    if release.upc and (p := upc_problem(release.upc)):
        problems.append(p)
    return problems


def _check_release(release: DeliveryRelease) -> None:
    if not release.tracks:
        raise DeliverableError(f"release {release.release_id!r} has no tracks")
    numbers = [t.number for t in release.tracks]
    if len(set(numbers)) != len(numbers) or min(numbers) < 1:
        raise DeliverableError(f"release {release.release_id!r}: track numbers {numbers} must be distinct and >= 1")
    if not math.isfinite(release.ceiling_dbtp) or release.ceiling_dbtp > 0.0:
        raise DeliverableError(f"release {release.release_id!r}: ceiling {release.ceiling_dbtp!r} dBTP must be a "
                               "finite level at or under 0 dBTP")


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------

def _pcm24_bytes(pcm: np.ndarray) -> bytes:
    """Interleaved little-endian 3-byte samples of ``(channels, n)`` int32 24-bit values."""
    interleaved = np.ascontiguousarray(pcm.T).astype("<i4")
    return interleaved.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def _write_flac(path: Path, audio: _Audio, tags: dict[str, str]) -> None:
    from mutagen.flac import FLAC

    with atomic_path(path) as tmp:
        # int32 into a 24-bit file: libsndfile keeps the top 24 bits, so the rounding above is the only one.
        sf.write(str(tmp), np.ascontiguousarray((audio.pcm << 8).T), audio.sample_rate, subtype="PCM_24",
                 format="FLAC")
        meta = FLAC(str(tmp))
        meta.clear()
        for key, value in tags.items():
            meta[key] = value
        meta.save()


def _write_wav(path: Path, audio: _Audio) -> None:
    channels, frames = audio.pcm.shape
    data = _pcm24_bytes(audio.pcm)
    pad = b"\x00" if len(data) % 2 else b""  # RIFF chunks are word-aligned; the pad byte belongs to `data`
    riff_size = 4 + (8 + 16) + (8 + len(data) + len(pad))
    if riff_size > 0xFFFFFFFF:
        raise DeliverableError(f"track {audio.track.number}: {frames} frames do not fit a RIFF WAV (4 GiB); "
                               "deliver FLAC only (wav=False)")
    fmt = struct.pack("<HHIIHH", 1, channels, audio.sample_rate, audio.sample_rate * 3 * channels, 3 * channels, 24)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
        fh.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        fh.write(b"data" + struct.pack("<I", len(data)) + data + pad)


def _write_mp3(path: Path, audio: _Audio, tags: dict[str, str]) -> None:
    from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TPE2, TRCK, TSRC, TXXX

    with atomic_path(path) as tmp:
        # compression_level 0 with a constant bitrate is LAME's highest rate: 320 kbit/s at 32-48 kHz.
        with sf.SoundFile(str(tmp), "w", audio.sample_rate, audio.pcm.shape[0], format="MP3",
                          subtype="MPEG_LAYER_III", compression_level=0.0, bitrate_mode="CONSTANT") as fh:
            fh.write(np.ascontiguousarray(audio.float_audio.T))
        id3 = ID3()
        frames = {"TITLE": TIT2, "ARTIST": TPE1, "ALBUM": TALB, "ALBUMARTIST": TPE2, "ISRC": TSRC, "DATE": TDRC}
        for key, frame in frames.items():
            if key in tags:
                id3.add(frame(encoding=3, text=tags[key]))
        id3.add(TRCK(encoding=3, text=f"{tags['TRACKNUMBER']}/{tags['TRACKTOTAL']}"))
        if "BARCODE" in tags:
            id3.add(TXXX(encoding=3, desc="BARCODE", text=tags["BARCODE"]))
        id3.save(str(tmp), v2_version=4)


def _mp3_supported() -> bool:
    return "MP3" in sf.available_formats() and "MPEG_LAYER_III" in sf.available_subtypes("MP3")


# ----------------------------------------------------------------------------------------------------------
# Reading back
# ----------------------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_pcm24(path: Path):
    """Decoded 24-bit samples ``(channels, n)`` int32 and ``soundfile.info`` of a PCM file."""
    info = sf.info(str(path))
    data, _ = sf.read(str(path), dtype="int32", always_2d=True)
    return np.ascontiguousarray(data.T) >> 8, info


def _wav_chunks(path: Path) -> tuple[int | None, list[str]]:
    """The ``fmt `` format code and the chunk ids of a RIFF WAV, in order."""
    raw = path.read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None, []
    ids, code, pos = [], None, 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        ids.append(cid.decode("latin-1"))
        if cid == b"fmt ":
            code = struct.unpack("<H", raw[pos + 8:pos + 10])[0]
        pos += 8 + size + (size & 1)
    if pos != len(raw):
        ids.append(f"<{len(raw) - pos} stray bytes>")
    return code, ids


def _flac_md5_matches(path: Path, pcm: np.ndarray) -> tuple[bool, str, str]:
    from mutagen.flac import FLAC

    stored = f"{FLAC(str(path)).info.md5_signature:032x}"
    computed = hashlib.md5(_pcm24_bytes(pcm)).hexdigest()
    return stored == computed, stored, computed


class _Checker:
    """Collects the checks of one file and says whether they all passed."""

    def __init__(self, fmt: str, rel: str, out: list[Check]):
        self.fmt, self.rel, self.out, self.passed = fmt, rel, out, True

    def __call__(self, name: str, passed: bool, expected, measured, detail: str = "") -> None:
        self.passed &= bool(passed)
        self.out.append(Check(self.fmt, self.rel, name, bool(passed), str(expected), str(measured), detail))


def _verify_pcm_file(fmt: str, path: Path, rel: str, audio: _Audio, ceiling_dbtp: float, checks: list[Check],
                     container: str) -> tuple[_Checker, np.ndarray]:
    """Checks common to FLAC and WAV; returns the checker and the decoded samples."""
    check = _Checker(fmt, rel, checks)
    pcm, info = _read_pcm24(path)
    check("sample_rate", info.samplerate == audio.sample_rate, audio.sample_rate, info.samplerate)
    check("bits", info.subtype == "PCM_24", "PCM_24", info.subtype)
    channels = audio.pcm.shape[0]
    check("channels", info.channels == channels, channels, info.channels)
    expected = _resampled_frames(audio.master_frames, audio.master_rate, audio.sample_rate)
    check("frames", info.frames == expected, expected, info.frames,
          f"master: {audio.master_frames} frames at {audio.master_rate} Hz")
    exact = pcm.shape == audio.pcm.shape and bool(np.array_equal(pcm, audio.pcm))
    check("audio_exact", exact, "decoded samples equal the 24-bit audio written", "equal" if exact else "differ")
    tp = _true_peak_dbtp(pcm / _FULL_SCALE_24, info.samplerate) if pcm.size else float("-inf")
    check("true_peak", tp <= ceiling_dbtp, f"<= {ceiling_dbtp:.2f} dBTP", f"{tp:.3f} dBTP")
    if container == "FLAC":
        ok, stored, computed = _flac_md5_matches(path, pcm)
        check("flac_md5", ok, computed, stored, "STREAMINFO MD5 vs MD5 of the decoded samples")
    return check, pcm


def _verify_flac_tags(check: _Checker, path: Path, tags: dict[str, str]) -> None:
    from mutagen.flac import FLAC

    meta = FLAC(str(path))
    found = {k.upper(): list(v) for k, v in (meta.tags or {}).as_dict().items()}
    wrong = [k for k, v in tags.items() if found.get(k) != [v]]
    extra = sorted(set(found) - set(tags))
    check("tags", not wrong and not extra, f"{len(tags)} tags", f"{len(found)} tags",
          "; ".join([f"{k}: {found.get(k)} != {tags[k]!r}" for k in wrong] + [f"unexpected {k}" for k in extra]))


def _verify_codes(check: _Checker, release: DeliveryRelease, track: DeliveryTrack) -> None:
    problems = _code_problems(release, track)
    check("codes", not problems, "valid ISRC and UPC/EAN where given", "; ".join(problems) or "valid")


def _verify_replaygain(fmt: str, rel_paths: dict[int, str], decoded: dict[int, tuple[np.ndarray, int]],
                       album_extra: list[_Measure], written: dict[int, dict[str, str]], checks: list[Check]) -> None:
    """Recompute ReplayGain from the decoded files (plus any other album members) and compare with the tags."""
    measures = {n: _measure(pcm / _FULL_SCALE_24, rate) for n, (pcm, rate) in decoded.items()}
    again = _replaygain_tags(measures, list(measures.values()) + album_extra)
    for n, rel in rel_paths.items():
        want = {k: written[n][k] for k in _RG_KEYS}
        ok = again[n] == want
        checks.append(Check(fmt, rel, "replaygain", ok, "; ".join(f"{k}={v}" for k, v in want.items()),
                            "; ".join(f"{k}={v}" for k, v in again[n].items()),
                            "recomputed from the files read back"))


# ----------------------------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------------------------

def _deliverable(fmt: str, path: Path, rel: str, track: DeliveryTrack, passed: bool, **extra) -> Deliverable:
    return Deliverable(format=fmt, path=rel, track=track.number, isrc=normalize_isrc(track.isrc) if track.isrc else "",
                       sha256=_sha256(path), checks="pass" if passed else "fail", extra=extra)


def _write_pcm_set(fmt: str, release: DeliveryRelease, out_dir: Path, audio: list[_Audio],
                   album_extra: list[_Measure], *, wav: bool) -> DeliveryResult:
    """Write one FLAC (and WAV) per track of ``audio`` under ``out_dir/fmt``, tag, read back, check."""
    folder = out_dir / fmt
    folder.mkdir(parents=True, exist_ok=True)
    measures = {a.track.number: _measure(a.float_audio, a.sample_rate) for a in audio}
    rg = _replaygain_tags(measures, list(measures.values()) + album_extra)
    checks: list[Check] = []
    warnings: list[str] = []
    pending: list[tuple[str, Path, str, DeliveryTrack, _Checker, dict]] = []
    decoded: dict[int, tuple[np.ndarray, int]] = {}
    flac_rel: dict[int, str] = {}
    for a in audio:
        t = a.track
        warnings += _audio_warnings(fmt, a)
        if a.sample_rate < 44100:
            warnings.append(f"{fmt} track {t.number}: master at {a.master_rate} Hz is below 44.1 kHz; delivered at "
                            "its own rate (never upsampled), but stores ask for at least 44.1 kHz")
        tags = {**_text_tags(release, t), **rg[t.number]}
        facts = {"sample_rate": a.sample_rate, "bits": 24, "channels": int(a.pcm.shape[0]),
                 "frames": int(a.pcm.shape[1]), "true_peak_dbtp": round(a.true_peak_dbtp, 3),
                 "turned_down_db": round(-a.turned_down_db, 4), "replaygain": rg[t.number]}
        name = track_filename(t, "flac")
        path, rel = folder / name, f"{fmt}/{name}"
        _write_flac(path, a, tags)
        check, pcm = _verify_pcm_file(fmt, path, rel, a, release.ceiling_dbtp, checks, "FLAC")
        _verify_flac_tags(check, path, tags)
        _verify_codes(check, release, t)
        decoded[t.number], flac_rel[t.number] = (pcm, a.sample_rate), rel
        pending.append((fmt, path, rel, t, check, facts))
        if wav:
            name = track_filename(t, "wav")
            path, rel = folder / name, f"{fmt}/{name}"
            _write_wav(path, a)
            check, _ = _verify_pcm_file(fmt, path, rel, a, release.ceiling_dbtp, checks, "WAV")
            code, chunks = _wav_chunks(path)
            check("wav_format_code", code == 1, "1 (PCM)", code if code is None else f"{code} (0x{code:04X})")
            after = chunks[chunks.index("data") + 1:] if "data" in chunks else ["<no data chunk>"]
            check("wav_chunks", not after, "nothing after data", ", ".join(chunks))
            pending.append((fmt, path, rel, t, check, {**facts, "container": "wav"}))
    n_before = len(checks)
    _verify_replaygain(fmt, flac_rel, decoded, album_extra, rg, checks)
    rg_ok = {c.path: c.passed for c in checks[n_before:]}
    deliverables = tuple(_deliverable(f, p, r, t, c.passed and rg_ok.get(r, True), **x)
                         for f, p, r, t, c, x in pending)
    return DeliveryResult(deliverables, tuple(checks), tuple(warnings))


def write_streaming(release: DeliveryRelease, out_dir: Path, *, wav: bool = False) -> DeliveryResult:
    """Write ``streaming/NN Title.flac`` (and ``.wav``): 24-bit at 44.1/48 kHz, tagged, ReplayGain 2.0.

    Parameters
    ----------
    release : DeliveryRelease
    out_dir : Path
        The release's folder; files go to ``out_dir/streaming/``.
    wav : bool
        Also write a 24-bit PCM WAV per track (format code 1, nothing after ``data``).

    Returns
    -------
    DeliveryResult
        One deliverable per file (format ``streaming``), the checks of every file, and warnings (a master
        below 44.1 kHz; a track turned down to keep its true peak under the ceiling).

    Raises
    ------
    DeliverableError
        When a master cannot be read, or the release has no tracks or a ceiling above 0 dBTP.

    Examples
    --------
    >>> result = write_streaming(release, Path("OUT/releases/R1"), wav=True)  # doctest: +SKIP
    >>> all(c.passed for c in result.checks)  # doctest: +SKIP
    True
    """
    _check_release(release)
    audio = [_prepare(release, t, *_read_master(t), hires=False) for t in release.tracks]
    return _write_pcm_set("streaming", release, Path(out_dir), audio, [], wav=wav)


def write_hires(release: DeliveryRelease, out_dir: Path) -> DeliveryResult:
    """Write ``hires/NN Title.flac``, 24-bit at the native rate, for the masters above 48 kHz only.

    The album ReplayGain is over every track of the release in its highest-rate form (see the module docstring).
    A release with no master above 48 kHz gives an empty result (no folder).

    Parameters
    ----------
    release : DeliveryRelease
    out_dir : Path
        The release's folder; files go to ``out_dir/hires/``.

    Returns
    -------
    DeliveryResult
    """
    _check_release(release)
    hires: list[_Audio] = []
    others: list[_Measure] = []
    for t in release.tracks:
        master, rate = _read_master(t)
        if rate > 48000:
            hires.append(_prepare(release, t, master, rate, hires=True))
        else:
            a = _prepare(release, t, master, rate, hires=False)
            others.append(_measure(a.float_audio, a.sample_rate))
    if not hires:
        return DeliveryResult((), (), ())
    return _write_pcm_set("hires", release, Path(out_dir), hires, others, wav=False)


def write_lossy(release: DeliveryRelease, out_dir: Path) -> DeliveryResult:
    """Write ``lossy/NN Title.mp3`` previews: 320 kbit/s CBR MP3 of the streaming audio, ID3 tags, clip check.

    Parameters
    ----------
    release : DeliveryRelease
    out_dir : Path
        The release's folder; files go to ``out_dir/lossy/``.

    Returns
    -------
    DeliveryResult
        One deliverable per file (format ``lossy``); the ``codec_clip`` check fails when the decoded MP3 has
        samples at or above full scale or a true peak above 0 dBTP (lower the ceiling to fix it).

    Raises
    ------
    DeliverableError
        When this libsndfile cannot write MP3 (it needs libsndfile >= 1.1 built with LAME and mpg123), or a
        master cannot be read, or a rate MP3 does not have.
    """
    if not _mp3_supported():
        raise DeliverableError(
            f"libsndfile {sf.__libsndfile_version__} here cannot write MP3 (no MPEG layer III in "
            "soundfile.available_formats()); install libsndfile >= 1.1 built with LAME and mpg123 "
            "(Debian/Ubuntu: apt-get install libsndfile1 libmp3lame0 libmpg123-0; or pip install soundfile >= 0.12, "
            "whose wheels bundle it), or leave 'lossy' out of --formats")
    _check_release(release)
    folder = Path(out_dir) / "lossy"
    checks: list[Check] = []
    deliverables: list[Deliverable] = []
    warnings: list[str] = []
    for t in release.tracks:
        a = _prepare(release, t, *_read_master(t), hires=False)
        if a.sample_rate not in (32000, 44100, 48000):
            raise DeliverableError(f"track {t.number}: MPEG-1 layer III at {MP3_BITRATE_KBPS} kbit/s needs 32, 44.1 "
                                   f"or 48 kHz, the master is at {a.master_rate} Hz; leave 'lossy' out of --formats")
        folder.mkdir(parents=True, exist_ok=True)
        tags = _text_tags(release, t)
        name = track_filename(t, "mp3")
        path, rel = folder / name, f"lossy/{name}"
        _write_mp3(path, a, tags)
        check = _Checker("lossy", rel, checks)
        info = sf.info(str(path))
        decoded, _ = sf.read(str(path), dtype="float64", always_2d=True)
        decoded = np.ascontiguousarray(decoded.T)
        check("sample_rate", info.samplerate == a.sample_rate, a.sample_rate, info.samplerate)
        check("channels", info.channels == a.pcm.shape[0], a.pcm.shape[0], info.channels)
        frames = decoded.shape[1]
        check("frames", frames == a.pcm.shape[1], a.pcm.shape[1], frames,
              "decoded length (LAME's gapless header removes encoder delay and padding)")
        kbps = _mp3_bitrate_kbps(path)
        check("bitrate", kbps == {MP3_BITRATE_KBPS}, f"{MP3_BITRATE_KBPS} kbit/s CBR",
              ", ".join(f"{k} kbit/s" for k in sorted(kbps)), "bitrate of every MPEG audio frame")
        overs = int(np.count_nonzero(np.abs(decoded) >= 1.0))
        tp = _true_peak_dbtp(decoded, a.sample_rate)
        check("codec_clip", overs == 0 and tp <= 0.0, "0 samples at or above full scale; true peak <= 0 dBTP",
              f"{overs} samples at or above full scale; true peak {tp:.3f} dBTP",
              "decoded back (Apple's round-trip check for AAC, on MP3)")
        _verify_mp3_tags(check, path, tags)
        _verify_codes(check, release, t)
        warnings += _audio_warnings("lossy", a)
        deliverables.append(_deliverable("lossy", path, rel, t, check.passed, sample_rate=a.sample_rate,
                                         bitrate_kbps=MP3_BITRATE_KBPS, frames=frames,
                                         decoded_true_peak_dbtp=round(tp, 3), decoded_overs=overs))
    return DeliveryResult(tuple(deliverables), tuple(checks), tuple(warnings))


_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)  # MPEG-1 layer III
_MP3_RATES = (44100, 48000, 32000)


def _mp3_bitrate_kbps(path: Path) -> set[int]:
    """The bitrates of the MPEG-1 layer III audio frames of a file (the first, Xing/Info, frame included)."""
    raw = path.read_bytes()
    pos = 0
    if raw[:3] == b"ID3":
        size = raw[6:10]
        pos = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    rates = set()
    while pos + 4 <= len(raw):
        h = int.from_bytes(raw[pos:pos + 4], "big")
        if (h >> 21) != 0x7FF or ((h >> 19) & 3) != 3 or ((h >> 17) & 3) != 1:
            break  # not an MPEG-1 layer III frame header: end of the audio (e.g. an ID3v1 tag)
        index, rate_index, padding = (h >> 12) & 15, (h >> 10) & 3, (h >> 9) & 1
        if index in (0, 15) or rate_index == 3:
            break
        kbps = _MP3_KBPS[index]
        rates.add(kbps)
        pos += 144 * kbps * 1000 // _MP3_RATES[rate_index] + padding
    return rates


def _verify_mp3_tags(check: _Checker, path: Path, tags: dict[str, str]) -> None:
    from mutagen.id3 import ID3

    id3 = ID3(str(path))
    frames = {"TITLE": "TIT2", "ARTIST": "TPE1", "ALBUM": "TALB", "ALBUMARTIST": "TPE2", "ISRC": "TSRC",
              "DATE": "TDRC", "BARCODE": "TXXX:BARCODE"}
    want = {frames[k]: v for k, v in tags.items() if k in frames}
    want["TRCK"] = f"{tags['TRACKNUMBER']}/{tags['TRACKTOTAL']}"
    wrong = [f"{k}: {str(id3[k]) if k in id3 else None!r} != {v!r}" for k, v in want.items()
             if k not in id3 or str(id3[k]) != v]
    check("tags", not wrong, f"{len(want)} ID3 frames", f"{len(id3)} ID3 frames", "; ".join(wrong))
