"""Broadcasts (seed 002): literal content for many recipients, on the batch pipeline."""
