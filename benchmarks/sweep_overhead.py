"""What a sweep costs: N seeds run by ``motorgym sweep`` against the same runs started one by one.

    python benchmarks/sweep_overhead.py                     # 4 seeds x 1 min: about 8 minutes
    python benchmarks/sweep_overhead.py --seeds 2 --minutes 0.5

The same N runs (lstm-ppo on CenterOut-v0, ``--minutes`` of training each, one torch and one physics
thread as a sweep pins them, then 200 evaluation episodes) are run twice on this machine: one after
another (``motorgym train`` then ``motorgym evaluate``, each a fresh process), and as one
``motorgym sweep`` (Ray Tune started embedded, one CPU per trial, as many trials at a time as cores).
A perfect scheduler runs the sweep in the one-by-one time divided by the cores; the overhead is how
much longer it takes (Ray's start, the workers' imports, scheduling gaps). While the sweep runs, the
machine's CPU use is sampled from /proc/stat: how busy both cores were. Writes
``results/sweep_overhead.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import report_header  # noqa: E402

ENV_ID = "motorgym/CenterOut-v0"
RESULTS = Path(__file__).parent / "results"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "motorgym.train.cli", *args]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class CpuSampler:
    """The machine's CPU use (0-1 of all cores) between start and stop, sampled every second."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        busy, total = cpu_times()
        while not self._stop.wait(1.0):
            now_busy, now_total = cpu_times()
            if now_total > total:
                self.samples.append((now_busy - busy) / (now_total - total))
            busy, total = now_busy, now_total

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def one_by_one(root: Path, seeds: int, minutes: float) -> float:
    started = time.perf_counter()
    for seed in range(seeds):
        run = root / f"seed{seed}"
        train = ["train", "--env", ENV_ID, "--minutes", f"{minutes:g}", "--seed", str(seed), "--out", str(run)]
        subprocess.run(cli(*train, "--torch-threads", "1", "--physics-threads", "1", "--no-progress"), check=True)
        subprocess.run(cli("evaluate", str(run), "--episodes", "200"), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def as_sweep(root: Path, seeds: int, minutes: float) -> tuple[float, list[float]]:
    spec = root / "spec.yaml"
    fixed = {"env_id": ENV_ID, "minutes": minutes, "total_steps": 0}
    spec.write_text(json.dumps({"algo": "lstm-ppo", "fixed": fixed, "seeds": seeds, "evaluate_episodes": 200}))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    started = time.perf_counter()
    with CpuSampler() as sampler:
        subprocess.run(cli("sweep", str(spec), "--out", str(root / "sweep"), "--no-progress"), check=True, env=env)
    return time.perf_counter() - started, sampler.samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=1.0, help="training time of each run")
    parser.add_argument("--out", type=Path, default=RESULTS / "sweep_overhead.md")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as root:
        sequential_s = one_by_one(Path(root) / "one_by_one", args.seeds, args.minutes)
        sweep_s, samples = as_sweep(Path(root), args.seeds, args.minutes)
    ideal_s = sequential_s / min(cores, args.seeds)
    busy = sum(samples) / len(samples) if samples else float("nan")
    given = {"seeds": args.seeds, "minutes": args.minutes}
    report = "\n".join(
        [
            *report_header("Sweep overhead", "sweep_overhead.py", given, {"seeds": 4, "minutes": 1.0}),
            f"{args.seeds} runs of lstm-ppo on {ENV_ID}, {args.minutes:g} min of training each (one torch and one "
            "physics thread), then 200 evaluation episodes: one after another, and as one `motorgym sweep` "
            f"(Ray Tune embedded, one CPU per trial, {cores} cores). Run one after the other, in one session.",
            "",
            "| | wall-clock |",
            "|---|---:|",
            f"| one by one | {sequential_s:.0f} s |",
            f"| perfect use of {cores} cores (one by one / {min(cores, args.seeds)}) | {ideal_s:.0f} s |",
            f"| motorgym sweep | {sweep_s:.0f} s |",
            "",
            f"Sweep overhead over a perfect scheduler: **{sweep_s / ideal_s - 1:.1%}** (target: under 10%); "
            f"the sweep is {sequential_s / sweep_s:.2f}x as fast as one by one. While it ran, the cores were "
            f"**{busy:.0%}** busy on average ({len(samples)} one-second samples of /proc/stat).",
            "",
        ]
    )
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
