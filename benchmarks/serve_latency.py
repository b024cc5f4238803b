"""Latency of ``anomalens serve``: HTTP round trips against scoring the same images in-process.

Starts the real server (``anomalens.serve.make_server``) on a free local port in a thread,
posts real Fashion-MNIST test images as PNG files (multipart/form-data, batches of 1, 16
and 256), and compares the round-trip time with ``detector.score`` on the already-decoded
array (what the service adds: HTTP, multipart parsing, PNG decoding, JSON). The scored
model is ``raw_nnqed`` (paper preset, fitted here on one class: nothing to train) and,
with ``--model DIR``, any model saved by ``anomalens fit`` / ``benchmark --save-models``.

    PYTHONPATH=src python benchmarks/serve_latency.py \\
        --model models/inception_cae_nnqed-fashion_mnist-paper/class0-seed2 \\
        --out benchmarks/results/serve_latency.json --markdown benchmarks/SERVE_LATENCY.md

Median of ``--repeat`` calls after one warm-up call; wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import anomalens  # noqa: E402
from anomalens._io import atomic_write_text  # noqa: E402
from anomalens.data import load_dataset, make_split  # noqa: E402
from anomalens.serve import ScoringService, make_server  # noqa: E402


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(buf, format="PNG")
    return buf.getvalue()


def multipart(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{i}.png"\r\n'
                    f"Content-Type: image/png\r\n\r\n".encode() + f + b"\r\n" for i, f in enumerate(files))
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(label: str, det, images: np.ndarray, batches: list[int], repeat: int) -> list[dict]:
    server = make_server(ScoringService(det), port=0, quiet=True, max_bytes=256 * 2**20)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    rows = []
    try:
        for n in batches:
            body, ctype = multipart([png(a) for a in images[:n]])

            def post():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                conn.request("POST", "/score", body=body, headers={"Content-Type": ctype})
                resp = conn.getresponse()
                out = json.loads(resp.read())
                conn.close()
                if resp.status != 200 or len(out["results"]) != n:
                    raise RuntimeError(f"bad answer: {resp.status} {out}")

            http_s = median_seconds(post, repeat)
            direct_s = median_seconds(lambda: det.score(images[:n]), repeat)
            rows.append({"model": label, "images": n, "http_ms": 1e3 * http_s, "score_ms": 1e3 * direct_s,
                         "images_per_s": n / http_s, "request_bytes": len(body)})
            print(f"{label:40s} {n:4d} images: HTTP {1e3 * http_s:8.1f} ms, in-process score {1e3 * direct_s:8.1f} ms")
    finally:
        server.shutdown()
        server.server_close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, action="append", default=[], help="saved model folder (repeatable)")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--batches", default="1,16,256")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--markdown", type=Path)
    a = p.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    split = make_split(load_dataset(a.dataset), "one_vs_rest", 0)
    images = split.x_test[: max(batches)]
    models = [("raw_nnqed (paper preset, fitted here)", anomalens.create("raw_nnqed", preset="paper").fit(split.x_train))]
    models += [(str(m), anomalens.load(m)) for m in a.model]
    rows = [r for label, det in models for r in measure(label, det, images, batches, a.repeat)]
    meta = {"dataset": a.dataset, "repeat": a.repeat, "cpus": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "anomalens": anomalens.__version__}
    atomic_write_text(a.out, json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n", what="--out")
    if a.markdown:
        lines = ["# `anomalens serve` latency", "",
                 f"Generated by `benchmarks/serve_latency.py` ({a.dataset} test images as PNG, multipart upload, "
                 f"median of {a.repeat} calls, {os.cpu_count()} CPUs, one client at a time).", "",
                 "| model | images per request | HTTP round trip ms | in-process `score` ms | images/s over HTTP |",
                 "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['model']} | {r['images']} | {r['http_ms']:.1f} | {r['score_ms']:.1f} | {r['images_per_s']:.0f} |"
                  for r in rows]
        atomic_write_text(a.markdown, "\n".join(lines) + "\n", what="--markdown")


if __name__ == "__main__":
    main()
