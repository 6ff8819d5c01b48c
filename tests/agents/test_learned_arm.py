"""The learned arm's known part: the activations follow MuJoCo's own law, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motorgym.agents.learned_arm import LearnedArm, next_activation
from motorgym.envs.arm import Arm


@pytest.mark.parametrize("kind, kwargs", [("muscle", {}), ("torque", {"torque_time_constant_ms": 30.0})])
def test_next_activation_is_mujocos(kind: str, kwargs: dict) -> None:
    """Step by step under commands that rise, fall, hold and leave the control range, the law gives
    the activations MuJoCo integrates (muscle: Euler over the substeps with the activation-dependent
    time constants; filter: exact)."""
    arm = Arm(kind, **kwargs)
    dynamics = arm.actuator_dynamics()
    assert dynamics is not None and dynamics.law == ("muscle" if kind == "muscle" else "filter")
    low, high = np.array(dynamics.ctrl_low), np.array(dynamics.ctrl_high)
    arm.reset(np.array([0]), np.array([[0.8, 1.5]]))
    rng = np.random.default_rng(0)
    moved = 0.0
    for step in range(60):
        command = (
            rng.uniform(low - 0.2, high + 0.2, size=(1, arm.model.nu)) if step % 4 else np.zeros((1, arm.model.nu))
        )
        before = arm.act.copy()
        arm.step(np.clip(command, low, high))
        predicted = next_activation(dynamics, torch.as_tensor(before), torch.as_tensor(command)).numpy()
        np.testing.assert_allclose(predicted, arm.act, atol=1e-12)
        moved = max(moved, float(np.abs(arm.act - before).max()))
    assert moved > 0.1  # the activations did change a lot


def test_an_unfiltered_torque_arm_has_no_activations() -> None:
    assert Arm("torque").actuator_dynamics() is None


def test_the_learned_arm_computes_its_activations_and_passes_their_gradient() -> None:
    dynamics = Arm("muscle").actuator_dynamics()
    assert dynamics is not None
    state_dim, action_dim = 20, 6  # hand 2, proprioception 12, activations 6
    arm = LearnedArm(state_dim, action_dim, 16, dynamics)
    assert arm.net[-1].out_features == state_dim - action_dim  # the MLP learns only the mechanics
    torch.nn.init.normal_(arm.net[-1].weight, std=3.0)
    state = torch.rand(5, state_dim)
    command = torch.rand(5, action_dim, requires_grad=True)
    following = arm(state, command)
    np.testing.assert_allclose(
        following[:, -action_dim:].detach(), next_activation(dynamics, state[:, -action_dim:], command).detach()
    )
    following[:, -action_dim:].sum().backward()
    assert command.grad is not None and (command.grad > 0).all()  # more command, more activation
    assert LearnedArm(state_dim, action_dim, 16).net[-1].out_features == state_dim  # without: all learned
