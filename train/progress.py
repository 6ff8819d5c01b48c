"""What every training run logs, whatever the algorithm: the metrics log (``metrics.csv`` +
TensorBoard), the statistics of recent episodes, the budget and the progress bar.

The metrics log never loses a row: it appends to ``metrics.csv`` (flushed every row), and a resumed
run first rewrites it atomically with the rows up to its checkpoint (the later ones are logged again
as the run repeats them), so a kill or a full disk at any moment leaves the learning curve whole.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from motorgym.agents.checkpoint import atomic_write
from motorgym.train.run_dir import METRICS, TENSORBOARD

#: Episodes averaged in the logged episode statistics (success rate, return, ...).
RECENT_EPISODES = 100

#: The policy's activity measures, logged by every algorithm (NaN where it cannot measure them) so that
#: all runs share one set of columns: mean square hidden state, its step-to-step change and the
#: step-to-step change of the mean command.
ACTIVITY_MEASURES = ("hidden_activity", "hidden_change", "command_change")


@dataclass
class TrainResult:
    """What a training function returns."""

    run_dir: Path
    global_step: int
    """Environment steps trained on."""
    updates: int
    metrics: dict[str, float]
    """The last metrics row."""


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
    """metrics.csv (appended, flushed every row) and TensorBoard event files in the run directory.

    ``resume_after_update``: the run resumes from the checkpoint of that update; rows logged after it
    are dropped (atomically) because the run logs them again.
    """

    def __init__(self, run_dir: Path, resume_after_update: int | None = None, name: str = METRICS) -> None:
        path = run_dir / name
        fieldnames: list[str] | None = None
        if resume_after_update is not None and path.exists():
            fieldnames = _keep_rows_until(path, resume_after_update)
        self._file = open(path, "a", newline="")
        # A run written by an older version keeps its columns (newer ones are left out of its rows).
        self._writer = csv.DictWriter(self._file, fieldnames=fieldnames, extrasaction="ignore") if fieldnames else None
        self._tensorboard = SummaryWriter(str(run_dir / TENSORBOARD))

    def write(self, row: dict[str, float]) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()
        for key, value in row.items():
            if key not in ("global_step", "update") and math.isfinite(value):
                self._tensorboard.add_scalar(key, value, int(row["global_step"]))
        self._tensorboard.flush()

    def close(self) -> None:
        self._file.close()
        self._tensorboard.close()


def _keep_rows_until(path: Path, update: int) -> list[str] | None:
    """Drop the rows of ``path`` logged after ``update`` (rewriting it atomically, if any go);
    return its columns (None for an empty file)."""
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
        fieldnames = list(reader.fieldnames) if reader.fieldnames else None
    kept = [row for row in rows if int(row["update"]) <= update]
    if fieldnames and len(kept) < len(rows):
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(kept)
        atomic_write(path, lambda target: target.write(text.getvalue().encode()))
    return fieldnames


def read_metrics(run_dir: str | Path, name: str = METRICS) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv (or another metrics file) as floats (empty cells as NaN)."""
    with open(Path(run_dir) / name, newline="") as file:
        rows = list(csv.DictReader(file))
    return [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in rows]


def first_reaching(rows: list[dict[str, float]], success: float) -> dict[str, float] | None:
    """The first row of ``read_metrics`` whose rolling training success (the last 100 episodes,
    stochastic policy) reached ``success``: its ``time_s`` and ``global_step`` say how long the run
    took to get there. None if it never did."""
    return next((row for row in rows if row["episode_success"] >= success), None)


class Budget:
    """A run's stopping rule: ``total_steps`` environment steps and/or ``minutes`` of wall-clock
    time (0: no limit of that kind), counting the time of earlier sessions of a resumed run
    (``elapsed_before_s``). The run stops when either is used up."""

    def __init__(self, total_steps: int, minutes: float, elapsed_before_s: float = 0.0) -> None:
        self.total_steps, self.minutes, self.elapsed_before_s = total_steps, minutes, elapsed_before_s
        self._started = time.perf_counter()

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.perf_counter() - self._started

    def fraction_used(self, global_step: int) -> float:
        """How much of the budget is used: of the steps or of the time, whichever is further."""
        steps = global_step / self.total_steps if self.total_steps > 0 else 0.0
        seconds = self.elapsed_s() / (self.minutes * 60) if self.minutes > 0 else 0.0
        return max(steps, seconds)

    def time_left(self) -> bool:
        return self.minutes <= 0 or self.elapsed_s() < self.minutes * 60

    def left(self, global_step: int) -> bool:
        return self.fraction_used(global_step) < 1.0


def progress_bar(total: int, description: str, enabled: bool = True, unit: str = "it") -> Any:
    """A tqdm bar for the supervised fits (pretraining); when not ``enabled`` every call is a no-op."""
    return tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True, disable=not enabled)


class ProgressBar:
    """A tqdm bar over the budget (seconds under a wall-clock budget, else steps) that shows
    steps, steps/s, mean episode return and success rate."""

    def __init__(self, budget: Budget, global_step: int, description: str, enabled: bool = True) -> None:
        self._by_time = budget.minutes > 0
        total = round(budget.minutes * 60) if self._by_time else budget.total_steps
        initial = round(budget.elapsed_before_s) if self._by_time else global_step
        # Under a time budget the bar counts seconds, so tqdm's own rate would read "s/s": the
        # postfix shows steps/s instead.
        layout = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]"
        self._bar = tqdm(
            total=total,
            initial=min(initial, total),
            unit="step",
            dynamic_ncols=True,
            desc=description,
            disable=not enabled,
            bar_format=layout if self._by_time else None,
        )

    def update(self, row: dict[str, float]) -> None:
        done = round(row["time_s"]) if self._by_time else int(row["global_step"])
        self._bar.update(max(0, min(done, self._bar.total) - self._bar.n))
        success = row["episode_success"]
        self._bar.set_postfix(
            steps=f"{int(row['global_step']):,}",
            sps=f"{row['steps_per_s']:.0f}",
            ret=f"{row['episode_return']:.2f}",
            success="-" if math.isnan(success) else f"{success:.0%}",
        )

    def close(self) -> None:
        self._bar.close()


__all__ = ["Budget", "EpisodeStats", "MetricsLog", "ProgressBar", "TrainResult", "progress_bar", "read_metrics"]
