"""Atomic writes: whole or nothing, and the permissions an ordinary write would give."""

import os
import stat

import pytest

from anomalens._io import atomic_dir, atomic_path, atomic_write_text


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_new_files_and_dirs_get_umask_permissions_replaced_ones_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        f = tmp_path / "a.txt"
        atomic_write_text(f, "x")
        assert _mode(f) == 0o644 and f.read_text() == "x"  # not mkstemp's 0o600
        os.chmod(f, 0o640)
        atomic_write_text(f, "y")
        assert _mode(f) == 0o640 and f.read_text() == "y"
        with atomic_dir(tmp_path / "model") as d:
            (d / "w").write_text("1")
        assert _mode(tmp_path / "model") == 0o755  # not mkdtemp's 0o700
    finally:
        os.umask(old)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    f = tmp_path / "a.txt"
    atomic_write_text(f, "old")
    with pytest.raises(RuntimeError), atomic_path(f) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert f.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_saved_model_weights_are_as_readable_as_its_config(tmp_path):
    import numpy as np
    import torch

    from anomalens import create, load
    from anomalens._io import save_safetensors

    old = os.umask(0o022)
    try:
        rng = np.random.default_rng(0)
        det = create("raw_nnqed", index="flat").fit(rng.integers(0, 255, (20, 8, 8, 1), dtype=np.uint8))
        det.save(tmp_path / "m")
        assert _mode(tmp_path / "m" / "weights.safetensors") == _mode(tmp_path / "m" / "config.json") == 0o644
        assert load(tmp_path / "m").name == "raw_nnqed"
        save_safetensors({"w": torch.zeros(2)}, tmp_path / "t.safetensors")  # the torch path (DCGAN)
        assert _mode(tmp_path / "t.safetensors") == 0o644  # safetensors alone writes 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_umask_is_read_without_changing_it(mask):
    from anomalens._io import _umask

    old = os.umask(mask)
    try:
        assert _umask() == mask
        assert os.umask(mask) == mask  # still set: reading it did not leave 0 behind
    finally:
        os.umask(old)
