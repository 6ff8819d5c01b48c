"""Reach: from a random posture, move the hand to a random target and hold it there.

Versions: ``-v0`` (the first task, frozen), ``-v1`` (human-like defaults, see
:class:`motorgym.envs.config.HumanLikeConfig`, and 2 s episodes for the slower reaches) and ``-v2``
(v1 with a larger effort cost and a smaller speed cost, for a human speed profile:
:class:`motorgym.envs.config.HumanLikeV2Config`; MuscleReach-v2 since the muscle arm's calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from motorgym.envs import doc_tables
from motorgym.envs.config import EnvConfig, HumanLikeConfig, HumanLikeV2Config, HumanLikeV3Config, require
from motorgym.envs.single import ArmTaskEnv
from motorgym.envs.task import NEVER, ReachingTask
from motorgym.envs.vector import ArmTaskVectorEnv

#: Start postures and targets are drawn this far inside the joint limits.
JOINT_MARGIN_RAD = np.deg2rad(10.0)
MAX_EPISODE_STEPS = 150
MAX_EPISODE_STEPS_V1 = 200


@dataclass(frozen=True)
class ReachConfig(EnvConfig):
    """Arguments of Reach-v0 and MuscleReach-v0."""

    min_reach_distance_m: float = 0.05
    """Smallest distance between the start and the target hand positions, metres."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            "min_reach_distance_m", self.min_reach_distance_m, 0 <= self.min_reach_distance_m <= 0.3, "in [0, 0.3] m"
        )


@dataclass(frozen=True)
class ReachV1Config(HumanLikeConfig, ReachConfig):
    """Arguments of Reach-v1 and MuscleReach-v1: v0's, with the human-like defaults."""


@dataclass(frozen=True)
class ReachV2Config(HumanLikeV2Config, ReachV1Config):
    """Arguments of Reach-v2: v1's, with the v2 costs."""


@dataclass(frozen=True)
class ReachV3Config(HumanLikeV3Config, ReachV2Config):
    """Arguments of MuscleReach-v3: v2's, with the v3 movement time."""


class ReachTask(ReachingTask[ReachConfig]):
    """Random reaching: the go cue is given at once; no start zone, no catch trials, no end time."""

    def _random_postures(self, rng: np.random.Generator, count: int) -> np.ndarray:
        low = self.arm.joint_range_rad[:, 0] + JOINT_MARGIN_RAD
        high = self.arm.joint_range_rad[:, 1] - JOINT_MARGIN_RAD
        return rng.uniform(low, high, size=(count, 2))

    def sample_trials(
        self, ids: np.ndarray, rngs: Sequence[np.random.Generator], options: dict[str, Any]
    ) -> np.ndarray:
        starts = np.zeros((len(ids), 2))
        for row, (env, rng) in enumerate(zip(ids, rngs, strict=True)):
            start = self._random_postures(rng, 1)[0]
            start_hand = self.arm.forward_kinematics(start)
            while True:  # rejection sampling: the target must be far enough from the start
                target = self.arm.forward_kinematics(self._random_postures(rng, 1)[0])
                if np.linalg.norm(target - start_hand) >= self.config.min_reach_distance_m:
                    break
            starts[row] = start
            self.start_pos[env] = start_hand
            self.target_pos[env] = target
        self.start_radius_m[ids] = np.inf
        self.go_step[ids] = 0
        self.end_step[ids] = NEVER
        self.catch_trial[ids] = False
        self.target_index[ids] = -1
        return starts


def _episode_end(max_episode_steps: int) -> str:
    return f"""\
| the hand has stayed in the target for hold_ms (at most hold_max_speed_m_s fast, if set) | terminated; info["success"] = True |
| the simulation went unstable | terminated; info["physics_error"] = True |
| {max_episode_steps} steps ({max_episode_steps / 100:g} s at the default control step) | truncated (max_episode_steps of the registration) |"""


_TASK_ARGUMENTS = {
    "min_reach_distance_m": "smallest start-to-target distance, m",
}

_SUMMARY = """Reach the hand from a random posture to a random target in the workspace and hold it there.

    Each episode draws a start posture and a target posture uniformly inside the joint ranges (10 deg
    from each limit), at least ``min_reach_distance_m`` apart in hand space. The target is shown and
    the go cue is on from the first step."""


class ReachEnv(ArmTaskEnv):
    env_name = "motorgym/Reach-v0"
    arm_kind = "torque"
    task_cls = ReachTask
    config_cls = ReachConfig


class MuscleReachEnv(ArmTaskEnv):
    env_name = "motorgym/MuscleReach-v0"
    arm_kind = "muscle"
    task_cls = ReachTask
    config_cls = ReachConfig


class ReachV1Env(ReachEnv):
    env_name = "motorgym/Reach-v1"
    config_cls = ReachV1Config


class MuscleReachV1Env(MuscleReachEnv):
    env_name = "motorgym/MuscleReach-v1"
    config_cls = ReachV1Config


class ReachV2Env(ReachEnv):
    env_name = "motorgym/Reach-v2"
    config_cls = ReachV2Config


class MuscleReachV2Env(MuscleReachEnv):
    env_name = "motorgym/MuscleReach-v2"
    config_cls = ReachV2Config


class MuscleReachV3Env(MuscleReachEnv):
    env_name = "motorgym/MuscleReach-v3"
    config_cls = ReachV3Config


_INFO_NOTE = "In this task ``target_index`` is -1, ``catch_trial`` and ``false_start`` are always False."
for _env, _steps in (
    (ReachEnv, MAX_EPISODE_STEPS),
    (MuscleReachEnv, MAX_EPISODE_STEPS),
    (ReachV1Env, MAX_EPISODE_STEPS_V1),
    (MuscleReachV1Env, MAX_EPISODE_STEPS_V1),
    (ReachV2Env, MAX_EPISODE_STEPS_V1),
    (MuscleReachV2Env, MAX_EPISODE_STEPS_V1),
    (MuscleReachV3Env, MAX_EPISODE_STEPS_V1),
):
    _env.__doc__ = doc_tables.env_docstring(_env, _SUMMARY, _episode_end(_steps), _TASK_ARGUMENTS, _INFO_NOTE)


class ReachVectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/Reach-v0", num_envs=N)``: N environments of :class:`ReachEnv` stepped together.

    The tables of :class:`ReachEnv` hold per environment; the batching arguments and ``info``
    layout are in :mod:`motorgym.envs.vector`.
    """

    env_cls = ReachEnv


class MuscleReachVectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleReach-v0", num_envs=N)``: N environments of :class:`MuscleReachEnv` stepped together.

    The tables of :class:`MuscleReachEnv` hold per environment; the batching arguments and ``info``
    layout are in :mod:`motorgym.envs.vector`.
    """

    env_cls = MuscleReachEnv


class ReachV1VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/Reach-v1", num_envs=N)``: N environments of :class:`ReachV1Env` stepped together."""

    env_cls = ReachV1Env


class MuscleReachV1VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleReach-v1", num_envs=N)``: N environments of :class:`MuscleReachV1Env` stepped
    together."""

    env_cls = MuscleReachV1Env


class ReachV2VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/Reach-v2", num_envs=N)``: N environments of :class:`ReachV2Env` stepped together."""

    env_cls = ReachV2Env


class MuscleReachV2VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleReach-v2", num_envs=N)``: N environments of :class:`MuscleReachV2Env` stepped
    together."""

    env_cls = MuscleReachV2Env


class MuscleReachV3VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleReach-v3", num_envs=N)``: N environments of :class:`MuscleReachV3Env` stepped
    together."""

    env_cls = MuscleReachV3Env
