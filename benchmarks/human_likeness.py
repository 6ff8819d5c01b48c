"""Human-likeness of trained reaches on the human-like centre-out tasks (issue 14), beside people's values.

    python benchmarks/human_likeness.py --root runs/human_likeness                # train what is missing, report
    python benchmarks/human_likeness.py --root runs/human_likeness --report-only  # report the runs there
    python benchmarks/human_likeness.py --root runs/hl_torque --tasks center_out   # one task's sweep only
    python benchmarks/human_likeness.py --columns-only --column "LABEL" RUN_DIR... --out X.md --figure X.png

One ``motorgym sweep`` (Ray Tune, one core per run; an interrupted sweep resumes) trains seeds 0-2
of ``lstm-ppo`` on MuscleCenterOut-v1 and CenterOut-v2 with their default (human-like) task
settings, each task's PPO settings (below) and time budget, evaluates each run on 200
deterministic trials (``motorgym evaluate``) and analyses it (``motorgym analyze``, 200 trials,
into RUN/analysis). The report (``--out``, Markdown) gives the median [min, max] over seeds of each
measure beside its target and the human value with its source; the figure (``--figure``) shows
seed 0's hand paths and speed profiles beside a minimum-jerk reach of the same duration. Runs
trained another way (e.g. from a pretrained policy) are reported with ``--column``, one column per
label, beside the sweep's or (``--columns-only``) alone.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from motorgym.agents.rollout import rollout
from motorgym.agents.scripted import minimum_jerk
from motorgym.envs.registration import check_env_arguments, env_class
from motorgym.train import kinds
from motorgym.train.analysis.kinematics import ONSET_FRACTION
from motorgym.train.analyze import aligned_trials, analyze, condition_average
from motorgym.train.evaluate import evaluate
from motorgym.train.plots import save_figure, subplots
from motorgym.train.run_dir import EVALUATION, read_config, read_evaluation
from motorgym.train.sweep import SweepSpec, sweep, trial_runs

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import command_line, machine_line, sweep_benchmark_parser  # noqa: E402

RESULTS = Path(__file__).parent / "results"
EPISODES = 200  # deterministic trials per evaluation and analysis


class Task(NamedTuple):
    env_id: str
    minutes: float
    """Training budget: 2x the time today's (v0) agents took to reach the success target would be
    290 s (torque) and 1,606 s (muscle); the budgets are those of the v0 targets."""
    ppo_settings: dict[str, Any]
    """PPO settings of its runs (the rest are lstm-ppo's defaults)."""


TASKS = {
    "muscle_center_out": Task("motorgym/MuscleCenterOut-v1", 30.0, {}),  # first: the long runs start first
    # Less exploration noise, so that v2's effort cost charges the network's commands rather than
    # PPO's noise (benchmarks/results/human_likeness_calibration.md).
    "center_out": Task("motorgym/CenterOut-v2", 10.0, {"init_log_std": -1.5}),
}
SEEDS = 3
ANALYSIS = "analysis"
#: Minimum-jerk values over the measured window (onset to offset, the 10% speed crossings).
MIN_JERK_PEAK_TO_MEAN = 1.565
MIN_JERK_WINDOW = 0.828  # the 10% crossings of a minimum-jerk reach are 0.086 T and 0.914 T apart
#: measure: (label, where it is read, format, target low, target high, people, source).
MEASURES = {
    "success_rate": ("success (200 trials)", "evaluation", "{:.1%}", None, None, "-", ""),
    "reaction_time_ms": (
        "reaction time, ms",
        "evaluation",
        "{:.0f}",
        200.0,
        350.0,
        "200-300 (monkeys 250-350)",
        "go cue to movement onset",
    ),
    "movement_time_ms": (
        "movement time, ms",
        "evaluation",
        "{:.0f}",
        250.0,
        400.0,
        "250-400",
        "onset to entering the 1.5 cm target of a 400-650 ms minimum-jerk reach; people choose 400-650 ms "
        "(Shadmehr & Mussa-Ivaldi 1994: 500 +- 50 ms)",
    ),
    "peak_speed_m_s": (
        "peak hand speed, m/s",
        "evaluation",
        "{:.2f}",
        0.25,
        0.5,
        "0.29-0.47",
        "1.875 D/T for D = 10 cm, T = 400-650 ms (Flash & Hogan 1985)",
    ),
    "peak_to_mean_speed": (
        "peak/mean speed (onset to offset)",
        "evaluation",
        "{:.2f}",
        MIN_JERK_PEAK_TO_MEAN * 0.9,
        MIN_JERK_PEAK_TO_MEAN * 1.1,
        "1.565",
        "minimum jerk between the 10% crossings (Flash & Hogan 1985)",
    ),
    "path_linearity": (
        "path linearity",
        "evaluation",
        "{:.3f}",
        0.0,
        0.1,
        "0.05-0.1",
        "nearly straight hand paths (Morasso 1981)",
    ),
    # The speed profile's shape beyond peak/mean (not targets of the issue): where the bell peaks, and
    # how often the trial ends before the hand slows to the offset threshold (cutting the window short).
    "peak_time_fraction": (
        "speed peak, fraction of onset to offset",
        "evaluation",
        "{:.2f}",
        None,
        None,
        "0.5 (minimum jerk)",
        "a symmetric bell (Flash & Hogan 1985)",
    ),
    "moving_at_end": (
        "trials ending above the offset threshold",
        "evaluation",
        "{:.0%}",
        None,
        None,
        "0% (people's reaches end at rest)",
        "10% of the peak speed",
    ),
    "false_start_rate": ("false starts", "evaluation", "{:.1%}", None, None, "-", ""),
    "jpca_ratio": (
        "jPCA skew/unconstrained R2",
        "analysis",
        "{:.2f}",
        0.5,
        None,
        "0.5-0.8 in motor cortex",
        "Churchland et al. 2012",
    ),
    "tuned_fraction": (
        "cosine-tuned units (R2 > 0.7)",
        "analysis",
        "{:.0%}",
        0.5,
        None,
        "most M1 neurons",
        "Georgopoulos et al. 1982",
    ),
}
#: The success target of each arm (issue 14): every version of its tasks.
SUCCESS_TARGET = {"muscle": 0.90, "torque": 0.95}
#: A column of the report: its heading, its runs' env id and the runs (seed, run directory).
Column = tuple[str, str, list[tuple[int, Path]]]


def spec(tasks: list[str]) -> SweepSpec:
    """The sweep of ``tasks`` (names in TASKS)."""
    conditions = [
        {"env_id": TASKS[name].env_id, "minutes": TASKS[name].minutes, "total_steps": 0, **TASKS[name].ppo_settings}
        for name in tasks
    ]
    return SweepSpec.from_dict(
        {"algo": "lstm-ppo", "conditions": conditions, "seeds": SEEDS, "evaluate_episodes": EPISODES}
    )


def runs(root: Path, tasks: list[str]) -> dict[str, list[tuple[int, Path]]]:
    """Each task's finished runs (seed, run directory)."""
    by_env = {TASKS[name].env_id: name for name in tasks}
    found: dict[str, list[tuple[int, Path]]] = {name: [] for name in tasks}
    for trial, path, done in trial_runs(root, spec(tasks)):
        if done:
            found[by_env[trial.fields["env_id"]]].append((trial.seed, path))
    return found


def columns(root: Path | None, tasks: list[str], extra: list[list[str]]) -> list[Column]:
    """The sweep's column for each task (unless ``root`` is None), then one per ``--column LABEL
    RUN_DIR...`` (runs trained another way, e.g. from a pretrained policy, or pretrained policies
    themselves; their seed is read from their config, their env id from their agent)."""
    found = runs(root, tasks) if root is not None else {}
    result: list[Column] = [(TASKS[name].env_id, TASKS[name].env_id, runs_) for name, runs_ in found.items()]
    for label, *directories in extra:
        paths = [Path(d) for d in directories]
        env_ids = {kinds.load_agent(path).env_id for path in paths}
        if len(env_ids) != 1:
            raise SystemExit(f"--column {label!r}: its runs must share one env id (got {sorted(env_ids)})")
        seeds = [read_config(path)["seed"] for path in paths]
        result.append((label, env_ids.pop(), sorted(zip(seeds, paths, strict=True))))
    return result


def evaluation_of(path: Path) -> dict[str, Any]:
    """The run's evaluation.json (``motorgym evaluate``), which must exist."""
    evaluation = read_evaluation(path)
    if evaluation is None:
        raise FileNotFoundError(f"{path} has not been evaluated: {EVALUATION} is missing")
    return evaluation


def analyze_runs(table: list[Column]) -> None:
    """Evaluate (EPISODES deterministic trials) and analyse each run that has not been yet."""
    for _, _, column_runs in table:
        for _, path in column_runs:
            evaluation = read_evaluation(path)
            if evaluation is None or evaluation["episodes"] != EPISODES:
                evaluate(path, episodes=EPISODES)
            if not (path / ANALYSIS / "analysis.json").exists():
                analyze(path, path / ANALYSIS, episodes=EPISODES)


def measures_of(path: Path) -> dict[str, float]:
    evaluation = evaluation_of(path)["overall"]
    analysis = json.loads((path / ANALYSIS / "analysis.json").read_text())
    values = {
        "jpca_ratio": analysis.get("jpca_ratio"),
        "tuned_fraction": (analysis.get("tuning") or {}).get("tuned_fraction"),
    }
    values.update({name: evaluation.get(name) for name, spec_ in MEASURES.items() if spec_[1] == "evaluation"})
    return {name: float("nan") if value is None else float(value) for name, value in values.items()}


def _met(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def report(table: list[Column], tasks: list[str], columns_only: bool = False) -> str:
    if columns_only:
        how = "the runs named by each --column; `motorgym evaluate` and `motorgym analyze`, 200 deterministic trials"
    else:
        how = (
            "one `motorgym sweep`: seeds 0-2 of lstm-ppo on each task with its defaults, one core per run; "
            "`motorgym evaluate` and `motorgym analyze`, 200 deterministic trials each"
        )
    lines = [
        "# Human-like reaching (issue 14)",
        "",
        f"Command: `{command_line('human_likeness.py', hidden=('--note',))}` ({how}).  ",
        f"Machine: {machine_line()}  ",
    ]
    if not columns_only:
        lines.append(
            "Budgets and PPO settings: "
            + "; ".join(
                f"{TASKS[name].env_id} {TASKS[name].minutes:g} min, {TASKS[name].ppo_settings or 'the defaults'}"
                for name in tasks
            )
            + "."
        )
    lines += [
        "",
        "Median [min, max] over seeds; a target is met when the median is inside it.",
        "",
        "| measure | target | people | source | " + " | ".join(label for label, _, _ in table) + " |",
        "|---|---|---|---|" + "---|" * len(table),
    ]
    values = [[measures_of(path) for _, path in column_runs] for _, _, column_runs in table]
    for name, (label, _, fmt, low, high, people, source) in MEASURES.items():
        cells = []
        for (_, env_id, _), column_values in zip(table, values, strict=True):
            target_low = SUCCESS_TARGET[env_class(env_id).arm_kind] if name == "success_rate" else low
            seen = [v[name] for v in column_values if not np.isnan(v[name])]
            if not seen:
                cells.append("not run" if not column_values else "-")
                continue
            median = statistics.median(seen)
            mark = ""
            if target_low is not None or high is not None:
                mark = " met" if _met(median, target_low, high) else " **not met**"
            cells.append(f"{fmt.format(median)} [{fmt.format(min(seen))}, {fmt.format(max(seen))}]{mark}")
        target = _target_text(name, fmt, low, high)
        lines.append(f"| {label} | {target} | {people} | {source} | " + " | ".join(cells) + " |")
    lines += ["", "Seeds found: " + ", ".join(f"{label} {len(column_runs)}" for label, _, column_runs in table) + "."]
    return "\n".join(lines) + "\n"


def _target_text(name: str, fmt: str, low: float | None, high: float | None) -> str:
    if name == "success_rate":
        return ">= 95% torque, >= 90% muscle"
    if low is None and high is None:
        return "-"
    if high is None:
        return f">= {fmt.format(low)}"
    if not low:
        return f"< {fmt.format(high)}"
    return f"{fmt.format(low)}-{fmt.format(high)}"


def plot(table: list[Column], out: Path) -> None:
    """Seed 0 of each column: hand paths, and the speed profile (mean over reaches, aligned to
    onset) beside a minimum-jerk reach of the same movement time."""
    shown = [(label, dict(column_runs)[0]) for label, _, column_runs in table if 0 in dict(column_runs)]
    if not shown:
        return
    figure, axes = subplots(len(shown), 2, figsize=(10, 4.2 * len(shown)))
    for row, (label, path) in zip(np.atleast_2d(axes), shown, strict=True):
        agent, env_id, env_kwargs = kinds.load_agent(path, "cpu")
        trials = rollout(env_id, {**env_kwargs, "catch_fraction": 0.0}, agent, 96, seed=7)
        task_config = check_env_arguments(env_id, env_kwargs)
        dt_s = task_config.control_step_ms / 1000
        aligned = aligned_trials(trials, dt_s)
        paths_axis, speed_axis = row
        for hand in aligned["paths"]:
            paths_axis.plot(hand[:, 0] * 100, hand[:, 1] * 100, color="tab:blue", lw=0.7, alpha=0.5)
        paths_axis.set(title=f"{label}: hand paths (seed 0)", xlabel="x (cm)", ylabel="y (cm)", aspect="equal")
        mean_speed, _ = condition_average(aligned["speeds"], aligned["targets"])
        time_ms = aligned["time_ms"]
        for speed in mean_speed:
            speed_axis.plot(time_ms, speed * 100, color="tab:blue", lw=0.8, alpha=0.6)
        movement_time_s = evaluation_of(path)["overall"]["movement_time_ms"] / 1000
        duration_s = _minimum_jerk_duration_s(movement_time_s, task_config.target_radius_m, 0.10)
        reference = _minimum_jerk_speed(time_ms / 1000, duration_s, 0.10)
        speed_axis.plot(
            time_ms,
            reference * 100,
            color="black",
            lw=2,
            ls="--",
            label=f"minimum jerk, T = {duration_s * 1000:.0f} ms",
        )
        speed_axis.axvline(0, color="gray", lw=0.8, ls=":")
        speed_axis.set(
            title="speed by target (blue) vs minimum jerk",
            xlabel="time from movement onset (ms)",
            ylabel="hand speed (cm/s)",
        )
        speed_axis.legend(fontsize=8)
    save_figure(figure, out)


def _minimum_jerk_duration_s(movement_time_s: float, radius_m: float, distance_m: float) -> float:
    """Duration T of the minimum-jerk reach with the same movement time (onset, its speed's 10%
    crossing, to entering the target): about 0.62 T for a 1.5 cm target 10 cm away."""
    fraction = np.linspace(0, 1, 100_001)
    position, speed = minimum_jerk(fraction)
    onset = fraction[np.argmax(speed > ONSET_FRACTION * speed.max())]
    entry = fraction[np.argmax(position >= 1 - radius_m / distance_m)]
    return movement_time_s / (entry - onset)


def _minimum_jerk_speed(time_s: np.ndarray, duration_s: float, distance_m: float) -> np.ndarray:
    """Speed of a minimum-jerk reach, time 0 at its onset (its speed's first 10% crossing, 0.086 T)."""
    fraction = time_s / duration_s + (1 - MIN_JERK_WINDOW) / 2
    inside = (fraction >= 0) & (fraction <= 1)
    return np.where(inside, minimum_jerk(fraction)[1] * distance_m / duration_s, 0.0)


def main(argv: list[str] | None = None) -> None:
    parser = sweep_benchmark_parser(__doc__, "runs/human_likeness", RESULTS / "human_likeness.md")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=list(TASKS),
        default=list(TASKS),
        help="the tasks to train and report (default: all; a ROOT holds one selection's sweep)",
    )
    parser.add_argument("--columns-only", action="store_true", help="report only the --column runs (no sweep)")
    parser.add_argument("--figure", type=Path, default=RESULTS / "human_likeness.png")
    parser.add_argument("--note", default="", help="a paragraph on the results, added to the report")
    parser.add_argument(
        "--column",
        nargs="+",
        action="append",
        default=[],
        metavar="LABEL_THEN_RUN_DIRS",
        help="another column: its heading, then its run directories (one per seed)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # its evaluations run policies: one thread, as motorgym evaluate (cli.INFERENCE_COMMANDS)
    if args.columns_only and not args.column:
        parser.error("--columns-only needs at least one --column")
    if not (args.report_only or args.columns_only):
        sweep(spec(args.tasks), args.root, address=args.address)
    table = columns(None if args.columns_only else args.root, args.tasks, args.column)
    analyze_runs(table)
    plot(table, args.figure)
    text = report(table, args.tasks, args.columns_only) + f"\n![hand paths and speed profiles]({args.figure.name})\n"
    text += f"\n{args.note}\n" if args.note else ""
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
