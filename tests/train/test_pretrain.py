"""Trajectory collection, the trajectory predictor, and --init-from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.agents.recurrent import CORE_PREFIXES, PolicySpec, RecurrentActorCritic
from motorgym.train import kinds
from motorgym.train.cli import main
from motorgym.train.collect import DatasetError, collect, load_dataset, load_datasets, save_dataset
from motorgym.train.configs import PretrainConfig
from motorgym.train.kinds import load_predictor
from motorgym.train.pretrain import constant_velocity_prediction, prediction_errors, prediction_targets, pretrain
from tests.conftest import QUIET, collected_file

ENV_ID = "motorgym/CenterOut-v0"


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collected_file(tmp_path_factory, episodes=120, seed=1)


@pytest.fixture(scope="module")
def pretrained(data_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pretrained") / "run"
    config = PretrainConfig(data=str(data_file), hidden_size=64, epochs=25, batch_episodes=16, horizon_steps=10)
    return out, pretrain(config, out, progress=False)


def test_collected_data_holds_consistent_trajectories(data_file) -> None:
    data = load_dataset(data_file, env_id=ENV_ID)
    assert data.metadata["env_id"] == ENV_ID and data.metadata["env_kwargs"] == QUIET
    assert data.metadata["seed"] == 1 and data.metadata["motorgym_version"]
    episodes, steps, obs_dim = data.observations.shape
    assert episodes == 120 and steps == 200 and obs_dim == len(data.metadata["observation_names"])
    # Without noise and at zero delay the seen hand would be the true one; with the 50 ms visual
    # delay, the seen hand at step t is the true hand 5 steps earlier.
    delay = int(data.metadata["visual_delay_ms"] / data.metadata["control_step_ms"])
    t = np.arange(delay, 40)
    np.testing.assert_allclose(data.observations[:, t, :2], data.hand_pos_m[:, t - delay], atol=1e-6)
    # The true states hold the hand, then what proprioception reports 20 ms (2 steps) later.
    assert data.metadata["state_names"][:3] == ["hand_x_m", "hand_y_m", "shoulder_angle_rad"]
    np.testing.assert_allclose(data.states[..., :2], data.hand_pos_m, atol=1e-6)
    np.testing.assert_allclose(data.observations[:, t, 5:], data.states[:, t - 2, 2:], atol=1e-5)
    # Commands wander with a 200 ms correlation time: alike from one 10 ms step to the next,
    # unrelated half a second apart.
    ou_only = collect(ENV_ID, 20, seed=2, env_kwargs=QUIET).actions[:, :100].reshape(20, 100, -1)
    centered = ou_only - ou_only.mean(axis=(0, 1))

    def autocorrelation(lag: int) -> float:
        return float((centered[:, lag:] * centered[:, :-lag]).mean() / centered.var())

    assert autocorrelation(1) > 0.9 and autocorrelation(50) < 0.3
    # Collection is deterministic for a seed.
    again = collect(ENV_ID, 3, seed=1, env_kwargs=QUIET, scripted_fraction=0.5)
    np.testing.assert_array_equal(again.actions, data.actions[:3])


class ConstantAgent:
    """An agent that always commands ``command`` and counts its resets."""

    def __init__(self, command: np.ndarray) -> None:
        self.command, self.resets = command, 0

    def reset(self, num_envs: int) -> None:
        self.resets += 1

    def act(self, obs: np.ndarray, episode_start: np.ndarray) -> np.ndarray:
        return np.repeat(self.command[None], len(obs), axis=0)

    def hidden_state(self) -> None:
        return None


def test_a_policy_drives_its_share_of_the_collected_episodes() -> None:
    command = np.array([0.3, -0.6])
    agent = ConstantAgent(command)
    data = collect(
        ENV_ID, 12, seed=4, env_kwargs=QUIET, ou_sigma=0.0, policy=agent, policy_fraction=1.0, policy_name="p"
    )
    # Without OU noise the commands are the policy's, unchanged; it starts afresh each episode.
    inside = data.step_mask()
    np.testing.assert_allclose(data.actions[inside], np.broadcast_to(command, (inside.sum(), 2)), atol=1e-7)
    assert agent.resets == 12
    assert data.metadata["commands"] | {} == {
        "ou_tau_ms": 200.0,
        "ou_sigma": 0.0,
        "scripted_fraction": 0.0,
        "policy": "p",
        "policy_fraction": 1.0,
    }
    # With scripted episodes too, each episode is driven by one of the two; OU-only episodes would be 0.
    mixed = collect(
        ENV_ID, 16, seed=5, env_kwargs=QUIET, ou_sigma=0.0, scripted_fraction=0.5, policy=agent, policy_fraction=0.5
    )
    by_policy = [np.allclose(mixed.actions[e, : mixed.lengths[e]], command) for e in range(16)]
    assert 0 < sum(by_policy) < 16
    assert all(np.abs(mixed.actions[e]).sum() > 0 for e in range(16))
    # The episode draws, and so the scripted and OU episodes, are those of a collection without policy.
    without = collect(ENV_ID, 6, seed=6, env_kwargs=QUIET, scripted_fraction=0.5)
    with_unused = collect(ENV_ID, 6, seed=6, env_kwargs=QUIET, scripted_fraction=0.5, policy=agent)
    np.testing.assert_array_equal(without.actions, with_unused.actions)
    with pytest.raises(ValueError, match=r"policy_fraction must be in \[0, 1 - scripted_fraction\] = \[0, 0.7\]"):
        collect(ENV_ID, 2, scripted_fraction=0.3, policy=agent, policy_fraction=0.8)
    with pytest.raises(ValueError, match="policy_fraction is 0.5 but no policy was given"):
        collect(ENV_ID, 2, policy_fraction=0.5)


def test_pooled_files_hold_every_episode_of_each(data_file, tmp_path) -> None:
    # Data of another task (here: noisy sensors) cannot be pooled.
    save_dataset(collect(ENV_ID, 2, seed=7), tmp_path / "noisy.npz")
    with pytest.raises(
        DatasetError,
        match=r"noisy.npz cannot be pooled with .*: its env_kwargs is \{\}, not .* \(pooled files must be data of the "
        r"same task; only the cost arguments, \*_weight and state_cost_onset_ms, may differ\)",
    ):
        load_datasets([data_file, tmp_path / "noisy.npz"])
    # Data under other cost weights can: the motion does not depend on them.
    save_dataset(collect(ENV_ID, 2, seed=7, env_kwargs={**QUIET, "speed_weight": 0.7}), tmp_path / "costs.npz")
    costs = load_datasets([data_file, tmp_path / "costs.npz"])
    assert len(costs) == 122 and costs.metadata["env_kwargs"] == QUIET
    first = load_dataset(data_file)
    save_dataset(first.subset(np.arange(5)), tmp_path / "again.npz")
    pooled = load_datasets([data_file, tmp_path / "again.npz"], env_id=ENV_ID)
    assert len(pooled) == 125 and pooled.metadata["episodes"] == 125
    np.testing.assert_array_equal(pooled.actions[120:], first.actions[:5])
    np.testing.assert_array_equal(pooled.states[:120], first.states)
    assert [source["path"] for source in pooled.metadata["sources"]] == [str(data_file), str(tmp_path / "again.npz")]
    assert load_datasets([data_file]).metadata == first.metadata


def test_predictor_beats_constant_velocity_extrapolation(pretrained) -> None:
    out, result = pretrained
    best, baseline = result["best"], result["baseline"]
    assert best["position_rmse_mm"] < 0.6 * baseline["position_rmse_mm"]
    assert best["velocity_rmse_mm_s"] < 0.7 * baseline["velocity_rmse_mm_s"]
    assert (out / "losses.png").stat().st_size > 10_000 and (out / "metrics.csv").exists()
    assert any((out / "tensorboard").iterdir())


def test_constant_velocity_baseline_is_exact_for_uniform_motion() -> None:
    """The reference itself, on a hand moving at constant velocity: no error at any horizon."""
    from motorgym.train.collect import TrajectoryDataset

    steps, velocity = 50, np.array([0.2, -0.1])
    true = (np.arange(steps + 1)[:, None] * 0.01 * velocity)[None].astype(np.float64)
    seen = np.zeros((1, steps, 9))
    seen[0, 5:, :2] = true[0, : steps - 5]  # a 50 ms visual delay
    meta = {"control_step_ms": 10.0, "visual_delay_ms": 50.0}
    data = TrajectoryDataset(seen, np.zeros((1, steps, 2)), true, np.zeros((1, steps + 1, 6)), np.array([steps]), meta)
    targets, mask = prediction_targets(data, 3)
    mask[:, :7] = False  # before the delayed view has two moving samples
    errors = prediction_errors(constant_velocity_prediction(data, 3), targets, mask)
    assert errors["position_rmse_mm"] < 1e-3 and errors["velocity_rmse_mm_s"] < 1e-3  # micrometres


def test_init_from_copies_the_core_into_the_policy(pretrained, tmp_path) -> None:
    out, _ = pretrained
    predictor, _ = load_predictor(out)
    spec = PolicySpec(obs_dim=9, action_low=(-1.0, -1.0), action_high=(1.0, 1.0), hidden_size=64)
    policy = RecurrentActorCritic(spec)
    heads_before = {k: v.clone() for k, v in policy.state_dict().items() if not k.startswith(CORE_PREFIXES)}
    kinds.init_weights(out).load_into(policy)
    core_names = [k for k in policy.state_dict() if k.startswith(CORE_PREFIXES)]
    assert {"obs_normalizer.mean", "encoder.0.weight", "rnn.weight_hh_l0"} <= set(core_names)
    for name in core_names:
        torch.testing.assert_close(policy.state_dict()[name], predictor.state_dict()[name], rtol=0, atol=0)
    for name, tensor in heads_before.items():  # the heads stay as initialised
        torch.testing.assert_close(policy.state_dict()[name], tensor, rtol=0, atol=0)


def test_train_init_from_through_the_cli(pretrained, tmp_path) -> None:
    out, _ = pretrained
    pretrained_count = float(load_predictor(out)[0].obs_normalizer.count)
    run = tmp_path / "run"
    small = ["--num-envs", "4", "--rollout-steps", "32", "--num-minibatches", "2", "--no-progress"]
    argv = ["train", "--env", ENV_ID, "--hidden-size", "64", "--total-steps", "128", "--out", str(run)]
    assert main([*argv, "--init-from", str(out), *small]) == 0
    tensors, meta = load_checkpoint(run / "checkpoint.pt")
    # The normaliser continued from the pretraining's statistics: its count holds both.
    assert float(tensors["policy"]["obs_normalizer.count"]) == pytest.approx(pretrained_count + 128)
    assert meta["config"]["init_from"] == str(out)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--hidden-size", "32"], "shape (32, 9) vs (64, 9)"),
        (["--algo", "gru-ppo", "--hidden-size", "32"], "(gru, hidden 32)"),
    ],
)
def test_init_from_mismatch_names_both_shapes(pretrained, tmp_path, capsys, flags, message) -> None:
    out, _ = pretrained
    run_pretrained = tmp_path / "p"
    if "--algo" in flags:  # a GRU core into an LSTM policy of its size
        pretrain(
            PretrainConfig(data=str(load_predictor(out)[1]["config"]["data"]), cell="gru", hidden_size=32, epochs=1),
            run_pretrained,
            progress=False,
        )
        flags, message = ["--hidden-size", "32"], "(gru, hidden 32) does not match the policy's (lstm, hidden 32)"
    else:
        run_pretrained = out
        message = "does not match the policy's (lstm, hidden 32) at encoder.0.weight: shape (64, 9) vs (32, 9)"
    argv = ["train", "--env", ENV_ID, "--out", str(tmp_path / "run"), "--init-from", str(run_pretrained), *flags]
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def _write(path: Path, **arrays: np.ndarray) -> Path:
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    return path


def test_bad_data_files_give_clear_errors(data_file, tmp_path) -> None:
    with np.load(data_file) as archive:
        good = {k: archive[k] for k in archive.files}
    meta = json.loads(str(good["metadata"]))
    cases = {
        "missing": (tmp_path / "none.npz", "no trajectory file at"),
        "truncated": (tmp_path / "cut.npz", "not a readable trajectory file (truncated or corrupt)"),
        "not npz": (tmp_path / "text.npz", "not a readable trajectory file"),
        "array missing": (_write(tmp_path / "a.npz", **{k: v for k, v in good.items() if k != "actions"}), "lacks"),
        "wrong shape": (
            _write(tmp_path / "s.npz", **{**good, "actions": good["actions"][:, :, :1]}),
            "actions has shape (120, 200, 1), expected (120, 200, 2)",
        ),
        "other format": (
            _write(tmp_path / "f.npz", **{**good, "metadata": np.array(json.dumps({**meta, "format": "x"}))}),
            "expected format 'motorgym-trajectories-v2'",
        ),
        "bad lengths": (_write(tmp_path / "l.npz", **{**good, "lengths": good["lengths"] * 0}), "episode lengths"),
        "wrong state size": (
            _write(tmp_path / "st.npz", **{**good, "states": good["states"][..., :3]}),
            "states has shape (120, 201, 3), expected (120, 201, 6)",
        ),
        "nan": (
            _write(tmp_path / "n.npz", **{**good, "hand_pos_m": good["hand_pos_m"] * np.nan}),
            "hand_pos_m holds NaN",
        ),
    }
    (tmp_path / "cut.npz").write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    (tmp_path / "text.npz").write_text("hello")
    for name, (path, message) in cases.items():
        with pytest.raises(DatasetError, match=None) as caught:
            load_dataset(path)
        assert message in str(caught.value), name
    with pytest.raises(DatasetError, match="holds motorgym/CenterOut-v0 data, not motorgym/Reach-v0"):
        load_dataset(data_file, env_id="motorgym/Reach-v0")


def test_cli_collect_and_pretrain_errors(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["collect", "--episodes", "2", "--out", str(tmp_path / "x.csv")])
    assert "motorgym collect: error: the dataset file must end in .npz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "p")])
    assert "motorgym pretrain: error: no trajectory file at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--data", "x.npz", "--out", str(tmp_path / "p"), "--horizon-steps", "0"])
    assert "horizon_steps must be >= 1" in capsys.readouterr().err
