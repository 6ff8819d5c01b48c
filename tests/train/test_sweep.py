"""motorgym sweep on Ray Tune: specs checked before anything starts, trials as run directories,
a failing trial recorded while the others finish, and a killed sweep resumed without redoing work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.train.sweep import SweepSpec, sweep

ray = pytest.importorskip("ray", reason="the sweep extra (pip install 'motorgym[sweep]')")
REPO = Path(__file__).parents[2]
TINY = {
    "env_id": "motorgym/Reach-v0",
    "total_steps": 64,
    "num_envs": 2,
    "rollout_steps": 32,
    "num_minibatches": 1,
    "hidden_size": 16,
}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_the_example_spec_is_valid() -> None:
    spec = SweepSpec.load(REPO / "examples" / "sweeps" / "seeds.yaml")
    trials = spec.trials()
    assert [t.seed for t in trials] == [0, 1] and trials[0].fields["minutes"] == 0.5
    assert trials[0].fields["torch_threads"] == trials[0].fields["physics_threads"] == 1  # one CPU each


@pytest.mark.parametrize(
    "data, message",
    [
        ({"algo": "lstm-ppo", "seedz": 2}, "unknown key(s) ['seedz'] in the sweep spec"),
        ({"algo": "dqn"}, "algo must be one of lstm-ppo, gru-ppo, sb3-rppo, sb3-ppo (got 'dqn')"),
        ({"algo": "lstm-ppo", "fixed": {"hiden_size": 8}}, "fixed: 'hiden_size' is not a field of a lstm-ppo run"),
        ({"algo": "lstm-ppo", "vary": {"cell": ["gru"]}}, "vary: 'cell' is not a field"),
        ({"algo": "lstm-ppo", "fixed": {"seed": 3}}, "'seed' is set by the sweep"),
        ({"algo": "lstm-ppo", "vary": {"num_envs": [8, 6]}}, "num_minibatches must be a divisor of num_envs=6"),
        ({"algo": "lstm-ppo", "vary": {"learning_rate": {"low": 1, "high": 0}}}, "learning_rate needs finite numbers"),
        ({"algo": "lstm-ppo", "fixed": {"env_id": "CartPole-v1"}}, "env_id must be a motorgym id"),
        ({"algo": "lstm-ppo", "seeds": 0}, "seeds must be an int >= 1 (got 0)"),
    ],
)
def test_a_bad_spec_is_refused_before_anything_starts(data, message) -> None:
    with pytest.raises(ValueError) as error:
        SweepSpec.from_dict(data)
    assert message in str(error.value)


def test_grid_ranges_and_seeds_make_every_trial_once() -> None:
    spec = SweepSpec.from_dict(
        {
            "algo": "lstm-ppo",
            "fixed": {k: v for k, v in TINY.items() if k != "hidden_size"},
            "vary": {"hidden_size": [8, 16], "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}},
            "samples": 3,
            "seeds": 2,
        }
    )
    trials = spec.trials()
    assert len(trials) == 2 * 3 * 2 and len({t.name for t in trials}) == 12
    rates = {t.condition["learning_rate"] for t in trials}
    assert len(rates) == 6 and all(1e-4 <= r <= 1e-2 for r in rates)
    assert [t.name for t in spec.trials()] == [t.name for t in trials]  # drawn from the spec alone


def test_a_sweep_runs_its_trials_and_records_a_failing_one(tmp_path) -> None:
    spec = SweepSpec.from_dict(
        {
            "algo": "lstm-ppo",
            "fixed": TINY,
            "conditions": [{"init_from": ""}, {"init_from": str(tmp_path / "no-such-run")}],
            "evaluate_episodes": 4,
        }
    )
    rows = sweep(spec, tmp_path / "sweep", progress=False)
    ok, failed = rows
    assert ok["error"] == "" and ok["steps"] == 64 and ok["success_rate"] is not None
    assert "no-such-run is not a run directory" in failed["error"] and failed["success_rate"] is None
    run = tmp_path / "sweep" / "runs" / ok["trial"]
    assert json.loads((run / "config.json").read_text())["algo"] == "lstm-ppo"
    assert (run / "checkpoint.pt").exists() and (run / "evaluation.json").exists()
    assert not (tmp_path / "sweep" / "runs" / failed["trial"]).exists()  # a failing start leaves nothing
    table = (tmp_path / "sweep" / "results.csv").read_text().splitlines()
    assert table[0].startswith("trial,init_from,seed,steps,wall_clock_s,success_rate") and len(table) == 3
    assert "By condition" in (tmp_path / "sweep" / "results.md").read_text()
    assert (tmp_path / "sweep" / "learning_curves.png").stat().st_size > 10_000
    with pytest.raises(FileExistsError, match="holds another sweep"):
        sweep(SweepSpec.from_dict({"algo": "lstm-ppo", "fixed": TINY}), tmp_path / "sweep", progress=False)


def test_a_killed_sweep_resumes_without_redoing_finished_trials(tmp_path) -> None:
    spec_path = tmp_path / "spec.yaml"
    fixed = {**TINY, "total_steps": 1920, "checkpoint_every": 2}
    spec_path.write_text(json.dumps({"algo": "lstm-ppo", "fixed": fixed, "seeds": 3, "evaluate_episodes": 4}))
    out = tmp_path / "sweep"
    # The module's Ray instance, as a running cluster: this also tests --address.
    address = ray.get_runtime_context().gcs_address
    command = [
        sys.executable,
        "-m",
        "motorgym.train.cli",
        "sweep",
        str(spec_path),
        "--out",
        str(out),
        "--address",
        address,
    ]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    evaluations = lambda: sorted(out.glob("runs/*/evaluation.json"))  # noqa: E731
    deadline = time.monotonic() + 120
    while not evaluations() and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # mid-way: at least one trial finished, others under way
    first.wait()
    finished = {path: path.stat().st_mtime_ns for path in evaluations()}
    assert 1 <= len(finished) < 3
    # An unfinished trial with a checkpoint resumes from it: its rows up to the checkpoint stay.
    resumable = {
        run: (load_checkpoint(run / "checkpoint.pt")[1]["update"], (run / "metrics.csv").read_text().splitlines())
        for run in out.glob("runs/*")
        if (run / "checkpoint.pt").exists() and not (run / "evaluation.json").exists()
    }
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "3 of 3 trials finished" in second.stdout
    assert {path: path.stat().st_mtime_ns for path in finished} == finished  # not run again
    assert len(evaluations()) == 3
    for run, (update, rows) in resumable.items():
        assert (run / "metrics.csv").read_text().splitlines()[: update + 1] == rows[: update + 1]
