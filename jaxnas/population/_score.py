"""Score a population of architectures with one compiled program."""

from __future__ import annotations

import logging
import time
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import models, spaces
from jaxnas.proxies import Batch, Proxy

log = logging.getLogger("jaxnas")

METHODS = ("map", "vmap")


class ScoreTiming(NamedTuple):
  """Wall-clock split of a population run (seconds)."""

  compile_s: float
  run_s: float
  num_archs: int


def member_keys(key: jax.Array, indices) -> jax.Array:
  """One key per architecture, ``fold_in(key, official_index)``: a member's score does not depend
  on which population (or chunk) it is scored in."""
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.asarray(indices, jnp.uint32))


def _groups(proxies: Sequence[Proxy], network_kwargs: Mapping):
  """Proxies grouped by the network their reference scored (one network build per group)."""
  groups: dict[tuple, list[int]] = {}
  for j, p in enumerate(proxies):
    kw = {**dict(network_kwargs), **dict(p.network)}
    groups.setdefault(tuple(sorted(kw.items())), []).append(j)
  return list(groups.items())


def _batch_for(batches, proxy: Proxy) -> Batch:
  if isinstance(batches, Mapping):
    try:
      return batches[proxy.name]
    except KeyError:
      raise ValueError(f"`batches` has no entry for proxy {proxy.name!r}; keys: {list(batches)}.") from None
  return batches


def make_member_fn(space: str, proxies: Sequence[Proxy], batches, network_kwargs: Mapping,
                   *, init: str = "pytorch") -> Callable:
  """``f(encoding (L,), key) -> scores (len(proxies),)`` over the space's masked supernet."""
  groups = [(models.supernet(space, **dict(kw)), idx) for kw, idx in _groups(proxies, network_kwargs)]
  if any(net is None for net, _ in groups):
    raise ValueError(f"Space {space!r} has no masked supernet; use score_exact.")

  def member(enc, key):
    init_key = jax.random.fold_in(key, 0)
    out = [None] * len(proxies)
    for net, idx in groups:
      bound = models.with_arch(net, enc)
      variables = bound.init(init_key, init=init)
      for j in idx:
        p = proxies[j]
        s = p.fn(bound, variables, _batch_for(batches, p), jax.random.fold_in(key, 1 + j))
        out[j] = jnp.asarray(s, jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    return jnp.stack(out)

  return member


def score_population(encodings, proxies: Sequence[Proxy], batches, key: jax.Array, *,
                     space: str = "nb201", network_kwargs: Optional[Mapping] = None,
                     chunk_size: int = 8, method: str = "map", init: str = "pytorch",
                     progress: bool = False,
                     on_chunk: Optional[Callable[[int, int, np.ndarray], None]] = None,
                     timing: Optional[list] = None) -> np.ndarray:
  """Scores (P, len(proxies)) of a population, one compiled program for all chunks.

  Every member gets fresh weights from its own key (``fold_in(key, official_index)``, see
  :func:`member_keys`), is run through the space's masked supernet, and each proxy is evaluated
  on the network its reference used (``Proxy.network``, merged over `network_kwargs`).

  Args:
    encodings: (P, L) int encodings of `space`.
    proxies: :class:`jaxnas.proxies.Proxy` records.
    batches: one :class:`Batch` for all proxies, or a mapping proxy name -> Batch.
    key: JAX PRNG key.
    space: 'nb201' ('nats_sss' is scored per architecture by :func:`score_exact`).
    network_kwargs: base network options (e.g. ``{'num_classes': 100}``).
    chunk_size: members per compiled call; the last chunk is padded (no recompilation).
    method: 'map' (``lax.map``: members one after another; on CPU this lets ``lax.switch`` run only
      the chosen op per edge) or 'vmap' (all members of a chunk at once; every branch runs).
    init: 'pytorch' (default init, all references of these proxies) or 'normal'.
    progress: show a tqdm bar with architectures/second.
    on_chunk: ``on_chunk(start, stop, scores)`` after each chunk (for incremental persistence).
    timing: if a list is given, a :class:`ScoreTiming` is appended to it.
  """
  if method not in METHODS:
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
  if int(chunk_size) < 1:
    raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size!r}.")
  if not proxies:
    raise ValueError("`proxies` is empty.")
  for p in proxies:
    if not isinstance(p, Proxy):
      raise TypeError(f"`proxies` must hold jaxnas.proxies.Proxy records, got {type(p).__name__}.")
  sp = spaces.get(space)
  enc = np.asarray(encodings)
  if enc.ndim != 2 or enc.shape[1] != sp.encoding_length:
    raise ValueError(f"`encodings` must have shape (P, {sp.encoding_length}) for {space}, got {enc.shape}.")
  indices = sp.index_of(enc)
  keys = member_keys(key, indices)
  network_kwargs = dict(network_kwargs or {})
  if sp.name != "nb201":
    return score_exact(enc, proxies, batches, key, space=space, network_kwargs=network_kwargs,
                       init=init, progress=progress, on_chunk=on_chunk, timing=timing)

  member = make_member_fn(space, proxies, batches, network_kwargs, init=init)
  if method == "map":
    chunk_fn = jax.jit(lambda e, k: jax.lax.map(lambda a: member(*a), (e, k)))
  else:
    chunk_fn = jax.jit(jax.vmap(member))

  n = enc.shape[0]
  c = int(min(chunk_size, max(n, 1)))
  out = np.zeros((n, len(proxies)), np.float64)
  bar = _progress(n, progress)
  compile_s = run_s = 0.0
  for start in range(0, n, c):
    stop = min(start + c, n)
    pad = c - (stop - start)
    e = np.concatenate([enc[start:stop], np.repeat(enc[start:start + 1], pad, 0)])
    k = jnp.concatenate([keys[start:stop], jnp.repeat(keys[start:start + 1], pad, 0)])
    t0 = time.perf_counter()
    if start == 0:
      compiled = chunk_fn.lower(jnp.asarray(e, jnp.int32), k).compile()
      compile_s = time.perf_counter() - t0
      t0 = time.perf_counter()
    scores = np.asarray(compiled(jnp.asarray(e, jnp.int32), k))[: stop - start]
    run_s += time.perf_counter() - t0
    out[start:stop] = scores
    if on_chunk is not None:
      on_chunk(start, stop, scores)
    if bar is not None:
      bar.update(stop - start)
  if bar is not None:
    bar.close()
  log.info("scored %d architectures: compile %.1f s, run %.1f s", n, compile_s, run_s)
  if timing is not None:
    timing.append(ScoreTiming(compile_s, run_s, n))
  return out


def score_exact(encodings, proxies: Sequence[Proxy], batches, key: jax.Array, *,
                space: str = "nb201", network_kwargs: Optional[Mapping] = None,
                init: str = "pytorch", progress: bool = False,
                on_chunk: Optional[Callable[[int, int, np.ndarray], None]] = None,
                timing: Optional[list] = None) -> np.ndarray:
  """Scores with one exact network per architecture (one compilation per distinct structure).

  The reference path for the supernet and the engine for spaces without a masked supernet.
  Same keys and outputs as :func:`score_population`.
  """
  sp = spaces.get(space)
  enc = np.asarray(encodings)
  keys = member_keys(key, sp.index_of(enc))
  groups = _groups(proxies, dict(network_kwargs or {}))
  out = np.zeros((enc.shape[0], len(proxies)), np.float64)
  bar = _progress(enc.shape[0], progress)
  t0 = time.perf_counter()
  for i, e in enumerate(enc):
    for kw, idx in groups:
      net = models.network(space, e, **dict(kw))

      def run(k, net=net, idx=idx):
        variables = net.init(jax.random.fold_in(k, 0), init=init)
        return [proxies[j].fn(net, variables, _batch_for(batches, proxies[j]),
                              jax.random.fold_in(k, 1 + j)) for j in idx]

      for j, s in zip(idx, jax.jit(run)(keys[i])):
        out[i, j] = float(s)
    if on_chunk is not None:
      on_chunk(i, i + 1, out[i:i + 1])
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  if timing is not None:
    timing.append(ScoreTiming(0.0, time.perf_counter() - t0, enc.shape[0]))
  return out


def _progress(total: int, enabled: bool):
  if not enabled:
    return None
  from tqdm.auto import tqdm

  return tqdm(total=total, unit="arch", desc="scoring", smoothing=0.1)
