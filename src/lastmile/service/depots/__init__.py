"""depots feature."""
