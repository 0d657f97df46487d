"""Naive oscillators: voices whose waveform jumps in one sample, as cheap synths and chip-tune voices make them.

A naive saw, square or pulse wave is computed straight from its phase, without band-limiting, so every period
has one (saw) or two (square, pulse) one-sample steps. Such voices are legitimate music, and each of their
edges looks like an edit to a splice detector taken on its own; they are the "other music" the QC audit must not
cry wolf on. :func:`naive_voice` makes a melody on one; :func:`with_naive_voice` mixes it into a song.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NAIVE_SHAPES", "naive_voice", "with_naive_voice"]

NAIVE_SHAPES = ("saw", "square", "pulse")


def naive_voice(shape: str, sample_rate: int, n: int, low_hz: float, high_hz: float,
                rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a melody on a naive ``shape`` oscillator (full scale +/-1): a new pitch, uniform in
    ``low_hz .. high_hz``, every 0.1-0.4 s, the phase carried across notes (so the only steps are the
    waveform's own). ``pulse`` has a 25 % duty cycle."""
    if shape not in NAIVE_SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(NAIVE_SHAPES)}")
    y = np.empty(n)
    phase, s = 0.0, 0
    while s < n:
        m = min(int(rng.uniform(0.1, 0.4) * sample_rate), n - s)
        f = rng.uniform(low_hz, high_hz)
        ph = (phase + np.arange(m) * f / sample_rate) % 1.0
        if shape == "saw":
            y[s : s + m] = 2.0 * ph - 1.0
        else:
            y[s : s + m] = np.where(ph < (0.5 if shape == "square" else 0.25), 1.0, -1.0)
        phase, s = (phase + m * f / sample_rate) % 1.0, s + m
    return y


def with_naive_voice(audio: np.ndarray, sample_rate: int, shape: str, low_hz: float, high_hz: float,
                     level_db: float, rng: np.random.Generator, peak: float = 0.97) -> np.ndarray:
    """``audio`` (channels, n) with a naive voice at ``level_db`` dBFS peak added (panned: full in the first
    channel, 0.6 in the others; faded in and out over 10 ms), the sum scaled to a sample peak of ``peak``. The
    input is not modified."""
    x = np.asarray(audio, dtype=np.float64)
    voice = 10.0 ** (level_db / 20.0) * naive_voice(shape, sample_rate, x.shape[1], low_hz, high_hz, rng)
    fade = min(round(0.010 * sample_rate), x.shape[1] // 2)  # in and out over 10 ms, like the song around it
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        voice[:fade] *= ramp
        voice[-fade:] *= ramp[::-1]
    gains = np.full((x.shape[0], 1), 0.6)
    gains[0] = 1.0
    y = x + gains * voice
    return y * (peak / max(float(np.abs(y).max()), 1e-12))
