"""The layout of an audio CD: where every track and index sits, in CD frames (1/75 s, 588 stereo samples).

One convention for everything CD in the farm (DDP, CUE, PQ sheet):

* **Disc frame 0 is 00:00:00**, the start of the 2 s (150-frame) pregap before track 1. IMAGE.DAT holds disc
  frames ``0 .. leadout`` (the pregap's digital silence included), so a disc frame is a sector of IMAGE.DAT.
* Track 1: ``index00 = 0``, ``index01 = 150``. Track ``k > 1``: ``index00`` where its gap (the silence
  before it) starts, ``index01`` where its audio starts; ``index00 == index01`` for a gapless track.
* ``end`` of a track is the next track's ``index00`` (or the lead-out).
* The CUE/WAV pair holds disc frames ``150 .. leadout``: CUE times are disc frames minus 150, track 1 is
  ``INDEX 01 00:00:00`` with its 2 s pregap implicit (as cdrdao and every CUE reader take it).
"""

from __future__ import annotations

from dataclasses import dataclass

from farm.deliver.model import CD_FRAMES_PER_S, CD_PREGAP_FRAMES

__all__ = ["CDTrackLayout", "CDLayout", "msf", "parse_msf"]


@dataclass(frozen=True)
class CDTrackLayout:
    number: int
    title: str
    performer: str
    isrc: str  # 12 characters or ""
    index00: int
    index01: int
    end: int

    @property
    def gap_frames(self) -> int:
        return self.index01 - self.index00

    @property
    def length_frames(self) -> int:
        """From INDEX 01 to the end (what a player shows as the track's length)."""
        return self.end - self.index01


@dataclass(frozen=True)
class CDLayout:
    upc: str  # 13 digits (EAN-13; a 12-digit UPC-A gets a leading 0) or ""
    title: str
    performer: str
    tracks: tuple[CDTrackLayout, ...]
    leadout: int  # disc frame of the lead-out = frames in IMAGE.DAT

    @property
    def program_frames(self) -> int:
        """Frames of the CUE's WAV (disc frames 150 .. lead-out)."""
        return self.leadout - CD_PREGAP_FRAMES


def msf(frames: int) -> str:
    """``MM:SS:FF`` of a frame count (75 frames a second).

    >>> msf(150), msf(4 * 60 * 75 + 33 * 75 + 74)
    ('00:02:00', '04:33:74')
    """
    m, rest = divmod(int(frames), 60 * CD_FRAMES_PER_S)
    s, f = divmod(rest, CD_FRAMES_PER_S)
    return f"{m:02d}:{s:02d}:{f:02d}"


def parse_msf(text: str) -> int:
    """Frames of ``MM:SS:FF``; raises ValueError for anything else (FF must be 0..74, SS 0..59).

    >>> parse_msf("04:33:74")
    20549
    """
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not MM:SS:FF")
    m, s, f = (int(p) for p in parts)
    if s >= 60 or f >= CD_FRAMES_PER_S:
        raise ValueError(f"{text!r}: seconds must be 0..59 and frames 0..74")
    return (m * 60 + s) * CD_FRAMES_PER_S + f
