"""motorgym.agents: recurrent policies (LSTM/GRU actor-critics)."""
