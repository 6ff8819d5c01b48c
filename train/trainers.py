"""Which function trains each config class of the runs ``motorgym train`` makes (our PPO, the SB3
baselines), for the CLI and the sweeps. Every one takes ``(config, run_dir, resume, total_steps,
minutes, progress)`` and returns a :class:`~motorgym.train.progress.TrainResult`."""

from __future__ import annotations

from collections.abc import Callable

from motorgym.train import baselines, ppo
from motorgym.train.configs import PPOConfig, SB3Config
from motorgym.train.progress import TrainResult

TRAINERS: dict[type, Callable[..., TrainResult]] = {PPOConfig: ppo.train, SB3Config: baselines.train}

__all__ = ["TRAINERS"]
