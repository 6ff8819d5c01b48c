"""Training speed: our recurrent PPO against sb3-contrib's RecurrentPPO, same env, same run.

    python benchmarks/train_speed.py                       # 2 x 90 s per algorithm, about 7 minutes
    python benchmarks/train_speed.py --seconds 30 --rounds 1

Both train on motorgym/CenterOut-v0 from the native batched env (RecurrentPPO through the SB3
adapter), on the CPU with the same torch thread count. RecurrentPPO uses ``MlpLstmPolicy`` in its
faster configuration on this machine (8 envs, n_steps 128, batch 512, LSTM 256: the zoo's MuJoCo
settings with more envs); ours its defaults (LSTM 128, 64 envs x 64 steps, 4 minibatches, 4 epochs).
Each algorithm trains for ``--seconds``, alternating, ``--rounds`` times; training steps per second
(environment steps collected and learned from, per wall second) are reported as medians, with the
ratio, in a Markdown table written to ``--out``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import machine_line  # noqa: E402

from motorgym.envs.sb3 import make_sb3_vec_env  # noqa: E402
from motorgym.train.ppo import PPOConfig, train  # noqa: E402

ENV_ID = "motorgym/CenterOut-v0"


def ours(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(PPOConfig(env_id=ENV_ID, minutes=seconds / 60, total_steps=10**12), run_dir, progress=False)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90.0, help="training time per algorithm and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_speed.md")
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {"sb3-contrib RecurrentPPO (MlpLstmPolicy)": [], "motorgym lstm-ppo": []}
    for round_ in range(args.rounds):
        rates["sb3-contrib RecurrentPPO (MlpLstmPolicy)"].append(recurrent_ppo(args.seconds))
        rates["motorgym lstm-ppo"].append(ours(args.seconds))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} steps/s" for k, v in rates.items()), flush=True)
    baseline = statistics.median(rates["sb3-contrib RecurrentPPO (MlpLstmPolicy)"])
    command = "python benchmarks/train_speed.py" + (
        "" if (args.seconds, args.rounds) == (90.0, 2) else f" --seconds {args.seconds:g} --rounds {args.rounds}"
    )
    lines = [
        "# Training speed",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads  ",
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
