"""The learned arm: a differentiable stand-in for MuJoCo, fitted on rollouts.

An MLP from the arm's sensed state (hand position, undelayed proprioception and muscle
activations: :meth:`motorgym.envs.arm.Arm.sensed_state`) and the command to the change of that
state over one control step, in standardised units (the statistics are buffers of the model). Its
output is clamped to the states the data visited, widened by 10% of their range: the model is not
trusted far outside them, and clamping keeps a closed-loop rollout from running away. It is fitted,
and a policy trained through it, by :mod:`motorgym.train.model_based`.

Given the arm's :class:`~motorgym.envs.arm.ActuatorDynamics`, the activations are not learned: they
follow MuJoCo's own law (:func:`next_activation`), and the MLP learns the rest of the state (the
mechanics). Learned, the activations were the largest error where policies act: with commands of
0.01-0.03 (a policy's, against the 0.5 of the random data that sets the standardisation) their
10-step error was 40% of their spread, and the open-loop hand too slow by a third over a reach.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from motorgym.envs.arm import ActuatorDynamics


def next_activation(dynamics: ActuatorDynamics, act: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
    """The activations one control step after ``act`` (B, A) under ``command`` (B, A), by MuJoCo's
    law (see :class:`ActuatorDynamics`); differentiable in both."""
    low = torch.as_tensor(dynamics.ctrl_low, dtype=command.dtype, device=command.device)
    high = torch.as_tensor(dynamics.ctrl_high, dtype=command.dtype, device=command.device)
    ctrl = torch.maximum(torch.minimum(command, high), low)
    step_s = dynamics.physics_timestep_s
    if dynamics.law == "filter":  # exact over the whole control step, as ctrl is held
        kept = math.exp(-step_s * dynamics.substeps / dynamics.activation_time_constant_s)
        return ctrl + (act - ctrl) * kept
    for _ in range(dynamics.substeps):
        scale = 0.5 + 1.5 * act.clamp(0.0, 1.0)
        tau_s = torch.where(
            ctrl > act, dynamics.activation_time_constant_s * scale, dynamics.deactivation_time_constant_s / scale
        )
        act = act + step_s * (ctrl - act) / tau_s
    return act


class LearnedArm(nn.Module):
    """Sensed state and command now -> sensed state one control step later.

    With ``dynamics`` the last ``action_dim`` state entries are the actuators' activations, computed
    by :func:`next_activation`; the MLP predicts the others."""

    def __init__(
        self, state_dim: int, action_dim: int, hidden_size: int, dynamics: ActuatorDynamics | None = None
    ) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.learned_dim = state_dim - action_dim if dynamics is not None else state_dim
        self.net = nn.Sequential(
            nn.Linear(state_dim + action_dim, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, self.learned_dim),
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
        learned = slice(0, self.learned_dim)
        next_state = state[..., learned] + self.delta_mean[learned] + self.net(inputs) * self.delta_std[learned]
        if self.dynamics is not None:
            activation = next_activation(self.dynamics, state[..., self.learned_dim :], command)
            next_state = torch.cat([next_state, activation], dim=-1)
        return torch.maximum(torch.minimum(next_state, self.state_high), self.state_low)

    def unroll(self, state: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
        """Run open-loop from ``state`` (B, S) under ``commands`` (K, B, A); return the (K, B, S) states."""
        states = []
        for command in commands:
            state = self(state, command)
            states.append(state)
        return torch.stack(states)


__all__ = ["LearnedArm", "next_activation"]
