"""Kinematic measures of reaches, as plain functions of arrays.

The definitions are the field's usual ones:

- movement onset: the first sample after the go cue at which hand speed exceeds 10% of its peak
  (the peak taken after the go cue); movement offset: the first sample after the peak at which it
  falls below that threshold again (a threshold relative to the peak, so that slow and fast reaches
  are measured alike);
- reaction time: go cue to movement onset;
- movement time: onset to the moment the hand enters the target and stays in it;
- peak speed: the largest hand speed between onset and offset (a 10 cm minimum-jerk reach of
  duration T peaks at 1.875 x 0.1 m / T: 0.375 m/s for 500 ms);
- peak-to-mean speed ratio: 1.875 for a minimum-jerk reach over its whole duration (Flash T, Hogan N
  1985, J Neurosci 5:1688-1703). Measured reaches have no exact start and end, so
  :func:`reach_kinematics` takes the movement from onset to offset (the 10% crossings), over which a
  minimum-jerk reach gives 1.565: compare a measured value with that one;
- path linearity index: the largest perpendicular distance of the path from the straight line
  between its ends, over that line's length, onset to offset. People's point-to-point hand paths
  are nearly straight (Morasso P 1981, Exp Brain Res 42:223-227), about 0.05-0.1 by this index;
- peak time fraction: when the speed peaks, as a fraction of the onset-to-offset window: 0.5 for
  a minimum-jerk reach, whose bell is symmetric; lower for a fast start and a long deceleration;
- moving at the end: whether the trial ended before the speed fell back below 10% of its peak
  (then the offset is the trial's last sample and the window, and the measures over it, are cut
  short).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ONSET_FRACTION = 0.1


def speed_profile(hand_pos_m: np.ndarray, dt_s: float) -> np.ndarray:
    """Hand speed (m/s) at each sample of a (T, 2) path, by central differences (one-sided at the ends)."""
    return np.linalg.norm(np.gradient(np.asarray(hand_pos_m, dtype=float), dt_s, axis=0), axis=1)


def movement_onset(speed: np.ndarray, after: int = 0, fraction: float = ONSET_FRACTION) -> int | None:
    """First index >= ``after`` where speed exceeds ``fraction`` of its peak after ``after``; None if still."""
    tail = np.asarray(speed)[after:]
    if len(tail) == 0 or tail.max() <= 0:
        return None
    return after + int(np.argmax(tail > fraction * tail.max()))


def movement_offset(speed: np.ndarray, onset: int, fraction: float = ONSET_FRACTION) -> int:
    """First index after the speed peak (after ``onset``) where speed falls below ``fraction`` of
    the peak; the last index if it never does."""
    speed = np.asarray(speed)
    peak = onset + int(np.argmax(speed[onset:]))
    below = np.flatnonzero(speed[peak:] < fraction * speed[peak])
    return peak + int(below[0]) if len(below) else len(speed) - 1


def entry_and_stay(distance_m: np.ndarray, radius_m: float) -> int | None:
    """Index from which the hand is inside the target zone until the end; None if it ends outside."""
    inside = np.asarray(distance_m) <= radius_m
    if not inside[-1]:
        return None
    outside = np.flatnonzero(~inside)
    return 0 if len(outside) == 0 else int(outside[-1]) + 1


def peak_to_mean_speed(speed: np.ndarray) -> float:
    """Peak over mean of a movement's speed samples (1.875 for minimum jerk)."""
    speed = np.asarray(speed, dtype=float)
    return float(speed.max() / speed.mean()) if speed.mean() > 0 else float("nan")


def path_linearity(path_m: np.ndarray) -> float:
    """Largest perpendicular distance of a (T, 2) path from its start-end chord, over the chord length."""
    path = np.asarray(path_m, dtype=float)
    chord = path[-1] - path[0]
    length = float(np.linalg.norm(chord))
    if length == 0:
        return float("nan")
    offsets = path - path[0]
    perpendicular = np.abs(offsets[:, 0] * chord[1] - offsets[:, 1] * chord[0]) / length
    return float(perpendicular.max() / length)


@dataclass(frozen=True)
class ReachKinematics:
    """Measures of one reach; NaN where not defined (no movement, or never settled in the target)."""

    reaction_time_ms: float
    movement_time_ms: float
    peak_speed_m_s: float
    peak_to_mean_speed: float
    path_linearity: float
    peak_time_fraction: float
    moving_at_end: float
    """1.0 if the trial ended before the reach's speed fell below the offset threshold, else 0.0."""


def reach_kinematics(
    hand_pos_m: np.ndarray, target_pos_m: np.ndarray, go_index: int, dt_s: float, target_radius_m: float
) -> ReachKinematics:
    """Measures of one trial's reach: the hand path (T, 2) sampled every ``dt_s``, go cue at ``go_index``."""
    path = np.asarray(hand_pos_m, dtype=float)
    speed = speed_profile(path, dt_s)
    onset = movement_onset(speed, after=go_index)
    distance = np.linalg.norm(path - np.asarray(target_pos_m), axis=1)
    arrival = entry_and_stay(distance, target_radius_m)
    nan = float("nan")
    if onset is None:
        return ReachKinematics(nan, nan, nan, nan, nan, nan, nan)
    reaction = (onset - go_index) * dt_s * 1000
    offset = movement_offset(speed, onset)
    movement = slice(onset, offset + 1)
    movement_time = (arrival - onset) * dt_s * 1000 if arrival is not None and arrival > onset else nan
    peak = onset + int(np.argmax(speed[movement]))
    return ReachKinematics(
        reaction,
        movement_time,
        float(speed[peak]),
        peak_to_mean_speed(speed[movement]),
        path_linearity(path[movement]),
        (peak - onset) / (offset - onset) if offset > onset else nan,
        float(speed[offset] >= ONSET_FRACTION * speed[peak]),
    )
