"""Recurrent actor-critic: an LSTM or GRU core with a Gaussian action head and a value head.

The network sees observations normalised by running statistics (kept in the model, so they are
saved and restored with it), encodes them with a linear layer and tanh, and runs them through one
recurrent cell. A linear head gives the mean of a diagonal Gaussian over actions (optionally
squashed into the action bounds: ``PolicySpec.bounded_mean``; its log standard deviation is a
learned vector), another the state value. Layers are orthogonally initialised, the
action head small (std 0.01) so that the first policy is near its mean. The recurrent state is a
(batch, state_size) tensor ([h, c] for an LSTM) and is zeroed wherever an episode starts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

CellType = Literal["lstm", "gru"]
CELL_TYPES: tuple[str, ...] = ("lstm", "gru")


@dataclass(frozen=True)
class PolicySpec:
    """What a policy is built from; stored as JSON in checkpoints so a policy can be rebuilt."""

    obs_dim: int
    """Length of the observation vector."""
    action_low: tuple[float, ...]
    """Lower bound of each action (actions are clipped to [low, high] before the env sees them)."""
    action_high: tuple[float, ...]
    """Upper bound of each action."""
    cell: CellType = "lstm"
    """Recurrent cell: "lstm" or "gru"."""
    hidden_size: int = 128
    """Units of the encoder and of the recurrent cell."""
    init_log_std: float = -0.5
    """Initial log standard deviation of the Gaussian action noise."""
    bounded_mean: bool = False
    """Squash the action distribution's mean into the bounds: centre + half-range x tanh(x /
    half-range), which has slope 1 at the centre like the linear head. Without it the mean is the
    centre plus the linear head's output and may leave the bounds, where the clipped command no
    longer depends on it: a muscle whose excitation a cost has pushed below 0 gets no gradient
    through the arm and, once far below, no exploration either (MotorNet's policies end in a
    sigmoid for this reason)."""

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES} (got {self.cell!r})")
        if len(self.action_low) != len(self.action_high) or not self.action_low:
            raise ValueError("action_low and action_high must be non-empty and of equal length")
        object.__setattr__(self, "action_low", tuple(float(x) for x in self.action_low))
        object.__setattr__(self, "action_high", tuple(float(x) for x in self.action_high))

    @property
    def action_dim(self) -> int:
        return len(self.action_low)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PolicySpec:
        return cls(**json.loads(text))


class RunningMeanStd(nn.Module):
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update), as buffers."""

    def __init__(self, shape: tuple[int, ...], epsilon: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(epsilon, dtype=torch.float64))
        #: While True, :meth:`update` leaves the statistics as they are (e.g. a trained network's
        #: input scaling while it adapts: what changes is then only what it learns).
        self.frozen = False

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Fold a (n, *shape) batch into the statistics (unless :attr:`frozen`)."""
        if self.frozen:
            return
        batch = batch.to(torch.float64).reshape(-1, *self.mean.shape)
        batch_mean, batch_var, n = batch.mean(0), batch.var(0, unbiased=False), batch.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-clip, clip).to(torch.float32)


def layer_init(layer: nn.Linear, std: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class RecurrentCore(nn.Module):
    """The part of a network that turns an observation history into hidden states: a running
    observation normaliser, a linear+tanh encoder and one LSTM or GRU cell. Shared by the
    actor-critic and the trajectory predictor (:mod:`motorgym.agents.predictor`), so that a pretrained
    core loads into a policy under the same parameter names (:data:`CORE_PREFIXES`)."""

    def __init__(self, obs_dim: int, cell: str, hidden_size: int) -> None:
        super().__init__()
        if cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES} (got {cell!r})")
        self.cell, self.hidden_size = cell, hidden_size
        self.obs_normalizer = RunningMeanStd((obs_dim,))
        self.encoder = nn.Sequential(layer_init(nn.Linear(obs_dim, hidden_size)), nn.Tanh())
        self.rnn: nn.LSTM | nn.GRU = (
            nn.LSTM(hidden_size, hidden_size) if cell == "lstm" else nn.GRU(hidden_size, hidden_size)
        )
        for name, param in self.rnn.named_parameters():
            if "weight" in name:
                nn.init.orthogonal_(param, 1.0)
            else:
                nn.init.constant_(param, 0.0)

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size if self.cell == "lstm" else self.hidden_size

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Zero recurrent state for ``batch_size`` sequences, shape (batch_size, state_size)."""
        return torch.zeros(batch_size, self.state_size, device=device or self.obs_normalizer.mean.device)

    def _run(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The fused RNN over a stretch of time (T, B, H) with no episode start inside it."""
        if isinstance(self.rnn, nn.LSTM):
            h, c = state.chunk(2, dim=-1)
            out, (h, c) = self.rnn(x, (h[None].contiguous(), c[None].contiguous()))
            return out, torch.cat([h[0], c[0]], dim=-1)
        out, h = self.rnn(x, state[None].contiguous())
        return out, h[0]

    def unroll(
        self,
        normalized_obs: torch.Tensor,
        state: torch.Tensor,
        episode_starts: torch.Tensor,
        extra_input: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (T, B, obs_dim) normalised observations from ``state``, zeroing the state of a
        sequence wherever ``episode_starts`` (T, B) is 1; return hidden outputs (T, B, H) and the
        final state. ``extra_input`` (T, B, H), if given, is added to the encoded observations.

        The sequence is cut only at the time steps where some episode starts, and each stretch runs
        through the fused LSTM/GRU in one call (not a Python loop over time steps); at a cut the
        state is multiplied by (1 - start), so only the sequences that start are reset.
        """
        encoded = self.encoder(normalized_obs)
        if extra_input is not None:
            encoded = encoded + extra_input
        keep = (1.0 - episode_starts).unsqueeze(-1)
        cuts = torch.nonzero(episode_starts[1:].any(dim=1)).flatten().add(1).tolist()
        outputs = []
        for begin, end in zip([0, *cuts], [*cuts, encoded.shape[0]], strict=True):
            out, state = self._run(encoded[begin:end], state * keep[begin])
            outputs.append(out)
        return torch.cat(outputs), state


#: Parameter-name prefixes of a :class:`RecurrentCore` inside any network built on it.
CORE_PREFIXES = ("obs_normalizer.", "encoder.", "rnn.")
#: Those of a policy's actor: its core and the mean of its action distribution (not the action
#: noise's log standard deviation, nor the critic).
ACTOR_PREFIXES = (*CORE_PREFIXES, "actor_mean.")


def core_state_dict(network: nn.Module, prefixes: tuple[str, ...] = CORE_PREFIXES) -> dict[str, torch.Tensor]:
    """The core's tensors (normaliser, encoder, cell) of a network built on :class:`RecurrentCore`
    (or those under other parameter-name ``prefixes``)."""
    return {k: v for k, v in network.state_dict().items() if k.startswith(prefixes)}


def load_core(
    network: RecurrentCore,
    core: dict[str, torch.Tensor],
    source: str = "the pretrained core",
    prefixes: tuple[str, ...] = CORE_PREFIXES,
) -> None:
    """Copy a core's tensors (or those under ``prefixes``) into ``network``; a different cell type
    or size is a clear error that names both shapes."""
    own = core_state_dict(network, prefixes)
    mine = f"the policy's ({network.cell}, hidden {network.hidden_size})"
    if set(core) != set(own):
        raise ValueError(f"{source} does not match {mine}: its tensors are {sorted(core)}, the policy's {sorted(own)}")
    for name, tensor in core.items():
        if tensor.shape != own[name].shape:
            raise ValueError(
                f"{source} does not match {mine} at {name}: shape {tuple(tensor.shape)} vs "
                f"{tuple(own[name].shape)} (cell type, hidden size and observation size must agree)"
            )
    network.load_state_dict(core, strict=False)


class RecurrentActorCritic(RecurrentCore):
    """LSTM or GRU actor-critic for continuous actions (see the module docstring)."""

    def __init__(self, spec: PolicySpec) -> None:
        super().__init__(spec.obs_dim, spec.cell, spec.hidden_size)
        self.spec = spec
        hidden = spec.hidden_size
        self.actor_mean = layer_init(nn.Linear(hidden, spec.action_dim), std=0.01)
        self.log_std = nn.Parameter(torch.full((spec.action_dim,), spec.init_log_std))
        self.critic = layer_init(nn.Linear(hidden, 1), std=1.0)
        self.register_buffer("action_low", torch.tensor(spec.action_low, dtype=torch.float32))
        self.register_buffer("action_high", torch.tensor(spec.action_high, dtype=torch.float32))
        # The action mean starts mid-range: 0 torque, or excitation 0.5 for muscles.
        self.register_buffer("action_center", (self.action_low + self.action_high) / 2)
        # Not saved (checkpoints written before it existed lack it), but moved with the network.
        self.register_buffer("action_half_range", (self.action_high - self.action_low) / 2, persistent=False)

    def distribution(self, hidden: torch.Tensor) -> Normal:
        head = self.actor_mean(hidden)
        if self.spec.bounded_mean:
            mean = self.action_center + self.action_half_range * torch.tanh(head / self.action_half_range)
        else:
            mean = self.action_center + head
        return Normal(mean, self.log_std.exp().expand_as(mean))

    def value(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.critic(hidden).squeeze(-1)

    def clip_action(self, action: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(action, self.action_high), self.action_low)

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray | torch.Tensor,
        state: torch.Tensor,
        episode_start: np.ndarray | torch.Tensor,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Actions for a (B, obs_dim) batch of raw observations, clipped to the action bounds.

        ``episode_start`` (B,) marks sequences whose episode begins with this observation (their
        state is reset first). Returns the actions as a numpy array and the new state.
        """
        device = self.log_std.device
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device)
        starts = torch.as_tensor(np.asarray(episode_start), dtype=torch.float32, device=device)
        hidden, state = self.unroll(self.obs_normalizer.normalize(obs_t)[None], state, starts[None])
        dist = self.distribution(hidden[0])
        action = dist.mean if deterministic else dist.sample()
        return self.clip_action(action).cpu().numpy(), state


def mean_square_change(values: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """The mean squared change of ``values`` (T, B, N) from one step to the next within an episode
    (a step where ``starts`` (T, B) is 1 begins an episode: it has no predecessor), over the N
    entries and the steps. On the hidden state it is Sussillo et al.'s (2015, Nat Neurosci 18:1025)
    cost of the activity's change; on the policy's mean command, a cost of the command's rate of
    change (minimum torque change: Uno, Kawato & Suzuki 1989), on the deterministic part of the
    policy only, so that it does not fight exploration as an env cost on the noisy command would."""
    within = 1.0 - starts[1:]
    change = ((values[1:] - values[:-1]) ** 2).mean(-1)
    return (change * within).sum() / within.sum().clamp(min=1.0)
