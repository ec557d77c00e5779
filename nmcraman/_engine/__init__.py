"""The engines: a prepared problem, fitted by the kernels (one spectrum, pooled sets, tau) or lmfit.

Private: `nmcraman.fit`, `nmcraman.joint`, `nmcraman.choice` and `nmcraman.maps` drive them.
"""
