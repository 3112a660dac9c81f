"""Name -> Proxy table for the CLI, config files and the conformance tests.

Written out by hand from the imported proxies: nothing is registered by import side effects.
"""

from __future__ import annotations

import difflib

from ._az_nas import az_expressivity_proxy, az_progressivity_proxy, az_trainability_proxy
from ._base import Proxy
from ._jacobian import epe_nas_proxy, jacob_cov_proxy
from ._linear_regions import linear_regions_proxy
from ._meco import meco_opt_proxy, meco_proxy
from ._ntk import hnas_cond_proxy, ntk_cond_proxy, ntk_min_eig_proxy, ntk_trace_norm_proxy
from ._nwot import nwot_proxy
from ._rbflex import rbflex_proxy
from ._saliency import (
    fisher_proxy,
    grad_norm_proxy,
    grasp_proxy,
    l2_norm_proxy,
    plain_proxy,
    snip_proxy,
)
from ._size import flops_proxy, params
from ._swap import reg_swap_proxy, swap_proxy
from ._synflow import synflow_proxy
from ._vkdnw import vkdnw_dim_proxy, vkdnw_proxy
from ._zen import zen_proxy
from ._zico import zico_proxy

REGISTRY: dict[str, Proxy] = {
    "params": params,
    "flops": flops_proxy,
    "l2_norm": l2_norm_proxy,
    "grad_norm": grad_norm_proxy,
    "snip": snip_proxy,
    "grasp": grasp_proxy,
    "fisher": fisher_proxy,
    "plain": plain_proxy,
    "synflow": synflow_proxy,
    "jacob_cov": jacob_cov_proxy,
    "epe_nas": epe_nas_proxy,
    "nwot": nwot_proxy,
    "ntk_cond": ntk_cond_proxy,
    "ntk_min_eig": ntk_min_eig_proxy,
    "ntk_trace_norm": ntk_trace_norm_proxy,
    "hnas_cond": hnas_cond_proxy,
    "linear_regions": linear_regions_proxy,
    "zico": zico_proxy,
    "meco": meco_proxy,
    "meco_opt": meco_opt_proxy,
    "swap": swap_proxy,
    "reg_swap": reg_swap_proxy,
    "rbflex": rbflex_proxy,
    "az_expressivity": az_expressivity_proxy,
    "az_progressivity": az_progressivity_proxy,
    "az_trainability": az_trainability_proxy,
    "zen": zen_proxy,
    "vkdnw": vkdnw_proxy,
    "vkdnw_dim": vkdnw_dim_proxy,
}


def get(name: str) -> Proxy:
  """The proxy registered as `name`; ValueError listing valid names (with a suggestion)."""
  if not isinstance(name, str):
    raise TypeError(f"Proxy name must be a string, got {type(name).__name__}.")
  try:
    return REGISTRY[name]
  except KeyError:
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown proxy {name!r}; valid: {', '.join(REGISTRY)}.{hint}") from None


def parse(names: str) -> list[Proxy]:
  """Comma-separated names -> proxies (duplicates rejected)."""
  items = [n.strip() for n in names.split(",") if n.strip()]
  if not items:
    raise ValueError("`--proxies` is empty; valid: " + ", ".join(REGISTRY) + ".")
  if len(set(items)) != len(items):
    raise ValueError(f"`--proxies` lists a proxy twice: {names!r}.")
  return [get(n) for n in items]
