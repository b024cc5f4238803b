"""ResNet-50 (He et al. 2016) as a frozen feature extractor, torchvision-free.

The layout is the common PyTorch one (torchvision's ``resnet50``, "ResNet v1.5"): a 7 x 7
stride-2 stem and a 3 x 3 stride-2 max-pool, then four stages of 3, 4, 6 and 3 bottleneck
blocks (1 x 1 reduce, 3 x 3, 1 x 1 expand by 4; BatchNorm after each; ReLU after the sum), the
stride of a stage's first block on its 3 x 3 convolution, a 1 x 1 convolution + BatchNorm on
the shortcut where the shape changes. Parameter names follow torchvision's (``layer2.0.conv2``,
``layer2.0.downsample.0``, ...), so weights saved from it load as they are.

The stage outputs ``layer1`` ... ``layer4`` (strides 4, 8, 16, 32; 256, 512, 1024 and 2048
channels) are what a patch detector takes; PatchCore takes ``layer2`` + ``layer3``. The
module holds no weights of its own: :func:`anomalens.data.backbones.load_resnet50_augnet_weights`
supplies them, keyed as this module's ``state_dict``. With them the network expects the
ImageNet normalisation (RGB in [0, 1], per-channel mean and standard deviation), which
:meth:`ResNet50.preprocess` applies (grayscale images are repeated to three channels first).

``head`` > 0 adds the weights' own embedding head, a dense layer on the globally averaged
``layer4`` followed by tanh (:meth:`ResNet50.embed`; AugNet's 768-d image embedding).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from ._rgb import three_channels

__all__ = ["ResNet50", "RESNET50_STAGES"]

#: per stage: (bottleneck width, blocks, first stride)
_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
_EXPANSION = 4
#: the stage outputs, shallow to deep
RESNET50_STAGES: tuple[str, ...] = tuple(f"layer{i}" for i in range(1, len(_STAGES) + 1))
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class _Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int):
        super().__init__()
        c_out = width * _EXPANSION
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = self.downsample(x) if hasattr(self, "downsample") else x
        return F.relu(y + shortcut)


class ResNet50(nn.Module):
    """ResNet-50; ``forward`` returns the asked stage outputs. Parameters are frozen and the
    module is meant to stay in eval mode.

    Parameters
    ----------
    head : int, default 768
        Output size of the embedding head on the pooled ``layer4`` (AugNet's: 768, tanh);
        0 = none.
    """

    def __init__(self, head: int = 768) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c_in = 64
        for i, (width, n, stride) in enumerate(_STAGES, start=1):
            blocks = []
            for j in range(n):
                blocks.append(_Bottleneck(c_in, width, stride if j == 0 else 1))
                c_in = width * _EXPANSION
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        if head:
            self.fc = nn.Linear(c_in, head)
        for p in self.parameters():
            p.requires_grad_(False)

    @staticmethod
    def channels(stage: str) -> int:
        """Channels of a stage output (``layer2`` -> 512)."""
        return _STAGES[_stage(stage)][0] * _EXPANSION

    @staticmethod
    def stride(stage: str) -> int:
        """Down-sampling factor of a stage output relative to the input (``layer2`` -> 8)."""
        return 4 * 2 ** _stage(stage)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], ``N x C x H x W`` RGB or grayscale -> the network's input."""
        x = three_channels(x, "ResNet-50")
        mean = x.new_tensor(_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Stage outputs named in ``layers`` for *preprocessed* input ``x``; computation stops at
        the deepest one asked for."""
        wanted = set(layers)
        if not wanted:
            raise ValueError("no ResNet-50 stage asked for")
        last = max(_stage(name) for name in wanted)
        out: dict[str, torch.Tensor] = {}
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        for i, name in enumerate(RESNET50_STAGES[: last + 1]):
            x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The head's image embedding, ``tanh(fc(mean of layer4))``, for *preprocessed* input ``x``."""
        if not hasattr(self, "fc"):
            raise ValueError("this ResNet50 was built with head=0: it has no embedding head")
        x = self.forward(x, ["layer4"])["layer4"]
        return torch.tanh(self.fc(x.mean(dim=(2, 3))))


def _stage(name: str) -> int:
    if name not in RESNET50_STAGES:
        raise ValueError(f"unknown ResNet-50 stage {name!r}; valid: {', '.join(RESNET50_STAGES)}")
    return RESNET50_STAGES.index(name)
