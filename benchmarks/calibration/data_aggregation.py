"""Model-based pretraining with data aggregation: rounds of collect-with-the-policy, then pretrain again.

A policy trained through a learned arm goes where the arm's data did not (docs/pretraining.md):
each round collects episodes with the best policy so far (``motorgym collect --policy``), fits the
learned arm afresh on all the data so far and trains the policy through it (``motorgym
pretrain-policy --more-data ...``). Every step is a motorgym command, printed before it runs; a step
whose output exists is skipped, so the same command resumes.

    python benchmarks/calibration/data_aggregation.py --root /work/runs/agg_s0 --seed 0 \\
      --env motorgym/MuscleCenterOut-v1 --env-kwargs '{"effort_weight": 1, "speed_weight": 0.35}' \\
      --data data/m_s0.npz --rounds 4
    python benchmarks/calibration/data_aggregation.py --root /work/runs/agg2_s0 --seed 0 \\
      --env motorgym/MuscleCenterOut-v2 --data data/m2_s0.npz --command-bias-std 0.01 \\
      --activity-l2 0.1 --activity-change-l2 30      # the learner's activity regularisation, every round

Round 0 is the pretraining on ``--data`` alone (or ``--init-from``, an existing one). Round 1 trains
its policy from scratch (``--first-policy-iterations``) on the data and round 0's episodes: round 0's
policy was trained through an arm that had not seen where it goes, and starting from it carried its
errors on (calibration record, ``muscle5``). Later rounds go on from the best policy so far
(``--init-from``, ``--policy-iterations``). Each round is evaluated on 200 deterministic trials
(``motorgym evaluate``): success does not rise steadily from round to round, so the best round is
kept (``best.json`` in ``--root``), the next round starts from it, and the loop stops after
``--patience`` rounds without a better one.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from motorgym.train.run_dir import EVALUATION, PRETRAINED_POLICY, write_json


def command(argv: list[str]) -> None:
    print(f"motorgym {shlex.join(argv)}", flush=True)
    subprocess.run([sys.executable, "-m", "motorgym.train.cli", *argv], check=True)


def run(argv: list[str], done: Path) -> None:
    """Run a motorgym command unless its output ``done`` exists."""
    if done.exists():
        print(f"# skipped (exists: {done}): motorgym {shlex.join(argv)}", flush=True)
        return
    command(argv)


def evaluated(run_dir: Path, episodes: int) -> dict[str, float]:
    """The round's evaluation on ``episodes`` deterministic trials (motorgym evaluate, unless the
    run's evaluation.json already has that many)."""
    path = run_dir / EVALUATION
    if not path.exists() or json.loads(path.read_text())["episodes"] != episodes:
        command(["evaluate", str(run_dir), "--episodes", str(episodes)])
    return json.loads(path.read_text())["overall"]


def summary_line(r: int, run_dir: Path, overall: dict[str, float]) -> str:
    keys = ("success_rate", "false_start_rate", "reaction_time_ms", "movement_time_ms", "peak_speed_m_s")
    values = ", ".join(f"{k} {overall[k]:.3g}" if overall.get(k) is not None else f"{k} -" for k in keys)
    return f"round {r} ({run_dir}): {values}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="directory of the data files and runs")
    parser.add_argument("--env", required=True)
    parser.add_argument("--env-kwargs", default="{}", metavar="JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True, help="the first data file (motorgym collect)")
    parser.add_argument("--init-from", type=Path, help="an existing round-0 pretraining (else one is made)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of collecting with the policy, at most")
    parser.add_argument("--patience", type=int, default=2, help="stop after this many rounds without a better one")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes collected per round")
    parser.add_argument("--eval-episodes", type=int, default=200, help="deterministic trials judging each round")
    parser.add_argument("--first-ou-sigma", type=float, default=0.1, help="exploration on round 0's policy")
    parser.add_argument("--ou-sigma", type=float, default=0.05, help="exploration on later rounds' policies")
    parser.add_argument("--first-policy-iterations", type=int, default=1000, help="rounds 0 and 1 (from scratch)")
    parser.add_argument("--policy-iterations", type=int, default=500, help="per later round")
    parser.add_argument("--arm-iterations", type=int, default=4000)
    parser.add_argument("--arm-model", default="affine", help="pretrain-policy --arm-model")
    parser.add_argument("--command-bias-std", type=float, default=0.0, help="pretrain-policy --command-bias-std")
    parser.add_argument("--activity-l2", type=float, default=0.0, help="pretrain-policy --activity-l2")
    parser.add_argument("--activity-change-l2", type=float, default=0.0, help="pretrain-policy --activity-change-l2")
    args = parser.parse_args(argv)
    json.loads(args.env_kwargs)  # fail early on bad JSON
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    common = ["--bounded-action-mean", "--seed", str(args.seed), "--no-progress"]
    common += ["--command-bias-std", str(args.command_bias_std)]
    common += ["--activity-l2", str(args.activity_l2), "--activity-change-l2", str(args.activity_change_l2)]
    arm = ["--arm-iterations", str(args.arm_iterations), "--arm-model", args.arm_model]
    first_iterations = ["--policy-iterations", str(args.first_policy_iterations)]
    best = args.init_from or args.root / "round0"
    if args.init_from is None:
        out = ["--out", str(best)]
        run(
            ["pretrain-policy", "--data", str(args.data), *arm, *first_iterations, *common, *out],
            best / PRETRAINED_POLICY,
        )
    scores = {0: evaluated(best, args.eval_episodes)}
    print(summary_line(0, best, scores[0]), flush=True)
    best_round, data = 0, [str(args.data)]
    for r in range(1, args.rounds + 1):
        if r - best_round > args.patience:
            print(f"stopped: {args.patience} rounds without a better one", flush=True)
            break
        collected = args.root / f"round{r}.npz"
        collect = ["collect", "--env", args.env, "--env-kwargs", args.env_kwargs, "--episodes", str(args.episodes)]
        sigma = args.first_ou_sigma if r == 1 else args.ou_sigma
        policy = ["--policy", str(best), "--policy-fraction", "1", "--ou-sigma", str(sigma)]
        run([*collect, *policy, "--seed", str(1000 * args.seed + r), "--out", str(collected)], collected)
        data.append(str(collected))
        out = args.root / f"round{r}"
        start = (
            first_iterations
            if r == 1
            else ["--init-from", str(best), "--policy-iterations", str(args.policy_iterations)]
        )
        pretrain = ["pretrain-policy", "--data", data[0], "--more-data", *data[1:], *arm, *start, *common]
        run([*pretrain, "--out", str(out)], out / PRETRAINED_POLICY)
        scores[r] = evaluated(out, args.eval_episodes)
        print(summary_line(r, out, scores[r]), flush=True)
        if scores[r]["success_rate"] > scores[best_round]["success_rate"]:
            best_round, best = r, out
    write_json(args.root / "best.json", {"round": best_round, "run_dir": str(best), **scores[best_round]})
    print(f"best: round {best_round} ({best}), success {scores[best_round]['success_rate']:.1%}", flush=True)


if __name__ == "__main__":
    main()
