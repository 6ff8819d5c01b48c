"""Shared by the train tests: a trained run to adapt, on short trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from motorgym.train import ppo
from motorgym.train.configs import PPOConfig

# Short trials, so that the tiny protocol runs in seconds.

FAST_TASK = {"delay_range_ms": [100.0, 200.0], "response_window_ms": 400.0, "catch_fraction": 0.0}


@pytest.fixture(scope="session")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("source") / "run"
    config = PPOConfig(
        env_id="motorgym/CenterOut-v1",
        env_kwargs=FAST_TASK,
        total_steps=512,
        num_envs=4,
        rollout_steps=64,
        num_minibatches=2,
        seed=3,
    )
    ppo.train(config, run, progress=False)
    return run
