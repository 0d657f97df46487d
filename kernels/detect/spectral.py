"""Whole-track and long-section spectral findings: mains hum, a lossy brick-wall bandwidth, a short bit depth.

All three are properties of long stretches of audio, so the detector looks at a sparse, fixed grid of frames
and keeps small summaries; nothing depends on where the blocks begin or end.

Hum (``hum``)
    Mains hum is a steady comb of narrow lines at exactly 50 or 60 Hz and their multiples that persists while
    the music changes around it. Each channel is decimated to 2-3 kHz (the comb only reaches 360 Hz) after five
    boxcars in cascade (since session 31; one plain boxcar until then, whose 20 dB beside its nulls let a held
    note's upper harmonics near 2.7-3.2 kHz fold onto the comb as steady lines: see ``_cic_taps``); their mean
    is cut into 1 s Hann frames every 0.5 s (1 Hz bins, so the comb falls on bins and equal-tempered notes do
    not: G1 at 49.0 Hz and A#1 at 58.3 Hz are the nearest, one and two bins away). A comb line counts only
    above -100 dBFS and, since session 31, no more than ``HUM_BELOW_MUSIC_DB`` (75 dB) under a sine as loud as
    the loudest frame so far (of the decimated channel mean, up to the window's end; over the track for the
    whole-track coherent test): without the folded top end, a clean song's reverb tail showed steady partials
    on 180 and 240 Hz at -95 dBFS, 85 dB under its music, where everything else had decayed.

    *Finding it.* A sliding window of nine frames (5 s, the shortest section the benchmark plants) is
    summarised by its *floor spectrum*, the second-lowest power of each bin over the window (the 20th
    percentile). A line that is there in at least 80 % of the frames survives into the floor; notes, bass lines
    and kick drums, which come and go, do not. For every comb line the window scores the floor's line bin
    against the median of the bins 3-12 Hz either side, counting it only when the line is a local peak, lies
    above -100 dBFS, its floor in the first half of the window is within ``hum_stability_db`` of its floor in
    the second half (a decaying chord in a reverb tail fails that), and it stands alone: a beat looped
    sample-exactly (electronic music at 120-130 BPM) is a comb of steady lines every tempo/60 Hz, one of which
    sits exactly on 50 Hz at 125 BPM, so a line must stand 6 dB above the steadier side's strongest line 2-4
    Hz away (a loop has teeth on both sides; a note held beside a hum line is on one side) and not 2 dB below
    the stronger side's. The window score is the sum over the six lines of that prominence, each clipped to
    0..15 dB; windows are scored every 1 s and hold hum above ``hum_section_score``.

    *Whole track or sections.* The frames' complex spectra on the comb lines are kept (turned to one time
    origin they are the comb's phasors). Where the hum windows are, they give the hum's phasor on each line
    (a mains drift of up to 0.3 Hz is searched, 0.01 Hz then 0.001 Hz steps; nominal is kept unless a drift
    gathers 2 dB more). Louder music masks a hum in the floor spectra but does not
    turn its phasor away, so the mean phasor of the sounding frames away from the hum windows and from the
    sections as their edges were placed (a weak hum fills fewer windows than its span; frames of digital
    silence, such as a head of zeros put in front later, and the two frames either side of it left out, as is
    any frame whose decimated samples are exact zeros 5 % of the time or more: zeros shorter than a frame leave
    no silent frame, only part-silent ones whose phasor is cut short) is
    projected onto it: about 1 where the hum goes on under louder music, about 0 where there is none. Both the
    hum's phasor and that projection weigh each frame's phasor on each line by the inverse of the music's power
    2-12 Hz beside that line in that frame (kept per frame with the phasors): the music on a line's bin is
    noise of about that power, so a frame where a bass note sits next to a line hardly counts and a quiet one
    counts much (an unweighted mean let two or three such frames turn the projection negative: on seven
    benchmark corpora two whole-track hums were reported as sections for that). The hum is reported once,
    spanning the track, when that projection reaches 0.5 or nothing sounding is left away from the hum, and
    neither side (the frames before the first hum frame, those after the last) holds clearly less: 5 standard
    errors short of 0.5 (since session 24: the projection is dominated by the quietest frames, and a hum heard in a
    loud middle that runs on into a quiet end held 95 % although the quiet start, measured as precisely, held 4 %);
    otherwise each run of hum windows (runs closer than ``hum_merge_gap_s`` join, before and, since session 24,
    after their edges are placed: an onset search can reach back into the run before) is a section. Where no window reaches a
    section's score, two windows or more that score ``HUM_WEAK_SCORE`` (two comb lines at least: one line counts
    15 dB at most) are weak evidence, and the same projection decides a whole-track hum from them (at most twice
    the heard level, as for one window); weak windows alone never make a section. Under a busy bass line that
    hears a whole-track hum 1-3 dB lower; on a held-out corpus (seed 27) it found 1 more of 20 hums. One window
    of that score is left alone: a dance track's sidechained loop reaches 21 dB once on 60 Hz.

    *A hum no window hears.* Under a low end that is busy all the time (a short song, a dense mix) a hum of
    -50..-32 dBFS can stay out of every window's floor, yet its phasors still add up over the whole track
    while the music's do not. With nothing heard otherwise, the comb's phasors of every sounding frame, with
    the same weights and drift search, give a coherent power in units of the music's power near the lines (a
    few per line for music alone: the median song without hum reads 10 over six lines). It is a whole-track
    hum when that reaches ``HUM_COHERENT_SCORE`` (200), counting only lines that gather 6 dB more than the most
    coherent of the bins 2-4 Hz beside them
    (each searched for a drift of up to 0.5 Hz: a beat looped sample-exactly has a tooth on every mains line at
    120 or 125 BPM, and teeth beside it too; hum leaves nothing two bins away), when each third of the track
    holds 0.5-2 times that phasor, and when every 2 s run holds it within five standard errors (a bass note
    exactly on a line, recurring on a beat grid, is coherent but comes and goes). On the nine benchmark
    corpora (seeds 21-29) the coherent power of the 1871 tracks without a planted hum reached at most 122
    (99th percentile 92: reverb modes in quiet tails), and none passes the three tests; it found 8 of the 11
    whole-track hums the windows had missed (-49.8 to -32.3 dBFS).

    *A section no floor spectrum hears* (since session 25). Under a busy low end a hum section of -45..-39 dBFS
    can stay out of every window's floor spectrum (its windows score 13-22 dB: weak windows, which only ever vouch
    for a whole-track hum), yet over a window its phasors add up while the music's do not. Every window is also
    scored by its comb's coherent power over its nine frames, with the whole-track test's weights, drift search
    (0.01 Hz steps) and beside-bin test (each bin 2-4 Hz beside a line searched for a drift of up to 0.5 Hz by a
    32-point transform over the window's frames); the line at 300 Hz, a harmonic of both mains frequencies, is
    left out (a 50 Hz section made the 60 Hz comb coherent there). A window no floor spectrum hears holds hum when
    that power reaches ``HUM_WINDOW_COHERENT`` (400), every one of its frames holds the phasor within five
    standard errors (a riff that comes back to 60 Hz every second holds it in each half of a window, not in every
    frame), and each half of the window measures the hum's share to 0.1 or better (a half under loud music says
    nothing, and such windows took two sections seconds back before their hum). Those windows are hum windows like
    the others: they make and extend sections, have their edges placed, and count for the whole-track tests. The
    magnitudes of a window's phasors bound what any drift can gather, so most windows of music stop at that bound.
    On the nine benchmark corpora (seeds 21-29) the 1871 tracks without a planted hum reach a steady coherent window
    power of at most 115 (before the beside test), 60 clean renders of 1-4 minutes at most 49.

    *Placing a section's edges.* The windows find a section to about a second. The last ``HUM_RING_S`` of
    every channel's decimated signal is kept in a ring; when a run of hum windows begins, the onset is searched
    from 8 s before to 2.5 s after the first window's start (the region running on to that window's end); when
    it ends, from 2.5 s before to 8 s after the last window's end (the region starting at that window's
    start). The part of the region the windows vouch for (from 1 s inside the first window to the region's
    end; for an offset, from the region's start to 1 s before the last window's end) gives the hum's phasor
    on each comb line, and the mains drift first (up to 0.3 Hz; 0.1 Hz off nominal turns the phasor a full turn
    in 10 s; kept only if it gathers 2 dB more than nominal). A harmonic shared with the other mains frequency
    (300 Hz) is left out when that one has been heard in the track. The region is brought to baseband at the six
    harmonics, for the channel sum and for each channel (a low end put out of phase cancels the hum in the sum,
    not in a channel), with the region's DC removed, and low-passed (a centred 40 ms mean, sampled every 5 ms).
    The music near each line is treated as complex noise whose power changes with time (since session 27: how far
    the baseband strays from its own mean over the surrounding second, over 0.1 s; a hum is steady there and music
    is not). The log-likelihood that the hum is there from each candidate edge on (to it, for an offset) is a
    generalised likelihood ratio: on each line the power-weighted sum of the baseband from that edge, squared, over
    the sum of the weights, i.e. the hum's phasor on each line is fitted to that stretch, so a stretch where the
    music near the lines is quiet says much and one under a loud bass note little; each channel counts as one
    observation of the edge, with phasors of its own (a low end put out of phase cancels the hum in the channel
    sum, not in a channel), and the maximum of their sum places the edge. Until session 27 the phasor was fixed
    to the part the windows vouch for, and a steady note on one line there (the 250 Hz line of a seed-24 pop song
    read 8.7 dB over the hum's 5th harmonic) made the stretch after the onset, without that note, count as "no
    hum": that onset was placed 425 ms late; the music's power was then whichever of "hum there" and "no hum" left
    less, and the channel set (sum, left, right) with the largest likelihood decided. On the nine benchmark
    corpora (seeds 21-29) the change found 160 of 181 hums against 154 (7 onsets moved to within 50 ms, one
    moved out: a -44 dBFS section whose likelihood is flat over 0.3 s; of the 42 sections whose edges moved, 34
    ends lie within 50 ms of the truth against 26). Earlier figures for this search: on 20 s songs rendered for a probe (seeds 410-439,
    -36 dBFS, 7 s sections) 18 of 24 found sections started within 50 ms (the search before session 20, which
    normalised by the region's median music power: 10); on the clean songs of seven benchmark corpora (seeds
    21-27, the first 60 of each, hum planted twice in each as the benchmark plants it) 127 of the 342 sections
    against 63 (252 found at all, either way). A note a few Hz from a line
    and well above the hum that starts with it still pulls the edge to where it fades (0.6 s in a test). An
    edge whose likelihood peaks within the 40 ms smoothing of the search's end next to the part the windows
    vouch for has followed the music there (it still rises into that part), and edges that cross each other
    place nothing: either way the section keeps its windows' span (a weak hum section was once reported as
    8.49-8.50 s, another as 4.48-4.51 s; on the seven corpora three such slivers became 3-7 s spans). A run of
    hum windows that lasts to the end of the stream has its end searched the same way (before session 25 it ended
    with its last window: at the end of the file, seconds after a hum that stopped inside that window); where the
    likelihood still rises at the end of the stream, the hum lasts to the end.

    Measured with the benchmark's strict rule (start within 50 ms): seed 1 (2 h) 10 of 12 hums, seed 101
    (1.5 h) 16 of 20, seed 301 (1 h) 17 of 21; no hum finding on the clean or defective tracks that is not a
    planted hum. Known limits: a hum under a looped beat whose comb sits on the mains lines is heard only where
    it stands 6 dB above the loop's teeth; hum that a section of low end put out of phase cancels in the
    channel sum is found by the windows only where it is not cancelled.

    *Hum in anti-phase between the channels* (since session 27). A hum that got in before one channel's
    polarity was inverted cancels in the channel sum, which is all the windows listen to: 0 of 108 such
    sections planted by the benchmark's planter into clean corpus songs of seeds 21-29 were found. A stereo pair
    is now also listened to on the channels' difference, by a second detector fed the decimated left channel
    and the inverted right one (decimation is linear, so they come from the first detector's own decimation:
    about 0.025 s more per 3-minute song). Only its sections count, at a comb score 10 dB above a section's
    (``HUM_SIDE_EXTRA_DB``), and neither its weak windows nor its whole-track coherent test: the difference of
    an electronic render holds stereo pads and looped synths that scored 27-30 dB there on four of the 2052
    corpus tracks (two of them clean), while the planted anti-phase hums, with little music on the difference,
    all score higher. A finding of the difference that no finding of the sum overlaps is reported, its detail
    saying the hum is in anti-phase (it cancels in the channels' sum); a hum in one channel only stands in both
    and is reported once, as the sum heard it. Measured: the 108 anti-phase plantings all found, 99 within
    50 ms; no hum finding added on the 2052 corpus tracks or the genre benchmark's pieces.

Lossy bandwidth (``lossy_bandwidth``)
    One short frame (about 85 ms) of the channel mean every second feeds a long-term average power spectrum.
    A lossy or low-rate source leaves a brick wall: the level a few hundred Hz above the cut stays far below
    the music just under it, all the way to Nyquist, while a natural roll-off (dull sampled instruments,
    reverb) falls a few dB per kHz. The detector looks for the cutoff in 4 kHz .. min(20.5 kHz, Nyquist - 1.5
    kHz) where the median level over the 1 kHz below the cut exceeds the highest level from 300 Hz above it
    to Nyquist by ``lossy_step_db``, or by 20 dB when everything above the cut is a flat floor (no bin 3 dB
    over its median: the noise of a later requantisation, e.g. a lossy source moved to 12 bits, fills the
    stopband; music above a natural roll-off is never that flat); the value is the highest frequency still
    within 20 dB of that level. A real encoder's low-pass can be gentler than a brick wall: ffmpeg's AAC at
    128 kb/s falls over 1-1.5 kHz at 17-18 kHz, so for cuts up to 18.5 kHz the level from 1.5 kHz above the
    cut counts too (three 96 kHz files made from such AAC files were not flagged before; the natural top
    roll-offs of 44.1/48 kHz material, an ADC's anti-alias filter among them, lie at 20.5-22 kHz, where that
    wider reading would flag 38 of 416 clean benchmark tracks, so it stops at 18.5 kHz). At 88.2 kHz and above,
    when neither reading clears the step, the stopband's level is read as its 90th percentile instead of its
    top: a source upsampled by ffmpeg's default resampler keeps images of its top octave just above the old
    Nyquist, 28-35 dB under the passband over 1-2 kHz of a stopband 25 kHz wide (three of five 320 kb/s MP3s
    resampled to 96 kHz were missed for them; the 2052 kept corpus tracks and the genre pieces are unchanged).
    Cuts above 20.5 kHz are not looked for at any rate: a "hi-res" file made from a lossless 44.1 or 48 kHz master
    ends at the source's band edge (21-23 kHz), and reporting it would hold every release mastered from such a
    master in ``farm master`` (its QC fails ``lossy_bandwidth``); that is a policy for a profile to choose, not
    yet offered. Below 44.1 kHz, where 20.5 kHz is outside the band, cuts in the top fifth of the band are not
    looked for either: that is the file's own anti-alias filter (soxr resamples to 32 kHz ending at 14.6-14.8
    kHz and to 22.05 kHz at 9.7 kHz; 12 of 12 and 11 of 12 such files of clean 96 kHz songs were flagged before),
    and its low rate is the ``format`` finding's business.

Bit depth (``bit_depth``)
    With ``bits_per_sample`` of a PCM container (more than 8 bits), the first 512 samples of the same frames are
    scaled to integers of that width; OR-ing their magnitudes together gives the trailing zero bits common to
    every non-zero sample, and the effective depth is the container's minus those. 16-bit audio padded to 24
    bits reads 16. The check stops as soon as a sample uses the last bit or is not on the container's grid
    (float data): the verdict is then the container's own depth and nothing is reported. A float container
    (``float_bits``: 32 or 64) is checked against the 24-bit grid of a float32 mantissa instead: 16-bit audio
    exported as float reads 16 and is reported ("in a 32-bit float container"); 24-bit audio, or audio that a
    float process (a gain, a resampler, a limiter) left off every grid, is not.

Memory: per 1 s window two scores and two coherent powers, per 0.5 s frame the 12 comb phasors (complex64), the music's power beside each
and the 72 phasors 2-4 Hz beside them, a 40 s ring of decimated audio per channel, and one average spectrum; a
two-hour file holds about 11 MB (3 MB before session 24 kept the bins beside the lines), about twice that for a
stereo pair since session 27 (the channels' difference keeps its own ring and phasors; estimated from what it keeps,
not measured).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.ndimage import uniform_filter1d

from kernels._xp import as_block, check_channels, to_numpy
from kernels.detect.base import Detection

__all__ = ["SpectralDetector"]

HUM_BASES_HZ = (50, 60)
HUM_HARMONICS = 6
HUM_FRAME_S = 1.0
HUM_WINDOW_FRAMES = 9  # 9 frames of 1 s every 0.5 s span 5 s
HUM_FLOOR_RANK = 1  # second-lowest of nine: the 20th percentile
HUM_RING_HZ = (3, 12)
HUM_MIN_DBFS = -100.0
HUM_BELOW_MUSIC_DB = 75.0  # a comb line this far under the loudest frame so far (as a sine's level) does not count
HUM_WINDOW_STEP = 2  # a window every second frame (1 s)
HUM_TRACK_AWAY = 0.5  # whole-track hum: its phasor averages this much of itself away from the hum windows
HUM_TRACK_SIDE_Z = 5.0  # ... and no side of the heard hum holds clearly less (standard errors)
HUM_TRACK_ONE_WINDOW_MAX = 2.0  # ... and at most this much when the hum was heard in one window only
HUM_WEAK_SCORE = 18.0  # two comb lines or more (one line counts 15 dB at most) ...
HUM_WEAK_WINDOWS = 2  # ... in this many windows or more: evidence for a whole-track hum, never a section alone
HUM_COHERENT_SCORE = 200.0  # a whole-track hum no window hears: coherent power over the track, music's = 1/line
HUM_COHERENT_PARTS = 3  # ... and each third of the sounding frames holds
HUM_COHERENT_HOLD = (0.5, 2.0)  # ... this share of its phasor
HUM_COHERENT_NEAR_DB = 6.0  # a line counts there when it gathers this much more than the bins 2-4 Hz beside it
HUM_COHERENT_NEAR_HZ = 0.5  # ... each of them searched for a drift of up to this much
HUM_COHERENT_RUN_FRAMES = 4  # ... and every run of this many sounding frames (2 s) holds the same phasor
HUM_COHERENT_STEADY = 5.0  # ... within this many standard errors
HUM_WINDOW_COHERENT = 400.0  # a window no floor spectrum hears holds hum when its comb phasors add up to this much
HUM_WINDOW_NEAR_FFT = 32  # ... the beside bins' drift search in a window: its 9 frames zero-padded to this many
HUM_WINDOW_HALF_SE = 0.1  # ... and each half of the window measures the hum's share to this standard error or better
HUM_TRACK_EDGE_FRAMES = 2  # frames each side of an edge of digital silence that are not "away"
HUM_PART_SILENT = 0.05  # a frame whose decimated samples are exact zeros this often holds digital silence
HUM_DRIFT_HZ = 0.3  # mains frequency searched this far from nominal (fundamental; harmonics k times)
HUM_DRIFT_STEP_HZ = 0.01
HUM_NEAR_BINS = (2, 4)  # a comb line must stand above the steady lines 2-4 bins away (a looped beat's comb)
HUM_NEAR_DB = 6.0
HUM_BESIDE_DB = 2.0
HUM_DEC_STAGES = 5  # boxcars in cascade before the decimation (odd: the output then centres on a group)
HUM_RING_S = 40.0  # decimated audio kept for placing section edges: 16 s batches + a 5 s window + margins
HUM_EDGE_BEFORE_S = 8.0  # an onset is searched from this long before the first hum window's start ...
HUM_EDGE_AFTER_S = 2.5  # ... to this long after it (the window spans 5 s and holds hum in 8 of its 9 frames)
HUM_EDGE_DRIFT_HZ = 0.3  # mains drift searched when placing an edge (fundamental; harmonics k times)
HUM_EDGE_DRIFT_GAIN = 10.0 ** (2.0 / 10.0)
HUM_EDGE_SURE_S = 1.0  # the hum windows vouch for hum from this far inside the first (last) window's edge
HUM_EDGE_SURE_MIN_S = 0.5  # ... and an edge is placed only when that part holds this much at least
HUM_UNPLACED_S = 2.0  # a section edge the search could not place may lie this far outside its windows' span
HUM_EDGE_HOP_S = 0.005  # candidate edges this far apart
HUM_EDGE_LOWPASS_S = 0.04  # the baseband signals' centred mean (first null 25 Hz from each line)
HUM_EDGE_POWER_S = 0.1  # the music's power near each line measured over this long ...
HUM_EDGE_STEADY_S = 1.0  # ... as the baseband's departure from its mean over this long
HUM_SIDE_EXTRA_DB = 10.0  # a section heard only on the channels' difference needs this much more comb score
HUM_BATCH_FRAMES = 32  # frames analysed together (16 s), so per-call overhead hardly counts
LOSSY_PERIOD_S = 1.0
LOSSY_FRAME_S = 0.085  # rounded up to a power of two: 4096 at 44.1/48 kHz, 8192 at 88.2/96 kHz
LOSSY_MIN_HZ = 4000.0
LOSSY_MAX_HZ = 20500.0
LOSSY_OWN_EDGE = 0.8  # below 44.1 kHz, cuts above this fraction of Nyquist are the file's own anti-alias filter
LOSSY_SMOOTH_HZ = 60.0
LOSSY_ABOVE_HZ = 300.0  # the level this far above a candidate cut, to Nyquist, must lie under the music below it
LOSSY_WIDE_HZ = 1500.0  # a gentler codec low-pass is read this far above the cut ...
LOSSY_WIDE_MAX_HZ = 18500.0  # ... for cutoffs up to this frequency
LOSSY_BATCH_FRAMES = 16  # sparse frames transformed together
LOSSY_FLAT_STEP_DB = 20.0  # a smaller cliff is enough when the stopband above it is flat (a noise floor) ...
LOSSY_FLAT_DB = 3.0  # ... with no bin more than this above its median
LOSSY_HIRES_FLAT_STEP_DB = 8.0  # ... or this at LOSSY_HIRES_HZ and above, where a flat stopband is itself the tell
LOSSY_HIRES_HZ = 88200  # at this rate and above the stopband's level is ...
LOSSY_HIRES_STOP_PCT = 90.0  # ... this percentile of its bins (a resampler's images sit in a narrow band)
LOSSY_HIRES_SHARP_DB = 20.0  # ... once the music falls this much within LOSSY_WIDE_HZ of the cut
BIT_DEPTH_MIN_SAMPLES = 256
FLOAT_GRID_BITS = 24  # a float container's samples are checked against this grid (a float32 sample's mantissa)
BIT_DEPTH_FRAME_SAMPLES = 512  # per channel and sparse frame (one a second)


def _peaks(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """The larger comb score and coherent power of two runs of hum windows."""
    return max(a[0], b[0]), max(a[1], b[1])


def _cic_taps(d: int) -> np.ndarray:
    """The response of ``HUM_DEC_STAGES`` ``d``-sample boxcars in cascade (unit gain at DC), as ``(d, stages)``
    phases: column ``j`` weighs the samples of the group ``j`` groups before the output's last one (see
    ``_hum_feed``).

    One boxcar of ``d`` has its nulls on every multiple of the decimated rate, but only about 20 dB of rejection
    just beside them, where the comb's lines land once folded (a line at 240 Hz at a decimated rate of 2940 Hz
    comes from 2700 or 3180 Hz): the upper harmonics of a decaying note in a saturated synth folded onto 240.1 and
    180 Hz and made a 44.1 kHz copy of a clean song "hum" through the whole track, and two steady tones at 2700
    and 2760 Hz did so at any level. Five in cascade reject those bands by five times as much in dB (over 90 dB
    for the comb's lines) and cost the comb 1 dB at 360 Hz, as much at its neighbours.
    """
    box = np.ones(d) / d
    h = box
    for _ in range(HUM_DEC_STAGES - 1):
        h = np.convolve(h, box)  # stages * (d - 1) + 1 samples
    h = np.concatenate([h, np.zeros(HUM_DEC_STAGES * d - h.size)])
    i = np.arange(d)
    return np.stack([h[(j + 1) * d - 1 - i] for j in range(HUM_DEC_STAGES)], axis=1)


def _hum_decimation(sample_rate: int) -> int:
    """A boxcar factor that divides the rate and lands the decimated rate in 1.8-3 kHz, so 1 s frames are
    whole numbers of samples and the comb falls exactly on 1 Hz bins; other rates round (bins then sit
    within a fraction of a Hz of the comb)."""
    for d in range(max(1, sample_rate // 3000), sample_rate // 1800 + 1):
        if d and sample_rate % d == 0 and 1800 <= sample_rate / d <= 3000:
            return d
    return max(1, round(sample_rate / 2400))


class SpectralDetector:
    """Streaming detector for ``hum``, ``lossy_bandwidth`` and ``bit_depth``.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz (at least 8000).
    channels : int
        Channels of every block.
    bits_per_sample : int or None
        Width of the PCM container's samples; ``None`` (or 8 and below) skips the bit-depth check. Pass
        ``None`` for float containers.
    float_bits : int or None
        Width of a float container's samples (32 or 64), instead of ``bits_per_sample``: its samples are checked
        against the 24-bit grid of a float32 mantissa, so that 16-bit audio stored as float is reported (24-bit
        audio, or audio that a float process left off every grid, is not).
    hum_section_score : float
        Window score (sum of clipped line prominences, dB) above which a 5 s window holds hum.
    hum_stability_db : float
        Largest change of a line's floor between the two halves of a window.
    hum_merge_gap_s : float
        Hum sections of the same mains frequency closer than this are reported as one.
    lossy_step_db : float
        Smallest drop from the passband just under a cutoff to the highest level above it.
    hum_side : bool
        For a stereo pair, also listen for hum on the channels' difference (hum in anti-phase between them).

    Examples
    --------
    >>> import numpy as np
    >>> sr = 44100
    >>> t = np.arange(20 * sr) / sr
    >>> rng = np.random.default_rng(0)
    >>> hum = sum(0.01 / k * np.sin(2 * np.pi * 60 * k * t) for k in range(1, 4))  # -40 dBFS and harmonics
    >>> x = 0.05 * rng.standard_normal((2, t.size)) + hum
    >>> d = SpectralDetector(sr, 2)
    >>> d.process(x)
    >>> [(f.kind, f.value) for f in d.finish()]
    [('hum', 60.0)]
    """

    def __init__(self, sample_rate: int, channels: int, *, bits_per_sample: int | None = None,
                 hum_section_score: float = 26.0, hum_stability_db: float = 5.0,
                 hum_merge_gap_s: float = 3.0, lossy_step_db: float = 35.0, hum_side: bool = True,
                 float_bits: int | None = None):
        check_channels(channels)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
            raise ValueError(f"sample_rate {sample_rate!r} must be an integer number of Hz, at least 8000")
        if bits_per_sample is not None and (isinstance(bits_per_sample, bool)
                                            or not isinstance(bits_per_sample, (int, np.integer))
                                            or not 1 <= bits_per_sample <= 64):
            raise ValueError(f"bits_per_sample {bits_per_sample!r} must be an integer 1..64 or None")
        if float_bits is not None and (bits_per_sample is not None or float_bits not in (32, 64)):
            raise ValueError(f"float_bits {float_bits!r} must be 32 or 64, and only without bits_per_sample")
        for name, value in (("hum_section_score", hum_section_score),
                            ("hum_stability_db", hum_stability_db), ("lossy_step_db", lossy_step_db)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} {value!r} must be a positive number")
        if not (math.isfinite(hum_merge_gap_s) and hum_merge_gap_s >= 0):
            raise ValueError(f"hum_merge_gap_s {hum_merge_gap_s!r} must be zero or more seconds")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.bits_per_sample = None if bits_per_sample is None else int(bits_per_sample)
        self.float_bits = None if float_bits is None else int(float_bits)
        # the grid the samples are checked against: the container's, or a float sample's 24-bit mantissa
        self._grid_bits = FLOAT_GRID_BITS if float_bits is not None else self.bits_per_sample
        self.hum_section_score = float(hum_section_score)
        self.hum_stability_db = float(hum_stability_db)
        self.hum_merge_gap_s = float(hum_merge_gap_s)
        self.lossy_step_db = float(lossy_step_db)
        self._frames = 0  # samples per channel seen so far
        self._hum_only = False
        # a stereo pair is also listened to for hum on the channels' difference, where a hum in anti-phase between
        # them (a channel whose polarity was inverted after the hum got in) stands while it cancels in their sum:
        # a second detector, fed the left channel and the inverted right one, whose hum findings alone are used
        self._side = None
        if hum_side and self.channels == 2:
            self._side = SpectralDetector(self.sample_rate, 2, hum_section_score=hum_section_score + HUM_SIDE_EXTRA_DB,
                                          hum_stability_db=hum_stability_db, hum_merge_gap_s=hum_merge_gap_s,
                                          hum_side=False)
            self._side._hum_only = True

        # hum: decimated channel mean, 1 s frames every half second
        sr = self.sample_rate
        self._dec = _hum_decimation(sr)
        self._dec_rate = sr / self._dec
        self._hum_n = round(HUM_FRAME_S * self._dec_rate)
        self._hum_hop = self._hum_n // 2
        self._hum_bin_hz = self._dec_rate / self._hum_n
        self._hum_window = np.hanning(self._hum_n + 2)[1:-1]
        lo_hz, hi_hz = HUM_RING_HZ
        lo, hi = round(lo_hz / self._hum_bin_hz), round(hi_hz / self._hum_bin_hz)
        # only the bins of the two combs and their rings are kept: indices below are into that subset
        wanted = {}
        for base in HUM_BASES_HZ:
            centres = [round(k * base / self._hum_bin_hz) for k in range(1, HUM_HARMONICS + 1)]
            wanted[base] = (centres, [np.r_[c - hi : c - lo + 1, c + lo : c + hi + 1] for c in centres])
        near = HUM_NEAR_BINS
        used = sorted({int(b) for cs, rings in wanted.values() for c, r in zip(cs, rings)
                       for b in (*r, c - 1, c, c + 1, *(c + o for o in range(-near[1], near[1] + 1)))})
        self._hum_keep = np.array(used)
        where = {b: i for i, b in enumerate(used)}
        self._comb = {}
        offsets = [o for o in range(-near[1], near[1] + 1) if abs(o) >= near[0]]
        for base, (centres, rings) in wanted.items():
            self._comb[base] = tuple(np.array([[where[int(b)] for b in row] for row in rows])
                                     for rows in ([[c] for c in centres], [[c - 1] for c in centres],
                                                  [[c + 1] for c in centres], rings,
                                                  [[c + o for o in offsets] for c in centres]))
        # the comb lines (both bases, harmonics in order) among the kept bins, and their bin numbers
        self._line_bins = np.array([c for base in HUM_BASES_HZ for c in wanted[base][0]])
        self._line_cols = np.array([where[int(c)] for c in self._line_bins])
        # the bins 2-4 Hz either side of each comb line (lines x offsets), kept per frame with the lines: a
        # beat looped sample-exactly is as coherent there as on a mains line (its comb's teeth are 1/period apart)
        self._near_bins = np.array([[c + o for o in offsets] for base in HUM_BASES_HZ for c in wanted[base][0]])
        self._near_cols = np.array([[where[int(b)] for b in row] for row in self._near_bins])
        # per mains frequency, its lines that are no harmonic of the other one (300 Hz is both's): the window
        # phasor test leaves the shared line out, or a strong hum of one would be heard on the other's comb
        harmonics = [np.arange(1, HUM_HARMONICS + 1) * base for base in HUM_BASES_HZ]
        self._own_lines = [~np.isin(mine, np.concatenate([o for i, o in enumerate(harmonics) if i != j]))
                           for j, mine in enumerate(harmonics)]
        # a sine of amplitude a gives |X| = a * sum(window) / 2 on its bin
        self._hum_near = 10.0 ** (HUM_NEAR_DB / 10.0)
        self._hum_beside = 10.0 ** (-HUM_BESIDE_DB / 10.0)
        self._hum_min_power = (10.0 ** (HUM_MIN_DBFS / 20.0) * self._hum_window.sum() / 2.0) ** 2
        # boxcars in cascade (a CIC filter): each group of ``d`` samples is weighed by every phase of the
        # cascade's response, one per output it feeds (see _hum_feed)
        k = HUM_DEC_STAGES
        self._dec_taps = _cic_taps(self._dec) / self.channels
        self._dec_carry_sum = np.zeros((self.channels, k))
        self._dec_carry_n = 0
        self._dec_last = np.zeros((self.channels, k - 1, k))  # the products of the groups before the next one
        self._dec_skip = (k - 1) // 2  # outputs still to drop: those of the groups before the stream
        # the last HUM_RING_S of each channel's decimated signal (times channels: the mean is their sum), for
        # placing section edges; a ring, so memory does not grow with the file
        self._ring_n = round(HUM_RING_S * self._dec_rate)
        self._ring = np.zeros((self.channels, self._ring_n))
        self._ring_total = 0  # decimated samples written so far
        self._edges = {}  # (base, window index, "on"/"off") -> edge time in s
        self._pending_edges = []  # edges whose search region is not complete yet
        self._hum_prev_hit = {base: False for base in HUM_BASES_HZ}
        self._hum_heard = {base: False for base in HUM_BASES_HZ}
        self._hum_window_count = 0
        self._hum_last_start = 0.0  # start of the last window scored, s
        self._dec_parts: list[np.ndarray] = [np.zeros(0)]  # the channel mean not yet cut into frames
        self._dec_new: list[list[np.ndarray]] = []  # each channel's decimated pieces since the last flush
        self._dec_pending = 0
        self._hum_history = np.zeros((0, self._hum_keep.size))  # the last frames, for windows across blocks
        self._hum_loud = 0.0  # the loudest frame so far: its windowed energy (of the decimated channel mean)
        self._hum_loud_history = np.zeros(0)  # per frame of _hum_history, the loudest energy up to it
        # a windowed energy E is a mean square r2 = E / sum(w ** 2), a sine of amplitude sqrt(2 r2) whose line
        # power is 2 r2 (sum(w) / 2) ** 2
        self._hum_line_per_energy = 2.0 * (self._hum_window.sum() / 2.0) ** 2 / float((self._hum_window ** 2).sum())
        self._hum_scores: list[np.ndarray] = []  # per scored window: score at 50 Hz, at 60 Hz
        self._hum_coh: list[np.ndarray] = []  # per scored window: steady coherent power at 50 Hz, at 60 Hz (or 0)
        self._coh_history = None  # the last frames' phasors, beside phasors, noise and silence, for windows
        self._hum_starts: list[np.ndarray] = []  # per scored window: index of its first frame
        self._hum_phasors: list[np.ndarray] = []  # per frame: complex spectrum on each comb line (12)
        self._hum_near_phasors: list[np.ndarray] = []  # per frame: ... and 2-4 Hz either side of each (12 x 6)
        self._hum_noise: list[np.ndarray] = []  # per frame: mean power 2-12 Hz either side of each comb line (12)
        self._hum_part_silent: list[np.ndarray] = []  # per frame: holds digital silence in part
        self._noise_cols = {base: np.concatenate([self._comb[base][3], self._comb[base][4]], axis=1)
                            for base in HUM_BASES_HZ}
        self._hum_frames_seen = 0

        # lossy bandwidth and bit depth: sparse short frames
        self._lossy_period = max(1, round(LOSSY_PERIOD_S * sr))
        self._lossy_n = min(1 << math.ceil(math.log2(LOSSY_FRAME_S * sr)), self._lossy_period)
        self._lossy_window = np.hanning(self._lossy_n + 2)[1:-1] / self.channels
        self._lossy_sum = np.zeros(self._lossy_n // 2 + 1)
        self._lossy_count = 0
        self._lossy_batch = np.empty((LOSSY_BATCH_FRAMES, self._lossy_n))
        self._lossy_batch_n = 0
        self._pending = np.zeros((self.channels, self._lossy_n))
        self._pending_fill = 0
        self._bits_active = self._grid_bits is not None and self._grid_bits > 8
        self._bits_or = 0
        self._bits_nonzero = 0

    # ------------------------------------------------------------------ streaming
    def process(self, block) -> None:
        """Feed the next block, shaped ``(channels, n)``."""
        _, block = as_block(block, self.channels)
        block = to_numpy(block)
        n = int(block.shape[1])
        if n == 0:
            return
        self._hum_feed(block)
        self._sparse_feed(block)
        self._frames += n
        if self._side is not None:
            self._side._frames += n

    def _hum_feed(self, block: np.ndarray) -> None:
        d, n = self._dec, block.shape[1]
        taps = self._dec_taps
        products = []  # per piece (channels, groups, stages): each group of d samples weighed by every tap phase
        off = 0
        if self._dec_carry_n:  # finish the group begun in an earlier block
            off = min(d - self._dec_carry_n, n)
            self._dec_carry_sum += block[:, :off] @ taps[self._dec_carry_n : self._dec_carry_n + off]
            self._dec_carry_n += off
            if self._dec_carry_n == d:
                products.append(self._dec_carry_sum[:, None, :])
                self._dec_carry_sum, self._dec_carry_n = np.zeros((self.channels, HUM_DEC_STAGES)), 0
        m = (n - off) // d
        if m:
            # rows of a C-ordered block are contiguous: each reshape is a view and the product a BLAS call
            products.append(np.stack([block[ch, off : off + m * d].reshape(m, d) @ taps
                                      for ch in range(self.channels)]))
            off += m * d
        if off < n:
            self._dec_carry_sum += block[:, off:] @ taps[:n - off]
            self._dec_carry_n += n - off
        if not products:
            return
        # the output centred on group g sums, for j = 0 .. k - 1, phase j of group g + (k - 1) / 2 - j: it lags
        # the groups by (k - 1) / 2 and lands where a plain boxcar's mean of group g would (to (k - 1) / 2
        # samples), so every time derived from the decimated stream is as before
        k = HUM_DEC_STAGES
        allp = np.concatenate([self._dec_last, *products], axis=1)
        m = allp.shape[1] - (k - 1)
        out = sum(allp[:, k - 1 - j : k - 1 - j + m, j] for j in range(k))
        self._dec_last = allp[:, m:, :]
        drop = min(self._dec_skip, m)
        self._dec_skip -= drop
        out = out[:, drop:]
        dec = [list(out)] if out.shape[1] else []
        self._hum_take(dec)
        if self._side is not None:  # decimation is linear: the difference's is the difference of the channels'
            self._side._hum_take([[chans[0], -chans[1]] for chans in dec])

    def _hum_take(self, dec: list) -> None:
        """Queue decimated pieces (per piece, each channel's samples) and analyse them once enough have come."""
        self._dec_new.extend(dec)  # into the ring and the channel mean at the next flush, all at once
        self._dec_pending += sum(chans[0].size for chans in dec)
        # frames are analysed in batches of about HUM_BATCH_FRAMES: NumPy's per-call cost then hardly counts
        if self._dec_pending >= HUM_BATCH_FRAMES * self._hum_hop + self._hum_n:
            self._hum_flush()

    def _ring_write(self, fresh: np.ndarray) -> None:
        size, total = self._ring_n, fresh.shape[1]
        keep = min(total, size)
        at = (self._ring_total + total - keep) % size
        first = min(keep, size - at)
        part = fresh[:, total - keep :]
        self._ring[:, at : at + first] = part[:, :first]
        self._ring[:, : keep - first] = part[:, first:]
        self._ring_total += total

    def _ring_read(self, start: int, stop: int) -> np.ndarray | None:
        """Decimated samples ``start .. stop`` (stream indices) of every channel, or None when gone."""
        if start < max(0, self._ring_total - self._ring_n) or stop > self._ring_total or stop <= start:
            return None
        idx = np.arange(start, stop) % self._ring_n
        return self._ring[:, idx]

    def _hum_flush(self) -> None:
        """Analyse every complete frame of the decimated signal gathered so far."""
        if self._dec_new:
            fresh = np.array([np.concatenate([chans[ch] for chans in self._dec_new])
                              for ch in range(self.channels)])
            self._dec_new = []
            self._ring_write(fresh)
            self._dec_parts.append(fresh.sum(axis=0))
        buf = np.concatenate(self._dec_parts) if len(self._dec_parts) > 1 else self._dec_parts[0]
        size, hop = self._hum_n, self._hum_hop
        if buf.size < size:
            self._dec_parts, self._dec_pending = [buf], buf.size
            return
        count = (buf.size - size) // hop + 1
        if size == 2 * hop:  # frames at even and odd half-frame offsets are plain reshapes, no gather
            even = buf[: (count + 1) // 2 * size].reshape(-1, size)
            odd = buf[hop : hop + count // 2 * size].reshape(-1, size)
            frames = np.empty((count, size))
            np.multiply(even, self._hum_window, out=frames[0::2])
            np.multiply(odd, self._hum_window, out=frames[1::2])
        else:
            frames = buf[np.arange(count)[:, None] * hop + np.arange(size)] * self._hum_window
        spectra = np.fft.rfft(frames, axis=1)[:, self._hum_keep]
        # the comb lines' phasors (each relative to its frame's start; turned to one time origin when used)
        self._hum_phasors.append(spectra[:, self._line_cols].astype(np.complex64))
        self._hum_near_phasors.append(spectra[:, self._near_cols].astype(np.complex64))
        # frames that hold some digital silence (a head of zeros put in front later, an edit to zeros): exact zeros
        # of the decimated channel sum, which music does not give (the Hann window has no zero inside)
        self._hum_part_silent.append((frames == 0.0).mean(axis=1) >= HUM_PART_SILENT)
        rest = buf[count * hop :].copy()
        self._dec_parts, self._dec_pending = [rest], rest.size
        power = spectra.real**2 + spectra.imag**2
        # the music's power next to each comb line in each frame (2-12 Hz away, where an on-bin hum leaves
        # nothing through the Hann window): how much a frame's phasor on that line can be trusted
        self._hum_noise.append(np.concatenate(
            [power[:, self._noise_cols[base]].mean(axis=-1) for base in HUM_BASES_HZ], axis=1).astype(np.float32))
        # the windowed energy of the loudest frame up to each frame, for the line floor (_hum_least)
        loud = np.maximum.accumulate(np.concatenate([[self._hum_loud], (frames * frames).sum(axis=1)]))[1:]
        self._hum_loud = float(loud[-1])
        self._hum_windows(power, loud, (self._hum_phasors[-1], self._hum_near_phasors[-1], self._hum_noise[-1],
                                        self._hum_part_silent[-1]))

    def _hum_windows(self, power: np.ndarray, loud: np.ndarray, lines: tuple) -> None:
        """Score the windows that the new frames ``power`` (frames, bins) complete, one every
        ``HUM_WINDOW_STEP`` frames (counted from the start of the stream); ``loud`` holds, per new frame, the
        windowed energy of the loudest frame up to it."""
        kept = self._hum_history.shape[0]
        frames = np.concatenate([self._hum_history, power]) if kept else power
        loud = np.concatenate([self._hum_loud_history, loud]) if kept else loud
        if kept:
            lines = tuple(np.concatenate([old, new]) for old, new in zip(self._coh_history, lines))
        first_frame = self._hum_frames_seen - kept  # stream index of frames[0]
        self._hum_frames_seen += power.shape[0]
        w = HUM_WINDOW_FRAMES
        self._hum_history = frames[-(w - 1) :].copy()
        self._hum_loud_history = loud[-(w - 1) :].copy()
        self._coh_history = tuple(a[-(w - 1) :].copy() for a in lines)
        if frames.shape[0] < w:
            return
        starts = np.arange(first_frame, first_frame + frames.shape[0] - w + 1)
        pick = np.flatnonzero(starts % HUM_WINDOW_STEP == 0)
        if not pick.size:
            return
        view = np.lib.stride_tricks.sliding_window_view(frames, w, axis=0)[pick]  # (windows, bins, w)
        floor = np.partition(view, HUM_FLOOR_RANK, axis=2)[:, :, HUM_FLOOR_RANK]
        half = w // 2
        early = view[:, :, :half].min(axis=2)
        late = view[:, :, -half:].min(axis=2)
        least = self._hum_least(loud[pick + w - 1, None])  # against the loudest frame up to the window's end
        scores = np.stack([self._comb_score(floor, base, early, late, least) for base in HUM_BASES_HZ], axis=1)
        coherent = self._window_coherence(first_frame, lines, starts[pick] - first_frame, least)
        self._hum_scores.append(scores)
        self._hum_coh.append(coherent)
        self._hum_starts.append(starts[pick])
        self._hum_note_edges(scores, coherent, starts[pick])

    def _hum_least(self, loud: float | np.ndarray) -> float | np.ndarray:
        """The least line power a comb line needs to count where the loudest frame so far has the windowed energy
        ``loud``: ``HUM_BELOW_MUSIC_DB`` under a sine that loud (a reverb tail's last partials, -95 dBFS under
        music at -10 dBFS, hold steady where everything else has decayed, and are no mains hum worth a finding)."""
        return loud * self._hum_line_per_energy * 10.0 ** (-HUM_BELOW_MUSIC_DB / 10.0)

    def _window_coherence(self, first_frame: int, lines: tuple, at: np.ndarray, least: np.ndarray) -> np.ndarray:
        """Per window (first frames ``at``, indices into ``lines``) and mains frequency, the coherent power of the
        comb over its nine frames, or 0 where the hum it measures does not hold through the window.

        A hum section under a busy low end stays out of a window's floor spectrum, yet its phasors add up over
        the window while the music's do not. As for a whole track (:meth:`_hum_coherent`): each frame's phasor on
        each line weighs by the inverse of the music's power beside the line, the mains drift is searched (up to
        ``HUM_DRIFT_HZ``, 0.01 Hz steps), the power is in units of the music's power near the lines, and a line
        counts only where it gathers ``HUM_COHERENT_NEAR_DB`` more than the most coherent of the bins 2-4 Hz
        beside it (a looped beat's teeth; each searched for a drift of up to ``HUM_COHERENT_NEAR_HZ``). Every
        frame must hold the hum's phasor within ``HUM_COHERENT_STEADY`` standard errors (a bass note on a line
        comes and goes), and each half of the window measure its share to ``HUM_WINDOW_HALF_SE`` or better.
        ``lines``: (comb phasors, beside phasors, music power beside the lines, part-silent) per frame; ``least``:
        per window (a column), the line power a line's hum must reach (:meth:`_hum_least`).
        """
        phasors, near, noise, silent = lines
        w, h = HUM_WINDOW_FRAMES, HUM_HARMONICS
        out = np.zeros((at.size, len(HUM_BASES_HZ)))
        if not at.size:
            return out
        frames = phasors.shape[0]
        index = first_frame + np.arange(frames)
        frame_s = self._hum_hop / self._dec_rate
        of_all = at[:, None] + np.arange(w)  # (windows, frames)
        k = np.arange(1, h + 1)
        phase = np.outer(np.arange(frames) * frame_s, k)  # a turn common to a window changes no power
        drifts = np.arange(-HUM_DRIFT_HZ, HUM_DRIFT_HZ + 1e-9, HUM_DRIFT_STEP_HZ)
        size = HUM_WINDOW_NEAR_FFT
        reach = int(HUM_COHERENT_NEAR_HZ * frame_s * size)
        bins = np.r_[0 : reach + 1, size - reach : size]
        halves = np.array_split(np.arange(w), 2)
        for j in range(len(HUM_BASES_HZ)):
            cols = slice(j * h, (j + 1) * h)
            z, _, inv = self._weighted_lines(j, phasors, noise, silent, first_frame)
            weight = np.maximum(inv[of_all].sum(axis=1), 1e-300)  # (windows, lines)
            wz = (inv * z)[of_all]  # (windows, frames, lines)
            # no drift turns the phasors to add up to more than their magnitudes do: most windows of music stop here
            live = np.flatnonzero((np.abs(wz).sum(axis=1) ** 2 / weight).sum(axis=1) >= HUM_WINDOW_COHERENT)
            if not live.size:
                continue
            of, wz, weight = of_all[live], wz[live], weight[live]
            # every drift at once, a few dozen windows at a time (a whole file fed as one block stays small)
            best_sum = np.empty((live.size, h), dtype=complex)
            best_drift = np.empty(live.size)
            for c in range(0, live.size, 64):
                part = slice(c, c + 64)
                f0, f1 = int(of[part].min()), int(of[part].max()) + 1
                turns = np.exp(-2j * np.pi * drifts[:, None, None] * phase[f0:f1])  # (drifts, frames, lines)
                sums = np.einsum("dwfl,wfl->dwl", turns[:, of[part] - f0], wz[part])  # (drifts, windows, lines)
                pick = np.argmax((np.abs(sums) ** 2 / weight[part]).sum(axis=2), axis=0)
                best_sum[part] = sums[pick, np.arange(pick.size)]
                best_drift[part] = drifts[pick]
            line = np.abs(best_sum) ** 2 / weight
            beside_turn = (np.multiply.outer(index, self._near_bins[cols]) * self._hum_hop / self._hum_n) % 1.0
            beside = near[:, cols].astype(np.complex128) * np.exp(-2j * np.pi * beside_turn) * inv[:, :, None]
            spectrum = np.fft.fft(beside[of], n=size, axis=1)[:, bins]  # (windows, bins, lines, offsets)
            near_power = (np.abs(spectrum) ** 2).max(axis=(1, 3)) / weight
            counts = (line >= near_power * 10.0 ** (HUM_COHERENT_NEAR_DB / 10.0)) & self._own_lines[j]
            counts &= np.abs(best_sum / weight) ** 2 > least[live]  # the hum's level on each line, against the music
            power = (line * counts).sum(axis=1)
            ref = np.where(counts, best_sum / weight, 0.0)
            turned = z[of] * np.exp(-2j * np.pi * best_drift[:, None, None] * phase[of])  # (windows, frames, lines)
            # the share of the phasor each frame holds, and how precisely the frame measures it (the share's
            # standard error is about 1 / sqrt(norm))
            wi = inv[of]
            frame_norm = (np.abs(ref[:, None, :]) ** 2 * wi).sum(axis=2)
            got = (np.conj(ref[:, None, :]) * turned * wi).real.sum(axis=2)
            share = np.divide(got, frame_norm, out=np.zeros_like(frame_norm), where=frame_norm > 0)
            held = (np.abs(share - 1.0) * np.sqrt(frame_norm)).max(axis=1) <= HUM_COHERENT_STEADY
            for half in halves:
                held &= frame_norm[:, half].sum(axis=1) * HUM_WINDOW_HALF_SE**2 >= 1.0
            out[live, j] = np.where(held, power, 0.0)
        return out

    def _window_hits(self, scores: np.ndarray, coherent: np.ndarray) -> np.ndarray:
        """Which windows hold hum, per mains frequency (windows, 2): the stronger comb where a floor spectrum
        reaches ``hum_section_score``; elsewhere the more coherent comb where it reaches ``HUM_WINDOW_COHERENT``."""
        rows = np.arange(len(scores))
        hits = np.zeros(scores.shape, dtype=bool)
        winner = np.argmax(scores, axis=1)
        hits[rows, winner] = scores[rows, winner] >= self.hum_section_score
        loud = np.argmax(coherent, axis=1)
        by_phasor = np.zeros_like(hits)
        by_phasor[rows, loud] = coherent[rows, loud] >= HUM_WINDOW_COHERENT
        return np.where(hits.any(axis=1)[:, None], hits, by_phasor)

    # ------------------------------------------------------------------ hum section edges
    def _hum_note_edges(self, scores: np.ndarray, coherent: np.ndarray, starts: np.ndarray) -> None:
        """Queue the search for the edges of the hum sections that the new windows begin or end.

        A section's windows locate it only to about a second; its edges are placed later, to a few
        milliseconds where the hum is strong enough, by :meth:`_edge_s` on the decimated audio in the ring.
        """
        hits = self._window_hits(scores, coherent)
        step_s = HUM_WINDOW_STEP * self._hum_hop * self._dec / self.sample_rate
        span_s = (HUM_WINDOW_FRAMES - 1) * self._hum_hop * self._dec / self.sample_rate + HUM_FRAME_S
        rate = self._dec_rate
        for j, base in enumerate(HUM_BASES_HZ):
            hit = hits[:, j]
            if not self._hum_prev_hit[base] and not hit.any():  # the usual case: no hum, no edge
                continue
            self._hum_heard[base] = True
            before = np.r_[self._hum_prev_hit[base], hit[:-1]]
            for i in np.flatnonzero(hit != before):
                w = self._hum_window_count + int(i)
                t0 = self._window_span_s(int(starts[i]))[0]
                if hit[i]:  # window w is the first of a run: the onset lies near its start
                    lo, hi = t0 - HUM_EDGE_BEFORE_S, t0 + HUM_EDGE_AFTER_S
                    edge = (base, w, "on", lo, t0 + span_s, lo, hi)
                    self._pending_edges.append(tuple(edge[:3]) + tuple(max(0, round(v * rate)) for v in edge[3:]))
                else:  # window w - 1 is the last of a run: the hum stops near its end
                    self._queue_offset(base, w - 1, t0 - step_s)
            self._hum_prev_hit[base] = bool(hit[-1])
        self._hum_last_start = self._window_span_s(int(starts[-1]))[0]
        self._hum_window_count += len(scores)
        self._hum_resolve_edges(final=False)

    def _queue_offset(self, base: int, w: int, start_s: float) -> None:
        """Queue the search for where hum at ``base`` Hz stops after window ``w`` (which starts at ``start_s``)."""
        end = start_s + (HUM_WINDOW_FRAMES - 1) * self._hum_hop * self._dec / self.sample_rate + HUM_FRAME_S
        lo, hi = end - HUM_EDGE_AFTER_S, end + HUM_EDGE_BEFORE_S
        self._pending_edges.append((base, w, "off") + tuple(max(0, round(v * self._dec_rate))
                                                            for v in (start_s, hi, lo, hi)))

    def _hum_resolve_edges(self, *, final: bool) -> None:
        keep = []
        for edge in self._pending_edges:
            base, w, kind, a, b, lo, hi = edge
            if b > self._ring_total and not final:
                keep.append(edge)
                continue
            at_end = final and b >= self._ring_total  # the region runs to the end of the stream
            b = min(b, self._ring_total)
            x = self._ring_read(a, b)
            self._edges[(base, w, kind)] = (None if x is None else
                                            self._edge_s(x, a, base, kind == "on", lo, hi, at_end=at_end))
        self._pending_edges = keep

    def _edge_s(self, x: np.ndarray, first: int, base: int, onset: bool, lo: int, hi: int, *,
                at_end: bool = False) -> float | None:
        """Where hum at ``base`` Hz starts (``onset``) or stops within the decimated samples ``lo .. hi``.

        ``x`` holds every channel from decimated sample ``first``. The part of it that the hum windows vouch for
        (from 1 s into the first hum window to the region's end for an onset, from the region's start to 1 s
        before the last window's end for an offset) gives the hum's phasor on each comb line; the mains drift
        is found there first. Each channel and their sum are brought to baseband at every harmonic and low-passed
        (a centred 40 ms mean, sampled every 5 ms). With the music near each line as complex noise whose power
        changes with time (the baseband's departure from its 1 s mean, over 0.1 s), the log-likelihood that the hum
        is there from (up to) each candidate edge is, line by line, ``|sum(z / power)|^2 / sum(1 / power)`` over that
        stretch (the hum's phasor fitted to it): a sample where the music near the line is quiet counts for much,
        one under a loud bass note for little. Summed over the lines and the channels (each channel one observation
        of the edge: a low end put out of phase cancels the hum in the sum, not in one channel; the channel sum for
        a mono file), its maximum places the edge.
        With ``at_end`` (the region ends where the stream does), an offset whose likelihood still rises at the
        region's end is the end of the stream: the hum lasts to the end.
        """
        n = x.shape[1]
        rate = self._dec_rate
        hop = max(1, round(HUM_EDGE_HOP_S * rate))
        if n < 2 * round(rate):
            return None
        if onset:
            t0 = hi - round(HUM_EDGE_AFTER_S * rate)  # the first hum window's start
            sure = (t0 + round(HUM_EDGE_SURE_S * rate) - first, n)
        else:
            end = lo + round(HUM_EDGE_AFTER_S * rate)  # the last hum window's end
            sure = (0, end - round(HUM_EDGE_SURE_S * rate) - first)
        sure = (max(sure[0], 0) // hop, min(sure[1], n) // hop)
        if sure[1] - sure[0] < round(HUM_EDGE_SURE_MIN_S * rate / hop):
            return None
        # a DC offset, brought to each line's baseband, is a fast-turning phasor that a weak hum drowns in
        x = x - x.mean(axis=1, keepdims=True)
        # a harmonic shared with the other mains frequency (300 Hz is 6 x 50 and 5 x 60) belongs to either hum:
        # left out when the other one has been heard in this track
        k = np.array([h for h in range(1, HUM_HARMONICS + 1)
                      if not any((h * base) % other == 0 and self._hum_heard[other]
                                 for other in HUM_BASES_HZ if other != base)])[:, None]
        carrier = np.exp(-2j * np.pi * ((k * (base / rate)) * (first + np.arange(n)) % 1.0))  # (harmonics, n)
        sets = [x.sum(axis=0)] + ([x[ch] for ch in range(self.channels)] if self.channels > 1 else [])
        idx = np.arange(0, n, hop)
        smooth = max(1, round(HUM_EDGE_LOWPASS_S * rate))
        based = [uniform_filter1d(carrier * sig, smooth, axis=-1, mode="nearest")[:, idx] for sig in sets]
        # real mains runs a little off nominal, and over a region of seconds even 0.05 Hz turns the phasor (k
        # times that on harmonic k): the drift that gathers the most hum power where the hum surely is, kept only
        # when it gathers clearly more than nominal (a search over many drifts always gains a little)
        zs = based[0][:, sure[0] : sure[1]]
        when = idx[sure[0] : sure[1]] / rate
        weight = 1.0 / (np.mean(np.abs(zs) ** 2, axis=1) + 1e-300)
        drifts = np.arange(-HUM_EDGE_DRIFT_HZ, HUM_EDGE_DRIFT_HZ + 1e-9, HUM_DRIFT_STEP_HZ)
        turn = np.exp(-2j * np.pi * drifts[:, None, None] * k[None, :, :] * when[None, None, :])
        gathered = (np.abs((turn * zs[None]).mean(axis=2)) ** 2 * weight).sum(axis=1)
        best_drift, nominal = int(np.argmax(gathered)), int(np.argmin(np.abs(drifts)))
        if gathered[best_drift] > gathered[nominal] * HUM_EDGE_DRIFT_GAIN:
            back = np.exp(-2j * np.pi * drifts[best_drift] * k * (idx / rate))
            based = [z * back for z in based]
        c_lo = min(max(0, (lo - first) // hop), idx.size - 1)
        c_hi = max(c_lo + 1, min(-(-(hi - first) // hop), idx.size))
        window = max(1, round(HUM_EDGE_POWER_S * rate / hop))
        music_span = max(1, round(HUM_EDGE_STEADY_S * rate / hop))
        # each channel is an observation of the same edge (the channel sum of a mono file), with phasors of its own:
        # a low end put out of phase cancels the hum in the channel sum, not in a channel
        llr = np.zeros(idx.size)
        for z in based[1:] or based:
            h = z[:, sure[0] : sure[1]].mean(axis=1)
            floor = 1e-3 * np.abs(h)[:, None] ** 2 + 1e-300
            # the music's power near each line: how far the baseband strays from its own mean over the surrounding
            # second (a hum is steady there, music is not), over 0.1 s; it does not depend on the hum's phasor, which
            # the likelihood below fits for itself
            dev = z - uniform_filter1d(z, music_span, axis=-1, mode="nearest")
            power = np.maximum(uniform_filter1d(np.abs(dev) ** 2, window, axis=-1, mode="nearest"), floor)
            # likelihood of hum from j to the region's far end (onset) or from its start to j (offset), each line's
            # phasor fitted to that stretch (a generalised likelihood ratio): the phasor of the part the windows
            # vouch for also holds whatever steady music sits on a line there, and held against a stretch without
            # that music such a line counted the hum before it as absent
            zw, w = z / power, 1.0 / power
            if onset:
                zw, w = np.cumsum(zw[:, ::-1], axis=1)[:, ::-1], np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
            else:
                zw = np.concatenate([np.zeros((zw.shape[0], 1), zw.dtype), np.cumsum(zw, axis=1)[:, :-1]], axis=1)
                w = np.concatenate([np.full((w.shape[0], 1), 1e-300), np.cumsum(w, axis=1)[:, :-1]], axis=1)
            llr += (np.abs(zw) ** 2 / w).sum(axis=0)
        at = c_lo + int(np.argmax(llr[c_lo:c_hi]))
        if at_end and not onset and (c_hi - 1 - at) * hop <= smooth:
            return self._frames / self.sample_rate  # the hum lasts to the end of the stream
        if abs(at - (c_hi - 1 if onset else c_lo)) * hop <= smooth:
            # the likelihood still rises at the end of the search next to the part the windows vouch for (within
            # the 40 ms the baseband is smoothed over): it follows the music there, not an edge of the hum, and
            # the windows' own edge is used instead
            return None
        return (first + int(idx[at])) * self._dec / self.sample_rate

    def _comb_prominence_db(self, floor: np.ndarray, base: int, first=None, second=None, least=None) -> np.ndarray:
        """Prominence (dB; 0 where the line does not count) of each comb line in floor spectra ``(..., bins)``;
        a line must also reach ``least`` (line power, broadcast against the lines) where given."""
        centres, left, right, ring, near = (a[:, 0] if a.shape[1] == 1 else a for a in self._comb[base])
        line = floor[..., centres]
        around = np.partition(floor[..., ring], (ring.shape[1] // 2 - 1, ring.shape[1] // 2), axis=-1)
        background = 0.5 * (around[..., ring.shape[1] // 2 - 1] + around[..., ring.shape[1] // 2])  # median
        counts = (line >= floor[..., left]) & (line >= floor[..., right]) & (line > self._hum_min_power)
        if least is not None:
            counts &= line > least
        # a beat looped sample-exactly is a comb of steady lines every 1/period Hz, one of which can sit on a
        # mains line (125 BPM: every 2.08 Hz, 50 Hz included); hum stands alone among its neighbours
        # (teeth on both sides; a sustained note beside a hum line is on one side only)
        beside = floor[..., near]
        half = near.shape[-1] // 2
        low, high = beside[..., :half].max(axis=-1), beside[..., half:].max(axis=-1)
        counts &= (line >= np.minimum(low, high) * self._hum_near) & (line >= np.maximum(low, high) * self._hum_beside)
        with np.errstate(divide="ignore", invalid="ignore"):
            if first is not None:
                counts &= np.abs(10.0 * np.log10(first[..., centres] / second[..., centres])) <= self.hum_stability_db
            prom = 10.0 * np.log10(line / background)
        return np.where(counts & np.isfinite(prom), prom, 0.0)

    def _comb_score(self, floor, base, first=None, second=None, least=None):
        """Sum over the comb of the line prominences clipped to 0..15 dB, per floor spectrum."""
        return np.clip(self._comb_prominence_db(floor, base, first, second, least), 0.0, 15.0).sum(axis=-1)

    def _sparse_feed(self, block: np.ndarray) -> None:
        n = block.shape[1]
        pos0 = self._frames
        length, period = self._lossy_n, self._lossy_period
        used = 0
        if self._pending_fill:  # a frame begun in an earlier block
            used = min(length - self._pending_fill, n)
            self._pending[:, self._pending_fill : self._pending_fill + used] = block[:, :used]
            self._pending_fill += used
            if self._pending_fill == length:
                self._sparse_frame(self._pending)
                self._pending_fill = 0
        first = -(-pos0 // period) * period  # first frame start at or after this block
        starts = np.arange(first, pos0 + n, period) - pos0
        for s in starts:
            s = int(s)
            if s + length <= n:
                self._sparse_frame(block[:, s : s + length])
            else:  # the frame runs past this block
                self._pending[:, : n - s] = block[:, s:]
                self._pending_fill = n - s

    def _sparse_frame(self, frame: np.ndarray) -> None:
        """One ``(channels, length)`` frame: long-term spectrum and bit-depth evidence."""
        mono = self._lossy_batch[self._lossy_batch_n]
        np.copyto(mono, frame[0])
        for ch in range(1, self.channels):
            mono += frame[ch]
        mono *= self._lossy_window  # the window carries the 1/channels of the mean
        self._lossy_batch_n += 1
        if self._lossy_batch_n == LOSSY_BATCH_FRAMES:
            self._lossy_flush()
        if self._bits_active:
            scaled = frame[:, :BIT_DEPTH_FRAME_SAMPLES] * float(2 ** (self._grid_bits - 1))
            ints = np.rint(scaled)
            if np.any(np.abs(scaled - ints) > 1e-6):  # not on the container's grid: float data
                self._bits_active = False
                self._bits_or = 1
                return
            mags = np.abs(ints).astype(np.int64)
            mags = mags[mags != 0]
            self._bits_nonzero += int(mags.size)
            if mags.size:
                self._bits_or |= int(np.bitwise_or.reduce(mags))
            if self._bits_or & 1:  # the last bit is in use: full depth, nothing more to learn
                self._bits_active = False

    def _lossy_flush(self) -> None:
        """Add the batched frames' power spectra to the long-term sum (one FFT call for the batch)."""
        if self._lossy_batch_n:
            spectra = np.fft.rfft(self._lossy_batch[: self._lossy_batch_n], axis=1)
            self._lossy_sum += (spectra.real**2 + spectra.imag**2).sum(axis=0)
            self._lossy_count += self._lossy_batch_n
            self._lossy_batch_n = 0

    # ------------------------------------------------------------------ results
    def finish(self) -> list[Detection]:
        """Findings for everything fed so far (whole-track findings span ``0 .. duration``)."""
        duration = self._frames / self.sample_rate
        if self._dec_pending:
            self._hum_flush()
        for base in HUM_BASES_HZ:
            last = (base, self._hum_window_count - 1, "off")
            if self._hum_prev_hit[base] and last not in self._edges and not any(e[:3] == last for e in self._pending_edges):
                # a run of hum windows that lasts to the end of the stream: where the hum stops is searched too
                # (it may stop in the last window; or not, and the search then places it at the end)
                self._queue_offset(base, self._hum_window_count - 1, self._hum_last_start)
        self._hum_resolve_edges(final=True)
        found = self._hum_findings(duration)
        if self._hum_only:
            return found
        if self._side is not None:
            found = self._with_side_hum(found, [d for d in self._side.finish() if d.kind == "hum"])
        self._lossy_flush()
        lossy = self._lossy_finding(duration)
        if lossy is not None:
            found.append(lossy)
        bits = self._bit_depth_finding(duration)
        if bits is not None:
            found.append(bits)
        return found

    @staticmethod
    def _with_side_hum(found: list[Detection], side: list[Detection]) -> list[Detection]:
        """The hum findings of the channel sum, and those of the channels' difference that no finding of the sum
        overlaps: a hum in one channel only stands in both (6 dB down in each) and is reported once, as the sum
        heard it."""
        extra = [replace(d, detail=d.detail.replace("mains hum", "mains hum in anti-phase between the channels (it "
                                                    "cancels in their sum)", 1))
                 for d in side if not any(f.start_s <= d.end_s and d.start_s <= f.end_s for f in found)]
        return sorted(found + extra, key=lambda d: d.start_s)

    def _window_span_s(self, first_frame: int) -> tuple[float, float]:
        scale = self._dec / self.sample_rate
        start = first_frame * self._hum_hop * scale
        end = (first_frame * self._hum_hop + (HUM_WINDOW_FRAMES - 1) * self._hum_hop + self._hum_n) * scale
        return start, end

    def _hum_findings(self, duration: float) -> list[Detection]:
        if not self._hum_scores:
            return []
        scores = np.concatenate(self._hum_scores)  # (windows, 2)
        coherent = np.concatenate(self._hum_coh)
        starts = np.concatenate(self._hum_starts)
        winner = np.argmax(scores, axis=1)
        top = scores[np.arange(len(scores)), winner]
        both = self._window_hits(scores, coherent)
        hits = {base: both[:, j] for j, base in enumerate(HUM_BASES_HZ)}
        heard = [base for base in HUM_BASES_HZ if hits[base].any()]
        sections = {}
        for j, base in enumerate(HUM_BASES_HZ):
            if base not in heard:
                continue
            runs = []
            for i in np.flatnonzero(hits[base]):
                s, e = self._window_span_s(int(starts[i]))
                # the run's strongest comb score (dB) and coherent power of the windows heard by their phasors
                peak = (float(scores[i, j]), float(coherent[i, j]) if scores[i, j] < self.hum_section_score else 0.0)
                if runs and s - runs[-1][1] <= self.hum_merge_gap_s:
                    runs[-1][1], runs[-1][3] = e, int(i)
                    runs[-1][4] = _peaks(runs[-1][4], peak)
                else:
                    runs.append([s, e, int(i), int(i), peak])
            sections[base] = []
            for s, e, first, last, peak in runs:
                on = self._edges.get((base, first, "on"))
                off = self._edges.get((base, last, "off"))
                if on is not None and off is not None and off <= on:
                    on = off = None  # edges that cross each other place nothing: the windows' span stands
                placed = on is not None and off is not None
                s = s if on is None else on
                e = e if off is None else off
                section = (s, min(max(e, s), duration), peak, placed)
                prev = sections[base][-1] if sections[base] else None
                if prev is not None and section[0] - prev[1] <= self.hum_merge_gap_s:
                    # runs of windows more than the merge gap apart whose edges, once placed, come closer (or
                    # overlap: an onset search reaches back into the run before) are one section, as runs closer
                    # than the gap are
                    section = (prev[0], max(prev[1], section[1]), _peaks(prev[2], peak), prev[3] and placed)
                    sections[base][-1] = section
                else:
                    sections[base].append(section)
        # hum through the whole track: the comb's phasors, heard in the sections, hold elsewhere (masking by
        # louder music adds power but does not turn the phasor away)
        whole = {}
        for j, base in enumerate(HUM_BASES_HZ):
            if base in sections:
                whole[base] = self._hum_held(j, hits[base], starts, sections[base])
        # one 5 s window gives a loose phasor: hum heard there alone whose phasor "holds" at more than twice its
        # level elsewhere is something louder and coherent in the music, not the same hum going on (a saturated
        # pop song on seed 19: one window at 28 dB, 263 %; whole-track hums on the kept corpora that held over
        # 200 % were heard in two windows or more)
        held = [b for b in heard if whole[b][0] and (hits[b].sum() > 1 or whole[b][1] <= HUM_TRACK_ONE_WINDOW_MAX)]
        if not heard and not self._hum_only:
            # a weak hum under the music of a whole track reaches a section's score nowhere, but two comb lines
            # or more stand out in several windows and its phasor holds through the rest of the track (one such
            # window alone is a dance loop's tooth often enough: a section needs the full score)
            for j, base in enumerate(HUM_BASES_HZ):
                weak = (winner == j) & (top >= HUM_WEAK_SCORE)
                if weak.sum() < HUM_WEAK_WINDOWS:
                    continue
                spans = [(*self._window_span_s(int(s)), 0.0, False) for s in starts[weak]]  # windows: unplaced
                ok, share = self._hum_held(j, weak, starts, spans)
                if ok and share <= HUM_TRACK_ONE_WINDOW_MAX:
                    whole[base], hits[base] = (ok, share), weak
                    held.append(base)
        if not heard and not held and not self._hum_only:
            coherent = self._hum_coherent_finding(duration)
            if coherent is not None:
                return [coherent]
        if held:
            best = max(held, key=lambda b: (whole[b][1], hits[b].mean()))
            held_share = whole[best][1]
            j = HUM_BASES_HZ.index(best)
            return [Detection("hum", 0.0, duration, -1, float(best),
                              f"{best} Hz mains hum with harmonics through the whole track (heard in "
                              f"{100 * hits[best].mean():.0f} % of the 5 s windows, comb score up to "
                              f"{scores[hits[best], j].max():.0f} dB; elsewhere its phasor holds "
                              f"{100 * min(held_share, 9.99):.0f} % of its level)")]
        found = []
        for base in heard:
            for s, e, (comb, phasor), placed in sections[base]:
                heard_by = (f"comb score up to {comb:.0f} dB" if comb >= self.hum_section_score else
                            f"under the music: comb phasors adding up to {phasor:.0f} times its power near the lines")
                found.append(Detection("hum", s, e, -1, float(base),
                                       f"{base} Hz mains hum with harmonics from {s:.3f} s to {e:.3f} s ({heard_by}; "
                                       f"edges {'placed on the comb phasors' if placed else 'from the 5 s windows'})"))
        found.sort(key=lambda d: d.start_s)
        return found

    def _hum_coherent_finding(self, duration: float) -> Detection | None:
        """A whole-track hum that no 5 s window hears, from :meth:`_hum_coherent`: its coherent power reaches
        ``HUM_COHERENT_SCORE``, every third of the track holds ``HUM_COHERENT_HOLD`` of its phasor and every 2 s
        run holds it within ``HUM_COHERENT_STEADY`` standard errors (the strongest mains frequency that passes,
        if both do)."""
        best = None
        for j, base in enumerate(HUM_BASES_HZ):
            found = self._hum_coherent(j)
            if found is None:
                continue
            power, shares, steadiness = found
            lo, hi = HUM_COHERENT_HOLD
            held = (power >= HUM_COHERENT_SCORE and all(lo <= share <= hi for share in shares)
                    and steadiness <= HUM_COHERENT_STEADY)
            if held and (best is None or power > best[1]):
                best = (base, power, shares)
        if best is None:
            return None
        base, power, shares = best
        return Detection("hum", 0.0, duration, -1, float(base),
                         f"{base} Hz mains hum with harmonics through the whole track (under the music: no 5 s "
                         f"window hears it, but its comb phasors add up over the track to {power:.0f} times the "
                         f"music's power near the lines, and each third of the track holds "
                         f"{100 * min(shares):.0f}-{100 * max(shares):.0f} % of it)")

    def _hum_beside_coherence(self, j: int, inv: np.ndarray, use: np.ndarray) -> np.ndarray:
        """Per comb line of mains frequency ``j``, the largest coherent power (as :meth:`_hum_phasor` gives for a
        line) of the bins 2-4 Hz beside it over the frames ``use``, each bin searched for a drift of up to
        ``HUM_COHERENT_NEAR_HZ`` (one zero-padded FFT over the frames)."""
        near = np.concatenate(self._hum_near_phasors)  # (frames, 12 lines, offsets), complex64
        frames = near.shape[0]
        size = 1 << math.ceil(math.log2(4 * frames))  # 4 times zero-padded: a tooth between two samples loses 0.2 dB
        reach = int(HUM_COHERENT_NEAR_HZ * self._hum_hop / self._dec_rate * size)  # cycles per frame * size
        pick = np.r_[0 : reach + 1, size - reach : size]
        best = np.empty(HUM_HARMONICS)
        for line in range(HUM_HARMONICS):  # one line at a time: a two-hour file's transform stays under 7 MB
            row = j * HUM_HARMONICS + line
            turn = (np.outer(np.arange(frames), self._near_bins[row]) * self._hum_hop / self._hum_n) % 1.0
            weighted = near[:, row] * np.exp(-2j * np.pi * turn) * inv[:, line, None]  # inv is 0 outside ``use``
            spectrum = np.fft.fft(weighted, n=size, axis=0)  # sum over frames n of a_n exp(-2 pi i m n / size)
            best[line] = (np.abs(spectrum[pick]) ** 2).max()
        return best / np.maximum(inv[use].sum(axis=0), 1e-300)

    def _hum_held(self, j: int, hit: np.ndarray, starts: np.ndarray, spans: list[tuple]) -> tuple[bool, float]:
        """Whether the hum heard in the windows ``hit`` runs through the whole track, and the share of its
        phasor that holds away from those windows.

        The phasors of the hum windows' frames give the hum's phasor on each line (with the mains frequency a
        little off nominal: a drift of up to ``HUM_DRIFT_HZ`` is searched). The phasors of the sounding frames
        away from those windows are projected onto it by least squares: about 1 where the hum goes on under
        louder music, about 0 where there is none. In both steps each frame's phasor on a line counts by the
        inverse of the music's power beside that line in that frame (2-12 Hz away, where an on-bin hum leaves
        nothing through the Hann window), so a frame where a loud note sits next to a line hardly counts.
        ``spans``: ``(start_s, end_s, peak, placed)`` of each section (weak windows: not placed).
        """
        phasors, sounding, part_silent, inv = self._hum_lines(j)
        frames = phasors.shape[0]
        inside = np.zeros(frames, dtype=bool)  # frames of the hum windows: the hum's phasor is measured there
        for s in starts[hit]:
            inside[int(s) : int(s) + HUM_WINDOW_FRAMES] = True
        # ... and frames of the sections as their edges were placed (weak hum fills fewer windows than its span);
        # where the edges could not be placed, HUM_UNPLACED_S more on each side: the hum may run on there under
        # louder music, and two quiet frames of it just past the windows' span read as hum "away from the
        # section" (a 7 s section on seed 23, heard in one window, was reported as whole-track from two such
        # frames carrying the projection at 0.89)
        covered = inside.copy()
        frame_s = self._hum_hop / self._dec_rate
        for start_s, end_s, _, placed in spans:
            pad = 1 if placed else 1 + round(HUM_UNPLACED_S / frame_s)
            covered[max(0, int(start_s / frame_s) - pad) : int(end_s / frame_s) + pad] = True
        f, ref, _ = self._hum_phasor(phasors, inv, inside)
        turned = self._hum_turn(phasors, f)
        # digital silence (a head or tail of exact zeros added after the hum) says nothing either way (``sounding``)
        # frames next to digital silence hold a part of it
        near_silence = np.zeros_like(sounding)
        change = np.flatnonzero(np.diff(sounding.astype(np.int8)) != 0)
        for offset in range(-HUM_TRACK_EDGE_FRAMES + 1, HUM_TRACK_EDGE_FRAMES + 1):
            near_silence[np.clip(change + offset, 0, frames - 1)] = True
        away = sounding & ~covered & ~near_silence & ~part_silent
        if not away.any():  # the hum windows cover all the sounding audio
            return True, 1.0
        # a hum through the track keeps its phasor away from the windows that hear it: the least-squares share
        # of the reference phasor in the away frames, each frame and line weighted by the inverse of the music's
        # power beside that line in that frame
        w_away = inv[away]
        norm = float((np.abs(ref) ** 2 * w_away).sum())
        if not norm > 0.0:
            return False, 0.0
        proj = float((np.conj(ref) * turned[away] * w_away).real.sum()) / norm
        # ... and on each side of the hum's frames: the share is dominated by the quietest frames, so a hum heard
        # in a loud middle that runs on into a quiet end held 95 % "away" although the quiet frames before it,
        # measured as precisely, held none (the genre benchmark's hip-hop piece: a section reported through the
        # whole track). A side whose share falls short of HUM_TRACK_AWAY by HUM_TRACK_SIDE_Z standard errors
        # or more says the hum is not there
        where = np.flatnonzero(covered)
        index = np.arange(frames)
        for side in (away & (index < where[0]), away & (index > where[-1])) if where.size else ():
            w_side = inv[side]
            side_norm = float((np.abs(ref) ** 2 * w_side).sum())
            if side_norm > 0.0:
                share = float((np.conj(ref) * turned[side] * w_side).real.sum()) / side_norm
                if share < HUM_TRACK_AWAY and (1.0 - share) * math.sqrt(side_norm) >= HUM_TRACK_SIDE_Z:
                    return False, proj
        return proj >= HUM_TRACK_AWAY, proj

    def _hum_lines(self, j: int):
        """The comb phasors of mains frequency ``j`` (frames, harmonics), turned to the stream's time origin,
        with which frames sound, which hold digital silence in part, and each frame's weight on each line.

        Each frame's phasor on a line is the hum plus the music on that bin, whose power is about the music's
        power just beside the line in that frame: frames are weighted by its inverse (a loud bass note next to
        a line says little about the hum there; a quiet moment says much). Frames of digital silence say nothing
        and weigh nothing; the music's power is floored at -140 dBFS.
        """
        part_silent = np.concatenate(self._hum_part_silent)
        phasors, sounding, inv = self._weighted_lines(j, np.concatenate(self._hum_phasors),
                                                      np.concatenate(self._hum_noise), part_silent, 0)
        return phasors, sounding, part_silent, inv

    def _weighted_lines(self, j: int, phasors: np.ndarray, noise: np.ndarray, part_silent: np.ndarray,
                        first_frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_hum_lines` for the frames given (``phasors`` and ``noise`` of all 12 lines, the first of them
        frame ``first_frame`` of the stream): the phasors of mains frequency ``j`` turned to the stream's time
        origin, which frames sound, and each frame's weight on each line."""
        cols = slice(j * HUM_HARMONICS, (j + 1) * HUM_HARMONICS)
        index = first_frame + np.arange(phasors.shape[0])
        # frame f starts f * hop samples in: turn each line's phasor to the stream's time origin
        z = phasors[:, cols].astype(np.complex128) * np.exp(
            -2j * np.pi * ((np.outer(index, self._line_bins[cols]) * self._hum_hop / self._hum_n) % 1.0))
        sounding = (np.abs(z) ** 2).max(axis=1) >= self._hum_min_power
        floored = np.maximum(noise[:, cols].astype(np.float64), 1e-4 * self._hum_min_power)
        inv = np.where((sounding & ~part_silent)[:, None], 1.0 / floored, 0.0)
        return z, sounding, inv

    def _hum_turn(self, phasors: np.ndarray, drift_hz: float) -> np.ndarray:
        """``phasors`` (frames, harmonics) turned back by a mains frequency ``drift_hz`` off nominal."""
        when = np.arange(phasors.shape[0]) * (self._hum_hop / self._dec_rate)
        return np.exp(-2j * np.pi * drift_hz * np.outer(when, np.arange(1, HUM_HARMONICS + 1))) * phasors

    def _hum_phasor(self, phasors: np.ndarray, inv: np.ndarray, inside: np.ndarray):
        """The hum's phasor on each line, measured on the frames ``inside`` with weights ``inv``: the mains
        drift (searched up to ``HUM_DRIFT_HZ``, 0.01 Hz then 0.001 Hz steps; nominal unless a drift gathers
        2 dB more: a search over many drifts always gains a little), the phasor per harmonic, and its
        coherent power ``sum |ref|^2 * weight`` (in units of the music's power on the lines)."""
        weight = inv[inside].sum(axis=0)  # per line, how well those frames measure its phasor
        fw = inv[inside] / np.maximum(weight, 1e-300)  # per line, the frames' weights summing to 1
        when = np.flatnonzero(inside) * (self._hum_hop / self._dec_rate)
        k = np.arange(1, HUM_HARMONICS + 1)
        part = phasors[inside] * fw
        best = None
        phase = np.outer(when, k)  # cycles per Hz of drift, per frame and harmonic
        # one drift at a time (a (drifts, frames, lines) array would be large for a long file), coarse then fine;
        # along an evenly spaced grid each frame's turn is the last one's times a fixed step (no exp per drift)
        for grid in (np.arange(-HUM_DRIFT_HZ, HUM_DRIFT_HZ + 1e-9, HUM_DRIFT_STEP_HZ), None):
            if grid is None:
                grid = best[1] + np.arange(-HUM_DRIFT_STEP_HZ, HUM_DRIFT_STEP_HZ + 1e-9, HUM_DRIFT_STEP_HZ / 10)
            turn = np.exp(-2j * np.pi * grid[0] * phase)
            step = np.exp(-2j * np.pi * (grid[1] - grid[0]) * phase)
            for f in grid:
                ref = (turn * part).sum(axis=0)
                power = float((np.abs(ref) ** 2 * weight).sum())
                if best is None or power > best[0]:
                    best = (power, f, ref)
                turn *= step
        nominal = part.sum(axis=0)
        nominal_power = float((np.abs(nominal) ** 2 * weight).sum())
        if best[0] <= nominal_power * HUM_EDGE_DRIFT_GAIN:
            return 0.0, nominal, nominal_power
        return best[1], best[2], best[0]

    def _hum_coherent(self, j: int) -> tuple[float, list[float], float] | None:
        """A hum under the music of the whole track that no 5 s window hears: its coherent power over every
        sounding frame (:meth:`_hum_phasor` on all of them: in units of the music's power near the lines, a few
        per line for music alone; lines no more coherent than the bins beside them left out),
        the share of that phasor each third of those frames holds (about 1 each for a hum through the track),
        and the largest departure of a 2 s run's share from 1 in standard errors. ``None`` with too few frames
        to split."""
        phasors, sounding, part_silent, inv = self._hum_lines(j)
        use = sounding & ~part_silent
        if use.sum() < 2 * HUM_COHERENT_PARTS:
            return None
        f, ref, power = self._hum_phasor(phasors, inv, use)
        if power < HUM_COHERENT_SCORE:
            return power, [], math.inf
        # a beat looped sample-exactly is coherent on every tooth of its comb, 1/period Hz apart, so on the bins
        # 2-4 Hz beside a mains line as well (a loop of 0.22 s or longer, 270 BPM, has a tooth 1.5-4.5 Hz from the
        # line, within half a bin of one of them); hum is not (a line on its bin leaves nothing 2 bins away through
        # the Hann window): a line counts only where it gathers HUM_COHERENT_NEAR_DB more than the most coherent
        # of those bins (each searched for a drift of up to half a bin)
        line = np.abs(ref) ** 2 * inv[use].sum(axis=0)
        beside = self._hum_beside_coherence(j, inv, use)
        counts = line >= beside * 10.0 ** (HUM_COHERENT_NEAR_DB / 10.0)
        counts &= np.abs(ref) ** 2 > self._hum_least(self._hum_loud)  # not far under the track's loudest frame
        power = float(line[counts].sum())
        ref = np.where(counts, ref, 0.0)
        turned = self._hum_turn(phasors, f)
        used = np.flatnonzero(use)

        def shares(parts: int) -> tuple[np.ndarray, np.ndarray]:
            """The least-squares share of ``ref`` in each of ``parts`` runs of the sounding frames, and how
            precisely the run measures it (the share's standard error is about 1 / sqrt of that)."""
            share, norm = np.zeros(parts), np.zeros(parts)
            for i, part in enumerate(np.array_split(used, parts)):
                w = inv[part]
                norm[i] = float((np.abs(ref) ** 2 * w).sum())
                share[i] = float((np.conj(ref) * turned[part] * w).real.sum()) / norm[i] if norm[i] > 0.0 else 0.0
            return share, norm

        thirds, _ = shares(HUM_COHERENT_PARTS)
        # hum is as steady as it is coherent: every 2 s holds it within what the music there lets one measure
        # (a bass note exactly on a line that recurs on a beat grid is coherent too, but comes and goes)
        share, norm = shares(max(1, used.size // HUM_COHERENT_RUN_FRAMES))
        steadiness = float((np.abs(share - 1.0) * np.sqrt(norm)).max())
        return power, thirds.tolist(), steadiness

    def _lossy_finding(self, duration: float) -> Detection | None:
        if not self._lossy_count:
            return None
        bin_hz = self.sample_rate / self._lossy_n
        nyquist = self.sample_rate / 2.0
        power = self._lossy_sum / self._lossy_count
        width = max(1, round(LOSSY_SMOOTH_HZ / bin_hz))
        smooth = np.convolve(power, np.ones(width) / width, mode="same")
        peak = smooth.max()
        if peak <= 0:
            return None
        level = 10.0 * np.log10(np.maximum(smooth, peak * 1e-20))
        lo = math.ceil(LOSSY_MIN_HZ / bin_hz)
        top_cut = min(LOSSY_MAX_HZ, nyquist - 1500.0)
        if self.sample_rate < 44100:
            # the file's own resampler: soxr leaves 32 kHz files at 14.6-14.8 kHz, 22.05 kHz ones at 9.7 kHz
            top_cut = min(top_cut, LOSSY_OWN_EDGE * nyquist)
        hi = math.floor(top_cut / bin_hz)
        if hi <= lo:
            return None
        below = (round(1200.0 / bin_hz), round(200.0 / bin_hz))
        above = round(LOSSY_ABOVE_HZ / bin_hz)
        top = math.floor((nyquist - 200.0) / bin_hz)
        # highest level from each bin to the top of the band
        ceiling = np.maximum.accumulate(level[: top + 1][::-1])[::-1]
        cands = np.arange(lo, hi + 1)
        windows = np.lib.stride_tricks.sliding_window_view(level, below[0] - below[1] + 1)
        passband = np.median(windows[cands - below[0]], axis=1)
        stop = ceiling[np.minimum(cands + above, top)]
        step = passband - stop
        i = int(np.argmax(step))
        c = int(cands[i])
        within = "a few hundred Hz"
        if step[i] < self.lossy_step_db:
            # requantised after the cut (a 12-bit transfer of a lossy source): the stopband is the new noise
            # floor, flat to Nyquist, and the cliff into it is shallower; music above a natural roll-off is not
            # flat like that
            above_band = level[min(c + above, top) : top + 1]
            flat = above_band.size >= 2 and float(above_band.max() - np.median(above_band)) <= LOSSY_FLAT_DB
            # a high-rate recording holds music, or its converter's rising noise, above 20 kHz: a stopband flat from
            # the cut to Nyquist is a lower-rate source's, so a shallower cliff is enough there (the 179 clean
            # 88.2/96 kHz songs of the kept corpora: no stopband from 4-20.5 kHz up flat to within 12.9 dB; natural
            # 24 and 48 dB/octave roll-offs at 8-19 kHz into a 12- or 16-bit floor at 96 kHz: flat cliffs of 4.7 dB
            # at most; two seed-28 ballads cut at 20 kHz and requantised to 12 bits: 8.8 and 14.6 dB)
            flat_step = LOSSY_HIRES_FLAT_STEP_DB if self.sample_rate >= LOSSY_HIRES_HZ else LOSSY_FLAT_STEP_DB
            if not (flat and step[i] >= flat_step):
                # a codec whose low-pass is gentler (a 1-1.5 kHz transition) clears the step only further up;
                # that wider reading is taken for cutoffs well under the top octave's natural roll-off (an ADC's
                # anti-alias filter and the renders' sample sets fall off at 20.5-22 kHz, not under 18.5 kHz)
                wide = passband - ceiling[np.minimum(cands + round(LOSSY_WIDE_HZ / bin_hz), top)]
                wide[cands * bin_hz > LOSSY_WIDE_MAX_HZ] = -np.inf
                i = int(np.argmax(wide))
                if LOSSY_WIDE_HZ > 0 and wide[i] >= self.lossy_step_db:
                    c, step, within = int(cands[i]), wide, f"{LOSSY_WIDE_HZ / 1000:g} kHz"
                elif self.sample_rate >= LOSSY_HIRES_HZ:
                    # a source upsampled to a high rate keeps the resampler's images of its top octave just above
                    # the old Nyquist (ffmpeg's default resampler: 35 dB under the passband, over 1-2 kHz of a
                    # stopband 25 kHz wide): read the stopband's level as a high percentile of it, not its top
                    # (from starts on a grid of 32 bins, each at or below a candidate's: a few bins of the slope more)
                    first = np.minimum(cands + above, top)
                    starts = np.arange(int(first.min()), top + 1, 32)
                    pct = np.array([np.percentile(level[g : top + 1], LOSSY_HIRES_STOP_PCT) for g in starts])
                    imaged = passband - pct[(first - starts[0]) // 32]
                    i = int(np.argmax(imaged))
                    if imaged[i] < self.lossy_step_db:
                        return None
                    # ... and the cliff is a wall: the music is LOSSY_HIRES_SHARP_DB down within LOSSY_WIDE_HZ of the
                    # cut (a natural 48 dB/octave roll-off at 8 kHz reads 36 dB against the percentile of a 16-bit
                    # floor 40 kHz wide, but falls 6-8 dB over the 1.5 kHz past the cut)
                    cut = int(cands[i])
                    near = level[min(cut + above, top) : min(cut + round(LOSSY_WIDE_HZ / bin_hz), top) + 1]
                    if passband[i] - float(np.median(near)) < LOSSY_HIRES_SHARP_DB:
                        return None
                    c, step, within = cut, imaged, "a few hundred Hz (beyond a resampler's images)"
                else:
                    return None
        pass_db = float(passband[i])
        region = np.arange(c - below[0], c + above + 1)
        inside = region[level[region] >= pass_db - 20.0]
        cutoff_hz = float(inside.max() * bin_hz) if inside.size else c * bin_hz
        return Detection("lossy_bandwidth", 0.0, duration, -1, round(cutoff_hz, 0),
                         f"brick-wall cutoff at {cutoff_hz / 1000:.1f} kHz: the long-term spectrum falls "
                         f"{step[i]:.0f} dB within {within} and stays down to {nyquist / 1000:.1f} kHz")

    def _bit_depth_finding(self, duration: float) -> Detection | None:
        bits = self._grid_bits
        if bits is None or bits <= 8 or self._bits_or & 1 or self._bits_nonzero < BIT_DEPTH_MIN_SAMPLES:
            return None
        unused = (self._bits_or & -self._bits_or).bit_length() - 1
        effective = bits - unused
        container = f"{bits}-bit" if self.float_bits is None else f"{self.float_bits}-bit float"
        return Detection("bit_depth", 0.0, duration, -1, float(effective),
                         f"every sample is a multiple of 2^-{effective - 1}: {effective}-bit audio in a "
                         f"{container} container")
