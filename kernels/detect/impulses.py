"""Impulsive defects: clicks, splices (discontinuities) and short noise bursts, from one shared analysis.

The analysis
------------
Every channel goes through a third-order difference ``d[n] = x[n] - 3x[n-1] + 3x[n-2] - x[n-3]``, a crude
but very cheap whitening filter: music keeps most of its energy below a few kHz, where the filter's gain is
tiny (about -37 dB at 1 kHz, 44.1 kHz), while an impulse, a step or broadband noise keeps its energy. The
residual's energy is summed over *microframes* of 8 samples. For the first two channels the cross product of
their residuals is summed too, so that each channel can also be judged against what the other channel
predicts of it: a hi-hat or a distorted guitar in the middle of the stereo image sits in both channels, a
click usually in one, and the prediction error ``d_L - g d_R`` (``g`` fitted on the surroundings) removes
much of the shared music. Those three numbers per microframe serve all three kinds; everything after them
runs on arrays 8 times shorter than the audio.

click
    A microframe pair (16 samples: a click of up to 5 samples leaves at most 8 samples of residual, so it
    always fits in one pair) whose residual energy stands ``click_threshold_db`` above the *largest* of four
    local levels: the two microframes on either side (about 0.4 ms) and the mean over about 6 ms before and
    after. A drum attack, a pluck or a distorted guitar lasts longer than 16 samples, so its own energy fills
    the near neighbours and it is never far above all four; an onset after silence has its sustain after it.
    A click in a quiet passage or a reverb tail is above all four. Two checks on the waveform then keep
    synthesised percussion out: the best rectangular pulse of 1-5 samples must explain at least
    ``click_shape_fit`` of the residual's energy there (a smooth bump of a synth's click sample is not a few
    samples knocked aside), and the waveform must come back after the pulse (a fast note onset moves it to
    a new level and stays there). A pulse that stands only ``weak_click_db`` above the local levels in
    *every* channel (a click on both channels of dense music), or ``weak_one_click_db`` in one channel (a large
    click on a rough, saturated mix, whose residual the 15 dB test asks too much of), is a click too when no
    step fits it and a pulse explains at least 90 % of the residual. ``value`` is that margin in dB.

    Not every click is a few samples knocked aside. A pop is a smooth bump, a click that went through a high-pass
    swings up and down, a click with a tail decays back over a few samples: all stand out of the residual like
    a rectangular click, and no rectangle explains them. So a strong candidate that the rectangles turn down is
    fitted again with smooth pulses of 2 to ``_SMOOTH_LONGEST_S`` (0.3 ms: 13 samples at 44.1 kHz), a raised
    cosine, a Gaussian bump and one sine cycle, each at four sub-sample phases (the third difference weighs a
    pulse's edges, and half a sample moved the best fit of a planted sine cycle from 0.99 to 0.43); one must
    explain ``smooth_click_fit`` of the residual (a weak candidate: 0.95; codec round trips of clean songs gave
    smooth fits of 0.86-0.89 there). The waveform must come back after it: one quadratic through both sides
    plus a step between them must need a step under half the pulse's height (a synth part entering through an
    edge a few samples long fits a smooth pulse too: 26 clicks on the clean pop songs of nine kept corpora
    before this test, none after). A sound of the music that recurs (a percussion sample that is a smooth
    bump) comes back again and again with the same look, so a smooth click with more than
    ``_SMOOTH_RECURRENT`` look-alikes (every smooth pulse the fit found counts: the same family, a width within
    a sample, a residual level within ``_SMOOTH_LOOK_DB``) is dropped. A step candidate whose deviation from the
    curve through both sides peaks on its first samples and is back within a quarter of that, step included,
    by the end of 0.3 ms is a spike that decays back: a click, not a splice. (Measured with
    ``benchmarks/bench_qc_shapes.py``; longer pulses, such as a bump of 10 samples or a sine cycle at 96 kHz,
    spread their residual over the microframes beside them and are often no candidate at all.)

    A click that was low-passed after it was made (a lossy codec, a low-rate source upsampled) is no longer a
    few samples knocked aside but a symmetric sinc burst ringing at the cutoff for milliseconds; its ringing
    fills the near microframes, so it is a candidate when it stands ``lowpass_click_db`` above the local
    levels and ``lowpass_far_db`` above the far ones, or when the rectangular pulse test turns it down. It is
    a click if one band-limited pulse (1-5 samples behind an ideal low-pass, cutoff on a fine grid) explains
    ``lowpass_click_fit`` of the residual over about 1.5 ms either side *and* its sidelobes alone explain
    ``lowpass_ringing_fit`` of the residual on each side, at the amplitude of the whole fit: a smooth bump
    has no sidelobes, a musical transient's ringing does not keep one frequency and phase. A candidate of this
    kind that is no band-limited pulse is held to the weak click's tests instead: a plain click right after a
    short transient (a hi-hat tick fills the microframes beside it) also stands out over the far levels only.

    The third difference whitens music only roughly: in bright, rough music (a distorted guitar, a naive synth, a
    dense acoustic mix) a click of 0.2-0.5 full scale stands only 7-13 dB over the residual beside it, and the
    next note's attack may fill the far level on one side. Such a pair, ``_WHITE_CLICK_DB`` over its near levels
    and its quieter far level in some channel and taken by no test above, and every click candidate the tests
    above turn down, is looked at once more with the music's own model: an autoregressive model of order 16
    fitted on the 6 ms either side whitens the music, and a pulse of 1-5 samples must explain
    ``_WHITE_PULSE_SHARE`` (90 %) of the whitened samples around it and beat every step (:meth:`_whitened_pulses`).
    What it explains is a share, not a level: an earlier version that asked the pulse to stand 25 dB out of the
    whitened music found clean transients standing as far (104 clicks on the clean tracks, session 27);
    at 90 % of the whitened energy, 2.96 h of clean benchmark music leaves one candidate, which a step fits better.
    The new candidates are screened first, all at once, by the rectangular pulse fit in the third difference
    (``_WHITE_SCREEN``), and fitted in one batch. A peak of a clipped master that was turned down, dithered or
    resampled keeps no exact flat top, but its corner whitens into a one-sample pulse: a pulse that is the peak
    of the waveform around, with the samples beside it within ``_ROUNDED_PEAK`` (5 %) of it, is not a click.
discontinuity
    The same candidates, told apart from clicks by their shape in the residual: a step of the waveform (a
    splice: the audio continues from somewhere else) leaves ``[1, -2, 1]``, a pulse of ``w`` samples (a
    click: the audio returns to where it was) leaves its own longer pattern. Both families are slid over the
    event and fitted by least squares to all channels at once; the step wins only if it explains more of the
    residual's energy and every channel's own residual rises there (a splice cuts all channels at one
    sample). A splice in dense music may raise the residual only a little, so a pair where *every* channel
    stands ``splice_threshold_db`` above its local level, or *one* channel ``splice_one_db`` above it (the step
    of a splice may be large in one channel only), is a weak candidate too: screened by the same shape fit
    (vectorised over the block, only on the pairs where some channel rises), then accepted only if the
    waveform moves at the joint in one sample ``splice_sharpness_db`` more than in any of the three samples on
    either side that move the same way, in some channel (a splice joins two places between two samples; the hard
    attacks of loud
    acoustic and pop songs that used to be taken for splices spread a 0.5-0.9 full-scale rise over 3-4
    samples: 3.6-9.3 dB on the benchmark corpora, every splice found there 10 dB or more), and linear
    predictors fitted on the samples before and after it both break there, in every channel, by
    ``splice_prediction_db``, or, failing that, a step stands ``splice_whitened_db`` out of the music once one
    autoregressive model fitted on both sides whitens it, and explains it better than any pulse (an edit into a
    louder passage leaves the predictor after the joint following the loud music, so that side never breaks).
    Where the step is not seen in every channel (a weak candidate, or a strong one
    whose step fits but leaves a channel quiet), the predictors need to break only in the channels that rose
    by ``splice_one_db``, with the same one-sample step test. A mono stream has no second channel to share a
    rise: its weak candidates (and the quieter-side ones below) need the one-channel margin ``splice_one_db``.
    (Until session 19 mono had no weak candidates at all: 2 of 16 splices planted in mono renders were found,
    6 now; 11 of 24 in mono fluidsynth renders, 17 now; mono downmixes of 3.4 h of clean benchmark music raise
    one discontinuity, at the edge of a clipped rock master whose flat tops the downmix no longer keeps flat.)

    A splice into a louder passage looks like an onset against the louder of the local levels, so the weak test
    also measures each pair against the *quieter* side (the levels before or after it, whichever is lower): a
    pair that stands out there by the same margins is a weak candidate too (never a click), first screened in a
    vectorised pass for a one-sample move ``splice_sharpness_db`` over the three samples on either side (musical
    onsets spread their rise; on a 3-minute song about 2200 such pairs become 15), then held to every splice test
    above. (Measured on 22 kept corpora: +15 planted splices of 262 on the 13 scored with every detector, +3 on
    the rest, no false alarm added; a clean hour of renders stays clean.)

    The third difference also misses joints: where the waveform already moves fast (a rise on both sides, a loud
    master's swing) the joint does not move in one sample 10 dB more than the samples beside it, and in rough music
    it may not stand out at all. The music's own model sees them (:meth:`_white_splice`): a candidate the one-sample
    step test or the saturated-edge rule turns down, and a pair of the whitened click test (above) that is no click
    and whose third difference a step explains to ``_WHITE_SCREEN`` on every channel at once, is a splice when one
    step explains ``_WHITE_STEP_SHARE`` (90 %) of every channel's whitened music and that music, whitened 40 ms
    either side, holds no like steps before and after it (:meth:`_white_train`: a naive oscillator's edges whiten
    alike every period). Of 482,357 pairs standing 6 dB over their near levels on 2.96 h of clean benchmark songs,
    one reaches 90 %; seven of the 17 splices missed on seeds 21-26 do.

    A jump of 0.4 full scale or more is not reported when the channel that jumps most moves by half of that
    again twice more within 10 ms: the edge of a master saturated into a near-square wave, which jumps between
    its rounded tops every half period of the bass. (0.5 let a 0.499 edge through on a defective track. Planted
    splices of that size had 0-1 such moves; the clean
    false alarms, 0.64-1.07 full scale, had 2-43.) Unless the jump leaves from the middle of the swing or lands
    there, with no large move on either side of it: an edge runs from top to top, a splice into a loud, bright
    master (whose drums make such moves too) does not (+4 of 101 planted splices on seeds 21-25).

    Some music is made of steps. A naive (not band-limited) saw, square or pulse voice jumps in one sample
    every period, so a step with like steps (0.7-1.4 times its peak in the third difference, either sign, each
    at least 5 times the median |third difference| of the 32 samples around it) within 40 ms on both sides is
    an oscillator's edge, not a splice, unless the audio after it repeats the audio one of those lags earlier
    (a repeat splice that starts on a transient plays it, and its like steps, twice: 16 samples less their
    straight line must match to -40 dB and 15 dB better than before the joint, and the whole stretch up to the
    look-ahead too). A one-sample spike whose rise belongs to one such train and whose fall to another is two
    voices' edges meeting, not a click. And where every move of the waveform within 64 samples falls on one
    grid of 3 samples or more, the candidate's own move too, the audio is sample-and-held (a bit crusher's
    rate reduction turns every attack into a step); a click or a splice put into it moves off the grid.
    (Measured with ``benchmarks/bench_qc_oscillators.py``: 1233 discontinuities on twelve 20 s songs with a
    naive voice, 838 on six sample-and-held ones, fall to 9 and 0; the kept corpora lose no splice.)

    A splice that plays the last samples again (a repeat) is confirmed directly, at strong candidates whose
    step is not seen in every channel and at weak ones: the 16 samples just after the candidate equal, to
    -40 dB in all channels, a stretch 20-2048 samples earlier, while the same lag matches the samples before
    the candidate at least 15 dB worse (a periodic tone repeats on both sides of any point; a repeat splice
    only after its joint); the joint is the first sample from which the lag matches. A clipped flat top
    nearby (three identical samples) rules the test out: constant runs repeat at every lag. A shorter window
    or a looser match is not safe: 16 samples of smooth audio matched some lag to -25..-36 dB at drum hits.
    Reported on channel ``-1``; ``value`` is the jump in dBFS (largest over the channels). A strong candidate
    whose step fits better than any pulse but breaks only some channels, and that the tests above do not
    confirm as a splice of every channel, is a discontinuity on those channels (a splice whose other channel
    happened to join seamlessly, or a jump of one channel) when the waveform stays there: around the joint a
    quadratic plus a step must explain it better than a quadratic plus a doublet ``+a, -a`` (a click shape that
    fits the step template better than any rectangular pulse, and comes straight back). Before session 18 such
    steps were reported as clicks, which two of seed 27's eight missed splices were.

    Neither kind is reported at a hard-clipped peak: a flat top (at least three identical samples, or two at
    0.25 full scale and above, that are the extreme of the waveform over about 6 ms, with moving audio before
    them) is a rectangular deviation from the curve the music would have drawn, a pulse in the residual, and
    a square-ish clipped waveform jumps between its two clip levels like a splice. A flat top longer than the
    searched window (at its exit) is followed back to its real start, so that it is not taken for a click on
    a constant level. (Measured: on the benchmark corpora, clipped sections raised 6-20 click and 11-35
    discontinuity false alarms per corpus; 0-1 remain.)
    A step into or out of exact digital silence in every channel is left to the dropout and silence detectors.
noise_burst
    A rise of the residual energy by ``burst_threshold_db`` over the 10 ms before it within 2 ms, that stays
    up for 1.5-350 ms, is as loud at its end as at its start (within ``burst_flatness_db``), and falls back by
    as much within 2 ms. Music has abrupt starts (drums, plucks) but its sounds decay; a burst that was
    switched on and off does not. Two more tests tell a noise that was switched on from a strum, a shaker or
    a hi-hat: the burst must stand ``burst_min_db`` above the music around it (planted bursts on the benchmark
    corpora: 10-67 dB; the percussion that passes the shape tests: mostly 7-9 dB; a burst under 35 ms, judged on
    few chunks, needs 2.5 dB more: short percussion hits reached 9.5-11 dB, planted short bursts 15 dB and up; the
    limit was 20 ms until session 27, when a 21 ms shaker hit at 10.3 dB was the one clean false alarm on nine
    kept corpora and the planted bursts of 10-45 ms there stood 15-82 dB out),
    and its level must hold steady inside, the standard deviation of its 2 ms chunk levels at most
    ``burst_steadiness_db`` (stationary noise: 0.6-1.5 dB; strums and shakers that swell or ring: 1.8-6 dB). A candidate that fails
    the level test also ends the search inside it; one that fails the steadiness test does not, so a burst
    that starts on the tail of a drum hit is still found at its own start. A rise starts at its first
    boundary at least half as steep as its steepest; when nothing is decided from there, its later boundaries
    are tried too, and such a retry leaves no trace unless it finds a burst (no look-alike, no skipped span):
    a burst that starts 4 ms into a hi-hat's attack is one continuous rise, steepest at the stroke, from whose
    boundary the level does not hold (12 of 12 test setups found, 1 before; +1 burst on the kept corpora of
    seeds 21-27, none lost, no false alarm added there or on the genre benchmark). Percussion samples that are
    themselves short flat noise (General MIDI shakers) can pass all of that, but they come back again and
    again with the same length and level, so bursts with more than ``recurrent_bursts`` look-alikes in the
    stream are dropped; the candidates turned down by the two tests above count as look-alikes too (the same
    sample played softer). ``value`` is the burst's residual level over the music around it, dB.

    Each channel of a stereo pair is searched a second time, the same way, on what the other channel does not
    predict of it: its residual less ``g`` times the other channel's, ``g`` fitted by least squares over the second
    before (``_cross_energy``). Noise switched on in one channel, or independently in both, is not in the other
    channel, while whatever sits in the middle of the stereo image is: pink noise 6 dB under a saturated master,
    whose bright residual hides it (3-9 dB over the music there), stands 11-19 dB over what is left. A burst found
    only this way must also raise its channel's own residual by ``_CROSS_OWN_DB`` (the prediction error of one
    channel holds the other channel's burst too) and last 40 ms or more (a percussion hit panned to one side stands
    as far out of the prediction: two maraca-like hits of 21 ms in acoustic songs of seed 22, one of them clean, and
    a 3 ms "glitch" 25 dB out in the genre benchmark's struck piece; the planted bursts it found last 41-257 ms); it keeps
    its own look-alikes for the recurrence test, and a burst the plain pass found keeps that pass's channels and
    level. Such a burst is marked ``across``: in a lossy-coded file, whose channels were coded apart, the audit
    sets it aside (:func:`farm.detectors.explain`). (Measured on seeds 21-29: 178 planted bursts of 182 found
    against 172, no false alarm added on the 4.4 clean hours; the pass's onsets are only looked at where the
    channel's own residual does not fall, and its energies are made once per quad from the quad sums: about
    0.04 s more per 3-minute song.)

    Glitches of 1.5-8 ms (a buffer of garbage, a corrupted frame) are bursts too: too long for a click, and
    until session 16 too short for a burst, so a 1-5 ms noise glitch at -15 dBFS in a song raised nothing at
    all (0 of 8 at 1, 2 and 5 ms). Spanning two to eleven quads, a glitch has little shape to judge at this
    grid, so the flatness test is left out (and the steadiness test where it has fewer than two 2 ms chunks);
    it must instead spread its energy (no microframe holds half of it: a click, or a naive oscillator's edge
    between straight ramps, is an impulse) and stand ``_GLITCH_MIN_DB`` (25 dB) over the music around it:
    with those tests left out and the ordinary margins, short hi-hat and snare attacks came through at
    12-21 dB (350 false alarms on 2.4 h of clean benchmark music); at 25 dB none did, there or on a further
    clean hour. A glitch holding a click or a splice found here is that finding,
    not a second one.

Detections of one kind and channel closer than ``merge_s`` are merged. Everything is decided with a
look-ahead of about 0.4 s, so memory is a few thousand numbers per channel whatever the length of the stream;
results do not depend on block sizes beyond float rounding in the running sums (a burst's rise that runs past
the quads one call may decide waits for the next call, since where the burst starts depends on all of it).

Speed: float32 residuals in reused buffers, one BLAS product per microframe feature; see the module's test
notes and the report for the measured figure.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from kernels._xp import as_block, check_channels, to_numpy
from kernels.detect.base import Detection

__all__ = ["ImpulseDetector"]

ORDER = 3  # difference order of the residual
MICRO = 8  # samples per microframe
EDGE_S = 0.02  # events this close to either end of the stream are left to the edge detectors
SPLICE_ALL_DB = 3.0  # every channel's residual must rise this much for a splice
QUAD = 4  # microframes per quad: the unit of the far levels and of the burst analysis
_SHORT_BURST_S = 0.035  # bursts shorter than this ...
_SHORT_BURST_EXTRA_DB = 2.5  # ... must stand this much further over the music than ``burst_min_db``
_GLITCH_S = 0.008  # bursts shorter than this (a glitch of a few milliseconds) ...
_GLITCH_MIN_DB = 25.0  # ... must stand this far over the music
_GLITCH_PEAK_SHARE = 0.5  # ... and no one microframe may hold more than this share of its energy
# residual energy of a unit one-sample impulse after a third difference: 1 + 9 + 9 + 1
_IMPULSE_ENERGY = 20.0
_LP_CLICK_DB = 8.0  # default ``lowpass_click_db`` ...
_LP_CLICK_HIRES_DB = 6.0  # ... and at this rate and above (the same 8-sample microframes are shorter there)
_HIRES_HZ = 88200
# Streams below this rate are analysed at an integer multiple of their rate, at least _ANALYSIS_MIN_HZ
_NATIVE_MIN_HZ = 32000
_ANALYSIS_MIN_HZ = 44100
# ... and from this rate up, their clicks are looked for at the stream's own rate as well (at 16 kHz that analysis
# raised 3 clicks per half hour of clean music, at 11.025 kHz 211)
_LOW_RATE_CLICKS_HZ = 22050
_CROSS_GAIN_S = 1.0  # the other channel's prediction gain of a burst's channel: fitted over this long before
_ACROSS = "what the other channel does not predict"  # in the detail of a burst found by the cross-channel pass
_CROSS_MIN_S = 0.04  # ... and last this long at least (a percussion hit panned to one side is shorter)
_CROSS_OWN_DB = 3.0  # ... and a burst found there must raise the channel's own residual this much (not the other's)


def _shape_templates() -> tuple[np.ndarray, np.ndarray, int]:
    """Unit-norm residual shapes over a window of ``_FIT_LEN`` residual samples starting ``_FIT_BEFORE`` before
    the residual peak: steps first, then pulses of 1-5 samples; with each shape's first sample (relative to
    the peak)."""
    kernel = np.array([1.0, -3.0, 3.0, -1.0])  # the third difference
    rows, starts, widths = [], [], []
    for p in range(-6, 3):  # a step's residual [1, -2, 1] ends at most 2 samples after the peak
        r = np.zeros(_FIT_LEN)
        r[_FIT_BEFORE + p : _FIT_BEFORE + p + 3] = [1.0, -2.0, 1.0]
        rows.append(r)
        starts.append(p)
        widths.append(0)
    n_step = len(rows)
    for width in range(1, 6):
        shape = np.convolve(np.ones(width), kernel)
        for n0 in range(-(width + 2), 1):  # the pulse's residual covers the peak
            r = np.zeros(_FIT_LEN)
            r[_FIT_BEFORE + n0 : _FIT_BEFORE + n0 + shape.size] = shape
            rows.append(r)
            starts.append(n0)
            widths.append(width)
    t = np.array(rows)
    return t / np.linalg.norm(t, axis=1, keepdims=True), np.array(starts), np.array(widths), n_step


def _white_model(x: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """The autoregressive model of order ``_WHITE_ORDER`` of each row of ``x`` (``span`` samples, a gap of
    ``2 * _WHITE_GUARD`` left out, ``span`` samples), fitted by least squares on both sides at once: its inverse
    filter (``(rows, order + 1)``, applied as a convolution) and its mean squared fitting error per row."""
    P, G = _WHITE_ORDER, _WHITE_GUARD
    lags = np.concatenate([np.lib.stride_tricks.sliding_window_view(seg, P + 1, axis=1)
                           for seg in (x[:, :span], x[:, span + 2 * G :])], axis=1)  # (rows, windows, P + 1)
    a, b = lags[:, :, :P], lags[:, :, P]
    at = a.transpose(0, 2, 1)
    m = at @ a
    m += (1e-9 * np.trace(m, axis1=1, axis2=2) / P + 1e-30)[:, None, None] * np.eye(P)
    coef = np.linalg.solve(m, at @ b[:, :, None])
    noise = np.mean((b - (a @ coef)[:, :, 0]) ** 2, axis=1) + 1e-30
    return np.concatenate([np.ones((x.shape[0], 1)), -coef[:, ::-1, 0]], axis=1), noise


@functools.lru_cache(maxsize=1)
def _white_shapes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the shapes :meth:`ImpulseDetector._whitened_fits` fits: (each position's lag in the whitened
    samples, the positions of the steps (within ``_WHITE_SLIDE`` of the candidate), the rising and the falling
    position of every pulse of 1-5 samples that overlaps them)."""
    P, H, S = _WHITE_ORDER, _WHITE_HALF, _WHITE_SLIDE
    at = np.arange(H - S - 4, H + S + 6)
    lag = np.arange(2 * H + P)[None, :] - at[:, None]
    near = np.flatnonzero(np.abs(at - H) <= S)
    pulses = [(i, i + w) for w in range(1, 6) for i in range(near[0] - w + 1, near[-1] + 1)]
    return lag, near, np.array([i for i, _ in pulses]), np.array([f for _, f in pulses])


@functools.lru_cache(maxsize=8)
def _smooth_templates(longest: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Unit-norm residual shapes of smooth pulses, for clicks that are not a few samples knocked aside: a raised
    cosine (a pop, a click through a band limit), a Gaussian bump and one sine cycle (a click through a
    high-pass: up, then down), each ``W`` = 2 to ``longest`` samples long and sampled at four sub-sample phases
    (the third difference weighs a pulse's edges, which half a sample moves a lot), over a window of residual
    samples starting ``before`` samples before the residual peak; with each shape's first sample relative to
    the peak, its width and its family (0, 1, 2 in that order). Returns ``(templates, starts, widths, families,
    before, length)``."""
    kernel = np.array([1.0, -3.0, 3.0, -1.0])
    before = longest + 1 + ORDER
    length = 2 * before + 2
    families = (lambda u: 0.5 - 0.5 * np.cos(2 * np.pi * u),
                lambda u: np.exp(-0.5 * ((u - 0.5) / 0.2) ** 2),
                lambda u: np.sin(2 * np.pi * u))
    rows, starts, widths, kinds = [], [], [], []
    for width in range(2, longest + 1):
        for phase in (0.0, 0.25, 0.5, 0.75):
            u = (np.arange(width + 1) + phase) / width
            for family, f in enumerate(families):
                pulse = np.where(u < 1.0, f(np.minimum(u, 1.0)), 0.0)
                res = np.convolve(pulse, kernel)
                for n0 in range(-(res.size - 1), 1):  # the pulse's residual covers the peak
                    r = np.zeros(length)
                    r[before + n0 : before + n0 + res.size] = res
                    rows.append(r)
                    starts.append(n0)
                    widths.append(width)
                    kinds.append(family)
    t = np.array(rows)
    return (t / np.linalg.norm(t, axis=1, keepdims=True), np.array(starts), np.array(widths), np.array(kinds),
            before, length)


def _sharpness(sd: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The one-sample step test's ratio, over the last axis of the waveform's moves ``sd`` (``x[i+1] - x[i]``):
    the largest move among indices ``lo .. hi-1`` over the largest move the same way among the three on either
    side of it (at least 1e-12). Moves the other way do not count (the audio after a splice goes on moving by
    itself), unless the waveform comes straight back on both sides, by ``_SHARP_RETURN`` of the move or more: that
    is a pulse (a doublet +a, -a moves by a, -2a, a), and the move itself then counts as its neighbour. Needs
    ``lo >= 3`` and ``hi + 3 <= sd.shape[-1]``; shared by :meth:`ImpulseDetector._sharp_step` and its vectorised
    screen."""
    d = np.abs(sd)
    j = (lo + np.argmax(d[..., lo:hi], axis=-1))[..., None]
    peak = np.take_along_axis(d, j, axis=-1)[..., 0]
    same = np.take_along_axis(sd, j + np.array([-3, -2, -1, 1, 2, 3]), axis=-1)
    same *= np.sign(np.take_along_axis(sd, j, axis=-1))
    around = np.maximum(same.max(axis=-1), 1e-12)
    back = same[..., 2:4].max(axis=-1) <= -_SHARP_RETURN * peak
    return peak / np.where(back, np.maximum(around, peak), around)


_LP_ORDER = 8  # linear predictor that checks weak splice candidates
_LP_SPAN = 96  # samples it is fitted on, on each side
_FIT_BEFORE = 10  # residual samples fitted before the peak
_FIT_LEN = 24
_TEMPLATES, _TEMPLATE_START, _TEMPLATE_WIDTH, _N_STEP = _shape_templates()
_ONSET_SPAN = 8  # samples averaged on either side of a click to see whether the waveform came back
_ONSET_SHIFT = 1.0  # a move of the waveform larger than the pulse itself (times this) is an onset
_PLATEAU_RUN = 3  # identical samples that make a clipped flat top
_PLATEAU_MIN = 0.05  # smallest |level| of a clipped flat top (quiet 16-bit audio repeats samples by itself)
_PLATEAU_LOUD = 0.25  # two identical samples at the extreme make a flat top only this loud
_PLATEAU_NEAR = 6  # samples on either side of an event searched for a flat top
_PLATEAU_SPAN = 256  # samples on either side over which the flat top must be the extreme
_PULSE_EDGE = 0.3  # a run entered and left from under this fraction of its level ...
_PULSE_AROUND = 0.5  # ... with nothing else around above this fraction is a pulse (a click), not a clipped top
_PULSE_TOLERANCE = 0.02  # samples this close to the run's level (relative) belong to the pulse
_WEAK_CLICK_FIT = 0.9  # share of the residual a pulse must explain at a weak click candidate
_SAT_EDGE_MIN = 0.4  # a jump this large (full scale) in one sample ...
_SAT_EDGE_S = 0.010  # ... with half of it again this close on either side ...
_SAT_EDGE_REPEATS = 2  # ... this many times is an edge of a saturated near-square waveform, not a splice
_SAT_EDGE_NEAR = 8  # the jump is the largest one-sample move this close to the joint
_SAT_EDGE_TOP = 0.25  # ... unless one sample beyond it on some side the waveform sits this near the middle ...
_SAT_EDGE_ALONE = 0.4  # ... and the two moves before it and after it are all under this share of it
_SAT_TOP_LEVEL = 0.8  # a lone swing of a saturated master runs between samples this near its peak, either sign ...
_SAT_TOP_SHARE = 0.2  # ... in a window that spends this share of its samples there (flattened tops)
_TRAIN_S = 0.040  # a step with like steps this close on both sides (a 25 Hz period) ...
_TRAIN_LIKE = (0.7, 1.4)  # ... of this share of its size in the third difference, either sign ...
_TRAIN_ISOLATION = 5.0  # ... each this many times the median |third difference| around it ...
_TRAIN_AROUND = 16  # ... over this many samples on either side of its own 7, is an oscillator's edge
_TRAIN_PAIRS = 4  # like steps nearest the joint on either side whose lags the repeat check tries
_TRAIN_PAD = _TRAIN_AROUND + 8  # samples the test reads beyond its window on either side
_HOLD_SPAN = 64  # samples on either side searched for a sample-and-hold grid ...
_HOLD_MOVES = 4  # ... in the channels that move at least this often ...
_HOLD_MIN = 3  # ... with this many samples or more between moves
_SHARP_RETURN = 0.3  # moves back of this share of the jump right before and after it make it a pulse
_PINNED_SPAN = 64  # samples on either side of a quiet-side splice candidate ...
_PINNED_MIN = 0.5  # ... that, all this loud ...
_PINNED_RANGE = 0.1  # ... and within this of each other, make a saturated flat top, not a quiet passage
_STAY_SLIDE = 4  # samples either side of a joint over which the step and doublet shapes are slid
_FLAT_NEAR = 24  # samples on either side of a splice candidate searched for a clipped flat top
_REP_GAP = 6  # samples after the residual peak skipped by the repeat test (the joint lies within them)
_REP_LEN = 16  # samples compared
_REP_MIN_LAG, _REP_MAX_LAG = 20, 2048  # lags searched
_REP_MATCH_DB = -40.0  # largest relative error of the repeated stretch
_REP_CONTRAST_DB = 15.0  # how much worse the same lag must match before the joint
_REP_STRAIGHT = 1e-8  # a stretch whose straight-line fit leaves less than this share (-80 dB) is straight
_REP_HISTORY = _REP_MAX_LAG + 2 * _REP_GAP + _REP_LEN + 64  # raw samples the repeat tests need before a candidate
_WHITE_ORDER = 16  # autoregressive model that whitens the music around a splice candidate ...
_WHITE_SPAN_S = 0.006  # ... fitted on this long on each side ...
_WHITE_GUARD = 6  # ... leaving out this many samples on each side of the joint
_WHITE_HALF = 12  # the whitened residual is fitted this many samples before the joint (and its order after)
_WHITE_SLIDE = 3  # step and pulse positions tried this many samples either side of the joint
_WHITE_MARGIN = 20.0  # twice the log-likelihood ratio by which the step must beat every pulse of 1-5 samples
_WHITE_PULSE_SHARE = 0.9  # share of the whitened music a pulse must explain to be a click there ...
_WHITE_CLICK_DB = 7.0  # ... at a pair this far over its near levels and its quieter far level, no candidate else ...
_WHITE_SCREEN = 0.7  # ... once a rectangular pulse explains this share of its third difference
_WHITE_STEP_SHARE = 0.9  # share of the whitened music of every channel a joint's step must explain
_WHITE_JOINT_DB = 3.5  # a pair this far over its near levels and its quieter far level is looked at for a joint
_WHITE_JOINT_RATIO = 10.0 ** (_WHITE_JOINT_DB / 10.0)
_WHITE_JOINT_SCREEN = 0.5  # ... once a step explains this share of its third difference on every channel together
_ROUNDED_PEAK = 0.05  # a pulse at the peak of the waveform around, with the samples beside it this close, is a peak
_SILENCE_RUN = 8  # exact zeros (all channels) on one side of a step: a cut into or out of digital silence
# raw samples kept before the first undecided quad: the predictors' span and the flat-top search
_SMOOTH_LONGEST_S = 0.0003  # longest smooth pulse taken for a click (13 samples at 44.1 kHz)
_SMOOTH_STEP_SHARE = 0.5  # the waveform after a smooth click is back within this share of its height
_SMOOTH_FAR_DB = 15.0  # a pair this far over the far levels on both sides is a candidate for a smooth click
_SMOOTH_RECURRENT = 1  # smooth pulses with more look-alikes than this in the stream are music
_SMOOTH_LOOK_DB = 2.0  # ... whose residual levels lie this close
_WEAK_SMOOTH_FIT = 0.95  # share of the residual a smooth pulse must explain at a weak click candidate
_DECAY_BACK = 0.25  # a spike whose step decays back to this share of its height within _SMOOTH_LONGEST_S is a click
_RAW_BEFORE = max(2 * _LP_SPAN, _PLATEAU_SPAN + _PLATEAU_NEAR + 2 * QUAD * MICRO)


@functools.lru_cache(maxsize=8)
def _lowpass_templates(L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residual shapes of pulses of 1-5 samples low-passed (ideal low-pass) at 15-45 % of the sampling rate,
    over the ``2 L + 1`` residual samples centred on the residual peak, unit norm; with each pulse's first
    sample relative to the peak and its width."""
    n = np.arange(-L - ORDER - 8, L + 9, dtype=np.float64)  # raw sample offsets from the peak
    j0 = int(np.flatnonzero(n == -L)[0]) - ORDER  # residual element j: raw offset n[j + ORDER]
    offsets = np.arange(-9, 9)  # every sample a pulse of 1-5 samples starting at -width-4 .. 4 covers
    halves = np.arange(-12, 7) / 2.0  # joints of the low-passed steps, between samples too
    rows, starts, widths = [], [], []
    for fc in np.arange(0.15, 0.4501, 0.025):
        # one low-passed sample at each offset; a pulse adds its samples in order (the same sums, bit for bit,
        # as adding the shifted impulses one by one)
        one = 2 * fc * np.sinc(2 * fc * (n[None, :] - offsets[:, None]))
        for width in range(1, 6):
            first = np.arange(-width - 4, 5)
            t = one[first - offsets[0]].copy()
            for i in range(1, width):
                t += one[first + i - offsets[0]]
            rows.append(np.diff(t, ORDER, axis=1)[:, j0 : j0 + 2 * L + 1])
            starts.extend(first.tolist())
            widths.extend([width] * first.size)
        # a step (a splice) low-passed later: the running sum of the low-passed impulse, its joint anywhere
        # between two samples (a step made at a lower rate and upsampled); width 0
        t = np.cumsum(2 * fc * np.sinc(2 * fc * (n[None, :] - halves[:, None])), axis=1)
        rows.append(np.diff(t, ORDER, axis=1)[:, j0 : j0 + 2 * L + 1])
        starts.extend(math.ceil(h) for h in halves.tolist())
        widths.extend([0] * halves.size)
    t = np.concatenate(rows)
    return t / np.linalg.norm(t, axis=1, keepdims=True), np.array(starts), np.array(widths)


_RING_FC_STEP = 0.005  # cutoff grid of the ringing test, fraction of fs: over 1.5 ms the ringing keeps its phase
# share of the residual the coarse band-limited pulse must explain before the fine ringing test is made (low-passed
# clicks on the benchmark corpora: 0.61-1.0 coarse; 95 % of the other candidates fall below)
_RING_COARSE_FIT = 0.6


@functools.lru_cache(maxsize=8)
def _ringing_templates(L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residual shapes of pulses of 1-5 samples low-passed (ideal low-pass) at 14-46 % of the sampling rate on a
    fine cutoff grid, over the ``2 L + 1`` residual samples centred on the residual peak, unit norm; with each
    shape's cutoff (fraction of fs), width, first sample relative to the peak, and the residual index of the
    pulse's centre."""
    shifts = np.arange(-9, 9)  # first samples of the pulses
    n = np.arange(-L - ORDER - 14, L + 16, dtype=np.float64)  # raw offsets from the peak
    rows, fcs, widths, starts = [], [], [], []
    for fc in np.arange(0.14, 0.46 + 1e-9, _RING_FC_STEP):
        r1 = np.diff(2 * fc * np.sinc(2 * fc * n), ORDER)  # element j: raw offset n[j + ORDER]
        j0 = int(np.flatnonzero(n == -L)[0]) - ORDER
        # a one-sample pulse at offset s, over residual samples of raw offsets -L .. L
        one = np.stack([r1[j0 - s : j0 - s + 2 * L + 1] for s in shifts.tolist()])
        run = np.cumsum(one, axis=0)  # run[i] - run[i - w]: pulse of w samples ending at shifts[i]
        for width in range(1, 6):
            for i in range(len(shifts)):
                s = int(shifts[i]) - width + 1
                if not -width - 4 <= s <= 4:
                    continue
                rows.append(run[i] - (run[i - width] if i >= width else 0.0))
                fcs.append(fc)
                widths.append(width)
                starts.append(s)
    t = np.array(rows)
    starts_a, widths_a = np.array(starts), np.array(widths)
    # residual index of the pulse's centre (the third difference at raw offset m is centred at m - 1.5)
    centre = L + starts_a + (widths_a - 1) / 2.0 + ORDER / 2.0
    return t / np.linalg.norm(t, axis=1, keepdims=True), np.array(fcs), widths_a, starts_a, centre


class ImpulseDetector:
    """Streaming detector of clicks, discontinuities (splices) and noise bursts.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        Channels of every block.
    bits_per_sample : int or None
        Container bit depth; only raises the absolute floors above the quantisation noise of very short
        words (the defaults are far above 16-bit noise).
    click_threshold_db : float
        How far a microframe pair's residual energy must stand above every local level to be an event.
    splice_threshold_db : float
        A weaker rise that still makes a splice candidate when every channel shows it at the same pair (a
        splice cuts all channels at one sample). Such candidates become a discontinuity only if the step
        shape fits better than a pulse and a linear predictor breaks there from both sides.
    splice_prediction_db : float
        How far the one-step prediction errors next to a weak splice candidate must stand above the
        predictors' fitting error, in every channel and from both sides.
    splice_one_db : float
        A rise of one channel alone that makes a weak splice candidate.
    splice_sharpness_db : float
        How far the waveform's one-sample move at a weak splice must stand above its moves the same way in
        the three samples on either side, in some channel.
    weak_click_db : float
        A rise of every channel that makes a weak click candidate (pulse shape fit of 0.9 required).
    weak_one_click_db : float
        A rise of one channel that makes a weak click candidate, held to the same shape test (12 dB: a one-sample
        click of 0.3 on a saturated pop or electronic mix stood 11.8-13.3 dB over its rough residual; on 26 kept
        corpora this added two planted clicks and no false alarm, 11 dB added four discontinuity false alarms).
    click_shape_fit : float
        Share of the residual's energy around a click that the best rectangular pulse of 1-5 samples must
        explain (planted clicks: mostly 0.9-1.0, but 0.55-0.58 for 2-5-sample clicks on bright synth music whose
        own sample-sharp edges share the 24-sample fit window; the smooth bumps of synthesised percussion:
        0.1-0.3). 0.5 found two more planted clicks on 24 kept corpora than 0.6 with no false alarm added; 0.45
        added one clean false alarm, 0.3 eight, one of them on a clean file).
    smooth_click_fit : float or None
        Share of the residual's energy around a strong click candidate, turned down by the rectangular pulses,
        that the best smooth pulse (raised cosine, Gaussian bump or sine cycle of up to 0.3 ms) must explain for
        a click; None turns the smooth pulses (and the decaying-spike test) off. 0.8: planted smooth pulses fit
        0.8-1.0, the synth edges that the come-back test then turns down 0.80-0.85.
    white_click_db : float or None
        A rise of some channel over its near levels and its quieter far level that makes a pair no other test took
        a candidate for the whitened music's tests (a click, or a joint, only the music's own model shows); None
        turns every test on the whitened music made since session 32 off (those candidates, and the joints the
        one-sample step test or the saturated-edge rule turned down). 7 dB: the missed clicks stood 7.5-13.4 dB.
    lowpass_click_db : float
        A rise of some channel over its local levels (and ``lowpass_far_db`` over the far ones) that makes a
        candidate for a click that was low-passed later (a lossy or band-limited copy rings around the click).
        Default (None): 8 dB, and 6 dB at 88.2 kHz and above. The microframes are 8 samples at every rate, so
        at a high rate a click low-passed at 16-20 kHz spreads its main lobe and first sidelobes over the
        microframes beside it: in a 96 kHz file made from a lossy 44.1 kHz source, a -0.5 click stood only
        7.3-8.0 dB over them. 6 dB there: clicks planted into three such songs 20 of 36 found against 12 of 36,
        the five held-out corpora one click more (that one) and no false alarm added, five of the genre
        benchmark's pieces at 96 kHz low-passed at 11 and 16 kHz still clean. At 48 kHz the same 6 dB made two
        band-limited steps and a click of the live piece's claps low-passed at 11 kHz. (Not under 6 dB, the
        weak splice candidates' threshold: below it the two stages would look at different pairs, and 5 dB
        lost three planted splices.)
    lowpass_click_fit : float
        Share of the residual's energy over about 1.5 ms either side that the best band-limited pulse (1-5
        samples behind an ideal low-pass at 14-46 % of fs) must explain at such a candidate.
    lowpass_ringing_fit : float
        Share of the residual's energy that the pulse's sidelobes must explain on each side of it, with the
        amplitude of the whole fit within 3 dB: the ringing of a brick wall, which smooth bumps and musical
        transients do not have.
    min_click_dbfs : float
        Smallest impulse amplitude reported, dBFS (a floor for digital silence and dithered tails).
    burst_threshold_db : float
        Rise (and fall) of the residual level that opens (and closes) a noise burst.
    burst_flatness_db : float
        Largest level difference between the first and the last third of a burst (a struck sound decays).
    min_burst_dbfs : float
        Smallest white-noise RMS of a burst that is reported, dBFS.
    burst_min_s, burst_max_s : float
        Durations of a noise burst (1.5 ms, 350 ms); under 8 ms it is a glitch, held to ``_GLITCH_MIN_DB``.
    burst_min_db : float
        How far the burst's residual level must stand above the music around it.
    burst_steadiness_db : float
        Largest standard deviation of the burst's level over 2 ms chunks (its first and last 0.7 ms left out).
    recurrent_bursts : int
        A burst with more look-alikes than this in the stream (same length within 15 %, same level within
        4 dB, counting neighbouring bins) is taken for a sound of the music, such as a shaker sample.
    merge_s : float
        Detections of one kind and channel closer than this are merged.
    splice_quiet_side : bool
        Also take as weak splice candidates the pairs that stand out only against the quieter side (a splice into
        or out of a louder passage); they are screened for a one-sample move and then held to the same splice
        tests. Off, a splice is a candidate only against the louder side.
    splice_whitened_db : float
        A weak splice candidate that passes the one-sample step test but whose one-step predictors do not both
        break is still a splice when, with the music around it whitened by one autoregressive model fitted on
        both sides, a step explains this much more than the model's fitting error (summed over the channels)
        and beats every pulse of 1-5 samples (30 dB: on the kept corpora of seeds 21-27 the non-planted
        candidates that got this far reached 24 dB, the three planted splices it adds 31-36 dB).

    Examples
    --------
    >>> import numpy as np
    >>> sr = 44100
    >>> x = np.tile(0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr), (2, 1))
    >>> x[0, sr] += 0.2
    >>> d = ImpulseDetector(sr, 2)
    >>> d.process(x)
    >>> [(e.kind, round(e.start_s, 3), e.channel) for e in d.finish()]
    [('click', 1.0, 0)]
    """

    def __init__(self, sample_rate: int, channels: int, *, bits_per_sample: int | None = None,
                 click_threshold_db: float = 15.0, splice_threshold_db: float = 6.0, splice_prediction_db: float = 16.0, splice_one_db: float = 9.0, splice_sharpness_db: float = 10.0, weak_click_db: float = 12.0, weak_one_click_db: float = 12.0, click_shape_fit: float = 0.5,
                 smooth_click_fit: float | None = 0.8, white_click_db: float | None = _WHITE_CLICK_DB,
                 lowpass_click_db: float | None = None, lowpass_click_fit: float = 0.8, lowpass_ringing_fit: float = 0.4, lowpass_far_db: float = 10.0, lowpass_step_fit: float = 0.6,
                 min_click_dbfs: float = -50.0,
                 burst_threshold_db: float = 6.0, burst_flatness_db: float = 4.0, min_burst_dbfs: float = -45.0, burst_min_s: float = 0.0015,
                 burst_max_s: float = 0.35, recurrent_bursts: int = 3, burst_min_db: float = 9.5,
                 burst_steadiness_db: float = 1.6, merge_s: float = 0.02, splice_quiet_side: bool = True,
                 splice_whitened_db: float = 30.0, native: bool = False):
        options = {k: v for k, v in locals().items() if k not in ("self", "sample_rate", "channels", "native")}
        check_channels(channels)
        if isinstance(sample_rate, bool) or not (isinstance(sample_rate, (int, float, np.integer, np.floating))
                                                  and math.isfinite(sample_rate) and sample_rate >= 8000):
            raise ValueError(f"sample_rate {sample_rate!r} must be a number of Hz, at least 8000")
        if bits_per_sample is not None and not (isinstance(bits_per_sample, (int, np.integer)) and bits_per_sample >= 2):
            raise ValueError(f"bits_per_sample {bits_per_sample!r} must be an integer >= 2 or None")
        if not 0 < burst_min_s < burst_max_s <= 1.0:
            raise ValueError(f"burst durations {burst_min_s}..{burst_max_s} s must satisfy 0 < min < max <= 1")
        if merge_s < 0:
            raise ValueError(f"merge_s {merge_s!r} must be >= 0")
        self.channels = int(channels)
        # Every scale below (8-sample microframes, 3-sample sharpness, the pulse families) was measured at 44.1-96
        # kHz. Below 32 kHz the music itself fills the band to Nyquist and its attacks become one-sample steps:
        # clean songs resampled to 22.05 kHz raised 35 splices per half hour, to 16 kHz 52, to 11.025 kHz 68 and
        # 211 clicks (none at 32 kHz). Such a stream is upsampled, band-limited, to an integer multiple of its
        # rate of 44.1 kHz or more and analysed there, where an attack is a band-limited edge again; from 22.05
        # kHz up its clicks still come from a second analysis at the stream's own rate (``native``), where a
        # one-sample click is a one-sample pulse (see ``_LOW_RATE_CLICKS_HZ``).
        rate = float(sample_rate)
        self._up = 1 if (native or rate >= _NATIVE_MIN_HZ) else math.ceil(_ANALYSIS_MIN_HZ / rate)
        self._resampler = None
        self._native: ImpulseDetector | None = None
        if self._up > 1:
            import soxr  # here: only low-rate streams need it

            self._resampler = soxr.ResampleStream(rate, rate * self._up, self.channels, dtype="float32", quality="HQ")
            if rate >= _LOW_RATE_CLICKS_HZ:
                self._native = ImpulseDetector(sample_rate, channels, native=True, **options)
            sample_rate = rate * self._up
        self.sample_rate = float(sample_rate)
        self._pairs = [(c, c + 1) for c in range(0, self.channels - 1, 2)]
        self._click_ratio = 10.0 ** (click_threshold_db / 10.0)
        self._splice_ratio = 10.0 ** (min(splice_threshold_db, click_threshold_db) / 10.0)
        self._splice_lp_ratio = 10.0 ** (splice_prediction_db / 10.0)
        self._one_db = float(min(splice_one_db, click_threshold_db))
        self._one_ratio = 10.0 ** (self._one_db / 10.0)
        self._quiet_side = bool(splice_quiet_side)
        self._white_ratio = 10.0 ** (splice_whitened_db / 10.0)
        self._white_span = max(4 * _WHITE_ORDER, round(_WHITE_SPAN_S * self.sample_rate))
        self._sharp_ratio = 10.0 ** (splice_sharpness_db / 20.0)
        self._weak_click_ratio = 10.0 ** (min(weak_click_db, click_threshold_db) / 10.0)
        self._weak_one_click_ratio = 10.0 ** (min(weak_one_click_db, click_threshold_db) / 10.0)
        self._click_fit = float(click_shape_fit)
        self._smooth_fit = None if smooth_click_fit is None else float(smooth_click_fit)
        self._white_click_ratio = None if white_click_db is None else 10.0 ** (white_click_db / 10.0)
        self._smooth_far_ratio = 10.0 ** (_SMOOTH_FAR_DB / 10.0)
        self._smooth_looks: list[tuple[int, int, float]] = []  # (family, width, dB) of every smooth pulse fitted
        self._smooth_events: list[tuple[tuple, tuple[int, int, float]]] = []  # smooth clicks, with their look
        self._smooth_len = max(12, round(_SMOOTH_LONGEST_S * self.sample_rate))
        if lowpass_click_db is None:
            lowpass_click_db = _LP_CLICK_HIRES_DB if sample_rate >= _HIRES_HZ else _LP_CLICK_DB
        self._lp_click_ratio = 10.0 ** (min(lowpass_click_db, click_threshold_db) / 10.0)
        self._lp_click_fit = float(lowpass_click_fit)
        self._lp_ring_fit = float(lowpass_ringing_fit)
        self._lp_step_fit = float(lowpass_step_fit)
        self._lp_far_ratio = 10.0 ** (min(lowpass_far_db, click_threshold_db) / 10.0)
        self._lp_half = max(8, round(0.0015 * self.sample_rate))
        self._lp_templates = None
        lsb = 2.0 ** (1 - int(bits_per_sample)) if bits_per_sample else 0.0
        min_amp = max(10.0 ** (min_click_dbfs / 20.0), 8 * lsb)
        self._min_pair_energy = _IMPULSE_ENERGY * min_amp * min_amp
        self._min_jump = min_amp  # the smallest waveform jump reported as a splice
        # raw samples kept before the first undecided pair: the waveform tests look this far back
        self._train = round(_TRAIN_S * self.sample_rate)
        self._raw_before = max(_RAW_BEFORE, round(_SAT_EDGE_S * self.sample_rate) + 64,
                               self._train + _TRAIN_PAD + 64, _REP_HISTORY)
        self._burst_ratio = 10.0 ** (burst_threshold_db / 10.0)
        self._flat_ratio = 10.0 ** (burst_flatness_db / 10.0)
        burst_rms = max(10.0 ** (min_burst_dbfs / 20.0), 8 * lsb)
        # white noise of that RMS: residual energy per quad (the residual filter has a power gain of 20)
        self._min_burst_energy = _IMPULSE_ENERGY * burst_rms * burst_rms * MICRO * QUAD
        self._short_burst = round(_SHORT_BURST_S * sample_rate)
        self._glitch = round(_GLITCH_S * sample_rate)
        self._merge_s = float(merge_s)
        self._recurrent = int(recurrent_bursts)
        self._burst_min_db = float(burst_min_db)
        self._steady_db = float(burst_steadiness_db)
        quad_rate = self.sample_rate / (MICRO * QUAD)
        self._nq = max(4, 2 ** round(math.log2(0.006 * quad_rate)))  # far windows, ~6 ms
        self._gi = max(2, round(0.002 * quad_rate))  # burst edge windows, ~2 ms
        self._go = max(6, round(0.010 * quad_rate))  # music around a burst, ~10 ms
        self._chunk = max(1, round(0.002 * quad_rate))  # chunks of the steadiness test, ~2 ms
        self._bmin = max(1, round(burst_min_s * quad_rate))
        self._bmax = round(burst_max_s * quad_rate)
        # quads of history each stage needs before and after the quads it decides
        self._sat_before = round(_SAT_EDGE_S * self.sample_rate)
        # the saturated-edge test looks as far after a joint too: decide clicks late enough for that (the far
        # windows alone gave 5.9-7.1 ms, and a saturated rock master's edge 6.6 ms after a jump went unseen)
        self._click_before = self._nq + 2
        # ... and the edge-train test 40 ms (and its own surroundings) after it
        look = max(self._sat_before, self._train + _TRAIN_PAD)
        self._click_after = max(self._nq + 3, -(-(look + MICRO) // (QUAD * MICRO)) + 1)
        self._sat_after = min(self._sat_before, (self._click_after - 1) * QUAD * MICRO - MICRO)
        self._burst_before, self._burst_after = self._go + 3, self._bmax + self._go + 2
        self._burst_busy = [-1] * self.channels  # per channel: the quad before which a burst was decided
        pad = max(self._click_before, self._burst_before + (max(1, round(_CROSS_GAIN_S * quad_rate))
                                                             if self.channels > 1 else 0))
        self._h0 = -pad  # quad index of the first history column; zeros stand for the time before the stream
        self._E = np.zeros((self.channels, pad * QUAD))
        self._X = np.zeros((len(self._pairs), pad * QUAD))
        self._raw: np.ndarray | None = None  # float32 samples from absolute index _raw_start
        self._raw_start = -ORDER
        self._n = 0  # samples received
        self._mf = 0  # microframes computed
        self._click_next = 0  # first quad not yet decided
        self._burst_next = 0
        # the second burst pass, on each paired channel less what the other channel predicts of it
        self._cross_next = 0
        self._cross_busy = [-1] * self.channels
        self._cross_shapes: list[tuple[int, float]] = []
        self._cross_events: list[tuple] = []
        self._cross_q = max(1, round(_CROSS_GAIN_S * quad_rate)) if self._pairs else 0
        self._XQ: np.ndarray | None = None  # cross energies of the history's first quads (the rest not yet made)
        self._events: list[tuple] = []  # (kind, start_sample, end_sample, channel, value, detail)
        self._burst_shapes: list[tuple[int, float]] = []  # (samples, dB) of burst candidates turned down
        self._ones = np.ones(MICRO, dtype=np.float32)
        self._buf: np.ndarray | None = None
        self._work: np.ndarray | None = None

    # ------------------------------------------------------------------ streaming
    def process(self, block) -> None:
        """Feed the next block, shaped ``(channels, n)`` (NumPy or CuPy, any ``n``)."""
        _, block = as_block(block, self.channels)
        block = to_numpy(block)
        if self._native is not None:
            self._native.process(block)
        if self._resampler is not None:
            block = self._resampler.resample_chunk(np.ascontiguousarray(block.T, dtype=np.float32)).T
        self._analyse(block)

    def _analyse(self, block: np.ndarray) -> None:
        n = block.shape[1]
        if n == 0:
            return
        if self._raw is None:  # repeat the first sample so the residual starts at zero
            self._raw = np.repeat(block[:, :1].astype(np.float32), ORDER, axis=1)
        # one float32 buffer holds the carried samples and the new block (reused while blocks keep their size)
        t = self._raw.shape[1]
        if self._buf is None or self._buf.shape[1] < t + n or self._buf.shape[1] > 4 * (t + n) + 4096:
            self._buf = np.empty((self.channels, t + n), dtype=np.float32)
        buf = self._buf[:, : t + n]
        buf[:, :t] = self._raw
        buf[:, t:] = block
        self._raw = buf
        self._n += n
        self._features(self._n // MICRO)
        last = self._mf // QUAD
        self._decide(last - self._click_after, last - self._burst_after, last)
        self._trim()
        self._raw = self._raw.copy()  # the buffer is overwritten by the next block

    def finish(self) -> list[Detection]:
        """Decide what is left and return every detection, sorted by time."""
        if self._resampler is not None:
            self._analyse(self._resampler.resample_chunk(np.zeros((0, self.channels), np.float32), last=True).T)
            self._resampler = None
        if self._raw is not None and self._mf:
            last = -(-self._mf // QUAD)
            extra = (last + max(self._click_after, self._burst_after)) * QUAD - self._mf
            self._E = np.concatenate([self._E, np.zeros((self.channels, extra))], axis=1)
            self._X = np.concatenate([self._X, np.zeros((len(self._pairs), extra))], axis=1)
            self._decide(last, last, last)
            self._raw = None
        found = self._merged()
        if self._native is not None:
            # a low-rate stream: its clicks from the analysis at its own rate, the rest from the upsampled one
            found = sorted([d for d in found if d.kind != "click"]
                           + [d for d in self._native.finish() if d.kind == "click"], key=lambda d: d.start_s)
        return found

    # ------------------------------------------------------------------ features
    def _features(self, mf_end: int) -> None:
        n_new = mf_end - self._mf
        if n_new <= 0:
            return
        s0 = self._mf * MICRO - ORDER - self._raw_start
        seg = self._raw[:, s0 : s0 + n_new * MICRO + ORDER]
        m = n_new * MICRO
        if self._work is None or self._work.shape[2] < m + ORDER or self._work.shape[2] > 4 * m + 4096:
            self._work = np.empty((2, self.channels, m + ORDER), dtype=np.float32)
        w1, w2 = self._work[0], self._work[1]
        # third difference, each pass into a reused buffer (fresh arrays of this size cost page faults)
        np.subtract(seg[:, 1:], seg[:, :-1], out=w1[:, : m + 2])
        np.subtract(w1[:, 1 : m + 2], w1[:, : m + 1], out=w2[:, : m + 1])
        np.subtract(w2[:, 1 : m + 1], w2[:, :m], out=w1[:, :m])
        d = w1[:, :m]
        sq = np.multiply(d, d, out=w2[:, :m])
        E = (sq.reshape(self.channels, n_new, MICRO) @ self._ones).astype(np.float64)
        X = np.empty((len(self._pairs), n_new))
        for k, (a, b) in enumerate(self._pairs):
            prod = np.multiply(d[a], d[b], out=w2[a, :m])
            X[k] = prod.reshape(n_new, MICRO) @ self._ones
        self._E = np.concatenate([self._E, E], axis=1)
        self._X = np.concatenate([self._X, X], axis=1)
        self._mf = mf_end

    def _trim(self) -> None:
        keep = min(self._click_next - self._click_before, self._burst_next - self._burst_before,
                   self._cross_next - self._burst_before - self._cross_q if self._pairs else self._burst_next)
        cut = (keep - self._h0) * QUAD
        if cut > 0:
            self._E = self._E[:, cut:]
            self._X = self._X[:, cut:]
            if self._XQ is not None:
                self._XQ = self._XQ[:, cut // QUAD :]
            self._h0 = keep
        # raw samples: what the next features need, and the waveform around every undecided click
        keep_sample = min(self._mf * MICRO - ORDER, self._click_next * QUAD * MICRO - self._raw_before)
        cut = keep_sample - self._raw_start
        if cut > 0:
            self._raw = self._raw[:, cut:]
            self._raw_start = keep_sample

    def _decide(self, click_end: int, burst_end: int, last: int) -> None:
        """Decide clicks up to quad ``click_end``, burst onsets up to ``burst_end``; ``last`` = quads of audio."""
        if click_end <= self._click_next and burst_end <= self._burst_next and (
                not self._pairs or burst_end <= self._cross_next):
            return
        cs = self._quad_cumsum(self._E)
        if click_end > self._click_next:
            self._clicks(self._click_next, click_end, cs)
            self._click_next = click_end
        if burst_end > self._burst_next:
            self._burst_next = self._bursts(self._burst_next, burst_end, last, cs, self._E, self._burst_busy,
                                            self._burst_shapes, self._events)
        if self._pairs and burst_end > self._cross_next:
            cross = np.zeros((self.channels, cs.shape[1]))
            np.cumsum(self._cross_energy(cs), axis=1, out=cross[:, 1:])
            self._cross_next = self._bursts(self._cross_next, burst_end, last, cross, None,
                                            self._cross_busy, self._cross_shapes, self._cross_events, own=cs)

    def _cross_energy(self, cs: np.ndarray) -> np.ndarray:
        """The history's quad energies of each paired channel less what the other channel predicts of it (``cs``:
        the plain energies' quad cumulative sums).

        A burst of noise in one channel (or independent noise in both) is not in the other channel, while much of
        the music is (whatever sits in the middle of the stereo image): each channel's residual less ``g`` times
        the other's, ``g`` fitted by least squares over the ``_CROSS_GAIN_S`` before each quad, keeps the burst
        and removes the shared music; over a quad that is ``E_c - 2 g X + g^2 E_o`` from the quad sums. Channels in
        no pair keep their own energy (and find nothing new here). Only the quads new since the last call are
        made (the history keeps ``_CROSS_GAIN_S`` before them)."""
        nq = cs.shape[1] - 1
        done = 0 if self._XQ is None else self._XQ.shape[1]
        if done >= nq:
            return self._XQ
        G = self._cross_q
        lo_q = max(0, done - G)
        csx = self._quad_cumsum(self._X[:, lo_q * QUAD : nq * QUAD])
        q = np.arange(done, nq)  # the new quads
        back = np.maximum(q - G, lo_q)  # sums over the (up to) G quads before each quad: cs[q] - cs[q - G]
        eq = cs[:, done + 1 : nq + 1] - cs[:, done:nq]  # the new quads' own energies
        new = eq.copy()
        for k, (a, b) in enumerate(self._pairs):
            sx = csx[k, q - lo_q] - csx[k, back - lo_q]
            xq = csx[k, q + 1 - lo_q] - csx[k, q - lo_q]
            for c, o in ((a, b), (b, a)):
                so = cs[o, q] - cs[o, back]
                g = np.where(so > 1e-30, sx / np.maximum(so, 1e-30), 0.0)
                new[c] = np.maximum(eq[c] - 2.0 * g * xq + g * g * eq[o], 0.0)
        self._XQ = new if self._XQ is None else np.concatenate([self._XQ, new], axis=1)
        return self._XQ

    @staticmethod
    def _quad_cumsum(E: np.ndarray) -> np.ndarray:
        """Cumulative sum over the quads of the history, with a leading zero column."""
        nq = E.shape[1] // QUAD
        cs = np.zeros((E.shape[0], nq + 1))
        # strided adds: a reduction over a short last axis is several times slower in NumPy
        end = nq * QUAD
        q = E[:, 0:end:QUAD] + E[:, 1:end:QUAD]
        q += E[:, 2:end:QUAD]
        q += E[:, 3:end:QUAD]
        np.cumsum(q, axis=1, out=cs[:, 1:])
        return cs

    # ------------------------------------------------------------------ clicks and splices
    @staticmethod
    def _pair_near(E: np.ndarray, o: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Energy of the pairs starting at columns ``o .. o+m`` and of the two microframes on either side."""
        pair = E[..., o : o + m] + E[..., o + 1 : o + 1 + m]
        near_b = E[..., o - 2 : o - 2 + m] + E[..., o - 1 : o - 1 + m]
        near_a = E[..., o + 2 : o + 2 + m] + E[..., o + 3 : o + 3 + m]
        return pair, near_b, near_a

    def _far_sums(self, cs: np.ndarray, q: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Sums over the far windows before and after quads ``q .. q+n`` (history column indices)."""
        nq = self._nq
        before = cs[..., q - 1 : q - 1 + n] - cs[..., q - 1 - nq : q - 1 - nq + n]
        after = cs[..., q + 2 + nq : q + 2 + nq + n] - cs[..., q + 2 : q + 2 + n]
        return before, after

    def _ratio(self, pair, near_b, near_a, far_b, far_a, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair energy over twice the largest local level (per microframe), and the pair's excess energy."""
        far = np.maximum(far_b, far_a) * (1.0 / (QUAD * self._nq))
        level = np.maximum(np.maximum(near_b, near_a) * 0.5, np.repeat(far, QUAD, axis=-1)) * 2.0
        # the floor: an impulse of the smallest reported size in digital silence sits right at the threshold
        return pair / (level + self._min_pair_energy / self._click_ratio), pair - level

    def _clicks(self, qa: int, qb: int, cs: np.ndarray) -> None:
        n = qb - qa
        m = n * QUAD
        q = qa - self._h0
        o = q * QUAD
        pair, near_b, near_a = self._pair_near(self._E, o, m)
        far_b, far_a = self._far_sums(cs, q, n)
        ratio, excess = self._ratio(pair, near_b, near_a, far_b, far_a, n)
        plain = ratio.copy() if self._pairs else ratio
        if self._pairs:
            csx = self._quad_cumsum(self._X)
            xpair, xnb, xna = self._pair_near(self._X, o, m)
            xfb, xfa = self._far_sums(csx, q, n)
            for k, (a, b) in enumerate(self._pairs):
                for c, oth in ((a, b), (b, a)):
                    # least-squares gain predicting channel c from the other one, fitted on the far windows;
                    # the same gain for every part of the test so that sound common to both cancels alike
                    g = (xfb[k] + xfa[k]) / (far_b[oth] + far_a[oth] + 1e-30)
                    gm = np.repeat(g, QUAD)

                    def err(ec, x, eo, gain):
                        # ec - 2 g x + g^2 eo, in place on one temporary
                        t = gain * eo
                        t -= x
                        t -= x
                        t *= gain
                        t += ec
                        return np.maximum(t, 0.0, out=t)

                    r, _ = self._ratio(err(pair[c], xpair[k], pair[oth], gm), err(near_b[c], xnb[k], near_b[oth], gm),
                                       err(near_a[c], xna[k], near_a[oth], gm), err(far_b[c], xfb[k], far_b[oth], g),
                                       err(far_a[c], xfa[k], far_a[oth], g), n)
                    np.maximum(ratio[c], r, out=ratio[c])
        hit = (ratio >= self._click_ratio) & (pair >= self._min_pair_energy)
        score = np.where(hit, ratio, 0.0).max(axis=0)
        weak_click = None
        top = functools.reduce(np.maximum, plain) if self.channels > 1 else plain[0]
        # the pairs where some channel rises by the smallest ratio of the weak tests below: only these are looked at
        rising = np.flatnonzero(top >= min(self._splice_ratio, self._lp_click_ratio))
        quiet_plain = None
        if self._quiet_side and self._splice_ratio < self._click_ratio:
            # a splice into a louder passage (or out of one) looks like an onset against the louder side; against
            # the quieter side it stands out: such pairs are weak splice candidates too, never clicks. Only the
            # pairs over the quieter near level can stand out against the quieter side: the rest is skipped.
            # (the quiet side's level is at least its near level, so a pair under these bounds cannot qualify)
            near = np.minimum(near_b, near_a)
            near += self._min_pair_energy / self._click_ratio
            near = np.divide(pair, near, out=near)
            # (mono: its one channel must break by the one-channel margin, as in the weak test below)
            every = self._splice_ratio if self.channels > 1 else self._one_ratio
            pre = np.flatnonzero((near >= every).all(axis=0) | (near >= self._one_ratio).any(axis=0))
            if pre.size:
                per = 1.0 / (QUAD * self._nq)
                quad = pre // QUAD
                lb = np.maximum(near_b[:, pre] * 0.5, far_b[:, quad] * per)
                la = np.maximum(near_a[:, pre] * 0.5, far_a[:, quad] * per)
                qp = np.maximum(plain[:, pre], pair[:, pre] / (np.minimum(lb, la) * 2.0
                                                               + self._min_pair_energy / self._click_ratio))
                quiet_plain = plain.copy()
                quiet_plain[:, pre] = qp
                e_pre = pair[:, pre]
                strong_enough = (((qp.min(axis=0) >= every) & (e_pre.min(axis=0) >= self._min_pair_energy))
                                 | ((qp.max(axis=0) >= self._one_ratio) & (e_pre.max(axis=0) >= self._min_pair_energy)))
                extra = pre[strong_enough & (top[pre] < self._splice_ratio)]
                if extra.size:
                    # most are onsets of the music, whose rise is spread over several samples: only pairs where
                    # the waveform moves in one sample clearly more than in the samples around it go on
                    extra = extra[self._sharp_in_pairs(qa * QUAD + extra)]
                if extra.size:
                    rising = np.union1d(rising, extra)
        if self._splice_ratio < self._click_ratio:
            # a splice cuts every channel at the same sample: a weaker rise is enough when all channels share it,
            # or when one channel breaks clearly (a splice's step may be large in one channel only); only the
            # few pairs where some channel rises by the smaller of the two are looked at. A mono stream has no
            # second channel to share the rise, so its one channel must break clearly.
            idx = rising if self._splice_ratio <= self._lp_click_ratio else rising[top[rising] >= self._splice_ratio]
            if idx.size:
                p_sub, e_sub = plain[:, idx], pair[:, idx]
                joint = p_sub.min(axis=0)
                q_sub = p_sub if quiet_plain is None else quiet_plain[:, idx]
                shared = ((q_sub.min(axis=0) >= self._splice_ratio) & (e_sub.min(axis=0) >= self._min_pair_energy)
                          if self.channels > 1 else False)
                weak = ((shared | (q_sub.max(axis=0) >= self._one_ratio) & (e_sub.max(axis=0) >= self._min_pair_energy))
                        & (score[idx] == 0))
                idx, joint = idx[weak], joint[weak]
            if idx.size:
                won = self._steps_win(qa * QUAD + idx)
                # a pulse that stands out in every channel but not by the click threshold (a click on both
                # channels of dense music), or in one channel by ``weak_one_click_db`` (a large click on a rough,
                # saturated mix), is a weak click candidate, held to a stricter shape test
                clicky = ~won & ((joint >= self._weak_click_ratio) | (top[idx] >= self._weak_one_click_ratio))
                if clicky.any():
                    weak_click = np.zeros(m, dtype=bool)
                    weak_click[idx[clicky]] = True
                keep = idx[won | clicky]
                lift = top if quiet_plain is None else functools.reduce(np.maximum, quiet_plain)
                score[keep] = lift[keep] * (1e-9 / self._click_ratio)  # below every strong hit
        lowpassed = None
        if self._lp_click_ratio < self._click_ratio:
            # a click that was low-passed later (a lossy or band-limited copy) rings for a few tenths of a ms:
            # its ringing fills the near microframes, so it stands out only over the far levels; such pairs are
            # candidates held to a band-limited pulse shape test
            idx = rising[top[rising] >= self._lp_click_ratio]
            idx = idx[score[idx] == 0]
            if idx.size:
                far = np.maximum(far_b, far_a)[:, idx // QUAD] * (2.0 / (QUAD * self._nq))
                e_sub = pair[:, idx]
                ok = ((plain[:, idx] >= self._lp_click_ratio) & (e_sub >= self._min_pair_energy)
                      & (e_sub >= self._lp_far_ratio * (far + self._min_pair_energy / self._click_ratio))).any(axis=0)
                idx = idx[ok]
                if idx.size:
                    lowpassed = np.zeros(m, dtype=bool)
                    lowpassed[idx] = True
                    score[idx] = top[idx] * (1e-12 / self._click_ratio)
        smooth = None
        if self._smooth_fit is not None:
            # a smooth pulse longer than a few samples fills the microframes beside its pair, so it may stand out
            # only over the far levels, on both sides (a drum's attack keeps the level after it up): such pairs
            # are candidates for a smooth click alone
            far = np.repeat(np.maximum(far_b, far_a), QUAD, axis=1)
            far *= 2.0 / (QUAD * self._nq)
            far += self._min_pair_energy / self._click_ratio
            far *= self._smooth_far_ratio
            idx = np.flatnonzero(((pair >= far) & (pair >= self._min_pair_energy)).any(axis=0) & (score == 0))
            if idx.size:
                smooth = np.zeros(m, dtype=bool)
                smooth[idx] = True
                score[idx] = top[idx] * (1e-15 / self._click_ratio)
        white = low = None
        if self._white_click_ratio is not None:
            # a click in rough, bright music stands out of the residual beside it only a little, and the far level
            # on one side may hold the next note's attack: a pair no other test took that stands
            # ``_WHITE_CLICK_DB`` over its near levels and its quieter far level in some channel is looked at in
            # the whitened music (:meth:`_white_click`)
            # (the near levels first, over every pair; the far ones only where the near ones let a pair through)
            floor = self._min_pair_energy / self._click_ratio
            near_w = np.maximum(near_b, near_a)
            near_w += floor
            loud = pair >= self._min_pair_energy
            # a joint (a splice whose step the whitened music shows) is looked for from a smaller rise,
            # ``_WHITE_JOINT_DB``: a deletion of a few dozen samples in a bright mix barely raises the third difference
            # (a joint rises in every channel)
            over = (pair >= self._white_click_ratio * near_w) & loud
            pre = np.flatnonzero((over.any(axis=0) | ((pair >= _WHITE_JOINT_RATIO * near_w).all(axis=0)
                                                      & loud.any(axis=0))) & (score == 0))
            far = np.minimum(far_b, far_a)[:, pre // QUAD] * (2.0 / (QUAD * self._nq)) + floor
            sub = pair[:, pre] / np.maximum(near_w[:, pre], far)
            up = (sub >= self._white_click_ratio) & loud[:, pre]
            clicky = up.any(axis=0)
            idx = pre[clicky]
            # (looked at for a joint only, and not where a candidate of the other tests lies)
            low = pre[~clicky & (sub >= _WHITE_JOINT_RATIO).all(axis=0) & loud[:, pre].any(axis=0)]
            if idx.size:
                white_ratio = np.zeros_like(pair)
                white_ratio[:, pre] = sub
                rose = np.zeros_like(loud)
                rose[:, pre] = up
                white = np.zeros(m, dtype=bool)
                white[idx] = True
                score[idx] = top[idx] * (1e-18 / self._click_ratio)
        if low is not None and low.size:
            self._low_joints(qa * QUAD, low, pre, sub, np.flatnonzero(score))
        if not score.any():
            return
        cand = np.flatnonzero(score)
        whites: list[int] = []
        for run in np.split(cand, np.flatnonzero(np.diff(cand) > 2) + 1):
            best = int(run[np.argmax(score[run])])
            lo, hi = max(best - 1, 0), min(best + 2, m)
            if white is not None and white[best]:
                whites.append(int(run[np.argmax(white_ratio[:, run].max(axis=0))]))
                continue
            ratio_db = 10.0 * np.log10(np.maximum(ratio[:, lo:hi].max(axis=1), 1e-30))
            weak_plain = plain if quiet_plain is None or score[best] >= 1.0 else quiet_plain
            plain_db = 10.0 * np.log10(np.maximum(weak_plain[:, lo:hi].max(axis=1), 1e-30))
            # a candidate only against the quieter side
            quiet_only = bool(quiet_plain is not None and score[best] < 1.0 and top[lo:hi].max() < self._splice_ratio)
            self._classify(qa * QUAD + best, ratio_db, plain_db, excess[:, lo:hi].max(axis=1),
                           splice_only=bool(score[best] < 1.0) and not (weak_click is not None and weak_click[best]),
                           click_only=bool(weak_click is not None and weak_click[best]),
                           lowpassed=bool(lowpassed is not None and lowpassed[best]), quiet_only=quiet_only,
                           smooth_only=bool(smooth is not None and smooth[best]))
        if whites:
            at = np.array(whites)
            self._white_candidates(qa * QUAD + at, rose[:, at], 10.0 * np.log10(np.maximum(white_ratio[:, at], 1e-30)))

    def _classify(self, mf: int, ratio_db: np.ndarray, plain_db: np.ndarray, excess: np.ndarray,
                  splice_only: bool = False, click_only: bool = False, lowpassed: bool = False,
                  quiet_only: bool = False, smooth_only: bool = False) -> None:
        """Click or splice? Fit both shapes to the residual around the largest residual sample of the pair.

        In the third-difference residual a step of the waveform (a splice) leaves ``[1, -2, 1]`` and a pulse of
        ``w`` samples (a click) leaves the pulse's own pattern, ``[1, -3, 3, -1]`` for one sample. Each shape is
        slid over the event and fitted by least squares to all channels at once (a splice cuts every channel at
        the same sample; a click on several channels has one shape); the shape that explains more of the
        residual's energy names the event.
        """
        lp_tried = lowpassed
        if lowpassed:
            if self._lowpassed_click(mf, ratio_db, excess):
                return
            # not a band-limited pulse: perhaps a plain click next to a short transient (a hi-hat tick fills
            # the near microframes, so the click stands out only over the far levels), held to a weak click
            # candidate's tests (a pulse explaining 90 % of the residual, not an onset, not a clipped top; a
            # step only counts if the splice tests confirm it)
            click_only, splice_only = True, False
        top = float(excess.max())
        chans = np.flatnonzero(excess >= 0.3 * top) if top > 0 else np.array([int(np.argmax(ratio_db))])
        peak_ch = int(chans[np.argmax(excess[chans])])
        s0 = mf * MICRO - ORDER - self._raw_start
        seg = self._raw[peak_ch, max(s0, 0) : s0 + 2 * MICRO + ORDER].astype(np.float64)
        k = mf * MICRO + (int(np.argmax(np.abs(np.diff(seg, ORDER)))) if seg.size > ORDER else 0)
        if smooth_only:
            self._smooth_click(k, chans, ratio_db)
            return
        lo = k - _FIT_BEFORE - ORDER - self._raw_start
        w = self._raw[:, max(lo, 0) : lo + _FIT_LEN + ORDER].astype(np.float64)
        if lo < 0 or w.shape[1] < _FIT_LEN + ORDER:  # at an end of the stream: no room to fit, call it a click
            step, start, shape_fit, best_click = False, k - ORDER, 1.0, _N_STEP
        else:
            fit = (_TEMPLATES @ np.diff(w, ORDER, axis=1).T) ** 2  # (shapes, channels)
            joint = fit.sum(axis=1)
            best_step = int(np.argmax(joint[:_N_STEP]))
            best_click = _N_STEP + int(np.argmax(joint[_N_STEP:]))
            step = joint[best_step] > joint[best_click]
            start = k + int(_TEMPLATE_START[best_step if step else best_click])
            res = np.diff(w, ORDER, axis=1)
            shape_fit = float(fit[best_click, chans].sum()) / (float((res[chans] ** 2).sum()) + 1e-30)
        # a splice cuts every channel at once: each channel's own residual rises there
        everywhere = self.channels == 1 or bool(np.all(plain_db >= SPLICE_ALL_DB))
        splice = white_asked = False
        if step or splice_only:
            if step and everywhere and splice_only:
                if self._sharp_step(start):
                    splice = self._prediction_breaks(start) or self._whitened_step(start)
                else:
                    # a joint where the waveform was already moving fast (a rise, a loud swing) does not move in
                    # one sample clearly more than in the samples beside it: the whitened music still shows it
                    white_asked = True
                    joint = self._white_splice(start)
                    if joint is not None:
                        splice, start = True, joint
            if not splice and (splice_only or not everywhere):
                # the audio after the joint repeats, sample for sample, what was just played: a splice whatever
                # the size of its step in each channel (never next to a clipped flat top: constant runs repeat)
                rep = None if self._flat_run_near(k) else self._repeat_at(k)
                if rep is not None:
                    splice, step, everywhere, start = True, True, True, rep
                elif step and not self._flat_run_near(k):
                    strong = np.flatnonzero(plain_db >= self._one_db)
                    if strong.size and self._sharp_step(start) and (self._prediction_breaks(start, strong)
                                                                     or self._whitened_step(start)):
                        splice = everywhere = True
        if splice_only and not splice:
            return
        if click_only and step and not splice:
            # a weak click candidate (the block screen found a pulse) that the exact fit calls a step: neither a
            # click nor a splice the splice tests confirmed, unless the whitened music shows a pulse
            self._white_click(k, chans, ratio_db)
            return
        width = 0 if step else int(_TEMPLATE_WIDTH[best_click])
        if (lo >= 0 and self._on_plateau(start, width, chans if not (step and everywhere) else np.arange(self.channels))
                and not (splice and self._free_step(start))):
            return  # a hard-clipped peak: the flat top is a pulse (or a step) in the residual, not an edit
        if step and everywhere and lo >= 0 and self._at_digital_silence(start):
            return  # a cut to or from exact zeros: the dropout and silence detectors report it
        if (step and everywhere and not splice and lo >= 0 and self._loud_near(start)
                and not self._sharp_step(start)):
            # a strong but band-limited edge: a heavily saturated master's steep transition between its rounded
            # tops (their flat neighbourhood makes any edge stand far out of the local residual), not a joint
            # between two samples (one clean false alarm on seed 15, a tanh master driven 3.6x), unless the
            # whitened music shows a joint there (asked once: the one-sample step test above may have asked it)
            joint = None if white_asked else self._white_splice(start)
            if joint is None:
                return
            splice, start = True, joint
        if step and everywhere and self._saturated_edge(start):
            return
        if step and self._edge_train(start):
            return  # an oscillator's edge, in one channel or all (a one-channel step would be reported as a click)
        if self._held_grid(start):
            return  # a sample-and-hold (a bit crusher's rate reduction): every move of the waveform is a step
        if quiet_only and self._pinned_side(start):
            return
        if step and self._smooth_fit is not None and self._decays_back(start, chans):
            what = f"spike decaying back within {1000 * _SMOOTH_LONGEST_S:.1f} ms, "
            self._events += self._click_rows(start, chans, ratio_db, what)
            return
        if step and everywhere:
            self._joint_row(start, f"{max(float(ratio_db.max()), float(plain_db.max())):.1f} dB above the local "
                                   f"music residual")
            return
        if click_only and (step or shape_fit < _WEAK_CLICK_FIT):
            if not step and not (not lp_tried and self._lp_click_ratio < self._click_ratio
                                 and self._lowpassed_click(mf, ratio_db, excess)):  # low-passed later?
                if not self._smooth_click(k, chans, ratio_db, weak=True):
                    self._white_click(k, chans, ratio_db)
            elif step:
                self._white_click(k, chans, ratio_db)
            return
        if not step and shape_fit < self._click_fit:
            # a smooth bump (a synth's percussive sample), not a few samples knocked aside, unless it is the
            # ringing pulse of a click that was low-passed later, or a short smooth pulse on music that goes on,
            # or a pulse in rough music that only its whitening shows
            if not (not lp_tried and self._lp_click_ratio < self._click_ratio
                    and self._lowpassed_click(mf, ratio_db, excess)) and not self._smooth_click(k, chans, ratio_db):
                self._white_click(k, chans, ratio_db)
            return
        if not step and lo >= 0 and self._is_onset(start, int(_TEMPLATE_WIDTH[best_click]), chans):
            return
        if not step and self._pulse_of_edges(start, int(_TEMPLATE_WIDTH[best_click]), chans):
            return
        targets = self._targets(chans)
        at = start - self._raw_start
        if step and self._stays(start, chans):
            # the waveform steps and stays there in the channels that rose, not in every channel: a joint whose
            # other channels happened to match, or a jump of one channel; a jump either way, not a pulse (a
            # doublet +a, -a also fits the step better than any rectangular pulse, but it comes straight back)
            for ch in targets:
                rows = np.arange(self.channels) if ch < 0 else np.array([ch])
                jump = float(np.abs(self._raw[rows, at] - self._raw[rows, at - 1]).max())
                if jump < self._min_jump:
                    continue
                value = 20.0 * math.log10(max(jump, 1e-12))
                where = "all channels" if ch < 0 else f"channel {ch} only"
                over = float(ratio_db.max() if ch < 0 else ratio_db[ch])
                detail = (f"waveform jumps by {jump:.4f} full scale ({value:.1f} dBFS) on {where}, "
                          f"{over:.1f} dB above the local music residual")
                self._events.append(("discontinuity", start, start + 1, ch, value, detail))
            return
        self._events += self._click_rows(start, chans, ratio_db, "impulse ")

    def _targets(self, chans: np.ndarray) -> list[int]:
        """The channel of each row a finding on ``chans`` makes: one row, -1, when it is on every channel."""
        return [-1] if (self.channels > 1 and len(chans) == self.channels) else [int(c) for c in chans]

    def _click_rows(self, start: int, chans: np.ndarray, ratio_db: np.ndarray, what: str) -> list[tuple]:
        """The click events at ``start`` on ``chans``, each valued by its margin over the local music residual
        (the largest over the channels for a row on all of them), its detail ``what`` followed by that margin."""
        rows = []
        for ch in self._targets(chans):
            value = float(ratio_db.max() if ch < 0 else ratio_db[ch])
            where = "all channels" if ch < 0 else f"channel {ch}"
            rows.append(("click", start, start + 1, ch, value,
                         f"{what}{value:.1f} dB above the local music residual on {where}"))
        return rows

    def _smooth_click(self, k: int, chans: np.ndarray, ratio_db: np.ndarray, weak: bool = False) -> bool:
        """A click that is a short smooth pulse rather than a few samples knocked aside: around the residual peak
        ``k`` one raised cosine, Gaussian bump or sine cycle of up to ``_SMOOTH_LONGEST_S`` must explain
        ``smooth_click_fit`` of the residual (``_WEAK_SMOOTH_FIT`` at a ``weak`` candidate; fitted to the channels
        ``chans`` at once, over the longest pulse's length on either side), on a waveform that comes back after
        it and is no clipped top. The click is kept aside with its look until the end of the stream
        (:meth:`_lone_smooth_clicks`). Returns whether a click was found."""
        if self._smooth_fit is None:
            return False
        t, starts, widths, families, before, length = _smooth_templates(self._smooth_len)
        lo = k - before - ORDER - self._raw_start
        if lo < 0 or lo + length + ORDER > self._raw.shape[1]:
            return False
        res = np.diff(self._raw[chans, lo : lo + length + ORDER].astype(np.float64), ORDER, axis=1)
        fit = ((t @ res.T) ** 2).sum(axis=1)
        best = int(np.argmax(fit))
        need = max(self._smooth_fit, _WEAK_SMOOTH_FIT) if weak else self._smooth_fit
        if float(fit[best]) < need * (float((res * res).sum()) + 1e-30):
            return False
        start, width = k + int(starts[best]), int(widths[best])
        # its look: a sound of the music that recurs (a percussion sample) comes back with the same one
        look = (int(families[best]), width, 10.0 * math.log10(max(float(fit[best]), 1e-30)))
        self._smooth_looks.append(look)
        if (self._on_plateau(start, width, chans) or self._is_onset(start, width, chans)
                or not self._comes_back(start, width, chans)):
            return False
        for row in self._click_rows(start, chans, ratio_db, f"smooth pulse of {width / self._up:g} samples, "):
            self._smooth_events.append((row, look))
        return True

    def _gap_fit(self, start: int, width: int, chans: np.ndarray) -> tuple[float, float, np.ndarray] | None:
        """The waveform around the ``width`` samples from ``start``, in the channel where they stand out most: one
        quadratic through the samples on both sides (``width`` or 12 of them, whichever is more) plus a step
        between the sides, fitted by least squares. Returns (the largest deviation of the gap from that curve,
        the step's size, the gap's deviations), or None at an end of the kept samples."""
        span = max(12, width)
        a = start - span - self._raw_start
        if a < 0 or a + 2 * span + width > self._raw.shape[1]:
            return None
        t = np.arange(2 * span + width, dtype=np.float64) - (span + width / 2.0)
        side = np.ones(t.size, dtype=bool)
        side[span : span + width] = False
        basis = np.stack([np.ones_like(t), t / span, (t / span) ** 2, (t > 0).astype(np.float64)], axis=1)
        out = None
        for c in chans.tolist():
            x = self._raw[c, a : a + t.size].astype(np.float64)
            coef, *_ = np.linalg.lstsq(basis[side], x[side], rcond=None)
            dev = x[~side] - (basis @ coef)[~side]
            height = float(np.abs(dev).max())
            if out is None or height > out[0]:
                out = (height, abs(float(coef[3])), dev)
        return out

    def _comes_back(self, start: int, width: int, chans: np.ndarray) -> bool:
        """Does the waveform come back after the ``width`` samples from ``start``? A pulse leaves the step of
        :meth:`_gap_fit` small against its own height over the curve (``_SMOOTH_STEP_SHARE``); a smooth edge of
        the music (a synth note entering over a few samples) leaves mostly the step."""
        fit = self._gap_fit(start, width, chans)
        return fit is not None and fit[1] <= _SMOOTH_STEP_SHARE * fit[0]

    def _decays_back(self, start: int, chans: np.ndarray) -> bool:
        """Is the step at ``start`` a spike that decays back within ``_SMOOTH_LONGEST_S`` (a click with a tail,
        which the step template fits better than any pulse of 1-5 samples) rather than a joint? Over that gap,
        the largest deviation from the curve through both sides must lie on its first samples, its last half
        must be back within ``_DECAY_BACK`` of that, and so must the step between the sides (after a splice the
        waveform goes on from the other place: the step stays)."""
        width = self._smooth_len
        fit = self._gap_fit(start, width, chans)
        if fit is None:
            return False
        height, step, dev = fit
        return (int(np.argmax(np.abs(dev))) < 3 and step <= _DECAY_BACK * height
                and float(np.abs(dev[width // 2 :]).max()) <= _DECAY_BACK * height)

    def _stays(self, start: int, chans: np.ndarray) -> bool:
        """Does the waveform step at ``start`` and stay there in the channels ``chans``, rather than move and come
        straight back (a doublet ``+a, -a``, which fits the step template better than any rectangular pulse)?

        In the third-difference residual a step leaves ``[1, -2, 1]`` and a doublet ``[1, -4, 6, -4, 1]``; each is
        slid over the samples around the joint (``_STAY_SLIDE`` either side) and fitted to the channels at once,
        and the step must explain more of the residual than the doublet.
        """
        a = start - _STAY_SLIDE - 2 * ORDER - self._raw_start
        n = 2 * _STAY_SLIDE + 4 + 2 * ORDER
        if a < 0 or a + n > self._raw.shape[1]:
            return False
        res = np.diff(self._raw[chans, a : a + n].astype(np.float64), ORDER, axis=1)  # res[:, i]: sample a+i+3

        def best(shape: list[float]) -> float:
            t = np.asarray(shape) / np.linalg.norm(shape)
            return float(sum(np.correlate(r, t, mode="valid") ** 2 for r in res).max())

        return best([1.0, -2.0, 1.0]) > best([1.0, -4.0, 6.0, -4.0, 1.0])

    def _lp_bank(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._lp_templates is None:
            self._lp_templates = _lowpass_templates(self._lp_half)
        return self._lp_templates

    def _lowpassed_click(self, mf: int, ratio_db: np.ndarray, excess: np.ndarray) -> bool:
        """A click that was low-passed after it was made: around the residual peak (about 1.5 ms either side)
        the residual must be one band-limited pulse of 1-5 samples with the brick-wall ringing of a low-passed
        impulse (``_ringing_pulse``), and the waveform must not sit on a clipped top or move to a new level. A
        band-limited step that fits better goes to ``_lowpassed_step``. Returns whether anything was reported."""
        top = float(excess.max())
        chans = np.flatnonzero(excess >= 0.3 * top) if top > 0 else np.array([int(np.argmax(ratio_db))])
        peak_ch = int(chans[np.argmax(excess[chans])])
        s0 = mf * MICRO - ORDER - self._raw_start
        seg = self._raw[peak_ch, max(s0, 0) : s0 + 2 * MICRO + ORDER].astype(np.float64)
        if s0 < 0 or seg.size <= ORDER:
            return False
        k = mf * MICRO + int(np.argmax(np.abs(np.diff(seg, ORDER))))
        L = self._lp_half
        lo = k - L - ORDER - self._raw_start
        if lo < 0 or lo + 2 * L + 1 + ORDER > self._raw.shape[1]:
            return False
        res = np.diff(self._raw[chans, lo : lo + 2 * L + 1 + ORDER].astype(np.float64), ORDER, axis=1)
        t, starts, widths = self._lp_bank()
        fit = ((t @ res.T) ** 2).sum(axis=1)
        best = int(np.argmax(fit))
        if widths[best] == 0:
            return (float(fit[best]) >= self._lp_step_fit * (float((res * res).sum()) + 1e-30)
                    and self._lowpassed_step(k, lo, k + int(starts[best]), int(best), ratio_db))
        if float(fit[best]) < _RING_COARSE_FIT * float((res * res).sum()):
            return False  # far from any band-limited pulse (the fine fit below gains at most about 0.15 on this one)
        ring = self._ringing_pulse(res)
        if ring is None:
            return False
        start, width = k + ring[0], ring[1]
        if self._on_plateau(start, width, chans) or self._is_onset(start, width, chans):
            return False
        self._events += self._click_rows(start, chans, ratio_db, "band-limited impulse ")
        return True

    def _ringing_pulse(self, res: np.ndarray) -> tuple[int, int] | None:
        """Is the residual ``res`` (flagged channels x ``2 L + 1`` samples around the peak) the ringing of one pulse
        of 1-5 samples behind a brick-wall low-pass? Returns the pulse's first sample (relative to the peak) and
        its width, or None.

        A low-passed impulse is a sinc: its sidelobes alternate in sign at the cutoff's period and decay like
        ``1/t`` on both sides, symmetrically, and a brick wall keeps them going for milliseconds. On a fine
        cutoff grid, the best band-limited pulse must explain ``lowpass_click_fit`` of the residual's energy,
        and its sidelobes alone (outside the pulse and its main lobe), on either side separately, must explain
        ``lowpass_ringing_fit`` of the residual there with the same amplitude as the whole fit (within 3 dB).
        A smooth bump a few samples long (a synth's percussive sample) can fit the main lobe of a low cutoff,
        but it has no sidelobes; a musical transient's ringing does not keep one frequency and phase.
        (Measured on five benchmark corpora: low-passed clicks 0.83-1.0 overall with sidelobe fits of 0.5-1.0 on
        each side; the candidates of clean music at most 0.79 overall, and those fitting above 0.4 had sidelobe
        amplitudes 1.4-1.7 times the main fit's.)"""
        t, fcs, widths, starts, centre = _ringing_templates(self._lp_half)
        proj = t @ res.T  # (shapes, channels)
        fit = (proj * proj).sum(axis=1)
        best = int(np.argmax(fit))
        if float(fit[best]) < self._lp_click_fit * float((res * res).sum()):
            return None
        tb, a = t[best], proj[best]
        # sidelobes: farther from the pulse's centre than its half width, the residual's spread and the sinc's
        # main lobe (half a cutoff period)
        j = np.arange(res.shape[1])
        dist = j - centre[best]
        half = (widths[best] + ORDER) / 2.0 + 0.5 / fcs[best] + 1.0
        for side in (dist < -half, dist > half):
            ts, rs = tb[side], res[:, side]
            e_t = float(ts @ ts)
            if e_t <= 0.0:
                return None
            p = rs @ ts
            if float(p @ p) < self._lp_ring_fit * e_t * float((rs * rs).sum()):
                return None
            gain = float(p @ a) / (e_t * float(a @ a) + 1e-30)  # sidelobe amplitude over the whole fit's
            if not 0.7 <= gain <= 1.4:
                return None
        return int(starts[best]), int(widths[best])

    def _lowpassed_step(self, k: int, lo: int, start: int, best: int, ratio_db: np.ndarray) -> bool:
        """A splice that was low-passed later (a lossy or band-limited copy): one band-limited step, its joint
        at the same place in every channel, explains ``lowpass_step_fit`` of the residual of all channels together
        over about 1.5 ms either side. (The one-sample sharpness and predictor tests of plain splices cannot
        hold: the low-pass spreads the joint over its ringing. Measured on four benchmark corpora: no false
        alarm from this path, 5 more splices found.) Returns whether it was reported."""
        L = self._lp_half
        res = np.diff(self._raw[:, lo : lo + 2 * L + 1 + ORDER].astype(np.float64), ORDER, axis=1)
        t = self._lp_bank()[0][best]
        per = (res @ t) ** 2
        energy = (res * res).sum(axis=1)
        if float(per.sum()) < self._lp_step_fit * float(energy.sum()):
            return False
        if self._flat_run_near(k) or self._at_digital_silence(start):
            return False
        if self._on_plateau(start, 0, np.arange(self.channels)) or self._edge_train(start):
            return False
        jumps = self._raw[:, start + 1 - self._raw_start] - self._raw[:, start - 2 - self._raw_start]
        jump = float(np.abs(jumps).max())
        value = 20.0 * math.log10(max(jump, 1e-12))
        detail = (f"band-limited waveform jump of {jump:.4f} full scale ({value:.1f} dBFS), "
                  f"{float(ratio_db.max()):.1f} dB above the local music residual")
        self._events.append(("discontinuity", start, start + 1, -1, value, detail))
        return True

    def _steps_win(self, mfs: np.ndarray) -> np.ndarray:
        """For many weak candidates at once (microframe pairs ``mfs``): does a step explain the residual around
        the pair's largest residual sample better than a pulse? The same fit as in ``_classify``, vectorised,
        so that the many weak candidates in dense music cost a few array operations per block."""
        raw = self._raw
        base = mfs * MICRO - ORDER - self._raw_start
        ok = (base - _FIT_BEFORE - ORDER >= 0) & (base + 2 * MICRO + _FIT_LEN + ORDER <= raw.shape[1])
        out = np.zeros(mfs.size, dtype=bool)
        if not ok.any():
            return out
        base = base[ok]
        seg = raw[:, base[:, None] + np.arange(2 * MICRO + ORDER)]  # (channels, candidates, samples)
        d = np.abs(np.diff(seg, ORDER, axis=2)).sum(axis=0)
        k = base + np.argmax(d, axis=1) + ORDER  # raw index of the largest residual sample
        w = raw[:, (k - _FIT_BEFORE - ORDER)[:, None] + np.arange(_FIT_LEN + ORDER)].astype(np.float64)
        fit = np.einsum("sl,ncl->nsc", _TEMPLATES, np.diff(w, ORDER, axis=2).transpose(1, 0, 2)) ** 2
        joint = fit.sum(axis=2)
        out[ok] = joint[:, :_N_STEP].max(axis=1) > joint[:, _N_STEP:].max(axis=1)
        return out

    def _on_plateau(self, start: int, width: int, chans: np.ndarray) -> bool:
        """Is the event a flat top of hard clipping? In some flagged channel, within a few samples of it, a run of
        at least ``_PLATEAU_RUN`` identical samples is the largest (or smallest) value of the waveform around.

        (Two samples are enough at ``_PLATEAU_LOUD`` and above: a peak clipped at the last moment.)
        A clipped peak is a rectangular deviation from the smooth curve the music would have drawn, so the
        residual sees a pulse (a square-ish clipped waveform jumping between the two clip levels looks like a
        splice). A click of ``width`` samples on moving music has no such run; on digital silence or a constant
        level its own samples are equal, but so are the samples around it, which a clipped peak never has.
        """
        a = start - _PLATEAU_NEAR - self._raw_start
        b = start + width + _PLATEAU_NEAR - self._raw_start
        lo, hi = max(a - _PLATEAU_SPAN, 0), min(b + _PLATEAU_SPAN, self._raw.shape[1])
        if a < 1 or b > self._raw.shape[1]:
            return False
        for c in np.unique(chans).tolist():
            x = self._raw[c, a:b]
            same = np.flatnonzero(x[1:] == x[:-1])  # x[i] == x[i + 1]
            if not same.size:
                continue
            around = self._raw[c, lo:hi]
            top, bottom = float(around.max()), float(around.min())
            # runs of equal samples: consecutive indices in ``same``
            for run in np.split(same, np.flatnonzero(np.diff(same) > 1) + 1):
                v = float(x[run[0]])
                long_enough = run.size + 1 >= _PLATEAU_RUN or (run.size + 1 == 2 and abs(v) >= _PLATEAU_LOUD)
                if not long_enough or abs(v) < _PLATEAU_MIN or not (v == top or v == bottom):
                    continue
                i0 = a + int(run[0])  # first sample of the run in the searched window, buffer index
                # where the run really starts (at the exit of a long flat top, before the window)
                other = np.flatnonzero(self._raw[c, lo:i0] != self._raw[c, i0])
                j = lo + int(other[-1]) + 1 if other.size else lo
                if j < lo + 2 or self._raw[c, j - 1] == self._raw[c, j - 2]:
                    continue  # constant before the run too: a click on a constant level, not a peak
                if self._lone_pulse(c, j, a + int(run[-1]) + 1, v, lo, hi):
                    continue
                return True
        return False

    def _lone_pulse(self, c: int, first: int, last: int, v: float, lo: int, hi: int) -> bool:
        """Is the run ``raw[c, first..last]`` at ``v`` a rectangular pulse on quieter music rather than a clipped
        top? The waveform jumps onto it and off it from far below (``_PULSE_EDGE`` of ``|v|``) and nothing else
        within ``_PLATEAU_SPAN`` samples comes near its level (``_PULSE_AROUND``). A clipped waveform is
        entered from close by, or, driven so hard that it jumps onto the clip level, has other cycles at that
        level around it."""
        x = self._raw[c]
        level = abs(v)
        near = _PULSE_TOLERANCE * level  # a pulse's samples requantised or dithered later differ by a few LSBs
        end = last
        while end + 1 < hi and end - last < 8 and abs(x[end + 1] - v) <= near:
            end += 1
        while first > lo + 1 and last - first < 8 and abs(x[first - 1] - v) <= near:
            first -= 1
        if first < 1 or end + 1 >= x.shape[0]:
            return False
        if max(abs(float(x[first - 1])), abs(float(x[end + 1]))) >= _PULSE_EDGE * level:
            return False
        around = np.concatenate([x[lo : max(first - 2, lo)], x[min(end + 3, hi) : hi]])
        return bool(around.size) and float(np.abs(around).max()) < _PULSE_AROUND * level

    def _at_digital_silence(self, start: int) -> bool:
        """Is one side of a step exact digital silence in every channel (``_SILENCE_RUN`` zero samples)?"""
        k = start - self._raw_start
        if k - _SILENCE_RUN < 0 or k + _SILENCE_RUN > self._raw.shape[1]:
            return False
        return bool(not self._raw[:, k - _SILENCE_RUN : k].any() or not self._raw[:, k : k + _SILENCE_RUN].any())

    def _is_onset(self, start: int, width: int, chans: np.ndarray) -> bool:
        """A steep attack rather than a pulse: in every flagged channel the waveform does not come back.

        A click of ``width`` samples sits on the music and the waveform returns to where it was after it; a
        fast note onset (a synth or a drum) moves the waveform to a new level and stays there. Compared are the
        deviation of the pulse from the straight line through its neighbours and the move of the waveform over
        the event (from the level before it, or from the line through the samples before it carried on, whichever
        is less), which also has to stand out from the slope of the music just before.
        """
        a = start - 1 - self._raw_start
        b = start + width - self._raw_start
        if a - _ONSET_SPAN < 0 or b + _ONSET_SPAN > self._raw.shape[1]:
            return False
        for c in chans.tolist():
            x = self._raw[c]
            before = float(np.mean(x[a - _ONSET_SPAN + 1 : a + 1]))
            after = float(np.mean(x[b : b + _ONSET_SPAN]))
            line = np.linspace(float(x[a]), float(x[b]), width + 2)[1:-1]
            dev = float(np.abs(x[a + 1 : b] - line).max())
            # the move over the event: from the level before, or from where the music's own motion (the line
            # through the samples before, carried on under the samples after) would have taken it, whichever is
            # less (a click on a steep slope, a few samples past a peak of a loud bass at 96 kHz, "moved" the
            # waveform by 0.22 in 18 samples that the slope alone accounts for)
            shift = abs(after - before)
            t = np.arange(-_ONSET_SPAN + 1, 1, dtype=np.float64)
            rate, level = np.polyfit(t, x[a - _ONSET_SPAN + 1 : a + 1], 1)
            shift = min(shift, abs(after - (level + rate * (b - a + (_ONSET_SPAN - 1) / 2.0))))
            slope = float(np.abs(np.diff(x[a - 4 * _ONSET_SPAN : a + 1])).mean()) if a >= 4 * _ONSET_SPAN else 0.0
            if not (shift > _ONSET_SHIFT * dev and shift > 2.0 * slope * (width + _ONSET_SPAN + 1)):
                return False
        return True

    def _sharp_step(self, start: int) -> bool:
        """Does the waveform move in one sample at ``start`` (give or take one) by ``splice_sharpness_db`` more
        than in any of the three samples on either side in the same direction, in some channel?

        A splice joins two places of the waveform between two samples, whatever the music does around; a hard
        attack of an instrument, however steep, is band-limited and spreads its rise over several samples. Moves
        the other way do not count: the audio after a splice into a busy passage goes on moving by itself (a
        jump of 0.10 followed by falls of 0.03-0.04 stood only 8 dB over its neighbours counted both ways). On 15
        kept corpora the same-direction count found 10 more planted splices and no false alarm. A move straight
        back on both sides of the jump (``_SHARP_RETURN`` of it or more) still counts: that is a pulse, such as a
        doublet +a, -a (moves a, -2a, a), which the same-direction count alone took for a joint (0 of 24 doublets
        left as clicks in ``bench_qc_shapes.py``; 22 of 24 with the rule, as before it; 0.4 kept 20).
        """
        a = start - 5 - self._raw_start
        if a < 0 or a + 10 > self._raw.shape[1]:
            return True
        sd = np.diff(self._raw[:, a : a + 10].astype(np.float64), axis=1)  # index 4: x[start] - x[start-1]
        return float(_sharpness(sd, 3, 6).max()) >= self._sharp_ratio

    def _free_step(self, start: int) -> bool:
        """Does some channel make the splice's one-sample step at ``start`` (give or take one) away from any flat
        run, with no two equal samples within three of it on either side? Then a clipped flat top beside it does
        not explain the joint.

        A hard-clipped waveform's edge runs from one flat top (or into one) in every channel it moves in, and is
        left to the run detector; a splice into a clipped passage steps into a flat top in one channel, perhaps,
        but moves freely in another (seed 24: 1265 samples deleted from a clipped master, a step sharp and
        breaking every predictor, onto a flat top on the left and four samples before one on the right, was taken
        for a clipped peak). A steep clipped attack steps to within a sample or two of its flat top: not free."""
        a = start - 5 - self._raw_start
        if a < 0 or a + 14 > self._raw.shape[1]:
            return False
        x = self._raw[:, a : a + 14].astype(np.float64)  # x[:, 5] is the sample at ``start``
        sd = np.diff(x[:, :11], axis=1)  # sd[:, 4]: x[start] - x[start - 1]
        sharp = _sharpness(sd, 3, 6)  # per channel, at its largest move among indices 3..5
        at = 3 + np.argmax(np.abs(sd[:, 3:6]), axis=1)  # the move x[j] - x[j - 1], j = a + at + 1
        for c in np.flatnonzero(sharp >= self._sharp_ratio).tolist():
            j = int(at[c]) + 1  # index into x of the sample after the step
            near = x[c, j - 4 : j + 4]  # no two equal samples within three of the step on either side
            if np.all(near[1:] != near[:-1]):
                return True
        return False

    def _sharp_in_pairs(self, mfs: np.ndarray) -> np.ndarray:
        """For many microframe pairs at once: does some channel, at its largest one-sample move within the pair
        (give or take a sample), pass :meth:`_sharp_step`'s test there (the move ``splice_sharpness_db`` over the
        moves the same way in the three samples on either side, unless the waveform comes straight back on both
        sides)? A vectorised screen; the splice must still pass :meth:`_sharp_step` at its fitted joint."""
        raw = self._raw
        base = mfs * MICRO - 4 - self._raw_start
        ok = (base >= 0) & (base + 2 * MICRO + 9 <= raw.shape[1])
        out = np.zeros(mfs.size, dtype=bool)
        if not ok.any():
            return out
        seg = raw[:, base[ok][:, None] + np.arange(2 * MICRO + 9)].astype(np.float64)  # (channels, cands, samples)
        # moves from sample i to i + 1; the pair's moves are 3 .. 19
        out[ok] = (_sharpness(np.diff(seg, axis=2), 3, 2 * MICRO + 5) >= self._sharp_ratio).any(axis=0)
        return out

    def _pinned_side(self, start: int) -> bool:
        """Is the waveform on one side of ``start`` pinned near a loud level for ``_PINNED_SPAN`` samples in some
        channel (every sample at ``_PINNED_MIN`` full scale or more, within ``_PINNED_RANGE`` of each other)? The
        flat top of a master saturated into a near-square wave: its residual is so low that any small wiggle at
        its edge stands out against it, although nothing was edited."""
        a = start - _PINNED_SPAN - self._raw_start
        b = start + _PINNED_SPAN - self._raw_start
        if a < 0 or b > self._raw.shape[1]:
            return False
        for side in (self._raw[:, a : start - self._raw_start], self._raw[:, start - self._raw_start : b]):
            mag = np.abs(side.astype(np.float64))
            if np.any((mag.min(axis=1) >= _PINNED_MIN) & (np.ptp(side, axis=1) <= _PINNED_RANGE)):
                return True
        return False

    def _saturated_edge(self, start: int) -> bool:
        """Is the jump at ``start`` (give or take one sample) one edge of a waveform driven into near-square
        saturation? The channel that jumps most moves by at least ``_SAT_EDGE_MIN`` full scale in one sample, and
        by half of that again at least ``_SAT_EDGE_REPEATS`` more times within ``_SAT_EDGE_S`` either side.

        A master saturated into a near-square wave jumps between its rounded tops in a sample or two, every half
        period of its bass; a splice is one such jump, not a train of them. Measured on 12 kept corpora: planted
        splices moving 0.4 full scale or more had 0-1 such moves within 10 ms (one of 24 had one); the clean false
        alarms of that size (0.64-1.07 full scale, 6.7-9.6 dB over the residual) had 2-43.

        In a loud, bright master the snare and hi-hat make such moves too, and a splice there was taken for an
        edge (4 of the 27 splices missed on seeds 23 and 24, jumps of 0.47-0.62). An edge runs from top to top;
        a splice leaves from the middle of the swing or lands there and stays. So the jump is not an edge when,
        in every channel that jumps with it, one sample beyond it on some side sits under ``_SAT_EDGE_TOP`` of
        the window's peak (the four splices: 0.03-0.20; the natural edges this guard takes on 30 songs driven 8x
        and 16x: under 0.25 in 2.5 % and 1.2 % of cases) and the two moves on either side of it are each under ``_SAT_EDGE_ALONE`` of it
        (the waveform neither rises into the jump nor bounces back: a two-sample spike of a driven drum hit is no
        splice). Songs driven 8x (110 of them, 20 s each): no discontinuity added; 16x: one added on 40.

        A jump with no such repeats is still an edge when it is a lone swing from one flattened top to the other
        (:meth:`_top_to_top`): the only clean false alarm on eight kept corpora (held-out seed 28, a ballad driven
        3.2x) was a drum hit's single swing of 0.90 between tops at +-0.82. On all 1824 tracks of seeds 21-28 that
        test changed that finding and nothing else; 120 splices planted into 40 songs driven 2-6x: 91 found either
        way, no clean discontinuity either way.
        """
        # the span before the joint, and after it as far as the look-ahead always reaches (a fixed length, so
        # the result does not depend on where blocks end)
        a = start - self._sat_before - self._raw_start
        b = start + self._sat_after - self._raw_start
        if a < 0 or b > self._raw.shape[1]:
            return False
        k = self._sat_before  # index of the joint in the window
        d = np.abs(np.diff(self._raw[:, a:b].astype(np.float64), axis=1))  # d[:, k - 1] = x[start] - x[start - 1]
        # the largest move within a few samples of the joint: the knee of a saturated edge is a small step next
        # to the edge's own steep moves
        at = k - 1 - _SAT_EDGE_NEAR + np.argmax(d[:, k - 1 - _SAT_EDGE_NEAR : k + _SAT_EDGE_NEAR], axis=1)
        jumps = d[np.arange(self.channels), at]
        c = int(np.argmax(jumps))
        jump, j = float(jumps[c]), int(at[c])
        if jump < _SAT_EDGE_MIN:
            return False
        others = np.r_[d[c, : max(j - 3, 0)], d[c, j + 4 :]]
        w = self._raw[:, a:b].astype(np.float64)
        if int((others >= 0.5 * jump).sum()) < _SAT_EDGE_REPEATS:
            return self._top_to_top(w, d, j, jump)
        # an edge runs from one top to the other: one sample further out on either side of the jump the
        # waveform sits at a top; a splice lands in (or leaves from) the middle of the swing and stays there
        big = d[:, j] >= 0.5 * jump  # the channels that jump with it
        out = np.minimum(np.abs(w[big, j - 1]), np.abs(w[big, j + 2]))
        middle = bool(np.all(out < _SAT_EDGE_TOP * np.abs(w[big]).max(axis=1)))
        alone = bool(np.all(np.r_[d[big, j - 2 : j], d[big, j + 1 : j + 3]] < _SAT_EDGE_ALONE * jump))
        return not (middle and alone)

    @staticmethod
    def _top_to_top(w: np.ndarray, d: np.ndarray, j: int, jump: float) -> bool:
        """Is the jump from ``w[:, j]`` to ``w[:, j + 1]`` one swing of a saturated master from one flattened top to
        the other, in every channel that jumps with it? Such a channel spends ``_SAT_TOP_SHARE`` of the window
        within ``_SAT_TOP_LEVEL`` of its peak (flattened tops: music that is not driven spends a few per cent
        there), and within ``_SAT_EDGE_NEAR`` samples before the jump it is on one top, within as many after it
        on the other. A driven drum hit can make one such swing alone, with no second swing of half its size
        within 10 ms for the repeat test to see."""
        big = np.flatnonzero(d[:, j] >= 0.5 * jump)
        for c in big.tolist():
            x = w[c]
            peak = float(np.abs(x).max())
            if peak <= 0 or float(np.mean(np.abs(x) >= _SAT_TOP_LEVEL * peak)) < _SAT_TOP_SHARE:
                return False
            before = x[max(j - _SAT_EDGE_NEAR, 0) : j + 1]
            after = x[j + 1 : j + 2 + _SAT_EDGE_NEAR]
            top = _SAT_TOP_LEVEL * peak
            sign = 1.0 if x[j] > x[j + 1] else -1.0  # falling: from the upper top to the lower one
            if not (float((sign * before).max()) >= top and float((-sign * after).max()) >= top):
                return False
        return bool(big.size)

    def _edge_train(self, start: int, size: float | None = None, width: int = 0, channel: int | None = None) -> bool:
        """Is the step at ``start`` one of a train of like steps, the edge of a waveform that is made of steps (a
        naive saw, square or pulse oscillator, a chip-tune voice's stepped triangle) rather than a one-off joint?

        In the channel whose third difference peaks highest within three samples of the joint, other peaks of
        ``_TRAIN_LIKE`` times its size (either sign, more than three samples away) that each stand
        ``_TRAIN_ISOLATION`` times over the median |third difference| of the ``_TRAIN_AROUND`` samples on either
        side of them are counted within ``_TRAIN_S``: at least one before and one after make a train. An
        oscillator repeats its edge every period (every half period for a square); a splice is one step at a
        point the music's own steps do not return to. Where the stream starts or ends inside the window, the
        window stops there.

        For one edge of a pulse (a click candidate ``width`` samples wide starting at ``start``), ``size`` gives
        the edge's own peak in the third difference (twice its step), ``channel`` the channel, and the whole
        pulse is left out of the comparison.
        """
        a0 = start - self._train - _TRAIN_PAD
        a = max(a0, self._raw_start) - self._raw_start
        b = min(start + self._train + _TRAIN_PAD, self._raw_start + self._raw.shape[1]) - self._raw_start
        seg = self._raw[:, a:b].astype(np.float64)
        if seg.shape[1] < 2 * _TRAIN_PAD:
            return False
        r = np.abs(np.diff(seg, n=3, axis=1))  # r[:, i] spans seg[:, i .. i + 3]: a step into seg[:, P] peaks at P - 2
        j = start - self._raw_start - a - 2
        if size is None:
            lo, hi = max(j - 3, 0), min(j + 4, r.shape[1])
            if hi <= lo:
                return False
            near = r[:, lo:hi]
            c = int(np.argmax(near.max(axis=1)))
            jj = lo + int(np.argmax(near[c]))
            peak = float(r[c, jj])
            skip_lo, skip_hi = jj - 3, jj + 3
        else:
            c, jj, peak = int(channel or 0), j, float(size)
            skip_lo, skip_hi = jj - 3 - width, jj + 3 + width
        if peak <= 0.0:
            return False
        row = r[c]
        idx = np.arange(row.size)
        far = (idx < skip_lo) | (idx > skip_hi)
        inside = (idx >= _TRAIN_AROUND + 3) & (idx < row.size - _TRAIN_AROUND - 3) & (np.abs(idx - jj) <= self._train)
        like = np.flatnonzero(far & inside & (row >= _TRAIN_LIKE[0] * peak) & (row <= _TRAIN_LIKE[1] * peak))
        if like.size == 0:
            return False
        # each one's surroundings: _TRAIN_AROUND samples on either side, its own 7 left out
        offs = np.r_[np.arange(-_TRAIN_AROUND - 3, -3), np.arange(4, _TRAIN_AROUND + 4)]
        around = np.median(row[like[:, None] + offs[None, :]], axis=1)
        alone = like[row[like] >= _TRAIN_ISOLATION * around]
        before, after = alone[alone < jj], alone[alone > jj]
        if before.size == 0 or after.size == 0:
            return False
        # a repeat splice plays a stretch again, and any sharp transient in it twice, on either side of the joint;
        # at the lag between two like steps across the joint, the audio just after the joint equals the audio that
        # far back, and the audio just before it does not: a repeat, not an oscillator (whose audio repeats, or
        # does not, on both sides alike)
        near_b, near_a = before[-_TRAIN_PAIRS:], after[:_TRAIN_PAIRS]  # the copies lie among the nearest
        lags = np.unique((near_a[None, :] - near_b[:, None]).ravel())
        lags = lags[(lags >= _REP_MIN_LAG) & (lags <= _REP_MAX_LAG)]
        return not (lags.size and self._repeats_after(start, lags))

    def _held_grid(self, start: int) -> bool:
        """Is the waveform around ``start`` held on a grid: in the channels that move within ``_HOLD_SPAN``
        samples, every move falls on one grid of ``_HOLD_MIN`` samples or more, and so does the move into
        ``start``? A sample-and-hold (a bit crusher reducing the rate) turns every attack into a one-sample step;
        a splice or a click put into such audio moves off its grid. (A grid of 2, an upsampling that repeats
        each sample, is left alone: a click in such a file lies on its grid too.)"""
        a = start - _HOLD_SPAN - self._raw_start
        b = start + _HOLD_SPAN - self._raw_start
        if a < 0 or b > self._raw.shape[1]:
            return False
        moves = np.diff(self._raw[:, a:b], axis=1) != 0
        j = start - self._raw_start - a - 1  # the move into ``start``
        ats = [at for at in (np.flatnonzero(m) for m in moves) if at.size >= _HOLD_MOVES]  # channels that move
        if not ats:
            return False
        grid = int(np.gcd.reduce(np.concatenate([np.diff(at) for at in ats] + [np.array([j - ats[0][0]])])))
        return grid >= _HOLD_MIN and all((at[0] - ats[0][0]) % grid == 0 for at in ats)

    def _pulse_of_edges(self, start: int, width: int, chans: np.ndarray) -> bool:
        """Is the pulse at ``start`` (``width`` samples) made of two oscillator edges that fall a few samples
        apart, its rise one of a train of like steps and its fall one of another (a naive square's edge next to
        a naive saw's), in the channel where it is largest?"""
        k = start - self._raw_start
        if k < 1 or k + width >= self._raw.shape[1]:
            return False
        x = self._raw[:, k - 1 : k + width + 1].astype(np.float64)
        c = int(chans[np.argmax(np.abs(x[chans, 1] - x[chans, 0]))])
        rise, fall = abs(x[c, 1] - x[c, 0]), abs(x[c, -1] - x[c, -2])
        return (self._edge_train(start, 2.0 * rise, width, c)
                and self._edge_train(start + width, 2.0 * fall, width, c))

    def _repeats_after(self, start: int, lags: np.ndarray) -> bool:
        """At some lag of ``lags``, do the ``_REP_LEN`` samples from ``_REP_GAP`` after ``start`` equal (to
        ``_REP_MATCH_DB``) those that far earlier, while the samples as far before ``start`` match that lag
        ``_REP_CONTRAST_DB`` worse, and the whole stretch after ``start`` (up to the lag, as far as the look-ahead
        reaches) equals the one just before it?"""
        G, M = _REP_GAP, _REP_LEN
        a = start - self._raw_start
        lags = np.asarray(lags, dtype=np.int64)
        lags = lags[a - G - M - lags >= 0]
        if lags.size == 0 or a + G + M > self._raw.shape[1]:
            return False
        ramp = np.linspace(-1.0, 1.0, M)
        ramp /= np.sqrt(ramp @ ramp)
        steps = np.arange(M)

        def straight_out(x: np.ndarray) -> np.ndarray:
            # less its own straight line: a flat top of a loud square wave (or a naive saw's ramp) matches any
            # other one to -40 dB by its level and slope alone, whatever the music riding on it does
            x = x - x.mean(axis=-1, keepdims=True)
            return x - (x @ ramp)[..., None] * ramp

        def err(lo: int) -> tuple[np.ndarray, float]:
            raw = self._raw[:, lo : lo + M].astype(np.float64)
            x = straight_out(raw)
            y = straight_out(self._raw[:, (lo - lags)[:, None] + steps].astype(np.float64).transpose(1, 0, 2))
            e_x = float((x * x).sum())
            return ((x[None] - y) ** 2).sum(axis=(1, 2)) / (e_x + 1e-30), e_x / (float((raw * raw).sum()) + 1e-30)

        e_a, shape = err(a + G)
        if shape < _REP_STRAIGHT:
            return False  # a straight stretch (a lone square's flat top) matches every lag: nothing to tell
        e_b, _ = err(a - G - M)
        ok = (e_a <= 10.0 ** (_REP_MATCH_DB / 10.0)) & (e_b >= e_a * 10.0 ** (_REP_CONTRAST_DB / 10.0))
        for lag in lags[ok]:
            # a repeat plays the whole stretch again: the audio after the joint equals, as far as the window
            # reaches (up to the lag), the audio just before it. (A chip-tune note that starts again after its
            # gate matches an earlier instance of itself for a while, but the stretch before its onset holds the
            # gate.)
            span = min(int(lag), self._train + _TRAIN_PAD, self._raw.shape[1] - a)  # what the look-ahead holds
            x = self._raw[:, a : a + span].astype(np.float64)
            y = self._raw[:, a - lag : a - lag + span].astype(np.float64)
            if float(((x - y) ** 2).sum()) <= 10.0 ** (_REP_MATCH_DB / 10.0) * float((x * x).sum()):
                return True
        return False

    def _loud_near(self, start: int) -> bool:
        """Is the waveform within a few samples of ``start`` at half of full scale or more (where a saturated
        master's rounded tops and steep edges live)?"""
        a = max(start - 8 - self._raw_start, 0)
        seg = self._raw[:, a : start + 8 - self._raw_start]
        return bool(seg.size and float(np.abs(seg).max()) >= 0.5)

    def _flat_run_near(self, k: int) -> bool:
        """Is there a run of ``_PLATEAU_RUN`` identical samples at ``_PLATEAU_MIN`` or louder within ``_FLAT_NEAR``
        samples of raw sample ``k`` in some channel? Clipped flat tops repeat themselves exactly and break every
        predictor at their edges, so the one-channel and repeat tests for splices are not made next to them."""
        a = k - _FLAT_NEAR - self._raw_start
        b = k + _FLAT_NEAR - self._raw_start
        if a < 0 or b > self._raw.shape[1]:
            return True
        x = self._raw[:, a:b]
        same = (x[:, 1:] == x[:, :-1]) & (np.abs(x[:, 1:]) >= _PLATEAU_MIN)
        return bool((same[:, 1:] & same[:, :-1]).any())

    def _repeat_at(self, k: int) -> int | None:
        """Does the audio just after raw sample ``k`` repeat, sample for sample in every channel, a stretch that
        ended a little before it (a splice that plays the last 20-2048 samples again)? Returns the joint.

        The samples ``_REP_GAP .. _REP_GAP + _REP_LEN`` after ``k`` are compared with every earlier stretch up to
        ``_REP_MAX_LAG`` back; the best lag must match to ``_REP_MATCH_DB`` while the same lag matches the samples
        before ``k`` at least ``_REP_CONTRAST_DB`` worse (a periodic tone repeats on both sides of any point; a
        repeat splice only after its joint). The joint is the first sample from which the lag matches.
        """
        G, M, Lmax = _REP_GAP, _REP_LEN, _REP_MAX_LAG
        a = k + G - self._raw_start
        lo = a - Lmax
        if lo - 2 * G - M < 0 or a + M > self._raw.shape[1]:
            return None
        x = self._raw[:, lo - 2 * G - M : a + M].astype(np.float64)
        ref = x[:, -M:]
        e_ref = float((ref * ref).sum())
        if e_ref <= 0.0:
            return None
        hist = x[:, 2 * G + M : -M]  # candidates for the repeated stretch: lags Lmax .. 1
        cross = sum(np.correlate(hist[c], ref[c], mode="valid") for c in range(self.channels))
        sq = np.concatenate([[0.0], np.cumsum((hist * hist).sum(axis=0))])
        energy = sq[M:] - sq[:-M]
        err = np.maximum(e_ref + energy - 2.0 * cross, 0.0) / e_ref  # index i: lag Lmax - i
        lags = Lmax - np.arange(err.size)
        err[lags < _REP_MIN_LAG] = np.inf
        i = int(np.argmin(err))
        if not err[i] <= 10.0 ** (_REP_MATCH_DB / 10.0):
            return None
        lag = int(lags[i])
        xb = self._raw[:, a - 2 * G - M : a - 2 * G].astype(np.float64)
        yb = self._raw[:, a - 2 * G - M - lag : a - 2 * G - lag].astype(np.float64)
        e_b = float(((xb - yb) ** 2).sum()) / (float((xb * xb).sum()) + 1e-30)
        if e_b < err[i] * 10.0 ** (_REP_CONTRAST_DB / 10.0):
            return None
        # the joint: the first sample from which the audio equals the audio ``lag`` samples earlier
        seg = self._raw[:, a - 2 * G - M : a + M].astype(np.float64)
        old = self._raw[:, a - 2 * G - M - lag : a + M - lag].astype(np.float64)
        diff = np.abs(seg - old).max(axis=0)
        tol = 4.0 * math.sqrt(err[i] * e_ref / (M * self.channels)) + 1e-12
        bad = np.flatnonzero(diff[: 2 * G + M] > tol)
        return int(a - 2 * G - M + self._raw_start + (bad[-1] + 1 if bad.size else 0))

    def _prediction_breaks(self, start: int, chans: np.ndarray | None = None) -> bool:
        """Does the waveform stop following itself at sample ``start`` in every channel, seen from both sides?

        A linear predictor of order ``_LP_ORDER`` is fitted on the ``_LP_SPAN`` samples before the candidate and
        run forward over it, and another on the samples after it and run backward. Sustained or struck music
        is predicted on at least one side to about its own fitting error; the audio on either side of a splice
        comes from different places, so both one-step errors next to the cut stand well above the fitting
        error in every channel.
        """
        P, N = _LP_ORDER, _LP_SPAN
        lo = start - N - 2 - self._raw_start
        hi = start + N + 2 - self._raw_start
        if lo < 0 or hi > self._raw.shape[1]:
            return False
        worst = np.inf
        for c in range(self.channels) if chans is None else chans.tolist():
            x = self._raw[c, lo:hi].astype(np.float64)
            k = start - self._raw_start - lo
            best = 0.0
            for seg, at in ((x[:k - 1], x[k - 1 - P : k + 3]), (x[k + 2 :][::-1], x[k - 3 : k + 2 + P][::-1])):
                # rows of P past samples predicting the next one (oldest first)
                lag = np.lib.stride_tricks.sliding_window_view(seg, P + 1)
                coef, *_ = np.linalg.lstsq(lag[:, :P], lag[:, P], rcond=None)
                fit = float(np.mean((lag[:, :P] @ coef - lag[:, P]) ** 2)) + 1e-20
                w = np.lib.stride_tricks.sliding_window_view(at, P + 1)
                err = (w[:, :P] @ coef - w[:, P]) ** 2
                side = float(err.max()) / fit
                best = side if best == 0.0 else min(best, side)
            worst = min(worst, best)
        return bool(worst >= self._splice_lp_ratio)

    def _whitened_fits(self, starts: np.ndarray, chans: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps and pulses fitted to the music around each of ``starts`` once one autoregressive model whitens it.

        An autoregressive model of order ``_WHITE_ORDER`` is fitted, per channel of ``chans[i]``, on the ~6 ms on
        both sides of ``starts[i]`` (the ``_WHITE_GUARD`` samples next to it left out), and its inverse filter
        whitens the ``2 * _WHITE_HALF + _WHITE_ORDER`` samples from ``_WHITE_HALF`` before it: music becomes a
        residual of the model's fitting error, a step of the waveform the filter's step response and a pulse of
        ``w`` samples the difference of two of them. Each shape is fitted by least squares at every position
        within ``_WHITE_SLIDE`` samples of the start; what it explains, in units of the fitting error and summed
        over the channels, is twice the log-likelihood ratio of "that shape is there" against "music alone"
        (Gaussian residual). Returns, per start, the steps', the pulses' (see :func:`_white_shapes`) and the
        whitened samples' own energy, all in those units; all zero where the kept samples do not reach. Every
        start and channel is fitted at once (one batch of small solves).
        """
        P, G, H = _WHITE_ORDER, _WHITE_GUARD, _WHITE_HALF
        N = self._white_span
        lag, near, rise, fall = _white_shapes()
        n = len(starts)
        step_e, pulse_e, total = np.zeros((n, near.size)), np.zeros((n, rise.size)), np.zeros(n)
        ks = np.asarray(starts, dtype=np.int64) - self._raw_start
        rows = [(i, c) for i in range(n) if ks[i] - G - N >= 0 and ks[i] + G + N <= self._raw.shape[1]
                for c in np.asarray(chans[i]).tolist()]
        if not rows:
            return step_e, pulse_e, total
        owner = np.array([i for i, _ in rows])
        x = np.stack([self._raw[c, ks[i] - G - N : ks[i] + G + N] for i, c in rows]).astype(np.float64)
        inverse, noise = _white_model(x, N)
        around = np.lib.stride_tricks.sliding_window_view(x[:, N + G - H - P : N + G + H + P], P + 1, axis=1)
        e = (around @ inverse[:, ::-1, None])[:, :, 0]  # samples start-H .. start+H+P-1
        total_r = (e * e).sum(axis=1) / noise
        # the inverse filter's step response (constant after P samples), started at each position
        steps = np.where(lag >= 0, np.cumsum(inverse, axis=1)[:, np.clip(lag, 0, P)], 0.0)  # (rows, shapes, n)
        for shapes, out in ((steps[:, near], step_e), (steps[:, rise] - steps[:, fall], pulse_e)):
            fit = (shapes @ e[:, :, None])[:, :, 0] ** 2 / ((shapes * shapes).sum(axis=2) + 1e-30)
            np.add.at(out, owner, fit / noise[:, None])
        np.add.at(total, owner, total_r)
        return step_e, pulse_e, total

    def _whitened_step(self, start: int) -> bool:
        """Does a step of the waveform at ``start`` (give or take ``_WHITE_SLIDE`` samples) stand
        ``splice_whitened_db`` out of the music once the music is whitened (:meth:`_whitened_fits`, every
        channel), and explain it better than any pulse of 1-5 samples by ``_WHITE_MARGIN``? Unlike the one-step
        predictors of :meth:`_prediction_breaks`, which each see only one side and must both break, one model
        for both sides still sees a splice into a louder passage (the side before it predicts the quiet music
        well, the side after it does not).
        """
        step_e, pulse_e, _ = self._whitened_fits(np.array([start]), [np.arange(self.channels)])
        best = float(step_e.max())
        return best >= self._white_ratio and best - float(pulse_e.max()) >= _WHITE_MARGIN

    def _whitened_pulses(self, ks: np.ndarray, chans: list[np.ndarray]) -> list[tuple[int, int] | None]:
        """Is there a pulse of 1-5 samples within ``_WHITE_SLIDE`` samples of each raw sample ``ks[i]`` in the
        channels ``chans[i]`` that explains ``_WHITE_PULSE_SHARE`` of the whitened music around it
        (:meth:`_whitened_fits`) and beats every step by ``_WHITE_MARGIN``? A click in rough, bright music (a
        distorted guitar, a naive synth, a dense acoustic mix) barely rises over the third difference of the
        music beside it, but the music's own model whitens the music and leaves the click standing; a drum's
        attack or a note's onset is no short pulse there. Returns each pulse's (first sample, width), or None."""
        step_e, pulse_e, total = self._whitened_fits(ks, chans)
        best = np.argmax(pulse_e, axis=1)
        e = pulse_e[np.arange(len(ks)), best]
        ok = (e >= _WHITE_PULSE_SHARE * total) & (e - step_e.max(axis=1) >= _WHITE_MARGIN) & (total > 0)
        lag, _, rise, fall = _white_shapes()
        return [(int(k) - _WHITE_HALF - int(lag[rise[j], 0]), int(fall[j] - rise[j])) if good else None
                for k, j, good in zip(ks, best, ok)]

    def _white_splice(self, start: int) -> int | None:
        """Is there a joint within ``_WHITE_SLIDE`` samples of ``start``, seen in the whitened music of every channel
        at once: one step (:meth:`_whitened_fits`) explaining ``_WHITE_STEP_SHARE`` of the whitened samples around
        it, summed over the channels, and no train of like steps around it (:meth:`_white_train`)? Returns the
        joint's first sample. A splice is a step in every channel at one sample, which the music's own model cannot
        predict; a drum's attack or a fast swing of a loud master, which the one-sample step test was made for, is
        predicted in part and spreads what is left over several samples. The whitening blurs a short pulse and a
        step into much the same shape, so it is asked only where something else speaks for a step: the third
        difference prefers a step to every pulse (or a step explains ``_WHITE_JOINT_SCREEN`` of it), no whitened
        pulse is found there, or the waveform does not come back after the whitened pulse (:meth:`_white_click`)."""
        if self._white_click_ratio is None:
            return None
        chans = np.arange(self.channels)
        step_e, _, total = self._whitened_fits(np.array([start]), [chans])
        best = int(np.argmax(step_e[0]))
        if total[0] <= 0 or step_e[0, best] < _WHITE_STEP_SHARE * total[0]:
            return None
        lag, near, _, _ = _white_shapes()
        joint = start - _WHITE_HALF - int(lag[near[best], 0])
        return None if self._white_train(joint) else joint

    def _white_train(self, start: int) -> bool:
        """Does the whitened music around the joint at ``start`` hold like steps before and after it within
        ``_TRAIN_S``: the edges of a naive oscillator? The model of :meth:`_whitened_fits` (fitted on the 6 ms either
        side) whitens ``_TRAIN_S`` on either side; in the channel whose whitened joint is largest, samples more
        than ``_WHITE_ORDER`` from it of ``_TRAIN_LIKE`` times its size on both sides make a train. An oscillator's
        edges whiten alike every period even where the music's own steps hide them from :meth:`_edge_train` (a
        naive saw bass under a drum hit: like spikes at 0.88-1.06 of the joint's), while around a splice the
        whitened music stays far below its joint (0.25-0.39 on three benchmark splices)."""
        P, G = _WHITE_ORDER, _WHITE_GUARD
        N = self._white_span
        k = start - self._raw_start
        lo, hi = k - self._train - P, k + self._train + 1
        if k - G - N < 0 or k + G + N > self._raw.shape[1] or lo < 0 or hi > self._raw.shape[1]:
            return False
        inverse, _ = _white_model(self._raw[:, k - G - N : k + G + N].astype(np.float64), N)
        seg = self._raw[:, lo:hi].astype(np.float64)
        e = np.abs(np.stack([np.convolve(seg[c], inverse[c], mode="valid") for c in range(self.channels)]))
        j = k - lo - P  # e[:, j]: the joint's first sample
        c = int(np.argmax(e[:, j - 1 : j + 2].max(axis=1)))
        size = float(e[c, j - 1 : j + 2].max())
        if size <= 0.0:
            return False
        far = np.abs(np.arange(e.shape[1]) - j) > P
        like = far & (e[c] >= _TRAIN_LIKE[0] * size) & (e[c] <= _TRAIN_LIKE[1] * size)
        return bool(like[:j].any() and like[j:].any())

    def _rounded_peak(self, start: int, width: int, chans: np.ndarray) -> bool:
        """Is the pulse of ``width`` samples from ``start`` a peak of the waveform around (its largest or smallest
        sample within ``_PLATEAU_SPAN`` samples, in some channel of ``chans``) with the samples just outside it within
        ``_ROUNDED_PEAK`` of its level? A clipped peak that was turned down, dithered or resampled keeps no exact
        flat top, but its corners stand out of the whitened music as a pulse; a click stands out of the samples
        beside it by its own height."""
        a, b = start - self._raw_start, start + width - self._raw_start
        if a < 1 or b >= self._raw.shape[1]:
            return False
        lo, hi = max(a - _PLATEAU_SPAN, 0), min(b + _PLATEAU_SPAN, self._raw.shape[1])
        for c in np.asarray(chans).tolist():
            x = self._raw[c]
            pulse = x[a:b]
            i = int(np.argmax(np.abs(pulse)))
            peak = float(pulse[i])
            if abs(peak) < _PLATEAU_MIN or (peak < float(x[lo:hi].max()) if peak > 0 else peak > float(x[lo:hi].min())):
                continue
            if max(abs(peak - float(x[a - 1])), abs(peak - float(x[b]))) <= _ROUNDED_PEAK * abs(peak):
                return True
        return False

    def _white_candidates(self, mfs: np.ndarray, rose: np.ndarray, ratio_db: np.ndarray) -> None:
        """Pairs that only :meth:`_white_click` looks at: the pairs from microframes ``mfs``, standing out on the
        channels where ``rose[:, i]`` by ``ratio_db[:, i]`` (every channel's margin over its near levels and
        quieter far level). Screened first, all at once, by the rectangular pulse that fits the third difference
        best around each pair's largest residual sample: it must explain ``_WHITE_SCREEN`` of it on those
        channels (in rough music most such pairs are the music's own fluctuation, which no pulse explains);
        the rest are fitted in one batch. Pairs where a step explains ``_WHITE_JOINT_SCREEN`` of the third difference
        of every channel together are looked at for a joint (:meth:`_white_joint`), those whose whitened step
        explains too little (:meth:`_white_splice`) dropped in one batch first. A pair no channel of which ``rose``
        is looked at for a joint only."""
        chans = np.arange(self.channels)
        peak_ch = np.where(rose.any(axis=0), np.argmax(np.where(rose, ratio_db, -np.inf), axis=0),
                           np.argmax(ratio_db, axis=0))
        s0 = mfs * MICRO - ORDER - self._raw_start
        # the fit window starts _FIT_BEFORE before the residual peak, at s0 - _FIT_BEFORE at the earliest (a peak on
        # the pair's first sample) and ends 2 * MICRO + _FIT_LEN + ORDER - _FIT_BEFORE after s0 at the latest
        ok = (s0 >= _FIT_BEFORE) & (s0 + 2 * MICRO + _FIT_LEN + ORDER <= self._raw.shape[1])
        if not ok.all():
            mfs, rose, ratio_db, peak_ch, s0 = mfs[ok], rose[:, ok], ratio_db[:, ok], peak_ch[ok], s0[ok]
        if not mfs.size:
            return
        seg = self._raw[peak_ch[:, None], s0[:, None] + np.arange(2 * MICRO + ORDER)].astype(np.float64)
        k = mfs * MICRO + np.argmax(np.abs(np.diff(seg, ORDER, axis=1)), axis=1)
        w = self._raw[chans[None, :, None], (k - _FIT_BEFORE - ORDER - self._raw_start)[:, None, None]
                      + np.arange(_FIT_LEN + ORDER)[None, None, :]].astype(np.float64)
        every = np.diff(w, ORDER, axis=2)  # (candidates, channels, _FIT_LEN)
        keep = np.zeros(0, dtype=np.int64)
        if rose.any():
            res = every * rose.T[:, :, None]
            fit = ((res @ _TEMPLATES[_N_STEP:].T) ** 2).sum(axis=1).max(axis=1)
            keep = np.flatnonzero(fit >= _WHITE_SCREEN * ((res * res).sum(axis=(1, 2)) + 1e-30))
        # a joint: a step in the third difference of every channel at once (a splice whose new audio moves back a
        # little fits a pulse of a few samples about as well; the click test, made first, takes real pulses)
        step_fit = ((every @ _TEMPLATES[:_N_STEP].T) ** 2).sum(axis=1).max(axis=1)
        joints = np.flatnonzero(step_fit >= _WHITE_JOINT_SCREEN * ((every * every).sum(axis=(1, 2)) + 1e-30))
        if joints.size:
            # (the whitened step of :meth:`_white_splice`, fitted for all of them in one batch first)
            step_e, _, total = self._whitened_fits(k[joints], [chans] * joints.size)
            joints = joints[(total > 0) & (step_e.max(axis=1) >= _WHITE_STEP_SHARE * total)]
        joints = set(joints.tolist())
        on = [np.flatnonzero(rose[:, i]) for i in keep]
        for found, ch, i in zip(self._whitened_pulses(k[keep], on) if keep.size else (), on, keep):
            if found is not None and self._white_click(found, ch, ratio_db[:, i]):
                joints.discard(int(i))
        for i in sorted(joints):
            self._white_joint(int(k[i]), ratio_db[:, i])

    def _low_joints(self, first: int, low: np.ndarray, pre: np.ndarray, ratio: np.ndarray, taken: np.ndarray) -> None:
        """Pairs ``low`` (counted from microframe ``first``) that stand ``_WHITE_JOINT_DB`` in every channel but
        ``_WHITE_CLICK_DB`` in none over their near levels and quieter far level (``ratio[:, j]`` for the pair
        ``pre[j]``), looked at for a joint only (:meth:`_white_candidates`): a deletion of a few dozen samples in a
        bright or dense mix raises the third difference by 3-6 dB, yet its whitened step explains 95-99 % of the
        whitened music around it (0.88 at most over 932,180 such pairs of 3.45 h of clean songs). Pairs within two
        of a candidate of the other tests (``taken``) are left to them; of neighbouring pairs the one that rises
        most is taken."""
        if taken.size:
            at = np.searchsorted(taken, low)
            gap = np.minimum(np.abs(taken[np.minimum(at, taken.size - 1)] - low),
                             np.abs(low - taken[np.maximum(at - 1, 0)]))
            low = low[gap > 2]
        if not low.size:
            return
        r = ratio[:, np.searchsorted(pre, low)]
        top = r.max(axis=0)
        run = np.cumsum(np.r_[True, np.diff(low) > 2])
        order = np.lexsort((-top, run))
        best = order[np.r_[True, np.diff(run[order]) != 0]]
        self._white_candidates(first + low[best], np.zeros((self.channels, best.size), dtype=bool),
                               10.0 * np.log10(np.maximum(r[:, best], 1e-30)))

    def _white_joint(self, k: int, ratio_db: np.ndarray) -> bool:
        """A splice no other test took: a joint near raw sample ``k`` that the whitened music of every channel shows
        (:meth:`_white_splice`), held to the splice rules (no clipped flat top unless the step moves freely, no cut
        into digital silence, no saturated edge, no oscillator's edge, no sample-and-hold grid)."""
        joint = self._white_splice(k)
        if joint is None:
            return False
        every = np.arange(self.channels)
        if ((self._on_plateau(joint, 0, every) and not self._free_step(joint)) or self._at_digital_silence(joint)
                or self._saturated_edge(joint) or self._edge_train(joint) or self._held_grid(joint)):
            return False
        return self._joint_row(joint, f"a step of every channel in the whitened music, {float(ratio_db.max()):.1f} "
                                      f"dB above the local music residual")

    def _joint_row(self, start: int, why: str) -> bool:
        """Report the splice at ``start`` on every channel, valued by the largest jump of the waveform there (in
        dBFS), its detail ending in ``why``; a step under the smallest reported click (-50 dBFS by default) is not
        an audible edit and is not reported. Returns whether it was reported."""
        at = start - self._raw_start
        jump = float(np.abs(self._raw[:, at] - self._raw[:, at - 1]).max())
        if jump < self._min_jump:
            return False
        value = 20.0 * math.log10(max(jump, 1e-12))
        self._events.append(("discontinuity", start, start + 1, -1, value,
                             f"waveform jumps by {jump:.4f} full scale ({value:.1f} dBFS), {why}"))
        return True

    def _white_click(self, found: tuple[int, int] | int | None, chans: np.ndarray, ratio_db: np.ndarray) -> bool:
        """A click the third difference does not tell from rough music: the pulse ``found`` (first sample, width)
        by :meth:`_whitened_pulses`, or searched there near raw sample ``found``, on a waveform that is no clipped
        top, no onset and no pair of an oscillator's edges. Where the search near a sample finds no pulse, the
        whitened music may hold a joint there instead (:meth:`_white_joint`: a deletion whose third difference a
        one-sample pulse fits better than a step). Returns whether a click (or that joint) was found."""
        if self._white_click_ratio is None:
            return False
        if isinstance(found, int):
            near = found
            found = self._whitened_pulses(np.array([near]), [chans])[0]
            if found is None:
                return self._white_joint(near, ratio_db)
        if found is None:
            return False
        start, width = found
        if (self._on_plateau(start, width, chans) or self._rounded_peak(start, width, chans)
                or self._is_onset(start, width, chans) or self._pulse_of_edges(start, width, chans)
                or self._held_grid(start)):
            return False
        # whitened, a joint on a waveform moving fast and a pulse of a sample or two look much alike; where the
        # waveform does not come back after the pulse (the sides want a step between them) and every channel's
        # whitened music holds one step, it is a joint
        if not self._comes_back(start, width, chans) and self._white_joint(start, ratio_db):
            return True
        self._events += self._click_rows(start, chans, ratio_db,
                                         f"pulse of {width / self._up:g} samples out of the whitened music, ")
        return True

    # ------------------------------------------------------------------ noise bursts
    def _bursts(self, qa: int, qb: int, last: int, cs: np.ndarray, E: np.ndarray | None, busy: list[int],
                shapes: list[tuple[int, float]], events: list[tuple], own: np.ndarray | None = None) -> int:
        """Decide burst onsets from boundary ``qa`` to ``qb`` on the energies whose quad cumulative sums are ``cs``
        (``E``: the microframe energies, for the glitch test; None for the cross-channel pass, which has none), with the pass's own state (``busy``, ``shapes``) and findings (``events``); returns the
        first boundary left undecided. With ``own`` (the plain energies' cumulative sums, for the cross-channel
        pass) a burst must also raise its channel's own residual by ``_CROSS_OWN_DB``: the prediction error of one
        channel holds a burst of the other channel too."""
        h0, gi, go, K = self._h0, self._gi, self._go, self._burst_ratio
        # boundaries qa .. stop (exclusive) as history columns; offsets need a full window of real audio after
        stop = min(qb + self._bmax + 1, last - go - 1)
        if stop <= qa:
            return qb
        a, z = qa - h0, stop - h0
        n = z - a
        inside = (cs[:, a + gi : z + gi] - cs[:, a:z]) / gi  # the 2 ms after each boundary
        before = (cs[:, a - 1 : z - 1] - cs[:, a - 1 - go : z - 1 - go]) / go  # 10 ms before, one quad apart
        in_before = (cs[:, a:z] - cs[:, a - gi : z - gi]) / gi
        after = (cs[:, a + 1 + go : z + 1 + go] - cs[:, a + 1 : z + 1]) / go
        n_on = qb - qa

        def rising(ins: np.ndarray, bef: np.ndarray, q0: int) -> np.ndarray:
            # onset boundaries among boundaries q0, q0 + 1, ...: the 2 ms after stand K over the 10 ms before
            on = (ins >= K * bef) & (ins >= self._min_burst_energy)
            if own is not None:
                # a burst adds to its channel's own residual: not where that falls (most of the cross residual's
                # rises, once the shared music is gone, are not rises of the channel at all)
                c0 = a + q0 - qa
                on &= ((own[:, c0 + gi : c0 + gi + on.shape[1]] - own[:, c0 : c0 + on.shape[1]]) / gi
                       >= (own[:, c0 - 1 : c0 - 1 + on.shape[1]] - own[:, c0 - 1 - go : c0 - 1 - go + on.shape[1]]) / go)
            on[:, : max(0, min(on.shape[1], go + 1 - q0))] = False  # no music before the stream start to compare
            return on

        onset = rising(inside[:, :n_on], before[:, :n_on], qa)
        # the boundary just before qa: a rise running on from the previous call was decided there
        on_prev = rising((cs[:, a - 1 + gi : a + gi] - cs[:, a - 1 : a]) / gi,
                         (cs[:, a - 2 : a - 1] - cs[:, a - 2 - go : a - 1 - go]) / go, qa - 1)[:, 0]
        offset = in_before >= K * after
        rises = []
        hold = n_on
        for c in range(self.channels):
            cand = np.flatnonzero(onset[c])
            if not cand.size:
                continue
            run_at = np.flatnonzero(np.r_[True, np.diff(cand) > 1])
            if qb < last and cand[-1] == n_on - 1 and n_on - cand[run_at[-1]] < 4 * go:
                # a rise that runs into the next call is decided whole there (where it starts depends on all
                # of it), so the result does not depend on where blocks end
                hold = min(hold, int(cand[run_at[-1]]))
            rises.append((c, cand, run_at))
        for c, cand, run_at in rises:
            offs = np.flatnonzero(offset[c])
            if not offs.size:
                continue
            # every run of onset boundaries is one rise, starting where it is at least half its steepest
            steep = inside[c, cand] / (before[c, cand] + 1e-30)
            first = cand[run_at]
            # only rises with a fall in reach are looked at closely; not the rest of one decided before qa, and
            # not those left to the next call
            reach = np.searchsorted(offs, first + self._bmax + gi, side="right") > np.searchsorted(offs, first + self._bmin)
            reach &= first < hold
            if on_prev[c] and first[0] == 0:
                reach[0] = False
            # a rise starts where it is first at least half its steepest; when nothing is decided from there, the
            # later boundaries of the same rise are tried too, leaving no trace unless a burst is found (a burst
            # that starts on the attack of a drum hit rises twice within a few ms, and only from the second rise
            # does its level hold)
            ends = np.r_[run_at[1:], cand.size]
            for run_i in np.flatnonzero(reach).tolist():
                in_run, rise = cand[run_at[run_i] : ends[run_i]], steep[run_at[run_i] : ends[run_i]]
                at = int(np.argmax(rise >= 0.5 * rise.max()))  # the first boundary at least half the steepest
                for k, b0 in enumerate(in_run[at:].tolist()):
                    retry = k > 0
                    found_before, busy_before = len(events), busy[c]
                    if qa + b0 < busy[c]:
                        continue
                    lo = np.searchsorted(offs, b0 + self._bmin)
                    hi = np.searchsorted(offs, b0 + self._bmax, side="right")
                    floor = K * before[c, b0]
                    for r1 in offs[lo:hi].tolist():
                        outside = max(before[c, b0], after[c, r1])
                        if in_before[c, r1] < K * outside:
                            continue
                        held = inside[c, b0 : max(r1 - gi + 1, b0 + 1)].min()
                        if held < floor:
                            break  # the level fell back before this fall, so before every later one too
                        if held < K * outside:
                            continue
                        # the end is where the fall is steepest, within the run of boundaries that see it
                        run_end = r1
                        while run_end + 1 < n and offset[c, run_end + 1]:
                            run_end += 1
                        r1 = r1 + int(np.argmax(in_before[c, r1 : run_end + 1] / (after[c, r1 : run_end + 1] + 1e-30)))
                        outside = max(before[c, b0], after[c, r1])
                        # switched on and off, not struck: as loud at its end as at its start (a shaker, a hi-hat
                        # or a snare decays before it stops)
                        third = max(1, (r1 - b0) // 3)
                        head = (cs[c, a + b0 + third] - cs[c, a + b0]) / third
                        tail = (cs[c, a + r1] - cs[c, a + r1 - third]) / third
                        glitch = (r1 - b0) * QUAD * MICRO < self._glitch  # too few quads to judge its shape
                        if glitch and E is None:
                            break  # the cross-channel pass judges no glitch (nor anything under 40 ms: below)
                        if glitch:
                            # a glitch is noise over its whole span; energy in one microframe is an impulse or an
                            # edge (a naive oscillator's, between straight ramps), the click stage's business
                            mfe = E[c, (a + b0) * QUAD : (a + r1) * QUAD]
                            if float(mfe.max()) > _GLITCH_PEAK_SHARE * float(mfe.sum()):
                                continue
                        if not glitch and not (self._flat_ratio ** -1 <= head / max(tail, 1e-30) <= self._flat_ratio):
                            continue
                        level = (cs[c, a + r1] - cs[c, a + b0]) / (r1 - b0)
                        # (differences of the running sums over a hard-clipped master's flat tops, exact zeros of
                        # residual, can come out zero or a rounding error below it)
                        value = 10.0 * math.log10(max(level, 1e-30) / max(outside, 1e-30))
                        s0, s1 = (qa + b0) * QUAD * MICRO, (qa + r1) * QUAD * MICRO
                        # a short burst is judged on few chunks, and percussion (a hi-hat, a shaker) is short noise:
                        # it must stand further out
                        need = self._burst_min_db + (_SHORT_BURST_EXTRA_DB if s1 - s0 < self._short_burst else 0.0)
                        if own is not None and s1 - s0 < round(_CROSS_MIN_S * self.sample_rate):
                            # the cross-channel pass: a short hit panned to one side stands far out of what the
                            # other channel predicts (a struck piece's percussion reached 25 dB as a 3 ms glitch);
                            # bursts that short are the plain pass's alone
                            break
                        if s1 - s0 < self._glitch:
                            # shorter than any percussion sound's body: a glitch must stand far out (short hi-hat and
                            # snare attacks reached 12-21 dB here on clean corpora)
                            need = max(need, _GLITCH_MIN_DB)
                        if value < need:
                            # too weak to be told from the music (a burst on top of it would not be weak), but a
                            # look-alike for the recurrence test
                            if not retry:
                                shapes.append((s1 - s0, value))
                                busy[c] = qa + int(r1)
                            break
                        # steady inside: noise switched on keeps its level from chunk to chunk (a 2 ms chunk of
                        # white noise varies by well under 1 dB); a strum or a percussion sample swells and decays
                        # (a quad at either end is left out: the ramps, and the quad grid against the true edges)
                        nk = (r1 - b0 - 2) // self._chunk
                        spread_db = 0.0  # a burst of one chunk or less has no spread to judge
                        if nk >= 2:
                            e = cs[c, a + b0 + 1 : a + b0 + 2 + self._chunk * nk : self._chunk]
                            lg = np.maximum(e[1:] - e[:-1], 1e-30)
                            np.log10(lg, out=lg)
                            mean = float(lg.sum()) / nk
                            # standard deviation of the chunk levels, dB
                            spread_db = 10.0 * math.sqrt(max(float(lg @ lg) / nk - mean * mean, 0.0))
                        if own is not None:
                            own_in = (own[c, a + r1] - own[c, a + b0]) / (r1 - b0)
                            own_out = max((own[c, a + b0 - 1] - own[c, a + b0 - 1 - go]) / go,
                                          (own[c, a + r1 + 1 + go] - own[c, a + r1 + 1]) / go, 1e-30)
                            if own_in < 10.0 ** (_CROSS_OWN_DB / 10.0) * own_out:
                                break
                        if spread_db > self._steady_db:
                            # a swell or a decay; a later rise inside it (a burst that starts on the tail of a
                            # drum hit) is still looked at
                            if not retry:
                                shapes.append((s1 - s0, value))
                            break
                        against = ("the music residual" if own is None else
                                   "what the other channel does not predict of the music")
                        detail = (f"broadband burst of {(s1 - s0) / self.sample_rate * 1000:.0f} ms, "
                                  f"{value:.1f} dB above {against} around it, level steady to {spread_db:.1f} dB")
                        events.append(("noise_burst", s0, s1, c, value, detail))
                        busy[c] = qa + int(r1)
                        break
                    if len(events) > found_before or busy[c] != busy_before:
                        break  # decided: a burst, or (first try) a look-alike too weak to be one

        return qa + hold

    # ------------------------------------------------------------------ output
    def _recurrent_bursts_removed(self) -> list[tuple]:
        """Events without the bursts that recur: a sound that comes back again and again with the same length
        and level (a shaker or a hi-hat sample on every beat) is part of the music, not a fault. Each burst pass
        is judged on its own look-alikes (their levels are measured against different residuals)."""
        events = self._without_recurrent(self._events, self._burst_shapes)
        plain = [(e[1], e[2]) for e in events if e[0] == "noise_burst"]
        # a burst the plain pass found keeps its channels and level from there
        cross = [e for e in self._without_recurrent(self._cross_events, self._cross_shapes)
                 if not any(e[1] < b and a < e[2] for a, b in plain)]
        return events + cross + self._lone_smooth_clicks()

    def _lone_smooth_clicks(self) -> list[tuple]:
        """The smooth clicks that do not recur: a pulse with more than ``_SMOOTH_RECURRENT`` look-alikes in the
        stream (every smooth pulse the fit found counts, reported or not: the same family, a width within one
        sample, a level within ``_SMOOTH_LOOK_DB``) is a sound of the music, a percussion sample on the beat."""
        if not self._smooth_events:
            return []
        looks = np.array(self._smooth_looks, dtype=np.float64).reshape(-1, 3)
        out = []
        for event, (family, width, level) in self._smooth_events:
            alike = int(np.count_nonzero((looks[:, 0] == family) & (np.abs(looks[:, 1] - width) <= 1)
                                         & (np.abs(looks[:, 2] - level) <= _SMOOTH_LOOK_DB))) - 1
            if alike <= _SMOOTH_RECURRENT:
                out.append(event)
        return out

    def _without_recurrent(self, events: list[tuple], turned_down: list[tuple[int, float]]) -> list[tuple]:
        bursts = [e for e in events if e[0] == "noise_burst"]
        shapes = [(e[2] - e[1], e[4]) for e in bursts] + turned_down
        if not bursts or len(shapes) <= self._recurrent:
            return events
        # look-alikes: durations within a bin of 15 % and levels within a bin of 4 dB of each other; the
        # candidates that failed the level or steadiness test count too (the same sample, played softer)
        dur_bin = np.round(np.log([max(n, 1) for n, _ in shapes]) / math.log(1.15)).astype(np.int64)
        val_bin = np.round(np.array([v for _, v in shapes]) / 4.0).astype(np.int64)
        counts: dict[tuple[int, int], int] = {}
        for key in zip(dur_bin.tolist(), val_bin.tolist()):
            counts[key] = counts.get(key, 0) + 1
        dur_bin, val_bin = dur_bin[: len(bursts)], val_bin[: len(bursts)]
        recurrent = [
            sum(counts.get((d + i, v + j), 0) for i in (-1, 0, 1) for j in (-1, 0, 1)) > self._recurrent
            for d, v in zip(dur_bin.tolist(), val_bin.tolist())
        ]
        keep = [e for e, r in zip(bursts, recurrent) if not r]
        return [e for e in events if e[0] != "noise_burst"] + keep

    def _merged(self) -> list[Detection]:
        sr = self.sample_rate
        merge = round(self._merge_s * sr)
        every = frozenset(range(self.channels))
        merged: list[list] = []
        for kind, s, e, ch, value, detail in sorted(self._recurrent_bursts_removed(), key=lambda e: (e[0], e[1])):
            # merge with a close earlier event of this kind on this channel; across channels the event covers the
            # channels of both (channel -1 only when that is every channel: a click on the centre and LFE of a
            # 5.1 file is two rows, not one that claims all six)
            # prev[6], the event's channel so far: its own, -1 once it covers every channel, None for a set between
            chans = every if ch < 0 else frozenset([ch])
            for prev in reversed(merged[-8:]):
                same = prev[6] == ch or (prev[6] is None and chans <= prev[3])
                if prev[0] == kind and s - prev[2] <= merge and (same or kind != "click" or s - prev[1] <= 2):
                    prev[2] = max(prev[2], e)
                    prev[3] = prev[3] | chans
                    if ch != prev[6]:
                        prev[6] = -1 if prev[3] == every else None
                    if value > prev[4]:
                        prev[4], prev[5] = value, detail
                    break
            else:
                merged.append([kind, s, e, chans, value, detail, ch])
        out: list[list] = []
        for kind, s, e, chans, value, detail, label in merged:
            if label is not None:
                out.append([kind, s, e, label, value, detail])
                continue
            targets = sorted(chans)
            detail = f"{detail} (one event on channels {', '.join(map(str, targets))})"
            out.extend([kind, s, e, c, value, detail] for c in targets)
        # an abrupt first or last sample is the edge detectors' business (start_cut, end_cut), not an impulse
        edge = round(EDGE_S * sr)
        out = [o for o in out if o[1] >= edge and o[2] <= self._n - edge]
        # a click or a splice is a glitch of a millisecond or two to the burst stage's coarser grid: a glitch
        # holding one of them (within a millisecond of its span, on a channel it covers) is that finding
        pad = round(0.001 * sr)
        jumps = [(s, ch) for k, s, _, ch, _, _ in out if k != "noise_burst"]
        out = [o for o in out if not (o[0] == "noise_burst" and o[2] - o[1] < self._glitch and any(
            o[1] - pad <= s <= o[2] + pad and (ch == -1 or o[3] == -1 or ch == o[3]) for s, ch in jumps))]
        dets = [Detection(k, s / sr, max(e, s) / sr, int(ch), float(v), d,
                          across=k == "noise_burst" and _ACROSS in d) for k, s, e, ch, v, d in out]
        return sorted(dets, key=lambda d: (d.start_s, d.kind, d.channel))
