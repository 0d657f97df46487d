"""Presets and the plan's decisions (album levels, tone, dynamics, stereo), and plan.json round trips."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from farm.errors import ConfigError
from farm.master.analysis import TrackAnalysis
from farm.master.plan import (
    CONSISTENCY_MAX_DB,
    EQ_MAX_DB,
    KEEP_LRA_LU,
    ReleasePlan,
    TrackInput,
    decide,
)
from farm.master.presets import CURVE_CENTRES_HZ, PRESETS, TARGET_CURVES, load_preset


def analysis(lufs=-20.0, *, lra=5.0, tp=-3.0, rms=-22.0, contrast=6.0, tilt_db_per_oct=0.0, low_corr=0.9,
             side=(-20.0, -12.0, -10.0)) -> TrackAnalysis:
    curve = np.array(TARGET_CURVES["neutral"]) + tilt_db_per_oct * np.arange(len(CURVE_CENTRES_HZ)) - 5
    return TrackAnalysis(
        duration_s=180.0, sample_rate=48000, channels=2, integrated_lufs=lufs, loudness_range_lu=lra,
        true_peak_dbtp=tp, sample_peak_dbfs=tp - 0.3, rms_dbfs=rms, crest_db=tp - 0.3 - rms,
        short_term_p10_lufs=lufs - contrast / 2, short_term_p95_lufs=lufs + contrast / 2,
        section_contrast_lu=contrast, loud_sections_s=[[10.0, 40.0]], quiet_sections_s=[[0.0, 8.0]],
        band_centres_hz=list(CURVE_CENTRES_HZ), mid_band_db=[float(v) for v in curve],
        side_band_db=[float(v) - 15 for v in curve], width_edges_hz=[150.0, 2500.0],
        band_correlation=[low_corr, 0.7, 0.6], band_side_to_mid_db=list(side),
    )


def tracks(*levels, **kw) -> list[TrackInput]:
    return [TrackInput(f"t{i}", i + 1, f"song {i + 1}", f"/x/{i + 1}.wav", "", analysis(lv, **kw))
            for i, lv in enumerate(levels)]


# ------------------------------------------------------------------------------------------------ presets

def test_builtin_presets_carry_the_platform_targets():
    # The table: (target LUFS, ceiling dBTP).
    want = {"spotify": (-14, -1), "apple": (-16, -1), "youtube": (-14, -1), "amazon": (-14, -2), "tidal": (-14, -1),
            "deezer": (-15, -1), "ebu-r128": (-23, -1), "atsc-a85": (-24, -2), "aes-streaming": (-14, -1)}
    assert {k: (p.target_lufs, p.ceiling_dbtp) for k, p in PRESETS.items()} == want
    assert PRESETS["spotify"].ceiling_for(-14.0) == -1.0
    assert PRESETS["spotify"].ceiling_for(-11.0) == -2.0  # louder than -14: -2 dBTP
    assert PRESETS["aes-streaming"].album_normalized


def test_custom_preset_in_toml(tmp_path):
    f = tmp_path / "club.toml"
    f.write_text('extends = "spotify"\ntarget_lufs = -9\nceiling_dbtp = -0.5\n')
    p = load_preset(f)
    assert (p.name, p.target_lufs, p.ceiling_dbtp, p.loud_ceiling_dbtp) == ("club", -9.0, -0.5, -2.0)
    bad = tmp_path / "bad.toml"
    bad.write_text('target_lufs = -14\nceiling_dbtp = 3\n')
    with pytest.raises(ConfigError, match="ceiling_dbtp 3.0 must lie in"):
        load_preset(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('target_lufs = -14\nceiling_dbtp = -1\ntarget_lfus = 1\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_preset(typo)
    with pytest.raises(ConfigError, match="neither a built-in"):
        load_preset("spotfy")


# ------------------------------------------------------------------------------------------------ loudness

def test_album_mode_loudest_to_target_order_kept_spread_bounded():
    levels = (-18.0, -12.0, -20.0, -31.0, -12.5)
    plan = decide("R", tracks(*levels), PRESETS["spotify"])
    assert plan.mode == "album"
    targets = [t.loudness.target_lufs for t in plan.tracks]
    assert targets[1] == pytest.approx(-14.0)  # the loudest track reaches the target
    # order never changes: sorting by the mix's levels sorts the targets the same way
    assert np.argsort(levels, kind="stable").tolist() == np.argsort(targets, kind="stable").tolist()
    # relative levels kept where they are small (within 0.1 LU for 0.5 LU), bounded where they are not
    assert targets[1] - targets[4] == pytest.approx(0.5, abs=0.01)
    assert -14.0 - min(targets) < PRESETS["spotify"].max_spread_lu
    assert -14.0 - targets[3] > 6.0  # 19 LU in the mix stays clearly quieter
    assert plan.album["spread_in_mix_lu"] == 19.0


def test_per_track_mode_and_singles():
    plan = decide("R", tracks(-18.0, -12.0), PRESETS["apple"], mode="per-track")
    assert [t.loudness.target_lufs for t in plan.tracks] == [-16.0, -16.0]
    single = decide("S", tracks(-18.0), PRESETS["apple"])
    assert single.mode == "per-track"
    assert decide("S", tracks(-18.0), PRESETS["aes-streaming"]).mode == "album"


def test_loud_track_gets_the_loud_ceiling():
    plan = decide("R", tracks(-10.0), load_preset("spotify"))
    assert plan.tracks[0].limiter.ceiling_dbtp == -1.0  # mastered to -14: not louder
    club = replace(PRESETS["spotify"], target_lufs=-9.0, name="club")
    assert decide("R", tracks(-10.0), club).tracks[0].limiter.ceiling_dbtp == -2.0


# ------------------------------------------------------------------------------------------------ dynamics

def test_dynamic_music_is_left_alone_and_dense_music_shares_the_load():
    keep = decide("R", tracks(-30.0, lra=KEEP_LRA_LU + 4, tp=-1.0), PRESETS["spotify"]).tracks[0]
    assert not keep.dynamics.enabled
    assert "LRA 14.0 LU" in keep.dynamics.reason and "no compression" in keep.dynamics.reason
    # 16 dB of gain on a track peaking at -3 dBTP: the limiter would take 14 dB: compress
    dense = decide("R", tracks(-30.0, lra=4.0, tp=-3.0), PRESETS["spotify"]).tracks[0]
    assert dense.dynamics.enabled and dense.dynamics.ratio == 2.0
    assert "limiter would take 14.0 dB" in dense.dynamics.reason
    # peaks that fit: no compression needed
    easy = decide("R", tracks(-16.0, lra=4.0, tp=-6.0), PRESETS["spotify"]).tracks[0]
    assert not easy.dynamics.enabled and "no compression needed" in easy.dynamics.reason


# ------------------------------------------------------------------------------------------------ tone

def test_eq_moves_toward_the_curve_bounded():
    dull = decide("R", tracks(-20.0, tilt_db_per_oct=-2.0), PRESETS["spotify"], amount_pct=100).tracks[0]
    g = np.array(dull.eq.gains_db)
    assert g[8] > 0 and g[1] < 0  # a dull top gets more highs and less lows
    assert np.all(np.abs(g) <= EQ_MAX_DB)
    assert g[0] <= 0.0  # no boost below 45 Hz
    assert g[9] <= 3.0
    flat = decide("R", tracks(-20.0), PRESETS["spotify"]).tracks[0]
    assert not flat.eq.enabled and "left alone" in flat.eq.reason
    none = decide("R", tracks(-20.0, tilt_db_per_oct=-2.0), PRESETS["spotify"], amount_pct=0).tracks[0]
    assert not none.eq.enabled


def test_album_tone_pulls_tracks_toward_the_album_mean_by_a_bounded_amount():
    ins = tracks(-20.0, -20.0)
    ins[1] = replace(ins[1], analysis=analysis(-20.0, tilt_db_per_oct=1.5))
    plan = decide("R", ins, PRESETS["spotify"], amount_pct=0)  # no move toward the curve: only consistency
    a, b = (np.array(t.eq.gains_db) for t in plan.tracks)
    assert a[8] > 0 > b[8]  # the darker track brightened, the brighter darkened, toward each other
    assert np.all(np.abs(a) <= CONSISTENCY_MAX_DB + 0.05) and np.all(np.abs(b) <= CONSISTENCY_MAX_DB + 0.05)


# ------------------------------------------------------------------------------------------------ stereo

def test_low_end_made_mono_only_where_its_correlation_is_poor():
    poor = decide("R", tracks(-20.0, low_corr=0.1), PRESETS["spotify"]).tracks[0]
    assert poor.stereo.mono_below_hz == 150.0 and "+0.10" in poor.stereo.reason
    good = decide("R", tracks(-20.0, low_corr=0.95), PRESETS["spotify"]).tracks[0]
    assert good.stereo.mono_below_hz is None and "left alone" in good.stereo.reason
    wide = decide("R", tracks(-20.0, side=(-20.0, -12.0, 0.5)), PRESETS["spotify"]).tracks[0]
    assert wide.stereo.widths == (1.0, 1.0, 0.8)


# ------------------------------------------------------------------------------------------------ plan.json

def test_plan_json_round_trip_and_edits_are_validated():
    plan = decide("R", tracks(-18.0, -12.0), PRESETS["spotify"])
    text = plan.to_json()
    d = json.loads(text)
    assert d["tracks"][0]["dynamics"]["reason"] and d["tracks"][0]["loudness"]["reason"]
    back = ReleasePlan.from_json(text)
    assert back.tracks == plan.tracks
    d["tracks"][1]["loudness"]["target_lufs"] = -15.5
    d["tracks"][1]["eq"]["gains_db"][3] = 2.0
    edited = ReleasePlan.from_json(json.dumps(d))
    assert edited.tracks[1].loudness.target_lufs == -15.5 and edited.tracks[1].eq.gains_db[3] == 2.0
    d["tracks"][0]["limiter"]["ceiling_dbtp"] = 1.0
    with pytest.raises(ConfigError, match=r"tracks\[0\].limiter: ceiling_dbtp 1.0 must lie in"):
        ReleasePlan.from_json(json.dumps(d))
    d["tracks"][0]["limiter"]["ceiling_dbtp"] = -1.0
    d["tracks"][0]["stereo"]["widths"] = [1.0, "wide", 1.0]
    with pytest.raises(ConfigError, match=r"tracks\[0\].stereo.widths must be a list of numbers"):
        ReleasePlan.from_json(json.dumps(d))
    with pytest.raises(ConfigError, match="not valid JSON"):
        ReleasePlan.from_json("{")


def test_unreadable_track_gets_a_neutral_plan():
    ins = tracks(-18.0, -12.0)
    ins[0] = replace(ins[0], analysis=None)
    plan = decide("R", ins, PRESETS["spotify"])
    t0 = plan.tracks[0]
    assert not (t0.highpass.enabled or t0.eq.enabled or t0.dynamics.enabled or t0.limiter.enabled)
    assert plan.tracks[1].loudness.target_lufs == -14.0
    assert math.isfinite(plan.tracks[1].loudness.gain_db)
