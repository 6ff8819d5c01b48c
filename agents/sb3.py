"""Stable-Baselines3 policies as motorgym agents, loaded without unpickling anything.

SB3's ``model.zip`` holds the policy's tensors beside cloudpickled objects (spaces, schedules).
:func:`load_sb3_policy` rebuilds the policy object from what the caller knows (the algorithm, the
env's spaces, the policy's size) and reads only the tensors, with ``torch.load(weights_only=True)``
(SB3's ``load_from_zip_file(load_data=False)``), so a hostile payload in the zip never runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file

from motorgym.agents.checkpoint import CheckpointError

#: The SB3 baselines: (module, algorithm class, policy alias, whether the policy has an LSTM).
SB3_ALGORITHMS = {
    "sb3-rppo": ("sb3_contrib", "RecurrentPPO", "MlpLstmPolicy", True),
    "sb3-ppo": ("stable_baselines3", "PPO", "MlpPolicy", False),
}


def sb3_algorithm(algo: str, lstm_hidden_size: int) -> tuple[type[BaseAlgorithm], str, dict[str, Any]]:
    """(algorithm class, policy alias, policy kwargs) of one of :data:`SB3_ALGORITHMS`."""
    if algo not in SB3_ALGORITHMS:
        raise ValueError(f"algo must be one of {', '.join(SB3_ALGORITHMS)} (got {algo!r})")
    module, name, policy, recurrent = SB3_ALGORITHMS[algo]
    algorithm = getattr(importlib.import_module(module), name)  # sb3-contrib only for who uses it
    return algorithm, policy, {"lstm_hidden_size": lstm_hidden_size} if recurrent else {}


def load_sb3_policy(
    model_path: Path, algo: str, lstm_hidden_size: int, env: gym.Env[Any, Any], device: str = "cpu"
) -> BasePolicy:
    """The policy in an SB3 ``model.zip`` for ``env``'s spaces, read without unpickling."""
    if not model_path.exists():
        raise CheckpointError(f"{model_path} is missing: nothing to load")
    try:
        _, params, _ = load_from_zip_file(str(model_path), device=device, load_data=False)
    except Exception as error:  # a zip or torch error: the file is damaged
        raise CheckpointError(f"{model_path} is not a readable SB3 model: {error}") from error
    algorithm, policy_alias, policy_kwargs = sb3_algorithm(algo, lstm_hidden_size)
    policy_class = algorithm.policy_aliases[policy_alias]
    policy = policy_class(env.observation_space, env.action_space, lambda _: 0.0, **policy_kwargs)
    try:
        policy.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{model_path} does not hold a {algo} policy for this env: {error}") from error
    policy.to(device).set_training_mode(False)
    return policy


class SB3Agent:
    """An SB3 policy as an :class:`~motorgym.agents.agent.Agent`: observations normalised with the
    run's VecNormalize statistics; for RecurrentPPO the LSTM states are carried between calls and
    reset where ``episode_start`` is 1."""

    def __init__(self, policy: BasePolicy, normalizer: dict[str, torch.Tensor], deterministic: bool = True) -> None:
        self.policy, self.deterministic = policy, deterministic
        self.normalizer = {k: v.numpy() for k, v in normalizer.items()}
        self.state: tuple[np.ndarray, ...] | None = None

    def reset(self, num_envs: int) -> None:
        self.state = None  # SB3 starts from zero states

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        if not self.normalizer:
            return obs
        n = self.normalizer  # as VecNormalize.normalize_obs
        scaled = (obs - n["obs_mean"]) / np.sqrt(n["obs_var"] + n["epsilon"])
        return np.clip(scaled, -n["clip_obs"], n["clip_obs"]).astype(np.float32)

    def hidden_state(self) -> np.ndarray | None:
        """RecurrentPPO's actor LSTM output h (last layer); None for the feed-forward PPO."""
        return None if self.state is None else np.asarray(self.state[0][-1])

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        actions, self.state = self.policy.predict(
            self.normalize(obs),
            state=self.state,
            episode_start=episode_start.astype(bool),
            deterministic=self.deterministic,
        )
        return actions


__all__ = ["SB3_ALGORITHMS", "SB3Agent", "load_sb3_policy", "sb3_algorithm"]
