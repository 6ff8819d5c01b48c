"""Model-based pretraining: the learned arm, imagined trials that mirror the env, policy training
through the learned arm, and --init-from with its policy."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from motorgym.agents.agent import RecurrentAgent
from motorgym.agents.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from motorgym.agents.learned_arm import next_activation
from motorgym.agents.recurrent import ACTOR_PREFIXES, PolicySpec, RecurrentActorCritic
from motorgym.envs.arm import Arm
from motorgym.train import kinds
from motorgym.train.analyze import training_metrics
from motorgym.train.cli import main
from motorgym.train.collect import collect, load_dataset, load_datasets, save_dataset
from motorgym.train.configs import ModelBasedConfig, PPOConfig
from motorgym.train.kinds import load_policy_file
from motorgym.train.model_based import (
    TrialSource,
    arm_errors,
    false_start_cost,
    fit_learned_arm,
    imagine,
    load_learned_arm,
    policy_for,
    pretrain_policy,
    validation_windows,
)
from motorgym.train.ppo import build_learner
from motorgym.train.pretrain import split_episodes
from motorgym.train.progress import read_metrics
from motorgym.train.run_dir import LEARNED_ARM, PRETRAINED_POLICY, read_config
from tests.conftest import QUIET, collected_file

ENV_ID = "motorgym/CenterOut-v0"
SMALL = dict(
    hidden_size=32,
    arm_hidden_size=128,
    arm_iterations=400,
    arm_batch_windows=128,
    policy_iterations=40,
    batch_trials=16,
    policy_learning_rate=3e-3,
    eval_every=20,
    eval_episodes=8,
    torch_threads=1,
)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collected_file(tmp_path_factory, episodes=80, seed=3)


@pytest.fixture(scope="module")
def pretrained(data_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model_based") / "run"
    return out, pretrain_policy(ModelBasedConfig(data=str(data_file), **SMALL), out, progress=False)


class MuJoCoArm:
    """A perfect "learned arm": steps a real env with the command and reports its sensed state."""

    def __init__(self, env: gym.Env) -> None:
        self.env, self.observations, self.rewards = env, [], []

    def __call__(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        obs, reward, *_ = self.env.step(command[0].detach().numpy())
        self.observations.append(obs)
        self.rewards.append(reward)
        return torch.as_tensor(self.env.unwrapped.arm.sensed_state(), dtype=torch.float32)


COSTS = {"activation_weight": 2.0, "activation_change_weight": 50.0, "time_weight": 0.3, "false_start_weight": 0.5}


@pytest.mark.parametrize(
    "env_id, extra",
    [
        ("motorgym/CenterOut-v0", {}),
        ("motorgym/MuscleCenterOut-v0", {}),
        ("motorgym/CenterOut-v0", {"go_cue_latency_ms": 200.0, "time_weight": 0.3}),
        ("motorgym/MuscleCenterOut-v0", COSTS),
        ("motorgym/CenterOut-v0", {"go_cue_latency_ms": 100.0, "state_cost_onset_ms": 200.0}),
        ("motorgym/MuscleCenterOut-v3", {"speed_weight": 0.0}),  # speed: its own test
    ],
)
def test_imagined_trials_see_and_cost_what_the_env_does(env_id: str, extra: dict) -> None:
    """With MuJoCo itself as the arm, an imagined trial's observations (delays, go cue and its
    processing latency, layout, bounds) are the env's, step for step, and its cost (every term but
    hand speed) is the env's mean negative reward."""
    kwargs = {**QUIET, **extra}
    source = TrialSource(env_id, kwargs, 1, torch.device("cpu"))
    rng = np.random.default_rng(5)
    trials = source.draw(rng)
    task = source.core.task
    while task.catch_trial[0]:
        trials = source.draw(rng)
    env = gym.make(env_id, **kwargs)
    delay_ms = (task.end_step[0] - task.response_steps) * source.config.control_step_ms
    first_obs, _ = env.reset(
        seed=0,
        options={"target_index": int(task.target_index[0]), "delay_ms": float(delay_ms), "catch_trial": False},
    )
    policy = RecurrentActorCritic(
        PolicySpec(len(first_obs), tuple(env.action_space.low), tuple(env.action_space.high), hidden_size=16)
    )
    torch.nn.init.normal_(policy.actor_mean.weight, std=1.0)  # a policy that moves the arm
    seen = []
    normalize = policy.obs_normalizer.normalize
    policy.obs_normalizer.normalize = lambda obs: seen.append(obs.detach().clone()) or normalize(obs)
    arm = MuJoCoArm(env)
    with torch.no_grad():
        loss, stats = imagine(policy, arm, trials, source)
    steps = len(arm.rewards)
    assert steps == int(trials.in_trial.sum()) > 80  # the whole trial: delay and response window
    imagined = torch.cat(seen).numpy()
    env_obs = np.array([first_obs, *arm.observations[:-1]])
    np.testing.assert_allclose(imagined, env_obs, atol=1e-5)
    go = env_obs[:, 4]
    assert go[0] == 0 and go[-1] == 1  # the go cue came, and was seen late by the visual delay
    assert float(loss) == pytest.approx(-np.mean(arm.rewards), rel=1e-5)
    env.close()
    source.close()


def test_learned_arm_predicts_far_better_than_a_still_arm(pretrained, data_file) -> None:
    out, summary = pretrained
    errors = summary["arm"]
    # Hand position 20 steps (200 ms) of open-loop commands ahead, on held-out episodes.
    assert errors["arm_hand_rmse_mm"] < 0.5 * errors["still_hand_rmse_mm"]
    rows = read_metrics(out, "arm_metrics.csv")
    assert rows[-1]["val_arm_hand_rmse_mm"] < 0.5 * rows[0]["val_arm_hand_rmse_mm"]
    # Recomputed from the saved model on the same held-out episodes: the checkpoint is that model.
    arm, meta = load_learned_arm(out)
    assert meta["validation"] == errors
    val = load_dataset(data_file).subset(split_episodes(80, 0.2, 0)[1])
    windows = validation_windows(val, 20, torch.device("cpu"))
    assert arm_errors(arm, windows)["arm_hand_rmse_mm"] == pytest.approx(errors["arm_hand_rmse_mm"], rel=1e-4)


@pytest.mark.parametrize(
    "env_id, extra",
    [
        ("motorgym/CenterOut-v0", {}),
        ("motorgym/MuscleCenterOut-v0", {}),
        ("motorgym/MuscleCenterOut-v0", {"go_cue_latency_ms": 100.0, "state_cost_onset_ms": 300.0}),
    ],
)
def test_imagined_speed_cost_is_close_to_the_envs(env_id: str, extra: dict) -> None:
    """The imagined hand speed is the displacement over a step (the learned arm has no velocity); on
    MuJoCo's arm its cost is within a few percent of the env's, which takes the velocity at the step's
    end (and, with state_cost_onset_ms, leaves out the same steps)."""
    kwargs = {**QUIET, "distance_weight": 0.0, "effort_weight": 0.0, "speed_weight": 1.0, **extra}
    source = TrialSource(env_id, kwargs, 1, torch.device("cpu"))
    trials = source.draw(np.random.default_rng(2))
    task = source.core.task
    env = gym.make(env_id, **kwargs)
    delay_ms = (task.end_step[0] - task.response_steps) * source.config.control_step_ms
    options = {"target_index": int(task.target_index[0]), "delay_ms": float(delay_ms), "catch_trial": False}
    first_obs, _ = env.reset(seed=0, options=options)
    torch.manual_seed(0)
    policy = RecurrentActorCritic(
        PolicySpec(len(first_obs), tuple(env.action_space.low), tuple(env.action_space.high), hidden_size=16)
    )
    torch.nn.init.normal_(policy.actor_mean.weight, std=1.0)  # a policy that moves the arm
    arm = MuJoCoArm(env)
    with torch.no_grad():
        imagined = float(imagine(policy, arm, trials, source)[0])
    real = -float(np.mean(arm.rewards))
    assert real > 0.01  # the arm moved
    assert imagined == pytest.approx(real, rel=0.05)
    env.close()
    source.close()


def test_policy_learns_in_imagination(pretrained, data_file) -> None:
    """On the same imagined trials and noise, the trained policy's cost is far below a fresh one's."""
    out, summary = pretrained
    arm, _ = load_learned_arm(out)
    trained, _ = load_policy_file(out / PRETRAINED_POLICY)
    source = TrialSource(ENV_ID, QUIET, 64, torch.device("cpu"))
    trials = source.draw(np.random.default_rng(0))
    fresh = policy_for(load_dataset(data_file), source, ModelBasedConfig(data=str(data_file), hidden_size=32))
    costs = {}
    for name, policy in (("trained", trained), ("fresh", fresh)):
        torch.manual_seed(0)
        with torch.no_grad():
            costs[name] = float(imagine(policy, arm, trials, source)[0])
    source.close()
    assert costs["trained"] < 0.6 * costs["fresh"], costs
    rows = read_metrics(out)
    assert summary["imagined_steps"] == rows[-1]["global_step"] > 0
    evaluated = [r for r in rows if not np.isnan(r["real_success"])]
    assert [r["update"] for r in evaluated] == [20, 40]
    assert summary["evaluation_env_steps"] == evaluated[-1]["real_env_steps"] > 0
    assert summary["real_final_distance_mm"] == evaluated[-1]["real_final_distance_mm"]
    assert (out / "losses.png").stat().st_size > 20_000


def test_evaluate_and_init_from_a_pretrained_policy(pretrained, tmp_path, capsys) -> None:
    out, _ = pretrained
    assert main(["evaluate", str(out), "--episodes", "4"]) == 0
    assert "success" in capsys.readouterr().out
    # analyze takes the run too; its metrics.csv is the fit's, so no learning curve comes from it.
    assert training_metrics(out) is None and len(read_metrics(out)) == SMALL["policy_iterations"]
    policy, meta = load_policy_file(out / PRETRAINED_POLICY)
    assert meta["env_id"] == ENV_ID and meta["env_kwargs"] == QUIET

    fresh = RecurrentActorCritic(PolicySpec(9, (-1.0, -1.0), (1.0, 1.0), hidden_size=32, init_log_std=-1.0))
    untouched = {k: v.clone() for k, v in fresh.state_dict().items() if not k.startswith(ACTOR_PREFIXES)}
    kinds.init_weights(out).load_into(fresh)
    for name, tensor in fresh.state_dict().items():
        expected = policy.state_dict()[name] if name.startswith(ACTOR_PREFIXES) else untouched[name]
        torch.testing.assert_close(tensor, expected, rtol=0, atol=0, msg=name)
    assert fresh.log_std.detach()[0].item() == -1.0  # the new run's exploration noise, not the pretrained one

    argv = ["train", "--env", ENV_ID, "--out", str(tmp_path / "run"), "--init-from", str(out), "--hidden-size", "64"]
    with pytest.raises(SystemExit):
        main(argv)
    assert "(lstm, hidden 32) does not match the policy's (lstm, hidden 64)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv[:-2], "--bounded-action-mean"])
    err = capsys.readouterr().err
    assert "bounded_action_mean must match the pretrained policy in" in err and "trained with False" in err


def test_pretrain_policy_errors(data_file, pretrained, tmp_path, capsys) -> None:
    out, _ = pretrained
    with pytest.raises(SystemExit):
        main(["pretrain-policy", "--data", str(data_file), "--out", str(tmp_path / "p"), "--batch-trials", "0"])
    assert "batch_trials must be >= 1 (got 0)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain-policy", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "p")])
    assert "motorgym pretrain-policy: error: no trajectory file at" in capsys.readouterr().err
    with pytest.raises(FileExistsError, match="already holds a run: a new run needs a new or empty directory"):
        pretrain_policy(ModelBasedConfig(data=str(data_file)), out, progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"algo": "model-based"}')
    (tmp_path / "bad" / PRETRAINED_POLICY).write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path / "bad")])
    assert "motorgym evaluate: error:" in capsys.readouterr().err


def test_the_bounded_action_head_reaches_the_pretrained_and_the_ppo_policy(data_file) -> None:
    source = TrialSource(ENV_ID, QUIET, 4, torch.device("cpu"))
    for bounded in (False, True):
        config = ModelBasedConfig(data=str(data_file), hidden_size=32, bounded_action_mean=bounded)
        assert policy_for(load_dataset(data_file), source, config).spec.bounded_mean is bounded
        learner = build_learner(
            PPOConfig(env_id=ENV_ID, num_envs=4, hidden_size=32, bounded_action_mean=bounded), torch.device("cpu")
        )
        assert learner.policy.spec.bounded_mean is bounded
        learner.envs.close()
    source.close()


def test_collect_with_the_pretrained_policy_and_pretrain_again_on_the_pooled_data(
    data_file, pretrained, tmp_path, capsys
) -> None:
    """The data-aggregation loop of model-based RL, through the CLI: the pretrained policy drives
    new episodes, and the next pretraining learns on the old and the new data together."""
    out, _ = pretrained
    onp = tmp_path / "on_policy.npz"
    collect_argv = ["collect", "--env", ENV_ID, "--env-kwargs", json.dumps(QUIET), "--episodes", "3"]
    assert (
        main([*collect_argv, "--policy", str(out), "--policy-fraction", "1", "--ou-sigma", "0", "--out", str(onp)]) == 0
    )
    data = load_dataset(onp)
    assert data.metadata["commands"]["policy"] == str(out)
    # Without OU noise its commands are the policy's deterministic actions on those observations.
    policy, _ = load_policy_file(out / PRETRAINED_POLICY)
    agent = RecurrentAgent(policy)
    agent.reset(1)
    for t in range(int(data.lengths[0])):
        expected = agent.act(data.observations[0, t : t + 1], np.array([float(t == 0)], dtype=np.float32))
        np.testing.assert_allclose(data.actions[0, t], expected[0], atol=1e-6, err_msg=f"step {t}")

    with pytest.raises(SystemExit):
        main(
            [
                *collect_argv[:2],
                "motorgym/Reach-v0",
                *collect_argv[3:],
                "--policy",
                str(out),
                "--out",
                str(tmp_path / "r.npz"),
            ]
        )
    assert f"--policy {out} acts on {ENV_ID}, not on --env motorgym/Reach-v0" in capsys.readouterr().err

    # The next pretraining goes on from the last policy (--init-from), on the pooled data.
    again = tmp_path / "again"
    argv = ["pretrain-policy", "--data", str(data_file), "--more-data", str(onp), "--init-from", str(out)]
    small = ["--arm-iterations", "5", "--policy-iterations", "1", "--eval-every", "1", "--eval-episodes", "2"]
    with pytest.raises(SystemExit):
        main([*argv, *small, "--hidden-size", "64", "--out", str(again)])
    assert "(lstm, hidden 32) does not match the policy's (lstm, hidden 64)" in capsys.readouterr().err
    assert not again.exists()  # a failed start leaves no run directory
    tiny_step = ["--policy-learning-rate", "1e-12", "--no-progress"]
    costs = ["--costs", '{"speed_weight": 0.7}']
    assert main([*argv, *small, *tiny_step, *costs, "--hidden-size", "32", "--out", str(again)]) == 0
    assert read_config(again)["more_data"] == [str(onp)] and read_config(again)["init_from"] == str(out)
    # The imagined trials' costs, and so the policy's env, are the data's with --costs.
    assert kinds.load_agent(again).env_kwargs == {**QUIET, "speed_weight": 0.7}
    with pytest.raises(SystemExit):
        main([*argv, *small, "--costs", '{"motor_noise_coef": 0}', "--out", str(tmp_path / "bad")])
    assert "costs must be an object of the env's cost arguments (distance_weight" in capsys.readouterr().err
    assert len(load_datasets([data_file, onp])) == len(load_dataset(data_file)) + 3
    continued, _ = load_policy_file(again / PRETRAINED_POLICY)
    for name, tensor in continued.state_dict().items():
        if name.startswith(ACTOR_PREFIXES):
            torch.testing.assert_close(tensor, policy.state_dict()[name], rtol=0, atol=1e-9, msg=name)


def test_a_second_round_fits_its_learned_arm_on_from_the_first(data_file, pretrained, tmp_path, capsys) -> None:
    """--arm-init-from: the arm fit goes on from an earlier run's learned arm, in its units (the
    standardisation kept, the state bounds widened to the new data), so a few iterations keep an
    arm that a fit from scratch takes hundreds to reach; an arm of another shape is refused."""
    out, _ = pretrained
    more = tmp_path / "more.npz"
    save_dataset(collect(ENV_ID, 6, seed=9, env_kwargs=QUIET, scripted_fraction=1.0), more)
    again = tmp_path / "again"
    argv = ["pretrain-policy", "--data", str(data_file), "--more-data", str(more), "--hidden-size", "32"]
    small = ["--arm-iterations", "4", "--policy-iterations", "1", "--eval-every", "1", "--eval-episodes", "2"]
    with pytest.raises(SystemExit):
        main([*argv, *small, "--arm-init-from", str(out), "--out", str(again)])  # the default arm_hidden_size
    assert f"arm_init_from '{out}' holds a learned arm of another shape (arm_hidden_size 128 there, 256 here)" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main([*argv, *small, "--arm-init-from", str(tmp_path / "none"), "--out", str(again)])
    assert f"arm_init_from: no checkpoint file at {tmp_path / 'none'}" in capsys.readouterr().err
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / LEARNED_ARM).write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit):
        main([*argv, *small, "--arm-init-from", str(tmp_path / "corrupt"), "--out", str(again)])
    assert "arm_init_from: " in (err := capsys.readouterr().err) and "is not a readable checkpoint" in err
    assert not again.exists()  # a failed start leaves no run directory

    argv += ["--arm-hidden-size", "128", "--arm-init-from", str(out), "--no-progress"]
    assert main([*argv, *small, "--out", str(again)]) == 0
    assert read_config(again)["arm_init_from"] == str(out)
    first, _ = load_learned_arm(out)
    second, _ = load_learned_arm(again)
    for name in ("state_mean", "state_std", "delta_mean", "delta_std", "action_mean", "action_std"):
        torch.testing.assert_close(getattr(second, name), getattr(first, name), rtol=0, atol=0, msg=name)
    # The bounds: the start's where wider, the new data's (with their 10% margin) where those are.
    states = load_datasets([data_file, more]).states
    low, high = states.min(axis=(0, 1)), states.max(axis=(0, 1))
    low, high = low - 0.1 * (high - low), high + 0.1 * (high - low)
    narrow = copy.deepcopy(first)
    narrow.state_low[:3], narrow.state_high[:3] = -1e3, 1e3  # wider than the data: kept
    narrow.state_low[3:], narrow.state_high[3:] = -1e-3, 1e-3  # narrower: the data's
    config = ModelBasedConfig(data=str(data_file), more_data=[str(more)], **{**SMALL, "arm_iterations": 1})
    (tmp_path / "fit").mkdir()
    bounded, _ = fit_learned_arm(load_datasets([data_file, more]), config, tmp_path / "fit", None, False, narrow)
    np.testing.assert_allclose(bounded.state_low.numpy(), [-1e3] * 3 + list(low[3:]), rtol=1e-6)
    np.testing.assert_allclose(bounded.state_high.numpy(), [1e3] * 3 + list(high[3:]), rtol=1e-6)
    # One iteration on: the first fit's accuracy, where a fit from scratch starts far off.
    before, after = read_metrics(out, "arm_metrics.csv"), read_metrics(again, "arm_metrics.csv")
    assert after[0]["update"] == 1
    assert after[0]["val_arm_hand_rmse_mm"] < 0.5 * before[0]["val_arm_hand_rmse_mm"]


def test_the_false_start_cost_is_the_envs_step_with_a_smooth_gradient() -> None:
    start, radius = torch.zeros(4, 2), torch.tensor([0.02, 0.02, 0.02, float("inf")])
    # Inside the zone (before the go cue), just outside it, inside after the cue, no zone at all.
    hand = torch.tensor([[0.018, 0.0], [0.021, 0.0], [0.019, 0.0], [0.5, 0.0]], requires_grad=True)
    before_go = torch.tensor([True, True, False, True])
    cost, started = false_start_cost(hand, start, radius, before_go, torch.zeros(4, dtype=torch.bool))
    assert cost.tolist() == [0.0, 1.0, 0.0, 0.0]  # the env's value: 1 on first leaving, before the cue
    assert started.tolist() == [False, True, False, False]
    cost.sum().backward()
    gradient = hand.grad
    assert gradient[0, 0] > 0 and gradient[1, 0] > 0  # outwards costs more: the policy learns to stay
    assert gradient[2].abs().sum() == 0 and gradient[3].abs().sum() == 0 and torch.isfinite(gradient).all()
    # Once a trial has false-started, it costs nothing more and has no gradient.
    hand.grad = None
    again, _ = false_start_cost(hand, start, radius, before_go, started)
    again.sum().backward()
    assert again.tolist() == [0.0, 0.0, 0.0, 0.0] and hand.grad[1].abs().sum() == 0


@pytest.mark.parametrize("arm_model", ["affine", "known-activation", "mlp"])
def test_a_muscle_arms_learned_arm_keeps_its_structure(arm_model: str, tmp_path) -> None:
    """With known activations (the default, ``affine``) the learned arm of a muscle arm computes the
    activations by MuJoCo's law, saved with the checkpoint and restored on loading; ``mlp`` learns them."""
    data = tmp_path / "muscle.npz"
    save_dataset(collect("motorgym/MuscleCenterOut-v0", 8, seed=1, env_kwargs=QUIET), data)
    dataset = load_dataset(data)
    tiny = {**SMALL, "arm_iterations": 5, "policy_iterations": 1, "eval_every": 1, "eval_episodes": 2}
    out = tmp_path / "run"
    pretrain_policy(ModelBasedConfig(data=str(data), arm_model=arm_model, **tiny), out, progress=False)
    arm, meta = load_learned_arm(out)
    assert meta["arm_model"] == arm.structure == arm_model
    state, command = torch.as_tensor(dataset.states[:, 0]), torch.as_tensor(dataset.actions[:, 0])
    activations = arm(state, command)[:, -6:]
    law = next_activation(Arm("muscle").actuator_dynamics(), state[:, -6:], command)
    if arm_model == "mlp":
        assert meta["actuator_dynamics"] is None and not torch.allclose(activations, law, atol=1e-3)
    else:
        assert meta["actuator_dynamics"]["law"] == "muscle"
        torch.testing.assert_close(activations, law)


def test_the_torque_arms_learned_arm_is_an_mlp(pretrained) -> None:
    """The unfiltered torque arm has no activation states: its learned arm is learned whole."""
    _, meta = load_learned_arm(pretrained[0])
    assert meta["config"]["arm_model"] == "affine" and meta["arm_model"] == "mlp"


def test_arm_model_errors(data_file) -> None:
    with pytest.raises(ValueError, match="arm_model must be one of mlp, known-activation, affine \\(got .linear.\\)"):
        ModelBasedConfig(data=str(data_file), arm_model="linear")


def test_a_command_bias_offsets_every_command_of_its_trial() -> None:
    """Each imagined trial's commands reach the learned arm shifted by that trial's constant offset."""
    source = TrialSource("motorgym/MuscleCenterOut-v0", QUIET, 3, torch.device("cpu"))
    assert source.draw(np.random.default_rng(0)).command_bias.abs().sum() == 0  # none by default
    trials = source.draw(np.random.default_rng(0), command_bias_std=0.01)
    assert trials.command_bias.shape == (3, 6) and 0.003 < float(trials.command_bias.std()) < 0.03
    spec = PolicySpec(
        17, tuple(source.core.action_low), tuple(source.core.action_high), hidden_size=8, bounded_mean=True
    )
    policy = RecurrentActorCritic(spec)
    commands = {}
    for name, bias in (("biased", trials.command_bias), ("unbiased", torch.zeros_like(trials.command_bias))):
        received: list[torch.Tensor] = []
        still_arm = lambda state, command: received.append(command) or state  # noqa: B023, E731
        with torch.no_grad():
            imagine(policy, still_arm, dataclasses.replace(trials, command_bias=bias), source)
        commands[name] = torch.stack(received)
    low, high = source.action_low, source.action_high
    expected = torch.maximum(torch.minimum(commands["unbiased"] + trials.command_bias, high), low)
    torch.testing.assert_close(commands["biased"], expected)
    assert not torch.allclose(commands["biased"], commands["unbiased"])
    source.close()


def test_imagined_trials_carry_ppos_activity_regularisation() -> None:
    """activity_l2, activity_change_l2 and command_change_l2 add PPO's terms (reported) to the
    imagined loss, whose ``imagined_cost`` stays the env's, and change the policy's gradient."""
    source = TrialSource("motorgym/MuscleCenterOut-v0", QUIET, 4, torch.device("cpu"))
    trials = source.draw(np.random.default_rng(1))
    spec = PolicySpec(17, tuple(source.core.action_low), tuple(source.core.action_high), hidden_size=8)
    policy = RecurrentActorCritic(spec)
    still_arm = lambda state, command: state  # noqa: E731
    plain, plain_stats = imagine(policy, still_arm, trials, source)
    weights = {"activity_l2": 0.5, "activity_change_l2": 2.0, "command_change_l2": 3.0}
    regularised, stats = imagine(policy, still_arm, trials, source, ModelBasedConfig(data="x", **weights))
    assert stats["imagined_cost"] == pytest.approx(plain_stats["imagined_cost"])
    terms = 0.5 * stats["hidden_activity"] + 2.0 * stats["hidden_change"] + 3.0 * stats["command_change"]
    assert regularised.item() == pytest.approx(plain.item() + terms, rel=1e-5)
    assert stats["hidden_activity"] > 0 and stats["hidden_change"] > 0 and stats["command_change"] > 0
    gradients = []
    for loss in (plain, regularised):
        policy.zero_grad()
        loss.backward()
        gradients.append(policy.rnn.weight_hh_l0.grad.clone())
    assert not torch.allclose(*gradients)
    source.close()


def test_a_learned_arm_of_an_unknown_structure_is_refused(pretrained, tmp_path) -> None:
    tensors, meta = load_checkpoint(pretrained[0] / LEARNED_ARM)
    save_checkpoint(tmp_path / LEARNED_ARM, tensors=tensors, metadata={**meta, "arm_model": "linear"})
    with pytest.raises(CheckpointError, match="is not a learned-arm checkpoint: structure must be one of"):
        load_learned_arm(tmp_path)
