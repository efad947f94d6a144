"""Executor tests: a real Dask cluster on this machine, shared by the module.

Tests are imported in importlib mode (no package, no sys.path entry), so this
folder goes on ``sys.path``: worker processes (started after it, local or
Dask's) then import :mod:`executor_tasks` by name.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A two-worker Dask cluster of local processes (one thread each), quiet."""
    from distributed import LocalCluster

    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL)
    try:
        with LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as local:
            yield local
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
