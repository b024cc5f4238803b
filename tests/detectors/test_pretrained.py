"""vgg19_nnqed: NN-QED on frozen ImageNet VGG19 features (beyond the seed papers)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import anomalens
from anomalens.data import load_dataset
from anomalens.data.backbones import load_efficientnet_lite0_weights, load_resnet50_augnet_weights, load_vgg19_weights
from anomalens.nn.efficientnet import EfficientNetLite0
from anomalens.nn.resnet import ResNet50
from anomalens.nn.vgg import VGG19


def test_flat_scores_are_squared_distances_between_pooled_vgg19_features(images):
    det = anomalens.create("vgg19_nnqed", index="flat", layer="relu4_2", device="cpu").fit(images[:40])
    # the embedding computed another way: pad 16 -> 32 px by hand, the VGG19 module, mean over space
    vgg = VGG19()
    vgg.load_state_dict(load_vgg19_weights())
    vgg.eval()

    def embed(x):
        t = torch.zeros(len(x), 1, 32, 32)
        t[:, :, 8:24, 8:24] = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        with torch.no_grad():
            return vgg(vgg.preprocess(t), ["relu4_2"])["relu4_2"].mean(dim=(2, 3)).double().numpy()

    q, t = embed(images[40:45]), embed(images[:40])
    expected = ((q[:, None] - t[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(det.score(images[40:45]), expected, rtol=1e-3)
    assert det.scorer_.dim_ == 512
    # training scores are leave-one-out (no self-match), from the vectors embedded once in fit
    assert (det.train_scores_ > 0).all()
    t_loo = ((t[:, None] - t[None]) ** 2).sum(-1) + np.diag(np.full(40, np.inf))
    np.testing.assert_allclose(det.train_scores_, t_loo.min(1), rtol=1e-3)


def test_fashion_mnist_sneakers_against_other_garments_without_training():
    ds = load_dataset("fashion_mnist")
    train = ds.x_train[ds.y_train == 7][:300]
    normal, other = ds.x_test[ds.y_test == 7][:100], ds.x_test[ds.y_test != 7][:100]
    det = anomalens.create("vgg19_nnqed", preset="quick", device="cpu").fit(train)
    s = det.score(np.concatenate([normal, other]))
    assert roc_auc_score(np.r_[np.zeros(100), np.ones(100)], s) > 0.9
    assert det.predict(other).mean() > 0.5 > det.predict(normal).mean()


def test_save_load_keeps_only_the_index_and_scores_identically(images, anomalies, tmp_path):
    det = anomalens.create("vgg19_nnqed", m=16, device="cpu").fit(images)
    det.save(tmp_path / "m")
    assert (tmp_path / "m" / "weights.safetensors").stat().st_size < 200_000  # no VGG19 weights inside
    back = anomalens.load(tmp_path / "m")
    np.testing.assert_array_equal(back.score(anomalies), det.score(anomalies))
    assert back.get_params() == det.get_params()


def test_bad_parameters_and_too_small_images_are_named(images):
    with pytest.raises(ValueError, match="'layer'"):
        anomalens.create("vgg19_nnqed", layer="conv9").fit(images)
    with pytest.raises(ValueError, match="'input_size'"):
        anomalens.create("vgg19_nnqed", input_size=8).fit(images)
    with pytest.raises(ValueError, match="'device'"):
        anomalens.create("vgg19_nnqed", device="tpu").fit(images)
    with pytest.raises(ValueError, match="too small for VGG19"):
        anomalens.create("vgg19_nnqed", index="flat", pad_to=None).fit(images[:, :12, :12])
    # input_size resizes them up instead
    det = anomalens.create("vgg19_nnqed", index="flat", pad_to=None, input_size=32, device="cpu").fit(images[:, :12, :12])
    assert det.score(images[:2, :12, :12]).shape == (2,)


# -- vgg19_patch_nnqed ---------------------------------------------------------------------------

def _patches_by_hand(x: np.ndarray) -> np.ndarray:
    """relu3_4 + relu4_4 of 32 px inputs, 3x3 mean, relu4_4 upsampled to 8x8: ``N x 64 x 768``."""
    from torch.nn import functional as F

    vgg = VGG19()
    vgg.load_state_dict(load_vgg19_weights())
    vgg.eval()
    t = F.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255), size=(32, 32),
                      mode="bilinear", align_corners=False)
    with torch.no_grad():
        f = vgg(vgg.preprocess(t), ["relu3_4", "relu4_4"])
    a = F.avg_pool2d(f["relu3_4"], 3, 1, 1, count_include_pad=False)
    b = F.interpolate(F.avg_pool2d(f["relu4_4"], 3, 1, 1, count_include_pad=False), size=(8, 8), mode="bilinear",
                      align_corners=False)
    return torch.cat([a, b], 1).permute(0, 2, 3, 1).reshape(len(x), 64, 768).double().numpy()


def test_patch_scores_are_nearest_training_patch_distances_and_the_threshold_is_held_out(images):
    det = anomalens.create("vgg19_patch_nnqed", index="flat", input_size=32, holdout=0.25, device="cpu").fit(images[:40])
    assert det.grid_ == (8, 8) and len(det.held_idx_) == 10 and det.scorer_.dim_ == 768
    bank = np.setdiff1d(np.arange(40), det.held_idx_)
    train = _patches_by_hand(images[bank]).reshape(-1, 768)
    q = _patches_by_hand(images[40:44])
    d2 = ((q[:, :, None, :] - train[None, None]) ** 2).sum(-1).min(-1)  # 4 x 64
    np.testing.assert_allclose(det.score(images[40:44]), d2.max(1), rtol=1e-3)
    # images in the bank find their own patches; held-out ones do not, and they alone set the threshold
    assert np.allclose(det.train_scores_[bank], 0, atol=1e-2 * det.train_scores_[det.held_idx_].min())
    assert det.threshold_ == pytest.approx(np.quantile(det.train_scores_[det.held_idx_], 0.99))


def test_patch_map_finds_the_defect(images, anomalies):
    from anomalens.eval.metrics import pixel_auroc

    det = anomalens.create("vgg19_patch_nnqed", input_size=64, m=32, device="cpu").fit(images)
    masks = (anomalies[..., 0] == 255).astype(np.uint8)
    maps = det.anomaly_map(anomalies)
    assert maps.shape == anomalies.shape[:3]
    assert pixel_auroc(masks, maps) > 0.9
    s = det.score(np.concatenate([images[:10], anomalies]))
    assert roc_auc_score(np.r_[np.zeros(10), np.ones(len(anomalies))], s) > 0.95
    # score then anomaly_map on the same images search once (a one-entry cache keyed on the images) ...
    a = det.score(anomalies)
    search = det.scorer_.score
    det.scorer_.score = None  # a second search would fail
    assert det.anomaly_map(anomalies).shape == maps.shape
    det.scorer_.score = search
    # ... and a new fit forgets it
    det.set_params(holdout=0.3).fit(images[::-1].copy())
    assert not np.allclose(det.score(anomalies), a, rtol=1e-3)


def test_coreset_bank_keeps_a_share_of_the_patches_and_scores_by_search(images, anomalies, tmp_path):
    from anomalens.scoring.coreset import greedy_coreset

    det = anomalens.create("vgg19_patch_nnqed", index="flat", coreset=0.25, input_size=32, holdout=0.25,
                           device="cpu").fit(images[:40])
    bank = np.setdiff1d(np.arange(40), det.held_idx_)
    train = _patches_by_hand(images[bank]).reshape(-1, 768)
    kept = train[np.sort(greedy_coreset(train, round(0.25 * len(train)), seed=0))]
    assert det.scorer_.index_.ntotal == len(kept) == 480
    q = _patches_by_hand(anomalies[:4])
    d2 = ((q[:, :, None, :] - kept[None, None]) ** 2).sum(-1).min(-1)
    np.testing.assert_allclose(det.score(anomalies[:4]), d2.max(1), rtol=1e-3)
    # the bank's own images are no longer all found exactly: their scores come from a search
    np.testing.assert_allclose(det.train_scores_[bank], det.score(images[bank]), rtol=1e-3)
    assert det.train_scores_[bank].max() > 0
    det.save(tmp_path / "c")
    np.testing.assert_array_equal(anomalens.load(tmp_path / "c").score(anomalies[:4]), det.score(anomalies[:4]))
    with pytest.raises(ValueError, match="'coreset'"):
        anomalens.create("vgg19_patch_nnqed", coreset=1.5).fit(images)


def test_patch_detector_saves_loads_and_names_bad_parameters(images, anomalies, tmp_path):
    det = anomalens.create("vgg19_patch_nnqed", input_size=32, m=16, device="cpu").fit(images)
    det.save(tmp_path / "m")
    back = anomalens.load(tmp_path / "m")
    np.testing.assert_array_equal(back.score(anomalies), det.score(anomalies))
    np.testing.assert_array_equal(back.anomaly_map(anomalies[:3]), det.anomaly_map(anomalies[:3]))
    assert back.grid_ == det.grid_ and np.array_equal(back.held_idx_, det.held_idx_)
    # the indexed images' training scores, computed without a search, are what a search returns
    pq = anomalens.create("vgg19_patch_nnqed", index="pq", input_size=32, m=16, device="cpu").fit(images)
    bank = np.setdiff1d(np.arange(len(images)), pq.held_idx_)
    np.testing.assert_allclose(pq.train_scores_[bank], pq.score(images[bank]), rtol=1e-3)
    with pytest.raises(ValueError, match="'layers'"):
        anomalens.create("vgg19_patch_nnqed", layers=("relu3_4", "pool9")).fit(images)
    with pytest.raises(ValueError, match="'holdout'"):
        anomalens.create("vgg19_patch_nnqed", holdout=0.0).fit(images)
    with pytest.raises(ValueError, match="holds out none"):
        anomalens.create("vgg19_patch_nnqed", index="flat", input_size=32, holdout=0.1).fit(images[:4])


# -- effnet_patch_nnqed, augnet_patch_nnqed: the patch detector on other backbones ----------------

# method, network, weights, its two default stages, patch dimension, name in messages, the most a saved
# model of the 64 test images may weigh: their PQ codes, never the network's weights (18 MB and 100 MB)
PATCH_BACKBONES = [
    ("effnet_patch_nnqed", EfficientNetLite0, load_efficientnet_lite0_weights, ("stage3", "stage5"), 40 + 112,
     "EfficientNet-Lite0", 200_000),
    ("augnet_patch_nnqed", ResNet50, load_resnet50_augnet_weights, ("layer2", "layer3"), 512 + 1024,
     r"ResNet-50 \(AugNet\)", 2_000_000),
]


@pytest.mark.parametrize("method, network, weights, stages, dim, label, max_bytes", PATCH_BACKBONES,
                         ids=["effnet", "augnet"])
def test_patches_are_two_stages_and_scores_are_nearest_patch_distances(method, network, weights, stages, dim, label,
                                                                       max_bytes, images, anomalies):
    from torch.nn import functional as F

    det = anomalens.create(method, index="flat", input_size=64, holdout=0.25, device="cpu").fit(images[:40])
    assert det.grid_ == (8, 8) and det.scorer_.dim_ == dim
    net = network()
    net.load_state_dict(weights())
    net.eval()

    def patches(x):  # the patch vectors computed another way: by hand from the module's stage outputs
        t = F.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255), size=(64, 64),
                          mode="bilinear", align_corners=False)
        with torch.no_grad():
            f = net(net.preprocess(t), stages)
        a = F.avg_pool2d(f[stages[0]], 3, 1, 1, count_include_pad=False)
        b = F.interpolate(F.avg_pool2d(f[stages[1]], 3, 1, 1, count_include_pad=False), size=(8, 8),
                          mode="bilinear", align_corners=False)
        return torch.cat([a, b], 1).permute(0, 2, 3, 1).reshape(-1, dim).double().numpy()

    bank = np.setdiff1d(np.arange(40), det.held_idx_)
    train, q = patches(images[bank]), patches(anomalies[:4])
    d2 = ((q ** 2).sum(1)[:, None] + (train ** 2).sum(1)[None] - 2 * q @ train.T).min(1)  # float64: exact enough
    np.testing.assert_allclose(det.score(anomalies[:4]), d2.reshape(4, 64).max(1), rtol=1e-3)


@pytest.mark.parametrize("method, network, weights, stages, dim, label, max_bytes", PATCH_BACKBONES,
                         ids=["effnet", "augnet"])
def test_patch_map_finds_the_defect_and_survives_save_load(method, network, weights, stages, dim, label, max_bytes,
                                                           images, anomalies, tmp_path):
    from anomalens.eval.metrics import pixel_auroc

    # stride 8: a 128 px input gives a 16 x 16 grid on the 16 px images, one cell per pixel
    det = anomalens.create(method, input_size=128, device="cpu").fit(images)
    masks = (anomalies[..., 0] == 255).astype(np.uint8)
    assert pixel_auroc(masks, det.anomaly_map(anomalies)) > 0.9
    s = det.score(np.concatenate([images[:10], anomalies]))
    assert roc_auc_score(np.r_[np.zeros(10), np.ones(len(anomalies))], s) > 0.95
    det.save(tmp_path / "e")
    assert (tmp_path / "e" / "weights.safetensors").stat().st_size < max_bytes
    back = anomalens.load(tmp_path / "e")
    assert type(back).name == method
    np.testing.assert_array_equal(back.score(anomalies), det.score(anomalies))
    with pytest.raises(ValueError, match=f"{label} layers"):
        anomalens.create(method, layers=("relu3_4",)).fit(images)
    with pytest.raises(ValueError, match=f"too small for {label}"):
        anomalens.create(method, input_size=None, index="flat").fit(images)
