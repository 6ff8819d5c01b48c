"""motorgym: train recurrent neural networks to control a MuJoCo model of the human arm.

``import motorgym`` registers the Gymnasium ids ``motorgym/Reach-v0``, ``motorgym/MuscleReach-v0``,
``motorgym/CenterOut-v0`` and ``motorgym/MuscleCenterOut-v0``.
"""

__version__ = "0.1.0"

from motorgym.envs import register_envs  # noqa: E402

register_envs()
