"""The figures and analyses of motor neuroscience for a run.

    motorgym analyze runs/center_out --out runs/center_out/figures

Rolls out ``episodes`` centre-out trials (no catch trials, deterministic policy), aligns each
successful reach to its movement onset (speed first above 10% of its peak after the go cue),
and writes PNG figures and ``analysis.json``:

- ``hand_paths.png``: hand paths coloured by target; ``speed_profiles.png``: speed aligned to
  onset, mean per target; ``learning_curve.png``: rolling success and return from metrics.csv;
- ``pca.png``: variance explained by the principal components of the condition-averaged hidden
  states (participation ratio in analysis.json) and their trajectories in PC1-PC2 by target;
- ``jpca.png``: trajectories in the first jPC plane over the movement epoch (50 ms before to
  150 ms after onset), with R2 of the skew-symmetric and unconstrained fits, their ratio and the
  rotation frequency; as Churchland et al. (2012) prepared firing rates, the condition averages
  are smoothed (Gaussian, 20 ms) and soft-normalised (range + 0.1) first;
- ``tuning.png``: each unit's activity around onset fitted by a cosine of reach direction:
  preferred directions and R2 (``tuned_fraction``: R2 > 0.7);
- ``kinematics.png``: the evaluation measures beside human values.

A young run (one that reaches fewer than 3 targets: people analyse those to watch dynamics form)
gets what can be computed: the learning curve, the hand paths and speed profiles and the PCA of
the hidden states, all aligned to the go cue; jPCA and tuning need reaches, so analysis.json holds
null for them, with the reason under ``unavailable``. The hidden-state analyses need a recurrent
agent (ours, or RecurrentPPO); for SB3's feed-forward PPO they are likewise null. Each analysis is
a plain function in ``motorgym.train.analysis`` usable on any arrays.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from motorgym.agents.rollout import Episode, rollout
from motorgym.envs.registration import check_env_arguments
from motorgym.train import kinds
from motorgym.train.analysis.kinematics import movement_onset, speed_profile
from motorgym.train.analysis.population import cosine_tuning, jpca, pca, smooth_gaussian, soft_normalize
from motorgym.train.evaluate import summarize
from motorgym.train.plots import Figure, save_figure, subplots
from motorgym.train.progress import read_metrics
from motorgym.train.run_dir import ANALYSIS, METRICS, write_json

#: Window around movement onset kept for the aligned analyses (ms): 200 ms before, and after it at
#: least 250 ms, longer when the reaches allow (trials end at the end of the hold, and slow reaches
#: need longer): as long as 90% of the successful trials last after their onset, up to 800 ms.
WINDOW_MS = (-200, 250)
MAX_AFTER_ONSET_MS = 800
#: Window around the go cue for a young run's analyses (ms): its reaches have no onset to align to.
GO_WINDOW_MS = (-200, 500)
#: jPCA's movement epoch around onset (ms), after Churchland et al. (2012).
JPCA_EPOCH_MS = (-50, 150)
#: jPCA's preprocessing of the condition-averaged hidden states, as Churchland et al. (2012) did
#: for firing rates: Gaussian smoothing (ms) and soft normalisation (range + this; tanh units).
JPCA_SMOOTHING_MS = 20.0
JPCA_SOFTENING = 0.1
#: Reaches to this many targets at least make the reach analyses (jPCA, tuning) meaningful.
MIN_TARGETS = 3
#: Human (or minimum-jerk) reference values of the kinematic measures, over the same window as the
#: measure (onset to offset, the 10% speed crossings).
HUMAN = {
    "path_linearity": (0.05, 0.10, "human reaches, nearly straight (Morasso 1981)"),
    "peak_to_mean_speed": (1.565, 1.565, "minimum-jerk reach between its 10% crossings (Flash & Hogan 1985)"),
    "reaction_time_ms": (200.0, 300.0, "human reaction times to a go cue"),
    "movement_time_ms": (
        250.0,
        400.0,
        "onset to entering a 1.5 cm target of a 10 cm minimum-jerk reach of 400-650 ms, the duration people "
        "choose (Shadmehr & Mussa-Ivaldi 1994: 500 +- 50 ms)",
    ),
    "peak_speed_m_s": (0.25, 0.5, "10 cm reaches of 400-650 ms (minimum jerk: 1.875 D/T = 0.29-0.47 m/s)"),
    "peak_time_fraction": (0.5, 0.5, "minimum-jerk reach: a symmetric bell (Flash & Hogan 1985)"),
}


def aligned_trials(episodes: list[Episode], dt_s: float, to_go_cue: bool = False) -> dict[str, Any]:
    """Reaches aligned in time: hand paths (n, T, 2), speeds (n, T), hidden states (n, T, units)
    or None, target indices and directions (rad). By default the successful reaches, aligned to
    movement onset over WINDOW_MS (its end extended for slow reaches, see MAX_AFTER_ONSET_MS);
    ``to_go_cue``: every reach trial, aligned to the go cue over GO_WINDOW_MS."""
    before, after = (round(ms / 1000 / dt_s) for ms in (GO_WINDOW_MS if to_go_cue else WINDOW_MS))
    chosen = []  # (episode, path, speed, go, anchor)
    for episode in episodes:
        info = episode.info
        if info["catch_trial"] or not any(episode.go) or not (to_go_cue or info["success"]):
            continue
        path = np.array(episode.hand_pos)
        speed = speed_profile(path, dt_s)
        go = episode.go.index(True)
        anchor = go if to_go_cue else movement_onset(speed, after=go)
        if anchor is not None and anchor + before >= 0:
            chosen.append((episode, path, speed, go, anchor))
    if not to_go_cue and chosen:
        lasting = [len(episode.hidden or path) - 1 - anchor for episode, path, _, _, anchor in chosen]
        longest = round(MAX_AFTER_ONSET_MS / 1000 / dt_s)
        after = min(longest, max(after, int(np.percentile(lasting, 10))))
    paths, speeds, hidden, targets, directions = [], [], [], [], []
    for episode, path, speed, go, anchor in chosen:
        if anchor + after > len(episode.hidden or path) - 1:
            continue
        window = slice(anchor + before, anchor + after)
        paths.append(path[window])
        speeds.append(speed[window])
        if episode.hidden:
            hidden.append(np.array(episode.hidden)[window])
        delta = np.asarray(episode.info["target_pos"]) - path[go]
        targets.append(int(episode.info["target_index"]))
        directions.append(math.atan2(delta[1], delta[0]))
    return {
        "paths": np.array(paths),
        "speeds": np.array(speeds),
        "hidden": np.array(hidden) if hidden and len(hidden) == len(paths) else None,
        "targets": np.array(targets, dtype=int),
        "directions": np.array(directions),
        "time_ms": np.arange(before, after) * dt_s * 1000,
        "aligned_to": "go cue" if to_go_cue else "movement onset",
    }


def condition_average(values: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the trials of each target: (conditions, ...) and the target indices."""
    conditions = np.unique(targets)
    return np.stack([values[targets == c].mean(axis=0) for c in conditions]), conditions


def training_metrics(run_dir: Path) -> list[dict[str, float]] | None:
    """The rows of a training run's metrics.csv, for the learning curve; None for a run without
    episode statistics (a pretraining run logs its fit instead: see its losses.png)."""
    rows = read_metrics(run_dir) if (run_dir / METRICS).exists() else []
    return rows if rows and "episode_success" in rows[0] else None


def analyze(
    run_dir: str | Path, out_dir: str | Path, episodes: int = 200, seed: int = 2024, device: str = "cpu"
) -> dict[str, Any]:
    """Roll out a run's agent on its centre-out task and write the figures and analysis.json
    (see the module docstring); return the json."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1 (got {episodes})")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    agent, env_id, env_kwargs = kinds.load_agent(run_dir, device)
    task = check_env_arguments(env_id, env_kwargs)
    if not hasattr(task, "catch_fraction"):
        raise ValueError(f"motorgym analyze needs a centre-out task (got {env_id})")
    trials = rollout(env_id, {**env_kwargs, "catch_fraction": 0.0}, agent, episodes, seed)
    # The run as seen from the figures' folder, so that results can be moved together.
    source = {"run_dir": os.path.relpath(run_dir.resolve(), out_dir.resolve())}
    return analyze_trials(
        trials,
        task.control_step_ms / 1000,
        task.target_radius_m,
        task.n_targets,
        out_dir,
        env_id,
        training_metrics(run_dir),
        source,
    )


def analyze_trials(
    trials: list[Episode],
    dt_s: float,
    target_radius_m: float,
    n_targets: int,
    out_dir: str | Path,
    title: str = "",
    metrics: list[dict[str, float]] | None = None,
    about: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The analyses and figures of centre-out trials (any source: a run's rollouts, recordings, or
    synthetic data); ``metrics`` (rows of a metrics.csv) adds the learning curve, ``about`` entries
    at the top of analysis.json. Writes analysis.json once, at the end."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    aligned = aligned_trials(trials, dt_s)
    reached = len(np.unique(aligned["targets"]))
    result: dict[str, Any] = {
        **(about or {}),
        "env_id": title,
        "episodes": len(trials),
        "aligned_reaches": len(aligned["targets"]),
        "kinematics": summarize(trials, dt_s, target_radius_m)["overall"],
        "human_reference": {k: {"low": lo, "high": hi, "source": src} for k, (lo, hi, src) in HUMAN.items()},
        "unavailable": {},
    }
    if reached < MIN_TARGETS:
        result["note"] = (
            f"only {len(aligned['targets'])} successful reaches to {reached} targets: jPCA and tuning need reaches "
            f"to at least {MIN_TARGETS} targets; paths, speeds and PCA are aligned to the go cue instead"
        )
        aligned = aligned_trials(trials, dt_s, to_go_cue=True)
    colors = [matplotlib.colormaps["hsv"](i / max(n_targets, 1)) for i in range(n_targets)]
    if len(aligned["targets"]):
        _plot_paths_and_speeds(aligned, colors, title, out_dir)
    if metrics:
        _plot_learning_curve(metrics, out_dir)
    _plot_kinematics(result["kinematics"], out_dir)
    result.update(_population(aligned, colors, dt_s, out_dir, reached >= MIN_TARGETS, result["unavailable"]))
    write_json(out_dir / ANALYSIS, result)
    return result


def _plot_paths_and_speeds(aligned: dict[str, Any], colors: list[Any], title: str, out_dir: Path) -> None:
    figure, axis = subplots(figsize=(4.5, 4.5))
    for path, target in zip(aligned["paths"], aligned["targets"], strict=True):
        axis.plot(path[:, 0] * 100, path[:, 1] * 100, color=colors[target], lw=0.8, alpha=0.7)
    axis.set(xlabel="x (cm)", ylabel="y (cm)", title=f"hand paths {title}", aspect="equal")
    save_figure(figure, out_dir / "hand_paths.png")
    figure, axis = subplots(figsize=(5.5, 3.8))
    mean_speed, conditions = condition_average(aligned["speeds"], aligned["targets"])
    for speed, target in zip(mean_speed, conditions, strict=True):
        axis.plot(aligned["time_ms"], speed * 100, color=colors[target], label=f"target {target}")
    axis.axvline(0, color="black", lw=0.8, ls=":")
    axis.set(xlabel=f"time from {aligned['aligned_to']} (ms)", ylabel="hand speed (cm/s)", title="speed profiles")
    axis.legend(fontsize=7, ncol=2)
    save_figure(figure, out_dir / "speed_profiles.png")


def _plot_learning_curve(rows: list[dict[str, float]], out_dir: Path) -> None:
    figure, (left, right) = subplots(1, 2, figsize=(9, 3.5))
    steps = [r["global_step"] / 1e6 for r in rows]
    left.plot(steps, [100 * r["episode_success"] for r in rows])
    left.set(xlabel="environment steps (millions)", ylabel="rolling training success (%)", ylim=(-3, 103))
    right.plot(steps, [r["episode_return"] for r in rows], color="tab:red")
    right.set(xlabel="environment steps (millions)", ylabel="mean episode return")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    figure.suptitle("learning curve")
    save_figure(figure, out_dir / "learning_curve.png")


def _plot_kinematics(kinematics: dict[str, float], out_dir: Path) -> None:
    """The evaluation measures beside human values."""
    figure, axes = subplots(1, len(HUMAN), figsize=(3 * len(HUMAN), 3))
    for axis, (name, (low, high, source)) in zip(axes, HUMAN.items(), strict=True):
        axis.bar(["agent"], [kinematics[name]], color="tab:blue")
        axis.bar(["reference"], [(low + high) / 2], yerr=[[(high - low) / 2]], color="tab:gray", capsize=4)
        axis.set(title=name.replace("_", " "), xlabel=source[:38])
    save_figure(figure, out_dir / "kinematics.png")


def _population(
    aligned: dict[str, Any],
    colors: list[Any],
    dt_s: float,
    out_dir: Path,
    reaches: bool,
    unavailable: dict[str, str],
) -> dict[str, Any]:
    """PCA of the hidden states, and with ``reaches`` jPCA and tuning, with their figures; what
    cannot be computed is None, with the reason in ``unavailable``."""
    result: dict[str, Any] = dict.fromkeys(("pca", "jpca_r2_skew", "jpca_r2_unconstrained", "jpca_ratio", "tuning"))
    if aligned["hidden"] is None:
        unavailable.update(pca="the agent has no recurrent hidden state (or no reach was recorded)")
        unavailable.update(jpca=unavailable["pca"], tuning=unavailable["pca"])
        return result
    activity, conditions = condition_average(aligned["hidden"], aligned["targets"])  # (conditions, T, units)
    result["pca"] = _pca(activity, conditions, aligned, colors, out_dir)
    if not reaches:
        unavailable.update(jpca="needs successful reaches to 3 targets", tuning="needs successful reaches to 3 targets")
        return result
    result.update(_jpca(activity, conditions, aligned["time_ms"], colors, dt_s, out_dir))
    result["tuning"] = _tuning(aligned, out_dir)
    return result


def _pca(
    activity: np.ndarray, conditions: np.ndarray, aligned: dict[str, Any], colors: list[Any], out_dir: Path
) -> dict[str, Any]:
    components = pca(activity)
    top = components.project(activity, 3)
    figure, (left, right) = subplots(1, 2, figsize=(9, 3.8))
    shown = min(10, len(components.explained_variance_ratio))
    left.bar(np.arange(1, shown + 1), 100 * components.explained_variance_ratio[:shown])
    left.set(
        xlabel="principal component",
        ylabel="variance explained (%)",
        title=f"PR = {components.participation_ratio:.1f}",
    )
    zero = np.argmin(np.abs(aligned["time_ms"]))
    for trajectory, target in zip(top, conditions, strict=True):
        right.plot(trajectory[:, 0], trajectory[:, 1], color=colors[target])
        right.plot(*trajectory[zero][:2], "o", color=colors[target], ms=4)
    right.set(xlabel="PC1", ylabel="PC2", title=f"hidden states by target (dot: {aligned['aligned_to']})")
    save_figure(figure, out_dir / "pca.png")
    return {
        "explained_variance_ratio": components.explained_variance_ratio[:10].tolist(),
        "participation_ratio": components.participation_ratio,
        "aligned_to": aligned["aligned_to"],
    }


def _jpca(
    activity: np.ndarray, conditions: np.ndarray, time_ms: np.ndarray, colors: list[Any], dt_s: float, out_dir: Path
) -> dict[str, Any]:
    epoch = (time_ms >= JPCA_EPOCH_MS[0]) & (time_ms <= JPCA_EPOCH_MS[1])
    prepared = soft_normalize(smooth_gaussian(activity, JPCA_SMOOTHING_MS / 1000 / dt_s), JPCA_SOFTENING)
    rotation = jpca(prepared[:, epoch], dt_s)
    projected = rotation.project(prepared[:, epoch])
    figure, axis = subplots(figsize=(4.5, 4.5))
    for trajectory, target in zip(projected, conditions, strict=True):
        axis.plot(trajectory[:, 0], trajectory[:, 1], color=colors[target])
        axis.plot(*trajectory[0], "o", color=colors[target], ms=3)
    axis.set(
        xlabel="jPC1",
        ylabel="jPC2",
        title=f"jPCA: R2 skew {rotation.r2_skew:.2f} / full {rotation.r2_unconstrained:.2f}",
        aspect="equal",
    )
    save_figure(figure, out_dir / "jpca.png")
    return {
        "jpca_r2_skew": rotation.r2_skew,
        "jpca_r2_unconstrained": rotation.r2_unconstrained,
        "jpca_ratio": rotation.ratio,
        "jpca_rotation_frequency_hz": rotation.rotation_frequency_hz,
        "jpca_preprocessing": {
            "epoch_ms_from_onset": list(JPCA_EPOCH_MS),
            "smoothing_sigma_ms": JPCA_SMOOTHING_MS,
            "soft_normalization": JPCA_SOFTENING,
            "pcs": rotation.dims,
        },
    }


def _tuning(aligned: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    around_onset = (aligned["time_ms"] >= -100) & (aligned["time_ms"] <= 200)
    tuning = cosine_tuning(aligned["hidden"][:, around_onset].mean(axis=1), aligned["directions"])
    figure = Figure(figsize=(9, 3.8))
    polar = figure.add_subplot(1, 2, 1, projection="polar")
    tuned = tuning.r2 > 0.7
    polar.hist(tuning.preferred_direction_rad[tuned], bins=16, color="tab:green")
    polar.set_title(f"preferred directions ({tuned.sum()} tuned units)", fontsize=9)
    histogram = figure.add_subplot(1, 2, 2)
    histogram.hist(tuning.r2, bins=20, range=(0, 1), color="tab:gray")
    histogram.axvline(0.7, color="black", ls=":")
    histogram.set(xlabel="cosine-fit R2", ylabel="units", title=f"tuned fraction {tuning.tuned_fraction:.0%}")
    save_figure(figure, out_dir / "tuning.png")
    return {
        "tuned_fraction": tuning.tuned_fraction,
        "median_r2": float(np.median(tuning.r2)),
        "preferred_direction_rad": tuning.preferred_direction_rad.tolist(),
        "r2": tuning.r2.tolist(),
    }


__all__ = ["aligned_trials", "analyze", "analyze_trials", "condition_average"]
