"""Recurrent PPO: an LSTM or GRU actor-critic trained on a motorgym native batched env.

Readable top to bottom, after CleanRL's ``ppo_atari_lstm.py``; :func:`train` runs these phases:

1. **restore** (or start): build the envs, the policy and the optimiser; a resumed run loads all
   of them, with the rollout carry-over, from its checkpoint;
2. **collect** a rollout of ``rollout_steps`` x ``num_envs`` steps, remembering the recurrent state
   at its start; the state of an env is zeroed where its episode starts (multiplied by 1 - start);
   at a time-limit truncation the reward is bootstrapped with the value of the final observation;
3. **advantages** by GAE(lambda);
4. **update**: for ``update_epochs`` epochs, split the envs into ``num_minibatches`` groups and, for
   each, re-run the network over the whole rollout from the stored initial states (truncated BPTT),
   then take a step on the clipped PPO objective + value loss - entropy bonus (+ L2 costs of the
   hidden activity and of its change, ``activity_l2`` and ``activity_change_l2``, and of the change
   of the mean command, ``command_change_l2``), with gradient-norm clipping;
5. **log** (progress bar, ``metrics.csv``, TensorBoard) and **save** a checkpoint.

Checkpoints hold the model (with its observation normaliser), the optimiser, the reward normaliser,
the environments' complete state and generators, the rollout carry-over and the torch RNG, so a
run resumed from one continues exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import motorgym
from motorgym.agents.checkpoint import load_checkpoint, save_checkpoint
from motorgym.agents.recurrent import PolicySpec, RecurrentActorCritic, RunningMeanStd, mean_square_change
from motorgym.agents.rollout import make_batched_env
from motorgym.train import kinds
from motorgym.train.configs import PPOConfig
from motorgym.train.progress import ACTIVITY_MEASURES, Budget, EpisodeStats, MetricsLog, ProgressBar, TrainResult
from motorgym.train.run_dir import PPO_CHECKPOINT, new_run_dir

LOSS_NAMES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", *ACTIVITY_MEASURES)


@dataclass
class Learner:
    """What learns: the envs it acts in, the policy, its optimiser and the reward scale."""

    config: PPOConfig
    envs: gym.vector.VectorEnv
    policy: RecurrentActorCritic
    optimizer: torch.optim.Optimizer
    reward_scale: RunningMeanStd
    device: torch.device


@dataclass
class Carry:
    """What goes on from one rollout to the next: the last observation, the recurrent state, the
    episode-start flags, the running discounted returns (reward scaling) and the open episodes."""

    obs: np.ndarray
    state: torch.Tensor
    episode_start: np.ndarray
    discounted_return: np.ndarray
    episode_return: np.ndarray
    episode_length: np.ndarray

    ARRAYS = ("obs", "episode_start", "discounted_return", "episode_return", "episode_length")


@dataclass
class Progress:
    """How far the run is: steps, updates, wall-clock time of earlier sessions, recent episodes."""

    global_step: int = 0
    update: int = 0
    elapsed_s: float = 0.0
    episodes: EpisodeStats = field(default_factory=EpisodeStats)


@dataclass
class Rollout:
    """One rollout's storage, T x N: observations as the policy saw them (normalised), episode
    starts, actions, their log-probabilities, rewards (scaled, bootstrapped) and values."""

    obs: torch.Tensor
    starts: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    rewards: torch.Tensor
    values: torch.Tensor
    initial_state: torch.Tensor


# ------------------------------------------------------------------------------------------ train
def train(
    config: PPOConfig | None = None,
    run_dir: str | Path = "runs/run",
    resume: bool = False,
    total_steps: int | None = None,
    minutes: float | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or, with ``resume``, continue training) a recurrent PPO agent into ``run_dir``.

    ``total_steps`` and ``minutes`` override the config's budget (to extend a resumed run).
    """
    run_dir = Path(run_dir)
    saved = load_checkpoint(run_dir / PPO_CHECKPOINT) if resume else None
    config = PPOConfig(**saved[1]["config"]) if saved is not None else (config or PPOConfig())
    config = config.with_budget(total_steps, minutes)
    learner, carry, done = restore(config, run_dir, saved)
    budget = Budget(config.total_steps, config.minutes, done.elapsed_s)
    log = MetricsLog(run_dir, resume_after_update=done.update if saved is not None else None)
    bar = ProgressBar(budget, done.global_step, f"{kinds.kind_of_config(config).name} {config.env_id}", progress)
    row: dict[str, float] = {}
    try:
        while budget.left(done.global_step):
            done.update += 1
            _anneal(learner, budget.fraction_used(done.global_step))
            started = time.perf_counter()
            rollout, carry = collect(learner, carry, done)
            rollout_s = time.perf_counter() - started
            advantages = gae(learner, rollout, carry)
            losses = update(learner, rollout, advantages)
            row = log_row(learner, done, budget, rollout_s, losses)
            log.write(row)
            bar.update(row)
            if done.update % config.checkpoint_every == 0:
                save(learner, carry, done, budget, run_dir)
            if 0 < config.stop_success <= row["episode_success"]:
                break
        if row:  # a run whose budget was already used up keeps its final checkpoint as it is
            save(learner, carry, done, budget, run_dir, final=True)
    finally:
        bar.close()
        log.close()
        learner.envs.close()
    return TrainResult(run_dir=run_dir, global_step=done.global_step, updates=done.update, metrics=row)


# ---------------------------------------------------------------------------------------- restore
def restore(
    config: PPOConfig, run_dir: Path, saved: tuple[dict[str, Any], dict[str, Any]] | None
) -> tuple[Learner, Carry, Progress]:
    """Build the learner and either start afresh in a new run directory (set-up errors remove it
    again) or load everything from the run's checkpoint; write config.json."""
    device = config.torch_device()
    if saved is not None:
        learner = build_learner(config, device)
        carry, done = load_state(learner, saved)
        kinds.write_config(run_dir, config)  # the resumed run's budget
        return learner, carry, done
    init = kinds.init_weights(config.init_from) if config.init_from else None
    with new_run_dir(run_dir):
        learner = build_learner(config, device)
        try:
            if init is not None:
                init.load_into(learner.policy)
            kinds.write_config(run_dir, config)
        except BaseException:
            learner.envs.close()
            raise
    return learner, initial_carry(learner), Progress()


def build_learner(config: PPOConfig, device: torch.device) -> Learner:
    config.apply_threads()
    torch.manual_seed(config.seed)
    envs = make_batched_env(config.env_id, config.num_envs, config.env_kwargs, config.physics_threads)
    space = envs.single_action_space
    spec = PolicySpec(
        obs_dim=envs.single_observation_space.shape[0],
        action_low=tuple(space.low),
        action_high=tuple(space.high),
        cell=config.cell,  # type: ignore[arg-type]
        hidden_size=config.hidden_size,
        init_log_std=config.init_log_std,
        bounded_mean=config.bounded_action_mean,
    )
    policy = RecurrentActorCritic(spec).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate, eps=1e-5)
    return Learner(config, envs, policy, optimizer, RunningMeanStd(()), device)


def initial_carry(learner: Learner) -> Carry:
    n = learner.config.num_envs
    obs, _ = learner.envs.reset(seed=learner.config.seed)
    return Carry(
        obs=obs,
        state=learner.policy.initial_state(n, learner.device),
        episode_start=np.ones(n, dtype=np.float32),
        discounted_return=np.zeros(n),
        episode_return=np.zeros(n),
        episode_length=np.zeros(n, dtype=np.int64),
    )


def load_state(learner: Learner, saved: tuple[dict[str, Any], dict[str, Any]]) -> tuple[Carry, Progress]:
    tensors, meta = saved
    learner.policy.load_state_dict(tensors["policy"])
    learner.optimizer.load_state_dict(tensors["optimizer"])
    learner.reward_scale.load_state_dict(tensors["reward_scale"])
    learner.envs.unwrapped.set_state(_to_numpy(tensors["env"]), meta["env_rng_states"])
    arrays = _to_numpy(tensors["carry"])
    carry = Carry(state=tensors["carry"]["state"].to(learner.device), **{k: arrays[k] for k in Carry.ARRAYS})
    torch.set_rng_state(tensors["torch_rng"])
    return carry, Progress(meta["global_step"], meta["update"], meta["elapsed_s"], EpisodeStats(meta["recent"]))


# ---------------------------------------------------------------------------------------- collect
def collect(learner: Learner, carry: Carry, done: Progress) -> tuple[Rollout, Carry]:
    """Run the policy (sampling) for ``rollout_steps`` steps of every env; return the rollout and
    the carry-over to the next one. Finished episodes go into ``done.episodes``."""
    config, policy, device = learner.config, learner.policy, learner.device
    steps, n = config.rollout_steps, config.num_envs
    rollout = Rollout(
        obs=torch.zeros(steps, n, policy.spec.obs_dim, device=device),
        starts=torch.zeros(steps, n, device=device),
        actions=torch.zeros(steps, n, policy.spec.action_dim, device=device),
        logprobs=torch.zeros(steps, n, device=device),
        rewards=torch.zeros(steps, n, device=device),
        values=torch.zeros(steps, n, device=device),
        initial_state=carry.state.clone(),
    )
    for t in range(steps):
        obs_t = torch.as_tensor(carry.obs, dtype=torch.float32, device=device)
        policy.obs_normalizer.update(obs_t)
        normalized = policy.obs_normalizer.normalize(obs_t)
        start_t = torch.as_tensor(carry.episode_start, device=device)
        with torch.no_grad():
            hidden, carry.state = policy.unroll(normalized[None], carry.state, start_t[None])
            dist = policy.distribution(hidden[0])
            action = dist.sample()
            rollout.values[t] = policy.value(hidden[0])
        rollout.logprobs[t] = dist.log_prob(action).sum(-1)
        rollout.obs[t], rollout.starts[t], rollout.actions[t] = normalized, start_t, action
        obs, reward, terminated, truncated, info = learner.envs.step(policy.clip_action(action).cpu().numpy())
        rollout.rewards[t] = _scaled_reward(learner, carry, reward, terminated, truncated, info)
        _count_episodes(carry, done, reward, terminated | truncated, info)
        carry.obs = obs
        done.global_step += n
    return rollout, carry


def _scaled_reward(
    learner: Learner,
    carry: Carry,
    reward: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    info: dict[str, Any],
) -> torch.Tensor:
    """The reward as PPO learns from it: scaled by the running std of the discounted return, and
    at a time-limit truncation bootstrapped with the value of the final observation (the episode
    goes on beyond the limit)."""
    config, policy, device = learner.config, learner.policy, learner.device
    if config.normalize_reward:
        carry.discounted_return = carry.discounted_return * config.gamma + reward
        learner.reward_scale.update(torch.as_tensor(carry.discounted_return))
        reward = reward / math.sqrt(float(learner.reward_scale.var) + 1e-8)
        carry.discounted_return[terminated | truncated] = 0.0
    reward_t = torch.as_tensor(reward, dtype=torch.float32, device=device)
    time_limit = np.flatnonzero(truncated & ~terminated)
    if len(time_limit):
        final = torch.as_tensor(np.stack(info["final_obs"][time_limit]), dtype=torch.float32, device=device)
        with torch.no_grad():
            hidden, _ = policy.unroll(
                policy.obs_normalizer.normalize(final)[None],
                carry.state[time_limit],
                torch.zeros(1, len(time_limit), device=device),
            )
            reward_t[time_limit] += config.gamma * policy.value(hidden[0])
    return reward_t


def _count_episodes(carry: Carry, done: Progress, reward: np.ndarray, ended: np.ndarray, info: dict[str, Any]) -> None:
    carry.episode_return += reward
    carry.episode_length += 1
    final = info.get("final_info", {})
    for i in np.flatnonzero(ended):
        done.episodes.add(carry.episode_return[i], carry.episode_length[i], final["success"][i], final["distance_m"][i])
    carry.episode_return[ended], carry.episode_length[ended] = 0.0, 0
    carry.episode_start = ended.astype(np.float32)


# ------------------------------------------------------------------------------------- advantages
def gae(learner: Learner, rollout: Rollout, carry: Carry) -> torch.Tensor:
    """Advantages by GAE(lambda); an episode starting at t + 1 cuts the sum (1 - start at t + 1)."""
    config, policy, device = learner.config, learner.policy, learner.device
    with torch.no_grad():
        obs_t = torch.as_tensor(carry.obs, dtype=torch.float32, device=device)
        start_t = torch.as_tensor(carry.episode_start, device=device)
        hidden, _ = policy.unroll(policy.obs_normalizer.normalize(obs_t)[None], carry.state, start_t[None])
        next_value, next_nonterminal = policy.value(hidden[0]), 1.0 - start_t
        advantages = torch.zeros_like(rollout.rewards)
        last = torch.zeros(config.num_envs, device=device)
        for t in reversed(range(config.rollout_steps)):
            if t < config.rollout_steps - 1:
                next_nonterminal, next_value = 1.0 - rollout.starts[t + 1], rollout.values[t + 1]
            delta = rollout.rewards[t] + config.gamma * next_value * next_nonterminal - rollout.values[t]
            last = delta + config.gamma * config.gae_lambda * next_nonterminal * last
            advantages[t] = last
    return advantages


# ----------------------------------------------------------------------------------------- update
def update(learner: Learner, rollout: Rollout, advantages: torch.Tensor) -> dict[str, float]:
    """PPO epochs over minibatches of whole env sequences, each re-run from its stored initial
    state; return the mean of each loss term."""
    config = learner.config
    returns = advantages + rollout.values
    envs_per_batch = config.num_envs // config.num_minibatches
    losses: dict[str, list[float]] = {name: [] for name in LOSS_NAMES}
    for _ in range(config.update_epochs):
        order = torch.randperm(config.num_envs, device=learner.device)
        for b in range(config.num_minibatches):
            envs = order[b * envs_per_batch : (b + 1) * envs_per_batch]
            for name, value in _minibatch_step(learner, rollout, advantages, returns, envs).items():
                losses[name].append(value)
    return {name: float(np.mean(values)) for name, values in losses.items()}


def _minibatch_step(
    learner: Learner, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor, envs: torch.Tensor
) -> dict[str, float]:
    """One gradient step on :func:`minibatch_loss` for ``envs``, with gradient-norm clipping."""
    loss, stats = minibatch_loss(learner, rollout, advantages, returns, envs)
    learner.optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(learner.policy.parameters(), learner.config.max_grad_norm)
    learner.optimizer.step()
    return stats


def minibatch_loss(
    learner: Learner, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor, envs: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped PPO objective + value loss - entropy bonus (+ the activity costs) of ``envs``'
    sequences, re-run from their stored initial states; and its terms."""
    config, policy = learner.config, learner.policy
    hidden, _ = policy.unroll(rollout.obs[:, envs], rollout.initial_state[envs], rollout.starts[:, envs])
    dist = policy.distribution(hidden)
    log_ratio = dist.log_prob(rollout.actions[:, envs]).sum(-1) - rollout.logprobs[:, envs]
    ratio = log_ratio.exp()
    adv = advantages[:, envs]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)).mean()
    new_value, old_value, target = policy.value(hidden), rollout.values[:, envs], returns[:, envs]
    clipped_value = old_value + (new_value - old_value).clamp(-config.clip_coef, config.clip_coef)
    value_loss = 0.5 * torch.max((new_value - target) ** 2, (clipped_value - target) ** 2).mean()
    entropy = dist.entropy().sum(-1).mean()
    starts = rollout.starts[:, envs]
    activity, activity_change = (hidden**2).mean(), mean_square_change(hidden, starts)
    command_change = mean_square_change(dist.mean, starts)
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    loss = loss + config.activity_cost(activity, activity_change, command_change)
    with torch.no_grad():
        return loss, {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "approx_kl": ((ratio - 1) - log_ratio).mean().item(),
            "clip_fraction": ((ratio - 1).abs() > config.clip_coef).float().mean().item(),
            "hidden_activity": activity.item(),
            "hidden_change": activity_change.item(),
            "command_change": command_change.item(),
        }


def _anneal(learner: Learner, fraction_used: float) -> None:
    """Decay the learning rate linearly to 0 over the budget (steps or time, whichever is further)."""
    if learner.config.anneal_lr:
        learner.optimizer.param_groups[0]["lr"] = learner.config.learning_rate * max(0.0, 1.0 - fraction_used)


# ------------------------------------------------------------------------------------ log and save
def log_row(
    learner: Learner, done: Progress, budget: Budget, rollout_s: float, losses: dict[str, float]
) -> dict[str, float]:
    elapsed = budget.elapsed_s()
    return {
        "update": done.update,
        "global_step": done.global_step,
        "time_s": round(elapsed, 3),
        "steps_per_s": round(done.global_step / max(elapsed, 1e-9), 1),
        "rollout_steps_per_s": round(learner.config.steps_per_update / max(rollout_s, 1e-9), 1),
        "learning_rate": learner.optimizer.param_groups[0]["lr"],
        **done.episodes.means(),
        **losses,
    }


def save(learner: Learner, carry: Carry, done: Progress, budget: Budget, run_dir: Path, final: bool = False) -> None:
    """Write the checkpoint: everything the run needs to continue exactly (see the module docstring)."""
    env_arrays, env_rngs = learner.envs.unwrapped.get_state()
    carry_arrays = {name: getattr(carry, name) for name in Carry.ARRAYS}
    save_checkpoint(
        run_dir / PPO_CHECKPOINT,
        tensors={
            "policy": learner.policy.state_dict(),
            "optimizer": learner.optimizer.state_dict(),
            "reward_scale": learner.reward_scale.state_dict(),
            "env": _to_torch(env_arrays),
            "carry": {**_to_torch(carry_arrays), "state": carry.state.cpu()},
            "torch_rng": torch.get_rng_state(),
        },
        metadata={
            "config": asdict(learner.config),
            "policy_spec": json.loads(learner.policy.spec.to_json()),
            "global_step": done.global_step,
            "update": done.update,
            "elapsed_s": budget.elapsed_s(),
            "env_rng_states": env_rngs,
            "recent": done.episodes.state_dict(),
            "motorgym_version": motorgym.__version__,
            "final": final,
        },
    )


def _to_torch(tree: Any) -> Any:
    """numpy arrays -> tensors, recursively (checkpoints hold tensors only)."""
    if isinstance(tree, dict):
        return {k: _to_torch(v) for k, v in tree.items()}
    return torch.from_numpy(np.array(tree)) if isinstance(tree, np.ndarray) else tree  # a contiguous copy


def _to_numpy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return tree.numpy() if isinstance(tree, torch.Tensor) else tree


__all__ = ["PPOConfig", "TrainResult", "train"]
