"""Two-rate learning: the optimiser's steps split into a fast and a slow process, as Smith,
Ghazizadeh & Shadmehr's (2006) two-state model, and an adapt run that learns so and resumes."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.train import adapt
from motorgym.train import protocol as protocols
from motorgym.train.kinds import load_policy_file
from motorgym.train.two_rate import TwoRateWeights
from tests.train.test_adapt import TINY_PROTOCOL, adapt_killed_at_update, read_trials, write_protocol

#: Smith, Ghazizadeh & Shadmehr (2006), per trial.
A_FAST, B_FAST, A_SLOW, B_SLOW = 0.92, 0.03, 0.996, 0.004


def smith_model(perturbation: np.ndarray) -> np.ndarray:
    """The two-state model's adaptation x_fast + x_slow before each trial, error e = f - x."""
    fast = slow = 0.0
    out = []
    for f in perturbation:
        out.append(fast + slow)
        error = f - (fast + slow)
        fast, slow = A_FAST * fast + B_FAST * error, A_SLOW * slow + B_SLOW * error
    return np.array(out)


def two_rate_learner(perturbation: np.ndarray) -> np.ndarray:
    """A one-weight 'network' x learning by SGD on the squared error (step = B_fast e) through
    TwoRateWeights, one trial per step."""
    x = torch.nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.SGD([x], lr=B_FAST)
    processes = TwoRateWeights(optimizer, B_FAST, B_SLOW, A_FAST, A_SLOW)
    out = []
    for f in perturbation:
        out.append(x.item())
        optimizer.zero_grad()
        (0.5 * (f - x) ** 2).backward()
        processes.trial_ended()
        optimizer.step()
    return np.array(out)


def trials_to(level: float, adaptation: np.ndarray) -> int:
    """Trials until the adaptation first reaches ``level``."""
    return int(np.flatnonzero(adaptation >= level)[0])


def test_the_weights_follow_the_two_state_model_and_show_savings() -> None:
    """Smith et al.'s (2006) savings: exposure, a counter-field until behaviour is back at baseline,
    re-exposure."""
    schedule = np.concatenate([np.ones(300), -np.ones(15), np.ones(300)])
    learned, model = two_rate_learner(schedule), smith_model(schedule)
    np.testing.assert_allclose(learned, model, atol=1e-5)
    # The counter-field brings behaviour back to baseline, while the slow process still holds the field...
    assert abs(learned[315]) < 0.05
    # ...so the second exposure adapts much faster (savings): 14 trials to 0.4 against 71.
    first, second = trials_to(0.4, learned[:300]), trials_to(0.4, learned[315:])
    assert second < 0.3 * first


def test_a_step_is_split_and_each_process_keeps_its_retention_per_trial() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = torch.optim.SGD([w], lr=0.5)
    processes = TwoRateWeights(
        optimizer, learning_rate=0.5, slow_learning_rate=0.1, fast_retention=0.5, slow_retention=0.9
    )
    w.grad = torch.tensor([2.0, 0.0])
    optimizer.step()  # the step: -0.5 * grad = [-1, 0]
    torch.testing.assert_close(processes.fast[0], torch.tensor([-1.0, 0.0]))
    torch.testing.assert_close(processes.slow[0], torch.tensor([-0.2, 0.0]))
    torch.testing.assert_close(w.detach(), torch.tensor([1.0 - 1.2, -2.0]))
    for _ in range(3):
        processes.trial_ended()
    w.grad = torch.zeros(2)
    optimizer.step()  # three trials of forgetting, no error
    torch.testing.assert_close(processes.fast[0], torch.tensor([-1.0 * 0.5**3, 0.0]))
    torch.testing.assert_close(processes.slow[0], torch.tensor([-0.2 * 0.9**3, 0.0]))
    torch.testing.assert_close(w.detach(), torch.tensor([1.0 - 0.125 - 0.2 * 0.729, -2.0]))
    assert processes.offset_norms()["fast_offset_norm"] == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fast_retention": 0.0}, r"learning.fast_retention must be in \(0, 1\]"),
        ({"slow_retention": 1.5}, r"learning.slow_retention must be in \(0, 1\]"),
        ({"slow_learning_rate": -1e-4}, "learning.slow_learning_rate must be a number >= 0"),
        ({"fast_retention": "high"}, r"learning.fast_retention must be in \(0, 1\] \(got 'high'\)"),
    ],
)
def test_bad_two_rate_settings_are_named(tmp_path: Path, change: dict, message: str) -> None:
    data = {**TINY_PROTOCOL, "learning": {**TINY_PROTOCOL["learning"], **change}}
    with pytest.raises(ValueError, match=message):
        protocols.load_protocol(str(write_protocol(tmp_path / "p.yaml", data)))


TWO_RATE = {
    **TINY_PROTOCOL,
    "learning": {
        **TINY_PROTOCOL["learning"],
        "slow_learning_rate": 2e-4,
        "fast_retention": 0.9,
        "slow_retention": 0.99,
    },
}


def test_the_shipped_two_rate_protocol_is_the_curl_field_one_with_two_rates() -> None:
    shipped, two_rate = protocols.load_protocol("curl-field"), protocols.load_protocol("curl-field-two-rate")
    assert two_rate.blocks == shipped.blocks and two_rate.measured_field == shipped.measured_field
    assert two_rate.channel_fraction == shipped.channel_fraction
    assert two_rate.learning.rule == "ppo" and two_rate.learning.two_rate and not shipped.learning.two_rate
    assert two_rate.learning.slow_learning_rate < two_rate.learning.learning_rate
    assert two_rate.learning.fast_retention < two_rate.learning.slow_retention


def test_the_benchmark_controls_differ_from_the_two_rate_protocol_only_in_its_processes() -> None:
    """benchmarks/protocols: curl-field-two-rate without its slow process, and with one process."""
    folder = Path(__file__).parents[2] / "benchmarks" / "protocols"
    two_rate = protocols.load_protocol("curl-field-two-rate")
    fast_only = protocols.load_protocol(str(folder / "curl_field_two_rate_fast_only.yaml"))
    one_process = protocols.load_protocol(str(folder / "curl_field_two_rate_one_process.yaml"))
    for control in (fast_only, one_process):
        assert control.blocks == two_rate.blocks and control.measured_field == two_rate.measured_field
        assert control.channel_fraction == two_rate.channel_fraction
        assert control.learning.learning_rate == two_rate.learning.learning_rate
    assert fast_only.learning == dataclasses.replace(two_rate.learning, slow_learning_rate=0.0, slow_retention=1.0)
    assert one_process.learning == dataclasses.replace(fast_only.learning, fast_retention=1.0)
    assert not one_process.learning.two_rate


def test_a_two_rate_adapt_run_learns_logs_its_processes_and_resumes(
    source_run: Path, tmp_path: Path, monkeypatch
) -> None:
    protocol = write_protocol(tmp_path / "two_rate.yaml", TWO_RATE)
    out = tmp_path / "adapt"
    adapt_killed_at_update(source_run, protocol, out, 3, monkeypatch)
    policy = load_policy_file(out / "adapt.pt")[0]
    processes = load_checkpoint(out / "adapt.pt")[0]["two_rate"]
    # The saved weights are the trained ones plus both offsets, and both processes have learned.
    for k, param in enumerate(policy.parameters()):
        torch.testing.assert_close(
            param.detach(), processes["trained"][k] + processes["fast"][k] + processes["slow"][k]
        )
    assert any(float(f.abs().sum()) > 0 for f in processes["fast"])
    assert any(float(s.abs().sum()) > 0 for s in processes["slow"])
    adapt.resume(out, progress=False)
    assert sorted(int(r["trial"]) for r in read_trials(out)) == list(range(24))
    with open(out / "updates.csv", newline="") as file:
        logged = list(csv.DictReader(file))
    assert all(math.isfinite(float(r["slow_offset_norm"])) and float(r["fast_offset_norm"]) >= 0 for r in logged)
    trained = load_policy_file(source_run / "checkpoint.pt")[0]
    final = load_checkpoint(out / "adapt.pt")[0]["two_rate"]
    for k, param in enumerate(trained.parameters()):  # still measured from the trained network after the resume
        torch.testing.assert_close(final["trained"][k], param.detach())
