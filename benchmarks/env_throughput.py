"""Environment throughput: raw MuJoCo physics against motorgym's envs, and Gymnasium's Reacher-v5.

    python benchmarks/env_throughput.py                 # about 4 minutes on 2 cores
    python benchmarks/env_throughput.py --seconds 0.5   # a quick look

For Reach-v0 and MuscleReach-v0: the raw physics of the same model (a tight Python loop of
``mj_step``, one call per 5 ms physics step, two per env step: the single-thread physical limit),
the single env (``gym.make``), Gymnasium's ``SyncVectorEnv`` and ``AsyncVectorEnv`` of 64 single
envs, and the native batched env (``gym.make_vec``) at N = 1, 16, 64, 256 on all cores, plus N = 64
on one thread; then Reacher-v5's raw physics, single env and ``SyncVectorEnv`` (N = 64). Actions
are drawn beforehand. Every configuration is made first, then all are timed in turn, ``--repeats``
rounds of ``--seconds`` each, and the median is reported, so that the load of a shared machine falls
on all of them alike; ratios compare numbers from this one run. Peak memory of the native env at
N = 256 is measured in a fresh process. Writes a Markdown table to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

import motorgym
from motorgym.envs.arm import load_arm_model

N_ACTIONS = 256  # pre-drawn action rows, cycled


@dataclass
class Config:
    """One timed configuration: ``step(k)`` takes the k-th step of ``batch`` environments."""

    env: str
    name: str
    batch: int
    step: Callable[[int], None]
    control_dt_s: float
    rates: list[float] = field(default_factory=list)

    @property
    def env_steps_per_s(self) -> float:
        return statistics.median(self.rates)


def _actions(space: gym.spaces.Box, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(space.low, space.high, size=(N_ACTIONS, *shape, *space.shape)).astype(np.float32)


def raw_physics(env_id: str, model: mujoco.MjModel, n_substeps: int, control_dt_s: float) -> Config:
    data = mujoco.MjData(model)
    low, high = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    ctrl = np.random.default_rng(0).uniform(low, high, size=(N_ACTIONS, model.nu))

    def step(k: int) -> None:
        data.ctrl[:] = ctrl[k % N_ACTIONS]
        for _ in range(n_substeps):
            mujoco.mj_step(model, data)

    return Config(env_id, "raw physics: mj_step loop", 1, step, control_dt_s)


def single_env(env_id: str) -> Config:
    env = gym.make(env_id)
    env.reset(seed=0)
    actions = _actions(env.action_space, ())

    def step(k: int) -> None:
        _, _, terminated, truncated, _ = env.step(actions[k % N_ACTIONS])
        if terminated or truncated:
            env.reset()

    return Config(env_id, "single env (gym.make)", 1, step, env.unwrapped.dt if hasattr(env.unwrapped, "dt") else 0.01)


def vector_env(env_id: str, name: str, num_envs: int, control_dt_s: float, **make_vec_kwargs: object) -> Config:
    envs = gym.make_vec(env_id, num_envs=num_envs, **make_vec_kwargs)
    envs.reset(seed=0)
    actions = _actions(envs.single_action_space, (num_envs,))

    def step(k: int) -> None:
        envs.step(actions[k % N_ACTIONS])

    return Config(env_id, name, num_envs, step, control_dt_s)


def time_config(config: Config, seconds: float) -> None:
    for k in range(5):  # warm-up
        config.step(k)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            config.step(calls)
            calls += 1
    config.rates.append(calls * config.batch / elapsed)


_MEMORY_PROBE = """
import numpy as np, gymnasium as gym, motorgym
def rss_kb(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))
before = rss_kb("VmRSS:")
envs = gym.make_vec("{env_id}", num_envs=256)
envs.reset(seed=0)
space = envs.single_action_space
actions = np.random.default_rng(0).uniform(space.low, space.high, (256, space.shape[0]))
for _ in range(500):
    envs.step(actions)
print(before, rss_kb("VmHWM:"))
"""


def peak_memory_mb(env_id: str) -> tuple[float, float]:
    """(peak RSS of a process that imports motorgym and runs the native env N=256 for 500 steps, its
    RSS after the imports), in MB (Linux: /proc/self/status)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE.format(env_id=env_id)], check=True, capture_output=True, text=True
    ).stdout.split()
    before_kb, peak_kb = map(int, out[-2:])
    return peak_kb / 1024, before_kb / 1024


def report_header(
    title: str, script: str, given: dict[str, float], defaults: dict[str, float], machine_extra: str = ""
) -> list[str]:
    """The first lines of a benchmark's report: its title, the command that made it (the script and
    the options given other than their defaults) and the machine."""
    options = [f"--{name.replace('_', '-')} {value:g}" for name, value in given.items() if value != defaults[name]]
    command = " ".join([f"python benchmarks/{script}", *options])
    return [f"# {title}", "", f"Command: `{command}`  ", f"Machine: {machine_line()}{machine_extra}  "]


def command_line(script: str, argv: list[str] | None = None, hidden: tuple[str, ...] = ()) -> str:
    """The command as typed: ``python benchmarks/SCRIPT`` and its arguments (``sys.argv`` when
    ``argv`` is None), without each option in ``hidden`` and its value (e.g. a long ``--note``)."""
    arguments, shown = list(sys.argv[1:] if argv is None else argv), []
    while arguments:
        argument = arguments.pop(0)
        if argument in hidden:
            arguments = arguments[1:]  # its value
        elif not argument.startswith(tuple(f"{option}=" for option in hidden)):
            shown.append(argument)
    return shlex.join(["python", f"benchmarks/{script}", *shown])


def sweep_benchmark_parser(doc: str | None, root: str, out: Path) -> argparse.ArgumentParser:
    """The options of a benchmark that trains its runs by ``motorgym sweep`` and reports them:
    where the runs live, a Ray cluster, report only, and the report's path."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(root), help="where the runs live")
    parser.add_argument("--address", help="a running Ray cluster (default: this machine)")
    parser.add_argument("--report-only", action="store_true", help="do not train; report the runs found")
    parser.add_argument("--out", type=Path, default=out)
    return parser


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, MuJoCo {mujoco.__version__}, "
        f"Gymnasium {gym.__version__}, NumPy {np.__version__}, motorgym {motorgym.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per configuration and round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_throughput.md")
    args = parser.parse_args(argv)

    configs: list[Config] = []
    for env_id, kind in (("motorgym/Reach-v0", "torque"), ("motorgym/MuscleReach-v0", "muscle")):
        probe = gym.make(env_id).unwrapped
        dt = probe.config.control_step_ms / 1000.0
        configs.append(raw_physics(env_id, load_arm_model(kind), probe.arm.n_substeps, dt))
        configs.append(single_env(env_id))
        configs[-1].control_dt_s = dt
        configs.append(vector_env(env_id, "SyncVectorEnv", 64, dt, vectorization_mode="sync"))
        configs.append(vector_env(env_id, "AsyncVectorEnv", 64, dt, vectorization_mode="async"))
        for n in (1, 16, 64, 256):
            configs.append(vector_env(env_id, "native batched (gym.make_vec)", n, dt))
        configs.append(vector_env(env_id, "native batched, 1 thread", 64, dt, num_threads=1))
    reacher = gym.make("Reacher-v5").unwrapped
    reacher_dt = reacher.dt
    configs.append(raw_physics("Reacher-v5", reacher.model, reacher.frame_skip, reacher_dt))
    configs.append(single_env("Reacher-v5"))
    configs[-1].control_dt_s = reacher_dt
    configs.append(vector_env("Reacher-v5", "SyncVectorEnv", 64, reacher_dt, vectorization_mode="sync"))

    for round_ in range(args.repeats):
        for config in configs:
            time_config(config, args.seconds)
        print(f"round {round_ + 1}/{args.repeats} done", flush=True)

    memory = {env_id: peak_memory_mb(env_id) for env_id in ("motorgym/Reach-v0", "motorgym/MuscleReach-v0")}
    report = render_report(configs, memory, args)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)


def _lookup(configs: list[Config], env: str, name: str, batch: int) -> Config:
    return next(c for c in configs if c.env == env and c.name == name and c.batch == batch)


def render_report(configs: list[Config], memory: dict[str, tuple[float, float]], args: argparse.Namespace) -> str:
    given = {"seconds": args.seconds, "repeats": args.repeats}
    lines = [
        *report_header("Environment throughput", "env_throughput.py", given, {"seconds": 2.0, "repeats": 3}),
        f"Median of {args.repeats} rounds of {args.seconds:g} s per configuration, all configurations timed in "
        "turn in one run. Env steps are control steps (10 ms for motorgym, 20 ms for Reacher-v5); "
        '"raw" is a Python loop of `mj_step` on the same model, one call per physics step.',
        "",
        "| env | configuration | N | env steps/s | simulated s per wall s | x raw physics | x SyncVectorEnv (N=64) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in configs:
        raw = _lookup(configs, c.env, "raw physics: mj_step loop", 1).env_steps_per_s
        sync = _lookup(configs, c.env, "SyncVectorEnv", 64).env_steps_per_s
        rate = c.env_steps_per_s
        lines.append(
            f"| {c.env} | {c.name} | {c.batch} | {rate:,.0f} | {rate * c.control_dt_s:,.0f} | "
            f"{rate / raw:.2f} | {rate / sync:.1f} |"
        )
    lines += ["", "Peak memory (RSS) of a process running the native env at N = 256 for 500 steps:", ""]
    for env_id, (peak, imports) in memory.items():
        lines.append(
            f"- {env_id}: {peak:,.0f} MB, of which {imports:,.0f} MB after importing numpy, "
            f"gymnasium and motorgym ({peak - imports:,.0f} MB for 256 environments)"
        )
    lines += ["", "## Targets (issue 3)", "", "| target | measured | met |", "|---|---|---|"]
    for env_id in ("motorgym/Reach-v0", "motorgym/MuscleReach-v0"):
        raw = _lookup(configs, env_id, "raw physics: mj_step loop", 1).env_steps_per_s
        sync = _lookup(configs, env_id, "SyncVectorEnv", 64).env_steps_per_s
        native = _lookup(configs, env_id, "native batched (gym.make_vec)", 64)
        single = _lookup(configs, env_id, "single env (gym.make)", 1).env_steps_per_s
        checks = [
            (
                f"{env_id} native N=64 >= 5x SyncVectorEnv N=64",
                f"{native.env_steps_per_s / sync:.1f}x",
                native.env_steps_per_s >= 5 * sync,
            ),
            (
                f"{env_id} native N=64 >= 0.6x raw physics (single thread)",
                f"{native.env_steps_per_s / raw:.2f}x",
                native.env_steps_per_s >= 0.6 * raw,
            ),
            (f"{env_id} single env >= 0.5x raw physics", f"{single / raw:.2f}x", single >= 0.5 * raw),
        ]
        if env_id == "motorgym/MuscleReach-v0":
            sim = native.env_steps_per_s * native.control_dt_s
            checks.append(
                (
                    f"{env_id} native N=64 >= 670 simulated s per wall s (MotorNet arm26, batch 64)",
                    f"{sim:,.0f}",
                    sim >= 670,
                )
            )
        lines += [f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.platform.startswith("linux"):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    main()
