"""Atomic writes: a file or directory appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_dir", "ensure_writable_dir",
           "save_safetensors"]


def ensure_writable_dir(directory: str | os.PathLike, what: str = "output") -> Path:
    """Create ``directory`` if needed and check it can be written, with an error naming it."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot create {what} directory {str(d)!r}: {e.strerror or e}") from e
    if not os.access(d, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} directory {str(d)!r} is not writable")
    return d


def _new_mode(directory: bool = False) -> int:
    """The permissions a plain ``open`` / ``mkdir`` would give (0o666 / 0o777 less the umask);
    ``mkstemp`` / ``mkdtemp`` create 0o600 / 0o700, which must not leak into the result."""
    return (0o777 if directory else 0o666) & ~_umask()


def _umask() -> int:
    """The process umask. Linux reports it in ``/proc/self/status``; elsewhere it can only be
    read by setting it, which is briefly visible to other threads, so that is the fallback."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    ensure_writable_dir(target.parent if str(target.parent) else ".", what)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        # a replaced file keeps its permissions; a new one gets the usual ones
        os.chmod(tmp_path, stat.S_IMODE(target.stat().st_mode) if target.is_file() else _new_mode())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, what: str = "output") -> None:
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, what: str = "output") -> None:
    atomic_write_bytes(path, text.encode("utf-8"), what)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it becomes ``path``.

    An existing ``path`` is replaced only after the new one is complete; on failure
    the old one is left as it was and the temporary directory is removed.
    """
    target = Path(path)
    parent = ensure_writable_dir(target.parent if str(target.parent) else ".", what)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{what} path {str(target)!r} exists and is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode) if target.is_dir() else _new_mode(directory=True))
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            old.rmdir()
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_safetensors(tensors: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``safetensors`` ``save_file`` of numpy arrays or torch tensors, with the permissions a
    plain ``open`` gives: safetensors creates its files 0o600, which would leave a saved model's
    weights unreadable to the other users of a shared folder while its config is readable.
    Write it inside :func:`atomic_dir` for atomicity."""
    import numpy as np

    if all(isinstance(v, np.ndarray) for v in tensors.values()):
        from safetensors.numpy import save_file
    else:
        from safetensors.torch import save_file
    save_file(dict(tensors), str(path))
    os.chmod(path, _new_mode())
