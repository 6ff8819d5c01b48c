"""Nothing lost, nothing cryptic: a run's history survives resumes, kills and full disks; no command
writes into a run (or a data file) it did not make; bad commands are one line and leave nothing."""

from __future__ import annotations

import errno
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from motorgym.agents import checkpoint
from motorgym.train.cli import main
from motorgym.train.collect import collect, save_dataset
from motorgym.train.run_dir import write_json

OLD_RUNS = Path(__file__).parents[1] / "fixtures" / "old_runs"
SMALL = ["--num-envs", "4", "--rollout-steps", "16", "--num-minibatches", "1", "--checkpoint-every", "1"]


def train_small(out: Path, total_steps: int, *extra: str) -> None:
    argv = ["train", "--env", "motorgym/CenterOut-v0", "--total-steps", str(total_steps), "--out", str(out)]
    assert main([*argv, *SMALL, "--no-progress", *extra]) == 0


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run a command that must fail; return its stderr, checked to be one 'motorgym CMD: error:' line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code not in (0, None)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"motorgym {argv[0]}: error: "), err
    return err


def copy_run(kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(OLD_RUNS / kind, tmp_path / kind))


# ------------------------------------------------------------------------------ the learning curve
def test_resuming_a_finished_run_keeps_its_metrics(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    train_small(run, 128)
    before = (run / "metrics.csv").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert "has used up its budget (128 steps): nothing to train" in capsys.readouterr().out
    assert (run / "metrics.csv").read_bytes() == before and len(before.splitlines()) == 3


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_resumed_run_killed_before_its_first_new_row_keeps_its_metrics(tmp_path, sig) -> None:
    run = tmp_path / "run"
    # Big rollouts: the resumed run spends seconds before its first new row.
    argv = ["train", "--env", "motorgym/CenterOut-v0", "--total-steps", "8192", "--out", str(run), "--no-progress"]
    assert main([*argv, "--num-envs", "64", "--rollout-steps", "64", "--checkpoint-every", "1"]) == 0
    before = (run / "metrics.csv").read_text().splitlines()
    events = set((run / "tensorboard").iterdir())
    resumed = subprocess.Popen(
        [sys.executable, "-m", "motorgym.train.cli", "train", "--resume", str(run), "--total-steps", "10000000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # A shell's background job ignores SIGINT, and a child inherits that: the run would never see it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while set((run / "tensorboard").iterdir()) == events and time.monotonic() < deadline:
        time.sleep(0.01)  # the resumed run has opened its log (after dropping no rows) ...
    resumed.send_signal(sig)  # ... and is killed within its first rollout
    resumed.wait(timeout=60)
    after = (run / "metrics.csv").read_text().splitlines()
    assert after[: len(before)] == before, (sig, len(after))


def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_metrics(tmp_path, capsys, monkeypatch) -> None:
    run = tmp_path / "run"
    train_small(run, 128)
    before = (run / "metrics.csv").read_text()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    err = one_line_error(capsys, ["train", "--resume", str(run), "--total-steps", "256", "--no-progress"])
    assert f"could not write {run / 'checkpoint.pt'}: No space left on device" in err
    assert (run / "metrics.csv").read_text().startswith(before)
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--total-steps", "256", "--no-progress"]) == 0  # from update 8


# -------------------------------------------------------------------------- runs of another kind
@pytest.mark.parametrize(
    "kind, argv",
    [
        ("lstm-ppo", ["train", "--algo", "sb3-ppo", "--total-steps", "64"]),
        ("sb3-rppo", ["train", "--algo", "lstm-ppo", "--total-steps", "64"]),
        ("lstm-ppo", ["pretrain", "--data", "DATA"]),
        ("pretrain", ["train", "--total-steps", "64"]),
        ("model-based", ["pretrain-policy", "--data", "DATA"]),
        ("gru-ppo", ["train", "--algo", "gru-ppo", "--total-steps", "64"]),
    ],
)
def test_an_existing_run_of_any_kind_is_refused_with_the_same_message(kind, argv, tmp_path, capsys) -> None:
    run = copy_run(kind, tmp_path)
    data = tmp_path / "data.npz"
    save_dataset(collect("motorgym/CenterOut-v0", 3, seed=0), data)
    files = {p.name: p.read_bytes() for p in run.iterdir()}
    argv = [str(data) if a == "DATA" else a for a in argv]
    err = one_line_error(capsys, [*argv, "--out", str(run)])
    assert f"{run} already holds a run: a new run needs a new or empty directory (another --out)" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == files


def test_collect_never_overwrites_a_data_file(tmp_path, capsys) -> None:
    data = tmp_path / "data.npz"
    data.write_bytes(b"someone's data")
    err = one_line_error(capsys, ["collect", "--episodes", "1", "--out", str(data)])
    assert "already exists: choose another file (a data file is never overwritten)" in err
    assert data.read_bytes() == b"someone's data"


# ------------------------------------------------------------------------------- bad commands
@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", "motorgym/Nope-v0"], "env_id must be a motorgym id: one of motorgym/Reach-v0"),
        (["train", "--env", "CartPole-v1"], "(got 'CartPole-v1')"),
        (["train", "--env-kwargs", "[1, 2]"], "env_kwargs must be a JSON object of keyword arguments (got [1, 2])"),
        (["train", "--env-kwargs", '{"n_target": 3}'], "got unknown argument(s) 'n_target'"),
        (["train", "--algo", "sb3-ppo", "--env", "motorgym/Nope-v0"], "env_id must be a motorgym id"),
        (["render", "--env", "motorgym/Nope-v0", "--out", "OUT.gif"], "env_id must be a motorgym id"),
        (["render", "--frame-every", "0", "--out", "OUT.gif"], "--frame-every must be >= 1 (got 0)"),
        (["collect", "--env", "motorgym/Nope-v0", "--episodes", "1", "--out", "OUT.npz"], "must be a motorgym id"),
        (["pretrain", "--data", "DATA", "--horizon-steps", "500"], "horizon_steps must be below the longest episode"),
        (["train", "--minutes", "0", "--total-steps", "0"], "total_steps must be > 0, or minutes > 0 (a budget)"),
        (["evaluate", "OLD/pretrain"], "is a pretrain run (a trajectory predictor"),
        (["train", "--init-from", "OLD/lstm-ppo"], "--init-from takes a pretraining run of pretrain"),
        (["train", "--resume", "OLD/pretrain"], "is a pretrain run: --resume continues runs of lstm-ppo"),
    ],
)
def test_bad_commands_are_one_line_and_leave_nothing(argv, message, tmp_path, capsys) -> None:
    data = tmp_path / "data.npz"
    save_dataset(collect("motorgym/CenterOut-v0", 3, seed=0), data)
    out = tmp_path / "out"
    argv = [a.replace("OUT", str(out)).replace("DATA", str(data)).replace("OLD", str(OLD_RUNS)) for a in argv]
    if argv[0] in ("train", "pretrain") and "--resume" not in argv:
        argv += ["--out", str(out)]
    assert message in one_line_error(capsys, argv)
    assert not out.exists() and not out.with_suffix(".gif").exists() and not out.with_suffix(".npz").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path, capsys) -> None:
    for argv in (
        ["train", "--device", "cuda", "--out", str(tmp_path / "run")],
        ["evaluate", str(OLD_RUNS / "lstm-ppo"), "--device", "cuda"],
    ):
        assert "device must be cpu on this machine: torch finds no CUDA device" in one_line_error(capsys, argv)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- budgets and JSON
def test_minutes_alone_is_a_time_budget_with_annealing(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    argv = ["train", "--env", "motorgym/Reach-v0", "--minutes", "0.05", "--out", str(run), *SMALL]
    assert main(argv) == 0
    assert "s/s" not in capsys.readouterr().err  # the progress bar counts seconds and shows steps/s
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "lstm-ppo" and config["total_steps"] == 0 and config["minutes"] == 0.05
    rates = [float(line.split(",")[5]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert rates[0] > rates[-1] > 0 and rates == sorted(rates, reverse=True)  # annealed over the 3 s


def test_sb3_reports_the_steps_it_trained_on(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    argv = ["train", "--algo", "sb3-ppo", "--env", "motorgym/Reach-v0", "--minutes", "0.05", "--out", str(run)]
    assert main([*argv, "--num-envs", "4", "--n-steps", "32", "--batch-size", "64", "--no-progress"]) == 0
    last_row = (run / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert f"trained {int(last_row[1]):,} steps in {last_row[0]} updates" in capsys.readouterr().out
    assert int(last_row[1]) == 128 * int(last_row[0])


def test_evaluation_json_is_strict(tmp_path) -> None:
    run = copy_run("lstm-ppo", tmp_path)
    assert main(["evaluate", str(run), "--episodes", "4", "--json", str(tmp_path / "copy.json")]) == 0
    for path in (run / "evaluation.json", tmp_path / "copy.json"):
        results = json.loads(path.read_text(), parse_constant=lambda name, path=path: pytest.fail(f"{path}: {name}"))
        assert results["overall"]["episodes"] == 4


def test_json_is_written_strictly(tmp_path) -> None:
    write_json(tmp_path / "x.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1.0, None], "c": {"d": None}}
