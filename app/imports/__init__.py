"""Bulk imports of users, processed by a worker in chunks."""
