"""Our recurrent PPO against the SB3 baselines, same tasks, same wall-clock budget, same seeds.

    python benchmarks/compare_agents.py --root runs/compare                 # 6 runs x 20 min, 2 at a time: ~65 min
    python benchmarks/compare_agents.py --root runs/compare --report-only   # re-write the report from the runs

For CenterOut-v0 and MuscleCenterOut-v0 and each algorithm (lstm-ppo: ours; sb3-rppo: sb3-contrib
RecurrentPPO, MlpLstmPolicy; sb3-ppo: SB3 PPO, MlpPolicy, feed-forward), runs a ``motorgym sweep``
of ``--seeds`` seeds with the algorithm's defaults and ``--minutes`` of training into
ROOT/<task>_<algo> (Ray Tune, as many runs at a time as cores, one core each; an interrupted sweep
resumes), each run evaluated as ``motorgym evaluate`` does (200 episodes, deterministic policy).
Reports training steps per second, the rolling training success (the last 100 training episodes,
stochastic policy) at 2, 5, 10 and 20 minutes, the evaluation measures and
their ratios, in ``results/compare_agents.md``, and plots rolling success against wall-clock time
and against environment steps in ``results/compare_agents.png``. Each run's metrics.csv and
evaluation.json are copied to ``results/runs/compare_*``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import machine_line  # noqa: E402

from motorgym.train.progress import read_metrics  # noqa: E402
from motorgym.train.run_dir import EVALUATION, METRICS, read_evaluation  # noqa: E402
from motorgym.train.sweep import SweepSpec, finished, sweep  # noqa: E402

TASKS = {"center_out": "motorgym/CenterOut-v0", "muscle_center_out": "motorgym/MuscleCenterOut-v0"}
ALGOS = {
    "lstm-ppo": "motorgym lstm-ppo (ours)",
    "sb3-rppo": "sb3-contrib RecurrentPPO",
    "sb3-ppo": "SB3 PPO (feed-forward)",
}
CHECKPOINTS_MIN = (2, 5, 10, 20)
RESULTS = Path(__file__).parent / "results"


def spec(task: str, algo: str, minutes: float, seeds: int) -> SweepSpec:
    fixed = {"env_id": TASKS[task], "minutes": minutes, "total_steps": 0}
    return SweepSpec.from_dict({"algo": algo, "fixed": fixed, "seeds": seeds, "evaluate_episodes": 200})


def run_dir(root: Path, task: str, algo: str, seed: int) -> Path:
    """The run of a seed in the sweep of (task, algo) (its one condition)."""
    trial = next(t for t in spec(task, algo, 1.0, seed + 1).trials() if t.seed == seed)
    return root / f"{task}_{algo}" / "runs" / trial.name


def complete(path: Path, algo: str) -> bool:
    return finished(path, algo)


def success_at(rows: list[dict[str, float]], seconds: float) -> float:
    """Rolling training success of the last row logged by ``seconds`` (NaN if the run had not
    reached that time or no episode had ended)."""
    if not rows or rows[-1]["time_s"] < seconds * 0.98:  # a run stops within one update of its budget
        return math.nan
    before = [r for r in rows if r["time_s"] <= seconds]
    return before[-1]["episode_success"] if before else math.nan


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


def report(root: Path, seeds: list[int], minutes: float) -> str:
    lines = [
        "# Our recurrent PPO against the SB3 baselines",
        "",
        f"Command: `python benchmarks/compare_agents.py --root ROOT --minutes {minutes:g} --seeds {len(seeds)}`  ",
        f"Machine: {machine_line()}; torch {torch.__version__}  ",
        f"Each (task, algorithm): a `motorgym sweep` of the algorithm's defaults, `minutes: {minutes:g}`, "
        "one core per run (`physics_threads` and `torch_threads` 1), as many runs at a time as cores; each run "
        "then evaluated on 200 episodes (deterministic policy). Success at T min is the rolling "
        "training success (last 100 training episodes, stochastic policy) at that time; - where the run had no "
        "data then. Each algorithm runs with its defaults (see `motorgym train --algo A --help`; the SB3 "
        "hyperparameters are rl-baselines3-zoo's for Reacher, stated in `motorgym/train/baselines.py`).",
        "",
        "| task | algorithm | seed | steps/s | env steps | "
        + " | ".join(f"success @ {m} min" for m in CHECKPOINTS_MIN)
        + " | eval success | endpoint error mm | reaction time ms | peak/mean speed | path linearity |",
        "|---|---|---:|---:|---:|" + "---:|" * len(CHECKPOINTS_MIN) + "---:|---:|---:|---:|---:|",
    ]
    for task, env_id in TASKS.items():
        for algo, name in ALGOS.items():
            for seed in seeds:
                path = run_dir(root, task, algo, seed)
                if not complete(path, algo):
                    lines.append(f"| {env_id} | {name} | {seed} | not run or not finished |" + " |" * 10)
                    continue
                rows = read_metrics(path)
                # evaluation.json holds null for a measure no trial defines (NaN in older files).
                ev = {k: math.nan if v is None else v for k, v in read_evaluation(path)["overall"].items()}
                cells = [_percent(success_at(rows, m * 60)) for m in CHECKPOINTS_MIN]
                lines.append(
                    f"| {env_id} | {name} | {seed} | {rows[-1]['steps_per_s']:,.0f} | "
                    f"{rows[-1]['global_step'] / 1e6:.2f} M | " + " | ".join(cells) + f" | {ev['success_rate']:.1%} | "
                    f"{ev['endpoint_error_mm']:.1f} | {ev['reaction_time_ms']:.0f} | "
                    f"{ev['peak_to_mean_speed']:.2f} | {ev['path_linearity']:.2f} |"
                )
    lines += ["", "Ratios (ours / baseline, medians over seeds):", ""]
    lines += ["| task | baseline | steps/s | env steps in the budget |", "|---|---|---:|---:|"]
    for task, env_id in TASKS.items():
        ours = [read_metrics(run_dir(root, task, "lstm-ppo", s))[-1] for s in seeds if _done(root, task, "lstm-ppo", s)]
        for algo in ("sb3-rppo", "sb3-ppo"):
            theirs = [read_metrics(run_dir(root, task, algo, s))[-1] for s in seeds if _done(root, task, algo, s)]
            if ours and theirs:
                sps, steps = (
                    statistics.median([r[key] for r in ours]) / statistics.median([r[key] for r in theirs])
                    for key in ("steps_per_s", "global_step")
                )
                lines.append(f"| {env_id} | {ALGOS[algo]} | {sps:.1f}x | {steps:.1f}x |")
    return "\n".join(lines) + "\n"


def _done(root: Path, task: str, algo: str, seed: int) -> bool:
    return complete(run_dir(root, task, algo, seed), algo)


def plot(root: Path, seeds: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(TASKS), 2, figsize=(11, 4 * len(TASKS)), squeeze=False)
    colors = {"lstm-ppo": "tab:blue", "sb3-rppo": "tab:orange", "sb3-ppo": "tab:green"}
    for r, (task, env_id) in enumerate(TASKS.items()):
        for algo, name in ALGOS.items():
            for k, seed in enumerate(seeds):
                path = run_dir(root, task, algo, seed)
                if not complete(path, algo):
                    continue
                rows = read_metrics(path)
                label = name if k == 0 else None
                success = [100 * row["episode_success"] for row in rows]
                axes[r][0].plot([row["time_s"] / 60 for row in rows], success, color=colors[algo], label=label)
                axes[r][1].plot([row["global_step"] / 1e6 for row in rows], success, color=colors[algo], label=label)
        for c, xlabel in enumerate(("wall-clock time (min)", "environment steps (millions)")):
            axes[r][c].set(xlabel=xlabel, ylabel="rolling training success (%)", title=env_id, ylim=(-3, 103))
            axes[r][c].grid(alpha=0.3)
        axes[r][1].set_xscale("log")  # SB3's RecurrentPPO covers ~20x fewer steps than the others
        axes[r][0].legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/compare"), help="where the runs live")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget of every run")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per task and algorithm (0, 1, ...)")
    parser.add_argument("--address", help="a running Ray cluster (default: this machine)")
    parser.add_argument("--report-only", action="store_true", help="do not train; report the runs found")
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made, added to the report")
    args = parser.parse_args(argv)
    if not args.report_only:
        for task in TASKS:
            for algo in ALGOS:
                sweep(spec(task, algo, args.minutes, args.seeds), args.root / f"{task}_{algo}", address=args.address)
    args.seeds = list(range(args.seeds))
    text = report(args.root, args.seeds, args.minutes) + (f"\n{args.note}\n" if args.note else "")
    text += "\n![success against time and steps](compare_agents.png)\n"
    (RESULTS / "runs").mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        for algo in ALGOS:
            for seed in args.seeds:
                path = run_dir(args.root, task, algo, seed)
                if complete(path, algo):
                    for name in (METRICS, EVALUATION):
                        shutil.copy(path / name, RESULTS / "runs" / f"compare_{task}_{algo}_seed{seed}_{name}")
    plot(args.root, args.seeds, RESULTS / "compare_agents.png")
    (RESULTS / "compare_agents.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
