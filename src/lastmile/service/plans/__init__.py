"""Plans: background optimisation jobs, routes with ETAs, dispatch, loading lists."""
