"""Detectors by name: ``create(name, preset=None, **overrides)`` and ``list_detectors``.

The table maps a name to ``"module:Class"`` and is read without importing the
modules, so ``import anomalens`` stays cheap (no torch or faiss until a detector
is created). Presets are plain dicts on each class (``PRESETS``); merge order is
class defaults < preset < overrides, and ``None`` overrides are dropped.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

__all__ = ["DetectorInfo", "DETECTORS", "create", "get_class", "list_detectors", "list_presets", "localising_detectors"]


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    target: str  # "module:Class"
    paper: str  # seed file and the paper's name for the method
    summary: str
    #: False for methods beyond the seed papers: they have no ``paper`` preset to reproduce
    reproduces: bool = True


DETECTORS: dict[str, DetectorInfo] = {
    info.name: info
    for info in [
        DetectorInfo(
            "raw_nnqed",
            "anomalens.detectors.knn:RawNNQED",
            "seed 000 (Sarafijanovic-Djukic & Davis), Raw NN-QED",
            "nearest-neighbour distance on raw pixels; exact, PQ or fast-scan PQ index",
        ),
        DetectorInfo(
            "inception_cae_nnqed",
            "anomalens.detectors.autoencoder:InceptionCAENNQED",
            "seed 000 (Sarafijanovic-Djukic & Davis), InceptionCAE NN-QED",
            "Inception-like CAE, GAP bottleneck embedding, nearest-neighbour PQ distance",
        ),
        DetectorInfo(
            "cae_nnqed",
            "anomalens.detectors.autoencoder:CAENNQED",
            "seed 000, CAE NN-QED (baseline CAE of Deep SVDD)",
            "baseline CAE dense bottleneck, nearest-neighbour PQ distance",
        ),
        DetectorInfo(
            "inception_cae_re",
            "anomalens.detectors.autoencoder:InceptionCAERE",
            "seed 000, InceptionCAE RE (Table 6)",
            "reconstruction error of the Inception-like CAE",
        ),
        DetectorInfo(
            "cae_re",
            "anomalens.detectors.autoencoder:CAERE",
            "seed 000, CAE RE (Table 6)",
            "reconstruction error of the baseline CAE",
        ),
        DetectorInfo(
            "cae_ocsvm",
            "anomalens.detectors.autoencoder:CAEOCSVM",
            "seed 000, CAE OCSVM (Tables 2-3)",
            "one-class SVM (RBF, gamma=1/d, nu=0.5) on the baseline CAE bottleneck",
        ),
        DetectorInfo(
            "deepsvdd",
            "anomalens.detectors.autoencoder:DeepSVDD",
            "Ruff et al. 2018, one-class Deep SVDD (a seed 000 baseline)",
            "bias-free CAE encoder pulled towards a centre; squared distance to it",
        ),
        DetectorInfo(
            "geom",
            "anomalens.detectors.geom:GEOM",
            "seed 002 (Golan & El-Yaniv), GEOM",
            "WRN classifier of 72 geometric transformations; Dirichlet (or simplified) normality score",
        ),
        DetectorInfo(
            "encoder_flow",
            "anomalens.detectors.flow:EncoderFlow",
            "seed 003 (Salcedo & Alvarez), encoder + RealNVP",
            "DCGAN autoencoder (L1), RealNVP on its latents; -log-likelihood; confidence-interval threshold",
        ),
        DetectorInfo(
            "ganomaly",
            "anomalens.detectors.ganomaly:GANomaly",
            "Akcay et al. 2018, GANomaly (the seed 003 baseline)",
            "encoder-decoder-encoder generator + discriminator; latent distance ||z - z_hat||^2",
        ),
        DetectorInfo(
            "kd_cae",
            "anomalens.detectors.inspection:KDCAEDetector",
            "seed 001 (Wilmet et al.), KD-CAE",
            "12-layer CAE, reconstruction error + KDE of the 8x8x128 latent (OR rule); error map",
        ),
        DetectorInfo(
            "ni_cae",
            "anomalens.detectors.inspection:NICAEDetector",
            "seed 001 (Wilmet et al.), NI-CAE (with noise)",
            "CAE trained with Gaussian noise on 10% of images; 1 - SSIM score, SSIM difference map",
        ),
        DetectorInfo(
            "cae_ssim",
            "anomalens.detectors.inspection:CAESSIM",
            "seed 001 (Wilmet et al.), NI-CAE without noise (Table 3)",
            "the NI-CAE network trained without noise; 1 - SSIM score and map",
        ),
        DetectorInfo(
            "supervised_cnn",
            "anomalens.detectors.inspection:SupervisedCNNDetector",
            "seed 001 (Wilmet et al.), supervised CNN baseline",
            "5 x (conv 16 + pool) + dense classifier; needs labelled anomalies (k-fold protocol)",
        ),
        DetectorInfo(
            "vgg19_nnqed",
            "anomalens.detectors.pretrained:VGG19NNQED",
            "beyond the seeds: seed 000's NN-QED on seed 004's ImageNet VGG19 (after Bergman et al. 2020, DN2)",
            "nothing trained: pooled frozen VGG19 features, nearest-neighbour PQ distance",
            reproduces=False,
        ),
        DetectorInfo(
            "vgg19_patch_nnqed",
            "anomalens.detectors.pretrained:VGG19PatchNNQED",
            "beyond the seeds: patch-level NN-QED on frozen VGG19 (after Roth et al. 2022, PatchCore; PQ in place of "
            "the coreset)",
            "nothing trained: every training patch of VGG19 relu3_4+relu4_4 in a PQ index; max patch distance; map",
            reproduces=False,
        ),
        DetectorInfo(
            "effnet_patch_nnqed",
            "anomalens.detectors.pretrained:EffNetPatchNNQED",
            "beyond the seeds: vgg19_patch_nnqed on a frozen ImageNet EfficientNet-Lite0 (after Roth et al. 2022, "
            "PatchCore)",
            "nothing trained: every training patch of EfficientNet-Lite0 stage3+stage5 in a PQ index; max patch "
            "distance; map",
            reproduces=False,
        ),
        DetectorInfo(
            "augnet_patch_nnqed",
            "anomalens.detectors.pretrained:AugNetPatchNNQED",
            "beyond the seeds: vgg19_patch_nnqed on a frozen self-supervised ResNet-50 (AugNet weights; after Roth "
            "et al. 2022, PatchCore)",
            "nothing trained: every training patch of ResNet-50 layer2+layer3 in a PQ index; max patch distance; map",
            reproduces=False,
        ),
        *[
            DetectorInfo(name, "anomalens.detectors.dpa:DPA", f"seed 004 (Tuluptceva et al.), {paper}", summary)
            for name, paper, summary in [
                ("dpa", "DPA (Table 1; Table 4 row 3)",
                 "residual AE, relative-perceptual-L1 on VGG19; latent size and layer chosen with a few anomalies"),
                ("dpa_pg", "DPA with progressive growing (Table 4 row 10)",
                 "dpa trained by progressive growing from 8 px, loss depth growing in step"),
                ("dpa_unsup", "DPA, unsupervised selection (Table 4 row 2)",
                 "dpa with hyper-parameters chosen by the lowest validation loss"),
                ("dpa_l1", "L1 autoencoder, unsupervised selection (Table 4 row 1)",
                 "the DPA autoencoder trained and scored with L1 on pixels"),
                ("dpa_l1mix", "DPA, perceptual + 0.1 L1 (Table 4 row 7)",
                 "dpa with 0.1 x L1 on pixels added to the perceptual loss"),
            ]
        ],
    ]
}


def _close(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def get_class(name: str) -> type:
    """Import and return the detector class registered as ``name``."""
    if not isinstance(name, str) or name not in DETECTORS:
        raise ValueError(
            f"unknown detector {name!r}; available: {', '.join(sorted(DETECTORS))}."
            + (_close(name, list(DETECTORS)) if isinstance(name, str) else "")
        )
    module, attr = DETECTORS[name].target.split(":")
    return getattr(importlib.import_module(module), attr)


def list_presets(name: str) -> list[str]:
    return sorted(getattr(get_class(name), "PRESETS", {}))


def create(name: str, preset: str | None = None, **overrides: Any):
    """Build an unfitted detector by registry name.

    Parameters
    ----------
    name : str
        Registry name, see :func:`list_detectors`.
    preset : str, optional
        ``"paper"`` (the seed paper's settings) or ``"quick"`` (minutes on 2 CPU cores).
    **overrides
        Hyper-parameters that win over the preset, ``None`` included (``pad_to=None``,
        ``train_gap=None`` at a preset that sets them).

    Merge order: the class's defaults < the preset < the name's ``VARIANTS`` settings (names
    registered as settings of one class) < ``overrides``.
    """
    cls = get_class(name)
    presets: dict[str, dict[str, Any]] = getattr(cls, "PRESETS", {})
    params: dict[str, Any] = {}
    if preset is not None:
        if preset not in presets:
            raise ValueError(
                f"unknown preset {preset!r} for detector {name!r}; available: {', '.join(sorted(presets))}."
                + _close(preset, list(presets))
            )
        params.update(presets[preset])
    # a name registered as a variant of a shared class (e.g. dpa_l1 of DPA) fixes its settings
    params.update(getattr(cls, "VARIANTS", {}).get(name, {}))
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key, value in overrides.items():
        if key not in valid:
            raise ValueError(
                f"unknown parameter {key!r} for detector {name!r}; valid parameters: {', '.join(valid)}."
                + _close(key, valid)
            )
        params[key] = value
    return cls(**params)


def list_detectors(pattern: str = "*") -> list[str]:
    """Registered detector names matching a shell-style ``pattern``."""
    return sorted(n for n in DETECTORS if fnmatch.fnmatch(n, pattern))


def localising_detectors() -> list[str]:
    """Registered detector names whose class has :meth:`anomaly_map` (per-pixel maps for
    ``score --maps`` and ``serve``'s ``POST /map``). Imports every detector module."""
    from .detectors.base import localises

    return sorted(n for n in DETECTORS if localises(get_class(n)))
