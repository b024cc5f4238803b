"""Convolutional autoencoders of seed 000: the Inception-like CAE (Table 1) and the baseline CAE.

Both follow the authors' Keras code (``cae_models.py`` of the paper's repository):

* every convolution is followed by BatchNorm and LeakyReLU(0.1), except the last layer, which
  is a convolution + BatchNorm + sigmoid;
* "same" padding, 2 x 2 max pooling in the encoder, 2 x 2 nearest upsampling in the decoder;
* Keras defaults are kept where they change the numbers: Glorot-uniform kernels with zero
  biases, BatchNorm momentum 0.99 (PyTorch ``momentum=0.01``) and epsilon 1e-3.

Input is ``N x C x 32 x 32`` in [0, 1] (28 px MNIST is zero-padded to 32 px by the detectors,
as in the authors' ``load_data.py``). Each module has ``encode`` (the bottleneck),
``embed`` (the vector a distance is computed on) and ``forward`` (the reconstruction).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["InceptionLayer", "InceptionCAE", "BaselineCAE", "SVDDCAE", "EncoderOnly", "keras_init_"]

LEAK = 0.1


KERAS_BN = {"eps": 1e-3, "momentum": 0.01}  # Keras: epsilon 1e-3, moving-average momentum 0.99
RUFF_BN = {"eps": 1e-4, "momentum": 0.1}  # Deep SVDD's PyTorch code (momentum: PyTorch's default)


def _bn(channels: int, affine: bool = True, bn: dict | None = None) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=affine, **(bn or KERAS_BN))


def keras_init_(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights and zero biases for every conv / linear layer (Keras defaults)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class _ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, *, bias: bool = True, affine: bool = True, bn: dict | None = None,
                 leak: float = LEAK):
        super().__init__(
            nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias), _bn(cout, affine, bn), nn.LeakyReLU(leak)
        )


class InceptionLayer(nn.Module):
    """Inception-like layer (seed 000, Fig. 1): 1x1, 3x3, 5x5 convolutions and a 3x3 max pool
    (stride 1) followed by a 1x1 convolution, each with ``n`` filters + BN + LeakyReLU(0.1),
    concatenated to ``4 n`` channels."""

    def __init__(self, in_channels: int, n: int):
        super().__init__()
        self.b1 = _ConvBNAct(in_channels, n, 1)
        self.b3 = _ConvBNAct(in_channels, n, 3)
        self.b5 = _ConvBNAct(in_channels, n, 5)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.bp = _ConvBNAct(in_channels, n, 1)
        self.out_channels = 4 * n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(self.pool(x))], dim=1)


class InceptionCAE(nn.Module):
    """Inception-like convolutional autoencoder, seed 000 Table 1.

    ``Inception(8), pool -> Inception(16), pool -> Inception(32), pool`` gives the
    ``4 x 4 x 128`` bottleneck for a 32 px input; the decoder mirrors it with upsampling and
    ends in ``Conv2D(n_channels, 3x3) + BN + sigmoid``. :meth:`embed` is the global average
    pool of the bottleneck (128-d), which the paper applies at prediction time.

    ``train_gap`` puts the GAP layer inside the network, as the paper's text says it did for
    MNIST and Fashion-MNIST ("the GAP layer must be included during training to ensure that
    the bottleneck layer is narrower than the input layer"); the decoder then starts from the
    128-d pooled code. The text does not say how, so two readings are offered, neither adding
    weights to the encoder: ``"reshape"`` lays the code out as ``4 x 4 x 8`` (Keras'
    ``Reshape((4, 4, 8))``, channels last, as the authors' baseline CAE does with its 128-d
    code; the first decoder layer then takes 8 channels) and ``"tile"`` repeats the
    ``1 x 1 x 128`` code over the ``4 x 4`` grid (``UpSampling2D((4, 4))``). ``None`` (the
    authors' public code) trains without it. :meth:`embed` is the same in all cases.
    """

    def __init__(self, in_channels: int = 1, filters: Sequence[int] = (8, 16, 32), train_gap: str | None = None):
        super().__init__()
        if len(filters) != 3:
            raise ValueError(f"filters must have 3 entries (Table 1 uses 8, 16, 32), got {filters!r}")
        f1, f2, f3 = (int(f) for f in filters)
        self.in_channels = in_channels
        self.enc1, self.enc2, self.enc3 = InceptionLayer(in_channels, f1), InceptionLayer(4 * f1, f2), InceptionLayer(4 * f2, f3)
        if train_gap not in (None, "reshape", "tile"):
            raise ValueError(f"train_gap must be None, 'reshape' or 'tile', got {train_gap!r}")
        if train_gap == "reshape" and (4 * f3) % 16:
            raise ValueError(f"train_gap='reshape' lays the {4 * f3}-d code out on a 4 x 4 grid: needs a multiple of 16")
        self.train_gap = train_gap
        dec_in = 4 * f3 // 16 if train_gap == "reshape" else 4 * f3
        self.dec1, self.dec2, self.dec3 = InceptionLayer(dec_in, f3), InceptionLayer(4 * f3, f2), InceptionLayer(4 * f2, f1)
        self.out_conv = nn.Conv2d(4 * f1, in_channels, 3, padding=1)
        self.out_bn = _bn(in_channels)
        self.embed_dim = 4 * f3
        keras_init_(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.enc1(x), 2)
        x = F.max_pool2d(self.enc2(x), 2)
        return F.max_pool2d(self.enc3(x), 2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = F.interpolate(self.dec1(z), scale_factor=2, mode="nearest")
        z = F.interpolate(self.dec2(z), scale_factor=2, mode="nearest")
        z = F.interpolate(self.dec3(z), scale_factor=2, mode="nearest")
        return torch.sigmoid(self.out_bn(self.out_conv(z)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encode(x)
        if self.train_gap == "tile":  # the 1 x 1 x 128 code repeated over the 4 x 4 grid
            z = z.mean(dim=(2, 3), keepdim=True).expand_as(z)
        elif self.train_gap == "reshape":  # Keras Reshape((4, 4, 8)): code[i] -> (i // 32, i // 8 % 4, i % 8)
            n, c, h, w = z.shape
            if (h, w) != (4, 4):
                raise ValueError(f"train_gap='reshape' needs a 4 x 4 bottleneck (32 x 32 input), got {h} x {w}")
            z = z.mean(dim=(2, 3)).view(n, 4, 4, c // 16).permute(0, 3, 1, 2)
        return self.decode(z)


class BaselineCAE(nn.Module):
    """The baseline CAE the paper compares with (Deep SVDD's CIFAR-10 LeNet-type CAE, as in the
    authors' ``baselineCAE``), for 32 px inputs with 1 or 3 channels.

    Encoder: ``Conv(32, 5x5), pool -> Conv(64, 5x5), pool -> Conv(128, 5x5), pool -> Dense(128)
    + LeakyReLU``; decoder: reshape to ``8 x 4 x 4`` -> ``Conv(128), up -> Conv(64), up ->
    Conv(32), up -> Conv(C, 5x5) + BN + sigmoid``. :meth:`embed` is the 128-d dense output.
    Deep SVDD's bias-free variant of the same layers is :class:`SVDDCAE`.
    """

    def __init__(self, in_channels: int = 1, rep_dim: int = 128):
        super().__init__()
        _check_rep_dim(rep_dim)
        self.in_channels = in_channels
        self.rep_dim = self.embed_dim = rep_dim
        self.enc = nn.ModuleList([_ConvBNAct(in_channels, 32, 5), _ConvBNAct(32, 64, 5), _ConvBNAct(64, 128, 5)])
        self.fc = nn.Linear(128 * 4 * 4, rep_dim)
        self.dec = nn.ModuleList([_ConvBNAct(rep_dim // 16, 128, 5), _ConvBNAct(128, 64, 5), _ConvBNAct(64, 32, 5)])
        self.out_conv = nn.Conv2d(32, in_channels, 5, padding=2)
        self.out_bn = _bn(in_channels)
        keras_init_(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.fc(_lenet_features(self, x)), LEAK)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = _lenet_upsample(self, z.view(len(z), self.rep_dim // 16, 4, 4))
        return torch.sigmoid(self.out_bn(self.out_conv(z)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _check_rep_dim(rep_dim: int) -> None:
    if rep_dim % 16:
        raise ValueError(f"rep_dim must be a multiple of 16 (it is reshaped to 4 x 4), got {rep_dim}")


def _lenet_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The three conv + pool stages shared by :class:`BaselineCAE` and :class:`SVDDCAE`, flattened."""
    if x.shape[-2:] != (32, 32):
        raise ValueError(f"{type(net).__name__} takes 32 x 32 images, got {tuple(x.shape[-2:])}")
    for layer in net.enc:
        x = F.max_pool2d(layer(x), 2)
    return x.flatten(1)


def _lenet_upsample(net: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The three conv + 2x upsampling stages of both decoders, from the 4 x 4 code to 32 x 32."""
    for layer in net.dec:
        z = F.interpolate(layer(z), scale_factor=2, mode="nearest")
    return z


class SVDDCAE(nn.Module):
    """Deep SVDD's bias-free LeNet-type autoencoder for 32 px inputs with 1 or 3 channels, as in
    Ruff et al.'s PyTorch code (``CIFAR10_LeNet_Autoencoder`` and the ``CIFAR10_LeNet`` network
    it initialises): the layers of :class:`BaselineCAE` without bias terms or BatchNorm affine
    parameters, so the network cannot map every input to the centre and collapse.

    Encoder: ``[Conv(5x5) + BN + LeakyReLU, pool] x 3 (32, 64, 128 filters) -> Dense(128)``;
    :meth:`embed` is that dense output, linear (the Deep SVDD network's output, no activation).
    Decoder, used only to pretrain: ``BN1d -> reshape 8 x 4 x 4 -> LeakyReLU -> [Conv(5x5) +
    BN + LeakyReLU, up] x 3 (128, 64, 32 filters) -> Conv(C, 5x5) + sigmoid`` (no BatchNorm
    before the sigmoid: without affine parameters it would pin every output's mean near 0.5).
    Ruff's settings: BatchNorm eps 1e-4 / momentum 0.1, ``F.leaky_relu``'s slope 0.01, convolution
    kernels Xavier-uniform with the leaky-ReLU gain, the dense layer PyTorch's default init.
    """

    def __init__(self, in_channels: int = 1, rep_dim: int = 128, *, leak: float = 0.01):
        super().__init__()
        _check_rep_dim(rep_dim)
        self.in_channels, self.leak = in_channels, leak
        self.rep_dim = self.embed_dim = rep_dim
        kw = {"bias": False, "affine": False, "bn": RUFF_BN, "leak": leak}
        self.enc = nn.ModuleList([_ConvBNAct(in_channels, 32, 5, **kw), _ConvBNAct(32, 64, 5, **kw), _ConvBNAct(64, 128, 5, **kw)])
        self.fc = nn.Linear(128 * 4 * 4, rep_dim, bias=False)
        self.code_bn = nn.BatchNorm1d(rep_dim, affine=False, **RUFF_BN)
        self.dec = nn.ModuleList([_ConvBNAct(rep_dim // 16, 128, 5, **kw), _ConvBNAct(128, 64, 5, **kw), _ConvBNAct(64, 32, 5, **kw)])
        self.out_conv = nn.Conv2d(32, in_channels, 5, padding=2, bias=False)
        gain = nn.init.calculate_gain("leaky_relu", leak)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight, gain=gain)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(_lenet_features(self, x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = F.leaky_relu(self.code_bn(z).view(len(z), self.rep_dim // 16, 4, 4), self.leak)
        return torch.sigmoid(self.out_conv(_lenet_upsample(self, z)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class EncoderOnly(nn.Module):
    """``forward = cae.embed``: lets a training loop that calls ``forward`` train an encoder
    (Deep SVDD's second stage). The decoder's parameters get no gradient and stay as they are."""

    def __init__(self, cae: nn.Module):
        super().__init__()
        self.cae = cae

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cae.embed(x)
