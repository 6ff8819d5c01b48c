"""Sensory feedback: transmission delays and noise, batched over environments."""

from __future__ import annotations

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
