"""Orders: CRUD, lifecycle, CSV import, customer tracking links."""
