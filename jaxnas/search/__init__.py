"""Search: pure strategies (``init`` / ``ask`` / ``tell`` over a state pytree), fitness sources
(score tables, the training-based query, live scoring) and a driver. Never imports Flax.

Example:
  >>> import jax
  >>> from jaxnas import search, spaces
  >>> strategy = search.regularized_evolution(spaces.nb201, population_size=10, sample_size=3)
  >>> state = strategy.init(jax.random.key(0))
  >>> encodings, state = strategy.ask(jax.random.key(1), state)
"""

from ._base import Strategy as Strategy
from ._base import finite_or_worst as finite_or_worst
from ._bo import acquisition as acquisition
from ._bo import maximise_acquisition as maximise_acquisition
from ._experiment import build_strategy as build_strategy
from ._experiment import fitness_for as fitness_for
from ._experiment import mean_rank as mean_rank
from ._experiment import pareto_report as pareto_report
from ._experiment import pdns_objectives as pdns_objectives
from ._experiment import report as report
from ._gp import GPPosterior as GPPosterior
from ._gp import fit_lengthscale as fit_lengthscale
from ._gp import gp_fit as gp_fit
from ._gp import gp_predict as gp_predict
from ._gp import log_marginal_likelihood as log_marginal_likelihood
from ._gp import matern52 as matern52
from ._hnas import HNASState as HNASState
from ._hnas import hnas as hnas
from ._pareto import dominance_matrix as dominance_matrix
from ._pareto import dominates as dominates
from ._pareto import hypervolume_2d as hypervolume_2d
from ._pareto import igd as igd
from ._pareto import igd_plus as igd_plus
from ._pareto import non_dominated as non_dominated
from ._pareto import non_dominated_sort as non_dominated_sort
from ._pdns import PDNSState as PDNSState
from ._pdns import front_indicators as front_indicators
from ._pdns import mtf_pdns as mtf_pdns
from ._pdns import pdns_archive as pdns_archive
from ._robot import RoBoTState as RoBoTState
from ._robot import minmax_columns as minmax_columns
from ._robot import robot as robot
from ._run import FitnessSource as FitnessSource
from ._run import SearchResult as SearchResult
from ._run import best_so_far as best_so_far
from ._run import live_fitness as live_fitness
from ._run import run as run
from ._run import run_jit as run_jit
from ._run import table_fitness as table_fitness
from ._space import TraceableSpace as TraceableSpace
from ._space import traceable as traceable
from ._strategies import EvolutionState as EvolutionState
from ._strategies import RandomState as RandomState
from ._strategies import naswot as naswot
from ._strategies import RankedState as RankedState
from ._strategies import random_search as random_search
from ._strategies import ranked_queries as ranked_queries
from ._strategies import regularized_evolution as regularized_evolution

from . import _experiment, _hnas, _pdns, _robot, _strategies

STRATEGIES = _experiment.STRATEGIES
"""Every strategy name of ``jaxnas search``, with the proxy columns it reads by default (its
reference's) and the kind of fitness it spends ('query' strategies spend the query budget)."""
HNAS_PROXIES = _hnas.HNAS_PROXIES
"""The proxies HNAS's criterion reads: the NTK trace norm and condition number."""
PDNS_OBJECTIVES = _pdns.PDNS_OBJECTIVES
"""MTF-PDNS's objectives on NB201: synflow, jacob_cov and snip maximised, FLOPs minimised."""
ROBOT_PROXIES = _robot.ROBOT_PROXIES
"""RoBoT's default proxies (its ``--training_free_metrics``), in its order."""
swap_nas = _strategies.swap_nas
"""SWAP-NAS evolution (Peng et al., ICLR 2024): :func:`regularized_evolution` whose fitness is a
proxy (``reg_swap`` by default), no query. pym1024/SWAP publishes no search code, so the settings
are regularized_evolution's (P=10, S=3) with 1,000 proxy evaluations by default."""

__all__ = [
    "EvolutionState", "FitnessSource", "GPPosterior", "HNASState", "HNAS_PROXIES", "PDNSState",
    "PDNS_OBJECTIVES", "ROBOT_PROXIES", "RandomState", "RankedState", "RoBoTState",
    "STRATEGIES", "SearchResult", "Strategy", "TraceableSpace", "acquisition", "best_so_far",
    "build_strategy", "dominance_matrix", "dominates", "finite_or_worst", "fit_lengthscale",
    "fitness_for", "front_indicators", "gp_fit", "gp_predict", "hnas", "hypervolume_2d", "igd",
    "igd_plus", "live_fitness", "log_marginal_likelihood", "matern52", "maximise_acquisition",
    "mean_rank", "minmax_columns", "mtf_pdns", "naswot", "non_dominated", "non_dominated_sort",
    "pareto_report", "pdns_archive", "pdns_objectives", "random_search", "ranked_queries",
    "regularized_evolution", "report", "robot", "run", "run_jit", "swap_nas", "table_fitness",
    "traceable",
]
