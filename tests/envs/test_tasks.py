"""Task rules: solvable by a scripted controller, timing, catch trials, false starts, reward."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from motorgym.agents.scripted import ScriptedReacher
from motorgym.envs.task import Phase
from tests.conftest import QUIET, run_episode


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v0", "motorgym/MuscleCenterOut-v0"])
def test_scripted_controller_reaches_all_eight_targets(env_id: str) -> None:
    """With default settings (noise and delays on), every target is reached and held in time."""
    env = gym.make(env_id)
    controller = ScriptedReacher(env)
    for target in range(8):
        _, _, info, truncated = run_episode(
            env, controller, seed=target, options={"target_index": target, "catch_trial": False}
        )
        assert info["success"] and not truncated, f"target {target}: {info}"
        assert info["target_index"] == target and not info["false_start"]
        assert info["distance_m"] <= env.unwrapped.config.target_radius_m
    _, _, info, truncated = run_episode(env, controller, seed=0, options={"catch_trial": True})
    assert info["success"] and info["catch_trial"] and not info["go_cue"] and not truncated


@pytest.mark.parametrize("env_id, minimum", [("motorgym/Reach-v0", 20), ("motorgym/MuscleReach-v0", 14)])
def test_scripted_controller_solves_random_reaches(env_id: str, minimum: int) -> None:
    env = gym.make(env_id)
    controller = ScriptedReacher(env)
    successes = sum(run_episode(env, controller, seed=seed)[2]["success"] for seed in range(20))
    assert successes >= minimum


def test_targets_circle_the_start() -> None:
    env = gym.make("motorgym/CenterOut-v0", n_targets=6, target_distance_m=0.08)
    task = env.unwrapped.task
    offsets = task.targets_m - task.center_m
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), 0.08)
    np.testing.assert_allclose(
        np.arctan2(offsets[:, 1], offsets[:, 0]) % (2 * np.pi), np.arange(6) * np.pi / 3, atol=1e-12
    )
    _, info = env.reset(seed=0, options={"target_index": 2})
    np.testing.assert_allclose(info["target_pos"], task.targets_m[2])
    np.testing.assert_allclose(info["hand_pos"], task.center_m, atol=1e-9)  # starts at the centre


def test_go_cue_timing_and_trial_end() -> None:
    """The go cue comes after the delay drawn from delay_range_ms; the trial ends response_window_ms later."""
    env = gym.make("motorgym/CenterOut-v0", catch_fraction=0.0, delay_range_ms=(300.0, 700.0))
    go_times = []
    for seed in range(30):
        env.reset(seed=seed)
        zero = np.zeros(2)
        info = {"go_cue": False}
        while not info["go_cue"]:
            _, _, terminated, _, info = env.step(zero)
            assert info["phase"] == Phase.DELAY or info["go_cue"]
        go_times.append(info["time_ms"])
        while True:
            _, _, terminated, truncated, info = env.step(zero)
            if terminated or truncated:
                break
        assert terminated and not truncated and not info["success"]
        assert info["time_ms"] == pytest.approx(go_times[-1] + 800.0)
    assert 300 <= min(go_times) and max(go_times) <= 700 and np.ptp(go_times) > 200


def test_catch_trials_get_no_go_cue_at_the_configured_rate() -> None:
    env = gym.make("motorgym/CenterOut-v0", catch_fraction=0.3)
    catches = [env.reset(seed=seed)[1]["catch_trial"] for seed in range(400)]
    assert 0.3 - 0.07 < np.mean(catches) < 0.3 + 0.07  # > 3 binomial standard deviations
    _, info = env.reset(seed=0, options={"catch_trial": True, "delay_ms": 300.0})
    steps = 0
    while True:
        _, _, terminated, truncated, info = env.step(np.zeros(2))
        steps += 1
        assert not info["go_cue"] and info["phase"] == Phase.DELAY
        if terminated or truncated:
            break
    assert terminated and info["success"] and steps == (300 + 800) // 10


def test_moving_before_the_go_cue_is_a_false_start() -> None:
    env = gym.make("motorgym/CenterOut-v0", catch_fraction=0.0)
    env.reset(seed=0, options={"delay_ms": 700.0, "target_index": 0})
    flags = []
    for _ in range(30):
        _, reward, _, _, info = env.step(np.array([1.0, 1.0]))
        flags.append(info["false_start"])
    assert not flags[0] and flags[-1] and not info["go_cue"]
    # Before the go cue the goal is the start position, so moving away costs reward.
    assert info["reward_distance"] < -env.unwrapped.config.start_radius_m
    controller = ScriptedReacher(env)
    while True:  # even a perfect reach afterwards cannot make the trial a success
        _, _, terminated, truncated, info = env.step(controller())
        if terminated or truncated:
            break
    assert info["false_start"] and not info["success"]


def test_hold_is_required_for_success() -> None:
    env = gym.make("motorgym/CenterOut-v0", hold_ms=300.0)
    controller = ScriptedReacher(env)
    env.reset(seed=1, options={"target_index": 3, "catch_trial": False})
    entered_at = None
    while True:
        _, _, terminated, truncated, info = env.step(controller())
        if info["phase"] == Phase.HOLD and entered_at is None:
            entered_at = info["time_ms"]
        elif info["phase"] != Phase.HOLD:
            entered_at = None
        if terminated or truncated:
            break
    assert info["success"] and info["time_ms"] - entered_at == pytest.approx(300.0 - 10.0)


def _hold_trace(**kwargs: float) -> tuple[list[bool], list[float], dict]:
    """A fast scripted reach (it enters the target still moving): in-target flags, hand speeds."""
    env = gym.make("motorgym/CenterOut-v0", **QUIET, **kwargs)
    controller = ScriptedReacher(env, movement_time_ms=150.0)
    env.reset(seed=1, options={"target_index": 3, "catch_trial": False})
    arm = env.unwrapped.arm
    in_target, speeds = [], []
    while True:
        _, _, terminated, truncated, info = env.step(controller())
        in_target.append(info["phase"] == Phase.HOLD)
        speeds.append(float(np.linalg.norm(arm.hand_vel[0])))
        if terminated or truncated:
            return in_target, speeds, info


def _first_full_hold(flags: list[bool], hold_steps: int) -> int:
    """The number of steps after which ``flags`` has first been true ``hold_steps`` times in a row."""
    return next(k for k in range(hold_steps, len(flags) + 1) if all(flags[k - hold_steps : k]))


def test_hold_counts_only_still_steps_with_hold_max_speed() -> None:
    """With hold_max_speed_m_s the trial succeeds once the hand has been in the target *and* at
    most that fast for hold_ms in a row (a faster step in the target restarts the count); without
    it, once the hand has been in the target for hold_ms at any speed, which here is earlier."""
    max_speed, hold_steps = 0.02, 20  # hold_ms = 200 at 10 ms steps
    in_target, speeds, info = _hold_trace(hold_max_speed_m_s=max_speed)
    still = [inside and speed <= max_speed for inside, speed in zip(in_target, speeds, strict=True)]
    assert info["success"] and len(still) == _first_full_hold(still, hold_steps)
    plain_in_target, _, plain_info = _hold_trace()
    assert plain_info["success"] and len(plain_in_target) == _first_full_hold(plain_in_target, hold_steps)
    assert len(still) > len(plain_in_target)


def test_reach_draws_targets_inside_the_workspace() -> None:
    env = gym.make("motorgym/Reach-v0", min_reach_distance_m=0.1)
    arm = env.unwrapped.arm
    for seed in range(50):
        _, info = env.reset(seed=seed)
        assert info["go_cue"] and info["phase"] != Phase.DELAY
        assert np.linalg.norm(info["target_pos"] - info["hand_pos"]) >= 0.1
        assert arm.within_joint_range(arm.inverse_kinematics(info["target_pos"]))


@pytest.mark.parametrize("latency_ms", [0.0, 100.0, 250.0])
def test_go_cue_latency_delays_the_seen_cue_by_exactly_its_steps(latency_ms: float) -> None:
    """The cue reaches the observation visual_delay_ms + go_cue_latency_ms after it is given; the
    task's own go cue (phases, false starts) is unchanged; a catch trial never shows it."""
    env = gym.make("motorgym/CenterOut-v0", go_cue_latency_ms=latency_ms, **QUIET)
    env.reset(seed=0, options={"target_index": 2, "delay_ms": 400.0, "catch_trial": False})
    seen, given = [], []
    for _ in range(120):
        obs, _, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
        seen.append(obs[4])
        given.append(info["go_cue"])
        if terminated or truncated:
            break
    first_given, first_seen = given.index(True), seen.index(1.0)
    assert first_seen - first_given == round((50.0 + latency_ms) / 10.0)
    obs, _ = env.reset(seed=0, options={"catch_trial": True})
    for _ in range(150):
        obs, _, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
        assert obs[4] == 0.0
        if terminated or truncated:
            break
    with pytest.raises(ValueError, match="go_cue_latency_ms"):
        gym.make("motorgym/CenterOut-v0", go_cue_latency_ms=-10.0)
    env.close()
