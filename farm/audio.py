"""Reading audio files safely: probe what a file is, then stream it in bounded blocks.

A catalogue holds files that were exported, copied and renamed by many hands, so every way a file can be broken
must end in an :class:`~farm.errors.InputError` whose message a person understands, never in a libsndfile
error code or a silently shortened track. Two things libsndfile does not do for us are done here:

* It trusts a WAV/AIFF file's *length on disk* over its header, so a copy that was cut short reads as a shorter,
  valid track. :func:`probe` walks the chunk list of RIFF/RIFX/RF64/BW64, Sony Wave64, AIFF/AIFC, CAF and Sun AU
  files itself and compares the size the header declares for the audio data with the bytes that are present.
* Compressed formats (FLAC, MP3) state their length in a header that a truncated file still carries, and the
  decoder simply stops early or loses sync. :func:`read_blocks` counts the frames it decoded and compares them
  with the probed length. For Ogg, libsndfile takes the length from the last page, so :func:`probe` instead checks
  that the last page is complete and marks the end of the stream.

Limits, stated so nobody relies on more: an MP3 without a Xing/Info frame count carries no length at all, so its
length is counted by decoding it once in :func:`probe` and a truncated one cannot be told from a short one.

Both functions only read: the file is opened read-only and nothing is written beside it.

Both also take object-storage URIs (``s3://bucket/key``, ``gs://bucket/key``, see :mod:`farm.storage`): the object
is read with ranged GETs through a buffered, seekable file object handed to libsndfile, so the same checks run
and memory stays bounded. Local paths go to libsndfile by name as before (no extra copy or Python-level I/O).
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from farm import storage
from farm.errors import InputError

__all__ = ["AudioInfo", "probe", "read_blocks", "MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE", "MAX_CHANNELS"]

MIN_SAMPLE_RATE = 8_000
"""Lowest sample rate accepted, in Hz (telephone-band material; below this nothing downstream is meaningful)."""
MAX_SAMPLE_RATE = 384_000
"""Highest sample rate accepted, in Hz (the highest PCM rate in professional use)."""
MAX_CHANNELS = 8
"""Most channels accepted (7.1); more is a stem or a multitrack export, not a master."""

# Stored bits per sample by libsndfile subtype. Lossy and companded subtypes (MP3, Vorbis, Opus, u-law, ADPCM)
# have no meaningful bit depth and map to None.
_BITS_PER_SAMPLE = {
    "PCM_S8": 8,
    "PCM_U8": 8,
    "PCM_16": 16,
    "PCM_24": 24,
    "PCM_32": 32,
    "FLOAT": 32,
    "DOUBLE": 64,
    "ALAC_16": 16,
    "ALAC_20": 20,
    "ALAC_24": 24,
    "ALAC_32": 32,
    "DPCM_8": 8,
    "DPCM_16": 16,
}
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})

# libsndfile reports SF_COUNT_MAX frames when a stream does not state its length (e.g. a FLAC encoded from a
# pipe, whose STREAMINFO total is 0).
_UNKNOWN_LENGTH = 2**62


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` found out about an audio file.

    Parameters
    ----------
    path : str
        The path as given to :func:`probe`.
    sample_rate : int
        Hz.
    channels : int
        1..``MAX_CHANNELS``.
    frames : int
        Samples per channel; exact (for a tag-less MP3 it was counted by decoding).
    subtype : str
        libsndfile's subtype name, e.g. ``'PCM_16'``, ``'PCM_24'``, ``'FLOAT'``, ``'VORBIS'``.
    container : str
        libsndfile's format name, e.g. ``'WAV'``, ``'FLAC'``, ``'AIFF'``, ``'OGG'``, ``'MP3'``.
    duration_s : float
        ``frames / sample_rate``.
    bits_per_sample : int or None
        Stored bits per sample (8, 16, 20, 24, 32 or 64); None for lossy or companded codings.
    is_float : bool
        True when samples are stored as floating point (and may legitimately exceed full scale).
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    subtype: str
    container: str
    duration_s: float
    bits_per_sample: int | None
    is_float: bool


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Find out what an audio file holds without decoding it (except a tag-less MP3), or say why it cannot be read.

    Parameters
    ----------
    path : str or path-like
        The file, or an object's URI (``s3://bucket/key``, ``gs://bucket/key``). It is opened read-only; nothing
        is written.

    Returns
    -------
    AudioInfo

    Raises
    ------
    InputError
        When the file is missing, not a regular file, empty, not audio, cut short (the header declares more audio
        than the file holds, or an Ogg stream lacks its last page), of unknown length, holds no frames, or has a
        sample rate outside 8..384 kHz or more than 8 channels. The message starts with the path. For a URI:
        also when the object is not found or the credentials are refused ("access denied; check the
        credentials ...").

    Examples
    --------
    >>> info = probe("mix.wav")  # doctest: +SKIP
    >>> info.sample_rate, info.channels, info.subtype  # doctest: +SKIP
    (48000, 2, 'PCM_24')
    """
    name = os.fspath(path)
    if storage.is_uri(name):
        return _probe(name, _object_size(name))
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: file not found; check the path (or the manifest's path column)") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied; make the file readable by this user") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be examined ({exc.strerror}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO or device would block or read forever.
        raise InputError(f"{name}: is not a regular file (a pipe or device?); give the path of an audio file")
    size = st.st_size
    return _probe(name, size)


def _object_size(name: str) -> int:
    """An object's size in bytes, or the InputError saying why it cannot be read."""
    try:
        st = storage.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: object not found; check the URI (or the manifest's path column)") from None
    except PermissionError:
        raise InputError(f"{name}: {_ACCESS_DENIED}") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be examined ({exc}); check the URI and the connection") from None
    if st.is_dir:
        raise InputError(f"{name}: is a prefix (a folder of objects), not an audio file")
    return st.size


_ACCESS_DENIED = (
    "access denied; check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://, "
    "GOOGLE_APPLICATION_CREDENTIALS for gs://) and that they may read this bucket"
)


@contextmanager
def _open_bytes(name: str):
    """The file or object as a seekable binary file object (a local file is opened directly)."""
    if not storage.is_uri(name):
        with open(name, "rb") as fh:
            yield fh
        return
    try:
        fh = storage.open_input(name)
    except FileNotFoundError:
        raise InputError(
            f"{name}: object not found (deleted since it was listed?); check the URI (or the manifest's path column)"
        ) from None
    except PermissionError:
        raise InputError(f"{name}: {_ACCESS_DENIED}") from None
    with fh:
        yield fh


def _probe(name: str, size: int) -> AudioInfo:
    if size == 0:
        raise InputError(f"{name}: file is empty (0 bytes): the export or copy did not finish; export it again")
    remote = storage.is_uri(name)
    try:
        with _open_bytes(name) as fh:
            head = fh.read(512)
            problem = _declared_length_problem(fh, head, size)
            if problem is not None:
                raise InputError(f"{name}: {problem}")
            # libsndfile opens a local file by name itself; an object goes through the open file object.
            source = _rewound(fh) if remote else name
            try:
                with sf.SoundFile(source) as f:
                    sample_rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
                    subtype, container = str(f.subtype), str(f.format)
            except sf.SoundFileError as exc:
                raise InputError(f"{name}: {_not_audio_message(head, _libsndfile_detail(exc))}") from None
            if frames >= _UNKNOWN_LENGTH:
                raise InputError(
                    f"{name}: the {container} header does not state how many samples the file holds (an encode "
                    "written to a pipe?); re-encode it to a regular file, e.g. with `flac`, so its length is known"
                )
            if container == "OGG":
                problem = _ogg_tail_problem(fh, size)
                if problem is not None:
                    raise InputError(f"{name}: {problem}")
            elif container == "MP3" and not _mp3_has_frame_count(fh):
                frames = _count_frames(name, _rewound(fh) if remote else name, channels)
    except PermissionError:
        if remote:
            raise InputError(f"{name}: {_ACCESS_DENIED}") from None
        raise InputError(f"{name}: permission denied; make the file readable by this user") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if frames == 0:
        raise InputError(f"{name}: file holds no audio frames (a valid header with empty audio); export it again")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise InputError(
            f"{name}: sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz; "
            "resample it or check the export settings"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(
            f"{name}: {channels} channels; at most {MAX_CHANNELS} are supported (a multitrack or stem export?)"
        )
    return AudioInfo(
        path=name,
        sample_rate=sample_rate,
        channels=channels,
        frames=frames,
        subtype=subtype,
        container=container,
        duration_s=frames / sample_rate,
        bits_per_sample=_BITS_PER_SAMPLE.get(subtype),
        is_float=subtype in _FLOAT_SUBTYPES,
    )


def read_blocks(path: str | os.PathLike[str], info: AudioInfo, *, block_frames: int = 65536) -> Iterator[np.ndarray]:
    """Decode a probed file in blocks of at most ``block_frames`` frames, as float64 shaped (channels, n).

    Memory stays bounded by the block size whatever the file's length. Integer formats come through scaled to
    [-1, 1); float formats come through unscaled and unclipped (a float master at +12 dBFS reads 3.98). NaN and
    infinite samples are passed on as they are: reporting them is the QC layer's job.

    Parameters
    ----------
    path : str or path-like
        The file (or object URI) given to :func:`probe`.
    info : AudioInfo
        What :func:`probe` returned for it; its ``frames`` is the length the decode must reach.
    block_frames : int, keyword-only
        Frames per block (the last block may be shorter). Default 65536.

    Yields
    ------
    numpy.ndarray
        float64, C-contiguous, shape ``(info.channels, n)`` with ``1 <= n <= block_frames``. Each block is a new
        array the caller may keep.

    Raises
    ------
    InputError
        When decoding fails part-way (e.g. a FLAC decoder losing sync on a cut file), or when the number of
        frames decoded differs from ``info.frames`` ("file is truncated or corrupt"), or when the file no longer
        matches ``info``.
    ValueError
        When ``block_frames`` is not a positive integer.

    Examples
    --------
    >>> info = probe("mix.flac")  # doctest: +SKIP
    >>> peak = max(float(abs(b).max()) for b in read_blocks("mix.flac", info))  # doctest: +SKIP
    """
    if isinstance(block_frames, bool) or not isinstance(block_frames, int) or block_frames < 1:
        raise ValueError(f"block_frames={block_frames!r} must be a positive whole number of frames")
    name = os.fspath(path)
    if storage.is_uri(name):
        with _open_bytes(name) as fh:
            yield from _decode_blocks(name, fh, info, block_frames)
    else:
        yield from _decode_blocks(name, name, info, block_frames)


def _rewound(fh):
    fh.seek(0)
    return fh


def _decode_blocks(name: str, source, info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    try:
        f = sf.SoundFile(source)
    except sf.SoundFileError as exc:
        raise InputError(
            f"{name}: cannot be opened for decoding ({_libsndfile_detail(exc) or 'libsndfile error'}); "
            "was it moved or changed since it was probed?"
        ) from None
    with f:
        if f.samplerate != info.sample_rate or f.channels != info.channels:
            raise InputError(
                f"{name}: now reads as {f.samplerate} Hz x {f.channels} channels but was probed as "
                f"{info.sample_rate} Hz x {info.channels}; the file changed, probe it again"
            )
        # One read buffer reused for the whole file; each yielded block is a fresh transposed copy of it.
        buffer = np.empty((block_frames, info.channels), dtype=np.float64)
        decoded = 0
        while True:
            try:
                chunk = f.read(block_frames, dtype="float64", out=buffer)
            except sf.SoundFileError as exc:
                # soundfile seeks after every read, and that seek is what fails when a FLAC decoder met the end
                # of the data early; the frames of the failing call are then lost, so give the range.
                detail = _libsndfile_detail(exc)
                if "psf_fseek" in detail:
                    detail = "the data ended early"
                upto = min(decoded + block_frames, info.frames)
                raise InputError(
                    f"{name}: decoding failed between frames {decoded:,} and {upto:,} of {info.frames:,} "
                    f"({detail or 'libsndfile error'}): file is truncated or corrupt"
                ) from None
            n = len(chunk)
            if n == 0:
                break
            decoded += n
            if decoded > info.frames:
                raise InputError(
                    f"{name}: decodes to more than the {info.frames:,} frames probed; the file is corrupt or "
                    "changed since it was probed"
                )
            # Always copy: for mono, chunk.T is already contiguous and ascontiguousarray would hand out a view
            # of the buffer that the next read overwrites.
            yield chunk.T.copy(order="C")
        if decoded != info.frames:
            raise InputError(
                f"{name}: decoded {decoded:,} of {info.frames:,} frames: file is truncated or corrupt; "
                "export or copy it again"
            )


# --------------------------------------------------------------------------------------------------------------
# Declared length versus bytes present


def _truncated(declared: int, present: int) -> str:
    present = max(present, 0)
    return (
        f"the header declares {declared:,} bytes of audio data but the file holds only {present:,} "
        f"({100 * present / declared:.1f} %): truncated export or copy; export or copy it again"
    )


def _no_data_chunk(size: int, kind: str) -> str:
    return (
        f"the {kind} header ends at byte {size:,} before any audio data: truncated export or copy (or a "
        "damaged header); export or copy it again"
    )


def _declared_length_problem(fh, head: bytes, size: int) -> str | None:
    """Compare the audio size a PCM container's header declares with the bytes present; None when fine/unknown."""
    magic = head[:4]
    if magic in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return _riff_problem(fh, size, big_endian=magic == b"RIFX", rf64=magic in (b"RF64", b"BW64"))
    if magic == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _aiff_problem(fh, size)
    if head[:16] == _W64_RIFF and head[24:40] == _W64_WAVE:
        return _w64_problem(fh, size)
    if magic == b"caff":
        return _caf_problem(fh, size)
    if magic == b".snd" and len(head) >= 12:
        offset, data_size = struct.unpack(">II", head[4:12])
        if data_size != 0xFFFFFFFF and data_size > size - offset:
            return _truncated(data_size, size - offset)
    return None


def _riff_problem(fh, size: int, *, big_endian: bool, rf64: bool) -> str | None:
    order = ">" if big_endian else "<"
    ds64_data_size = None
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk_id, chunk_size = struct.unpack(order + "4sI", fh.read(8))
        if chunk_id == b"ds64" and chunk_size >= 16:
            _, ds64_data_size = struct.unpack("<QQ", fh.read(16))
        if chunk_id == b"data":
            declared = chunk_size
            if rf64 and chunk_size == 0xFFFFFFFF:
                if ds64_data_size is None:
                    return None  # malformed RF64; libsndfile will say so
                declared = ds64_data_size
            elif chunk_size == 0xFFFFFFFF:
                # A writer's placeholder for "still recording": no claim about the length to check.
                return None
            present = size - (pos + 8)
            return _truncated(declared, present) if declared > present else None
        # Chunks are padded to an even length.
        pos += 8 + chunk_size + (chunk_size & 1)
    return _no_data_chunk(size, "RF64" if rf64 else "WAV")


def _aiff_problem(fh, size: int) -> str | None:
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk_id, chunk_size = struct.unpack(">4sI", fh.read(8))
        if chunk_id == b"SSND":
            # The SSND body starts with 8 bytes (offset, block size) before the sample data.
            declared = chunk_size - 8
            present = size - (pos + 16)
            return _truncated(declared, present) if declared > present else None
        pos += 8 + chunk_size + (chunk_size & 1)
    return _no_data_chunk(size, "AIFF")


_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_WAVE = b"wave\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"
_W64_DATA = b"data\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"


def _w64_problem(fh, size: int) -> str | None:
    pos = 40
    while pos + 24 <= size:
        fh.seek(pos)
        guid, chunk_size = struct.unpack("<16sQ", fh.read(24))
        if chunk_size < 24:
            return None  # malformed; libsndfile will say so
        if guid == _W64_DATA:
            declared = chunk_size - 24  # Wave64 sizes include the 24-byte chunk header
            present = size - (pos + 24)
            return _truncated(declared, present) if declared > present else None
        pos += chunk_size + (-chunk_size % 8)  # chunks are aligned to 8 bytes
    return _no_data_chunk(size, "Wave64")


def _caf_problem(fh, size: int) -> str | None:
    pos = 8
    while pos + 12 <= size:
        fh.seek(pos)
        chunk_type, chunk_size = struct.unpack(">4sq", fh.read(12))
        if chunk_type == b"data":
            if chunk_size == -1:
                return None  # "to the end of the file": no claim to check
            present = size - (pos + 12)
            return _truncated(chunk_size, present) if chunk_size > present else None
        if chunk_size < 0:
            return None
        pos += 12 + chunk_size
    return _no_data_chunk(size, "CAF")


# --------------------------------------------------------------------------------------------------------------
# Ogg: the last page must be complete and carry the end-of-stream flag

# Ogg's CRC-32 is the unreflected polynomial 0x04C11DB7 with zero initial value and no final xor. zlib computes
# the reflected form, so feed it bit-reversed bytes and bit-reverse the result (checked against real pages).
_REVERSED_BYTES = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def _ogg_crc(page: bytes) -> int:
    reflected = zlib.crc32(page.translate(_REVERSED_BYTES), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def _ogg_tail_problem(fh, size: int) -> str | None:
    # Two maximal pages: a cut inside the last page still leaves the whole page before it in view.
    window = min(size, 2 * _OGG_MAX_PAGE + 4)
    fh.seek(size - window)
    tail = fh.read(window)
    start = len(tail)
    while True:
        start = tail.rfind(b"OggS", 0, start)
        if start < 0:
            return None  # no complete page in view: nothing certain to say, libsndfile decides
        header_end = start + 27
        if header_end > len(tail):
            continue
        body_start = header_end + tail[start + 26]
        if body_start > len(tail):
            continue
        end = body_start + sum(tail[header_end:body_start])
        if end > len(tail):
            continue  # a page cut by the end of the file
        page = bytearray(tail[start:end])
        stored_crc = struct.unpack("<I", page[22:26])[0]
        page[22:26] = b"\0\0\0\0"
        if tail[start + 4] == 0 and _ogg_crc(bytes(page)) == stored_crc:
            break
        # Otherwise "OggS" occurred inside packet data: not a page.
    trailing = tail[end:]
    if trailing and (trailing[:4] == b"OggS" or b"OggS".startswith(trailing)):
        return (
            f"the Ogg stream ends with {len(trailing):,} bytes of an incomplete page after the last complete one: "
            "truncated export or copy; export or copy it again"
        )
    if not tail[start + 5] & 0x04:
        return (
            "the Ogg stream's last page does not mark the end of the stream: truncated export or copy; "
            "export or copy it again"
        )
    return None


# --------------------------------------------------------------------------------------------------------------
# MP3: a Xing/Info header with a frame count makes the length exact; without one it is an estimate


def _mp3_has_frame_count(fh) -> bool:
    fh.seek(0)
    head = fh.read(10)
    offset = 0
    if len(head) == 10 and head[:3] == b"ID3":
        tag_size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        offset = 10 + tag_size + (10 if head[5] & 0x10 else 0)
    fh.seek(offset)
    buf = fh.read(65536)
    i = buf.find(b"\xff")
    while 0 <= i < len(buf) - 4:
        b1, b2, b3 = buf[i + 1], buf[i + 2], buf[i + 3]
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
        if b1 & 0xE0 == 0xE0 and version != 1 and layer != 0 and bitrate_index not in (0, 15) and rate_index != 3:
            mono = b3 >> 6 == 3
            # The Xing/Info tag follows the side information, whose size depends on MPEG version and channels.
            side_info = (17 if mono else 32) if version == 3 else (9 if mono else 17)
            tag_at = i + 4 + side_info
            if buf[tag_at : tag_at + 4] in (b"Xing", b"Info") and len(buf) >= tag_at + 8:
                (flags,) = struct.unpack(">I", buf[tag_at + 4 : tag_at + 8])
                return bool(flags & 1)  # bit 0: the frame count is present
            return False
        i = buf.find(b"\xff", i + 1)
    return False


def _count_frames(name: str, source, channels: int) -> int:
    frames = 0
    buffer = np.empty((65536, channels), dtype=np.float32)
    try:
        with sf.SoundFile(source) as f:
            while n := len(f.read(out=buffer)):
                frames += n
    except sf.SoundFileError as exc:
        raise InputError(
            f"{name}: decoding failed after {frames:,} frames ({_libsndfile_detail(exc) or 'libsndfile error'}): "
            "file is truncated or corrupt"
        ) from None
    return frames


# --------------------------------------------------------------------------------------------------------------
# Saying what a non-audio file is


def _libsndfile_detail(exc: Exception) -> str:
    # LibsndfileError's str() is "Error opening '<path>': " with the reason kept apart in error_string.
    detail = str(getattr(exc, "error_string", "") or "").strip().rstrip(".")
    detail = detail.removeprefix("Error :").strip()
    # libsndfile says this for some unrecognised content too; the file was checked to exist, so it misleads.
    if "does not exist or is not a regular file" in detail:
        return ""
    return detail


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut by the 512-byte window is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return printable >= 0.95 * len(text)


_DSD = "DSD audio (1-bit, DSF or DFF)"
_UNDECODED_MAGIC = (
    (b"wvpk", "a WavPack file"),
    (b"MAC ", "a Monkey's Audio (APE) file"),
    (b"DSD ", _DSD),
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"), "a Windows Media (ASF/WMA) file"),
    (b"tBaK", "a TAK file"),
    (b"TTA1", "a TTA file"),
    (b"MPCK", "a Musepack file"),
    (b"MP+", "a Musepack file"),
    (bytes.fromhex("1a45dfa3"), "a Matroska/WebM file"),
)
"""Leading bytes of audio formats that libsndfile does not read, and what to call them in the message."""


def _undecoded_format(head: bytes) -> str | None:
    """What an audio format libsndfile does not read is called, from the file's first bytes; None when unknown."""
    if head[4:8] == b"ftyp":
        return "an MP4/M4A file (AAC or ALAC)"
    for magic, what in _UNDECODED_MAGIC:
        if head.startswith(magic):
            return what
    if head[:4] == b"FRM8" and head[12:16] == b"DSD ":  # DSDIFF: a 64-bit size, then the form type
        return _DSD
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "raw AAC (ADTS; lossy, so a lossless copy of it is still a lossy source)"
    return None


def _not_audio_message(head: bytes, detail: str) -> str:
    reason = f" (libsndfile: {detail})" if detail else ""
    what = _undecoded_format(head)
    if what is not None:
        return f"is {what}, which this reader does not decode; convert it to WAV or FLAC first"
    if _looks_like_text(head):
        return "contains text, not audio (a text file or web page saved under an audio name?); find the real file"
    return f"is not in any audio format this reader recognises{reason}: the file is damaged or is not audio"
