"""Runs written by the previous version (tests/fixtures/old_runs: PPO's config.json without ``algo``)
still evaluate, render, analyse, resume and initialise new runs, through the table of run kinds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from motorgym.train import adapt, kinds
from motorgym.train.cli import main

OLD_RUNS = Path(__file__).parents[1] / "fixtures" / "old_runs"
AGENT_KINDS = ["lstm-ppo", "gru-ppo", "sb3-rppo", "sb3-ppo", "model-based"]


@pytest.fixture
def old_run(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return Path(shutil.copytree(OLD_RUNS / request.param, tmp_path / request.param))


#: Kinds that did not exist when the fixtures were written (no run of theirs is older than this version).
NEWER_KINDS = {"adapt"}


def test_every_kind_has_a_fixture_and_is_recognised() -> None:
    fixtures = sorted(p.name for p in OLD_RUNS.iterdir() if p.is_dir())
    assert fixtures == sorted(set(kinds.KINDS) - NEWER_KINDS) and NEWER_KINDS <= set(kinds.KINDS)
    for name in fixtures:
        assert kinds.kind_of(OLD_RUNS / name).name == name
    assert "algo" not in json.loads((OLD_RUNS / "lstm-ppo" / "config.json").read_text())  # the guess is needed


@pytest.mark.parametrize("old_run", AGENT_KINDS, indirect=True)
def test_evaluate_render_and_analyze_an_old_run(old_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["evaluate", str(old_run), "--episodes", "3"]) == 0
    assert json.loads((old_run / "evaluation.json").read_text())["overall"]["episodes"] == 3
    video = tmp_path / "reach.gif"
    render = ["render", str(old_run), "--episodes", "1", "--size", "32", "--frame-every", "20", "--out", str(video)]
    assert main(render) == 0
    assert video.stat().st_size > 0 and video.with_suffix(".png").exists()
    # An untrained run: analyze writes what it can, says what is missing, and exits 0.
    capsys.readouterr()
    assert main(["analyze", str(old_run), "--episodes", "8"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("note: only") and "jPCA and tuning need reaches" in printed
    analysis = json.loads((old_run / "figures" / "analysis.json").read_text())
    assert analysis["run_dir"] == ".."  # relative to the figures, not this machine's absolute path
    assert (old_run / "figures" / "hand_paths.png").exists() and analysis["jpca_ratio"] is None


@pytest.mark.parametrize("old_run", ["lstm-ppo", "sb3-ppo"], indirect=True)
def test_resume_an_old_run(old_run: Path, capsys) -> None:
    saved = kinds.KINDS[kinds.kind_of(old_run).name].config(json.loads((old_run / "config.json").read_text()))
    rows_before = (old_run / "metrics.csv").read_text().splitlines()
    total = 2 * saved.total_steps
    assert main(["train", "--resume", str(old_run), "--total-steps", str(total), "--no-progress"]) == 0
    assert f"trained {total:,} steps" in capsys.readouterr().out
    config = json.loads((old_run / "config.json").read_text())
    assert config["algo"] == old_run.name and config["total_steps"] == total  # now names its kind
    rows = (old_run / "metrics.csv").read_text().splitlines()
    assert rows[: len(rows_before)] == rows_before and len(rows) > len(rows_before)


@pytest.mark.parametrize("pretrained", ["pretrain", "model-based"])
def test_init_from_an_old_pretraining_run(pretrained: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", "--env", "motorgym/CenterOut-v0", "--hidden-size", "8", "--total-steps", "64", "--out", str(out)]
    small = ["--num-envs", "2", "--rollout-steps", "32", "--num-minibatches", "1", "--no-progress"]
    assert main([*argv, "--init-from", str(OLD_RUNS / pretrained), *small]) == 0
    assert json.loads((out / "config.json").read_text())["init_from"] == str(OLD_RUNS / pretrained)


def test_an_old_pretraining_run_is_an_adapt_source() -> None:
    """A model-based run from before activity regularisation adapts without it (weights 0)."""
    tensors, network, kind = adapt._source_policy(OLD_RUNS / "model-based", "cpu", "learned-arm")
    assert kind == "model-based" and "policy" in tensors
    assert [network[k] for k in ("activity_l2", "activity_change_l2", "command_change_l2")] == [0.0, 0.0, 0.0]


def test_fixtures_hold_no_absolute_paths() -> None:
    for path in OLD_RUNS.rglob("*.json"):
        assert "/tmp/" not in path.read_text() and os.sep + "work" + os.sep not in path.read_text(), path
