"""Arguments of the motorgym tasks: typed, validated, one dataclass per task.

Every field is a keyword argument of ``gym.make`` (and ``gym.make_vec``). Unknown names and
out-of-range values are rejected with an error naming the argument and what it accepts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT", bound="EnvConfig")


def require(name: str, value: Any, ok: bool, allowed: str) -> None:
    """Raise ValueError naming ``name``, its allowed values and the value received, unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {allowed} (got {value!r})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class EnvConfig:
    """Arguments shared by every motorgym task."""

    control_step_ms: float = 10.0
    """Duration of one env step (the policy's control period), a multiple of the 5 ms physics step."""
    proprio_delay_ms: float = 20.0
    """Proprioceptive feedback delay (short-latency spinal loop ~20 ms); a multiple of the step."""
    visual_delay_ms: float = 50.0
    """Visual feedback delay (hand, target and go cue); a multiple of the step."""
    go_cue_latency_ms: float = 0.0
    """Cue-processing latency: the go cue reaches the observation this much later than the visual
    delay alone would bring it (the time from seeing a cue to a decision to move); a multiple of the step."""
    proprio_noise_std: float = 0.001
    """Standard deviation of Gaussian noise on each proprioceptive entry, in that entry's units."""
    visual_noise_std_m: float = 0.001
    """Standard deviation of Gaussian noise on the seen hand and target coordinates, metres."""
    motor_noise_coef: float = 0.05
    """Signal-dependent motor noise c: each command u becomes u * (1 + c * eps), eps ~ N(0, 1)."""
    distance_weight: float = 1.0
    """Weight of the hand-to-goal distance (m) in the per-step cost."""
    effort_weight: float = 0.01
    """Weight of the effort (sum of squared commands) in the per-step cost."""
    speed_weight: float = 0.0
    """Weight of the squared hand speed ((m/s)^2) in the per-step cost."""
    activation_weight: float = 0.0
    """Weight of the sum of squared muscle activations in the per-step cost (muscle arm; the torque
    arm has no activations, its effort term is on the commands)."""
    activation_change_weight: float = 0.0
    """Weight of the sum of squared changes of the muscle activations over one step, in the per-step cost."""
    time_weight: float = 0.0
    """Cost of each step from the go cue until the hand is in the target: a cost of time, against
    which the effort costs set the movement's vigour."""
    false_start_weight: float = 0.0
    """Cost of a false start, charged once, on the step the hand leaves the start zone before the go
    cue: without it, leaving early costs nothing in the reward and networks learn to anticipate the
    go cue. (Charged at the moment it happens, the cost is credited to the actions that caused it.)"""
    target_radius_m: float = 0.015
    """Radius of the target zone, metres."""
    hold_ms: float = 200.0
    """How long the hand must stay in the target for a success, ms."""
    render_width_px: int = 480
    """Width of rendered frames, pixels."""
    render_height_px: int = 480
    """Height of rendered frames, pixels."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("float", "int") and not _is_number(value):
                raise TypeError(f"{field.name} must be a finite number (got {value!r})")
        require("control_step_ms", self.control_step_ms, self.control_step_ms > 0, "> 0")
        for name in (
            "proprio_delay_ms",
            "visual_delay_ms",
            "go_cue_latency_ms",
            "proprio_noise_std",
            "visual_noise_std_m",
            "motor_noise_coef",
            "distance_weight",
            "effort_weight",
            "speed_weight",
            "activation_weight",
            "activation_change_weight",
            "time_weight",
            "false_start_weight",
            "hold_ms",
        ):
            require(name, getattr(self, name), getattr(self, name) >= 0, ">= 0")
        require("target_radius_m", self.target_radius_m, 0 < self.target_radius_m <= 0.1, "in (0, 0.1] m")
        for name in ("render_width_px", "render_height_px"):
            value = getattr(self, name)
            require(name, value, isinstance(value, int) and 16 <= value <= 1280, "an int in [16, 1280]")

    @classmethod
    def from_kwargs(cls: type[ConfigT], env_name: str, kwargs: dict[str, Any]) -> ConfigT:
        """Build the config from ``gym.make`` keyword arguments, rejecting unknown names."""
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise TypeError(
                f"{env_name} got unknown argument(s) {', '.join(map(repr, unknown))}; "
                f"allowed arguments: render_mode, {', '.join(allowed)}"
            )
        return cls(**kwargs)


@dataclass(frozen=True)
class HumanLikeConfig(EnvConfig):
    """The defaults of the v1 ids: a cue-processing latency and costs under which trained networks
    reach like people (the calibration is in docs/environments.md; ``benchmarks/human_likeness.py``
    measures the result). Each task's v1 config inherits from it and from its v0 config."""

    go_cue_latency_ms: float = 180.0
    """Cue-processing latency (see :class:`EnvConfig`): with the 50 ms visual delay the network sees
    the go cue 230 ms after it is given, so that reaction times fall in people's 200-300 ms."""
    speed_weight: float = 0.5
    """Weight of the squared hand speed: against the distance cost it sets the movement's vigour
    (a 10 cm reach of about 500 ms)."""
    false_start_weight: float = 2.0
    """Cost of a false start: the go cue must be waited for."""
