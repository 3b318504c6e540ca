"""`python -m rtrdit ARGS`: the `rtrdit` command line."""

import sys

from rtrdit.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
