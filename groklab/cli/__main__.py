"""`python -m groklab.cli ARGS` runs the command line."""

import sys

from groklab.cli import main

sys.exit(main())
