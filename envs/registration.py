"""Registers every motorgym environment id with Gymnasium (called by ``import motorgym``)."""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym

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
}


def register_envs() -> None:
    """Register the ids (idempotent, so re-importing motorgym is harmless)."""
    for env_id, registration in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **registration._asdict())
