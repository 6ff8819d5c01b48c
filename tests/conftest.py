"""Shared test helpers."""

from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture(params=ALL_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


assert motorgym.__version__
