r"""Zero-cost proxies: pure functions ``(apply_fn, variables, batch, key) -> scalar``.

Each proxy is a plain function (call it directly) and a :class:`Proxy` record with its metadata
(direction, labels, reference, the network its reference scored). :data:`REGISTRY` maps names to
records for the CLI and tests.

## Proxies, the definitions they follow and the networks they are scored on

| name | definition followed | network it is scored on |
|---|---|---|
| `params` | xautodl `count_parameters` (NAS-Bench-Suite-Zero) | the architecture (supernet reports the selected ops only) |
| `flops` | xautodl `get_model_infos`: conv + linear MACs per image | same |
| `l2_norm` | NASLib `l2_norm.py`: Σ_l ‖W_l‖ over the conv/linear layers the cell uses | zero-cost-nas NB201 model |
| `grad_norm` | zero-cost-nas `grad_norm.py`: Σ_l ‖∂L/∂W_l‖ (per-layer norms summed), mean CE, batch 64 | zero-cost-nas NB201 model (cell convs with bias, non-affine cell BN), train-mode BN |
| `snip` | zero-cost-nas `snip.py`: Σ \|W⊙∂L/∂W\| | same |
| `grasp` | zero-cost-nas `grasp.py`: Σ −W⊙(Hg), g = ∂L/∂W held constant, T = 1 | same |
| `fisher` | zero-cost-nas `fisher.py`: per channel ½ mean_n (Σ_hw z ∂L/∂z)², weighted by fan-in as the reference's broadcast does | same |
| `plain` | zero-cost-nas / NASLib `plain.py`: Σ W⊙∂L/∂W | same |
| `synflow` | zero-cost-nas `measures/synflow.py`: \|θ⊙∂R/∂θ\| over conv/linear weights, abs weights, ones input, float64 | zero-cost-nas NB201 model with `use_bn=False` (BN kept only in the reduction blocks) |
| `jacob_cov` | zero-cost-nas `jacob_cov.py` (Mellor et al. v1): −Σ log(λ+k) + 1/(λ+k) of the correlation of input Jacobians, batch 64, float64 eigenvalues | zero-cost-nas NB201 model, train-mode BN |
| `epe_nas` | NASLib `epe_nas.py` (= EPE-NAS `search.py`): Σ_c \|Σ_{i,j∈c} log(\|C_ij\|+k)\|, batch 64 | same |
| `nwot` | NASWOT v2 (`hook_logdet`): log\|det K\| of binary ReLU codes, batch 128, ReLU-conv-BN ReLUs counted twice as the reference hooks do | xautodl network, `num_classes=1`, train-mode BN |
| `ntk_cond` | TE-NAS `get_ntk_n`: λ_max/λ_min of Θ = G Gᵀ, G_i = ∂Σ_c f_c(X)_i/∂θ over conv/linear weights and BN gammas, batch 72, float64 `eigvalsh` (lower is better) | xautodl network, train-mode BN |
| `ntk_min_eig` | λ_min of the same Θ (higher is better) | same |
| `linear_regions` | TE-NAS per architecture as AZ-NAS runs it (`compute_te_nas_score.py`): number of distinct per-sample post-ReLU sign patterns of 64 N(0,1) images drawn from the key (exact count by packed comparison) | xautodl network, train-mode BN |
| `ntk_trace_norm` | HNAS `ntk_trace.py`: √(tr Θ / N), Θ = G Gᵀ of per-sample gradient contributions (autograd-hacks `grad1`, `loss_type='sum'`) of S = Σ_i f_{y_i}(X)_i over conv/linear weights and biases, batch 64 | zero-cost-nas NB201 model, train-mode BN |
| `hnas_cond` | HNAS `condnum.py`: λ_max/λ_min of that Θ, float64 `eigvalsh`, `inf` when singular (lower is better) | same |
| `zico` | ZiCo `compute_zico.py`: Σ_l log Σ_θ mean_b\|g_b\|/std_b g_b over conv/linear weights, g_b the loss gradient of each half of the batch (two batches of 64) | xautodl network, train-mode BN |
| `meco` | MeCo `correlation/NAS_Bench_201.py`: Σ over module outputs (counted per module, as forward hooks on every module see them) of λ_min of the channel correlation of sample 0, batch 1 | zero-cost-nas NB201 model, train-mode BN |
| `meco_opt` | the same with 8 random channels per output, λ_min scaled by C/8 | same |
| `swap` | SWAP `src/metrics/swap.py`: number of distinct per-neuron post-ReLU sign patterns across a batch of 16 (packed into integers, sorted, changes counted) | xautodl network, train-mode BN |
| `reg_swap` | SWAP `cal_regular_factor`: swap × exp(−(P/1000 − μ)²/σ); μ, σ are arguments (the reference publishes no NB201 values; jaxnas's defaults, 950 / 1e6, were chosen on 933 cells outside the correlation benchmark's: `benchmarks/reg_swap_prior.py`) | same |
| `rbflex` | RBFleX-NAS `RBFleX_NAS-Bench-201.py`: N·(log\|det K\| + log\|det Q\|), RBF kernels (published NB201 γ) over the column-min-max-normalised outputs of every "ReLU"-named module (ReLUs and ReLU-conv-BN blocks) and over the classifier's input, each of 3 images forwarded alone; the determinants exactly, without the all-ones part (`expm1`), so float32 keeps 5 digits. HDA: `rbflex_hda` | xautodl network, train-mode BN |
| `vkdnw` | VKDNW `compute_vkdnw_score.py`: entropy of the normalised 0.1…0.9 quantiles of the eigenvalues of the empirical Fisher (per-sample logit Jacobians of the first 128 weight tensors, one weight each, analytic expectation over classes with the reference's float16 label smoothing), batch 64 N(0,1) images, float64 eigenvalues | xautodl network, `init="kaiming_normal"`, eval-mode BN |
| `vkdnw_dim` | the number of weight tensors the architecture uses (VKDNW's ℵ, which VKDNW_single ranks first) | same |
| `az_expressivity` | AZ-NAS `compute_az_nas_score.py`: Σ_l entropy of the normalised eigenvalues of the channel covariance of each cell-level feature map (stem, every cell and ResNet block) | xautodl network, `init="kaiming_normal"`, 64 N(0,1) images, train-mode BN |
| `az_progressivity` | min_l of the entropy increase from one feature map to the next | same |
| `az_trainability` | mean over blocks of −s − 1/(s+1e-6) + 2, s the top singular value of Gᵀ_in G_out/(NHW) for random ±1 output gradients and the block's own VJP (−inf for an identity cell) | same |
| `zen` | ZenNAS `compute_zen_score.py` (AZ-NAS's NB201 copy): log E_n Σ\|f(x) − f(x + 0.01ε)\| + Σ_BN log √mean_c(running var) after the two passes, f the map before global pooling | xautodl network, `init="normal"`, 64 N(0,1) images, train-mode BN |

Zen reads running BatchNorm statistics: jaxnas networks return the updated collections with
`net(variables, x, mutable=["batch_stats"])`, as Flax's `apply` does. AZ-NAS's fourth component,
complexity, is `flops`; its assembled score is a population-level rank
aggregate, `jaxnas.evaluate.log_rank_aggregate` (Σ_k log(rank_k / P)). TE-NAS's per-architecture
ranking is `jaxnas.evaluate.te_nas_aggregate` (rank of −`ntk_cond` plus rank of `linear_regions`);
VKDNW's are `jaxnas.evaluate.vkdnw_single` and `vkdnw_aggregate`.

### Shared passes, degenerate networks, per-sample gradients

Proxies scored together share their passes (`jaxnas.proxies.evaluate`; the population engine and the
CLI use it): grad_norm, snip, fisher, plain and grasp start from one forward/backward pass of the loss
(linearised when grasp is among them: its Hessian-vector product is that pass's tangent),
jacob_cov and epe_nas from one input-Jacobian pass, the three AZ-NAS components from one forward
pass (trainability adds one backward pass that gives every block's own vector-Jacobian product at
once, through cell-input probes, `Network.probes`). Each proxy's docstring states its reference, the
knobs where references differ, and its value on degenerate networks: on the 341 zero-output cells the
Jacobian proxies are NaN (0/0 correlations, as in the references) and NWOT is -inf; ranking maps
non-finite scores to worst in one place. `fisher` reads conv/linear outputs through per-sample
"gates" that jaxnas networks provide (`Network.gates`); the HNAS proxies read per-sample gradient
contributions through per-sample weight offsets (`Network.deltas`, `jaxnas.proxies.per_sample_gradients`:
the gradient with respect to sample n's offset is sample n's share of the weight gradient, train-mode
BatchNorm coupling included, computed as one batched matrix product per kernel tap).

### What a proxy may ask of a network; where a new proxy goes

Proxies read only what the network declares through `jaxnas.protocol`: `require(net,
Capability.X, proxy="name")` for what they need (a clear error naming the proxy, the network and
the capability), `has(net, Capability.X)` for optional extras (active-parameter masks, counts,
forward mode); layout facts (ReLU-conv-BN block tags on `Output.block`, block order and stages,
modules per captured tensor, the reference's parameter order) come from the network's `Layout`,
never from counting or parsing names. A new proxy: a function `(apply_fn, variables, batch, key)
-> scalar` in a module here, a `Proxy` record (direction, reference, batch size, its reference's
network overrides and init) and one entry in `_registry.py`; a new space needs no change here.

### Verification

Every proxy is validated against a naive float64 re-implementation written in its test, and the
classic ones, ZiCo, MeCo, SWAP, AZ-NAS, Zen, VKDNW, RBFleX-NAS, linear regions and TE-NAS's NTK
condition number against their PyTorch references with identical weights and batch, each against
its authors' code on full-size NB201 networks; the agreement reached per proxy is listed in
`benchmarks/README.md` (conformance with the references). In float32 the loss gradients of NB201
networks with many convolutions are ill-conditioned at initialisation (see the saliency proxies'
docstrings): pass float64 inputs where many digits must be reproducible. Rank correlations with
NB201 accuracy: ``benchmarks/results/correlation_nb201.md``.
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
