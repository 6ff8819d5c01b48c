"""Stable-Baselines3 adapter: a native motorgym vector env as an SB3 ``VecEnv``.

    from motorgym.envs.sb3 import make_sb3_vec_env
    from stable_baselines3 import PPO

    venv = make_sb3_vec_env("motorgym/CenterOut-v0", num_envs=16, seed=0)
    PPO("MlpPolicy", venv).learn(100_000)

SB3 resets an env in the step that ends its episode: the adapter runs the vector env with
``AutoresetMode.SAME_STEP`` and puts the last observation of an ended episode in
``info["terminal_observation"]``, ``info["TimeLimit.truncated"]`` when it ended by the time limit
alone, and ``info["is_success"]`` (SB3's success key) with the rest of the episode's final info.
The environments share one batched core: ``get_attr``, ``set_attr`` and ``env_method`` act on the
vector env itself, the same for every index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from motorgym.envs.batched import env_info
from motorgym.envs.vector import ArmTaskVectorEnv


class SB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` view of an :class:`~motorgym.envs.vector.ArmTaskVectorEnv` in SAME_STEP mode."""

    def __init__(self, vector_env: ArmTaskVectorEnv) -> None:
        if not isinstance(vector_env, ArmTaskVectorEnv):
            raise TypeError(f"vector_env must be a motorgym native vector env (got {type(vector_env).__name__})")
        if vector_env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError("vector_env must use autoreset_mode=AutoresetMode.SAME_STEP, as SB3 expects")
        self.vector_env = vector_env
        self._actions: np.ndarray | None = None
        super().__init__(vector_env.num_envs, vector_env.single_observation_space, vector_env.single_action_space)

    def reset(self) -> np.ndarray:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options[0] if self._options else {}
        if any(o != options for o in self._options):
            raise ValueError("set_options: all environments of a motorgym vector env take the same reset options")
        obs, info = self.vector_env.reset(seed=seeds, options=options or None)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [env_info(info, i) for i in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must come before step_wait"
        obs, reward, terminated, truncated, info = self.vector_env.step(self._actions)
        infos = [env_info(info, i) for i in range(self.num_envs)]
        for i in np.flatnonzero(terminated | truncated):
            infos[i] = env_info(info["final_info"], i)
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["is_success"] = bool(infos[i]["success"])
        for i, one_info in enumerate(infos):  # as SB3's own VecEnvs report it, on every step
            one_info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, reward.astype(np.float32), terminated | truncated, infos

    def close(self) -> None:
        self.vector_env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """The frame of environment 0 (the vector env renders its first environment)."""
        return [self.vector_env.render()]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.vector_env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.vector_env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        result = getattr(self.vector_env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def make_sb3_vec_env(env_id: str, num_envs: int, seed: int | None = None, **kwargs: Any) -> SB3VecEnv:
    """Make ``env_id``'s native vector env as an SB3 ``VecEnv`` (kwargs go to the env)."""
    vector_env = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        **kwargs,
    )
    venv = SB3VecEnv(vector_env)
    if seed is not None:
        venv.seed(seed)
    return venv
