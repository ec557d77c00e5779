"""The version of nmcraman: one owner, which the package, its pages and its save files read."""

__version__ = "0.1.0"
