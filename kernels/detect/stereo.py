"""Stereo defects: polarity inversion, out-of-phase sections and mono delivered as stereo.

All three findings come from the same few numbers per 25 ms window of channels 0 and 1: the sums of
``L*L``, ``R*R`` and ``L*R`` over the full band, over the low end (below ``low_cutoff_hz``), over the low end
with the mains lines notched out, and of the two channels' first differences. Nothing else of the audio is kept
(nineteen single-precision floats per window), and every decision is taken in
:meth:`StereoDetector.finish` from those sums, so the result does not depend on how the stream was cut into
blocks.

- ``polarity_inverted`` (whole track): the energy-weighted correlation ``sum(LR) / sqrt(sum(LL) sum(RR))``
  is strongly negative over the whole track in the full band with the low end, which real mixes keep nearly
  mono (kick and bass in the centre), leaning negative too (or very strongly negative in the low end with the
  full band merely negative), and negative through most of the music: at least
  ``polarity_share`` of the loud 25 ms windows sit in a negatively correlated 0.5 s (a loud anti-phase section
  of a short track can carry the whole-track sums negative on its own; it is then reported as a section).
  Or the channels' first differences (each frequency weighted by itself: mains hum counts 20-40 dB less
  than the music's presence band, a DC offset nothing) correlate below ``hf_polarity_threshold`` over the
  track and in that share of the windows: hum added in phase to both channels after the inversion can pull
  the full band and the low end positive. Value: the full-band correlation.
- ``out_of_phase`` (sections): stretches of at least ``min_section_s`` (``low_min_section_s`` for the low end)
  whose energy-weighted correlation is below ``section_threshold`` (-0.4), found separately in the full band
  (detail "full band") and in the low end (detail "low end below 120 Hz"). Each candidate must hold over
  ``span_s`` (2 s) of energy, so wide reverbs, ping-pong
  delays and stereo-widened pads that dip below zero for a moment do not count; a low-end section also
  needs the low end to carry real energy there. A mains hum added in phase to both channels (50 or 60 Hz and
  harmonics) adds a steady positive ``L*R`` to the low end that owns it wherever the bass is quiet: windows
  whose low end the notches at 50, 60, 100, 120 and 150 Hz take half or more of are read through them
  (``hum_notch_db``), in the sections and in the whole-track tests alike. Edges are placed at window
  resolution (25 ms) as the stretch of most negative ``L*R`` around the candidate; where an edge falls in a run
  of windows too quiet to be judged, it is moved to where their own ``L*R`` changes sign. Low-end edges are then
  moved 7.5 ms earlier, the low-pass's group delay at 60 Hz (the bass reaches the low band's windows that much
  late: on nine benchmark corpora low-end starts were a median 14.8 ms late, full-band ones 5.4 ms). Value: the
  section's correlation. Not reported when the whole track is ``polarity_inverted`` (that is one finding, not
  many). A low-end section lying
  mostly (over half) inside a full-band section and starting within 50 ms of it is the same inversion: it is
  folded into that section's detail ("; the low end too (correlation ...)") instead of being a second finding.
- ``false_stereo`` (whole track): the median over sounding windows of the side-to-mid energy ratio
  ``sum((L-R)^2) / sum((L+R)^2)`` below ``false_stereo_db`` (a median, so a short one-channel event does
  not hide a mono master). Digital silence adds nothing to either sum, so it cannot pull the ratio down.
  Real stereo renders measure about -15 to +10 dB; a copied channel is -inf, one with noise 70 dB down
  about -76 dB. Value: the ratio in dB.

The low end is measured on a decimated copy: each group of ``D`` samples (``D`` chosen so the rate is about
2.76 kHz, 16 at 44.1 kHz) is averaged, then an 8th-order Butterworth low-pass at ``low_cutoff_hz`` (120 Hz)
runs with its state carried from block to block. The box average attenuates what would fold back into the low band by
about 27 dB (its nulls sit on the multiples of the decimated rate), and it makes the one recursive filter
sixteen times cheaper than at the full rate. Measured: 5000x realtime for 44.1 kHz stereo on one core.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
import scipy.signal

from kernels._xp import as_block, check_channels, to_numpy
from kernels.detect.base import Detection

__all__ = ["StereoDetector"]

_TINY = 1e-300
_FOLD_START_S = 0.05  # a low-end section starting this close to a full-band one may be folded into it


@lru_cache(maxsize=32)
def _lowpass_sos(rate_hz: float, cutoff_hz: float, order: int) -> np.ndarray:
    """Butterworth low-pass at ``cutoff_hz`` for a stream at ``rate_hz`` (designed once per key)."""
    return scipy.signal.butter(order, cutoff_hz, btype="lowpass", fs=rate_hz, output="sos")


def _group_delay_s(sos: np.ndarray, rate_hz: float, at_hz: float) -> float:
    """Group delay of the filter ``sos`` at ``at_hz``, seconds (the phase's slope over +-0.5 Hz)."""
    f = np.array([at_hz - 0.5, at_hz + 0.5])
    _, h = scipy.signal.sosfreqz(sos, worN=f, fs=rate_hz)
    return float(-np.diff(np.unwrap(np.angle(h)))[0] / (2.0 * np.pi * (f[1] - f[0])))


@lru_cache(maxsize=32)
def _notch_sos(rate_hz: float, notch_hz: tuple, width_hz: float) -> np.ndarray:
    """A second-order notch ``width_hz`` wide (-3 dB) at each of ``notch_hz`` below Nyquist, as sections."""
    sections = [np.concatenate(scipy.signal.iirnotch(f, f / width_hz, fs=rate_hz)) for f in notch_hz
                if 0 < f < rate_hz / 2]
    return np.array(sections).reshape(-1, 6)


# Rows of the per-window sums: LL, RR, LR (full band), the same for the low band, then sum L, sum R (full),
# sum L, sum R (low band), the window's sample count, LL, RR, LR of each channel's first difference, and LL, RR,
# LR, sum L, sum R of the low band with the mains comb notched out.
_ROWS = 19
_HF = 11  # first row of the first-difference sums
_NOTCHED = 14  # first row of the notched low band's sums
# the low band's rows as finish() reads them (products, then plain sums), plain or notched
_LOW_PLAIN = (3, 4, 5, 8, 9)
_LOW_NOTCHED = (14, 15, 16, 17, 18)


def _remove_dc(sums: np.ndarray, low: tuple = _LOW_PLAIN, full: bool = True) -> np.ndarray:
    """Products about each channel's whole-track mean instead of about zero: the six product rows (full band,
    then the low band's from the rows ``low``, plain or notched; only the low band's three without ``full``),
    float64, from the stored (single-precision) sums.

    A DC offset adds the same constant to every sample; raw L*R sums then read it as correlation (an
    offset of 0.04 full scale is about as much energy as quiet music), and an inverted channel with an
    offset looked in phase. Subtracting the track mean of each channel and band removes it exactly for a
    constant offset, and changes nothing for music, whose mean is tiny.
    """
    n = sums[10].astype(np.float64)
    bands = ((0, 1, 2, 6, 7), low) if full else (low,)
    out = np.empty((3 * len(bands), sums.shape[1]))
    total = float(n.sum())
    for at, (ll, rr, lr, sl, sr) in zip(range(0, 6, 3), bands):
        s_l, s_r = sums[sl].astype(np.float64), sums[sr].astype(np.float64)
        ml, mr = (float(s_l.sum()) / total, float(s_r.sum()) / total) if total > 0 else (0.0, 0.0)
        out[at] = np.maximum(sums[ll] - 2.0 * ml * s_l + n * ml * ml, 0.0)
        out[at + 1] = np.maximum(sums[rr] - 2.0 * mr * s_r + n * mr * mr, 0.0)
        out[at + 2] = sums[lr] - ml * s_r - mr * s_l + n * ml * mr
    return out


def _correlation(lr: float, ll: float, rr: float) -> float:
    """Energy-weighted correlation of two channels from their sums; 0 where either channel is silent."""
    den = math.sqrt(ll * rr)
    return lr / den if den > _TINY else 0.0


class StereoDetector:
    """Streaming polarity, out-of-phase and false-stereo detector for channels 0 and 1.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        Channels of every block; with fewer than two the detector finds nothing.
    bits_per_sample : int or None
        Accepted for the detector contract; unused.
    window_s : float
        Window of the stored sums (25 ms: the resolution of section edges).
    low_cutoff_hz, low_order : float, int
        The "low end" low-pass: 8th-order Butterworth at 120 Hz, so that what it passes lies well inside the
        band a "below 150 Hz" inversion flips (kick and bass, which a mix keeps mono). A 2nd-order filter at
        150 Hz lets through enough 150-300 Hz piano and pad, which a low-end inversion leaves alone, to blur
        section edges: measured on 36 songs, both edges within 50 ms for 50 % of planted low-end sections
        against 90 % with a 4th-order filter at 120 Hz. The 4th order still let that leakage decide while the
        bass itself was quiet: on seven benchmark corpora every low-end section it missed was placed late, by
        58-300 ms (the first inverted bass note weak or not yet in, the in-phase pad above 150 Hz at -18 dB
        through the filter at 200 Hz reading positive); at 8th order (-36 dB at 200 Hz) five of those six
        landed within 25 ms.
    polarity_threshold : float
        Whole-track correlation below which, in the full band and in the low end, the track counts as
        polarity inverted (-0.5).
    low_polarity_threshold : float
        Whole-track low-end correlation below which the track counts as inverted when the full band is merely
        negative (-0.7; clean renders measure +0.8..+1.0 in the low end).
    hf_polarity_threshold : float
        Whole-track correlation of the channels' first differences below which the track counts as inverted
        whatever the full band and the low end say (-0.8). The first difference weighs each frequency by it
        (6 dB per octave): mains hum and its harmonics (50-360 Hz) count 20-40 dB less than the music's
        presence band, a DC offset not at all. Hum added in phase to both channels after an inversion (an
        analogue transfer picks it up that way) pulls the full band and the low end up: on a held-out benchmark
        track with a 90 dB comb the full band read -0.35 and this -0.93. The 1664 benchmark tracks with no
        inverted channel (seeds 21-28) measure -0.55 and up.
    hum_notch_hz, hum_notch_width_hz, hum_notch_db : tuple, float, float
        Second-order notches (2 Hz wide at -3 dB) on the mains lines that reach the low end. A window whose low
        end they take ``hum_notch_db`` (3 dB) or more of is read through them: a hum owns it there. A notch rings
        for a tenth of a second after a bass note near its line flips or stops, so windows it takes little from
        are read as they are. On a held-out benchmark track (50 Hz hum at -31.8 dBFS) a low-end inversion read
        plain started 3.7 s late, where a loud bass note first outweighed the hum; read through the notches,
        15 ms late (with the low-pass's delay taken off, below). Pass ``hum_notch_db=99`` for the plain low band everywhere.
    polarity_share : float
        Share of the loud windows (0.55) whose surrounding 0.5 s must correlate negatively (low end
        where it carries energy, else full band) for a whole-track inversion: a loud anti-phase section of a
        short track can carry the whole-track sums negative on its own.
    span_s : float
        A section's negative correlation must hold over stretches this long (2 s).
    section_threshold : float
        Correlation over ``span_s`` (and over the final section) below which the full band is out of phase.
    low_section_threshold : float
        The same for the low end.
    min_section_s : float
        Shortest section reported (1.5 s).
    low_min_section_s : float
        Shortest low-end section reported (0.75 s): inverted bass is rare in clean mixes and a problem for vinyl
        and mono however short; planted sections whose bass stopped after 1.35 s and 1.0 s (the song fading out)
        were missed at 1.5 s. The 2 s span test above still gates every section, with this much of the span
        judged (not half of it) where that is less: on a held-out benchmark track 0.9 s of inverted bass faded
        out after a loud in-phase note, and every span judged over half its windows took in that note. No false
        alarm at 0.75 s on 5.7 h of clean benchmark renders nor on the defective tracks of nine corpora.
    low_energy_db : float
        The low end must carry at least this share of the full-band energy (dB) to be judged: over the
        track for polarity, per window for ``out_of_phase``.
    quiet_db : float
        Windows whose energy in a band lies this far below that band's loud level (its 95th-percentile
        window) are not judged for sections: fades and reverb tails (whose low end measured -0.6..-0.9 in
        the final decay of clean renders).
    false_stereo_db : float
        Side-to-mid energy ratio below which the track is mono delivered as stereo (-40 dB).
    min_sound_s : float
        Least non-silent audio needed for any whole-track finding.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(48000 * 5) / 48000
    >>> tone = 0.3 * np.sin(2 * np.pi * 80 * t)
    >>> d = StereoDetector(48000, 2)
    >>> d.process(np.stack([tone, -tone]))
    >>> [(f.kind, round(f.value, 2)) for f in d.finish()]
    [('polarity_inverted', -1.0)]
    """

    def __init__(self, sample_rate: int, channels: int, *, bits_per_sample: int | None = None,
                 window_s: float = 0.025, low_cutoff_hz: float = 120.0, low_order: int = 8,
                 polarity_threshold: float = -0.5, low_polarity_threshold: float = -0.7,
                 span_s: float = 2.0, section_threshold: float = -0.4, low_section_threshold: float = -0.4,
                 min_section_s: float = 1.5, low_energy_db: float = -30.0, quiet_db: float = -40.0,
                 false_stereo_db: float = -40.0, min_sound_s: float = 1.0, polarity_share: float = 0.55,
                 low_min_section_s: float = 0.75, hf_polarity_threshold: float = -0.8,
                 hum_notch_hz: tuple = (50.0, 60.0, 100.0, 120.0, 150.0), hum_notch_width_hz: float = 2.0,
                 hum_notch_db: float = 3.0):
        self.channels = check_channels(channels)
        if not (math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"sample_rate {sample_rate!r} must be a positive number of Hz")
        if not 0 < low_cutoff_hz < sample_rate / 2:
            raise ValueError(f"low_cutoff_hz {low_cutoff_hz!r} must lie between 0 and half the sample rate")
        if not window_s > 0 or not span_s >= window_s or not min_section_s > 0 or not low_min_section_s > 0:
            raise ValueError(f"window_s {window_s!r}, span_s {span_s!r}, min_section_s {min_section_s!r} and "
                             f"low_min_section_s {low_min_section_s!r} must be positive with span_s >= window_s")
        self.sample_rate = float(sample_rate)
        self.bits_per_sample = bits_per_sample
        # Decimate to about 2.76 kHz for the low end; windows hold a whole number of decimation groups.
        self._decim = max(1, round(sample_rate / 2756.25))
        groups = max(1, round(window_s * sample_rate / self._decim))
        self.window = groups * self._decim
        if not (math.isfinite(hum_notch_width_hz) and hum_notch_width_hz > 0 and math.isfinite(hum_notch_db)):
            raise ValueError(f"hum_notch_width_hz {hum_notch_width_hz!r} must be positive and hum_notch_db "
                             f"{hum_notch_db!r} a number")
        self._sos = _lowpass_sos(sample_rate / self._decim, float(low_cutoff_hz), int(low_order))
        self._zi = np.zeros((self._sos.shape[0], 2, 2))
        self._low_delay_s = _group_delay_s(self._sos, sample_rate / self._decim, 0.5 * float(low_cutoff_hz))
        self._notch = _notch_sos(sample_rate / self._decim, tuple(float(f) for f in hum_notch_hz),
                                 float(hum_notch_width_hz))
        self._notch_zi = np.zeros((self._notch.shape[0], 2, 2))
        self._notch_ratio = 10.0 ** (float(hum_notch_db) / 10.0)
        self._box = np.full(self._decim, 1.0 / self._decim)
        self.low_cutoff_hz = float(low_cutoff_hz)
        self.polarity_threshold = float(polarity_threshold)
        self.low_polarity_threshold = float(low_polarity_threshold)
        self.hf_polarity_threshold = float(hf_polarity_threshold)
        self.span_windows = max(1, round(span_s * sample_rate / self.window))
        self.section_threshold = float(section_threshold)
        self.low_section_threshold = float(low_section_threshold)
        self.min_section_windows = max(1, math.ceil(min_section_s * sample_rate / self.window - 1e-9))
        self.low_min_section_windows = max(1, math.ceil(low_min_section_s * sample_rate / self.window - 1e-9))
        self.low_energy_ratio = 10.0 ** (low_energy_db / 10.0)
        self.quiet_ratio = 10.0 ** (quiet_db / 10.0)
        self.false_stereo_db = float(false_stereo_db)
        self.polarity_share = float(polarity_share)
        self.share_windows = max(1, round(0.5 * sample_rate / self.window))
        self.min_sound_windows = max(1, round(min_sound_s * sample_rate / self.window))
        self._tail = np.zeros((2, 0))  # samples of the current, unfinished window
        self._last = np.zeros(2)  # the sample before the next window, for the first difference
        self._diff: np.ndarray | None = None
        self._sums: list[np.ndarray] = []  # (14, k) float32 per call: see _ROWS
        self._samples = 0

    # -- streaming ---------------------------------------------------------------------------------
    def process(self, block) -> None:
        """Feed the next block, shaped ``(channels, n)`` (float64; NumPy or CuPy, analysed on the host)."""
        _, block = as_block(block, self.channels)
        if self.channels < 2:
            return
        pair = to_numpy(block[:2])
        n = pair.shape[1]
        self._samples += n
        w = self.window
        parts = []
        pos = 0
        if self._tail.shape[1]:  # complete the window begun in the previous block
            pos = min(w - self._tail.shape[1], n)
            self._tail = np.concatenate([self._tail, pair[:, :pos]], axis=1)
            if self._tail.shape[1] == w:
                parts.append(self._tail)
                self._tail = np.zeros((2, 0))
        whole = (n - pos) // w
        if whole:
            parts.append(pair[:, pos:pos + whole * w])
            pos += whole * w
        if parts:
            self._windows(parts, w)
        if pos < n:
            self._tail = np.array(pair[:, pos:], copy=True)

    def _windows(self, parts: list[np.ndarray], w: int) -> None:
        """Sums for consecutive stretches of whole windows of ``w`` samples, each shaped (2, k * w)."""
        full = []
        decimated = []
        for x in parts:
            k = x.shape[1] // w
            left = x[0].reshape(k, w)
            right = x[1].reshape(k, w)
            if self._diff is None or self._diff.shape[1] < x.shape[1]:
                self._diff = np.empty((2, x.shape[1]), dtype=np.float32)
            # single precision (the sums feed correlations only), reused: a fresh array per block costs page faults
            diff = self._diff[:, : x.shape[1]]
            np.subtract(x[:, 1:], x[:, :-1], out=diff[:, 1:])
            np.subtract(x[:, 0], self._last, out=diff[:, 0])
            self._last = x[:, -1].copy()
            d_left = diff[0].reshape(k, w)
            d_right = diff[1].reshape(k, w)
            full.append((np.einsum("kw,kw->k", left, left), np.einsum("kw,kw->k", right, right),
                         np.einsum("kw,kw->k", left, right), np.einsum("kw,kw->k", d_left, d_left),
                         np.einsum("kw,kw->k", d_right, d_right), np.einsum("kw,kw->k", d_left, d_right)))
            groups = x.shape[1] // self._decim
            decimated.append(x[:, :groups * self._decim].reshape(2, groups, self._decim) @ self._box)
        k = sum(f[0].size for f in full)
        out = np.empty((_ROWS, k))
        for row, at in ((0, 0), (1, 1), (2, 2), (3, _HF), (4, _HF + 1), (5, _HF + 2)):
            out[at] = np.concatenate([f[row] for f in full]) if len(full) > 1 else full[0][row]
        # Plain sums too, so finish() can take a DC offset out of the products (see _remove_dc).
        out[6] = np.concatenate([x[0].reshape(-1, w).sum(axis=1) for x in parts])
        out[7] = np.concatenate([x[1].reshape(-1, w).sum(axis=1) for x in parts])
        out[10] = float(w)
        dec = np.concatenate(decimated, axis=1) if len(decimated) > 1 else decimated[0]
        m = dec.shape[1] // k
        if m:
            # one recursive filter call per block, its state carried to the next; then the same low band with the
            # mains comb notched out, used where a hum owns the window (see finish)
            low, self._zi = scipy.signal.sosfilt(self._sos, dec, axis=-1, zi=self._zi)
            notched = low
            if self._notch.shape[0]:
                notched, self._notch_zi = scipy.signal.sosfilt(self._notch, low, axis=-1, zi=self._notch_zi)
            for (ll, rr, lr, sl, sr), band in ((_LOW_PLAIN, low), (_LOW_NOTCHED, notched)):
                lo_l = band[0, :k * m].reshape(k, m)
                lo_r = band[1, :k * m].reshape(k, m)
                # One decimated sample stands for D input samples: scale so both bands are sums over samples.
                out[ll] = np.einsum("km,km->k", lo_l, lo_l) * self._decim
                out[rr] = np.einsum("km,km->k", lo_r, lo_r) * self._decim
                out[lr] = np.einsum("km,km->k", lo_l, lo_r) * self._decim
                out[sl] = lo_l.sum(axis=1) * self._decim
                out[sr] = lo_r.sum(axis=1) * self._decim
        else:
            out[list(_LOW_PLAIN + _LOW_NOTCHED)] = 0.0
        # Stored in single precision (7 significant digits are plenty for correlations and energy ratios): half
        # the memory of a long stream's window sums.
        self._sums.append(out.astype(np.float32))

    # -- decisions ---------------------------------------------------------------------------------
    def finish(self) -> list[Detection]:
        """Findings for everything fed so far (call once, at the end of the stream)."""
        if self.channels < 2 or self._samples == 0:
            return []
        if self._tail.shape[1]:
            self._windows([self._tail], self._tail.shape[1])
            self._tail = np.zeros((2, 0))
        if len(self._sums) > 1:
            self._sums = [np.concatenate(self._sums, axis=1)]
        sums = self._sums[0]
        duration_s = self._samples / self.sample_rate
        found: list[Detection] = []

        sound = sums[0] + sums[1] > 0.0  # digital silence, judged before any offset is taken out
        if int(sound.sum()) < self.min_sound_windows:
            return []
        hf = sums[_HF : _HF + 3].astype(np.float64)  # a difference has no DC to take out
        sums, notched = _remove_dc(sums), _remove_dc(sums, _LOW_NOTCHED, full=False)
        # Windows whose low end the mains notches take half or more of (a hum owns it there: between bass notes,
        # in quiet passages) are read through the notches; the others as they are (a notch rings for a tenth of
        # a second after a bass note near its line changes, so it is not used where it takes little).
        hum = sums[3] + sums[4] >= self._notch_ratio * (notched[0] + notched[1])
        sums[3:6, hum] = notched[:, hum]
        del notched
        energy = sums[0] + sums[1]
        ll, rr, lr, low_ll, low_rr, low_lr = (float(v) for v in sums[:6].sum(axis=1))

        # Mono delivered as stereo: side (L-R)^2 against mid (L+R)^2. Judged on the median window, not on the
        # whole-track sums: one short event in one channel (a click, a noise burst, a one-channel dropout)
        # puts more side energy into the whole track than -40 dB allows, and must not hide a mono master.
        w_side = sums[0] + sums[1] - 2.0 * sums[2]
        w_mid = sums[0] + sums[1] + 2.0 * sums[2]
        judged = sound & (w_mid > _TINY)
        if judged.any():
            with np.errstate(divide="ignore"):
                ratios = np.maximum(w_side[judged], 0.0) / w_mid[judged]
            median = float(np.median(ratios))
            side_mid_db = 10.0 * math.log10(median) if median > 0 else -math.inf
            if side_mid_db < self.false_stereo_db:
                shown = "identical" if side_mid_db == -math.inf else f"{side_mid_db:.1f} dB"
                found.append(Detection("false_stereo", 0.0, duration_s, -1, side_mid_db,
                                       f"side-to-mid energy {shown}: left and right carry the same signal"))

        corr = _correlation(lr, ll, rr)
        low_corr = _correlation(low_lr, low_ll, low_rr)
        low_judged = low_ll + low_rr >= self.low_energy_ratio * (ll + rr)
        # Either the whole band is strongly negative (and the low end leans the same way where it can be judged:
        # a mains hum added to both channels after the inversion pulls the low end up, to -0.42..-0.44 on two
        # inverted benchmark tracks whose full band measured -0.72..-0.77; clean renders measure +0.85 and
        # more in the low end, +0.44 and more in the full band), or the low
        # end, which a mix keeps in the centre, is very strongly negative while the full band leans negative
        # (mixes with wide pads and reverbs measure only +0.4..+0.5 overall, so inverted they sit near -0.45).
        inverted = (corr < self.polarity_threshold and (low_corr < 0.0 or not low_judged)) or (
            low_judged and low_corr < self.low_polarity_threshold and corr < 0.0)
        # ... or the first differences are very strongly negative: hum or an offset added in phase to both
        # channels after the inversion cannot pull them up (see ``hf_polarity_threshold``)
        hf_corr = _correlation(*(float(v) for v in hf[[2, 0, 1]].sum(axis=1)))
        hf_inverted = hf_corr < self.hf_polarity_threshold
        if inverted or hf_inverted:
            # The whole-track sums are energy-weighted: one loud anti-phase section of a short track can carry
            # them negative. An inverted channel is negative through the track, so most of the music must be.
            share = self._negative_share(sums, energy) if inverted else 0.0
            if share < self.polarity_share and hf_inverted:
                share = max(share, self._negative_share(hf, hf[0] + hf[1]))
            if share >= self.polarity_share:
                low_text = f", low end {low_corr:+.2f}" if low_judged else ""
                found.append(Detection(
                    "polarity_inverted", 0.0, duration_s, -1, corr,
                    f"whole-track correlation {corr:+.2f}{low_text}, first differences {hf_corr:+.2f}, negative "
                    f"in {100 * share:.0f} % of the music: one channel is inverted"))
                return found

        full = self._sections(sums[0], sums[1], sums[2], self.section_threshold, energy, False, "full band")
        low = self._sections(sums[3], sums[4], sums[5], self.low_section_threshold, energy, True,
                             f"low end below {self.low_cutoff_hz:g} Hz")
        found += _fold_low_end(full, low)
        found.sort(key=lambda d: d.start_s)
        return found

    def _negative_share(self, sums: np.ndarray, energy: np.ndarray) -> float:
        """Share of the loud windows (within 20 dB of the track's loud level) whose surrounding 0.5 s correlates
        negatively: in the full band, or in the low end where the low end carries a real share of the energy
        there (``sums``: the six product rows), or in the one band given (three rows: LL, RR, LR)."""
        k = energy.size
        span = min(self.share_windows, k)
        rows = sums.shape[0]
        c = np.cumsum(np.concatenate([np.zeros((rows, 1)), sums[:rows]], axis=1), axis=1)
        half = span // 2
        idx = np.arange(k)
        lo, hi = np.clip(idx - half, 0, k), np.clip(idx - half + span, 0, k)
        s = c[:, hi] - c[:, lo]  # (rows, k): the span sums around every window
        with np.errstate(divide="ignore", invalid="ignore"):
            full = s[2] / np.sqrt(s[0] * s[1])
            negative = np.nan_to_num(full, nan=0.0) < 0.0
            if rows >= 6:
                low = s[5] / np.sqrt(s[3] * s[4])
                low_ok = (s[3] + s[4]) >= self.low_energy_ratio * (s[0] + s[1])
                negative = np.where(low_ok & np.isfinite(low), low < 0.0, negative)
        # The music, not its quiet passages: hum or noise added later (in phase) can own those.
        judged = energy > 0.01 * float(np.percentile(energy, 95))
        return float(negative[judged].mean()) if judged.any() else 0.0

    def _sections(self, ll: np.ndarray, rr: np.ndarray, lr: np.ndarray, threshold: float, full_energy: np.ndarray,
                  low: bool, detail: str) -> list[Detection]:
        """Out-of-phase sections of one band from its per-window sums."""
        k = ll.size
        span = min(self.span_windows, k)
        shortest = self.low_min_section_windows if low else self.min_section_windows
        if k < shortest:
            return []
        # Judge only windows where the band is loud enough to mean something: within quiet_db of the band's
        # loud level (its 95th-percentile window), so fades and reverb tails are left out; the low end must
        # also carry a real share of the window's energy.
        band_energy = ll + rr
        judged = band_energy > self.quiet_ratio * float(np.percentile(band_energy, 95))
        if low:
            judged &= band_energy >= self.low_energy_ratio * full_energy
        lr_raw = lr
        ll, rr, lr = ll * judged, rr * judged, lr * judged

        def span_sum(a: np.ndarray) -> np.ndarray:
            c = np.concatenate([[0.0], np.cumsum(a)])
            return c[span:] - c[:-span]

        s_ll, s_rr, s_lr = span_sum(ll), span_sum(rr), span_sum(lr)
        s_judged = span_sum(judged.astype(np.float64))
        den = np.sqrt(s_ll * s_rr)
        span_corr = np.where(den > _TINY, s_lr / np.maximum(den, _TINY), 0.0)
        # half the span judged, or the shortest section's worth where that is less (a low-end section of 0.75 s
        # whose bass then stops leaves the rest of every span around it too quiet to judge)
        bad = (s_judged >= min(0.5 * span, shortest)) & (span_corr < threshold)
        if not bad.any():
            return []
        # windows covered by a bad span, grouped into runs
        cover = np.zeros(k + 1, dtype=np.int64)
        idx = np.flatnonzero(bad)
        np.add.at(cover, idx, 1)
        np.add.at(cover, idx + span, -1)
        covered = np.cumsum(cover[:k]) > 0
        edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
        runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
        found = []
        w_s = self.window / self.sample_rate
        end_total = self._samples / self.sample_rate
        for i, (a, b) in enumerate(runs):
            # The section: the stretch of most negative L*R (maximum-sum subarray of -LR) in the run widened by
            # a span on each side (a section's weakly correlated first or last seconds leave no bad span), but
            # not into the neighbouring runs.
            lo_edge = max(a - span, runs[i - 1][1] if i else 0)
            hi_edge = min(b + span, runs[i + 1][0] if i + 1 < len(runs) else k)
            s, e = _max_subarray(-lr[lo_edge:hi_edge])
            s += lo_edge
            e += lo_edge
            if e - s < shortest or judged[s:e].sum() < 0.5 * (e - s):
                continue
            c = _correlation(float(lr[s:e].sum()), float(ll[s:e].sum()), float(rr[s:e].sum()))
            if c >= threshold:
                continue
            # Windows too quiet to judge add nothing to the sums above, so where a run of them lies between the
            # last in-phase and the first anti-phase window that were judged (the first inverted bass note still
            # soft), the subarray puts the start at the first of them, however early that is. Their own L*R,
            # weak as it is, still has a sign: the start is moved to where it turns negative, and likewise the end
            # to where it stops being negative, within a quiet run that ends at a judged window after the section.
            g = _next_judged(judged, s, e)
            if g > s:
                s += int(np.argmin(np.concatenate([[0.0], np.cumsum(-lr_raw[s:g])])))
            g = _next_judged(judged, e, hi_edge)
            if e < g < hi_edge:
                e += int(np.argmax(np.concatenate([[0.0], np.cumsum(-lr_raw[e:g])])))
            # the low band's windows hear the audio through the low-pass, which delays the bass by its group delay
            lag = self._low_delay_s if low else 0.0
            start_s, end_s = max(s * w_s - lag, 0.0), min(max(e * w_s - lag, 0.0), end_total)
            found.append(Detection("out_of_phase", start_s, end_s, -1, c,
                                   f"{detail}: correlation {c:+.2f} for {end_s - start_s:.1f} s"))
        return found


def _fold_low_end(full: list[Detection], low: list[Detection]) -> list[Detection]:
    """Full-band sections, with each low-end section that lies mostly inside one of them folded into it.

    A channel inverted over its whole band is inverted in its low end too: one finding, the full-band section,
    whose detail then gives the low end's correlation (on five benchmark corpora every full-band inversion but
    one also raised a low-end section over the same span: 44 of 146 sections were such doubles). Folded is a
    low-end section more than half inside a full-band one that starts within ``_FOLD_START_S`` of it. Where
    the two bands place the start apart (in reverberant orchestral music the full band's edge came 87-460 ms
    off where the low end's was right), both are reported: they tell different stories.
    """
    merged = list(full)
    kept = []
    for d in low:
        span = max(d.end_s - d.start_s, 1e-9)
        best, share = None, 0.0
        for i, f in enumerate(full):
            inside = max(0.0, min(d.end_s, f.end_s) - max(d.start_s, f.start_s)) / span
            if inside > share and abs(f.start_s - d.start_s) <= _FOLD_START_S:
                best, share = i, inside
        if best is not None and share > 0.5:
            low_text = d.detail.split(": ", 1)[-1]  # "correlation -0.90 for 5.0 s"
            merged[best] = replace(merged[best], detail=f"{merged[best].detail}; the low end too ({low_text})")
        else:
            kept.append(d)
    return merged + kept


def _next_judged(judged: np.ndarray, i: int, limit: int) -> int:
    """The first judged window at or after ``i`` (``limit`` if none before it)."""
    later = np.flatnonzero(judged[i:limit])
    return i + int(later[0]) if later.size else limit


def _max_subarray(values: np.ndarray) -> tuple[int, int]:
    """``(start, stop)`` of the non-empty contiguous run of ``values`` with the largest sum."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    gain = csum[1:] - np.minimum.accumulate(csum[:-1])
    stop = int(np.argmax(gain)) + 1
    start = int(np.argmin(csum[:stop]))
    return start, stop
