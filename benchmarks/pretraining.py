"""Does trajectory-prediction pretraining speed up control learning? Env steps to 90% success,
from scratch against ``--init-from`` a pretrained trajectory predictor.

    python benchmarks/pretraining.py --root runs/pretraining --tasks center_out --seeds 0 1 2
    python benchmarks/pretraining.py --root runs/pretraining --tasks muscle_center_out --seeds 0
    python benchmarks/pretraining.py --root runs/pretraining --report-only

For each task: ``motorgym collect`` (``--episodes`` episodes, half driven by the scripted reacher,
all with Ornstein-Uhlenbeck commands), ``motorgym pretrain`` (LSTM 128, the policy's size; hand
position and velocity 10 steps ahead), then for each seed ``motorgym train`` from scratch and
``--init-from`` the predictor, with the same step cap, two runs at a time with one core each.
Reports, per run, the env steps and wall-clock time at which the rolling training success (last
100 training episodes) first reached 90%, the medians and their ratio (target: >= 30% fewer
steps), the predictor's validation errors beside constant-velocity extrapolation, and plots
success against env steps (``results/pretraining.png``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import machine_line  # noqa: E402
from runner import finished, run_in_parallel, train_command  # noqa: E402

from motorgym.agents.checkpoint import load_checkpoint  # noqa: E402
from motorgym.train.runs import read_metrics  # noqa: E402

#: env id, step cap (about 1.5-2x the steps scratch runs need) and extra train options per task.
#: The muscle task learns slower than a learning rate annealed to 0 over 7 M steps allows (a first
#: pair of runs with annealing reached only 52% / 58% rolling success by 7 M), so it runs at a
#: constant learning rate, as the learning-target runs (wall-clock budget, 1e12-step horizon) did.
TASKS = {
    "center_out": ("motorgym/CenterOut-v0", 2_500_000, ()),
    "muscle_center_out": ("motorgym/MuscleCenterOut-v0", 7_000_000, ("--no-anneal-lr",)),
}
THRESHOLD = 0.90
CONDITIONS = ("scratch", "pretrained")
RESULTS = Path(__file__).parent / "results"
PRETRAIN_OPTIONS = ["--epochs", "40", "--patience", "5", "--horizon-steps", "10", "--torch-threads", "1"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "motorgym.train.cli", *args]


def prepare(root: Path, task: str, episodes: int) -> Path:
    """Collect the data and pretrain the predictor of a task (once); return the pretraining run."""
    env_id = TASKS[task][0]
    data, pretrained = root / task / "data.npz", root / task / "predictor"
    if not data.exists():
        command = ["collect", "--env", env_id, "--episodes", str(episodes), "--scripted-fraction", "0.5"]
        subprocess.run(cli(*command, "--out", str(data)), check=True)
    if not (pretrained / "predictor.pt").exists():
        subprocess.run(cli("pretrain", "--data", str(data), "--out", str(pretrained), *PRETRAIN_OPTIONS), check=True)
    return pretrained


def run_dir(root: Path, task: str, condition: str, seed: int) -> Path:
    return root / task / f"{condition}_seed{seed}"


def reached(rows: list[dict[str, float]]) -> tuple[float, float]:
    """(env steps, seconds) at which rolling success first reached THRESHOLD (inf if never)."""
    hit = next((r for r in rows if r["episode_success"] >= THRESHOLD), None)
    return (hit["global_step"], hit["time_s"]) if hit else (math.inf, math.inf)


def report(root: Path, seeds: list[int]) -> str:
    lines = [
        "# Trajectory-prediction pretraining: env steps to 90% success",
        "",
        f"Command: `python benchmarks/pretraining.py --root ROOT --tasks TASK --seeds {' '.join(map(str, seeds))}`  ",
        f"Machine: {machine_line()}; torch {torch.__version__}; two runs at a time, one core each.",
        "",
        "| task | predictor: hand position error 10 steps ahead (validation) | constant-velocity extrapolation |",
        "|---|---:|---:|",
    ]
    for task, (env_id, _, _) in TASKS.items():
        path = root / task / "predictor" / "predictor.pt"
        if path.exists():
            meta = load_checkpoint(path)[1]
            lines.append(
                f"| {env_id} | {meta['best']['position_rmse_mm']:.1f} mm, {meta['best']['velocity_rmse_mm_s']:.0f} "
                f"mm/s (epoch {meta['best']['epoch']}) | {meta['baseline']['position_rmse_mm']:.1f} mm, "
                f"{meta['baseline']['velocity_rmse_mm_s']:.0f} mm/s |"
            )
    lines += [
        "",
        "| task | condition | seed | step cap | env steps to 90% | time to 90% | final rolling success |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    summary = []
    for task, (env_id, cap, _) in TASKS.items():
        medians = {}
        for condition in CONDITIONS:
            steps = []
            for seed in seeds:
                path = run_dir(root, task, condition, seed)
                if not finished(path):
                    continue
                rows = read_metrics(path)
                at_steps, at_s = reached(rows)
                steps.append(at_steps)
                shown = "never" if math.isinf(at_steps) else f"{at_steps / 1e6:.2f} M"
                when = "never" if math.isinf(at_s) else f"{at_s:.0f} s"
                lines.append(
                    f"| {env_id} | {condition} | {seed} | {cap / 1e6:.1f} M | {shown} | {when} | "
                    f"{rows[-1]['episode_success']:.0%} |"
                )
            if steps:
                medians[condition] = (statistics.median(steps), len(steps))
        if len(medians) == 2 and not math.isinf(medians["scratch"][0]):
            ratio = medians["pretrained"][0] / medians["scratch"][0]
            summary.append(
                f"| {env_id} | {medians['scratch'][0] / 1e6:.2f} M ({medians['scratch'][1]} seeds) | "
                f"{medians['pretrained'][0] / 1e6:.2f} M ({medians['pretrained'][1]} seeds) | {ratio:.2f} | "
                f"{'met' if ratio <= 0.7 else 'not met'} |"
            )
    lines += [
        "",
        "| task | scratch: median steps to 90% | pretrained | ratio | target (<= 0.70) |",
        "|---|---:|---:|---:|---|",
        *summary,
    ]
    return "\n".join(lines) + "\n"


def plot(root: Path, seeds: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(TASKS), figsize=(5.5 * len(TASKS), 4), squeeze=False)
    colors = {"scratch": "tab:gray", "pretrained": "tab:purple"}
    for axis, (task, (env_id, _, _)) in zip(axes[0], TASKS.items(), strict=True):
        for condition in CONDITIONS:
            for k, seed in enumerate(seeds):
                path = run_dir(root, task, condition, seed)
                if finished(path):
                    rows = read_metrics(path)
                    axis.plot(
                        [r["global_step"] / 1e6 for r in rows],
                        [100 * r["episode_success"] for r in rows],
                        color=colors[condition],
                        label=condition if k == 0 else None,
                    )
        axis.axhline(100 * THRESHOLD, color="black", lw=0.8, ls=":")
        axis.set(xlabel="environment steps (millions)", ylabel="rolling training success (%)", title=env_id)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/pretraining"))
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=1000, help="episodes collected per task")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made, added to the report")
    args = parser.parse_args(argv)
    if not args.report_only:
        commands = []
        for task in args.tasks:
            env_id, cap, options = TASKS[task]
            predictor = prepare(args.root, task, args.episodes)
            for seed in args.seeds:
                for condition in CONDITIONS:
                    path = run_dir(args.root, task, condition, seed)
                    extra = (*options, *(("--init-from", str(predictor)) if condition == "pretrained" else ()))
                    if not path.exists():
                        one_core = args.parallel > 1
                        commands.append(train_command(env_id, "lstm-ppo", 60, seed, path, one_core, cap, extra))
        run_in_parallel(commands, args.parallel)
    all_seeds = sorted({int(p.name.rsplit("seed", 1)[1]) for p in args.root.glob("*/*_seed*")}) or args.seeds
    text = report(args.root, all_seeds) + (f"\n{args.note}\n" if args.note else "")
    plot(args.root, all_seeds, RESULTS / "pretraining.png")
    text += "\n![success against env steps](pretraining.png)\n"
    (RESULTS / "pretraining.md").write_text(text)
    (RESULTS / "runs").mkdir(exist_ok=True)
    for path in args.root.glob("*/*_seed*"):
        if finished(path):
            (RESULTS / "runs" / f"pretraining_{path.parent.name}_{path.name}_metrics.csv").write_bytes(
                (path / "metrics.csv").read_bytes()
            )
    print(text)
    print(json.dumps({"report": str(RESULTS / "pretraining.md")}))


if __name__ == "__main__":
    main()
