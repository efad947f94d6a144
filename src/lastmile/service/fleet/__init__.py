"""Vehicle types, vehicles, drivers and shifts."""
