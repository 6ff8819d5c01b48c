"""Kinematic measures and the evaluation summary, on hand-made trajectories with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from motorgym.agents.rollout import Episode
from motorgym.agents.scripted import minimum_jerk
from motorgym.train.analysis.kinematics import (
    entry_and_stay,
    movement_offset,
    movement_onset,
    path_linearity,
    peak_to_mean_speed,
    reach_kinematics,
    speed_profile,
)
from motorgym.train.evaluate import format_table, summarize
from motorgym.train.run_dir import read_evaluation, write_json

DT = 0.001


def min_jerk_reach(
    start: np.ndarray, end: np.ndarray, duration_s: float, rest_before: int, rest_after: int
) -> np.ndarray:
    s, _ = minimum_jerk(np.linspace(0, 1, int(round(duration_s / DT)) + 1))
    moving = start + s[:, None] * (end - start)
    return np.concatenate([np.repeat(start[None], rest_before, 0), moving, np.repeat(end[None], rest_after, 0)])


def test_minimum_jerk_reach_has_peak_to_mean_speed_1875() -> None:
    path = min_jerk_reach(np.zeros(2), np.array([0.1, 0.0]), 0.5, 0, 0)
    assert peak_to_mean_speed(speed_profile(path, DT)) == pytest.approx(1.875, rel=2e-3)
    assert path_linearity(path) == pytest.approx(0.0, abs=1e-12)


def test_path_linearity_of_a_half_circle_is_one_half() -> None:
    angle = np.linspace(np.pi, 0, 2001)
    assert path_linearity(np.stack([np.cos(angle), np.sin(angle)], 1)) == pytest.approx(0.5, rel=1e-6)


def test_onset_and_entry() -> None:
    speed = np.r_[np.zeros(10), np.linspace(0, 1, 11), np.linspace(1, 0, 11)]
    assert movement_onset(speed, after=5) == 12  # first sample above 10% of the peak
    assert movement_onset(np.zeros(5)) is None
    assert movement_offset(speed, 12) == 30  # first sample after the peak below 10% of it
    assert entry_and_stay(np.array([0.5, 0.01, 0.5, 0.01, 0.0]), 0.02) == 3
    assert entry_and_stay(np.array([0.01, 0.5]), 0.02) is None


def test_reach_kinematics_of_a_known_reach() -> None:
    """Go at 100 ms, movement from 250 ms for 400 ms: RT and MT follow from the onset threshold."""
    target = np.array([0.1, 0.0])
    path = min_jerk_reach(np.zeros(2), target, 0.4, rest_before=250, rest_after=200)
    kin = reach_kinematics(path, target, go_index=100, dt_s=DT, target_radius_m=0.015)
    s, _ = minimum_jerk(np.linspace(0, 1, 401))
    speed = np.gradient(s)
    onset = int(np.argmax(speed > 0.1 * speed.max()))
    arrival = int(np.argmax(np.abs(0.1 * (1 - s)) <= 0.015))
    assert kin.reaction_time_ms == pytest.approx(150 + onset, abs=1)
    assert kin.movement_time_ms == pytest.approx(arrival - onset, abs=1)
    assert kin.path_linearity == pytest.approx(0.0, abs=1e-9)
    assert kin.peak_to_mean_speed == pytest.approx(1.565, abs=0.01)  # onset-to-offset window (10% crossings)
    assert kin.peak_speed_m_s == pytest.approx(1.875 * 0.1 / 0.4, rel=1e-3)  # Flash & Hogan's 1.875 D/T
    assert kin.peak_time_fraction == pytest.approx(0.5, abs=0.01)  # a symmetric bell
    assert kin.moving_at_end == 0.0
    still = reach_kinematics(np.zeros((50, 2)), target, 10, DT, 0.015)
    assert math.isnan(still.reaction_time_ms) and math.isnan(still.movement_time_ms)


def test_a_trial_ending_mid_reach_is_moving_at_the_end_with_its_window_cut_short() -> None:
    """The same reach cut at 75% of its duration (after the peak, speed ~0.42 of it): the offset is
    the last sample, so the peak sits at two thirds of the window instead of half."""
    target = np.array([0.1, 0.0])
    path = min_jerk_reach(np.zeros(2), target, 0.4, rest_before=250, rest_after=0)[: 250 + 300]
    kin = reach_kinematics(path, target, go_index=100, dt_s=DT, target_radius_m=0.015)
    assert kin.moving_at_end == 1.0
    s, _ = minimum_jerk(np.linspace(0, 1, 401))
    speed = np.gradient(s)
    onset = int(np.argmax(speed > 0.1 * speed.max()))
    assert kin.peak_time_fraction == pytest.approx((200 - onset) / (299 - onset), abs=0.01)


def episode(
    target: int, success: bool, false_start: bool = False, catch: bool = False, error_m: float = 0.005
) -> Episode:
    end = np.array([0.1, 0.0]) * (1 - error_m / 0.1)
    path = min_jerk_reach(np.zeros(2), end, 0.3, 20, 20)[::10]  # 10 ms samples
    return Episode(
        hand_pos=list(path),
        go=[i >= 1 for i in range(len(path))],
        info={
            "target_index": target,
            "catch_trial": catch,
            "success": success,
            "false_start": false_start,
            "target_pos": np.array([0.1, 0.0]),
            "distance_m": error_m,
        },
    )


def test_summary_counts_and_means() -> None:
    episodes = [
        episode(0, True),
        episode(0, False, error_m=0.015),
        episode(1, True, false_start=True),
        episode(1, True, catch=True),
    ]
    results = summarize(episodes, dt_s=0.01, target_radius_m=0.015)
    overall = results["overall"]
    assert overall["episodes"] == 4 and overall["success_rate"] == 0.75 and overall["false_start_rate"] == 0.25
    assert overall["endpoint_error_mm"] == pytest.approx((5 + 15 + 5) / 3)
    assert results["per_target"]["0"]["success_rate"] == 0.5 and results["per_target"]["1"]["episodes"] == 1
    assert results["catch_trials"]["episodes"] == 1
    per_trial = [reach_kinematics(np.array(e.hand_pos), e.info["target_pos"], 1, 0.01, 0.015) for e in episodes[:3]]
    assert overall["peak_to_mean_speed"] == pytest.approx(np.mean([k.peak_to_mean_speed for k in per_trial]))
    assert overall["reaction_time_ms"] == pytest.approx(np.mean([k.reaction_time_ms for k in per_trial]))
    assert overall["path_linearity"] < 1e-9
    table = format_table(results)
    assert "target 1" in table and "75.0%" in table


def test_table_of_an_evaluation_read_back_from_disk(tmp_path: Path) -> None:
    """A measure that was NaN (no trial entered the target) is null in evaluation.json; the table read
    back from the file shows it as "-", as it does in memory."""
    results = summarize([episode(0, False, error_m=0.05)], dt_s=0.01, target_radius_m=0.015)
    assert math.isnan(results["overall"]["movement_time_ms"])
    write_json(tmp_path / "evaluation.json", results)
    from_disk = read_evaluation(tmp_path)
    assert from_disk is not None and from_disk["overall"]["movement_time_ms"] is None
    assert format_table(from_disk) == format_table(results)


def test_reading_an_evaluation_says_what_is_there(tmp_path: Path) -> None:
    """None for a run not yet evaluated; a damaged file is named, not a KeyError later."""
    assert read_evaluation(tmp_path) is None
    (tmp_path / "evaluation.json").write_text('{"overall": {"success_rate": 0.5')
    with pytest.raises(ValueError, match="evaluation.json is not valid JSON"):
        read_evaluation(tmp_path)
    (tmp_path / "evaluation.json").write_text('{"success_rate": 0.5}')
    with pytest.raises(ValueError, match="does not hold an evaluation"):
        read_evaluation(tmp_path)
