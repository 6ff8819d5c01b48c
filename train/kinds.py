"""The one table of run kinds: for every kind of run, its config class, the files it writes, how to
load it as an agent, and what ``--init-from`` takes from it.

The CLI, evaluate, analyze, render, ``--init-from`` and the benchmarks all ask this table; nothing
else switches on a kind's name. A new kind of run is a new row here (its config in
:mod:`motorgym.train.configs`, its trainer beside the others and, for a kind of ``motorgym train``,
in :mod:`motorgym.train.trainers`; its command in :mod:`motorgym.train.cli`). Sweeps take every
kind of ``motorgym train``.

| kind | made by | config | checkpoint | agent | --init-from takes |
|---|---|---|---|---|---|
| lstm-ppo, gru-ppo | motorgym train | PPOConfig | checkpoint.pt | the policy | nothing (a trained policy) |
| sb3-rppo, sb3-ppo | motorgym train --algo sb3-... | SB3Config | normalizer.pt + model.zip | SB3's policy | nothing |
| pretrain | motorgym pretrain | PretrainConfig | predictor.pt | none (a predictor) | the core |
| model-based | motorgym pretrain-policy | ModelBasedConfig | policy.pt | the policy | core and action mean |
| adapt | motorgym adapt | AdaptConfig | adapt.pt | the adapted policy | nothing |

A run's kind is its config.json's ``algo``; runs written before every config.json named it (PPO
runs) are recognised in :func:`kind_of`, the one place that guesses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from motorgym.agents.agent import LoadedAgent, RecurrentAgent
from motorgym.agents.checkpoint import CheckpointError, load_checkpoint
from motorgym.agents.predictor import TrajectoryPredictor
from motorgym.agents.recurrent import ACTOR_PREFIXES, CORE_PREFIXES, PolicySpec, RecurrentActorCritic, load_core
from motorgym.agents.sb3 import SB3Agent, load_sb3_policy
from motorgym.train import run_dir as layout
from motorgym.train.adapt_report import report_adapt_run
from motorgym.train.configs import AdaptConfig, ModelBasedConfig, PPOConfig, PretrainConfig, RunConfig, SB3Config


@dataclass(frozen=True)
class InitWeights:
    """What ``--init-from`` copies into a new policy: tensors under parameter-name ``prefixes``."""

    tensors: dict[str, torch.Tensor]
    prefixes: tuple[str, ...]
    source: str
    """Names the pretrained network in error messages."""
    action_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """The action bounds the weights were trained for (None: they do not act)."""
    bounded_mean: bool | None = None
    """Whether their action mean was squashed into the bounds (None: they do not act)."""

    def load_into(self, policy: RecurrentActorCritic) -> None:
        """Copy the weights into ``policy`` (a clear error on a cell, size, action-bound or
        action-head mismatch)."""
        bounds = (policy.spec.action_low, policy.spec.action_high)
        if self.action_bounds is not None and self.action_bounds != bounds:
            raise ValueError(f"{self.source} acts in {list(self.action_bounds)}, not the env's bounds {list(bounds)}")
        if self.bounded_mean is not None and self.bounded_mean != policy.spec.bounded_mean:
            raise ValueError(
                f"bounded_action_mean must match {self.source}: it was trained with {self.bounded_mean}, "
                f"the new policy has {policy.spec.bounded_mean}"
            )
        load_core(policy, self.tensors, self.source, self.prefixes)


@dataclass(frozen=True)
class RunKind:
    """One row of the table."""

    name: str
    """The run's ``algo`` in config.json and ``motorgym train --algo``."""
    summary: str
    command: str
    """The motorgym command that makes such runs."""
    config_cls: type[RunConfig]
    fixed: Mapping[str, Any]
    """Config fields the kind's name fixes (e.g. cell=lstm for lstm-ppo)."""
    checkpoint: str
    """The file holding the trained network and the run's progress."""
    files: tuple[str, ...]
    """Everything a run of this kind writes."""
    load_agent: Callable[[Path, str], LoadedAgent] | None = None
    """(run directory, device) -> the agent and its env; None: the run trains no agent."""
    init_weights: Callable[[Path], InitWeights] | None = None
    """What ``--init-from`` takes from a run of this kind; None: it is not a pretraining run."""
    resumable: bool = False
    """``motorgym train --resume`` continues it."""
    report: Callable[[Path, Path], dict[str, Any]] | None = None
    """(run directory, figure directory) -> what ``motorgym analyze`` writes for a run of this kind
    (None: the reach analyses of its agent)."""

    def config(self, saved: Mapping[str, Any]) -> Any:
        """The run's config object from config.json's fields (``algo`` left out where not a field)."""
        fields = {k: v for k, v in saved.items() if k != "algo" or "algo" in self.fixed}
        try:
            return self.config_cls(**fields)
        except TypeError as error:
            raise ValueError(f"config.json does not fit a {self.name} run: {error}") from None

    def matches(self, config: Any) -> bool:
        return type(config) is self.config_cls and all(getattr(config, k) == v for k, v in self.fixed.items())


# ------------------------------------------------------------------------------------------ loaders
def _check_keys(path: Path, meta: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    missing = [key for key in keys if key not in meta]
    if missing:
        raise CheckpointError(f"{path} is not a {what} checkpoint: its metadata lacks {missing}")


def load_policy_file(path: Path, device: str = "cpu") -> tuple[RecurrentActorCritic, dict[str, Any]]:
    """A recurrent policy saved with its spec (checkpoint.pt of PPO, policy.pt of model-based
    pretraining) and the checkpoint's metadata."""
    tensors, meta = load_checkpoint(path, device=device)
    _check_keys(path, meta, ("policy_spec",), "policy")
    try:
        policy = RecurrentActorCritic(PolicySpec(**meta["policy_spec"]))
        policy.load_state_dict(tensors["policy"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} does not hold a valid policy: {error}") from error
    return policy.to(device).eval(), meta


def _ppo_agent(run_dir: Path, device: str) -> LoadedAgent:
    policy, meta = load_policy_file(run_dir / layout.PPO_CHECKPOINT, device)
    _check_keys(run_dir / layout.PPO_CHECKPOINT, meta, ("config",), "PPO")
    config = meta["config"]
    return LoadedAgent(RecurrentAgent(policy), config["env_id"], dict(config["env_kwargs"]))


def _model_based_agent(run_dir: Path, device: str) -> LoadedAgent:
    policy, meta = load_policy_file(run_dir / layout.PRETRAINED_POLICY, device)
    _check_keys(run_dir / layout.PRETRAINED_POLICY, meta, ("env_id", "env_kwargs"), "model-based pretraining")
    return LoadedAgent(RecurrentAgent(policy), meta["env_id"], dict(meta["env_kwargs"]))


def _adapt_agent(run_dir: Path, device: str) -> LoadedAgent:
    policy, meta = load_policy_file(run_dir / layout.ADAPT_CHECKPOINT, device)
    _check_keys(run_dir / layout.ADAPT_CHECKPOINT, meta, ("source",), "adapt")
    return LoadedAgent(RecurrentAgent(policy), meta["source"]["env_id"], meta["source"]["env_kwargs"])


def _sb3_agent(run_dir: Path, device: str) -> LoadedAgent:
    config = kind_of(run_dir).config(layout.read_config(run_dir))
    normalizer, _ = load_checkpoint(run_dir / layout.SB3_NORMALIZER)
    probe = gym.make(config.env_id, **config.env_kwargs)
    try:
        policy = load_sb3_policy(run_dir / layout.SB3_MODEL, config.algo, config.lstm_hidden_size, probe, device)
    finally:
        probe.close()
    statistics = {k: v for k, v in normalizer.items() if k != "torch_rng"}
    return LoadedAgent(SB3Agent(policy, statistics), config.env_id, dict(config.env_kwargs))


def load_predictor(run_dir: str | Path, device: str = "cpu") -> tuple[TrajectoryPredictor, dict[str, Any]]:
    """The trajectory predictor of a pretrain run and its checkpoint metadata."""
    path = Path(run_dir) / layout.PREDICTOR
    tensors, meta = load_checkpoint(path, device=device)
    try:
        config = PretrainConfig(**meta["config"])
        model = TrajectoryPredictor(meta["obs_dim"], meta["action_dim"], config.cell, config.hidden_size)
        model.load_state_dict(tensors["predictor"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a trajectory-predictor checkpoint: {error}") from error
    return model.to(device).eval(), meta


def _predictor_core(run_dir: Path) -> InitWeights:
    model, _ = load_predictor(run_dir)
    parts = {k: v for k, v in model.state_dict().items() if k.startswith(CORE_PREFIXES)}
    source = f"the pretrained core in {run_dir} ({model.cell}, hidden {model.hidden_size})"
    return InitWeights(parts, CORE_PREFIXES, source)


def _pretrained_actor(run_dir: Path) -> InitWeights:
    policy, _ = load_policy_file(run_dir / layout.PRETRAINED_POLICY)
    spec = policy.spec
    parts = {k: v for k, v in policy.state_dict().items() if k.startswith(ACTOR_PREFIXES)}
    source = f"the pretrained policy in {run_dir} ({spec.cell}, hidden {spec.hidden_size})"
    return InitWeights(parts, ACTOR_PREFIXES, source, (spec.action_low, spec.action_high), spec.bounded_mean)


# ------------------------------------------------------------------------------------------ the table
_TRAINED = (layout.CONFIG, layout.METRICS, layout.TENSORBOARD)


def _ppo(cell: str) -> RunKind:
    return RunKind(
        name=f"{cell}-ppo",
        summary=f"our recurrent PPO, {cell.upper()} policy",
        command="train",
        config_cls=PPOConfig,
        fixed={"cell": cell},
        checkpoint=layout.PPO_CHECKPOINT,
        files=(*_TRAINED, layout.PPO_CHECKPOINT),
        load_agent=_ppo_agent,
        resumable=True,
    )


def _sb3(algo: str, summary: str) -> RunKind:
    return RunKind(
        name=algo,
        summary=summary,
        command="train",
        config_cls=SB3Config,
        fixed={"algo": algo},
        checkpoint=layout.SB3_NORMALIZER,
        files=(*_TRAINED, layout.SB3_MODEL, layout.SB3_NORMALIZER),
        load_agent=_sb3_agent,
        resumable=True,
    )


KINDS: dict[str, RunKind] = {
    kind.name: kind
    for kind in (
        _ppo("lstm"),
        _ppo("gru"),
        _sb3("sb3-rppo", "sb3-contrib RecurrentPPO (MlpLstmPolicy), the baseline"),
        _sb3("sb3-ppo", "SB3 PPO (MlpPolicy, no memory), the baseline"),
        RunKind(
            name="pretrain",
            summary="a trajectory predictor on the policy's core",
            command="pretrain",
            config_cls=PretrainConfig,
            fixed={},
            checkpoint=layout.PREDICTOR,
            files=(*_TRAINED, layout.PREDICTOR, layout.LOSSES_PLOT),
            init_weights=_predictor_core,
        ),
        RunKind(
            name="model-based",
            summary="a policy trained through a learned arm",
            command="pretrain-policy",
            config_cls=ModelBasedConfig,
            fixed={},
            checkpoint=layout.PRETRAINED_POLICY,
            files=(*_TRAINED, layout.ARM_METRICS, layout.LEARNED_ARM, layout.PRETRAINED_POLICY, layout.LOSSES_PLOT),
            load_agent=_model_based_agent,
            init_weights=_pretrained_actor,
        ),
        RunKind(
            name="adapt",
            summary="a motor-learning protocol run on a trained policy",
            command="adapt",
            config_cls=AdaptConfig,
            fixed={},
            checkpoint=layout.ADAPT_CHECKPOINT,
            files=(
                layout.CONFIG,
                layout.ADAPT_TRIALS,
                layout.ADAPT_PATHS,
                layout.ADAPT_CHECKPOINT,
                layout.ADAPT_UPDATES,
                layout.ADAPT_SUMMARY,
                layout.ADAPTATION_PLOT,
                layout.PATHS_PLOT,
            ),
            load_agent=_adapt_agent,
            report=report_adapt_run,
        ),
    )
}


def kinds_made_by(command: str) -> list[RunKind]:
    return [kind for kind in KINDS.values() if kind.command == command]


def kind_of_config(config: Any) -> RunKind:
    """The kind of run a config makes."""
    for kind in KINDS.values():
        if kind.matches(config):
            return kind
    raise ValueError(f"no run kind takes a {type(config).__name__} like {config!r}")


def read_kind_name(run_dir: str | Path) -> str:
    """The kind's name in a run's config.json: its ``algo``, or for a run written before every
    config.json named it (our PPO's), ``<cell>-ppo``."""
    saved = layout.read_config(run_dir)
    name = saved.get("algo") or (f"{saved['cell']}-ppo" if "cell" in saved and "rollout_steps" in saved else None)
    if name not in KINDS:
        raise ValueError(f"{Path(run_dir) / layout.CONFIG}: unknown algo {name!r}; known: {', '.join(KINDS)}")
    return name


def kind_of(run_dir: str | Path) -> RunKind:
    """The kind of an existing run directory."""
    return KINDS[read_kind_name(run_dir)]


def load_agent(run_dir: str | Path, device: str = "cpu") -> LoadedAgent:
    """The agent of a run directory of any kind, with its env id and kwargs."""
    run_dir = Path(run_dir)
    kind = kind_of(run_dir)
    if kind.load_agent is None:
        acting = ", ".join(k.name for k in KINDS.values() if k.load_agent is not None)
        raise ValueError(
            f"{run_dir} is a {kind.name} run ({kind.summary}): it has no agent to run; runs of "
            f"{acting} have one (a {kind.name} run initialises them: motorgym train --init-from)"
        )
    return kind.load_agent(run_dir, device)


def init_weights(run_dir: str | Path) -> InitWeights:
    """What ``--init-from run_dir`` copies into a new policy."""
    run_dir = Path(run_dir)
    kind = kind_of(run_dir)
    if kind.init_weights is None:
        offered = [k for k in KINDS.values() if k.init_weights is not None]
        names = " or ".join(f"{k.name} (motorgym {k.command})" for k in offered)
        raise ValueError(f"--init-from takes a pretraining run of {names}; {run_dir} is a {kind.name} run")
    return kind.init_weights(run_dir)


def write_config(run_dir: Path, config: Any) -> None:
    """A run's config.json: its kind's name as ``algo``, then the config's fields."""
    fields = {k: v for k, v in asdict(config).items() if k != "algo"}
    layout.write_json(run_dir / layout.CONFIG, {"algo": kind_of_config(config).name, **fields})


__all__ = [
    "KINDS",
    "InitWeights",
    "RunKind",
    "init_weights",
    "kind_of",
    "kind_of_config",
    "kinds_made_by",
    "load_agent",
    "load_predictor",
    "load_policy_file",
    "write_config",
]
