"""fleet feature."""
