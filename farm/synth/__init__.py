"""Synthetic but music-like test material: seeded songs, a MIDI writer and two renderers.

Typical use::

    from farm.synth import generate_song, render_song
    audio = render_song(generate_song(7, duration_s=20.0, style="rock"), 48000)  # (2, n) float64
"""

from farm.synth.midi import DRUM_CHANNEL, STYLES, Note, Part, Section, Song, generate_song, write_midi
from farm.synth.render import (
    find_soundfont,
    fluidsynth_available,
    render_song,
    resolve_renderer,
)

__all__ = [
    "DRUM_CHANNEL",
    "STYLES",
    "Note",
    "Part",
    "Section",
    "Song",
    "find_soundfont",
    "fluidsynth_available",
    "generate_song",
    "render_song",
    "resolve_renderer",
    "write_midi",
]
