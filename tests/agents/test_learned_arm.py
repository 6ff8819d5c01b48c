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


@pytest.mark.parametrize("structure", ["known-activation", "affine"])
def test_the_learned_arm_computes_its_activations_and_passes_their_gradient(structure: str) -> None:
    dynamics = Arm("muscle").actuator_dynamics()
    assert dynamics is not None
    state_dim, action_dim = 20, 6  # hand 2, proprioception 12, activations 6
    arm = LearnedArm(state_dim, action_dim, 16, dynamics, structure)  # type: ignore[arg-type]
    torch.nn.init.normal_(arm.net[-1].weight, std=3.0)
    state = torch.rand(5, state_dim)
    command = torch.rand(5, action_dim, requires_grad=True)
    following = arm(state, command)
    np.testing.assert_allclose(
        following[:, -action_dim:].detach(), next_activation(dynamics, state[:, -action_dim:], command).detach()
    )
    following[:, -action_dim:].sum().backward()
    assert command.grad is not None and (command.grad > 0).all()  # more command, more activation


def test_the_affine_arm_is_affine_in_the_activations() -> None:
    """f(x) + G(x) a: at one mechanical state, the change under two drives adds up as an affine map's."""
    dynamics = Arm("muscle").actuator_dynamics()
    assert dynamics is not None
    arm = LearnedArm(20, 6, 16, dynamics, "affine")
    assert arm.drive_dim == 6 * dynamics.substeps  # the activations of each physics substep
    torch.nn.init.normal_(arm.net[-1].weight, std=3.0)
    mechanics, first, second = torch.rand(4, 14), torch.rand(4, 12), torch.rand(4, 12)
    change = lambda drive: arm.mechanics_change(mechanics, drive)  # noqa: E731
    torch.testing.assert_close(change(first) + change(second), change(first + second) + change(0 * first))
    assert not torch.allclose(change(first), change(second))


def test_structure_errors() -> None:
    dynamics = Arm("muscle").actuator_dynamics()
    with pytest.raises(ValueError, match="structure must be one of"):
        LearnedArm(20, 6, 16, dynamics, "linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the arm's ActuatorDynamics"):
        LearnedArm(20, 6, 16, None, "affine")
    with pytest.raises(ValueError, match="dynamics must be None"):
        LearnedArm(20, 6, 16, dynamics, "mlp")
    assert LearnedArm(20, 6, 16).net[-1].out_features == 20  # the mlp learns every entry
