"""Idempotent chat requests: one stored answer per (account, Idempotency-Key) for 24 hours."""
