"""`python -m keras_s2s.cli ...` runs the `keras-s2s` command."""

import sys

from keras_s2s.cli import run

sys.exit(run())
