"""Speeds learned from the organisation's own trips: pings and stop events map-matched
into observed legs, a traffic profile fitted to them, and used by the next plans and ETAs."""
