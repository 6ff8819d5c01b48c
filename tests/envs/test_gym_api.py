"""Every id is a well-behaved Gymnasium env: checkers, seeding, registration, spaces."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from motorgym.envs.batched import REWARD_TERMS
from motorgym.envs.gl import display_available
from tests.conftest import ALL_IDS, run_episode


def test_import_registers_every_id() -> None:
    assert set(ALL_IDS) == {
        "motorgym/Reach-v0",
        "motorgym/MuscleReach-v0",
        "motorgym/CenterOut-v0",
        "motorgym/MuscleCenterOut-v0",
        "motorgym/Reach-v1",
        "motorgym/MuscleReach-v1",
        "motorgym/CenterOut-v1",
        "motorgym/MuscleCenterOut-v1",
        "motorgym/Reach-v2",
        "motorgym/CenterOut-v2",
        "motorgym/MuscleReach-v2",
        "motorgym/MuscleCenterOut-v2",
        "motorgym/MuscleReach-v3",
        "motorgym/MuscleCenterOut-v3",
    }
    for env_id in ALL_IDS:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps is not None and spec.max_episode_steps > 0


def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", render_width_px=64, render_height_px=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        gym_check_env(env.unwrapped, skip_render_check=False)
    env.close()


def test_sb3_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    # SB3 only advises a symmetric action space, which muscle excitations in [0, 1] are not by nature.
    unexpected = [str(w.message) for w in caught if "symmetric and normalized Box action space" not in str(w.message)]
    assert not unexpected


def test_metadata_and_spaces(env_id: str) -> None:
    env = gym.make(env_id)
    unwrapped = env.unwrapped
    assert "rgb_array" in unwrapped.metadata["render_modes"]
    assert ("human" in unwrapped.metadata["render_modes"]) == display_available()
    assert unwrapped.metadata["render_fps"] == 100
    assert env.observation_space.shape == (len(unwrapped.obs_names),)
    assert env.action_space.shape == (len(unwrapped.action_names),)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for key in (
        "hand_pos",
        "target_pos",
        "distance_m",
        "phase",
        "success",
        "physics_error",
        "reward_distance",
        "reward_effort",
        "go_cue",
        "false_start",
    ):
        assert key in info


def _trajectory(env_id: str, seed: int, **kwargs: object) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    env = gym.make(env_id, **kwargs)
    actions = np.random.default_rng(123).uniform(
        env.action_space.low, env.action_space.high, (60, *env.action_space.shape)
    )
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            obs, info = env.reset()
            observations.append(obs)
            infos.append(info)
    return np.array(observations), np.array(rewards), infos


def test_seeded_reset_is_deterministic(env_id: str) -> None:
    """Same seed and actions give identical trajectories, noise included; another seed differs."""
    obs_a, rew_a, info_a = _trajectory(env_id, seed=7)
    obs_b, rew_b, info_b = _trajectory(env_id, seed=7)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    for a, b in zip(info_a, info_b, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    obs_c, _, _ = _trajectory(env_id, seed=8)
    assert not np.array_equal(obs_a, obs_c)


def test_external_rl_loop_runs_to_truncation(env_id: str) -> None:
    """A plain Gymnasium loop with random actions ends by termination or the registered time limit."""
    env = gym.make(env_id)
    for seed in range(3):
        observations, rewards, info, truncated = run_episode(env, lambda _: env.action_space.sample(), seed=seed)
        assert len(rewards) <= gym.spec(env_id).max_episode_steps
        assert all(np.isfinite(o).all() for o in observations)
        assert not info["physics_error"]


def test_reward_is_the_sum_of_its_terms(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    for _ in range(20):
        _, reward, _, _, info = env.step(env.action_space.sample())
        terms = [info[f"reward_{name}"] for name in REWARD_TERMS]
        assert reward == pytest.approx(sum(terms))
        assert all(term <= 0 for term in terms)
