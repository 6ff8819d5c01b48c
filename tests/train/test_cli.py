"""The motorgym command line: train, resume, evaluate, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from motorgym.train.cli import main
from motorgym.train.evaluate import MEASURES

SEEDS_SPEC = Path(__file__).parents[2] / "examples" / "sweeps" / "seeds.yaml"


def test_train_then_evaluate(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--env",
                "motorgym/Reach-v0",
                "--algo",
                "gru-ppo",
                "--total-steps",
                "1024",
                "--num-envs",
                "8",
                "--rollout-steps",
                "32",
                "--num-minibatches",
                "2",
                "--seed",
                "3",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "trained 1,024 steps in 4 updates" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["cell"] == "gru" and config["seed"] == 3 and config["env_id"] == "motorgym/Reach-v0"
    assert main(["train", "--resume", str(out), "--total-steps", "2048", "--no-progress"]) == 0
    assert "trained 2,048 steps in 8 updates" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--episodes", "6", "--json", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "success" in printed
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["overall"]["episodes"] == 6
    assert set(MEASURES) <= set(results["overall"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", "motorgym/Reach-v0"], "--out DIR is required"),
        (["train", "--out", "x", "--num-minibatches", "3"], "num_minibatches must be a divisor of num_envs=64"),
        (["train", "--resume", "x", "--seed", "2"], "--resume continues a run with its own config"),
        (["train", "--out", "x", "--algo", "transformer"], "invalid choice: 'transformer'"),
    ],
)
def test_usage_errors(argv, message, capsys) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_evaluate_a_corrupt_run_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"algo": "lstm-ppo", "env_id": "motorgym/CenterOut-v0"}))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = subprocess.run(
        [sys.executable, "-m", "motorgym.train.cli", "evaluate", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "is not a readable checkpoint" in result.stderr


def test_help_shows_field_docstrings(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--rollout-steps ROLLOUT_STEPS Steps per environment in each rollout (the BPTT length). (default: 64)" in text
    )
    assert "--env ENV_ID Gymnasium id of the task (a motorgym id)." in text
    assert "--seed SEED Seeds everything random in the run" in text  # a field of the shared base config
    assert "``" not in text and ":class:" not in text  # plain text, not reStructuredText
    assert "motorgym collect" not in text  # the top-level examples are not repeated


def test_help_is_plain_text_everywhere(capsys) -> None:
    for command in ("evaluate", "render", "analyze", "collect", "pretrain", "pretrain-policy"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text and ":class:" not in text and ":func:" not in text, command
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "run_dir a run directory (any kind with an agent)" in " ".join(capsys.readouterr().out.split())


def test_sweep_without_its_extra_names_the_extra(monkeypatch, capsys, tmp_path) -> None:
    for module in ("ray", "yaml"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(SystemExit):
        main(["sweep", str(SEEDS_SPEC), "--out", str(tmp_path / "sweep")])
    assert (
        capsys.readouterr().err
        == "motorgym sweep: error: motorgym sweep needs Ray Tune: pip install 'motorgym[sweep]'\n"
    )
    assert not (tmp_path / "sweep").exists()
