import numpy as np
import pytest

from anomalens.data.images import as_image_array, list_images, load_images, read_image, read_mask
from anomalens.exceptions import ImageReadError
from tests.conftest import make_images, write_png


def test_read_gray_and_rgb(tmp_path):
    g = write_png(tmp_path / "g.png", make_images(1, 12)[0])
    c = write_png(tmp_path / "c.png", make_images(1, 12, channels=3)[0])
    assert read_image(g).shape == (12, 12, 1)
    assert read_image(c).shape == (12, 12, 3)
    assert read_image(c, channels=1).shape == (12, 12, 1)
    assert read_image(g, channels=3).shape == (12, 12, 3)


def test_roundtrip_values_exact(tmp_path):
    img = make_images(1, 12)[0]
    p = write_png(tmp_path / "a.png", img)
    np.testing.assert_array_equal(read_image(p), img)


def test_resize_policy_is_whole_image_bilinear(tmp_path):
    p = write_png(tmp_path / "a.png", make_images(1, 20)[0])
    assert read_image(p, size=8).shape == (8, 8, 1)
    assert read_image(p, size=(6, 10)).shape == (6, 10, 1)


def test_mixed_sizes_need_a_declared_size(tmp_path):
    a = write_png(tmp_path / "a.png", make_images(1, 12)[0])
    b = write_png(tmp_path / "b.png", make_images(1, 14)[0])
    with pytest.raises(ValueError, match=r"mixed sizes: .*b\.png"):
        load_images([a, b])
    assert load_images([a, b], size=10).shape == (2, 10, 10, 1)


def test_mixed_channels_named(tmp_path):
    a = write_png(tmp_path / "a.png", make_images(1, 12)[0])
    b = write_png(tmp_path / "b.png", make_images(1, 12, channels=3)[0])
    with pytest.raises(ValueError, match=r"mixed channels: .*b\.png"):
        load_images([a, b])
    assert load_images([a, b], channels=3).shape == (2, 12, 12, 3)


def test_list_images_ignores_other_files_and_sorts(tmp_path):
    write_png(tmp_path / "b.png", make_images(1, 8)[0])
    write_png(tmp_path / "a.png", make_images(1, 8)[0])
    (tmp_path / "notes.txt").write_text("hello")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.png"]


def test_corrupt_and_non_image_files_are_named(tmp_path):
    p = write_png(tmp_path / "t.png", make_images(1, 32)[0])
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"t\.png"):
        read_image(p)
    txt = tmp_path / "x.png"
    txt.write_text("not an image at all")
    with pytest.raises(ImageReadError, match=r"x\.png.*not an image"):
        read_image(txt)


def test_mask_reading_binarises_and_resizes(tmp_path):
    m = np.zeros((10, 10, 1), np.uint8)
    m[2:4, 2:4] = 255
    p = write_png(tmp_path / "m.png", m)
    out = read_mask(p, (5, 5))
    assert out.shape == (5, 5) and set(np.unique(out)) <= {0, 1} and out.sum() > 0
    assert read_mask(None, (3, 4)).sum() == 0


def test_as_image_array_dispatch(tmp_path):
    imgs = make_images(3, 8)
    for i, im in enumerate(imgs):
        write_png(tmp_path / f"{i}.png", im)
    np.testing.assert_array_equal(as_image_array(tmp_path), imgs)
    np.testing.assert_array_equal(as_image_array([tmp_path / "1.png"]), imgs[1:2])
    assert as_image_array(imgs) is imgs
    with pytest.raises(TypeError, match="X must be"):
        as_image_array(42)
