"""Seed 001 (Wilmet et al., industrial inspection): KD-CAE, NI-CAE, the same CAE without
noise, and the supervised CNN baseline.

The autoencoders see grayscale images resized to ``image_size`` (files when read, arrays in
``fit`` / ``score``), so they take MVTec AD's 1024 px photographs and our 256 px
``synthetic_parts`` alike; ``anomaly_map`` is computed at the network's resolution and
resized back to the input's.

Thresholds never look at anomalies: ``val_fraction`` of the normal training images (seeded)
is held out of training; it serves the early stopping of the authors' code (validation
loss, ``patience`` epochs, best weights kept) and then the threshold, the
``threshold_quantile`` quantile of the held-out images' scores. (The paper reads its
thresholds off the test data; its notebooks search them on the test labels.)

=================  ===================================  ===================================
detector           network                              score and map
=================  ===================================  ===================================
``kd_cae``         KD-CAE (6 + 6 layers, 8x8x128)       reconstruction error and/or KDE of
                                                        the latent (``score_mode``)
``ni_cae``         NI-CAE, 10 % of training images      1 - SSIM (scikit-image); map = the
                   with Gaussian noise (var 0.001)      SSIM difference image
``cae_ssim``       the same network without noise       as ``ni_cae``
``supervised_cnn`` 5 x (conv 16 + pool), dense, logit   P(anomalous); needs labels (own protocol)
=================  ===================================  ===================================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import Interval, OneOf
from .network import HOLDOUT_CONSTRAINTS, HoldoutNetworkDetector, store_params

__all__ = ["KDCAEDetector", "NICAEDetector", "CAESSIM", "SupervisedCNNDetector"]

_CONSTRAINTS = HOLDOUT_CONSTRAINTS

_COMMON_DOC = """
    image_size : int
        Side of the square images the network sees (files and arrays are resized to it).
    grayscale : bool
        Convert RGB images to luma (ITU-R 601, as Pillow and OpenCV) first.
    epochs : int
        Most training epochs (early stopping usually ends sooner).
    patience : int
        Early stopping: epochs without a lower validation loss before training stops; the
        best epoch's weights are kept.
    val_fraction : float
        Share of the normal training images held out (seeded) for early stopping and the
        threshold (0: none; then no early stopping and an in-sample threshold).
    optimizer, lr, batch_size, weight_decay
        The optimizer (``adam``, ``adadelta``, ``rmsprop``) and its settings.
    threshold_quantile : float
        ``threshold_`` is this quantile of the held-out images' scores.
    device, precision, seed, verbose
        As for every network detector.
"""


# ---------------------------------------------------------------------------------------------
_KD_PAPER = {"image_size": 128, "grayscale": True, "epochs": 600, "patience": 30, "optimizer": "adadelta", "lr": 1.0,
             "batch_size": 10, "weight_decay": 0.0, "val_fraction": 0.1}
_KD_QUICK = {**_KD_PAPER, "image_size": 64, "epochs": 40, "patience": 5, "batch_size": 16}


class KDCAEDetector(HoldoutNetworkDetector):
    __doc__ = """KD-CAE (seed 001): a convolutional autoencoder scored by reconstruction error and
    by a kernel density estimate of its flattened 8 x 8 x 128 latent.

    Training as in the authors' notebooks: MSE, Adadelta (Keras' lr 1.0, rho 0.95), batch
    10, up to 600 epochs, early stopping with patience 30 on a validation split of the
    training normals, best weights kept. The KDE is scikit-learn's Gaussian
    ``KernelDensity`` fitted on the training latents, bandwidth chosen by 5-fold
    cross-validated likelihood on those latents (``bandwidth=None``; the authors fixed 0.2).

    ``score_mode``:

    * ``"combined"`` -- the paper's decision, "anomalous if the reconstruction error is above
      its threshold **or** the density is below its threshold", with both thresholds the
      ``threshold_quantile`` quantile of the held-out images' values. The score is
      ``max((re - t_re) / s_re, (nld - t_kde) / s_kde)`` (``nld`` = minus log density, ``s``
      = the held-out standard deviations), so ``threshold_ = 0`` is exactly that rule and the
      score still ranks images for AUROC.
    * ``"re"`` -- mean squared reconstruction error; ``"kde"`` -- minus the log density.

    ``anomaly_map`` is the squared reconstruction error per pixel in every mode.

    Parameters
    ----------
    score_mode : {"combined", "re", "kde"}, default "combined"
    bandwidth : float or None, default None
        KDE bandwidth; None = cross-validated on the training latents.""" + _COMMON_DOC

    name: ClassVar[str] = "kd_cae"
    _net_kind: ClassVar[str] = "kdcae"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _KD_PAPER, "quick": _KD_QUICK}
    _multiple: ClassVar[int] = 16
    _param_constraints: ClassVar[dict[str, Any]] = {**_CONSTRAINTS, "score_mode": OneOf(("combined", "re", "kde"))}

    def __init__(
        self, *, score_mode: str = "combined", bandwidth: float | None = None, image_size: int = 128,
        grayscale: bool = True, epochs: int = 600, patience: int = 30, val_fraction: float = 0.1,
        optimizer: str = "adadelta", lr: float = 1.0, batch_size: int = 10, weight_decay: float = 0.0,
        threshold_quantile: float = 0.95, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        store_params(self, locals())

    def _build_net(self, in_channels: int):
        from ..nn import KDCAE
        from ..train import seeded

        return seeded(self.seed, lambda: KDCAE(in_channels))

    @staticmethod
    def _loss(forward, x, target):
        return (forward(x) - x).pow(2).mean()

    @classmethod
    def _after_training(cls, dets, datas) -> None:
        from ..scoring import KDEScorer
        from ..train import predict_batches

        for d, data in zip(dets, datas):
            d.kde_ = KDEScorer(bandwidth=d.bandwidth).fit(predict_batches(d.net_.embed, data, batch_size=64))

    def score_components(self, X: Any) -> dict[str, np.ndarray]:
        """Both raw scores of ``X``: ``re`` (mean squared error) and ``kde`` (minus log density)."""
        self._check_is_fitted()
        return self._components(self._check_input(X, fit=False))

    def _components(self, X: np.ndarray) -> dict[str, np.ndarray]:
        from ..train import predict_batches

        x = self._tensor(X)
        net = self.net_
        re = predict_batches(lambda t: (net(t) - t).pow(2).mean(dim=(1, 2, 3)), x, batch_size=64)
        return {"re": re, "kde": self.kde_.score(predict_batches(net.embed, x, batch_size=64))}

    def _combine(self, comp: dict[str, np.ndarray]) -> np.ndarray:
        if self.score_mode != "combined":
            return comp[self.score_mode]
        (t_re, s_re), (t_kde, s_kde) = self.component_thresholds_["re"], self.component_thresholds_["kde"]
        return np.maximum((comp["re"] - t_re) / s_re, (comp["kde"] - t_kde) / s_kde)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        comp = self._components(X)
        held = self.held_idx_ if len(self.held_idx_) else np.arange(self._real_count(len(X)))
        self.component_thresholds_ = {
            k: (float(np.quantile(v[held], self.threshold_quantile)), float(max(np.std(v[held]), 1e-12)))
            for k, v in comp.items()
        }
        return self._combine(comp)

    def _threshold_from(self, train_scores: np.ndarray) -> float:
        return 0.0 if self.score_mode == "combined" else super()._threshold_from(train_scores)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine(self._components(X))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Squared reconstruction error per pixel (mean over channels), ``N x H x W``."""
        self._check_is_fitted()
        x, rec = self._reconstruct(self._check_input(X, fit=False))
        return self._resize_maps(((rec - x) ** 2).mean(axis=1))

    def _scorer_state(self) -> dict[str, np.ndarray]:
        thr = np.array([v for k in ("re", "kde") for v in self.component_thresholds_[k]])
        return {**super()._scorer_state(), **{f"kde.{k}": v for k, v in self.kde_.get_state().items()},
                "component_thresholds": thr}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        from ..scoring import KDEScorer

        super()._set_scorer_state(tensors, scalars)
        self.kde_ = KDEScorer().set_state({k[4:]: v for k, v in tensors.items() if k.startswith("kde.")})
        t = tensors["component_thresholds"]
        self.component_thresholds_ = {"re": (float(t[0]), float(t[1])), "kde": (float(t[2]), float(t[3]))}


# ---------------------------------------------------------------------------------------------
_NI_PAPER = {"image_size": 256, "grayscale": True, "epochs": 20, "patience": 5, "optimizer": "adam", "lr": 1e-3,
             "batch_size": 20, "weight_decay": 0.0, "val_fraction": 0.1}
_NI_QUICK = {**_NI_PAPER, "image_size": 64, "epochs": 10, "patience": 3}


class NICAEDetector(HoldoutNetworkDetector):
    __doc__ = """NI-CAE (seed 001): the noise-injected convolutional autoencoder, scored by SSIM.

    Before training, Gaussian noise (mean 0, variance ``noise_var`` = 0.001) is added once to
    a random ``noise_share`` (10 %) of the training images (seeded), as the authors' code
    does; the noisy images are kept at 8 bits (the rounding, at most 0.002, is small beside
    the noise's standard deviation of 0.032). Training: MSE, Adam 1e-3, batch 20, up to 20
    epochs, early stopping with patience 5 on the held-out normals (the code holds out
    5 %; we hold out ``val_fraction``, as the threshold needs them too).

    Score: ``1 - SSIM(x, x_hat)`` from scikit-image's ``structural_similarity`` (7 x 7
    window, data range 1) at the network's resolution; ``anomaly_map`` is ``1 - `` the full
    SSIM image (the paper's "SSIM difference image").

    Parameters
    ----------
    noise_share : float, default 0.1
        Share of training images that get noise (0 = the without-noise row, ``cae_ssim``).
    noise_var : float, default 0.001""" + _COMMON_DOC

    name: ClassVar[str] = "ni_cae"
    _net_kind: ClassVar[str] = "nicae"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _NI_PAPER, "quick": _NI_QUICK}
    _multiple: ClassVar[int] = 32
    _training_params: ClassVar[tuple[str, ...]] = (*HoldoutNetworkDetector._training_params, "noise_share", "noise_var")
    _param_constraints: ClassVar[dict[str, Any]] = {
        **_CONSTRAINTS, "noise_share": Interval(float, 0.0, 1.0), "noise_var": Interval(float, 0.0, None),
    }

    def __init__(
        self, *, noise_share: float = 0.1, noise_var: float = 0.001, image_size: int = 256, grayscale: bool = True,
        epochs: int = 20, patience: int = 5, val_fraction: float = 0.1, optimizer: str = "adam", lr: float = 1e-3,
        batch_size: int = 20, weight_decay: float = 0.0, threshold_quantile: float = 0.95, device: str = "auto",
        precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        store_params(self, locals())

    def _build_net(self, in_channels: int):
        from ..nn import NICAE
        from ..train import seeded

        return seeded(self.seed, lambda: NICAE(in_channels))

    @staticmethod
    def _loss(forward, x, target):
        return (forward(x) - x).pow(2).mean()

    def _prepare_training(self, data):
        import torch

        n = len(data)
        k = int(round(self.noise_share * n))
        if k == 0 or self.noise_var == 0:
            return data
        rng = np.random.default_rng([self.seed, 1])
        idx = torch.from_numpy(rng.choice(n, size=k, replace=False)).to(data.device)
        noise = torch.from_numpy(rng.normal(0.0, np.sqrt(self.noise_var), (k, *data.shape[1:])).astype(np.float32))
        noisy = data[idx].float() / 255.0 + noise.to(data.device)
        data = data.clone()
        data[idx] = (noisy * 255.0).round().clamp(0, 255).to(torch.uint8)
        return data

    def _ssim(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per image: mean SSIM and the full SSIM image (mean over channels), network resolution."""
        from skimage.metrics import structural_similarity

        x, rec = self._reconstruct(X)
        means, maps = np.empty(len(x)), np.empty((len(x), *x.shape[2:]))
        for i in range(len(x)):
            m, full = structural_similarity(x[i], rec[i], data_range=1.0, channel_axis=0, full=True)
            means[i], maps[i] = m, full.mean(axis=0)
        return means, maps

    def _score(self, X: np.ndarray) -> np.ndarray:
        return 1.0 - self._ssim(X)[0]

    def anomaly_map(self, X: Any) -> np.ndarray:
        """``1 - SSIM`` image (the SSIM difference image), ``N x H x W``."""
        self._check_is_fitted()
        return self._resize_maps(1.0 - self._ssim(self._check_input(X, fit=False))[1])


class CAESSIM(NICAEDetector):
    __doc__ = """The NI-CAE network trained **without** noise (seed 001, Table 3's "without
    noise" row): :class:`NICAEDetector` with ``noise_share=0``.""" + _COMMON_DOC

    name: ClassVar[str] = "cae_ssim"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {**_NI_PAPER, "noise_share": 0.0}, "quick": {**_NI_QUICK, "noise_share": 0.0}}

    def __init__(
        self, *, noise_share: float = 0.0, noise_var: float = 0.001, image_size: int = 256, grayscale: bool = True,
        epochs: int = 20, patience: int = 5, val_fraction: float = 0.1, optimizer: str = "adam", lr: float = 1e-3,
        batch_size: int = 20, weight_decay: float = 0.0, threshold_quantile: float = 0.95, device: str = "auto",
        precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        store_params(self, locals())


# ---------------------------------------------------------------------------------------------
_CNN_PAPER = {"image_size": 200, "grayscale": False, "epochs": 150, "optimizer": "rmsprop", "lr": 1e-3,
              "batch_size": 120, "weight_decay": 0.0}
_CNN_QUICK = {**_CNN_PAPER, "image_size": 96, "epochs": 30, "batch_size": 32}


class SupervisedCNNDetector(HoldoutNetworkDetector):
    __doc__ = """The supervised CNN of seed 001: a binary classifier of normal vs anomalous
    images, **not a one-class method** -- it must be trained on labelled anomalies
    (``fit(X, y)``), and the benchmark gives it its own protocol (``supervised_kfold``:
    k-fold over the labelled test images, anomalies in the training folds, every image
    scored by a model that never saw it).

    Network: five blocks of 3 x 3 "valid" convolution with 16 filters + ReLU + 2 x 2 max-pool
    on 200 x 200 x 3 images, flatten, a dense hidden layer (``hidden`` units, ReLU; the
    authors' code uses 256 at its 256 px input), one sigmoid output. RMSprop (lr 1e-3),
    binary cross-entropy, batch 120; ``epochs`` passes over the training images (the
    authors ran 15 Keras epochs of 40 batches of 120, about 600 steps; 150 epochs of our
    folds of ~400 images are about that). Score = P(anomalous); ``threshold_ = 0.5``, the
    classifier's own decision.

    Parameters
    ----------
    hidden : int, default 256""" + _COMMON_DOC

    name: ClassVar[str] = "supervised_cnn"
    _net_kind: ClassVar[str] = "cnn"
    #: needs labelled anomalies: ``fit(X, y)``; the benchmark runs it under ``supervised_kfold``
    supervised: ClassVar[bool] = True
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _CNN_PAPER, "quick": _CNN_QUICK}
    _training_params: ClassVar[tuple[str, ...]] = (
        "epochs", "lr", "batch_size", "weight_decay", "precision", "seed", "image_size", "grayscale", "optimizer", "hidden")
    _param_constraints: ClassVar[dict[str, Any]] = {**_CONSTRAINTS, "hidden": Interval(int, 1, None)}

    def __init__(
        self, *, hidden: int = 256, image_size: int = 200, grayscale: bool = False, epochs: int = 150,
        optimizer: str = "rmsprop", lr: float = 1e-3, batch_size: int = 120, weight_decay: float = 0.0,
        device: str = "auto", precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        store_params(self, locals())

    def _validate_params(self) -> None:
        super()._validate_params()
        s = self.image_size
        for _ in range(5):
            s = (s - 2) // 2
        if s < 1:
            raise ValueError(f"parameter 'image_size' must be >= 94 for five conv + pool blocks, got {self.image_size}")

    def _build_net(self, in_channels: int):
        from ..nn import SupervisedCNN
        from ..train import seeded

        return seeded(self.seed, lambda: SupervisedCNN(in_channels, self.image_size, hidden=self.hidden))

    @staticmethod
    def _loss(forward, xy, target):
        from torch.nn import functional as F

        x, y = xy
        return F.binary_cross_entropy_with_logits(forward(x), y)

    def fit(self, X: Any, y: Any = None, *, n_real: int | None = None) -> SupervisedCNNDetector:
        """Train on images ``X`` with labels ``y`` (0 normal, 1 anomalous; both needed).
        ``n_real`` is checked as in :meth:`BaseDetector.fit` but changes nothing: the classifier
        holds nothing out and its threshold is the probability 0.5."""
        import torch

        if y is None:
            raise ValueError("supervised_cnn is a supervised classifier: fit(X, y) needs labels y (0 normal, "
                             "1 anomalous) with both classes present; it is not a one-class detector")
        arr = self._begin_fit(X, n_real)
        labels = np.asarray(y).ravel()
        if labels.shape != (len(arr),) or not set(np.unique(labels)) == {0, 1}:
            raise ValueError(f"y must hold one 0/1 label per image with both classes, got {len(labels)} labels "
                             f"for {len(arr)} images with values {sorted(set(np.unique(labels).tolist()))}")
        device = self._torch_device()
        data = self._tensor(arr, device)
        net = self._build_net(data.shape[1]).to(device)
        lab = torch.tensor(labels, dtype=torch.float32, device=device)
        self.train_log_ = self._train([self], [net], [data], what="classifier", labels=[lab], optimizer=self.optimizer,
                                      optimizer_options=self._optimizer_options.get(self.optimizer))
        self.net_ = net.eval()
        self.held_idx_ = np.zeros(0, np.int64)
        self.train_scores_ = self._score(arr)
        self.threshold_ = 0.5
        return self

    def fit_many(self, Xs, seeds, *, n_real=None):
        raise NotImplementedError("supervised_cnn trains on labelled images: call fit(X, y) (the benchmark's "
                                  "supervised_kfold protocol does)")

    def _score(self, X: np.ndarray) -> np.ndarray:
        import torch

        from ..train import predict_batches

        return predict_batches(lambda t: torch.sigmoid(self.net_(t)), self._tensor(X), batch_size=64)
