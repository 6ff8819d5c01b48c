"""Sensory delays are exact; observation and motor noise are what the arguments say."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from motorgym.envs.sensors import DelayLine
from tests.conftest import QUIET

VISION = slice(0, 5)
PROPRIO = slice(5, None)


def test_delay_line_returns_the_value_pushed_delay_steps_ago() -> None:
    line = DelayLine(num_envs=2, dim=1, delay_steps=3)
    assert np.array_equal(line.reset(np.arange(2), np.array([[-1.0], [-2.0]])), [[-1.0], [-2.0]])
    outputs = [line.push(np.array([[t], [10.0 + t]])) for t in range(6)]
    np.testing.assert_array_equal(np.concatenate(outputs, axis=1), [[-1, -1, -1, 0, 1, 2], [-2, -2, -2, 10, 11, 12]])
    immediate = DelayLine(num_envs=1, dim=2, delay_steps=0)
    np.testing.assert_array_equal(immediate.push(np.array([[3.0, 4.0]])), [[3.0, 4.0]])
    line.reset(np.array([1]), np.array([[7.0]]))  # one env's history restarts, the other's goes on
    np.testing.assert_array_equal(line.push(np.array([[6.0], [16.0]])), [[3.0], [7.0]])


def _observations(env_id: str, actions: np.ndarray, **kwargs: float) -> np.ndarray:
    env = gym.make(env_id, **{**QUIET, **kwargs})
    obs, _ = env.reset(seed=3, options={"delay_ms": 100.0, "target_index": 1, "catch_trial": False})
    observations = [obs]
    for action in actions:
        observations.append(env.step(action)[0])
    return np.array(observations)


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v0", "motorgym/MuscleCenterOut-v0"])
@pytest.mark.parametrize("visual_ms, proprio_ms", [(50.0, 20.0), (120.0, 60.0)])
def test_delayed_observation_equals_the_undelayed_one_from_delay_ago(
    env_id: str, visual_ms: float, proprio_ms: float
) -> None:
    env = gym.make(env_id)
    actions = np.random.default_rng(0).uniform(
        env.action_space.low, env.action_space.high, (40, env.action_space.shape[0])
    )
    now = _observations(env_id, actions, visual_delay_ms=0.0, proprio_delay_ms=0.0)
    late = _observations(env_id, actions, visual_delay_ms=visual_ms, proprio_delay_ms=proprio_ms)
    v, p = int(visual_ms / 10), int(proprio_ms / 10)
    np.testing.assert_array_equal(late[v:, VISION], now[:-v, VISION])
    np.testing.assert_array_equal(late[p:, PROPRIO], now[:-p, PROPRIO])
    # Before the first delayed sample arrives, the senses report the resting start state.
    np.testing.assert_array_equal(late[:v, VISION], np.repeat(now[:1, VISION], v, axis=0))
    np.testing.assert_array_equal(late[:p, PROPRIO], np.repeat(now[:1, PROPRIO], p, axis=0))
    # The go cue (100 ms) reaches the observation visual_ms later.
    assert np.flatnonzero(late[:, 4])[0] == 10 + v


def test_observation_noise_has_the_configured_size() -> None:
    actions = np.zeros((300, 2))
    clean = _observations("motorgym/CenterOut-v0", actions)
    noisy = _observations("motorgym/CenterOut-v0", actions, visual_noise_std_m=0.002, proprio_noise_std=0.01)
    noise = noisy - clean
    assert np.std(noise[:, 0:4]) == pytest.approx(0.002, rel=0.1)
    assert np.std(noise[:, 5:]) == pytest.approx(0.01, rel=0.1)
    np.testing.assert_allclose(noise[:, 4], 0.0)  # the go cue is a clean symbol
    assert abs(np.corrcoef(noise[:-1, 5], noise[1:, 5])[0, 1]) < 0.2  # white


def test_motor_noise_is_signal_dependent() -> None:
    """u (1 + c eps): zero commands stay noiseless; a constant command scatters the hand by seed."""

    def final_hand(seed: int, action: np.ndarray, coef: float) -> np.ndarray:
        env = gym.make("motorgym/Reach-v0", proprio_noise_std=0.0, visual_noise_std_m=0.0, motor_noise_coef=coef)
        env.reset(seed=0)
        env.unwrapped.np_random = np.random.default_rng(seed)  # same trial, different motor noise
        for _ in range(20):
            _, _, _, _, info = env.step(action)
        return info["hand_pos"]

    push = np.array([0.3, -0.2])
    quiet = [final_hand(seed, push, 0.0) for seed in range(3)]
    noisy = [final_hand(seed, push, 0.2) for seed in range(3)]
    resting = [final_hand(seed, np.zeros(2), 0.2) for seed in range(3)]
    assert np.ptp(quiet, axis=0).max() == 0.0
    assert np.ptp(noisy, axis=0).max() > 1e-3
    assert np.ptp(resting, axis=0).max() == 0.0


def test_noise_source_gives_each_env_its_own_stream() -> None:
    """Blocks drawn ahead give each env exactly its generator's sequence, whatever N and activity."""
    from motorgym.envs.sensors import NoiseSource

    size, steps = 3, 150  # more than two blocks of 64
    alone = NoiseSource(1, size)
    rng = np.random.default_rng(42)
    expected = np.random.default_rng(42).standard_normal((steps, size))
    np.testing.assert_array_equal(np.concatenate([alone.draw([rng]) for _ in range(steps)]), expected)

    together = NoiseSource(3, size)
    rngs = [np.random.default_rng(s) for s in (40, 41, 42)]
    active = np.array([True, False, True])
    rows = [together.draw(rngs, active=active if t % 2 else None) for t in range(steps)]
    np.testing.assert_array_equal([r[1] for r in rows[1::2]], np.zeros((steps // 2, size)))  # inactive: zeros
    np.testing.assert_array_equal([r[2] for r in rows], expected)  # env 2's stream is untouched by the others
    np.testing.assert_array_equal(
        [r[1] for r in rows[0::2]], np.random.default_rng(41).standard_normal((steps // 2, size))
    )
    rngs[2] = np.random.default_rng(42)  # a new generator (a new seed) restarts that env's stream
    np.testing.assert_array_equal(together.draw(rngs)[2], expected[0])
