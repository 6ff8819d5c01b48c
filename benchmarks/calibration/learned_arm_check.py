"""How far to trust a learned arm where a policy goes: the learned arm against MuJoCo on a policy's episodes.

    motorgym collect --env motorgym/MuscleCenterOut-v1 --env-kwargs '{"effort_weight": 1, "speed_weight": 0.35}' \\
      --episodes 100 --policy runs/mb --policy-fraction 1 --ou-sigma 0 --seed 5 --out det.npz
    python benchmarks/calibration/learned_arm_check.py det.npz runs/mb [runs/other_pretraining ...]

For each pretraining run (``motorgym pretrain-policy``) it runs the run's learned arm open-loop
under the episodes' recorded commands from each episode's first state and prints the medians over
episodes of: the hand's displacement from the start over the hold (the trial's start to the go cue,
at most 600 ms), real and learned; the learned peak hand speed over the real one (episodes whose
real peak exceeds 0.2 m/s) and the hand error at the episode's end. Then the run's own policy
closed-loop through its learned arm (imagined trials of its task, 128 of them) beside the same
policy in MuJoCo (100 deterministic trials), medians over the trials with a go cue: the hand's
distance from the start when the go cue comes, and the reach's peak speed, peak/mean speed and
reaction time (``motorgym evaluate``'s measures; an imagined trial runs on to its end step where
MuJoCo's ends at success).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
import torch

from motorgym.agents.rollout import rollout
from motorgym.envs.registration import check_env_arguments
from motorgym.train import kinds
from motorgym.train.analysis.kinematics import reach_kinematics
from motorgym.train.collect import TrajectoryDataset, load_dataset
from motorgym.train.model_based import TrialSource, imagine, load_learned_arm

HOLD_STEPS_MAX = 60


def open_loop(data: TrajectoryDataset, arm: torch.nn.Module) -> dict[str, float]:
    config = check_env_arguments(data.metadata["env_id"], data.metadata["env_kwargs"])
    cue_lag = round((config.go_cue_latency_ms + config.visual_delay_ms) / config.control_step_ms)
    seen_cue = data.observations[:, :, data.metadata["observation_names"].index("go_cue")] > 0
    speed = np.linalg.norm(data.hand_vel_m_s(), axis=-1)
    drift_real, drift_arm, peak_ratio, final_mm = [], [], [], []
    for e, length in enumerate(data.lengths):
        with torch.no_grad():
            commands = torch.as_tensor(data.actions[e, :length])[:, None]
            hand = arm.unroll(torch.as_tensor(data.states[e, 0])[None], commands)[:, 0, :2].numpy()
        hand = np.r_[data.states[e, :1, :2], hand]
        seen = np.flatnonzero(seen_cue[e, :length])
        hold = min(seen[0] - cue_lag if len(seen) else length, HOLD_STEPS_MAX)
        if hold > 0:
            drift_real.append(np.linalg.norm(data.states[e, hold, :2] - data.states[e, 0, :2]) * 1000)
            drift_arm.append(np.linalg.norm(hand[hold] - hand[0]) * 1000)
        if speed[e].max() > 0.2:
            learned_speed = np.linalg.norm(np.diff(hand, axis=0), axis=-1) / data.dt_s
            peak_ratio.append(learned_speed.max() / speed[e, : length + 1].max())
        final_mm.append(np.linalg.norm(hand[-1] - data.states[e, length, :2]) * 1000)
    return {
        "hold drift real mm": np.median(drift_real),
        "hold drift learned mm": np.median(drift_arm),
        "peak speed learned/real": np.median(peak_ratio),
        "final hand error mm": np.median(final_mm),
    }


class RecordingArm(torch.nn.Module):
    def __init__(self, arm: torch.nn.Module) -> None:
        super().__init__()
        self.arm, self.hands = arm, []

    def forward(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        following = self.arm(state, command)
        self.hands.append(following[:, :2])
        return following


def reach_measures(hands: list[np.ndarray], targets: list[np.ndarray], cues: list[int], step_s: float, radius_m: float):
    """Medians of the distance from the start at the go cue (mm) and of the reaches' measures."""
    at_cue = [np.linalg.norm(h[c] - h[0]) * 1000 for h, c in zip(hands, cues, strict=True)]
    reaches = [
        asdict(reach_kinematics(h, t, c, step_s, radius_m)) for h, t, c in zip(hands, targets, cues, strict=True)
    ]
    measure = lambda name: np.nanmedian([r[name] for r in reaches])  # noqa: E731
    return [np.median(at_cue), measure("peak_speed_m_s"), measure("peak_to_mean_speed"), measure("reaction_time_ms")]


def closed_loop(run_dir: str, arm: torch.nn.Module) -> dict[str, float]:
    loaded = kinds.load_agent(run_dir)
    config = check_env_arguments(loaded.env_id, loaded.env_kwargs)
    step_s, radius_m = config.control_step_ms / 1000, config.target_radius_m
    real = [e for e in rollout(loaded.env_id, loaded.env_kwargs, loaded.agent, 100, seed=7) if any(e.go)]
    real_hands = [np.array(e.hand_pos) for e in real]
    real_targets = [np.asarray(e.info["target_pos"]) for e in real]
    source = TrialSource(loaded.env_id, loaded.env_kwargs, 128, torch.device("cpu"))
    trials, recorder = source.draw(np.random.default_rng(3)), RecordingArm(arm)
    torch.manual_seed(0)
    with torch.no_grad():
        imagine(loaded.agent.policy, recorder, trials, source)
    source.close()
    hands = torch.cat([trials.start_state[None, :, :2], torch.stack(recorder.hands)]).numpy()
    go = trials.go_cue.numpy() > 0
    with_cue = np.flatnonzero(go[-1])
    targets = trials.target_pos.numpy()
    imagined = reach_measures(
        [hands[:, b] for b in with_cue],
        [targets[b] for b in with_cue],
        list(go[:, with_cue].argmax(axis=0)),
        step_s,
        radius_m,
    )
    real_measures = reach_measures(real_hands, real_targets, [e.go.index(True) for e in real], step_s, radius_m)
    names = ("from start at the cue mm", "peak speed m/s", "peak/mean", "reaction time ms")
    return {
        f"{name} {where}": value
        for name, ours, theirs in zip(names, real_measures, imagined, strict=True)
        for where, value in (("real", ours), ("imagined", theirs))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="episodes of a policy (motorgym collect --policy ... --ou-sigma 0)")
    parser.add_argument("runs", nargs="+", help="pretraining runs (motorgym pretrain-policy)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    for run_dir in args.runs:
        arm, _ = load_learned_arm(run_dir)
        measures = {**open_loop(data, arm), **closed_loop(run_dir, arm)}
        print(f"{run_dir} ({arm.structure}): " + "; ".join(f"{k} {v:.3g}" for k, v in measures.items()), flush=True)


if __name__ == "__main__":
    main()
