"""Re-planning a live plan: insert an urgent order, move a broken-down vehicle's
stops, re-optimise what has not started (lastmile.planning.live behind HTTP)."""
