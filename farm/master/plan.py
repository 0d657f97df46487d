"""The mastering plan: every decision for a release, with its reason, as JSON a person can read and edit.

:func:`decide` turns the analyses of a release's tracks into a :class:`ReleasePlan`; ``plan.json`` is that plan
(:meth:`ReleasePlan.to_json`), and ``farm master --plan plan.json`` applies an edited one
(:meth:`ReleasePlan.from_json` validates every field and names the one that is wrong).

The rules, in the order of the chain (each writes its reason into the plan):

* **High-pass** at 20 Hz (4th order): sub-sonic energy costs headroom and is not heard.
* **Tone**: octave-band energy of the mid signal against a target curve (the preset's, or a reference master's
  with ``--reference``), both levelled over 63 Hz-8 kHz. ``amount`` (0-100 %) says how far to move. In album
  mode the whole album moves as one (toward the target from the album's mean shape), and each track is pulled
  toward the album's mean by at most ``CONSISTENCY_MAX_DB`` (tonal consistency without making every song the
  same). Moves are bounded to ``EQ_MAX_DB``, no boost below 45 Hz, at most +3 dB at 16 kHz, and moves under
  0.5 dB are dropped (what is fine is left alone).
* **Dynamics**: "the dynamics are the point" when the loudness range is at least ``KEEP_LRA_LU`` or the loud
  and quiet sections are ``KEEP_CONTRAST_LU`` apart: no compression. Otherwise gentle compression (1.5:1, 2:1
  for a heavy load) only when the limiter would otherwise take more than ``LIMITER_LOAD_DB`` off the peaks.
* **Stereo**: bass below 150 Hz made mono only where its L/R correlation is poor (under ``LOW_CORR_MIN``);
  a band whose side is as loud as its mid is narrowed to 0.8.
* **Loudness**: per track, the preset's target; in album mode the loudest track reaches the target and the
  others keep their distance from it in the mix, the spread compressed smoothly (``tanh``) into the preset's
  ``max_spread_lu`` so that the order never changes.
* **Limiter**: the preset's ceiling (the loud ceiling for a track mastered above the target).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from farm import __version__
from farm.errors import ConfigError
from farm.master.analysis import WIDTH_EDGES_HZ, TrackAnalysis
from farm.master.presets import CURVE_CENTRES_HZ, TARGET_CURVES, Preset

__all__ = [
    "HighPass", "EQ", "Dynamics", "Stereo", "Loudness", "Limiter", "TrackPlan", "ReleasePlan", "decide",
    "neutral_track_plan",
]

EQ_MAX_DB = 6.0
CONSISTENCY_MAX_DB = 2.0
EQ_DEADBAND_DB = 0.5
KEEP_LRA_LU = 10.0
KEEP_CONTRAST_LU = 15.0
LIMITER_LOAD_DB = 4.0
LOW_CORR_MIN = 0.5
_LEVEL_BANDS = slice(1, 9)  # 63 Hz .. 8 kHz: where the curves are compared and levelled
EQ_MODES = ("minimum-phase", "linear-phase")


@dataclass(frozen=True)
class HighPass:
    enabled: bool = False
    cutoff_hz: float = 20.0
    reason: str = ""


@dataclass(frozen=True)
class EQ:
    mode: str = "minimum-phase"
    centres_hz: tuple[float, ...] = CURVE_CENTRES_HZ
    gains_db: tuple[float, ...] = (0.0,) * len(CURVE_CENTRES_HZ)
    reason: str = ""

    @property
    def enabled(self) -> bool:
        return any(g != 0.0 for g in self.gains_db)


@dataclass(frozen=True)
class Dynamics:
    enabled: bool = False
    threshold_dbfs: float = -20.0
    ratio: float = 1.0
    attack_ms: float = 30.0
    release_ms: float = 250.0
    knee_db: float = 6.0
    multiband: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Stereo:
    edges_hz: tuple[float, ...] = WIDTH_EDGES_HZ
    widths: tuple[float, ...] = (1.0, 1.0, 1.0)
    mono_below_hz: float | None = None
    reason: str = ""

    @property
    def enabled(self) -> bool:
        return self.mono_below_hz is not None or any(w != 1.0 for w in self.widths)


@dataclass(frozen=True)
class Loudness:
    """``target_lufs`` set: the chain finds the gain that lands there after the limiter. ``None``: a fixed
    ``gain_db`` (0 for a pass-through)."""

    target_lufs: float | None = None
    gain_db: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class Limiter:
    enabled: bool = False
    ceiling_dbtp: float = -1.0
    lookahead_ms: float = 2.0
    release_ms: float = 100.0
    reason: str = ""


@dataclass(frozen=True)
class TrackPlan:
    track_id: str
    track_number: int | None
    title: str
    path: str
    isrc: str = ""
    highpass: HighPass = field(default_factory=HighPass)
    eq: EQ = field(default_factory=EQ)
    dynamics: Dynamics = field(default_factory=Dynamics)
    stereo: Stereo = field(default_factory=Stereo)
    loudness: Loudness = field(default_factory=Loudness)
    limiter: Limiter = field(default_factory=Limiter)
    analysis: dict = field(default_factory=dict)

    @property
    def ceiling_dbtp(self) -> float | None:
        return self.limiter.ceiling_dbtp if self.limiter.enabled else None


@dataclass(frozen=True)
class ReleasePlan:
    release_id: str
    preset: dict
    mode: str  # "album" | "per-track"
    amount_pct: float
    curve: str
    reference: str | None
    album: dict
    tracks: tuple[TrackPlan, ...]
    held: bool = False
    hold_reasons: tuple[str, ...] = ()
    forced: bool = False

    def to_json(self) -> str:
        d = asdict(self)
        d = {"farm_version": __version__, **d}
        return json.dumps(d, indent=2, default=_json_default, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan") -> "ReleasePlan":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        return _plan_from_dict(d, source)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ----------------------------------------------------------------------------------------------------------------
# Reading an edited plan back, with messages that name the field


_STAGES = {"highpass": HighPass, "eq": EQ, "dynamics": Dynamics, "stereo": Stereo, "loudness": Loudness,
           "limiter": Limiter}


def _stage(source: str, where: str, cls, value):
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be an object")
    known = set(cls.__dataclass_fields__)
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{source}: {where} has unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
    kw = {}
    for name, f in cls.__dataclass_fields__.items():
        if name not in value:
            continue
        v = value[name]
        default = getattr(cls(), name)
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise ConfigError(f"{source}: {where}.{name} = {v!r} must be true or false")
        elif isinstance(default, tuple):
            if not isinstance(v, list) or not all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                                  and math.isfinite(e) for e in v):
                raise ConfigError(f"{source}: {where}.{name} must be a list of numbers")
            v = tuple(float(e) for e in v)
        elif isinstance(default, str):
            if not isinstance(v, str):
                raise ConfigError(f"{source}: {where}.{name} = {v!r} must be text")
        elif default is None or isinstance(default, float):
            if v is None and (default is None or name in ("target_lufs", "mono_below_hz")):
                pass
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{source}: {where}.{name} = {v!r} must be a finite number")
            else:
                v = float(v)
        kw[name] = v
    stage = cls(**kw)
    _check_stage(source, where, stage)
    return stage


def _check_stage(source: str, where: str, s) -> None:
    def bad(msg: str) -> None:
        raise ConfigError(f"{source}: {where}: {msg}")

    if isinstance(s, HighPass) and not 5.0 <= s.cutoff_hz <= 200.0:
        bad(f"cutoff_hz {s.cutoff_hz} must lie in 5..200 Hz")
    if isinstance(s, EQ):
        if s.mode not in EQ_MODES:
            bad(f"mode {s.mode!r} must be one of {', '.join(EQ_MODES)}")
        if len(s.centres_hz) != len(s.gains_db):
            bad(f"{len(s.centres_hz)} centres_hz but {len(s.gains_db)} gains_db")
        if any(not 10.0 <= c <= 22000.0 for c in s.centres_hz):
            bad("centres_hz must lie in 10..22000 Hz")
        if any(abs(g) > 18.0 for g in s.gains_db):
            bad("gains_db must lie in -18..+18 dB")
    if isinstance(s, Dynamics) and s.enabled:
        if not 1.0 <= s.ratio <= 20.0:
            bad(f"ratio {s.ratio} must lie in 1..20")
        if not 0.1 <= s.attack_ms <= 500.0 or not 5.0 <= s.release_ms <= 5000.0:
            bad("attack_ms must lie in 0.1..500 and release_ms in 5..5000")
        if not -80.0 <= s.threshold_dbfs <= 0.0 or not 0.0 <= s.knee_db <= 24.0:
            bad("threshold_dbfs must lie in -80..0 and knee_db in 0..24")
    if isinstance(s, Stereo):
        if len(s.widths) != len(s.edges_hz) + 1:
            bad(f"{len(s.edges_hz)} edges_hz need {len(s.edges_hz) + 1} widths, got {len(s.widths)}")
        if any(not 0.0 <= w <= 2.0 for w in s.widths):
            bad("widths must lie in 0..2")
        if s.mono_below_hz is not None and not 20.0 <= s.mono_below_hz <= 500.0:
            bad(f"mono_below_hz {s.mono_below_hz} must lie in 20..500 Hz")
    if isinstance(s, Loudness):
        if s.target_lufs is not None and not -40.0 <= s.target_lufs <= -3.0:
            bad(f"target_lufs {s.target_lufs} must lie in -40..-3 LUFS")
        if not -40.0 <= s.gain_db <= 40.0:
            bad(f"gain_db {s.gain_db} must lie in -40..+40 dB")
    if isinstance(s, Limiter) and s.enabled:
        if not -12.0 <= s.ceiling_dbtp <= 0.0:
            bad(f"ceiling_dbtp {s.ceiling_dbtp} must lie in -12..0 dBTP")
        if not 0.5 <= s.lookahead_ms <= 20.0 or not 10.0 <= s.release_ms <= 2000.0:
            bad("lookahead_ms must lie in 0.5..20 and release_ms in 10..2000")


def _plan_from_dict(d, source: str) -> ReleasePlan:
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: the plan must be a JSON object")
    for key in ("release_id", "tracks"):
        if key not in d:
            raise ConfigError(f"{source}: missing {key!r}")
    if not isinstance(d["tracks"], list) or not d["tracks"]:
        raise ConfigError(f"{source}: 'tracks' must be a non-empty list")
    tracks = []
    for i, t in enumerate(d["tracks"]):
        where = f"tracks[{i}]"
        if not isinstance(t, dict) or not isinstance(t.get("track_id"), str) or not isinstance(t.get("path"), str):
            raise ConfigError(f"{source}: {where} needs text fields track_id and path")
        stages = {name: _stage(source, f"{where}.{name}", cls, t.get(name, {})) for name, cls in _STAGES.items()}
        n = t.get("track_number")
        tracks.append(TrackPlan(
            track_id=t["track_id"], track_number=int(n) if isinstance(n, int) else None,
            title=str(t.get("title", "")), path=t["path"], isrc=str(t.get("isrc", "")),
            analysis=t.get("analysis") if isinstance(t.get("analysis"), dict) else {}, **stages,
        ))
    mode = d.get("mode", "album")
    if mode not in ("album", "per-track"):
        raise ConfigError(f"{source}: mode {mode!r} must be 'album' or 'per-track'")
    return ReleasePlan(
        release_id=str(d["release_id"]), preset=d.get("preset") or {}, mode=mode,
        amount_pct=float(d.get("amount_pct", 0.0)), curve=str(d.get("curve", "")), reference=d.get("reference"),
        album=d.get("album") or {}, tracks=tuple(tracks), held=False, hold_reasons=(), forced=bool(d.get("forced")),
    )


# ----------------------------------------------------------------------------------------------------------------
# Decisions


def neutral_track_plan(track_id: str, path: str, *, title: str = "", track_number: int | None = None) -> TrackPlan:
    """A pass-through plan: every stage neutral; applying it returns the input unchanged."""
    return TrackPlan(track_id=track_id, track_number=track_number, title=title, path=path)


@dataclass(frozen=True)
class TrackInput:
    """What :func:`decide` needs per track: identity, and its analysis (None when it could not be read)."""

    track_id: str
    track_number: int | None
    title: str
    path: str
    isrc: str
    analysis: TrackAnalysis | None


def _shape(bands: list[float | None]) -> np.ndarray:
    """Band levels levelled over 63 Hz-8 kHz (nan where a band is empty)."""
    v = np.array([np.nan if b is None else b for b in bands], dtype=np.float64)
    core = v[_LEVEL_BANDS]
    if not np.isfinite(core).any():
        return np.full_like(v, np.nan)
    return v - np.nanmean(core)


def _bounded_moves(move: np.ndarray) -> np.ndarray:
    m = np.where(np.isfinite(move), move, 0.0)
    m = np.clip(m, -EQ_MAX_DB, EQ_MAX_DB)
    m[np.asarray(CURVE_CENTRES_HZ) < 45.0] = np.minimum(m[np.asarray(CURVE_CENTRES_HZ) < 45.0], 0.0)
    m[np.asarray(CURVE_CENTRES_HZ) > 12000.0] = np.minimum(m[np.asarray(CURVE_CENTRES_HZ) > 12000.0], 3.0)
    m[np.abs(m) < EQ_DEADBAND_DB] = 0.0
    return np.round(m, 1)


def _describe_moves(gains: np.ndarray) -> str:
    moves = [(abs(g), f"{g:+.1f} dB at {_hz(c)}") for g, c in zip(gains, CURVE_CENTRES_HZ) if g != 0.0]
    if not moves:
        return "no band off by more than 0.5 dB after the move: tone left alone"
    return ", ".join(text for _, text in sorted(moves, reverse=True)[:4])


def _hz(c: float) -> str:
    return f"{c / 1000:g} kHz" if c >= 1000 else f"{c:g} Hz"


def decide(release_id: str, tracks: list[TrackInput], preset: Preset, *, mode: str = "auto",
           amount_pct: float = 70.0, eq_mode: str = "minimum-phase", multiband: bool = False,
           reference: TrackAnalysis | None = None, reference_name: str | None = None) -> ReleasePlan:
    """Decide a release's plan from its tracks' analyses.

    Parameters
    ----------
    mode : {"auto", "album", "per-track"}
        ``auto``: album mode for a release of more than one track (or any release with an album-normalized
        preset), per-track for a single.
    amount_pct : float
        0-100: how far the tone moves toward the target curve (or the reference).
    """
    if not 0.0 <= amount_pct <= 100.0:
        raise ConfigError(f"--amount {amount_pct} must lie in 0..100")
    if eq_mode not in EQ_MODES:
        raise ConfigError(f"--eq {eq_mode!r} must be one of {', '.join(EQ_MODES)}")
    readable = [t for t in tracks if t.analysis is not None and t.analysis.integrated_lufs is not None]
    if mode == "auto":
        mode = "album" if len(tracks) > 1 or preset.album_normalized else "per-track"
    if mode not in ("album", "per-track"):
        raise ConfigError(f"mode {mode!r} must be auto, album or per-track")
    amount = amount_pct / 100.0

    # --- tone: target shape
    if reference is not None:
        target = _shape(reference.mid_band_db)
        curve_name = f"reference {reference_name or ''}".strip()
    else:
        target = _shape(list(TARGET_CURVES[preset.curve]))
        curve_name = preset.curve
    shapes = {t.track_id: _shape(t.analysis.mid_band_db) for t in readable}
    album_shape = np.nanmean(np.stack(list(shapes.values())), axis=0) if shapes else None

    # --- loudness targets
    album_info: dict = {"mode": mode}
    targets: dict[str, tuple[float, str]] = {}
    if readable:
        levels = {t.track_id: t.analysis.integrated_lufs for t in readable}
        if mode == "album":
            loudest = max(readable, key=lambda t: levels[t.track_id])
            lmax = levels[loudest.track_id]
            spread = preset.max_spread_lu
            for t in readable:
                rel = levels[t.track_id] - lmax
                kept = -spread * math.tanh(-rel / spread) if spread > 0 else 0.0
                target_lufs = round(preset.target_lufs + kept, 2)
                if t is loudest:
                    why = (f"album mode: the loudest track of the album ({levels[t.track_id]:.1f} LUFS in the mix) "
                           f"goes to the target, {preset.target_lufs:.1f} LUFS")
                else:
                    why = (f"album mode: {-rel:.1f} LU below the loudest track in the mix, kept {-kept:.1f} LU "
                           f"below it (spread bounded to {spread:g} LU, order unchanged)")
                targets[t.track_id] = (target_lufs, why)
            before = [levels[t.track_id] for t in readable]
            album_info.update({
                "loudest_track_id": loudest.track_id,
                "loudest_title": loudest.title,
                "target_lufs": preset.target_lufs,
                "spread_in_mix_lu": round(max(before) - min(before), 2),
                "spread_planned_lu": round(max(v[0] for v in targets.values()) - min(v[0] for v in targets.values()), 2),
                "reason": "one decision for the album: the loudest track reaches the target, the others keep their "
                          "relative levels from the mix; tone moved as one, each track pulled toward the album's "
                          f"mean shape by at most {CONSISTENCY_MAX_DB:g} dB",
            })
        else:
            for t in readable:
                targets[t.track_id] = (preset.target_lufs,
                                       f"per-track mode: every track to the target, {preset.target_lufs:.1f} LUFS")
            album_info["reason"] = "per-track: each track is decided on its own (single or compilation)"

    plans = []
    for t in tracks:
        a = t.analysis
        if a is None or a.integrated_lufs is None:
            plans.append(replace(
                neutral_track_plan(t.track_id, t.path, title=t.title, track_number=t.track_number), isrc=t.isrc,
                loudness=Loudness(reason="no measurable programme (unreadable or silent): left as it is"),
                analysis=a.to_dict() if a else {}))
            continue
        target_lufs, loud_why = targets[t.track_id]
        ceiling = preset.ceiling_for(target_lufs)
        gain = target_lufs - a.integrated_lufs

        # tone
        shape = shapes[t.track_id]
        if mode == "album" and album_shape is not None:
            move = amount * (target - album_shape)
            consistency = np.clip(album_shape - shape, -CONSISTENCY_MAX_DB, CONSISTENCY_MAX_DB)
            gains = _bounded_moves(move + np.where(np.isfinite(consistency), consistency, 0.0))
            tone_why = (f"album mean vs {curve_name} curve, {amount_pct:g} % of the way, plus a pull toward the "
                        f"album's mean: {_describe_moves(gains)}")
        else:
            gains = _bounded_moves(amount * (target - shape))
            tone_why = f"tone vs {curve_name} curve, {amount_pct:g} % of the way: {_describe_moves(gains)}"
        eq = EQ(mode=eq_mode, centres_hz=CURVE_CENTRES_HZ, gains_db=tuple(float(g) for g in gains), reason=tone_why)

        # dynamics
        lra = a.loudness_range_lu or 0.0
        crest = a.crest_db or 0.0
        contrast = a.section_contrast_lu or 0.0
        load = (a.true_peak_dbtp if a.true_peak_dbtp is not None else -math.inf) + gain - ceiling
        facts = f"LRA {lra:.1f} LU, crest {crest:.1f} dB, sections {contrast:.1f} LU apart"
        if lra >= KEEP_LRA_LU or contrast >= KEEP_CONTRAST_LU:
            dyn = Dynamics(reason=f"{facts}: the dynamics are the music's (LRA >= {KEEP_LRA_LU:g} LU or sections "
                                  f">= {KEEP_CONTRAST_LU:g} LU apart); no compression")
        elif load <= LIMITER_LOAD_DB:
            dyn = Dynamics(reason=f"{facts}; the limiter takes at most {max(load, 0.0):.1f} dB off the peaks "
                                  f"(<= {LIMITER_LOAD_DB:g} dB): no compression needed")
        else:
            ratio = 1.5 if load <= 2 * LIMITER_LOAD_DB else 2.0
            thr = round((a.rms_dbfs if a.rms_dbfs is not None else -20.0) + 3.0, 1)
            dyn = Dynamics(enabled=True, threshold_dbfs=max(-60.0, min(thr, -1.0)), ratio=ratio,
                           multiband=multiband,
                           reason=f"{facts}; the limiter would take {load:.1f} dB off the peaks: gentle "
                                  f"{ratio:g}:1 {'multiband ' if multiband else ''}compression from "
                                  f"{thr:.1f} dBFS shares the load")

        # stereo
        widths = [1.0, 1.0, 1.0]
        mono_below = None
        notes = []
        if a.channels >= 2 and a.band_correlation[0] is not None:
            low_corr = a.band_correlation[0]
            low_side = a.band_side_to_mid_db[0]
            if low_corr < LOW_CORR_MIN and (low_side is None or low_side > -30.0):
                mono_below = WIDTH_EDGES_HZ[0]
                notes.append(f"low-end correlation {low_corr:+.2f} < {LOW_CORR_MIN:g}: bass below "
                             f"{WIDTH_EDGES_HZ[0]:g} Hz made mono (mono playback, vinyl)")
            else:
                notes.append(f"low-end correlation {low_corr:+.2f}: left alone")
            for i, name in ((1, "mids"), (2, "highs")):
                s2m = a.band_side_to_mid_db[i]
                if s2m is not None and s2m > -1.0:
                    widths[i] = 0.8
                    notes.append(f"{name} side {s2m:+.1f} dB against mid (very wide): narrowed to 0.8")
        else:
            notes.append("mono: no stereo processing")
        stereo = Stereo(edges_hz=WIDTH_EDGES_HZ, widths=tuple(widths), mono_below_hz=mono_below,
                        reason="; ".join(notes))

        ceil_why = (f"ceiling {ceiling:g} dBTP ({preset.name}"
                    + (", louder than the target" if ceiling != preset.ceiling_dbtp else "") + ")")
        plans.append(TrackPlan(
            track_id=t.track_id, track_number=t.track_number, title=t.title, path=t.path, isrc=t.isrc,
            highpass=HighPass(enabled=True, cutoff_hz=20.0,
                              reason="below 20 Hz is rumble and DC: it costs headroom and is not heard"),
            eq=eq, dynamics=dyn, stereo=stereo,
            loudness=Loudness(target_lufs=target_lufs, gain_db=round(gain, 2),
                              reason=f"{a.integrated_lufs:.1f} LUFS in the mix; {loud_why}"),
            limiter=Limiter(enabled=True, ceiling_dbtp=ceiling,
                            reason=f"{ceil_why}; about {max(load, 0.0):.1f} dB of peak reduction expected"),
            analysis=a.to_dict(),
        ))
    return ReleasePlan(
        release_id=release_id, preset=preset.to_dict(), mode=mode, amount_pct=float(amount_pct), curve=curve_name,
        reference=reference_name, album=album_info, tracks=tuple(plans),
    )
