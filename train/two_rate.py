"""Two-rate learning for ``motorgym adapt``: a fast and a slow process in the network's weights.

People adapt to a force field through (at least) two processes: a fast one that learns quickly and
forgets quickly, and a slow one that learns slowly and retains (Smith, Ghazizadeh & Shadmehr 2006).
Per trial n, with e(n) the error:

    x_fast(n + 1) = A_fast x_fast(n) + B_fast e(n)
    x_slow(n + 1) = A_slow x_slow(n) + B_slow e(n),    A_fast < A_slow,  B_fast > B_slow

and the adaptation is x_fast + x_slow. The model explains **savings**: a washout brings behaviour
back to baseline by driving the fast process the opposite way while the slow one still holds much
of the exposure, so on re-exposure the fast process's rebound adds to what the slow one kept.

Here the two states are offsets of every weight from the trained network's: the weights are
``trained + fast + slow``. Each optimiser step of a learning rule (PPO's or the learned-arm rule's)
is the error-driven term: its step goes whole into the fast offset and, times
``slow_learning_rate / learning_rate``, into the slow one; before a step, each offset keeps its
retention raised to the number of learning trials that have ended since the step before (a per-trial
forgetting, toward the trained weights, as in the model). With retention 1 and no slow rate this is
the rule's ordinary learning.
"""

from __future__ import annotations

from typing import Any

import torch


class TwoRateWeights:
    """The fast and slow offsets of an optimiser's parameters from their values at construction.

    Args:
        optimizer: the learning rule's optimiser; its steps become the processes' updates (a step
            post-hook, so every step of the rule is split, however many it takes per update).
        learning_rate: the optimiser's learning rate (the fast process's B).
        slow_learning_rate: the slow process's B, on the same scale (its share of each step is
            ``slow_learning_rate / learning_rate``).
        fast_retention: A of the fast process, per trial.
        slow_retention: A of the slow process, per trial.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        learning_rate: float,
        slow_learning_rate: float,
        fast_retention: float,
        slow_retention: float,
    ) -> None:
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.slow_share = slow_learning_rate / learning_rate
        self.fast_retention, self.slow_retention = fast_retention, slow_retention
        self.trained = [p.detach().clone() for p in self.params]
        self.fast = [torch.zeros_like(p) for p in self.params]
        self.slow = [torch.zeros_like(p) for p in self.params]
        self.trials_since_step = 0
        optimizer.register_step_post_hook(lambda *_: self.split_step())

    def trial_ended(self) -> None:
        """Count a learning trial (retention is per trial)."""
        self.trials_since_step += 1

    @torch.no_grad()
    def split_step(self) -> None:
        """After an optimiser step: decay both offsets by the trials since the last step, add the
        step to them, and set the weights to ``trained + fast + slow``."""
        fast_decay = self.fast_retention**self.trials_since_step
        slow_decay = self.slow_retention**self.trials_since_step
        self.trials_since_step = 0
        for param, trained, fast, slow in zip(self.params, self.trained, self.fast, self.slow, strict=True):
            step = param - (trained + fast + slow)
            fast.mul_(fast_decay).add_(step)
            slow.mul_(slow_decay).add_(step, alpha=self.slow_share)
            param.copy_(trained + fast + slow)

    def offset_norms(self) -> dict[str, float]:
        """The L2 norms of the fast and slow offsets over all weights (logged per update)."""
        norm = lambda offsets: float(torch.sqrt(sum((o**2).sum() for o in offsets)))  # noqa: E731
        return {"fast_offset_norm": norm(self.fast), "slow_offset_norm": norm(self.slow)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "trained": self.trained,
            "fast": self.fast,
            "slow": self.slow,
            "trials_since_step": self.trials_since_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for name in ("trained", "fast", "slow"):
                for mine, saved in zip(getattr(self, name), state[name], strict=True):
                    mine.copy_(saved)
        self.trials_since_step = int(state["trials_since_step"])


__all__ = ["TwoRateWeights"]
