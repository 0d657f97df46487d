"""Seeded song generator and a small Standard MIDI File (format 1) writer.

The songs are test material, not art: they exist so that loudness, true-peak, silence and clipping checks run
on something with the texture of real music (drum transients, sustained chords, a bass line, a melody, quiet
passages next to dense ones, fades and hard endings) instead of sines alone. Everything is derived from one
``numpy.random.Generator`` seeded by the caller, so a seed always yields the same song, note for note.

Times are kept in seconds in the :class:`Song`; the MIDI writer converts them to ticks at the song's single
tempo. Channel numbers are 0-based as on the wire, so General MIDI's drum channel 10 is ``channel=9``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm.errors import ConfigError

__all__ = [
    "DRUM_CHANNEL",
    "STYLES",
    "Note",
    "Part",
    "Section",
    "Song",
    "generate_song",
    "song_to_midi_bytes",
    "write_midi",
]

#: 0-based MIDI channel that General MIDI reserves for percussion ("channel 10").
DRUM_CHANNEL = 9

#: Styles :func:`generate_song` knows, in the order ``style=None`` draws from.
STYLES = ("pop", "rock", "ballad", "electronic", "acoustic")

# Ticks per quarter note. 480 is what most sequencers write; it resolves 16ths and small humanising offsets.
_PPQ = 480

# General MIDI percussion key numbers (channel 10).
_KICK, _SIDE_STICK, _SNARE, _CLAP = 36, 37, 38, 39
_TOM_FLOOR, _CLOSED_HAT, _TOM_LOW, _PEDAL_HAT, _TOM_MID, _OPEN_HAT, _TOM_HIGH = 41, 42, 45, 44, 47, 46, 50
_CRASH, _RIDE, _SHAKER = 49, 51, 70

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)

# Chord progressions as 0-based scale degrees, one chord per bar, looped.
_MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (0, 3, 5, 4), (3, 0, 4, 5))
_MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 6, 2), (0, 6, 5, 6), (0, 3, 4, 0), (5, 6, 0, 0), (0, 2, 6, 3))


@dataclass(frozen=True)
class Note:
    """One note: onset and length in seconds, MIDI key number 0-127, velocity 1-127."""

    start_s: float
    duration_s: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    """One instrument: a General MIDI program on one channel with its notes and its mixer settings.

    ``program`` is the 0-based GM program number (0 = acoustic grand, 30 = distortion guitar); it is ignored on
    the drum channel. ``volume`` and ``pan`` are the CC 7 and CC 10 values (0-127, pan 64 = centre);
    ``reverb_send`` and ``chorus_send`` are CC 91 and CC 93.
    """

    name: str
    program: int
    channel: int
    notes: tuple[Note, ...]
    volume: int = 100
    pan: int = 64
    reverb_send: int = 40
    chorus_send: int = 0

    @property
    def is_drums(self) -> bool:
        """True on the GM percussion channel."""
        return self.channel == DRUM_CHANNEL


@dataclass(frozen=True)
class Section:
    """A stretch of the arrangement; ``intensity`` 0-1 scales density and velocity (0.2 = quiet passage)."""

    kind: str
    start_s: float
    end_s: float
    intensity: float


@dataclass(frozen=True)
class Song:
    """A generated song, renderer-independent.

    ``expression`` is a global CC 11 automation, ``(time_s, value)`` pairs with values 0-127, applied on every
    channel; fades are written this way so that a synthesiser's reverb tail fades with the dry sound. A GM
    synthesiser attenuates by 40 log10(value / 127) dB. ``duration_s`` is the musical length; rendered audio
    is longer by the instruments' release and reverb tail. ``ending`` is ``"fade"`` or ``"hard"``.
    """

    seed: int
    style: str
    tempo_bpm: float
    key_root: int
    mode: str
    duration_s: float
    parts: tuple[Part, ...]
    sections: tuple[Section, ...]
    expression: tuple[tuple[float, int], ...]
    fade_in: bool
    ending: str

    @property
    def beat_s(self) -> float:
        """Length of one quarter note in seconds."""
        return 60.0 / self.tempo_bpm


# --------------------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------------------

# Section templates: (kind, relative length in bars, intensity). "break" is the quiet passage every song has.
_TEMPLATES = {
    "pop": (("intro", 2, 0.35), ("verse", 4, 0.6), ("chorus", 4, 1.0), ("break", 2, 0.15), ("chorus", 4, 1.0),
            ("outro", 2, 0.5)),
    "rock": (("intro", 2, 0.7), ("verse", 4, 0.65), ("chorus", 4, 1.0), ("break", 2, 0.2), ("chorus", 4, 1.0),
             ("outro", 2, 0.8)),
    "ballad": (("intro", 4, 0.15), ("verse", 4, 0.45), ("chorus", 4, 0.85), ("break", 2, 0.15),
               ("chorus", 4, 0.9), ("outro", 2, 0.4)),
    "electronic": (("intro", 4, 0.45), ("verse", 4, 0.65), ("chorus", 4, 1.0), ("break", 3, 0.15),
                   ("chorus", 4, 1.0), ("outro", 2, 0.6)),
    "acoustic": (("intro", 2, 0.3), ("verse", 4, 0.55), ("chorus", 4, 0.85), ("break", 2, 0.15),
                 ("chorus", 4, 0.85), ("outro", 2, 0.4)),
}
_TEMPO_RANGES = {"pop": (92, 124), "rock": (112, 150), "ballad": (62, 78), "electronic": (120, 130),
                 "acoustic": (84, 108)}
_MINOR_PROBABILITY = {"pop": 0.3, "rock": 0.5, "ballad": 0.4, "electronic": 0.6, "acoustic": 0.3}
# Sections dropped first when a short song cannot hold the whole template.
_DROP_ORDER = ("outro", "break", "intro", "verse")


@dataclass(frozen=True)
class _Bar:
    index: int
    start_s: float
    kind: str
    intensity: float
    chord: tuple[int, ...]  # pitch classes of the chord, root first (relative to C, not to the key)
    first_of_section: bool
    last_of_section: bool
    next_kind: str | None


class _Builder:
    """Collects notes for one part; keeps same-pitch notes from overlapping (a MIDI note-on on a sounding key
    would cut the earlier note short on some synthesisers and stack voices on others)."""

    def __init__(self) -> None:
        self.notes: list[Note] = []

    def add(self, start_s: float, duration_s: float, pitch: int, velocity: float) -> None:
        pitch = int(pitch)
        if not 0 <= pitch <= 127 or duration_s <= 0:
            return
        self.notes.append(Note(max(0.0, float(start_s)), float(duration_s), pitch,
                               int(np.clip(round(velocity), 1, 127))))

    def build(self) -> tuple[Note, ...]:
        notes = sorted(self.notes, key=lambda n: (n.start_s, n.pitch))
        last_by_pitch: dict[int, int] = {}
        for i, note in enumerate(notes):
            j = last_by_pitch.get(note.pitch)
            if j is not None:
                prev = notes[j]
                if prev.start_s + prev.duration_s > note.start_s - 0.002:
                    notes[j] = Note(prev.start_s, max(0.01, note.start_s - prev.start_s - 0.002), prev.pitch,
                                    prev.velocity)
            last_by_pitch[note.pitch] = i
        return tuple(notes)


def _allocate_bars(template, n_bars: int):
    sections = list(template)
    for kind in _DROP_ORDER:
        while len(sections) > n_bars and any(s[0] == kind for s in sections):
            idx = max(i for i, s in enumerate(sections) if s[0] == kind)
            sections.pop(idx)
    sections = sections[:n_bars]
    weights = np.array([s[1] for s in sections], dtype=float)
    spare = n_bars - len(sections)
    share = (weights - 1.0) / max((weights - 1.0).sum(), 1e-9) * spare
    bars = 1 + np.floor(share).astype(int)
    # Largest remainder so the lengths add up exactly.
    for i in np.argsort(-(share - np.floor(share)), kind="stable")[: n_bars - bars.sum()]:
        bars[i] += 1
    return [(kind, int(b), intensity) for (kind, _, intensity), b in zip(sections, bars)]


def _chord_pitch_classes(key_root: int, scale: tuple[int, ...], degree: int, seventh: bool) -> tuple[int, ...]:
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    return tuple((key_root + scale[(degree + s) % 7] + 12 * ((degree + s) // 7)) % 12 for s in steps)


def _voice(chord: tuple[int, ...], low: int, high: int) -> list[int]:
    """Every chord tone between ``low`` and ``high`` once (close voicing, lowest inversion that fits)."""
    pitches = []
    for pc in chord:
        p = low + (pc - low) % 12
        if p < high:
            pitches.append(p)
    return sorted(pitches)


def _bass_pitch(pc: int, low: int = 33) -> int:
    return low + (pc - low) % 12


def _humanise(rng: np.random.Generator, amount_s: float) -> float:
    return float(rng.normal(0.0, amount_s)) if amount_s > 0 else 0.0


def _vel(rng: np.random.Generator, base: float, intensity: float, spread: float = 6.0) -> float:
    # Quiet sections play softer, not just thinner: velocity 0.45..1.0 of the base.
    return base * (0.45 + 0.55 * intensity) + rng.normal(0.0, spread)


def _drums(bars: list[_Bar], style: str, beat_s: float, rng: np.random.Generator, hard_ending: bool) -> Part:
    b = _Builder()
    step_s = beat_s / 4.0  # sixteenth
    swing = 0.0 if style == "electronic" else 0.004
    for bar in bars:
        kind, inten = bar.kind, bar.intensity
        hits: list[tuple[int, int, float]] = []  # (step 0-15, key, base velocity)
        quiet = kind == "break" or (style == "ballad" and kind == "intro")
        if style == "electronic":
            if kind == "break":
                hits += [(s, _CLOSED_HAT, 45) for s in range(2, 16, 4)]
            else:
                hits += [(s, _KICK, 112) for s in (0, 4, 8, 12)]
                if kind != "intro":
                    hits += [(s, _CLAP, 100) for s in (4, 12)]
                hits += [(s, _OPEN_HAT, 80) for s in (2, 6, 10, 14)]
                if kind == "chorus":
                    hits += [(s, _CLOSED_HAT, 55 + 15 * (s % 4 == 0)) for s in range(0, 16) if s % 4 != 2]
        elif quiet:
            if style in ("pop", "acoustic") and kind == "break":
                hits += [(s, _SHAKER if style == "acoustic" else _CLOSED_HAT, 40) for s in range(0, 16, 2)]
        else:
            chorus = kind in ("chorus", "outro") and inten >= 0.8
            if style == "rock":
                hits += [(0, _KICK, 115), (8, _KICK, 110), (10, _KICK, 100)]
                if chorus:
                    hits += [(3, _KICK, 95), (14, _KICK, 90)]
                hits += [(4, _SNARE, 118), (12, _SNARE, 120)]
                cym = _RIDE if chorus else _CLOSED_HAT
                hits += [(s, cym, 90 if s % 4 == 0 else 72) for s in range(0, 16, 2)]
            elif style == "ballad":
                hits += [(0, _KICK, 95), (10, _KICK, 80)]
                if chorus:
                    hits += [(8, _KICK, 85), (4, _SNARE, 100), (12, _SNARE, 105)]
                    hits += [(s, _RIDE, 70) for s in range(0, 16, 4)]
                else:
                    hits += [(4, _SIDE_STICK, 80), (12, _SIDE_STICK, 80)]
                    hits += [(s, _CLOSED_HAT, 55) for s in range(0, 16, 2)]
            elif style == "acoustic":
                hits += [(0, _KICK, 90), (8, _KICK, 85)]
                hits += [(4, _SNARE if chorus else _SIDE_STICK, 90), (12, _SNARE if chorus else _SIDE_STICK, 92)]
                hits += [(s, _SHAKER, 60 if s % 2 else 75) for s in range(0, 16)]
            else:  # pop
                hits += [(0, _KICK, 110), (8, _KICK, 105)]
                if rng.random() < 0.6:
                    hits.append((10, _KICK, 92))
                if chorus:
                    hits += [(6, _KICK, 90)]
                hits += [(4, _SNARE, 112), (12, _SNARE, 115)]
                hats = range(0, 16, 1 if chorus and rng.random() < 0.4 else 2)
                hits += [(s, _CLOSED_HAT, 82 if s % 4 == 0 else 64) for s in hats]
                if chorus:
                    hits.append((14, _OPEN_HAT, 80))
        # A fill on the last bar before a louder section: snare and toms in sixteenths, rising.
        if (bar.last_of_section and bar.next_kind in ("chorus", "verse") and kind != "chorus"
                and not (style == "electronic" and kind == "break")) or (
                style == "electronic" and kind == "break" and bar.last_of_section):
            hits = [h for h in hits if h[0] < 8]
            toms = (_SNARE, _SNARE, _TOM_HIGH, _TOM_HIGH, _TOM_MID, _TOM_MID, _TOM_LOW, _TOM_FLOOR)
            if style == "electronic":
                toms = (_SNARE,) * 8
            for i, s in enumerate(range(8, 16)):
                hits.append((s, toms[i], 80 + 5 * i))
        if bar.first_of_section and kind in ("chorus", "outro", "verse") and not quiet:
            hits.append((0, _CRASH, 115 if kind == "chorus" else 95))
        unique = {(step, key): base for step, key, base in hits}  # a pattern may name a hit twice
        for (step, key), base in sorted(unique.items()):
            t = bar.start_s + step * step_s + _humanise(rng, swing)
            # Drum voices ring out by themselves; the note length only matters to the MIDI stream.
            b.add(t, step_s * 0.9, key, _vel(rng, base, max(inten, 0.5)))
    if hard_ending:
        end = bars[-1].start_s + 4 * beat_s
        b.add(end, beat_s, _KICK, 120)
        b.add(end, beat_s, _CRASH, 120)
        b.add(end, beat_s, _CRASH + 8, 110)  # 57 = second crash, doubled for the final hit
    return Part("drums", 0, DRUM_CHANNEL, b.build(), volume=108, pan=64, reverb_send=30)


def _bass(bars: list[_Bar], style: str, program: int, beat_s: float, rng: np.random.Generator,
          hard_ending: bool) -> Part:
    b = _Builder()
    e = beat_s / 2.0  # eighth
    hum = 0.0 if style == "electronic" else 0.005
    for bar in bars:
        root = _bass_pitch(bar.chord[0])
        fifth = _bass_pitch(bar.chord[2 % len(bar.chord)])
        if bar.kind == "break" or (style == "ballad" and bar.kind == "intro"):
            if style != "ballad" or bar.kind == "break":
                b.add(bar.start_s, 8 * e * 0.95, root, _vel(rng, 70, bar.intensity))
            continue
        if style == "rock":
            pattern = [(i, 1, root) for i in range(8)]
        elif style == "electronic":
            pattern = [(i, 1, root + (12 if i in (3, 7) else 0)) for i in (1, 3, 5, 7)]
        elif style == "ballad":
            pattern = [(0, 4, root), (4, 3, fifth if fifth > root else root), (7, 1, root)]
        elif style == "acoustic":
            pattern = [(0, 2, root), (2, 2, fifth), (4, 2, root), (6, 2, fifth)]
        else:
            pattern = [(0, 3, root), (3, 1, root), (4, 2, root + 12 if rng.random() < 0.3 else root),
                       (6, 2, fifth)]
        for step, length, pitch in pattern:
            legato = 0.55 if style in ("rock", "electronic") else 0.9
            b.add(bar.start_s + step * e + _humanise(rng, hum), length * e * legato, pitch,
                  _vel(rng, 100 if step % 4 == 0 else 90, bar.intensity))
    if hard_ending:
        b.add(bars[-1].start_s + 8 * e, 2 * beat_s, _bass_pitch(bars[0].chord[0]), 115)
    return Part("bass", program, 1, b.build(), volume=100, pan=64, reverb_send=10)


def _harmony(bars: list[_Bar], style: str, role: str, program: int, channel: int, beat_s: float,
             rng: np.random.Generator, *, enters: float, volume: int, pan: int, reverb: int, chorus: int = 0,
             low: int = 55, high: int = 72) -> Part:
    """Chordal parts. ``role`` picks the figure: block, stab, pad, arpeggio, power, fingerpick, pizz.

    ``enters`` is the minimum section intensity at which the part plays, which is what makes the quiet
    passages quiet: only the parts with low thresholds are left in them.
    """
    b = _Builder()
    e = beat_s / 2.0
    hum = 0.0 if style == "electronic" else 0.006
    for bar in bars:
        if bar.intensity < enters:
            continue
        voicing = _voice(bar.chord, low, high)
        t0 = bar.start_s
        if role == "pad":
            for p in voicing:
                b.add(t0, 8 * e * 0.98, p, _vel(rng, 85, bar.intensity, 3))
        elif role == "block":
            for step in (0, 2, 4, 6):
                for p in voicing:
                    b.add(t0 + step * e + _humanise(rng, hum), e * 1.7, p, _vel(rng, 92 if step == 0 else 80,
                                                                                bar.intensity))
        elif role == "stab":
            for step in (1, 3, 4, 6) if style != "electronic" else (1, 3, 5, 7):
                for p in voicing:
                    b.add(t0 + step * e + _humanise(rng, hum), e * 0.6, p, _vel(rng, 88, bar.intensity))
        elif role == "arpeggio":
            tones = voicing + [voicing[0] + 12]
            order = [0, 1, 2, 3, 2, 1, 2, 3] if len(tones) >= 4 else [0, 1, 2, 1] * 2
            sixteenth = style == "electronic"
            n = 16 if sixteenth else 8
            step_s = beat_s / 4 if sixteenth else e
            for i in range(n):
                p = tones[order[i % len(order)] % len(tones)]
                b.add(t0 + i * step_s + _humanise(rng, hum), step_s * (0.7 if sixteenth else 1.8), p,
                      _vel(rng, 90 if i % 4 == 0 else 76, bar.intensity))
        elif role == "power":
            root = 40 + (bar.chord[0] - 40) % 12
            shape = (root, root + 7, root + 12)
            if bar.intensity >= 0.9:
                hits = [(0, 3.8), (4, 3.8)]  # sustained chords in the chorus
            elif bar.intensity >= 0.5:
                hits = [(i, 0.45) for i in range(8)]  # palm-muted eighths in the verse
            else:
                hits = [(0, 7.8)]  # one soft ringing chord in the quiet passage
            for step, length in hits:
                for p in shape:
                    b.add(t0 + step * e + _humanise(rng, hum), length * e, p,
                          _vel(rng, 100 if step == 0 else 88, bar.intensity))
        elif role == "fingerpick":
            bass_note = 40 + (bar.chord[0] - 40) % 12
            tones = _voice(bar.chord, 55, 70)
            for i in range(8):
                p = bass_note if i in (0, 4) else tones[(i * 2 + (i // 4)) % len(tones)]
                b.add(t0 + i * e + _humanise(rng, hum), e * 3.5, p, _vel(rng, 86 if i in (0, 4) else 72,
                                                                          bar.intensity))
        elif role == "pizz":
            for step in (0, 2, 4, 6):
                p = voicing[(step // 2) % len(voicing)]
                b.add(t0 + step * e + _humanise(rng, hum), e * 0.8, p, _vel(rng, 88, bar.intensity))
        else:
            raise ValueError(f"unknown harmony role {role!r}")
    return Part(role, program, channel, b.build(), volume=volume, pan=pan, reverb_send=reverb,
                chorus_send=chorus)


def _melody(bars: list[_Bar], style: str, program: int, key_root: int, scale: tuple[int, ...], beat_s: float,
            rng: np.random.Generator, *, volume: int, low: int = 62, high: int = 84) -> Part:
    """A melody in two-bar phrases: one rhythm per section, reused; pitches walk the scale and land on chord
    tones on strong beats, so it sounds like a tune rather than noise."""
    b = _Builder()
    e = beat_s / 2.0
    hum = 0.0 if style == "electronic" else 0.008
    scale_pitches = [p for p in range(low, high + 1) if (p - key_root) % 12 in scale]
    pos = len(scale_pitches) // 2
    rhythms: dict[str, list[tuple[int, int]]] = {}
    for bar in bars:
        if bar.kind in ("intro", "break") or bar.intensity < 0.4:
            continue
        if bar.kind not in rhythms:
            onsets, t = [], 0
            while t < 16:
                length = int(rng.choice([1, 2, 2, 3, 4], p=[0.2, 0.35, 0.15, 0.15, 0.15]))
                if rng.random() > 0.15:  # leave rests so phrases breathe
                    onsets.append((t, min(length, 16 - t)))
                t += length
            rhythms[bar.kind] = onsets
        half = 0 if (bar.index % 2 == 0) else 8
        lift = 2 if bar.kind == "chorus" else 0
        for step, length in rhythms[bar.kind]:
            if not half <= step < half + 8:
                continue
            pos = int(np.clip(pos + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(scale_pitches) - 1))
            pitch = scale_pitches[min(pos + lift, len(scale_pitches) - 1)]
            if step % 4 == 0:
                candidates = [p for p in scale_pitches if p % 12 in bar.chord]
                pitch = min(candidates, key=lambda p: abs(p - pitch)) if candidates else pitch
            b.add(bar.start_s + (step - half) * e + _humanise(rng, hum), length * e * 0.92, pitch,
                  _vel(rng, 100 if step % 4 == 0 else 88, bar.intensity))
    return Part("melody", program, 3, b.build(), volume=volume, pan=72, reverb_send=55, chorus_send=20)


def _arrange(style: str, bars: list[_Bar], key_root: int, scale, beat_s: float, rng: np.random.Generator,
             hard_ending: bool) -> list[Part]:
    def pick(options):
        return options[int(rng.integers(len(options)))]

    parts = [_drums(bars, style, beat_s, rng, hard_ending)]
    if style == "pop":
        parts.append(_bass(bars, style, pick([33, 34, 38]), beat_s, rng, hard_ending))
        parts.append(_harmony(bars, style, pick(["block", "stab"]), pick([0, 4, 5]), 2, beat_s, rng,
                              enters=0.1, volume=88, pan=44, reverb=45))
        parts.append(_harmony(bars, style, "pad", pick([48, 49, 89, 50]), 4, beat_s, rng, enters=0.8,
                              volume=72, pan=84, reverb=70, chorus=40, low=60, high=78))
        parts.append(_melody(bars, style, pick([73, 80, 54, 65, 11]), key_root, scale, beat_s, rng, volume=92))
    elif style == "rock":
        parts.append(_bass(bars, style, pick([34, 33]), beat_s, rng, hard_ending))
        parts.append(_harmony(bars, style, "power", 30, 2, beat_s, rng, enters=0.1, volume=96, pan=30,
                              reverb=25))
        parts.append(_harmony(bars, style, "block", 29, 4, beat_s, rng, enters=0.8, volume=80, pan=98,
                              reverb=30))
        if rng.random() < 0.5:
            parts.append(_harmony(bars, style, "pad", 16 + pick([0, 1, 2]), 5, beat_s, rng, enters=0.9,
                                  volume=60, pan=64, reverb=50, low=60, high=76))
        parts.append(_melody(bars, style, pick([30, 29, 81]), key_root, scale, beat_s, rng, volume=88))
    elif style == "ballad":
        parts.append(_bass(bars, style, pick([32, 33]), beat_s, rng, hard_ending))
        parts.append(_harmony(bars, style, "arpeggio", pick([0, 1]), 2, beat_s, rng, enters=0.0, volume=96,
                              pan=56, reverb=70, low=52, high=70))
        parts.append(_harmony(bars, style, "pad", pick([48, 49, 44]), 4, beat_s, rng, enters=0.4, volume=78,
                              pan=76, reverb=90, chorus=30, low=55, high=74))
        parts.append(_melody(bars, style, pick([73, 40, 68, 71]), key_root, scale, beat_s, rng, volume=90))
    elif style == "electronic":
        parts.append(_bass(bars, style, pick([38, 39, 87]), beat_s, rng, hard_ending))
        parts.append(_harmony(bars, style, "pad", pick([88, 89, 90, 94, 95]), 2, beat_s, rng, enters=0.0,
                              volume=80, pan=64, reverb=80, chorus=60, low=55, high=74))
        parts.append(_harmony(bars, style, "arpeggio", pick([81, 80, 84]), 4, beat_s, rng, enters=0.6,
                              volume=70, pan=88, reverb=50, low=64, high=80))
        parts.append(_harmony(bars, style, "stab", pick([81, 62, 63]), 5, beat_s, rng, enters=0.9, volume=70,
                              pan=40, reverb=40, low=60, high=76))
        parts.append(_melody(bars, style, pick([80, 81, 82, 85]), key_root, scale, beat_s, rng, volume=86))
    elif style == "acoustic":
        parts.append(_bass(bars, style, 32, beat_s, rng, hard_ending))
        parts.append(_harmony(bars, style, "fingerpick", 24, 2, beat_s, rng, enters=0.0, volume=100, pan=48,
                              reverb=45))
        parts.append(_harmony(bars, style, "arpeggio", 46, 4, beat_s, rng, enters=0.7, volume=80, pan=92,
                              reverb=70, low=60, high=80))
        parts.append(_harmony(bars, style, "pizz", 45, 5, beat_s, rng, enters=0.5, volume=76, pan=30,
                              reverb=60, low=55, high=72))
        parts.append(_melody(bars, style, pick([73, 74, 75, 22]), key_root, scale, beat_s, rng, volume=86))
    if hard_ending:
        # The final hit: every chordal part lands on the tonic with the drums and lets it ring.
        end = bars[-1].start_s + 4 * beat_s
        tonic = _chord_pitch_classes(key_root, scale, 0, False)
        finished = []
        for part in parts:
            if part.is_drums or part.name in ("bass", "melody"):
                finished.append(part)
                continue
            b = _Builder()
            b.notes = list(part.notes)
            lo, hi = (40, 60) if part.name == "power" else (55, 72)
            for p in _voice(tonic, lo, hi):
                b.add(end, 2.5 * beat_s, p, 112)
            finished.append(Part(part.name, part.program, part.channel, b.build(), part.volume, part.pan,
                                 part.reverb_send, part.chorus_send))
        parts = finished
    return parts


def generate_song(seed: int, *, duration_s: float = 30.0, style: str | None = None) -> Song:
    """Generate a short song, the same one for the same arguments.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator`` every choice is drawn from (key, tempo, instruments, notes).
    duration_s : float, keyword-only
        Musical length in seconds, at least 4; the song is rounded to whole bars and a rendered file is
        longer by the release and reverb tail (and by one bar for a hard ending's final hit).
    style : str or None, keyword-only
        One of :data:`STYLES`; ``None`` lets the seed pick one.

    Returns
    -------
    Song
        Drums on channel 10 (``channel=9``), a bass, one to three chordal parts and a melody; an intro, dense
        choruses, a quiet break and either a fade-out or a hard ending (ballads always fade; electronic songs
        may fade in).

    Raises
    ------
    ConfigError
        For an unknown style or a duration under 4 s.

    Examples
    --------
    >>> song = generate_song(7, duration_s=20.0, style="rock")
    >>> song.style, any(p.program == 30 for p in song.parts)
    ('rock', True)
    """
    if style is not None and style not in STYLES:
        raise ConfigError(f"unknown song style {style!r}; choose one of {', '.join(STYLES)}")
    if not np.isfinite(duration_s) or duration_s < 4.0:
        raise ConfigError(f"song duration_s={duration_s!r} is too short; give at least 4 seconds")
    rng = np.random.default_rng(seed)
    if style is None:
        style = STYLES[int(rng.integers(len(STYLES)))]
    lo, hi = _TEMPO_RANGES[style]
    tempo = float(rng.integers(lo, hi + 1))
    beat_s = 60.0 / tempo
    bar_s = 4 * beat_s
    key_root = int(rng.integers(12))
    minor = rng.random() < _MINOR_PROBABILITY[style]
    scale = _MINOR if minor else _MAJOR
    progressions = _MINOR_PROGRESSIONS if minor else _MAJOR_PROGRESSIONS
    verse_prog = progressions[int(rng.integers(len(progressions)))]
    chorus_prog = progressions[int(rng.integers(len(progressions)))]
    sevenths = style in ("ballad", "pop") and rng.random() < 0.5

    fade_in = style == "electronic" and rng.random() < 0.5 or style == "ballad" and rng.random() < 0.3
    hard_ending = style != "ballad" and rng.random() < 0.5
    # A hard ending adds one bar for the final hit; keep the total near what was asked.
    n_bars = max(2, int(round(duration_s / bar_s)) - (1 if hard_ending else 0))
    layout = _allocate_bars(_TEMPLATES[style], n_bars)

    bars: list[_Bar] = []
    sections: list[Section] = []
    index = 0
    for s_idx, (kind, n, intensity) in enumerate(layout):
        sections.append(Section(kind, index * bar_s, (index + n) * bar_s, intensity))
        prog = chorus_prog if kind == "chorus" else verse_prog
        for k in range(n):
            degree = prog[k % len(prog)]
            chord = _chord_pitch_classes(key_root, scale, degree, sevenths and kind != "break")
            next_kind = layout[s_idx + 1][0] if s_idx + 1 < len(layout) else None
            bars.append(_Bar(index, index * bar_s, kind, intensity, chord, k == 0, k == n - 1, next_kind))
            index += 1
    song_end = n_bars * bar_s + (bar_s if hard_ending else 0.0)
    if hard_ending:
        sections.append(Section("ending", n_bars * bar_s, song_end, 1.0))

    parts = _arrange(style, bars, key_root, scale, beat_s, rng, hard_ending)

    expression: list[tuple[float, int]] = [(0.0, 127)]
    if fade_in:
        # -40 dB up to 0 dB, linear in dB, stepped every 0.1 s (a GM synth maps CC 11 as 40 log10(v/127) dB).
        fade_s = min(4.0, 0.2 * song_end)
        expression = [(t, _expression_value(-40.0 * (1 - t / fade_s))) for t in np.arange(0.0, fade_s, 0.1)]
        expression.append((fade_s, 127))
    if not hard_ending:
        fade_s = min(6.0, 0.25 * song_end)
        start = song_end - fade_s
        expression += [(float(start + t), _expression_value(-50.0 * t / fade_s))
                       for t in np.arange(0.0, fade_s, 0.1)]
        expression.append((song_end, 0))
    return Song(seed=int(seed), style=style, tempo_bpm=tempo, key_root=key_root, mode="minor" if minor else "major",
                duration_s=song_end, parts=tuple(parts), sections=tuple(sections),
                expression=tuple((round(float(t), 6), int(v)) for t, v in expression), fade_in=bool(fade_in),
                ending="hard" if hard_ending else "fade")


def _expression_value(gain_db: float) -> int:
    return int(np.clip(round(127 * 10 ** (gain_db / 40.0)), 0, 127))


# --------------------------------------------------------------------------------------------------------------
# Standard MIDI File writer
# --------------------------------------------------------------------------------------------------------------

def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    if value < 0:
        raise ValueError(f"negative delta time {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + _vlq(len(data)) + data


def _track(events: list[tuple[int, int, bytes]], end_tick: int) -> bytes:
    """Encode ``(tick, order, message)`` events; ``order`` breaks ties (note-offs before note-ons)."""
    body = bytearray()
    now = 0
    for tick, _, msg in sorted(events, key=lambda ev: (ev[0], ev[1])):
        body += _vlq(tick - now) + msg
        now = tick
    body += _vlq(max(0, end_tick - now)) + _meta(0x2F, b"")
    return _chunk(b"MTrk", bytes(body))


def song_to_midi_bytes(song: Song, *, tail_s: float = 2.0) -> bytes:
    """Encode ``song`` as a format-1 Standard MIDI File: a tempo track, then one track per part.

    ``tail_s`` places every track's end-of-track event that long after the last note-off, so a player that
    stops at the end of the file (fluidsynth's fast render does) lets the release and reverb ring out.
    """
    def ticks(t_s: float) -> int:
        return int(round(t_s / song.beat_s * _PPQ))

    last_off = max((n.start_s + n.duration_s for p in song.parts for n in p.notes), default=0.0)
    end_tick = ticks(max(last_off, song.duration_s) + tail_s)
    tempo_us = int(round(60_000_000 / song.tempo_bpm))
    conductor = [
        (0, 0, _meta(0x03, b"mastering farm test song")),
        (0, 1, _meta(0x51, tempo_us.to_bytes(3, "big"))),
        (0, 2, _meta(0x58, bytes([4, 2, 24, 8]))),  # 4/4, 24 clocks per click, 8 32nds per quarter
    ]
    tracks = [_track(conductor, end_tick)]
    for part in song.parts:
        ch = part.channel
        setup = [_meta(0x03, part.name.encode("ascii", "replace"))]
        if not part.is_drums:
            setup.append(bytes([0xC0 | ch, part.program & 0x7F]))
        setup += [bytes([0xB0 | ch, 7, part.volume & 0x7F]), bytes([0xB0 | ch, 10, part.pan & 0x7F]),
                  bytes([0xB0 | ch, 91, part.reverb_send & 0x7F]), bytes([0xB0 | ch, 93, part.chorus_send & 0x7F])]
        events = [(0, i, msg) for i, msg in enumerate(setup)]
        for t_s, value in song.expression:
            events.append((ticks(t_s), 10, bytes([0xB0 | ch, 11, value & 0x7F])))
        for note in part.notes:
            on = ticks(note.start_s)
            off = max(on + 1, ticks(note.start_s + note.duration_s))
            events.append((on, 30, bytes([0x90 | ch, note.pitch, note.velocity])))
            events.append((off, 20, bytes([0x80 | ch, note.pitch, 0])))
        tracks.append(_track(events, end_tick))
    header = _chunk(b"MThd", struct.pack(">HHH", 1, len(tracks), _PPQ))
    return header + b"".join(tracks)


def write_midi(song: Song, path: str | os.PathLike) -> Path:
    """Write ``song`` to ``path`` as a Standard MIDI File (format 1) and return the path.

    Examples
    --------
    >>> write_midi(generate_song(1, duration_s=10.0), "/tmp/song.mid")  # doctest: +SKIP
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(song_to_midi_bytes(song))
    os.replace(tmp, path)
    return path
