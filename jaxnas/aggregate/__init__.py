"""Differentiable proxy aggregation in pure JAX: rank transforms, training-free aggregators,
learned aggregators with an optax fit loop, and rank losses.

Every function is jit/vmap/grad-able where that makes sense; ranks run 1 = worst .. P = best and
every non-finite score ranks worst (:func:`oriented`, the one place of that policy).
"""

from ._baselines import random_forest as random_forest
from ._features import nb201_cell_features as nb201_cell_features
from ._learned import FitResult as FitResult
from ._learned import Model as Model
from ._learned import fit as fit
from ._learned import linear as linear
from ._learned import mlp as mlp
from ._learned import tune as tune
from ._losses import diff_kendall as diff_kendall
from ._losses import kendall_tau as kendall_tau
from ._losses import list_mle as list_mle
from ._losses import pairwise_logistic as pairwise_logistic
from ._losses import soft_spearman as soft_spearman
from ._losses import spearman_rho as spearman_rho
from ._ranks import dense_rank as dense_rank
from ._ranks import normalised_ranks as normalised_ranks
from ._ranks import oriented as oriented
from ._ranks import rank as rank
from ._ranks import soft_rank as soft_rank
from ._ranks import soft_sort as soft_sort
from ._table import Aggregate as Aggregate
from ._table import Method as Method
from ._table import ScoreTable as ScoreTable
from ._table import aggregate_table as aggregate_table
from ._table import default_fit as default_fit
from ._table import directions as directions
from ._table import ensemble_scores as ensemble_scores
from ._table import draw_labelled as draw_labelled
from ._table import method_features as method_features
from ._table import read_scores as read_scores
from ._training_free import geometric_mean as geometric_mean
from ._training_free import log_rank as log_rank
from ._training_free import rank_mean as rank_mean
from ._training_free import te_nas as te_nas
from ._training_free import vkdnw_agg as vkdnw_agg
from ._training_free import vkdnw_single as vkdnw_single

from . import _features, _table

ENSEMBLE_MEMBERS = _table.ENSEMBLE_MEMBERS
"""Independently fitted MLPs the ``mlp_ensemble`` method averages."""
METHODS = _table.METHODS
"""Every aggregation method of ``jaxnas aggregate`` by name (:class:`Method` records)."""
NB201_FEATURES = _features.NB201_FEATURES
"""Names of the columns :func:`nb201_cell_features` returns, in order (GRAF-style op counts and
path statistics of an NB201 cell)."""

__all__ = [
    "ENSEMBLE_MEMBERS", "METHODS", "NB201_FEATURES", "Aggregate", "FitResult", "Method", "Model",
    "ScoreTable", "aggregate_table", "default_fit", "dense_rank", "diff_kendall", "directions",
    "draw_labelled", "ensemble_scores", "fit", "geometric_mean", "kendall_tau", "linear",
    "list_mle", "log_rank", "method_features", "mlp", "nb201_cell_features", "normalised_ranks",
    "oriented", "pairwise_logistic", "random_forest", "rank", "rank_mean", "read_scores",
    "soft_rank", "soft_sort", "soft_spearman", "spearman_rho", "te_nas", "tune", "vkdnw_agg",
    "vkdnw_single",
]
