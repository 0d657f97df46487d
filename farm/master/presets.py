"""Mastering targets (``farm master --target``): loudness, true-peak ceiling, album rules, tonal curve.

The built-in presets carry the platforms' published normalisation targets (../shared/REFERENCE.md, "Platform
targets"). A preset is a target for the *loudest* track of an album (album mode) or for every track
(``--per-track``); the platforms turn louder masters down, so mastering louder than the target buys nothing.

A custom preset is a TOML file with the same keys, optionally ``extends`` a built-in::

    name = "club"
    extends = "spotify"
    target_lufs = -9.0
    ceiling_dbtp = -0.5
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from farm.errors import ConfigError

__all__ = ["Preset", "PRESETS", "TARGET_CURVES", "load_preset", "builtin_presets"]

#: Octave-band centres (Hz) of the tonal-balance curves and of the plan's EQ.
CURVE_CENTRES_HZ: tuple[float, ...] = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)

#: Built-in tonal-balance targets: energy per octave band of the mid signal, dB relative to each other (only the
#: shape matters; a track's bands are compared after both are levelled over 63 Hz-8 kHz). ``neutral`` is flat
#: from 63 to 250 Hz and falls about 3 dB per octave above, steeper in the top octave: the long-term shape of a
#: balanced modern master. ``warm`` and ``bright`` tilt it by -/+1 dB per octave about 1 kHz.
TARGET_CURVES: dict[str, tuple[float, ...]] = {
    "neutral": (-3.0, 0.0, 0.0, -1.0, -3.5, -6.5, -9.5, -12.5, -16.0, -23.0),
    "warm": (-3.0 + 5.0, 0.0 + 4.0, 0.0 + 3.0, -1.0 + 2.0, -3.5 + 1.0, -6.5, -9.5 - 1.0, -12.5 - 2.0, -16.0 - 3.0,
             -23.0 - 4.0),
    "bright": (-3.0 - 5.0, 0.0 - 4.0, 0.0 - 3.0, -1.0 - 2.0, -3.5 - 1.0, -6.5, -9.5 + 1.0, -12.5 + 2.0,
               -16.0 + 3.0, -23.0 + 4.0),
}


@dataclass(frozen=True)
class Preset:
    """A mastering target.

    Parameters
    ----------
    name : str
    target_lufs : float
        Integrated loudness of the loudest track (album mode) or of every track (per-track mode).
    ceiling_dbtp : float
        True-peak ceiling of the limiter, dBTP.
    loud_ceiling_dbtp : float or None
        A lower ceiling for a track mastered louder than ``loud_above_lufs`` (Spotify asks -2 dBTP for masters
        louder than -14 LUFS: its normalisation turns them down and its lossy encode needs the room).
    loud_above_lufs : float or None
        Where the loud ceiling starts; ``None``: at ``target_lufs``.
    album_normalized : bool
        True when the platform plays albums at one gain (AES streaming): album mode even for a release the
        catalogue calls a compilation, unless ``--per-track`` is given.
    max_spread_lu : float
        How far below the loudest track the quietest may stay in album mode; wider spreads are compressed
        smoothly, keeping the order.
    curve : str
        Tonal-balance target, a name in :data:`TARGET_CURVES`.
    description : str
    """

    name: str
    target_lufs: float
    ceiling_dbtp: float
    loud_ceiling_dbtp: float | None = None
    loud_above_lufs: float | None = None
    album_normalized: bool = False
    max_spread_lu: float = 8.0
    curve: str = "neutral"
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_lufs) and -40.0 <= self.target_lufs <= -5.0):
            raise ConfigError(f"preset {self.name!r}: target_lufs {self.target_lufs} must lie in -40..-5 LUFS")
        for key in ("ceiling_dbtp", "loud_ceiling_dbtp"):
            v = getattr(self, key)
            if v is not None and not (math.isfinite(v) and -12.0 <= v <= 0.0):
                raise ConfigError(f"preset {self.name!r}: {key} {v} must lie in -12..0 dBTP")
        if not (math.isfinite(self.max_spread_lu) and 0.0 <= self.max_spread_lu <= 30.0):
            raise ConfigError(f"preset {self.name!r}: max_spread_lu {self.max_spread_lu} must lie in 0..30 LU")
        if self.curve not in TARGET_CURVES:
            raise ConfigError(
                f"preset {self.name!r}: curve {self.curve!r} is not one of {', '.join(TARGET_CURVES)}"
            )

    def ceiling_for(self, target_lufs: float) -> float:
        """The ceiling for a track mastered to ``target_lufs``."""
        above = self.target_lufs if self.loud_above_lufs is None else self.loud_above_lufs
        if self.loud_ceiling_dbtp is not None and target_lufs > above + 1e-9:
            return min(self.ceiling_dbtp, self.loud_ceiling_dbtp)
        return self.ceiling_dbtp

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("extra")
        return d


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("spotify", -14.0, -1.0, loud_ceiling_dbtp=-2.0, loud_above_lufs=-14.0,
               description="Spotify: -14 LUFS, -1 dBTP (-2 dBTP for masters louder than -14)"),
        Preset("apple", -16.0, -1.0, description="Apple Music Sound Check: about -16 LUFS, -1 dBTP"),
        Preset("youtube", -14.0, -1.0, description="YouTube: -14 LUFS (turns loud masters down only), -1 dBTP"),
        Preset("amazon", -14.0, -2.0, description="Amazon Music: -14 LUFS, -2 dBTP"),
        Preset("tidal", -14.0, -1.0, description="Tidal: -14 LUFS, -1 dBTP"),
        Preset("deezer", -15.0, -1.0, description="Deezer: -15 LUFS, -1 dBTP"),
        Preset("ebu-r128", -23.0, -1.0, max_spread_lu=6.0, description="EBU R128 broadcast: -23 LUFS, -1 dBTP"),
        Preset("atsc-a85", -24.0, -2.0, max_spread_lu=6.0, description="ATSC A/85 broadcast: -24 LKFS, -2 dBTP"),
        Preset("aes-streaming", -14.0, -1.0, album_normalized=True,
               description="AES streaming recommendation: album-normalized, loudest track -14 LUFS, -1 dBTP"),
    )
}


def builtin_presets() -> list[str]:
    """Names of the built-in presets."""
    return list(PRESETS)


def load_preset(name_or_path: str | Path) -> Preset:
    """A built-in preset by name, or a TOML file (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, unknown key or invalid value.
    """
    ref = str(name_or_path)
    if ref in PRESETS:
        return PRESETS[ref]
    path = Path(ref)
    if not path.is_file():
        raise ConfigError(f"--target {ref!r} is neither a built-in preset ({', '.join(PRESETS)}) nor a TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"preset {ref!r}: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"preset {ref!r}: {path} is not valid TOML: {exc}") from None
    known = {f.name for f in dataclasses.fields(Preset)} - {"extra"}
    unknown = set(data) - known - {"extends"}
    if unknown:
        raise ConfigError(f"preset {ref!r}: unknown key(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
    base = {}
    if "extends" in data:
        parent = str(data["extends"])
        if parent not in PRESETS:
            raise ConfigError(f"preset {ref!r}: extends {parent!r}, which is not a built-in preset")
        base = PRESETS[parent].to_dict()
        base.pop("name")
        base.pop("description")
    merged = {**base, **{k: v for k, v in data.items() if k != "extends"}}
    merged.setdefault("name", path.stem)
    for key in ("target_lufs", "ceiling_dbtp"):
        if key not in merged:
            raise ConfigError(f"preset {ref!r}: {key} is required (or extend a built-in preset)")
    for key in ("target_lufs", "ceiling_dbtp", "loud_ceiling_dbtp", "loud_above_lufs", "max_spread_lu"):
        v = merged.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"preset {ref!r}: {key} = {v!r} must be a number")
        if v is not None:
            merged[key] = float(v)
    return Preset(**merged)
