"""atomic_write: whole files or nothing, with ordinary permissions."""

import os
import stat

import pytest

from sklhash.utils._io import atomic_write


def test_writes_with_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", lambda fh: fh.write(b"abc"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644


def test_failure_keeps_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def broken(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]
