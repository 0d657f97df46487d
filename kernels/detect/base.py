"""What a detector reports: a kind, where, which channel, how much."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    """One finding of a detector, before a QC profile gives it a severity.

    Parameters
    ----------
    kind : str
        The finding kind (a contract name such as ``click`` or ``dropout``).
    start_s, end_s : float
        Seconds from the start of the stream; whole-track findings span the whole stream.
    channel : int
        Zero-based channel, or ``-1`` for all channels.
    value : float
        The measured magnitude in the kind's unit (``nan`` where there is none).
    detail : str
        One sentence for a person, with the numbers.
    silence_dbfs : float
        Dropouts only: the threshold every sample of the run stays within, dBFS (``-84``: digital silence;
        ``-54``: the near-silence tier); ``nan`` for every other kind. Lets the audit tell a stop to exact
        zeros from a cut to quiet noise when it relates findings of different detectors.
    repeated : int
        Discontinuities only: the length in samples of a stretch proven to play twice in a row, sample for
        sample, with the joint at ``start_s`` (:mod:`kernels.detect.repeats`); 0 where that was not shown. Lets
        the audit report such a splice once when the impulse detector saw its joint too.
    across : bool
        Noise bursts only: found only against what the other channel of a stereo pair does not predict of the
        channel (:mod:`kernels.detect.impulses`, its second burst pass). Lets the audit set aside such bursts in
        a lossy-coded file, whose channels were coded apart.
    """

    kind: str
    start_s: float
    end_s: float
    channel: int = -1
    value: float = math.nan
    detail: str = ""
    silence_dbfs: float = math.nan
    repeated: int = 0
    across: bool = False

    def __post_init__(self) -> None:
        if not (self.end_s >= self.start_s >= 0):
            raise ValueError(f"detection {self.kind}: span {self.start_s}..{self.end_s} s is not ordered")
