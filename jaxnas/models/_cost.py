"""Network cost counts (parameters, multiply-accumulates) of the NB201 / NATS macro skeleton.

Pure Python/NumPy like :mod:`jaxnas.spaces`, but about networks, so it lives with them: the spaces'
``num_params`` / ``flops`` and :class:`jaxnas.models.Network`'s counts call it.
"""

from __future__ import annotations

from typing import Sequence

from jaxnas.spaces._nb201 import AVG_POOL, CONV1X1, CONV3X3, EDGES, SKIP


def _conv_cost(cin: int, cout: int, k: int, hw: int, bias: bool, bn_affine: bool) -> tuple[int, int]:
  params = k * k * cin * cout + (cout if bias else 0) + (2 * cout if bn_affine else 0)
  return params, hw * cout * (k * k * cin + (1 if bias else 0))


def cell_cost(ops, cin: int, cout: int, hw: int, variant: str = "xautodl") -> tuple[int, int]:
  """(params, MACs per image) of one NB201 cell mapping `cin` to `cout` channels.

  Width changes follow xautodl's ``InferCell``: edges out of node 0 map cin -> cout (skip becomes a
  stride-1 FactorizedReduce, conv1x1 + BN; pooling gets a ReLU-conv1x1-BN first).
  """
  zc = variant == "zero_cost_nas"
  params = macs = 0
  for (_, source), op in zip(EDGES, ops):
    ci = cin if source == 0 else cout
    k = {CONV1X1: 1, CONV3X3: 3}.get(int(op))
    if k is not None:
      p, m = _conv_cost(ci, cout, k, hw, bias=zc, bn_affine=not zc)
    elif int(op) in (SKIP, AVG_POOL) and ci != cout:
      p, m = _conv_cost(ci, cout, 1, hw, bias=False, bn_affine=True)
    else:
      p = m = 0
    params += p
    macs += m
  return params, macs


def macro_cost(enc, widths: Sequence[int], num_classes: int, image_size: int,
               variant: str) -> tuple[int, int]:
  """(params, MACs) of the NB201/NATS macro skeleton; `widths` lists every cell/resblock output.

  Stages are separated by the ResNet blocks at positions len(widths)//3 and 2*len(widths)//3.
  """
  n = len(widths) // 3
  reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
  hw = image_size * image_size
  params, macs = _conv_cost(3, widths[0], 3, hw, bias=False, bn_affine=True)
  prev = widths[0]
  for width, red in zip(widths, reductions):
    if red:
      hw //= 4
      for p, m in (_conv_cost(prev, width, 3, hw, False, True), _conv_cost(width, width, 3, hw, False, True),
                   _conv_cost(prev, width, 1, hw, False, False)):
        params, macs = params + p, macs + m
    else:
      p, m = cell_cost(enc, prev, width, hw, variant)
      params, macs = params + p, macs + m
    prev = width
  params += 2 * prev + prev * num_classes + num_classes
  macs += prev * num_classes + num_classes
  return int(params), int(macs)
