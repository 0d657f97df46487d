"""Music the accuracy corpus never renders: does the QC audit stay quiet on it, and find the corpus's defects in it?

    python benchmarks/bench_qc_genres.py [--pieces a,b,...] [--kinds a,b,...] [--plant-seeds 3] [--workers N]

The corpus renders five pop-band styles through General MIDI. Catalogues bring other music, so this builds
twelve pieces of other kinds (General MIDI parts rendered by fluidsynth, and NumPy): an orchestral piece with a
general pause and timpani rolls, solo piano from pp to ff with fermatas, hip-hop with distorted 808 bass
(41-62 Hz, pitch drops) and trap hi-hat rolls, a dance track with a snare-roll build-up, a white-noise riser,
a noise impact at the drop, sidechain pumping and a true-peak limiter 12 dB into it, an ambient drone, a live
rock song between applause in a room with crowd noise, a pop song as a tape transfer (wow and flutter, hiss
at -58 dBFS that runs on after the music), a pop master pushed 14 dB into a limiter, two of sharp-attack
instruments (harpsichord, clavinet, marimba, slap bass, banjo, harp, music box ... with Latin percussion), a
dry dance track whose parts all stop for one beat before each drop, a dry 1960s-style hard-panned mix, and
a pop song with reversed cymbals swelling into its downbeats.

Part 1 audits each piece as it is, with ``farm.qc.audit_track`` and the default profile, after writing it as
24-bit WAV: nothing was planted, so every local finding (click, discontinuity, dropout, noise burst, clipping,
out-of-phase section, cut edge) is a false alarm. Whole-track findings that are true of the material (the
808's DC, a true peak over -1 dBTP, the renders' tail silence) are listed but not counted.

Part 2 plants each of ``--kinds`` (the corpus's own planter, :func:`farm.bench.defects.plant`) once per seed
into each piece and audits it: found = a finding of the kind starting within 50 ms of the planted start
(anywhere in the file for the whole-track kinds), as the accuracy benchmark counts. It prints recall per kind,
the misses, and the local findings of other kinds on the defective files that neither the planted defect
explains (``farm.bench.accuracy.IMPLIED`` says which it does) nor the piece raised in part 1. Needs fluidsynth
and a GM soundfont.

The hip-hop piece's first kick and 808 note start at its first sample: that is an abrupt start, reported as
``start_cut`` by design (the README's detector notes), and counted in part 1.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR = 44100
TOLERANCE_S = 0.05
LOCAL = ("click", "discontinuity", "dropout", "noise_burst", "clipping", "out_of_phase", "hum", "start_cut",
         "end_cut")
KINDS = ("click", "discontinuity", "dropout", "clipping", "noise_burst", "hum", "out_of_phase", "start_cut",
         "end_cut", "polarity_inverted", "false_stereo", "lossy_bandwidth")


# ---------------------------------------------------------------------------------------------- building blocks
def _part(name: str, program: int, channel: int, notes, **mix):
    from farm.synth.midi import Note, Part

    return Part(name, program, channel, tuple(Note(float(s), float(d), int(p), int(v)) for s, d, p, v in notes), **mix)


def _render(parts, seconds: float) -> np.ndarray:
    """Render General MIDI parts (untrimmed, unnormalised) with fluidsynth."""
    from farm.synth.midi import Section, Song
    from farm.synth.render import render_fluidsynth

    song = Song(seed=0, style="other", tempo_bpm=100.0, key_root=0, mode="major", duration_s=seconds,
                parts=tuple(parts), sections=(Section("verse", 0.0, seconds, 0.8),), expression=((0.0, 127),),
                fade_in=False, ending="hard")
    return render_fluidsynth(song, SR)


def _song(seed: int, style: str, seconds: float = 25.0) -> np.ndarray:
    from farm.synth import generate_song, render_song

    return render_song(generate_song(seed, duration_s=seconds, style=style), SR, renderer="fluidsynth")


def _band_noise(rng, n: int, lo: float, hi: float, channels: int = 2) -> np.ndarray:
    sos = signal.butter(2, [lo, min(hi, 0.45 * SR)], "bandpass", fs=SR, output="sos")
    return signal.sosfilt(sos, rng.standard_normal((channels, n)), axis=-1)


# ------------------------------------------------------------------------------------------------------ pieces
def orchestral(rng):
    """Strings, basses, pizzicato and timpani rolls; crescendo, and a 3 s general pause into silence."""
    strings, basses, timpani, pizz = [], [], [], []
    chords = [(48, 52, 55, 60), (45, 48, 52, 57), (41, 45, 48, 53), (43, 47, 50, 55)]
    t = 0.0
    for i in range(10):
        c = chords[i % 4]
        if i == 5:
            t += 3.0
        strings += [(t, 3.6, p + 12, 30 + 9 * i) for p in c]
        basses.append((t, 3.6, c[0] - 12, 40 + 8 * i))
        if i >= 6:
            timpani += [(t + k * 0.06, 0.06, c[0] - 12, 30 + 3 * k) for k in range(24)]
        else:
            pizz += [(t + k * 0.9, 0.3, c[k % 4], 60) for k in range(4)]
        t += 3.8
    return _render([_part("strings", 48, 0, strings, reverb_send=90), _part("basses", 43, 1, basses, reverb_send=90),
                    _part("timpani", 47, 2, timpani, reverb_send=80), _part("pizz", 45, 3, pizz, reverb_send=90)],
                   t + 3)


def piano(rng):
    """Solo piano arpeggios from pp to ff, with fermatas and a long final chord."""
    notes, t = [], 0.0
    for i in range(40):
        root = 48 + int(rng.integers(0, 12))
        velocity = int(np.clip(15 + 100 * (0.5 + 0.5 * np.sin(i / 6)), 10, 125))
        notes += [(t + k * 0.12, 1.5, root + iv, velocity) for k, iv in enumerate((0, 7, 12, 16, 19))]
        t += 0.9 if i % 10 else 2.5
    notes += [(t, 6.0, 36, 90), (t, 6.0, 48, 90)]
    return _render([_part("piano", 0, 0, notes, reverb_send=60)], t + 7)


def _eight08(f0: float, n: int, drive: float = 2.5) -> np.ndarray:
    t = np.arange(n) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + np.exp(-t / 0.03))) / SR  # the pitch drops an octave in 30 ms
    env = np.exp(-t / 0.7) * np.minimum(1, t / 0.002) * np.minimum(1, (n - np.arange(n)) / 200)
    return np.tanh(drive * np.sin(phase) * env) / np.tanh(drive)


def hiphop(rng):
    """85 BPM: kick, snare, hi-hats with trap rolls in 1/32 triplets, a pad, and distorted 808 bass notes."""
    beat, bars = 60 / 85, 10
    drums, pad = [], []
    for b in range(bars):
        t0 = b * 4 * beat
        drums += [(t0, 0.1, 36, 110), (t0 + 2.5 * beat, 0.1, 36, 100), (t0 + beat, 0.1, 38, 115),
                  (t0 + 3 * beat, 0.1, 38, 115)]
        step = beat / 4
        for s in range(16):
            if b % 2 and s >= 12:
                drums += [(t0 + s * step + k * step / 3, 0.05, 42, 70 + 5 * k) for k in range(3)]
            else:
                drums.append((t0 + s * step, 0.05, 42, 60 + 20 * (s % 2 == 0)))
        pad += [(t0, 4 * beat, p, 55) for p in (60, 63, 67)]
    mix = _render([_part("drums", 0, 9, drums, reverb_send=20), _part("pad", 89, 0, pad, reverb_send=70)],
                  bars * 4 * beat + 1)
    mix *= 0.5 / np.abs(mix).max()
    n = mix.shape[1]
    bass = np.zeros(n)
    for b in range(bars):
        for j, f0 in enumerate((41.2, 49.0, 55.0, 61.74)[b % 4 : b % 4 + 2]):
            s = int((b * 4 + 2 * j) * beat * SR)
            m = min(n - s, int(1.8 * SR))
            bass[s : s + m] += _eight08(f0, m)
    return mix + 0.55 * bass


def dance(rng):
    """128 BPM: a snare-roll build-up under a white-noise riser, a noise impact at the drop, sidechain pumping,
    then pushed 12 dB into a true-peak limiter at -0.3 dBTP."""
    from kernels.limiter import limit_true_peak

    beat, bars = 60 / 128, 16
    drums, pad, lead = [], [], []
    for b in range(bars):
        t0 = b * 4 * beat
        if 4 <= b < 8:
            k = 4 if b < 6 else 8 if b < 7 else 16
            drums += [(t0 + s * 4 * beat / k, 0.05, 38, 60 + 15 * (b - 4) + s) for s in range(k)]
        else:
            drums += [(t0 + i * beat, 0.1, 36, 120) for i in range(4)]
            drums += [(t0 + (i + 0.5) * beat, 0.1, 46, 80) for i in range(4)]
            drums += [(t0 + i * beat, 0.1, 39, 100) for i in (1, 3)]
        pad += [(t0, 4 * beat, p, 80) for p in (57, 60, 64, 69)]
        if b >= 8:
            lead += [(t0 + i * beat / 2, beat / 2.2, 72 + int(rng.choice([0, 3, 7, 12])), 95) for i in range(8)]
    mix = _render([_part("drums", 0, 9, drums, reverb_send=30), _part("pad", 90, 0, pad, reverb_send=60),
                   _part("lead", 81, 1, lead, reverb_send=50)], bars * 4 * beat + 1)
    mix *= 0.5 / np.abs(mix).max()
    n = mix.shape[1]
    t = np.arange(n) / SR
    drop = int(8 * 4 * beat * SR)
    phase = (t % beat) / beat
    duck = 1 - 0.6 * np.exp(-phase / 0.15) * np.minimum(1, phase * beat / 0.004)  # 4 ms attack, 70 ms release
    mix[:, drop:] *= duck[drop:]
    # the riser: noise whose band climbs from 300 Hz to 23 kHz over four bars (eight bands, crossfaded)
    a = int(4 * 4 * beat * SR)
    length = drop - a
    noise = rng.standard_normal((2, length))
    riser = np.zeros((2, length))
    pos = np.arange(length) / length * 8
    for k in range(8):
        lo = 300 * 2 ** (k * 5 / 8)
        band = signal.sosfilt(signal.butter(2, [lo, min(lo * 3, 0.45 * SR)], "bandpass", fs=SR, output="sos"),
                              noise, axis=-1)
        riser += band * np.clip(1 - np.abs(pos - k - 0.5), 0, 1)
    riser *= (np.arange(length) / length) ** 2 * 0.3 / riser.std()
    mix[:, a:drop] += riser
    m = int(1.5 * SR)
    mix[:, drop : drop + m] += rng.standard_normal((2, m)) * np.exp(-np.arange(m) / SR / 0.25) * 0.25
    return limit_true_peak(mix * 10 ** (12 / 20), SR, ceiling_dbtp=-0.3).audio


def ambient(rng):
    """A 40 s drone on A1 with slowly breathing partials, wind noise, 8 s fades."""
    n = int(40 * SR)
    t = np.arange(n) / SR
    x = np.zeros((2, n))
    for f, amp in ((55.0, 0.2), (82.4, 0.12), (110.0, 0.1), (164.8, 0.06), (220.0, 0.05)):
        lfo = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.03, 0.1) * t + rng.uniform(0, 6))
        detune = 1.0 if f < 150 else 1.002  # the upper partials chorused across the channels
        phase = rng.uniform(0, 6)
        x += amp * lfo * np.stack([np.sin(2 * np.pi * f * t + phase), np.sin(2 * np.pi * f * detune * t + phase)])
    wind = _band_noise(rng, n, 400, 2000) * 0.02
    return (x + wind) * (np.minimum(1, t / 8) * np.minimum(1, (t[-1] - t) / 8))


def live(rng):
    """A rock song between applause (4 s, faded in; 5 s, dying away), in a room, over crowd noise."""
    song = _song(31, "rock")

    def applause(seconds: float) -> np.ndarray:
        m = int(seconds * SR)
        y = np.zeros((2, m))
        for _ in range(int(seconds * 150)):
            s, length = int(rng.integers(0, m - 800)), int(rng.integers(150, 600))
            # a hand clap through a microphone: a noise burst rising in 0.3 ms, decaying in a few ms
            clap = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4))
            clap[:13] *= np.sin(np.linspace(0, np.pi / 2, 13)) ** 2
            gain, pan = rng.uniform(0.02, 0.1), rng.uniform(0, 1)
            y[0, s : s + length] += gain * pan * clap
            y[1, s : s + length] += gain * (1 - pan) * clap
        return y

    first, last = applause(4), applause(5)
    first *= np.minimum(1, np.arange(first.shape[1]) / (0.5 * SR))
    last *= np.minimum(1, (last.shape[1] - np.arange(last.shape[1])) / (2 * SR))
    x = np.concatenate([first, song, last], axis=1)
    # the room: a 0.15 s decay, different in each channel above 250 Hz (below, a room is nearly mono), 8 dB under
    # the direct sound
    room = rng.standard_normal((2, int(0.8 * SR))) * np.exp(-np.arange(int(0.8 * SR)) / SR / 0.15)
    room *= 10 ** (-8 / 20) / np.sqrt((room**2).sum(axis=1, keepdims=True))
    high = signal.sosfiltfilt(signal.butter(2, 250, "highpass", fs=SR, output="sos"), x, axis=-1)
    x = x + np.stack([signal.fftconvolve(high[c], room[c])[: x.shape[1]] for c in range(2)])
    return x + rng.standard_normal(x.shape) * 0.003


def tape(rng):
    """A pop song as a tape transfer: wow (0.55 Hz) and flutter (6.3 Hz), and hiss at -58 dBFS that starts before
    the music and runs on after it."""
    song = np.concatenate([np.zeros((2, SR // 2)), _song(32, "pop"), np.zeros((2, 2 * SR))], axis=1)
    n = song.shape[1]
    t = np.arange(n) / SR
    pos = np.cumsum(1 + 0.001 * np.sin(2 * np.pi * 0.55 * t) + 0.0004 * np.sin(2 * np.pi * 6.3 * t))
    pos = pos[pos < n - 1]
    y = np.stack([np.interp(pos, np.arange(n), c) for c in song])
    highpass = signal.butter(1, 2000, "highpass", fs=SR, output="sos")
    hiss = signal.sosfilt(highpass, rng.standard_normal(y.shape), axis=-1)
    return y + hiss * (10 ** (-58 / 20) / hiss.std())


def limited(rng):
    """A pop master pushed 14 dB into a true-peak limiter (-0.1 dBTP, 30 ms release)."""
    from kernels.limiter import limit_true_peak

    return limit_true_peak(_song(33, "pop") * 10 ** (14 / 20), SR, ceiling_dbtp=-0.1, release_ms=30).audio


def _percussive(rng, programs) -> np.ndarray:
    beat = 60 / 116
    parts = []
    for ch, program in enumerate(programs):
        notes = []
        for b in range(10):
            k = int(rng.choice([8, 12, 16]))
            notes += [(b * 4 * beat + i * 4 * beat / k, beat / 4,
                       48 + 12 * (ch % 3) + int(rng.choice([0, 2, 4, 7, 9, 12])), int(rng.integers(70, 127)))
                      for i in range(k) if rng.random() < 0.75]
        parts.append(_part(f"p{program}", program, ch if ch < 9 else ch + 1, notes, pan=int(rng.integers(10, 118)),
                           reverb_send=int(rng.integers(0, 60))))
    keys = [75, 76, 77, 85, 37, 56, 60, 61, 62, 63, 64, 69, 70, 80, 81]  # claves, blocks, castanets, bongos ...
    latin = [(b * 4 * beat + i * beat / 4, 0.05, int(rng.choice(keys)), int(rng.integers(60, 127)))
             for b in range(10) for i in range(16) if rng.random() < 0.8]
    parts.append(_part("latin", 0, 9, latin, reverb_send=30))
    return _render(parts, 10 * 4 * beat + 1)


def plucked(rng):
    """Harpsichord, clavinet, marimba, slap bass, banjo, harp, vibraphone, steel drums; claves, castanets, bongos."""
    return _percussive(rng, (6, 7, 13, 36, 105, 46, 11, 114))


def struck(rng):
    """Celesta, glockenspiel, music box, xylophone, dulcimer, nylon guitar, sitar, koto; Latin percussion."""
    return _percussive(rng, (8, 9, 10, 12, 15, 24, 104, 107))


def stops(rng):
    """A dry dance track (no reverb) whose parts all stop for one beat before bars 6 and 10."""
    beat = 60 / 126
    drums, lead, bass = [], [], []
    for b in range(12):
        t0 = b * 4 * beat
        for i in range(4):
            if b in (5, 9) and i == 3:
                continue
            drums += [(t0 + i * beat, 0.1, 36, 115), (t0 + (i + 0.5) * beat, 0.1, 42, 70)]
            bass.append((t0 + i * beat, beat * 0.9, 33 + 12 * (i % 2), 100))
            lead += [(t0 + i * beat + k * beat / 4, beat / 4.5, 72 + (0, 3, 7, 10)[(i + k) % 4], 90) for k in range(4)]
    return _render([_part("drums", 0, 9, drums, reverb_send=0), _part("lead", 81, 0, lead, reverb_send=0),
                    _part("bass", 38, 1, bass, reverb_send=0)], 12 * 4 * beat + 1)


def hard_panned(rng):
    """A dry 1960s-style mix: guitar and drums hard left, an organ hard right that rests every third bar."""
    beat = 60 / 110
    guitar, organ, drums = [], [], []
    for b in range(12):
        t0 = b * 4 * beat
        guitar += [(t0 + i * beat / 2, beat / 2.2, 52 + (0, 4, 7, 12)[i % 4], 90) for i in range(8)]
        if b % 3 != 2:
            organ += [(t0, 4 * beat * 0.95, p, 80) for p in (60, 64, 67)]
        drums += [(t0 + i * beat, 0.1, 36 if i % 2 == 0 else 38, 110) for i in range(4)]
    return _render([_part("guitar", 25, 0, guitar, pan=0, reverb_send=0),
                    _part("organ", 16, 1, organ, pan=127, reverb_send=0),
                    _part("drums", 0, 9, drums, pan=0, reverb_send=0)], 12 * 4 * beat + 1)


def reversed_cymbals(rng):
    """A pop song with reversed cymbals (1.2 s swells, cut at their peak) into five downbeats."""
    x = _song(35, "pop")
    m = int(1.2 * SR)
    for t in np.arange(3.0, 22.0, 4.0):
        cymbal = signal.sosfilt(signal.butter(2, 3000, "highpass", fs=SR, output="sos"), rng.standard_normal((2, m)),
                                axis=-1) * np.exp(-np.arange(m) / SR / 0.4)
        e = int(t * SR)
        x[:, e - m : e] += 0.25 * cymbal[:, ::-1]
    return x


PIECES = {f.__name__.replace("_", "-"): f for f in (orchestral, piano, hiphop, dance, ambient, live, tape, limited,
                                                    plucked, struck, stops, hard_panned, reversed_cymbals)}


# ------------------------------------------------------------------------------------------------------ running
@functools.lru_cache(maxsize=4)
def _piece(name: str) -> np.ndarray:
    """The piece, rendered once per worker (jobs come piece by piece); read-only, since every job shares it."""
    x = PIECES[name](np.random.default_rng(sum(map(ord, name))))
    peak = float(np.abs(x).max())
    x = x * (0.999 / peak) if peak > 0.999 else x
    x.setflags(write=False)
    return x


def _audit(x: np.ndarray, tmp: str, name: str) -> list[dict]:
    from farm.catalogue import discover
    from farm.qc import audit_track

    path = os.path.join(tmp, f"{name}.wav")
    sf.write(path, x.T, SR, subtype="PCM_24")
    return audit_track(discover([path])[0]).events


@functools.lru_cache(maxsize=4)
def _own_events(name: str) -> tuple[dict, ...]:
    """The clean piece's findings (part 1; part 2 leaves them out of its count), audited once per worker."""
    with tempfile.TemporaryDirectory() as tmp:
        return tuple(_audit(_piece(name), tmp, name))


def _clean(name: str) -> tuple[str, float, list[dict]]:
    return name, _piece(name).shape[1] / SR, list(_own_events(name))


def _planted(job: tuple[str, str, int]) -> tuple[str, str, int, bool | None, str, list[str]]:
    from farm.bench.accuracy import IMPLIED, NEAR_S
    from farm.bench.defects import WHOLE_TRACK_KINDS, plant

    name, kind, seed = job
    x = _piece(name)
    try:
        y, truths = plant(kind, x, SR, np.random.default_rng([seed, len(name), sum(map(ord, kind))]))
    except ValueError as exc:  # an unknown kind, or audio the planter cannot take
        return name, kind, seed, None, f"not planted: {exc}"[:100], []
    peak = float(np.abs(y).max())
    if peak > 0.999:
        y = y * (0.999 / peak)
    with tempfile.TemporaryDirectory() as tmp:
        events = _audit(y, tmp, name)
    truth = truths[0]
    same = [e["start_s"] - truth.start_s for e in events if e["kind"] == kind]
    if kind in WHOLE_TRACK_KINDS:
        found, where = bool(same), ""
    else:
        nearest = min(same, key=abs) if same else None
        found = nearest is not None and abs(nearest) <= TOLERANCE_S
        where = f", nearest finding {nearest * 1000:+.0f} ms" if nearest is not None else ", no finding of the kind"
    excused = IMPLIED.get(kind, {})
    own = [(e["kind"], e["start_s"]) for e in _own_events(name)]  # the piece's own findings (part 1)
    other = [e["kind"] for e in events if e["kind"] in LOCAL and e["kind"] != kind and not (
        excused.get(e["kind"]) == "track" or (excused.get(e["kind"]) == "near"
                                             and truth.start_s - NEAR_S <= e["start_s"] <= truth.end_s + NEAR_S)
        or any(k == e["kind"] and abs(t - e["start_s"]) <= TOLERANCE_S for k, t in own))]
    return name, kind, seed, found, f"{truth.detail} at {truth.start_s:.3f} s{where}", other


def main() -> None:
    from farm.synth import fluidsynth_available

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", default=",".join(PIECES))
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--plant-seeds", type=int, default=3, help="plantings of each kind in each piece (0: part 1 only)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    ok, reason = fluidsynth_available()
    if not ok:
        sys.exit(f"needs fluidsynth and a General MIDI soundfont: {reason}")
    pieces = [p for p in args.pieces.split(",") if p]
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(pieces) - set(PIECES))
    if unknown:
        sys.exit(f"unknown piece(s) {', '.join(unknown)}; known: {', '.join(PIECES)}")
    with ProcessPoolExecutor(args.workers) as pool:
        print("Part 1: the pieces as they are (local findings are false alarms)")
        false_alarms, seconds = Counter(), 0.0
        for name, duration, events in pool.map(_clean, pieces):
            seconds += duration
            local = Counter(e["kind"] for e in events if e["kind"] in LOCAL)
            false_alarms += local
            other = sorted({e["kind"] for e in events if e["kind"] not in LOCAL})
            print(f"  {name:17s} {duration:5.1f} s  local: {dict(local) or 'none'}  "
                  f"whole-track: {', '.join(other) or 'none'}", flush=True)
        print(f"  {len(pieces)} pieces, {seconds / 60:.1f} min: {sum(false_alarms.values())} local false alarms "
              f"{dict(false_alarms) or ''}")
        if args.plant_seeds <= 0:
            return
        print(f"\nPart 2: the corpus's defects planted into the pieces ({args.plant_seeds} per kind and piece)")
        jobs = [(p, k, s) for p in pieces for k in kinds for s in range(args.plant_seeds)]
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        extra: Counter = Counter()
        for name, kind, seed, found, info, other in pool.map(_planted, jobs):
            if found is None:
                print(f"  skipped {name} {kind} #{seed}: {info}")
                continue
            tally[kind][0] += found
            tally[kind][1] += 1
            extra += Counter(other)
            if not found or other:
                print(f"  {'MISS' if not found else 'also'} {name} {kind} #{seed}: {info}"
                      + (f"; other findings: {dict(Counter(other))}" if other else ""), flush=True)
        print("\n  kind               found/planted")
        for kind in kinds:
            f, n = tally[kind]
            print(f"  {kind:18s} {f:3d}/{n:<3d}" + (f"  ({f / n:.2f})" if n else ""))
        print(f"  local findings on defective files that the planted defect does not explain: {dict(extra) or 'none'}")


if __name__ == "__main__":
    main()
