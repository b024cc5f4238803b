"""The fetcher: source order, checksums, cache verification (with file:// stand-ins for the network)."""

import gzip
import hashlib

import pytest

from anomalens.data.fetch import FileSpec, fetch_files, url_source
from anomalens.exceptions import ChecksumError, DatasetNotAvailableError


def _spec_and_gz(tmp_path, content=b"hello idx"):
    src = tmp_path / "mirror"
    src.mkdir()
    (src / "f.bin.gz").write_bytes(gzip.compress(content))
    return FileSpec("f.bin", hashlib.sha256(content).hexdigest()), src


def test_falls_through_to_the_next_source(tmp_path, empty_cache):
    spec, mirror = _spec_and_gz(tmp_path)

    def broken(files, scratch):
        raise RuntimeError("offline")

    folder = fetch_files("toy", [spec], [("first", broken), ("mirror", url_source([mirror.as_uri()]))])
    assert (folder / "f.bin").read_bytes() == b"hello idx"
    assert folder == empty_cache / "toy"


def test_wrong_checksum_from_a_source_is_rejected(tmp_path, empty_cache):
    spec, mirror = _spec_and_gz(tmp_path)
    bad = FileSpec("f.bin", "0" * 64)
    with pytest.raises(DatasetNotAvailableError, match="mirror: checksum mismatch for f.bin"):
        fetch_files("toy", [bad], [("mirror", url_source([mirror.as_uri()]))])
    assert not (empty_cache / "toy" / "f.bin").exists()


def test_altered_cache_file_is_named(tmp_path, empty_cache):
    spec, mirror = _spec_and_gz(tmp_path)
    fetch_files("toy", [spec], [("mirror", url_source([mirror.as_uri()]))])
    cached = empty_cache / "toy" / "f.bin"
    cached.write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="f.bin.*delete it"):
        fetch_files("toy", [spec], [("mirror", url_source([mirror.as_uri()]))])


def test_all_sources_failing_lists_each(empty_cache):
    with pytest.raises(DatasetNotAvailableError, match=r"Tried:\n  - a: .*\n  - b: "):
        fetch_files("toy", [FileSpec("f", "0" * 64)], [
            ("a", url_source(["http://127.0.0.1:9"])), ("b", url_source(["file:///nonexistent-dir"]))])
