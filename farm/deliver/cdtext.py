"""CD-TEXT in the lead-in: the 18-byte packs of a DDP's CDTEXT.BIN (or a burner's CD-TEXT file).

What is written (one block, block 0, language English, character code ISO-8859-1), in this order:

* ``0x80`` titles and ``0x81`` performers: for "track" 0 (the album) and tracks 1..n, each a NUL-terminated
  string; the strings of one pack type run on from pack to pack, 12 bytes a pack, the last pack padded with
  NULs. A type is left out when every one of its strings is empty.
* ``0x8E`` UPC/EAN (track 0) and ISRCs (tracks 1..n), when any exists.
* ``0x8F`` size information, three packs (36 bytes): character code, first and last track, copyright flags,
  the number of packs of each type 0x80..0x8F, the last sequence number of each of the 8 blocks, and the
  language code of each block (0x09 = English).

A pack: byte 0 type; byte 1 the track number of the string its first text byte belongs to (bit 7, the
extension flag, is 0); byte 2 the sequence number (0, 1, 2... over the block); byte 3 block number in bits
4-6 and, in bits 0-3, how many characters of that string came before this pack (15 for 15 or more); bytes 4-15
text; bytes 16-17 the CRC-16 of bytes 0-15 (polynomial 0x1021, initial value 0, no reflection), inverted
(XOR 0xFFFF), big-endian. For 0x8F byte 1 holds the pack's index in the size information (0, 1, 2). This is
the layout SCSI MMC-3 gives for "CD-TEXT in the lead-in" and that cdrecord and cdrdao write; ddpLib (an
open-source DDP reader) reads a DDP's CDTEXT.BIN as these packs back to back, with no header, which is also
what is written here.

Characters outside ISO-8859-1: CD-TEXT block 0 here is ISO-8859-1 (one byte a character), so a title such as
"Łódź" cannot be stored as it is. :func:`latin1_text` decides what is stored: characters that Latin-1 has stay;
typographic punctuation becomes its ASCII form (curly quotes, dashes, ellipsis); a letter that decomposes
(NFKD) into a Latin-1 letter plus accents keeps that letter ("ő" -> "o"); a few letters that do not decompose
get their usual Latin transliteration ("Ł" -> "L", "Œ" -> "OE"); anything else becomes "?". The change is
reported (see :func:`latin1_changes`) rather than hidden, so a person can decide whether to retitle.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "CDTEXT_LANGUAGE_ENGLISH",
    "CDTEXT_MAX_PACKS",
    "PACK_BYTES",
    "cdtext_packs",
    "crc16_cdtext",
    "latin1_changes",
    "latin1_text",
    "pack_crc_ok",
    "parse_cdtext",
]

PACK_BYTES = 18
_TEXT_BYTES = 12
CDTEXT_LANGUAGE_ENGLISH = 0x09
CHARCODE_ISO_8859_1 = 0x00
#: Sequence numbers are one byte, so one block holds at most 256 packs.
CDTEXT_MAX_PACKS = 256
_TYPE_TITLE, _TYPE_PERFORMER, _TYPE_CODES, _TYPE_SIZE = 0x80, 0x81, 0x8E, 0x8F

# Letters with no NFKD decomposition into a Latin-1 base, and punctuation with a plain ASCII form.
_TRANSLITERATION = {
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŀ": "L", "ŀ": "l",
    "Œ": "OE", "œ": "oe", "ŉ": "'n", "Ŋ": "N", "ŋ": "n", "Ŧ": "T", "ŧ": "t", "ſ": "s", "ƒ": "f",
    "‘": "'", "’": "'", "‚": ",", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "′": "'", "″": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "…": "...", "•": "*", "€": "EUR",
    "™": "(TM)", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_cdtext(data: bytes) -> int:
    """CRC of a CD-TEXT pack's first 16 bytes as stored: CRC-16/CCITT (0x1021, init 0) XOR 0xFFFF.

    >>> hex(crc16_cdtext(b"123456789"))  # CRC-16/XMODEM of this is 0x31c3
    '0xce3c'
    """
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def pack_crc_ok(pack: bytes) -> bool:
    """Whether an 18-byte pack's stored CRC (bytes 16-17, big-endian) matches its first 16 bytes."""
    return len(pack) == PACK_BYTES and int.from_bytes(pack[16:18], "big") == crc16_cdtext(pack[:16])


def latin1_text(text: str) -> str:
    """What CD-TEXT (ISO-8859-1) stores for ``text``; see the module docstring for the rules.

    >>> latin1_text("Café “Łódź” – Ω")
    'Café "Lódz" - ?'
    """
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch == "\x00":
            continue  # NUL terminates a CD-TEXT string; it cannot be inside one
        if ord(ch) < 0x100:
            out.append(ch if ch.isprintable() else " ")
        elif ch in _TRANSLITERATION:
            out.append(_TRANSLITERATION[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(ord(c) < 0x100 and c.isprintable() for c in base) else "?")
    return "".join(out)


def latin1_changes(text: str) -> str | None:
    """``None`` when CD-TEXT stores ``text`` as it is, else a sentence saying what it stores instead."""
    stored = latin1_text(text)
    if stored == unicodedata.normalize("NFC", text):
        return None
    return f"{text!r} is stored as {stored!r} (CD-TEXT here is ISO-8859-1)"


def _pack(pack_type: int, track: int, seq: int, block: int, char_pos: int, payload: bytes) -> bytes:
    head = bytes([pack_type, track & 0x7F, seq & 0xFF, ((block & 0x07) << 4) | min(char_pos, 15)])
    body = head + payload.ljust(_TEXT_BYTES, b"\x00")
    return body + crc16_cdtext(body).to_bytes(2, "big")


def _text_packs(pack_type: int, strings: list[bytes], seq0: int) -> list[bytes]:
    """Packs of one type from the strings of tracks 0..n (each already NUL-free), numbered from ``seq0``."""
    stream = bytearray()
    owner: list[tuple[int, int]] = []  # per byte: (track, position within its string)
    for track, s in enumerate(strings):
        terminated = s + b"\x00"
        stream += terminated
        owner += [(track, i) for i in range(len(terminated))]
    packs = []
    for start in range(0, len(stream), _TEXT_BYTES):
        track, pos = owner[start]
        packs.append(_pack(pack_type, track, seq0 + len(packs), 0, pos, bytes(stream[start:start + _TEXT_BYTES])))
    return packs


def cdtext_packs(layout) -> bytes:
    """The CD-TEXT packs of a disc (block 0, English, ISO-8859-1), back to back: a DDP's CDTEXT.BIN.

    Parameters
    ----------
    layout : farm.deliver.cdlayout.CDLayout
        Album title/performer are track 0; each track's ``title``/``performer``/``isrc`` its own; the UPC
        goes into pack type 0x8E for track 0.

    Returns
    -------
    bytes
        A multiple of 18 bytes; ``b""`` when there is no title and no performer at all.

    Raises
    ------
    ValueError
        When the text needs more than 256 packs (one block's sequence numbers): shorten titles.

    Examples
    --------
    >>> from farm.deliver.cdlayout import CDLayout, CDTrackLayout
    >>> lay = CDLayout("", "Album", "Band", (CDTrackLayout(1, "Song", "", "", 0, 150, 600),), 600)
    >>> data = cdtext_packs(lay); len(data) % 18, parse_cdtext(data)[1]["title"]
    (0, 'Song')
    """
    titles = [layout.title] + [t.title for t in layout.tracks]
    performers = [layout.performer] + [t.performer for t in layout.tracks]
    if not any(titles) and not any(performers):
        return b""
    packs: list[bytes] = []
    counts = [0] * 16
    for pack_type, texts in ((_TYPE_TITLE, titles), (_TYPE_PERFORMER, performers)):
        if any(texts):
            new = _text_packs(pack_type, [latin1_text(t).encode("latin-1") for t in texts], len(packs))
            packs += new
            counts[pack_type - 0x80] = len(new)
    codes = [layout.upc] + [t.isrc for t in layout.tracks]
    if any(codes):
        new = _text_packs(_TYPE_CODES, [c.encode("ascii") for c in codes], len(packs))
        packs += new
        counts[_TYPE_CODES - 0x80] = len(new)
    counts[_TYPE_SIZE - 0x80] = 3
    last_seq = len(packs) + 3 - 1
    if last_seq >= CDTEXT_MAX_PACKS:
        raise ValueError(
            f"CD-TEXT needs {last_seq + 1} packs but one block holds {CDTEXT_MAX_PACKS}: shorten titles or "
            "performer names")
    first = layout.tracks[0].number if layout.tracks else 1
    last = layout.tracks[-1].number if layout.tracks else 0
    size_info = bytes([CHARCODE_ISO_8859_1, first, last, 0x00]) + bytes(counts)
    size_info += bytes([last_seq] + [0] * 7) + bytes([CDTEXT_LANGUAGE_ENGLISH] + [0] * 7)
    for i in range(3):
        packs.append(_pack(_TYPE_SIZE, i, len(packs), 0, 0, size_info[i * _TEXT_BYTES:(i + 1) * _TEXT_BYTES]))
    return b"".join(packs)


def parse_cdtext(data: bytes, *, check_crc: bool = True) -> dict:
    """Read CD-TEXT packs back: ``{0: {"title", "performer", "upc"}, 1: {"title", "performer", "isrc"}, ...}``.

    Only block 0 is read. Keys appear for the pack types present. The 0x8F size information, when present,
    is returned under the key ``"size_info"`` (``charcode``, ``first_track``, ``last_track``, ``pack_counts``
    {type: n}, ``last_seq``, ``language``), and ``"packs"`` counts the packs of each type actually found.

    Raises
    ------
    ValueError
        When the length is not a multiple of 18, or (``check_crc``) a pack's CRC does not match, naming the
        pack; or when sequence numbers are not 0, 1, 2...
    """
    if len(data) % PACK_BYTES:
        raise ValueError(f"CD-TEXT is {len(data)} bytes, not a multiple of {PACK_BYTES}")
    packs = [data[i:i + PACK_BYTES] for i in range(0, len(data), PACK_BYTES)]
    streams: dict[int, list[tuple[int, bytes]]] = {}
    size_payload = b""
    found: dict[int, int] = {}
    for n, pack in enumerate(packs):
        if check_crc and not pack_crc_ok(pack):
            raise ValueError(
                f"CD-TEXT pack {n} (type 0x{pack[0]:02X}): CRC {pack[16:18].hex()} but its bytes give "
                f"{crc16_cdtext(pack[:16]):04x}")
        if (pack[3] >> 4) & 0x07:
            continue  # other blocks (languages) are not read
        if pack[2] != n:
            raise ValueError(f"CD-TEXT pack {n}: sequence number {pack[2]} (expected {n})")
        found[pack[0]] = found.get(pack[0], 0) + 1
        if pack[0] == _TYPE_SIZE:
            size_payload += pack[4:16]
        else:
            streams.setdefault(pack[0], []).append((pack[1] & 0x7F, pack[4:16]))
    result: dict = {}
    keys = {_TYPE_TITLE: "title", _TYPE_PERFORMER: "performer"}
    for pack_type, items in streams.items():
        if pack_type not in keys and pack_type != _TYPE_CODES:
            continue
        first_track = items[0][0]
        strings = b"".join(payload for _, payload in items).split(b"\x00")
        # One string per track from the first pack's track on. The NUL padding of the last pack leaves empty
        # pieces after the last string: the size information's last track says where the strings end; without
        # it, trailing empty strings cannot be told from padding and are dropped (up to the last pack's track).
        if len(size_payload) >= 3:
            n_strings = min(len(strings) - 1, size_payload[2] - first_track + 1)
        else:
            n_strings = len(strings) - 1
            while n_strings > 0 and strings[n_strings - 1] == b"" and first_track + n_strings - 1 > items[-1][0]:
                n_strings -= 1
        for i in range(n_strings):
            track = first_track + i
            if pack_type == _TYPE_CODES:
                key = "upc" if track == 0 else "isrc"
                text = strings[i].decode("ascii", errors="replace")
            else:
                key = keys[pack_type]
                text = strings[i].decode("latin-1")
            result.setdefault(track, {})[key] = text
    if len(size_payload) >= 36:
        result["size_info"] = {
            "charcode": size_payload[0], "first_track": size_payload[1], "last_track": size_payload[2],
            "pack_counts": {0x80 + i: size_payload[4 + i] for i in range(16) if size_payload[4 + i]},
            "last_seq": size_payload[20], "language": size_payload[28],
        }
    result["packs"] = found
    return result

