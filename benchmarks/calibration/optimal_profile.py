"""The speed profile that a cost asks for: noise-free optimal control of a point mass.

Before a cost is calibrated by training networks on it, it is worth knowing what its optimum looks
like: whether the per-step cost of the env (``ReachingTask.reward``) asks for a human speed profile
at all, or whether a trained network's profile differs from it because of learning. This script
solves the open-loop, noise-free problem for a 10 cm reach along one line:

    minimise  sum_k gamma^k [ (distance_weight |D - x_k| + speed_weight v_k^2) [t_k >= state_cost_onset_ms]
                              + effort_weight u_k^2
                              + activation_weight a_k^2 ] + jerk_weight sum_k (u_k - u_{k-1})^2

over the commands u_k of 10 ms steps from the processed go cue, for a point mass whose
acceleration is ``accel_per_command`` x a_k (m/s^2), where a_k is the command itself or, with
``tau_ms``, the command through the first-order filter of ``torque_time_constant_ms``. The torque
arm's hand accelerates by 13-32 m/s^2 per unit command at the start posture, depending on the
direction (the singular values of J M^-1 G there). The problem is convex, so L-BFGS finds its
optimum. It ignores the arm's geometry, the delays, the noise and the end of the trial at success;
it answers one question: which speed-profile shape does the cost itself favour?
``--arm-gains ENV_ID`` prints the hand acceleration per unit command of an env's arm instead (the
muscle arm's is 62-177 m/s^2 per unit excitation, about five times the torque arm's).

    python benchmarks/calibration/optimal_profile.py                       # the v1 weights
    python benchmarks/calibration/optimal_profile.py --effort-weight 0.3 --speed-weight 0.25

It prints the peak speed, the peak/mean speed between the 10% crossings (people: 1.565 +- 10%),
the time from onset to entering the 1.5 cm target and the duration between the crossings.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from motorgym.envs.config import HumanLikeConfig

CONTROL_STEP_S = 0.01
V1 = HumanLikeConfig()  # the v1 ids' cost weights, the defaults here


@dataclass(frozen=True)
class Costs:
    """Per-step cost weights, as the env's arguments of the same names (defaults: the v1 ids')."""

    distance_weight: float = V1.distance_weight
    effort_weight: float = V1.effort_weight
    speed_weight: float = V1.speed_weight
    activation_weight: float = V1.activation_weight
    state_cost_onset_ms: float = V1.state_cost_onset_ms
    """The distance and speed are charged from this long after the processed go cue (the env's argument)."""
    jerk_weight: float = 0.0
    """Weight of the squared change of the command from step to step (no env argument: the
    learner's ``command_change_l2`` is the nearest)."""


def optimal_speed(
    costs: Costs,
    accel_per_command: float = 25.0,
    tau_ms: float = 0.0,
    gamma: float = 1.0,
    distance_m: float = 0.1,
    steps: int = 120,
    sensing_delay_ms: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The optimal hand position (m) and speed (m/s) at the end of each step; the commands of the
    first ``sensing_delay_ms`` are 0 (a network sees the processed cue a visual delay later)."""
    command = torch.zeros(steps, dtype=torch.float64, requires_grad=True)
    step_ms = CONTROL_STEP_S * 1000
    elapsed_ms = torch.arange(steps, dtype=torch.float64) * step_ms
    free = (elapsed_ms >= sensing_delay_ms).double()  # the steps whose command may be nonzero
    state_on = (elapsed_ms >= costs.state_cost_onset_ms).double()
    alpha = 1.0 - np.exp(-CONTROL_STEP_S / (tau_ms / 1000.0)) if tau_ms > 0 else 1.0
    discount = gamma ** torch.arange(steps, dtype=torch.float64)

    def trajectory() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        filtered, outputs = torch.zeros((), dtype=torch.float64), []
        for k in range(steps):
            filtered = filtered + alpha * (free[k] * command[k] - filtered)
            outputs.append(filtered)
        activation = torch.stack(outputs)
        speed = torch.cumsum(activation * accel_per_command * CONTROL_STEP_S, 0)
        return activation, speed, torch.cumsum(speed * CONTROL_STEP_S, 0)

    optimizer = torch.optim.LBFGS(
        [command], lr=1, max_iter=5000, tolerance_grad=1e-12, tolerance_change=1e-14, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        activation, speed, position = trajectory()
        distance = torch.sqrt((distance_m - position) ** 2 + 1e-8)  # |.|, smoothed at 0.1 mm
        per_step = (
            costs.distance_weight * distance * state_on
            + costs.effort_weight * (free * command) ** 2
            + costs.speed_weight * speed**2 * state_on
            + costs.activation_weight * activation**2
        )
        cost = (discount * per_step).sum() + costs.jerk_weight * ((command[1:] - command[:-1]) ** 2).sum()
        cost.backward()
        return cost

    for _ in range(3):
        optimizer.step(closure)
    with torch.no_grad():
        _, speed, position = trajectory()
    return position.numpy(), np.abs(speed.numpy())


def profile_measures(position: np.ndarray, speed: np.ndarray, distance_m: float = 0.1, radius_m: float = 0.015) -> dict:
    """Peak speed, peak/mean speed between the 10% crossings, onset to entering the target, duration."""
    peak_index = int(speed.argmax())
    peak = float(speed[peak_index])
    below = np.flatnonzero(speed[:peak_index] < 0.1 * peak)
    onset = int(below[-1]) + 1 if below.size else 0
    after = np.flatnonzero(speed[peak_index:] < 0.1 * peak)
    offset = peak_index + int(after[0]) if after.size else speed.size
    entered = np.flatnonzero(np.abs(distance_m - position) < radius_m)
    ms = CONTROL_STEP_S * 1000
    return {
        "peak_m_s": peak,
        "peak_over_mean": peak / float(speed[onset:offset].mean()),
        "movement_time_ms": (int(entered[0]) - onset) * ms if entered.size else float("inf"),
        "duration_ms": (offset - onset) * ms,
    }


def hand_acceleration_gains(env_id: str) -> tuple[np.ndarray, np.ndarray]:
    """How hard each actuator of ``env_id``'s arm accelerates the hand at the start posture, at rest:
    the hand acceleration (m/s^2) per unit command of each actuator (a muscle's at full activation:
    its excitation's steady state), and the singular values of that 2 x n matrix (the range of
    ``--accel-per-command`` over reach directions when the commands may take either sign)."""
    import gymnasium as gym
    import mujoco

    import motorgym  # noqa: F401  (registers the ids)

    env = gym.make(env_id)
    env.reset(seed=0)
    arm = env.unwrapped.arm
    model, data = arm.model, mujoco.MjData(arm.model)
    data.qpos[:], data.qvel[:] = arm.qpos[0], 0.0
    hand_jacobian = arm.jacobian(data.qpos)  # at rest, the hand's acceleration is J times the joints'

    def acceleration(command: np.ndarray) -> np.ndarray:
        data.ctrl[:] = command
        for i in range(model.nu):
            if model.actuator_actadr[i] >= 0:
                data.act[model.actuator_actadr[i]] = command[i]
        mujoco.mj_forward(model, data)
        return hand_jacobian @ data.qacc

    at_rest = acceleration(np.zeros(model.nu))
    gains = np.stack([acceleration(np.eye(model.nu)[i]) - at_rest for i in range(model.nu)], axis=1)
    env.close()
    return np.linalg.norm(gains, axis=0), np.linalg.svd(gains, compute_uv=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(Costs()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=default)
    parser.add_argument("--accel-per-command", type=float, default=25.0, help="m/s^2 per unit command")
    parser.add_argument("--tau-ms", type=float, default=0.0, help="the torque filter's time constant, ms")
    parser.add_argument("--gamma", type=float, default=1.0, help="discount per step")
    parser.add_argument(
        "--sensing-delay-ms", type=float, default=0.0, help="commands are 0 for this long after the processed cue"
    )
    parser.add_argument(
        "--arm-gains", metavar="ENV_ID", help="print the hand acceleration per unit command of ENV_ID's arm and stop"
    )
    args = parser.parse_args()
    if args.arm_gains:
        per_actuator, singular = hand_acceleration_gains(args.arm_gains)
        print(f"per actuator (m/s^2): {np.round(per_actuator, 1).tolist()}")
        print(f"singular values (m/s^2): {np.round(singular, 1).tolist()}")
        return
    costs = Costs(**{name: getattr(args, name) for name in vars(Costs())})
    trajectory = optimal_speed(
        costs, args.accel_per_command, args.tau_ms, args.gamma, sensing_delay_ms=args.sensing_delay_ms
    )
    measures = profile_measures(*trajectory)
    print(
        ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) and k.startswith("peak") else f"{k} {v:.0f}"
            for k, v in measures.items()
        )
    )


if __name__ == "__main__":
    main()
