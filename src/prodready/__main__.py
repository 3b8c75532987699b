"""Entry point: ``python -m prodready <group> <command>``."""

import sys

from .cli import main

sys.exit(main())
