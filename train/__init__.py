"""motorgym.train: trainers, the run directory, evaluation, rendering, analyses and the CLI.

    from motorgym.train import PPOConfig, train, evaluate

    result = train(PPOConfig(env_id="motorgym/CenterOut-v0", minutes=10, total_steps=0), "runs/center_out")
    metrics = evaluate("runs/center_out", episodes=200)

Layers, each importing only those below it (and :mod:`motorgym.agents`, :mod:`motorgym.envs`):

1. :mod:`~motorgym.train.configs` (one base for the fields every run shares, one config per kind),
   :mod:`~motorgym.train.run_dir` (what a run directory holds; new runs, strict JSON),
   :mod:`~motorgym.train.progress` (metrics log, budget, progress bar), :mod:`~motorgym.train.plots`,
   :mod:`~motorgym.train.analysis` (pure functions on arrays), :mod:`~motorgym.train.collect` (data);
2. :mod:`~motorgym.train.kinds`: the one table of run kinds (config, files, agent loader, what
   ``--init-from`` takes);
3. the trainers: :mod:`~motorgym.train.ppo`, :mod:`~motorgym.train.baselines`,
   :mod:`~motorgym.train.pretrain`, :mod:`~motorgym.train.model_based`;
4. what reads runs: :mod:`~motorgym.train.evaluate`, :mod:`~motorgym.train.analyze`,
   :mod:`~motorgym.train.render`; :mod:`~motorgym.train.trainers` (the trainer of each config of
   ``motorgym train``);
5. :mod:`~motorgym.train.sweep` (many runs on Ray Tune) and :mod:`~motorgym.train.cli`, the
   ``motorgym`` command.
"""

from motorgym.train.configs import ModelBasedConfig, PPOConfig, PretrainConfig, SB3Config
from motorgym.train.evaluate import evaluate
from motorgym.train.ppo import train
from motorgym.train.progress import TrainResult

__all__ = ["ModelBasedConfig", "PPOConfig", "PretrainConfig", "SB3Config", "TrainResult", "evaluate", "train"]
