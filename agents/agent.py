"""What every agent offers, whatever made it: the :class:`Agent` protocol, the recurrent policy as an
agent, and the adapter that drives one (non-batched) env with a batched agent.

An agent acts on a batch of environments at once: ``reset(num_envs)``, then ``act(obs,
episode_start) -> actions`` each step, where ``episode_start`` (num_envs,) marks the envs whose
episode begins with this observation (a recurrent agent zeroes their state first).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from motorgym.agents.recurrent import RecurrentActorCritic


class Agent(Protocol):
    def reset(self, num_envs: int) -> None: ...

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray: ...

    def hidden_state(self) -> np.ndarray | None:
        """(num_envs, units) recurrent hidden state after the last ``act`` (None: no recurrent state)."""
        ...


class LoadedAgent(NamedTuple):
    """An agent with the env it was trained on (what a run directory gives back)."""

    agent: Agent
    env_id: str
    env_kwargs: dict[str, Any]


class RecurrentAgent:
    """A :class:`RecurrentActorCritic` that keeps its recurrent state between calls."""

    def __init__(self, policy: RecurrentActorCritic, deterministic: bool = True) -> None:
        self.policy, self.deterministic = policy, deterministic
        self.state: torch.Tensor | None = None

    def reset(self, num_envs: int) -> None:
        self.state = self.policy.initial_state(num_envs)

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        if self.state is None:
            raise RuntimeError("call reset(num_envs) before act()")
        actions, self.state = self.policy.act(obs, self.state, episode_start, self.deterministic)
        return actions

    def hidden_state(self) -> np.ndarray | None:
        """The cell's output h (an LSTM's state is [h, c])."""
        return None if self.state is None else self.state[:, : self.policy.hidden_size].cpu().numpy()


class SingleEnvAgent:
    """One (non-batched) env driven by a batched agent: call it with an observation, get an action;
    ``reset()`` at each episode start."""

    def __init__(self, agent: Agent) -> None:
        self.agent, self._episode_start = agent, True

    def reset(self) -> None:
        self.agent.reset(1)
        self._episode_start = True

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        start = np.array([1.0 if self._episode_start else 0.0], dtype=np.float32)
        self._episode_start = False
        return self.agent.act(obs[None], start)[0]


__all__ = ["Agent", "LoadedAgent", "RecurrentAgent", "SingleEnvAgent"]
