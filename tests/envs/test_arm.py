"""The MuJoCo arm: literature parameters, muscle geometry, directions of action, stability."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from motorgym.envs.arm import Arm, load_arm_model

# Li & Todorov (2004) / MotorNet arm26 (see envs/assets/*.xml).
MUSCLES = {  # name: (F_max N, l_opt m, tendon slack m, moment arm shoulder, elbow m, MotorNet a0 m)
    "pectoralis": (838, 0.134, 0.039, -0.030, 0.0, 0.151),
    "deltoid": (1207, 0.140, 0.066, 0.030, 0.0, 0.2322),
    "brachioradialis": (1422, 0.092, 0.172, 0.0, -0.014, 0.2859),
    "triceps_lateral": (1549, 0.093, 0.187, 0.0, 0.025, 0.2355),
    "biceps": (414, 0.137, 0.204, -0.030, -0.016, 0.3329),
    "triceps_long": (603, 0.127, 0.217, 0.030, 0.030, 0.2989),
}


@pytest.mark.parametrize("kind", ["torque", "muscle"])
def test_segments_match_li_todorov_2004(kind: str) -> None:
    model = load_arm_model(kind)
    upper, fore = model.body("upper_arm"), model.body("forearm")
    assert upper.mass[0] == pytest.approx(1.864572) and fore.mass[0] == pytest.approx(1.534315)
    assert upper.ipos[0] == pytest.approx(0.180496) and fore.ipos[0] == pytest.approx(0.181479)
    assert upper.inertia[2] == pytest.approx(0.013193) and fore.inertia[2] == pytest.approx(0.020062)
    arm = Arm(kind)
    assert arm.upper_arm_length_m == pytest.approx(0.309) and arm.forearm_length_m == pytest.approx(0.26)
    np.testing.assert_allclose(np.rad2deg(arm.joint_range_rad), [[0, 140], [0, 160]], atol=1e-6)
    assert model.opt.gravity[2] < 0 and np.allclose(model.jnt_axis, [0, 0, 1])  # gravity normal to the plane


def test_muscle_parameters_moment_arms_and_fibre_lengths() -> None:
    arm = Arm("muscle")
    model = arm.model
    assert arm.muscle_names == list(MUSCLES)
    rng = np.random.default_rng(0)
    data = mujoco.MjData(model)
    for q in rng.uniform(arm.joint_range_rad[:, 0], arm.joint_range_rad[:, 1], size=(20, 2)):
        data.qpos[:] = q
        mujoco.mj_forward(model, data)
        moment = np.zeros((model.nu, model.nv))
        mujoco.mju_sparse2dense(
            moment, data.actuator_moment, data.moment_rownnz, data.moment_rowadr, data.moment_colind
        )
        arm.reset(np.array([0]), q[None])
        for i, (name, (f_max, l_opt, slack, r_s, r_e, a0)) in enumerate(MUSCLES.items()):
            assert model.actuator(name).gainprm[2] == f_max
            np.testing.assert_allclose(moment[i], [r_s, r_e], atol=1e-12)
            fibre = a0 + r_s * (q[0] - np.pi / 2) + r_e * q[1] - slack  # MotorNet's rigid-tendon geometry
            assert arm.muscle_lengths[0, i] == pytest.approx(fibre / l_opt, abs=1e-5)  # XML keeps 6 decimals


def _displacement_deg(arm: Arm, ctrl: np.ndarray, steps: int = 15) -> np.ndarray:
    start = np.deg2rad([[60.0, 80.0]])
    arm.reset(np.array([0]), start)
    for _ in range(steps):
        arm.step(ctrl[None])
    return np.rad2deg(arm.joint_angles[0] - start[0])


def _held(arm: Arm, joint: int) -> None:
    """Hold one joint still (a huge armature), so a muscle's action on the other is seen alone:
    free, a strong elbow extension flexes the shoulder through interaction torques."""
    arm.model.dof_armature[:] = 0.0
    arm.model.dof_armature[joint] = 1e6


def test_each_muscle_moves_its_joints_the_right_way() -> None:
    arm = Arm("muscle")
    for i, (name, (_, _, _, r_s, r_e, _)) in enumerate(MUSCLES.items()):
        ctrl = np.zeros(6)
        ctrl[i] = 1.0
        for joint, r in enumerate((r_s, r_e)):
            _held(arm, 1 - joint)
            moved = (_displacement_deg(arm, ctrl) - _displacement_deg(arm, np.zeros(6)))[joint]
            if r < 0:
                assert moved > 1.0, f"{name} should flex joint {joint}: moved {moved:.2f} deg"
            elif r > 0:
                assert moved < -1.0, f"{name} should extend joint {joint}: moved {moved:.2f} deg"
            else:
                assert abs(moved) < 0.01, f"{name} should not act on joint {joint}: moved {moved:.2f} deg"


def test_positive_torque_flexes() -> None:
    arm = Arm("torque")
    for joint in range(2):
        ctrl = np.zeros(2)
        ctrl[joint] = 0.5
        assert _displacement_deg(arm, ctrl, steps=5)[joint] > 1.0
        assert _displacement_deg(arm, -ctrl, steps=5)[joint] < -1.0


@pytest.mark.parametrize("kind", ["torque", "muscle"])
def test_bang_bang_commands_never_blow_up(kind: str) -> None:
    """Any admissible command sequence: extreme commands switched at random, 16 arms x 30 s."""
    arm = Arm(kind, num_arms=16, num_threads=2)
    arm.reset(np.arange(16), np.tile(np.deg2rad([45.0, 90.0]), (16, 1)))
    rng = np.random.default_rng(1)
    low, high = arm.ctrl_low, arm.ctrl_high
    for step in range(3000):
        if step % 7 == 0:
            ctrl = np.where(rng.random((16, len(low))) < 0.5, low, high)
        failed = arm.step(ctrl)
        assert not failed.any(), f"unstable at step {step}"
    q = np.rad2deg(arm.joint_angles)
    assert np.isfinite(q).all()
    # Stiff but soft joint limits: a hit at full speed may overshoot by a few degrees only.
    assert q.min() > -25 and (q[:, 0].max() < 165) and (q[:, 1].max() < 185)


def test_single_arm_and_batch_paths_agree() -> None:
    """One MjData (single env) and mujoco.batch (vector env) give bit-identical trajectories."""
    single, batch = Arm("muscle", 1), Arm("muscle", 3, num_threads=2)
    start = np.deg2rad([[30.0, 100.0]])
    single.reset(np.array([0]), start)
    batch.reset(np.arange(3), np.repeat(start, 3, axis=0))
    rng = np.random.default_rng(2)
    for _ in range(100):
        ctrl = rng.random(6)
        single.step(ctrl[None])
        batch.step(np.repeat(ctrl[None], 3, axis=0))
        np.testing.assert_array_equal(batch.qpos, np.repeat(single.qpos, 3, axis=0))
        np.testing.assert_array_equal(batch.proprioception(), np.repeat(single.proprioception(), 3, axis=0))


def test_kinematics_round_trip() -> None:
    arm = Arm("torque")
    q = np.deg2rad([[10.0, 20.0], [45.0, 90.0], [120.0, 150.0]])
    np.testing.assert_allclose(arm.inverse_kinematics(arm.forward_kinematics(q)), q, atol=1e-12)
    arm.reset(np.array([0]), q[1:2])
    np.testing.assert_allclose(arm.hand_pos[0], arm.forward_kinematics(q[1]), atol=1e-12)
    eps = 1e-7
    numeric = np.stack(
        [(arm.forward_kinematics(q[1] + eps * e) - arm.forward_kinematics(q[1])) / eps for e in np.eye(2)], 1
    )
    np.testing.assert_allclose(arm.jacobian(q[1]), numeric, atol=1e-6)
    with pytest.raises(ValueError, match="out of the arm's reach"):
        arm.inverse_kinematics(np.array([1.0, 1.0]))


@pytest.mark.parametrize("num_arms", [1, 3])
def test_a_torque_time_constant_low_passes_the_command_exactly(num_arms: int) -> None:
    """A step of the command reaches the joints as 1 - exp(-t / tau) of the gear's torque."""
    tau_ms = 60.0
    arm = Arm("torque", num_arms, control_step_ms=10.0, torque_time_constant_ms=tau_ms)
    assert arm.model.na == 2 and arm.sensed_state_names[-2:] == ["shoulder_activation", "elbow_activation"]
    arm.reset(np.arange(num_arms), np.tile(np.deg2rad([45.0, 90.0]), (num_arms, 1)))
    ctrl = np.tile([0.5, -1.0], (num_arms, 1))
    for step in range(1, 11):
        arm.step(ctrl)
        np.testing.assert_allclose(arm.act, ctrl * (1 - np.exp(-10.0 * step / tau_ms)), rtol=1e-12)
    np.testing.assert_array_equal(arm.sensed_state()[:, -2:], arm.act)
    data = arm.mj_data(0)
    mujoco.mj_forward(arm.model, data)  # the force from the present activation (not the last substep's)
    np.testing.assert_allclose(data.actuator_force, arm.act[0], rtol=1e-12)  # gain 1: the gear makes it N m
    np.testing.assert_allclose(data.qfrc_actuator, [10.0, 8.0] * arm.act[0], rtol=1e-12)


def test_without_a_time_constant_the_torque_arm_has_no_activation_state() -> None:
    assert load_arm_model("torque").na == 0
    assert Arm("torque").sensed_state().shape == (1, 6)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("muscle", 40.0, r"torque_time_constant_ms applies to the torque arm only.*allowed: 0"),
        ("torque", -5.0, r"torque_time_constant_ms must be >= 0"),
    ],
)
def test_a_bad_torque_time_constant_is_named(kind: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_arm_model(kind, value)  # type: ignore[arg-type]


def test_the_envs_take_the_time_constant_and_report_the_arm_state() -> None:
    import gymnasium as gym

    env = gym.make("motorgym/CenterOut-v1", torque_time_constant_ms=40.0)
    _, info = env.reset(seed=0)
    assert info["arm_state"].shape == (8,) and not info["arm_state"][-2:].any()
    _, _, _, _, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    assert (info["arm_state"][-2:] > 0).all()
    np.testing.assert_array_equal(info["arm_state"][:2], info["hand_pos"])
    with pytest.raises(ValueError, match="torque_time_constant_ms applies to the torque arm only"):
        gym.make("motorgym/MuscleCenterOut-v1", torque_time_constant_ms=40.0)
