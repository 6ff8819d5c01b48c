"""motorgym: train recurrent neural networks to control a MuJoCo model of the human arm.

``import motorgym`` registers the Gymnasium ids ``motorgym/Reach``, ``motorgym/MuscleReach``,
``motorgym/CenterOut`` and ``motorgym/MuscleCenterOut``, each as ``-v0`` and ``-v1`` (human-like costs
and reaction time); ``motorgym.envs.ENV_IDS`` lists them.
"""

__version__ = "0.1.0"

from motorgym.envs import register_envs  # noqa: E402

register_envs()
