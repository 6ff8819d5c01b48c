"""The figures and analyses of motor neuroscience for a trained run.

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

The hidden-state analyses need a recurrent agent (ours, or RecurrentPPO); for SB3's feed-forward
PPO they are skipped, and analysis.json says so. Each analysis is a plain function in
``motorgym.train.analysis`` usable on any arrays.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from motorgym.train.analysis.kinematics import movement_onset, speed_profile
from motorgym.train.analysis.population import cosine_tuning, jpca, pca, smooth_gaussian, soft_normalize
from motorgym.train.evaluate import Episode, load_agent, rollout, summarize
from motorgym.train.runs import METRICS_NAME, read_metrics

#: Window around movement onset kept for the aligned analyses (ms); trials end soon after the hold.
WINDOW_MS = (-200, 250)
#: jPCA's movement epoch around onset (ms), after Churchland et al. (2012).
JPCA_EPOCH_MS = (-50, 150)
#: jPCA's preprocessing of the condition-averaged hidden states, as Churchland et al. (2012) did
#: for firing rates: Gaussian smoothing (ms) and soft normalisation (range + this; tanh units).
JPCA_SMOOTHING_MS = 20.0
JPCA_SOFTENING = 0.1
#: Human (or minimum-jerk) reference values of the kinematic measures.
HUMAN = {
    "path_linearity": (0.05, 0.10, "human reaches (motor-science reference)"),
    "peak_to_mean_speed": (1.875, 1.875, "minimum-jerk reach (Flash & Hogan 1985)"),
    "reaction_time_ms": (200.0, 300.0, "human reaction times to a go cue"),
}


def aligned_trials(episodes: list[Episode], dt_s: float) -> dict[str, Any]:
    """Successful reaches aligned to movement onset: hand paths (n, T, 2), speeds (n, T), hidden
    states (n, T, units) or None, target indices and directions (rad), over WINDOW_MS."""
    before, after = (round(ms / 1000 / dt_s) for ms in WINDOW_MS)
    paths, speeds, hidden, targets, directions = [], [], [], [], []
    for episode in episodes:
        info = episode.info
        if info["catch_trial"] or not info["success"] or not any(episode.go):
            continue
        path = np.array(episode.hand_pos)
        speed = speed_profile(path, dt_s)
        onset = movement_onset(speed, after=episode.go.index(True))
        if onset is None or onset + before < 0 or onset + after > len(episode.hidden or path) - 1:
            continue
        window = slice(onset + before, onset + after)
        paths.append(path[window])
        speeds.append(speed[window])
        if episode.hidden:
            hidden.append(np.array(episode.hidden)[window])
        start = path[episode.go.index(True)]
        delta = np.asarray(info["target_pos"]) - start
        targets.append(int(info["target_index"]))
        directions.append(math.atan2(delta[1], delta[0]))
    return {
        "paths": np.array(paths),
        "speeds": np.array(speeds),
        "hidden": np.array(hidden) if hidden and len(hidden) == len(paths) else None,
        "targets": np.array(targets, dtype=int),
        "directions": np.array(directions),
        "time_ms": np.arange(before, after) * dt_s * 1000,
    }


def condition_average(values: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the trials of each target: (conditions, ...) and the target indices."""
    conditions = np.unique(targets)
    return np.stack([values[targets == c].mean(axis=0) for c in conditions]), conditions


def _colors(n: int) -> list[Any]:
    import matplotlib

    return [matplotlib.colormaps["hsv"](i / max(n, 1)) for i in range(n)]


def training_metrics(run_dir: Path) -> list[dict[str, float]] | None:
    """The rows of a training run's metrics.csv, for the learning curve; None for a run without
    episode statistics (a pretraining run logs its fit instead: see its losses.png)."""
    rows = read_metrics(run_dir) if (run_dir / METRICS_NAME).exists() else []
    return rows if rows and "episode_success" in rows[0] else None


def analyze(
    run_dir: str | Path, out_dir: str | Path, episodes: int = 200, seed: int = 2024, device: str = "cpu"
) -> dict[str, Any]:
    """Roll out a run's agent on its centre-out task and write the figures and analysis.json
    (see the module docstring); return the json."""
    run_dir = Path(run_dir)
    agent, env_id, env_kwargs = load_agent(run_dir, device)
    config = gym.make(env_id, **env_kwargs).unwrapped.config
    if not hasattr(config, "catch_fraction"):
        raise ValueError(f"motorgym analyze needs a centre-out task (got {env_id})")
    trials = rollout(env_id, {**env_kwargs, "catch_fraction": 0.0}, agent, episodes, seed)
    metrics = training_metrics(run_dir)
    result = analyze_trials(
        trials, config.control_step_ms / 1000, config.target_radius_m, config.n_targets, out_dir, env_id, metrics
    )
    result = {"run_dir": str(run_dir), **result}
    (Path(out_dir) / "analysis.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


def analyze_trials(
    trials: list[Episode],
    dt_s: float,
    target_radius_m: float,
    n_targets: int,
    out_dir: str | Path,
    title: str = "",
    metrics: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The analyses and figures of centre-out trials (any source: a run's rollouts, recordings, or
    synthetic data); ``metrics`` (rows of a metrics.csv) adds the learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    aligned = aligned_trials(trials, dt_s)
    result: dict[str, Any] = {
        "env_id": title,
        "episodes": len(trials),
        "aligned_reaches": len(aligned["targets"]),
        "kinematics": summarize(trials, dt_s, target_radius_m)["overall"],
        "human_reference": {k: {"low": lo, "high": hi, "source": src} for k, (lo, hi, src) in HUMAN.items()},
    }
    if len(aligned["targets"]) < 3 or len(np.unique(aligned["targets"])) < 3:
        raise ValueError(
            f"only {len(aligned['targets'])} successful reaches to {len(np.unique(aligned['targets']))} targets: "
            "the analyses need a run that reaches at least 3 targets"
        )
    colors = _colors(n_targets)
    time_ms = aligned["time_ms"]

    # Hand paths and speed profiles.
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    for path, target in zip(aligned["paths"], aligned["targets"], strict=True):
        axis.plot(path[:, 0] * 100, path[:, 1] * 100, color=colors[target], lw=0.8, alpha=0.7)
    axis.set(xlabel="x (cm)", ylabel="y (cm)", title=f"hand paths {title}", aspect="equal")
    _save(figure, out_dir / "hand_paths.png")
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    mean_speed, conditions = condition_average(aligned["speeds"], aligned["targets"])
    for speed, target in zip(mean_speed, conditions, strict=True):
        axis.plot(time_ms, speed * 100, color=colors[target], label=f"target {target}")
    axis.axvline(0, color="black", lw=0.8, ls=":")
    axis.set(xlabel="time from movement onset (ms)", ylabel="hand speed (cm/s)", title="speed profiles")
    axis.legend(fontsize=7, ncol=2)
    _save(figure, out_dir / "speed_profiles.png")

    # Learning curve.
    if metrics:
        rows = metrics
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        steps = [r["global_step"] / 1e6 for r in rows]
        left.plot(steps, [100 * r["episode_success"] for r in rows])
        left.set(xlabel="environment steps (millions)", ylabel="rolling training success (%)", ylim=(-3, 103))
        right.plot(steps, [r["episode_return"] for r in rows], color="tab:red")
        right.set(xlabel="environment steps (millions)", ylabel="mean episode return")
        for axis in (left, right):
            axis.grid(alpha=0.3)
        figure.suptitle("learning curve")
        _save(figure, out_dir / "learning_curve.png")

    # Kinematics beside human values.
    figure, axes = plt.subplots(1, len(HUMAN), figsize=(9, 3))
    for axis, (name, (low, high, source)) in zip(axes, HUMAN.items(), strict=True):
        value = result["kinematics"][name]
        axis.bar(["agent"], [value], color="tab:blue")
        axis.bar(["reference"], [(low + high) / 2], yerr=[[(high - low) / 2]], color="tab:gray", capsize=4)
        axis.set(title=name.replace("_", " "), xlabel=source[:38])
    _save(figure, out_dir / "kinematics.png")

    if aligned["hidden"] is None:
        result["hidden_state_analyses"] = "skipped: the agent has no recurrent hidden state"
    else:
        result.update(_population(aligned, conditions, colors, dt_s, out_dir, plt))
    (out_dir / "analysis.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


def _population(
    aligned: dict[str, Any], conditions: np.ndarray, colors: list[Any], dt_s: float, out_dir: Path, plt: Any
) -> dict[str, Any]:
    """PCA, jPCA and tuning of the hidden states, with their figures."""
    activity, _ = condition_average(aligned["hidden"], aligned["targets"])  # (conditions, T, units)
    time_ms = aligned["time_ms"]
    components = pca(activity)
    top = components.project(activity, 3)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    shown = min(10, len(components.explained_variance_ratio))
    left.bar(np.arange(1, shown + 1), 100 * components.explained_variance_ratio[:shown])
    left.set(
        xlabel="principal component",
        ylabel="variance explained (%)",
        title=f"PR = {components.participation_ratio:.1f}",
    )
    for trajectory, target in zip(top, conditions, strict=True):
        right.plot(trajectory[:, 0], trajectory[:, 1], color=colors[target])
        right.plot(*trajectory[np.argmin(np.abs(time_ms))][:2], "o", color=colors[target], ms=4)
    right.set(xlabel="PC1", ylabel="PC2", title="hidden states by target (dot: onset)")
    _save(figure, out_dir / "pca.png")

    epoch = (time_ms >= JPCA_EPOCH_MS[0]) & (time_ms <= JPCA_EPOCH_MS[1])
    prepared = soft_normalize(smooth_gaussian(activity, JPCA_SMOOTHING_MS / 1000 / dt_s), JPCA_SOFTENING)
    rotation = jpca(prepared[:, epoch], dt_s)
    projected = rotation.project(prepared[:, epoch])
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    for trajectory, target in zip(projected, conditions, strict=True):
        axis.plot(trajectory[:, 0], trajectory[:, 1], color=colors[target])
        axis.plot(*trajectory[0], "o", color=colors[target], ms=3)
    axis.set(
        xlabel="jPC1",
        ylabel="jPC2",
        title=f"jPCA: R2 skew {rotation.r2_skew:.2f} / full {rotation.r2_unconstrained:.2f}",
        aspect="equal",
    )
    _save(figure, out_dir / "jpca.png")

    around_onset = (time_ms >= -100) & (time_ms <= 200)
    tuning = cosine_tuning(aligned["hidden"][:, around_onset].mean(axis=1), aligned["directions"])
    figure = plt.figure(figsize=(9, 3.8))
    polar = figure.add_subplot(1, 2, 1, projection="polar")
    tuned = tuning.r2 > 0.7
    polar.hist(tuning.preferred_direction_rad[tuned], bins=16, color="tab:green")
    polar.set_title(f"preferred directions ({tuned.sum()} tuned units)", fontsize=9)
    histogram = figure.add_subplot(1, 2, 2)
    histogram.hist(tuning.r2, bins=20, range=(0, 1), color="tab:gray")
    histogram.axvline(0.7, color="black", ls=":")
    histogram.set(xlabel="cosine-fit R2", ylabel="units", title=f"tuned fraction {tuning.tuned_fraction:.0%}")
    _save(figure, out_dir / "tuning.png")
    return {
        "pca": {
            "explained_variance_ratio": components.explained_variance_ratio[:10].tolist(),
            "participation_ratio": components.participation_ratio,
        },
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
        "tuning": {
            "tuned_fraction": tuning.tuned_fraction,
            "median_r2": float(np.median(tuning.r2)),
            "preferred_direction_rad": tuning.preferred_direction_rad.tolist(),
            "r2": tuning.r2.tolist(),
        },
    }


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(figure)


__all__ = ["aligned_trials", "analyze", "analyze_trials", "condition_average"]
