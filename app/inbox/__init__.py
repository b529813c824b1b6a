"""The per-user in-app inbox (seed 002 notifications): read, seen and archived state."""
