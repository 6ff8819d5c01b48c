"""Recurrent PPO: it learns, it is deterministic, and a resumed run equals an uninterrupted one."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.agents.recurrent import mean_square_change
from motorgym.train import ppo
from motorgym.train.kinds import load_policy_file
from motorgym.train.ppo import PPOConfig, train

TINY = dict(env_id="motorgym/CenterOut-v0", num_envs=16, rollout_steps=32, num_minibatches=2, checkpoint_every=2)
TIME_COLUMNS = {"time_s", "steps_per_s", "rollout_steps_per_s"}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rows(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as file:
        return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(file)]


def random_policy_final_distance_mm(env_id: str, episodes: int = 40) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    distances = []
    for seed in range(episodes):
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            if terminated or truncated:
                distances.append(info["distance_m"] * 1000)
                break
    return float(np.mean(distances))


def test_training_really_learns(tmp_path) -> None:
    """Under a minute of training on CenterOut-v0 takes the hand far closer to the targets than chance
    (this seed is below 0.4x chance by 66k steps and near 0.1x by 160k)."""
    config = PPOConfig(env_id="motorgym/CenterOut-v0", total_steps=160_000, seed=1)
    result = train(config, tmp_path / "run", progress=False)
    learned = result.metrics["episode_final_distance_mm"]
    chance = random_policy_final_distance_mm("motorgym/CenterOut-v0")
    assert learned < 0.25 * chance, (learned, chance)
    assert result.metrics["episode_return"] > -10


def test_same_seed_same_losses(tmp_path, one_thread) -> None:
    for name in ("a", "b"):
        train(PPOConfig(**TINY, total_steps=16 * 32 * 3), tmp_path / name, progress=False)
    assert rows(tmp_path / "a") == rows(tmp_path / "b")
    assert rows(tmp_path / "a")[-1]["policy_loss"] != ""


def test_resume_reproduces_an_uninterrupted_run(tmp_path, one_thread, monkeypatch) -> None:
    budget = 16 * 32 * 6
    train(PPOConfig(**TINY, total_steps=budget), tmp_path / "whole", progress=False)

    original = ppo.MetricsLog.write

    def crash_at_update_5(self, row):
        if row["update"] == 5:
            raise KeyboardInterrupt  # killed after the checkpoint of update 4
        original(self, row)

    monkeypatch.setattr(ppo.MetricsLog, "write", crash_at_update_5)
    with pytest.raises(KeyboardInterrupt):
        train(PPOConfig(**TINY, total_steps=budget), tmp_path / "split", progress=False)
    assert load_checkpoint(tmp_path / "split" / "checkpoint.pt")[1]["update"] == 4
    monkeypatch.setattr(ppo.MetricsLog, "write", original)
    train(run_dir=tmp_path / "split", resume=True, progress=False)

    whole, split = (
        load_checkpoint(tmp_path / "whole" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "split" / "checkpoint.pt"),
    )
    for key, value in whole[0]["policy"].items():
        assert torch.equal(value, split[0]["policy"][key]), key
    assert rows(tmp_path / "whole") == rows(tmp_path / "split")  # no duplicated or missing rows
    assert whole[1]["global_step"] == split[1]["global_step"] == budget


def test_run_directory_layout_and_reload(tmp_path) -> None:
    result = train(PPOConfig(**TINY, cell="gru", total_steps=16 * 32 * 2), tmp_path / "run", progress=False)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"checkpoint.pt", "config.json", "metrics.csv", "tensorboard"} <= names
    assert any(p.name.startswith("events.out.tfevents") for p in (result.run_dir / "tensorboard").iterdir())
    assert json.loads((result.run_dir / "config.json").read_text())["cell"] == "gru"
    policy, meta = load_policy_file(result.run_dir / "checkpoint.pt")
    assert meta["config"]["cell"] == "gru" and policy.spec.cell == "gru"
    with pytest.raises(FileExistsError, match="already holds a run"):
        train(PPOConfig(**TINY, total_steps=512), result.run_dir, progress=False)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"num_minibatches must be a divisor of num_envs=16 \(got 3\)"):
        PPOConfig(num_envs=16, num_minibatches=3)
    with pytest.raises(ValueError, match=r"cell must be lstm or gru \(got 'rnn'\)"):
        PPOConfig(cell="rnn")


def test_stop_success_ends_the_run_once_reached(tmp_path) -> None:
    """Catch trials only, and a policy that barely moves: nearly every trial succeeds, so the run
    stops long before its step budget, at the first update whose rolling success reached the bar."""
    still = dict(TINY, env_kwargs={"catch_fraction": 1.0}, init_log_std=-6.0, learning_rate=1e-6)
    result = train(PPOConfig(**still, total_steps=100 * 512, stop_success=0.9), tmp_path / "run", progress=False)
    logged = rows(result.run_dir)
    successes = [float(r["episode_success"]) for r in logged]
    assert result.global_step < 30 * 512 and result.metrics["episode_success"] >= 0.9
    assert all(not s >= 0.9 for s in successes[:-1])  # NaN before the first episode ends
    assert load_checkpoint(result.run_dir / "checkpoint.pt")[1]["final"]
    with pytest.raises(ValueError, match=r"stop_success must be in \[0, 1\] \(got 1.5\)"):
        PPOConfig(stop_success=1.5)


def test_activity_costs_equal_their_formulas() -> None:
    hidden = torch.tensor([[[1.0, 1.0], [0.0, 2.0]], [[3.0, 1.0], [0.0, 0.0]], [[3.0, 3.0], [1.0, 0.0]]])  # T=3, B=2
    starts = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])  # env 1 starts a new episode at t=1
    activity, change = (hidden**2).mean(), mean_square_change(hidden, starts)
    assert activity.item() == pytest.approx((1 + 1 + 0 + 4 + 9 + 1 + 0 + 0 + 9 + 9 + 1 + 0) / 12)
    # Changes within episodes: env 0 t0->1 (4, 0), t1->2 (0, 4); env 1 t1->2 (1, 0); env 1 t0->1 crosses a start.
    assert change.item() == pytest.approx(((4 + 0) / 2 + (0 + 4) / 2 + (1 + 0) / 2) / 3)


def test_activity_regularisation_changes_the_gradient_of_the_core_only(one_thread) -> None:
    """On a tiny network and one rollout: the activity costs add gradient to the encoder and the
    recurrent cell (they shape the hidden states), none to the heads; weight 0 changes nothing."""

    def gradients(**weights: float) -> dict[str, torch.Tensor]:
        config = PPOConfig(
            **{**TINY, "num_envs": 4, "num_minibatches": 1, "hidden_size": 8}, total_steps=128, **weights
        )
        torch.manual_seed(0)
        learner = ppo.build_learner(config, torch.device("cpu"))
        torch.nn.init.normal_(learner.policy.actor_mean.weight, std=1.0)  # commands that vary with the state
        carry = ppo.initial_carry(learner)
        rollout, carry = ppo.collect(learner, carry, ppo.Progress())
        advantages = ppo.gae(learner, rollout, carry)
        loss, stats = ppo.minibatch_loss(learner, rollout, advantages, advantages + rollout.values, torch.arange(4))
        learner.optimizer.zero_grad()
        loss.backward()
        learner.envs.close()
        assert stats["hidden_activity"] > 0 and stats["hidden_change"] > 0 and stats["command_change"] > 0
        return {name: p.grad.clone() for name, p in learner.policy.named_parameters() if p.grad is not None}

    plain, zero = gradients(), gradients(activity_l2=0.0, activity_change_l2=0.0, command_change_l2=0.0)
    activity, change = gradients(activity_l2=1.0), gradients(activity_change_l2=1.0)
    command = gradients(command_change_l2=1.0)
    for name, grad in plain.items():
        assert torch.equal(zero[name], grad), name
        if name.startswith(("encoder.", "rnn.")):
            assert not torch.allclose(activity[name], grad) and not torch.allclose(change[name], grad), name
        else:  # the actor, its noise and the critic do not shape the hidden states
            assert torch.equal(activity.get(name, grad), grad) and torch.equal(change.get(name, grad), grad), name
        # The command-change cost shapes the mean command's changes: the core and the actor's mean
        # weights, not its bias (a constant), its noise or the critic.
        shapes_command = name.startswith(("encoder.", "rnn.")) or name == "actor_mean.weight"
        assert torch.allclose(command[name], grad, rtol=1e-4, atol=1e-8) != shapes_command, name
    with pytest.raises(ValueError, match=r"activity_l2 must be >= 0 \(got -1.0\)"):
        PPOConfig(activity_l2=-1.0)


def test_the_activity_cost_weights_each_term_and_leaves_weight_zero_out() -> None:
    """One weighting of the regularisation for PPO, the imagined trials and the learned-arm rule."""
    terms = torch.tensor(2.0), torch.tensor(3.0), torch.tensor(float("inf"))
    assert PPOConfig().activity_cost(*terms) == 0.0  # weight 0: left out (even a non-finite term)
    cost = PPOConfig(activity_l2=0.5, activity_change_l2=0.1).activity_cost(*terms)
    assert float(cost) == pytest.approx(0.5 * 2.0 + 0.1 * 3.0)
    assert float(PPOConfig(command_change_l2=2.0).activity_cost(*terms)) == float("inf")
