"""GEOM's 72 transformations: distinct, identity first, equal to a NumPy reference."""

import itertools

import numpy as np
import torch

from anomalens.detectors.geom_transforms import N_TRANSFORMS, all_transforms, default_shift


def reference(img: np.ndarray, flip: bool, tx: int, ty: int, k: int) -> np.ndarray:
    """One image (H x W), the other way round: NumPy padding, slicing and rot90."""
    out = img[:, ::-1] if flip else img
    if tx or ty:
        p = max(abs(tx), abs(ty))
        pad = np.pad(out, p, mode="reflect")
        h, w = out.shape
        out = pad[p - ty : p - ty + h, p - tx : p - tx + w]
    return np.rot90(out, k)


def test_72_distinct_identity_first_and_match_reference():
    rng = np.random.default_rng(0)
    img = rng.random((12, 12)).astype(np.float32)
    x = torch.from_numpy(img)[None, None].repeat(2, 1, 1, 1)
    out = all_transforms(x, shift=3).numpy()
    assert out.shape == (2, 72, 1, 12, 12) and N_TRANSFORMS == 72
    np.testing.assert_array_equal(out[0, 0, 0], img)
    flat = out[0, :, 0].reshape(72, -1)
    assert len({row.tobytes() for row in flat}) == 72
    for t, (flip, tx, ty, k) in enumerate(itertools.product((False, True), (0, -1, 1), (0, -1, 1), range(4))):
        np.testing.assert_array_equal(out[1, t, 0], reference(img, flip, 3 * tx, 3 * ty, k))


def test_translation_direction_and_default_shift():
    x = torch.zeros(1, 1, 32, 32)
    x[..., 10, 20] = 1.0
    out = all_transforms(x)  # shift 8
    # (flip=False, tx=+1, ty=0, k=0) is index 24 in the product order: content moves 8 px right
    assert out[0, 24, 0, 10, 28] == 1.0
    assert default_shift(32) == 8 and default_shift(64) == 16


def test_per_image_transform_equals_the_definition_and_channels_move_together():
    from anomalens.detectors.geom_transforms import apply_transform, transform_batch, transform_table

    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((72, 3, 16, 16)).astype(np.float32))
    t = torch.from_numpy(rng.permutation(72))
    out = transform_batch(x, t, transform_table(16))
    for i in range(72):
        torch.testing.assert_close(out[i], apply_transform(x[i : i + 1], int(t[i]), default_shift(16))[0], rtol=0, atol=0)
    allt = all_transforms(x[:2])
    for j in (0, 5, 71):
        torch.testing.assert_close(allt[:, j], apply_transform(x[:2], j, 4), rtol=0, atol=0)


def test_non_square_images_are_refused():
    import pytest

    with pytest.raises(ValueError, match="square"):
        all_transforms(torch.zeros(1, 1, 8, 12))
