"""External RL code runs on the envs: SB3's PPO, Gymnasium's wrappers and vector envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import NormalizeObservation, RecordEpisodeStatistics


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v0", "motorgym/MuscleReach-v0"])
def test_sb3_ppo_trains_on_the_env_and_acts_in_its_action_space(env_id: str) -> None:
    """SB3's PPO runs its training loop on the env (not a learning test: tests/train has those)."""
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make(env_id), n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)
    env.step(action)


def test_gymnasium_wrappers() -> None:
    env = RecordEpisodeStatistics(NormalizeObservation(gym.make("motorgym/Reach-v0")))
    env.reset(seed=0)
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert "episode" in info and info["episode"]["l"] >= 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_sync_and_async(mode: str) -> None:
    envs = gym.make_vec("motorgym/MuscleCenterOut-v0", num_envs=2, vectorization_mode=mode)
    obs, info = envs.reset(seed=[0, 1])
    assert obs.shape == (2, 17) and info["target_pos"].shape == (2, 2)
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert np.isfinite(obs).all() and reward.shape == (2,)
    envs.close()
