"""An HTTP scoring service for a saved detector: ``anomalens serve MODEL``.

Standard library only (:mod:`http.server`, multipart parsed with :mod:`email`), so a
model folder and this package are all a deployment needs. One detector is loaded once
and shared by the request threads; scoring is serialised with a lock (torch modules and
faiss indexes are not promised to be safe under concurrent calls).

Endpoints
---------
``GET /health``
    ``{"status": "ok", "method", "threshold", "input_shape", "calibration"}`` (``calibration``:
    ``{"images", "fpr"}`` of ``anomalens calibrate``, or null).
``POST /score``
    The body is either one encoded image (PNG, JPEG, ... with any ``Content-Type`` except
    ``multipart/form-data``; name it with ``?name=``) or ``multipart/form-data`` with one
    or more file parts (``curl -F image=@a.png -F image=@b.png``). Each image is decoded
    with the policy of :func:`anomalens.data.images.read_image` and resized to the size
    the detector was fitted at, exactly as ``anomalens score`` does. Answers
    ``{"threshold": t, "results": [{"name", "score", "anomalous"}, ...]}`` in upload order;
    ``anomalous`` is ``score > threshold`` (the threshold chosen from training data at fit, or
    by ``anomalens calibrate``); a calibrated model's results also carry ``p_value``.
``POST /map``
    One image (either form): answers ``image/png``, the anomaly-map overlay at the upload's
    own size, with headers ``X-Anomaly-Score`` and ``X-Anomalous`` (0/1). Only detectors
    that localise anomalies (``anomaly_map``: kd_cae, ni_cae, cae_ssim, dpa..., the patch detectors); others 400.

Errors answer JSON ``{"error": "..."}`` naming the bad part: 400 (unreadable image, empty
or malformed body), 404 (unknown path), 411 (no ``Content-Length``), 413 (body larger than
``max_bytes``), 500 (the detector itself failed, e.g. out of memory: the message names the
exception, the traceback goes to the log). A failed request never changes the service's state.
"""

from __future__ import annotations

import io
import json
import math
import threading
import traceback
from email.message import Message
from email.parser import BytesHeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .data.images import decode_image
from .detectors.base import BaseDetector, load_detector, localises
from .exceptions import ImageReadError

__all__ = ["ScoringService", "make_server", "parse_upload"]

DEFAULT_MAX_BYTES = 32 * 2**20


class RequestError(ValueError):
    """A bad request: answered with ``status`` and the message, never raised past the handler."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class ScoringService:
    """A fitted detector behind a lock, scoring encoded images.

    Parameters
    ----------
    detector
        A fitted detector, or the folder it was saved in (loaded with
        :func:`anomalens.load`).
    """

    def __init__(self, detector: BaseDetector | str | Path):
        self.detector = detector if isinstance(detector, BaseDetector) else load_detector(detector)
        self.detector.score_format()  # raises NotFittedError for an unfitted detector
        self._lock = threading.Lock()

    def info(self) -> dict:
        """What ``GET /health`` answers."""
        d = self.detector.describe()
        return {"status": "ok", **{k: d[k] for k in ("method", "threshold", "input_shape", "calibration")}}

    def score(self, uploads: list[tuple[str, bytes]]) -> dict:
        """Score ``(name, encoded image bytes)`` pairs; what ``POST /score`` answers.

        Raises :class:`~anomalens.exceptions.ImageReadError` naming the first upload that
        cannot be decoded (nothing is scored then).
        """
        det = self.detector
        images = self._decode(uploads)
        with self._lock:
            scores = np.asarray(det.score(images), dtype=np.float64)
        threshold = float(det.threshold_)
        results = [{"name": name, "score": float(s) if math.isfinite(s) else None, "anomalous": bool(s > threshold)}
                   for (name, _), s in zip(uploads, scores)]
        if hasattr(det, "calibration_scores_"):  # a calibrated model also answers conformal p-values
            for r, p in zip(results, det.p_values_from_scores(scores)):
                r["p_value"] = float(p) if math.isfinite(p) else None
        return {"threshold": threshold, "results": results}

    def map_png(self, upload: tuple[str, bytes]) -> tuple[bytes, float]:
        """The anomaly-map overlay of one upload as PNG bytes (at the upload's own size, the
        map's 1st-99th percentiles as the colour range, as ``anomalens score --maps``), and its score."""
        from PIL import Image

        from .eval.maps import overlay

        det = self.detector
        if not localises(det):
            raise ValueError(f"{det.name} does not localise anomalies (no anomaly_map); use POST /score")
        name, data = upload
        images = self._decode([upload])
        original = decode_image(data, f"upload {name!r}")
        with self._lock:
            amap = np.asarray(det.anomaly_map(images))[0]
            score = float(det.score(images)[0])
        lo, hi = (float(v) for v in np.percentile(amap, [1, 99]))
        buf = io.BytesIO()
        Image.fromarray(overlay(original, amap, lo, hi)).save(buf, format="PNG")
        return buf.getvalue(), score

    def _decode(self, uploads: list[tuple[str, bytes]]) -> np.ndarray:
        if not uploads:
            raise ValueError("no image in the request")
        size, channels = self.detector.score_format()
        return np.stack([decode_image(data, f"upload {name!r}", size=size, channels=channels) for name, data in uploads])


def parse_upload(body: bytes, content_type: str, name: str = "image") -> list[tuple[str, bytes]]:
    """The images in a request body: the parts of ``multipart/form-data``, else the body itself.

    A part is named by its file name, else its form-field name, else its position. The
    body is split on its boundary directly (RFC 7578: parts carry raw bytes, no transfer
    encoding) and only each part's few header lines go through :mod:`email` (the whole body through
    ``email.parser`` took 0.1 s per 256 small PNGs, as long as scoring them).
    """
    if not content_type.lower().startswith("multipart/form-data"):
        return [(name, body)]
    ctype = Message()
    ctype["Content-Type"] = content_type
    boundary = ctype.get_boundary()
    if not boundary:
        raise RequestError(HTTPStatus.BAD_REQUEST, "multipart/form-data without a boundary parameter")
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    uploads: list[tuple[str, bytes]] = []
    for i, seg in enumerate(segments[1:]):  # segments[0] is the preamble
        if seg.startswith(b"--"):  # the close delimiter
            return uploads
        head, sep, data = seg.partition(b"\r\n\r\n")
        if not sep:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed multipart/form-data body: part {i} has no "
                               "blank line after its headers")
        headers = _HEADERS.parsebytes(head.lstrip(b" \t").removeprefix(b"\r\n") + b"\r\n\r\n")
        label = headers.get_filename() or headers.get_param("name", header="content-disposition") or f"part {i}"
        uploads.append((str(label), data))
    raise RequestError(HTTPStatus.BAD_REQUEST, "malformed multipart/form-data body: no closing boundary "
                       f"--{boundary}-- (truncated upload?)")


_HEADERS = BytesHeaderParser()  # compat32: 25x faster than policy.HTTP on these few lines


class _Handler(BaseHTTPRequestHandler):
    server_version = "anomalens"
    protocol_version = "HTTP/1.1"

    # set on the class made by make_server
    service: ScoringService
    max_bytes: int
    quiet: bool

    def _send(self, status: HTTPStatus, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True  # the body may not have been read
        self._send(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if urlsplit(self.path).path == "/health":
            self._send(HTTPStatus.OK, self.service.info())
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: GET {self.path} (try GET /health, POST /score, POST /map)")

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path not in ("/score", "/map"):
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {self.path} (try POST /score or POST /map)")
            return
        try:
            name = parse_qs(url.query).get("name", ["image"])[0]
            uploads = parse_upload(self._body(url.path), self.headers.get("Content-Type", ""), name)
            if url.path == "/score":
                self._send(HTTPStatus.OK, self.service.score(uploads))
                return
            if len(uploads) != 1:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"POST /map takes one image, got {len(uploads)}")
            png, score = self.service.map_png(uploads[0])
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.send_header("X-Anomaly-Score", repr(score))
            self.send_header("X-Anomalous", str(int(score > self.service.detector.threshold_)))
            self.end_headers()
            self.wfile.write(png)
        except RequestError as e:
            self._error(e.status, str(e))
        except (ImageReadError, ValueError) as e:
            self._error(HTTPStatus.BAD_REQUEST, str(e))
        except Exception as e:  # a fault of the service, not of the request: say so, log it, keep serving
            self.log_error("%s", traceback.format_exc())
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error while answering POST {url.path}: "
                        f"{type(e).__name__}: {e}")

    def _body(self, endpoint: str) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, f"POST {endpoint} needs a Content-Length header")
        try:
            n = int(length)
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length {length!r} is not a number") from None
        if n > self.max_bytes:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"body of {n} bytes is over the limit of {self.max_bytes} (serve --max-mb)")
        if n <= 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "empty body: send an image or multipart/form-data files")
        return self.rfile.read(n)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        if not self.quiet:
            super().log_message(format, *args)

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        super().log_message(format, *args)  # errors are logged even when quiet


def make_server(service: ScoringService, host: str = "127.0.0.1", port: int = 8000, *,
                max_bytes: int = DEFAULT_MAX_BYTES, quiet: bool = False) -> ThreadingHTTPServer:
    """A threaded HTTP server for ``service`` (call ``serve_forever``; port 0 picks a free port)."""
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
    handler = type("Handler", (_Handler,), {"service": service, "max_bytes": int(max_bytes), "quiet": quiet})
    return ThreadingHTTPServer((host, port), handler)
