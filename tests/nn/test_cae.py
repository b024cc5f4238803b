"""Seed 000 networks: layer shapes of Table 1 and parameter counts from the architecture."""

import pytest
import torch

from anomalens.nn import BaselineCAE, EncoderOnly, InceptionCAE, SVDDCAE


def inception_params(cin, n):
    """Trainable parameters of one Inception(n) layer on cin channels: four convolutions
    (1x1, 3x3, 5x5, pool->1x1) with bias, each followed by a BatchNorm (gamma, beta)."""
    return (1 + 9 + 25 + 1) * cin * n + 4 * n + 4 * 2 * n


def expected_inception_cae(c):
    enc = inception_params(c, 8) + inception_params(32, 16) + inception_params(64, 32)
    dec = inception_params(128, 32) + inception_params(128, 16) + inception_params(64, 8)
    out = 9 * 32 * c + c + 2 * c
    return enc + dec + out


def expected_baseline_cae(c):
    conv = lambda cin, cout: 25 * cin * cout + cout + 2 * cout  # noqa: E731  conv + bias + BN
    enc = conv(c, 32) + conv(32, 64) + conv(64, 128) + (128 * 16 * 128 + 128)
    dec = conv(8, 128) + conv(128, 64) + conv(64, 32) + conv(32, c)
    return enc + dec


def trainable(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


@pytest.mark.parametrize("c", [1, 3])
def test_inception_cae_shapes_follow_table_1(c):
    net = InceptionCAE(c).eval()
    x = torch.rand(2, c, 32, 32)
    shapes = []
    h = x
    for layer in (net.enc1, net.enc2, net.enc3):
        h = torch.nn.functional.max_pool2d(layer(h), 2)
        shapes.append(tuple(h.shape[1:]))
    for layer in (net.dec1, net.dec2, net.dec3):
        h = torch.nn.functional.interpolate(layer(h), scale_factor=2)
        shapes.append(tuple(h.shape[1:]))
    # Table 1, channels first: 16x16x32, 8x8x64, 4x4x128, 8x8x128, 16x16x64, 32x32x32
    assert shapes == [(32, 16, 16), (64, 8, 8), (128, 4, 4), (128, 8, 8), (64, 16, 16), (32, 32, 32)]
    with torch.no_grad():
        y = net(x)
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1  # sigmoid output
        assert net.encode(x).shape == (2, 128, 4, 4) and net.embed(x).shape == (2, 128)
        torch.testing.assert_close(net.embed(x), net.encode(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("c", [1, 3])
def test_parameter_counts(c):
    assert trainable(InceptionCAE(c)) == expected_inception_cae(c)
    assert trainable(BaselineCAE(c)) == expected_baseline_cae(c)
    # Deep SVDD's variant: the same convolutions and dense layer without any bias or BN affine
    # parameter, and no BatchNorm before the sigmoid
    conv = lambda cin, cout: 25 * cin * cout  # noqa: E731
    svdd = SVDDCAE(c)
    assert all(p.dim() > 1 for p in svdd.parameters())
    assert trainable(svdd) == (conv(c, 32) + conv(32, 64) + conv(64, 128) + 128 * 16 * 128
                               + conv(8, 128) + conv(128, 64) + conv(64, 32) + conv(32, c))


def test_svdd_cae_follows_ruffs_network():
    torch.manual_seed(0)
    net = SVDDCAE(1).train()
    assert all(bn.eps == 1e-4 and bn.momentum == 0.1 and not bn.affine
               for bn in net.modules() if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm))
    assert all(m.negative_slope == 0.01 for m in net.modules() if isinstance(m, torch.nn.LeakyReLU))
    # Xavier-uniform convolution kernels with the leaky-ReLU gain (a bound above Glorot's own)
    w = net.enc[1][0].weight.detach()
    bound = torch.nn.init.calculate_gain("leaky_relu", 0.01) * (6 / (25 * 32 + 25 * 64)) ** 0.5
    assert 0.8 * bound < float(w.abs().max()) <= bound
    x = torch.rand(64, 1, 32, 32) * 0.2  # dark images, as MNIST's are mostly background
    with torch.no_grad():
        y = net(x)
        assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
        # nothing pins the output's mean near 0.5 (an affine-free BatchNorm before the sigmoid would)
        net.out_conv.weight.fill_(-0.02)
        assert float(net(x).mean()) < 0.1
        # the embedding is the dense layer's linear output, negative entries kept (no activation)
        z = net.embed(x)
    assert z.shape == (64, 128) and float(z.min()) < -0.1
    torch.testing.assert_close(EncoderOnly(net)(x), z)
    with pytest.raises(ValueError, match="SVDDCAE takes 32 x 32"):
        net(torch.rand(1, 1, 28, 28))


def test_keras_batchnorm_settings_and_glorot_init():
    net = InceptionCAE(1)
    bn = net.enc1.b1[1]
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)
    conv = net.enc2.b5[0]
    w = conv.weight.detach()
    fan_in, fan_out = conv.weight.shape[1] * 25, conv.weight.shape[0] * 25
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.8 * bound
    assert float(conv.bias.detach().abs().max()) == 0.0


def test_baseline_cae_shapes_and_size_check():
    net = BaselineCAE(3).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert net.embed(x).shape == (2, 128) and net(x).shape == x.shape
        assert EncoderOnly(net)(x).shape == (2, 128)
    with pytest.raises(ValueError, match="32 x 32"):
        net(torch.rand(1, 3, 28, 28))
    with pytest.raises(ValueError, match="filters"):
        InceptionCAE(1, filters=(8, 16))


def test_train_gap_decodes_the_pooled_code_only():
    torch.manual_seed(0)
    plain, tile = InceptionCAE(1).eval(), InceptionCAE(1, train_gap="tile").eval()
    tile.load_state_dict(plain.state_dict())  # same weights: no new parameters
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        z = plain.encode(x)
        pooled = z.mean(dim=(2, 3), keepdim=True).expand_as(z)
        torch.testing.assert_close(tile(x), plain.decode(pooled))
        assert not torch.allclose(tile(x), plain(x))
        torch.testing.assert_close(tile.embed(x), plain.embed(x))
        # "reshape": Keras' Reshape((4, 4, 8)) of the 128-d code, channels last, into an 8-channel decoder
        reshape = InceptionCAE(1, train_gap="reshape").eval()
        assert reshape.dec1.b1[0].in_channels == 8 and trainable(reshape) < trainable(plain)
        code = reshape.embed(x)
        grid = torch.stack([code[:, i * 32 + j * 8: i * 32 + j * 8 + 8] for i in range(4) for j in range(4)], -1)
        torch.testing.assert_close(reshape(x), reshape.decode(grid.view(3, 8, 4, 4)))
        # either way the decoder sees only the GAP: codes with the same spatial means decode alike
        for net in (tile, reshape):
            expected = net(x)
            shuffled = net.encode(x).flatten(2)[..., torch.randperm(16)].view_as(z)
            net.encode = lambda inp, f=shuffled: f  # the same channel means, other spatial layout
            torch.testing.assert_close(net(x), expected)
            net.encode = lambda inp, f=shuffled: f + torch.linspace(0, 1, 128).view(1, 128, 1, 1)
            assert not torch.allclose(net(x), expected)  # another code decodes differently
    with pytest.raises(ValueError, match="train_gap"):
        InceptionCAE(1, train_gap=True)
    with pytest.raises(ValueError, match="4 x 4 bottleneck"):
        InceptionCAE(1, train_gap="reshape")(torch.rand(1, 1, 64, 64))
