"""Registers every motorgym environment id with Gymnasium (called by ``import motorgym``)."""

from __future__ import annotations

import gymnasium as gym

from motorgym.envs.tasks import center_out, reach

#: id -> (entry point, max_episode_steps)
ENV_IDS: dict[str, tuple[str, int]] = {
    "motorgym/Reach-v0": ("motorgym.envs.tasks.reach:ReachEnv", reach.MAX_EPISODE_STEPS),
    "motorgym/MuscleReach-v0": ("motorgym.envs.tasks.reach:MuscleReachEnv", reach.MAX_EPISODE_STEPS),
    "motorgym/CenterOut-v0": ("motorgym.envs.tasks.center_out:CenterOutEnv", center_out.MAX_EPISODE_STEPS),
    "motorgym/MuscleCenterOut-v0": ("motorgym.envs.tasks.center_out:MuscleCenterOutEnv", center_out.MAX_EPISODE_STEPS),
}


def register_envs() -> None:
    """Register the ids (idempotent, so re-importing motorgym is harmless)."""
    for env_id, (entry_point, max_episode_steps) in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps)
