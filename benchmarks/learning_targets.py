"""Learning targets of issue 4: success within a wall-clock budget, median of seeds.

    python benchmarks/learning_targets.py --root runs/targets                # train what is missing, then report
    python benchmarks/learning_targets.py --root runs/targets --parallel 2   # two runs at a time, one core each

For each task (CenterOut-v0: 10 minutes, target 95%; MuscleCenterOut-v0: 30 minutes, target 90%)
and seed (0, 1, 2), trains ``motorgym train --env ID --minutes M --seed S`` with the default settings
into ROOT/<task>_seed<S> unless that run is already complete, evaluates it
(``motorgym evaluate``, 200 episodes), and reports: the wall-clock time at which the rolling
training success (the last 100 training episodes, stochastic policy) first reached the target,
the deterministic evaluation's success and endpoint error, and the medians over seeds. Writes
``--out`` (Markdown).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from runner import complete, evaluate_finished, run_in_parallel, train_command  # noqa: E402

from motorgym.train.run_dir import EVALUATION, METRICS  # noqa: E402

TASKS = {
    "center_out": ("motorgym/CenterOut-v0", 10.0, 0.95),
    "muscle_center_out": ("motorgym/MuscleCenterOut-v0", 30.0, 0.90),
}
SEEDS = (0, 1, 2)


def run_dir(root: Path, task: str, seed: int) -> Path:
    return root / f"{task}_seed{seed}"


def train_missing(root: Path, parallel: int) -> None:
    pending = [(t, s) for t in TASKS for s in SEEDS if not run_dir(root, t, s).exists()]
    commands = [
        train_command(TASKS[t][0], "lstm-ppo", TASKS[t][1], s, run_dir(root, t, s), one_core=parallel > 1)
        for t, s in pending
    ]
    run_in_parallel(commands, parallel)


def summarize(root: Path) -> str:
    lines = [
        "# Learning targets (issue 4)",
        "",
        "Command: `python benchmarks/learning_targets.py --root ROOT` (trains with "
        "`motorgym train --env ID --minutes M --seed S`, default settings, then "
        "`motorgym evaluate RUN --episodes 200`).",
        "",
        "| task | seed | budget | rolling training success reached the target at | final rolling success | "
        "evaluation success (200 episodes) | endpoint error mm |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for task, (env_id, minutes, target) in TASKS.items():
        reached, evaluated = [], []
        for seed in SEEDS:
            path = run_dir(root, task, seed)
            if not complete(path):
                lines.append(f"| {env_id} | {seed} | {minutes:g} min | not run or not finished | | | |")
                continue
            with open(path / METRICS, newline="") as file:
                rows = list(csv.DictReader(file))
            hit = next((r for r in rows if float(r["episode_success"]) >= target), None)
            evaluation = json.loads((path / EVALUATION).read_text())["overall"]
            reached.append(float(hit["time_s"]) if hit else float("inf"))
            evaluated.append(evaluation["success_rate"])
            when = f"{float(hit['time_s']):.0f} s ({int(hit['global_step']) / 1e6:.1f} M steps)" if hit else "never"
            lines.append(
                f"| {env_id} | {seed} | {minutes:g} min | {when} | {float(rows[-1]['episode_success']):.0%} | "
                f"{evaluation['success_rate']:.1%} | {evaluation['endpoint_error_mm']:.1f} |"
            )
        if reached:
            median = statistics.median(reached)
            met = median <= minutes * 60 and statistics.median(evaluated) >= target
            verdict = "met" if met else "not met"
            if len(reached) < len(SEEDS):
                verdict = f"incomplete ({len(reached)} of {len(SEEDS)} seeds)"
            lines.append(
                f"| **{env_id} median of {len(reached)}** | | | "
                f"{'never' if median == float('inf') else f'{median:.0f} s'} | | "
                f"{statistics.median(evaluated):.1%} | target {target:.0%} within {minutes:g} min: "
                f"{verdict} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/targets"), help="where the runs live")
    parser.add_argument("--parallel", type=int, default=1, help="training runs at a time")
    parser.add_argument("--report-only", action="store_true", help="do not train; report the runs found")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "learning_targets.md")
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made, added to the report")
    args = parser.parse_args(argv)
    if not args.report_only:
        train_missing(args.root, args.parallel)
    evaluate_finished([run_dir(args.root, t, s) for t in TASKS for s in SEEDS])
    report = summarize(args.root) + (f"\n{args.note}\n" if args.note else "")
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
