"""The per-user in-app inbox (the MagicBell-compatible inbox API): read, seen, archived."""
