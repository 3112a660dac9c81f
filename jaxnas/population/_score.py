"""Score a population of architectures with one compiled program."""

from __future__ import annotations

import functools
import logging
import time
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import models, spaces
from jaxnas.proxies import Batch, Proxy, evaluate
from jaxnas.proxies._base import as_batch

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
      b = batches[proxy.name]
    except KeyError:
      raise ValueError(f"`batches` has no entry for proxy {proxy.name!r}; keys: {list(batches)}.") from None
  else:
    b = batches
  return as_batch(b)


def _out_dtype():
  return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


class _Program:
  """One population program: the jitted chunk function and its executables by input signature."""

  def __init__(self, space: str, proxies: tuple, network_kwargs: tuple, method: str, init: str,
               batch_ids: tuple):
    groups = [(models.supernet(space, **dict(kw)), idx)
              for kw, idx in _groups(proxies, dict(network_kwargs))]
    if any(net is None for net, _ in groups):
      raise ValueError(f"Space {space!r} has no masked supernet; use score_exact.")

    def member(enc, key, unique_batches):
      init_key = jax.random.fold_in(key, 0)
      out = [None] * len(proxies)
      for net, idx in groups:
        bound = models.with_arch(net, enc)
        variables = bound.init(init_key, init=init)
        scores = evaluate([proxies[j] for j in idx], bound, variables,
                          [unique_batches[batch_ids[j]] for j in idx],
                          [jax.random.fold_in(key, 1 + j) for j in idx])
        for j, s in zip(idx, scores):
          out[j] = jnp.asarray(s, _out_dtype())
      return jnp.stack(out)

    if method == "map":
      self.jitted = jax.jit(lambda e, k, b: jax.lax.map(lambda a: member(a[0], a[1], b), (e, k)))
    else:
      self.jitted = jax.jit(jax.vmap(member, in_axes=(0, 0, None)))
    self.executables: dict = {}
    self.traces = 0

  def compiled(self, enc, keys, batches, compiler_options):
    """(executable, seconds spent compiling: 0 when this signature was compiled before)."""
    sig = repr((jax.tree.map(lambda a: (a.shape, str(a.dtype)), (enc, batches)), keys.shape,
                jax.config.jax_enable_x64, sorted((compiler_options or {}).items())))
    if sig in self.executables:
      return self.executables[sig], 0.0
    t0 = time.perf_counter()
    self.traces += 1
    exe = self.jitted.lower(enc, keys, batches).compile(compiler_options=compiler_options)
    self.executables[sig] = exe
    return exe, time.perf_counter() - t0


@functools.lru_cache(maxsize=32)
def _program(space: str, proxies: tuple, network_kwargs: tuple, method: str, init: str,
             batch_ids: tuple) -> _Program:
  """The program for one (space, proxy set, network options, method, init, batch sharing)."""
  return _Program(space, proxies, network_kwargs, method, init, batch_ids)


def _unique_batches(per_proxy: Sequence[Batch]):
  """(distinct batches, index of each proxy's batch): proxies given equal batches share one
  program input, and through it their shared passes (:func:`jaxnas.proxies.evaluate`)."""
  unique: list[Batch] = []
  ids = []
  for b in per_proxy:
    for i, u in enumerate(unique):
      if _same_batch(b, u):
        ids.append(i)
        break
    else:
      ids.append(len(unique))
      unique.append(b)
  return tuple(unique), tuple(ids)


def _same_batch(a: Batch, b: Batch) -> bool:
  if a is b:
    return True
  for u, v in zip(a, b):
    if (u is None) != (v is None):
      return False
    if u is not None and (np.shape(u) != np.shape(v) or np.asarray(u).dtype != np.asarray(v).dtype
                          or not np.array_equal(np.asarray(u), np.asarray(v))):
      return False
  return True


def score_population(encodings, proxies: Sequence[Proxy], batches, key: jax.Array, *,
                     space: str = "nb201", network_kwargs: Optional[Mapping] = None,
                     chunk_size: int = 8, method: str = "map", init: str = "pytorch",
                     progress: bool = False,
                     on_chunk: Optional[Callable[[int, int, np.ndarray], None]] = None,
                     timing: Optional[list] = None,
                     compiler_options: Optional[Mapping] = None) -> np.ndarray:
  """Scores (P, len(proxies)) of a population, one compiled program for all chunks.

  Every member gets fresh weights from its own key (``fold_in(key, official_index)``, see
  :func:`member_keys`), is run through the space's masked supernet, and each proxy is evaluated
  on the network its reference used (``Proxy.network``, merged over `network_kwargs`). Images are
  arguments of the program, not constants: new images or a second population of the same shapes
  reuse the compiled program (within the process).

  Args:
    encodings: (P, L) int encodings of `space`.
    proxies: :class:`jaxnas.proxies.Proxy` records.
    batches: one :class:`Batch` for all proxies, or a mapping proxy name -> Batch.
    key: JAX PRNG key.
    space: a space name; spaces without a masked supernet ('nats_sss') are scored per
      architecture by :func:`score_exact`.
    network_kwargs: base network options (e.g. ``{'num_classes': 100}``).
    chunk_size: members per compiled call; the last chunk is padded (no recompilation).
    method: 'map' (``lax.map``: members one after another; on CPU this lets ``lax.switch`` run only
      the chosen op per edge) or 'vmap' (all members of a chunk at once; every branch runs).
    init: 'pytorch' (default init, all references of these proxies) or 'normal'.
    progress: show a tqdm bar with architectures/second.
    on_chunk: ``on_chunk(start, stop, scores)`` after each chunk (for incremental persistence).
    timing: if a list is given, a :class:`ScoreTiming` is appended to it.
    compiler_options: XLA compiler options for the program (e.g. less optimisation in tests).
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
  network_kwargs = dict(network_kwargs or {})
  if models.supernet(sp.name) is None:
    return score_exact(enc, proxies, batches, key, space=space, network_kwargs=network_kwargs,
                       init=init, progress=progress, on_chunk=on_chunk, timing=timing,
                       compiler_options=compiler_options)
  unique, batch_ids = _unique_batches([_batch_for(batches, p) for p in proxies])
  keys = member_keys(key, sp.index_of(enc))
  program = _program(space, tuple(proxies), tuple(sorted(network_kwargs.items())), method, init,
                     batch_ids)

  n = enc.shape[0]
  c = int(min(chunk_size, max(n, 1)))
  out = np.zeros((n, len(proxies)), np.float64)
  bar = _progress(n, progress)
  compile_s = run_s = 0.0
  for start in range(0, n, c):
    stop = min(start + c, n)
    pad = c - (stop - start)
    e = jnp.asarray(np.concatenate([enc[start:stop], np.repeat(enc[start:start + 1], pad, 0)]),
                    jnp.int32)
    k = jnp.concatenate([keys[start:stop], jnp.repeat(keys[start:start + 1], pad, 0)])
    if bar is not None and start == 0:
      bar.set_description("compiling (once per process)")
    exe, spent = program.compiled(e, k, unique, compiler_options)
    compile_s += spent
    if bar is not None and spent:
      bar.set_description("scoring")
      bar.reset()  # so the rate and ETA exclude compilation
    t0 = time.perf_counter()
    scores = np.asarray(exe(e, k, unique))[: stop - start]
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
                timing: Optional[list] = None,
                compiler_options: Optional[Mapping] = None) -> np.ndarray:
  """Scores with one exact network per architecture (one compilation per distinct structure).

  The reference path for the supernet and the engine for spaces without a masked supernet.
  Same keys, weights and outputs as :func:`score_population`.
  """
  sp = spaces.get(space)
  enc = np.asarray(encodings)
  keys = member_keys(key, sp.index_of(enc))
  groups = _groups(proxies, dict(network_kwargs or {}))
  unique, batch_ids = _unique_batches([_batch_for(batches, p) for p in proxies])
  out = np.zeros((enc.shape[0], len(proxies)), np.float64)
  bar = _progress(enc.shape[0], progress)
  t0 = time.perf_counter()
  for i, e in enumerate(enc):
    for kw, idx in groups:
      net = models.network(space, e, **dict(kw))
      variables = net.init(jax.random.fold_in(keys[i], 0), init=init)

      def run(variables, k, u, net=net, idx=idx):
        scores = evaluate([proxies[j] for j in idx], net, variables, [u[batch_ids[j]] for j in idx],
                          [jax.random.fold_in(k, 1 + j) for j in idx])
        return [jnp.asarray(s, _out_dtype()) for s in scores]

      exe = jax.jit(run).lower(variables, keys[i], unique).compile(compiler_options=compiler_options)
      for j, s in zip(idx, exe(variables, keys[i], unique)):
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
