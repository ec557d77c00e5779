"""How the kernels are compiled: numba options, and a cache that follows every kernel file.

numba keys a cached function on the source of its own file only (numba issues #1833
and #9483): a kernel in ``varpro.py`` that inlines ``linalg.dot`` keeps loading
its old machine code after ``linalg.py`` alone changed - after a ``git pull`` into an
editable install, say - and silently computes with the old ``dot``. `refresh_cache`
closes that gap by dropping the cache of every kernel file whenever any of them
changed; it runs once, when this module is imported, before any kernel is defined.
"""

from __future__ import annotations

import hashlib
import os

from numba import njit

# Reassociation lets LLVM vectorise the dot products (4x on AVX2); nnan and ninf are
# left out on purpose so NaN and inf still behave as IEEE says.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}
#: The modules with jitted functions; they call each other's.
KERNEL_MODULES = ("linalg", "profiles", "varpro", "stats", "levmar", "batch", "sets")
#: File in the numba cache directory holding the digest of the kernel sources.
STAMP = "nmcraman-kernels.sha256"


def source_digest(source_dir: str) -> str:
    """SHA-256 of the kernel modules' sources in ``source_dir``."""
    h = hashlib.sha256()
    for name in KERNEL_MODULES:
        with open(os.path.join(source_dir, name + ".py"), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def refresh_cache(cache_dir: str, source_dir: str) -> bool:
    """Delete the kernels' numba cache files unless they were built from these sources.

    Parameters
    ----------
    cache_dir : str
        numba's cache directory for the kernel modules.
    source_dir : str
        Directory of the kernel modules' ``.py`` files.

    Returns
    -------
    bool
        True if the cache was dropped (no stamp, or the sources changed since).

    Notes
    -----
    Never raises on the file system: sources that cannot be read (a zipped install)
    or a cache that cannot be written are left to numba as they are.
    """
    try:
        digest = source_digest(source_dir)
    except OSError:
        return False
    stamp = os.path.join(cache_dir, STAMP)
    try:
        with open(stamp, encoding="ascii") as f:
            if f.read().strip() == digest:
                return False
    except OSError:
        pass
    try:
        for name in os.listdir(cache_dir):
            if name.split(".", 1)[0] in KERNEL_MODULES and name.endswith((".nbi", ".nbc")):
                os.remove(os.path.join(cache_dir, name))
        tmp = f"{stamp}.{os.getpid()}"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:
        pass
    return True


# Never called: numba gives it the cache directory of every module in this package.
@njit(cache=True)
def _locate():
    return 0


# Under NUMBA_DISABLE_JIT there is no dispatcher, and no cache to refresh.
if hasattr(_locate, "stats"):
    refresh_cache(_locate.stats.cache_path, os.path.dirname(os.path.abspath(__file__)))
