"""VGG19 backbone (weights, checksum, shapes, perceptual ordering) and the DPA autoencoder."""

import numpy as np
import pytest
import torch

from anomalens.data.backbones import load_vgg19_weights, vgg19_feature_stats
from anomalens.nn.dpa import PerceptualDistance, ProgressiveAE, dpa_widths
from anomalens.nn.vgg import VGG19, VGG19_LAYERS


@pytest.fixture(scope="module")
def vgg():
    net = VGG19()
    net.load_state_dict(load_vgg19_weights())
    return net.eval()


def test_dequantised_weights_have_vgg19_shapes_and_few_distinct_values():
    state = load_vgg19_weights()
    assert state["conv1_1.weight"].shape == (64, 3, 3, 3)
    assert state["conv5_4.weight"].shape == (512, 512, 3, 3)
    assert len(state) == 32
    assert len(torch.unique(state["conv3_2.weight"])) <= 256  # 8-bit codebook per layer
    assert state["conv3_2.weight"].std() > 0


def test_feature_maps_have_the_published_shapes(vgg):
    with torch.no_grad():
        out = vgg(vgg.preprocess(torch.rand(2, 3, 64, 64)), VGG19_LAYERS)
    assert list(out) == list(VGG19_LAYERS)
    for name, f in out.items():
        assert f.shape == (2, VGG19.channels(name), 64 // VGG19.stride(name), 64 // VGG19.stride(name))
        assert (f >= 0).all()
    assert out["relu4_2"].shape == (2, 512, 8, 8) and out["relu1_1"].shape == (2, 64, 64, 64)


def test_caffe_preprocessing_is_bgr_0_255_minus_mean(vgg):
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 1.0  # pure red
    p = vgg.preprocess(x)
    assert torch.allclose(p[0, :, 0, 0], torch.tensor([-103.939, -116.779, 255 - 123.68]))
    gray = vgg.preprocess(torch.full((1, 1, 2, 2), 0.5))
    assert gray.shape == (1, 3, 2, 2)


def _textures(n, size=32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size + 1, 0:size + 1] / size
    out = []
    for _ in range(n):
        fx, fy, ph = rng.uniform(2, 6), rng.uniform(2, 6), rng.uniform(0, 6)
        img = 0.5 + 0.25 * np.sin(2 * np.pi * (fx * xx + ph)) * np.cos(2 * np.pi * fy * yy) + rng.normal(0, 0.05, xx.shape)
        out.append(np.clip(img, 0, 1))
    return torch.tensor(np.stack(out), dtype=torch.float32)[:, None]


def test_perceptual_distance_orders_a_one_pixel_shift_closer_than_another_image(vgg):
    dist = PerceptualDistance(vgg, vgg19_feature_stats())
    imgs = _textures(6) * 2 - 1  # [-1, 1], 33 x 33
    a, shifted = imgs[:, :, :32, :32], imgs[:, :, 1:, 1:]
    other = a.roll(1, 0)
    for layers in (["relu2_2"], ["relu3_2"], ["relu3_2", "relu4_2"]):
        with torch.no_grad():
            d_shift, d_other = dist(a, shifted, layers), dist(a, other, layers)
        assert (d_shift < d_other).all(), (layers, d_shift, d_other)
        assert torch.allclose(dist(a, a, layers), torch.zeros(6))
    maps = dist(a, other, ["relu3_2"], maps=True)
    assert maps.shape == (6, 32, 32) and (maps >= 0).all()


def test_feature_statistics_cover_every_layer():
    stats = vgg19_feature_stats()
    assert set(stats) == set(VGG19_LAYERS)
    for name, (mean, std) in stats.items():
        assert mean.shape == std.shape == (VGG19.channels(name),)
        assert (std > 0).all() and (mean >= 0).all()


# -- the autoencoder -------------------------------------------------------------------------------
def test_widths_reproduce_the_authors_tables():
    assert dpa_widths(8, 32) == {4: 8, 8: 8, 16: 8, 32: 8}
    assert dpa_widths(64, 32) == {32: 32, 16: 64, 8: 64, 4: 64}
    assert dpa_widths(256, 32) == {32: 32, 16: 64, 8: 128, 4: 256}


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 32), (3, 64)])
def test_shapes_at_every_stage(channels, size):
    net = ProgressiveAE(channels, size, latent_dim=16)
    x = torch.rand(2, channels, size, size) * 2 - 1
    z = net.encode(x, net.alpha())
    assert z.shape == (2, 16, 1, 1)
    r = 8
    while r <= size:
        for transition in ([False] if r == 8 else [True, False]):
            net.set_stage(r, transition, transition_steps=10)
            target, recon, alpha = net(x)
            assert target.shape == recon.shape == (2, channels, r, r)
            assert 0 <= float(alpha) <= 1
        r *= 2


def test_alpha_zero_and_one_reduce_to_the_neighbouring_stages():
    torch.manual_seed(0)
    net = ProgressiveAE(1, 32, latent_dim=8).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        net.set_stage(16, False)
        t16, r16, _ = net(x)
        net.set_stage(32, False)
        t32, r32, _ = net(x)
        net.set_stage(32, True, transition_steps=4)
        t0, r0, a0 = net(x)  # eval: alpha stays 0
        up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2.0, mode="nearest")  # noqa: E731
        assert float(a0) == 0
        assert torch.allclose(t0, up(t16), atol=1e-6) and torch.allclose(r0, up(r16), atol=1e-5)
        net.pg_step.fill_(4)
        t1, r1, a1 = net(x)
        assert float(a1) == 1
        assert torch.allclose(t1, t32) and torch.allclose(r1, r32, atol=1e-5)


def test_alpha_grows_linearly_with_training_steps():
    net = ProgressiveAE(1, 16, latent_dim=4).train()
    net.set_stage(16, True, transition_steps=4)
    x = torch.zeros(1, 1, 16, 16)
    alphas = [float(net(x)[2]) for _ in range(6)]
    assert alphas == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    net.set_stage(16, False)
    assert float(net(x)[2]) == 1.0
