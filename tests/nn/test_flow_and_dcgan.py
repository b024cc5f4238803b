"""RealNVP (seed 003): invertible, exact log-determinant, fits a known density; DCGAN shapes."""

import math

import numpy as np
import pytest
import torch

from anomalens.nn import DCGANAutoencoder, DCGANEncoder, RealNVP
from anomalens.train import Phase, seeded, train_models


def _trained_flow(dim=6, steps_data=512):
    """A flow with non-trivial weights and BatchNorm running statistics."""
    flow = seeded(0, lambda: RealNVP(dim, n_couplings=4, hidden=32)).double()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    flow.train()
    for _ in range(5):  # a few batches move the running statistics away from (0, 1)
        flow(torch.randn(steps_data, dim, generator=g, dtype=torch.float64) * 2 + 1)
    return flow.eval()


def test_flow_is_invertible():
    flow = _trained_flow()
    x = torch.randn(64, 6, dtype=torch.float64)
    z, _ = flow.transform(x)
    torch.testing.assert_close(flow.inverse(z), x, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(z, x)


def test_log_determinant_matches_brute_force_jacobian():
    flow = _trained_flow(dim=4)
    x = torch.randn(5, 4, dtype=torch.float64)
    _, logdet = flow.transform(x)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: flow.transform(v[None])[0][0], x[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1], rtol=1e-9, atol=1e-9)


def test_flow_fits_a_known_2d_density():
    """A correlated, shifted Gaussian: the fitted mean log-likelihood approaches the true one."""
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 1.2], [1.2, 1.0]])
    mean = np.array([3.0, -1.0])
    train = torch.tensor(rng.multivariate_normal(mean, cov, 4000), dtype=torch.float32)
    test = rng.multivariate_normal(mean, cov, 2000)
    flow = seeded(0, lambda: RealNVP(2, n_couplings=6, hidden=64))
    train_models([flow], train, lambda f, x, t: -f(x).mean(), phases=[Phase(20, 3e-3), Phase(10, 3e-4)],
                 batch_size=200, seeds=[0], weight_decay=0.0)
    flow.eval()
    with torch.no_grad():
        ours = flow(torch.tensor(test, dtype=torch.float32)).double().mean().item()
    diff = test - mean
    true = (-0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
            - 0.5 * np.log(np.linalg.det(2 * math.pi * cov))).mean()
    assert ours == pytest.approx(true, abs=0.05)


def test_dcgan_shapes_follow_ganomaly():
    ae = DCGANAutoencoder(1, latent=100, size=32)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert ae.embed(x).shape == (3, 100) and ae(x).shape == (3, 1, 32, 32)
    assert ae(x).abs().max() <= 1
    enc = DCGANEncoder(3, latent=16, size=64, width=8)
    assert enc(torch.zeros(2, 3, 64, 64)).shape == (2, 16) and enc.features(torch.zeros(2, 3, 64, 64)).shape == (2, 64, 4, 4)
    # GANomaly's 32 px encoder: convs 1->64, 64->128, 128->256 (4x4, no bias), BN on the last two, 256->100 head
    assert sum(p.numel() for p in ae.encoder.parameters()) == 16 * 64 + 16 * 64 * 128 + 16 * 128 * 256 + 2 * (128 + 256) + 16 * 256 * 100
    with pytest.raises(ValueError, match="power of two"):
        DCGANEncoder(1, size=28)


def test_ganomaly_terms_train_only_their_own_network():
    from torch.func import functional_call

    from anomalens.nn import GANomalyNet

    net = seeded(0, lambda: GANomalyNet(1, latent=8, size=16, width=4))
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    params = dict(net.named_parameters())
    for nested in (False, True):  # plain, and inside functional_call as in the training loop
        terms = functional_call(net, (params, dict(net.named_buffers())), (x,)) if nested else net(x)
        assert terms.shape == (4,)
        gen = [p for n, p in params.items() if not n.startswith("disc.")]
        disc = [p for n, p in params.items() if n.startswith("disc.")]
        g_adv = torch.autograd.grad(terms[0], gen + disc, retain_graph=True, allow_unused=True)
        assert all(g is None or not g.any() for g in g_adv[len(gen):])  # adversarial term: generator only
        assert any(g is not None and g.any() for g in g_adv[: len(gen)])
        g_d = torch.autograd.grad(terms[3], gen + disc, allow_unused=True)
        assert all(g is None or not g.any() for g in g_d[: len(gen)])  # discriminator term: discriminator only
        assert any(g is not None and g.any() for g in g_d[len(gen):])
    assert net.eval().score(x).shape == (6,)
