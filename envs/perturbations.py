"""Perturbations of the reaching hand, per trial and vectorised over environments.

The experiments of motor learning and feedback control (``../docs/environments.md`` lists them):

- a **force field**: a velocity-dependent force F = B v at the hand (B a 2x2 matrix, N s/m), e.g. a
  curl field that pushes the moving hand sideways (Shadmehr & Mussa-Ivaldi 1994);
- a **force channel** (error clamp): a stiff spring and damper perpendicular to the straight line
  from the start to the target, so that the hand moves along it and the force it exerts against
  the channel can be measured (Scheidt et al. 2000; Smith, Ghazizadeh & Shadmehr 2006). A channel
  trial replaces the force field: the field is off while the channel is on;
- a **load pulse**: a constant force at the hand over a set window, timed from the go cue or from
  the trial start (Pruszynski & Scott; Kalidindi et al. 2021);
- a **visuomotor rotation**: the seen hand (the cursor) is rotated about the start position by a
  set angle (Krakauer et al. 2000). Vision shows the cursor and the task's goals, distances and
  success are the cursor's; proprioception is the arm's own.

Forces act on the arm as the joint torques J(q)^T F of a force F at the hand (``Arm.step``),
recomputed from the hand's position and velocity at every physics step (5 ms), so the field and the
channel follow the movement within the control step. Each one is an argument of every task (a field
of :class:`~motorgym.envs.config.EnvConfig`) and a ``reset`` option of the same name, which sets it
for that trial only (the next reset without it returns to the env's argument).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from motorgym.envs.sensors import delay_in_steps

if TYPE_CHECKING:
    from motorgym.envs.config import EnvConfig

#: Force fields by name, per N s/m of ``force_field_gain_n_s_m``. ``curl_cw`` turns the hand's
#: velocity 90 degrees clockwise: F = b (v_y, -v_x) (Shadmehr & Mussa-Ivaldi 1994's B = [[0, b], [-b, 0]]).
FORCE_FIELD_PRESETS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "null": ((0.0, 0.0), (0.0, 0.0)),
    "curl_cw": ((0.0, 1.0), (-1.0, 0.0)),
    "curl_ccw": ((0.0, -1.0), (1.0, 0.0)),
}
LOAD_PULSE_REFERENCES = ("go_cue", "trial_start")

#: The arguments that perturb a trial; each is also a reset option of the same name.
PERTURBATION_ARGUMENTS = (
    "force_field",
    "force_field_gain_n_s_m",
    "channel",
    "channel_stiffness_n_m",
    "channel_damping_n_s_m",
    "load_pulse_force_n",
    "load_pulse_onset_ms",
    "load_pulse_duration_ms",
    "load_pulse_reference",
    "visual_rotation_deg",
)


def rotation_matrix(degrees: float) -> np.ndarray:
    """The 2x2 matrix of an anticlockwise rotation by ``degrees`` (a visuomotor rotation's)."""
    angle = math.radians(degrees)
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def force_field_matrix(force_field: Any, gain_n_s_m: float) -> np.ndarray:
    """The field's B (2x2, N s/m): a preset's unit matrix times ``gain_n_s_m``, or a given matrix.
    A ValueError names ``force_field`` and what it accepts for anything else."""
    if isinstance(force_field, str):
        if force_field not in FORCE_FIELD_PRESETS:
            raise ValueError(
                f"force_field must be one of {list(FORCE_FIELD_PRESETS)} or a 2x2 matrix in N s/m (got {force_field!r})"
            )
        return gain_n_s_m * np.array(FORCE_FIELD_PRESETS[force_field])
    try:
        matrix = np.array(force_field, dtype=np.float64)
    except (TypeError, ValueError):
        matrix = np.full(0, np.nan)
    if matrix.shape != (2, 2) or not np.isfinite(matrix).all():
        raise ValueError(
            f"force_field must be one of {list(FORCE_FIELD_PRESETS)} or a 2x2 matrix of finite numbers "
            f"in N s/m (got {force_field!r})"
        )
    return matrix


class Perturbations:
    """The perturbations of ``num_envs`` trials: set per trial by :meth:`begin`, applied at every
    physics step by :meth:`hand_force`, and what they did reported by :meth:`info`."""

    def __init__(self, num_envs: int, control_step_ms: float) -> None:
        self.step_ms = control_step_ms
        self.field_n_s_m = np.zeros((num_envs, 2, 2))
        self.channel = np.zeros(num_envs, dtype=bool)
        self.channel_stiffness_n_m = np.zeros(num_envs)
        self.channel_damping_n_s_m = np.zeros(num_envs)
        #: Unit normal of the channel (the start-to-target direction turned 90 degrees anticlockwise).
        self.channel_normal = np.zeros((num_envs, 2))
        self.channel_origin_m = np.zeros((num_envs, 2))
        self.pulse_force_n = np.zeros((num_envs, 2))
        #: The pulse acts on the control steps k (counted from 0 at the trial start) with start <= k < end.
        self.pulse_start_step = np.zeros(num_envs, dtype=np.int64)
        self.pulse_end_step = np.zeros(num_envs, dtype=np.int64)
        self.rotation = np.tile(np.eye(2), (num_envs, 1, 1))
        self.rotated = np.zeros(num_envs, dtype=bool)
        self.rotation_origin_m = np.zeros((num_envs, 2))
        # Whether any trial has a field or a channel, a pulse, a rotation (0-d arrays, kept in the state).
        self.any_steady_force = np.array(False)
        self.any_pulse = np.array(False)
        self.any_rotated = np.array(False)
        # Per control step: whether the pulse acts, and the sums over its physics steps for info.
        self.pulse_now = np.zeros(num_envs, dtype=bool)
        self.force_sum_n = np.zeros((num_envs, 2))
        self.channel_force_sum_n = np.zeros(num_envs)
        self.physics_steps = 0

    def begin(
        self,
        ids: np.ndarray,
        config: EnvConfig,
        start_pos: np.ndarray,
        target_pos: np.ndarray,
        go_step: np.ndarray,
        end_step: np.ndarray,
    ) -> None:
        """Set the perturbations of new trials ``ids`` from ``config`` (the env's arguments with this
        trial's reset options): the field, the channel along start -> target, the pulse's steps
        (a ValueError names ``load_pulse_duration_ms`` if the pulse would outlast the trial) and the
        rotation about the start."""
        self.field_n_s_m[ids] = force_field_matrix(config.force_field, config.force_field_gain_n_s_m)
        self.channel[ids] = config.channel
        self.channel_stiffness_n_m[ids] = config.channel_stiffness_n_m
        self.channel_damping_n_s_m[ids] = config.channel_damping_n_s_m
        path = target_pos - start_pos
        length = np.hypot(path[:, 0], path[:, 1])[:, None]
        self.channel_normal[ids] = np.stack([-path[:, 1], path[:, 0]], axis=1) / np.maximum(length, 1e-12)
        self.channel_origin_m[ids] = start_pos
        self.pulse_force_n[ids] = config.load_pulse_force_n
        onset = delay_in_steps(config.load_pulse_onset_ms, self.step_ms, "load_pulse_onset_ms")
        duration = delay_in_steps(config.load_pulse_duration_ms, self.step_ms, "load_pulse_duration_ms")
        never = np.iinfo(np.int64).max  # the task's NEVER: a catch trial's go step, an endless trial's end
        reference = go_step if config.load_pulse_reference == "go_cue" else np.zeros_like(go_step)
        # A catch trial's go step is never reached, so a pulse timed from the go cue never comes.
        start = np.where(reference == never, reference, reference + onset)
        end = np.where(start == never, start, start + duration)
        too_long = (duration > 0) & (end < never) & (end > end_step)
        if too_long.any():
            k = int(np.flatnonzero(too_long)[0])
            reference_name = config.load_pulse_reference.replace("_", " ")
            raise ValueError(
                f"load_pulse_duration_ms must end within the trial: a pulse {config.load_pulse_onset_ms:g} ms "
                f"after the {reference_name} lasting {config.load_pulse_duration_ms:g} ms ends "
                f"{(end[k] - end_step[k]) * self.step_ms:g} ms after this trial does"
            )
        self.pulse_start_step[ids] = start
        self.pulse_end_step[ids] = end
        self.rotation[ids] = rotation_matrix(config.visual_rotation_deg)
        self.rotated[ids] = config.visual_rotation_deg != 0.0
        self.rotation_origin_m[ids] = start_pos
        self.any_steady_force[()] = self.channel.any() or self.field_n_s_m.any()
        self.any_pulse[()] = (self.pulse_end_step > self.pulse_start_step).any()
        self.any_rotated[()] = self.rotated.any()

    def get_state(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in vars(self).items() if isinstance(value, np.ndarray)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        for name, value in state.items():
            setattr(self, name, np.array(value, dtype=getattr(self, name).dtype))

    # ------------------------------------------------------------------------------ forces
    def begin_step(self, trial_steps: np.ndarray) -> bool:
        """Start a control step (``trial_steps``: each trial's steps so far); return whether any
        force acts on any arm in it (else the arm steps without calling :meth:`hand_force`)."""
        if self.physics_steps:
            self.force_sum_n[...] = 0.0
            self.channel_force_sum_n[...] = 0.0
            self.physics_steps = 0
        if not self.any_pulse[()]:  # the common case costs no array work
            self.pulse_now[...] = False
            return bool(self.any_steady_force[()])
        self.pulse_now = (trial_steps >= self.pulse_start_step) & (trial_steps < self.pulse_end_step)
        return bool(self.any_steady_force[()] or self.pulse_now.any())

    def hand_force(self, hand_pos: np.ndarray, hand_vel: np.ndarray) -> np.ndarray:
        """The external force (num_envs, 2), N, on each hand at position ``hand_pos`` (m) moving at
        ``hand_vel`` (m/s): the field (off in a channel), the channel's spring and damper across the
        start-target line, and the pulse if it is on. Called once per physics step."""
        field = np.where(self.channel[:, None, None], 0.0, self.field_n_s_m)
        force = np.einsum("nij,nj->ni", field, hand_vel)
        force += self.pulse_force_n * self.pulse_now[:, None]
        if self.channel.any():
            normal = self.channel_normal
            across_m = np.einsum("ni,ni->n", hand_pos - self.channel_origin_m, normal)
            across_m_s = np.einsum("ni,ni->n", hand_vel, normal)
            channel_n = np.where(
                self.channel, -(self.channel_stiffness_n_m * across_m + self.channel_damping_n_s_m * across_m_s), 0.0
            )
            force += channel_n[:, None] * normal
            self.channel_force_sum_n += channel_n
        self.force_sum_n += force
        self.physics_steps += 1
        return force

    def info(self) -> dict[str, np.ndarray]:
        """The step's mean external force at the hand (``hand_force_n``, N, (num_envs, 2)) and the
        channel's mean force across the path (``channel_force_n``, N, along the channel's normal)."""
        if not self.physics_steps:
            return {
                "hand_force_n": np.zeros_like(self.force_sum_n),
                "channel_force_n": np.zeros_like(self.channel_force_sum_n),
            }
        steps = self.physics_steps
        return {"hand_force_n": self.force_sum_n / steps, "channel_force_n": self.channel_force_sum_n / steps}

    # ------------------------------------------------------------------------------ vision
    def cursor(self, hand_pos: np.ndarray, ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Where the hand is seen, (len(ids), 2): rotated about the trial's start by the rotation."""
        if not self.any_rotated[()]:
            return hand_pos  # exactly the hand (origin + (hand - origin) need not be)
        rotated = self.rotated[ids]
        origin = self.rotation_origin_m[ids]
        seen = origin + np.einsum("nij,nj->ni", self.rotation[ids], hand_pos - origin)
        return np.where(rotated[:, None], seen, hand_pos)
