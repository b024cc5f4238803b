"""CatsVsDogs reader on small JPEG folders in the published layouts."""

import numpy as np
import pytest
from PIL import Image

from anomalens.data import load_dataset
from anomalens.data.catsvsdogs import resize_and_crop
from anomalens.exceptions import DatasetNotAvailableError


def write_cats_vs_dogs(folder, numbers, size=(90, 70), seed=0):
    """``folder/{cat,dog}.<i>.jpg``: cats dark, dogs bright (so labels can be checked)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for label, name in enumerate(("cat", "dog")):
        for i in numbers:
            base = 40 if label == 0 else 210
            arr = np.clip(base + rng.normal(0, 5, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(folder / f"{name}.{i}.jpg", quality=95)


def test_one_train_folder_is_split_by_image_number(tmp_path, empty_cache):
    write_cats_vs_dogs(tmp_path / "train", [0, 1, 2, 9999, 10000, 12499])
    (tmp_path / "train" / "notes.txt").write_text("ignored")
    ds = load_dataset("catsvsdogs", tmp_path)
    assert ds.class_names == ("cat", "dog")
    assert ds.x_train.shape == (8, 64, 64, 3) and ds.x_test.shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(ds.y_train, [0, 0, 0, 0, 1, 1, 1, 1])
    assert ds.x_test[ds.y_test == 0].mean() < 80 < 170 < ds.x_test[ds.y_test == 1].mean()
    again = load_dataset("catsvsdogs", tmp_path)  # from the cache
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    assert list((empty_cache / "catsvsdogs").glob("*.npz"))


def test_prepared_train_and_test_folders_are_used_as_given(tmp_path, empty_cache):
    write_cats_vs_dogs(tmp_path / "train", [0, 1, 2])
    write_cats_vs_dogs(tmp_path / "test", [3])
    ds = load_dataset("catsvsdogs", tmp_path)
    assert len(ds.x_train) == 6 and len(ds.x_test) == 2


def test_petimages_layout_skips_corrupt_files(tmp_path, empty_cache):
    for sub in ("Cat", "Dog"):
        d = tmp_path / "PetImages" / sub
        d.mkdir(parents=True)
        for i in (0, 1, 10001):
            Image.fromarray(np.full((50, 80, 3), 128, np.uint8)).save(d / f"{i}.jpg")
        (d / "666.jpg").write_bytes(b"")  # as in Microsoft's download
    with pytest.warns(UserWarning, match="unreadable"):
        ds = load_dataset("catsvsdogs", tmp_path)
    assert len(ds.x_train) == 4 and len(ds.x_test) == 2


def test_resize_keeps_aspect_then_centre_crops():
    img = np.zeros((60, 120, 3), np.uint8)
    img[:, 45:75] = 255  # a bright band in the middle third of a wide image
    out = resize_and_crop(Image.fromarray(img), 32)
    assert out.shape == (32, 32, 3)
    assert out[:, 16].mean() > 200 and out[:, 0].mean() < 30


def test_missing_dataset_says_what_to_get(tmp_path):
    with pytest.raises(DatasetNotAvailableError, match="Dogs vs. Cats"):
        load_dataset("catsvsdogs", tmp_path)
