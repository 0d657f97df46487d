"""What the deliverable writers take and give back: a release's masters, the files written, the checks made.

Every writer in :mod:`farm.deliver` is a plain function ``write_<format>(release, out_dir, options) ->
DeliveryResult``: it reads the masters named in ``release``, writes its files under ``out_dir`` (the release's
folder, ``DIR/releases/<release>/``) atomically, reads every file back and checks it against its own spec,
and returns the files (:class:`Deliverable`) and the checks (:class:`Check`). It never raises for a check that
fails (that is a ``Check`` with ``passed=False``); it raises :class:`farm.errors.DeliverableError` when the
release cannot be delivered in that format at all (e.g. more than 99 tracks for a CD), with a message that says
what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DeliveryTrack", "DeliveryRelease", "Deliverable", "Check", "DeliveryResult", "FORMATS",
           "CD_FRAME_SAMPLES", "CD_FRAMES_PER_S", "CD_PREGAP_FRAMES"]

#: Formats of ``--formats`` (and of the manifest's ``deliverables[].format``, which splits ``cd`` into
#: ``cd_ddp``, ``cd_cue``, ``cd_wav``).
FORMATS = ("streaming", "hires", "cd", "vinyl", "cassette", "lossy")

CD_FRAME_SAMPLES = 588  # stereo samples per CD frame (sector): 2352 bytes
CD_FRAMES_PER_S = 75
CD_PREGAP_FRAMES = 150  # 2 s before track 1


@dataclass(frozen=True)
class DeliveryTrack:
    """One mastered track.

    Parameters
    ----------
    number : int
        1-based position on the release.
    title, artist : str
        ``artist`` falls back to the release's artist where empty.
    isrc : str
        12 characters without hyphens, or "" when the catalogue has none.
    master_path : str
        Absolute path of the 32-bit float WAV master (at ``sample_rate``).
    sample_rate : int
        The master's rate, Hz.
    duration_s : float
    integrated_lufs, true_peak_dbtp : float or None
        Of the master, as the QC measured it (ReplayGain and the vinyl/cassette level use them).
    gap_s : float or None
        Silence before this track on a CD or a side (the manifest's ``gap_s``); None: the default (2 s on a
        CD for every track after the first; the first track's gap is the 2 s pregap of the disc).
    side : str or None
        Vinyl side letter from the manifest's ``side`` column ("A", "B", ...), None: split automatically.
    track_id : str
    source_path : str
        The unmastered source (the vinyl pass renders from it with the plan: see ``render_premaster``).
    """

    number: int
    title: str
    artist: str
    isrc: str
    master_path: str
    sample_rate: int
    duration_s: float
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    gap_s: float | None = None
    side: str | None = None
    track_id: str = ""
    source_path: str = ""


@dataclass(frozen=True)
class DeliveryRelease:
    release_id: str
    title: str
    artist: str
    upc: str  # 12-13 digits or ""
    date: str  # "YYYY" or "YYYY-MM-DD" or ""
    ceiling_dbtp: float  # the mastering preset's true-peak ceiling
    tracks: tuple[DeliveryTrack, ...]


@dataclass(frozen=True)
class Deliverable:
    """One file (or, for ``cd_ddp``, the DDP folder) for the manifest.

    ``path`` is relative to the release folder (the manifest's folder), with ``/`` separators.
    ``sha256`` is of the file (for ``cd_ddp``: of IMAGE.DAT). ``checks`` is ``"pass"`` when every check of
    this file passed, else ``"fail"``.
    """

    format: str  # streaming, hires, cd_ddp, cd_cue, cd_wav, vinyl, cassette, lossy
    path: str
    track: int | None = None
    side: str | None = None
    isrc: str = ""
    sha256: str | None = None
    checks: str = "pass"
    extra: dict = field(default_factory=dict)  # format-specific facts for the manifest (rate, bits, length...)


@dataclass(frozen=True)
class Check:
    """One verification of one written file, for ``DIR/qc/deliverables`` (one row per check)."""

    format: str
    path: str
    check: str  # short name: "sample_rate", "true_peak", "tags", "image_matches_wav", ...
    passed: bool
    expected: str = ""
    measured: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    deliverables: tuple[Deliverable, ...]
    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = ()
