"""What an adapt run reports: ``adapt.json`` (the measures per block, the trials to half the
error, savings) and its figures: the learning curve (``adaptation.png``) and the classic panel of
hand paths (``paths.png``: late baseline, first exposure trials, late exposure, first washout)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.train import run_dir as layout
from motorgym.train.analysis.adaptation import trials_to_fraction
from motorgym.train.plots import save_figure, subplots
from motorgym.train.protocol import Protocol, protocol_from_dict

#: The per-trial measures (NaN where a trial has none: a catch trial, no channel, no pulse), and
#: the columns of trials.csv.
MEASURED = (
    "max_perpendicular_deviation_mm",
    "adaptation_index",
    "initial_direction_error_deg",
    "reaction_time_ms",
    "peak_speed_m_s",
    "pulse_displacement_mm",
    "pulse_latency_ms",
)
TRIAL_COLUMNS = (
    "trial",
    "block",
    "block_trial",
    "learn",
    "channel",
    "force_field",
    "visual_rotation_deg",
    "target_index",
    "success",
    "false_start",
    "steps",
    *MEASURED,
)
#: Reaching trials averaged for a block's "first" and "last" error (channel and catch trials left
#: out): the sampled actions of PPO make single trials noisy (a standard deviation of ~15 mm), so
#: the figures are means over this many, and the trials to half the error a running mean as long.
EDGE_TRIALS = 32
HALF_WINDOW = 32
#: Channel trials averaged for a block's last adaptation index.
EDGE_CHANNEL_TRIALS = 10
#: Hand paths drawn in each panel of paths.png.
PANEL_TRIALS = 8


def read_paths(run_dir: Path, below: float = math.inf) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The hand and cursor paths by trial (those numbered below ``below``): paths.npz's, or, for a
    run still going (or killed), its chunks so far, later chunks first (a re-run trial's latest)."""
    files = [run_dir / layout.ADAPT_PATHS] if (run_dir / layout.ADAPT_PATHS).exists() else []
    files += sorted((run_dir / layout.ADAPT_PATH_CHUNKS).glob("*.npz"))
    paths: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for path in files:
        with np.load(path) as data:
            for trial in sorted({int(name.split("_")[1]) for name in data.files}):
                if trial < below:
                    paths[trial] = (data[f"hand_{trial}"], data[f"cursor_{trial}"])
    return dict(sorted(paths.items()))


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """trials.csv's rows with their types back (blank measures, and measures a run written before
    they existed lacks, as NaN)."""
    with open(run_dir / layout.ADAPT_TRIALS, newline="") as file:
        return [{**dict.fromkeys(MEASURED, math.nan), **_typed(row)} for row in csv.DictReader(file)]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for key, text in row.items():
        if key in ("block", "force_field"):
            typed[key] = text
        elif key in ("learn", "channel", "success", "false_start"):
            typed[key] = text == "True"
        elif key in ("trial", "block_trial", "target_index", "steps"):
            typed[key] = int(text)
        else:
            typed[key] = float(text) if text else math.nan
    return typed


def block_summary(rows: list[dict[str, Any]], block: str) -> dict[str, Any]:
    """One block's measures: mean signed deviation (mm) of its first and last reaching trials, the
    mean adaptation index of its last channel trials, success rate, initial direction errors."""
    reaching = [r for r in rows if r["block"] == block and not r["channel"]]
    channel = [r for r in rows if r["block"] == block and r["channel"]]

    def mean(values: list[float]) -> float:
        finite = [v for v in values if v is not None and math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan

    deviation = [
        r["max_perpendicular_deviation_mm"] for r in reaching if math.isfinite(r["max_perpendicular_deviation_mm"])
    ]
    direction = [r["initial_direction_error_deg"] for r in reaching if math.isfinite(r["initial_direction_error_deg"])]
    return {
        "trials": len(reaching) + len(channel),
        "channel_trials": len(channel),
        "success": mean([float(r["success"]) for r in reaching]),
        "first_deviation_mm": mean(deviation[:EDGE_TRIALS]),
        "last_deviation_mm": mean(deviation[-EDGE_TRIALS:]),
        "last_adaptation_index": mean([r["adaptation_index"] for r in channel[-EDGE_CHANNEL_TRIALS:]]),
        "first_direction_error_deg": mean(direction[:EDGE_TRIALS]),
        "last_direction_error_deg": mean(direction[-EDGE_TRIALS:]),
        "pulse_displacement_mm": mean([r["pulse_displacement_mm"] for r in reaching]),
        "pulse_latency_ms": mean([r["pulse_latency_ms"] for r in reaching]),
        "trials_to_half_deviation": trials_to_fraction(np.array(deviation, dtype=float), 0.5, HALF_WINDOW)
        if len(deviation) >= HALF_WINDOW
        else math.nan,
    }


def write_report(
    run_dir: Path,
    out_dir: Path,
    protocol: Protocol,
    rows: list[dict[str, Any]],
    paths: dict[int, tuple[np.ndarray, np.ndarray]],
    updates: int,
) -> dict[str, Any]:
    """Write adapt.json and the figures of the run in ``run_dir`` into ``out_dir``; return the summary.
    A run that has not ended gets the summary and figures of the trials it has, and says so."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = {block.name: block_summary(rows, block.name) for block in protocol.blocks}
    summary: dict[str, Any] = {
        "protocol": protocol.name,
        "trials": len(rows),
        "updates": updates,
        "trials_per_update": len([r for r in rows if r["learn"]]) / updates if updates else math.nan,
        "blocks": blocks,
        "note": "deviations are signed positive in the measured field's direction; null where a "
        "measure does not apply (e.g. the adaptation index without channel trials)",
    }
    if len(rows) < protocol.total_trials:
        summary["missing"] = (
            f"{protocol.total_trials - len(rows)} of the protocol's {protocol.total_trials} trials have not run"
        )
    layout.write_json(out_dir / layout.ADAPT_SUMMARY, summary)
    plot_learning_curve(out_dir / layout.ADAPTATION_PLOT, protocol, rows)
    plot_paths(out_dir / layout.PATHS_PLOT, protocol, rows, paths)
    return summary


def report_adapt_run(run_dir: Path, out_dir: Path) -> dict[str, Any]:
    """``motorgym analyze`` of an adapt run: its summary and figures from what it recorded."""
    config = layout.read_config(run_dir)
    protocol = protocol_from_dict(config.get("protocol_spec"), str(run_dir / layout.CONFIG))
    rows = sorted(read_rows(run_dir), key=lambda row: row["trial"])
    paths = read_paths(run_dir)
    updates = 0
    if (run_dir / layout.ADAPT_CHECKPOINT).exists():
        updates = int(load_checkpoint(run_dir / layout.ADAPT_CHECKPOINT)[1].get("updates", 0))
    return write_report(run_dir, out_dir, protocol, rows, paths, updates)


def plot_learning_curve(path: Path, protocol: Protocol, rows: list[dict[str, Any]]) -> Path:
    """Signed deviation (or initial direction error, for rotations) of every reaching trial with
    its running mean, the adaptation index of channel trials (if the protocol has any), and the
    block boundaries."""
    channel = [r for r in rows if r["channel"] and math.isfinite(r["adaptation_index"])]
    figure, axes = subplots(2 if channel else 1, 1, figsize=(8.0, 5.5 if channel else 3.2))
    axes = np.atleast_1d(axes)
    rotation = any(r["visual_rotation_deg"] for r in rows)
    key, label = (
        ("initial_direction_error_deg", "initial direction error (deg)")
        if rotation
        else ("max_perpendicular_deviation_mm", "perpendicular deviation (mm)\n(+: field's direction)")
    )
    reaching = [r for r in rows if not r["channel"] and math.isfinite(r[key])]
    _scatter_with_mean(axes[0], [r["trial"] for r in reaching], [r[key] for r in reaching], HALF_WINDOW, "0.6", "black")
    axes[0].set_ylabel(label)
    if channel:
        trials, index = [r["trial"] for r in channel], [r["adaptation_index"] for r in channel]
        _scatter_with_mean(axes[1], trials, index, EDGE_CHANNEL_TRIALS, "tab:blue", "navy")
        axes[1].set_ylabel("adaptation index\n(channel trials)")
    axes[-1].set_xlabel("trial")
    start = 0
    for block in protocol.blocks:
        for ax in axes:
            ax.axvline(start, color="0.8", linewidth=0.8)
        axes[0].text(start + block.trials / 2, 1.02, block.name, transform=axes[0].get_xaxis_transform(), ha="center")
        start += block.trials
    for ax in axes:
        ax.set_xlim(0, start)
    figure.suptitle(f"{protocol.name}: learning curve", y=1.0)
    return save_figure(figure, path)


def _scatter_with_mean(ax: Any, trials: list[int], values: list[float], window: int, dots: str, line: str) -> None:
    """Each trial's value, and their running mean over ``window`` trials (what the summary averages)."""
    ax.plot(trials, values, ".", markersize=2, color=dots)
    if len(values) >= window:
        running = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(trials[window - 1 :], running, color=line, linewidth=1.2, label=f"mean of {window}")
        ax.legend(loc="upper right", fontsize=8)
    ax.axhline(0.0, color="0.7", linewidth=0.8)


def plot_paths(
    path: Path, protocol: Protocol, rows: list[dict[str, Any]], paths: dict[int, tuple[np.ndarray, np.ndarray]]
) -> Path:
    """The classic panel: hand paths of the late baseline, the first exposure trials, late exposure
    and the first washout trials (whichever blocks the protocol has, in its order)."""
    names = [b.name for b in protocol.blocks]
    panels = [(f"{names[0]} (late)", names[0], -PANEL_TRIALS)]
    if len(names) > 1:
        panels += [(f"{names[1]} (first)", names[1], PANEL_TRIALS), (f"{names[1]} (late)", names[1], -PANEL_TRIALS)]
    if len(names) > 2:
        panels.append((f"{names[2]} (first)", names[2], PANEL_TRIALS))
    figure, axes = subplots(1, len(panels), figsize=(3.0 * len(panels), 3.2))
    axes = np.atleast_1d(axes)
    for ax, (title, block, count) in zip(axes, panels, strict=True):
        trials = [r["trial"] for r in rows if r["block"] == block and not r["channel"] and r["trial"] in paths]
        chosen = trials[:count] if count > 0 else trials[count:]
        for trial in chosen:
            hand = paths[trial][0]
            ax.plot(hand[:, 0] * 100, hand[:, 1] * 100, linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("x (cm)")
    axes[0].set_ylabel("y (cm)")
    return save_figure(figure, path)


__all__ = [
    "MEASURED",
    "TRIAL_COLUMNS",
    "block_summary",
    "plot_learning_curve",
    "plot_paths",
    "read_paths",
    "read_rows",
    "report_adapt_run",
    "write_report",
]
