"""Render a :class:`~farm.synth.midi.Song` to stereo audio, with fluidsynth or the built-in synthesiser.

fluidsynth with a General MIDI soundfont (Debian's ``fluid-soundfont-gm``: FluidR3_GM.sf2) gives sampled
instruments, its own reverb and chorus, and is the renderer the agreement tests use. The built-in synthesiser
(:mod:`farm.synth.builtin`) needs nothing but NumPy and SciPy, so the demo also works on a bare machine.

Measured here (fluidsynth 2.3.1, FluidR3_GM): ``-r`` is honoured at 44100, 48000, 88200 and 96000 Hz (the
written WAV has that rate and the render length in samples scales with it); fluidsynth's settings cap the
rate at 96000 Hz, so higher rates are rendered at a supported rate and resampled with
``scipy.signal.resample_poly``. Its fast render keeps going for several seconds of near-silence after the
MIDI file ends, which :func:`trim_tail` removes.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from farm.errors import ConfigError, FarmError
from farm.synth.builtin import render_builtin
from farm.synth.midi import Song, write_midi

__all__ = [
    "RENDERERS",
    "SOUNDFONT_CANDIDATES",
    "find_soundfont",
    "fluidsynth_available",
    "render_fluidsynth",
    "render_song",
    "resolve_renderer",
    "trim_tail",
]

RENDERERS = ("auto", "fluidsynth", "builtin")
LEAD_IN_S = 0.005  # silence before the built-in renderer's first note (a hit after 1 ms of silence is no cut)

#: Where :func:`find_soundfont` looks, after the ``FARM_SOUNDFONT`` environment variable.
SOUNDFONT_CANDIDATES = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)

# fluidsynth's synth.sample-rate setting accepts 8000-96000 Hz.
_FLUIDSYNTH_MAX_RATE = 96000
# fluidsynth's master gain. The output is float, so nothing clips inside the file; the value only has to keep
# the mix far above float noise and is normalised away afterwards.
_FLUIDSYNTH_GAIN = 0.5


def find_soundfont() -> Path | None:
    """Return the General MIDI soundfont to use, or ``None`` when there is none.

    ``FARM_SOUNDFONT`` wins when set; otherwise the first existing file of :data:`SOUNDFONT_CANDIDATES`.

    Raises
    ------
    ConfigError
        When ``FARM_SOUNDFONT`` names a file that does not exist (a typo should not silently fall back).
    """
    env = os.environ.get("FARM_SOUNDFONT")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"FARM_SOUNDFONT={env!r} is not a file; point it at a .sf2 soundfont or unset it")
        return path
    for path in SOUNDFONT_CANDIDATES:
        if path.is_file():
            return path
    return None


def fluidsynth_available(soundfont: str | os.PathLike | None = None) -> tuple[bool, str]:
    """Whether fluidsynth rendering can run here, and why not when it cannot.

    Returns
    -------
    (bool, str)
        ``(True, "fluidsynth at /usr/bin/fluidsynth with /usr/share/sounds/sf2/FluidR3_GM.sf2")`` or
        ``(False, reason)`` naming what is missing and how to get it.
    """
    binary = shutil.which("fluidsynth")
    if binary is None:
        return False, "the fluidsynth program is not on PATH (Debian/Ubuntu: apt-get install fluidsynth)"
    try:
        sf2 = Path(soundfont) if soundfont is not None else find_soundfont()
    except ConfigError as exc:
        return False, str(exc)
    if sf2 is None:
        return False, ("no General MIDI soundfont found (set FARM_SOUNDFONT, or apt-get install "
                       "fluid-soundfont-gm for /usr/share/sounds/sf2/FluidR3_GM.sf2)")
    if not sf2.is_file():
        return False, f"soundfont {str(sf2)!r} does not exist"
    return True, f"fluidsynth at {binary} with {sf2}"


def resolve_renderer(renderer: str = "auto", soundfont: str | os.PathLike | None = None) -> str:
    """Turn ``"auto"`` into ``"fluidsynth"`` or ``"builtin"``; check an explicit choice is usable.

    Raises
    ------
    ConfigError
        For an unknown renderer name, or ``"fluidsynth"`` when it is not available (with the reason).
    """
    if renderer not in RENDERERS:
        raise ConfigError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    if renderer == "builtin":
        return renderer
    ok, reason = fluidsynth_available(soundfont)
    if renderer == "fluidsynth" and not ok:
        raise ConfigError(f"renderer 'fluidsynth' is not available: {reason}")
    return "fluidsynth" if ok else "builtin"


def trim_tail(audio: np.ndarray, sample_rate: int, *, floor_db: float = -70.0, keep_s: float = 0.5) -> np.ndarray:
    """Cut trailing near-silence, keeping the reverb tail down to ``floor_db`` below the peak plus ``keep_s``.

    Parameters
    ----------
    audio : numpy.ndarray
        Shape ``(channels, n)``.
    sample_rate : int
        In Hz.
    floor_db : float, keyword-only
        Level relative to the peak below which the tail counts as silence. -70 dB keeps every audible part of
        a natural decay (a -70 dBr tail sits under the noise floor of any real playback).
    keep_s : float, keyword-only
        Near-silence kept after the last sample above the floor, so the file does not stop dead.

    Returns
    -------
    numpy.ndarray
        A view of ``audio``, shape ``(channels, m)`` with ``m <= n``.
    """
    envelope = np.max(np.abs(audio), axis=0)
    peak = float(envelope.max(initial=0.0))
    if peak == 0.0:
        return audio
    above = np.flatnonzero(envelope > peak * 10.0 ** (floor_db / 20.0))
    end = min(audio.shape[-1], int(above[-1]) + 1 + int(round(keep_s * sample_rate)))
    return audio[..., :end]


def _run_fluidsynth(midi: Path, wav: Path, rate: int, soundfont: Path, timeout_s: float) -> None:
    # Chorus off: fluidsynth's chorus returns its right channel in opposite polarity, so songs with chorus
    # sends (pads, leads) rendered at whole-track L/R correlations of -0.6 to -0.8 (measured, fluidsynth
    # 2.3.1: electronic seeds 303 and 313), i.e. as if a channel were inverted. No real mix sounds like that,
    # and material for QC tests must be realistic. Reverb stays on.
    cmd = ["fluidsynth", "-ni", "-q", "-F", str(wav), "-T", "wav", "-O", "float", "-r", str(rate),
           "-g", str(_FLUIDSYNTH_GAIN), "-R", "1", "-C", "0", str(soundfont), str(midi)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FarmError(f"fluidsynth did not finish rendering {midi.name} within {timeout_s:.0f} s") from exc
    if proc.returncode != 0 or not wav.is_file():
        tail = (proc.stderr or proc.stdout or "").strip()[-500:]
        raise FarmError(f"fluidsynth failed (exit {proc.returncode}) rendering {midi.name}: {tail}")


def render_fluidsynth(song: Song, sample_rate: int, *, soundfont: str | os.PathLike | None = None) -> np.ndarray:
    """Render ``song`` with the fluidsynth program (reverb and chorus on), untrimmed and unnormalised.

    Rates above 96 kHz are rendered at a supported rate that divides evenly and resampled with
    ``scipy.signal.resample_poly``. Temporary files live in a temporary directory that is always removed.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(2, n)``.

    Raises
    ------
    ConfigError
        When fluidsynth or a soundfont is missing.
    FarmError
        When fluidsynth fails or writes an unexpected file.
    """
    ok, reason = fluidsynth_available(soundfont)
    if not ok:
        raise ConfigError(f"cannot render with fluidsynth: {reason}")
    sf2 = Path(soundfont) if soundfont is not None else find_soundfont()
    rate = int(sample_rate)
    render_rate = rate
    if rate > _FLUIDSYNTH_MAX_RATE:
        render_rate = 48000 if rate % 48000 == 0 else 44100 if rate % 44100 == 0 else 48000
    with tempfile.TemporaryDirectory(prefix="farm-fluidsynth-") as tmp:
        midi = write_midi(song, Path(tmp) / "song.mid")
        wav = Path(tmp) / "song.wav"
        _run_fluidsynth(midi, wav, render_rate, sf2, timeout_s=60.0 + 4.0 * song.duration_s)
        data, got_rate = sf.read(str(wav), dtype="float64", always_2d=True)
    audio = np.ascontiguousarray(data.T)
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    if audio.shape[0] != 2:
        raise FarmError(f"fluidsynth wrote {audio.shape[0]} channels; expected stereo")
    if got_rate != rate:
        g = math.gcd(rate, int(got_rate))
        audio = scipy.signal.resample_poly(audio, rate // g, int(got_rate) // g, axis=-1)
    return audio


def render_song(song: Song, sample_rate: int, *, renderer: str = "auto", soundfont: str | os.PathLike | None = None,
                peak_dbfs: float | None = -1.0, loudness_lufs: float | None = None) -> np.ndarray:
    """Render ``song`` to stereo float audio at ``sample_rate``.

    Parameters
    ----------
    song : Song
        From :func:`farm.synth.midi.generate_song`.
    sample_rate : int
        Output rate in Hz.
    renderer : {"auto", "fluidsynth", "builtin"}, keyword-only
        ``"auto"`` uses fluidsynth when the program and a GM soundfont are found, else the built-in synth.
    soundfont : path, optional, keyword-only
        Soundfont for fluidsynth; default :func:`find_soundfont`.
    peak_dbfs : float or None, keyword-only
        Scale so the sample peak sits here (default -1 dBFS); ``None`` returns the renderer's raw level.
    loudness_lufs : float or None, keyword-only
        Scale to this integrated loudness (BS.1770, via :mod:`kernels.loudness`) instead; when given,
        ``peak_dbfs`` is not applied and the peak lands wherever the loudness puts it (possibly above 0 dBFS).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(2, n)``: the song plus its natural release and reverb tail, with trailing
        near-silence trimmed to at most ~0.5 s (see :func:`trim_tail`).

    Examples
    --------
    >>> from farm.synth.midi import generate_song
    >>> audio = render_song(generate_song(3, duration_s=8.0), 48000, renderer="builtin")
    >>> round(float(20 * np.log10(np.abs(audio).max())), 3)
    -1.0
    """
    rate = int(sample_rate)
    if rate != sample_rate or not 8000 <= rate <= 384000:
        raise ConfigError(f"sample_rate {sample_rate!r} must be a whole number of Hz in 8000-384000")
    which = resolve_renderer(renderer, soundfont)
    if which == "fluidsynth":
        audio = render_fluidsynth(song, rate, soundfont=soundfont)
    else:
        audio = render_builtin(song, rate)
        # The built-in synthesiser starts its first note on sample 0; an exported master has a few ms of
        # lead-in, and a full-level first sample is exactly what the start_cut detector looks for.
        audio = np.concatenate([np.zeros((audio.shape[0], int(round(LEAD_IN_S * rate)))), audio], axis=1)
    audio = np.ascontiguousarray(trim_tail(audio, rate))
    if not np.all(np.isfinite(audio)) or not np.any(audio):
        raise FarmError(f"the {which} renderer produced {'silence' if np.all(np.isfinite(audio)) else 'NaN/inf'}"
                        f" for song seed {song.seed}")
    if loudness_lufs is not None:
        try:
            from kernels.loudness import LoudnessMeter  # noqa: PLC0415 - only this option needs it
        except ImportError as exc:
            raise ConfigError("loudness_lufs needs kernels.loudness, which is not importable") from exc
        meter = LoudnessMeter(rate, audio.shape[0])
        meter.process(audio)
        measured = meter.result().integrated_lufs
        if not np.isfinite(measured):
            raise FarmError(f"cannot normalise song seed {song.seed} to loudness: it measures {measured} LUFS")
        audio *= 10.0 ** ((loudness_lufs - measured) / 20.0)
    elif peak_dbfs is not None:
        audio *= 10.0 ** (peak_dbfs / 20.0) / np.max(np.abs(audio))
    return audio
