"""Solver engines behind one protocol, and the registry that builds them.

``get_engine(name, **options)`` is the way to an engine; the planner never
imports an engine class. Engines are imported lazily: choosing one never pays
for importing the others.
"""

from __future__ import annotations

from lastmile.planning.engines.base import BaseEngine as BaseEngine
from lastmile.planning.engines.base import Engine as Engine
from lastmile.planning.engines.base import check_supported as check_supported
from lastmile.planning.engines.registry import REGISTRY as REGISTRY
from lastmile.planning.engines.registry import capability_table as capability_table
from lastmile.planning.engines.registry import capable_engines as capable_engines
from lastmile.planning.engines.registry import engine_options as engine_options
from lastmile.planning.engines.registry import get_engine as get_engine
