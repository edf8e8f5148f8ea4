"""`python -m kerasreg.cli`: the same as the `kerasreg` command."""

import sys

from kerasreg.cli import main

if __name__ == "__main__":
    sys.exit(main())
