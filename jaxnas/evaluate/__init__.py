"""Evaluation: rank correlation of proxy scores with benchmark accuracy, and plots."""

from ._correlate import Correlation as Correlation
from ._correlate import correlation_table as correlation_table
from ._correlate import oriented_scores as oriented_scores
from ._correlate import rank_correlation as rank_correlation
from ._correlate import scatter_grid as scatter_grid

__all__ = ["Correlation", "correlation_table", "oriented_scores", "rank_correlation", "scatter_grid"]
