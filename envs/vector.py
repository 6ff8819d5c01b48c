"""The native batched Gymnasium face: ``num_envs`` environments of one task in one process.

``gym.make_vec("motorgym/CenterOut-v0", num_envs=64)`` returns one of these (the ids register a
``vector_entry_point``). All arms live in one ``MjModel`` and are stepped together by MuJoCo's
``mujoco.batch`` thread pool; the task logic, delays and noise are the batched core's numpy code, the
same code a single env runs (``ArmTaskCore``), so N envs here reproduce N single envs exactly.

Arguments: every argument of the single env (see its docstring), plus

| argument | default | meaning |
|---|---|---|
| num_envs | 1 | number of environments |
| max_episode_steps | the registration's | an env is truncated after this many steps (None: never) |
| render_mode | None | None or "rgb_array": ``render()`` returns the frame of environment 0 |
| autoreset_mode | AutoresetMode.NEXT_STEP | Gymnasium 1.x autoreset mode, NEXT_STEP or SAME_STEP (below) |
| num_threads | 0 | physics threads (0: one per CPU core) |

Trial schedules: ``trial_options`` (None, or a function of the env's index returning a dict) is
called at every reset of an env, autoresets included, for the options of the trial it starts
(merged over ``reset``'s options): a protocol such as ``motorgym adapt`` switches perturbations
trial by trial with it while the envs run on.

Autoreset: with NEXT_STEP, the step after an env's episode ends resets that env (its action is
ignored) and returns the reset observation with reward 0; with SAME_STEP, the ending step resets it
at once and returns the reset observation, the last observation being in ``info["final_obs"]`` and
the last info in ``info["final_info"]`` (masks ``_final_obs``, ``_final_info``).

``info`` holds each single-env key as an array over envs, with the boolean mask ``_key``.
Each env has its own random generator: ``reset(seed=s)`` seeds env i with ``s + i`` (or give a list),
as Gymnasium's ``SyncVectorEnv`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from motorgym.envs.arm import Arm
from motorgym.envs.batched import ArmTaskCore, check_actions
from motorgym.envs.config import require
from motorgym.envs.rendering import EnvFrames
from motorgym.envs.single import ArmTaskEnv

_AUTORESET_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


def _autoreset_mode(value: AutoresetMode | str) -> AutoresetMode:
    for mode in _AUTORESET_MODES:
        if value in (mode, mode.value, mode.name):
            return mode
    raise ValueError(
        f"autoreset_mode must be one of {[m.name for m in _AUTORESET_MODES]} "
        f"(AutoresetMode members or their names; got {value!r})"
    )


class ArmTaskVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """Base class of the native vector envs; each subclass names its single env (``env_cls``)."""

    env_cls: ClassVar[type[ArmTaskEnv]]

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        num_threads: int = 0,
        **kwargs: Any,
    ) -> None:
        env_cls = self.env_cls
        require("num_envs", num_envs, isinstance(num_envs, int) and num_envs >= 1, "an int >= 1")
        require(
            "max_episode_steps",
            max_episode_steps,
            max_episode_steps is None or (isinstance(max_episode_steps, int) and max_episode_steps >= 1),
            "None or an int >= 1",
        )
        require("render_mode", render_mode, render_mode in (None, "rgb_array"), "None or 'rgb_array'")
        require("num_threads", num_threads, isinstance(num_threads, int) and num_threads >= 0, "an int >= 0")
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.config = env_cls.config_cls.from_kwargs(env_cls.env_name, kwargs)
        self.core = ArmTaskCore(env_cls.task_cls, self.config, env_cls.arm_kind, num_envs, num_threads)
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.metadata = {
            "render_modes": ["rgb_array"],
            "render_fps": int(round(1000.0 / self.config.control_step_ms)),
            "autoreset_mode": self.autoreset_mode,
        }
        self.obs_names, self.action_names = self.core.obs_names, self.core.action_names
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._action_shape = (num_envs, len(self.action_names))
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._episode_steps = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._all = np.arange(num_envs)
        self._all_true = np.ones(num_envs, dtype=bool)
        self._all_true.flags.writeable = False
        #: Called at each reset of env i for that trial's options (see the module docstring).
        self.trial_options: Callable[[int], dict[str, Any]] | None = None
        self._frames = (
            EnvFrames(self.core, "rgb_array", self.config.render_width_px, self.config.render_height_px)
            if render_mode
            else None
        )

    @property
    def arm(self) -> Arm:
        """The simulated arms (true, undelayed state), one row per environment."""
        return self.core.arm

    # ----------------------------------------------------------------------------- helpers
    def _seed(self, seed: int | list[int | None] | None) -> None:
        if seed is None:
            return
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
        require("seed", seed, len(seeds) == self.num_envs, f"an int or a list of {self.num_envs} seeds")
        for i, env_seed in enumerate(seeds):
            if env_seed is not None:
                self._rngs[i] = seeding.np_random(env_seed)[0]

    def _reset_envs(
        self, ids: np.ndarray, obs: np.ndarray, info: dict[str, np.ndarray], options: dict[str, Any] | None = None
    ) -> None:
        """Reset environments ``ids``, writing their observations and infos into ``obs`` and ``info``."""
        for group, group_options in self._trial_groups(ids, options):
            reset_obs, reset_info = self.core.reset(group, [self._rngs[i] for i in group], group_options)
            obs[group] = reset_obs
            for key, value in reset_info.items():
                info[key][group] = value
        self._episode_steps[ids] = 0

    def _trial_groups(
        self, ids: np.ndarray, options: dict[str, Any] | None
    ) -> list[tuple[np.ndarray, dict[str, Any] | None]]:
        """The envs ``ids`` in groups that start their trials with the same options: all together,
        or, with a trial schedule, one at a time with its own trial's options."""
        if self.trial_options is None:
            return [(ids, options)]
        return [(np.array([i]), {**(options or {}), **self.trial_options(int(i))}) for i in ids]

    def _with_masks(self, info: dict[str, Any]) -> dict[str, Any]:
        # Every env reports every key: all masks are one shared, read-only all-true array.
        return {**info, **{f"_{key}": self._all_true for key in list(info)}}

    def _truncated(self) -> np.ndarray:
        if self.max_episode_steps is None:
            return np.zeros(self.num_envs, dtype=bool)
        return self._episode_steps >= self.max_episode_steps

    # --------------------------------------------------------------------------------- API
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._seed(seed)
        groups = self._trial_groups(self._all, options)
        resets = [self.core.reset(group, [self._rngs[i] for i in group], opts) for group, opts in groups]
        if len(resets) == 1:
            obs, info = resets[0]
        else:
            obs = np.concatenate([o for o, _ in resets])
            info = {key: np.concatenate([i[key] for _, i in resets]) for key in resets[0][1]}
        self._episode_steps[:] = 0
        self._needs_reset[:] = False
        return obs, self._with_masks(info)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        checked = check_actions(actions, self._action_shape, self.core.action_low, self.core.action_high)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            waiting = self._needs_reset
            active = ~waiting if waiting.any() else None
            obs, reward, terminated, info = self.core.step(checked, self._rngs, active)
            self._episode_steps += 1
            truncated = self._truncated()
            if waiting.any():
                ids = np.flatnonzero(waiting)
                self._reset_envs(ids, obs, info)
                reward[ids], terminated[ids], truncated[ids] = 0.0, False, False
            self._needs_reset = terminated | truncated
            return obs, reward, terminated, truncated, self._with_masks(info)

        obs, reward, terminated, info = self.core.step(checked, self._rngs)
        self._episode_steps += 1
        truncated = self._truncated()
        ended = terminated | truncated
        if ended.any():
            ids = np.flatnonzero(ended)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in ids:
                final_obs[i] = obs[i].copy()
            final_info = {key: value.copy() for key, value in info.items()}
            final_info.update({f"_{key}": ended.copy() for key in info})
            self._reset_envs(ids, obs, info)
            info = {**info, "final_obs": final_obs, "final_info": final_info}
            masks = self._with_masks(info)
            masks["_final_obs"] = masks["_final_info"] = ended
            return obs, reward, terminated, truncated, masks
        return obs, reward, terminated, truncated, self._with_masks(info)

    def get_state(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The complete state: (arrays, the generators' states as JSON-able dicts). With
        :meth:`set_state` a run continues exactly, e.g. when training resumes from a checkpoint."""
        arrays = {
            "core": self.core.get_state(),
            "episode_steps": self._episode_steps.copy(),
            "needs_reset": self._needs_reset.copy(),
        }
        return arrays, [rng.bit_generator.state for rng in self._rngs]

    def set_state(self, arrays: dict[str, Any], rng_states: list[dict[str, Any]]) -> None:
        require("rng_states", len(rng_states), len(rng_states) == self.num_envs, f"{self.num_envs} generator states")
        for rng, rng_state in zip(self._rngs, rng_states, strict=True):
            rng.bit_generator.state = rng_state
        self.core.set_state(arrays["core"], self._rngs)
        self._episode_steps[...] = arrays["episode_steps"]
        self._needs_reset[...] = arrays["needs_reset"]

    def render(self) -> np.ndarray | None:
        """The frame of environment 0 (``render_mode="rgb_array"``)."""
        if self._frames is None:
            gym.logger.warn('render() needs gym.make_vec(..., render_mode="rgb_array")')
            return None
        return self._frames.render(0)

    def close_extras(self, **kwargs: Any) -> None:
        if self._frames is not None:
            self._frames.close()
        self.core.close()
