"""Sample-run defects: dropouts, clipping, and starts or ends cut out of the music.

Four kinds come from one cheap pass per block: the absolute value of the block, the peak of every chunk of
2048 samples, and the mean magnitude of every frame of about 1 ms (``F`` = 48 samples at 44.1/48 kHz, 96 at
96 kHz) with two zero-sum projections of it, in one matrix product. Only where those numbers point at
something are samples looked at again.

- ``dropout``: a run of at least ``dropout_min_s`` (5 ms) where the waveform stops: every sample within
  ``silence_dbfs`` (-84 dBFS) of one level, whatever that level is (exact zeros, -100 dBFS noise, a 16-bit LSB
  of dither, and the same around a DC offset added later or a sample held by a stalled buffer), per channel
  or in every channel at once (channel ``-1``). The projections of the frame magnitudes on a zero-sum ramp
  and a zero-sum V pick candidate frames (if every sample lies within s of a level c, every magnitude lies
  within s of one value, so each projection is at most s times its pattern's L1 norm: quiet frames of music
  pass, loud ones almost never pass both, most blocks have no candidate); only those get the exact
  peak-to-peak test. A run at the channel's own positive or negative extreme is a clipped flat top, not a
  dropout. Music that decays into a pause is not a dropout; a cut from music straight to a stopped waveform
  is. The decision looks at the music over the ``dropout_pre_s`` (3 ms) before the run, measured as the mean
  distance of the samples from the level the run stops at (a DC offset does not count as music): it must be
  at least ``dropout_floor_db`` above the silence threshold (-62 dBFS: quiet intros stop within it after music
  at -72..-76 dBFS, planted dropouts came after -45 dBFS or louder; ``dropout_held_floor_dbfs``, -60 dBFS, for
  a run held at a level other than digital silence: quiet music resting on a small offset has near-constant
  stretches after music at -68..-72 dBFS, while real dropouts on the benchmark came after -11..-37 dBFS), and
  no more than ``dropout_fall_db`` below the level of the music over the ``dropout_context_s`` (200 ms)
  before that (the 90th percentile of the 1 ms frames), or no more than ``dropout_steep_fall_db`` below it
  while level with the 17 ms just before. A fade into silence has fallen far below its own recent level by
  its last milliseconds, and is still falling; a cut has not. The 200 ms before (their 90th percentile), or
  the 17 ms just before, must themselves reach within ``_CONTEXT_FLOOR_DB`` (5 dB) of the floor the 3 ms must
  pass: a click in a quiet tail (-70 dBFS) lifts the 3 ms before a resting stretch over the floor on its own,
  and is the impulse detector's finding, not music cut off; a 20 ms note cut in a quiet passage is a dropout.
  Measured on 80 rendered songs (fluidsynth and built-in, 44.1/48/96 kHz): fades of 20 ms to 2 s into digital
  silence are never taken for dropouts; fades shorter than about 10 ms are, at times (they are edits, not
  musical fades). Silence at the head of the stream and silence running to its end are not dropouts (the QC
  audit reports those). Value: duration in seconds. Edges are exact to the sample: the run spans from after
  the last sample that stands off its level by the threshold or more to the next one.
  *Near silence* (a cut to -70 dBFS noise, a buffer of hiss instead of zeros) is the same test with a wider
  threshold, ``near_silence_dbfs`` (-54 dBFS: every sample within it of zero), run as a second tier on the
  same frame moments, and judged against louder music: the 3 ms before must stand at ``near_floor_dbfs``
  (-34 dBFS mean magnitude) or above, with the same fall tests. Only runs near zero count in that tier (a
  slow bass waveform holds within 2 mV of some level for 5 ms). Measured on 25 kept corpora (340 planted
  dropouts, about 10 h of clean music): no false alarm on clean music at -34 dBFS (three at -40 dBFS); the
  cuts it adds on defective files are planted noise bursts switched off over a quiet passage. A near-silent
  run that holds a digital-silence dropout is reported once, as that dropout.
- ``clipping``: flat tops at or near each channel's own positive and negative extremes (a DC offset added to
  one channel after the clipping puts its two polarities' tops at different levels, e.g. +0.97 and -1.03,
  and the other channel's elsewhere). Every block keeps the runs of consecutive samples of one sign within
  ``clip_band_db`` of the running extreme of their channel and polarity whose neighbours differ by at most a
  flatness tolerance (two LSB of ``bits_per_sample`` for integer files, so dither on a clipped top does not
  hide it; ``1e-9`` for float files), and single samples at that extreme; runs that fall out of the band as
  the extreme grows are dropped. The search looks only into the 2048-sample chunks whose peak reaches the
  band. In :meth:`RunDetector.finish` each channel and polarity gets its own clip level: the highest level
  at which at least ``clip_min_runs`` runs of at least ``clip_min_run`` samples (one of them longer) sit
  within the flatness tolerance of one another; a clean master peak-normalised below 0 dBFS touches its
  maximum once (measured on 80 renders, as float, 16 and 24 bit, dithered or not). A counted run must be
  left by a step of more than four flatness tolerances on both sides: the waveform leaves a clipped top
  steeply, while the rounded peak of a loud low tone in a 16-bit file (a dozen samples within 2 LSB at 96
  kHz, every cycle at one level) ends where the step just exceeds the tolerance. The level must also be
  over-populated: it needs ``clip_dominance`` times as many such runs as the rest of its band, since a
  low-bit or band-limited signal makes flat runs at every quantisation level near its peak, not at one.
  Where one polarity of a channel finds its level and the other does not (or neither does), the two polarities'
  runs are pooled by magnitude: a master clipped symmetrically (at +-1, then turned down) on only a cycle or
  two has too few flat tops of either sign alone, and if the pooled runs make a level with a counted run of
  each sign on it, both polarities clip there (a held-out benchmark track clipped 40 samples per channel
  this way, two runs of each sign; pooling changed nothing else on 1824 benchmark tracks).
  Every sample at a clip level, a lone one too, is a clipped sample: a section starts at the first of them
  (where the music first reaches the level, often one sample before the first flat run) and runs at the
  clip levels closer than ``clip_merge_s`` (1 s) form one section: a clipped passage is one finding, not one per
  beat that clips; value: clipped samples in it. Known limit: the
  band follows the polarity's single highest sample, so an outlier above the flat tops (a click on a turned-
  down clipped master, 0.7 dB over them is enough) drops that polarity's tops; the section is then found
  only through the other polarities and channels.
- ``start_cut`` / ``end_cut``: the stream's first (last) samples are already inside the music. Both edges are
  judged against the music's typical level: the median of the mean magnitudes of every 4th 1 ms frame above
  the silence threshold (loudest channel), not its loud level, which one loud section (a clipped stretch driven
  10 dB over the rest) lifts far above the music a cut sits in. A start is cut when the peak of its first
  ``edge_onset_s`` (0.5 ms) is within ``edge_onset_db`` (15 dB) of that level and the mean magnitude of its
  first ``edge_s`` (5 ms) within ``edge_db`` (20 dB): a song begins from silence, and its first half
  millisecond has not begun yet even when a hard attack follows at once (on four benchmark corpora, 700 clean
  starts lay 25 dB or more below the median there, 78 cut starts within 10 dB). An end is cut when the mean
  magnitude of its last 5 ms is within ``end_edge_db`` (38 dB) of the level and the peak of its last 0.5 ms
  within ``end_onset_db`` (27 dB): a song ends by decaying into its floor, a truncated export stops in the
  music or in a tail still ringing (clean endings lay 43 dB or more below the median, cut ones within 34 dB,
  the lowest two cut in a release tail at -51 and -43 dBFS). Edges below ``edge_floor_dbfs`` (-70 dBFS mean
  magnitude) are never cuts: a dither-only tail after a quiet master is not music. Value: the edge's RMS in
  dBFS. A song that starts on a transient at its very first sample, with no silence at all, is reported: that
  is an abrupt start. Each edge is also judged less its own mean over the kept 100 ms (the quieter of the two
  readings counts): a constant offset steps from zero at the file's first sample, which is ``dc_offset``'s
  finding, not music cut off. And an edge whose outer 100 ms hold the stream's own floor (``edge_held_s``) is
  not a cut: a transfer that runs out in its tape hiss or room tone, a whole-track hum alone at the edges.

Memory: a few frames of samples, 200 ms of 1 ms frame levels, a level histogram (and up to 4096 levels
waiting to be binned), a reused block-sized buffer of magnitudes, and the clipping runs in the top bands
(capped at ``clip_max_runs``). Results do not depend on the block sizes: frames sit on a fixed grid carried
across blocks, and every decision waits for the samples it needs.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from kernels._xp import as_block, check_channels, to_numpy
from kernels.detect.base import Detection

__all__ = ["RunDetector"]

_TINY = 1e-15
_FLOOR_FRAME_S = 0.02  # frames of the stream's floor: one period of 50 Hz mains
_QUANT_MUSIC_DB = 18.0  # music before a dropout stands this far over the container's step (8 steps) ...
_QUANT_EDGE_DB = 12.0  # ... and a cut edge this far (4 steps): at 16 bits and up the fixed floors are higher
_FLOOR_EDGE_S = 0.5  # the floor is taken this far from the stream's start and end
_CONTEXT_FLOOR_DB = 5.0  # a dropout's 200 ms context reaches within this of its floor
_TREND_SPANS = 3  # an edge at the stream's floor is also looked at over this many held stretches (300 ms)
_EDGE_MEAN_S = 0.1  # an edge is also judged less its mean over this stretch (a constant offset)
# Loudness histogram: frame levels from -160 to +20 dBFS in 0.5 dB bins.
_HIST_LO_DB = -160.0
_HIST_STEP_DB = 0.5
_HIST_BINS = 360
_HIST_EVERY = 4
# Clipping candidates are searched for in chunks of this many samples.
_CHUNK = 2048


def _db(value: float) -> float:
    return 20.0 * math.log10(max(float(value), _TINY))


def _db_array(values: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(values, _TINY))


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of a short 1-D array, by partial sorting."""
    n = values.size
    pos = q / 100.0 * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    part = np.partition(values, (lo, hi))
    return float(part[lo] + (pos - lo) * (part[hi] - part[lo]))


class RunDetector:
    """Streaming detector of dropouts, clipping and cut edges.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        Channels of every block.
    bits_per_sample : int or None
        Bit depth of an integer source file; sets the flatness tolerance of clipped tops (two LSB). ``None``
        (float source) asks for tops equal to within ``1e-9``. It also raises the dropout floors to 8 steps of
        the container (18 dB over one LSB) and the cut-edge floor to 4 steps: 8-bit music at -40..-50 dBFS is one
        or two steps, holds a level for milliseconds and starts on a step. At 16 bits (steps at -90 dBFS) and
        above the fixed floors below are higher, so nothing changes there.
    silence_dbfs : float
        A stopped run keeps every sample within this distance of one level (-84 dBFS: two LSB of 16-bit
        dither, far above -100 dBFS noise); at level zero, a sample below this magnitude is silent.
    dropout_min_s : float
        Shortest dropout (5 ms).
    dropout_pre_s, dropout_context_s : float
        Window right before a silent run (3 ms) and the music before that (200 ms) it is compared with.
    dropout_floor_db : float
        The music right before a dropout is at least this far above ``silence_dbfs`` (22 dB: -62 dBFS).
        On five benchmark corpora (97 planted dropouts) the music before a dropout was at -45 dBFS or
        louder, while quiet intros of electronic songs (-70..-58 dBFS music) stop within the threshold
        after -72..-76 dBFS, and the noise floor of rendered reverb tails flickers across it from -78 dBFS
        down; 12 dB (-72 dBFS) let a quiet intro through on a fresh seed.
    dropout_fall_db : float
        ... and at most this far below the 90th percentile of the frames of the context (20 dB); a fade
        into silence falls further.
    dropout_steep_fall_db, dropout_slope_db : float
        A run that fell further than ``dropout_fall_db`` (a cut in the quiet moment after a drum hit) is
        still a dropout if it fell at most ``dropout_steep_fall_db`` (30 dB) and the pre window is within
        ``dropout_slope_db`` (6 dB) of the 17 ms before it: the music was not fading (a linear fade loses
        about 16 dB over those last 20 ms, whatever its length).
    dropout_held_floor_dbfs : float
        For a run held at a level other than digital silence, the music before it must be at least this
        loud (-60 dBFS), measured as its mean distance from that level.
    clip_band_db : float
        Flat runs are kept within this distance of their channel's and polarity's extreme (0.5 dB).
    clip_min_run : int
        Samples in a run that counts towards the clip level (2); at least one run must be longer than this
        (a sine at a quarter of the sample rate repeats equal pairs at its peaks, and is not clipped).
    clip_min_runs : int
        Such runs needed at one level (3; a peak-normalised clean master touches its maximum once).
    clip_dominance : float
        The clip level needs this many times as many long runs as the rest of the band (3).
    clip_merge_s : float
        Runs closer than this form one clipping section (1 s). A clipped passage clips on its loud notes and
        beats, so its flat runs come in groups up to about a second apart: with 0.1 s, one planted section
        of 0.3-5 s came out as 5-8 sections on the benchmark corpora (106-165 for 20 planted on each of
        seeds 21-25), with 1 s as 1.2-1.5 (24-30), every section still found at its first clipped sample.
    clip_max_runs : int
        Cap on stored runs (200000, about 10 MB); beyond it, stored runs of one channel and level that lie
        close together are merged (sections then come out at least that coarse).
    edge_s, edge_onset_s : float
        Edge segment (5 ms, judged by its mean magnitude) and the very edge (0.5 ms, by its peak) for
        ``start_cut`` / ``end_cut``.
    edge_db, edge_onset_db : float
        How far below the music's median level the first 5 ms (20 dB) and the peak of the first 0.5 ms
        (15 dB) of a cut start may be.
    end_edge_db, end_onset_db : float
        The same for a cut end (38 dB, 27 dB): a song ends in a decay, and a tail cut while still ringing is
        a cut.
    edge_floor_dbfs : float
        An edge whose 5 ms mean magnitude is below this (-70 dBFS) is never a cut (dither, a noise floor).
    edge_held_s, edge_held_db, edge_floor_margin_db : float
        An edge whose outer ``edge_held_s`` (100 ms; 0 turns the test off) holds, in every 20 ms frame, within
        ``edge_held_db`` (3 dB) of the stream's floor (or, steadily, with no trend, its mean within that of the
        quietest stretch as long elsewhere and each frame within twice that: a noise's frames wander) is never a cut, when that floor lies
        ``edge_floor_margin_db`` (12 dB) or more under the music's median level. The floor is the quietest
        20 ms frame (mean magnitude, loudest channel, digital silence left out) at least 0.5 s from both ends
        of the stream: hiss, room tone or hum the stream holds away from the edge being judged.
    near_silence_dbfs : float or None
        The near-silence tier of dropouts: runs of at least ``dropout_min_s`` with every sample within this of
        zero (-54 dBFS); ``None`` turns the tier off.
    near_floor_dbfs : float
        The music right before a near-silent dropout is at least this loud (-34 dBFS mean magnitude).

    Examples
    --------
    >>> import numpy as np
    >>> sr = 48000
    >>> t = np.arange(2 * sr) / sr
    >>> x = np.tile(0.5 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, t / 0.05) * np.minimum(1, (2 - t) / 0.05), (2, 1))
    >>> x[1, sr : sr + 480] = 0.0  # 10 ms cut out of the right channel
    >>> d = RunDetector(sr, 2)
    >>> d.process(x)
    >>> [(e.kind, e.channel, round(e.value, 3)) for e in d.finish()]
    [('dropout', 1, 0.01)]
    """

    def __init__(self, sample_rate: int, channels: int, *, bits_per_sample: int | None = None,
                 silence_dbfs: float = -84.0, dropout_min_s: float = 0.005, dropout_pre_s: float = 0.003,
                 dropout_context_s: float = 0.2, dropout_floor_db: float = 22.0, dropout_fall_db: float = 20.0,
                 dropout_steep_fall_db: float = 30.0, dropout_slope_db: float = 6.0,
                 dropout_held_floor_dbfs: float = -60.0,
                 clip_band_db: float = 0.5, clip_min_run: int = 2, clip_min_runs: int = 3,
                 clip_dominance: float = 3.0, clip_merge_s: float = 1.0, clip_max_runs: int = 200_000,
                 edge_s: float = 0.005, edge_onset_s: float = 0.0005, edge_db: float = 20.0,
                 edge_onset_db: float = 15.0, end_edge_db: float = 38.0, end_onset_db: float = 27.0,
                 edge_floor_dbfs: float = -70.0, edge_held_s: float = 0.1, edge_held_db: float = 3.0,
                 edge_floor_margin_db: float = 12.0,
                 near_silence_dbfs: float | None = -54.0,
                 near_floor_dbfs: float = -34.0, _dropouts_only: bool = False):
        self.channels = check_channels(channels)
        if not (isinstance(sample_rate, (int, float, np.integer, np.floating)) and math.isfinite(sample_rate)
                and sample_rate > 0):
            raise ValueError(f"sample_rate {sample_rate!r} must be a positive number of Hz")
        if bits_per_sample is not None and not (isinstance(bits_per_sample, (int, np.integer))
                                                and 2 <= bits_per_sample <= 64):
            raise ValueError(f"bits_per_sample {bits_per_sample!r} must be an integer from 2 to 64, or None")
        for name, value in (("dropout_min_s", dropout_min_s), ("dropout_pre_s", dropout_pre_s),
                            ("dropout_context_s", dropout_context_s), ("clip_merge_s", clip_merge_s),
                            ("edge_s", edge_s), ("edge_onset_s", edge_onset_s), ("clip_band_db", clip_band_db)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} {value!r} must be a positive number")
        if int(clip_min_run) < 2 or int(clip_min_runs) < 1:
            raise ValueError(f"clip_min_run {clip_min_run!r} must be >= 2 and clip_min_runs {clip_min_runs!r} >= 1")
        self.sample_rate = float(sample_rate)
        sr = self.sample_rate
        c = self.channels
        # ~1 ms frames, a multiple of 16 samples (48 at 44.1/48 kHz, 96 at 96 kHz).
        self.frame = 16 * max(1, round(sr / 16000.0))
        self._ones = np.ones(self.frame) / self.frame
        ramp = np.linspace(-1.0, 1.0, self.frame)
        vee = np.abs(ramp) - np.abs(ramp).mean()
        self._moments = np.stack([self._ones, ramp, vee], axis=1)
        self._silence = 10.0 ** (silence_dbfs / 20.0)
        self._silence_db = float(silence_dbfs)
        self._stop_ptp = 2.0 * self._silence
        # margin for rounding in the products
        self._pattern_bound = self._silence * np.abs(self._moments[:, 1:]).sum(axis=0) * (1 + 1e-9) + 1e-15
        self._drop_min = max(1, round(dropout_min_s * sr))
        self._drop_min_frames = max(1, (self._drop_min - self.frame + 1) // self.frame)
        self._pre_frames = max(1, round(dropout_pre_s * sr / self.frame))
        self._ctx_frames = max(2, round(dropout_context_s * sr / self.frame))
        self._near_frames = max(2, round(0.017 * sr / self.frame))  # the 20 ms before, less the pre window
        # The container's quantisation step (integer files): music within a few steps of it is made of steps, so
        # it holds a level for 5 ms and starts at one step without being cut. Below 16 bits only this binds.
        step_db = -6.0206 * (int(bits_per_sample) - 1) if bits_per_sample is not None else -math.inf
        self._floor_db = max(float(dropout_floor_db), step_db + _QUANT_MUSIC_DB - self._silence_db)
        self._fall_db = float(dropout_fall_db)
        self._steep_fall_db = float(dropout_steep_fall_db)
        self._slope_db = float(dropout_slope_db)
        self._held_floor_db = max(float(dropout_held_floor_dbfs), step_db + _QUANT_MUSIC_DB)
        self._lowest_floor_db = min(self._silence_db + self._floor_db, self._held_floor_db)
        self._lowest_floor = 10.0 ** (self._lowest_floor_db / 20.0)
        if bits_per_sample is not None and bits_per_sample <= 24:
            self._flat = 2.01 * 2.0 ** -(int(bits_per_sample) - 1)
        else:
            self._flat = 1e-9
        self._band = 10.0 ** (-clip_band_db / 20.0)
        self._min_run = int(clip_min_run)
        self._min_runs = int(clip_min_runs)
        self._dominance = float(clip_dominance)
        self._merge = max(1, round(clip_merge_s * sr))
        self._compact_gap = self._merge
        self._max_runs = int(clip_max_runs)
        self._edge = max(1, round(edge_s * sr))
        self._onset = max(2, round(edge_onset_s * sr))
        self._edge_db = float(edge_db)
        self._onset_db = float(edge_onset_db)
        self._end_edge_db = float(end_edge_db)
        self._end_onset_db = float(end_onset_db)
        self._edge_floor_db = max(float(edge_floor_dbfs), step_db + _QUANT_EDGE_DB)
        if not (math.isfinite(edge_held_s) and edge_held_s >= 0 and math.isfinite(edge_held_db) and edge_held_db >= 0):
            raise ValueError(f"edge_held_s {edge_held_s!r} and edge_held_db {edge_held_db!r} must be >= 0")
        # the stream's floor: its quietest 20 ms frame (mean magnitude, loudest channel), digital silence left out
        self._floor_frame = max(1, round(_FLOOR_FRAME_S * sr))
        self._held = round(edge_held_s * sr / self._floor_frame) * self._floor_frame
        self._held_db = float(edge_held_db)
        self._edge_mean = max(1, round(_EDGE_MEAN_S * sr))
        self._floor_margin_db = float(edge_floor_margin_db)
        self._floor_sum = np.zeros(c)
        self._floor_fill = 0
        self._floor_frames = 0  # complete floor frames so far
        self._floor_skip = max(1, round(_FLOOR_EDGE_S / _FLOOR_FRAME_S))  # frames this near an end do not count
        self._floor_recent: list[float] = []  # the last frames' levels, counted once they are that far from the end
        self._floor_min = math.inf
        # ... and the quietest run of as many frames as an edge's held stretch (a noise's single frames dip under
        # its level; a run's mean hardly does)
        self._floor_run: collections.deque[float] = collections.deque(maxlen=max(1, self._held // self._floor_frame))
        self._floor_run_min = math.inf

        self._abs_buf = np.empty((c, 0))
        self._tracks = c + 1 if c > 1 else c  # per channel, plus "all channels" (-1) when there are several
        self._n = 0  # samples per channel seen
        self._frames_done = 0  # complete frames analysed
        self._carry = np.zeros((c, 0))  # samples of the partial frame at the end of the stream so far
        # samples of the last frames: the pre window and two more (absolute start: self._n - width)
        self._recent_width = (self._pre_frames + 2) * self.frame
        self._recent = np.zeros((c, 0))
        # dropout state per track
        self._run_start = [0] * self._tracks  # the stream starts inside a (head) run
        self._in_run = [True] * self._tracks
        self._open_start: list[tuple | None] = [(0, -math.inf, -math.inf, -math.inf, np.zeros(1))] * self._tracks
        self._levels = np.zeros((self._tracks, 0))  # last ctx+pre frame levels (mean |x|)
        # track, start, end, pre dB, context dB, near dB, the level(s) it stopped at
        self._dropouts: list[tuple] = []
        # clipping state: each channel's positive and negative extreme (magnitudes)
        self._ext = np.zeros((c, 2))
        # rows: start, end (inclusive), channel, sign, level, samples, smaller step out of the run
        self._runs: list[np.ndarray] = []
        self._runs_n = 0
        # edges
        self._head = np.zeros((c, 0))
        self._tail = np.zeros((c, 0))
        self._hist = np.zeros(_HIST_BINS, dtype=np.int64)
        self._hist_pending: list[np.ndarray] = []  # levels not yet binned (binned a few thousand at a time)
        self._hist_pending_n = 0
        self._dropouts_only = bool(_dropouts_only)
        # near silence: the same stopped-run test with a wider threshold, judged against louder music before it
        self._near: RunDetector | None = None
        if near_silence_dbfs is not None and not _dropouts_only:
            if not (math.isfinite(near_silence_dbfs) and silence_dbfs < near_silence_dbfs < near_floor_dbfs < 0):
                raise ValueError(f"near_silence_dbfs {near_silence_dbfs!r} must lie between silence_dbfs "
                                 f"{silence_dbfs!r} and near_floor_dbfs {near_floor_dbfs!r}, below 0 dBFS")
            self._near = RunDetector(sample_rate, channels, silence_dbfs=near_silence_dbfs,
                                     dropout_min_s=dropout_min_s, dropout_pre_s=dropout_pre_s,
                                     dropout_context_s=dropout_context_s,
                                     dropout_floor_db=near_floor_dbfs - near_silence_dbfs,
                                     dropout_fall_db=dropout_fall_db, dropout_steep_fall_db=dropout_steep_fall_db,
                                     dropout_slope_db=dropout_slope_db, dropout_held_floor_dbfs=near_floor_dbfs,
                                     near_silence_dbfs=None, _dropouts_only=True)

    # ------------------------------------------------------------------ streaming
    def process(self, block) -> None:
        """Feed the next block, shaped ``(channels, n)`` (NumPy; CuPy is copied to the host)."""
        _, block = as_block(block, self.channels)
        x = to_numpy(block)
        n = int(x.shape[1])
        if n == 0:
            return
        if self._abs_buf.shape[1] < n:
            self._abs_buf = np.empty((self.channels, n))
        a = np.abs(x, out=self._abs_buf[:, :n])  # a reused buffer: a fresh one costs page faults every block
        self._clip_block(x, a)
        moments = self._frames_block(x, a)
        if self._near is not None:
            # the tier reads the same block, magnitudes, frame moments and recent samples (as they stood before
            # this block) as this detector: only its thresholds and run state are its own
            self._near._recent, self._near._n = self._recent, self._n
            self._near._frames_block(x, a, moments)
        self._floor_block(a)
        # signed: an edge is judged less its own mean; three held stretches: the trend of a steady floor's edge
        keep = max(self._edge, _TREND_SPANS * self._held, self._edge_mean)
        if self._head.shape[1] < keep:
            self._head = np.concatenate([self._head, x[:, : keep - self._head.shape[1]]], axis=1)
        if n >= keep:
            self._tail = x[:, n - keep :].copy()
        else:
            self._tail = np.concatenate([self._tail, x], axis=1)[:, -keep:]
        width = self._recent_width
        if n >= width:
            self._recent = x[:, n - width :].copy()
        else:
            self._recent = np.concatenate([self._recent, x], axis=1)[:, -width:]
        self._n += n

    def _floor_block(self, a: np.ndarray) -> None:
        """Lower the stream's floor with this block's complete 20 ms frames (on a grid carried across blocks)."""
        g = self._floor_frame
        n = a.shape[1]
        first = min(n, g - self._floor_fill)
        self._floor_sum += a[:, :first].sum(axis=1)
        self._floor_fill += first
        levels = []
        if self._floor_fill == g:
            levels.append(self._floor_sum.max() / g)
            self._floor_sum[:] = 0.0
            self._floor_fill = 0
        k = (n - first) // g
        if k:
            levels.extend(a[:, first : first + k * g].reshape(a.shape[0], k, g).mean(axis=2).max(axis=0))
        rest = a[:, first + k * g :]
        if rest.shape[1]:
            self._floor_sum += rest.sum(axis=1)
            self._floor_fill += rest.shape[1]
        if not levels:
            return
        # frames within _FLOOR_EDGE_S of the stream's start or end do not count: the floor is a level the
        # stream holds away from its edges, not the edge being judged
        first_index = self._floor_frames
        self._floor_frames += len(levels)
        skip = self._floor_skip
        levels = [float(v) for i, v in enumerate(levels, first_index) if i >= skip]
        recent = self._floor_recent
        recent.extend(levels)
        if len(recent) > skip:
            counted = [v for v in recent[: len(recent) - skip] if v > self._silence]
            del recent[: len(recent) - skip]
            if counted:
                self._floor_min = min(self._floor_min, min(counted))
                run = self._floor_run
                for v in counted:
                    run.append(v)
                    if len(run) == run.maxlen:
                        self._floor_run_min = min(self._floor_run_min, sum(run) / run.maxlen)

    def _at_floor(self, seg: np.ndarray, music_db: float) -> bool:
        """True when the edge (``seg``: the stream's outer samples, up to ``_TREND_SPANS`` held stretches, in time
        order towards the edge, magnitudes) holds a level the stream also holds away from its edges (hiss, room
        tone, hum), below the music: every 20 ms frame of its outer ``edge_held_s`` lies within ``edge_held_db``
        of the stream's floor, and that floor is ``edge_floor_margin_db`` under the music.

        A noise floor's 20 ms frames wander by a few dB (pink hiss at -60 dBFS RMS: -63.3..-59.3 over a song), so
        its quietest frame lies under the frames of an edge of the same hiss: that test alone was too strict (pink
        hiss added to 114 clean benchmark songs made 13 ends "cut" until session 30). A steady edge also holds
        the floor when the mean of its outer ``edge_held_s`` lies within ``edge_held_db`` of the quietest stretch
        as long elsewhere, each of those frames within twice that, and the level fitted over the whole ``seg``
        (300 ms) changes by no more than ``edge_held_db``: a ringing tail cut off at its quietest decays into the
        edge, hiss does not."""
        g = self._floor_frame
        k = self._held // g
        if not (self._held and k and math.isfinite(self._floor_min)) or seg.shape[1] < self._held:
            return False
        floor_db = _db(self._floor_min)
        if floor_db > music_db - self._floor_margin_db:
            return False
        # the 20 ms frames of the whole stretch, the edge's outer ``edge_held_s`` last
        n = seg.shape[1] // g
        whole = seg[:, seg.shape[1] - n * g :].reshape(seg.shape[0], n, g).mean(axis=2).max(axis=0)
        frames = whole[n - k :]
        levels = _db_array(frames)
        if np.all(np.abs(levels - floor_db) <= self._held_db):
            return True
        if not math.isfinite(self._floor_run_min) or n < 2 * k:
            return False
        run_db = _db(self._floor_run_min)
        if not (abs(_db(float(frames.mean())) - run_db) <= self._held_db
                and np.all(np.abs(levels - run_db) <= 2.0 * self._held_db)):
            return False
        whole = _db_array(whole)
        t = np.arange(n) - (n - 1) / 2.0
        return bool(abs(float(t @ whole) / float(t @ t)) * (n - 1) <= self._held_db)

    # clipping ---------------------------------------------------------
    def _clip_block(self, x: np.ndarray, a: np.ndarray) -> None:
        """Keep the flat runs near each channel's own positive and negative extremes (a DC offset on one
        channel puts its two polarities' flat tops at different levels, and the channels' tops apart)."""
        n = x.shape[1]
        c = self.channels
        # The peak magnitude of every chunk of _CHUNK samples; only the chunks that reach the lower of a
        # channel's two bands are looked into, first for their highest and lowest samples (which update the
        # extremes exactly), then, where those reach a polarity's own band, for the samples in it. The band of
        # the weaker polarity often lies where the stronger one's ordinary peaks are: those chunks stop at
        # the first step.
        k = n // _CHUNK
        cmax = a[:, : k * _CHUNK].reshape(c, k, _CHUNK).max(axis=2)
        if k * _CHUNK < n:
            cmax = np.concatenate([cmax, a[:, k * _CHUNK :].max(axis=1, keepdims=True)], axis=1)
        amax = cmax.max(axis=1)
        ext = self._ext
        lows = self._band * ext.min(axis=1)
        rows = []
        grew = False
        for ch in np.flatnonzero((amax >= lows) & (amax > 0.0)).tolist():
            xc = x[ch]
            chunks = np.flatnonzero(cmax[ch] >= lows[ch])
            whole = chunks[chunks < k]
            rows_x = xc[: k * _CHUNK].reshape(k, _CHUNK)[whole]  # a copy of just those chunks
            hi, lo = rows_x.max(axis=1), rows_x.min(axis=1)
            if chunks.size > whole.size:  # the partial chunk at the end of the block
                rest = xc[k * _CHUNK :]
                hi, lo = np.append(hi, rest.max()), np.append(lo, rest.min())
            top, bottom = float(hi.max()), float(-lo.min())
            if top > ext[ch, 0] or bottom > ext[ch, 1]:
                ext[ch, 0], ext[ch, 1] = max(ext[ch, 0], top), max(ext[ch, 1], bottom)
                grew = True
            ext_pos, ext_neg = float(ext[ch, 0]), float(ext[ch, 1])
            thr_pos = self._band * ext_pos if ext_pos > 0.0 else math.inf
            thr_neg = self._band * ext_neg if ext_neg > 0.0 else math.inf
            reach = (hi >= thr_pos) | (lo <= -thr_neg)
            if not reach.any():
                continue
            # the samples in a band, in the chunks that reach it
            r = np.flatnonzero(reach[: whole.size])
            sub = rows_x[r]
            rr, cc = np.nonzero((sub >= thr_pos) | (sub <= -thr_neg))
            idx = whole[r][rr] * _CHUNK + cc
            if reach.size > whole.size and reach[-1]:
                rest = xc[k * _CHUNK :]
                idx = np.concatenate([idx, k * _CHUNK + np.flatnonzero((rest >= thr_pos) | (rest <= -thr_neg))])
            if not idx.size:
                continue
            v = xc[idx]
            ext_pos, ext_neg = float(ext[ch, 0]), float(ext[ch, 1])
            # a run continues while the next sample is the next index, has the same sign and is flat
            flat_next = (np.diff(idx) == 1) & (np.abs(np.diff(v)) <= self._flat)
            # the usual case, peaks of unclipped music in the band: no flat pair, none at the extreme, none
            # at the block's edges; nothing to keep
            if (idx[0] > 0 and idx[-1] < n - 1 and not flat_next.any()
                    and not ((v >= ext_pos - self._flat) | (v <= self._flat - ext_neg)).any()):
                continue
            pos = v > 0
            brk = ~flat_next | (pos[1:] != pos[:-1])
            first = np.concatenate(([0], np.flatnonzero(brk) + 1))
            last = np.concatenate((first[1:] - 1, [idx.size - 1]))
            length = last - first + 1
            s, e = idx[first], idx[last]
            level = np.maximum.reduceat(np.abs(v), first)
            sign = np.where(pos[first], 1.0, -1.0)
            own_ext = np.where(pos[first], ext_pos, ext_neg)
            # keep runs of two or more, single samples at the block edges (a run may continue there), and
            # single samples at the polarity's running extreme (a clipped sample on its own, at the clip level)
            keep = (length >= 2) | (s == 0) | (e == n - 1) | (level >= own_ext - self._flat)
            if not keep.any():
                continue
            first, s, e, level, sign = first[keep], s[keep], e[keep], level[keep], sign[keep]
            # the step from each end of the run to the sample just outside it (unknown at a block edge: inf)
            left = np.full(s.size, np.inf)
            inside = s > 0
            left[inside] = a[ch, s[inside]] - a[ch, s[inside] - 1]
            right = np.full(s.size, np.inf)
            inside = e < n - 1
            right[inside] = a[ch, e[inside]] - a[ch, e[inside] + 1]
            row = np.empty((first.size, 7))
            row[:, 0] = s + self._n
            row[:, 1] = e + self._n
            row[:, 2] = ch
            row[:, 3] = sign
            row[:, 4] = level
            row[:, 5] = e - s + 1
            row[:, 6] = np.minimum(left, right)
            rows.append(row)
        if rows:
            new = np.concatenate(rows)
            self._runs.append(new)
            self._runs_n += new.shape[0]
        if grew and self._runs_n:
            self._prune_runs()
        if self._runs_n > self._max_runs:
            self._compact_runs()

    def _band_floor(self, runs: np.ndarray) -> np.ndarray:
        """The lowest level kept for each run: the clip band below its channel's and polarity's extreme."""
        return self._band * self._ext[runs[:, 2].astype(np.intp), (runs[:, 3] < 0).astype(np.intp)]

    def _stored_runs(self) -> np.ndarray:
        if not self._runs:
            return np.zeros((0, 7))
        if len(self._runs) > 1:
            self._runs = [np.concatenate(self._runs)]
        return self._runs[0]

    def _prune_runs(self) -> None:
        runs = self._stored_runs()
        runs = runs[runs[:, 4] >= self._band_floor(runs)]
        self._runs = [runs] if runs.size else []
        self._runs_n = runs.shape[0]

    def _compact_runs(self) -> None:
        """Bound memory on a stream clipped from end to end: merge stored runs of one channel and one level
        (within the flatness tolerance) that lie within the compaction gap of each other; the merged row
        keeps the span, the lowest level and the total count. The gap starts at ``clip_merge_s`` and doubles
        whenever merging leaves more than half the cap."""
        runs = self._stored_runs()
        runs = runs[np.lexsort((runs[:, 0], runs[:, 3], runs[:, 2]))]
        join = np.zeros(runs.shape[0], dtype=bool)
        join[1:] = ((runs[1:, 2] == runs[:-1, 2]) & (runs[1:, 3] == runs[:-1, 3])
                    & (runs[1:, 0] - runs[:-1, 1] <= self._compact_gap)
                    & (np.abs(runs[1:, 4] - runs[:-1, 4]) <= self._flat))
        group = np.flatnonzero(~join)
        out = np.empty((group.size, 7))
        out[:, 0] = runs[group, 0]
        out[:, 1] = np.maximum.reduceat(runs[:, 1], group)
        out[:, 2] = runs[group, 2]
        out[:, 3] = runs[group, 3]
        out[:, 4] = np.minimum.reduceat(runs[:, 4], group)
        out[:, 5] = np.add.reduceat(runs[:, 5], group)
        out[:, 6] = np.minimum.reduceat(runs[:, 6], group)
        self._runs = [out]
        self._runs_n = out.shape[0]
        if self._runs_n > self._max_runs // 2:
            self._compact_gap *= 2

    # frames and dropouts ----------------------------------------------
    def _frames_block(self, x: np.ndarray, a: np.ndarray, moments: np.ndarray | None = None) -> np.ndarray | None:
        """Frame levels and stopped runs of one block; returns the frame moments it computed (or was given, by
        the parent detector: the near-silence tier shares them) for the block's whole frames."""
        f = self.frame
        n = a.shape[1]
        c = self.channels
        pos = 0
        first_x = first_a = None
        r = self._carry.shape[1]
        if r:
            need = f - r
            if n < need:
                self._carry = np.concatenate([self._carry, x], axis=1)
                return None
            first_x = np.concatenate([self._carry, x[:, :need]], axis=1)
            first_a = np.abs(first_x)
            pos = need
        k = (n - pos) // f
        self._carry = x[:, pos + k * f :].copy()
        off = 1 if first_x is not None else 0
        nf = k + off
        if not nf:
            return None
        body_x = x[:, pos : pos + k * f].reshape(c, k, f)
        # one product of the magnitudes (just computed, in cache) with the mean and two zero-sum patterns
        if moments is None:
            moments = a[:, pos : pos + k * f].reshape(c, k, f) @ self._moments
        if self._dropouts_only:
            # the near-silence tier keeps runs near zero only, whose frames' mean magnitude is below the
            # threshold: rare in music, so most blocks end here with the context levels updated
            cand = moments[..., 0] <= self._silence
            if not cand.any() and not any(self._in_run) and not (
                    off and bool((first_x.max(axis=1) - first_x.min(axis=1) < self._stop_ptp).any())):
                self._skip_frames(moments, first_a, off, nf)
                return moments
        levels = np.empty((self._tracks, nf))  # mean magnitudes, then (several channels) their maximum
        levels[:c, off:] = moments[..., 0]
        # A stopped frame has every sample within the silence threshold s of one level c (peak to peak below
        # 2 s). Then every |x| lies within s of one value (|c| when |c| >= s, s when not), so the projection
        # of |x| on any zero-sum pattern w is at most s * sum|w|: a necessary condition. With a ramp and a V
        # it holds for the quiet frames of music only (a loud frame may be level on one of them), which
        # then get the exact test; most blocks have none.
        silent = np.zeros((c, nf), dtype=bool)
        any_silent = False
        if off:  # the frame completed from the last block's carry: tested directly
            levels[:c, 0] = first_a @ self._ones
            silent[:, 0] = first_x.max(axis=1) - first_x.min(axis=1) < self._stop_ptp
            any_silent = bool(silent[:, 0].any())
        if not self._dropouts_only:
            cand = np.abs(moments[..., 1]) <= self._pattern_bound[0]
            cand &= np.abs(moments[..., 2]) <= self._pattern_bound[1]
        if cand.any():
            cc, jj = np.nonzero(cand)
            frames = body_x[cc, jj]
            stopped = frames.max(axis=1) - frames.min(axis=1) < self._stop_ptp
            silent[cc, jj + off] = stopped
            any_silent = any_silent or bool(stopped.any())
        if self._tracks > c:
            np.maximum(levels[0], levels[1], out=levels[-1])
            for ch in range(2, c):
                np.maximum(levels[-1], levels[ch], out=levels[-1])
        # 0.5 dB bins from -160 dBFS, every 4th frame of the absolute grid (a quarter of the frames is plenty
        # for the median level), binned a few thousand at a time
        frame0 = self._frames_done  # absolute index of levels[:, 0]
        if not self._dropouts_only:  # the level histogram serves the edges
            every = levels[-1, (-frame0) % _HIST_EVERY :: _HIST_EVERY]
            self._hist_pending.append(every.copy())
            self._hist_pending_n += every.size
            if self._hist_pending_n >= 4096:
                self._flush_hist()

        keep = self._ctx_frames + self._pre_frames
        if not any_silent and not any(self._in_run):  # the common case: music, no stopped frame
            self._levels = (levels[:, -keep:] if levels.shape[1] >= keep
                            else np.concatenate([self._levels, levels], axis=1)[:, -keep:]).copy()
            self._frames_done = frame0 + nf
            return moments
        if self._tracks > self.channels:
            silent = np.vstack([silent, silent.all(axis=0)])
        ext = np.concatenate([self._levels, levels], axis=1)
        ext0 = frame0 - self._levels.shape[1]  # absolute frame index of ext[:, 0]
        block_start = self._n  # absolute sample index of x[:, 0]
        for t in range(self._tracks):
            s = silent[t]
            edges = np.diff(np.concatenate(([self._in_run[t]], s)).astype(np.int8))
            starts = np.flatnonzero(edges == 1)
            ends = np.flatnonzero(edges == -1)
            if not ends.size:
                if starts.size:
                    self._in_run[t] = True
                    self._run_start[t] = frame0 + int(starts[-1])
                continue
            # pair each end with the start before it
            run_starts = []
            if self._in_run[t]:
                run_starts.append(self._run_start[t])
                run_starts.extend(frame0 + starts[: ends.size - 1])
            else:
                run_starts.extend(frame0 + starts[: ends.size])
            run_starts = np.asarray(run_starts, dtype=np.int64)
            run_ends = frame0 + ends
            long_enough = (run_ends - run_starts >= self._drop_min_frames) & (run_starts > 0)
            for sf, ef in zip(run_starts[long_enough], run_ends[long_enough]):
                sf, ef = int(sf), int(ef)
                if sf < frame0:  # began in an earlier block: its start was measured then
                    head = self._open_start[t]
                elif self._too_quiet_before(t, sf, ext, ext0):
                    continue
                else:
                    head = self._run_head(t, sf, ext, ext0, x, block_start)
                if head is not None:
                    self._judge_run(t, head, ef, x, block_start)
            self._in_run[t] = bool(s[-1])
            if self._in_run[t]:
                self._run_start[t] = frame0 + int(starts[-1])
        for t in range(self._tracks):
            # a run still open at the end of the block: measure its start while those samples are at hand
            if self._in_run[t] and self._run_start[t] >= frame0 and self._run_start[t] > 0:
                sf = self._run_start[t]
                self._open_start[t] = (None if self._too_quiet_before(t, sf, ext, ext0)
                                       else self._run_head(t, sf, ext, ext0, x, block_start))
        self._levels = ext[:, -keep:].copy()
        self._frames_done = frame0 + nf
        return moments

    def _skip_frames(self, moments: np.ndarray, first_a: np.ndarray | None, off: int, nf: int) -> None:
        """Advance over a block without a candidate frame: only the last frames' levels are kept (context)."""
        keep = self._ctx_frames + self._pre_frames
        tail = moments[:, -keep:, 0]
        if off and tail.shape[1] < keep:
            tail = np.concatenate([(first_a @ self._ones)[:, None], tail], axis=1)
        if self._tracks > self.channels:
            tail = np.vstack([tail, tail.max(axis=0)])
        self._levels = np.concatenate([self._levels, tail], axis=1)[:, -keep:].copy()
        self._frames_done += nf

    def _flush_hist(self) -> None:
        if self._hist_pending:
            levels = np.concatenate(self._hist_pending)
            idx = (np.log10(np.maximum(levels, _TINY)) * (20.0 / _HIST_STEP_DB) - _HIST_LO_DB / _HIST_STEP_DB)
            self._hist += np.bincount(np.clip(idx.astype(np.int64), 0, _HIST_BINS - 1), minlength=_HIST_BINS)
            self._hist_pending = []
            self._hist_pending_n = 0

    def _samples(self, start: int, stop: int, x: np.ndarray, block_start: int) -> np.ndarray:
        """Samples ``start:stop`` (absolute; within the recent samples before the block or in it)."""
        recent0 = block_start - self._recent.shape[1]
        start = max(start, recent0, 0)
        parts = []
        if start < block_start:
            parts.append(self._recent[:, start - recent0 : min(stop, block_start) - recent0])
        if stop > block_start:
            parts.append(x[:, max(start, block_start) - block_start : stop - block_start])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _too_quiet_before(self, t: int, sf: int, ext: np.ndarray, ext0: int) -> bool:
        """Whether the music before a run starting at frame ``sf`` is certainly below every dropout floor,
        from the frame levels alone: the mean distance of the pre window's samples from the run's level is at
        most the loudest pre frame's mean magnitude plus that level, which is at most the run's first frame's
        mean magnitude plus its peak-to-peak (the tail of a fade flickering across the threshold, mostly)."""
        lo = max(sf - self._pre_frames, ext0)
        if lo >= sf:
            return False
        bound = float(ext[t, lo - ext0 : sf - ext0].max()) + float(ext[t, sf - ext0]) + self._stop_ptp
        return bound < self._lowest_floor

    def _run_head(self, t: int, sf: int, ext: np.ndarray, ext0: int, x: np.ndarray,
                  block_start: int) -> tuple[int, float, float, float, np.ndarray]:
        """Where a stopped run starting at frame ``sf`` begins (exact sample), the level it stopped at (per
        channel), and the music before it: the mean distance of the samples from that level over the pre
        window, the 90th percentile of the context frames' mean magnitude and the mean of the frames just
        before the pre window, in dB."""
        f = self.frame
        chans = slice(None) if t == self.channels else slice(t, t + 1)
        run = self._samples(sf * f, (sf + 1) * f, x, block_start)[chans]
        level = 0.5 * (run.max(axis=1) + run.min(axis=1))
        # after the last sample that stands off the level in the frame before the run
        before = np.abs(self._samples((sf - 1) * f, sf * f, x, block_start)[chans] - level[:, None]).max(axis=0)
        off = np.flatnonzero(before >= self._silence)
        start = (sf - 1) * f + (int(off[-1]) + 1 if off.size else f)
        lo = max(sf - self._pre_frames, ext0)
        pre = self._samples(lo * f, sf * f, x, block_start)[chans]
        ctx = ext[t, max(lo - self._ctx_frames, ext0) - ext0 : lo - ext0]
        near = ext[t, max(lo - self._near_frames, ext0) - ext0 : lo - ext0]
        # the music's distance from the level it stopped at: a DC offset or a held sample does not count
        pre_db = _db(np.abs(pre - level[:, None]).mean(axis=1).max()) if pre.size else -math.inf
        # a run entirely below the silence threshold (digital silence) rather than held at some level
        level = level if np.abs(run).max() >= self._silence else np.zeros_like(level)
        if pre_db < self._lowest_floor_db:  # too quiet before it to be a dropout (the tail of a fade, mostly)
            return start, pre_db, -math.inf, -math.inf, level
        ref_db = _db(_percentile(ctx, 90.0)) if ctx.size else pre_db
        near_db = _db(near.mean()) if near.size else pre_db
        return start, pre_db, ref_db, near_db, level

    def _judge_run(self, t: int, head: tuple[int, float, float, float, np.ndarray], ef: int, x: np.ndarray,
                   block_start: int) -> None:
        f = self.frame
        chans = slice(None) if t == self.channels else slice(t, t + 1)
        start, pre_db, ref_db, near_db, level = head
        # up to the first sample that stands off the run's last level in the frame that ends the run
        last = self._samples((ef - 1) * f, ef * f, x, block_start)[chans]
        end_level = 0.5 * (last.max(axis=1) + last.min(axis=1))
        after = np.abs(self._samples(ef * f, (ef + 1) * f, x, block_start)[chans] - end_level[:, None]).max(axis=0)
        on = np.flatnonzero(after >= self._silence)
        end = ef * f + (int(on[0]) if on.size else 0)
        if end - start >= self._drop_min - 1:
            self._dropouts.append((t, start, end, pre_db, ref_db, near_db, level))

    # ------------------------------------------------------------------ results
    def finish(self) -> list[Detection]:
        """Decide and return the findings, sorted by start time."""
        drops = self._finish_dropouts()
        if self._dropouts_only:
            return drops
        if self._near is not None:
            # near-silent runs the digital-silence test did not already report (a cut to -70 dBFS noise; a
            # cut to exact zeros lies inside a near-silent run and is reported once, as found above)
            self._near._ext = self._ext  # a run held at the clip level is a flat top there too
            drops += [d for d in self._near.finish()
                      if not any(d.start_s < o.end_s and o.start_s < d.end_s for o in drops)]
        out = drops + self._finish_clipping() + self._finish_edges()
        out.sort(key=lambda d: (d.start_s, d.kind, d.channel))
        return out

    def _finish_dropouts(self) -> list[Detection]:
        sr = self.sample_rate
        floor = self._silence_db + self._floor_db
        found = []
        for t, s, e, p, r, q, level in self._dropouts:
            held = bool(np.any(level != 0.0))
            if held and self._dropouts_only:
                continue  # near silence is near zero: a slow waveform holds within the wider threshold for 5 ms
            need = self._held_floor_db if held else floor
            if not (p >= need and (p >= r - self._fall_db
                                   or (p >= r - self._steep_fall_db and p >= q - self._slope_db))):
                continue
            if r < need - _CONTEXT_FLOOR_DB and q < need - _CONTEXT_FLOOR_DB:
                # the 200 ms and the 17 ms before are too quiet to host a dropout: only an impulse right before
                # the run (a click in a quiet tail) lifted the 3 ms before over the floor; the click is the finding
                continue
            if self._at_extreme(t, level):
                continue  # a flat top at the channel's own extreme is clipping, not a dropout
            found.append((t, s, e, p, r, level))
        every = [(s, e) for t, s, e, *_ in found if t == self.channels and self._tracks > self.channels]
        out = []
        for t, s, e, p, r, level in found:
            all_channels = t == self.channels and self._tracks > self.channels
            if not all_channels and any(s < e2 and s2 < e for s2, e2 in every):
                continue  # part of a dropout in every channel
            ch = -1 if all_channels else (t if self.channels > 1 else 0)
            where = "every channel" if ch == -1 else f"channel {ch}"
            at = "" if not np.any(level != 0.0) else f" of {', '.join(f'{v:+.4f}' for v in level)}"
            out.append(Detection("dropout", s / sr, e / sr, ch, (e - s) / sr,
                                 f"{(e - s) / sr * 1e3:.1f} ms within {self._silence_db:.0f} dBFS of a constant"
                                 f"{at} in {where}, cut from {p:.1f} dBFS (music before it {r:.1f} dBFS)",
                                 silence_dbfs=self._silence_db))
        return out

    def _at_extreme(self, t: int, level: np.ndarray) -> bool:
        """Whether a stopped run sits within the clip band of its channel's extreme of that polarity."""
        chans = range(self.channels) if t == self.channels else (t,)
        for ch, v in zip(chans, level):
            if abs(v) >= self._silence and abs(v) >= self._band * self._ext[ch, 0 if v > 0 else 1]:
                return True
        return False

    def _finish_clipping(self) -> list[Detection]:
        runs = self._stored_runs()
        if not runs.shape[0]:
            return []
        runs = runs[runs[:, 4] >= self._band_floor(runs)]
        # join runs split at block boundaries
        runs = runs[np.lexsort((runs[:, 0], runs[:, 3], runs[:, 2]))]
        join = np.zeros(runs.shape[0], dtype=bool)
        join[1:] = ((runs[1:, 2] == runs[:-1, 2]) & (runs[1:, 3] == runs[:-1, 3])
                    & (runs[1:, 0] == runs[:-1, 1] + 1) & (np.abs(runs[1:, 4] - runs[:-1, 4]) <= self._flat))
        group = np.flatnonzero(~join)
        if not group.size:
            return []
        start = runs[group, 0]
        end = np.maximum.reduceat(runs[:, 1], group)
        chan = runs[group, 2]
        sign = runs[group, 3]
        level = np.maximum.reduceat(runs[:, 4], group)
        count = np.add.reduceat(runs[:, 5], group)
        drop = np.minimum.reduceat(runs[:, 6], group)
        picked = []  # (start, end, channel, count, level) of runs at a clip level
        levels = []
        # each channel and polarity against its own extreme: its own clip level, or none
        for ch in range(self.channels):
            clips = {}
            for sg in (1.0, -1.0):
                g = (chan == ch) & (sign == sg)
                if g.any():
                    clips[sg] = self._clip_level(level[g], count[g], drop[g])
            if len(clips) == 2 and None in clips.values():  # one polarity, or neither, found its level
                # a master clipped symmetrically (at +-1, then turned down) that clipped on few peaks: too few runs
                # in either polarity alone, but its two polarities' tops sit at one magnitude; pooled, their runs
                # must make that level, with a counted run of each polarity on it
                g = chan == ch
                clip = self._clip_level(level[g], count[g], drop[g])
                if clip is not None:
                    on = self._counted(count[g], drop[g]) & (np.abs(level[g] - clip) <= self._flat)
                    if {1.0, -1.0} <= set(sign[g][on].tolist()):
                        clips = {1.0: clip, -1.0: clip}
            for sg, clip in clips.items():
                if clip is None:
                    continue
                # every sample at the clip level is clipped, a single one too (it is where a section starts
                # when the music first reaches the level); only runs decide the level
                at = (chan == ch) & (sign == sg) & (np.abs(level - clip) <= self._flat)
                picked.append((start[at], end[at], chan[at], count[at]))
                levels.append(sg * clip)
        if not picked:
            return []
        start, end, chan, count = (np.concatenate(p) for p in zip(*picked))
        order = np.argsort(start, kind="stable")
        start, end, chan, count = start[order], end[order], chan[order], count[order]
        reach = np.maximum.accumulate(end)
        new = np.ones(start.size, dtype=bool)
        new[1:] = start[1:] - reach[:-1] > self._merge
        group = np.flatnonzero(new)
        sr = self.sample_rate
        where = ", ".join(f"{_db(abs(v)):.2f}" for v in levels)
        out = []
        for i, g in enumerate(group):
            stop = group[i + 1] if i + 1 < group.size else start.size
            n_clipped = int(count[g:stop].sum())
            chans = np.unique(chan[g:stop])
            ch = int(chans[0]) if chans.size == 1 and self.channels > 1 else (-1 if self.channels > 1 else 0)
            s, e = int(start[g]), int(reach[stop - 1]) + 1
            out.append(Detection("clipping", s / sr, e / sr, ch, float(n_clipped),
                                 f"{n_clipped} clipped samples in {stop - g} flat runs (clip levels {where} dBFS, "
                                 f"each channel's and polarity's own)"))
        return out

    def _counted(self, count: np.ndarray, drop: np.ndarray) -> np.ndarray:
        """Runs that count towards a clip level: at least ``clip_min_run`` samples, left steeply on both sides
        (a step of more than four flatness tolerances)."""
        return (count >= self._min_run) & (drop >= 4.0 * self._flat)

    def _clip_level(self, level: np.ndarray, count: np.ndarray, drop: np.ndarray) -> float | None:
        """The clip level of one channel's polarity from its runs in the band below its extreme, or None.

        A run that counts is long enough and left steeply on both sides: a flat top, not the rounded peak of
        a loud low tone in a 16-bit file, whose run of near-equal samples ends where the step just exceeds
        the flatness tolerance. The level is the highest one with ``clip_min_runs`` such runs within the
        tolerance, it needs ``clip_dominance`` times as many of them as the rest of the band, and one of
        them longer than ``clip_min_run`` (a tone at fs/4 repeats equal pairs at its peaks)."""
        counted = self._counted(count, drop)
        long_levels = np.sort(level[counted])
        if long_levels.size < self._min_runs:
            return None
        hi = np.arange(long_levels.size)
        lo = np.searchsorted(long_levels, long_levels - self._flat, side="left")
        ok = np.flatnonzero(hi - lo + 1 >= self._min_runs)
        if not ok.size:
            return None
        clip = float(long_levels[ok[-1]])
        at_clip = np.count_nonzero(np.abs(long_levels - clip) <= self._flat)
        if at_clip < self._dominance * (long_levels.size - at_clip):
            return None
        if not np.any(counted & (count > self._min_run) & (np.abs(level - clip) <= self._flat)):
            return None
        return clip

    def _finish_edges(self) -> list[Detection]:
        self._flush_hist()
        if self._n < 2 * self._edge:
            return []
        silent_bin = int((self._silence_db - _HIST_LO_DB) / _HIST_STEP_DB)
        hist = self._hist.copy()
        hist[:silent_bin] = 0  # silence does not lower the music's level
        if not hist.sum():
            return []
        cum = np.cumsum(hist)
        music_db = _HIST_LO_DB + (int(np.searchsorted(cum, 0.5 * cum[-1])) + 0.5) * _HIST_STEP_DB
        sr = self.sample_rate
        dur = self._n / sr
        out = []
        # each edge less its own mean over the kept 100 ms: a constant offset is dc_offset's finding, and the
        # step it makes at the file's first and last samples is not music cut off (over 100 ms, music's own
        # mean is small against its level). An edge is judged as it is where that is quieter: digital silence
        # after music on an offset stays silence.
        ends = []
        m = self._edge_mean
        for e, outer, near in ((self._head, slice(0, self._edge), slice(0, m)),
                               (self._tail, slice(-self._edge, None), slice(-m, None))):
            raw = np.abs(e)
            less = np.abs(e - e[:, near].mean(axis=1, keepdims=True)) if e.shape[1] else raw
            ends.append(less if less[:, outer].mean() < raw[:, outer].mean() else raw)
        head, tail = ends
        for kind, seg, onset, seg_db, onset_db, held in (
                ("start_cut", head[:, : self._edge], head[:, : self._onset], self._edge_db, self._onset_db,
                 head[:, : _TREND_SPANS * self._held][:, ::-1]),
                ("end_cut", tail[:, -self._edge :], tail[:, -self._onset :], self._end_edge_db, self._end_onset_db,
                 tail[:, max(0, tail.shape[1] - _TREND_SPANS * self._held) :])):
            # mean magnitude over the edge, like the frame levels the music's level comes from; the very
            # edge by its peak (a start that rises from silence has not begun in its first half millisecond)
            edge_db = _db(seg.mean(axis=1).max())
            peak_db = _db(onset.max())
            if (edge_db >= music_db - seg_db and peak_db >= music_db - onset_db
                    and edge_db >= self._edge_floor_db and not self._at_floor(held, music_db)):
                rms_db = _db(math.sqrt(float((seg * seg).mean(axis=1).max())))
                span = (0.0, self._edge / sr) if kind == "start_cut" else (dur - self._edge / sr, dur)
                where = "starts" if kind == "start_cut" else "ends"
                out.append(Detection(kind, span[0], span[1], -1, rms_db,
                                     f"the stream {where} inside the music: {rms_db:.1f} dBFS RMS over the "
                                     f"{self._edge / sr * 1e3:.0f} ms edge (mean magnitude {edge_db:.1f} dB, "
                                     f"peak of the outermost {self._onset / sr * 1e3:.1f} ms {peak_db:.1f} dB), "
                                     f"the music's median level {music_db:.1f} dB (mean magnitude)"))
        return out
