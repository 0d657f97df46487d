"""DDP 2.00 audio CD master images: write a disc folder, read it back, verify it against the layout and audio.

A DDP folder holds:

* ``DDPID`` (128 bytes): level "DDP 2.00", UPC/EAN, master id (``master_id``), type "CD".
* ``DDPMS`` (128 bytes a packet): one ``D0`` packet for ``IMAGE.DAT`` (length in sectors = the lead-out, CD-DA,
  the 150 pregap sectors inside the file), one ``S0`` packet "PQ DESCR" for ``PQDESCR`` and, when the disc has
  any title or performer, one ``S0`` packet "CDTEXT" for ``CDTEXT.BIN`` (see :mod:`farm.deliver.cdtext`).
* ``PQDESCR`` (64 bytes an entry), one entry per index point, times from disc frame 0 (the start of the 2 s
  pregap, :mod:`farm.deliver.cdlayout`): a lead-in entry (TRK "00", IDX "00", 00:00:00:00), then for each track
  INDEX 00 (where its gap starts) and INDEX 01 (where its audio starts), then the lead-out (TRK "AA", IDX "01").
  Track 1 always has INDEX 00 at 00:00:00 and INDEX 01 at 00:02:00. A later track with no gap gets no INDEX 00
  entry (an index 00 of zero length would be a zero-frame index; readers such as ddpLib expect it may be
  missing and take INDEX 01 as the track start). Every entry carries the UPC/EAN (the Media Catalogue Number
  is disc-wide), track entries their ISRC, CB1 "01"/CB2 "00" (the common plain values: no pre-emphasis, copy
  not permitted), and no free text. The lead-in entry is common practice (ddpLib's reader expects the PQ
  stream to start with one) rather than a requirement we could confirm.
* ``IMAGE.DAT``: disc frames 0..lead-out, 2352 bytes a sector, 16-bit stereo interleaved L, R.
* ``CHECKSUM.MD5``: ``<md5>  <name>`` per file (the format ``md5sum -c`` reads). Not in the DDP spec, but
  plants expect a checksum file.

IMAGE.DAT byte order: **little-endian** (:data:`IMAGE_BYTE_ORDER`). Evidence: we could not read the DCA
specification itself (it is licensed). ddpLib (github suntriprecords/ddpLib, a Java DDP 1.01/2.00 reader written
"to extract the label's CD masters perfectly") extracts a track by copying IMAGE.DAT's bytes unchanged behind a
44-byte RIFF/WAVE header whose fields it writes little-endian with PCM 16-bit stereo 44.1 kHz, i.e. it treats
IMAGE.DAT as little-endian CD-DA, the same order a CD drive's READ CD returns audio sectors in and that CUE/BIN
rips and WAV use. No source found said big-endian. Confidence: moderate (one independent implementation that
was used on real plant masters, plus the convention of the surrounding tools; no spec text). Everything here
reads and writes through :data:`IMAGE_BYTE_ORDER`, so a change of this decision is one line.

DDPMS field values that the references name without giving a value (chosen, documented, checked on read-back):
D0: DSP 0, DSS 0, CDM "DA", SSM "0" (user data only: 2352-byte audio sectors), PRE1 "0000", PRE2 "0150" (the
150-sector pause before track 1 is inside the data stream), PST "0000". DDPID: sides/layers and user text blank.

Atomicity: the folder is built as a hidden sibling (``.<name>.<pid>.part``) and renamed into place; an old
folder of the same name is first renamed aside and removed after the new one is in place, so a reader sees the
old complete folder or the new complete folder, never a mix (for an instant, no folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from farm.codes import isrc_problem, upc_problem
from farm.deliver.cdlayout import CDLayout, CDTrackLayout
from farm.deliver.cdtext import (
    PACK_BYTES,
    cdtext_packs,
    latin1_changes,
    latin1_text,
    pack_crc_ok,
    parse_cdtext,
)
from farm.deliver.model import (
    CD_FRAME_SAMPLES,
    CD_FRAMES_PER_S,
    CD_PREGAP_FRAMES,
    Check,
)
from farm.errors import DeliverableError

__all__ = [
    "DDPID",
    "IMAGE_BYTE_ORDER",
    "SECTOR_BYTES",
    "DDPImage",
    "MapPacket",
    "PQEntry",
    "pq_entries_for",
    "read_ddp",
    "verify_ddp",
    "write_ddp",
]

#: Byte order of IMAGE.DAT's 16-bit samples ("<" little-endian); see the module docstring for the evidence.
IMAGE_BYTE_ORDER = "<"
IMAGE_DTYPE = np.dtype(f"{IMAGE_BYTE_ORDER}i2")
SECTOR_BYTES = CD_FRAME_SAMPLES * 4  # 2352
DDP_LEVEL = "DDP 2.00"
FORMAT = "cd_ddp"
CHECKSUM_NAME = "CHECKSUM.MD5"
IMAGE_NAME, PQ_NAME, CDTEXT_NAME = "IMAGE.DAT", "PQDESCR", "CDTEXT.BIN"
_ID_BYTES, _MS_BYTES, _PQ_BYTES = 128, 128, 64
_MAX_FRAMES = (99 * 60 + 59) * CD_FRAMES_PER_S + 74  # what MM:SS:FF in the PQ (with hours) can carry here
_CHUNK_FRAMES = 75 * 60  # write/compare a minute of audio at a time (10.6 MB)

# Field layouts (start, end exclusive) from ../shared/REFERENCE.md "DDP 2.00".
_DDPID_FIELDS = {"level": (0, 8), "upc": (8, 21), "mss": (21, 29), "msl": (29, 37), "med": (37, 38),
                 "mid": (38, 86), "bk": (86, 87), "type": (87, 89), "nside": (89, 90), "side": (90, 91),
                 "nlayer": (91, 92), "layer": (92, 93), "utl": (93, 95), "user_text": (95, 128)}
_MS_FIELDS = {"mpv": (0, 4), "dst": (4, 6), "dsp": (6, 14), "dsl": (14, 22), "dss": (22, 30), "sub": (30, 38),
              "cdm": (38, 40), "ssm": (40, 41), "scr": (41, 42), "pre1": (42, 46), "pre2": (46, 50),
              "pst": (50, 54), "med": (54, 55), "trk": (55, 57), "idx": (57, 59), "isrc": (59, 71),
              "siz": (71, 74), "dsi": (74, 91), "new": (91, 92), "pre1nxt": (92, 96), "pause": (96, 104),
              "ofs": (104, 113), "pad": (113, 128)}
_PQ_FIELDS = {"spv": (0, 4), "trk": (4, 6), "idx": (6, 8), "hrs": (8, 10), "min": (10, 12), "sec": (12, 14),
              "frm": (14, 16), "cb1": (16, 18), "cb2": (18, 20), "isrc": (20, 32), "upc": (32, 45),
              "text": (45, 64)}


def _record(fields: dict[str, tuple[int, int]], values: dict[str, str], size: int) -> bytes:
    out = bytearray(b" " * size)
    for name, text in values.items():
        start, end = fields[name]
        raw = text.encode("ascii")
        if len(raw) > end - start:
            raise DeliverableError(f"DDP field {name}={text!r} is longer than its {end - start} characters")
        out[start:start + len(raw)] = raw
    return bytes(out)


def _fields(fields: dict[str, tuple[int, int]], raw: bytes) -> dict[str, str]:
    text = raw.decode("ascii", errors="replace")
    return {name: text[start:end].rstrip(" ") for name, (start, end) in fields.items()}


@dataclass(frozen=True)
class DDPID:
    level: str
    upc: str
    mss: str
    msl: str
    med: str
    mid: str
    bk: str
    type: str
    nside: str
    side: str
    nlayer: str
    layer: str
    utl: str
    user_text: str


@dataclass(frozen=True)
class MapPacket:
    """One DDPMS packet, every field as its (right-stripped) text."""

    mpv: str
    dst: str
    dsp: str
    dsl: str
    dss: str
    sub: str
    cdm: str
    ssm: str
    scr: str
    pre1: str
    pre2: str
    pst: str
    med: str
    trk: str
    idx: str
    isrc: str
    siz: str
    dsi: str
    new: str
    pre1nxt: str
    pause: str
    ofs: str
    pad: str


@dataclass(frozen=True)
class PQEntry:
    """One PQDESCR entry; ``frame`` is the disc frame of ``hrs:min:sec:frm``."""

    trk: str
    idx: str
    frame: int
    cb1: str
    cb2: str
    isrc: str
    upc: str
    text: str = ""

    @property
    def time(self) -> str:
        return _pq_time(self.frame)


@dataclass(frozen=True)
class DDPImage:
    """A DDP folder parsed back (see :func:`read_ddp`)."""

    folder: Path
    ddpid: DDPID
    ms: tuple[MapPacket, ...]
    pq: tuple[PQEntry, ...]
    layout: CDLayout
    cdtext: dict | None = None
    checksums: dict[str, str] = field(default_factory=dict)

    @property
    def image_path(self) -> Path:
        d0 = next((p for p in self.ms if p.dst == "D0"), None)
        return self.folder / (d0.dsi if d0 and d0.dsi else IMAGE_NAME)

    def audio(self) -> np.ndarray:
        """IMAGE.DAT as a read-only ``(samples, 2)`` int16 memory map (disc frames 0..lead-out)."""
        size = self.image_path.stat().st_size
        if size == 0:
            return np.zeros((0, 2), dtype=IMAGE_DTYPE)
        return np.memmap(self.image_path, dtype=IMAGE_DTYPE, mode="r", shape=(size // 4, 2))


def _pq_time(frame: int) -> str:
    minutes, rest = divmod(int(frame), 60 * CD_FRAMES_PER_S)
    hours, minutes = divmod(minutes, 60)
    sec, frm = divmod(rest, CD_FRAMES_PER_S)
    return f"{hours:02d}:{minutes:02d}:{sec:02d}:{frm:02d}"


def pq_entries_for(layout: CDLayout) -> list[PQEntry]:
    """The PQ descriptor entries a layout gets (see the module docstring): lead-in, index points, lead-out."""
    upc = layout.upc
    entries = [PQEntry("00", "00", 0, "01", "00", "", upc)]
    for track in layout.tracks:
        trk = f"{track.number:02d}"
        if track.number == layout.tracks[0].number or track.index00 < track.index01:
            entries.append(PQEntry(trk, "00", track.index00, "01", "00", track.isrc, upc))
        entries.append(PQEntry(trk, "01", track.index01, "01", "00", track.isrc, upc))
    entries.append(PQEntry("AA", "01", layout.leadout, "01", "00", "", upc))
    return entries


def _pq_bytes(entries: list[PQEntry]) -> bytes:
    out = []
    for e in entries:
        minutes, rest = divmod(e.frame, 60 * CD_FRAMES_PER_S)
        hours, minutes = divmod(minutes, 60)
        sec, frm = divmod(rest, CD_FRAMES_PER_S)
        out.append(_record(_PQ_FIELDS, {
            "spv": "VVVS", "trk": e.trk, "idx": e.idx, "hrs": f"{hours:02d}", "min": f"{minutes:02d}",
            "sec": f"{sec:02d}", "frm": f"{frm:02d}", "cb1": e.cb1, "cb2": e.cb2, "isrc": e.isrc, "upc": e.upc,
            "text": e.text}, _PQ_BYTES))
    return b"".join(out)


def _ms_packet(values: dict[str, str]) -> bytes:
    dsi = values.get("dsi", "")
    if dsi:
        values = {**values, "siz": f"{_MS_FIELDS['dsi'][1] - _MS_FIELDS['dsi'][0]:03d}"}
    return _record(_MS_FIELDS, {"mpv": "VVVM", **values}, _MS_BYTES)


def _validate(layout: CDLayout, image: np.ndarray) -> None:
    if not layout.tracks:
        raise DeliverableError("a DDP image needs at least one track")
    if len(layout.tracks) > 99:
        raise DeliverableError(f"{len(layout.tracks)} tracks: a CD holds at most 99; split the release")
    if layout.leadout > _MAX_FRAMES:
        raise DeliverableError(f"lead-out at frame {layout.leadout} is past 99:59:74: the disc is too long")
    want = (layout.leadout * CD_FRAME_SAMPLES, 2)
    if image.ndim != 2 or tuple(image.shape) != want:
        raise DeliverableError(
            f"image is shaped {tuple(image.shape)} but the layout's lead-out (frame {layout.leadout}) needs {want}: "
            "pass disc frames 0..lead-out as int16 (samples, 2)")
    if image.dtype.kind != "i" or image.dtype.itemsize != 2:
        raise DeliverableError(f"image dtype is {image.dtype}; IMAGE.DAT holds 16-bit integers (int16)")
    first = layout.tracks[0]
    if first.index00 != 0 or first.index01 != CD_PREGAP_FRAMES:
        raise DeliverableError(
            f"track {first.number}: INDEX 00/01 at frames {first.index00}/{first.index01}; the first track must "
            f"start the disc at 0 with INDEX 01 at {CD_PREGAP_FRAMES} (the 2 s pregap)")
    prev_end = 0
    for t in layout.tracks:
        if not (prev_end == t.index00 <= t.index01 < t.end):
            raise DeliverableError(
                f"track {t.number}: index00 {t.index00}, index01 {t.index01}, end {t.end} do not follow the "
                f"previous track's end {prev_end} in order")
        prev_end = t.end
        if t.isrc and isrc_problem(t.isrc):
            raise DeliverableError(f"track {t.number}: {isrc_problem(t.isrc)}")
        if t.isrc and len(t.isrc) != 12:
            raise DeliverableError(f"track {t.number}: ISRC {t.isrc!r} must be stored without hyphens")
    if prev_end != layout.leadout:
        raise DeliverableError(f"last track ends at {prev_end}, lead-out is at {layout.leadout}: they must match")
    if layout.upc and (upc_problem(layout.upc) or len(layout.upc) != 13):
        raise DeliverableError(f"{upc_problem(layout.upc) or 'UPC ' + repr(layout.upc)}: a CD carries a 13-digit "
                               "EAN-13 (a 12-digit UPC-A gets a leading 0)")


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_ddp(layout: CDLayout, image: np.ndarray, folder: Path, *, master_id: str = "") -> list[Path]:
    """Write a DDP 2.00 folder for ``layout`` with ``image`` as IMAGE.DAT, atomically.

    Parameters
    ----------
    layout : CDLayout
    image : np.ndarray
        int16, shape ``(layout.leadout * 588, 2)``: disc frames 0..lead-out, the 150-frame pregap included.
    folder : Path
        The DDP folder to create (replaced whole if it exists).
    master_id : str
        DDPID's MID field (48 ASCII characters at most), e.g. the release id.

    Returns
    -------
    list of Path
        The files written, inside ``folder``: DDPID, DDPMS, PQDESCR, IMAGE.DAT, [CDTEXT.BIN], CHECKSUM.MD5.

    Raises
    ------
    DeliverableError
        When the layout cannot be a CD (more than 99 tracks, indexes out of order, the image the wrong shape,
        a malformed ISRC/UPC, CD-TEXT too long, a master id that is not ASCII or too long).

    Examples
    --------
    >>> import tempfile
    >>> lay = CDLayout("", "A", "B", (CDTrackLayout(1, "T", "P", "", 0, 150, 450),), 450)
    >>> d = Path(tempfile.mkdtemp()) / "DDP"
    >>> [p.name for p in write_ddp(lay, np.zeros((450 * 588, 2), np.int16), d)]
    ['DDPID', 'DDPMS', 'PQDESCR', 'IMAGE.DAT', 'CDTEXT.BIN', 'CHECKSUM.MD5']
    """
    folder = Path(folder)
    _validate(layout, image)
    if not master_id.isascii() or len(master_id) > 48:
        raise DeliverableError(f"master id {master_id!r} must be at most 48 ASCII characters")
    try:
        cdtext = cdtext_packs(layout)
    except ValueError as exc:
        raise DeliverableError(str(exc)) from exc

    ddpid = _record(_DDPID_FIELDS, {"level": DDP_LEVEL, "upc": layout.upc, "mid": master_id, "type": "CD"},
                    _ID_BYTES)
    ms = [_ms_packet({"dst": "D0", "dsp": "00000000", "dsl": f"{layout.leadout:08d}", "dss": "00000000",
                      "cdm": "DA", "ssm": "0", "pre1": "0000", "pre2": f"{CD_PREGAP_FRAMES:04d}", "pst": "0000",
                      "dsi": IMAGE_NAME}),
          _ms_packet({"dst": "S0", "sub": "PQ DESCR", "dsi": PQ_NAME})]
    if cdtext:
        ms.append(_ms_packet({"dst": "S0", "sub": "CDTEXT", "dsi": CDTEXT_NAME}))
    files = {"DDPID": ddpid, "DDPMS": b"".join(ms), PQ_NAME: _pq_bytes(pq_entries_for(layout))}

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        order = [*files, IMAGE_NAME]
        with open(tmp / IMAGE_NAME, "wb") as fh:
            step = _CHUNK_FRAMES * CD_FRAME_SAMPLES
            fh.writelines(np.ascontiguousarray(image[start:start + step], dtype=IMAGE_DTYPE).tobytes()
                          for start in range(0, image.shape[0], step))
        if cdtext:
            (tmp / CDTEXT_NAME).write_bytes(cdtext)
            order.append(CDTEXT_NAME)
        lines = "".join(f"{_md5(tmp / name)}  {name}\n" for name in order)
        (tmp / CHECKSUM_NAME).write_text(lines, encoding="ascii")
        order.append(CHECKSUM_NAME)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return [folder / name for name in order]


def _parse_pq(raw: bytes) -> list[PQEntry]:
    entries = []
    for i in range(0, len(raw) - len(raw) % _PQ_BYTES, _PQ_BYTES):
        f = _fields(_PQ_FIELDS, raw[i:i + _PQ_BYTES])
        try:
            h, m, s, fr = (int(f[k]) for k in ("hrs", "min", "sec", "frm"))
        except ValueError:
            h = m = s = fr = -1
        bad = f["spv"] != "VVVS" or min(h, m, s, fr) < 0 or s >= 60 or fr >= CD_FRAMES_PER_S or m >= 60
        frame = -1 if bad else ((h * 60 + m) * 60 + s) * CD_FRAMES_PER_S + fr
        entries.append(PQEntry(f["trk"], f["idx"], frame, f["cb1"], f["cb2"], f["isrc"], f["upc"], f["text"]))
    return entries


def _layout_from_pq(entries: list[PQEntry], cdtext: dict | None) -> CDLayout:
    text = cdtext or {}
    leadout = next((e.frame for e in entries if e.trk == "AA"), -1)
    starts: dict[int, dict[int, int]] = {}
    for e in entries:
        if e.trk.isdigit() and int(e.trk) > 0 and e.idx.isdigit():
            starts.setdefault(int(e.trk), {})[int(e.idx)] = e.frame
    isrcs = {int(e.trk): e.isrc for e in entries if e.trk.isdigit() and int(e.trk) > 0 and e.idx == "01"}
    numbers = sorted(starts)
    tracks = []
    for k, n in enumerate(numbers):
        idx01 = starts[n].get(1, -1)
        idx00 = starts[n].get(0, idx01)
        end = leadout
        if k + 1 < len(numbers):
            nxt = starts[numbers[k + 1]]
            end = nxt.get(0, nxt.get(1, -1))
        t = text.get(n, {})
        tracks.append(CDTrackLayout(n, t.get("title", ""), t.get("performer", ""), isrcs.get(n, ""), idx00,
                                    idx01, end))
    upc = next((e.upc for e in entries if e.upc), "")
    album = text.get(0, {})
    return CDLayout(upc, album.get("title", ""), album.get("performer", ""), tuple(tracks), leadout)


def read_ddp(folder: Path) -> DDPImage:
    """Parse a DDP folder: DDPID, DDPMS, the PQ descriptor and CD-TEXT it names, the checksum file.

    The layout is rebuilt from the PQ entries (track ``end`` = the next track's first index point or the
    lead-out) with titles and performers from CD-TEXT when present (as stored: ISO-8859-1, see
    :func:`farm.deliver.cdtext.latin1_text`). CD-TEXT is parsed without failing on CRC errors
    (:func:`verify_ddp` reports those). The audio is :meth:`DDPImage.audio`.

    Raises
    ------
    FileNotFoundError
        When DDPID or DDPMS is missing.
    """
    folder = Path(folder)
    ddpid = DDPID(**_fields(_DDPID_FIELDS, (folder / "DDPID").read_bytes()[:_ID_BYTES]))
    raw_ms = (folder / "DDPMS").read_bytes()
    ms = tuple(MapPacket(**_fields(_MS_FIELDS, raw_ms[i:i + _MS_BYTES]))
               for i in range(0, len(raw_ms) - len(raw_ms) % _MS_BYTES, _MS_BYTES))
    pq_packet = next((p for p in ms if p.dst == "S0" and p.sub == "PQ DESCR"), None)
    pq_path = folder / (pq_packet.dsi if pq_packet and pq_packet.dsi else PQ_NAME)
    pq = tuple(_parse_pq(pq_path.read_bytes())) if pq_path.is_file() else ()
    text_packet = next((p for p in ms if p.dst == "S0" and p.sub == "CDTEXT"), None)
    cdtext = None
    if text_packet is not None and (folder / text_packet.dsi).is_file():
        data = (folder / text_packet.dsi).read_bytes()
        try:
            cdtext = parse_cdtext(data[:len(data) - len(data) % PACK_BYTES], check_crc=False)
        except ValueError:
            cdtext = None
    checksums = {}
    if (folder / CHECKSUM_NAME).is_file():
        for line in (folder / CHECKSUM_NAME).read_text(encoding="ascii", errors="replace").splitlines():
            digest, _, name = line.partition(" ")
            if name:
                checksums[name.lstrip(" *")] = digest.lower()
    return DDPImage(folder, ddpid, ms, pq, _layout_from_pq(list(pq), cdtext), cdtext, checksums)


def _stored_layout(layout: CDLayout) -> CDLayout:
    """``layout`` as a DDP stores it: titles/performers in their CD-TEXT (Latin-1) form, or empty without
    CD-TEXT."""
    has_text = layout.title or layout.performer or any(t.title or t.performer for t in layout.tracks)
    conv = latin1_text if has_text else (lambda s: "")
    tracks = tuple(CDTrackLayout(t.number, conv(t.title), conv(t.performer), t.isrc, t.index00, t.index01, t.end)
                   for t in layout.tracks)
    return CDLayout(layout.upc, conv(layout.title), conv(layout.performer), tracks, layout.leadout)


def verify_ddp(folder: Path, layout: CDLayout, image: np.ndarray, *, release_dir: Path | None = None
               ) -> list[Check]:
    """Read a DDP folder back and check it against ``layout`` and ``image``; one :class:`Check` per finding.

    Checks: ``ddpid_size``, ``ddpid_level``, ``ddpid_upc``, ``ddpid_type``, ``ddpms_size``, ``ddpms_d0``
    (length = lead-out sectors, CD-DA, IMAGE.DAT), ``ddpms_streams`` (every DSI names a file that exists),
    ``pq_size``, ``pq_times`` (every index point), ``pq_isrc``, ``pq_upc``, ``pq_leadout``, ``pq_layout`` (the
    layout rebuilt from PQ + CD-TEXT equals ``layout`` as stored), ``image_size``, ``image_matches`` (sample for
    sample), ``md5`` (one per file in CHECKSUM.MD5, recomputed, plus that every file is listed), and with
    CD-TEXT ``cdtext_size``, ``cdtext_crc``, ``cdtext_size_info``, ``cdtext_text``. Never raises for a failed check.

    ``path`` of each check is relative to ``release_dir`` (default: the folder's parent).
    """
    folder = Path(folder)
    base = Path(release_dir) if release_dir is not None else folder.parent
    checks: list[Check] = []

    def rel(name: str) -> str:
        try:
            return (folder / name).relative_to(base).as_posix()
        except ValueError:
            return (folder / name).as_posix()

    def add(name: str, file: str, passed: bool, expected: object = "", measured: object = "", detail: str = ""):
        checks.append(Check(FORMAT, rel(file), name, bool(passed), str(expected), str(measured), detail))

    try:
        want_cdtext = cdtext_packs(layout)
    except ValueError:
        want_cdtext = b"x"  # too long to write; any CD-TEXT found is still checked
    try:
        ddp = read_ddp(folder)
    except (OSError, ValueError) as exc:
        add("readable", "", False, "DDPID and DDPMS readable", "unreadable", str(exc))
        return checks

    size = (folder / "DDPID").stat().st_size
    add("ddpid_size", "DDPID", size == _ID_BYTES, _ID_BYTES, size)
    add("ddpid_level", "DDPID", ddp.ddpid.level == DDP_LEVEL, DDP_LEVEL, ddp.ddpid.level)
    add("ddpid_upc", "DDPID", ddp.ddpid.upc == layout.upc, layout.upc, ddp.ddpid.upc)
    add("ddpid_type", "DDPID", ddp.ddpid.type == "CD", "CD", ddp.ddpid.type)

    size = (folder / "DDPMS").stat().st_size
    add("ddpms_size", "DDPMS", size % _MS_BYTES == 0 and size > 0 and all(p.mpv == "VVVM" for p in ddp.ms),
        "n x 128 bytes, each VVVM", f"{size} bytes, {[p.mpv for p in ddp.ms]}")
    d0 = [p for p in ddp.ms if p.dst == "D0"]
    d0_ok = len(d0) == 1 and d0[0].dsl == f"{layout.leadout:08d}" and d0[0].cdm == "DA" and d0[0].dsi == IMAGE_NAME
    add("ddpms_d0", "DDPMS", d0_ok, f"one D0: DSL {layout.leadout:08d}, CDM DA, DSI {IMAGE_NAME}",
        "; ".join(f"DSL {p.dsl}, CDM {p.cdm}, DSI {p.dsi}" for p in d0) or "no D0 packet")
    missing = [p.dsi for p in ddp.ms if not p.dsi or not (folder / p.dsi).is_file()]
    subs = sorted(p.sub for p in ddp.ms if p.dst == "S0")
    want_subs = sorted(["PQ DESCR"] + (["CDTEXT"] if want_cdtext else []))
    add("ddpms_streams", "DDPMS", not missing and subs == want_subs, f"S0 streams {want_subs}, all files exist",
        f"S0 streams {subs}", f"missing: {missing}" if missing else "")

    pq_raw = (folder / PQ_NAME).read_bytes() if (folder / PQ_NAME).is_file() else b""
    add("pq_size", PQ_NAME, len(pq_raw) % _PQ_BYTES == 0 and len(pq_raw) > 0
        and all(e.frame >= 0 for e in ddp.pq), "n x 64 bytes, each VVVS with a valid time", f"{len(pq_raw)} bytes")
    want = pq_entries_for(layout)
    got = list(ddp.pq)
    key = [(e.trk, e.idx) for e in want]
    got_key = [(e.trk, e.idx) for e in got]
    time_bad = [f"{w.trk}/{w.idx}: {w.time} vs {g.time}" for w, g in zip(want, got) if w.frame != g.frame]
    add("pq_times", PQ_NAME, key == got_key and not time_bad,
        " ".join(f"{e.trk}/{e.idx}@{e.time}" for e in want), " ".join(f"{e.trk}/{e.idx}@{e.time}" for e in got),
        "; ".join(time_bad) if time_bad else ("" if key == got_key else "index points differ"))
    isrc_bad = [f"{w.trk}/{w.idx}: {w.isrc!r} vs {g.isrc!r}" for w, g in zip(want, got) if w.isrc != g.isrc]
    add("pq_isrc", PQ_NAME, len(want) == len(got) and not isrc_bad,
        ",".join(t.isrc for t in layout.tracks), ",".join(e.isrc for e in got if e.idx == "01" and e.trk != "AA"),
        "; ".join(isrc_bad))
    upcs = sorted({e.upc for e in got})
    add("pq_upc", PQ_NAME, upcs == [layout.upc], layout.upc, ",".join(upcs))
    leadout = [e for e in got if e.trk == "AA"]
    add("pq_leadout", PQ_NAME, len(leadout) == 1 and leadout[0].frame == layout.leadout and got[-1].trk == "AA",
        f"AA at {_pq_time(layout.leadout)}, last entry", ", ".join(f"AA at {e.time}" for e in leadout) or "none")
    stored = _stored_layout(layout)
    add("pq_layout", PQ_NAME, ddp.layout == stored, "layout rebuilt from PQ + CD-TEXT equals the layout",
        "equal" if ddp.layout == stored else "differs",
        "" if ddp.layout == stored else f"read {ddp.layout} vs {stored}")

    image_path = folder / IMAGE_NAME
    want_bytes = layout.leadout * SECTOR_BYTES
    have_bytes = image_path.stat().st_size if image_path.is_file() else -1
    add("image_size", IMAGE_NAME, have_bytes == want_bytes, want_bytes, have_bytes,
        f"{layout.leadout} sectors x {SECTOR_BYTES} bytes")
    if have_bytes == want_bytes and image.shape == (layout.leadout * CD_FRAME_SAMPLES, 2):
        disk = ddp.audio()
        first_diff, n_diff = -1, 0
        step = _CHUNK_FRAMES * CD_FRAME_SAMPLES
        for start in range(0, image.shape[0], step):
            diff = np.flatnonzero(np.any(disk[start:start + step] != image[start:start + step], axis=1))
            if diff.size and first_diff < 0:
                first_diff = start + int(diff[0])
            n_diff += int(diff.size)
        del disk
        add("image_matches", IMAGE_NAME, n_diff == 0, "every sample equal",
            "equal" if n_diff == 0 else f"{n_diff} stereo samples differ",
            "" if n_diff == 0 else f"first at sample {first_diff} (disc frame {first_diff // CD_FRAME_SAMPLES}); "
            f"byte order {IMAGE_BYTE_ORDER!r}")
    else:
        add("image_matches", IMAGE_NAME, False, "every sample equal", "not compared",
            f"IMAGE.DAT is {have_bytes} bytes, image is {image.shape}")

    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUM_NAME)
    add("md5_listed", CHECKSUM_NAME, sorted(ddp.checksums) == names, ",".join(names), ",".join(sorted(ddp.checksums)))
    for name, digest in sorted(ddp.checksums.items()):
        actual = _md5(folder / name) if (folder / name).is_file() else "missing"
        add("md5", name, actual == digest, digest, actual)

    if (folder / CDTEXT_NAME).is_file() or want_cdtext:
        data = (folder / CDTEXT_NAME).read_bytes() if (folder / CDTEXT_NAME).is_file() else b""
        packs = [data[i:i + PACK_BYTES] for i in range(0, len(data), PACK_BYTES)]
        add("cdtext_size", CDTEXT_NAME, len(data) > 0 and len(data) % PACK_BYTES == 0,
            f"n x {PACK_BYTES} bytes", f"{len(data)} bytes")
        bad = [i for i, p in enumerate(packs) if not pack_crc_ok(p)]
        add("cdtext_crc", CDTEXT_NAME, data != b"" and not bad, f"{len(packs)} packs, CRCs valid",
            f"{len(bad)} bad" if bad else "all valid", f"packs {bad[:10]}" if bad else "")
        try:
            parsed = parse_cdtext(data[:len(data) - len(data) % PACK_BYTES], check_crc=False)
        except ValueError as exc:
            parsed = {}
            add("cdtext_size_info", CDTEXT_NAME, False, "size information matches the packs", "unreadable",
                str(exc))
        else:
            info = parsed.get("size_info", {})
            counts = {t: n for t, n in parsed.get("packs", {}).items()}
            ok = (bool(info) and info["pack_counts"] == counts and info["last_seq"] == len(packs) - 1
                  and info["language"] == 0x09 and info["charcode"] == 0x00
                  and info["last_track"] == layout.tracks[-1].number)
            add("cdtext_size_info", CDTEXT_NAME, ok, f"counts {counts}, last seq {len(packs) - 1}, English, Latin-1",
                f"{info}")
        want_text = {0: (stored.title, stored.performer)}
        want_text.update({t.number: (t.title, t.performer) for t in stored.tracks})
        got_text = {n: (parsed.get(n, {}).get("title", ""), parsed.get(n, {}).get("performer", ""))
                    for n in want_text}
        changed = [c for c in (latin1_changes(s) for s in [layout.title, layout.performer]
                               + [x for t in layout.tracks for x in (t.title, t.performer)]) if c]
        add("cdtext_text", CDTEXT_NAME, got_text == want_text, want_text, got_text, "; ".join(changed))
    return checks
