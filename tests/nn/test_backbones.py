"""Pretrained backbones: pinned weights files (all three); EfficientNet-Lite0's architecture, TensorFlow
padding and an ImageNet sanity check; the AugNet ResNet-50's architecture and a sanity check of its
weights and preprocessing on a photograph."""

import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from anomalens.data.backbones import (EFFICIENTNET_LITE0_SHA256, RESNET50_AUGNET_SHA256, VGG19_SHA256,
                                      efficientnet_lite0_weights_file, load_efficientnet_lite0_weights,
                                      load_resnet50_augnet_weights, load_vgg19_weights, resnet50_augnet_weights_file,
                                      vgg19_weights_file)
from anomalens.exceptions import ChecksumError, DatasetNotAvailableError
from anomalens.nn.efficientnet import EFFICIENTNET_LITE0_STAGES, EfficientNetLite0
from anomalens.nn.resnet import RESNET50_STAGES, ResNet50


@pytest.fixture(scope="module")
def net():
    n = EfficientNetLite0()
    n.load_state_dict(load_efficientnet_lite0_weights())  # strict: every key matches, none left over
    return n.eval()


@pytest.mark.parametrize("find, load, sha256, env", [
    (efficientnet_lite0_weights_file, load_efficientnet_lite0_weights, EFFICIENTNET_LITE0_SHA256,
     "ANOMALENS_EFFICIENTNET_LITE0"),
    (vgg19_weights_file, load_vgg19_weights, VGG19_SHA256, "ANOMALENS_VGG19"),
    (resnet50_augnet_weights_file, load_resnet50_augnet_weights, RESNET50_AUGNET_SHA256, "ANOMALENS_RESNET50_AUGNET"),
], ids=["efficientnet_lite0", "vgg19", "resnet50_augnet"])
def test_weights_file_is_pinned_and_an_altered_copy_is_refused(find, load, sha256, env, tmp_path, monkeypatch):
    path = find()
    bad = tmp_path / path.name
    shutil.copy(path, bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    bad.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=sha256[:12]):
        load(bad)
    monkeypatch.setenv(env, str(bad))
    with pytest.raises(ChecksumError, match="altered"):
        find()
    monkeypatch.setenv(env, str(tmp_path / "missing.bin"))
    with pytest.raises(DatasetNotAvailableError, match=env):
        find()


def _assert_stage_shapes(net, stages):
    """Every stage output, asked for at once on a grayscale 64 x 96 batch, has the channels and
    stride the network's class declares, in order."""
    with torch.no_grad():
        out = net(net.preprocess(torch.rand(2, 1, 64, 96)), stages)
    assert list(out) == list(stages)
    for name, f in out.items():
        s = type(net).stride(name)
        assert f.shape == (2, type(net).channels(name), 64 // s, 96 // s), name


def test_published_size_channels_and_strides(net):
    # 4.65 M parameters as published for Lite0 (the 1,000-way classifier included)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(4.65e6, rel=0.01)
    assert not any(p.requires_grad for p in net.parameters())
    _assert_stage_shapes(net, EFFICIENTNET_LITE0_STAGES)
    assert [EfficientNetLite0.stride(n) for n in EFFICIENTNET_LITE0_STAGES] == [2, 4, 8, 16, 16, 32, 32]
    # TensorFlow "same" padding: ceil(size / stride) for odd sizes too
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 33, 35), ["stage3"])["stage3"].shape[2:] == (5, 5)
    with pytest.raises(ValueError, match="stage9"):
        net(torch.zeros(1, 3, 32, 32), ["stage9"])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        net.preprocess(torch.zeros(1, 2, 32, 32))


def test_classifies_a_real_photograph_as_imagenet_does(net):
    """Grace Hopper in uniform (matplotlib's sample photograph): ImageNet class 652, military
    uniform, is the top-1 -- a wrong padding, preprocessing or weight mapping loses it."""
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((224, 224), Image.BICUBIC)
    x = torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        p = net.classify(net.preprocess(x)).softmax(1)[0]
    assert int(p.argmax()) == 652 and p[652] > 0.3
    # the preprocessing is the one the first BatchNorm's statistics were gathered under: the
    # stem's output variance is near its running variance (ImageNet mean/std scaling: about 5x)
    with torch.no_grad():
        var = net._conv_stem(net.preprocess(x)).var(dim=(0, 2, 3))
    assert 0.7 < float((var / net._bn0.running_var).median()) < 1.6


# -- ResNet-50 (AugNet weights) ------------------------------------------------------------------

@pytest.fixture(scope="module")
def augnet():
    n = ResNet50()
    n.load_state_dict(load_resnet50_augnet_weights())  # strict: every key matches, none left over
    return n.eval()


def _photo(name: str, box=None) -> torch.Tensor:
    """A matplotlib sample photograph, centre square (or ``box``) at 224 px, ``1 x 3 x H x W`` in [0, 1]."""
    im = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / name).convert("RGB")
    w, h = im.size
    s = min(w, h)
    box = box or ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return torch.from_numpy(np.array(im.crop(box).resize((224, 224), Image.BICUBIC))).permute(2, 0, 1)[None] / 255.0


def test_resnet50_size_channels_and_strides(augnet):
    # ResNet-50's 23.5 M parameters without its classifier, plus AugNet's 2048 -> 768 head
    assert sum(p.numel() for p in augnet.parameters()) == 23_508_032 + 2048 * 768 + 768
    assert not any(p.requires_grad for p in augnet.parameters())
    _assert_stage_shapes(augnet, RESNET50_STAGES)
    assert [ResNet50.channels(n) for n in RESNET50_STAGES] == [256, 512, 1024, 2048]
    assert [ResNet50.stride(n) for n in RESNET50_STAGES] == [4, 8, 16, 32]
    with torch.no_grad():  # computation stops at the deepest stage asked for
        assert list(augnet(torch.zeros(1, 3, 32, 32), ["layer2"])) == ["layer2"]
    with pytest.raises(ValueError, match="layer5"):
        augnet(torch.zeros(1, 3, 32, 32), ["layer5"])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        augnet.preprocess(torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="head=0"):
        ResNet50(head=0).embed(torch.zeros(1, 3, 32, 32))


def test_resnet50_augnet_sees_a_photograph_as_its_batchnorms_expect(augnet):
    """No labels to check against (AugNet is self-supervised): instead, every BatchNorm's input
    on a real photograph has per-channel means that follow its running means, and variances
    within 4x of its running variances -- which holds only with the ImageNet mean / std
    preprocessing (without it, 40 % of the BatchNorms are off) -- and the embedding puts a
    shifted, darker crop of the photograph far closer to it than another photograph."""
    x = _photo("grace_hopper.jpg")
    corr, ratio = [], []

    def hook(mod, inp, _out):
        a = inp[0]
        corr.append(np.corrcoef(a.mean(dim=(0, 2, 3)).numpy(), mod.running_mean.numpy())[0, 1])
        ratio.append(float((a.var(dim=(0, 2, 3)) / mod.running_var).median()))

    hooks = [m.register_forward_hook(hook) for m in augnet.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    try:
        with torch.no_grad():
            augnet(augnet.preprocess(x), ["layer4"])
    finally:
        for h in hooks:
            h.remove()
    assert len(corr) == 53
    assert np.median(corr) > 0.85 and min(corr) > 0.5
    assert np.mean((np.array(ratio) > 0.25) & (np.array(ratio) < 4)) > 0.95
    shifted = _photo("grace_hopper.jpg", box=(20, 40, 472, 492)) * 0.9
    other = _photo("Minduka_Present_Blue_Pack.png")
    with torch.no_grad():
        e = augnet.embed(augnet.preprocess(torch.cat([x, shifted, other])))
    d = torch.cdist(e, e)
    assert d[0, 1] < 0.5 * d[0, 2]
