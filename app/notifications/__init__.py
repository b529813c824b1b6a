"""Sends: a notification, its recipients' deliveries per channel, and their progress."""
