"""VGG19's convolutional part (Simonyan & Zisserman 2015) as a frozen feature extractor.

Layer names follow the usual convention: ``conv{b}_{i}`` / ``relu{b}_{i}`` for block ``b``
(1-5) and convolution ``i``; ``pool{b}`` closes each block. The module holds no weights of
its own: :func:`anomalens.data.backbones.load_vgg19_weights` supplies the original ImageNet
weights (the Caffe model, as Keras republished it), and with them the network expects
**Caffe preprocessing** -- BGR channel order, values 0-255, the ImageNet mean pixel
subtracted -- which :meth:`VGG19.preprocess` applies to images in [0, 1] (grayscale images
are repeated to three channels first).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ._rgb import three_channels

__all__ = ["VGG19", "VGG19_LAYERS", "CAFFE_BGR_MEAN"]

#: (block, convolutions, width)
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
#: the ReLU outputs, shallow to deep: relu1_1 ... relu5_4
VGG19_LAYERS: tuple[str, ...] = tuple(f"relu{b}_{i}" for b, n, _ in _BLOCKS for i in range(1, n + 1))
#: ImageNet mean pixel in BGR order, 0-255 (the Caffe model's preprocessing)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


class VGG19(nn.Module):
    """VGG19 convolutions, ReLUs and max-pools; ``forward`` returns the asked ReLU outputs.

    The parameters are frozen (``requires_grad=False``): gradients still flow to the *input*,
    which is what a perceptual loss needs.
    """

    def __init__(self) -> None:
        super().__init__()
        c_in = 3
        for b, n, width in _BLOCKS:
            for i in range(1, n + 1):
                self.add_module(f"conv{b}_{i}", nn.Conv2d(c_in, width, 3, padding=1))
                c_in = width
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def channels(layer: str) -> int:
        """Channels of a ReLU output (``relu3_2`` -> 256)."""
        return dict((b, w) for b, _, w in _BLOCKS)[_block(layer)]

    @staticmethod
    def stride(layer: str) -> int:
        """Down-sampling factor of a ReLU output relative to the input (``relu3_2`` -> 4)."""
        return 2 ** (_block(layer) - 1)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], ``N x C x H x W`` RGB or grayscale -> Caffe input (BGR, 0-255, mean subtracted)."""
        x = three_channels(x, "VGG19")
        return x.flip(1) * 255.0 - self.mean

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """ReLU outputs named in ``layers`` for *preprocessed* input ``x`` (see :meth:`preprocess`);
        computation stops at the deepest one asked for."""
        wanted = set(layers)
        unknown = wanted - set(VGG19_LAYERS)
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {sorted(unknown)}; valid: {', '.join(VGG19_LAYERS)}")
        last = max(VGG19_LAYERS.index(name) for name in wanted)
        out: dict[str, torch.Tensor] = {}
        for name in VGG19_LAYERS[: last + 1]:
            b, i = name[4:].split("_")
            if i == "1" and b != "1":
                x = torch.nn.functional.max_pool2d(x, 2)
            x = torch.relu(getattr(self, f"conv{b}_{i}")(x))
            if name in wanted:
                out[name] = x
        return out


def _block(layer: str) -> int:
    if layer not in VGG19_LAYERS:
        raise ValueError(f"unknown VGG19 layer {layer!r}; valid: {', '.join(VGG19_LAYERS)}")
    return int(layer[4])
