"""``python -m lastmile.service serve|admin|db ...``."""

import sys

from lastmile.service.cli import main

sys.exit(main())
