"""Tasks for the executor tests: top-level functions that worker processes (local
or Dask's) import by name, which is why this folder is put on ``sys.path``."""

from __future__ import annotations

import os
import time
from pathlib import Path


def die_once(marker: str, value: int) -> int:
    """End the worker process abruptly on the first try (``marker`` does not
    exist yet: it is made), answer ``value`` on the next."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        time.sleep(0.2)  # mid-task: the worker has it running
        os._exit(17)
    return value


def die_always() -> int:
    """End the worker process abruptly, every time."""
    os._exit(17)


def double(value: int) -> int:
    return 2 * value
