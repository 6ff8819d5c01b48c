"""Model-based pretraining with data aggregation: rounds of collect-with-the-policy, then pretrain again.

A policy trained through a learned arm goes where the arm's data did not (docs/pretraining.md):
each round collects episodes with the latest policy (``motorgym collect --policy``), fits the
learned arm afresh on all the data so far and goes on training the policy through it
(``motorgym pretrain-policy --more-data ... --init-from``). Every step is a motorgym command,
printed before it runs; a step whose output exists is skipped, so the same command resumes.

    python benchmarks/calibration/data_aggregation.py --root /work/runs/agg_s0 --seed 0 \\
      --env motorgym/MuscleCenterOut-v1 --env-kwargs '{"effort_weight": 1, "speed_weight": 0.35}' \\
      --data data/m_s0.npz --rounds 3

Round 0 is the pretraining on ``--data`` alone (or ``--init-from``, an existing one). At the end it
prints each round's success and distance in MuJoCo (the pretraining's own last evaluation).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from motorgym.train.run_dir import CONFIG, PRETRAINED_POLICY


def run(argv: list[str], done: Path) -> None:
    """Run a motorgym command unless its output ``done`` exists."""
    if done.exists():
        print(f"# skipped (exists: {done}): motorgym {shlex.join(argv)}", flush=True)
        return
    print(f"motorgym {shlex.join(argv)}", flush=True)
    subprocess.run([sys.executable, "-m", "motorgym.train.cli", *argv], check=True)


def summary_line(run_dir: Path) -> str:
    """The last MuJoCo evaluation of a pretraining run, from its metrics.csv."""
    rows = [line.split(",") for line in (run_dir / "metrics.csv").read_text().splitlines()]
    header, evaluated = rows[0], [row for row in rows[1:] if row[rows[0].index("real_success")] != "nan"]
    last = dict(zip(header, evaluated[-1], strict=True))
    return f"{float(last['real_success']):.0%} success, final distance {float(last['real_final_distance_mm']):.1f} mm"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="directory of the data files and runs")
    parser.add_argument("--env", required=True)
    parser.add_argument("--env-kwargs", default="{}", metavar="JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True, help="the first data file (motorgym collect)")
    parser.add_argument("--init-from", type=Path, help="an existing round-0 pretraining (else one is made)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of collecting with the policy")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes collected per round")
    parser.add_argument("--ou-sigma", type=float, default=0.05, help="exploration on top of the policy")
    parser.add_argument("--first-policy-iterations", type=int, default=1000)
    parser.add_argument("--policy-iterations", type=int, default=500, help="per later round")
    parser.add_argument("--arm-iterations", type=int, default=4000)
    args = parser.parse_args(argv)
    json.loads(args.env_kwargs)  # fail early on bad JSON
    args.root.mkdir(parents=True, exist_ok=True)
    common = ["--bounded-action-mean", "--seed", str(args.seed), "--no-progress"]
    arm = ["--arm-iterations", str(args.arm_iterations)]
    latest = args.init_from or args.root / "round0"
    if args.init_from is None:
        first = ["--policy-iterations", str(args.first_policy_iterations)]
        run(
            ["pretrain-policy", "--data", str(args.data), *arm, *first, *common, "--out", str(latest)],
            latest / PRETRAINED_POLICY,
        )
    data = [str(args.data)]
    rounds = [latest]
    for r in range(1, args.rounds + 1):
        collected = args.root / f"round{r}.npz"
        collect = ["collect", "--env", args.env, "--env-kwargs", args.env_kwargs, "--episodes", str(args.episodes)]
        policy = ["--policy", str(latest), "--policy-fraction", "1", "--ou-sigma", str(args.ou_sigma)]
        run([*collect, *policy, "--seed", str(1000 * args.seed + r), "--out", str(collected)], collected)
        data.append(str(collected))
        out = args.root / f"round{r}"
        more = ["--more-data", *data[1:], "--init-from", str(latest)]
        later = ["--policy-iterations", str(args.policy_iterations)]
        run(
            ["pretrain-policy", "--data", data[0], *more, *arm, *later, *common, "--out", str(out)],
            out / PRETRAINED_POLICY,
        )
        latest = out
        rounds.append(out)
    for r, run_dir in enumerate(rounds):
        if (run_dir / CONFIG).exists():
            print(f"round {r} ({run_dir}): {summary_line(run_dir)}")


if __name__ == "__main__":
    main()
