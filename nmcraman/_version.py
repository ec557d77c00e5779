"""The version of nmcraman: one owner, which the package and its pages read."""

__version__ = "0.1.0"
