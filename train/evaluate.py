"""Evaluate a trained run: roll out episodes and report the kinematic measures of the field.

    motorgym evaluate runs/center_out --episodes 200 --json results.json

One code path for every kind of run that trains an agent: the table of run kinds
(:func:`motorgym.train.kinds.load_agent`) loads it, :func:`motorgym.agents.rollout.rollout` runs it.
Results (overall, catch trials and per target; a measure that no trial defines is null) go to
``evaluation.json`` in the run directory.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from motorgym.agents.rollout import Episode, rollout
from motorgym.envs.registration import check_env_arguments
from motorgym.train import kinds
from motorgym.train.analysis.kinematics import reach_kinematics
from motorgym.train.run_dir import EVALUATION, write_json

#: The measures reported overall, for catch trials and per target (in the table's column order).
MEASURES = (
    "success_rate",
    "endpoint_error_mm",
    "reaction_time_ms",
    "movement_time_ms",
    "peak_speed_m_s",
    "peak_to_mean_speed",
    "path_linearity",
    "peak_time_fraction",
    "moving_at_end",
    "false_start_rate",
)
#: The measures of each reach (not defined for catch trials), averaged over the reaches that define them.
REACH_MEASURES = MEASURES[1:-1]
#: The table's columns (after the row's name): the episode count, then MEASURES in order.
TABLE_KEYS = ("episodes", *MEASURES)
#: Each column's heading and format, by the measure it shows.
TABLE_COLUMNS = {
    "episodes": ("n", "{:.0f}"),
    "success_rate": ("success", "{:.1%}"),
    "endpoint_error_mm": ("endpoint mm", "{:.1f}"),
    "reaction_time_ms": ("RT ms", "{:.0f}"),
    "movement_time_ms": ("MT ms", "{:.0f}"),
    "peak_speed_m_s": ("peak m/s", "{:.2f}"),
    "peak_to_mean_speed": ("peak/mean", "{:.3f}"),
    "path_linearity": ("linearity", "{:.3f}"),
    "peak_time_fraction": ("peak at", "{:.2f}"),
    "moving_at_end": ("moving at end", "{:.0%}"),
    "false_start_rate": ("false start", "{:.1%}"),
}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(episodes: list[Episode], dt_s: float, target_radius_m: float) -> dict[str, Any]:
    """Overall and per-target measures (means over the trials where each is defined)."""
    rows = []
    for episode in episodes:
        info = episode.info
        catch = bool(info["catch_trial"])
        row = {
            "target_index": int(info["target_index"]),
            "catch_trial": catch,
            "success": bool(info["success"]),
            "false_start": bool(info["false_start"]),
        }
        if not catch and any(episode.go):
            go_index = episode.go.index(True)
            kin = reach_kinematics(np.array(episode.hand_pos), info["target_pos"], go_index, dt_s, target_radius_m)
            row.update(asdict(kin), endpoint_error_mm=float(info["distance_m"]) * 1000)
        rows.append(row)

    def measures(selected: list[dict[str, Any]]) -> dict[str, float]:
        reaches = [r for r in selected if not r["catch_trial"]]
        per_reach = {name: _mean([r.get(name, math.nan) for r in reaches]) for name in REACH_MEASURES}
        return {
            "episodes": len(selected),
            "success_rate": _mean([float(r["success"]) for r in selected]),
            **per_reach,
            "false_start_rate": _mean([float(r["false_start"]) for r in selected]),
        }

    targets = sorted({r["target_index"] for r in rows if r["target_index"] >= 0})
    return {
        "overall": measures(rows),
        "catch_trials": measures([r for r in rows if r["catch_trial"]])
        if any(r["catch_trial"] for r in rows)
        else None,
        "per_target": {
            str(t): measures([r for r in rows if r["target_index"] == t and not r["catch_trial"]]) for t in targets
        },
    }


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of the overall and per-target measures."""
    header = ["", *(TABLE_COLUMNS[key][0] for key in TABLE_KEYS)]
    formats = [TABLE_COLUMNS[key][1] for key in TABLE_KEYS]

    def line(name: str, m: dict[str, float]) -> list[str]:
        # A measure is missing from evaluations written before it existed, and null where it was NaN
        # (evaluation.json is strict JSON): both print as "-".
        values = [m.get(k) for k in TABLE_KEYS]
        return [name] + [
            "-" if v is None or math.isnan(v) else f.format(v) for v, f in zip(values, formats, strict=True)
        ]

    lines = [line("overall", results["overall"])]
    if results.get("catch_trials"):
        lines.append(line("catch trials", results["catch_trials"]))
    lines += [line(f"target {t}", m) for t, m in results["per_target"].items()]
    widths = [max(len(row[c]) for row in [header, *lines]) for c in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *lines])


def evaluate(
    run_dir: str | Path,
    episodes: int = 200,
    seed: int = 12345,
    json_path: str | Path | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate a run directory's agent (deterministic actions); write evaluation.json and return it."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1 (got {episodes})")
    run_dir = Path(run_dir)
    agent, env_id, env_kwargs = kinds.load_agent(run_dir, device)
    task = check_env_arguments(env_id, env_kwargs)
    results = {
        "env_id": env_id,
        "episodes": episodes,
        "seed": seed,
        **summarize(
            rollout(env_id, env_kwargs, agent, episodes, seed), task.control_step_ms / 1000, task.target_radius_m
        ),
    }
    write_json(run_dir / EVALUATION, results)
    if json_path is not None:
        write_json(Path(json_path), results)
    return results


__all__ = ["MEASURES", "evaluate", "format_table", "summarize"]
