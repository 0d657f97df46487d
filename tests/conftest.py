"""Fixtures shared by every test package: rendered music (cached per session) and external-tool checks."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture(scope="session")
def render_music() -> Callable[..., np.ndarray]:
    """Return ``render(seed, sample_rate, duration_s, *, style=None, renderer="builtin")`` -> ``(2, n)`` audio.

    Renders are cached for the whole session, so several tests can share one song without paying for it
    twice. The default renderer is the built-in synthesiser because it is always there and deterministic on
    every machine; pass ``renderer="fluidsynth"`` (after checking it is available) for sampled instruments.
    The returned array is read-only: copy it before changing it, since other tests get the same object.
    """
    from farm.synth import generate_song, render_song  # noqa: PLC0415 - keep collection cheap

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
def requires_tool() -> Callable[[str], str]:
    """Return ``need(name)``: the path of program ``name``, or skip the test saying which program is missing."""

    def need(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"needs the '{name}' program on PATH (Debian/Ubuntu: apt-get install {name})")
        return path

    return need
