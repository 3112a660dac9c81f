"""Score a population of architectures with one compiled program."""

from __future__ import annotations

import functools
import logging
import os
import time
import zlib
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxnas import models, spaces
from jaxnas.population import _runtime
from jaxnas.proxies import Batch, Proxy, evaluate
from jaxnas.proxies._base import as_batch

log = logging.getLogger("jaxnas")

METHODS = ("map", "vmap")
AXIS = "population"
#: Members per device per call with 'map' when the caller gives no chunk size: one, run without a
#: loop. Inside ``lax.map``'s while loop XLA:CPU runs the same member 2.5-3x slower (measured on
#: NB201 grad_norm, C=16 N=5, 64 images: 3.06 s per member in a loop of one or two, 1.19 s
#: without a loop, 1.16 s per member with the loop unrolled), and a call costs milliseconds.
AUTO_MAP_CHUNK = 1
MAX_AUTO_CHUNK = 256
#: 'vmap' members per device per call when XLA gives no memory analysis.
VMAP_FALLBACK_CHUNK = 8


class ScoreTiming(NamedTuple):
  """Wall-clock split of a population run (seconds).

  ``compile_s`` is XLA compilation (or loading the program from JAX's persistent compilation
  cache), ``lower_s`` tracing and lowering to StableHLO; both are 0 when the process had compiled
  the program before. ``chunk_size`` is members per device per call, ``num_devices`` the mesh size,
  ``chunk_run_s`` the run time of each call (scores back on the host), in order.
  """

  compile_s: float
  run_s: float
  num_archs: int
  lower_s: float = 0.0
  chunk_size: int = 0
  num_devices: int = 1
  chunk_run_s: tuple = ()


def draw_keys(key: jax.Array, draws: int) -> list:
  """The population keys of `draws` weight draws: ``key``, then ``fold_in(key, d)`` for
  d = 1 .. draws - 1 (draw 0 is `key` itself, so one draw is the plain single-key score)."""
  return [key] + [jax.random.fold_in(key, d) for d in range(1, draws)]


def _check_draws(draws) -> None:
  if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
    raise ValueError(f"`draws` must be a positive integer, got {draws!r}.")


def member_keys(key: jax.Array, indices) -> jax.Array:
  """One key per architecture, ``fold_in(key, official_index)``: a member's score does not depend
  on which population (or chunk, device or process) it is scored in."""
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.asarray(indices, jnp.uint32))


def member_ids(space, encodings) -> np.ndarray:
  """The integers :func:`member_keys` folds in, one per architecture: the official index, or for a
  space without one (``official_index`` False: nb101) a 31-bit CRC32 of the architecture's
  identity (``space.identity``: NB101's graph hash), so a cell's weights and score do not depend on
  where it is listed, and cells that prune to the same graph get the same ones."""
  if getattr(space, "official_index", True):
    return np.asarray(space.index_of(encodings), np.int64)
  return np.asarray([zlib.crc32(space.identity(e).encode()) & 0x7FFFFFFF
                     for e in np.asarray(encodings)], np.int64)


def check_supported(space, proxies: Sequence[Proxy]) -> None:
  """ValueError naming every proxy that cannot run on `space` (``space.unsupported_proxies``:
  name -> why) before anything is scored."""
  bad = getattr(space, "unsupported_proxies", {})
  named = [f"{p.name}: {bad[p.name]}" for p in proxies if p.name in bad]
  if named:
    raise ValueError(f"Proxies not available on {space.name}: " + "; ".join(named))


def proxy_inits(proxies: Sequence[Proxy], init: Optional[str] = None) -> list[str]:
  """The weight initialisation each proxy is scored with: `init` for all of them when given (an
  explicit override), else each proxy's reference init (``Proxy.init``: SWAP and Zen N(0, 1),
  AZ-NAS and VKDNW Kaiming fan-in, the others PyTorch's defaults)."""
  if init is not None and init not in models.INITS:
    raise ValueError(f"`init` must be None (each proxy's reference init) or one of {models.INITS}, "
                     f"got {init!r}.")
  return [p.init if init is None else init for p in proxies]


def _groups(proxies: Sequence[Proxy], network_kwargs: Mapping, init: Optional[str] = None):
  """Proxies grouped by the network their reference scored and its weight initialisation (one
  network build and one set of weights per group): ``[((network kwargs, init), indices)]``."""
  groups: dict[tuple, list[int]] = {}
  for j, (p, how) in enumerate(zip(proxies, proxy_inits(proxies, init))):
    kw = {**dict(network_kwargs), **dict(p.network)}
    groups.setdefault((tuple(sorted(kw.items())), how), []).append(j)
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


def _largest_batch(proxies: Sequence[Proxy], per_proxy: Sequence[Batch]) -> int:
  """Images per pass of the largest batch a proxy of the program reads (1 when none reads images:
  synflow's one all-ones image, parameter counts)."""
  return max([int(np.shape(b.x)[0]) for p, b in zip(proxies, per_proxy) if p.batch_size is not None],
             default=1)


def _out_dtype():
  return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def population_mesh(devices: Optional[Sequence] = None) -> Mesh:
  """A 1-D mesh (axis ``'population'``) over `devices`, by default every device of every process
  (``jax.devices()``): the mesh :func:`score_population` shards members over."""
  devs = list(jax.devices() if devices is None else devices)
  if not devs:
    raise ValueError("`devices` is empty.")
  return Mesh(np.asarray(devs, dtype=object), (AXIS,))


def _member_fn(space: str, proxies: tuple, network_kwargs: Mapping, init: Optional[str],
               batch_ids: tuple, key_ids: Optional[tuple] = None):
  """``member(encoding, key, unique_batches) -> (len(proxies),) scores`` of one architecture on
  the space's masked supernet (pure; traced encodings and keys). Proxy j draws its key from
  ``fold_in(key, 1 + key_ids[j])`` (default: its position j), so a proxy scored in a subset of a
  run's proxies keeps the key it has in the whole run."""
  key_ids = tuple(range(len(proxies))) if key_ids is None else key_ids
  groups = [(models.supernet(space, **dict(kw)), how, idx)
            for (kw, how), idx in _groups(proxies, dict(network_kwargs), init)]
  if any(net is None for net, _, _ in groups):
    raise ValueError(f"Space {space!r} has no masked supernet; use score_exact.")

  def member(enc, key, unique_batches):
    init_key = jax.random.fold_in(key, 0)
    out = [None] * len(proxies)
    for net, how, idx in groups:
      bound = models.with_arch(net, enc)
      variables = bound.init(init_key, init=how)
      scores = evaluate([proxies[j] for j in idx], bound, variables,
                        [unique_batches[batch_ids[j]] for j in idx],
                        [jax.random.fold_in(key, 1 + key_ids[j]) for j in idx])
      for j, s in zip(idx, scores):
        out[j] = jnp.asarray(s, _out_dtype())
    return jnp.stack(out)

  return member


def _map_members(member, method: str, enc, keys, unique_batches):
  """Scores (P, n) of members `enc`, `keys` one after another ('map') or all at once ('vmap')."""
  if method == "map" and enc.shape[0] == 1:  # no loop: see AUTO_MAP_CHUNK
    return member(enc[0], keys[0], unique_batches)[None]
  if method == "map":
    return jax.lax.map(lambda a: member(a[0], a[1], unique_batches), (enc, keys))
  return jax.vmap(member, in_axes=(0, 0, None))(enc, keys, unique_batches)


def make_scorer(space: str, proxies: Sequence[Proxy], batches, *,
                network_kwargs: Optional[Mapping] = None, method: str = "map",
                init: Optional[str] = None) -> Callable:
  """A pure scorer ``score_fn(encodings, keys) -> (P, len(proxies))`` for a search loop to hold.

  ``encodings`` (P, L) int and ``keys`` (P,) PRNG keys may be traced: call it under ``jax.jit``
  (or inside a larger jitted search step). Member i is scored exactly as :func:`score_population`
  scores it when ``keys[i]`` is its member key (``member_keys(key, space.index_of(encodings))``):
  weights from ``fold_in(keys[i], 0)``, proxy j's key ``fold_in(keys[i], 1 + j)``, each proxy on
  its reference's network and init. The images (`batches`: one :class:`Batch` or a mapping proxy
  name -> Batch) are closed over; proxies given equal batches share passes.
  :func:`score_population` is the host driver around the same member function (chunks, devices,
  progress, ``on_chunk``).
  """
  if method not in METHODS:
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
  if not proxies:
    raise ValueError("`proxies` is empty.")
  for p in proxies:
    if not isinstance(p, Proxy):
      raise TypeError(f"`proxies` must hold jaxnas.proxies.Proxy records, got {type(p).__name__}.")
  proxies = tuple(proxies)
  proxy_inits(proxies, init)
  sp = spaces.get(space)
  exact_only = getattr(models.supernet(sp.name), "exact_only", {})
  refused = {p.name: exact_only[p.name] for p in proxies if p.name in exact_only}
  if refused:
    raise ValueError(f"`proxies`: the {sp.name} supernet cannot score {sorted(refused)} "
                     f"({'; '.join(f'{k}: {v}' for k, v in refused.items())}); make_scorer serves "
                     "supernet proxies only, score these with score_population or score_exact.")
  per_proxy = [_batch_for(batches, p) for p in proxies]
  unique, batch_ids = _unique_batches(per_proxy)
  member = _member_fn(sp.name, proxies, dict(network_kwargs or {}), init, tuple(batch_ids))

  def score_fn(encodings, keys):
    enc = jnp.asarray(encodings, jnp.int32)
    if enc.ndim != 2 or enc.shape[1] != sp.encoding_length:
      raise ValueError(f"`encodings` must have shape (P, {sp.encoding_length}) for {space}, "
                       f"got {enc.shape}.")
    if keys.shape != enc.shape[:1]:
      raise ValueError(f"`keys` must hold one PRNG key per encoding, shape ({enc.shape[0]},), "
                       f"got {keys.shape}.")
    return _map_members(member, method, enc, keys, unique)

  return score_fn


class _Program:
  """One population program: the jitted chunk function and its executables by input signature.

  The population axis of encodings and keys is split over every axis of the mesh (``shard_map``);
  each device runs its members with ``lax.map`` (one after another) or ``vmap`` (all at once).
  Images are replicated. Nothing crosses devices until the scores are gathered, so the
  replication checker is off (``check_vma=False``): members never communicate, and its typing
  rejects the supernet's ``lax.switch`` (branches that do and do not touch per-member state).
  """

  def __init__(self, space: str, proxies: tuple, network_kwargs: tuple, method: str,
               init: Optional[str], batch_ids: tuple, mesh: Mesh, key_impl: str,
               key_ids: Optional[tuple] = None):
    member = _member_fn(space, proxies, dict(network_kwargs), init, batch_ids, key_ids)

    def population_chunk(enc, key_data, unique_batches):  # one device's members
      keys = jax.random.wrap_key_data(key_data, impl=key_impl)
      return _map_members(member, method, enc, keys, unique_batches)

    self.mesh = mesh
    self.members = P(mesh.axis_names)
    self.jitted = jax.jit(jax.shard_map(population_chunk, mesh=mesh, in_specs=(self.members, self.members, P()),
                                        out_specs=self.members, check_vma=False))
    self.executables: dict = {}
    self.traces = 0

  def compiled(self, enc, keys, batches, compiler_options):
    """(executable, seconds lowering, seconds compiling): zeros when compiled before."""
    sig = repr((jax.tree.map(lambda a: (a.shape, str(a.dtype)), (enc, batches)), keys.shape,
                jax.config.jax_enable_x64, sorted((compiler_options or {}).items())))
    if sig in self.executables:
      return self.executables[sig], 0.0, 0.0
    t0 = time.perf_counter()
    self.traces += 1
    lowered = self.jitted.lower(enc, keys, batches)
    t1 = time.perf_counter()
    exe = lowered.compile(compiler_options=compiler_options)
    self.executables[sig] = exe
    return exe, t1 - t0, time.perf_counter() - t1

  def put(self, array: np.ndarray, sharded: bool) -> jax.Array:
    """A global array from a host array every process holds in full (each fills its own shards)."""
    array = np.asarray(array)
    sharding = NamedSharding(self.mesh, self.members if sharded else P())
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


#: The compiled population programs of this process, owned by this module; :func:`clear_caches`
#: releases them (and their executables).
@functools.lru_cache(maxsize=32)
def _program(space: str, proxies: tuple, network_kwargs: tuple, method: str, init: Optional[str],
             batch_ids: tuple, mesh: Mesh, key_impl: str, key_ids: Optional[tuple] = None) -> _Program:
  """The program for one (space, proxy set, network options, method, init, batch sharing, mesh)."""
  return _Program(space, proxies, network_kwargs, method, init, batch_ids, mesh, key_impl, key_ids)


def clear_caches() -> None:
  """Release the compiled population programs this process holds (and :mod:`jaxnas.models`'
  caches: weight-initialisation programs, variable shapes): the next call compiles anew (or loads
  from JAX's persistent compilation cache when enabled)."""
  _program.cache_clear()
  models.clear_caches()


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


def available_memory(device) -> Optional[int]:
  """Bytes free on `device`: the allocator's limit minus its use on GPU/TPU, the host's available
  memory (``MemAvailable``) shared by the local CPU devices; None where neither is known."""
  stats = None
  try:
    stats = device.memory_stats()
  except Exception:  # backends without allocator statistics
    stats = None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
  if device.platform != "cpu":
    return None
  try:
    with open("/proc/meminfo") as fh:
      for line in fh:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024 // max(len(jax.local_devices(backend="cpu")), 1)
  except OSError:
    pass
  try:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
  except (ValueError, OSError, AttributeError):
    return None


def _program_bytes(exe) -> Optional[int]:
  """Peak device bytes of one executable (temporaries + arguments + outputs), if XLA reports it."""
  try:
    m = exe.memory_analysis()
  except Exception:  # not every backend implements it
    return None
  if m is None:
    return None
  return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes
             - getattr(m, "alias_size_in_bytes", 0))


def _auto_chunk(method: str, probe_bytes: Optional[int], free: Optional[int],
                memory_fraction: float) -> int:
  """Members per device per call when the caller gave none.

  With ``'map'`` members run one after another, so memory does not grow with the chunk:
  AUTO_MAP_CHUNK (one member per device per call, run without a loop, which is faster on CPU).
  With ``'vmap'`` a chunk's members run at once and memory grows with it: as many members as fit
  in `memory_fraction` of the free memory at the cost of a one-member program, at most
  MAX_AUTO_CHUNK (VMAP_FALLBACK_CHUNK where the memory cannot be measured).
  """
  if method == "map":
    return AUTO_MAP_CHUNK
  if not probe_bytes or not free:
    return VMAP_FALLBACK_CHUNK
  return int(max(1, min(MAX_AUTO_CHUNK, (memory_fraction * free) // probe_bytes)))


def score_population(encodings, proxies: Sequence[Proxy], batches, key: jax.Array, *,
                     space: str = "nb201", network_kwargs: Optional[Mapping] = None,
                     chunk_size: Optional[int] = None, method: str = "map", init: Optional[str] = None,
                     mesh: Optional[Mesh] = None, memory_fraction: float = 0.5,
                     progress: bool = False,
                     on_chunk: Optional[Callable[[int, int, np.ndarray], None]] = None,
                     timing: Optional[list] = None,
                     compiler_options: Optional[Mapping] = None, draws: int = 1,
                     engine: Optional[str] = None,
                     _key_ids: Optional[tuple] = None) -> np.ndarray:
  """Scores (P, len(proxies)) of a population: one compiled program for all chunks and devices.

  Every member gets fresh weights from its own key (``fold_in(key, official_index)``, see
  :func:`member_keys`), is run through the space's masked supernet, and each proxy is evaluated
  on the network its reference used (``Proxy.network``, merged over `network_kwargs`). Images are
  arguments of the program, not constants: new images or a second population of the same shapes
  reuse the compiled program (within the process; across processes through JAX's persistent
  compilation cache when the caller enabled it, as the CLI does, see :func:`default_cache_dir`).

  The population is cut into chunks of ``chunk_size`` members per device; each call shards a chunk
  over the devices of `mesh` (``shard_map``; by default every device of every process), so a
  member's score does not depend on the number of devices or processes. In a multi-process run
  (:func:`initialize_distributed`) every process calls this function with the same arguments,
  fills its own devices' shards, and receives all the scores.

  Args:
    encodings: (P, L) int encodings of `space`.
    proxies: :class:`jaxnas.proxies.Proxy` records.
    batches: one :class:`Batch` for all proxies, or a mapping proxy name -> Batch.
    key: JAX PRNG key.
    space: a space name ('nb201': op-switch supernet; 'nats_sss': channel-masked supernet).
      Proxies the space's supernet cannot reproduce (its ``exact_only``: name -> reason, e.g.
      the NATS supernet's module-output and layout proxies, ``jaxnas.models._nats.EXACT_ONLY``)
      are scored by :func:`score_exact` with the same keys and weights, and their columns merged
      (``on_chunk`` is then called once, with every row, when both are done; `timing` receives
      both runs' records).
    network_kwargs: base network options (e.g. ``{'num_classes': 100}``).
    chunk_size: members per device per compiled call; the last chunk is padded (no
      recompilation). None chooses it (see ``method``).
    method: 'map' (``lax.map``: a device's members one after another; memory is one member's
      whatever the chunk, and on CPU ``lax.switch`` runs only the chosen op per edge; chunk None
      means 1, which runs without a loop and is the fastest on CPU, see AUTO_MAP_CHUNK) or 'vmap' (a device's members of a chunk at once, every branch runs; memory grows
      with the chunk, and chunk None fits it to `memory_fraction` of the free device memory,
      measured from a one-member program's XLA memory analysis).
    init: None (default): each proxy's network is initialised as its reference does
      (``Proxy.init``, :func:`proxy_inits`), so proxies with different inits get different
      weights from the same key; or an override for every proxy: 'pytorch' (PyTorch's default
      init), 'normal' (N(0, 1)) or 'kaiming_normal' (see :func:`jaxnas.models.init_from_shapes`).
    mesh: the devices to shard members over (any shape; members are split over all its axes):
      default :func:`population_mesh` of ``jax.devices()``.
    memory_fraction: share of free memory an automatic 'vmap' chunk may use.
    progress: show a tqdm bar with architectures/second and ETA (after compilation; on process 0).
    on_chunk: ``on_chunk(start, stop, scores)`` after each chunk (for incremental persistence).
    timing: if a list is given, a :class:`ScoreTiming` is appended to it.
    compiler_options: XLA compiler options for the program; None: :func:`compiler_options` for the
      mesh's platform and the largest batch a proxy reads (on CPU from 16 images, convolutions
      without YNNPACK); ``{}``: XLA's defaults.
    draws: average every score over this many independent weight draws (and proxy keys): the
      mean of the scores this function gives with the keys of :func:`draw_keys` (``key``,
      ``fold_in(key, 1)``, ..., ``fold_in(key, draws - 1)``), so ``draws=1`` is the single draw
      of `key`. The same compiled program runs once per draw, chunk by chunk (``on_chunk``
      receives the means). A non-finite score in any draw makes the mean non-finite (ranked
      worst, :func:`jaxnas.evaluate.oriented_scores`). References that average repeats: SWAP
      (32 N(0, 1) re-initialisations), Zen-NAS (its ``repeat``).
    engine: 'supernet' (one program for every member) or 'exact' (:func:`score_exact`, one
      program per member); None: the space's default (``jaxnas.models.SPACES[space].engine``, the
      faster on CPU: exact networks for darts, ``benchmarks/results/darts_supernet.md``). Equal
      scores either way (tested per space).
  """
  _check_draws(draws)
  if method not in METHODS:
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
  if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                                 or chunk_size < 1):
    raise ValueError(f"`chunk_size` must be a positive integer or None (automatic), got {chunk_size!r}.")
  if not 0 < memory_fraction <= 1:
    raise ValueError(f"`memory_fraction` must be in (0, 1], got {memory_fraction!r}.")
  if mesh is not None and not isinstance(mesh, Mesh):
    raise TypeError(f"`mesh` must be a jax.sharding.Mesh (see population_mesh), got {type(mesh).__name__}.")
  if not proxies:
    raise ValueError("`proxies` is empty.")
  for p in proxies:
    if not isinstance(p, Proxy):
      raise TypeError(f"`proxies` must hold jaxnas.proxies.Proxy records, got {type(p).__name__}.")
  proxy_inits(proxies, init)
  sp = spaces.get(space)
  check_supported(sp, proxies)
  enc = np.asarray(encodings)
  if enc.ndim != 2 or enc.shape[1] != sp.encoding_length:
    raise ValueError(f"`encodings` must have shape (P, {sp.encoding_length}) for {space}, got {enc.shape}.")
  network_kwargs = dict(network_kwargs or {})
  if engine not in (None, "supernet", "exact"):
    raise ValueError(f"`engine` must be 'supernet', 'exact' or None (the space's default), got {engine!r}.")
  supernet = models.supernet(sp.name)
  if engine == "supernet" and supernet is None:
    raise ValueError(f"`engine`: space {sp.name!r} has no masked supernet; use engine='exact' or None.")
  if engine is None:
    engine = models.space_spec(sp.name).engine
  if supernet is None or engine == "exact":
    return score_exact(enc, proxies, batches, key, space=space, network_kwargs=network_kwargs,
                       init=init, progress=progress, on_chunk=on_chunk, timing=timing,
                       compiler_options=compiler_options, draws=draws)
  exact_only = getattr(supernet, "exact_only", {})
  if _key_ids is None and any(p.name in exact_only for p in proxies):
    return _score_split(enc, proxies, batches, key, exact_only, space=space,
                        network_kwargs=network_kwargs, chunk_size=chunk_size, method=method,
                        init=init, mesh=mesh, memory_fraction=memory_fraction, progress=progress,
                        on_chunk=on_chunk, timing=timing, compiler_options=compiler_options,
                        draws=draws)
  mesh = population_mesh() if mesh is None else mesh
  per_proxy = [_batch_for(batches, p) for p in proxies]
  unique, batch_ids = _unique_batches(per_proxy)
  key_data = [np.asarray(jax.random.key_data(member_keys(k, member_ids(sp, enc))))
              for k in draw_keys(key, draws)]
  program = _program(space, tuple(proxies), tuple(sorted(network_kwargs.items())), method, init,
                     batch_ids, mesh, str(jax.random.key_impl(key)), _key_ids)
  ndev = mesh.size
  show = progress and jax.process_index() == 0
  bar = _progress(enc.shape[0], show)
  if bar is not None:
    bar.set_description("compiling (once per machine with the compilation cache)")
  if compiler_options is None:
    compiler_options = _runtime.compiler_options(mesh.devices.flat[0].platform,
                                                 batch_size=_largest_batch(proxies, per_proxy))
  rep = jax.tree.map(lambda a: program.put(a, sharded=False), unique)

  def chunk_inputs(start, stop, per_device, draw=0):
    width = per_device * ndev
    rows = np.arange(start, start + width)
    rows[stop - start:] = start  # padding repeats the first member; its scores are dropped
    return (program.put(enc[rows].astype(np.int32), True), program.put(key_data[draw][rows], True))

  lower_s = compile_s = 0.0
  per_device = chunk_size
  if per_device is None:
    probe = None
    if method == "vmap":
      e, k = chunk_inputs(0, 1, 1)
      exe, lo, co = program.compiled(e, k, rep, compiler_options)
      lower_s, compile_s = lower_s + lo, compile_s + co
      probe = _program_bytes(exe)
    local = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    per_device = _auto_chunk(method, probe, available_memory(local[0]), memory_fraction)
    if jax.process_count() > 1:  # every process must run the same program: the smallest choice
      per_device = int(np.min(multihost_utils.process_allgather(np.int64(per_device))))
  n = enc.shape[0]
  per_device = int(min(per_device, max(-(-n // ndev), 1)))
  width = per_device * ndev
  out = np.zeros((n, len(proxies)), np.float64)
  chunk_run_s = []
  for start in range(0, n, width):
    stop = min(start + width, n)
    e, k = chunk_inputs(start, stop, per_device)
    exe, lo, co = program.compiled(e, k, rep, compiler_options)
    lower_s, compile_s = lower_s + lo, compile_s + co
    if bar is not None and start == 0:
      bar.set_description("scoring")
      bar.reset()  # so the rate and ETA exclude compilation
    t0 = time.perf_counter()
    total = np.zeros((stop - start, len(proxies)), np.float64)
    for d in range(draws):
      if d:
        e, k = chunk_inputs(start, stop, per_device, d)
      res = exe(e, k, rep)
      total += np.asarray(res if res.is_fully_addressable
                          else multihost_utils.process_allgather(res, tiled=True))[: stop - start]
    scores = total / draws
    chunk_run_s.append(time.perf_counter() - t0)
    out[start:stop] = scores
    if on_chunk is not None:
      on_chunk(start, stop, scores)
    if bar is not None:
      bar.update(stop - start)
  if bar is not None:
    bar.close()
  run_s = float(sum(chunk_run_s))
  log.info("scored %d architectures on %d device(s): lower %.1f s, compile %.1f s, run %.1f s",
           n, ndev, lower_s, compile_s, run_s)
  if timing is not None:
    timing.append(ScoreTiming(compile_s, run_s, n, lower_s, per_device, ndev, tuple(chunk_run_s)))
  return out


def score_exact(encodings, proxies: Sequence[Proxy], batches, key: jax.Array, *,
                space: str = "nb201", network_kwargs: Optional[Mapping] = None,
                init: Optional[str] = None, progress: bool = False,
                on_chunk: Optional[Callable[[int, int, np.ndarray], None]] = None,
                timing: Optional[list] = None,
                compiler_options: Optional[Mapping] = None, draws: int = 1,
                _key_ids: Optional[tuple] = None) -> np.ndarray:
  """Scores with one exact network per architecture (one compilation per distinct structure).

  The reference path for the supernet and the engine for spaces without a masked supernet.
  Same keys, weights and outputs as :func:`score_population` (a space without an official index,
  ``official_index = False`` such as darts, keys row i of `encodings` by i); `compiler_options` and
  `draws` as there (None: :func:`compiler_options` for JAX's default backend).
  """
  _check_draws(draws)
  key_ids = tuple(range(len(proxies))) if _key_ids is None else _key_ids
  sp = spaces.get(space)
  enc = np.asarray(encodings)
  check_supported(sp, proxies)
  keys = [member_keys(k, member_ids(sp, enc)) for k in draw_keys(key, draws)]
  groups = _groups(proxies, dict(network_kwargs or {}), init)
  per_proxy = [_batch_for(batches, p) for p in proxies]
  unique, batch_ids = _unique_batches(per_proxy)
  if compiler_options is None:
    compiler_options = _runtime.compiler_options(batch_size=_largest_batch(proxies, per_proxy))
  out = np.zeros((enc.shape[0], len(proxies)), np.float64)
  bar = _progress(enc.shape[0], progress)
  t0 = time.perf_counter()
  lower_s = compile_s = 0.0
  for i, e in enumerate(enc):
    for (kw, how), idx in groups:
      net = models.network(space, e, **dict(kw))

      def run(variables, k, u, net=net, idx=idx):
        scores = evaluate([proxies[j] for j in idx], net, variables, [u[batch_ids[j]] for j in idx],
                          [jax.random.fold_in(k, 1 + key_ids[j]) for j in idx])
        return [jnp.asarray(s, _out_dtype()) for s in scores]

      exe = None
      for d in range(draws):
        variables = net.init(jax.random.fold_in(keys[d][i], 0), init=how)
        if exe is None:
          t = time.perf_counter()
          lowered = jax.jit(run).lower(variables, keys[d][i], unique)
          lower_s += time.perf_counter() - t
          t = time.perf_counter()
          exe = lowered.compile(compiler_options=compiler_options)
          compile_s += time.perf_counter() - t
        for j, s in zip(idx, exe(variables, keys[d][i], unique)):
          out[i, j] += float(s)
    out[i] /= draws
    if on_chunk is not None:
      on_chunk(i, i + 1, out[i:i + 1])
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  if timing is not None:  # one program per architecture: lowering and compiling summed over them
    timing.append(ScoreTiming(compile_s, time.perf_counter() - t0 - lower_s - compile_s,
                              enc.shape[0], lower_s))
  return out


def _score_split(enc, proxies, batches, key, exact_only: Mapping[str, str], *, on_chunk, **kwargs):
  """:func:`score_population` of proxies some of which the supernet cannot reproduce: those by
  :func:`score_exact`, the rest by the supernet, each proxy keeping its key (its position in
  `proxies`), so the scores equal an all-exact run's."""
  exact = [j for j, p in enumerate(proxies) if p.name in exact_only]
  masked = [j for j, p in enumerate(proxies) if p.name not in exact_only]
  for j in exact:
    log.info("%s: scored with exact networks (the %s supernet cannot reproduce it: %s)",
             proxies[j].name, kwargs["space"], exact_only[proxies[j].name])
  out = np.zeros((enc.shape[0], len(proxies)), np.float64)
  if masked:
    out[:, masked] = score_population(enc, [proxies[j] for j in masked], batches, key,
                                      _key_ids=tuple(masked), engine="supernet", **kwargs)
  exact_kwargs = {k: kwargs[k] for k in ("space", "network_kwargs", "init", "progress", "timing",
                                         "compiler_options", "draws")}
  out[:, exact] = score_exact(enc, [proxies[j] for j in exact], batches, key, _key_ids=tuple(exact),
                              **exact_kwargs)
  if on_chunk is not None:
    on_chunk(0, enc.shape[0], out)
  return out


def _progress(total: int, enabled: bool):
  if not enabled:
    return None
  from tqdm.auto import tqdm

  return tqdm(total=total, unit="arch", desc="scoring", smoothing=0.1)
