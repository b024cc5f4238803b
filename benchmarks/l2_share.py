"""Seed 000: how much does the L2 term weigh beside the MSE gradient of a trained InceptionCAE?

Our training applies Adam's ``weight_decay=1e-6`` to every parameter (gradient term
``1e-6 * w``); the authors' Keras code puts ``l2(1e-6)`` on the convolution kernels only
(``1e-6 * sum(w**2)`` in the loss: gradient ``2e-6 * w``). Adam divides each parameter's
update by its gradient's running RMS, so a penalty matters where ``|L2 term| / RMS(grad)`` is
not small. This measures that ratio, element by element, on a saved paper-preset model over
``--batches`` mini-batches of 200 of its normal class's training images (train-mode BatchNorm,
as in training), for both penalties. Convolution biases that feed a BatchNorm are left out:
BatchNorm cancels them, so their MSE gradient is ~0 and any penalty merely shrinks them.

    PYTHONPATH=src python benchmarks/l2_share.py models/inception_cae_nnqed-mnist-paper/class2-seed0 \\
        --dataset mnist --class 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from anomalens.data import load_dataset  # noqa: E402
from anomalens.detectors.base import load_detector  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a saved inception_cae_nnqed / inception_cae_re model folder")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--class", dest="cls", type=int, required=True, help="the model's normal class")
    ap.add_argument("--batches", type=int, default=20)
    args = ap.parse_args(argv)

    import torch

    det = load_detector(args.model)
    ds = load_dataset(args.dataset)
    x = det._tensor(ds.x_train[ds.y_train == args.cls], torch.device("cpu"))
    net = det.net_.cpu().train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    sq = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for b in range(args.batches):
        xb = x[order[b * 200:(b + 1) * 200]].float() / 255
        net.zero_grad()
        (net(xb) - xb).pow(2).mean().backward()
        for n, p in net.named_parameters():
            sq[n] += p.grad.detach() ** 2
    kinds: dict[str, list[np.ndarray]] = {"conv kernels": [], "BatchNorm scale / shift": []}
    keras: list[np.ndarray] = []
    for n, p in net.named_parameters():
        rms = (sq[n] / args.batches).sqrt()
        if p.dim() == 4:
            ratio = (p.detach().abs() / rms).numpy().ravel()
            kinds["conv kernels"].append(1e-6 * ratio)
            keras.append(2e-6 * ratio)
        elif ".1." in n or n.startswith("out_bn"):  # BatchNorm affine parameters
            kinds["BatchNorm scale / shift"].append((1e-6 * p.detach().abs() / rms).numpy().ravel())
    print(f"{args.model}: |L2 gradient term| / RMS(MSE gradient), {args.batches} batches of 200")
    print(f"{'parameters':<40}{'n':>8}{'median':>10}{'p99':>10}{'max':>10}")
    rows = [(f"ours (1e-6 w): {k}", np.concatenate(v)) for k, v in kinds.items()]
    rows.append(("Keras (2e-6 w): conv kernels", np.concatenate(keras)))
    for name, r in rows:
        print(f"{name:<40}{len(r):>8}{np.median(r):>10.2g}{np.quantile(r, 0.99):>10.2g}{r.max():>10.2g}")


if __name__ == "__main__":
    main()
