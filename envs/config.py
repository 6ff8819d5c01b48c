"""Arguments of the motorgym tasks: typed, validated, one dataclass per task.

Every field is a keyword argument of ``gym.make`` (and ``gym.make_vec``). Unknown names and
out-of-range values are rejected with an error naming the argument and what it accepts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from motorgym.envs.perturbations import LOAD_PULSE_REFERENCES, PERTURBATION_ARGUMENTS, force_field_matrix

ConfigT = TypeVar("ConfigT", bound="EnvConfig")


def require(name: str, value: Any, ok: bool, allowed: str) -> None:
    """Raise ValueError naming ``name``, its allowed values and the value received, unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {allowed} (got {value!r})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_finite_pair(value: Any) -> bool:
    """Whether ``value`` is a pair (tuple or list) of finite numbers."""
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)


#: The cost arguments that time its terms rather than weigh them.
COST_TIMING = ("state_cost_onset_ms",)


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
    torque_time_constant_ms: float = 0.0
    """Torque arm: time constant of a first-order low-pass filter from each command to its joint
    torque, standing for the rise and fall of muscle force (0: the command is the torque at once;
    models of reaching use 40-60 ms, e.g. Todorov & Jordan 2002, Todorov 2005). The muscle arm has
    activation dynamics of its own and takes only 0."""
    distance_weight: float = 1.0
    """Weight of the hand-to-goal distance (m) in the per-step cost."""
    effort_weight: float = 0.01
    """Weight of the effort (sum of squared commands) in the per-step cost."""
    speed_weight: float = 0.0
    """Weight of the squared hand speed ((m/s)^2) in the per-step cost."""
    delay_speed_weight: float = 0.0
    """Weight of the squared hand speed ((m/s)^2) while the hand must wait at the start (until the go
    cue is processed; all trial long in catch trials), on top of ``speed_weight``: the hold-still
    requirement of the instructed-delay tasks, which a distance cost alone barely enforces inside
    the start zone."""
    activation_weight: float = 0.0
    """Weight of the sum of squared activations in the per-step cost: the muscles', or the filtered
    commands of a torque arm with ``torque_time_constant_ms`` (an unfiltered torque arm has none; its
    effort term is on the commands)."""
    activation_change_weight: float = 0.0
    """Weight of the sum of squared changes of the activations over one step, in the per-step cost
    (with a filtered torque arm, a cost of the torque's rate of change: Uno, Kawato & Suzuki 1989)."""
    time_weight: float = 0.0
    """Cost of each step from the go cue until the hand is in the target: a cost of time, against
    which the effort costs set the movement's vigour."""
    state_cost_onset_ms: float = 0.0
    """When the costs of the hand's state (distance to the goal and hand speed) resume, ms after the
    go cue is processed: from the processed cue until then only the other terms (effort, ...) are
    charged; a multiple of the step. 0 charges them all along. A movement time set by the modeller,
    at whose end the hand must be on the target and still: the finite-horizon formulation of optimal
    reaching (Harris & Wolpert 1998; Todorov & Jordan 2002, whose terminal cost is on position and
    velocity), whose optimum is a symmetric bell of speed; a distance charged from the cue on asks
    for a fast start and a long deceleration instead."""
    false_start_weight: float = 0.0
    """Cost of a false start, charged once, on the step the hand leaves the start zone before the go
    cue: without it, leaving early costs nothing in the reward and networks learn to anticipate the
    go cue. (Charged at the moment it happens, the cost is credited to the actions that caused it.)"""
    target_radius_m: float = 0.015
    """Radius of the target zone, metres."""
    hold_ms: float = 200.0
    """How long the hand must stay in the target for a success, ms."""
    hold_max_speed_m_s: float = 0.0
    """Hold still: a step in the target counts towards ``hold_ms`` only while the hand's speed is at
    most this, m/s (0: at any speed). People end a reach at rest in the target; a hold at any speed
    lets a trained network end its trials while still gliding through the target."""
    force_field: str | tuple[tuple[float, float], tuple[float, float]] = "null"
    """Velocity-dependent force at the hand, F = B v: a preset of ``FORCE_FIELD_PRESETS`` (``"null"``,
    ``"curl_cw"``, ``"curl_ccw"``; scaled by ``force_field_gain_n_s_m``) or B itself, a 2x2 matrix in N s/m."""
    force_field_gain_n_s_m: float = 15.0
    """Gain b of the preset curl fields, N s/m (people adapt to 13-15: Shadmehr & Mussa-Ivaldi 1994)."""
    channel: bool = False
    """Force-channel trials: a spring and damper across the straight start-target line hold the hand
    on it (the force field is off while it is on); ``info["channel_force_n"]`` is its force."""
    channel_stiffness_n_m: float = 6000.0
    """Stiffness of the force channel, N/m (Scheidt et al. 2000 and later studies: 2,000-6,000)."""
    channel_damping_n_s_m: float = 50.0
    """Damping of the force channel across the path, N s/m."""
    load_pulse_force_n: tuple[float, float] = (0.0, 0.0)
    """Force of the load pulse at the hand (x, y), N; (0, 0) turns it off."""
    load_pulse_onset_ms: float = 0.0
    """When the pulse starts, after ``load_pulse_reference``; a multiple of control_step_ms."""
    load_pulse_duration_ms: float = 0.0
    """How long the pulse lasts (it must end within the trial); a multiple of control_step_ms."""
    load_pulse_reference: str = "go_cue"
    """What the pulse's onset is timed from: ``"go_cue"`` (mid-reach perturbations) or
    ``"trial_start"`` (posture perturbations during the delay)."""
    visual_rotation_deg: float = 0.0
    """Visuomotor rotation: the seen hand (vision, and the task's goals and success) is the hand
    rotated about the start position by this angle, anticlockwise; proprioception is unchanged."""
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
            "torque_time_constant_ms",
            "distance_weight",
            "effort_weight",
            "speed_weight",
            "delay_speed_weight",
            "activation_weight",
            "activation_change_weight",
            "time_weight",
            "state_cost_onset_ms",
            "false_start_weight",
            "hold_ms",
            "hold_max_speed_m_s",
            "channel_stiffness_n_m",
            "channel_damping_n_s_m",
            "load_pulse_onset_ms",
            "load_pulse_duration_ms",
        ):
            require(name, getattr(self, name), getattr(self, name) >= 0, ">= 0")
        self._check_perturbations()
        require("target_radius_m", self.target_radius_m, 0 < self.target_radius_m <= 0.1, "in (0, 0.1] m")
        for name in ("render_width_px", "render_height_px"):
            value = getattr(self, name)
            require(name, value, isinstance(value, int) and 16 <= value <= 1280, "an int in [16, 1280]")

    def _check_perturbations(self) -> None:
        matrix = force_field_matrix(self.force_field, self.force_field_gain_n_s_m)
        if not isinstance(self.force_field, str):  # a hashable, JSON-friendly value, however given
            object.__setattr__(self, "force_field", tuple(map(tuple, matrix.tolist())))
        require("channel", self.channel, isinstance(self.channel, (bool, np.bool_)), "True or False")
        object.__setattr__(self, "channel", bool(self.channel))
        pulse = self.load_pulse_force_n
        require("load_pulse_force_n", pulse, is_finite_pair(pulse), "a pair (x, y) of finite numbers, N")
        object.__setattr__(self, "load_pulse_force_n", (float(pulse[0]), float(pulse[1])))
        require(
            "load_pulse_reference",
            self.load_pulse_reference,
            self.load_pulse_reference in LOAD_PULSE_REFERENCES,
            f"one of {list(LOAD_PULSE_REFERENCES)}",
        )
        require(
            "visual_rotation_deg", self.visual_rotation_deg, -180 <= self.visual_rotation_deg <= 180, "in [-180, 180]"
        )

    def with_trial_options(self: ConfigT, options: dict[str, Any]) -> ConfigT:
        """This config with the perturbation arguments in ``options`` (one trial's reset options)
        replaced, validated as the arguments are."""
        changes = {name: options[name] for name in PERTURBATION_ARGUMENTS if name in options}
        return dataclasses.replace(self, **changes) if changes else self

    @classmethod
    def cost_argument_names(cls) -> list[str]:
        """The arguments that only shape the per-step cost (every ``*_weight``, and
        ``state_cost_onset_ms``): they change the reward, never the arm's motion, sensing or the trials
        (a test holds them to that)."""
        return [f.name for f in dataclasses.fields(cls) if f.name.endswith("_weight") or f.name in COST_TIMING]

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


@dataclass(frozen=True)
class HumanLikeV2Config(HumanLikeConfig):
    """The defaults of the v2 ids (both arms): v1's, with an effort cost under which the reach's
    speed profile is a person's bell, not v1's triangle, and a speed cost eased to keep its vigour
    (the calibration is in docs/environments.md; the muscle arm's ids since its own, ``muscle6``).

    Under v1's costs the best possible reach starts with a jump in speed and decelerates steadily
    (peak/mean speed 1.74, people 1.57), and trained networks glide through the target
    (``benchmarks/calibration/optimal_profile.py``); a squared-command cost 100 times larger charges
    that jump in force, so that the optimum, and trained networks, accelerate smoothly."""

    effort_weight: float = 1.0
    """Weight of the squared commands: large enough that the speed profile is bell-shaped."""
    speed_weight: float = 0.35
    """Weight of the squared hand speed: with the larger effort cost, v1's 0.5 gives reaches just
    slower than people's (peak 0.25 m/s); 0.35 gives 0.28 m/s and a 370 ms movement time."""


@dataclass(frozen=True)
class HumanLikeV3Config(HumanLikeV2Config):
    """The defaults of the v3 ids (muscle arm): v2's, with a set movement time, at whose end the hand
    must be on the target and still (the calibration is in docs/environments.md;
    ``benchmarks/results/human_likeness_calibration.md``, ``muscle8`` to ``muscle10``).

    Under v2's costs, the distance and speed charged from the processed go cue on, the best possible
    reach of the muscle arm rushes its first steps and decelerates slowly (peak/mean speed 1.70 for
    the point mass, 1.80-1.87 in trained networks; people 1.57). Charged only from a set time after
    the cue (the finite-horizon cost: position and velocity at the movement's end, effort throughout;
    Harris & Wolpert 1998, Todorov & Jordan 2002) the optimum is a symmetric bell (1.43-1.49), and
    trained networks reach with 1.64-1.68."""

    state_cost_onset_ms: float = 450.0
    """Distance and speed are charged from 450 ms after the go cue is processed (400 ms after the
    network sees it): a reach of about 400 ms, as people choose for 10 cm (Shadmehr & Mussa-Ivaldi
    1994: 500 +- 50 ms)."""
    speed_weight: float = 1.0
    """Weight of the squared hand speed, charged from the set time on (a hand at rest at its end):
    straighter paths than v2's 0.35 (path linearity 0.066 against 0.090 after one round of
    training); the profile itself is the same (1.74 after one round; two rounds at 0.35 untried)."""
