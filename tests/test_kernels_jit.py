"""The numba cache follows every kernel file, not only each function's own."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nmcraman
from nmcraman._kernels import jit

PACKAGE = Path(nmcraman.__file__).parent


@pytest.fixture
def sources(tmp_path):
    """A source directory with the kernel modules' files, and an empty cache beside it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in jit.KERNEL_MODULES:
        (src / f"{name}.py").write_text(f"# {name}\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    return src, cache


def _cache_files(cache):
    names = [
        "levmar._lm-467.py311.nbi",
        "levmar._lm-467.py311.1.nbc",
        "linalg.dot-19.py311.nbi",
        "batch.fit_batch-31.py311.2.nbc",
        "other.f-3.py311.nbi",
    ]
    for name in names:
        (cache / name).write_bytes(b"x")


def test_first_run_without_stamp_drops_kernel_files_only(sources):
    src, cache = sources
    _cache_files(cache)
    assert jit.refresh_cache(str(cache), str(src))
    left = sorted(p.name for p in cache.iterdir())
    assert left == [jit.STAMP, "other.f-3.py311.nbi"]
    assert (cache / jit.STAMP).read_text().strip() == jit.source_digest(str(src))


@pytest.mark.parametrize("edited", jit.KERNEL_MODULES)
def test_cache_kept_while_sources_unchanged_and_dropped_after_any_edit(sources, edited):
    src, cache = sources
    jit.refresh_cache(str(cache), str(src))
    _cache_files(cache)
    assert not jit.refresh_cache(str(cache), str(src))
    assert len(list(cache.glob("*.nb[ic]"))) == 5
    (src / f"{edited}.py").write_text("# changed\n")
    assert jit.refresh_cache(str(cache), str(src))
    assert [p.name for p in cache.glob("*.nb[ic]")] == ["other.f-3.py311.nbi"]


def test_unwritable_cache_or_unreadable_sources_are_left_to_numba(sources):
    src, cache = sources
    assert jit.refresh_cache(str(cache / "missing"), str(src))
    assert not (cache / "missing").exists()
    _cache_files(cache)
    (src / "batch.py").unlink()
    assert not jit.refresh_cache(str(cache), str(src))
    assert len(list(cache.glob("*.nb[ic]"))) == 5


_PROBE = """
import numpy as np
from nmcraman._kernels import varpro
basis = np.ones((1, 5))
phi = np.zeros((1, 5))
h = np.zeros((1, 1))
g = np.zeros(1)
varpro.design(basis, np.arange(5.0), 0, phi, h, g)
print(h[0, 0])
"""


def test_kernel_sees_edit_of_a_function_it_calls_in_another_file(tmp_path):
    # `varpro.design` inlines `linalg.dot`: without `refresh_cache`, numba would
    # load design's cached code, built with the old dot, after dot alone changed.
    pkg = tmp_path / "nmcraman"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": ""}
    env.pop("NUMBA_DISABLE_JIT", None)

    def run():
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return float(out.stdout)

    assert run() == 5.0
    assert list((pkg / "_kernels" / "__pycache__").glob("varpro.design-*.nbi"))
    linalg = pkg / "_kernels" / "linalg.py"
    text = linalg.read_text()
    assert text.count("acc += u[i] * v[i]") == 1
    linalg.write_text(text.replace("acc += u[i] * v[i]", "acc += 2.0 * u[i] * v[i]"))
    assert run() == 10.0
