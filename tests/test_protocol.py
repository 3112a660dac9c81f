"""The network contract: declarations, the errors proxies give for what a network lacks, and the
NB201 networks' declared Layout (no compilation)."""

import pytest

from jaxnas import models, protocol, proxies
from jaxnas.protocol import Capability, CapabilityError


def test_declare_has_require():
  class Net:
    capabilities = protocol.declare(Capability.GATES)

    def __call__(self, variables, x, **kw):
      return x

  net = Net()
  assert protocol.has(net, Capability.GATES) and protocol.has(net, Capability.LOGITS)
  assert not protocol.has(net, Capability.JVP)
  assert protocol.capabilities(lambda v, x: x) == protocol.PLAIN
  with pytest.raises(CapabilityError, match=r"zen needs the network's 'active' capability, which Net "
                                            r"does not declare \(it declares \['gates', 'logits'\]\)"):
    protocol.require(net, Capability.ACTIVE, proxy="zen")
  with pytest.raises(TypeError, match="Capability values"):
    protocol.declare("gates")
  net.capabilities = {"gates"}
  with pytest.raises(TypeError, match="frozenset of jaxnas.protocol.Capability"):
    protocol.has(net, Capability.GATES)
  assert proxies.Batch is protocol.Batch


def test_nb201_networks_declare_their_layout():
  exact = models.nb201_network((3, 1, 4, 0, 2, 1), C=4, N=2)
  sup = models.supernet("nb201", C=4, N=2)
  for net in (exact, sup):
    assert net.capabilities == frozenset(Capability)
    lay = protocol.layout(net, proxy="test")
    assert lay.max_modules == 3
    assert [(b.key, b.position, b.count, b.stage) for b in lay.probes] == [
        ("layer0_cells", 1, 2, 0), ("layer2_input", 3, 1, 1), ("layer3_cells", 4, 2, 1),
        ("layer5_input", 6, 1, 2), ("layer6_cells", 7, 2, 2)]
    assert lay.param_order(("stem", "conv", "kernel"), None) < lay.param_order(
        ("layer0_cells", "edge_1_0_nor_conv_3x3", "conv", "kernel"), 0)
  nats = models.network("nats_sss", models.SPACES["nats_sss"].space.encode("8:16:24:32:40"))
  assert [b.key for b in nats.layout.probes] == ["layer0_cells", "layer1_input", "layer2_cell",
                                                 "layer3_input", "layer4_cell"]


def test_space_registry():
  assert set(models.SPACES) >= {"nb201", "nats_sss"}
  spec = models.space_spec("nb201")
  assert spec.costs((3, 3, 3, 3, 3, 3))[0] == spec.space.num_params((3, 3, 3, 3, 3, 3)) == 1531546
  assert models.supernet("nats_sss").is_supernet  # the channel-masked supernet (models._nats)
  with pytest.raises(ValueError, match="Unknown search space 'nb999'; known spaces: 'nb201', "):
    models.space_spec("nb999")
