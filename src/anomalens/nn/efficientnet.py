"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant of the TensorFlow model garden) as a
frozen feature extractor.

Lite0 is EfficientNet-B0 made for integer accelerators: no squeeze-and-excitation, ReLU6 in
place of swish, and the stem and head kept at B0's widths. Sixteen MBConv blocks in seven
stages; the stage outputs (``stage1`` ... ``stage7``) are what a patch detector takes. The
convolutions use TensorFlow's "same" padding (for a stride-2 convolution of an even-sized
input, one more row and column of zeros at the bottom and right than at the top and left),
so the ported ImageNet weights give the activations they were trained with.

The module holds no weights of its own: :func:`anomalens.data.backbones.load_efficientnet_lite0_weights`
supplies the ImageNet weights, keyed as this module's ``state_dict``. With them the network
expects TensorFlow-Lite preprocessing -- RGB, ``(pixel - 127) / 128`` for pixels in 0-255 --
which :meth:`EfficientNetLite0.preprocess` applies to images in [0, 1] (grayscale images are
repeated to three channels first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from ._rgb import three_channels

__all__ = ["EfficientNetLite0", "EFFICIENTNET_LITE0_STAGES"]

#: per stage: (expansion, kernel, first stride, output channels, blocks) -- EfficientNet-B0's table
_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
#: the stage outputs, shallow to deep
EFFICIENTNET_LITE0_STAGES: tuple[str, ...] = tuple(f"stage{i}" for i in range(1, len(_STAGES) + 1))
_BN_EPS = 1e-3  # TensorFlow's, with which the weights were trained


class _SameConv(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "same" padding: output size ``ceil(input / stride)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (omitted when ``expand == 1``), depthwise ``kernel``
    convolution, 1x1 projection; BatchNorm after each, ReLU6 after the first two; identity
    shortcut when the shape is kept. Attribute names follow the ported weights'."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._depthwise_conv = _SameConv(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=_BN_EPS)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0; ``forward`` returns the asked stage outputs, :meth:`classify` the
    1,000 ImageNet logits. Parameters are frozen and the module is meant to stay in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS)
        blocks, self._stage_ends, c_in = [], [], 32
        for expand, kernel, stride, c_out, n in _STAGES:
            for i in range(n):
                blocks.append(_MBConv(c_in, c_out, expand, kernel, stride if i == 0 else 1))
                c_in = c_out
            self._stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(c_in, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=_BN_EPS)
        self._fc = nn.Linear(1280, 1000)
        for p in self.parameters():
            p.requires_grad_(False)

    @staticmethod
    def channels(stage: str) -> int:
        """Channels of a stage output (``stage3`` -> 40)."""
        return _STAGES[_stage(stage)][3]

    @staticmethod
    def stride(stage: str) -> int:
        """Down-sampling factor of a stage output relative to the input (``stage3`` -> 8)."""
        return 2 * math.prod(s[2] for s in _STAGES[: _stage(stage) + 1])

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], ``N x C x H x W`` RGB or grayscale -> the network's input."""
        x = three_channels(x, "EfficientNet-Lite0")
        return (x * 255.0 - 127.0) / 128.0

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Stage outputs named in ``layers`` for *preprocessed* input ``x``; computation stops at
        the deepest one asked for."""
        wanted = set(layers)
        unknown = wanted - set(EFFICIENTNET_LITE0_STAGES)
        if unknown:
            raise ValueError(f"unknown EfficientNet-Lite0 stage(s) {sorted(unknown)}; "
                             f"valid: {', '.join(EFFICIENTNET_LITE0_STAGES)}")
        last = max(_stage(name) for name in wanted)
        out: dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks[: self._stage_ends[last] + 1]):
            x = block(x)
            if i in self._stage_ends:
                name = EFFICIENTNET_LITE0_STAGES[self._stage_ends.index(i)]
                if name in wanted:
                    out[name] = x
        return out

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (``N x 1000``) for *preprocessed* input ``x``."""
        x = self.forward(x, [EFFICIENTNET_LITE0_STAGES[-1]])[EFFICIENTNET_LITE0_STAGES[-1]]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def _stage(name: str) -> int:
    if name not in EFFICIENTNET_LITE0_STAGES:
        raise ValueError(f"unknown EfficientNet-Lite0 stage {name!r}; valid: {', '.join(EFFICIENTNET_LITE0_STAGES)}")
    return EFFICIENTNET_LITE0_STAGES.index(name)
