"""Notification metrics (the MagicBell-compatible inbox API's), aggregated in SQL."""
