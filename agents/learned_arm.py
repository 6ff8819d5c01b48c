"""The learned arm: a differentiable stand-in for MuJoCo, fitted on rollouts.

An MLP from the arm's sensed state (hand position, undelayed proprioception and muscle
activations: :meth:`motorgym.envs.arm.Arm.sensed_state`) and the command to the change of that
state over one control step, in standardised units (the statistics are buffers of the model). Its
output is clamped to the states the data visited, widened by 10% of their range: the model is not
trusted far outside them, and clamping keeps a closed-loop rollout from running away. It is fitted,
and a policy trained through it, by :mod:`motorgym.train.model_based`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LearnedArm(nn.Module):
    """Sensed state and command now -> sensed state one control step later."""

    def __init__(self, state_dim: int, action_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim + action_dim, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, state_dim),
        )
        for name, size in (("state", state_dim), ("delta", state_dim), ("action", action_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        self.register_buffer("state_low", torch.full((state_dim,), -math.inf))
        self.register_buffer("state_high", torch.full((state_dim,), math.inf))

    def forward(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat(
            [(state - self.state_mean) / self.state_std, (command - self.action_mean) / self.action_std], dim=-1
        )
        next_state = state + self.delta_mean + self.net(inputs) * self.delta_std
        return torch.maximum(torch.minimum(next_state, self.state_high), self.state_low)

    def unroll(self, state: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
        """Run open-loop from ``state`` (B, S) under ``commands`` (K, B, A); return the (K, B, S) states."""
        states = []
        for command in commands:
            state = self(state, command)
            states.append(state)
        return torch.stack(states)


__all__ = ["LearnedArm"]
