"""Entry point: ``python -m <package>.ops <group> <command>``."""

import sys

from .cli import main

sys.exit(main())
