"""motorgym analyze on synthetic centre-out trials with known answers, and on a run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motorgym.agents.rollout import Episode
from motorgym.agents.scripted import minimum_jerk
from motorgym.train.analyze import aligned_trials, analyze_trials
from motorgym.train.cli import main

DT = 0.01
N_TARGETS, TRIALS, TUNED, UNTUNED = 8, 6, 30, 10
FIGURES = ("hand_paths", "speed_profiles", "learning_curve", "pca", "jpca", "tuning", "kinematics")


def synthetic_trials(seed: int = 0, move: int = 30) -> tuple[list[Episode], np.ndarray]:
    """Min-jerk reaches of 10 cm to 8 targets lasting ``move`` steps; units cosine-tuned to the
    reach direction (their activity scaled by hand speed) and untuned noise units. Returns the
    trials and the preferred directions."""
    rng = np.random.default_rng(seed)
    preferred = rng.uniform(-np.pi, np.pi, TUNED)
    start, go, hold = np.array([0.0, 0.4]), 30, 40
    s, ds = minimum_jerk(np.linspace(0, 1, move + 1))
    trials = []
    for target in range(N_TARGETS):
        angle = 2 * np.pi * target / N_TARGETS
        end = start + 0.1 * np.array([np.cos(angle), np.sin(angle)])
        for _ in range(TRIALS):
            reach = start + s[:, None] * (end - start)
            path = np.concatenate([np.repeat(start[None], go, 0), reach, np.repeat(end[None], hold, 0)])
            speed = np.concatenate([np.zeros(go), ds, np.zeros(hold)])
            tuned = speed[:, None] * (1 + np.cos(angle - preferred)[None]) + 0.02 * rng.normal(size=(len(path), TUNED))
            noise = rng.normal(size=(len(path), UNTUNED))
            info = {
                "catch_trial": False,
                "success": True,
                "false_start": False,
                "target_index": target,
                "target_pos": end,
                "distance_m": 0.001,
            }
            trials.append(
                Episode(
                    hand_pos=list(path),
                    go=[t >= go for t in range(len(path))],
                    info=info,
                    hidden=list(np.concatenate([tuned, noise], axis=1)[:-1]),
                )
            )
    return trials, preferred


def test_the_aligned_window_covers_slow_reaches() -> None:
    """After onset the window runs as long as the trials last (here: the reach, then the 400 ms
    hold), at least 250 ms and at most 800 ms; no trial is dropped for it."""
    for move, last_ms in ((30, 650.0), (60, 790.0)):
        trials, _ = synthetic_trials(move=move)
        aligned = aligned_trials(trials, DT)
        onset = 3  # the first sample above 10% of the peak speed, after the go cue
        lasting_ms = (len(trials[0].hidden) - 1 - (30 + onset)) * DT * 1000
        assert aligned["time_ms"][-1] == pytest.approx(min(lasting_ms, 800.0) - 10.0) == last_ms
        assert len(aligned["targets"]) == len(trials) and aligned["time_ms"][0] == -200.0


def test_analyses_of_synthetic_trials_recover_the_known_answers(tmp_path) -> None:
    trials, preferred = synthetic_trials()
    metrics = [{"global_step": 1000.0 * i, "episode_success": i / 10, "episode_return": -10.0 + i} for i in range(11)]
    result = analyze_trials(trials, DT, 0.01, N_TARGETS, tmp_path, "synthetic", metrics)
    assert result["aligned_reaches"] == N_TARGETS * TRIALS
    kinematics = result["kinematics"]
    assert kinematics["path_linearity"] < 1e-6 and kinematics["success_rate"] == 1.0
    # Min-jerk onset to offset: 1.565 (30 samples of 10 ms make the discrete onset and offset coarse).
    assert kinematics["peak_to_mean_speed"] == pytest.approx(1.565, abs=0.1)
    tuning = result["tuning"]
    assert tuning["tuned_fraction"] == pytest.approx(TUNED / (TUNED + UNTUNED), abs=0.03)
    recovered = np.array(tuning["preferred_direction_rad"][:TUNED])
    assert np.abs(np.angle(np.exp(1j * (recovered - preferred)))).max() < 0.1
    assert 0 < result["pca"]["participation_ratio"] < TUNED + UNTUNED
    assert 0 <= result["jpca_r2_skew"] <= result["jpca_r2_unconstrained"] + 1e-9 <= 1 + 1e-9
    saved = json.loads((tmp_path / "analysis.json").read_text())
    assert saved["tuning"]["tuned_fraction"] == tuning["tuned_fraction"]
    for name in FIGURES:
        png = tmp_path / f"{name}.png"
        assert png.stat().st_size > 15_000, name  # a real figure, not an empty canvas


def test_a_run_without_reaches_gets_what_can_be_computed(tmp_path) -> None:
    """No successful reach (a young run): paths, speeds and PCA aligned to the go cue, the learning
    curve; jPCA and tuning null with the reason; strict JSON."""
    trials, _ = synthetic_trials()
    for trial in trials:
        trial.info = {**trial.info, "success": False}
    metrics = [{"global_step": 1000.0 * i, "episode_success": 0.0, "episode_return": -10.0 + i} for i in range(5)]
    result = analyze_trials(trials, DT, 0.01, N_TARGETS, tmp_path, "young", metrics)
    assert result["aligned_reaches"] == 0 and "only 0 successful reaches to 0 targets" in result["note"]
    assert result["jpca_r2_skew"] is None and result["tuning"] is None
    assert "3 targets" in result["unavailable"]["jpca"] and "3 targets" in result["unavailable"]["tuning"]
    assert result["pca"]["aligned_to"] == "go cue" and 0 < result["pca"]["participation_ratio"]
    saved = json.loads((tmp_path / "analysis.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert saved["kinematics"]["success_rate"] == 0.0 and saved["jpca_ratio"] is None
    for name in ("hand_paths", "speed_profiles", "learning_curve", "pca", "kinematics"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
    assert not (tmp_path / "jpca.png").exists() and not (tmp_path / "tuning.png").exists()


def test_analyze_needs_a_centre_out_run(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    small = ["--num-envs", "2", "--rollout-steps", "16", "--num-minibatches", "1", "--no-progress"]
    main(["train", "--env", "motorgym/Reach-v0", "--total-steps", "32", "--out", str(run), *small])
    with pytest.raises(SystemExit):
        main(["analyze", str(run), "--episodes", "4"])
    assert "motorgym analyze needs a centre-out task (got motorgym/Reach-v0)" in capsys.readouterr().err
