"""Scripted controllers: proof that each task is solvable with its actuators, and a demo policy.

They are *oracle* controllers: they read the true, undelayed arm and trial state from the env
(``env.unwrapped.arm`` and ``.task``) rather than the delayed, noisy observation a learning agent
gets. The hand follows a minimum-jerk path (Flash & Hogan 1985) from where it was at the go cue to
the target, tracked by Jacobian-transpose PD control in hand space: joint torques
tau = J(q)^T [K (x_ref - x) + B (v_ref - v)]. The torque arm applies tau directly; the muscle arm
splits each joint's torque onto its agonist muscles (with the biarticular pair sharing both joints)
over a small co-contraction, the simplest feedback controller over excitations.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from motorgym.envs.single import ArmTaskEnv


def minimum_jerk(fraction: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Position s and d s / d fraction of the minimum-jerk profile at fraction of the movement in [0, 1]."""
    f = np.clip(fraction, 0.0, 1.0)
    return 10 * f**3 - 15 * f**4 + 6 * f**5, 30 * f**2 - 60 * f**3 + 30 * f**4


class ScriptedReacher:
    """Minimum-jerk reference tracked by Jacobian-transpose PD, on the torque or the muscle arm.

    Args:
        env: a motorgym env (wrapped or not).
        movement_time_ms: duration of the reference movement after the go cue.
        stiffness_n_m: hand-space stiffness K, N/m (default: 300 torque arm, 1000 muscle arm, whose
            force-length-velocity and passive forces need a stiffer loop).
        damping_n_s_m: hand-space damping B, N s/m (default: 30 torque arm, 60 muscle arm).
        co_contraction: baseline excitation of every muscle (muscle arm), for joint stiffness.
        integral_gain_n_m_s: hand-space integral gain, N/(m s): removes the steady-state error that
            the muscles' passive forces would leave (default: 0 torque arm, 3000 muscle arm).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        movement_time_ms: float = 400.0,
        stiffness_n_m: float | None = None,
        damping_n_s_m: float | None = None,
        co_contraction: float = 0.02,
        integral_gain_n_m_s: float | None = None,
    ) -> None:
        unwrapped = env.unwrapped
        if not isinstance(unwrapped, ArmTaskEnv):
            raise TypeError(f"env must be a motorgym env (got {type(unwrapped).__name__})")
        self.env = unwrapped
        self.movement_time_s = movement_time_ms / 1000.0
        muscle = unwrapped.arm.kind == "muscle"
        self.stiffness = stiffness_n_m if stiffness_n_m is not None else (1000.0 if muscle else 300.0)
        self.damping = damping_n_s_m if damping_n_s_m is not None else (60.0 if muscle else 30.0)
        self.co_contraction = co_contraction
        self.integral_gain = integral_gain_n_m_s if integral_gain_n_m_s is not None else (3000.0 if muscle else 0.0)
        self._error_integral = np.zeros(2)
        self._max_integral_force_n = 50.0  # anti-windup
        model = unwrapped.arm.model
        self._motor_gear_n_m = model.actuator_gear[:, 0].copy()
        if muscle:
            # Torque per unit excitation at optimal length and zero velocity: -moment_arm * F_max.
            self._torque_per_excitation = -unwrapped.arm.muscle_moment_arms_m * model.actuator_gainprm[:, 2]
        self._movement_start: np.ndarray | None = None

    def _hand_reference(self) -> tuple[np.ndarray, np.ndarray]:
        task, arm = self.env.task, self.env.arm
        if task.steps[0] == 0:
            self._error_integral[:] = 0.0
        if not task.go_cue[0] or task.catch_trial[0]:
            self._movement_start = None
            return task.start_pos[0], np.zeros(2)
        if self._movement_start is None:
            self._movement_start = arm.hand_pos[0].copy()
        elapsed_s = (task.steps[0] - task.go_step[0]) * task.step_ms / 1000.0
        s, ds = minimum_jerk(elapsed_s / self.movement_time_s)
        delta = task.target_pos[0] - self._movement_start
        return self._movement_start + s * delta, ds / self.movement_time_s * delta

    def joint_torques(self) -> np.ndarray:
        """The PD law's joint torques (N m) for the env's current state."""
        arm = self.env.arm
        x_ref, v_ref = self._hand_reference()
        error = x_ref - arm.hand_pos[0]
        if self.integral_gain:
            limit = self._max_integral_force_n / self.integral_gain
            self._error_integral = np.clip(self._error_integral + error * self.env.task.step_ms / 1000.0, -limit, limit)
        force = (
            self.stiffness * error
            + self.damping * (v_ref - arm.hand_vel[0])
            + self.integral_gain * self._error_integral
        )
        return arm.jacobian(arm.joint_angles[0]).T @ force

    def __call__(self, observation: np.ndarray | None = None) -> np.ndarray:
        """The action for the env's current state (the observation is not used: an oracle)."""
        torque = self.joint_torques()
        if self.env.arm.kind == "torque":
            return np.clip(torque / self._motor_gear_n_m, -1.0, 1.0).astype(np.float32)
        excitation = np.full(self._torque_per_excitation.shape[1], self.co_contraction)
        for joint in range(2):
            gains = self._torque_per_excitation[joint]
            # Muscles that turn this joint the wanted way, weighted by their strength on it.
            agonists = gains * torque[joint] > 0
            if not agonists.any():
                continue
            excitation[agonists] += abs(torque[joint]) * np.abs(gains[agonists]) / np.sum(gains[agonists] ** 2)
        return np.clip(excitation, 0.0, 1.0).astype(np.float32)
