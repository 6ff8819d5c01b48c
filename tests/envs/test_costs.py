"""The per-step cost terms: each equals its formula, appears in info, and the reward is their sum."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import motorgym  # noqa: F401
from motorgym.envs.batched import REWARD_TERMS
from motorgym.envs.task import NEVER
from tests.conftest import QUIET

WEIGHTS = dict(
    distance_weight=1.5,
    effort_weight=0.2,
    speed_weight=2.0,
    activation_weight=3.0,
    activation_change_weight=5.0,
    time_weight=0.7,
    false_start_weight=0.9,
    delay_speed_weight=4.0,
)


def test_each_term_equals_its_formula_on_hand_made_values() -> None:
    env = gym.make("motorgym/MuscleCenterOut-v0", **WEIGHTS)
    task = env.unwrapped.task
    task.go_cue = np.array([True])
    task.in_target = np.array([False])
    task.distance_m, task.start_distance_m = np.array([0.08]), np.array([0.02])
    task.previous_activation = np.array([[0.1, 0.2, 0.0, 0.0, 0.5, 0.3]])
    command = np.array([[0.5, 0.0, 1.0, 0.0, 0.0, 0.2]])
    hand_vel = np.array([[0.3, -0.4]])  # 0.5 m/s
    activation = np.array([[0.2, 0.2, 0.1, 0.0, 0.5, 0.0]])
    terms = task.reward(command, hand_vel, activation)
    assert terms["distance"][0] == pytest.approx(-1.5 * 0.08)  # after the go cue: to the target
    assert terms["effort"][0] == pytest.approx(-0.2 * (0.25 + 1.0 + 0.04))
    assert terms["speed"][0] == pytest.approx(-2.0 * 0.25)
    assert terms["activation"][0] == pytest.approx(-3.0 * (0.04 + 0.04 + 0.01 + 0.25))
    assert terms["activation_change"][0] == pytest.approx(-5.0 * (0.01 + 0.0 + 0.01 + 0.0 + 0.0 + 0.09))
    assert terms["time"][0] == pytest.approx(-0.7)
    assert terms["false_start"][0] == 0.0
    assert terms["delay_speed"][0] == 0.0  # after the go cue: no longer waiting
    np.testing.assert_array_equal(task.previous_activation, activation)  # the next step's reference
    task.in_target = np.array([True])
    task.go_cue = np.array([False])
    terms = task.reward(command, hand_vel, activation)
    assert terms["time"][0] == 0.0 and terms["activation_change"][0] == 0.0  # in the target; no change
    assert terms["distance"][0] == pytest.approx(-1.5 * 0.02)  # before the go cue: to the start
    assert terms["delay_speed"][0] == pytest.approx(-4.0 * 0.25)  # and holding still is asked
    task.false_start_now = np.array([True])
    assert task.reward(command, hand_vel, activation)["false_start"][0] == pytest.approx(-0.9)
    env.close()


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v0", "motorgym/MuscleCenterOut-v0"])
def test_terms_in_info_sum_to_the_reward_and_follow_the_arm(env_id: str) -> None:
    env = gym.make(env_id, **WEIGHTS, **QUIET)
    arm = env.unwrapped.arm
    env.reset(seed=3, options={"delay_ms": 300.0, "catch_trial": False})
    rng = np.random.default_rng(0)
    previous = arm.act.copy()
    steps = false_starts = 0
    was_false_start = False
    while steps < 60:
        steps += 1
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        _, reward, terminated, truncated, info = env.step(action)
        terms = {k: v for k, v in info.items() if k.startswith("reward_")}
        assert len(terms) == len(REWARD_TERMS) and reward == pytest.approx(sum(terms.values()))
        assert info["reward_speed"] == pytest.approx(-2.0 * float(np.sum(arm.hand_vel[0] ** 2)))
        assert info["reward_activation"] == pytest.approx(-3.0 * float(np.sum(arm.act[0] ** 2)))
        assert info["reward_activation_change"] == pytest.approx(-5.0 * float(np.sum((arm.act[0] - previous[0]) ** 2)))
        going = info["go_cue"] and info["distance_m"] > env.unwrapped.config.target_radius_m
        assert info["reward_time"] == pytest.approx(-0.7 if going else 0.0)
        waiting_speed = 0.0 if info["go_cue"] else -4.0 * float(np.sum(arm.hand_vel[0] ** 2))
        assert info["reward_delay_speed"] == pytest.approx(waiting_speed)
        now = info["false_start"] and not was_false_start  # charged once, on the step it happens
        assert info["reward_false_start"] == pytest.approx(-0.9 if now else 0.0)
        false_starts += now
        was_false_start = info["false_start"]
        previous = arm.act.copy()
        if terminated or truncated:
            break
    assert steps > 30 and (arm.act.shape[1] == 0 or info["reward_activation"] < 0)
    assert false_starts == 1  # random commands leave the start zone during the 300 ms delay
    env.close()


def test_the_default_weights_leave_the_new_terms_at_zero() -> None:
    env = gym.make("motorgym/MuscleCenterOut-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert all(info[f"reward_{t}"] == 0 for t in REWARD_TERMS[2:])
    with pytest.raises(ValueError, match=r"time_weight must be >= 0 \(got -1\)"):
        gym.make("motorgym/CenterOut-v0", time_weight=-1)
    with pytest.raises(ValueError, match=r"state_cost_onset_ms must be >= 0 \(got -10\)"):
        gym.make("motorgym/CenterOut-v0", state_cost_onset_ms=-10)
    with pytest.raises(ValueError, match=r"state_cost_onset_ms must be a whole multiple of control_step_ms=10"):
        gym.make("motorgym/CenterOut-v0", state_cost_onset_ms=15)
    env.close()


def test_with_a_cue_latency_the_goal_moves_when_the_cue_is_processed() -> None:
    env = gym.make("motorgym/CenterOut-v0", go_cue_latency_ms=100.0, **WEIGHTS)
    task = env.unwrapped.task
    task.go_cue, task.in_target = np.array([True]), np.array([False])
    task.distance_m, task.start_distance_m = np.array([0.08]), np.array([0.02])
    task.go_step = np.array([40])
    none = np.zeros((1, 0))
    for steps, distance, time in ((45, 0.02, 0.0), (50, 0.08, -0.7)):  # processed at go + 10 steps
        task.steps = np.array([steps])
        terms = task.reward(np.zeros((1, 2)), np.zeros((1, 2)), none)
        assert terms["distance"][0] == pytest.approx(-1.5 * distance) and terms["time"][0] == pytest.approx(time)
    env.close()


def test_no_distance_or_speed_is_charged_from_the_processed_cue_until_the_state_cost_onset() -> None:
    env = gym.make("motorgym/CenterOut-v0", go_cue_latency_ms=100.0, state_cost_onset_ms=200.0, **WEIGHTS)
    task = env.unwrapped.task
    task.go_cue, task.in_target = np.array([True]), np.array([False])
    task.distance_m, task.start_distance_m = np.array([0.08]), np.array([0.02])
    task.go_step = np.array([40])
    none = np.zeros((1, 0))
    hand_vel = np.array([[0.3, -0.4]])  # 0.5 m/s
    # Processed at go + 10 steps (step 50); the hand's state counts again from 20 steps later.
    for steps, distance, charged in ((49, 0.02, 1), (50, 0.0, 0), (69, 0.0, 0), (70, 0.08, 1), (95, 0.08, 1)):
        task.steps = np.array([steps])
        terms = task.reward(np.zeros((1, 2)), hand_vel, none)
        assert terms["distance"][0] == pytest.approx(-1.5 * distance)
        assert terms["speed"][0] == pytest.approx(-2.0 * 0.25 * charged)
        assert terms["time"][0] == pytest.approx(-0.7 if steps >= 50 else 0.0)  # the time cost is unchanged
    task.go_step = np.array([NEVER])  # a catch trial: the start is the goal all trial long
    task.steps = np.array([60])
    assert task.reward(np.zeros((1, 2)), np.zeros((1, 2)), none)["distance"][0] == pytest.approx(-1.5 * 0.02)
    env.close()


def test_a_state_cost_onset_leaves_the_distance_out_of_the_reward_in_a_trial() -> None:
    env = gym.make("motorgym/MuscleCenterOut-v2", state_cost_onset_ms=450.0)
    env.reset(seed=0, options={"catch_trial": False, "delay_ms": 300.0})
    task, infos = env.unwrapped.task, []
    for _ in range(100):
        infos.append(env.step(np.zeros(6, dtype=np.float32))[-1])
    processed = int(task.go_step[0]) + task.cue_latency_steps  # the step count when the cue is processed
    # Step k's info follows the (k + 1)-th step: charged until the cue is processed and 45 steps after.
    expected = [not (processed <= k + 1 < processed + 45) for k in range(100)]
    assert [info["reward_distance"] != 0.0 for info in infos] == expected
    for info in infos[processed + 44 :]:  # to the target, at full weight
        assert info["reward_distance"] == pytest.approx(-info["distance_m"])
    env.close()


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v1", "motorgym/MuscleCenterOut-v1"])
def test_cost_weights_change_the_reward_only(env_id: str) -> None:
    """What EnvConfig.cost_argument_names promises (and pooled training data relies on): the
    cost arguments (the *_weight ones and state_cost_onset_ms) never change the motion, the
    observations or the episode's end."""
    names = gym.make(env_id).unwrapped.config.cost_argument_names()
    assert {"effort_weight", "false_start_weight", "state_cost_onset_ms"} <= set(names)
    assert "target_radius_m" not in names
    runs = []
    for weights in ({}, {name: 300.0 if name.endswith("_ms") else 0.37 for name in names}):
        env = gym.make(env_id, **weights)
        obs, _ = env.reset(seed=4)
        space = env.action_space
        actions = np.random.default_rng(0).uniform(space.low, space.high, (60, *space.shape))
        trajectory = [obs]
        rewards = []
        for action in actions.astype(np.float32):
            obs, reward, terminated, truncated, info = env.step(action)
            trajectory.append(obs)
            rewards.append(reward)
            if terminated or truncated:
                break
        runs.append((np.array(trajectory), np.array(rewards)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not np.allclose(runs[0][1], runs[1][1])
