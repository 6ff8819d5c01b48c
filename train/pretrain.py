"""Supervised trajectory prediction: a forward model of the arm, as pretraining for the policies.

    motorgym collect --env motorgym/CenterOut-v0 --episodes 2000 --out data/co.npz
    motorgym pretrain --data data/co.npz --out runs/co_pretrained --horizon-steps 10
    motorgym train --env motorgym/CenterOut-v0 --init-from runs/co_pretrained --out runs/co_from_pretrained

The predictor is the policy's core (:class:`~motorgym.agents.recurrent.RecurrentCore`: observation
normaliser, encoder, LSTM/GRU cell; same cell type and size) plus an efference copy of the motor
command (a linear map of the action, scaled to [-1, 1], added to the encoded observation) and a
linear head. From the history of observations (delayed and noisy, as the policy sees them) and
actions up to step t, it predicts the true hand position and velocity ``horizon_steps`` steps
later. Targets are standardised by the training set's statistics (kept in the model); the loss
is their mean squared error over valid steps.

Episodes are split into training and validation sets; training stops early when the validation
loss has not improved for ``patience`` epochs and keeps the best epoch. The run directory holds
``config.json``, ``metrics.csv`` and ``tensorboard/`` (one row per epoch), ``losses.png`` and
``predictor.pt`` (the safe checkpoint format of the policies). ``motorgym train --init-from DIR``
copies the core (and its normaliser) into a new policy; the action pathway and head stay behind.

The reference is constant-velocity extrapolation from what the policy sees: the last seen hand
position, moved on by the velocity of the last two seen positions over the visual delay plus the
horizon (:func:`constant_velocity_prediction`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import motorgym
from motorgym.agents.checkpoint import save_checkpoint
from motorgym.agents.predictor import TrajectoryPredictor
from motorgym.train import kinds
from motorgym.train.collect import TrajectoryDataset, load_datasets
from motorgym.train.configs import PretrainConfig
from motorgym.train.plots import save_figure, subplots
from motorgym.train.progress import MetricsLog, progress_bar, read_metrics
from motorgym.train.run_dir import LOSSES_PLOT, PREDICTOR, new_run_dir

#: Observation entries of the seen hand position (``motorgym.envs.batched.VISION_NAMES``).
SEEN_HAND = slice(0, 2)


def prediction_targets(data: TrajectoryDataset, horizon_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(E, T, 4) true [position, velocity] ``horizon_steps`` after each step, and the (E, T) mask
    of the steps where that lies within the episode."""
    steps = data.observations.shape[1]
    index = np.minimum(np.arange(steps) + horizon_steps, steps)
    targets = np.concatenate([data.hand_pos_m[:, index], data.hand_vel_m_s()[:, index]], axis=-1)
    mask = (np.arange(steps)[None] + horizon_steps) <= data.lengths[:, None]
    return targets.astype(np.float32), mask


def constant_velocity_prediction(data: TrajectoryDataset, horizon_steps: int) -> np.ndarray:
    """(E, T, 4) constant-velocity extrapolation from the seen hand: the velocity of the last two
    seen positions, carried over the visual delay plus the horizon."""
    seen = data.observations[..., SEEN_HAND].astype(np.float64)
    velocity = np.zeros_like(seen)
    velocity[:, 1:] = np.diff(seen, axis=1) / data.dt_s
    lead_s = (horizon_steps + data.metadata["visual_delay_ms"] / data.metadata["control_step_ms"]) * data.dt_s
    return np.concatenate([seen + velocity * lead_s, velocity], axis=-1)


def prediction_errors(predicted: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Root-mean-square position (mm) and velocity (mm/s) errors over the valid steps."""
    error = (predicted - targets)[mask]
    return {
        "position_rmse_mm": float(np.sqrt(np.mean(np.sum(error[:, :2] ** 2, axis=-1)))) * 1000,
        "velocity_rmse_mm_s": float(np.sqrt(np.mean(np.sum(error[:, 2:] ** 2, axis=-1)))) * 1000,
    }


def split_episodes(episodes: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(episodes)
    n_val = max(1, int(round(episodes * val_fraction)))
    if n_val >= episodes:
        raise ValueError(f"{episodes} episode(s) cannot be split into training and validation sets")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _tensors(
    data: TrajectoryDataset, targets: np.ndarray, mask: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """(T, E, ...) observation, action, target and mask tensors (from (E, T, ...) arrays)."""
    return tuple(
        torch.as_tensor(np.swapaxes(a, 0, 1), device=device)
        for a in (data.observations, data.actions, targets, mask.astype(np.float32))
    )


def _masked_mse(predicted: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (((predicted - targets) ** 2).mean(-1) * mask).sum() / mask.sum().clamp(min=1)


def pretrain(config: PretrainConfig, run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Train a trajectory predictor into ``run_dir``; return its validation summary."""
    run_dir = Path(run_dir)
    device = config.torch_device()
    data = load_datasets(config.data_files)
    longest = int(data.lengths.max())
    if config.horizon_steps >= longest:
        raise ValueError(
            f"horizon_steps must be below the longest episode of the data ({longest} steps) "
            f"(got {config.horizon_steps})"
        )
    config.apply_threads()
    torch.manual_seed(config.seed)
    train_ids, val_ids = split_episodes(len(data), config.val_fraction, config.seed)
    train_set = _fitted_predictor(data.subset(train_ids), config, device)
    model, (obs, actions, targets, mask) = train_set
    val_data = data.subset(val_ids)
    val_targets, val_mask = prediction_targets(val_data, config.horizon_steps)
    validation = (_tensors(val_data, val_targets, val_mask, device), val_targets, val_mask)
    baseline = prediction_errors(constant_velocity_prediction(val_data, config.horizon_steps), val_targets, val_mask)
    with new_run_dir(run_dir):
        kinds.write_config(run_dir, config)

    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    metrics = MetricsLog(run_dir)
    generator = torch.Generator().manual_seed(config.seed)
    best: dict[str, Any] = {"val_loss": math.inf}
    started, stale = time.perf_counter(), 0
    bar = progress_bar(config.epochs, f"pretrain {data.metadata['env_id']}", progress, unit="epoch")
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = torch.randperm(len(train_ids), generator=generator)
            losses = []
            for begin in range(0, len(order), config.batch_episodes):
                idx = order[begin : begin + config.batch_episodes].to(device)
                normalized_targets = (targets[:, idx] - model.target_mean) / model.target_std
                loss = _masked_mse(model(obs[:, idx], actions[:, idx]), normalized_targets, mask[:, idx])
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                losses.append(loss.item())
            val_loss, val_errors = _validate(model, *validation)
            metrics.write(
                {
                    "update": epoch,
                    "global_step": epoch * len(train_ids),
                    "time_s": round(time.perf_counter() - started, 3),
                    "train_loss": float(np.mean(losses)),
                    "val_loss": val_loss,
                    **{f"val_{k}": v for k, v in val_errors.items()},
                    **{f"baseline_{k}": v for k, v in baseline.items()},
                }
            )
            bar.update(1)
            bar.set_postfix(val_loss=f"{val_loss:.4f}", pos_mm=f"{val_errors['position_rmse_mm']:.1f}")
            stale = stale + 1 if val_loss >= best["val_loss"] else 0
            if stale == 0:
                best = {"val_loss": val_loss, "epoch": epoch, **val_errors}
                _save(model, config, data, best, baseline, run_dir)
            elif stale >= config.patience:
                break
    finally:
        bar.close()
        metrics.close()
    plot_losses(run_dir)
    return {"best": best, "baseline": baseline}


def _fitted_predictor(
    train_data: TrajectoryDataset, config: PretrainConfig, device: torch.device
) -> tuple[TrajectoryPredictor, tuple[torch.Tensor, ...]]:
    """A new predictor with its statistics set from the training set (observations: the
    normaliser; actions; targets), and the training set's (T, E, ...) tensors."""
    obs_dim, action_dim = train_data.observations.shape[2], train_data.actions.shape[2]
    model = TrajectoryPredictor(obs_dim, action_dim, config.cell, config.hidden_size).to(device)
    obs, actions, targets, mask = _tensors(train_data, *prediction_targets(train_data, config.horizon_steps), device)
    valid = mask.bool()
    model.obs_normalizer.update(obs[torch.as_tensor(train_data.step_mask().T, device=device)])
    flat_actions = train_data.actions.reshape(-1, action_dim)
    low, high = flat_actions.min(0), flat_actions.max(0)
    model.action_center.copy_(torch.as_tensor((low + high) / 2))
    model.action_half_range.copy_(torch.as_tensor(np.maximum((high - low) / 2, 1e-6)))
    model.target_mean.copy_(targets[valid].mean(0))
    model.target_std.copy_(targets[valid].std(0).clamp(min=1e-6))
    return model, (obs, actions, targets, mask)


@torch.no_grad()
def _validate(
    model: TrajectoryPredictor, tensors: tuple[torch.Tensor, ...], targets: np.ndarray, mask: np.ndarray
) -> tuple[float, dict[str, float]]:
    model.eval()
    obs, actions, targets_t, mask_t = tensors
    standardized = model(obs, actions)
    loss = _masked_mse(standardized, (targets_t - model.target_mean) / model.target_std, mask_t)
    predicted = standardized * model.target_std + model.target_mean
    return loss.item(), prediction_errors(np.swapaxes(predicted.cpu().numpy(), 0, 1), targets, mask)


def _save(
    model: TrajectoryPredictor,
    config: PretrainConfig,
    data: TrajectoryDataset,
    best: dict[str, Any],
    baseline: dict[str, float],
    run_dir: Path,
) -> None:
    save_checkpoint(
        run_dir / PREDICTOR,
        tensors={"predictor": model.state_dict()},
        metadata={
            "config": asdict(config),
            "obs_dim": data.observations.shape[2],
            "action_dim": data.actions.shape[2],
            "dataset": data.metadata,
            "best": best,
            "baseline": baseline,
            "motorgym_version": motorgym.__version__,
        },
    )


def plot_losses(run_dir: Path) -> Path:
    """losses.png: training and validation loss, and validation errors beside the baseline's."""
    rows = read_metrics(run_dir)
    epochs = [r["update"] for r in rows]
    figure, (loss_axis, error_axis) = subplots(1, 2, figsize=(10, 3.8))
    loss_axis.plot(epochs, [r["train_loss"] for r in rows], label="training")
    loss_axis.plot(epochs, [r["val_loss"] for r in rows], label="validation")
    loss_axis.set(xlabel="epoch", ylabel="loss (standardised MSE)", yscale="log", title="trajectory prediction")
    loss_axis.legend()
    error_axis.plot(epochs, [r["val_position_rmse_mm"] for r in rows], label="predictor")
    error_axis.axhline(rows[0]["baseline_position_rmse_mm"], color="gray", ls="--", label="constant velocity")
    error_axis.set(xlabel="epoch", ylabel="hand position RMSE (mm)", title="validation, position error")
    error_axis.legend()
    for axis in (loss_axis, error_axis):
        axis.grid(alpha=0.3)
    return save_figure(figure, run_dir / LOSSES_PLOT)


__all__ = ["constant_velocity_prediction", "pretrain", "prediction_errors", "prediction_targets", "split_episodes"]
