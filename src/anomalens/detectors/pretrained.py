"""Nearest-neighbour distance on frozen pretrained features -- beyond the seed papers.

Seed 000's scorer (distance to the nearest normal training vector, exact or product-quantized)
on the embedding of a network that is *not* trained on the normal images at all: the ImageNet
VGG19 that seed 004 uses for its perceptual loss. Nothing is fitted but the faiss index, so a
class takes seconds on a GPU and minutes on a CPU, and no seed changes the network. The idea is
that of Bergman, Cohen & Hoshen, *Deep Nearest Neighbor Anomaly Detection* (2020), who use an
ImageNet ResNet at 224 px; no such ResNet can be had here (see DESIGN.md, *Pretrained
backbones*), hence VGG19, at the images' own size by default. The patch detectors
(:class:`VGG19PatchNNQED`, :class:`EffNetPatchNNQED`, :class:`AugNetPatchNNQED`) take PatchCore's
patch-level version of the idea on VGG19, on the other obtainable ImageNet network,
EfficientNet-Lite0, and on the one obtainable ResNet-50, whose weights are self-supervised (AugNet).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..data import backbones as _weights
from ..nn.efficientnet import EFFICIENTNET_LITE0_STAGES, EfficientNetLite0
from ..nn.resnet import RESNET50_STAGES, ResNet50
from ..nn.vgg import VGG19, VGG19_LAYERS
from .base import Interval, NoneOr, OneOf
from .knn import RawNNQED
from .network import TorchDevice, store_params

__all__ = ["VGG19NNQED", "VGG19PatchNNQED", "EffNetPatchNNQED", "AugNetPatchNNQED", "pretrained_backbone",
           "pretrained_vgg19"]


class _Backbone(NamedTuple):
    label: str  # for messages
    layers: tuple[str, ...]  # its feature names, shallow to deep
    min_size: int  # smallest input, px
    network: type  # the nn module
    weights: Any  # () -> its state_dict


#: every backbone a detector here can name
BACKBONES: dict[str, _Backbone] = {
    "vgg19": _Backbone("VGG19", VGG19_LAYERS, 16, VGG19, _weights.load_vgg19_weights),
    "efficientnet_lite0": _Backbone("EfficientNet-Lite0", EFFICIENTNET_LITE0_STAGES, 32, EfficientNetLite0,
                                    _weights.load_efficientnet_lite0_weights),
    "resnet50_augnet": _Backbone("ResNet-50 (AugNet)", RESNET50_STAGES, 32, ResNet50,
                                 _weights.load_resnet50_augnet_weights),
}
_NETS: dict[tuple[str, str], Any] = {}


def pretrained_backbone(name: str, device: Any):
    """One frozen pretrained backbone (eval mode) per name and device, shared by every detector in
    the process: ``"vgg19"`` (:class:`~anomalens.nn.VGG19`), ``"efficientnet_lite0"``
    (:class:`~anomalens.nn.EfficientNetLite0`) or ``"resnet50_augnet"`` (:class:`~anomalens.nn.ResNet50`,
    self-supervised, not ImageNet-labelled). Each has ``preprocess(x)`` for images in [0, 1]
    and ``forward(x, layers) -> {layer: features}``."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")
    key = (name, str(device))
    if key not in _NETS:
        spec = BACKBONES[name]
        net = spec.network()
        net.load_state_dict(spec.weights())
        _NETS[key] = net.to(device).eval()
    return _NETS[key]


def pretrained_vgg19(device: Any):
    """The shared frozen ImageNet VGG19 on ``device`` (:func:`pretrained_backbone`)."""
    return pretrained_backbone("vgg19", device)


class VGG19NNQED(TorchDevice, RawNNQED):
    """NN-QED on frozen ImageNet VGG19 features (not from a seed paper; see the module docstring).

    Each image is zero-padded to ``pad_to`` (28 -> 32 px, as seed 000 does), optionally resized
    (bilinear) to ``input_size``, given VGG19's Caffe preprocessing (grayscale repeated to three
    channels), and embedded as the global average of the ReLU output ``layer`` (512-d for
    ``relu4_*`` / ``relu5_*``). The score is the squared L2 distance to the nearest training
    embedding, searched as ``index`` says (seed 000's ``flat`` / ``pq`` / ``pq_fastscan``, PQ with
    ``m`` sub-quantizers of ``nbits`` bits); ``threshold_`` is the ``threshold_quantile`` of the
    leave-one-out training scores. Only the faiss index is saved: the VGG19 weights come from
    the installed backbone package (:mod:`anomalens.data.backbones`) when a model is loaded.

    The default ``layer`` (``relu5_4``, the last convolution, as the ImageNet features Bergman et
    al. pool) was fixed before any test result was seen; results with other layers or sizes are
    ablations, never a choice made on test labels.

    Parameters
    ----------
    layer : str, default "relu5_4"
        VGG19 ReLU output to pool (``relu1_1`` ... ``relu5_4``).
    input_size : int or None, default None
        Resize the padded images to this square size before VGG19 (``None``: as they are; at
        least 16, the stride of ``relu5_*``). Larger inputs are closer to ImageNet's 224 px
        and cost about ``(input_size / 32) ** 2`` times more.
    batch_size : int, default 256
        Images per VGG19 forward pass.
    device : str, default "auto"
        ``"auto"`` = CUDA when present, else CPU; or a torch device (``"cpu"``, ``"cuda:1"``).
    verbose : bool, default False
        Progress bar over the embedding batches.
    index, m, nbits, k, pad_to, threshold_quantile, image_size, seed
        As in :class:`~anomalens.detectors.knn.RawNNQED` (``seed`` seeds only the PQ k-means).
    """

    name: ClassVar[str] = "vgg19_nnqed"
    _backbone: ClassVar[str] = "vgg19"  # a key of BACKBONES
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # Nothing is trained and there is no paper setting: the one preset is the class defaults,
        # which run on 2 CPU cores (about 130 images/s per core at 32 px).
        "quick": {"index": "pq_fastscan", "m": 32, "nbits": 4, "k": 1, "pad_to": 32, "layer": "relu5_4",
                  "input_size": None},
    }
    _param_constraints: ClassVar[dict[str, Any]] = {
        **RawNNQED._param_constraints,
        "layer": OneOf(VGG19_LAYERS),
        "input_size": NoneOr(Interval(int, 16, None)),
        "batch_size": Interval(int, 1, None),
    }

    def __init__(
        self,
        *,
        layer: str = "relu5_4",
        input_size: int | None = None,
        batch_size: int = 256,
        index: str = "pq_fastscan",
        m: int = 32,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = 32,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _vectors(self, X: np.ndarray) -> np.ndarray:
        """``N x H x W x C`` images -> ``N x channels`` float32 pooled VGG19 features."""
        return self._features(X, [self.layer], lambda f: f[self.layer].mean(dim=(2, 3)))

    def _features(self, X: np.ndarray, layers: list[str], reduce) -> np.ndarray:
        """``reduce(features)`` of every image as one float32 array (``N x ...``), computed a batch
        of ``batch_size`` images at a time, where ``features`` maps each of ``layers`` to the
        backbone's output there (after ``pad_to``, ``input_size`` and the backbone's
        preprocessing). Each batch is written into the one output array as it comes: no list of
        batches and no concatenated copy beside it (for the patch detectors the output is every
        training patch, the largest array of a fit)."""
        import torch
        from tqdm.auto import tqdm

        from ..train import to_uint8_tensor

        dev = self._torch_device()
        net = pretrained_backbone(self._backbone, dev)
        spec = BACKBONES[self._backbone]
        data = to_uint8_tensor(X, torch.device("cpu"), self.pad_to)
        if min(data.shape[2:]) < spec.min_size and self.input_size is None:
            raise ValueError(f"images of {tuple(data.shape[2:])} px are too small for {spec.label} (at least "
                             f"{spec.min_size} px); set input_size or pad_to")
        starts = range(0, len(data), self.batch_size)
        out = None
        with torch.inference_mode():
            for i in tqdm(starts, desc=f"{self.name} embedding", unit="batch", disable=not self.verbose, leave=False):
                x = data[i : i + self.batch_size].to(dev).float().div_(255.0)
                if self.input_size is not None:
                    x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                                        align_corners=False)
                part = reduce(net(net.preprocess(x), layers)).float().cpu().numpy()
                if out is None:
                    out = np.empty((len(data), *part.shape[1:]), dtype=np.float32)
                out[i : i + len(part)] = part
        if out is None:
            raise ValueError("no images to embed")
        return out

    # the training images are embedded once: _fit keeps their vectors for the leave-one-out scores
    def _fit(self, X: np.ndarray) -> None:
        vectors = self._vectors(X)
        self.scorer_ = self._new_scorer().fit(vectors)
        self._train_vectors = (X, vectors)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        cached, vectors = self.__dict__.pop("_train_vectors", (None, None))
        return self.scorer_.score_training(vectors if cached is X else self._vectors(X))


class VGG19PatchNNQED(VGG19NNQED):
    """Patch-level NN-QED on frozen ImageNet VGG19 features, with anomaly maps (not from a seed paper).

    The idea of PatchCore (Roth et al., *Towards Total Recall in Industrial Anomaly Detection*,
    2022) with seed 000's compression in place of PatchCore's coreset: every location of the
    training images' mid-level VGG19 feature maps is a patch vector, and *all* of them are
    kept, product-quantized by faiss (``m`` sub-quantizers x ``nbits`` bits; 768-d patches at
    m = 96 x 4 bits are 48 bytes each instead of 3 KB). A test patch's score is its squared L2
    distance to the nearest training patch; the image's score is its highest patch score, and
    :meth:`anomaly_map` is the patch scores upsampled (bilinear) to the image and smoothed with a
    Gaussian, as PatchCore does (``map_sigma`` in patch-grid cells: PatchCore's 4 px at 224 px
    with stride 8 is half a cell).

    Patch vectors: the images (resized to ``input_size``, Caffe preprocessing) go through the
    frozen VGG19 once; each ReLU output in ``layers`` is averaged over 3 x 3 neighbourhoods
    (stride 1, PatchCore's local aggregation), upsampled to the largest of their grids and
    concatenated (``relu3_4`` + ``relu4_4``: 256 + 512 = 768-d at stride 4). PatchCore uses an
    ImageNet WideResNet-50's second and third stages; no such network can be had here
    (DESIGN.md, *Pretrained backbones*), hence VGG19's third and fourth blocks, chosen before
    any result was seen.

    ``coreset`` keeps instead PatchCore's own memory bank: that share of the training patches,
    chosen by greedy k-center selection (:func:`anomalens.scoring.coreset.greedy_coreset`,
    on a 128-d random projection), indexed with ``index`` (``"flat"`` for PatchCore's exact
    search). At ``coreset=1/64`` with ``index="flat"`` the bank takes the memory of the
    default's PQ codes of all patches (48 bytes a patch against 3 KB), the comparison of the
    two ways to compress.

    Threshold: a seeded ``holdout`` share of the training images is kept out of the patch
    bank; ``threshold_`` is the ``threshold_quantile`` of their scores. The other training
    images' scores (``train_scores_``) are their patches' own quantization errors, what a
    search would return for them, computed without one.

    Parameters
    ----------
    layers : tuple of str, default ("relu3_4", "relu4_4")
        VGG19 ReLU outputs whose patches are concatenated.
    input_size : int, default 128
        Square size images are resized to before VGG19 (``relu3_*`` then gives a 32 x 32
        patch grid). ``None`` keeps the images' size.
    holdout : float, default 0.1
        Share of the training images held out of the bank to set the threshold.
    map_sigma : float, default 0.5
        Standard deviation of the Gaussian that smooths the map, in patch-grid cells (0.5 cell
        = 4 px on a 256 px image with a 32 x 32 grid); 0 = no smoothing.
    coreset : float or None, default None
        Share of the training patches kept by greedy k-center selection (PatchCore); None
        keeps them all.
    index, m, nbits, k
        The patch index, as in :class:`~anomalens.detectors.knn.RawNNQED` (default fast-scan PQ,
        m = 96 x 4 bits).
    batch_size, device, verbose, pad_to, threshold_quantile, image_size, seed
        As in :class:`VGG19NNQED` (``seed`` draws the held-out images and seeds the PQ k-means).

    Attributes
    ----------
    scorer_ : KNNScorer
        The faiss index of the training patches.
    grid_ : tuple of int
        The patch grid (rows, columns) of one image.
    held_idx_ : ndarray
        Indices of the held-out training images.
    """

    name: ClassVar[str] = "vgg19_patch_nnqed"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # No paper setting; the one preset is the defaults.
        "quick": {"layers": ("relu3_4", "relu4_4"), "input_size": 128, "index": "pq_fastscan", "m": 96, "nbits": 4,
                  "k": 1, "holdout": 0.1, "map_sigma": 0.5, "pad_to": None},
    }
    _param_constraints: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in VGG19NNQED._param_constraints.items() if k != "layer"},
        "input_size": NoneOr(Interval(int, 32, None)),
        "holdout": Interval(float, 0.0, 0.5, lo_open=True),
        "map_sigma": Interval(float, 0.0, None),
        "coreset": NoneOr(Interval(float, 0.0, 1.0, lo_open=True)),
    }

    def __init__(
        self,
        *,
        layers: tuple[str, ...] = ("relu3_4", "relu4_4"),
        input_size: int | None = 128,
        holdout: float = 0.1,
        map_sigma: float = 0.5,
        coreset: float | None = None,
        batch_size: int = 32,
        index: str = "pq_fastscan",
        m: int = 96,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = None,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _validate_params(self) -> None:
        super()._validate_params()
        spec = BACKBONES[self._backbone]
        if isinstance(self.layers, str) or not len(self.layers) or any(x not in spec.layers for x in self.layers):
            raise ValueError(f"parameter 'layers' must be a tuple of {spec.label} layers ({', '.join(spec.layers)}), "
                             f"got {self.layers!r}")

    def _patch_maps(self, X: np.ndarray) -> np.ndarray:
        """``N x H x W x C`` images -> float32 ``N x h x w x D`` patch vectors."""
        import torch
        from torch.nn import functional as F

        layers = list(self.layers)

        def reduce(feats):
            size = max((f.shape[2:] for f in feats.values()), key=lambda s: s[0] * s[1])
            parts = [F.avg_pool2d(feats[name], 3, stride=1, padding=1, count_include_pad=False) for name in layers]
            parts = [p if p.shape[2:] == size else F.interpolate(p, size=size, mode="bilinear", align_corners=False)
                     for p in parts]
            return torch.cat(parts, dim=1).permute(0, 2, 3, 1)

        return self._features(X, layers, reduce)

    def _patch_scores(self, X: np.ndarray) -> np.ndarray:
        """``N x h x w`` squared distances of each patch to its nearest training patch.

        The last result is kept, keyed by a digest of ``X``: ``score`` then ``anomaly_map`` on
        the same images (what the benchmark and ``anomalens score --maps`` do) search once."""
        import hashlib

        key = (X.shape, str(X.dtype), hashlib.blake2b(np.ascontiguousarray(X).data, digest_size=16).hexdigest())
        cached = self.__dict__.get("_last_patch_scores")
        if cached is not None and cached[0] == key:
            return cached[1]
        out = []
        for i in range(0, len(X), self.batch_size):  # bounded memory: one batch of patch vectors at a time
            maps = self._patch_maps(X[i : i + self.batch_size])
            n, h, w, d = maps.shape
            out.append(self.scorer_.score(maps.reshape(-1, d)).reshape(n, h, w))
        scores = np.concatenate(out)
        scores.setflags(write=False)
        self._last_patch_scores = (key, scores)
        return scores

    def _fit(self, X: np.ndarray) -> None:
        self.__dict__.pop("_last_patch_scores", None)
        bank, held = self._holdout_split(len(X), self.holdout)
        if not len(held):
            raise ValueError(f"holdout={self.holdout} of {self._real_count(len(X))} training images holds out none "
                             "to set the threshold with; give more images or a larger holdout")
        maps = self._patch_maps(X[bank])
        self.grid_ = tuple(int(s) for s in maps.shape[1:3])
        patches = maps.reshape(-1, maps.shape[-1])
        if self.coreset is not None:
            from ..scoring.coreset import greedy_coreset

            n = max(self._min_train_samples(), round(self.coreset * len(patches)))
            patches = patches[np.sort(greedy_coreset(patches, min(n, len(patches)), seed=self.seed))]
        self.scorer_ = self._new_scorer().fit(patches)
        self.held_idx_ = held
        self._bank_scores = (X, bank, self._indexed_scores(maps))  # a few floats; the maps are freed

    def _indexed_scores(self, maps: np.ndarray) -> np.ndarray:
        """Scores of the bank's images: when all their patches are in the index, each patch's
        nearest-neighbour distance is its own quantization error (:meth:`KNNScorer.self_distances`,
        no search; 0 for ``flat``); with a coreset, a search. The image's is the largest."""
        n, h, w, d = maps.shape
        flat = maps.reshape(-1, d)
        dist = self.scorer_.score(flat) if self.coreset is not None else self.scorer_.self_distances(flat)
        return dist.reshape(n, h * w).max(axis=1)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Held-out images: searched like test images; indexed ones: :meth:`_indexed_scores`."""
        cached, bank, bank_scores = self.__dict__.pop("_bank_scores", (None, None, None))
        if cached is not X:
            bank = np.setdiff1d(np.arange(len(X)), self.held_idx_)
            bank_scores = self._indexed_scores(self._patch_maps(X[bank]))
        scores = np.empty(len(X))
        scores[bank] = bank_scores
        scores[self.held_idx_] = self._score(X[self.held_idx_])
        return scores

    def _threshold_from(self, train_scores: np.ndarray) -> float:
        return float(np.quantile(train_scores[self.held_idx_], self.threshold_quantile))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._patch_scores(X).max(axis=(1, 2))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Patch scores upsampled to the fitted image size and Gaussian-smoothed, ``N x H x W``."""
        import torch
        from scipy.ndimage import gaussian_filter
        from torch.nn import functional as F

        self._check_is_fitted()
        scores = self._patch_scores(self._check_input(X, fit=False))
        h, w = int(self.input_shape_[0]), int(self.input_shape_[1])
        maps = F.interpolate(torch.from_numpy(scores.astype(np.float32))[:, None], size=(h, w), mode="bilinear",
                             align_corners=False)[:, 0].numpy().astype(np.float64)
        if self.map_sigma > 0:  # cells -> pixels of the fitted image, per axis
            sigma = (self.map_sigma * h / self.grid_[0], self.map_sigma * w / self.grid_[1])
            maps = np.stack([gaussian_filter(m, sigma=sigma, mode="nearest") for m in maps])
        return maps

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**self._scorer_state(), "held_idx_": np.asarray(self.held_idx_, dtype=np.int64)}

    def _fitted_scalars(self) -> dict[str, Any]:
        return {**super()._fitted_scalars(), "grid_": list(self.grid_)}

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self._set_scorer_state(tensors, scalars)
        self.held_idx_ = tensors["held_idx_"]
        self.grid_ = tuple(scalars["grid_"])


class EffNetPatchNNQED(VGG19PatchNNQED):
    """Patch-level NN-QED on frozen ImageNet EfficientNet-Lite0 features, with anomaly maps (not
    from a seed paper).

    :class:`VGG19PatchNNQED`'s method -- every training patch in one faiss index, an image's
    score its worst patch's distance to the nearest training patch, the map those distances
    upsampled and smoothed -- on a backbone that costs 18 times fewer operations an image than
    VGG19 does there (0.64 GFLOP at 256 px against 11.5 at 128 px, by torch's flop counter):
    :class:`~anomalens.nn.EfficientNetLite0`, 4.7 M parameters, ReLU6, no squeeze-and-excitation,
    ImageNet weights from :mod:`anomalens.data.backbones`. The layers follow PatchCore's choice
    on its WideResNet-50 -- the last stride-8 and stride-16 stages, ``stage3`` + ``stage5``
    (40 + 112 = 152-d patches, each 3 x 3-averaged and brought to the stride-8 grid) -- at the
    images' 256 px, which gives PatchCore's grid size (32 x 32). The PQ keeps VGG19's
    compression: 8 dimensions per 4-bit sub-quantizer (``m = 19``, 9.5 bytes a patch, 1/64 of
    float32), so ``coreset=1/64`` with ``index="flat"`` again takes the same memory. All of
    this was fixed before any result was seen.

    Parameters
    ----------
    layers : tuple of str, default ("stage3", "stage5")
        EfficientNet-Lite0 stage outputs (``stage1`` ... ``stage7``) whose patches are concatenated.
    input_size : int, default 256
        Square size images are resized to before the network (``stage3`` then gives a 32 x 32
        patch grid). ``None`` keeps the images' size.
    m : int, default 19
        PQ sub-quantizers (152-d patches for the default layers; other dimensions are
        zero-padded to a multiple of ``m``).
    holdout, map_sigma, coreset, batch_size, index, nbits, k, pad_to, threshold_quantile, image_size, device, verbose, seed
        As in :class:`VGG19PatchNNQED`.
    """

    name: ClassVar[str] = "effnet_patch_nnqed"
    _backbone: ClassVar[str] = "efficientnet_lite0"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # No paper setting; the one preset is the defaults.
        "quick": {"layers": ("stage3", "stage5"), "input_size": 256, "index": "pq_fastscan", "m": 19, "nbits": 4,
                  "k": 1, "holdout": 0.1, "map_sigma": 0.5, "pad_to": None},
    }

    def __init__(
        self,
        *,
        layers: tuple[str, ...] = ("stage3", "stage5"),
        input_size: int | None = 256,
        holdout: float = 0.1,
        map_sigma: float = 0.5,
        coreset: float | None = None,
        batch_size: int = 32,
        index: str = "pq_fastscan",
        m: int = 19,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = None,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ):
        store_params(self, locals())


class AugNetPatchNNQED(VGG19PatchNNQED):
    """Patch-level NN-QED on a frozen self-supervised ResNet-50 (AugNet), with anomaly maps (not
    from a seed paper).

    :class:`VGG19PatchNNQED`'s method on the network family PatchCore was built on: a
    torchvision-layout ResNet-50 (:class:`~anomalens.nn.ResNet50`), taken at PatchCore's depths,
    the second and third stages (``layer2`` + ``layer3``, strides 8 and 16, 512 + 1024 = 1536-d
    patches, each 3 x 3-averaged and brought to the stride-8 grid), at 256 px (a 32 x 32 grid,
    as :class:`EffNetPatchNNQED`). PatchCore's own weights (ImageNet-supervised WideResNet-50)
    cannot be had here; these are AugNet's (Chen et al. 2021), learnt *without labels* by
    pulling augmented copies of an image together, from PyPI ``imgsim==0.1.2``
    (:mod:`anomalens.data.backbones`; ImageNet mean / std preprocessing, as that package does).
    The PQ keeps the other patch detectors' compression, 8 dimensions per 4-bit sub-quantizer
    (``m = 192``, 96 bytes a patch, 1/64 of float32), so ``coreset=1/64`` with ``index="flat"``
    takes the same memory. All of this was fixed before any result was seen.

    Parameters
    ----------
    layers : tuple of str, default ("layer2", "layer3")
        ResNet-50 stage outputs (``layer1`` ... ``layer4``) whose patches are concatenated.
    input_size : int, default 256
        Square size images are resized to before the network (``layer2`` then gives a 32 x 32
        patch grid). ``None`` keeps the images' size.
    m : int, default 192
        PQ sub-quantizers (1536-d patches for the default layers; other dimensions are
        zero-padded to a multiple of ``m``).
    holdout, map_sigma, coreset, batch_size, index, nbits, k, pad_to, threshold_quantile, image_size, device, verbose, seed
        As in :class:`VGG19PatchNNQED`.
    """

    name: ClassVar[str] = "augnet_patch_nnqed"
    _backbone: ClassVar[str] = "resnet50_augnet"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # No paper setting; the one preset is the defaults.
        "quick": {"layers": ("layer2", "layer3"), "input_size": 256, "index": "pq_fastscan", "m": 192, "nbits": 4,
                  "k": 1, "holdout": 0.1, "map_sigma": 0.5, "pad_to": None},
    }

    def __init__(
        self,
        *,
        layers: tuple[str, ...] = ("layer2", "layer3"),
        input_size: int | None = 256,
        holdout: float = 0.1,
        map_sigma: float = 0.5,
        coreset: float | None = None,
        batch_size: int = 32,
        index: str = "pq_fastscan",
        m: int = 192,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = None,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ):
        store_params(self, locals())
