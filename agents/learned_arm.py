"""The learned arm: a differentiable stand-in for MuJoCo, fitted on rollouts.

It maps the arm's sensed state (hand position, undelayed proprioception and actuator activations:
:meth:`motorgym.envs.arm.Arm.sensed_state`) and the command to that state one control step later,
in standardised units (the statistics are buffers of the model). Its output is clamped to the
states the data visited, widened by 10% of their range: the model is not trusted far outside them,
and clamping keeps a closed-loop rollout from running away. It is fitted, and a policy trained
through it, by :mod:`motorgym.train.model_based`. Three structures (``ArmModel``):

- ``"mlp"``: one MLP from state and command to the change of the whole state.
- ``"known-activation"``: the activations follow MuJoCo's own law (:func:`next_activation`, from the
  arm's :class:`~motorgym.envs.arm.ActuatorDynamics`); the MLP learns the rest (the mechanics).
- ``"affine"``: as ``"known-activation"``, and the change of the mechanics is affine in the
  activations the physics integrates over the step (one per physics substep): f(x) + G(x) a, with f
  and G from an MLP of the mechanical state x alone. Muscle force is proportional to activation (at
  a given fibre length and speed) and joint acceleration to force, so this is the physics' own form
  over one step; the gain G(x) learnt from the data's large commands then holds for the small ones a
  policy holds the arm with.

Learned, the muscle arm's activations were its largest error where policies act: with commands of
0.01-0.03 (a policy's, against the 0.5 of the random data that sets the standardisation) their
10-step error was 40% of their spread, and the open-loop hand too slow by a third over a reach
(calibration record, ``muscle6``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from motorgym.envs.arm import ActuatorDynamics

ArmModel = Literal["mlp", "known-activation", "affine"]
ARM_MODELS: tuple[str, ...] = ("mlp", "known-activation", "affine")


def substep_activations(dynamics: ActuatorDynamics, act: torch.Tensor, command: torch.Tensor) -> list[torch.Tensor]:
    """The activations at the start of each physics substep of one control step from ``act`` (B, A)
    under ``command`` (B, A), then at its end (``substeps + 1`` tensors), by MuJoCo's law (see
    :class:`ActuatorDynamics`); differentiable in both."""
    low = torch.as_tensor(dynamics.ctrl_low, dtype=command.dtype, device=command.device)
    high = torch.as_tensor(dynamics.ctrl_high, dtype=command.dtype, device=command.device)
    ctrl = torch.maximum(torch.minimum(command, high), low)
    step_s = dynamics.physics_timestep_s
    activations = [act]
    for _ in range(dynamics.substeps):
        if dynamics.law == "filter":  # filterexact: exact over the substep, as ctrl is held
            act = ctrl + (act - ctrl) * math.exp(-step_s / dynamics.activation_time_constant_s)
        else:
            scale = 0.5 + 1.5 * act.clamp(0.0, 1.0)
            tau_s = torch.where(
                ctrl > act, dynamics.activation_time_constant_s * scale, dynamics.deactivation_time_constant_s / scale
            )
            act = act + step_s * (ctrl - act) / tau_s
        activations.append(act)
    return activations


def next_activation(dynamics: ActuatorDynamics, act: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
    """The activations one control step after ``act`` under ``command`` (:func:`substep_activations`)."""
    return substep_activations(dynamics, act, command)[-1]


def _mlp(inputs: int, hidden_size: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden_size),
        nn.SiLU(),
        nn.Linear(hidden_size, hidden_size),
        nn.SiLU(),
        nn.Linear(hidden_size, outputs),
    )


class LearnedArm(nn.Module):
    """Sensed state and command now -> sensed state one control step later.

    ``structure`` is one of ``ARM_MODELS`` (see the module docstring); the two with known
    activations need ``dynamics`` and take the last ``action_dim`` state entries as the activations.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_size: int,
        dynamics: ActuatorDynamics | None = None,
        structure: ArmModel = "mlp",
    ) -> None:
        super().__init__()
        if structure not in ARM_MODELS:
            raise ValueError(f"structure must be one of {ARM_MODELS} (got {structure!r})")
        if structure == "mlp" and dynamics is not None:
            raise ValueError("the 'mlp' learned arm learns the activations: dynamics must be None")
        if structure != "mlp" and dynamics is None:
            raise ValueError(f"the {structure!r} learned arm needs the arm's ActuatorDynamics (dynamics)")
        self.dynamics, self.structure = dynamics, structure
        self.learned_dim = state_dim if dynamics is None else state_dim - action_dim
        if structure == "affine":
            assert dynamics is not None
            self.drive_dim = action_dim * dynamics.substeps
            self.net = _mlp(self.learned_dim, hidden_size, self.learned_dim * (1 + self.drive_dim))
        else:
            self.net = _mlp(state_dim + action_dim, hidden_size, self.learned_dim)
        for name, size in (("state", state_dim), ("delta", state_dim), ("action", action_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        self.register_buffer("state_low", torch.full((state_dim,), -math.inf))
        self.register_buffer("state_high", torch.full((state_dim,), math.inf))

    def mechanics_change(self, mechanics: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """Of the affine arm: the standardised change f(x) + G(x) a of the mechanical state ``mechanics``
        (B, learned_dim) under the substep activations ``drive`` (B, drive_dim), each scaled by its
        activation's spread in the data (not shifted: no activation, no drive)."""
        learned = slice(0, self.learned_dim)
        out = self.net((mechanics - self.state_mean[learned]) / self.state_std[learned])
        assert self.dynamics is not None
        scale = self.state_std[self.learned_dim :].repeat(self.dynamics.substeps)
        gain = out[..., self.learned_dim :].unflatten(-1, (self.learned_dim, self.drive_dim))
        return out[..., : self.learned_dim] + (gain @ (drive / scale).unsqueeze(-1)).squeeze(-1)

    def forward(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        learned = slice(0, self.learned_dim)
        if self.dynamics is None:
            change = self.net(self._inputs(state, command))
            next_state = state + self.delta_mean + change * self.delta_std
        else:
            activations = substep_activations(self.dynamics, state[..., self.learned_dim :], command)
            if self.structure == "affine":
                change = self.mechanics_change(state[..., learned], torch.cat(activations[:-1], dim=-1))
            else:
                change = self.net(self._inputs(state, command))
            mechanics = state[..., learned] + self.delta_mean[learned] + change * self.delta_std[learned]
            next_state = torch.cat([mechanics, activations[-1]], dim=-1)
        return torch.maximum(torch.minimum(next_state, self.state_high), self.state_low)

    def _inputs(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [(state - self.state_mean) / self.state_std, (command - self.action_mean) / self.action_std], dim=-1
        )

    def unroll(self, state: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
        """Run open-loop from ``state`` (B, S) under ``commands`` (K, B, A); return the (K, B, S) states."""
        states = []
        for command in commands:
            state = self(state, command)
            states.append(state)
        return torch.stack(states)


__all__ = ["ARM_MODELS", "ArmModel", "LearnedArm", "next_activation", "substep_activations"]
