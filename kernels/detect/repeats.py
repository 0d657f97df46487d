"""Repeated runs: a stretch of samples played twice in a row, sample for sample (``discontinuity``).

A buffer replayed by a glitching driver or a bad edit (the last 20-2048 samples again) joins two places of the
same song: where the copy starts, the waveform jumps from the end of the stretch back to its beginning. In
dense music that jump can hide in the residual the impulse detector measures (2-7 dB over it), but the copy
itself cannot hide: every sample of the stretch equals the sample ``lag`` earlier, in every channel, bit for
bit where nothing was mixed or dithered after the edit. Music never does that over hundreds of samples
unless it is periodic to the sample (a naive oscillator with a whole number of samples per period, a loop),
and then the equality does not stop after one lag.

The search is content-defined so that it costs a few passes over the samples, not one per lag: a sample is
an *anchor* when a multiplicative hash of the bits of its first and last channels (summed, so that a silent
channel leaves the other to decide) falls in one of 64 buckets, and each anchor
gets a key hashing four of the ``_WINDOW`` (16) samples from it, in every channel. A repeated stretch
holds anchors at the same places in both copies, so two anchors ``20 .. 2048`` samples apart with equal keys
are a candidate; the anchors fall on about one sample in 64, so a repeat of 100 samples holds one in 3 cases
of 4, one of 300 in 99 of 100 (averaged over lengths of 20-2000 samples, 3 in 100 are missed). A
candidate is confirmed on the samples: the run of samples equal (in every channel) to those ``lag`` earlier
around it must last ``lag`` samples (up to ``_SLACK`` more, for samples that happen to be equal across the
joints) and no longer, and must hold music (its peak at least ``_MIN_PEAK``, more than ``_MIN_DISTINCT``
different values): a periodic waveform matches for many periods, digital silence and a constant matches
everything. The joint is the run's first sample.

A copy that was dithered, mixed into or low-passed afterwards (a 16-bit export, a hum or noise added later, a
lossy or band-limited copy of the edited master) is not equal sample for sample. The *loose search* (since
session 25) looks for it with anchors that small differences do not move: the samples where the first and last
channels' sum is largest within 8 samples either side, keyed by the gaps to the next three such samples. Two
anchors 20-2048 samples apart with equal keys are a candidate when the 16 samples from the later one match those
from the earlier one (the lag, or one sample more or less) to -30 dB (energy of the difference against the two
windows' mean energy) and the 16 samples a lag before the later anchor do not match at that lag to -15 dB
(periodic audio matches at its period everywhere). A candidate is confirmed when the run of 16-sample windows
matching to -30 dB around it lasts at most the lag (plus 32 samples) and at least half of it (a copy matches
over nearly all its length: copies planted on the nine benchmark corpora, low-passed afterwards or not, over
84-100 %; two naive oscillators' piecewise straight waveforms match themselves over 35-240 samples at many lags),
when it does not match itself to -20 dB at a shorter lag (a steady tone matches at every multiple of its period:
a naive pulse bass where a song dies away matched itself at two periods, 48 and 74 samples), and when the same lag
matches nothing (median above -15 dB) from a lag to half a lag before that run and from
half a lag to a lag after it. Windows that barely move (energy about their mean under 1e-5 of their energy: digital
silence, a DC plateau, a clipped top) match nothing. A low-pass after the edit spoils the match at both ends of
the copy alike, so the joint is placed where the run, centred in the copy, says the copy starts. Findings within
32 samples of an exact one are dropped. The loose search runs every 8192 samples over the new ones and their
context. Measured: on the nine benchmark corpora 19 planted repeats more are proven (5 of them found by no
detector before: a copy under noise 70 dB down, four low-passed afterwards: brick walls at 11, 16 and 17 kHz,
a 44.1 kHz source low-passed and upsampled), and nothing unplanted. Two naive voices alone (a square lead and a saw
bass, ``benchmarks/bench_qc_oscillators.py``) can still add up to a waveform whose period is a few hundred
samples exactly; one note of it that lasts between one and two periods matches like a copy (-55 dB: twice in
three such 20 s tracks).

Cost: about an add, a multiply, a shift and a compare per sample, and a sort of the block's anchor keys
(about one sample in 64); the loose search a few more passes (a running maximum by doubling windows, its keys
and their sort, about one sample in 10-20), so that the detector takes about 0.15 s instead of 0.05 s on a
3-minute song.
"""

from __future__ import annotations

import math

import numpy as np

from kernels._xp import as_block, check_channels, to_numpy
from kernels.detect.base import Detection

__all__ = ["RepeatDetector"]

_WINDOW = 16  # samples from an anchor that its key covers ...
_KEY_OFFSETS = (0, 5, 10, 15)  # ... of which these are hashed (a match is then checked on every sample)
_MIN_LAG, _MAX_LAG = 20, 2048  # lengths of the repeated stretch searched
_ANCHOR_BITS = 6  # one sample in 2**6 is an anchor
_ANCHOR_BUCKET = np.uint64(11)  # the bucket (of 64) that makes an anchor: any but 0 (where exact zeros hash)
_SLACK = 4  # a run may exceed its lag by this many samples equal by chance at the joints
_MIN_PEAK = 2.0**-15  # -90 dBFS: quieter stretches (dither, a fade's last bits) are not judged
_MIN_DISTINCT = 8  # ... nor stretches of a handful of values (a square wave's two levels)
_LOOSE_BATCH = 8192  # loose search: new samples looked at together (its context is recomputed each time) ...
_LOOSE_RADIUS = 8  # ... an anchor is the channel sum's largest sample within this many either side ...
_LOOSE_GAPS = 3  # ... keyed by the gaps to the next three anchors
_LOOSE_MATCH_DB = -30.0  # a copy matches what it copies to this, over 16 samples ...
_LOOSE_APART_DB = -15.0  # ... which the same lag half a lag and more outside the copy does not approach
_LOOSE_MIN_RUN = 32  # ... for at least this many samples
_LOOSE_MIN_SHARE = 0.5  # ... and at least this share of the lag
_LOOSE_PERIODIC_DB = -20.0  # ... nor a run that matches itself this well at a shorter lag (a steady tone)
_LOOSE_MOVING = 1e-5  # a 16-sample window whose energy about its mean is under this share of its energy is a
#                       constant (digital silence, a DC plateau, a clipped top): it matches any lag, so it matches none
_LOOSE_SLACK = 32  # a run may exceed its lag by this many samples (a copy's ends match by chance as well)
_HASH = np.uint64(0x9E3779B97F4A7C15)
_KEY_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


class RepeatDetector:
    """Streaming detector for runs of samples played twice in a row (reported as ``discontinuity``).

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        Number of channels.
    bits_per_sample : int or None
        Accepted for the detector interface; equality is judged on the samples as decoded.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.round(rng.standard_normal((2, 20000)) * 2000) / 32768
    >>> y = np.concatenate([x[:, :9000], x[:, 8500:]], axis=1)  # the 500 samples before 9000 play again
    >>> d = RepeatDetector(44100, 2)
    >>> d.process(y)
    >>> [(f.kind, round(f.start_s * 44100)) for f in d.finish()]
    [('discontinuity', 9000)]
    """

    def __init__(self, sample_rate: int, channels: int, *, bits_per_sample: int | None = None):
        check_channels(channels)
        if isinstance(sample_rate, bool) or not (isinstance(sample_rate, (int, float, np.integer, np.floating))
                                                  and math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"sample_rate {sample_rate!r} must be a positive number of Hz")
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        self.bits_per_sample = bits_per_sample
        # a confirmation looks back two lags (plus slack) from an anchor and a lag (plus slack) ahead of it
        self._history = 2 * _MAX_LAG + 2 * _WINDOW + 4 * _SLACK
        self._blocks: list[np.ndarray] = []  # the audio from self._kept_start on, as fed (not copied together)
        self._kept_start = 0
        self._frames = 0
        self._tail = np.zeros((self.channels, 0))  # the last _WINDOW - 1 samples (anchors that straddle blocks)
        self._pos = np.zeros(0, dtype=np.int64)  # anchors of the last _MAX_LAG samples: stream index ...
        self._keys = np.zeros(0, dtype=np.uint64)  # ... and key
        self._pending: list[tuple[int, int]] = []  # (anchor, lag) whose look-ahead has not arrived yet
        self._covered = 0  # confirmed or periodic runs end here: anchors before it are not looked at again
        self._found: list[Detection] = []
        # the loose search (copies that are no longer equal sample for sample)
        self._loose_next = 0  # anchors from this stream index on are not keyed yet
        self._lpos = np.zeros(0, dtype=np.int64)
        self._lkeys = np.zeros(0, dtype=np.uint64)
        self._loose_pending: list[tuple[int, int]] = []
        self._loose_fed = 0  # stream length at the last loose pass (it runs every _LOOSE_BATCH samples)
        self._loose_found: list[Detection] = []

    def process(self, block) -> None:
        """Feed the next block, shaped ``(channels, n)``."""
        _, block = as_block(block, self.channels)
        block = np.ascontiguousarray(to_numpy(block), dtype=np.float64)
        n = block.shape[1]
        if n == 0:
            return
        start = self._frames
        # anchors inside the block, and those whose window begins in the samples before it
        pos, keys = self._anchors(block, start)
        if self._tail.shape[1]:
            joint = np.concatenate([self._tail, block[:, : _WINDOW - 1]], axis=1)
            p2, k2 = self._anchors(joint, start - self._tail.shape[1])
            # windows that end in this block and begin before it (those inside it were found above, those
            # that ended earlier in an earlier call)
            p2_ok = (p2 < start) & (p2 + _WINDOW - 1 >= start)
            pos, keys = np.concatenate([p2[p2_ok], pos]), np.concatenate([k2[p2_ok], keys])
        self._tail = np.concatenate([self._tail, block[:, -(_WINDOW - 1) :]], axis=1)[:, -(_WINDOW - 1) :]
        self._blocks.append(block)
        self._frames += n
        self._pair(pos, keys)
        self._resolve(final=False)
        if self._frames - self._loose_fed >= _LOOSE_BATCH:
            self._loose_feed()
            self._loose_resolve(final=False)
        self._trim()

    def finish(self) -> list[Detection]:
        """Findings for everything fed so far."""
        self._resolve(final=True)
        if self._frames:
            self._loose_feed()
        self._loose_resolve(final=True)
        # a copy found sample for sample is not reported again by the loose search
        exact = [round(f.start_s * self.sample_rate) for f in self._found]
        loose = [f for f in self._loose_found
                 if not any(abs(round(f.start_s * self.sample_rate) - j) <= _LOOSE_SLACK for j in exact)]
        return sorted(self._found + loose, key=lambda f: f.start_s)

    def _anchors(self, x: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Anchors (stream indices) among the windows that fit in ``x`` (which starts at ``start``), and keys."""
        n = x.shape[1] - _WINDOW + 1
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
        bits = x.view(np.uint64)
        bucket = bits[0, :n] + bits[-1, :n]  # wraps: any sum of the two will do, as long as it is the same
        bucket *= _HASH
        bucket >>= np.uint64(64 - _ANCHOR_BITS)
        at = np.flatnonzero(bucket == _ANCHOR_BUCKET)
        keys = np.zeros(at.size, dtype=np.uint64)
        for c in range(self.channels):
            row = bits[c]
            for offset in _KEY_OFFSETS:  # a few small gathers: cheaper than one (anchors, samples) array
                keys *= _KEY_MIX
                keys += row[at + offset]
        return at + start, keys

    def _pair(self, pos: np.ndarray, keys: np.ndarray) -> None:
        """Queue the new anchors whose key an anchor 20-2048 samples earlier shares."""
        every_pos, every_key, later, lag = _equal_keys(self._pos, self._keys, pos, keys)
        self._pending.extend(sorted(zip(later.tolist(), lag.tolist())))
        keep = every_pos >= self._frames - _MAX_LAG - _WINDOW
        self._pos, self._keys = every_pos[keep], every_key[keep]

    def _resolve(self, *, final: bool) -> None:
        """Confirm the queued candidates whose look-ahead has arrived (all of them at the end)."""
        if not self._pending:
            return
        ready = [c for c in self._pending if final or c[0] + c[1] + _SLACK + 1 <= self._frames]
        self._pending = [c for c in self._pending if not (final or c[0] + c[1] + _SLACK + 1 <= self._frames)]
        if not ready:
            return
        audio = np.concatenate(self._blocks, axis=1) if len(self._blocks) > 1 else self._blocks[0]
        for t, lag in sorted(ready):
            if t >= self._covered:
                self._confirm(audio, self._kept_start, t, lag)

    def _trim(self) -> None:
        """Let go of the blocks that no pending or later confirmation needs."""
        need = min([self._frames - _MAX_LAG - _SLACK, self._loose_next - 4 * _LOOSE_RADIUS - 1]
                   + [t for t, _ in self._pending] + [t - lag for t, lag in self._loose_pending]) - self._history
        while len(self._blocks) > 1 and self._kept_start + self._blocks[0].shape[1] <= need:
            self._kept_start += self._blocks.pop(0).shape[1]

    def _confirm(self, audio: np.ndarray, first: int, t: int, lag: int) -> None:
        """Is the anchor at stream index ``t`` inside a stretch that equals the one ``lag`` samples before it,
        for ``lag`` samples and no longer? ``audio`` holds the stream from index ``first``. Reports the joint."""
        i0 = t - first
        lo = max(i0 - lag - _SLACK, lag)
        hi = min(i0 + lag + _SLACK + 1, audio.shape[1])
        if i0 < lo or i0 >= hi:
            return
        equal = (audio[:, lo:hi] == audio[:, lo - lag : hi - lag]).all(axis=0)
        i = i0 - lo
        if not equal[i]:
            return
        breaks = np.flatnonzero(~equal)
        before, after = breaks[breaks < i], breaks[breaks > i]
        start = lo + (int(before[-1]) + 1 if before.size else 0)
        end = lo + (int(after[0]) if after.size else equal.size)  # one past the run
        run = end - start
        if not before.size or not after.size or run > lag + _SLACK:
            # the run goes on past the searched stretch: periodic audio (or silence), not one repeat
            self._covered = max(self._covered, first + end)
            return
        if run < lag:
            return  # equal for less than the lag: two like sounds, not a stretch played again
        stretch = audio[:, start:end]
        if float(np.abs(stretch).max()) < _MIN_PEAK or np.unique(stretch).size <= _MIN_DISTINCT:
            return
        self._covered = max(self._covered, first + end)
        joint = first + start
        jump = float(np.abs(audio[:, start] - audio[:, start - 1]).max())
        self._found.append(Detection(
            "discontinuity", joint / self.sample_rate, joint / self.sample_rate, -1,
            20.0 * math.log10(jump) if jump > 0 else -math.inf,
            f"the {lag} samples before it play again, sample for sample in every channel (a repeated run: "
            f"a buffer played twice or a bad edit); the waveform jumps by {jump:.3f} at the joint", repeated=lag))

    # ------------------------------------------------------------------ loose search
    def _kept_from(self, start: int) -> tuple[np.ndarray, int]:
        """The kept audio from stream index ``start`` (or the oldest kept) to the end, and where it starts."""
        start = max(start, self._kept_start)
        parts, at = [], self._frames
        for block in reversed(self._blocks):
            at -= block.shape[1]
            parts.append(block[:, max(0, start - at) :])
            if at <= start:
                break
        return (parts[0] if len(parts) == 1 else np.concatenate(parts[::-1], axis=1)), max(start, at)

    def _loose_feed(self) -> None:
        """Key the new loose anchors and queue those whose key an anchor 20-2048 samples earlier shares, when
        their first 16 samples match that anchor's to ``_LOOSE_MATCH_DB`` at the lag or one sample either side."""
        self._loose_fed = self._frames
        r = _LOOSE_RADIUS
        audio, first = self._kept_from(self._loose_next - 4 * r - 1 - _MAX_LAG - 2 * _WINDOW)
        base = max(first, self._loose_next - 4 * r - 1)
        s = audio[0, base - first :] + audio[-1, base - first :]
        if s.size < 2 * r + 2:
            return
        # the largest sample of s[i - r .. i + r], by doubling windows (r = 8: windows of 2, 4, 8, 16, then 17)
        top = s
        width = 1
        while width < 2 * r:
            top = np.maximum(top[:-width], top[width:])
            width *= 2
        top = np.maximum(top[: s.size - 2 * r], s[2 * r :])  # top[i]: s[i .. i + 2r]
        mid = s[r : s.size - r]
        peak = np.flatnonzero((mid == top) & (mid > 0.0) & (mid > s[r - 1 : s.size - r - 1])) + r + base
        g = _LOOSE_GAPS
        if peak.size <= g:
            return
        at = peak[:-g]
        ok = (at >= self._loose_next) & (at + _WINDOW <= self._frames)
        if not ok.any():
            return
        keys = np.zeros(at.size, dtype=np.uint64)
        for k in range(1, g + 1):
            keys = (keys << np.uint64(16)) | np.minimum(peak[k : k + at.size] - at, 0xFFFF).astype(np.uint64)
        pos, keys = at[ok], keys[ok]
        self._loose_next = int(pos[-1]) + 1
        every_pos, every_key, later, lag = _equal_keys(self._lpos, self._lkeys, pos, keys)
        keep = every_pos >= self._loose_next - _MAX_LAG - 1  # what a later anchor can still pair with
        self._lpos, self._lkeys = every_pos[keep], every_key[keep]
        if not later.size:
            return
        # a quick look at the anchor's own 16 samples, at the lag and one sample either side; and at the 16 samples
        # a lag earlier, which lie (mostly) before the copy's joint and must not match at that lag (periodic
        # audio matches at its period everywhere)
        idx = (later - first)[:, None] + np.arange(_WINDOW)  # (candidates, samples)
        keep = idx[:, 0] - 2 * (lag + 1) >= 0
        idx, later, lag = idx[keep], later[keep], lag[keep]

        def own_terms(at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """The samples at ``at``, their squares and their energy about the mean."""
            here = audio[:, at]
            return here, here**2, _ac(here)

        def ratio16(at: np.ndarray, lags: np.ndarray, own: tuple | None = None) -> np.ndarray:
            here, here2, here_ac = own if own is not None else own_terms(at)
            there = audio[:, at - lags[:, None]]
            err = ((here - there) ** 2).sum(axis=(0, 2))
            power = ((here2 + there**2) * 0.5).sum(axis=(0, 2))
            moving = here_ac + _ac(there) > _LOOSE_MOVING * 2.0 * power
            return np.where(moving, err / np.maximum(power, 1e-300), np.inf)

        own = own_terms(idx)  # the same for the three lags tried
        best_ratio, best_lag = np.full(later.size, np.inf), lag.copy()
        for d in (-1, 0, 1):
            ratio = ratio16(idx, lag + d, own)
            better = ratio < best_ratio
            best_ratio[better], best_lag[better] = ratio[better], lag[better] + d
        hit = best_ratio <= 10.0 ** (_LOOSE_MATCH_DB / 10.0)
        if hit.any():
            hit[hit] = ratio16(idx[hit] - best_lag[hit][:, None], best_lag[hit]) >= 10.0 ** (_LOOSE_APART_DB / 10.0)
        self._loose_pending.extend(sorted(set(zip(later[hit].tolist(), best_lag[hit].tolist()))))

    def _loose_resolve(self, *, final: bool) -> None:
        if not self._loose_pending:
            return

        def arrived(c: tuple[int, int]) -> bool:
            return final or c[0] + 2 * c[1] + _LOOSE_SLACK + _WINDOW <= self._frames

        ready = [c for c in self._loose_pending if arrived(c)]
        self._loose_pending = [c for c in self._loose_pending if not arrived(c)]
        if not ready:
            return
        audio, first = self._kept_from(min(t - 3 * lag for t, lag in ready) - 2 * _LOOSE_SLACK)
        for t, lag in sorted(ready):
            if lag >= _MIN_LAG:
                self._loose_confirm(audio, first, t, lag)

    def _loose_confirm(self, audio: np.ndarray, first: int, t: int, lag: int) -> None:
        """Is the anchor at ``t`` inside a stretch that matches the one ``lag`` samples before it (16-sample energy
        ratio of the difference to ``_LOOSE_MATCH_DB``) for at most ``lag`` samples, while the same lag matches
        nothing half a lag and more before and after that stretch? The joint is placed so that the stretch
        lies in the middle of the copy: a copy low-passed after it was made matches only away from its ends."""
        i0 = t - first
        lo = max(i0 - 2 * lag - _LOOSE_SLACK, lag)
        hi = min(i0 + 2 * lag + _LOOSE_SLACK, audio.shape[1] - _WINDOW)
        if not lo <= i0 < hi:
            return
        seg = audio[:, lo : hi + _WINDOW - 1]
        ref = audio[:, lo - lag : hi + _WINDOW - 1 - lag]
        err = np.cumsum(np.r_[0.0, ((seg - ref) ** 2).sum(axis=0)])
        err = err[_WINDOW:] - err[:-_WINDOW]  # err[u]: samples lo + u .. lo + u + 15
        power = np.cumsum(np.r_[0.0, ((seg**2 + ref**2) * 0.5).sum(axis=0)])
        power = power[_WINDOW:] - power[:-_WINDOW]
        ratio = err / np.maximum(power, 1e-300)
        moving = _sliding_ac(seg) + _sliding_ac(ref) > _LOOSE_MOVING * 2.0 * power
        match = (ratio <= 10.0 ** (_LOOSE_MATCH_DB / 10.0)) & moving
        i = i0 - lo
        if not match[i]:
            return
        breaks = np.flatnonzero(~match)
        before, after = breaks[breaks < i], breaks[breaks > i]
        if not before.size or not after.size:
            return  # matches on past the searched stretch: periodic audio
        a, b = int(before[-1]) + 1, int(after[0])
        if b - a > lag + _LOOSE_SLACK:
            return  # periodic audio, not one copy
        if b - a + _WINDOW - 1 < max(_LOOSE_MIN_RUN, _LOOSE_MIN_SHARE * lag):
            return  # a copy matches for (nearly) all its length; a low-pass after it spoils only its ends
        apart = 10.0 ** (_LOOSE_APART_DB / 10.0)
        half = max(1, lag // 2)
        out_before = ratio[max(0, a - lag) : max(0, a - half)]
        out_after = ratio[b + half : b + lag]
        if (not out_before.size or not out_after.size or float(np.median(out_before)) < apart
                or float(np.median(out_after)) < apart):
            return
        if self._periodic(audio, lo + a, lo + b + _WINDOW - 1, lag):
            return  # a steady tone matches itself at every multiple of its period: one of them is no copy
        joint = first + lo + (a + b + _WINDOW - 1 - lag) // 2
        if any(abs(round(f.start_s * self.sample_rate) - joint) <= _LOOSE_SLACK for f in self._loose_found):
            return  # another anchor of the same copy
        j = joint - first
        stretch = audio[:, j : j + lag]
        if float(np.abs(stretch).max()) < _MIN_PEAK or np.unique(stretch).size <= _MIN_DISTINCT:
            return
        match_db = 10.0 * math.log10(max(float(err[a:b].sum()) / max(float(power[a:b].sum()), 1e-300), 1e-30))
        jump = float(np.abs(audio[:, j] - audio[:, j - 1]).max())
        self._loose_found.append(Detection(
            "discontinuity", joint / self.sample_rate, joint / self.sample_rate, -1,
            20.0 * math.log10(jump) if jump > 0 else -math.inf,
            f"the {lag} samples before it play again, not sample for sample but to {match_db:.0f} dB over "
            f"{b - a + _WINDOW - 1} samples in every channel (a repeated run, dithered, mixed into or filtered "
            f"after it was made)", repeated=lag))


    @staticmethod
    def _periodic(audio: np.ndarray, start: int, stop: int, lag: int) -> bool:
        """Does ``audio[:, start:stop]`` match the audio ``m`` samples before it to ``_LOOSE_PERIODIC_DB`` for some
        ``m`` from ``_MIN_LAG`` to ``lag - _MIN_LAG`` (one FFT correlation per channel)?"""
        if lag < 2 * _MIN_LAG:
            return False
        target = audio[:, start:stop]
        back = audio[:, start - lag : stop]
        n, m = target.shape[1], back.shape[1]
        size = 1 << math.ceil(math.log2(n + m))
        cross = np.fft.irfft(np.fft.rfft(back, size) * np.conj(np.fft.rfft(target, size)), size)[:, : m - n + 1]
        cross = cross.sum(axis=0)  # cross[k]: the target against back[k : k + n], the audio lag - k before it
        energy = np.cumsum(np.r_[0.0, (back**2).sum(axis=0)])
        e_back = energy[n:] - energy[:-n]
        e_target = float((target**2).sum())
        ratio = (e_target + e_back - 2.0 * cross) / np.maximum((e_target + e_back) * 0.5, 1e-300)
        shorter = lag - np.arange(ratio.size)
        inside = (shorter >= _MIN_LAG) & (shorter <= lag - _MIN_LAG)
        return bool(inside.any() and float(ratio[inside].min()) <= 10.0 ** (_LOOSE_PERIODIC_DB / 10.0))

def _equal_keys(old_pos: np.ndarray, old_keys: np.ndarray, pos: np.ndarray,
                keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kept anchors and the new ones (positions, keys, in stream order), and each new anchor that shares its
    key with the anchor before it of that key, ``_MIN_LAG .. _MAX_LAG`` samples earlier: (later, lag)."""
    every_pos = np.concatenate([old_pos, pos])
    every_key = np.concatenate([old_keys, keys])
    none = np.zeros(0, dtype=np.int64)
    if not pos.size or every_pos.size < 2:
        return every_pos, every_key, none, none
    order = np.argsort(every_key, kind="stable")  # equal keys stay in stream order
    k_sorted, p_sorted = every_key[order], every_pos[order]
    same = np.flatnonzero(k_sorted[1:] == k_sorted[:-1])
    later, lag = p_sorted[same + 1], p_sorted[same + 1] - p_sorted[same]
    pick = (lag >= _MIN_LAG) & (lag <= _MAX_LAG) & (later >= pos[0])
    return every_pos, every_key, later[pick], lag[pick]


def _ac(x: np.ndarray) -> np.ndarray:
    """Energy about the mean of each 16-sample window ``x[:, i, :]``, summed over channels."""
    return (x**2).sum(axis=(0, 2)) - (x.sum(axis=2) ** 2).sum(axis=0) / x.shape[2]


def _sliding_ac(x: np.ndarray) -> np.ndarray:
    """:func:`_ac` of every window of ``_WINDOW`` samples of ``x`` (channels, n): ``n - _WINDOW + 1`` values."""
    s1 = np.cumsum(np.pad(x, ((0, 0), (1, 0))), axis=1)
    s2 = np.cumsum(np.pad(x * x, ((0, 0), (1, 0))), axis=1)
    total = s2[:, _WINDOW:] - s2[:, :-_WINDOW]
    mean = s1[:, _WINDOW:] - s1[:, :-_WINDOW]
    return (total - mean * mean / _WINDOW).sum(axis=0)
