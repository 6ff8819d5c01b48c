"""Model-based pretraining: learn the arm, then train the policy by backpropagation through it.

    motorgym collect --env motorgym/CenterOut-v0 --episodes 1000 --scripted-fraction 0.5 --out data/co.npz
    motorgym pretrain-policy --data data/co.npz --out runs/co_model_based
    motorgym evaluate runs/co_model_based               # the pretrained policy alone, in MuJoCo
    motorgym train --env motorgym/CenterOut-v0 --init-from runs/co_model_based --out runs/co_finetuned

MotorNet trains recurrent policies by backpropagation through time (BPTT) through an analytic,
differentiable arm. Here the differentiable arm is learned from rollouts, then stands in for MuJoCo:

1. **The learned arm** (:class:`LearnedArm`): an MLP from the arm's sensed state (hand position,
   undelayed proprioception and muscle activations: :meth:`motorgym.envs.arm.Arm.sensed_state`) and
   the command to the change of that state over one control step, in standardised units. It is
   fitted on the collected rollouts by running it open-loop for ``arm_unroll_steps`` steps from a
   true state under the recorded commands (a multi-step loss, so that its errors do not compound
   when it later runs closed-loop for a whole trial). By default (``arm_model`` ``affine``) the
   activations follow MuJoCo's activation law and the mechanics' change is learnt as affine in them
   (:mod:`motorgym.agents.learned_arm`).
2. **Imagined trials** (:func:`imagine`): the real task draws the trials (targets, instructed
   delays, catch trials, start posture: its own ``sample_trials``, through the env's batched core),
   which then run in torch. The policy sees observations built as the env builds them
   (:class:`motorgym.envs.batched.ArmTaskCore`): the hand, target and go cue delayed by the visual
   delay, proprioception by the proprioceptive delay, Gaussian noise, clipped to the observation
   bounds. Its mean action, with the env's signal-dependent motor noise, drives the learned arm.
   The loss is the env's per-step cost, the negative of its reward (:meth:`ReachingTask.reward`):
   distance_weight x the distance from the hand to the goal (the start before the go cue, the
   target after it) + effort_weight x sum(u^2) + the hand-speed, activation, activation-change,
   time and false-start costs (distance and speed left out from the processed cue until
   state_cost_onset_ms after it, as the env leaves them), averaged over the trials' steps. The
   learned arm predicts the hand's position, not its velocity: the speed cost takes the hand's
   displacement over each control step divided by the step (the mean velocity over the step,
   where the env takes the velocity at its end). A trial runs to its end step (the env ends it at
   success; here holding on simply goes on costing the distance).
   The time cost is a step function with no gradient; the false start's step gets the gradient of
   a smooth step (:func:`false_start_cost`), so that the policy learns to wait for the go cue.
   The cost arguments are the data's env kwargs, or ``costs`` where given (the learned arm does not
   depend on them).
3. **Policy training**: Adam on that loss through whole trials, policy and learned arm unrolled
   together (the learned arm's weights frozen), plus PPO's activity and command-change
   regularisation where set. With ``command_bias_std`` each imagined trial's commands carry a
   constant random offset, an arm error the policy must correct by feedback. The policy's
   observation normaliser is set from the collected observations and stays fixed here (PPO goes
   on updating it). Every ``eval_every`` iterations the policy runs in MuJoCo (deterministic
   actions) and its real success rate is logged.

With ``init_from`` the policy starts from an earlier pretraining's; with ``more_data``, episodes
collected by a pretrained policy (``motorgym collect --policy``) join the data: model-based RL's
data-aggregation loop, which corrects the learned arm where the policy goes (docs/pretraining.md);
with ``arm_init_from`` that round's arm fit goes on from the last round's learned arm.

The run directory holds ``config.json``, ``arm_metrics.csv`` (the learned arm's fit),
``metrics.csv`` and ``tensorboard/`` (policy training), ``learned_arm.pt``, ``policy.pt`` (the
safe checkpoint format) and ``losses.png``. ``motorgym evaluate``, ``render`` and ``analyze`` take
the run directory; ``motorgym train --init-from`` copies its policy's core and action head (not
the exploration noise, which is the new run's ``init_log_std``, nor the untrained critic).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import motorgym
from motorgym.agents.agent import RecurrentAgent
from motorgym.agents.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from motorgym.agents.learned_arm import LearnedArm
from motorgym.agents.recurrent import PolicySpec, RecurrentActorCritic, mean_square_change
from motorgym.agents.rollout import rollout
from motorgym.envs.arm import ActuatorDynamics
from motorgym.envs.batched import ArmTaskCore
from motorgym.envs.config import EnvConfig
from motorgym.envs.registration import ENV_IDS, check_env_arguments, env_class
from motorgym.train import kinds
from motorgym.train.collect import TrajectoryDataset, load_datasets
from motorgym.train.configs import ActorConfig, ModelBasedConfig
from motorgym.train.plots import save_figure, subplots
from motorgym.train.pretrain import split_episodes
from motorgym.train.progress import MetricsLog, progress_bar, read_metrics
from motorgym.train.run_dir import ARM_METRICS, LEARNED_ARM, LOSSES_PLOT, PRETRAINED_POLICY, new_run_dir


# ------------------------------------------------------------------------------ the learned arm
def _windows(
    data: TrajectoryDataset, steps: int, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (episode, first step) pairs of windows of ``steps`` transitions inside episodes."""
    long_enough = np.flatnonzero(data.lengths >= steps)
    if len(long_enough) == 0:
        raise ValueError(
            f"no episode has {steps} steps: lower arm_unroll_steps (episodes: {data.lengths.max()} at most)"
        )
    episodes = rng.choice(long_enough, size=count)
    starts = (rng.random(count) * (data.lengths[episodes] - steps + 1)).astype(np.int64)
    return episodes, starts


def _window_tensors(
    data: TrajectoryDataset, episodes: np.ndarray, starts: np.ndarray, steps: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Start states (B, S), commands (K, B, A) and the true following states (K, B, S) of windows."""
    offsets = starts[:, None] + np.arange(steps)[None]
    first = torch.as_tensor(data.states[episodes, starts], device=device)
    commands = torch.as_tensor(np.swapaxes(data.actions[episodes[:, None], offsets], 0, 1), device=device)
    following = torch.as_tensor(np.swapaxes(data.states[episodes[:, None], offsets + 1], 0, 1), device=device)
    return first, commands, following


def _transitions(data: TrajectoryDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States, commands and next states of every step inside an episode, flattened."""
    inside = data.step_mask()
    return data.states[:, :-1][inside], data.actions[inside], data.states[:, 1:][inside]


def validation_windows(
    data: TrajectoryDataset, steps: int, device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 1024 windows of ``steps`` steps on which :func:`arm_errors` measures (fixed by ``seed``)."""
    episodes, starts = _windows(data, steps, 1024, np.random.default_rng(seed))
    return _window_tensors(data, episodes, starts, steps, device)


def arm_errors(model: LearnedArm, windows: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> dict[str, float]:
    """Hand position error (RMSE, mm) after the open-loop steps of :func:`validation_windows`
    ``windows``, beside that of assuming the arm stays where it is."""
    first, commands, following = windows
    with torch.no_grad():
        predicted = model.unroll(first, commands)[-1]
    rmse = lambda hand: float(torch.sqrt(((hand - following[-1, :, :2]) ** 2).sum(-1).mean())) * 1000  # noqa: E731
    return {"arm_hand_rmse_mm": rmse(predicted[:, :2]), "still_hand_rmse_mm": rmse(first[:, :2])}


def arm_fit_step(
    model: LearnedArm,
    optimizer: torch.optim.Optimizer,
    data: TrajectoryDataset,
    unroll_steps: int,
    batch_windows: int,
    max_grad_norm: float,
    rng: np.random.Generator,
) -> torch.Tensor:
    """One Adam step of the learned arm's multi-step loss on ``batch_windows`` random windows of
    ``unroll_steps`` steps of ``data`` (the arm run open-loop from each window's true first state,
    errors in standardised state changes); return the loss."""
    device = model.delta_std.device
    episodes, starts = _windows(data, unroll_steps, batch_windows, rng)
    first, window_commands, following = _window_tensors(data, episodes, starts, unroll_steps, device)
    predicted = model.unroll(first, window_commands)
    loss = (((predicted - following) / model.delta_std) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.detach()


def arm_structure(config: ModelBasedConfig, dynamics: ActuatorDynamics | None) -> str:
    """The learned arm's structure for ``config``: ``mlp`` where the arm's activation law is unknown."""
    return config.arm_model if dynamics is not None else "mlp"


def load_arm_start(config: ModelBasedConfig, data: TrajectoryDataset, structure: str) -> LearnedArm:
    """The learned arm of ``config.arm_init_from``; raise naming the argument unless it is there and
    is one this fit could have made (the same sensed state, commands, structure and size)."""
    try:
        start, meta = load_learned_arm(config.arm_init_from, config.device)
    except (FileNotFoundError, CheckpointError) as error:
        raise type(error)(f"arm_init_from: {error}") from error
    pairs = {
        "state_names": (list(meta["state_names"]), list(data.metadata["state_names"])),
        "action_names": (list(meta["action_names"]), list(data.metadata["action_names"])),
        "arm_model": (start.structure, structure),
        "arm_hidden_size": (meta["config"]["arm_hidden_size"], config.arm_hidden_size),
    }
    differ = [f"{name} {theirs!r} there, {ours!r} here" for name, (theirs, ours) in pairs.items() if theirs != ours]
    if differ:
        raise ValueError(
            f"arm_init_from {config.arm_init_from!r} holds a learned arm of another shape ({'; '.join(differ)})"
        )
    return start


def fit_learned_arm(
    data: TrajectoryDataset,
    config: ModelBasedConfig,
    run_dir: Path,
    dynamics: ActuatorDynamics | None = None,
    progress: bool = True,
    start: LearnedArm | None = None,
) -> tuple[LearnedArm, dict[str, float]]:
    """Fit the learned arm (``config.arm_model``; ``mlp`` where ``dynamics``, the arm's activation
    law, is not given) on the training episodes; return it and its validation errors.

    ``start`` (from :func:`load_arm_start`) is an earlier fit to go on from: its weights and
    standardisation are kept (the weights are only right in its units), its state bounds widened to
    the new data's."""
    device = torch.device(config.device)
    train_ids, val_ids = split_episodes(len(data), config.val_fraction, config.seed)
    train_data, val_data = data.subset(train_ids), data.subset(val_ids)
    structure = arm_structure(config, dynamics)
    dynamics = None if structure == "mlp" else dynamics
    low, high = data.states.min(axis=(0, 1)), data.states.max(axis=(0, 1))
    low, high = low - 0.1 * (high - low), high + 0.1 * (high - low)
    if start is None:  # standardised by the training transitions; a start keeps its own units
        states, commands, next_states = _transitions(train_data)
        sizes = states.shape[1], commands.shape[1], config.arm_hidden_size
        model = LearnedArm(*sizes, dynamics, structure).to(device)  # type: ignore[arg-type]
        for name, values in (("state", states), ("delta", next_states - states), ("action", commands)):
            getattr(model, f"{name}_mean").copy_(torch.as_tensor(values.mean(0)))
            getattr(model, f"{name}_std").copy_(torch.as_tensor(np.maximum(values.std(0), 1e-6)))
    else:
        model = copy.deepcopy(start).to(device).train().requires_grad_(True)
        low, high = np.minimum(low, model.state_low.cpu().numpy()), np.maximum(high, model.state_high.cpu().numpy())
    model.state_low.copy_(torch.as_tensor(low))
    model.state_high.copy_(torch.as_tensor(high))

    val_windows = validation_windows(val_data, config.arm_unroll_steps, device, config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.arm_learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.arm_iterations)
    rng = np.random.default_rng(config.seed)
    log = MetricsLog(run_dir, name=ARM_METRICS)
    bar = progress_bar(config.arm_iterations, "learned arm", progress)
    started = time.perf_counter()
    report_every = max(1, config.arm_iterations // 40)
    try:
        for iteration in range(1, config.arm_iterations + 1):
            loss = arm_fit_step(
                model,
                optimizer,
                train_data,
                config.arm_unroll_steps,
                config.arm_batch_windows,
                config.max_grad_norm,
                rng,
            )
            schedule.step()
            if iteration % report_every == 0 or iteration == config.arm_iterations:
                errors = arm_errors(model, val_windows)
                log.write(
                    {
                        "update": iteration,
                        "global_step": iteration,
                        "time_s": round(time.perf_counter() - started, 3),
                        "arm_train_loss": loss.item(),
                        **{f"val_{k}": v for k, v in errors.items()},
                    }
                )
                bar.set_postfix(loss=f"{loss.item():.3f}", hand_mm=f"{errors['arm_hand_rmse_mm']:.1f}")
            bar.update(1)
    finally:
        bar.close()
        log.close()
    return model.eval().requires_grad_(False), errors  # the last iteration always reports


# ------------------------------------------------------------------------------ imagined trials
@dataclass
class ImaginedTrials:
    """A batch of trials drawn by the real task, as tensors (B trials, T steps)."""

    start_state: torch.Tensor
    """(B, S) sensed state of the arm at the trial's start."""
    start_pos: torch.Tensor
    """(B, 2) start position, m."""
    target_pos: torch.Tensor
    """(B, 2) target position, m."""
    go_cue: torch.Tensor
    """(T + 1, B) 1.0 from the go cue's step on (the go cue as the task counts steps)."""
    cue_processed: torch.Tensor
    """(T + 1, B) 1.0 once the go cue has been processed (after the env's go_cue_latency_ms): what the
    eyes send on to the network, and when the cost's goal moves to the target."""
    in_trial: torch.Tensor
    """(T, B) 1.0 for the steps inside the trial (the trial ends at its end step)."""
    start_radius_m: torch.Tensor
    """(B,) radius of the start zone (leaving it before the go cue is a false start), m."""
    command_bias: torch.Tensor
    """(B, A) constant offset added to each trial's commands before the learned arm (0 unless
    ``command_bias_std``): an unknown error of the arm the policy must correct by feedback."""


class TrialSource:
    """Draws trials with the real task (its batched core, ``batch_trials`` envs) and holds what the
    imagined observations need: delays, noise levels, bounds, costs."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], batch_trials: int, device: torch.device) -> None:
        self.env_id, self.env_kwargs = env_id, env_kwargs
        env_cls = env_class(env_id)
        self.max_steps = ENV_IDS[env_id].max_episode_steps
        config = check_env_arguments(env_id, env_kwargs)
        self.core = ArmTaskCore(env_cls.task_cls, config, env_cls.arm_kind, batch_trials)
        core, self.device, self.batch_trials = self.core, device, batch_trials
        self.config = core.config
        self.visual_delay_steps, self.proprio_delay_steps = core.visual_delay_steps, core.proprio_delay_steps
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        self.obs_noise_std, self.obs_low, self.obs_high = (
            as_tensor(a) for a in (core.obs_noise_std, core.obs_low, core.obs_high)
        )
        self.action_low, self.action_high = as_tensor(core.action_low), as_tensor(core.action_high)
        self.proprio_dim = len(core.arm.proprioception_names)

    def draw(self, rng: np.random.Generator, command_bias_std: float = 0.0) -> ImaginedTrials:
        """A batch of trials of the task; each with a constant command offset ~ N(0, command_bias_std^2)."""
        core = self.core
        seeds = rng.integers(2**63, size=self.batch_trials)
        core.reset(np.arange(self.batch_trials), [np.random.default_rng(s) for s in seeds])
        task = core.task
        length = int(min(task.end_step.max(), self.max_steps))
        steps = np.arange(length + 1)[:, None]
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        return ImaginedTrials(
            start_state=as_tensor(core.arm.sensed_state()),
            start_pos=as_tensor(task.start_pos),
            target_pos=as_tensor(task.target_pos),
            go_cue=as_tensor(steps >= task.go_step[None]),
            cue_processed=as_tensor(steps - task.cue_latency_steps >= task.go_step[None]),
            in_trial=as_tensor(steps[1:] <= np.minimum(task.end_step, self.max_steps)[None]),
            start_radius_m=as_tensor(task.start_radius_m),
            command_bias=as_tensor(self._command_bias(rng, command_bias_std)),
        )

    def _command_bias(self, rng: np.random.Generator, std: float) -> np.ndarray:
        shape = (self.batch_trials, len(self.action_low))
        # No draw without a bias, so that the trials are those drawn before there was one.
        return std * rng.standard_normal(shape) if std > 0 else np.zeros(shape)

    def close(self) -> None:
        self.core.close()


def step_cost(
    config: EnvConfig,
    hand: torch.Tensor,
    goal: torch.Tensor,
    hand_vel: torch.Tensor,
    action: torch.Tensor,
    activation: torch.Tensor,
    previous_activation: torch.Tensor,
    waiting: torch.Tensor,
    state_on: torch.Tensor,
) -> torch.Tensor:
    """The env's per-step cost (the negative of :meth:`ReachingTask.reward`) as a differentiable
    function of one step, per trial (B,): (distance_weight x |hand - goal| + speed_weight x
    |hand_vel|^2) x ``state_on`` (1.0 where the env charges the hand's state:
    :func:`state_cost_charged`) + effort_weight x sum(u^2) + activation_weight x sum(a^2) + activation_change_weight x
    sum((a - a_previous)^2) + delay_speed_weight x |hand_vel|^2 while ``waiting`` (1.0 until the go
    cue is processed, else 0.0). The step-function costs (time, false start) are the caller's
    (:func:`imagine`)."""
    # sqrt(x + tiny): the hand resting exactly on its goal would otherwise give an infinite gradient.
    distance_m = (((hand - goal) ** 2).sum(-1) + 1e-12).sqrt()
    change = activation - previous_activation
    return (
        config.distance_weight * distance_m * state_on
        + config.effort_weight * (action**2).sum(-1)
        + config.speed_weight * (hand_vel**2).sum(-1) * state_on
        + config.activation_weight * (activation**2).sum(-1)
        + config.activation_change_weight * (change**2).sum(-1)
        + config.delay_speed_weight * waiting * (hand_vel**2).sum(-1)
    )


def state_cost_charged(cue_processed: torch.Tensor, onset_steps: int) -> torch.Tensor:
    """Where the env charges the hand's state (:meth:`ReachingTask.state_cost_charged`), from a trial's
    (T, B) 0/1 ``cue_processed`` over its steps (from the trial's start): 1.0 until the go cue is
    processed and from ``onset_steps`` (``state_cost_onset_ms`` in steps) after it, else 0.0."""
    steps_since_processed = torch.cumsum(cue_processed, 0) - 1
    return ((cue_processed == 0) | (steps_since_processed >= onset_steps)).float()


#: Width of the false start's smooth step, as a fraction of the start zone's radius.
FALSE_START_SOFTNESS = 0.25


def false_start_cost(
    hand: torch.Tensor,
    start: torch.Tensor,
    start_radius_m: torch.Tensor,
    before_go: torch.Tensor,
    false_started: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The env's false-start cost of one step per trial (1 on first leaving the start zone before
    the go cue, else 0; times false_start_weight by the caller) and the trials false-started so far.

    The step has no gradient, so a policy trained through the learned arm alone would not learn to
    wait for the cue (its pretrained policies moved in every catch trial). The value is the env's
    step, the gradient that of a smooth step, a sigmoid of the distance beyond the zone's edge
    (width FALSE_START_SOFTNESS x radius), while the trial has not yet false-started: a
    straight-through estimator, so the reported cost stays the env's."""
    distance_m = (((hand - start) ** 2).sum(-1) + 1e-12).sqrt()
    left = before_go & (distance_m.detach() > start_radius_m)
    now = left & ~false_started
    zone = torch.isfinite(start_radius_m)  # tasks without a start zone have an infinite radius
    radius_m = torch.where(zone, start_radius_m, torch.ones_like(start_radius_m))
    smooth = torch.sigmoid((distance_m - radius_m) / (FALSE_START_SOFTNESS * radius_m))
    smooth = smooth * (before_go & ~false_started & zone).float()
    return now.float() + smooth - smooth.detach(), false_started | left


def imagine(
    policy: RecurrentActorCritic,
    arm: LearnedArm,
    trials: ImaginedTrials,
    source: TrialSource,
    regularisation: ActorConfig | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Run imagined trials closed-loop through ``policy`` and the learned ``arm``; return the mean
    per-step cost (differentiable) and statistics (see the module docstring). With
    ``regularisation`` the loss adds its activity_l2, activity_change_l2 and command_change_l2 terms
    (as PPO does), the statistics still report the env's cost as ``imagined_cost``."""
    config = source.config
    state, starts = trials.start_state, torch.zeros(1, len(trials.start_state), device=source.device)
    recurrent = policy.initial_state(len(state), source.device)
    seen_vision: list[torch.Tensor] = []
    seen_proprio: list[torch.Tensor] = []
    costs = []
    proprio, activations = slice(2, 2 + source.proprio_dim), slice(2 + source.proprio_dim, None)
    previous_activation = state[:, activations]
    step_s = config.control_step_ms / 1000
    false_start = torch.zeros(len(state), dtype=torch.bool, device=source.device)
    state_on = state_cost_charged(trials.cue_processed, source.core.task.state_cost_onset_steps)
    hiddens, means = [], []
    for t in range(trials.in_trial.shape[0]):
        # What the sensors send now, and what reaches the policy: the sample from the delay ago
        # (the first one before that, as the env's delay lines start filled with it).
        seen_vision.append(torch.cat([state[:, :2], trials.target_pos, trials.cue_processed[t, :, None]], dim=-1))
        seen_proprio.append(state[:, proprio])
        obs = torch.cat(
            [seen_vision[max(0, t - source.visual_delay_steps)], seen_proprio[max(0, t - source.proprio_delay_steps)]],
            dim=-1,
        )
        obs = obs + source.obs_noise_std * torch.randn_like(obs)
        obs = torch.maximum(torch.minimum(obs, source.obs_high), source.obs_low)
        hidden, recurrent = policy.unroll(policy.obs_normalizer.normalize(obs)[None], recurrent, starts)
        mean = policy.distribution(hidden[0]).mean
        hiddens.append(hidden[0])
        means.append(mean)
        action = policy.clip_action(mean)
        noisy = action * (1.0 + config.motor_noise_coef * torch.randn_like(action)) + trials.command_bias
        previous_hand = state[:, :2]
        state = arm(state, torch.maximum(torch.minimum(noisy, source.action_high), source.action_low))
        hand_vel = (state[:, :2] - previous_hand) / step_s
        goal = torch.where(trials.cue_processed[t + 1, :, None] > 0, trials.target_pos, trials.start_pos)
        waiting = 1.0 - trials.cue_processed[t + 1]
        cost = step_cost(
            config,
            state[:, :2],
            goal,
            hand_vel,
            action,
            state[:, activations],
            previous_activation,
            waiting,
            state_on[t + 1],
        )
        previous_activation = state[:, activations]
        # The costs of time (from the processed go cue until the hand is in the target) and of a false
        # start (once, on leaving the start zone before the go cue) are step functions: no gradient
        # of their own (the false start gets a smooth one: false_start_cost).
        hand = state[:, :2].detach()
        going = (trials.cue_processed[t + 1] > 0) & ((hand - trials.target_pos).norm(dim=-1) > config.target_radius_m)
        before_go = trials.go_cue[t + 1] == 0
        cost = cost + config.time_weight * going.float()
        start_cost, false_start = false_start_cost(
            state[:, :2], trials.start_pos, trials.start_radius_m, before_go, false_start
        )
        cost = cost + config.false_start_weight * start_cost
        costs.append(cost * trials.in_trial[t])
    loss = torch.stack(costs).sum() / trials.in_trial.sum()
    final_m = torch.where(trials.cue_processed[-1, :, None] > 0, trials.target_pos, trials.start_pos)
    final_error_mm = float(((state.detach()[:, :2] - final_m) ** 2).sum(-1).sqrt().mean()) * 1000
    stats = {"imagined_cost": loss.item(), "imagined_final_error_mm": final_error_mm}
    if regularisation is None:
        return loss, stats
    terms = activity_terms(torch.stack(hiddens), torch.stack(means), trials.in_trial)
    loss = loss + regularisation.activity_cost(**terms)
    return loss, {**stats, **{name: term.item() for name, term in terms.items()}}


def activity_terms(hidden: torch.Tensor, mean: torch.Tensor, in_trial: torch.Tensor) -> dict[str, torch.Tensor]:
    """PPO's regularisation terms over imagined trials' steps (``in_trial`` (T, B)): the mean square
    of the hidden state (T, B, H), of its change and of the change of the mean command (T, B, A)."""
    starts = 1.0 - in_trial  # a step after its trial's end has no predecessor within it
    starts[0] = 1.0
    return {
        "hidden_activity": ((hidden**2).mean(-1) * in_trial).sum() / in_trial.sum(),
        "hidden_change": mean_square_change(hidden, starts),
        "command_change": mean_square_change(mean, starts),
    }


# ------------------------------------------------------------------------------ the policy
def policy_for(data: TrajectoryDataset, source: TrialSource, config: ModelBasedConfig) -> RecurrentActorCritic:
    """A new policy for the data's env, its observation normaliser set from the data."""
    spec = PolicySpec(
        obs_dim=data.observations.shape[2],
        action_low=tuple(source.core.action_low),
        action_high=tuple(source.core.action_high),
        cell=config.cell,  # type: ignore[arg-type]
        hidden_size=config.hidden_size,
        bounded_mean=config.bounded_action_mean,
    )
    policy = RecurrentActorCritic(spec).to(source.device)
    policy.obs_normalizer.update(torch.as_tensor(data.observations[data.step_mask()], device=source.device))
    return policy


def real_performance(
    policy: RecurrentActorCritic, env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int
) -> tuple[dict[str, float], int]:
    """Success rate and mean final hand-to-target distance (mm) of ``policy`` (deterministic) over
    ``episodes`` MuJoCo episodes, and the env steps they took."""
    done = rollout(env_id, env_kwargs, RecurrentAgent(policy), episodes, seed=seed)
    performance = {
        "real_success": float(np.mean([e.info["success"] for e in done])),
        "real_final_distance_mm": float(np.mean([e.info["distance_m"] for e in done])) * 1000,
    }
    return performance, sum(len(e.hand_pos) - 1 for e in done)


def save_learned_arm(
    run_dir: Path, arm: LearnedArm, validation: dict[str, Any], config: ModelBasedConfig, data: TrajectoryDataset
) -> None:
    save_checkpoint(
        run_dir / LEARNED_ARM,
        tensors={"arm": arm.state_dict()},
        metadata={
            "config": asdict(config),
            "state_names": data.metadata["state_names"],
            "action_names": data.metadata["action_names"],
            "arm_model": arm.structure,
            "actuator_dynamics": None if arm.dynamics is None else asdict(arm.dynamics),
            "validation": validation,
            "motorgym_version": motorgym.__version__,
        },
    )


def pretrain_policy(config: ModelBasedConfig, run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Fit the learned arm and train a policy through it into ``run_dir``; return a summary."""
    run_dir = Path(run_dir)
    device = config.torch_device()
    data = load_datasets(config.data_files)
    longest = int(data.lengths.max())
    if config.arm_unroll_steps > longest:
        raise ValueError(
            f"arm_unroll_steps must be at most the longest episode of the data ({longest} steps) "
            f"(got {config.arm_unroll_steps})"
        )
    init = kinds.init_weights(config.init_from) if config.init_from else None
    env_kwargs = {**data.metadata["env_kwargs"], **config.costs}
    source = TrialSource(data.metadata["env_id"], env_kwargs, config.batch_trials, device)
    dynamics = source.core.arm.actuator_dynamics()
    arm_start = None
    try:
        if init is not None:  # a mismatch fails here, before the run directory exists
            with torch.random.fork_rng():
                init.load_into(policy_for(data, source, config))
        if config.arm_init_from:
            arm_start = load_arm_start(config, data, arm_structure(config, dynamics))
        with new_run_dir(run_dir):
            kinds.write_config(run_dir, config)
        config.apply_threads()
        torch.manual_seed(config.seed)
        started = time.perf_counter()
        arm, arm_summary = fit_learned_arm(data, config, run_dir, dynamics, progress, arm_start)
        save_learned_arm(run_dir, arm, arm_summary, config, data)
        arm_seconds = time.perf_counter() - started
        policy = policy_for(data, source, config)
        if init is not None:
            init.load_into(policy)
        trained = train_through_arm(policy, arm, source, config, run_dir, progress)
    finally:
        source.close()
    summary = {
        "env_id": source.env_id,
        "arm": arm_summary,
        **trained,
        "collected_env_steps": int(data.lengths.sum()),
        "arm_fit_s": round(arm_seconds, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }
    save_checkpoint(
        run_dir / PRETRAINED_POLICY,
        tensors={"policy": policy.state_dict()},
        metadata={
            "policy_spec": asdict(policy.spec),
            "config": asdict(config),
            "env_id": source.env_id,
            "env_kwargs": source.env_kwargs,
            "summary": summary,
            "motorgym_version": motorgym.__version__,
        },
    )
    plot_losses(run_dir)
    return summary


def train_through_arm(
    policy: RecurrentActorCritic,
    arm: LearnedArm,
    source: TrialSource,
    config: ModelBasedConfig,
    run_dir: Path,
    progress: bool = True,
) -> dict[str, float]:
    """Adam on the imagined trials' cost through the learned arm, evaluating in MuJoCo every
    ``eval_every`` iterations (and at the end); return the last real performance and step counts."""
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.policy_learning_rate)
    rng = np.random.default_rng(config.seed)
    log = MetricsLog(run_dir)
    bar = progress_bar(config.policy_iterations, "policy through the learned arm", progress)
    started, imagined_steps, eval_steps = time.perf_counter(), 0, 0
    performance = {"real_success": math.nan, "real_final_distance_mm": math.nan}
    try:
        for iteration in range(1, config.policy_iterations + 1):
            trials = source.draw(rng, config.command_bias_std)
            loss, stats = imagine(policy, arm, trials, source, config)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = float(nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm))
            optimizer.step()
            imagined_steps += int(trials.in_trial.sum())
            row = {
                "update": iteration,
                "global_step": imagined_steps,
                "time_s": round(time.perf_counter() - started, 3),
                **stats,
                "grad_norm": grad_norm,
                "real_success": math.nan,
                "real_final_distance_mm": math.nan,
                "real_env_steps": math.nan,
            }
            if iteration % config.eval_every == 0 or iteration == config.policy_iterations:
                performance, steps = real_performance(
                    policy, source.env_id, source.env_kwargs, config.eval_episodes, config.seed + iteration
                )
                eval_steps += steps
                row.update(performance, real_env_steps=eval_steps)
            log.write(row)
            bar.update(1)
            success = performance["real_success"]
            bar.set_postfix(
                cost=f"{stats['imagined_cost']:.4f}",
                error_mm=f"{stats['imagined_final_error_mm']:.0f}",
                real_success="-" if math.isnan(success) else f"{success:.0%}",
            )
    finally:
        bar.close()
        log.close()
    return {**performance, "evaluation_env_steps": eval_steps, "imagined_steps": imagined_steps}


def load_learned_arm(run_dir: str | Path, device: str = "cpu") -> tuple[LearnedArm, dict[str, Any]]:
    """The learned arm of a model-based pretraining run (frozen) and its checkpoint metadata."""
    path = Path(run_dir) / LEARNED_ARM
    tensors, meta = load_checkpoint(path, device=device)
    try:
        known = meta.get("actuator_dynamics")  # absent from checkpoints before known activations
        dynamics = None if known is None else ActuatorDynamics(**{k: _frozen(v) for k, v in known.items()})
        structure = meta.get("arm_model", "mlp" if dynamics is None else "known-activation")
        sizes = len(meta["state_names"]), len(meta["action_names"]), meta["config"]["arm_hidden_size"]
        arm = LearnedArm(*sizes, dynamics, structure)
        arm.load_state_dict(tensors["arm"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a learned-arm checkpoint: {error}") from error
    return arm.to(device).eval().requires_grad_(False), meta


def _frozen(value: Any) -> Any:
    """A JSON list as the tuple a frozen dataclass field holds."""
    return tuple(value) if isinstance(value, list) else value


def plot_losses(run_dir: Path) -> Path:
    """losses.png: the learned arm's validation error, the imagined cost and the real success."""
    arm_rows, rows = read_metrics(run_dir, ARM_METRICS), read_metrics(run_dir)
    figure, (arm_axis, cost_axis, success_axis) = subplots(1, 3, figsize=(14, 3.8))
    iterations = [r["update"] for r in arm_rows]
    arm_axis.plot(iterations, [r["val_arm_hand_rmse_mm"] for r in arm_rows], label="learned arm")
    arm_axis.axhline(arm_rows[-1]["val_still_hand_rmse_mm"], color="gray", ls="--", label="arm stays still")
    arm_axis.set(xlabel="iteration", ylabel="hand error (mm)", title="learned arm: open-loop error (validation)")
    cost_axis.plot([r["update"] for r in rows], [r["imagined_cost"] for r in rows], lw=0.8)
    cost_axis.set(xlabel="policy iteration", ylabel="mean per-step cost", yscale="log", title="imagined trials")
    evaluated = [r for r in rows if not math.isnan(r["real_success"])]
    success_axis.plot([r["update"] for r in evaluated], [100 * r["real_success"] for r in evaluated], marker="o")
    success_axis.set(xlabel="policy iteration", ylabel="success (%)", ylim=(-2, 102), title="the policy in MuJoCo")
    for axis in (arm_axis, cost_axis, success_axis):
        axis.grid(alpha=0.3)
    arm_axis.legend()
    return save_figure(figure, run_dir / LOSSES_PLOT)


__all__ = [
    "ImaginedTrials",
    "TrialSource",
    "arm_fit_step",
    "arm_structure",
    "load_arm_start",
    "step_cost",
    "fit_learned_arm",
    "imagine",
    "load_learned_arm",
    "pretrain_policy",
    "train_through_arm",
]
