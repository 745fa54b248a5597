"""Entry point: `python -m the_alchemiser [COMMAND] ...`."""

from __future__ import annotations

import sys

from the_alchemiser.cli import main

if __name__ == "__main__":
    sys.exit(main())
