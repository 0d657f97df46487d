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
everything. The joint is the run's first sample. A copy that was dithered or mixed into afterwards is not
equal sample for sample; the impulse detector's repeat test (to -40 dB, at its candidates) covers that.

Cost: about an add, a multiply, a shift and a compare per sample, and a sort of the block's anchor keys
(about one sample in 64).
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
        self._trim()

    def finish(self) -> list[Detection]:
        """Findings for everything fed so far."""
        self._resolve(final=True)
        return list(self._found)

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
        every_pos = np.concatenate([self._pos, pos])
        every_key = np.concatenate([self._keys, keys])
        if pos.size and every_pos.size > 1:
            order = np.argsort(every_key, kind="stable")  # equal keys stay in stream order
            k_sorted, p_sorted = every_key[order], every_pos[order]
            same = np.flatnonzero(k_sorted[1:] == k_sorted[:-1])
            later, lag = p_sorted[same + 1], p_sorted[same + 1] - p_sorted[same]
            pick = (lag >= _MIN_LAG) & (lag <= _MAX_LAG) & (later >= (pos[0] if pos.size else self._frames))
            self._pending.extend(sorted(zip(later[pick].tolist(), lag[pick].tolist())))
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
        need = min([self._frames - _MAX_LAG - _SLACK] + [t for t, _ in self._pending]) - self._history
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
