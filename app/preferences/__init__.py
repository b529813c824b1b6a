"""Notification preferences: per user, per category, which channels deliver."""
