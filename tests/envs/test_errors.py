"""Bad input gets a clear error naming the argument; a physics blow-up ends only the episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tests.conftest import ALL_IDS


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_bad_actions_are_rejected_with_the_expected_shape(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    n = env.action_space.shape[0]
    with pytest.raises(ValueError, match=rf"action must have shape \({n},\).*got shape \({n + 1},\)"):
        env.step(np.zeros(n + 1))
    with pytest.raises(ValueError, match=r"action must have shape"):
        env.step(np.zeros((1, n)))
    for bad in (np.nan, np.inf, -np.inf):
        action = np.zeros(n)
        action[0] = bad
        with pytest.raises(ValueError, match="action must be finite"):
            env.step(action)
    with pytest.raises(TypeError, match="action must be an array of numbers"):
        env.step("left")
    # Out-of-range values are clipped, as SB3 and Gymnasium's wrappers do.
    _, _, _, _, info = env.step(np.full(n, 5.0))
    effort_weight = env.unwrapped.config.effort_weight
    assert info["reward_effort"] == pytest.approx(-effort_weight * np.sum(env.action_space.high.astype(float) ** 2))


def test_unknown_argument_lists_the_allowed_ones() -> None:
    with pytest.raises(
        TypeError, match=r"unknown argument\(s\) 'n_target'.*allowed arguments: render_mode, control_step_ms.*n_targets"
    ):
        gym.make("motorgym/CenterOut-v0", n_target=4)
    with pytest.raises(TypeError, match="'n_targets'"):
        gym.make("motorgym/Reach-v0", n_targets=4)  # a centre-out argument


@pytest.mark.parametrize(
    "env_id, kwargs, message",
    [
        ("motorgym/Reach-v0", {"proprio_delay_ms": -10.0}, r"proprio_delay_ms must be >= 0 \(got -10.0\)"),
        (
            "motorgym/Reach-v0",
            {"visual_delay_ms": 25.0},
            r"visual_delay_ms must be a whole multiple of control_step_ms=10",
        ),
        (
            "motorgym/Reach-v0",
            {"control_step_ms": 7.0},
            r"control_step_ms must be a positive multiple of the physics timestep \(5 ms\)",
        ),
        ("motorgym/Reach-v0", {"control_step_ms": 0.0}, r"control_step_ms must be > 0"),
        ("motorgym/Reach-v0", {"target_radius_m": 0.0}, r"target_radius_m must be in \(0, 0.1\] m"),
        ("motorgym/Reach-v0", {"effort_weight": float("nan")}, r"effort_weight must be a finite number"),
        ("motorgym/Reach-v0", {"hold_ms": "long"}, r"hold_ms must be a finite number"),
        ("motorgym/CenterOut-v0", {"n_targets": 0}, r"n_targets must be an int in \[1, 360\] \(got 0\)"),
        ("motorgym/CenterOut-v0", {"n_targets": 2.5}, r"n_targets must be an int"),
        (
            "motorgym/CenterOut-v0",
            {"delay_range_ms": (700.0, 300.0)},
            r"delay_range_ms must be \(low, high\) with 0 <= low <= high",
        ),
        ("motorgym/CenterOut-v0", {"delay_range_ms": (-100.0, 300.0)}, r"delay_range_ms must be \(low, high\)"),
        ("motorgym/CenterOut-v0", {"delay_range_ms": 300.0}, r"delay_range_ms must be a pair of finite numbers"),
        ("motorgym/CenterOut-v0", {"catch_fraction": 1.5}, r"catch_fraction must be in \[0, 1\]"),
        ("motorgym/CenterOut-v0", {"target_distance_m": 0.3}, r"target_distance_m must be small enough"),
        (
            "motorgym/CenterOut-v0",
            {"start_joint_angles_deg": (45.0, 170.0)},
            r"start_joint_angles_deg must be inside the joint ranges",
        ),
        ("motorgym/CenterOut-v0", {"response_window_ms": 100.0}, r"response_window_ms must be longer than hold_ms=200"),
        (
            "motorgym/CenterOut-v0",
            {"render_mode": "video"},
            r"render_mode must be one of \[None, .*'rgb_array'\] \(got 'video'\)",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")  # Gymnasium's own notice
def test_out_of_range_arguments_name_the_argument(env_id: str, kwargs: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        gym.make(env_id, **kwargs)


def test_valid_non_default_arguments_are_accepted() -> None:
    env = gym.make(
        "motorgym/MuscleCenterOut-v0",
        control_step_ms=20.0,
        visual_delay_ms=60.0,
        proprio_delay_ms=20.0,
        delay_range_ms=[100, 200],
        n_targets=4,
        catch_fraction=0.0,
    )
    obs, info = env.reset(seed=0)
    assert env.unwrapped.config.delay_range_ms == (100.0, 200.0)
    assert env.unwrapped.core.visual_delay_steps == 3 and env.unwrapped.core.proprio_delay_steps == 1
    assert env.unwrapped.metadata["render_fps"] == 50


def test_bad_reset_options_are_rejected() -> None:
    env = gym.make("motorgym/CenterOut-v0")
    with pytest.raises(ValueError, match=r"target_index must be an int in \[0, 8\) \(got 8\)"):
        env.reset(seed=0, options={"target_index": 8})
    with pytest.raises(
        ValueError, match=r"unknown reset option\(s\) \['target'\]; allowed: target_index, catch_trial, delay_ms"
    ):
        env.reset(seed=0, options={"target": 1})
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['target_index'\]; allowed: force_field, "):
        gym.make("motorgym/Reach-v0").reset(seed=0, options={"target_index": 1})


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("corruption", [np.nan, 1e12])
def test_physics_blow_up_ends_the_episode_with_a_flag(env_id: str, corruption: float) -> None:
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    env.unwrapped.arm.qvel[0, 1] = corruption  # inject the blow-up into the simulation's state
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert terminated and info["physics_error"] and not info["success"]
    assert np.isfinite(obs).all() and env.observation_space.contains(obs) and np.isfinite(reward)
    np.testing.assert_allclose(env.unwrapped.arm.joint_angles[0], env.unwrapped.core.start_joint_angles[0])
    obs, info = env.reset(seed=1)  # and the next episode is normal
    _, _, _, _, info = env.step(env.action_space.sample())
    assert not info["physics_error"]
