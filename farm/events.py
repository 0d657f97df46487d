"""The QC event model: one row per finding, one registry of finding kinds.

A detector reports *what it measured* (an :class:`Event` with a kind, a time span, a channel and a value); the QC
profile decides *how much it matters* (``info``, ``warn``, ``fail`` or ``off``). Keeping the two apart lets a
distributor fail a track for a finding that a mastering engineer only wants to see.

Detectors added later register their kinds with :func:`register_kind`; the per-track ``n_<kind>`` count columns
and the profile's validation follow the registry, so a new detector needs no change here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SEVERITIES = ("info", "warn", "fail")
"""Severities in increasing order of gravity. A profile may also set a kind to ``off``."""

STATUSES = ("ok", "warn", "fail", "error")
"""Track statuses in increasing order of gravity."""


@dataclass(frozen=True)
class KindInfo:
    """A finding kind: its contract name, what it means and whether it concerns the whole track."""

    name: str
    description: str
    whole_track: bool = False


KINDS: dict[str, KindInfo] = {}


def register_kind(name: str, description: str, *, whole_track: bool = False) -> KindInfo:
    """Add a finding kind to the registry (idempotent for an identical definition)."""
    if not name.isidentifier() or name.lower() != name:
        raise ValueError(f"finding kind {name!r} must be a lower-case identifier (it becomes column n_{name})")
    info = KindInfo(name, description, whole_track)
    known = KINDS.get(name)
    if known is not None and known != info:
        raise ValueError(f"finding kind {name!r} is already registered differently")
    KINDS[name] = info
    return info


register_kind("true_peak_over", "true peak above the profile's ceiling (value: dBTP)")
register_kind("head_silence", "digital silence at the start longer than allowed (value: seconds)", whole_track=True)
register_kind("tail_silence", "digital silence at the end longer than allowed (value: seconds)", whole_track=True)
register_kind(
    "dc_offset", "a constant offset that persists through the quiet passages (value: linear, full scale = 1)",
    whole_track=True,
)
register_kind("invalid_isrc", "ISRC with a wrong format", whole_track=True)
register_kind("invalid_upc", "UPC/EAN with a wrong format or check digit", whole_track=True)
register_kind("format", "sample rate, bit depth, channels or codec outside the profile", whole_track=True)
register_kind("loudness", "integrated loudness outside the profile's target window (value: LUFS)", whole_track=True)
register_kind("non_finite", "NaN or infinite samples in a float file (value: count)")

# The first listen: defect detectors (kernels/detect).
register_kind("click", "impulsive event of one to a few samples: click, pop, tick (value: peak of the impulse above the music, dB)")
register_kind("discontinuity", "waveform jump from a bad edit, dropped or repeated samples, a splice (value: size of the jump, dB)")
register_kind("dropout", "digital silence or near-silence of 5 ms or more inside the music (value: duration, seconds)")
register_kind("clipping", "flat-topped runs at or near the file's own maximum (value: clipped samples)")
register_kind("noise_burst", "short broadband burst that does not belong to the music (value: level above the music, dB)")
register_kind("hum", "mains hum at 50 or 60 Hz with harmonics (value: fundamental, Hz)")
register_kind("polarity_inverted", "one channel inverted against the other (value: correlation)", whole_track=True)
register_kind("out_of_phase", "section with negative L/R correlation; low end reported on its own (value: correlation)")
register_kind("false_stereo", "left and right identical or nearly so: mono delivered as stereo (value: side/mid level, dB)", whole_track=True)
register_kind("lossy_bandwidth", "brick-wall spectral cutoff of a lossy or low-rate source (value: cutoff, Hz)", whole_track=True)
register_kind("bit_depth", "effective bit depth below the container's (value: effective bits)", whole_track=True)
register_kind("start_cut", "audio starts abruptly at the file's first sample: a truncated export (value: level, dBFS)")
register_kind("end_cut", "audio stops abruptly at the file's last sample: a truncated export (value: level, dBFS)")


@dataclass(frozen=True)
class Event:
    """One finding on a track.

    Parameters
    ----------
    kind : str
        A registered kind (see :data:`KINDS`).
    start_s, end_s : float
        Where the finding lies, seconds from the start of the file (``0`` and the duration for whole-track kinds).
    channel : int
        Zero-based channel, or ``-1`` for all channels.
    value : float
        The measured magnitude in the kind's unit (``nan`` where there is none).
    detail : str
        One sentence for a person, with the numbers.
    severity : str
        Filled in by the profile (:meth:`farm.profiles.Profile.judge`); detectors leave the default.
    """

    kind: str
    start_s: float
    end_s: float
    channel: int = -1
    value: float = math.nan
    detail: str = ""
    severity: str = "info"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; register it with farm.events.register_kind")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")


def status_from(severities, *, error: bool = False) -> str:
    """Track status from its findings' severities: the worst of them, ``info`` counting as ``ok``."""
    if error:
        return "error"
    worst = "ok"
    for sev in severities:
        if sev == "fail":
            return "fail"
        if sev == "warn":
            worst = "warn"
    return worst
