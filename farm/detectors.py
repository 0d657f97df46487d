"""The defect detectors the QC audit runs on every readable track, and how their findings become events.

The detectors live in ``kernels/detect`` (pure array code, streaming). This module only decides which run,
what they are told about the file, and turns their :class:`~kernels.detect.Detection` results into QC events;
severities come from the profile afterwards.
"""

from __future__ import annotations

from farm.audio import AudioInfo
from farm.events import Event
from kernels.detect import Detection
from kernels.detect.impulses import ImpulseDetector
from kernels.detect.runs import RunDetector
from kernels.detect.spectral import SpectralDetector
from kernels.detect.stereo import StereoDetector

DETECTORS = (ImpulseDetector, RunDetector, SpectralDetector, StereoDetector)


def make_detectors(info: AudioInfo) -> list:
    """One instance of every detector for this file."""
    # The container's bit depth only means something for PCM: lossy decoders and float files have none.
    bits = info.bits_per_sample if (info.bits_per_sample and not info.is_float) else None
    return [cls(info.sample_rate, info.channels, bits_per_sample=bits) for cls in DETECTORS]


def to_events(detections: list[Detection]) -> list[Event]:
    """QC events (severity still unset) from detector results."""
    return [
        Event(d.kind, float(d.start_s), float(d.end_s), channel=int(d.channel), value=float(d.value), detail=d.detail)
        for d in detections
    ]
