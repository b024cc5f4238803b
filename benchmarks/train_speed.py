"""Training throughput of the shared loop: 1 model, CUDA graph, K models as one batched network.

Synthetic ``n x 1 x 32 x 32`` uint8 images (MNIST-sized classes). The seed-000 CAEs
(``inception``, ``baseline``) train at batch 200 with MSE for ``--epochs`` epochs; GEOM's
WRN-10-4 (``wrn``) trains at batch 128 on the 72x self-labelled set (cross-entropy of the
transformation) for ``--wrn-epochs`` of it; each configuration runs after one warm-up run.
A single model (K = 1) is timed in both memory layouts, the default and channels-last
(``train_models(channels_last=...)``; "auto" picks channels-last on CPU only).
Every configuration runs in this one process, so the ratios compare like with like. With
``wrn`` in ``--nets`` it also measures GEOM's scoring throughput (images/s, all 72
transformations of every image classified).

    PYTHONPATH=src python3 benchmarks/train_speed.py --out benchmarks/results/train_speed.json \\
        --markdown benchmarks/TRAIN_SPEED.md

Images/s counts every model's images (K models x n images x epochs / seconds).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from anomalens._io import atomic_write_text  # noqa: E402
from anomalens.detectors.geom import GEOM, _make_loss  # noqa: E402
from anomalens.nn import BaselineCAE, InceptionCAE, WideResNet  # noqa: E402
from anomalens.train import Phase, resolve_device, seeded, train_models  # noqa: E402

NETS = {"inception": lambda: InceptionCAE(1), "baseline": lambda: BaselineCAE(1), "wrn": lambda: WideResNet(10, 4, 72, 1)}


def mse(forward, x, target):
    return (forward(x) - x).pow(2).mean()


def _data(n: int, device: torch.device) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.integers(0, 256, (n, 1, 32, 32), dtype=np.uint8)).to(device)


def measure(net: str, k: int, graph: bool, precision: str, n: int, epochs: float, device: torch.device,
            channels_last: bool = False) -> dict:
    data = [_data(n, device)]
    models = [seeded(i, NETS[net]).to(device) for i in range(k)]
    geom = net == "wrn"
    loss, views, bs, lr = (_make_loss(32, 8), 72, 128, 1e-3) if geom else (mse, 1, 200, 1e-4)
    kw = dict(batch_size=bs, seeds=list(range(k)), cuda_graph=graph, precision=precision, views=views,
              channels_last=channels_last)
    train_models(models, data * k, loss, phases=[Phase(min(epochs, 1), lr)], **kw)  # warm-up: cuDNN, allocator, graph capture
    res = train_models(models, data * k, loss, phases=[Phase(epochs, lr)], **kw)
    return {"net": net, "models": k, "cuda_graph": graph, "precision": precision, "channels_last": channels_last,
            "images_per_s": res.images_per_second,
            "seconds": res.seconds, "epochs": epochs, "n": n, "batch_size": bs, "views": views}


def measure_geom_scoring(n: int, device: torch.device) -> list[dict]:
    """GEOM scoring: images/s with all 72 transformations of each image in the forward pass."""
    import time

    rows = []
    for mode in ("dirichlet", "simple"):
        det = GEOM(score_mode=mode, device=str(device))
        det.input_shape_ = (32, 32, 1)
        det.net_ = seeded(0, NETS["wrn"]).to(device).eval()
        det.alpha_ = np.ones((72, 72))
        data = _data(n, device)
        det._scores_of(data[:256])  # warm-up
        t0 = time.perf_counter()
        det._scores_of(data)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        sec = time.perf_counter() - t0
        rows.append({"what": f"geom scoring ({mode})", "images_per_s": n / sec, "views_per_s": 72 * n / sec, "n": n,
                     "seconds": sec})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", default="inception,baseline")
    p.add_argument("--models", default="1,3,10,30", help="K values")
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--wrn-epochs", type=float, default=0.1, help="epochs of the 72x set for wrn")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--markdown", type=Path)
    args = p.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    rows = []
    for net in args.nets.split(","):
        for k in (int(x) for x in args.models.split(",")):
            for graph in ((False, True) if cuda else (False,)):
                for precision in (("fp32", "bf16") if cuda else ("fp32",)):
                    for layout in ((False, True) if k == 1 else (False,)):
                        r = measure(net, k, graph, precision, args.n, args.wrn_epochs if net == "wrn" else args.epochs,
                                    device, layout)
                        rows.append(r)
                        print(json.dumps(r), flush=True)
    name = torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu"
    scoring = measure_geom_scoring(args.n if cuda else min(args.n, 200), device) if "wrn" in args.nets else []
    result = {"device": name, "torch": torch.__version__, "rows": rows, "scoring": scoring}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    lines = [f"# Training throughput ({name}, torch {torch.__version__})", "",
             "Generated by `benchmarks/train_speed.py`: synthetic 32 x 32 images, "
             f"{args.n} images per model; CAEs: batch 200, {args.epochs} timed epochs; "
             f"wrn (GEOM's WRN-10-4): batch 128, {args.wrn_epochs} timed epochs of the 72x set "
             "(images/s counts transformed images).", "",
             "| network | K models | CUDA graph | precision | memory layout | images/s (all models) | x vs 1 eager fp32 |",
             "|---|---:|---|---|---|---:|---:|"]
    for r in rows:
        ref = next(x for x in rows if x["net"] == r["net"] and x["models"] == 1 and not x["cuda_graph"]
                   and x["precision"] == "fp32" and not x.get("channels_last"))
        layout = "channels-last" if r.get("channels_last") else "default"
        lines.append(f"| {r['net']} | {r['models']} | {'yes' if r['cuda_graph'] else 'no'} | {r['precision']} | {layout} | "
                     f"{r['images_per_s']:,.0f} | {r['images_per_s'] / ref['images_per_s']:.2f} |")
    if scoring:
        lines += ["", "| GEOM scoring | images/s | transformed images/s |", "|---|---:|---:|"]
        lines += [f"| {r['what']} | {r['images_per_s']:,.0f} | {r['views_per_s']:,.0f} |" for r in scoring]
    text = "\n".join(lines)
    if args.markdown:
        atomic_write_text(args.markdown, text + "\n")
    print(text)


if __name__ == "__main__":
    main()
