"""Notification metrics (seed 002), aggregated in SQL."""
