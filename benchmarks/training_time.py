"""Training time of the human-like torque task against today's (issue 14: "no more than 2x today's
training time to get there"), side by side in one sweep.

    python benchmarks/training_time.py --root runs/training_time                # train what is missing, report
    python benchmarks/training_time.py --root runs/training_time --report-only  # report the runs there

One ``motorgym sweep`` (Ray Tune, one core per run, two at a time on a 2-core machine; an
interrupted sweep resumes) trains seeds 0-2 of ``lstm-ppo`` on CenterOut-v0 with its defaults and on
CenterOut-v2 with its PPO setting (``benchmarks/human_likeness.py``), 2.5 M steps each, so that
both share the same machine and load. The report (``--out``, Markdown) gives for each run the
wall-clock time and the env steps at which its rolling training success (last 100 episodes,
stochastic policy) first reached 95%, the medians over seeds and their ratio, v2 over v0.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

from motorgym.train.progress import first_reaching, read_metrics
from motorgym.train.sweep import SweepSpec, sweep, trial_runs

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import command_line, machine_line, sweep_benchmark_parser  # noqa: E402
from human_likeness import TASKS  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SUCCESS = 0.95
TOTAL_STEPS = 2_500_000
SEEDS = 3
BASELINE = "motorgym/CenterOut-v0"
HUMAN_LIKE = TASKS["center_out"]


def spec() -> SweepSpec:
    conditions = [{"env_id": BASELINE}, {"env_id": HUMAN_LIKE.env_id, **HUMAN_LIKE.ppo_settings}]
    fixed = {"minutes": 0, "total_steps": TOTAL_STEPS}
    return SweepSpec.from_dict(
        {"algo": "lstm-ppo", "fixed": fixed, "conditions": conditions, "seeds": SEEDS, "evaluate_episodes": 200}
    )


def report(root: Path, argv: list[str] | None) -> str:
    lines = [
        "# Training time: CenterOut-v2 beside CenterOut-v0 (issue 14)",
        "",
        f"Command: `{command_line('training_time.py', argv)}` (one `motorgym sweep`: seeds 0-{SEEDS - 1} "
        f"of lstm-ppo on each task, {TOTAL_STEPS / 1e6:g} M steps, one core per run, two at a time).  ",
        f"Machine: {machine_line()}",
        "",
        f"Time and env steps at which the rolling training success first reached {SUCCESS:.0%}.",
        "",
        "| task | PPO settings | seed | time, s | steps, M |",
        "|---|---|---:|---:|---:|",
    ]
    medians: dict[str, tuple[float, float]] = {}
    for env_id in (BASELINE, HUMAN_LIKE.env_id):
        times, steps = [], []
        for trial, path, done in trial_runs(root, spec()):
            if trial.fields["env_id"] != env_id:
                continue
            settings = {k: v for k, v in trial.condition.items() if k != "env_id"} or "defaults"
            hit = first_reaching(read_metrics(path), SUCCESS) if done else None
            times.append(hit["time_s"] if hit else float("inf"))
            steps.append(hit["global_step"] / 1e6 if hit else float("inf"))
            when = f"{times[-1]:.0f} | {steps[-1]:.2f}" if hit else ("never | -" if done else "not finished | -")
            lines.append(f"| {env_id} | {settings} | {trial.seed} | {when} |")
        medians[env_id] = (statistics.median(times), statistics.median(steps))
        lines.append(f"| **{env_id} median** | | | {medians[env_id][0]:.0f} | {medians[env_id][1]:.2f} |")
    (base_time, base_steps), (time_, steps_) = medians[BASELINE], medians[HUMAN_LIKE.env_id]
    if all(map(math.isfinite, (base_time, base_steps, time_, steps_))):
        ratio = f"{time_ / base_time:.2f}x the wall-clock time, {steps_ / base_steps:.2f}x the env steps"
    else:
        ratio = "not measured (a median run has not reached the target)"
    lines += ["", f"**Ratio {HUMAN_LIKE.env_id} / {BASELINE}: {ratio}** (target: at most 2x today's training time)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = sweep_benchmark_parser(__doc__, "runs/training_time", RESULTS / "training_time.md")
    args = parser.parse_args(argv)
    if not args.report_only:
        sweep(spec(), args.root, address=args.address)
    text = report(args.root, argv)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
