"""Measures of motor adaptation and feedback responses, as plain functions of arrays.

The field's usual definitions:

- **perpendicular deviation**: the signed distance of the hand from the straight line from the
  start to the target, positive to the left of the line (anticlockwise from the reach direction);
  a trial's error is its largest magnitude, signed so that positive is *the field's direction*
  (the way the exposure field pushes a reach to that target), so that the first exposure trials
  are positive and the after-effects of washout negative (Shadmehr & Mussa-Ivaldi 1994);
- **adaptation index** of a force-channel trial: the slope of the regression of the force the
  channel exerts across the path on the ideal compensatory force, the lateral component of B v
  at the hand's velocity v: 1 for a controller that fully predicts the field, 0 for one that
  ignores it (Smith, Ghazizadeh & Shadmehr 2006);
- **initial direction error**: the angle from the target direction to the direction of the
  (seen) hand at peak speed, anticlockwise positive (Krakauer et al. 2000 measured it at peak
  velocity; a fixed time after onset is the other usual choice, less robust to a noisy onset);
- **load-pulse response**: the largest displacement of the hand from where it was at pulse
  onset, and the corrective response latency: the time from pulse onset to the first command that
  departs from the pre-pulse commands by more than a set amount (Pruszynski & Scott 2012).
"""

from __future__ import annotations

import math

import numpy as np


def unit_normal(start_m: np.ndarray, target_m: np.ndarray) -> np.ndarray:
    """The unit vector 90 degrees anticlockwise from the start-to-target direction."""
    path = np.asarray(target_m, dtype=float) - np.asarray(start_m, dtype=float)
    length = float(np.hypot(*path))
    if length == 0:
        raise ValueError("start and target must differ")
    return np.array([-path[1], path[0]]) / length


def perpendicular_deviation_m(path_m: np.ndarray, start_m: np.ndarray, target_m: np.ndarray) -> np.ndarray:
    """Signed distance (m) of each point of a (T, 2) path from the start-target line, positive to its left."""
    return (np.asarray(path_m, dtype=float) - start_m) @ unit_normal(start_m, target_m)


def field_direction(field_n_s_m: np.ndarray, start_m: np.ndarray, target_m: np.ndarray) -> float:
    """+1 if the field pushes a reach from start to target to the left of its path, -1 to the right
    (0 for a field with no lateral push along that path)."""
    direction = np.asarray(target_m, dtype=float) - start_m
    return float(np.sign(unit_normal(start_m, target_m) @ np.asarray(field_n_s_m, dtype=float) @ direction))


def max_perpendicular_deviation_m(
    path_m: np.ndarray, start_m: np.ndarray, target_m: np.ndarray, direction: float = 1.0
) -> float:
    """The path's perpendicular deviation of largest magnitude, signed, times ``direction`` (from
    :func:`field_direction`: positive in the field's direction). NaN for an empty path."""
    deviation = perpendicular_deviation_m(path_m, start_m, target_m)
    if len(deviation) == 0:
        return math.nan
    return float(direction * deviation[np.argmax(np.abs(deviation))])


def adaptation_index(
    channel_force_n: np.ndarray,
    hand_vel_m_s: np.ndarray,
    field_n_s_m: np.ndarray,
    start_m: np.ndarray,
    target_m: np.ndarray,
) -> float:
    """Regression slope of the channel's force across the path (T,) on the ideal compensatory force
    (the field's lateral push at each velocity (T, 2), which a full compensator presses against the
    channel). NaN if the ideal force does not vary (a still hand, or no field)."""
    normal = unit_normal(start_m, target_m)
    ideal = np.asarray(hand_vel_m_s, dtype=float) @ np.asarray(field_n_s_m, dtype=float).T @ normal
    measured = np.asarray(channel_force_n, dtype=float)
    ideal_centered = ideal - ideal.mean()
    spread = float(ideal_centered @ ideal_centered)
    if len(ideal) < 2 or spread <= 1e-12 * max(1.0, float(ideal @ ideal)):
        return math.nan
    return float(ideal_centered @ (measured - measured.mean()) / spread)


def initial_direction_error_deg(path_m: np.ndarray, start_m: np.ndarray, target_m: np.ndarray, at: int | None) -> float:
    """Angle (deg, anticlockwise positive) from the target direction to the direction of the hand
    from the start at sample ``at`` (e.g. at peak speed); NaN without one."""
    if at is None or not 0 <= at < len(path_m):
        return math.nan
    moved = np.asarray(path_m[at], dtype=float) - start_m
    wanted = np.asarray(target_m, dtype=float) - start_m
    angle = math.atan2(moved[1], moved[0]) - math.atan2(wanted[1], wanted[0])
    return math.degrees((angle + math.pi) % (2 * math.pi) - math.pi)


def pulse_displacement_m(path_m: np.ndarray, pulse_onset: int) -> float:
    """The largest distance (m) of the hand from its position at the pulse's onset, after it."""
    path = np.asarray(path_m, dtype=float)
    if pulse_onset >= len(path):
        return math.nan
    return float(np.max(np.linalg.norm(path[pulse_onset:] - path[pulse_onset], axis=1)))


def corrective_latency_steps(
    commands: np.ndarray, pulse_onset: int, threshold: float, baseline_steps: int = 5
) -> float:
    """Steps from the pulse's onset to the first command (T, A) that departs from the mean of the
    ``baseline_steps`` commands before the onset by more than ``threshold`` (Euclidean), NaN if
    none does. A controller with a feedback delay of d steps answers at d (or later)."""
    commands = np.asarray(commands, dtype=float)
    if pulse_onset < 1 or pulse_onset >= len(commands):
        return math.nan
    baseline = commands[max(0, pulse_onset - baseline_steps) : pulse_onset].mean(axis=0)
    departed = np.flatnonzero(np.linalg.norm(commands[pulse_onset:] - baseline, axis=1) > threshold)
    return float(departed[0]) if len(departed) else math.nan


def trials_to_fraction(errors: np.ndarray, fraction: float = 0.5, window: int = 1) -> float:
    """Trials (counted from 1, NaN trials left out) until the ``window``-trial running mean of
    ``errors`` first falls to ``fraction`` of the first window's mean (NaN if it never does or the
    first mean is not positive)."""
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    if len(errors) < window:
        return math.nan
    running = np.convolve(errors, np.ones(window) / window, mode="valid")
    if not running[0] > 0:
        return math.nan
    below = np.flatnonzero(running <= fraction * running[0])
    return float(below[0] + window) if len(below) else math.nan


__all__ = [
    "adaptation_index",
    "corrective_latency_steps",
    "field_direction",
    "initial_direction_error_deg",
    "max_perpendicular_deviation_m",
    "perpendicular_deviation_m",
    "pulse_displacement_m",
    "trials_to_fraction",
    "unit_normal",
]
