"""A registered id's behaviour is frozen: each id reproduces trajectories recorded when it was
released (new keyword arguments keep defaults that leave the older versions as they were), a
v1 id is its v0 task with the human-like defaults, a v2 id its v1 task with the v2 defaults and a
v3 id its v2 task with the v3 defaults, nothing else.

To record a new version's file: ``python -m tests.envs.test_frozen_ids v2`` (once, at its release);
run again after a new id of that version is released, it adds that id's record and keeps the others.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import motorgym  # noqa: F401
from motorgym.envs.config import EnvConfig, HumanLikeConfig, HumanLikeV2Config, HumanLikeV3Config
from motorgym.envs.registration import ENV_IDS

FIXTURES = Path(__file__).parents[1] / "fixtures"
#: Long enough for the go cue and a set movement time after it (v3) to pass.
STEPS = 150
VERSIONS = ("v0", "v1", "v2", "v3")
#: Each newer version: the version before it and the config classes whose defaults tell them apart.
NEWER = {
    "v1": ("v0", EnvConfig, HumanLikeConfig),
    "v2": ("v1", HumanLikeConfig, HumanLikeV2Config),
    "v3": ("v2", HumanLikeV2Config, HumanLikeV3Config),
}


def recorded_file(version: str) -> Path:
    return FIXTURES / f"{version}_trajectories.npz"


def trajectory(env_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Observations and rewards of: reset(seed=123), 150 uniform random actions from
    default_rng(7), reset(seed=1000 + t) after an episode ending at step t."""
    env = gym.make(env_id)
    rng = np.random.default_rng(7)
    obs, _ = env.reset(seed=123)
    observations, rewards = [obs], []
    for t in range(150):
        obs, reward, terminated, truncated, _ = env.step(
            rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        )
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            obs, _ = env.reset(seed=1000 + t)
            observations.append(obs)
    env.close()
    return np.array(observations), np.array(rewards)


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_each_id_reproduces_its_recorded_trajectory(env_id: str) -> None:
    """v0 was recorded at commit 'PPO activity costs' (before the cost terms of issue 14), v1, v2
    and v3 at their release."""
    key, version = env_id.split("/")[1], env_id.rsplit("-", 1)[1]
    assert version in VERSIONS, f"record {env_id}: python -m tests.envs.test_frozen_ids {version}"
    with np.load(recorded_file(version)) as recorded:
        expected_obs, expected_reward = recorded[f"{key}_obs"], recorded[f"{key}_reward"]
    observations, rewards = trajectory(env_id)
    np.testing.assert_allclose(observations, expected_obs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rewards, expected_reward, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("env_id", sorted(i for i in ENV_IDS if i.rsplit("-", 1)[1] in NEWER))
def test_a_newer_version_is_the_one_before_with_its_new_defaults(env_id: str) -> None:
    version = env_id.rsplit("-", 1)[1]
    before, older_defaults, newer_defaults = NEWER[version]
    before_id = env_id.replace(f"-{version}", f"-{before}")
    config, before_config = (gym.spec(i).make().unwrapped.config for i in (env_id, before_id))
    changed = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(before_config, f.name)
    }
    older = {f.name: f.default for f in dataclasses.fields(older_defaults)}
    new_defaults = {f.name for f in dataclasses.fields(newer_defaults) if f.default != older[f.name]}
    task_own = {"response_window_ms"} if "CenterOut" in env_id and version == "v1" else set()
    assert changed and set(changed) == new_defaults | task_own
    # The same class behind both: the older id given the new defaults walks the newer one's trajectory.
    steps = gym.spec(env_id).max_episode_steps
    # The same observations and rewards: a version whose new defaults change only costs is caught too.
    for newer, older in zip(_steps(env_id), _steps(before_id, max_episode_steps=steps, **changed), strict=True):
        np.testing.assert_array_equal(newer, older)


def _steps(env_id: str, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    """Observations and rewards of ``STEPS`` steps of random actions."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=4)
    rng = np.random.default_rng(3)
    low, high = env.action_space.low, env.action_space.high
    steps = [env.step(rng.uniform(low, high).astype(np.float32))[:2] for _ in range(STEPS)]
    env.close()
    return np.array([obs for obs, _ in steps]), np.array([reward for _, reward in steps])


if __name__ == "__main__":  # record the trajectories of a version's new ids, once, at their release
    version = sys.argv[1]
    path = recorded_file(version)
    recorded = dict(np.load(path)) if path.exists() else {}  # a released id's record is never rewritten
    ids = sorted(i for i in ENV_IDS if i.endswith(f"-{version}") and f"{i.split('/')[1]}_obs" not in recorded)
    if not ids:
        raise SystemExit(f"every {version} id is recorded in {path}")
    for env_id in ids:
        key = env_id.split("/")[1]
        recorded[f"{key}_obs"], recorded[f"{key}_reward"] = trajectory(env_id)
    np.savez_compressed(path, **recorded)
    print(f"recorded {', '.join(ids)} in {path}")
