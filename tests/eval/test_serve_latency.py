"""benchmarks/serve_latency.py: its measurement runs the real server and checks every answer."""

import anomalens

from ..conftest import make_images
from . import load_benchmark


def test_measure_posts_real_batches_and_times_both_paths():
    mod = load_benchmark("serve_latency")
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(30, seed=1))
    rows = mod.measure("raw", det, make_images(5, anomalous=True, seed=2), [1, 5], repeat=2)
    assert [r["images"] for r in rows] == [1, 5]
    assert all(r["http_ms"] > 0 and r["score_ms"] > 0 and r["request_bytes"] > 100 for r in rows)
    assert rows[1]["request_bytes"] > 4 * rows[0]["request_bytes"]
