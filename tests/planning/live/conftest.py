"""Makes the shared helper module of these tests, ``live_cases``, importable.

Tests are imported in importlib mode (no package, no sys.path entry), so the
directory is put on the path for the test modules beside this file.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
