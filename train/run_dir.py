"""The run directory: the unit users share, and what every command reads or writes in it.

A run directory holds ``config.json`` (the run's config, with its kind's name as ``algo``),
``metrics.csv`` (one row per update or epoch, flushed) and ``tensorboard/``, the files of its kind
(checkpoints, figures: :mod:`motorgym.train.kinds` lists them), and what later commands add:
``evaluation.json`` (motorgym evaluate) and ``figures/`` with ``analysis.json`` (motorgym analyze).

Rules every command keeps: a new run goes into a new (or empty) directory, never into an existing
run or any other non-empty directory (:func:`new_run_dir`); a run whose set-up fails leaves no
directory behind; every file is written atomically (:func:`~motorgym.agents.checkpoint.atomic_path`),
and JSON strictly (no NaN: :func:`write_json`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from motorgym.agents.checkpoint import atomic_write

#: Files every run has.
CONFIG = "config.json"
METRICS = "metrics.csv"
TENSORBOARD = "tensorboard"
#: What the commands that read a run add to it.
EVALUATION = "evaluation.json"
FIGURES = "figures"
ANALYSIS = "analysis.json"
#: The files of each kind of run (which kind writes which: motorgym.train.kinds).
PPO_CHECKPOINT = "checkpoint.pt"
SB3_MODEL = "model.zip"
SB3_NORMALIZER = "normalizer.pt"
PREDICTOR = "predictor.pt"
LEARNED_ARM = "learned_arm.pt"
PRETRAINED_POLICY = "policy.pt"
ARM_METRICS = "arm_metrics.csv"
LOSSES_PLOT = "losses.png"
ADAPT_CHECKPOINT = "adapt.pt"
ADAPT_TRIALS = "trials.csv"
ADAPT_PATHS = "paths.npz"
#: While an adapt run goes on, its paths are written in chunks here (merged into ADAPT_PATHS at the end).
ADAPT_PATH_CHUNKS = "paths_so_far"
ADAPT_SUMMARY = "adapt.json"
ADAPT_UPDATES = "updates.csv"
ADAPTATION_PLOT = "adaptation.png"
PATHS_PLOT = "paths.png"


class RunExistsError(FileExistsError):
    """A new run was pointed at an existing run or another non-empty directory."""


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON's null), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


def write_json(path: Path, value: Any) -> Path:
    """Write strict JSON (NaN and inf as null, readable by any parser), atomically."""
    text = json.dumps(finite_json(value), indent=2, allow_nan=False, default=float) + "\n"
    return atomic_write(path, lambda file: file.write(text.encode()))


def _read_json(path: Path) -> Any:
    """A JSON file's value; a ValueError naming the file if it is damaged (FileNotFoundError as is)."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a run directory, as written (a clear error if missing or damaged)."""
    path = Path(run_dir) / CONFIG
    try:
        config = _read_json(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{run_dir} is not a run directory: {CONFIG} is missing") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} does not hold a run's config (a JSON object)")
    return config


def read_evaluation(run_dir: str | Path) -> dict[str, Any] | None:
    """The ``evaluation.json`` of a run directory (``motorgym evaluate``: ``overall`` and the
    per-condition measures, null where a measure is undefined), or None if the run has not been
    evaluated; a clear error if it is damaged."""
    path = Path(run_dir) / EVALUATION
    try:
        evaluation = _read_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("overall"), dict):
        raise ValueError(f"{path} does not hold an evaluation (a JSON object with 'overall')")
    return evaluation


@contextmanager
def new_run_dir(path: str | Path) -> Iterator[Path]:
    """Create the directory of a new run for the set-up inside the block; if the block fails, the
    directory is removed again, so a failing start leaves nothing behind. An existing run, or any
    other non-empty directory (or a file), is refused with :class:`RunExistsError`."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        what = "a run" if (path / CONFIG).exists() else ("a file" if not path.is_dir() else "files")
        raise RunExistsError(f"{path} already holds {what}: a new run needs a new or empty directory (another --out)")
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        if existed:
            for child in path.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
        raise


__all__ = [
    "CONFIG",
    "EVALUATION",
    "METRICS",
    "RunExistsError",
    "finite_json",
    "new_run_dir",
    "read_config",
    "read_evaluation",
    "write_json",
]
