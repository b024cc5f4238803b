"""Time one DPA training step (autoencoder + relative-perceptual-L1 through VGG19) per setting.

    python benchmarks/dpa_step_time.py [--batch 64] [--device cpu]

Prints seconds per step for latent sizes 16 / 64 and layers relu3_2 / relu4_2 at 32 px.
"""

from __future__ import annotations

import argparse
import time

import torch

from anomalens.detectors.dpa import _perceptual
from anomalens.nn.dpa import ProgressiveAE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    dist = _perceptual(args.device)
    for layers in (["relu3_2"], ["relu4_2"]):
        for latent in (16, 64):
            net = ProgressiveAE(1, 32, latent).to(args.device)
            opt = torch.optim.Adam(net.parameters(), 1e-3)
            x = torch.rand(args.batch, 1, 32, 32, device=args.device) * 2 - 1
            for i in range(args.steps + 1):
                if i == 1:  # the first step warms up
                    if args.device != "cpu":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                _, recon, _ = net(x)
                loss = dist(x, recon, layers).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            if args.device != "cpu":
                torch.cuda.synchronize()
            print(f"{layers[0]} latent {latent}: {(time.perf_counter() - t0) / args.steps:.3f} s/step (batch {args.batch})")


if __name__ == "__main__":
    main()
