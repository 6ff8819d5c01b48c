"""The single-environment Gymnasium face over the batched core (one environment of it)."""

from __future__ import annotations

from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np

from motorgym.envs.arm import Arm, ArmKind
from motorgym.envs.batched import ArmTaskCore, check_actions, env_info
from motorgym.envs.config import EnvConfig
from motorgym.envs.gl import display_available
from motorgym.envs.rendering import EnvFrames
from motorgym.envs.task import ReachingTask

_ENV0 = np.zeros(1, dtype=np.int64)


class ArmTaskEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base class of the motorgym envs; subclasses name the task, the arm and the config class.

    The tables of observations, actions, rewards, episode ends and arguments are in each
    subclass's docstring.
    """

    # "human" opens a window, so it is offered only where a display exists (MuJoCo's viewer would
    # otherwise end the process inside GLFW).
    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": (["human"] if display_available() else []) + ["rgb_array"],
        "render_fps": 100,
    }
    env_name: ClassVar[str]
    arm_kind: ClassVar[ArmKind]
    task_cls: ClassVar[type[ReachingTask[Any]]]
    config_cls: ClassVar[type[EnvConfig]]

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            hint = '; "human" needs a display' if render_mode == "human" else ""
            raise ValueError(
                f"render_mode must be one of {[None, *self.metadata['render_modes']]} (got {render_mode!r}){hint}"
            )
        self.config = self.config_cls.from_kwargs(self.env_name, kwargs)
        self.render_mode = render_mode
        self.metadata = {**type(self).metadata, "render_fps": int(round(1000.0 / self.config.control_step_ms))}
        self.core = ArmTaskCore(self.task_cls, self.config, self.arm_kind, num_envs=1)
        self.obs_names: list[str] = self.core.obs_names
        self.action_names: list[str] = self.core.action_names
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._action_shape = (len(self.action_names),)
        self._frames = (
            EnvFrames(self.core, render_mode, self.config.render_width_px, self.config.render_height_px)
            if render_mode is not None
            else None
        )

    @property
    def arm(self) -> Arm:
        """The simulated arm (true, undelayed state), e.g. for scripted controllers."""
        return self.core.arm

    @property
    def task(self) -> ReachingTask[Any]:
        """The trial state (targets, go cue, phases)."""
        return self.core.task

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self.core.reset(_ENV0, [self.np_random], options)
        if self.render_mode == "human":
            self.render()
        return obs[0], env_info(info, 0)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        checked = check_actions(action, self._action_shape, self.core.action_low, self.core.action_high)
        obs, reward, terminated, info = self.core.step(checked[None], [self.np_random])
        if self.render_mode == "human":
            self.render()
        return obs[0], float(reward[0]), bool(terminated[0]), False, env_info(info, 0)

    def render(self) -> np.ndarray | None:
        if self._frames is None:
            gym.logger.warn(
                f"render() called without a render_mode; make the env with "
                f'gym.make("{self.spec.id if self.spec else self.env_name}", render_mode="rgb_array")'
            )
            return None
        return self._frames.render(0)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        super().close()
