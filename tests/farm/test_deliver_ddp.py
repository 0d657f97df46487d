"""DDP 2.00 writer/reader/verifier and CD-TEXT packs.

Oracles: a plain bitwise CRC-16 written here (and the published CRC-16/XMODEM check value 0x31C3 of
"123456789"), ``md5sum -c`` (coreutils) on the checksum file, the REFERENCE.md record layouts read with plain
byte slicing, and the audio compared sample for sample after an independent ``np.fromfile`` of IMAGE.DAT.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from farm.deliver.cdlayout import CDLayout, CDTrackLayout
from farm.deliver.cdtext import (
    PACK_BYTES,
    cdtext_packs,
    crc16_cdtext,
    latin1_text,
    pack_crc_ok,
    parse_cdtext,
)
from farm.deliver.ddp import (
    IMAGE_BYTE_ORDER,
    SECTOR_BYTES,
    read_ddp,
    verify_ddp,
    write_ddp,
)
from farm.deliver.model import CD_FRAME_SAMPLES
from farm.errors import DeliverableError

UPC = "4006381333931"  # a valid EAN-13 (farm.codes doctest)


def _layout(titles: bool = True) -> CDLayout:
    """Three tracks: 5 s, then 0 s gap + 4 s, then 2 s gap + 6 s (frames from disc frame 0)."""
    t1 = CDTrackLayout(1, "Ouverture" if titles else "", "Zoë Ångström" if titles else "", "USRC17607839",
                       0, 150, 150 + 5 * 75)
    t2 = CDTrackLayout(2, "Łódź – “Nights”" if titles else "", "Björk & Œuvre" if titles else "", "GBAYE0601498",
                       t1.end, t1.end, t1.end + 4 * 75)
    t3 = CDTrackLayout(3, "日本 Finale" if titles else "", "" , "", t2.end, t2.end + 150, t2.end + 150 + 6 * 75 + 17)
    return CDLayout(UPC, "Album Ü" if titles else "", "Various" if titles else "", (t1, t2, t3), t3.end)


def _image(layout: CDLayout, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(-32768, 32768, size=(layout.leadout * CD_FRAME_SAMPLES, 2), dtype=np.int16)
    image[:150 * CD_FRAME_SAMPLES] = 0  # the pregap is digital silence
    image[0, 0], image[1, 1] = 0x0102, -2  # a byte pattern whose order is visible
    image[150 * CD_FRAME_SAMPLES] = (32767, -32768)
    return image


@pytest.fixture()
def written(tmp_path):
    layout = _layout()
    image = _image(layout)
    folder = tmp_path / "release" / "DDP"
    files = write_ddp(layout, image, folder, master_id="REL-0001")
    return layout, image, folder, files


def _failed(checks):
    return sorted({c.check for c in checks if not c.passed})


def test_write_read_verify_all_pass(written):
    layout, image, folder, files = written
    assert [p.name for p in files] == ["DDPID", "DDPMS", "PQDESCR", "IMAGE.DAT", "CDTEXT.BIN", "CHECKSUM.MD5"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in files)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    checks = verify_ddp(folder, layout, image)
    assert _failed(checks) == []
    names = {c.check for c in checks}
    assert {"ddpid_level", "ddpms_d0", "pq_times", "pq_isrc", "pq_upc", "pq_leadout", "image_matches", "md5",
            "cdtext_crc", "cdtext_size_info", "cdtext_text", "pq_layout"} <= names
    assert all(c.format == "cd_ddp" and c.path.startswith("DDP") for c in checks)

    ddp = read_ddp(folder)
    assert ddp.ddpid.level == "DDP 2.00" and ddp.ddpid.upc == UPC and ddp.ddpid.mid == "REL-0001"
    assert [(t.number, t.index00, t.index01, t.end, t.isrc) for t in ddp.layout.tracks] == \
        [(t.number, t.index00, t.index01, t.end, t.isrc) for t in layout.tracks]
    assert ddp.layout.leadout == layout.leadout and ddp.layout.upc == UPC
    assert ddp.layout.tracks[1].title == 'Lódz - "Nights"'
    assert ddp.layout.tracks[0].performer == "Zoë Ångström"  # Latin-1 letters are kept
    assert np.array_equal(ddp.audio(), image)


def test_record_sizes_and_fields(written):
    layout, _, folder, _ = written
    ddpid = (folder / "DDPID").read_bytes()
    assert len(ddpid) == 128 and ddpid[:8] == b"DDP 2.00" and ddpid[8:21] == UPC.encode() and ddpid[87:89] == b"CD"
    ms = (folder / "DDPMS").read_bytes()
    assert len(ms) == 3 * 128
    d0 = ms[:128]
    assert d0[:6] == b"VVVMD0" and int(d0[14:22]) == layout.leadout and d0[38:40] == b"DA"
    assert d0[74:91].rstrip() == b"IMAGE.DAT"
    assert [ms[i + 30:i + 38].rstrip() for i in (128, 256)] == [b"PQ DESCR", b"CDTEXT"]
    pq = (folder / "PQDESCR").read_bytes()
    # lead-in, track 1 INDEX 00 + 01, track 2 INDEX 01 only (gapless), track 3 INDEX 00 + 01, lead-out
    assert len(pq) == 7 * 64
    entries = [pq[i:i + 64] for i in range(0, len(pq), 64)]
    assert all(e[:4] == b"VVVS" for e in entries)
    assert [(e[4:6], e[6:8], e[8:16]) for e in entries[:3]] == [
        (b"00", b"00", b"00000000"), (b"01", b"00", b"00000000"), (b"01", b"01", b"00000200")]
    assert entries[-1][4:6] == b"AA" and entries[2][20:32] == b"USRC17607839" and entries[2][32:45] == UPC.encode()
    assert (folder / "IMAGE.DAT").stat().st_size == layout.leadout * SECTOR_BYTES


def test_image_byte_order_is_the_documented_one(written):
    _, image, folder, _ = written
    raw = (folder / "IMAGE.DAT").read_bytes()
    assert IMAGE_BYTE_ORDER == "<"
    assert raw[:2] == b"\x02\x01"  # sample 0, left = 0x0102, little-endian
    np.testing.assert_array_equal(np.fromfile(folder / "IMAGE.DAT", dtype="<i2").reshape(-1, 2), image)


def test_md5_file_checks_with_md5sum(written, requires_tool):
    requires_tool("md5sum")
    _, _, folder, _ = written
    run = subprocess.run(["md5sum", "-c", "CHECKSUM.MD5"], check=False, cwd=folder, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": OK") == 5


def test_rewrite_is_byte_identical(written, tmp_path):
    layout, image, folder, _ = written
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    write_ddp(layout, image, folder, master_id="REL-0001")  # replaces the folder in place
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    other = tmp_path / "other"
    write_ddp(layout, image, other, master_id="REL-0001")
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before


def _flip(path, offset, value: bytes):
    data = bytearray(path.read_bytes())
    data[offset:offset + len(value)] = value
    path.write_bytes(bytes(data))


def test_corrupt_image_byte_fails_image_and_md5(written):
    layout, image, folder, _ = written
    offset = 200 * SECTOR_BYTES + 7
    data = bytearray((folder / "IMAGE.DAT").read_bytes())
    data[offset] ^= 0x01
    (folder / "IMAGE.DAT").write_bytes(bytes(data))
    checks = verify_ddp(folder, layout, image)
    assert _failed(checks) == ["image_matches", "md5"]
    bad = next(c for c in checks if c.check == "image_matches")
    assert bad.measured == "1 stereo samples differ" and "disc frame 200" in bad.detail
    assert [c.path for c in checks if c.check == "md5" and not c.passed] == ["DDP/IMAGE.DAT"]


def test_corrupt_pq_time_fails_pq_checks(written):
    layout, image, folder, _ = written
    # entry 4 = track 3 INDEX 00; change its frames field (bytes 14-15)
    pq = folder / "PQDESCR"
    entry = pq.read_bytes()[4 * 64:5 * 64]
    assert entry[4:8] == b"0300"
    _flip(pq, 4 * 64 + 14, b"%02d" % ((int(entry[14:16]) + 1) % 75))
    failed = _failed(verify_ddp(folder, layout, image))
    assert "pq_times" in failed and "md5" in failed and "pq_layout" in failed
    assert "image_matches" not in failed and "cdtext_crc" not in failed


def test_corrupt_cdtext_crc_fails_crc_check(written):
    layout, image, folder, _ = written
    path = folder / "CDTEXT.BIN"
    n_packs = path.stat().st_size // PACK_BYTES
    _flip(path, 2 * PACK_BYTES + 17, bytes([path.read_bytes()[2 * PACK_BYTES + 17] ^ 0xFF]))
    checks = verify_ddp(folder, layout, image)
    assert _failed(checks) == ["cdtext_crc", "md5"]
    bad = next(c for c in checks if c.check == "cdtext_crc")
    assert bad.measured == "1 bad" and bad.detail == "packs [2]" and n_packs > 3
    with pytest.raises(ValueError, match="pack 2"):
        parse_cdtext(path.read_bytes())


def test_no_titles_no_cdtext(tmp_path):
    layout = _layout(titles=False)
    image = _image(layout, 1)
    files = write_ddp(layout, image, tmp_path / "DDP")
    assert "CDTEXT.BIN" not in [p.name for p in files]
    assert (tmp_path / "DDP" / "DDPMS").stat().st_size == 2 * 128
    assert _failed(verify_ddp(tmp_path / "DDP", layout, image)) == []


def _crc16_bitwise(data: bytes) -> int:
    """Independent reference: CRC-16/CCITT, poly 0x1021, init 0, MSB first, one bit at a time; inverted."""
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            feedback = ((crc >> 15) & 1) ^ ((byte >> bit) & 1)
            crc = (crc << 1) & 0xFFFF
            if feedback:
                crc ^= 0x1021
    return crc ^ 0xFFFF


def test_cdtext_crc_against_bitwise_reference():
    assert _crc16_bitwise(b"123456789") == 0x31C3 ^ 0xFFFF  # CRC-16/XMODEM check value, inverted
    assert crc16_cdtext(b"123456789") == 0xCE3C
    rng = np.random.default_rng(5)
    for _ in range(200):
        data = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        assert crc16_cdtext(data) == _crc16_bitwise(data)
    for pack in _packs(cdtext_packs(_layout())):
        assert int.from_bytes(pack[16:18], "big") == _crc16_bitwise(pack[:16])


def _packs(data: bytes) -> list[bytes]:
    return [data[i:i + PACK_BYTES] for i in range(0, len(data), PACK_BYTES)]


def test_cdtext_pack_structure_and_round_trip():
    layout = _layout()
    data = cdtext_packs(layout)
    packs = _packs(data)
    assert len(data) % PACK_BYTES == 0 and all(pack_crc_ok(p) for p in packs)
    assert [p[2] for p in packs] == list(range(len(packs)))  # sequence numbers
    types = [p[0] for p in packs]
    assert types == sorted(types) and set(types) == {0x80, 0x81, 0x8E, 0x8F} and types.count(0x8F) == 3
    assert all((p[3] >> 4) & 7 == 0 for p in packs)  # block 0
    # the title stream, rebuilt by hand: album then tracks, NUL-terminated, Latin-1
    title_stream = b"".join(p[4:16] for p in packs if p[0] == 0x80)
    expected = b"".join(latin1_text(s).encode("latin-1") + b"\0"
                        for s in [layout.title] + [t.title for t in layout.tracks])
    assert title_stream.rstrip(b"\0") == expected.rstrip(b"\0")
    # each pack's track number / character position describe its first byte
    offset = 0
    owners = []
    for track, s in enumerate([layout.title] + [t.title for t in layout.tracks]):
        n = len(latin1_text(s).encode("latin-1")) + 1
        owners += [(track, i) for i in range(n)]
        offset += n
    for k, p in enumerate(q for q in packs if q[0] == 0x80):
        track, pos = owners[12 * k]
        assert (p[1], p[3] & 0x0F) == (track, min(pos, 15))
    size = b"".join(p[4:16] for p in packs if p[0] == 0x8F)
    assert size[0] == 0x00 and size[1:3] == bytes([1, 3])
    assert size[4 + 0x0F] == 3 and size[20] == len(packs) - 1 and size[28] == 0x09

    parsed = parse_cdtext(data)
    assert parsed[0] == {"title": "Album Ü", "performer": "Various", "upc": UPC}
    assert parsed[1] == {"title": "Ouverture", "performer": "Zoë Ångström", "isrc": "USRC17607839"}
    assert parsed[2]["title"] == 'Lódz - "Nights"' and parsed[2]["performer"] == "Björk & OEuvre"
    assert parsed[3] == {"title": "?? Finale", "performer": "", "isrc": ""}


@pytest.mark.parametrize(("text", "stored"), [
    ("Café", "Café"),  # Latin-1 as it is
    ("Łódź", "Lódz"),  # Ł transliterated, ó kept, ź decomposed to z
    ("Œuvre – “x”…", 'OEuvre - "x"...'),
    ("Ωμέγα", "?????"),  # no Latin form: '?', reported by verify_ddp's cdtext_text detail
    ("a\x00b\tc", "ab c"),  # NUL would end the string; controls become spaces
])
def test_latin1_text(text, stored):
    assert latin1_text(text) == stored
    assert latin1_text(text).encode("latin-1")


def test_non_latin1_is_reported(written):
    layout, image, folder, _ = written
    check = next(c for c in verify_ddp(folder, layout, image) if c.check == "cdtext_text")
    assert check.passed and "'日本 Finale' is stored as '?? Finale'" in check.detail


def test_refuses_what_cannot_be_a_cd(tmp_path):
    layout = _layout()
    image = _image(layout)
    with pytest.raises(DeliverableError, match="shaped"):
        write_ddp(layout, image[:-1], tmp_path / "a")
    bad = CDLayout(layout.upc, "", "", (layout.tracks[0].__class__(1, "", "", "US-RC1-76-0783X", 0, 150, 300),), 300)
    with pytest.raises(DeliverableError, match="ISRC"):
        write_ddp(bad, np.zeros((300 * 588, 2), np.int16), tmp_path / "b")
    long_titles = CDLayout("", "", "", tuple(CDTrackLayout(n, "x" * 200, "y" * 200, "", (n - 1) * 300,
                                                           150 if n == 1 else (n - 1) * 300, n * 300)
                                              for n in range(1, 11)), 3000)
    with pytest.raises(DeliverableError, match="packs"):
        write_ddp(long_titles, np.zeros((3000 * 588, 2), np.int16), tmp_path / "c")
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_failed_write_leaves_old_folder(written, monkeypatch):
    layout, image, folder, _ = written
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    import farm.deliver.ddp as ddp_mod

    def boom(path):
        raise OSError("disk full")

    monkeypatch.setattr(ddp_mod, "_md5", boom)
    with pytest.raises(OSError):
        write_ddp(layout, image, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
