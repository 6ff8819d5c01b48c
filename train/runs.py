"""What every training run shares, whatever the algorithm: the run directory's layout, the metrics
log (``metrics.csv`` + TensorBoard), the statistics of recent episodes, the wall-clock budget and
the progress bar.

A run directory holds ``config.json`` (the run's config; its ``algo`` names the algorithm),
``metrics.csv`` (one row per update, flushed), ``tensorboard/`` and the algorithm's checkpoint.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.csv"
#: Episodes averaged in the logged episode statistics (success rate, return, ...).
RECENT_EPISODES = 100
#: Algorithms of ``motorgym train --algo``: ours (train.ppo) and the SB3 baselines (train.baselines).
OUR_ALGOS = {"lstm-ppo": "lstm", "gru-ppo": "gru"}
SB3_ALGOS = ("sb3-rppo", "sb3-ppo")
#: Pretraining runs: the trajectory predictor (train.pretrain) and the policy trained through a
#: learned arm (train.model_based).
PRETRAIN_ALGOS = ("pretrain", "model-based")


@dataclass
class TrainResult:
    """What a training function returns."""

    run_dir: Path
    global_step: int
    updates: int
    metrics: dict[str, float]
    """The last metrics row."""


def require_fields(config: Any, checks: dict[str, tuple[bool, str]]) -> None:
    """Raise a ValueError naming the first field whose check fails and the values it allows.
    ``checks`` maps field name -> (ok, allowed values)."""
    for name, (ok, allowed) in checks.items():
        if not ok:
            raise ValueError(f"{name} must be {allowed} (got {getattr(config, name)!r})")


def run_field_checks(config: Any) -> dict[str, tuple[bool, str]]:
    """The checks of the fields every training config has: budget, device, threads, checkpoints."""
    return {
        "total_steps": (config.total_steps >= 1, ">= 1"),
        "minutes": (config.minutes >= 0, ">= 0"),
        "device": (config.device == "cpu" or config.device.startswith("cuda"), "cpu or cuda[:N]"),
        "checkpoint_every": (config.checkpoint_every >= 1, ">= 1"),
        "physics_threads": (config.physics_threads >= 0, ">= 0"),
        "torch_threads": (config.torch_threads >= 0, ">= 0"),
    }


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a run directory, with ``algo`` filled in (clear error if missing)."""
    path = Path(run_dir) / CONFIG_NAME
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{run_dir} is not a run directory: {CONFIG_NAME} is missing") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if "algo" not in config:  # our PPO's config names its cell instead
        config["algo"] = f"{config.get('cell', 'lstm')}-ppo"
    known = (*OUR_ALGOS, *SB3_ALGOS, *PRETRAIN_ALGOS)
    if config["algo"] not in known:
        raise ValueError(f"{path}: unknown algo {config['algo']!r}; known: {', '.join(known)}")
    return config


def write_run_config(run_dir: Path, config: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")


class EpisodeStats:
    """Return, length, success and final hand-target distance of the last ``RECENT_EPISODES`` episodes."""

    KEYS = ("return", "length", "success", "final_distance_mm")

    def __init__(self, saved: dict[str, list[float]] | None = None) -> None:
        self.recent = {k: deque((saved or {}).get(k, ()), maxlen=RECENT_EPISODES) for k in self.KEYS}

    def add(self, episode_return: float, length: int, success: bool, final_distance_m: float) -> None:
        self.recent["return"].append(float(episode_return))
        self.recent["length"].append(int(length))
        self.recent["success"].append(float(success))
        self.recent["final_distance_mm"].append(float(final_distance_m) * 1000)

    def means(self) -> dict[str, float]:
        """``episode_<key>`` means (NaN before the first episode ends)."""
        return {f"episode_{k}": (float(sum(v) / len(v)) if v else math.nan) for k, v in self.recent.items()}

    def state_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.recent.items()}


class MetricsLog:
    """metrics.csv (flushed every row) and TensorBoard event files in the run directory."""

    def __init__(self, run_dir: Path, keep_until_update: int | None = None, name: str = METRICS_NAME) -> None:
        from torch.utils.tensorboard import SummaryWriter

        path = run_dir / name
        rows: list[dict[str, str]] = []
        if keep_until_update is not None and path.exists():
            # A resumed run drops rows logged after its checkpoint, which it will log again.
            with open(path, newline="") as file:
                rows = [r for r in csv.DictReader(file) if int(r["update"]) <= keep_until_update]
        self._file = open(path, "w", newline="")
        self._writer: csv.DictWriter | None = None
        self._pending = rows
        self._tensorboard = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, row: dict[str, float]) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
            self._writer.writerows(self._pending)
        self._writer.writerow(row)
        self._file.flush()
        for key, value in row.items():
            if key not in ("global_step", "update") and math.isfinite(value):
                self._tensorboard.add_scalar(key, value, int(row["global_step"]))
        self._tensorboard.flush()

    def close(self) -> None:
        self._file.close()
        self._tensorboard.close()


def read_metrics(run_dir: str | Path, name: str = METRICS_NAME) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv (or another metrics file) as floats (empty cells as NaN)."""
    with open(Path(run_dir) / name, newline="") as file:
        rows = list(csv.DictReader(file))
    return [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in rows]


class Budget:
    """A run's stopping rule: ``total_steps`` environment steps and, if ``minutes`` > 0, that much
    wall-clock time (counting the time of earlier sessions of a resumed run, ``elapsed_before_s``)."""

    def __init__(self, total_steps: int, minutes: float, elapsed_before_s: float = 0.0) -> None:
        self.total_steps, self.minutes, self.elapsed_before_s = total_steps, minutes, elapsed_before_s
        self._started = time.perf_counter()

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.perf_counter() - self._started

    def time_left(self) -> bool:
        return self.minutes <= 0 or self.elapsed_s() < self.minutes * 60

    def left(self, global_step: int) -> bool:
        return global_step < self.total_steps and self.time_left()


def progress_bar(total: int, description: str, enabled: bool = True, unit: str = "it") -> Any:
    """A tqdm bar for the supervised fits (pretraining); when not ``enabled`` every call is a no-op."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True, disable=not enabled)


class ProgressBar:
    """A tqdm bar over the budget (seconds under a wall-clock budget, else steps) that shows
    steps, steps/s, mean episode return and success rate."""

    def __init__(self, budget: Budget, global_step: int, description: str, enabled: bool = True) -> None:
        self._by_time = budget.minutes > 0
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=round(budget.minutes * 60) if self._by_time else budget.total_steps,
                initial=round(budget.elapsed_before_s) if self._by_time else global_step,
                unit="s" if self._by_time else "step",
                dynamic_ncols=True,
                desc=description,
            )

    def update(self, row: dict[str, float]) -> None:
        if self._bar is None:
            return
        done = round(row["time_s"]) if self._by_time else int(row["global_step"])
        self._bar.update(min(done, self._bar.total) - self._bar.n)
        success = row["episode_success"]
        self._bar.set_postfix(
            steps=f"{int(row['global_step']):,}",
            sps=f"{row['steps_per_s']:.0f}",
            ret=f"{row['episode_return']:.2f}",
            success="-" if math.isnan(success) else f"{success:.0%}",
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
