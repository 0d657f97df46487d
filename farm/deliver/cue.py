"""CUE sheets for a one-file CD image: write one from a :class:`~farm.deliver.cdlayout.CDLayout`, parse one back.

What is written (the subset of the CUE format that CD burners, cuetools and rippers agree on)::

    REM COMMENT "farm cd; UTF-8"
    REM DATE 2024
    CATALOG 0036000291452
    PERFORMER "Artist"
    TITLE "Album"
    FILE "Album.wav" WAVE
      TRACK 01 AUDIO
        TITLE "First"
        PERFORMER "Artist"
        ISRC USRC17607839
        INDEX 01 00:00:00
      TRACK 02 AUDIO
        ...
        INDEX 00 04:12:30
        INDEX 01 04:14:30

Times are positions in the WAV, which holds disc frames 150..lead-out (see :mod:`farm.deliver.cdlayout`):
``CUE time = disc frame - 150``. Track 1's INDEX 00 (disc frame 0, the 2 s pregap) is implicit, as every CUE
reader takes it; a later track has ``INDEX 00`` only when it has a gap (a gapless track's INDEX 00 would have
zero length). ``CATALOG`` and ``ISRC`` are written only when known.

Text encoding: **UTF-8, no byte-order mark**, said in the first line's ``REM COMMENT``. Why not ISO-8859-1:
the CUE sheet is for people and software (rippers, players, cuetools, cdrdao) that read UTF-8, and it keeps a
title as it is; the disc's own text (CD-TEXT) is ISO-8859-1 and is made separately by
:mod:`farm.deliver.cdtext`. A BOM is left out because some parsers (libcue among them) take it as part of the
first keyword. The CUE format has no escape for ``"`` inside a quoted string, so a straight double quote in a
title becomes a typographic one (“ opening, ” closing, alternately); line breaks, tabs and other control
characters become spaces. :func:`cue_text` is that mapping; the parse-back check compares against it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from farm.deliver.cdlayout import CDLayout, CDTrackLayout, msf, parse_msf
from farm.deliver.model import CD_PREGAP_FRAMES

__all__ = ["cue_text", "write_cue_text", "parse_cue", "CueSheet", "ENCODING"]

ENCODING = "utf-8"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def cue_text(text: str) -> str:
    """``text`` as a CUE quoted string holds it: straight ``"`` -> “/” alternately, control characters -> space.

    >>> cue_text('The "Best" Song')
    'The “Best” Song'
    """
    out, opening = [], True
    for ch in _CONTROL.sub(" ", text):
        if ch == '"':
            out.append("“" if opening else "”")
            opening = not opening
        else:
            out.append(ch)
    return "".join(out).strip()


def _quoted(text: str) -> str:
    return f'"{cue_text(text)}"'


def write_cue_text(layout: CDLayout, wav_name: str, *, date: str = "") -> str:
    """The CUE sheet of ``layout`` for one WAV named ``wav_name`` (disc frames 150..lead-out).

    Parameters
    ----------
    layout : CDLayout
    wav_name : str
        The WAV's file name, as the ``FILE`` line names it (no folder).
    date : str
        ``REM DATE`` when not empty (e.g. "2024").

    Returns
    -------
    str
        The sheet, ``\\n`` line ends; encode it as :data:`ENCODING`.
    """
    if '"' in wav_name or "/" in wav_name:
        raise ValueError(f"WAV name {wav_name!r} must be a bare file name without quotes")
    lines = ['REM COMMENT "farm cd; UTF-8"']
    if date:
        lines.append(f"REM DATE {cue_text(date).split()[0]}")
    if layout.upc:
        lines.append(f"CATALOG {layout.upc}")
    if layout.performer:
        lines.append(f"PERFORMER {_quoted(layout.performer)}")
    if layout.title:
        lines.append(f"TITLE {_quoted(layout.title)}")
    lines.append(f'FILE "{wav_name}" WAVE')
    for t in layout.tracks:
        lines.append(f"  TRACK {t.number:02d} AUDIO")
        if t.title:
            lines.append(f"    TITLE {_quoted(t.title)}")
        if t.performer:
            lines.append(f"    PERFORMER {_quoted(t.performer)}")
        if t.isrc:
            lines.append(f"    ISRC {t.isrc}")
        if t.number != layout.tracks[0].number and t.index00 < t.index01:
            lines.append(f"    INDEX 00 {msf(t.index00 - CD_PREGAP_FRAMES)}")
        lines.append(f"    INDEX 01 {msf(t.index01 - CD_PREGAP_FRAMES)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CueSheet:
    """A parsed CUE sheet: its layout in disc frames and what else it said."""

    layout: CDLayout
    file_name: str
    file_type: str
    rem: dict = field(default_factory=dict)


def parse_cue(text: str, *, program_frames: int | None = None) -> CueSheet:
    """Parse a one-file CUE sheet back into a :class:`CDLayout` (disc frames, as :mod:`cdlayout` counts).

    Parameters
    ----------
    text : str
        The sheet.
    program_frames : int, optional
        Frames of the WAV (disc frames 150..lead-out); gives the lead-out and the last track's end. Without
        it both are the last track's INDEX 01 (unknown).

    Returns
    -------
    CueSheet

    Raises
    ------
    ValueError
        For a line that is not understood, a second FILE, a track without INDEX 01, times out of order, or a
        track number out of sequence.

    Examples
    --------
    >>> sheet = parse_cue('FILE "a.wav" WAVE\\n TRACK 01 AUDIO\\n  INDEX 01 00:00:00\\n', program_frames=400)
    >>> sheet.layout.tracks[0].index01, sheet.layout.leadout
    (150, 550)
    """
    disc: dict[str, str] = {"upc": "", "title": "", "performer": ""}
    tracks: list[dict] = []
    rem: dict[str, str] = {}
    file_name = file_type = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        where = f"line {lineno} ({raw.strip()!r})"
        if keyword == "REM":
            key, _, value = rest.partition(" ")
            rem[key.upper()] = _unquote(value.strip(), where)
        elif keyword == "CATALOG":
            if tracks:
                raise ValueError(f"{where}: CATALOG must come before the first TRACK")
            disc["upc"] = rest
        elif keyword in ("TITLE", "PERFORMER", "SONGWRITER"):
            target = tracks[-1] if tracks else disc
            target[keyword.lower()] = _unquote(rest, where)
        elif keyword == "FILE":
            if file_name is not None:
                raise ValueError(f"{where}: a second FILE; one WAV per sheet is expected")
            parts = _split(rest, where)
            if len(parts) != 2:
                raise ValueError(f"{where}: FILE needs a name and a type")
            file_name, file_type = parts[0], parts[1].upper()
        elif keyword == "TRACK":
            parts = rest.split()
            if file_name is None or len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f"{where}: TRACK nn TYPE after FILE expected")
            number = int(parts[0])
            if tracks and number != tracks[-1]["number"] + 1:
                raise ValueError(f"{where}: track {number} follows track {tracks[-1]['number']}")
            tracks.append({"number": number, "type": parts[1].upper(), "title": "", "performer": "", "isrc": "",
                           "index": {}})
        elif keyword == "ISRC":
            if not tracks:
                raise ValueError(f"{where}: ISRC outside a TRACK")
            tracks[-1]["isrc"] = rest
        elif keyword == "INDEX":
            parts = rest.split()
            if not tracks or len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f"{where}: INDEX nn MM:SS:FF inside a TRACK expected")
            tracks[-1]["index"][int(parts[0])] = parse_msf(parts[1]) + CD_PREGAP_FRAMES
        elif keyword in ("FLAGS", "PREGAP", "POSTGAP", "CDTEXTFILE"):
            if keyword in ("PREGAP", "POSTGAP"):
                raise ValueError(f"{where}: {keyword} (silence not in the file) is not used by this farm")
        else:
            raise ValueError(f"{where}: unknown command {keyword}")
    if not tracks:
        raise ValueError("no TRACK in the sheet")
    built: list[CDTrackLayout] = []
    starts = []
    for i, t in enumerate(tracks):
        if 1 not in t["index"]:
            raise ValueError(f"track {t['number']} has no INDEX 01")
        index01 = t["index"][1]
        index00 = 0 if i == 0 else t["index"].get(0, index01)
        if i == 0 and 0 in t["index"] and t["index"][0] != CD_PREGAP_FRAMES:
            raise ValueError(f"track {t['number']}: INDEX 00 inside the file before track 1 is not supported")
        if index00 > index01 or (starts and index00 < starts[-1]):
            raise ValueError(f"track {t['number']}: index times out of order")
        starts.append(index01)
        built.append([t, index00, index01])
    leadout = CD_PREGAP_FRAMES + program_frames if program_frames is not None else starts[-1]
    result = []
    for i, (t, index00, index01) in enumerate(built):
        end = built[i + 1][1] if i + 1 < len(built) else leadout
        result.append(CDTrackLayout(t["number"], t["title"], t["performer"], t["isrc"], index00, index01, end))
    layout = CDLayout(disc["upc"], disc["title"], disc["performer"], tuple(result), leadout)
    return CueSheet(layout, file_name, file_type, rem)


def _split(rest: str, where: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _unquote(value: str, where: str) -> str:
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"') or '"' in value[1:-1]:
            raise ValueError(f"{where}: badly quoted string")
        return value[1:-1]
    return value
