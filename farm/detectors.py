"""The defect detectors the QC audit runs on every readable track, and how their findings become events.

The detectors live in ``kernels/detect`` (pure array code, streaming). This module only decides which run,
what they are told about the file, drops the findings another finding already explains (:func:`explain`), and
turns their :class:`~kernels.detect.Detection` results into QC events; severities come from the profile
afterwards.
"""

from __future__ import annotations

from farm.audio import AudioInfo
from farm.events import Event
from kernels.detect import Detection
from kernels.detect.impulses import ImpulseDetector
from kernels.detect.repeats import RepeatDetector
from kernels.detect.runs import RunDetector
from kernels.detect.spectral import SpectralDetector
from kernels.detect.stereo import StereoDetector

DETECTORS = (ImpulseDetector, RunDetector, SpectralDetector, StereoDetector, RepeatDetector)

#: A jump starting this close to a dropout's first sample, or to the sample after its last, is that dropout's edge.
DROPOUT_EDGE_S = 0.002
#: A noise burst ending this close to where a stop to digital silence begins (or starting this close to where one
#: ends) is the music running into (out of) that stop.
BURST_AT_STOP_S = 0.003
#: A click or discontinuity starting this close to the joint of a stretch proven to play twice is that joint.
REPEAT_JOINT_S = 0.002
#: Dropouts whose samples stay within this of a constant (dBFS) are stops to digital silence, not quiet noise.
DIGITAL_SILENCE_DBFS = -80.0
_EDGE_KINDS = frozenset({"discontinuity", "click"})


def make_detectors(info: AudioInfo) -> list:
    """One instance of every detector for this file."""
    # The container's bit depth only means something for PCM (lossy decoders have none); a float file's samples
    # are checked by the spectral detector against a float32 mantissa's 24-bit grid (16-bit audio exported as
    # float), while the other detectors' quantisation floors stay off for it.
    bits = info.bits_per_sample if (info.bits_per_sample and not info.is_float) else None
    float_bits = info.bits_per_sample if (info.is_float and info.bits_per_sample in (32, 64)) else None
    return [cls(info.sample_rate, info.channels, bits_per_sample=bits,
                **({"float_bits": float_bits} if cls is SpectralDetector and float_bits else {}))
            for cls in DETECTORS]


def explain(detections: list[Detection]) -> list[Detection]:
    """The detections less those another one already explains: one defect, one event.

    A dropout is entered and left by a step to and from silence, and the impulse detector sees each step as a
    ``discontinuity`` or a ``click``. On the held-out benchmark corpora nearly every planted dropout also
    raised one or two of those, exactly at its first sample or at the sample after its last. A jump or click
    that starts within :data:`DROPOUT_EDGE_S` of either end of a dropout, on a channel the dropout covers
    (either of them all channels, or the same one), is that dropout's edge and is not reported again. A
    jump elsewhere, or on the other channel only, still is.

    The impulse detector takes a burst for noise switched on and off when its level holds and then falls
    steeply. Where the music runs into a stop to digital silence, the fall is the stop: the music before it
    (a drum hit's sustain in a heavily limited master, a cymbal swell) looked like a burst "switched off"
    there, measured against the music before its rise only. In the stored audits of 23 kept benchmark
    corpora (made by earlier detector versions; two corpora share a seed), 17 different reported bursts ended
    within :data:`BURST_AT_STOP_S` of a dropout to digital silence, none of them planted, and one began where
    such a dropout ended; two planted bursts ended where the near-silence tier found a dropout (a burst
    switched off over a quiet passage), so only stops to digital silence (:data:`DIGITAL_SILENCE_DBFS`)
    explain a burst.

    A stretch that the repeat detector proved to play twice in a row is a splice with its joint known to the
    sample; a click or discontinuity of another detector within :data:`REPEAT_JOINT_S` of that joint, on a
    channel it covers, is the same splice seen by its jump and is not reported again.

    A burst found only against what the other channel does not predict of a channel (``Detection.across``) is
    not reported in a file flagged ``lossy_bandwidth``: a lossy codec codes the channels apart (joint stereo)
    and its own coding noise, switched frame by frame, is just what that prediction leaves. On 60 real round
    trips of clean songs (``benchmarks/bench_qc_codecs.py``: MP3, AAC, Opus) that pass raised 6 bursts of
    20-60 ms (codec frames), every one in a file the spectral detector flags as lossy.
    """
    if any(d.kind == "lossy_bandwidth" for d in detections):
        detections = [d for d in detections if not d.across]

    def same_place(d: Detection, o: Detection) -> bool:
        return o.channel == -1 or d.channel == -1 or o.channel == d.channel

    # a stretch proven to play twice (the repeat detector) is a splice whose joint the impulse detector may
    # have seen too, as a discontinuity or as a click: one defect, one event (the proven one)
    repeats = [d for d in detections if d.repeated]
    if repeats:
        detections = [d for d in detections
                      if d.repeated or d.kind not in _EDGE_KINDS
                      or not any(same_place(d, o) and abs(d.start_s - o.start_s) <= REPEAT_JOINT_S for o in repeats)]
    drops = [d for d in detections if d.kind == "dropout"]
    if not drops:
        return list(detections)

    def is_edge(d: Detection) -> bool:
        return any(same_place(d, o) and min(abs(d.start_s - o.start_s), abs(d.start_s - o.end_s)) <= DROPOUT_EDGE_S
                   for o in drops)

    stops = [o for o in drops if o.silence_dbfs <= DIGITAL_SILENCE_DBFS]

    def runs_into_a_stop(d: Detection) -> bool:
        return any(same_place(d, o) and (abs(d.end_s - o.start_s) <= BURST_AT_STOP_S
                                         or abs(d.start_s - o.end_s) <= BURST_AT_STOP_S) for o in stops)

    return [d for d in detections if not ((d.kind in _EDGE_KINDS and is_edge(d))
                                          or (d.kind == "noise_burst" and runs_into_a_stop(d)))]


def to_events(detections: list[Detection]) -> list[Event]:
    """QC events (severity still unset) from detector results."""
    return [
        Event(d.kind, float(d.start_s), float(d.end_s), channel=int(d.channel), value=float(d.value), detail=d.detail)
        for d in detections
    ]
