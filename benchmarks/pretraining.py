"""Does pretraining speed up control learning? Env steps to 90% success, from scratch against
``--init-from`` each pretraining variant: a trajectory predictor (motorgym pretrain) and a policy
trained by backpropagation through a learned arm (motorgym pretrain-policy).

    python benchmarks/pretraining.py --root runs/pretraining --tasks center_out --seeds 3
    python benchmarks/pretraining.py --root runs/pretraining --tasks muscle_center_out --seeds 1
    python benchmarks/pretraining.py --root runs/pretraining --conditions model_based --seeds 3
    python benchmarks/pretraining.py --root runs/pretraining --report-only

For each task: ``motorgym collect`` (``--episodes`` episodes, half driven by the scripted reacher,
all with Ornstein-Uhlenbeck commands), ``motorgym pretrain`` (LSTM 128, the policy's size; hand
position and velocity 10 steps ahead) and ``motorgym pretrain-policy`` (PRETRAIN_POLICY_OPTIONS), once per task;
then a ``motorgym sweep`` per condition of ``--seeds`` seeds of ``lstm-ppo`` from scratch and
``init_from`` each pretraining, with the same step cap (Ray Tune, as many runs at a time as cores,
one core each; an interrupted sweep resumes); runs stop once they reach 90% (``stop_success``,
added after the first runs, which ran to the cap). Reports, per run, the env steps and wall-clock time at
which the rolling training success (last 100 training episodes) first reached 90%, the medians and
their ratio to scratch (target: >= 30% fewer steps), what the pretraining cost (env steps collected
or evaluated, wall-clock), the predictor's and the learned arm's validation errors beside their
naive references, and plots success against env steps (``results/pretraining.png``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import machine_line  # noqa: E402

from motorgym.agents.checkpoint import load_checkpoint  # noqa: E402
from motorgym.train.kinds import KINDS  # noqa: E402
from motorgym.train.progress import read_metrics  # noqa: E402
from motorgym.train.run_dir import METRICS  # noqa: E402
from motorgym.train.sweep import SweepSpec, sweep  # noqa: E402
from motorgym.train.sweep import finished as sweep_finished  # noqa: E402

#: env id, step cap (about 1.5-2x the steps scratch runs need) and extra train options per task.
#: The muscle task learns slower than a learning rate annealed to 0 over 7 M steps allows (a first
#: pair of runs with annealing reached only 52% / 58% rolling success by 7 M), so it runs at a
#: constant learning rate, as the learning-target runs (wall-clock budget, 1e12-step horizon) did.
TASKS = {
    "center_out": ("motorgym/CenterOut-v0", 2_500_000, {}),
    "muscle_center_out": ("motorgym/MuscleCenterOut-v0", 7_000_000, {"anneal_lr": False}),
}
THRESHOLD = 0.90
#: Conditions, and the pretraining run directory (under ROOT/TASK) each initialises from.
CONDITIONS = {"scratch": None, "pretrained": "predictor", "model_based": "model_based"}
#: Train options of a condition. The policy trained through the learned arm already reaches:
#: with PPO's default action noise (log std -0.5) it succeeds in 0% of CenterOut trials (46%
#: deterministic), with log std -2 in 17%, so its fine-tuning starts from that smaller noise.
CONDITION_OPTIONS = {"model_based": {"init_log_std": -2.0}}
RESULTS = Path(__file__).parent / "results"
PRETRAIN_OPTIONS = ["--epochs", "40", "--patience", "5", "--horizon-steps", "10", "--torch-threads", "1"]
#: motorgym pretrain-policy's options per task. The muscle task's run is shorter (2000 arm fit and 500
#: policy iterations instead of 4000 and 1500) to fit the session that ran it.
PRETRAIN_POLICY_OPTIONS = {
    "center_out": ["--torch-threads", "1", "--no-progress"],
    "muscle_center_out": [
        "--torch-threads",
        "1",
        "--no-progress",
        "--arm-iterations",
        "2000",
        "--policy-iterations",
        "500",
    ],
}
LABELS = {"scratch": "from scratch", "pretrained": "trajectory predictor", "model_based": "BPTT through a learned arm"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "motorgym.train.cli", *args]


def prepare(root: Path, task: str, episodes: int) -> None:
    """Collect the data and run both pretrainings of a task (each once)."""
    env_id = TASKS[task][0]
    data = root / task / "data.npz"
    if not data.exists():
        command = ["collect", "--env", env_id, "--episodes", str(episodes), "--scripted-fraction", "0.5"]
        subprocess.run(cli(*command, "--out", str(data)), check=True)
    predictor, model_based = (root / task / CONDITIONS[c] for c in ("pretrained", "model_based"))
    if not (predictor / KINDS["pretrain"].checkpoint).exists():
        subprocess.run(cli("pretrain", "--data", str(data), "--out", str(predictor), *PRETRAIN_OPTIONS), check=True)
    if not (model_based / KINDS["model-based"].checkpoint).exists():
        command = cli("pretrain-policy", "--data", str(data), "--out", str(model_based), *PRETRAIN_POLICY_OPTIONS[task])
        subprocess.run(command, check=True)


def condition_spec(root: Path, task: str, condition: str, seeds: int) -> SweepSpec:
    """The sweep of a condition's PPO runs: seeds 0..seeds-1, the task's step cap, stop at 90%."""
    env_id, cap, options = TASKS[task]
    pretrained = CONDITIONS[condition]
    fixed = {"env_id": env_id, "total_steps": cap, "minutes": 60.0, "stop_success": THRESHOLD, **options}
    fixed.update(CONDITION_OPTIONS.get(condition, {}), init_from=str(root / task / pretrained) if pretrained else "")
    return SweepSpec.from_dict({"algo": "lstm-ppo", "fixed": fixed, "seeds": seeds, "evaluate_episodes": 200})


def sweep_dir(root: Path, task: str, condition: str) -> Path:
    return root / task / f"sweep_{condition}"


def run_dir(root: Path, task: str, condition: str, seed: int) -> Path:
    trial = next(t for t in condition_spec(root, task, condition, seed + 1).trials() if t.seed == seed)
    return sweep_dir(root, task, condition) / "runs" / trial.name


def finished(path: Path) -> bool:
    return sweep_finished(path, "lstm-ppo")


def reached(rows: list[dict[str, float]]) -> tuple[float, float]:
    """(env steps, seconds) at which rolling success first reached THRESHOLD (inf if never)."""
    hit = next((r for r in rows if r["episode_success"] >= THRESHOLD), None)
    return (hit["global_step"], hit["time_s"]) if hit else (math.inf, math.inf)


def pretraining_env_steps(root: Path, task: str, condition: str) -> int:
    """Env steps a condition's pretraining took: the collected rollouts, and for the policy trained
    through the learned arm also its evaluation episodes in MuJoCo."""
    if CONDITIONS[condition] is None:
        return 0
    if condition == "model_based":
        summary = load_checkpoint(root / task / "model_based" / KINDS["model-based"].checkpoint)[1]["summary"]
        return summary["collected_env_steps"] + summary["evaluation_env_steps"]
    with np.load(root / task / "data.npz") as data:
        return int(data["lengths"].sum())


def _pretraining_rows(root: Path) -> list[str]:
    """What each pretraining learned, beside its naive reference, and what it cost."""
    lines = [
        "| task | variant | validation error | naive reference | env steps used | wall-clock (training) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for task, (env_id, _, _) in TASKS.items():
        predictor, model_based = (root / task / CONDITIONS[c] for c in ("pretrained", "model_based"))
        if (predictor / KINDS["pretrain"].checkpoint).exists():
            best, baseline = (
                load_checkpoint(predictor / KINDS["pretrain"].checkpoint)[1][k] for k in ("best", "baseline")
            )
            lines.append(
                f"| {env_id} | {LABELS['pretrained']}: hand 10 steps ahead | {best['position_rmse_mm']:.1f} mm "
                f"(epoch {best['epoch']}) | {baseline['position_rmse_mm']:.1f} mm (constant velocity) | "
                f"{pretraining_env_steps(root, task, 'pretrained'):,} collected | "
                f"{read_metrics(predictor)[-1]['time_s']:.0f} s |"
            )
        if (model_based / KINDS["model-based"].checkpoint).exists():
            summary = load_checkpoint(model_based / KINDS["model-based"].checkpoint)[1]["summary"]
            arm = summary["arm"]
            lines.append(
                f"| {env_id} | {LABELS['model_based']}: hand after 20 open-loop steps; the policy alone in "
                f"MuJoCo: {summary['real_success']:.0%} success | {arm['arm_hand_rmse_mm']:.1f} mm | "
                f"{arm['still_hand_rmse_mm']:.1f} mm (arm kept still) | {summary['collected_env_steps']:,} collected "
                f"+ {summary['evaluation_env_steps']:,} evaluated | {summary['total_s']:.0f} s |"
            )
    return lines


def report(root: Path, seeds: list[int]) -> str:
    lines = [
        "# Pretraining: env steps to 90% success",
        "",
        f"Command: `python benchmarks/pretraining.py --root ROOT --tasks TASK --seeds {len(seeds)}`  ",
        f"Machine: {machine_line()}; torch {torch.__version__}; two runs at a time, one core each.",
        "",
        *_pretraining_rows(root),
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
                    f"| {env_id} | {LABELS[condition]} | {seed} | {cap / 1e6:.1f} M | {shown} | {when} | "
                    f"{rows[-1]['episode_success']:.0%} |"
                )
            if steps:
                medians[condition] = (statistics.median(steps), len(steps))
        scratch = medians.pop("scratch", None)
        if scratch is None or math.isinf(scratch[0]):
            continue
        for condition, (median, count) in medians.items():
            ratio = median / scratch[0]
            total = median + pretraining_env_steps(root, task, condition)
            ratio_total = total / scratch[0]
            summary.append(
                f"| {env_id} | {LABELS[condition]} | {scratch[0] / 1e6:.2f} M ({scratch[1]} seeds) | "
                f"{median / 1e6:.2f} M ({count} seeds) | {ratio:.2f} | {total / 1e6:.2f} M | {ratio_total:.2f} | "
                f"{'met' if ratio <= 0.7 else 'not met'} / {'met' if ratio_total <= 0.7 else 'not met'} |"
            )
    lines += [
        "",
        "| task | variant | scratch: median PPO steps to 90% | variant: median PPO steps | ratio | variant + "
        "pretraining's env steps | ratio | target (<= 0.70): PPO steps / all env steps |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *summary,
    ]
    return "\n".join(lines) + "\n"


def plot(root: Path, seeds: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(TASKS), figsize=(5.5 * len(TASKS), 4), squeeze=False)
    colors = {"scratch": "tab:gray", "pretrained": "tab:purple", "model_based": "tab:green"}
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
                        label=LABELS[condition] if k == 0 else None,
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
    parser.add_argument("--seeds", type=int, default=3, help="seeds per condition (0, 1, ...)")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes collected per task")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(CONDITIONS))
    parser.add_argument("--address", help="a running Ray cluster (default: this machine)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made, added to the report")
    args = parser.parse_args(argv)
    if not args.report_only:
        for task in args.tasks:
            prepare(args.root, task, args.episodes)
            for condition in args.conditions:
                spec = condition_spec(args.root, task, condition, args.seeds)
                sweep(spec, sweep_dir(args.root, task, condition), address=args.address)
    all_seeds = list(range(args.seeds))
    text = report(args.root, all_seeds) + (f"\n{args.note}\n" if args.note else "")
    plot(args.root, all_seeds, RESULTS / "pretraining.png")
    text += "\n![success against env steps](pretraining.png)\n"
    (RESULTS / "pretraining.md").write_text(text)
    for task in TASKS:
        for condition in ("pretrained", "model_based"):
            losses = args.root / task / CONDITIONS[condition] / "losses.png"
            if losses.exists():
                (RESULTS / f"pretraining_{CONDITIONS[condition]}_{task}.png").write_bytes(losses.read_bytes())
    (RESULTS / "runs").mkdir(exist_ok=True)
    for task in TASKS:
        for condition in CONDITIONS:
            for seed in all_seeds:
                path = run_dir(args.root, task, condition, seed)
                if finished(path):
                    target = RESULTS / "runs" / f"pretraining_{task}_{condition}_seed{seed}_metrics.csv"
                    target.write_bytes((path / METRICS).read_bytes())
    print(text)
    print(json.dumps({"report": str(RESULTS / "pretraining.md")}))


if __name__ == "__main__":
    main()
