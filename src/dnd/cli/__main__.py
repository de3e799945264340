"""`python -m dnd.cli ...` runs the `dnd` command line."""

import sys

from dnd.cli.main import main

sys.exit(main())
