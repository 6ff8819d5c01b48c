"""The learned-arm learning rule of motorgym adapt: its gradient, what it learns from, and a run."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.agents.learned_arm import LearnedArm
from motorgym.agents.recurrent import PolicySpec, RecurrentActorCritic
from motorgym.envs.batched import ArmTaskCore
from motorgym.envs.registration import check_env_arguments, env_class
from motorgym.train import adapt, learned_arm_rule
from motorgym.train import protocol as protocols
from motorgym.train.collect import collect, save_dataset
from motorgym.train.configs import ActorConfig, AdaptConfig, ModelBasedConfig
from motorgym.train.learned_arm_rule import LearnedArmRule, RealTrial
from motorgym.train.model_based import activity_terms, false_start_cost, pretrain_policy, step_cost
from motorgym.train.run_dir import read_config
from tests.conftest import QUIET
from tests.train.conftest import FAST_TASK
from tests.train.test_adapt import read_trials, write_protocol

ENV_ID = "motorgym/CenterOut-v1"
LEARNED_ARM_PROTOCOL = {
    "name": "tiny-curl-learned-arm",
    "measured_field": {"force_field": "curl_cw", "force_field_gain_n_s_m": 15.0},
    "channel_fraction": 0.25,
    "blocks": [
        {"name": "baseline", "trials": 32, "learn": False},
        {"name": "exposure", "trials": 16, "perturbation": {"force_field": "curl_cw"}},
    ],
    "learning": {
        "rule": "learned-arm",
        "learning_rate": 1e-3,
        "num_envs": 4,
        "rollout_steps": 32,
        "trials_per_update": 4,
        "arm_iterations": 20,
        "arm_refit_iterations": 2,
    },
}


#: The source run's regularisation, every term on (the gradient test covers each).
REGULARISATION = ActorConfig(activity_l2=0.1, activity_change_l2=1.0, command_change_l2=0.5)


def make_rule(seed: int = 0) -> tuple[LearnedArmRule, ArmTaskCore]:
    torch.manual_seed(seed)
    # Every differentiable cost term on, so that the gradient test covers each.
    weights = {
        "effort_weight": 0.1,
        "activation_weight": 1.0,
        "activation_change_weight": 1.0,
        "delay_speed_weight": 1.0,
        "false_start_weight": 1.0,
        "state_cost_onset_ms": 50.0,
    }
    config = check_env_arguments(ENV_ID, {**FAST_TASK, **weights})
    cls = env_class(ENV_ID)
    core = ArmTaskCore(cls.task_cls, config, cls.arm_kind, 1)
    spec = PolicySpec(
        obs_dim=len(core.obs_names),
        action_low=tuple(core.action_low),
        action_high=tuple(core.action_high),
        hidden_size=8,
    )
    policy = RecurrentActorCritic(spec)
    policy.obs_normalizer.frozen = True
    protocol = protocols.protocol_from_dict(LEARNED_ARM_PROTOCOL, "tiny")
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    rule = LearnedArmRule(policy, optimizer, protocol.learning, core, seed, REGULARISATION)
    state_dim = len(core.arm.sensed_state_names)
    rule.arm = LearnedArm(state_dim, len(core.action_names), 16)
    return rule, core


@pytest.mark.parametrize("rotation_deg", [0.0, 30.0])
def test_on_an_exact_arm_the_gradient_is_backpropagation_through_time(rotation_deg: float) -> None:
    """Trials made by the learned arm itself (noiseless): the rule's gradient along the recorded
    trials equals the gradient of the cost of the same closed loop run in torch with the arm (the
    seen hand, and so the distance cost, rotated about the start in a visuomotor rotation; no
    distance charged over state_cost_onset_ms after the processed cue), its false-start cost (the
    smooth gradient before the go cue) and the activity regularisation."""
    rule, core = make_rule()
    policy, arm, config = rule.policy, rule.arm, core.config
    assert arm is not None
    steps, go_step, latency = 40, 5, core.task.cue_latency_steps
    processed, onset = go_step + latency, core.task.state_cost_onset_steps
    assert 0 < onset and processed + onset < steps  # both goals, and the window without distance, occur
    core.reset(np.array([0]), [np.random.default_rng(1)])
    start_state = torch.as_tensor(core.arm.sensed_state()[0:1], dtype=torch.float32)
    target = torch.tensor([[0.05, 0.45]])
    start = start_state[:, :2]
    go_cue = np.arange(steps + 1) >= go_step
    proprio = slice(2, 2 + len(core.arm.proprioception_names))

    angle = np.deg2rad(rotation_deg)
    turn = torch.tensor([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]], dtype=torch.float32)

    def seen_hand(state: torch.Tensor) -> torch.Tensor:  # start + R (hand - start), R anticlockwise
        return start + (state[:, :2] - start) @ turn

    def closed_loop() -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        state, recurrent, costs = start_state, policy.initial_state(1), []
        states, observations, actions, hiddens, means = [state], [], [], [], []
        false_started, radius_m = torch.zeros(1, dtype=torch.bool), torch.tensor([config.start_radius_m])
        previous_activation = state[:, proprio.stop :]
        for t in range(steps):
            seen, felt = states[max(0, t - rule.visual_delay_steps)], states[max(0, t - rule.proprio_delay_steps)]
            cue = torch.tensor([[float(go_cue[max(0, t - rule.visual_delay_steps)])]])
            obs = torch.cat([seen_hand(seen), target, cue, felt[:, proprio]], dim=1)
            hidden, recurrent = policy.unroll(policy.obs_normalizer.normalize(obs)[None], recurrent, torch.zeros(1, 1))
            hiddens.append(hidden[0])
            means.append(policy.distribution(hidden[0]).mean)
            action = policy.clip_action(means[-1])
            following = arm(state, action)
            goal = target if t + 1 >= processed else start
            hand_vel = (following[:, :2] - state[:, :2]) / (config.control_step_ms / 1000)
            costs.append(
                step_cost(
                    config,
                    seen_hand(following),
                    goal,
                    hand_vel,
                    action,
                    following[:, proprio.stop :],
                    previous_activation,
                    torch.tensor([0.0 if t + 1 >= processed else 1.0]),
                    torch.tensor([0.0 if processed <= t + 1 < processed + onset else 1.0]),
                )
            )
            before_go = torch.tensor([t + 1 < go_step])
            start_cost, false_started = false_start_cost(
                seen_hand(following), start, radius_m, before_go, false_started
            )
            costs[-1] = costs[-1] + config.false_start_weight * start_cost
            previous_activation = following[:, proprio.stop :]
            state = following
            states.append(state)
            observations.append(obs)
            actions.append(action)
        terms = activity_terms(torch.stack(hiddens), torch.stack(means), torch.ones(steps, 1))
        weights = (REGULARISATION.activity_l2, REGULARISATION.activity_change_l2, REGULARISATION.command_change_l2)
        regularisation = sum(w * term for w, term in zip(weights, terms.values(), strict=True))
        return torch.stack(costs).mean() + regularisation, states, observations, actions

    direct, states, observations, actions = closed_loop()
    expected = torch.autograd.grad(direct, list(policy.parameters()), allow_unused=True)
    trial = RealTrial(
        obs=torch.cat(observations).detach().numpy(),
        actions=torch.cat(actions).detach().numpy(),
        states=torch.cat(states).detach().numpy(),
        go_cue=go_cue,
        target_pos=target[0].numpy(),
        rotation_deg=rotation_deg,
    )
    cost = rule.trial_cost([trial])
    assert cost.item() == pytest.approx(direct.item(), rel=1e-5)
    found = torch.autograd.grad(cost, list(policy.parameters()), allow_unused=True)
    used = [(e, f) for e, f in zip(expected, found, strict=True) if e is not None]
    assert len(used) >= 4 and any(e.abs().sum() > 0 for e, _ in used)
    for e, f in used:
        torch.testing.assert_close(f, e, rtol=1e-4, atol=1e-7)


def cost_and_gradient(rule: LearnedArmRule, trial: RealTrial) -> tuple[float, tuple[torch.Tensor | None, ...]]:
    """The rule's cost of one recorded trial and its gradient in the policy's weights."""
    cost = rule.trial_cost([trial])
    return cost.item(), torch.autograd.grad(cost, list(rule.policy.parameters()), allow_unused=True)


def test_leaving_the_start_zone_before_the_go_cue_costs_once_with_a_gradient() -> None:
    """A recorded hand drifting out of the start zone before the go cue: the env's false-start cost
    is charged once (its step's value), and the smooth step's gradient reaches the network."""
    rule, core = make_rule()
    steps, go_step = 40, 30
    core.reset(np.array([0]), [np.random.default_rng(1)])
    states = np.repeat(core.arm.sensed_state()[:1], steps + 1, axis=0).astype(np.float32)
    states[:, 0] += 0.001 * np.arange(steps + 1)  # 1 mm per step: out of the 20 mm zone at step 21
    trial = RealTrial(
        obs=np.zeros((steps, len(core.obs_names)), np.float32),
        actions=np.zeros((steps, len(core.action_low)), np.float32),
        states=states,
        go_cue=np.arange(steps + 1) >= go_step,
        target_pos=np.array([0.05, 0.45]),
        rotation_deg=0.0,
    )
    assert core.config.start_radius_m == 0.02
    costs, gradients = [], []
    for weight in (1.0, 0.0):
        rule.config = dataclasses.replace(core.config, false_start_weight=weight)
        cost, gradient = cost_and_gradient(rule, trial)
        costs.append(cost)
        gradients.append(gradient)
    assert costs[0] - costs[1] == pytest.approx(1.0 / steps, rel=1e-4)
    assert any(not torch.allclose(a, b) for a, b in zip(*gradients, strict=True) if a is not None)
    # A PPO network learnt the false start as the env's step: its value, no gradient.
    rule.smooth_false_start = False
    rule.config = dataclasses.replace(core.config, false_start_weight=1.0)
    cost, stepped = cost_and_gradient(rule, trial)
    assert cost == pytest.approx(costs[0], rel=1e-6)
    for a, b in zip(stepped, gradients[1], strict=True):
        assert (a is None and b is None) or torch.allclose(a, b)


@pytest.mark.parametrize("rotation_deg", [0.0, 90.0])
def test_the_sideways_error_costs_its_square_once_the_cue_is_processed(rotation_deg: float) -> None:
    """path_error_weight x the squared distance (m) of the seen hand from the start-target line, per
    step once the go cue is processed, with its gradient: a hand moving straight at the target
    costs nothing; one moving sideways 1 mm per step costs the known sum (under a 90 degree
    rotation the seen hand of a straight reach is what moves sideways)."""
    rule, core = make_rule()
    steps, go_step = 30, 5
    processed = go_step + rule.cue_latency_steps
    core.reset(np.array([0]), [np.random.default_rng(1)])
    states = np.repeat(core.arm.sensed_state()[:1], steps + 1, axis=0).astype(np.float32)
    start = states[0, :2].astype(float)
    target = start + np.array([0.0, 0.1])
    # Sideways (x) for the unrotated trial; along the line (y) when the cursor is turned 90 degrees.
    axis = 0 if rotation_deg == 0 else 1
    moved = np.clip(np.arange(steps + 1) - processed, 0, None) * 0.001
    states[:, axis] += moved.astype(np.float32)
    trial = RealTrial(
        obs=np.zeros((steps, len(core.obs_names)), np.float32),
        actions=np.zeros((steps, len(core.action_low)), np.float32),
        states=states,
        go_cue=np.arange(steps + 1) >= go_step,
        target_pos=target,
        rotation_deg=rotation_deg,
    )
    costs, gradients = [], []
    for weight in (0.0, 50.0):
        rule.learning = dataclasses.replace(rule.learning, path_error_weight=weight)
        cost, gradient = cost_and_gradient(rule, trial)
        costs.append(cost)
        gradients.append(gradient)
    expected = 50.0 * (moved[1:] ** 2).sum() / steps
    assert costs[1] - costs[0] == pytest.approx(expected, rel=1e-3)
    assert any(not torch.allclose(a, b) for a, b in zip(*gradients, strict=True) if a is not None)
    # Straight at the target: no sideways error, nothing to pay.
    straight = dataclasses.replace(trial, states=states.copy())
    straight.states[:, :2] = states[:1, :2]
    straight.states[:, 1] += moved.astype(np.float32)
    straight = dataclasses.replace(straight, rotation_deg=0.0)
    rule.learning = dataclasses.replace(rule.learning, path_error_weight=0.0)
    base = rule.trial_cost([straight]).item()
    rule.learning = dataclasses.replace(rule.learning, path_error_weight=50.0)
    assert rule.trial_cost([straight]).item() == pytest.approx(base, rel=1e-6)


def test_sideways_error_is_the_signed_distance_from_the_line() -> None:
    start = torch.tensor([[0.0, 0.4], [0.1, 0.4]])
    target = torch.tensor([[0.1, 0.4], [0.1, 0.5]])
    cursor = torch.tensor([[0.05, 0.43], [0.12, 0.45]])
    # Positive to the left of the start-to-target direction (as perpendicular_deviation_m).
    assert learned_arm_rule.sideways_error_m(cursor, start, target).tolist() == pytest.approx([0.03, -0.02])


def test_an_exploded_gradient_takes_no_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gradient far above the steps' so far (or not finite) leaves the network as it was, and says
    so: clipping would have made the explosion the step's direction."""
    rule, _ = make_rule()
    monkeypatch.setattr(rule, "refit_arm", lambda: 1.0)
    weights = lambda: sum(p.sum() for p in rule.policy.parameters())  # noqa: E731
    parameters = sum(p.numel() for p in rule.policy.parameters())
    typical = 0.5 / math.sqrt(parameters)  # a gradient of norm 0.5
    factor = learned_arm_rule.EXPLODED_GRADIENT_FACTOR
    for scale, skipped in (
        (typical, 0.0),
        (math.inf, 1.0),
        (1.01 * factor * typical, 1.0),
        (0.99 * factor * typical, 0.0),
    ):
        before = {k: v.clone() for k, v in rule.policy.state_dict().items()}
        monkeypatch.setattr(rule, "trial_cost", lambda trials, scale=scale: scale * weights())
        rule.pending = [None] * rule.learning.trials_per_update  # type: ignore[list-item]
        stats = rule.update()
        assert stats["skipped"] == skipped and not rule.pending
        unchanged = all(torch.equal(before[k], v) for k, v in rule.policy.state_dict().items())
        assert unchanged == (skipped == 1.0)
    assert list(rule.grad_norms) == pytest.approx([0.5, 0.99 * factor * 0.5])


def test_the_cue_reaches_the_cost_after_the_latency() -> None:
    rule, _ = make_rule()
    latency = rule.cue_latency_steps
    trial = RealTrial(
        obs=np.zeros((30, 1)),
        actions=np.zeros((30, 2)),
        states=np.zeros((31, 4)),
        go_cue=np.arange(31) >= 3,
        target_pos=np.zeros(2),
        rotation_deg=0.0,
    )
    processed = rule._cue_processed(trial, 35)
    assert len(processed) == 36 and latency > 0
    assert np.flatnonzero(processed)[0] == 3 + latency and processed[31:].all()


def test_channel_trials_teach_nothing_and_learning_waits_for_its_blocks() -> None:
    rule, _ = make_rule()
    rule.arm = None
    trial = RealTrial(np.zeros((3, 9)), np.zeros((3, 2)), np.zeros((4, 6)), np.zeros(4, bool), np.zeros(2), 0.0)
    rule.add(trial, learn=False, channel=True)
    rule.add(trial, learn=True, channel=True)
    assert not rule.buffer and not rule.fit_trials and not rule.pending
    rule.add(trial, learn=False, channel=False)
    assert len(rule.buffer) == len(rule.fit_trials) == 1 and not rule.pending
    for _ in range(3):
        rule.add(trial, learn=True, channel=False)
    assert not rule.ready()
    rule.add(trial, learn=True, channel=False)
    assert rule.ready() and len(rule.pending) == 4


def test_the_learned_arm_rule_needs_a_first_block_without_learning(tmp_path: Path) -> None:
    blocks = [{"name": "exposure", "trials": 40, "perturbation": {"force_field": "curl_cw"}}]
    path = write_protocol(tmp_path / "p.yaml", {**LEARNED_ARM_PROTOCOL, "blocks": blocks})
    with pytest.raises(ValueError, match=r"blocks\[0\] must have learn: false and at least 32 trials"):
        protocols.load_protocol(str(path))
    bad = {**LEARNED_ARM_PROTOCOL, "learning": {**LEARNED_ARM_PROTOCOL["learning"], "trials_per_update": 0}}
    with pytest.raises(ValueError, match="learning.trials_per_update must be an int >= 1"):
        protocols.load_protocol(str(write_protocol(tmp_path / "q.yaml", bad)))


def test_a_learned_arm_run_fits_its_arm_learns_in_exposure_and_resumes(
    source_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = write_protocol(tmp_path / "tiny.yaml", LEARNED_ARM_PROTOCOL)
    out = tmp_path / "adapt"
    original, calls = LearnedArmRule.update, []

    def killed_at_the_second_update(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LearnedArmRule, "update", killed_at_the_second_update)
    with pytest.raises(KeyboardInterrupt):
        adapt.adapt(source_run, str(protocol), out, progress=False)
    # The arm was fitted on the baseline's reaching trials (arm_metrics.csv) before the first update.
    assert (out / "arm_metrics.csv").read_text().count("\n") >= 2
    saved, meta = load_checkpoint(out / "adapt.pt")
    assert saved["rule"]["arm"] is not None and saved["rule"]["arm_optimizer"] is not None
    assert meta["source_kind"] == "lstm-ppo"  # its rule gives the false start no gradient
    trained = load_checkpoint(source_run / "checkpoint.pt")[0]["policy"]
    assert any(not torch.equal(saved["policy"][k], trained[k]) for k in trained)  # the first update
    monkeypatch.setattr(LearnedArmRule, "update", original)
    adapt.resume(out, progress=False)
    rows = read_trials(out)
    assert sorted(int(r["trial"]) for r in rows) == list(range(48))
    # One row per update, the ones before the interruption kept once.
    with open(out / "updates.csv", newline="") as file:
        logged = list(csv.DictReader(file))
    assert [int(r["update"]) for r in logged] == list(range(1, len(logged) + 1)) and len(logged) >= 3
    assert all(float(r["arm_hand_error_mm"]) > 0 and float(r["trial_cost"]) > 0 for r in logged)
    summary = json.loads((out / "adapt.json").read_text())
    # 12 reaching trials in exposure (4 channel trials teach nothing): 3 updates of 4, at least 2 before
    # the interruption's resume point re-ran some of them.
    assert summary["updates"] >= 3


def test_a_model_based_muscle_run_adapts_through_an_affine_arm_and_resumes_it(tmp_path: Path) -> None:
    """A pretrain-policy run is a source of the learned-arm rule (not of PPO, which needs a trained
    critic); on the muscle arm the rule's arm knows the activations' law (``affine``), and a resume
    rebuilds that arm exactly."""
    data = tmp_path / "muscle.npz"
    muscle_task = {**QUIET, **FAST_TASK}
    save_dataset(collect("motorgym/MuscleCenterOut-v2", 8, seed=1, env_kwargs=muscle_task), data)
    source = tmp_path / "pretrained"
    tiny = dict(hidden_size=8, arm_hidden_size=16, arm_iterations=5, arm_batch_windows=16, batch_trials=4)
    pretrain_policy(
        ModelBasedConfig(data=str(data), policy_iterations=1, eval_every=1, eval_episodes=2, **tiny),
        source,
        progress=False,
    )
    with pytest.raises(ValueError, match="needs a PPO run's trained critic.*learned-arm protocol"):
        adapt.adapt(source, "curl-field", tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused").exists()

    # With the sideways error in the cost, as the shipped muscle protocols learn.
    sideways = {**LEARNED_ARM_PROTOCOL, "learning": {**LEARNED_ARM_PROTOCOL["learning"], "path_error_weight": 300.0}}
    protocol = write_protocol(tmp_path / "tiny.yaml", sideways)
    out = adapt.adapt(source, str(protocol), tmp_path / "adapt", progress=False)
    saved, meta = load_checkpoint(out / "adapt.pt")
    assert saved["rule"]["arm_model"] == "affine" and meta["source"]["env_id"] == "motorgym/MuscleCenterOut-v2"
    assert meta["source_kind"] == "model-based"
    pretrained = load_checkpoint(source / "policy.pt")[0]["policy"]
    assert any(not torch.equal(saved["policy"][k], pretrained[k]) for k in pretrained)  # it learned
    assert len(read_trials(out)) == 48

    session = adapt._start_session(
        AdaptConfig(**{k: v for k, v in read_config(out).items() if k != "algo"}),
        protocols.protocol_from_dict(read_config(out)["protocol_spec"], "resumed"),
        meta["source"],
        saved,
        first_trial=48,
        rows={},
        paths={},
        source_kind=meta["source_kind"],
    )
    try:
        assert session.rule is not None
        session.rule.load_state_dict(saved["rule"])
        arm = session.rule.arm
        assert arm is not None and arm.structure == "affine" and session.rule.smooth_false_start
        assert session.rule.learning.path_error_weight == 300.0
        for name, value in saved["rule"]["arm"].items():
            torch.testing.assert_close(arm.state_dict()[name], value)
    finally:
        session.learner.envs.close()


@pytest.mark.parametrize(
    ("name", "learned"),
    [
        ("curl-field", "curl-field-learned-arm"),
        ("visuomotor-rotation", "visuomotor-rotation-learned-arm"),
        ("curl-field", "curl-field-learned-arm-muscle"),
        ("visuomotor-rotation", "visuomotor-rotation-learned-arm-muscle"),
        ("curl-field", "curl-field-learned-arm-muscle-sideways-error"),
        ("visuomotor-rotation", "visuomotor-rotation-learned-arm-muscle-sideways-error"),
    ],
)
def test_the_shipped_learned_arm_protocols_are_the_ppo_ones_learnt_otherwise(name: str, learned: str) -> None:
    protocol, ppo_protocol = protocols.load_protocol(learned), protocols.load_protocol(name)
    assert protocol.learning.rule == "learned-arm" and ppo_protocol.learning.rule == "ppo"
    assert protocol.blocks == ppo_protocol.blocks and protocol.measured_field == ppo_protocol.measured_field
    assert learned_arm_rule.ARM_UNROLL_STEPS < 100
