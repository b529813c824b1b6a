"""Idempotency-Key handling: one stored response per key, replayed for 24 hours."""
