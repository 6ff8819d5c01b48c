"""The ``learned-arm`` learning rule of ``motorgym adapt``: learning from errors, by the gradient of
each trial's cost through the learned arm.

MotorNet trains its networks by backpropagating the task's cost through a differentiable arm, and
so, during a perturbation, learns from the errors the perturbation causes. MuJoCo is not
differentiable; the learned arm of the model-based pretraining (:mod:`motorgym.train.model_based`)
is, and this rule uses it the same way on the trials the network has just made:

1. **The trials are real.** The network acts deterministically (its mean action; the env's motor
   noise remains) in MuJoCo with the protocol's perturbation, and every trial's observations,
   commands and sensed arm states (``info["arm_state"]``) are kept.
2. **The learned arm** (``arm_model``: by default ``affine``, the activations by MuJoCo's law and
   the mechanics affine in them, as the pretraining's; ``mlp`` on an arm without activation states)
   is fitted on the trials of the protocol's first block (``learn: false``, ``arm_iterations``
   Adam steps, as the pretraining fits it: ``arm_metrics.csv`` in the run directory), then
   refitted before each policy update (``arm_refit_iterations`` steps) on the latest
   ``arm_buffer_trials`` trials, so that it learns what the field does to the arm.
3. **The gradient** of a trial's cost (the loss the source network was trained on: the env's
   differentiable cost terms, :func:`~motorgym.train.model_based.step_cost`, and the source run's
   activity regularisation, ``activity_l2``, ``activity_change_l2`` and ``command_change_l2``;
   for a network pretrained through a learned arm, also the false start's smooth gradient of
   :func:`~motorgym.train.model_based.false_start_cost`, without which it learns to anticipate the
   go cue; a PPO network learnt the false start as the env's step, without a gradient, and its
   surrogate pulls such a network off its hold; and, with ``path_error_weight``, the squared
   sideways error of the seen hand from the straight start-target line, the kinematic error people
   adapt from) with respect to the network's weights is taken
   along the real trial: every quantity keeps its recorded value, and derivatives flow through the
   network (re-run on the recorded observations), the observations' dependence on the arm's state
   (delays included), and the learned arm's derivatives for how a command and a state change the
   next state (a straight-through estimator: ``x_real + f(x) - f(x).detach()``). This is the
   gradient of backpropagation through time in a differentiable arm, with the real trajectory in
   place of the model's prediction (the stochastic value gradient of Heess et al. 2015 on real
   trials). One Adam step (``learning_rate``) is taken every ``trials_per_update`` trials of the
   learning blocks.

Force-channel trials act but feed neither the arm nor the gradient (an error clamp shows no error).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from motorgym.agents.learned_arm import LearnedArm
from motorgym.agents.recurrent import RecurrentActorCritic
from motorgym.envs.batched import ArmTaskCore
from motorgym.envs.perturbations import rotation_matrix
from motorgym.envs.task import NEVER
from motorgym.train.collect import TrajectoryDataset
from motorgym.train.configs import ActorConfig, ModelBasedConfig
from motorgym.train.model_based import (
    activity_terms,
    arm_errors,
    arm_fit_step,
    false_start_cost,
    fit_learned_arm,
    state_cost_charged,
    step_cost,
    validation_windows,
)
from motorgym.train.protocol import Learning

#: Columns of the vision part of an observation: the seen hand (x, y), then target and go cue.
SEEN_HAND = slice(0, 2)
#: Open-loop steps of the learned arm's fit windows (as the pretraining's default).
ARM_UNROLL_STEPS = 20
ARM_BATCH_WINDOWS = 128
#: Adam learning rate of the arm's refits: a tenth of the first fit's, so that a batch of field
#: trials shifts the model towards the field without undoing what it knows of the arm.
ARM_REFIT_LEARNING_RATE = 1e-4
#: Gradient-norm clip of the arm's refits and the policy's steps (as the pretraining's default).
MAX_GRAD_NORM = 1.0
#: A policy step is skipped when its gradient's norm is this many times the median norm of the
#: steps taken so far (or not finite): the gradient has exploded through the learned arm's
#: derivatives somewhere its fit cannot be trusted, and clipping would make the explosion the step's
#: direction (on the muscle arm such norms, 1e5 and more against a median near 1, broke networks).
EXPLODED_GRADIENT_FACTOR = 100.0
#: The latest steps' gradient norms that median is taken over.
GRAD_NORM_HISTORY = 64


@dataclass
class RealTrial:
    """One recorded trial of T steps."""

    obs: np.ndarray
    """(T, O) the observations the network acted on (before each command)."""
    actions: np.ndarray
    """(T, A) its commands (before motor noise)."""
    states: np.ndarray
    """(T + 1, S) the arm's sensed state from the trial's start to its end (``info["arm_state"]``)."""
    go_cue: np.ndarray
    """(T + 1,) whether the go cue had been given."""
    target_pos: np.ndarray
    """(2,) m."""
    rotation_deg: float
    """The trial's visuomotor rotation (the seen hand turned about the start)."""

    @property
    def steps(self) -> int:
        return len(self.actions)


def as_dataset(trials: list[RealTrial], control_step_ms: float) -> TrajectoryDataset:
    """Trials as a padded :class:`TrajectoryDataset` (what the learned arm's fit reads)."""
    longest = max(t.steps for t in trials)

    def padded(arrays: list[np.ndarray], length: int) -> np.ndarray:
        out = np.zeros((len(arrays), length, *arrays[0].shape[1:]), dtype=np.float32)
        for k, array in enumerate(arrays):
            out[k, : len(array)] = array
            out[k, len(array) :] = array[-1]
        return out

    states = padded([t.states for t in trials], longest + 1)
    return TrajectoryDataset(
        observations=padded([t.obs for t in trials], longest),
        actions=padded([t.actions for t in trials], longest),
        hand_pos_m=states[:, :, :2].copy(),
        states=states,
        lengths=np.array([t.steps for t in trials], dtype=np.int64),
        metadata={"control_step_ms": control_step_ms},
    )


class LearnedArmRule:
    """The rule's state: the learned arm, the trials it learns from, and the policy's updates.

    Args:
        policy: the adapting network (its observation normaliser frozen).
        optimizer: Adam over the policy's parameters at the protocol's learning rate.
        learning: the protocol's learning settings.
        core: the env's batched core (delays, observation layout, costs).
        seed: seeds the arm's fit windows.
        regularisation: the source run's activity and command-change weights (None: none).
        smooth_false_start: give the false start's cost its smooth gradient (a network pretrained
            through a learned arm, which learnt with it); else its value alone (the env's step).
    """

    def __init__(
        self,
        policy: RecurrentActorCritic,
        optimizer: torch.optim.Optimizer,
        learning: Learning,
        core: ArmTaskCore,
        seed: int,
        regularisation: ActorConfig | None = None,
        smooth_false_start: bool = True,
    ) -> None:
        self.policy, self.optimizer, self.learning = policy, optimizer, learning
        self.regularisation, self.smooth_false_start = regularisation, smooth_false_start
        self.config = core.config
        self.start_radius_m = float(getattr(core.config, "start_radius_m", np.inf))  # inf: no start zone
        self.device = next(policy.parameters()).device
        self.visual_delay_steps, self.proprio_delay_steps = core.visual_delay_steps, core.proprio_delay_steps
        self.cue_latency_steps = core.task.cue_latency_steps
        self.state_cost_onset_steps = core.task.state_cost_onset_steps
        self.proprio = slice(2, 2 + len(core.arm.proprioception_names))
        self.proprio_obs = slice(len(core.obs_names) - len(core.arm.proprioception_names), len(core.obs_names))
        self.activations = slice(self.proprio.stop, None)
        self.state_dim = len(core.arm.sensed_state_names)
        self.action_dim = len(core.action_low)
        self.dynamics = core.arm.actuator_dynamics()
        self.arm: LearnedArm | None = None
        self.arm_optimizer: torch.optim.Optimizer | None = None
        self.buffer: deque[RealTrial] = deque(maxlen=learning.arm_buffer_trials)
        self.fit_trials: list[RealTrial] = []
        self.pending: list[RealTrial] = []
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.last: dict[str, float] = {}
        self.grad_norms: deque[float] = deque(maxlen=GRAD_NORM_HISTORY)
        """The gradient norms of the latest steps taken (EXPLODED_GRADIENT_FACTOR)."""

    # ----------------------------------------------------------------------------- trials in
    def add(self, trial: RealTrial, learn: bool, channel: bool) -> None:
        """Keep a finished trial: for the arm's first fit (trials before any learning), its refits,
        and the next policy update (trials of learning blocks). Channel trials are left out."""
        if channel:
            return
        self.buffer.append(trial)
        if self.arm is None and not learn:
            self.fit_trials.append(trial)
        if learn:
            self.pending.append(trial)

    def ready(self) -> bool:
        return len(self.pending) >= self.learning.trials_per_update

    # ----------------------------------------------------------------------------- the arm
    def fit_arm(self, run_dir: Path, progress: bool) -> dict[str, float]:
        """Fit the learned arm on the trials before the first learning block (arm_metrics.csv)."""
        config = ModelBasedConfig(
            data="(the adapt run's first block)",
            seed=self.seed,
            device=str(self.device),
            arm_unroll_steps=ARM_UNROLL_STEPS,
            arm_iterations=self.learning.arm_iterations,
            arm_batch_windows=ARM_BATCH_WINDOWS,
            arm_model=self.learning.arm_model,
        )
        data = as_dataset(self.fit_trials, self.config.control_step_ms)
        self.arm, errors = fit_learned_arm(data, config, run_dir, self.dynamics, progress)
        self._start_refits()
        self.fit_trials = []
        return errors

    def _start_refits(self) -> None:
        assert self.arm is not None
        self.arm.requires_grad_(True)
        self.arm_optimizer = torch.optim.Adam(self.arm.parameters(), lr=ARM_REFIT_LEARNING_RATE)

    def refit_arm(self) -> float:
        """``arm_refit_iterations`` Adam steps on the buffer; return the hand error (mm) after
        ARM_UNROLL_STEPS open-loop steps on the latest trials."""
        assert self.arm is not None and self.arm_optimizer is not None
        self.arm.requires_grad_(True)
        data = as_dataset(list(self.buffer), self.config.control_step_ms)
        for _ in range(self.learning.arm_refit_iterations):
            arm_fit_step(
                self.arm, self.arm_optimizer, data, ARM_UNROLL_STEPS, ARM_BATCH_WINDOWS, MAX_GRAD_NORM, self.rng
            )
        latest = as_dataset(self.pending[: self.learning.trials_per_update], self.config.control_step_ms)
        windows = validation_windows(latest, ARM_UNROLL_STEPS, self.device, seed=int(self.rng.integers(2**31)))
        return arm_errors(self.arm, windows)["arm_hand_rmse_mm"]

    # ----------------------------------------------------------------------------- the policy
    def update(self) -> dict[str, float]:
        """Refit the arm, then one policy step on the cost of the next ``trials_per_update`` pending
        trials; return the statistics. An exploded gradient (EXPLODED_GRADIENT_FACTOR) takes no
        step (``skipped`` 1)."""
        arm_error_mm = self.refit_arm()
        batch, self.pending = (
            self.pending[: self.learning.trials_per_update],
            self.pending[self.learning.trials_per_update :],
        )
        loss = self.trial_cost(batch)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = float(nn.utils.clip_grad_norm_(self.policy.parameters(), MAX_GRAD_NORM))
        typical = float(np.median(self.grad_norms)) if self.grad_norms else math.inf
        skipped = not math.isfinite(grad_norm) or grad_norm > EXPLODED_GRADIENT_FACTOR * typical
        if not skipped:
            self.optimizer.step()
            self.grad_norms.append(grad_norm)
        self.optimizer.zero_grad()
        self.last = {
            "trial_cost": loss.item(),
            "arm_hand_error_mm": arm_error_mm,
            "grad_norm": grad_norm,
            "skipped": float(skipped),
        }
        return self.last

    def trial_cost(self, trials: list[RealTrial]) -> torch.Tensor:
        """The mean per-step cost of real ``trials`` plus the regularisation, differentiable in the
        policy's weights along the recorded trajectories (see the module docstring)."""
        assert self.arm is not None
        arm = self.arm.requires_grad_(False)
        policy, device, config = self.policy, self.device, self.config
        dtype = next(policy.parameters()).dtype
        tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
        data = as_dataset(trials, config.control_step_ms)
        obs, actions = tensor(np.swapaxes(data.observations, 0, 1)), tensor(np.swapaxes(data.actions, 0, 1))
        states = tensor(np.swapaxes(data.states, 0, 1))  # (T + 1, B, S)
        steps = obs.shape[0]
        in_trial = tensor(np.arange(steps)[:, None] < data.lengths[None])
        goal_on = tensor(np.stack([self._cue_processed(t, steps) for t in trials], axis=1))  # (T + 1, B)
        state_on = state_cost_charged(goal_on, self.state_cost_onset_steps)
        before_go = torch.as_tensor(np.stack([self._before_go(t, steps) for t in trials], axis=1), device=device)
        start_radius_m = torch.full((len(trials),), self.start_radius_m, dtype=dtype, device=device)
        false_started = torch.zeros(len(trials), dtype=torch.bool, device=device)
        start = states[0, :, :2]
        target = tensor(np.stack([t.target_pos for t in trials]))
        rotation = tensor(np.stack([rotation_matrix(t.rotation_deg) for t in trials]))
        step_s = config.control_step_ms / 1000.0

        recurrent = policy.initial_state(len(trials), device)
        no_starts = torch.zeros(1, len(trials), device=device)
        state = states[0]
        seen_hand: list[torch.Tensor] = []
        felt: list[torch.Tensor] = []
        previous_activation = state[:, self.activations]
        costs, hiddens, means = [], [], []
        for t in range(steps):
            cursor = start + torch.einsum("bij,bj->bi", rotation, state[:, :2] - start)
            seen_hand.append(cursor)
            felt.append(state[:, self.proprio])
            # The recorded observation, with the derivative of what the sensors saw: the seen hand
            # a visual delay ago, proprioception a proprioceptive delay ago.
            now = obs[t].clone()
            vision, proprio = seen_hand[max(0, t - self.visual_delay_steps)], felt[max(0, t - self.proprio_delay_steps)]
            now[:, SEEN_HAND] = now[:, SEEN_HAND] + vision - vision.detach()
            now[:, self.proprio_obs] = now[:, self.proprio_obs] + proprio - proprio.detach()
            hidden, recurrent = policy.unroll(policy.obs_normalizer.normalize(now)[None], recurrent, no_starts)
            hiddens.append(hidden[0])
            means.append(policy.distribution(hidden[0]).mean)
            mean = policy.clip_action(means[-1])
            action = actions[t] + mean - mean.detach()
            predicted = arm(state, action)
            next_state = states[t + 1] + predicted - predicted.detach()
            next_cursor = start + torch.einsum("bij,bj->bi", rotation, next_state[:, :2] - start)
            hand_vel = (next_state[:, :2] - state[:, :2]) / step_s
            goal = torch.where(goal_on[t + 1, :, None] > 0, target, start)
            activation = next_state[:, self.activations]
            waiting = 1.0 - goal_on[t + 1]
            cost = step_cost(
                config,
                next_cursor,
                goal,
                hand_vel,
                action,
                activation,
                previous_activation,
                waiting,
                state_on[t + 1],
            )
            start_cost, false_started = false_start_cost(
                next_cursor, start, start_radius_m, before_go[t + 1], false_started
            )
            if not self.smooth_false_start:
                start_cost = start_cost.detach()
            cost = cost + config.false_start_weight * start_cost
            if self.learning.path_error_weight > 0:
                sideways_m = sideways_error_m(next_cursor, start, target) * goal_on[t + 1]
                cost = cost + self.learning.path_error_weight * sideways_m**2
            costs.append(cost * in_trial[t])
            state, previous_activation = next_state, activation
        loss = torch.stack(costs).sum() / in_trial.sum()
        regularisation = self.regularisation
        if regularisation is None:
            return loss
        return loss + regularisation.activity_cost(**activity_terms(torch.stack(hiddens), torch.stack(means), in_trial))

    @staticmethod
    def _go_step(trial: RealTrial) -> int:
        """The step of the trial's go cue (NEVER in a catch trial)."""
        given = np.flatnonzero(trial.go_cue)
        return int(given[0]) if len(given) else NEVER

    def _before_go(self, trial: RealTrial, steps: int) -> np.ndarray:
        """(steps + 1,) whether the go cue had not yet been given (as the task counts a false start)."""
        return np.arange(steps + 1) < self._go_step(trial)

    def _cue_processed(self, trial: RealTrial, steps: int) -> np.ndarray:
        """(steps + 1,) whether the go cue had been processed (when the distance cost's goal moves to
        the target): as the task and the imagined trials count it, ``step - latency >= go_step``."""
        return np.arange(steps + 1) - self.cue_latency_steps >= self._go_step(trial)

    # ----------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: the arm, its optimiser and the kept trials."""
        trials = {"buffer": list(self.buffer), "fit_trials": self.fit_trials, "pending": self.pending}
        return {
            "arm": None if self.arm is None else self.arm.state_dict(),
            "arm_model": None if self.arm is None else self.arm.structure,
            "arm_optimizer": None if self.arm_optimizer is None else self.arm_optimizer.state_dict(),
            "grad_norms": list(self.grad_norms),
            **{name: [_trial_tensors(t) for t in kept] for name, kept in trials.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["arm"] is not None:
            arm, structure = state["arm"], state.get("arm_model", "mlp")  # mlp: runs before arm_model
            dynamics = None if structure == "mlp" else self.dynamics
            self.arm = LearnedArm(self.state_dim, self.action_dim, arm["net.0.bias"].shape[0], dynamics, structure)
            self.arm.load_state_dict(arm)
            self.arm.to(self.device)
            self._start_refits()
            assert self.arm_optimizer is not None
            self.arm_optimizer.load_state_dict(state["arm_optimizer"])
        self.buffer.extend(_trial_from(t) for t in state["buffer"])
        self.fit_trials = [_trial_from(t) for t in state["fit_trials"]]
        self.pending = [_trial_from(t) for t in state["pending"]]
        self.grad_norms.extend(state.get("grad_norms", []))  # absent from runs before the exploded-step skip


def sideways_error_m(cursor: torch.Tensor, start: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) the signed distance (m) of each (B, 2) cursor from its trial's start-target line
    (differentiable; :func:`motorgym.train.analysis.adaptation.perpendicular_deviation_m` measures
    the same on recorded paths)."""
    direction = target - start
    normal = torch.stack([-direction[:, 1], direction[:, 0]], dim=-1) / direction.norm(dim=-1, keepdim=True)
    return ((cursor - start) * normal).sum(-1)


def _trial_tensors(trial: RealTrial) -> dict[str, Any]:
    return {
        "obs": torch.as_tensor(trial.obs),
        "actions": torch.as_tensor(trial.actions),
        "states": torch.as_tensor(trial.states),
        "go_cue": torch.as_tensor(trial.go_cue),
        "target_pos": torch.as_tensor(trial.target_pos),
        "rotation_deg": float(trial.rotation_deg),
    }


def _trial_from(saved: dict[str, Any]) -> RealTrial:
    return RealTrial(
        obs=saved["obs"].numpy(),
        actions=saved["actions"].numpy(),
        states=saved["states"].numpy(),
        go_cue=saved["go_cue"].numpy(),
        target_pos=saved["target_pos"].numpy(),
        rotation_deg=float(saved["rotation_deg"]),
    )


__all__ = ["LearnedArmRule", "RealTrial", "as_dataset"]
