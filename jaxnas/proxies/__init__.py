"""Zero-cost proxies: pure functions ``(apply_fn, variables, batch, key) -> scalar``.

Each proxy is a plain function (call it directly) and a :class:`Proxy` record with its metadata
(direction, labels, reference, the network its reference scored). :data:`REGISTRY` maps names to
records for the CLI and tests.
"""

from ._az_nas import CellFeatures as CellFeatures
from ._az_nas import az_expressivity as az_expressivity
from ._az_nas import az_progressivity as az_progressivity
from ._az_nas import az_trainability as az_trainability
from ._az_nas import cell_features as cell_features
from ._base import ApplyFn as ApplyFn
from ._base import Batch as Batch
from ._base import Proxy as Proxy
from ._base import ProxyFn as ProxyFn
from ._base import SharedPass as SharedPass
from ._base import evaluate as evaluate
from ._jacobian import correlation as correlation
from ._jacobian import epe_nas as epe_nas
from ._jacobian import input_jacobians as input_jacobians
from ._jacobian import jacob_cov as jacob_cov
from ._linear_regions import count_distinct_rows as count_distinct_rows
from ._linear_regions import linear_regions as linear_regions
from ._meco import channel_correlation as channel_correlation
from ._meco import meco as meco
from ._meco import meco_opt as meco_opt
from ._ntk import hnas_cond as hnas_cond
from ._ntk import hnas_gradients as hnas_gradients
from ._ntk import hnas_ntk_matrix as hnas_ntk_matrix
from ._ntk import ntk_cond as ntk_cond
from ._ntk import ntk_matrix as ntk_matrix
from ._ntk import ntk_min_eig as ntk_min_eig
from ._ntk import ntk_spectrum as ntk_spectrum
from ._ntk import ntk_trace_norm as ntk_trace_norm
from ._ntk import per_sample_gradients as per_sample_gradients
from ._ntk import tenas_weight as tenas_weight
from ._nwot import activation_kernel as activation_kernel
from ._nwot import naswot_kernel as naswot_kernel
from ._nwot import nwot as nwot
from ._rbflex import RBFleXGammas as RBFleXGammas
from ._rbflex import hda_gamma as hda_gamma
from ._rbflex import rbf_logdet as rbf_logdet
from ._rbflex import rbflex as rbflex
from ._rbflex import rbflex_distances as rbflex_distances
from ._rbflex import rbflex_hda as rbflex_hda
from ._saliency import LossGradients as LossGradients
from ._saliency import cross_entropy as cross_entropy
from ._saliency import fisher as fisher
from ._saliency import grad_norm as grad_norm
from ._saliency import grasp as grasp
from ._saliency import l2_norm as l2_norm
from ._saliency import loss_gradients as loss_gradients
from ._saliency import plain as plain
from ._saliency import snip as snip
from ._registry import get as get
from ._registry import parse as parse
from ._size import flops as flops
from ._size import num_params as num_params
from ._swap import activation_patterns as activation_patterns
from ._swap import count_distinct_columns as count_distinct_columns
from ._swap import reg_swap as reg_swap
from ._swap import swap as swap
from ._synflow import synflow as synflow
from ._synflow import synflow_per_weight as synflow_per_weight
from ._vkdnw import num_param_tensors as num_param_tensors
from ._vkdnw import vkdnw as vkdnw
from ._vkdnw import vkdnw_fisher as vkdnw_fisher
from ._zen import zen as zen
from ._zico import split_gradients as split_gradients
from ._zico import zico as zico
from ._zico import zico_from_gradients as zico_from_gradients

from . import _registry

REGISTRY = _registry.REGISTRY
"""Every proxy by name (``"nwot"``, ``"synflow"``, ...): its :class:`Proxy` record, as the CLI's
``--proxies`` and :func:`get` look them up."""

__all__ = [
    "ApplyFn", "Batch", "CellFeatures", "LossGradients", "Proxy", "ProxyFn", "RBFleXGammas",
    "REGISTRY", "SharedPass", "activation_kernel", "activation_patterns", "az_expressivity",
    "az_progressivity", "az_trainability", "cell_features", "channel_correlation", "correlation",
    "count_distinct_columns", "count_distinct_rows", "cross_entropy", "epe_nas", "evaluate",
    "fisher", "flops", "get", "grad_norm", "grasp", "hda_gamma", "hnas_cond", "hnas_gradients",
    "hnas_ntk_matrix", "input_jacobians", "jacob_cov", "l2_norm", "linear_regions",
    "loss_gradients", "meco", "meco_opt", "naswot_kernel", "ntk_cond", "ntk_matrix", "ntk_min_eig",
    "ntk_spectrum", "ntk_trace_norm", "num_param_tensors", "num_params", "nwot", "parse",
    "per_sample_gradients", "plain", "rbf_logdet", "rbflex", "rbflex_distances", "rbflex_hda",
    "reg_swap", "snip", "split_gradients", "swap", "synflow", "synflow_per_weight", "tenas_weight",
    "vkdnw", "vkdnw_fisher", "zen", "zico", "zico_from_gradients"
]
