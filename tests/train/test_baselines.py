"""The SB3 baselines through the motorgym command: train, resume, evaluate, and safe loading."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from motorgym.agents.checkpoint import CheckpointError
from motorgym.agents.rollout import rollout
from motorgym.train import baselines
from motorgym.train.cli import main
from motorgym.train.evaluate import MEASURES
from motorgym.train.kinds import load_agent
from motorgym.train.progress import read_metrics

SMALL = ["--num-envs", "4", "--n-steps", "64", "--batch-size", "128", "--checkpoint-every", "1", "--no-progress"]


def header(path: Path) -> list[str]:
    with open(path / "metrics.csv", newline="") as file:
        return next(csv.reader(file))


@pytest.fixture(scope="module")
def our_columns(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("ours") / "run"
    small = ["--num-envs", "4", "--rollout-steps", "64", "--num-minibatches", "2", "--no-progress"]
    main(["train", "--env", "motorgym/Reach-v0", "--total-steps", "256", "--out", str(out), *small])
    return header(out)


@pytest.mark.parametrize("algo", ["sb3-rppo", "sb3-ppo"])
def test_train_resume_evaluate_through_the_cli(algo, tmp_path, capsys, our_columns) -> None:
    out = tmp_path / "run"
    argv = ["train", "--algo", algo, "--env", "motorgym/CenterOut-v0", "--total-steps", "512", "--seed", "5"]
    assert main([*argv, "--out", str(out), *SMALL]) == 0
    assert "trained 512 steps in 2 updates" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == algo and config["seed"] == 5 and config["n_steps"] == 64
    assert {"model.zip", "normalizer.pt", "metrics.csv", "tensorboard"} <= {p.name for p in out.iterdir()}
    assert header(out) == our_columns  # the same metrics as our PPO's, success rate included
    assert any((out / "tensorboard").iterdir())
    assert zipfile.is_zipfile(out / "model.zip")  # SB3's own format

    assert main(["train", "--resume", str(out), "--total-steps", "1024", "--no-progress"]) == 0
    assert "trained 1,024 steps in 4 updates" in capsys.readouterr().out
    rows = read_metrics(out)
    assert [r["update"] for r in rows] == [1, 2, 3, 4]
    assert [r["global_step"] for r in rows] == [256, 512, 768, 1024]
    assert all(b["time_s"] > a["time_s"] for a, b in zip(rows, rows[1:], strict=False))

    assert main(["evaluate", str(out), "--episodes", "4"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert results["env_id"] == "motorgym/CenterOut-v0" and results["overall"]["episodes"] == 4
    assert set(MEASURES) <= set(results["overall"])


def test_resume_restores_the_weights_and_the_normalizer(tmp_path) -> None:
    config = baselines.SB3Config(
        algo="sb3-ppo", env_id="motorgym/Reach-v0", num_envs=4, n_steps=32, batch_size=64, total_steps=256
    )
    baselines.train(config, tmp_path, progress=False)
    agent, _, _ = load_agent(tmp_path)
    env = baselines.make_env(baselines.SB3Config(**{**config.__dict__}), seed=0)
    model = baselines.build_model(config, env)
    model.set_parameters(str(tmp_path / "model.zip"))
    for name, tensor in model.policy.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), agent.policy.state_dict()[name].numpy(), err_msg=name)
    baselines._restore_normalizer(env, baselines.load_checkpoint(tmp_path / "normalizer.pt")[0])
    np.testing.assert_array_equal(env.obs_rms.mean, agent.normalizer["obs_mean"])
    assert env.obs_rms.count > 256  # the training's statistics, not a fresh normaliser's
    env.close()


@pytest.fixture(scope="module")
def rppo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rppo")
    config = baselines.SB3Config(
        algo="sb3-rppo", env_id="motorgym/CenterOut-v0", num_envs=2, n_steps=32, batch_size=64, total_steps=64
    )
    baselines.train(config, out, progress=False)
    return out


def test_recurrent_agent_carries_and_resets_its_lstm_state(rppo_run) -> None:
    agent, _, _ = load_agent(rppo_run)
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(6, 2, agent.policy.observation_space.shape[0])).astype(np.float32)
    agent.reset(2)
    first = agent.act(observations[0], np.ones(2))
    for obs in observations[1:]:
        later = agent.act(obs, np.zeros(2))
    # The state carries the history: the same observation now gives another action...
    assert not np.allclose(agent.act(observations[0], np.zeros(2)), first)
    # ...unless the episode starts again, which zeroes the state of that env only.
    agent.act(observations[1], np.zeros(2))
    restarted = agent.act(observations[0], np.array([1.0, 0.0]))
    np.testing.assert_allclose(restarted[0], first[0], rtol=1e-6)
    assert not np.allclose(restarted[1], first[1])
    assert later.shape == (2, 2)


def test_loading_never_unpickles_the_model_data(rppo_run, tmp_path) -> None:
    """SB3 stores some of a model's data cloudpickled; loading rebuilds the model from config.json
    and reads only the tensors, so a hostile payload in model.zip never runs (SB3's own load would)."""
    import base64
    import pickle

    marker = tmp_path / "payload_ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "normalizer.pt"):
        (run / name).write_bytes((rppo_run / name).read_bytes())
    with zipfile.ZipFile(rppo_run / "model.zip") as source, zipfile.ZipFile(run / "model.zip", "w") as target:
        for item in source.namelist():
            content = source.read(item)
            if item == "data":
                data = json.loads(content)
                data["observation_space"][":serialized:"] = base64.b64encode(pickle.dumps(Payload())).decode()
                content = json.dumps(data).encode()
            target.writestr(item, content)
    agent, env_id, _ = load_agent(run)
    assert env_id == "motorgym/CenterOut-v0" and not marker.exists()

    from sb3_contrib import RecurrentPPO

    with pytest.raises(Exception):  # noqa: B017  (the payload returns None where a space belongs)
        RecurrentPPO.load(run / "model.zip")
    assert marker.exists()  # the control: SB3's own loading did run it


def test_bad_runs_give_clear_errors(rppo_run, tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text((rppo_run / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*normalizer.pt"):
        load_agent(run)
    (run / "normalizer.pt").write_bytes((rppo_run / "normalizer.pt").read_bytes())
    with pytest.raises(CheckpointError, match="model.zip is missing"):
        load_agent(run)
    (run / "model.zip").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="not a readable SB3 model"):
        load_agent(run)
    config = json.loads((rppo_run / "config.json").read_text())
    (run / "model.zip").write_bytes((rppo_run / "model.zip").read_bytes())
    (run / "config.json").write_text(json.dumps({**config, "lstm_hidden_size": 32}))
    with pytest.raises(CheckpointError, match="does not hold a sb3-rppo policy"):
        load_agent(run)
    (run / "config.json").write_text(json.dumps({**config, "algo": "sb3-dqn"}))
    with pytest.raises(ValueError, match="unknown algo 'sb3-dqn'"):
        load_agent(run)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--algo", "sb3-ppo", "--out", "x", "--batch-size", "0"], "batch_size must be in [1, num_envs"),
        (["train", "--algo", "sb3-ppo", "--out", "x", "--rollout-steps", "8"], "unrecognized arguments"),
    ],
)
def test_sb3_usage_errors(argv, message, capsys) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_help_lists_the_sb3_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--algo", "sb3-rppo", "--help"])
    text = capsys.readouterr().out
    assert "--lstm-hidden-size" in text and "Units of the LSTM" in text and "--rollout-steps" not in text


def test_render_and_rollout_work_on_an_sb3_run(rppo_run, tmp_path) -> None:
    import imageio.v3 as iio

    out = tmp_path / "rppo.gif"
    assert main(["render", str(rppo_run), "--episodes", "1", "--size", "64", "--out", str(out)]) == 0
    frames = iio.imread(out)
    assert frames.shape[1:3] == (64, 64) and len(frames) > 10
    agent, env_id, env_kwargs = load_agent(rppo_run)
    episodes = rollout(env_id, env_kwargs, agent, 2, seed=0)
    # The LSTM's hidden state is recorded for every step the agent acted on (for motorgym analyze).
    assert all(len(e.hidden) == len(e.hand_pos) - 1 and e.hidden[0].shape == (256,) for e in episodes)


def test_sb3_agent_samples_unless_deterministic(rppo_run) -> None:
    agent = load_agent(rppo_run).agent
    obs = np.random.default_rng(0).normal(size=(2, agent.policy.observation_space.shape[0])).astype(np.float32)

    def first_actions() -> np.ndarray:
        agent.reset(2)
        return agent.act(obs, np.ones(2))

    assert agent.deterministic and np.array_equal(first_actions(), first_actions())
    agent.deterministic = False
    assert not np.array_equal(first_actions(), first_actions())
