"""The QC audit of one track: read in blocks, measure, judge against a profile.

:func:`audit_track` is the unit of work the cluster schedules. It never raises for a bad input: an unreadable
file becomes one ``error`` row with a message a person understands, so one broken file cannot kill a batch of a
million. Memory is bounded by the block size, whatever the duration: the meters keep only a 10 ms series.
"""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from farm import __version__
from farm.audio import AudioInfo, probe, read_blocks
from farm.catalogue import TrackSpec
from farm.codes import isrc_problem, normalize_isrc, upc_problem
from farm.detectors import explain, make_detectors, to_events
from farm.errors import InputError
from farm.events import Event, status_from
from farm.profiles import Profile, load_profile
from farm.readahead import read_ahead
from farm.resume import fingerprint
from farm.schema import clean_float, kind_count_columns
from kernels.dc import DCOffsetMeter, DCOffsetResult
from kernels.detect.impulses import ImpulseDetector
from kernels.detect.stereo import StereoDetector
from kernels.loudness import LoudnessMeter
from kernels.stats import SignalStats
from kernels.truepeak import TruePeakMeter

LOSSY_CONTAINERS = {"OGG", "MP3", "MPEG"}


@dataclass(frozen=True)
class QCConfig:
    """What :func:`audit_track` needs besides the track: the profile, the read block size, read-ahead and threads.

    Blocks of 262144 frames (about 6 s at 44.1 kHz): every meter and detector gives the same result whatever the
    block size, and larger blocks cost less Python per sample (65536 frames, the default until session 21, took
    about 8 % more CPU and 57 MiB less peak memory on a 2-minute song).
    """

    profile: Profile = field(default_factory=load_profile)
    block_frames: int = 262144
    device: str = "cpu"  # "gpu": the meters measure CuPy arrays (the detectors stay on the CPU)
    # Blocks decoded ahead on a second thread while the current one is analysed (farm.readahead); 0 decodes on
    # the analysing thread, one block at a time.
    read_ahead: int = 2
    # Threads that analyse each block: with 2, the true-peak meter and the impulse and stereo detectors run on a
    # helper thread while the other meters and detectors run on the calling one (CPU only); 1 runs all in turn.
    analysis_threads: int = 2

    def __post_init__(self) -> None:
        if not 256 <= self.block_frames <= 1 << 22:
            raise ValueError(f"block_frames {self.block_frames} must lie in 256..4194304")
        if self.device not in ("cpu", "gpu"):
            raise ValueError(f"device {self.device!r} must be 'cpu' or 'gpu'")
        if isinstance(self.read_ahead, bool) or not isinstance(self.read_ahead, int) or not 0 <= self.read_ahead <= 16:
            raise ValueError(f"read_ahead {self.read_ahead!r} must be a whole number of blocks in 0..16")
        if self.analysis_threads not in (1, 2) or isinstance(self.analysis_threads, bool):
            raise ValueError(f"analysis_threads {self.analysis_threads!r} must be 1 or 2")


@dataclass(frozen=True)
class Measurements:
    """The numbers of one readable track (``None`` where a value does not exist)."""

    integrated_lufs: float | None
    loudness_range_lu: float | None
    max_momentary_lufs: float | None
    max_short_term_lufs: float | None
    true_peak_dbtp: float | None
    sample_peak_dbfs: float | None
    rms_dbfs: float | None
    crest_db: float | None
    dc_offset: float | None
    correlation: float | None
    min_correlation: float | None
    head_silence_s: float | None
    tail_silence_s: float | None


@dataclass(frozen=True)
class TrackReport:
    """The result of auditing one track: its row for ``qc/tracks`` and its rows for ``qc/events``."""

    row: dict
    events: list[dict]
    audio_s: float = 0.0
    wall_s: float = 0.0

    @property
    def status(self) -> str:
        return self.row["status"]


def audit_track(spec: TrackSpec, config: QCConfig | None = None) -> TrackReport:
    """Measure one track and judge it against the profile.

    Parameters
    ----------
    spec : TrackSpec
        Where the track is and what the catalogue says about it.
    config : QCConfig, optional
        Profile and block size (defaults: the default profile, 65536-frame blocks).

    Returns
    -------
    TrackReport
        Always; an unreadable input gives ``status == "error"`` and its message in ``row["error"]``.

    Examples
    --------
    >>> report = audit_track(spec)                    # doctest: +SKIP
    >>> report.row["integrated_lufs"], report.status  # doctest: +SKIP
    (-14.2, 'ok')
    """
    config = config or QCConfig()
    t0 = time.perf_counter()
    size, mtime_ns = fingerprint(spec.abs_path)  # before reading: the row describes the input as it was read
    info: AudioInfo | None = None
    events: list[Event] = list(_code_events(spec))
    try:
        info = probe(spec.abs_path)
        measurements, dc_result, signal_events = _measure(info, config)
        events += signal_events
        if measurements is not None:
            events += _judge_measurements(measurements, dc_result, info, config.profile)
        events += _format_events(info, config.profile)
        error = ""
    except InputError as exc:
        measurements, error = None, str(exc)
    except MemoryError:
        measurements, error = None, "ran out of memory while measuring; lower --block-frames or use a larger worker"
    except Exception as exc:  # noqa: BLE001 - one broken file must not end a batch; the message names the failure
        measurements, error = None, f"internal error while measuring ({exc.__class__.__name__}: {exc}); please report it"
    judged = config.profile.judge(events)
    row = _row(spec, info, measurements, judged, config.profile, error)
    row["input_size"], row["input_mtime_ns"] = size, mtime_ns
    return TrackReport(
        row=row,
        events=[_event_row(spec.track_id, ev) for ev in judged],
        audio_s=info.duration_s if info is not None and not error else 0.0,
        wall_s=time.perf_counter() - t0,
    )


def error_report(spec: TrackSpec, message: str, profile_name: str = "") -> TrackReport:
    """An ``error`` row for a track whose audit could not run at all (e.g. its worker died)."""
    return TrackReport(row=_row(spec, None, None, [], None, message, profile_name=profile_name), events=[])


def _measure(info: AudioInfo, config: QCConfig) -> tuple[Measurements | None, DCOffsetResult | None, list[Event]]:
    thr = config.profile.thresholds
    loud = LoudnessMeter(info.sample_rate, info.channels, keep_series=False)
    peak = TruePeakMeter(info.sample_rate, info.channels)
    stats = SignalStats(info.sample_rate, info.channels, silence_threshold_dbfs=thr.silence_threshold_dbfs)
    dc = DCOffsetMeter(info.sample_rate, info.channels, silence_threshold_dbfs=thr.silence_threshold_dbfs)
    detectors = make_detectors(info)
    to_device = None
    if config.device == "gpu":
        import cupy  # noqa: PLC0415 - only on GPU workers

        to_device = cupy.asarray
    # Non-finite samples: measurements from such a file are garbage, so the meters stop at the first one and
    # the rest of the file is only counted.
    bad_count, bad_first, bad_last = 0, None, None
    pos = 0
    # (consumer, takes the device array) in two groups of about equal work; NumPy and SciPy release the GIL in
    # their kernels, so a helper thread runs its group while the calling thread runs the other
    side = (ImpulseDetector, StereoDetector)
    own = [(loud, True), (stats, True), (dc, True)] + [(d, False) for d in detectors if not isinstance(d, side)]
    helped = [(peak, True)] + [(d, False) for d in detectors if isinstance(d, side)]
    if to_device is not None or config.analysis_threads == 1:
        own, helped = own + helped, []
    with ThreadPoolExecutor(max_workers=1) if helped else contextlib.nullcontext() as helper:
        for block in read_ahead(read_blocks(info.path, info, block_frames=config.block_frames), config.read_ahead):
            n = block.shape[-1]
            finite = np.isfinite(block)
            if bad_count or not finite.all():
                bad_cols = np.flatnonzero(~finite.all(axis=0))
                if bad_cols.size:
                    bad_count += int((~finite).sum())
                    if bad_first is None:
                        bad_first = pos + int(bad_cols[0])
                    bad_last = pos + int(bad_cols[-1])
            else:
                dev = to_device(block) if to_device is not None else block
                job = helper.submit(_feed, helped, dev, block) if helped else None
                try:
                    _feed(own, dev, block)
                finally:
                    if job is not None:
                        job.result()  # its exception, if any, is raised here, as it would be on one thread
            pos += n
    if bad_count:
        sr = info.sample_rate
        ev = Event(
            "non_finite",
            bad_first / sr,
            (bad_last + 1) / sr,
            value=float(bad_count),
            detail=f"{bad_count} NaN or infinite sample(s) from {bad_first / sr:.3f} s; "
            "the file is corrupt or was exported unnormalised from a float mix: no measurement is reported",
        )
        return None, None, [ev]
    lr, tp, st, dcr = loud.result(), peak.result(), stats.result(), dc.result()
    m = Measurements(
        integrated_lufs=clean_float(lr.integrated_lufs),
        loudness_range_lu=clean_float(lr.loudness_range_lu),
        max_momentary_lufs=clean_float(lr.max_momentary_lufs),
        max_short_term_lufs=clean_float(lr.max_short_term_lufs),
        true_peak_dbtp=clean_float(tp.true_peak_dbtp),
        sample_peak_dbfs=clean_float(st.sample_peak_dbfs),
        rms_dbfs=clean_float(st.rms_dbfs),
        crest_db=clean_float(st.crest_db),
        dc_offset=clean_float(st.dc_offset),
        correlation=clean_float(st.correlation),
        min_correlation=clean_float(st.min_correlation),
        head_silence_s=clean_float(st.head_silence_s),
        tail_silence_s=clean_float(st.tail_silence_s),
    )
    events = to_events(explain([d for detector in detectors for d in detector.finish()]))
    return m, dcr, events


def _feed(consumers: list, dev, block: np.ndarray) -> None:
    for consumer, on_device in consumers:
        consumer.process(dev if on_device else block)


def _judge_measurements(m: Measurements, dcr: DCOffsetResult, info: AudioInfo, profile: Profile) -> list[Event]:
    """The findings that compare a measurement with a profile threshold."""
    thr = profile.thresholds
    dur = info.duration_s
    out: list[Event] = []
    if math.isfinite(dcr.persistent_dc) and abs(dcr.persistent_dc) > thr.dc_offset_max:
        offsets = [v for v in dcr.channel_persistent_dc if abs(v) > thr.dc_offset_max]
        db = 20 * math.log10(abs(dcr.persistent_dc))
        out.append(
            Event(
                "dc_offset",
                0.0,
                dur,
                channel=dcr.persistent_dc_channel if len(offsets) == 1 else -1,
                value=dcr.persistent_dc,
                detail=f"DC offset {dcr.persistent_dc:+.4f} ({db:.1f} dBFS) that stays through the quiet passages, "
                f"above {thr.dc_offset_max:g}: a high-pass at a few Hz removes it",
            )
        )
    if m.true_peak_dbtp is not None and m.true_peak_dbtp > thr.true_peak_ceiling_dbtp:
        out.append(
            Event(
                "true_peak_over",
                0.0,
                dur,
                value=m.true_peak_dbtp,
                detail=f"true peak {m.true_peak_dbtp:+.2f} dBTP is above the {thr.true_peak_ceiling_dbtp:+.1f} dBTP "
                "ceiling: lossy encoding and playback resampling will clip",
            )
        )
    full_silence = m.head_silence_s is not None and m.head_silence_s >= dur
    if m.head_silence_s is not None and m.head_silence_s > thr.head_silence_max_s:
        out.append(
            Event(
                "head_silence",
                0.0,
                m.head_silence_s,
                value=m.head_silence_s,
                detail=(
                    "the whole file is digital silence"
                    if full_silence
                    else f"{m.head_silence_s:.2f} s of digital silence before the audio starts "
                    f"(allowed {thr.head_silence_max_s:g} s)"
                ),
            )
        )
    if not full_silence and m.tail_silence_s is not None and m.tail_silence_s > thr.tail_silence_max_s:
        out.append(
            Event(
                "tail_silence",
                dur - m.tail_silence_s,
                dur,
                value=m.tail_silence_s,
                detail=f"{m.tail_silence_s:.2f} s of digital silence after the audio ends "
                f"(allowed {thr.tail_silence_max_s:g} s)",
            )
        )
    if thr.loudness_target_lufs is not None:
        target, tol = thr.loudness_target_lufs, thr.loudness_tolerance_lu
        il = m.integrated_lufs
        if il is None or abs(il - target) > tol:
            shown = "below -70 LUFS (silent)" if il is None else f"{il:.1f} LUFS"
            out.append(
                Event(
                    "loudness",
                    0.0,
                    dur,
                    value=math.nan if il is None else il,
                    detail=f"integrated loudness {shown} is outside {target:g} +/- {tol:g} LU",
                )
            )
    return out


def _format_events(info: AudioInfo, profile: Profile) -> list[Event]:
    thr = profile.thresholds
    dur = info.duration_s
    out = []
    if info.sample_rate < thr.min_sample_rate_hz:
        out.append(
            Event("format", 0.0, dur, value=float(info.sample_rate),
                  detail=f"sample rate {info.sample_rate} Hz is below {thr.min_sample_rate_hz} Hz")
        )
    if info.container.upper() in LOSSY_CONTAINERS or info.subtype.upper() in {"VORBIS", "OPUS", "MPEG_LAYER_III"}:
        out.append(
            Event("format", 0.0, dur, detail=f"lossy source ({info.container} {info.subtype}): "
                  "stores and plants expect the lossless master")
        )
    elif info.bits_per_sample is not None and not info.is_float and info.bits_per_sample < thr.min_bits:
        out.append(
            Event("format", 0.0, dur, value=float(info.bits_per_sample),
                  detail=f"{info.bits_per_sample}-bit samples are below {thr.min_bits}-bit")
        )
    if thr.require_stereo and info.channels == 1:
        out.append(Event("format", 0.0, dur, value=1.0, detail="mono file where stereo is expected"))
    return out


def _code_events(spec: TrackSpec) -> list[Event]:
    out = []
    if spec.isrc:
        problem = isrc_problem(spec.isrc)
        if problem:
            out.append(Event("invalid_isrc", 0.0, 0.0, detail=problem))
    if spec.upc:
        problem = upc_problem(spec.upc)
        if problem:
            out.append(Event("invalid_upc", 0.0, 0.0, detail=problem))
    return out


def _row(spec, info, m, events, profile, error, *, profile_name: str = "") -> dict:
    row = {
        "track_id": spec.track_id,
        "release_id": spec.release_id,
        "path": spec.path,
        "track_number": spec.track_number,
        "title": spec.title,
        "artist": spec.artist,
        "isrc": normalize_isrc(spec.isrc) if spec.isrc else "",
        "upc": spec.upc,
        "container": info.container if info else None,
        "sample_rate": info.sample_rate if info else None,
        "channels": info.channels if info else None,
        "subtype": info.subtype if info else None,
        "duration_s": info.duration_s if info else None,
    }
    for name in Measurements.__dataclass_fields__:
        row[name] = getattr(m, name) if m is not None else None
    row["status"] = status_from((e.severity for e in events), error=bool(error))
    row["error"] = error
    row["profile"] = profile.name if profile is not None else profile_name
    row["n_events"] = len(events)
    row["input_size"] = row["input_mtime_ns"] = None
    counts = {c: 0 for c in kind_count_columns()}
    for ev in events:
        counts[f"n_{ev.kind}"] += 1
    row.update(counts)
    return row


def _event_row(track_id: str, ev: Event) -> dict:
    return {
        "track_id": track_id,
        "kind": ev.kind,
        "start_s": float(ev.start_s),
        "end_s": float(ev.end_s),
        "channel": int(ev.channel),
        "severity": ev.severity,
        "value": clean_float(ev.value),
        "detail": ev.detail,
    }


__all__ = ["QCConfig", "TrackReport", "audit_track", "error_report", "__version__"]
