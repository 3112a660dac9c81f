"""Conventions on variable trees shared by models (which write them) and proxies (which read them).

Pure Python: no Flax, so proxies can follow the conventions without importing the models.
"""

from __future__ import annotations

#: Variables under a module whose name ends with this suffix belong to identical layers that are
#: stacked on a leading axis (Flax ``nn.scan`` over the cells of a stage): each slice along axis 0
#: is one layer for per-layer reductions (e.g. the per-layer norms of grad_norm).
STACK_SUFFIX = "_cells"


def key_name(entry) -> str:
  """The name of one path entry of ``jax.tree_util`` (dict key, attribute or index)."""
  return str(getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", entry))))


def is_stacked(path) -> bool:
  """True when the leaf at `path` carries a leading layer-stacking axis (see STACK_SUFFIX)."""
  return any(key_name(p).endswith(STACK_SUFFIX) for p in path)


def leaf_name(path) -> str:
  return key_name(path[-1])
