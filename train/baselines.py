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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

import motorgym
from motorgym.agents.checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from motorgym.agents.sb3 import sb3_algorithm
from motorgym.envs.sb3 import make_sb3_vec_env
from motorgym.train import kinds
from motorgym.train.configs import SB3Config
from motorgym.train.progress import ACTIVITY_MEASURES, Budget, EpisodeStats, MetricsLog, ProgressBar, TrainResult
from motorgym.train.run_dir import SB3_MODEL, SB3_NORMALIZER, new_run_dir


def make_env(config: SB3Config, seed: int) -> VecNormalize | VecMonitor:
    venv = make_sb3_vec_env(
        config.env_id, config.num_envs, seed, num_threads=config.physics_threads, **config.env_kwargs
    )
    monitored = VecMonitor(venv)  # episode returns of the raw rewards, under the normaliser
    return VecNormalize(monitored, gamma=config.gamma) if config.normalize else monitored


def build_model(config: SB3Config, env: Any) -> BaseAlgorithm:
    algorithm, policy, policy_kwargs = sb3_algorithm(config.algo, config.lstm_hidden_size)
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
        device=config.torch_device(),
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
    is the first moment that update's losses are known, so its row is written then. The steps
    trained on are those of the finished rollouts (a rollout cut short by the time budget is not
    trained on, so it is not counted).
    """

    def __init__(
        self, config: SB3Config, budget: Budget, metrics: MetricsLog, bar: ProgressBar, run_dir: Path, update: int
    ) -> None:
        super().__init__()
        self.config, self.budget, self.metrics, self.bar, self.run_dir = config, budget, metrics, bar, run_dir
        self.update, self.episodes = update, EpisodeStats()
        self.trained_steps = update * config.steps_per_update
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
        # Only a whole rollout gets here (one cut short by the time budget ends SB3's loop before
        # it), and SB3 trains on it next.
        self._rollout_s = time.perf_counter() - self._rollout_started
        self.update += 1
        self.trained_steps += self.config.steps_per_update
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
            "global_step": self.trained_steps,
            "time_s": round(elapsed, 3),
            "steps_per_s": round(self.trained_steps / max(elapsed, 1e-9), 1),
            "rollout_steps_per_s": round(self.config.steps_per_update / max(self._rollout_s, 1e-9), 1),
            "learning_rate": logged.get("train/learning_rate", self.config.learning_rate),
            **self.episodes.means(),
            "policy_loss": logged.get("train/policy_gradient_loss", float("nan")),
            "value_loss": logged.get("train/value_loss", float("nan")),
            "entropy": -logged.get("train/entropy_loss", float("nan")),
            "approx_kl": logged.get("train/approx_kl", float("nan")),
            "clip_fraction": logged.get("train/clip_fraction", float("nan")),
            # Our PPO's activity measures (SB3 logs none): the same columns for every algorithm.
            **dict.fromkeys(ACTIVITY_MEASURES, float("nan")),
        }
        self.row = row
        self.metrics.write(row)
        self.bar.update(row)
        if self.update % self.config.checkpoint_every == 0:
            self.checkpoint()

    def checkpoint(self, final: bool = False) -> None:
        """model.zip and normalizer.pt (with the run's progress). The model first: a crash between
        the two files leaves the older normaliser with newer weights."""
        atomic_write(self.run_dir / SB3_MODEL, self.model.save)
        save_checkpoint(
            self.run_dir / SB3_NORMALIZER,
            tensors={**_normalizer_state(self.training_env), "torch_rng": torch.get_rng_state()},
            metadata={
                "config": asdict(self.config),
                "global_step": self.trained_steps,
                "update": self.update,
                "elapsed_s": self.budget.elapsed_s(),
                "recent": self.episodes.state_dict(),
                "motorgym_version": motorgym.__version__,
                "final": final,
            },
        )


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
    saved = _saved_run(run_dir) if resume else None
    config = SB3Config(**saved[1]["config"]) if saved is not None else (config or SB3Config())
    config = config.with_budget(total_steps, minutes)
    update, elapsed_before = (saved[1]["update"], saved[1]["elapsed_s"]) if saved else (0, 0.0)
    global_step = update * config.steps_per_update
    if saved is not None:
        env, model = _build(config, update)
        model.set_parameters(str(run_dir / SB3_MODEL), exact_match=True, device=config.device)
        _restore_normalizer(env, saved[0])
        model.num_timesteps = global_step
        torch.set_rng_state(saved[0]["torch_rng"])
        kinds.write_config(run_dir, config)
    else:
        with new_run_dir(run_dir):
            env, model = _build(config, update)
            kinds.write_config(run_dir, config)
    budget = Budget(config.total_steps, config.minutes, elapsed_before)
    metrics = MetricsLog(run_dir, resume_after_update=update if saved is not None else None)
    bar = ProgressBar(budget, global_step, f"{config.algo} {config.env_id}", enabled=progress)
    callback = RunCallback(config, budget, metrics, bar, run_dir, update)
    callback.episodes = EpisodeStats(saved[1].get("recent") if saved else None)
    try:
        if budget.left(global_step):
            model.learn(
                # SB3 needs a step count: under a time budget alone, more than any run reaches.
                total_timesteps=(config.total_steps or 2**62) - global_step,
                callback=callback,
                log_interval=None,  # type: ignore[arg-type]  # SB3 itself logs nothing; RunCallback does
                reset_num_timesteps=saved is None,
            )
            callback.checkpoint(final=True)
    finally:
        bar.close()
        metrics.close()
        env.close()
    return TrainResult(
        run_dir=run_dir, global_step=callback.trained_steps, updates=callback.update, metrics=callback.row
    )


def _saved_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    saved = load_checkpoint(run_dir / SB3_NORMALIZER)
    if not (run_dir / SB3_MODEL).exists():
        raise CheckpointError(f"{run_dir / SB3_MODEL} is missing: the run cannot be resumed")
    return saved


def _build(config: SB3Config, update: int) -> tuple[Any, BaseAlgorithm]:
    """The env and the model; a resumed run's episodes start afresh, seeded by the update count so
    that they are new ones."""
    config.apply_threads()
    env = make_env(config, seed=config.seed + update)
    try:
        return env, build_model(config, env)
    except BaseException:
        env.close()
        raise


__all__ = ["SB3Config", "build_model", "make_env", "train"]
