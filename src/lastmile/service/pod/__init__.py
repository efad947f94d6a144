"""Proof of delivery: parcel scans, signature and photo uploads, completing or
failing a stop with its proof, and re-attempts after a failure."""
