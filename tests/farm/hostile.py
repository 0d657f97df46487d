"""Write a folder of hostile and odd inputs, for tests of the reader, the catalogue and the CLI.

Every file is made here from code (no binary fixtures). :func:`write_hostile_folder` returns what each file
should come to: ``"error"`` (one error row: the file cannot be measured) or ``"measured"`` (the file is odd but
readable; non-finite samples are measured and reported as ``non_finite`` findings by the QC layer).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

UNICODE_NAME = "ünïcødé – naïve 曲.flac"
HIDDEN_TRACK = ".hidden-looking/track.wav"


def render_music_like(
    *, sample_rate: int = 44100, seconds: float = 3.0, channels: int = 2, peak: float = 0.5, seed: int = 0
) -> np.ndarray:
    """A short deterministic signal with some musical texture: low-passed noise plus decaying tones.

    Parameters
    ----------
    sample_rate : int, keyword-only
        Hz.
    seconds : float, keyword-only
        Length.
    channels : int, keyword-only
        Each channel gets its own noise and a slightly different tone mix (so channels are correlated, not equal).
    peak : float, keyword-only
        Sample peak of the result, linear (1.0 = 0 dBFS); may exceed 1 for float files.
    seed : int, keyword-only
        Seed of the noise.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(channels, round(seconds * sample_rate))``.
    """
    n = round(seconds * sample_rate)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    # Second-order low-pass at 2 kHz (or a quarter of the rate for low rates) gives a darker, music-like noise bed.
    cutoff_hz = min(2000.0, sample_rate / 4)
    sos = signal.butter(2, cutoff_hz, fs=sample_rate, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal((channels, n)), axis=-1)
    beat = np.exp(-4.0 * (t % 0.5))  # a note every half second, decaying
    out = np.empty((channels, n))
    for ch in range(channels):
        tones = sum(np.sin(2 * np.pi * f * (1 + 0.002 * ch) * t) / (k + 1) for k, f in enumerate((110.0, 220.0, 330.0)))
        out[ch] = 0.3 * noise[ch] / np.std(noise[ch]) + tones * beat
    return out * (peak / np.max(np.abs(out)))


def _write(path: Path, audio: np.ndarray, sample_rate: int, subtype: str, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.T, sample_rate, subtype=subtype, **kwargs)


def write_claims_more_wav(path: Path, *, factor: int = 100) -> None:
    """A valid 16-bit WAV whose data chunk then declares ``factor`` times the audio it holds."""
    _write(path, render_music_like(seconds=1.0, seed=3), 44100, "PCM_16")
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data", 12)
    declared = int.from_bytes(raw[at + 4 : at + 8], "little")
    raw[at + 4 : at + 8] = (declared * factor).to_bytes(4, "little")
    path.write_bytes(bytes(raw))


def write_truncated_flac(path: Path) -> None:
    """A valid FLAC cut in the middle of its audio frames."""
    _write(path, render_music_like(seconds=3.0, seed=4), 44100, "PCM_16")
    os.truncate(path, path.stat().st_size // 2)


def write_hostile_folder(root: Path) -> dict[str, str]:
    """Write one file per hostile or odd case into ``root``.

    Parameters
    ----------
    root : pathlib.Path
        A folder (created if needed). Nothing else is written outside it.

    Returns
    -------
    dict[str, str]
        Relative POSIX path of each file -> ``"error"`` or ``"measured"``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    (root / "empty.wav").write_bytes(b"")
    expected["empty.wav"] = "error"

    (root / "text.wav").write_text("This is not audio.\nIt is a text file that somebody named .wav.\n", "utf-8")
    expected["text.wav"] = "error"

    (root / "random.flac").write_bytes(np.random.default_rng(1234).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    expected["random.flac"] = "error"

    write_claims_more_wav(root / "claims_more.wav")
    expected["claims_more.wav"] = "error"

    _write(root / "zero_frames.wav", np.zeros((2, 0)), 44100, "PCM_16")
    expected["zero_frames.wav"] = "error"

    write_truncated_flac(root / "truncated.flac")
    expected["truncated.flac"] = "error"

    nan_audio = render_music_like(seed=5)
    nan_audio[:, 1000:1010] = np.nan
    _write(root / "nan.wav", nan_audio, 44100, "FLOAT")
    expected["nan.wav"] = "measured"

    inf_audio = render_music_like(seed=6)
    inf_audio[0, 20000] = np.inf
    _write(root / "inf.wav", inf_audio, 44100, "FLOAT")
    expected["inf.wav"] = "measured"

    _write(root / "surround_5_1.wav", render_music_like(channels=6, sample_rate=48000, seed=7), 48000, "PCM_24")
    expected["surround_5_1.wav"] = "measured"

    _write(root / "mono_8k_8bit.wav", render_music_like(channels=1, sample_rate=8000, seed=8), 8000, "PCM_U8")
    expected["mono_8k_8bit.wav"] = "measured"

    # +12 dBFS: 10 ** (12 / 20) = 3.98 full scale, legal in a float file.
    _write(root / "hot_float.wav", render_music_like(peak=10 ** (12 / 20), seed=9), 44100, "FLOAT")
    expected["hot_float.wav"] = "measured"

    # A minute of digital zeros at 8 kHz mono 16-bit: about 0.96 MB.
    _write(root / "silence_60s.wav", np.zeros((1, 60 * 8000)), 8000, "PCM_16")
    expected["silence_60s.wav"] = "measured"

    _write(root / UNICODE_NAME, render_music_like(seed=10), 44100, "PCM_16")
    expected[UNICODE_NAME] = "measured"

    _write(root / HIDDEN_TRACK, render_music_like(seed=11), 44100, "PCM_16")
    expected[HIDDEN_TRACK] = "measured"

    return expected
