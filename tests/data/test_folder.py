import pytest

from anomalens.data import load_dataset, make_split, protocol_classes
from anomalens.data.folder import list_categories, make_folder_samples
from tests.conftest import make_mvtec_tree


def test_samples_follow_mvtec_layout(mvtec_root):
    samples = make_folder_samples(mvtec_root, "widget")
    train = [s for s in samples if s.split == "train"]
    test = [s for s in samples if s.split == "test"]
    assert len(train) == 24 and all(s.label == 0 for s in train)
    assert sorted({s.defect for s in test}) == ["good", "scratch"]
    assert all((s.mask_path is not None) == (s.label == 1) for s in test)
    assert list_categories(mvtec_root) == ["widget"]


def test_load_folder_dataset_with_masks_and_resize(mvtec_root):
    ds = load_dataset("folder", mvtec_root, category="widget", image_size=12)
    assert ds.x_train.shape == (24, 12, 12, 1) and ds.x_test.shape == (12, 12, 12, 1)
    assert ds.y_test.tolist() == [0] * 6 + [1] * 6
    assert ds.test_masks.shape == (12, 12, 12)
    assert ds.test_masks[:6].sum() == 0 and all(m.sum() > 0 for m in ds.test_masks[6:])
    split = make_split(ds, "folder")
    assert split.normal_class == "widget" and len(split.x_train) == 24
    assert protocol_classes(ds, "folder") == [0]
    with pytest.raises(ValueError, match="does not apply"):
        make_split(ds, "one_vs_rest", 0)


def test_rgb_category(tmp_path):
    root = make_mvtec_tree(tmp_path / "m", "rgb", channels=3)
    ds = load_dataset("folder", root, category="rgb")
    assert ds.x_train.shape[-1] == 3


def test_wrong_layout_is_explained(tmp_path):
    (tmp_path / "cat" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"train/good.*MVTec AD layout"):
        load_dataset("folder", tmp_path, category="cat")
    with pytest.raises(ValueError, match="needs root="):
        load_dataset("folder")


def test_empty_train_folder(tmp_path):
    (tmp_path / "cat" / "train" / "good").mkdir(parents=True)
    with pytest.raises(ValueError, match="no training images"):
        load_dataset("folder", tmp_path, category="cat")
