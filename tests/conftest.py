"""Fixtures shared by every test package: rendered music (cached per session) and external-tool checks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import numpy as np
import pytest


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many test processes ``-n auto`` (the default in pyproject.toml) starts.

    Two where the machine has two cores or more (the suite's end-to-end runs mostly wait on Ray's start-up and
    on subprocesses, so two overlap well; more were not tried), one otherwise; ``FARM_TEST_WORKERS=N`` overrides
    it. A run that selects the slow benchmarks (``-m slow``) stays in one process, so that no timing in it
    competes with another test.
    """
    if os.environ.get("FARM_TEST_WORKERS"):
        return max(0, int(os.environ["FARM_TEST_WORKERS"]))
    markexpr = config.getoption("markexpr", "") or ""
    if "slow" in markexpr and "not slow" not in markexpr:
        return 0
    return min(2, os.cpu_count() or 1)


@pytest.fixture(scope="session")
def render_music() -> Callable[..., np.ndarray]:
    """Return ``render(seed, sample_rate, duration_s, *, style=None, renderer="builtin")`` -> ``(2, n)`` audio.

    Renders are cached for the whole session, so several tests can share one song without paying for it
    twice. The default renderer is the built-in synthesiser because it is always there and deterministic on
    every machine; pass ``renderer="fluidsynth"`` (after checking it is available) for sampled instruments.
    The returned array is read-only: copy it before changing it, since other tests get the same object.
    """
    # imported here: keeps collection cheap
    from farm.synth import generate_song, render_song

    cache: dict[tuple, np.ndarray] = {}

    def render(seed: int, sample_rate: int, duration_s: float, *, style: str | None = None,
               renderer: str = "builtin") -> np.ndarray:
        key = (seed, sample_rate, duration_s, style, renderer)
        if key not in cache:
            song = generate_song(seed, duration_s=duration_s, style=style)
            audio = render_song(song, sample_rate, renderer=renderer)
            audio.setflags(write=False)
            cache[key] = audio
        return cache[key]

    return render


@pytest.fixture(scope="session")
def fluidsynth() -> str:
    """The renderer name for sampled-instrument renders (and benchmark corpus rebuilds); skips the test, with the
    reason, where fluidsynth or a General MIDI soundfont is missing."""
    from farm.synth import fluidsynth_available  # imported here: keeps collection cheap

    ok, reason = fluidsynth_available()
    if not ok:
        pytest.skip(f"fluidsynth renders need fluidsynth and a GM soundfont: {reason}")
    return "fluidsynth"


@pytest.fixture
def benchmark_track(fluidsynth, tmp_path) -> Callable[..., tuple]:
    """Return ``rebuild(seed, path, dtype="float64")`` -> ``(audio, sample_rate, truths, plan)``: track ``path`` of
    the benchmark corpus of ``seed`` (``farm bench qc-accuracy --seed N --hours 1 --min-per-kind 20``), rendered,
    planted and written bit for bit by the corpus generator under ``tmp_path``, read back as ``(channels, n)``."""
    import soundfile as sf  # imported here: keeps collection cheap

    from farm.bench.corpus import _make_track, _plan

    def rebuild(seed: int, path: str, dtype: str = "float64") -> tuple:
        (plan,) = [p for p in _plan(seed, 1.0, 0.5, fluidsynth, 20) if p.path == path]
        (tmp_path / "tracks").mkdir(exist_ok=True)
        truths, _, _ = _make_track(plan, str(tmp_path))
        x, sr = sf.read(tmp_path / path, always_2d=True, dtype=dtype)
        return np.ascontiguousarray(x.T), sr, truths, plan

    return rebuild


@pytest.fixture(scope="session")
def requires_tool() -> Callable[[str], str]:
    """Return ``need(name)``: the path of program ``name``, or skip the test saying which program is missing."""

    def need(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"needs the '{name}' program on PATH (Debian/Ubuntu: apt-get install {name})")
        return path

    return need
