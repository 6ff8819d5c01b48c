"""Sweeps: many runs of one kind over seeds and conditions, on Ray Tune.

    motorgym sweep examples/sweeps/seeds.yaml --out runs/seeds                 # local (embedded Ray)
    motorgym sweep spec.yaml --out /shared/runs/study --address auto           # a running Ray cluster

A spec (YAML) names the run kind (``algo``: any algorithm of ``motorgym train``), the config fields
every trial shares (``fixed``), the fields to vary (``vary``: a list is a grid axis, every value;
a range ``{low, high, log}`` is drawn ``samples`` times, uniformly or log-uniformly: random search),
explicit ``conditions`` (a list of field sets, crossed with the grid: for fields that change
together), and ``seeds: N`` (seeds 0..N-1 of every condition)::

    algo: lstm-ppo
    fixed: {env_id: motorgym/CenterOut-v0, minutes: 0.5}
    vary:
      hidden_size: [64, 128]
      learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
    samples: 2
    seeds: 3
    evaluate_episodes: 200

The trials are drawn once, from the spec alone (``search_seed``), so that the same spec always
means the same trials. Each is an ordinary run directory, ``DIR/runs/<trial>`` (config.json,
metrics, checkpoint), evaluated at the end as ``motorgym evaluate`` does. The spec is checked before
anything starts: an unknown key or field, or a value a trial's config rejects, is an error naming it.

Ray Tune runs the trials: embedded (``ray.init()`` on this machine, one CPU per trial, each trial
pinned to it with one torch thread and one physics thread, so that trials do not oversubscribe the
cores), or on a running cluster (``--address`` or ``RAY_ADDRESS``; DIR must then be on storage every
node shares). A trial that fails (a bad value, a physics error, a killed worker) is recorded with
its error and the others go on. Running the same command on the same DIR again resumes the sweep:
finished trials are kept as they are, unfinished ones resume from their last checkpoint. At the end
``DIR/results.csv`` and ``DIR/results.md`` hold one row per trial (its varied fields, seed, steps,
wall-clock, every evaluation measure, or its error) and a summary per condition (median and range
over seeds), and ``DIR/learning_curves.png`` the learning curves by condition.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shutil
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from motorgym.agents.checkpoint import atomic_write, load_checkpoint
from motorgym.train import kinds
from motorgym.train.evaluate import MEASURES, evaluate
from motorgym.train.plots import save_figure, subplots
from motorgym.train.progress import read_metrics
from motorgym.train.run_dir import CONFIG, EVALUATION, METRICS, RunExistsError, read_evaluation, write_json
from motorgym.train.trainers import TRAINERS

SPEC_KEYS = ("algo", "fixed", "vary", "conditions", "samples", "seeds", "search_seed", "evaluate_episodes")
#: Config fields a sweep sets itself: the seed (``seeds``) and each trial's share of the machine.
SWEEP_FIELDS = ("seed", "torch_threads", "physics_threads")
SWEEP_FILE = "sweep.json"
RESULTS_CSV, RESULTS_MD, CURVES_PNG = "results.csv", "results.md", "learning_curves.png"
MISSING_EXTRA = "motorgym sweep needs Ray Tune: pip install 'motorgym[sweep]'"


# -------------------------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class Range:
    """A field drawn uniformly (or log-uniformly) in [low, high]; an int field gets whole numbers."""

    low: float
    high: float
    log: bool = False

    def draw(self, rng: np.random.Generator, integer: bool) -> float | int:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return round(value) if integer else float(value)


@dataclass(frozen=True)
class Trial:
    """One run of a sweep."""

    name: str
    condition: dict[str, Any]
    """The values of the varied fields (what tells this condition from the others)."""
    seed: int
    fields: dict[str, Any]
    """Every config field the sweep sets (fixed, varied, seed, threads)."""


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: see the module docstring for each key."""

    algo: str
    fixed: dict[str, Any] = field(default_factory=dict)
    vary: dict[str, Any] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 1
    seeds: int = 1
    search_seed: int = 0
    evaluate_episodes: int = 200

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        """Read and check a YAML spec."""
        try:
            import yaml
        except ImportError:
            raise ValueError(MISSING_EXTRA) from None
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no sweep spec at {path}") from None
        except yaml.YAMLError as error:
            raise ValueError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> SweepSpec:
        """A checked spec: every trial's config is built, so a bad key, field or value is an error
        naming it, before anything runs."""
        if not isinstance(data, dict):
            raise ValueError("a sweep spec is a mapping of: " + ", ".join(SPEC_KEYS))
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown} in the sweep spec; allowed: {', '.join(SPEC_KEYS)}")
        spec = cls(**data)
        spec.trials()  # builds and checks every trial's config
        return spec

    def __post_init__(self) -> None:
        train_kinds = [k.name for k in kinds.kinds_made_by("train")]
        if self.algo not in train_kinds:
            raise ValueError(f"algo must be one of {', '.join(train_kinds)} (got {self.algo!r})")
        for name in ("fixed", "vary"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a mapping of config fields (got {getattr(self, name)!r})")
        if not isinstance(self.conditions, list) or not all(isinstance(c, dict) for c in self.conditions):
            raise ValueError(f"conditions must be a list of mappings of config fields (got {self.conditions!r})")
        for name in ("samples", "seeds"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1 (got {getattr(self, name)!r})")
        if not isinstance(self.evaluate_episodes, int) or self.evaluate_episodes < 1:
            raise ValueError(f"evaluate_episodes must be an int >= 1 (got {self.evaluate_episodes!r})")
        self._check_fields()

    def _check_fields(self) -> None:
        kind = kinds.KINDS[self.algo]
        allowed = [f.name for f in fields(kind.config_cls) if f.name not in (*kind.fixed, *SWEEP_FIELDS)]
        places = {"fixed": list(self.fixed), "vary": list(self.vary)}
        places.update({f"conditions[{i}]": list(c) for i, c in enumerate(self.conditions)})
        for place, names in places.items():
            for name in names:
                if name not in allowed:
                    why = "set by the sweep (seeds; one CPU per trial)" if name in SWEEP_FIELDS else "not a field"
                    raise ValueError(f"{place}: {name!r} is {why} of a {self.algo} run; fields: {', '.join(allowed)}")
        twice = set(self.fixed) & (set(self.vary) | {n for c in self.conditions for n in c})
        if twice:
            raise ValueError(f"{sorted(twice)} both fixed and varied: give each field in one place")
        for name, values in self.vary.items():
            if isinstance(values, dict):
                self._range(name)
            elif not isinstance(values, list) or not values:
                raise ValueError(f"vary: {name} must be a non-empty list of values or a range {{low, high, log}}")

    def _range(self, name: str) -> Range:
        values = self.vary[name]
        if set(values) - {"low", "high", "log"} or not {"low", "high"} <= set(values):
            raise ValueError(f"vary: {name} as a range takes low, high and optionally log (got {values!r})")
        low, high, log = values["low"], values["high"], values.get("log", False)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)) or low > high:
            raise ValueError(f"vary: {name} needs finite numbers low <= high (got {low!r}, {high!r})")
        if log and low <= 0:
            raise ValueError(f"vary: {name} with log: true needs low > 0 (got {low!r})")
        return Range(float(low), float(high), bool(log))

    def trials(self) -> list[Trial]:
        """Every trial, in a fixed order: conditions x grid x samples of the ranges x seeds."""
        kind = kinds.KINDS[self.algo]
        defaults = {f.name: f.default for f in fields(kind.config_cls)}
        grid = {name: values for name, values in self.vary.items() if isinstance(values, list)}
        ranges = {name: self._range(name) for name, values in self.vary.items() if isinstance(values, dict)}
        rng = np.random.default_rng(self.search_seed)
        grid_points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
        trials, number = [], 0
        for condition, point in itertools.product(self.conditions or [{}], grid_points):
            for _ in range(self.samples if ranges else 1):
                drawn = {n: r.draw(rng, isinstance(defaults[n], int)) for n, r in ranges.items()}
                varied = {**condition, **point, **drawn}
                for seed in range(self.seeds):
                    values = {**self.fixed, **varied, "seed": seed, "torch_threads": 1, "physics_threads": 1}
                    self._check_trial(kind, values)
                    trials.append(Trial(f"c{number:03d}_seed{seed}", varied, seed, values))
                number += 1
        return trials

    @staticmethod
    def _check_trial(kind: kinds.RunKind, values: dict[str, Any]) -> None:
        try:
            kind.config_cls(**kind.fixed, **values)
        except TypeError as error:
            raise ValueError(f"a trial's config: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ------------------------------------------------------------------------------------------- trial
def run_trial(algo: str, run_dir: Path, values: dict[str, Any], episodes: int) -> dict[str, Any]:
    """Train (or resume, or keep) one trial's run and evaluate it; return its evaluation. The unit of
    work a Ray worker runs."""
    kind = kinds.KINDS[algo]
    trainer = TRAINERS[kind.config_cls]
    checkpoint = run_dir / kind.checkpoint
    if checkpoint.exists():
        if not load_checkpoint(checkpoint)[1].get("final"):
            trainer(run_dir=run_dir, resume=True, progress=False)
    else:
        if run_dir.exists():  # stopped before its first checkpoint: the sweep made it, and starts it again
            shutil.rmtree(run_dir)
        trainer(kind.config_cls(**kind.fixed, **values), run_dir, progress=False)
    return evaluate(run_dir, episodes=episodes)


def _tune_trainable(config: dict[str, Any]) -> None:
    """Ray Tune's function trainable: one trial, its evaluation reported once at the end."""
    from ray import tune

    if Path(config["cwd"]).is_dir():  # relative paths in the spec (e.g. init_from) mean the sweep's own
        os.chdir(config["cwd"])
    results = run_trial(config["algo"], Path(config["run_dir"]), config["fields"], config["episodes"])
    tune.report({k: v for k, v in results["overall"].items() if v is not None})


# ------------------------------------------------------------------------------------------- sweep
def sweep(spec: SweepSpec, out: str | Path, address: str | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run (or resume) a sweep into ``out`` on Ray Tune; write and return the results rows."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ValueError(MISSING_EXTRA) from None
    out = Path(out).resolve()
    trials = spec.trials()
    _claim(out, spec, trials)
    pending = [t for t in trials if not finished(out / "runs" / t.name, spec.algo)]
    errors: dict[str, str] = {}
    if pending:
        if not ray.is_initialized():
            ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False)
        space = [
            {
                "name": t.name,
                "algo": spec.algo,
                "run_dir": str(out / "runs" / t.name),
                "fields": t.fields,
                "episodes": spec.evaluate_episodes,
                "cwd": os.getcwd(),
            }
            for t in pending
        ]
        tuner = tune.Tuner(
            tune.with_resources(lambda config: _tune_trainable(config["trial"]), {"cpu": 1}),
            param_space={"trial": tune.grid_search(space)},
            tune_config=tune.TuneConfig(trial_dirname_creator=lambda trial: trial.config["trial"]["name"]),
            run_config=tune.RunConfig(
                name="ray",
                storage_path=str(out),
                failure_config=tune.FailureConfig(max_failures=0),
                verbose=0,
                callbacks=[progress_callback(len(trials), len(trials) - len(pending), _best(out, trials), progress)],
            ),
        )
        errors = {r.config["trial"]["name"]: _first_line(r.error) for r in tuner.fit() if r.error is not None}
    rows = results_rows(out, trials, errors)
    write_results(out, spec, trials, rows)
    return rows


def _best(out: Path, trials: list[Trial]) -> tuple[float, str]:
    """The best evaluation success among the trials already evaluated, and its trial."""
    best = (-1.0, "")
    for trial in trials:
        evaluation = read_evaluation(out / "runs" / trial.name)
        if evaluation is not None:
            success = evaluation["overall"]["success_rate"]
            if success is not None and success > best[0]:
                best = (success, trial.name)
    return best


def trial_runs(out: str | Path, spec: SweepSpec) -> list[tuple[Trial, Path, bool]]:
    """Each trial of a sweep, its run directory and whether it is finished (trained to its end and
    evaluated): what reports built on sweeps read."""
    runs = Path(out) / "runs"
    return [(t, runs / t.name, finished(runs / t.name, spec.algo)) for t in spec.trials()]


def finished(run_dir: Path, algo: str) -> bool:
    """Whether a trial's run has trained to its end and been evaluated since."""
    checkpoint, evaluation = run_dir / kinds.KINDS[algo].checkpoint, run_dir / EVALUATION
    if not (checkpoint.exists() and evaluation.exists()):
        return False
    return (
        bool(load_checkpoint(checkpoint)[1].get("final")) and evaluation.stat().st_mtime >= checkpoint.stat().st_mtime
    )


def _claim(out: Path, spec: SweepSpec, trials: list[Trial]) -> None:
    """Make ``out`` this sweep's directory, or check that it already is (then the sweep resumes)."""
    record = out / SWEEP_FILE
    if record.exists():
        saved = json.loads(record.read_text())["spec"]
        if saved != json.loads(json.dumps(spec.to_dict())):
            raise RunExistsError(f"{out} holds another sweep (its spec is in {record}): choose another --out")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunExistsError(f"{out} already holds files: a new sweep needs a new or empty directory (another --out)")
    write_json(record, {"spec": spec.to_dict(), "trials": [t.__dict__ for t in trials]})


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    cause = getattr(error, "cause", None) or error.__cause__
    if cause is not None:  # Ray wraps the trial's exception: keep what the trial raised
        text = f"{type(cause).__name__}: {' '.join(str(cause).split())}"
    return text[:300]


def progress_callback(
    total: int, done_before: int = 0, best_before: tuple[float, str] = (-1.0, ""), enabled: bool = True
) -> Any:
    """A Ray Tune callback printing one line per change: trials done, running and failed, and the
    best success so far. (Defined here because Ray is an optional extra.)"""
    from ray.tune import Callback

    class SweepProgress(Callback):
        def __init__(self) -> None:
            self.running: set[str] = set()
            self.done, self.failed, self.best = done_before, 0, best_before

        def show(self, event: str, trial: Any) -> None:
            if enabled:
                best = "-" if self.best[0] < 0 else f"{self.best[0]:.0%} ({self.best[1]})"
                print(
                    f"sweep: {self.done}/{total} done, {len(self.running)} running, {self.failed} failed; "
                    f"best success so far {best}  [{event} {trial.config['trial']['name']}]",
                    flush=True,
                )

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running.add(trial.trial_id)
            self.show("started", trial)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running.discard(trial.trial_id)
            self.done += 1
            success = (trial.last_result or {}).get("success_rate")
            if success is not None and success > self.best[0]:
                self.best = (success, trial.config["trial"]["name"])
            self.show("finished", trial)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running.discard(trial.trial_id)
            self.failed += 1
            self.show("failed", trial)

    return SweepProgress()


# ----------------------------------------------------------------------------------------- results
def results_rows(out: Path, trials: list[Trial], errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per trial, read from its run directory: varied fields, seed, steps, wall-clock,
    the evaluation's overall measures, or the error."""
    rows = []
    for trial in trials:
        run_dir = out / "runs" / trial.name
        row: dict[str, Any] = {"trial": trial.name, **trial.condition, "seed": trial.seed}
        metrics = read_metrics(run_dir) if (run_dir / METRICS).exists() and (run_dir / CONFIG).exists() else []
        row["steps"] = int(metrics[-1]["global_step"]) if metrics else None
        row["wall_clock_s"] = round(metrics[-1]["time_s"], 1) if metrics else None
        evaluation = (read_evaluation(run_dir) or {"overall": {}})["overall"]
        row.update({m: evaluation.get(m) for m in MEASURES})
        row["error"] = errors.get(trial.name, "" if evaluation else "not finished")
        rows.append(row)
    return rows


def write_results(out: Path, spec: SweepSpec, trials: list[Trial], rows: list[dict[str, Any]]) -> None:
    """results.csv, results.md (rows and the per-condition summary) and learning_curves.png."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    text = _csv(columns, rows)
    atomic_write(out / RESULTS_CSV, lambda file: file.write(text.encode()))
    markdown = _markdown(spec, columns, rows)
    atomic_write(out / RESULTS_MD, lambda file: file.write(markdown.encode()))
    _plot_curves(out, trials)


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    import io

    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _markdown(spec: SweepSpec, columns: list[str], rows: list[dict[str, Any]]) -> str:
    varied = [c for c in columns if c not in ("trial", "seed", "steps", "wall_clock_s", "error", *MEASURES)]
    lines = [
        f"# Sweep: {spec.algo}",
        "",
        f"Spec: `{json.dumps(spec.to_dict())}`",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows),
        "",
        "## By condition (median [min, max] over seeds)",
        "",
        "| " + " | ".join([*varied, "seeds", *MEASURES]) + " |",
        "|" + "---|" * (len(varied) + 1 + len(MEASURES)),
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(json.dumps([row.get(c) for c in varied]), []).append(row)
    for members in groups.values():
        cells = [_cell(members[0].get(c)) for c in varied] + [str(len(members))]
        for measure in MEASURES:
            values = [r[measure] for r in members if r.get(measure) is not None]
            cells.append(f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]" if values else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot_curves(out: Path, trials: list[Trial]) -> None:
    figure, axis = subplots(figsize=(7, 4))
    conditions = list(dict.fromkeys(json.dumps(t.condition, sort_keys=True) for t in trials))
    colors = [f"C{i % 10}" for i in range(len(conditions))]
    for trial in trials:
        run_dir = out / "runs" / trial.name
        if not (run_dir / METRICS).exists():
            continue
        rows = [r for r in read_metrics(run_dir) if not math.isnan(r["episode_success"])]
        index = conditions.index(json.dumps(trial.condition, sort_keys=True))
        label = (", ".join(f"{k}={_cell(v)}" for k, v in trial.condition.items()) or "all") if trial.seed == 0 else None
        axis.plot(
            [r["global_step"] / 1e6 for r in rows],
            [100 * r["episode_success"] for r in rows],
            color=colors[index],
            lw=1,
            label=label,
        )
    axis.set(
        xlabel="environment steps (millions)",
        ylabel="rolling training success (%)",
        ylim=(-3, 103),
        title="learning curves by condition (one line per seed)",
    )
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    save_figure(figure, out / CURVES_PNG)


__all__ = ["Range", "SweepSpec", "Trial", "finished", "run_trial", "sweep", "trial_runs"]
