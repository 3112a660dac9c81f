"""Evaluation: rank correlation of proxy scores with benchmark accuracy, rank aggregation, plots."""

from ._aggregate import log_rank_aggregate as log_rank_aggregate
from ._aggregate import te_nas_aggregate as te_nas_aggregate
from ._aggregate import vkdnw_aggregate as vkdnw_aggregate
from ._aggregate import vkdnw_single as vkdnw_single

from ._correlate import Correlation as Correlation
from ._correlate import correlation_table as correlation_table
from ._correlate import oriented_scores as oriented_scores
from ._correlate import rank_correlation as rank_correlation
from ._correlate import scatter_grid as scatter_grid
from ._keyed import keyed_truth as keyed_truth

from . import _correlate

PLOT_SCALES = _correlate.PLOT_SCALES
"""x-axis scales of :func:`scatter_grid` (``jaxnas correlate --plot-scale``): 'auto', 'rank' (the
scale rho and tau see), 'log' (symmetric) and 'linear'."""

__all__ = ["Correlation", "PLOT_SCALES", "correlation_table", "keyed_truth", "log_rank_aggregate",
           "oriented_scores", "rank_correlation", "scatter_grid", "te_nas_aggregate",
           "vkdnw_aggregate", "vkdnw_single"]
