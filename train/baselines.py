"""The Stable-Baselines3 baselines: sb3-contrib ``RecurrentPPO`` (``MlpLstmPolicy``) and SB3 ``PPO``
(``MlpPolicy``, feed-forward), trained on a motorgym native batched env through the SB3 adapter.

    motorgym train --algo sb3-rppo --env motorgym/CenterOut-v0 --minutes 20 --out runs/co_rppo
    motorgym train --algo sb3-ppo --env motorgym/CenterOut-v0 --minutes 20 --out runs/co_ppo

A run directory has the layout of our PPO's (config.json, metrics.csv with the same columns,
tensorboard/) with the checkpoint in SB3's own format, ``model.zip`` (``model.save``), beside
``normalizer.pt``: the ``VecNormalize`` statistics and the run's progress, in the same safe format
as our checkpoints. Neither file is unpickled on loading: the model's tensors are read with
``torch.load(weights_only=True)`` (``set_parameters``), and the model object is rebuilt from
config.json, so SB3's cloudpickled entries in ``model.zip`` are never executed.

Hyperparameters start from rl-baselines3-zoo's tuned entry for the closest MuJoCo task, Reacher
(a planar two-joint arm reaching a target; ``ppo.yml`` ``Reacher-v2`` and ``ppo_lstm.yml``
``Reacher-v3`` have the same values): VecNormalize of observations and rewards, n_steps 512,
5 epochs, learning rate 1.04e-4, clip 0.3, entropy 7.5e-8, value coefficient 0.95, gradient
clip 0.9, GAE lambda 1.0, SB3's default networks (64-64 tanh MLPs; an LSTM of 256 for
``MlpLstmPolicy``). Changed, and why: 16 environments instead of 1 (the zoo's own choice for the
PyBullet reacher), with the minibatch scaled alike (32 -> 512), so the batched env is used; and
gamma 0.99 instead of 0.9, as in our PPO: a centre-out trial lasts up to 2 s of 10 ms steps with
a 0.5-1 s delay before the reach, beyond a 0.9 discount's horizon of ~10 steps.

Resuming (``--resume``) restores the weights, the optimiser, the normaliser, the step count and
the torch RNG; the environments restart with fresh episodes (SB3 keeps no env state), so unlike
our PPO a resumed SB3 run is not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

import motorgym
from motorgym.agents.checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from motorgym.envs.sb3 import make_sb3_vec_env
from motorgym.train.runs import (
    SB3_ALGOS,
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

MODEL_NAME = "model.zip"
NORMALIZER_NAME = "normalizer.pt"


@dataclass
class SB3Config:
    """Everything an SB3 baseline run depends on (saved as config.json in the run directory)."""

    algo: str = "sb3-rppo"
    """sb3-rppo (sb3-contrib RecurrentPPO, MlpLstmPolicy) or sb3-ppo (SB3 PPO, MlpPolicy)."""
    env_id: str = "motorgym/CenterOut-v0"
    """Gymnasium id of the task."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the env (e.g. {"catch_fraction": 0.2}); JSON on the command line."""
    num_envs: int = 16
    """Environments stepped together (one native batched env behind the SB3 adapter)."""
    n_steps: int = 512
    """Steps per environment in each rollout."""
    batch_size: int = 512
    """Minibatch size in steps."""
    n_epochs: int = 5
    """Passes over each rollout."""
    learning_rate: float = 1.04019e-4
    """Adam learning rate (constant)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE lambda."""
    clip_range: float = 0.3
    """PPO's probability-ratio clip."""
    ent_coef: float = 7.52585e-08
    """Weight of the entropy bonus."""
    vf_coef: float = 0.950368
    """Weight of the value loss."""
    max_grad_norm: float = 0.9
    """Clip the global gradient norm to this."""
    normalize: bool = True
    """Normalise observations and rewards with SB3's VecNormalize."""
    lstm_hidden_size: int = 256
    """Units of the LSTM (sb3-rppo only)."""
    total_steps: int = 2_000_000
    """Stop after this many environment steps in total."""
    minutes: float = 0.0
    """Also stop after this many minutes of wall-clock time (0: no time limit)."""
    seed: int = 0
    """Seeds the environments, the network initialisation and the sampling."""
    device: str = "cpu"
    """Torch device for the network: cpu or cuda."""
    physics_threads: int = 0
    """MuJoCo threads stepping the arms (0: one per core)."""
    torch_threads: int = 0
    """Torch CPU threads for the network (0: torch's default)."""
    checkpoint_every: int = 10
    """Write a checkpoint every this many updates (and always at the end)."""

    def __post_init__(self) -> None:
        checks = {
            "algo": (self.algo in SB3_ALGOS, " or ".join(SB3_ALGOS)),
            "num_envs": (self.num_envs >= 1, ">= 1"),
            "n_steps": (self.n_steps >= 1, ">= 1"),
            "batch_size": (1 <= self.batch_size <= self.num_envs * self.n_steps, "in [1, num_envs * n_steps]"),
            "n_epochs": (self.n_epochs >= 1, ">= 1"),
            **run_field_checks(self),
        }
        require_fields(self, checks)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.n_steps


def _algorithm(config: SB3Config) -> tuple[type[BaseAlgorithm], str, dict[str, Any]]:
    """(algorithm class, policy alias, policy kwargs) of a config."""
    if config.algo == "sb3-rppo":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO, "MlpLstmPolicy", {"lstm_hidden_size": config.lstm_hidden_size}
    from stable_baselines3 import PPO

    return PPO, "MlpPolicy", {}


def make_env(config: SB3Config, seed: int) -> VecNormalize | VecMonitor:
    venv = make_sb3_vec_env(
        config.env_id, config.num_envs, seed, num_threads=config.physics_threads, **config.env_kwargs
    )
    monitored = VecMonitor(venv)  # episode returns of the raw rewards, under the normaliser
    return VecNormalize(monitored, gamma=config.gamma) if config.normalize else monitored


def build_model(config: SB3Config, env: Any) -> BaseAlgorithm:
    algorithm, policy, policy_kwargs = _algorithm(config)
    return algorithm(
        policy,
        env,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs=policy_kwargs,
        seed=config.seed,
        device=config.device,
        verbose=0,
    )


def _normalizer_state(env: Any) -> dict[str, torch.Tensor]:
    if not isinstance(env, VecNormalize):
        return {}
    return {
        "obs_mean": torch.from_numpy(np.asarray(env.obs_rms.mean, dtype=np.float64)),
        "obs_var": torch.from_numpy(np.asarray(env.obs_rms.var, dtype=np.float64)),
        "obs_count": torch.tensor(float(env.obs_rms.count), dtype=torch.float64),
        "return_mean": torch.tensor(float(env.ret_rms.mean), dtype=torch.float64),
        "return_var": torch.tensor(float(env.ret_rms.var), dtype=torch.float64),
        "return_count": torch.tensor(float(env.ret_rms.count), dtype=torch.float64),
        "clip_obs": torch.tensor(float(env.clip_obs), dtype=torch.float64),
        "epsilon": torch.tensor(float(env.epsilon), dtype=torch.float64),
    }


def _restore_normalizer(env: Any, tensors: dict[str, torch.Tensor]) -> None:
    if isinstance(env, VecNormalize):
        env.obs_rms.mean, env.obs_rms.var = tensors["obs_mean"].numpy(), tensors["obs_var"].numpy()
        env.obs_rms.count = float(tensors["obs_count"])
        env.ret_rms.mean, env.ret_rms.var = float(tensors["return_mean"]), float(tensors["return_var"])
        env.ret_rms.count = float(tensors["return_count"])


class RunCallback(BaseCallback):
    """Logs one metrics row per update (in our PPO's columns), drives the progress bar, stops at the
    wall-clock budget and checkpoints.

    SB3 trains on a rollout after collecting it; the next rollout's start (or the end of training)
    is the first moment that update's losses are known, so its row is written then.
    """

    def __init__(
        self, config: SB3Config, budget: Budget, metrics: MetricsLog, bar: ProgressBar, checkpoint: Any, update: int
    ) -> None:
        super().__init__()
        self.config, self.budget, self.metrics, self.bar, self.checkpoint = config, budget, metrics, bar, checkpoint
        self.update, self.episodes = update, EpisodeStats()
        self._row_pending = False
        self.row: dict[str, float] = {}
        self._rollout_started = time.perf_counter()
        self._rollout_s = float("nan")

    def _on_rollout_start(self) -> None:
        self._write_row()
        self._rollout_started = time.perf_counter()

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if done:
                self.episodes.add(info["episode"]["r"], info["episode"]["l"], info["success"], info["distance_m"])
        return self.budget.time_left()  # SB3's loop stops at the step budget itself

    def _on_rollout_end(self) -> None:
        self._rollout_s = time.perf_counter() - self._rollout_started
        self.update += 1
        self._row_pending = True

    def _on_training_end(self) -> None:
        self._write_row()

    def _write_row(self) -> None:
        if not self._row_pending:
            return
        self._row_pending = False
        logged = self.logger.name_to_value
        elapsed = self.budget.elapsed_s()
        row = {
            "update": self.update,
            "global_step": self.num_timesteps,
            "time_s": round(elapsed, 3),
            "steps_per_s": round(self.num_timesteps / max(elapsed, 1e-9), 1),
            "rollout_steps_per_s": round(self.config.steps_per_update / max(self._rollout_s, 1e-9), 1),
            "learning_rate": logged.get("train/learning_rate", self.config.learning_rate),
            **self.episodes.means(),
            "policy_loss": logged.get("train/policy_gradient_loss", float("nan")),
            "value_loss": logged.get("train/value_loss", float("nan")),
            "entropy": -logged.get("train/entropy_loss", float("nan")),
            "approx_kl": logged.get("train/approx_kl", float("nan")),
            "clip_fraction": logged.get("train/clip_fraction", float("nan")),
        }
        self.row = row
        self.metrics.write(row)
        self.bar.update(row)
        if self.update % self.config.checkpoint_every == 0:
            self.checkpoint(self.update)


def train(
    config: SB3Config | None = None,
    run_dir: str | Path = "runs/run",
    resume: bool = False,
    total_steps: int | None = None,
    minutes: float | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or, with ``resume``, continue training) an SB3 baseline into ``run_dir``."""
    run_dir = Path(run_dir)
    saved: tuple[dict[str, Any], dict[str, Any]] | None = None
    if resume:
        saved = load_checkpoint(run_dir / NORMALIZER_NAME)
        config = SB3Config(**saved[1]["config"])
        if not (run_dir / MODEL_NAME).exists():
            raise CheckpointError(f"{run_dir / MODEL_NAME} is missing: the run cannot be resumed")
    else:
        config = config or SB3Config()
        if (run_dir / MODEL_NAME).exists():
            raise FileExistsError(f"{run_dir} already holds a run; resume it (--resume) or choose another --out")
    if total_steps is not None:
        config.total_steps = total_steps
    if minutes is not None:
        config.minutes = minutes
    write_run_config(run_dir, asdict(config))
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)

    update, global_step, elapsed_before = 0, 0, 0.0
    if saved is not None:
        meta = saved[1]
        update, global_step, elapsed_before = meta["update"], meta["global_step"], meta["elapsed_s"]
    # A resumed run's episodes start afresh; seeding by the update count keeps them new ones.
    env = make_env(config, seed=config.seed + update)
    model = build_model(config, env)
    if saved is not None:
        tensors, meta = saved
        model.set_parameters(str(run_dir / MODEL_NAME), exact_match=True, device=config.device)
        _restore_normalizer(env, tensors)
        model.num_timesteps = global_step
        torch.set_rng_state(tensors["torch_rng"])

    budget = Budget(config.total_steps, config.minutes, elapsed_before)
    metrics = MetricsLog(run_dir, keep_until_update=update if saved is not None else None)
    bar = ProgressBar(budget, global_step, f"{config.algo} {config.env_id}", enabled=progress)

    def checkpoint(at_update: int, final: bool = False) -> None:
        # The model first: a crash between the two files leaves the older normaliser with newer weights.
        atomic_write(run_dir / MODEL_NAME, model.save)
        save_checkpoint(
            run_dir / NORMALIZER_NAME,
            tensors={**_normalizer_state(env), "torch_rng": torch.get_rng_state()},
            metadata={
                "config": asdict(config),
                "global_step": model.num_timesteps,
                "update": at_update,
                "elapsed_s": budget.elapsed_s(),
                "recent": callback.episodes.state_dict(),
                "motorgym_version": motorgym.__version__,
                "final": final,
            },
        )

    callback = RunCallback(config, budget, metrics, bar, checkpoint, update)
    if saved is not None:
        callback.episodes = EpisodeStats(saved[1].get("recent"))
    try:
        if budget.left(global_step):
            model.learn(
                total_timesteps=config.total_steps - global_step,
                callback=callback,
                log_interval=None,  # type: ignore[arg-type]  # SB3 itself logs nothing; RunCallback does
                reset_num_timesteps=saved is None,
            )
        checkpoint(callback.update, final=True)
    finally:
        bar.close()
        metrics.close()
        env.close()
    return TrainResult(run_dir=run_dir, global_step=model.num_timesteps, updates=callback.update, metrics=callback.row)


class SB3Agent:
    """An SB3 policy as an evaluation :class:`~motorgym.train.evaluate.Agent`: observations
    normalised with the run's VecNormalize statistics; for RecurrentPPO the LSTM states are carried
    between calls and reset where ``episode_start`` is 1."""

    def __init__(self, policy: BasePolicy, normalizer: dict[str, torch.Tensor], deterministic: bool = True) -> None:
        self.policy, self.deterministic = policy, deterministic
        self.normalizer = {k: v.numpy() for k, v in normalizer.items()}
        self.state: tuple[np.ndarray, ...] | None = None

    def reset(self, num_envs: int) -> None:
        self.state = None  # SB3 starts from zero states

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        if not self.normalizer:
            return obs
        n = self.normalizer  # as VecNormalize.normalize_obs
        scaled = (obs - n["obs_mean"]) / np.sqrt(n["obs_var"] + n["epsilon"])
        return np.clip(scaled, -n["clip_obs"], n["clip_obs"]).astype(np.float32)

    def hidden_state(self) -> np.ndarray | None:
        """RecurrentPPO's actor LSTM output h (last layer); None for the feed-forward PPO."""
        return None if self.state is None else np.asarray(self.state[0][-1])

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        actions, self.state = self.policy.predict(
            self.normalize(obs), state=self.state, episode_start=episode_start.astype(bool), deterministic=True
        )
        return actions


def load_agent(run_dir: str | Path, device: str = "cpu") -> tuple[SB3Agent, str, dict[str, Any]]:
    """(agent, env id, env kwargs) of an SB3 run directory, without unpickling anything."""
    run_dir = Path(run_dir)
    config = SB3Config(**read_run_config(run_dir))
    normalizer, _ = load_checkpoint(run_dir / NORMALIZER_NAME)
    model_path = run_dir / MODEL_NAME
    if not model_path.exists():
        raise CheckpointError(f"{model_path} is missing: nothing to evaluate")
    try:
        _, params, _ = load_from_zip_file(str(model_path), device=device, load_data=False)
    except Exception as error:  # a zip or torch error: the file is damaged
        raise CheckpointError(f"{model_path} is not a readable SB3 model: {error}") from error
    algorithm, policy_alias, policy_kwargs = _algorithm(config)
    probe = gym.make(config.env_id, **config.env_kwargs)
    policy_class = algorithm.policy_aliases[policy_alias]
    policy = policy_class(probe.observation_space, probe.action_space, lambda _: 0.0, **policy_kwargs)
    probe.close()
    try:
        policy.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"{model_path} does not hold a {config.algo} policy for {config.env_id}: {error}"
        ) from error
    policy.to(device).set_training_mode(False)
    return SB3Agent(policy, {k: v for k, v in normalizer.items() if k != "torch_rng"}), config.env_id, config.env_kwargs


__all__ = ["SB3Agent", "SB3Config", "load_agent", "train"]
