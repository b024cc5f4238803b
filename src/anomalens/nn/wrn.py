"""Wide Residual Network (Zagoruyko & Komodakis, 2016), the classifier of GEOM (seed 002).

Pre-activation basic blocks (BN-ReLU-conv3x3, BN-ReLU-[dropout]-conv3x3) with a 1x1
projection shortcut where the width or stride changes; a 3x3 stem with 16 channels; three
groups of ``(depth - 4) / 6`` blocks with widths 16k, 32k, 64k and strides 1, 2, 2; then
BN-ReLU, global average pooling and a linear layer. GEOM uses WRN-10-4 on 32 px images and
WRN-16-8 on 64 px images.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["WideResNet"]


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, dropout: float):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        h = self.conv1(a)
        h = F.relu(self.bn2(h))
        if self.dropout > 0:
            h = F.dropout(h, self.dropout, self.training)
        return self.conv2(h) + skip


class WideResNet(nn.Module):
    """WRN-``depth``-``widen`` with ``num_classes`` outputs (logits).

    Parameters
    ----------
    depth : int
        6 n + 4 (10 -> one block per group, 16 -> two).
    widen : int
        Width multiplier k.
    num_classes : int
    in_channels : int
    dropout : float
        Dropout between the two convolutions of a block (0 = none).
    """

    def __init__(self, depth: int = 10, widen: int = 4, num_classes: int = 72, in_channels: int = 3, dropout: float = 0.0):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6 n + 4 with n >= 1 (10, 16, 22, ...), got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        blocks = []
        cin = widths[0]
        for g, stride in zip(range(3), (1, 2, 2)):
            for i in range(n):
                blocks.append(_Block(cin, widths[g + 1], stride if i == 0 else 1, dropout))
                cin = widths[g + 1]
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, num_classes)
        self.num_features = cin
        # initialisation of the GEOM authors' Keras WRN: conv ~ N(0, 2 / fan_in), dense
        # ~ U(+-1 / sqrt(fan_in)), zero bias; BatchNorm as PyTorch's (= their momentum 0.9, eps 1e-5)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features**0.5
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn(self.blocks(self.stem(x))))
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
