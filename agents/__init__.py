"""motorgym.agents: what acts in the envs.

- :mod:`~motorgym.agents.agent`: the :class:`Agent` protocol and the recurrent policy as an agent;
- :mod:`~motorgym.agents.rollout`: run any agent in a task and record its episodes;
- :mod:`~motorgym.agents.recurrent`: the LSTM/GRU actor-critic and the recurrent core it shares;
- :mod:`~motorgym.agents.sb3`: Stable-Baselines3 policies as agents, loaded safely;
- :mod:`~motorgym.agents.predictor` and :mod:`~motorgym.agents.learned_arm`: the networks of the
  two pretrainings (a trajectory predictor, a learned model of the arm);
- :mod:`~motorgym.agents.scripted`: the scripted (oracle) reaching controller;
- :mod:`~motorgym.agents.checkpoint`: safe, atomic files of tensors and JSON.

Agents import the envs, never the trainers (:mod:`motorgym.train`).
"""
