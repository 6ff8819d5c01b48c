"""The batched core: N arms and their trials stepped together, everything vectorised over envs.

``ArmTaskCore`` is the one implementation of a motorgym environment's step: action checks, motor
noise, physics, trial rules, reward, sensory delays and observation noise. The Gymnasium faces
(``single.ArmTaskEnv`` and, for ``gym.make_vec``, the vector env) only adapt its arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from motorgym.envs.arm import Arm, ArmKind
from motorgym.envs.config import EnvConfig
from motorgym.envs.sensors import DelayLine, NoiseSource, delay_in_steps
from motorgym.envs.task import ReachingTask, TrialMarkers

#: Visual observation entries, in order. The go cue is 1.0 once given (always, in Reach tasks).
#: The reward's terms, each in info as ``reward_<name>`` (ReachingTask.reward).
REWARD_TERMS = ("distance", "effort", "speed", "activation", "activation_change", "time", "false_start", "delay_speed")
VISION_NAMES = ["hand_x_m", "hand_y_m", "target_x_m", "target_y_m", "go_cue"]
_VISION_NOISY = np.array([True, True, True, True, False])
# The arm reaches 0.57 m from the shoulder: seen positions stay well inside 1 m.
_VISION_LOW = np.array([-1.0, -1.0, -1.0, -1.0, 0.0])
_VISION_HIGH = np.array([1.0, 1.0, 1.0, 1.0, 1.0])


def check_actions(actions: Any, shape: tuple[int, ...], low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Return ``actions`` as float64 clipped to [low, high]; reject a wrong shape or NaN/inf with a
    short message that names the envs at fault (for a batch of shape (num_envs, action_dim))."""
    try:
        array = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"action must be an array of numbers of shape {shape} (got a {type(actions).__name__})"
        ) from error
    if array.shape != shape:
        raise ValueError(
            f"action must have shape {shape}, between low={low.tolist()} and high={high.tolist()} "
            f"(got shape {array.shape})"
        )
    finite = np.isfinite(array)
    if not finite.all():
        if array.ndim == 1:
            raise ValueError(f"action must be finite: NaN and inf are not allowed (got {array.tolist()})")
        bad = np.flatnonzero(~finite.all(axis=1))
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(
            f"actions must be finite: NaN or inf in the actions of env(s) {shown} "
            f"(env {bad[0]}: {array[bad[0]].tolist()})"
        )
    return np.clip(array, low, high)


def env_info(info: dict[str, Any], env: int) -> dict[str, Any]:
    """One environment's entries of batched info arrays: Python scalars, or copies of arrays
    (the ``_key`` masks and the ``final_obs``/``final_info`` entries of vector envs left out)."""
    return {
        key: (value[env].item() if value.ndim == 1 else value[env].copy())
        for key, value in info.items()
        if not key.startswith("_") and key not in ("final_obs", "final_info")
    }


class ArmTaskCore:
    """``num_envs`` copies of one task on one arm.

    Args:
        task_cls: the task's trial logic (a :class:`~motorgym.envs.task.ReachingTask` subclass).
        config: the task's validated arguments.
        arm_kind: ``"torque"`` or ``"muscle"``.
        num_envs: number of environments.
        num_threads: physics threads when ``num_envs > 1`` (0: all cores).
    """

    def __init__(
        self,
        task_cls: type[ReachingTask[Any]],
        config: EnvConfig,
        arm_kind: ArmKind,
        num_envs: int = 1,
        num_threads: int = 1,
    ) -> None:
        self.config = config
        self.num_envs = num_envs
        self.arm = Arm(arm_kind, num_envs, config.control_step_ms, num_threads, config.torque_time_constant_ms)
        self.task = task_cls(config, self.arm, num_envs)
        step_ms = config.control_step_ms
        self.proprio_delay_steps = delay_in_steps(config.proprio_delay_ms, step_ms, "proprio_delay_ms")
        self.visual_delay_steps = delay_in_steps(config.visual_delay_ms, step_ms, "visual_delay_ms")
        proprio_names = self.arm.proprioception_names
        self.obs_names: list[str] = VISION_NAMES + proprio_names
        self.action_names: list[str] = list(self.arm.actuator_names)
        self.action_low, self.action_high = self.arm.ctrl_low, self.arm.ctrl_high
        self._vision = DelayLine(num_envs, len(VISION_NAMES), self.visual_delay_steps)
        self._proprio = DelayLine(num_envs, len(proprio_names), self.proprio_delay_steps)
        #: Standard deviation of the Gaussian noise on each observation entry.
        self.obs_noise_std = np.concatenate(
            [
                np.where(_VISION_NOISY, config.visual_noise_std_m, 0.0),
                np.full(len(proprio_names), config.proprio_noise_std),
            ]
        )
        proprio_low, proprio_high = self.arm.proprioception_bounds()
        self.obs_low = np.concatenate([_VISION_LOW, proprio_low]).astype(np.float32)
        self.obs_high = np.concatenate([_VISION_HIGH, proprio_high]).astype(np.float32)
        #: The spaces of one environment's observation and action.
        self.observation_space = spaces.Box(self.obs_low, self.obs_high, dtype=np.float32)
        self.action_space = spaces.Box(
            self.action_low.astype(np.float32), self.action_high.astype(np.float32), dtype=np.float32
        )
        self._noisy_obs = bool(self.obs_noise_std.any())
        self._noisy_motor = config.motor_noise_coef > 0
        # One noise row per env and step: motor noise for each actuator, then observation noise.
        self._noise = NoiseSource(num_envs, len(self.action_names) + len(self.obs_names))
        self.start_joint_angles = np.zeros((num_envs, 2))

    # ------------------------------------------------------------------------------ helpers
    def _vision_now(self, ids: np.ndarray | slice, cursor: np.ndarray) -> np.ndarray:
        """What the eyes send now: the seen hand (``cursor``, of envs ``ids``), the target and the go
        cue as it reaches the network (after the cue-processing latency; the visual delay follows in
        the delay line)."""
        task = self.task
        return np.concatenate(
            [cursor, task.target_pos[ids], task.cue_processed(ids)[:, None].astype(np.float64)], axis=1
        )

    def _observe(self, vision: np.ndarray, proprio: np.ndarray, eps: np.ndarray | None) -> np.ndarray:
        obs = np.concatenate([vision, proprio], axis=1)
        if eps is not None:
            obs += self.obs_noise_std * eps
        obs = obs.astype(np.float32)
        # Clipping only bites on noise at a bound; minimum/maximum in place cost less than np.clip.
        np.maximum(obs, self.obs_low, out=obs)
        return np.minimum(obs, self.obs_high, out=obs)

    def _info(
        self,
        ids: np.ndarray | slice,
        cursor: np.ndarray,
        reward_terms: dict[str, np.ndarray] | None,
        physics_error: np.ndarray | None,
    ) -> dict[str, np.ndarray]:
        task, hand = self.task, self.arm.hand_pos[ids]
        n = len(hand)
        forces = (
            task.perturbations.info()
            if reward_terms is not None
            else {"hand_force_n": np.zeros((n, 2)), "channel_force_n": np.zeros(n)}
        )
        return {
            "hand_pos": hand.copy(),
            "cursor_pos": cursor.copy(),
            "target_pos": task.target_pos[ids].copy(),
            "distance_m": task.distance_m[ids].copy(),
            "phase": task.phase[ids].copy(),
            "go_cue": task.go_cue[ids].copy(),
            "catch_trial": task.catch_trial[ids].copy(),
            "target_index": task.target_index[ids].copy(),
            "time_ms": task.steps[ids] * self.config.control_step_ms,
            "false_start": task.false_start[ids].copy(),
            "success": task.success[ids].copy(),
            **{f"reward_{name}": reward_terms[name] if reward_terms else np.zeros(n) for name in REWARD_TERMS},
            "physics_error": physics_error if physics_error is not None else np.zeros(n, dtype=bool),
            **forces,
            "arm_state": self.arm.sensed_state()[ids],
        }

    # ------------------------------------------------------------------------------ API
    def reset(
        self, ids: np.ndarray, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Start new trials in environments ``ids`` (one generator each); return their observations
        (len(ids), obs_dim) and info arrays."""
        ids = np.asarray(ids, dtype=np.int64)
        joint_angles = self.task.begin(ids, rngs, options)
        self.start_joint_angles[ids] = joint_angles
        self.arm.reset(ids, joint_angles)
        cursor = self.task.perturbations.cursor(self.arm.hand_pos)
        self.task.measure(cursor)
        self.task.previous_activation[ids] = self.arm.act[ids]
        vision = self._vision.reset(ids, self._vision_now(ids, cursor[ids]))
        proprio = self._proprio.reset(ids, self.arm.proprioception()[ids])
        eps = self._noise.draw(rngs, ids)[:, len(self.action_names) :] if self._noisy_obs else None
        return self._observe(vision, proprio, eps), self._info(ids, cursor[ids], None, None)

    def step(
        self, actions: np.ndarray, rngs: Sequence[np.random.Generator], active: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Advance every environment one control step with checked ``actions`` (num_envs, nu).

        ``active`` (bool, num_envs) marks the envs whose step counts; the others (about to be reset
        by a vector env's autoreset) are stepped too, for simplicity, but draw no random numbers,
        so that each env's random stream is the one it would have on its own.
        Returns observations, rewards, terminated flags and info arrays, each over all envs.
        """
        num_actions = len(self.action_names)
        eps = None
        if self._noisy_obs or self._noisy_motor:
            eps = self._noise.draw(rngs, active=active)
        command = actions
        if self._noisy_motor:
            assert eps is not None
            command = np.clip(
                actions * (1.0 + self.config.motor_noise_coef * eps[:, :num_actions]), self.action_low, self.action_high
            )
        perturbations = self.task.perturbations
        forced = perturbations.begin_step(self.task.steps)
        physics_error = self.arm.step(command, perturbations.hand_force if forced else None)
        if physics_error.any():
            # Keep the long run alive: put the failed arms back at their trial's start posture.
            failed = np.flatnonzero(physics_error)
            self.arm.reset(failed, self.start_joint_angles[failed])
        cursor = perturbations.cursor(self.arm.hand_pos)
        terminated = self.task.advance(cursor) | physics_error
        reward_terms = self.task.reward(actions, self.arm.hand_vel, self.arm.act)
        # Summed in a fixed order, the first two first: with the other weights 0, as in the v0 ids,
        # the reward is the same float as before the other terms existed.
        reward = reward_terms["distance"] + reward_terms["effort"]
        for name in REWARD_TERMS[2:]:
            reward = reward + reward_terms[name]
        vision = self._vision.push(self._vision_now(slice(None), cursor))
        proprio = self._proprio.push(self.arm.proprioception())
        obs_eps = eps[:, num_actions:] if (eps is not None and self._noisy_obs) else None
        obs = self._observe(vision, proprio, obs_eps)
        return obs, reward, terminated, self._info(slice(None), cursor, reward_terms, physics_error)

    def get_state(self) -> dict[str, Any]:
        """Everything a step depends on besides the generators: physics, trials, delays, noise blocks."""
        return {
            "arm": self.arm.get_state(),
            "task": self.task.get_state(),
            "vision": self._vision.get_state(),
            "proprio": self._proprio.get_state(),
            "noise": self._noise.get_state(),
            "start_joint_angles": self.start_joint_angles.copy(),
        }

    def set_state(self, state: dict[str, Any], rngs: Sequence[np.random.Generator]) -> None:
        """Restore :meth:`get_state`'s result; ``rngs`` are the envs' restored generators."""
        self.arm.set_state(state["arm"])
        self.task.set_state(state["task"])
        self._vision.set_state(state["vision"])
        self._proprio.set_state(state["proprio"])
        self._noise.set_state(state["noise"], rngs)
        self.start_joint_angles[...] = state["start_joint_angles"]

    def trial_markers(self, env: int) -> TrialMarkers:
        """What to draw over environment ``env``'s arm: start zone, target and trial state."""
        task = self.task
        return TrialMarkers(
            start_pos=task.start_pos[env].copy(),
            start_radius_m=float(task.start_radius_m[env]),
            target_pos=task.target_pos[env].copy(),
            target_radius_m=self.config.target_radius_m,
            phase=int(task.phase[env]),
            catch_trial=bool(task.catch_trial[env]),
        )

    def close(self) -> None:
        self.arm.close()
