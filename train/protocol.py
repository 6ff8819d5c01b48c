"""Motor-learning protocols: blocks of trials with their perturbations, the field the measures
refer to, and the learning rule (``motorgym adapt`` runs them; :mod:`motorgym.train.adapt`).

A protocol is a small YAML file; those of :func:`shipped_protocols` ship in
``motorgym/train/protocols/`` (docs/analysis.md shows the format).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from motorgym.agents.learned_arm import ARM_MODELS
from motorgym.envs.perturbations import PERTURBATION_ARGUMENTS, force_field_matrix

PROTOCOLS_DIR = Path(__file__).resolve().parent / "protocols"


@dataclass(frozen=True)
class Block:
    """A block of trials with one perturbation."""

    name: str
    trials: int
    perturbation: dict[str, Any] = field(default_factory=dict)
    """Reset options of the block's trials (perturbation arguments: force_field, visual_rotation_deg, ...)."""
    learn: bool = True
    """Whether the network learns during the block."""
    channel_fraction: float | None = None
    """Fraction of force-channel trials (None: the protocol's)."""


#: The learning rules of motorgym adapt (``learning.rule``).
LEARNING_RULES = ("ppo", "learned-arm")


@dataclass(frozen=True)
class Learning:
    """The learning rule and its settings."""

    rule: str = "ppo"
    """``ppo`` (reinforcement: PPO updates on the perturbed trials, sampled actions) or
    ``learned-arm`` (learning from errors: the gradient of each trial's cost through the learned arm,
    deterministic actions; :mod:`motorgym.train.learned_arm_rule`)."""
    learning_rate: float = 1e-4
    """Adam learning rate of the policy (with two-rate learning, the fast process's)."""
    num_envs: int = 32
    """Envs running trials at once."""
    rollout_steps: int = 64
    """Steps of every env between updates (ppo), or between checks for a full batch of trials (learned-arm)."""
    update_epochs: int = 4
    """ppo: passes over each rollout."""
    trials_per_update: int = 16
    """learned-arm: trials (of the learning blocks, force-channel trials left out) per policy update."""
    arm_iterations: int = 2000
    """learned-arm: Adam steps fitting the learned arm on the trials before the first learning block."""
    arm_refit_iterations: int = 20
    """learned-arm: Adam steps refitting the learned arm before each policy update, on the latest trials."""
    arm_buffer_trials: int = 256
    """learned-arm: the latest trials (force-channel trials left out) the learned arm is refitted on."""
    arm_model: str = "affine"
    """learned-arm: the learned arm's structure (``motorgym.agents.learned_arm.ARM_MODELS``, as the
    pretraining's ``arm_model``); an arm without activation states (the torque arm) always gets ``mlp``."""
    path_error_weight: float = 0.0
    """learned-arm: weight of the squared sideways error (m^2), per step once the go cue is processed:
    the seen hand's distance from the straight line from the start to the target, the kinematic error
    people adapt from (a gradient proportional to the error, as in the state-space models of
    Thoroughman & Shadmehr 2000); 0: the source's loss alone."""
    slow_learning_rate: float = 0.0
    """Two-rate learning (Smith, Ghazizadeh & Shadmehr 2006; :mod:`motorgym.train.two_rate`): the
    learning rate of a slow process beside the fast one (``learning_rate``); 0: no slow process."""
    fast_retention: float = 1.0
    """Two-rate learning: the fraction of the fast process's change from the trained weights kept
    per learning trial (A_fast; 1: never forgotten, the ordinary rule)."""
    slow_retention: float = 1.0
    """Two-rate learning: the same for the slow process (A_slow)."""

    @property
    def two_rate(self) -> bool:
        """Whether the rule's steps go through the fast and slow processes (a slow rate, or forgetting)."""
        return self.slow_learning_rate > 0 or self.fast_retention < 1 or self.slow_retention < 1


@dataclass(frozen=True)
class Protocol:
    """A motor-learning protocol: blocks of trials, the field the measures refer to, the learning rule."""

    name: str
    blocks: tuple[Block, ...]
    description: str = ""
    measured_field: dict[str, Any] = field(default_factory=lambda: {"force_field": "null"})
    channel_fraction: float = 0.0
    learning: Learning = field(default_factory=Learning)

    @property
    def total_trials(self) -> int:
        return sum(block.trials for block in self.blocks)

    def field_matrix(self) -> np.ndarray:
        """B of the measured field (N s/m)."""
        gain = float(self.measured_field.get("force_field_gain_n_s_m", 15.0))
        return force_field_matrix(self.measured_field.get("force_field", "null"), gain)


def shipped_protocols() -> dict[str, Path]:
    """The protocols that ship with motorgym, by name (file name with - for _)."""
    return {path.stem.replace("_", "-"): path for path in sorted(PROTOCOLS_DIR.glob("*.yaml"))}


def load_protocol(name_or_path: str) -> Protocol:
    """A shipped protocol by name, or a protocol YAML file; a ValueError names what is wrong."""
    shipped = shipped_protocols()
    path = shipped.get(name_or_path, Path(name_or_path))
    if not path.is_file():
        raise ValueError(f"protocol must be one of {sorted(shipped)} or a YAML file (got {name_or_path!r})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
    return protocol_from_dict(data, str(path))


def protocol_from_dict(data: Any, where: str) -> Protocol:
    """Build and check a protocol from its parsed YAML."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a protocol is a mapping with name, blocks and learning")
    known = {"name", "description", "measured_field", "channel_fraction", "blocks", "learning"}
    _no_unknown(data, known, where)
    blocks_data = data.get("blocks")
    if not isinstance(blocks_data, list) or not blocks_data:
        raise ValueError(f"{where}: blocks must be a non-empty list of blocks")
    blocks = tuple(_block(b, f"{where}: blocks[{i}]") for i, b in enumerate(blocks_data))
    learning_data = data.get("learning", {})
    _no_unknown(learning_data, {f for f in Learning.__dataclass_fields__}, f"{where}: learning")
    learning = Learning(**learning_data)
    _check(
        learning.rule in LEARNING_RULES,
        f"{where}: learning.rule must be one of {list(LEARNING_RULES)} (got {learning.rule!r})",
    )
    _check(learning.learning_rate > 0, f"{where}: learning.learning_rate must be > 0")
    _check(learning.num_envs >= 2, f"{where}: learning.num_envs must be >= 2")
    for name in ("rollout_steps", "update_epochs", "trials_per_update", "arm_iterations", "arm_buffer_trials"):
        value = getattr(learning, name)
        _check(isinstance(value, int) and value >= 1, f"{where}: learning.{name} must be an int >= 1 (got {value!r})")
    path = learning.path_error_weight
    _check(
        _is_number(path) and math.isfinite(path) and path >= 0,
        f"{where}: learning.path_error_weight must be a finite number >= 0 (0: the source's loss alone; got {path!r})",
    )
    _check(
        path == 0 or learning.rule == "learned-arm",
        f"{where}: learning.path_error_weight is a cost term of the learned-arm rule (rule {learning.rule!r} "
        "learns from the env's reward): leave it out or set rule: learned-arm",
    )
    slow = learning.slow_learning_rate
    _check(
        _is_number(slow) and slow >= 0,
        f"{where}: learning.slow_learning_rate must be a number >= 0 (0: no slow process; got {slow!r})",
    )
    for name in ("fast_retention", "slow_retention"):
        value = getattr(learning, name)
        _check(_is_number(value) and 0 < value <= 1, f"{where}: learning.{name} must be in (0, 1] (got {value!r})")
    _check(
        learning.arm_model in ARM_MODELS,
        f"{where}: learning.arm_model must be one of {list(ARM_MODELS)} (got {learning.arm_model!r})",
    )
    refit = learning.arm_refit_iterations
    _check(isinstance(refit, int) and refit >= 0, f"{where}: learning.arm_refit_iterations must be an int >= 0")
    protocol = Protocol(
        name=str(data.get("name", Path(where).stem)),
        description=str(data.get("description", "")),
        blocks=blocks,
        measured_field=dict(data.get("measured_field", {"force_field": "null"})),
        channel_fraction=float(data.get("channel_fraction", 0.0)),
        learning=learning,
    )
    _check(0 <= protocol.channel_fraction <= 1, f"{where}: channel_fraction must be in [0, 1]")
    if learning.rule == "learned-arm":
        _check(
            not blocks[0].learn and blocks[0].trials >= 32,
            f"{where}: the learned-arm rule fits its arm on the first block's trials: blocks[0] must have "
            "learn: false and at least 32 trials",
        )
    protocol.field_matrix()  # a clear error for a bad field
    return protocol


def _block(data: Any, where: str) -> Block:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping with name and trials")
    _no_unknown(data, set(Block.__dataclass_fields__), where)
    block = Block(**data)
    _check(isinstance(block.trials, int) and block.trials >= 1, f"{where}: trials must be an int >= 1")
    _no_unknown(block.perturbation, set(PERTURBATION_ARGUMENTS), f"{where}: perturbation")
    fraction = block.channel_fraction
    _check(fraction is None or 0 <= fraction <= 1, f"{where}: channel_fraction must be in [0, 1]")
    return block


def _no_unknown(data: Any, known: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class PlannedTrial:
    trial: int
    block: int
    block_trial: int
    channel: bool
    options: dict[str, Any]


def plan_trials(protocol: Protocol, seed: int) -> list[PlannedTrial]:
    """Every trial of the protocol in order, channel trials placed at random (seeded) at each
    block's fraction (exactly round(fraction x trials) of them, never the first trial of a block,
    whose deviation measures the block's start)."""
    rng = np.random.default_rng(seed)
    trials: list[PlannedTrial] = []
    for b, block in enumerate(protocol.blocks):
        fraction = protocol.channel_fraction if block.channel_fraction is None else block.channel_fraction
        count = min(round(fraction * block.trials), block.trials - 1)
        channels = set((1 + rng.permutation(block.trials - 1)[:count]).tolist()) if count > 0 else set()
        for k in range(block.trials):
            options = {**block.perturbation, "channel": k in channels}
            trials.append(PlannedTrial(len(trials), b, k, k in channels, options))
    return trials


def protocol_as_dict(protocol: Protocol) -> dict[str, Any]:
    """The protocol as plain data (what config.json keeps, and :func:`protocol_from_dict` reads)."""
    data = asdict(protocol)
    data["blocks"] = [asdict(b) for b in protocol.blocks]
    return data


__all__ = [
    "LEARNING_RULES",
    "Block",
    "Learning",
    "PlannedTrial",
    "Protocol",
    "load_protocol",
    "plan_trials",
    "protocol_as_dict",
    "protocol_from_dict",
    "shipped_protocols",
]
