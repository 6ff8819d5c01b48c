"""Sensory feedback: transmission delays and noise, batched over environments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class DelayLine:
    """A fixed transmission delay for a (num_envs, dim) signal, as a ring buffer.

    ``push(x)`` stores the signal of the current step and returns the one stored ``delay_steps``
    pushes earlier, so with ``delay_steps = 0`` it returns ``x`` itself. ``reset(ids, x)`` fills the
    history of environments ``ids`` with ``x``: an arm at rest has been sensing the same thing for
    as long as the delay.
    """

    def __init__(self, num_envs: int, dim: int, delay_steps: int) -> None:
        if delay_steps < 0:
            raise ValueError(f"delay_steps must be >= 0 (got {delay_steps})")
        self.delay_steps = delay_steps
        self._buffer = np.zeros((delay_steps + 1, num_envs, dim))
        self._head = 0  # slot of the newest sample

    def reset(self, ids: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Fill the history of environments ``ids`` with ``value`` (len(ids), dim); return it."""
        self._buffer[:, ids] = value
        return self._buffer[self._head, ids]

    def get_state(self) -> dict[str, np.ndarray]:
        return {"buffer": self._buffer.copy(), "head": np.array(self._head)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self._buffer[...] = state["buffer"]
        self._head = int(state["head"])

    def push(self, value: np.ndarray) -> np.ndarray:
        """Store this step's (num_envs, dim) signal; return the signal from ``delay_steps`` ago."""
        self._head = (self._head + 1) % len(self._buffer)
        self._buffer[self._head] = value
        return self._buffer[(self._head + 1) % len(self._buffer)].copy()


def delay_in_steps(delay_ms: float, control_step_ms: float, name: str) -> int:
    """Convert a delay to whole control steps; the delay must be a multiple of the step."""
    steps = delay_ms / control_step_ms
    if abs(steps - round(steps)) > 1e-9:
        raise ValueError(
            f"{name} must be a whole multiple of control_step_ms={control_step_ms:g} "
            f"(got {delay_ms:g}); e.g. {round(steps) * control_step_ms:g}"
        )
    return int(round(steps))


class NoiseSource:
    """Standard-normal vectors for each environment, from that environment's own generator.

    Drawing a row per env per step costs a Python call per env per step; each env here draws a
    block of ``block_steps`` rows at once and hands them out in order, so the numbers an env gets
    depend only on its own generator (not on how many envs are stepped together), at 1/block_steps
    of the calls. A generator that was replaced (a new seed) is noticed and its block drawn anew.
    """

    def __init__(self, num_envs: int, size: int, block_steps: int = 64) -> None:
        self.size, self.block_steps = size, block_steps
        self._block = np.zeros((num_envs, block_steps, size))
        self._cursor = np.full(num_envs, block_steps)  # every block starts used up
        self._owner_ids = np.zeros(num_envs, dtype=np.int64)
        # Holding the generators keeps their ids from being reused by new ones.
        self._owners: list[np.random.Generator | None] = [None] * num_envs
        self._rows = np.arange(num_envs)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"block": self._block.copy(), "cursor": self._cursor.copy()}

    def set_state(self, state: dict[str, np.ndarray], rngs: Sequence[np.random.Generator]) -> None:
        """Restore blocks and cursors drawn from ``rngs`` (the restored generators)."""
        self._block[...] = state["block"]
        self._cursor[...] = state["cursor"]
        self._owners = list(rngs)
        self._owner_ids[...] = [id(rng) for rng in rngs]

    def draw(
        self, rngs: Sequence[np.random.Generator], ids: np.ndarray | None = None, active: np.ndarray | None = None
    ) -> np.ndarray:
        """One row per env of ``ids`` (all envs if None), from ``rngs`` aligned with ``ids``;
        rows of inactive envs (``active`` False) are zeros and use up nothing."""
        ids = self._rows if ids is None else ids
        owner_ids = np.fromiter(map(id, rngs), dtype=np.int64, count=len(ids))
        stale = (owner_ids != self._owner_ids[ids]) | (self._cursor[ids] >= self.block_steps)
        if active is not None:
            stale &= active
        for k in np.flatnonzero(stale):
            env = ids[k]
            rngs[k].standard_normal(out=self._block[env])
            self._cursor[env], self._owner_ids[env], self._owners[env] = 0, owner_ids[k], rngs[k]
        rows = self._block[ids, np.minimum(self._cursor[ids], self.block_steps - 1)]
        if active is None:
            self._cursor[ids] += 1
        else:
            self._cursor[ids[active]] += 1
            rows[~active] = 0.0
        return rows
