"""`python -m likra ...`: the same command line as the `likra` script (useful where the script's folder
is not on PATH, e.g. a package installed with `pip install --target`)."""

import sys

from likra.cli import main

if __name__ == "__main__":
    sys.exit(main())
