"""The arm: a MuJoCo model of the planar two-joint arm, simulated as one or many copies.

``Arm`` loads ``assets/arm26_torque.xml`` or ``assets/arm26_muscle.xml`` and steps ``num_arms``
copies of it. With one arm it drives an ``MjData`` directly (the fastest path for a single env);
with several it uses MuJoCo's ``mujoco.batch.Batch``, which steps all of them in C on a thread pool
and is bit-identical to a loop of ``mj_step``. Either way every quantity is exposed as an
``(num_arms, ...)`` numpy array read from MuJoCo sensors found by name, so the task logic above it is
written once, vectorised over arms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np
from mujoco import batch as mj_batch

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ARM_MODEL_FILES: dict[str, str] = {"torque": "arm26_torque.xml", "muscle": "arm26_muscle.xml"}
ArmKind = Literal["torque", "muscle"]
#: An external force at the hand, (num_arms, 2) N, from the hand's position (m) and velocity (m/s).
HandForce = Callable[[np.ndarray, np.ndarray], np.ndarray]

# MuJoCo warnings that mean the state is no longer trustworthy (MuJoCo resets the data on them).
_INSTABILITY_WARNINGS = np.array(
    [mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADQACC], dtype=int
)
_INTEGRATION_STATE = int(mujoco.mjtState.mjSTATE_INTEGRATION)
# Joint speeds beyond this are a numerical runaway, not a movement (human joints stay below ~40 rad/s).
MAX_JOINT_SPEED_RAD_S = 200.0


@dataclass(frozen=True)
class ActuatorDynamics:
    """How the actuators' activations (the ``act`` states) follow their commands over one control
    step, as MuJoCo integrates them (read from the compiled model; the same for every actuator).

    ``law`` is ``"muscle"`` (MuJoCo's muscle activation: da/dt = (u - a) / tau with tau =
    activation_time_constant_s x (0.5 + 1.5 a) while u > a, else deactivation_time_constant_s /
    (0.5 + 1.5 a), a clamped to [0, 1] inside tau; Euler steps of ``physics_timestep_s``) or
    ``"filter"`` (``filterexact``: a first-order low-pass filter with time constant
    activation_time_constant_s, integrated exactly). The command u is clamped to ``ctrl_low`` and
    ``ctrl_high`` first, as MuJoCo clamps ``ctrl``."""

    law: Literal["muscle", "filter"]
    activation_time_constant_s: float
    deactivation_time_constant_s: float
    physics_timestep_s: float
    substeps: int
    ctrl_low: tuple[float, ...]
    ctrl_high: tuple[float, ...]


def load_arm_model(kind: ArmKind, torque_time_constant_ms: float = 0.0) -> mujoco.MjModel:
    """Compile the MJCF model of the ``"torque"`` or ``"muscle"`` arm.

    ``torque_time_constant_ms`` > 0 (torque arm only) puts a first-order low-pass filter between each
    command and its joint torque (MuJoCo's exact ``filterexact`` actuator dynamics), so the torque
    rises and falls with that time constant, as muscle force does; the filter states are ``act``."""
    if kind not in ARM_MODEL_FILES:
        raise ValueError(f"arm kind must be one of {sorted(ARM_MODEL_FILES)} (got {kind!r})")
    if not (math.isfinite(torque_time_constant_ms) and torque_time_constant_ms >= 0):
        raise ValueError(f"torque_time_constant_ms must be >= 0 (got {torque_time_constant_ms!r})")
    path = str(ASSETS_DIR / ARM_MODEL_FILES[kind])
    if torque_time_constant_ms == 0:
        return mujoco.MjModel.from_xml_path(path)
    if kind != "torque":
        raise ValueError(
            f"torque_time_constant_ms applies to the torque arm only; the muscle arm has its own "
            f"activation dynamics (got {torque_time_constant_ms!r} for the {kind} arm; allowed: 0)"
        )
    spec = mujoco.MjSpec.from_file(path)
    for actuator in spec.actuators:
        actuator.dyntype = mujoco.mjtDyn.mjDYN_FILTEREXACT
        actuator.dynprm[0] = torque_time_constant_ms / 1000.0
    return spec.compile()


class Arm:
    """``num_arms`` copies of the arm26 model, stepped together at the control step.

    Args:
        kind: ``"torque"`` (two joint motors) or ``"muscle"`` (six muscles).
        num_arms: number of independent copies.
        control_step_ms: duration of one ``step`` call; a whole multiple of the physics timestep.
        num_threads: threads for stepping several arms (0: all cores). Ignored for one arm.
        torque_time_constant_ms: low-pass filter of the torque arm's commands (see :func:`load_arm_model`).
    """

    def __init__(
        self,
        kind: ArmKind,
        num_arms: int = 1,
        control_step_ms: float = 10.0,
        num_threads: int = 1,
        torque_time_constant_ms: float = 0.0,
    ) -> None:
        if num_arms < 1:
            raise ValueError(f"num_arms must be >= 1 (got {num_arms})")
        self.kind: ArmKind = kind
        self.model = load_arm_model(kind, torque_time_constant_ms)
        self.num_arms = num_arms
        self.physics_timestep_ms = float(self.model.opt.timestep) * 1000.0
        substeps = control_step_ms / self.physics_timestep_ms
        if control_step_ms <= 0 or abs(substeps - round(substeps)) > 1e-9 or round(substeps) < 1:
            raise ValueError(
                f"control_step_ms must be a positive multiple of the physics timestep "
                f"({self.physics_timestep_ms:g} ms), e.g. 5, 10, 20 (got {control_step_ms!r})"
            )
        self.n_substeps = int(round(substeps))
        self.control_step_s = control_step_ms / 1000.0

        m = self.model
        self.joint_names = [m.joint(i).name for i in range(m.njnt)]
        self.actuator_names = [m.actuator(i).name for i in range(m.nu)]
        self.ctrl_low = m.actuator_ctrlrange[:, 0].copy()
        self.ctrl_high = m.actuator_ctrlrange[:, 1].copy()
        # Segment lengths for the analytic kinematics, read from the model (one source of truth).
        self.upper_arm_length_m = float(m.body("forearm").pos[0])
        self.forearm_length_m = float(m.site("hand").pos[0])
        self.joint_range_rad = m.jnt_range.copy()

        if num_arms == 1:
            self._data: mujoco.MjData | None = mujoco.MjData(m)
            self._batch: mj_batch.Batch | None = None
            d = self._data
            self.qpos, self.qvel, self.act, self.ctrl = d.qpos[None], d.qvel[None], d.act[None], d.ctrl[None]
            self.qfrc_applied = d.qfrc_applied[None]
            self._sensordata = d.sensordata[None]
        else:
            self._data = None
            self._batch = mj_batch.Batch(m, num_arms, nthread=num_threads, persistent=True)
            b = self._batch
            self.qpos, self.qvel, self.act, self.ctrl = b.bind("qpos"), b.bind("qvel"), b.bind("act"), b.bind("ctrl")
            self.qfrc_applied = b.bind("qfrc_applied")
            self._sensordata = b.bind("sensordata")

        self._hand_pos = self._sensors(["hand_pos"], 2)
        self._hand_vel = self._sensors(["hand_vel"], 2)
        self._joint_pos = self._sensors(["shoulder_angle", "elbow_angle"], 1)
        self._joint_vel = self._sensors(["shoulder_vel", "elbow_vel"], 1)
        if kind == "muscle":
            self.muscle_names = list(self.actuator_names)
            self._muscle_len = self._sensors([f"{n}_length" for n in self.muscle_names], 1)
            self._muscle_vel = self._sensors([f"{n}_vel" for n in self.muscle_names], 1)
            # MuJoCo's normalisation of tendon length L: range0 + (L - lengthrange0) / L0.
            lengthrange = m.actuator_lengthrange
            norm_range = m.actuator_gainprm[:, 0:2]
            self.muscle_l0_m = (lengthrange[:, 1] - lengthrange[:, 0]) / (norm_range[:, 1] - norm_range[:, 0])
            self._muscle_len_offset = norm_range[:, 0] - lengthrange[:, 0] / self.muscle_l0_m
            # Moment arms (joint x muscle): the coefficients of each muscle's fixed tendon.
            self.muscle_moment_arms_m = np.zeros((m.njnt, m.nu))
            for i in range(m.nu):
                tendon = m.actuator_trnid[i, 0]
                for k in range(m.tendon_adr[tendon], m.tendon_adr[tendon] + m.tendon_num[tendon]):
                    self.muscle_moment_arms_m[m.wrap_objid[k], i] = m.wrap_prm[k]
        else:
            self.muscle_names = []

    def _sensors(self, names: list[str], dim: int) -> slice:
        """The sensordata columns of consecutive sensors (a slice, so reads are views, not copies)."""
        start = int(self.model.sensor(names[0]).adr[0])
        for k, name in enumerate(names):
            if int(self.model.sensor(name).adr[0]) != start + k * dim:
                raise ValueError(f"sensors {names} must be consecutive in the MJCF <sensor> block")
        return slice(start, start + len(names) * dim)

    # ----------------------------------------------------------------------------- state access
    @property
    def hand_pos(self) -> np.ndarray:
        """Hand (fingertip site) position in the plane, metres, shape (num_arms, 2)."""
        return self._sensordata[:, self._hand_pos]

    @property
    def hand_vel(self) -> np.ndarray:
        """Hand velocity in the plane, m/s, shape (num_arms, 2)."""
        return self._sensordata[:, self._hand_vel]

    @property
    def joint_angles(self) -> np.ndarray:
        """Shoulder and elbow angles, radians, shape (num_arms, 2)."""
        return self._sensordata[:, self._joint_pos]

    @property
    def joint_velocities(self) -> np.ndarray:
        """Shoulder and elbow angular velocities, rad/s, shape (num_arms, 2)."""
        return self._sensordata[:, self._joint_vel]

    @property
    def muscle_lengths(self) -> np.ndarray:
        """Muscle fibre lengths in optimal fibre lengths (1 = optimal), shape (num_arms, 6)."""
        return self._sensordata[:, self._muscle_len] / self.muscle_l0_m + self._muscle_len_offset

    @property
    def muscle_velocities(self) -> np.ndarray:
        """Muscle fibre velocities in optimal fibre lengths per second, shape (num_arms, 6)."""
        return self._sensordata[:, self._muscle_vel] / self.muscle_l0_m

    def proprioception(self) -> np.ndarray:
        """Proprioceptive signals: joint angles and velocities (torque arm), or muscle fibre lengths
        and velocities (muscle arm), shape (num_arms, 4) or (num_arms, 12)."""
        if self.kind == "muscle":
            return np.concatenate([self.muscle_lengths, self.muscle_velocities], axis=1)
        return np.concatenate([self.joint_angles, self.joint_velocities], axis=1)

    @property
    def proprioception_names(self) -> list[str]:
        """Names (with units) of the columns of :meth:`proprioception`."""
        if self.kind == "muscle":
            return [f"{n}_length_lopt" for n in self.muscle_names] + [f"{n}_velocity_lopt_s" for n in self.muscle_names]
        return ["shoulder_angle_rad", "elbow_angle_rad", "shoulder_velocity_rad_s", "elbow_velocity_rad_s"]

    def sensed_state(self) -> np.ndarray:
        """The arm's state as its sensors report it, undelayed and noiseless: hand position (m),
        proprioception and the actuators' activations (muscles, or the filtered torque commands of a
        torque arm with a time constant; none for unfiltered motors), shape
        (num_arms, 2 + P + A). It fixes the next step's state given the command (it holds joint
        angles and speeds, or linear maps of them, and the activations), which is what the learned
        arm of ``motorgym.train.model_based`` learns."""
        return np.concatenate([self.hand_pos, self.proprioception(), self.act], axis=1)

    @property
    def sensed_state_names(self) -> list[str]:
        """Names (with units) of the columns of :meth:`sensed_state`."""
        activations = [f"{n}_activation" for n in self.actuator_names] if self.act.shape[1] else []
        return ["hand_x_m", "hand_y_m", *self.proprioception_names, *activations]

    def proprioception_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of :meth:`proprioception` that a stable simulation stays within (joint speeds
        beyond MAX_JOINT_SPEED_RAD_S are flagged unstable): angles within a turn either way, fibre
        lengths in [0, 3] l_opt, speeds from the moment arms at the maximal joint speed."""
        if self.kind == "muscle":
            n = len(self.muscle_names)
            speed = np.abs(self.muscle_moment_arms_m).sum(axis=0) * MAX_JOINT_SPEED_RAD_S / self.muscle_l0_m
            return np.r_[np.zeros(n), -speed], np.r_[np.full(n, 3.0), speed]
        angle, speed = 2 * np.pi, MAX_JOINT_SPEED_RAD_S
        return np.r_[-angle, -angle, -speed, -speed], np.r_[angle, angle, speed, speed]

    def actuator_dynamics(self) -> ActuatorDynamics | None:
        """The law by which the activations in :meth:`sensed_state` follow the command (None for an
        arm without activation states: the unfiltered torque arm)."""
        m = self.model
        if m.na == 0:
            return None
        laws = {int(mujoco.mjtDyn.mjDYN_MUSCLE): "muscle", int(mujoco.mjtDyn.mjDYN_FILTEREXACT): "filter"}
        kinds = {int(d) for d in m.actuator_dyntype}
        constants = {tuple(prm[:3]) for prm in m.actuator_dynprm}
        if len(kinds) != 1 or len(constants) != 1 or next(iter(kinds)) not in laws or m.na != m.nu:
            raise NotImplementedError(
                "actuator_dynamics needs one law (muscle or filterexact) shared by every actuator"
            )
        (tau_act, tau_deact, smooth), law = next(iter(constants)), laws[next(iter(kinds))]
        if law == "muscle" and smooth != 0:
            raise NotImplementedError("actuator_dynamics does not model MuJoCo's smoothed muscle time constants")
        return ActuatorDynamics(
            law=law,  # type: ignore[arg-type]
            activation_time_constant_s=float(tau_act),
            deactivation_time_constant_s=float(tau_deact if law == "muscle" else tau_act),
            physics_timestep_s=float(m.opt.timestep),
            substeps=self.n_substeps,
            ctrl_low=tuple(float(x) for x in self.ctrl_low),
            ctrl_high=tuple(float(x) for x in self.ctrl_high),
        )

    def mj_data(self, arm: int = 0) -> mujoco.MjData:
        """The ``MjData`` of one arm (a live object for one arm, a materialised copy for a batch)."""
        if self._data is not None:
            return self._data
        assert self._batch is not None
        data = self._batch.get_data(arm)
        mujoco.mj_forward(self.model, data)
        return data

    # ------------------------------------------------------------------------------- dynamics
    def reset(self, ids: np.ndarray, joint_angles_rad: np.ndarray) -> None:
        """Place arms ``ids`` at rest at the given joint angles (shape (len(ids), 2)), muscles relaxed."""
        ids = np.asarray(ids, dtype=np.int64)
        if self._data is not None:
            if len(ids):
                mujoco.mj_resetData(self.model, self._data)
                self._data.qpos[:] = joint_angles_rad[0]
                mujoco.mj_step1(self.model, self._data)  # positions, velocities and sensors current
            return
        assert self._batch is not None
        self._batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[ids] = joint_angles_rad
        self._batch.forward(ids, stage=mujoco.mjtStage.mjSTAGE_VEL)

    def step(self, ctrl: np.ndarray, hand_force: HandForce | None = None) -> np.ndarray:
        """Hold ``ctrl`` (num_arms, nu) for one control step; return a bool mask of arms whose
        simulation went unstable (non-finite or runaway state, or a MuJoCo instability warning).

        ``hand_force(hand_pos, hand_vel)`` gives an external force (num_arms, 2), N, at each hand;
        it is evaluated at every physics step, from the state at its start, and applied as the joint
        torques J^T F (MuJoCo's ``qfrc_applied``)."""
        self.ctrl[:] = ctrl
        failed = np.zeros(self.num_arms, dtype=bool)
        if hand_force is None:
            self._advance(self.n_substeps, failed)
        else:  # one physics step at a time, the force updated before each
            for _ in range(self.n_substeps):
                self.apply_hand_force(hand_force(self.hand_pos, self.hand_vel))
                self._advance(1, failed)
            self.qfrc_applied[...] = 0.0
        # MuJoCo resets a state it finds non-finite (and warns); a NaN or runaway speed it missed
        # fails this comparison too.
        failed |= ~(np.abs(self.qvel) <= MAX_JOINT_SPEED_RAD_S).all(axis=1)
        return failed

    def _advance(self, nstep: int, failed: np.ndarray) -> None:
        """Take ``nstep`` physics steps, leaving positions, velocities and sensors current; mark in
        ``failed`` the arms MuJoCo found unstable."""
        if self._data is not None:
            m, d = self.model, self._data
            # mj_step1 already ran at the end of the previous call (or reset): finish that step,
            # take the remaining ones, then make positions, velocities and sensors current.
            mujoco.mj_step2(m, d)
            if nstep > 1:
                mujoco.mj_step(m, d, nstep - 1)
            mujoco.mj_step1(m, d)
            counts = d.warning.number  # a view of the counters
            if counts[_INSTABILITY_WARNINGS].any():
                failed[0] = True
                counts[_INSTABILITY_WARNINGS] = 0
            return
        assert self._batch is not None
        try:
            self._batch.step(nstep=nstep, stage=mujoco.mjtStage.mjSTAGE_VEL)
        except mj_batch.SimulationError as error:
            failed[error.ids] = True
        counts = self._batch.warning[:, _INSTABILITY_WARNINGS, 1]
        warned = counts.any(axis=1)
        if warned.any():
            failed |= warned
            self._batch.warning[:, _INSTABILITY_WARNINGS, 1] = 0

    def apply_hand_force(self, force_n: np.ndarray) -> None:
        """Apply the force ``force_n`` (num_arms, 2), N, at each hand as joint torques J(q)^T F,
        from the next physics step on (until replaced)."""
        jacobian = self.jacobian(self.qpos)
        self.qfrc_applied[...] = np.einsum("nij,ni->nj", jacobian, force_n)

    def get_state(self) -> np.ndarray:
        """Every arm's full integration state (MuJoCo's mjSTATE_INTEGRATION), (num_arms, nstate)."""
        if self._data is not None:
            state = np.empty((1, mujoco.mj_stateSize(self.model, _INTEGRATION_STATE)))
            mujoco.mj_getState(self.model, self._data, state[0], _INTEGRATION_STATE)
            return state
        assert self._batch is not None
        return self._batch.state.copy()

    def set_state(self, state: np.ndarray) -> None:
        """Restore what :meth:`get_state` returned; stepping then continues exactly as before."""
        if self._data is not None:
            mujoco.mj_setState(self.model, self._data, np.asarray(state[0], dtype=np.float64), _INTEGRATION_STATE)
            mujoco.mj_step1(self.model, self._data)
            return
        assert self._batch is not None
        self._batch.state[:] = state
        self._batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

    # ----------------------------------------------------------------------------- kinematics
    def forward_kinematics(self, joint_angles_rad: np.ndarray) -> np.ndarray:
        """Hand position (..., 2) in metres for joint angles (..., 2) in radians."""
        q = np.asarray(joint_angles_rad, dtype=np.float64)
        shoulder, elbow = q[..., 0], q[..., 0] + q[..., 1]
        l1, l2 = self.upper_arm_length_m, self.forearm_length_m
        return np.stack(
            [l1 * np.cos(shoulder) + l2 * np.cos(elbow), l1 * np.sin(shoulder) + l2 * np.sin(elbow)], axis=-1
        )

    def jacobian(self, joint_angles_rad: np.ndarray) -> np.ndarray:
        """Hand Jacobian d(hand_pos)/d(joint angles), shape (..., 2, 2), metres per radian."""
        q = np.asarray(joint_angles_rad, dtype=np.float64)
        shoulder, elbow = q[..., 0], q[..., 0] + q[..., 1]
        l1, l2 = self.upper_arm_length_m, self.forearm_length_m
        dx_de, dy_de = -l2 * np.sin(elbow), l2 * np.cos(elbow)
        return np.stack(
            [
                np.stack([-l1 * np.sin(shoulder) + dx_de, dx_de], -1),
                np.stack([l1 * np.cos(shoulder) + dy_de, dy_de], -1),
            ],
            -2,
        )

    def inverse_kinematics(self, hand_pos_m: np.ndarray) -> np.ndarray:
        """Joint angles (..., 2) in radians that put the hand at (..., 2), elbow flexed (q_elbow >= 0).

        Raises ValueError for a position the segments cannot reach.
        """
        p = np.asarray(hand_pos_m, dtype=np.float64)
        l1, l2 = self.upper_arm_length_m, self.forearm_length_m
        cos_elbow = (np.sum(p**2, axis=-1) - l1**2 - l2**2) / (2 * l1 * l2)
        if np.any(np.abs(cos_elbow) > 1):
            raise ValueError(f"hand position out of the arm's reach: {p.tolist()}")
        elbow = np.arccos(cos_elbow)
        shoulder = np.arctan2(p[..., 1], p[..., 0]) - np.arctan2(l2 * np.sin(elbow), l1 + l2 * np.cos(elbow))
        return np.stack([shoulder, elbow], axis=-1)

    def within_joint_range(self, joint_angles_rad: np.ndarray) -> np.ndarray:
        """Whether each posture (..., 2) lies inside the joint ranges."""
        q = np.asarray(joint_angles_rad)
        return np.all((q >= self.joint_range_rad[:, 0]) & (q <= self.joint_range_rad[:, 1]), axis=-1)

    def close(self) -> None:
        self._batch = None
        self._data = None
