"""Evaluate a trained run: roll out episodes and report the kinematic measures of the field.

    motorgym evaluate runs/center_out --episodes 200 --json results.json

One code path for every kind of agent: anything with ``reset(num_envs)`` and
``act(obs, episode_start) -> actions`` (:class:`Agent`); :func:`load_agent` builds one from a run
directory. Results (overall and per target) go to ``evaluation.json`` in the run directory.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from motorgym.agents.recurrent import RecurrentActorCritic
from motorgym.envs.batched import env_info
from motorgym.train.analysis.kinematics import reach_kinematics
from motorgym.train.runs import CONFIG_NAME, SB3_ALGOS, read_run_config

EVALUATION_NAME = "evaluation.json"
#: The measures reported overall, for catch trials and per target (in the table's column order).
MEASURES = (
    "success_rate",
    "endpoint_error_mm",
    "reaction_time_ms",
    "movement_time_ms",
    "peak_to_mean_speed",
    "path_linearity",
    "false_start_rate",
)


class Agent(Protocol):
    def reset(self, num_envs: int) -> None: ...

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray: ...

    def hidden_state(self) -> np.ndarray | None:
        """(num_envs, units) recurrent hidden state after the last ``act`` (None: no recurrent state)."""
        ...


class RecurrentAgent:
    """A :class:`RecurrentActorCritic` that keeps its recurrent state between calls."""

    def __init__(self, policy: RecurrentActorCritic, deterministic: bool = True) -> None:
        self.policy, self.deterministic = policy, deterministic
        self.state: torch.Tensor | None = None

    def reset(self, num_envs: int) -> None:
        self.state = self.policy.initial_state(num_envs)

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        assert self.state is not None, "reset() first"
        actions, self.state = self.policy.act(obs, self.state, episode_start, self.deterministic)
        return actions

    def hidden_state(self) -> np.ndarray | None:
        """The cell's output h (an LSTM's state is [h, c])."""
        return None if self.state is None else self.state[:, : self.policy.hidden_size].cpu().numpy()


@dataclass
class Episode:
    """One evaluated trial: per-step hand positions and the trial's facts."""

    hand_pos: list[np.ndarray] = field(default_factory=list)
    go: list[bool] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    hidden: list[np.ndarray] = field(default_factory=list)
    """The agent's hidden state after acting on each step's observation (if it has one)."""


def rollout(
    env_id: str, env_kwargs: dict[str, Any], agent: Agent, episodes: int, seed: int = 0, max_envs: int = 50
) -> list[Episode]:
    """Run ``episodes`` episodes, the same number in each of up to ``max_envs`` parallel envs (so
    that short episodes are not over-represented), and return them."""
    num_envs = min(episodes, max_envs)
    per_env = math.ceil(episodes / num_envs)
    envs = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        **env_kwargs,
    )
    obs, info = envs.reset(seed=seed)
    agent.reset(num_envs)
    current = [Episode() for _ in range(num_envs)]
    for i in range(num_envs):
        current[i].hand_pos.append(info["hand_pos"][i].copy())
        current[i].go.append(bool(info["go_cue"][i]))
    done_by_env: list[list[Episode]] = [[] for _ in range(num_envs)]
    start = np.ones(num_envs, dtype=np.float32)
    while min(len(d) for d in done_by_env) < per_env:
        actions = agent.act(obs, start)
        hidden = agent.hidden_state() if hasattr(agent, "hidden_state") else None
        obs, _, terminated, truncated, info = envs.step(actions)
        ended = terminated | truncated
        for i in range(num_envs):
            if hidden is not None:
                current[i].hidden.append(hidden[i].copy())
            row = env_info(info["final_info"], i) if ended[i] else env_info(info, i)
            current[i].hand_pos.append(row["hand_pos"])
            current[i].go.append(bool(row["go_cue"]))
            if ended[i]:
                current[i].info = row
                done_by_env[i].append(current[i])
                current[i] = Episode([info["hand_pos"][i].copy()], [bool(info["go_cue"][i])])
        start = ended.astype(np.float32)
    envs.close()
    return [episode for per in done_by_env for episode in per[:per_env]][:episodes]


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
        return {
            "episodes": len(selected),
            "success_rate": _mean([float(r["success"]) for r in selected]),
            "endpoint_error_mm": _mean([r.get("endpoint_error_mm", math.nan) for r in reaches]),
            "reaction_time_ms": _mean([r.get("reaction_time_ms", math.nan) for r in reaches]),
            "movement_time_ms": _mean([r.get("movement_time_ms", math.nan) for r in reaches]),
            "peak_to_mean_speed": _mean([r.get("peak_to_mean_speed", math.nan) for r in reaches]),
            "path_linearity": _mean([r.get("path_linearity", math.nan) for r in reaches]),
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
    header = ["", "n", "success", "endpoint mm", "RT ms", "MT ms", "peak/mean", "linearity", "false start"]
    keys = ["episodes", *MEASURES]
    formats = ["{:.0f}", "{:.1%}", "{:.1f}", "{:.0f}", "{:.0f}", "{:.3f}", "{:.3f}", "{:.1%}"]

    def line(name: str, m: dict[str, float]) -> list[str]:
        return [name] + ["-" if math.isnan(m[k]) else f.format(m[k]) for k, f in zip(keys, formats, strict=True)]

    lines = [line("overall", results["overall"])]
    if results.get("catch_trials"):
        lines.append(line("catch trials", results["catch_trials"]))
    lines += [line(f"target {t}", m) for t, m in results["per_target"].items()]
    widths = [max(len(row[c]) for row in [header, *lines]) for c in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *lines])


def load_agent(run_dir: str | Path, device: str = "cpu") -> tuple[Agent, str, dict[str, Any]]:
    """(agent, env id, env kwargs) of a run directory of any algorithm."""
    algo = read_run_config(run_dir)["algo"] if (Path(run_dir) / CONFIG_NAME).exists() else None
    if algo in SB3_ALGOS:
        from motorgym.train import baselines

        return baselines.load_agent(run_dir, device=device)
    if algo == "model-based":
        from motorgym.train.model_based import load_pretrained_policy

        pretrained, meta = load_pretrained_policy(run_dir, device=device)
        return RecurrentAgent(pretrained), meta["env_id"], dict(meta["env_kwargs"])
    from motorgym.train.ppo import load_policy

    policy, config = load_policy(run_dir, device=device)
    return RecurrentAgent(policy), config.env_id, dict(config.env_kwargs)


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
    agent, env_id, env_kwargs = load_agent(run_dir, device)
    probe = gym.make(env_id, **env_kwargs).unwrapped
    dt_s, radius = probe.config.control_step_ms / 1000, probe.config.target_radius_m
    results = {
        "env_id": env_id,
        "episodes": episodes,
        "seed": seed,
        **summarize(rollout(env_id, env_kwargs, agent, episodes, seed), dt_s, radius),
    }
    text = json.dumps(results, indent=2, allow_nan=True) + "\n"
    (run_dir / EVALUATION_NAME).write_text(text)
    if json_path is not None:
        Path(json_path).write_text(text)
    return results
