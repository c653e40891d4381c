"""``python -m prefdyn`` runs the command line."""

import sys

from prefdyn.cli import main

sys.exit(main())
