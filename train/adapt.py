"""``motorgym adapt``: the motor-learning protocols, run on a trained policy.

    motorgym adapt runs/reacher --protocol curl-field --out runs/reacher-curl

A **protocol** is a small YAML file (``curl-field``, ``visuomotor-rotation`` and ``load-pulse``
ship in ``motorgym/train/protocols``, the first two also learnt by the learned-arm rule:
``curl-field-learned-arm``, ``visuomotor-rotation-learned-arm``, and for the muscle arm's networks
``curl-field-learned-arm-muscle-sideways-error``, ``visuomotor-rotation-learned-arm-muscle-sideways-error``;
any other file path works too):
blocks of trials, each with the perturbation of its trials (the reset options of
:mod:`motorgym.envs.perturbations`), whether the network learns during it, and the fraction of
force-channel trials mixed in. Every trial is one episode of the trained run's task; the vector
env's trial schedule hands each env its next trial of the protocol as it resets, so the envs run on
while the perturbation switches trial by trial.

**Learning rule** ``ppo``: the trained network keeps learning by our recurrent PPO (its collect,
advantage and update phases, :mod:`motorgym.train.ppo`) on the perturbed trials, with the
protocol's learning rate, ``num_envs`` envs and ``rollout_steps`` steps per update (about
num_envs x rollout_steps / trial length trials per update: the run's ``adapt.json`` reports the
measured number); its observation normaliser stays at the trained statistics, and blocks with
``learn: false`` only act. The actions are sampled, as in training.

**Learning rule** ``learned-arm`` (:mod:`motorgym.train.learned_arm_rule`): learning from errors, as
MotorNet's networks learn (its source may also be a model-based pretraining, ``motorgym
pretrain-policy``, which has no trained critic for PPO): the network acts deterministically, a
learned arm is fitted on the first block's trials and refitted as the trials go on, and every
``trials_per_update`` trials of a learning block the gradient of their cost through the learned
arm, along the real trials, takes one Adam step at the protocol's learning rate. The cost is the
loss the network was trained on, plus, with ``path_error_weight``, the seen hand's squared
sideways error from the straight start-target line (the error people adapt from).

**Two-rate learning** (either rule; ``slow_learning_rate``, ``fast_retention`` and
``slow_retention`` in the protocol's ``learning``; :mod:`motorgym.train.two_rate`): every step of
the rule goes into a fast process (at ``learning_rate``) and a slow one (at ``slow_learning_rate``),
offsets of the weights from the trained network's that each keep their retention per trial, as in
Smith, Ghazizadeh & Shadmehr's (2006) model of adaptation and its savings.

The run directory (``new_run_dir`` rules: a new or empty directory, removed if the set-up fails):

- ``config.json``: the source run, the protocol (as read) and the seed (``algo: adapt``);
- ``trials.csv``: one row per trial, in the order trials end (``trial`` numbers them in the
  protocol), flushed as they end: block, perturbation, channel, target, success and the measures
  of :mod:`motorgym.train.analysis.adaptation`;
- ``paths.npz``: each trial's hand and cursor paths from the go cue (for the figures), at the end;
  while the run goes on they are written in chunks, ``paths_so_far/NNNNN.npz`` (each holds the
  trials ended since the one before: no path is written twice);
- ``adapt.pt``: the adapted policy, its optimiser and reward scale, and how far the protocol got
  (written atomically, with a chunk of paths, after every update and every SAVE_EVERY_TRIALS trials
  without one); ``motorgym adapt --resume DIR`` continues from it, re-running the trials that had
  not ended by then (from fresh trials, so a resumed run follows the protocol but not the very
  trajectories an uninterrupted one would);
- ``arm_metrics.csv`` (learned-arm rule): the fit of its learned arm on the first block's trials
  (the rule's arm, its optimiser and the trials it learns from are in ``adapt.pt``);
- ``updates.csv`` (and ``tensorboard/``): one row per update, by the trials ended so far
  (``global_step``): PPO's losses, or the learned-arm rule's trial cost, the learned arm's hand
  error after 20 open-loop steps on the update's trials (mm) and the gradient norm; with two-rate
  learning, also the norms of the fast and slow offsets (``fast_offset_norm``, ``slow_offset_norm``);
- ``adapt.json``, ``adaptation.png`` (learning curve) and ``paths.png`` (the classic panel), at the end.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from motorgym.agents.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from motorgym.envs.batched import env_info
from motorgym.train import kinds, ppo
from motorgym.train import run_dir as layout
from motorgym.train.adapt_report import MEASURED, TRIAL_COLUMNS, read_paths, read_rows, write_report
from motorgym.train.analysis import adaptation as measures
from motorgym.train.analysis.kinematics import movement_onset, speed_profile
from motorgym.train.configs import AdaptConfig, ModelBasedConfig, PPOConfig
from motorgym.train.learned_arm_rule import LearnedArmRule, RealTrial
from motorgym.train.progress import EpisodeStats, MetricsLog
from motorgym.train.protocol import (
    PlannedTrial,
    Protocol,
    load_protocol,
    plan_trials,
    protocol_as_dict,
    protocol_from_dict,
    shipped_protocols,
)
from motorgym.train.two_rate import TwoRateWeights

#: Commands before a pulse that set the baseline of the corrective response, and how far (in
#: standard deviations of those commands, at least MIN_RESPONSE in command units) a command must
#: depart from their mean to count as the response.
PULSE_BASELINE_STEPS = 10
#: The displacement is taken this long after the pulse's onset (the response, not a later reach).
PULSE_WINDOW_MS = 250.0
PULSE_ARGUMENTS = ("load_pulse_force_n", "load_pulse_onset_ms", "load_pulse_duration_ms", "load_pulse_reference")
RESPONSE_SDS = 4.0
MIN_RESPONSE = 0.05
#: Without an update, adapt.pt (and a chunk of paths) is written once this many trials have ended.
SAVE_EVERY_TRIALS = 32


class Schedule:
    """Hands each env its next trial of the protocol (the vector env's ``trial_options``); after
    the last one, unrecorded trials of the last block keep the envs going until all have ended."""

    def __init__(self, trials: list[PlannedTrial], first: int, num_envs: int) -> None:
        self.trials, self.next_trial = trials, first
        self.running: list[PlannedTrial | None] = [None] * num_envs

    def __call__(self, env: int) -> dict[str, Any]:
        if self.next_trial < len(self.trials):
            trial = self.trials[self.next_trial]
            self.next_trial += 1
            self.running[env] = trial
            return trial.options
        self.running[env] = None
        return {**self.trials[-1].options, "channel": False}

    def block_of_latest(self) -> int:
        return self.trials[min(self.next_trial, len(self.trials)) - 1].block


# --------------------------------------------------------------------------------------- recorder
class TrialRecorder(gym.vector.VectorWrapper):
    """Records every scheduled trial's path and forces from the info stream (SAME_STEP autoreset:
    an ending trial's last step is in ``final_info``) and hands finished trials to ``on_trial``."""

    KEYS = ("hand_pos", "cursor_pos", "channel_force_n", "go_cue", "arm_state")

    def __init__(self, envs: gym.vector.VectorEnv, schedule: Schedule, on_trial: Any) -> None:
        super().__init__(envs)
        self.schedule, self.on_trial = schedule, on_trial
        self.traces: list[dict[str, list[Any]]] = []
        self.trial_of: list[PlannedTrial | None] = []

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.trial_of = list(self.schedule.running)
        self.traces = [self._start(obs, info, i) for i in range(self.num_envs)]
        return obs, info

    def _start(self, obs: np.ndarray, info: dict[str, Any], env: int) -> dict[str, list[Any]]:
        """A new trace: the observation and each key's value at the reset, and no commands yet (one per step)."""
        return {**{key: [np.copy(info[key][env])] for key in self.KEYS}, "obs": [np.copy(obs[env])], "command": []}

    def step(self, actions: np.ndarray) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        ended = terminated | truncated
        for i in range(self.num_envs):
            source = info["final_info"] if ended[i] else info
            for key in self.KEYS:
                self.traces[i][key].append(np.copy(source[key][i]))
            self.traces[i]["obs"].append(np.copy(info["final_obs"][i] if ended[i] else obs[i]))
            self.traces[i]["command"].append(np.copy(actions[i]))
            if ended[i]:
                trial = self.trial_of[i]
                if trial is not None:
                    self.on_trial(trial, {k: np.array(v) for k, v in self.traces[i].items()}, env_info(source, i))
                self.trial_of[i] = self.schedule.running[i]
                self.traces[i] = self._start(obs, info, i)
        return obs, reward, terminated, truncated, info


def trial_measures(
    protocol: Protocol, trace: dict[str, np.ndarray], final: dict[str, Any], step_ms: float, target_radius_m: float
) -> dict[str, Any]:
    """The measures of one trial from its trace (from reset to its last step) and last info, over
    the movement: from the go cue until the seen hand first enters the target (or the trial ends)."""
    row: dict[str, Any] = {
        "success": bool(final["success"]),
        "false_start": bool(final["false_start"]),
        "steps": len(trace["go_cue"]) - 1,
        "target_index": int(final["target_index"]),
        **dict.fromkeys(MEASURED, math.nan),
    }
    go = np.flatnonzero(trace["go_cue"])
    if len(go) == 0:  # a catch trial: no reach to measure
        return row
    start, target = trace["cursor_pos"][0], final["target_pos"]
    cursor = trace["cursor_pos"][go[0] :]
    inside = np.flatnonzero(np.hypot(*(cursor - target).T) <= target_radius_m)
    end = int(inside[0]) + 1 if len(inside) else len(cursor)
    hand, cursor = trace["hand_pos"][go[0] : go[0] + end], cursor[:end]
    dt_s = step_ms / 1000.0
    speed = speed_profile(hand, dt_s) if len(hand) > 1 else np.zeros(len(hand))
    field_b = protocol.field_matrix()
    direction = measures.field_direction(field_b, start, target) or 1.0
    row["max_perpendicular_deviation_mm"] = 1000 * measures.max_perpendicular_deviation_m(
        hand, start, target, direction
    )
    channel_force = trace["channel_force_n"][go[0] : go[0] + end]
    if channel_force.any() and len(hand) > 1:
        velocity = np.gradient(hand, dt_s, axis=0)
        row["adaptation_index"] = measures.adaptation_index(channel_force, velocity, field_b, start, target)
    peak = int(np.argmax(speed)) if len(speed) else None
    row["initial_direction_error_deg"] = measures.initial_direction_error_deg(cursor, start, target, peak)
    onset = movement_onset(speed)
    row["reaction_time_ms"] = math.nan if onset is None else onset * step_ms
    row["peak_speed_m_s"] = float(speed.max()) if len(speed) else math.nan
    return row


def pulse_measures(trace: dict[str, np.ndarray], onset: int, step_ms: float) -> dict[str, float]:
    """The hand's largest displacement within PULSE_WINDOW_MS of a load pulse that began at trace
    index ``onset``, and the latency of the first command that departs from the pre-pulse commands
    (see RESPONSE_SDS)."""
    commands = np.asarray(trace["command"], dtype=float)
    before = commands[max(0, onset - PULSE_BASELINE_STEPS) : onset]
    spread = float(np.linalg.norm(before - before.mean(axis=0), axis=1).std()) if len(before) > 1 else 0.0
    latency = measures.corrective_latency_steps(
        commands, onset, max(MIN_RESPONSE, RESPONSE_SDS * spread), PULSE_BASELINE_STEPS
    )
    window = onset + int(round(PULSE_WINDOW_MS / step_ms))
    return {
        "pulse_displacement_mm": 1000 * measures.pulse_displacement_m(trace["hand_pos"][:window], onset),
        "pulse_latency_ms": latency * step_ms,
    }


def pulse_onset(task: Any, options: dict[str, Any], go_cue: np.ndarray) -> int | None:
    """The trace index at which this trial's load pulse began (None: no pulse, or a go cue never came)."""
    value = {name: options.get(name, getattr(task, name)) for name in PULSE_ARGUMENTS}
    if not any(value["load_pulse_force_n"]) or value["load_pulse_duration_ms"] <= 0:
        return None
    start = 0
    if value["load_pulse_reference"] == "go_cue":
        go = np.flatnonzero(go_cue)
        if len(go) == 0:
            return None
        start = int(go[0])
    onset = start + int(round(value["load_pulse_onset_ms"] / task.control_step_ms))
    return onset if onset < len(go_cue) - 1 else None


# ------------------------------------------------------------------------------------------ run
@dataclass
class Session:
    """An adapt run in progress: its learner, schedule, recorded rows and paths."""

    config: AdaptConfig
    protocol: Protocol
    learner: ppo.Learner
    trials: list[PlannedTrial]
    schedule: Schedule
    rows: dict[int, dict[str, Any]]
    paths: dict[int, tuple[np.ndarray, np.ndarray]]
    source_kind: str
    """The source run's kind (``kinds.KINDS``)."""
    rule: LearnedArmRule | None = None
    """The learned-arm rule's state (None for ppo)."""
    two_rate: TwoRateWeights | None = None
    """The fast and slow processes of two-rate learning (None: the rule's steps as they are)."""
    updates: int = 0
    written: set[int] = field(default_factory=set)
    """Trials whose paths are in a chunk file already."""
    log: Any = None
    log_file: Any = None
    update_log: Any = None
    """updates.csv (a MetricsLog)."""


def adapt(
    source_run: str | Path,
    protocol: str,
    out: str | Path,
    seed: int = 0,
    device: str = "cpu",
    torch_threads: int = 1,
    progress: bool = True,
) -> Path:
    """Run ``protocol`` on the trained policy of ``source_run`` into the new run directory ``out``."""
    out = Path(out)
    protocol_spec = load_protocol(protocol)
    config = AdaptConfig(
        seed=seed,
        device=device,
        torch_threads=torch_threads,
        source_run=str(source_run),
        protocol=protocol,
        protocol_spec=protocol_as_dict(protocol_spec),
    )
    policy_tensors, source, source_kind = _source_policy(Path(source_run), config.device, protocol_spec.learning.rule)
    with layout.new_run_dir(out):
        session = _start_session(
            config, protocol_spec, source, policy_tensors, first_trial=0, rows={}, paths={}, source_kind=source_kind
        )
        try:
            kinds.write_config(out, config)
            _open_log(session, out, rows=[])
        except BaseException:
            session.learner.envs.close()
            raise
    return _run(session, out, progress)


def resume(run_dir: str | Path, progress: bool = True) -> Path:
    """Continue an adapt run from its ``adapt.pt``: the trials that had not ended run again."""
    run_dir = Path(run_dir)
    saved = load_checkpoint(run_dir / layout.ADAPT_CHECKPOINT)
    tensors, meta = saved
    config = AdaptConfig(**{k: v for k, v in layout.read_config(run_dir).items() if k != "algo"})
    protocol = protocol_from_dict(config.protocol_spec, str(run_dir / layout.CONFIG))
    first = int(meta["resume_from"])
    rows = [row for row in read_rows(run_dir) if int(row["trial"]) < first]
    paths = read_paths(run_dir, first)
    session = _start_session(
        config,
        protocol,
        meta["source"],
        tensors,
        first,
        {int(r["trial"]): r for r in rows},
        paths,
        meta.get("source_kind", "lstm-ppo"),  # runs before model-based sources had PPO ones
    )
    session.learner.optimizer.load_state_dict(tensors["optimizer"])
    session.written = set(paths)
    if session.rule is not None:
        session.rule.load_state_dict(tensors["rule"])
    if session.two_rate is not None:
        session.two_rate.load_state_dict(tensors["two_rate"])
    session.updates = int(meta["updates"])
    torch.set_rng_state(tensors["torch_rng"])
    _open_log(session, run_dir, rows)
    return _run(session, run_dir, progress)


def _source_policy(source_run: Path, device: str, rule: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The trained run's policy (and PPO's reward scale), the PPOConfig fields of its network and
    task, and its kind's name: a PPO run for either rule, a model-based pretraining for the
    learned-arm rule (a clear error for other runs)."""
    kind = kinds.kind_of(source_run)
    if kind.config_cls is PPOConfig:
        tensors, meta = load_checkpoint(source_run / layout.PPO_CHECKPOINT, device=device)
        return {"policy": tensors["policy"], "reward_scale": tensors["reward_scale"]}, meta["config"], kind.name
    if kind.config_cls is not ModelBasedConfig:
        raise ValueError(
            f"source run must be an lstm-ppo, gru-ppo or model-based run; {source_run} is a {kind.name} run"
        )
    if rule != "learned-arm":
        raise ValueError(
            f"the {rule!r} rule goes on with PPO and needs a PPO run's trained critic; {source_run} is a "
            "model-based run: use a learned-arm protocol (e.g. curl-field-learned-arm)"
        )
    policy, meta = kinds.load_policy_file(source_run / layout.PRETRAINED_POLICY, device)
    trained = meta["config"]
    network = {
        "env_id": meta["env_id"],
        "env_kwargs": dict(meta["env_kwargs"]),
        "cell": policy.spec.cell,
        "hidden_size": policy.spec.hidden_size,
        "bounded_action_mean": policy.spec.bounded_mean,
        # 0 where absent: runs from before the regularisation had none
        **{name: trained.get(name, 0.0) for name in ("activity_l2", "activity_change_l2", "command_change_l2")},
    }
    return {"policy": policy.state_dict()}, network, kind.name


def _start_session(
    config: AdaptConfig,
    protocol: Protocol,
    source: dict[str, Any],
    tensors: dict[str, Any],
    first_trial: int,
    rows: dict[int, dict[str, Any]],
    paths: dict[int, tuple[np.ndarray, np.ndarray]],
    source_kind: str,
) -> Session:
    """The learner, schedule and rule of an adapt run; ``source_kind`` names the source run's kind
    (the learned-arm rule learns by the loss the source was trained on)."""
    learning = protocol.learning
    ppo_config = PPOConfig(
        **{
            **source,
            "seed": config.seed,
            "device": config.device,
            "torch_threads": config.torch_threads,
            "num_envs": learning.num_envs,
            "rollout_steps": learning.rollout_steps,
            "num_minibatches": 2,
            "update_epochs": learning.update_epochs,
            "learning_rate": learning.learning_rate,
            "anneal_lr": False,
            "init_from": "",
        }
    )
    learner = ppo.build_learner(ppo_config, config.torch_device())
    learner.policy.load_state_dict(tensors["policy"])
    learner.policy.obs_normalizer.frozen = True  # the trained input scaling; adaptation is in the weights
    if "reward_scale" in tensors:  # a PPO source's (the learned-arm rule does not use it)
        learner.reward_scale.load_state_dict(tensors["reward_scale"])
    trials = plan_trials(protocol, config.seed)
    schedule = Schedule(trials, first_trial, learning.num_envs)
    session = Session(config, protocol, learner, trials, schedule, rows, paths, source_kind)
    if learning.rule == "learned-arm":
        session.rule = LearnedArmRule(
            learner.policy,
            learner.optimizer,
            learning,
            learner.envs.unwrapped.core,
            config.seed,
            ppo_config,
            smooth_false_start=kinds.KINDS[source_kind].config_cls is ModelBasedConfig,
        )
    if learning.two_rate:
        session.two_rate = TwoRateWeights(
            learner.optimizer,
            learning.learning_rate,
            learning.slow_learning_rate,
            learning.fast_retention,
            learning.slow_retention,
        )
    learner.envs.unwrapped.trial_options = schedule
    task_config = learner.envs.unwrapped.config
    learner.envs = TrialRecorder(
        learner.envs, schedule, lambda t, trace, final: _record(session, t, trace, final, task_config)
    )
    return session


def _record(
    session: Session, trial: PlannedTrial, trace: dict[str, np.ndarray], final: dict[str, Any], task: Any
) -> None:
    block = session.protocol.blocks[trial.block]
    row = {
        "trial": trial.trial,
        "block": block.name,
        "block_trial": trial.block_trial,
        "learn": block.learn,
        "channel": trial.channel,
        "force_field": str(trial.options.get("force_field", "null")),
        "visual_rotation_deg": float(trial.options.get("visual_rotation_deg", 0.0)),
        **trial_measures(session.protocol, trace, final, task.control_step_ms, task.target_radius_m),
    }
    onset = pulse_onset(task, trial.options, trace["go_cue"])
    if onset is not None:
        row.update(pulse_measures(trace, onset, task.control_step_ms))
    session.rows[trial.trial] = row
    go = np.flatnonzero(trace["go_cue"])
    begin = int(go[0]) if len(go) else len(trace["go_cue"])
    session.paths[trial.trial] = (trace["hand_pos"][begin:], trace["cursor_pos"][begin:])
    if session.rule is not None:
        real = RealTrial(
            obs=trace["obs"][:-1],
            actions=trace["command"],
            states=trace["arm_state"],
            go_cue=trace["go_cue"],
            target_pos=np.asarray(final["target_pos"], dtype=float),
            rotation_deg=float(trial.options.get("visual_rotation_deg", task.visual_rotation_deg)),
        )
        session.rule.add(real, learn=block.learn, channel=trial.channel)
    if session.two_rate is not None and block.learn:
        session.two_rate.trial_ended()
    session.log.writerow({k: _csv_value(row[k]) for k in TRIAL_COLUMNS})
    session.log_file.flush()


def _open_log(session: Session, run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """trials.csv: rewritten atomically with the kept rows (on resume), then appended to."""
    path = run_dir / layout.ADAPT_TRIALS

    def write(file: Any) -> None:
        text = _csv_text(rows)
        file.write(text.encode())

    atomic_write(path, write)
    session.log_file = open(path, "a", newline="")  # noqa: SIM115 - closed in _run
    session.log = csv.DictWriter(session.log_file, fieldnames=TRIAL_COLUMNS)
    session.update_log = MetricsLog(run_dir, resume_after_update=session.updates, name=layout.ADAPT_UPDATES)


def _log_update(session: Session, stats: dict[str, float]) -> None:
    """One row of updates.csv (and TensorBoard): the update's statistics, by trials ended so far."""
    if session.two_rate is not None:
        stats = {**stats, **session.two_rate.offset_norms()}
    session.update_log.write({"update": session.updates, "global_step": len(session.rows), **stats})


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRIAL_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row[k]) for k in TRIAL_COLUMNS})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    return "" if isinstance(value, float) and not math.isfinite(value) else value


def _run(session: Session, run_dir: Path, progress: bool) -> Path:
    learner, total = session.learner, len(session.trials)
    carry = ppo.initial_carry(learner)
    done = ppo.Progress(episodes=EpisodeStats())
    bar = tqdm(total=total, initial=len(session.rows), unit="trial", disable=not progress, desc=session.protocol.name)
    started, steps = time.perf_counter(), 0
    saved = (session.updates, len(session.rows))
    try:
        while len(session.rows) < total:
            before = len(session.rows)
            if session.rule is None:
                _ppo_step(session, carry, done)
            else:
                _learned_arm_step(session, carry, run_dir, progress)
            steps += learner.config.num_envs * learner.config.rollout_steps
            # After every update (so that no learning is lost), and every SAVE_EVERY_TRIALS trials
            # without one; a resume re-runs the trials since.
            if session.updates != saved[0] or len(session.rows) - saved[1] >= SAVE_EVERY_TRIALS:
                _save(session, run_dir)
                saved = (session.updates, len(session.rows))
            bar.update(len(session.rows) - before)
            bar.set_postfix(steps_s=f"{steps / (time.perf_counter() - started):.0f}", **_recent(session))
        _save(session, run_dir)
        _finish(session, run_dir)
    finally:
        bar.close()
        session.log_file.close()
        session.update_log.close()
        learner.envs.close()
    return run_dir


def _ppo_step(session: Session, carry: ppo.Carry, done: ppo.Progress) -> None:
    """The ppo rule: one rollout (sampled actions), then a PPO update if its block learns."""
    learner = session.learner
    learn = session.protocol.blocks[session.schedule.block_of_latest()].learn
    rollout, carry = ppo.collect(learner, carry, done)
    if learn:
        losses = ppo.update(learner, rollout, ppo.gae(learner, rollout, carry))
        session.updates += 1
        _log_update(session, losses)


def _learned_arm_step(session: Session, carry: ppo.Carry, run_dir: Path, progress: bool) -> None:
    """The learned-arm rule: rollout_steps steps of the deterministic policy, then an update for
    every full batch of trials (the arm first fitted when the first learning trial has ended)."""
    learner, rule = session.learner, session.rule
    assert rule is not None
    for _ in range(learner.config.rollout_steps):
        action, carry.state = learner.policy.act(carry.obs, carry.state, carry.episode_start, deterministic=True)
        carry.obs, _, terminated, truncated, _ = learner.envs.step(action)
        carry.episode_start = (terminated | truncated).astype(np.float32)
    if rule.arm is None and rule.pending:
        rule.fit_arm(run_dir, progress)
    while rule.ready():
        stats = rule.update()
        session.updates += 1
        _log_update(session, stats)


def _recent(session: Session) -> dict[str, str]:
    latest = [session.rows[k] for k in sorted(session.rows)[-20:]]
    if not latest:
        return {}
    deviations = [r["max_perpendicular_deviation_mm"] for r in latest if not r["channel"]]
    finite = [d for d in deviations if math.isfinite(d)]
    shown = {"success": f"{np.mean([r['success'] for r in latest]):.0%}"}
    if finite:
        shown["deviation_mm"] = f"{np.mean(finite):+.1f}"
    if session.rule is not None and session.rule.last:
        shown["arm_error_mm"] = f"{session.rule.last['arm_hand_error_mm']:.1f}"
    return shown


def _save(session: Session, run_dir: Path) -> None:
    """adapt.pt, and the paths of the trials ended since the last save as a new chunk, atomically:
    the protocol resumes from the first trial not yet ended."""
    running = [t.trial for t in session.schedule.running if t is not None and t.trial not in session.rows]
    resume_from = min(running, default=session.schedule.next_trial)
    learner = session.learner
    save_checkpoint(
        run_dir / layout.ADAPT_CHECKPOINT,
        tensors={
            "policy": learner.policy.state_dict(),
            "optimizer": learner.optimizer.state_dict(),
            "reward_scale": learner.reward_scale.state_dict(),
            "torch_rng": torch.get_rng_state(),
            **({"rule": session.rule.state_dict()} if session.rule is not None else {}),
            **({"two_rate": session.two_rate.state_dict()} if session.two_rate is not None else {}),
        },
        metadata={
            "policy_spec": asdict(learner.policy.spec),
            "resume_from": resume_from,
            "updates": session.updates,
            "source": {k: v for k, v in asdict(learner.config).items()},
            "source_kind": session.source_kind,
        },
    )
    new = {k: v for k, v in session.paths.items() if k < resume_from and k not in session.written}
    if new:
        chunks = run_dir / layout.ADAPT_PATH_CHUNKS
        chunks.mkdir(exist_ok=True)
        _write_paths(chunks / f"{len(list(chunks.glob('*.npz'))):05d}.npz", new)
        session.written |= set(new)


def _write_paths(path: Path, paths: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for trial, (hand, cursor) in paths.items():
        arrays[f"hand_{trial}"], arrays[f"cursor_{trial}"] = hand, cursor
    atomic_write(path, lambda file: np.savez_compressed(file, **arrays))


def _finish(session: Session, run_dir: Path) -> None:
    """paths.npz (every trial's path, the chunks merged), adapt.json (per-block summary) and the figures."""
    _write_paths(run_dir / layout.ADAPT_PATHS, dict(sorted(session.paths.items())))
    shutil.rmtree(run_dir / layout.ADAPT_PATH_CHUNKS, ignore_errors=True)
    rows = [session.rows[k] for k in sorted(session.rows)]
    write_report(run_dir, run_dir, session.protocol, rows, session.paths, session.updates)


__all__ = ["TRIAL_COLUMNS", "adapt", "resume", "shipped_protocols", "trial_measures"]
