"""Odd but valid audio is measured, not turned into an error row.

An exception inside any meter or detector ends that track's audit with ``status == "error"``: the batch goes on,
but the file gets no findings at all. Session 26 found one such case by chance (a master clipped 20 dB deep: a
logarithm of a running-sum difference that came out at zero over the flat tops); this sweeps the shapes of signal
that push the detectors' arithmetic to its edges, at every container format.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from farm.catalogue import discover
from farm.qc import audit_track


def _odd(name: str, render_music) -> tuple[np.ndarray, int]:
    """``(frames, channels)`` audio and its rate."""
    sr = 44100
    rng = np.random.default_rng(7)
    t = np.arange(6 * sr) / sr
    both = lambda y: np.stack([y, y], axis=1)
    if name.startswith("clipped"):
        x = np.array(render_music(5, sr, 8.0, style="rock")).T
        drive = 10 ** (float(name[7:]) / 20) / np.abs(x).max()
        return np.clip(x * drive, -1.0, 1.0) * 0.8, sr
    return {
        "square": lambda: (both(0.9 * np.sign(np.sin(2 * np.pi * 100 * t))), sr),
        "nyquist": lambda: (both(0.9 * (-1.0) ** np.arange(t.size)), sr),
        "white_full_scale": lambda: (np.clip(rng.standard_normal((t.size, 2)), -1, 1), sr),
        "dc_level": lambda: (np.full((t.size, 2), 0.5), sr),
        "one_impulse": lambda: (np.pad(np.ones((1, 2)), ((sr, sr), (0, 0))), sr),
        "one_sample": lambda: (np.full((1, 2), 0.3), sr),
        "ten_samples": lambda: (rng.uniform(-0.5, 0.5, (10, 2)), sr),
        "lsb_noise": lambda: (rng.integers(-1, 2, (t.size, 2)) / 32768.0, sr),
        "naive_saw": lambda: (both(((t * 55) % 1) * 1.8 - 0.9), sr),
        "rate_8k": lambda: (both(0.5 * np.sin(2 * np.pi * 440 * t[: 3 * 8000] * sr / 8000)), 8000),
        "rate_384k": lambda: (both(0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * 384000) / 384000)), 384000),
        "six_channels": lambda: (np.tile(np.array(render_music(6, sr, 4.0, style="pop")).T, (1, 3)), sr),
    }[name]()


@pytest.mark.parametrize("name", ["clipped20", "clipped40", "square", "nyquist", "white_full_scale", "dc_level",
                                  "one_impulse", "one_sample", "ten_samples", "lsb_noise", "naive_saw", "rate_8k",
                                  "rate_384k", "six_channels"])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_odd_audio_is_measured_not_an_error(render_music, tmp_path, name, subtype):
    x, sr = _odd(name, render_music)
    path = tmp_path / f"{name}.wav"
    sf.write(path, x, sr, subtype=subtype)
    report = audit_track(discover([str(path)])[0])
    assert report.status != "error", report.row.get("error")
