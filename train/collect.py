"""Collect rollouts under exploratory commands, as data for the trajectory predictor.

    motorgym collect --env motorgym/CenterOut-v0 --episodes 2000 --out data/center_out.npz
    motorgym collect --env motorgym/MuscleCenterOut-v0 --episodes 2000 --scripted-fraction 0.5 --out data/m.npz

Commands are smooth random excitations: an Ornstein-Uhlenbeck process per actuator in normalised
units u (the action range mapped to [-1, 1]; clipped there), du = -u dt / tau + sigma sqrt(2 dt / tau) dW,
so each command wanders with correlation time ``ou_tau_ms`` and stationary standard deviation
``ou_sigma``. With ``scripted_fraction`` > 0, that fraction of the episodes is driven by the
scripted reaching controller (``motorgym.agents.scripted``) with the OU process added on top, so
the data also holds reaches to the targets. With a ``policy`` (any :class:`motorgym.agents.agent.Agent`,
e.g. a run's policy: ``motorgym collect --policy RUN_DIR``), ``policy_fraction`` of the episodes is
driven by it, again with the OU process on top: data on the states that policy visits, where a learned
arm fitted on other commands may be wrong (the data-aggregation step of model-based RL: collect with
the current policy, fit the model again on all the data, train the policy again).

The file (``np.savez_compressed``) holds, for E episodes padded to T steps:
``observations`` (E, T, obs_dim) and ``actions`` (E, T, action_dim), float32, step t's
observation and the action taken on it; ``hand_pos_m`` (E, T + 1, 2), the true hand position
after the reset and after each step; ``states`` (E, T + 1, S), the arm's true sensed state at the
same times (:meth:`motorgym.envs.arm.Arm.sensed_state`: hand, undelayed noiseless proprioception,
muscle activations); ``lengths`` (E,), each episode's steps; ``metadata``, JSON: format, env id
and kwargs, seed, command settings, control step and visual delay, observation, action and state
names, motorgym version. :func:`load_dataset` checks all of it and names what is wrong.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import motorgym
from motorgym.agents.agent import Agent, SingleEnvAgent
from motorgym.agents.checkpoint import atomic_write
from motorgym.agents.scripted import ScriptedReacher
from motorgym.envs.registration import check_env_arguments, env_class

FORMAT = "motorgym-trajectories-v2"
ARRAYS = ("observations", "actions", "hand_pos_m", "states", "lengths", "metadata")


class DatasetError(ValueError):
    """A trajectory file that is missing, truncated, corrupt or for another env."""


@dataclass
class TrajectoryDataset:
    """Padded episodes of one env (see the module docstring for the arrays)."""

    observations: np.ndarray
    actions: np.ndarray
    hand_pos_m: np.ndarray
    states: np.ndarray
    lengths: np.ndarray
    metadata: dict[str, Any]

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def dt_s(self) -> float:
        return self.metadata["control_step_ms"] / 1000.0

    def step_mask(self) -> np.ndarray:
        """(E, T) bool: which padded steps lie inside their episode."""
        return np.arange(self.observations.shape[1])[None] < self.lengths[:, None]

    def hand_vel_m_s(self) -> np.ndarray:
        """(E, T + 1, 2) hand velocity by backward differences (0 at the first sample)."""
        vel = np.zeros_like(self.hand_pos_m)
        vel[:, 1:] = np.diff(self.hand_pos_m, axis=1) / self.dt_s
        return vel

    def subset(self, episodes: np.ndarray) -> TrajectoryDataset:
        return TrajectoryDataset(
            self.observations[episodes],
            self.actions[episodes],
            self.hand_pos_m[episodes],
            self.states[episodes],
            self.lengths[episodes],
            self.metadata,
        )


class OrnsteinUhlenbeck:
    """Smooth random commands in normalised units (see the module docstring)."""

    def __init__(self, size: int, dt_s: float, tau_ms: float, sigma: float, rng: np.random.Generator) -> None:
        self.size, self.rng = size, rng
        self.decay = dt_s / (tau_ms / 1000.0)
        self.noise = sigma * np.sqrt(2 * self.decay)
        self.u = np.zeros(size)

    def reset(self) -> None:
        self.u = self.rng.normal(0.0, 1.0, self.size) * self.noise / np.sqrt(2 * self.decay)

    def step(self) -> np.ndarray:
        self.u += -self.u * self.decay + self.noise * self.rng.normal(size=self.size)
        return self.u


def _check_commands(
    episodes: int,
    ou_tau_ms: float,
    ou_sigma: float,
    scripted_fraction: float,
    policy: Agent | None,
    policy_fraction: float,
) -> None:
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1 (got {episodes})")
    if not 0.0 <= scripted_fraction <= 1.0:
        raise ValueError(f"scripted_fraction must be in [0, 1] (got {scripted_fraction})")
    if not 0.0 <= policy_fraction <= 1.0 - scripted_fraction:
        raise ValueError(
            f"policy_fraction must be in [0, 1 - scripted_fraction] = [0, {1.0 - scripted_fraction:g}] "
            f"(got {policy_fraction})"
        )
    if policy_fraction > 0 and policy is None:
        raise ValueError(f"policy_fraction is {policy_fraction} but no policy was given")
    if ou_tau_ms <= 0 or ou_sigma < 0:
        raise ValueError(f"ou_tau_ms must be > 0 and ou_sigma >= 0 (got {ou_tau_ms}, {ou_sigma})")


def _metadata(
    env: Any, env_id: str, env_kwargs: dict[str, Any], seed: int, episodes: int, commands: dict[str, Any]
) -> dict[str, Any]:
    """A trajectory file's metadata (see the module docstring); ``env`` is the unwrapped env."""
    return {
        "format": FORMAT,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "seed": seed,
        "episodes": episodes,
        "commands": commands,
        "control_step_ms": env.config.control_step_ms,
        "visual_delay_ms": env.config.visual_delay_ms,
        "observation_names": list(env.obs_names),
        "action_names": list(env.action_names),
        "state_names": env.arm.sensed_state_names,
        "motorgym_version": motorgym.__version__,
    }


def collect(
    env_id: str,
    episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    ou_tau_ms: float = 200.0,
    ou_sigma: float = 0.5,
    scripted_fraction: float = 0.0,
    policy: Agent | None = None,
    policy_fraction: float = 0.0,
    policy_name: str = "",
) -> TrajectoryDataset:
    """Roll out ``episodes`` episodes of ``env_id`` under exploratory commands (``policy_name``: what
    the metadata calls the policy, e.g. its run directory)."""
    _check_commands(episodes, ou_tau_ms, ou_sigma, scripted_fraction, policy, policy_fraction)
    env_kwargs = dict(env_kwargs or {})
    check_env_arguments(env_id, env_kwargs)
    env = gym.make(env_id, **env_kwargs)
    unwrapped = env.unwrapped
    config = unwrapped.config
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    center, half_range = (low + high) / 2, (high - low) / 2
    rng = np.random.default_rng(seed)
    ou = OrnsteinUhlenbeck(len(low), config.control_step_ms / 1000.0, ou_tau_ms, ou_sigma, rng)
    scripted = ScriptedReacher(env) if scripted_fraction > 0 else None
    driver = SingleEnvAgent(policy) if policy is not None and policy_fraction > 0 else None
    max_steps = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 1000
    obs_dim = env.observation_space.shape[0]
    observations = np.zeros((episodes, max_steps, obs_dim), dtype=np.float32)
    actions = np.zeros((episodes, max_steps, len(low)), dtype=np.float32)
    hand = np.zeros((episodes, max_steps + 1, 2), dtype=np.float32)
    arm = unwrapped.arm
    states = np.zeros((episodes, max_steps + 1, len(arm.sensed_state_names)), dtype=np.float32)
    lengths = np.zeros(episodes, dtype=np.int64)
    for e in range(episodes):
        obs, info = env.reset(seed=seed * 1_000_003 + e)
        ou.reset()
        # One draw per episode picks its driver (the same draws as without a policy).
        draw = rng.random() if scripted is not None or driver is not None else 1.0
        base_controller = (
            scripted if draw < scripted_fraction else driver if draw < scripted_fraction + policy_fraction else None
        )
        if driver is not None and base_controller is driver:
            driver.reset()
        hand[e, 0], states[e, 0] = info["hand_pos"], arm.sensed_state()[0]
        for t in range(max_steps):
            base = 0.0
            if base_controller is not None:
                base = (np.asarray(base_controller(obs), dtype=np.float64) - center) / half_range
            action = center + half_range * np.clip(base + ou.step(), -1.0, 1.0)
            observations[e, t], actions[e, t] = obs, action
            obs, _, terminated, truncated, info = env.step(action.astype(np.float32))
            hand[e, t + 1], states[e, t + 1] = info["hand_pos"], arm.sensed_state()[0]
            if terminated or truncated:
                break
        lengths[e] = t + 1
        # Padding: the arm stays where the episode left it.
        hand[e, t + 2 :], states[e, t + 2 :] = hand[e, t + 1], states[e, t + 1]
    env.close()
    commands = {
        "ou_tau_ms": ou_tau_ms,
        "ou_sigma": ou_sigma,
        "scripted_fraction": scripted_fraction,
        "policy": policy_name if driver is not None else None,
        "policy_fraction": policy_fraction if driver is not None else 0.0,
    }
    metadata = _metadata(unwrapped, env_id, env_kwargs, seed, episodes, commands)
    return TrajectoryDataset(observations, actions, hand, states, lengths, metadata)


def check_new_dataset_path(path: str | Path) -> Path:
    """A path a new trajectory file may be written to: ending in .npz, and not an existing file
    (a data file is never overwritten)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"the dataset file must end in .npz (got {path.name!r})")
    if path.exists():
        raise FileExistsError(f"{path} already exists: choose another file (a data file is never overwritten)")
    return path


def save_dataset(dataset: TrajectoryDataset, path: str | Path) -> Path:
    """Write the dataset to a new file, compressed, atomically (temp file, then rename)."""
    path = check_new_dataset_path(path)
    arrays = {name: getattr(dataset, name) for name in ARRAYS if name != "metadata"}
    metadata = np.array(json.dumps(dataset.metadata))
    return atomic_write(path, lambda file: np.savez_compressed(file, **arrays, metadata=metadata))


def load_dataset(path: str | Path, env_id: str | None = None) -> TrajectoryDataset:
    """Read and check a trajectory file (for ``env_id``, if given); a clear error if anything is off."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no trajectory file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in ARRAYS if name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DatasetError(f"{path} is not a readable trajectory file (truncated or corrupt): {error}") from error
    missing = [name for name in ARRAYS if name not in arrays]
    if "metadata" in missing:
        raise DatasetError(f"{path} is not a motorgym trajectory file: it lacks {missing}")
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: its metadata is not valid JSON: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise DatasetError(
            f"{path}: expected format {FORMAT!r}, found {found!r} (collect it again with motorgym collect)"
        )
    if missing:
        raise DatasetError(f"{path} is not a motorgym trajectory file: it lacks {missing}")
    if env_id is not None and metadata["env_id"] != env_id:
        raise DatasetError(f"{path} holds {metadata['env_id']} data, not {env_id}")
    obs, actions, hand, states, lengths = (
        arrays[k] for k in ("observations", "actions", "hand_pos_m", "states", "lengths")
    )
    episodes, steps = obs.shape[:2] if obs.ndim == 3 else (-1, -1)
    obs_dim, action_dim = len(metadata["observation_names"]), len(metadata["action_names"])
    state_dim = len(metadata["state_names"])
    expected = {
        "observations": (episodes, steps, obs_dim),
        "actions": (episodes, steps, action_dim),
        "hand_pos_m": (episodes, steps + 1, 2),
        "states": (episodes, steps + 1, state_dim),
        "lengths": (episodes,),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape or episodes < 1:
            raise DatasetError(
                f"{path}: {name} has shape {arrays[name].shape}, expected {shape} "
                "(E episodes, T steps, as the metadata's observation, action and state names say)"
            )
    if lengths.min() < 1 or lengths.max() > steps:
        raise DatasetError(f"{path}: episode lengths must be in [1, {steps}] (found {lengths.min()}..{lengths.max()})")
    for name in ("observations", "actions", "hand_pos_m", "states"):
        if not np.isfinite(arrays[name]).all():
            raise DatasetError(f"{path}: {name} holds NaN or inf")
    return TrajectoryDataset(obs, actions, hand, states, lengths, metadata)


#: Metadata that every pooled file must share: what the episodes are episodes of (and so their
#: padded length, the task's step limit).
SAME_TASK = (
    "env_id",
    "env_kwargs",
    "control_step_ms",
    "visual_delay_ms",
    "observation_names",
    "action_names",
    "state_names",
)


def load_datasets(paths: list[str | Path], env_id: str | None = None) -> TrajectoryDataset:
    """Several trajectory files of the same task pooled into one dataset (the episodes of each, in
    order). Their env kwargs may differ in the cost arguments only (the motion does not depend on
    them); the pooled data carries the first file's. The metadata is the first file's, with the
    total episode count and ``sources``: each file's path, seed, episodes and commands."""
    datasets = [load_dataset(path, env_id) for path in paths]
    if len(datasets) == 1:
        return datasets[0]
    first = datasets[0].metadata
    costs = set(env_class(first["env_id"]).config_cls.cost_argument_names())
    same_task = lambda meta: {  # noqa: E731
        **{key: meta[key] for key in SAME_TASK},
        "env_kwargs": {k: v for k, v in meta["env_kwargs"].items() if k not in costs},
    }
    for path, data in zip(paths[1:], datasets[1:], strict=True):
        theirs, ours = same_task(data.metadata), same_task(first)
        for key in SAME_TASK:
            if theirs[key] != ours[key]:
                raise DatasetError(
                    f"{path} cannot be pooled with {paths[0]}: its {key} is {theirs[key]!r}, "
                    f"not {ours[key]!r} (pooled files must be data of the same task; only the "
                    "cost arguments, *_weight and state_cost_onset_ms, may differ)"
                )
    pool = lambda name: np.concatenate([getattr(data, name) for data in datasets])  # noqa: E731
    sources = [
        {key: data.metadata[key] for key in ("seed", "episodes", "commands")} | {"path": str(path)}
        for path, data in zip(paths, datasets, strict=True)
    ]
    return TrajectoryDataset(
        pool("observations"),
        pool("actions"),
        pool("hand_pos_m"),
        pool("states"),
        pool("lengths"),
        first | {"episodes": sum(len(data) for data in datasets), "sources": sources},
    )


__all__ = [
    "DatasetError",
    "TrajectoryDataset",
    "check_new_dataset_path",
    "collect",
    "load_dataset",
    "load_datasets",
    "save_dataset",
]
