"""``python -m lastmile``: the ``lastmile`` command."""

import sys

from lastmile.cli import main

sys.exit(main())
