"""Depots: where vehicles load, start and end."""
