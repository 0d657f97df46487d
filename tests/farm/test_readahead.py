"""The QC worker's read-ahead: same blocks, same errors, no thread or open file left behind."""

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from farm.catalogue import discover
from farm.qc import QCConfig, audit_track
from farm.readahead import read_ahead
from tests.farm.hostile import render_music_like, write_truncated_flac


def _threads():
    return {t for t in threading.enumerate() if t.name == "farm-read-ahead"}


def test_items_come_in_order_and_producer_runs_on_another_thread():
    seen = []

    def produce():
        for i in range(50):
            seen.append(threading.get_ident())
            yield i

    assert list(read_ahead(produce(), depth=3)) == list(range(50))
    assert set(seen) == {seen[0]} and seen[0] != threading.get_ident()
    assert not _threads()


def test_depth_zero_runs_on_the_callers_thread():
    seen = []

    def produce():
        seen.append(threading.get_ident())
        yield 1

    assert list(read_ahead(produce(), depth=0)) == [1]
    assert seen == [threading.get_ident()]


@pytest.mark.parametrize("depth", [-1, 1.5, True, "2"])
def test_bad_depth_is_refused(depth):
    with pytest.raises(ValueError, match="depth"):
        next(read_ahead(iter([1]), depth=depth))


def test_producer_error_arrives_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise OSError("disk went away")

    got = []
    with pytest.raises(OSError, match="disk went away"):
        for item in read_ahead(produce(), depth=4):
            got.append(item)  # noqa: PERF402 - the items before the error are what is checked
    assert got == [1, 2]
    assert not _threads()


def test_consumer_stopping_early_closes_the_producer_and_joins_its_thread():
    closed = threading.Event()
    made = []

    def produce():
        try:
            for i in range(10_000):
                made.append(i)
                yield i
        finally:
            closed.set()

    it = read_ahead(produce(), depth=2)
    assert next(it) == 0
    time.sleep(0.1)  # the producer fills the queue and waits
    it.close()
    assert closed.is_set()  # closed before close() returned: the file is shut
    assert not _threads()
    assert len(made) <= 4  # bounded: one handed over, two queued, one waiting to be queued


def test_consumer_error_closes_the_producer():
    closed = threading.Event()

    def produce():
        try:
            while True:
                yield np.zeros(4)
        finally:
            closed.set()

    with pytest.raises(ZeroDivisionError):
        for _ in read_ahead(produce()):
            1 / 0  # noqa: B018
    assert closed.is_set() and not _threads()


def _audit(path, read_ahead_blocks):
    (spec,) = discover([str(path)])
    return audit_track(spec, QCConfig(block_frames=4096, read_ahead=read_ahead_blocks))


def test_audit_is_identical_with_and_without_read_ahead(tmp_path):
    x = render_music_like(seconds=6.0, seed=11)
    x[:, 100_000:100_400] = 0.0  # a dropout, so there are events to compare
    path = tmp_path / "m.flac"
    sf.write(str(path), x.T, 44100, subtype="PCM_24")
    a, b = _audit(path, 0), _audit(path, 2)
    assert a.row == b.row
    assert a.events == b.events and any(e["kind"] == "dropout" for e in a.events)


def test_truncated_file_gives_the_same_error_row_with_read_ahead(tmp_path):
    path = tmp_path / "cut.flac"
    write_truncated_flac(path)
    a, b = _audit(path, 0), _audit(path, 2)
    assert a.status == b.status == "error"
    assert a.row["error"] == b.row["error"] and "truncated or corrupt" in b.row["error"]
    assert not _threads()


def test_read_ahead_is_validated():
    with pytest.raises(ValueError, match="read_ahead"):
        QCConfig(read_ahead=-1)


# ---------------------------------------------------------------- the analysis helper thread


def _audit_threads(path, threads, **kw):
    (spec,) = discover([str(path)])
    return audit_track(spec, QCConfig(block_frames=4096, analysis_threads=threads, **kw))


def _helpers():
    return {t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")}


def test_audit_is_identical_with_one_or_two_analysis_threads(tmp_path):
    x = render_music_like(seconds=8.0, seed=12)
    x[:, 100_000:100_400] = 0.0  # a dropout
    x[0, 200_000] += 0.4  # a click on the left channel
    x[1, 250_000:330_000] *= -1.0  # a section out of phase
    path = tmp_path / "m.flac"
    sf.write(str(path), np.clip(x, -1, 1).T, 44100, subtype="PCM_24")
    a, b = _audit_threads(path, 1), _audit_threads(path, 2)
    assert a.row == b.row
    assert a.events == b.events
    assert {"dropout", "click"} <= {e["kind"] for e in a.events}
    assert not _helpers()


def test_a_failure_on_the_helper_thread_is_the_same_error_row(tmp_path, monkeypatch):
    from kernels.detect.stereo import StereoDetector

    def broken(self, block):
        raise RuntimeError("stereo analysis broke")

    monkeypatch.setattr(StereoDetector, "process", broken)
    x = render_music_like(seconds=3.0, seed=13)
    path = tmp_path / "m.flac"
    sf.write(str(path), x.T, 44100, subtype="PCM_24")
    a, b = _audit_threads(path, 1), _audit_threads(path, 2)
    assert a.status == b.status == "error"
    assert a.row["error"] == b.row["error"] and "stereo analysis broke" in b.row["error"]
    assert not _helpers() and not _threads()


def test_analysis_threads_is_validated():
    for bad in (0, 3, True, 1.5):
        with pytest.raises(ValueError, match="analysis_threads"):
            QCConfig(analysis_threads=bad)
