"""Atomic writes leave outputs with the permissions of a file written in place."""

import os
import stat

import pytest

from nmcraman._atomic import atomic_write

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes and umask")


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process umask; the test's own is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def in_place(tmp):
    tmp.write_text("new\n")


def recreated(tmp):
    """A writer that replaces the temporary file rather than writing into it."""
    tmp.unlink()
    tmp.write_text("new\n")


@pytest.mark.parametrize(
    ("mask", "expected"),
    [(0o022, 0o644), (0o002, 0o664), (0o027, 0o640), (0o077, 0o600), (0o000, 0o666)],
    ids=lambda m: f"{m:04o}",
)
@pytest.mark.parametrize("writer", [in_place, recreated])
def test_new_file_gets_default_permissions(tmp_path, umask, mask, expected, writer):
    umask(mask)
    target = atomic_write(tmp_path / "out.csv", writer)
    assert mode(target) == expected
    assert target.read_text() == "new\n"


@pytest.mark.parametrize("existing", [0o640, 0o600, 0o664, 0o444, 0o755], ids=lambda m: f"{m:04o}")
@pytest.mark.parametrize("writer", [in_place, recreated])
def test_replaced_file_keeps_its_mode(tmp_path, umask, existing, writer):
    umask(0o022)
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(existing)
    atomic_write(target, writer)
    assert mode(target) == existing
    assert target.read_text() == "new\n"


def test_umask_is_left_as_it_was(tmp_path, umask):
    umask(0o027)
    atomic_write(tmp_path / "out.csv", in_place)
    assert umask(0o027) == 0o027
