"""`python -m flatdb`: the same command as the `flatdb` console script."""

import sys

from flatdb.cli import main

sys.exit(main())
