"""Trial logic shared by the reaching tasks, vectorised over environments.

A trial has a start position, a target, and a go time. Before the go cue the hand must stay in the
start zone (its goal is the start position; leaving is a *false start*); after it, the goal is the
target, and the trial succeeds once the hand has stayed inside the target for ``hold_ms`` (at
most ``hold_max_speed_m_s`` fast, if set). A catch
trial never gets a go cue and succeeds if the hand never leaves the start zone. A trial with an end
time terminates there. Tasks differ only in how they draw trials (:meth:`ReachingTask.sample_trials`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, TypeVar

import numpy as np

from motorgym.envs.arm import Arm
from motorgym.envs.config import EnvConfig
from motorgym.envs.perturbations import PERTURBATION_ARGUMENTS, Perturbations
from motorgym.envs.sensors import delay_in_steps

ConfigT = TypeVar("ConfigT", bound=EnvConfig)
NEVER = np.iinfo(np.int64).max  # a step count no trial reaches


class Phase(IntEnum):
    """Trial phase reported in ``info["phase"]``."""

    DELAY = 0
    """Target cued, no go cue yet (or a catch trial): hold still in the start zone."""
    MOVE = 1
    """Go cue given, hand outside the target."""
    HOLD = 2
    """Go cue given, hand inside the target."""


@dataclass(frozen=True)
class TrialMarkers:
    """What a renderer draws over the arm for one environment: start zone, target and trial state."""

    start_pos: np.ndarray
    start_radius_m: float
    target_pos: np.ndarray
    target_radius_m: float
    phase: int
    catch_trial: bool


class ReachingTask(ABC, Generic[ConfigT]):
    """Trial state and rules for ``num_envs`` environments; subclasses draw the trials."""

    def __init__(self, config: ConfigT, arm: Arm, num_envs: int) -> None:
        self.config = config
        self.arm = arm
        self.num_envs = num_envs
        self.step_ms = config.control_step_ms
        self.cue_latency_steps = delay_in_steps(config.go_cue_latency_ms, self.step_ms, "go_cue_latency_ms")
        self.state_cost_onset_steps = delay_in_steps(config.state_cost_onset_ms, self.step_ms, "state_cost_onset_ms")
        self.hold_steps = max(1, math.ceil(config.hold_ms / self.step_ms - 1e-9))
        self.start_pos = np.zeros((num_envs, 2))
        self.target_pos = np.zeros((num_envs, 2))
        self.start_radius_m = np.full(num_envs, np.inf)
        self.go_step = np.zeros(num_envs, dtype=np.int64)
        self.end_step = np.full(num_envs, NEVER, dtype=np.int64)
        self.catch_trial = np.zeros(num_envs, dtype=bool)
        self.target_index = np.full(num_envs, -1, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.hold_count = np.zeros(num_envs, dtype=np.int64)
        self.false_start = np.zeros(num_envs, dtype=bool)
        #: Whether the false start happened on the last step (the step its cost is charged).
        self.false_start_now = np.zeros(num_envs, dtype=bool)
        self.success = np.zeros(num_envs, dtype=bool)
        # Set by measure():
        self.go_cue = np.zeros(num_envs, dtype=bool)
        self.distance_m = np.zeros(num_envs)
        self.start_distance_m = np.zeros(num_envs)
        self.in_target = np.zeros(num_envs, dtype=bool)
        self.phase = np.zeros(num_envs, dtype=np.int64)
        #: The muscle activations of the previous step (for the activation-change cost).
        self.previous_activation = np.zeros((num_envs, arm.act.shape[1]))
        self.perturbations = Perturbations(num_envs, self.step_ms)

    #: reset() options the task accepts, with a description each: every task takes the perturbation
    #: arguments, for one trial; subclasses add their own.
    reset_options: dict[str, str] = {
        name: "this trial's value of the argument of the same name" for name in PERTURBATION_ARGUMENTS
    }

    @abstractmethod
    def sample_trials(
        self, ids: np.ndarray, rngs: Sequence[np.random.Generator], options: dict[str, Any]
    ) -> np.ndarray:
        """Draw new trials for environments ``ids`` (one generator each): fill ``start_pos``,
        ``target_pos``, ``start_radius_m``, ``go_step``, ``end_step``, ``catch_trial`` and
        ``target_index`` at ``ids``, and return the start joint angles, shape (len(ids), 2)."""

    def begin(self, ids: np.ndarray, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Start new trials in environments ``ids``; return their start joint angles."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.reset_options))
        if unknown:
            allowed = ", ".join(self.reset_options) or "none"
            raise ValueError(f"unknown reset option(s) {unknown}; allowed: {allowed}")
        self.steps[ids] = 0
        self.hold_count[ids] = 0
        self.false_start[ids] = False
        self.false_start_now[ids] = False
        self.success[ids] = False
        trial_config = self.config.with_trial_options(options)
        task_options = {k: v for k, v in options.items() if k not in PERTURBATION_ARGUMENTS}
        joint_angles = self.sample_trials(ids, rngs, task_options)
        self.perturbations.begin(
            ids, trial_config, self.start_pos[ids], self.target_pos[ids], self.go_step[ids], self.end_step[ids]
        )
        return joint_angles

    def get_state(self) -> dict[str, Any]:
        """Copies of every per-env array (trials, counters, flags, perturbations)."""
        state: dict[str, Any] = {
            name: value.copy() for name, value in vars(self).items() if isinstance(value, np.ndarray)
        }
        state["perturbations"] = self.perturbations.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            if name == "perturbations":
                self.perturbations.set_state(value)
            else:
                setattr(self, name, np.array(value, dtype=getattr(self, name).dtype))

    def measure(self, hand_pos: np.ndarray) -> None:
        """Update the per-env quantities the rules, reward and info read, for the hand seen at
        ``hand_pos`` (num_envs, 2; the cursor, which a visuomotor rotation turns about the start):
        ``go_cue``, ``distance_m`` (to the target), ``start_distance_m``,
        ``in_target`` and ``phase``. Computed once per step, for every env."""
        self.go_cue = self.steps >= self.go_step
        to_target, to_start = hand_pos - self.target_pos, hand_pos - self.start_pos
        self.distance_m = np.hypot(to_target[:, 0], to_target[:, 1])
        self.start_distance_m = np.hypot(to_start[:, 0], to_start[:, 1])
        self.in_target = self.distance_m <= self.config.target_radius_m
        self.phase = np.where(self.go_cue, np.where(self.in_target, Phase.HOLD, Phase.MOVE), Phase.DELAY)

    def advance(self, hand_pos: np.ndarray) -> np.ndarray:
        """Count one control step with the hand at ``hand_pos``; return which trials are over."""
        self.steps += 1
        self.measure(hand_pos)
        go = self.go_cue
        self.false_start_now = ~self.false_start & ~go & (self.start_distance_m > self.start_radius_m)
        self.false_start |= self.false_start_now
        self.hold_count = np.where(go & self.in_target & self.holding_still(), self.hold_count + 1, 0)
        trial_over = self.steps >= self.end_step
        held = go & ~self.catch_trial & ~self.false_start & (self.hold_count >= self.hold_steps)
        stayed = self.catch_trial & trial_over & ~self.false_start
        self.success = held | stayed
        return self.success | trial_over

    def holding_still(self) -> np.ndarray:
        """Whether each hand is slow enough for its step in the target to count towards the hold
        (``hold_max_speed_m_s``; the arm's own hand velocity: a visuomotor rotation turns the seen
        hand's velocity, not its speed)."""
        if not self.config.hold_max_speed_m_s:
            return np.ones(self.num_envs, dtype=bool)
        velocity = self.arm.hand_vel
        return np.hypot(velocity[:, 0], velocity[:, 1]) <= self.config.hold_max_speed_m_s

    def cue_processed(self, ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Whether the go cue has been processed by now (``go_cue_latency_ms`` after it was given):
        what the eyes send on to the network, and when the cost's goal moves to the target (the
        network is not charged for a cue it cannot yet have processed)."""
        # steps - latency >= go_step, not steps >= go_step + latency: go_step is NEVER in catch trials.
        return self.steps[ids] - self.cue_latency_steps >= self.go_step[ids]

    def state_cost_charged(self) -> np.ndarray:
        """Whether the hand's state (distance and speed) is charged on this step: while the hand must
        hold the start (until the go cue is processed) and from ``state_cost_onset_ms`` after the cue
        is processed."""
        onset_passed = self.steps - self.cue_latency_steps - self.state_cost_onset_steps >= self.go_step
        return ~self.cue_processed() | onset_passed

    def reward(self, command: np.ndarray, hand_vel: np.ndarray, activation: np.ndarray) -> dict[str, np.ndarray]:
        """Per-step reward terms after :meth:`advance` (each ``-weight x cost``; see the env docstring's
        reward table): distance from the hand to the goal (the start until the go cue is processed,
        the target after that; with ``state_cost_onset_ms``, only from that long after it), effort
        (sum u^2 of the commands), hand speed^2 (not charged where the distance is not), sum of
        squared activations and of their change over the step, the time from the processed go cue
        until the hand is in the target, a false start (once, on the step the hand leaves the start
        zone early), and hand speed^2 while the hand must wait at the start (until the go cue is
        processed). (With no cue latency, the processed cue is the go cue.)"""
        config = self.config
        goal_on = self.go_cue if not self.cue_latency_steps else self.cue_processed()
        distance_to_goal = np.where(goal_on, self.distance_m, self.start_distance_m)
        change = activation - self.previous_activation
        self.previous_activation = activation.copy()
        squared_speed = np.einsum("ij,ij->i", hand_vel, hand_vel)
        state_charged = self.state_cost_charged()
        terms = {
            "distance": -config.distance_weight * distance_to_goal * state_charged,
            "effort": -config.effort_weight * np.einsum("ij,ij->i", command, command),
            "speed": -config.speed_weight * squared_speed * state_charged,
            "activation": -config.activation_weight * np.einsum("ij,ij->i", activation, activation),
            "activation_change": -config.activation_change_weight * np.einsum("ij,ij->i", change, change),
            "time": -config.time_weight * (goal_on & ~self.in_target),
            "false_start": -config.false_start_weight * self.false_start_now,
            "delay_speed": -config.delay_speed_weight * ~goal_on * squared_speed,
        }
        return terms
