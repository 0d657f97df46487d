"""QC profiles: thresholds for the detectors and the severity of each finding kind.

A profile is a TOML file::

    name = "my-label"
    extends = "streaming"            # optional: start from a built-in (or another file, by path)
    description = "what it is for"

    [thresholds]
    true_peak_ceiling_dbtp = -1.0

    [severity]                       # info | warn | fail | off
    true_peak_over = "fail"

Built-ins live in ``farm/profiles/*.toml``: ``streaming``, ``cd``, ``broadcast-ebu`` and ``distributor-ingest``.
Unknown keys and values are configuration errors, not silently ignored: a misspelt threshold would otherwise
quietly fall back to the default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from farm.errors import ConfigError
from farm.events import KINDS, SEVERITIES, Event

BUILTIN_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "distributor-ingest"


@dataclass(frozen=True)
class Thresholds:
    """Numbers the detectors compare against. Units are in the names."""

    true_peak_ceiling_dbtp: float = -1.0
    # Digital silence: every channel's |sample| at or below this level. -80 dBFS sits above 16-bit TPDF dither
    # (about -90 dBFS peak) so a dithered silent head still counts as silence, and far below anything audible.
    silence_threshold_dbfs: float = -80.0
    head_silence_max_s: float = 2.0
    tail_silence_max_s: float = 2.0
    # Persistent DC (kernels.dc: the median window mean where the music is quietest), linear full scale.
    # 0.01 is -40 dBFS: above what sampled instruments leave in clean renders (measured up to 0.008).
    dc_offset_max: float = 0.01
    min_sample_rate_hz: int = 44100
    min_bits: int = 16
    require_stereo: bool = True
    # Integrated loudness window, only checked when a target is set (broadcast profiles).
    loudness_target_lufs: float | None = None
    loudness_tolerance_lu: float = 1.0

    def __post_init__(self) -> None:
        if not self.silence_threshold_dbfs < 0:
            raise ConfigError(f"silence_threshold_dbfs {self.silence_threshold_dbfs} must be below 0 dBFS")
        for name in ("head_silence_max_s", "tail_silence_max_s", "dc_offset_max", "loudness_tolerance_lu"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} {getattr(self, name)} must be zero or positive")
        if not 8000 <= self.min_sample_rate_hz <= 384000:
            raise ConfigError(f"min_sample_rate_hz {self.min_sample_rate_hz} must lie in 8000..384000")
        if self.min_bits not in (8, 16, 20, 24, 32):
            raise ConfigError(f"min_bits {self.min_bits} must be one of 8, 16, 20, 24, 32")


@dataclass(frozen=True)
class Profile:
    """A named set of thresholds and severities."""

    name: str
    description: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    severity: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, sev in self.severity.items():
            if kind not in KINDS:
                raise ConfigError(
                    f"profile {self.name!r}: unknown finding kind {kind!r} in [severity]; known: {', '.join(sorted(KINDS))}"
                )
            if sev not in (*SEVERITIES, "off"):
                raise ConfigError(
                    f"profile {self.name!r}: severity {sev!r} for {kind} must be info, warn, fail or off"
                )
        object.__setattr__(self, "severity", MappingProxyType(dict(self.severity)))

    def severity_of(self, kind: str) -> str:
        """Severity of a kind; kinds a profile does not name are ``warn``."""
        return self.severity.get(kind, "warn")

    def judge(self, events: Iterable[Event]) -> list[Event]:
        """Give each event its severity from this profile, dropping kinds set to ``off``."""
        judged = []
        for ev in events:
            sev = self.severity_of(ev.kind)
            if sev != "off":
                judged.append(dataclasses.replace(ev, severity=sev))
        return judged

    def to_dict(self) -> dict:
        """A plain dict (for logs and run metadata)."""
        return {
            "name": self.name,
            "description": self.description,
            "thresholds": dataclasses.asdict(self.thresholds),
            "severity": dict(self.severity),
        }


def builtin_profiles() -> list[str]:
    """Names of the built-in profiles."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path | None = None) -> Profile:
    """Load a built-in profile by name or a TOML file by path.

    Raises
    ------
    ConfigError
        When the name is unknown, the file unreadable, or a key or value invalid.
    """
    return _load(str(name_or_path or DEFAULT_PROFILE), seen=())


def _load(ref: str, *, seen: tuple[str, ...]) -> Profile:
    path = _resolve(ref)
    key = str(path.resolve())
    if key in seen:
        raise ConfigError(f"profile {ref!r}: 'extends' loops back on itself ({' -> '.join(seen)})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"profile {ref!r}: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {ref!r}: {path} is not valid TOML: {exc}") from None

    unknown = set(data) - {"name", "description", "extends", "thresholds", "severity"}
    if unknown:
        raise ConfigError(f"profile {ref!r}: unknown top-level key(s) {sorted(unknown)}")
    base = _load(str(data["extends"]), seen=(*seen, key)) if "extends" in data else Profile(name="defaults")

    thr_in = data.get("thresholds", {})
    sev_in = data.get("severity", {})
    if not isinstance(thr_in, dict) or not isinstance(sev_in, dict):
        raise ConfigError(f"profile {ref!r}: [thresholds] and [severity] must be tables")
    valid = {f.name: f for f in dataclasses.fields(Thresholds)}
    bad = set(thr_in) - set(valid)
    if bad:
        raise ConfigError(
            f"profile {ref!r}: unknown threshold(s) {sorted(bad)}; known: {', '.join(sorted(valid))}"
        )
    thr = dataclasses.asdict(base.thresholds)
    for k, v in thr_in.items():
        thr[k] = _coerce(ref, k, v, type(getattr(Thresholds(), k)))
    severity = {**base.severity, **sev_in}
    return Profile(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", base.description)),
        thresholds=Thresholds(**thr),
        severity=severity,
    )


def _resolve(ref: str) -> Path:
    builtin = BUILTIN_DIR / f"{ref}.toml"
    if "/" not in ref and not ref.endswith(".toml") and builtin.is_file():
        return builtin
    path = Path(ref)
    if path.is_file():
        return path
    raise ConfigError(
        f"profile {ref!r} is neither a built-in ({', '.join(builtin_profiles())}) nor a TOML file that exists"
    )


def _coerce(ref: str, key: str, value, kind: type):
    # A threshold whose default is None (loudness target) accepts a number.
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"profile {ref!r}: threshold {key} = {value!r} must be a number")
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"profile {ref!r}: threshold {key} = {value!r} must be true or false")
        return value
    if kind is int:
        if not isinstance(value, int):
            raise ConfigError(f"profile {ref!r}: threshold {key} = {value!r} must be an integer")
        return value
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"profile {ref!r}: threshold {key} = {value!r} must be a finite number")
    return float(value)
