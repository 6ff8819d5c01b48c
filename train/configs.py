"""The configs of every kind of run: one base for the fields all runs share, one dataclass per kind.

Each field's docstring is its help on the command line (:mod:`motorgym.train.cli` reads them), and
a config is checked when it is made: a bad value raises a ValueError naming the field and what it
allows. A run's config is saved as its ``config.json``, with the run kind's name as ``algo``
(:mod:`motorgym.train.kinds`).

- :class:`RunConfig`: seed, device, torch threads (every run);
- :class:`NetworkConfig`: the recurrent network's cell and size (the policies and the pretrainings,
  whose networks initialise policies);
- :class:`EnvRunConfig`: the task, its budget (steps and/or minutes), physics threads and
  checkpoints (the reinforcement-learning runs);
- :class:`PPOConfig`, :class:`SB3Config`, :class:`PretrainConfig`, :class:`ModelBasedConfig`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from motorgym.agents.learned_arm import ARM_MODELS
from motorgym.agents.recurrent import CELL_TYPES
from motorgym.agents.sb3 import SB3_ALGORITHMS
from motorgym.envs.config import EnvConfig
from motorgym.envs.registration import check_env_arguments

Checks = dict[str, tuple[bool, str]]


def require_fields(config: Any, checks: Checks) -> None:
    """Raise a ValueError naming the first field whose check fails and the values it allows.
    ``checks`` maps field name -> (ok, allowed values)."""
    for name, (ok, allowed) in checks.items():
        if not ok:
            raise ValueError(f"{name} must be {allowed} (got {getattr(config, name)!r})")


@dataclass
class RunConfig:
    """The fields every run has."""

    seed: int = 0
    """Seeds everything random in the run (initialisation, sampling, environments, data splits)."""
    device: str = "cpu"
    """Torch device for the networks: cpu or cuda[:N]."""
    torch_threads: int = 1
    """Torch CPU threads (0: torch's default, one per core). One keeps training fast on a machine
    that other processes share: torch's threads spin while they wait, against MuJoCo's threads and
    everything else (benchmarks/train_speed.py measures it)."""

    def __post_init__(self) -> None:
        require_fields(self, self.field_checks())

    def field_checks(self) -> Checks:
        """(ok, allowed values) of each field; subclasses add theirs."""
        return {
            "device": (self.device == "cpu" or self.device.startswith("cuda"), "cpu or cuda[:N]"),
            "torch_threads": (self.torch_threads >= 0, ">= 0"),
        }

    def torch_device(self) -> torch.device:
        """The device, checked to exist on this machine."""
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device must be cpu on this machine: torch finds no CUDA device (got {self.device!r})")
        return torch.device(self.device)

    def apply_threads(self) -> None:
        """Give torch its share of the CPU (``torch_threads``)."""
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)


@dataclass
class NetworkConfig(RunConfig):
    """The recurrent network: a policy's, or a pretrained network's that initialises a policy."""

    cell: str = "lstm"
    """Recurrent cell: lstm or gru (a pretrained network's must match the policy it initialises)."""
    hidden_size: int = 128
    """Units of the encoder and of the recurrent cell (likewise)."""

    def field_checks(self) -> Checks:
        return {
            **super().field_checks(),
            "cell": (self.cell in CELL_TYPES, " or ".join(CELL_TYPES)),
            "hidden_size": (self.hidden_size >= 1, ">= 1"),
        }


@dataclass
class ActorConfig(RunConfig):
    """Where a policy's weights start and how its action head maps its hidden state to commands
    (PPO and model-based runs)."""

    bounded_action_mean: bool = False
    """Squash the mean command into the action bounds (smoothly, slope 1 at the centre) instead of
    a linear head whose output is clipped: a muscle arm's excitation pushed below 0 by a cost then
    keeps its gradient and its exploration (a pretrained policy and the run it initialises must agree)."""
    init_from: str = ""
    """A pretraining run directory whose network initialises the policy: from motorgym pretrain,
    its core (observation normaliser, encoder, recurrent cell); from motorgym pretrain-policy, its
    core and action mean (so a model-based pretraining can go on from the last one, on more data).
    Empty: start from scratch."""
    activity_l2: float = 0.0
    """Weight of the L2 cost of the recurrent hidden state (its mean square over units, steps and
    trials), as Sussillo et al. (2015) regularised the rates of networks that move an arm."""
    activity_change_l2: float = 0.0
    """Weight of the L2 cost of the hidden state's change from one step to the next (within episodes or trials)."""
    command_change_l2: float = 0.0
    """Weight of the L2 cost of the change of the policy's mean command from one step to the next
    (within episodes or trials): smooth commands, as the minimum-torque-change model (Uno et al. 1989)."""

    def field_checks(self) -> Checks:
        regularisers = ("activity_l2", "activity_change_l2", "command_change_l2")
        return {**super().field_checks(), **{name: (getattr(self, name) >= 0, ">= 0") for name in regularisers}}

    def activity_cost(
        self, hidden_activity: torch.Tensor, hidden_change: torch.Tensor, command_change: torch.Tensor
    ) -> torch.Tensor | float:
        """The learner's regularisation of the policy (PPO's loss, the imagined trials', the
        learned-arm rule's): each term times its weight, ``activity_l2``, ``activity_change_l2`` and
        ``command_change_l2``. A term of weight 0 is left out (0.0 when all are), so that a run
        without regularisation computes exactly the loss it would without these terms."""
        weighted = (
            (self.activity_l2, hidden_activity),
            (self.activity_change_l2, hidden_change),
            (self.command_change_l2, command_change),
        )
        cost: torch.Tensor | float = 0.0
        for weight, term in weighted:
            if weight:
                cost = cost + weight * term
        return cost


@dataclass
class EnvRunConfig(RunConfig):
    """A run that trains in a task: the task, the budget, physics threads and checkpoints."""

    env_id: str = "motorgym/CenterOut-v0"
    """Gymnasium id of the task (a motorgym id)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the env (e.g. {"catch_fraction": 0.2}); a JSON object on the command line."""
    total_steps: int = 2_000_000
    """Stop after this many environment steps (0: no step limit; on the command line --minutes
    alone sets a time budget only)."""
    minutes: float = 0.0
    """Stop after this many minutes of wall-clock time (0: no time limit). The learning rate, if
    annealed, decays over whichever budget runs out first."""
    physics_threads: int = 0
    """MuJoCo threads stepping the arms (0: one per core)."""
    checkpoint_every: int = 50
    """Write a checkpoint every this many updates (and always at the end)."""

    def field_checks(self) -> Checks:
        check_env_arguments(self.env_id, self.env_kwargs)
        return {
            **super().field_checks(),
            "total_steps": (self.total_steps >= 0, ">= 0"),
            "minutes": (self.minutes >= 0, ">= 0"),
            "physics_threads": (self.physics_threads >= 0, ">= 0"),
            "checkpoint_every": (self.checkpoint_every >= 1, ">= 1"),
        }

    def with_budget(self, total_steps: int | None = None, minutes: float | None = None) -> Any:
        """A copy with the budget changed where given (to extend a resumed run), checked again."""
        given = {k: v for k, v in (("total_steps", total_steps), ("minutes", minutes)) if v is not None}
        return dataclasses.replace(self, **given)

    def budget_checks(self) -> Checks:
        """A run needs a budget: a step limit, a time limit or both."""
        return {"total_steps": (self.total_steps > 0 or self.minutes > 0, "> 0, or minutes > 0 (a budget)")}


@dataclass
class PPOConfig(EnvRunConfig, NetworkConfig, ActorConfig):
    """Everything a recurrent PPO run (lstm-ppo, gru-ppo) depends on."""

    num_envs: int = 64
    """Environments stepped together (one native batched env)."""
    rollout_steps: int = 64
    """Steps per environment in each rollout (the BPTT length)."""
    stop_success: float = 0.0
    """Also stop once the success rate of the last 100 training episodes reaches this (0: never)."""
    learning_rate: float = 3e-4
    """Adam learning rate (at the start, with annealing)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the budget (steps or minutes, whichever ends first)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch; each holds num_envs / num_minibatches whole env sequences."""
    update_epochs: int = 4
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """PPO's probability-ratio clip, also used for the value clip."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this."""
    normalize_reward: bool = True
    """Scale rewards by the running standard deviation of the discounted return."""
    init_log_std: float = -0.5
    """Initial log standard deviation of the policy's action noise."""

    def field_checks(self) -> Checks:
        return {
            **super().field_checks(),
            **self.budget_checks(),
            "num_envs": (self.num_envs >= 1, ">= 1"),
            "rollout_steps": (self.rollout_steps >= 1, ">= 1"),
            "stop_success": (0.0 <= self.stop_success <= 1.0, "in [0, 1]"),
            "num_minibatches": (
                1 <= self.num_minibatches <= self.num_envs and self.num_envs % self.num_minibatches == 0,
                f"a divisor of num_envs={self.num_envs}",
            ),
            "update_epochs": (self.update_epochs >= 1, ">= 1"),
        }

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.rollout_steps


@dataclass
class SB3Config(EnvRunConfig):
    """Everything an SB3 baseline run (sb3-rppo, sb3-ppo) depends on."""

    algo: str = "sb3-rppo"
    """sb3-rppo (sb3-contrib RecurrentPPO, MlpLstmPolicy) or sb3-ppo (SB3 PPO, MlpPolicy)."""
    num_envs: int = 16
    """Environments stepped together (one native batched env behind the SB3 adapter)."""
    n_steps: int = 512
    """Steps per environment in each rollout."""
    batch_size: int = 512
    """Minibatch size in steps."""
    n_epochs: int = 5
    """Passes over each rollout."""
    learning_rate: float = 1.04019e-4
    """Adam learning rate (constant)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE lambda."""
    clip_range: float = 0.3
    """PPO's probability-ratio clip."""
    ent_coef: float = 7.52585e-08
    """Weight of the entropy bonus."""
    vf_coef: float = 0.950368
    """Weight of the value loss."""
    max_grad_norm: float = 0.9
    """Clip the global gradient norm to this."""
    normalize: bool = True
    """Normalise observations and rewards with SB3's VecNormalize."""
    lstm_hidden_size: int = 256
    """Units of the LSTM (sb3-rppo only)."""
    checkpoint_every: int = 10
    """Write a checkpoint every this many updates (and always at the end)."""

    def field_checks(self) -> Checks:
        return {
            **super().field_checks(),
            **self.budget_checks(),
            "algo": (self.algo in SB3_ALGORITHMS, " or ".join(SB3_ALGORITHMS)),
            "num_envs": (self.num_envs >= 1, ">= 1"),
            "n_steps": (self.n_steps >= 1, ">= 1"),
            "batch_size": (1 <= self.batch_size <= self.num_envs * self.n_steps, "in [1, num_envs * n_steps]"),
            "n_epochs": (self.n_epochs >= 1, ">= 1"),
            "lstm_hidden_size": (self.lstm_hidden_size >= 1, ">= 1"),
        }

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.n_steps


@dataclass
class DataConfig(NetworkConfig):
    """A pretraining run: a network fitted on a trajectory file of motorgym collect."""

    data: str = ""
    """Trajectory file written by motorgym collect (.npz); its env is the one the network learns."""
    more_data: list[str] = field(default_factory=list)
    """Further trajectory files of the same task, pooled with data (e.g. rollouts of a pretrained
    policy: motorgym collect --policy RUN_DIR)."""
    val_fraction: float = 0.2
    """Fraction of the episodes held out for validation."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this."""

    @property
    def data_files(self) -> list[str]:
        """data, then more_data."""
        return [self.data, *self.more_data]

    def field_checks(self) -> Checks:
        return {
            **super().field_checks(),
            "data": (bool(self.data), "a trajectory file (.npz) of motorgym collect"),
            "more_data": (all(isinstance(p, str) and p for p in self.more_data), "a list of trajectory files"),
            "val_fraction": (0.0 < self.val_fraction < 1.0, "in (0, 1)"),
        }


@dataclass
class PretrainConfig(DataConfig):
    """Everything a trajectory-predictor pretraining run depends on."""

    horizon_steps: int = 10
    """Predict the hand this many control steps ahead (>= 1, below the longest episode)."""
    epochs: int = 200
    """At most this many passes over the training episodes."""
    batch_episodes: int = 64
    """Episodes per minibatch (each a whole sequence)."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    patience: int = 10
    """Stop when the validation loss has not improved for this many epochs."""

    def field_checks(self) -> Checks:
        positive = ("horizon_steps", "epochs", "batch_episodes", "patience")
        return {**super().field_checks(), **{name: (getattr(self, name) >= 1, ">= 1") for name in positive}}


@dataclass
class ModelBasedConfig(DataConfig, ActorConfig):
    """Everything a model-based pretraining run (a policy trained through a learned arm) depends on."""

    arm_hidden_size: int = 256
    """Units of each of the learned arm's two hidden layers."""
    arm_unroll_steps: int = 20
    """Control steps the learned arm runs open-loop in each training window."""
    arm_iterations: int = 4000
    """Adam steps fitting the learned arm."""
    arm_batch_windows: int = 256
    """Windows of arm_unroll_steps steps per minibatch of the arm fit."""
    arm_learning_rate: float = 1e-3
    """Adam learning rate of the arm fit (decayed by cosine to 0)."""
    arm_init_from: str = ""
    """A model-based pretraining run whose learned arm the fit goes on from (its standardisation
    kept; arm_model and arm_hidden_size must be its), e.g. a second round of data aggregation
    refitting on its own and the new episodes in fewer arm_iterations. Empty: fit from scratch."""
    arm_model: str = "affine"
    """The learned arm's structure (``motorgym.agents.learned_arm``): ``affine`` (the activations by
    MuJoCo's own law, the mechanics' change affine in them), ``known-activation`` (the activations by
    the law, the mechanics by an MLP) or ``mlp`` (everything learned, as pretraining runs before
    2026-12-02 did). An arm without activation states (the unfiltered torque arm) is always ``mlp``."""
    policy_iterations: int = 1500
    """Adam steps training the policy through the learned arm."""
    batch_trials: int = 64
    """Imagined trials per policy iteration."""
    command_bias_std: float = 0.0
    """Standard deviation of a constant offset added to all the commands of each imagined trial (a
    new one per trial, before clipping to the command's bounds): the learned arm's own errors act on
    the real arm like such an offset (at rest the muscle arm's hand drifts where the learned arm's
    holds still), so a policy trained to correct an unknown one by feedback holds and reaches in
    MuJoCo as it does in imagination. 0 draws none."""
    policy_learning_rate: float = 1e-3
    """Adam learning rate of the policy."""
    eval_every: int = 100
    """Run the policy in MuJoCo every this many policy iterations (and at the end)."""
    eval_episodes: int = 64
    """Episodes of each evaluation in MuJoCo."""
    costs: dict[str, float] = field(default_factory=dict)
    """Cost arguments of the imagined trials (the env's *_weight arguments and state_cost_onset_ms,
    e.g. {"speed_weight": 0.7}), replacing the data's: the learned arm is the arm's, not the task's,
    so one data set serves any costs. The policy's env kwargs are the data's with these; a JSON
    object on the command line."""

    def field_checks(self) -> Checks:
        positive = (
            "arm_hidden_size",
            "arm_unroll_steps",
            "arm_iterations",
            "arm_batch_windows",
            "policy_iterations",
            "batch_trials",
            "eval_every",
            "eval_episodes",
        )
        cost_names = EnvConfig.cost_argument_names()
        costs_ok = all(k in cost_names and isinstance(v, int | float) for k, v in self.costs.items())
        bias_ok = math.isfinite(self.command_bias_std) and self.command_bias_std >= 0
        return {
            **super().field_checks(),
            **{name: (getattr(self, name) >= 1, ">= 1") for name in positive},
            "costs": (costs_ok, f"an object of the env's cost arguments ({', '.join(cost_names)}) and numbers"),
            "arm_model": (self.arm_model in ARM_MODELS, f"one of {', '.join(ARM_MODELS)}"),
            "command_bias_std": (bias_ok, "a finite number >= 0"),
        }


@dataclass
class AdaptConfig(RunConfig):
    """An adapt run (motorgym adapt): a motor-learning protocol on a trained policy."""

    source_run: str = ""
    """The trained run whose policy adapts: lstm-ppo or gru-ppo, or (for the learned-arm rule) a
    model-based pretraining (motorgym pretrain-policy)."""
    protocol: str = "curl-field"
    """A shipped protocol's name (``motorgym.train.protocol.shipped_protocols``: curl-field, ...) or
    a protocol YAML file."""
    protocol_spec: dict[str, Any] = field(default_factory=dict)
    """The protocol as it was read (so the run keeps it if the file changes)."""


__all__ = [
    "ActorConfig",
    "AdaptConfig",
    "EnvRunConfig",
    "ModelBasedConfig",
    "NetworkConfig",
    "PPOConfig",
    "PretrainConfig",
    "RunConfig",
    "SB3Config",
    "require_fields",
]
