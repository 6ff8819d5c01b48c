"""Shared test helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import motorgym
from motorgym.envs.registration import ENV_IDS

ALL_IDS = sorted(ENV_IDS)
QUIET = dict(proprio_noise_std=0.0, visual_noise_std_m=0.0, motor_noise_coef=0.0)


def run_episode(
    env: gym.Env[Any, Any],
    policy: Callable[[np.ndarray], np.ndarray],
    seed: int = 0,
    options: dict[str, Any] | None = None,
) -> tuple[list[np.ndarray], list[float], dict[str, Any], bool]:
    """Run one episode; return observations, rewards, the last info and whether it was truncated."""
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards = [obs], []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            return observations, rewards, info, truncated


def collected_file(tmp_path_factory: pytest.TempPathFactory, episodes: int, seed: int) -> Path:
    """A trajectory file of CenterOut-v0 (quiet sensors and motor), half the episodes scripted reaches."""
    from motorgym.train.collect import collect, save_dataset

    path = tmp_path_factory.mktemp("data") / "center_out.npz"
    save_dataset(collect("motorgym/CenterOut-v0", episodes, seed=seed, env_kwargs=QUIET, scripted_fraction=0.5), path)
    return path


@pytest.fixture(params=ALL_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


assert motorgym.__version__
