"""Wide ResNet (GEOM's classifier): shapes and parameter counts from the architecture."""

import pytest
import torch

from anomalens.nn import WideResNet


def expected_params(depth, k, cin, classes):
    n = (depth - 4) // 6
    widths = [16, 16 * k, 32 * k, 64 * k]
    total = 9 * cin * 16
    c = 16
    for g in range(3):
        for i in range(n):
            w = widths[g + 1]
            total += 2 * c + 9 * c * w + 2 * w + 9 * w * w  # bn1, conv1, bn2, conv2
            if c != w or (i == 0 and g > 0):
                total += c * w  # 1x1 projection
            c = w
    return total + 2 * c + c * classes + classes


@pytest.mark.parametrize("depth, k, cin, size", [(10, 4, 1, 32), (10, 4, 3, 32), (16, 8, 3, 64)])
def test_wrn_shapes_and_parameter_counts(depth, k, cin, size):
    net = WideResNet(depth, k, num_classes=72, in_channels=cin).eval()
    with torch.no_grad():
        out = net(torch.rand(2, cin, size, size))
    assert out.shape == (2, 72) and net.num_features == 64 * k
    assert sum(p.numel() for p in net.parameters()) == expected_params(depth, k, cin, 72)


def test_wrn_rejects_bad_depth():
    with pytest.raises(ValueError, match="6 n \\+ 4"):
        WideResNet(depth=12)
