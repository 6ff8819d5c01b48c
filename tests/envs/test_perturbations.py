"""Perturbations with analytic answers: curl fields, force channels, load pulses, visuomotor rotation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from motorgym.agents.scripted import ScriptedReacher
from motorgym.envs.perturbations import FORCE_FIELD_PRESETS

QUIET = dict(motor_noise_coef=0.0, proprio_noise_std=0.0, visual_noise_std_m=0.0)
#: A go trial with a 200 ms delay: the go cue comes at step 20.
GO_TRIAL = dict(target_index=2, catch_trial=False, delay_ms=200.0)


def lateral_deviation_m(hand: np.ndarray, start: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Signed distance of each hand position from the start-target line (positive to its left)."""
    direction = (target - start) / np.linalg.norm(target - start)
    normal = np.array([-direction[1], direction[0]])
    return (hand - start) @ normal


def scripted_reach(env_id: str, options: dict | None = None, **kwargs) -> dict[str, np.ndarray]:
    """One centre-out trial driven by the scripted reacher; the info entries over the steps."""
    env = gym.make(env_id, **QUIET, **kwargs)
    reacher = ScriptedReacher(env)
    env.reset(seed=0, options={**GO_TRIAL, **(options or {})})
    infos = []
    for _ in range(100):
        _, _, terminated, truncated, info = env.step(reacher())
        infos.append(info)
        if terminated or truncated:
            break
    return {key: np.array([i[key] for i in infos]) for key in infos[0]}


def test_a_curl_field_pushes_perpendicular_to_the_velocity_with_gain_times_speed() -> None:
    # One physics step per control step: the step's force is the field at the velocity it began with.
    env = gym.make("motorgym/CenterOut-v0", force_field="curl_cw", control_step_ms=5.0, proprio_delay_ms=20.0)
    reacher = ScriptedReacher(env)
    arm = env.unwrapped.arm
    env.reset(seed=0, options=GO_TRIAL)
    checked = 0
    for _ in range(150):
        velocity = arm.hand_vel[0].copy()
        _, _, terminated, _, info = env.step(reacher())
        force = info["hand_force_n"]
        np.testing.assert_allclose(force, 15.0 * np.array([velocity[1], -velocity[0]]), atol=1e-12)
        speed = np.linalg.norm(velocity)
        if speed > 0.05:
            assert abs(force @ velocity) < 1e-9 * speed  # perpendicular
            assert np.linalg.norm(force) == pytest.approx(15.0 * speed)
            assert velocity[0] * force[1] - velocity[1] * force[0] < 0  # turned clockwise
            checked += 1
        if terminated:
            break
    assert checked > 10


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v1", "motorgym/MuscleCenterOut-v1"])
def test_a_curl_field_deflects_a_reach_its_way_and_a_channel_holds_it_straight(env_id: str) -> None:
    null = scripted_reach(env_id)
    start, target = null["cursor_pos"][0], null["target_pos"][0]
    for field, sign in (("curl_cw", -1), ("curl_ccw", 1)):
        deviation = lateral_deviation_m(scripted_reach(env_id, force_field=field)["hand_pos"], start, target)
        peak = deviation[np.argmax(np.abs(deviation))]
        assert sign * peak > 0.005, (field, peak)  # clockwise pushes right of the path, >= 5 mm
    # A channel against a 2 N push across the path (target 2 is straight up) in mid-reach, which
    # without the channel deflects the hand by millimetres; with the reacher's own lateral forces
    # the channel takes about 5 N, a 15 N s/m field's force at 0.35 m/s.
    push = dict(load_pulse_force_n=(2.0, 0.0), load_pulse_onset_ms=100.0, load_pulse_duration_ms=200.0)
    pushed = scripted_reach(env_id, **push)
    channelled = scripted_reach(env_id, channel=True, force_field="curl_cw", **push)
    assert np.abs(lateral_deviation_m(pushed["hand_pos"], start, target)).max() > 0.003
    assert np.abs(lateral_deviation_m(channelled["hand_pos"], start, target)).max() < 0.001
    assert np.abs(channelled["channel_force_n"]).max() > 4.0 and channelled["success"][-1]


def test_a_channel_balances_a_known_lateral_push() -> None:
    env = gym.make("motorgym/CenterOut-v0", channel=True, **QUIET)
    push_n = 4.0
    # Target 0 is to the right: the channel runs along +x and its normal is +y, the push's direction.
    pulse = dict(load_pulse_force_n=(0.0, push_n), load_pulse_reference="trial_start", load_pulse_duration_ms=600.0)
    env.reset(seed=0, options={**GO_TRIAL, "target_index": 0, "delay_ms": 700.0, **pulse})
    start = env.unwrapped.task.start_pos[0].copy()
    for _ in range(45):  # the channel rings for about 200 ms (damping ratio ~0.3), then holds
        _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))  # motors off: only the push and the channel
    assert info["channel_force_n"] == pytest.approx(-push_n, abs=0.01)
    np.testing.assert_allclose(info["hand_force_n"], [0.0, 0.0], atol=0.01)  # balanced
    across_m = info["hand_pos"][1] - start[1]
    assert across_m == pytest.approx(push_n / 6000.0, rel=0.05)  # F / stiffness


def test_a_pulse_acts_exactly_over_its_steps() -> None:
    pulse = dict(load_pulse_force_n=(2.0, -1.0), load_pulse_onset_ms=100.0, load_pulse_duration_ms=50.0)
    env = gym.make("motorgym/CenterOut-v1", **pulse)
    env.reset(seed=3, options=GO_TRIAL)
    on_steps = []
    for step in range(45):
        _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
        if info["hand_force_n"].any():
            np.testing.assert_array_equal(info["hand_force_n"], [2.0, -1.0])
            on_steps.append(step)
    # Go cue at step 20 (200 ms); the pulse covers 300-350 ms of the trial: steps 30 to 34.
    assert on_steps == [30, 31, 32, 33, 34]
    # In a catch trial no go cue comes, and so no pulse timed from it.
    env.reset(seed=3, options={**GO_TRIAL, "catch_trial": True})
    assert not any(env.step(np.zeros(2, dtype=np.float32))[4]["hand_force_n"].any() for _ in range(60))


def test_a_rotation_turns_what_is_seen_and_leaves_proprioception() -> None:
    runs = {}
    for angle in (0.0, 90.0):
        env = gym.make("motorgym/CenterOut-v0", visual_rotation_deg=angle, visual_delay_ms=0.0, **QUIET)
        obs, _ = env.reset(seed=1, options=GO_TRIAL)
        rng = np.random.default_rng(0)
        observations, infos = [obs], []
        for _ in range(40):
            obs, _, _, _, info = env.step(rng.uniform(-0.3, 0.3, 2).astype(np.float32))
            observations.append(obs)
            infos.append(info)
        runs[angle] = np.array(observations), infos
    (plain, plain_info), (turned, turned_info) = runs[0.0], runs[90.0]
    np.testing.assert_array_equal(plain[:, 5:], turned[:, 5:])  # proprioception
    start = env.unwrapped.task.start_pos[0]
    offset = plain[:, :2] - start
    expected = start + np.stack([-offset[:, 1], offset[:, 0]], axis=1)  # 90 deg anticlockwise
    np.testing.assert_allclose(turned[:, :2], expected, atol=1e-6)
    for a, b in zip(plain_info, turned_info, strict=True):
        np.testing.assert_array_equal(a["hand_pos"], b["hand_pos"])
        turned_hand = [-(a["hand_pos"] - start)[1], (a["hand_pos"] - start)[0]]
        np.testing.assert_allclose(b["cursor_pos"] - start, turned_hand, atol=1e-12)
        assert b["distance_m"] == pytest.approx(np.linalg.norm(b["cursor_pos"] - b["target_pos"]))


def test_reset_options_set_one_trial_and_then_the_argument_returns() -> None:
    env = gym.make("motorgym/CenterOut-v0", force_field="curl_ccw", force_field_gain_n_s_m=10.0)
    perturbations = env.unwrapped.task.perturbations
    env.reset(seed=0)
    np.testing.assert_array_equal(perturbations.field_n_s_m[0], 10.0 * np.array(FORCE_FIELD_PRESETS["curl_ccw"]))
    env.reset(seed=0, options={"force_field": [[1.0, 2.0], [3.0, 4.0]], "channel": True, "visual_rotation_deg": 30})
    np.testing.assert_array_equal(perturbations.field_n_s_m[0], [[1.0, 2.0], [3.0, 4.0]])
    assert perturbations.channel[0] and perturbations.rotated[0]
    env.reset(seed=0)
    np.testing.assert_array_equal(perturbations.field_n_s_m[0], 10.0 * np.array(FORCE_FIELD_PRESETS["curl_ccw"]))
    assert not perturbations.channel[0] and not perturbations.rotated[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(force_field=[[0.0, np.nan], [1.0, 0.0]]),
            r"force_field must be one of \['null', 'curl_cw', 'curl_ccw'\]",
        ),
        (dict(force_field=[[0.0, 1.0]]), r"force_field must be one of .* or a 2x2 matrix"),
        (dict(force_field="curl"), r"force_field must be one of \['null', 'curl_cw', 'curl_ccw'\] .*\(got 'curl'\)"),
        (dict(channel_stiffness_n_m=-1.0), r"channel_stiffness_n_m must be >= 0 \(got -1.0\)"),
        (dict(channel=1), r"channel must be True or False \(got 1\)"),
        (dict(load_pulse_force_n=(1.0, np.inf)), r"load_pulse_force_n must be a pair"),
        (dict(load_pulse_reference="movement"), r"load_pulse_reference must be one of \['go_cue', 'trial_start'\]"),
        (dict(load_pulse_onset_ms=15.0), r"load_pulse_onset_ms must be a whole multiple of control_step_ms=10"),
        (dict(visual_rotation_deg=270.0), r"visual_rotation_deg must be in \[-180, 180\]"),
        (
            dict(load_pulse_force_n=(1.0, 0.0), load_pulse_onset_ms=700.0, load_pulse_duration_ms=200.0),
            r"load_pulse_duration_ms must be short enough that the pulse ends within every trial: .* <= 800 ms",
        ),
    ],
)
def test_bad_perturbations_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gym.make("motorgym/CenterOut-v0", **kwargs).reset(seed=0)


def test_a_bad_reset_option_is_named() -> None:
    env = gym.make("motorgym/CenterOut-v0")
    with pytest.raises(ValueError, match="force_field must be one of"):
        env.reset(seed=0, options={"force_field": np.eye(3)})
    # Beyond the shortest trial (300 + 800 ms) as an option, as an argument:
    with pytest.raises(ValueError, match=r"load_pulse_duration_ms must be short enough .* <= 1100 ms after the trial"):
        env.reset(seed=0, options={"load_pulse_reference": "trial_start", "load_pulse_duration_ms": 1200.0})
    # within it, but not within this trial (200 + 800 ms long):
    with pytest.raises(ValueError, match="load_pulse_duration_ms must end within the trial: .* ends 50 ms after"):
        env.reset(seed=0, options={**GO_TRIAL, "load_pulse_reference": "trial_start", "load_pulse_duration_ms": 1050.0})


def test_the_rendered_hand_disc_is_the_cursor() -> None:
    frames = {}
    for angle in (0.0, 90.0):
        env = gym.make("motorgym/CenterOut-v0", render_mode="rgb_array", visual_rotation_deg=angle, **QUIET)
        env.reset(seed=0, options=GO_TRIAL)
        for _ in range(40):
            env.step(np.array([0.3, 0.3], dtype=np.float32))
        frames[angle] = env.render()
    # The same arm, a disc elsewhere: only the marker pixels differ.
    changed = np.any(frames[0.0] != frames[90.0], axis=2)
    assert 0 < changed.mean() < 0.05
