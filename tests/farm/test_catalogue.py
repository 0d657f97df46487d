"""Catalogue discovery: folders, single files, CSV/Parquet/JSON manifests, and the errors a person can make."""

from __future__ import annotations

import csv
import doctest
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import farm.catalogue
from farm.catalogue import TrackSpec, discover, natural_key, track_id_for
from farm.errors import ConfigError
from tests.farm.hostile import HIDDEN_TRACK, UNICODE_NAME, write_hostile_folder

# Discovery never decodes audio, so placeholder bytes are enough for the files it lists.
_FAKE_AUDIO = b"RIFF....WAVE"


def _touch(path: Path, content: bytes = _FAKE_AUDIO) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_doctests():
    failures, _ = doctest.testmod(farm.catalogue)
    assert failures == 0


# --------------------------------------------------------------------------------------------------------------
# Folders


@pytest.fixture
def catalogue(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cat"
    for name in ["10 x.wav", "2 x.wav", "1 a.WAV", "notes.txt", "cover.jpg", "._2 x.wav"]:
        _touch(root / "Artist - Album" / name)
    # An AppleDouble companion: Finder metadata, no audio.
    (root / "Artist - Album" / "._2 x.wav").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    # A "._" name that is not AppleDouble is an ordinary (oddly named) audio file.
    _touch(root / "Odd" / "._real.flac", b"fLaC")
    _touch(root / "Other" / "Sub Release" / "track.flac")
    _touch(root / ".hidden-looking" / "track.wav")
    _touch(root / "loose.mp3")
    (root / "Empty").mkdir()
    monkeypatch.chdir(tmp_path)
    return root


def test_folder_releases_tracks_and_natural_order(catalogue):
    tracks = discover(["cat"])
    got = [(t.release_id, t.track_number, t.title, t.path) for t in tracks]
    assert got == [
        ("cat", 1, "loose", os.path.join("cat", "loose.mp3")),
        ("cat/.hidden-looking", 1, "track", os.path.join("cat", ".hidden-looking", "track.wav")),
        ("cat/Artist - Album", 1, "1 a", os.path.join("cat", "Artist - Album", "1 a.WAV")),
        ("cat/Artist - Album", 2, "2 x", os.path.join("cat", "Artist - Album", "2 x.wav")),
        ("cat/Artist - Album", 3, "10 x", os.path.join("cat", "Artist - Album", "10 x.wav")),
        ("cat/Odd", 1, "._real", os.path.join("cat", "Odd", "._real.flac")),
        ("cat/Other/Sub Release", 1, "track", os.path.join("cat", "Other", "Sub Release", "track.flac")),
    ]
    album = tracks[2]
    assert album.release_title == "Artist - Album"
    assert album.abs_path == str((catalogue / "Artist - Album" / "1 a.WAV").resolve())
    assert (album.artist, album.isrc, album.upc, album.release_artist, album.extra) == ("", "", "", "", ())


def test_folder_given_with_trailing_slash_or_as_dot(catalogue, monkeypatch):
    assert {t.release_id for t in discover(["cat/"])} == {t.release_id for t in discover(["cat"])}
    monkeypatch.chdir(catalogue)
    tracks = discover(["."])
    assert tracks[0].release_id == "cat" and tracks[0].path == os.path.join(".", "loose.mp3")
    assert [t.abs_path for t in tracks] == [t.abs_path for t in discover([str(catalogue)])]


def test_natural_key_orders_numbers_by_value():
    names = ["Track 10.wav", "track 2.wav", "Track 1.wav", "b.wav", "A.wav", "01 x.wav", "1 x.wav"]
    assert sorted(names, key=natural_key) == [
        "01 x.wav", "1 x.wav", "A.wav", "b.wav", "Track 1.wav", "track 2.wav", "Track 10.wav"
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_symlink_loop_is_not_followed_forever(tmp_path):
    album = tmp_path / "cat" / "Album"
    _touch(album / "01.wav")
    os.symlink("..", album / "loop")  # cat/Album/loop -> cat
    os.symlink(album, tmp_path / "cat" / "Album link")  # a second name for the same folder
    tracks = discover([str(tmp_path / "cat")])
    assert len(tracks) == 1
    assert tracks[0].abs_path == str((album / "01.wav").resolve())


def test_single_file(tmp_path):
    path = _touch(tmp_path / "Single Mix v3.FLAC")
    (track,) = discover([str(path)])
    assert (track.release_id, track.track_number, track.title, track.release_title) == (
        "Single Mix v3", 1, "Single Mix v3", "Single Mix v3"
    )
    assert track.path == str(path)


def test_duplicates_across_inputs_keep_the_first(catalogue):
    inputs = ["cat/Artist - Album/2 x.wav", "cat", str(catalogue / "Artist - Album" / "2 x.wav")]
    tracks = discover(inputs)
    paths = [t.abs_path for t in tracks]
    assert len(paths) == len(set(paths)) == 7
    assert tracks[0].release_id == "2 x"  # the single-file input came first, so its reading is kept
    assert [t.title for t in tracks if t.release_id == "cat/Artist - Album"] == ["1 a", "10 x"]


def test_hostile_folder_is_discovered_entirely(tmp_path):
    expected = write_hostile_folder(tmp_path / "hostile")
    tracks = discover([str(tmp_path / "hostile")])
    found = {Path(t.abs_path).relative_to((tmp_path / "hostile").resolve()).as_posix() for t in tracks}
    assert found == set(expected)
    assert UNICODE_NAME in found and HIDDEN_TRACK in found


# --------------------------------------------------------------------------------------------------------------
# Track ids


def test_track_id_is_sha256_of_resolved_path_and_stable(catalogue, tmp_path, monkeypatch):
    first = discover(["cat"])
    monkeypatch.chdir(catalogue / "Artist - Album")
    again = discover([".."])  # the same folder, named from elsewhere
    assert [t.track_id for t in first] == [t.track_id for t in again]
    for t in first:
        assert t.track_id == hashlib.sha256(str(Path(t.abs_path).resolve()).encode()).hexdigest()[:16]
    assert len({t.track_id for t in first}) == len(first)


def test_track_id_ignores_how_the_path_was_spelled(tmp_path):
    path = _touch(tmp_path / "a" / "x.wav")
    (tmp_path / "b").mkdir()
    spellings = [str(path), str(tmp_path / "b" / ".." / "a" / "x.wav"), str(tmp_path / "a" / "." / "x.wav")]
    ids = {discover([s])[0].track_id for s in spellings}
    assert ids == {track_id_for(str(path.resolve()))}


# --------------------------------------------------------------------------------------------------------------
# Manifests

MANIFEST_ROWS = [
    # Release-level cells on the first row only; the second release has no release_id (-> the manifest's stem).
    {"release_id": "REL-1", "upc": "0 36000 29145 2", "release_title": "First Light", "release_artist": "The Band",
     "track_number": "1", "isrc": "us-rc1-76-07839", "title": "Dawn", "artist": "The Band",
     "path": "audio/01 Dawn.wav", "gap_s": "2.0", "side": "A"},
    {"release_id": "REL-1", "upc": "", "release_title": "", "release_artist": "",
     "track_number": "2", "isrc": "", "title": "", "artist": "The Band feat. Ana",
     "path": "audio/02 Noon.flac", "gap_s": "0.5", "side": "B"},
    {"release_id": "", "upc": "", "release_title": "Loose Ends", "release_artist": "",
     "track_number": "", "isrc": "", "title": "Missing", "artist": "",
     "path": "../elsewhere/missing.wav", "gap_s": "", "side": ""},
]


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # with a BOM, as spreadsheet apps save
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _typed(row: dict[str, str]) -> dict[str, object]:
    # Parquet and JSON manifests carry numbers as numbers and empty cells as null.
    typed: dict[str, object] = {k: (v if v else None) for k, v in row.items()}
    typed["track_number"] = int(row["track_number"]) if row["track_number"] else None
    typed["gap_s"] = float(row["gap_s"]) if row["gap_s"] else None
    return typed


def _write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    pq.write_table(pa.Table.from_pylist([_typed(r) for r in rows]), path)
    return path


def _write_json(path: Path, rows: list[dict[str, str]], *, wrapped: bool = False) -> Path:
    typed = [_typed(r) for r in rows]
    path.write_text(json.dumps({"tracks": typed} if wrapped else typed, ensure_ascii=False), "utf-8")
    return path


@pytest.fixture
def manifest_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "meta"
    _touch(folder / "audio" / "01 Dawn.wav")
    _touch(folder / "audio" / "02 Noon.flac")
    monkeypatch.chdir(tmp_path)
    return folder


def test_csv_manifest(manifest_dir):
    _write_csv(manifest_dir / "batch.csv", MANIFEST_ROWS)
    dawn, noon, missing = discover(["meta/batch.csv"])
    assert dawn == TrackSpec(
        track_id=track_id_for(str((manifest_dir / "audio" / "01 Dawn.wav").resolve())),
        release_id="REL-1",
        path="audio/01 Dawn.wav",
        abs_path=str((manifest_dir / "audio" / "01 Dawn.wav").resolve()),
        track_number=1,
        title="Dawn",
        artist="The Band",
        isrc="USRC17607839",
        upc="036000291452",
        release_title="First Light",
        release_artist="The Band",
        extra=(("gap_s", "2.0"), ("side", "A")),
    )
    # Release-level cells given once are filled in; an empty title becomes the file's stem.
    assert (noon.upc, noon.release_title, noon.release_artist, noon.title) == (
        "036000291452", "First Light", "The Band", "02 Noon"
    )
    # A missing audio file is still a track (the QC layer reports it); no release_id -> the manifest's stem.
    assert missing.release_id == "batch" and missing.track_number is None
    assert missing.abs_path == str((manifest_dir.parent / "elsewhere" / "missing.wav").resolve())


def test_csv_parquet_json_give_identical_tracks(manifest_dir):
    # Same stem and folder, so even the defaulted release_id and the relative paths agree.
    reference = discover([str(_write_csv(manifest_dir / "batch.csv", MANIFEST_ROWS))])
    assert discover([str(_write_parquet(manifest_dir / "batch.parquet", MANIFEST_ROWS))]) == reference
    assert discover([str(_write_json(manifest_dir / "batch.json", MANIFEST_ROWS))]) == reference
    assert discover([str(_write_json(manifest_dir / "batch.json", MANIFEST_ROWS, wrapped=True))]) == reference


def test_absolute_paths_in_manifest(manifest_dir, tmp_path):
    audio = str((manifest_dir / "audio" / "01 Dawn.wav").resolve())
    manifest = _write_csv(tmp_path / "abs.csv", [{"path": audio}])
    (track,) = discover([str(manifest)])
    assert (track.path, track.abs_path, track.release_id, track.title) == (audio, audio, "abs", "01 Dawn")


def test_manifest_with_only_path_column(manifest_dir):
    manifest = manifest_dir / "paths.csv"
    manifest.write_text("Path\naudio/01 Dawn.wav\n\naudio/02 Noon.flac\n", "utf-8")  # blank line, capital header
    tracks = discover([str(manifest)])
    assert [(t.release_id, t.title, t.track_number, t.extra) for t in tracks] == [
        ("paths", "01 Dawn", None, ()),
        ("paths", "02 Noon", None, ()),
    ]


def test_manifest_and_folder_overlap_keeps_manifest_metadata(manifest_dir):
    _write_csv(manifest_dir / "batch.csv", MANIFEST_ROWS)
    tracks = discover(["meta/batch.csv", "meta/audio"])
    assert len(tracks) == 3
    assert tracks[0].title == "Dawn" and tracks[0].release_id == "REL-1"


def test_manifest_row_repeated_is_kept_once(manifest_dir):
    _write_csv(manifest_dir / "rep.csv", [{"path": "audio/01 Dawn.wav"}, {"path": "./audio/01 Dawn.wav"}])
    assert len(discover(["meta/rep.csv"])) == 1


# --------------------------------------------------------------------------------------------------------------
# Mistakes a person makes: one-line ConfigErrors that say what to do


def _config_error(inputs) -> str:
    with pytest.raises(ConfigError) as caught:
        discover(inputs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_input_that_does_not_exist(tmp_path):
    assert "does not exist" in _config_error([str(tmp_path / "nope")])


def test_input_of_unknown_kind(tmp_path):
    path = _touch(tmp_path / "cover.jpg")
    assert "is not an audio file" in _config_error([str(path)])


def test_folder_without_audio(tmp_path):
    _touch(tmp_path / "docs" / "readme.txt")
    assert "holds no audio files" in _config_error([str(tmp_path / "docs")])


def test_a_string_instead_of_a_list(tmp_path):
    with pytest.raises(TypeError, match="sequence"):
        discover(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("no_path.csv", "title,artist\nDawn,The Band\n", ["no 'path' column", "'title', 'artist'"]),
        ("empty.csv", "", ["is empty"]),
        ("header_only.csv", "path,title\n", ["has no rows"]),
        ("latin1.csv", "path,title\nx.wav,Caf\xe9\n".encode("latin-1"), ["not UTF-8"]),
        ("shifted.csv", "path,title\nx.wav,Hello, World\n", ["line 2", "3 cells", "quote"]),
        ("empty_path.csv", "path,title\n,Dawn\n", ["line 2", "path cell is empty"]),
        ("side.csv", "path,track_number\nx.wav,A1\n", ["track_number 'A1'", "side"]),
        ("zero.csv", "path,track_number\nx.wav,0\n", ["track_number '0'"]),
        ("twice.csv", "path,Path\nx.wav,y.wav\n", ["'path' more than once"]),
        (
            "two_upcs.csv",
            "release_id,upc,path\nR,036000291452,a.wav\nR,4006381333931,b.wav\n",
            ["release 'R' has two upc values"],
        ),
        ("bad.json", "[{\"path\": \"x.wav\",}]", ["not valid JSON", "line 1"]),
        ("object.json", "{\"path\": \"x.wav\"}", ["JSON array"]),
        ("strings.json", "[\"x.wav\"]", ["row 1", "not an object"]),
        ("nested.json", "[{\"path\": \"x.wav\", \"artist\": [\"a\", \"b\"]}]", ["'artist' holds a list"]),
        ("no_path.json", "[{\"title\": \"x\"}]", ["no 'path' column"]),
        ("empty.json", "[]", ["has no rows"]),
        ("garbage.parquet", b"PAR1 not really parquet", ["not a readable Parquet file"]),
    ],
)
def test_bad_manifests(tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, "utf-8")
    message = _config_error([str(path)])
    assert str(path) in message
    for word in words:
        assert word in message


def test_parquet_manifest_without_path_column(tmp_path):
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"title": ["x"]}), path)
    assert "no 'path' column" in _config_error([str(path)])


def test_float_track_numbers_from_parquet_are_accepted(tmp_path):
    # A pandas column with a missing track number is float64: 1.0, NaN, 3.0.
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"path": ["a.wav", "b.wav", "c.wav"], "track_number": [1.0, None, 3.0]}), path)
    assert [t.track_number for t in discover([str(path)])] == [1, None, 3]


def test_seen_ids_set_across_merges():
    from farm.catalogue import _SeenIds

    seen = _SeenIds(batch=4)
    keys = [5, 3, 9, 3, 2**63 + 7, 11, 5, 13, 9, 2**64 - 1, 2**64 - 1, 0]
    got = [seen.add(k) for k in keys]
    assert got == [k not in keys[:i] for i, k in enumerate(keys)]


def test_release_cells_spill_to_disk_and_still_check(tmp_path, monkeypatch):
    # Past `in_memory` releases the cells go to an SQLite file: same answers, same conflict check across what
    # was spilled and what was not, and the file is gone afterwards.
    from farm.catalogue import _ReleaseCells

    monkeypatch.setenv("FARM_STAGING", str(tmp_path))
    with _ReleaseCells("m.csv", in_memory=3, batch=2) as cells:
        for i in range(10):
            cells.add(f"R{i}", "upc", f"{i:013d}")
            cells.add(f"R{i % 4}", "release_title", f"T{i % 4}")  # revisits releases already spilled
        cells.settle()
        assert cells.db is not None and any(tmp_path.iterdir())
        assert cells.get("R2") == {"upc": "0000000000002", "release_title": "T2"}
        assert cells.get("R9") == {"upc": "0000000000009"} and cells.get("nope") == {}
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="release 'R0' has two upc values"), \
            _ReleaseCells("m.csv", in_memory=2, batch=2) as cells:
        for i in range(6):
            cells.add(f"R{i}", "upc", "A")
        cells.add("R0", "upc", "B")  # R0 is on disk by now
        cells.settle()


def test_a_manifest_of_many_releases_reads_the_same_when_spilled(tmp_path, monkeypatch):
    import farm.catalogue as catalogue

    for i in range(60):
        sf.write(tmp_path / f"{i:02d}.wav", np.zeros((480, 2)), 48000)
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "release_id", "upc", "release_title", "track_number"])
        for i in range(60):  # release cells given on one row of each release, releases interleaved
            r = i % 20
            w.writerow([f"{i:02d}.wav", f"R{r:02d}", "5012345678900" if i < 20 else "", f"Album {r}" if i >= 40 else "",
                        i // 20 + 1])
    plain = [(s.release_id, s.upc, s.release_title) for s in catalogue.iter_discover([str(manifest)])]

    class Small(catalogue._ReleaseCells):
        def __init__(self, given):
            super().__init__(given, in_memory=4, batch=3)

    monkeypatch.setattr(catalogue, "_ReleaseCells", Small)
    spilled = [(s.release_id, s.upc, s.release_title) for s in catalogue.iter_discover([str(manifest)])]
    assert spilled == plain and len(plain) == 60
    assert all(upc == "5012345678900" and title == f"Album {int(r[1:])}" for r, upc, title in plain)


def test_files_in_formats_the_reader_cannot_decode_are_tracks_not_left_out(tmp_path):
    rel = tmp_path / "Album"
    rel.mkdir()
    sf.write(rel / "01 a.wav", np.zeros((4410, 2)), 44100)
    for name in ("02 b.m4a", "03 c.wv", "04 d.dsf", "05 e.APE"):
        (rel / name).write_bytes(b"\x00" * 64)
    (rel / "cover.jpg").write_bytes(b"\xff\xd8\xff")  # not audio: still ignored
    specs = discover([str(tmp_path)])
    assert [Path(s.path).name for s in specs] == ["01 a.wav", "02 b.m4a", "03 c.wv", "04 d.dsf", "05 e.APE"]
    (single,) = discover([str(rel / "02 b.m4a")])  # named on its own, it is a track too, not a usage error
    assert single.track_number == 1


def test_an_alac_file_gets_an_error_row_that_names_its_format(tmp_path):
    from farm.qc import audit_track

    path = tmp_path / "x.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 4096)
    (spec,) = discover([str(path)])
    report = audit_track(spec)
    assert report.status == "error" and "MP4/M4A" in report.row["error"] and "Traceback" not in report.row["error"]
