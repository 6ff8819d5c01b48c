"""The trajectory predictor: a forward model of the arm built on the policy's recurrent core.

It is the policy's core (:class:`~motorgym.agents.recurrent.RecurrentCore`: observation
normaliser, encoder, LSTM/GRU cell) plus an efference copy of the motor command (a linear map of
the action, scaled to [-1, 1], added to the encoded observation) and a linear head. From the
history of observations and actions up to step t it predicts the true hand position and velocity
some steps later, standardised by its training targets' statistics (kept in the model). Because the
core's parameters have the policy's names, a trained core loads into a policy
(``motorgym train --init-from``). It is trained by :mod:`motorgym.train.pretrain`.
"""

from __future__ import annotations

import torch
from torch import nn

from motorgym.agents.recurrent import RecurrentCore, layer_init


class TrajectoryPredictor(RecurrentCore):
    """The policy's core plus an efference copy of the action and a position/velocity head."""

    def __init__(self, obs_dim: int, action_dim: int, cell: str, hidden_size: int) -> None:
        super().__init__(obs_dim, cell, hidden_size)
        self.action_encoder = nn.Linear(action_dim, hidden_size, bias=False)
        self.head = layer_init(nn.Linear(hidden_size, 4), std=1.0)
        self.register_buffer("action_center", torch.zeros(action_dim))
        self.register_buffer("action_half_range", torch.ones(action_dim))
        self.register_buffer("target_mean", torch.zeros(4))
        self.register_buffer("target_std", torch.ones(4))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Standardised predictions (T, B, 4) of [hand x, y (m), vx, vy (m/s)] ``horizon`` steps
        after each step, from raw observations (T, B, obs_dim) and actions (T, B, action_dim) of
        whole episodes (each sequence starts an episode)."""
        scaled_action = (actions - self.action_center) / self.action_half_range
        starts = torch.zeros(obs.shape[:2], device=obs.device)
        hidden, _ = self.unroll(
            self.obs_normalizer.normalize(obs),
            self.initial_state(obs.shape[1], obs.device),
            starts,
            extra_input=self.action_encoder(scaled_action),
        )
        return self.head(hidden)

    def predict_m(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Predictions in metres and m/s."""
        return self(obs, actions) * self.target_std + self.target_mean


__all__ = ["TrajectoryPredictor"]
