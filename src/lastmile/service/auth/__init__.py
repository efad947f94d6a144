"""Login sessions, users and API keys."""
