"""The adaptation measures on synthetic trials with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motorgym.agents.scripted import minimum_jerk
from motorgym.envs.perturbations import FORCE_FIELD_PRESETS
from motorgym.train.analysis import adaptation as ad

START, TARGET = np.array([0.0, 0.4]), np.array([0.1, 0.4])  # a reach to the right
CURL_CW = 15.0 * np.array(FORCE_FIELD_PRESETS["curl_cw"])


def straight_reach(steps: int = 60, duration_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities of a minimum-jerk reach from START to TARGET."""
    fraction = np.linspace(0.0, 1.0, steps)
    s, ds = minimum_jerk(fraction)
    path = START + np.outer(s, TARGET - START)
    return path, np.outer(ds / duration_s, TARGET - START)


def test_the_field_direction_and_the_signed_deviation() -> None:
    assert ad.field_direction(CURL_CW, START, TARGET) == -1.0  # clockwise: to the right of a rightward reach
    assert ad.field_direction(-CURL_CW, START, TARGET) == 1.0
    assert ad.field_direction(np.zeros((2, 2)), START, TARGET) == 0.0
    path, _ = straight_reach()
    bowed = path + np.outer(np.sin(np.linspace(0, np.pi, len(path))), [0.0, -0.005])  # 5 mm to the right
    assert ad.perpendicular_deviation_m(bowed, START, TARGET).min() == pytest.approx(-0.005, abs=1e-5)
    assert ad.max_perpendicular_deviation_m(bowed, START, TARGET, direction=-1.0) == pytest.approx(0.005, abs=1e-5)
    assert ad.max_perpendicular_deviation_m(path, START, TARGET) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("compensated", "expected"), [(1.0, 1.0), (0.0, 0.0), (0.5, 0.5)])
def test_the_adaptation_index_is_the_compensated_fraction(compensated: float, expected: float) -> None:
    _, velocity = straight_reach()
    normal = ad.unit_normal(START, TARGET)
    field_push = velocity @ CURL_CW.T @ normal  # what the field would push across the channel
    # A controller compensating a fraction of it presses that much against the channel, which pushes back.
    rng = np.random.default_rng(0)
    channel_force = compensated * field_push + rng.normal(0.0, 0.01, len(field_push))
    assert ad.adaptation_index(channel_force, velocity, CURL_CW, START, TARGET) == pytest.approx(expected, abs=0.02)
    assert math.isnan(ad.adaptation_index(channel_force, np.zeros_like(velocity), CURL_CW, START, TARGET))


def test_the_initial_direction_error_of_a_rotated_reach() -> None:
    path, _ = straight_reach()
    angle = math.radians(30.0)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    turned = START + (path - START) @ rotation.T
    assert ad.initial_direction_error_deg(turned, START, TARGET, at=15) == pytest.approx(30.0)
    assert ad.initial_direction_error_deg(path, START, TARGET, at=15) == pytest.approx(0.0)
    assert math.isnan(ad.initial_direction_error_deg(path, START, TARGET, at=None))


def test_the_pulse_response() -> None:
    still = np.tile(START, (30, 1))
    pushed = still.copy()
    pushed[10:20, 1] += 0.004 * np.sin(np.linspace(0, np.pi, 10))
    assert ad.pulse_displacement_m(pushed, pulse_onset=10) == pytest.approx(0.004, rel=0.02)
    commands = np.zeros((30, 2))
    commands[13:] = [0.3, -0.2]  # the controller answers 3 steps after the onset
    assert ad.corrective_latency_steps(commands, pulse_onset=10, threshold=0.05) == 3.0
    assert math.isnan(ad.corrective_latency_steps(np.zeros((30, 2)), pulse_onset=10, threshold=0.05))


def test_trials_to_half() -> None:
    errors = 0.02 * np.exp(-np.arange(200) / 30.0)
    assert ad.trials_to_fraction(errors, 0.5) == pytest.approx(1 + math.ceil(30 * math.log(2)), abs=1)
    assert math.isnan(ad.trials_to_fraction(np.full(10, 0.01), 0.5))
    with_gaps = errors.copy()
    with_gaps[::10] = np.nan  # e.g. catch trials: left out
    assert ad.trials_to_fraction(with_gaps, 0.5) == pytest.approx(
        ad.trials_to_fraction(errors[np.isfinite(with_gaps)], 0.5)
    )
