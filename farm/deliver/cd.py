"""The album as a Red Book audio CD: one 16-bit WAV + CUE sheet, a DDP 2.00 image, and a PQ sheet for people.

What :func:`write_cd` does
--------------------------
1. **Red Book rules first**, before any audio is read (lengths come from the files' headers, and the resampled
   length is known exactly: soxr gives ``floor(n * 44100 / rate + 1/2)`` frames): at most 99 tracks, every
   track at least 4 s (from its INDEX 01 to the next track's INDEX 00, or the lead-out), the disc at most
   79:57:00 (the 2 s pregap included), every ISRC well formed and the UPC/EAN's check digit right
   (:mod:`farm.codes`; a 12-digit UPC-A becomes the 13-digit EAN-13 a CD carries by a leading 0). A release
   that breaks one cannot be a CD: :class:`~farm.errors.DeliverableError` says what to change.
2. **Audio per track**: the float master is read; mono is doubled to stereo (a warning), more than two channels
   is an error. Anything not at 44.1 kHz is resampled with soxr ("VHQ"), including a master *below* 44.1 kHz:
   a CD has one rate, so it is upsampled and a warning says so. The true peak of the 44.1 kHz float audio is
   measured (:class:`~kernels.truepeak.TruePeakMeter`); where it exceeds ``ceiling - G * (largest dither
   error)`` (``G`` the meter's interpolation gain bound, about 2.2; the error at most 1.5 LSB, or 14 LSB with
   noise shaping, see :mod:`kernels.dither`) the track is turned down by the excess, so that after dither the
   true peak is *provably* at or under ``release.ceiling_dbtp`` (the bound is about 0.001 dB at -1 dBTP, 0.01
   dB with noise shaping). Then TPDF dither to 16 bits (:func:`kernels.dither.tpdf_quantise`), seeded per track
   with ``[track number, crc32(ISRC or title)]``, so re-runs are byte-identical.
3. **Sequence** (disc frames, 588 samples each; :mod:`farm.deliver.cdlayout`): 150 frames of digital silence,
   then track 1 (INDEX 00 = 0, INDEX 01 = 150). Before each later track, its gap (``track.gap_s``, default
   ``default_gap_s``; rounded to whole frames): the previous track's audio is padded with silence to the next
   frame boundary, INDEX 00 is put there, the gap's silence follows, and INDEX 01 (the track's first sample)
   starts on a frame boundary. A **gapless** track (gap 0) is butted to the previous one sample for sample (no
   silence inserted: that would be an audible dropout) and its INDEX 01 is the frame boundary at or before its
   first sample, so a player skipping to it never misses its start (it may play up to 587 samples, 13 ms, of
   the previous track's tail). After the last track, silence to a frame boundary, then the lead-out.
4. **Files** (each atomic, :mod:`farm.atomic`), under ``out_dir/cd/``:

   * ``<album>.wav``: disc frames 150..lead-out, 16-bit 44.1 kHz stereo, RIFF with a 16-byte ``fmt `` chunk of
     format code 1 and ``data`` last (the header is written here, not by libsndfile);
   * ``<album>.cue``: :mod:`farm.deliver.cue` (UTF-8, see there);
   * ``pq.txt`` and ``pq.html``: every index point (track, index, start MM:SS:FF from disc frame 0, length,
     ISRC, title), the UPC/EAN and the lead-out;
   * ``ddp/``: :func:`farm.deliver.ddp.write_ddp` of the same layout and the same image.

   ``<album>`` is the release title made safe for a file name (:func:`farm.master.run.safe_name`).
5. **Read back and checked** (one :class:`~farm.deliver.model.Check` each, never raising): the WAV's chunks,
   format code, rate, bits, channels, frame count (= program frames x 588), true peak, and its audio equal to
   the image's frames 150.. sample for sample, the gaps and pregap digital silence; the CUE decoded and parsed
   back with :func:`farm.deliver.cue.parse_cue` and compared with the layout (every index, every ISRC, titles,
   performers, CATALOG, the FILE line); the PQ sheets listing every index point; the DDP with
   :func:`farm.deliver.ddp.verify_ddp`.
"""

from __future__ import annotations

import hashlib
import html
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from farm.atomic import atomic_path
from farm.codes import isrc_problem, normalize_isrc, normalize_upc, upc_problem
from farm.deliver.cdlayout import CDLayout, CDTrackLayout, msf, parse_msf
from farm.deliver.cue import ENCODING, cue_text, parse_cue, write_cue_text
from farm.deliver.model import (
    CD_FRAME_SAMPLES,
    CD_FRAMES_PER_S,
    CD_PREGAP_FRAMES,
    Check,
    Deliverable,
    DeliveryRelease,
    DeliveryResult,
    DeliveryTrack,
)
from farm.errors import DeliverableError
from kernels.dither import SHAPED_ERROR_BOUND_LSB, TPDF_ERROR_BOUND_LSB, tpdf_quantise
from kernels.truepeak import TruePeakMeter, default_oversampling, phase_gain_bound

__all__ = ["write_cd", "plan_layout", "cd_album_name", "resampled_length", "CD_RATE", "MAX_TRACKS",
           "MIN_TRACK_FRAMES", "MAX_LEADOUT_FRAMES"]

CD_RATE = 44100
MAX_TRACKS = 99
MIN_TRACK_FRAMES = 4 * CD_FRAMES_PER_S  # 4 s
MAX_LEADOUT_FRAMES = parse_msf("79:57:00")
_FULL_SCALE = 32768.0


def cd_album_name(release: DeliveryRelease) -> str:
    """The file stem of the CUE/WAV: the release title (or id) made safe for a file name."""
    from farm.master.run import safe_name  # noqa: PLC0415 - keeps farm.deliver light to import

    return safe_name(release.title or release.release_id, fallback="album")


def resampled_length(frames: int, rate: int) -> int:
    """Frames soxr gives for ``frames`` at ``rate`` resampled to 44.1 kHz: ``floor(n * 44100 / rate + 1/2)``."""
    if rate == CD_RATE:
        return int(frames)
    return (2 * int(frames) * CD_RATE + int(rate)) // (2 * int(rate))


def _ean13(upc: str) -> str:
    if not upc.strip():
        return ""
    problem = upc_problem(upc)
    if problem:
        raise DeliverableError(f"{problem}: correct the release's UPC/EAN (a CD's catalogue number must be valid)")
    norm = normalize_upc(upc)
    if len(norm) == 12:
        return "0" + norm
    if len(norm) == 14:
        if norm[0] != "0":
            raise DeliverableError(f"UPC/EAN {upc!r} is a GTIN-14 with indicator digit {norm[0]}: a CD's catalogue "
                                   "number is 13 digits (EAN-13); give the release's EAN-13 or UPC-A")
        return norm[1:]
    return norm


def _tracks_in_order(release: DeliveryRelease) -> list[DeliveryTrack]:
    tracks = sorted(release.tracks, key=lambda t: t.number)
    if not tracks:
        raise DeliverableError(f"release {release.release_id!r} has no tracks: nothing to put on a CD")
    if len(tracks) > MAX_TRACKS:
        raise DeliverableError(f"release {release.release_id!r} has {len(tracks)} tracks; a CD holds at most "
                               f"{MAX_TRACKS} (Red Book): split it into two discs or join tracks")
    for t in tracks:
        if t.isrc.strip():
            problem = isrc_problem(t.isrc)
            if problem:
                raise DeliverableError(f"track {t.number} ({t.title!r}): {problem}: correct the ISRC or leave it empty")
    return tracks


def _gap_frames(track: DeliveryTrack, default_gap_s: float) -> int:
    gap_s = default_gap_s if track.gap_s is None else float(track.gap_s)
    if not math.isfinite(gap_s) or gap_s < 0:
        raise DeliverableError(f"track {track.number}: gap_s {gap_s!r} must be 0 (gapless) or a positive number "
                               "of seconds")
    return int(round(gap_s * CD_FRAMES_PER_S))


def plan_layout(release: DeliveryRelease, track_samples: list[int], *, default_gap_s: float = 2.0
                ) -> tuple[CDLayout, list[int]]:
    """Sequence the tracks on the disc and check the Red Book's limits.

    Parameters
    ----------
    release : DeliveryRelease
        Its tracks in number order give the CD's tracks 1..n.
    track_samples : list of int
        Length of each track's audio at 44.1 kHz, samples per channel, in the same order.
    default_gap_s : float
        Gap before every track after the first whose ``gap_s`` is None.

    Returns
    -------
    layout : CDLayout
    audio_starts : list of int
        The disc sample (from disc frame 0) where each track's first audio sample goes.

    Raises
    ------
    DeliverableError
        More than 99 tracks, a track under 4 s, a disc over 79:57:00, a bad ISRC or UPC/EAN, a negative gap.
    """
    tracks = _tracks_in_order(release)
    if len(track_samples) != len(tracks):
        raise ValueError(f"{len(track_samples)} lengths for {len(tracks)} tracks")
    upc = _ean13(release.upc)
    pos = CD_PREGAP_FRAMES * CD_FRAME_SAMPLES
    marks: list[tuple[int, int]] = []
    starts: list[int] = []
    for i, (track, n) in enumerate(zip(tracks, track_samples)):
        if i == 0:
            index00, index01 = 0, CD_PREGAP_FRAMES
        else:
            gap = _gap_frames(track, default_gap_s)
            if gap == 0:
                index00 = index01 = pos // CD_FRAME_SAMPLES
            else:
                index00 = -(-pos // CD_FRAME_SAMPLES)
                index01 = index00 + gap
                pos = index01 * CD_FRAME_SAMPLES
        marks.append((index00, index01))
        starts.append(pos)
        pos += int(n)
    leadout = -(-pos // CD_FRAME_SAMPLES)
    built = []
    for i, (track, (index00, index01)) in enumerate(zip(tracks, marks)):
        end = marks[i + 1][0] if i + 1 < len(marks) else leadout
        length = end - index01
        if length < MIN_TRACK_FRAMES:
            raise DeliverableError(
                f"track {i + 1} ({track.title!r}) is {length / CD_FRAMES_PER_S:.2f} s long on the disc (INDEX 01 to "
                f"the next track); a CD track must be at least 4 s (Red Book): lengthen it or join it to a neighbour")
        built.append(CDTrackLayout(i + 1, track.title, track.artist or release.artist,
                                   normalize_isrc(track.isrc) if track.isrc.strip() else "", index00, index01, end))
    if leadout > MAX_LEADOUT_FRAMES:
        raise DeliverableError(
            f"the disc runs {msf(leadout)} (MM:SS:FF, the 2 s pregap and gaps included); a CD holds at most "
            f"{msf(MAX_LEADOUT_FRAMES)} (Red Book; 74:00 is the safe figure for every plant): drop tracks, "
            "shorten gaps or split the release into two discs")
    return CDLayout(upc, release.title, release.artist, tuple(built), leadout), starts


@dataclass
class _TrackAudio:
    pcm: np.ndarray  # int16, (2, n)
    warnings: list[str]


def _read_master(track: DeliveryTrack) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(track.master_path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise DeliverableError(f"track {track.number}: master {track.master_path!r} cannot be read ({exc})") from exc
    return np.ascontiguousarray(data.T), int(rate)


def _master_info(track: DeliveryTrack) -> tuple[int, int]:
    try:
        info = sf.info(track.master_path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise DeliverableError(f"track {track.number}: master {track.master_path!r} cannot be read ({exc})") from exc
    return int(info.frames), int(info.samplerate)


def _seed(cd_number: int, track: DeliveryTrack) -> list[int]:
    key = normalize_isrc(track.isrc) if track.isrc.strip() else track.title
    return [cd_number, zlib.crc32(key.encode("utf-8"))]


def _true_peak_lin(x: np.ndarray) -> float:
    meter = TruePeakMeter(CD_RATE, x.shape[0])
    meter.process(x)
    tp = meter.result().true_peak_dbtp
    return 0.0 if tp == float("-inf") else 10 ** (tp / 20)


def _prepare_track(cd_number: int, track: DeliveryTrack, ceiling_dbtp: float, noise_shaping: bool) -> _TrackAudio:
    x, rate = _read_master(track)
    warnings = []
    where = f"track {cd_number} ({track.title!r})"
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
        warnings.append(f"{where}: the master is mono; both CD channels carry it")
    elif x.shape[0] != 2:
        raise DeliverableError(f"{where}: the master has {x.shape[0]} channels; a CD is stereo: deliver a stereo "
                               "master (a downmix is a mastering decision)")
    if rate != CD_RATE:
        n_in = x.shape[1]
        x = np.ascontiguousarray(soxr.resample(x.T, rate, CD_RATE, quality="VHQ").T)
        expected = resampled_length(n_in, rate)
        if x.shape[1] != expected:  # soxr's length rule is what plan_layout relied on; hold it to it
            x = x[:, :expected] if x.shape[1] > expected else np.pad(x, ((0, 0), (0, expected - x.shape[1])))
        if rate < CD_RATE:  # resampling down to the CD rate is the normal case; going up is worth a word
            warnings.append(f"{where}: upsampled (the master is below the CD rate) from {rate} Hz to {CD_RATE} Hz "
                            "with soxr VHQ")
    bound = SHAPED_ERROR_BOUND_LSB if noise_shaping else TPDF_ERROR_BOUND_LSB
    allowed = 10 ** (ceiling_dbtp / 20) - phase_gain_bound(default_oversampling(CD_RATE)) * bound / _FULL_SCALE
    peak = _true_peak_lin(x)
    if peak > allowed > 0:
        gain = allowed / peak
        x = x * gain
        warnings.append(f"{where}: true peak {20 * math.log10(peak):+.3f} dBTP at 44.1 kHz, over the "
                        f"{ceiling_dbtp:+.2f} dBTP ceiling less the dither's margin; turned down "
                        f"{-20 * math.log10(gain):.3f} dB before dither")
    pcm = tpdf_quantise(x, 16, rng_seed=_seed(cd_number, track), noise_shaping=noise_shaping)
    return _TrackAudio(pcm, warnings)


def _wav_bytes_header(frames: int) -> bytes:
    data_bytes = frames * 4
    if data_bytes + 36 >= 2**32:
        raise DeliverableError(f"{frames} frames do not fit a RIFF WAV (4 GiB)")
    fmt = struct.pack("<HHIIHH", 1, 2, CD_RATE, CD_RATE * 4, 4, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_bytes))


def _write_wav(path: Path, program: np.ndarray) -> None:
    """``program`` int16 (frames, 2) as a canonical 44-byte-header PCM WAV, little-endian."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(_wav_bytes_header(program.shape[0]))
            fh.write(np.ascontiguousarray(program, dtype="<i2").tobytes())


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pq_rows(layout: CDLayout) -> list[dict]:
    rows = []
    for t in layout.tracks:
        if t.index00 < t.index01:
            rows.append({"track": f"{t.number:02d}", "index": "00", "start": msf(t.index00),
                         "length": msf(t.gap_frames), "isrc": t.isrc, "title": "(gap)" if t.number > 1 else "(pregap)"})
        rows.append({"track": f"{t.number:02d}", "index": "01", "start": msf(t.index01),
                     "length": msf(t.length_frames), "isrc": t.isrc, "title": t.title})
    rows.append({"track": "AA", "index": "01", "start": msf(layout.leadout), "length": "", "isrc": "",
                 "title": "(lead-out)"})
    return rows


_PQ_COLUMNS = ("track", "index", "start", "length", "isrc", "title")


def _pq_text(layout: CDLayout, release: DeliveryRelease) -> str:
    head = [f"PQ sheet: {release.title}", f"Artist: {release.artist}", f"UPC/EAN: {layout.upc or '(none)'}",
            f"Tracks: {len(layout.tracks)}   Total (lead-out): {msf(layout.leadout)}   Pregap: 00:02:00",
            "Times are MM:SS:FF (75 frames a second) from the start of the disc (the 2 s pregap at 00:00:00).", ""]
    widths = {"track": 5, "index": 5, "start": 8, "length": 8, "isrc": 12}
    lines = ["  ".join(c.upper().ljust(widths.get(c, 0)) for c in _PQ_COLUMNS).rstrip()]
    for row in _pq_rows(layout):
        lines.append("  ".join(row[c].ljust(widths.get(c, 0)) for c in _PQ_COLUMNS).rstrip())
    return "\n".join(head + lines) + "\n"


def _pq_html(layout: CDLayout, release: DeliveryRelease) -> str:
    esc = html.escape
    cells = "".join(f"<th>{esc(c.upper())}</th>" for c in _PQ_COLUMNS)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(row[c])}</td>" for c in _PQ_COLUMNS) + "</tr>"
                     for row in _pq_rows(layout))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>PQ sheet: {esc(release.title)}'
            f"</title></head>\n<body>\n<h1>PQ sheet: {esc(release.title)}</h1>\n"
            f"<p>Artist: {esc(release.artist)}<br>UPC/EAN: {esc(layout.upc or '(none)')}<br>Tracks: "
            f"{len(layout.tracks)}, total (lead-out) {msf(layout.leadout)}, pregap 00:02:00<br>Times are MM:SS:FF "
            "(75 frames a second) from the start of the disc.</p>\n"
            f"<table>\n<tr>{cells}</tr>\n{body}\n</table>\n</body>\n</html>\n")


def _wav_chunks(raw: bytes) -> tuple[int | None, list[str]]:
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None, []
    pos, chunks, code = 12, [], None
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        chunks.append(cid.decode("latin-1"))
        if cid == b"fmt ":
            code = struct.unpack("<H", raw[pos + 8:pos + 10])[0]
        pos += 8 + size + (size & 1)
    return code, chunks


class _Checks:
    def __init__(self):
        self.rows: list[Check] = []

    def add(self, fmt: str, path: str, name: str, passed: bool, expected="", measured="", detail=""):
        self.rows.append(Check(fmt, path, name, bool(passed), str(expected), str(measured), detail))

    def passed(self, path_prefix: str) -> bool:
        return all(c.passed for c in self.rows if c.path == path_prefix or c.path.startswith(path_prefix + "/"))


def _expected_cue_layout(layout: CDLayout) -> CDLayout:
    tracks = tuple(CDTrackLayout(t.number, cue_text(t.title), cue_text(t.performer), t.isrc, t.index00, t.index01,
                                 t.end) for t in layout.tracks)
    return CDLayout(layout.upc, cue_text(layout.title), cue_text(layout.performer), tracks, layout.leadout)


def _verify_wav(checks: _Checks, path: Path, rel: str, layout: CDLayout, image: np.ndarray, ceiling_dbtp: float):
    fmt = "cd_wav"
    with open(path, "rb") as fh:
        head = fh.read(64)
    size = path.stat().st_size
    code, _ = _wav_chunks(head)
    checks.add(fmt, rel, "format_code", code == 1, 1, code, "WAVE_FORMAT_PCM, not EXTENSIBLE")
    # Walk the chunk list over the whole file without reading the audio.
    chunks, pos = [], 12
    with open(path, "rb") as fh:
        while pos + 8 <= size:
            fh.seek(pos)
            cid, csize = fh.read(4), struct.unpack("<I", fh.read(4))[0]
            chunks.append(cid.decode("latin-1"))
            pos += 8 + csize + (csize & 1)
    checks.add(fmt, rel, "chunks", chunks == ["fmt ", "data"] and pos == size, "fmt , data (data last)",
               ", ".join(chunks))
    info = sf.info(str(path))
    program_samples = layout.program_frames * CD_FRAME_SAMPLES
    checks.add(fmt, rel, "sample_rate", info.samplerate == CD_RATE, CD_RATE, info.samplerate)
    checks.add(fmt, rel, "bits", info.subtype == "PCM_16", "PCM_16", info.subtype)
    checks.add(fmt, rel, "channels", info.channels == 2, 2, info.channels)
    checks.add(fmt, rel, "frames", info.frames == program_samples, f"{program_samples} ({layout.program_frames} x 588)",
               info.frames)
    # Block by block (a whole disc is ~800 MB of int16 and 3 GB as float64): compare with the image and meter.
    want = image[CD_PREGAP_FRAMES * CD_FRAME_SAMPLES:]
    meter = TruePeakMeter(CD_RATE, 2)
    pos, differing = 0, 0
    for block in sf.blocks(str(path), blocksize=1 << 20, dtype="int16", always_2d=True):
        ref = want[pos: pos + block.shape[0]]
        differing += int((block != ref).sum()) if block.shape == ref.shape else block.size
        meter.process(block.T.astype(np.float64) / _FULL_SCALE)
        pos += block.shape[0]
    same = pos == want.shape[0] and differing == 0
    checks.add(fmt, rel, "image_matches_wav", same, "WAV == image frames 150..lead-out, sample for sample",
               "equal" if same else f"{differing} samples differ, {pos} frames read of {want.shape[0]}")
    tp = meter.result().true_peak_dbtp
    checks.add(fmt, rel, "true_peak", tp <= ceiling_dbtp + 1e-9, f"<= {ceiling_dbtp:.2f} dBTP", f"{tp:.3f} dBTP")
    # Digital silence where the layout says there is no audio: the pregap (in the image) and every gap.
    loud = [t.number for t in layout.tracks[1:] if t.gap_frames and
            image[t.index00 * CD_FRAME_SAMPLES: t.index01 * CD_FRAME_SAMPLES].any()]
    pregap_silent = not image[: CD_PREGAP_FRAMES * CD_FRAME_SAMPLES].any()
    checks.add(fmt, rel, "gaps_silent", pregap_silent and not loud, "pregap and gaps all zero",
               "yes" if pregap_silent and not loud else f"pregap silent: {pregap_silent}; tracks {loud}")


def _verify_cue(checks: _Checks, path: Path, rel: str, layout: CDLayout, wav_name: str):
    fmt = "cd_cue"
    raw = path.read_bytes()
    checks.add(fmt, rel, "no_bom", not raw.startswith(b"\xef\xbb\xbf"), "no BOM", raw[:3].hex())
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as exc:
        checks.add(fmt, rel, "encoding", False, ENCODING, "undecodable", str(exc))
        return
    checks.add(fmt, rel, "encoding", True, ENCODING, ENCODING)
    try:
        sheet = parse_cue(text, program_frames=layout.program_frames)
    except ValueError as exc:
        checks.add(fmt, rel, "parse", False, "parses", "error", str(exc))
        return
    checks.add(fmt, rel, "parse", True, "parses", f"{len(sheet.layout.tracks)} tracks")
    got, want = sheet.layout, _expected_cue_layout(layout)
    checks.add(fmt, rel, "file", (sheet.file_name, sheet.file_type) == (wav_name, "WAVE"), f"{wav_name} WAVE",
               f"{sheet.file_name} {sheet.file_type}")
    checks.add(fmt, rel, "catalog", got.upc == want.upc, want.upc, got.upc)
    checks.add(fmt, rel, "track_count", len(got.tracks) == len(want.tracks), len(want.tracks), len(got.tracks))
    pairs = list(zip(got.tracks, want.tracks))
    idx_bad = [w.number for g, w in pairs if (g.number, g.index00, g.index01, g.end) !=
               (w.number, w.index00, w.index01, w.end)]
    checks.add(fmt, rel, "indexes", not idx_bad and len(pairs) == len(want.tracks),
               "INDEX 00/01 of every track as laid out", f"differ: tracks {idx_bad}" if idx_bad else "equal")
    isrc_bad = [w.number for g, w in pairs if g.isrc != w.isrc]
    checks.add(fmt, rel, "isrc", not isrc_bad, "every ISRC", f"differ: tracks {isrc_bad}" if isrc_bad else "equal")
    text_bad = [w.number for g, w in pairs if (g.title, g.performer) != (w.title, w.performer)]
    disc_ok = (got.title, got.performer) == (want.title, want.performer)
    checks.add(fmt, rel, "titles", not text_bad and disc_ok, "album and track TITLE/PERFORMER",
               "equal" if not text_bad and disc_ok else f"album ok: {disc_ok}; tracks {text_bad}")


def _verify_pq(checks: _Checks, txt: Path, rel_txt: str, page: Path, rel_html: str, layout: CDLayout):
    fmt = "cd_ddp"
    text, markup = txt.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")
    rows = _pq_rows(layout)
    lines = [ln.split() for ln in text.splitlines()]
    found = {(p[0], p[1], p[2]) for p in lines if len(p) >= 3}
    missing = [f"{r['track']}/{r['index']}" for r in rows if (r["track"], r["index"], r["start"]) not in found]
    checks.add(fmt, rel_txt, "pq_indexes", not missing, f"{len(rows)} index points", f"missing {missing}"
               if missing else f"{len(rows)} listed")
    cells = [f"<td>{html.escape(r['start'])}</td>" for r in rows] + [
        f"<td>{html.escape(t.title)}</td>" for t in layout.tracks if t.title]
    bad = [c for c in cells if c not in markup]
    checks.add(fmt, rel_html, "pq_html", not bad, "every start and title, escaped", f"missing {bad[:3]}" if bad
               else "all present")


def write_cd(release: DeliveryRelease, out_dir: Path, *, noise_shaping: bool = False,
             default_gap_s: float = 2.0) -> DeliveryResult:
    """Write the release as a Red Book CD: ``cd/<album>.wav`` + ``.cue``, ``cd/ddp/``, ``cd/pq.txt`` / ``.html``.

    Parameters
    ----------
    release : DeliveryRelease
        Its masters (float WAV at any rate), codes and ``ceiling_dbtp``.
    out_dir : Path
        The release's folder; files go to ``out_dir / "cd"``.
    noise_shaping : bool
        Noise-shaped dither (Lipshitz 5-tap) instead of plain TPDF.
    default_gap_s : float
        Silence before every track after the first whose ``gap_s`` is None (0 = gapless).

    Returns
    -------
    DeliveryResult
        Deliverables ``cd_wav``, ``cd_cue`` (``extra["pq_sheets"]``), ``cd_ddp`` (path ``cd/ddp``, sha256 of
        IMAGE.DAT); one Check per verification; warnings (resampling, turned-down tracks, mono masters).

    Raises
    ------
    DeliverableError
        When the release cannot be a CD (see the module docstring, step 1), or a master cannot be read.

    Examples
    --------
    >>> result = write_cd(release, Path("OUT/releases/R1"))            # doctest: +SKIP
    >>> [d.path for d in result.deliverables]                           # doctest: +SKIP
    ['cd/Album.wav', 'cd/Album.cue', 'cd/ddp']
    """
    out_dir = Path(out_dir)
    tracks = _tracks_in_order(release)
    # Red Book limits from the headers alone, before any audio is read or written.
    estimate = [resampled_length(*_master_info(t)) for t in tracks]
    plan_layout(release, estimate, default_gap_s=default_gap_s)

    warnings: list[str] = []
    if tracks[0].gap_s is not None and float(tracks[0].gap_s) != 2.0:
        warnings.append(f"track 1: gap_s {tracks[0].gap_s} ignored; the silence before track 1 is always the disc's "
                        "2 s pregap (Red Book)")
    pcm = []
    for i, track in enumerate(tracks, 1):
        prepared = _prepare_track(i, track, release.ceiling_dbtp, noise_shaping)
        pcm.append(prepared.pcm)
        warnings += prepared.warnings
    layout, starts = plan_layout(release, [p.shape[1] for p in pcm], default_gap_s=default_gap_s)
    image = np.zeros((layout.leadout * CD_FRAME_SAMPLES, 2), dtype=np.int16)
    for start, p in zip(starts, pcm):
        image[start: start + p.shape[1]] = p.T
    del pcm

    cd_dir = out_dir / "cd"
    cd_dir.mkdir(parents=True, exist_ok=True)
    album = cd_album_name(release)
    wav_path, cue_path = cd_dir / f"{album}.wav", cd_dir / f"{album}.cue"
    txt_path, html_path = cd_dir / "pq.txt", cd_dir / "pq.html"
    rel = {p: p.relative_to(out_dir).as_posix() for p in (wav_path, cue_path, txt_path, html_path)}
    _write_wav(wav_path, image[CD_PREGAP_FRAMES * CD_FRAME_SAMPLES:])
    _write_bytes(cue_path, write_cue_text(layout, wav_path.name, date=release.date[:4]).encode(ENCODING))
    _write_bytes(txt_path, _pq_text(layout, release).encode("utf-8"))
    _write_bytes(html_path, _pq_html(layout, release).encode("utf-8"))

    checks = _Checks()
    _verify_wav(checks, wav_path, rel[wav_path], layout, image, release.ceiling_dbtp)
    _verify_cue(checks, cue_path, rel[cue_path], layout, wav_path.name)
    _verify_pq(checks, txt_path, rel[txt_path], html_path, rel[html_path], layout)

    facts = {"sample_rate": CD_RATE, "bits": 16, "channels": 2, "frames": layout.program_frames * CD_FRAME_SAMPLES,
             "program_frames": layout.program_frames, "leadout": msf(layout.leadout),
             "tracks": len(layout.tracks), "noise_shaping": noise_shaping}
    deliverables = [
        Deliverable("cd_wav", rel[wav_path], sha256=_sha256(wav_path),
                    checks="pass" if checks.passed(rel[wav_path]) else "fail", extra=facts),
        Deliverable("cd_cue", rel[cue_path], sha256=_sha256(cue_path),
                    checks="pass" if checks.passed(rel[cue_path]) else "fail",
                    extra={"encoding": ENCODING, "pq_sheets": [rel[txt_path], rel[html_path]]}),
    ]
    ddp_rel = (cd_dir / "ddp").relative_to(out_dir).as_posix()
    try:
        from farm.deliver.ddp import verify_ddp, write_ddp  # noqa: PLC0415 - written by another part of the farm
    except ImportError as exc:
        checks.add("cd_ddp", ddp_rel, "ddp_written", False, "a DDP 2.00 image", "not written",
                   f"farm.deliver.ddp is not importable ({exc})")
        ddp_sha = None
    else:
        master_id = release.release_id.encode("ascii", "replace").decode("ascii")[:48]
        write_ddp(layout, image, cd_dir / "ddp", master_id=master_id)
        checks.rows.extend(verify_ddp(cd_dir / "ddp", layout, image, release_dir=out_dir))
        ddp_sha = _sha256(cd_dir / "ddp" / "IMAGE.DAT")
    ddp_ok = checks.passed(ddp_rel) and checks.passed(rel[txt_path]) and checks.passed(rel[html_path])
    deliverables.append(Deliverable("cd_ddp", ddp_rel, sha256=ddp_sha, checks="pass" if ddp_ok else "fail",
                                    extra={**facts, "pq_sheets": [rel[txt_path], rel[html_path]]}))
    return DeliveryResult(tuple(deliverables), tuple(checks.rows), tuple(warnings))
