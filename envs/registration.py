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


def _entry(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


#: Every id: its env class (which names the id), native vector env and episode limit.
_ROWS: tuple[tuple[type[ArmTaskEnv], type, int], ...] = (
    (reach.ReachEnv, reach.ReachVectorEnv, reach.MAX_EPISODE_STEPS),
    (reach.MuscleReachEnv, reach.MuscleReachVectorEnv, reach.MAX_EPISODE_STEPS),
    (center_out.CenterOutEnv, center_out.CenterOutVectorEnv, center_out.MAX_EPISODE_STEPS),
    (center_out.MuscleCenterOutEnv, center_out.MuscleCenterOutVectorEnv, center_out.MAX_EPISODE_STEPS),
    (reach.ReachV1Env, reach.ReachV1VectorEnv, reach.MAX_EPISODE_STEPS_V1),
    (reach.MuscleReachV1Env, reach.MuscleReachV1VectorEnv, reach.MAX_EPISODE_STEPS_V1),
    (center_out.CenterOutV1Env, center_out.CenterOutV1VectorEnv, center_out.MAX_EPISODE_STEPS),
    (center_out.MuscleCenterOutV1Env, center_out.MuscleCenterOutV1VectorEnv, center_out.MAX_EPISODE_STEPS),
    (reach.ReachV2Env, reach.ReachV2VectorEnv, reach.MAX_EPISODE_STEPS_V1),
    (center_out.CenterOutV2Env, center_out.CenterOutV2VectorEnv, center_out.MAX_EPISODE_STEPS),
    (reach.MuscleReachV2Env, reach.MuscleReachV2VectorEnv, reach.MAX_EPISODE_STEPS_V1),
    (center_out.MuscleCenterOutV2Env, center_out.MuscleCenterOutV2VectorEnv, center_out.MAX_EPISODE_STEPS),
    (reach.MuscleReachV3Env, reach.MuscleReachV3VectorEnv, reach.MAX_EPISODE_STEPS_V1),
    (center_out.MuscleCenterOutV3Env, center_out.MuscleCenterOutV3VectorEnv, center_out.MAX_EPISODE_STEPS),
)
ENV_IDS: dict[str, Registration] = {
    env.env_name: Registration(_entry(env), _entry(vector), steps) for env, vector, steps in _ROWS
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
