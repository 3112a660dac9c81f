"""The op-switch supernet of the darts space: one compiled program for every DARTS cell pair.

DARTS's one-shot model (Liu et al. 2019) in the layout of the exact network
(:mod:`jaxnas.models._darts`, NASLib's nasbench301 graph or DARTS's NetworkCIFAR): the macro
network (stem, preprocessing, reductions, classifier) is the exact one, and each of the 8
``(input, op)`` slots of every cell holds the parameters of all 7 candidate ops. The (32,) encoding
arrives traced: a slot reads its input state with a dynamic index into the stack of the states
available to it (s0 and s1 after preprocessing, earlier intermediate nodes), and runs its op with
``lax.switch``, so under ``lax.map`` only the chosen op runs. In a reduction cell the inputs s0/s1
(full resolution, stride-2 ops, ``skip_connect`` = FactorizedReduce) and the intermediate nodes
(half resolution, stride 1, ``skip_connect`` = identity) have different shapes, so such a slot
switches over 14 branches: (op, whether its input is a cell input).

Variables: the exact network's name with the op inserted (``n01_cell_p2_op0_o3_s0_dw`` holds
``sep_conv_3x3``'s ``n01_cell_p2_op0_s0_dw``), same shapes. :meth:`DartsSupernet.init` draws every
op's variables with the exact network's name (the init keys each leaf by its name), so a member's
variables equal its exact network's ``init`` bit for bit whatever the member; :func:`embed` places
any exact network's variables in supernet variables and :func:`restrict` cuts a member's
variables (or gradients) back out. Logits, ReLU inputs and gradients equal the exact network's
(float64 tests: ``tests/models/test_darts_supernet.py``); unselected ops get exactly zero gradient.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.protocol import Capability, declare
from jaxnas.spaces import _darts as space
from jaxnas.spaces._darts import AVG_POOL, DIL3, DIL5, MAX_POOL, OPS, SEP3, SEP5, SKIP

from ._darts import NB201_VARIANTS, _avg_pool, _max_pool, _run_conv
from ._init import init_variables, variable_shapes
from ._layers import Activation, BNDecl, ConvDecl, DenseDecl, apply_delta, apply_gate, batch_norm, \
    read_stats, write_stats
from ._network import Network

_CAPTURES = (False, True, "relu")
_OP_NAME = re.compile(r"^(n\d\d_cell_p\d_op(\d))_o(\d)_")

#: Proxies whose value the op-switch supernet cannot reproduce, with the reason; the population
#: engine scores them with exact networks (``score_exact``).
EXACT_ONLY: Mapping[str, str] = {
    "meco": "reads module outputs (capture='outputs'), which the supernet does not capture",
    "meco_opt": "as meco: module outputs (capture='outputs')",
    "zen": "reads module outputs and BN running variances (capture='outputs')",
    "rbflex": "reads module outputs (capture='outputs') and the head activation (darts networks "
              "have none)",
    "az_expressivity": "reads cell feature maps (capture='cells')",
    "az_progressivity": "as az_expressivity: cell feature maps (capture='cells')",
    "az_trainability": "needs cell-input probes and cell feature maps",
    "vkdnw": "reads the first weight tensors in the reference's parameter order, which the "
             "supernet's 7 ops per slot do not have",
    "vkdnw_dim": "as vkdnw: the reference's parameter order",
}


def _pairs(arch, cell: int):
  """(inputs (8,), ops (8,)) of cell 0 (normal) or 1 (reduce) of a (32,) encoding."""
  block = arch[cell * 2 * space.PAIRS:(cell + 1) * 2 * space.PAIRS]
  return block[0::2], block[1::2]


def _op_suffixes(op: int, red: bool, naslib: bool) -> dict:
  """Variable suffix -> ('conv', cin, cout, k) or ('bn', affine) of op `op` in a cell."""
  affine = not naslib
  if op in (MAX_POOL, AVG_POOL):
    return {"s0_bn": ("bn", False)} if naslib else {}
  if op == SKIP:
    return {"s0_conv1": ("conv", None, 0, 1), "s1_conv2": ("conv", None, 0, 1),
            "s2_bn": ("bn", affine)} if red else {}
  k = 3 if op in (SEP3, DIL3) else 5
  half = {"s0_dw": ("conv", 1, None, k), "s1_pw": ("conv", None, None, 1), "s2_bn": ("bn", affine)}
  if op in (SEP3, SEP5):
    half.update({"s3_dw": ("conv", 1, None, k), "s4_pw": ("conv", None, None, 1),
                 "s5_bn": ("bn", affine)})
  return half


def _op_apply(op: int, P: dict, S: dict, x, stride: int, c: int, train: bool):
  """The exact network's op `op` (``DartsNetwork._op``) on declared params `P` (suffix -> conv
  dict or BN affine params) and running stats `S`: (output, updated stats, SepConv's inner ReLU
  input or zeros)."""
  S = dict(S)

  def bn(z, suf):
    if suf not in P:  # batch_norm=False, or DARTS's pools
      return z
    y, new = batch_norm(z, P[suf], S.get(suf), train=train)
    if new is not None:
      S[suf] = new
    return y

  def half(x, k, stride, dil, i):
    pad = dil * (k - 1) // 2
    r = jax.nn.relu(x)
    d = _run_conv(P[f"s{i}_dw"], r, stride=stride, padding=pad, dilation=dil, groups=c)
    z = _run_conv(P[f"s{i + 1}_pw"], d)
    return bn(z, f"s{i + 2}_bn")

  if op in (MAX_POOL, AVG_POOL):
    y = bn((_max_pool if op == MAX_POOL else _avg_pool)(x, stride), "s0_bn")
    return y, S, jnp.zeros_like(y)
  if op == SKIP:
    if stride == 1:
      return x, S, jnp.zeros_like(x)
    r = jax.nn.relu(x)
    a = _run_conv(P["s0_conv1"], r, stride=2)
    b = _run_conv(P["s1_conv2"], r[:, 1:, 1:, :], stride=2)
    y = bn(jnp.concatenate([a, b], axis=-1), "s2_bn")
    return y, S, jnp.zeros_like(y)
  k = 3 if op in (SEP3, DIL3) else 5
  if op in (SEP3, SEP5):
    inner = half(x, k, stride, 1, 0)
    return half(inner, k, 1, 1, 3), S, inner
  y = half(x, k, stride, 2, 0)
  return y, S, jnp.zeros_like(y)


class DartsSuperModule(nn.Module):
  """Flax module of :class:`DartsSupernet`: ``apply(variables, x, arch, train=..., capture=...)``
  with `arch` the (32,) int darts encoding (traced or not). Options as
  :class:`jaxnas.models.DartsNetwork` (without ``cells``)."""

  C: int = 32
  layers: int = 8
  num_classes: int = 10
  variant: str = "naslib"
  batch_norm: bool = True
  dtype: Any = jnp.float32

  def _check(self):
    space.check_variant(self.variant)
    if int(self.C) < 2 or int(self.C) % 2:
      raise ValueError(f"`C` must be an even integer >= 2 (FactorizedReduce halves it), got {self.C}.")
    if int(self.layers) < 3:
      raise ValueError(f"`layers` must be >= 3 (two reduction cells and a normal one), got {self.layers}.")
    if int(self.num_classes) < 1:
      raise ValueError(f"`num_classes` must be >= 1, got {self.num_classes}.")

  def _bn(self, x, c, affine, name, train):
    if not self.batch_norm:
      return x
    bp, bs = BNDecl(c, affine, True, self.dtype, name=name)()
    y, new = batch_norm(x, bp, read_stats(bs), train=train)
    write_stats(self, bs, new)
    return y

  def _pre(self, x, cin, cout, name, reduce_, train):
    """ReLUConvBN(cin, cout, 1) or FactorizedReduce(cin, cout) (affine BN) of a cell input."""
    batch = x.shape[0]
    r = jax.nn.relu(x)
    if reduce_:
      p1 = ConvDecl(cin, cout // 2, 1, False, self.dtype, name=f"{name}_s0_conv1")(batch)
      p2 = ConvDecl(cin, cout // 2, 1, False, self.dtype, name=f"{name}_s1_conv2")(batch)
      z = jnp.concatenate([_run_conv(p1, r, stride=2), _run_conv(p2, r[:, 1:, 1:, :], stride=2)], -1)
      return self._bn(z, cout, True, f"{name}_s2_bn", train)
    p = ConvDecl(cin, cout, 1, False, self.dtype, name=f"{name}_s0_conv")(batch)
    return self._bn(_run_conv(p, r), cout, True, f"{name}_s1_bn", train)

  def _declare(self, op, c, red, name, batch):
    """Params (suffix -> conv dict / BN affine) and stats variables (suffix -> vars) of one op."""
    P, V = {}, {}
    for suf, spec in _op_suffixes(op, red, self.variant == "naslib").items():
      if spec[0] == "conv":
        _, cin, cout, k = spec
        cin = c if cin is None else cin
        cout = c if cout is None else (c // 2 if cout == 0 else cout)
        P[suf] = ConvDecl(cin, cout, k, False, self.dtype, name=f"{name}_{suf}")(batch)
      elif self.batch_norm:
        bp, bs = BNDecl(c, spec[1], True, self.dtype, name=f"{name}_{suf}")()
        P[suf], V[suf] = bp, bs
    return P, V

  def _slot(self, name, j, red, c, inp, op, states, train):
    """Slot j of a cell: (output, SepConv inner ReLU input) of op `op` on state `inp` (traced)."""
    m = j // 2
    batch = states[0].shape[0]
    decl = [self._declare(k, c, red, f"{name}_p{2 + j}_op{j}_o{k}", batch) for k in range(len(OPS))]
    stats = [{s: read_stats(v) for s, v in V.items()} for _, V in decl]

    def branch(k, stride, which):
      def run(a, b):
        y, new, inner = _op_apply(k, decl[k][0], stats[k], (a, b)[which], stride, c, train)
        return y, [new if i == k else s for i, s in enumerate(stats)], inner
      return run

    if red:  # s0/s1 at full resolution (stride 2), intermediate nodes at half (stride 1)
      a = jnp.stack(states[:2])[jnp.minimum(inp, 1)]
      branches = [branch(k, 2, 0) for k in range(len(OPS))]
      if m:
        b = jnp.stack(states[2:2 + m])[jnp.clip(inp - 2, 0, m - 1)]
        branches += [branch(k, 1, 1) for k in range(len(OPS))]
        index = op + len(OPS) * (inp >= 2).astype(op.dtype)
      else:
        b, index = a, op
    else:
      a = b = jnp.stack(states[:2 + m])[inp]
      branches = [branch(k, 1, 0) for k in range(len(OPS))]
      index = op
    y, new, inner = jax.lax.switch(index, branches, a, b)
    for (_, V), s in zip(decl, new):
      for suf, v in V.items():
        write_stats(self, v, s[suf])
    return y, inner

  def _cell(self, s0, s1, c_pp, c_p, c, red, red_prev, inputs, ops, name, train, acts):
    s0 = self._pre(s0, c_pp, c, f"{name}_p0_pre0", red_prev, train)
    s1 = self._pre(s1, c_p, c, f"{name}_p1_pre1", False, train)
    states = [s0, s1]
    for node in range(space.NODES):
      total = None
      for m in range(2):
        j = 2 * node + m
        h, inner = self._slot(name, j, red, c, inputs[j], ops[j], states, train)
        acts.append(Activation(inner, ((ops[j] == SEP3) | (ops[j] == SEP5)).astype(jnp.int32), False))
        total = h if total is None else total + h
      states.append(total)
    conv_op = (ops == SEP3) | (ops == SEP5) | (ops == DIL3) | (ops == DIL5)
    for n in range(2 + space.NODES):
      reads = conv_op | ((ops == SKIP) & (n < 2) & red)
      acts.append(Activation(states[n], jnp.sum((inputs == n) & reads).astype(jnp.int32), False))
    return jnp.concatenate(states[2:], axis=-1)

  @nn.compact
  def __call__(self, x, arch, *, train: bool = True, capture=False):
    """Logits of member `arch` on images `x` (N, H, W, 3); ``capture=True`` / ``"relu"``: also
    every ReLU input (weight 0 where the member has no such ReLU)."""
    self._check()
    if capture not in _CAPTURES:
      raise ValueError(f"The darts supernet captures ReLU inputs only (`capture` in {_CAPTURES}), "
                       f"got {capture!r}; use the exact network (jaxnas.models.darts_network).")
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"`x` must be NHWC images with 3 channels, got shape {x.shape}.")
    arch = jnp.asarray(arch)
    if arch.shape != (space.ENCODING_LENGTH,) or not jnp.issubdtype(arch.dtype, jnp.integer):
      raise ValueError(f"`arch` must be a ({space.ENCODING_LENGTH},) integer darts encoding, got "
                       f"{arch.shape} {arch.dtype}.")
    arch = arch.astype(jnp.int32)
    acts: list = []
    stem_c = 3 * self.C
    p = ConvDecl(3, stem_c, 3, False, self.dtype, name="n00_stem_s0_conv")(x.shape[0])
    h = self._bn(_run_conv(p, x, padding=1), stem_c, True, "n00_stem_s1_bn", train)
    layout = space.macro_layout(self.C, self.layers)
    s0 = s1 = h
    outputs = [h]
    for i, (c_pp, c_p, c, red, red_prev) in enumerate(layout):
      inputs, ops = _pairs(arch, 1 if red else 0)
      new = self._cell(s0, s1, c_pp, c_p, c, red, red_prev, inputs, ops, f"n{i + 1:02d}_cell",
                       train, acts)
      outputs.append(new)
      s0, s1 = s1, new
    for t, out in enumerate(outputs):  # as DartsNetwork: ReLUs reading cell outputs
      wrapped = unwrapped = 0
      for k, (_, _, _, _, red_prev) in enumerate(layout):
        if k == t:
          wrapped += 2 if t == 0 else 1
        elif k == t + 1:
          if red_prev:
            unwrapped += 1
          else:
            wrapped += 1
      for weight, wrap in ((wrapped, True), (unwrapped, False)):
        if weight:
          acts.append(Activation(out, jnp.asarray(weight, jnp.int32), wrap))
    feats = jnp.mean(s1, axis=(1, 2))
    dense = DenseDecl(4 * layout[-1][2], self.num_classes, self.dtype, name="n99_classifier")(
        x.shape[0])
    logits = feats @ dense["kernel"].astype(feats.dtype) + dense["bias"].astype(feats.dtype)
    logits = apply_gate(apply_delta(logits, feats, dense), dense)
    if capture:
      return logits, tuple(acts)
    return logits


def exact_name(name: str) -> str:
  """The exact network's name of a supernet variable (``..._op0_o3_s0_dw`` -> ``..._op0_s0_dw``)."""
  return _OP_NAME.sub(r"\1_", name)


def _op_of(name: str):
  """(cell index, slot, op) of a supernet op variable's top-level name, else None."""
  mt = _OP_NAME.match(name)
  if mt is None:
    return None
  return int(name[1:3]) - 1, int(mt.group(2)), int(mt.group(3))


def init_supernet_variables(shapes, key, *, init: str = "pytorch", dtype=None):
  """Supernet variables whose every op holds the values the exact network's ``init(key, init)``
  gives that op's variables (its exact name keys the draw): any member's variables equal its exact
  network's initialisation."""
  groups: dict = {}
  for col, mods in shapes.items():
    for name, leaves in mods.items():
      op = _op_of(name)
      groups.setdefault(None if op is None else op[2], {}).setdefault(col, {})[exact_name(name)] = (
          name, leaves)
  out: dict = {col: {} for col in shapes}
  for tree in groups.values():
    vals = init_variables({col: {e: v[1] for e, v in mods.items()} for col, mods in tree.items()},
                          key, init=init, dtype=dtype)
    for col, mods in tree.items():
      for e, (name, _) in mods.items():
        out[col][name] = vals[col][e]
  return {col: {name: out[col][name] for name in shapes[col]} for col in shapes}


@flax.struct.dataclass
class DartsSupernet(Network):
  """The darts op-switch supernet: ``net(variables, x, *, train=True, capture=False)`` once a
  member is bound (``jaxnas.models.with_arch(net, encoding)``, traced or not).

  What proxies may ask of it: logits, ReLU inputs (``capture=True``; weight 0 where the member
  lacks the ReLU), per-sample ``gates`` and ``deltas``, :meth:`active` (which op variables the
  member uses), :meth:`num_params` / :meth:`flops` (the space's analytic
  :func:`jaxnas.spaces._darts.macro_cost`, traced) and jvp. Not available: module outputs, cell
  outputs, probes, the reference's parameter order; the proxies that need them are in
  :attr:`exact_only` and the population engine scores those with exact networks.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxnas import models, spaces
    >>> net = models.supernet("darts", C=4, layers=3)
    >>> enc = spaces.darts.sample(jax.random.key(0), 1)[0]
    >>> bound = models.with_arch(net, enc)
    >>> int(bound.num_params()) == int(models.darts_network(enc, C=4, layers=3).num_params())
    True
  """

  module: DartsSuperModule = flax.struct.field(pytree_node=False)
  arch: Optional[jax.Array] = None

  arch_length = space.ENCODING_LENGTH
  #: Proxy name -> why the supernet cannot reproduce it (:data:`EXACT_ONLY`).
  exact_only = EXACT_ONLY

  @property
  def is_supernet(self) -> bool:
    return True

  @property
  def capabilities(self) -> frozenset:
    """Logits, ReLU inputs, gates, deltas, active variables, counts, jvp."""
    return declare(Capability.ACTIVATIONS, Capability.GATES, Capability.DELTAS, Capability.ACTIVE,
                   Capability.COUNTS, Capability.JVP)

  def _arch(self):
    if self.arch is None:
      raise ValueError("Bind a member first: `jaxnas.models.with_arch(net, encoding)` with a (32,) "
                       "darts encoding.")
    return jnp.asarray(self.arch, jnp.int32)

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    return self.module.apply(variables, x, self._arch(), train=train, capture=capture,
                             mutable=mutable)

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return variable_shapes(self.module, tuple(input_shape), space.ENCODING_LENGTH)

  def init(self, key: jax.Array, *, init: str = "pytorch", dtype=None, input_shape=(1, 32, 32, 3)):
    """Variables in which every member's ops hold its exact network's ``init(key, init=init)``
    values (independent of the bound member; see :func:`init_supernet_variables`)."""
    return init_supernet_variables(self.variable_shapes(input_shape), key, init=init, dtype=dtype)

  def _filled_collection(self, variables, x, collection: str, fill):
    arch = self._arch()

    def shapes(v, x, arch):
      _, state = self.module.apply(v, x, arch, train=True, mutable=[collection])
      return state[collection]

    out = jax.eval_shape(shapes, variables, x, arch)
    return jax.tree.map(lambda s: fill(s.shape, jnp.promote_types(s.dtype, x.dtype)), out)

  def active(self, variables):
    """Pytree like `variables` (any collection of module-keyed leaves): bool arrays of each leaf's
    shape, True where the member uses the variable (its chosen op on every slot; a reduction
    cell's ``skip_connect`` FactorizedReduce only when the slot reads s0 or s1)."""
    arch = self._arch()
    reds = [red for (_, _, _, red, _) in space.macro_layout(self.module.C, self.module.layers)]

    def leaf(path, v):
      name = getattr(path[1], "key", None) if len(path) > 1 else None
      op = None if name is None else _op_of(str(name))
      if op is None:
        return jnp.ones(np.shape(v), bool)
      cell, j, k = op
      inputs, ops = _pairs(arch, 1 if reds[cell] else 0)
      use = ops[j] == k
      if k == SKIP and reds[cell]:
        use = use & (inputs[j] < 2)
      return jnp.broadcast_to(use, np.shape(v))
    return jax.tree_util.tree_map_with_path(leaf, variables)

  def _costs(self, image_size: int):
    m = self.module
    arch = self._arch()
    pools = ((0, MAX_POOL), (1, MAX_POOL)) * space.NODES
    base = space.macro_cost((pools, pools), num_classes=m.num_classes, image_size=image_size,
                            variant=m.variant, C=m.C, layers=m.layers, batch_norm=m.batch_norm)
    dt = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
    params, macs = jnp.asarray(base[0], dt), jnp.asarray(base[1], dt)
    hw = image_size * image_size
    for _, _, c, red, _ in space.macro_layout(m.C, m.layers):
      hw = hw // 4 if red else hw
      table = np.asarray([[space.op_cost(op, c, stride, hw, m.variant, m.batch_norm)
                           for op in range(len(OPS))] for stride in (1, 2)])  # (stride, op, 2)
      inputs, ops = _pairs(arch, 1 if red else 0)
      stride = ((inputs < 2) & red).astype(jnp.int32)
      got = jnp.asarray(table, dt)[stride, ops]  # (8, 2)
      params, macs = params + jnp.sum(got[:, 0]), macs + jnp.sum(got[:, 1])
    return params, macs

  def num_params(self):
    """Trainable parameters of the member (the exact network's count)."""
    return self._costs(32)[0]

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of the member's conv and linear layers."""
    return self._costs(image_size)[1]


def darts_supernet(*, variant: str = "naslib", C: int | None = None, layers: int | None = None,
                   num_classes: int = 10, batch_norm: bool = True, dtype=jnp.float32) -> DartsSupernet:
  """The op-switch darts supernet (options as :func:`jaxnas.models.darts_network`)."""
  if variant in NB201_VARIANTS:
    variant = "naslib"
  space.check_variant(variant)
  dc, dl = space.VARIANTS[variant]
  module = DartsSuperModule(int(dc if C is None else C), int(dl if layers is None else layers),
                            int(num_classes), variant, bool(batch_norm), dtype)
  module._check()
  return DartsSupernet(module)


def embed(exact_variables, arch, *, input_shape=(1, 32, 32, 3), **kwargs):
  """Supernet variables holding an exact network's variables on the member `arch`'s ops (and the
  macro network), zeros on every other op (``kwargs``: :func:`darts_supernet` options)."""
  net = darts_supernet(**kwargs)
  bound = net.replace(arch=jnp.asarray(arch, jnp.int32))
  shapes = net.variable_shapes(input_shape)
  active = bound.active(shapes)
  used = set()

  def leaf(path, s):
    keys = [getattr(p, "key", p) for p in path]
    exact = [keys[0], exact_name(keys[1])] + keys[2:]
    if not bool(np.all(active_at(path))):
      return jnp.zeros(s.shape, s.dtype)
    node = exact_variables
    for k in exact:
      if k not in node:
        raise ValueError(f"`exact_variables` has no {exact}: are `arch` and the network options "
                         "those of the exact network?")
      node = node[k]
    used.add(tuple(exact))
    return jnp.asarray(node)

  def active_at(path):
    node = active
    for p in path:
      node = node[getattr(p, "key", p)]
    return node

  out = jax.tree_util.tree_map_with_path(leaf, shapes)
  have = {tuple(getattr(p, "key", p) for p in path)
          for path, _ in jax.tree_util.tree_leaves_with_path(exact_variables)}
  if have - used:
    raise ValueError(f"`exact_variables` has leaves the member does not use: {sorted(have - used)[:3]}.")
  return out


def restrict(supernet_tree, arch, like, **kwargs):
  """The exact network's pytree (shaped like `like`: its variables or gradients) cut from a
  supernet pytree of the member `arch`."""
  net = darts_supernet(**kwargs)
  active = net.replace(arch=jnp.asarray(arch, jnp.int32)).active(supernet_tree)
  by_exact = {}
  for (path, v), (_, a) in zip(jax.tree_util.tree_leaves_with_path(supernet_tree),
                               jax.tree_util.tree_leaves_with_path(active)):
    if bool(np.all(a)):
      keys = [getattr(p, "key", p) for p in path]
      by_exact[tuple([keys[0], exact_name(keys[1])] + keys[2:])] = v

  def leaf(path, _):
    keys = tuple(getattr(p, "key", p) for p in path)
    if keys not in by_exact:
      raise ValueError(f"The supernet tree has no active leaf for the exact network's {keys}.")
    return by_exact[keys]
  return jax.tree_util.tree_map_with_path(leaf, like)
