"""Synthetic normal images from a DCGAN (seed 001's augmentation), and a memorisation check.

:class:`DCGANAugmenter` trains :class:`anomalens.nn.DCGAN` on a category's normal images
with the shared training loop and writes new ones. The ``paper`` preset follows the
authors' DCGAN script (128 x 128 RGB, z of 100, Adam lr 2e-4 with beta1 = 0.5, batch 64, 25
epochs); the generator and discriminator follow the DCGAN guidelines the paper lists
(:mod:`anomalens.nn.dcgan`). The players take turns, as the paper describes ("we ran k
steps of one player for every step of the other player", k = 1 as in the authors' script):
each step updates the discriminator, then the generator against the updated
discriminator. ``alternate=False`` updates both at once from the same losses instead (what
the quick rows committed before 2026-12-01 ran; their ``params.dcgan`` say
``"alternate": false``).

:func:`memorisation` measures whether the generator copies its training images: the
distance of each generated image to its nearest training image, beside the distance of
each training image to its nearest *other* training image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DCGANAugmenter", "memorisation", "diagnose", "learned", "PRESETS", "check_settings",
           "UNLEARNED_RATIO", "COPY_RATIO", "WINNING_DISC_LOSS"]

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"size": 128, "latent": 100, "width": 64, "epochs": 25, "lr": 2e-4, "batch_size": 64, "alternate": True,
              "g_steps": 1},
    "quick": {"size": 64, "latent": 100, "width": 16, "epochs": 30, "lr": 2e-4, "batch_size": 32, "alternate": True,
              "g_steps": 1},
}


def check_settings(settings: dict[str, Any], option: str) -> dict[str, Any]:
    """``settings`` (DCGAN overrides of a preset) when every key is a preset setting; otherwise
    a ValueError naming ``option`` and the unknown keys."""
    unknown = sorted(set(settings) - set(PRESETS["paper"]))
    if unknown:
        raise ValueError(f"{option}: unknown DCGAN setting(s) {', '.join(unknown)}; known: {', '.join(PRESETS['paper'])}")
    return dict(settings)


def _resize(x, size: int):
    """uint8 ``N x C x H x W`` tensor -> float ``N x C x size x size`` in [0, 1]."""
    from torch.nn import functional as F

    x = x.float() / 255.0
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1)


def _gan_loss(forward, x, target, player=None):
    return forward(x * 2 - 1, player)  # images in [-1, 1]; the loss of the player whose turn it is


def _gan_loss_sum(forward, x, target):
    return forward(x * 2 - 1).sum()  # both players updated at once (alternate=False)


class DCGANAugmenter:
    """Train a DCGAN on normal images; ``generate(n)`` returns new ones.

    Parameters
    ----------
    size : int
        Side of the generated images (a power of two >= 8); training images are resized to it.
    latent, width : int
        Noise dimension and the networks' first-layer channels.
    epochs, lr, batch_size : training (Adam, betas (0.5, 0.999)).
    alternate : bool
        True (the paper's schedule): each step updates the discriminator, then the generator
        against the updated discriminator. False: both at once from the same losses.
    g_steps : int
        With ``alternate``: generator updates per discriminator update (the paper's "k steps of
        one player for every step of the other", k not given; 1 as in the authors' script).
        Measured on ``synthetic_parts`` ``board``, whose discriminator wins early: 2 does not
        stop it winning at 300 epochs (see the README's DCGAN paragraph).
    seed : int
        Seeds the initial weights, the batch order, the training noise and ``generate``.
    device : str
        "auto", "cpu", "cuda", ...
    """

    def __init__(self, *, size: int = 128, latent: int = 100, width: int = 64, epochs: float = 25, lr: float = 2e-4,
                 batch_size: int = 64, alternate: bool = True, g_steps: int = 1, seed: int = 0,
                 device: str = "auto", verbose: bool = False):
        self.size, self.latent, self.width, self.epochs, self.lr = size, latent, width, epochs, lr
        self.batch_size, self.alternate, self.seed, self.device, self.verbose = batch_size, alternate, seed, device, verbose
        self.g_steps = g_steps

    def settings(self) -> dict[str, Any]:
        """Everything the trained generator depends on besides its images and device."""
        return {k: getattr(self, k) for k in (*PRESETS["paper"], "seed")}

    @classmethod
    def from_preset(cls, preset: str = "paper", **overrides: Any) -> DCGANAugmenter:
        if preset not in PRESETS:
            raise ValueError(f"unknown DCGAN preset {preset!r}; available: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **overrides})

    def _build(self, channels: int):
        from .nn import DCGAN
        from .train import seeded

        return seeded(self.seed, lambda: DCGAN(channels, self.latent, self.size, self.width))

    def fit(self, X: Any) -> DCGANAugmenter:
        """Train on normal images (``N x H x W x C`` uint8 array, folder or list of files)."""
        import torch

        from .data.images import as_image_array
        from .data.validation import check_images
        from .train import Phase, resolve_device, to_uint8_tensor, train_models

        if self.size < 8 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {self.size}")
        if isinstance(self.g_steps, bool) or not isinstance(self.g_steps, int) or self.g_steps < 1:
            raise ValueError(f"g_steps must be a whole number >= 1, got {self.g_steps!r}")
        if self.g_steps > 1 and not self.alternate:
            raise ValueError(f"g_steps={self.g_steps} needs alternate=True (players taking turns)")
        arr = check_images(as_image_array(X, size=None), name="X", min_samples=2)
        dev = resolve_device(self.device)
        data = (_resize(to_uint8_tensor(arr, dev), self.size) * 255).round().to(torch.uint8)
        self.channels_ = int(data.shape[1])
        self.net_ = self._build(self.channels_).to(dev)
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.seed)  # the noise the generator is trained on
            self.train_log_ = train_models(
                [self.net_], data, _gan_loss if self.alternate else _gan_loss_sum, phases=[Phase(self.epochs, self.lr)],
                batch_size=self.batch_size, weight_decay=0.0, seeds=[self.seed], optimizer="adam",
                optimizer_options={"betas": (0.5, 0.999)}, alternate=("disc.", "generator.") if self.alternate else None,
                turns=(1, self.g_steps) if self.alternate else None,
                progress=self.verbose, desc="dcgan",
            )
        self.fit_seconds_ = round(time.perf_counter() - t0, 2)
        self.final_losses_ = self._final_losses()
        self.net_.eval()
        return self

    def _final_losses(self) -> dict[str, float] | None:
        """Last epoch's mean losses (``gan_disc_loss``, ``gan_gen_loss``: the keys of results rows
        and of :func:`diagnose`'s stats) when the players took turns."""
        pl = self.train_log_.player_losses
        if pl is None or pl.shape[1] == 0:
            return None
        return {"gan_disc_loss": round(float(pl[0, -1, 0]), 5), "gan_gen_loss": round(float(pl[0, -1, 1]), 5)}

    def to_model_size(self, X: np.ndarray) -> np.ndarray:
        """uint8 ``N x H x W x C`` images resized as training resizes them (to ``size``)."""
        import torch

        from .train import to_uint8_tensor

        x = (_resize(to_uint8_tensor(np.asarray(X), torch.device("cpu")), self.size) * 255).round().to(torch.uint8)
        return x.permute(0, 2, 3, 1).numpy()

    def generate(self, n: int, size: int | tuple[int, int] | None = None, seed: int | None = None) -> np.ndarray:
        """``n`` new images as uint8 ``n x H x W x C`` (``size``: resize to it; default the model's)."""
        import torch
        from torch.nn import functional as F

        if not hasattr(self, "net_"):
            raise RuntimeError("this DCGANAugmenter is not fitted yet: call fit(X) first")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        dev = next(self.net_.parameters()).device
        g = torch.Generator(device="cpu").manual_seed(self.seed if seed is None else seed)
        z = torch.randn(n, self.latent, generator=g).to(dev)
        out = []
        with torch.no_grad():
            for i in range(0, n, 256):
                x = (self.net_.sample(z[i : i + 256]) + 1) / 2
                if size is not None:
                    hw = (size, size) if isinstance(size, int) else tuple(size)
                    x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
                out.append((x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(out)

    def save(self, path: str | Path) -> Path:
        """``config.json`` + ``weights.safetensors`` (no pickle), atomically."""
        from ._io import atomic_dir, save_safetensors

        with atomic_dir(path, what="DCGAN model") as tmp:
            save_safetensors({k: v.detach().cpu().contiguous() for k, v in self.net_.state_dict().items()},
                             tmp / "weights.safetensors")
            cfg = {"kind": "dcgan", "channels": self.channels_, **self.settings(),
                   "fit_seconds": getattr(self, "fit_seconds_", None),
                   "final_losses": getattr(self, "final_losses_", None)}
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> DCGANAugmenter:
        from safetensors.torch import load_file

        from .train import resolve_device

        p = Path(path)
        try:
            cfg = json.loads((p / "config.json").read_text())
            channels = int(cfg.pop("channels"))
            fit_seconds = cfg.pop("fit_seconds", None)
            final_losses = cfg.pop("final_losses", None)
            if cfg.pop("kind") != "dcgan":
                raise ValueError("not a DCGAN model")
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{str(p)!r} is not a saved DCGANAugmenter: {e}") from e
        aug = cls(**cfg, device=device)
        aug.channels_, aug.fit_seconds_, aug.final_losses_ = channels, fit_seconds, final_losses
        aug.net_ = aug._build(channels)
        aug.net_.load_state_dict(load_file(str(p / "weights.safetensors")))
        aug.net_.to(resolve_device(device)).eval()
        return aug


def memorisation(generated: np.ndarray, train: np.ndarray) -> dict[str, float]:
    """Nearest-neighbour distances (root mean squared pixel difference, 0-255 scale).

    ``gen_to_train_*``: each generated image to its nearest training image; ``train_to_train_*``:
    each training image to its nearest other training image. A generator that copies its
    training set has ``gen_to_train`` far below ``train_to_train``. Both sets must have the
    same image shape.
    """
    from scipy.spatial.distance import cdist

    if generated.shape[1:] != train.shape[1:]:
        raise ValueError(f"generated images {generated.shape[1:]} and training images {train.shape[1:]} differ in shape")
    g = generated.reshape(len(generated), -1).astype(np.float32)
    t = train.reshape(len(train), -1).astype(np.float32)
    d = cdist(g, t) / np.sqrt(g.shape[1])
    dt = cdist(t, t) / np.sqrt(g.shape[1])
    np.fill_diagonal(dt, np.inf)
    gn, tn = d.min(axis=1), dt.min(axis=1)
    stats = {"gen_to_train_median": float(np.median(gn)), "gen_to_train_min": float(gn.min()),
             "train_to_train_median": float(np.median(tn)), "train_to_train_min": float(tn.min())}
    return {**stats, "gen_to_train_ratio": _ratio(stats)}


#: ``gen_to_train_ratio`` above which the generator has not learned its training images. Measured
#: on ``synthetic_parts`` (64 px, ``quick`` generator, 300 epochs, both update schedules):
#: generators whose samples look like the category's images sit at 0.9-3.1 (all 15 with turns
#: at 0.9-3.7 but two); a 30-epoch generator (grey, near-identical outputs) at 6.7 and diverged
#: ones (noise: ``board`` seed 0, ``brush`` seed 1 with turns) at 7.4-12.6.
UNLEARNED_RATIO = 4.0
#: ``gen_to_train_ratio`` below which generated images sit closer to the training images than
#: those do to each other: the generator is likely to copy them.
COPY_RATIO = 0.5


#: a discriminator loss (real + fake cross-entropy) below which the discriminator tells every
#: generated image apart: 0.05 is D(x) and 1 - D(G(z)) both above about 0.97.
WINNING_DISC_LOSS = 0.05


def _ratio(stats: dict[str, Any]) -> float:
    t = float(stats["train_to_train_median"])
    return float(stats["gen_to_train_median"]) / t if t > 0 else float("inf")


def learned(stats: dict[str, Any]) -> bool:
    """False when the memorisation check ``stats`` (from :func:`memorisation`, or a results row
    that carries its medians) says the generator has not learned its training images."""
    return _ratio(stats) <= UNLEARNED_RATIO


def diagnose(stats: dict[str, Any]) -> list[str]:
    """Warnings (empty when none) from a memorisation check: a generator that has not learned
    its training images (``gen_to_train_ratio`` > :data:`UNLEARNED_RATIO`) or one that may copy
    them (< :data:`COPY_RATIO`). Uses the medians only, so older results rows work too; a
    ``gan_disc_loss`` (the discriminator's last-epoch loss) below :data:`WINNING_DISC_LOSS`
    says the discriminator has won, where more epochs do not help."""
    r = _ratio(stats)
    if r > UNLEARNED_RATIO:
        d = stats.get("gan_disc_loss")
        hint = ("train longer (e.g. epochs=300) or check the images" if d is None or d >= WINNING_DISC_LOSS else
                f"the discriminator wins (its loss {d:.3g} in the last epoch), so training longer will not help")
        return [f"the generator has not learned the training images: a generated image is {r:.1f} times as far from "
                f"its nearest training image as training images are from each other (more than {UNLEARNED_RATIO:g}); "
                + hint]
    if r < COPY_RATIO:
        return [f"generated images may copy the training images: they are {r:.2f} times as far from their nearest "
                f"training image as training images are from each other (less than {COPY_RATIO:g})"]
    return []
