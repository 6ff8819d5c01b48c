"""Run any :class:`~motorgym.agents.agent.Agent` in a motorgym task and record its episodes.

Episodes are spread evenly over up to ``max_envs`` envs of one native batched env (so that short
episodes are not over-represented), and each records the hand path, the go cue, the trial's final
``info`` and, for recurrent agents, the hidden state after each action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from motorgym.agents.agent import Agent
from motorgym.envs.batched import env_info


def make_batched_env(
    env_id: str, num_envs: int, env_kwargs: dict[str, Any], physics_threads: int = 0
) -> gym.vector.VectorEnv:
    """The task's native batched env, resetting an env within the step that ends its episode
    (``AutoresetMode.SAME_STEP``: the final observation and info are in ``info["final_*"]``)."""
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        num_threads=physics_threads,
        **env_kwargs,
    )


@dataclass
class Episode:
    """One recorded trial: per-step hand positions and go cue, and the trial's facts."""

    hand_pos: list[np.ndarray] = field(default_factory=list)
    go: list[bool] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    hidden: list[np.ndarray] = field(default_factory=list)
    """The agent's hidden state after acting on each step's observation (if it has one)."""


def rollout(
    env_id: str, env_kwargs: dict[str, Any], agent: Agent, episodes: int, seed: int = 0, max_envs: int = 50
) -> list[Episode]:
    """Run ``episodes`` episodes, the same number in each of up to ``max_envs`` parallel envs, and
    return them."""
    num_envs = min(episodes, max_envs)
    per_env = math.ceil(episodes / num_envs)
    envs = make_batched_env(env_id, num_envs, env_kwargs)
    try:
        obs, info = envs.reset(seed=seed)
        agent.reset(num_envs)
        current = [Episode([info["hand_pos"][i].copy()], [bool(info["go_cue"][i])]) for i in range(num_envs)]
        done_by_env: list[list[Episode]] = [[] for _ in range(num_envs)]
        start = np.ones(num_envs, dtype=np.float32)
        while min(len(d) for d in done_by_env) < per_env:
            actions = agent.act(obs, start)
            hidden = agent.hidden_state()
            obs, _, terminated, truncated, info = envs.step(actions)
            ended = terminated | truncated
            for i in range(num_envs):
                if hidden is not None:
                    current[i].hidden.append(hidden[i].copy())
                row = env_info(info["final_info"], i) if ended[i] else env_info(info, i)
                current[i].hand_pos.append(row["hand_pos"])
                current[i].go.append(bool(row["go_cue"]))
                if ended[i]:
                    current[i].info = row
                    done_by_env[i].append(current[i])
                    current[i] = Episode([info["hand_pos"][i].copy()], [bool(info["go_cue"][i])])
            start = ended.astype(np.float32)
    finally:
        envs.close()
    return [episode for per in done_by_env for episode in per[:per_env]][:episodes]


__all__ = ["Episode", "make_batched_env", "rollout"]
