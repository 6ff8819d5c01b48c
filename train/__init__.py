"""motorgym.train: training, evaluation and rendering.

from motorgym.train import PPOConfig, train, evaluate

result = train(PPOConfig(env_id="motorgym/CenterOut-v0", minutes=10), "runs/center_out")
metrics = evaluate("runs/center_out", episodes=200)
"""

from motorgym.train.evaluate import evaluate
from motorgym.train.ppo import PPOConfig, TrainResult, train

__all__ = ["PPOConfig", "TrainResult", "evaluate", "train"]
