import numpy as np
import pytest

from anomalens.data.validation import check_images, to_float_nchw


def test_accepts_uint8_and_unit_float():
    x = np.zeros((2, 4, 4, 1), np.uint8)
    assert check_images(x) is x
    check_images(np.full((2, 4, 4, 3), 0.5, np.float32))


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((4, 4, 1), np.uint8), "4 dimensions"),
        (np.zeros((2, 4, 4, 2), np.uint8), "1 or 3 channels"),
        (np.zeros((2, 4, 4, 1), np.int64), "dtype int64"),
        (np.full((2, 4, 4, 1), 2.0), r"\[0, 1\]"),
        (np.full((2, 4, 4, 1), np.nan), "NaN"),
        (np.zeros((0, 4, 4, 1), np.uint8), "at least 1"),
    ],
)
def test_rejects(x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_images(x)


def test_shape_must_match_fitted():
    with pytest.raises(ValueError, match="fitted on"):
        check_images(np.zeros((1, 4, 4, 1), np.uint8), expected_shape=(5, 5, 1))


def test_to_float_nchw():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3)
    y = to_float_nchw(x)
    assert y.shape == (2, 3, 2, 3) and y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y[1, 2, 0, 1], x[1, 0, 1, 2] / 255.0)
