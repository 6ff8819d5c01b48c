"""motorgym.envs: the MuJoCo arm, its tasks, and their Gymnasium environments."""

from motorgym.envs.gl import select_headless_gl

select_headless_gl()  # before anything imports mujoco

from motorgym.envs.config import EnvConfig, HumanLikeConfig, HumanLikeV2Config, HumanLikeV3Config  # noqa: E402
from motorgym.envs.registration import ENV_IDS, register_envs  # noqa: E402
from motorgym.envs.task import Phase  # noqa: E402
from motorgym.envs.tasks.center_out import (  # noqa: E402
    CenterOutConfig,
    CenterOutEnv,
    CenterOutV1Config,
    CenterOutV1Env,
    CenterOutV2Config,
    CenterOutV2Env,
    MuscleCenterOutEnv,
    MuscleCenterOutV1Env,
    MuscleCenterOutV2Env,
)
from motorgym.envs.tasks.reach import (  # noqa: E402
    MuscleReachEnv,
    MuscleReachV1Env,
    MuscleReachV2Env,
    ReachConfig,
    ReachEnv,
    ReachV1Config,
    ReachV1Env,
    ReachV2Config,
    ReachV2Env,
)

__all__ = [
    "ENV_IDS",
    "CenterOutConfig",
    "CenterOutEnv",
    "CenterOutV1Config",
    "CenterOutV1Env",
    "CenterOutV2Config",
    "CenterOutV2Env",
    "EnvConfig",
    "HumanLikeConfig",
    "HumanLikeV2Config",
    "HumanLikeV3Config",
    "MuscleCenterOutEnv",
    "MuscleCenterOutV1Env",
    "MuscleCenterOutV2Env",
    "MuscleReachEnv",
    "MuscleReachV1Env",
    "MuscleReachV2Env",
    "Phase",
    "ReachConfig",
    "ReachEnv",
    "ReachV1Config",
    "ReachV1Env",
    "ReachV2Config",
    "ReachV2Env",
    "register_envs",
]
