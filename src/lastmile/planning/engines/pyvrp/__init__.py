"""The PyVRP engine: the engine (engine.py), its model of a problem as PyVRP data
(model.py) and its search on several cooperating processes (parallel.py).

Reach it through the registry: ``get_engine("pyvrp", prize_collecting=...)``.
"""

from __future__ import annotations

from lastmile.planning.engines.pyvrp.engine import PyVRPEngine as PyVRPEngine
