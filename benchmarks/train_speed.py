"""Training speed: our recurrent PPO against sb3-contrib's RecurrentPPO, same env, same run; and
our PPO on a busy machine.

    python benchmarks/train_speed.py                       # 2 x 90 s per algorithm, about 7 minutes
    python benchmarks/train_speed.py --seconds 30 --rounds 1
    python benchmarks/train_speed.py --busy                # idle vs. busy machine, about 6 minutes

Both train on motorgym/CenterOut-v0 from the native batched env (RecurrentPPO through the SB3
adapter), on the CPU with the same torch thread count. RecurrentPPO uses ``MlpLstmPolicy`` in its
faster configuration on this machine (8 envs, n_steps 128, batch 512, LSTM 256: the zoo's MuJoCo
settings with more envs); ours its defaults (LSTM 128, 64 envs x 64 steps, 4 minibatches, 4 epochs).
Each algorithm trains for ``--seconds``, alternating, ``--rounds`` times; training steps per second
(environment steps collected and learned from, per wall second) are reported as medians, with the
ratio, in a Markdown table written to ``--out``.

``--busy`` instead trains ``motorgym train`` (default settings, a fresh process each time) with the
machine otherwise idle and with one CPU-bound process beside it (a Python busy loop, as any other
program a user runs), alternating, for the default torch threads (1) and for torch's own default
(one per core: ``--torch-threads 0``), and reports steps/s and the busy/idle ratio in
``results/train_speed_busy.md``. Torch's threads spin while they wait for work, against MuJoCo's
threads and the other process; the target is that the defaults keep >= 40% of their idle speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import report_header  # noqa: E402

from motorgym.envs.sb3 import make_sb3_vec_env  # noqa: E402
from motorgym.train.ppo import PPOConfig, train  # noqa: E402
from motorgym.train.progress import read_metrics  # noqa: E402

ENV_ID = "motorgym/CenterOut-v0"


def ours(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(PPOConfig(env_id=ENV_ID, minutes=seconds / 60, total_steps=0), run_dir, progress=False)
    return result.global_step / result.metrics["time_s"]


def recurrent_ppo(seconds: float) -> float:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback

    class StopAfter(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.started = time.perf_counter()

        def _on_step(self) -> bool:
            return time.perf_counter() - self.started < seconds

    venv = make_sb3_vec_env(ENV_ID, num_envs=8, seed=0)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        venv,
        n_steps=128,
        batch_size=512,
        n_epochs=10,
        gae_lambda=0.9,
        gamma=0.99,
        learning_rate=3e-4,
        policy_kwargs={"lstm_hidden_size": 256},
        device="cpu",
        seed=0,
        verbose=0,
    )
    callback = StopAfter()
    model.learn(total_timesteps=10**9, callback=callback)
    elapsed = time.perf_counter() - callback.started
    venv.close()
    return model.num_timesteps / elapsed


def cli_steps_per_s(seconds: float, extra: list[str]) -> float:
    """Steps/s of ``motorgym train`` run for ``seconds`` in a fresh process (its own torch threads)."""
    with tempfile.TemporaryDirectory() as root:
        run_dir = Path(root) / "run"
        command = [sys.executable, "-m", "motorgym.train.cli", "train", "--env", ENV_ID, "--out", str(run_dir)]
        subprocess.run([*command, "--minutes", f"{seconds / 60:g}", "--no-progress", *extra], check=True)
        last = read_metrics(run_dir)[-1]
    return last["global_step"] / last["time_s"]


def busy_machine(seconds: float, rounds: int, out: Path) -> None:
    settings = {"defaults (torch_threads 1)": [], "torch's default threads (torch_threads 0)": ["--torch-threads", "0"]}
    rates: dict[tuple[str, str], list[float]] = {(name, load): [] for name in settings for load in ("idle", "busy")}
    for round_ in range(rounds):
        for name, extra in settings.items():
            rates[(name, "idle")].append(cli_steps_per_s(seconds, extra))
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                rates[(name, "busy")].append(cli_steps_per_s(seconds, extra))
            finally:
                hog.kill()
                hog.wait()
            print(
                f"round {round_ + 1} {name}: idle {rates[(name, 'idle')][-1]:,.0f}, "
                f"busy {rates[(name, 'busy')][-1]:,.0f} steps/s",
                flush=True,
            )
    lines = [
        *report_header(
            "Training speed on a busy machine",
            "train_speed.py --busy",
            {"seconds": seconds, "rounds": rounds},
            {"seconds": 45.0, "rounds": 2},
            f"; torch {torch.__version__}",
        ),
        f"`motorgym train --env {ENV_ID} --minutes {seconds / 60:g}` (otherwise default settings), a fresh process "
        f"each time; busy: one CPU-bound process (a Python busy loop) runs beside it. {rounds} rounds, "
        "alternating; medians.",
        "",
        "| settings | idle steps/s | busy steps/s | busy / idle |",
        "|---|---:|---:|---:|",
    ]
    for name in settings:
        idle, busy = (statistics.median(rates[(name, load)]) for load in ("idle", "busy"))
        lines.append(f"| {name} | {idle:,.0f} | {busy:,.0f} | {busy / idle:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    out.write_text(report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None, help="training time per run (90 s; --busy: 45 s)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="idle against busy machine instead")
    parser.add_argument("--out", type=Path, default=None, help="the report (default: results/train_speed[_busy].md)")
    args = parser.parse_args(argv)
    results = Path(__file__).parent / "results"
    if args.busy:
        busy_machine(args.seconds or 45.0, args.rounds, args.out or results / "train_speed_busy.md")
        return
    args.seconds = args.seconds or 90.0
    args.out = args.out or results / "train_speed.md"
    rates: dict[str, list[float]] = {"sb3-contrib RecurrentPPO (MlpLstmPolicy)": [], "motorgym lstm-ppo": []}
    for round_ in range(args.rounds):
        rates["sb3-contrib RecurrentPPO (MlpLstmPolicy)"].append(recurrent_ppo(args.seconds))
        rates["motorgym lstm-ppo"].append(ours(args.seconds))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} steps/s" for k, v in rates.items()), flush=True)
    baseline = statistics.median(rates["sb3-contrib RecurrentPPO (MlpLstmPolicy)"])
    given = {"seconds": args.seconds, "rounds": args.rounds}
    threads = f"; torch {torch.__version__}, {torch.get_num_threads()} threads"
    lines = [
        *report_header("Training speed", "train_speed.py", given, {"seconds": 90.0, "rounds": 2}, threads),
        f"Env: {ENV_ID}; each algorithm trained {args.seconds:g} s per round, {args.rounds} rounds alternating; "
        "medians.",
        "",
        "| algorithm | training steps/s | x RecurrentPPO |",
        "|---|---:|---:|",
    ]
    for name, values in rates.items():
        rate = statistics.median(values)
        lines.append(f"| {name} | {rate:,.0f} | {rate / baseline:.1f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
