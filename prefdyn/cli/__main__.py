"""``python -m prefdyn.cli`` runs the command line."""

import sys

from prefdyn.cli import main

sys.exit(main())
