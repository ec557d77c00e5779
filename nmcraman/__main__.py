"""Run the ``nmcraman`` command as ``python -m nmcraman``."""

from .cli import main

raise SystemExit(main())
