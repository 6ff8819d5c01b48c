"""Documentation tables of the motorgym envs, composed into each env's docstring.

``tests/envs/test_docstrings.py`` parses every env's docstring and checks each table against the
code (observation names, action names and ranges, reward terms, episode length, argument names and
defaults), so edit the tables here when the code changes. The arguments' defaults are read from
each version's config class (versions differ in their defaults); their meanings are written here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

VISION_ROWS = """\
| 0 | hand_x_m | m | vision: hand position x (shoulder at the origin), delayed by visual_delay_ms |
| 1 | hand_y_m | m | vision: hand position y, delayed by visual_delay_ms |
| 2 | target_x_m | m | vision: target position x, delayed by visual_delay_ms |
| 3 | target_y_m | m | vision: target position y, delayed by visual_delay_ms |
| 4 | go_cue | 0 or 1 | vision: 1 once the go cue is given, delayed by go_cue_latency_ms + visual_delay_ms |"""

TORQUE_PROPRIO_ROWS = """\
| 5 | shoulder_angle_rad | rad | proprioception: shoulder angle, delayed by proprio_delay_ms |
| 6 | elbow_angle_rad | rad | proprioception: elbow angle, delayed by proprio_delay_ms |
| 7 | shoulder_velocity_rad_s | rad/s | proprioception: shoulder velocity, delayed by proprio_delay_ms |
| 8 | elbow_velocity_rad_s | rad/s | proprioception: elbow velocity, delayed by proprio_delay_ms |"""

MUSCLES = ["pectoralis", "deltoid", "brachioradialis", "triceps_lateral", "biceps", "triceps_long"]
MUSCLE_PROPRIO_ROWS = "\n".join(
    [
        f"| {5 + i} | {m}_length_lopt | l_opt | proprioception: fibre length, delayed by proprio_delay_ms |"
        for i, m in enumerate(MUSCLES)
    ]
    + [
        f"| {11 + i} | {m}_velocity_lopt_s | l_opt/s | proprioception: fibre velocity, delayed by proprio_delay_ms |"
        for i, m in enumerate(MUSCLES)
    ]
)

TORQUE_ACTIONS = """\
| index | name | range | effect |
|---|---|---|---|
| 0 | shoulder | [-1, 1] | shoulder torque, x 10 N m (positive flexes) |
| 1 | elbow | [-1, 1] | elbow torque, x 8 N m (positive flexes) |"""

MUSCLE_ACTIONS = """\
| index | name | range | effect |
|---|---|---|---|
| 0 | pectoralis | [0, 1] | excitation of the shoulder flexor |
| 1 | deltoid | [0, 1] | excitation of the shoulder extensor |
| 2 | brachioradialis | [0, 1] | excitation of the elbow flexor |
| 3 | triceps_lateral | [0, 1] | excitation of the elbow extensor |
| 4 | biceps | [0, 1] | excitation of the biarticular flexor |
| 5 | triceps_long | [0, 1] | excitation of the biarticular extensor |"""

REWARDS = """\
| term | value per step |
|---|---|
| reward_distance | -distance_weight x distance (m) from the hand to the goal: the start position until the go cue is processed (go_cue_latency_ms after it; and in catch trials), the target after that; 0 from the processed cue until state_cost_onset_ms after it |
| reward_effort | -effort_weight x sum of squared commands (the action after clipping, before motor noise) |
| reward_speed | -speed_weight x squared hand speed, (m/s)^2; 0 where reward_distance is (state_cost_onset_ms) |
| reward_activation | -activation_weight x sum of squared activations (muscles, or a torque arm's filtered commands; 0 for an unfiltered torque arm) |
| reward_activation_change | -activation_change_weight x sum of squared changes of the activations over the step |
| reward_time | -time_weight on each step from the processed go cue until the hand is in the target (a cost of time) |
| reward_false_start | -false_start_weight once, on the step of a false start (the hand leaves the start zone before the go cue) |
| reward_delay_speed | -delay_speed_weight x squared hand speed, (m/s)^2, until the go cue is processed (hold still at the start) |"""

#: Meaning of each argument every task takes (the defaults come from the task's config class).
COMMON_ARGUMENTS = {
    "control_step_ms": "duration of one step, a multiple of the 5 ms physics step",
    "proprio_delay_ms": "proprioceptive delay, a multiple of control_step_ms",
    "visual_delay_ms": "visual delay (hand, target, go cue), a multiple of control_step_ms",
    "go_cue_latency_ms": "cue-processing latency: the go cue reaches the network (after the visual delay) and "
    "the goal of the distance cost moves to the target this long after the cue; a multiple of control_step_ms",
    "proprio_noise_std": "Gaussian noise on each proprioceptive entry (its units); 0 turns it off",
    "visual_noise_std_m": "Gaussian noise on the seen hand and target coordinates, m; 0 turns it off",
    "motor_noise_coef": "signal-dependent motor noise c: u x (1 + c eps), eps ~ N(0, 1); 0 turns it off",
    "torque_time_constant_ms": "torque arm: time constant of a first-order low-pass filter from command to joint "
    "torque (muscle-like force rise), ms; 0 is none (the muscle arm takes only 0)",
    "distance_weight": "weight of the distance term",
    "effort_weight": "weight of the effort term",
    "speed_weight": "weight of the hand-speed term",
    "delay_speed_weight": "weight of the hand-speed term while waiting at the start (until the go cue is processed)",
    "activation_weight": "weight of the activation term (muscles, or a filtered torque arm's torques)",
    "activation_change_weight": "weight of the activation-change term",
    "time_weight": "cost per step from the go cue until the hand is in the target",
    "state_cost_onset_ms": "the distance and speed terms resume this long after the go cue is processed (a "
    "set movement time: neither is charged before it), a multiple of control_step_ms; 0 is at once",
    "false_start_weight": "cost of a false start, charged once on the step it happens",
    "target_radius_m": "radius of the target zone, m",
    "hold_ms": "time the hand must stay in the target, ms",
    "hold_max_speed_m_s": "hand speed at or below which a step in the target counts towards hold_ms, m/s; "
    "0 is any speed",
    "force_field": 'force F = B v at the hand: "null", "curl_cw", "curl_ccw" (gain force_field_gain_n_s_m) or '
    "B, a 2x2 matrix in N s/m; off in channel trials",
    "force_field_gain_n_s_m": "gain of the curl presets, N s/m",
    "channel": "force-channel trials: a spring and damper across the start-target line; the field is off",
    "channel_stiffness_n_m": "stiffness of the channel, N/m",
    "channel_damping_n_s_m": "damping of the channel, N s/m",
    "load_pulse_force_n": "force (x, y) of the load pulse at the hand, N; (0, 0) is none",
    "load_pulse_onset_ms": "start of the pulse after load_pulse_reference, a multiple of control_step_ms",
    "load_pulse_duration_ms": "duration of the pulse (within the trial), a multiple of control_step_ms",
    "load_pulse_reference": '"go_cue" or "trial_start": what the pulse onset is timed from',
    "visual_rotation_deg": "visuomotor rotation of the seen hand about the start, deg anticlockwise "
    "(vision and the task's goals; proprioception unchanged)",
    "render_width_px": "width of rendered frames",
    "render_height_px": "height of rendered frames",
}
RENDER_MODE_ROW = (
    '| render_mode | None | None, "rgb_array" (frames from the top camera) or "human" (a window; needs a display) |'
)


def arguments_rows(config_cls: type, task_arguments: dict[str, str]) -> str:
    """Rows of the arguments table: every field of ``config_cls`` in order, its default from the
    class and its meaning from COMMON_ARGUMENTS or ``task_arguments`` (a KeyError for a field
    without one, so that no argument goes undocumented)."""
    meanings = {**COMMON_ARGUMENTS, **task_arguments}
    rows = [RENDER_MODE_ROW]
    for field in dataclasses.fields(config_cls):
        rows.append(f"| {field.name} | {field.default!r} | {meanings[field.name]} |")
    return "\n".join(rows)


#: What each version of a task is (the same for every task).
VERSION_NOTES = {
    "v0": "Version v0: the first version, frozen: no cue latency, and no costs besides distance and effort.",
    "v1": "Version v1: the v0 task with the human-like defaults of ``motorgym.envs.HumanLikeConfig`` (a cue "
    "latency, costs of hand speed and of false starts; see docs/environments.md).",
    "v2": "Version v2 (torque arm): the v1 task with the effort cost of ``motorgym.envs.HumanLikeV2Config``, under "
    "which the speed profile is a person's (see docs/environments.md).",
    "v3": "Version v3 (muscle arm): the v2 task with the set movement time of ``motorgym.envs.HumanLikeV3Config``: "
    "distance and speed are charged from state_cost_onset_ms after the processed go cue, under which the muscle "
    "arm's speed profile is a person's bell (see docs/environments.md).",
}


def env_docstring(env_cls: Any, summary: str, episode_end: str, task_arguments: dict[str, str], info_note: str) -> str:
    """Assemble the docstring of ``env_cls`` (an ``ArmTaskEnv`` subclass: its id, arm and config
    class) from its tables (``task_arguments``: the meaning of each of the task's own arguments)."""
    arm = {"torque": "the torque-driven arm", "muscle": "the arm driven by six muscles"}[env_cls.arm_kind]
    proprio_rows = TORQUE_PROPRIO_ROWS if env_cls.arm_kind == "torque" else MUSCLE_PROPRIO_ROWS
    actions = TORQUE_ACTIONS if env_cls.arm_kind == "torque" else MUSCLE_ACTIONS
    version = VERSION_NOTES[env_cls.env_name.rsplit("-", 1)[1]]
    return f"""{env_cls.env_name}: {arm}. {summary}

    {version}

    ## Observation
    A flat ``Box`` of float32 (names in ``env.unwrapped.obs_names``), with sensory delays and noise:

    | index | name | unit | signal |
    |---|---|---|---|
{_indent(VISION_ROWS)}
{_indent(proprio_rows)}

    ## Action
    Clipped to the range; NaN, inf or a wrong shape raise ``ValueError``.

{_indent(actions)}

    ## Reward
    The sum of these terms, each also returned in ``info``:

{_indent(REWARDS)}

    ## Episode end
    | condition | result |
    |---|---|
{_indent(episode_end)}

    ## Arguments
    Keyword arguments of ``gym.make``; unknown names raise ``TypeError``, bad values ``ValueError``.

    | argument | default | meaning |
    |---|---|---|
{_indent(arguments_rows(env_cls.config_cls, task_arguments))}

    ## Info
    Every step's ``info`` holds ``hand_pos``, ``cursor_pos`` (the seen hand: ``hand_pos`` turned by
    ``visual_rotation_deg`` about the start) and ``target_pos`` (m), ``distance_m`` (cursor to target),
    ``phase`` (0 delay, 1 move, 2 hold; see ``motorgym.envs.task.Phase``), ``go_cue``,
    ``catch_trial``, ``target_index``, ``time_ms`` (since the trial start), ``false_start``, ``success``,
    the reward terms ``reward_distance``, ``reward_effort``, ``reward_speed``, ``reward_activation``,
    ``reward_activation_change``, ``reward_time``, ``reward_false_start`` and ``reward_delay_speed``, and
    ``physics_error`` (True on the step where the simulation went unstable; the arm is then put back
    at the trial's start posture and the episode terminates), ``hand_force_n`` (the external force
    at the hand, field, channel and pulse, N, the step's mean) and ``channel_force_n`` (the
    channel's force across the path, N, along the start-target direction turned 90 deg
    anticlockwise; 0 off channel trials) and ``arm_state`` (the arm's state as its sensors report it,
    undelayed and noiseless: hand position, proprioception and activations, in the order of
    ``Arm.sensed_state_names``; what the learned arm of model-based training models). Each
    perturbation argument is also a ``reset`` option, for that trial only. {info_note}
    """


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
