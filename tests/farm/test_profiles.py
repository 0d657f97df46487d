"""QC profiles: built-ins load, custom files extend them, mistakes are configuration errors."""

import math

import pytest

from farm.errors import ConfigError
from farm.events import KINDS, Event, status_from
from farm.profiles import builtin_profiles, load_profile


def test_builtins_exist_and_load():
    assert set(builtin_profiles()) >= {"streaming", "cd", "broadcast-ebu", "distributor-ingest"}
    for name in builtin_profiles():
        p = load_profile(name)
        assert p.name == name
        # every built-in names a severity for every kind of this issue, so nothing relies on the fallback
        for kind in ("true_peak_over", "head_silence", "tail_silence", "dc_offset", "invalid_isrc",
                     "invalid_upc", "format", "non_finite"):
            assert p.severity_of(kind) in ("info", "warn", "fail", "off")


def test_default_is_distributor_ingest():
    assert load_profile().name == "distributor-ingest"


def test_broadcast_has_loudness_target():
    p = load_profile("broadcast-ebu")
    assert p.thresholds.loudness_target_lufs == -23.0
    assert p.severity_of("loudness") == "fail"


def test_custom_profile_extends_builtin(tmp_path):
    f = tmp_path / "label.toml"
    f.write_text('extends = "streaming"\n[thresholds]\ntrue_peak_ceiling_dbtp = -2\n[severity]\ndc_offset = "off"\n')
    p = load_profile(str(f))
    assert p.name == "label"
    assert p.thresholds.true_peak_ceiling_dbtp == -2.0
    assert p.thresholds.head_silence_max_s == load_profile("streaming").thresholds.head_silence_max_s
    ev = [Event("dc_offset", 0, 1, value=0.1), Event("true_peak_over", 0, 1, value=0.5)]
    judged = p.judge(ev)
    assert [e.kind for e in judged] == ["true_peak_over"]
    assert judged[0].severity == "warn"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[thresholds]\ntrue_peak_ceiling = -1\n", "unknown threshold"),
        ("[severity]\nclickz = 'fail'\n", "unknown finding kind"),
        ("[severity]\ndc_offset = 'fatal'\n", "must be info, warn, fail or off"),
        ("[thresholds]\nhead_silence_max_s = 'two'\n", "must be a finite number"),
        ("[thresholds]\nrequire_stereo = 1\n", "true or false"),
        ("this is = = not toml", "not valid TOML"),
        ("extends = 'no-such-profile'\n", "neither a built-in"),
        ("colour = 'red'\n", "unknown top-level key"),
    ],
)
def test_bad_profiles_are_config_errors(tmp_path, text, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_profile(str(f))


def test_extends_loop_is_detected(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(f'extends = "{b}"\n')
    b.write_text(f'extends = "{a}"\n')
    with pytest.raises(ConfigError, match="loops"):
        load_profile(str(a))


def test_unknown_profile_name():
    with pytest.raises(ConfigError, match="neither a built-in"):
        load_profile("spotify-ish")


def test_status_follows_worst_severity():
    assert status_from([]) == "ok"
    assert status_from(["info"]) == "ok"
    assert status_from(["info", "warn"]) == "warn"
    assert status_from(["warn", "fail", "info"]) == "fail"
    assert status_from(["warn"], error=True) == "error"


def test_event_validation():
    with pytest.raises(ValueError, match="unknown finding kind"):
        Event("kaboom", 0, 1)
    assert math.isnan(Event("dc_offset", 0, 1).value)
    assert all(k == info.name for k, info in KINDS.items())
