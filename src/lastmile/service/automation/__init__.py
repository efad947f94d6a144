"""Automation: the day's routine run by the service (carry-over, scheduled plans, dispatch)."""
