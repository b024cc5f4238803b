"""The HTTP service: a real server on a free local port, real PNG/JPEG uploads, scores equal to the API's."""

import contextlib
import http.client
import io
import json
import threading
import uuid

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import anomalens
from anomalens.cli import app
from anomalens.serve import ScoringService, make_server, parse_upload
from tests.conftest import png_header_only


def _encode(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(buf, format=fmt)
    return buf.getvalue()


def _multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = []
    for name, data in files:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                      f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


@contextlib.contextmanager
def _running(detector, **kwargs):
    """A quiet server for ``detector`` (fitted, or a saved model's folder) on a free port; yields the port."""
    server = make_server(ScoringService(detector), port=0, quiet=True, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(mvtec_root, tmp_path):
    """raw_nnqed fitted on the good widgets and saved; a server for it on a free port."""
    det = anomalens.create("raw_nnqed", index="flat").fit(mvtec_root / "widget" / "train" / "good")
    det.save(tmp_path / "model")
    with _running(tmp_path / "model", max_bytes=200_000) as port:
        yield det, port


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    conn.close()
    return resp.status, payload


def test_health_and_scores_equal_the_api(served, mvtec_root, tmp_path):
    det, port = served
    status, info = _request(port, "GET", "/health")
    assert status == 200 and info["method"] == "raw_nnqed" and info["input_shape"] == list(det.input_shape_)
    assert info["threshold"] == pytest.approx(det.threshold_)

    paths = sorted((mvtec_root / "widget" / "test" / "scratch").glob("*.png"))
    paths += sorted((mvtec_root / "widget" / "test" / "good").glob("*.png"))
    expected = det.score(paths)
    body, ctype = _multipart([(p.name, p.read_bytes()) for p in paths])
    status, out = _request(port, "POST", "/score", body, {"Content-Type": ctype})
    assert status == 200, out
    assert [r["name"] for r in out["results"]] == [p.name for p in paths]
    np.testing.assert_allclose([r["score"] for r in out["results"]], expected, rtol=1e-6)
    assert [r["anomalous"] for r in out["results"]] == [bool(s > det.threshold_) for s in expected]
    assert any(r["anomalous"] for r in out["results"][:6])  # scratches are flagged, good parts mostly not

    # one raw image body, any size: resized to the fitted size as `anomalens score` does
    big = tmp_path / "big.png"
    Image.open(paths[0]).resize((40, 40)).save(big)
    status, out = _request(port, "POST", "/score?name=big.png", big.read_bytes(), {"Content-Type": "image/png"})
    assert status == 200 and out["results"][0]["name"] == "big.png"
    assert out["results"][0]["score"] == pytest.approx(float(det.score([big])[0]), rel=1e-6)


def test_rgb_jpeg_upload_is_converted_to_the_fitted_channels(served, mvtec_root):
    det, port = served
    p = sorted((mvtec_root / "widget" / "test" / "good").glob("*.png"))[0]
    gray = np.asarray(Image.open(p))
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    status, out = _request(port, "POST", "/score", _encode(rgb), {"Content-Type": "image/png"})
    assert status == 200
    assert out["results"][0]["score"] == pytest.approx(float(det.score(gray[None, ..., None])[0]), rel=1e-6)
    status, out = _request(port, "POST", "/score", _encode(rgb, "JPEG"), {"Content-Type": "image/jpeg"})
    assert status == 200 and out["results"][0]["score"] >= 0


def test_bad_requests_get_clear_errors_and_the_service_keeps_working(served, mvtec_root):
    det, port = served
    good = next((mvtec_root / "widget" / "test" / "good").glob("*.png")).read_bytes()
    body, ctype = _multipart([("ok.png", good), ("notes.txt", b"not an image")])
    status, out = _request(port, "POST", "/score", body, {"Content-Type": ctype})
    assert status == 400 and "notes.txt" in out["error"]
    status, out = _request(port, "POST", "/score?name=huge.png", png_header_only(20_000, 20_000),
                           {"Content-Type": "image/png"})
    assert status == 400 and "huge.png" in out["error"] and "decompression bomb" in out["error"]
    status, out = _request(port, "POST", "/score", b"", {"Content-Type": "image/png"})
    assert status == 400 and "empty" in out["error"]
    status, out = _request(port, "POST", "/score", b"x" * 200_001, {"Content-Type": "image/png"})
    assert status == 413 and "200000" in out["error"]
    status, out = _request(port, "POST", "/score", b"--nope\r\n", {"Content-Type": "multipart/form-data; boundary=zz"})
    assert status == 400 and "multipart" in out["error"]
    status, out = _request(port, "GET", "/nope")
    assert status == 404 and "/health" in out["error"]
    status, out = _request(port, "POST", "/score", good, {"Content-Type": "image/png"})
    assert status == 200 and len(out["results"]) == 1


def test_a_failing_detector_answers_500_and_the_service_keeps_working(mvtec_root, monkeypatch, capfd):
    det = anomalens.create("raw_nnqed", index="flat").fit(mvtec_root / "widget" / "train" / "good")
    path = next((mvtec_root / "widget" / "test" / "good").glob("*.png"))
    expected = float(det.score([path])[0])
    with _running(det) as port:
        with monkeypatch.context() as m:
            m.setattr(det, "score", lambda X: 1 / 0)
            status, out = _request(port, "POST", "/score", path.read_bytes(), {"Content-Type": "image/png"})
        assert status == 500 and "ZeroDivisionError" in out["error"] and "POST /score" in out["error"]
        assert "Traceback" in capfd.readouterr().err  # logged although the server is quiet
        status, out = _request(port, "POST", "/score", path.read_bytes(), {"Content-Type": "image/png"})
        assert status == 200 and out["results"][0]["score"] == pytest.approx(expected, rel=1e-6)


def test_parse_upload_keeps_binary_payloads_byte_for_byte():
    rng = np.random.default_rng(0)
    blobs = [bytes(rng.integers(0, 256, 5000, dtype=np.uint8)) + b"\r\n\r\n--x\r\n\n\r", b"\x89PNG\r\n\x1a\n"]
    body, ctype = _multipart([("a.bin", blobs[0]), ("b.bin", blobs[1])])
    assert parse_upload(body, ctype) == [("a.bin", blobs[0]), ("b.bin", blobs[1])]
    assert parse_upload(b"raw", "image/png", "x.png") == [("x.png", b"raw")]
    assert parse_upload(b"preamble\r\n" + body, ctype)[1] == ("b.bin", blobs[1])
    for broken, why in ((body[:-20], "no closing boundary"), (body.replace(b"\r\n\r\n", b"\r\n"), "no blank line"),
                        (body, "without a boundary")):
        with pytest.raises(ValueError, match=why):
            parse_upload(broken, ctype if why != "without a boundary" else "multipart/form-data")


def test_serve_command_names_bad_model_and_arguments(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["serve", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "missing" in r.output
    r = runner.invoke(app, ["serve", str(tmp_path), "--max-mb", "0"])
    assert r.exit_code == 2 and "--max-mb" in r.output
    with pytest.raises(anomalens.exceptions.NotFittedError):
        ScoringService(anomalens.create("raw_nnqed"))


def test_serve_command_runs_until_sigterm(served, tmp_path):
    """The real command in its own process: prints its address, answers, and stops cleanly on SIGTERM."""
    import re
    import signal
    import subprocess
    import sys

    det, _ = served
    proc = subprocess.Popen([sys.executable, "-m", "anomalens", "serve", str(tmp_path / "model"), "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", first).group(1))
        status, info = _request(port, "GET", "/health")
        assert status == 200 and info["threshold"] == pytest.approx(det.threshold_)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped" in rest


def test_map_endpoint_returns_the_overlay_of_a_localising_detector(mvtec_root, tmp_path):
    """POST /map: PNG overlay at the upload's size, equal to `anomalens score --maps`'s for that image alone."""
    from anomalens.eval.maps import overlay

    train = mvtec_root / "widget" / "train" / "good"
    det = anomalens.create("cae_ssim", image_size=32, epochs=2, patience=2, batch_size=8, val_fraction=0.2,
                           device="cpu").fit(train)
    with _running(det) as port:
        path = next((mvtec_root / "widget" / "test" / "scratch").glob("*.png"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/map", body=path.read_bytes(), headers={"Content-Type": "image/png"})
        resp = conn.getresponse()
        got = np.asarray(Image.open(io.BytesIO(resp.read())))
        conn.close()
        assert resp.status == 200 and resp.getheader("Content-Type") == "image/png"
        assert float(resp.getheader("X-Anomaly-Score")) == pytest.approx(float(det.score([path])[0]), rel=1e-6)
        original = np.asarray(Image.open(path))[..., None]
        amap = det.anomaly_map([path])[0]
        lo, hi = np.percentile(amap, [1, 99])
        assert got.shape == (16, 16, 3) and np.array_equal(got, overlay(original, amap, lo, hi))

        body, ctype = _multipart([("a.png", path.read_bytes()), ("b.png", path.read_bytes())])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/map", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        assert resp.status == 400 and "one image" in json.loads(resp.read())["error"]


def test_map_endpoint_refuses_detectors_without_maps(served, mvtec_root):
    _, port = served
    good = next((mvtec_root / "widget" / "test" / "good").glob("*.png")).read_bytes()
    status, out = _request(port, "POST", "/map", good, {"Content-Type": "image/png"})
    assert status == 400 and "raw_nnqed does not localise" in out["error"]
