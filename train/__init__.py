"""motorgym.train: training, evaluation, rendering and analysis."""
