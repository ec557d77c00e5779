"""The numba kernels: compiled profiles, linear algebra, variable projection, LM, statistics.

Private: the engines (`nmcraman._engine`) and map drivers call them; each kernel has a
pure numpy twin in the tests. `jit` holds the compile options and refreshes the cache
of every kernel file when any of them changed.
"""
