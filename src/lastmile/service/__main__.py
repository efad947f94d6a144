"""``python -m lastmile.service serve|admin|db ...``."""

import sys

from lastmile.service.commands import main

sys.exit(main())
