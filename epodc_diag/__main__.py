"""`python -m epodc_diag` runs the epodc command line."""

import sys

from epodc_diag.cli import run

sys.exit(run())
