"""The ``nmcraman`` command: deconvolve spectrum files, show and export band priors.

``nmcraman fit FILES... -o OUT.csv`` runs `nmcraman.deconvolve` on each file (paths or
glob patterns) and writes one CSV, long (one row per file and band) or laid out like
Table S3 (one row per band, samples side by side). ``nmcraman map INPUT -o OUT.csv``
runs `nmcraman.deconvolve_map` on a map file, a folder or a glob of spectra and writes
the tidy per-pixel table (and, with ``--images``, one PNG per parameter and band);
with ``--series``, one map file per step of a series, and a trend plot besides.
``nmcraman bands [PRESET]`` prints the band priors with their sources, or exports them
as a TOML file to edit. ``nmcraman calibrate FILE`` prints the ``--shift`` that a
silicon or polystyrene spectrum gives.

Exit status: 0 when everything went well; 1 when some inputs failed (the others are
still written; each failure is one line ``nmcraman: FILE: reason`` on stderr), an
output could not be written, or a calibration standard's bands disagree; 2 for usage
errors (bad options, options nothing would use, unknown preset, a glob that matches
nothing, an existing output without ``--force``, a missing output folder). Messages
spell options as the command line does (``--laser-nm``), not as Python does.
Outputs are written atomically: a failed or interrupted run leaves no partial file.
Beside every CSV ``OUT.csv`` goes ``OUT.csv.json``, its provenance (version, command
line, date, priors, settings, input files with their SHA-256).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..errors import NmcramanError
from ._common import PROG, UsageError, WriteError, say
from .bands import add_parser as _add_bands
from .calibrate import add_parser as _add_calibrate
from .fit import add_parser as _add_fit
from .map import add_parser as _add_map

__all__ = ["main"]

_EPILOG = """\
examples:
  nmcraman fit spectra/*.txt -o results.csv
  nmcraman fit core_75.txt cs_75.txt --format table-s3 -o table_s3.csv --plot figures
  nmcraman fit "maps/**/*.txt" --bands nmc+lo --shape pseudo_voigt --jobs 4 -o out.csv
  nmcraman map particle_map.txt -o pixels.csv --images maps/
  nmcraman map "line_scan/*.txt" --bands nmc -o line.csv
  nmcraman map operando/ --series --times times.csv -o series.csv   # one map per step
  nmcraman bands nmc+lo
  nmcraman bands --export my_priors.toml    # edit it, then: fit ... --bands my_priors.toml
  nmcraman calibrate silicon_today.txt      # prints the --shift for fit and map

exit status: 0 success; 1 some inputs failed (the others are written); 2 usage error.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nmcraman`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name. Default is ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 some inputs failed, 2 usage error, 130 interrupted.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    # Recorded in the provenance sidecar of each CSV written.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    debug = getattr(args, "debug", False)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        say("interrupted; no partial output was left behind")
        return 130
    except (UsageError, WriteError, NmcramanError, OSError) as exc:
        if debug:
            traceback.print_exc()
        say(f"error: {exc}")
        # Options and paths are checked before any work; what fails later (a full disk,
        # a folder removed meanwhile) is not a usage error.
        return 2 if isinstance(exc, (UsageError, NmcramanError)) else 1


def _parser() -> argparse.ArgumentParser:
    # -q/--debug are accepted before and after the subcommand; SUPPRESS keeps a
    # subcommand's unset default from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    flag = {"action": "store_true", "default": argparse.SUPPRESS}
    common.add_argument("-q", "--quiet", **flag, help="no progress, warnings or summary")
    common.add_argument("--debug", **flag, help="show Python tracebacks of errors")
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Raman deconvolution of NMC cathodes: band positions, FWHM and area %.",
        epilog=_EPILOG,
        formatter_class=fmt,
        parents=[common],
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in (_add_fit, _add_map, _add_bands, _add_calibrate):
        add_parser(sub, parents=[common], formatter_class=fmt, epilog=_EPILOG)
    return parser
