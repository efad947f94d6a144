"""Live tracking: position pings, stop events, tracker devices, ETAs and the live stream."""
