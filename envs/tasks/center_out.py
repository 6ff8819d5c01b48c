"""CenterOut: the instructed-delay centre-out reaching task, with catch trials.

Versions: ``-v0`` (the first task, frozen), ``-v1`` (human-like defaults: a cue-processing
latency, costs of hand speed and of false starts, a longer response window; see
:class:`motorgym.envs.config.HumanLikeConfig`) and ``-v2`` (v1 with a larger effort cost and a
smaller speed cost, for a human speed profile: :class:`motorgym.envs.config.HumanLikeV2Config`;
MuscleCenterOut-v2 since the muscle arm's calibration, ``muscle6``).

As run in monkey and human motor-cortex studies (e.g. Churchland, Cunningham, Kaufman, Ryu & Shenoy
2010; 2012): the hand rests at a central start position; one of ``n_targets`` targets on a circle
is shown; after a random delay a go cue tells the subject to reach it and hold. In catch trials no
go cue comes and the hand must stay put. Leaving the start zone before the go cue is a false start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from motorgym.envs import doc_tables
from motorgym.envs.arm import Arm
from motorgym.envs.config import (
    EnvConfig,
    HumanLikeConfig,
    HumanLikeV2Config,
    HumanLikeV3Config,
    is_finite_pair,
    require,
)
from motorgym.envs.single import ArmTaskEnv
from motorgym.envs.task import NEVER, ReachingTask
from motorgym.envs.vector import ArmTaskVectorEnv

MAX_EPISODE_STEPS = 200


@dataclass(frozen=True)
class CenterOutConfig(EnvConfig):
    """Arguments of CenterOut-v0 and MuscleCenterOut-v0."""

    n_targets: int = 8
    """Number of targets, evenly spaced on a circle around the start, the first straight right (+x)."""
    target_distance_m: float = 0.10
    """Distance from the start position to each target, metres."""
    delay_range_ms: tuple[float, float] = (300.0, 700.0)
    """Instructed delay between the target cue (trial start) and the go cue, uniform in this range, ms."""
    catch_fraction: float = 0.1
    """Fraction of catch trials, which never get a go cue."""
    start_radius_m: float = 0.02
    """Radius of the start zone; leaving it before the go cue is a false start, metres."""
    response_window_ms: float = 800.0
    """Time from the go cue (or, in catch trials, from the end of the delay) to the end of the trial."""
    start_joint_angles_deg: tuple[float, float] = (45.0, 90.0)
    """Shoulder and elbow angles of the start posture; its hand position is the start position."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("delay_range_ms", "start_joint_angles_deg"):
            value = getattr(self, name)
            require(name, value, is_finite_pair(value), "a pair of finite numbers")
            object.__setattr__(self, name, (float(value[0]), float(value[1])))
        require(
            "n_targets",
            self.n_targets,
            isinstance(self.n_targets, int) and 1 <= self.n_targets <= 360,
            "an int in [1, 360]",
        )
        require("target_distance_m", self.target_distance_m, 0 < self.target_distance_m <= 0.3, "in (0, 0.3] m")
        low, high = self.delay_range_ms
        require("delay_range_ms", self.delay_range_ms, 0 <= low <= high, "(low, high) with 0 <= low <= high ms")
        require("catch_fraction", self.catch_fraction, 0 <= self.catch_fraction <= 1, "in [0, 1]")
        require("start_radius_m", self.start_radius_m, 0 < self.start_radius_m <= 0.1, "in (0, 0.1] m")
        require(
            "response_window_ms",
            self.response_window_ms,
            self.response_window_ms > self.hold_ms,
            f"longer than hold_ms={self.hold_ms:g}",
        )
        # The shortest trial: the shortest delay, then the response window.
        pulse_end_ms = self.load_pulse_onset_ms + self.load_pulse_duration_ms
        room_ms = self.response_window_ms + (low if self.load_pulse_reference == "trial_start" else 0.0)
        require(
            "load_pulse_duration_ms",
            self.load_pulse_duration_ms,
            self.load_pulse_duration_ms == 0 or pulse_end_ms <= room_ms,
            f"short enough that the pulse ends within every trial: load_pulse_onset_ms + load_pulse_duration_ms "
            f"<= {room_ms:g} ms after the {self.load_pulse_reference.replace('_', ' ')}",
        )


@dataclass(frozen=True)
class CenterOutV1Config(HumanLikeConfig, CenterOutConfig):
    """Arguments of CenterOut-v1 and MuscleCenterOut-v1: v0's, with the human-like defaults."""

    response_window_ms: float = 1200.0
    """Time from the go cue to the end of the trial: room for a human reaction time, a reach of
    400-650 ms and the hold."""


@dataclass(frozen=True)
class CenterOutV2Config(HumanLikeV2Config, CenterOutV1Config):
    """Arguments of CenterOut-v2: v1's, with the v2 costs."""


@dataclass(frozen=True)
class CenterOutV3Config(HumanLikeV3Config, CenterOutV2Config):
    """Arguments of MuscleCenterOut-v3: v2's, with the v3 movement time."""


class CenterOutTask(ReachingTask[CenterOutConfig]):
    """Instructed-delay centre-out trials, vectorised over environments."""

    reset_options = {
        "target_index": "int in [0, n_targets): the target of this trial",
        "catch_trial": "bool: force (True) or forbid (False) a catch trial",
        "delay_ms": "float: the instructed delay of this trial",
        **ReachingTask.reset_options,
    }

    def __init__(self, config: CenterOutConfig, arm: Arm, num_envs: int) -> None:
        super().__init__(config, arm, num_envs)
        self.start_joint_angles_rad = np.deg2rad(config.start_joint_angles_deg)
        require(
            "start_joint_angles_deg",
            config.start_joint_angles_deg,
            bool(arm.within_joint_range(self.start_joint_angles_rad)),
            f"inside the joint ranges {np.rad2deg(arm.joint_range_rad).round(1).tolist()} deg",
        )
        self.center_m = arm.forward_kinematics(self.start_joint_angles_rad)
        angles = 2 * np.pi * np.arange(config.n_targets) / config.n_targets
        self.targets_m = self.center_m + config.target_distance_m * np.stack([np.cos(angles), np.sin(angles)], 1)
        try:
            reachable = arm.within_joint_range(arm.inverse_kinematics(self.targets_m)).all()
        except ValueError:
            reachable = False
        require(
            "target_distance_m",
            config.target_distance_m,
            bool(reachable),
            f"small enough that every target around the start (hand at {self.center_m.round(3).tolist()} m, "
            "set by start_joint_angles_deg) is inside the joint ranges",
        )
        self.response_steps = int(round(config.response_window_ms / self.step_ms))

    def sample_trials(
        self, ids: np.ndarray, rngs: Sequence[np.random.Generator], options: dict[str, Any]
    ) -> np.ndarray:
        config = self.config
        for env, rng in zip(ids, rngs, strict=True):
            # Always draw all three, so that options do not shift the random stream of later trials.
            catch = rng.random() < config.catch_fraction
            target = int(rng.integers(config.n_targets))
            delay_ms = rng.uniform(*config.delay_range_ms)
            catch = bool(options.get("catch_trial", catch))
            target = options.get("target_index", target)
            require(
                "target_index",
                target,
                isinstance(target, (int, np.integer)) and 0 <= target < config.n_targets,
                f"an int in [0, {config.n_targets})",
            )
            delay_ms = float(options.get("delay_ms", delay_ms))
            require("delay_ms", delay_ms, delay_ms >= 0, ">= 0")
            delay_steps = int(round(delay_ms / self.step_ms))
            self.catch_trial[env] = catch
            self.target_index[env] = target
            self.target_pos[env] = self.targets_m[target]
            self.go_step[env] = NEVER if catch else delay_steps
            self.end_step[env] = delay_steps + self.response_steps
        self.start_pos[ids] = self.center_m
        self.start_radius_m[ids] = config.start_radius_m
        return np.tile(self.start_joint_angles_rad, (len(ids), 1))


_EPISODE_END = f"""\
| go trial: after the go cue, the hand has stayed in the target for hold_ms (at most hold_max_speed_m_s fast, if set), with no false start | terminated; info["success"] = True |
| response_window_ms after the go cue (go trial) or after the delay (catch trial) | terminated; info["success"] = True for a catch trial without a false start, else False |
| the simulation went unstable | terminated; info["physics_error"] = True |
| {MAX_EPISODE_STEPS} steps (2 s at the default control step) | truncated (max_episode_steps of the registration) |"""

_TASK_ARGUMENTS = {
    "n_targets": "number of targets, evenly spaced, the first to the right (+x)",
    "target_distance_m": "start-to-target distance, m",
    "delay_range_ms": "range of the uniform instructed delay (cue to go), ms",
    "catch_fraction": "fraction of catch trials (no go cue)",
    "start_radius_m": "radius of the start zone, m",
    "response_window_ms": "time from the go cue to the end of the trial, ms",
    "start_joint_angles_deg": "shoulder and elbow angles of the start posture, deg",
}

_SUMMARY = """Instructed-delay centre-out reaching with catch trials.

    The hand starts at rest at the centre (``start_joint_angles_deg``). From the first step one of
    ``n_targets`` targets ``target_distance_m`` away is shown; after a delay drawn from
    ``delay_range_ms`` the go cue turns on, and the hand must reach the target and hold it for
    ``hold_ms``. In catch trials (``catch_fraction``) no go cue comes and the hand must stay in the
    start zone. Leaving the start zone before the go cue sets ``info["false_start"]`` (the trial
    goes on but cannot succeed). ``reset(options=...)`` accepts ``target_index``, ``catch_trial``
    and ``delay_ms`` to choose a trial. With a longer ``delay_range_ms``, ``response_window_ms`` or
    a shorter ``control_step_ms``, pass a larger ``max_episode_steps`` to ``gym.make``."""


class CenterOutEnv(ArmTaskEnv):
    env_name = "motorgym/CenterOut-v0"
    arm_kind = "torque"
    task_cls = CenterOutTask
    config_cls = CenterOutConfig


class MuscleCenterOutEnv(ArmTaskEnv):
    env_name = "motorgym/MuscleCenterOut-v0"
    arm_kind = "muscle"
    task_cls = CenterOutTask
    config_cls = CenterOutConfig


class CenterOutV1Env(CenterOutEnv):
    env_name = "motorgym/CenterOut-v1"
    config_cls = CenterOutV1Config


class MuscleCenterOutV1Env(MuscleCenterOutEnv):
    env_name = "motorgym/MuscleCenterOut-v1"
    config_cls = CenterOutV1Config


class CenterOutV2Env(CenterOutEnv):
    env_name = "motorgym/CenterOut-v2"
    config_cls = CenterOutV2Config


class MuscleCenterOutV2Env(MuscleCenterOutEnv):
    env_name = "motorgym/MuscleCenterOut-v2"
    config_cls = CenterOutV2Config


class MuscleCenterOutV3Env(MuscleCenterOutEnv):
    env_name = "motorgym/MuscleCenterOut-v3"
    config_cls = CenterOutV3Config


_INFO_NOTE = "``target_index`` is the cued target (0 is to the right, counter-clockwise)."
for _env in (
    CenterOutEnv,
    MuscleCenterOutEnv,
    CenterOutV1Env,
    MuscleCenterOutV1Env,
    CenterOutV2Env,
    MuscleCenterOutV2Env,
    MuscleCenterOutV3Env,
):
    _env.__doc__ = doc_tables.env_docstring(_env, _SUMMARY, _EPISODE_END, _TASK_ARGUMENTS, _INFO_NOTE)


class CenterOutVectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/CenterOut-v0", num_envs=N)``: N environments of :class:`CenterOutEnv` stepped together.

    The tables of :class:`CenterOutEnv` hold per environment; the batching arguments and ``info``
    layout are in :mod:`motorgym.envs.vector`.
    """

    env_cls = CenterOutEnv


class MuscleCenterOutVectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleCenterOut-v0", num_envs=N)``: N environments of :class:`MuscleCenterOutEnv` stepped together.

    The tables of :class:`MuscleCenterOutEnv` hold per environment; the batching arguments and ``info``
    layout are in :mod:`motorgym.envs.vector`.
    """

    env_cls = MuscleCenterOutEnv


class CenterOutV1VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/CenterOut-v1", num_envs=N)``: N environments of :class:`CenterOutV1Env` stepped together."""

    env_cls = CenterOutV1Env


class MuscleCenterOutV1VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleCenterOut-v1", num_envs=N)``: N environments of :class:`MuscleCenterOutV1Env`
    stepped together."""

    env_cls = MuscleCenterOutV1Env


class CenterOutV2VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/CenterOut-v2", num_envs=N)``: N environments of :class:`CenterOutV2Env` stepped together."""

    env_cls = CenterOutV2Env


class MuscleCenterOutV2VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleCenterOut-v2", num_envs=N)``: N environments of :class:`MuscleCenterOutV2Env`
    stepped together."""

    env_cls = MuscleCenterOutV2Env


class MuscleCenterOutV3VectorEnv(ArmTaskVectorEnv):
    """``gym.make_vec("motorgym/MuscleCenterOut-v3", num_envs=N)``: N environments of :class:`MuscleCenterOutV3Env`
    stepped together."""

    env_cls = MuscleCenterOutV3Env
