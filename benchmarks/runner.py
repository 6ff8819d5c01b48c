"""Shared by the learning benchmarks: train runs through the ``motorgym`` command, several at a
time with one core each, and tell which runs are finished and evaluated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.train.kinds import kind_of
from motorgym.train.run_dir import EVALUATION

EVALUATION_EPISODES = 200


def _checkpoint(path: Path) -> Path:
    """The file whose metadata says whether a run's training is over."""
    return path / kind_of(path).checkpoint


def finished(path: Path) -> bool:
    """Whether the run's training is over (its last checkpoint is the final one)."""
    try:
        checkpoint = _checkpoint(path)
    except (OSError, ValueError):
        return False
    return checkpoint.exists() and bool(load_checkpoint(checkpoint)[1].get("final"))


def complete(path: Path) -> bool:
    """Finished and evaluated after its last checkpoint."""
    evaluation = path / EVALUATION
    return finished(path) and evaluation.exists() and evaluation.stat().st_mtime >= _checkpoint(path).stat().st_mtime


def train_command(
    env_id: str,
    algo: str,
    minutes: float,
    seed: int,
    out: Path,
    one_core: bool,
    total_steps: int | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """``motorgym train`` with a wall-clock budget (and a step budget if given; one core for
    physics and torch if ``one_core``)."""
    command = [sys.executable, "-m", "motorgym.train.cli", "train", "--algo", algo, "--env", env_id]
    command += ["--minutes", f"{minutes:g}", "--seed", str(seed), "--out", str(out), "--no-progress", *extra]
    if total_steps is not None:
        command += ["--total-steps", str(total_steps)]
    if one_core:
        command += ["--physics-threads", "1", "--torch-threads", "1"]
    return command


def run_in_parallel(commands: list[list[str]], parallel: int) -> None:
    """Run the commands, ``parallel`` at a time; stop on the first failure."""
    while commands:
        batch, commands = commands[:parallel], commands[parallel:]
        processes = [subprocess.Popen(command) for command in batch]
        if any(p.wait() for p in processes):
            raise SystemExit(f"a training run failed: {batch}")


def evaluate_finished(paths: list[Path]) -> None:
    """``motorgym evaluate`` each finished run not yet evaluated since its last checkpoint."""
    for path in paths:
        if finished(path) and not complete(path):
            command = [sys.executable, "-m", "motorgym.train.cli", "evaluate", str(path)]
            subprocess.run([*command, "--episodes", str(EVALUATION_EPISODES)], check=True)
