"""The recurrent actor-critic: unrolling, state resets, action bounds, normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motorgym.agents.recurrent import PolicySpec, RecurrentActorCritic, RunningMeanStd


def policy(cell: str = "lstm", low: float = -1.0, high: float = 1.0) -> RecurrentActorCritic:
    torch.manual_seed(0)
    return RecurrentActorCritic(PolicySpec(9, (low,) * 2, (high,) * 2, cell=cell, hidden_size=16))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_segmented_unroll_equals_step_by_step(cell: str) -> None:
    p = policy(cell)
    steps, batch = 30, 4
    x = torch.randn(steps, batch, 9)
    starts = (torch.rand(steps, batch) < 0.1).float()
    state0 = torch.randn(batch, p.state_size)
    out, state = p.unroll(x, state0, starts)
    outs, s = [], state0
    for t in range(steps):
        o, s = p.unroll(x[t : t + 1], s, starts[t : t + 1])
        outs.append(o[0])
    torch.testing.assert_close(out, torch.stack(outs))
    torch.testing.assert_close(state, s)
    assert p.state_size == (32 if cell == "lstm" else 16)


def test_an_episode_start_forgets_the_past() -> None:
    p = policy()
    x = torch.randn(10, 2, 9)
    starts = torch.zeros(10, 2)
    starts[6, 0] = 1.0
    out, _ = p.unroll(x, torch.randn(2, p.state_size), starts)
    fresh, _ = p.unroll(x[6:, :1], p.initial_state(1), torch.zeros(4, 1))
    torch.testing.assert_close(out[6:, :1], fresh)  # env 0 restarts from a zero state at t = 6
    assert not torch.allclose(out[6:, 1:], p.unroll(x[6:, 1:], p.initial_state(1), torch.zeros(4, 1))[0])


def test_actions_are_clipped_and_deterministic_on_request() -> None:
    p = policy(low=0.0, high=1.0)
    state = p.initial_state(3)
    obs = np.random.default_rng(0).normal(size=(3, 9))
    actions, new_state = p.act(obs, state, np.ones(3))
    assert actions.shape == (3, 2) and (actions >= 0).all() and (actions <= 1).all()
    assert new_state.shape == state.shape and not torch.equal(new_state, state)
    a1, _ = p.act(obs, state, np.ones(3), deterministic=True)
    a2, _ = p.act(obs, state, np.ones(3), deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_allclose(a1, 0.5, atol=0.05)  # the mean starts mid-range


def test_running_mean_std_matches_numpy() -> None:
    rms = RunningMeanStd((3,), epsilon=0.0)
    data = np.random.default_rng(1).normal(2.0, 3.0, size=(500, 3))
    for chunk in np.array_split(data, 7):
        rms.update(torch.as_tensor(chunk))
    np.testing.assert_allclose(rms.mean.numpy(), data.mean(0), rtol=1e-10)
    np.testing.assert_allclose(rms.var.numpy(), data.var(0), rtol=1e-10)


def test_spec_validation_and_json() -> None:
    spec = PolicySpec(4, (0.0,), (1.0,), cell="gru", hidden_size=8)
    assert PolicySpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match=r"cell must be one of \('lstm', 'gru'\) \(got 'rnn'\)"):
        PolicySpec(4, (0.0,), (1.0,), cell="rnn")


def test_a_bounded_mean_stays_in_the_bounds_and_keeps_its_gradient() -> None:
    """A muscle's mean excitation pushed far below 0: clipped, the linear head's command is 0 and
    carries no gradient; the bounded mean stays inside (0, 1) and still does. Near the centre the
    two heads agree to first order (slope 1)."""
    torch.manual_seed(0)
    linear, bounded = (
        RecurrentActorCritic(PolicySpec(9, (0.0,) * 6, (1.0,) * 6, hidden_size=16, bounded_mean=b))
        for b in (False, True)
    )
    bounded.load_state_dict(linear.state_dict())
    hidden = torch.randn(5, 16)
    for p in (linear, bounded):
        with torch.no_grad():
            p.actor_mean.bias.fill_(-3.0)
    means = {name: p.distribution(hidden).mean for name, p in (("linear", linear), ("bounded", bounded))}
    assert (means["linear"] < 0).all()
    assert ((means["bounded"] > 0) & (means["bounded"] < 1)).all()
    for name, p in (("linear", linear), ("bounded", bounded)):
        p.zero_grad()
        p.clip_action(means[name]).sum().backward()
    assert linear.actor_mean.bias.grad.abs().max() == 0
    assert (bounded.actor_mean.bias.grad > 0).all()

    for p in (linear, bounded):
        with torch.no_grad():
            p.actor_mean.weight.zero_()
            p.actor_mean.bias.copy_(torch.linspace(-0.01, 0.01, 6))
    offset = bounded.distribution(hidden).mean - 0.5
    torch.testing.assert_close(offset, linear.distribution(hidden).mean - 0.5, atol=2e-6, rtol=0)
    with torch.no_grad():
        bounded.actor_mean.bias.fill_(0.3)
    expected = 0.5 + 0.5 * np.tanh(0.3 / 0.5)  # centre + half-range x tanh(head / half-range)
    np.testing.assert_allclose(bounded.distribution(hidden).mean.detach().numpy(), expected, rtol=1e-6)
    assert PolicySpec.from_json(bounded.spec.to_json()).bounded_mean is True


def test_a_spec_written_before_bounded_mean_existed_loads_with_the_linear_head() -> None:
    text = '{"obs_dim": 4, "action_low": [0.0], "action_high": [1.0], "cell": "gru", "hidden_size": 8}'
    assert PolicySpec.from_json(text).bounded_mean is False
