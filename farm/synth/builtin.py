"""A small NumPy/SciPy synthesiser for :class:`~farm.synth.midi.Song`, used when fluidsynth is missing.

It aims at "sounds like a band through a cheap demo module", which is enough for metering and QC tests:
Karplus-Strong strings for guitars, basses, harp and pizzicato; decaying inharmonic partials for piano and
mallets; band-limited (polyBLEP) saw voices through a low-pass for pads, strings, brass and leads; a
soft-clipped, cabinet-filtered string for overdriven and distorted guitar; synthetic drums; constant-power
panning; and a reverb made by convolving with exponentially decaying noise.

Speed comes from two things: every note's waveform is cached by (instrument, pitch, length), so a repeated
chord costs one synthesis, and the only per-sample recursion (Karplus-Strong) runs one string period per
NumPy operation rather than one sample.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.signal

from farm.errors import ConfigError
from farm.synth.midi import Song

__all__ = ["instrument_model", "render_builtin"]

# --------------------------------------------------------------------------------------------------------------
# Instrument families
# --------------------------------------------------------------------------------------------------------------

# Karplus-Strong settings: T60 decay in seconds and excitation brightness (low-pass corner as a fraction of
# Nyquist; duller excitations sound like fingers or felt rather than a pick).
_PLUCKS = {
    "nylon": (2.2, 0.35),
    "steel": (2.8, 0.6),
    "electric": (3.0, 0.5),
    "bass": (2.5, 0.18),
    "harp": (3.0, 0.4),
    "pizz": (0.35, 0.35),
    "drive": (5.0, 0.55),
}
# Per-part treatment after the notes are summed: (high-pass Hz, low-pass Hz, drive, part gain).
# Drive is applied to the summed part, so chords intermodulate like a real overdriven amplifier.
_PART_FX = {
    "nylon": (70.0, 9000.0, 0.0, 0.55),
    "steel": (70.0, 11000.0, 0.0, 0.5),
    "electric": (70.0, 6000.0, 0.0, 0.5),
    "bass": (30.0, 2500.0, 0.0, 0.9),
    "harp": (60.0, 10000.0, 0.0, 0.45),
    "pizz": (80.0, 8000.0, 0.0, 0.5),
    "drive": (90.0, 4500.0, 6.0, 0.5),
    "crunch": (90.0, 5000.0, 2.5, 0.5),
    "piano": (30.0, 12000.0, 0.0, 0.5),
    "epiano": (30.0, 8000.0, 0.0, 0.45),
    "mallet": (100.0, 14000.0, 0.0, 0.35),
    "organ": (40.0, 6000.0, 0.0, 0.22),
    "strings": (60.0, 6000.0, 0.0, 0.22),
    "pad": (40.0, 2500.0, 0.0, 0.3),
    "brass": (60.0, 5000.0, 0.0, 0.28),
    "lead": (80.0, 6500.0, 0.0, 0.3),
    "flute": (150.0, 9000.0, 0.0, 0.5),
    "synth_bass": (30.0, 1100.0, 0.0, 0.55),
}


def instrument_model(program: int) -> str:
    """Map a General MIDI program (0-127) to one of this synthesiser's instrument models.

    Examples
    --------
    >>> instrument_model(30), instrument_model(24), instrument_model(0)
    ('drive', 'nylon', 'piano')
    """
    if not 0 <= program <= 127:
        raise ConfigError(f"GM program {program} is outside 0-127")
    if program in (29,):
        return "crunch"
    if program in (30, 31):
        return "drive"
    if program == 24:
        return "nylon"
    if program == 25:
        return "steel"
    if 26 <= program <= 28:
        return "electric"
    if program in (38, 39, 87):
        return "synth_bass"
    if 32 <= program <= 37:
        return "bass"
    if program in (45,):
        return "pizz"
    if program == 46 or 104 <= program <= 108:
        return "harp"
    if program <= 3:
        return "piano"
    if program <= 7:
        return "epiano"
    if program <= 15:
        return "mallet"
    if program <= 23:
        return "organ"
    if program in (40, 41, 42, 43, 44, 48, 49, 50, 51):
        return "strings"
    if 56 <= program <= 71:
        return "brass"
    if 72 <= program <= 79:
        return "flute"
    if 80 <= program <= 87:
        return "lead"
    return "pad"


# --------------------------------------------------------------------------------------------------------------
# Oscillators and note models
# --------------------------------------------------------------------------------------------------------------

def _midi_hz(pitch: int) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


@lru_cache(maxsize=64)
def _sos(kind: str, corner_hz: float | tuple[float, float], sample_rate: int, order: int = 2) -> np.ndarray:
    """Butterworth sections, cached (the same few filters are designed once per rate, not once per note).
    Corners are capped below Nyquist so a design made for 48 kHz still works at 8 kHz."""
    if isinstance(corner_hz, tuple):
        low, high = (min(c, 0.45 * sample_rate) for c in corner_hz)
        if low >= 0.9 * high:  # the band is above Nyquist at this rate: keep its lower edge as a high-pass
            return scipy.signal.butter(order, min(low, 0.4 * sample_rate), btype="highpass", fs=sample_rate,
                                       output="sos")
        corner_hz = (low, high)
    else:
        corner_hz = min(corner_hz, 0.45 * sample_rate)
    return scipy.signal.butter(order, corner_hz, btype=kind, fs=sample_rate, output="sos")


def _polyblep_saw(freq_hz: np.ndarray | float, n: int, sample_rate: int, phase0: float) -> np.ndarray:
    """Band-limited sawtooth: a naive ramp with its jumps smoothed by a two-sample polynomial (polyBLEP),
    which removes most of the aliasing a naive saw would fold back at high notes."""
    inc = np.broadcast_to(np.asarray(freq_hz, dtype=float) / sample_rate, (n,))
    phase = (phase0 + np.cumsum(inc) - inc[0]) % 1.0
    saw = 2.0 * phase - 1.0
    lo = phase < inc
    t = phase[lo] / inc[lo]
    saw[lo] -= t + t - t * t - 1.0
    hi = phase > 1.0 - inc
    t = (phase[hi] - 1.0) / inc[hi]
    saw[hi] -= t * t + t + t + 1.0
    return saw


def _adsr(n: int, sample_rate: int, note_s: float, attack_s: float, decay_s: float, sustain: float,
          release_s: float) -> np.ndarray:
    a, d, r = (max(x, 1e-3) for x in (attack_s, decay_s, release_s))
    t = np.arange(n) / sample_rate
    on = np.interp(t, [0.0, a, a + d], [0.0, 1.0, sustain])
    level_at_off = float(np.interp(note_s, [0.0, a, a + d], [0.0, 1.0, sustain]))
    off = level_at_off * np.exp(-(t - note_s) / (r / 4.0))  # release reaches ~-35 dB after release_s
    return np.where(t < note_s, on, off)


def _karplus_strong(freq_hz: float, n: int, sample_rate: int, t60_s: float, brightness: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Plucked string: a noise burst recirculating through a delay line with a two-point average.

    The recursion y[k] = g (y[k-N] + y[k-N-1]) / 2 only reaches one period back, so a whole period is one
    vector operation. The loop runs at an integer period and is then stretched by linear interpolation to
    the exact pitch (an integer period alone is up to ~20 cents off at the top of the range).
    """
    exact = sample_rate / freq_hz
    period = max(2, int(exact))
    stretch = exact / period
    m = int(math.ceil(n / stretch)) + 2
    y = np.empty(m + period)
    # Initial string shape: the triangle of a string pulled at one point, roughened by filtered noise. Pure
    # noise would give a needle-sharp first period and a crest factor no real pluck has.
    pluck_at = 0.2 + 0.2 * rng.random()
    x = np.arange(period) / period
    shape = np.where(x < pluck_at, x / pluck_at, (1.0 - x) / (1.0 - pluck_at))
    noise = scipy.signal.sosfilt(_sos("lowpass", brightness * sample_rate / 2.0, sample_rate, 1),
                                 rng.standard_normal(period))
    burst = shape + 0.5 * brightness * noise / (np.std(noise) + 1e-12)
    burst -= burst.mean()  # no DC in the string, or the loop would hold it forever
    y[:period] = burst / (np.max(np.abs(burst)) + 1e-12)
    g = 10.0 ** (-3.0 * (period / sample_rate) / t60_s)
    y[period] = g * 0.5 * y[0]
    for start in range(period + 1, m + period, period):
        stop = min(start + period, m + period)
        k = stop - start
        y[start:stop] = g * 0.5 * (y[start - period:start - period + k] + y[start - period - 1:start - period - 1 + k])
    y = y[:m]
    if stretch != 1.0:
        y = np.interp(np.arange(n) / stretch, np.arange(m), y)
    return y[:n]


def _note_wave(model: str, pitch: int, note_s: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    f0 = _midi_hz(pitch)
    if model in _PLUCKS:
        t60, bright = _PLUCKS[model]
        release = 0.12 if model != "harp" else 0.6
        n = int((note_s + release) * sample_rate)
        wave = _karplus_strong(f0, n, sample_rate, t60, bright, rng)
        # Note-off damps the string (a finger or palm on it) rather than cutting it.
        t = np.arange(n) / sample_rate
        wave *= np.where(t < note_s, 1.0, np.exp(-(t - note_s) / (release / 4.0)))
        return wave
    if model in ("piano", "epiano", "mallet"):
        release = 0.35
        n = int((note_s + release) * sample_rate)
        t = np.arange(n) / sample_rate
        if model == "piano":
            ks = np.arange(1, 13)
            freqs = ks * f0 * np.sqrt(1.0 + 0.0004 * ks**2)  # stiff-string stretch of the upper partials
            amps = 1.0 / ks**1.1
            base_tau = float(np.clip(2.5 * (261.6 / f0) ** 0.5, 0.4, 6.0))
            taus = base_tau / (1.0 + 0.5 * (ks - 1))
        elif model == "epiano":
            freqs = f0 * np.array([1.0, 2.0, 3.0, 14.0])
            amps = np.array([1.0, 0.25, 0.1, 0.12])
            taus = np.array([2.0, 0.9, 0.5, 0.03])
        else:
            freqs = f0 * np.array([1.0, 3.93, 9.54])  # marimba/vibraphone-like bar modes
            amps = np.array([1.0, 0.35, 0.1])
            taus = np.array([1.2, 0.3, 0.08])
        keep = freqs < 0.45 * sample_rate
        freqs, amps, taus = freqs[keep], amps[keep], taus[keep]
        phases = rng.uniform(0, 2 * np.pi, freqs.size)
        wave = (amps[:, None] * np.exp(-t[None, :] / taus[:, None])
                * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(axis=0)
        attack = np.minimum(t / 0.002, 1.0)
        damper = np.where(t < note_s, 1.0, np.exp(-(t - note_s) / 0.08))
        wave *= attack * damper
        return wave / (np.max(np.abs(wave)) + 1e-12)
    # Sustained voices: oscillators under an ADSR.
    settings = {
        "organ": (0.005, 0.05, 1.0, 0.05),
        "strings": (0.18, 0.3, 0.85, 0.35),
        "pad": (0.45, 0.5, 0.8, 0.6),
        "brass": (0.05, 0.2, 0.75, 0.15),
        "lead": (0.01, 0.15, 0.8, 0.12),
        "flute": (0.06, 0.1, 0.9, 0.12),
        "synth_bass": (0.004, 0.25, 0.55, 0.06),
    }
    attack, decay, sustain, release = settings.get(model, settings["pad"])
    # A slow pad attack on a sixteenth note would never open; short notes get a proportionally short one.
    attack = min(attack, 0.3 * note_s)
    n = int((note_s + release) * sample_rate)
    t = np.arange(n) / sample_rate
    env = _adsr(n, sample_rate, note_s, attack, decay, sustain, release)
    if model == "organ":
        ratios = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 6.0])
        amps = np.array([0.6, 1.0, 0.7, 0.4, 0.3, 0.15])
        keep = ratios * f0 < 0.45 * sample_rate
        wave = (amps[keep, None] * np.sin(2 * np.pi * f0 * ratios[keep, None] * t[None, :])).sum(axis=0)
    elif model == "flute":
        vibrato = 1.0 + 0.004 * np.sin(2 * np.pi * 5.0 * t) * np.minimum(t / 0.4, 1.0)
        phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sample_rate
        breath = scipy.signal.sosfilt(_sos("bandpass", (0.8 * f0, 3.0 * f0), sample_rate), rng.standard_normal(n))
        wave = np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.08 * np.sin(3 * phase) + 0.15 * breath
    else:
        detune = {"strings": (-0.006, 0.0, 0.007), "pad": (-0.005, 0.005), "brass": (-0.002, 0.002)}
        offsets = detune.get(model, (0.0,))
        vib_depth = 0.005 if model in ("lead", "strings") else 0.0
        vibrato = 1.0 + vib_depth * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - 0.25) / 0.3, 0.0, 1.0)
        wave = sum(_polyblep_saw(f0 * (1.0 + d) * vibrato, n, sample_rate, rng.random()) for d in offsets)
        wave = wave / len(offsets)
    return wave * env / (np.max(np.abs(wave)) + 1e-12)


# --------------------------------------------------------------------------------------------------------------
# Drums
# --------------------------------------------------------------------------------------------------------------

# The six square-wave partials of the classic analogue hi-hat/cymbal circuit: inharmonic, hence metallic.
_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
# GM key -> pan (0 left, 1 right), as a drummer's kit looks from the audience.
_DRUM_PAN = {42: 0.65, 44: 0.65, 46: 0.65, 49: 0.3, 57: 0.72, 51: 0.35, 41: 0.3, 43: 0.35, 45: 0.42, 47: 0.5,
             48: 0.58, 50: 0.62, 70: 0.7, 69: 0.7}


def _drum_wave(key: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    sr = sample_rate

    def noise(seconds):
        return rng.standard_normal(int(seconds * sr))

    def metal(seconds, transpose=1.0):
        t = np.arange(int(seconds * sr)) / sr
        return sum(np.sign(np.sin(2 * np.pi * f * transpose * t + rng.random() * 6.283)) for f in _METAL_HZ)

    def sweep(seconds, f_end, f_start, drop_s, decay_s):
        t = np.arange(int(seconds * sr)) / sr
        freq = f_end + (f_start - f_end) * np.exp(-t / drop_s)
        return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / decay_s), t

    if key in (35, 36):  # kick: a sine whose pitch falls fast, plus a beater click
        body, t = sweep(0.5, 48.0, 160.0, 0.03, 0.22)
        click = scipy.signal.sosfilt(_sos("highpass", 1500.0, sr), noise(0.5)) * np.exp(-t / 0.004)
        wave = np.tanh(1.5 * body) + 0.25 * click
    elif key in (38, 40):  # snare: drum-head tones plus band-passed wire noise
        t = np.arange(int(0.4 * sr)) / sr
        tone = (np.sin(2 * np.pi * 185 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t / 0.05)
        wires = scipy.signal.sosfilt(_sos("bandpass", (1200.0, 9000.0), sr), noise(0.4)) * np.exp(-t / 0.12)
        wave = 0.7 * tone + 1.2 * wires / np.std(wires[: int(0.05 * sr)])
    elif key == 37:  # side stick: a wooden click
        t = np.arange(int(0.12 * sr)) / sr
        wave = (np.sin(2 * np.pi * 820 * t) * np.exp(-t / 0.012)
                + 0.5 * scipy.signal.sosfilt(_sos("bandpass", (2000.0, 6000.0), sr), noise(0.12)) * np.exp(-t / 0.008))
    elif key == 39:  # hand clap: three quick bursts then a short tail
        t = np.arange(int(0.35 * sr)) / sr
        env = sum(np.where(t >= d, np.exp(-(t - d) / 0.006), 0.0) for d in (0.0, 0.011, 0.022))
        env = env + 0.6 * np.where(t >= 0.03, np.exp(-(t - 0.03) / 0.09), 0.0)
        wave = scipy.signal.sosfilt(_sos("bandpass", (900.0, 4000.0), sr), noise(0.35)) * env
    elif key in (42, 44, 46):  # hi-hat: metallic squares and noise, high-passed; open rings longer
        seconds, decay = (0.7, 0.28) if key == 46 else (0.15, 0.035 if key == 42 else 0.025)
        t = np.arange(int(seconds * sr)) / sr
        raw = metal(seconds, 2.0) * 0.15 + noise(seconds)
        wave = scipy.signal.sosfilt(_sos("highpass", 7000.0, sr, 4), raw) * np.exp(-t / decay)
    elif key in (49, 57, 51, 52, 55, 59):  # crash and ride cymbals
        ride = key in (51, 59)
        seconds = 2.0 if ride else 3.0
        t = np.arange(int(seconds * sr)) / sr
        raw = metal(seconds, 1.7 if ride else 1.3) * 0.2 + noise(seconds)
        body = scipy.signal.sosfilt(_sos("highpass", 4000.0 if ride else 3000.0, sr, 4), raw)
        wave = body * (np.exp(-t / (0.5 if ride else 0.9)) + (0.8 if not ride else 0.0) * np.exp(-t / 0.05))
        if ride:  # the bell ping on the stick's attack
            wave = wave + 0.4 * np.std(wave) * np.sin(2 * np.pi * 3100 * t) * np.exp(-t / 0.3)
    elif key in (41, 43, 45, 47, 48, 50):  # toms: pitched sweeps, higher key = smaller drum
        f = {41: 82.0, 43: 98.0, 45: 115.0, 47: 138.0, 48: 160.0, 50: 190.0}[key]
        body, t = sweep(0.6, f, f * 1.6, 0.04, 0.22)
        wave = body + 0.15 * scipy.signal.sosfilt(_sos("bandpass", (f * 2, 5000.0), sr), noise(0.6)) * np.exp(-t / 0.03)
    elif key in (69, 70, 82):  # shaker / cabasa: a short swell of high noise
        t = np.arange(int(0.12 * sr)) / sr
        env = np.minimum(t / 0.012, 1.0) * np.exp(-t / 0.03)
        wave = scipy.signal.sosfilt(_sos("bandpass", (4500.0, 11000.0), sr), noise(0.12)) * env
    else:  # anything else on the drum channel: a short tick, so nothing silently disappears
        t = np.arange(int(0.08 * sr)) / sr
        wave = scipy.signal.sosfilt(_sos("highpass", 2000.0, sr), noise(0.08)) * np.exp(-t / 0.01)
    # A struck drum's sound rises over a fraction of a millisecond (the head moves, the microphone and the
    # converter band-limit it); a wave that starts at full amplitude in one sample is a step, which the QC
    # rightly reports as a splice.
    ramp = min(wave.size, max(2, int(0.0005 * sr)))
    wave[:ramp] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    # and it has not died away where the buffer ends (a closed hat keeps ~1 %): fade the last 5 ms
    fade = min(wave.size, int(0.005 * sr))
    wave[wave.size - fade:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / fade)
    return wave / (np.max(np.abs(wave)) + 1e-12)


# Relative drum levels (kick and snare lead, hats sit under them).
_DRUM_GAIN = {35: 1.0, 36: 1.0, 38: 0.75, 40: 0.75, 37: 0.35, 39: 0.6, 42: 0.22, 44: 0.18, 46: 0.25, 49: 0.35,
              57: 0.35, 51: 0.2, 70: 0.12, 69: 0.12}


# --------------------------------------------------------------------------------------------------------------
# Mixing
# --------------------------------------------------------------------------------------------------------------

# Level of each role in its loud passages (RMS of the 90th-percentile 400 ms block, dBFS, before the part's
# CC 7 volume): the instrument models differ by 20 dB in raw level, so the mix is balanced by role instead.
_ROLE_LEVEL_DB = {"drums": -21.0, "bass": -18.0, "melody": -20.0, "pad": -24.0}
_CHORDAL_LEVEL_DB = -21.0
_PART_PEAK_DB = -6.0


def _loud_level_db(x: np.ndarray, sample_rate: int) -> float:
    block = int(0.4 * sample_rate)
    mono = x if x.ndim == 1 else x.mean(axis=0)
    n = mono.size // block
    if n == 0:
        return -np.inf
    power = np.mean(mono[: n * block].reshape(n, block) ** 2, axis=1)
    power = power[power > 1e-12]
    return 10.0 * np.log10(np.percentile(power, 90)) if power.size else -np.inf

def _pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan law for ``pan`` in 0 (left) .. 1 (right)."""
    angle = np.clip(pan, 0.0, 1.0) * np.pi / 2
    return math.cos(angle), math.sin(angle)


def _expression_gain(song: Song, n: int, sample_rate: int) -> np.ndarray:
    """CC 11 as a step function of time, mapped like a GM synthesiser: 40 log10(v / 127) dB."""
    times = np.array([t for t, _ in song.expression])
    values = np.array([v for _, v in song.expression], dtype=float)
    idx = np.searchsorted(times, np.arange(n) / sample_rate, side="right") - 1
    gain = (values[np.clip(idx, 0, None)] / 127.0) ** 2
    # The steps are 0.1 s apart; smooth them over 10 ms so a fade has no zipper noise.
    width = max(1, int(0.01 * sample_rate))
    return np.convolve(gain, np.ones(width) / width, mode="same")


def _reverb_ir(sample_rate: int, rng: np.random.Generator, rt60_s: float = 1.6) -> np.ndarray:
    """Stereo room impulse response: decorrelated noise under an exponential decay, darker as it decays
    (a bright early part with a short RT60 plus a low-passed part with the full RT60)."""
    n = int(rt60_s * 1.1 * sample_rate)
    t = np.arange(n) / sample_rate
    predelay = int(0.018 * sample_rate)
    noise = rng.standard_normal((2, n))
    dark = scipy.signal.sosfilt(_sos("lowpass", 3500.0, sample_rate), noise, axis=-1)
    ir = noise * np.exp(-6.91 * t / (0.35 * rt60_s)) * 0.5 + dark * np.exp(-6.91 * t / rt60_s)
    ir[:, :predelay] = 0.0
    return ir / np.sqrt(np.sum(ir**2, axis=-1, keepdims=True))


def render_builtin(song: Song, sample_rate: int, *, tail_s: float = 2.5) -> np.ndarray:
    """Render ``song`` with the built-in synthesiser.

    Parameters
    ----------
    song : Song
        From :func:`farm.synth.midi.generate_song`.
    sample_rate : int
        Output rate in Hz (8000-384000); the instruments are synthesised at this rate, not resampled.
    tail_s : float, keyword-only
        Seconds of release and reverb kept after the last note-off.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(2, n)``, not normalised (peaks are typically within a few dB of full scale).

    Examples
    --------
    >>> from farm.synth.midi import generate_song
    >>> audio = render_builtin(generate_song(3, duration_s=8.0), 48000)
    >>> audio.shape[0], audio.dtype
    (2, dtype('float64'))
    """
    if not 8000 <= int(sample_rate) <= 384000:
        raise ConfigError(f"sample_rate {sample_rate} Hz is outside 8000-384000")
    sr = int(sample_rate)
    rng = np.random.default_rng([song.seed, sr, 0x5EED])
    last = max((n.start_s + n.duration_s for p in song.parts for n in p.notes), default=song.duration_s)
    n_total = int((max(last, song.duration_s) + tail_s) * sr)
    dry = np.zeros((2, n_total))
    send = np.zeros(n_total)
    expression = _expression_gain(song, n_total, sr)

    for part in song.parts:
        buf = np.zeros((2, n_total)) if part.is_drums else np.zeros(n_total)
        cache: dict[tuple, np.ndarray] = {}
        model = "drums" if part.is_drums else instrument_model(part.program)
        for note in part.notes:
            start = int(round(note.start_s * sr))
            if start >= n_total:
                continue
            if part.is_drums:
                key = (note.pitch,)
                if key not in cache:
                    cache[key] = _drum_wave(note.pitch, sr, rng)
                wave = cache[key] * _DRUM_GAIN.get(note.pitch, 0.3)
            else:
                key = (note.pitch, round(note.duration_s, 2))
                if key not in cache:
                    w = _note_wave(model, note.pitch, max(0.02, key[1]), sr, rng)
                    # The release of some models has not reached zero where the buffer ends (an e-piano's
                    # damper leaves ~1 %): a 5 ms fade, or the cut is a step the QC rightly calls a splice.
                    fade = min(w.size, int(0.005 * sr))
                    w[w.size - fade:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / fade)
                    cache[key] = w
                wave = cache[key]
            stop = min(n_total, start + wave.size)
            amp = (note.velocity / 127.0) ** 2  # GM velocity curve, about 40 log10(v/127) dB
            if part.is_drums:
                gl, gr = _pan_gains(_DRUM_PAN.get(note.pitch, 0.5))
                buf[0, start:stop] += gl * amp * wave[: stop - start]
                buf[1, start:stop] += gr * amp * wave[: stop - start]
            else:
                buf[start:stop] += amp * wave[: stop - start]
        if not part.is_drums:
            hp, lp, drive, gain = _PART_FX[model]
            buf = scipy.signal.sosfilt(_sos("highpass", hp, sr), buf)
            if drive > 0:
                # Soft clipping of the summed part, normalised so the drive changes tone, not level.
                buf = np.tanh(drive * buf / (np.max(np.abs(buf)) + 1e-12))
            buf = scipy.signal.sosfilt(_sos("lowpass", lp, sr), buf) * gain
        loud_db = _loud_level_db(buf, sr)
        peak = float(np.max(np.abs(buf)))
        if np.isfinite(loud_db) and peak > 0:
            target_db = _ROLE_LEVEL_DB.get(part.name, _CHORDAL_LEVEL_DB)
            # Very percussive parts (pizzicato, harp) would reach their RMS target only with huge peaks;
            # a peak cap keeps them in the mix the way a player's dynamics would.
            buf *= min(10.0 ** ((target_db - loud_db) / 20.0), 10.0 ** (_PART_PEAK_DB / 20.0) / peak)
        level = (part.volume / 127.0) ** 2 * expression
        if part.is_drums:
            buf *= level
            dry += buf
            send += (part.reverb_send / 127.0) * buf.mean(axis=0)
        else:
            buf *= level
            gl, gr = _pan_gains(part.pan / 127.0)
            dry[0] += gl * buf
            dry[1] += gr * buf
            send += (part.reverb_send / 127.0) * buf

    ir = _reverb_ir(sr, rng)
    wet = np.stack([scipy.signal.oaconvolve(send, ir[c])[:n_total] for c in range(2)])
    return dry + 0.6 * wet
