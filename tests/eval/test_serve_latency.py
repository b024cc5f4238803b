"""benchmarks/serve_latency.py: its measurement runs the real server and checks every answer."""

import importlib.util
from pathlib import Path

import anomalens

from ..conftest import make_images

ROOT = Path(__file__).resolve().parents[2]


def test_measure_posts_real_batches_and_times_both_paths():
    spec = importlib.util.spec_from_file_location("serve_latency", ROOT / "benchmarks" / "serve_latency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(30, seed=1))
    rows = mod.measure("raw", det, make_images(5, anomalous=True, seed=2), [1, 5], repeat=2)
    assert [r["images"] for r in rows] == [1, 5]
    assert all(r["http_ms"] > 0 and r["score_ms"] > 0 and r["request_bytes"] > 100 for r in rows)
    assert rows[1]["request_bytes"] > 4 * rows[0]["request_bytes"]
