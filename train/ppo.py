"""Recurrent PPO: an LSTM or GRU actor-critic trained on a motorgym native batched env.

Readable top to bottom, after CleanRL's ``ppo_atari_lstm.py``:

1. collect a rollout of ``rollout_steps`` x ``num_envs`` steps, remembering the recurrent state at
   its start; the state of an env is zeroed where its episode starts (multiplied by 1 - start);
   at a time-limit truncation the reward is bootstrapped with the value of the final observation;
2. compute advantages with GAE(lambda);
3. for ``update_epochs`` epochs, split the envs into ``num_minibatches`` groups and, for each, re-run
   the network over the whole rollout from the stored initial states (truncated BPTT), then take a
   step on the clipped PPO objective + value loss - entropy bonus, with gradient-norm clipping;
4. log (progress bar, ``metrics.csv``, TensorBoard) and checkpoint.

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
from gymnasium.vector import AutoresetMode
from torch import nn

import motorgym
from motorgym.agents.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from motorgym.agents.recurrent import (
    ACTOR_PREFIXES,
    PolicySpec,
    RecurrentActorCritic,
    RunningMeanStd,
    core_state_dict,
    load_core,
)
from motorgym.train.runs import (
    Budget,
    EpisodeStats,
    MetricsLog,
    ProgressBar,
    TrainResult,
    read_run_config,
    require_fields,
    run_field_checks,
    write_run_config,
)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class PPOConfig:
    """Everything a recurrent PPO run depends on (saved as config.json in the run directory)."""

    env_id: str = "motorgym/CenterOut-v0"
    """Gymnasium id of the task."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the env (e.g. {"catch_fraction": 0.2}); JSON on the command line."""
    cell: str = "lstm"
    """Recurrent cell of the policy: lstm or gru."""
    hidden_size: int = 128
    """Units of the policy's encoder and recurrent cell."""
    num_envs: int = 64
    """Environments stepped together (one native batched env)."""
    rollout_steps: int = 64
    """Steps per environment in each rollout (the BPTT length)."""
    total_steps: int = 2_000_000
    """Stop after this many environment steps in total."""
    minutes: float = 0.0
    """Also stop after this many minutes of wall-clock time (0: no time limit)."""
    stop_success: float = 0.0
    """Also stop once the success rate of the last 100 training episodes reaches this (0: never)."""
    learning_rate: float = 3e-4
    """Adam learning rate (at the start, with annealing)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over total_steps."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch; each holds num_envs / num_minibatches whole env sequences."""
    update_epochs: int = 4
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """PPO's probability-ratio clip, also used for the value clip."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this."""
    normalize_reward: bool = True
    """Scale rewards by the running standard deviation of the discounted return."""
    init_log_std: float = -0.5
    """Initial log standard deviation of the policy's action noise."""
    seed: int = 0
    """Seeds the environments, the network initialisation and the sampling."""
    device: str = "cpu"
    """Torch device for the network: cpu or cuda."""
    physics_threads: int = 0
    """MuJoCo threads stepping the arms (0: one per core)."""
    torch_threads: int = 0
    """Torch CPU threads for the network (0: torch's default). With several runs on one machine,
    give each physics_threads=1 and torch_threads=1, or they oversubscribe the cores."""
    checkpoint_every: int = 50
    """Write a checkpoint every this many updates (and always at the end)."""
    init_from: str = ""
    """A pretraining run directory: from motorgym pretrain, its core (observation normaliser,
    encoder, recurrent cell) initialises the policy; from motorgym pretrain-policy, its core and
    action mean. Empty: train from scratch."""

    def __post_init__(self) -> None:
        checks = {
            "cell": (self.cell in ("lstm", "gru"), "lstm or gru"),
            "num_envs": (self.num_envs >= 1, ">= 1"),
            "rollout_steps": (self.rollout_steps >= 1, ">= 1"),
            "stop_success": (0.0 <= self.stop_success <= 1.0, "in [0, 1]"),
            "num_minibatches": (
                1 <= self.num_minibatches <= self.num_envs and self.num_envs % self.num_minibatches == 0,
                f"a divisor of num_envs={self.num_envs}",
            ),
            **run_field_checks(self),
        }
        require_fields(self, checks)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.rollout_steps


# ---------------------------------------------------------------------------------------- helpers
def make_env(config: PPOConfig) -> gym.vector.VectorEnv:
    return gym.make_vec(
        config.env_id,
        num_envs=config.num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        num_threads=config.physics_threads,
        **config.env_kwargs,
    )


def policy_spec(config: PPOConfig, envs: gym.vector.VectorEnv) -> PolicySpec:
    space = envs.single_action_space
    return PolicySpec(
        obs_dim=envs.single_observation_space.shape[0],
        action_low=tuple(space.low),
        action_high=tuple(space.high),
        cell=config.cell,
        hidden_size=config.hidden_size,
        init_log_std=config.init_log_std,
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

    ``total_steps`` and ``minutes`` override the config's budget (useful to extend a resumed run).
    """
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    saved: tuple[dict[str, Any], dict[str, Any]] | None = None
    if resume:
        saved = load_checkpoint(checkpoint_path)
        config = PPOConfig(**saved[1]["config"])
    else:
        config = config or PPOConfig()
        if checkpoint_path.exists():
            raise FileExistsError(f"{run_dir} already holds a run; resume it (--resume) or choose another --out")
    if total_steps is not None:
        config.total_steps = total_steps
    if minutes is not None:
        config.minutes = minutes
    write_run_config(run_dir, asdict(config))

    device = torch.device(config.device)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    envs = make_env(config)
    spec = policy_spec(config, envs)
    policy = RecurrentActorCritic(spec).to(device)
    if config.init_from and saved is None:
        init_from_pretrained(policy, config.init_from)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate, eps=1e-5)
    reward_scale = RunningMeanStd(())
    n, steps = config.num_envs, config.rollout_steps

    # Carry-over between rollouts: the last observation, recurrent state, episode-start flags,
    # running discounted returns (for reward scaling) and episode statistics.
    obs, _ = envs.reset(seed=config.seed)
    state = policy.initial_state(n, device)
    episode_start = np.ones(n, dtype=np.float32)
    discounted_return = np.zeros(n)
    episode_return, episode_length = np.zeros(n), np.zeros(n, dtype=np.int64)
    episodes = EpisodeStats()
    global_step, update, elapsed_before = 0, 0, 0.0
    if saved is not None:
        tensors, meta = saved
        policy.load_state_dict(tensors["policy"])
        optimizer.load_state_dict(tensors["optimizer"])
        reward_scale.load_state_dict(tensors["reward_scale"])
        envs.unwrapped.set_state(_to_numpy(tensors["env"]), meta["env_rng_states"])
        carry = _to_numpy(tensors["carry"])
        obs, episode_start = carry["obs"], carry["episode_start"]
        discounted_return, episode_return, episode_length = (
            carry["discounted_return"],
            carry["episode_return"],
            carry["episode_length"],
        )
        state = tensors["carry"]["state"].to(device)
        episodes = EpisodeStats(meta["recent"])
        global_step, update, elapsed_before = meta["global_step"], meta["update"], meta["elapsed_s"]
        torch.set_rng_state(tensors["torch_rng"])
    metrics_log = MetricsLog(run_dir, keep_until_update=update if saved is not None else None)

    # Rollout storage: normalised observations (as the policy saw them), T x N.
    obs_buf = torch.zeros(steps, n, spec.obs_dim, device=device)
    start_buf = torch.zeros(steps, n, device=device)
    action_buf = torch.zeros(steps, n, spec.action_dim, device=device)
    logprob_buf = torch.zeros(steps, n, device=device)
    reward_buf = torch.zeros(steps, n, device=device)
    value_buf = torch.zeros(steps, n, device=device)

    def save(final: bool = False) -> None:
        env_arrays, env_rngs = envs.unwrapped.get_state()
        carry = {
            "obs": obs,
            "episode_start": episode_start,
            "discounted_return": discounted_return,
            "episode_return": episode_return,
            "episode_length": episode_length,
        }
        save_checkpoint(
            checkpoint_path,
            tensors={
                "policy": policy.state_dict(),
                "optimizer": optimizer.state_dict(),
                "reward_scale": reward_scale.state_dict(),
                "env": _to_torch(env_arrays),
                "carry": {**_to_torch(carry), "state": state.cpu()},
                "torch_rng": torch.get_rng_state(),
            },
            metadata={
                "config": asdict(config),
                "policy_spec": json.loads(spec.to_json()),
                "global_step": global_step,
                "update": update,
                "elapsed_s": budget.elapsed_s(),
                "env_rng_states": env_rngs,
                "recent": episodes.state_dict(),
                "motorgym_version": motorgym.__version__,
                "final": final,
            },
        )

    budget = Budget(config.total_steps, config.minutes, elapsed_before)
    bar = ProgressBar(budget, global_step, f"{config.cell}-ppo {config.env_id}", enabled=progress)
    total_updates = math.ceil(config.total_steps / config.steps_per_update)
    row: dict[str, float] = {}
    try:
        while budget.left(global_step):
            update += 1
            if config.anneal_lr:
                optimizer.param_groups[0]["lr"] = config.learning_rate * max(0.0, 1 - (update - 1) / total_updates)
            initial_state = state.clone()
            rollout_started = time.perf_counter()

            # 1. Collect a rollout.
            for t in range(steps):
                obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
                policy.obs_normalizer.update(obs_t)
                normalized = policy.obs_normalizer.normalize(obs_t)
                start_t = torch.as_tensor(episode_start, device=device)
                with torch.no_grad():
                    hidden, state = policy.unroll(normalized[None], state, start_t[None])
                    dist = policy.distribution(hidden[0])
                    action = dist.sample()
                    value_buf[t] = policy.value(hidden[0])
                logprob_buf[t] = dist.log_prob(action).sum(-1)
                obs_buf[t], start_buf[t], action_buf[t] = normalized, start_t, action

                obs, reward, terminated, truncated, info = envs.step(policy.clip_action(action).cpu().numpy())
                done = terminated | truncated
                episode_return += reward
                episode_length += 1
                if config.normalize_reward:
                    discounted_return = discounted_return * config.gamma + reward
                    reward_scale.update(torch.as_tensor(discounted_return))
                    reward = reward / math.sqrt(float(reward_scale.var) + 1e-8)
                    discounted_return[done] = 0.0
                reward_t = torch.as_tensor(reward, dtype=torch.float32, device=device)
                time_limit = np.flatnonzero(truncated & ~terminated)
                if len(time_limit):  # the episode goes on beyond the limit: bootstrap its value
                    final = torch.as_tensor(np.stack(info["final_obs"][time_limit]), dtype=torch.float32, device=device)
                    with torch.no_grad():
                        h, _ = policy.unroll(
                            policy.obs_normalizer.normalize(final)[None],
                            state[time_limit],
                            torch.zeros(1, len(time_limit), device=device),
                        )
                        reward_t[time_limit] += config.gamma * policy.value(h[0])
                reward_buf[t] = reward_t
                for i in np.flatnonzero(done):
                    final_info = info["final_info"]
                    episodes.add(
                        episode_return[i], episode_length[i], final_info["success"][i], final_info["distance_m"][i]
                    )
                episode_return[done], episode_length[done] = 0.0, 0
                episode_start = done.astype(np.float32)
                global_step += n
            rollout_s = time.perf_counter() - rollout_started

            # 2. Advantages by GAE; an episode ending at t cuts the sum (1 - start at t + 1).
            with torch.no_grad():
                obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
                h, _ = policy.unroll(
                    policy.obs_normalizer.normalize(obs_t)[None],
                    state,
                    torch.as_tensor(episode_start, device=device)[None],
                )
                next_value = policy.value(h[0])
                next_nonterminal = 1.0 - torch.as_tensor(episode_start, device=device)
                advantages = torch.zeros_like(reward_buf)
                last = torch.zeros(n, device=device)
                for t in reversed(range(steps)):
                    if t < steps - 1:
                        next_nonterminal, next_value = 1.0 - start_buf[t + 1], value_buf[t + 1]
                    delta = reward_buf[t] + config.gamma * next_value * next_nonterminal - value_buf[t]
                    last = delta + config.gamma * config.gae_lambda * next_nonterminal * last
                    advantages[t] = last
                returns = advantages + value_buf

            # 3. PPO epochs over minibatches of whole env sequences, from the stored initial states.
            envs_per_batch = n // config.num_minibatches
            stats: dict[str, list[float]] = {
                k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
            }
            for _ in range(config.update_epochs):
                order = torch.randperm(n, device=device)
                for b in range(config.num_minibatches):
                    idx = order[b * envs_per_batch : (b + 1) * envs_per_batch]
                    hidden, _ = policy.unroll(obs_buf[:, idx], initial_state[idx], start_buf[:, idx])
                    dist = policy.distribution(hidden)
                    new_logprob = dist.log_prob(action_buf[:, idx]).sum(-1)
                    entropy = dist.entropy().sum(-1).mean()
                    new_value = policy.value(hidden)
                    log_ratio = new_logprob - logprob_buf[:, idx]
                    ratio = log_ratio.exp()
                    adv = advantages[:, idx]
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                    policy_loss = torch.max(
                        -adv * ratio, -adv * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
                    ).mean()
                    old_value = value_buf[:, idx]
                    clipped_value = old_value + (new_value - old_value).clamp(-config.clip_coef, config.clip_coef)
                    value_loss = (
                        0.5
                        * torch.max((new_value - returns[:, idx]) ** 2, (clipped_value - returns[:, idx]) ** 2).mean()
                    )
                    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
                    optimizer.step()
                    with torch.no_grad():
                        stats["policy_loss"].append(policy_loss.item())
                        stats["value_loss"].append(value_loss.item())
                        stats["entropy"].append(entropy.item())
                        stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
                        stats["clip_fraction"].append(((ratio - 1).abs() > config.clip_coef).float().mean().item())

            # 4. Log and checkpoint.
            elapsed = budget.elapsed_s()
            row = {
                "update": update,
                "global_step": global_step,
                "time_s": round(elapsed, 3),
                "steps_per_s": round(global_step / max(elapsed, 1e-9), 1),
                "rollout_steps_per_s": round(config.steps_per_update / max(rollout_s, 1e-9), 1),
                "learning_rate": optimizer.param_groups[0]["lr"],
                **episodes.means(),
                **{k: float(np.mean(v)) for k, v in stats.items()},
            }
            metrics_log.write(row)
            bar.update(row)
            if update % config.checkpoint_every == 0:
                save()
            if config.stop_success > 0 and row["episode_success"] >= config.stop_success:
                break
        save(final=True)
    finally:
        bar.close()
        metrics_log.close()
        envs.close()
    return TrainResult(run_dir=run_dir, global_step=global_step, updates=update, metrics=row)


def init_from_pretrained(policy: RecurrentActorCritic, run_dir: str | Path) -> None:
    """Copy a pretraining run's weights into ``policy`` (clear error on a cell or size mismatch):
    the core of a trajectory predictor (motorgym pretrain), or the core and action mean of a
    policy trained through a learned arm (motorgym pretrain-policy)."""
    if read_run_config(run_dir)["algo"] == "model-based":
        from motorgym.train.model_based import load_pretrained_policy

        pretrained, _ = load_pretrained_policy(run_dir)
        spec = pretrained.spec
        parts = core_state_dict(pretrained, ACTOR_PREFIXES)
        source = f"the pretrained policy in {run_dir} ({spec.cell}, hidden {spec.hidden_size})"
        if (spec.action_low, spec.action_high) != (policy.spec.action_low, policy.spec.action_high):
            raise ValueError(f"{source} acts in [{spec.action_low}, {spec.action_high}], not the env's bounds")
        load_core(policy, parts, source, ACTOR_PREFIXES)
        return
    from motorgym.train.pretrain import pretrained_core

    core, meta = pretrained_core(run_dir)
    cell, hidden = meta["config"]["cell"], meta["config"]["hidden_size"]
    load_core(policy, core, f"the pretrained core in {run_dir} ({cell}, hidden {hidden})")


def load_policy(run_dir: str | Path, device: str = "cpu") -> tuple[RecurrentActorCritic, PPOConfig]:
    """The trained policy and config of a run directory."""
    tensors, meta = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, device=device)
    try:
        spec = PolicySpec(**meta["policy_spec"])
        config = PPOConfig(**meta["config"])
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{run_dir}/{CHECKPOINT_NAME} lacks a valid policy spec or config: {error}") from error
    policy = RecurrentActorCritic(spec).to(device)
    policy.load_state_dict(tensors["policy"])
    policy.eval()
    return policy, config


__all__ = ["PPOConfig", "TrainResult", "load_policy", "train"]
