"""motorgym.envs: the MuJoCo arm, its tasks, and their Gymnasium environments."""

from motorgym.envs.gl import select_headless_gl

select_headless_gl()  # before anything imports mujoco

from motorgym.envs.registration import ENV_IDS, register_envs  # noqa: E402
from motorgym.envs.task import Phase  # noqa: E402
from motorgym.envs.tasks.center_out import CenterOutConfig, CenterOutEnv, MuscleCenterOutEnv  # noqa: E402
from motorgym.envs.tasks.reach import MuscleReachEnv, ReachConfig, ReachEnv  # noqa: E402

__all__ = [
    "ENV_IDS",
    "CenterOutConfig",
    "CenterOutEnv",
    "MuscleCenterOutEnv",
    "MuscleReachEnv",
    "Phase",
    "ReachConfig",
    "ReachEnv",
    "register_envs",
]
