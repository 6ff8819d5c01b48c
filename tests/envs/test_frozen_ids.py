"""A registered id's behaviour is frozen: the v0 ids reproduce trajectories recorded before later
changes (new keyword arguments keep defaults that leave them as they were)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import motorgym  # noqa: F401
from motorgym.envs.registration import ENV_IDS

RECORDED = Path(__file__).parents[1] / "fixtures" / "v0_trajectories.npz"


@pytest.mark.parametrize("env_id", sorted(i for i in ENV_IDS if i.endswith("-v0")))
def test_v0_reproduces_its_recorded_trajectory(env_id: str) -> None:
    """Made at commit 'PPO activity costs' with: reset(seed=123), 150 uniform random actions from
    default_rng(7), reset(seed=1000 + t) after an episode ending at step t."""
    key = env_id.split("/")[1]
    with np.load(RECORDED) as recorded:
        expected_obs, expected_reward = recorded[f"{key}_obs"], recorded[f"{key}_reward"]
    env = gym.make(env_id)
    rng = np.random.default_rng(7)
    obs, _ = env.reset(seed=123)
    observations, rewards = [obs], []
    for t in range(150):
        obs, reward, terminated, truncated, _ = env.step(
            rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        )
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            obs, _ = env.reset(seed=1000 + t)
            observations.append(obs)
    env.close()
    np.testing.assert_allclose(np.array(observations), expected_obs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(rewards), expected_reward, rtol=1e-6, atol=1e-9)
