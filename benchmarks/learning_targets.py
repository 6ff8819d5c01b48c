"""Learning targets of issue 4: success within a wall-clock budget, median of seeds.

    python benchmarks/learning_targets.py --root runs/targets                # train what is missing, then report
    python benchmarks/learning_targets.py --root runs/targets --report-only  # report the runs there

For each task (CenterOut-v0: 10 minutes, target 95%; MuscleCenterOut-v0: 30 minutes, target 90%)
runs a ``motorgym sweep`` of seeds 0, 1, 2 of ``lstm-ppo`` with the default settings and that time
budget into ROOT/<task> (Ray Tune, one core per run; an interrupted sweep resumes), each run
evaluated on 200 episodes, and reports: the wall-clock time at which the rolling
training success (the last 100 training episodes, stochastic policy) first reached the target,
the deterministic evaluation's success and endpoint error, and the medians over seeds. Writes
``--out`` (Markdown).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from motorgym.train.progress import first_reaching, read_metrics
from motorgym.train.run_dir import read_evaluation
from motorgym.train.sweep import SweepSpec, sweep, trial_runs

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import sweep_benchmark_parser  # noqa: E402

TASKS = {
    "center_out": ("motorgym/CenterOut-v0", 10.0, 0.95),
    "muscle_center_out": ("motorgym/MuscleCenterOut-v0", 30.0, 0.90),
}
SEEDS = 3


def task_spec(task: str) -> SweepSpec:
    env_id, minutes, _ = TASKS[task]
    fixed = {"env_id": env_id, "minutes": minutes, "total_steps": 0}
    return SweepSpec.from_dict({"algo": "lstm-ppo", "fixed": fixed, "seeds": SEEDS, "evaluate_episodes": 200})


def summarize(root: Path) -> str:
    lines = [
        "# Learning targets (issue 4)",
        "",
        "Command: `python benchmarks/learning_targets.py --root ROOT` (a `motorgym sweep` per task: "
        "seeds 0-2 of lstm-ppo, default settings, `--minutes M`, one core each; 200 evaluation episodes).",
        "",
        "| task | seed | budget | rolling training success reached the target at | final rolling success | "
        "evaluation success (200 episodes) | endpoint error mm |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for task, (env_id, minutes, target) in TASKS.items():
        reached, evaluated = [], []
        for trial, path, done in trial_runs(root / task, task_spec(task)):
            seed = trial.seed
            if not done:
                lines.append(f"| {env_id} | {seed} | {minutes:g} min | not run or not finished | | | |")
                continue
            rows = read_metrics(path)
            hit = first_reaching(rows, target)
            evaluation = read_evaluation(path)["overall"]
            reached.append(hit["time_s"] if hit else float("inf"))
            evaluated.append(evaluation["success_rate"])
            when = f"{hit['time_s']:.0f} s ({hit['global_step'] / 1e6:.1f} M steps)" if hit else "never"
            lines.append(
                f"| {env_id} | {seed} | {minutes:g} min | {when} | {rows[-1]['episode_success']:.0%} | "
                f"{evaluation['success_rate']:.1%} | {evaluation['endpoint_error_mm']:.1f} |"
            )
        if reached:
            median = statistics.median(reached)
            met = median <= minutes * 60 and statistics.median(evaluated) >= target
            verdict = "met" if met else "not met"
            if len(reached) < SEEDS:
                verdict = f"incomplete ({len(reached)} of {SEEDS} seeds)"
            lines.append(
                f"| **{env_id} median of {len(reached)}** | | | "
                f"{'never' if median == float('inf') else f'{median:.0f} s'} | | "
                f"{statistics.median(evaluated):.1%} | target {target:.0%} within {minutes:g} min: "
                f"{verdict} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = sweep_benchmark_parser(__doc__, "runs/targets", Path(__file__).parent / "results" / "learning_targets.md")
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made, added to the report")
    args = parser.parse_args(argv)
    if not args.report_only:
        for task in TASKS:
            sweep(task_spec(task), args.root / task, address=args.address)
    report = summarize(args.root) + (f"\n{args.note}\n" if args.note else "")
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
