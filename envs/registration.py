"""Registers every motorgym environment id with Gymnasium (called by ``import motorgym``)."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import gymnasium as gym

from motorgym.envs.config import EnvConfig
from motorgym.envs.single import ArmTaskEnv
from motorgym.envs.tasks import center_out, reach


class Registration(NamedTuple):
    entry_point: str
    vector_entry_point: str
    max_episode_steps: int


_REACH, _CENTER_OUT = "motorgym.envs.tasks.reach", "motorgym.envs.tasks.center_out"
ENV_IDS: dict[str, Registration] = {
    "motorgym/Reach-v0": Registration(f"{_REACH}:ReachEnv", f"{_REACH}:ReachVectorEnv", reach.MAX_EPISODE_STEPS),
    "motorgym/MuscleReach-v0": Registration(
        f"{_REACH}:MuscleReachEnv", f"{_REACH}:MuscleReachVectorEnv", reach.MAX_EPISODE_STEPS
    ),
    "motorgym/CenterOut-v0": Registration(
        f"{_CENTER_OUT}:CenterOutEnv", f"{_CENTER_OUT}:CenterOutVectorEnv", center_out.MAX_EPISODE_STEPS
    ),
    "motorgym/MuscleCenterOut-v0": Registration(
        f"{_CENTER_OUT}:MuscleCenterOutEnv", f"{_CENTER_OUT}:MuscleCenterOutVectorEnv", center_out.MAX_EPISODE_STEPS
    ),
    "motorgym/Reach-v1": Registration(f"{_REACH}:ReachV1Env", f"{_REACH}:ReachV1VectorEnv", reach.MAX_EPISODE_STEPS_V1),
    "motorgym/MuscleReach-v1": Registration(
        f"{_REACH}:MuscleReachV1Env", f"{_REACH}:MuscleReachV1VectorEnv", reach.MAX_EPISODE_STEPS_V1
    ),
    "motorgym/CenterOut-v1": Registration(
        f"{_CENTER_OUT}:CenterOutV1Env", f"{_CENTER_OUT}:CenterOutV1VectorEnv", center_out.MAX_EPISODE_STEPS
    ),
    "motorgym/MuscleCenterOut-v1": Registration(
        f"{_CENTER_OUT}:MuscleCenterOutV1Env",
        f"{_CENTER_OUT}:MuscleCenterOutV1VectorEnv",
        center_out.MAX_EPISODE_STEPS,
    ),
}


def register_envs() -> None:
    """Register the ids (idempotent, so re-importing motorgym is harmless)."""
    for env_id, registration in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **registration._asdict())


def env_class(env_id: str) -> type[ArmTaskEnv]:
    """The env class of a motorgym id; a ValueError listing the ids for any other."""
    if env_id not in ENV_IDS:
        raise ValueError(f"env_id must be a motorgym id: one of {', '.join(ENV_IDS)} (got {env_id!r})")
    module, _, name = ENV_IDS[env_id].entry_point.partition(":")
    return getattr(importlib.import_module(module), name)


def check_env_arguments(env_id: str, env_kwargs: Any) -> EnvConfig:
    """The task config ``gym.make(env_id, **env_kwargs)`` would build, without building the arm; a
    ValueError naming the id or the argument (and what it allows) if it would fail."""
    cls = env_class(env_id)
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"env_kwargs must be a JSON object of keyword arguments (got {env_kwargs!r})")
    try:
        return cls.config_cls.from_kwargs(cls.env_name, env_kwargs)
    except TypeError as error:  # an unknown argument name, or a value of the wrong type
        raise ValueError(str(error)) from None
